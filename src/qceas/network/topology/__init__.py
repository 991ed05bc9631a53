"""Static description of a quantum network: nodes, fibre links, link physics, routes.

A network has ``N`` QPU nodes, numbered ``0 .. N−1``, and one aggregator, always the
last node ``N``. Links are undirected fibre spans with a midpoint heralding station;
their per-attempt success probability and attempt period follow ARCHITECTURE §4
(:mod:`qceas.physics.links`):

    p = ½·η²·10^{−α·L/10},   period = max(L/c, min_period_s),   rate = p/period

with the same device efficiency η at both ends. Everything a time-slotted simulation
needs is a plain numpy array on :class:`Network` (per node: length N+1, per link:
length E), so it can be consumed vectorized.

Defaults and where they come from (all overridable):

* ``attenuation_db_per_km = 0.2``: standard telecom fibre at 1550 nm
  (≈0.2 dB/km; :data:`qceas.physics.FIBRE_LOSS_DB_PER_KM`).
* Light travels at c ≈ 2·10⁸ m/s in fibre (refractive index ≈ 1.5;
  :data:`qceas.physics.FIBRE_LIGHT_SPEED`), which bounds the attempt period below.
* ``coherence_time_s = (1e-3, 1.0)``, drawn log-uniformly per node: roughly the
  orders of magnitude spanned by memories in network-node experiments, from about a
  millisecond (e.g. NV electron spins while the link operates, atomic-ensemble
  memories) to about a second (nuclear-spin memories, trapped ions).
* ``initial_fidelity = (0.85, 0.95)``, drawn uniformly per link: roughly the range
  of heralded entanglement reported between NV centres and between trapped ions.
* ``efficiency = 0.9`` and ``memory_slots = 4``: placeholders, not measured values;
  0.9 is optimistic (end-to-end photon collection and detection efficiencies in
  today's experiments are often far lower), so lower it for pessimistic studies.

These ranges are indicative, not a survey; for an overview of the platforms see
S. Wehner, D. Elkouss and R. Hanson, "Quantum internet: A vision for the road ahead",
Science 362, eaam9288 (2018).

Topologies are registered in :data:`TOPOLOGIES`; each builder returns a canonical
``networkx.Graph`` (nodes ``0..N``, node ``N`` the aggregator, a ``length_km`` on
every edge) and :func:`build_network` turns it into a :class:`Network`. Routes are
shortest paths by total fibre length (Dijkstra). Ties between equally long paths are
broken by networkx's Dijkstra on a graph whose nodes and adjacency are inserted in
ascending order, and every path is searched from its higher-numbered end, so the
same input always gives the same routes and ``route(a, b)`` is ``route(b, a)``
reversed.

The package, one job per module:

* :mod:`~qceas.network.topology.network`: :class:`Network`, the canonical graph and
  the routes on it;
* :mod:`~qceas.network.topology.graphs`: :data:`TOPOLOGIES` and the registered
  builders;
* :mod:`~qceas.network.topology.files`: reading GraphML and edge lists,
  :func:`to_file`;
* :mod:`~qceas.network.topology.build`: :func:`build_network` and
  :func:`network_from_graph`, with the per-link and per-node values;
* ``_checks``: the input checks they share.
"""

from qceas.network.topology.build import (
    BUILDER_ARGUMENTS,
    PerItem,
    build_network,
    network_from_graph,
)
from qceas.network.topology.files import to_file
from qceas.network.topology.graphs import (
    TOPOLOGIES,
    TopologyBuilder,
    from_file,
    grid,
    line,
    random_geometric,
    ring,
    star,
    waxman,
)
from qceas.network.topology.network import FloatArray, IntArray, Network

__all__ = [
    "BUILDER_ARGUMENTS",
    "TOPOLOGIES",
    "FloatArray",
    "IntArray",
    "Network",
    "PerItem",
    "TopologyBuilder",
    "build_network",
    "from_file",
    "grid",
    "line",
    "network_from_graph",
    "random_geometric",
    "ring",
    "star",
    "to_file",
    "waxman",
]
