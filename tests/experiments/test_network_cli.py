"""``qceas network``: files and schema, resumption, refusal of a foreign directory,
the command line and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qceas.cli import main
from qceas.config import ConfigError, from_dict
from qceas.experiments.network_run import run_network

TINY = {
    "name": "tiny-network",
    "nodes": {"count": 4},
    "network": {"topology": "star", "coherence_time_s": [0.002, 0.2]},
    "schedule": {
        "rounds": 3,
        "round_period_s": 0.004,
        "window_s": 0.002,
        "coherence_sweep_s": [0.001, 0.1],
    },
}


def test_network_run_writes_summary_table_ledgers_and_plot(tmp_path: Path) -> None:
    outcome = run_network(from_dict(TINY), tmp_path)
    summary = json.loads((tmp_path / "network_summary.json").read_text())
    assert summary["scenario"] == "tiny-network"
    assert set(summary["policies"]) == {"ceas", "oblivious", "greedy", "random"}
    for metrics in summary["policies"].values():
        for key in ("utilization", "mean_consumed_fidelity", "demand_met"):
            assert key in metrics
        assert set(metrics["waste"]) >= {"expired", "discarded", "aborted", "unused"}
    sweep = summary["sweep"]
    assert sweep["coherence_time_s"] == [0.001, 0.1]
    assert all(len(v["utilization"]) == 2 for v in sweep["policies"].values())
    assert (tmp_path / "utilization_vs_coherence.png").stat().st_size > 1000
    rows = (tmp_path / "network_policies.csv").read_text().splitlines()
    assert len(rows) == 1 + 4
    assert len(list((tmp_path / "ledgers").glob("*.npz"))) == 4
    assert outcome.computed == 4 * 3
    assert outcome.reused == 0


def test_network_run_resumes_and_reproduces(tmp_path: Path) -> None:
    config = from_dict(TINY)
    run_network(config, tmp_path, plot=False)
    first = (tmp_path / "network_policies.csv").read_text()
    (tmp_path / "network_runs" / "greedy_seed0.json").unlink()  # an interrupted run
    again = run_network(config, tmp_path, plot=False)
    assert again.computed == 1
    assert again.reused == 11
    assert _without_wall(tmp_path / "network_policies.csv") == _without_wall(first)


def _without_wall(source: Path | str) -> list[list[str]]:
    text = source.read_text() if isinstance(source, Path) else source
    return [line.split(",")[:-1] for line in text.splitlines()]


def test_a_directory_of_another_network_config_is_refused(tmp_path: Path) -> None:
    run_network(from_dict(TINY), tmp_path, sweep=False, plot=False)
    other = from_dict({**TINY, "schedule": {**TINY["schedule"], "pairs_per_round": 3}})
    with pytest.raises(ConfigError, match="holds network results of a different config"):
        run_network(other, tmp_path, sweep=False, plot=False)


def test_cli_network_and_its_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "network",
            "quick",
            "--out",
            str(tmp_path / "q"),
            "--no-sweep",
            "--rounds",
            "2",
            "--policies",
            "ceas,oblivious",
            "--quiet",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "ceas" in out
    assert "oblivious" in out
    assert "utilization" in out

    bad = tmp_path / "bad.yaml"
    bad.write_text("network: {initial_fidelity: [0.2, 0.9]}\n")
    assert main(["network", str(bad), "--out", str(tmp_path / "b")]) == 2
    assert "network.initial_fidelity = [0.2, 0.9]: every value must be in [0.25, 1]" in (
        capsys.readouterr().err
    )

    edges = tmp_path / "cut.txt"
    edges.write_text("0 aggregator 5.0\n1 2 5.0\n")
    cut = tmp_path / "cut.yaml"
    cut.write_text(f"nodes: {{count: 3}}\nnetwork: {{topology: file, path: '{edges}'}}\n")
    assert main(["network", str(cut), "--out", str(tmp_path / "c"), "--no-sweep"]) == 2
    assert "no route to the aggregator (the topology is disconnected)" in capsys.readouterr().err

    assert main(["network", "quick", "--out", str(tmp_path / "p"), "--policies", "fifo"]) == 2
    assert "schedule.policies[0] = 'fifo': must be one of" in capsys.readouterr().err


def test_network_fingerprint_follows_the_compute_times_only_when_they_are_used() -> None:
    from qceas.config import from_dict
    from qceas.experiments.network_run import network_fingerprint

    base = network_fingerprint(from_dict({}))
    assert network_fingerprint(from_dict({"schedule": {"ready": "uniform"}})) == base
    assert network_fingerprint(from_dict({"compute": {"shots": 7}})) == base
    timed = {"schedule": {"ready": "compute", "round_period_s": 100.0}}
    first = network_fingerprint(from_dict(timed))
    assert first != base
    for change in (
        {"compute": {"shots": 7}},
        {"noise": {"shots": 50}},
        {"data": {"split": "dirichlet"}},
        {"training": {"batch_size": 4}},
        {"model": {"layers": 2}},
    ):
        assert network_fingerprint(from_dict({**timed, **change})) != first, change
    # What the compute times do not depend on leaves it alone.
    assert network_fingerprint(from_dict({**timed, "training": {"rounds": 3}})) == first


def test_ctrl_c_during_a_network_run_is_one_line_and_the_rerun_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import qceas.experiments.network_run as network_run

    config = tmp_path / "tiny.yaml"
    config.write_text(json.dumps(TINY))  # JSON is YAML
    simulate, calls = network_run._simulate, []

    def interrupted_at_the_third(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return simulate(*args, **kwargs)

    monkeypatch.setattr(network_run, "_simulate", interrupted_at_the_third)
    argv = ["network", str(config), "--out", str(tmp_path / "out"), "--quiet", "--no-plots"]
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"qceas: interrupted: 2 unit(s) computed now and 0 reused, every finished one "
        f"saved in {tmp_path / 'out' / 'network_runs'}; rerun the same command to continue"
    ]
    monkeypatch.setattr(network_run, "_simulate", simulate)
    assert main(argv) == 0
    assert "reused 2 finished unit(s)" in capsys.readouterr().out


def test_network_summary_breaks_metrics_down_by_route_length(tmp_path: Path) -> None:
    raw = {**TINY, "nodes": {"count": 3}, "network": {"topology": "line", "coherence_time_s": 1.0}}
    summary = run_network(from_dict(raw), tmp_path, plot=False).summary
    for name, metrics in summary["policies"].items():
        by_hops = metrics["by_hops"]
        assert sorted(by_hops) == ["1", "2", "3"], name  # a line: QPU k is 3 - k links away
        assert [by_hops[h]["qpus"] for h in ("1", "2", "3")] == [1, 1, 1]
        for entry in by_hops.values():
            assert 0.0 <= entry["demand_met"] <= 1.0
            for key in ("utilization", "above_threshold", "mean_consumed_fidelity"):
                assert entry[key] is None or 0.0 <= entry[key] <= 1.0
        # the QPUs' demand met, weighted by their share, is the network's
        assert sum(e["demand_met"] for e in by_hops.values()) / 3 == pytest.approx(
            metrics["demand_met"]
        )
        swept = summary["sweep"]["by_hops"][name]
        assert sorted(swept) == ["1", "2", "3"]
        assert all(len(v) == 2 for v in swept["1"].values())
