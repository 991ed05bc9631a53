"""Optimal generation, storage and consumption of Bell pairs on one link class (CEAS).

In CEAS (arXiv:2602.06847) a Bell pair between a QPU node and the aggregator is
perishable: a stored Werner pair of initial fidelity F0 decays (ARCHITECTURE §4) as

    F(a) = 1/4 + (F0 − 1/4)·exp(−Γ·a·Δ),      Γ = 1/T_a + 1/T_b,

with its age a in slots of Δ seconds. Every training round the node needs ``demand``
pairs for key distillation, consumed in a window of the last W slots before the
deadline. A pair consumed at age a yields

    κ(a) = s·r(e(F(a))),   e(F) = 2(1 − F)/3,   r(e) = max(0, 1 − 2·h2(e))

secret key bits (asymptotic BBM92, sifting factor s; :mod:`qceas.physics`). This
module states the scheduling problem of *one* link class (one route, treated as a
single heralded channel) as a finite-horizon Markov decision process and solves it
exactly by backward induction.

**The MDP.** Decision epochs are τ = H, H−1, …, 1 (slots left to the deadline; τ = 0
is the deadline). A state is (τ, r, a): r ∈ {0..R} units of demand still unmet and
a = (a_1 ≤ … ≤ a_n) the ages of the n ≤ m stored pairs, each in {0..A}. An action is
(C, k, g):

* C, the stored pairs consumed now: allowed only inside the window (τ ≤ W), at most r
  of them, and only *usable* pairs, κ(a_i) > 0. A pair above the QBER threshold
  yields no key: the distillation aborts (ARCHITECTURE §4), so it cannot meet demand.
* k, how many of the remaining pairs are discarded, always the k *oldest*.
* g ∈ {0, 1}: attempt generation, allowed only if a memory slot is free after
  consumption and discard (n − |C| − k < m).

Within a slot the order is: decide → consume/discard → attempt → ageing → herald.
The kept pairs K (n − |C| − k of them) age by one slot; an attempt heralds a fresh
pair (age 0) with probability p at the end of the slot, so it can first be consumed
at the next decision, and a pair heralded in the last slot arrives at the deadline,
too late to use. The reward of the slot, in secret key bits, is

    ρ(C, k, g) = Σ_{i∈C} κ(a_i) − c_mem·|K| − c_att·g

(memory is charged for the pairs held through the slot; an attempt costs c_att whether
or not it heralds). With K⁺ = (min(a_i + 1, A))_{i∈K} and r' = r − |C|, the Bellman
(optimality) equations are

    V_0(r, a) = −P·r                              (unmet demand; stored pairs are wasted)
    V_τ(r, a) = max_{(C,k,g)} ρ + (1 − p·g)·V_{τ−1}(r', K⁺) + p·g·V_{τ−1}(r', (0) ⊕ K⁺).

State and action sets are finite, so backward induction over τ = 1..H computes the
optimal values exactly, and acting greedily on them is an optimal deterministic Markov
policy (M. L. Puterman, *Markov Decision Processes: Discrete Stochastic Dynamic
Programming*, Wiley 1994, ch. 4, finite-horizon MDPs: the optimality equations and
the backward induction algorithm). "Value iteration converges" here in exactly H
sweeps; :meth:`Policy.bellman_residual` re-applies the Bellman operator to the stored
tables as a check that they are its fixed point.

**Why discard the oldest.** Suppose an action keeps an older pair o and discards a
younger one y (y < o). Keep y instead and let it play o's role: whenever the original
policy would consume o at age o + d, consume y at age y + d. Since κ is nonincreasing
in age (F decreases, e increases, r(e) decreases on [0, 1/2]) y is still usable and
yields κ(y + d) ≥ κ(o + d); every other decision, every memory count and every cost is
unchanged. This coupling is pathwise, so keeping the younger pair is never worse.

**Why the consumed pairs are not always the freshest.** Without the usability rule,
freshest-first would be optimal by an exchange argument (κ is convex in age, so the
gain of consuming the fresher pair now outweighs its later loss). With it, a pair
about to lose its key is worth consuming first. Take κ(0) = 1, κ(1) = 0.6,
κ(2) = 0.25, κ(3) = 0, no costs, P = 5, p = 0.9, pairs aged (1, 2), r = 2 and two
slots left, both in the window. Consuming both now earns 0.85. Freshest-first (consume
the age-1 pair, keep the age-2 one, useless next slot) earns 0.6 + 0.9·1 − 0.1·5 =
1.0. Consuming the *older* pair, keeping the fresher one as a back-up and attempting
earns 0.25 + 0.9·1 + 0.1·0.25 = 1.175. So the action space contains every subset C
of usable pairs (at most 2^m), and :class:`Action` reports which ages were consumed;
a test reproduces such a case from the physics.

**Ages are capped at A.** A pair older than A is treated as age A. The cap is exact
when κ(A) = 0 (such a pair is useless at any older age too) or when A ≥ H − 1 (no pair
heralded in the round is ever older than H − 2 at a decision). By default A is the
first age with κ(A) = 0, or H if that is later; an explicit smaller ``max_age`` with
κ(A) > 0 is an optimistic approximation (old pairs keep κ(A)), reported by
:attr:`LinkClass.ages_exact`.

**Size.** The tables hold (H + 1)·(R + 1)·C(A + 1 + m, m) states (the number of age
multisets of size ≤ m from A + 1 values), e.g. 544,509 for H = 200, R = 2, m = 2,
A = 40, but 8.98·10⁷ for m = 4. :func:`solve` refuses more than ``max_states`` states
(default :data:`MAX_STATES`) and more than ``max_state_actions`` state–action pairs per
slot (default :data:`MAX_STATE_ACTIONS`; a state with n pairs has up to
Σ_c C(n, c)·(n − c + 1)·2 actions, 96 for n = 4). Memory is about 10 bytes per state
plus 24 bytes per state–action pair of one slot, and about as much again in temporaries
while a slot is solved: near the default limits the peak is under 0.5 GB. Time is
dominated by the window slots, where every consumption subset is tried; before the
window only the (at most 2n + 2) non-consuming actions are.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral, Real
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.physics import qber_unchecked, secret_fraction_unchecked, werner_parameter_unchecked

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

#: What a consumed pair is worth to the MDP (``LinkClass.utility``, :meth:`LinkClass.value`).
UTILITIES: tuple[str, ...] = ("key", "gate")
#: Default limit on the number of states (H + 1)·(R + 1)·C(A + 1 + m, m) of a solve.
MAX_STATES = 10_000_000
#: Default limit on the state–action pairs of one slot (the per-slot work and memory).
MAX_STATE_ACTIONS = 10_000_000


# ------------------------------------------------------------------ validation
def _real(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ValueError(f"{name} = {value!r}: must be a finite real number")
    return float(value)


def _integer(name: str, value: object, rule: str, low: int, high: int | None = None) -> int:
    # bool is an Integral too, but True as a pair count is a mistake, not a 1.
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ValueError(f"{name} = {value!r}: must be {rule}")
    number = int(value)
    if number < low or (high is not None and number > high):
        raise ValueError(f"{name} = {value!r}: must be {rule}")
    return number


# -------------------------------------------------------------------- link class
@dataclass(frozen=True)
class LinkClass:
    """One route between a QPU node and the aggregator, as one heralded channel.

    Every cost and penalty is in the unit of :meth:`value` (secret key bits by default).

    Attributes:
        success_probability: p ∈ (0, 1], probability that an attempt in one slot
            heralds a pair.
        initial_fidelity: F0 ∈ [1/4, 1], Werner fidelity of a freshly heralded pair.
        decay_rate: Γ > 0 (1/s), the sum of the two ends' depolarizing rates,
            Γ = 1/T_a + 1/T_b.
        slot: Δ > 0 (s), the duration of one slot.
        memory: m >= 1, pairs the node can hold for this route.
        demand: R >= 1, pairs needed per round.
        horizon: H >= 1, slots from the round start to the deadline.
        window: W ∈ [1, H]; pairs may be consumed only when τ <= W slots are left.
        max_age: A >= 1, the age cap (see the module docstring), or None for the
            first age with zero key bits, at most H (exact either way).
        sift: s ∈ (0, 1], fraction of measured pairs kept by basis sifting (BBM92: 1/2).
        attempt_cost: c_att >= 0 per generation attempt.
        memory_cost: c_mem >= 0 per stored pair per slot.
        utility: ``key`` (the default; a pair is worth κ(a)) or ``gate`` (worth its
            Werner parameter w(a), for pairs spent on teleported gates); costs and
            penalties are then in that unit, and "usable" means value > 0.
        miss_penalty: P >= 0 per unit of demand unmet at the deadline, or None for
            κ(0), the key of the best possible pair. Why κ(0): an update that cannot
            be authenticated is dropped (ARCHITECTURE §1), so a miss must cost
            something, and in the same unit as the key. Relative to a miss, meeting a
            unit with a pair of age a then gains κ(a) + κ(0): 2·κ(0) for a fresh pair
            and at least κ(0) for any usable one, so any usable pair beats a missed
            deadline, while a fresher one is still worth waiting for when it is likely
            to arrive in time.
    """

    success_probability: float
    initial_fidelity: float
    decay_rate: float
    slot: float
    memory: int
    demand: int
    horizon: int
    window: int
    max_age: int | None = None
    sift: float = 0.5
    attempt_cost: float = 0.0
    memory_cost: float = 0.0
    miss_penalty: float | None = None
    utility: str = "key"

    def __post_init__(self) -> None:
        def put(name: str, value: object) -> None:
            # Normalise numpy scalars to Python numbers so that equal classes compare equal.
            object.__setattr__(self, name, value)

        p = _real("success_probability", self.success_probability)
        if not 0.0 < p <= 1.0:
            raise ValueError(
                f"success_probability = {self.success_probability!r}: must be in (0, 1]"
            )
        put("success_probability", p)
        f0 = _real("initial_fidelity", self.initial_fidelity)
        if not 0.25 <= f0 <= 1.0:
            raise ValueError(f"initial_fidelity = {self.initial_fidelity!r}: must be in [0.25, 1]")
        put("initial_fidelity", f0)
        for name in ("decay_rate", "slot"):
            value = _real(name, getattr(self, name))
            if not value > 0.0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be > 0")
            put(name, value)
        for name in ("memory", "demand", "horizon"):
            put(name, _integer(name, getattr(self, name), "an integer >= 1", 1))
        rule = f"an integer in [1, horizon = {self.horizon}]"
        put("window", _integer("window", self.window, rule, 1, self.horizon))
        if self.max_age is not None:
            put("max_age", _integer("max_age", self.max_age, "None or an integer >= 1", 1))
        sift = _real("sift", self.sift)
        if not 0.0 < sift <= 1.0:
            raise ValueError(f"sift = {self.sift!r}: must be in (0, 1]")
        put("sift", sift)
        for name in ("attempt_cost", "memory_cost"):
            value = _real(name, getattr(self, name))
            if not value >= 0.0:
                raise ValueError(f"{name} = {getattr(self, name)!r}: must be >= 0")
            put(name, value + 0.0)  # −0.0 as +0.0: equal classes, equal tables
        if self.miss_penalty is not None:
            value = _real("miss_penalty", self.miss_penalty)
            if not value >= 0.0:
                raise ValueError(f"miss_penalty = {self.miss_penalty!r}: must be None or >= 0")
            put("miss_penalty", value + 0.0)
        if self.utility not in UTILITIES:
            raise ValueError(f"utility = {self.utility!r}: must be one of {', '.join(UTILITIES)}")

    def fidelity(self, age: ArrayLike) -> FloatArray:
        """F(a) = 1/4 + (F0 − 1/4)·exp(−Γ·a·Δ) of a pair stored for ``age`` slots."""
        elapsed = np.asarray(age, dtype=float) * self.slot
        if not np.all(np.isfinite(elapsed) & (elapsed >= 0.0)):
            raise ValueError(f"age = {age!r}: must be finite and >= 0")
        # physics.decay's arithmetic, written out without its input checks (the class's
        # numbers were checked when it was built, and solves call this thousands of
        # times): one coherence time per end, rate 1/T each, with the symmetric split
        # T = 2/Γ giving the total rate Γ of this class.
        rate = 1.0 / (2.0 / self.decay_rate)
        return np.asarray(
            0.25 + (self.initial_fidelity - 0.25) * np.exp(-(rate + rate) * elapsed), dtype=float
        )

    def key_bits(self, age: ArrayLike) -> FloatArray:
        """κ(a) = s·r(e(F(a))), secret key bits of one pair consumed at ``age`` slots."""
        # The unchecked forms equal physics.qber and physics.secret_fraction bit for bit.
        return self.sift * secret_fraction_unchecked(qber_unchecked(self.fidelity(age)))

    def value(self, age: ArrayLike) -> FloatArray:
        """What one pair consumed at ``age`` slots is worth: κ(a) with ``utility =
        'key'``; with ``'gate'`` the Werner parameter w(a) = (4F(a) − 1)/3 of the pair
        that a teleported gate spends (its error channel is affine in w,
        :func:`qceas.physics.teleported_cnot`, and w = 0 carries no entanglement)."""
        if self.utility == "gate":
            return werner_parameter_unchecked(self.fidelity(age))
        return self.key_bits(age)

    @cached_property
    def age_cap(self) -> int:
        """A, the effective age cap: ``max_age``, or its default (module docstring)."""
        if self.max_age is not None:
            return self.max_age
        zero = np.flatnonzero(self.value(np.arange(self.horizon + 1)) <= 0.0)
        return max(1, int(zero[0])) if zero.size else self.horizon

    @cached_property
    def penalty(self) -> float:
        """P, the effective penalty per unmet unit: ``miss_penalty`` or κ(0)."""
        if self.miss_penalty is not None:
            return self.miss_penalty
        return float(self.value(0))

    @property
    def ages_exact(self) -> bool:
        """Whether the age cap changes nothing: κ(A) = 0 or A >= H − 1."""
        return bool(self.value(self.age_cap) <= 0.0) or self.age_cap >= self.horizon - 1

    @property
    def state_count(self) -> int:
        """(H + 1)·(R + 1)·C(A + 1 + m, m), the number of states :func:`solve` tabulates."""
        layer = math.comb(self.age_cap + 1 + self.memory, self.memory)
        return (self.horizon + 1) * (self.demand + 1) * layer


# ----------------------------------------------------------------------- actions
@dataclass(frozen=True)
class Action:
    """What to do in one slot.

    Attributes:
        consume: number of stored pairs consumed now.
        discard: number of the oldest remaining pairs thrown away.
        attempt: whether to attempt generation in this slot.
        consumed_ages: the ages of the consumed pairs, ascending (``consume`` of them):
            not always the freshest (module docstring).
    """

    consume: int
    discard: int
    attempt: bool
    consumed_ages: tuple[int, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.consumed_ages) != self.consume:
            raise ValueError(
                f"consumed_ages = {self.consumed_ages!r}: must list consume = {self.consume} ages"
            )


@dataclass(frozen=True, eq=False)
class _Menu:
    """The actions open to a state holding n pairs, in tie-break order.

    Ties between equally good actions go to the first in this order: no attempt
    before an attempt (an attempt that gains nothing only lowers utilization), more
    consumption before less (use a pair now rather than later at the same value),
    fresher subsets first, fewer discards first.
    """

    n: int
    consumed: tuple[tuple[int, ...], ...]  # positions (ascending age) consumed
    bits: IntArray  # (M,) bitmask of the consumed positions
    count: IntArray  # (M,) |C|
    discard: IntArray  # (M,) k
    attempt: NDArray[np.bool_]  # (M,) g
    kept: tuple[tuple[int, ...], ...]  # positions kept through the slot

    @classmethod
    def build(cls, n: int, memory: int) -> _Menu:
        rows: list[tuple[bool, int, tuple[int, ...], int]] = []
        for attempt in (False, True):
            for c in range(n, -1, -1):
                for consumed in itertools.combinations(range(n), c):
                    for k in range(n - c + 1):
                        if attempt and n - c - k >= memory:
                            continue
                        rows.append((attempt, c, consumed, k))
        kept = []
        for _, _, consumed, k in rows:
            rest = [i for i in range(n) if i not in consumed]
            kept.append(tuple(rest[: len(rest) - k]))
        return cls(
            n=n,
            consumed=tuple(r[2] for r in rows),
            bits=np.array([sum(1 << i for i in r[2]) for r in rows], dtype=np.int64),
            count=np.array([r[1] for r in rows], dtype=np.int64),
            discard=np.array([r[3] for r in rows], dtype=np.int64),
            attempt=np.array([r[0] for r in rows], dtype=bool),
            kept=tuple(kept),
        )

    @cached_property
    def cols(self) -> tuple[IntArray, ...]:
        """cols[c]: the actions consuming at most c pairs."""
        return tuple(np.flatnonzero(self.count <= c) for c in range(self.n + 1))

    @cached_property
    def kept_count(self) -> FloatArray:
        """(M,) |K|, the pairs each action keeps through the slot."""
        return np.array([len(k) for k in self.kept], dtype=float)

    def cost(self, link: LinkClass) -> FloatArray:
        """(M,) c_mem·|K| + c_att·g of each action for ``link``."""
        return link.memory_cost * self.kept_count + link.attempt_cost * self.attempt

    def consumed_sums(self, per_pair: FloatArray) -> FloatArray:
        """(S, M): for each action, the sum of ``per_pair`` (S, n) over the positions it
        consumes, added in ascending position order. Written out rather than as a
        matrix product so that no BLAS kernel chooses the order: the same bits on every
        machine and thread setting (and for n <= 2 the same bits as the product)."""
        out = np.zeros((per_pair.shape[0], len(self.consumed)))
        for i in range(self.n):
            out += per_pair[:, i : i + 1] * ((self.bits >> i) & 1)
        return out

    def unusable(self, per_pair_value: FloatArray) -> IntArray:
        """(S,) bitmask of the positions whose pair is worth nothing (value <= 0)."""
        weights = 1 << np.arange(self.n, dtype=np.int64)
        return ((per_pair_value <= 0.0) * weights).sum(axis=1).astype(np.int64)


# ------------------------------------------------------------ state enumeration
class _States:
    """All age multisets of size 0..m from {0..A}, indexed by rank.

    A sorted multiset a_1 <= … <= a_n maps to the strictly increasing b_i = a_i + i − 1,
    whose colexicographic rank Σ_i C(b_i, i) numbers the C(A + n, n) multisets of size
    n from 0; sizes are laid out one after another (``offset[n]``). The rank is a sum
    of table lookups, so it vectorizes over many states at once.
    """

    def __init__(self, cap: int, memory: int) -> None:
        self.cap = cap
        self.memory = memory
        self.binom = np.array(
            [[math.comb(x, k) for k in range(memory + 1)] for x in range(cap + memory + 1)],
            dtype=np.int64,
        )
        sizes = [math.comb(cap + n, n) for n in range(memory + 1)]
        self.offset = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.size = int(self.offset[-1])
        self.ages: list[IntArray] = []  # ages[n]: (S_n, n), row i has rank offset[n] + i
        for n in range(memory + 1):
            combos = np.array(
                list(itertools.combinations_with_replacement(range(cap + 1), n)), dtype=np.int64
            ).reshape(math.comb(cap + n, n), n)
            order = np.argsort(self.rank(combos) - self.offset[n])
            self.ages.append(combos[order])

    def rank(self, ages: IntArray) -> IntArray:
        """Global indices of sorted, capped multisets, one per row of ``ages`` (N, n)."""
        n = ages.shape[1]
        out = np.full(ages.shape[0], self.offset[n], dtype=np.int64)
        for i in range(n):
            out += self.binom[ages[:, i] + i, i + 1]
        return out

    def index(self, ages: tuple[int, ...]) -> int:
        """Global index of one sorted, capped multiset."""
        total = int(self.offset[len(ages)])
        for i, a in enumerate(ages):
            total += int(self.binom[a + i, i + 1])
        return total


@dataclass(frozen=True, eq=False)
class _Block:
    """Static (τ-independent) data of the states holding n pairs, against their menu."""

    n: int
    start: int  # global index of the first state
    stop: int
    menu: _Menu
    key: FloatArray  # (S_n, M) Σ κ over the consumed pairs
    fid: FloatArray  # (S_n, M) Σ F over the consumed pairs
    unusable: IntArray  # (S_n,) bitmask of positions with κ = 0
    next0: NDArray[np.int32]  # (S_n, M) index of K⁺ (no herald)
    next1: NDArray[np.int32]  # (S_n, M) index of (0) ⊕ K⁺ (herald); next0 where g = 0
    cost: FloatArray  # (M,) c_mem·|K| + c_att·g
    cols: tuple[IntArray, ...]  # cols[c]: the menu actions consuming at most c pairs


def _transitions(states: _States, menu: _Menu) -> tuple[NDArray[np.int32], NDArray[np.int32]]:
    """``(next0, next1)`` of the states holding ``menu.n`` pairs (:class:`_Block`): they
    depend only on the age cap, the memory and the menu, not on the class's physics."""
    cap = states.cap
    ages = states.ages[menu.n]
    m_count = len(menu.consumed)
    # int32 halves the largest tables; solve's limits keep every index below 2^31.
    next0 = np.empty((ages.shape[0], m_count), dtype=np.int32)
    next1 = np.empty_like(next0)
    for j, kept in enumerate(menu.kept):
        aged = np.minimum(ages[:, list(kept)] + 1, cap)
        next0[:, j] = states.rank(aged)
        if menu.attempt[j]:
            fresh = np.zeros((ages.shape[0], 1), dtype=np.int64)
            next1[:, j] = states.rank(np.concatenate([fresh, aged], axis=1))
        else:
            next1[:, j] = next0[:, j]
    return next0, next1


