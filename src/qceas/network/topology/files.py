"""Networks in files: reading GraphML and edge lists into a canonical graph
(:func:`read_graph`, behind the ``file`` topology), writing a :class:`Network` back
(:func:`to_file`)."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import ParseError

import networkx as nx

from qceas.network.topology.network import LENGTH, Network, canonical_graph

__all__ = ["read_graph", "to_file"]

_GRAPHML = frozenset({".graphml", ".xml"})


def read_graph(path: str | Path | None, n_nodes: int | None = None) -> nx.Graph:
    """The canonical graph of a user's network in GraphML (``.graphml``/``.xml``) or
    an edge list (any other suffix).

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
    raw = _read_graphml(file) if file.suffix.lower() in _GRAPHML else _read_edge_list(file)
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
        if LENGTH not in data:
            raise ValueError(f"{where} has no '{LENGTH}' attribute")
        edges.append((index[u], index[v], _file_number(where, data[LENGTH])))
    graph = canonical_graph(len(ids), edges)
    for u in order:
        graph.nodes[index[u]]["label"] = str(u)
    return graph


def to_file(network: Network, path: str | Path) -> None:
    """Write the network's graph in the format the ``file`` topology reads (by suffix:
    GraphML for ``.graphml``/``.xml``, an edge list otherwise); the aggregator is
    written as ``aggregator``. Only the graph and lengths are kept."""
    file = Path(path)
    name = {u: str(u) for u in range(network.n_nodes)} | {network.aggregator: "aggregator"}
    if file.suffix.lower() in _GRAPHML:
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
        raw.add_edge(u, v, **{LENGTH: _file_number(where, length)})
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
