"""Byzantine update attacks: what f colluding nodes send instead of their gradients.

Every attack is a small frozen dataclass registered in ``ATTACKS`` and called as

    byz = ATTACKS.get("alie")(honest, f=5, rng=rng)   # (h, d) -> (f, d)

``honest`` is the (h, d) float64 matrix of honest updates that the colluding attackers
observe; the result is a fresh (f, d) float64 array (inputs are never modified). With
h honest and f Byzantine nodes the aggregator sees n = h + f updates. The coordinated
attacks below send f identical rows, as their papers do. ``omniscient`` says whether an
attack reads the honest updates (True) or only their dimension d (False).

=============  ===========  ==================================================
name           omniscient   Byzantine vector (μ, σ: coordinate-wise mean and
                            standard deviation, ddof=1, of the honest rows)
=============  ===========  ==================================================
``alie``       yes          μ − z·σ,  z = Φ⁻¹((n − f − s)/(n − f)), s = ⌊n/2+1⌋ − f
``ipm``        yes          −ε·μ
``min_max``    yes          μ + γ·∇p, largest γ with max_i ‖· − x_i‖² ≤ max_ij ‖x_i − x_j‖²
``min_sum``    yes          μ + γ·∇p, largest γ with Σ_i ‖· − x_i‖² ≤ max_i Σ_j ‖x_i − x_j‖²
``sign_flip``  yes          −scale·μ
``gaussian``   no           independent draws from N(mean, std²·I_d), one per attacker
``mimic``      yes          a copy of one honest row x_{i*}
=============  ===========  ==================================================

"Omniscient" here means "reads the matrix it is given": the caller decides what the
attackers observe. ALIE as published estimates μ and σ from the corrupted nodes' own
gradients; passing those as ``honest`` gives that weaker threat model.

The data attack ``label_flip`` (y → C − 1 − y) has a different interface and lives in
``DATA_ATTACKS``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import norm

from qceas.registry import Registry

__all__ = [
    "ALIE",
    "ATTACKS",
    "DATA_ATTACKS",
    "IPM",
    "DataAttack",
    "Gaussian",
    "LabelFlip",
    "Mimic",
    "MinMax",
    "MinSum",
    "SignFlip",
    "UpdateAttack",
    "alie_z",
    "get",
    "label_flip",
]

Direction = Literal["std", "unit_vec", "sign"]
_DIRECTIONS: tuple[str, ...] = ("std", "unit_vec", "sign")


class UpdateAttack(Protocol):
    """f colluding Byzantine nodes crafting their updates from the honest ones."""

    @property
    def omniscient(self) -> bool:
        """Whether the attack reads the honest updates (False: only their dimension)."""
        ...

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        """(f, d) Byzantine updates from the (h, d) honest updates."""
        ...


class DataAttack(Protocol):
    """A poisoning of a Byzantine node's training labels."""

    def __call__(
        self, labels: ArrayLike, n_classes: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.int64]:
        """The skipped copy of ``labels``."""
        ...


ATTACKS: Registry[UpdateAttack] = Registry("attack")
DATA_ATTACKS: Registry[DataAttack] = Registry("data attack")


def get(name: str, **params: Any) -> UpdateAttack:
    """``ATTACKS.get(name, **params)``: the update attack registered as ``name``."""
    return ATTACKS.get(name, **params)


# --- input checks -----------------------------------------------------------------


def _check_f(f: object) -> int:
    if isinstance(f, bool) or not isinstance(f, numbers.Integral) or f < 1:
        raise ValueError(f"f = {f!r}: must be an integer >= 1")
    return int(f)


def _check_honest(name: str, honest: ArrayLike, min_rows: int = 1, why: str = "") -> NDArray[Any]:
    """``honest`` as a float64 (h, d) array (no copy when it already is one)."""
    try:
        arr = np.asarray(honest, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: honest must be an (h, d) array of numbers") from None
    if arr.ndim != 2:
        raise ValueError(f"{name}: honest must be a 2-D array (h, d) (got shape {arr.shape})")
    if arr.shape[1] == 0:
        raise ValueError(f"{name}: honest must have at least one coordinate (got shape (h, 0))")
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"{name} needs at least {min_rows} honest update{'s' if min_rows > 1 else ''}"
            f"{why} (got {arr.shape[0]})"
        )
    bad = ~np.isfinite(arr)
    if np.any(bad):
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise ValueError(f"{name}: honest must be finite (got {arr[i, j]} at [{i}, {j}])")
    return arr


def _check_finite(name: str, field: str, value: float) -> None:
    if not (isinstance(value, numbers.Real) and math.isfinite(value)):
        raise ValueError(f"{name} {field} = {value!r}: must be a finite number")


