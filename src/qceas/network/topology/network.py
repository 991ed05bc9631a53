"""The :class:`Network` and the canonical graph it stands on.

A canonical graph has nodes ``0..N`` inserted in ascending order (node ``N`` the
aggregator), edges inserted sorted, and a ``length_km`` on every edge. Routes are
shortest paths by total fibre length (Dijkstra); networkx breaks ties between equally
long paths by insertion order, so on a canonical graph, searched from the path's
higher-numbered end, the same input always gives the same routes and ``route(a, b)``
is ``route(b, a)`` reversed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import TypeAlias

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from qceas._rules import is_integer

__all__ = ["FloatArray", "IntArray", "Network"]

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]

#: The edge attribute holding a link's fibre length in km.
LENGTH = "length_km"


@dataclass(frozen=True, eq=False)
class Network:
    """A static quantum network; arrays are read-only.

    Attributes:
        n_nodes: N, the number of QPU nodes; the aggregator is node N.
        graph: frozen ``networkx.Graph`` on nodes ``0..N``; every edge carries
            ``length_km`` and ``index`` (its row in the link arrays).
        coherence_time_s: (N+1,) memory coherence time T of each node (s), > 0.
        memory_slots: (N+1,) number of memory qubits of each node, >= 1.
        endpoints: (E, 2) link endpoints, ``u < v``, rows sorted.
        length_km: (E,) fibre length L of each link.
        attenuation_db_per_km: (E,) fibre loss α.
        efficiency: (E,) device efficiency η in (0, 1], the same at both ends.
        initial_fidelity: (E,) Werner fidelity of a freshly heralded pair, [0.25, 1].
        attempt_period_s: (E,) ``max(L/c, min_period_s)``.
        success_probability: (E,) ``½·η²·10^{−α·L/10}`` per attempt.
        routes: N arrays; ``routes[k]`` lists link indices from QPU k to the aggregator.
        route_nodes: N arrays; ``route_nodes[k]`` lists nodes k, …, N.
        route_incidence: (N, E) bool, ``True`` where link e lies on ``routes[k]``;
            e.g. end-to-end Werner parameter ``prod(where(route_incidence, w, 1), 1)``.
        signal_delays: pairs decay while classical signals travel the fibre at
            ``FIBRE_LIGHT_SPEED``: a link's herald (one attempt period after emission),
            and a route's swap outcomes on their way to its end nodes
            (:func:`qceas.network.context.make_context`). False: a fresh pair has its
            fidelity at herald time and swap outcomes arrive at once.
    """

    n_nodes: int
    graph: nx.Graph
    coherence_time_s: FloatArray
    memory_slots: IntArray
    endpoints: IntArray
    length_km: FloatArray
    attenuation_db_per_km: FloatArray
    efficiency: FloatArray
    initial_fidelity: FloatArray
    attempt_period_s: FloatArray
    success_probability: FloatArray
    routes: tuple[IntArray, ...]
    route_nodes: tuple[IntArray, ...]
    route_incidence: NDArray[np.bool_]
    signal_delays: bool = False

    def __post_init__(self) -> None:
        n, e = self.n_nodes, len(self.endpoints)
        shapes = {
            "coherence_time_s": (self.coherence_time_s, (n + 1,)),
            "memory_slots": (self.memory_slots, (n + 1,)),
            "endpoints": (self.endpoints, (e, 2)),
            "length_km": (self.length_km, (e,)),
            "attenuation_db_per_km": (self.attenuation_db_per_km, (e,)),
            "efficiency": (self.efficiency, (e,)),
            "initial_fidelity": (self.initial_fidelity, (e,)),
            "attempt_period_s": (self.attempt_period_s, (e,)),
            "success_probability": (self.success_probability, (e,)),
            "route_incidence": (self.route_incidence, (n, e)),
        }
        for name, (arr, shape) in shapes.items():
            if arr.shape != shape:
                raise ValueError(f"Network.{name} has shape {arr.shape}: must be {shape}")
        if len(self.routes) != n or len(self.route_nodes) != n:
            raise ValueError(f"Network.routes: must hold one route per QPU node ({n})")
        # Shared with the simulator by reference: make accidental writes fail loudly.
        for arr in (*(a for a, _ in shapes.values()), *self.routes, *self.route_nodes):
            arr.setflags(write=False)

    @property
    def aggregator(self) -> int:
        """Index of the aggregator node (always ``n_nodes``)."""
        return self.n_nodes

    @property
    def n_links(self) -> int:
        """E, the number of links."""
        return len(self.endpoints)

    @property
    def expected_rate(self) -> FloatArray:
        """(E,) expected heralded pairs per second per link, ``p/period``."""
        return self.success_probability / self.attempt_period_s

    @property
    def hops(self) -> IntArray:
        """(N,) number of links on each QPU's route to the aggregator."""
        return np.array([len(r) for r in self.routes], dtype=np.int64)

    def link_index(self, a: int, b: int) -> int:
        """Row of the link between nodes ``a`` and ``b`` (either order)."""
        self._check_node(a)
        self._check_node(b)
        if not self.graph.has_edge(a, b):
            raise ValueError(f"network: no link between nodes {a} and {b}")
        return int(self.graph.edges[a, b]["index"])

    def path(self, a: int, b: int) -> IntArray:
        """Nodes of the shortest route from ``a`` to ``b``, both included."""
        self._check_node(a)
        self._check_node(b)
        # Search from the higher end so that path(a, b) == path(b, a)[::-1] even with ties.
        hi, lo = max(a, b), min(a, b)
        nodes = nx.dijkstra_path(self.graph, hi, lo, weight=LENGTH)
        if a < b:
            nodes.reverse()
        return np.asarray(nodes, dtype=np.int64)

    def route(self, a: int, b: int) -> IntArray:
        """Link indices of the shortest route from node ``a`` to node ``b``, in order."""
        return links_along(self.graph, self.path(a, b))

    def _check_node(self, node: int) -> None:
        if not (is_integer(node) and 0 <= node <= self.n_nodes):
            raise ValueError(f"network: node {node!r} is not in 0..{self.n_nodes}")


