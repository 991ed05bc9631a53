"""Homogeneous repeater chains in discrete time, and a Monte Carlo simulation of them
vectorized over trials.

The model is that of Iñesta, Vardoyan, Scavuzzo & Wehner, "Optimal entanglement
distribution policies in homogeneous repeater chains with cutoffs", npj Quantum
Information 9, 46 (2023) (arXiv:2207.06533), with the slot conventions of their code
(github.com/AlvaroGI/optimal-homogeneous-chain, ``environment.py``: ``Environment.step``
and ``main.simulate_environment``), which this module follows exactly:

* ``n >= 3`` nodes ``0 .. n−1`` in a line and ``n − 1`` elementary links ``(k, k+1)``.
  Every node has one memory per side (``memory_slots: 1``). A *virtual link* ``(i, j)``,
  ``i < j``, holds node i's right memory and node j's left memory; its *age* is the
  number of slots since the oldest elementary link it was made of was generated.
* Slot ``t = 1, 2, …`` does, in this order:

  1. **generation**: every elementary link ``(k, k+1)`` whose two memories are free (no
     link starts at k, none ends at k+1) is generated with probability ``p``, age 0;
  2. **swaps**: the policy picks nodes among those holding two links (one on each side).
     A *run* of ``m`` picked nodes that are consecutive along the virtual path is one
     chained swap, all or nothing: with probability ``p_s^m`` it leaves one link from
     the run's leftmost to its rightmost end, of the largest age of its inputs; otherwise
     every link of the run is lost (their code removes the inputs of a failed swap and
     then finds the neighbouring swaps without their inputs). Runs are independent;
  3. **delivery**: if a link ``(0, n−1)`` now exists the slot delivers: the delivery time
     is ``T = t`` (the first generation counts as slot 1: ``T`` is their ``time − 1``);
  4. **cutoff**: links of age ``>= t_cut`` are discarded;
  5. **ageing**: every link's age grows by one.

  So a link generated in slot t takes part in swaps at ages 0 .. t_cut (slots t .. t +
  t_cut) and is gone after the swaps of slot t + t_cut; with no cutoff ages never matter.

A policy sees the state just before the swaps (as theirs do) and returns the nodes that
swap.

Their model has no fidelity. So that a user can add one, :func:`simulate` also records
for each delivered link its *storage* ``D``: the qubit-slots its qubits spent in memory,
summed over every qubit that went into it (a link holds two qubits, so D grows by 2 per
slot of ageing; a swap adds the inputs' D, its two measured qubits included). With fresh
links of Werner parameter w0 and every qubit depolarizing at rate 1/T (the convention
of :func:`qceas.physics.decay`), the delivered pair is Werner with
``w = w0^(n−1) · exp(−D·slot/T)``: ideal swaps multiply Werner parameters and each
qubit's decay multiplies w by ``e^{−t/T}`` whichever link it is in (Dür & Briegel, Rep.
Prog. Phys. 70, 1381 (2007), §3). A link is taken as fresh at age 0 (the slot's herald
delay is the slot itself).

:func:`simulate` runs ``trials`` independent deliveries from an empty chain, all at
once: per trial the links are arrays indexed by their left end (``right[i] = j`` or
−1, ``age[i]``, ``D``), since a node's right memory holds at most one link. Each slot draws one
uniform per elementary link (generation) and one per inner node (swap outcome) for every
trial still waiting, so the numbers are a function of the seed and ``trials`` only.

The exact expected delivery time of a policy, and the optimal policy, are computed by
``qceas.scheduling.chain_mdp`` from an independent enumeration of the same rules; this
module is its Monte Carlo check and the simulation ``qceas network`` runs. Nothing in a
well-kept library simulates this model (SeQUeNCe and NetSquid are event-driven physical
simulators with their own timing), hence the hand-written code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]

#: A policy for :func:`simulate`: ``(chain, right, age, stored, swappable) -> swap``
#: where ``right``/``age``/``stored`` are (W, n−1) arrays of the W waiting trials (left
#: end -> right end or −1, age, storage D), ``swappable`` (W, n) marks the nodes holding
#: two links, and the result (W, n) marks the nodes that swap (a subset of
#: ``swappable``).
ChainPolicy: TypeAlias = Callable[["Chain", IntArray, IntArray, IntArray, BoolArray], BoolArray]

#: Largest chain :func:`simulate` and the exact MDP accept (nodes).
MAX_CHAIN_NODES = 64


@dataclass(frozen=True)
class Chain:
    """A homogeneous repeater chain: ``nodes`` n, attempt success ``p``, swap success
    ``p_s``, cutoff ``t_cut`` in slots (None: links never expire), and optionally its
    pairs' physics: fresh links' Werner parameter ``w0`` and each memory qubit's
    coherence time in slots, ``coherence_slots`` (both or neither)."""

    nodes: int
    p: float
    p_s: float = 1.0
    cutoff: int | None = None
    w0: float | None = None
    coherence_slots: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.nodes, bool) or not isinstance(self.nodes, int):
            raise ValueError(f"nodes = {self.nodes!r}: must be an integer")
        if not 3 <= self.nodes <= MAX_CHAIN_NODES:
            raise ValueError(f"nodes = {self.nodes!r}: must be in [3, {MAX_CHAIN_NODES}]")
        for name in ("p", "p_s"):
            value = getattr(self, name)
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if not ok or not math.isfinite(value) or not 0 < value <= 1:
                raise ValueError(f"{name} = {value!r}: must be in (0, 1]")
        if self.cutoff is not None and (
            isinstance(self.cutoff, bool) or not isinstance(self.cutoff, int) or self.cutoff < 1
        ):
            raise ValueError(f"cutoff = {self.cutoff!r}: must be None or an integer >= 1")
        if (self.w0 is None) != (self.coherence_slots is None):
            raise ValueError("w0 and coherence_slots: give both (the pairs' physics) or neither")
        for name in ("w0", "coherence_slots"):
            value = getattr(self, name)
            if value is None:
                continue
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            high = 1.0 if name == "w0" else math.inf
            if not ok or not math.isfinite(value) or not 0 < value <= high:
                rule = "(0, 1]" if name == "w0" else "(0, inf)"
                raise ValueError(f"{name} = {value!r}: must be in {rule}")

    @property
    def has_memory(self) -> bool:
        """Whether the pairs' physics is given (``w0``, ``coherence_slots``)."""
        return self.w0 is not None

    def delivered_fidelity(self, stored: ArrayLike) -> NDArray[np.float64]:
        """F of a delivered pair of storage D: 1/4 + 3/4·w0^(n−1)·e^(−D/T_slots)."""
        if self.w0 is None or self.coherence_slots is None:
            raise ValueError("delivered_fidelity: the chain has no w0 and coherence_slots")
        d = np.asarray(stored, dtype=float)
        return 0.25 + 0.75 * self.w0**self.links * np.exp(-d / self.coherence_slots)

    @property
    def links(self) -> int:
        """Elementary links, n − 1."""
        return self.nodes - 1


