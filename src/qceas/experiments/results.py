"""Result files of a run directory: per-run records, tidy tables, summary statistics.

Layout of ``DIR`` after ``qceas run``:

* ``config.yaml`` — the resolved config (and its fingerprint, which guards resumption);
* ``runs/<strategy>__seed<k>.json`` — one file per finished (strategy, seed) run;
* ``metrics.csv`` — one row per round × strategy × seed;
* ``node_metrics.csv`` — one row per round × strategy × seed × node (QFI scalar,
  aggregation weight, node-measured loss);
* ``metrics.parquet``, ``node_metrics.parquet`` — the same tables, where pyarrow is
  installed;
* ``summary.json`` — per strategy: final test accuracy (mean, 95% CI, per seed), and
  paired differences between strategies; every interval entry names its method
  (``ci_method``) and is null with one seed (``note``: ``1 seed: no CI``), see
  ``qceas.experiments.intervals``;
* ``accuracy.png``, ``grad_variance.png`` — see ``plots``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from qceas.experiments import intervals
from qceas.training.trainer import RoundRecord

#: The columns of a led round (``leader.mode``; ``qceas.training.leadership``).
LEADER_COLUMNS = (
    "leader",
    "leader_byzantine",
    "consensus_abort",
    "consensus_pairs",
    "consensus_messages",
    "consensus_fidelity",
    "rejected_proposals",
    "stale_nodes",
    "poisoned_nodes",
    "forked",
    "honest_models",
)
METRIC_COLUMNS = (
    "strategy",
    "seed",
    "round",
    "train_loss",
    "train_accuracy",
    "test_loss",
    "test_accuracy",
    "grad_variance",
    "grad_norm",
    "qfi_mean",
    "qfi_min",
    "qfi_max",
    "weight_min",
    "weight_max",
    "byzantine_weight",
    "rejected_updates",
    "refused_no_key",
    "tampered",
    "aborted_keys",
    "skipped",
    "key_pairs",
    "key_fidelity",
    "gate_fidelity",
    "gate_shots_met",
    "hardware_test_loss",
    "hardware_test_accuracy",
    "crashed",
    "late",
    "link_outage",
    "restarted",
    "rounds_lost",
    *LEADER_COLUMNS,
)
NODE_COLUMNS = ("strategy", "seed", "round", "node", "qfi", "weight", "loss")
#: Rounds averaged for the "tail" accuracy, which is steadier than the last round alone.
TAIL_ROUNDS = 5


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers never see a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Binary form of :func:`write_atomic`."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def run_file(out: Path, strategy: str, seed: int) -> Path:
    return out / "runs" / f"{strategy}__seed{seed}.json"


def save_run(
    out: Path,
    strategy: str,
    seed: int,
    fingerprint: str,
    records: Sequence[RoundRecord],
    network: Mapping[str, Any] | None = None,
    test_samples: int | None = None,
) -> None:
    """Save a finished run; ``network`` holds the key-supply network's metrics
    (``qceas.network.summarize``) when the run drew its keys from one, and
    ``test_samples`` the size of the held-out split its accuracies are shares of."""
    path = run_file(out, strategy, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {
        "strategy": strategy,
        "seed": seed,
        "fingerprint": fingerprint,
        "records": [asdict(r) for r in records],
        "network": None if network is None else dict(network),
        "test_samples": test_samples,
    }
    write_atomic(path, json.dumps(body, allow_nan=True))


def load_run_network(out: Path, strategy: str, seed: int) -> dict[str, Any] | None:
    """The network metrics saved with a finished run (None if it used none)."""
    network = _run_field(out, strategy, seed, "network")
    return network if isinstance(network, dict) else None


def load_run_test_samples(out: Path, strategy: str, seed: int) -> int | None:
    """The held-out split size saved with a finished run (None if not recorded)."""
    size = _run_field(out, strategy, seed, "test_samples")
    return size if isinstance(size, int) and not isinstance(size, bool) else None


def _run_field(out: Path, strategy: str, seed: int, key: str) -> Any:
    path = run_file(out, strategy, seed)
    return json.loads(path.read_text()).get(key) if path.is_file() else None


def load_run(out: Path, strategy: str, seed: int, fingerprint: str) -> list[RoundRecord] | None:
    """The records of a finished run, or None if there is none for this config."""
    path = run_file(out, strategy, seed)
    if not path.is_file():
        return None
    body = json.loads(path.read_text())
    if body.get("fingerprint") != fingerprint:
        return None
    return [
        RoundRecord(**{**r, **{k: tuple(r[k]) for k in ("node_qfi", "node_weights", "node_loss")}})
        for r in body["records"]
    ]


def consensus_summary(recs: Sequence[Sequence[RoundRecord]]) -> dict[str, Any]:
    """The ``consensus`` entry of a strategy whose rounds had a leader
    (``qceas.training.leadership``): per seed over its rounds, the abort rate, the
    pairs and classical messages per round spent on agreement, the share of rounds
    led by a Byzantine leader, of forked rounds (honest nodes applied different
    proposals) and of diverged rounds (honest nodes hold more than one model after it,
    stale ones included), each with a 95% CI over seeds; and totals over seeds and
    rounds of rejected proposals, stale and poisoned node-rounds."""
    rounds = [list(r[1:]) for r in recs]
    trials = sum(len(r) for r in rounds) or None

    def share(name: str) -> dict[str, Any]:
        values = [float(np.mean([bool(getattr(x, name)) for x in r])) for r in rounds]
        return mean_ci95(values, intervals.PROPORTION, trials)

    def per_round(name: str) -> dict[str, Any]:
        return mean_ci95(
            [float(np.mean([getattr(x, name) for x in r])) for r in rounds], intervals.NONNEGATIVE
        )

    diverged = [float(np.mean([x.honest_models >= 2 for x in r])) for r in rounds]
    return {
        "abort_rate": share("consensus_abort"),
        "byzantine_led": share("leader_byzantine"),
        "fork_rate": share("forked"),
        "diverged_rate": mean_ci95(diverged, intervals.PROPORTION, trials),
        "pairs_per_round": per_round("consensus_pairs"),
        "messages_per_round": per_round("consensus_messages"),
        "pair_fidelity": mean_ci95(
            [_nanmean([x.consensus_fidelity for x in r]) for r in rounds], intervals.UNIT
        ),
        "rejected_proposals": int(sum(x.rejected_proposals for r in rounds for x in r)),
        "stale_node_rounds": int(sum(x.stale_nodes for r in rounds for x in r)),
        "poisoned_node_rounds": int(sum(x.poisoned_nodes for r in rounds for x in r)),
    }


def _plain(value: Any) -> Any:
    """A record field as a table cell (booleans as 0/1)."""
    return int(value) if isinstance(value, bool) else value


def _stat(values: Sequence[float], fn: Any) -> float:
    return float(fn(values)) if len(values) else float("nan")


def metric_rows(strategy: str, seed: int, records: Iterable[RoundRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        rows.append(
            {
                "strategy": strategy,
                "seed": seed,
                "round": r.round,
                "train_loss": r.train_loss,
                "train_accuracy": r.train_accuracy,
                "test_loss": r.test_loss,
                "test_accuracy": r.test_accuracy,
                "grad_variance": r.grad_variance,
                "grad_norm": r.grad_norm,
                "qfi_mean": _stat(r.node_qfi, np.mean),
                "qfi_min": _stat(r.node_qfi, np.min),
                "qfi_max": _stat(r.node_qfi, np.max),
                "weight_min": _stat(r.node_weights, np.min),
                "weight_max": _stat(r.node_weights, np.max),
                "byzantine_weight": r.byzantine_weight,
                "rejected_updates": r.rejected_updates,
                "refused_no_key": r.refused_no_key,
                "tampered": r.tampered,
                "aborted_keys": r.aborted_keys,
                "skipped": int(r.skipped),
                "key_pairs": r.key_pairs,
                "key_fidelity": r.key_fidelity,
                "gate_fidelity": r.gate_fidelity,
                "gate_shots_met": r.gate_shots_met,
                "hardware_test_loss": r.hardware_test_loss,
                "hardware_test_accuracy": r.hardware_test_accuracy,
                "crashed": r.crashed,
                "late": r.late,
                "link_outage": r.link_outage,
                "restarted": int(r.restarted),
                "rounds_lost": r.rounds_lost,
                **{name: _plain(getattr(r, name)) for name in LEADER_COLUMNS},
            }
        )
    return rows


def node_rows(strategy: str, seed: int, records: Iterable[RoundRecord]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        for k, weight in enumerate(r.node_weights):
            rows.append(
                {
                    "strategy": strategy,
                    "seed": seed,
                    "round": r.round,
                    "node": k,
                    "qfi": r.node_qfi[k] if r.node_qfi else float("nan"),
                    "weight": weight,
                    "loss": r.node_loss[k] if r.node_loss else float("nan"),
                }
            )
    return rows


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    os.replace(tmp, path)


def write_parquet(path: Path, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> bool:
    """The same table as Parquet where pyarrow is installed (returns whether it wrote).

    pyarrow is optional (the ``parquet`` extra): without it only the CSV is written.
    """
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    listed = list(rows)
    table = pa.table({c: [row.get(c) for row in listed] for c in columns})
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return True


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def nan_to_null(value: Any) -> Any:
    """NaN and infinities (undefined figures, e.g. the fidelity of no consumed pair)
    become None, i.e. JSON null, so the JSON is strict; containers recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: nan_to_null(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nan_to_null(v) for v in value]
    return value


