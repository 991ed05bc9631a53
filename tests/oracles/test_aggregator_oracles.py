"""Aggregators against independent implementations: Flower's helpers and ByzFL.

Both are optional (skipped when absent; neither is a project dependency). Conventions
are fixed explicitly where the libraries differ from ours:

* Krum scores on the n − f − 2 nearest neighbours (Blanchard et al.). Flower does the
  same (``max(1, n − f − 2)``); ByzFL's ``Krum(f)`` uses n − f − 1 neighbours, so our
  ``krum(f)`` is compared with ByzFL's ``Krum(f + 1)``, and our ``multi_krum(f, m)`` with
  ``MultiKrum(f + 1)``, which averages the n − f − 1 best, i.e. m = n − f − 1.
* Trimmed mean drops f values by count at each end; Flower's ``aggregate_trimmed_avg``
  (like scipy) cuts ``int(proportion · n)``, so we pass a proportion where that is f.
* Flower's Multi-Krum averages with the sample counts but selects on unweighted
  scores; ours weights the scores too, so Multi-Krum is compared with equal counts.
* Flower's Bulyan runs iterated Krum with ``max(1, n' − f − 2)`` neighbours on the n'
  remaining inputs, then averages the β closest to the median: ours does the same.
* ByzFL's geometric median starts at 0 and runs T smoothed Weiszfeld steps with an
  absolute floor ν; it is compared after many steps, at a few ulps of the optimum.

Data are continuous random draws, so ties are rare; where they are certain (Bulyan's
last Krum rounds score on one neighbour, and mutual nearest neighbours tie) the rows
are passed in lexicographic order, where position order and our value order agree.
"""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from qceas.consensus import get, nearest_neighbor_mixing


def _quiet_import(name: str) -> ModuleType:
    # Flower's import chain emits DeprecationWarnings of its own dependencies, which the
    # suite turns into errors; they say nothing about the maths under test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip(name)


def _results(x: np.ndarray, counts: Any = None) -> list[tuple[list[np.ndarray], int]]:
    """Flower's input: one (list of layer arrays, num_examples) pair per client."""
    counts = np.ones(len(x), dtype=int) if counts is None else counts
    return [([row.copy()], int(c)) for row, c in zip(x, counts, strict=True)]


