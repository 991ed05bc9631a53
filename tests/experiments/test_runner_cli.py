"""The runner's files, resumption, and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qceas.cli import main
from qceas.config import ConfigError, from_dict
from qceas.experiments import run_experiment

TINY = {
    "name": "tiny",
    "seeds": 2,
    "model": {"n_qubits": 3, "layers": 1},
    "nodes": {"count": 3},
    "training": {"rounds": 3},
    "noise": {"depolarizing": [0.0, 0.1, 0.3]},
}


def test_run_writes_tables_summary_and_plots(tmp_path: Path) -> None:
    outcome = run_experiment(from_dict(TINY), tmp_path, progress=False)
    for name in ("metrics.csv", "node_metrics.csv", "summary.json", "accuracy.png"):
        assert (tmp_path / name).is_file()
    lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 2 * 4  # header + strategies x seeds x (rounds + round 0)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    for name in ("fedavg", "qfi"):
        acc = summary["strategies"][name]["final_accuracy"]
        lo, hi = acc["ci95"]  # two seeds: an interval, within [0, 1] (an accuracy)
        assert 0.0 <= lo <= acc["mean"] <= hi <= 1.0
        assert acc["ci_method"] == "wilson-effective-n"
        assert len(acc["per_seed"]) == 2
    assert "qfi - fedavg" in summary["paired_differences"]
    assert outcome.computed == 4
    assert outcome.reused == 0
    assert summary["environment"]["numpy"] == np.__version__
    assert summary["environment"]["blas_threads_in_qceas"] == 1
    # A rerun reuses every run, and its intervals still know the test split's size.
    again = run_experiment(from_dict(TINY), tmp_path, progress=False, plot=False)
    assert again.reused == 4
    assert again.summary["strategies"] == outcome.summary["strategies"]


def test_interrupted_sweep_resumes_with_identical_tables(tmp_path: Path) -> None:
    config = from_dict(TINY)
    whole = tmp_path / "whole"
    run_experiment(config, whole, progress=False, plot=False)
    part = tmp_path / "part"
    run_experiment(config, part, seeds=[0], progress=False, plot=False)  # "killed" after seed 0
    resumed = run_experiment(config, part, progress=False, plot=False)
    assert resumed.reused == 2
    assert resumed.computed == 2
    for name in ("metrics.csv", "node_metrics.csv"):
        assert (part / name).read_text() == (whole / name).read_text()


def test_a_directory_of_another_config_is_refused(tmp_path: Path) -> None:
    run_experiment(from_dict(TINY), tmp_path, progress=False, plot=False)
    other = from_dict({**TINY, "seed": 7})
    with pytest.raises(ConfigError, match="holds results of a different config"):
        run_experiment(other, tmp_path, progress=False, plot=False)


def test_cli_run_validate_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "name: c\nmodel: {n_qubits: 3, layers: 1}\nnodes: {count: 2}\ntraining: {rounds: 2}\n"
    )
    assert main(["validate", str(config)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["run", str(config), "--out", str(tmp_path / "r"), "--quiet", "--seeds", "2"]) == 0
    out = capsys.readouterr().out
    assert "qfi - fedavg" in out
    assert "final acc" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text("noise: {depolarizing: 1.4}\n")
    assert main(["validate", str(bad)]) == 2
    assert "noise.depolarizing = 1.4: must be in [0, 1]" in capsys.readouterr().err
    assert main(["run", "no-such-scenario", "--out", str(tmp_path / "x")]) == 2
    assert "no built-in scenario or config file" in capsys.readouterr().err
    assert main(["scenarios"]) == 0
    assert "quick" in capsys.readouterr().out


def test_a_failed_build_does_not_lock_the_directory(tmp_path: Path) -> None:
    too_many = from_dict({**TINY, "nodes": {"count": 500}, "noise": {}})
    with pytest.raises(ConfigError, match="must be <= the number of training samples"):
        run_experiment(too_many, tmp_path, progress=False)
    run_experiment(from_dict(TINY), tmp_path, progress=False, plot=False)


def test_adding_a_strategy_or_seeds_reuses_finished_runs(tmp_path: Path) -> None:
    one = from_dict({**TINY, "seeds": 1, "training": {**TINY["training"], "strategies": ["qfi"]}})
    run_experiment(one, tmp_path, progress=False, plot=False)
    grown = run_experiment(from_dict(TINY), tmp_path, progress=False, plot=False)
    assert grown.reused == 1
    assert grown.computed == 3


def test_single_node_runs_plot_without_warnings(tmp_path: Path) -> None:
    config = from_dict({**TINY, "seeds": 1, "nodes": {"count": 1}, "noise": {}})
    run_experiment(config, tmp_path, progress=False)  # warnings are errors in this suite
    assert (tmp_path / "grad_variance.png").is_file()


def test_cli_refuses_an_out_path_that_is_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["run", "quick", "--out", str(target), "--quiet", "--rounds", "1"]) == 2
    assert "exists and is not a directory" in capsys.readouterr().err


def test_runs_with_network_keys_report_utilization_and_resume(tmp_path: Path) -> None:
    raw = {
        "name": "keys",
        "seeds": 2,
        "model": {"n_qubits": 3, "layers": 1},
        "nodes": {"count": 3},
        "training": {"rounds": 2, "strategies": ["fedavg", "ceas", "ceas-no-sched"]},
        "security": {"key_source": "network", "sample_fraction": 0.1},
        "network": {"topology": "star", "initial_fidelity": 0.95, "coherence_time_s": 0.5},
        "schedule": {
            "pairs_per_round": 400,
            "round_period_s": 0.2,
            "window_s": 0.15,
            "ready_fraction": [0.0, 0.2],
            "slot_s": 0.001,
        },
    }
    outcome = run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    strategies = outcome.summary["strategies"]
    assert "utilization" not in strategies["fedavg"]  # unauthenticated: no keys, no network
    for name in ("ceas", "ceas-no-sched"):
        util = strategies[name]["utilization"]
        assert len(util["per_seed"]) == 2
        assert 0.0 < util["mean"] <= 1.0
        assert strategies[name]["key_pairs"] > 0
        assert strategies[name]["mean_consumed_fidelity"] > 0.9
    again = run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    assert again.computed == 0
    assert again.summary["strategies"]["ceas"]["utilization"] == strategies["ceas"]["utilization"]
