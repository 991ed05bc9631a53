"""The registered topologies: builders of canonical graphs, by name in :data:`TOPOLOGIES`.

Each builder returns a ``networkx.Graph`` on nodes ``0..N`` (node ``N`` the
aggregator) with a ``length_km`` on every edge, inserted in canonical order
(:func:`~qceas.network.topology.network.canonical_graph`); layouts that have
coordinates also set a ``pos`` (km) on every node, for drawing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

import networkx as nx
import numpy as np

from qceas.network.topology._checks import EFFICIENCY, GT0, check_count, check_scalar
from qceas.network.topology.files import read_graph
from qceas.network.topology.network import FloatArray, canonical_graph
from qceas.registry import Registry

__all__ = [
    "TOPOLOGIES",
    "TopologyBuilder",
    "from_file",
    "grid",
    "line",
    "random_geometric",
    "ring",
    "star",
    "waxman",
]

TopologyBuilder: TypeAlias = Callable[..., nx.Graph]

#: Topology builders by name. Each returns a canonical graph (see the module docstring).
TOPOLOGIES: Registry[nx.Graph] = Registry("topology")


@TOPOLOGIES.register("line")
def line(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """Chain ``0 – 1 – … – N−1 – N``: QPU k is N−k links from the aggregator."""
    return canonical_graph(n_nodes, ((k, k + 1, link_length_km) for k in range(n_nodes)))


@TOPOLOGIES.register("ring")
def ring(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """Cycle ``0 – 1 – … – N – 0`` through the aggregator (one link when N = 1)."""
    edges = {(k, k + 1) for k in range(n_nodes)} | {(0, n_nodes)}
    return canonical_graph(n_nodes, ((u, v, link_length_km) for u, v in edges))


@TOPOLOGIES.register("star")
def star(n_nodes: int, *, link_length_km: float) -> nx.Graph:
    """Every QPU linked directly to the aggregator."""
    return canonical_graph(n_nodes, ((k, n_nodes, link_length_km) for k in range(n_nodes)))


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
    graph = canonical_graph(n_nodes, ((u, v, link_length_km) for u, v in edges))
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
    check_scalar("radius_km", radius_km, GT0)
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
    check_scalar("beta", beta, EFFICIENCY)
    check_scalar("alpha", alpha, GT0)

    def draw(seed: int) -> nx.Graph:
        # networkx cannot take the largest distance of a single point; any L will do.
        scale = 1.0 if n_nodes == 1 else None
        return nx.waxman_graph(n_nodes, beta, alpha, L=scale, domain=(0, 0, 1, 1), seed=seed)

    return _random_layout("waxman", draw, n_nodes, rng, area_km, aggregator_degree, max_attempts)


@TOPOLOGIES.register("file")
def from_file(path: str | Path | None, n_nodes: int | None = None) -> nx.Graph:
    """Read a user's network from GraphML (``.graphml``/``.xml``) or an edge list
    (``u v length_km`` per line); ``n_nodes``, if given, must equal the file's QPU
    count. The formats, the choice of the aggregator and the numbering of the QPUs are
    those of :func:`~qceas.network.topology.files.read_graph`."""
    return read_graph(path, n_nodes)


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
    check_count("aggregator_degree", aggregator_degree)
    check_count("max_attempts", max_attempts)
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
        graph = canonical_graph(n_nodes, edges)
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
