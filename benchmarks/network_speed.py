"""Network simulator speed: wall time per heralded pair and pairs per second.

Workloads (all on this machine, one process):

1. **chains** — the SeQUeNCe comparison workload: a 2-node link and a 3-node chain
   (10 km links, F0 = 0.95, SeQUeNCe T_s = 1 s ≡ qceas T = 0.75 s per end, 4
   memories), pairs made end to end and consumed on arrival, through qceas at one
   attempt per slot (the scheduler asked every slot, and with the slots in which
   nothing happens skipped: its decision stands until something happens,
   ``Decision.stable_slots``) and streaming (a slot of ``--slot-periods`` periods,
   exact for such flows); and, where SeQUeNCe ≥ 1.0 is importable (Python ≥ 3.12:
   ``make bench-sequence`` builds such an environment), the same through SeQUeNCe
   (``benchmarks/sequence_workload.py``) and the ratios;
2. **batched chains** — 1000 independent copies of the 2-node link in one run (a
   1000-QPU star), the way a parameter study uses a vectorized simulator;
3. **paper networks** — the ``paper`` scenario's network at 50 and 1000 QPUs (area
   scaled to keep the density), every scheduler, for ``--rounds`` rounds;
4. **CEAS prepare** at 50 and 1000 paper QPUs: the scheduler's whole ``prepare`` (its
   MDP classes solved by :func:`qceas.scheduling.solve_many`), and the same classes
   solved one by one with :func:`qceas.scheduling.solve` beside it (the tables are
   the same; ``tests/scheduling/test_mdp_batch.py``).

Usage:
    python benchmarks/network_speed.py [--pairs 2000] [--stream-pairs 200000]
        [--slot-periods 10000] [--rounds 10] [--sequence-pairs 200] [--skip-paper]
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import math
import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np

from qceas.config import from_dict
from qceas.experiments import resolve
from qceas.network import (
    Context,
    Decision,
    Demand,
    Simulation,
    SlotView,
    make_context,
    network_from_graph,
    simulate,
    summarize,
)
from qceas.network.setup import demand_of, network_of, simulation_rng
from qceas.scheduling import SCHEDULERS, CEASScheduler, solve, solve_many

SEQUENCE_T_S = 1.0
QCEAS_T = 0.75 * SEQUENCE_T_S  # Γ = 4/(3·T_s) per qubit (tests/oracles/test_sequence_oracle.py)


class Stream:
    """The far end of every chain requests pairs: its segments attempt whenever memory
    allows and every end-to-end pair is consumed on arrival (the SeQUeNCe request
    workload); relay nodes request nothing themselves."""

    name = "stream"

    def __init__(self, hops: int, *, stable: bool = True) -> None:
        self.hops = hops
        self.stable = stable

    def prepare(self, context: Context) -> None:
        self.far = np.arange(context.n_flows) % self.hops == 0
        self.segment_far = self.far[context.segment_flow]
        # The decision reads only which segments hold a pair: it stands until one is
        # made or used, so the simulator may skip the slots in which nothing happens.
        self.stable_slots = context.total_slots if self.stable else 1

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        del rng
        return Decision(
            attempt=~view.segment_has & self.segment_far,
            consume_on_herald=self.far,
            stable_slots=self.stable_slots,
        )


def chain_context(hops: int, copies: int, pairs: int, slot_periods: int) -> Context:
    """``copies`` independent chains of ``hops`` 10 km links to one aggregator whose
    memory never binds: QPU i·hops is the far end of chain i."""
    graph = nx.Graph()
    n = copies * hops
    graph.add_nodes_from(range(n + 1))
    for c in range(copies):
        nodes = [c * hops + j for j in range(hops)] + [n]
        for u, v in itertools.pairwise(nodes):
            graph.add_edge(u, v, length_km=10.0)
    slots = np.r_[np.full(n, 4), 4 * n]
    network = network_from_graph(
        graph,
        rng=np.random.default_rng(0),
        initial_fidelity=0.95,
        coherence_time_s=QCEAS_T,
        memory_slots=slots,
    )
    # Enough time for `pairs` deliveries per chain at the chain's rate.
    rate = float(network.expected_rate.min()) / (1.5 if hops > 1 else 1.0)
    slot = slot_periods * float(network.attempt_period_s.max())
    horizon = math.ceil(1.3 * pairs / rate / slot) * slot  # a whole number of slots
    demand = Demand(pairs=10**9, period_s=horizon, rounds=1, ready_s=np.zeros(n), window_s=horizon)
    return make_context(network, demand, slot_s=slot)


def chain_workload(
    hops: int, copies: int, pairs: int, slot_periods: int, *, stable: bool = True
) -> dict[str, float]:
    context = chain_context(hops, copies, pairs, slot_periods)
    scheduler = Stream(hops, stable=stable)
    decide = scheduler.decide
    decided = 0

    def counted(view: SlotView, *, rng: np.random.Generator) -> Decision:
        nonlocal decided
        decided += 1
        return decide(view, rng=rng)

    scheduler.decide = counted  # type: ignore[method-assign]
    start = time.perf_counter()
    result = simulate(context, scheduler, rng=np.random.default_rng(0))
    wall = time.perf_counter() - start
    e2e = result.ledger.e2e
    far = np.asarray(e2e["flow"]) % hops == 0
    delivered = int(np.sum(far & (np.asarray(e2e["fate"]) == 1)))
    return {
        "wall_s": wall,
        "heralded": result.ledger.heralded,
        "delivered": delivered,
        "s_per_delivered": wall / max(delivered, 1),
        "s_per_heralded": wall / max(result.ledger.heralded, 1),
        "s_per_slot": wall / context.total_slots,
        "decided_share": decided / context.total_slots,
        "mean_fidelity": float(np.mean(np.asarray(e2e["fate_fidelity"])[far])),
    }


def paper_context(n_nodes: int, rounds: int) -> Context:
    """The paper scenario's network and demand at ``n_nodes`` QPUs (density kept)."""
    base = resolve("paper")
    scale = math.sqrt(n_nodes / base.nodes.count)
    raw = base.to_dict()
    raw["nodes"]["count"] = n_nodes
    raw["network"]["area_km"] = base.network.area_km * scale
    raw["network"]["params"] = {**raw["network"]["params"], "aggregator_degree": n_nodes}
    raw["network"]["aggregator_memory_slots"] = 2 * n_nodes
    raw["schedule"]["rounds"] = rounds
    raw["adversary"] = {}
    raw["training"] = {}
    config = from_dict({k: v for k, v in raw.items() if k in ("nodes", "network", "schedule")})
    network = network_of(config.network, config.nodes.count, 0)
    return make_context(network, demand_of(config.schedule, config.nodes.count, 0))


