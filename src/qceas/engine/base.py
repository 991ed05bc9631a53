"""The executor protocol: evaluate every node of a round, wherever that runs.

An engine has one main method, ``evaluate_nodes``: the model, then the arguments of
:meth:`qceas.qnn.QNN.evaluate_nodes` with one shot generator per node (``node_rngs``)
and its result; the trainer calls it once per round.

The unit of work is a *batch* of ``NODES_PER_BATCH`` consecutive nodes (the last one
shorter), evaluated by one vectorized ``QNN.evaluate_nodes`` call with one BLAS thread
(``qceas.reproducibility``). Every engine evaluates exactly these batches, the local
one on ``engine.num_cpus`` threads of this process, the Ray one as tasks of
``engine.batches_per_task`` batches, so every engine, thread count and task size gives
the same numbers bit for bit. The batch is fixed rather than left to the engine
because a row's floating-point result depends, in its last bits, on the other rows it
shares a BLAS call with (kernels treat the edge rows of a matrix differently); what
does not depend on the batches is the shot noise: every node samples from its own
stream (``node_rngs``).

Why 64: a chunk of the noisy 4-qubit simulation holds about 170–250 rows
(``qceas.qnn.model.CHUNK_BUDGET``) and every chunk has a fixed cost (~12 ms here), so a
batch should fill whole chunks. Measured on 1000 nodes of 8 samples (one round):
4.64 s with batches of 32, 4.47 s with 64, 4.59 s with 128, 4.64 s with one batch;
and the 50-node ``paper`` scenario stays one batch (two batches of 32 and 18 cost it
~6%). The price is parallelism on small networks: a Ray run has at most one task per
64 nodes.

Above ``MAX_PAULI_QUBITS`` qubits a row costs about 4× more per qubit (Pauli vectors of
4^n entries, ``qceas.qnn.pauli_local``), so a batch holds 4× fewer nodes per qubit
(:func:`nodes_per_batch`: 16 at 6 qubits, 4 at 7, 1 from 8 on, where one node of 64
samples is already about half a second of work). Otherwise a 50-node round at 8
qubits would be one batch on one core whatever the engine; the batches still depend
on the model alone, so every engine gives the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.qnn.model import QNN, NodeEvaluation
from qceas.qnn.noise import NoiseModel
from qceas.qnn.partition import BlockError
from qceas.qnn.pauli import MAX_PAULI_QUBITS
from qceas.reproducibility import deterministic

Shard = tuple[ArrayLike, ArrayLike]


class EngineError(RuntimeError):
    """An evaluation that failed where it ran (a cluster), not because of its input."""


class Engine(Protocol):
    """Runs the nodes' evaluations of a round (local or on a cluster)."""

    name: str

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
        """``model.evaluate_nodes`` over all nodes (see :class:`qceas.qnn.QNN`)."""
        ...

    def close(self) -> None:
        """Release what the engine holds (a Ray it started); idempotent."""
        ...


#: Nodes evaluated by one vectorized call; part of what determines the numbers.
NODES_PER_BATCH = 64


def nodes_per_batch(n_qubits: int) -> int:
    """Nodes per batch for a model of ``n_qubits`` (module docstring)."""
    extra = max(0, n_qubits - MAX_PAULI_QUBITS)
    return max(1, NODES_PER_BATCH >> (2 * extra))


def node_batches(n_nodes: int, per_batch: int = NODES_PER_BATCH) -> list[slice]:
    """Contiguous slices of ``per_batch`` nodes (the last one shorter) covering all."""
    if n_nodes < 1 or per_batch < 1:
        raise ValueError(
            f"node_batches: need n_nodes >= 1 and per_batch >= 1, got {n_nodes}, {per_batch}"
        )
    return [slice(lo, min(lo + per_batch, n_nodes)) for lo in range(0, n_nodes, per_batch)]


