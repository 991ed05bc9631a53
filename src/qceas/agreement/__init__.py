"""Quantum detectable Byzantine agreement over EPR pairs (``qceas consensus``).

``protocol`` (the rounds, vectorized), ``attacks`` (coordinated adversaries and the
limit no rule passes), ``bounds`` (exact and Chernoff failure and forgery
probabilities, choice of M), ``noise`` (which pair errors the checks see), ``digest``
(multi-valued agreement and tallies), ``config`` (the ``consensus`` section).
"""

from __future__ import annotations

from qceas.agreement.attacks import ATTACKS
from qceas.agreement.config import ConsensusConfig
from qceas.agreement.digest import Point, Tally, simulate
from qceas.agreement.protocol import BOT, Protocol, run_batch

__all__ = [
    "ATTACKS",
    "BOT",
    "ConsensusConfig",
    "Point",
    "Protocol",
    "Tally",
    "run_batch",
    "simulate",
]
