"""Which pair errors the EPR-pair QDBA sees: Z- and X-basis error rates of a
Bell-diagonal pair.

The protocol uses |Ψ+⟩ = (|01⟩ + |10⟩)/√2: measured in Z its outcomes are
anti-correlated, in X (|±⟩) correlated. A Bell-diagonal state
``ρ = p_Ψ+ |Ψ+⟩⟨Ψ+| + p_Ψ− |Ψ−⟩⟨Ψ−| + p_Φ+ |Φ+⟩⟨Φ+| + p_Φ− |Φ−⟩⟨Φ−|`` gives

* a Z error (correlated outcomes) with ``ε_Z = p_Φ+ + p_Φ−`` (ZZ = +1 on Φ±),
* an X error (anti-correlated outcomes) with ``ε_X = p_Ψ− + p_Φ−`` (XX = −1 on Ψ−, Φ−).

So dephasing of |Ψ+⟩ (towards Ψ−) is invisible to the Z-only checks and amplitude
damping / bit flips are not; the conjugate-basis test sees phase errors. A Werner
pair of fidelity F (the others (1−F)/3 each) has ``ε_Z = ε_X = 2(1−F)/3``.
Source: Nielsen & Chuang §2.3 (Bell basis); Bennett, DiVincenzo, Smolin & Wootters,
PRA 54, 3824 (1996) (Bell-diagonal states).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def werner_errors(fidelity: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ε_Z, ε_X)`` of a Werner pair of ``fidelity`` to |Ψ+⟩: both ``2(1−F)/3``."""
    f = np.asarray(fidelity, dtype=float)
    if np.any((f < 0.25) | (f > 1.0)):
        raise ValueError(f"werner_errors: fidelity must be in [0.25, 1], got {fidelity}")
    eps = 2.0 * (1.0 - f) / 3.0
    return eps, eps.copy()


def bell_diagonal_errors(weights: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ε_Z, ε_X)`` of Bell-diagonal pairs with weights ``(..., 4)`` in the order
    (Ψ+, Ψ−, Φ+, Φ−)."""
    p = np.asarray(weights, dtype=float)
    if p.shape[-1:] != (4,) or np.any(p < -1e-12) or np.any(np.abs(p.sum(-1) - 1) > 1e-9):
        raise ValueError("bell_diagonal_errors: weights must be (..., 4), >= 0, summing to 1")
    return p[..., 2] + p[..., 3], p[..., 1] + p[..., 3]
