"""Checkpoints: a run cut short anywhere resumes to numbers identical to an
uninterrupted run, without redoing a finished round; bad checkpoints are clear
errors that overwrite nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qceas.cli import main
from qceas.config import ConfigError, dump_yaml, from_dict
from qceas.experiments import run_experiment
from qceas.training import checkpoint
from qceas.training.trainer import Trainer

# Keys from a simulated network: the richest state a checkpoint must carry (stored
# pairs, ledgers, CEAS tables, several random streams), and an attack.
RAW: dict[str, Any] = {
    "name": "ckpt",
    "seeds": 2,
    "model": {"n_qubits": 3, "layers": 2},
    "data": {"dataset": "iris", "max_samples": 60},
    "nodes": {"count": 5},
    "noise": {"depolarizing": [0.01, 0.01, 0.05, 0.1, 0.1], "shots": 50},
    "training": {
        "rounds": 9,
        "strategies": ["qfi", "ceas"],
        "batch_size": 4,
        "checkpoint_every": 2,
    },
    "adversary": {"fraction": 0.2, "attack": "alie"},
    "security": {"key_source": "network", "scheduler": "ceas"},
    "network": {"coherence_time_s": 0.1, "memory_slots": 2},
    "schedule": {"pairs_per_round": 20, "round_period_s": 0.02, "window_s": 0.01},
}


def _tables(out: Path) -> tuple[str, str]:
    return (out / "metrics.csv").read_text(), (out / "node_metrics.csv").read_text()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    out = tmp_path_factory.mktemp("whole")
    run_experiment(from_dict(RAW), out, progress=False, plot=False)
    assert not list((out / "runs").glob("*.ckpt"))  # finished runs leave none behind
    return _tables(out)


class _Crash(Exception):
    pass


@pytest.mark.parametrize("crash_after", [4, 9, 23])
def test_a_run_cut_short_anywhere_resumes_to_identical_numbers(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    uninterrupted: tuple[str, str],
    crash_after: int,
) -> None:
    step = Trainer.step
    calls = {"n": 0}

    def counting(self: Trainer) -> Any:
        calls["n"] += 1
        if calls["n"] > crash_after and calls.get("crash", True):
            raise _Crash
        return step(self)

    monkeypatch.setattr(Trainer, "step", counting)
    with pytest.raises(_Crash):
        run_experiment(from_dict(RAW), tmp_path, progress=False, plot=False)
    # What survived the crash: finished runs and the last checkpoint of the cut run.
    finished = len(list((tmp_path / "runs").glob("*.json")))
    saved = [
        checkpoint.load(tmp_path, s, d, from_dict(RAW).fingerprint())
        for s, d in [("qfi", 0), ("ceas", 0), ("qfi", 1), ("ceas", 1)]
    ]
    kept_rounds = sum(t.round for t, _ in (x for x in saved if x is not None))
    calls.update(n=0, crash=False)
    run_experiment(from_dict(RAW), tmp_path, progress=False, plot=False)
    assert _tables(tmp_path) == uninterrupted
    # No finished round was redone: the rerun stepped exactly the rounds not yet saved.
    assert calls["n"] == 4 * 9 - 9 * finished - kept_rounds
    assert not list((tmp_path / "runs").glob("*.ckpt"))


def _cli_until_a_checkpoint(
    tmp_path: Path, **popen: Any
) -> tuple[subprocess.Popen[str], list[str], Path]:
    """``qceas run`` of RAW in a child process, returned once its first checkpoint is
    on disk (or it ended); with its argv and its run directory."""
    config = tmp_path / "ckpt.yaml"
    config.write_text(dump_yaml(from_dict(RAW)))
    out = tmp_path / "out"
    argv = ["run", str(config), "--out", str(out), "--quiet", "--no-plots"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src")])}
    code = f"import sys; from qceas.cli import main; sys.exit(main({argv!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, text=True, **popen)
    deadline = time.monotonic() + 120
    while not list((out / "runs").glob("*.ckpt")) and proc.poll() is None:
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail("no checkpoint appeared within 120 s")
        time.sleep(0.02)
    return proc, argv, out


def test_kill_9_at_random_points_then_resume(
    tmp_path: Path, uninterrupted: tuple[str, str]
) -> None:
    """A real SIGKILL, at random moments after the first checkpoint, three times over."""
    rng = np.random.default_rng(7)
    kills = 0
    for _ in range(3):
        proc, argv, out = _cli_until_a_checkpoint(tmp_path)
        time.sleep(float(rng.uniform(0.0, 1.0)))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 1
    assert main([*argv, "--resume"]) == 0
    assert _tables(out) == uninterrupted


def test_ctrl_c_says_in_one_line_what_was_saved_and_the_rerun_resumes(
    tmp_path: Path, uninterrupted: tuple[str, str]
) -> None:
    """A real SIGINT after the first checkpoint: exit 130, one line on stderr naming
    what is saved (no traceback), and a rerun ends with the uninterrupted tables."""
    proc, argv, out = _cli_until_a_checkpoint(tmp_path, stderr=subprocess.PIPE)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:  # pragma: no cover - it finished before the signal
        pytest.skip("the run finished before the signal arrived")
    lines = err.strip().splitlines()
    assert proc.returncode == 130, err
    assert len(lines) == 1, err
    assert lines[0].startswith("qceas: interrupted: "), lines[0]
    assert f"finished run(s) saved in {out / 'runs'}" in lines[0]
    assert "rerun the same command (or add --resume) to continue" in lines[0]
    assert "goes on from its checkpoint at round" in lines[0] or "starts again" in lines[0]
    assert main([*argv, "--resume"]) == 0
    assert _tables(out) == uninterrupted


def _one_checkpoint(out: Path) -> Path:
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    step = Trainer.step

    def stop_at_five(self: Trainer) -> Any:
        if self.round == 5:
            raise _Crash
        return step(self)

    Trainer.step = stop_at_five  # type: ignore[method-assign]
    try:
        with pytest.raises(_Crash):
            run_experiment(from_dict(raw), out, progress=False, plot=False)
    finally:
        Trainer.step = step  # type: ignore[method-assign]
    (path,) = (out / "runs").glob("*.ckpt")
    return path


def test_a_corrupt_checkpoint_is_a_clear_error_and_is_left_alone(tmp_path: Path) -> None:
    path = _one_checkpoint(tmp_path)
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    blob = path.read_bytes()
    for damaged in (blob[: len(blob) // 2], b"garbage\n" + blob[20:]):
        path.write_bytes(damaged)
        with pytest.raises(ConfigError, match=r"qfi__seed0\.ckpt: (corrupt|not a qceas)"):
            run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
        assert path.read_bytes() == damaged


def test_a_checkpoint_of_another_config_is_refused_and_kept(tmp_path: Path) -> None:
    path = _one_checkpoint(tmp_path)
    blob = path.read_bytes()
    other = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    other["optimizer"] = {"name": "adam", "learning_rate": 0.2}
    with pytest.raises(ConfigError, match="holds results of a different config"):
        run_experiment(from_dict(other), tmp_path, progress=False, plot=False)
    with pytest.raises(ConfigError, match="written by a config with fingerprint"):
        checkpoint.load(tmp_path, "qfi", 0, from_dict(other).fingerprint())
    assert path.read_bytes() == blob


def test_resume_needs_a_run_of_the_same_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "quick", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "--resume: " in capsys.readouterr().err
    _one_checkpoint(tmp_path)
    assert main(["run", "quick", "--out", str(tmp_path), "--resume", "--quiet"]) == 2
    assert "holds a run of another config" in capsys.readouterr().err


def test_the_checkpoint_interval_changes_no_number_and_zero_writes_none(tmp_path: Path) -> None:
    every = {**RAW, "training": {**RAW["training"], "checkpoint_every": 0}}
    assert from_dict(every).fingerprint() == from_dict(RAW).fingerprint()
    raw = {**every, "seeds": 1, "training": {**every["training"], "strategies": ["qfi"]}}
    step = Trainer.step
    seen: list[bool] = []

    def watch(self: Trainer) -> Any:
        seen.append(bool(list((tmp_path / "runs").glob("*.ckpt"))))
        return step(self)

    Trainer.step = watch  # type: ignore[method-assign]
    try:
        run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    finally:
        Trainer.step = step  # type: ignore[method-assign]
    assert seen
    assert not any(seen)
    with pytest.raises(
        ConfigError, match=r"training\.checkpoint_every = -1: must be an integer in \[0, 1000000\]"
    ):
        from_dict({"training": {"checkpoint_every": -1}})


def test_a_kill_after_a_run_is_saved_leaves_no_stale_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _one_checkpoint(tmp_path)
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    monkeypatch.setattr(checkpoint, "remove", lambda *args: None)  # killed before removal
    run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    assert path.is_file()
    half = path.with_name(path.name + ".tmp")
    half.write_bytes(b"half of a checkpoint")  # a kill during a save
    monkeypatch.undo()
    outcome = run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    assert (outcome.reused, outcome.computed) == (1, 0)
    assert not path.exists()
    assert not half.exists()


def test_resume_accepts_a_sweep_of_the_same_fingerprint_only(tmp_path: Path) -> None:
    from qceas.cli import _check_resumable

    sweep = {**RAW, "sweep": {"optimizer.learning_rate": [0.05, 0.1]}}
    (tmp_path / "sweep_config.yaml").write_text(dump_yaml(from_dict(sweep)))
    _check_resumable(tmp_path, from_dict({**sweep, "seeds": 3, "name": "grown"}))
    for other in (
        {**sweep, "model": {"n_qubits": 3, "layers": 3}},
        {**sweep, "sweep": {"optimizer.learning_rate": [0.05, 0.2]}},
    ):
        with pytest.raises(ConfigError, match="holds a run of another config"):
            _check_resumable(tmp_path, from_dict(other))


def test_the_runners_checkpoint_callback_writes_at_the_interval(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``checkpoint_every`` rounds, with every record so far, and not after the
    last round (the finished run's file supersedes it)."""
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    save = checkpoint.save
    written: list[tuple[int, int]] = []

    def spy(out: Path, fingerprint: str, trainer: Trainer, records: list[Any]) -> Path:
        written.append((trainer.round, len(records)))
        assert [r.round for r in records] == list(range(trainer.round + 1))
        return save(out, fingerprint, trainer, records)

    monkeypatch.setattr(checkpoint, "save", spy)
    run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    assert written == [(2, 3), (4, 5), (6, 7), (8, 9)]
    written.clear()
    odd = {**raw, "training": {**raw["training"], "checkpoint_every": 3}}
    run_experiment(from_dict(odd), tmp_path / "odd", progress=False, plot=False)
    assert written == [(3, 4), (6, 7)]  # not at round 9, the last


