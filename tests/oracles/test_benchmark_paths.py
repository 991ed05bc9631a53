"""The round of ``benchmarks/round_speed.py`` agrees with stock PennyLane.

An independent oracle for the noisy-circuit gradient and, above all, the mixed-state
QFI: PennyLane's ``default.mixed`` with autograd differentiates the density matrix
itself (``benchmarks/pennylane_paths.py``), and the SLD formula is applied to that.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from qceas.qnn import QNN, NoiseModel

pytest.importorskip("pennylane")


def test_noisy_round_equals_stock_pennylane(load_benchmark: Callable[[str], ModuleType]) -> None:
    paths = load_benchmark("pennylane_paths")
    params, x, y, depol = paths.make_workload(
        n_qubits=3, layers=2, nodes=2, samples=3, n_classes=3, seed=4
    )
    grads, qfis = paths.stock_round(params, x, y, depol, n_classes=3, output_scale=5.0, layers=2)
    model = QNN(3, 2, n_classes=3, output_scale=5.0)
    noises = [NoiseModel.build(3, depolarizing=list(p)) for p in depol]
    ours = model.evaluate_nodes(params, [(x[k], y[k]) for k in range(2)], noises, qfi=True)
    assert ours.qfi is not None
    np.testing.assert_allclose(ours.gradient, grads, atol=1e-10)
    np.testing.assert_allclose(ours.qfi, qfis, atol=1e-10)
