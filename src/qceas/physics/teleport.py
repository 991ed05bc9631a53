"""Nonlocal CNOT by gate teleportation through one Bell pair, and its error channel.

**Protocol** (Eisert, Jacobs, Papadopoulos & Plenio, PRA 62, 052317 (2000), Fig. 1):
the control qubit c sits at node A, the target t at node B, and A and B share a pair
(a, b), ideally |Φ+⟩ = (|00⟩ + |11⟩)/√2.

1. A applies CNOT(c → a) and measures a in Z, outcome m1; sends m1 to B.
2. B applies X^{m1} to b (b now holds a copy of c's Z value), then CNOT(b → t),
   measures b in X, outcome m2; sends m2 to A.
3. A applies Z^{m2} to c.

With |Φ+⟩ the result is exactly CNOT(c → t) on the data qubits.

**Werner pair.** ρ_ab = F|Φ+⟩⟨Φ+| + (1−F)/3·(|Ψ+⟩⟨Ψ+| + |Ψ−⟩⟨Ψ−| + |Φ−⟩⟨Φ−|)
equals a Pauli channel on b alone applied to |Φ+⟩: |Ψ+⟩ = X_b|Φ+⟩,
|Φ−⟩ = Z_b|Φ+⟩, |Ψ−⟩ ∝ Y_b|Φ+⟩, so ρ_ab = Σ_P p_P P_b|Φ+⟩⟨Φ+|P_b with
p_I = F and p_X = p_Y = p_Z = (1−F)/3. An error on b commutes with everything A does
and, up to a sign, with B's X^{m1}; follow it through B's steps:

* X_b: CNOT(b → t) copies it onto the target, X_b → X_b X_t; X_b does not change an
  X-basis outcome. Net: **X on the target**.
* Z_b: Z on a CNOT's control passes through unchanged and flips the X-basis outcome
  m2, so A applies the wrong Z^{m2}. Net: **Z on the control**.
* Y_b ∝ X_b Z_b: both. Net: **Z on the control and X on the target**.

So the implemented map is the ideal CNOT followed by the two-qubit Pauli channel

    ρ ↦ F·ρ' + (1−F)/3·(X_t ρ' X_t + Z_c ρ' Z_c + Z_c X_t ρ' X_t Z_c),   ρ' = CNOT ρ CNOT

:func:`teleported_cnot` returns it as a 4×4 table W[i, j] = probability of σ_i on
the control and σ_j on the target, in the order (I, X, Y, Z):
W[0, 0] = F, W[0, 1] = W[3, 0] = W[3, 1] = (1−F)/3, all other entries 0. The tests
check it against a density-matrix simulation of the whole protocol (data qubits, the
pair, both measurements, both corrections) through the Choi matrix.

Local gate and measurement errors are not part of this channel: they belong to each
QPU's own noise model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.physics._checks import in_range

#: Pauli matrices in the order the channel tables use: I, X, Y, Z.
PAULIS: tuple[NDArray[np.complex128], ...] = (
    np.eye(2, dtype=complex),
    np.array([[0, 1], [1, 0]], dtype=complex),
    np.array([[0, -1j], [1j, 0]], dtype=complex),
    np.array([[1, 0], [0, -1]], dtype=complex),
)


def teleported_cnot(fidelity: ArrayLike) -> NDArray[np.float64]:
    """Pauli channel after an ideal CNOT teleported through a Werner pair of ``fidelity``.

    Args:
        fidelity: F in [1/4, 1] of the pair when it is used (a number or an array).

    Returns:
        (..., 4, 4) array W with W[i, j] the probability of σ_i on the control and σ_j
        on the target after the CNOT, Paulis ordered (I, X, Y, Z); every table sums to 1.
    """
    f = in_range("fidelity", fidelity, 0.25, 1.0)
    out = np.zeros((*f.shape, 4, 4))
    error = (1.0 - f) / 3.0
    out[..., 0, 0] = f
    out[..., 0, 1] = error  # X_b → X on the target
    out[..., 3, 0] = error  # Z_b → Z on the control
    out[..., 3, 1] = error  # Y_b → Z on the control, X on the target
    return out


def apply_two_qubit_pauli_channel(
    rho: ArrayLike, weights: ArrayLike, *, first: int, second: int, n_qubits: int
) -> NDArray[np.complex128]:
    """Apply Σ_ij W[i, j]·(σ_i ⊗ σ_j) ρ (σ_i ⊗ σ_j) on qubits ``first`` and ``second``.

    Args:
        rho: (2^n, 2^n) density matrix, qubit 0 the most significant.
        weights: (4, 4) channel table, e.g. from :func:`teleported_cnot`.
        first, second: the qubits σ_i and σ_j act on (distinct, in [0, n)).
        n_qubits: n.
    """
    r = np.asarray(rho, dtype=complex)
    w = np.asarray(weights, dtype=float)
    dim = 2**n_qubits
    if r.shape != (dim, dim):
        raise ValueError(f"rho has shape {r.shape}: must be ({dim}, {dim}) for {n_qubits} qubits")
    if w.shape != (4, 4):
        raise ValueError(f"weights has shape {w.shape}: must be (4, 4)")
    for name, q in (("first", first), ("second", second)):
        if not 0 <= q < n_qubits:
            raise ValueError(f"{name} = {q!r}: must be a qubit in [0, {n_qubits})")
    if first == second:
        raise ValueError(f"first = second = {first}: the two qubits must differ")
    out = np.zeros_like(r)
    for i in range(4):
        for j in range(4):
            if w[i, j] == 0.0:
                continue
            ops = [np.eye(2, dtype=complex)] * n_qubits
            ops[first], ops[second] = PAULIS[i], PAULIS[j]
            full = ops[0]
            for op in ops[1:]:
                full = np.kron(full, op)
            out += w[i, j] * (full @ r @ full.conj().T)
    return out