def _blocks(link: LinkClass, states: _States) -> list[_Block]:
    """The blocks of ``link``'s states (:func:`solve`; ``solve_many`` stacks its own)."""
    cap = states.cap
    kappa = link.value(np.arange(cap + 1))
    fidelity = link.fidelity(np.arange(cap + 1))
    blocks = []
    for n in range(link.memory + 1):
        ages = states.ages[n]
        menu, next0, next1 = _menu_and_transitions(states, n)
        worth = kappa[ages]
        blocks.append(
            _Block(
                n=n,
                start=int(states.offset[n]),
                stop=int(states.offset[n + 1]),
                menu=menu,
                key=menu.consumed_sums(worth),
                fid=menu.consumed_sums(fidelity[ages]),
                unusable=menu.unusable(worth),
                next0=next0,
                next1=next1,
                cost=menu.cost(link),
                cols=menu.cols,
            )
        )
    return blocks


#: Menus and transitions by (age cap, memory, n), shared across the classes of a solve.
SharedMenus: TypeAlias = dict[
    tuple[int, int, int], tuple[_Menu, NDArray[np.int32], NDArray[np.int32]]
]


def _menu_and_transitions(
    states: _States, n: int, shared: SharedMenus | None = None
) -> tuple[_Menu, NDArray[np.int32], NDArray[np.int32]]:
    """The menu of the states holding n pairs and their transitions, from ``shared``
    (keyed by age cap, memory and n) when it has them."""
    key = (states.cap, states.memory, n)
    if shared is not None and key in shared:
        return shared[key]
    menu = _Menu.build(n, states.memory)
    found = (menu, *_transitions(states, menu))
    if shared is not None:
        shared[key] = found
    return found


