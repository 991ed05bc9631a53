"""Tests of qceas.data.splits: IID and Dirichlet (Hsu et al. 2019) node partitions."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.data import DATASETS, split_dirichlet, split_iid
from qceas.data.splits import MAX_DIRICHLET_ATTEMPTS

SEEDS = st.integers(0, 2**32 - 1)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_exact_cover(parts: list[np.ndarray], n_samples: int, n_nodes: int) -> None:
    assert len(parts) == n_nodes
    for part in parts:
        assert part.dtype == np.int64
        assert part.ndim == 1
        assert np.all(np.diff(part) > 0)  # sorted, no repeats within a node
    joined = np.concatenate(parts)
    assert joined.shape[0] == n_samples  # no index on two nodes
    np.testing.assert_array_equal(np.sort(joined), np.arange(n_samples))


def mean_label_entropy(labels: np.ndarray, parts: list[np.ndarray]) -> float:
    """Mean over nodes of the Shannon entropy (nats) of the node's label histogram."""
    entropies = []
    for part in parts:
        p = np.bincount(labels[part]) / part.shape[0]
        p = p[p > 0]
        entropies.append(float(-(p * np.log(p)).sum()))
    return float(np.mean(entropies))


# ------------------------------------------------------------------------------- IID


@settings(max_examples=100, deadline=None)
@given(data=st.data(), n_samples=st.integers(1, 300), seed=SEEDS)
def test_split_iid_is_a_balanced_exact_cover(
    data: st.DataObject, n_samples: int, seed: int
) -> None:
    n_nodes = data.draw(st.integers(1, n_samples))
    parts = split_iid(n_samples, n_nodes, rng=rng(seed))
    assert_exact_cover(parts, n_samples, n_nodes)
    sizes = [part.shape[0] for part in parts]
    assert max(sizes) - min(sizes) <= 1


def test_split_iid_is_deterministic_and_shuffled() -> None:
    a = split_iid(100, 4, rng=rng(3))
    b = split_iid(100, 4, rng=rng(3))
    c = split_iid(100, 4, rng=rng(4))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    # Shuffled, not contiguous blocks.
    assert not np.array_equal(a[0], np.arange(25))


# ------------------------------------------------------------------------- Dirichlet


