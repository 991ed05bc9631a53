"""SeQUeNCe reference workload: wall seconds per delivered end-to-end pair.

Runs SeQUeNCe (https://github.com/sequence-toolbox/SeQUeNCe) in its Bell-diagonal-state
(BDS) formalism on a chain of quantum routers built by its own ``RouterNetTopo``:

* 2 nodes — one elementary link ``r0 — BSM — r1``;
* 3 nodes — ``r0 — BSM — r1 — BSM — r2`` with entanglement swapping at ``r1``.

The protocols are SeQUeNCe's own BDS stack: single-heralded entanglement generation
(``SingleHeraldedA/B``), BDS swapping (``EntanglementSwappingA_BDS/B_BDS``), memory
decoherence on (``Memory.bds_decohere`` with ``decoherence_errors = [1/3, 1/3, 1/3]``,
i.e. qceas ``decay`` with ``coherence_time = 3·T_s/4`` per end; see
``tests/oracles/test_sequence_oracle.py``). SeQUeNCe's ``RequestApp`` on ``r0`` asks for
entanglement with the last router through the network manager (routing, reservation
and the resource manager's rules included) and the responder's ``RequestApp`` frees its
memories; the run stops once ``pairs`` end-to-end pairs have been delivered to ``r0``.

The timed part is ``Timeline.init()`` + the request + ``Timeline.run()``; building the
topology (a few ms) is reported apart (``setup_s``). The target fidelity is set below
what a pair reaches, so no purification is scheduled. SeQUeNCe applies BDS decoherence
lazily (at the next swap/purification), so on a single link the delivered fidelity is
the raw one.

Needs SeQUeNCe ≥ 1.0 (first release with BDS swapping; 1.x needs Python ≥ 3.12; tested
with 1.3.1). Not a dependency of qceas: ``sequence`` is imported inside the functions.

Usage:
    python benchmarks/sequence_workload.py [--pairs 200] [--seed 0] [--nodes 2 3]
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from typing import Any, NamedTuple

#: Fibre light speed SeQUeNCe uses (m/ps), for the classical-channel delays.
_LIGHT_M_PER_PS = 2e-4


class WorkloadResult(NamedTuple):
    """One SeQUeNCe run: ``wall_s`` covers init + run, ``setup_s`` the topology build."""

    chain_nodes: int
    pairs_requested: int
    pairs_delivered: int
    wall_s: float
    setup_s: float
    simulated_s: float
    mean_fidelity: float
    sequence_version: str

    @property
    def seconds_per_pair(self) -> float:
        return self.wall_s / self.pairs_delivered


def _import_sequence() -> dict[str, Any]:
    """SeQUeNCe's BDS pieces, or an ImportError saying what is needed."""
    try:
        importlib.import_module("sequence")
    except ImportError as exc:
        raise ImportError(
            "benchmarks/sequence_workload.py needs SeQUeNCe (pip package 'sequence' >= 1.0, "
            "Python >= 3.12): pip install 'sequence>=1.0'"
        ) from exc
    from importlib.metadata import version

    found = version("sequence")
    try:
        constants = importlib.import_module("sequence.constants")
        generation = importlib.import_module("sequence.entanglement_management.generation")
        swapping = importlib.import_module("sequence.entanglement_management.swapping")
        importlib.import_module("sequence.entanglement_management.swapping.swapping_bds")
        purification = importlib.import_module("sequence.entanglement_management.purification")
        qm = importlib.import_module("sequence.kernel.quantum_manager")
        topo = importlib.import_module("sequence.topology.router_net_topo")
        request_app = importlib.import_module("sequence.app.request_app")
    except ImportError as exc:
        raise ImportError(
            f"SeQUeNCe {found} has no Bell-diagonal swapping/single-heralded generation; "
            "this workload needs sequence >= 1.0 (tested with 1.3.1)"
        ) from exc
    purification_base = getattr(purification, "PurificationProtocol", None) or getattr(
        purification, "BBPSSWProtocol", None
    )
    return {
        "version": found,
        "BDS": constants.BELL_DIAGONAL_STATE_FORMALISM,
        "SINGLE_HERALDED": constants.SINGLE_HERALDED,
        "GenA": generation.EntanglementGenerationA,
        "GenB": generation.EntanglementGenerationB,
        "SwapA": swapping.EntanglementSwappingA,
        "SwapB": swapping.EntanglementSwappingB,
        "Purification": purification_base,
        "QuantumManager": qm.QuantumManager,
        "RouterNetTopo": topo.RouterNetTopo,
        "RequestApp": request_app.RequestApp,
    }