def _data(seed: int, n: int, d: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


SEEDS = range(5)
KRUM_NF = [(7, 1), (11, 3)]
BULYAN_NF = [(7, 1), (12, 2), (15, 3)]


# -- Flower ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flwr_agg() -> ModuleType:
    return _quiet_import("flwr.server.strategy.aggregate")


@pytest.mark.parametrize("seed", SEEDS)
def test_mean_matches_flower(flwr_agg: ModuleType, seed: int) -> None:
    x = _data(seed, 7)
    counts = np.random.default_rng(seed).integers(1, 50, size=7)
    (ref,) = flwr_agg.aggregate(_results(x, counts))
    np.testing.assert_allclose(get("mean")(x, counts), ref, rtol=1e-12)


@pytest.mark.parametrize(("seed", "n"), [(s, n) for s in SEEDS for n in (6, 7)])
def test_median_matches_flower(flwr_agg: ModuleType, seed: int, n: int) -> None:
    x = _data(seed, n)
    (ref,) = flwr_agg.aggregate_median(_results(x))
    np.testing.assert_array_equal(get("median")(x), ref)


@pytest.mark.parametrize(("seed", "n", "f"), [(s, 10, f) for s in SEEDS for f in (1, 2, 3)])
def test_trimmed_mean_matches_flower(flwr_agg: ModuleType, seed: int, n: int, f: int) -> None:
    assert int(f / n * n) == f  # Flower cuts int(proportion · n) at each end
    x = _data(seed, n)
    (ref,) = flwr_agg.aggregate_trimmed_avg(_results(x), proportiontocut=f / n)
    np.testing.assert_allclose(get("trimmed_mean", f=f)(x), ref, rtol=1e-12)


@pytest.mark.parametrize(
    ("seed", "n", "f"), [(s, n, f) for s in SEEDS for n, f in [(7, 1), (11, 3)]]
)
def test_krum_and_multi_krum_match_flower(flwr_agg: ModuleType, seed: int, n: int, f: int) -> None:
    x = _data(seed, n)
    (ref,) = flwr_agg.aggregate_krum(_results(x), num_malicious=f, to_keep=0)
    np.testing.assert_array_equal(get("krum", f=f)(x), ref)
    for m in (1, 3, n - f):
        (ref_m,) = flwr_agg.aggregate_krum(_results(x), num_malicious=f, to_keep=m)
        np.testing.assert_allclose(get("multi_krum", f=f, m=m)(x), ref_m, rtol=1e-12)


@pytest.mark.parametrize(
    ("seed", "n", "f"), [(s, n, f) for s in SEEDS for n, f in [(7, 1), (12, 2)]]
)
def test_bulyan_matches_flower(flwr_agg: ModuleType, seed: int, n: int, f: int) -> None:
    # The last Krum rounds score on one neighbour, where mutual nearest neighbours tie
    # exactly; Flower takes the first by position, we the lexicographically smaller row.
    # Rows in lexicographic order make the two rules coincide.
    x = _data(seed, n)
    x = x[np.lexsort(x.T[::-1])]
    (ref,) = flwr_agg.aggregate_bulyan(
        _results(x), num_malicious=f, aggregation_rule=flwr_agg.aggregate_krum, to_keep=0
    )
    np.testing.assert_allclose(get("bulyan", f=f)(x), ref, rtol=1e-12)


# -- ByzFL -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def byzfl() -> ModuleType:
    return _quiet_import("byzfl")


@pytest.mark.parametrize("seed", SEEDS)
def test_coordinate_rules_match_byzfl(byzfl: ModuleType, seed: int) -> None:
    x = _data(seed, 9)
    np.testing.assert_allclose(get("mean")(x), byzfl.Average()(x), rtol=1e-12)
    np.testing.assert_allclose(get("median")(x), byzfl.Median()(x), rtol=1e-12)
    for f in (1, 2, 4):
        np.testing.assert_allclose(get("trimmed_mean", f=f)(x), byzfl.TrMean(f=f)(x), rtol=1e-12)


@pytest.mark.parametrize(
    ("seed", "n", "f"), [(s, n, f) for s in SEEDS for n, f in [(7, 1), (11, 3)]]
)
def test_krum_family_matches_byzfl(byzfl: ModuleType, seed: int, n: int, f: int) -> None:
    x = _data(seed, n)
    # ByzFL's Krum(f') scores on n − f' − 1 neighbours: f' = f + 1 gives our n − f − 2.
    np.testing.assert_array_equal(get("krum", f=f)(x), byzfl.Krum(f=f + 1)(x))
    np.testing.assert_allclose(
        get("multi_krum", f=f, m=n - f - 1)(x), byzfl.MultiKrum(f=f + 1)(x), rtol=1e-12
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_geometric_median_matches_byzfl(byzfl: ModuleType, seed: int) -> None:
    x = _data(seed, 8, d=3)
    ref = byzfl.GeometricMedian(nu=1e-12, T=20_000)(x)
    ours = get("geometric_median", tol=1e-14, max_iter=100_000)(x)
    np.testing.assert_allclose(ours, ref, atol=1e-8)


@pytest.mark.parametrize("seed", SEEDS)
def test_centered_clipping_matches_byzfl(byzfl: ModuleType, seed: int) -> None:
    x = _data(seed, 8)
    # ByzFL starts from 0 when m is None (byzfl 0.0.11 refuses every explicit m).
    ref = byzfl.CenteredClipping(L=3, tau=0.7)(x)
    ours = get("centered_clipping", tau=0.7, iters=3, center=np.zeros(6))(x)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("seed", "f"), [(s, f) for s in SEEDS for f in (0, 1, 3)])
def test_nearest_neighbor_mixing_matches_byzfl(byzfl: ModuleType, seed: int, f: int) -> None:
    x = _data(seed, 9)
    np.testing.assert_allclose(nearest_neighbor_mixing(x, f), byzfl.NNM(f=f)(x), rtol=1e-12)
