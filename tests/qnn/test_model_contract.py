"""Contract tests of qceas.qnn: layout, conventions, batching, invariants, input errors.

The reference simulator below is written from the conventions in the module docstrings
only (gates as explicit Kronecker products, noise as explicit Kraus operators), so it is
an oracle independent of both the batched kernels and PennyLane.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qceas.qnn.model as model_module
from qceas.qnn import QNN, NoiseModel, propagate

I2 = np.eye(2, dtype=complex)
X = np.array([[0, 1], [1, 0]], dtype=complex)
Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
Z = np.array([[1, 0], [0, -1]], dtype=complex)
P0 = np.diag([1.0, 0.0]).astype(complex)
P1 = np.diag([0.0, 1.0]).astype(complex)


# --------------------------------------------------------------------------- reference
def on_qubit(mat: np.ndarray, q: int, n: int) -> np.ndarray:
    """``mat`` on wire q of n (wire 0 is the most significant bit)."""
    out = np.eye(1, dtype=complex)
    for w in range(n):
        out = np.kron(out, mat if w == q else I2)
    return out


def rot(generator: np.ndarray, theta: float) -> np.ndarray:
    """exp(-iθG/2) for a Pauli G."""
    return np.cos(theta / 2) * I2 - 1j * np.sin(theta / 2) * generator


def reference_expectations(model: QNN, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """⟨Z_c⟩ of one input by plain density-matrix simulation with Kraus channels."""
    n, d = model.n_qubits, 2**model.n_qubits
    nm, ans = model.noise, model.ansatz
    rho = np.zeros((d, d), dtype=complex)
    rho[0, 0] = 1.0

    def unitary(u: np.ndarray) -> None:
        nonlocal rho
        rho = u @ rho @ u.conj().T

    def channel(kraus: list[np.ndarray]) -> None:
        nonlocal rho
        rho = sum(k @ rho @ k.conj().T for k in kraus)

    def encode() -> None:
        for q in range(n):
            unitary(on_qubit(rot(Y, x[q]), q, n))

    pairs = [] if n == 1 else [(q, q + 1) for q in range(n - 1)]
    if ans.topology == "ring" and n > 2:
        pairs.append((n - 1, 0))
    target_gate = X if ans.entangler == "cnot" else Z
    encode()
    for layer in range(ans.layers):
        if layer > 0 and ans.encoding == "reupload":
            encode()
        for q in range(n):
            unitary(on_qubit(rot(Y, params[layer * 2 * n + 2 * q]), q, n))
            unitary(on_qubit(rot(Z, params[layer * 2 * n + 2 * q + 1]), q, n))
        for c, t in pairs:
            unitary(on_qubit(P0, c, n) + on_qubit(P1, c, n) @ on_qubit(target_gate, t, n))
        for q in range(n):
            p, g = nm.depolarizing[q], nm.amplitude_damping[q]
            dep = [np.sqrt(1 - 3 * p / 4) * I2] + [np.sqrt(p / 4) * s for s in (X, Y, Z)]
            channel([on_qubit(k, q, n) for k in dep])
            damp = [np.array([[1, 0], [0, np.sqrt(1 - g)]]), np.array([[0, np.sqrt(g)], [0, 0]])]
            channel([on_qubit(k.astype(complex), q, n) for k in damp])
    for q in range(n):
        r = nm.readout_error[q]
        channel([np.sqrt(1 - r) * on_qubit(I2, q, n), np.sqrt(r) * on_qubit(X, q, n)])
    return np.array([np.real(np.trace(rho @ on_qubit(Z, q, n))) for q in model.measured_qubits])


CONFIGS = [
    # (n, layers, encoding, entangler, topology, readout, n_classes, noise kwargs)
    (1, 3, "reupload", "cnot", "ring", "binary", 2, {"depolarizing": 0.2}),
    (2, 2, "angle", "cnot", "ring", "multiclass", 2, {}),
    (2, 2, "reupload", "cz", "linear", "binary", 2, {"amplitude_damping": [0.3, 0.1]}),
    (3, 2, "angle", "cz", "ring", "multiclass", 3, {"readout_error": [0.05, 0.0, 0.2]}),
    (3, 1, "reupload", "cnot", "linear", "multiclass", 2, {"depolarizing": [0.1, 0.0, 0.3]}),
    (
        4,
        2,
        "reupload",
        "cnot",
        "ring",
        "multiclass",
        3,
        {
            "depolarizing": [0.02, 0.1, 0.0, 0.3],
            "amplitude_damping": [0.1, 0.0, 0.05, 0.2],
            "readout_error": 0.03,
        },
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
        noise=NoiseModel.build(n, **noise_kw),
    )


# ---------------------------------------------------------------------- layout
@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: f"{c[0]}q{c[1]}l-{c[2]}-{c[3]}-{c[4]}")
def test_expectations_match_reference_simulator(cfg: tuple) -> None:
    model = build(cfg)
    rng = np.random.default_rng(11)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, model.n_qubits))
    got = model.expectations(params, x)
    want = np.stack([reference_expectations(model, params, row) for row in x])
    assert got.shape == (3, len(model.measured_qubits))
    np.testing.assert_allclose(got, want, atol=1e-12, rtol=0)


def test_parameter_order_closed_form() -> None:
    """params[l·2n + 2q + r]: r = 0 is RY, r = 1 is RZ (RZ is invisible to ⟨Z⟩ here)."""
    rng = np.random.default_rng(1)
    x = rng.uniform(-np.pi, np.pi, size=(4, 2))
    theta = rng.uniform(-np.pi, np.pi, size=4)  # [RY q0, RZ q0, RY q1, RZ q1]
    c0, c1 = np.cos(x[:, 0] + theta[0]), np.cos(x[:, 1] + theta[2])
    cnot = QNN(2, 1, entangler="cnot", topology="linear", n_classes=2)
    cz = QNN(2, 1, entangler="cz", topology="linear", n_classes=2)
    np.testing.assert_allclose(cnot.expectations(theta, x), np.stack([c0, c0 * c1], 1), atol=1e-13)
    np.testing.assert_allclose(cz.expectations(theta, x), np.stack([c0, c1], 1), atol=1e-13)
    # The RZ angles only change phases before a Z measurement: zero Jacobian columns.
    jac = cnot.jacobian(theta, x)
    np.testing.assert_allclose(jac[:, :, [1, 3]], 0.0, atol=1e-13)


def test_num_params_and_init() -> None:
    for n, layers in [(1, 1), (2, 3), (4, 2), (5, 1)]:
        model = QNN(n, layers, n_classes=2) if n > 1 else QNN(1, layers, readout="binary")
        assert model.num_params == layers * 2 * n
        params = model.init_params(rng=np.random.default_rng(0))
        assert params.shape == (model.num_params,)
        assert np.all(params >= -np.pi)
        assert np.all(params < np.pi)
    a = QNN(3, 2, n_classes=2).init_params(rng=np.random.default_rng(5))
    b = QNN(3, 2, n_classes=2).init_params(rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_entangler_pairs() -> None:
    assert QNN(1, 1, readout="binary").ansatz.entangler_pairs() == []
    # Two qubits: a ring would apply the same pair twice; the ansatz applies it once.
    assert QNN(2, 1, topology="ring").ansatz.entangler_pairs() == [(0, 1)]
    assert QNN(4, 1, topology="ring").ansatz.entangler_pairs() == [(0, 1), (1, 2), (2, 3), (3, 0)]
    assert QNN(4, 1, topology="linear").ansatz.entangler_pairs() == [(0, 1), (1, 2), (2, 3)]


# ------------------------------------------------------------------ conventions
def test_single_qubit_channel_conventions() -> None:
    """Depolarizing p scales a qubit's Bloch vector by 1-p; damping γ maps Z → (1-γ)Z + γ."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-np.pi, np.pi, size=(5, 1))
    for layers in (1, 3):
        ideal = QNN(1, layers, readout="binary")
        params = ideal.init_params(rng=rng)
        e0 = ideal.expectations(params, x)
        p = 0.17
        dep = ideal.with_noise(NoiseModel.build(1, depolarizing=p))
        np.testing.assert_allclose(dep.expectations(params, x), (1 - p) ** layers * e0, atol=1e-13)
    ideal = QNN(1, 1, readout="binary")
    params = ideal.init_params(rng=rng)
    e0 = ideal.expectations(params, x)
    g = 0.3
    damp = ideal.with_noise(NoiseModel.build(1, amplitude_damping=g))
    np.testing.assert_allclose(damp.expectations(params, x), (1 - g) * e0 + g, atol=1e-13)


