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
  = 6 has 5716, n = 6 with t_cut = 6 has 53 892).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from qceas.network.chain import BoolArray, Chain, ChainPolicy, IntArray, e2e_path
from qceas.registry import Registry
from qceas.scheduling import chain_mdp
from qceas.scheduling.chain_mdp import MAX_STATES, State


class ChainScheduler(Protocol):
    """A named chain policy: ``prepare`` once per chain, ``exact`` for its E[T]."""

    name: str

    def prepare(self, chain: Chain) -> ChainPolicy: ...

    def exact(self, chain: Chain) -> float: ...


#: Chain policies by name.
CHAIN_POLICIES: Registry[ChainScheduler] = Registry("chain policy")


def _all_swappable(chain: Chain, right: IntArray, age: IntArray, can: BoolArray) -> BoolArray:
    return can


def _wait_for_path(chain: Chain, right: IntArray, age: IntArray, can: BoolArray) -> BoolArray:
    return can & e2e_path(right)[:, None]


class _Fixed:
    """A policy with no state of its own: the vectorized rule and its state form."""

    def __init__(
        self, name: str, rule: ChainPolicy, exact_rule: chain_mdp.StatePolicy, max_states: int
    ) -> None:
        self.name = name
        self._rule = rule
        self._exact_rule = exact_rule
        self.max_states = _check_states(max_states)

    def prepare(self, chain: Chain) -> ChainPolicy:
        return self._rule

    def exact(self, chain: Chain) -> float:
        return chain_mdp.expected_delivery(chain, self._exact_rule, max_states=self.max_states)


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


def state_codes(chain: Chain, right: IntArray, age: IntArray) -> IntArray:
    """(W,) an integer per simulator state, equal to :func:`code_of` of the same links:
    digit i (radix B = (n−1)(t_cut+1)+1) is 0 for no link starting at node i, else
    1 + (j − i − 1)(t_cut + 1) + age (ages count only with a cutoff)."""
    cap = 0 if chain.cutoff is None else chain.cutoff
    radix = chain.links * (cap + 1) + 1
    ages = np.zeros_like(age) if chain.cutoff is None else age
    starts = np.arange(chain.links)
    digit = np.where(right >= 0, 1 + (right - starts - 1) * (cap + 1) + ages, 0)
    weights = radix ** np.arange(chain.links, dtype=np.int64)
    return np.asarray(digit @ weights, dtype=np.int64)


def code_of(chain: Chain, state: State) -> int:
    """The integer code of an MDP state (see :func:`state_codes`)."""
    cap = 0 if chain.cutoff is None else chain.cutoff
    radix = chain.links * (cap + 1) + 1
    return sum((1 + (j - i - 1) * (cap + 1) + a) * radix**i for i, j, a in state)


def _check_codes_fit(chain: Chain) -> None:
    cap = 0 if chain.cutoff is None else chain.cutoff
    radix = chain.links * (cap + 1) + 1
    if radix**chain.links >= 2**62:
        raise ValueError(
            f"ceas: a chain of {chain.nodes} nodes with cutoff {chain.cutoff} has too many "
            "states to index exactly"
        )


class Ceas:
    """The optimal policy of the chain MDP (module docstring), as a lookup table."""

    name = "ceas"

    def __init__(self, max_states: int = MAX_STATES) -> None:
        self.max_states = _check_states(max_states)
        self._solved: dict[Chain, chain_mdp.Solution] = {}

    def solution(self, chain: Chain) -> chain_mdp.Solution:
        if chain not in self._solved:
            _check_codes_fit(chain)
            mdp = chain_mdp.build(chain, max_states=self.max_states)
            self._solved[chain] = chain_mdp.solve(mdp)
        return self._solved[chain]

    def prepare(self, chain: Chain) -> ChainPolicy:
        table = list(self.solution(chain).table())
        codes = np.array([code_of(chain, s) for s, _ in table], dtype=np.int64)
        order = np.argsort(codes)
        codes = codes[order]
        masks = np.zeros((len(table), chain.nodes), dtype=bool)
        for row, (_, action) in enumerate(table):
            masks[row, sorted(action)] = True
        masks = masks[order]

        def decide(chain_: Chain, right: IntArray, age: IntArray, can: BoolArray) -> BoolArray:
            wanted = state_codes(chain_, right, age)
            at = np.minimum(np.searchsorted(codes, wanted), codes.size - 1)
            if not np.array_equal(codes[at], wanted):
                raise RuntimeError("ceas: the simulation reached a state outside its MDP")
            return masks[at]

        return decide

    def exact(self, chain: Chain) -> float:
        return self.solution(chain).expected_delivery


@CHAIN_POLICIES.register("ceas")
def ceas(max_states: int = MAX_STATES) -> ChainScheduler:
    """The exact optimum of the chain MDP (``max_states``: bound on its states)."""
    return Ceas(max_states)


__all__ = ["CHAIN_POLICIES", "Ceas", "ChainScheduler", "code_of", "state_codes"]
