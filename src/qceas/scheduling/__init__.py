"""Scheduling of Bell-pair generation, storage and consumption (CEAS).

:mod:`qceas.scheduling.mdp` solves the per-link-class Markov decision process of
when to attempt generation, which stored pairs to consume for key distillation, and
when to discard a stale pair, exactly by backward induction;
:func:`~qceas.scheduling.mdp_batch.solve_many` solves many classes at once (the same
tables). The schedulers that the
network simulator (:func:`qceas.network.simulate`) runs are registered in
:data:`SCHEDULERS`: ``ceas`` (the MDP policy per flow), ``oblivious`` (the paper's
baseline), ``greedy``, ``greedy-purify`` and ``random``.
"""

from qceas.scheduling import baselines as _baselines  # noqa: F401  (registers policies)
from qceas.scheduling import ceas as _ceas  # noqa: F401  (registers policies)
from qceas.scheduling.base import SCHEDULERS
from qceas.scheduling.baselines import Greedy, GreedyPurify, Oblivious, RandomPolicy
from qceas.scheduling.ceas import CEASScheduler, route_success
from qceas.scheduling.mdp import (
    MAX_STATE_ACTIONS,
    MAX_STATES,
    Action,
    LinkClass,
    Policy,
    solve,
)
from qceas.scheduling.mdp_batch import solve_many

__all__ = [
    "MAX_STATES",
    "MAX_STATE_ACTIONS",
    "SCHEDULERS",
    "Action",
    "CEASScheduler",
    "Greedy",
    "GreedyPurify",
    "LinkClass",
    "Oblivious",
    "Policy",
    "RandomPolicy",
    "route_success",
    "solve",
    "solve_many",
]