@pytest.mark.parametrize("noisy", [False, True])
def test_readout_error_scales_expectations(noisy: bool) -> None:
    rng = np.random.default_rng(3)
    n = 3
    base = NoiseModel.build(n, depolarizing=0.1 if noisy else 0.0)
    model = QNN(n, 2, n_classes=3, noise=base)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(4, n))
    r = np.array([0.05, 0.25, 0.4])
    flipped = model.with_noise(
        NoiseModel.build(n, depolarizing=base.depolarizing, readout_error=list(r))
    )
    np.testing.assert_allclose(
        flipped.expectations(params, x), (1 - 2 * r) * model.expectations(params, x), atol=1e-13
    )
    np.testing.assert_allclose(
        flipped.jacobian(params, x),
        (1 - 2 * r)[None, :, None] * model.jacobian(params, x),
        atol=1e-13,
    )


# ------------------------------------------------------------ simulator invariants
def _random_case(seed: int, n: int, layers: int, reupload: bool):
    model = QNN(n, layers, encoding="reupload" if reupload else "angle", n_classes=2)
    rng = np.random.default_rng(seed)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, n))
    return model, params, x, rng


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(2, 3),
    layers=st.integers(1, 3),
    reupload=st.booleans(),
)
def test_pure_path_matches_density_path_at_tiny_noise(
    seed: int, n: int, layers: int, reupload: bool
) -> None:
    model, params, x, _ = _random_case(seed, n, layers, reupload)
    pure = propagate(model.ansatz, params, x)
    tiny = np.full((x.shape[0], n), 1e-12)
    mixed = propagate(model.ansatz, params, x, tiny, tiny)
    assert not pure.mixed
    assert mixed.mixed
    psi, dpsi = pure.state, pure.tangents
    assert dpsi is not None
    assert mixed.tangents is not None
    rho = np.einsum("ri,rj->rij", psi, psi.conj())
    drho = np.einsum("rpi,rj->rpij", dpsi, psi.conj())
    drho = drho + np.swapaxes(drho.conj(), -1, -2)
    np.testing.assert_allclose(mixed.state, rho, atol=1e-9)
    np.testing.assert_allclose(mixed.tangents, drho, atol=1e-9)
    # Same through the model: expectations, gradient and QFI are continuous at p = 0.
    y = np.arange(x.shape[0]) % 2
    noisy = model.with_noise(NoiseModel.build(n, depolarizing=1e-12))
    np.testing.assert_allclose(
        noisy.expectations(params, x), model.expectations(params, x), atol=1e-9
    )
    np.testing.assert_allclose(
        noisy.gradient(params, x, y), model.gradient(params, x, y), atol=1e-9
    )
    np.testing.assert_allclose(
        noisy.quantum_fisher(params, x), model.quantum_fisher(params, x), atol=1e-9
    )


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3),
    layers=st.integers(1, 3),
    reupload=st.booleans(),
    p=st.floats(0.0, 1.0),
    g=st.floats(0.0, 1.0),
)
def test_states_are_physical(
    seed: int, n: int, layers: int, reupload: bool, p: float, g: float
) -> None:
    model = QNN(
        n, layers, encoding="reupload" if reupload else "angle", readout="binary", n_classes=2
    )
    rng = np.random.default_rng(seed)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(3, n))
    pure = propagate(model.ansatz, params, x)
    assert pure.tangents is not None
    np.testing.assert_allclose(np.linalg.norm(pure.state, axis=1), 1.0, atol=1e-12)
    # d/dθ ⟨ψ|ψ⟩ = 2 Re⟨ψ|∂ψ⟩ = 0.
    np.testing.assert_allclose(
        np.real(np.einsum("rd,rpd->rp", pure.state.conj(), pure.tangents)), 0.0, atol=1e-12
    )
    dep = rng.uniform(0, p, size=(3, n))
    amp = rng.uniform(0, g, size=(3, n))
    dep[0, 0] = max(dep[0, 0], 1e-3)  # at least one channel, so the density path is taken
    mixed = propagate(model.ansatz, params, x, dep, amp, shift_means=True)
    rho, tan, shf = mixed.state, mixed.tangents, mixed.shift_means
    assert mixed.mixed
    assert tan is not None
    assert shf is not None
    herm = np.swapaxes(rho.conj(), -1, -2)
    np.testing.assert_allclose(rho, herm, atol=1e-13)
    np.testing.assert_allclose(np.trace(rho, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    assert np.linalg.eigvalsh(rho).min() > -1e-12
    np.testing.assert_allclose(tan, np.swapaxes(tan.conj(), -1, -2), atol=1e-13)
    np.testing.assert_allclose(np.trace(tan, axis1=-2, axis2=-1), 0.0, atol=1e-12)
    # Shift means: ρ(θ ± π/2·e_i) = S_i ± ∂_iρ, each a density matrix.
    for i in range(model.num_params):
        for sign in (1.0, -1.0):
            shifted = params.copy()
            shifted[i] += sign * np.pi / 2
            want = propagate(model.ansatz, shifted, x, dep, amp, tangents=False).state
            np.testing.assert_allclose(shf[:, i] + sign * tan[:, i], want, atol=1e-12)


def test_parameter_shift_rule_is_exact() -> None:
    """(E(θ+π/2·e_i) − E(θ−π/2·e_i))/2 equals the exact Jacobian column (all paths)."""
    rng = np.random.default_rng(4)
    for cfg in CONFIGS:
        model = build(cfg)
        params = model.init_params(rng=rng)
        x = rng.uniform(-np.pi, np.pi, size=(2, model.n_qubits))
        jac = model.jacobian(params, x)
        for i in range(model.num_params):
            plus, minus = params.copy(), params.copy()
            plus[i] += np.pi / 2
            minus[i] -= np.pi / 2
            shift = (model.expectations(plus, x) - model.expectations(minus, x)) / 2
            np.testing.assert_allclose(jac[:, :, i], shift, atol=1e-12)


# ------------------------------------------------------------------ node batching
NODE_NOISES = [
    {},
    {"depolarizing": 0.1},
    {"amplitude_damping": [0.2, 0.0, 0.1], "readout_error": 0.05},
    {"readout_error": [0.1, 0.0, 0.3]},
    {"depolarizing": [0.0, 0.3, 0.05], "amplitude_damping": 0.02},
]


def _nodes(model: QNN, rng: np.random.Generator):
    sizes = [3, 1, 4, 2, 5]
    shards = [
        (rng.uniform(-np.pi, np.pi, size=(s, model.n_qubits)), rng.integers(0, 2, size=s))
        for s in sizes
    ]
    noises = [NoiseModel.build(model.n_qubits, **kw) for kw in NODE_NOISES]
    return shards, noises


@pytest.mark.parametrize("readout", ["multiclass", "binary"])
def test_evaluate_nodes_equals_separate_evaluations(readout: str) -> None:
    rng = np.random.default_rng(6)
    model = QNN(3, 2, encoding="reupload", readout=readout, n_classes=2)
    params = model.init_params(rng=rng)
    shards, noises = _nodes(model, rng)
    res = model.evaluate_nodes(params, shards, noises, qfi=True)
    assert res.qfi is not None
    assert res.loss.shape == (5,)
    assert res.gradient.shape == (5, model.num_params)
    assert res.qfi.shape == (5, model.num_params, model.num_params)
    np.testing.assert_array_equal(res.samples, [3, 1, 4, 2, 5])
    for k, ((xk, yk), nm) in enumerate(zip(shards, noises, strict=True)):
        node = model.with_noise(nm)
        np.testing.assert_allclose(res.loss[k], node.loss(params, xk, yk), atol=1e-12)
        np.testing.assert_allclose(res.gradient[k], node.gradient(params, xk, yk), atol=1e-12)
        np.testing.assert_allclose(res.qfi[k], node.quantum_fisher(params, xk), atol=1e-12)
        acc = np.mean(node.predict(params, xk) == yk)
        np.testing.assert_allclose(res.accuracy[k], acc, atol=1e-15)


def test_evaluate_nodes_independent_of_chunk_size(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    model = QNN(3, 2, n_classes=3)
    params = model.init_params(rng=rng)
    shards, noises = _nodes(model, rng)
    big = model.evaluate_nodes(params, shards, noises, qfi=True)
    big_e = model.with_noise(noises[2]).expectations(params, shards[4][0])
    monkeypatch.setattr(model_module, "CHUNK_BUDGET", 2**6)  # one row per chunk here
    assert model._rows_per_chunk(True, 1) == 1
    small = model.evaluate_nodes(params, shards, noises, qfi=True)
    small_e = model.with_noise(noises[2]).expectations(params, shards[4][0])
    assert big.qfi is not None
    assert small.qfi is not None
    np.testing.assert_allclose(small.loss, big.loss, atol=1e-13)
    np.testing.assert_allclose(small.gradient, big.gradient, atol=1e-13)
    np.testing.assert_allclose(small.qfi, big.qfi, atol=1e-12)
    np.testing.assert_array_equal(small.accuracy, big.accuracy)
    np.testing.assert_allclose(small_e, big_e, atol=1e-14)


def test_predict_and_proba_consistent() -> None:
    rng = np.random.default_rng(8)
    for readout, n_classes in [("multiclass", 3), ("binary", 2)]:
        model = QNN(3, 2, readout=readout, n_classes=n_classes)
        params = model.init_params(rng=rng)
        x = rng.uniform(-np.pi, np.pi, size=(6, 3))
        proba = model.predict_proba(params, x)
        assert proba.shape == (6, n_classes)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-14)
        assert np.all(proba >= 0)
        np.testing.assert_array_equal(model.predict(params, x), np.argmax(proba, axis=1))
        if readout == "binary":
            e = model.expectations(params, x)[:, 0]
            s = model.output_scale
            np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(s * e)), atol=1e-14)


