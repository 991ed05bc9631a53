"""The link-class MDP of qceas.scheduling: exact against an independent expectimax
search, Bellman consistency, the policy's legality, physics sanity and every
validation message."""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.scheduling import MAX_STATES, Action, LinkClass, Policy, solve

Ages = tuple[int, ...]


def make(**kw: Any) -> LinkClass:
    base: dict[str, Any] = {
        "success_probability": 0.5,
        "initial_fidelity": 0.95,
        "decay_rate": 20.0,
        "slot": 1e-3,
        "memory": 2,
        "demand": 2,
        "horizon": 4,
        "window": 2,
    }
    base.update(kw)
    return LinkClass(**base)


def all_states(link: LinkClass, taus: range | None = None) -> Iterator[tuple[int, int, Ages]]:
    taus = range(link.horizon + 1) if taus is None else taus
    for tau in taus:
        for r in range(link.demand + 1):
            for n in range(link.memory + 1):
                for ages in itertools.combinations_with_replacement(range(link.age_cap + 1), n):
                    yield tau, r, ages


# ------------------------------------------------------------------ the oracle
def kappa(link: LinkClass, age: int) -> float:
    """Key bits of a pair consumed at ``age``, written out from the formulas, not qceas."""
    f = 0.25 + (link.initial_fidelity - 0.25) * math.exp(-link.decay_rate * age * link.slot)
    e = 2.0 * (1.0 - f) / 3.0
    h = 0.0 if e in (0.0, 1.0) else -e * math.log2(e) - (1.0 - e) * math.log2(1.0 - e)
    return link.sift * max(0.0, 1.0 - 2.0 * h)


class Expectimax:
    """Plain recursive search over every legal action (any consumed subset, any
    discarded subset, attempt or not), averaging over the herald outcome."""

    def __init__(self, link: LinkClass) -> None:
        self.link = link
        self.k = [kappa(link, a) for a in range(link.age_cap + 1)]
        self.value: Callable[[int, int, Ages], float] = cache(self._value)

    def q(self, tau: int, r: int, consumed: Ages, kept: Ages, attempt: bool) -> float:
        link, cap = self.link, self.link.age_cap
        reward = sum(self.k[a] for a in consumed)
        reward -= link.memory_cost * len(kept) + link.attempt_cost * attempt
        aged = tuple(sorted(min(a + 1, cap) for a in kept))
        rest = r - len(consumed)
        cont = self.value(tau - 1, rest, aged)
        if attempt:
            fresh = self.value(tau - 1, rest, (0, *aged))
            cont = (1.0 - link.success_probability) * cont + link.success_probability * fresh
        return reward + cont

    def actions(self, tau: int, r: int, ages: Ages) -> Iterator[tuple[Ages, Ages, bool]]:
        link, n = self.link, len(ages)
        for c in range(n + 1):
            if c and (tau > link.window or c > r):
                continue
            for used in itertools.combinations(range(n), c):
                if any(self.k[ages[i]] <= 0.0 for i in used):
                    continue
                rest = [ages[i] for i in range(n) if i not in used]
                for d in range(len(rest) + 1):
                    for dropped in itertools.combinations(range(len(rest)), d):
                        kept = tuple(rest[i] for i in range(len(rest)) if i not in dropped)
                        for attempt in (False, True):
                            if not attempt or len(kept) < link.memory:
                                yield tuple(ages[i] for i in used), kept, attempt

    def _value(self, tau: int, r: int, ages: Ages) -> float:
        if tau == 0:
            return -self.link.penalty * r
        return max(self.q(tau, r, *a) for a in self.actions(tau, r, ages))

    def q_of(self, tau: int, r: int, ages: Ages, action: Action) -> float:
        """Q of the DP's action: remove the consumed ages, then drop the oldest."""
        rest = list(ages)
        for a in action.consumed_ages:
            rest.remove(a)
        kept = tuple(rest[: len(rest) - action.discard])
        return self.q(tau, r, action.consumed_ages, kept, action.attempt)