def _config(
    seq: dict[str, Any],
    chain_nodes: int,
    seed: int,
    link_length_km: float,
    coherence_time_s: float,
    raw_fidelity: float,
    memories: int,
    stop_time_ps: int,
) -> dict[str, Any]:
    names = [f"r{i}" for i in range(chain_nodes)]
    link_m = link_length_km * 1e3
    return {
        "formalism": seq["BDS"],
        "stop_time": stop_time_ps,
        "templates": {
            "router": {
                "MemoryArray": {
                    "fidelity": raw_fidelity,
                    "coherence_time": coherence_time_s,
                    "decoherence_errors": [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0],
                }
            },
            "bsm": {"encoding_type": "single_heralded"},
        },
        "nodes": [
            {
                "name": name,
                "type": "QuantumRouter",
                "seed": seed * 1000 + i,
                "memo_size": 2 * memories,
                "template": "router",
            }
            for i, name in enumerate(names)
        ],
        "qconnections": [
            {
                "node1": names[i],
                "node2": names[i + 1],
                "attenuation": 0.2e-3,  # dB/m (0.2 dB/km)
                "distance": link_m,
                "type": "meet_in_the_middle",
                "template": "bsm",
                "seed": seed * 1000 + 500 + i,
            }
            for i in range(chain_nodes - 1)
        ],
        "cconnections": [
            {
                "node1": names[i],
                "node2": names[j],
                "delay": round((j - i) * link_m / _LIGHT_M_PER_PS),
            }
            for i in range(chain_nodes)
            for j in range(i + 1, chain_nodes)
        ],
    }


def run_sequence_workload(
    chain_nodes: int,
    pairs: int,
    seed: int = 0,
    *,
    link_length_km: float = 10.0,
    coherence_time_s: float = 1.0,
    raw_fidelity: float = 0.95,
    memories: int = 4,
    max_simulated_s: float = 1e4,
) -> WorkloadResult:
    """Run the SeQUeNCe BDS chain until ``pairs`` end-to-end pairs reach ``r0``.

    Args:
        chain_nodes: 2 (one link) or 3 (two links, one swap).
        pairs: end-to-end pairs to deliver (≥ 1).
        seed: seeds every node's and BSM's random generator.
        link_length_km: length of each elementary link (BSM in the middle).
        coherence_time_s: SeQUeNCe memory coherence time T_s (equal X/Y/Z split).
        raw_fidelity: fidelity of a freshly heralded pair (SeQUeNCe needs ≥ 0.5).
        memories: memories the request reserves per end (routers get twice as many).
        max_simulated_s: simulated-time cap; stops early if reached.
    """
    if chain_nodes not in (2, 3):
        raise ValueError(f"chain_nodes={chain_nodes}: must be 2 or 3")
    if pairs < 1:
        raise ValueError(f"pairs={pairs}: must be >= 1")
    seq = _import_sequence()
    gen_a, gen_b, swap_a, swap_b = seq["GenA"], seq["GenB"], seq["SwapA"], seq["SwapB"]
    purification, manager = seq["Purification"], seq["QuantumManager"]
    saved = (
        gen_a.get_global_type(),
        gen_b.get_global_type(),
        swap_a.get_formalism(),
        swap_b.get_formalism(),
        purification.get_formalism() if purification is not None else None,
        manager.get_active_formalism(),
    )
    try:
        gen_a.set_global_type(seq["SINGLE_HERALDED"])
        gen_b.set_global_type(seq["SINGLE_HERALDED"])
        swap_a.set_formalism(seq["BDS"])
        swap_b.set_formalism(seq["BDS"])
        if purification is not None:
            purification.set_formalism(seq["BDS"])
        return _run(
            seq,
            chain_nodes,
            pairs,
            seed,
            link_length_km,
            coherence_time_s,
            raw_fidelity,
            memories,
            max_simulated_s,
        )
    finally:
        gen_a.set_global_type(saved[0])
        gen_b.set_global_type(saved[1])
        swap_a.set_formalism(saved[2])
        swap_b.set_formalism(saved[3])
        if purification is not None and saved[4] is not None:
            purification.set_formalism(saved[4])
        manager.set_global_manager_formalism(saved[5])


