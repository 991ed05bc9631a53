"""Scheduling of Bell-pair generation, storage and consumption (CEAS).

:mod:`qceas.scheduling.mdp` solves the per-link-class Markov decision process of
when to attempt generation, which stored pairs to consume for key distillation, and
when to discard a stale pair, exactly by backward induction.
"""

from qceas.scheduling.mdp import (
    MAX_STATE_ACTIONS,
    MAX_STATES,
    Action,
    LinkClass,
    Policy,
    solve,
)

__all__ = [
    "MAX_STATES",
    "MAX_STATE_ACTIONS",
    "Action",
    "LinkClass",
    "Policy",
    "solve",
]
