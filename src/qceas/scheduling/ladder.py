"""Recurrence purification as a ladder of levels: what a flow whose fresh pairs yield
no key must purify, and the rules a scheduler follows to climb the ladder.

**Why.** On a repeater route of h links of fresh Werner parameter w the end-to-end
pair has F = 1/4 + 3/4·∏ w_i (:func:`qceas.physics.swap_chain`); at F0 = 0.85–0.9
per link this is 0.66–0.81 over 2–3 hops, below the fidelity at which BBM92 yields
key (F ≈ 0.835, ARCHITECTURE §4). Such a pair is worth nothing to a key consumer,
but two of them purified are worth more than the sum: the *recurrence* protocol
(Dür & Briegel, Rep. Prog. Phys. 70, 1381 (2007), §4.1) purifies two level-(ℓ−1)
pairs into one level-ℓ pair, and repeats.

**The ladder.** With F_0 the fidelity of a fresh end-to-end pair and R the
one-round map of the purification protocol on two Werner pairs,

    F_ℓ = R(F_{ℓ−1}, F_{ℓ−1}),   p_ℓ = P_success(F_{ℓ−1}, F_{ℓ−1}),   ℓ = 1..L,

and L is the fewest levels whose output yields key, κ(F_L) > 0. On Werner inputs
BBPSSW and DEJMPS give the same success probability and output fidelity: with
A = F, B = C = D = (1 − F)/3, DEJMPS's A1A2 + B1B2 = F1F2 + (1−F1)(1−F2)/9 and
N = (A1 + B1)(A2 + B2) + (C1 + D1)(C2 + D2) = F1F2 + [F1(1−F2) + F2(1−F1)]/3 +
5(1−F1)(1−F2)/9, BBPSSW's numerator and p (:mod:`qceas.physics.purification`); the
simulator twirls every output back to Werner form, so one ladder serves both
protocols and its fidelities are exactly what the simulator makes of fresh inputs
(inputs that waited in memory give less: the ladder is optimistic there).

**Raw pairs per unit.** A level-ℓ attempt takes two independent level-(ℓ−1) outputs
and succeeds with probability p_ℓ, losing both on failure; the number of attempts up
to the first success is geometric with mean 1/p_ℓ, and by Wald's identity the
expected number of fresh pairs spent on one level-ℓ output is

    E[N_0] = 1,   E[N_ℓ] = 2·E[N_{ℓ−1}]/p_ℓ,

exact (given the inputs' fidelities, which is where decay enters). A flow that
heralds a fresh pair with probability p per slot therefore makes units (level-L
pairs) at a long-run rate p/E[N_L] per attempting slot (renewal-reward theorem).
:class:`~qceas.scheduling.ceas.CEASScheduler` plans such a flow with its exact
per-flow MDP over *units* — a channel of per-slot success p/E[N_L] and fresh
fidelity F_L — which is a heuristic: the time to a unit is a sum of geometric
stages, not one geometric variable; only its mean is kept.

**Memory.** The climb is a binary counter: purify whenever the two lowest-fidelity
stored pairs are at the same level. At most one pair waits per level 1..L−1 and two
at level 0 before they merge, so L + 1 memory slots hold every pair on the way up
(:attr:`Ladder.raw_slots` = L + 1), and a flow with memory M keeps M − L − 1 slots for
units; a ladder needs M ≥ L + 2 (:attr:`Ladder.memory_needed`). The simulator
purifies a flow's two lowest-fidelity pairs (:mod:`qceas.network._state`); every raw
pair (κ = 0) is below every unit (κ > 0), so those are the two lowest raw pairs
whenever the flow holds two.

**Levels of stored pairs.** A stored raw pair of fidelity f is at level
ℓ(f) = #{ℓ ∈ 1..L−1 : f > (F_{ℓ−1} + F_ℓ)/2} (the nearest rung below; a pair that
decayed far enough drops a rung and is then purified with a lower partner, which
only lowers the output). A raw pair is *hopeless* when even fresh partners at every
level above its own cannot lift it to a key-yielding unit:
κ(R(…R(R(f, F_ℓ), F_{ℓ+1})…, F_{L−1})) = 0; fidelity only falls in storage, so it
never will, and it is discarded.

**What is heuristic.** Without decay and with every round succeeding the rule is an
exact binary counter (a unit after 2^L fresh pairs, the replay test). With decay, a
purified pair may land a rung lower than its inputs' level + 1, so the carry check
can hold back generation for a slot for nothing, and the forced purification at
L + 1 raw pairs may merge a fresh pair with a low one while two higher pairs wait and
decay: the fresh pairs spent per unit then exceed E[N_L], which the plan does not see.

Written here rather than taken from a library: no maintained Python package plans
recurrence purification for a Bell-pair scheduler (SeQUeNCe simulates BBPSSW rounds
a user triggers; it does not plan them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.physics import bbpssw

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: The most levels a ladder may have (2^L fresh pairs per unit at best).
MAX_LEVELS = 6


def _round(f1: FloatArray, f2: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(p, F') of one round on Werner pairs (BBPSSW = DEJMPS there, module docstring)."""
    p, f = bbpssw(np.clip(f1, 0.25, 1.0), np.clip(f2, 0.25, 1.0))
    return np.asarray(p, dtype=float), np.asarray(f, dtype=float)