def _finite(value: Any) -> float:
    return float("nan") if value is None else float(value)


def _nanmean(values: Sequence[float]) -> float:
    arr = np.asarray(values, dtype=float)
    return float(np.nanmean(arr)) if np.isfinite(arr).any() else float("nan")


def mean_ci95(
    values: Sequence[float],
    quantity: intervals.Quantity = intervals.UNBOUNDED,
    n_total: float | None = None,
) -> dict[str, Any]:
    """Mean, 95% confidence interval and the values themselves: a summary entry
    (``qceas.experiments.intervals.entry``: ``mean``, ``ci95`` ([lo, hi], or None
    with one seed), ``per_seed``, ``ci_method`` and a ``note`` where there is one)."""
    return intervals.entry(values, quantity, n_total)


def _trials(per_seed: int | None, seeds: int) -> int | None:
    """Bernoulli trials behind a proportion over ``seeds`` seeds (None if unknown)."""
    return None if per_seed is None else per_seed * seeds


def _heralded(nets: Sequence[Mapping[str, Any]]) -> int | None:
    """Heralded link pairs summed over seeds: the trials behind utilization (None where
    a run's metrics do not say)."""
    counts = [n.get("heralded_pairs") for n in nets]
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        return None
    total = sum(int(c) for c in counts if isinstance(c, int))
    return total if total > 0 else None


