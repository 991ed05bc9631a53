"""Data-parallel training: scenarios, strategies, optimizers and the round loop."""

from qceas.training.optimizers import OPTIMIZERS, Optimizer
from qceas.training.scenario import Scenario, build_scenario
from qceas.training.strategies import STRATEGIES, Strategy, qfi_scalar
from qceas.training.trainer import RoundRecord, Trainer

__all__ = [
    "OPTIMIZERS",
    "STRATEGIES",
    "Optimizer",
    "RoundRecord",
    "Scenario",
    "Strategy",
    "Trainer",
    "build_scenario",
    "qfi_scalar",
]
