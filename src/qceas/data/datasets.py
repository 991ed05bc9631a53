"""Classification datasets, reduced and scaled for angle encoding on a few qubits.

What this module does
---------------------
A QNN with ``n`` qubits angle-encodes ``n`` real features, each as a rotation angle. The
datasets here are therefore turned into ``(samples, n_features)`` arrays of angles in
``[0, pi]`` by one fixed pipeline (:func:`prepare_dataset`):

1. **Load** a raw dataset from the registry :data:`DATASETS`. Every entry ships inside an
   installed package (scikit-learn's bundled ``load_*`` files, or its ``make_*``
   generators), so nothing is downloaded at run time and runs work offline.
2. **Select classes** (optional): keep only the requested original labels and relabel
   them ``0..C-1`` in the order given.
3. **Subsample** (optional): a stratified subsample of ``max_samples`` rows, so that small
   simulations keep the class balance of the full dataset.
4. **Split** into a stratified held-out test set; every class lands on both sides.
5. **Reduce** the feature count (:class:`FeatureEncoder`): standardize, then project on the
   leading principal components (PCA, Pearson 1901; Jolliffe, *Principal Component
   Analysis*, 2002). When the raw data has no more features than qubits the PCA is skipped
   and the standardized features are **tiled cyclically** to ``n_features`` columns, so
   each extra qubit re-encodes an existing feature (column ``j`` is feature
   ``j mod d``); this is what users of small circuits on 2-D toy data expect.
6. **Scale** each feature to ``[0, pi]`` with the per-feature min/max of the training set.
   Test features go through the same map and are clipped to ``[0, pi]``.

Every statistic of steps 5-6 (means, standard deviations, principal axes, min/max) is fit
on the **training rows only**, so nothing about the test set leaks into training.

Why these choices
-----------------
* ``[0, pi]`` keeps an ``RY``/``RX`` angle encoding injective on each feature: angles
  ``t`` and ``2*pi - t`` give the same ``Z`` expectation, so a ``[0, 2*pi]`` range would
  alias distinct inputs.
* Randomness comes only from the explicit ``numpy.random.Generator`` passed as ``rng``;
  the result is a deterministic function of the arguments and the generator state.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn import datasets as _skd

from qceas._rules import is_integer, is_real
from qceas.data.splits import _check_rng
from qceas.registry import Registry

__all__ = [
    "DATASETS",
    "Dataset",
    "FeatureEncoder",
    "RawDataset",
    "load_dataset",
    "prepare_dataset",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# --------------------------------------------------------------------------- containers


@dataclass(frozen=True, eq=False)
class RawDataset:
    """A dataset as loaded, before selection, splitting and encoding.

    Attributes:
        x: features, shape ``(n_samples, n_raw_features)``, float64.
        y: labels ``0..K-1``, shape ``(n_samples,)``, int64.
        class_names: one name per label, ``len(class_names) == K``.
    """

    x: FloatArray
    y: IntArray
    class_names: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.x.ndim != 2 or self.y.ndim != 1 or self.x.shape[0] != self.y.shape[0]:
            raise ValueError(
                f"raw dataset: x must be (n, d) and y (n,), got x {self.x.shape} "
                f"and y {self.y.shape}"
            )
        n_labels = len(self.class_names)
        if self.y.size and (self.y.min() < 0 or self.y.max() >= n_labels):
            raise ValueError(
                f"raw dataset: labels must lie in 0..{n_labels - 1} (one per class name), "
                f"got {self.y.min()}..{self.y.max()}"
            )


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train/test angles and labels ready for a QNN.

    Attributes:
        name: registry name of the source dataset.
        x_train: angles in ``[0, pi]``, shape ``(n_train, n_features)``, float64.
        y_train: labels ``0..n_classes-1``, shape ``(n_train,)``, int64.
        x_test: angles in ``[0, pi]``, shape ``(n_test, n_features)``, float64.
        y_test: labels, shape ``(n_test,)``, int64.
        n_classes: number of classes ``C``; both splits contain every class.
        class_names: the name of each label ``0..C-1``.
    """

    name: str
    x_train: FloatArray
    y_train: IntArray
    x_test: FloatArray
    y_test: IntArray
    n_classes: int
    class_names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        """Number of encoded features (one per qubit)."""
        return int(self.x_train.shape[1])