@st.composite
def small_links(draw: st.DrawFn) -> LinkClass:
    horizon = draw(st.integers(1, 4))
    return make(
        success_probability=draw(st.sampled_from([0.05, 0.3, 0.5, 0.9, 1.0])),
        initial_fidelity=draw(st.floats(0.8, 1.0)),
        decay_rate=draw(st.floats(1.0, 300.0)),
        memory=draw(st.integers(1, 2)),
        demand=draw(st.integers(1, 2)),
        horizon=horizon,
        window=draw(st.integers(1, horizon)),
        # None: the default cap, at most H = 4; explicit: a cap with κ(A) > 0 allowed.
        max_age=draw(st.one_of(st.none(), st.integers(1, 3))),
        attempt_cost=draw(st.sampled_from([0.0, 0.001, 0.02])),
        memory_cost=draw(st.sampled_from([0.0, 0.001, 0.02])),
        miss_penalty=draw(st.one_of(st.none(), st.sampled_from([0.0, 0.1, 1.0]))),
    )


def _check_against_oracle(link: LinkClass) -> None:
    policy = solve(link)
    oracle = Expectimax(link)
    for tau, r, ages in all_states(link):
        best = oracle.value(tau, r, ages)
        assert policy.value(tau, r, ages) == pytest.approx(best, abs=1e-12, rel=0), (tau, r, ages)
        if tau:
            achieved = oracle.q_of(tau, r, ages, policy.action(tau, r, ages))
            assert achieved == pytest.approx(best, abs=1e-12, rel=0), (tau, r, ages)


# ---------------------------------------------------------------- 1. exactness
@settings(max_examples=60, deadline=None)
@given(small_links())
def test_values_and_actions_match_exhaustive_expectimax(link: LinkClass) -> None:
    _check_against_oracle(link)


@pytest.mark.parametrize("p", [0.1, 0.6, 1.0])
@pytest.mark.parametrize("window", [1, 2, 4])
def test_expectimax_on_default_age_cap(p: float, window: int) -> None:
    # Decay fast enough that the default cap (first age with no key) is 3: exact cap.
    link = make(
        success_probability=p,
        initial_fidelity=0.9,
        decay_rate=42.0,
        window=window,
        attempt_cost=0.002,
        memory_cost=0.001,
    )
    assert link.age_cap == 3
    assert link.ages_exact
    _check_against_oracle(link)


def test_key_bits_follow_the_formula() -> None:
    link = make(decay_rate=7.0, sift=0.7, horizon=100)
    ages = np.arange(40)
    expected = [kappa(link, int(a)) for a in ages]
    np.testing.assert_allclose(link.key_bits(ages), expected, rtol=1e-13, atol=1e-15)
    assert link.penalty == pytest.approx(kappa(link, 0))
    assert link.key_bits(link.age_cap) == 0.0
    assert link.key_bits(link.age_cap - 1) > 0.0  # the default cap: first age without key
    assert link.ages_exact
    assert not replace(link, max_age=link.age_cap - 1).ages_exact
    assert replace(link, horizon=3, window=1).age_cap == 3  # never more than H


def test_consuming_the_older_pair_can_beat_freshest_first() -> None:
    # Two usable pairs aged 1 and 2, demand 2, the age-2 pair useless next slot: using
    # it now and keeping the fresher one as a back-up beats freshest-first.
    link = make(initial_fidelity=0.9, decay_rate=42.0, horizon=3, window=3)
    policy = solve(link)
    assert policy.action(2, 2, (1, 2)) == Action(
        consume=1, discard=0, attempt=True, consumed_ages=(2,)
    )
    oracle = Expectimax(link)
    freshest = oracle.q(2, 2, (1,), (2,), True)
    older = oracle.q(2, 2, (2,), (1,), True)
    assert older > freshest + 1e-3


# ---------------------------------------------------- 2. Bellman and legality
@pytest.fixture(scope="module")
def medium() -> tuple[LinkClass, Policy]:
    link = make(
        success_probability=0.3,
        memory=3,
        demand=3,
        horizon=25,
        window=6,
        decay_rate=30.0,
        attempt_cost=0.002,
        memory_cost=0.001,
    )
    return link, solve(link)


def test_bellman_residual_is_zero(medium: tuple[LinkClass, Policy]) -> None:
    assert medium[1].bellman_residual() <= 1e-12


