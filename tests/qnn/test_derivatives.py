"""Derivatives and quantum Fisher information of qceas.qnn against independent references.

* gradients and Jacobians: central finite differences;
* mixed-state QFI: the closed form under global depolarizing noise, and a finite
  difference of the Bures fidelity on random noisy circuits;
* structural properties of the QFI (symmetry, PSD, monotone decrease with noise).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.qnn import QNN, NoiseModel, propagate, qfi_mixed, qfi_pure

SEEDS = st.integers(0, 2**32 - 1)

MODELS = [
    # (n, layers, encoding, entangler, topology, readout, n_classes, noise kwargs)
    (3, 2, "angle", "cnot", "ring", "multiclass", 3, {}),
    (3, 2, "reupload", "cz", "linear", "binary", 2, {}),
    (2, 3, "reupload", "cnot", "ring", "multiclass", 2, {"depolarizing": [0.1, 0.25]}),
    (
        3,
        2,
        "angle",
        "cz",
        "ring",
        "binary",
        2,
        {"depolarizing": 0.05, "amplitude_damping": [0.1, 0.0, 0.3], "readout_error": 0.1},
    ),
    (
        3,
        2,
        "reupload",
        "cnot",
        "linear",
        "multiclass",
        2,
        {"amplitude_damping": 0.2, "readout_error": [0.05, 0.15, 0.0]},
    ),
]


def build(cfg: tuple) -> QNN:
    n, layers, enc, ent, top, readout, n_classes, noise_kw = cfg
    return QNN(
        n,
        layers,
        encoding=enc,
        entangler=ent,
        topology=top,
        readout=readout,
        n_classes=n_classes,
        output_scale=3.0,
        noise=NoiseModel.build(n, **noise_kw),
    )


def model_id(cfg: tuple) -> str:
    return f"{cfg[0]}q{cfg[1]}l-{cfg[2]}-{cfg[5]}-{'noisy' if cfg[7] else 'ideal'}"


# ------------------------------------------------------------- finite differences
EPS = 1e-5


@pytest.mark.parametrize("cfg", MODELS, ids=model_id)
def test_gradient_and_jacobian_match_central_differences(cfg: tuple) -> None:
    model = build(cfg)
    rng = np.random.default_rng(21)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(4, model.n_qubits))
    y = rng.integers(0, model.n_classes, size=4)
    grad = model.gradient(params, x, y)
    jac = model.jacobian(params, x)
    assert grad.shape == (model.num_params,)
    assert jac.shape == (4, len(model.measured_qubits), model.num_params)
    fd_grad = np.empty(model.num_params)
    fd_jac = np.empty_like(jac)
    for i in range(model.num_params):
        step = np.zeros(model.num_params)
        step[i] = EPS
        fd_grad[i] = (model.loss(params + step, x, y) - model.loss(params - step, x, y)) / (2 * EPS)
        fd_jac[:, :, i] = (
            model.expectations(params + step, x) - model.expectations(params - step, x)
        ) / (2 * EPS)
    # Truncation ~ EPS² ≈ 1e-10, round-off ~ 1e-16 / EPS ≈ 1e-11.
    np.testing.assert_allclose(grad, fd_grad, atol=1e-7, rtol=0)
    np.testing.assert_allclose(jac, fd_jac, atol=1e-7, rtol=0)


# ---------------------------------------------------- global depolarizing closed form
@settings(max_examples=25, deadline=None)
@given(
    seed=SEEDS,
    n=st.integers(1, 3),
    layers=st.integers(1, 2),
    p=st.floats(1e-3, 0.999),
)
def test_mixed_qfi_global_depolarizing_closed_form(
    seed: int, n: int, layers: int, p: float
) -> None:
    """ρ_p = (1-p)|ψ⟩⟨ψ| + p·I/d has F(ρ_p) = (1-p)²/(1-p+2p/d) · F(ψ)."""
    model = QNN(n, layers, encoding="reupload", readout="binary")
    rng = np.random.default_rng(seed)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(2, n))
    pure = propagate(model.ansatz, params, x)
    psi, dpsi = pure.state, pure.tangents
    assert dpsi is not None
    d = psi.shape[1]
    rho = (1 - p) * np.einsum("ri,rj->rij", psi, psi.conj()) + p * np.eye(d) / d
    outer = np.einsum("rpi,rj->rpij", dpsi, psi.conj())
    drho = (1 - p) * (outer + np.swapaxes(outer.conj(), -1, -2))
    factor = (1 - p) ** 2 / (1 - p + 2 * p / d)
    np.testing.assert_allclose(qfi_mixed(rho, drho), factor * qfi_pure(psi, dpsi), atol=1e-9)


@pytest.mark.parametrize("encoding", ["angle", "reupload"])
@pytest.mark.parametrize("layers", [1, 2, 4])
def test_single_qubit_depolarizing_qfi_end_to_end(encoding: str, layers: int) -> None:
    """On one qubit the per-layer channel commutes with the gates: p_tot = 1-(1-p)^L, d = 2."""
    rng = np.random.default_rng(22 + layers)
    ideal = QNN(1, layers, encoding=encoding, readout="binary")
    params = ideal.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, 1))
    for p in (0.01, 0.2, 0.7):
        noisy = ideal.with_noise(NoiseModel.build(1, depolarizing=p))
        p_tot = 1 - (1 - p) ** layers
        for rows in (x[0], x):
            want = (1 - p_tot) ** 2 * ideal.quantum_fisher(params, rows)
            np.testing.assert_allclose(noisy.quantum_fisher(params, rows), want, atol=1e-10)


# --------------------------------------------------------- Bures-fidelity estimate
def _psd_sqrt(rho: np.ndarray) -> np.ndarray:
    lam, vecs = np.linalg.eigh(rho)
    return (vecs * np.sqrt(np.clip(lam, 0.0, None))) @ vecs.conj().T


def root_fidelity(rho: np.ndarray, sigma: np.ndarray) -> float:
    """√F_B(ρ, σ) = Tr√(√ρ σ √ρ) = ‖√ρ·√σ‖_* (sum of singular values: no √ of tiny eigenvalues)."""
    return float(np.linalg.svd(_psd_sqrt(rho) @ _psd_sqrt(sigma), compute_uv=False).sum())


@pytest.mark.parametrize(
    ("n", "layers", "encoding", "seed"),
    [(2, 2, "angle", 31), (2, 3, "reupload", 32), (3, 2, "reupload", 33), (3, 1, "angle", 34)],
)
def test_mixed_qfi_matches_bures_fidelity(n: int, layers: int, encoding: str, seed: int) -> None:
    """vᵀFv = lim 8(1 − √F_B(ρ(θ), ρ(θ+εv)))/ε², averaged over ±ε to cancel the ε³ term."""
    rng = np.random.default_rng(seed)
    noise = NoiseModel.build(
        n,
        depolarizing=list(rng.uniform(0.02, 0.2, size=n)),
        amplitude_damping=list(rng.uniform(0.0, 0.3, size=n)),
    )
    model = QNN(n, layers, encoding=encoding, readout="binary", noise=noise)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=n)
    dep = np.asarray(noise.depolarizing)[None]
    amp = np.asarray(noise.amplitude_damping)[None]

    def rho(theta: np.ndarray) -> np.ndarray:
        return propagate(model.ansatz, theta, x[None], dep, amp, tangents=False).state[0]

    fisher = model.quantum_fisher(params, x)
    base = rho(params)
    eps = 1e-3
    for _ in range(3):
        v = rng.normal(size=model.num_params)
        v /= np.linalg.norm(v)
        est = np.mean(
            [8 * (1 - root_fidelity(base, rho(params + s * eps * v))) / eps**2 for s in (1, -1)]
        )
        # Truncation O(ε²) relative; round-off ~ 8·1e-15/ε² ≈ 1e-8 absolute.
        assert v @ fisher @ v == pytest.approx(est, rel=1e-5, abs=1e-8)


# --------------------------------------------------------------------- properties
@settings(max_examples=12, deadline=None)
@given(
    seed=SEEDS,
    n=st.integers(2, 3),
    layers=st.integers(1, 3),
    reupload=st.booleans(),
    entangler=st.sampled_from(["cnot", "cz"]),
)
def test_qfi_properties(seed: int, n: int, layers: int, reupload: bool, entangler: str) -> None:
    ideal = QNN(
        n, layers, encoding="reupload" if reupload else "angle", entangler=entangler, n_classes=2
    )
    rng = np.random.default_rng(seed)
    params = ideal.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, n))
    traces = []
    for p in (0.0, 0.05, 0.2, 0.5, 0.9):
        model = ideal.with_noise(NoiseModel.build(n, depolarizing=p))
        f = model.quantum_fisher(params, x)
        assert f.shape == (model.num_params, model.num_params)
        np.testing.assert_allclose(f, f.T, atol=1e-12)
        assert np.linalg.eigvalsh(f).min() > -1e-10
        # Pure-state QFI of a rotation exp(-iθG/2) with G² = I is at most 1 per diagonal entry.
        assert np.all(np.diag(f) <= 1 + 1e-12)
        # Mean over rows equals the mean of the per-row QFIs.
        per_row = np.mean([model.quantum_fisher(params, row) for row in x], axis=0)
        np.testing.assert_allclose(f, per_row, atol=1e-12)
        traces.append(np.trace(f))
    # Uniform depolarizing noise can only destroy information: Tr F falls with p.
    assert np.all(np.diff(traces) <= 1e-10), traces
    # Per-qubit noise too (never above the noiseless trace).
    mixed = ideal.with_noise(NoiseModel.build(n, depolarizing=list(rng.uniform(0, 0.5, size=n))))
    assert np.trace(mixed.quantum_fisher(params, x)) <= traces[0] + 1e-10


def test_qfi_mixed_ignores_kernel_and_handles_pure_inputs() -> None:
    """A rank-deficient ρ (a pure state given as a density matrix) reproduces the pure QFI."""
    rng = np.random.default_rng(23)
    model = QNN(3, 2, n_classes=2)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(2, 3))
    pure = propagate(model.ansatz, params, x)
    psi, dpsi = pure.state, pure.tangents
    assert dpsi is not None
    rho = np.einsum("ri,rj->rij", psi, psi.conj())
    outer = np.einsum("rpi,rj->rpij", dpsi, psi.conj())
    drho = outer + np.swapaxes(outer.conj(), -1, -2)
    np.testing.assert_allclose(qfi_mixed(rho, drho), qfi_pure(psi, dpsi), atol=1e-10)
