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


def test_a_section_sweep_varies_fields_that_belong_together() -> None:
    config = from_dict(
        {
            "nodes": {"count": 6},
            "adversary": {"fraction": 0.2, "attack": "alie", "qfi_inflation": 3.0},
            "sweep": {
                "adversary": [{"attack": "ipm", "params": {"epsilon": 10.0}}, {"attack": "alie"}],
                "adversary.fraction": [0.1, 0.34],
            },
        }
    )
    points = config.sweep_points()
    assert len(points) == 4
    first = points[0][1].adversary
    # The partial section replaces only the fields it names.
    assert (first.attack, dict(first.params), first.fraction) == ("ipm", {"epsilon": 10.0}, 0.1)
    assert first.qfi_inflation == 3.0
    assert points[3][1].adversary.attack == "alie"
    assert points[3][1].adversary.fraction == 0.34
    with pytest.raises(ConfigError, match=r"sweep\.adversary\[0\]\.atack: unknown key"):
        from_dict({"sweep": {"adversary": [{"atack": "ipm"}]}})
    with pytest.raises(
        ConfigError, match=r"sweep\.adversary\[1\] = 'ipm': must be a non-empty mapping"
    ):
        from_dict({"sweep": {"adversary": [{"attack": "ipm"}, "ipm"]}})
    with pytest.raises(ConfigError, match=r"sweep point adversary=.*epsilon"):
        from_dict({"sweep": {"adversary": [{"attack": "ipm", "params": {"epsilon": -1}}]}})


def test_a_network_sweep_tables_and_plots_utilization(tmp_path: Path) -> None:
    """Keys from the network, ready times from the compute model, swept over the
    coherence time: the sweep's table and summary carry the network figures."""
    raw = {
        "name": "coherence-demo",
        "model": {"n_qubits": 3, "layers": 1},
        "nodes": {"count": 3},
        "noise": {"shots": 50},
        "training": {"rounds": 2, "strategies": ["fedavg", "ceas"]},
        "security": {"key_source": "network", "sample_fraction": 0.1},
        "network": {"topology": "star", "initial_fidelity": 0.95},
        "schedule": {
            "pairs_per_round": 200,
            "round_period_s": 0.3,
            "window_s": 0.1,
            "ready": "compute",
            "slot_s": 0.002,
        },
        "sweep": {"network.coherence_time_s": [0.01, 1.0]},
    }
    run_sweep(from_dict(raw), tmp_path, progress=False, plot=True)
    summary = json.loads((tmp_path / "sweep_summary.json").read_text())
    for point in summary["points"]:
        assert set(point["network"]) == {"ceas"}  # fedavg draws no keys
        assert 0.0 < point["network"]["ceas"]["utilization"] <= 1.0
    assert set(summary["worst_case"]["network"]["ceas"]) == {"0.01", "1.0"}
    rows = list(csv.DictReader((tmp_path / "sweep.csv").read_text().splitlines()))
    by = {(r["network.coherence_time_s"], r["strategy"]): r for r in rows}
    assert by[("1.0", "fedavg")]["utilization"] == ""
    assert 0.0 < float(by[("1.0", "ceas")]["demand_met"]) <= 1.0
    assert (tmp_path / "sweep_utilization.png").stat().st_size > 1000


def test_tables_are_also_parquet_where_pyarrow_is_installed(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    run_sweep(from_dict(SWEEP), tmp_path, progress=False, plot=False)
    table = pq.read_table(tmp_path / "sweep.parquet").to_pylist()
    rows = list(csv.DictReader((tmp_path / "sweep.csv").read_text().splitlines()))
    assert [r["strategy"] for r in table] == [r["strategy"] for r in rows]
    assert [r["final_accuracy"] for r in table] == [float(r["final_accuracy"]) for r in rows]
    metrics = pq.read_table(tmp_path / "points" / "00" / "metrics.parquet").to_pylist()
    with (tmp_path / "points" / "00" / "metrics.csv").open() as fh:
        assert len(metrics) == len(list(csv.DictReader(fh)))


def test_section_sweeps_reject_ambiguous_or_empty_points() -> None:
    with pytest.raises(ConfigError, match=r"sweep\.compute\[0\]\.shots: also swept as"):
        from_dict({"sweep": {"compute": [{"shots": 10}], "compute.shots": [20]}})
    with pytest.raises(ConfigError, match=r"sweep\.adversary\[0\] = \{\}: must be a non-empty"):
        from_dict({"sweep": {"adversary": [{}]}})
    with pytest.raises(ConfigError, match=r"unknown key \(known: fraction, attack"):
        from_dict({"sweep": {"adversary": [{"atack": "ipm"}]}})


def test_a_point_that_cannot_run_fails_before_any_point_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = {
        "model": {"n_qubits": 3, "layers": 1},
        "nodes": {"count": 4},
        "noise": {"shots": 50},
        "training": {"rounds": 1, "strategies": ["fedavg"]},
        "schedule": {"ready": "compute", "round_period_s": 0.3, "window_s": 0.1},
        "sweep": {"noise.shots": [50, 50000]},
    }
    with pytest.raises(ConfigError, match=r"^sweep point noise\.shots=50000: schedule\.round"):
        run_sweep(from_dict(raw), tmp_path, progress=False, plot=False)
    assert not (tmp_path / "points" / "00").exists()
    cfg = tmp_path / "s.yaml"
    cfg.write_text(json.dumps(raw))
    assert main(["validate", str(cfg)]) == 2
    assert "sweep point noise.shots=50000" in capsys.readouterr().err


def test_the_worst_case_names_its_point_and_skips_undefined_figures(tmp_path: Path) -> None:
    from qceas.experiments.sweep import _write

    def point(attack: str, fraction: float, acc: float, fidelity: float) -> dict[str, object]:
        entry = {
            "final_accuracy": {"mean": acc, "ci95": [acc, acc]},
            "tail_accuracy": {"mean": acc},
            "rejected_updates": 0,
            "refused_no_key": 0,
            "utilization": {"mean": 0.5},
            "mean_consumed_fidelity": fidelity,
            "demand_met": {"mean": 0.5},
        }
        values = {"adversary.attack": attack, "adversary.fraction": fraction}
        return {"values": values, "dir": "x", "strategies": {"ceas": entry}}

    done = [
        point("alie", 0.1, 0.8, float("nan")),
        point("ipm", 0.1, 0.6, 0.9),
        point("min_max", 0.1, 0.7, 0.95),
    ]
    parameters = ["adversary.attack", "adversary.fraction"]
    summary = _write(tmp_path, from_dict({}), parameters, done, False)
    worst = summary["worst_case"]
    assert worst["final_accuracy"]["ceas"]["0.1"] == 0.6
    assert worst["argmin"]["ceas"]["0.1"]["adversary.attack"] == "ipm"
    assert worst["network"]["ceas"]["0.1"]["mean_consumed_fidelity"] == 0.9
    text = (tmp_path / "sweep_summary.json").read_text()
    assert "Infinity" not in text
    assert "NaN" not in text
    assert json.loads(text)["points"][0]["network"]["ceas"]["mean_consumed_fidelity"] is None
