"""``qceas validate`` names the simulation path of the nodes' circuits and its cost."""

from __future__ import annotations

import math

import numpy as np
import pytest

from qceas.config import from_dict
from qceas.experiments import resolve
from qceas.experiments.validate import validate
from qceas.qnn import QNN, NoiseModel
from qceas.qnn.cost import estimate_round_seconds


def _circuit_line(raw: dict) -> str:
    lines = [line for line in validate(from_dict(raw), "t") if line.startswith("circuits:")]
    assert len(lines) == 1
    return lines[0]


def test_quick_says_dense_pauli_with_shots() -> None:
    line = _circuit_line(resolve("quick").to_dict())
    assert "4 qubits, dense layer transfer matrices" in line
    assert "sampled parameter-shift circuits" in line
    assert "with the QFI" in line  # the qfi strategy needs it


@pytest.mark.parametrize(("samples", "reverse"), [(2, True), (None, False)])
def test_six_qubits_exact_take_the_reverse_pass_on_a_subsample(
    samples: int | None, reverse: bool
) -> None:
    raw = resolve("quick").to_dict()
    raw["model"].update(n_qubits=6, layers=1, qfi_samples=samples)
    raw["noise"]["shots"] = None
    raw["nodes"]["count"] = 3
    line = _circuit_line(raw)
    assert "6 qubits, gate-local kernels" in line
    assert ("reverse pass" in line) is reverse
    assert ("tangents on 2 QFI row(s)" in line) is reverse
    assert ("forward mode" in line) is not reverse


def test_noiseless_nodes_are_statevectors() -> None:
    model = QNN(3, 1)
    assert model.simulation_path(NoiseModel.ideal(3), qfi=True, rows=5).startswith(
        "statevectors (3 qubits)"
    )


def test_estimate_is_a_positive_number_of_seconds() -> None:
    model = QNN(6, 1, n_classes=2, qfi_samples=1)
    rng = np.random.default_rng(0)
    shards = [(rng.uniform(0, np.pi, (3, 6)), rng.integers(0, 2, 3)) for _ in range(2)]
    noises = [NoiseModel.build(6, depolarizing=0.05), NoiseModel.ideal(6)]
    params = model.init_params(rng=rng)
    for qfi in (False, True):
        seconds = estimate_round_seconds(model, params, shards, noises, qfi=qfi, probe_rows=2)
        assert math.isfinite(seconds)
        assert seconds > 0


def test_a_partitioned_noiseless_model_is_mixed_and_probed_with_its_block() -> None:
    """The teleported gates' block error makes a noiseless node's state mixed: the path
    named is the Pauli one, as evaluate_nodes takes it (found by review)."""
    raw = resolve("quick").to_dict()
    raw["model"].update(n_qubits=6, layers=1, qfi_samples=2)
    raw["noise"] = {"depolarizing": 0.0, "readout_error": 0.0, "shots": None}
    raw["nodes"]["count"] = 2
    raw["partition"] = {"qpus_per_replica": 2, "pair_fidelity": 0.9}
    line = _circuit_line(raw)
    assert "statevectors" not in line
    assert "Pauli vectors (6 qubits, gate-local kernels" in line
    assert "reverse pass" in line
