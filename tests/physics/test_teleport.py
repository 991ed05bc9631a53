"""The teleported-CNOT channel against a density-matrix simulation of the protocol.

The oracle simulates all six qubits (two reference qubits, control, target and the
Werner pair), both measurements with every outcome branch, and both classically
controlled corrections; the resulting Choi matrix must equal the ideal CNOT followed
by :func:`qceas.physics.teleported_cnot`'s Pauli channel.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.physics import teleported_cnot
from qceas.physics.purification import werner_coefficients
from qceas.physics.teleport import PAULIS, apply_two_qubit_pauli_channel

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Z = np.diag([1.0, -1.0]).astype(complex)
P0 = np.diag([1.0, 0.0]).astype(complex)
P1 = np.diag([0.0, 1.0]).astype(complex)
PLUS = np.full((2, 2), 0.5, dtype=complex)
MINUS = np.array([[0.5, -0.5], [-0.5, 0.5]], dtype=complex)
N = 6  # qubits: reference of c, reference of t, c, t, a, b
RC, RT, C, T, A, B = range(N)


def _op(**ops: np.ndarray) -> np.ndarray:
    """Tensor product over the 6 qubits; keyword = qubit name, others identity."""
    names = ("rc", "rt", "c", "t", "a", "b")
    out = np.array([[1.0 + 0j]])
    for name in names:
        out = np.kron(out, ops.get(name, I2))
    return out


def _cnot(control: str, target: str) -> np.ndarray:
    return _op(**{control: P0}) + _op(**{control: P1, target: X})


def _bell_pairs_state(fidelity: float) -> np.ndarray:
    """|Φ+⟩_{rc,c} |Φ+⟩_{rt,t} ⊗ Werner(F)_{ab}, as a 64×64 density matrix."""
    phi = np.zeros(4, dtype=complex)
    phi[0] = phi[3] = 1 / np.sqrt(2)
    bell = [
        phi,  # Φ+
        np.array([0, 1, -1, 0], dtype=complex) / np.sqrt(2),  # Ψ−
        np.array([0, 1, 1, 0], dtype=complex) / np.sqrt(2),  # Ψ+
        np.array([1, 0, 0, -1], dtype=complex) / np.sqrt(2),  # Φ−
    ]
    coeff = werner_coefficients(fidelity)
    pair = sum(c * np.outer(v, v.conj()) for c, v in zip(coeff, bell, strict=True))
    ref = np.outer(phi, phi.conj())  # on (r, data)
    # Order rc, rt, c, t: build (rc,c) ⊗ (rt,t) then permute to rc, rt, c, t.
    both = np.kron(ref, ref).reshape([2] * 8)
    both = both.transpose(0, 2, 1, 3, 4, 6, 5, 7).reshape(16, 16)
    return np.kron(both, pair)


def _protocol_choi(fidelity: float) -> np.ndarray:
    """Run the gate-teleportation protocol; trace out the pair. Returns (16, 16)."""
    rho = _bell_pairs_state(fidelity)
    g = _cnot("c", "a")
    rho = g @ rho @ g.conj().T
    out = np.zeros((64, 64), dtype=complex)
    for m1, proj_a in ((0, P0), (1, P1)):
        branch = _op(a=proj_a) @ rho @ _op(a=proj_a)
        fix = _op(b=X) if m1 else _op()
        branch = fix @ branch @ fix.conj().T
        g = _cnot("b", "t")
        branch = g @ branch @ g.conj().T
        for m2, proj_b in ((0, PLUS), (1, MINUS)):
            leaf = _op(b=proj_b) @ branch @ _op(b=proj_b)
            fix = _op(c=Z) if m2 else _op()
            out += fix @ leaf @ fix.conj().T
    return _trace_pair(out)


def _trace_pair(rho: np.ndarray) -> np.ndarray:
    return np.einsum("iaja->ij", rho.reshape(16, 4, 16, 4))


def _expected_choi(weights: np.ndarray) -> np.ndarray:
    """Ideal CNOT(c → t) on the references' partners, then Σ W_ij σ_i(c) σ_j(t)."""
    phi = np.zeros(4, dtype=complex)
    phi[0] = phi[3] = 1 / np.sqrt(2)
    ref = np.outer(phi, phi.conj())
    both = np.kron(ref, ref).reshape([2] * 8).transpose(0, 2, 1, 3, 4, 6, 5, 7).reshape(16, 16)
    cnot = np.kron(np.kron(I2, I2), np.kron(P0, I2) + np.kron(P1, X))
    ideal = cnot @ both @ cnot.conj().T
    out = np.zeros_like(ideal)
    for i in range(4):
        for j in range(4):
            full = np.kron(np.kron(I2, I2), np.kron(PAULIS[i], PAULIS[j]))
            out += weights[i, j] * (full @ ideal @ full.conj().T)
    return out


