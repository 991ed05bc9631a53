"""Pure, vectorized physics of entanglement distribution (no state, no imports of ours).

Every function accepts floats or numpy arrays, broadcasts, and validates its input
with a message naming the argument and the rule, except the ``*_unchecked`` kernels:
the same formulas, bit for bit, without the checks, for the simulator's inner loop.
Formulas and sources are in each module's docstring; ARCHITECTURE §4 lists them
together.
"""

from qceas.physics.links import (
    FIBRE_LIGHT_SPEED,
    FIBRE_LOSS_DB_PER_KM,
    attempt_period,
    pair_rate,
    success_probability,
    transmissivity,
)
from qceas.physics.purification import bbpssw, bell_diagonal, dejmps, werner_coefficients
from qceas.physics.qkd import (
    QBER_THRESHOLD,
    binary_entropy,
    secret_fraction,
    secret_fraction_unchecked,
)
from qceas.physics.teleport import apply_two_qubit_pauli_channel, teleported_cnot
from qceas.physics.werner import (
    decay,
    fidelity_from_werner,
    fidelity_from_werner_unchecked,
    qber,
    qber_unchecked,
    swap,
    swap_chain,
    werner_parameter,
    werner_parameter_unchecked,
)

__all__ = [
    "FIBRE_LIGHT_SPEED",
    "FIBRE_LOSS_DB_PER_KM",
    "QBER_THRESHOLD",
    "apply_two_qubit_pauli_channel",
    "attempt_period",
    "bbpssw",
    "bell_diagonal",
    "binary_entropy",
    "decay",
    "dejmps",
    "fidelity_from_werner",
    "fidelity_from_werner_unchecked",
    "pair_rate",
    "qber",
    "qber_unchecked",
    "secret_fraction",
    "secret_fraction_unchecked",
    "success_probability",
    "swap",
    "swap_chain",
    "teleported_cnot",
    "transmissivity",
    "werner_coefficients",
    "werner_parameter",
    "werner_parameter_unchecked",
]