@dataclass(frozen=True)
class Ladder:
    """The recurrence ladder of one flow.

    Attributes:
        fidelity: (L + 1,) F_0..F_L, fresh-input fidelity at every level.
        success: (L,) p_1..p_L.
        raw_pairs: E[N_L], fresh pairs spent per unit on average.
    """

    fidelity: tuple[float, ...]
    success: tuple[float, ...]
    raw_pairs: float

    @property
    def levels(self) -> int:
        """L, the rounds from a fresh pair to a unit (0: fresh pairs are units)."""
        return len(self.success)

    @property
    def raw_slots(self) -> int:
        """Memory slots the climb needs, L + 1 (0 without a climb)."""
        return self.levels + 1 if self.levels else 0

    @property
    def memory_needed(self) -> int:
        """Memory slots a flow needs to climb this ladder: L + 1 on the way up and one
        for a unit, L + 2."""
        return self.levels + 2


def build(
    fresh: float, worth: Callable[[FloatArray], FloatArray], max_levels: int = MAX_LEVELS
) -> Ladder | None:
    """The ladder of a flow whose fresh end-to-end pairs have fidelity ``fresh``.

    ``worth`` is what a pair of a given fidelity is worth (κ for key). Returns the
    ladder of the fewest levels L <= ``max_levels`` with worth(F_L) > 0 (L = 0 when
    fresh pairs are worth something already), or None when no such L exists (also
    when F_0 <= 1/2: recurrence cannot raise a pair of F <= 1/2).
    """
    fidelity = [float(fresh)]
    success: list[float] = []
    raw = 1.0
    while float(worth(np.asarray(fidelity[-1]))) <= 0.0:
        if len(success) >= max_levels or fidelity[-1] <= 0.5:
            return None
        p, f = _round(np.asarray(fidelity[-1]), np.asarray(fidelity[-1]))
        success.append(float(p))
        fidelity.append(float(f))
        raw = 2.0 * raw / float(p)
    return Ladder(fidelity=tuple(fidelity), success=tuple(success), raw_pairs=raw)


