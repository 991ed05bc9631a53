"""Schedulers: a contract over every registered policy, and CEAS against its own MDP,
the paper scenario's utilization target and the baselines."""

from __future__ import annotations

import re

import numpy as np
import pytest

from qceas.experiments import resolve
from qceas.network import (
    KEY_FIDELITY_THRESHOLD,
    Demand,
    Network,
    SlotView,
    build_network,
    make_context,
    simulate,
    summarize,
)
from qceas.network.ledger import FATE
from qceas.network.setup import demand_of, network_of, simulation_rng
from qceas.registry import UnknownNameError
from qceas.scheduling import SCHEDULERS, CEASScheduler, LinkClass, route_success, solve


def _context(topology: str, n: int, *, rounds: int = 4, seed: int = 0, **kw):
    rng = np.random.default_rng(seed)
    net = build_network(topology, n, rng=rng, memory_slots=np.r_[np.full(n, 3), 4 * n], **kw)
    demand = Demand.draw(n, pairs=2, period_s=0.01, rounds=rounds, window_s=0.003, rng=rng)
    return make_context(net, demand)


# --------------------------------------------------------------------- contract
@pytest.mark.parametrize("name", SCHEDULERS.names())
@pytest.mark.parametrize("topology", ["star", "grid"])
def test_every_scheduler_runs_accounts_for_every_pair_and_is_reproducible(
    name: str, topology: str
) -> None:
    ctx = _context(topology, 6, coherence_time_s=(0.005, 0.5))
    first = simulate(ctx, SCHEDULERS.get(name), rng=np.random.default_rng(1))
    again = simulate(ctx, SCHEDULERS.get(name), rng=np.random.default_rng(1))
    m = summarize(first)
    assert m == {
        **summarize(again),
        "wall_s": m["wall_s"],
        "pairs_per_wall_s": m["pairs_per_wall_s"],
    }
    fates = first.ledger.link_fates()
    assert not np.isin(fates, [FATE["pending"], FATE["swapped"], FATE["purified"]]).any()
    assert int(np.sum(fates == FATE["consumed"])) + sum(m["waste"].values()) == m["heralded_pairs"]
    for key in ("utilization", "consumed_fraction", "demand_met"):
        assert 0.0 <= m[key] <= 1.0 or np.isnan(m[key])
    assert first.met.shape == (4, 6)
    assert np.all(first.met <= 2)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("greedy", {"cutoff_s": -1.0}, "cutoff_s = -1.0: must be None or a number > 0"),
        ("random", {"attempt_probability": 2}, "attempt_probability = 2"),
        ("ceas", {"pair_cost": -0.1}, "pair_cost = -0.1: must be a number >= 0"),
        ("ceas", {"max_memory": 0}, "max_memory = 0: must be an integer >= 1"),
        ("ceas", {"lead_factor": 0.5}, "lead_factor = 0.5: must be a number >= 1"),
        ("ceas", {"purify_levels": 7}, "purify_levels = 7: must be an integer in [0, 6]"),
        (
            "greedy-purify",
            {"purify_levels": -1},
            "purify_levels = -1: must be an integer in [0, 6]",
        ),
    ],
)
def test_bad_scheduler_options_are_named(name: str, params: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        SCHEDULERS.get(name, **params)


def test_unknown_scheduler_lists_the_known_ones() -> None:
    with pytest.raises(
        UnknownNameError, match="known: ceas, greedy, greedy-purify, oblivious, random"
    ):
        SCHEDULERS.get("fifo")


# ------------------------------------------------------------------ MDP lookups
def test_batch_policy_lookup_equals_the_single_state_lookup() -> None:
    link = LinkClass(
        success_probability=0.3,
        initial_fidelity=0.93,
        decay_rate=400.0,
        slot=1e-4,
        memory=3,
        demand=3,
        horizon=20,
        window=8,
        attempt_cost=0.02,
    )
    policy = solve(link)
    rng = np.random.default_rng(0)
    b = 400
    tau = rng.integers(1, link.horizon + 1, b)
    r = rng.integers(0, link.demand + 1, b)
    held = rng.integers(0, link.memory + 1, b)
    ages = np.full((b, link.memory), -1)
    for i in range(b):
        ages[i, : held[i]] = np.sort(rng.integers(0, link.age_cap + 3, held[i]))
    consume, discard, attempt = policy.actions(tau, r, ages)
    for i in range(b):
        own = [int(a) for a in ages[i, : held[i]]]
        one = policy.action(int(tau[i]), int(r[i]), own)
        capped = [min(a, link.age_cap) for a in own]
        assert tuple(sorted(np.array(capped)[consume[i, : held[i]]])) == one.consumed_ages
        assert (int(discard[i]), bool(attempt[i])) == (one.discard, one.attempt)


def test_route_success_closed_forms() -> None:
    assert route_success(np.array([0.3])) == 0.3
    q1, q2 = 0.3, 0.6
    expected_max = 1 / q1 + 1 / q2 - 1 / (q1 + q2 - q1 * q2)
    assert route_success(np.array([q1, q2])) == pytest.approx(1 / expected_max, rel=1e-9)
    # slow links: a sum over slots would need millions of terms
    q = 1e-6
    expected_max = 2 / q - 1 / (1 - (1 - q) ** 2)
    assert route_success(np.array([q, q])) == pytest.approx(1 / expected_max, rel=1e-6)


def test_route_success_equals_the_sum_over_slots() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        q = 10 ** rng.uniform(-2, 0, int(rng.integers(2, 6)))
        t = np.arange(20_000, dtype=float)[:, None]
        expected_max = (1.0 - np.prod(1.0 - (1.0 - q[None, :]) ** t, axis=1)).sum()
        assert route_success(q) == pytest.approx(1 / expected_max, rel=1e-12)
    with pytest.raises(ValueError, match="17 links; at most 16"):
        route_success(np.full(17, 0.5))


# ------------------------------------------------------------------- CEAS itself
def test_ceas_in_simulation_meets_what_its_mdp_expects() -> None:
    """One link, long-lived memories: the simulated fraction of demand met and the
    utilization agree with the MDP's exact expectations (binomial tolerance)."""
    net = build_network(
        "star",
        1,
        rng=np.random.default_rng(0),
        link_length_km=30.0,
        initial_fidelity=0.92,
        coherence_time_s=0.5,
        memory_slots=np.array([2, 4]),
    )
    rounds = 400
    demand = Demand(
        pairs=2, period_s=0.01, rounds=rounds, ready_s=np.array([0.006]), window_s=0.001
    )
    ctx = make_context(net, demand)
    scheduler = CEASScheduler()
    result = simulate(ctx, scheduler, rng=np.random.default_rng(3))
    policy = scheduler.plans[0].policy
    met = result.met.sum() / (2 * rounds)
    expected = 1 - policy.expected_unmet / 2
    sd = np.sqrt(expected * (1 - expected) / rounds)
    assert abs(met - expected) < 5 * sd + 0.01
    assert 0.75 < expected < 0.99  # a regime where the deadline binds
    m = summarize(result)
    assert m["utilization"] == pytest.approx(policy.expected_utilization, abs=0.05)


def test_ceas_starts_generation_just_in_time() -> None:
    """No pair is heralded earlier than the policy's first attempt before a deadline."""
    ctx = _context("star", 5, rounds=5, coherence_time_s=(0.002, 0.02))
    scheduler = CEASScheduler()
    result = simulate(ctx, scheduler, rng=np.random.default_rng(4))
    links = result.ledger.links
    for k, plan in enumerate(scheduler.plans):
        start = plan.policy.first_attempt(ctx.demand.pairs)
        herald = np.asarray(links["herald_s"])[np.asarray(links["flow"]) == k]
        if start is None:
            assert herald.size == 0
            continue
        # Slots from each herald to its round's deadline (the deadline after it).
        deadline = ctx.deadline_slot[k] * ctx.slot_s
        offset = herald % (ctx.round_slots * ctx.slot_s)
        to_deadline = np.where(offset <= deadline + 1e-12, deadline - offset, np.inf)
        assert np.all(to_deadline <= start * ctx.slot_s + 1e-12)


def _shared_link(rounds: int) -> tuple[Network, Demand]:
    """Line 0 – 1 – 2 (aggregator): both QPUs need link 1–2 in a shared window."""
    net = build_network(
        "line",
        2,
        rng=np.random.default_rng(5),
        link_length_km=25.0,
        initial_fidelity=0.99,
        coherence_time_s=1.0,
        memory_slots=np.array([2, 2, 8]),
    )
    demand = Demand(pairs=4, period_s=0.004, rounds=rounds, ready_s=np.zeros(2), window_s=0.002)
    return net, demand


def test_importance_gives_a_shared_link_to_the_heavier_node() -> None:
    """Both QPUs need the shared link every slot of their window; the one with the
    larger importance weight is served first."""
    net, demand = _shared_link(rounds=30)
    served = []
    for weights in ([1.0, 10.0], [10.0, 1.0]):
        ctx = make_context(net, demand, importance=np.array(weights))
        result = simulate(ctx, CEASScheduler(), rng=np.random.default_rng(6))
        served.append(result.met.sum(axis=0))
    assert served[0][1] > served[0][0]
    assert served[1][0] > served[1][1]


def test_paper_scenario_ceas_utilization_at_least_090_and_oblivious_lower() -> None:
    config = resolve("paper")
    network = network_of(config.network, config.nodes.count, 0)
    demand = demand_of(config.schedule, config.nodes.count, 0)
    demand = Demand(
        pairs=demand.pairs,
        period_s=demand.period_s,
        rounds=12,
        ready_s=demand.ready_s,
        window_s=demand.window_s,
    )
    ctx = make_context(network, demand)
    results = {
        name: summarize(simulate(ctx, SCHEDULERS.get(name), rng=simulation_rng(0)))
        for name in ("ceas", "oblivious")
    }
    ceas, oblivious = results["ceas"], results["oblivious"]
    assert ceas["utilization"] >= 0.90
    assert ceas["mean_consumed_fidelity"] > KEY_FIDELITY_THRESHOLD
    assert oblivious["utilization"] < ceas["utilization"] - 0.2
    assert ceas["demand_met"] > oblivious["demand_met"]


def test_ceas_purifies_only_when_it_pays_in_expected_key() -> None:
    """Two stored pairs at F = 0.83 yield no key alone (QBER above threshold) but
    BBPSSW makes F' ≈ 0.87 with p ≈ 0.78: purify. Two at F = 0.95 are worth more apart."""
    ctx0 = _context("star", 2, rounds=2)
    ctx = make_context(ctx0.network, ctx0.demand, purification="bbpssw")
    scheduler = CEASScheduler()
    scheduler.prepare(ctx)
    m = ctx.storage
    stored = np.zeros((2, m), dtype=bool)
    stored[:, :2] = True
    fidelity = np.full((2, m), np.nan)
    fidelity[0, :2] = 0.83
    fidelity[1, :2] = 0.95
    view = SlotView(
        slot=0,
        time_s=0.0,
        target_round=np.zeros(2, dtype=np.int64),
        remaining=np.zeros(2, dtype=np.int64),
        slots_to_deadline=np.full(2, 10**6, dtype=np.int64),
        in_window=np.zeros(2, dtype=bool),
        stored=stored,
        fidelity=fidelity,
        created_s=np.where(stored, 0.0, np.nan),
        segment_has=np.zeros(2, dtype=bool),
        segment_fidelity=np.full(2, np.nan),
        segment_herald_s=np.full(2, np.nan),
        free_memory=np.array([1, 1, 10]),
        importance=np.ones(2),
    )
    decision = scheduler.decide(view, rng=np.random.default_rng(0))
    assert decision.purify is not None
    assert decision.purify.tolist() == [True, False]


def test_importance_can_change_between_rounds() -> None:
    """The same shared link as above, importance swapped after the first round of a
    step-wise simulation: the other node is served first from then on."""
    from qceas.network import Simulation

    net, demand = _shared_link(rounds=20)
    ctx = make_context(net, demand, importance=np.array([1.0, 10.0]))
    sim = Simulation(ctx, CEASScheduler(), rng=np.random.default_rng(6))
    first = np.array([[len(f) for f in sim.run_round().fidelities] for _ in range(10)]).sum(0)
    sim.set_importance(np.array([10.0, 1.0]))
    second = np.array([[len(f) for f in sim.run_round().fidelities] for _ in range(10)]).sum(0)
    assert first[1] > first[0]
    assert second[0] > second[1]
    with pytest.raises(ValueError, match="importance: every weight must be finite and >= 0"):
        sim.set_importance(np.array([-1.0, 1.0]))
