"""Every bad input gets one clear line from the CLI, exit code 2, and nothing written.

* fuzz (hypothesis): a config file with one field of one section set to a bad value
  (wrong type, out of range, non-finite, huge) makes ``qceas run`` and ``qceas
  validate`` exit 2 with exactly one line on stderr, ``qceas: error: `` followed by a
  message that names the field; ``--out`` (a directory holding a finished run) is left
  exactly as it was, byte for byte; nothing is printed on stdout;
* the cases users met: huge shots, a non-UTF-8 file, ``--out ""``, YAML syntax errors
  (file and line), duplicate keys, a directory as config, unknown nested parameters.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qceas._rules import MAX_SEED
from qceas.cli import main
from qceas.config import SECTIONS, ConfigError, ExperimentConfig, from_dict

#: Fields whose value is free text: any string is valid there, so strings are not bad.
FREE_TEXT = {"name", "network.path", "engine.address"}
#: Fields that are booleans: True is valid there.
BOOLEANS = {
    f"{section}.{f.name}"
    for section, cls in SECTIONS.items()
    for f in dataclasses.fields(cls)
    if isinstance(f.default, bool)
}
TOP_LEVEL = ["name", "seed", "seeds", "sweep"]
FIELDS = TOP_LEVEL + [
    f"{section}.{f.name}" for section, cls in SECTIONS.items() for f in dataclasses.fields(cls)
]

#: Values bad for every field they are tried on (but the exemptions above): wrong
#: types, values outside every range, non-finite and huge numbers.
BAD_VALUES: list[Any] = [
    "abc",
    "1e-3",
    "",
    True,
    math.nan,
    math.inf,
    -math.inf,
    10**20,
    -(10**20),
    1e300,
    -1e300,
    -1,
    [10**20, -1],
    ["abc"],
    {"zz": 1},
]


def _is_exempt(field: str, value: Any) -> bool:
    if isinstance(value, str) and field in FREE_TEXT:
        return True
    if field == "seed" and type(value) is int and 0 <= value <= MAX_SEED:
        return True  # any int64 seed is valid: 10**13 is not a bad one
    return value is True and field in BOOLEANS


def _raw(field: str, value: Any) -> dict[str, Any]:
    section, _, name = field.partition(".")
    return {section: value} if not name else {section: {name: value}}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding a finished two-round run of the default config."""
    out = tmp_path_factory.mktemp("finished")
    assert main(["run", "--out", str(out), "--rounds", "2", "--quiet", "--no-plots"]) == 0
    return out


def _expect_one_line(capsys: pytest.CaptureFixture[str], argv: list[str], *names: str) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, (argv, captured.out[-500:], captured.err[-2000:])
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("qceas: error: "), lines[0]
    for name in names:
        assert name in lines[0], (name, lines[0])
    assert "Traceback" not in captured.err
    return lines[0]


def _check_case(
    raw: dict[str, Any],
    names: list[str],
    command: str,
    finished: Path,
    folder: Path,
    capsys: pytest.CaptureFixture[str],
) -> str | None:
    """Run one bad config through the CLI; what went wrong (None: one line naming
    one of ``names``, exit 2, ``--out`` untouched)."""
    path = folder / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    before = _snapshot(finished)
    argv = ["run", str(path), "--out", str(finished), "--quiet"]
    code = main(argv if command == "run" else ["validate", str(path)])
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    if code != 2 or len(lines) != 1 or not lines[0].startswith("qceas: error: "):
        return f"{raw}: exit {code}, stderr {captured.err[-300:]!r}"
    if not any(name in lines[0] for name in names):
        return f"{raw}: {lines[0]!r} names none of {names}"
    if _snapshot(finished) != before:
        return f"{raw}: --out changed"
    return None