@dataclass(frozen=True)
class Deliveries:
    """What :func:`simulate` returns: the delivery slot of every trial and the storage
    D (qubit-slots) of the link it delivered (module docstring)."""

    slots: IntArray
    qubit_slots: IntArray

    def mean(self) -> float:
        return float(np.mean(self.slots))


def ends_of_links(right: IntArray) -> IntArray:
    """(W, n) left end of the link ending at each node (−1: that memory is free)."""
    trials, links = right.shape
    left = np.full((trials, links + 1), -1, dtype=np.int64)
    rows, starts = np.nonzero(right >= 0)
    left[rows, right[rows, starts]] = starts
    return left


def swappable(right: IntArray) -> BoolArray:
    """(W, n) nodes holding a link on each side (the ends never do)."""
    left = ends_of_links(right)
    out = np.zeros(left.shape, dtype=bool)
    out[:, :-1] = (right >= 0) & (left[:, :-1] >= 0)
    return out


def e2e_path(right: IntArray) -> BoolArray:
    """(W,) whether the links join node 0 to node n−1 (every inner node then holds two
    links and swapping all of them delivers, if the swaps succeed)."""
    trials, links = right.shape
    at = np.zeros(trials, dtype=np.int64)
    for _ in range(links):
        nxt = right[np.arange(trials), np.minimum(at, links - 1)]
        at = np.where((at < links) & (nxt >= 0), nxt, at)
    return at == links


