"""Experiment configuration: frozen, typed dataclasses loaded from YAML or TOML.

A config has these sections (every key optional; defaults are the ``quick`` scenario's;
``adversary``, ``security``, ``network``, ``schedule`` and ``compute`` are described by
their dataclasses below):

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

Noise values are given per node in one of three forms: a number (every node, every
qubit), a list with one entry per node (each a number or a list with one number per
qubit), or a two-group mapping ``{low: a, high: b, noisy_fraction: f}`` — the last
``round(f·count)`` nodes get ``b``, the others ``a`` (``a`` and ``b`` are numbers or
per-qubit lists). ``shots`` is ``null`` (exact), an
integer, or a list per node.

Parsing lives only here (ARCHITECTURE §5.5). Every rule violation raises
``ConfigError`` whose message names the field, the value and the rule, e.g.
``noise.depolarizing[3] = 1.4: must be in [0, 1]``; unknown keys are errors too.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from qceas.engine.base import NODES_PER_BATCH
from qceas.qnn.ansatz import ENCODINGS, ENTANGLERS, MAX_QUBITS, TOPOLOGIES
from qceas.qnn.model import READOUTS
from qceas.qnn.noise import NoiseModel
from qceas.registry import Registry, UnknownOptionError


class ConfigError(ValueError):
    """A config value that breaks its rule; the message names field, value and rule."""


class FrozenMapping(Mapping[Any, Any]):
    """A read-only, hashable mapping: the mapping fields of a validated config.

    A config's checks pass once, when it is built; a mapping that could be changed
    afterwards (``cfg.data.params["x"] = 1``) would carry values no check has seen,
    and an unhashable field makes the whole config unhashable. Values are frozen too
    (lists become tuples, mappings FrozenMappings), so the hash is that of the items.
    Equal to a dict with the same items; pickles, copies and prints as one.
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[Any, Any] | None = None) -> None:
        self._items: dict[Any, Any] = {k: freeze(v) for k, v in (items or {}).items()}

    def __getitem__(self, key: Any) -> Any:
        return self._items[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and self._items == dict(other.items())

    def __repr__(self) -> str:
        return repr(self._items)

    def __reduce__(self) -> tuple[type, tuple[dict[Any, Any]]]:
        return FrozenMapping, (self._items,)

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenMapping:
        return self  # immutable all the way down

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError(
            "a validated config is read-only: build a changed one with "
            "qceas.config.from_dict(changes, base=config)"
        )

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = _refuse


def freeze(value: Any) -> Any:
    """``value`` with every list turned into a tuple and every mapping into a
    :class:`FrozenMapping`, recursively (what a validated config holds)."""
    if isinstance(value, FrozenMapping):
        return value
    if isinstance(value, Mapping):
        return FrozenMapping(value)
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    return value


def _freeze_fields(section: Any) -> None:
    """Freeze every field of a (frozen) dataclass in place, before its checks run."""
    for f in fields(section):
        object.__setattr__(section, f.name, freeze(getattr(section, f.name)))


def _fail(path: str, value: Any, rule: str) -> ConfigError:
    return ConfigError(f"{path} = {_show(value)}: {rule}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return repr(value) if value.is_integer() else f"{value:g}"
    if isinstance(value, tuple):
        return _show(list(value))
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


#: Upper bounds of the fields that have no natural one: far above any run anyone
#: makes, and below where a number breaks something (int64 counters, sums of floats,
#: memory, hours of Python loops). A value past them is a typo, and an error now
#: rather than an overflow deep inside a run.
MAX_COUNT = 10**6  # rounds, nodes, seeds, Sybils, memory slots, ...: loops run over them
MAX_SAMPLES = 10**9  # shots, samples, pairs per round: counts stay exact as floats (2^53)
MAX_LAYERS = 1000  # variational layers: the circuit is simulated gate by gate
MAX_SCALE = 1.0e6  # dimensionless factors (output scale, learning rate, alpha, tampering)
MAX_SECONDS = 1.0e6  # durations (about 12 days; coherence times already stop there)
MAX_KM = 40_075.0  # distances: the Earth's circumference
MAX_SEED = 2**63 - 1  # seeds are written to int64 table columns
MAX_EC_EFFICIENCY = 10.0  # error-correction inefficiency f: 1 is the Shannon limit


def _int(path: str, value: Any, minimum: int, maximum: int) -> None:
    if not _is_int(value) or not minimum <= value <= maximum:
        raise _fail(path, value, f"must be an integer in [{minimum}, {maximum}]")


def _choice(path: str, value: Any, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise _fail(path, value, f"must be one of {', '.join(allowed)}")


def _positive(path: str, value: Any, maximum: float) -> None:
    """A number in (0, maximum]."""
    if not _is_number(value) or not 0 < value <= maximum:
        raise _fail(path, value, f"must be a number in (0, {maximum:g}]" + _text_hint(value))


def _check_options(
    path: str,
    registry: Registry[Any],
    name: str,
    options: Mapping[Any, Any],
    *,
    exclude: Collection[str] = (),
) -> None:
    """Every key of ``options`` is a parameter that the plugin ``name`` of
    ``registry`` takes (``exclude``: the arguments its caller gives it itself)."""
    try:
        registry.check_options(name, options, exclude=exclude)
    except UnknownOptionError as exc:
        raise ConfigError(f"{path}.{exc}") from None


def _scheduler_options(path: str, value: Any) -> None:
    """A mapping policy name -> options that the policy accepts (``schedule.params``,
    ``partition.scheduler_params``)."""
    from qceas.scheduling import SCHEDULERS

    if not isinstance(value, Mapping):
        raise _fail(path, value, "must be a mapping policy -> options")
    for name, options in value.items():
        _choice(path, name, SCHEDULERS.names())
        if not isinstance(options, Mapping):
            raise _fail(f"{path}.{name}", options, "must be a mapping")
        _check_options(f"{path}.{name}", SCHEDULERS, name, options)
        try:
            SCHEDULERS.get(name, **dict(options))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{path}.{name}: {exc}") from None


def _attempt_floor(path: str, value: Any) -> None:
    """A minimum attempt period (s): a number in [0, 1)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise _fail(path, value, "must be a number in [0, 1)")


def _text_hint(value: Any) -> str:
    """YAML 1.1 reads ``1e-3`` (no dot) as text: say so when a number arrives as text."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return ""
        return f" (YAML read {value} as text; write it with a dot, e.g. 1.0e-3)"
    return ""


@dataclass(frozen=True)
class ModelConfig:
    """The circuit and its readout (``qceas.qnn.QNN``); n_classes comes from the data."""

    n_qubits: int = 4
    layers: int = 3
    encoding: str = "angle"
    entangler: str = "cnot"
    topology: str = "ring"
    readout: str = "multiclass"
    output_scale: float = 5.0

    def __post_init__(self) -> None:
        _freeze_fields(self)
        _int("model.n_qubits", self.n_qubits, 1, MAX_QUBITS)
        _int("model.layers", self.layers, 1, MAX_LAYERS)
        _choice("model.encoding", self.encoding, ENCODINGS)
        _choice("model.entangler", self.entangler, ENTANGLERS)
        _choice("model.topology", self.topology, TOPOLOGIES)
        _choice("model.readout", self.readout, READOUTS)
        _positive("model.output_scale", self.output_scale, MAX_SCALE)


SPLITS: tuple[str, ...] = ("iid", "dirichlet")


@dataclass(frozen=True)
class DataConfig:
    """Dataset, held-out test split and the partition across nodes (``qceas.data``)."""

    dataset: str = "iris"
    test_fraction: float = 0.3
    split: str = "iid"
    alpha: float = 0.5
    classes: tuple[int, ...] | None = None
    max_samples: int | None = None
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.data import DATASETS

        _choice("data.dataset", self.dataset, DATASETS.names())
        if not _is_number(self.test_fraction) or not 0 < self.test_fraction < 1:
            raise _fail("data.test_fraction", self.test_fraction, "must be in (0, 1)")
        _choice("data.split", self.split, SPLITS)
        _positive("data.alpha", self.alpha, MAX_SCALE)
        if self.classes is not None and (
            not isinstance(self.classes, list | tuple)
            or not all(_is_int(c) and 0 <= c <= MAX_COUNT for c in self.classes)
        ):
            rule = f"must be a list of integer labels in [0, {MAX_COUNT}]"
            raise _fail("data.classes", self.classes, rule)
        if self.max_samples is not None:
            _int("data.max_samples", self.max_samples, 2, MAX_SAMPLES)
        if not isinstance(self.params, Mapping):
            raise _fail("data.params", self.params, "must be a mapping of dataset parameters")
        _check_options("data.params", DATASETS, self.dataset, self.params, exclude=("rng",))


@dataclass(frozen=True)
class NodesConfig:
    """The QPUs that train together."""

    count: int = 8

    def __post_init__(self) -> None:
        _freeze_fields(self)
        _int("nodes.count", self.count, 1, MAX_COUNT)


NOISE_CHANNELS: tuple[str, ...] = ("depolarizing", "amplitude_damping", "readout_error")


@dataclass(frozen=True)
class NoiseConfig:
    """Per-node noise specs (forms in the module docstring); see ``node_models``."""

    depolarizing: Any = 0.0
    amplitude_damping: Any = 0.0
    readout_error: Any = 0.0
    shots: Any = None

    def __post_init__(self) -> None:
        _freeze_fields(self)
        for name in NOISE_CHANNELS:
            spec = getattr(self, name)
            if isinstance(spec, Mapping):
                extra = set(spec) - {"low", "high", "noisy_fraction"}
                missing = {"low", "high", "noisy_fraction"} - set(spec)
                if extra or missing:
                    raise _fail(
                        f"noise.{name}",
                        dict(spec),
                        "a group mapping needs exactly the keys low, high, noisy_fraction",
                    )
                _unit(f"noise.{name}.noisy_fraction", spec["noisy_fraction"])
                for key in ("low", "high"):
                    _unit_or_per_qubit(f"noise.{name}.{key}", spec[key])
            elif isinstance(spec, list | tuple):
                for k, entry in enumerate(spec):
                    _unit_or_per_qubit(f"noise.{name}[{k}]", entry)
            else:
                _unit(f"noise.{name}", spec)
        shots = self.shots
        if isinstance(shots, list | tuple):
            for k, s in enumerate(shots):
                if s is not None:
                    _int(f"noise.shots[{k}]", s, 1, MAX_SAMPLES)
        elif shots is not None:
            _int("noise.shots", shots, 1, MAX_SAMPLES)

    def node_models(self, n_nodes: int, n_qubits: int) -> list[NoiseModel]:
        """One NoiseModel per node, with lengths checked against the node and qubit counts."""
        per_channel = {name: self._expand(name, n_nodes, n_qubits) for name in NOISE_CHANNELS}
        shots = self.shots
        if isinstance(shots, list | tuple):
            if len(shots) != n_nodes:
                raise _fail("noise.shots", shots, f"must have one entry per node ({n_nodes})")
            shot_list = list(shots)
        else:
            shot_list = [shots] * n_nodes
        return [
            NoiseModel.build(
                n_qubits,
                depolarizing=per_channel["depolarizing"][k],
                amplitude_damping=per_channel["amplitude_damping"][k],
                readout_error=per_channel["readout_error"][k],
                shots=shot_list[k],
            )
            for k in range(n_nodes)
        ]

    def _expand(self, name: str, n_nodes: int, n_qubits: int) -> list[Any]:
        spec = getattr(self, name)
        if isinstance(spec, Mapping):
            # Round half up, as the data split does (Python's round() rounds to even).
            noisy = math.floor(spec["noisy_fraction"] * n_nodes + 0.5)
            for key in ("low", "high"):
                _check_qubit_count(f"noise.{name}.{key}", spec[key], n_qubits)
            return [spec["low"]] * (n_nodes - noisy) + [spec["high"]] * noisy
        if isinstance(spec, list | tuple):
            if len(spec) != n_nodes:
                raise _fail(
                    f"noise.{name}",
                    spec,
                    f"a list must have one entry per node ({n_nodes}); "
                    "use a single number for all nodes",
                )
            for k, entry in enumerate(spec):
                _check_qubit_count(f"noise.{name}[{k}]", entry, n_qubits)
            return list(spec)
        return [spec] * n_nodes


def _unit(path: str, value: Any) -> None:
    if not _is_number(value) or not 0.0 <= value <= 1.0:
        raise _fail(path, value, "must be in [0, 1]")


def _unit_or_per_qubit(path: str, value: Any) -> None:
    """A probability, or a list of them (one per qubit)."""
    if isinstance(value, list | tuple):
        for q, v in enumerate(value):
            _unit(f"{path}[{q}]", v)
    else:
        _unit(path, value)


def _check_qubit_count(path: str, value: Any, n_qubits: int) -> None:
    if isinstance(value, list | tuple) and len(value) != n_qubits:
        raise _fail(path, value, f"a per-qubit list must have {n_qubits} entries (model.n_qubits)")


@dataclass(frozen=True)
class OptimizerConfig:
    """The server's optimizer on the aggregated gradient (``qceas.training.optimizers``)."""

    name: str = "adam"
    learning_rate: float = 0.1
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.training.optimizers import OPTIMIZERS

        _choice("optimizer.name", self.name, OPTIMIZERS.names())
        _positive("optimizer.learning_rate", self.learning_rate, MAX_SCALE)
        if not isinstance(self.params, Mapping):
            raise _fail("optimizer.params", self.params, "must be a mapping")
        if "learning_rate" in self.params:
            raise ConfigError("optimizer.params.learning_rate: set optimizer.learning_rate")
        factory = OPTIMIZERS.factory(self.name)
        known: list[str] = (
            [f.name for f in fields(factory)] if dataclasses.is_dataclass(factory) else []
        )
        for key, value in self.params.items():
            if key not in known:
                raise ConfigError(
                    f"optimizer.params.{key}: unknown parameter of {self.name} "
                    f"(known: {', '.join(k for k in known if k != 'learning_rate')})"
                )
            if not _is_number(value):
                rule = "must be a number" + _text_hint(value)
                raise _fail(f"optimizer.params.{key}", value, rule)
        try:
            factory(learning_rate=self.learning_rate, **self.params)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class TrainingConfig:
    """The round loop and the strategies to compare.

    ``compositions`` defines strategies of one's own without code, by name:
    ``{my-rule: {scheduler: ceas, authenticate: true, weighting: verified_qfi,
    aggregator: krum, params: {f: 2}}}`` (fields of
    ``qceas.training.strategies.Composition``); ``strategies`` may then name them.
    ``checkpoint_every`` saves a run in progress every that many rounds (0: never;
    ``qceas.training.checkpoint``); it changes no number, so it is not part of the
    fingerprint. ``test_on_hardware`` also records, every round, the test accuracy and loss of θ
    on the nodes' own noisy circuits (their noise and, for split replicas, the
    teleported-gate error of the round; exact expectations), averaged over nodes.
    """

    rounds: int = 30
    strategies: tuple[str, ...] = ("fedavg", "qfi")
    batch_size: int | None = None
    track_qfi: bool = True
    compositions: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMapping)
    test_on_hardware: bool = False
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.training.strategies import STRATEGIES, Composition

        _int("training.rounds", self.rounds, 1, MAX_COUNT)
        if not isinstance(self.compositions, Mapping):
            raise _fail("training.compositions", self.compositions, "must map names to fields")
        for name, spec in self.compositions.items():
            where = f"training.compositions.{name}"
            if name in STRATEGIES:
                raise ConfigError(f"{where}: the name is taken by a built-in strategy")
            if not isinstance(spec, Mapping):
                raise _fail(where, spec, "must be a mapping of Composition fields")
            for key in spec:
                if key not in _known(Composition):
                    fields_ = ", ".join(_known(Composition))
                    raise ConfigError(f"{where}.{key}: unknown key (known: {fields_})")
            if not isinstance(spec.get("params", {}), Mapping):
                raise _fail(f"{where}.params", spec["params"], "must be a mapping")
            try:
                Composition(**{**spec, "params": tuple(dict(spec.get("params", {})).items())})
            except UnknownOptionError as exc:
                raise ConfigError(f"{where}.{exc}") from None
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: {exc}") from None
        if isinstance(self.strategies, str) or not isinstance(self.strategies, list | tuple):
            raise _fail("training.strategies", self.strategies, "must be a list of names")
        if not self.strategies:
            raise _fail("training.strategies", self.strategies, "must name at least one")
        known = [*STRATEGIES.names(), *self.compositions]
        for k, name in enumerate(self.strategies):
            _choice(f"training.strategies[{k}]", name, known)
        if len(set(self.strategies)) != len(self.strategies):
            raise _fail("training.strategies", self.strategies, "must not repeat a name")
        if self.batch_size is not None:
            _int("training.batch_size", self.batch_size, 1, MAX_SAMPLES)
        if not isinstance(self.track_qfi, bool):
            raise _fail("training.track_qfi", self.track_qfi, "must be true or false")
        _int("training.checkpoint_every", self.checkpoint_every, 0, MAX_COUNT)
        if not isinstance(self.test_on_hardware, bool):
            raise _fail("training.test_on_hardware", self.test_on_hardware, "must be true or false")


@dataclass(frozen=True)
class AdversaryConfig:
    """Byzantine nodes and network attackers (``qceas.training.transport``)."""

    fraction: float = 0.0
    attack: str = "alie"
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)
    qfi_inflation: float = 0.0
    sybils: int = 0
    tamper: float = 0.0
    tamper_scale: float = 1.0
    eavesdrop: float = 0.0

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.attacks import ATTACKS

        if not _is_number(self.fraction) or not 0 <= self.fraction < 0.5:
            raise _fail("adversary.fraction", self.fraction, "must be in [0, 0.5)")
        _choice("adversary.attack", self.attack, ["none", *ATTACKS.names()])
        if not isinstance(self.params, Mapping):
            raise _fail("adversary.params", self.params, "must be a mapping")
        if self.attack == "none" and self.params:
            raise _fail("adversary.params", self.params, "attack 'none' takes no parameters")
        if self.attack != "none":
            _check_options("adversary.params", ATTACKS, self.attack, self.params)
            try:
                ATTACKS.get(self.attack, **dict(self.params))
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"adversary.params: {exc}") from None
        if not _is_number(self.qfi_inflation) or not (
            self.qfi_inflation == 0 or 1 <= self.qfi_inflation <= 1e6
        ):
            rule = "must be 0 (off) or a number in [1, 1e6]"
            raise _fail("adversary.qfi_inflation", self.qfi_inflation, rule)
        _int("adversary.sybils", self.sybils, 0, MAX_COUNT)
        _unit("adversary.tamper", self.tamper)
        _positive("adversary.tamper_scale", self.tamper_scale, MAX_SCALE)
        _unit("adversary.eavesdrop", self.eavesdrop)