def test_every_field_with_every_bad_value_is_one_line_naming_it(
    finished: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The grid: each field of each section with each bad value, through ``qceas run``
    (onto a finished run's directory) and ``qceas validate``."""
    problems, cases = [], 0
    for field in FIELDS:
        for value in BAD_VALUES:
            if _is_exempt(field, value):
                continue
            for command in ("run", "validate"):
                cases += 1
                found = _check_case(
                    _raw(field, value), [field], command, finished, tmp_path, capsys
                )
                if found:
                    problems.append(found)
    assert cases > 3000
    assert not problems, "\n".join(problems[:20])


#: Generated bad values: numbers below zero (no field takes one) or beyond 1e13 (past
#: every bound), non-finite numbers, text that names nothing ("§…"), and containers
#: of those.
_NOT_A_NAME = st.text(max_size=8).map(lambda t: "§" + t)
_BAD_NUMBER = st.one_of(
    st.floats(max_value=-1e-9, allow_infinity=True),
    st.floats(min_value=1e13, allow_infinity=True),
    st.integers(max_value=-1),
    st.integers(min_value=10**13),
    st.just(math.nan),
)
_BAD_VALUE = st.recursive(
    _BAD_NUMBER | _NOT_A_NAME,
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(_NOT_A_NAME, inner, min_size=1, max_size=2)
    ),
    max_leaves=4,
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    bad=st.dictionaries(st.sampled_from(FIELDS), _BAD_VALUE, min_size=1, max_size=3),
    command=st.sampled_from(["run", "validate"]),
)
def test_fuzz_bad_fields_are_one_line_naming_one_and_write_nothing(
    bad: dict[str, Any],
    command: str,
    finished: Path,
    tmp_path_factory: pytest.TempPathFactory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Configs with one to three bad fields: the error names one of them."""
    bad = {f: v for f, v in bad.items() if not _is_exempt(f, v)}
    if not bad:
        return
    raw: dict[str, Any] = {}
    for field, value in bad.items():
        section, _, name = field.partition(".")
        if name:
            raw.setdefault(section, {})[name] = value
        else:
            raw[section] = value
    found = _check_case(raw, list(bad), command, finished, tmp_path_factory.mktemp("case"), capsys)
    assert found is None, found


@pytest.mark.parametrize("field", FIELDS)
def test_every_field_rejects_a_huge_value(field: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The deterministic core of the fuzz: 1e300 (or 10**20) is refused everywhere."""
    for value in (1e300, 10**20):
        raw = _raw(field, value)
        with pytest.raises(ConfigError) as err:
            from_dict(raw)
        assert field in str(err.value), (field, str(err.value))
    assert ExperimentConfig()  # the defaults stay valid


# ------------------------------------------------------------ the cases users met
def _write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_huge_shots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "b.yaml", "noise: {shots: 100000000000000000000}\n")
    out = tmp_path / "out"
    line = _expect_one_line(capsys, ["run", str(path), "--out", str(out)], "noise.shots")
    assert line == (
        "qceas: error: noise.shots = 100000000000000000000: must be an integer in [1, 1000000000]"
    )
    assert not out.exists()


def test_a_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "b.yaml", b"\xff\xfe\x00x\n")
    line = _expect_one_line(capsys, ["validate", str(path)], str(path))
    assert "not UTF-8 text" in line


def test_an_empty_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    here = os.getcwd()
    os.chdir(tmp_path)
    try:
        line = _expect_one_line(capsys, ["run", "quick", "--out", ""], "--out")
        assert list(tmp_path.iterdir()) == []
        _expect_one_line(capsys, ["network", "quick", "--out", "  "], "--out")
    finally:
        os.chdir(here)
    assert "must name a directory" in line


def test_yaml_syntax_errors_name_the_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "b.yaml", "model:\n  layers: 2\n  n_qubits: [1, 2\nnodes: {count: 2}\n")
    line = _expect_one_line(capsys, ["validate", str(path)], f"{path}:")
    assert "<unicode string>" not in line
    assert "not valid YAML" in line
    toml = _write(tmp_path, "b.toml", "[model]\nlayers = \n")
    line = _expect_one_line(capsys, ["validate", str(toml)], f"{toml}:2")
    assert "not valid TOML" in line


def test_a_duplicate_key_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "b.yaml", "model: {layers: 2}\nnodes: {count: 3}\nmodel: {layers: 4}\n")
    line = _expect_one_line(capsys, ["validate", str(path)], f"{path}:3", "'model'")
    assert "duplicate key" in line
    nested = _write(tmp_path, "c.yaml", "model:\n  layers: 2\n  layers: 3\n")
    _expect_one_line(capsys, ["validate", str(nested)], f"{nested}:3", "'layers'")


def test_a_directory_as_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "conf.yaml"
    folder.mkdir()
    line = _expect_one_line(capsys, ["validate", str(folder)], str(folder))
    assert "is a directory, not a config file" in line


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("data: {params: {foo: 1}}", "data.params.foo: unknown parameter of dataset 'iris'"),
        (
            "data: {dataset: moons, params: {n_samples: -5}}",
            "data.params.n_samples = -5",
        ),
        (
            "adversary: {fraction: 0.2, params: {zeta: 1}}",
            "adversary.params.zeta: unknown parameter of attack 'alie'",
        ),
        (
            "schedule: {params: {greedy: {cut: 1}}}",
            "schedule.params.greedy.cut: unknown parameter of scheduler 'greedy'",
        ),
        (
            "partition: {scheduler_params: {ceas: {zz: 1}}}",
            "partition.scheduler_params.ceas.zz: unknown parameter of scheduler 'ceas'",
        ),
        (
            "network: {params: {spokes: 3}}",
            "network.params.spokes: unknown parameter of topology 'star'",
        ),
        (
            "training: {compositions: {mine: {aggregator: krum, params: {q: 1}}}}",
            "training.compositions.mine.params.q: unknown parameter of aggregator 'krum'",
        ),
    ],
)
def test_unknown_nested_parameters_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = _write(tmp_path, "b.yaml", text + "\n")
    line = _expect_one_line(capsys, ["validate", str(path)])
    assert expected in line
    assert "__init__()" not in line
    assert "got an unexpected keyword" not in line
