"""Sweeps: one experiment per point of the config's ``sweep`` grid, and their table.

Each point (``ExperimentConfig.sweep_points``) runs into ``DIR/points/NN/`` with the
ordinary runner, so an interrupted sweep resumes point by point and run by run, and
a finished point is never recomputed. After every point the sweep's own files are
rebuilt from the points' summaries:

* ``sweep.csv``: one row per (point, strategy): the swept values, final and tail
  accuracy (mean, 95% CI), and rejected / refused messages;
* ``sweep_summary.json``: ``{"scenario", "parameters", "points": [{"values", "dir",
  "strategies": {name: final_accuracy}}], "worst_case": {...}}`` where ``worst_case``
  gives, for every value of the last swept parameter and every strategy, the lowest
  mean final accuracy over the other parameters (e.g. the worst attack at each
  Byzantine fraction);
* ``sweep_accuracy.png``: that worst case against the last swept parameter.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qceas.config import ConfigError, ExperimentConfig, dump_yaml
from qceas.experiments import results
from qceas.experiments.runner import run_experiment


@dataclass(frozen=True)
class SweepOutcome:
    summary: dict[str, Any]
    out: Path
    reused: int
    computed: int


def run_sweep(
    config: ExperimentConfig,
    out: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    progress: bool = True,
    plot: bool = True,
) -> SweepOutcome:
    """Run every point of ``config.sweep`` (see the module docstring)."""
    if not config.sweep:
        raise ConfigError("sweep: the config sweeps nothing (add a sweep: section)")
    out = Path(out)
    try:
        (out / "points").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the directory ({exc.strerror})") from None
    results.write_atomic(out / "sweep_config.yaml", dump_yaml(config))
    parameters = list(config.sweep)
    done: list[dict[str, Any]] = []
    reused = computed = 0
    for index, (values, point) in enumerate(config.sweep_points()):
        folder = out / "points" / f"{index:02d}"
        outcome = run_experiment(point, folder, seeds=seeds, progress=progress, plot=plot)
        reused += outcome.reused
        computed += outcome.computed
        done.append({"values": values, "dir": str(folder.relative_to(out)), **outcome.summary})
        summary = _write(out, config, parameters, done, plot)
    return SweepOutcome(summary=summary, out=out, reused=reused, computed=computed)


def _write(
    out: Path,
    config: ExperimentConfig,
    parameters: list[str],
    done: list[dict[str, Any]],
    plot: bool,
) -> dict[str, Any]:
    last = parameters[-1]
    worst: dict[str, dict[str, float]] = {}
    for point in done:
        x = _label(point["values"][last])
        for strategy, s in point["strategies"].items():
            acc = s["final_accuracy"]["mean"]
            row = worst.setdefault(strategy, {})
            row[x] = min(row.get(x, float("inf")), acc)
    summary = {
        "scenario": config.name,
        "parameters": parameters,
        "points": [
            {
                "values": p["values"],
                "dir": p["dir"],
                "strategies": {n: s["final_accuracy"] for n, s in p["strategies"].items()},
            }
            for p in done
        ],
        "worst_case": {"over": parameters[:-1], "by": last, "final_accuracy": worst},
    }
    results.write_atomic(out / "sweep_summary.json", json.dumps(summary, indent=2) + "\n")
    results.write_atomic(out / "sweep.csv", _table(parameters, done))
    if plot:
        from qceas.experiments.plots import plot_sweep

        plot_sweep(worst, last, parameters[:-1], out / "sweep_accuracy.png")
    return summary


def _label(value: Any) -> str:
    return json.dumps(value) if not isinstance(value, str) else value


def _table(parameters: list[str], done: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            *parameters,
            "strategy",
            "final_accuracy",
            "final_ci_low",
            "final_ci_high",
            "tail_accuracy",
            "rejected_updates",
            "refused_no_key",
        ]
    )
    for point in done:
        for strategy, s in point["strategies"].items():
            final = s["final_accuracy"]
            writer.writerow(
                [
                    *(_label(point["values"][p]) for p in parameters),
                    strategy,
                    final["mean"],
                    final["ci95"][0],
                    final["ci95"][1],
                    s["tail_accuracy"]["mean"],
                    s["rejected_updates"],
                    s["refused_no_key"],
                ]
            )
    return buffer.getvalue()
