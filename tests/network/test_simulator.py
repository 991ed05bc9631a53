"""The time-slotted network simulator: link statistics, decay, swapping, memory, ledger.

Oracles are closed forms (Poisson/binomial counts of heralds, ARCHITECTURE §4 decay and
chain fidelity, BBPSSW/DEJMPS) recomputed from the ledger's raw columns.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from qceas.network import (
    FATES,
    Context,
    Decision,
    Demand,
    SlotView,
    build_network,
    make_context,
    network_from_graph,
    simulate,
    summarize,
)
from qceas.network.ledger import FATE
from qceas.physics import bbpssw, decay, dejmps, werner_coefficients


# ---------------------------------------------------------------- test schedulers
@dataclass
class Scripted:
    """Attempts on every empty segment; the rest from flags. Checks memory every slot."""

    consume_all: bool = False
    discard_all: bool = False
    purify: bool = False
    on_herald: bool = False
    name: str = "scripted"
    views: list[SlotView] = field(default_factory=list)

    def prepare(self, context: Context) -> None:
        self.context = context

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        assert np.all(view.free_memory >= 0), "memory over capacity"
        consume = None
        if self.consume_all:
            # Oldest first, as many as the node still needs.
            order = np.argsort(np.where(view.stored, view.created_s, np.inf), axis=1)
            rank = np.argsort(order, axis=1)
            want = np.where(view.in_window, view.remaining, 0)
            consume = view.stored & (rank < want[:, None])
        return Decision(
            attempt=~view.segment_has,
            consume=consume,
            discard=view.stored.copy() if self.discard_all else None,
            purify=np.full(view.remaining.shape, self.purify),
            consume_on_herald=np.full(view.remaining.shape, self.on_herald),
        )


def _star(n: int = 1, *, length: float = 20.0, fidelity: float = 0.9, coherence=0.05, slots=4):
    """Star of n QPUs; the aggregator has room for every QPU's full memory."""
    return build_network(
        "star",
        n,
        rng=np.random.default_rng(0),
        link_length_km=length,
        initial_fidelity=fidelity,
        coherence_time_s=coherence,
        memory_slots=np.r_[np.full(n, slots), n * slots],
    )


def _demand(n: int, *, rounds: int = 10, period: float = 0.01, window: float = 0.01, pairs=1):
    return Demand(pairs=pairs, period_s=period, rounds=rounds, ready_s=np.zeros(n), window_s=window)


# ---------------------------------------------------------------- link statistics
def test_heralds_in_time_t_match_poisson_rate_p_over_period() -> None:
    """One attempt per slot (Δ = period): heralds in T seconds ~ Binomial(T/period, p),
    whose mean is the rate p/period × T; the count lies in the 99.9% Poisson interval."""
    net = _star(1, length=20.0)
    ctx = make_context(net, _demand(1, rounds=20, period=0.01), slot_s=None)
    assert ctx.attempts_per_slot.tolist() == [1]
    result = simulate(ctx, Scripted(discard_all=True), rng=np.random.default_rng(1))
    seconds = ctx.total_slots * ctx.slot_s
    mean = float(net.expected_rate[0]) * seconds
    lo, hi = stats.poisson.interval(0.999, mean)
    assert lo <= result.ledger.heralded <= hi
    assert result.attempts == ctx.total_slots  # one attempt per slot, every slot


def test_several_attempts_per_slot_give_the_slot_success_probability() -> None:
    """k attempts per slot, one pair per segment: a slot heralds with 1 − (1 − p)^k and
    the herald time inside the slot is the successful attempt's end."""
    net = _star(1, length=5.0)
    period = float(net.attempt_period_s[0])
    ctx = make_context(net, _demand(1, rounds=20, period=0.01), slot_s=4 * period)
    assert ctx.attempts_per_slot.tolist() == [4]
    result = simulate(ctx, Scripted(discard_all=True), rng=np.random.default_rng(2))
    q = float(ctx.slot_success[0])
    n = ctx.total_slots
    assert abs(result.ledger.heralded - n * q) < 4.5 * np.sqrt(n * q * (1 - q))
    offsets = np.asarray(result.ledger.links["herald_s"]) % ctx.slot_s / period
    assert np.allclose(offsets, np.round(offsets), atol=1e-6)  # on attempt boundaries


