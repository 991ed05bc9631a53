"""Network topologies: every builder's contract, routes against networkx, link physics
against qceas.physics, parameter draws, file round trips, and every validation message."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas import physics as ph
from qceas.network import (
    TOPOLOGIES,
    Network,
    UnknownNameError,
    build_network,
    from_file,
    network_from_graph,
    to_file,
)


def make(topology: str, n: int, seed: int = 0, tmp: Path | None = None, **kw: Any) -> Network:
    if topology == "file":
        assert tmp is not None
        file = tmp / f"line{n}.txt"
        file.write_text("".join(f"{k} {k + 1} {5.0 + k}\n" for k in range(n)))
        kw["path"] = file
    return build_network(topology, n, rng=np.random.default_rng(seed), **kw)


def walk(net: Network, links: np.ndarray, start: int) -> list[int]:
    """Nodes visited following ``links`` from ``start``; fails if two links don't touch."""
    nodes = [start]
    for e in links:
        u, v = net.endpoints[e]
        assert nodes[-1] in (u, v), f"link {e} does not continue the path {nodes}"
        nodes.append(int(v if nodes[-1] == u else u))
    return nodes


def assert_shortest_route(net: Network, a: int, b: int) -> None:
    links = net.route(a, b)
    nodes = walk(net, links, a)
    assert nodes[-1] == b
    assert len(set(nodes)) == len(nodes)
    assert nodes == net.path(a, b).tolist()
    best = nx.dijkstra_path_length(net.graph, a, b, weight="length_km")
    assert net.length_km[links].sum() == pytest.approx(best, rel=1e-12)


# -------------------------------------------------------------- contract per topology
@pytest.mark.parametrize("topology", TOPOLOGIES.names())
@pytest.mark.parametrize("n", [1, 2, 3, 7, 12])
@pytest.mark.parametrize("seed", [0, 1])
def test_every_topology_builds_a_consistent_network(
    topology: str, n: int, seed: int, tmp_path: Path
) -> None:
    net = make(topology, n, seed, tmp_path)
    e = net.n_links
    assert net.n_nodes == n
    assert net.aggregator == n
    assert sorted(net.graph.nodes) == list(range(n + 1))
    assert net.graph.nodes[n]["role"] == "aggregator"
    assert net.endpoints.shape == (e, 2)
    assert e == net.graph.number_of_edges()
    assert np.all(net.endpoints[:, 0] < net.endpoints[:, 1])
    assert net.endpoints.tolist() == sorted(net.endpoints.tolist())
    for i, (u, v) in enumerate(net.endpoints):
        assert net.link_index(int(u), int(v)) == net.link_index(int(v), int(u)) == i
    for arr in (net.coherence_time_s, net.memory_slots):
        assert arr.shape == (n + 1,)
    assert np.all(net.length_km > 0)
    assert net.route_incidence.shape == (n, e)
    for k in range(n):
        route = net.routes[k]
        assert walk(net, route, k) == net.route_nodes[k].tolist()
        assert net.route_nodes[k][0] == k
        assert net.route_nodes[k][-1] == n
        np.testing.assert_array_equal(route, net.route(k, n))
        assert net.route_incidence[k].sum() == len(route) == net.hops[k]
        assert np.all(net.route_incidence[k, route])
        assert_shortest_route(net, k, n)
    with pytest.raises(ValueError, match="read-only"):
        net.length_km[0] = 1.0
    with pytest.raises(nx.NetworkXError, match="Frozen"):
        net.graph.add_edge(0, n)