# ------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_qubits": 0}, "model.n_qubits = 0: must be an integer in [1, 10]"),
        ({"n_qubits": 11}, "model.n_qubits = 11: must be an integer in [1, 10]"),
        ({"n_qubits": 2.0}, "model.n_qubits = 2.0: must be an integer in [1, 10]"),
        ({"layers": 0}, "model.layers = 0: must be an integer >= 1"),
        ({"encoding": "amplitude"}, "model.encoding = 'amplitude': must be one of angle, reupload"),
        ({"entangler": "swap"}, "model.entangler = 'swap': must be one of cnot, cz"),
        ({"topology": "star"}, "model.topology = 'star': must be one of ring, linear"),
        (
            {"readout": "regression"},
            "model.readout = 'regression': must be one of multiclass, binary",
        ),
        (
            {"readout": "binary", "n_classes": 3},
            "model.n_classes = 3: binary readout needs exactly 2",
        ),
        (
            {"n_classes": 5},
            "model.n_classes = 5: multiclass readout needs 2 <= n_classes <= n_qubits (4), "
            "one measured qubit per class",
        ),
        (
            {"n_classes": 1},
            "model.n_classes = 1: multiclass readout needs 2 <= n_classes <= n_qubits (4), "
            "one measured qubit per class",
        ),
        ({"output_scale": 0.0}, "model.output_scale = 0.0: must be > 0"),
        ({"output_scale": float("inf")}, "model.output_scale = inf: must be > 0"),
        (
            {"noise": NoiseModel.build(3)},
            "noise.n_qubits = 3: must equal model.n_qubits (4)",
        ),
    ],
)
def test_bad_model_arguments(kwargs: dict, message: str) -> None:
    args = {"n_qubits": 4, "layers": 2, "n_classes": 2} | kwargs
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        QNN(**args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depolarizing": 1.4}, "depolarizing = 1.4: must be in [0, 1]"),
        ({"depolarizing": [0.1, 0.2, 0.3, 1.4]}, "depolarizing[3] = 1.4: must be in [0, 1]"),
        ({"amplitude_damping": -0.1}, "amplitude_damping = -0.1: must be in [0, 1]"),
        (
            {"readout_error": [0.0, float("nan"), 0.0, 0.0]},
            "readout_error[1] = nan: must be in [0, 1]",
        ),
        (
            {"depolarizing": "abc"},
            "depolarizing = 'abc': must be a number or a list of numbers",
        ),
        ({"shots": 0}, "shots = 0: must be a positive integer or null"),
        ({"shots": -5}, "shots = -5: must be a positive integer or null"),
        ({"shots": 2.5}, "shots = 2.5: must be a positive integer or null"),
    ],
)
def test_bad_noise_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        NoiseModel.build(4, **kwargs)