@dataclass(frozen=True)
class SecurityConfig:
    """Key supply for authentication (``qceas.security``).

    ``key_source: fixed`` gives every node ``pairs_per_round`` pairs of
    ``link_fidelity`` per round. ``key_source: network`` simulates the ``network``
    section under the ``scheduler`` policy, one demand round per training round, and
    distills each node's key from the pairs it actually consumed, at their fidelities
    then. The demand is the ``schedule`` section's, with ``key_schedule`` (a mapping of
    ``schedule`` fields, e.g. ``{pairs_per_round: 600, round_period_s: 0.5}``)
    overriding it for key supply only, so one scenario can hold both a network study
    and a key-scale demand.
    """

    pairs_per_round: int = 2000
    link_fidelity: float = 0.95
    sample_fraction: float = 0.1
    ec_efficiency: float = 1.16
    key_source: str = "fixed"
    scheduler: str = "ceas"
    key_schedule: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.scheduling import SCHEDULERS

        _choice("security.key_source", self.key_source, KEY_SOURCES)
        _choice("security.scheduler", self.scheduler, SCHEDULERS.names())
        if not isinstance(self.key_schedule, Mapping):
            raise _fail("security.key_schedule", self.key_schedule, "must map schedule fields")
        for name in self.key_schedule:
            if name not in _known(ScheduleConfig):
                known = ", ".join(_known(ScheduleConfig))
                raise ConfigError(f"security.key_schedule.{name}: unknown key (known: {known})")
        _int("security.pairs_per_round", self.pairs_per_round, 1, MAX_SAMPLES)
        if not _is_number(self.link_fidelity) or not 0.25 <= self.link_fidelity <= 1:
            raise _fail("security.link_fidelity", self.link_fidelity, "must be in [0.25, 1]")
        if not _is_number(self.sample_fraction) or not 0 < self.sample_fraction < 1:
            raise _fail("security.sample_fraction", self.sample_fraction, "must be in (0, 1)")
        if not _is_number(self.ec_efficiency) or not 1 <= self.ec_efficiency <= MAX_EC_EFFICIENCY:
            rule = f"must be a number in [1, {MAX_EC_EFFICIENCY:g}]"
            raise _fail("security.ec_efficiency", self.ec_efficiency, rule)


