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
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeAlias
from xml.etree.ElementTree import ParseError

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas._rules import is_integer
from qceas.physics import FIBRE_LOSS_DB_PER_KM, attempt_period, success_probability
from qceas.registry import Registry

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
#: A number (all equal), a ``(low, high)`` tuple (drawn from ``rng``), or an explicit
#: list/array with one value per item. Only a *tuple* means a range, so a two-item
#: list is never mistaken for one.
PerItem: TypeAlias = float | tuple[float, float] | ArrayLike
TopologyBuilder: TypeAlias = Callable[..., nx.Graph]

#: Topology builders by name. Each returns a canonical graph (see the module docstring).
TOPOLOGIES: Registry[nx.Graph] = Registry("topology")

_LENGTH = "length_km"


# ----------------------------------------------------------------------- Network
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
        nodes = nx.dijkstra_path(self.graph, hi, lo, weight=_LENGTH)
        if a < b:
            nodes.reverse()
        return np.asarray(nodes, dtype=np.int64)

    def route(self, a: int, b: int) -> IntArray:
        """Link indices of the shortest route from node ``a`` to node ``b``, in order."""
        return _links_along(self.graph, self.path(a, b))

    def _check_node(self, node: int) -> None:
        if not (is_integer(node) and 0 <= node <= self.n_nodes):
            raise ValueError(f"network: node {node!r} is not in 0..{self.n_nodes}")


# ----------------------------------------------------------------- build_network
def build_network(
    topology: str,
    n_nodes: int | None = None,
    *,
    rng: np.random.Generator,
    link_length_km: float = 10.0,
    area_km: float = 100.0,
    attenuation_db_per_km: PerItem = FIBRE_LOSS_DB_PER_KM,
    efficiency: PerItem = 0.9,
    initial_fidelity: PerItem = (0.85, 0.95),
    coherence_time_s: PerItem = (1e-3, 1.0),
    memory_slots: int | ArrayLike = 4,
    min_period_s: float = 1e-6,
    path: str | Path | None = None,
    **topology_params: Any,
) -> Network:
    """Build a registered topology and attach link and memory parameters.

    Args:
        topology: a name in :data:`TOPOLOGIES` (``line``, ``ring``, ``star``, ``grid``,
            ``random_geometric``, ``waxman``, ``file``).
        n_nodes: N >= 1 QPU nodes. For ``file`` it may be ``None`` (take the file's
            count); an int must match the file.
        rng: the only source of randomness (random layouts, drawn parameters).
        link_length_km: L of every link in ``line``, ``ring``, ``star``, ``grid`` (> 0).
        area_km: side of the square holding random layouts (> 0).
        attenuation_db_per_km: α >= 0 per link (number, (low, high) tuple, or (E,)).
        efficiency: η in (0, 1] per link (number, (low, high) tuple, or (E,)).
        initial_fidelity: F in [0.25, 1] per link; a (low, high) tuple is drawn
            uniformly.
        coherence_time_s: T > 0 per node incl. the aggregator; a (low, high) tuple is
            drawn log-uniformly (memories span orders of magnitude).
        memory_slots: an int >= 1, or one per node (N+1,).
        min_period_s: floor on the attempt period (s, >= 0): devices are slower than
            light over short links.
        path: the graph file for ``file``.
        **topology_params: options of the chosen builder (e.g. ``radius_km``).

    Draws from ``rng`` happen in a fixed order (layout, fidelity, coherence time,
    efficiency, attenuation), so a seed reproduces the network exactly.
    """
    builder = TOPOLOGIES.factory(topology)
    if n_nodes is not None or topology != "file":
        _check_count("n_nodes", n_nodes)
    _check_scalar("link_length_km", link_length_km, _gt0)
    _check_scalar("area_km", area_km, _gt0)
    _check_scalar("min_period_s", min_period_s, _ge0)
    common: dict[str, Any] = {
        "n_nodes": n_nodes,
        "rng": rng,
        "link_length_km": float(link_length_km),
        "area_km": float(area_km),
        "path": path,
    }
    graph = builder(**_builder_kwargs(topology, builder, common, topology_params))
    return network_from_graph(
        graph,
        rng=rng,
        attenuation_db_per_km=attenuation_db_per_km,
        efficiency=efficiency,
        initial_fidelity=initial_fidelity,
        coherence_time_s=coherence_time_s,
        memory_slots=memory_slots,
        min_period_s=min_period_s,
    )