@pytest.mark.parametrize("topology", ["grid", "random_geometric", "waxman"])
def test_link_physics_equals_the_physics_functions(topology: str) -> None:
    net = make(
        topology, 9, 3, efficiency=(0.5, 0.9), attenuation_db_per_km=(0.15, 0.3), min_period_s=2e-5
    )
    for i in range(net.n_links):
        length, eta, alpha = net.length_km[i], net.efficiency[i], net.attenuation_db_per_km[i]
        p = ph.success_probability(length, efficiency_a=eta, attenuation_db_per_km=alpha)
        assert net.success_probability[i] == pytest.approx(p, rel=1e-14)
        assert net.success_probability[i] == pytest.approx(
            0.5 * eta**2 * 10 ** (-alpha * length / 10), rel=1e-12
        )
        period = ph.attempt_period(length, minimum_s=2e-5)
        assert net.attempt_period_s[i] == period
        assert period == max(length * 1e3 / ph.FIBRE_LIGHT_SPEED, 2e-5)
    np.testing.assert_allclose(net.expected_rate, net.success_probability / net.attempt_period_s)


@pytest.mark.parametrize("topology", TOPOLOGIES.names())
def test_same_seed_same_network(topology: str, tmp_path: Path) -> None:
    a, b = make(topology, 8, 5, tmp_path), make(topology, 8, 5, tmp_path)
    for field in (
        "endpoints",
        "length_km",
        "initial_fidelity",
        "coherence_time_s",
        "success_probability",
        "attempt_period_s",
        "route_incidence",
    ):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    c = make(topology, 8, 6, tmp_path)
    assert not np.array_equal(a.initial_fidelity, c.initial_fidelity)


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_regular_topologies_have_the_expected_hops(n: int) -> None:
    assert make("star", n).hops.tolist() == [1] * n
    assert make("line", n).hops.tolist() == [n - k for k in range(n)]
    assert make("ring", n).hops.tolist() == [min(n - k, k + 1) for k in range(n)]
    for topology in ("line", "ring", "star"):
        net = make(topology, n, link_length_km=7.5)
        np.testing.assert_array_equal(net.length_km, 7.5)


def test_grid_layout_and_hub() -> None:
    net = make("grid", 9, link_length_km=2.0)
    # 3x3 grid: 12 neighbour links plus the aggregator on the centre QPU 4.
    assert net.n_links == 13
    assert net.graph.degree(9) == 1
    assert net.graph.has_edge(4, 9)
    assert net.length_km[net.link_index(4, 9)] == 2.0
    assert net.hops.tolist() == [3, 2, 3, 2, 1, 2, 3, 2, 3]
    partial = make("grid", 7)  # 3 columns, last row partial; centre (1, 1) is QPU 4
    assert partial.graph.has_edge(4, 7)
    assert partial.graph.degree(7) == 1


@settings(max_examples=25, deadline=None)
@given(
    topology=st.sampled_from(["random_geometric", "waxman"]),
    n=st.integers(1, 15),
    seed=st.integers(0, 2**32 - 1),
    degree=st.integers(1, 3),
)
def test_random_routes_are_shortest_paths(topology: str, n: int, seed: int, degree: int) -> None:
    net = make(topology, n, seed, area_km=50.0, aggregator_degree=degree)
    assert net.graph.degree(n) == min(degree, n)
    for node in range(n):
        x, y = net.graph.nodes[node]["pos"]
        assert 0 <= x <= 50
        assert 0 <= y <= 50
    for u, v in net.endpoints:
        dist = math.dist(net.graph.nodes[int(u)]["pos"], net.graph.nodes[int(v)]["pos"])
        assert net.length_km[net.link_index(int(u), int(v))] == pytest.approx(dist)
    for k in range(n):
        assert_shortest_route(net, k, n)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_route_between_any_two_nodes_is_symmetric(seed: int, data: st.DataObject) -> None:
    net = make("grid", 12, seed)  # a grid has many equally short paths: ties matter
    a = data.draw(st.integers(0, 12))
    b = data.draw(st.integers(0, 12))
    np.testing.assert_array_equal(net.route(a, b), net.route(b, a)[::-1])
    assert len(net.route(a, b)) == nx.shortest_path_length(net.graph, a, b)
    assert_shortest_route(net, a, b)
    assert net.route(a, a).size == 0


