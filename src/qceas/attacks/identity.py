"""Identity and protocol attacks: pure helpers the adversary of a run calls
(:class:`qceas.attacks.adversary.Adversary`).

Each helper returns a modified copy and never touches its inputs; randomness comes only
from an explicit ``rng``. What each attack assumes the adversary knows or controls:

=========================  ============================================================
helper                     knowledge / capability
=========================  ============================================================
``inflate_qfi``            omniscient: reads every node's claimed QFI scalar (claims are
                           broadcast for weighting), controls the Byzantine claims
``sybil_identities``       non-omniscient: fabricates identities; holds no key material
``tamper``                 man in the middle on the classical channel: sees and rewrites
                           one message, knows no key
``intercept_resend_qber``  eavesdropper on the quantum channel: measures and resends a
                           fraction of the pairs' qubits, sees no classical secret
``hog_demand``             non-omniscient: Byzantine nodes inflate their own requests
=========================  ============================================================
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "SybilIdentities",
    "hog_demand",
    "inflate_qfi",
    "intercept_resend_qber",
    "sybil_identities",
    "tamper",
]

FloatOrArray = float | NDArray[np.float64]


def _floats(name: str, value: ArrayLike, low: float, high: float = math.inf) -> NDArray[Any]:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number or an array of numbers") from None
    bad = ~((arr >= low) & (arr <= high))  # also catches NaN
    if np.any(bad):
        rule = f">= {low:g}" if high == math.inf else f"in [{low:g}, {high:g}]"
        raise ValueError(f"{name} = {float(arr[bad].flat[0]):g}: must be finite and {rule}")
    return arr


def _factor(name: str, factor: float) -> float:
    if not (isinstance(factor, numbers.Real) and math.isfinite(factor) and factor >= 1):
        raise ValueError(f"{name} factor = {factor!r}: must be a finite number >= 1")
    return float(factor)


def _mask(
    name: str, mask: ArrayLike, shape: tuple[int, ...], what: str = "byzantine_mask"
) -> NDArray[np.bool_]:
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise ValueError(f"{name}: {what} must be a boolean array (got dtype {arr.dtype})")
    if arr.shape != shape:
        raise ValueError(f"{name}: {what} has shape {arr.shape}, expected {shape} like the values")
    return arr


def _claims(value: ArrayLike) -> NDArray[np.float64]:
    """QFI scalars τ_k ≥ 0; NaN is allowed and means "no claim" (a node whose
    evaluation broke), so one broken honest node does not stop the attack."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"claimed_scalars = {value!r}: must be a number or an array of numbers"
        ) from None
    bad = ~np.isnan(arr) & ~((arr >= 0) & (arr < math.inf))
    if np.any(bad):
        raise ValueError(
            f"claimed_scalars = {float(arr[bad].flat[0]):g}: must be finite and >= 0 "
            "(or NaN: no claim)"
        )
    return arr


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} = {value!r}: must be an integer >= 0")
    return int(value)


