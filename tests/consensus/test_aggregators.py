"""Aggregation rules: a contract suite over every registry entry, closed forms, messages.

The contract suite (in the spirit of sklearn's ``parametrize_with_checks``) runs the same
checks on every case in ``CASES``; a registered rule without a case fails
``test_every_registered_rule_has_a_contract_case``. What each rule guarantees (output
in the inputs' bounding box, bounded influence of f outliers) is read from the
aggregator's ``in_box`` / ``robust`` flags, and ``test_documented_guarantees`` pins
those flags to the table below, so the documentation, the code and the tests agree.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.optimize
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.consensus import AGGREGATORS, Aggregator, bucket_means, coordinate_median, get
from qceas.consensus import nearest_neighbor_mixing as nnm_rows
from qceas.consensus.aggregators import CenteredClipping
from qceas.registry import UnknownNameError

# id -> (registered name, parameters, robust (bounded influence), in the bounding box)
CASES: dict[str, tuple[str, dict[str, Any], bool, bool]] = {
    "mean": ("mean", {}, False, True),
    "median": ("median", {"f": 1}, True, True),
    "trimmed_mean": ("trimmed_mean", {"f": 2}, True, True),
    "krum": ("krum", {"f": 1}, True, True),
    "multi_krum": ("multi_krum", {"f": 1}, True, True),
    "multi_krum-m2": ("multi_krum", {"f": 2, "m": 2}, True, True),
    "geometric_median": ("geometric_median", {"f": 1}, True, True),
    "centered_clipping-mean": (
        "centered_clipping",
        {"f": 1, "tau": 0.5, "iters": 3},
        False,
        True,
    ),
    "centered_clipping-median": (
        "centered_clipping",
        {"f": 1, "tau": 0.5, "iters": 3, "center": "median"},
        True,
        True,
    ),
    "bulyan": ("bulyan", {"f": 1}, True, True),
    "nnm-trimmed_mean": ("nnm", {"f": 1, "inner": "trimmed_mean"}, True, True),
    "nnm-krum": ("nnm", {"f": 1, "inner": "krum"}, True, True),
    "bucketing-median": ("bucketing", {"s": 2, "inner": "median", "f": 1}, True, True),
}
IDS = sorted(CASES)


def _build(case: str) -> Aggregator:
    name, params, _, _ = CASES[case]
    return AGGREGATORS.get(name, **params)


def _call(agg: Aggregator, x: Any, w: Any = None, seed: int = 7) -> np.ndarray:
    # A fresh generator per call: bucketing then draws the same shuffle every time.
    return agg(x, w, rng=np.random.default_rng(seed))


def _data(seed: int, agg: Aggregator, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n, d = max(agg.min_n, 5) + int(rng.integers(0, 4)), int(rng.integers(1, 5))
    # Small integers make ties (equal coordinates, equal distances, duplicate rows).
    x = rng.integers(-2, 3, size=(n, d)).astype(float) if ties else rng.normal(size=(n, d))
    w = rng.uniform(0.1, 2.0, size=n)
    return x, w


def test_every_registered_rule_has_a_contract_case() -> None:
    assert {CASES[c][0] for c in CASES} == set(AGGREGATORS.names())


@pytest.mark.parametrize("case", IDS)
def test_documented_guarantees(case: str) -> None:
    agg = _build(case)
    _, _, robust, in_box = CASES[case]
    assert (agg.robust, agg.in_box) == (robust, in_box)
    assert isinstance(agg.byzantine_bound, str)
    assert repr(agg).startswith(agg.name + "(")


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans(), weighted=st.booleans())
def test_permutation_invariance(case: str, seed: int, ties: bool, weighted: bool) -> None:
    agg = _build(case)
    x, w = _data(seed, agg, ties=ties)
    perm = np.random.default_rng(seed + 1).permutation(x.shape[0])
    weights, permuted = (w, w[perm]) if weighted else (None, None)
    np.testing.assert_allclose(
        _call(agg, x[perm], permuted), _call(agg, x, weights), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize("case", IDS)
def test_inputs_are_never_modified(case: str) -> None:
    agg = _build(case)
    x, w = _data(0, agg, ties=True)
    x_copy, w_copy = x.copy(), w.copy()
    x.setflags(write=False)  # any in-place write would raise
    w.setflags(write=False)
    for weights in (None, w):
        out = _call(agg, x, weights)
        assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(w, w_copy)


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans())
def test_output_is_finite_and_in_the_bounding_box(case: str, seed: int, ties: bool) -> None:
    agg = _build(case)
    x, w = _data(seed, agg, ties=ties)
    for weights in (None, w):
        out = _call(agg, x, weights)
        assert out.shape == (x.shape[1],)
        assert out.dtype == np.float64
        assert np.all(np.isfinite(out))
        if agg.in_box:
            slack = 1e-12 * (1 + np.max(np.abs(x)))
            assert np.all(out >= x.min(axis=0) - slack)
            assert np.all(out <= x.max(axis=0) + slack)


@pytest.mark.parametrize("case", IDS)
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ties=st.booleans(), c=st.floats(0.1, 1e3))
def test_equal_weights_equal_no_weights(case: str, seed: int, ties: bool, c: float) -> None:
    agg = _build(case)
    x, _ = _data(seed, agg, ties=ties)
    n = x.shape[0]
    expected = _call(agg, x)
    for weights in (np.ones(n), np.full(n, 3.0), np.full(n, c), [1] * n):
        np.testing.assert_array_equal(_call(agg, x, weights), expected)


def _ball(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    """m points uniform in the unit ball of R^d."""
    g = rng.normal(size=(m, d))
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    return g * rng.uniform(size=(m, 1)) ** (1 / d)


def _influence_bound(agg: Aggregator, n: int, d: int, r: float) -> float:
    """A bound on ‖out − c‖ that does not depend on where the f outliers are.

    K·r with K = 6·(1 + 2√n)·√d covers every rule's worst case here (Krum: honest
    scores are at most (n − f − 2)·4r², so a chosen outlier is within r(1 + 2√n);
    coordinate-wise rules stay within the honest range widened by its width, 3r per
    coordinate; NNM first widens the honest ball to 3r). Centred clipping moves at most
    iters·τ from its (robust) start, whatever r is.
    """
    bound = 6 * (1 + 2 * math.sqrt(n)) * math.sqrt(d) * r
    if isinstance(agg, CenteredClipping):
        bound += agg.iters * agg.tau
    return bound


def _attacked(
    seed: int, agg: Aggregator, extra: int, scale: float, style: str
) -> tuple[np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    n, d, f = agg.min_n + extra, int(rng.integers(1, 5)), agg.f
    r = float(rng.uniform(0.01, 1.0))
    c = rng.uniform(-10, 10, size=d)
    honest = c + r * _ball(rng, n - f, d)
    direction = rng.normal(size=(f, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    if style == "cluster":  # all outliers at one point
        bad = c + scale * np.broadcast_to(direction[:1], (f, d))
    elif style == "near":  # just outside the honest ball, where selection is hardest
        bad = c + (r + scale * 1e-6) * direction
    else:  # independent far points
        bad = c + scale * direction * rng.uniform(0.5, 1.0, size=(f, 1))
    x = np.vstack([honest, bad])[rng.permutation(n)]
    return x, c, r


@pytest.mark.parametrize("case", [c for c in IDS if CASES[c][2]])
@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    extra=st.integers(0, 4),
    log_scale=st.floats(0.0, 6.0),
    style=st.sampled_from(["far", "cluster", "near"]),
)
def test_bounded_influence_of_f_outliers(
    case: str, seed: int, extra: int, log_scale: float, style: str
) -> None:
    agg = _build(case)
    x, c, r = _attacked(seed, agg, extra, 10.0**log_scale, style)
    out = _call(agg, x)
    assert np.linalg.norm(out - c) <= _influence_bound(agg, x.shape[0], x.shape[1], r)


@pytest.mark.parametrize("case", [c for c in IDS if not CASES[c][2]])
def test_non_robust_rules_fail_the_influence_bound(case: str) -> None:
    # The check above has teeth: one far outlier drags the mean (and clipping started
    # from the mean) far outside the bound.
    agg = AGGREGATORS.get(CASES[case][0], **{**CASES[case][1], "f": 1})
    x, c, r = _attacked(0, agg, 2, 1e6, "far")
    assert np.linalg.norm(_call(agg, x) - c) > _influence_bound(agg, x.shape[0], x.shape[1], r)


# -- closed forms ----------------------------------------------------------------------


def test_mean_is_the_weighted_average() -> None:
    rng = np.random.default_rng(1)
    x, w = rng.normal(size=(6, 3)), rng.uniform(0, 2, size=6)
    np.testing.assert_allclose(get("mean")(x, w), np.average(x, axis=0, weights=w))
    np.testing.assert_array_equal(get("mean")(x), np.mean(x, axis=0))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), ties=st.booleans())
def test_median_matches_numpy_for_odd_and_even_n(seed: int, n: int, ties: bool) -> None:
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=(n, 3)).astype(float) if ties else rng.normal(size=(n, 3))
    np.testing.assert_array_equal(get("median")(x), np.median(x, axis=0))
    # The weighted code path itself reproduces numpy.median for equal weights, also for
    # weights like 1/n whose partial sums are inexact.
    for weight in (1.0, 1.0 / n, 0.1):
        np.testing.assert_allclose(
            coordinate_median(x, np.full(n, weight)), np.median(x, axis=0), rtol=0, atol=0
        )


@pytest.mark.parametrize(
    ("weights", "expected"),
    [
        ([1, 1, 1, 1], 2.5),  # equal weights, even n: numpy's midpoint
        ([1, 1, 1, 2], 3.0),  # unique weighted median
        ([3, 1, 1, 1], 1.5),  # W(x <= 1) = W/2 exactly: midpoint of [1, 2]
        ([0, 0, 1, 0], 3.0),  # all the mass on one row
        ([5, 0, 0, 1], 1.0),  # zero-weight rows are never picked
    ],
)
def test_weighted_median_hand_examples(weights: list[float], expected: float) -> None:
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    assert get("median")(x, weights)[0] == expected


@pytest.mark.parametrize(("n", "f"), [(5, 0), (10, 2), (10, 4), (20, 3), (8, 2)])
def test_trimmed_mean_matches_scipy_where_the_cut_is_f(n: int, f: int) -> None:
    assert int(f / n * n) == f  # scipy cuts int(proportion·n) values from each end
    x = np.random.default_rng(n + f).normal(size=(n, 4))
    np.testing.assert_allclose(
        get("trimmed_mean", f=f)(x), scipy.stats.trim_mean(x, f / n, axis=0), rtol=1e-13
    )


def test_weighted_trimmed_mean_drops_by_count_and_weights_the_rest() -> None:
    x = np.array([[0.0], [1.0], [2.0], [3.0], [100.0]])
    out = get("trimmed_mean", f=1)(x, [1, 1, 2, 1, 1])
    assert out[0] == pytest.approx((1 * 1 + 2 * 2 + 3 * 1) / 4)
    # kept entries all weigh 0: their plain mean
    assert get("trimmed_mean", f=1)(x, [1, 0, 0, 0, 1])[0] == pytest.approx(2.0)


def test_krum_and_multi_krum_hand_example() -> None:
    # n = 5, f = 1: scores on n − f − 2 = 2 neighbours
    # 0: 1 + 9 = 10; 1: 1 + 4 = 5; 3: 4 + 9 = 13; 7: 16 + 36 = 52; 100: 93² + 97²
    x = np.array([[0.0], [1.0], [3.0], [7.0], [100.0]])
    assert get("krum", f=1)(x)[0] == 1.0
    assert get("multi_krum", f=1)(x)[0] == pytest.approx((0 + 1 + 3 + 7) / 4)  # m = n − f
    assert get("multi_krum", f=1, m=2)(x)[0] == pytest.approx(0.5)
    assert get("multi_krum", f=1, m=1)(x)[0] == 1.0
    # weighted: neighbour 3 weighs 10, so 0 scores 1 + 90, 1 scores 1 + 40, 3 scores 13
    assert get("krum", f=1)(x, [1, 1, 10, 1, 1])[0] == 3.0
    # multi_krum then averages the m best with their weights: 3 (w 10) and 1 (w 1)
    assert get("multi_krum", f=1, m=2)(x, [1, 1, 10, 1, 1])[0] == pytest.approx(31 / 11)


def test_krum_breaks_exact_ties_by_the_smallest_row() -> None:
    square = np.array([[1.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 0.0], [9.0, 9.0]])
    for perm in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]):
        np.testing.assert_array_equal(get("krum", f=1)(square[perm]), [0.0, 0.0])


def test_bulyan_without_byzantine_inputs_is_the_mean() -> None:
    x = np.random.default_rng(3).normal(size=(7, 3))
    np.testing.assert_allclose(get("bulyan", f=0)(x), x.mean(axis=0), rtol=1e-13)


def test_geometric_median_of_collinear_and_symmetric_sets() -> None:
    u = np.array([0.6, 0.8])
    line = np.outer([0.0, 1.0, 2.0, 10.0, 50.0], u)
    np.testing.assert_allclose(get("geometric_median")(line), 2.0 * u, atol=1e-6)
    square = np.array([[1.0, 1.0], [-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0]]) + 5.0
    np.testing.assert_allclose(get("geometric_median")(square), [5.0, 5.0], atol=1e-12)
    same = np.ones((3, 2))
    np.testing.assert_array_equal(get("geometric_median")(same), [1.0, 1.0])


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3, 9), d=st.integers(2, 3))
def test_weiszfeld_matches_scipy_optimize(seed: int, n: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=(n, d)), rng.uniform(0.2, 2.0, size=n)

    def cost(v: np.ndarray) -> float:
        return float(w @ np.linalg.norm(x - v, axis=1))

    ref = scipy.optimize.minimize(
        cost, np.average(x, axis=0, weights=w), method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000},
    )  # fmt: skip
    # Near-vertex minimisers make Weiszfeld's linear rate close to 1: allow many steps.
    ours = get("geometric_median", tol=1e-14, max_iter=100_000)(x, w)
    assert cost(ours) <= ref.fun + 1e-9
    default = get("geometric_median")(x, w)  # default max_iter: close in cost in any case
    assert cost(default) <= ref.fun * (1 + 1e-6)
    np.testing.assert_allclose(ours, ref.x, atol=1e-4)


def test_centered_clipping_hand_examples() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    # from 0: clip([3, 4], 1) = [0.6, 0.8], clip(0) = 0; one step moves by their mean
    cc = get("centered_clipping", tau=1.0, center=[0.0, 0.0])
    np.testing.assert_allclose(cc(x), [0.3, 0.4])
    np.testing.assert_allclose(cc(x, [3, 1]), [0.45, 0.6])
    # τ larger than every distance: one step from anywhere lands on the weighted mean
    rng = np.random.default_rng(4)
    y, w = rng.normal(size=(6, 3)), rng.uniform(0.1, 1, size=6)
    big = get("centered_clipping", tau=1e6, center=np.full(3, 7.0))
    np.testing.assert_allclose(big(y, w), np.average(y, axis=0, weights=w))


def test_centered_clipping_from_an_honest_centre_moves_at_most_iters_tau() -> None:
    rng = np.random.default_rng(5)
    honest = rng.normal(size=(8, 4)) * 0.1
    x = np.vstack([honest, np.full((2, 4), 1e6)])
    cc = get("centered_clipping", f=2, tau=0.2, iters=4, center=np.zeros(4))
    assert np.linalg.norm(cc(x)) <= 4 * 0.2 + 1e-12


def test_nearest_neighbor_mixing_hand_example() -> None:
    x = np.array([[0.0], [1.0], [2.0], [10.0]])
    # each row: mean of its n − f = 3 nearest, itself included
    np.testing.assert_allclose(nnm_rows(x, 1), [[1.0], [1.0], [1.0], [13 / 3]])
    # weighted: row 10's neighbours {10, 2, 1} with weights {1, 2, 1}
    np.testing.assert_allclose(nnm_rows(x, 1, [1, 1, 2, 1])[3], [(10 + 4 + 1) / 4])
    # f = 0: every row becomes the mean, so any inner rule returns the mean
    np.testing.assert_allclose(get("nnm", f=0, inner="median")(x), [3.25])
    built = get("nnm", f=1, inner=get("median", f=1))
    assert built(x)[0] == pytest.approx(1.0)


def test_bucketing_randomness_and_degenerate_buckets() -> None:
    x = np.random.default_rng(6).normal(size=(9, 3))
    # s = 1 buckets are the inputs: the inner rule alone, for any shuffle
    one = get("bucketing", s=1, inner="median", f=1)
    np.testing.assert_array_equal(one(x, rng=np.random.default_rng(0)), np.median(x, axis=0))
    # s >= n: one bucket, the mean
    allin = get("bucketing", s=20, inner="mean", rng=np.random.default_rng(0))
    np.testing.assert_allclose(allin(x), x.mean(axis=0))
    # construction rng advances with each call; a call rng overrides it
    agg = get("bucketing", s=3, inner="median", rng=np.random.default_rng(1))
    first = agg(x)
    again = get("bucketing", s=3, inner="median", rng=np.random.default_rng(1))(x)
    np.testing.assert_array_equal(first, again)
    seeded = [agg(x, rng=np.random.default_rng(9)) for _ in range(2)]
    np.testing.assert_array_equal(seeded[0], seeded[1])
    means, masses = bucket_means(x, 4, rng=np.random.default_rng(0), weights=np.arange(1, 10))
    assert means.shape == (3, 3)
    assert masses.sum() == pytest.approx(1.0)
    _, sizes = bucket_means(x, 4, rng=np.random.default_rng(0))
    np.testing.assert_allclose(sizes, [4 / 9, 4 / 9, 1 / 9])


# -- bad inputs: exact messages --------------------------------------------------------


def _message(call: Any) -> str:
    with pytest.raises(ValueError, match=r".") as info:  # the exact text is compared below
        call()
    return str(info.value)


def test_bad_updates_are_named() -> None:
    x = np.zeros((6, 2))
    x[3, 1] = np.nan
    assert _message(lambda: get("krum", f=1)(x)) == "krum: updates[3] contains NaN or Inf"
    x[3, 1], x[5, 0] = 0.0, -np.inf
    assert _message(lambda: get("mean")(x)) == "mean: updates[5] contains NaN or Inf"
    assert _message(lambda: get("mean")(np.zeros(3))) == (
        "mean: updates must be a 2-D array (n, d) (got shape (3,))"
    )
    assert _message(lambda: get("median")(np.zeros((0, 3)))) == (
        "median: updates must have n >= 1 rows and d >= 1 columns (got shape (0, 3))"
    )
    assert _message(lambda: get("mean")([["a", "b"]])) == (
        "mean: updates must be an array of real numbers (got dtype <U1)"
    )


def test_bad_weights_are_named() -> None:
    x = np.zeros((4, 2))
    med = get("median")
    assert _message(lambda: med(x, [1, 1, 1])) == (
        "median: weights must have shape (4,), one per row of updates (got shape (3,))"
    )
    assert _message(lambda: med(x, [1, -1, 1, 1])) == "median: weights[1] = -1 must be >= 0"
    assert _message(lambda: med(x, [1, 1, np.nan, 1])) == "median: weights[2] = nan must be finite"
    assert _message(lambda: med(x, [0, 0, 0, 0])) == "median: weights must not all be zero"


def test_bad_parameters_are_named() -> None:
    assert _message(lambda: get("krum", f=-1)) == "krum: f must be an integer >= 0 (got f = -1)"
    assert _message(lambda: get("krum", f=1.5)) == "krum: f must be an integer >= 0 (got f = 1.5)"
    assert _message(lambda: get("median", f=True)) == (
        "median: f must be an integer >= 0 (got f = True)"
    )
    assert _message(lambda: get("multi_krum", m=0)) == (
        "multi_krum: m must be an integer >= 1 (got m = 0)"
    )
    assert _message(lambda: get("centered_clipping", tau=0)) == (
        "centered_clipping: tau must be a finite number > 0 (got tau = 0)"
    )
    assert _message(lambda: get("centered_clipping", center="zero")) == (
        "centered_clipping: center must be None, 'mean', 'median' or a (d,) vector "
        "(got center = 'zero')"
    )
    assert _message(lambda: get("centered_clipping", center=[0.0, 1.0])(np.ones((3, 3)))) == (
        "centered_clipping: center must have shape (3,) to match updates (got shape (2,))"
    )
    assert _message(lambda: get("geometric_median", max_iter=0)) == (
        "geometric_median: max_iter must be an integer >= 1 (got max_iter = 0)"
    )
    assert _message(lambda: get("nnm", inner=get("krum"), f=1, m=2)) == (
        "nnm: inner parameters ['m'] given with an inner aggregator that is already built "
        "(krum(f=0))"
    )
    with pytest.raises(UnknownNameError, match="unknown aggregator 'krumm'"):
        get("krumm")


def test_byzantine_bounds_are_enforced_with_the_rule_named() -> None:
    x = np.random.default_rng(0).normal(size=(5, 2))
    assert _message(lambda: get("krum", f=2)(x)) == "krum needs n > 2f + 2 (got n = 5, f = 2)"
    get("krum", f=1)(x)  # n = 5 = 2f + 3: admissible
    assert _message(lambda: get("bulyan", f=1)(x[:4])) == (
        "bulyan needs n >= 4f + 3 (got n = 4, f = 1)"
    )
    assert _message(lambda: get("trimmed_mean", f=2)(x[:4])) == (
        "trimmed_mean needs n > 2f (got n = 4, f = 2)"
    )
    assert _message(lambda: get("multi_krum", f=1, m=5)(x)) == (
        "multi_krum needs 1 <= m <= n - f (got m = 5, n = 5, f = 1)"
    )
    assert _message(lambda: get("nnm", f=1, inner="krum")(x[:4])) == (
        "nnm needs n > 2f and krum's n > 2f + 2 (got n = 4, f = 1)"
    )
    assert _message(lambda: get("bucketing", s=2, inner="median", f=1)(x[:4])) == (
        "bucketing needs n >= 5 (median on ⌈n/2⌉ buckets needs n > 2f) (got n = 4, f = 1)"
    )
    assert _message(lambda: get("bucketing", s=2)(x)) == (
        "bucketing: needs rng, a numpy.random.Generator, given at construction or call "
        "(got rng = None)"
    )
    for name in AGGREGATORS.names():
        agg = get(name, f=1)
        agg.check(agg.min_n)
        with pytest.raises(ValueError, match=f"^{name} needs "):
            agg.check(agg.min_n - 1)