# ------------------------------------------------------------------ parameter draws
def test_ranges_are_respected() -> None:
    net = make("star", 500, 7, initial_fidelity=(0.8, 0.9), coherence_time_s=(1e-4, 10.0))
    assert np.all((net.initial_fidelity >= 0.8) & (net.initial_fidelity <= 0.9))
    assert np.all((net.coherence_time_s >= 1e-4) & (net.coherence_time_s <= 10.0))
    # Log-uniform: log10 T is uniform on [−4, 1], so its median is near −1.5 and each
    # decade holds about a fifth of the nodes.
    logs = np.log10(net.coherence_time_s)
    assert abs(np.median(logs) + 1.5) < 0.3
    counts = np.histogram(logs, bins=5, range=(-4, 1))[0]
    assert np.all(np.abs(counts / len(logs) - 0.2) < 0.06)


def test_scalars_and_explicit_arrays() -> None:
    base = make("line", 4)
    fid = np.linspace(0.3, 1.0, base.n_links)
    net = make(
        "line",
        4,
        initial_fidelity=fid,
        coherence_time_s=0.5,
        memory_slots=[1, 2, 3, 4, 5],
        efficiency=[1.0, 0.5, 0.9, 0.2],
        attenuation_db_per_km=0.0,
    )
    np.testing.assert_array_equal(net.initial_fidelity, fid)
    np.testing.assert_array_equal(net.coherence_time_s, 0.5)
    assert net.memory_slots.tolist() == [1, 2, 3, 4, 5]
    assert net.memory_slots.dtype == np.int64
    np.testing.assert_allclose(net.success_probability, 0.5 * net.efficiency**2)
    assert make("line", 4, initial_fidelity=(0.9, 0.9)).initial_fidelity.tolist() == [0.9] * 4


def test_network_from_graph_accepts_a_custom_graph() -> None:
    graph = nx.Graph()
    graph.add_edge(2, 0, length_km=3.0)  # inserted out of order on purpose
    graph.add_edge(1, 2, length_km=4.0)
    graph.add_edge(0, 1, length_km=10.0)
    net = network_from_graph(graph, rng=np.random.default_rng(0))
    assert net.endpoints.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert [r.tolist() for r in net.route_nodes] == [[0, 2], [1, 2]]
    assert net.route(0, 1).tolist() == [1, 2]  # 3 + 4 km beats the direct 10 km


# ---------------------------------------------------------------------- graph files
@pytest.mark.parametrize("suffix", [".graphml", ".txt"])
@pytest.mark.parametrize("topology", ["waxman", "grid"])
def test_file_round_trip(topology: str, suffix: str, tmp_path: Path) -> None:
    net = make(topology, 9, 4)
    file = tmp_path / f"net{suffix}"
    to_file(net, file)
    back = build_network("file", rng=np.random.default_rng(4), path=file)
    assert back.n_nodes == net.n_nodes
    np.testing.assert_array_equal(back.endpoints, net.endpoints)
    np.testing.assert_array_equal(back.length_km, net.length_km)
    for a, b in zip(back.routes, net.routes, strict=True):
        np.testing.assert_array_equal(a, b)
    assert back.graph.nodes[9]["label"] == "aggregator"


def test_edge_list_format(tmp_path: Path) -> None:
    file = tmp_path / "net.txt"
    file.write_text("# a comment\n\n10 2 1.5\n2 1 2.5  # trailing comment\n1 3 4\n")
    graph = from_file(file)
    # ids 1, 2, 3, 10: the last (10) is the aggregator; numeric sort puts 10 after 3.
    assert [graph.nodes[k]["label"] for k in range(4)] == ["1", "2", "3", "10"]
    assert sorted(graph.edges(data="length_km")) == [(0, 1, 2.5), (0, 2, 4.0), (1, 3, 1.5)]
    file.write_text("hub b 1\nb a 2\naggregator a 3\n")
    graph = from_file(file)  # the node named 'aggregator' wins over the last id
    assert [graph.nodes[k]["label"] for k in range(4)] == ["a", "b", "hub", "aggregator"]