def test_policy_is_legal_everywhere(medium: tuple[LinkClass, Policy]) -> None:
    link, policy = medium
    for tau, r, ages in all_states(link, range(1, link.horizon + 1)):
        assert math.isfinite(policy.value(tau, r, ages))
        act = policy.action(tau, r, ages)
        assert act.consume <= r
        assert act.consume == 0 or tau <= link.window
        assert act.consume + act.discard <= len(ages)
        kept = len(ages) - act.consume - act.discard
        assert kept + act.attempt <= link.memory
        rest = list(ages)
        for a in act.consumed_ages:
            rest.remove(a)  # a sub-multiset of what is stored
            assert link.key_bits(a) > 0.0  # a pair without key never meets demand


def test_forward_evaluation_matches_the_value(medium: tuple[LinkClass, Policy]) -> None:
    link, policy = medium
    costs = link.attempt_cost * policy.expected_attempts
    costs += link.memory_cost * policy.expected_pair_slots
    costs += link.penalty * policy.expected_unmet
    total = policy.expected_key_bits - costs
    assert total == pytest.approx(policy.value(link.horizon, link.demand), abs=1e-12)
    assert policy.expected_consumed == pytest.approx(link.demand - policy.expected_unmet)
    assert 0.0 < policy.expected_utilization <= 1.0
    assert link.fidelity(link.age_cap) < policy.mean_consumed_fidelity <= link.initial_fidelity


def test_forward_evaluation_matches_an_explicit_propagation(
    medium: tuple[LinkClass, Policy],
) -> None:
    # An independent propagation of {(r, ages): probability}, reading only action().
    link, policy = medium
    p, cap = link.success_probability, link.age_cap
    dist: dict[tuple[int, Ages], float] = {(link.demand, ()): 1.0}
    key = fid = consumed = heralded = 0.0
    for tau in range(link.horizon, 0, -1):
        nxt: dict[tuple[int, Ages], float] = {}
        for (r, ages), w in dist.items():
            act = policy.action(tau, r, ages)
            key += w * sum(kappa(link, a) for a in act.consumed_ages)
            fid += w * sum(float(link.fidelity(a)) for a in act.consumed_ages)
            consumed += w * act.consume
            rest = list(ages)
            for a in act.consumed_ages:
                rest.remove(a)
            aged = tuple(min(a + 1, cap) for a in rest[: len(rest) - act.discard])
            outcomes = [(aged, 1.0)] if not act.attempt else [(aged, 1 - p), ((0, *aged), p)]
            heralded += w * p * act.attempt
            for nxt_ages, q in outcomes:
                state = (r - act.consume, nxt_ages)
                nxt[state] = nxt.get(state, 0.0) + w * q
        dist = nxt
    assert policy.expected_key_bits == pytest.approx(key, abs=1e-12)
    assert policy.expected_heralded == pytest.approx(heralded, abs=1e-12)
    assert policy.expected_utilization == pytest.approx(consumed / heralded, abs=1e-12)
    assert policy.mean_consumed_fidelity == pytest.approx(fid / consumed, abs=1e-12)


def test_lookup_tables_agree_with_actions(medium: tuple[LinkClass, Policy]) -> None:
    link, policy = medium
    for r in range(link.demand + 1):
        attempts = [t for t in range(1, link.horizon + 1) if policy.action(t, r, ()).attempt]
        assert policy.first_attempt(r) == (max(attempts) if attempts else None)
        for tau in range(1, link.horizon + 1):
            drops = [a for a in range(link.age_cap + 1) if policy.action(tau, r, (a,)).discard]
            assert policy.cutoff_age(tau, r) == (min(drops) if drops else None)
    assert policy.first_attempt(0) is None  # nothing to gain without demand


def test_lookups_sort_and_cap_ages(medium: tuple[LinkClass, Policy]) -> None:
    link, policy = medium
    cap = link.age_cap
    assert policy.value(5, 2, (cap + 7, 1)) == policy.value(5, 2, (1, cap))
    assert policy.action(5, 2, (3, 0)) == policy.action(5, 2, (0, 3))
    assert policy.value(0, 2, (0,)) == -2 * link.penalty


