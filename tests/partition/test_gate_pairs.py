"""Model-level and hybrid partitions in training: the pairs behind teleported gates.

Oracles: the data-level run (perfect pairs change nothing), a direct evaluation with
the block error of :mod:`qceas.qnn.partition` (the trainer applies exactly that), the
closed-form demand counts; properties: reproducibility, the ranges of what is
recorded, and the scheduler ordering where pairs must wait; bad input through the
config.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.config import ConfigError, ExperimentConfig, from_dict
from qceas.experiments import run_experiment
from qceas.experiments.report import write_report
from qceas.network.context import make_context
from qceas.network.demand import Demand
from qceas.network.simulation import simulate
from qceas.network.topology import network_from_graph, star
from qceas.partition import (
    GatePairs,
    ansatz_of,
    executions_per_round,
    replica_partition,
    scheme_of,
)
from qceas.qnn.partition import Partition, pairs_per_execution, teleported_block
from qceas.qnn.readout import class_probabilities, loss_and_cotangent
from qceas.qnn.timing import GateTimes, sample_cost
from qceas.scheduling import SCHEDULERS, CEASScheduler, LinkClass
from qceas.training.scenario import build_scenario
from qceas.training.trainer import Trainer


def _gate_pairs(
    cfg: ExperimentConfig, replicas: int, seed: int, scheduler: str, rng: np.random.Generator
) -> GatePairs:
    return GatePairs(cfg.model, cfg.partition, cfg.training.rounds, replicas, seed, scheduler, rng)


def _raw(**partition: Any) -> dict[str, Any]:
    return {
        "name": "split",
        "model": {"n_qubits": 4, "layers": 2},
        "data": {"dataset": "iris", "max_samples": 60},
        "nodes": {"count": 3},
        "noise": {"depolarizing": 0.02},
        "training": {"rounds": 3, "strategies": ["fedavg"], "batch_size": 4},
        "partition": partition,
    }


def test_perfect_pairs_train_exactly_like_the_data_level_partition() -> None:
    data = from_dict(_raw())
    split = from_dict(_raw(qpus_per_replica=2, pair_fidelity=1.0))
    assert scheme_of(data.partition, data.nodes.count) == "data"
    assert scheme_of(split.partition, split.nodes.count) == "hybrid"
    a = Trainer(build_scenario(data, 0), "qfi").run(3)
    b = Trainer(build_scenario(split, 0), "qfi").run(3)
    for x, y in zip(a, b, strict=True):
        assert x.test_accuracy == y.test_accuracy
        np.testing.assert_allclose(x.node_loss, y.node_loss, atol=1e-12)
        np.testing.assert_allclose(x.node_qfi, y.node_qfi, atol=1e-10)
    assert np.isnan(a[1].gate_fidelity)
    assert (b[1].gate_fidelity, b[1].gate_shots_met) == (1.0, 1.0)


@pytest.mark.parametrize("fidelity", [0.95, 0.7, 0.4])
def test_the_trainer_applies_the_teleported_block_of_the_pair_fidelity(fidelity: float) -> None:
    cfg = from_dict(_raw(qpus_per_replica=2, pair_fidelity=fidelity))
    sc = build_scenario(cfg, 0)
    trainer = Trainer(sc, "fedavg")
    # The trainer draws its minibatch first: draw the same one here.
    trainer.rng = np.random.default_rng(0)
    batch = trainer._batch()
    trainer.rng = np.random.default_rng(0)
    rng = np.random.default_rng(0)
    record = trainer.step()
    block = teleported_block(sc.model.ansatz, Partition.contiguous(4, 2), fidelity)
    direct = sc.model.evaluate_nodes(
        sc.initial_params, batch, sc.noises, rng=rng, blocks=[block] * sc.n_nodes
    )
    np.testing.assert_allclose(record.node_loss, direct.loss, atol=1e-12)
    assert record.gate_fidelity == pytest.approx(fidelity)


@settings(max_examples=15, deadline=None)
@given(
    n=st.integers(2, 6),
    m=st.integers(2, 6),
    layers=st.integers(1, 3),
    topology=st.sampled_from(["ring", "linear"]),
    samples=st.integers(1, 5),
    shots=st.integers(1, 300),
    qfi=st.booleans(),
)
def test_demand_counts_match_their_closed_forms(
    n: int, m: int, layers: int, topology: str, samples: int, shots: int, qfi: bool
) -> None:
    m = min(m, n)
    cfg = from_dict(
        {
            "model": {"n_qubits": n, "layers": layers, "topology": topology},
            "compute": {"qfi_circuits": qfi},
            "partition": {"qpus_per_replica": m, "pair_fidelity": 0.9},
        }
    )
    # The circuits a sample needs, as qceas.qnn.timing prices them: one overhead each.
    ansatz = ansatz_of(cfg.model)
    _, overhead = sample_cost(ansatz, GateTimes(circuit_overhead_s=1.0), qfi=qfi)
    runs = executions_per_round(cfg.model, samples, shots, qfi=qfi)
    assert runs == samples * shots * round(overhead)
    # Contiguous blocks: a chain crosses m − 1 boundaries, a ring (n > 2) m of them
    # (two QPUs on a ring: both crossings join the same pair of QPUs).
    per_link = pairs_per_execution(
        ansatz_of(cfg.model), replica_partition(cfg.model, cfg.partition)
    )
    crossings = m - 1 if topology == "linear" or n == 2 else m
    assert sum(per_link.values()) == crossings * layers


def _network_cfg(**extra: Any) -> dict[str, Any]:
    raw = _raw(
        qpus_per_replica=2,
        pair_fidelity="network",
        coherence_time_s=0.05,
        initial_fidelity=0.97,
        shot_period_s=0.04,
        cycles_per_round=5,
        **extra,
    )
    raw["nodes"] = {"count": 2}
    # A chain split in two: one gate per layer crosses, k = 2 pairs per shot, small
    # enough for CEAS's exact MDP to see the whole shot cycle (see the module docstring).
    raw["model"] = {**raw["model"], "topology": "linear"}
    return raw


def test_network_pairs_are_reproducible_and_recorded_in_range() -> None:
    cfg = from_dict(_network_cfg())
    sc = build_scenario(cfg, 0)
    first = Trainer(sc, "fedavg").run(3)
    again = Trainer(sc, "fedavg").run(3)
    fid = [r.gate_fidelity for r in first[1:]]
    assert fid == [r.gate_fidelity for r in again[1:]]
    assert all(0.25 < f < 0.97 for f in fid)  # decayed below the fresh 0.97, not mixed
    assert all(0.0 < r.gate_shots_met <= 1.0 for r in first[1:])


def test_ceas_spends_fresher_gate_pairs_than_the_oblivious_scheduler() -> None:
    """Where a shot cycle is twice as long as it takes to make the pairs, oblivious
    generation leaves them decaying in memory; CEAS generates just in time."""
    cfg = from_dict(_network_cfg())
    fidelity = {}
    for scheduler in ("ceas", "oblivious"):
        pairs = _gate_pairs(cfg, 2, 0, scheduler, np.random.default_rng(3))
        rounds = [pairs.next_round() for _ in range(3)]
        fidelity[scheduler] = np.mean([r.fidelity for r in rounds])
        assert all(np.all(r.met > 0.5) for r in rounds)
    assert fidelity["ceas"] > fidelity["oblivious"] + 0.1, fidelity


def _one_link(**params: Any) -> Any:
    """A 10 m link between one QPU and the star's centre, fresh pairs of fidelity 0.9."""
    return network_from_graph(
        star(1, link_length_km=0.01), rng=np.random.default_rng(0), initial_fidelity=0.9, **params
    )