def _run(
    seq: dict[str, Any],
    chain_nodes: int,
    pairs: int,
    seed: int,
    link_length_km: float,
    coherence_time_s: float,
    raw_fidelity: float,
    memories: int,
    max_simulated_s: float,
) -> WorkloadResult:
    request_app = seq["RequestApp"]

    class CountingApp(request_app):  # type: ignore[misc, valid-type]
        """SeQUeNCe's RequestApp, stopping the timeline at the target pair count."""

        def __init__(self, node: Any, target: int) -> None:
            super().__init__(node)
            self.target = target
            self.fidelities: list[float] = []

        def get_memory(self, info: Any) -> None:
            before, fidelity = self.memory_counter, float(info.fidelity)
            super().get_memory(info)  # counts the pair and frees the memory (fidelity -> 0)
            if self.memory_counter > before:
                self.fidelities.append(fidelity)
                if self.memory_counter >= self.target:
                    self.node.timeline.stop()

    stop_ps = round(max_simulated_s * 1e12)
    start_ps = 10**9  # 1 ms: let routing settle before the request starts
    t0 = time.perf_counter()
    topo = seq["RouterNetTopo"](
        _config(
            seq,
            chain_nodes,
            seed,
            link_length_km,
            coherence_time_s,
            raw_fidelity,
            memories,
            stop_ps + 1,
        )
    )
    tl = topo.get_timeline()
    routers = {r.name: r for r in topo.get_nodes_by_type(seq["RouterNetTopo"].QUANTUM_ROUTER)}
    initiator = CountingApp(routers["r0"], pairs)
    responder_name = f"r{chain_nodes - 1}"
    request_app(routers[responder_name])
    setup_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    tl.init()
    # Target fidelity 0.5: below every delivered pair, so no purification rules fire.
    initiator.start(responder_name, start_ps, stop_ps, memories, 0.5)
    tl.run()
    wall_s = time.perf_counter() - t0

    delivered = initiator.memory_counter
    if delivered == 0:
        raise RuntimeError(
            f"SeQUeNCe delivered no pair in {max_simulated_s:g} simulated s "
            f"({chain_nodes} nodes, {link_length_km:g} km links)"
        )
    return WorkloadResult(
        chain_nodes=chain_nodes,
        pairs_requested=pairs,
        pairs_delivered=delivered,
        wall_s=wall_s,
        setup_s=setup_s,
        simulated_s=(tl.now() - start_ps) * 1e-12,
        mean_fidelity=statistics.fmean(initiator.fidelities),
        sequence_version=seq["version"],
    )


def sequence_seconds_per_pair(chain_nodes: int, pairs: int, seed: int = 0) -> float:
    """Wall seconds SeQUeNCe (BDS mode, decoherence on) spends per delivered end-to-end pair.

    ``chain_nodes`` = 2: one elementary link; 3: two links joined by a swap in the middle.
    Raises ImportError (with what to install) when SeQUeNCe ≥ 1.0 is not importable.
    """
    return run_sequence_workload(chain_nodes, pairs, seed).seconds_per_pair


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nodes", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per chain (seeds seed..seed+repeat-1)"
    )
    args = parser.parse_args(argv)
    run_sequence_workload(2, 5, args.seed)  # warm-up: first-call costs out of the figures
    for n in args.nodes:
        runs = [run_sequence_workload(n, args.pairs, args.seed + k) for k in range(args.repeat)]
        per_pair = [r.seconds_per_pair for r in runs]
        r = runs[0]
        print(
            f"SeQUeNCe {r.sequence_version} BDS, {n} nodes, {args.pairs} pairs: "
            f"{statistics.median(per_pair) * 1e3:.3f} ms wall per pair (median of "
            f"{len(runs)}; min {min(per_pair) * 1e3:.3f}, max {max(per_pair) * 1e3:.3f}); "
            f"{statistics.fmean(x.simulated_s for x in runs):.3f} s simulated, "
            f"mean delivered F = {statistics.fmean(x.mean_fidelity for x in runs):.4f}"
        )


if __name__ == "__main__":
    main()