def _repeat(vector: NDArray[np.float64], f: int) -> NDArray[np.float64]:
    """f identical rows (a fresh, writable array, not a broadcast view)."""
    return np.tile(vector, (f, 1))


_SIGMA = " to estimate sigma"
_PAIRS = " to bound the honest distances"


# --- ALIE -------------------------------------------------------------------------


def alie_z(n: int, f: int) -> float:
    """ALIE's z for n nodes of which f are Byzantine (Baruch et al., NeurIPS 2019).

    s = ⌊n/2 + 1⌋ − f is the number of honest "supporters" the attackers need;
    z = Φ⁻¹((n − f − s)/(n − f)), the standard-normal quantile (ARCHITECTURE §4).

    Raises:
        ValueError: when (n − f − s)/(n − f) is not in (0, 1), i.e. Φ⁻¹ is infinite.
    """
    n, f = int(n), int(f)
    s = n // 2 + 1 - f
    h = n - f
    if h < 1 or not 0 < h - s < h:
        raise ValueError(
            f"alie: s = floor(n/2 + 1) - f = {s} for n = {n}, f = {f} makes "
            f"(n - f - s)/(n - f) = {h - s}/{h}, outside (0, 1); pass z explicitly"
        )
    return float(norm.ppf((h - s) / h))


@ATTACKS.register("alie")
@dataclass(frozen=True)
class ALIE:
    """A little is enough (Baruch, Baruch & Goldberg, NeurIPS 2019).

    Every attacker sends μ − z·σ (μ, σ: coordinate-wise mean and ddof=1 standard
    deviation of the honest updates), with z = Φ⁻¹((n − f − s)/(n − f)),
    s = ⌊n/2 + 1⌋ − f, n = h + f (``alie_z``; ARCHITECTURE §4, sign included). The shift
    stays within the honest spread in each coordinate, so median- and distance-based
    rules keep it, while all f copies pull the aggregate the same way.

    Args:
        z: override of the computed z, any finite number. ByzFL's ALittleIsEnough(τ)
            sends μ + τ·σ: z = −τ when both use the same σ convention.
    """

    z: float | None = None
    omniscient: bool = True

    def __post_init__(self) -> None:
        if self.z is not None:
            _check_finite("alie", "z", self.z)

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        f = _check_f(f)
        x = _check_honest("alie", honest, 2, _SIGMA)
        z = alie_z(x.shape[0] + f, f) if self.z is None else float(self.z)
        return _repeat(x.mean(axis=0) - z * x.std(axis=0, ddof=1), f)


# --- IPM and sign flip -----------------------------------------------------------


@ATTACKS.register("ipm")
@dataclass(frozen=True)
class IPM:
    """Inner product manipulation (Xie, Koyejo & Gupta, UAI 2019, "Fall of empires").

    Every attacker sends −ε·μ, making ⟨aggregate, μ⟩ negative once the Byzantine share
    outweighs the honest one. ε = 0.1 (default) is the small-ε variant that hides among
    the honest updates against median/Krum; ε = 100 is the large-ε variant against the
    mean. ByzFL's InnerProductManipulation(τ) is ε = τ.
    """

    epsilon: float = 0.1
    omniscient: bool = True

    def __post_init__(self) -> None:
        _check_finite("ipm", "epsilon", self.epsilon)
        if self.epsilon <= 0:
            raise ValueError(f"ipm epsilon = {self.epsilon!r}: must be > 0")

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        f = _check_f(f)
        x = _check_honest("ipm", honest)
        return _repeat(-self.epsilon * x.mean(axis=0), f)


@ATTACKS.register("sign_flip")
@dataclass(frozen=True)
class SignFlip:
    """Sign flipping: every attacker sends −scale·μ (the flipped honest mean).

    The textbook variant flips each attacker's own gradient; with only the honest
    updates at hand we flip their mean, which is the same in expectation under iid data
    and makes all f attackers agree. Unlike ``ipm`` the default scale 1 is not meant to
    hide: it is the plain "go the other way" baseline.
    """

    scale: float = 1.0
    omniscient: bool = True

    def __post_init__(self) -> None:
        _check_finite("sign_flip", "scale", self.scale)
        if self.scale <= 0:
            raise ValueError(f"sign_flip scale = {self.scale!r}: must be > 0")

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        f = _check_f(f)
        x = _check_honest("sign_flip", honest)
        return _repeat(-self.scale * x.mean(axis=0), f)


# --- Min-Max / Min-Sum ------------------------------------------------------------


