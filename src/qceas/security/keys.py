"""Key distillation from delivered Bell pairs (BBM92 / E91) and per-node key pools.

**Distillation.** Each delivered pair is measured by both ends in a basis chosen at
random (Z or X). Pairs where the bases match are *sifted* (probability ``sift``: ½ for
unbiased choices, ``p_z² + (1 − p_z)²`` for a biased one, see :func:`sift_probability`).
A random fraction of the sifted bits is announced and sacrificed to estimate the QBER;
the rest are kept (Bennett, Brassard & Mermin, PRL 68, 557 (1992)).

In a Werner pair of fidelity F a basis-matched measurement disagrees with probability

    e = 2(1 − F)/3                       (ARCHITECTURE §4, ``physics.qber``)

so each sampled bit is a Bernoulli draw with its own pair's e. From ``k`` sampled bits
with ``E`` errors the estimator is ``ê = E/k`` (unbiased for the mean e of the sifted
pairs; standard deviation ≈ sqrt(ê(1 − ê)/k), so a few dozen samples give a noisy
estimate). The same estimate is the link's fidelity witness ``F̂ = 1 − 3ê/2``.

**Key length** (asymptotic, one-way error correction and privacy amplification; Shor &
Preskill, PRL 85, 441 (2000)). Error correction leaks ``f_ec·h2(ê)`` bits per kept bit
(``f_ec`` ≈ 1.1–1.2 for practical LDPC / Cascade codes; 1 is the Shannon limit) and
privacy amplification removes ``h2(ê)`` more (Eve's information on the phase errors,
equal to the bit errors for Werner pairs):

    key = max(0, n_kept − ⌈f_ec·n_kept·h2(ê)⌉ − ⌈n_kept·h2(ê)⌉)

With ``f_ec = 1`` this is ``n_kept·(1 − 2h2(ê))``, i.e. ``physics.secret_fraction``
per kept bit, and the expected key per pair is ``sift·(1 − sample_fraction)·r(e)``.
The ceilings round in the safe direction. Above the threshold (ê > ``qber_threshold``,
by default where 1 − 2h2 reaches 0) the protocol aborts and no key is produced; with
``f_ec > 1`` the key already reaches 0 slightly below the threshold without an abort.

Finite-size option: with ``pe_epsilon`` set, privacy amplification uses the upper
confidence bound ``ê_U = ê + sqrt(ln(1/ε)/(2k))`` (Hoeffding's bound for sampling
without replacement, W. Hoeffding, JASA 58, 13 (1963), §6) instead of ê. This is a
simple margin, not a full composable finite-key analysis (Tomamichel et al., Nat.
Commun. 3, 634 (2012)).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.physics import QBER_THRESHOLD, binary_entropy

#: Error-correction efficiency typical of LDPC and Cascade implementations.
DEFAULT_EC_EFFICIENCY = 1.16


@dataclass(frozen=True)
class DistillResult:
    """Outcome of distilling one batch of pairs.

    Attributes:
        key_bits: secret key bits produced (0 when aborted).
        qber_estimate: ê = errors_in_sample / sampled (nan when nothing was sampled).
        fidelity_witness: F̂ = 1 − 3ê/2, clipped to the Werner range [1/4, 1].
        aborted: True when ê > threshold or no bit could be sampled (nothing certified).
        pairs: pairs consumed (all of them are measured).
        sifted: pairs whose bases matched.
        sampled: sifted bits sacrificed for parameter estimation.
        errors_in_sample: disagreements among the sampled bits.
        kept: sifted bits left for the key, ``sifted − sampled``.
        leaked_ec_bits: ⌈f_ec·kept·h2(ê)⌉ (0 when aborted).
        pa_removed_bits: ⌈kept·h2(ê)⌉, or with ê_U under ``pe_epsilon`` (0 when aborted).
    """

    key_bits: int
    qber_estimate: float
    fidelity_witness: float
    aborted: bool
    pairs: int
    sifted: int
    sampled: int
    errors_in_sample: int
    kept: int
    leaked_ec_bits: int
    pa_removed_bits: int


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_open_closed(name: str, value: float, low: float, high: float, *, closed: bool) -> float:
    """``value`` in (low, high] (closed=True) or (low, high) (closed=False)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {value!r}: must be a number") from None
    ok = low < v <= high if closed else low < v < high
    if not ok:
        right = "]" if closed else ")"
        raise ValueError(f"{name} = {value!r}: must be in ({low:g}, {high:g}{right}")
    return v