def _q_values(
    link: LinkClass, block: _Block, tau: int, r: int, v_prev: FloatArray
) -> tuple[FloatArray, IntArray]:
    """Q_τ(r, a; action) for every state of ``block`` and the actions that may be legal.

    Returns ``(q, cols)``: ``q[i, j]`` is the value of menu action ``cols[j]`` in the
    block's state i, −inf where that action would consume a pair with κ = 0. Only the
    actions consuming at most r pairs (none outside the window) are evaluated: outside
    the window that skips nine tenths of the menu for m = 4. ``v_prev`` is V_{τ−1},
    shape (R + 1, S). The expectation is written V0 + p·g·(V1 − V0) so that a herald
    that changes nothing (V1 = V0) changes nothing in floating point either, and ties
    stay exact ties.
    """
    menu = block.menu
    cols = block.cols[min(r, block.n) if tau <= link.window else 0]
    count = menu.count[cols]
    r_next = r - count
    v0 = v_prev[r_next, block.next0[:, cols]]
    v1 = v_prev[r_next, block.next1[:, cols]]
    q = block.key[:, cols] - block.cost[cols] + v0
    q += (link.success_probability * menu.attempt[cols]) * (v1 - v0)
    usable = (block.unusable[:, None] & menu.bits[cols]) == 0
    return np.where(usable, q, -np.inf), cols


