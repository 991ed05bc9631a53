"""Input checks and small shared kernels of the aggregators.

Every message names the rule, the field and the broken rule, e.g.
``krum: updates[3] contains NaN or Inf`` (ARCHITECTURE §5.7). Nothing here writes to
its inputs: arrays are read, and every derived array is a fresh one.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.spatial.distance import pdist, squareform

FloatArray = NDArray[np.float64]


def check_count(rule: str, name: str, value: object, *, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum``; bools and floats are refused, not rounded."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{rule}: {name} must be an integer >= {minimum} (got {name} = {value!r})")
    if int(value) < minimum:
        raise ValueError(f"{rule}: {name} must be an integer >= {minimum} (got {name} = {value!r})")
    return int(value)


def check_positive(rule: str, name: str, value: object) -> float:
    """``value`` as a finite float > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{rule}: {name} must be a finite number > 0 (got {name} = {value!r})")
    out = float(value)
    if not (np.isfinite(out) and out > 0):
        raise ValueError(f"{rule}: {name} must be a finite number > 0 (got {name} = {value!r})")
    return out


def _real_array(rule: str, name: str, value: ArrayLike) -> FloatArray:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(f"{rule}: {name} must be an array of real numbers") from None
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{rule}: {name} must be an array of real numbers (got dtype {arr.dtype})")
    # ``copy=False`` keeps the caller's float64 buffer; we only ever read from it.
    return arr.astype(np.float64, copy=False)


def check_updates(rule: str, updates: ArrayLike) -> FloatArray:
    """``updates`` as a finite (n, d) float64 array with n, d >= 1 (read-only view)."""
    x = _real_array(rule, "updates", updates)
    if x.ndim != 2:
        raise ValueError(f"{rule}: updates must be a 2-D array (n, d) (got shape {x.shape})")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(
            f"{rule}: updates must have n >= 1 rows and d >= 1 columns (got shape {x.shape})"
        )
    bad = ~np.all(np.isfinite(x), axis=1)
    if np.any(bad):
        raise ValueError(f"{rule}: updates[{int(np.argmax(bad))}] contains NaN or Inf")
    return x


def check_weights(rule: str, weights: ArrayLike | None, n: int) -> FloatArray | None:
    """Validated weights normalised to sum 1, or None when they are all equal.

    Returning None for equal weights makes ``weights=None``, all ones and all 3.0 run
    the very same (unweighted) code path, so they agree exactly, not just to rounding.
    """
    if weights is None:
        return None
    w = _real_array(rule, "weights", weights)
    if w.shape != (n,):
        raise ValueError(
            f"{rule}: weights must have shape ({n},), one per row of updates (got shape {w.shape})"
        )
    bad = ~np.isfinite(w)
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"{rule}: weights[{i}] = {w[i]} must be finite")
    if np.any(w < 0):
        i = int(np.argmax(w < 0))
        raise ValueError(f"{rule}: weights[{i}] = {w[i]:g} must be >= 0")
    total = float(np.sum(w))
    if total <= 0:
        raise ValueError(f"{rule}: weights must not all be zero")
    if np.all(w == w[0]):
        return None
    return w / total


def check_rng(rule: str, rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise ValueError(
            f"{rule}: needs rng, a numpy.random.Generator, given at construction or call "
            f"(got rng = {rng!r})"
        )
    return rng


def canonical_order(x: FloatArray, w: FloatArray | None) -> NDArray[np.intp]:
    """Row order sorted lexicographically by (x[:, 0], x[:, 1], ..., weight).

    Rules that pick rows (Krum, NNM, bucketing) break ties by position; running them on
    this order makes the output depend on the multiset of (row, weight) pairs only, so
    permuting the inputs cannot change it, ties included.
    """
    keys: list[NDArray[np.float64]] = [] if w is None else [w]
    keys.extend(x[:, j] for j in reversed(range(x.shape[1])))
    return np.lexsort(keys)


def squared_distances(x: FloatArray) -> FloatArray:
    """(n, n) squared Euclidean distances; each pair computed once, so exactly symmetric."""
    if x.shape[0] < 2:
        return np.zeros((x.shape[0], x.shape[0]))
    return squareform(pdist(x, metric="sqeuclidean"))


def weighted_mean(x: FloatArray, w: FloatArray | None) -> FloatArray:
    """Σ_i w_i x_i / Σ_i w_i over rows (plain mean for w None or zero total mass).

    ``w`` is (n,) (one weight per row) or (n, d) (per coordinate, after a per-coordinate
    selection). A selection of rows can carry zero mass (all its weights 0), and then
    its plain mean is the only sensible summary.
    """
    if w is None:
        return np.asarray(np.mean(x, axis=0), dtype=np.float64)
    wb = np.broadcast_to(w[:, None] if w.ndim == 1 else w, x.shape)
    mass = np.sum(wb, axis=0)
    num = np.sum(wb * x, axis=0)
    out = np.where(mass > 0, num / np.where(mass > 0, mass, 1.0), np.mean(x, axis=0))
    return np.asarray(out, dtype=np.float64)
