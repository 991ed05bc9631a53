"""Batched noisy quantum neural networks: ansatz, simulator, exact derivatives, export."""

from qceas.qnn.ansatz import Ansatz
from qceas.qnn.fisher import qfi_mixed, qfi_pure
from qceas.qnn.model import QNN, NodeEvaluation
from qceas.qnn.noise import NoiseModel
from qceas.qnn.simulate import Propagated, propagate

__all__ = [
    "QNN",
    "Ansatz",
    "NodeEvaluation",
    "NoiseModel",
    "Propagated",
    "propagate",
    "qfi_mixed",
    "qfi_pure",
]
