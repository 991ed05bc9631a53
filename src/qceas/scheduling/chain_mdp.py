"""The exact Markov decision process of a homogeneous repeater chain: expected delivery
time (and key per slot) of any stationary policy, and the optimal policies, by policy
iteration.

The chain and its slot rules are those of :mod:`qceas.network.chain` (Iñesta, Vardoyan,
Scavuzzo & Wehner, npj Quantum Inf. 9, 46 (2023), with the conventions of their code);
this module enumerates them independently, with states as sets of links rather than the
simulator's arrays, so that the two check each other.

**States and actions.** A state ``s`` is the set of links just before the swaps of a
slot, each ``(i, j, a, d)``: ends ``i < j``, age ``a`` (``0 <= a <= t_cut``; with no
cutoff ages change nothing and are all kept at 0) and storage ``d`` (kept at 0 unless
the key objective below needs it). An action is a set of nodes holding two links; the
empty set (wait) is always allowed.

**Transitions.** Action ``A`` in ``s``: the runs of ``A`` (nodes consecutive along the
virtual path) succeed independently, a run of ``m`` swaps with probability ``p_s^m``,
which gives the post-swap sets ``u`` with their probabilities. If ``u`` holds ``(0,
n−1)`` the slot delivers (absorbing). Otherwise the links of age ``>= t_cut`` go, every
age grows by one, and each elementary link with both memories free is generated with
probability ``p``: the next state ``s'`` (``2^g`` outcomes for ``g`` free links).

**Objective.** Every slot costs 1. With ``D(s)`` the expected number of slots until
delivery counting the current one,

    D(s) = 1 + Σ_{s'} P(s' | s, A) · D(s')        (the delivering outcomes add 0),

so a policy π has ``(I − P_π) D = 1``, one sparse linear solve (exact up to rounding,
where their code iterates to a tolerance). The expected delivery time from an empty
chain is ``E[T] = Σ_{s1} P(s1) · D(s1)`` over the states after the first generation;
it equals their ``−(v0 + 1)``.

**Optimum.** A stochastic shortest-path problem whose every policy that eventually
swaps is proper (delivers with probability one) and whose improper policies (never
swapping a needed node) cost infinity: policy iteration from a proper policy stays
proper and ends at an optimal stationary policy in finitely many steps (Bertsekas &
Tsitsiklis, "An analysis of stochastic shortest path problems", Math. Oper. Res. 16
(1991) 580). We start from swap-asap and change a state's action only where another
action is better by more than ``1e-12 · D`` (ties keep the current action, so the
iteration ends), hence ``E[T]_optimal <= E[T]_swap-asap`` exactly.

**Key per slot** (``build(..., storage=True)``, :func:`solve_key_rate`). With the
pairs' physics (``Chain.w0``, ``Chain.coherence_slots``) each link also carries its
storage D (qubit-slots, :mod:`qceas.network.chain`), bounded by 2(n−1)·t_cut, and a
delivery of storage D is worth κ(D) = 1 − 2·h2(e) secret bits, e = 2(1 − F)/3, F =
1/4 + 3/4·w0^(n−1)·e^(−D/T). Deliveries one at a time, each from an empty chain, make a
renewal process, so a stationary policy's long-run key per slot is ρ(π) = E_π[κ]/E_π[T]
(renewal–reward theorem), both expectations one sparse solve each (the reward vector
r_π: the expected κ of each state's delivering outcomes). Maximizing a ratio:
Dinkelbach's iteration (Dinkelbach, Manag. Sci. 13, 492 (1967)) sets ρ_0 = ρ(swap-asap)
and repeats π_{k+1} = argmax_π E_π[κ − ρ_k·T] (policy iteration on the rewards
r − ρ_k per slot, from π_k), ρ_{k+1} = ρ(π_{k+1}), until ρ stops growing. Since
E_π[κ] − ρ·E_π[T] ≥ 0 exactly when ρ(π) ≥ ρ, the fixed point is the largest ratio over
stationary policies, and ρ_k increases monotonically; for ρ > 0 a policy that never
delivers scores −∞, so every policy met is proper. ρ_0 = 0 (no delivery yields key)
ends at once with swap-asap. Checked against the best of all 512 deterministic policies
of a 3-node chain (``tests/scheduling/test_chain_mdp.py``).

**Size.** The state space is enumerated from the empty chain under every action; it
grows quickly with n and t_cut (their paper, Fig. 6: ~10⁵ states at n = 5, t_cut ≈ 10).
``max_states`` bounds it, with an error that says so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from qceas.network.chain import Chain
from qceas.physics import qber_unchecked, secret_fraction_unchecked

#: A link (i, j, age, storage D); a state is a sorted tuple of links.
Link: TypeAlias = tuple[int, int, int, int]
State: TypeAlias = tuple[Link, ...]
#: A stationary policy for the exact evaluation: state -> the nodes that swap.
StatePolicy: TypeAlias = Callable[[Chain, State], frozenset[int]]

#: Default bound on the enumerated states.
MAX_STATES = 200_000


def swappable_nodes(state: State) -> tuple[int, ...]:
    """Nodes holding a link on each side, ascending."""
    starts = {link[0] for link in state}
    ends = {link[1] for link in state}
    return tuple(sorted(starts & ends))


def actions(state: State) -> list[frozenset[int]]:
    """Every subset of the swappable nodes, the empty one (wait) first and the full one
    (swap-asap) last."""
    nodes = swappable_nodes(state)
    return [
        frozenset(c) for size in range(len(nodes) + 1) for c in itertools.combinations(nodes, size)
    ]


def after_swaps(chain: Chain, state: State, action: frozenset[int]) -> list[tuple[float, State]]:
    """The post-swap link sets and their probabilities (a merged link: the oldest age,
    the summed storage)."""
    by_start = {i: (j, a, d) for i, j, a, d in state}
    runs: list[list[int]] = []  # the picked nodes, grouped by run, left to right
    for node in sorted(action):
        if runs and by_start[runs[-1][-1]][0] == node:
            runs[-1].append(node)
        else:
            runs.append([node])
    ends = {link[1]: link[0] for link in state}
    out: list[tuple[float, State]] = []
    for outcome in itertools.product((True, False), repeat=len(runs)):
        prob = 1.0
        links = dict(by_start)
        for run, success in zip(runs, outcome, strict=True):
            first = ends[run[0]]
            last = by_start[run[-1]][0]
            parts = [by_start[first], *(by_start[k] for k in run)]
            for k in run:
                del links[k]
            m = len(run)
            if success:
                prob *= chain.p_s**m
                links[first] = (last, max(x[1] for x in parts), sum(x[2] for x in parts))
            else:
                prob *= 1.0 - chain.p_s**m
                del links[first]
        if prob > 0.0:
            out.append((prob, tuple(sorted((i, *rest) for i, rest in links.items()))))
    return out


def delivered(chain: Chain, links: State) -> bool:
    return any(link[0] == 0 and link[1] == chain.nodes - 1 for link in links)


def delivered_storage(chain: Chain, links: State) -> int:
    """The storage D of the delivered link (:func:`delivered` must hold)."""
    return next(d for i, j, _, d in links if i == 0 and j == chain.nodes - 1)


def next_slot(chain: Chain, links: State, *, storage: bool = False) -> list[tuple[float, State]]:
    """Cutoff, ageing and the next slot's generation after the swaps: the next states
    and their probabilities (``storage``: every link's two qubits add 2 to its D, else
    D stays 0)."""
    cut = chain.cutoff
    grow = 2 if storage else 0
    if cut is None:
        kept = [(i, j, 0, d + grow) for i, j, _, d in links]
    else:
        kept = [(i, j, a + 1, d + grow) for i, j, a, d in links if a < cut]
    starts = {link[0] for link in kept}
    ends = {link[1] for link in kept}
    free = [k for k in range(chain.links) if k not in starts and k + 1 not in ends]
    out: list[tuple[float, State]] = []
    for made in itertools.product((True, False), repeat=len(free)):
        g = sum(made)
        prob = chain.p**g * (1.0 - chain.p) ** (len(free) - g)
        if prob > 0.0:
            new = [(k, k + 1, 0, 0) for k, m in zip(free, made, strict=True) if m]
            out.append((prob, tuple(sorted(kept + new))))
    return out


def first_states(chain: Chain) -> list[tuple[float, State]]:
    """The states after slot 1's generation, from an empty chain."""
    return next_slot(chain, ())


