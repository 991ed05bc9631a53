"""From a topology name or a graph to a :class:`Network`: the builder's arguments, the
per-link and per-node values (a number, a drawn range or one value per item), the link
physics and the routes."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeAlias

import networkx as nx
import numpy as np
from numpy.typing import ArrayLike

from qceas._rules import is_integer
from qceas.network.topology._checks import (
    EFFICIENCY,
    FIDELITY,
    GE0,
    GT0,
    Rule,
    as_float,
    check_array,
    check_count,
    check_scalar,
)
from qceas.network.topology.graphs import TOPOLOGIES, TopologyBuilder
from qceas.network.topology.network import (
    LENGTH,
    FloatArray,
    IntArray,
    Network,
    canonical_copy,
    links_along,
    routes_to_aggregator,
)
from qceas.physics import FIBRE_LOSS_DB_PER_KM, attempt_period, success_probability

__all__ = ["BUILDER_ARGUMENTS", "PerItem", "build_network", "network_from_graph"]

#: A number (all equal), a ``(low, high)`` tuple (drawn from ``rng``), or an explicit
#: list/array with one value per item. Only a *tuple* means a range, so a two-item
#: list is never mistaken for one.
PerItem: TypeAlias = float | tuple[float, float] | ArrayLike

#: Arguments ``build_network`` gives a builder itself (the others are its options).
BUILDER_ARGUMENTS = frozenset({"n_nodes", "rng", "link_length_km", "area_km", "path"})


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
        check_count("n_nodes", n_nodes)
    check_scalar("link_length_km", link_length_km, GT0)
    check_scalar("area_km", area_km, GT0)
    check_scalar("min_period_s", min_period_s, GE0)
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
    check_scalar("min_period_s", min_period_s, GE0)
    graph = canonical_copy(graph)
    n = graph.number_of_nodes() - 1
    endpoints = np.array(sorted(graph.edges()), dtype=np.int64).reshape(-1, 2)
    length = np.array([graph.edges[u, v][LENGTH] for u, v in endpoints], dtype=float)
    e = len(endpoints)
    check_array("length_km", length, GT0, "link", labels=[f"{u}-{v}" for u, v in endpoints])
    for i, (u, v) in enumerate(endpoints):
        graph.edges[u, v]["index"] = i

    routes_nodes = routes_to_aggregator(graph)
    routes = tuple(links_along(graph, nodes) for nodes in routes_nodes)
    incidence = np.zeros((n, e), dtype=bool)
    for k, links in enumerate(routes):
        incidence[k, links] = True

    fidelity = _per_item("initial_fidelity", initial_fidelity, e, "link", rng, FIDELITY)
    coherence = _per_item("coherence_time_s", coherence_time_s, n + 1, "node", rng, GT0, log=True)
    eta = _per_item("efficiency", efficiency, e, "link", rng, EFFICIENCY)
    alpha = _per_item("attenuation_db_per_km", attenuation_db_per_km, e, "link", rng, GE0)
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


def _builder_kwargs(
    topology: str, builder: TopologyBuilder, common: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The common arguments the builder declares, plus its own options; an option it
    does not take is an error naming the ones it does (instead of a TypeError)."""
    accepted = inspect.signature(builder).parameters
    own = sorted(set(accepted) - BUILDER_ARGUMENTS)
    unknown = sorted(set(params) - set(own))
    if unknown:
        takes = ", ".join(own) or "no options"
        raise ValueError(f"network: topology {topology!r} takes {takes}; got {', '.join(unknown)}")
    if common.get("path") is not None and "path" not in accepted:
        raise ValueError(
            f"path = {str(common['path'])!r}: only the 'file' topology reads a file, "
            f"not {topology!r}"
        )
    return {k: v for k, v in common.items() if k in accepted} | dict(params)


def _per_item(
    name: str,
    value: PerItem,
    count: int,
    what: str,
    rng: np.random.Generator,
    rule: Rule,
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
        low, high = (check_scalar(name, v, rule) for v in value)
        if low > high:
            raise ValueError(f"{name} = ({low:g}, {high:g}): low must be <= high")
        if log:
            draws = np.exp(rng.uniform(math.log(low), math.log(high), size=count))
        else:
            draws = rng.uniform(low, high, size=count)
        return np.clip(draws, low, high)
    arr = as_float(name, value)
    if arr.ndim == 0:
        return np.full(count, check_scalar(name, arr, rule))
    if arr.shape != (count,):
        raise ValueError(
            f"{name} has shape {arr.shape}: must be a number, a (low, high) tuple "
            f"or one value per {what} ({count})"
        )
    return check_array(name, arr.copy(), rule, what)


def _memory_slots(value: int | ArrayLike, count: int) -> IntArray:
    """``count`` memory sizes from one int >= 1 or one int >= 1 per node."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return np.full(count, check_count("memory_slots", value), dtype=np.int64)
    if arr.shape != (count,):
        raise ValueError(
            f"memory_slots has shape {arr.shape}: must be an integer or one per "
            f"node ({count}, the aggregator included)"
        )
    for i, v in enumerate(arr.tolist()):
        if not (is_integer(v) and v >= 1):
            raise ValueError(f"memory_slots = {v!r} (node {i}): must be an integer >= 1")
    return arr.astype(np.int64)
