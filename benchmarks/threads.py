"""What one BLAS thread costs or gains (issue 14): one round's node evaluations.

One round of ``N`` nodes (4- or 6-qubit circuits of 2 layers, half of the nodes with
depolarizing noise 0.01 and half 0.1, 100 shots, ``--samples`` inputs per node,
gradients and QFI) is evaluated by the local engine, in a fresh process per setting,
for every combination of:

* ``--src``: source trees to compare, e.g. a ``git worktree`` of the commit before
  (whose kernels use the machine's BLAS threads, evaluated in turn) and this one
  (one BLAS thread, ``--workers`` threads evaluating the fixed node batches);
* ``--workers``: threads of the local engine (``engine.num_cpus``; a tree before the
  change evaluates in turn, so it is measured once).

The children inherit the environment (``--blas-threads N`` sets
``OPENBLAS_NUM_THREADS`` and ``OMP_NUM_THREADS``). Printed per size and qubits: the
seconds of the round (after a warm-up round on one batch) in each setting, and each
setting's ratio against the first; and whether every worker count of a tree computed
the same bits (the SHA-256 of the results).

Usage:
    python benchmarks/threads.py --src OLD/src src [--sizes 50 1000] [--qubits 4 6]
                                 [--workers 1 2] [--samples 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"

#: Evaluates one round in a child process and prints its figures as JSON.
_CHILD = """
import hashlib, json, sys, time
import numpy as np
from qceas.config import EngineConfig
from qceas.engine import make_engine
from qceas.qnn import QNN, NoiseModel
size, qubits, workers, samples = (int(a) for a in sys.argv[1:5])
rng = np.random.default_rng(0)
model = QNN(qubits, 2, n_classes=2)
params = model.init_params(rng=rng)
noises = [NoiseModel.build(qubits, depolarizing=0.01 if k % 2 else 0.1, shots=100)
          for k in range(size)]
shards = [(rng.uniform(-np.pi, np.pi, (samples, qubits)), rng.integers(0, 2, samples))
          for _ in range(size)]
engine = make_engine(EngineConfig(name="local", num_cpus=workers))
def round_of(count):
    return engine.evaluate_nodes(
        model, params, shards[:count], noises[:count], qfi=True,
        node_rngs=[np.random.default_rng([1, k]) for k in range(count)],
        data_sizes=None, blocks=None)
round_of(min(size, 64))  # warm-up: imports, plans, caches
started = time.perf_counter()
result = round_of(size)
seconds = time.perf_counter() - started
digest = hashlib.sha256(b"".join(
    a.tobytes() for a in (result.loss, result.gradient, result.qfi, result.accuracy)))
print(json.dumps({"round_s": seconds, "sha256": digest.hexdigest()[:16]}))
"""


def measure(
    src: Path, size: int, qubits: int, workers: int, samples: int, blas: int | None
) -> dict[str, Any]:
    """One round's figures in a fresh process importing qceas from ``src``."""
    env = dict(os.environ)
    if blas is not None:
        env |= {"OPENBLAS_NUM_THREADS": str(blas), "OMP_NUM_THREADS": str(blas)}
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    args = [str(size), str(qubits), str(workers), str(samples)]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], env=env, capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {"src": str(src), "size": size, "qubits": qubits, "workers": workers, **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, nargs="+", default=[SRC])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 1000])
    parser.add_argument("--qubits", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--blas-threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for qubits in args.qubits:
        for size in args.sizes:
            group = []
            for src in args.src:
                # A tree from before the change evaluates in turn: one setting is enough.
                threaded = (src / "qceas" / "reproducibility.py").is_file()
                for workers in args.workers if threaded else args.workers[:1]:
                    row = measure(src, size, qubits, workers, args.samples, args.blas_threads)
                    group.append(row)
                    print(
                        f"{qubits} qubits, {size:>5} nodes, {src} with {workers} worker(s): "
                        f"{row['round_s']:.3f} s per round (results {row['sha256']})",
                        flush=True,
                    )
            base = group[0]
            for row in group[1:]:
                print(
                    f"  {row['src']} with {row['workers']} worker(s) against {base['src']} "
                    f"with {base['workers']}: x{base['round_s'] / row['round_s']:.2f} "
                    f"faster",
                    flush=True,
                )
            for src in args.src:
                digests = {row["sha256"] for row in group if row["src"] == str(src)}
                print(f"  {src}: the same bits at every worker count: {len(digests) == 1}")
            # Trees may differ: one computing with the machine's BLAS threads rounds
            # differently from one computing with one thread (what the change is about).
            rows.extend(group)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