def test_gate_pairs_meet_demand_whatever_their_fidelity() -> None:
    """``use = 'gate'``: a decayed pair still runs its gate, where a key pair aborts."""
    net = _one_link(efficiency=0.5, coherence_time_s=0.002, memory_slots=2)
    demand = Demand(pairs=1, period_s=0.02, rounds=20, ready_s=np.array([0.015]), window_s=0.005)
    met = {}
    for use in ("key", "gate"):
        ctx = make_context(net, demand, slot_s=1e-3, use=use)
        result = simulate(ctx, SCHEDULERS.get("oblivious"), rng=np.random.default_rng(0))
        met[use] = int(result.met.sum())
    assert met["gate"] == 20
    assert met["key"] < met["gate"]
    with pytest.raises(ValueError, match="use = 'qkd': must be one of key, gate"):
        make_context(net, demand, slot_s=1e-3, use="qkd")


def test_the_gate_utility_values_a_pair_by_its_werner_parameter() -> None:
    link = LinkClass(0.3, 0.95, 10.0, 1e-3, memory=2, demand=2, horizon=20, window=2)
    gate = LinkClass(
        0.3, 0.95, 10.0, 1e-3, memory=2, demand=2, horizon=20, window=2, utility="gate"
    )
    ages = np.arange(40)
    np.testing.assert_allclose(gate.value(ages), (4 * gate.fidelity(ages) - 1) / 3)
    np.testing.assert_allclose(link.value(ages), link.key_bits(ages))
    assert gate.penalty == pytest.approx((4 * 0.95 - 1) / 3)
    assert np.all(gate.value(ages) > 0)  # no pair is worthless before it is fully mixed
    with pytest.raises(ValueError, match="utility = 'fun': must be one of key, gate"):
        LinkClass(0.3, 0.95, 10.0, 1e-3, memory=2, demand=2, horizon=20, window=2, utility="fun")
    with pytest.raises(ValueError, match=r"utility = 'fun'"):
        CEASScheduler(utility="fun")


