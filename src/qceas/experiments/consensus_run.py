"""``qceas consensus``: the EPR-pair QDBA alone, over the grid of the ``consensus``
section (``qceas.agreement``).

Every grid point is one *unit*, saved under ``DIR/consensus_points/`` as soon as it
finishes (keyed by a hash of its values, the instances, ``count_alpha`` and the
seed); rerunning the command reuses every finished unit, so an interrupted run
resumes. Outputs:

* ``consensus_summary.json``: ``{"seed", "instances", "points": [{<the point's
  field values>, "agreement": {"mean", "ci95"}, "abort": {…}, "inconsistent": {…},
  "wrong": {…}, "pairs": <Bell pairs per agreement>, "seconds": <wall seconds per
  agreement>, "bounds": {…}, "forgery": {…}}, …], "skipped": [...]}``. Rates are
  over agreements, with 95% Wilson intervals (an event never seen still has an upper
  end, ≈ 3.7/instances); ``bounds`` holds the exact honest failure of one check
  (``check_failure``), its Chernoff bound, the union bound over lieutenants and the
  exact forgery probabilities (``bounds`` of :mod:`qceas.agreement.bounds`);
  ``forgery`` the measured pass rates of forged evidence at loyal lieutenants.
* ``consensus_points.csv``: one row per point;
* ``consensus_vs_fidelity.png`` and ``consensus_vs_tuples.png``: agreement and abort
  against F and against M, one line per (players, tolerance, rule).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qceas.agreement import bounds
from qceas.agreement.config import GRID, ConsensusConfig
from qceas.agreement.digest import Tally, simulate
from qceas.agreement.noise import werner_errors
from qceas.experiments.config import ExperimentConfig
from qceas.experiments.intervals import wilson
from qceas.experiments.results import write_atomic
from qceas.reproducibility import deterministic

#: Rates reported per point.
RATES = ("agreement", "abort", "inconsistent", "wrong")
#: Version of how a point's numbers are computed (part of each unit's key).
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class ConsensusOutcome:
    summary: dict[str, Any]
    out: Path
    reused: int


def _key(values: dict[str, Any], spec: ConsensusConfig, seed: int) -> str:
    body = {
        **values,
        "instances": spec.instances,
        "count_alpha": spec.count_alpha,
        "seed": seed,
        "version": PROTOCOL_VERSION,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def _rate(events: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(events / n, n, 1.959963984540054)
    return {"mean": events / n, "ci95": [lo, hi], "events": events}


def _bounds(values: dict[str, Any], spec: ConsensusConfig) -> dict[str, float]:
    eps = float(werner_errors(values["fidelity"])[0])
    m, tol, alpha = values["tuples"], values["tolerance"], spec.count_alpha
    forged, reveal = bounds.forgery(m, tol, alpha)
    return {
        "z_error": eps,
        "count_floor": bounds.count_floor(m, alpha),
        "check_failure": bounds.honest_failure(m, eps, tol, alpha),
        "check_failure_chernoff": bounds.honest_chernoff(m, eps, tol, alpha),
        "instance_failure_union": bounds.instance_failure_bound(
            values["players"], m, eps, tol, alpha
        ),
        "bit_forgery": forged,
        "bit_forgery_tuples": reveal,
        "bit_forgery_chernoff": bounds.forgery_chernoff(m, tol, alpha),
        "conflict_forgery": bounds.conflict_forgery(m),
    }


def _entry(values: dict[str, Any], tally: Tally, spec: ConsensusConfig) -> dict[str, Any]:
    n = tally.instances
    point = spec.point(values)
    checks = tally.forged_checks
    forgery: dict[str, Any] = {"checks": checks}
    if checks:
        forgery["bit_passed"] = _rate(tally.forged_bit_passed, checks)
        forgery["conflict_passed"] = _rate(tally.forged_conflict_passed, checks)
    return {
        **values,
        **{name: _rate(getattr(tally, name), n) for name in RATES},
        "instances": n,
        "pairs": point.pairs,
        "seconds": tally.seconds / n,
        "bounds": _bounds(values, spec),
        "forgery": forgery,
    }


@deterministic
def run_consensus(
    config: ExperimentConfig,
    out: str | Path,
    *,
    plot: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ConsensusOutcome:
    """Run (or resume) every grid point of ``config.consensus`` into ``out``."""
    spec = config.consensus
    out = Path(out)
    units = out / "consensus_points"
    units.mkdir(parents=True, exist_ok=True)
    points = spec.points()
    varying = [f for f, values in spec.grid().items() if len(values) > 1]
    entries, reused = [], 0
    for k, values in enumerate(points, 1):
        key = _key(values, spec, config.seed)
        unit = units / f"{key}.json"
        if unit.is_file():
            entry = json.loads(unit.read_text())
            reused += 1
        else:
            entropy = [config.seed, int(key, 16) % 2**63]
            tally = simulate(spec.point(values), entropy)
            entry = _entry(values, tally, spec)
            write_atomic(unit, json.dumps(entry, indent=1))
        entries.append(entry)
        if progress is not None:
            shown = ", ".join(f"{f}={values[f]}" for f in varying)
            progress(
                f"[{k}/{len(points)}] {shown or 'point'}: agreement "
                f"{entry['agreement']['mean']:.4f} abort {entry['abort']['mean']:.4f} "
                f"inconsistent {entry['inconsistent']['mean']:.4f} "
                f"({entry['seconds'] * 1e3:.3g} ms/agreement)"
            )
    summary = {
        "seed": config.seed,
        "instances": spec.instances,
        "count_alpha": spec.count_alpha,
        "points": entries,
        "skipped": spec.skipped(),
    }
    write_atomic(out / "consensus_summary.json", json.dumps(summary, indent=1))
    write_atomic(out / "consensus_points.csv", _csv(entries))
    if plot:
        from qceas.experiments.plots import plot_consensus

        plot_consensus(entries, out)
    return ConsensusOutcome(summary, out, reused)


def _csv(entries: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    fields = [
        *GRID,
        *RATES,
        *(f"{r}_ci95_high" for r in RATES),
        "pairs",
        "seconds",
        "check_failure",
    ]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        row = {f: e[f] for f in GRID}
        row.update({r: e[r]["mean"] for r in RATES})
        row.update({f"{r}_ci95_high": e[r]["ci95"][1] for r in RATES})
        row.update(
            pairs=e["pairs"], seconds=e["seconds"], check_failure=e["bounds"]["check_failure"]
        )
        writer.writerow(row)
    return buf.getvalue()


def consensus_table(summary: dict[str, Any]) -> str:
    """A text table of the points: the varying fields, the rates and the cost."""
    points = summary["points"]
    varying = [f for f in GRID if len({json.dumps(p[f]) for p in points}) > 1] or ["players"]
    head = [*varying, "agreement", "abort", "inconsistent", "pairs", "ms"]
    rows = [head]
    for p in points:
        rows.append(
            [str(p[f]) for f in varying]
            + [f"{p[r]['mean']:.4f}" for r in ("agreement", "abort", "inconsistent")]
            + [str(p["pairs"]), f"{p['seconds'] * 1e3:.3g}"]
        )
    width = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, width, strict=True)) for r in rows)


__all__ = ["ConsensusOutcome", "consensus_table", "run_consensus"]