@pytest.mark.parametrize("fidelity", np.linspace(0.25, 1.0, 13).tolist())
def test_channel_equals_the_protocol_simulation(fidelity: float) -> None:
    choi = _protocol_choi(fidelity)
    assert np.trace(choi).real == pytest.approx(1.0, abs=1e-12)
    expected = _expected_choi(teleported_cnot(fidelity))
    assert np.max(np.abs(choi - expected)) < 1e-10


def test_perfect_pair_gives_exactly_cnot_and_tables_are_distributions() -> None:
    table = teleported_cnot(1.0)
    assert table[0, 0] == 1.0
    assert table.sum() == 1.0
    f = np.linspace(0.25, 1, 31)
    tables = teleported_cnot(f)
    assert tables.shape == (31, 4, 4)
    assert np.allclose(tables.sum(axis=(1, 2)), 1.0)
    assert np.all(tables >= 0)
    # F = 1/4 (a maximally mixed pair): I, X_t, Z_c, Z_c X_t equally likely.
    assert np.allclose(teleported_cnot(0.25)[[0, 0, 3, 3], [0, 1, 0, 1]], 0.25)


@settings(max_examples=30, deadline=None)
@given(fidelity=st.floats(0.25, 1.0), seed=st.integers(0, 2**16))
def test_channel_helper_matches_the_protocol_on_random_inputs(fidelity: float, seed: int) -> None:
    """A random mixed state of (c, t) through the protocol equals CNOT then the channel
    applied by apply_two_qubit_pauli_channel (the map is the Choi's; here on data)."""
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4))
    data = g @ g.conj().T
    data /= np.trace(data)
    choi = _protocol_choi(fidelity)
    # ρ_out = 4·Tr_ref[(ρ_in^T ⊗ I) Choi] = 4·Σ_ab ρ_ab Choi[(a, i), (b, j)], references first.
    out = 4 * np.einsum("ab,aibj->ij", data, choi.reshape(4, 4, 4, 4))
    cnot = np.kron(P0, I2) + np.kron(P1, X)
    ideal = cnot @ data @ cnot.conj().T
    expected = apply_two_qubit_pauli_channel(
        ideal, teleported_cnot(fidelity), first=0, second=1, n_qubits=2
    )
    assert np.max(np.abs(out - expected)) < 1e-10


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: teleported_cnot(1.2), "fidelity = 1.2"),
        (lambda: teleported_cnot(0.1), "fidelity = 0.1"),
        (
            lambda: apply_two_qubit_pauli_channel(
                np.eye(4), np.zeros((4, 4)), first=0, second=0, n_qubits=2
            ),
            "first = second = 0: the two qubits must differ",
        ),
        (
            lambda: apply_two_qubit_pauli_channel(
                np.eye(4), np.zeros((4, 4)), first=0, second=2, n_qubits=2
            ),
            "second = 2: must be a qubit in [0, 2)",
        ),
        (
            lambda: apply_two_qubit_pauli_channel(
                np.eye(3), np.zeros((4, 4)), first=0, second=1, n_qubits=2
            ),
            "rho has shape (3, 3): must be (4, 4)",
        ),
    ],
)
def test_bad_input_is_named(call, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