def ceas_prepare(n_nodes: int) -> dict[str, float]:
    """Wall time of CEAS's prepare, and of its classes solved one at a time."""
    context = paper_context(n_nodes, 1)
    scheduler = CEASScheduler()
    start = time.perf_counter()
    scheduler.prepare(context)
    prepare = time.perf_counter() - start
    links = list(dict.fromkeys(plan.link for plan in scheduler.plans))
    start = time.perf_counter()
    solve_many(links, max_states=scheduler.max_states, keep_values=False)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for link in links:
        solve(link, max_states=scheduler.max_states)
    single = time.perf_counter() - start
    return {"prepare_s": prepare, "classes": len(links), "batched_s": batched, "single_s": single}


def paper_network(n_nodes: int, rounds: int) -> dict[str, dict[str, float]]:
    context = paper_context(n_nodes, rounds)
    out = {}
    for name in SCHEDULERS.names():
        start = time.perf_counter()
        simulation = Simulation(context, SCHEDULERS.get(name), rng=simulation_rng(0))
        prepare = time.perf_counter() - start
        result = simulation.run()
        run = time.perf_counter() - start - prepare
        m = summarize(result)
        out[name] = {
            "prepare_s": prepare,
            "wall_s": run,
            "heralded": m["heralded_pairs"],
            "us_per_heralded": 1e6 * run / max(m["heralded_pairs"], 1),
            "pairs_per_s": m["heralded_pairs"] / run,
            "slots": m["slots"],
            "us_per_slot": 1e6 * run / m["slots"],
            "utilization": m["utilization"],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--pairs", type=int, default=2000, help="pairs per chain at one attempt per slot"
    )
    parser.add_argument(
        "--stream-pairs", type=int, default=200_000, help="pairs per chain streaming"
    )
    parser.add_argument("--rounds", type=int, default=10, help="rounds of the paper networks")
    parser.add_argument("--sequence-pairs", type=int, default=200, help="pairs through SeQUeNCe")
    parser.add_argument(
        "--slot-periods",
        type=int,
        default=10_000,
        help="slot length of the streaming runs the SeQUeNCe ratio uses (periods)",
    )
    parser.add_argument(
        "--skip-paper", action="store_true", help="stop after CEAS prepare (no paper runs)"
    )
    args = parser.parse_args(argv)

    print("== chains: pairs streamed end to end, consumed on arrival ==")
    # One attempt per slot, asked every slot and with the idle slots skipped (the
    # scheduler's decision stands until something happens); then streaming.
    per_slot: dict[tuple[int, bool], float] = {}
    for hops in (1, 2):
        for stable in (False, True):
            r = chain_workload(hops, 1, args.pairs, 1, stable=stable)
            per_slot[hops + 1, stable] = r["s_per_delivered"]
            how = "idle slots skipped" if stable else "asked every slot "
            print(
                f"qceas {hops + 1}-node chain, one attempt per slot, {how}: "
                f"{r['delivered']} pairs in {r['wall_s']:.3f} s -> "
                f"{1e6 * r['s_per_delivered']:.1f} us/pair, {1e6 * r['s_per_slot']:.1f} us/slot, "
                f"{r['decided_share']:.2f} of slots decided (F {r['mean_fidelity']:.4f})"
            )
    streaming: dict[int, float] = {}
    for slot_periods in (1000, args.slot_periods):
        for hops in (1, 2):
            r = chain_workload(hops, 1, args.stream_pairs, slot_periods)
            if slot_periods == args.slot_periods:
                streaming[hops + 1] = r["s_per_delivered"]
            print(
                f"qceas {hops + 1}-node chain, streaming, slot = {slot_periods} periods: "
                f"{r['delivered']} pairs in {r['wall_s']:.3f} s -> "
                f"{1e6 * r['s_per_delivered']:.2f} us/pair (F {r['mean_fidelity']:.4f})"
            )
    for slot_periods in (1, 1000):
        batched = chain_workload(1, 1000, max(args.pairs // 10, 50), slot_periods)
        print(
            f"qceas 1000 x 2-node links in one run, slot = {slot_periods} period(s): "
            f"{batched['delivered']} pairs in {batched['wall_s']:.2f} s -> "
            f"{1e6 * batched['s_per_delivered']:.2f} us/pair"
        )
    if importlib.util.find_spec("sequence") is not None:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from sequence_workload import sequence_seconds_per_pair

        for nodes in (2, 3):
            theirs = sequence_seconds_per_pair(nodes, args.sequence_pairs)
            print(
                f"SeQUeNCe {nodes}-node chain: {1e3 * theirs:.3f} ms/pair -> qceas is "
                f"{theirs / per_slot[nodes, False]:.1f}x faster at one attempt per slot "
                f"asked every slot, {theirs / per_slot[nodes, True]:.1f}x with idle slots "
                f"skipped, {theirs / streaming[nodes]:.0f}x streaming "
                f"(slot = {args.slot_periods} periods)"
            )
    else:
        print(
            "SeQUeNCe not importable (needs Python >= 3.12; `make bench-sequence` builds "
            "such an environment): no ratio measured here"
        )

    print("== CEAS prepare on the paper network ==")
    for n in (50, 1000):
        r = ceas_prepare(n)
        print(
            f"{n:5d} QPUs: prepare {r['prepare_s']:6.2f} s ({r['classes']} MDP classes); "
            f"the classes batched {r['batched_s']:6.2f} s, one solve each "
            f"{r['single_s']:6.2f} s -> {r['single_s'] / r['batched_s']:.1f}x"
        )
    if args.skip_paper:
        return
    for n in (50, 1000):
        print(f"== paper network, {n} QPUs, {args.rounds} rounds ==")
        for name, r in paper_network(n, args.rounds).items():
            print(
                f"{name:9s} prepare {r['prepare_s']:6.2f} s  run {r['wall_s']:6.2f} s  "
                f"{r['heralded']:8d} pairs  {r['us_per_heralded']:8.2f} us/pair  "
                f"{r['pairs_per_s']:10.0f} pairs/s  {r['us_per_slot']:7.1f} us/slot  "
                f"utilization {r['utilization']:.3f}"
            )


if __name__ == "__main__":
    main()