def check_nodes(shards: Sequence[Shard], noises: Sequence[NoiseModel]) -> None:
    """The checks a split into batches would hide: one noise model per shard, a node."""
    if len(shards) != len(noises):
        raise ValueError(f"noises: {len(noises)} noise models for {len(shards)} shards")
    if len(shards) == 0:
        raise ValueError("shards: need at least one node")


@dataclass(frozen=True)
class NodeInputs:
    """A round's per-node inputs, in node order; ``nodes[lo:hi]`` is the same for the
    nodes lo..hi-1 (what a batch or a Ray task gets)."""

    shards: list[Shard]
    noises: list[NoiseModel]
    node_rngs: list[np.random.Generator] | None
    blocks: list[BlockError | None] | None

    def __getitem__(self, part: slice) -> NodeInputs:
        return NodeInputs(
            self.shards[part],
            self.noises[part],
            None if self.node_rngs is None else self.node_rngs[part],
            None if self.blocks is None else self.blocks[part],
        )


def evaluate_batches(
    model: QNN,
    params: NDArray[np.float64],
    nodes: NodeInputs,
    qfi: bool,
    batches: Sequence[slice],
) -> list[NodeEvaluation]:
    """Each of ``batches`` (slices of ``nodes``) by one ``evaluate_nodes`` call, in
    turn: the local engine's way on one thread and a Ray task's body."""
    return [evaluate_batch(model, params, nodes[part], qfi) for part in batches]


def evaluate_batch(
    model: QNN, params: NDArray[np.float64], batch: NodeInputs, qfi: bool
) -> NodeEvaluation:
    """One batch of nodes by one ``evaluate_nodes`` call (one BLAS thread)."""
    return model.evaluate_nodes(
        params,
        batch.shards,
        batch.noises,
        qfi=qfi,
        node_rngs=batch.node_rngs,
        blocks=batch.blocks,
    )


class BatchedEngine:
    """An engine that evaluates the fixed node batches: ``evaluate_nodes`` checks what
    a split would hide, cuts the batches and merges their results; ``run_batches``
    says where the batches run (here: in turn, in this process)."""

    name = "batched"

    @deterministic
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
        nodes = NodeInputs(
            list(shards),
            list(noises),
            None if node_rngs is None else list(node_rngs),
            None if blocks is None else list(blocks),
        )
        batches = node_batches(len(shards), nodes_per_batch(model.n_qubits))
        parts = self.run_batches(model, params, nodes, qfi, batches)
        return merge(parts, data_sizes)

    def run_batches(
        self,
        model: QNN,
        params: NDArray[np.float64],
        nodes: NodeInputs,
        qfi: bool,
        batches: Sequence[slice],
    ) -> list[NodeEvaluation]:
        """One evaluation per batch of ``nodes``, in order."""
        return evaluate_batches(model, params, nodes, qfi, batches)

    def close(self) -> None:
        """Release what the engine holds; nothing here."""


def merge(parts: Sequence[NodeEvaluation], data_sizes: ArrayLike | None) -> NodeEvaluation:
    """The evaluations of consecutive node batches as one, in node order."""
    qfis = [p.qfi for p in parts]
    if any(q is None for q in qfis) and not all(q is None for q in qfis):
        raise ValueError("merge: some batches have a QFI and others not")
    n_nodes = sum(p.loss.shape[0] for p in parts)
    if data_sizes is not None and np.shape(data_sizes) != (n_nodes,):
        raise ValueError(
            f"data_sizes: shape {np.shape(data_sizes)}, need one size per node ({n_nodes})"
        )
    return NodeEvaluation(
        loss=np.concatenate([p.loss for p in parts]),
        gradient=np.concatenate([p.gradient for p in parts]),
        qfi=None if any(q is None for q in qfis) else np.concatenate(qfis),  # type: ignore[arg-type]
        accuracy=np.concatenate([p.accuracy for p in parts]),
        samples=np.concatenate([p.samples for p in parts]),
        data_sizes=None if data_sizes is None else np.asarray(data_sizes, dtype=np.int64),
        qfi_se=None
        if any(p.qfi_se is None for p in parts)
        else np.concatenate([p.qfi_se for p in parts]),
    )
