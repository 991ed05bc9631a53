"""Gate-local Pauli kernels and the reverse pass against dense matrices and forward mode.

* ``entangler_permutation`` and ``LocalLayer`` against the dense transfer matrices of
  ``pauli`` (n ≤ 5, where those exist), transposes included;
* ``block_correlations`` against its defining sum;
* propagation on gate-local layers against density matrices (states, tangents, shifted
  states), hypothesis over circuits and noise, at 2–6 qubits;
* the reverse pass against forward mode's tangents (any cotangent), and, through
  ``QNN.evaluate_nodes`` at 6–7 qubits, against forward mode and central differences;
* the Pauli-basis QFI estimators against their density-matrix definitions.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qceas.qnn.model as model_module
from qceas.qnn import QNN, Ansatz, NoiseModel, propagate
from qceas.qnn.adjoint import ReversePass
from qceas.qnn.partition import BlockError
from qceas.qnn.pauli import diagonal, diagonal_transpose, from_pauli
from qceas.qnn.pauli_local import (
    BLOCK_QUBITS,
    LocalLayer,
    entangler_permutation,
    qubit_blocks,
)
from qceas.qnn.qfi_estimators import QFI_ESTIMATORS
from qceas.qnn.simulate import plan_layers

SHAPES = st.tuples(
    st.sampled_from(["angle", "reupload"]),
    st.sampled_from(["cnot", "cz"]),
    st.sampled_from(["ring", "linear"]),
)


@pytest.mark.parametrize("n", range(1, 13))
def test_blocks_cover_the_register_in_order(n: int) -> None:
    blocks = qubit_blocks(n)
    assert [s for s, _ in blocks] == list(np.cumsum([0] + [k for _, k in blocks])[:-1])
    assert sum(k for _, k in blocks) == n
    assert all(1 <= k <= BLOCK_QUBITS for _, k in blocks)
    assert len(blocks) == -(-n // BLOCK_QUBITS)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("entangler", ["cnot", "cz"])
@pytest.mark.parametrize("topology", ["ring", "linear"])
def test_entangler_permutation_is_the_dense_transfer_matrix(
    n: int, entangler: str, topology: str
) -> None:
    ansatz = Ansatz(n, 1, entangler=entangler, topology=topology)
    image, sign = entangler_permutation(n, entangler, tuple(ansatz.entangler_pairs()))
    dense = np.zeros((4**n, 4**n))
    dense[image, np.arange(4**n)] = sign
    np.testing.assert_array_equal(dense, ansatz.entangler_transfer)
    assert np.unique(image).size == 4**n  # a permutation


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 5), shape=SHAPES)
def test_local_layer_is_the_dense_layer(seed: int, n: int, shape: tuple) -> None:
    rng = np.random.default_rng(seed)
    ansatz = Ansatz(n, 1, *shape)
    theta = rng.uniform(-np.pi, np.pi, ansatz.params_per_layer)
    (layer,) = plan_layers(ansatz, theta, pauli=True, local=True)
    assert layer.local is not None
    assert layer.transfer_t is None
    dense = ansatz.layer_transfer_matrix(theta)
    vecs = rng.normal(size=(3, 4**n))
    out = np.empty_like(vecs)
    layer.apply_pauli(vecs, out)
    np.testing.assert_allclose(out, vecs @ dense.T, atol=1e-12)
    np.testing.assert_allclose(layer.local.apply_transpose(vecs), vecs @ dense, atol=1e-12)


def test_block_correlations_are_their_defining_sum() -> None:
    rng = np.random.default_rng(5)
    n = 5
    rotations = rng.normal(size=(n, 4, 4))
    layer = LocalLayer(rotations, (np.arange(4**n), np.ones(4**n)))
    left, right = rng.normal(size=(2, 4**n)), rng.normal(size=(2, 4**n))
    got = layer.block_correlations(left, right)
    for q in range(n):
        a = left.reshape(2, 4**q, 4, -1)
        b = right.reshape(2, 4**q, 4, -1)
        np.testing.assert_allclose(got[q], np.einsum("rxay,rxby->rab", a, b), atol=1e-10)


def _noise(rng: np.random.Generator, rows: int, n: int, damping: bool) -> tuple:
    dep = rng.uniform(0, 0.2, (rows, n))
    amp = rng.uniform(0, 0.2, (rows, n)) if damping else np.zeros((rows, n))
    return dep, amp


def _block(rng: np.random.Generator, n: int, use: bool) -> BlockError | None:
    if not use:
        return None
    p = np.zeros(4**n)
    p[0] = 0.9
    np.add.at(p, rng.integers(1, 4**n, 3), 0.1 / 3)
    return BlockError(p, n)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 6),
    layers=st.integers(1, 3),
    shape=SHAPES,
    damping=st.booleans(),
    block=st.booleans(),
)
def test_local_propagation_matches_density_matrices(
    seed: int, n: int, layers: int, shape: tuple, damping: bool, block: bool
) -> None:
    rng = np.random.default_rng(seed)
    ansatz = Ansatz(n, layers, *shape)
    params = rng.uniform(-np.pi, np.pi, ansatz.num_params)
    x = rng.uniform(-np.pi, np.pi, (2, n))
    dep, amp = _noise(rng, 2, n, damping)
    err = _block(rng, n, block)
    ref = propagate(
        ansatz, params, x, dep, amp, shift_means=True, representation="density", block=err
    )
    plan = plan_layers(ansatz, params, pauli=True, local=True)
    got = propagate(
        ansatz, params, x, dep, amp, shift_means=True, representation="pauli", plan=plan, block=err
    )
    assert got.kind == "pauli"
    rho, tangents = got.density()
    assert got.shift_means is not None
    assert ref.shift_means is not None
    np.testing.assert_allclose(rho, ref.state, atol=1e-12)
    np.testing.assert_allclose(tangents, ref.tangents, atol=1e-12)
    np.testing.assert_allclose(from_pauli(got.shift_means, n), ref.shift_means, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    layers=st.integers(1, 3),
    shape=SHAPES,
    damping=st.booleans(),
    block=st.booleans(),
)
def test_reverse_pass_is_forward_mode_contracted(
    seed: int, n: int, layers: int, shape: tuple, damping: bool, block: bool
) -> None:
    """For any cotangent c of the outcome distribution, the reverse pass gives
    Σ_j c_j·∂_i p_j, with p and ∂p from forward mode on density matrices."""
    rng = np.random.default_rng(seed)
    ansatz = Ansatz(n, layers, *shape)
    params = rng.uniform(-np.pi, np.pi, ansatz.num_params)
    rows = 3
    x = rng.uniform(-np.pi, np.pi, (rows, n))
    dep, amp = _noise(rng, rows, n, damping)
    err = _block(rng, n, block)
    ref = propagate(ansatz, params, x, dep, amp, representation="density", block=err)
    reverse = ReversePass(
        ansatz, plan_layers(ansatz, params, pauli=True, local=True), x, dep, amp, err
    )
    forward = reverse.forward()
    np.testing.assert_allclose(diagonal(forward.state, n), ref.probabilities(), atol=1e-12)
    cot = rng.normal(size=(rows, 1 << n))
    want = np.einsum("prd,rd->rp", ref.tangent_probabilities(), cot)
    got = reverse.gradient(forward, diagonal_transpose(cot, n))
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_reverse_pass_refuses_dense_plans() -> None:
    ansatz = Ansatz(2, 1)
    plan = plan_layers(ansatz, np.zeros(ansatz.num_params), pauli=True)
    zeros = np.zeros((1, 2))
    with pytest.raises(ValueError, match="gate-local"):
        ReversePass(ansatz, plan, zeros, zeros, zeros)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 6))
def test_diagonal_transpose_is_the_transpose(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    a, c = rng.normal(size=(2, 4**n)), rng.normal(size=(2, 1 << n))
    np.testing.assert_allclose(
        np.sum(diagonal(a, n) * c), np.sum(a * diagonal_transpose(c, n)), rtol=1e-10
    )


def _nodes(n: int, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    shards = [(rng.uniform(0, np.pi, (5, n)), rng.integers(0, 3, 5)) for _ in range(3)]
    noises = [
        NoiseModel.build(
            n,
            depolarizing=list(rng.uniform(0, 0.1, n)),
            amplitude_damping=0.02 * k,
            readout_error=0.03,
        )
        for k in range(3)
    ]
    return shards, noises


@pytest.mark.parametrize(
    ("n", "encoding", "entangler", "estimator"),
    [(6, "reupload", "cnot", "sld"), (7, "angle", "cz", "hilbert_schmidt")],
)
def test_evaluate_nodes_reverse_path_matches_forward_mode(
    n: int, encoding: str, entangler: str, estimator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Above MAX_PAULI_QUBITS with a QFI subsample, evaluate_nodes takes the reverse
    pass for the gradient; raising the threshold sends the same call through forward
    mode."""
    model = QNN(
        n,
        2,
        encoding=encoding,
        entangler=entangler,
        n_classes=3,
        qfi_estimator=estimator,
        qfi_samples=2,
    )
    params = model.init_params(rng=np.random.default_rng(1))
    shards, noises = _nodes(n, 2)
    calls = []
    original = ReversePass.gradient

    def counted(self: ReversePass, *args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ReversePass, "gradient", counted)
    got = model.evaluate_nodes(params, shards, noises, qfi=True)
    assert calls, "the reverse pass was not taken"
    monkeypatch.setattr(model_module, "MAX_PAULI_QUBITS", 10)
    calls.clear()
    want = model.evaluate_nodes(params, shards, noises, qfi=True)
    assert not calls
    np.testing.assert_allclose(got.loss, want.loss, atol=1e-12)
    np.testing.assert_allclose(got.gradient, want.gradient, atol=1e-12)
    np.testing.assert_array_equal(got.accuracy, want.accuracy)
    assert got.qfi is not None
    assert want.qfi is not None
    np.testing.assert_allclose(got.qfi, want.qfi, atol=1e-12)


