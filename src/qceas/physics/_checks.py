"""Input checks shared by the physics functions: one clear message per broken rule."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray


def as_array(name: str, value: ArrayLike) -> NDArray[np.float64]:
    """A float array of ``value``; a non-numeric input names the field."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number or an array of numbers") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} = {_first(arr, ~np.isfinite(arr))}: must be finite")
    return arr


def _first(arr: NDArray[np.float64], bad: NDArray[np.bool_]) -> str:
    value = float(arr[bad].flat[0]) if arr.ndim else float(arr)
    if arr.ndim and arr.size > 1:
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"[{index[0]}]" if len(index) == 1 else str(list(index))
        return f"{value:g} (at {where})"
    return f"{value:g}"


def in_range(
    name: str, value: ArrayLike, low: float, high: float, *, open_low: bool = False
) -> NDArray[np.float64]:
    """``value`` as an array, checked to lie in [low, high] (or (low, high])."""
    arr = as_array(name, value)
    bad = ~((arr > low if open_low else arr >= low) & (arr <= high))
    if np.any(bad):
        bracket = "(" if open_low else "["
        raise ValueError(f"{name} = {_first(arr, bad)}: must be in {bracket}{low:g}, {high:g}]")
    return arr


def positive(name: str, value: ArrayLike) -> NDArray[np.float64]:
    arr = as_array(name, value)
    bad = ~(arr > 0)
    if np.any(bad):
        raise ValueError(f"{name} = {_first(arr, bad)}: must be > 0")
    return arr


def non_negative(name: str, value: ArrayLike) -> NDArray[np.float64]:
    arr = as_array(name, value)
    bad = ~(arr >= 0)
    if np.any(bad):
        raise ValueError(f"{name} = {_first(arr, bad)}: must be >= 0")
    return arr
