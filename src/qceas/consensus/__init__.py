"""Consensus: robust, weighted aggregation of node updates (ARCHITECTURE §1 step 5).

``AGGREGATORS`` is the registry of aggregation rules; ``get(name, **params)`` builds
one::

    agg = get("krum", f=3)
    agg(updates, weights=None)  # (n, d), (n,) | None -> (d,)

Registered: mean, median, trimmed_mean, krum, multi_krum, geometric_median,
centered_clipping, bulyan, and the pre-aggregators nnm and bucketing (which wrap an
inner rule). See :mod:`qceas.consensus.aggregators` for the conventions (weights,
Byzantine bounds, randomness, ties).
"""

from __future__ import annotations

from qceas.consensus.aggregators import (
    AGGREGATORS,
    Aggregator,
    bucket_means,
    coordinate_median,
    get,
    nearest_neighbor_mixing,
)
from qceas.consensus.ceas import CEASResult, CEASRule, verify_claims

__all__ = [
    "AGGREGATORS",
    "Aggregator",
    "CEASResult",
    "CEASRule",
    "bucket_means",
    "coordinate_median",
    "get",
    "nearest_neighbor_mixing",
    "verify_claims",
]
