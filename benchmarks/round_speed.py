"""Round-speed benchmark: one data-parallel round, qceas against PennyLane, same run.

A round is, for every node of the network and every sample of its shard, the gradient
of the node's mean cross-entropy and the exact mixed-state (SLD) QFI of its noisy
circuit, averaged over the shard (ARCHITECTURE §1, step 3). The workload of issue 2:
50 nodes × 64 samples, 4 qubits, 3 layers, per-node depolarizing noise on every qubit.

Three implementations compute the same numbers (checked here to agree):

* ``qceas`` — ``QNN.evaluate_nodes(..., qfi=True)``, numpy;
* ``jax`` — PennyLane ``default.mixed`` + ``jax.jit`` + ``jacfwd`` + ``eigh``, the
  fastest correct PennyLane path (``pennylane_paths.jax_round``); compile time is
  reported apart from the steady state (best of ``--repeat`` calls);
* ``stock`` — stock PennyLane ``default.mixed`` with autograd
  (``pennylane_paths.stock_round``); it is far too slow for the full workload, so it is
  timed on ``--stock-nodes`` nodes and scaled linearly to all nodes (each node is
  independent work; the script prints which figures are extrapolated). At 8 qubits it
  would need d² = 65,536 reverse passes per node and is not run.

At 8 qubits (``--qubits 4 8``, the default) every path runs a reduced workload
(``--nodes8`` × ``--samples8``) and is scaled linearly to the full one, again labelled.

**qceas's paths by register size** (``--paths-qubits 4 6 8 10``; ``--skip-paths`` leaves
them out): the same round with each QFI choice of ``--paths`` (``none``: the gradient
alone; ``ESTIMATOR:all`` or ``ESTIMATOR:q``, the estimator on q evenly spaced rows per
shard, ``model.qfi_samples``). Above 5 qubits the gradient comes from the reverse pass
and forward-mode tangents are computed on the QFI rows only (``qceas.qnn.adjoint``).
Each is also run through the local engine on ``--threads`` threads (the node batches
of ``qceas.engine.nodes_per_batch``, the parallelism a training run gets). From 8
qubits on a round is measured on ``--paths-nodes8`` whole nodes (all their samples)
and scaled by the node count, labelled; the SLD QFI on whole shards is left
out from 10 qubits (about a minute per row there). Beside them, the path qceas took
before above 5 qubits — dense density matrices in forward mode with the SLD QFI on
every row — timed on ``--old-rows`` rows and scaled per row (extrapolated, labelled).
12 qubits are out of reach of every path here (``model.n_qubits`` ≤ 10; a trajectory
path is not built).

Usage:
    python benchmarks/round_speed.py [--qubits 4 8] [--repeat 3] [--json out.json]

Needs the ``bench`` extra (PennyLane and JAX); without JAX the jax column is skipped,
without PennyLane only qceas is timed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qceas.engine import nodes_per_batch
from qceas.engine.local import LocalEngine
from qceas.qnn import QNN, Ansatz, NoiseModel, propagate
from qceas.qnn.fisher import qfi_mixed
from qceas.reproducibility import single_threaded_blas


def _load_paths() -> Any:
    """The sibling module ``pennylane_paths``, loaded by file path (no sys.path edits)."""
    spec = importlib.util.spec_from_file_location(
        "pennylane_paths", Path(__file__).resolve().parent / "pennylane_paths.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


paths = _load_paths()

N_CLASSES = 3
OUTPUT_SCALE = 5.0
TARGET_STOCK = 200.0
TARGET_JAX = 2.0


def qceas_round(
    params: np.ndarray, x: np.ndarray, y: np.ndarray, depol: np.ndarray, *, layers: int
) -> tuple[np.ndarray, np.ndarray]:
    """The round with qceas: (grads (K, P), qfis (K, P, P))."""
    n_qubits = x.shape[2]
    model = QNN(n_qubits, layers, n_classes=N_CLASSES, output_scale=OUTPUT_SCALE)
    shards = [(x[k], y[k]) for k in range(x.shape[0])]
    noises = [NoiseModel.build(n_qubits, depolarizing=list(depol[k])) for k in range(len(shards))]
    result = model.evaluate_nodes(params, shards, noises, qfi=True)
    assert result.qfi is not None
    return result.gradient, result.qfi


def best_of(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Fastest wall time of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def run_case(
    n_qubits: int, nodes: int, samples: int, full_nodes: int, full_samples: int, args: Any
) -> dict[str, Any]:
    """Time every available path on (nodes × samples), scaled to (full_nodes × full_samples)."""
    params, x, y, depol = paths.make_workload(
        n_qubits=n_qubits, layers=args.layers, nodes=nodes, samples=samples, n_classes=N_CLASSES
    )
    scale = (full_nodes * full_samples) / (nodes * samples)
    kw = {"n_classes": N_CLASSES, "output_scale": OUTPUT_SCALE, "layers": args.layers}
    case: dict[str, Any] = {
        "qubits": n_qubits,
        "layers": args.layers,
        "measured_workload": [nodes, samples],
        "full_workload": [full_nodes, full_samples],
        "scale_to_full": scale,
    }
    t_ours, (g_ours, f_ours) = best_of(
        lambda: qceas_round(params, x, y, depol, layers=args.layers), args.repeat
    )
    case["qceas_s"] = t_ours * scale
    have_pl = importlib.util.find_spec("pennylane") is not None
    have_jax = importlib.util.find_spec("jax") is not None
    if have_pl and have_jax and not args.skip_jax:
        start = time.perf_counter()
        g_jax, f_jax = paths.jax_round(params, x, y, depol, **kw)
        case["jax_compile_and_first_s"] = time.perf_counter() - start
        t_jax, _ = best_of(lambda: paths.jax_round(params, x, y, depol, **kw), args.repeat)
        case["jax_s"] = t_jax * scale
        case["max_abs_diff_vs_jax"] = {
            "gradient": float(np.abs(g_ours - g_jax).max()),
            "qfi": float(np.abs(f_ours - f_jax).max()),
        }
    if have_pl and not args.skip_stock:
        k = min(args.stock_nodes, nodes)
        s = min(args.stock_samples, samples)
        start = time.perf_counter()
        g_st, f_st = paths.stock_round(params, x[:k, :s], y[:k, :s], depol[:k], **kw)
        t_stock = time.perf_counter() - start
        case["stock_s"] = t_stock * (full_nodes * full_samples) / (k * s)
        case["stock_measured_workload"] = [k, s]
        g_sub, f_sub = qceas_round(params, x[:k, :s], y[:k, :s], depol[:k], layers=args.layers)
        case["max_abs_diff_vs_stock"] = {
            "gradient": float(np.abs(g_sub - g_st).max()),
            "qfi": float(np.abs(f_sub - f_st).max()),
        }
    if "jax_s" in case:
        case["speedup_vs_jax"] = case["jax_s"] / case["qceas_s"]
    if "stock_s" in case:
        case["speedup_vs_stock"] = case["stock_s"] / case["qceas_s"]
    return case


def report(case: dict[str, Any]) -> str:
    measured = case["measured_workload"]
    full = case["full_workload"]
    note = (
        ""
        if measured == full
        else f" (measured on {measured[0]}x{measured[1]}, scaled x{case['scale_to_full']:.0f})"
    )
    lines = [
        f"{case['qubits']} qubits, {case['layers']} layers, {full[0]} nodes x {full[1]} "
        f"samples, gradient + SLD QFI{note}",
        f"  qceas                     {case['qceas_s']:10.3f} s",
    ]
    if "jax_s" in case:
        diff = case["max_abs_diff_vs_jax"]
        lines.append(
            f"  PennyLane + JAX (jit)     {case['jax_s']:10.3f} s   "
            f"ratio {case['speedup_vs_jax']:6.1f}x  (target >= {TARGET_JAX:g}x; compile+first "
            f"{case['jax_compile_and_first_s']:.1f} s; max |diff| grad {diff['gradient']:.1e}, "
            f"qfi {diff['qfi']:.1e})"
        )
    if "stock_s" in case:
        k, s = case["stock_measured_workload"]
        diff = case["max_abs_diff_vs_stock"]
        lines.append(
            f"  PennyLane default.mixed   {case['stock_s']:10.1f} s   "
            f"ratio {case['speedup_vs_stock']:6.0f}x  (target >= {TARGET_STOCK:g}x; "
            f"extrapolated from {k}x{s}; max |diff| grad {diff['gradient']:.1e}, "
            f"qfi {diff['qfi']:.1e})"
        )
    return "\n".join(lines)


def _paths_model(n_qubits: int, layers: int, choice: str) -> tuple[QNN, bool]:
    """The model of one ``--paths`` choice and whether it computes the QFI."""
    if choice == "none":
        return QNN(n_qubits, layers, n_classes=N_CLASSES, output_scale=OUTPUT_SCALE), False
    name, _, rows = choice.partition(":")
    samples = None if rows == "all" else int(rows)
    model = QNN(
        n_qubits,
        layers,
        n_classes=N_CLASSES,
        output_scale=OUTPUT_SCALE,
        qfi_estimator=name,
        qfi_samples=samples,
    )
    return model, True


def paths_case(n_qubits: int, args: Any) -> dict[str, Any]:
    """qceas's round at ``n_qubits`` for every ``--paths`` choice, and the old path."""
    nodes = args.nodes if n_qubits < 8 else min(args.paths_nodes8, args.nodes)
    params, x, y, depol = paths.make_workload(
        n_qubits=n_qubits, layers=args.layers, nodes=nodes, samples=args.samples,
        n_classes=N_CLASSES,
    )  # fmt: skip
    scale = args.nodes / nodes
    shards = [(x[k], y[k]) for k in range(nodes)]
    noises = [NoiseModel.build(n_qubits, depolarizing=list(depol[k])) for k in range(nodes)]
    case: dict[str, Any] = {"qubits": n_qubits, "measured_nodes": nodes, "scale": scale}
    timings, threaded = {}, {}
    for choice in args.paths:
        if n_qubits >= 10 and choice.startswith("sld:all"):
            continue
        model, qfi = _paths_model(n_qubits, args.layers, choice)
        repeat = args.repeat if n_qubits < 8 else 1
        t, _ = best_of(
            lambda m=model, q=qfi: m.evaluate_nodes(params, shards, noises, qfi=q), repeat
        )
        timings[choice] = t * scale
        if args.threads > 1:
            engine = LocalEngine(threads=args.threads)
            t, _ = best_of(
                lambda m=model, q=qfi, e=engine: e.evaluate_nodes(
                    m, params, shards, noises, qfi=q, node_rngs=None, data_sizes=None,
                    blocks=None,
                ),
                repeat,
            )  # fmt: skip
            threaded[choice] = t * scale
    case["qceas_s"] = timings
    case["engine_s"] = threaded
    rows = args.old_rows if n_qubits <= 8 else 0
    if n_qubits > 5 and rows > 0:
        ansatz = Ansatz(n_qubits, args.layers)
        dep = np.tile(depol[0], (rows, 1))
        with single_threaded_blas():
            start = time.perf_counter()
            prop = propagate(
                ansatz, params, x[0, :rows], dep, np.zeros_like(dep), representation="density"
            )
            assert prop.tangents is not None
            qfi_mixed(prop.state, prop.tangents)
            per_row = (time.perf_counter() - start) / rows
        case["old_density_s"] = per_row * args.nodes * args.samples
        case["old_rows"] = rows
    return case


