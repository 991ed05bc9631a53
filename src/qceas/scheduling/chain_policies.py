"""Policies for homogeneous repeater chains (:mod:`qceas.network.chain`), by name in
:data:`CHAIN_POLICIES`; ``CHAIN_POLICIES.get("ceas", max_states=10**5)`` builds one, and
``policy.prepare(chain)`` gives the vectorized :data:`~qceas.network.chain.ChainPolicy`
that :func:`~qceas.network.chain.simulate` runs, plus ``policy.exact(chain)``: its exact
expected delivery time (``qceas.scheduling.chain_mdp``).

* ``swap_asap``: every node holding two links swaps at once (Iñesta et al.'s
  swap-asap, the usual baseline; it ignores ages);
* ``wait``: swap everything only once the links join the two ends, else wait (their
  ``wait`` policy in ``simulate_environment``: the nested extreme);
* ``ceas``: CEAS's MDP for this consumer, whose utility is one end-to-end link as soon
  as possible: the exact optimal stationary policy of the chain MDP (policy iteration,
  ``chain_mdp.solve``), read from a table indexed by an integer code of the state.
  Exact up to ``max_states`` enumerated states (a clear error beyond; n = 5 with t_cut
  = 6 has 5716, n = 6 with t_cut = 6 has 53 892). With ``objective: key_rate`` it
  maximizes key bits per slot instead, on states that also hold each link's storage
  (``chain_mdp.solve_key_rate``; the chain needs its pairs' physics and a cutoff);
* ``ceas_key``: ``ceas`` with ``objective: key_rate`` under its own name.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from qceas.network.chain import BoolArray, Chain, ChainPolicy, IntArray, e2e_path
from qceas.registry import Registry
from qceas.scheduling import chain_mdp
from qceas.scheduling.chain_mdp import MAX_STATES, State


class ChainScheduler(Protocol):
    """A named chain policy: ``prepare`` once per chain, ``exact`` for its E[T] and
    ``exact_key`` for its (E[key fraction per delivery], E[T]) on a chain with the
    pairs' physics and a cutoff."""

    name: str
    #: whether its decisions depend on the pairs' physics (then a coherence sweep must
    #: re-plan it at every T)
    plans_with_memory: bool

    def prepare(self, chain: Chain) -> ChainPolicy: ...

    def exact(self, chain: Chain) -> float: ...

    def exact_key(self, chain: Chain) -> tuple[float, float]: ...


#: Chain policies by name.
CHAIN_POLICIES: Registry[ChainScheduler] = Registry("chain policy")


def _all_swappable(
    chain: Chain, right: IntArray, age: IntArray, stored: IntArray, can: BoolArray
) -> BoolArray:
    return can


def _wait_for_path(
    chain: Chain, right: IntArray, age: IntArray, stored: IntArray, can: BoolArray
) -> BoolArray:
    return can & e2e_path(right)[:, None]


class _Fixed:
    """A policy with no state of its own: the vectorized rule and its state form."""

    def __init__(
        self, name: str, rule: ChainPolicy, exact_rule: chain_mdp.StatePolicy, max_states: int
    ) -> None:
        self.name = name
        self.plans_with_memory = False
        self._rule = rule
        self._exact_rule = exact_rule
        self.max_states = _check_states(max_states)

    def prepare(self, chain: Chain) -> ChainPolicy:
        return self._rule

    def exact(self, chain: Chain) -> float:
        return chain_mdp.expected_delivery(chain, self._exact_rule, max_states=self.max_states)

    def exact_key(self, chain: Chain) -> tuple[float, float]:
        return chain_mdp.key_rate(chain, self._exact_rule, max_states=self.max_states)


