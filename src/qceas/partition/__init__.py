"""Model-level and hybrid partitions: a replica's circuit spread over several QPUs,
its cross-QPU gates teleported through Bell pairs of simulated links.

``config`` holds the ``partition`` section, ``layout`` the qubit → QPU map and the
links it needs, ``gate_pairs`` the links' simulation and the gate errors it gives.
"""

from qceas.partition.config import PAIR_SOURCES, PartitionConfig
from qceas.partition.gate_pairs import GatePairs, RoundGates, check_partition
from qceas.partition.layout import (
    SCHEMES,
    ansatz_of,
    describe,
    executions_per_round,
    link_graph,
    replica_partition,
    scheme_of,
)

__all__ = [
    "PAIR_SOURCES",
    "SCHEMES",
    "GatePairs",
    "PartitionConfig",
    "RoundGates",
    "ansatz_of",
    "check_partition",
    "describe",
    "executions_per_round",
    "link_graph",
    "replica_partition",
    "scheme_of",
]