#: Where authentication keys come from (``SecurityConfig.key_source``).
KEY_SOURCES: tuple[str, ...] = ("fixed", "network")


def _range_or_number(path: str, value: Any, low: float, high: float, *, open_low: bool) -> None:
    """A number, or a ``[low, high]`` range (drawn per item), inside (low|[low, high]."""
    items = list(value) if isinstance(value, list | tuple) else [value]
    if isinstance(value, list | tuple) and len(items) != 2:
        raise _fail(path, value, "must be a number or a [low, high] range")
    bound = f"({low:g}, {high:g}]" if open_low else f"[{low:g}, {high:g}]"
    for item in items:
        if not _is_number(item) or not math.isfinite(item):
            raise _fail(path, value, "must be a number or a [low, high] range" + _text_hint(item))
        if item > high or item < low or (open_low and item == low):
            raise _fail(path, value, f"every value must be in {bound}")
    if len(items) == 2 and items[0] > items[1]:
        raise _fail(path, value, "a range must have low <= high")


@dataclass(frozen=True)
class NetworkConfig:
    """The quantum network (``qceas.network``): topology, links, memories.

    ``initial_fidelity``, ``coherence_time_s``, ``efficiency`` and
    ``attenuation_db_per_km`` are a number (all the same) or a ``[low, high]`` range,
    drawn per link (per node for coherence times, log-uniformly) from the seed.
    ``aggregator_memory_slots`` defaults to ``2 × nodes.count`` (the aggregator holds
    one end of every QPU's pairs); ``aggregator_coherence_time_s`` (a number) replaces
    the aggregator's drawn coherence time, which otherwise decides every pair's decay
    by the luck of one draw; ``params`` go to the topology builder (e.g.
    ``radius_km``, ``aggregator_degree``).
    """

    topology: str = "star"
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)
    link_length_km: float = 10.0
    area_km: float = 100.0
    path: str | None = None
    attenuation_db_per_km: Any = 0.2
    efficiency: Any = 0.9
    initial_fidelity: Any = (0.85, 0.95)
    coherence_time_s: Any = (1.0e-3, 1.0)
    memory_slots: int = 4
    aggregator_memory_slots: int | None = None
    aggregator_coherence_time_s: float | None = None
    min_period_s: float = 1.0e-6

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.network import TOPOLOGIES as NETWORK_TOPOLOGIES
        from qceas.network.topology import BUILDER_ARGUMENTS

        _choice("network.topology", self.topology, NETWORK_TOPOLOGIES.names())
        if not isinstance(self.params, Mapping):
            raise _fail("network.params", self.params, "must be a mapping")
        _check_options(
            "network.params",
            NETWORK_TOPOLOGIES,
            self.topology,
            self.params,
            exclude=BUILDER_ARGUMENTS,
        )
        _positive("network.link_length_km", self.link_length_km, MAX_KM)
        _positive("network.area_km", self.area_km, MAX_KM)
        if self.topology == "file" and not isinstance(self.path, str):
            raise _fail("network.path", self.path, "the 'file' topology needs a path")
        if self.path is not None and not isinstance(self.path, str):
            raise _fail("network.path", self.path, "must be a file path or null")
        _range_or_number(
            "network.attenuation_db_per_km", self.attenuation_db_per_km, 0.0, 10.0, open_low=False
        )
        _range_or_number("network.efficiency", self.efficiency, 0.0, 1.0, open_low=True)
        _range_or_number(
            "network.initial_fidelity", self.initial_fidelity, 0.25, 1.0, open_low=False
        )
        _range_or_number(
            "network.coherence_time_s", self.coherence_time_s, 0.0, 1.0e6, open_low=True
        )
        _int("network.memory_slots", self.memory_slots, 1, MAX_COUNT)
        if self.aggregator_memory_slots is not None:
            _int("network.aggregator_memory_slots", self.aggregator_memory_slots, 1, MAX_COUNT)
        if self.aggregator_coherence_time_s is not None:
            _positive(
                "network.aggregator_coherence_time_s", self.aggregator_coherence_time_s, MAX_SECONDS
            )
        _attempt_floor("network.min_period_s", self.min_period_s)

    def spec(self, name: str) -> Any:
        """A field as ``build_network`` takes it: a range becomes a (low, high) tuple."""
        value = getattr(self, name)
        return tuple(value) if isinstance(value, list | tuple) else value


