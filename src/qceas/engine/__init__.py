"""Executors of a round's node evaluations: ``local`` (default) and ``ray``.

``make_engine(spec)`` builds the engine an ``engine`` config section names; engines
follow :class:`qceas.engine.base.Engine`. Both give identical numbers for the same
config and seed (``qceas.engine.base``), so the choice is left out of a config's
fingerprint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qceas.engine.base import NODES_PER_BATCH, Engine, EngineError, merge, node_batches
from qceas.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from qceas.config import EngineConfig

ENGINES: Registry[Engine] = Registry("engine")


@ENGINES.register("local")
def _local(spec: Any = None) -> Engine:
    from qceas.engine.local import LocalEngine

    return LocalEngine(threads=None if spec is None else spec.num_cpus)


@ENGINES.register("ray")
def _ray(spec: Any) -> Engine:
    from qceas.engine.ray_engine import RayEngine  # imports Ray only when asked for

    return RayEngine(spec)


def make_engine(spec: EngineConfig) -> Engine:
    """The engine ``spec.name`` names, set up from ``spec``."""
    return ENGINES.get(spec.name, spec=spec)


__all__ = [
    "ENGINES",
    "NODES_PER_BATCH",
    "Engine",
    "EngineError",
    "make_engine",
    "merge",
    "node_batches",
]
