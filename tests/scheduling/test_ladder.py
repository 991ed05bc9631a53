"""The recurrence ladder (qceas.scheduling.ladder): its closed forms against the
physics and a Monte Carlo of the climb, its rules against a replay of the simulator's
purification, and purification inside CEAS and greedy-purify on a 2-hop route."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.network import (
    KEY_FIDELITY_THRESHOLD,
    Demand,
    build_network,
    make_context,
    simulate,
    summarize,
)
from qceas.network.ledger import FATE
from qceas.physics import bbpssw, dejmps, qber, secret_fraction, werner_coefficients
from qceas.scheduling import SCHEDULERS, CEASScheduler, route_success
from qceas.scheduling import ladder as ladders


def key(f):
    return 0.5 * np.asarray(secret_fraction(qber(np.clip(f, 0.25, 1.0))), dtype=float)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.25, 1.0), st.floats(0.25, 1.0))
def test_bbpssw_and_dejmps_agree_on_werner_inputs(f1: float, f2: float) -> None:
    """The ladder's one recursion serves both protocols (module docstring)."""
    p_b, f_b = bbpssw(f1, f2)
    p_d, c = dejmps(werner_coefficients(f1), werner_coefficients(f2))
    assert float(p_d) == pytest.approx(float(p_b), abs=1e-12)
    assert float(c[0]) == pytest.approx(float(f_b), abs=1e-12)


@pytest.mark.parametrize("fresh", [0.7616, 0.8137, 0.70, 0.66])
def test_the_ladder_is_the_fewest_levels_that_yield_key(fresh: float) -> None:
    ladder = ladders.build(fresh, key)
    assert ladder is not None
    f, p, raw = fresh, [], 1.0
    for _ in range(ladder.levels):  # the recursion, written out
        q = f * f + 2 * f * (1 - f) / 3 + 5 * (1 - f) ** 2 / 9
        f, raw = (f * f + (1 - f) ** 2 / 9) / q, 2 * raw / q
        p.append(q)
    assert ladder.fidelity[-1] == pytest.approx(f, rel=1e-12)
    assert ladder.success == pytest.approx(tuple(p), rel=1e-12)
    assert ladder.raw_pairs == pytest.approx(raw, rel=1e-12)
    assert ladder.fidelity[-1] > KEY_FIDELITY_THRESHOLD >= ladder.fidelity[-2]
    assert ladder.raw_slots == ladder.levels + 1


def test_no_ladder_below_one_half_or_past_max_levels_and_none_needed_above_threshold() -> None:
    assert ladders.build(0.5, key) is None
    assert ladders.build(0.66, key, max_levels=1) is None
    assert ladders.build(0.9, key) == ladders.Ladder(fidelity=(0.9,), success=(), raw_pairs=1.0)


def test_a_flow_climbs_only_when_it_must_and_its_memory_holds_the_climb() -> None:
    assert ladders.for_flow(0.9, key, memory=8, max_levels=6) is None  # fresh pairs do
    two = ladders.build(0.7616, key)
    assert two is not None
    assert two.levels == 2
    assert ladders.for_flow(0.7616, key, memory=4, max_levels=6) == two  # L + 2 = 4
    assert ladders.for_flow(0.7616, key, memory=3, max_levels=6) is None
    assert ladders.for_flow(0.7616, key, memory=8, max_levels=1) is None
    assert ladders.check_levels(0) == 0
    with pytest.raises(ValueError, match=r"purify_levels = True: must be an integer in \[0, 6\]"):
        ladders.check_levels(True)


def test_raw_pairs_per_unit_match_a_monte_carlo_of_the_climb() -> None:
    """E[N_L] = 2·E[N_{L−1}]/p_L (Wald) against a direct simulation of the tree."""
    ladder = ladders.build(0.70, key)
    assert ladder is not None
    assert ladder.levels == 4
    rng = np.random.default_rng(7)

    def spent(level: int) -> int:
        if level == 0:
            return 1
        total = 0
        while True:
            total += spent(level - 1) + spent(level - 1)
            if rng.random() < ladder.success[level - 1]:
                return total

    draws = np.array([spent(ladder.levels) for _ in range(4000)])
    se = draws.std(ddof=1) / math.sqrt(draws.size)
    assert abs(draws.mean() - ladder.raw_pairs) < 4 * se