def test_checkpoint_every_saves_the_loops_records(tmp_path: Path) -> None:
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    config = from_dict(raw)
    from qceas.training import build_scenario

    trainer = Trainer(build_scenario(config, 0), "qfi")
    saver = checkpoint.CheckpointEvery(tmp_path, config.fingerprint(), 2, 5)
    records = trainer.run(3, [saver])
    assert saver.saved == 2
    loaded = checkpoint.load(tmp_path, "qfi", 0, config.fingerprint())
    assert loaded is not None
    again, kept = loaded
    assert again.round == 2
    assert repr(kept) == repr(records[:3])
    trainer.run(5, [saver], records=records)
    assert saver.saved == 4  # round 5 is the last: no checkpoint after it


def test_a_checkpoint_of_an_earlier_format_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _one_checkpoint(tmp_path)
    header, _, payload = path.read_bytes().partition(b"\n")
    old = header.replace(checkpoint.FORMAT.encode(), b"qceas-checkpoint/1")
    path.write_bytes(old + b"\n" + payload)
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    expected = (
        r"qfi__seed0\.ckpt: format qceas-checkpoint/1, written by another qceas; this one "
        r"reads qceas-checkpoint/2 only: delete it to restart this run from round 0"
    )
    with pytest.raises(ConfigError, match=expected):
        run_experiment(from_dict(raw), tmp_path, progress=False, plot=False)
    assert path.read_bytes() == old + b"\n" + payload  # left alone
    config = tmp_path / "ckpt.yaml"
    config.write_text(dump_yaml(from_dict(raw)))
    assert main(["run", str(config), "--out", str(tmp_path), "--quiet", "--no-plots"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "format qceas-checkpoint/1" in err[0]
    assert "reads qceas-checkpoint/2" in err[0]


def test_results_of_an_earlier_evaluation_are_refused_with_what_changed(
    tmp_path: Path,
) -> None:
    """A directory stamped with an earlier evaluation version's fingerprint of the same
    config is refused, and the message says what changed since that version."""
    _one_checkpoint(tmp_path)
    raw = {**RAW, "seeds": 1, "training": {**RAW["training"], "strategies": ["qfi"]}}
    config = from_dict(raw)
    version, stamp = max(config.legacy_fingerprints().items())
    (tmp_path / "fingerprint.txt").write_text(stamp + "\n")
    with pytest.raises(ConfigError, match=rf"evaluation {version}; since then: "):
        run_experiment(config, tmp_path, progress=False, plot=False)