# ------------------------------------------------------------------------ policy
class Policy:
    """The optimal policy of one :class:`LinkClass`, with its action tables and (unless
    solved with ``solve_many(keep_values=False)``) its value tables.

    Lookups are O(m): the rank of the age multiset, then one table entry. Ages are
    sorted and capped at A (:attr:`LinkClass.age_cap`) on the way in.

    Attributes:
        link: the solved class.
        expected_key_bits: E[Σ value(a) over consumed pairs] from (H, R, ()) (κ, the
            key bits, by default).
        expected_consumed: E[pairs consumed].
        expected_heralded: E[pairs heralded], including those heralded in the last
            slot (they arrive at the deadline, unused).
        expected_attempts: E[generation attempts].
        expected_pair_slots: E[Σ over slots of pairs held through the slot].
        expected_unmet: E[r at the deadline].
        expected_utilization: E[consumed] / E[heralded] (a ratio of expectations, as
            a long-run average over rounds); NaN if the policy never attempts.
        mean_consumed_fidelity: E[Σ F(a) over consumed pairs] / E[consumed]; NaN if
            nothing is consumed.
    """

    def __init__(
        self,
        link: LinkClass,
        states: _States,
        blocks: list[_Block],
        values: FloatArray | None,
        actions: NDArray[np.int16],
    ) -> None:
        self.link = link
        self._states = states
        self._blocks = blocks
        # None: the value tables were not kept (solve_many(keep_values=False), for a
        # scheduler, which needs only the actions).
        self._values_kept = values
        self._actions = actions
        if values is not None:
            values.setflags(write=False)
        self._actions.setflags(write=False)
        self._first_attempt = self._tabulate_first_attempt()
        self._cutoff = self._tabulate_cutoff()

    # ---- expectations from (H, R, ()), by forward propagation on first use (a
    # scheduler needs only the action tables; the propagation took about a sixth of
    # CEAS's prepare)
    @property
    def expected_key_bits(self) -> float:
        return self._expectations["key"]

    @property
    def expected_consumed(self) -> float:
        return self._expectations["consumed"]

    @property
    def expected_heralded(self) -> float:
        return self._expectations["heralded"]

    @property
    def expected_attempts(self) -> float:
        return self._expectations["attempts"]

    @property
    def expected_pair_slots(self) -> float:
        return self._expectations["slots"]

    @property
    def expected_unmet(self) -> float:
        return self._expectations["unmet"]

    @property
    def expected_utilization(self) -> float:
        heralded = self.expected_heralded
        return self.expected_consumed / heralded if heralded > 0.0 else math.nan

    @property
    def mean_consumed_fidelity(self) -> float:
        consumed = self.expected_consumed
        return self._expectations["fid"] / consumed if consumed > 0.0 else math.nan

    # ---- lookups
    def _state(self, tau: int, r: int, ages: Sequence[int], *, decision: bool) -> int:
        link = self.link
        low = 1 if decision else 0
        rule = f"an integer in [{low}, horizon = {link.horizon}]"
        _integer("tau", tau, rule, low, link.horizon)
        _integer("r", r, f"an integer in [0, demand = {link.demand}]", 0, link.demand)
        if len(ages) > link.memory:
            raise ValueError(f"ages = {tuple(ages)!r}: must hold at most memory = {link.memory}")
        for a in ages:
            _integer("age", a, "an integer >= 0", 0)
        return self._states.index(tuple(sorted(min(int(a), link.age_cap) for a in ages)))

    @property
    def _values(self) -> FloatArray:
        if self._values_kept is None:
            raise ValueError(
                "this policy was solved without its value tables (keep_values=False); "
                "solve it again with keep_values=True for values and Bellman residuals"
            )
        return self._values_kept

    def value(self, tau: int, r: int, ages: Sequence[int] = ()) -> float:
        """V_τ(r, a): optimal expected reward-to-go (key bits) from state (τ, r, ages)."""
        return float(self._values[tau, r, self._state(tau, r, ages, decision=False)])

    def action(self, tau: int, r: int, ages: Sequence[int] = ()) -> Action:
        """The optimal action in state (τ, r, ages), τ >= 1."""
        index = self._state(tau, r, ages, decision=True)
        block = self._block_of(len(ages))
        j = int(self._actions[tau, r, index])
        menu = block.menu
        held = self._states.ages[block.n][index - block.start]
        return Action(
            consume=int(menu.count[j]),
            discard=int(menu.discard[j]),
            attempt=bool(menu.attempt[j]),
            consumed_ages=tuple(int(held[i]) for i in menu.consumed[j]),
        )

    def actions(
        self, tau: IntArray, r: IntArray, ages: IntArray
    ) -> tuple[NDArray[np.bool_], IntArray, NDArray[np.bool_]]:
        """Batch form of :meth:`action` for B states at once (no per-state checks).

        Args:
            tau: (B,) slots to the deadline, each in [1, H].
            r: (B,) remaining demand, each in [0, R].
            ages: (B, m) ages of the stored pairs, **sorted ascending within the
                first n entries of a row and −1 after** (at most m pairs); ages above
                A are capped.

        Returns:
            ``(consume, discard, attempt)``: (B, m) consumed positions of the sorted
            ages, (B,) number of oldest remaining pairs to discard, (B,) attempt.
        """
        tau = np.asarray(tau, dtype=np.int64)
        r = np.asarray(r, dtype=np.int64)
        ages = np.asarray(ages, dtype=np.int64)
        b, m = ages.shape
        consume = np.zeros((b, m), dtype=bool)
        discard = np.zeros(b, dtype=np.int64)
        attempt = np.zeros(b, dtype=bool)
        held = (ages >= 0).sum(axis=1)
        positions = 1 << np.arange(m, dtype=np.int64)
        for n in np.unique(held):
            rows = np.flatnonzero(held == n)
            block = self._blocks[int(n)]
            capped = np.minimum(ages[rows, : int(n)], self.link.age_cap)
            index = self._states.rank(capped)
            j = self._actions[tau[rows], r[rows], index].astype(np.int64)
            consume[rows] = (block.menu.bits[j][:, None] & positions[None, :]) != 0
            discard[rows] = block.menu.discard[j]
            attempt[rows] = block.menu.attempt[j]
        return consume, discard, attempt

    def cutoff_age(self, tau: int, r: int) -> int | None:
        """The smallest age at which the policy discards a lone stored pair, if any."""
        self._state(tau, r, (), decision=True)
        found = int(self._cutoff[tau, r])
        return None if found < 0 else found

    def first_attempt(self, r: int) -> int | None:
        """The largest τ at which the policy attempts with an empty memory, if any.

        From (H, r, ()) memory stays empty until the first attempt, so this is when
        generation starts: the just-in-time start.
        """
        _integer("r", r, f"an integer in [0, demand = {self.link.demand}]", 0, self.link.demand)
        found = int(self._first_attempt[r])
        return None if found < 0 else found

    def _block_of(self, n: int) -> _Block:
        return self._blocks[n]

    def _tabulate_first_attempt(self) -> IntArray:
        empty = self._blocks[0].menu.attempt[self._actions[1:, :, 0]]  # (H, R + 1)
        out = np.full(self.link.demand + 1, -1, dtype=np.int64)
        for r in range(self.link.demand + 1):
            taus = np.flatnonzero(empty[:, r]) + 1
            if taus.size:
                out[r] = taus.max()
        return out

    def _tabulate_cutoff(self) -> IntArray:
        one = self._blocks[1]
        discards = one.menu.discard[self._actions[:, :, one.start : one.stop]] > 0
        # Row i of the n = 1 block is the age-i pair (the rank of (a,) is a).
        first = np.argmax(discards, axis=2)
        out = np.where(discards.any(axis=2), first, -1).astype(np.int64)
        out[0] = -1
        return out

    # ---- evaluation
    @cached_property
    def _expectations(self) -> dict[str, float]:
        """Propagate the state distribution from (H, R, ()) under the policy."""
        link = self.link
        size = self._states.size
        width = link.demand + 1
        dist = np.zeros((width, size))
        dist[link.demand, 0] = 1.0
        p = link.success_probability
        key = fid = consumed = attempts = slots = 0.0
        for tau in range(link.horizon, 0, -1):
            nxt = np.zeros(width * size)
            for block in self._blocks:
                menu = block.menu
                kept_len = menu.kept_count
                for r in range(width):
                    d = dist[r, block.start : block.stop]
                    rows = np.flatnonzero(d > 0.0)
                    if not rows.size:
                        continue
                    w = d[rows]
                    j = self._actions[tau, r, block.start + rows].astype(np.int64)
                    att = menu.attempt[j]
                    key += float(w @ block.key[rows, j])
                    fid += float(w @ block.fid[rows, j])
                    consumed += float(w @ menu.count[j])
                    attempts += float(w @ att)
                    slots += float(w @ kept_len[j])
                    base = (r - menu.count[j]) * size
                    herald = w * (p * att)
                    nxt += np.bincount(
                        base + block.next0[rows, j], weights=w - herald, minlength=width * size
                    )
                    nxt += np.bincount(
                        base + block.next1[rows, j], weights=herald, minlength=width * size
                    )
            dist = nxt.reshape(width, size)
        return {
            "key": key,
            "fid": fid,
            "consumed": consumed,
            "attempts": attempts,
            "heralded": p * attempts,
            "slots": slots,
            "unmet": float(np.arange(width) @ dist.sum(axis=1)),
        }

    def bellman_residual(self) -> float:
        """max over states with τ >= 1 of |V_τ − max_a Q_τ(a)| and |V_τ − Q_τ(π(τ))|.

        Re-applies the Bellman operator to the stored tables: zero (to rounding) when
        they are its fixed point and the stored actions attain it.
        """
        worst = 0.0
        for tau in range(1, self.link.horizon + 1):
            for block in self._blocks:
                rows = np.arange(block.stop - block.start)
                for r in range(self.link.demand + 1):
                    q, cols = _q_values(self.link, block, tau, r, self._values[tau - 1])
                    v = self._values[tau, r, block.start : block.stop]
                    stored = self._actions[tau, r, block.start : block.stop]
                    at = np.minimum(np.searchsorted(cols, stored), cols.size - 1)
                    # An action outside the legal columns is an error: count it as −inf.
                    chosen = np.where(cols[at] == stored, q[rows, at], -np.inf)
                    worst = max(
                        worst,
                        float(np.max(np.abs(v - q.max(axis=1)))),
                        float(np.max(np.abs(v - chosen))),
                    )
        return worst