@pytest.mark.parametrize("fresh", [0.7616, 0.70])
def test_the_rule_climbs_like_a_binary_counter_within_its_memory(fresh: float) -> None:
    """A replay of the simulator's slot order (purify the two lowest, then a fresh pair
    arrives if the climb has room), every round succeeding and no decay: a unit of
    fidelity F_L after exactly 2^L fresh pairs, never more than L + 1 raw pairs held."""
    ladder = ladders.build(fresh, key)
    assert ladder is not None
    rules = ladders.Ladders.of([ladder])
    held: list[float] = []
    arrivals = 0
    while True:
        f = np.full((1, ladder.levels + 2), np.inf)
        f[0, : len(held)] = held
        raw = np.isfinite(f)
        purify, room = rules.climb(raw, f)
        if purify[0]:
            f1, f2 = sorted(held)[:2]
            held = [*sorted(held)[2:], float(bbpssw(f1, f2)[1])]
        if key(max(held, default=0.0)) > 0:
            break
        assert len(held) <= ladder.raw_slots
        if room[0]:
            held.append(fresh)
            arrivals += 1
    assert arrivals == 2**ladder.levels
    assert max(held) == pytest.approx(ladder.fidelity[-1], rel=1e-12)


def test_levels_and_best_units() -> None:
    ladder = ladders.build(0.70, key)
    assert ladder is not None
    rules = ladders.Ladders.of([ladder, None])
    rungs = np.array([list(ladder.fidelity[:-1]), [0.9] * ladder.levels])
    assert rules.level(rungs)[0].tolist() == list(range(ladder.levels))
    assert rules.level(rungs)[1].tolist() == [0] * ladder.levels  # no ladder: level 0
    unit = rules.best_unit(rungs, rules.level(rungs))
    assert unit[0] == pytest.approx(ladder.fidelity[-1], rel=1e-12)  # each rung lifts to F_L
    assert unit[1].tolist() == [0.9] * ladder.levels  # nothing to climb
    # A pair that decayed too far cannot be lifted by fresh partners.
    worn = rules.rows(np.array([0])).best_unit(np.array([[0.52]]), np.array([[0]]))
    assert key(worn[0, 0]) == 0.0


# ----------------------------------------------------------- in the simulation
def _two_hops(purification: str, rounds: int = 40, coherence_time_s: float = 1.0):
    """Line 0 – 1 – 2 (aggregator), links of F0 0.9: QPU 1's fresh pairs yield key,
    QPU 0's (2 hops, F = 0.813) do not; one round of purification lifts them to 0.851."""
    net = build_network(
        "line",
        2,
        rng=np.random.default_rng(5),
        link_length_km=10.0,
        initial_fidelity=0.9,
        coherence_time_s=coherence_time_s,
        memory_slots=np.array([3, 3, 8]),
    )
    demand = Demand(pairs=2, period_s=0.004, rounds=rounds, ready_s=np.zeros(2), window_s=0.002)
    return make_context(net, demand, purification=purification)


def test_ceas_plans_units_for_a_flow_that_must_purify() -> None:
    ctx = _two_hops("dejmps")
    scheduler = CEASScheduler()
    scheduler.prepare(ctx)
    plan = scheduler.plans[0]
    assert plan.ladder is not None
    assert plan.ladder.levels == 1
    assert scheduler.plans[1].ladder is None
    p = float(f"{route_success(ctx.slot_success[ctx.network.routes[0]]):.3g}")
    expected = float(f"{p / plan.ladder.raw_pairs:.3g}")
    assert plan.link.success_probability == pytest.approx(expected)
    assert plan.link.initial_fidelity == pytest.approx(float(f"{plan.ladder.fidelity[-1]:.3g}"))
    assert plan.link.memory == 1  # 3 slots, 2 on the way up