def test_delivered_fidelity_is_decay_of_f0_over_the_waiting_time() -> None:
    net = _star(3, length=10.0, fidelity=0.93, coherence=(0.01, 0.2))
    ctx = make_context(net, _demand(3, rounds=8, period=0.01, window=0.004, pairs=2))
    result = simulate(ctx, Scripted(consume_all=True), rng=np.random.default_rng(3))
    links, e2e = result.ledger.links, result.ledger.e2e
    used = np.isin(e2e["fate"], [FATE["consumed"], FATE["aborted"]])
    assert used.sum() >= 20
    pair = np.asarray(links["e2e"])
    row = np.array([np.flatnonzero(pair == i)[0] for i in np.flatnonzero(used)])
    flow = np.asarray(e2e["flow"])[used]
    waited = np.asarray(e2e["fate_s"])[used] - np.asarray(links["herald_s"])[row]
    expected = decay(
        np.asarray(links["fidelity"])[row],
        waited,
        net.coherence_time_s[flow],
        net.coherence_time_s[net.aggregator],
    )
    assert np.allclose(np.asarray(e2e["fate_fidelity"])[used], expected, rtol=0, atol=1e-12)
    assert np.all(waited >= 0)


def test_chain_fidelity_is_one_quarter_plus_product_of_decayed_werner_parameters() -> None:
    """A 3-link line: F_e2e = 1/4 + 3/4·∏ w_i·e^{−Γ_i(t_swap − t_i)} at the swap, then
    decay at 1/T_0 + 1/T_N until consumption."""
    graph = nx.path_graph(4)
    nx.set_edge_attributes(graph, 15.0, "length_km")
    net = network_from_graph(
        graph,
        rng=np.random.default_rng(4),
        initial_fidelity=(0.9, 0.99),
        coherence_time_s=(0.05, 0.5),
        memory_slots=4,
    )
    assert net.hops.tolist() == [3, 2, 1]
    ctx = make_context(net, _demand(3, rounds=10, period=0.01, window=0.005, pairs=2))
    result = simulate(ctx, Scripted(consume_all=True), rng=np.random.default_rng(5))
    links, e2e = result.ledger.links, result.ledger.e2e
    rate = 1.0 / net.coherence_time_s
    checked = 0
    for pid in np.flatnonzero(np.asarray(e2e["flow"]) == 0):
        parts = np.flatnonzero(np.asarray(links["e2e"]) == pid)
        assert len(parts) == 3
        assert sorted(np.asarray(links["link"])[parts]) == [0, 1, 2]
        t_swap = float(np.max(np.asarray(links["herald_s"])[parts]))
        w = 1.0
        for i in parts:
            u, v = net.endpoints[int(links["link"][i])]
            w0 = (4 * float(links["fidelity"][i]) - 1) / 3
            w *= w0 * np.exp(-(rate[u] + rate[v]) * (t_swap - float(links["herald_s"][i])))
        assert float(e2e["created_s"][pid]) == pytest.approx(t_swap, abs=1e-15)
        assert float(e2e["fidelity"][pid]) == pytest.approx(0.25 + 0.75 * w, abs=1e-12)
        if e2e["fate"][pid] in (FATE["consumed"], FATE["aborted"]):
            later = decay(
                float(e2e["fidelity"][pid]),
                float(e2e["fate_s"][pid]) - t_swap,
                net.coherence_time_s[0],
                net.coherence_time_s[3],
            )
            assert float(e2e["fate_fidelity"][pid]) == pytest.approx(later, abs=1e-12)
            checked += 1
    assert checked >= 5


# ------------------------------------------------------------------- accounting
def test_every_heralded_pair_ends_with_one_final_fate_and_the_counts_add_up() -> None:
    net = build_network("grid", 8, rng=np.random.default_rng(6), memory_slots=2)
    ctx = make_context(net, _demand(8, rounds=6, period=0.005, window=0.002, pairs=2))
    result = simulate(ctx, Scripted(consume_all=True), rng=np.random.default_rng(7))
    fates = result.ledger.link_fates()
    finals = {FATE[f] for f in ("consumed", "aborted", "expired", "discarded", "unused")}
    finals.add(FATE["purification_failed"])
    assert set(np.unique(fates).tolist()) <= finals
    metrics = summarize(result)
    used = int(np.sum(fates == FATE["consumed"]))
    assert used + sum(metrics["waste"].values()) == result.ledger.heralded
    assert metrics["utilization"] == pytest.approx(used / result.ledger.heralded)
    assert FATES[0] == "pending"


