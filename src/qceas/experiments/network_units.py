"""The saved units of ``qceas network``: one JSON file per finished (policy, seed) run or
sweep point under ``DIR/network_runs/``, holding the config fingerprint and its metrics,
so that an interrupted run resumes and a finished one is rebuilt from its files."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from qceas.experiments import results
from qceas.experiments.config import ConfigError, ExperimentConfig, dump_yaml
from qceas.reproducibility import environment


def prepare_directory(
    out: Path, config: ExperimentConfig, fingerprint: str, legacy: Collection[str] = ()
) -> None:
    """Check ``out`` holds no results of another config (``legacy``: fingerprints of
    this config by an earlier evaluation version, refused with their own message), then
    create it and write the config (nothing is written where the check fails)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    for unit in sorted((out / "network_runs").glob("*.json")) if out.is_dir() else []:
        try:
            written = json.loads(unit.read_text()).get("fingerprint")
        except (json.JSONDecodeError, OSError, AttributeError):
            continue  # a unit cut short is recomputed
        if written in legacy:
            raise ConfigError(
                f"--out {out}: holds network results of this config computed by an earlier "
                "qceas (numbers that depended on the machine's BLAS threads); they are not "
                "reused: choose another directory or delete it"
            )
        if written != fingerprint:
            raise ConfigError(
                f"--out {out}: holds network results of a different config (fingerprint "
                f"{written} != {fingerprint}); choose another directory or delete it"
            )
    try:
        (out / "network_runs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the directory ({exc.strerror})") from None
    results.write_atomic(out / "network_config.yaml", dump_yaml(config))


def unit(
    path: Path,
    fingerprint: str,
    counts: dict[str, int],
    progress: Callable[[str], None] | None,
    label: str,
    compute: Callable[[], dict[str, Any]],
    line: Callable[[dict[str, Any]], str],
) -> dict[str, Any]:
    """A finished unit's metrics: read back if saved with this fingerprint, else computed
    and saved at once (atomically); ``progress`` then gets ``label: line(metrics)``."""
    if path.is_file():
        try:
            saved = json.loads(path.read_text())
        except json.JSONDecodeError:
            saved = {}
        if saved.get("fingerprint") == fingerprint:
            counts["reused"] += 1
            return dict(saved["metrics"])
        if saved:
            raise ConfigError(
                f"--out {path.parent.parent}: holds network results of a different config "
                f"(fingerprint {saved.get('fingerprint')} != {fingerprint}); choose another "
                "directory or delete it"
            )
    metrics = results.nan_to_null(compute())
    blob = {"fingerprint": fingerprint, "metrics": metrics}
    results.write_atomic(path, json.dumps(blob, indent=1, allow_nan=False) + "\n")
    counts["computed"] += 1
    if progress is not None:
        progress(f"{label}: {line(metrics)}")
    return metrics


def write_summary(
    out: Path, summary: dict[str, Any], counts: dict[str, int], wall_s: float, table: str
) -> dict[str, Any]:
    """Add the run's record (wall time, units reused and computed, environment) to
    ``summary`` and write ``network_summary.json`` and ``network_policies.csv``."""
    summary |= {
        "wall_s": wall_s,
        "reused_units": counts["reused"],
        "computed_units": counts["computed"],
        "environment": environment(),
    }
    text = json.dumps(results.nan_to_null(summary), indent=2, allow_nan=False)
    results.write_atomic(out / "network_summary.json", text + "\n")
    results.write_atomic(out / "network_policies.csv", table)
    return summary


__all__ = ["prepare_directory", "unit", "write_summary"]
