"""The quantum network: topology, link physics, demand, the time-slotted simulator.

:func:`build_network` builds a registered topology (:data:`TOPOLOGIES`) into a
:class:`Network` of plain numpy arrays; :func:`make_context` and :func:`simulate` run a
scheduler (:mod:`qceas.scheduling`) over it against a :class:`Demand`, recording every
pair in a :class:`Ledger`; :func:`summarize` turns a run into its metrics.
"""

from __future__ import annotations

from qceas.network.context import make_context
from qceas.network.demand import Demand
from qceas.network.interface import (
    PURIFICATIONS,
    Context,
    Decision,
    RoundPairs,
    Scheduler,
    SimulationResult,
    SlotView,
)
from qceas.network.ledger import FATES, WASTE, Ledger
from qceas.network.metrics import KEY_FIDELITY_THRESHOLD, summarize
from qceas.network.simulation import Simulation, simulate
from qceas.network.topology import (
    TOPOLOGIES,
    Network,
    build_network,
    from_file,
    network_from_graph,
    to_file,
)
from qceas.registry import UnknownNameError

__all__ = [
    "FATES",
    "KEY_FIDELITY_THRESHOLD",
    "PURIFICATIONS",
    "TOPOLOGIES",
    "WASTE",
    "Context",
    "Decision",
    "Demand",
    "Ledger",
    "Network",
    "RoundPairs",
    "Scheduler",
    "Simulation",
    "SimulationResult",
    "SlotView",
    "UnknownNameError",
    "build_network",
    "from_file",
    "make_context",
    "network_from_graph",
    "simulate",
    "summarize",
    "to_file",
]