@pytest.mark.parametrize(
    ("partition", "model", "message"),
    [
        (
            {"qpus_per_replica": 2, "capacity": 1},
            {},
            r"partition: QPU 0 holds 2 qubits \[0, 1\] but its capacity is 1",
        ),
        (
            {"qpus_per_replica": 3, "links": [[0, 1]], "pair_fidelity": 0.9},
            {"n_qubits": 3},
            "gate CNOT\\(1, 2\\) joins QPU 1 and QPU 2, which have no route",
        ),
        (
            {"qpus_per_replica": 3, "links": [[0, 1], [1, 2]]},
            {"n_qubits": 3},
            "partition.links: gate CNOT\\(2, 0\\) joins QPU 2 and QPU 0, which share no direct",
        ),
        (
            {"qpus_per_replica": 5},
            {},
            "partition.qpus_per_replica = 5: more QPUs than the model's 4 qubits",
        ),
        (
            {"qpus_per_replica": 2, "qpu_of": [0, 1, 1]},
            {},
            "partition.qpu_of has 3 entries: must give one QPU per qubit",
        ),
        (
            {"qpus_per_replica": 3, "qpu_of": [0, 1, 1, 1]},
            {},
            "partition.qpu_of = \\[0, 1, 1, 1\\]: uses QPUs \\[0, 1\\], but qpus_per_replica = 3",
        ),
        (
            {"qpus_per_replica": 2, "memory_slots": 2},
            {},
            "partition.memory_slots = 2: a shot needs the 4 pairs of link QPU 0–QPU 1",
        ),
        (
            {"qpus_per_replica": 2, "shot_period_s": 0.005},
            {},
            "partition.shot_period_s = 0.005: a link makes about 449.8 pairs/s",
        ),
        ({"pair_fidelity": 1.2}, {}, "partition.pair_fidelity = 1.2: must be a fidelity in"),
        ({"pair_fidelity": "1e-3"}, {}, "YAML read 1e-3 as text"),
        (
            {"qpus_per_replica": 2, "links": [[0, 2]]},
            {},
            r"partition.links\[0\] = \[0, 2\]: must be two different QPU indices in \[0, 1\]",
        ),
        ({"scheduler": "fifo"}, {}, "partition.scheduler = 'fifo': must be one of"),
        (
            {"qpus_per_replica": 2, "slot_s": 0.03},
            {},
            "partition.slot_s = 0.03: must be <= shot_period_s = 0.02",
        ),
    ],
)
def test_bad_partitions_are_config_errors_that_name_the_rule(
    partition: dict[str, Any], model: dict[str, Any], message: str
) -> None:
    raw = _raw(**partition)
    raw["model"] = {**raw["model"], **model}
    with pytest.raises(ConfigError, match=message):
        from_dict(raw)