def network_from_graph(
    graph: nx.Graph,
    *,
    rng: np.random.Generator,
    attenuation_db_per_km: PerItem = FIBRE_LOSS_DB_PER_KM,
    efficiency: PerItem = 0.9,
    initial_fidelity: PerItem = (0.85, 0.95),
    coherence_time_s: PerItem = (1e-3, 1.0),
    memory_slots: int | ArrayLike = 4,
    min_period_s: float = 1e-6,
) -> Network:
    """A :class:`Network` from a graph on nodes ``0..N`` (N the aggregator) whose edges
    carry ``length_km``; the other arguments are as in :func:`build_network`."""
    _check_scalar("min_period_s", min_period_s, _ge0)
    graph = _canonical(graph)
    n = graph.number_of_nodes() - 1
    endpoints = np.array(sorted(graph.edges()), dtype=np.int64).reshape(-1, 2)
    length = np.array([graph.edges[u, v][_LENGTH] for u, v in endpoints], dtype=float)
    e = len(endpoints)
    _check_array("length_km", length, _gt0, "link", labels=[f"{u}-{v}" for u, v in endpoints])
    for i, (u, v) in enumerate(endpoints):
        graph.edges[u, v]["index"] = i

    routes_nodes = _routes_to_aggregator(graph)
    routes = tuple(_links_along(graph, nodes) for nodes in routes_nodes)
    incidence = np.zeros((n, e), dtype=bool)
    for k, links in enumerate(routes):
        incidence[k, links] = True

    fidelity = _per_item("initial_fidelity", initial_fidelity, e, "link", rng, _fidelity)
    coherence = _per_item("coherence_time_s", coherence_time_s, n + 1, "node", rng, _gt0, log=True)
    eta = _per_item("efficiency", efficiency, e, "link", rng, _efficiency)
    alpha = _per_item("attenuation_db_per_km", attenuation_db_per_km, e, "link", rng, _ge0)
    slots = _memory_slots(memory_slots, n + 1)

    p = np.asarray(
        success_probability(length, efficiency_a=eta, attenuation_db_per_km=alpha), dtype=float
    )
    period = np.asarray(attempt_period(length, minimum_s=min_period_s), dtype=float)
    return Network(
        n_nodes=n,
        graph=nx.freeze(graph),
        coherence_time_s=coherence,
        memory_slots=slots,
        endpoints=endpoints,
        length_km=length,
        attenuation_db_per_km=alpha,
        efficiency=eta,
        initial_fidelity=fidelity,
        attempt_period_s=period,
        success_probability=p,
        routes=routes,
        route_nodes=routes_nodes,
        route_incidence=incidence,
    )