@dataclass(frozen=True)
class ChainMDP:
    """The enumerated MDP: ``states`` (index -> state), per state its ``actions``, and per
    (state, action) row ``r`` of the flat arrays: ``rows[r]`` the state, the
    non-delivering successors in ``P`` (rows: (state, action) pairs; columns: states)."""

    chain: Chain
    states: tuple[State, ...]
    actions: tuple[tuple[frozenset[int], ...], ...]
    offsets: np.ndarray  # (S+1,): the rows of state s are offsets[s]:offsets[s+1]
    P: sp.csr_matrix
    start: np.ndarray  # (S,) distribution after slot 1's generation
    #: (rows,) expected key fraction delivered by each (state, action) row (zeros
    #: unless built with ``storage`` on a chain with the pairs' physics)
    reward: np.ndarray

    def solve(self, choice: np.ndarray, rhs: np.ndarray) -> np.ndarray:
        """x = (I − P_π)^{-1}·rhs for the policy of row choice ``choice``."""
        rows = self.offsets[:-1] + choice
        system = sp.identity(len(self.states), format="csc") - self.P[rows].tocsc()
        return np.asarray(spla.spsolve(system, rhs), dtype=float)

    def key_rate(self, choice: np.ndarray) -> tuple[float, float]:
        """(E[key fraction per delivery], E[T]) of a policy from an empty chain: its key
        per slot is their ratio (renewal–reward: deliveries one at a time)."""
        rows = self.offsets[:-1] + choice
        key = self.start @ self.solve(choice, self.reward[rows])
        slots = self.start @ self.solve(choice, np.ones(len(self.states)))
        return float(key), float(slots)

    def evaluate(self, choice: np.ndarray) -> np.ndarray:
        """D(s) of the policy that takes row ``offsets[s] + choice[s]`` in state s."""
        return self.solve(choice, np.ones(len(self.states)))

    def expected_delivery(self, values: np.ndarray) -> float:
        """E[T] from an empty chain."""
        return float(self.start @ values)

    def choice_of(self, policy: StatePolicy) -> np.ndarray:
        """The row choice of a stationary policy (its action must be a valid one)."""
        out = np.empty(len(self.states), dtype=np.int64)
        for s, state in enumerate(self.states):
            wanted = frozenset(policy(self.chain, state))
            try:
                out[s] = self.actions[s].index(wanted)
            except ValueError:
                raise ValueError(
                    f"the policy swaps {sorted(wanted)} in state {state}, "
                    f"not a set of swappable nodes"
                ) from None
        return out


