"""The EPR-pair QDBA rounds: guarantees, measured rates against the exact bounds,
the attack the paper's rule cannot stop, and the strict rule's consistency."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.agreement import ATTACKS, BOT, Point, Protocol, bounds, run_batch, simulate
from qceas.agreement.noise import bell_diagonal_errors, werner_errors

LIEUTENANT_ATTACKS = [a for a in ATTACKS.names() if not ATTACKS.get(a).commander_side]
COMMANDER_ATTACKS = [a for a in ATTACKS.names() if ATTACKS.get(a).commander_side]


def _rates(point: Point, seed: int = 0) -> dict[str, float]:
    t = simulate(point, [seed])
    return {k: getattr(t, k) / t.instances for k in ("agreement", "abort", "inconsistent", "wrong")}


def _within(measured: float, p: float, n: int, sigmas: float = 5.0) -> bool:
    return abs(measured - p) <= sigmas * np.sqrt(max(p * (1 - p), 1e-12) / n) + 1e-9


@pytest.mark.parametrize("attack", LIEUTENANT_ATTACKS)
@pytest.mark.parametrize("traitors", [1, 4, 9])
def test_loyal_commander_perfect_pairs_always_agree(attack: str, traitors: int) -> None:
    # F = 1: every loyal lieutenant decides the loyal commander's order, whatever
    # the coalition of up to n − 2 traitors does (forgeries of probability ≤ (3/4)^112).
    point = Point(Protocol(11, 112), 0.0, 0.0, attack=attack, traitors=traitors, instances=300)
    assert _rates(point) == {"agreement": 1.0, "abort": 0.0, "inconsistent": 0.0, "wrong": 0.0}


def test_commander_check_fails_at_the_exact_rate() -> None:
    # Round 1 alone: the fraction of loyal lieutenants whose check fails equals (1).
    proto = Protocol(11, 40, tolerance=0.1, count_alpha=1e-3)
    eps = 0.08
    r = run_batch(
        proto,
        np.full(10, eps),
        ATTACKS.get("none"),
        np.zeros(10, bool),
        False,
        np.random.default_rng(3),
        4000,
    )
    measured = float((r.first == BOT).mean())
    exact = bounds.honest_failure(40, eps, 0.1, 1e-3)
    assert _within(measured, exact, r.first.size)


@pytest.mark.parametrize(("tuples", "tolerance"), [(20, 0.0), (40, 0.15), (60, 0.3)])
def test_best_bit_forgery_passes_at_the_exact_optimum(tuples: int, tolerance: float) -> None:
    # `adopt` reveals the optimal number of tuples with guessed bits: its forgeries
    # pass the bit check at exactly bounds.forgery (F = 1, loyal commander).
    t = simulate(
        Point(
            Protocol(11, tuples, tolerance), 0.0, 0.0, attack="adopt", traitors=5, instances=3000
        ),
        [1],
    )
    p, _ = bounds.forgery(tuples, tolerance, 1e-6)
    assert _within(t.forged_bit_passed / t.forged_checks, p, t.forged_checks)


@pytest.mark.parametrize("tuples", [6, 10])
def test_conflict_forgery_passes_at_three_quarters_to_the_m(tuples: int) -> None:
    proto = Protocol(11, tuples, count_alpha=0.0)
    t = simulate(Point(proto, 0.0, 0.0, attack="lie", traitors=5, instances=6000), [2])
    assert _within(
        t.forged_conflict_passed / t.forged_checks, bounds.conflict_forgery(tuples), t.forged_checks
    )


def test_genuine_equivocation_is_detected_by_every_loyal_lieutenant() -> None:
    point = Point(
        Protocol(11, 112), 0.0, 0.0, attack="equivocate", commander_traitor=True, instances=500
    )
    rates = _rates(point)
    assert rates["inconsistent"] == 0.0
    assert rates["abort"] == 1.0


def test_crafted_equivocation_splits_the_paper_rule_and_not_the_strict_one() -> None:
    # The Proposition of qceas.agreement.attacks, measured.
    paper = Point(
        Protocol(11, 112),
        0.0,
        0.0,
        attack="equivocate_crafted",
        commander_traitor=True,
        instances=500,
    )
    strict = Point(
        Protocol(11, 112, rule="strict"),
        0.0,
        0.0,
        attack="equivocate_crafted",
        commander_traitor=True,
        instances=500,
    )
    assert _rates(paper)["inconsistent"] == 1.0
    assert _rates(strict)["inconsistent"] == 0.0
    assert _rates(strict)["abort"] == 1.0


def test_strict_rule_lets_one_traitor_force_an_abort() -> None:
    # The other side of the Proposition: a traitor lieutenant's claim alone aborts.
    point = Point(
        Protocol(11, 112, rule="strict"), 0.0, 0.0, attack="lie", traitors=1, instances=300
    )
    assert _rates(point)["abort"] == 1.0


def test_bad_vector_is_repaired_by_adoption() -> None:
    point = Point(
        Protocol(11, 112),
        0.0,
        0.0,
        attack="bad_vector",
        traitors=2,
        commander_traitor=True,
        instances=300,
    )
    assert _rates(point)["agreement"] == 1.0


@settings(max_examples=40, deadline=None)
@given(
    attack=st.sampled_from(ATTACKS.names()),
    traitors=st.integers(0, 5),
    fidelity=st.sampled_from([1.0, 0.95, 0.85]),
    tolerance=st.sampled_from([0.0, 0.15]),
    tuples=st.sampled_from([8, 30]),
    seed=st.integers(0, 2**31),
)
def test_strict_rule_is_never_inconsistent(
    attack: str, traitors: int, fidelity: float, tolerance: float, tuples: int, seed: int
) -> None:
    eps = float(werner_errors(fidelity)[0])
    commander = ATTACKS.get(attack).commander_side or seed % 2 == 0
    point = Point(
        Protocol(7, tuples, tolerance, rule="strict"),
        eps,
        eps,
        attack=attack,
        traitors=traitors,
        commander_traitor=commander,
        instances=64,
    )
    assert simulate(point, [seed]).inconsistent == 0


def test_classical_source_forges_and_the_conjugate_test_catches_it() -> None:
    # A classical source in the coalition: traitors know every bit, so their forged
    # claims pass and lieutenants disagree with the commander... unless X-basis
    # test pairs reveal the missing entanglement (error 1/2 there).
    blind = Point(
        Protocol(11, 112), 0.0, 0.0, attack="lie", traitors=5, source="classical", instances=200
    )
    tested = Point(
        Protocol(11, 112, tolerance=0.15, source_test=0.25),
        0.0,
        0.0,
        attack="lie",
        traitors=5,
        source="classical",
        instances=200,
    )
    assert _rates(blind)["agreement"] == 0.0
    assert simulate(tested, [0]).forged_conflict_passed > 0
    assert _rates(tested)["abort"] == 1.0
    assert _rates(tested)["wrong"] == 0.0


def test_a_digest_agrees_bit_by_bit_and_costs_b_times_the_pairs() -> None:
    point = Point(Protocol(11, 40), 0.0, 0.0, digest_bits=8, instances=100)
    assert point.pairs == 8 * 40 * 10
    assert _rates(point)["agreement"] == 1.0
    crafted = Point(
        Protocol(11, 40),
        0.0,
        0.0,
        attack="equivocate_crafted",
        commander_traitor=True,
        digest_bits=8,
        instances=100,
    )
    assert _rates(crafted)["inconsistent"] == 1.0


def test_numbers_do_not_depend_on_how_the_instances_are_split() -> None:
    point = Point(Protocol(11, 112, 0.1), 0.03, 0.03, attack="split", traitors=3, instances=1000)
    whole = simulate(point, [5])
    parts = [simulate(point, [5], start=s, count=c) for s, c in ((0, 123), (123, 500), (623, 377))]
    for name in ("agreement", "abort", "inconsistent", "forged_checks", "forged_bit_passed"):
        assert getattr(whole, name) == sum(getattr(p, name) for p in parts)


def test_pair_errors_of_bell_diagonal_states() -> None:
    ez, ex = werner_errors(0.85)
    assert ez == pytest.approx(0.1)
    assert ex == pytest.approx(0.1)
    ez, ex = bell_diagonal_errors([0.9, 0.1, 0.0, 0.0])  # dephasing: invisible in Z
    assert ez == 0.0
    assert ex == pytest.approx(0.1)
    ez, ex = bell_diagonal_errors([0.9, 0.0, 0.1, 0.0])  # a bit flip: seen in Z only
    assert ez == pytest.approx(0.1)
    assert ex == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tolerance": 0.5}, "tolerance = 0.5: must be in [0, 0.5)"),
        ({"players": 2}, "players = 2: must be >= 3"),
        ({"rule": "lax"}, "rule = 'lax'"),
    ],
)
def test_protocol_refuses_impossible_parameters(kwargs: dict[str, object], message: str) -> None:
    args = {"players": 11, "tuples": 112, **kwargs}
    with pytest.raises(ValueError, match=re.escape(message)):
        Protocol(**args)  # type: ignore[arg-type]


def test_a_point_needs_a_loyal_lieutenant() -> None:
    with pytest.raises(ValueError, match=r"traitors = 10: must be in \[0, 9\]"):
        Point(Protocol(11, 112), 0.0, 0.0, traitors=10)


def _reference_loyal(
    proto: Protocol, eps: np.ndarray, seed: int, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """Loyal commander, loyal lieutenants, tuple by tuple (the module docstring's
    rules, written independently of ``run_batch``; same draws in the same order):
    (A) passes with ``|S_j| >= m`` and at most ``floor(delta |S_j|)`` revealed bits
    equal to L_j's own; a lieutenant that fails adopts v if some lieutenant that
    passed shows a vector passing L_j's bit check (B_bit); there are no conflicts."""
    rng = np.random.default_rng(seed)
    lieutenants, tuples = proto.lieutenants, proto.tuples
    c = rng.integers(0, 2, size=(batch, tuples, lieutenants), dtype=np.uint8)
    flips = rng.random((batch, tuples, lieutenants)) < eps
    value = rng.integers(0, 2, size=batch, dtype=np.uint8)
    final = np.full((batch, lieutenants), BOT, dtype=np.int64)

    def passes(b: int, owner: int, reader: int) -> bool:
        shown = [k for k in range(tuples) if c[b, k, owner] == value[b]]
        own = [1 - c[b, k, reader] ^ int(flips[b, k, reader]) for k in range(tuples)]
        bad = sum(1 for k in shown if c[b, k, reader] == own[k])
        return len(shown) >= proto.count and bad <= math.floor(proto.tolerance * len(shown) + 1e-9)

    for b in range(batch):
        first = [passes(b, j, j) for j in range(lieutenants)]
        for j in range(lieutenants):
            if first[j] or any(first[i] and passes(b, i, j) for i in range(lieutenants) if i != j):
                final[b, j] = value[b]
    return final, value


@settings(max_examples=40, deadline=None)
@given(
    players=st.integers(3, 7),
    tuples=st.integers(4, 40),
    tolerance=st.sampled_from([0.0, 0.1, 0.25]),
    eps=st.floats(0.0, 0.3),
    rule=st.sampled_from(["paper", "strict"]),
    seed=st.integers(0, 2**16),
)
def test_loyal_rounds_equal_a_tuple_by_tuple_reference(
    players: int, tuples: int, tolerance: float, eps: float, rule: str, seed: int
) -> None:
    proto = Protocol(players, tuples, tolerance=tolerance, rule=rule, count_alpha=0.01)
    batch = 6
    result = run_batch(
        proto,
        np.full(proto.lieutenants, eps),
        ATTACKS.get("none"),
        np.zeros(proto.lieutenants, dtype=bool),
        False,
        np.random.default_rng(seed),
        batch,
    )
    final, value = _reference_loyal(proto, eps, seed, batch)
    np.testing.assert_array_equal(result.value, value)
    np.testing.assert_array_equal(result.final, final)
