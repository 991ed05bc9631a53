"""``qceas report``: one self-contained, valid HTML file with every table and figure."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from qceas.cli import main
from qceas.config import ConfigError, from_dict
from qceas.experiments import run_experiment
from qceas.experiments.network_run import run_network
from qceas.experiments.report import write_report

TRAINING = {
    "name": "report-demo",
    "seeds": 2,
    "model": {"n_qubits": 3, "layers": 1},
    "nodes": {"count": 3},
    "training": {"rounds": 2},
}
NETWORK = {
    "name": "report-demo",
    "nodes": {"count": 3},
    "schedule": {"rounds": 2, "round_period_s": 0.004, "coherence_sweep_s": [0.001, 0.1]},
}

VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Checker(HTMLParser):
    """Checks nesting, collects images, table cells and any external reference."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.images: list[str] = []
        self.cells: list[str] = []
        self.external: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("src", "href"):
            value = values.get(key) or ""
            if value and not value.startswith("data:"):
                self.external.append(value)
        if tag == "img":
            self.images.append(values.get("src") or "")
        if tag in ("td", "th"):
            self._in_cell = True
            self.cells.append("")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack, f"</{tag}> closes nothing"
        assert self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1]}>"
        self.stack.pop()
        if tag in ("td", "th"):
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def _parse(text: str) -> _Checker:
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == [], f"unclosed tags: {checker.stack}"
    return checker


def test_report_embeds_every_figure_and_table(tmp_path: Path) -> None:
    run_experiment(from_dict(TRAINING), tmp_path, progress=False)
    run_network(from_dict(NETWORK), tmp_path)
    path = write_report(tmp_path)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    page = _parse(text)
    assert page.external == []  # self-contained: no file or URL outside the document
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(page.images) == len(pngs) >= 3
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("fedavg", "qfi", "ceas", "oblivious", "greedy", "random", "qfi - fedavg"):
        assert name in page.cells
    summary = json.loads((tmp_path / "summary.json").read_text())
    mean = summary["strategies"]["qfi"]["final_accuracy"]["mean"]
    assert any(cell.startswith(f"{mean:.3f}") for cell in page.cells)


def test_report_escapes_what_it_reads(tmp_path: Path) -> None:
    (tmp_path / "network_summary.json").write_text(
        json.dumps({"scenario": "<script>x</script>", "policies": {"<b>p</b>": {}}})
    )
    text = write_report(tmp_path).read_text()
    assert "<script>" not in text
    assert "&lt;b&gt;p&lt;/b&gt;" in text
    _parse(text)


def test_report_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="is not a directory"):
        write_report(tmp_path / "missing")
    with pytest.raises(ConfigError, match=r"holds none of summary\.json, network_summary\.json"):
        write_report(tmp_path)
    (tmp_path / "summary.json").write_text("{not json")
    assert main(["report", str(tmp_path)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err


def test_report_of_a_sweep_shows_points_and_the_worst_case(tmp_path: Path) -> None:
    from qceas.experiments.sweep import run_sweep

    raw = {
        "model": {"n_qubits": 3, "layers": 1},
        "nodes": {"count": 6},
        "training": {"rounds": 1, "strategies": ["fedavg", "ceas"]},
        "sweep": {"adversary.attack": ["alie", "ipm"], "adversary.fraction": [0.0, 0.34]},
    }
    run_sweep(from_dict(raw), tmp_path, progress=False)
    text = write_report(tmp_path).read_text()
    page = _parse(text)
    assert "Worst case over adversary.attack, by adversary.fraction" in text
    assert "ceas" in page.cells
    assert "ipm" in page.cells
    assert len(page.images) == 1  # sweep_accuracy.png


def test_report_of_a_multi_hop_network_has_a_table_by_route_length(tmp_path: Path) -> None:
    raw = {**NETWORK, "network": {"topology": "line", "coherence_time_s": 1.0}}
    run_network(from_dict(raw), tmp_path, plot=False)
    html = write_report(tmp_path).read_text()
    assert "By route length (means over seeds)" in html
    assert html.count("<td>ceas</td><td>") >= 3  # one row per route length 1, 2, 3


def test_report_of_a_star_has_no_table_by_route_length(tmp_path: Path) -> None:
    run_network(from_dict(NETWORK), tmp_path, plot=False)
    assert "By route length" not in write_report(tmp_path).read_text()