def build(
    chain: Chain,
    *,
    max_states: int = MAX_STATES,
    policy: StatePolicy | None = None,
    storage: bool = False,
) -> ChainMDP:
    """Enumerate the states reachable from an empty chain, under every action (or, with
    ``policy``, under that policy's actions only, which is all its evaluation needs).

    ``storage``: the states carry each link's storage D and every row the expected key
    fraction it delivers (the chain needs the pairs' physics and a cutoff, which keeps D
    bounded)."""
    if storage and (not chain.has_memory or chain.cutoff is None):
        raise ValueError("storage: the chain needs w0, coherence_slots and a cutoff")
    index: dict[State, int] = {}
    states: list[State] = []
    queue: list[State] = []

    def visit(state: State) -> int:
        found = index.get(state)
        if found is None:
            if len(states) >= max_states:
                raise ValueError(
                    f"the chain MDP has more than max_states = {max_states} states "
                    f"(nodes {chain.nodes}, cutoff {chain.cutoff}); raise max_states or "
                    "shorten the chain or the cutoff"
                )
            found = index[state] = len(states)
            states.append(state)
            queue.append(state)
        return found

    start_pairs = [(prob, visit(s)) for prob, s in first_states(chain)]
    rewards: list[float] = []
    following: dict[State, list[tuple[float, int]]] = {}  # post-swap links -> next states
    all_actions: list[tuple[frozenset[int], ...]] = []
    data: list[float] = []
    cols: list[int] = []
    indptr = [0]
    head = 0
    while head < len(queue):
        state = queue[head]
        head += 1
        options = actions(state) if policy is None else [frozenset(policy(chain, state))]
        all_actions.append(tuple(options))
        for action in options:
            row: dict[int, float] = {}
            reward = 0.0
            for p_swap, links in after_swaps(chain, state, action):
                if delivered(chain, links):
                    if storage:
                        reward += p_swap * key_fraction(chain, delivered_storage(chain, links))
                    continue
                if links not in following:  # many (state, action) pairs share one
                    following[links] = [
                        (p, visit(nxt)) for p, nxt in next_slot(chain, links, storage=storage)
                    ]
                for p_next, col in following[links]:
                    row[col] = row.get(col, 0.0) + p_swap * p_next
            cols.extend(row)
            data.extend(row.values())
            indptr.append(len(cols))
            rewards.append(reward)
    counts = np.array([len(a) for a in all_actions], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(counts)]
    transition = sp.csr_matrix(
        (np.array(data), np.array(cols, dtype=np.int64), np.array(indptr, dtype=np.int64)),
        shape=(int(offsets[-1]), len(states)),
    )
    start = np.zeros(len(states))
    for prob, s in start_pairs:
        start[s] += prob
    reward_arr = np.array(rewards, dtype=float)
    return ChainMDP(
        chain, tuple(states), tuple(all_actions), offsets, transition, start, reward_arr
    )


