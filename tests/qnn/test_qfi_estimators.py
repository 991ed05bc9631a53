"""QFI estimators (``qceas.qnn.qfi_estimators``) against the SLD QFI and closed forms.

Three ways, as the module docstring derives them: (1) the bounds hold as matrices,
F ⪰ sub-QFI ⪰ Hilbert–Schmidt, on random noisy circuits (depolarizing, amplitude
damping, both; 2–4 qubits, hypothesis) and all three agree on pure states; (2) closed
forms under global depolarizing noise of a unitary family; (3) the sub-QFI against an
independent route, the second-order finite difference of the super-fidelity it is
derived from, 4·(1 − G(ρ_θ, ρ_{θ+ε}))/ε² (G bounds the squared fidelity, whose
Bures expansion is 1 − ε²F/4). Plus the registry contract, the model and
config wiring, and the hardware price of each estimator.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from qceas._rules import ConfigError
from qceas.qnn import QNN
from qceas.qnn.config import ModelConfig
from qceas.qnn.fisher import qfi_mixed, qfi_pure
from qceas.qnn.noise import NoiseModel
from qceas.qnn.qfi_estimators import QFI_ESTIMATORS, hilbert_schmidt_matrix, sub_qfi_matrix
from qceas.qnn.timing import GateTimes, circuits_per_sample, compute_times

TOL = 1e-9


def _model(n: int, layers: int, dep: float, amp: float, estimator: str) -> QNN:
    noise = NoiseModel.build(n, depolarizing=dep, amplitude_damping=amp)
    return QNN(n, layers, n_classes=2, noise=noise, qfi_estimator=estimator)


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(2, 4),
    layers=st.integers(1, 2),
    kind=st.sampled_from(["depolarizing", "amplitude_damping", "both"]),
    strength=st.floats(0.01, 0.3),
    seed=st.integers(0, 2**31),
)
def test_bounds_hold_as_matrices_on_noisy_circuits(n, layers, kind, strength, seed) -> None:
    dep = strength if kind in ("depolarizing", "both") else 0.0
    amp = strength if kind in ("amplitude_damping", "both") else 0.0
    rng = np.random.default_rng(seed)
    params = rng.uniform(-np.pi, np.pi, size=QNN(n, layers, n_classes=2).num_params)
    x = rng.uniform(-np.pi, np.pi, size=(3, n))
    f = {
        name: _model(n, layers, dep, amp, name).quantum_fisher(params, x)
        for name in QFI_ESTIMATORS.names()
    }
    scale = max(1.0, float(np.abs(f["sld"]).max()))
    for hi, lo in (("sld", "sub_qfi"), ("sub_qfi", "hilbert_schmidt")):
        gap = np.linalg.eigvalsh(f[hi] - f[lo])
        assert gap.min() >= -TOL * scale, (hi, lo, gap.min())
    for name, m in f.items():
        np.testing.assert_allclose(m, m.T, atol=1e-12, err_msg=name)
        assert np.linalg.eigvalsh(m).min() >= -TOL * scale, name
    # With noise the bounds are strict somewhere (they are not the QFI).
    assert np.trace(f["sld"]) > np.trace(f["hilbert_schmidt"])


def test_every_estimator_is_the_qfi_on_pure_states() -> None:
    rng = np.random.default_rng(4)
    params = rng.uniform(-np.pi, np.pi, size=QNN(3, 2, n_classes=2).num_params)
    x = rng.uniform(-np.pi, np.pi, size=(2, 3))
    ref = _model(3, 2, 0.0, 0.0, "sld").quantum_fisher(params, x)
    for name in QFI_ESTIMATORS.names():
        np.testing.assert_allclose(_model(3, 2, 0.0, 0.0, name).quantum_fisher(params, x), ref)
    # The mixed-state formulas on a pure density matrix give the same (P = 0 branch).
    psi = rng.normal(size=4) + 1j * rng.normal(size=4)
    psi /= np.linalg.norm(psi)
    gens = [_hermitian(rng, 4) for _ in range(3)]
    dpsi = np.array([-1j * g @ psi for g in gens])
    rho = np.outer(psi, psi.conj())[None]
    drho = np.array([np.outer(d, psi.conj()) + np.outer(psi, d.conj()) for d in dpsi])[None]
    pure = qfi_pure(psi[None], dpsi[None])
    for fn in (sub_qfi_matrix, hilbert_schmidt_matrix):
        np.testing.assert_allclose(fn(rho, drho), pure, atol=1e-12)


def _hermitian(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    return (a + a.conj().T) / 2


@pytest.mark.parametrize("p", [0.2, 0.6, 0.95])
@pytest.mark.parametrize("d", [2, 4, 8])
def test_closed_forms_under_global_depolarizing(p: float, d: int) -> None:
    """ρ = p|ψ⟩⟨ψ| + (1 − p)I/d of ψ(θ) = e^{−iθG}ψ0: F = p²F_pure/(p + 2(1 − p)/d) and
    sub-QFI = Hilbert–Schmidt = p²F_pure (Tr[ρ∂ρ] = 0 for a unitary family)."""
    rng = np.random.default_rng(d)
    psi = rng.normal(size=d) + 1j * rng.normal(size=d)
    psi /= np.linalg.norm(psi)
    g = _hermitian(rng, d)
    dpsi = -1j * g @ psi
    f_pure = float(qfi_pure(psi[None], dpsi[None, None])[0, 0, 0])
    rho = (p * np.outer(psi, psi.conj()) + (1 - p) * np.eye(d) / d)[None]
    drho = (p * (np.outer(dpsi, psi.conj()) + np.outer(psi, dpsi.conj())))[None, None]
    sld = float(qfi_mixed(rho, drho)[0, 0, 0])
    assert sld == pytest.approx(p**2 * f_pure / (p + 2 * (1 - p) / d), rel=1e-9)
    for fn in (sub_qfi_matrix, hilbert_schmidt_matrix):
        assert float(fn(rho, drho)[0, 0, 0]) == pytest.approx(p**2 * f_pure, rel=1e-9)


def _super_fidelity(a: np.ndarray, b: np.ndarray) -> float:
    purity = lambda m: float(np.real(np.trace(m @ m)))  # noqa: E731
    overlap = float(np.real(np.trace(a @ b)))
    return overlap + np.sqrt(max(0.0, (1 - purity(a)) * (1 - purity(b))))


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), gamma=st.floats(0.05, 0.6), theta=st.floats(-3, 3))
def test_sub_qfi_is_the_curvature_of_the_super_fidelity(seed, gamma, theta) -> None:
    """A qubit pair: e^{−iθG} on a random mixed state, then amplitude damping γ on the
    first qubit (a θ-independent channel, so the family is not unitary and Tr[ρ∂ρ] ≠
    0). ∂ρ by the exact derivative of the unitary; the sub-QFI against
    4(1 − G(ρ_θ, ρ_{θ+ε}))/ε² with ε = 1e-4."""
    rng = np.random.default_rng(seed)
    d = 4
    g = _hermitian(rng, d)
    a = rng.normal(size=(d, 2)) + 1j * rng.normal(size=(d, 2))
    rho0 = a @ a.conj().T
    rho0 /= np.trace(rho0)
    k0 = np.kron(np.array([[1, 0], [0, np.sqrt(1 - gamma)]]), np.eye(2))
    k1 = np.kron(np.array([[0, np.sqrt(gamma)], [0, 0]]), np.eye(2))

    def state(t: float) -> np.ndarray:
        u = expm(-1j * t * g)
        s = u @ rho0 @ u.conj().T
        return k0 @ s @ k0.conj().T + k1 @ s @ k1.conj().T

    u = expm(-1j * theta * g)
    s = u @ rho0 @ u.conj().T
    ds = -1j * (g @ s - s @ g)
    drho = k0 @ ds @ k0.conj().T + k1 @ ds @ k1.conj().T
    rho = state(theta)
    sub = float(sub_qfi_matrix(rho[None], drho[None, None])[0, 0, 0])
    eps = 1e-4
    curvature = 4 * (1 - _super_fidelity(rho, state(theta + eps))) / eps**2
    assert curvature == pytest.approx(sub, rel=2e-3, abs=1e-6)
    assert sub <= float(qfi_mixed(rho[None], drho[None, None])[0, 0, 0]) + 1e-9


@pytest.mark.parametrize("name", QFI_ESTIMATORS.names())
def test_registry_contract(name) -> None:
    est = QFI_ESTIMATORS.get(name)
    assert est.name == name
    assert est.bound in ("exact", "lower")
    rng = np.random.default_rng(0)
    rho = np.stack([np.eye(4) / 4, np.diag([0.7, 0.1, 0.1, 0.1])]).astype(complex)
    drho = np.empty((2, 3, 4, 4), dtype=complex)
    for r in range(2):
        for i in range(3):
            h = _hermitian(rng, 4)
            drho[r, i] = h - np.trace(h) / 4 * np.eye(4)  # traceless, as ∂ρ is
    out = est.mixed(rho, drho)
    # Every registered estimator has a hardware price (qceas.qnn.timing).
    ansatz = QNN(2, 1, n_classes=2).ansatz
    assert circuits_per_sample(ansatz, qfi=True, estimator=name) > circuits_per_sample(
        ansatz, qfi=False
    )
    assert out.shape == (2, 3, 3)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, np.swapaxes(out, 1, 2), atol=1e-12)
    if est.bound == "lower":
        gap = np.linalg.eigvalsh(QFI_ESTIMATORS.get("sld").mixed(rho, drho) - out)
        assert gap.min() >= -1e-9


def test_config_and_model_name_a_bad_estimator_in_one_line() -> None:
    with pytest.raises(ConfigError, match=r"^model\.qfi_estimator = 'fisher': must be one of"):
        ModelConfig(qfi_estimator="fisher")
    with pytest.raises(ValueError, match=r"^model\.qfi_estimator = 'x': must be one of"):
        QNN(2, 1, n_classes=2, qfi_estimator="x")
    model = QNN(2, 1, n_classes=2, qfi_estimator="sub_qfi")
    assert model.with_noise(NoiseModel.build(2, depolarizing=0.1)).qfi_estimator == "sub_qfi"


def test_each_estimator_is_priced_by_its_circuits() -> None:
    """sld: the 2L sublayer circuits; hilbert_schmidt: 3P SWAP tests; sub_qfi: 5P + 1."""
    model = QNN(4, 3, n_classes=2)
    a, big_p = model.ansatz, model.num_params
    base = 1 + 2 * big_p
    assert circuits_per_sample(a, qfi=True) == base + 2 * a.layers
    assert circuits_per_sample(a, qfi=True, estimator="hilbert_schmidt") == base + 3 * big_p
    assert circuits_per_sample(a, qfi=True, estimator="sub_qfi") == base + 5 * big_p + 1
    times = [
        float(compute_times(a, GateTimes(), np.array([10]), shots=100, qfi=True, estimator=e)[0])
        for e in ("sld", "hilbert_schmidt", "sub_qfi")
    ]
    assert times[0] < times[1] < times[2]
    with pytest.raises(ValueError, match=r"^model\.qfi_estimator = 'x'"):
        circuits_per_sample(a, qfi=True, estimator="x")