def _direction(kind: str, x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The perturbation ∇p of Shejwalkar & Houmansadr: −σ, −μ/‖μ‖ or −sign(μ)."""
    mu = x.mean(axis=0)
    if kind == "std":
        return -x.std(axis=0, ddof=1)
    if kind == "sign":
        return -np.sign(mu)
    norm_mu = float(np.linalg.norm(mu))
    return -mu / norm_mu if norm_mu > 0 else np.zeros_like(mu)


def _sq_dists(points: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """‖p − x_i‖² for every point p (rows) and honest row x_i: (m, h)."""
    diff = points[:, None, :] - x[None, :, :]
    return np.einsum("mhd,mhd->mh", diff, diff)


def _largest_gamma(
    feasible: Callable[[float], bool], gamma_init: float, tol: float, max_doublings: int = 200
) -> float:
    """The largest γ ≥ 0 with ``feasible(γ)``, to within ``tol`` (absolute).

    Shejwalkar & Houmansadr's search (NDSS 2021, Alg. 1) halves the step from γ_init
    and so never returns more than 2·γ_init. We first double γ_init until it fails,
    then halve inside [γ_ok, γ_fail]. γ = 0 (the honest mean) is always feasible and
    the constraints are convex in γ, so the feasible γ form an interval [0, γ*].
    """
    lo, hi = 0.0, gamma_init
    for _ in range(max_doublings):
        if not feasible(hi):
            break
        lo, hi = hi, 2.0 * hi
    else:
        return lo  # ∇p ≈ 0: every γ is feasible, nothing to gain
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if feasible(mid):
            lo = mid
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class _AgrAgnostic:
    direction: Direction = "std"
    gamma_init: float = 10.0
    tol: float = 1e-5
    omniscient: bool = True

    name: ClassVar[str] = "min_max"

    def __post_init__(self) -> None:
        if self.direction not in _DIRECTIONS:
            known = ", ".join(repr(d) for d in _DIRECTIONS)
            raise ValueError(f"{self.name} direction = {self.direction!r}: must be one of {known}")
        for field in ("gamma_init", "tol"):
            value = getattr(self, field)
            _check_finite(self.name, field, value)
            if value <= 0:
                raise ValueError(f"{self.name} {field} = {value!r}: must be > 0")

    def _bound(self, d2: NDArray[np.float64]) -> float:
        raise NotImplementedError

    def _score(self, d2_mal: NDArray[np.float64]) -> float:
        raise NotImplementedError

    def gamma(self, honest: ArrayLike) -> float:
        """The γ the attack uses on ``honest`` (for analysis and tests)."""
        x = _check_honest(self.name, honest, 2, _PAIRS)
        return self._gamma(x, _direction(self.direction, x))

    def _gamma(self, x: NDArray[np.float64], p: NDArray[np.float64]) -> float:
        mu = x.mean(axis=0)
        bound = self._bound(_sq_dists(x, x))

        def feasible(g: float) -> bool:
            return self._score(_sq_dists((mu + g * p)[None, :], x)[0]) <= bound

        return _largest_gamma(feasible, self.gamma_init, self.tol)

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        f = _check_f(f)
        x = _check_honest(self.name, honest, 2, _PAIRS)
        p = _direction(self.direction, x)
        return _repeat(x.mean(axis=0) + self._gamma(x, p) * p, f)


@ATTACKS.register("min_max")
@dataclass(frozen=True)
class MinMax(_AgrAgnostic):
    """Min-Max, AGR-agnostic (Shejwalkar & Houmansadr, NDSS 2021, eq. 7).

    Every attacker sends μ + γ·∇p with the largest γ ≥ 0 such that

        max_i ‖μ + γ∇p − x_i‖² ≤ max_{i,j} ‖x_i − x_j‖²,

    i.e. the malicious update is no farther from any honest update than the two most
    distant honest ones are from each other. ∇p ("direction") is −σ ("std", the paper's
    default), −μ/‖μ‖ ("unit_vec") or −sign(μ) ("sign"); σ has ddof=1. γ is found by
    the paper's halving search from ``gamma_init`` (10) down to ``tol`` (1e-5, absolute),
    with the bracket first doubled until it fails, so the returned γ is feasible and
    γ + tol is not. A zero ∇p (identical honest rows, or μ = 0 with unit_vec/sign)
    leaves μ.
    """

    name: ClassVar[str] = "min_max"

    def _bound(self, d2: NDArray[np.float64]) -> float:
        return float(d2.max())

    def _score(self, d2_mal: NDArray[np.float64]) -> float:
        return float(d2_mal.max())


@ATTACKS.register("min_sum")
@dataclass(frozen=True)
class MinSum(_AgrAgnostic):
    """Min-Sum, AGR-agnostic (Shejwalkar & Houmansadr, NDSS 2021, eq. 8).

    Every attacker sends μ + γ·∇p with the largest γ ≥ 0 such that

        Σ_i ‖μ + γ∇p − x_i‖² ≤ max_i Σ_j ‖x_i − x_j‖²,

    i.e. its sum of squared distances to the honest updates is no larger than that of
    the most outlying honest update. Direction, search and tolerance as in ``MinMax``.
    Since Σ_i (μ − x_i) = 0 the left side is Σ_i ‖μ − x_i‖² + h·γ²‖∇p‖², so γ has a
    closed form; the search is kept for fidelity to the paper.
    """

    name: ClassVar[str] = "min_sum"

    def _bound(self, d2: NDArray[np.float64]) -> float:
        return float(d2.sum(axis=1).max())

    def _score(self, d2_mal: NDArray[np.float64]) -> float:
        return float(d2_mal.sum())


# --- Gaussian and mimic -----------------------------------------------------------


@ATTACKS.register("gaussian")
@dataclass(frozen=True)
class Gaussian:
    """Gaussian noise: each attacker sends an independent draw from N(mean, std²·I_d).

    Non-omniscient: only the dimension d of the honest updates is read. Needs ``rng``.
    """

    std: float = 1.0
    mean: float = 0.0
    omniscient: bool = False

    def __post_init__(self) -> None:
        _check_finite("gaussian", "std", self.std)
        _check_finite("gaussian", "mean", self.mean)
        if self.std < 0:
            raise ValueError(f"gaussian std = {self.std!r}: must be >= 0")

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        f = _check_f(f)
        x = _check_honest("gaussian", honest)
        if not isinstance(rng, np.random.Generator):
            raise ValueError("gaussian needs an explicit rng (a numpy.random.Generator)")
        return rng.normal(self.mean, self.std, size=(f, x.shape[1]))


@ATTACKS.register("mimic")
@dataclass(frozen=True)
class Mimic:
    """Mimic (Karimireddy, He & Jaggi, ICLR 2022, "... heterogeneous datasets via bucketing").

    All attackers copy one honest update x_{i*}, over-representing that node's data. With
    ``target=None`` i* maximises the variance the copies add along the top principal
    direction v of the honest updates, i* = argmax_i |⟨v, x_i − μ⟩| (first index on
    ties); the paper estimates v online across rounds, here it is the top right singular
    vector of this round's centred matrix. ``target`` fixes i* instead.
    """

    target: int | None = None
    omniscient: bool = True

    def __post_init__(self) -> None:
        t = self.target
        if t is not None and (isinstance(t, bool) or not isinstance(t, numbers.Integral) or t < 0):
            raise ValueError(f"mimic target = {t!r}: must be an integer >= 0 or None")

    def __call__(
        self, honest: ArrayLike, f: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.float64]:
        f = _check_f(f)
        x = _check_honest("mimic", honest)
        if self.target is None:
            centred = x - x.mean(axis=0)
            v = np.linalg.svd(centred, full_matrices=False)[2][0]
            i = int(np.argmax(np.abs(centred @ v)))
        elif self.target >= x.shape[0]:
            raise ValueError(
                f"mimic target = {self.target}: must be < the number of honest updates "
                f"({x.shape[0]})"
            )
        else:
            i = int(self.target)
        return _repeat(x[i], f)


# --- data attack ------------------------------------------------------------------


def label_flip(
    labels: ArrayLike, n_classes: int, *, rng: np.random.Generator | None = None
) -> NDArray[np.int64]:
    """Label flipping: y → C − 1 − y on a copy of integer labels in [0, C).

    The deterministic "reverse the classes" map (e.g. Fang et al., USENIX Security 2020;
    Allen-Zhu et al., ICLR 2021); for C = 2 it swaps the two classes. Non-omniscient:
    the attacker only touches its own shard. ``rng`` is unused (kept for a uniform
    interface).
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, numbers.Integral):
        raise ValueError(f"label_flip n_classes = {n_classes!r}: must be an integer >= 2")
    if n_classes < 2:
        raise ValueError(f"label_flip n_classes = {n_classes!r}: must be an integer >= 2")
    y = np.asarray(labels)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"label_flip labels must be integers (got dtype {y.dtype})")
    y = y.astype(np.int64)
    bad = (y < 0) | (y >= n_classes)
    if np.any(bad):
        raise ValueError(
            f"label_flip labels must lie in [0, {n_classes}) (got {int(y[bad].flat[0])})"
        )
    return n_classes - 1 - y


@DATA_ATTACKS.register("label_flip")
@dataclass(frozen=True)
class LabelFlip:
    """``label_flip`` as a registered data attack."""

    omniscient: bool = False

    def __call__(
        self, labels: ArrayLike, n_classes: int, *, rng: np.random.Generator | None = None
    ) -> NDArray[np.int64]:
        return label_flip(labels, n_classes, rng=rng)
