"""Keys from the simulated network: each node distills what it actually received."""

from __future__ import annotations

import numpy as np
import pytest

from qceas.config import ConfigError, from_dict
from qceas.network import Demand, Simulation, build_network, make_context, simulate
from qceas.network.ledger import FATE
from qceas.scheduling import SCHEDULERS
from qceas.training import build_scenario
from qceas.training.key_supply import NetworkKeySupply
from qceas.training.trainer import Trainer

BASE = {
    "name": "network-keys",
    "model": {"n_qubits": 3, "layers": 1},
    "nodes": {"count": 4},
    "training": {"rounds": 3, "strategies": ["ceas"]},
    "security": {"key_source": "network", "scheduler": "ceas", "sample_fraction": 0.1},
    "network": {
        "topology": "star",
        "link_length_km": 10.0,
        "initial_fidelity": 0.95,
        "coherence_time_s": 1.0,
    },
    "schedule": {
        "pairs_per_round": 600,
        "round_period_s": 0.5,
        "window_s": 0.45,
        "ready_fraction": [0.0, 0.1],
        "slot_s": 0.001,
    },
}


def _run(raw: dict, strategy: str = "ceas") -> tuple[Trainer, list]:
    config = from_dict(raw)
    trainer = Trainer(build_scenario(config, 0), strategy)
    return trainer, trainer.run(config.training.rounds)


def test_nodes_distill_keys_from_the_pairs_the_network_delivered() -> None:
    trainer, records = _run(BASE)
    result = trainer.network_result()
    assert result is not None
    ledger = result.ledger
    consumed = np.isin(ledger.e2e["fate"], [FATE["consumed"], FATE["aborted"]])
    assert sum(r.key_pairs for r in records) == int(consumed.sum())
    for r in records[1:]:
        assert r.key_pairs == 4 * 600  # good links, long memories: every demand met
        assert r.key_fidelity == pytest.approx(0.95, abs=1e-3)
        assert r.refused_no_key == 0
        assert r.aborted_keys == 0


def test_a_network_that_cannot_deliver_leaves_nodes_without_keys() -> None:
    """Pairs that decay in microseconds (T = 10 µs), a 5 ms window far too short to
    generate 600 pairs in, and a fidelity-blind scheduler that fills memory before the
    window and uses the stale pairs first: batches abort or fall short of a message's
    key, and honest updates are refused."""
    raw = {
        **BASE,
        "network": {**BASE["network"], "coherence_time_s": 1.0e-5},
        "security": {**BASE["security"], "scheduler": "oblivious"},
        "schedule": {**BASE["schedule"], "window_s": 0.005, "ready_fraction": [0.5, 0.6]},
    }
    _, records = _run(raw)
    assert sum(r.refused_no_key for r in records) > 0
    assert sum(r.aborted_keys for r in records) > 0


def test_network_keys_are_reproducible_and_leave_unauthenticated_runs_alone() -> None:
    _, first = _run(BASE)
    _, again = _run(BASE)
    assert repr(first) == repr(again)  # repr: NaN fields compare equal
    trainer, _ = _run({**BASE, "training": {"rounds": 1, "strategies": ["fedavg"]}}, "fedavg")
    assert trainer.key_supply is None  # fedavg sends unauthenticated: no keys needed


def test_bad_key_source_and_scheduler_are_named() -> None:
    with pytest.raises(ConfigError, match=r"security\.key_source = 'qkd': must be one of"):
        from_dict({"security": {"key_source": "qkd"}})
    with pytest.raises(ConfigError, match=r"security\.scheduler = 'fifo': must be one of"):
        from_dict({"security": {"scheduler": "fifo"}})


def test_round_by_round_simulation_equals_the_whole_run() -> None:
    net = build_network("star", 3, rng=np.random.default_rng(0), coherence_time_s=(0.001, 0.1))
    demand = Demand(pairs=3, period_s=0.005, rounds=4, ready_s=np.full(3, 0.002), window_s=0.002)
    ctx = make_context(net, demand)
    whole = simulate(ctx, SCHEDULERS.get("ceas"), rng=np.random.default_rng(1))
    sim = Simulation(ctx, SCHEDULERS.get("ceas"), rng=np.random.default_rng(1))
    rounds = [sim.run_round() for _ in range(4)]
    stepped = sim.result()
    for key, col in whole.ledger.e2e.items():
        np.testing.assert_array_equal(col, stepped.ledger.e2e[key])
    e2e = whole.ledger.e2e
    used = np.isin(e2e["fate"], [FATE["consumed"], FATE["aborted"]])
    for r in rounds:
        for k, fidelities in enumerate(r.fidelities):
            mine = used & (e2e["round"] == r.round) & (e2e["flow"] == k)
            np.testing.assert_allclose(np.sort(fidelities), np.sort(e2e["fate_fidelity"][mine]))
    with pytest.raises(ValueError, match="all 4 rounds of the demand are done"):
        sim.run_round()


def test_a_strategy_brings_its_own_scheduler() -> None:
    trainer, _ = _run(
        {**BASE, "training": {"rounds": 1, "strategies": ["ceas-no-sched"]}}, "ceas-no-sched"
    )
    assert isinstance(trainer.key_supply, NetworkKeySupply)
    assert trainer.key_supply.simulation.scheduler.name == "oblivious"


def test_the_aggregators_weights_become_the_networks_importance() -> None:
    trainer, records = _run(BASE)
    assert isinstance(trainer.key_supply, NetworkKeySupply)
    np.testing.assert_allclose(
        trainer.key_supply.simulation._state.importance, np.asarray(records[-1].node_weights)
    )


def test_key_schedule_overrides_the_network_study_demand_for_keys_only() -> None:
    raw = {
        **BASE,
        "schedule": {"pairs_per_round": 2, "round_period_s": 0.02, "window_s": 0.002},
        "security": {**BASE["security"], "key_schedule": dict(BASE["schedule"])},
    }
    config = from_dict(raw)
    assert config.schedule.pairs_per_round == 2
    assert config.key_schedule().pairs_per_round == 600
    _, records = _run(raw)
    assert records[-1].key_pairs == 4 * 600
    with pytest.raises(ConfigError, match=r"security\.key_schedule\.pairs: unknown key"):
        from_dict({"security": {"key_schedule": {"pairs": 3}}})
    with pytest.raises(ConfigError, match=r"security\.key_schedule: schedule\.window_s = 2"):
        from_dict({"security": {"key_schedule": {"window_s": 2.0}}})
