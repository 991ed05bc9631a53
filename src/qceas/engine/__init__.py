"""Executors of a round's node evaluations: ``local`` (default) and ``ray``.

``make_engine(spec)`` builds the engine an ``engine`` config section names; engines
follow :class:`qceas.engine.base.Engine`. Both give identical numbers for the same
config and seed (``qceas.engine.base``), so the choice is left out of a config's
fingerprint.
"""

from __future__ import annotations

from qceas.engine.base import (
    NODES_PER_BATCH,
    Engine,
    EngineError,
    merge,
    node_batches,
    nodes_per_batch,
)
from qceas.engine.config import EngineConfig
from qceas.engine.registry import ENGINES, make_engine

__all__ = [
    "ENGINES",
    "NODES_PER_BATCH",
    "Engine",
    "EngineConfig",
    "EngineError",
    "make_engine",
    "merge",
    "node_batches",
    "nodes_per_batch",
]