def summarize(
    name: str,
    fingerprint: str,
    seeds: Sequence[int],
    runs: Mapping[tuple[str, int], Sequence[RoundRecord]],
    strategies: Sequence[str],
    runtime_s: float,
    networks: Mapping[tuple[str, int], Mapping[str, Any] | None] | None = None,
    test_samples: int | None = None,
) -> dict[str, Any]:
    """The ``summary.json`` body (schema in the module docstring). Runs whose keys came
    from a simulated network add ``utilization`` (mean, CI, per seed),
    ``mean_consumed_fidelity`` and ``demand_met`` from ``networks``.

    Every interval comes from ``qceas.experiments.intervals``: accuracies and other
    shares of events get a Wilson interval at an effective n, capped by the number of
    trials where it is known (``test_samples``: held-out samples per seed, for the
    accuracies; the heralded pairs, for utilization); losses, fidelities and paired
    differences a t-interval within their range; one seed, none.
    """
    out: dict[str, Any] = {
        "scenario": name,
        "config_fingerprint": fingerprint,
        "seeds": list(seeds),
        "rounds": len(next(iter(runs.values()))) - 1 if runs else 0,
        "runtime_s": runtime_s,
        "strategies": {},
        "paired_differences": {},
    }
    accuracy_trials = _trials(test_samples, len(seeds))
    finals: dict[str, list[float]] = {}
    tails: dict[str, list[float]] = {}
    for strategy in strategies:
        recs = [runs[(strategy, s)] for s in seeds]
        finals[strategy] = [r[-1].test_accuracy for r in recs]
        # The tail re-tests the same held-out samples: no more trials than the final.
        tails[strategy] = [
            float(np.mean([x.test_accuracy for x in r[-TAIL_ROUNDS:]])) for r in recs
        ]
        out["strategies"][strategy] = {
            "final_accuracy": mean_ci95(finals[strategy], intervals.PROPORTION, accuracy_trials),
            "tail_accuracy": mean_ci95(tails[strategy], intervals.PROPORTION, accuracy_trials),
            "final_test_loss": mean_ci95([r[-1].test_loss for r in recs], intervals.NONNEGATIVE),
            "final_train_loss": mean_ci95([r[-1].train_loss for r in recs], intervals.NONNEGATIVE),
            # nanmean: skipped rounds (and one-node runs) have no gradient spread.
            "mean_grad_variance": _nanmean(
                [_nanmean([x.grad_variance for x in r[1:]]) for r in recs]
            ),
            "rejected_updates": int(sum(x.rejected_updates for r in recs for x in r)),
            "refused_no_key": int(sum(x.refused_no_key for r in recs for x in r)),
            "skipped_rounds": int(sum(x.skipped for r in recs for x in r)),
            "mean_byzantine_weight": _nanmean(
                [_nanmean([x.byzantine_weight for x in r[1:]]) for r in recs]
            ),
            "key_pairs": int(sum(x.key_pairs for r in recs for x in r)),
            # Injected faults (the faults section), summed over rounds and seeds.
            "faults": {
                name: int(sum(getattr(x, name) for r in recs for x in r))
                for name in ("crashed", "late", "link_outage", "restarted", "rounds_lost")
            },
        }
        if any(x.leader >= 0 for r in recs for x in r):
            out["strategies"][strategy]["consensus"] = consensus_summary(recs)
        if all(np.isfinite(r[-1].hardware_test_accuracy) for r in recs):
            # The mean over nodes of shares of the same held-out samples.
            out["strategies"][strategy]["final_hardware_accuracy"] = mean_ci95(
                [r[-1].hardware_test_accuracy for r in recs], intervals.PROPORTION, accuracy_trials
            )
        gate = [[x.gate_fidelity for x in r[1:]] for r in recs]
        if any(np.isfinite(v) for g in gate for v in g):
            # Model-level and hybrid partitions: the pairs behind the teleported gates.
            entry = out["strategies"][strategy]
            entry["gate_fidelity"] = mean_ci95([_nanmean(g) for g in gate], intervals.UNIT)
            entry["gate_shots_met"] = mean_ci95(
                [_nanmean([x.gate_shots_met for x in r[1:]]) for r in recs], intervals.PROPORTION
            )
        found = [(networks or {}).get((strategy, s)) for s in seeds]
        nets = [n for n in found if n is not None]
        if nets and len(nets) == len(found):
            entry = out["strategies"][strategy]
            entry["utilization"] = mean_ci95(
                [_finite(n["utilization"]) for n in nets], intervals.PROPORTION, _heralded(nets)
            )
            entry["mean_consumed_fidelity"] = _nanmean(
                [_finite(n["mean_consumed_fidelity"]) for n in nets]
            )
            # The network metrics do not carry the number of pairs demanded: n unknown.
            entry["demand_met"] = mean_ci95(
                [_finite(n["demand_met"]) for n in nets], intervals.PROPORTION
            )
    for i, a in enumerate(strategies):
        for b in strategies[i + 1 :]:
            out["paired_differences"][f"{b} - {a}"] = {
                "final_accuracy": mean_ci95(
                    np.subtract(finals[b], finals[a]).tolist(), intervals.DIFFERENCE
                ),
                "tail_accuracy": mean_ci95(
                    np.subtract(tails[b], tails[a]).tolist(), intervals.DIFFERENCE
                ),
            }
    return out


