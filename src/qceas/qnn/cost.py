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
(aggregation, network), and it varies with the machine's load by some tens of percent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.model import QNN, qfi_rows
from qceas.qnn.noise import NoiseModel


def _seconds(
    model: QNN,
    params: NDArray[np.float64],
    shard: Sequence[tuple[NDArray[np.float64], NDArray[np.int64]]],
    noise: Sequence[NoiseModel],
    *,
    qfi: bool,
) -> float:
    """Wall seconds of one ``evaluate_nodes`` call."""
    start = time.perf_counter()
    model.evaluate_nodes(params, shard, noise, qfi=qfi, rng=np.random.default_rng(0))
    return time.perf_counter() - start


def estimate_round_seconds(
    model: QNN,
    params: NDArray[np.float64],
    shards: Sequence[tuple[NDArray[np.float64], NDArray[np.int64]]],
    noises: Sequence[NoiseModel],
    *,
    qfi: bool,
    probe_rows: int = 8,
    probe_qfi: int = 2,
) -> float:
    """Estimated seconds of one ``evaluate_nodes`` call over every node (module doc)."""
    groups: dict[tuple[bool, bool], list[int]] = {}
    for k, noise in enumerate(noises):
        groups.setdefault((noise.is_pure, noise.shots is not None), []).append(k)
    total = 0.0
    for nodes in groups.values():
        first = nodes[0]
        x, y = shards[first]
        rows = min(probe_rows, x.shape[0])
        shard = [(x[:rows], y[:rows])]
        probe_noise = [noises[first]]
        _seconds(model, params, shard, probe_noise, qfi=False)  # warm-up: plans and caches
        every = qfi and model.qfi_samples is None  # every row's tangents: one figure
        per_row = _seconds(model, params, shard, probe_noise, qfi=every) / rows
        per_qfi_row = 0.0
        if qfi and not every:
            q = min(probe_qfi, rows)
            probe = model.with_qfi_estimator(model.qfi_estimator, q)
            with_qfi = _seconds(probe, params, shard, probe_noise, qfi=True)
            per_qfi_row = max(0.0, with_qfi - per_row * rows) / q
        for k in nodes:
            samples = shards[k][0].shape[0]
            qrows = qfi_rows(samples, model.qfi_samples).size if qfi and not every else 0
            total += samples * per_row + qrows * per_qfi_row
    return total
