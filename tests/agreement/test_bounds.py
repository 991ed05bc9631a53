"""Bounds of the EPR-pair QDBA against closed forms and each other."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from qceas.agreement import bounds


def test_literal_rule_has_the_closed_form_of_the_module_docstring() -> None:
    # δ = 0, no count check: P_A = 1 − E[(1−ε)^S], S ~ Bin(M, ½) = 1 − (1 − ε/2)^M.
    for m, eps in [(112, 2 * 0.05 / 3), (20, 0.1), (250, 0.01)]:
        assert bounds.honest_failure(m, eps, 0.0, 0.0) == pytest.approx(1 - (1 - eps / 2) ** m)
    # The figure: a lieutenant passes with about 0.15 at F = 0.95, M = 112.
    assert 1 - bounds.honest_failure(112, 2 * 0.05 / 3, 0.0, 0.0) == pytest.approx(0.152, abs=2e-3)


def test_kl_divergence_closed_forms() -> None:
    assert bounds.kl_bernoulli(0.5, 0.5) == 0.0
    assert bounds.kl_bernoulli(0.0, 0.5) == pytest.approx(math.log(2))
    assert bounds.kl_bernoulli(0.1, 0.2) == pytest.approx(
        0.1 * math.log(0.5) + 0.9 * math.log(0.9 / 0.8)
    )


@settings(max_examples=60, deadline=None)
@given(m=st.integers(4, 400), alpha=st.sampled_from([0.0, 1e-9, 1e-6, 1e-3]))
def test_count_floor_is_the_largest_count_within_alpha(m: int, alpha: float) -> None:
    floor = bounds.count_floor(m, alpha)
    assert stats.binom.cdf(floor - 1, m, 0.5) <= alpha or floor == 0
    if alpha > 0:
        assert stats.binom.cdf(floor, m, 0.5) > alpha


@settings(max_examples=80, deadline=None)
@given(
    m=st.integers(10, 400),
    eps=st.floats(0.001, 0.2),
    gap=st.floats(0.01, 0.25),
    alpha=st.sampled_from([0.0, 1e-6, 1e-3]),
)
def test_exact_honest_failure_is_below_its_chernoff_bound(
    m: int, eps: float, gap: float, alpha: float
) -> None:
    delta = min(eps + gap, 0.49)
    assert (
        bounds.honest_failure(m, eps, delta, alpha)
        <= bounds.honest_chernoff(m, eps, delta, alpha) + 1e-12
    )


@settings(max_examples=80, deadline=None)
@given(m=st.integers(2, 400), delta=st.floats(0.0, 0.49), alpha=st.sampled_from([0.0, 1e-6, 1e-3]))
def test_best_forgery_is_below_its_chernoff_bound(m: int, delta: float, alpha: float) -> None:
    p, s = bounds.forgery(m, delta, alpha)
    assert max(1, bounds.count_floor(m, alpha)) <= s <= m
    assert p == pytest.approx(stats.binom.cdf(math.floor(delta * s + 1e-9), s, 0.5))
    assert p <= bounds.forgery_chernoff(m, delta, alpha) + 1e-12


def test_min_tuples_meets_the_target_and_no_smaller_m_does() -> None:
    eps = 2 * (1 - 0.95) / 3
    m = bounds.min_tuples(11, eps, 0.15, 1e-6, 1e-3)
    assert m is not None

    def good(k: int) -> bool:
        return (
            bounds.forgery(k, 0.15, 1e-6)[0] <= 1e-3
            and bounds.instance_failure_bound(11, k, eps, 0.15, 1e-6) <= 1e-3
        )

    assert good(m)
    assert not any(good(k) for k in range(2, m))


def test_min_tuples_is_none_outside_the_working_range() -> None:
    # δ below the Z error: the honest checks fail more and more often as M grows.
    assert bounds.min_tuples(11, 0.1, 0.05, 1e-6, 1e-3) is None
