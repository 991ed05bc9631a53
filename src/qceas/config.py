"""The whole config in one import, for users and the command line.

Each section lives in the package that uses it and the loader in
``qceas.experiments.config``; this module gathers them so that a script can write
``from qceas.config import from_dict, NoiseConfig``. Library code imports the
sections from their packages, never from here (``tests/test_import_layers.py``): this
module sits at the top, beside the command line.
"""

from qceas._rules import (
    MAX_COUNT,
    MAX_EC_EFFICIENCY,
    MAX_KM,
    MAX_LAYERS,
    MAX_SAMPLES,
    MAX_SCALE,
    MAX_SECONDS,
    MAX_SEED,
    ConfigError,
    FrozenMapping,
    freeze,
    log_uniform,
    plain,
)
from qceas.attacks.config import AdversaryConfig
from qceas.data.config import SPLITS, DataConfig
from qceas.engine.base import NODES_PER_BATCH
from qceas.engine.config import EngineConfig
from qceas.experiments.config import (
    EVALUATION,
    LATER_FIELDS,
    LATER_SECTIONS,
    SECTIONS,
    TOP_LEVEL,
    ExperimentConfig,
    dump_yaml,
    from_dict,
    load_config,
    parse_text,
    sweep_label,
)
from qceas.network.config import (
    DEFAULT_COHERENCE_SWEEP,
    DEFAULT_POLICIES,
    READY_MODELS,
    NetworkConfig,
    ScheduleConfig,
)
from qceas.partition.config import PAIR_SOURCES, PartitionConfig
from qceas.qnn.ansatz import ENCODINGS, ENTANGLERS, MAX_QUBITS, TOPOLOGIES
from qceas.qnn.config import NOISE_CHANNELS, ComputeConfig, ModelConfig, NoiseConfig
from qceas.qnn.model import READOUTS
from qceas.qnn.noise import NoiseModel
from qceas.security.config import KEY_SOURCES, SecurityConfig
from qceas.training.config import (
    FaultsConfig,
    NodesConfig,
    OptimizerConfig,
    RunConfig,
    TrainingConfig,
)

__all__ = [
    "DEFAULT_COHERENCE_SWEEP",
    "DEFAULT_POLICIES",
    "ENCODINGS",
    "ENTANGLERS",
    "EVALUATION",
    "KEY_SOURCES",
    "LATER_FIELDS",
    "LATER_SECTIONS",
    "MAX_COUNT",
    "MAX_EC_EFFICIENCY",
    "MAX_KM",
    "MAX_LAYERS",
    "MAX_QUBITS",
    "MAX_SAMPLES",
    "MAX_SCALE",
    "MAX_SECONDS",
    "MAX_SEED",
    "NODES_PER_BATCH",
    "NOISE_CHANNELS",
    "PAIR_SOURCES",
    "READOUTS",
    "READY_MODELS",
    "SECTIONS",
    "SPLITS",
    "TOPOLOGIES",
    "TOP_LEVEL",
    "AdversaryConfig",
    "ComputeConfig",
    "ConfigError",
    "DataConfig",
    "EngineConfig",
    "ExperimentConfig",
    "FaultsConfig",
    "FrozenMapping",
    "ModelConfig",
    "NetworkConfig",
    "NodesConfig",
    "NoiseConfig",
    "NoiseModel",
    "OptimizerConfig",
    "PartitionConfig",
    "RunConfig",
    "ScheduleConfig",
    "SecurityConfig",
    "TrainingConfig",
    "dump_yaml",
    "freeze",
    "from_dict",
    "load_config",
    "log_uniform",
    "parse_text",
    "plain",
    "sweep_label",
]