def key_fraction(chain: Chain, stored: int) -> float:
    """Secret bits per delivered pair of storage D: 1 − 2·h2(e), e = 2(1 − F)/3."""
    fidelity = chain.delivered_fidelity(stored)
    return float(secret_fraction_unchecked(qber_unchecked(fidelity)))


def swap_asap(chain: Chain, state: State) -> frozenset[int]:
    """Swap every node that can (their ``swap-asap``)."""
    return frozenset(swappable_nodes(state))


def wait_for_path(chain: Chain, state: State) -> frozenset[int]:
    """Swap everything once the links join the two ends, else wait (their ``wait``)."""
    by_start = {link[0]: link[1] for link in state}
    at = 0
    while at in by_start:
        at = by_start[at]
    return frozenset(swappable_nodes(state)) if at == chain.nodes - 1 else frozenset()


@dataclass(frozen=True)
class Solution:
    """An optimal policy: its ``values`` D(s), the row ``choice`` per state, E[T] and the
    policy-iteration steps it took."""

    mdp: ChainMDP
    values: np.ndarray
    choice: np.ndarray
    expected_delivery: float
    iterations: int

    def action(self, state: State) -> frozenset[int]:
        s = self.mdp.states.index(state)
        return self.mdp.actions[s][int(self.choice[s])]

    def table(self) -> Iterable[tuple[State, frozenset[int]]]:
        """Every state with its optimal action."""
        for s, state in enumerate(self.mdp.states):
            yield state, self.mdp.actions[s][int(self.choice[s])]


def solve(mdp: ChainMDP, *, max_iterations: int = 1000) -> Solution:
    """The optimal policy by policy iteration from swap-asap (module docstring)."""
    choice = np.array([len(a) - 1 for a in mdp.actions], dtype=np.int64)  # swap-asap
    owner = np.repeat(np.arange(len(mdp.states)), np.diff(mdp.offsets))
    for iteration in range(1, max_iterations + 1):
        values = mdp.evaluate(choice)
        q = 1.0 + mdp.P @ values
        current = q[mdp.offsets[:-1] + choice]
        best = choice.copy()
        better = np.full(len(mdp.states), np.inf)
        tolerance = 1e-12 * np.maximum(1.0, current)
        for r in np.nonzero(q < current[owner] - tolerance[owner])[0]:
            s = owner[r]
            if q[r] < better[s]:
                better[s] = q[r]
                best[s] = r - mdp.offsets[s]
        if np.array_equal(best, choice):
            return Solution(mdp, values, choice, mdp.expected_delivery(values), iteration)
        choice = best
    raise RuntimeError(f"policy iteration did not settle in {max_iterations} steps")


