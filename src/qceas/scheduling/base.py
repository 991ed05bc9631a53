"""The scheduler registry and the selection helpers the policies share.

A scheduler implements :class:`qceas.network.interface.Scheduler`: ``prepare(context)``
once, then ``decide(view, rng=...) -> Decision`` every slot. Policies are registered
by name in :data:`SCHEDULERS`; ``SCHEDULERS.get("greedy", cutoff_s=0.01)`` builds one.
"""

from __future__ import annotations

import math
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

from qceas.network.interface import Scheduler, SlotView
from qceas.registry import Registry

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]

#: Scheduling policies by name.
SCHEDULERS: Registry[Scheduler] = Registry("scheduler")


def pick(stored: BoolArray, order: FloatArray, count: IntArray) -> BoolArray:
    """The first ``count[k]`` stored pairs of each row, by ascending ``order``.

    Args:
        stored: (N, M) which entries hold a pair.
        order: (N, M) sort key (ties: lower column first).
        count: (N,) how many to pick per row (more than stored picks all).
    """
    key = np.where(stored, order, np.inf)
    rank = np.empty_like(key, dtype=np.int64)
    rows = np.arange(key.shape[0])[:, None]
    rank[rows, np.argsort(key, axis=1, kind="stable")] = np.arange(key.shape[1])[None, :]
    return stored & (rank < np.asarray(count)[:, None])


def consumable(view: SlotView) -> IntArray:
    """(N,) pairs each flow may consume now: its remaining demand inside its window."""
    return np.where(view.in_window, view.remaining, 0)


def check_seconds(name: str, value: object, *, allow_none: bool = False) -> float | None:
    """A positive finite number of seconds (or None where allowed)."""
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        rule = "None or a number > 0" if allow_none else "a number > 0"
        raise ValueError(f"{name} = {value!r}: must be {rule} (seconds)")
    return float(value)


def check_probability(name: str, value: object) -> float:
    """A number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} = {value!r}: must be a number in [0, 1]")
    return float(value)
