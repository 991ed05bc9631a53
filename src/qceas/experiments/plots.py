"""Figures of a run directory (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from qceas.experiments import intervals
from qceas.training.trainer import RoundRecord


def curves_of(
    runs: Mapping[tuple[str, int], Sequence[RoundRecord]],
    strategy: str,
    seeds: Sequence[int],
    metric: str,
) -> np.ndarray:
    """One row per seed, one column per round, of a record field."""
    return np.array([[getattr(r, metric) for r in runs[(strategy, s)]] for s in seeds], dtype=float)


def metric_band(
    runs: Mapping[tuple[str, int], Sequence[RoundRecord]],
    strategy: str,
    seeds: Sequence[int],
    metric: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% band over seeds per round, by the interval of the metric's quantity
    (``qceas.experiments.intervals``: Wilson for accuracies, t within the range for
    losses and spreads), so the band never leaves the metric's range. The band is NaN
    (not drawn) where a round has fewer than two values: one seed, or round 0, which
    has no gradient."""
    return intervals.band(curves_of(runs, strategy, seeds, metric), intervals.quantity_of(metric))


def plot_metric(
    runs: Mapping[tuple[str, int], Sequence[RoundRecord]],
    strategies: Sequence[str],
    seeds: Sequence[int],
    metric: str,
    ylabel: str,
    path: Path,
    *,
    title: str,
    log: bool = False,
) -> None:
    """One line per strategy (mean over seeds) with its 95% band, against the round."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for strategy in strategies:
        mean, lo, hi = metric_band(runs, strategy, seeds, metric)
        rounds = np.arange(mean.size)
        (line,) = ax.plot(rounds, mean, label=strategy)
        if np.isfinite(lo).any():  # one seed: no interval, no band
            ax.fill_between(rounds, lo, hi, color=line.get_color(), alpha=0.2, linewidth=0)
    ax.set_xlabel("round")
    ax.set_ylabel(ylabel)
    positive = [
        v
        for strategy in strategies
        for s in seeds
        for v in (getattr(r, metric) for r in runs[(strategy, s)])
        if v > 0
    ]
    if log and positive:  # e.g. one node: the spread is 0 and a log axis has nothing to show
        ax.set_yscale("log")
    suffix = f" (mean and 95% CI over {len(seeds)} seeds)" if len(seeds) > 1 else ""
    ax.set_title(title + suffix, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_plots(
    out: Path,
    runs: Mapping[tuple[str, int], Sequence[RoundRecord]],
    strategies: Sequence[str],
    seeds: Sequence[int],
    scenario: str,
) -> list[Path]:
    """accuracy.png and grad_variance.png in ``out``; returns their paths."""
    acc = out / "accuracy.png"
    plot_metric(
        runs,
        strategies,
        seeds,
        "test_accuracy",
        "test accuracy",
        acc,
        title=f"{scenario}: held-out accuracy",
    )
    var = out / "grad_variance.png"
    plot_metric(
        runs,
        strategies,
        seeds,
        "grad_variance",
        "mean ‖g_k − ĝ‖²",
        var,
        title=f"{scenario}: node-gradient spread",
        log=True,
    )
    return [acc, var]


def plot_utilization_sweep(sweep: Mapping[str, object], path: Path) -> None:
    """Utilization and demand met against a common memory coherence time, per policy.

    ``sweep`` is the ``"sweep"`` entry of ``network_summary.json``.
    """
    times = np.asarray(sweep["coherence_time_s"], dtype=float)
    policies = sweep["policies"]
    assert isinstance(policies, Mapping)
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=120, sharex=True)
    for name, metrics in policies.items():
        for ax, metric in zip(axes, ("utilization", "demand_met"), strict=True):
            ax.plot(times, np.asarray(metrics[metric], dtype=float), marker="o", label=name)
    for ax, label in zip(axes, ("Bell-pair utilization", "demand met on time"), strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("memory coherence time T (s), every node")
        ax.set_ylabel(label)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="best")
    fig.suptitle("Schedulers against memory coherence time")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sweep(
    worst: Mapping[str, Mapping[str, float]], by: str, over: Sequence[str], path: Path
) -> None:
    """Final accuracy (worst case over the ``over`` parameters) against ``by``."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for strategy, row in worst.items():
        labels = list(row)
        try:
            xs = [float(x) for x in labels]
        except ValueError:
            xs = list(range(len(labels)))
            ax.set_xticks(xs, labels)
        ax.plot(xs, [row[x] for x in labels], marker="o", label=strategy)
    ax.set_xlabel(by)
    worst_of = f" (worst case over {', '.join(over)})" if over else ""
    ax.set_ylabel("final test accuracy" + worst_of)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_sweep_network(
    networks: Mapping[str, Mapping[str, Mapping[str, float]]],
    by: str,
    over: Sequence[str],
    path: Path,
) -> None:
    """Bell-pair utilization and key demand met (lowest over the ``over`` parameters)
    against ``by``, per strategy that drew its keys from the simulated network."""
    fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=120, sharex=True)
    numeric = True
    for strategy, row in networks.items():
        labels = list(row)
        try:
            xs = [float(x) for x in labels]
        except ValueError:
            numeric, xs = False, list(range(len(labels)))
            for ax in axes:
                ax.set_xticks(xs, labels)
        for ax, metric in zip(axes, ("utilization", "demand_met"), strict=True):
            ax.plot(xs, [row[x][metric] for x in labels], marker="o", label=strategy)
        if numeric and min(xs) > 0 and max(xs) >= 10 * min(xs):
            for ax in axes:
                ax.set_xscale("log")
    worst_of = f" (lowest over {', '.join(over)})" if over else ""
    for ax, label in zip(axes, ("Bell-pair utilization", "key demand met"), strict=True):
        ax.set_xlabel(by)
        ax.set_ylabel(label + worst_of)
        ax.set_ylim(-0.02, 1.02)
        ax.grid(True, alpha=0.3)
    axes[0].legend(loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_consensus(points: Sequence[Mapping[str, object]], out: Path) -> None:
    """``consensus_vs_fidelity.png`` and ``consensus_vs_tuples.png``: agreement and
    abort rates (95% intervals as bars) against F and against M, one line per
    (players, tolerance, rule, attack) — the other fields at their first value."""
    for axis, other, name in (
        ("fidelity", "tuples", "consensus_vs_fidelity.png"),
        ("tuples", "fidelity", "consensus_vs_tuples.png"),
    ):
        xs = sorted({float(p[axis]) for p in points})  # type: ignore[arg-type]
        if len(xs) < 2:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(10.0, 4.0), dpi=120, sharex=True)
        lines: dict[tuple[object, ...], list[Mapping[str, object]]] = {}
        label: tuple[object, ...]
        for p in points:
            label = (p["players"], p["tolerance"], p["rule"], p["attack"], p[other])
            lines.setdefault(label, []).append(p)
        for label, members in lines.items():
            members = sorted(members, key=lambda p: float(p[axis]))  # type: ignore[arg-type]
            x = [float(p[axis]) for p in members]  # type: ignore[arg-type]
            for ax, metric in zip(axes, ("agreement", "abort"), strict=True):
                rate = [p[metric] for p in members]
                mean = np.array([r["mean"] for r in rate])  # type: ignore[index]
                lo = np.array([r["ci95"][0] for r in rate])  # type: ignore[index]
                hi = np.array([r["ci95"][1] for r in rate])  # type: ignore[index]
                ax.errorbar(
                    x,
                    mean,
                    yerr=[mean - lo, hi - mean],
                    marker="o",
                    capsize=2,
                    label=f"n={label[0]}, δ={label[1]}, {label[2]}, {label[3]}, {other}={label[4]}",
                )
        for ax, metric in zip(axes, ("agreement", "abort"), strict=True):
            ax.set_xlabel("pair fidelity F (Werner)" if axis == "fidelity" else "tuples M")
            ax.set_ylabel(f"{metric} rate")
            ax.set_ylim(-0.02, 1.02)
            ax.grid(True, alpha=0.3)
        axes[0].legend(loc="best", fontsize=6)
        fig.suptitle(f"EPR-pair QDBA against {axis}")
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