def test_memory_is_never_exceeded_on_a_crowded_line() -> None:
    """Line of 6 QPUs, 2 memory qubits per node (the least a relay needs), 3 at the
    aggregator: relays contend. The scripted scheduler asserts free memory >= 0 at
    every slot."""
    slots = np.r_[np.full(6, 2), 3]
    net = build_network("line", 6, rng=np.random.default_rng(8), memory_slots=slots)
    ctx = make_context(net, _demand(6, rounds=4, period=0.004, window=0.004))
    simulate(ctx, Scripted(consume_all=True), rng=np.random.default_rng(9))


def test_same_seed_same_ledger() -> None:
    net = build_network("ring", 5, rng=np.random.default_rng(10))
    ctx = make_context(net, _demand(5, rounds=4, period=0.005, window=0.003))
    a = simulate(ctx, Scripted(consume_all=True), rng=np.random.default_rng(11)).ledger
    b = simulate(ctx, Scripted(consume_all=True), rng=np.random.default_rng(11)).ledger
    for table in ("links", "e2e"):
        for key, col in getattr(a, table).items():
            np.testing.assert_array_equal(col, getattr(b, table)[key])


def test_consume_on_herald_uses_fresh_pairs_at_creation() -> None:
    net = _star(2, coherence=0.01)
    ctx = make_context(net, _demand(2, rounds=5, period=0.004, window=0.004, pairs=3))
    scripted = Scripted(on_herald=True, discard_all=True)
    result = simulate(ctx, scripted, rng=np.random.default_rng(12))
    e2e = result.ledger.e2e
    used = np.asarray(e2e["fate"]) == FATE["consumed"]
    assert used.sum() == result.met.sum() >= 25  # of 30 demanded
    assert np.allclose(np.asarray(e2e["fate_s"])[used], np.asarray(e2e["created_s"])[used])
    assert np.allclose(np.asarray(e2e["fate_fidelity"])[used], 0.9)


# ----------------------------------------------------------------- purification
@pytest.mark.parametrize("protocol", ["bbpssw", "dejmps"])
def test_purification_output_and_success_rate_follow_the_protocol(protocol: str) -> None:
    net = _star(4, fidelity=0.8, coherence=1.0)
    ctx = make_context(
        net, _demand(4, rounds=30, period=0.004, window=0.004), purification=protocol
    )
    result = simulate(ctx, Scripted(purify=True), rng=np.random.default_rng(13))
    e2e = result.ledger.e2e
    fate = np.asarray(e2e["fate"])
    child = np.asarray(e2e["child"])
    inputs = np.flatnonzero(fate == FATE["purified"])
    assert inputs.size > 50
    outputs = np.unique(child[inputs])
    probabilities = []
    for out in outputs:
        pair = np.flatnonzero(child == out)
        f1, f2 = np.asarray(e2e["fate_fidelity"])[pair]
        if protocol == "bbpssw":
            p, f = bbpssw(f1, f2)
        else:
            p, c = dejmps(werner_coefficients(f1), werner_coefficients(f2))
            f = float(c[0])
        assert float(e2e["fidelity"][out]) == pytest.approx(f, abs=1e-12)
        probabilities.append(p)
    failed = int(np.sum(fate == FATE["purification_failed"])) // 2
    trials = outputs.size + failed
    expected = float(np.mean(probabilities))
    assert abs(outputs.size - trials * expected) < 5 * np.sqrt(trials * expected * (1 - expected))


# -------------------------------------------------------------------- bad input
def _disconnected() -> nx.Graph:
    graph = nx.empty_graph(3)
    graph.add_edge(0, 2, length_km=1.0)  # QPU 1 is cut off from the aggregator 2
    return graph