@dataclass(frozen=True)
class ComputeConfig:
    """When each node's update is ready: the compute-time model of ``qceas.qnn.timing``.

    A node runs, per sample of its batch and ``noise.shots`` times each (``shots`` here
    when ``noise.shots`` is null, i.e. exact expectations in simulation), the forward
    circuit, 2P parameter-shifted circuits and, with ``qfi_circuits``, P overlap
    circuits of twice the depth. One shot takes reset + layers × gate times +
    measurement; times default to superconducting transmons (sources in
    ``qceas.qnn.timing``). ``slowdown`` multiplies a node's time: a number, or a
    ``[low, high]`` range drawn log-uniformly per node. Used where
    ``schedule.ready: compute``.
    """

    single_qubit_gate_s: float = 5.0e-8
    two_qubit_gate_s: float = 3.0e-7
    measurement_s: float = 1.0e-6
    reset_s: float = 1.0e-6
    circuit_overhead_s: float = 0.0
    shots: int = 1000
    qfi_circuits: bool = True
    slowdown: Any = 1.0

    def __post_init__(self) -> None:
        _freeze_fields(self)
        for name in ("single_qubit_gate_s", "two_qubit_gate_s"):
            _positive(f"compute.{name}", getattr(self, name), MAX_SECONDS)
        for name in ("measurement_s", "reset_s", "circuit_overhead_s"):
            value = getattr(self, name)
            if not _is_number(value) or not 0 <= value <= MAX_SECONDS:
                rule = f"must be a number in [0, {MAX_SECONDS:g}]" + _text_hint(value)
                raise _fail(f"compute.{name}", value, rule)
        try:
            self.gate_times()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        _int("compute.shots", self.shots, 1, MAX_SAMPLES)
        if not isinstance(self.qfi_circuits, bool):
            raise _fail("compute.qfi_circuits", self.qfi_circuits, "must be true or false")
        _range_or_number("compute.slowdown", self.slowdown, 0.0, 1.0e6, open_low=True)

    def gate_times(self) -> Any:
        """The ``GateTimes`` of this section."""
        from qceas.qnn.timing import GateTimes

        return GateTimes(
            single_qubit_s=self.single_qubit_gate_s,
            two_qubit_s=self.two_qubit_gate_s,
            measurement_s=self.measurement_s,
            reset_s=self.reset_s,
            circuit_overhead_s=self.circuit_overhead_s,
        )

    def slowdowns(self, n_nodes: int, rng: np.random.Generator) -> np.ndarray:
        """(N,) slowdown factors: the number, or log-uniform draws in the range."""
        return log_uniform(self.slowdown, n_nodes, rng)


