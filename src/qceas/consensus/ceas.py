"""The CEAS aggregation rule: authenticated updates, verified QFI weights, robust core.

One round at the aggregator (ARCHITECTURE §1, step 5):

1. **Authenticate.** Only updates whose MAC verified (``authenticated``) are used;
   Sybil identities without key material and tampered messages fall out here.
2. **Sanitise.** Updates with a NaN or Inf coordinate are dropped and counted, so one
   broken honest node never poisons the model.
3. **Verify the QFI claims.** A node reports the QFI scalar τ_k of its circuit; the
   aggregator cannot measure it, so it clips every claim from above:

   * by a physical bound when the caller has one (``upper_bounds``): the QFI is
     non-increasing under any parameter-independent CPTP map (monotonicity of the QFI;
     Petz, Linear Algebra Appl. 244, 81 (1996); Braunstein & Caves, PRL 72, 3439
     (1994)), so no noisy node can exceed the QFI of the noiseless circuit at θ_t on
     its inputs, which the aggregator can compute itself; a bound from the node's
     fidelity witness fits here too;
   * by the robust spread of the claims of the *accepted* messages:
     ``τ̃_k = min(τ_k, med(τ) + s·1.4826·MAD(τ))``. With the default s = 0 a claim above
     the median is cut to the median: while the adversary holds fewer than half of the
     accepted messages the median is bounded by honest claims, so inflating a claim
     gains nothing beyond the typical honest weight, while honest noisy nodes (below
     the median) keep their lower weight. Refused Sybils and forged messages do not
     count. A larger s lets honest high-QFI nodes keep more weight, at the price of
     letting an inflated claim gain up to that margin.

   Non-finite or negative claims count as 0.
4. **Aggregate robustly** with weights ``w_k ∝ n_k·τ̃_k`` through a registered robust
   aggregator, so coordinated update attacks (ALIE, IPM, ...) are bounded by the inner
   rule's guarantee. The default is the weighted coordinate-wise ``median``: free of
   scale parameters, and robust while the adversary holds less than half of the
   *weight* (not only of the nodes: honest noisy nodes below the median claim weigh
   less, so f < n/2 alone is not enough when many honest nodes are noisy).
   ``centered_clipping`` needs a robust centre (``center="median"`` or the previous
   aggregate) and a clipping radius τ on the scale of the updates to be robust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.consensus.aggregators import AGGREGATORS

#: Consistency constant of the MAD for Gaussian data (MAD·1.4826 estimates σ).
MAD_SCALE = 1.4826


def verify_claims(
    claims: ArrayLike,
    *,
    upper_bounds: ArrayLike | None = None,
    spread: float = 0.0,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Clip QFI claims (n,) from above; returns (verified claims, which were clipped).

    See the module docstring, step 3. ``upper_bounds`` (n,) is optional; ``spread`` is
    s ≥ 0 in ``med + s·1.4826·MAD``.
    """
    raw = np.asarray(claims, dtype=float)
    if raw.ndim != 1:
        raise ValueError(f"claims: shape {raw.shape}: must be one scalar per node")
    if not (np.isfinite(spread) and spread >= 0):
        raise ValueError(f"ceas.spread = {spread}: must be a finite number >= 0")
    clean = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
    if upper_bounds is not None:
        bound = np.asarray(upper_bounds, dtype=float)
        if bound.shape != raw.shape:
            raise ValueError(
                f"upper_bounds: shape {bound.shape}: must match the claims {raw.shape}"
            )
        clean = np.minimum(clean, np.where(np.isfinite(bound), bound, 0.0))
    if clean.size == 0:
        return clean, np.zeros(0, dtype=bool)
    median = float(np.median(clean))
    mad = float(np.median(np.abs(clean - median)))
    ceiling = median + spread * MAD_SCALE * mad
    verified = np.minimum(clean, ceiling)
    return verified, verified < raw


