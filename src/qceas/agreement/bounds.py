"""Closed-form and exact failure probabilities of the EPR-pair QDBA checks.

Every check of :mod:`qceas.agreement.protocol` counts *mismatches* among ``s``
revealed tuples and accepts at most ``⌊δ·s⌋`` of them (δ = ``tolerance``; δ = 0 is the
literal rule of Andronikos & Sirokofskich, Appl. Sci. 13, 8405 (2023)), and asks for at
least ``m`` revealed tuples, ``m = count_floor(M, α)`` (the paper's "about M/2"), where
``S ~ Bin(M, ½)`` is the number of a loyal commander's bits equal to its order.

Honest failure (one lieutenant's check of a loyal commander)
    Each revealed tuple mismatches independently with the link's Z-basis error
    probability ε (``qceas.agreement.noise``), so, exactly,

        P_A = P[S < m] + Σ_{s ≥ m} P[S = s] · P[Bin(s, ε) > ⌊δ s⌋]        (1)

    (``honest_failure``). For δ = 0, ``P_A = 1 − E[(1−ε)^S] = 1 − (1 − ε/2)^M`` when
    the count check is off (α = 0): about ``(1−ε)^{M/2}`` passes, 0.15 at F = 0.95,
    M = 112. For ε < δ the Chernoff–Hoeffding bound
    ``P[Bin(s, ε) ≥ δ s] ≤ exp(−s·D(δ‖ε))`` and ``s ≥ m`` give

        P_A ≤ α + exp(−m · D(δ‖ε)),    m ≈ M/2                            (2)

    (``honest_chernoff``), with ``D(a‖b) = a ln(a/b) + (1−a) ln((1−a)/(1−b))``.

Forgery (a coalition that must guess bits it does not know)
    Under an honest pair source and a loyal commander, a loyal lieutenant's bits are
    uniform and independent of everything the coalition holds, so each revealed
    tuple of a forged command vector mismatches with probability exactly ½ whatever
    the forger does. Revealing ``s`` tuples, it passes with ``P[Bin(s, ½) ≤ ⌊δ s⌋]``;
    its best choice is the ``s ∈ [m, M]`` that maximises this (``forgery``, exact and
    achieved by ``qceas.agreement.attacks``), and for δ < ½

        P_F ≤ exp(−m · D(δ‖½))                                              (3)

    (``forgery_chernoff``). The conflict check (a command vector for the other order
    compared with the recipient's own, tuple by tuple) compares two of the
    commander's own lists, so no pair noise enters it and it accepts no mismatch; a
    forger must then guess one commander bit for every tuple where the commander's
    bit at its own position equals its claimed order: ``E[2^{−S}] = (3/4)^M``
    (``conflict_forgery``).

The rule works for ε < δ < ½: (2) needs δ > ε, (3) needs δ < ½. ``min_tuples`` picks
the smallest M for which both (1) (for every lieutenant, a union bound) and the exact
forgery probability are below a target. Exact: (1), ``forgery``; bounds: (2), (3).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats

#: Largest number of tuples ``min_tuples`` searches.
MAX_TUPLES = 100_000


def kl_bernoulli(a: float, b: float) -> float:
    """``D(a‖b)``, the Kullback–Leibler divergence of Bernoulli(a) from Bernoulli(b),
    in nats (0·ln 0 = 0)."""
    if not (0.0 <= a <= 1.0 and 0.0 < b < 1.0):
        raise ValueError(f"kl_bernoulli({a}, {b}): need 0 <= a <= 1 and 0 < b < 1")
    out = 0.0
    if a > 0:
        out += a * math.log(a / b)
    if a < 1:
        out += (1 - a) * math.log((1 - a) / (1 - b))
    return out


def allowed(s: int | np.ndarray, tolerance: float) -> np.ndarray:
    """``⌊δ·s⌋``: the mismatches a check of ``s`` tuples accepts (a hair of slack so
    that δ·s landing on an integer is not lost to rounding)."""
    return np.floor(np.asarray(s, dtype=float) * tolerance + 1e-9).astype(np.int64)


@lru_cache(maxsize=4096)
def count_floor(tuples: int, count_alpha: float) -> int:
    """``m``: the largest count with ``P[Bin(M, ½) < m] ≤ α`` (0 when α = 0)."""
    if count_alpha <= 0:
        return 0
    cdf = stats.binom.cdf(np.arange(tuples + 1) - 1, tuples, 0.5)
    return int(np.flatnonzero(cdf <= count_alpha).max())


def honest_failure(tuples: int, eps: float, tolerance: float, count_alpha: float) -> float:
    """(1): the exact probability that a loyal commander's message fails one
    lieutenant's check over a link of Z error ``eps``."""
    m = count_floor(tuples, count_alpha)
    s = np.arange(tuples + 1)
    p_s = stats.binom.pmf(s, tuples, 0.5)
    fail_given_s = stats.binom.sf(allowed(s, tolerance), s, eps)
    return float(p_s[s < m].sum() + (p_s[s >= m] * fail_given_s[s >= m]).sum())


