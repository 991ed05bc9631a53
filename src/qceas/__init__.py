"""qceas: distributed quantum neural network training over a simulated quantum internet.

Implements the Consensus–Entanglement-Aware Scheduling (CEAS) framework
(arXiv:2602.06847); ``docs/architecture.md`` describes the data flow of a round.

The public API::

    import qceas

    config = qceas.load_config("my.yaml")        # or qceas.from_dict({...})
    qceas.run_experiment(config, out="results/my")  # every strategy × seed, resumable
    trainer = qceas.Trainer(qceas.build_scenario(config, seed=0), "ceas")
    trainer.run(rounds=5)

The names that need the training stack (``Trainer``, ``run_experiment``, the config
loader, ...) are imported on first use, so ``import qceas`` stays light for the
processes (Ray workers) that need only the kernels.
"""

from importlib import import_module
from typing import Any

from qceas import attacks, physics, qnn
from qceas._rules import ConfigError
from qceas._version import __version__
from qceas.consensus import aggregators
from qceas.registry import Registry, UnknownNameError

#: Public names imported on first use: name -> module.
_LAZY = {
    "ExperimentConfig": "qceas.experiments.config",
    "RunConfig": "qceas.training.config",
    "dump_yaml": "qceas.experiments.config",
    "from_dict": "qceas.experiments.config",
    "load_config": "qceas.experiments.config",
    "load_scenario": "qceas.experiments.scenarios",
    "run_experiment": "qceas.experiments.runner",
    "Scenario": "qceas.training.scenario",
    "build_scenario": "qceas.training.scenario",
    "Trainer": "qceas.training.trainer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'qceas' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ConfigError",
    "ExperimentConfig",
    "Registry",
    "RunConfig",
    "Scenario",
    "Trainer",
    "UnknownNameError",
    "__version__",
    "aggregators",
    "attacks",
    "build_scenario",
    "dump_yaml",
    "from_dict",
    "load_config",
    "load_scenario",
    "physics",
    "qnn",
    "run_experiment",
]