@dataclass(frozen=True)
class CEASResult:
    """The aggregate and the bookkeeping of one CEAS aggregation.

    Attributes:
        aggregate: (d,) the robust weighted aggregate.
        weights: (n,) the weights used (0 for every dropped update), summing to 1.
        accepted: (n,) updates that were authenticated and finite.
        rejected_unauthenticated: count of updates dropped for their MAC.
        rejected_non_finite: count of authenticated updates dropped for NaN/Inf.
        clipped_claims: (n,) claims the verification lowered.
    """

    aggregate: NDArray[np.float64]
    weights: NDArray[np.float64]
    accepted: NDArray[np.bool_]
    rejected_unauthenticated: int
    rejected_non_finite: int
    clipped_claims: NDArray[np.bool_]


@dataclass(frozen=True)
class CEASRule:
    """Authenticated, QFI-verified, robust weighted aggregation (module docstring).

    Args:
        inner: name of the registered robust aggregator applied last.
        spread: s ≥ 0 of the claim ceiling ``med + s·1.4826·MAD``.
        inner_params: parameters of the inner aggregator (e.g. ``f``, ``tau``).
    """

    inner: str = "median"
    spread: float = 0.0
    inner_params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        AGGREGATORS.factory(self.inner)  # fail early on an unknown name
        if not (np.isfinite(self.spread) and self.spread >= 0):
            raise ValueError(f"ceas.spread = {self.spread}: must be a finite number >= 0")

    def __call__(
        self,
        updates: ArrayLike,
        claims: ArrayLike,
        *,
        sizes: ArrayLike | None = None,
        authenticated: ArrayLike | None = None,
        upper_bounds: ArrayLike | None = None,
    ) -> CEASResult:
        """Aggregate (n, d) updates with their QFI claims (n,).

        Args:
            updates: (n, d) node updates as received (may hold NaN/Inf).
            claims: (n,) claimed QFI scalars τ_k.
            sizes: (n,) shard sizes n_k (default: all 1).
            authenticated: (n,) whether each message's MAC verified (default: all).
            upper_bounds: (n,) physical upper bounds on each node's QFI scalar.
        """
        x = np.asarray(updates, dtype=float)
        if x.ndim != 2:
            raise ValueError(f"updates: shape {x.shape}: must be (n, d)")
        n = x.shape[0]
        auth = np.ones(n, dtype=bool) if authenticated is None else np.asarray(authenticated)
        n_k = np.ones(n) if sizes is None else np.asarray(sizes, dtype=float)
        for name, arr in (("authenticated", auth), ("sizes", n_k), ("claims", claims)):
            if np.shape(arr) != (n,):
                raise ValueError(f"{name}: shape {np.shape(arr)}: must be ({n},), one per update")
        auth = auth.astype(bool)
        finite = np.all(np.isfinite(x), axis=1)
        accepted = auth & finite
        if not accepted.any():
            raise ValueError("ceas: no authenticated, finite update to aggregate this round")
        # The ceiling comes from the accepted messages only: refused Sybils and forged
        # messages must not move the median of the claims.
        raw_claims = np.asarray(claims, dtype=float)
        bounds = None if upper_bounds is None else np.asarray(upper_bounds, dtype=float)[accepted]
        verified = np.zeros(n)
        verified[accepted], clipped_accepted = verify_claims(
            raw_claims[accepted], upper_bounds=bounds, spread=self.spread
        )
        clipped = np.zeros(n, dtype=bool)
        clipped[accepted] = clipped_accepted
        weights = np.zeros(n)
        raw = n_k[accepted] * verified[accepted]
        if raw.sum() <= 0:
            raw = n_k[accepted]  # every accepted claim is 0: fall back to sample weights
        weights[accepted] = raw / raw.sum()
        inner = AGGREGATORS.get(self.inner, **self.inner_params)
        aggregate = inner(x[accepted], weights=weights[accepted])
        return CEASResult(
            aggregate=aggregate,
            weights=weights,
            accepted=accepted,
            rejected_unauthenticated=int(np.sum(~auth)),
            rejected_non_finite=int(np.sum(auth & ~finite)),
            clipped_claims=clipped,
        )
