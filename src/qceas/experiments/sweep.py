"""Sweeps: one experiment per point of the config's ``sweep`` grid, and their table.

Each point (``ExperimentConfig.sweep_points``) runs into ``DIR/points/NN/`` with the
ordinary runner, so an interrupted sweep resumes point by point and run by run, and
a finished point is never recomputed. After every point the sweep's own files are
rebuilt from the points' summaries:

* ``sweep.csv`` (and ``sweep.parquet`` where pyarrow is installed): one row per
  (point, strategy): the swept values, final and tail accuracy (mean, 95% CI of the
  final accuracy, empty with one seed),
  rejected / refused messages and, for runs keyed by a simulated network, Bell-pair
  utilization, mean consumed fidelity and key demand met;
* ``sweep_summary.json``: ``{"scenario", "parameters", "points": [{"values", "dir",
  "strategies": {name: final_accuracy}, "network": {name: {utilization, ...}}}],
  "worst_case": {...}}`` where ``worst_case`` gives, for every value of the last swept
  parameter and every strategy, the lowest mean final accuracy over the other
  parameters (e.g. the worst attack at each Byzantine fraction) and the point where
  it happened (``argmin``);
* ``sweep_accuracy.png``: that worst case against the last swept parameter;
  ``sweep_utilization.png``: utilization and key demand met against it (lowest over
  the other parameters), where some strategy drew its keys from the network.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qceas.engine import make_engine
from qceas.experiments import results
from qceas.experiments.config import ConfigError, ExperimentConfig, dump_yaml, sweep_label
from qceas.experiments.interrupted import Interrupted
from qceas.experiments.runner import run_experiment
from qceas.reproducibility import deterministic, environment
from qceas.training.key_supply import check_ready_times


@dataclass(frozen=True)
class SweepOutcome:
    summary: dict[str, Any]
    out: Path
    reused: int
    computed: int


@deterministic
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
    points = config.sweep_points()
    check_points(points, seeds)  # a point that cannot run fails now, not after hours
    engine = make_engine(config.engine)  # one engine (one Ray) for every point
    try:
        try:
            (out / "points").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"--out {out}: cannot create the directory ({exc.strerror})"
            ) from None
        results.write_atomic(out / "sweep_config.yaml", dump_yaml(config))
        parameters = list(config.sweep)
        done: list[dict[str, Any]] = []
        reused = computed = 0
        for index, (values, point) in enumerate(points):
            folder = out / "points" / f"{index:02d}"
            try:
                outcome = _at_point(
                    values,
                    run_experiment,
                    point,
                    folder,
                    seeds=seeds,
                    progress=progress,
                    plot=plot,
                    engine=engine,
                )
            except KeyboardInterrupt as exc:
                detail = f": {exc}" if isinstance(exc, Interrupted) else ""
                raise Interrupted(
                    f"sweep point {index + 1} of {len(points)} ({sweep_label(values)}), "
                    f"{index} point(s) finished before it{detail}"
                ) from None
            reused += outcome.reused
            computed += outcome.computed
            done.append({"values": values, "dir": str(folder.relative_to(out)), **outcome.summary})
            summary = _write(out, config, parameters, done, plot)
    finally:
        engine.close()
    return SweepOutcome(summary=summary, out=out, reused=reused, computed=computed)


def check_points(
    points: Sequence[tuple[dict[str, Any], ExperimentConfig]],
    seeds: Sequence[int] | None = None,
) -> None:
    """Raise a ConfigError naming the point where one of ``points``
    (``ExperimentConfig.sweep_points``) cannot run: the checks that need the data,
    e.g. compute-timed demands that outlast their round."""
    for values, point in points:
        own = [point.seed + k for k in range(point.seeds)] if seeds is None else list(seeds)
        _at_point(values, check_ready_times, point, own)


def _at_point(values: dict[str, Any], fn: Any, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, with a ConfigError prefixed by the point it came from."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        raise ConfigError(f"sweep point {sweep_label(values)}: {exc}") from None


def _lower(old: float | None, new: float) -> float:
    """The lower of two figures where NaN means "undefined" (kept only if all are)."""
    if old is None or math.isnan(old):
        return new
    return old if math.isnan(new) else min(old, new)


def _write(
    out: Path,
    config: ExperimentConfig,
    parameters: list[str],
    done: list[dict[str, Any]],
    plot: bool,
) -> dict[str, Any]:
    last = parameters[-1]
    worst: dict[str, dict[str, float]] = {}
    argmin: dict[str, dict[str, dict[str, Any]]] = {}
    networks: dict[str, dict[str, dict[str, float]]] = {}
    for point in done:
        x = value_label(point["values"][last])
        for strategy, s in point["strategies"].items():
            acc = s["final_accuracy"]["mean"]
            row = worst.setdefault(strategy, {})
            if x not in row or _lower(row[x], acc) != row[x]:
                row[x] = acc
                argmin.setdefault(strategy, {})[x] = point["values"]
            if "utilization" in s:
                net = networks.setdefault(strategy, {}).setdefault(x, {})
                for metric, value in _network(s).items():
                    net[metric] = _lower(net.get(metric), value)
    summary = {
        "scenario": config.name,
        "parameters": parameters,
        "points": [
            {
                "values": p["values"],
                "dir": p["dir"],
                "strategies": {n: s["final_accuracy"] for n, s in p["strategies"].items()},
                "network": {
                    n: _network(s) for n, s in p["strategies"].items() if "utilization" in s
                },
            }
            for p in done
        ],
        "worst_case": {
            "over": parameters[:-1],
            "by": last,
            "final_accuracy": worst,
            "argmin": argmin,
            "network": networks,
        },
        "environment": environment(),
    }
    results.write_atomic(out / "sweep_summary.json", _json(summary))
    columns, rows = _rows(parameters, done)
    results.write_csv(out / "sweep.csv", columns, rows)
    results.write_parquet(out / "sweep.parquet", columns, rows)
    if plot:
        from qceas.experiments.plots import plot_sweep, plot_sweep_network

        plot_sweep(worst, last, parameters[:-1], out / "sweep_accuracy.png")
        if networks:
            plot_sweep_network(networks, last, parameters[:-1], out / "sweep_utilization.png")
    return summary


def _network(strategy: dict[str, Any]) -> dict[str, float]:
    """The network figures of a strategy's summary entry (keys from a simulated network)."""
    return {
        "utilization": float(strategy["utilization"]["mean"]),
        "mean_consumed_fidelity": float(strategy["mean_consumed_fidelity"]),
        "demand_met": float(strategy["demand_met"]["mean"]),
    }


