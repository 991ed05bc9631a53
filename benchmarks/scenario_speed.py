"""Scenario wall-clock benchmark: the targets of issue 5, measured end to end.

* ``paper``: the 50-QPU scenario, every strategy it lists, one seed, keys from the
  simulated network (CEAS policy preparation included): target <= 60 s;
* ``quick``: the README's default job including its plots: target < 60 s.

Each run goes into a fresh temporary directory (nothing is reused) through the same
``run_experiment`` the CLI calls. Prints one line per scenario with the time, the
target and their ratio.

Usage:
    python benchmarks/scenario_speed.py [--scenarios paper quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from qceas.experiments import resolve, run_experiment

#: scenario -> (target seconds, whether the timed run writes its plots)
TARGETS: dict[str, tuple[float, bool]] = {"paper": (60.0, False), "quick": (60.0, True)}


def time_scenario(name: str, *, plot: bool) -> dict[str, Any]:
    """Seconds to run ``name`` for its first seed, all strategies, into a fresh folder."""
    config = resolve(name)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        outcome = run_experiment(
            config, Path(folder), seeds=[config.seed], progress=False, plot=plot
        )
        seconds = time.perf_counter() - started
    return {
        "scenario": name,
        "seconds": seconds,
        "strategies": list(outcome.summary["strategies"]),
        "computed_runs": outcome.computed,
        "plots": plot,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    rows = []
    for name in args.scenarios:
        target, plot = TARGETS[name]
        row = time_scenario(name, plot=plot)
        row |= {"target_s": target, "ratio_to_target": row["seconds"] / target}
        rows.append(row)
        verdict = "meets" if row["seconds"] <= target else "MISSES"
        print(
            f"{name:>6}: {row['seconds']:6.1f} s for {len(row['strategies'])} strategies x 1 seed"
            f"{' incl. plots' if plot else ''}; target {target:.0f} s "
            f"(ratio {row['ratio_to_target']:.2f}, {verdict})"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