def log_uniform(value: Any, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` values of a config field that is a number (all equal) or a ``[low,
    high]`` range (drawn log-uniformly from ``rng``)."""
    if isinstance(value, list | tuple):
        low, high = (math.log(float(v)) for v in value)
        return np.exp(rng.uniform(low, high, size=size))
    return np.full(size, float(value))


#: How ready times are set (``ScheduleConfig.ready``).
READY_MODELS: tuple[str, ...] = ("uniform", "compute")


#: Policies run by ``qceas network`` unless the config names others.
DEFAULT_POLICIES: tuple[str, ...] = ("ceas", "oblivious", "greedy", "random")
#: Default sweep of a common coherence time (s) for ``qceas network``.
DEFAULT_COHERENCE_SWEEP: tuple[float, ...] = (1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3, 1.0e-2, 1.0e-1, 1.0)


@dataclass(frozen=True)
class ScheduleConfig:
    """The demand model and the schedulers of ``qceas network`` (``qceas.scheduling``).

    Every round of ``round_period_s``, each QPU needs ``pairs_per_round`` end-to-end
    pairs with the aggregator, consumed within ``window_s`` after its update is ready
    (``ready: uniform``: ready times drawn per QPU uniformly in ``ready_fraction`` ×
    (period − window); ``ready: compute``: each QPU's compute-finish time under the
    ``compute`` section, the same every round).
    ``slot_s: null`` uses the longest attempt period. ``params`` maps a policy name to
    its options; ``coherence_sweep_s`` lists the common coherence times of the sweep
    (empty: no sweep).
    """

    policies: tuple[str, ...] = DEFAULT_POLICIES
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMapping)
    pairs_per_round: int = 2
    round_period_s: float = 0.02
    window_s: float = 0.002
    ready_fraction: tuple[float, float] = (0.2, 0.8)
    ready: str = "uniform"
    rounds: int = 20
    slot_s: float | None = None
    sift: float = 0.5
    purification: str = "none"
    coherence_sweep_s: tuple[float, ...] = DEFAULT_COHERENCE_SWEEP

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.network.interface import PURIFICATIONS
        from qceas.scheduling import SCHEDULERS

        if not isinstance(self.policies, list | tuple) or not self.policies:
            raise _fail("schedule.policies", self.policies, "must be a non-empty list")
        for i, name in enumerate(self.policies):
            _choice(f"schedule.policies[{i}]", name, SCHEDULERS.names())
        if len(set(self.policies)) != len(self.policies):
            raise _fail("schedule.policies", self.policies, "must not repeat a policy")
        _scheduler_options("schedule.params", self.params)
        _int("schedule.pairs_per_round", self.pairs_per_round, 1, MAX_COUNT)
        _positive("schedule.round_period_s", self.round_period_s, MAX_SECONDS)
        _positive("schedule.window_s", self.window_s, MAX_SECONDS)
        if self.window_s > self.round_period_s:
            raise _fail(
                "schedule.window_s",
                self.window_s,
                f"must be <= round_period_s = {_show(self.round_period_s)}",
            )
        _range_or_number("schedule.ready_fraction", self.ready_fraction, 0.0, 1.0, open_low=False)
        if not isinstance(self.ready_fraction, list | tuple):
            raise _fail("schedule.ready_fraction", self.ready_fraction, "must be [low, high]")
        _choice("schedule.ready", self.ready, READY_MODELS)
        _int("schedule.rounds", self.rounds, 1, MAX_COUNT)
        if self.slot_s is not None:
            _positive("schedule.slot_s", self.slot_s, MAX_SECONDS)
        if not _is_number(self.sift) or not 0 < self.sift <= 1:
            raise _fail("schedule.sift", self.sift, "must be in (0, 1]")
        _choice("schedule.purification", self.purification, PURIFICATIONS)
        if not isinstance(self.coherence_sweep_s, list | tuple):
            raise _fail("schedule.coherence_sweep_s", self.coherence_sweep_s, "must be a list")
        for i, value in enumerate(self.coherence_sweep_s):
            _positive(f"schedule.coherence_sweep_s[{i}]", value, MAX_SECONDS)


#: Where the Bell pairs of teleported gates get their fidelity (``PartitionConfig``).
PAIR_SOURCES: tuple[str, ...] = ("network",)


@dataclass(frozen=True)
class PartitionConfig:
    """How each replica's circuit is spread over QPUs (``qceas.qnn.partition``).

    A *replica* is what the trainer calls a node: it holds a shard, computes one update
    per round and is aggregated with the others. With ``qpus_per_replica: 1`` (the
    default) a replica is one QPU: the data-level partition. With m > 1 each replica's
    n-qubit circuit is split over m QPUs (``qpu_of``, one QPU index per qubit; default:
    contiguous blocks), and every entangling gate between two of them is teleported
    through a Bell pair: ``nodes.count: 1`` is the model-level partition, more replicas
    the hybrid one (replicas aggregate under the training strategy, CEAS included).

    ``capacity`` bounds the qubits of one QPU; ``links`` lists the QPU pairs of a
    replica joined by a quantum link (null: every pair a gate joins). A gate between
    QPUs with no route over ``links`` is an error.

    ``pair_fidelity`` is a number in [1/4, 1] (every pair has that Werner fidelity at
    use) or ``network``: the pairs come from a simulated link per QPU pair
    (``qceas.training.gate_pairs``). Each shot of a circuit needs its k pairs per link
    in memory when it starts; one shot is run every ``shot_period_s``, and the link's
    scheduler (the strategy's own: its composition's, ``ceas`` for the CEAS rule; else
    ``scheduler``; options in ``scheduler_params``) decides when to generate and which
    pairs to use, so pairs that wait in memory decay into gate errors. Model-level
    and hybrid runs are pair-limited: ``qceas validate`` prints the shots of a round
    and the hours they take. ``cycles_per_round`` shot cycles are
    simulated per training round and stand for all of the round's shots. Link
    parameters: ``link_length_km``, ``efficiency`` (per end), ``initial_fidelity`` and
    ``coherence_time_s`` (a number or a ``[low, high]`` range, drawn per link and per
    QPU), ``memory_slots`` (per link end; null: the pairs one shot needs),
    ``min_period_s`` (attempt period floor) and ``slot_s`` (simulation slot).
    """

    qpus_per_replica: int = 1
    qpu_of: tuple[int, ...] | None = None
    capacity: int | None = None
    links: tuple[tuple[int, int], ...] | None = None
    pair_fidelity: Any = "network"
    scheduler: str = "ceas"
    scheduler_params: Mapping[str, Any] = field(default_factory=FrozenMapping)
    shot_period_s: float = 0.02
    cycles_per_round: int = 10
    link_length_km: float = 0.01
    efficiency: Any = 0.03
    initial_fidelity: Any = (0.94, 0.98)
    coherence_time_s: Any = (0.01, 1.0)
    memory_slots: int | None = None
    min_period_s: float = 1.0e-6
    slot_s: float = 5.0e-4

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.scheduling import SCHEDULERS

        _int("partition.qpus_per_replica", self.qpus_per_replica, 1, MAX_QUBITS)
        if self.qpu_of is not None and (
            not isinstance(self.qpu_of, list | tuple)
            or not self.qpu_of
            or not all(_is_int(k) and k >= 0 for k in self.qpu_of)
        ):
            raise _fail(
                "partition.qpu_of", self.qpu_of, "must be a list of QPU indices >= 0, one per qubit"
            )
        if self.capacity is not None:
            _int("partition.capacity", self.capacity, 1, MAX_QUBITS)
        if self.links is not None:
            if not isinstance(self.links, list | tuple):
                raise _fail("partition.links", self.links, "must be a list of [a, b] QPU pairs")
            for i, pair in enumerate(self.links):
                if (
                    not isinstance(pair, list | tuple)
                    or len(pair) != 2
                    or not all(_is_int(k) and 0 <= k < self.qpus_per_replica for k in pair)
                    or pair[0] == pair[1]
                ):
                    raise _fail(
                        f"partition.links[{i}]",
                        pair,
                        "must be two different QPU indices in "
                        f"[0, {self.qpus_per_replica - 1}] (qpus_per_replica)",
                    )
        fidelity = self.pair_fidelity
        if fidelity not in PAIR_SOURCES and (not _is_number(fidelity) or not 0.25 <= fidelity <= 1):
            raise _fail(
                "partition.pair_fidelity",
                fidelity,
                "must be a fidelity in [0.25, 1] or 'network'" + _text_hint(fidelity),
            )
        _choice("partition.scheduler", self.scheduler, SCHEDULERS.names())
        _scheduler_options("partition.scheduler_params", self.scheduler_params)
        _positive("partition.shot_period_s", self.shot_period_s, MAX_SECONDS)
        _int("partition.cycles_per_round", self.cycles_per_round, 1, MAX_COUNT)
        _positive("partition.link_length_km", self.link_length_km, MAX_KM)
        _range_or_number("partition.efficiency", self.efficiency, 0.0, 1.0, open_low=True)
        _range_or_number(
            "partition.initial_fidelity", self.initial_fidelity, 0.25, 1.0, open_low=False
        )
        _range_or_number(
            "partition.coherence_time_s", self.coherence_time_s, 0.0, 1.0e6, open_low=True
        )
        if self.memory_slots is not None:
            _int("partition.memory_slots", self.memory_slots, 1, MAX_COUNT)
        _attempt_floor("partition.min_period_s", self.min_period_s)
        _positive("partition.slot_s", self.slot_s, MAX_SECONDS)
        if self.slot_s > self.shot_period_s:
            raise _fail(
                "partition.slot_s",
                self.slot_s,
                f"must be <= shot_period_s = {_show(self.shot_period_s)}",
            )


@dataclass(frozen=True)
class FaultsConfig:
    """Faults injected into training (``qceas.training.faults``); none by default.

    * ``crash_fraction`` of the nodes stop answering from round ``crash_round`` on;
    * ``straggler_fraction`` of the nodes are stragglers: each round, with
      ``straggler_probability``, a straggler's update arrives after the round's deadline
      and is left out;
    * ``outage_fraction`` of the nodes lose their quantum link for ``outage_rounds``
      rounds from ``outage_start``: it makes no pairs (keys from the network: stored
      pairs are kept; a fixed key supply: no key material those rounds);
    * the aggregator restarts at each round of ``aggregator_restarts``, from its last
      checkpoint (it saves θ and the optimizer state every
      ``aggregator_checkpoint_every`` rounds, and at round 0): θ and the optimizer
      state go back there, and the rounds since are lost.

    Faulty nodes are drawn from the seed (the same for every strategy); each round
    proceeds with what arrived by its deadline, and the records count every fault.
    """

    crash_fraction: float = 0.0
    crash_round: int = 1
    straggler_fraction: float = 0.0
    straggler_probability: float = 0.5
    outage_fraction: float = 0.0
    outage_start: int = 1
    outage_rounds: int = 1
    aggregator_restarts: tuple[int, ...] = ()
    aggregator_checkpoint_every: int = 5

    def __post_init__(self) -> None:
        _freeze_fields(self)
        _int("faults.aggregator_checkpoint_every", self.aggregator_checkpoint_every, 1, MAX_COUNT)
        for name in ("crash_fraction", "straggler_fraction", "outage_fraction"):
            _unit(f"faults.{name}", getattr(self, name))
        _unit("faults.straggler_probability", self.straggler_probability)
        for name in ("crash_round", "outage_start", "outage_rounds"):
            _int(f"faults.{name}", getattr(self, name), 1, MAX_COUNT)
        if not isinstance(self.aggregator_restarts, list | tuple):
            raise _fail(
                "faults.aggregator_restarts", self.aggregator_restarts, "must be a list of rounds"
            )
        for i, r in enumerate(self.aggregator_restarts):
            _int(f"faults.aggregator_restarts[{i}]", r, 1, MAX_COUNT)


@dataclass(frozen=True)
class EngineConfig:
    """Where the nodes' evaluations run (``qceas.engine``); changes no number.

    * ``name``: ``local`` (in this process, node batches on threads; the default) or
      ``ray`` (node batches as Ray tasks);
    * ``address``: with ``ray``, the address of a running Ray cluster (``host:port``
      of its head node, ``ray://host:port`` for Ray Client, or ``auto``); null takes
      ``RAY_ADDRESS`` from the environment, else starts a private Ray on this machine,
      listening on the loopback interface only;
    * ``num_cpus``: with ``local``, the threads that evaluate node batches side by
      side; with ``ray``, the CPUs of the private Ray (null: every CPU this process
      may use);
    * ``batches_per_task``: node batches (of ``qceas.engine.NODES_PER_BATCH`` nodes)
      evaluated by one Ray task (null: the batches spread over two tasks per CPU of
      the cluster).

    Both engines evaluate the same node batches by the same single-threaded calls
    (``qceas.reproducibility``), and every node draws its shots from its own random
    stream, so the engine, its threads or tasks and the cluster change no number; the
    section is left out of the config's fingerprint.
    """

    name: str = "local"
    address: str | None = None
    num_cpus: int | None = None
    batches_per_task: int | None = None

    def __post_init__(self) -> None:
        _freeze_fields(self)
        from qceas.engine import ENGINES

        _choice("engine.name", self.name, ENGINES.names())
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise _fail("engine.address", self.address, "must be a non-empty string or null")
        if self.num_cpus is not None:
            _int("engine.num_cpus", self.num_cpus, 1, MAX_COUNT)
        if self.batches_per_task is not None:
            _int("engine.batches_per_task", self.batches_per_task, 1, MAX_COUNT)
        if self.address is not None and self.num_cpus is not None:
            raise _fail(
                "engine.num_cpus",
                self.num_cpus,
                "applies only to a private Ray started here; an existing cluster "
                "(engine.address) has its own CPUs",
            )


@dataclass(frozen=True)
class ExperimentConfig:
    """A whole experiment: what to train, on what, over which seeds and strategies."""

    name: str = "quick"
    seed: int = 0
    seeds: int = 1
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    nodes: NodesConfig = field(default_factory=NodesConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    partition: PartitionConfig = field(default_factory=PartitionConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    #: A sweep: ``{"section.field": [values]}``; several keys make a grid. A key may
    #: also be a section name with a list of partial sections, e.g. ``adversary:
    #: [{attack: ipm, params: {epsilon: 10}}, {attack: alie}]``, to vary fields that
    #: belong together. Each point is a config of its own (``sweep_points``), run into
    #: its own directory.
    sweep: Mapping[str, Sequence[Any]] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        _freeze_fields(self)
        if not isinstance(self.name, str) or not self.name:
            raise _fail("name", self.name, "must be a non-empty string")
        _int("seed", self.seed, 0, MAX_SEED)
        _int("seeds", self.seeds, 1, MAX_COUNT)
        if self.seed + self.seeds - 1 > MAX_SEED:
            raise _fail("seeds", self.seeds, f"seed + seeds - 1 must be <= {MAX_SEED}")
        self._check_sweep()
        self.key_schedule()
        # Cross-field rules that need several sections.
        self.noise.node_models(self.nodes.count, self.model.n_qubits)
        self._check_adversary()
        self._check_partition()
        for i, r in enumerate(self.faults.aggregator_restarts):
            if r > self.training.rounds:
                raise _fail(
                    f"faults.aggregator_restarts[{i}]",
                    r,
                    f"must be a round of the run (training.rounds = {self.training.rounds})",
                )
        if (
            self.model.readout == "binary"
            and self.data.classes is not None
            and len(self.data.classes) != 2
        ):
            raise _fail("data.classes", self.data.classes, "binary readout needs 2 classes")

    def _check_sweep(self) -> None:
        if not isinstance(self.sweep, Mapping):
            raise _fail("sweep", self.sweep, 'must map "section.field" to a list of values')
        for key, values in self.sweep.items():
            section, dot, name = str(key).partition(".")
            whole = not dot and section in SECTIONS
            if not whole and (section not in SECTIONS or name not in _known(SECTIONS[section])):
                raise ConfigError(
                    f"sweep.{key}: not a config field (write section.field, e.g. "
                    "adversary.fraction, or a section name with a list of partial sections)"
                )
            if section == "engine":
                raise ConfigError(
                    f"sweep.{key}: the engine changes no number, so it is not swept; "
                    "set the engine section (or --engine) for the whole sweep"
                )
            if isinstance(values, str) or not isinstance(values, Sequence) or not values:
                raise _fail(f"sweep.{key}", values, "must be a non-empty list of values")
            for i, value in enumerate(values if whole else ()):
                if not isinstance(value, Mapping) or not value:
                    raise _fail(
                        f"sweep.{key}[{i}]", value, "must be a non-empty mapping of its fields"
                    )
                for sub in value:
                    if sub not in _known(SECTIONS[section]):
                        known = ", ".join(_known(SECTIONS[section]))
                        raise ConfigError(f"sweep.{key}[{i}].{sub}: unknown key (known: {known})")
                    if f"{section}.{sub}" in self.sweep:
                        raise ConfigError(
                            f"sweep.{key}[{i}].{sub}: also swept as sweep.{section}.{sub}; "
                            "sweep each field in one place"
                        )
        if self.sweep:
            self.sweep_points()  # every point must be a valid config

    def key_schedule(self) -> ScheduleConfig:
        """The demand of the key-supply network: ``schedule`` with
        ``security.key_schedule`` applied (checked here)."""
        if not self.security.key_schedule:
            return self.schedule
        merged = dataclasses.asdict(self.schedule) | dict(self.security.key_schedule)
        try:
            return ScheduleConfig(**merged)
        except ConfigError as exc:
            raise ConfigError(f"security.key_schedule: {exc}") from None

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

    def _check_adversary(self) -> None:
        """The attack must be feasible for the node count (checked here, not mid-run)."""
        from qceas.attacks import ATTACKS

        adv, count = self.adversary, self.nodes.count
        byzantine = math.floor(adv.fraction * count + 0.5)
        honest = count - byzantine
        if (byzantine or adv.sybils) and adv.attack != "none" and honest < 2:
            raise ConfigError(
                f"adversary.fraction = {_show(adv.fraction)}: leaves {honest} honest node(s) "
                f"of nodes.count = {count}; the attacks need at least 2 to observe"
            )
        if byzantine + adv.sybils and adv.attack != "none":
            attack = ATTACKS.get(adv.attack, **dict(adv.params))
            try:  # a dry run on placeholder updates exercises the attack's own rules
                attack(
                    np.zeros((honest, 2)) + np.arange(honest)[:, None],
                    f=byzantine + adv.sybils,
                    rng=np.random.default_rng(0),
                )
            except ValueError as exc:
                raise ConfigError(
                    f"adversary: {exc} (with {byzantine} Byzantine node(s) and "
                    f"{adv.sybils} Sybil(s) among nodes.count = {count})"
                ) from None

    def _check_partition(self) -> None:
        """The partition must fit the model (and its links, where pairs are simulated)."""
        spec = self.partition
        if spec.qpus_per_replica == 1 and (spec.capacity, spec.qpu_of) == (None, None):
            return
        from qceas.training.gate_pairs import check_partition

        try:
            check_partition(self)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

    def replace(self, **changes: Any) -> ExperimentConfig:
        """A copy with top-level fields replaced (sections are replaced whole)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (lists, dicts, numbers, strings) that ``from_dict`` reads back."""
        return _plain(dataclasses.asdict(self))

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
        return {version: self._fingerprint(version) for version in range(1, EVALUATION)}

    def _fingerprint(self, evaluation: int) -> str:
        body = self.to_dict()
        for key in ("name", "seeds", "sweep", "engine"):
            body.pop(key)
        if evaluation >= 3:
            body["evaluation"] = evaluation
        elif evaluation == 2 and (
            self.noise.shots is not None or self.nodes.count > NODES_PER_BATCH
        ):
            body["evaluation"] = 2
        body["training"].pop("strategies")
        body["training"].pop("checkpoint_every")
        for key in LATER_SECTIONS:
            if body[key] == _plain(dataclasses.asdict(SECTIONS[key]())):
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
    return ", ".join(f"{k}={_show(v)}" for k, v in values.items())


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


#: Version of how a round's numbers are computed: 2 since every node samples its shots
#: from its own stream and nodes are evaluated in fixed batches (``qceas.engine``), for
#: configs with finite shots or more nodes than a batch (the others kept 1); 3 since
#: every kernel runs with one BLAS thread (``qceas.reproducibility``), for every config:
#: results computed with the machine's BLAS threads differ in their last bits, which
#: training amplifies.
EVALUATION = 3

#: Sections added after 0.1.0: left out of the fingerprint while at their defaults.
LATER_SECTIONS: tuple[str, ...] = (
    "adversary",
    "security",
    "network",
    "schedule",
    "compute",
    "partition",
    "faults",
)
#: Fields added to existing sections later: left out of the fingerprint at their defaults.
LATER_FIELDS: dict[str, dict[str, Any]] = {
    "security": {"key_source": "fixed", "scheduler": "ceas", "key_schedule": {}},
    "training": {"compositions": {}, "test_on_hardware": False},
    "schedule": {"ready": "uniform"},
}

SECTIONS: dict[str, type] = {
    "model": ModelConfig,
    "data": DataConfig,
    "nodes": NodesConfig,
    "noise": NoiseConfig,
    "optimizer": OptimizerConfig,
    "training": TrainingConfig,
    "adversary": AdversaryConfig,
    "security": SecurityConfig,
    "network": NetworkConfig,
    "schedule": ScheduleConfig,
    "compute": ComputeConfig,
    "partition": PartitionConfig,
    "faults": FaultsConfig,
    "engine": EngineConfig,
}


def _known(cls: type) -> list[str]:
    return [f.name for f in fields(cls)]


def from_dict(raw: Mapping[str, Any], *, base: ExperimentConfig | None = None) -> ExperimentConfig:
    """Build a config from plain data, over ``base`` (default: the built-in defaults).

    Sections given in ``raw`` override the matching keys of ``base`` key by key.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"config: must be a mapping of sections, got {type(raw).__name__}")
    base = base or ExperimentConfig()
    top_known = _known(ExperimentConfig)
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in top_known:
            raise ConfigError(f"{key}: unknown key (known: {', '.join(top_known)})")
        if key in SECTIONS:
            cls = SECTIONS[key]
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key}: must be a mapping of settings, got {_show(value)}")
            for sub in value:
                if sub not in _known(cls):
                    raise ConfigError(f"{key}.{sub}: unknown key (known: {', '.join(_known(cls))})")
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