def test_reverse_gradient_matches_central_differences() -> None:
    n = 6
    model = QNN(n, 2, encoding="reupload", n_classes=3)
    rng = np.random.default_rng(3)
    params = model.init_params(rng=rng)
    shards, noises = _nodes(n, 4)
    grad = model.evaluate_nodes(params, shards, noises).gradient
    h = 1e-5
    for i in rng.choice(model.num_params, 4, replace=False):
        up, down = params.copy(), params.copy()
        up[i] += h
        down[i] -= h
        diff = (
            model.evaluate_nodes(up, shards, noises).loss
            - model.evaluate_nodes(down, shards, noises).loss
        ) / (2 * h)
        np.testing.assert_allclose(grad[:, i], diff, atol=1e-8)


@pytest.mark.parametrize("name", QFI_ESTIMATORS.names())
@pytest.mark.parametrize("n", [2, 3, 6])
def test_pauli_estimators_equal_their_density_forms(name: str, n: int) -> None:
    rng = np.random.default_rng(n)
    ansatz = Ansatz(n, 2, encoding="reupload")
    params = rng.uniform(-np.pi, np.pi, ansatz.num_params)
    x = rng.uniform(-np.pi, np.pi, (2, n))
    dep, amp = _noise(rng, 2, n, True)
    prop = propagate(ansatz, params, x, dep, amp, representation="pauli")
    assert prop.tangents is not None
    rho, tangents = prop.density()
    assert tangents is not None
    estimator = QFI_ESTIMATORS.get(name)
    np.testing.assert_allclose(
        estimator.pauli(prop.state, prop.tangents, n), estimator.mixed(rho, tangents), atol=1e-10
    )