@st.composite
def dirichlet_cases(draw: st.DrawFn) -> tuple[np.ndarray, int, float, int, int]:
    labels = np.asarray(
        draw(st.lists(st.integers(-2, 6), min_size=1, max_size=200)), dtype=np.int64
    )
    n_samples = labels.shape[0]
    n_nodes = draw(st.integers(1, min(n_samples, 20)))
    alpha = draw(st.floats(1e-3, 1e3))
    min_per_node = draw(st.integers(0, n_samples // n_nodes))
    return labels, n_nodes, alpha, min_per_node, draw(SEEDS)


@settings(max_examples=150, deadline=None)
@given(case=dirichlet_cases())
def test_split_dirichlet_is_an_exact_cover_honouring_the_minimum(
    case: tuple[np.ndarray, int, float, int, int],
) -> None:
    labels, n_nodes, alpha, min_per_node, seed = case
    parts = split_dirichlet(labels, n_nodes, alpha, rng=rng(seed), min_per_node=min_per_node)
    assert_exact_cover(parts, labels.shape[0], n_nodes)
    assert min(part.shape[0] for part in parts) >= min_per_node


def test_split_dirichlet_is_deterministic() -> None:
    labels = DATASETS.get("iris", rng=rng()).y
    a = split_dirichlet(labels, 5, 0.5, rng=rng(11))
    b = split_dirichlet(labels, 5, 0.5, rng=rng(11))
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_top_up_when_redraws_fail() -> None:
    """Tiny alpha and as many nodes as the minimum allows: redraws cannot succeed, so the
    fallback moves samples to the short nodes."""
    labels = np.repeat(np.arange(3), 10)  # 30 samples, 3 classes
    parts = split_dirichlet(labels, 10, 1e-3, rng=rng(0), min_per_node=3)
    assert_exact_cover(parts, 30, 10)
    assert [part.shape[0] for part in parts] == [3] * 10
    assert MAX_DIRICHLET_ATTEMPTS >= 1


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_small_alpha_skews_labels_more_than_large_alpha(name: str) -> None:
    labels = DATASETS.get(name, rng=rng()).y
    n_classes = int(labels.max()) + 1
    skewed = mean_label_entropy(labels, split_dirichlet(labels, 5, 0.05, rng=rng(1)))
    near_iid = mean_label_entropy(labels, split_dirichlet(labels, 5, 100.0, rng=rng(1)))
    assert skewed < 0.5 * near_iid
    # Large alpha is close to the class balance of the whole set (uniform here).
    assert near_iid > 0.95 * np.log(n_classes)


def test_large_alpha_gives_near_equal_shares_per_class() -> None:
    labels = np.repeat(np.arange(4), 1000)
    parts = split_dirichlet(labels, 4, 1e4, rng=rng(2))
    for part in parts:
        counts = np.bincount(labels[part], minlength=4)
        np.testing.assert_allclose(counts, 250, atol=15)


# ------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("n_samples", "n_nodes", "message"),
    [
        (10, 0, "nodes.count = 0: must be >= 1"),
        (10, -3, "nodes.count = -3: must be >= 1"),
        (3, 5, "nodes.count = 5: must be <= the number of training samples (3)"),
        (0, 1, "nodes.count = 1: must be <= the number of training samples (0)"),
        (-1, 1, "n_samples = -1: must be an integer >= 0"),
    ],
)
def test_split_iid_validation(n_samples: int, n_nodes: int, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        split_iid(n_samples, n_nodes, rng=rng())


@pytest.mark.parametrize(
    ("labels", "n_nodes", "alpha", "min_per_node", "message"),
    [
        ([0, 1, 0], 0, 1.0, 1, "nodes.count = 0: must be >= 1"),
        ([0, 1, 0], 4, 1.0, 1, "nodes.count = 4: must be <= the number of training samples (3)"),
        ([0, 1, 0], 2, 0.0, 1, "data.alpha = 0.0: must be > 0"),
        ([0, 1, 0], 2, -0.5, 1, "data.alpha = -0.5: must be > 0"),
        ([0, 1, 0], 2, float("inf"), 1, "data.alpha = inf: must be finite"),
        ([0, 1, 0], 2, 1.0, -1, "data.min_per_node = -1: must be an integer >= 0"),
        (
            [0, 1, 0, 1, 0],
            2,
            1.0,
            3,
            "data.min_per_node = 3: 2 nodes x 3 samples = 6 exceeds the 5 training samples",
        ),
    ],
)
def test_split_dirichlet_validation(
    labels: list[int], n_nodes: int, alpha: float, min_per_node: int, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        split_dirichlet(np.asarray(labels), n_nodes, alpha, rng=rng(), min_per_node=min_per_node)


def test_split_dirichlet_rejects_non_integer_labels() -> None:
    message = "labels must be a 1-D integer array, got shape (2, 2) and dtype int64"
    with pytest.raises(ValueError, match=re.escape(message)):
        split_dirichlet(np.zeros((2, 2), dtype=np.int64), 1, 1.0, rng=rng())
    with pytest.raises(ValueError, match=re.escape("got shape (3,) and dtype float64")):
        split_dirichlet(np.zeros(3), 1, 1.0, rng=rng())


def test_splits_require_a_generator() -> None:
    with pytest.raises(TypeError, match=re.escape("rng must be a numpy.random.Generator")):
        split_iid(4, 2, rng=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=re.escape("rng must be a numpy.random.Generator")):
        split_dirichlet(np.zeros(4, dtype=np.int64), 2, 1.0, rng=1)  # type: ignore[arg-type]
