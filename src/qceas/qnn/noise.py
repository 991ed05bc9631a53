"""Noise of one quantum processor (QPU) and the channel kernels that apply it.

Conventions (each checked against PennyLane's channels in the oracle tests):

* **Depolarizing** with probability p on qubit q, after every layer: the qubit is
  replaced by the maximally mixed state with probability p,
  ``ρ → (1-p)·ρ + p·(I/2 ⊗ Tr_q ρ)`` — the same convention as the global channel of
  ARCHITECTURE §4 and NetSquid's ``DepolarNoiseModel``. In Kraus form this is
  ``(1-3p/4)ρ + (p/4)(XρX + YρY + ZρZ)``, i.e. PennyLane's
  ``DepolarizingChannel(3p/4)``.
* **Amplitude damping** γ on qubit q, after the depolarizing channel:
  Kraus ``K0 = [[1, 0], [0, √(1-γ)]]``, ``K1 = [[0, √γ], [0, 0]]`` (Nielsen & Chuang §8.3.5).
* **Readout error** r on qubit q: the measured bit is flipped with probability r,
  so ``⟨Z⟩_measured = (1-2r)·⟨Z⟩`` (equivalent to ``BitFlip(r)`` just before measuring).
* **Shots**: ``None`` means exact expectation values; an integer draws that many
  computational-basis samples per circuit execution (see ``readout``).

Both channels act on qubit q's 2×2 blocks of ρ. Writing ``x_ab`` for the block with
row bit a and column bit b on qubit q, depolarizing followed by damping is

    [x00, x11] ← M·[x00, x11],   M = [[1, γ], [0, 1-γ]]·[[1-p/2, p/2], [p/2, 1-p/2]]
    x01, x10   ← √(1-γ)·(1-p)·x01, x10

which the kernel applies in place, vectorized over rows with per-row (p, γ).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas._rules import is_integer


def _per_qubit(name: str, value: float | Sequence[float], n_qubits: int) -> tuple[float, ...]:
    try:
        values = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number or a list of numbers") from None
    if values.ndim == 0:
        values = np.full(n_qubits, float(values))
    if values.shape != (n_qubits,):
        raise ValueError(
            f"{name} = {[float(v) for v in np.ravel(values)]}: must be one number or "
            f"{n_qubits} numbers (one per qubit)"
        )
    for q, v in enumerate(values):
        if not (0.0 <= v <= 1.0) or not np.isfinite(v):
            label = f"{name}" if np.ndim(value) == 0 else f"{name}[{q}]"
            raise ValueError(f"{label} = {v:g}: must be in [0, 1]")
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class NoiseModel:
    """Noise of one QPU. Scalars apply to every qubit; sequences give one value per qubit.

    Args:
        n_qubits: register size the per-qubit values refer to.
        depolarizing: p per qubit per layer, in [0, 1] (convention in the module doc).
        amplitude_damping: γ per qubit per layer, in [0, 1].
        readout_error: bit-flip probability r per measured qubit, in [0, 1].
        shots: measurements per circuit execution, or None for exact expectations.
    """

    n_qubits: int
    depolarizing: tuple[float, ...] = ()
    amplitude_damping: tuple[float, ...] = ()
    readout_error: tuple[float, ...] = ()
    shots: int | None = None

    @classmethod
    def build(
        cls,
        n_qubits: int,
        *,
        depolarizing: float | Sequence[float] = 0.0,
        amplitude_damping: float | Sequence[float] = 0.0,
        readout_error: float | Sequence[float] = 0.0,
        shots: int | None = None,
    ) -> NoiseModel:
        """A NoiseModel from scalar-or-per-qubit values (validated in ``__post_init__``)."""
        return cls(
            n_qubits=n_qubits,
            # __post_init__ validates and expands scalars to one value per qubit.
            depolarizing=cast(tuple[float, ...], depolarizing),
            amplitude_damping=cast(tuple[float, ...], amplitude_damping),
            readout_error=cast(tuple[float, ...], readout_error),
            shots=shots,
        )

    @classmethod
    def ideal(cls, n_qubits: int) -> NoiseModel:
        return cls.build(n_qubits)

    def __post_init__(self) -> None:
        if not is_integer(self.n_qubits) or self.n_qubits < 1:
            raise ValueError(f"n_qubits = {self.n_qubits!r}: must be an integer >= 1")
        for name in ("depolarizing", "amplitude_damping", "readout_error"):
            value = getattr(self, name)
            value = 0.0 if isinstance(value, tuple) and len(value) == 0 else value
            object.__setattr__(self, name, _per_qubit(name, value, self.n_qubits))
        shots = self.shots
        if shots is not None and (not is_integer(shots) or shots < 1):
            raise ValueError(f"shots = {shots!r}: must be a positive integer or null")
        object.__setattr__(self, "shots", None if shots is None else int(shots))

    def exact(self) -> NoiseModel:
        """The same channels with exact expectation values (no shot noise)."""
        return replace(self, shots=None)

    @property
    def is_pure(self) -> bool:
        """True when the state stays pure (no channel acts on it; readout and shots may)."""
        return not any(self.depolarizing) and not any(self.amplitude_damping)


class LayerChannel:
    """Per-qubit depolarizing then amplitude damping for R rows, prepared once per batch.

    The channel factorises over qubits and, on qubit q, scales the blocks off the
    diagonal by ``c_q = (1-p)·√(1-γ)`` and mixes the two diagonal blocks by ``M_q``
    (module docstring). The scalings of all qubits combine into one (R, d, d) mask
    applied in a single pass; the mixings then touch only the diagonal blocks.

    Args:
        depolarizing: (R, n) per-row, per-qubit p.
        amplitude_damping: (R, n) per-row, per-qubit γ.
    """

    def __init__(self, depolarizing: ArrayLike, amplitude_damping: ArrayLike) -> None:
        p = np.asarray(depolarizing, dtype=float)
        g = np.asarray(amplitude_damping, dtype=float)
        self.n_qubits = n = p.shape[1]
        d = 1 << n
        bits = (np.arange(d)[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1
        differs = bits[:, None, :] != bits[None, :, :]  # (d, d, n)
        off = (1.0 - p) * np.sqrt(1.0 - g)  # (R, n)
        self.mask = np.prod(np.where(differs[None], off[:, None, None, :], 1.0), axis=-1)
        self.rows = p.shape[0]
        # M's columns sum to 1, so the diagonal mixing is one flow between the blocks:
        # x00 += m01·x11 - m10·x00 and x11 -= the same (see apply()).
        self.active = [bool(p[:, q].any() or g[:, q].any()) for q in range(n)]
        self.m01 = p / 2 + g * (1.0 - p / 2)  # weight of x11 flowing into x00
        self.m10 = (1.0 - g) * p / 2  # weight of x00 flowing into x11

    def apply(self, ops: NDArray[np.complex128]) -> None:
        """Apply the channel in place to ops of shape (M, R, d, d), C-contiguous."""
        if not ops.flags.c_contiguous:
            raise ValueError("LayerChannel.apply works in place and needs a C-contiguous array")
        m, rows, d, _ = ops.shape
        ops *= self.mask
        for q in range(self.n_qubits):
            if not self.active[q]:
                continue
            a, b = 1 << q, d >> (q + 1)
            x = ops.reshape(m, rows, a, 2, b, a, 2, b)
            x00 = x[:, :, :, 0, :, :, 0, :]
            x11 = x[:, :, :, 1, :, :, 1, :]
            shape = (rows, 1, 1, 1, 1)
            # Trace preservation: what leaves x00 enters x11 and vice versa.
            flow = self.m01[:, q].reshape(shape) * x11 - self.m10[:, q].reshape(shape) * x00
            x00 += flow
            x11 -= flow
