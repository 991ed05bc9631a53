"""Injected faults: each type runs to the end, is counted right, and leaves out what it
should; no faults changes nothing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qceas.config import ConfigError, from_dict
from qceas.network.context import make_context
from qceas.network.demand import Demand
from qceas.network.simulation import Simulation
from qceas.network.topology import build_network
from qceas.scheduling import SCHEDULERS
from qceas.training.scenario import build_scenario
from qceas.training.trainer import Trainer


def _raw(**faults: Any) -> dict[str, Any]:
    return {
        "model": {"n_qubits": 3, "layers": 2},
        "data": {"dataset": "iris", "max_samples": 90},
        "nodes": {"count": 10},
        "noise": {"depolarizing": 0.02},
        "training": {"rounds": 6, "strategies": ["fedavg"], "batch_size": 4},
        "faults": faults,
    }


def _run(raw: dict[str, Any], strategy: str = "fedavg") -> tuple[Trainer, list[Any]]:
    trainer = Trainer(build_scenario(from_dict(raw), 0), strategy)
    return trainer, trainer.run(raw["training"]["rounds"])


def test_no_faults_change_nothing() -> None:
    plain = _raw()
    plain.pop("faults")
    _, a = _run(plain)
    _, b = _run(_raw(crash_fraction=0.0, straggler_fraction=0.0))
    assert repr(a) == repr(b)


def test_crashed_nodes_stop_answering_from_their_round() -> None:
    trainer, records = _run(_raw(crash_fraction=0.2, crash_round=3))
    crashing = np.flatnonzero(trainer.faults.crashing)
    assert crashing.size == 2
    assert [r.crashed for r in records[1:]] == [0, 0, 2, 2, 2, 2]
    for r in records[1:]:
        weights = np.asarray(r.node_weights)
        assert (weights[crashing] == 0).all() == (r.round >= 3)
        assert weights.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("probability", [0.0, 0.5, 1.0])
def test_stragglers_miss_the_deadline_with_their_probability(probability: float) -> None:
    raw = _raw(straggler_fraction=0.3, straggler_probability=probability)
    trainer, records = _run(raw)
    stragglers = trainer.faults.stragglers
    assert stragglers.sum() == 3
    for r in records[1:]:
        draws = np.random.default_rng([0, 107, r.round]).random(10)
        late = stragglers & (draws < probability)
        assert r.late == late.sum()
        weights = np.asarray(r.node_weights)
        assert (weights[late] == 0).all()
        assert (weights[~late] > 0).all()
    total = sum(r.late for r in records[1:])
    assert total == {0.0: 0, 1.0: 18}.get(probability, total)


def test_a_link_outage_cuts_the_key_supply_for_its_rounds() -> None:
    raw = _raw(outage_fraction=0.2, outage_start=2, outage_rounds=3)
    raw["security"] = {"pairs_per_round": 500}
    _, records = _run(raw, "ceas")
    assert [r.link_outage for r in records[1:]] == [0, 2, 2, 2, 0, 0]
    assert [r.key_pairs for r in records[1:]] == [5000, 4000, 4000, 4000, 5000, 5000]


def test_a_link_in_outage_makes_no_pairs_in_the_network_simulation() -> None:
    net = build_network(
        "star",
        3,
        rng=np.random.default_rng(0),
        link_length_km=5.0,
        coherence_time_s=1.0,
        memory_slots=[4, 4, 4, 12],  # the aggregator holds every flow's pairs
    )
    demand = Demand(pairs=2, period_s=0.02, rounds=4, ready_s=np.full(3, 0.01), window_s=0.01)
    sim = Simulation(
        make_context(net, demand), SCHEDULERS.get("oblivious"), rng=np.random.default_rng(0)
    )
    down = np.zeros(net.n_links, dtype=bool)
    down[net.routes[1][0]] = True
    sim.set_link_outage(down)
    sim.run_round()
    sim.run_round()
    sim.set_link_outage(np.zeros(net.n_links, dtype=bool))
    sim.run_round()
    sim.run_round()
    # Pairs that met each round's demand, per QPU: QPU 1's link was down for two rounds.
    assert sim.result().met.tolist() == [[2, 0, 2], [2, 0, 2], [2, 2, 2], [2, 2, 2]]
    with pytest.raises(ValueError, match="link outage: \\(2,\\) flags for 3 links"):
        sim.set_link_outage([True, False])


def test_an_aggregator_restart_goes_back_to_its_last_checkpoint() -> None:
    raw = _raw(aggregator_restarts=[6], aggregator_checkpoint_every=3)
    plain = _raw()
    reference, _ = _run({**plain, "training": {**plain["training"], "rounds": 3}})
    trainer = Trainer(build_scenario(from_dict(raw), 0), "fedavg")
    for _ in range(5):
        trainer.step()
    assert not np.allclose(trainer.params, reference.params)
    faults = trainer.faults.round(6)
    assert faults.restart
    assert trainer._apply_faults(faults) == 2  # rounds 4 and 5 are lost
    np.testing.assert_array_equal(trainer.params, reference.params)
    _, records = _run(raw)
    assert [(r.restarted, r.rounds_lost) for r in records[1:]] == [(False, 0)] * 5 + [(True, 2)]


def test_every_strategy_meets_the_same_faults() -> None:
    raw = _raw(crash_fraction=0.2, crash_round=2, straggler_fraction=0.3)
    _, a = _run(raw, "fedavg")
    _, b = _run(raw, "qfi")
    counts = [(r.crashed, r.late, r.link_outage) for r in a[1:]]
    assert counts == [(r.crashed, r.late, r.link_outage) for r in b[1:]]
    assert any(late for _, late, _ in counts)


def test_crashed_nodes_take_no_key_material_and_crashed_attackers_stop() -> None:
    """Seed 1: 7 of 10 nodes crash at round 2, among them 2 of the 3 ALIE nodes; the
    attack runs on what is left (f = 1), and the dead nodes draw no key pairs."""
    raw = _raw(crash_fraction=0.7, crash_round=2)
    raw["adversary"] = {"fraction": 0.3, "attack": "alie"}
    raw["security"] = {"pairs_per_round": 100}
    trainer = Trainer(build_scenario(from_dict(raw), 1), "ceas")
    records = trainer.run(6)
    assert [r.crashed for r in records[1:]] == [0, 7, 7, 7, 7, 7]
    assert [r.key_pairs for r in records[1:]] == [1000, 300, 300, 300, 300, 300]
    byzantine = trainer.adversary.byzantine[:10]
    assert (byzantine & trainer.faults.crashing).sum() == 2
    assert all(np.isfinite(r.test_loss) for r in records)


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ({"crash_fraction": 1.5}, r"faults\.crash_fraction = 1\.5: must be in \[0, 1\]"),
        ({"straggler_probability": -0.1}, r"faults\.straggler_probability = -0\.1"),
        ({"outage_rounds": 0}, r"faults\.outage_rounds = 0: must be an integer in \[1, 1000000\]"),
        ({"aggregator_restarts": [2, 9]}, r"faults\.aggregator_restarts\[1\] = 9: must be a round"),
        ({"aggregator_restarts": 3}, r"faults\.aggregator_restarts = 3: must be a list"),
        ({"crash": 0.1}, r"faults\.crash: unknown key"),
        ({"aggregator_checkpoint_every": 0}, r"faults\.aggregator_checkpoint_every = 0"),
    ],
)
def test_bad_faults_are_config_errors(faults: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict(_raw(**faults))