def paths_report(case: dict[str, Any], args: Any) -> str:
    n, nodes = case["qubits"], case["measured_nodes"]
    note = (
        "" if case["scale"] == 1 else f" (measured on {nodes} node(s), scaled x{case['scale']:.0f})"
    )
    lines = [
        f"qceas paths, {n} qubits, {args.layers} layers, {args.nodes} nodes x {args.samples} "
        f"samples, per-node depolarizing, one process{note}:"
    ]
    for choice, seconds in case["qceas_s"].items():
        what = "gradient only" if choice == "none" else f"gradient + QFI {choice}"
        line = f"  {what:34s} {seconds:10.2f} s"
        if choice in case["engine_s"]:
            line += (
                f"   local engine, {args.threads} threads: {case['engine_s'][choice]:10.2f} s "
                f"(batches of {nodes_per_batch(n)} nodes)"
            )
        lines.append(line)
    if "old_density_s" in case:
        old = case["old_density_s"]
        best = case["qceas_s"].get("sld:all")
        ratio = f"  -> sld:all is {old / best:.0f}x faster" if best else ""
        lines.append(
            f"  before: density matrices, forward mode, SLD on every row {old:10.1f} s "
            f"(extrapolated from {case['old_rows']} rows){ratio}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, nargs="*", default=[4, 8])
    parser.add_argument("--layers", type=int, default=3)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--nodes8", type=int, default=1, help="nodes measured at >= 8 qubits")
    parser.add_argument("--samples8", type=int, default=8, help="samples measured at >= 8 qubits")
    parser.add_argument("--stock-nodes", type=int, default=1)
    parser.add_argument("--stock-samples", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-jax", action="store_true")
    parser.add_argument("--skip-stock", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--skip-paths", action="store_true")
    parser.add_argument("--paths-qubits", type=int, nargs="+", default=[4, 6, 8, 10])
    parser.add_argument(
        "--paths",
        nargs="+",
        default=["none", "sld:all", "sld:8", "sld:2", "hilbert_schmidt:8", "sub_qfi:8"],
        help="QFI choices: none, or ESTIMATOR:all / ESTIMATOR:q",
    )
    parser.add_argument("--paths-nodes8", type=int, default=2, help="nodes measured from 8 qubits")
    parser.add_argument(
        "--threads", type=int, default=2, help="threads of the local engine run beside (1: none)"
    )
    parser.add_argument("--old-rows", type=int, default=2, help="rows timed on the old path")
    args = parser.parse_args(argv)
    cases = []
    for n in args.qubits:
        small = n >= 8
        nodes = args.nodes8 if small else args.nodes
        samples = args.samples8 if small else args.samples
        # At 8 qubits stock PennyLane needs d² = 65,536 backward passes per node (about
        # 45 s each here): not run; the steady-state JAX path is the comparison.
        args_n = argparse.Namespace(**{**vars(args), "skip_stock": True}) if small else args
        case = run_case(n, nodes, samples, args.nodes, args.samples, args_n)
        print(report(case), flush=True)
        cases.append(case)
    if not args.skip_paths:
        for n in args.paths_qubits:
            case = paths_case(n, args)
            print(paths_report(case, args), flush=True)
            cases.append(case)
        print("12 qubits: not run (model.n_qubits <= 10; the trajectory path is not built)")
    if args.json is not None:
        args.json.write_text(json.dumps(cases, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
