"""Werner pairs: storage decay, entanglement swapping, QBER.

A Werner pair of fidelity F is ``ρ = F|Φ+⟩⟨Φ+| + (1−F)/3·(|Ψ−⟩⟨Ψ−| + |Ψ+⟩⟨Ψ+| + |Φ−⟩⟨Φ−|)``
with Werner parameter ``w = (4F − 1)/3``, so ``ρ = w|Φ+⟩⟨Φ+| + (1−w)·I/4``. Fidelities
here live in [1/4, 1] (w ∈ [0, 1]): the range a memory can decay toward but never
below. All functions accept floats or numpy arrays and broadcast.

The ``*_unchecked`` kernels are the same formulas, to the bit, without the input
checks: for callers that convert arrays they computed themselves many times a slot
(the network simulator), where NaN marks an empty memory and passes through.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.physics._checks import in_range, non_negative, positive

FloatOrArray = float | NDArray[np.float64]


def _out(arr: NDArray[np.float64]) -> FloatOrArray:
    return float(arr) if arr.ndim == 0 else arr


def werner_parameter(fidelity: ArrayLike) -> FloatOrArray:
    """``w = (4F − 1)/3``."""
    f = in_range("fidelity", fidelity, 0.25, 1.0)
    return _out(werner_parameter_unchecked(f))


def fidelity_from_werner(w: ArrayLike) -> FloatOrArray:
    """``F = 1/4 + 3/4·w``, the inverse of ``werner_parameter``."""
    arr = in_range("werner_parameter", w, 0.0, 1.0)
    return _out(fidelity_from_werner_unchecked(arr))


def werner_parameter_unchecked(fidelity: ArrayLike) -> NDArray[np.float64]:
    """:func:`werner_parameter` without input checks: ``(4F − 1)/3`` elementwise."""
    return (4.0 * np.asarray(fidelity, dtype=float) - 1.0) / 3.0


def fidelity_from_werner_unchecked(w: ArrayLike) -> NDArray[np.float64]:
    """:func:`fidelity_from_werner` without input checks: ``1/4 + 3/4·w`` elementwise
    (in this order of operations, which :func:`swap_chain` and the simulator share)."""
    return 0.25 + 0.75 * np.asarray(w, dtype=float)


def decay(
    fidelity: ArrayLike,
    elapsed: ArrayLike,
    coherence_time: ArrayLike,
    coherence_time_b: ArrayLike | None = None,
) -> FloatOrArray:
    """Fidelity of a stored Werner pair after ``elapsed`` seconds in memory.

    Each stored qubit depolarizes at rate Γ = 1/T (NetSquid ``DepolarNoiseModel``
    convention, p(t) = 1 − e^{−Γt}), so the Werner parameter shrinks as
    ``w(t) = w0·e^{−(Γa + Γb)·t}``; with both ends at T:

        decay(F0, t, T) = 1/4 + (F0 − 1/4)·exp(−2t/T)

    (ARCHITECTURE §4). A SeQUeNCe Bell-diagonal memory of coherence time T_s with an
    equal X/Y/Z split corresponds to Γ = 4/(3·T_s) per qubit.

    Args:
        fidelity: F0 ∈ [1/4, 1] when storage began.
        elapsed: storage time t ≥ 0 (s).
        coherence_time: T > 0 (s) of end a (and of end b unless given).
        coherence_time_b: T > 0 (s) of end b, if different.
    """
    f0 = in_range("fidelity", fidelity, 0.25, 1.0)
    t = non_negative("elapsed", elapsed)
    rate = 1.0 / positive("coherence_time", coherence_time)
    rate_b = (
        rate if coherence_time_b is None else 1.0 / positive("coherence_time_b", coherence_time_b)
    )
    return _out(0.25 + (f0 - 0.25) * np.exp(-(rate + rate_b) * t))


def swap(f1: ArrayLike, f2: ArrayLike) -> FloatOrArray:
    """Fidelity after swapping two Werner pairs with an ideal Bell-state measurement.

    ``w = w1·w2``, i.e. ``F = F1·F2 + (1 − F1)(1 − F2)/3`` (Dür & Briegel, Rep. Prog.
    Phys. 70, 1381 (2007), §3; ARCHITECTURE §4). The result is again a Werner pair.
    Clipped to [1/4, 1], where it lies exactly: at F1 = 1/4 the two terms round to one
    ulp below 1/4, which the next checked function would refuse.
    """
    a = in_range("f1", f1, 0.25, 1.0)
    b = in_range("f2", f2, 0.25, 1.0)
    return _out(np.clip(a * b + (1.0 - a) * (1.0 - b) / 3.0, 0.25, 1.0))


def swap_chain(fidelities: ArrayLike, axis: int = -1) -> FloatOrArray:
    """End-to-end fidelity of a chain of Werner links joined by ideal swaps.

    ``F = 1/4 + 3/4·∏_i w_i`` over the links along ``axis``.
    """
    f = in_range("fidelities", fidelities, 0.25, 1.0)
    w = werner_parameter_unchecked(f)
    return _out(fidelity_from_werner_unchecked(np.prod(w, axis=axis)))


def qber(fidelity: ArrayLike) -> FloatOrArray:
    """Quantum bit error rate of a Werner pair measured in Z (or X): ``e = 2(1 − F)/3``.

    Of the three error Bell states, two flip the Z-basis correlation (Ψ±) and two the
    X-basis one (Ψ−, Φ−), each with weight (1 − F)/3.
    """
    f = in_range("fidelity", fidelity, 0.25, 1.0)
    return _out(qber_unchecked(f))


def qber_unchecked(fidelity: ArrayLike) -> NDArray[np.float64]:
    """:func:`qber` without input checks: ``2(1 − F)/3`` elementwise."""
    return 2.0 * (1.0 - np.asarray(fidelity, dtype=float)) / 3.0