def simulate(
    chain: Chain,
    policy: ChainPolicy,
    trials: int,
    rng: np.random.Generator,
    *,
    max_slots: int = 10_000_000,
) -> Deliveries:
    """Deliver one end-to-end link ``trials`` times from an empty chain under ``policy``.

    Raises:
        ValueError: some trial has not delivered after ``max_slots`` slots.
    """
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials = {trials!r}: must be an integer >= 1")
    n, links = chain.nodes, chain.links
    right = np.full((trials, links), -1, dtype=np.int64)
    age = np.zeros((trials, links), dtype=np.int64)
    stored = np.zeros((trials, links), dtype=np.int64)  # D per link (module docstring)
    waiting = np.arange(trials)
    slots = np.zeros(trials, dtype=np.int64)
    storage = np.zeros(trials, dtype=np.int64)
    t = 0
    while waiting.size:
        t += 1
        if t > max_slots:
            raise ValueError(
                f"{waiting.size} of {trials} trials have not delivered after max_slots = "
                f"{max_slots} slots (expected delivery time too long for a simulation)"
            )
        w = waiting.size
        # 1. generation on every elementary link with both memories free
        left = ends_of_links(right)
        free = (right < 0) & (left[:, 1:] < 0)
        made = free & (rng.random((w, links)) < chain.p)
        k = np.nonzero(made)
        right[k] = k[1] + 1
        age[k] = 0
        stored[k] = 0
        # 2. swaps
        can = swappable(right)
        swap = np.asarray(policy(chain, right, age, stored, can), dtype=bool)
        if swap.shape != (w, n) or np.any(swap & ~can):
            raise ValueError("the policy must return (trials, nodes) swaps of swappable nodes")
        _swap(chain, right, age, stored, swap, rng.random((w, n)) < chain.p_s)
        # 3. delivery
        delivered = right[:, 0] == n - 1
        slots[waiting[delivered]] = t
        storage[waiting[delivered]] = stored[delivered, 0]
        keep = ~delivered
        waiting, right, age, stored = waiting[keep], right[keep], age[keep], stored[keep]
        # 4. cutoff, 5. ageing (both qubits of every link held)
        if chain.cutoff is not None:
            right[(right >= 0) & (age >= chain.cutoff)] = -1
        age += 1
        stored += 2 * (right >= 0)
    return Deliveries(slots, storage)


def _swap(
    chain: Chain,
    right: IntArray,
    age: IntArray,
    stored: IntArray,
    swap: BoolArray,
    ok: BoolArray,
) -> None:
    """Apply the swaps in place: nodes left to right, each merging the link ending at it
    with the one starting at it (oldest age, summed storage); a merged link stays whole
    only if every swap it went through succeeded (``ok``), which makes a run of swaps all
    or nothing."""
    left = ends_of_links(right)
    whole = np.ones(right.shape, dtype=bool)
    for k in range(1, chain.nodes - 1):
        rows = np.nonzero(swap[:, k])[0]
        if rows.size == 0:
            continue
        i, j = left[rows, k], right[rows, k]
        right[rows, i] = j
        age[rows, i] = np.maximum(age[rows, i], age[rows, k])
        stored[rows, i] += stored[rows, k]
        whole[rows, i] &= whole[rows, k] & ok[rows, k]
        right[rows, k] = -1
        left[rows, j] = i
        left[rows, k] = -1
    broken = (right >= 0) & ~whole
    right[broken] = -1


__all__ = [
    "MAX_CHAIN_NODES",
    "Chain",
    "ChainPolicy",
    "Deliveries",
    "e2e_path",
    "ends_of_links",
    "simulate",
    "swappable",
]