def honest_chernoff(tuples: int, eps: float, tolerance: float, count_alpha: float) -> float:
    """(2): ``α + exp(−m·D(δ‖ε))`` (1 where δ ≤ ε: the bound says nothing there)."""
    m = count_floor(tuples, count_alpha)
    if tolerance <= eps:
        return 1.0
    if eps == 0.0:  # D(δ‖0) = ∞: only the count check can fail
        return count_alpha
    return min(1.0, count_alpha + math.exp(-m * kl_bernoulli(tolerance, eps)))


def forgery(tuples: int, tolerance: float, count_alpha: float) -> tuple[float, int]:
    """The best forger's exact success probability against one check and the number
    of tuples it reveals to get it: ``max_{m ≤ s ≤ M} P[Bin(s, ½) ≤ ⌊δ s⌋]``."""
    m = count_floor(tuples, count_alpha)
    s = np.arange(max(m, 1), tuples + 1)
    p = stats.binom.cdf(allowed(s, tolerance), s, 0.5)
    best = int(np.argmax(p))
    return float(p[best]), int(s[best])


def forgery_chernoff(tuples: int, tolerance: float, count_alpha: float) -> float:
    """(3): ``exp(−m·D(δ‖½))``."""
    m = count_floor(tuples, count_alpha)
    return min(1.0, math.exp(-m * kl_bernoulli(min(tolerance, 0.5), 0.5)))


def conflict_forgery(tuples: int) -> float:
    """A forger's best chance against the exact conflict check, ``(3/4)^M``.

    To make its vector for order x match the recipient's own (order y) on the tuples
    both reveal, the forger must say, for every tuple whose commander bit at its own
    position is x (``S ~ Bin(M, ½)`` of them, known to it), whether the commander's
    bit at the recipient's position is y: one fair guess each, so ``E[2^{−S}] =
    (3/4)^M``; tuples it adds with the recipient's bit set to ¬y cost nothing."""
    return float(0.75**tuples)


def instance_failure_bound(
    players: int, tuples: int, eps: float, tolerance: float, count_alpha: float
) -> float:
    """A union bound on a loyal commander's instance failing some lieutenant's first
    check: ``(n − 1)·P_A`` (a lieutenant that fails may still adopt the order from
    the others in round 2, so the measured abort rate is lower)."""
    return min(1.0, (players - 1) * honest_failure(tuples, eps, tolerance, count_alpha))


def min_tuples(
    players: int, eps: float, tolerance: float, count_alpha: float, target: float
) -> int | None:
    """The smallest M whose honest failure bound and exact forgery probability are
    both at most ``target``; None if no M up to ``MAX_TUPLES`` is (δ ≤ ε or δ ≥ ½)."""
    if not 0.0 < target < 1.0:
        raise ValueError(f"min_tuples: target = {target}: must be in (0, 1)")

    def good(m: int) -> bool:
        return (
            forgery(m, tolerance, count_alpha)[0] <= target
            and instance_failure_bound(players, m, eps, tolerance, count_alpha) <= target
        )

    hi = 2
    while not good(hi):  # doubling, then a linear scan back: checks are not monotone
        hi *= 2
        if hi > MAX_TUPLES:
            return None
    lo = hi // 2
    for m in range(max(2, lo), hi + 1):
        if good(m):
            return m
    return hi  # pragma: no cover - good(hi) holds
