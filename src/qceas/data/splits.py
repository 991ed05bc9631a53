"""Partitions of a training set across the nodes of a distributed run.

Each function returns one sorted ``int64`` index array per node. Together the arrays are
an exact cover of ``range(n_samples)``: every training index belongs to exactly one node.

* :func:`split_iid` -- a uniformly random partition into near-equal shares (sizes differ
  by at most one). Every node sees the same label distribution in expectation; this is
  the baseline of federated/distributed learning experiments.
* :func:`split_dirichlet` -- the label-skewed (non-IID) partition of Hsu, Qi and Brown,
  "Measuring the Effects of Non-Identical Data Distribution for Federated Visual
  Classification", arXiv:1909.06335 (2019). For every class ``c`` the node shares are
  drawn as ``p_c ~ Dirichlet(alpha * 1_n)`` and the class's shuffled indices are cut in
  those proportions. The concentration ``alpha`` sets the heterogeneity: as
  ``alpha -> inf`` every ``p_c`` tends to uniform (IID), while for ``alpha -> 0`` each
  class goes almost entirely to one node, so each node sees only a few classes.

Randomness comes only from the explicit ``numpy.random.Generator`` ``rng``; the output is
a deterministic function of the arguments and the generator state.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qceas._rules import is_integer, is_real

__all__ = ["split_dirichlet", "split_iid"]

IntArray = NDArray[np.int64]

#: Fresh Dirichlet draws tried before falling back to moving samples between nodes.
MAX_DIRICHLET_ATTEMPTS = 100


def split_iid(n_samples: int, n_nodes: int, *, rng: np.random.Generator) -> list[IntArray]:
    """Shuffle ``range(n_samples)`` and deal it into ``n_nodes`` near-equal parts.

    Args:
        n_samples: size of the training set.
        n_nodes: number of nodes, ``1 <= n_nodes <= n_samples``.
        rng: the only source of randomness.

    Returns:
        ``n_nodes`` sorted int64 arrays whose sizes differ by at most one and which
        partition ``range(n_samples)``.
    """
    _check_rng(rng)
    if not is_integer(n_samples) or n_samples < 0:
        raise ValueError(f"n_samples = {n_samples}: must be an integer >= 0")
    _check_nodes(n_nodes, int(n_samples))
    order = rng.permutation(int(n_samples)).astype(np.int64)
    return [np.sort(part) for part in np.array_split(order, int(n_nodes))]


def split_dirichlet(
    labels: NDArray[Any],
    n_nodes: int,
    alpha: float,
    *,
    rng: np.random.Generator,
    min_per_node: int = 1,
) -> list[IntArray]:
    """Label-skewed partition of Hsu et al. (2019): per class, node shares ~ Dir(alpha).

    For each distinct label (in increasing order) the indices of that label are shuffled,
    proportions ``p ~ Dirichlet(alpha * ones(n_nodes))`` are drawn, and node ``j`` receives
    the slice between ``floor(m * (p_1 + ... + p_j))`` boundaries of the ``m`` indices.

    Guaranteeing ``min_per_node``: the whole draw is repeated, up to
    :data:`MAX_DIRICHLET_ATTEMPTS` times, until every node holds at least ``min_per_node``
    samples. If no draw succeeds (likely for tiny ``alpha`` with many nodes), the last draw
    is repaired: while some node is short, one index chosen uniformly at random (with
    ``rng``) moves from the currently largest node to the currently smallest one (ties go
    to the lower node number). This changes as few assignments as needed and takes
    samples where they are most plentiful.

    Args:
        labels: 1-D integer class labels of the training set (any integer values).
        n_nodes: number of nodes, ``1 <= n_nodes <= len(labels)``.
        alpha: Dirichlet concentration, ``> 0``; large is near IID, small is skewed.
        rng: the only source of randomness.
        min_per_node: least number of samples per node, ``>= 0``,
            with ``min_per_node * n_nodes <= len(labels)``.

    Returns:
        ``n_nodes`` sorted int64 arrays that partition ``range(len(labels))``.
    """
    _check_rng(rng)
    y = np.asarray(labels)
    if y.ndim != 1 or not (np.issubdtype(y.dtype, np.integer) or y.size == 0):
        raise ValueError(
            f"labels must be a 1-D integer array, got shape {y.shape} and dtype {y.dtype}"
        )
    n_samples = int(y.shape[0])
    _check_nodes(n_nodes, n_samples)
    n_nodes = int(n_nodes)
    if not is_real(alpha) or math.isnan(alpha) or alpha <= 0:
        raise ValueError(f"data.alpha = {alpha}: must be > 0")
    if math.isinf(alpha):
        raise ValueError(f"data.alpha = {alpha}: must be finite")
    if not is_integer(min_per_node) or min_per_node < 0:
        raise ValueError(f"data.min_per_node = {min_per_node}: must be an integer >= 0")
    if min_per_node * n_nodes > n_samples:
        raise ValueError(
            f"data.min_per_node = {min_per_node}: {n_nodes} nodes x {min_per_node} samples "
            f"= {min_per_node * n_nodes} exceeds the {n_samples} training samples"
        )

    classes = [np.flatnonzero(y == c) for c in np.unique(y)]
    parts: list[IntArray] = []
    for _ in range(MAX_DIRICHLET_ATTEMPTS):
        parts = _dirichlet_draw(classes, n_nodes, float(alpha), rng)
        if min(part.shape[0] for part in parts) >= min_per_node:
            return [np.sort(part) for part in parts]
    return [np.sort(part) for part in _top_up(parts, int(min_per_node), rng)]


def _dirichlet_draw(
    classes: list[NDArray[np.intp]], n_nodes: int, alpha: float, rng: np.random.Generator
) -> list[IntArray]:
    """One Dirichlet allocation of every class's shuffled indices to the nodes."""
    pieces: list[list[IntArray]] = [[] for _ in range(n_nodes)]
    concentration = np.full(n_nodes, alpha)
    for members in classes:
        shuffled = rng.permutation(members).astype(np.int64)
        shares = np.nan_to_num(rng.dirichlet(concentration))
        if not shares.sum() > 0:  # guard against underflow for extremely small alpha
            shares = np.zeros(n_nodes)
            shares[int(rng.integers(n_nodes))] = 1.0
        m = shuffled.shape[0]
        cuts = np.clip(np.floor(np.cumsum(shares) * m).astype(np.int64), 0, m)[:-1]
        for node, piece in enumerate(np.split(shuffled, cuts)):
            pieces[node].append(piece)
    return [
        np.concatenate(node_pieces) if node_pieces else np.empty(0, dtype=np.int64)
        for node_pieces in pieces
    ]


def _top_up(parts: list[IntArray], minimum: int, rng: np.random.Generator) -> list[IntArray]:
    """Move single random indices from the largest to the smallest node until all reach
    ``minimum`` (feasible because ``minimum * n_nodes <= total``)."""
    nodes = [list(part) for part in parts]
    while True:
        sizes = [len(node) for node in nodes]
        short = int(np.argmin(sizes))
        if sizes[short] >= minimum:
            break
        donor = int(np.argmax(sizes))
        moved = nodes[donor].pop(int(rng.integers(sizes[donor])))
        nodes[short].append(moved)
    return [np.asarray(node, dtype=np.int64) for node in nodes]


def _check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")


def _check_nodes(n_nodes: object, n_samples: int) -> None:
    if not is_integer(n_nodes) or n_nodes < 1:
        raise ValueError(f"nodes.count = {n_nodes}: must be >= 1")
    if n_nodes > n_samples:
        raise ValueError(
            f"nodes.count = {n_nodes}: must be <= the number of training samples ({n_samples})"
        )
