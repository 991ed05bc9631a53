"""The exact Markov decision process of a homogeneous repeater chain: expected delivery
time of any stationary policy, and the optimal policy, by policy iteration.

The chain and its slot rules are those of :mod:`qceas.network.chain` (Iñesta, Vardoyan,
Scavuzzo & Wehner, npj Quantum Inf. 9, 46 (2023), with the conventions of their code);
this module enumerates them independently, with states as sets of links rather than the
simulator's arrays, so that the two check each other.

**States and actions.** A state ``s`` is the set of links just before the swaps of a
slot, each ``(i, j, a)``: ends ``i < j`` and age ``a`` (``0 <= a <= t_cut``; with no
cutoff ages change nothing and are all kept at 0). An action is a set of nodes holding
two links; the empty set (wait) is always allowed.

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

#: A link (i, j, age); a state is a sorted tuple of links.
Link: TypeAlias = tuple[int, int, int]
State: TypeAlias = tuple[Link, ...]
#: A stationary policy for the exact evaluation: state -> the nodes that swap.
StatePolicy: TypeAlias = Callable[[Chain, State], frozenset[int]]

#: Default bound on the enumerated states.
MAX_STATES = 200_000


def swappable_nodes(state: State) -> tuple[int, ...]:
    """Nodes holding a link on each side, ascending."""
    starts = {i for i, _, _ in state}
    ends = {j for _, j, _ in state}
    return tuple(sorted(starts & ends))


def actions(state: State) -> list[frozenset[int]]:
    """Every subset of the swappable nodes, the empty one (wait) first and the full one
    (swap-asap) last."""
    nodes = swappable_nodes(state)
    return [
        frozenset(c) for size in range(len(nodes) + 1) for c in itertools.combinations(nodes, size)
    ]


def after_swaps(chain: Chain, state: State, action: frozenset[int]) -> list[tuple[float, State]]:
    """The post-swap link sets and their probabilities."""
    by_start = {i: (j, a) for i, j, a in state}
    runs: list[list[int]] = []  # the picked nodes, grouped by run, left to right
    for node in sorted(action):
        if runs and by_start[runs[-1][-1]][0] == node:
            runs[-1].append(node)
        else:
            runs.append([node])
    ends = {j: i for i, j, _ in state}
    out: list[tuple[float, State]] = []
    for outcome in itertools.product((True, False), repeat=len(runs)):
        prob = 1.0
        links = dict(by_start)
        for run, success in zip(runs, outcome, strict=True):
            first = ends[run[0]]
            last = by_start[run[-1]][0]
            oldest = max([by_start[first][1], *(by_start[k][1] for k in run)])
            for k in run:
                del links[k]
            m = len(run)
            if success:
                prob *= chain.p_s**m
                links[first] = (last, oldest)
            else:
                prob *= 1.0 - chain.p_s**m
                del links[first]
        if prob > 0.0:
            out.append((prob, tuple(sorted((i, j, a) for i, (j, a) in links.items()))))
    return out


def delivered(chain: Chain, links: State) -> bool:
    return any(i == 0 and j == chain.nodes - 1 for i, j, _ in links)


def next_slot(chain: Chain, links: State) -> list[tuple[float, State]]:
    """Cutoff, ageing and the next slot's generation after the swaps: the next states
    and their probabilities."""
    cut = chain.cutoff
    if cut is None:
        kept = [(i, j, 0) for i, j, _ in links]
    else:
        kept = [(i, j, a + 1) for i, j, a in links if a < cut]
    starts = {i for i, _, _ in kept}
    ends = {j for _, j, _ in kept}
    free = [k for k in range(chain.links) if k not in starts and k + 1 not in ends]
    out: list[tuple[float, State]] = []
    for made in itertools.product((True, False), repeat=len(free)):
        g = sum(made)
        prob = chain.p**g * (1.0 - chain.p) ** (len(free) - g)
        if prob > 0.0:
            new = [(k, k + 1, 0) for k, m in zip(free, made, strict=True) if m]
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

    def evaluate(self, choice: np.ndarray) -> np.ndarray:
        """D(s) of the policy that takes row ``offsets[s] + choice[s]`` in state s."""
        rows = self.offsets[:-1] + choice
        transition = self.P[rows]
        system = sp.identity(len(self.states), format="csc") - transition.tocsc()
        values = spla.spsolve(system, np.ones(len(self.states)))
        return np.asarray(values, dtype=float)

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
    chain: Chain, *, max_states: int = MAX_STATES, policy: StatePolicy | None = None
) -> ChainMDP:
    """Enumerate the states reachable from an empty chain, under every action (or, with
    ``policy``, under that policy's actions only, which is all its evaluation needs)."""
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
            for p_swap, links in after_swaps(chain, state, action):
                if delivered(chain, links):
                    continue
                if links not in following:  # many (state, action) pairs share one
                    following[links] = [(p, visit(nxt)) for p, nxt in next_slot(chain, links)]
                for p_next, col in following[links]:
                    row[col] = row.get(col, 0.0) + p_swap * p_next
            cols.extend(row)
            data.extend(row.values())
            indptr.append(len(cols))
    counts = np.array([len(a) for a in all_actions], dtype=np.int64)
    offsets = np.r_[0, np.cumsum(counts)]
    transition = sp.csr_matrix(
        (np.array(data), np.array(cols, dtype=np.int64), np.array(indptr, dtype=np.int64)),
        shape=(int(offsets[-1]), len(states)),
    )
    start = np.zeros(len(states))
    for prob, s in start_pairs:
        start[s] += prob
    return ChainMDP(chain, tuple(states), tuple(all_actions), offsets, transition, start)


def swap_asap(chain: Chain, state: State) -> frozenset[int]:
    """Swap every node that can (their ``swap-asap``)."""
    return frozenset(swappable_nodes(state))


def wait_for_path(chain: Chain, state: State) -> frozenset[int]:
    """Swap everything once the links join the two ends, else wait (their ``wait``)."""
    by_start = {i: j for i, j, _ in state}
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


def expected_delivery(chain: Chain, policy: StatePolicy, *, max_states: int = MAX_STATES) -> float:
    """Exact E[T] of a stationary policy from an empty chain."""
    mdp = build(chain, max_states=max_states, policy=policy)
    return mdp.expected_delivery(mdp.evaluate(np.zeros(len(mdp.states), dtype=np.int64)))


__all__ = [
    "MAX_STATES",
    "ChainMDP",
    "Solution",
    "State",
    "StatePolicy",
    "actions",
    "after_swaps",
    "build",
    "delivered",
    "expected_delivery",
    "first_states",
    "next_slot",
    "solve",
    "swap_asap",
    "swappable_nodes",
    "wait_for_path",
]
