"""The local engine: the node batches one after the other, in this process (default)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.engine.base import Shard, check_nodes, evaluate_batches, merge, node_batches
from qceas.qnn.model import QNN, NodeEvaluation
from qceas.qnn.noise import NoiseModel
from qceas.qnn.partition import BlockError


class LocalEngine:
    """Evaluates the node batches (``qceas.engine.base``) in turn, each vectorized."""

    name = "local"

    def evaluate_nodes(
        self,
        model: QNN,
        params: NDArray[np.float64],
        shards: Sequence[Shard],
        noises: Sequence[NoiseModel],
        *,
        qfi: bool,
        node_rngs: Sequence[np.random.Generator] | None,
        data_sizes: ArrayLike | None,
        blocks: Sequence[BlockError | None] | None,
    ) -> NodeEvaluation:
        check_nodes(shards, noises)
        parts = evaluate_batches(
            model,
            params,
            list(shards),
            list(noises),
            qfi,
            None if node_rngs is None else list(node_rngs),
            None if blocks is None else list(blocks),
            node_batches(len(shards)),
        )
        return merge(parts, data_sizes)

    def close(self) -> None:
        pass