# ------------------------------------------------------------- 3. physics sanity
def test_slow_decay_consumes_every_pair_it_can() -> None:
    # Nearly no decay and a small attempt cost (with none, refreshing a stored pair
    # would gain ~1e-12 bits and extra pairs would be heralded): every heralded pair
    # is consumed, and in the window everything stored is consumed at once.
    link = make(
        success_probability=0.3,
        decay_rate=1e-9,
        memory=2,
        demand=3,
        horizon=12,
        window=6,
        attempt_cost=1e-4,
    )
    assert link.age_cap == link.horizon  # no age ever loses its key: the cap is H
    policy = solve(link)
    assert policy.expected_utilization == pytest.approx(1.0, abs=1e-9)
    # States reachable from the round start: distinct ages, at most H − τ − 2, so the
    # cap never applies (a capped pair would stop ageing and could wait for free).
    for tau, r, ages in all_states(link, range(1, link.window + 1)):
        if len(set(ages)) == len(ages) and all(a <= link.horizon - tau - 2 for a in ages):
            assert policy.action(tau, r, ages).consume == min(r, len(ages))


def test_fast_decay_starts_just_in_time() -> None:
    # κ(1) = 0: a pair is only worth something at age 0, so attempts begin one slot
    # before the window opens, not at the round start.
    fast = make(initial_fidelity=0.9, decay_rate=200.0, horizon=40, window=5, attempt_cost=1e-3)
    assert fast.age_cap == 1
    policy = solve(fast)
    assert policy.first_attempt(1) == policy.first_attempt(2) == fast.window + 1
    # Slower decay, key lost at age A0: a pair heralded more than A0 slots before the
    # window is useless by then, so attempts start in (W, W + A0], still far from H.
    slow = make(
        success_probability=0.3,
        memory=3,
        horizon=60,
        window=5,
        attempt_cost=1e-3,
        memory_cost=1e-3,
    )
    zero_age = slow.age_cap
    policy = solve(slow)
    for r in (1, 2):
        start = policy.first_attempt(r)
        assert start is not None
        assert slow.window < start <= slow.window + zero_age < slow.horizon
        # Before the window a lone pair is dropped once it cannot reach it with key.
        for tau in range(slow.window + 1, slow.horizon + 1):
            cutoff = policy.cutoff_age(tau, r)
            assert cutoff is not None
            assert cutoff <= max(0, zero_age - (tau - slow.window))


def _values(link: LinkClass) -> np.ndarray:
    policy = solve(link)
    return np.array([policy.value(t, r, a) for t, r, a in all_states(link)])


monotone_links = st.builds(
    make,
    success_probability=st.sampled_from([0.2, 0.5, 0.9]),
    decay_rate=st.floats(5.0, 100.0),
    memory=st.integers(1, 2),
    demand=st.integers(1, 2),
    horizon=st.integers(2, 6),
    window=st.integers(1, 2),
    max_age=st.integers(1, 5),
    attempt_cost=st.sampled_from([0.0, 0.005]),
    memory_cost=st.sampled_from([0.0, 0.005]),
    miss_penalty=st.sampled_from([0.0, 0.3]),
)


@settings(max_examples=25, deadline=None)
@given(monotone_links, st.floats(0.0, 0.05))
def test_more_memory_cost_never_raises_the_value(link: LinkClass, extra: float) -> None:
    # Every policy's value falls with c_mem, hence so does their maximum.
    dearer = replace(link, memory_cost=link.memory_cost + extra)
    assert np.all(_values(dearer) <= _values(link) + 1e-12)


@settings(max_examples=25, deadline=None)
@given(monotone_links, st.floats(0.0, 0.05))
def test_more_attempt_cost_never_raises_the_value(link: LinkClass, extra: float) -> None:
    dearer = replace(link, attempt_cost=link.attempt_cost + extra)
    assert np.all(_values(dearer) <= _values(link) + 1e-12)