def inflate_qfi(
    claimed_scalars: ArrayLike,
    byzantine_mask: ArrayLike,
    factor: float,
    *,
    honest: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """QFI inflation: every Byzantine node claims ``factor`` × the largest honest claim.

    Under QFI weighting (w_k ∝ n_k·τ_k, τ_k = tr F̄_k / P) a node that overstates τ_k
    buys weight. Claiming c_byz = factor · max_{k honest} τ_k is the strategy that
    dominates every honest node while staying anchored to the honest range: with factor
    close to 1 it is indistinguishable from the best honest node to a spread-based check,
    and a large factor maximises the weight when claims go unverified. With factor 1 it
    is what a Sybil claims: as much as the best honest node, no more.

    The largest honest claim is taken over the finite claims of ``honest``; a NaN claim
    (a node whose evaluation broke) is no claim. Where ``honest`` holds no finite claim
    (every honest node crashed, say) there is nothing to outbid, and the Byzantine
    nodes claim factor · 0 = 0.

    Args:
        claimed_scalars: (K,) claimed QFI scalars τ_k, non-negative or NaN.
        byzantine_mask: (K,) bool, True for Byzantine nodes (their claims are replaced).
        factor: inflation, >= 1.
        honest: (K,) bool, the nodes whose claims are outbid (e.g. the honest nodes that
            answered this round); default ``~byzantine_mask``, which must then hold one
            node at least.

    Returns:
        (K,) claims: other entries unchanged, Byzantine ones factor · max honest.
    """
    claims = _claims(claimed_scalars)
    if claims.ndim != 1:
        raise ValueError(f"inflate_qfi: claimed_scalars must be 1-D (got shape {claims.shape})")
    mask = _mask("inflate_qfi", byzantine_mask, claims.shape)
    factor = _factor("inflate_qfi", factor)
    if honest is None:
        if np.all(mask):
            raise ValueError(
                "inflate_qfi needs at least one honest node to outbid (mask is all True)"
            )
        outbid = ~mask
    else:
        outbid = _mask("inflate_qfi", honest, claims.shape, "honest")
    pool = claims[outbid]
    top = float(np.nanmax(pool)) if np.isfinite(pool).any() else 0.0
    out = claims.copy()
    out[mask] = factor * top
    return out


@dataclass(frozen=True)
class SybilIdentities:
    """Fabricated identities: ids and a ``has_key`` flag (always False).

    Attributes:
        ids: (n_sybil,) int64 ids, continuing after the real ids 0 … n_real − 1.
        has_key: (n_sybil,) bool, all False: no QKD key was distilled for them, so
            their messages cannot carry a valid Wegman–Carter tag.
    """

    ids: NDArray[np.int64]
    has_key: NDArray[np.bool_]


def sybil_identities(n_real: int, n_sybil: int) -> SybilIdentities:
    """Sybil attack (Douceur, IPTPS 2002): ``n_sybil`` new ids with no key material.

    Ids n_real, …, n_real + n_sybil − 1 never collide with the real nodes' ids; the
    arrays are read-only.
    """
    n_real = _count("n_real", n_real)
    n_sybil = _count("n_sybil", n_sybil)
    ids = np.arange(n_real, n_real + n_sybil, dtype=np.int64)
    has_key = np.zeros(n_sybil, dtype=np.bool_)
    ids.setflags(write=False)
    has_key.setflags(write=False)
    return SybilIdentities(ids=ids, has_key=has_key)


@overload
def tamper(
    payload: bytes | bytearray,
    rng: np.random.Generator,
    mode: Literal["bit"] = "bit",
    *,
    scale: float = 0.1,
) -> bytes: ...


@overload
def tamper(
    payload: NDArray[Any],
    rng: np.random.Generator,
    mode: Literal["bit", "noise"] = "bit",
    *,
    scale: float = 0.1,
) -> NDArray[Any]: ...


def tamper(
    payload: bytes | bytearray | NDArray[Any],
    rng: np.random.Generator,
    mode: str = "bit",
    *,
    scale: float = 0.1,
) -> bytes | NDArray[Any]:
    """Man-in-the-middle tampering: a modified copy of one message.

    ``mode="bit"`` flips one uniformly chosen bit: of a bytes payload, of the raw memory
    of a numeric array (its dtype and shape are kept; a float may become inf/NaN), or one
    entry of a boolean bit array. ``mode="noise"`` adds N(0, scale²) to every entry of a
    numeric update vector (returned as float64). Either way a MAC over the original
    message no longer verifies (with probability 1 − forgery bound).

    Args:
        payload: bytes / bytearray, or a numpy array (a bit array or an update vector).
        rng: the randomness choosing the bit or the noise.
        mode: "bit" or "noise".
        scale: noise standard deviation (``mode="noise"`` only), > 0.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError("tamper needs an explicit rng (a numpy.random.Generator)")
    if mode not in ("bit", "noise"):
        raise ValueError(f"tamper mode = {mode!r}: must be 'bit' or 'noise'")
    if isinstance(payload, bytes | bytearray):
        if mode == "noise":
            raise ValueError("tamper mode 'noise' needs a numeric array payload (got bytes)")
        if len(payload) == 0:
            raise ValueError("tamper: cannot flip a bit of an empty payload")
        buf = bytearray(payload)
        k = int(rng.integers(8 * len(buf)))
        buf[k // 8] ^= 1 << (k % 8)
        return bytes(buf)
    if not isinstance(payload, np.ndarray):
        raise ValueError(
            f"tamper payload must be bytes or a numpy array (got {type(payload).__name__})"
        )
    if payload.size == 0:
        raise ValueError("tamper: cannot tamper with an empty payload")
    if mode == "noise":
        if not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"tamper scale = {scale!r}: must be a finite number > 0")
        if not np.issubdtype(payload.dtype, np.number) or np.iscomplexobj(payload):
            raise ValueError(f"tamper mode 'noise' needs a real array (got dtype {payload.dtype})")
        return payload.astype(np.float64) + rng.normal(0.0, scale, size=payload.shape)
    out = np.array(payload, copy=True, order="C")
    if out.dtype == np.bool_:
        flat = out.reshape(-1)
        k = int(rng.integers(flat.size))
        flat[k] = ~flat[k]
        return out
    raw = out.reshape(-1).view(np.uint8)
    k = int(rng.integers(8 * raw.size))
    raw[k // 8] ^= np.uint8(1 << (k % 8))
    return out


def intercept_resend_qber(qber: ArrayLike, fraction: ArrayLike) -> FloatOrArray:
    """QBER after an intercept-resend eavesdropper on a fraction q of the pairs.

    Derivation (BB84 / BBM92). Eve measures an intercepted qubit in a uniformly random
    basis and resends her outcome. On a sifted bit she picked Alice and Bob's basis with
    probability 1/2 and then merely copies the bit (error e, as without her); otherwise
    Bob's outcome is uniformly random (error 1/2). Intercepted bits thus err with
    e/2 + 1/4 = e + (1 − 2e)/4, the same whether the channel noise acts before or after
    Eve (with independent flips, e ⊕ 1/4 gives e(1 − 1/4) + (1 − e)/4, equal). Averaging
    over the fraction q intercepted:

        e' = (1 − q)·e + q·(e + (1 − 2e)/4) = e + (q/4)·(1 − 2e).

    Checks: e = 0, q = 1 gives 1/4; e' rises with q for e < 1/2; e = 1/2 stays 1/2.
    Feed e' to ``qceas.physics.secret_fraction``: with e = 0 no key survives beyond
    q ≈ 0.44 (e' ≥ 0.110028), and the round aborts.

    Args:
        qber: channel QBER e, in [0, 1] (float or array).
        fraction: intercepted fraction q, in [0, 1] (float or array; broadcasts).
    """
    e = _floats("qber", qber, 0.0, 1.0)
    q = _floats("fraction", fraction, 0.0, 1.0)
    out = e + 0.25 * q * (1.0 - 2.0 * e)
    return float(out) if out.ndim == 0 else out


def hog_demand(demand: ArrayLike, byzantine_mask: ArrayLike, factor: float) -> NDArray[np.float64]:
    """Entanglement hogging: Byzantine nodes request ``factor`` × their fair demand.

    The scheduler serves requests for Bell pairs from a shared, decaying supply; a node
    that overstates its demand (its own honest request × factor) starves the others'
    key distillation, so their updates go unauthenticated and are dropped.

    Args:
        demand: (K,) or (K, ...) non-negative fair demands (pairs per round), first axis
            over nodes.
        byzantine_mask: (K,) bool, True for Byzantine nodes.
        factor: inflation, >= 1.

    Returns:
        float64 demands: honest rows unchanged, Byzantine rows × factor.
    """
    d = _floats("demand", demand, 0.0)
    if d.ndim == 0:
        raise ValueError("hog_demand: demand must have one entry per node (got a scalar)")
    mask = _mask("hog_demand", byzantine_mask, d.shape[:1])
    factor = _factor("hog_demand", factor)
    out = d.copy()
    out[mask] *= factor
    return out