@pytest.mark.parametrize("name", QFI_ESTIMATORS.names())
def test_up_to_five_qubits_estimators_run_on_density_matrices(name: str) -> None:
    """Up to MAX_PAULI_QUBITS the QFI of evaluate_nodes is the estimator's density-matrix
    form to the bit, as before the Pauli forms (EVALUATION did not move there; found by
    review)."""
    n = 4
    model = QNN(n, 2, n_classes=2, qfi_estimator=name)
    rng = np.random.default_rng(9)
    params = model.init_params(rng=rng)
    x = rng.uniform(0, np.pi, (3, n))
    noise = NoiseModel.build(n, depolarizing=0.05, amplitude_damping=0.02)
    got = model.evaluate_nodes(params, [(x, np.zeros(3, dtype=np.int64))], [noise], qfi=True)
    dep = np.tile(noise.depolarizing, (3, 1))
    amp = np.tile(noise.amplitude_damping, (3, 1))
    prop = propagate(model.ansatz, params, x, dep, amp, representation="auto")
    rho, tangents = prop.density()
    assert tangents is not None
    assert got.qfi is not None
    np.testing.assert_array_equal(
        got.qfi[0], np.sum(QFI_ESTIMATORS.get(name).mixed(rho, tangents), axis=0) / 3
    )
