"""``qceas report DIR``: one self-contained HTML file from a results directory.

Reads what ``qceas run`` and ``qceas network`` wrote into DIR (``summary.json``,
``network_summary.json``, ``sweep_summary.json``, the config they ran, every ``*.png``) and writes
``DIR/report.html``: tables of every strategy's and every policy's headline numbers
with 95% confidence intervals and per-seed values, the paired differences, the
coherence-time sweep, the configs, and the figures embedded as base64 data, so the
file opens anywhere with no other file and no network access. Everything taken from
the directory is HTML-escaped.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from qceas._rules import ConfigError
from qceas.experiments import intervals, results

#: Files whose presence makes a directory reportable.
SUMMARIES = ("summary.json", "network_summary.json", "sweep_summary.json")

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #c8c8c8; padding: 0.25rem 0.5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f0f0f0; }
figure { margin: 1rem 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; color: #555; }
pre { background: #f7f7f7; padding: 0.75rem; overflow-x: auto; font-size: 0.8rem; }
.muted { color: #666; font-size: 0.85rem; }
"""

#: How the intervals were made (``qceas.experiments.intervals``), under the first table.
_METHODS = (
    '<p class="muted">95% intervals over seeds: accuracies and other shares of events, '
    "Wilson's score interval at the effective sample size (Korn &amp; Graubard), with the "
    "Student-t quantile; losses, fidelities and paired differences, the Student-t interval "
    "cut to the quantity's range. With one seed there is no interval.</p>"
)


