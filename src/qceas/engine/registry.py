"""The engines by name (``ENGINES``) and ``make_engine``.

A factory imports its engine's module only when called, so that asking for ``local``
never imports Ray.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from qceas.engine.base import Engine
from qceas.registry import Registry

if TYPE_CHECKING:  # pragma: no cover
    from qceas.engine.config import EngineConfig

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


__all__ = ["ENGINES", "make_engine"]