# ----------------------------------------------------------------------- builders
@TOPOLOGIES.register("line")
def line(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """Chain ``0 – 1 – … – N−1 – N``: QPU k is N−k links from the aggregator."""
    return _graph(n_nodes, ((k, k + 1, link_length_km) for k in range(n_nodes)))


@TOPOLOGIES.register("ring")
def ring(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """Cycle ``0 – 1 – … – N – 0`` through the aggregator (one link when N = 1)."""
    edges = {(k, k + 1) for k in range(n_nodes)} | {(0, n_nodes)}
    return _graph(n_nodes, ((u, v, link_length_km) for u, v in edges))


@TOPOLOGIES.register("star")
def star(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """Every QPU linked directly to the aggregator."""
    return _graph(n_nodes, ((k, n_nodes, link_length_km) for k in range(n_nodes)))


@TOPOLOGIES.register("grid")
def grid(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """QPUs row-major on a near-square grid (``ceil(√N)`` columns, last row partial),
    neighbours ``link_length_km`` apart; the aggregator hangs off the QPU nearest the
    grid's bounding-box centre (lowest index on ties) by one link of the same length.
    ``pos`` (km) is set for drawing; lengths are the edge attributes."""
    cols = math.ceil(math.sqrt(n_nodes))
    xy = np.array([(k % cols, k // cols) for k in range(n_nodes)], dtype=float) * link_length_km
    edges = [(k, k + 1) for k in range(n_nodes - 1) if (k + 1) % cols]
    edges += [(k, k + cols) for k in range(n_nodes - cols)]
    centre = (xy.min(axis=0) + xy.max(axis=0)) / 2
    hub = int(np.argmin(np.linalg.norm(xy - centre, axis=1)))
    edges.append((hub, n_nodes))
    graph = _graph(n_nodes, ((u, v, link_length_km) for u, v in edges))
    _set_positions(graph, np.vstack([xy, centre]))
    return graph


@TOPOLOGIES.register("random_geometric")
def random_geometric(
    n_nodes: int,
    *,
    rng: np.random.Generator,
    area_km: float,
    radius_km: float | None = None,
    aggregator_degree: int = 1,
    max_attempts: int = 200,
) -> nx.Graph:
    """Random geometric graph: QPUs uniform in a square of side ``area_km``, linked
    when closer than ``radius_km`` (``networkx.random_geometric_graph``).

    The default radius is twice the connectivity threshold of a random geometric
    graph on n points, ``r = A·min(√2, 2·sqrt(ln n / (π n)))`` (Penrose, *Random
    Geometric Graphs*, OUP 2003; Gupta & Kumar 1998), so most draws are connected.
    The aggregator sits at the centre, linked to its ``aggregator_degree`` nearest
    QPUs. A disconnected draw is redrawn, at most ``max_attempts`` times; then a
    ``ValueError`` says so (choose a larger radius).
    """
    if radius_km is None:
        n = max(n_nodes, 2)
        radius_km = area_km * min(math.sqrt(2), 2 * math.sqrt(math.log(n) / (math.pi * n)))
    _check_scalar("radius_km", radius_km, _gt0)
    radius = float(radius_km) / area_km

    def draw(seed: int) -> nx.Graph:
        return nx.random_geometric_graph(n_nodes, radius, seed=seed)

    return _random_layout(
        "random_geometric", draw, n_nodes, rng, area_km, aggregator_degree, max_attempts
    )


@TOPOLOGIES.register("waxman")
def waxman(
    n_nodes: int,
    *,
    rng: np.random.Generator,
    area_km: float,
    beta: float = 0.9,
    alpha: float = 0.5,
    aggregator_degree: int = 1,
    max_attempts: int = 200,
) -> nx.Graph:
    """Waxman graph (``networkx.waxman_graph``): QPUs uniform in a square of side
    ``area_km``, each pair linked with probability ``β·exp(−d/(α·L))``, L the largest
    pairwise distance (Waxman, IEEE JSAC 6, 1617 (1988)).

    networkx's defaults (β = 0.4, α = 0.1) almost never give a connected graph on
    few nodes, hence β = 0.9, α = 0.5 here. Aggregator placement and the bounded
    redraw of disconnected graphs are as for ``random_geometric``.
    """
    _check_scalar("beta", beta, _efficiency)
    _check_scalar("alpha", alpha, _gt0)

    def draw(seed: int) -> nx.Graph:
        # networkx cannot take the largest distance of a single point; any L will do.
        scale = 1.0 if n_nodes == 1 else None
        return nx.waxman_graph(n_nodes, beta, alpha, L=scale, domain=(0, 0, 1, 1), seed=seed)

    return _random_layout("waxman", draw, n_nodes, rng, area_km, aggregator_degree, max_attempts)


@TOPOLOGIES.register("file")
def from_file(path: str | Path | None, n_nodes: int | None = None) -> nx.Graph:
    """Read a user's network from GraphML (``.graphml``/``.xml``) or an edge list.

    Edge list: one link per line, ``u v length_km`` (whitespace-separated; ``#``
    starts a comment; blank lines are skipped). GraphML: every edge needs a numeric
    ``length_km`` data attribute; directed graphs are read as undirected.

    The aggregator is the node with a true ``aggregator`` attribute (GraphML), else
    the node named ``aggregator``, else the last id. The other ids become QPUs
    ``0..N−1`` in sorted order, numerically when every id is an integer. Original
    ids are kept in the node attribute ``label``. ``n_nodes``, if given, must equal N.
    """
    if path is None:
        raise ValueError("path = None: the 'file' topology needs path=")
    file = Path(path)
    if not file.is_file():
        raise ValueError(f"path = {str(file)!r}: no such file")
    if file.suffix.lower() in {".graphml", ".xml"}:
        raw = _read_graphml(file)
    else:
        raw = _read_edge_list(file)
    if raw.number_of_nodes() < 2:
        raise ValueError(f"path = {str(file)!r}: needs at least one QPU and the aggregator")

    flagged = [u for u, d in raw.nodes(data=True) if _truthy(d.get("aggregator"))]
    if len(flagged) > 1:
        raise ValueError(f"path = {str(file)!r}: several aggregators {sorted(flagged)}")
    aggregator = flagged[0] if flagged else "aggregator" if "aggregator" in raw else None
    ids = [u for u in raw.nodes if u != aggregator]
    ids.sort(key=int if all(_is_int_text(u) for u in ids) else str)
    if aggregator is None:
        aggregator = ids.pop()
    order = [*ids, aggregator]
    if n_nodes is not None and n_nodes != len(ids):
        raise ValueError(f"n_nodes = {n_nodes}: the file {str(file)!r} has {len(ids)} QPU nodes")

    index = {u: i for i, u in enumerate(order)}
    edges = []
    for u, v, data in raw.edges(data=True):
        where = f"path = {str(file)!r}: link {u}-{v}"
        if u == v:
            raise ValueError(f"{where} is a self-loop")
        if _LENGTH not in data:
            raise ValueError(f"{where} has no '{_LENGTH}' attribute")
        edges.append((index[u], index[v], _file_number(where, data[_LENGTH])))
    graph = _graph(len(ids), edges)
    for u in order:
        graph.nodes[index[u]]["label"] = str(u)
    return graph


def to_file(network: Network, path: str | Path) -> None:
    """Write the network's graph in the format :func:`from_file` reads (by suffix:
    GraphML for ``.graphml``/``.xml``, an edge list otherwise); the aggregator is
    written as ``aggregator``. Only the graph and lengths are kept."""
    file = Path(path)
    name = {u: str(u) for u in range(network.n_nodes)} | {network.aggregator: "aggregator"}
    if file.suffix.lower() in {".graphml", ".xml"}:
        out = nx.Graph()
        out.add_nodes_from(name.values())
        out.nodes["aggregator"]["aggregator"] = True
        for (u, v), length in zip(network.endpoints, network.length_km, strict=True):
            out.add_edge(name[u], name[v], length_km=float(length))
        nx.write_graphml(out, file)
    else:
        lines = ["# u v length_km (qceas edge list)"]
        pairs = zip(network.endpoints.tolist(), network.length_km.tolist(), strict=True)
        lines += [f"{name[u]} {name[v]} {length!r}" for (u, v), length in pairs]
        file.write_text("\n".join(lines) + "\n")


# ------------------------------------------------------------------------ helpers
#: Arguments ``build_network`` gives a builder itself (the others are its options).
BUILDER_ARGUMENTS = frozenset({"n_nodes", "rng", "link_length_km", "area_km", "path"})
_COMMON = BUILDER_ARGUMENTS


def _builder_kwargs(
    topology: str, builder: TopologyBuilder, common: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The common arguments the builder declares, plus its own options; an option it
    does not take is an error naming the ones it does (instead of a TypeError)."""
    accepted = inspect.signature(builder).parameters
    own = sorted(set(accepted) - _COMMON)
    unknown = sorted(set(params) - set(own))
    if unknown:
        takes = ", ".join(own) or "no options"
        raise ValueError(f"network: topology {topology!r} takes {takes}; got {', '.join(unknown)}")
    if common.get("path") is not None and "path" not in accepted:
        raise ValueError(f"path: only the 'file' topology reads a file, not {topology!r}")
    return {k: v for k, v in common.items() if k in accepted} | dict(params)


def _graph(n_nodes: int, edges: Iterable[tuple[int, int, float]]) -> nx.Graph:
    """Canonical graph: nodes ``0..N`` inserted in order, edges sorted, roles set."""
    graph = nx.Graph()
    graph.add_nodes_from(range(n_nodes + 1))
    for u, v, length in sorted((min(u, v), max(u, v), length) for u, v, length in edges):
        graph.add_edge(u, v, **{_LENGTH: float(length)})
    for u in graph.nodes:
        graph.nodes[u]["role"] = "aggregator" if u == n_nodes else "qpu"
    return graph


def _canonical(graph: nx.Graph) -> nx.Graph:
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
        if _LENGTH not in graph.edges[u, v]:
            raise ValueError(f"network: link {u}-{v} has no '{_LENGTH}' attribute")
        out.add_edge(u, v, **graph.edges[u, v])
    return out


def _routes_to_aggregator(graph: nx.Graph) -> tuple[IntArray, ...]:
    """Node sequences k → N; one Dijkstra from the aggregator (a shortest-path tree,
    identical to searching each pair from its higher end as :meth:`Network.path` does)."""
    n = graph.number_of_nodes() - 1
    paths = nx.single_source_dijkstra_path(graph, n, weight=_LENGTH)
    for k in range(n):
        if k not in paths:
            raise ValueError(
                f"network: node {k} has no route to the aggregator (the topology is disconnected)"
            )
    return tuple(np.asarray(paths[k][::-1], dtype=np.int64) for k in range(n))


def _links_along(graph: nx.Graph, nodes: IntArray) -> IntArray:
    return np.array(
        [graph.edges[int(u), int(v)]["index"] for u, v in pairwise(nodes.tolist())],
        dtype=np.int64,
    )


def _random_layout(
    name: str,
    draw: Callable[[int], nx.Graph],
    n_nodes: int,
    rng: np.random.Generator,
    area_km: float,
    aggregator_degree: int,
    max_attempts: int,
) -> nx.Graph:
    """Scale a unit-square draw to ``area_km``, add the central aggregator, redraw while
    disconnected (bounded)."""
    _check_count("aggregator_degree", aggregator_degree)
    _check_count("max_attempts", max_attempts)
    # More aggregator links than QPUs is harmless in a sweep over n_nodes: cap it.
    degree = min(aggregator_degree, n_nodes)
    centre = np.array([0.5, 0.5])
    for _ in range(max_attempts):
        # networkx generators take an int seed; drawing it from rng keeps one stream.
        unit = draw(int(rng.integers(2**32)))
        xy = np.array([unit.nodes[k]["pos"] for k in range(n_nodes)], dtype=float)
        edges = [(u, v, area_km * math.dist(xy[u], xy[v])) for u, v in unit.edges]
        d = np.linalg.norm(xy - centre, axis=1)
        nearest = np.argsort(d, kind="stable")[:degree]
        edges += [(int(k), n_nodes, area_km * float(d[k])) for k in nearest]
        graph = _graph(n_nodes, edges)
        if nx.is_connected(graph):
            _set_positions(graph, area_km * np.vstack([xy, centre]))
            return graph
    raise ValueError(
        f"{name} graph with {n_nodes} nodes was disconnected in all {max_attempts} "
        f"draws; raise the link density (e.g. radius_km, alpha/beta) or max_attempts"
    )


def _set_positions(graph: nx.Graph, xy: FloatArray) -> None:
    for u, (x, y) in enumerate(xy):
        graph.nodes[u]["pos"] = (float(x), float(y))


def _read_graphml(file: Path) -> nx.Graph:
    try:
        raw = nx.read_graphml(file)
    except (ParseError, nx.NetworkXError, ValueError, KeyError) as err:
        raise ValueError(f"path = {str(file)!r}: not valid GraphML ({err})") from None
    if raw.is_multigraph():
        raise ValueError(f"path = {str(file)!r}: parallel links are not supported")
    return nx.Graph(raw.to_undirected()) if raw.is_directed() else raw


def _read_edge_list(file: Path) -> nx.Graph:
    raw = nx.Graph()
    for number, text in enumerate(file.read_text().splitlines(), start=1):
        fields = text.split("#", 1)[0].split()
        if not fields:
            continue
        where = f"path = {str(file)!r}: line {number} {text.strip()!r}"
        if len(fields) != 3:
            raise ValueError(f"{where}: expected 'u v length_km'")
        u, v, length = fields
        if u == v:
            raise ValueError(f"{where}: link {u}-{v} is a self-loop")
        if raw.has_edge(u, v):
            raise ValueError(f"{where}: duplicate link {u}-{v}")
        raw.add_edge(u, v, **{_LENGTH: _file_number(where, length)})
    return raw


def _file_number(where: str, text: object) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{where}: length {text!r} is not a number") from None


def _truthy(value: object) -> bool:
    return value is not None and str(value).strip().lower() in {"true", "1", "yes"}


def _is_int_text(text: object) -> bool:
    try:
        int(str(text))
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------- validation
# A rule is (predicate on a float array, how to say it).
_Rule: TypeAlias = tuple[Callable[[FloatArray], NDArray[np.bool_]], str]
_gt0: _Rule = (lambda x: x > 0, "must be > 0")
_ge0: _Rule = (lambda x: x >= 0, "must be >= 0")
_fidelity: _Rule = (lambda x: (x >= 0.25) & (x <= 1), "must be in [0.25, 1]")
_efficiency: _Rule = (lambda x: (x > 0) & (x <= 1), "must be in (0, 1]")


def _as_float(name: str, value: object) -> FloatArray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number or an array of numbers") from None
    return arr


def _check_array(
    name: str, arr: FloatArray, rule: _Rule, what: str, labels: list[str] | None = None
) -> FloatArray:
    ok, says = rule
    bad = ~(np.isfinite(arr) & ok(arr))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        says = says if np.isfinite(arr[i]) else "must be finite"
        where = labels[i] if labels is not None else str(i)
        raise ValueError(f"{name} = {arr[i]:g} ({what} {where}): {says}")
    return arr


def _check_scalar(name: str, value: object, rule: _Rule) -> float:
    arr = _as_float(name, value)
    if arr.ndim != 0:
        raise ValueError(f"{name} = {value!r}: must be a single number")
    ok, says = rule
    if not np.isfinite(arr):
        raise ValueError(f"{name} = {float(arr):g}: must be finite")
    if not ok(arr):
        raise ValueError(f"{name} = {float(arr):g}: {says}")
    return float(arr)


def _check_count(name: str, value: object) -> int:
    if not (is_integer(value) and int(value) >= 1):
        raise ValueError(f"{name} = {value!r}: must be an integer >= 1")
    return int(value)


def _per_item(
    name: str,
    value: PerItem,
    count: int,
    what: str,
    rng: np.random.Generator,
    rule: _Rule,
    *,
    log: bool = False,
) -> FloatArray:
    """``count`` values from a number, a (low, high) tuple or an explicit array.

    A range is drawn uniformly, or log-uniformly (``exp U(ln low, ln high)``) when
    ``log``; the draws are clipped to [low, high] against round-off in exp/log.
    """
    if isinstance(value, tuple):
        if len(value) != 2:
            raise ValueError(f"{name} = {value!r}: a tuple must be a (low, high) range")
        low, high = (_check_scalar(name, v, rule) for v in value)
        if low > high:
            raise ValueError(f"{name} = ({low:g}, {high:g}): low must be <= high")
        if log:
            draws = np.exp(rng.uniform(math.log(low), math.log(high), size=count))
        else:
            draws = rng.uniform(low, high, size=count)
        return np.clip(draws, low, high)
    arr = _as_float(name, value)
    if arr.ndim == 0:
        return np.full(count, _check_scalar(name, arr, rule))
    if arr.shape != (count,):
        raise ValueError(
            f"{name} has shape {arr.shape}: must be a number, a (low, high) tuple "
            f"or one value per {what} ({count})"
        )
    return _check_array(name, arr.copy(), rule, what)


def _memory_slots(value: int | ArrayLike, count: int) -> IntArray:
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(count, _check_count("memory_slots", value), dtype=np.int64)
    if arr.shape != (count,):
        raise ValueError(
            f"memory_slots has shape {arr.shape}: must be an integer or one per "
            f"node ({count}, the aggregator included)"
        )
    for i, v in enumerate(arr.tolist()):
        if not (is_integer(v) and v >= 1):
            raise ValueError(f"memory_slots = {v!r} (node {i}): must be an integer >= 1")
    return arr.astype(np.int64)
