"""Confidence intervals over seeds (``qceas.experiments.intervals``) and where they are
shown: summary.json and its table, the plot bands, the HTML report, the network
summary and its table, the sweep table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

from qceas.config import from_dict
from qceas.experiments import intervals, plots, report, results
from qceas.experiments.intervals import (
    DIFFERENCE,
    NONNEGATIVE,
    ONE_SEED,
    PROPORTION,
    T_IN_RANGE,
    UNIT,
    WILSON,
)
from qceas.training.trainer import RoundRecord

unit_values = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=30)


def _t_interval(values: list[float]) -> tuple[float, float]:
    """The plain Student-t interval of the mean (the one this module replaces)."""
    arr = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.975, arr.size - 1) * arr.std(ddof=1) / math.sqrt(arr.size)
    return float(arr.mean() - half), float(arr.mean() + half)


# ------------------------------------------------------------------ properties
@given(unit_values)
def test_wilson_effective_lies_in_unit_interval_and_contains_the_mean(values: list[float]) -> None:
    found = intervals.proportion_interval(values)
    assert found.method == WILSON
    assert found.ci95 is not None
    lo, hi = found.ci95
    assert 0.0 <= lo <= found.mean <= hi <= 1.0


@given(
    st.integers(1, 2000).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.integers(0, n), min_size=2, max_size=30))
    )
)
def test_wilson_effective_with_a_trial_count_is_a_proper_interval(
    drawn: tuple[int, list[int]],
) -> None:
    per_seed, counts = drawn
    values = [k / per_seed for k in counts]
    n_total = per_seed * len(values)
    found = intervals.proportion_interval(values, n_total)
    assert found.ci95 is not None
    lo, hi = found.ci95
    assert 0.0 <= lo <= found.mean <= hi <= 1.0
    assert found.n_eff is not None
    assert 0 < found.n_eff <= n_total
    assert hi > lo  # a known trial count always sizes the interval, even with no spread
    assert found.note is None


@given(st.floats(0.0, 1.0), st.floats(1e-3, 1e6), st.floats(0.0, 20.0))
def test_wilson_contains_p_and_its_ends_solve_the_score_equation(
    p: float, n: float, z: float
) -> None:
    # Wilson's interval is {q : (p − q)² ≤ z² q(1 − q)/n}: q = p always belongs to it,
    # and each end strictly inside (0, 1) is a root of the equality.
    lo, hi = intervals.wilson(p, n, z)
    assert 0.0 <= lo <= p <= hi <= 1.0
    for q in (lo, hi):
        if 1e-9 < q < 1 - 1e-9:
            assert (p - q) ** 2 == pytest.approx(z * z * q * (1 - q) / n, rel=1e-6, abs=1e-12)


@given(st.floats(0.0, 1.0), st.floats(0.5, 1e5), st.integers(2, 40))
def test_t_in_place_of_z_is_the_korn_graubard_degrees_of_freedom_correction(
    p: float, n: float, seeds: int
) -> None:
    # Korn & Graubard scale the effective n by (z/t)²; Wilson depends only on z²/n.
    z, t = stats.norm.ppf(0.975), intervals.t_quantile(seeds)
    ours = intervals.wilson(p, n, t)
    theirs = intervals.wilson(p, n * (z / t) ** 2, z)
    assert ours == pytest.approx(theirs, abs=1e-12)


@given(
    st.sampled_from([UNIT, NONNEGATIVE, DIFFERENCE]).flatmap(
        lambda q: st.tuples(
            st.just(q),
            st.lists(
                st.floats(q.low, q.high if math.isfinite(q.high) else 1e3),
                min_size=2,
                max_size=30,
            ),
        )
    )
)
def test_t_in_range_is_the_t_interval_cut_to_the_range(
    drawn: tuple[intervals.Quantity, list[float]],
) -> None:
    quantity, values = drawn
    found = intervals.bounded_interval(values, quantity)
    assert found.method == T_IN_RANGE
    assert found.ci95 is not None
    lo, hi = found.ci95
    assert quantity.low <= lo <= found.mean <= hi <= quantity.high
    t_lo, t_hi = _t_interval(values)
    # Intersected, not moved: an end inside the range is the t-interval's own end.
    assert lo == pytest.approx(max(quantity.low, t_lo), abs=1e-9)
    assert hi == pytest.approx(min(quantity.high, t_hi), abs=1e-9)


# ---------------------------------------------------------------- closed forms
def test_wilson_with_a_known_n_matches_the_hand_computed_value() -> None:
    lo, hi = intervals.wilson(0.8, 10, 1.96)  # 8 of 10
    assert lo == pytest.approx(0.4902, abs=5e-5)
    assert hi == pytest.approx(0.9433, abs=5e-5)


@pytest.mark.parametrize(("count", "nobs"), [(8, 10), (0, 7), (7, 7), (3, 250), (499, 1000)])
def test_wilson_matches_statsmodels(count: int, nobs: int) -> None:
    proportion = pytest.importorskip("statsmodels.stats.proportion")
    expected = proportion.proportion_confint(count, nobs, alpha=0.05, method="wilson")
    ours = intervals.wilson(count / nobs, nobs, float(stats.norm.ppf(0.975)))
    assert ours == pytest.approx(expected, abs=1e-12)


def test_equal_seeds_with_a_known_n_are_wilson_at_that_n() -> None:
    found = intervals.proportion_interval([0.8] * 5, n_total=5 * 10)
    assert found.n_eff == 50
    assert found.ci95 == pytest.approx(intervals.wilson(0.8, 50, intervals.t_quantile(5)))


def test_equal_seeds_without_a_trial_count_say_so() -> None:
    found = intervals.proportion_interval([0.1] * 3)  # np.mean([0.1] * 3) != 0.1
    assert found.ci95 == (0.1, 0.1)
    assert found.note == intervals.SEEDS_EQUAL
    assert intervals.bounded_interval([2.5, 2.5], NONNEGATIVE).note == intervals.SEEDS_EQUAL


def test_far_from_the_bounds_wilson_effective_is_the_t_interval() -> None:
    values = np.linspace(0.42, 0.58, 10).tolist()
    lo, hi = intervals.proportion_interval(values).ci95 or (0.0, 0.0)
    t_lo, t_hi = _t_interval(values)
    assert abs((hi - lo) - (t_hi - t_lo)) / (t_hi - t_lo) < 0.02
    assert abs((lo + hi) / 2 - (t_lo + t_hi) / 2) / (t_hi - t_lo) < 0.02


@given(st.lists(st.floats(0.45, 0.55), min_size=10, max_size=10))
def test_near_one_half_wilson_effective_is_within_two_percent_of_t(values: list[float]) -> None:
    assume(np.ptp(values) > 0.01)
    lo, hi = intervals.proportion_interval(values).ci95 or (0.0, 0.0)
    t_lo, t_hi = _t_interval(values)
    width = t_hi - t_lo
    assert abs(lo - t_lo) / width < 0.02
    assert abs(hi - t_hi) / width < 0.02


def test_all_seeds_perfect_with_a_known_n_reach_one_exactly() -> None:
    found = intervals.proportion_interval([1.0, 1.0, 1.0], n_total=3 * 100)
    assert found.ci95 is not None
    lo, hi = found.ci95
    assert hi == 1.0
    # Wilson at p = 1: lower end 1 / (1 + t²/n).
    assert lo == pytest.approx(1 / (1 + intervals.t_quantile(3) ** 2 / 300))
    assert 0.9 < lo < 1.0
    # And by symmetry, all seeds at 0: lower end exactly 0.
    upper = 1 - 1 / (1 + intervals.t_quantile(4) ** 2 / 40)
    assert intervals.proportion_interval([0.0] * 4, n_total=40).ci95 == (0.0, pytest.approx(upper))


def test_the_byzantine_case_stays_in_range() -> None:
    accuracy = [0.98, 0.6, 1.0]
    assert _t_interval(accuracy)[1] > 1  # what the old interval showed
    for n_total in (None, 3 * 50, 3 * 10_000):
        lo, hi = intervals.proportion_interval(accuracy, n_total).ci95 or (2.0, 2.0)
        assert 0.0 <= lo <= hi <= 1.0
    loss = [0.1, 0.9, 0.05]
    assert _t_interval(loss)[0] < 0
    lo, hi = intervals.bounded_interval(loss, NONNEGATIVE).ci95 or (-1.0, -1.0)
    assert lo == 0.0
    assert hi == pytest.approx(_t_interval(loss)[1])


def test_one_seed_has_no_interval() -> None:
    for quantity in (PROPORTION, NONNEGATIVE):
        entry = intervals.entry([0.7], quantity)
        assert entry["ci95"] is None
        assert entry["note"] == ONE_SEED
        assert entry["mean"] == 0.7
        assert json.loads(json.dumps(entry))["ci95"] is None
    # Fewer than two finite values is no interval either.
    assert intervals.entry([float("nan"), 0.5], PROPORTION)["note"] == ONE_SEED
    assert intervals.entry([None, None], UNIT)["note"] == intervals.NO_VALUE


def test_a_value_outside_the_range_is_refused() -> None:
    with pytest.raises(ValueError, match="outside the range"):
        intervals.proportion_interval([0.5, 1.2])
    with pytest.raises(ValueError, match="outside the range"):
        intervals.bounded_interval([-0.1, 0.3], NONNEGATIVE)
    with pytest.raises(ValueError, match="n_total"):
        intervals.proportion_interval([0.5, 0.6], n_total=0)


# -------------------------------------------------------- summary.json, table
def _records(
    accuracies: list[float], losses: list[float], spread: float = 0.1
) -> list[RoundRecord]:
    return [
        RoundRecord(
            r, math.nan if r == 0 else loss, 0.5, loss, acc, math.nan if r == 0 else spread, 1.0
        )
        for r, (acc, loss) in enumerate(zip(accuracies, losses, strict=True))
    ]


def _runs(finals: dict[str, list[float]]) -> dict[tuple[str, int], list[RoundRecord]]:
    losses = [0.1, 0.9, 0.05, 0.4]
    return {
        (strategy, seed): _records([0.5, 0.7, acc], [0.7, 0.5, losses[seed]], 0.01 * (seed + 1))
        for strategy, accs in finals.items()
        for seed, acc in enumerate(accs)
    }


def _entries(summary: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for s in [*summary["strategies"].values(), *summary["paired_differences"].values()]:
        found += [v for v in s.values() if isinstance(v, dict) and "ci95" in v]
    return found


def test_summary_intervals_stay_in_range_and_name_their_method() -> None:
    finals = {"fedavg": [0.98, 0.6, 1.0], "ceas": [1.0, 1.0, 1.0]}
    runs = _runs(finals)
    nets = {
        ("ceas", s): {
            "utilization": u,
            "heralded_pairs": h,
            "demand_met": 1.0,
            "mean_consumed_fidelity": 0.95,
        }
        for s, (u, h) in enumerate([(0.97, 400), (0.99, 300), (1.0, 500)])
    }
    networks = {**nets, **{("fedavg", s): None for s in range(3)}}
    for test_samples in (None, 60):
        summary = results.summarize(
            "byz", "f", [0, 1, 2], runs, list(finals), 1.0, networks, test_samples
        )
        for entry in _entries(summary):
            assert entry["ci_method"] in (WILSON, T_IN_RANGE)
            lo, hi = entry["ci95"]
            assert lo <= entry["mean"] <= hi
        fedavg, ceas = summary["strategies"]["fedavg"], summary["strategies"]["ceas"]
        assert fedavg["final_accuracy"]["ci_method"] == WILSON
        lo, hi = fedavg["final_accuracy"]["ci95"]
        assert 0.0 <= lo <= hi <= 1.0
        assert fedavg["final_test_loss"]["ci_method"] == T_IN_RANGE
        assert fedavg["final_test_loss"]["ci95"][0] == 0.0
        diff = summary["paired_differences"]["ceas - fedavg"]["final_accuracy"]
        assert diff["ci_method"] == T_IN_RANGE
        assert -1.0 <= diff["ci95"][0] <= diff["ci95"][1] <= 1.0
        assert ceas["utilization"]["n_eff"] <= 1200  # the heralded pairs over seeds
        assert ceas["demand_met"]["note"] == intervals.SEEDS_EQUAL  # demanded pairs unknown
        perfect = ceas["final_accuracy"]
        if test_samples is None:
            assert perfect["ci95"] == [1.0, 1.0]
            assert perfect["note"] == intervals.SEEDS_EQUAL
        else:
            assert perfect["n_eff"] == 3 * test_samples
            assert perfect["ci95"][1] == 1.0
            assert perfect["ci95"][0] < 1.0
            assert "note" not in perfect
        json.dumps(results.nan_to_null(summary), allow_nan=False)  # strict JSON


def test_one_seed_summary_and_table_say_no_ci() -> None:
    runs = _runs({"fedavg": [0.8], "qfi": [0.9]})
    summary = results.summarize("one", "f", [0], runs, ["fedavg", "qfi"], 1.0, test_samples=30)
    for entry in _entries(summary):
        assert entry["ci95"] is None
        assert entry["note"] == ONE_SEED
    table = results.summary_table(summary)
    assert table.count("1 seed: no CI") == 3  # two strategies and one difference
    assert "[0.800, 0.800]" not in table
    assert "95% CI 1 seed" not in table
    two = results.summarize("two", "f", [0, 1], _runs({"fedavg": [0.8, 0.6]}), ["fedavg"], 1.0)
    assert "1 seed" not in results.summary_table(two)
    lo, hi = two["strategies"]["fedavg"]["final_accuracy"]["ci95"]
    assert f"[{lo:.3f}, {hi:.3f}]" in results.summary_table(two)


def test_sweep_rows_leave_the_interval_empty_with_one_seed() -> None:
    from qceas.experiments.sweep import _rows

    one = results.summarize("one", "f", [0], _runs({"fedavg": [0.8]}), ["fedavg"], 1.0)
    two = results.summarize("two", "f", [0, 1], _runs({"fedavg": [0.8, 0.6]}), ["fedavg"], 1.0)
    done = [{"values": {"seeds": k}, **s} for k, s in ((1, one), (2, two))]
    _, rows = _rows(["seeds"], done)
    assert math.isnan(rows[0]["final_ci_low"])
    assert math.isnan(rows[0]["final_ci_high"])
    assert [rows[1]["final_ci_low"], rows[1]["final_ci_high"]] == two["strategies"]["fedavg"][
        "final_accuracy"
    ]["ci95"]


# ----------------------------------------------------------------------- plots
def test_plot_bands_stay_in_the_metric_range(tmp_path: Path) -> None:
    seeds = [0, 1, 2]
    runs = {
        ("fedavg", s): [
            RoundRecord(0, math.nan, math.nan, 0.9, 0.5, math.nan, math.nan),
            RoundRecord(1, 0.5, 0.9, 0.4, [0.98, 0.6, 1.0][s], [1e-4, 0.3, 2e-4][s], 1.0),
            RoundRecord(2, 0.4, 1.0, 0.3, 1.0, [1e-5, 0.5, 1e-5][s], 1.0),
        ]
        for s in seeds
    }
    mean, lo, hi = plots.metric_band(runs, "fedavg", seeds, "test_accuracy")
    assert np.all((lo >= 0) & (lo <= mean) & (mean <= hi) & (hi <= 1))
    assert hi[1] < 1.0 or lo[1] > 0.0
    mean, lo, hi = plots.metric_band(runs, "fedavg", seeds, "grad_variance")
    assert np.isnan(mean[0])
    assert np.isnan(lo[0])  # round 0 has no gradient: no band
    assert np.all(lo[1:] >= 0)
    assert np.all(lo[1:] <= hi[1:])
    _, lo, hi = plots.metric_band(runs, "fedavg", [0], "test_accuracy")
    assert np.isnan(lo).all()  # one seed: no band
    assert np.isnan(hi).all()
    plots.write_plots(tmp_path, runs, ["fedavg"], seeds, "bands")  # warnings are errors
    plots.write_plots(tmp_path, runs, ["fedavg"], [0], "bands")


# ---------------------------------------------------------------------- report
def _cells(text: str) -> list[str]:
    from html.parser import HTMLParser

    cells: list[str] = []

    class Cells(HTMLParser):
        inside = False

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "td":
                self.inside = True
                cells.append("")

        def handle_endtag(self, tag: str) -> None:
            if tag == "td":
                self.inside = False

        def handle_data(self, data: str) -> None:
            if self.inside:
                cells[-1] += data

    Cells().feed(text)
    return cells


def test_report_says_one_seed_no_ci(tmp_path: Path) -> None:
    summary = results.summarize(
        "one", "f", [0], _runs({"fedavg": [0.8], "qfi": [0.9]}), ["fedavg", "qfi"], 1.0
    )
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    cells = _cells(report.render(tmp_path))
    assert "0.800 (1 seed: no CI)" in cells
    assert not any("[0.800, 0.800]" in c for c in cells)


def test_report_reads_summaries_written_before_the_notes(tmp_path: Path) -> None:
    old = {
        "scenario": "old",
        "seeds": [0],
        "rounds": 2,
        "runtime_s": 1.0,
        "strategies": {
            "fedavg": {
                "final_accuracy": {"mean": 0.8, "ci95": [0.8, 0.8], "per_seed": [0.8]},
                "tail_accuracy": {"mean": 0.75, "ci95": [0.7, 0.8], "per_seed": [0.75]},
            }
        },
        "paired_differences": {},
    }
    (tmp_path / "summary.json").write_text(json.dumps(old))
    network = {
        "policies": {
            "ceas": {
                "utilization": 0.9,
                "demand_met": 0.5,
                "ci95": {"utilization": [0.9, 0.9], "demand_met": [0.4, 0.6]},
            },
            "greedy": {
                "utilization": 0.7,
                "demand_met": 0.5,
                "ci95": {"utilization": None},
                "ci_note": {"utilization": ONE_SEED},
            },
        }
    }
    (tmp_path / "network_summary.json").write_text(json.dumps(network))
    cells = _cells(report.render(tmp_path))
    assert "0.800" in cells  # a zero-width old interval: the mean alone
    assert "0.750 [0.700, 0.800]" in cells
    assert "0.900" in cells
    assert "0.500 [0.400, 0.600]" in cells
    assert "0.700 (1 seed: no CI)" in cells


# ---------------------------------------------------------------------- network
NETWORK = {
    "name": "tiny-network",
    "nodes": {"count": 4},
    "network": {"topology": "star", "coherence_time_s": [0.002, 0.2]},
    "schedule": {
        "rounds": 3,
        "round_period_s": 0.004,
        "window_s": 0.002,
        "policies": ["ceas", "greedy"],
    },
}


def test_network_summary_intervals(tmp_path: Path) -> None:
    from qceas.experiments.network_run import network_table, run_network

    config = from_dict(NETWORK)
    one = run_network(config, tmp_path / "one", seeds=[0], sweep=False, plot=False).summary
    for metrics in one["policies"].values():
        assert all(v is None for v in metrics["ci95"].values())
        assert set(metrics["ci_note"].values()) <= {ONE_SEED, intervals.NO_VALUE}
    assert "1 seed: no CI" in network_table(one)
    three = run_network(
        config, tmp_path / "three", seeds=[0, 1, 2], sweep=False, plot=False
    ).summary
    text = (tmp_path / "three" / "network_summary.json").read_text()
    assert json.loads(text)["policies"]["ceas"]["ci_method"]["utilization"] == WILSON
    for metrics in three["policies"].values():
        assert metrics["ci_method"]["mean_consumed_fidelity"] == T_IN_RANGE
        for metric, ci in metrics["ci95"].items():
            if ci is not None:
                assert 0.0 <= ci[0] <= ci[1] <= 1.0, metric
    assert "1 seed" not in network_table(three)