@settings(max_examples=25, deadline=None)
@given(monotone_links, st.floats(0.0, 1.0))
def test_a_likelier_herald_never_lowers_the_value(link: LinkClass, more: float) -> None:
    # With p' >= p, keeping each herald with probability p/p' (discarding the rest
    # at once, at no cost) imitates p: the optimum over all policies can only rise.
    p = link.success_probability
    likelier = replace(link, success_probability=p + more * (1.0 - p))
    assert np.all(_values(likelier) >= _values(link) - 1e-12)


# --------------------------------------------------------------- 4. bad input
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("success_probability", 0.0, "success_probability = 0.0: must be in (0, 1]"),
        ("success_probability", 1.5, "success_probability = 1.5: must be in (0, 1]"),
        ("success_probability", "x", "success_probability = 'x': must be a finite real number"),
        ("initial_fidelity", 0.2, "initial_fidelity = 0.2: must be in [0.25, 1]"),
        ("initial_fidelity", math.nan, "initial_fidelity = nan: must be a finite real number"),
        ("decay_rate", 0.0, "decay_rate = 0.0: must be > 0"),
        ("decay_rate", math.inf, "decay_rate = inf: must be a finite real number"),
        ("slot", -1e-3, "slot = -0.001: must be > 0"),
        ("memory", 0, "memory = 0: must be an integer >= 1"),
        ("memory", 1.0, "memory = 1.0: must be an integer >= 1"),
        ("memory", True, "memory = True: must be an integer >= 1"),
        ("demand", 0, "demand = 0: must be an integer >= 1"),
        ("horizon", 0, "horizon = 0: must be an integer >= 1"),
        ("window", 0, "window = 0: must be an integer in [1, horizon = 4]"),
        ("window", 5, "window = 5: must be an integer in [1, horizon = 4]"),
        ("max_age", 0, "max_age = 0: must be None or an integer >= 1"),
        ("sift", 0.0, "sift = 0.0: must be in (0, 1]"),
        ("attempt_cost", -0.1, "attempt_cost = -0.1: must be >= 0"),
        ("memory_cost", -0.1, "memory_cost = -0.1: must be >= 0"),
        ("miss_penalty", -1.0, "miss_penalty = -1.0: must be None or >= 0"),
        ("miss_penalty", None, None),
    ],
)
def test_invalid_field_names_field_value_and_rule(
    field: str, value: object, message: str | None
) -> None:
    if message is None:
        make(**{field: value})
        return
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        make(**{field: value})


def test_numpy_scalars_are_normalised() -> None:
    link = make(memory=np.int64(2), success_probability=np.float64(0.5))
    assert link == make()
    assert type(link.memory) is int


def test_action_lists_its_consumed_ages() -> None:
    with pytest.raises(ValueError, match=re.escape("consumed_ages = (): must list consume = 1")):
        Action(consume=1, discard=0, attempt=False)


def test_bad_lookups_name_the_rule(medium: tuple[LinkClass, Policy]) -> None:
    _, policy = medium
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: policy.action(0, 1), "tau = 0: must be an integer in [1, horizon = 25]"),
        (lambda: policy.value(26, 1), "tau = 26: must be an integer in [0, horizon = 25]"),
        (lambda: policy.value(3, 4), "r = 4: must be an integer in [0, demand = 3]"),
        (lambda: policy.value(3, 1, (0, 0, 0, 0)), "ages = (0, 0, 0, 0): must hold at most"),
        (lambda: policy.value(3, 1, (-1,)), "age = -1: must be an integer >= 0"),
        (lambda: policy.first_attempt(-1), "r = -1: must be an integer in [0, demand = 3]"),
        (lambda: policy.cutoff_age(0, 1), "tau = 0: must be an integer in [1, horizon = 25]"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
            call()


def test_state_limits_refuse_big_problems() -> None:
    link = make(memory=4, demand=2, horizon=200, window=20, max_age=40)
    assert link.state_count == 201 * 3 * math.comb(45, 4) > MAX_STATES
    with pytest.raises(ValueError, match=r"89,843,985 states .* exceed max_states = 10,000,000"):
        solve(link)
    with pytest.raises(ValueError, match=r"state-action pairs per slot exceed max_state_actions"):
        solve(make(memory=4, max_age=40), max_state_actions=1000)
