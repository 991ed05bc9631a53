"""Checkpoints of a run in progress: the whole trainer, written atomically.

Every ``training.checkpoint_every`` rounds (:class:`CheckpointEvery`, a callback of
the trainer's loop) a (strategy, seed) run saves its
:class:`~qceas.training.trainer.Trainer` and its records so far to
``DIR/runs/<strategy>__seed<seed>.ckpt``. The trainer carries everything the next round
depends on: θ and the optimizer state, every random generator (minibatches, attacks,
the key and gate-pair network simulations; the nodes' shot streams are derived from
the round), the network simulations
themselves (stored pairs, ledgers, scheduler tables) and the transport's counters. A
run resumed from a checkpoint therefore ends with numbers identical to an
uninterrupted run; it redoes only the rounds after its last checkpoint (at most
``checkpoint_every − 1``), and no finished run.

File layout: one line of JSON (format, config fingerprint, strategy, seed, round), then
the pickled ``(trainer, records)``. The header is checked before anything is
unpickled, so a checkpoint of another config, or of another format, is refused
without being loaded. Format 2 pickles the trainer with its key supply, adversary and
channel as separate objects (``qceas.training.key_supply``, ``qceas.attacks.adversary``);
a format-1 checkpoint holds the trainer of an earlier qceas, whose state this one
cannot continue, and is refused with a message naming both formats. Writes
go to a temporary file that replaces the old checkpoint in one ``os.replace``: a kill
at any moment leaves either the previous checkpoint or the new one, never half of one.

The trainer's engine (a Ray connection) is not saved: a loaded trainer runs
locally until the runner hands it the engine of the new run, which gives the same
numbers (``qceas.engine``).

Why pickle: the state spans objects of every layer (numpy arrays, the schedulers' MDP
tables, the pair ledger); pickle restores all of them exactly, where a hand-written
format would have to follow each one. Loading a pickle trusts its author: a
checkpoint is the user's own output, and these files are not meant to be exchanged.
"""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qceas._rules import ConfigError

if TYPE_CHECKING:
    from qceas.training.trainer import RoundRecord, Trainer

#: First field of a checkpoint's header.
FORMAT = "qceas-checkpoint/2"


def path_of(out: Path, strategy: str, seed: int) -> Path:
    """Where the checkpoint of (strategy, seed) lives under the run directory."""
    return Path(out) / "runs" / f"{strategy}__seed{seed}.ckpt"


def save(out: Path, fingerprint: str, trainer: Trainer, records: list[RoundRecord]) -> Path:
    """Write the checkpoint of ``trainer`` (after ``trainer.round`` rounds) atomically."""
    path = path_of(out, trainer.strategy_name, trainer.scenario.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT,
        "fingerprint": fingerprint,
        "strategy": trainer.strategy_name,
        "seed": trainer.scenario.seed,
        "round": trainer.round,
    }
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(json.dumps(header).encode() + b"\n")
        pickle.dump((trainer, list(records)), handle, protocol=pickle.HIGHEST_PROTOCOL)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def load(
    out: Path, strategy: str, seed: int, fingerprint: str
) -> tuple[Trainer, list[RoundRecord]] | None:
    """The trainer and records of the checkpoint of (strategy, seed), or None if there
    is none.

    Raises:
        ConfigError: the file is corrupt or truncated, or was written by another config
            (another fingerprint) or for another run; the file is left as it is.
    """
    path = path_of(out, strategy, seed)
    if not path.is_file():
        return None
    with path.open("rb") as handle:
        header = _header(path, handle.readline())
        if header.get("fingerprint") != fingerprint:
            raise ConfigError(
                f"checkpoint {path}: written by a config with fingerprint "
                f"{header.get('fingerprint')}, not this one ({fingerprint}); run the config "
                "that wrote it, or delete the checkpoint to restart this run from round 0"
            )
        if (header.get("strategy"), header.get("seed")) != (strategy, seed):
            raise ConfigError(
                f"checkpoint {path}: holds strategy {header.get('strategy')!r} seed "
                f"{header.get('seed')}, not {strategy!r} seed {seed}; delete it"
            )
        try:
            trainer, records = pickle.load(handle)
        except Exception as exc:  # truncated or damaged payload: any unpickling error
            raise ConfigError(
                f"checkpoint {path}: corrupt or truncated ({type(exc).__name__}: {exc}); "
                "delete it to restart this run from round 0"
            ) from None
    if trainer.round != header.get("round") or len(records) != trainer.round + 1:
        raise ConfigError(
            f"checkpoint {path}: its header says round {header.get('round')} but it holds "
            f"round {trainer.round} with {len(records)} records; delete it"
        )
    return trainer, records


def remove(out: Path, strategy: str, seed: int) -> None:
    """Delete the checkpoint of a finished run (its results file supersedes it), and
    the half-written one a kill during a save leaves."""
    path = path_of(out, strategy, seed)
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".tmp").unlink(missing_ok=True)


class CheckpointEvery:
    """Save the run every ``every`` rounds (0: never) as the trainer's loop goes
    (``Trainer.run`` callback), except after its last round, ``rounds``: the finished
    run's results file supersedes the checkpoint.

    Args:
        out: the run directory.
        fingerprint: the config's fingerprint, written into every header.
        every: the interval, ``training.checkpoint_every``.
        rounds: the run's last round.
        saved: the round of the checkpoint already on disk (0: none).
    """

    def __init__(self, out: Path, fingerprint: str, every: int, rounds: int, saved: int = 0):
        self.out = Path(out)
        self.fingerprint = fingerprint
        self.every = every
        self.rounds = rounds
        #: The round the last checkpoint on disk holds (0: none).
        self.saved = saved
        self._records: list[RoundRecord] = []

    def on_start(self, trainer: Trainer, records: list[RoundRecord]) -> None:
        self._records = records  # the loop's own list: it grows by one every round

    def on_round(self, trainer: Trainer, record: RoundRecord) -> None:
        if self.every and trainer.round % self.every == 0 and trainer.round < self.rounds:
            save(self.out, self.fingerprint, trainer, self._records)
            self.saved = trainer.round


def _header(path: Path, line: bytes) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    found = header.get("format") if isinstance(header, dict) else None
    if isinstance(found, str) and found.startswith("qceas-checkpoint/") and found != FORMAT:
        raise ConfigError(
            f"checkpoint {path}: format {found}, written by another qceas; this one reads "
            f"{FORMAT} only: delete it to restart this run from round 0"
        )
    if found != FORMAT:
        raise ConfigError(
            f"checkpoint {path}: not a qceas checkpoint (no {FORMAT} header: corrupt or "
            "truncated); delete it to restart this run from round 0"
        )
    return header


__all__ = ["FORMAT", "CheckpointEvery", "load", "path_of", "remove", "save"]