def test_graphml_aggregator_attribute(tmp_path: Path) -> None:
    raw = nx.Graph()
    raw.add_edge("x", "hub", length_km=2.0)
    raw.add_edge("y", "hub", length_km=3.0)
    raw.nodes["hub"]["aggregator"] = True
    file = tmp_path / "net.graphml"
    nx.write_graphml(raw, file)
    net = build_network("file", 2, rng=np.random.default_rng(0), path=file)
    assert net.graph.nodes[2]["label"] == "hub"
    assert net.hops.tolist() == [1, 1]
    assert net.length_km.tolist() == [2.0, 3.0]


# ----------------------------------------------------------------- validation errors
BAD_INPUTS = [
    ({"link_length_km": -1}, "link_length_km = -1: must be > 0"),
    ({"link_length_km": 0.0}, "link_length_km = 0: must be > 0"),
    ({"area_km": math.inf}, "area_km = inf: must be finite"),
    ({"initial_fidelity": 1.2}, "initial_fidelity = 1.2: must be in [0.25, 1]"),
    ({"initial_fidelity": (0.2, 0.9)}, "initial_fidelity = 0.2: must be in [0.25, 1]"),
    (
        {"initial_fidelity": [0.9, 0.9, 1.3]},
        "initial_fidelity = 1.3 (link 2): must be in [0.25, 1]",
    ),
    (
        {"initial_fidelity": (0.95, 0.85)},
        "initial_fidelity = (0.95, 0.85): low must be <= high",
    ),
    (
        {"initial_fidelity": (0.8, 0.9, 0.95)},
        "initial_fidelity = (0.8, 0.9, 0.95): a tuple must be a (low, high) range",
    ),
    (
        {"initial_fidelity": [0.9, 0.9]},
        "initial_fidelity has shape (2,): must be a number, a (low, high) tuple "
        "or one value per link (3)",
    ),
    (
        {"initial_fidelity": "high"},
        "initial_fidelity = 'high': must be a number or an array of numbers",
    ),
    ({"coherence_time_s": 0}, "coherence_time_s = 0: must be > 0"),
    ({"coherence_time_s": (-1.0, 1.0)}, "coherence_time_s = -1: must be > 0"),
    ({"memory_slots": 0}, "memory_slots = 0: must be an integer >= 1"),
    ({"memory_slots": 2.5}, "memory_slots = 2.5: must be an integer >= 1"),
    ({"memory_slots": [1, 1, 0, 1]}, "memory_slots = 0 (node 2): must be an integer >= 1"),
    (
        {"memory_slots": [1, 1]},
        "memory_slots has shape (2,): must be an integer or one per node "
        "(4, the aggregator included)",
    ),
    ({"efficiency": 0}, "efficiency = 0: must be in (0, 1]"),
    ({"efficiency": 1.5}, "efficiency = 1.5: must be in (0, 1]"),
    ({"attenuation_db_per_km": -0.1}, "attenuation_db_per_km = -0.1: must be >= 0"),
    ({"min_period_s": -1e-6}, "min_period_s = -1e-06: must be >= 0"),
    ({"radius_km": 5.0}, "network: topology 'line' takes no options; got radius_km"),
    ({"path": "g.txt"}, "path = 'g.txt': only the 'file' topology reads a file, not 'line'"),
]


