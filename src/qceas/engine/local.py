"""The local engine: the node batches one after the other, in this process (default)."""

from __future__ import annotations

from qceas.engine.base import BatchedEngine


class LocalEngine(BatchedEngine):
    """Evaluates the node batches (``qceas.engine.base``) in turn, each vectorized."""

    name = "local"
