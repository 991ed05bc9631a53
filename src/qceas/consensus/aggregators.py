"""Robust, weighted aggregation rules for (n, d) updates, registered by name.

Every rule is an :class:`Aggregator`: build it with ``AGGREGATORS.get(name, **params)``
and call it as ``agg(updates, weights=None, *, rng=None) -> (d,)``.

Shared conventions (ARCHITECTURE §3, §4):

* ``updates`` is (n, d), real and finite (a NaN/Inf row is refused and named);
  ``weights`` is (n,), finite, >= 0, not all zero, or None. ``weights=None`` and any
  constant weights (all 1, all 3.0) give *identical* outputs: equal weights are
  mapped onto the unweighted code path before any arithmetic.
* Inputs are never written to. Outputs are fresh arrays.
* ``f`` is the number of Byzantine inputs tolerated, a non-negative int (default 0);
  ``check(n)`` raises ``ValueError("krum needs n > 2f + 2 (got n = 5, f = 2)")``
  outside a rule's bound, ``byzantine_bound`` is that bound as text and ``min_n`` the
  smallest admissible n.
* Randomness: only ``bucketing`` draws random numbers, from the ``numpy.random.Generator``
  passed as keyword ``rng`` at the call, or else the one given at construction. Every
  other rule accepts ``rng`` (so wrappers can forward it) and ignores it.
* Ties: rules that select rows (Krum family, Bulyan, NNM, bucketing) first sort the
  rows lexicographically by (row, weight), so the output depends only on the multiset
  of (row, weight) pairs: permuting rows and weights together never changes it.
* ``in_box``: the output lies in the coordinate-wise bounding box of the inputs (every
  rule here, with its default centre). ``robust``: with equal weights, n − f inputs in a
  ball B(c, r) and f inputs anywhere, ‖output − c‖ <= K·r with K independent of the f
  inputs (bounded influence). ``mean`` is not robust; ``centered_clipping`` is robust
  only when started from the coordinate-wise median or a centre inside the honest ball.
  Weighted variants inherit these guarantees only for verified (bounded) weights: a
  Byzantine input that is also given most of the weight can move any weighted rule.

Weighted variants, per rule, are stated in each class docstring.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qceas.consensus._checks import (
    FloatArray,
    canonical_order,
    check_count,
    check_positive,
    check_rng,
    check_updates,
    check_weights,
    squared_distances,
    weighted_mean,
)
from qceas.registry import Registry
from qceas.reproducibility import deterministic

__all__ = [
    "AGGREGATORS",
    "Aggregator",
    "Bucketing",
    "Bulyan",
    "CenteredClipping",
    "GeometricMedian",
    "Krum",
    "Mean",
    "Median",
    "MultiKrum",
    "NearestNeighborMixing",
    "TrimmedMean",
    "bucket_means",
    "coordinate_median",
    "get",
    "nearest_neighbor_mixing",
]


#: The rules by name; each class registers itself under its ``name``.
AGGREGATORS: Registry[Aggregator] = Registry("aggregator")


class Aggregator(ABC):
    """One aggregation rule: ``agg(updates (n, d), weights (n,) | None) -> (d,)``.

    Subclasses set ``name`` and implement ``_aggregate`` on validated inputs, where the
    weights are either None (all equal) or normalised to sum 1.
    """

    name: str = "aggregator"

    def __init__(self, f: int = 0) -> None:
        self.f = check_count(self.name, "f", f)

    # -- the Byzantine bound -------------------------------------------------------

    @property
    def min_n(self) -> int:
        """Smallest number of inputs the rule accepts for this ``f``."""
        return 2 * self.f + 1

    @property
    def byzantine_bound(self) -> str:
        """The admissible (n, f) region as text, e.g. ``n > 2f + 2``."""
        return "n > 2f"

    @property
    def robust(self) -> bool:
        """Bounded influence of f arbitrary inputs (equal weights); module docstring."""
        return True

    @property
    def in_box(self) -> bool:
        """Output always inside the coordinate-wise bounding box of the inputs."""
        return True

    def check(self, n: int) -> None:
        """Raise ValueError when n inputs with this ``f`` are outside the bound."""
        if n < self.min_n:
            raise ValueError(
                f"{self.name} needs {self.byzantine_bound} (got n = {n}, f = {self.f})"
            )

    # -- the call ------------------------------------------------------------------

    @deterministic
    def __call__(
        self,
        updates: ArrayLike,
        weights: ArrayLike | None = None,
        *,
        rng: np.random.Generator | None = None,
    ) -> FloatArray:
        """Aggregate (n, d) ``updates`` with optional (n,) ``weights`` into (d,)."""
        x = check_updates(self.name, updates)
        w = check_weights(self.name, weights, x.shape[0])
        self.check(x.shape[0])
        return self._aggregate(x, w, rng)

    @abstractmethod
    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        """The rule on validated inputs (w None = equal weights, else sums to 1)."""

    def _params(self) -> dict[str, Any]:
        return {"f": self.f}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{self.name}({args})"


# -- mean ----------------------------------------------------------------------------


@AGGREGATORS.register("mean")
class Mean(Aggregator):
    """Weighted mean ``Σ w_i x_i / Σ w_i`` (plain mean for equal weights).

    Bound: none. The breakdown point is 0: one input moves the mean arbitrarily far.
    ``f`` is accepted (and ignored) only so every rule takes the same parameters; any
    n >= 1 is admissible. In the box (convex combination); not robust.
    """

    name = "mean"

    @property
    def min_n(self) -> int:
        return 1

    @property
    def byzantine_bound(self) -> str:
        return "n >= 1 (no Byzantine tolerance: breakdown point 0)"

    @property
    def robust(self) -> bool:
        return False

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        return weighted_mean(x, w)


# -- coordinate-wise rules -------------------------------------------------------------


def coordinate_median(x: FloatArray, w: FloatArray | None) -> FloatArray:
    """Coordinate-wise (weighted) median, midpoint convention.

    Unweighted: ``numpy.median`` (the mean of the two middle values for even n).
    Weighted: per coordinate, the minimisers of Σ w_i |x_i − m| form an interval
    [lo, hi] with lo = min{v : W(x <= v) >= W/2} (the *lower* weighted median) and
    hi = min{v : W(x <= v) > W/2}; the result is (lo + hi)/2. When the weighted median
    is unique (the usual case with unequal weights) this is the lower weighted median;
    with equal weights it reproduces ``numpy.median`` for odd and even n. Rows of zero
    weight are never picked. A cumulative weight within 1e-12·W of W/2 counts as equal
    to it (rounding of the partial sums must not flip the convention).
    """
    if w is None:
        return np.asarray(np.median(x, axis=0), dtype=np.float64)
    order = np.argsort(x, axis=0, kind="stable")
    xs = np.take_along_axis(x, order, axis=0)
    cum = np.cumsum(w[order], axis=0)
    half = cum[-1] / 2
    # A cumulative sum within rounding of W/2 counts as hitting it exactly, so weights
    # like 1/n (whose partial sums are inexact) still give the midpoint for even n.
    slack = 1e-12 * cum[-1]
    lo = np.argmax(cum >= half - slack, axis=0)
    hi = np.argmax(cum > half + slack, axis=0)
    cols = np.arange(x.shape[1])
    return np.asarray((xs[lo, cols] + xs[hi, cols]) / 2, dtype=np.float64)


@AGGREGATORS.register("median")
class Median(Aggregator):
    """Coordinate-wise median (Yin et al., ICML 2018).

    ``out_j = median_i x_ij``; weighted: the weighted median with the midpoint
    convention of :func:`coordinate_median` (equal weights give ``numpy.median``).
    Bound: n > 2f (with an honest majority every coordinate lies within the honest
    range). In the box; robust.
    """

    name = "median"

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        return coordinate_median(x, w)


@AGGREGATORS.register("trimmed_mean")
class TrimmedMean(Aggregator):
    """Coordinate-wise trimmed mean (Yin et al., ICML 2018), trimming by count f.

    Per coordinate j, sort x_·j, drop the f smallest and the f largest values and
    average the n − 2f kept ones. This equals ``scipy.stats.trim_mean(x, f/n)`` whenever
    ``int(f/n · n) == f``. Weighted: the same f + f entries are dropped by count (ties
    between equal values are broken by weight, lighter first), then the kept entries
    are averaged with their weights; a coordinate whose kept entries all have weight 0
    falls back to their plain mean. Bound: n > 2f. In the box; robust.
    """

    name = "trimmed_mean"

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        n, f = x.shape[0], self.f
        if w is None:
            return np.asarray(np.mean(np.sort(x, axis=0)[f : n - f], axis=0), dtype=np.float64)
        wb = np.broadcast_to(w[:, None], x.shape)
        order = np.lexsort((wb, x), axis=0)[f : n - f]
        return weighted_mean(
            np.take_along_axis(x, order, axis=0), np.take_along_axis(wb, order, axis=0)
        )


# -- Krum family -----------------------------------------------------------------------


def _krum_scores(d2: FloatArray, k: int, w: FloatArray | None) -> FloatArray:
    """Krum scores from squared distances: sum over each row's k nearest *other* rows.

    Weighted: each neighbour's squared distance is multiplied by that neighbour's
    weight, ``s_i = Σ_{j ∈ N_k(i)} w_j ‖x_i − x_j‖²`` (neighbours still chosen by count).
    """
    n = d2.shape[0]
    if k <= 0 or n < 2:
        return np.zeros(n)
    masked = d2.copy()
    np.fill_diagonal(masked, np.inf)  # a row is not its own neighbour
    nearest = np.argsort(masked, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(masked, nearest, axis=1)
    if w is None:
        return np.asarray(dist.sum(axis=1), dtype=np.float64)
    return np.asarray((dist * w[nearest]).sum(axis=1), dtype=np.float64)


def _canonical(x: FloatArray, w: FloatArray | None) -> tuple[FloatArray, FloatArray | None]:
    order = canonical_order(x, w)
    return x[order], (None if w is None else w[order])


@AGGREGATORS.register("krum")
class Krum(Aggregator):
    """Krum (Blanchard et al., NeurIPS 2017): the input with the lowest score.

    ``s_i = Σ_{j ∈ N(i)} ‖x_i − x_j‖²`` over the n − f − 2 nearest other inputs N(i);
    the output is ``x_{argmin s}``. Exact score ties go to the lexicographically smallest
    row. Weighted: neighbour j's squared distance counts ``w_j`` times (with the weights
    normalised, so constant weights reproduce the unweighted choice): being far from a
    heavily weighted input costs more. Bound: n > 2f + 2. In the box (an input); robust.
    """

    name = "krum"

    @property
    def min_n(self) -> int:
        return 2 * self.f + 3

    @property
    def byzantine_bound(self) -> str:
        return "n > 2f + 2"

    def _scores(self, x: FloatArray, w: FloatArray | None) -> FloatArray:
        return _krum_scores(squared_distances(x), x.shape[0] - self.f - 2, w)

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        xs, ws = _canonical(x, w)
        return xs[int(np.argmin(self._scores(xs, ws)))].copy()


@AGGREGATORS.register("multi_krum")
class MultiKrum(Krum):
    """Multi-Krum (Blanchard et al., NeurIPS 2017; El Mhamdi et al., ICML 2018).

    The mean of the m inputs with the lowest Krum scores (default m = n − f; requires
    1 <= m <= n − f). Weighted: scores as in :class:`Krum`, then the weighted mean of the
    selected inputs with their weights (plain mean if they all weigh 0).
    Bound: n > 2f + 2. In the box; robust (every selected score is at most the largest
    honest score, which bounds each selected input's distance to the honest ball).
    """

    name = "multi_krum"

    def __init__(self, f: int = 0, m: int | None = None) -> None:
        super().__init__(f)
        self.m = None if m is None else check_count(self.name, "m", m, minimum=1)

    def _params(self) -> dict[str, Any]:
        return {"f": self.f, "m": self.m}

    def check(self, n: int) -> None:
        super().check(n)
        if self.m is not None and self.m > n - self.f:
            raise ValueError(
                f"{self.name} needs 1 <= m <= n - f (got m = {self.m}, n = {n}, f = {self.f})"
            )

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        xs, ws = _canonical(x, w)
        m = x.shape[0] - self.f if self.m is None else self.m
        chosen = np.argsort(self._scores(xs, ws), kind="stable")[:m]
        return weighted_mean(xs[chosen], None if ws is None else ws[chosen])


@AGGREGATORS.register("bulyan")
class Bulyan(Aggregator):
    """Bulyan (El Mhamdi, Guerraoui & Rouault, ICML 2018) over Krum.

    1. Select θ = n − 2f inputs by iterated Krum: repeatedly take the Krum choice of the
       remaining inputs (scored on max(1, n' − f − 2) neighbours among the n' remaining,
       the count clipped at 1 so the last rounds stay informative) and remove it.
    2. Per coordinate, average the β = θ − 2f selected values closest to the selected
       values' coordinate-wise median.

    Weighted: the Krum steps use weighted scores (:class:`Krum`), the median is the
    weighted median (:func:`coordinate_median`) of the selection, and the β closest
    values are averaged with their weights. Bound: n >= 4f + 3 (so β >= 3). In the box;
    robust (each coordinate stays within the honest range widened by its width).
    """

    name = "bulyan"

    @property
    def min_n(self) -> int:
        return 4 * self.f + 3

    @property
    def byzantine_bound(self) -> str:
        return "n >= 4f + 3"

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        xs, ws = _canonical(x, w)
        n, f = xs.shape[0], self.f
        theta, beta = n - 2 * f, n - 4 * f
        d2 = squared_distances(xs)
        remaining = np.arange(n)
        selected: list[int] = []
        for _ in range(theta):
            left = remaining.size
            k = min(max(1, left - f - 2), left - 1)
            sub = d2[np.ix_(remaining, remaining)]
            scores = _krum_scores(sub, k, None if ws is None else ws[remaining])
            pick = int(np.argmin(scores))
            selected.append(int(remaining[pick]))
            remaining = np.delete(remaining, pick)
        sel = np.asarray(selected)
        chosen, w_sel = xs[sel], (None if ws is None else ws[sel])
        centre = coordinate_median(chosen, w_sel)
        closest = np.argsort(np.abs(chosen - centre), axis=0, kind="stable")[:beta]
        values = np.take_along_axis(chosen, closest, axis=0)
        return weighted_mean(values, None if w_sel is None else w_sel[closest])


# -- geometric median and centred clipping ----------------------------------------------


@AGGREGATORS.register("geometric_median")
class GeometricMedian(Aggregator):
    """Geometric median ``argmin_v Σ w_i ‖x_i − v‖`` by smoothed Weiszfeld iterations.

    ``v ← Σ β_i x_i / Σ β_i`` with ``β_i = w_i / max(ε·S, ‖x_i − v‖)``, started at the
    weighted mean (Weiszfeld 1937; smoothing as in RFA, Pillutla et al., IEEE TSP 2022).
    S = max_i ‖x_i − mean‖ makes ``eps`` and ``tol`` relative to the spread of the data;
    iteration stops when a step is <= tol·S or after ``max_iter`` steps; an input point
    that satisfies the exact optimality test is returned exactly (the smoothing would
    stop ~ε·S short of it). When the minimiser lies close to (not at) an input point the
    linear rate of Weiszfeld approaches 1; the default ``max_iter`` (10⁴ cheap O(n·d)
    steps, most runs stop far earlier on ``tol``) covers such cases in the tests; raise
    it for harder ones. Weighted
    naturally (equal weights give the unweighted median). Bound: n > 2f (breakdown point
    1/2). Every iterate is a convex combination of the inputs: in the box; robust.
    """

    name = "geometric_median"

    def __init__(
        self, f: int = 0, *, eps: float = 1e-8, tol: float = 1e-10, max_iter: int = 10_000
    ) -> None:
        super().__init__(f)
        self.eps = check_positive(self.name, "eps", eps)
        self.tol = check_positive(self.name, "tol", tol)
        self.max_iter = check_count(self.name, "max_iter", max_iter, minimum=1)

    def _params(self) -> dict[str, Any]:
        return {"f": self.f, "eps": self.eps, "tol": self.tol, "max_iter": self.max_iter}

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        mass = np.full(x.shape[0], 1.0 / x.shape[0]) if w is None else w
        v = weighted_mean(x, w)
        spread = float(np.max(np.linalg.norm(x - v, axis=1)))
        if spread == 0.0:
            return v  # all inputs coincide
        floor = self.eps * spread
        for _ in range(self.max_iter):
            beta = mass / np.maximum(np.linalg.norm(x - v, axis=1), floor)
            new = (beta @ x) / beta.sum()
            step = float(np.linalg.norm(new - v))
            v = new
            if step <= self.tol * spread:
                break
        return self._snap_to_vertex(x, mass, v, floor)

    @staticmethod
    def _snap_to_vertex(x: FloatArray, mass: FloatArray, v: FloatArray, floor: float) -> FloatArray:
        """Return the input x_k itself when it is the exact minimiser and v is next to it.

        Smoothing stops Weiszfeld about ε·S short of a minimiser that is an input point.
        x_k minimises iff ‖Σ_{j: x_j ≠ x_k} w_j (x_j − x_k)/‖x_j − x_k‖‖ <= Σ_{j: x_j = x_k} w_j
        (0 is in the subdifferential; Vardi & Zhang, PNAS 97, 1423 (2000)). Only an
        iterate next to x_k is snapped: with collinear inputs the minimiser need not be
        unique, and snapping a distant iterate to whichever optimal input happens to be
        nearest would make the result depend on the order of the rows.
        """
        dist = np.linalg.norm(x - v, axis=1)
        k = int(np.argmin(dist))
        if dist[k] > 10 * floor:
            return np.asarray(v, dtype=np.float64)
        diff = x - x[k]
        gap = np.linalg.norm(diff, axis=1)
        other = gap > 0
        pull = (mass[other] / gap[other]) @ diff[other]
        if np.linalg.norm(pull) <= mass[~other].sum():
            return x[k].copy()
        return np.asarray(v, dtype=np.float64)


@AGGREGATORS.register("centered_clipping")
class CenteredClipping(Aggregator):
    """Centred clipping (Karimireddy, He & Jaggi, ICML 2021).

    ``v_{l+1} = v_l + Σ_i w_i clip(x_i − v_l, τ) / Σ_i w_i``, ``clip(z, τ) = z·min(1, τ/‖z‖)``,
    for ``iters`` steps from v_0 = ``center``: None or "mean" (the weighted mean),
    "median" (the coordinate-wise weighted median) or a fixed (d,) vector, typically
    the previous round's aggregate (the paper's momentum centre; build one aggregator
    per round, it is cheap). ``tau`` is in the units of the updates.

    Bound: n > 2f (the convergence analysis needs a small Byzantine fraction f/n and a
    centre near the honest mean). From the mean the rule is *not* robust (the start is
    already dragged by the outliers and each step moves at most τ); from "median" or an
    honest centre the output stays within iters·τ of that start: robust. In the box
    from "mean" and "median" (every step is a convex combination of v_l and the inputs).
    """

    name = "centered_clipping"

    def __init__(
        self,
        f: int = 0,
        *,
        tau: float = 1.0,
        iters: int = 1,
        center: str | ArrayLike | None = None,
    ) -> None:
        super().__init__(f)
        self.tau = check_positive(self.name, "tau", tau)
        self.iters = check_count(self.name, "iters", iters, minimum=1)
        self.center: str | FloatArray
        if center is None or isinstance(center, str):
            if center not in (None, "mean", "median"):
                raise ValueError(
                    f"{self.name}: center must be None, 'mean', 'median' or a (d,) vector "
                    f"(got center = {center!r})"
                )
            self.center = "mean" if center is None else center
        else:
            c = np.array(center, dtype=np.float64)  # a private copy
            if c.ndim != 1 or not np.all(np.isfinite(c)):
                raise ValueError(
                    f"{self.name}: center must be a finite 1-D vector (got shape {c.shape})"
                )
            self.center = c

    def _params(self) -> dict[str, Any]:
        return {"f": self.f, "tau": self.tau, "iters": self.iters, "center": self.center}

    @property
    def robust(self) -> bool:
        # A fixed centre counts as robust: the caller vouches it is near the honest mean.
        return not (isinstance(self.center, str) and self.center == "mean")

    @property
    def in_box(self) -> bool:
        return isinstance(self.center, str)

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        if isinstance(self.center, str):
            v = weighted_mean(x, w) if self.center == "mean" else coordinate_median(x, w)
        else:
            if self.center.shape != (x.shape[1],):
                raise ValueError(
                    f"{self.name}: center must have shape ({x.shape[1]},) to match updates "
                    f"(got shape {self.center.shape})"
                )
            v = self.center.copy()
        for _ in range(self.iters):
            diff = x - v
            norms = np.linalg.norm(diff, axis=1)
            # min(1, τ/‖z‖), written so that ‖z‖ = 0 gives 1 (z is 0 then anyway)
            scale = np.minimum(1.0, self.tau / np.maximum(norms, np.finfo(float).tiny))
            v = v + weighted_mean(diff * scale[:, None], w)
        return np.asarray(v, dtype=np.float64)


# -- pre-aggregators ---------------------------------------------------------------------


def _inner_rule(
    rule: str, inner: str | Aggregator, f: int, inner_params: dict[str, Any]
) -> Aggregator:
    if isinstance(inner, Aggregator):
        if inner_params:
            raise ValueError(
                f"{rule}: inner parameters {sorted(inner_params)} given with an inner "
                f"aggregator that is already built ({inner!r})"
            )
        return inner
    if not isinstance(inner, str):
        raise ValueError(f"{rule}: inner must be a rule name or an Aggregator (got {inner!r})")
    # The inner rule tolerates the same f unless told otherwise.
    return AGGREGATORS.get(inner, **{"f": f, **inner_params})


def nearest_neighbor_mixing(
    updates: ArrayLike, f: int, weights: ArrayLike | None = None
) -> FloatArray:
    """Nearest-neighbour mixing (Allouah et al., AISTATS 2023), row by row.

    Row i of the (n, d) result is the mean of the n − f inputs nearest to x_i in
    Euclidean distance, x_i itself included; weighted: the weighted mean of those
    neighbours with their weights (plain mean if they all weigh 0). Ties in distance go
    to the lexicographically smaller row. Needs 0 <= f < n.
    """
    x = check_updates("nnm", updates)
    n = x.shape[0]
    f = check_count("nnm", "f", f)
    if f >= n:
        raise ValueError(f"nnm needs n > f (got n = {n}, f = {f})")
    w = check_weights("nnm", weights, n)
    order = canonical_order(x, w)
    xs = x[order]
    ws = np.ones(n) if w is None else w[order]
    d2 = squared_distances(xs)
    np.fill_diagonal(d2, -1.0)  # self first, even among exact duplicates
    nearest = np.argsort(d2, axis=1, kind="stable")[:, : n - f]
    mix = np.zeros((n, n))
    rows = np.arange(n)[:, None]
    mix[rows, nearest] = ws[nearest]
    mass = mix.sum(axis=1)
    empty = mass <= 0
    if np.any(empty):  # every neighbour weighs 0: fall back to their plain mean
        mix[np.flatnonzero(empty)[:, None], nearest[empty]] = 1.0
        mass = mix.sum(axis=1)
    mixed = (mix / mass[:, None]) @ xs
    out = np.empty_like(mixed)
    out[order] = mixed  # back to the caller's row order
    return out


class _PreAggregator(Aggregator):
    """A rule that transforms the inputs and hands them to an inner rule: its
    guarantees are the inner rule's."""

    inner: Aggregator

    @property
    def robust(self) -> bool:
        return self.inner.robust

    @property
    def in_box(self) -> bool:
        return self.inner.in_box


@AGGREGATORS.register("nnm")
class NearestNeighborMixing(_PreAggregator):
    """NNM pre-aggregation followed by an inner rule (Allouah et al., AISTATS 2023).

    ``nnm(f, inner, **inner_params)(x, w) = inner(NNM_f(x, w), w)``, where NNM_f is
    :func:`nearest_neighbor_mixing` and the inner rule is ``AGGREGATORS.get(inner,
    f=f, **inner_params)`` (or an already built :class:`Aggregator`). Default inner:
    ``mean``, which has no robustness of its own: pick a robust inner rule.
    Bound: n > 2f and the inner rule's bound. In the box and robust iff the inner rule
    is (mixed rows are convex combinations of the inputs).
    """

    name = "nnm"

    def __init__(self, f: int = 0, inner: str | Aggregator = "mean", **inner_params: Any) -> None:
        super().__init__(f)
        self.inner = _inner_rule(self.name, inner, self.f, inner_params)

    def _params(self) -> dict[str, Any]:
        return {"f": self.f, "inner": self.inner}

    @property
    def min_n(self) -> int:
        return max(2 * self.f + 1, self.inner.min_n)

    @property
    def byzantine_bound(self) -> str:
        return f"n > 2f and {self.inner.name}'s {self.inner.byzantine_bound}"

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        return self.inner(nearest_neighbor_mixing(x, self.f, w), w, rng=rng)


def bucket_means(
    updates: ArrayLike,
    s: int,
    *,
    rng: np.random.Generator,
    weights: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Random bucketing (Karimireddy, He & Jaggi, ICLR 2022).

    Shuffle the n inputs with ``rng`` and cut them into ⌈n/s⌉ consecutive buckets of s
    (the last may be smaller). Returns the (⌈n/s⌉, d) bucket means — weighted means
    with the inputs' weights (plain mean for a bucket of zero weight) — and the
    (⌈n/s⌉,) bucket masses: each bucket's share of the total weight (its size / n
    when weights is None), summing to 1.
    The shuffle is applied to the rows in lexicographic order, so for a given ``rng``
    state the buckets depend on the multiset of inputs, not on their order.
    """
    x = check_updates("bucketing", updates)
    n = x.shape[0]
    s = check_count("bucketing", "s", s, minimum=1)
    w = check_weights("bucketing", weights, n)
    generator = check_rng("bucketing", rng)
    order = canonical_order(x, w)[generator.permutation(n)]
    mass = np.full(n, 1.0 / n) if w is None else w
    starts = np.arange(0, n, s)
    means = np.empty((starts.size, x.shape[1]))
    masses = np.empty(starts.size)
    for b, start in enumerate(starts):
        rows = order[start : start + s]
        means[b] = weighted_mean(x[rows], mass[rows])
        masses[b] = mass[rows].sum()
    return means, masses


@AGGREGATORS.register("bucketing")
class Bucketing(_PreAggregator):
    """Random bucketing followed by an inner rule (Karimireddy et al., ICLR 2022).

    ``bucketing(s, inner, f, rng, **inner_params)(x, w) = inner(means, masses)`` with
    (means, masses) from :func:`bucket_means`: bucket weights are the sums of their
    members' weights, so equal weights and n divisible by s give equal bucket weights.
    Randomness: the ``rng`` keyword of the call, else the ``rng`` given at construction
    (its state advances with every call); neither is an error. Each Byzantine input
    spoils at most one bucket, so the inner rule (default ``mean``, not robust: pick a
    robust one) is built with the same f. Bound: the inner rule's bound on ⌈n/s⌉
    buckets, i.e. n >= s·(inner.min_n − 1) + 1. In the box and robust iff the inner
    rule is.
    """

    name = "bucketing"

    def __init__(
        self,
        s: int = 2,
        inner: str | Aggregator = "mean",
        *,
        f: int = 0,
        rng: np.random.Generator | None = None,
        **inner_params: Any,
    ) -> None:
        super().__init__(f)
        self.s = check_count(self.name, "s", s, minimum=1)
        self.rng = None if rng is None else check_rng(self.name, rng)
        self.inner = _inner_rule(self.name, inner, self.f, inner_params)

    def _params(self) -> dict[str, Any]:
        return {"s": self.s, "inner": self.inner, "f": self.f}

    @property
    def min_n(self) -> int:
        return self.s * (self.inner.min_n - 1) + 1

    @property
    def byzantine_bound(self) -> str:
        return (
            f"n >= {self.min_n} ({self.inner.name} on ⌈n/{self.s}⌉ buckets needs "
            f"{self.inner.byzantine_bound})"
        )

    def _aggregate(
        self, x: FloatArray, w: FloatArray | None, rng: np.random.Generator | None
    ) -> FloatArray:
        generator = rng if rng is not None else self.rng
        means, masses = bucket_means(x, self.s, rng=check_rng(self.name, generator), weights=w)
        return self.inner(means, masses, rng=rng)


def get(name: str, **params: Any) -> Aggregator:
    """``AGGREGATORS.get(name, **params)``: build the rule registered as ``name``."""
    return AGGREGATORS.get(name, **params)
