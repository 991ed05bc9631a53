"""Entanglement purification: BBPSSW on Werner pairs, DEJMPS on Bell-diagonal pairs.

Both protocols consume two pairs, apply bilateral CNOTs (pair 1 controls, pair 2 is the
target), measure pair 2 in Z at both ends and keep pair 1 when the outcomes agree.

**BBPSSW** (Bennett et al., PRL 76, 722 (1996); Dür & Briegel, Rep. Prog. Phys. 70,
1381 (2007), eq. 18), Werner inputs F1, F2 (the output is twirled back to Werner form):

    p  = F1F2 + [F1(1−F2) + F2(1−F1)]/3 + 5(1−F1)(1−F2)/9
    F' = [F1F2 + (1−F1)(1−F2)/9] / p

**DEJMPS** (Deutsch et al., PRL 77, 2818 (1996)): before the CNOTs Alice applies
Rx(π/2) and Bob Rx(−π/2) to each of their qubits. On Bell-diagonal inputs with
coefficients (A, B, C, D) on (Φ+, Ψ−, Ψ+, Φ−), two possibly different pairs give

    N  = (A1 + B1)(A2 + B2) + (C1 + D1)(C2 + D2)
    A' = (A1A2 + B1B2)/N,   B' = (C1D2 + D1C2)/N,
    C' = (C1C2 + D1D2)/N,   D' = (A1B2 + B1A2)/N

which for equal inputs is ARCHITECTURE §4's ``A' = (A² + B²)/N``, ``B' = 2CD/N``,
``C' = (C² + D²)/N``, ``D' = 2AB/N``. The success probability is N. The tests check
this against a density-matrix simulation of the whole protocol.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.physics._checks import in_range
from qceas.physics.werner import FloatOrArray, _out


def bbpssw(f1: ArrayLike, f2: ArrayLike) -> tuple[FloatOrArray, FloatOrArray]:
    """``(p_success, F_out)`` of one BBPSSW round on Werner pairs of fidelity F1, F2."""
    a = in_range("f1", f1, 0.25, 1.0)
    b = in_range("f2", f2, 0.25, 1.0)
    p = a * b + (a * (1 - b) + b * (1 - a)) / 3.0 + 5.0 * (1 - a) * (1 - b) / 9.0
    f_out = (a * b + (1 - a) * (1 - b) / 9.0) / p
    return _out(p), _out(f_out)


def bell_diagonal(coefficients: ArrayLike, name: str = "coefficients") -> NDArray[np.float64]:
    """Check Bell-diagonal coefficients (..., 4): each in [0, 1], summing to 1."""
    c = in_range(name, coefficients, 0.0, 1.0)
    if c.shape[-1:] != (4,):
        raise ValueError(f"{name}: shape {c.shape}: the last axis must hold 4 coefficients")
    total = c.sum(axis=-1)
    if not np.allclose(total, 1.0, atol=1e-9):
        bad = float(np.asarray(total).flat[np.argmax(np.abs(np.asarray(total) - 1.0))])
        raise ValueError(f"{name}: coefficients sum to {bad:g}: must sum to 1")
    return c


def werner_coefficients(fidelity: ArrayLike) -> NDArray[np.float64]:
    """Bell-diagonal coefficients (..., 4) of Werner pairs: (F, (1−F)/3, (1−F)/3, (1−F)/3)."""
    f = in_range("fidelity", fidelity, 0.25, 1.0)
    rest = (1.0 - f) / 3.0
    return np.stack([f, rest, rest, rest], axis=-1)


def dejmps(c1: ArrayLike, c2: ArrayLike) -> tuple[FloatOrArray, NDArray[np.float64]]:
    """``(p_success, c_out)`` of one DEJMPS round on Bell-diagonal pairs (..., 4)."""
    a1, b1, cc1, d1 = np.moveaxis(bell_diagonal(c1, "c1"), -1, 0)
    a2, b2, cc2, d2 = np.moveaxis(bell_diagonal(c2, "c2"), -1, 0)
    norm = (a1 + b1) * (a2 + b2) + (cc1 + d1) * (cc2 + d2)
    out = (
        np.stack(
            [a1 * a2 + b1 * b2, cc1 * d2 + d1 * cc2, cc1 * cc2 + d1 * d2, a1 * b2 + b1 * a2],
            axis=-1,
        )
        / np.asarray(norm)[..., None]
    )
    return _out(norm), out