# -------------------------------------------------------------------------- solve
def check_size(link: LinkClass, *, max_states: int, max_state_actions: int) -> None:
    """Refuse (ValueError) a class whose tables exceed ``max_states`` states or
    ``max_state_actions`` state–action pairs per slot (:func:`solve`), or whose values
    could overflow: every value is a sum of at most R rewards, H·(m·c_mem + c_att) of
    costs and R penalties, so that bound, with room for the difference of two values,
    must be finite (the solvers' tie rules and
    :func:`~qceas.scheduling.mdp_batch.solve_many`'s exactness assume finite values)."""
    bound = link.demand * (float(link.value(0)) + link.penalty) + link.horizon * (
        link.memory * link.memory_cost + link.attempt_cost
    )
    if not math.isfinite(4.0 * bound):
        raise ValueError(
            f"miss_penalty = {link.miss_penalty!r}, attempt_cost = {link.attempt_cost!r}, "
            f"memory_cost = {link.memory_cost!r}: the values of this class overflow "
            "(4·(demand·(value + penalty) + horizon·(memory·memory_cost + attempt_cost)) "
            "must be finite)"
        )
    count = link.state_count
    shape = (
        f"horizon = {link.horizon}, demand = {link.demand}, memory = {link.memory}, "
        f"max_age = {link.age_cap}"
    )
    if count > max_states:
        raise ValueError(
            f"{shape}: {count:,} states (horizon + 1)·(demand + 1)·C(max_age + 1 + memory, "
            f"memory) exceed max_states = {max_states:,}; lower max_age, memory or horizon, "
            "or raise max_states"
        )
    cap, m = link.age_cap, link.memory
    pairs = sum(
        math.comb(cap + n, n) * sum(math.comb(n, c) * (n - c + 1) for c in range(n + 1)) * 2
        for n in range(m + 1)
    )
    if pairs > max_state_actions:
        raise ValueError(
            f"{shape}: about {pairs:,} state-action pairs per slot exceed max_state_actions "
            f"= {max_state_actions:,}; lower max_age or memory, or raise max_state_actions"
        )


