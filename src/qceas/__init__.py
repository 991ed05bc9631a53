"""qceas: distributed quantum neural network training over a simulated quantum internet.

Implements the Consensus–Entanglement-Aware Scheduling (CEAS) framework
(arXiv:2602.06847). See ARCHITECTURE.md for the data flow of a round.
"""

from qceas import attacks, physics, qnn
from qceas.consensus import aggregators
from qceas.registry import Registry, UnknownNameError

__version__ = "0.1.0"

__all__ = [
    "Registry",
    "UnknownNameError",
    "__version__",
    "aggregators",
    "attacks",
    "physics",
    "qnn",
]
