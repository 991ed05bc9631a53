"""The compute-time model (qceas.qnn.timing): depths against independent constructions,
times against the closed form, and the config glue that turns them into ready times."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.config import ConfigError, from_dict
from qceas.network.setup import demand_of
from qceas.qnn import QNN
from qceas.qnn.ansatz import Ansatz, ry, rz
from qceas.qnn.timing import (
    GateTimes,
    circuit_depth,
    compute_times,
    entangler_depth,
    qfi_shot_times,
    sample_cost,
    shot_time,
)
from qceas.training.key_supply import ready_times, ready_times_of
from qceas.training.scenario import build_scenario


def _cnot_depth_by_dag(pairs: list[tuple[int, int]]) -> int:
    """Longest chain of gates that share a qubit, in application order (networkx)."""
    dag = nx.DiGraph()
    dag.add_nodes_from(range(len(pairs)))
    for i, j in itertools.combinations(range(len(pairs)), 2):
        if set(pairs[i]) & set(pairs[j]):
            dag.add_edge(i, j)
    return nx.dag_longest_path_length(dag) + 1 if pairs else 0


def _chromatic_index(pairs: list[tuple[int, int]]) -> int:
    """Fewest layers of disjoint gates, by brute force over colourings."""
    if not pairs:
        return 0
    for colours in range(1, len(pairs) + 1):
        for assignment in itertools.product(range(colours), repeat=len(pairs)):
            ok = all(
                assignment[i] != assignment[j] or not set(pairs[i]) & set(pairs[j])
                for i, j in itertools.combinations(range(len(pairs)), 2)
            )
            if ok:
                return colours
    raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("n", "topology", "entangler", "depth"),
    [
        (1, "ring", "cnot", 0),
        (2, "ring", "cnot", 1),
        (4, "ring", "cnot", 4),
        (5, "ring", "cnot", 5),
        (5, "linear", "cnot", 4),
        (4, "ring", "cz", 2),
        (5, "ring", "cz", 3),
        (6, "linear", "cz", 2),
        (2, "linear", "cz", 1),
    ],
)
def test_entangler_depth_closed_forms(n: int, topology: str, entangler: str, depth: int) -> None:
    ansatz = Ansatz(n_qubits=n, layers=1, topology=topology, entangler=entangler)  # type: ignore[arg-type]
    assert entangler_depth(ansatz) == depth


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 7),
    topology=st.sampled_from(["ring", "linear"]),
    entangler=st.sampled_from(["cnot", "cz"]),
)
def test_entangler_depth_matches_independent_construction(
    n: int, topology: str, entangler: str
) -> None:
    ansatz = Ansatz(n_qubits=n, layers=1, topology=topology, entangler=entangler)  # type: ignore[arg-type]
    pairs = ansatz.entangler_pairs()
    expected = _cnot_depth_by_dag(pairs) if entangler == "cnot" else _chromatic_index(pairs)
    assert entangler_depth(ansatz) == expected


def test_circuit_depth_counts_layers() -> None:
    assert circuit_depth(Ansatz(n_qubits=4, layers=3)) == (7, 12)
    # Re-uploading adds an RY layer before every variational layer but the first.
    assert circuit_depth(Ansatz(n_qubits=4, layers=3, encoding="reupload")) == (9, 12)


def test_sample_time_closed_form() -> None:
    """n = 4, L = 3, CNOT ring: d₁ = 7, d₂ = 12, P = 24; the QFI circuit of layer l's
    RY sublayer has 1 + 2l RY/RZ layers, a Y-basis change and 4l CNOT layers; the RZ
    one has 2 + 2l single-qubit layers and no basis change."""
    times = GateTimes(
        single_qubit_s=5e-8, two_qubit_s=3e-7, measurement_s=1e-6, reset_s=2e-6,
        circuit_overhead_s=1e-4,
    )  # fmt: skip
    ansatz = Ansatz(n_qubits=4, layers=3)
    gates = 7 * 5e-8 + 12 * 3e-7
    assert shot_time(ansatz, times) == pytest.approx(3e-6 + gates, rel=1e-12)
    assert shot_time(ansatz, times, repeat=2) == pytest.approx(3e-6 + 2 * gates, rel=1e-12)
    qfi = [3e-6 + (2 + 2 * layer) * 5e-8 + 4 * layer * 3e-7 for layer in range(3) for _ in "yz"]
    np.testing.assert_allclose(qfi_shot_times(ansatz, times), qfi, rtol=1e-12)
    per_shot, per_sample = sample_cost(ansatz, times, qfi=True)
    assert per_shot == pytest.approx(49 * (3e-6 + gates) + sum(qfi), rel=1e-12)
    assert per_sample == pytest.approx((49 + 6) * 1e-4, rel=1e-12)
    no_qfi, overhead = sample_cost(ansatz, times, qfi=False)
    assert no_qfi == pytest.approx(49 * (3e-6 + gates), rel=1e-12)
    assert overhead == pytest.approx(49 * 1e-4, rel=1e-12)
    got = compute_times(ansatz, times, np.array([0, 1, 3]), shots=200, qfi=True, slowdown=2.0)
    np.testing.assert_allclose(got, 2.0 * np.array([0, 1, 3]) * (200 * per_shot + per_sample))


def _kron(mats: list[np.ndarray]) -> np.ndarray:
    out = np.ones((1, 1), dtype=complex)
    for m in mats:
        out = np.kron(out, m)
    return out


@pytest.mark.parametrize(("entangler", "encoding"), [("cnot", "angle"), ("cz", "reupload")])
def test_one_circuit_per_sublayer_gives_the_qfi_diagonal(entangler: str, encoding: str) -> None:
    """The priced QFI circuits measure what the model's QFI holds: for the parameter of
    qubit q in a sublayer, F_ii = 1 − ⟨σ_q⟩² in the state just before the sublayer
    (σ = Y for RY, Z for RZ), checked against the exact pure-state QFI."""
    n, layers = 3, 2
    model = QNN(n, layers, entangler=entangler, encoding=encoding, n_classes=2)
    rng = np.random.default_rng(7)
    params, x = rng.uniform(-np.pi, np.pi, model.num_params), rng.uniform(0, np.pi, n)
    exact = np.diag(model.quantum_fisher(params, x))
    eye, y, z = np.eye(2), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])
    encode = _kron([ry(v) for v in x])
    state = encode @ np.eye(2**n)[0].astype(complex)
    theta = params.reshape(layers, n, 2)
    measured = np.zeros(model.num_params)
    for layer in range(layers):
        if encoding == "reupload" and layer > 0:
            state = encode @ state
        for r, (pauli, gate) in enumerate(((y, ry), (z, rz))):
            for q in range(n):
                sigma = _kron([pauli if k == q else eye for k in range(n)])
                value = np.real(np.conj(state) @ sigma @ state)
                measured[layer * 2 * n + 2 * q + r] = 1.0 - value**2
            state = _kron([gate(theta[layer, q, r]) for q in range(n)]) @ state
        state = model.ansatz.entangler_matrix @ state
    np.testing.assert_allclose(measured, exact, atol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    samples=st.lists(st.integers(0, 50), min_size=1, max_size=6),
    shots=st.integers(1, 5000),
    slowdown=st.floats(0.1, 10.0),
)
def test_compute_time_is_linear_in_samples_and_shots(
    samples: list[int], shots: int, slowdown: float
) -> None:
    ansatz, times = Ansatz(n_qubits=3, layers=2), GateTimes()
    n = np.array(samples)
    base = compute_times(ansatz, times, n, shots=shots, qfi=True, slowdown=slowdown)
    assert np.all(base >= 0)
    np.testing.assert_allclose(
        compute_times(ansatz, times, 2 * n, shots=shots, qfi=True, slowdown=slowdown), 2 * base
    )
    more = compute_times(ansatz, times, n, shots=shots + 1, qfi=True, slowdown=slowdown)
    assert np.all(more >= base)
    cheaper = compute_times(ansatz, times, n, shots=shots, qfi=False, slowdown=slowdown)
    assert np.all(cheaper <= base)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"single_qubit_s": 0.0}, "compute.single_qubit_gate_s = 0.0: must be a finite number > 0"),
        ({"two_qubit_s": -1.0}, "compute.two_qubit_gate_s = -1.0: must be a finite number > 0"),
        ({"reset_s": float("nan")}, "compute.reset_s = nan"),
        ({"measurement_s": "1us"}, "compute.measurement_s = '1us'"),
    ],
)
def test_bad_gate_times_are_named(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        GateTimes(**kwargs)  # type: ignore[arg-type]


def test_bad_compute_inputs_are_named() -> None:
    ansatz, times = Ansatz(), GateTimes()
    with pytest.raises(ValueError, match="samples: must be a 1-D array of integers"):
        compute_times(ansatz, times, np.array([1.5]), shots=1, qfi=False)
    with pytest.raises(ValueError, match="shots = 0: must be integers >= 1"):
        compute_times(ansatz, times, np.array([1]), shots=0, qfi=False)
    with pytest.raises(ValueError, match=r"compute\.slowdown"):
        compute_times(ansatz, times, np.array([1]), shots=1, qfi=False, slowdown=-1.0)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"two_qubit_gate_s": 0},
            r"compute.two_qubit_gate_s = 0: must be a number in \(0, 1e\+06\]",
        ),
        ({"shots": 0}, "compute.shots = 0"),
        ({"qfi_circuits": "yes"}, "compute.qfi_circuits = 'yes': must be true or false"),
        ({"slowdown": [2.0, 1.0]}, "compute.slowdown = .*low <= high"),
        ({"slowdown": 0}, r"compute.slowdown = 0: every value must be in \(0"),
    ],
)
def test_compute_section_is_validated(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict({"compute": section})


def _config(**schedule: object) -> object:
    return from_dict(
        {
            "nodes": {"count": 6},
            "noise": {"shots": [100, 100, 100, 200, 200, 200]},
            "compute": {"slowdown": [1.0, 2.0]},
            "schedule": {"ready": "compute", "round_period_s": 10.0, "window_s": 0.1, **schedule},
        }
    )


def test_ready_times_follow_shards_shots_and_slowdowns() -> None:
    config = _config()
    scenario = build_scenario(config, 3)  # type: ignore[arg-type]
    ready = ready_times(scenario)
    samples = np.array([y.shape[0] for _, y in scenario.shards])
    shots = np.array([100, 100, 100, 200, 200, 200])
    # n = 4, L = 3, CNOT ring at the default gate times (closed form as above).
    forward = 2e-6 + 7 * 5e-8 + 12 * 3e-7
    qfi = sum(2e-6 + (2 + 2 * layer) * 5e-8 + 4 * layer * 3e-7 for layer in range(3)) * 2
    unit = shots * (49 * forward + qfi)
    slowdown = ready / (samples * unit)
    # The slowdowns are log-uniform in [1, 2], one per node, not all alike.
    assert np.all((slowdown >= 1.0) & (slowdown <= 2.0))
    assert np.ptp(slowdown) > 0.05
    # The demand of the network takes the compute times as its ready times.
    demand = demand_of(config.schedule, config.nodes.count, 3, ready_s=ready_times_of(config, 3))
    np.testing.assert_array_equal(demand.ready_s, ready)
    # Reproducible per seed, and another seed draws other slowdowns.
    np.testing.assert_array_equal(ready_times(build_scenario(config, 3)), ready)  # type: ignore[arg-type]
    other = build_scenario(config, 4)  # type: ignore[arg-type]
    other_samples = np.array([y.shape[0] for _, y in other.shards])
    assert not np.allclose(ready_times(other) / (other_samples * unit), slowdown)


def test_without_qfi_circuits_or_with_exact_shots() -> None:
    base = {"nodes": {"count": 4}, "noise": {"shots": None}}
    exact = build_scenario(from_dict({**base, "compute": {"shots": 300}}), 0)
    samples = np.array([y.shape[0] for _, y in exact.shards])
    forward = 2e-6 + 7 * 5e-8 + 12 * 3e-7
    qfi = sum(2e-6 + (2 + 2 * layer) * 5e-8 + 4 * layer * 3e-7 for layer in range(3)) * 2
    np.testing.assert_allclose(ready_times(exact), samples * 300 * (49 * forward + qfi))
    plain = build_scenario(from_dict({**base, "compute": {"qfi_circuits": False}}), 0)
    np.testing.assert_allclose(ready_times(plain), samples * 1000 * 49 * forward)


def test_a_round_too_short_for_the_compute_is_a_clear_error() -> None:
    config = _config(round_period_s=0.01, window_s=0.005)
    ready = ready_times_of(config, 0)  # type: ignore[arg-type]
    assert ready is not None
    with pytest.raises(ConfigError, match=r"schedule.round_period_s = 0.01: node \d+'s update"):
        demand_of(config.schedule, config.nodes.count, 0, ready_s=ready)
    with pytest.raises(ConfigError, match="needs the nodes' compute times"):
        demand_of(config.schedule, config.nodes.count, 0)


def test_uniform_ready_times_need_no_scenario() -> None:
    config = from_dict({"nodes": {"count": 4}})
    assert ready_times_of(config, 0) is None


def test_per_node_arrays_must_match_the_nodes() -> None:
    ansatz, times = Ansatz(), GateTimes()
    with pytest.raises(ValueError, match=r"shots has shape \(2,\): must be one value or one per"):
        compute_times(ansatz, times, np.array([1, 2, 3]), shots=np.array([10, 20]), qfi=False)
    with pytest.raises(ValueError, match=r"compute\.slowdown has shape \(2,\)"):
        compute_times(ansatz, times, np.array([1, 2, 3]), shots=5, qfi=False, slowdown=[1, 2])


def test_compute_errors_name_where_the_demand_was_written() -> None:
    from qceas.training.key_supply import check_ready_times

    raw = {
        "nodes": {"count": 4},
        "noise": {"shots": 5000},
        "training": {"strategies": ["ceas"]},
        "security": {"key_source": "network"},
        "schedule": {"ready": "compute", "round_period_s": 0.5, "window_s": 0.1},
    }
    with pytest.raises(ConfigError, match=r"^schedule\.round_period_s = 0\.5: node"):
        check_ready_times(from_dict(raw), [0])
    keyed = {
        **raw,
        "schedule": {},
        "security": {"key_source": "network", "key_schedule": {"ready": "compute"}},
    }
    with pytest.raises(ConfigError, match=r"^security\.key_schedule\.round_period_s = 0\.02"):
        check_ready_times(from_dict(keyed), [0])
    # Without a strategy that draws keys from the network, the key demand is not checked.
    check_ready_times(from_dict({**keyed, "training": {"strategies": ["fedavg"]}}), [0])
