"""Scale benchmark (issue 7): time per round and peak memory at 50, 200 and 1000 nodes.

Runs the ``scale-1000`` scenario with ``nodes.count`` set to each size (the dataset
grows with it: 20 samples per node), one strategy at a time, for ``--rounds`` rounds,
each size in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is
its own. Prints, per size and strategy: seconds per round, peak memory, and both as
ratios against linear growth from the smallest size (1.0 = exactly linear; below 1,
sublinear). The last lines extrapolate 1000 nodes × 100 rounds of one strategy from
the measured rounds against the 10-minute target; ``--rounds 100`` measures it
outright.

``--engine ray`` evaluates the nodes as Ray tasks on a private Ray with ``--cpus``
CPUs (its start is counted in the build time, not per round; the peak memory is the
driver's, the Ray workers' comes on top); ``--engine local ray`` measures both in one
run and prints their ratio. The local engine evaluates its node batches on ``--cpus``
threads. The numbers are the same on every engine.

Before and after: ``--src A B`` runs the same measurements with the package from
each source tree (e.g. a ``git worktree`` of an older commit, ``A/qceas`` being the
package) and prints each tree's time per round against the first's. The children
inherit the environment as it is (``--blas-threads N`` sets ``OPENBLAS_NUM_THREADS``
and ``OMP_NUM_THREADS`` for them), so a tree that computes with the machine's BLAS
threads is measured with them.

Usage:
    python benchmarks/scale.py [--sizes 50 200 1000] [--rounds 10] [--engine local ray]
                               [--cpus 2] [--src OLD/src src] [--blas-threads N]
                               [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

#: Runs one size in a child process and prints its figures as JSON.
_CHILD = """
import json, resource, sys, time
from qceas.experiments import resolve
from qceas.config import EngineConfig, from_dict
from qceas.engine import make_engine
from qceas.training.scenario import build_scenario
from qceas.training.trainer import Trainer
size, rounds, strategy = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
engine_name, cpus = sys.argv[4], int(sys.argv[5])
raw = resolve("scale-1000").to_dict()
raw.pop("sweep")
raw["nodes"]["count"] = size
raw["data"]["params"]["n_samples"] = 20 * size
config = from_dict(raw)
started = time.perf_counter()
engine = make_engine(EngineConfig(name=engine_name, num_cpus=cpus))
scenario = build_scenario(config, config.seed)
trainer = Trainer(scenario, strategy, engine)
built = time.perf_counter() - started
started = time.perf_counter()
trainer.run(rounds)
per_round = (time.perf_counter() - started) / rounds
engine.close()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
print(json.dumps({"build_s": built, "round_s": per_round, "peak_mib": peak}))
"""


SRC = Path(__file__).resolve().parents[1] / "src"


def measure(
    size: int,
    rounds: int,
    strategy: str,
    engine: str = "local",
    cpus: int = 2,
    src: Path = SRC,
    blas_threads: int | None = None,
) -> dict[str, Any]:
    """Figures of one size and strategy, from a fresh process importing ``src``."""
    env = dict(os.environ)
    if blas_threads is not None:
        env |= {"OPENBLAS_NUM_THREADS": str(blas_threads), "OMP_NUM_THREADS": str(blas_threads)}
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(size), str(rounds), strategy, engine, str(cpus)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {"size": size, "strategy": strategy, "engine": engine, "src": str(src), **figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--strategies", nargs="+", default=["ceas", "fedavg"])
    parser.add_argument(
        "--engine", nargs="+", choices=["local", "ray"], default=["local"], dest="engines"
    )
    parser.add_argument(
        "--cpus", type=int, default=2, help="CPUs of the private Ray / threads of local"
    )
    parser.add_argument(
        "--src", type=Path, nargs="+", default=[SRC], help="source trees to compare"
    )
    parser.add_argument(
        "--blas-threads", type=int, default=None, help="BLAS threads of the children"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    rows = []
    for src in args.src:
        for engine in args.engines:
            for strategy in args.strategies:
                base: dict[str, Any] | None = None
                for size in sorted(args.sizes):
                    row = measure(
                        size, args.rounds, strategy, engine, args.cpus, src, args.blas_threads
                    )
                    base = base or row
                    scale = size / base["size"]
                    row["time_vs_linear"] = row["round_s"] / (base["round_s"] * scale)
                    row["memory_vs_linear"] = row["peak_mib"] / (base["peak_mib"] * scale)
                    rows.append(row)
                    print(
                        f"{src}: {strategy:<7} {engine:<5} {size:>5} nodes: "
                        f"{row['round_s']:.3f} s/round (x{row['time_vs_linear']:.2f} of "
                        f"linear), peak {row['peak_mib']:.0f} MiB "
                        f"(x{row['memory_vs_linear']:.2f} of linear), build "
                        f"{row['build_s']:.1f} s",
                        flush=True,
                    )
    largest = max(args.sizes)
    for row in (r for r in rows if r["size"] == largest):
        total = row["round_s"] * 100 + row["build_s"]
        print(
            f"{row['src']}: {row['strategy']} ({row['engine']}): {largest} nodes x 100 "
            f"rounds ~{total / 60:.1f} min (from {args.rounds} measured rounds); target "
            f"10 min (ratio {total / 600:.2f})"
        )
    timed = {(r["src"], r["engine"], r["strategy"], r["size"]): r["round_s"] for r in rows}
    first = str(args.src[0])
    for (src, engine, strategy, size), seconds in timed.items():
        local = timed.get((src, "local", strategy, size))
        if engine != "local" and local:
            print(
                f"{src}: {strategy} {size} nodes: {engine} {seconds:.3f} s/round against "
                f"local {local:.3f} s/round (local/{engine} = x{local / seconds:.2f})"
            )
        before = timed.get((first, engine, strategy, size))
        if src != first and before:
            print(
                f"{strategy} {engine} {size} nodes: {src} {seconds:.3f} s/round against "
                f"{first} {before:.3f} s/round ({first}/{src} = x{before / seconds:.2f})"
            )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
