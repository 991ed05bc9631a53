"""Training: scenarios, strategies, optimizers, key supply, and the round loop with its
callbacks."""

from qceas.training.optimizers import OPTIMIZERS, Optimizer
from qceas.training.scenario import Scenario, build_scenario
from qceas.training.strategies import STRATEGIES, Strategy, qfi_scalar
from qceas.training.trainer import Callback, RoundRecord, Trainer

__all__ = [
    "OPTIMIZERS",
    "STRATEGIES",
    "Callback",
    "Optimizer",
    "RoundRecord",
    "Scenario",
    "Strategy",
    "Trainer",
    "build_scenario",
    "qfi_scalar",
]
