"""Run an experiment: strategies × seeds, written incrementally, resumable.

Every finished (strategy, seed) run is saved at once under ``DIR/runs/``; the tables,
summary and plots are rebuilt from those files after each run. Rerunning the same
command after an interruption reuses every finished run (checked by the config's
fingerprint), continues a run cut short from its last checkpoint
(``qceas.training.checkpoint``, written every ``training.checkpoint_every`` rounds by a
callback of the trainer's loop, as the progress bar is another) and
computes only what is missing, so ``metrics.csv`` and
``node_metrics.csv`` are identical to an uninterrupted run's (``summary.json`` differs
only in its timing and reuse counts). Adding seeds or strategies to a finished
experiment computes only the new runs. A directory that holds results of a
*different* config is refused rather than mixed.

The nodes' evaluations run on the config's engine (``engine`` section, or the
``engine`` argument): in this process, or as Ray tasks (``qceas.engine``). The engine
is set up before anything is written, so a cluster that cannot be reached leaves the
directory as it was.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from qceas.engine import Engine, make_engine
from qceas.experiments import plots, results
from qceas.experiments.config import ConfigError, ExperimentConfig, dump_yaml, since
from qceas.experiments.interrupted import Interrupted
from qceas.network import summarize as summarize_network
from qceas.reproducibility import deterministic, environment
from qceas.training import checkpoint
from qceas.training.key_supply import check_ready_times
from qceas.training.scenario import Scenario, build_scenario
from qceas.training.trainer import RoundRecord, Trainer


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_experiment`` produced."""

    summary: dict[str, Any]
    out: Path
    reused: int
    computed: int


def _check_directory(out: Path, config: ExperimentConfig) -> None:
    """Refuse an ``out`` that is a file or holds runs of another config (reads only)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: exists and is not a directory")
    stamp = out / "fingerprint.txt"
    runs = out / "runs"
    has_runs = runs.is_dir() and (any(runs.glob("*.json")) or any(runs.glob("*.ckpt")))
    written = stamp.read_text().strip() if stamp.is_file() else None
    legacy = {v: k for k, v in config.legacy_fingerprints().items()}
    if has_runs and written in legacy:
        raise ConfigError(
            f"--out {out}: holds results of this config computed by an earlier qceas "
            f"(evaluation {legacy[written]}; since then: {since(legacy[written])}); they are "
            "not reused: choose another directory or delete it"
        )
    if has_runs and written is not None and written != config.fingerprint():
        raise ConfigError(
            f"--out {out}: holds results of a different config (fingerprint "
            f"{stamp.read_text().strip()} != {config.fingerprint()}); "
            "choose another directory or delete it"
        )


def _claim_directory(out: Path, config: ExperimentConfig) -> None:
    """Create ``out`` and write the config and its fingerprint (after the checks)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"--out {out}: cannot create the directory ({exc.strerror})") from None
    results.write_atomic(out / "fingerprint.txt", config.fingerprint() + "\n")
    results.write_atomic(out / "config.yaml", dump_yaml(config))


@deterministic
def run_experiment(
    config: ExperimentConfig,
    out: str | Path,
    *,
    seeds: Sequence[int] | None = None,
    progress: bool = True,
    plot: bool = True,
    engine: Engine | None = None,
) -> RunOutcome:
    """Train every strategy of ``config`` for every seed and write the results.

    Args:
        config: the experiment.
        out: run directory (created if missing).
        seeds: seeds to run; default ``config.seed + k`` for k < ``config.seeds``.
        progress: show a progress bar on stderr.
        plot: write the PNG figures.
        engine: where the nodes' evaluations run; default: the one ``config.engine``
            names, set up here and closed at the end (a given engine is left open).
    """
    out = Path(out)
    seeds = list(seeds) if seeds is not None else [config.seed + k for k in range(config.seeds)]
    check_ready_times(config, seeds)
    if engine is not None:
        return _run_on(engine, config, out, seeds, progress, plot)
    owned = make_engine(config.engine)
    try:
        return _run_on(owned, config, out, seeds, progress, plot)
    finally:
        owned.close()