def test_wrong_length_noise_list() -> None:
    with pytest.raises(
        ValueError,
        match=r"^depolarizing = \[.*\]: must be one number or 4 numbers \(one per qubit\)$",
    ):
        NoiseModel.build(4, depolarizing=[0.1, 0.2])


def test_wrong_length_noise_list_prints_plain_numbers() -> None:
    message = "depolarizing = [0.1, 0.2]: must be one number or 4 numbers (one per qubit)"
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        NoiseModel.build(4, depolarizing=[0.1, 0.2])


def test_node_noise_with_wrong_register_size() -> None:
    model = QNN(4, 1, n_classes=2)
    params = model.init_params(rng=np.random.default_rng(0))
    message = "noises[0]: a NoiseModel for 3 qubits does not fit this 4-qubit model"
    with pytest.raises(ValueError, match=re.escape(message)):
        model.evaluate_nodes(
            params, [(np.zeros((1, 4)), [0])], [NoiseModel.build(3, depolarizing=0.1)]
        )


def test_bad_call_arguments() -> None:
    model = QNN(4, 2, n_classes=2)
    params = model.init_params(rng=np.random.default_rng(0))
    x = np.zeros((3, 4))
    y = np.array([0, 1, 1])

    def raises(message: str):
        return pytest.raises(ValueError, match=re.escape(message) + "$")

    with raises(
        "params: shape (5,) does not match the model's 16 parameters (2 layers x 4 qubits x 2)"
    ):
        model.expectations(np.zeros(5), x)
    with raises(
        "params: shape (2, 8) does not match the model's 16 parameters (2 layers x 4 qubits x 2)"
    ):
        model.gradient(params.reshape(2, 8), x, y)
    with raises("params: must be finite"):
        model.loss(np.full(16, np.nan), x, y)
    with raises("x: shape (3, 2): must be (n_samples, 4) angles, one feature per qubit"):
        model.expectations(params, np.zeros((3, 2)))
    with raises("x: shape (1, 3, 4): must be (n_samples, 4) angles, one feature per qubit"):
        model.jacobian(params, np.zeros((1, 3, 4)))
    with raises("x: must be finite"):
        model.quantum_fisher(params, np.array([0.0, np.inf, 0.0, 0.0]))
    with raises("y: labels must be in [0, 1]"):
        model.loss(params, x, np.array([0, 2, 1]))
    with raises("y: labels must be in [0, 1]"):
        model.gradient(params, x, np.array([0, -1, 1]))
    with raises("y: must be 3 integer labels, got shape (2,)"):
        model.loss(params, x, np.array([0, 1]))
    with raises("y: must be 3 integer labels, got shape (3,)"):
        model.loss(params, x, np.array([0.0, 1.0, 1.0]))
    with raises("noises: 1 noise models for 2 shards"):
        model.evaluate_nodes(params, [(x, y), (x, y)], [model.noise])
    with raises("shards: need at least one node"):
        model.evaluate_nodes(params, [], [])
    with raises("shards[1]: node 1 has no samples"):
        model.evaluate_nodes(
            params, [(x, y), (np.zeros((0, 4)), np.zeros(0, dtype=int))], [model.noise] * 2
        )
    sampled = [NoiseModel.build(4, shots=100)]
    with raises(
        "rng: a numpy Generator (or node_rngs, one per node) is needed when any node has "
        "finite shots"
    ):
        model.evaluate_nodes(params, [(x, y)], sampled)
    gen = np.random.default_rng(0)
    with raises("rng, node_rngs: give one of them, not both"):
        model.evaluate_nodes(params, [(x, y)], sampled, rng=gen, node_rngs=[gen])
    with raises("node_rngs: 2 generators for 1 nodes; need one per node"):
        model.evaluate_nodes(params, [(x, y)], sampled, node_rngs=[gen, gen])
    with raises("node_rngs[0]: must be a numpy Generator, got int"):
        model.evaluate_nodes(params, [(x, y)], sampled, node_rngs=[7])  # type: ignore[list-item]


