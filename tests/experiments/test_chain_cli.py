"""``qceas network`` on a repeater chain: the summary's delivery times and their
intervals, resumption, the fingerprint, validation and the errors of bad chains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qceas.cli import main
from qceas.config import ConfigError, from_dict
from qceas.experiments.network_run import network_fingerprint, run_network
from qceas.scheduling import chain_mdp

CHAIN = {
    "name": "tiny-chain",
    "seeds": 2,
    "network": {
        "topology": "chain",
        "chain_nodes": 4,
        "attempt_success": 0.5,
        "swap_success": 0.5,
        "memory_slots": 1,
    },
    "schedule": {"cutoff_slots": 2, "policies": ["swap_asap", "ceas"], "rounds": 3000},
}


def test_chain_run_reports_delivery_times_with_intervals_and_exact_values(tmp_path: Path) -> None:
    outcome = run_network(from_dict(CHAIN), tmp_path)
    summary = json.loads((tmp_path / "network_summary.json").read_text())
    assert summary["model"] == "chain"
    assert outcome.summary == summary
    assert summary["chain"] == {
        "nodes": 4,
        "attempt_success": 0.5,
        "swap_success": 0.5,
        "cutoff_slots": 2,
        "slot_s": 5e-05,  # 10 km at 2e8 m/s
        "deliveries_per_seed": 3000,
    }
    for _name, m in summary["policies"].items():
        t = m["delivery_time_slots"]
        assert t["samples"] == 6000
        assert t["ci95"][0] < t["mean"] < t["ci95"][1]
        assert m["delivery_time_s"]["mean"] == pytest.approx(t["mean"] * 5e-05)
        assert set(m["per_seed"]) == {"0", "1"}
        assert m["exact_within_ci"] == (
            t["ci95"][0] <= m["exact_delivery_time_slots"] <= t["ci95"][1]
        )
        assert m["exact_delivery_time_s"] == pytest.approx(m["exact_delivery_time_slots"] * 5e-05)
    policies = summary["policies"]
    # the exact values of their code (tests/oracles/data/inesta_chain_reference.json)
    assert policies["ceas"]["exact_delivery_time_slots"] == pytest.approx(12.7079001, abs=1e-5)
    assert policies["swap_asap"]["exact_delivery_time_slots"] == pytest.approx(12.7757671, abs=1e-5)
    assert not (tmp_path / "ledgers").exists()
    rows = (tmp_path / "network_policies.csv").read_text().splitlines()
    assert rows[0] == "policy,seed,deliveries,mean_delivery_slots,wall_s"
    assert len(rows) == 5
    assert outcome.computed == 2 + 2 * 2
    assert outcome.reused == 0


def test_chain_run_resumes_and_reproduces(tmp_path: Path) -> None:
    config = from_dict(CHAIN)
    first = run_network(config, tmp_path).summary
    (tmp_path / "network_runs" / "ceas_seed1.json").unlink()
    again = run_network(config, tmp_path)
    assert (again.computed, again.reused) == (1, 5)
    for name in ("swap_asap", "ceas"):
        assert again.summary["policies"][name]["per_seed"] == first["policies"][name]["per_seed"]


def test_chain_fields_change_the_fingerprint_and_leave_other_networks_alone() -> None:
    base = from_dict(CHAIN)
    other = from_dict({**CHAIN, "schedule": {**CHAIN["schedule"], "cutoff_slots": 3}})
    assert network_fingerprint(base) != network_fingerprint(other)
    star = from_dict({"network": {"topology": "star"}})
    # the star's fingerprint does not see the chain fields at their defaults
    blob = star.to_dict()
    assert blob["network"]["chain_nodes"] is None
    assert network_fingerprint(star) == network_fingerprint(from_dict({}))


def test_validate_describes_the_chain_and_its_mdp(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "chain.json"
    path.write_text(json.dumps(CHAIN))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "repeater chain of 4 nodes, attempt success 0.5, swap success 0.5, cutoff 2 slots" in out
    states = len(chain_mdp.build(from_dict(CHAIN).network.chain(2)).states)
    assert f"ceas: exact chain MDP, {states} states" in out


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"schedule": {"policies": ["oblivious"]}},
            "schedule.policies[0] = 'oblivious': must be one of ceas, ceas_key, swap_asap, wait "
            "(the policies of topology 'chain')",
        ),
        (
            {"schedule": {"params": {"ceas": {"max_states": 0}}}},
            "schedule.params.ceas.max_states = 0: must be an integer >= 1",
        ),
        ({"schedule": {"params": {"ceas": {"cutoff_s": 1}}}}, "schedule.params.ceas"),
        (
            {"network": {"memory_slots": 2}},
            "network.memory_slots = 2: topology 'chain' has one memory per side",
        ),
        (
            {"network": {"chain_nodes": None}},
            "network.chain_nodes = None: topology 'chain' needs it",
        ),
        (
            {"network": {"efficiency": [0.5, 0.9]}},
            "network.efficiency = [0.5, 0.9]: topology 'chain' is homogeneous",
        ),
        ({"network": {"swap_success": 0}}, "network.swap_success = 0: must be a number in (0, 1]"),
    ],
)
def test_bad_chains_are_one_line_naming_the_field(change, message, tmp_path: Path, capsys) -> None:
    raw = {key: dict(value) if isinstance(value, dict) else value for key, value in CHAIN.items()}
    for section, fields in change.items():
        raw[section] = {**raw[section], **fields}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    assert main(["network", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_chain_fields_on_a_graph_network_and_a_chain_in_training_are_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match=r"network\.swap_success = 0\.5: only topology 'chain'"):
        from_dict({"network": {"swap_success": 0.5}})
    with pytest.raises(ConfigError, match=r"schedule\.cutoff_slots = 3: only topology 'chain'"):
        from_dict({"schedule": {"cutoff_slots": 3}})
    keyed = {**CHAIN, "security": {"key_source": "network"}}
    with pytest.raises(ConfigError, match=r"network.topology = 'chain': .*security.key_source"):
        from_dict(keyed)


def test_a_chain_too_large_for_its_mdp_stops_before_simulating(tmp_path: Path, capsys) -> None:
    raw = {**CHAIN, "schedule": {**CHAIN["schedule"], "params": {"ceas": {"max_states": 10}}}}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(raw))
    assert main(["network", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "schedule.params.ceas: the chain MDP has more than max_states = 10 states" in err


def test_report_of_a_chain_shows_delivery_times(tmp_path: Path) -> None:
    from qceas.experiments.report import write_report

    run_network(from_dict(CHAIN), tmp_path)
    html = write_report(tmp_path).read_text()
    assert "<h2>Repeater chain</h2>" in html
    assert "4 nodes, attempt success 0.5000, swap success 0.5000, cutoff 2 slots" in html
    assert "delivery slots (95% CI)" in html
    assert "12.7079" in html  # ceas's exact value
    assert "utilization (95% CI)" not in html  # no table of a graph network


def test_a_chain_whose_deliveries_are_too_rare_stops_before_simulating(tmp_path, capsys) -> None:
    network = {**CHAIN["network"], "attempt_success": 0.001, "swap_success": 0.1}
    raw = {**CHAIN, "network": network, "schedule": {**CHAIN["schedule"], "cutoff_slots": 1}}
    path = tmp_path / "rare.json"
    path.write_text(json.dumps(raw))
    assert main(["network", str(path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after the progress lines
    assert error.startswith("qceas: error: schedule.policies: swap_asap delivers every 1.43e+10")
    assert "raise network.attempt_success" in error


def test_chain_pairs_get_fidelity_and_key_where_the_memory_is_given(tmp_path: Path) -> None:
    network = {**CHAIN["network"], "initial_fidelity": 0.97, "coherence_time_s": 0.01}
    schedule = {**CHAIN["schedule"], "coherence_sweep_s": [0.001, 1.0]}
    summary = run_network(
        from_dict({**CHAIN, "network": network, "schedule": schedule}), tmp_path
    ).summary
    assert "fidelity_note" not in summary
    w_max = ((4 * 0.97 - 1) / 3) ** 3  # three fresh links, no storage
    for m in summary["policies"].values():
        f = m["delivered_fidelity"]
        assert 0.25 < f["ci95"][0] <= f["mean"] <= f["ci95"][1] <= 0.25 + 0.75 * w_max
        assert 0.0 <= m["key_fraction"]["mean"] <= 1.0
        assert 0.0 <= m["above_key_threshold"] <= 1.0
        seconds = m["delivery_time_s"]["mean"]
        assert m["key_bits_per_s"] == pytest.approx(m["key_fraction"]["mean"] / seconds)
    sweep = summary["sweep"]
    assert sweep["coherence_time_s"] == [0.001, 1.0]
    for v in sweep["policies"].values():
        low, high = v["delivered_fidelity"]
        assert low < high  # longer memories, better pairs, same deliveries


def test_chain_pairs_have_no_fidelity_while_the_memory_is_a_range(tmp_path: Path) -> None:
    summary = run_network(from_dict(CHAIN), tmp_path).summary
    assert "initial_fidelity and network.coherence_time_s are ranges" in summary["fidelity_note"]
    assert summary["policies"]["ceas"]["delivered_fidelity"] is None
    assert summary["sweep"] == {"coherence_time_s": [], "policies": {}}


def test_validate_warns_of_a_chain_whose_pairs_can_never_yield_key(capsys, tmp_path) -> None:
    # four links of F0 = 0.95: w = ((4·0.95 − 1)/3)^4 = 0.7588, F = 0.8191 <= 0.8350
    assert main(["validate", "chain-memory"]) == 0
    out = capsys.readouterr().out
    assert "warning: the chain's end-to-end pairs have F <= 0.8191 even with perfect" in out
    path = tmp_path / "good.json"
    network = {**CHAIN["network"], "initial_fidelity": 0.99, "coherence_time_s": 1.0}
    path.write_text(json.dumps({**CHAIN, "network": network}))
    assert main(["validate", str(path)]) == 0
    assert "warning" not in capsys.readouterr().out


def test_a_chain_run_with_the_key_policy_reports_exact_key_rates_over_the_sweep(tmp_path):
    network = {**CHAIN["network"], "initial_fidelity": 0.97, "coherence_time_s": 0.001}
    schedule = {
        **CHAIN["schedule"],
        "policies": ["swap_asap", "ceas", "ceas_key"],
        "coherence_sweep_s": [0.0005, 0.01],
    }
    summary = run_network(
        from_dict({**CHAIN, "network": network, "schedule": schedule}), tmp_path
    ).summary
    sweep = summary["sweep"]["policies"]
    for i in range(2):
        best = max(sweep[p]["exact_key_bits_per_s"][i] for p in ("swap_asap", "ceas"))
        assert sweep["ceas_key"]["exact_key_bits_per_s"][i] >= best * (1 - 1e-12)
    assert "key_bits_per_s" in sweep["swap_asap"]  # from the same deliveries
    assert "key_bits_per_s" not in sweep["ceas_key"]  # it re-plans at every T
    m = summary["policies"]["ceas_key"]
    assert m["key_bits_per_s"] > 0.0


def test_validate_refuses_the_key_policy_on_a_chain_without_the_pairs_physics(tmp_path, capsys):
    path = tmp_path / "key.json"
    path.write_text(
        json.dumps({**CHAIN, "schedule": {**CHAIN["schedule"], "policies": ["ceas_key"]}})
    )
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qceas: error: schedule.params.ceas_key: objective = 'key_rate'")
    network = {**CHAIN["network"], "initial_fidelity": 0.97, "coherence_time_s": 0.01}
    path.write_text(
        json.dumps(
            {
                **CHAIN,
                "network": network,
                "schedule": {**CHAIN["schedule"], "policies": ["ceas_key"]},
            }
        )
    )
    assert main(["validate", str(path)]) == 0
    assert "ceas_key: exact chain MDP, with each link's storage, " in capsys.readouterr().out