# --------------------------------------------------------------------------- registry

DATASETS: Registry[RawDataset] = Registry("dataset")
"""Raw dataset factories. Each takes a keyword ``rng`` plus its own parameters."""


@cache
def _bundled(loader: str) -> tuple[FloatArray, IntArray, tuple[str, ...]]:
    """Read one of scikit-learn's bundled datasets once per process (read from disk)."""
    bunch = getattr(_skd, loader)()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.int64)
    names = tuple(str(name) for name in bunch.target_names)
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y, names


def _from_bundle(loader: str) -> RawDataset:
    x, y, names = _bundled(loader)
    return RawDataset(x=x.copy(), y=y.copy(), class_names=names)


@DATASETS.register("digits")
def _digits(*, rng: np.random.Generator) -> RawDataset:
    """8x8 handwritten digits, 1797 samples, 64 features, 10 classes (UCI optdigits)."""
    return _from_bundle("load_digits")


@DATASETS.register("iris")
def _iris(*, rng: np.random.Generator) -> RawDataset:
    """Fisher's iris, 150 samples, 4 features, 3 classes."""
    return _from_bundle("load_iris")


@DATASETS.register("breast_cancer")
def _breast_cancer(*, rng: np.random.Generator) -> RawDataset:
    """Wisconsin diagnostic breast cancer, 569 samples, 30 features, 2 classes."""
    return _from_bundle("load_breast_cancer")


@DATASETS.register("wine")
def _wine(*, rng: np.random.Generator) -> RawDataset:
    """UCI wine recognition, 178 samples, 13 features, 3 classes."""
    return _from_bundle("load_wine")


#: Most samples a synthetic dataset draws (its arrays must fit in memory).
MAX_SYNTHETIC_SAMPLES = 10**7


def _check_synthetic(n_samples: int, noise: float) -> None:
    if not is_integer(n_samples) or not 4 <= n_samples <= MAX_SYNTHETIC_SAMPLES:
        raise ValueError(
            f"data.params.n_samples = {n_samples}: must be an integer in "
            f"[4, {MAX_SYNTHETIC_SAMPLES}]"
        )
    if not is_real(noise) or not math.isfinite(noise) or noise < 0:
        raise ValueError(f"data.params.noise = {noise}: must be a finite number >= 0")


def _seed_from(rng: np.random.Generator) -> int:
    """A seed for scikit-learn generators, drawn from (and advancing) ``rng``."""
    return int(rng.integers(0, 2**32 - 1))


@DATASETS.register("moons")
def _moons(*, rng: np.random.Generator, n_samples: int = 400, noise: float = 0.1) -> RawDataset:
    """Two interleaving half circles in 2-D (``sklearn.datasets.make_moons``)."""
    _check_synthetic(n_samples, noise)
    x, y = _skd.make_moons(n_samples=n_samples, noise=noise, random_state=_seed_from(rng))
    return RawDataset(
        x=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.int64),
        class_names=("upper_moon", "lower_moon"),
    )


@DATASETS.register("circles")
def _circles(
    *,
    rng: np.random.Generator,
    n_samples: int = 400,
    noise: float = 0.05,
    factor: float = 0.5,
) -> RawDataset:
    """A small circle inside a large one in 2-D (``sklearn.datasets.make_circles``)."""
    _check_synthetic(n_samples, noise)
    if not is_real(factor) or not 0 < factor < 1:
        raise ValueError(f"data.params.factor = {factor}: must be in (0, 1)")
    x, y = _skd.make_circles(
        n_samples=n_samples, noise=noise, factor=factor, random_state=_seed_from(rng)
    )
    return RawDataset(
        x=np.asarray(x, dtype=np.float64),
        y=np.asarray(y, dtype=np.int64),
        class_names=("outer", "inner"),
    )


# --------------------------------------------------------------------------- encoding