def sift_probability(p_z: float) -> float:
    """Probability that both ends pick the same basis when each picks Z with ``p_z``.

    ``p_z² + (1 − p_z)²``: ½ for unbiased choices; a bias toward Z raises the sifting
    rate (Lo, Chau & Ardehali, J. Cryptology 18, 133 (2005)).
    """
    p = float(p_z)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p_z = {p_z!r}: must be in [0, 1]")
    return p * p + (1.0 - p) * (1.0 - p)


def _check_fidelities(fidelities: ArrayLike) -> NDArray[np.float64]:
    try:
        f = np.asarray(fidelities, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"fidelities = {fidelities!r}: must be an array of numbers (one per pair)"
        ) from None
    if f.ndim != 1:
        raise ValueError(f"fidelities: shape {f.shape}: must be one-dimensional (one per pair)")
    bad = ~((f >= 0.25) & (f <= 1.0))
    if np.any(bad):
        i = int(np.argmax(bad))
        raise ValueError(f"fidelities = {f[i]:g} (at [{i}]): must be in [0.25, 1]")
    return f


def distill(
    fidelities: ArrayLike,
    *,
    rng: np.random.Generator,
    sift: float = 0.5,
    sample_fraction: float = 0.1,
    ec_efficiency: float = DEFAULT_EC_EFFICIENCY,
    qber_threshold: float = QBER_THRESHOLD,
    pe_epsilon: float | None = None,
) -> DistillResult:
    """Distill a secret key from Bell pairs of the given fidelities (module docstring).

    Args:
        fidelities: (N,) Werner fidelities in [1/4, 1] of the pairs at measurement.
        rng: source of the basis choices, the sample selection and the outcomes.
        sift: probability in (0, 1] that both ends chose the same basis.
        sample_fraction: share of sifted bits sacrificed for the estimate, in (0, 1);
            ``⌈sample_fraction·sifted⌉`` bits are sampled, so any sifted bit gives a test.
        ec_efficiency: f_ec ≥ 1, error-correction leak per bit in units of h2(ê).
        qber_threshold: abort when ê exceeds it, in (0, 0.5].
        pe_epsilon: if given, in (0, 1): failure probability of the finite-size margin
            used by privacy amplification.

    Returns:
        A :class:`DistillResult`.

    Reference: Bennett, Brassard & Mermin, PRL 68, 557 (1992); Shor & Preskill, PRL 85,
    441 (2000).
    """
    f = _check_fidelities(fidelities)
    gen = _check_rng(rng)
    sift = _check_open_closed("sift", sift, 0.0, 1.0, closed=True)
    sample_fraction = _check_open_closed("sample_fraction", sample_fraction, 0.0, 1.0, closed=False)
    if not float(ec_efficiency) >= 1.0:
        raise ValueError(
            f"ec_efficiency = {ec_efficiency!r}: must be >= 1 (no code beats the Shannon limit)"
        )
    f_ec = float(ec_efficiency)
    if not math.isfinite(f_ec):
        raise ValueError(f"ec_efficiency = {ec_efficiency!r}: must be finite")
    threshold = _check_open_closed("qber_threshold", qber_threshold, 0.0, 0.5, closed=True)
    if pe_epsilon is not None:
        pe_epsilon = _check_open_closed("pe_epsilon", pe_epsilon, 0.0, 1.0, closed=False)

    n = f.size
    sifted_idx = np.flatnonzero(gen.random(n) < sift)
    n_sifted = sifted_idx.size
    # ceil, so that any sifted bit leads to a test: a key is never certified untested.
    n_sample = min(n_sifted, math.ceil(sample_fraction * n_sifted))
    counts = {"pairs": n, "sifted": n_sifted, "sampled": n_sample, "kept": n_sifted - n_sample}
    if n_sample == 0:
        nan = float("nan")
        return DistillResult(
            key_bits=0,
            qber_estimate=nan,
            fidelity_witness=nan,
            aborted=True,
            errors_in_sample=0,
            leaked_ec_bits=0,
            pa_removed_bits=0,
            **counts,
        )

    sample_idx = sifted_idx[gen.choice(n_sifted, size=n_sample, replace=False)]
    e_pair = 2.0 * (1.0 - f[sample_idx]) / 3.0
    errors = int(np.count_nonzero(gen.random(n_sample) < e_pair))
    e_hat = errors / n_sample
    witness = min(1.0, max(0.25, 1.0 - 1.5 * e_hat))
    if e_hat > threshold:
        return DistillResult(
            key_bits=0,
            qber_estimate=e_hat,
            fidelity_witness=witness,
            aborted=True,
            errors_in_sample=errors,
            leaked_ec_bits=0,
            pa_removed_bits=0,
            **counts,
        )

    e_pa = e_hat
    if pe_epsilon is not None:
        e_pa = min(0.5, e_hat + math.sqrt(math.log(1.0 / pe_epsilon) / (2.0 * n_sample)))
    n_kept = counts["kept"]
    leak = math.ceil(f_ec * n_kept * float(binary_entropy(e_hat)))
    pa = math.ceil(n_kept * float(binary_entropy(e_pa)))
    return DistillResult(
        key_bits=max(0, n_kept - leak - pa),
        qber_estimate=e_hat,
        fidelity_witness=witness,
        aborted=False,
        errors_in_sample=errors,
        leaked_ec_bits=leak,
        pa_removed_bits=pa,
        **counts,
    )