class Progress:
    """The progress bar as a callback of the trainer's loop: a resumed run's rounds
    at its start, then one step per round."""

    def __init__(self, bar: tqdm[Any], label: str) -> None:
        self.bar = bar
        self.label = label

    def on_start(self, trainer: Trainer, records: list[RoundRecord]) -> None:
        self.bar.set_postfix_str(self.label)
        self.bar.update(trainer.round)

    def on_round(self, trainer: Trainer, record: RoundRecord) -> None:
        self.bar.update(1)


@dataclass
class _Start:
    """How a (strategy, seed) run begins: its finished records, or a trainer (fresh
    or resumed from its checkpoint) with the records so far."""

    finished: list[RoundRecord] | None = None
    trainer: Trainer | None = None
    records: list[RoundRecord] | None = None
    checkpointed: int = 0  # the round its checkpoint holds (0: none)


def _start(
    out: Path,
    config: ExperimentConfig,
    fingerprint: str,
    strategy: str,
    seed: int,
    engine: Engine,
    scenarios: dict[int, Scenario],
) -> _Start:
    """Read what ``out`` holds of the run (nothing is written), else set it up."""
    previous = results.load_run(out, strategy, seed, fingerprint)
    if previous is not None:
        return _Start(finished=previous)
    resumed = checkpoint.load(out, strategy, seed, fingerprint)
    if resumed is not None:
        trainer, records = resumed
        trainer.engine = engine
        return _Start(trainer=trainer, records=records, checkpointed=trainer.round)
    if seed not in scenarios:
        scenarios.clear()  # one seed's scenario at a time
        scenarios[seed] = build_scenario(config, seed)
    trainer = Trainer(scenarios[seed], strategy, engine)
    return _Start(trainer=trainer, records=[trainer.initial_record()])