def canonical_graph(n_nodes: int, edges: Iterable[tuple[int, int, float]]) -> nx.Graph:
    """Canonical graph: nodes ``0..N`` inserted in order, edges sorted, roles set."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes + 1))
    for u, v, length in sorted((min(u, v), max(u, v), length) for u, v, length in edges):
        graph.add_edge(u, v, **{LENGTH: float(length)})
    for u in graph.nodes:
        graph.nodes[u]["role"] = "aggregator" if u == n_nodes else "qpu"
    return graph


def canonical_copy(graph: nx.Graph) -> nx.Graph:
    """A mutable copy with nodes and adjacency in ascending order (fixes Dijkstra ties)."""
    n = graph.number_of_nodes() - 1
    if n < 1 or set(graph.nodes) != set(range(n + 1)):
        raise ValueError(
            f"network: graph nodes must be 0..N with N >= 1 (the aggregator); got "
            f"{sorted(graph.nodes, key=str)[:10]}"
        )
    if graph.is_directed() or graph.is_multigraph():
        raise ValueError("network: graph must be an undirected nx.Graph")
    out = nx.Graph()
    for u in range(n + 1):
        out.add_node(u, **graph.nodes[u])
    for u, v in sorted((min(u, v), max(u, v)) for u, v in graph.edges):
        if u == v:
            raise ValueError(f"network: link {u}-{v} is a self-loop")
        if LENGTH not in graph.edges[u, v]:
            raise ValueError(f"network: link {u}-{v} has no '{LENGTH}' attribute")
        out.add_edge(u, v, **graph.edges[u, v])
    return out


def routes_to_aggregator(graph: nx.Graph) -> tuple[IntArray, ...]:
    """Node sequences k → N; one Dijkstra from the aggregator (a shortest-path tree,
    identical to searching each pair from its higher end as :meth:`Network.path` does)."""
    n = graph.number_of_nodes() - 1
    paths = nx.single_source_dijkstra_path(graph, n, weight=LENGTH)
    for k in range(n):
        if k not in paths:
            raise ValueError(
                f"network: node {k} has no route to the aggregator (the topology is disconnected)"
            )
    return tuple(np.asarray(paths[k][::-1], dtype=np.int64) for k in range(n))


def links_along(graph: nx.Graph, nodes: IntArray) -> IntArray:
    """Link indices (the edges' ``index``) along a node sequence, in order."""
    return np.array(
        [graph.edges[int(u), int(v)]["index"] for u, v in pairwise(nodes.tolist())],
        dtype=np.int64,
    )