def test_noise_model_built_directly_is_validated() -> None:
    with pytest.raises(ValueError, match=re.escape("depolarizing[0] = 1.5: must be in [0, 1]")):
        NoiseModel(2, depolarizing=(1.5, 0.0))
    with pytest.raises(ValueError, match=re.escape("shots = 0: must be a positive integer")):
        NoiseModel(2, shots=0)
    with pytest.raises(ValueError, match="must be one number or 2 numbers"):
        NoiseModel(2, readout_error=(0.1, 0.1, 0.1))
    assert NoiseModel(2).depolarizing == (0.0, 0.0)


def test_qnn_rejects_non_integer_classes_and_non_numeric_scale() -> None:
    with pytest.raises(ValueError, match=re.escape("model.n_classes = 2.5: must be an integer")):
        QNN(3, 1, n_classes=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=re.escape("model.output_scale = '5': must be a number")):
        QNN(3, 1, output_scale="5")  # type: ignore[arg-type]


def test_density_matrix_path_above_the_pauli_limit_matches_finite_differences() -> None:
    # Six qubits: noisy nodes run on density matrices (the Pauli kernels stop at 5).
    rng = np.random.default_rng(21)
    model = QNN(6, 1, n_classes=2, noise=NoiseModel.build(6, depolarizing=0.05))
    params = model.init_params(rng=rng)
    x, y = rng.uniform(0, np.pi, (2, 6)), np.array([0, 1])
    grad = model.gradient(params, x, y)
    eps = 1e-5
    for i in (0, 5, 11):
        step = np.zeros_like(params)
        step[i] = eps
        fd = (model.loss(params + step, x, y) - model.loss(params - step, x, y)) / (2 * eps)
        assert grad[i] == pytest.approx(fd, abs=1e-7)
    qfi = model.quantum_fisher(params, x)
    assert np.allclose(qfi, qfi.T)
    assert np.linalg.eigvalsh(qfi).min() > -1e-10
