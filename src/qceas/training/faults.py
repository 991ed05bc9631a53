"""Faults injected into a training run (the ``faults`` section of a config).

Which nodes fail is drawn once per seed from stream ``FAULTY_NODES`` (``qceas.streams``), so every
strategy of a seed meets the same faulty nodes; whether a straggler is late in round t
is drawn from stream ``STRAGGLERS`` of round t, so it does not depend on the strategy,
on what ran before or on a resume from a checkpoint. The draws touch no other random
stream: a config with no faults gives exactly the numbers it gave before.

* **crash**: from ``crash_round`` on, the node sends nothing (it stops answering);
* **straggler**: its update arrives after the round's deadline, and the synchronous
  round has moved on without it;
* **link outage**: the node's access link (the first link of its route to the
  aggregator) makes no pairs during the outage;
* **aggregator restart**: handled by the trainer, which keeps the aggregator's state
  of its last checkpoint and goes back to it.

Written here because the fault injectors of federated-learning frameworks (e.g.
Flower's simulation) act on processes and clients, not on a simulated synchronous
round with quantum links.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.streams import FAULTY_NODES, STRAGGLERS, stream
from qceas.training.config import FaultsConfig


@dataclass(frozen=True)
class RoundFaults:
    """The faults of one round.

    Attributes:
        crashed: (N,) nodes that have crashed (nothing arrives from them).
        late: (N,) stragglers whose update missed the deadline this round.
        outage: (N,) nodes whose link is down this round.
        restart: whether the aggregator restarts before this round.
    """

    crashed: NDArray[np.bool_]
    late: NDArray[np.bool_]
    outage: NDArray[np.bool_]
    restart: bool

    @property
    def missing(self) -> NDArray[np.bool_]:
        """Nodes whose update does not arrive by the deadline."""
        return self.crashed | self.late


def _pick(count: int, fraction: float, rng: np.random.Generator) -> NDArray[np.bool_]:
    chosen = np.zeros(count, dtype=bool)
    k = math.floor(fraction * count + 0.5)
    chosen[rng.choice(count, size=k, replace=False)] = True
    return chosen


class FaultPlan:
    """The faults of a run of ``n_nodes`` nodes for ``seed``.

    Args:
        spec: the ``faults`` section.
        n_nodes: N, the real nodes.
        seed: the scenario seed.
    """

    def __init__(self, spec: FaultsConfig, n_nodes: int, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        rng = stream(seed, FAULTY_NODES)
        self.crashing = _pick(n_nodes, spec.crash_fraction, rng)
        self.stragglers = _pick(n_nodes, spec.straggler_fraction, rng)
        self.outage_nodes = _pick(n_nodes, spec.outage_fraction, rng)

    @property
    def active(self) -> bool:
        """Whether any fault is configured at all."""
        s = self.spec
        return bool(
            self.crashing.any()
            or (self.stragglers.any() and s.straggler_probability > 0)
            or self.outage_nodes.any()
            or s.aggregator_restarts
        )

    def round(self, t: int) -> RoundFaults:
        """The faults of round ``t`` (1-based)."""
        s = self.spec
        n = self.crashing.size
        crashed = self.crashing & (t >= s.crash_round)
        late = np.zeros(n, dtype=bool)
        if self.stragglers.any() and s.straggler_probability > 0:
            draws = stream(self.seed, STRAGGLERS, t).random(n)
            late = self.stragglers & ~crashed & (draws < s.straggler_probability)
        down = s.outage_start <= t < s.outage_start + s.outage_rounds
        outage = self.outage_nodes & down
        return RoundFaults(crashed, late, outage, t in set(s.aggregator_restarts))


__all__ = ["FaultPlan", "RoundFaults"]