def test_bad_scheduler_options_for_gate_pairs_name_the_field() -> None:
    raw = _raw(qpus_per_replica=2, scheduler_params={"ceas": {"pair_cost": -1}})
    with pytest.raises(ConfigError, match=r"partition\.scheduler_params\.ceas\.pair_cost = -1"):
        from_dict(raw)


def test_hardware_test_accuracy_is_the_ideal_one_on_perfect_hardware() -> None:
    raw = _raw(qpus_per_replica=2, pair_fidelity=1.0)
    raw["noise"] = {}
    raw["training"]["test_on_hardware"] = True
    records = Trainer(build_scenario(from_dict(raw), 0), "fedavg").run(2)
    for r in records[1:]:
        assert r.hardware_test_accuracy == r.test_accuracy
        assert r.hardware_test_loss == pytest.approx(r.test_loss, abs=1e-12)


def test_hardware_test_accuracy_runs_the_split_noisy_circuit() -> None:
    raw = _raw(qpus_per_replica=2, pair_fidelity=0.6)
    raw["training"]["test_on_hardware"] = True
    sc = build_scenario(from_dict(raw), 0)
    trainer = Trainer(sc, "fedavg")
    record = trainer.step()
    block = teleported_block(sc.model.ansatz, Partition.contiguous(4, 2), 0.6)
    expect = sc.model.expectations(
        trainer.params, sc.dataset.x_test, noise=sc.noises[0], block=block
    )
    probs = class_probabilities(expect, sc.model.readout, sc.model.output_scale)
    accuracy = np.mean(np.argmax(probs, axis=1) == sc.dataset.y_test)
    # Every node has the same noise and pairs here, so the mean is any node's figure.
    assert record.hardware_test_accuracy == pytest.approx(accuracy)
    assert np.isnan(trainer.initial_record().hardware_test_accuracy)


def test_each_link_decays_at_the_sum_of_its_two_qpus_rates() -> None:
    raw = _network_cfg()
    raw["partition"]["coherence_time_s"] = [0.01, 1.0]
    cfg = from_dict(raw)
    (group,) = GatePairs.contexts(
        cfg.model, cfg.partition, cfg.training.rounds, n_replicas=2, seed=7
    )
    rng = np.random.default_rng([7, 105])  # the links' stream: QPU memories drawn first
    times = np.exp(rng.uniform(np.log(0.01), np.log(1.0), size=4))
    expected = [1 / times[2 * g + a] + 1 / times[2 * g + b] for g, (a, b) in group.flows]
    np.testing.assert_allclose(group.context.flow_rate, expected, rtol=1e-9)
    assert len(set(np.round(expected, 6))) == 2  # two replicas, two different links


def test_replicas_of_three_qpus_with_unequal_links() -> None:
    """Chain 0-1-2-3 on QPUs [0, 1, 0, 2]: link 0-1 carries two gates per layer, link
    0-2 one, so the links are simulated in two groups (k = 4 and k = 2)."""
    raw = _network_cfg(qpu_of=[0, 1, 0, 2])
    raw["partition"]["qpus_per_replica"] = 3
    cfg = from_dict(raw)
    pairs = _gate_pairs(cfg, 2, 0, "oblivious", np.random.default_rng(0))
    assert [g.pairs_per_shot for g, _ in pairs._groups] == [2, 4]
    gates = pairs.next_round()
    assert len(gates.blocks) == 2
    assert np.all((gates.fidelity > 0.25) & (gates.fidelity < 0.97))
    # The block is the teleported block of the links' own fidelities, gate by gate.
    link_f = {key[1]: pairs._last[key] for key in pairs._last if key[0] == 0}
    direct = teleported_block(
        pairs.ansatz, pairs.partition, [link_f[(0, 1)], link_f[(0, 1)], link_f[(0, 2)]]
    )
    np.testing.assert_allclose(
        gates.blocks[0].transfer_diagonal, direct.transfer_diagonal, atol=1e-12
    )