def _run_on(
    engine: Engine,
    config: ExperimentConfig,
    out: Path,
    seeds: list[int],
    progress: bool,
    plot: bool,
) -> RunOutcome:
    """``run_experiment`` once its inputs are checked and its engine is set up.

    Everything that can fail on the config (the data, the key and gate-pair
    networks, a checkpoint of another config) fails before anything is written: the
    first seed's runs are set up before the directory is claimed. Ctrl-C ends it with
    :class:`~qceas.experiments.interrupted.Interrupted`, which says what was saved.
    """
    strategies = list(config.training.strategies)
    fingerprint = config.fingerprint()
    # The data first: a config error is named before the directory is looked at.
    scenarios: dict[int, Scenario] = {seeds[0]: build_scenario(config, seeds[0])}
    _check_directory(out, config)
    first = {
        s: _start(out, config, fingerprint, s, seeds[0], engine, scenarios) for s in strategies
    }
    _claim_directory(out, config)
    started = time.perf_counter()
    runs: dict[tuple[str, int], list[RoundRecord]] = {}
    networks: dict[tuple[str, int], dict[str, Any] | None] = {}
    test_sizes: set[int | None] = set()  # held-out samples per seed, for the CIs
    reused = computed = 0
    rounds = config.training.rounds
    every = config.training.checkpoint_every
    current: tuple[str, int, Trainer, checkpoint.CheckpointEvery] | None = None
    bar = tqdm(
        total=len(seeds) * len(strategies) * rounds,
        disable=not progress,
        unit="round",
        desc=config.name,
    )
    try:
        for seed in seeds:
            for strategy in strategies:
                begin = first.pop(strategy) if seed == seeds[0] else None
                if begin is None:
                    begin = _start(out, config, fingerprint, strategy, seed, engine, scenarios)
                if begin.finished is not None:
                    checkpoint.remove(out, strategy, seed)  # a kill after saving the run
                    runs[(strategy, seed)] = begin.finished
                    networks[(strategy, seed)] = results.load_run_network(out, strategy, seed)
                    test_sizes.add(results.load_run_test_samples(out, strategy, seed))
                    reused += 1
                    bar.update(rounds)
                    continue
                trainer = begin.trainer
                assert trainer is not None
                saver = checkpoint.CheckpointEvery(
                    out, fingerprint, every, rounds, saved=begin.checkpointed
                )
                current = (strategy, seed, trainer, saver)
                callbacks = (Progress(bar, f"{strategy} seed {seed}"), saver)
                records = trainer.run(rounds, callbacks, records=begin.records)
                net = trainer.network_result()
                network = None if net is None else summarize_network(net)
                test_samples = int(trainer.scenario.dataset.x_test.shape[0])
                test_sizes.add(test_samples)
                results.save_run(out, strategy, seed, fingerprint, records, network, test_samples)
                checkpoint.remove(out, strategy, seed)
                current = None
                runs[(strategy, seed)] = records
                networks[(strategy, seed)] = network
                computed += 1
                _write_tables(out, runs, strategies, seeds)
    except KeyboardInterrupt:
        bar.close()
        raise Interrupted(_interrupted(out, len(runs), current, rounds, every)) from None
    finally:
        bar.close()
    _write_tables(out, runs, strategies, seeds)
    summary = results.summarize(
        config.name,
        fingerprint,
        seeds,
        runs,
        strategies,
        time.perf_counter() - started,
        networks,
        # Known only where every run recorded the same size (the split's size does
        # not depend on the seed; a mix means some runs did not record it).
        test_samples=test_sizes.pop() if len(test_sizes) == 1 else None,
    )
    summary["reused_runs"], summary["computed_runs"] = reused, computed
    summary["engine"] = {"name": engine.name, "threads": getattr(engine, "threads", None)}
    summary["environment"] = environment()
    results.write_atomic(out / "summary.json", _json(summary))
    if plot:
        plots.write_plots(out, runs, strategies, seeds, config.name)
    return RunOutcome(summary=summary, out=out, reused=reused, computed=computed)


def _interrupted(
    out: Path,
    finished: int,
    current: tuple[str, int, Trainer, checkpoint.CheckpointEvery] | None,
    rounds: int,
    every: int,
) -> str:
    """What an interrupted run saved, and how to go on, in one line."""
    saved = f"{finished} finished run(s) saved in {out / 'runs'}"
    if current is None:
        going = ""
    else:
        strategy, seed, trainer, saver = current
        where = f"{strategy} seed {seed} (round {trainer.round} of {rounds})"
        if saver.saved:
            going = f"; {where} goes on from its checkpoint at round {saver.saved}"
        else:
            why = "checkpoints are off" if not every else f"the first is at round {every}"
            going = f"; {where} starts again ({why})"
    return f"{saved}{going}; rerun the same command (or add --resume) to continue"


def _write_tables(
    out: Path,
    runs: dict[tuple[str, int], list[RoundRecord]],
    strategies: Sequence[str],
    seeds: Sequence[int],
) -> None:
    """metrics.csv and node_metrics.csv (and .parquet where pyarrow is installed) from
    the runs finished so far, in a fixed order."""
    order = [(st, s) for st in strategies for s in seeds if (st, s) in runs]
    for name, columns, make in (
        ("metrics", results.METRIC_COLUMNS, results.metric_rows),
        ("node_metrics", results.NODE_COLUMNS, results.node_rows),
    ):
        rows = [row for st, s in order for row in make(st, s, runs[(st, s)])]
        results.write_csv(out / f"{name}.csv", columns, rows)
        results.write_parquet(out / f"{name}.parquet", columns, rows)


def _json(body: dict[str, Any]) -> str:
    import json

    return json.dumps(body, indent=2, allow_nan=True) + "\n"