def write_report(directory: str | Path, output: str | Path | None = None) -> Path:
    """Write the report of ``directory``; returns its path (default ``DIR/report.html``).

    Raises ConfigError if the directory does not exist or holds no summary.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ConfigError(f"report: {folder} is not a directory")
    found = [name for name in SUMMARIES if (folder / name).is_file()]
    if not found:
        raise ConfigError(
            f"report: {folder} holds none of {', '.join(SUMMARIES)}; "
            "run `qceas run` or `qceas network` into it first"
        )
    target = Path(output) if output is not None else folder / "report.html"
    results.write_atomic(target, render(folder))
    return target


def render(folder: Path) -> str:
    """The report of ``folder`` as one HTML document."""
    parts: list[str] = []
    training = _load(folder / "summary.json")
    network = _load(folder / "network_summary.json")
    sweep = _load(folder / "sweep_summary.json")
    name = (training or network or sweep or {}).get("scenario", folder.name)
    parts.append(f"<h1>qceas report: {_e(name)}</h1>")
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f'<p class="muted">From <code>{_e(folder.name)}</code>, written {stamp}.</p>')
    if training is not None:
        parts.extend(_training_section(training))
    if network is not None:
        parts.extend(_network_section(network))
    if sweep is not None:
        parts.extend(_sweep_section(sweep))
    parts.extend(_figures(folder))
    parts.extend(_configs(folder))
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>qceas report: {_e(name)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


# ------------------------------------------------------------------- sections
def _training_section(summary: Mapping[str, Any]) -> list[str]:
    seeds = summary.get("seeds", [])
    out = [
        "<h2>Training</h2>",
        f"<p>{len(seeds)} seed(s) ({_e(', '.join(str(s) for s in seeds))}), "
        f"{_e(summary.get('rounds', '?'))} rounds, {_num(summary.get('runtime_s'), 1)} s.</p>",
    ]
    strategies = summary.get("strategies", {})
    metrics = ("final_accuracy", "tail_accuracy", "final_test_loss", "final_train_loss")
    rows = []
    for strategy, s in strategies.items():
        row = [strategy]
        for metric in metrics:
            row.append(_with_ci(s.get(metric)))
        for key in ("mean_grad_variance", "rejected_updates", "refused_no_key", "skipped_rounds"):
            row.append(_num(s.get(key), 4 if key == "mean_grad_variance" else 0))
        rows.append(row)
    header = [
        "strategy",
        "final accuracy (95% CI)",
        "tail accuracy",
        "final test loss",
        "final train loss",
        "gradient spread",
        "rejected",
        "refused (no key)",
        "skipped rounds",
    ]
    out.append(_table(header, rows))
    out.append(_METHODS)
    split = [(name, s) for name, s in strategies.items() if "gate_fidelity" in s]
    hardware = [(name, s) for name, s in strategies.items() if "final_hardware_accuracy" in s]
    if split or hardware:
        out.append(
            "<p>On the nodes' own hardware (noise and teleported gates), and the Bell pairs "
            "behind the teleported gates:</p>"
        )
        out.append(
            _table(
                ["strategy", "final accuracy on hardware (95% CI)", "gate pair F", "shots met"],
                [
                    [
                        name,
                        _with_ci(s.get("final_hardware_accuracy")),
                        _with_ci(s.get("gate_fidelity")),
                        _with_ci(s.get("gate_shots_met")),
                    ]
                    for name, s in strategies.items()
                ],
            )
        )
    per_seed = [
        [strategy, *(_num(v, 3) for v in s.get("final_accuracy", {}).get("per_seed", []))]
        for strategy, s in strategies.items()
    ]
    if per_seed:
        out.append("<p>Final accuracy per seed:</p>")
        out.append(_table(["strategy", *(f"seed {s}" for s in seeds)], per_seed))
    differences = summary.get("paired_differences", {})
    if differences:
        out.append("<p>Paired differences (same seeds):</p>")
        diff_rows = [
            [pair, _with_ci(d.get("final_accuracy")), _with_ci(d.get("tail_accuracy"))]
            for pair, d in differences.items()
        ]
        out.append(_table(["difference", "final accuracy", "tail accuracy"], diff_rows))
    return out


def _network_section(summary: Mapping[str, Any]) -> list[str]:
    if summary.get("model") == "chain":
        return _chain_section(summary)
    seeds = summary.get("seeds", [])
    out = ["<h2>Network and scheduling</h2>"]
    net = summary.get("network", {})
    if net:
        out.append(
            f"<p>{_e(net.get('qpu_nodes', '?'))} QPUs, {_e(net.get('links', '?'))} links, "
            f"slot {_num(net.get('slot_s'), 6)} s; {len(seeds)} seed(s).</p>"
        )
    demand = summary.get("demand", {})
    if demand:
        out.append(
            f"<p>Demand: {_e(demand.get('pairs_per_round'))} pairs per QPU per round of "
            f"{_num(demand.get('round_period_s'), 4)} s, window {_num(demand.get('window_s'), 4)}"
            f" s, {_e(demand.get('rounds'))} rounds.</p>"
        )
    rows = []
    for policy, m in summary.get("policies", {}).items():
        ci, notes = m.get("ci95", {}), m.get("ci_note", {})
        waste = m.get("waste", {})
        rows.append(
            [
                policy,
                _mean_ci(m.get("utilization"), ci.get("utilization"), notes.get("utilization")),
                _num(m.get("mean_consumed_fidelity"), 4),
                _mean_ci(m.get("demand_met"), ci.get("demand_met"), notes.get("demand_met")),
                _num(m.get("heralded_pairs"), 0),
                _num(m.get("key_bits_total"), 1),
                ", ".join(f"{_e(k)} {_num(v, 0)}" for k, v in waste.items()),
            ]
        )
    header = [
        "policy",
        "utilization (95% CI)",
        "mean consumed F",
        "demand met (95% CI)",
        "heralded",
        "key bits",
        "waste (link pairs)",
    ]
    out.append(_table(header, rows))
    out.extend(_by_hops_table(summary.get("policies", {})))
    sweep = summary.get("sweep", {})
    times = sweep.get("coherence_time_s", [])
    if times:
        out.append("<p>Sweep over a common coherence time (utilization / demand met):</p>")
        sweep_rows = []
        for policy, m in sweep.get("policies", {}).items():
            cells = zip(m.get("utilization", []), m.get("demand_met", []), strict=False)
            sweep_rows.append([policy, *(f"{_num(u, 3)} / {_num(d, 3)}" for u, d in cells)])
        out.append(_table(["policy", *(f"T = {_num(t, 6)} s" for t in times)], sweep_rows))
    return out


def _by_hops_table(policies: Mapping[str, Any]) -> list[str]:
    """Per route length, where the routes have more than one (``by_hops``)."""
    lengths = sorted({h for m in policies.values() for h in m.get("by_hops", {})}, key=int)
    if len(lengths) < 2:
        return []
    rows = []
    for policy, m in policies.items():
        for h in lengths:
            e = m.get("by_hops", {}).get(h, {})
            rows.append(
                [
                    policy,
                    _e(h),
                    _num(e.get("qpus"), 1),
                    _num(e.get("utilization"), 3),
                    _num(e.get("mean_consumed_fidelity"), 4),
                    _num(e.get("above_threshold"), 3),
                    _num(e.get("demand_met"), 3),
                ]
            )
    header = [
        "policy",
        "hops",
        "QPUs",
        "utilization",
        "mean consumed F",
        "above key F",
        "demand met",
    ]
    return ["<p>By route length (means over seeds):</p>", _table(header, rows)]


def _chain_section(summary: Mapping[str, Any]) -> list[str]:
    """A repeater chain's delivery times (``qceas.experiments.chain_run``)."""
    chain = summary.get("chain", {})
    out = [
        "<h2>Repeater chain</h2>",
        f"<p>{_e(chain.get('nodes', '?'))} nodes, attempt success "
        f"{_num(chain.get('attempt_success'), 4)}, swap success "
        f"{_num(chain.get('swap_success'), 4)}, cutoff {_e(chain.get('cutoff_slots'))} "
        f"slots, slot {_num(chain.get('slot_s'), 6)} s; {len(summary.get('seeds', []))} "
        f"seed(s) × {_e(chain.get('deliveries_per_seed', '?'))} deliveries.</p>",
    ]
    rows = []
    for policy, m in summary.get("policies", {}).items():
        seconds = m.get("delivery_time_s", {})
        mean_ms = None if seconds.get("mean") is None else 1e3 * seconds["mean"]
        ci_ms = None if seconds.get("ci95") is None else [1e3 * v for v in seconds["ci95"]]
        rows.append(
            [
                policy,
                _with_ci(m.get("delivery_time_slots")),
                _num(m.get("exact_delivery_time_slots"), 4),
                _e({True: "yes", False: "no", None: "n/a"}[m.get("exact_within_ci")]),
                _mean_ci(mean_ms, ci_ms, None),
            ]
        )
    header = ["policy", "delivery slots (95% CI)", "exact", "exact in CI", "delivery ms"]
    policies = summary.get("policies", {})
    if any(m.get("delivered_fidelity") for m in policies.values()):
        header += ["delivered F (95% CI)", "key fraction", "key bits/s"]
        for row, m in zip(rows, policies.values(), strict=True):
            key = m.get("key_fraction") or {}
            row += [
                _with_ci(m.get("delivered_fidelity")),
                _num(key.get("mean"), 4),
                _num(m.get("key_bits_per_s"), 1),
            ]
    out.append(_table(header, rows))
    if summary.get("fidelity_note"):
        out.append(f'<p class="muted">{_e(summary["fidelity_note"])}</p>')
    return out


