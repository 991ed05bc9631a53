"""The consensus section and ``qceas consensus``: errors that name the field and the
rule, the summary's schema, and resuming."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qceas.agreement.config import ConsensusConfig
from qceas.cli import main
from qceas.config import ConfigError, from_dict
from qceas.experiments import resolve


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"tolerance": [0.1, 0.5]}, "consensus.tolerance[1] = 0.5: must be in [0, 0.5)"),
        ({"traitors": 10}, "consensus.traitors = 10: must be <= players - 2 = 9"),
        (
            {"tuples": 20, "fidelity": 0.9, "tolerance": 0.15, "target_failure": 1.0e-3},
            "consensus.tuples = 20: too few for target_failure = 0.001",
        ),
        ({"tuples": "auto"}, "consensus.tuples = 'auto': needs consensus.target_failure"),
        (
            {"tuples": "auto", "tolerance": 0.01, "fidelity": 0.9, "target_failure": 1.0e-3},
            "consensus.tuples = 'auto': no M <= 100000 meets target_failure",
        ),
        ({"attack": "equivocate"}, "consensus.attack: every grid point pairs a commander attack"),
        ({"attack": "bribe"}, "consensus.attack = 'bribe': must be one of"),
        ({"players": [11, 2]}, "consensus.players[1] = 2: must be an integer in [3, 1000]"),
        ({"fidelity": 1.2}, "consensus.fidelity = 1.2: must be a Werner fidelity in [0.25, 1]"),
        ({"instances": 0}, "consensus.instances = 0: must be an integer in [1, 100000000]"),
    ],
)
def test_impossible_parameters_name_the_field_and_the_rule(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        from_dict({"consensus": fields})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_auto_tuples_picks_the_smallest_m_for_the_target() -> None:
    spec = ConsensusConfig(tuples="auto", fidelity=0.95, tolerance=0.15, target_failure=1.0e-3)
    (point,) = spec.points()
    assert point["tuples"] > 100
    with pytest.raises(ConfigError, match="too few"):
        ConsensusConfig(
            tuples=point["tuples"] - 1, fidelity=0.95, tolerance=0.15, target_failure=1.0e-3
        )


def test_the_consensus_section_changes_no_training_fingerprint() -> None:
    quick = resolve("quick")
    assert (
        from_dict({"consensus": {"players": 50}}, base=quick).fingerprint() == quick.fingerprint()
    )


def test_cli_writes_the_summary_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "consensus:\n  players: 5\n  tuples: [16, 32]\n  fidelity: [1.0, 0.9]\n"
        "  tolerance: 0.15\n  traitors: 1\n  attack: lie\n  instances: 200\n"
    )
    out = tmp_path / "out"
    assert main(["consensus", str(config), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "consensus_summary.json").read_text())
    assert len(summary["points"]) == 4
    for p in summary["points"]:
        for rate in ("agreement", "abort", "inconsistent"):
            assert set(p[rate]) >= {"mean", "ci95"}
            lo, hi = p[rate]["ci95"]
            assert lo <= p[rate]["mean"] <= hi
        assert p["pairs"] == p["tuples"] * 4
        assert p["seconds"] > 0
        assert {
            "players",
            "tuples",
            "fidelity",
            "tolerance",
            "traitors",
            "commander",
            "attack",
        } <= set(p)
    assert (out / "consensus_vs_fidelity.png").is_file()
    assert (out / "consensus_vs_tuples.png").is_file()
    first = (out / "consensus_summary.json").read_text()
    capsys.readouterr()
    assert main(["consensus", str(config), "--out", str(out), "--quiet", "--no-plots"]) == 0
    assert "reused 4 finished point(s)" in capsys.readouterr().out
    assert (
        json.loads(first)["points"]
        == json.loads((out / "consensus_summary.json").read_text())["points"]
    )


def test_cli_bad_input_is_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("consensus:\n  players: 5\n  traitors: 4\n")
    assert main(["consensus", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qceas: error: consensus.traitors = 4: must be <= players - 2 = 3")
    assert "\n" not in err


def test_built_in_consensus_scenarios_are_valid() -> None:
    for name in ("consensus", "consensus-attacks"):
        assert resolve(name).consensus.points()