def summary_table(summary: Mapping[str, Any]) -> str:
    """A short plain-text table of the summary, for the terminal; ``1 seed: no CI``
    where an interval is missing."""
    lines = [
        f"scenario {summary['scenario']}: {len(summary['seeds'])} seed(s), "
        f"{summary['rounds']} rounds, {summary['runtime_s']:.1f} s",
        f"{'strategy':<14}{'final acc':>11}{'95% CI':>18}{'tail acc':>10}{'test loss':>11}",
    ]
    for name, s in summary["strategies"].items():
        fa, ta = s["final_accuracy"], s["tail_accuracy"]
        hardware = (
            f"   on hardware {s['final_hardware_accuracy']['mean']:.3f}"
            if "final_hardware_accuracy" in s
            else ""
        )
        gate = (
            f"   gate pair F {s['gate_fidelity']['mean']:.3f}, shots met "
            f"{s['gate_shots_met']['mean']:.3f}"
            if "gate_fidelity" in s
            else ""
        )
        lines.append(
            f"{name:<14}{fa['mean']:>11.3f}{intervals.ci_text(fa):>18}"
            f"{ta['mean']:>10.3f}{s['final_test_loss']['mean']:>11.3f}{hardware}{gate}"
        )
    for name, d in summary["paired_differences"].items():
        diff = d["final_accuracy"]
        bounds, _ = intervals.shown(diff.get("ci95"), diff.get("note"))
        ci = intervals.ci_text(diff, signed=True)
        lines.append(
            f"{name}: final accuracy {diff['mean']:+.3f} "
            f"({'95% CI ' if bounds else ''}{ci}), tail {d['tail_accuracy']['mean']:+.3f}"
        )
    return "\n".join(lines)
