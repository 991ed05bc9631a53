"""The quantum network: topology, link physics per link, routes (ARCHITECTURE §2, §4).

:func:`build_network` builds a registered topology (:data:`TOPOLOGIES`) into a
:class:`Network` of plain numpy arrays that the time-slotted simulation consumes.
"""

from __future__ import annotations

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
    "TOPOLOGIES",
    "Network",
    "UnknownNameError",
    "build_network",
    "from_file",
    "network_from_graph",
    "to_file",
]
