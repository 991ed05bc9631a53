"""solve_many: the batched backward induction gives the tables of solve, class by class,
bit for bit (oracle: qceas.scheduling.solve, itself checked against an exhaustive
expectimax in test_mdp.py), whatever the batching; and the options it adds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.scheduling import LinkClass, Policy, solve, solve_many


def make(**kw: Any) -> LinkClass:
    base: dict[str, Any] = {
        "success_probability": 0.5,
        "initial_fidelity": 0.95,
        "decay_rate": 20.0,
        "slot": 1e-3,
        "memory": 2,
        "demand": 2,
        "horizon": 6,
        "window": 2,
    }
    base.update(kw)
    return LinkClass(**base)


def assert_same(batched: Policy, single: Policy) -> None:
    assert batched.link == single.link
    assert np.array_equal(batched._actions, single._actions)
    # Bit for bit, not approximately: the same operations in the same order.
    assert batched._values.tobytes() == single._values.tobytes()
    assert batched.expected_key_bits == single.expected_key_bits
    assert batched.expected_unmet == single.expected_unmet


@st.composite
def link_sets(draw: st.DrawFn) -> list[LinkClass]:
    """Classes that share a group (same memory, demand, window) and classes that do not,
    with different horizons, age caps, probabilities, costs and utilities."""
    memory = draw(st.integers(1, 3))
    demand = draw(st.integers(1, 3))
    links = []
    for _ in range(draw(st.integers(1, 6))):
        horizon = draw(st.integers(1, 12))
        links.append(
            make(
                success_probability=draw(st.sampled_from([0.05, 0.3, 0.71, 1.0])),
                initial_fidelity=draw(st.sampled_from([0.88, 0.93, 0.99])),
                decay_rate=draw(st.sampled_from([3.0, 20.0, 90.0])),
                memory=draw(st.one_of(st.just(memory), st.integers(1, 3))),
                demand=draw(st.one_of(st.just(demand), st.integers(1, 3))),
                horizon=horizon,
                window=draw(st.integers(1, horizon)),
                max_age=draw(st.one_of(st.none(), st.integers(1, 15))),
                attempt_cost=draw(st.sampled_from([0.0, 0.004, 0.05])),
                memory_cost=draw(st.sampled_from([0.0, 0.0, 0.003])),
                miss_penalty=draw(st.one_of(st.none(), st.sampled_from([0.0, 0.4]))),
                utility=draw(st.sampled_from(["key", "gate"])),
            )
        )
    return links


@settings(max_examples=60, deadline=None)
@given(link_sets(), st.sampled_from([1, 40, 1 << 14]))
def test_tables_equal_solve_bit_for_bit(links: list[LinkClass], chunk: int) -> None:
    # chunk = 1 puts every class in a batch of its own, 40 mixes them.
    for batched, link in zip(solve_many(links, chunk=chunk), links, strict=True):
        assert_same(batched, solve(link))


def test_a_large_mixed_group_equals_solve() -> None:
    # One group (memory 2, demand 4, window 2) of many horizons and age caps, as CEAS
    # builds for a network, in batches of a few classes each.
    rng = np.random.default_rng(7)
    links = [
        make(
            success_probability=float(rng.choice([0.002, 0.03, 0.4, 1.0])),
            initial_fidelity=float(rng.uniform(0.86, 0.99)),
            decay_rate=float(rng.uniform(0.5, 200.0)),
            demand=4,
            horizon=int(rng.integers(2, 25)),
            # CEAS sets the cap explicitly (the first age with no key, past H too).
            max_age=int(rng.integers(1, 40)),
            attempt_cost=0.01,
        )
        for _ in range(40)
    ]
    assert len({link.age_cap for link in links}) > 15
    policies = solve_many(links, chunk=300)
    for batched, link in zip(policies, links, strict=True):
        assert_same(batched, solve(link))


def test_equal_classes_share_one_policy_in_input_order() -> None:
    a, b = make(horizon=5), make(horizon=7, decay_rate=5.0)
    out = solve_many([a, b, make(horizon=5)])
    assert out[0] is out[2]
    assert [p.link for p in out] == [a, b, a]
    assert solve_many([]) == []


def test_without_value_tables_the_actions_are_kept() -> None:
    link = make(horizon=9, memory_cost=0.002)
    (lean,) = solve_many([link], keep_values=False)
    full = solve(link)
    assert np.array_equal(lean._actions, full._actions)
    assert lean.action(3, 2, (1,)) == full.action(3, 2, (1,))
    assert lean.expected_utilization == full.expected_utilization
    with pytest.raises(ValueError, match=r"^this policy was solved without its value tables"):
        lean.value(3, 2, (1,))


def test_size_limits_are_those_of_solve() -> None:
    big = make(memory=4, demand=2, horizon=200, window=20, max_age=40)
    with pytest.raises(ValueError, match=r"89,843,985 states .* exceed max_states = 10,000,000"):
        solve_many([make(), big])
    with pytest.raises(ValueError, match=r"state-action pairs per slot exceed max_state_actions"):
        solve_many([make(memory=4, max_age=40)], max_state_actions=1000)


def test_values_that_would_overflow_are_refused_by_both_solvers() -> None:
    # -P·R overflows to -inf, and V1 - V0 would be nan: no table is trustworthy.
    huge = make(memory=1, horizon=1, window=1, miss_penalty=1e308)
    for call in (lambda: solve(huge), lambda: solve_many([make(), huge])):
        with pytest.raises(ValueError, match=r"^miss_penalty = 1e\+308, .*overflow"):
            call()


def test_ages_must_be_finite_and_non_negative() -> None:
    link = make()
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"^age = .*: must be finite and >= 0"):
            link.key_bits(bad)


def test_a_negative_zero_cost_is_a_zero_cost() -> None:
    # -0.0 == 0.0, so the classes are equal and share a policy: their tables must be too.
    a = make(miss_penalty=-0.0, attempt_cost=-0.0, memory_cost=-0.0)
    b = make(miss_penalty=0.0)
    assert a == b
    assert hash(a) == hash(b)
    assert solve(a)._values.tobytes() == solve(b)._values.tobytes()