def solve_key_rate(mdp: ChainMDP, *, max_iterations: int = 100) -> KeySolution:
    """The stationary policy of largest key per slot, E[κ]/E[T] (module docstring):
    Dinkelbach's iteration on ρ, each step a policy iteration that maximizes
    E[κ − ρ·T] from the previous policy, started at swap-asap."""
    choice = np.array([len(a) - 1 for a in mdp.actions], dtype=np.int64)  # swap-asap
    owner = np.repeat(np.arange(len(mdp.states)), np.diff(mdp.offsets))
    key, slots = mdp.key_rate(choice)
    rho = key / slots
    steps = 0
    for _ in range(max_iterations):
        for _ in range(max_iterations):  # policy iteration at this ρ
            steps += 1
            rows = mdp.offsets[:-1] + choice
            values = mdp.solve(choice, mdp.reward[rows] - rho)
            q = mdp.reward - rho + mdp.P @ values
            current = q[rows]
            tolerance = 1e-12 * np.maximum(1.0, np.abs(current))
            best = choice.copy()
            better = current.copy()
            for r in np.nonzero(q > current[owner] + tolerance[owner])[0]:
                s = owner[r]
                if q[r] > better[s]:
                    better[s] = q[r]
                    best[s] = r - mdp.offsets[s]
            if np.array_equal(best, choice):
                break
            choice = best
        key, slots = mdp.key_rate(choice)
        new = key / slots
        if new <= rho * (1.0 + 1e-12):
            return KeySolution(mdp, choice, key, slots, steps)
        rho = new
    raise RuntimeError(f"the key-rate iteration did not settle in {max_iterations} steps")


@dataclass(frozen=True)
class KeySolution:
    """The policy of largest key per slot: its row ``choice`` per state, E[key fraction
    per delivery], E[T] and the policy-iteration steps it took."""

    mdp: ChainMDP
    choice: np.ndarray
    key_per_delivery: float
    expected_delivery: float
    iterations: int

    @property
    def key_per_slot(self) -> float:
        return self.key_per_delivery / self.expected_delivery

    def table(self) -> Iterable[tuple[State, frozenset[int]]]:
        for s, state in enumerate(self.mdp.states):
            yield state, self.mdp.actions[s][int(self.choice[s])]


def key_rate(
    chain: Chain, policy: StatePolicy, *, max_states: int = MAX_STATES
) -> tuple[float, float]:
    """Exact (E[key fraction per delivery], E[T]) of a stationary policy."""
    mdp = build(chain, max_states=max_states, policy=policy, storage=True)
    return mdp.key_rate(np.zeros(len(mdp.states), dtype=np.int64))


def expected_delivery(chain: Chain, policy: StatePolicy, *, max_states: int = MAX_STATES) -> float:
    """Exact E[T] of a stationary policy from an empty chain."""
    mdp = build(chain, max_states=max_states, policy=policy)
    return mdp.expected_delivery(mdp.evaluate(np.zeros(len(mdp.states), dtype=np.int64)))


__all__ = [
    "MAX_STATES",
    "ChainMDP",
    "KeySolution",
    "Solution",
    "State",
    "StatePolicy",
    "actions",
    "after_swaps",
    "build",
    "delivered",
    "delivered_storage",
    "expected_delivery",
    "first_states",
    "key_fraction",
    "key_rate",
    "next_slot",
    "solve",
    "solve_key_rate",
    "swap_asap",
    "swappable_nodes",
    "wait_for_path",
]
