"""What one round of circuit evaluations costs on this machine, measured on a probe.

``qceas validate`` says which simulation path a config takes (``QNN.simulation_path``)
and about how long its circuit evaluations take per round. The figure is measured, not
modelled: the path's cost per row depends on BLAS, cache sizes and the register size
in ways no closed form tracks (``benchmarks/round_speed.py`` prints the measured
curves). For each distinct (noise kind, shots) group of nodes this module times
``evaluate_nodes`` on one node's first ``probe_rows`` samples twice, without the QFI
(a cost ``a`` per row) and with it on ``probe_qfi`` rows (the extra ``b`` per QFI row),
after one untimed warm-up call, and predicts ``Σ_k (S_k·a + q_k·b)`` over the nodes
(``S_k`` samples, ``q_k`` QFI rows of ``qfi_rows``). It is an estimate: it leaves out
the engines' parallelism (a single process, one BLAS thread) and the rest of a round
(aggregation, network), and it varies with the machine's load: here it came within a
factor of two of the measured round (an 8-qubit probe overstates it by up to 1.6×, the
fixed costs of a call weighing more on 8 rows than on a shard). The QFI probe runs
twice (the first builds its plans), so at 10 qubits with ``sld`` the estimate itself
takes minutes (one SLD row costs about a minute there).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.model import QNN, qfi_rows
from qceas.qnn.noise import NoiseModel
from qceas.qnn.partition import BlockError


def _seconds(
    model: QNN,
    params: NDArray[np.float64],
    shard: Sequence[tuple[NDArray[np.float64], NDArray[np.int64]]],
    noise: Sequence[NoiseModel],
    *,
    qfi: bool,
    blocks: Sequence[BlockError | None] | None,
) -> float:
    """Wall seconds of one ``evaluate_nodes`` call."""
    start = time.perf_counter()
    model.evaluate_nodes(params, shard, noise, qfi=qfi, rng=np.random.default_rng(0), blocks=blocks)
    return time.perf_counter() - start


def estimate_round_seconds(
    model: QNN,
    params: NDArray[np.float64],
    shards: Sequence[tuple[NDArray[np.float64], NDArray[np.int64]]],
    noises: Sequence[NoiseModel],
    *,
    qfi: bool,
    blocks: Sequence[BlockError | None] | None = None,
    probe_rows: int = 8,
    probe_qfi: int = 2,
) -> float:
    """Estimated seconds of one ``evaluate_nodes`` call over every node (module doc);
    ``blocks`` as in ``evaluate_nodes`` (a model partition's block errors)."""
    split = [b is not None and not b.trivial for b in (blocks or [None] * len(noises))]
    groups: dict[tuple[bool, bool, bool], list[int]] = {}
    for k, noise in enumerate(noises):
        groups.setdefault((noise.is_pure, noise.shots is not None, split[k]), []).append(k)
    total = 0.0
    for nodes in groups.values():
        first = nodes[0]
        x, y = shards[first]
        rows = min(probe_rows, x.shape[0])
        shard = [(x[:rows], y[:rows])]
        probe_noise = [noises[first]]
        probe_blocks = None if blocks is None else [blocks[first]]
        # A warm-up call first: plans and caches.
        _seconds(model, params, shard, probe_noise, qfi=False, blocks=probe_blocks)
        every = qfi and model.qfi_samples is None  # every row's tangents: one figure
        per_row = _seconds(model, params, shard, probe_noise, qfi=every, blocks=probe_blocks) / rows
        per_qfi_row = 0.0
        if qfi and not every:
            q = min(probe_qfi, rows)
            probe = model.with_qfi_estimator(model.qfi_estimator, q)
            _seconds(probe, params, shard, probe_noise, qfi=True, blocks=probe_blocks)  # warm-up
            with_qfi = _seconds(probe, params, shard, probe_noise, qfi=True, blocks=probe_blocks)
            per_qfi_row = max(0.0, with_qfi - per_row * rows) / q
        for k in nodes:
            samples = shards[k][0].shape[0]
            qrows = qfi_rows(samples, model.qfi_samples).size if qfi and not every else 0
            total += samples * per_row + qrows * per_qfi_row
    return total