def _sweep_section(summary: Mapping[str, Any]) -> list[str]:
    from qceas.experiments.sweep import value_label

    params = [str(p) for p in summary.get("parameters", [])]
    out = [f"<h2>Sweep over {_e(', '.join(params))}</h2>"]
    points = summary.get("points", [])
    with_network = any(point.get("network") for point in points)
    rows = []
    for point in points:
        values = point.get("values", {})
        for strategy, acc in point.get("strategies", {}).items():
            row = [strategy, *(_e(value_label(values.get(p))) for p in params), _with_ci(acc)]
            if with_network:
                net = point.get("network", {}).get(strategy, {})
                row += [_num(net.get(k), 3) for k in ("utilization", "demand_met")]
            rows.append(row)
    network_columns = ["utilization", "key demand met"] if with_network else []
    out.append(_table(["strategy", *params, "final accuracy (95% CI)", *network_columns], rows))
    worst = summary.get("worst_case", {})
    table = worst.get("final_accuracy", {})
    argmin = worst.get("argmin", {})
    if table and worst.get("over"):
        xs = sorted({x for row in table.values() for x in row}, key=str)
        out.append(
            f"<p>Worst case over {_e(', '.join(worst['over']))}, by {_e(worst.get('by'))} "
            "(the point that gave it in brackets):</p>"
        )

        def cell(strategy: str, x: str) -> str:
            at = argmin.get(strategy, {}).get(x, {})
            where = ", ".join(value_label(at[p]) for p in worst["over"] if p in at)
            value = _num(table[strategy].get(x), 3)
            return f"{value} <small>({_e(where)})</small>" if where else value

        out.append(_table(["strategy", *xs], [[s, *(cell(s, x) for x in xs)] for s in table]))
    return out


def _figures(folder: Path) -> list[str]:
    images = sorted(folder.glob("*.png"))
    if not images:
        return []
    out = ["<h2>Figures</h2>"]
    for image in images:
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        out.append(
            f'<figure><img alt="{_e(image.stem)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(image.name)}</figcaption></figure>"
        )
    return out


def _configs(folder: Path) -> list[str]:
    out = []
    for name in ("config.yaml", "network_config.yaml"):
        path = folder / name
        if path.is_file():
            out.append(f"<details><summary>{_e(name)}</summary><pre>{_e(path.read_text())}</pre>")
            out.append("</details>")
    return (["<h2>Configuration</h2>", *out]) if out else []


# -------------------------------------------------------------------- helpers
def _load(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"report: {path} is not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"report: {path} must hold a JSON object")
    return data


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: object, digits: int) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "n/a" if value is None else _e(value)
    if not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}"


def _mean_ci(mean: object, ci: object, note: object = None) -> str:
    """``mean [lo, hi]``; where there is no interval, the mean and the note that says
    why (``1 seed: no CI``). Summaries written before intervals had notes hold a
    zero-width interval for one seed: that shows as the mean alone."""
    text = _num(mean, 3)
    bounds, why = intervals.shown(ci, note)
    if bounds is not None:
        return f"{text} [{_num(bounds[0], 3)}, {_num(bounds[1], 3)}]"
    return f"{text} <small>({_e(why)})</small>" if why else text


def _with_ci(stat: object) -> str:
    if not isinstance(stat, Mapping):
        return "n/a"
    return _mean_ci(stat.get("mean"), stat.get("ci95"), stat.get("note"))


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{cell if i else _e(cell)}</td>" for i, cell in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
