"""The CEAS rule: authentication, sanitising, QFI-claim verification, robust core."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.consensus.aggregators import AGGREGATORS
from qceas.consensus.ceas import CEASRule, verify_claims


def _honest(rng: np.random.Generator, n: int, d: int = 5) -> np.ndarray:
    return rng.normal(1.0, 0.1, size=(n, d))


@settings(max_examples=100, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    factor=st.floats(1.0, 1e6),
    n=st.integers(3, 20),
)
def test_inflating_a_claim_gains_nothing_beyond_the_honest_claims(
    seed: int, factor: float, n: int
) -> None:
    # One inflating node among honest ones: its verified claim never exceeds the
    # largest honest claim (the median of all claims is bounded by the honest ones).
    rng = np.random.default_rng(seed)
    claims = rng.uniform(0.1, 1.0, n)
    cheat = claims.copy()
    cheat[0] *= factor
    verified, clipped = verify_claims(cheat)
    assert verified[0] <= max(claims[0], claims[1:].max()) + 1e-15
    assert verified[0] <= np.median(cheat) + 1e-15
    if cheat[0] > np.median(cheat):
        assert clipped[0]


def test_claims_below_the_median_are_kept_and_bounds_apply() -> None:
    claims = np.array([0.1, 0.5, 0.6, 0.7, 50.0])
    verified, clipped = verify_claims(claims)
    np.testing.assert_allclose(verified, [0.1, 0.5, 0.6, 0.6, 0.6])
    np.testing.assert_array_equal(clipped, [False, False, False, True, True])
    bounded, _ = verify_claims(claims, upper_bounds=[0.05, 1, 1, 1, 1])
    assert bounded[0] == pytest.approx(0.05)
    odd, _ = verify_claims([np.nan, -1.0, 0.4, 0.4])
    np.testing.assert_allclose(odd[:2], 0.0)


def test_unauthenticated_and_non_finite_updates_are_dropped_and_counted() -> None:
    rng = np.random.default_rng(0)
    x = _honest(rng, 6)
    x[1, 2] = np.nan  # a broken honest node
    x[2] = 1e9  # a forged update whose tag failed
    rule = CEASRule(inner="mean")
    result = rule(x, np.ones(6), authenticated=[True, True, False, True, True, True])
    assert result.rejected_unauthenticated == 1
    assert result.rejected_non_finite == 1
    np.testing.assert_array_equal(result.accepted, [True, False, False, True, True, True])
    np.testing.assert_allclose(result.aggregate, x[[0, 3, 4, 5]].mean(axis=0))
    assert result.weights[[1, 2]].sum() == 0
    assert result.weights.sum() == pytest.approx(1.0)


def test_equal_claims_reduce_to_the_inner_rule_with_sample_weights() -> None:
    rng = np.random.default_rng(1)
    x = _honest(rng, 7)
    sizes = rng.integers(1, 20, 7)
    rule = CEASRule(inner="mean")
    result = rule(x, np.full(7, 0.3), sizes=sizes)
    np.testing.assert_allclose(result.aggregate, sizes @ x / sizes.sum())


def test_a_robust_inner_rule_bounds_an_outlier() -> None:
    rng = np.random.default_rng(2)
    x = _honest(rng, 9)
    x[0] = 1e6
    rule = CEASRule(inner="median")
    result = rule(x, np.ones(9))
    assert np.all(np.abs(result.aggregate - 1.0) < 0.5)
    assert set(AGGREGATORS.names()) >= {"mean", "median"}


def test_bad_input_is_named() -> None:
    with pytest.raises(
        ValueError, match=re.escape("ceas.spread = -1: must be a finite number >= 0")
    ):
        CEASRule(spread=-1)
    rule = CEASRule(inner="mean")
    with pytest.raises(
        ValueError, match=re.escape("claims: shape (2,): must be (3,), one per update")
    ):
        rule(np.zeros((3, 2)), [1.0, 1.0])
    with pytest.raises(ValueError, match="no authenticated, finite update"):
        rule(np.zeros((2, 2)), [1.0, 1.0], authenticated=[False, False])


def test_refused_messages_do_not_move_the_claim_ceiling() -> None:
    # Many Sybils with inflated claims but no key: their messages are not accepted, so
    # the ceiling (median of the accepted claims) stays among the honest ones.
    rng = np.random.default_rng(3)
    honest, sybils = 6, 20
    x = np.concatenate([_honest(rng, honest), np.full((sybils, 5), -50.0)])
    claims = np.concatenate([rng.uniform(0.5, 1.0, honest), np.full(sybils, 100.0)])
    accepted = np.arange(honest + sybils) < honest
    result = CEASRule(inner="mean")(x, claims, authenticated=accepted)
    assert result.weights[honest:].sum() == 0
    np.testing.assert_allclose(result.aggregate, x[:honest].T @ result.weights[:honest])
    assert np.all(result.aggregate > 0.5)
