"""Sweeps: one experiment per grid point, resumable, with the worst case per value."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from qceas.cli import main
from qceas.config import ConfigError, from_dict
from qceas.experiments.sweep import run_sweep

SWEEP = {
    "name": "sweep-demo",
    "model": {"n_qubits": 3, "layers": 1},
    "nodes": {"count": 6},
    "training": {"rounds": 2, "strategies": ["fedavg", "ceas"]},
    "adversary": {"fraction": 0.0, "attack": "alie"},
    "sweep": {
        "adversary.attack": ["alie", "sign_flip"],
        "adversary.fraction": [0.0, 0.34],
    },
}


def test_sweep_runs_every_point_and_takes_the_worst_attack(tmp_path: Path) -> None:
    outcome = run_sweep(from_dict(SWEEP), tmp_path, progress=False, plot=True)
    assert outcome.computed == 4 * 2
    assert outcome.reused == 0
    summary = json.loads((tmp_path / "sweep_summary.json").read_text())
    assert summary["parameters"] == ["adversary.attack", "adversary.fraction"]
    assert len(summary["points"]) == 4
    worst = summary["worst_case"]["final_accuracy"]
    for strategy in ("fedavg", "ceas"):
        for x in ("0.0", "0.34"):
            accs = [
                p["strategies"][strategy]["mean"]
                for p in summary["points"]
                if json.dumps(p["values"]["adversary.fraction"]) == x
            ]
            assert worst[strategy][x] == min(accs)
    rows = list(csv.DictReader((tmp_path / "sweep.csv").read_text().splitlines()))
    assert len(rows) == 4 * 2
    assert {r["adversary.attack"] for r in rows} == {"alie", "sign_flip"}
    assert (tmp_path / "sweep_accuracy.png").stat().st_size > 1000
    # Each point is an ordinary run directory of its own config.
    point = json.loads((tmp_path / "points" / "03" / "summary.json").read_text())
    assert point["scenario"] == "sweep-demo [adversary.attack='sign_flip', adversary.fraction=0.34]"


def test_an_interrupted_sweep_resumes_with_the_same_table(tmp_path: Path) -> None:
    config = from_dict(SWEEP)
    run_sweep(config, tmp_path, progress=False, plot=False)
    table = (tmp_path / "sweep.csv").read_text()
    (tmp_path / "points" / "02" / "runs" / "ceas__seed0.json").unlink()  # killed mid-way
    again = run_sweep(config, tmp_path, progress=False, plot=False)
    assert (again.computed, again.reused) == (1, 7)
    assert (tmp_path / "sweep.csv").read_text() == table


def test_bad_sweeps_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"sweep\.adversary\.fractio: not a config field"):
        from_dict({"sweep": {"adversary.fractio": [0.1]}})
    with pytest.raises(ConfigError, match=r"sweep point adversary\.fraction=0\.7: adversary"):
        from_dict({"sweep": {"adversary.fraction": [0.1, 0.7]}})
    with pytest.raises(ConfigError, match=r"sweep\.nodes\.count = \[\]: must be a non-empty"):
        from_dict({"sweep": {"nodes.count": []}})
    cfg = tmp_path / "s.yaml"
    cfg.write_text("sweep: {adversary.fraction: [0.1, 0.9]}\n")
    assert main(["run", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "sweep point adversary.fraction=0.9" in capsys.readouterr().err
