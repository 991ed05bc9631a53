"""``qceas network``: the network and its schedulers alone, every policy, over seeds,
plus a sweep over a common memory coherence time.

Every (policy, seed) run and every (policy, seed, coherence time) sweep point is one
*unit*, saved under ``DIR/network_runs/`` as soon as it finishes, with the fingerprint
of the config sections that change its numbers; rerunning the command reuses every
finished unit, so an interrupted run resumes and a finished one is rebuilt from its
files. Outputs:

* ``network_summary.json``: ``{"scenario", "seeds", "fingerprint", "network",
  "policies": {name: {metric: mean over seeds, ..., "by_hops": {hops: {metric: mean}},
  "per_seed": {...}, "ci95": {...}, "ci_method": {...}, "ci_note": {...}}},
  "sweep": {"coherence_time_s": [...], "policies": {name: {metric: [...]}},
  "by_hops": {name: {hops: {metric: [...]}}}}}``, where
  ``ci95`` holds the 95% CI over seeds of each headline metric
  (``qceas.experiments.intervals``; null with one seed, ``ci_note`` then saying
  ``1 seed: no CI``) and ``ci_method`` the method that made it;
* ``network_policies.csv``: one row per (policy, seed);
* ``ledgers/<policy>_seed<k>.npz``: every pair of the main runs (columns of
  :class:`~qceas.network.ledger.Ledger`);
* ``utilization_vs_coherence.png``: utilization and demand met against the coherence
  time, one line per policy.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qceas.experiments import intervals, network_units, results
from qceas.experiments.chain_run import chain_table, run_chain
from qceas.experiments.config import LATER_FIELDS, ConfigError, ExperimentConfig
from qceas.experiments.interrupted import Interrupted
from qceas.network import Context, Network, Simulation, summarize
from qceas.network.config import CHAIN
from qceas.network.setup import (
    context_of,
    demand_of,
    network_of,
    simulation_rng,
    with_coherence_time,
)
from qceas.reproducibility import deterministic
from qceas.scheduling import SCHEDULERS
from qceas.training.key_supply import ready_times_of

#: Metrics averaged over seeds in the summary and plotted in the sweep.
HEADLINE = ("utilization", "mean_consumed_fidelity", "demand_met", "consumed_fraction")
_SWEPT = ("utilization", "demand_met", "mean_consumed_fidelity")
#: Metrics of each route length (``qceas.network.metrics.by_hops``), means over seeds.
BY_HOPS_METRICS = (
    "qpus",
    "utilization",
    "mean_consumed_fidelity",
    "above_threshold",
    "demand_met",
)


@dataclass(frozen=True)
class NetworkOutcome:
    summary: dict[str, Any]
    out: Path
    reused: int
    computed: int


#: Version of how a unit's numbers are computed: 2 since every kernel runs with one
#: BLAS thread (``qceas.reproducibility``); 3 since ``oblivious`` and ``greedy`` keep
#: their links' attempt draws (slot skipping); units of earlier versions are not reused.
NETWORK_EVALUATION = 3


def network_fingerprint(config: ExperimentConfig, evaluation: int = NETWORK_EVALUATION) -> str:
    """Hash of what changes a unit's numbers: node count, network and schedule
    sections (without the policy list and the sweep points, which only add units),
    and the evaluation version (from 2 on)."""
    body = config.to_dict()
    schedule = dict(body["schedule"])
    schedule.pop("policies")
    schedule.pop("coherence_sweep_s")
    network = dict(body["network"])
    # fields at their defaults are left out, so directories written before them resume
    for name, default in LATER_FIELDS["network"].items():
        if network.get(name, default) == default:
            network.pop(name, None)
    if schedule.get("cutoff_slots") is None:
        schedule.pop("cutoff_slots", None)
    blob = {"nodes": body["nodes"]["count"], "network": network, "schedule": schedule}
    if schedule["ready"] == "uniform":
        schedule.pop("ready")  # directories written before compute times still resume
    else:  # the compute times depend on the circuit, the shards and the shots
        blob |= {key: body[key] for key in ("compute", "model", "data")}
        for name, default in LATER_FIELDS["model"].items():  # as for the network
            if blob["model"].get(name, default) == default:
                blob["model"].pop(name, None)
        blob["shots"] = body["noise"]["shots"]
        blob["batch_size"] = body["training"]["batch_size"]
    if evaluation >= 2:
        blob["evaluation"] = evaluation
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def describe(network: Network, slot_s: float) -> dict[str, Any]:
    """A plain-data description of a network for the summary."""
    return {
        "qpu_nodes": network.n_nodes,
        "links": network.n_links,
        "hops": {str(h): int(c) for h, c in enumerate(np.bincount(network.hops)) if c},
        "length_km": _span(network.length_km),
        "success_probability": _span(network.success_probability),
        "attempt_period_s": _span(network.attempt_period_s),
        "initial_fidelity": _span(network.initial_fidelity),
        "coherence_time_s": _span(network.coherence_time_s[:-1]),
        "aggregator_coherence_time_s": float(network.coherence_time_s[-1]),
        "memory_slots": int(network.memory_slots[0]),
        "aggregator_memory_slots": int(network.memory_slots[-1]),
        "slot_s": slot_s,
    }


def _span(values: np.ndarray) -> dict[str, float]:
    return {"min": float(values.min()), "mean": float(values.mean()), "max": float(values.max())}


@deterministic
def run_network(
    config: ExperimentConfig,
    out: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    sweep: bool = True,
    plot: bool = True,
    progress: Callable[[str], None] | None = None,
) -> NetworkOutcome:
    """Simulate every policy of ``config.schedule`` on every seed and write the results.

    Args:
        config: the experiment (``nodes.count``, ``network``, ``schedule``).
        out: output directory (created if missing).
        seeds: default ``config.seed + k`` for k < ``config.seeds``.
        sweep: also run ``schedule.coherence_sweep_s``.
        plot: write ``utilization_vs_coherence.png``.
        progress: called with one line per finished unit.
    """
    out = Path(out)
    seeds = list(seeds) if seeds is not None else [config.seed + k for k in range(config.seeds)]
    fingerprint = network_fingerprint(config)
    legacy = {network_fingerprint(config, v) for v in range(1, NETWORK_EVALUATION)}
    network_units.prepare_directory(out, config, fingerprint, legacy)
    if config.network.topology == CHAIN:
        return NetworkOutcome(*run_chain(config, out, seeds, fingerprint, progress))
    policies = list(config.schedule.policies)
    sweep_points = [float(t) for t in config.schedule.coherence_sweep_s] if sweep else []
    started = time.perf_counter()
    counts = {"reused": 0, "computed": 0}
    main: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    demanded: list[int] = []  # pairs demanded per seed: the trials behind demand_met
    swept: dict[str, dict[float, list[dict[str, Any]]]] = {p: {} for p in policies}
    described: dict[str, Any] = {}

    try:
        for seed in seeds:
            try:
                network = network_of(config.network, config.nodes.count, seed)
                demand = demand_of(
                    config.schedule,
                    config.nodes.count,
                    seed,
                    ready_s=ready_times_of(config, seed),
                )
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            base_context = context_of(config.schedule, network, demand)
            demanded.append(_demanded(base_context))
            if not described:
                described = describe(network, base_context.slot_s)
            for policy in policies:
                path = out / "network_runs" / f"{policy}_seed{seed}.json"
                main[policy].append(
                    network_units.unit(
                        path,
                        fingerprint,
                        counts,
                        progress,
                        f"{policy} seed {seed}",
                        functools.partial(_simulate, config, base_context, policy, seed, out),
                        _line,
                    )
                )
            for t in sweep_points:
                context = context_of(config.schedule, with_coherence_time(network, t), demand)
                for policy in policies:
                    path = out / "network_runs" / f"{policy}_seed{seed}_T{t:.6g}.json"
                    label = f"{policy} seed {seed} T={t:g} s"
                    swept[policy].setdefault(t, []).append(
                        network_units.unit(
                            path,
                            fingerprint,
                            counts,
                            progress,
                            label,
                            functools.partial(_simulate, config, context, policy, seed, None),
                            _line,
                        )
                    )
    except KeyboardInterrupt:
        raise Interrupted(
            f"{counts['computed']} unit(s) computed now and {counts['reused']} reused, every "
            f"finished one saved in {out / 'network_runs'}; rerun the same command to continue"
        ) from None

    sweep_summary: dict[str, Any] = {
        "coherence_time_s": sweep_points,
        "policies": {
            p: {
                metric: [_mean([u[metric] for u in swept[p][t]]) for t in sweep_points]
                for metric in _SWEPT
            }
            for p in policies
        },
        "by_hops": {p: _swept_by_hops(swept[p], sweep_points) for p in policies},
    }
    summary = {
        "scenario": config.name,
        "seeds": seeds,
        "fingerprint": fingerprint,
        "network": described,
        "demand": {
            "pairs_per_round": config.schedule.pairs_per_round,
            "round_period_s": config.schedule.round_period_s,
            "window_s": config.schedule.window_s,
            "rounds": config.schedule.rounds,
        },
        "policies": {p: _aggregate(main[p], seeds, demanded) for p in policies},
        "sweep": sweep_summary,
    }
    wall_s = time.perf_counter() - started
    network_units.write_summary(out, summary, counts, wall_s, _table(main, seeds))
    if plot and sweep_points:
        from qceas.experiments.plots import plot_utilization_sweep

        plot_utilization_sweep(sweep_summary, out / "utilization_vs_coherence.png")
    return NetworkOutcome(summary, out, counts["reused"], counts["computed"])


def _line(metrics: dict[str, Any]) -> str:
    """A main run's progress line."""
    f = metrics["mean_consumed_fidelity"]
    return (
        f"utilization {metrics['utilization'] or 0.0:.3f}, demand met "
        f"{metrics['demand_met']:.3f}, F {'n/a' if f is None else f'{f:.4f}'} "
        f"({metrics['wall_s']:.1f} s)"
    )


