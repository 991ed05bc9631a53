"""qceas.qnn against PennyLane on the exported QNode (``QNN.to_pennylane``).

* noiseless QFI vs ``qml.gradients.quantum_fisher`` and 4 × ``qml.metric_tensor``;
* noisy expectation values vs ``default.mixed``;
* loss gradients and Jacobians vs PennyLane's autodiff through the QNode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qceas.qnn import QNN, NoiseModel

qml = pytest.importorskip("pennylane")
pnp = pytest.importorskip("pennylane.numpy")


def build(
    n: int,
    layers: int,
    encoding: str,
    entangler: str,
    topology: str,
    readout: str = "multiclass",
    n_classes: int = 2,
    **noise_kw: Any,
) -> QNN:
    return QNN(
        n,
        layers,
        encoding=encoding,
        entangler=entangler,
        topology=topology,
        readout=readout,
        n_classes=n_classes,
        output_scale=3.0,
        noise=NoiseModel.build(n, **noise_kw),
    )


def trainable(a: np.ndarray):
    return pnp.array(a, requires_grad=True)


def constant(a: np.ndarray):
    return pnp.array(a, requires_grad=False)


# ------------------------------------------------------------------------ QFI
QFI_SHAPES = [
    (2, 1, "angle", "cnot", "ring"),
    (3, 2, "reupload", "cz", "linear"),
    (4, 3, "angle", "cnot", "ring"),
    (3, 2, "angle", "cz", "ring"),
]


@pytest.mark.parametrize("shape", QFI_SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_noiseless_qfi_matches_pennylane(shape: tuple) -> None:
    model = build(*shape)
    qnode = model.to_pennylane()
    rng = np.random.default_rng(61)
    for _ in range(2):
        params = model.init_params(rng=rng)
        x = rng.uniform(-np.pi, np.pi, size=model.n_qubits)
        want = qml.gradients.quantum_fisher(qnode)(trainable(params), constant(x))
        got = model.quantum_fisher(params, x)
        assert got.shape == (model.num_params, model.num_params)
        np.testing.assert_allclose(got, np.asarray(want), atol=1e-8, rtol=0)


def test_noiseless_qfi_is_four_times_metric_tensor() -> None:
    model = build(3, 2, "reupload", "cnot", "ring")
    # The exact (approx=None) metric tensor needs one auxiliary wire.
    qnode = model.to_pennylane(qml.device("default.qubit", wires=model.n_qubits + 1))
    rng = np.random.default_rng(62)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=model.n_qubits)
    metric = qml.metric_tensor(qnode, approx=None)(trainable(params), constant(x))
    np.testing.assert_allclose(
        model.quantum_fisher(params, x), 4 * np.asarray(metric), atol=1e-8, rtol=0
    )


# -------------------------------------------------------------- noisy expectations
NOISY = [
    ((2, 2, "angle", "cnot", "ring"), {"depolarizing": [0.1, 0.3]}),
    ((3, 2, "reupload", "cz", "linear", "binary"), {"amplitude_damping": 0.2}),
    ((3, 2, "angle", "cz", "ring", "multiclass", 3), {"readout_error": [0.05, 0.0, 0.2]}),
    (
        (4, 2, "reupload", "cnot", "ring", "multiclass", 3),
        {
            "depolarizing": [0.02, 0.1, 0.0, 0.3],
            "amplitude_damping": [0.1, 0.0, 0.05, 0.2],
            "readout_error": 0.03,
        },
    ),
    ((2, 3, "reupload", "cnot", "linear", "binary"), {"depolarizing": 0.15, "readout_error": 0.1}),
    ((1, 3, "angle", "cnot", "ring", "binary"), {"depolarizing": 0.2, "amplitude_damping": 0.3}),
    ((3, 1, "angle", "cz", "linear", "binary"), {"readout_error": [0.0, 0.4, 0.4]}),
    ((3, 2, "reupload", "cnot", "ring"), {}),
]


@pytest.mark.parametrize(
    ("shape", "noise_kw"), NOISY, ids=[f"{'-'.join(map(str, s))}-{sorted(k)}" for s, k in NOISY]
)
def test_expectations_match_pennylane(shape: tuple, noise_kw: dict) -> None:
    model = build(*shape, **noise_kw)
    qnode = model.to_pennylane()
    expected_device = "default.qubit" if not noise_kw else "default.mixed"
    assert qnode.device.name == expected_device
    rng = np.random.default_rng(63)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, model.n_qubits))
    got = model.expectations(params, x)
    want = np.array([np.stack(qnode(params, row)) for row in x])
    assert got.shape == want.shape == (3, len(model.measured_qubits))
    np.testing.assert_allclose(got, want, atol=1e-10, rtol=0)


# ----------------------------------------------------------------- derivatives
def pennylane_loss(model: QNN, qnode, x: np.ndarray, y: np.ndarray):
    """Mean cross-entropy through the QNode, in pennylane.numpy (differentiable)."""

    def loss(params):
        total = 0.0
        for row, label in zip(x, y, strict=True):
            e = pnp.stack(qnode(params, constant(row)))
            if model.readout == "binary":
                z = -model.output_scale * e[0]  # P(1) = sigmoid(-s <Z0>)
                total = total + pnp.log(1 + pnp.exp(z)) - label * z
            else:
                logits = model.output_scale * e
                total = total - (logits[label] - pnp.log(pnp.sum(pnp.exp(logits))))
        return total / len(y)

    return loss


DERIVATIVE_CASES = [
    ((3, 2, "reupload", "cnot", "ring", "multiclass", 3), {}),
    ((3, 2, "angle", "cz", "linear", "binary"), {}),
    (
        (3, 2, "reupload", "cz", "ring", "binary"),
        {"depolarizing": [0.05, 0.2, 0.1], "amplitude_damping": 0.1, "readout_error": 0.05},
    ),
    (
        (2, 2, "angle", "cnot", "linear", "multiclass", 2),
        {"depolarizing": 0.1, "readout_error": [0.1, 0.2]},
    ),
    # Above MAX_PAULI_QUBITS: gate-local Pauli kernels and the reverse pass.
    (
        (6, 2, "reupload", "cnot", "ring", "multiclass", 3),
        {
            "depolarizing": [0.01, 0.05, 0.0, 0.1, 0.02, 0.03],
            "amplitude_damping": 0.05,
            "readout_error": 0.02,
        },
    ),
]


@pytest.mark.parametrize(
    ("shape", "noise_kw"),
    DERIVATIVE_CASES,
    ids=[f"{'-'.join(map(str, s))}-{'noisy' if k else 'ideal'}" for s, k in DERIVATIVE_CASES],
)
def test_gradient_and_jacobian_match_pennylane(shape: tuple, noise_kw: dict) -> None:
    model = build(*shape, **noise_kw)
    qnode = model.to_pennylane()
    rng = np.random.default_rng(64)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, model.n_qubits))
    y = rng.integers(0, model.n_classes, size=3)
    loss = pennylane_loss(model, qnode, x, y)
    np.testing.assert_allclose(model.loss(params, x, y), float(loss(trainable(params))), atol=1e-10)
    grad = qml.grad(loss)(trainable(params))
    np.testing.assert_allclose(model.gradient(params, x, y), np.asarray(grad), atol=1e-8, rtol=0)

    jac = model.jacobian(params, x)
    for r, row in enumerate(x):
        want = qml.jacobian(lambda p, row=row: pnp.stack(qnode(p, constant(row))))(
            trainable(params)
        )
        np.testing.assert_allclose(jac[r], np.asarray(want), atol=1e-8, rtol=0)
