"""The experiment config: a run config (``qceas.training.config.RunConfig``) with the
fields that change no number — ``name``, ``seeds``, ``engine``, ``sweep`` — and its
files: YAML or TOML text in, validated frozen dataclasses out, YAML out again.

A config has these sections (every key optional; defaults are the ``quick`` scenario's;
each section is described by its dataclass, which lives in the package that uses it:
``qceas.qnn.config``, ``qceas.data.config``, ``qceas.training.config``,
``qceas.attacks.config``, ``qceas.security.config``, ``qceas.network.config``,
``qceas.partition.config``, ``qceas.engine.config``):

.. code-block:: yaml

    name: quick
    seed: 0            # base seed; run k of --seeds N uses seed + k
    seeds: 1
    model:    {n_qubits: 4, layers: 3, encoding: angle, entangler: cnot,
               topology: ring, readout: multiclass, output_scale: 5.0}
    data:     {dataset: iris, test_fraction: 0.3, split: iid, alpha: 0.5,
               classes: null, max_samples: null, params: {}}
    nodes:    {count: 8}
    noise:    {depolarizing: 0.0, amplitude_damping: 0.0, readout_error: 0.0, shots: null}
    optimizer: {name: adam, learning_rate: 0.1}
    training: {rounds: 30, strategies: [fedavg, qfi], batch_size: null, track_qfi: true}

Parsing lives only here (ARCHITECTURE §5.5). Every rule violation raises
``ConfigError`` whose message names the field, the value and the rule, e.g.
``noise.depolarizing[3] = 1.4: must be in [0, 1]``; unknown keys are errors too.

The fingerprint hashes exactly the run config (``name``, ``seeds``, ``sweep`` and
``engine`` are left out, and of ``training``: the list of strategies and the
checkpoint interval), with the shims below for sections and fields added later.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qceas._rules import (
    MAX_COUNT,
    MAX_SEED,
    ConfigError,
    FrozenMapping,
    fail,
    integer,
    known,
    plain,
    show,
)
from qceas.agreement.config import ConsensusConfig
from qceas.engine.base import NODES_PER_BATCH
from qceas.engine.config import EngineConfig
from qceas.qnn.pauli import MAX_PAULI_QUBITS
from qceas.training.config import RUN_SECTIONS, RunConfig

#: Every section of a config file, by name.
SECTIONS: dict[str, type] = {**RUN_SECTIONS, "engine": EngineConfig, "consensus": ConsensusConfig}

#: The top-level keys of a config file, in their order.
TOP_LEVEL: tuple[str, ...] = (
    "name",
    "seed",
    "seeds",
    *RUN_SECTIONS,
    "engine",
    "consensus",
    "sweep",
)


@dataclass(frozen=True)
class ExperimentConfig(RunConfig):
    """A whole experiment: what to train, on what, over which seeds and strategies."""

    name: str = "quick"
    seeds: int = 1
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: The grid of ``qceas consensus`` (``qceas.agreement.config``); no training number
    #: depends on it.
    consensus: ConsensusConfig = field(default_factory=ConsensusConfig)
    #: A sweep: ``{"section.field": [values]}``; several keys make a grid. A key may
    #: also be a section name with a list of partial sections, e.g. ``adversary:
    #: [{attack: ipm, params: {epsilon: 10}}, {attack: alie}]``, to vary fields that
    #: belong together. Each point is a config of its own (``sweep_points``), run into
    #: its own directory.
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=FrozenMapping)

    def _check_fields(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise fail("name", self.name, "must be a non-empty string")
        super()._check_fields()
        integer("seeds", self.seeds, 1, MAX_COUNT)
        if self.seed + self.seeds - 1 > MAX_SEED:
            raise fail("seeds", self.seeds, f"seed + seeds - 1 must be <= {MAX_SEED}")
        self._check_sweep()

    def run(self) -> RunConfig:
        """The run config of this experiment (what changes a number)."""
        return RunConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(RunConfig)})

    def _check_sweep(self) -> None:
        if not isinstance(self.sweep, Mapping):
            raise fail("sweep", self.sweep, 'must map "section.field" to a list of values')
        for key, values in self.sweep.items():
            section, dot, name = str(key).partition(".")
            whole = not dot and section in SECTIONS
            if not whole and (section not in SECTIONS or name not in known(SECTIONS[section])):
                raise ConfigError(
                    f"sweep.{key}: not a config field (write section.field, e.g. "
                    "adversary.fraction, or a section name with a list of partial sections)"
                )
            if section == "consensus":
                raise ConfigError(
                    f"sweep.{key}: the consensus section is a grid already; give its "
                    "fields lists instead of sweeping them"
                )
            if section == "engine":
                raise ConfigError(
                    f"sweep.{key}: the engine changes no number, so it is not swept; "
                    "set the engine section (or --engine) for the whole sweep"
                )
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise fail(f"sweep.{key}", values, "must be a non-empty list of values")
            for i, value in enumerate(values if whole else ()):
                if not isinstance(value, Mapping) or not value:
                    raise fail(
                        f"sweep.{key}[{i}]", value, "must be a non-empty mapping of its fields"
                    )
                for sub in value:
                    if sub not in known(SECTIONS[section]):
                        names = ", ".join(known(SECTIONS[section]))
                        raise ConfigError(f"sweep.{key}[{i}].{sub}: unknown key (known: {names})")
                    if f"{section}.{sub}" in self.sweep:
                        raise ConfigError(
                            f"sweep.{key}[{i}].{sub}: also swept as sweep.{section}.{sub}; "
                            "sweep each field in one place"
                        )
        if self.sweep:
            self.sweep_points()  # every point must be a valid config

    def sweep_points(self) -> list[tuple[dict[str, Any], ExperimentConfig]]:
        """``(values, config)`` for every point of the sweep grid, in order (the last
        key varies fastest); each config has no sweep of its own."""
        keys = list(self.sweep)
        base = self.to_dict()
        base.pop("sweep")
        points = []
        for combo in itertools.product(*(self.sweep[k] for k in keys)):
            values = dict(zip(keys, combo, strict=True))
            raw = copy.deepcopy(base)
            for key, value in values.items():
                section, dot, name = key.partition(".")
                if dot:
                    raw[section][name] = value
                else:  # a partial section: its fields replace the base's, key by key
                    raw[section].update(copy.deepcopy(dict(value)))
            label = sweep_label(values)
            raw["name"] = f"{self.name} [{label}]"
            try:
                points.append((values, from_dict(raw)))
            except ConfigError as exc:
                raise ConfigError(f"sweep point {label}: {exc}") from None
        return points

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with top-level fields replaced (sections are replaced whole)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers, strings) that ``from_dict`` reads back, in
        the order of a config file."""
        raw = plain(dataclasses.asdict(self))
        return {key: raw[key] for key in TOP_LEVEL}

    def fingerprint(self) -> str:
        """A short hash of everything that changes a run's numbers.

        Excluded: the name, the number of seeds and the list of strategies — each
        (strategy, seed) run depends on neither, so an experiment can grow —, the
        checkpoint interval and the engine (they change no number), and the
        sections added after 0.1.0 while they hold their defaults, so run directories
        written before them still resume. Every config carries ``EVALUATION``, the
        version of how a round's numbers are computed: results of an earlier one are
        not reused (``legacy_fingerprints`` names them).
        """
        return self._fingerprint(EVALUATION)

    def legacy_fingerprints(self) -> dict[int, str]:
        """The fingerprints this config had under earlier evaluation versions, so that
        a directory they wrote can be recognised and refused with the reason."""
        current = self.fingerprint()
        earlier = {version: self._fingerprint(version) for version in range(1, EVALUATION)}
        # A version that changed no number of this config gives the current fingerprint.
        return {version: stamp for version, stamp in earlier.items() if stamp != current}

    def _fingerprint(self, evaluation: int) -> str:
        body = self.to_dict()
        for key in ("name", "seeds", "sweep", "engine", "consensus"):
            body.pop(key)
        if evaluation >= 5 and self.model.n_qubits <= MAX_PAULI_QUBITS:
            body["evaluation"] = 4
        elif evaluation >= 3:
            body["evaluation"] = evaluation
        elif evaluation == 2 and (
            self.noise.shots is not None or self.nodes.count > NODES_PER_BATCH
        ):
            body["evaluation"] = 2
        body["training"].pop("strategies")
        body["training"].pop("checkpoint_every")
        for key in LATER_SECTIONS:
            if body[key] == plain(dataclasses.asdict(SECTIONS[key]())):
                body.pop(key)
        for section, defaults in LATER_FIELDS.items():
            for name, default in defaults.items():
                if section in body and body[section].get(name) == default:
                    body[section].pop(name)
        blob = json.dumps(body, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def sweep_label(values: Mapping[str, Any]) -> str:
    """How a sweep point is named in its config's name and in errors about it, e.g.
    ``adversary.fraction=0.3``."""
    return ", ".join(f"{k}={show(v)}" for k, v in values.items())


#: Version of how a round's numbers are computed: 2 since every node samples its shots
#: from its own stream and nodes are evaluated in fixed batches (``qceas.engine``), for
#: configs with finite shots or more nodes than a batch (the others kept 1); 3 since
#: every kernel runs with one BLAS thread (``qceas.reproducibility``), for every config:
#: results computed with the machine's BLAS threads differ in their last bits, which
#: training amplifies; 4 since the ``oblivious`` and ``greedy`` schedulers promise
#: stable decisions and their links keep their attempt draws (slot skipping,
#: ``qceas.network.Decision.stable_slots``): keys from the network under those
#: schedulers come from other draws of the same law; 5 since registers above
#: ``MAX_PAULI_QUBITS`` run on gate-local Pauli kernels with the reverse pass
#: (``qceas.qnn.pauli_local``, ``qceas.qnn.adjoint``) in smaller node batches
#: (``qceas.engine.base.nodes_per_batch``), whose numbers differ from the
#: density-matrix path's in their last bits — for those configs only: the others keep
#: 4, their numbers unchanged.
EVALUATION = 5

#: What each evaluation version changed, for the message refusing older results.
EVALUATION_CHANGES: dict[int, str] = {
    2: "every node samples its shots from its own stream",
    3: "every kernel runs with one BLAS thread",
    4: "oblivious and greedy keep their attempt draws",
    5: "circuits above 5 qubits run on gate-local Pauli kernels, in smaller node batches",
}


def since(version: int) -> str:
    """Why results of evaluation ``version`` are not reused: what changed after it."""
    return "; ".join(EVALUATION_CHANGES[v] for v in range(version + 1, EVALUATION + 1))


#: Sections added after 0.1.0: left out of the fingerprint while at their defaults.
LATER_SECTIONS: tuple[str, ...] = (
    "adversary",
    "security",
    "network",
    "schedule",
    "compute",
    "partition",
    "faults",
    "leader",
)
#: Fields added to existing sections later: left out of the fingerprint at their defaults.
LATER_FIELDS: dict[str, dict[str, Any]] = {
    "security": {"key_source": "fixed", "scheduler": "ceas", "key_schedule": {}},
    "training": {"compositions": {}, "test_on_hardware": False},
    "model": {"qfi_estimator": "sld", "qfi_samples": None},
    "schedule": {"ready": "uniform", "cutoff_slots": None},
    "network": {
        "signal_delays": False,
        "chain_nodes": None,
        "attempt_success": None,
        "swap_success": 1.0,
    },
}


def from_dict(raw: Mapping[str, Any], *, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Build a config from plain data, over ``base`` (default: the built-in defaults).

    Sections given in ``raw`` override the matching keys of ``base`` key by key.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: must be a mapping of sections, got {type(raw).__name__}")
    base = base or ExperimentConfig()
    top_known = list(TOP_LEVEL)
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in top_known:
            raise ConfigError(f"{key}: unknown key (known: {', '.join(top_known)})")
        if key in SECTIONS:
            cls = SECTIONS[key]
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: must be a mapping of settings, got {show(value)}")
            for sub in value:
                if sub not in known(cls):
                    raise ConfigError(f"{key}.{sub}: unknown key (known: {', '.join(known(cls))})")
            current = dataclasses.asdict(getattr(base, key))
            current.update(value)
            try:
                changes[key] = cls(**current)
            except ConfigError:
                raise
            except (TypeError, ValueError) as exc:  # a rule enforced deeper down
                raise ConfigError(f"{key}: {exc}") from None
        else:
            changes[key] = value
    try:
        return dataclasses.replace(base, **changes)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML says keys
    are unique; PyYAML keeps the last one silently, so a repeated section would drop
    the settings of the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: construct_mapping reports it
                break
            if repeated:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _yaml_error(origin: str, exc: yaml.YAMLError) -> ConfigError:
    """One line: ``origin:line:column: not valid YAML: problem (context)``."""
    mark = getattr(exc, "problem_mark", None)
    where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark is not None else origin
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    return ConfigError(f"{where}: not valid YAML: {detail}")


def _toml_error(origin: str, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """One line: ``origin:line:column: not valid TOML: problem``."""
    text = str(exc)
    found = re.search(r"\(at line (\d+), column (\d+)\)", text)
    if found is None:
        return ConfigError(f"{origin}: not valid TOML: {text}")
    problem = text[: found.start()].strip() or "syntax error"
    return ConfigError(f"{origin}:{found.group(1)}:{found.group(2)}: not valid TOML: {problem}")


def parse_text(text: str, *, suffix: str = ".yaml", origin: str = "config") -> dict[str, Any]:
    """Parse YAML (default) or TOML text into plain data, with a one-line error naming
    ``origin``, line and column; a key given twice is an error."""
    try:
        # _StrictLoader is yaml's SafeLoader with one more check.
        data = tomllib.loads(text) if suffix == ".toml" else yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        raise _yaml_error(origin, exc) from None
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(origin, exc) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: must be a mapping of sections at the top level")
    return data


def load_config(path: str | Path) -> ExperimentConfig:
    """Load a YAML (.yaml/.yml) or TOML (.toml) config file."""
    path = Path(path)
    if path.is_dir():
        raise ConfigError(f"{path}: is a directory, not a config file")
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "save the config as UTF-8"
        ) from None
    suffix = ".toml" if path.suffix == ".toml" else ".yaml"
    return from_dict(parse_text(text, suffix=suffix, origin=str(path)))


def dump_yaml(config: ExperimentConfig) -> str:
    """The config as YAML text that ``load_config`` reads back to an equal config."""
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


__all__ = [
    "EVALUATION",
    "SECTIONS",
    "TOP_LEVEL",
    "ConfigError",
    "ExperimentConfig",
    "dump_yaml",
    "from_dict",
    "load_config",
    "parse_text",
    "sweep_label",
]