def solve(
    link: LinkClass,
    *,
    max_states: int = MAX_STATES,
    max_state_actions: int = MAX_STATE_ACTIONS,
) -> Policy:
    """Optimal policy of ``link`` by backward induction over τ = 1..H (exact).

    Args:
        link: the link class.
        max_states: refuse (ValueError) more states than this, (H + 1)·(R + 1)·C(A + 1 + m, m).
        max_state_actions: refuse more state–action pairs per slot than this.

    Returns:
        The :class:`Policy`, with its value and action tables and its expected key bits
        and utilization from (H, R, ()), evaluated exactly by forward propagation.
    """
    check_size(link, max_states=max_states, max_state_actions=max_state_actions)
    cap, m = link.age_cap, link.memory
    states = _States(cap, m)
    blocks = _blocks(link, states)
    width = link.demand + 1
    values = np.empty((link.horizon + 1, width, states.size))
    actions = np.full((link.horizon + 1, width, states.size), -1, dtype=np.int16)
    # Terminal value: unmet demand is penalised; pairs still stored are simply wasted.
    values[0] = -link.penalty * np.arange(width, dtype=float)[:, None]
    for tau in range(1, link.horizon + 1):
        for block in blocks:
            rows = np.arange(block.stop - block.start)
            for r in range(width):
                q, cols = _q_values(link, block, tau, r, values[tau - 1])
                # argmax returns the first maximum: ties follow the menu order.
                best = np.argmax(q, axis=1)
                values[tau, r, block.start : block.stop] = q[rows, best]
                actions[tau, r, block.start : block.stop] = cols[best]
    return Policy(link, states, blocks, values, actions)