def _json(body: Any) -> str:
    """Strict JSON: undefined figures (NaN) as null."""
    return json.dumps(results.nan_to_null(body), indent=2, allow_nan=False) + "\n"


def value_label(value: Any) -> str:
    """A swept value as one short cell: strings as they are, a partial section as
    ``attack=ipm params={"epsilon": 10}``, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(
            f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in value.items()
        )
    return json.dumps(value)


SWEEP_COLUMNS = (
    "strategy",
    "final_accuracy",
    "final_ci_low",
    "final_ci_high",
    "tail_accuracy",
    "rejected_updates",
    "refused_no_key",
    "utilization",
    "mean_consumed_fidelity",
    "demand_met",
    "gate_fidelity",
    "gate_shots_met",
    "hardware_accuracy",
)


def _bounds(stat: dict[str, Any]) -> tuple[float, float]:
    """The interval of a summary entry as (low, high); NaN (an empty cell) where there
    is none (``ci95`` null: one seed)."""
    ci = stat.get("ci95") or [None, None]
    low, high = (float("nan") if v is None else float(v) for v in ci)
    return low, high


def _rows(
    parameters: list[str], done: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and rows of the sweep table; network columns are empty (NaN) where a
    strategy's keys did not come from a simulated network."""
    nan = float("nan")
    rows = []
    for point in done:
        for strategy, s in point["strategies"].items():
            final = s["final_accuracy"]
            low, high = _bounds(final)
            net = _network(s) if "utilization" in s else {}
            rows.append(
                {
                    **{p: value_label(point["values"][p]) for p in parameters},
                    "strategy": strategy,
                    "final_accuracy": final["mean"],
                    "final_ci_low": low,
                    "final_ci_high": high,
                    "tail_accuracy": s["tail_accuracy"]["mean"],
                    "rejected_updates": s["rejected_updates"],
                    "refused_no_key": s["refused_no_key"],
                    "utilization": net.get("utilization", nan),
                    "mean_consumed_fidelity": net.get("mean_consumed_fidelity", nan),
                    "demand_met": net.get("demand_met", nan),
                    "gate_fidelity": s.get("gate_fidelity", {}).get("mean", nan),
                    "gate_shots_met": s.get("gate_shots_met", {}).get("mean", nan),
                    "hardware_accuracy": s.get("final_hardware_accuracy", {}).get("mean", nan),
                }
            )
    return [*parameters, *SWEEP_COLUMNS], rows
