"""The Pauli-transfer kernels against the density-matrix kernels and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.qnn import Ansatz, propagate
from qceas.qnn.noise import LayerChannel
from qceas.qnn.pauli import (
    PauliChannel,
    diagonal,
    from_pauli,
    pauli_basis,
    to_pauli,
    transfer_matrix,
)


def _hermitian(rng: np.random.Generator, rows: int, d: int) -> np.ndarray:
    a = rng.normal(size=(rows, d, d)) + 1j * rng.normal(size=(rows, d, d))
    return a + np.conj(np.swapaxes(a, 1, 2))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_round_trip_and_dense_definition(n: int) -> None:
    rng = np.random.default_rng(n)
    ops = _hermitian(rng, 4, 1 << n)
    vecs = to_pauli(ops, n)
    np.testing.assert_allclose(from_pauli(vecs, n), ops, atol=1e-12)
    dense = np.einsum("rs,sij->rij", vecs, pauli_basis(n)) / (1 << n)
    np.testing.assert_allclose(from_pauli(vecs, n), dense, atol=1e-12)
    np.testing.assert_allclose(
        diagonal(vecs, n), np.real(np.diagonal(ops, axis1=1, axis2=2)), atol=1e-12
    )


def test_basis_is_orthogonal() -> None:
    basis = pauli_basis(2)
    gram = np.einsum("aij,bji->ab", basis, basis)
    np.testing.assert_allclose(gram, 4 * np.eye(16), atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 3))
def test_transfer_matrix_conjugates(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    d = 1 << n
    unitary = np.linalg.qr(rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d)))[0]
    ops = _hermitian(rng, 3, d)
    moved = to_pauli(ops, n) @ transfer_matrix(unitary, n).T
    np.testing.assert_allclose(from_pauli(moved, n), unitary @ ops @ unitary.conj().T, atol=1e-10)
    # A unitary channel's transfer matrix is orthogonal.
    r = transfer_matrix(unitary, n)
    np.testing.assert_allclose(r @ r.T, np.eye(4**n), atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_channel_equals_density_matrix_channel(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, rows = 3, 4
    p, g = rng.uniform(0, 1, (rows, n)), rng.uniform(0, 1, (rows, n))
    g[:, 1] = 0.0  # a qubit without damping
    ops = _hermitian(rng, rows, 1 << n)[None].copy()
    vecs = to_pauli(ops, n)
    LayerChannel(p, g).apply(ops)
    PauliChannel(p, g).apply(vecs)
    np.testing.assert_allclose(from_pauli(vecs, n), ops, atol=1e-10)


@pytest.mark.parametrize("encoding", ["angle", "reupload"])
@pytest.mark.parametrize("entangler", ["cnot", "cz"])
def test_pauli_and_density_propagation_agree(encoding: str, entangler: str) -> None:
    rng = np.random.default_rng(11)
    ansatz = Ansatz(3, 2, encoding=encoding, entangler=entangler)  # type: ignore[arg-type]
    params = rng.uniform(-np.pi, np.pi, ansatz.num_params)
    angles = rng.uniform(0, np.pi, (5, 3))
    dep, amp = rng.uniform(0, 0.3, (5, 3)), rng.uniform(0, 0.3, (5, 3))
    kw = {"tangents": True, "shift_means": True}
    dens = propagate(ansatz, params, angles, dep, amp, representation="density", **kw)
    paul = propagate(ansatz, params, angles, dep, amp, representation="pauli", **kw)
    assert (dens.kind, paul.kind) == ("density", "pauli")
    rho, tan = paul.density()
    np.testing.assert_allclose(rho, dens.state, atol=1e-12)
    np.testing.assert_allclose(tan, dens.tangents, atol=1e-12)
    np.testing.assert_allclose(paul.probabilities(), dens.probabilities(), atol=1e-12)
    np.testing.assert_allclose(
        paul.shifted_probabilities(), dens.shifted_probabilities(), atol=1e-12
    )


def test_unknown_representation_is_named() -> None:
    ansatz = Ansatz(2, 1)
    with pytest.raises(ValueError, match="representation = 'sparse': must be one of"):
        propagate(ansatz, np.zeros(4), np.zeros((1, 2)), representation="sparse")
