"""Key supplies: the fixed and the network supply hand distillation the pair fidelities
the transport computed before key supply was one object, outages cut them, and the
supply is chosen by the strategy and the config."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from qceas.attacks import intercept_resend_qber
from qceas.attacks.adversary import Adversary
from qceas.config import AdversaryConfig, SecurityConfig, from_dict
from qceas.physics import qber
from qceas.training import Trainer, build_scenario
from qceas.training.key_supply import (
    FixedKeySupply,
    NetworkKeySupply,
    key_scheduler,
    key_supply_of,
    network_simulation,
)
from qceas.training.strategies import STRATEGIES

NETWORK: dict[str, Any] = {
    "model": {"n_qubits": 3, "layers": 1},
    "nodes": {"count": 4},
    "training": {"rounds": 3, "strategies": ["ceas"]},
    "security": {"key_source": "network", "scheduler": "ceas"},
    "network": {"topology": "star", "link_length_km": 10.0, "coherence_time_s": 0.05},
    "schedule": {"pairs_per_round": 60, "round_period_s": 0.05, "window_s": 0.04},
}


def _adversary(eavesdrop: float) -> Adversary:
    return Adversary(AdversaryConfig(eavesdrop=eavesdrop), 4, 0, rng=np.random.default_rng(0))


@pytest.mark.parametrize("fidelity", [0.25, 0.7, 0.9, 0.95, 0.99, 1.0])
@pytest.mark.parametrize("eavesdrop", [0.0, 0.05, 0.3, 1.0])
def test_the_fixed_supply_gives_the_old_round_trip_through_the_qber(
    fidelity: float, eavesdrop: float
) -> None:
    security = SecurityConfig(pairs_per_round=7, link_fidelity=fidelity)
    supply = FixedKeySupply(security, 4, _adversary(eavesdrop))
    # What the transport computed for a fixed supply, verbatim: also at q = 0 the
    # fidelity goes through the QBER and back.
    e_eve = float(intercept_resend_qber(float(qber(fidelity)), eavesdrop))
    old = min(1.0, max(0.25, 1.0 - 1.5 * e_eve))
    pairs = supply.pairs()
    assert len(pairs) == 4
    for f in pairs:
        assert f.shape == (7,)
        assert np.all(f == old)
    assert supply.result() is None


def test_the_fixed_supply_gives_a_dark_node_no_pairs_until_its_link_is_back() -> None:
    supply = FixedKeySupply(SecurityConfig(pairs_per_round=5), 4, _adversary(0.0))
    supply.apply_faults(np.array([False, True, False, True]))
    assert [f.size for f in supply.pairs()] == [5, 0, 5, 0]
    assert [f.size for f in supply.pairs()] == [5, 0, 5, 0]  # until the faults change
    supply.apply_faults(np.zeros(4, dtype=bool))
    assert [f.size for f in supply.pairs()] == [5, 5, 5, 5]


@pytest.mark.parametrize("eavesdrop", [0.0, 0.2])
def test_the_network_supply_hands_on_the_simulations_pairs(eavesdrop: float) -> None:
    raw = {**NETWORK, "adversary": {"eavesdrop": eavesdrop}}
    scenario = build_scenario(from_dict(raw), 0)
    supply = NetworkKeySupply(network_simulation(scenario, "ceas", "ceas"), _adversary(eavesdrop))
    twin = network_simulation(scenario, "ceas", "ceas")  # the same stream, run by hand
    for _ in range(3):
        pairs = supply.pairs()
        raw_pairs = twin.run_round().fidelities
        assert len(pairs) == len(raw_pairs) == 4
        for got, f in zip(pairs, raw_pairs, strict=True):
            if eavesdrop == 0:
                np.testing.assert_array_equal(got, f)  # untouched: no round trip
            else:  # what the transport computed for network pairs, verbatim
                e = intercept_resend_qber(np.asarray(qber(f)), eavesdrop)
                np.testing.assert_array_equal(
                    got, np.clip(1.0 - 1.5 * np.asarray(e, dtype=float), 0.25, 1.0)
                )
    assert supply.result() is not None


def test_the_network_supply_cuts_a_dark_nodes_access_link_and_learns_the_weights() -> None:
    scenario = build_scenario(from_dict(NETWORK), 0)
    supply = NetworkKeySupply(network_simulation(scenario, "ceas", "ceas"), _adversary(0.0))
    supply.apply_faults(np.array([False, False, True, False]))
    pairs = supply.pairs()
    assert pairs[2].size == 0
    assert all(pairs[k].size > 0 for k in (0, 1, 3))
    net = supply.simulation.context.network
    down = supply.simulation._state.link_down
    assert down.sum() == 1
    assert down[net.routes[2][0]]
    before = supply.simulation._state.importance.copy()
    supply.observe(np.zeros(4))  # nobody got weight (a skipped round): nothing changes
    np.testing.assert_array_equal(supply.simulation._state.importance, before)
    supply.observe(np.array([0.1, 0.2, 0.0, 0.7]))
    np.testing.assert_allclose(supply.simulation._state.importance, [0.1, 0.2, 0.0, 0.7])


def test_the_supply_follows_the_strategy_and_the_key_source() -> None:
    net_cfg = from_dict(NETWORK)
    fixed_cfg = from_dict({**NETWORK, "security": {"key_source": "fixed"}})
    adv = _adversary(0.0)
    for cfg, kind in ((net_cfg, NetworkKeySupply), (fixed_cfg, FixedKeySupply)):
        scenario = build_scenario(cfg, 0)
        assert isinstance(key_supply_of(scenario, "ceas", STRATEGIES.get("ceas"), adv), kind)
        assert key_supply_of(scenario, "fedavg", STRATEGIES.get("fedavg"), adv) is None
    greedy = from_dict({**NETWORK, "security": {**NETWORK["security"], "scheduler": "greedy"}})
    assert key_scheduler(STRATEGIES.get("ceas"), greedy) == "greedy"  # the config's
    assert key_scheduler(STRATEGIES.get("ceas-no-sched"), greedy) == "oblivious"  # its own


def test_a_trainers_key_fidelity_is_the_supplys() -> None:
    raw = {**NETWORK, "security": {"key_source": "fixed", "pairs_per_round": 300}}
    raw["adversary"] = {"eavesdrop": 0.05}
    trainer = Trainer(build_scenario(from_dict(raw), 0), "ceas")
    assert isinstance(trainer.key_supply, FixedKeySupply)
    records = trainer.run(2)
    for r in records[1:]:
        assert r.key_pairs == 4 * 300
        assert r.key_fidelity == pytest.approx(trainer.key_supply.fidelity, abs=1e-12)