def check_levels(value: object) -> int:
    """A scheduler's ``purify_levels`` option: an integer in [0, MAX_LEVELS]."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LEVELS:
        raise ValueError(f"purify_levels = {value!r}: must be an integer in [0, {MAX_LEVELS}]")
    return value


def for_flow(
    fresh: float, worth: Callable[[FloatArray], FloatArray], memory: int, max_levels: int
) -> Ladder | None:
    """The ladder a flow climbs: None when its fresh pairs (fidelity ``fresh``) are
    worth something already, or when no ladder of at most ``max_levels`` levels fits
    its ``memory`` (M >= L + 2, module docstring)."""
    if float(worth(np.asarray(fresh))) > 0.0:
        return None
    found = build(fresh, worth, max_levels=max_levels)
    if found is None or found.levels == 0 or found.memory_needed > memory:
        return None
    return found


@dataclass(frozen=True, eq=False)
class Ladders:
    """The ladders of N flows in arrays, for vectorized rules (flows without a climb
    have L = 0).

    Attributes:
        levels: (N,) L per flow.
        rungs: (N, L_max + 1) F_ℓ, padded with 1.0 past each flow's L.
    """

    levels: IntArray
    rungs: FloatArray

    @classmethod
    def of(cls, ladders: list[Ladder | None]) -> Ladders:
        levels = np.array([0 if la is None else la.levels for la in ladders], dtype=np.int64)
        top = int(levels.max(initial=0))
        rungs = np.ones((len(ladders), top + 1))
        for k, la in enumerate(ladders):
            if la is not None:
                rungs[k, : la.levels + 1] = la.fidelity
        return cls(levels=levels, rungs=rungs)

    def rows(self, index: IntArray) -> Ladders:
        """The ladders of flows ``index`` (one row each, repeats allowed)."""
        return Ladders(levels=self.levels[index], rungs=self.rungs[index])

    def level(self, fidelity: FloatArray) -> IntArray:
        """(N, M) level of each raw pair (rows are flows): the nearest rung below."""
        out = np.zeros(fidelity.shape, dtype=np.int64)
        for ell in range(1, self.rungs.shape[1] - 1):
            mid = 0.5 * (self.rungs[:, ell - 1] + self.rungs[:, ell])
            on = ell < self.levels  # rungs 1..L−1 only
            out += (on[:, None] & (fidelity > mid[:, None])).astype(np.int64)
        return out

    def best_unit(self, fidelity: FloatArray, level: IntArray) -> FloatArray:
        """(N, M) fidelity of the unit a raw pair makes with fresh partners at its level
        and every level above (rows are flows)."""
        f = np.asarray(fidelity, dtype=float).copy()
        for ell in range(self.rungs.shape[1] - 1):
            climb = (level <= ell) & (ell < self.levels[:, None])
            if climb.any():
                partner = np.broadcast_to(self.rungs[:, ell, None], f.shape)
                _, out = _round(f, partner)
                f = np.where(climb, out, f)
        return f

    def liftable(
        self, worthless: BoolArray, fidelity: FloatArray, worth: Callable[[FloatArray], FloatArray]
    ) -> BoolArray:
        """(N, M) the raw pairs to keep: stored pairs worth nothing now (``worthless``)
        of a climbing flow that fresh partners could still lift to a unit worth
        something (module docstring); the others are hopeless."""
        raw = worthless & (self.levels > 0)[:, None]
        if not raw.any():
            return raw
        f = np.where(raw, fidelity, 1.0)
        return raw & (worth(self.best_unit(f, self.level(f))) > 0.0)

    def climb(self, raw: BoolArray, fidelity: FloatArray) -> tuple[BoolArray, BoolArray]:
        """The binary-counter rule for one slot (module docstring), rows are flows.

        Returns ``(purify, room)``, both (N,): purify now when two raw pairs are held
        and the two lowest are at one level, or the climb's L + 1 slots are full;
        generate (``room``) when the climb has a free slot after that purify and the
        purify's output will not meet a raw pair of its own level (that carry is
        purified first, at the next decision, before a fresh pair can come between).
        Flows without a ladder get False for both.
        """
        n, m = fidelity.shape
        climbing = self.levels > 0
        count = raw.sum(axis=1)
        if m < 2:
            return np.zeros(n, dtype=bool), climbing & (count < self.levels + 1)
        f = np.where(raw, fidelity, np.inf)
        order = np.argsort(f, axis=1)
        rows = np.arange(n)
        lowest = np.where(raw[rows[:, None], order], f[rows[:, None], order], 0.0)
        level = self.level(lowest)
        held = np.arange(m)[None, :] < count[:, None]
        same = level[:, 0] == level[:, 1]
        purify = climbing & (count >= 2) & (same | (count >= self.levels + 1))
        # The output's level, one above its inputs' (the lower of the two).
        up = np.minimum(level[:, 0], level[:, 1]) + 1
        others = held & (np.arange(m)[None, :] >= 2)
        carry = purify & (up < self.levels) & (others & (level == up[:, None])).any(axis=1)
        room = climbing & (count - purify < self.levels + 1) & ~carry
        return purify, room