def test_a_replica_without_a_complete_shot_keeps_its_last_gate_fidelity() -> None:
    raw = _network_cfg()
    raw["partition"]["cycles_per_round"] = 1
    raw["partition"]["efficiency"] = 0.0095  # k/rate = 0.0443 s for a 0.045 s cycle
    raw["partition"]["shot_period_s"] = 0.045
    raw["training"]["rounds"] = 30
    cfg = from_dict(raw)
    pairs = _gate_pairs(cfg, 2, 0, "oblivious", np.random.default_rng(1))
    rounds = [pairs.next_round() for _ in range(30)]
    met = np.array([r.met for r in rounds])
    assert np.any(met == 0)
    assert np.any(met == 1)
    for before, now in itertools.pairwise(rounds):
        for g in range(2):
            if now.met[g] == 0:
                assert now.fidelity[g] == before.fidelity[g]


def test_a_shot_spends_its_pairs_only_all_together() -> None:
    """Gate demand is all-or-nothing per round: with 2 pairs per shot a link spends 0
    or 2, and pairs short of a shot stay in memory for the next."""
    net = _one_link(efficiency=0.03, coherence_time_s=1.0, memory_slots=np.array([2, 4]))
    demand = Demand(pairs=2, period_s=0.005, rounds=200, ready_s=np.array([0.0045]), window_s=5e-4)
    ctx = make_context(net, demand, slot_s=5e-4, use="gate")
    result = simulate(ctx, SCHEDULERS.get("oblivious"), rng=np.random.default_rng(0))
    spent = result.met[:, 0]
    assert set(spent.tolist()) == {0, 2}


def test_hardware_accuracy_is_the_mean_over_the_nodes_own_circuits() -> None:
    raw = _raw(qpus_per_replica=2, pair_fidelity=0.8)
    raw["noise"] = {"depolarizing": [0.0, 0.1, 0.3]}
    raw["training"]["test_on_hardware"] = True
    sc = build_scenario(from_dict(raw), 0)
    trainer = Trainer(sc, "fedavg")
    record = trainer.step()
    block = teleported_block(sc.model.ansatz, Partition.contiguous(4, 2), 0.8)
    accuracies, losses = [], []
    for noise in sc.noises:
        expect = sc.model.expectations(trainer.params, sc.dataset.x_test, noise=noise, block=block)
        loss, _ = loss_and_cotangent(
            expect, sc.dataset.y_test, sc.model.readout, sc.model.output_scale
        )
        probs = class_probabilities(expect, sc.model.readout, sc.model.output_scale)
        accuracies.append(np.mean(np.argmax(probs, axis=1) == sc.dataset.y_test))
        losses.append(loss.mean())
    assert len(set(losses)) == 3  # the nodes differ, so the mean is a real mean
    assert record.hardware_test_loss == pytest.approx(np.mean(losses), abs=1e-12)
    assert record.hardware_test_accuracy == pytest.approx(np.mean(accuracies))


def test_a_split_run_writes_its_gate_figures_to_tables_summary_and_report(
    tmp_path: Path,
) -> None:
    raw = _network_cfg()
    raw["training"] = {"rounds": 2, "strategies": ["fedavg"], "test_on_hardware": True}
    outcome = run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    with (tmp_path / "metrics.csv").open() as table:
        row = next(csv.DictReader(table))
    assert {"gate_fidelity", "gate_shots_met", "hardware_test_accuracy"} <= set(row)
    entry = outcome.summary["strategies"]["fedavg"]
    assert 0.25 < entry["gate_fidelity"]["mean"] < 0.97
    assert 0.0 <= entry["final_hardware_accuracy"]["mean"] <= 1.0
    html = write_report(tmp_path).read_text()
    assert "gate pair F" in html


@pytest.mark.parametrize(
    ("strategy", "scheduler"),
    [
        ("ceas", "ceas"),
        ("ceas-no-sched", "oblivious"),
        ("fedavg", "greedy"),
        ("oblivious", "oblivious"),
    ],
)
def test_each_strategy_schedules_its_gate_pairs(strategy: str, scheduler: str) -> None:
    raw = _network_cfg(scheduler="greedy")
    trainer = Trainer(build_scenario(from_dict(raw), 0), strategy)
    assert trainer.gate_pairs is not None
    assert trainer.gate_pairs.scheduler == scheduler
