"""The config sections of the circuit and its hardware: ``model``, ``noise``, ``compute``.

Each section checks its own fields when it is built (``qceas._rules``) and builds the
qnn objects it describes (``NoiseConfig.node_models``, ``ComputeConfig.gate_times``).
Rules that need another section (a per-qubit list against ``model.n_qubits``) are
applied by the composite (``qceas.training.config.RunConfig``), which calls
``node_models`` with the counts.

Noise values are given per node in one of three forms: a number (every node, every
qubit), a list with one entry per node (each a number or a list with one number per
qubit), or a two-group mapping ``{low: a, high: b, noisy_fraction: f}`` — the last
``round(f·count)`` nodes get ``b``, the others ``a`` (``a`` and ``b`` are numbers or
per-qubit lists). ``shots`` is ``null`` (exact), an integer, or a list per node.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from qceas._rules import (
    MAX_LAYERS,
    MAX_SAMPLES,
    MAX_SCALE,
    MAX_SECONDS,
    ConfigError,
    choice,
    fail,
    freeze_fields,
    integer,
    is_int,
    is_number,
    log_uniform,
    positive,
    range_or_number,
    text_hint,
    under,
    unit,
    unit_or_per_qubit,
)
from qceas.qnn.ansatz import ENCODINGS, ENTANGLERS, MAX_QUBITS, TOPOLOGIES
from qceas.qnn.model import READOUTS
from qceas.qnn.noise import NoiseModel
from qceas.qnn.qfi_estimators import QFI_ESTIMATORS
from qceas.qnn.timing import GateTimes


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
    #: The QFI the nodes declare and are weighted by (``qceas.qnn.qfi_estimators``):
    #: ``sld`` (exact), ``sub_qfi`` or ``hilbert_schmidt`` (lower bounds made of
    #: overlaps a QPU can measure; their circuits are priced in ``qceas.qnn.timing``).
    qfi_estimator: str = "sld"
    #: Rows of each node's shard (or minibatch) its QFI weight is estimated from, evenly
    #: spaced (``qceas.qnn.model.qfi_rows``); null: all of them. The weight needs the
    #: shard's mean QFI, not every sample's: a subsample estimates it, with the error
    #: reported as ``NodeEvaluation.qfi_se``.
    qfi_samples: int | None = None

    def __post_init__(self) -> None:
        freeze_fields(self)
        integer("model.n_qubits", self.n_qubits, 1, MAX_QUBITS)
        choice("model.qfi_estimator", self.qfi_estimator, tuple(QFI_ESTIMATORS.names()))
        if self.qfi_samples is not None and not (
            is_int(self.qfi_samples) and 1 <= self.qfi_samples <= MAX_SAMPLES
        ):
            raise fail(
                "model.qfi_samples",
                self.qfi_samples,
                f"must be null or an integer in [1, {MAX_SAMPLES}]",
            )
        integer("model.layers", self.layers, 1, MAX_LAYERS)
        choice("model.encoding", self.encoding, ENCODINGS)
        choice("model.entangler", self.entangler, ENTANGLERS)
        choice("model.topology", self.topology, TOPOLOGIES)
        choice("model.readout", self.readout, READOUTS)
        positive("model.output_scale", self.output_scale, MAX_SCALE)


NOISE_CHANNELS: tuple[str, ...] = ("depolarizing", "amplitude_damping", "readout_error")


@dataclass(frozen=True)
class NoiseConfig:
    """Per-node noise specs (forms in the module docstring); see ``node_models``."""

    depolarizing: Any = 0.0
    amplitude_damping: Any = 0.0
    readout_error: Any = 0.0
    shots: Any = None

    def __post_init__(self) -> None:
        freeze_fields(self)
        for name in NOISE_CHANNELS:
            spec = getattr(self, name)
            if isinstance(spec, Mapping):
                extra = set(spec) - {"low", "high", "noisy_fraction"}
                missing = {"low", "high", "noisy_fraction"} - set(spec)
                if extra or missing:
                    raise fail(
                        f"noise.{name}",
                        dict(spec),
                        "a group mapping needs exactly the keys low, high, noisy_fraction",
                    )
                unit(f"noise.{name}.noisy_fraction", spec["noisy_fraction"])
                for key in ("low", "high"):
                    unit_or_per_qubit(f"noise.{name}.{key}", spec[key])
            elif isinstance(spec, list | tuple):
                for k, entry in enumerate(spec):
                    unit_or_per_qubit(f"noise.{name}[{k}]", entry)
            else:
                unit(f"noise.{name}", spec)
        shots = self.shots
        if isinstance(shots, list | tuple):
            for k, s in enumerate(shots):
                if s is not None:
                    integer(f"noise.shots[{k}]", s, 1, MAX_SAMPLES)
        elif shots is not None:
            integer("noise.shots", shots, 1, MAX_SAMPLES)

    def node_models(self, n_nodes: int, n_qubits: int) -> list[NoiseModel]:
        """One NoiseModel per node, with lengths checked against the node and qubit counts."""
        per_channel = {name: self._expand(name, n_nodes, n_qubits) for name in NOISE_CHANNELS}
        shots = self.shots
        if isinstance(shots, list | tuple):
            if len(shots) != n_nodes:
                raise fail("noise.shots", shots, f"must have one entry per node ({n_nodes})")
            shot_list = list(shots)
        else:
            shot_list = [shots] * n_nodes
        try:  # NoiseModel names its arguments: this section's fields of those names
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
        except ValueError as exc:
            raise under("noise", exc) from None

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
                raise fail(
                    f"noise.{name}",
                    spec,
                    f"a list must have one entry per node ({n_nodes}); "
                    "use a single number for all nodes",
                )
            for k, entry in enumerate(spec):
                _check_qubit_count(f"noise.{name}[{k}]", entry, n_qubits)
            return list(spec)
        return [spec] * n_nodes


def _check_qubit_count(path: str, value: Any, n_qubits: int) -> None:
    if isinstance(value, list | tuple) and len(value) != n_qubits:
        raise fail(path, value, f"a per-qubit list must have {n_qubits} entries (model.n_qubits)")


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
    slowdown: float | tuple[float, float] = 1.0

    def __post_init__(self) -> None:
        freeze_fields(self)
        for name in ("single_qubit_gate_s", "two_qubit_gate_s"):
            positive(f"compute.{name}", getattr(self, name), MAX_SECONDS)
        for name in ("measurement_s", "reset_s", "circuit_overhead_s"):
            value = getattr(self, name)
            if not is_number(value) or not 0 <= value <= MAX_SECONDS:
                rule = f"must be a number in [0, {MAX_SECONDS:g}]" + text_hint(value)
                raise fail(f"compute.{name}", value, rule)
        try:
            self.gate_times()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        integer("compute.shots", self.shots, 1, MAX_SAMPLES)
        if not isinstance(self.qfi_circuits, bool):
            raise fail("compute.qfi_circuits", self.qfi_circuits, "must be true or false")
        range_or_number("compute.slowdown", self.slowdown, 0.0, 1.0e6, open_low=True)

    def gate_times(self) -> GateTimes:
        """The ``GateTimes`` of this section."""
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


__all__ = ["NOISE_CHANNELS", "ComputeConfig", "ModelConfig", "NoiseConfig"]
