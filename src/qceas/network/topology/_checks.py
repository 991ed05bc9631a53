"""Input checks shared by the topology builders and :func:`build_network`: each names
the argument, its value and the rule it breaks (``efficiency = 1.5: must be in (0, 1]``).

A rule is a predicate on a float array and the words that state it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

from qceas._rules import is_integer
from qceas.network.topology.network import FloatArray

Rule: TypeAlias = tuple[Callable[[FloatArray], NDArray[np.bool_]], str]
GT0: Rule = (lambda x: x > 0, "must be > 0")
GE0: Rule = (lambda x: x >= 0, "must be >= 0")
FIDELITY: Rule = (lambda x: (x >= 0.25) & (x <= 1), "must be in [0.25, 1]")
EFFICIENCY: Rule = (lambda x: (x > 0) & (x <= 1), "must be in (0, 1]")


def as_float(name: str, value: object) -> FloatArray:
    """``value`` as a float array; a non-numeric input names the argument."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number or an array of numbers") from None
    return arr


def check_array(
    name: str, arr: FloatArray, rule: Rule, what: str, labels: list[str] | None = None
) -> FloatArray:
    """``arr``, checked finite and obeying ``rule``; the first bad item is named as
    ``what`` and its label (its index when no ``labels``)."""
    ok, says = rule
    bad = ~(np.isfinite(arr) & ok(arr))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        says = says if np.isfinite(arr[i]) else "must be finite"
        where = labels[i] if labels is not None else str(i)
        raise ValueError(f"{name} = {arr[i]:g} ({what} {where}): {says}")
    return arr


def check_scalar(name: str, value: object, rule: Rule) -> float:
    """``value`` as a float, checked to be one finite number obeying ``rule``."""
    arr = as_float(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} = {value!r}: must be a single number")
    ok, says = rule
    if not np.isfinite(arr):
        raise ValueError(f"{name} = {float(arr):g}: must be finite")
    if not ok(arr):
        raise ValueError(f"{name} = {float(arr):g}: {says}")
    return float(arr)


def check_count(name: str, value: object) -> int:
    """``value`` as an int, checked to be an integer >= 1 (a numpy one too, never a bool)."""
    if not (is_integer(value) and int(value) >= 1):
        raise ValueError(f"{name} = {value!r}: must be an integer >= 1")
    return int(value)