# ---------------------------------------------------------------------- key pool
def _as_int_array(name: str, value: ArrayLike) -> NDArray[np.int64]:
    arr = np.asarray(value)
    # Bits and node ids are counts: a float (even 3.0) most likely hides a unit mistake.
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} = {value!r}: must be an integer or an array of integers")
    return arr.astype(np.int64)


class KeyPool:
    """Exact accounting of shared secret key bits between each node and the aggregator.

    A node's pool models the key it shares with the aggregator: both ends hold the same
    bits, consumed first-in first-out, so a bit handed to the node by
    :meth:`withdraw_bits` is the same bit the aggregator uses. Distilled key is modelled
    as uniformly random bits drawn from ``rng`` on :meth:`deposit` (privacy
    amplification makes it so up to a negligible distance); :meth:`deposit_bits` stores
    given bits instead.

    Balances never go negative: a withdrawal larger than the balance is refused as a
    whole (nothing is taken) and counted. ``node`` arguments accept an int or an int
    array; array calls act as the same calls made one by one in order.

    Args:
        n_nodes: number of nodes; ids are ``0 .. n_nodes − 1``.
        rng: source of the key material.
    """

    def __init__(self, n_nodes: int, *, rng: np.random.Generator) -> None:
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, int | np.integer) or n_nodes < 1:
            raise ValueError(f"n_nodes = {n_nodes!r}: must be an integer >= 1")
        self._rng = _check_rng(rng)
        self.n_nodes = int(n_nodes)
        self._balance = np.zeros(self.n_nodes, dtype=np.int64)
        self._deposited = np.zeros(self.n_nodes, dtype=np.int64)
        self._spent = np.zeros(self.n_nodes, dtype=np.int64)
        self._refused = np.zeros(self.n_nodes, dtype=np.int64)
        self._material: list[deque[NDArray[np.uint8]]] = [deque() for _ in range(self.n_nodes)]

    # ---------------------------------------------------------------- checks
    def _nodes(self, node: ArrayLike) -> NDArray[np.int64]:
        ids = _as_int_array("node", node)
        bad = (ids < 0) | (ids >= self.n_nodes)
        if np.any(bad):
            first = int(ids[bad].flat[0])
            raise ValueError(
                f"node = {first}: unknown node id (the pool has nodes 0..{self.n_nodes - 1})"
            )
        return ids

    @staticmethod
    def _amounts(bits: ArrayLike) -> NDArray[np.int64]:
        amounts = _as_int_array("bits", bits)
        if np.any(amounts < 0):
            first = int(amounts[amounts < 0].flat[0])
            raise ValueError(f"bits = {first}: must be >= 0")
        return amounts

    # ---------------------------------------------------------------- queries
    @overload
    def balance(self, node: int | np.integer) -> int: ...
    @overload
    def balance(self, node: Sequence[int] | NDArray[np.integer]) -> NDArray[np.int64]: ...
    def balance(self, node: ArrayLike) -> int | NDArray[np.int64]:
        """Key bits available to ``node`` (an int, or an array for an array of nodes)."""
        ids = self._nodes(node)
        out = self._balance[ids]
        return int(out) if ids.ndim == 0 else out.copy()

    @property
    def deposited(self) -> NDArray[np.int64]:
        """(n_nodes,) bits ever deposited per node."""
        return self._deposited.copy()

    @property
    def spent(self) -> NDArray[np.int64]:
        """(n_nodes,) bits ever withdrawn per node."""
        return self._spent.copy()

    @property
    def refused(self) -> NDArray[np.int64]:
        """(n_nodes,) withdrawal requests refused for lack of key, per node."""
        return self._refused.copy()

    # ---------------------------------------------------------------- updates
    def deposit(self, node: ArrayLike, bits: ArrayLike) -> None:
        """Add ``bits`` fresh uniformly random key bits to each ``node`` (broadcast)."""
        ids, amounts = np.broadcast_arrays(self._nodes(node), self._amounts(bits))
        ids, amounts = ids.ravel(), amounts.ravel()
        material = self._rng.integers(0, 2, size=int(amounts.sum()), dtype=np.uint8)
        for i, chunk in zip(ids, np.split(material, np.cumsum(amounts)[:-1]), strict=True):
            self._store(int(i), chunk)

    def deposit_bits(self, node: int, bits: ArrayLike) -> None:
        """Add the given key bits (0/1 values) to ``node``'s pool, after what it holds."""
        i = int(self._nodes(node))
        arr = np.asarray(bits)
        if arr.ndim != 1 or not np.all((arr == 0) | (arr == 1)):
            raise ValueError("bits: must be a one-dimensional array of 0/1 values")
        self._store(i, arr.astype(np.uint8))

    def _store(self, i: int, chunk: NDArray[np.uint8]) -> None:
        if chunk.size:
            self._material[i].append(chunk.copy())
        self._balance[i] += chunk.size
        self._deposited[i] += chunk.size

    @overload
    def withdraw(self, node: int | np.integer, bits: int | np.integer) -> bool: ...
    @overload
    def withdraw(
        self, node: Sequence[int] | NDArray[np.integer], bits: ArrayLike
    ) -> NDArray[np.bool_]: ...
    @overload
    def withdraw(
        self, node: int | np.integer, bits: Sequence[int] | NDArray[np.integer]
    ) -> NDArray[np.bool_]: ...
    def withdraw(self, node: ArrayLike, bits: ArrayLike) -> bool | NDArray[np.bool_]:
        """Consume ``bits`` key bits of each ``node`` (discarding them); all or nothing.

        Returns True per request that succeeded; a refused request takes nothing and
        counts in :attr:`refused`.
        """
        ids, amounts = np.broadcast_arrays(self._nodes(node), self._amounts(bits))
        ok = np.array(
            [
                self._take(int(i), int(a)) is not None
                for i, a in zip(ids.ravel(), amounts.ravel(), strict=True)
            ],
            dtype=bool,
        ).reshape(ids.shape)
        return bool(ok) if ok.ndim == 0 else ok

    def withdraw_bits(self, node: int, bits: int) -> NDArray[np.uint8] | None:
        """The next ``bits`` key bits (0/1, uint8, FIFO) of ``node``, or None if short."""
        ids, amounts = self._nodes(node), self._amounts(bits)
        if ids.ndim or amounts.ndim:
            raise ValueError("withdraw_bits: node and bits must be scalars")
        return self._take(int(ids), int(amounts))

    def _take(self, i: int, n: int) -> NDArray[np.uint8] | None:
        if n > self._balance[i]:
            self._refused[i] += 1
            return None
        pieces: list[NDArray[np.uint8]] = []
        need = n
        queue = self._material[i]
        while need:
            chunk = queue.popleft()
            if chunk.size > need:
                # Keep the unread tail at the front: the order of the shared key is fixed.
                queue.appendleft(chunk[need:])
                chunk = chunk[:need]
            pieces.append(chunk)
            need -= chunk.size
        self._balance[i] -= n
        self._spent[i] += n
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.uint8)