def _check_states(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_states = {value!r}: must be an integer >= 1")
    return value


@CHAIN_POLICIES.register("swap_asap")
def swap_asap(max_states: int = MAX_STATES) -> ChainScheduler:
    """Swap as soon as possible (``max_states`` bounds only the exact evaluation)."""
    return _Fixed("swap_asap", _all_swappable, chain_mdp.swap_asap, max_states)


@CHAIN_POLICIES.register("wait")
def wait(max_states: int = MAX_STATES) -> ChainScheduler:
    """Swap only along a complete path (``max_states`` bounds the exact evaluation)."""
    return _Fixed("wait", _wait_for_path, chain_mdp.wait_for_path, max_states)


def _radices(chain: Chain, storage: bool) -> tuple[int, int, int]:
    """(age radix, storage radix, digit radix) of the state codes: ages 0..t_cut, storage
    0..2(n−1)·t_cut (a link's D is at most 2 per elementary link per slot of its age)."""
    cap = 0 if chain.cutoff is None else chain.cutoff
    stores = 2 * chain.links * cap + 1 if storage else 1
    return cap + 1, stores, chain.links * (cap + 1) * stores + 1


def state_codes(
    chain: Chain, right: IntArray, age: IntArray, stored: IntArray, *, storage: bool = False
) -> IntArray:
    """(W,) an integer per simulator state, equal to :func:`code_of` of the same links:
    digit i is 0 for no link starting at node i, else 1 + ((j − i − 1)(t_cut + 1) +
    age)·S + D, with S the storage radix (1 unless ``storage``; ages count only with a
    cutoff)."""
    ages_radix, stores, radix = _radices(chain, storage)
    ages = np.zeros_like(age) if chain.cutoff is None else age
    kept = stored if storage else np.zeros_like(stored)
    starts = np.arange(chain.links)
    digit = np.where(right >= 0, 1 + ((right - starts - 1) * ages_radix + ages) * stores + kept, 0)
    weights = radix ** np.arange(chain.links, dtype=np.int64)
    return np.asarray(digit @ weights, dtype=np.int64)


def code_of(chain: Chain, state: State, *, storage: bool = False) -> int:
    """The integer code of an MDP state (see :func:`state_codes`)."""
    ages_radix, stores, radix = _radices(chain, storage)
    return sum(
        (1 + ((j - i - 1) * ages_radix + a) * stores + (d if storage else 0)) * radix**i
        for i, j, a, d in state
    )


def _check_codes_fit(chain: Chain, storage: bool) -> None:
    if _radices(chain, storage)[2] ** chain.links >= 2**62:
        raise ValueError(
            f"ceas: a chain of {chain.nodes} nodes with cutoff {chain.cutoff} has too many "
            "states to index exactly"
        )


#: What ``ceas`` optimizes on a chain.
OBJECTIVES = ("delivery_time", "key_rate")


class Ceas:
    """The optimal policy of the chain MDP (module docstring), as a lookup table:
    ``objective: delivery_time`` minimizes E[T] (their optimum), ``key_rate`` maximizes
    key per slot E[κ]/E[T] (``chain_mdp.solve_key_rate``; the chain needs the pairs'
    physics and a cutoff)."""

    name = "ceas"

    def __init__(self, max_states: int = MAX_STATES, objective: str = "delivery_time") -> None:
        self.max_states = _check_states(max_states)
        if objective not in OBJECTIVES:
            raise ValueError(f"objective = {objective!r}: must be one of {', '.join(OBJECTIVES)}")
        self.objective = objective
        self.plans_with_memory = objective == "key_rate"
        self._solved: dict[Chain, chain_mdp.Solution | chain_mdp.KeySolution] = {}

    @property
    def _storage(self) -> bool:
        return self.objective == "key_rate"

    def solution(self, chain: Chain) -> chain_mdp.Solution | chain_mdp.KeySolution:
        if chain not in self._solved:
            _check_codes_fit(chain, self._storage)
            if self._storage:
                if not chain.has_memory or chain.cutoff is None:
                    raise ValueError(
                        "objective = 'key_rate': the chain needs its pairs' physics "
                        "(network.initial_fidelity and network.coherence_time_s as numbers) "
                        "and schedule.cutoff_slots"
                    )
                mdp = chain_mdp.build(chain, max_states=self.max_states, storage=True)
                self._solved[chain] = chain_mdp.solve_key_rate(mdp)
            else:
                mdp = chain_mdp.build(chain, max_states=self.max_states)
                self._solved[chain] = chain_mdp.solve(mdp)
        return self._solved[chain]

    def _actions(self, chain: Chain) -> dict[State, frozenset[int]]:
        return dict(self.solution(chain).table())

    def prepare(self, chain: Chain) -> ChainPolicy:
        table = list(self.solution(chain).table())
        storage = self._storage
        codes = np.array([code_of(chain, s, storage=storage) for s, _ in table], dtype=np.int64)
        order = np.argsort(codes)
        codes = codes[order]
        masks = np.zeros((len(table), chain.nodes), dtype=bool)
        for row, (_, action) in enumerate(table):
            masks[row, sorted(action)] = True
        masks = masks[order]

        def decide(
            chain_: Chain, right: IntArray, age: IntArray, stored: IntArray, can: BoolArray
        ) -> BoolArray:
            wanted = state_codes(chain_, right, age, stored, storage=storage)
            at = np.minimum(np.searchsorted(codes, wanted), codes.size - 1)
            if not np.array_equal(codes[at], wanted):
                raise RuntimeError("ceas: the simulation reached a state outside its MDP")
            return masks[at]

        return decide

    def exact(self, chain: Chain) -> float:
        return self.solution(chain).expected_delivery

    def exact_key(self, chain: Chain) -> tuple[float, float]:
        found = self.solution(chain)
        if isinstance(found, chain_mdp.KeySolution):
            return found.key_per_delivery, found.expected_delivery
        actions = self._actions(chain)  # on states without storage: drop D to look up

        def rule(chain_: Chain, state: State) -> frozenset[int]:
            return actions[tuple((i, j, a, 0) for i, j, a, _ in state)]

        return chain_mdp.key_rate(chain, rule, max_states=self.max_states)


@CHAIN_POLICIES.register("ceas")
def ceas(max_states: int = MAX_STATES, objective: str = "delivery_time") -> ChainScheduler:
    """The exact optimum of the chain MDP for ``objective`` (``delivery_time`` or
    ``key_rate``; ``max_states``: bound on its states)."""
    return Ceas(max_states, objective)


@CHAIN_POLICIES.register("ceas_key")
def ceas_key(max_states: int = MAX_STATES) -> ChainScheduler:
    """``ceas`` with ``objective: key_rate``, so that one run compares both objectives."""
    found = Ceas(max_states, "key_rate")
    found.name = "ceas_key"
    return found


__all__ = ["CHAIN_POLICIES", "Ceas", "ChainScheduler", "code_of", "state_codes"]