@pytest.mark.parametrize("name", ["ceas", "greedy-purify"])
def test_purification_delivers_key_where_fresh_pairs_cannot(name: str) -> None:
    met = {}
    for purification in ("none", "dejmps"):
        ctx = _two_hops(purification)
        result = simulate(ctx, SCHEDULERS.get(name), rng=np.random.default_rng(2))
        met[purification] = result.met.sum(axis=0)
        e2e = result.ledger.e2e
        fate, flow = np.asarray(e2e["fate"]), np.asarray(e2e["flow"])
        consumed = np.flatnonzero((fate == FATE["consumed"]) & (flow == 0))
        if purification == "dejmps":
            # QPU 0 never measures a raw pair: nothing aborted, and every pair it
            # consumed is the output of a purification.
            assert not np.any((fate == FATE["aborted"]) & (flow == 0))
            outputs = np.asarray(e2e["child"])[fate == FATE["purified"]]
            assert np.isin(consumed, outputs).all()
        assert np.all(np.asarray(e2e["fate_fidelity"])[consumed] > KEY_FIDELITY_THRESHOLD)
        m = summarize(result)
        fates = result.ledger.link_fates()
        assert (
            int(np.sum(fates == FATE["consumed"])) + sum(m["waste"].values())
            == (m["heralded_pairs"])
        )
    assert met["none"][0] == 0
    assert met["dejmps"][0] >= 10  # of 80 units of demand
    if name == "ceas":
        # The climbing flow yields the shared link and relay to QPU 1.
        assert met["dejmps"][1] >= 0.95 * met["none"][1]


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_every_scheduler_accounts_for_every_pair_with_purification_on(name: str) -> None:
    """The registry contract on a route whose flow must purify: every heralded pair
    ends consumed or in a waste fate (purified pairs through their outputs), and the
    run reproduces from its seed."""
    ctx = _two_hops("dejmps", rounds=10)
    first = simulate(ctx, SCHEDULERS.get(name), rng=np.random.default_rng(3))
    again = simulate(ctx, SCHEDULERS.get(name), rng=np.random.default_rng(3))
    assert np.array_equal(first.met, again.met)
    m = summarize(first)
    fates = first.ledger.link_fates()
    assert not np.isin(fates, [FATE["pending"], FATE["swapped"], FATE["purified"]]).any()
    assert int(np.sum(fates == FATE["consumed"])) + sum(m["waste"].values()) == m["heralded_pairs"]


def test_greedy_purify_decides_for_flows_that_do_not_climb_as_greedy_does() -> None:
    """Slot by slot on the 2-hop line with short-lived memories (pairs die in
    storage): QPU 1's consumption, discards and arrivals are greedy's, whatever QPU 0's
    climb does."""
    from qceas.scheduling import Greedy, GreedyPurify

    ctx = _two_hops("dejmps", rounds=10, coherence_time_s=0.05)
    plain, climbing = Greedy(), GreedyPurify()
    checked = []

    class Spy:
        name = "spy"

        def prepare(self, context):
            plain.prepare(context)
            climbing.prepare(context)

        def decide(self, view, *, rng):
            mine, theirs = climbing.decide(view, rng=rng), plain.decide(view, rng=rng)
            for field in ("consume", "discard", "consume_on_herald"):
                np.testing.assert_array_equal(getattr(mine, field)[1], getattr(theirs, field)[1])
            checked.append(view.stored[1].any())
            return mine

    simulate(ctx, Spy(), rng=np.random.default_rng(4))
    assert climbing._climbs.tolist() == [True, False]
    assert sum(checked) > 100  # slots where QPU 1 held pairs


def test_a_climbing_route_yields_as_a_whole_while_a_flow_it_crosses_plans() -> None:
    """Line 0 – 1 – 2 – 3 (aggregator), links of F0 0.9: QPU 2 needs no purification,
    QPUs 1 and 0 climb (1 and 3 rounds). While QPU 2 plans (inside its horizon, demand
    left), no segment of a climbing route attempts, the first link 0 – 1 included,
    though it touches nothing of QPU 2's."""
    net = build_network(
        "line",
        3,
        rng=np.random.default_rng(5),
        link_length_km=10.0,
        initial_fidelity=0.9,
        coherence_time_s=1.0,
        memory_slots=np.array([6, 4, 4, 12]),
    )
    demand = Demand(pairs=2, period_s=0.004, rounds=10, ready_s=np.zeros(3), window_s=0.002)
    ctx = make_context(net, demand, purification="dejmps")
    ceas = CEASScheduler()
    seen = {"yielded": 0, "climbed": 0}

    class Spy:
        name = "spy"

        def prepare(self, context):
            ceas.prepare(context)

        def decide(self, view, *, rng):
            d = ceas.decide(view, rng=rng)
            tau = view.slots_to_deadline[2]
            planning = view.remaining[2] > 0 and 1 <= tau <= ceas.plans[2].horizon
            climbing = ctx.segment_flow < 2
            if planning:
                assert not d.attempt[climbing].any()
                seen["yielded"] += 1
            elif d.attempt[climbing].any():
                seen["climbed"] += 1
            return d

    result = simulate(ctx, Spy(), rng=np.random.default_rng(8))
    assert [pl.ladder is not None for pl in ceas.plans] == [True, True, False]
    assert seen["yielded"] > 0
    assert seen["climbed"] > 0
    assert result.met.sum(axis=0)[2] == 2 * 10  # QPU 2 meets all of its demand