@pytest.mark.parametrize(("kwargs", "message"), BAD_INPUTS)
def test_bad_input_names_field_value_and_rule(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make("line", 3, **kwargs)


@pytest.mark.parametrize("n", [0, -2, 2.0, True, None])
def test_bad_node_count(n: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(f"n_nodes = {n!r}: must be an integer")):
        build_network("star", n, rng=np.random.default_rng(0))


def test_unknown_topology_lists_the_known_ones() -> None:
    with pytest.raises(UnknownNameError, match="unknown topology 'torus'") as info:
        build_network("torus", 3, rng=np.random.default_rng(0))
    for name in ("file", "grid", "line", "random_geometric", "ring", "star", "waxman"):
        assert name in str(info.value)


def test_topology_options_are_validated() -> None:
    with pytest.raises(ValueError, match=re.escape("radius_km = -3: must be > 0")):
        make("random_geometric", 4, radius_km=-3.0)
    with pytest.raises(ValueError, match=re.escape("beta = 0: must be in (0, 1]")):
        make("waxman", 4, beta=0.0)
    with pytest.raises(ValueError, match=re.escape("topology 'waxman' takes aggregator_degree")):
        make("waxman", 4, radius_km=3.0)
    with pytest.raises(ValueError, match=re.escape("aggregator_degree = 0: must be")):
        make("waxman", 4, aggregator_degree=0)


def test_random_topology_gives_up_after_bounded_redraws() -> None:
    message = "random_geometric graph with 30 nodes was disconnected in all 3 draws"
    with pytest.raises(ValueError, match=re.escape(message)):
        make("random_geometric", 30, radius_km=1.0, max_attempts=3)


def test_disconnected_graph_has_no_route() -> None:
    graph = nx.Graph()
    graph.add_nodes_from(range(10))
    graph.add_edges_from([(k, 9) for k in range(7)], length_km=1.0)
    graph.add_edge(7, 8, length_km=1.0)
    message = "network: node 7 has no route to the aggregator (the topology is disconnected)"
    with pytest.raises(ValueError, match=re.escape(message)):
        network_from_graph(graph, rng=np.random.default_rng(0))


def test_network_queries_reject_unknown_nodes_and_links() -> None:
    net = make("star", 3)
    with pytest.raises(ValueError, match=re.escape("network: no link between nodes 0 and 1")):
        net.link_index(0, 1)
    with pytest.raises(ValueError, match=re.escape("network: node 4 is not in 0..3")):
        net.route(0, 4)


FILE_ERRORS = [
    ("1 2\n", "line 1 '1 2': expected 'u v length_km'"),
    ("1 2 far\n", "line 1 '1 2 far': length 'far' is not a number"),
    ("1 2 3\n2 1 4\n", "line 2 '2 1 4': duplicate link 2-1"),
    ("1 1 3\n", "link 1-1 is a self-loop"),
    ("1 2 -3\n", "length_km = -3 (link 0-1): must be > 0"),
    ("# nothing\n", "needs at least one QPU and the aggregator"),
    ("0 3 1\n1 2 1\n", "network: node 1 has no route to the aggregator"),
]


@pytest.mark.parametrize(("text", "message"), FILE_ERRORS)
def test_malformed_edge_list(text: str, message: str, tmp_path: Path) -> None:
    file = tmp_path / "bad.txt"
    file.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        build_network("file", rng=np.random.default_rng(0), path=file)


def test_file_errors(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match=re.escape(f"path = {str(missing)!r}: no such")):
        build_network("file", rng=np.random.default_rng(0), path=missing)
    with pytest.raises(ValueError, match=re.escape("the 'file' topology needs path=")):
        build_network("file", rng=np.random.default_rng(0))
    broken = tmp_path / "broken.graphml"
    broken.write_text("<graphml><graph>")
    with pytest.raises(ValueError, match="not valid GraphML"):
        from_file(broken)
    raw = nx.Graph()
    raw.add_edge("a", "b", weight=1.0)
    no_length = tmp_path / "weight.graphml"
    nx.write_graphml(raw, no_length)
    with pytest.raises(ValueError, match=re.escape("link a-b has no 'length_km' attribute")):
        from_file(no_length)
    line = tmp_path / "line.txt"
    line.write_text("0 1 1\n1 2 1\n")
    with pytest.raises(ValueError, match=re.escape("n_nodes = 5: the file")):
        build_network("file", 5, rng=np.random.default_rng(0), path=line)