@dataclass(frozen=True, eq=False)
class FeatureEncoder:
    """Standardize -> PCA (or cyclic tiling) -> min/max scale to ``[0, pi]``.

    Build it with :meth:`fit` on the training rows only; apply it to any rows with
    :meth:`transform`. All fitted statistics are attributes, so tests and users can check
    that they depend on the training rows alone.

    Attributes:
        mean: per raw feature training mean, shape ``(d,)``.
        scale: per raw feature training standard deviation (1 where it is 0), ``(d,)``.
        components: principal axes ``(k, d)`` with ``k = n_features``, or ``None`` when
            ``n_features >= d`` and the standardized features are tiled instead.
        low: training minimum of each output column before scaling, ``(n_features,)``.
        high: training maximum of each output column before scaling, ``(n_features,)``.
    """

    mean: FloatArray
    scale: FloatArray
    components: FloatArray | None
    low: FloatArray
    high: FloatArray

    @property
    def n_features(self) -> int:
        """Number of output columns."""
        return int(self.low.shape[0])

    @classmethod
    def fit(cls, x_train: FloatArray, n_features: int) -> FeatureEncoder:
        """Fit every statistic on ``x_train`` (shape ``(n, d)``, ``n >= 1``)."""
        _check_n_features(n_features)
        x = np.asarray(x_train, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
            raise ValueError(f"x_train must be a non-empty (n, d) array, got shape {x.shape}")
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        z = (x - mean) / scale
        components: FloatArray | None = None
        if n_features < x.shape[1]:
            # Principal axes of the standardized training rows. With fewer rows than
            # requested components the SVD yields only n rows; the rest are tiled below.
            _, _, vt = np.linalg.svd(z, full_matrices=False)
            components = vt[:n_features]
            # Fix the SVD's sign freedom: the largest-magnitude loading of each axis > 0.
            pivots = np.argmax(np.abs(components), axis=1)
            signs = np.sign(components[np.arange(components.shape[0]), pivots])
            components = components * np.where(signs == 0, 1.0, signs)[:, None]
        reduced = _tile(z if components is None else z @ components.T, n_features)
        return cls(
            mean=mean,
            scale=scale,
            components=components,
            low=reduced.min(axis=0),
            high=reduced.max(axis=0),
        )

    def transform(self, x: FloatArray) -> FloatArray:
        """Angles in ``[0, pi]`` for rows ``x`` (shape ``(m, d)``); out-of-range clipped.

        A column that is constant on the training rows maps to angle 0.
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x must have shape (m, {self.mean.shape[0]}), got {x.shape}")
        z = (x - self.mean) / self.scale
        reduced = _tile(z if self.components is None else z @ self.components.T, self.n_features)
        span = self.high - self.low
        safe = np.where(span > 0, span, 1.0)
        unit = np.where(span > 0, (reduced - self.low) / safe, 0.0)
        return np.clip(unit * np.pi, 0.0, np.pi)


def _tile(z: FloatArray, n_features: int) -> FloatArray:
    """Columns ``j mod k`` of ``z`` for ``j < n_features`` (identity when equal)."""
    k = z.shape[1]
    if k == n_features:
        return z
    return z[:, np.arange(n_features) % k]


# --------------------------------------------------------------------------- pipeline


def load_dataset(
    name: str,
    *,
    n_features: int,
    test_fraction: float = 0.3,
    rng: np.random.Generator,
    classes: Sequence[int] | None = None,
    max_samples: int | None = None,
    **dataset_params: Any,
) -> Dataset:
    """Load dataset ``name`` and return train/test angles for ``n_features`` qubits.

    Args:
        name: a name in :data:`DATASETS` (unknown names raise
            :class:`qceas.registry.UnknownNameError` listing the known ones).
        n_features: number of output features, one per qubit (``>= 1``).
        test_fraction: share of samples held out as a stratified test set, in ``(0, 1)``.
        rng: the only source of randomness (synthetic data, subsample, split).
        classes: original labels to keep, relabelled ``0..C-1`` in the order given;
            ``None`` keeps every class.
        max_samples: size of a stratified subsample taken before splitting;
            ``None`` keeps every sample.
        **dataset_params: parameters of the dataset factory, e.g. ``noise`` and
            ``n_samples`` for ``"moons"`` and ``"circles"``, ``factor`` for ``"circles"``.

    Returns:
        The encoded :class:`Dataset`; see the module docstring for the pipeline.

    Raises:
        ValueError: an argument breaks its rule; the message names the field, the value
            and the rule.
    """
    _check_rng(rng)
    _check_n_features(n_features)
    _check_test_fraction(test_fraction)
    factory = DATASETS.factory(name)
    _check_dataset_params(name, factory, dataset_params)
    raw = factory(rng=rng, **dataset_params)
    return prepare_dataset(
        raw,
        name=name,
        n_features=n_features,
        test_fraction=test_fraction,
        rng=rng,
        classes=classes,
        max_samples=max_samples,
    )


def prepare_dataset(
    raw: RawDataset,
    *,
    name: str,
    n_features: int,
    test_fraction: float = 0.3,
    rng: np.random.Generator,
    classes: Sequence[int] | None = None,
    max_samples: int | None = None,
) -> Dataset:
    """Steps 2-6 of the pipeline on an already loaded ``raw`` dataset.

    Same arguments as :func:`load_dataset`; ``name`` is only used for the result and in
    error messages. Useful for bringing one's own arrays through the same encoding.
    """
    _check_rng(rng)
    _check_n_features(n_features)
    _check_test_fraction(test_fraction)
    x, y, class_names = _select_classes(raw, name, classes)
    n_classes = len(class_names)
    counts = np.bincount(y, minlength=n_classes)
    if counts.min() < 2:
        label = int(np.argmin(counts))
        raise ValueError(
            f"dataset {name!r}: class {label} ({class_names[label]}) has {counts[label]} "
            "sample(s); every class needs at least 2 (one for training, one for testing)"
        )

    if max_samples is not None:
        if not is_integer(max_samples) or max_samples < 2 * n_classes:
            raise ValueError(
                f"data.max_samples = {max_samples}: must be an integer >= {2 * n_classes} "
                f"(2 per class for {n_classes} classes)"
            )
        if max_samples < y.shape[0]:
            keep = _stratified_take(y, int(max_samples), lowest=2, rng=rng)
            x, y = x[keep], y[keep]

    train_idx, test_idx = _train_test_indices(y, test_fraction, rng=rng)
    encoder = FeatureEncoder.fit(x[train_idx], int(n_features))
    return Dataset(
        name=name,
        x_train=encoder.transform(x[train_idx]),
        y_train=y[train_idx].astype(np.int64),
        x_test=encoder.transform(x[test_idx]),
        y_test=y[test_idx].astype(np.int64),
        n_classes=n_classes,
        class_names=class_names,
    )


def _select_classes(
    raw: RawDataset, name: str, classes: Sequence[int] | None
) -> tuple[FloatArray, IntArray, tuple[str, ...]]:
    """Keep ``classes`` (relabelled ``0..C-1`` in the given order), or all of them."""
    x = np.asarray(raw.x, dtype=np.float64)
    y = np.asarray(raw.y, dtype=np.int64)
    n_labels = len(raw.class_names)
    if classes is None:
        if n_labels < 2:
            raise ValueError(f"dataset {name!r} has {n_labels} class(es); at least 2 needed")
        return x, y, raw.class_names
    shown = [c.item() if isinstance(c, np.generic) else c for c in classes]
    if not all(is_integer(c) for c in shown):
        raise ValueError(f"data.classes = {shown}: labels must be integers")
    wanted = [int(c) for c in shown]
    for label in wanted:
        if not 0 <= label < n_labels:
            raise ValueError(
                f"data.classes = {shown}: label {label} not in dataset {name!r} "
                f"(labels 0..{n_labels - 1})"
            )
    duplicates = sorted({c for c in wanted if wanted.count(c) > 1})
    if duplicates:
        raise ValueError(
            f"data.classes = {shown}: labels must be distinct, "
            f"{', '.join(map(str, duplicates))} repeated"
        )
    if len(wanted) < 2:
        raise ValueError(f"data.classes = {shown}: must name at least 2 classes")
    relabel = np.full(n_labels, -1, dtype=np.int64)
    relabel[wanted] = np.arange(len(wanted), dtype=np.int64)
    mask = relabel[y] >= 0
    return x[mask], relabel[y[mask]], tuple(raw.class_names[c] for c in wanted)


def _apportion(total: int, quota: FloatArray, low: IntArray, high: IntArray) -> IntArray:
    """Integers ``a`` with ``sum(a) == total``, ``low <= a <= high``, ``a`` close to ``quota``.

    Largest-remainder rounding under bounds: start from the clipped floors, then hand out
    (or take back) single units where the quota is furthest from the allocation. Ties go
    to the lower index, so the result is deterministic. Requires
    ``sum(low) <= total <= sum(high)``.
    """
    alloc = np.clip(np.floor(quota).astype(np.int64), low, high)
    while (gap := total - int(alloc.sum())) != 0:
        if gap > 0:
            room = alloc < high
            gain = np.where(room, quota - alloc, -np.inf)
            alloc[int(np.argmax(gain))] += 1
        else:
            room = alloc > low
            loss = np.where(room, alloc - quota, -np.inf)
            alloc[int(np.argmax(loss))] -= 1
    return alloc


def _per_class(labels: IntArray, rng: np.random.Generator) -> list[IntArray]:
    """Shuffled indices of each class ``0..C-1``."""
    return [rng.permutation(np.flatnonzero(labels == c)) for c in range(int(labels.max()) + 1)]


def _stratified_take(
    labels: IntArray, n_take: int, *, lowest: int, rng: np.random.Generator
) -> IntArray:
    """Sorted indices of a stratified random subset of size ``n_take``."""
    counts = np.bincount(labels)
    quota = n_take * counts / counts.sum()
    take = _apportion(n_take, quota, np.minimum(counts, lowest), counts)
    pools = _per_class(labels, rng)
    return np.sort(np.concatenate([pool[:k] for pool, k in zip(pools, take, strict=True)]))


def _train_test_indices(
    labels: IntArray, test_fraction: float, *, rng: np.random.Generator
) -> tuple[IntArray, IntArray]:
    """Stratified (train, test) index arrays, each sorted; every class on both sides.

    The test set has ``round(test_fraction * n)`` rows (halves round up), shared out over
    the classes in proportion to their sizes.
    """
    n = labels.shape[0]
    counts = np.bincount(labels)
    n_classes = counts.shape[0]
    n_test = math.floor(test_fraction * n + 0.5)
    if not n_classes <= n_test <= n - n_classes:
        raise ValueError(
            f"data.test_fraction = {test_fraction}: gives {n_test} test and {n - n_test} "
            f"training samples out of {n}; a stratified split needs at least one sample of "
            f"each of the {n_classes} classes on both sides"
        )
    quota = n_test * counts / n
    per_class = _apportion(n_test, quota, np.ones_like(counts), counts - 1)
    pools = _per_class(labels, rng)
    test = np.concatenate([pool[:k] for pool, k in zip(pools, per_class, strict=True)])
    train = np.concatenate([pool[k:] for pool, k in zip(pools, per_class, strict=True)])
    return np.sort(train), np.sort(test)


# --------------------------------------------------------------------------- validation


def _check_n_features(n_features: int) -> None:
    if not is_integer(n_features) or n_features < 1:
        raise ValueError(f"data.n_features = {n_features}: must be >= 1")


def _check_test_fraction(test_fraction: float) -> None:
    if not is_real(test_fraction) or not 0 < test_fraction < 1:
        raise ValueError(f"data.test_fraction = {test_fraction}: must be in (0, 1)")


def _check_dataset_params(
    name: str, factory: Callable[..., RawDataset], params: dict[str, Any]
) -> None:
    accepted = [p for p in inspect.signature(factory).parameters if p != "rng"]
    for key in params:
        if key not in accepted:
            listed = ", ".join(accepted) if accepted else "none"
            raise ValueError(
                f"data.params.{key} = {params[key]}: dataset {name!r} has no parameter {key!r} "
                f"(its parameters: {listed})"
            )