def _simulate(
    config: ExperimentConfig, context: Context, policy: str, seed: int, out: Path | None
) -> dict[str, Any]:
    scheduler = SCHEDULERS.get(policy, **dict(config.schedule.params.get(policy, {})))
    try:  # the Simulation prepares the scheduler (once)
        simulation = Simulation(context, scheduler, rng=simulation_rng(seed))
    except ValueError as exc:  # e.g. a CEAS class too large for ceas.max_states
        raise ConfigError(f"schedule.params.{policy}: {exc}") from None
    result = simulation.run()
    if out is not None:
        folder = out / "ledgers"
        folder.mkdir(exist_ok=True)
        buffer = io.BytesIO()
        columns: dict[str, Any] = {f"link_{k}": v for k, v in result.ledger.links.items()}
        columns |= {f"e2e_{k}": v for k, v in result.ledger.e2e.items()}
        columns["link_final_fate"] = result.ledger.link_fates()
        np.savez_compressed(buffer, **columns)
        results.write_atomic_bytes(folder / f"{policy}_seed{seed}.npz", buffer.getvalue())
    return summarize(result)


def _mean(values: Sequence[float | None]) -> float | None:
    """Mean of the finite values (None, i.e. undefined, where there are none)."""
    finite = [v for v in values if isinstance(v, int | float) and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _swept_by_hops(
    units: dict[float, list[dict[str, Any]]], points: Sequence[float]
) -> dict[str, dict[str, list[float | None]]]:
    """Per route length, each ``BY_HOPS_METRICS`` entry over the sweep points (mean
    over the seeds that have that length; units saved before ``by_hops`` add none)."""
    lengths = sorted({h for t in points for u in units[t] for h in u.get("by_hops", {})}, key=int)
    return {
        h: {
            m: [
                _mean([u["by_hops"][h][m] for u in units[t] if h in u.get("by_hops", {})])
                for t in points
            ]
            for m in BY_HOPS_METRICS
            if m != "qpus"
        }
        for h in lengths
    }


def _demanded(context: Context) -> int:
    """End-to-end pairs demanded in a run: R pairs per QPU per round (the denominator
    of ``demand_met`` in ``qceas.network.metrics.summarize``)."""
    return int(context.demand.pairs * context.demand.rounds * context.network.n_nodes)


def _aggregate(
    units: list[dict[str, Any]], seeds: Sequence[int], demanded: Sequence[int]
) -> dict[str, Any]:
    """Mean over seeds of every numeric metric, with per-seed values and a 95% CI for
    the headline metrics (``ci95``: [lo, hi] or None; ``ci_method``; ``ci_note``
    where a metric has a note, e.g. ``1 seed: no CI``)."""
    out: dict[str, Any] = {}
    for key, value in units[0].items():
        if isinstance(value, bool):
            out[key] = all(u[key] for u in units)
        elif value is None or isinstance(value, int | float):
            out[key] = _mean([u[key] for u in units])
        elif key == "waste":
            out[key] = {c: _mean([u[key][c] for u in units]) for c in value}
        elif key == "key_bits_per_node":
            out[key] = {s: _mean([u[key][s] for u in units]) for s in value}
        elif key == "by_hops":  # seeds may differ in their route lengths
            lengths = sorted({h for u in units for h in u.get(key, {})}, key=int)
            out[key] = {
                h: {
                    m: _mean([u[key][h][m] for u in units if h in u.get(key, {})])
                    for m in BY_HOPS_METRICS
                }
                for h in lengths
            }
    out["per_seed"] = {
        m: {str(s): u[m] for s, u in zip(seeds, units, strict=True)} for m in HEADLINE
    }
    found = {m: _ci(m, units, demanded) for m in HEADLINE}
    out["ci95"] = {m: None if c.ci95 is None else list(c.ci95) for m, c in found.items()}
    out["ci_method"] = {m: c.method for m, c in found.items()}
    out["ci_note"] = {m: c.note for m, c in found.items() if c.note is not None}
    return out


def _ci(
    metric: str, units: Sequence[dict[str, Any]], demanded: Sequence[int]
) -> intervals.Interval:
    """The 95% interval of a headline metric over seeds (``qceas.experiments.intervals``):
    the shares of heralded pairs (utilization, consumed fraction) and of pairs demanded
    (demand met) get Wilson's interval with those counts as the trials, the mean
    consumed fidelity a t-interval within [0, 1]."""
    values = [u[metric] for u in units]
    if metric == "mean_consumed_fidelity":
        return intervals.interval(values, intervals.UNIT)
    if metric == "demand_met":
        trials = sum(demanded)
    else:  # undefined (None) where nothing was heralded, so those seeds add 0 trials
        trials = sum(int(u.get("heralded_pairs") or 0) for u in units)
    return intervals.interval(values, intervals.PROPORTION, trials if trials > 0 else None)


def _table(main: dict[str, list[dict[str, Any]]], seeds: Sequence[int]) -> str:
    columns = [
        "utilization",
        "consumed_fraction",
        "mean_consumed_fidelity",
        "demand_met",
        "heralded_pairs",
        "consumed_pairs",
        "aborted_pairs",
        "key_bits_total",
        "wall_s",
    ]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["policy", "seed", *columns])
    for policy, units in main.items():
        for seed, unit in zip(seeds, units, strict=True):
            writer.writerow([policy, seed, *(unit[c] for c in columns)])
    return buffer.getvalue()


def network_table(summary: dict[str, Any]) -> str:
    """A fixed-width table of the headline metrics per policy (mean over seeds, and the
    95% CI, or ``1 seed: no CI``, of utilization and demand met); a chain's summary
    gets :func:`~qceas.experiments.chain_run.chain_table`."""
    if summary.get("model") == "chain":
        return chain_table(summary)

    def show(value: float | None, digits: int) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    def ci(m: dict[str, Any], metric: str) -> str:
        stat = {"ci95": m["ci95"].get(metric), "note": m.get("ci_note", {}).get(metric)}
        return intervals.ci_text(stat)

    rows = [
        (
            "policy",
            "utilization",
            "95% CI",
            "F consumed",
            "demand met",
            "95% CI",
            "heralded",
            "key bits",
        )
    ]
    for name, m in summary["policies"].items():
        rows.append(
            (
                name,
                show(m["utilization"], 3),
                ci(m, "utilization"),
                show(m["mean_consumed_fidelity"], 4),
                show(m["demand_met"], 3),
                ci(m, "demand_met"),
                show(m["heralded_pairs"], 0),
                show(m["key_bits_total"], 1),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)
