"""Tests of qceas.data.datasets: loading, class selection, splitting and angle encoding."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.data import (
    DATASETS,
    Dataset,
    FeatureEncoder,
    RawDataset,
    UnknownNameError,
    load_dataset,
    prepare_dataset,
)
from qceas.data.datasets import _train_test_indices

ALL = DATASETS.names()
RAW_FEATURES = {"digits": 64, "iris": 4, "breast_cancer": 30, "wine": 13, "moons": 2, "circles": 2}
RAW_CLASSES = {"digits": 10, "iris": 3, "breast_cancer": 2, "wine": 3, "moons": 2, "circles": 2}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def raw(name: str, seed: int = 0) -> RawDataset:
    return DATASETS.get(name, rng=rng(seed))


def test_registry_holds_the_documented_datasets() -> None:
    assert sorted(RAW_FEATURES) == ALL


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("n_features", [1, 3, 6])
def test_shapes_dtypes_and_angle_range(name: str, n_features: int) -> None:
    data = load_dataset(name, n_features=n_features, rng=rng())
    assert isinstance(data, Dataset)
    assert data.name == name
    assert data.n_features == n_features
    assert data.x_train.dtype == np.float64
    assert data.x_test.dtype == np.float64
    assert data.y_train.dtype == np.int64
    assert data.y_test.dtype == np.int64
    assert data.x_train.shape == (data.y_train.shape[0], n_features)
    assert data.x_test.shape == (data.y_test.shape[0], n_features)
    assert data.n_classes == RAW_CLASSES[name] == len(data.class_names)
    for x in (data.x_train, data.x_test):
        assert np.all(np.isfinite(x))
        assert x.min() >= 0.0
        assert x.max() <= np.pi
    # Every class lies on both sides, labelled 0..C-1.
    assert set(np.unique(data.y_train)) == set(range(data.n_classes))
    assert set(np.unique(data.y_test)) == set(range(data.n_classes))
    # The training angles span [0, pi] exactly: the min/max map is fit on them.
    np.testing.assert_allclose(data.x_train.min(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.x_train.max(axis=0), np.pi, atol=1e-12)


@pytest.mark.parametrize("name", ALL)
def test_test_fraction_and_stratification(name: str) -> None:
    data = load_dataset(name, n_features=2, test_fraction=0.25, rng=rng(3))
    n = data.y_train.shape[0] + data.y_test.shape[0]
    assert data.y_test.shape[0] == math.floor(0.25 * n + 0.5)  # halves round up
    counts = np.bincount(np.concatenate([data.y_train, data.y_test]))
    test_counts = np.bincount(data.y_test, minlength=data.n_classes)
    # Largest-remainder apportionment: each class within one sample of its exact share.
    assert np.all(np.abs(test_counts - 0.25 * counts) < 1.0 + 1e-9)
    np.testing.assert_allclose(
        np.bincount(data.y_train) / data.y_train.shape[0], counts / n, atol=0.02
    )


def test_split_is_deterministic_for_a_seed() -> None:
    for name in ("digits", "moons"):
        a = load_dataset(name, n_features=3, rng=rng(7), max_samples=120)
        b = load_dataset(name, n_features=3, rng=rng(7), max_samples=120)
        c = load_dataset(name, n_features=3, rng=rng(8), max_samples=120)
        for field in ("x_train", "y_train", "x_test", "y_test"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        assert not np.array_equal(a.x_train, c.x_train)


def test_global_numpy_random_state_is_untouched() -> None:
    before = np.random.get_state()  # noqa: NPY002 -- the legacy global state
    load_dataset("circles", n_features=2, rng=rng(1), noise=0.2)
    after = np.random.get_state()  # noqa: NPY002
    assert before[0] == after[0]
    np.testing.assert_array_equal(before[1], after[1])
    assert before[2:] == after[2:]


def test_classes_subset_is_relabelled_in_the_given_order() -> None:
    full = raw("digits")
    data = load_dataset("digits", n_features=4, rng=rng(), classes=[3, 1])
    assert data.n_classes == 2
    assert data.class_names == ("3", "1")
    labels = np.concatenate([data.y_train, data.y_test])
    assert set(np.unique(labels)) == {0, 1}
    assert np.sum(labels == 0) == np.sum(full.y == 3)
    assert np.sum(labels == 1) == np.sum(full.y == 1)


def test_classes_first_four_digits() -> None:
    data = load_dataset("digits", n_features=4, rng=rng(), classes=[0, 1, 2, 3])
    assert data.n_classes == 4
    assert data.class_names == ("0", "1", "2", "3")
    assert set(np.unique(data.y_train)) == {0, 1, 2, 3}


def test_classes_none_keeps_everything() -> None:
    data = load_dataset("iris", n_features=2, rng=rng())
    assert data.y_train.shape[0] + data.y_test.shape[0] == 150
    assert data.class_names == ("setosa", "versicolor", "virginica")


def test_max_samples_is_a_stratified_subsample() -> None:
    full = raw("digits")
    data = load_dataset("digits", n_features=4, rng=rng(), max_samples=200)
    labels = np.concatenate([data.y_train, data.y_test])
    assert labels.shape[0] == 200
    share = 200 * np.bincount(full.y) / full.y.shape[0]
    assert np.all(np.abs(np.bincount(labels) - share) < 1.0 + 1e-9)


def test_max_samples_above_dataset_size_keeps_all() -> None:
    data = load_dataset("iris", n_features=2, rng=rng(), max_samples=10_000)
    assert data.y_train.shape[0] + data.y_test.shape[0] == 150


def test_synthetic_parameters_are_honoured() -> None:
    data = load_dataset("moons", n_features=2, rng=rng(), n_samples=100, noise=0.3)
    assert data.y_train.shape[0] + data.y_test.shape[0] == 100
    moons = DATASETS.get("moons", rng=rng(), n_samples=50, noise=0.0)
    # Noise-free moons lie exactly on two unit half circles.
    upper = moons.x[moons.y == 0]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)
    circles = DATASETS.get("circles", rng=rng(), n_samples=40, noise=0.0, factor=0.3)
    inner = circles.x[circles.y == 1]
    np.testing.assert_allclose(np.hypot(inner[:, 0], inner[:, 1]), 0.3)


def test_more_features_than_raw_tiles_cyclically() -> None:
    data = load_dataset("moons", n_features=5, rng=rng())
    for x in (data.x_train, data.x_test):
        np.testing.assert_array_equal(x[:, 0], x[:, 2])
        np.testing.assert_array_equal(x[:, 0], x[:, 4])
        np.testing.assert_array_equal(x[:, 1], x[:, 3])
        assert not np.array_equal(x[:, 0], x[:, 1])


def test_encoding_is_fit_on_training_rows_only() -> None:
    """Changing only the rows that land in the test set leaves the training angles as
    they were, and the test rows are clipped by the training min/max map."""
    iris = raw("iris")
    _, test_idx = _train_test_indices(iris.y, 0.3, rng=rng(5))
    x = iris.x.copy()
    x[test_idx] = x[test_idx] * 1000.0 + 7.0
    moved = RawDataset(x=x, y=iris.y.copy(), class_names=iris.class_names)
    a = prepare_dataset(iris, name="iris", n_features=2, rng=rng(5))
    b = prepare_dataset(moved, name="iris", n_features=2, rng=rng(5))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.x_test, b.x_test)
    assert b.x_test.min() >= 0.0
    assert b.x_test.max() <= np.pi


def test_feature_encoder_statistics_come_from_the_fit_rows() -> None:
    x = raw("wine").x
    train, test = x[:100], x[100:]
    enc = FeatureEncoder.fit(train, 3)
    np.testing.assert_allclose(enc.mean, train.mean(axis=0))
    np.testing.assert_allclose(enc.scale, train.std(axis=0))
    assert enc.components is not None
    np.testing.assert_allclose(enc.components @ enc.components.T, np.eye(3), atol=1e-10)
    # Refitting with other test rows around changes nothing; transform is row-wise.
    again = FeatureEncoder.fit(train, 3)
    np.testing.assert_array_equal(again.components, enc.components)
    np.testing.assert_array_equal(enc.transform(test)[:5], enc.transform(test[:5]))
    # PCA scores: the first axis has the largest training variance.
    z = (train - enc.mean) / enc.scale @ enc.components.T
    assert np.all(np.diff(z.var(axis=0)) <= 1e-9)


def test_feature_encoder_edge_cases() -> None:
    # A constant column maps to angle 0; out-of-range rows are clipped.
    x = np.array([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0]])
    enc = FeatureEncoder.fit(x, 2)
    assert enc.components is None
    np.testing.assert_allclose(enc.transform(x), [[0, 0], [np.pi / 2, 0], [np.pi, 0]])
    np.testing.assert_allclose(
        enc.transform(np.array([[-10.0, 9.0], [10.0, 1.0]])),
        [
            [0, 0],
            [np.pi, 0],
        ],
    )
    # Fewer rows than requested components: the available axes are tiled.
    wide = raw("digits").x[:3]
    angles = FeatureEncoder.fit(wide, 5).transform(wide)
    assert angles.shape == (3, 5)
    with pytest.raises(ValueError, match=re.escape("x must have shape (m, 2), got (2, 3)")):
        enc.transform(np.zeros((2, 3)))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_features=st.integers(1, 8),
    fraction=st.floats(0.1, 0.9),
)
def test_angles_always_in_range(seed: int, n_features: int, fraction: float) -> None:
    data = load_dataset(
        "wine", n_features=n_features, test_fraction=fraction, rng=rng(seed), max_samples=60
    )
    assert data.x_train.shape[1] == n_features
    for x in (data.x_train, data.x_test):
        assert 0.0 <= x.min() <= x.max() <= np.pi


# ---------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_fraction": 1.5}, "data.test_fraction = 1.5: must be in (0, 1)"),
        ({"test_fraction": 0.0}, "data.test_fraction = 0.0: must be in (0, 1)"),
        ({"test_fraction": 1}, "data.test_fraction = 1: must be in (0, 1)"),
        ({"n_features": 0}, "data.n_features = 0: must be >= 1"),
        ({"n_features": 2.5}, "data.n_features = 2.5: must be >= 1"),
        ({"classes": [11]}, "data.classes = [11]: label 11 not in dataset 'digits' (labels 0..9)"),
        (
            {"classes": [1, 11]},
            "data.classes = [1, 11]: label 11 not in dataset 'digits' (labels 0..9)",
        ),
        ({"classes": [-1, 2]}, "data.classes = [-1, 2]: label -1 not in dataset 'digits'"),
        ({"classes": [3]}, "data.classes = [3]: must name at least 2 classes"),
        ({"classes": []}, "data.classes = []: must name at least 2 classes"),
        (
            {"classes": [1, 2, 1]},
            "data.classes = [1, 2, 1]: labels must be distinct, 1 repeated",
        ),
        ({"classes": [1.0, 2]}, "data.classes = [1.0, 2]: labels must be integers"),
        (
            {"max_samples": 19},
            "data.max_samples = 19: must be an integer >= 20 (2 per class for 10 classes)",
        ),
        (
            {"max_samples": 20, "test_fraction": 0.3},
            "data.test_fraction = 0.3: gives 6 test and 14 training samples out of 20; "
            "a stratified split needs at least one sample of each of the 10 classes on "
            "both sides",
        ),
        (
            {"noise": 0.1},
            "data.params.noise = 0.1: dataset 'digits' has no parameter 'noise' "
            "(its parameters: none)",
        ),
    ],
)
def test_validation_messages(kwargs: dict[str, object], message: str) -> None:
    params: dict[str, object] = {"n_features": 4, "rng": rng()}
    params.update(kwargs)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset("digits", **params)  # type: ignore[arg-type]


def test_unknown_dataset_lists_the_known_ones() -> None:
    message = "unknown dataset 'foo' (known: breast_cancer, circles, digits, iris, moons, wine)"
    with pytest.raises(UnknownNameError, match=re.escape(message)):
        load_dataset("foo", n_features=2, rng=rng())


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "moons",
            {"n_samples": 3},
            "data.params.n_samples = 3: must be an integer in [4, 10000000]",
        ),
        ("moons", {"noise": -1.0}, "data.params.noise = -1.0: must be a finite number >= 0"),
        ("circles", {"factor": 1.5}, "data.params.factor = 1.5: must be in (0, 1)"),
        (
            "circles",
            {"radius": 1.0},
            "data.params.radius = 1.0: dataset 'circles' has no parameter 'radius' "
            "(its parameters: n_samples, noise, factor)",
        ),
    ],
)
def test_synthetic_validation_messages(name: str, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset(name, n_features=2, rng=rng(), **kwargs)


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(TypeError, match=re.escape("rng must be a numpy.random.Generator, got int")):
        load_dataset("iris", n_features=2, rng=0)  # type: ignore[arg-type]


def test_class_with_a_single_sample_is_rejected() -> None:
    tiny = RawDataset(
        x=np.arange(10.0).reshape(5, 2),
        y=np.array([0, 0, 0, 0, 1]),
        class_names=("a", "b"),
    )
    message = (
        "dataset 'tiny': class 1 (b) has 1 sample(s); every class needs at least 2 "
        "(one for training, one for testing)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        prepare_dataset(tiny, name="tiny", n_features=2, rng=rng())


def test_raw_dataset_checks_its_labels() -> None:
    with pytest.raises(ValueError, match=re.escape("labels must lie in 0..1")):
        RawDataset(x=np.zeros((2, 1)), y=np.array([0, 2]), class_names=("a", "b"))
