"""The demand on the network: end-to-end pairs each QPU needs per training round.

Rounds are synchronous and last ``period_s``. In every round QPU k needs ``pairs``
end-to-end pairs with the aggregator (for the key that authenticates its update).
Its update is ready ``ready_s[k]`` after the round starts (its compute time: circuit
depth × shots on its own QPU, so it differs between QPUs but not between rounds), and
the pairs must be consumed between then and the deadline ``ready_s[k] + window_s``:
before its update exists a node has nothing to authenticate, and after the deadline
the aggregator has moved on. Pairs heralded earlier may be stored until then.

In slots of Δ seconds (the simulator's clock) the window of QPU k in every round is
the decision slots ``ready_slot[k] <= s < deadline_slot[k]`` counted from the round's
first slot, with ``ready_slot = ceil(ready/Δ)`` and ``deadline_slot =
floor((ready + window)/Δ)``; a round has ``round_slots = round(period/Δ)`` slots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas._rules import is_real

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

# Round-off guard when times are converted to slot counts: 0.3/0.1 is 2.9999999999999996.
_EPS = 1e-9


@dataclass(frozen=True, eq=False)
class Demand:
    """Pairs each QPU needs per round, and when (see the module docstring).

    Attributes:
        pairs: R >= 1, end-to-end pairs per QPU per round.
        period_s: round period (s), > 0.
        rounds: number of rounds, >= 1.
        ready_s: (N,) time after the round start when each update is ready (s), >= 0.
        window_s: time from ready to the deadline (s), > 0, with
            ``ready_s + window_s <= period_s``.
    """

    pairs: int
    period_s: float
    rounds: int
    ready_s: FloatArray
    window_s: float

    def __post_init__(self) -> None:
        _count("demand.pairs", self.pairs)
        _count("demand.rounds", self.rounds)
        for name in ("period_s", "window_s"):
            value = getattr(self, name)
            if not (is_real(value) and math.isfinite(value) and value > 0):
                raise ValueError(f"demand.{name} = {value!r}: must be a finite number > 0")
        ready = np.asarray(self.ready_s, dtype=float)
        if ready.ndim != 1 or ready.size < 1:
            raise ValueError(f"demand.ready_s has shape {ready.shape}: must be (N,) with N >= 1")
        bad = ~np.isfinite(ready) | (ready < 0)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f"demand.ready_s = {ready[k]:g} (node {k}): must be finite and >= 0")
        late = ready + self.window_s > self.period_s * (1 + _EPS)
        if late.any():
            k = int(np.flatnonzero(late)[0])
            raise ValueError(
                f"demand.ready_s = {ready[k]:g} (node {k}): ready + window_s = "
                f"{ready[k] + self.window_s:g} s must be <= period_s = {self.period_s:g} s"
            )
        ready = ready.copy()
        ready.setflags(write=False)
        object.__setattr__(self, "ready_s", ready)

    @classmethod
    def draw(
        cls,
        n_nodes: int,
        *,
        pairs: int,
        period_s: float,
        rounds: int,
        window_s: float,
        ready_fraction: tuple[float, float] = (0.2, 0.8),
        rng: np.random.Generator,
    ) -> Demand:
        """Ready times drawn uniformly in ``ready_fraction × (period − window)``:
        heterogeneous QPU speeds. ``ready_fraction`` = (low, high) in [0, 1], low <= high."""
        _count("demand.n_nodes", n_nodes)
        low, high = ready_fraction
        if not (0.0 <= low <= high <= 1.0):
            raise ValueError(
                f"demand.ready_fraction = {ready_fraction!r}: must be (low, high) with "
                "0 <= low <= high <= 1"
            )
        if not (is_real(window_s) and is_real(period_s) and 0 < window_s <= period_s):
            raise ValueError(
                f"demand.window_s = {window_s!r}: must be a number in (0, period_s = {period_s!r}]"
            )
        slack = period_s - window_s
        ready = rng.uniform(low, high, size=n_nodes) * slack
        return cls(pairs=pairs, period_s=period_s, rounds=rounds, ready_s=ready, window_s=window_s)

    @property
    def n_nodes(self) -> int:
        return int(self.ready_s.size)

    def slots(self, slot_s: float) -> tuple[int, IntArray, IntArray]:
        """``(round_slots, ready_slot (N,), deadline_slot (N,))`` for slots of ``slot_s``.

        Raises if a window holds no decision slot (the slot is too long for it).
        """
        round_slots = max(1, round(self.period_s / slot_s))
        ready = np.ceil(self.ready_s / slot_s - _EPS).astype(np.int64)
        deadline = np.floor((self.ready_s + self.window_s) / slot_s + _EPS).astype(np.int64)
        deadline = np.minimum(deadline, round_slots)
        empty = deadline <= ready
        if empty.any():
            k = int(np.flatnonzero(empty)[0])
            raise ValueError(
                f"demand.window_s = {self.window_s:g}: node {k}'s window holds no slot of "
                f"{slot_s:g} s; widen the window or shorten the slot"
            )
        return round_slots, ready, deadline


def _count(name: str, value: object) -> int:
    if not (isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"{name} = {value!r}: must be an integer >= 1")
    return int(value)


def as_importance(value: ArrayLike | None, n_nodes: int) -> FloatArray:
    """(N,) non-negative importance weights (uniform when None), checked."""
    if value is None:
        return np.ones(n_nodes)
    arr = np.asarray(value, dtype=float)
    if arr.shape != (n_nodes,):
        raise ValueError(f"importance has shape {arr.shape}: must be ({n_nodes},), one per QPU")
    if not np.all(np.isfinite(arr) & (arr >= 0)):
        raise ValueError("importance: every weight must be finite and >= 0")
    return arr