def _graph_with(length: float) -> nx.Graph:
    graph = nx.path_graph(3)
    nx.set_edge_attributes(graph, 10.0, "length_km")
    graph.edges[0, 1]["length_km"] = length
    return graph


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: network_from_graph(_graph_with(-1.0), rng=np.random.default_rng(0)),
            "length_km = -1 (link 0-1): must be > 0",
        ),
        (
            lambda: build_network("star", 2, rng=np.random.default_rng(0), initial_fidelity=1.2),
            "initial_fidelity = 1.2: must be in [0.25, 1]",
        ),
        (
            lambda: build_network("star", 2, rng=np.random.default_rng(0), coherence_time_s=0.0),
            "coherence_time_s = 0: must be > 0",
        ),
        (
            lambda: build_network("star", 2, rng=np.random.default_rng(0), memory_slots=0),
            "memory_slots = 0: must be an integer >= 1",
        ),
        (
            lambda: network_from_graph(_disconnected(), rng=np.random.default_rng(0)),
            "node 1 has no route to the aggregator (the topology is disconnected)",
        ),
        (
            lambda: make_context(
                build_network(
                    "line", 2, rng=np.random.default_rng(0), memory_slots=np.array([2, 1, 4])
                ),
                _demand(2),
            ),
            "network.memory_slots = 1 (node 1): must be >= 2 at a node that relays a route",
        ),
        (
            lambda: make_context(_star(1), _demand(1, period=0.01), slot_s=0.004),
            "slot_s = 0.004: must divide the round period 0.01 s into a whole number",
        ),
        (
            lambda: make_context(_star(1), _demand(2)),
            "demand: has ready times for 2 QPUs; the network has 1",
        ),
        (
            lambda: make_context(_star(1, length=20.0), _demand(1), slot_s=1e-6),
            "slot_s = 1e-06: must be >= the longest attempt period",
        ),
        (
            lambda: make_context(_star(1), _demand(1), purification="bogus"),
            "purification = 'bogus': must be one of none, bbpssw, dejmps",
        ),
        (
            lambda: Demand(pairs=0, period_s=1.0, rounds=1, ready_s=np.zeros(1), window_s=0.1),
            "demand.pairs = 0: must be an integer >= 1",
        ),
        (
            lambda: Demand(pairs=1, period_s=1.0, rounds=1, ready_s=np.ones(1), window_s=0.1),
            "ready + window_s = 1.1 s must be <= period_s = 1 s",
        ),
        (
            lambda: _demand(1, window=1e-6).slots(1e-3),
            "node 0's window holds no slot",
        ),
    ],
)
def test_bad_input_names_the_field_and_the_rule(call, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


class _Greedy(Scripted):
    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        return Decision(consume=view.stored.copy(), attempt=~view.segment_has)


def test_a_scheduler_that_breaks_the_rules_gets_a_clear_error() -> None:
    ctx = make_context(_star(1), _demand(1, window=0.001, period=0.01, pairs=1))
    with pytest.raises(ValueError, match=r"outside its demand window|more than its remaining"):
        simulate(ctx, _Greedy(name="bad"), rng=np.random.default_rng(0))

    class WrongShape(Scripted):
        def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
            return Decision(attempt=np.ones(7, dtype=bool))

    with pytest.raises(ValueError, match=r"Decision\.attempt must be a bool array of shape \(1,\)"):
        simulate(ctx, WrongShape(name="shape"), rng=np.random.default_rng(0))


# ------------------------------------------------------------------- streaming
@dataclass
class Stream:
    """Only the chosen flows request pairs; they consume every pair on arrival."""

    flows: tuple[int, ...] = (0,)
    name: str = "stream"

    def prepare(self, context: Context) -> None:
        self.want = np.isin(np.arange(context.n_flows), self.flows)
        self.segment_want = self.want[context.segment_flow]

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        return Decision(attempt=~view.segment_has & self.segment_want, consume_on_herald=self.want)


def _stream_context(hops: int, slot_periods: float, seconds: float, fidelity=0.95) -> Context:
    graph = nx.path_graph(hops + 1)
    nx.set_edge_attributes(graph, 12.0, "length_km")
    net = network_from_graph(
        graph,
        rng=np.random.default_rng(20),
        initial_fidelity=fidelity,
        coherence_time_s=(0.2, 2.0),
        memory_slots=4,
    )
    slot = slot_periods * float(net.attempt_period_s.max())
    seconds = max(1, round(seconds / slot)) * slot  # a whole number of slots
    demand = Demand(
        pairs=10**9, period_s=seconds, rounds=1, ready_s=np.zeros(hops), window_s=seconds
    )
    return make_context(net, demand, slot_s=slot)


def test_streaming_a_link_heralds_at_rate_p_over_period_on_the_attempt_grid() -> None:
    """Long slots (40 attempts): a link whose pairs are used on arrival keeps attempting
    inside the slot, so heralds follow Bernoulli trials at p per period exactly."""
    ctx = _stream_context(1, 40, 0.4)
    result = simulate(ctx, Stream(), rng=np.random.default_rng(21))
    net = ctx.network
    mean = float(net.expected_rate[0]) * ctx.total_slots * ctx.slot_s
    lo, hi = stats.poisson.interval(0.999, mean)
    assert lo <= result.ledger.heralded <= hi
    grid = np.asarray(result.ledger.links["herald_s"]) / float(net.attempt_period_s[0])
    assert np.allclose(grid, np.round(grid), atol=1e-6)
    assert result.attempts == pytest.approx(ctx.total_slots * 40, rel=0.01)
    # Every pair inside the window is used at once, at its fresh fidelity (the last
    # slot lies past the deadline: a pair made there is stored, unused).
    fate = np.asarray(result.ledger.e2e["fate"])
    used = fate == FATE["consumed"]
    assert np.all(used | (fate == FATE["unused"]))
    assert np.sum(~used) <= 1
    assert np.allclose(np.asarray(result.ledger.e2e["fate_fidelity"])[used], 0.95)


@pytest.mark.parametrize("slot_periods", [1.0, 1.9, 2.9, 60.0])
def test_streaming_a_chain_matches_the_renewal_process_and_the_chain_formula(
    slot_periods: float,
) -> None:
    """Two links: the j-th pair is made max(G1·τ1, G2·τ2) after the previous one. The
    count over the run matches a direct Monte Carlo of that renewal process whatever
    the slot length (attempts carry over slot boundaries), and every pair's fidelity
    the decayed-product formula."""
    ctx = _stream_context(2, slot_periods, 0.5)
    result = simulate(ctx, Stream(), rng=np.random.default_rng(22))
    net = ctx.network
    period, p = net.attempt_period_s, net.success_probability
    route = net.routes[0]
    rng = np.random.default_rng(23)
    cycle = np.max(rng.geometric(p[route], size=(200_000, 2)) * period[route], axis=1)
    mu, sigma = cycle.mean(), cycle.std()
    seconds = ctx.total_slots * ctx.slot_s
    made = int(np.sum(np.asarray(result.ledger.e2e["flow"]) == 0))
    expected = seconds / mu
    assert abs(made - expected) < 5 * np.sqrt(seconds * sigma**2 / mu**3) + 2
    links, e2e = result.ledger.links, result.ledger.e2e
    rate = 1.0 / net.coherence_time_s
    for pid in range(0, made, max(1, made // 40)):
        parts = np.flatnonzero(np.asarray(links["e2e"]) == pid)
        t_swap = float(e2e["created_s"][pid])
        assert t_swap == pytest.approx(float(np.max(np.asarray(links["herald_s"])[parts])))
        w = 1.0
        for i in parts:
            u, v = net.endpoints[int(links["link"][i])]
            w0 = (4 * float(links["fidelity"][i]) - 1) / 3
            w *= w0 * np.exp(-(rate[u] + rate[v]) * (t_swap - float(links["herald_s"][i])))
        assert float(e2e["fidelity"][pid]) == pytest.approx(0.25 + 0.75 * w, abs=1e-12)


def test_streaming_keeps_consuming_after_an_abort_and_stores_the_pair_after_demand() -> None:
    """F0 = 0.85 over two links cannot make key: every pair aborts, none meets demand,
    and the stream goes on; with demand r = 2 on one good link, 2 are used, 1 stored."""
    bad = _stream_context(2, 60, 0.05, fidelity=0.85)
    result = simulate(bad, Stream(), rng=np.random.default_rng(24))
    fates = np.asarray(result.ledger.e2e["fate"])
    assert np.sum(fates == FATE["aborted"]) > 20
    assert np.all((fates == FATE["aborted"]) | (fates == FATE["unused"]))
    assert result.met.sum() == 0
    good = _stream_context(1, 60, 0.01)
    seconds = good.demand.period_s
    demand = Demand(pairs=2, period_s=seconds, rounds=1, ready_s=np.zeros(1), window_s=seconds)
    ctx = make_context(good.network, demand, slot_s=good.slot_s)
    result = simulate(ctx, Stream(), rng=np.random.default_rng(25))
    fates = np.asarray(result.ledger.e2e["fate"])
    assert np.sum(fates == FATE["consumed"]) == 2
    # The third pair is stored when the demand is met (the scheduler keeps attempting,
    # so later slots store more until memory is full); none is consumed after.
    assert fates[:3].tolist() == [FATE["consumed"], FATE["consumed"], FATE["unused"]]


# ------------------------------------------------------------------- properties
@settings(max_examples=25, deadline=None)
@given(
    topology=st.sampled_from(["line", "ring", "star", "grid"]),
    n=st.integers(1, 6),
    slots=st.integers(1, 3),
    slot_periods=st.integers(1, 8),
    policy=st.sampled_from(["ceas", "oblivious", "greedy", "random"]),
    purification=st.sampled_from(["none", "bbpssw"]),
    seed=st.integers(0, 2**16),
)
def test_any_run_keeps_memory_accounting_and_fidelity_laws(
    topology: str, n: int, slots: int, slot_periods: int, policy: str, purification: str, seed: int
) -> None:
    """Memory never over capacity (checked every slot), every pair has one final fate,
    no pair gains fidelity between creation and its fate unless purified, and every
    consumed pair lies inside its owner's window."""
    from qceas.scheduling import SCHEDULERS

    rng = np.random.default_rng(seed)
    if topology != "star":
        slots = max(slots, 2)  # a relay needs two qubits (make_context checks it)
    net = build_network(
        topology,
        n,
        rng=rng,
        link_length_km=8.0,
        coherence_time_s=(0.001, 0.5),
        memory_slots=np.r_[np.full(n, slots), slots * n + 1],
    )
    slot = slot_periods * float(net.attempt_period_s.max())
    period = max(3, round(0.003 / slot)) * slot
    window = max(slot, period / 3)
    demand = Demand.draw(n, pairs=2, period_s=period, rounds=3, window_s=window, rng=rng)
    ctx = make_context(net, demand, slot_s=slot, purification=purification)
    inner = SCHEDULERS.get(policy)

    class Checked:
        name = policy

        def prepare(self, context: Context) -> None:
            inner.prepare(context)

        def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
            assert np.all(view.free_memory >= 0)
            assert np.all(view.free_memory <= net.memory_slots)
            decision = inner.decide(view, rng=rng)
            if purification != "none":
                return Decision(
                    attempt=decision.attempt,
                    consume=decision.consume,
                    discard=decision.discard,
                    discard_segment=decision.discard_segment,
                    purify=view.stored.sum(axis=1) >= 2,
                    consume_on_herald=decision.consume_on_herald,
                    priority=decision.priority,
                )
            return decision

    result = simulate(ctx, Checked(), rng=np.random.default_rng(seed + 1))
    ledger = result.ledger
    fates = ledger.link_fates()
    final = {"consumed", "aborted", "expired", "discarded", "purification_failed", "unused"}
    assert set(np.unique(fates).tolist()) <= {FATE[f] for f in final}
    e2e = ledger.e2e
    ended = ~np.isin(e2e["fate"], [FATE["purified"]])
    created, at_fate = np.asarray(e2e["fidelity"]), np.asarray(e2e["fate_fidelity"])
    assert np.all(at_fate[ended] <= created[ended] + 1e-12)
    assert np.all(np.asarray(e2e["fate_s"]) >= np.asarray(e2e["created_s"]) - 1e-15)
    used = np.isin(e2e["fate"], [FATE["consumed"], FATE["aborted"]])
    t = np.asarray(e2e["fate_s"])[used]
    k = np.asarray(e2e["flow"])[used]
    start = np.asarray(e2e["round"])[used] * ctx.round_slots * ctx.slot_s
    assert np.all(t >= start + ctx.ready_slot[k] * ctx.slot_s - 1e-12)
    assert np.all(t <= start + ctx.deadline_slot[k] * ctx.slot_s + 1e-12)
    assert np.all(result.met <= 2)


def test_context_key_bits_equal_the_physics_composition() -> None:
    from qceas.physics import qber, secret_fraction

    ctx = make_context(_star(1), _demand(1))
    f = np.concatenate([np.linspace(0.25, 1.0, 2001), [0.835, 0.8349, 0.8351, 1.0, 0.25]])
    expected = ctx.sift * np.asarray(secret_fraction(qber(f)))
    assert ctx.key_bits(f).tobytes() == expected.tobytes()
    # Fidelities outside [1/4, 1] (rounding) are clipped, not refused.
    np.testing.assert_array_equal(ctx.key_bits([1.0 + 1e-12, 0.25 - 1e-12]), [ctx.sift, 0.0])


def test_the_use_of_pairs_is_a_policy_chosen_by_make_context() -> None:
    from qceas.network._uses import USES, GateUse, KeyUse
    from qceas.network.interface import PAIR_USES

    assert tuple(USES) == PAIR_USES
    assert all(USES[name].name == name for name in PAIR_USES)
    key = make_context(_star(1), _demand(1))
    gate = make_context(_star(1), _demand(1), use="gate")
    assert isinstance(key.pair_use, KeyUse)
    assert isinstance(gate.pair_use, GateUse)
    assert (key.use, gate.use) == ("key", "gate")
    consume = np.array([[True, True, False], [True, False, False]])
    on_herald = np.array([True, True])
    remaining = np.array([2, 2])
    # Key pairs: every consumption asked for; gate pairs: only a flow's whole demand at
    # once, none on arrival.
    got, arrive = key.pair_use.admit(consume, on_herald, remaining)
    np.testing.assert_array_equal(got, consume)
    np.testing.assert_array_equal(arrive, on_herald)
    got, arrive = gate.pair_use.admit(consume, on_herald, remaining)
    np.testing.assert_array_equal(got, [[True, True, False], [False, False, False]])
    assert not arrive.any()
    f = np.array([0.99, 0.5])
    bits, useful = key.pair_use.worth(key, f)
    np.testing.assert_array_equal(bits, key.key_bits(f))
    np.testing.assert_array_equal(useful, [True, False])
    bits, useful = gate.pair_use.worth(gate, f)
    np.testing.assert_array_equal(bits, [0.0, 0.0])
    np.testing.assert_array_equal(useful, [True, True])


def test_config_errors_name_the_schedule_field() -> None:
    """make_context names its own arguments; the config layer names the YAML path."""
    from qceas.config import ConfigError, from_dict
    from qceas.network.setup import context_of

    config = from_dict({"schedule": {"round_period_s": 0.01}})
    with pytest.raises(ValueError, match=r"^slot_s = 0\.004: must divide the round period"):
        make_context(_star(1), _demand(1, period=0.01), slot_s=0.004)
    spec = dataclasses.replace(config.schedule, slot_s=0.004)
    with pytest.raises(ConfigError, match=r"^schedule\.slot_s = 0\.004: must divide the round"):
        context_of(spec, _star(1), _demand(1, period=0.01))


def test_signal_delays_decay_pairs_while_heralds_and_swap_outcomes_travel() -> None:
    """With ``Network.signal_delays`` a link's fresh Werner parameter carries the decay
    of both memories over one attempt period (the herald's round trip), and a route's
    end-to-end pair that of its end qubits while the farthest relay's outcome travels:
    with a fidelity-blind policy and pairs that always count, the draws and decisions
    are the same, so every end-to-end w is the delay-free one times those factors."""
    from qceas.scheduling import SCHEDULERS

    net = build_network(
        "line",
        3,
        rng=np.random.default_rng(0),
        link_length_km=10.0,
        initial_fidelity=0.95,
        # Long enough that no pair decays to F = 1/4 within a window (such a pair
        # counts or not by a rounding of its factor, and the draws would part).
        coherence_time_s=20e-3,
    )
    delayed = dataclasses.replace(net, signal_delays=True)
    demand = _demand(3, rounds=4, period=0.02, window=0.02, pairs=3)
    tau = 10e3 / 2e8  # 50 µs per link
    rate = 2 / 20e-3  # both ends at T = 20 ms
    ctx_off = make_context(net, demand, use="agreement")
    ctx_on = make_context(delayed, demand, use="agreement")
    np.testing.assert_allclose(ctx_on.segment_w0, ctx_off.segment_w0 * np.exp(-rate * tau))
    hops = np.diff(ctx_on.segment_start)  # QPU k is 3 - k links away
    signal = np.where(hops > 1, (hops - 1) * tau, 0.0)
    np.testing.assert_allclose(ctx_on.flow_signal, np.exp(-rate * signal))
    factor = np.exp(-rate * tau * hops) * ctx_on.flow_signal
    np.testing.assert_allclose(ctx_on.flow_w0, ctx_off.flow_w0 * factor)
    runs = []
    for ctx in (ctx_off, ctx_on):
        result = simulate(ctx, SCHEDULERS.get("oblivious"), rng=np.random.default_rng(3))
        e2e = result.ledger.e2e
        runs.append((e2e["flow"], (4 * e2e["fidelity"] - 1) / 3))
    (flow_off, w_off), (flow_on, w_on) = runs
    np.testing.assert_array_equal(flow_off, flow_on)
    assert flow_off.size > 0
    assert np.all(w_on > 1e-6)  # the premise: every pair counts
    np.testing.assert_allclose(w_on, w_off * factor[flow_on], rtol=1e-9, atol=1e-12)


def test_validate_warns_of_routes_whose_fresh_pairs_no_consumer_can_use(tmp_path) -> None:
    """A 4-QPU line of 10 km links at F0 = 0.9: the 2-, 3- and 4-hop routes swap fresh
    pairs to F = 1/4 + 3/4·w0^h with w0 = 13/15, at or below the key threshold; the
    warning names the QPU, its route, the hops and both fidelities."""
    from qceas.config import from_dict
    from qceas.experiments.validate import validate

    config = from_dict(
        {
            "nodes": {"count": 4},
            "network": {"topology": "line", "initial_fidelity": 0.9, "memory_slots": 4},
        }
    )
    warnings = [line for line in validate(config, "line") if line.startswith("warning:")]
    w0 = (4 * 0.9 - 1) / 3
    assert len(warnings) == 3
    for line, hops in zip(warnings, (4, 3, 2), strict=True):
        qpu = 4 - hops
        route = " - ".join(str(v) for v in range(qpu, 5))
        best = 0.25 + 0.75 * w0**hops
        assert line == (
            f"warning: QPU {qpu}'s route {route} ({hops} hops) gives fresh pairs of "
            f"F = {best:.4f} <= 0.8350, what key pairs need (schedule): no pair of it can serve"
        )


def test_validate_says_what_purification_makes_of_such_routes_and_whether_it_fits() -> None:
    """The same line with DEJMPS: the 2-hop route (F = 0.8133) climbs one recurrence
    round to F = 0.8512 (2/p_1 fresh pairs per key pair), within 3 of the QPU's 4 memory
    qubits; the 4-hop route needs more rounds than 4 qubits hold."""
    from qceas.config import from_dict
    from qceas.experiments.validate import validate
    from qceas.physics import bbpssw

    config = from_dict(
        {
            "nodes": {"count": 4},
            "network": {"topology": "line", "initial_fidelity": 0.9, "memory_slots": 4},
            "schedule": {"purification": "dejmps"},
        }
    )
    warnings = [line for line in validate(config, "line") if line.startswith("warning:")]
    assert len(warnings) == 3
    w0 = (4 * 0.9 - 1) / 3
    fresh = 0.25 + 0.75 * w0**2
    p, f1 = (float(x) for x in bbpssw(fresh, fresh))
    assert warnings[2].endswith(
        f"dejmps lifts it in 1 recurrence round(s) to F = {f1:.4f} ({2 / p:.1f} fresh pairs "
        "per key pair), needing 3 memory qubits at QPU 2, which has 4: it fits (ceas)"
    )
    assert warnings[0].endswith("which has 4: it does not fit: no key for this QPU from ceas")
    # A purify_levels below the rounds needed, and no climbing scheduler at all.
    for policies, params, tail in (
        (["ceas"], {"ceas": {"purify_levels": 0}}, "purify_levels of ceas stops below 1"),
        (["oblivious"], {}, "no configured scheduler purifies (ceas, greedy-purify do)"),
    ):
        config = from_dict(
            {
                "nodes": {"count": 4},
                "network": {"topology": "line", "initial_fidelity": 0.9, "memory_slots": 4},
                "schedule": {"purification": "dejmps", "policies": policies, "params": params},
                "security": {"key_source": "fixed"},
            }
        )
        lines = [line for line in validate(config, "line") if line.startswith("warning:")]
        assert lines[2].endswith(tail)
