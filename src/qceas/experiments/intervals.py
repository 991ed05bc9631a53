r"""95% confidence intervals over seeds that stay in the range of what they estimate.

Every interval that ``qceas`` writes (``summary.json``, ``network_summary.json``, the
sweep table, the terminal tables, the HTML report, the plot bands) is made here, by
one of two methods, and each entry names its method (``ci_method``).

Notation: S seeds give per-seed values x_1..x_S (non-finite values are dropped
first); x̄ is their mean, s² their sample variance (ddof = 1) and
t = t_{0.975, S−1} the Student-t quantile.

**Proportions: ``"wilson-effective-n"``.** A quantity in [0, 1] that is a share of
events (a test accuracy is the share of held-out samples classified right, Bell-pair
utilization the share of heralded pairs that served a purpose, demand met the share
of demanded pairs delivered) is a binomial proportion whose trials are *clustered*:
the trials of one seed share its initial model, data split and noise, so they are
not independent, and the spread between seeds is the only honest measure of the
uncertainty. Following Korn & Graubard (1998) the seeds are the clusters and the
binomial sample size is replaced by the *effective sample size* (Kish's n / deff),

    Var̂(p̂) = s² / S,        n_eff = p̂ (1 − p̂) / Var̂(p̂),      p̂ = x̄,

i.e. the number of independent Bernoulli trials that would give the variance seen
across seeds. Where the number of underlying trials n_total is known (S × test
samples, or the heralded pairs summed over seeds) n_eff is capped at it (a design
effect below 1, which between-seed noise can produce, is not believed; Korn &
Graubard truncate it the same way), and where s² = 0 or p̂ ∈ {0, 1} (no spread to
measure) n_eff = n_total. The interval is then Wilson's score interval (Wilson 1927)
at n = n_eff,

    centre = (p̂ + t²/(2n)) / (1 + t²/n),
    half   = t / (1 + t²/n) · sqrt(p̂(1 − p̂)/n + t²/(4n²)),

with the t quantile in place of z: Korn & Graubard's degrees-of-freedom correction,
which multiplies n_eff by (z/t)². The two are the same thing, since Wilson's
interval depends on z and n only through z²/n. Wilson's interval is the set of p
with (p̂ − p)² ≤ t² p(1 − p)/n, so it always lies in [0, 1] and always contains p̂
(p = p̂ makes the left side 0); the code clips the rounding of the closed form to
keep both true in floating point. Far from 0 and 1 (t²/n small) it is the
t-interval p̂ ± t·s/√S, since t·sqrt(p̂(1 − p̂)/n_eff) = t·s/√S; near the bounds it
bends away from them instead of crossing them. Brown, Cai & DasGupta (2001) and
Dean & Pagano (2015) recommend Wilson's interval with an effective sample size over
the Wald (t) interval for proportions, especially near 0 and 1. Where n_total is
unknown and s² = 0 there is nothing to size the interval with: it is [p̂, p̂] and the
entry says so (``note``).

**Other bounded quantities: ``"t-in-range"``.** Losses (≥ 0), gradient spreads
(≥ 0), fidelities (in [0, 1]), key bits (≥ 0) and paired differences of accuracies
(in [−1, 1]) get the Student-t interval of the mean, x̄ ± t·s/√S, intersected with
the quantity's range [a, b]. This keeps the coverage exactly: the true mean μ always
lies in [a, b] (every value does), so μ ∈ [x̄ − h, x̄ + h] if and only if
μ ∈ [x̄ − h, x̄ + h] ∩ [a, b]; the intersection removes only values that the mean
cannot take, and never μ. The intersection is never empty, since x̄ ∈ [a, b].

**One seed** (or fewer than two finite values): there is no spread, hence no
interval: ``ci95`` is ``None`` (JSON null) with ``note`` ``"1 seed: no CI"``, the
tables print that note where the interval would be, and the plots draw no band.

References:

* E. B. Wilson (1927), "Probable inference, the law of succession, and statistical
  inference", J. Amer. Statist. Assoc. 22(158):209–212.
* E. L. Korn & B. I. Graubard (1998), "Confidence intervals for proportions with
  small expected number of positive counts estimated from survey data", Survey
  Methodology 24(2):193–201.
* N. Dean & M. Pagano (2015), "Evaluating confidence interval methods for binomial
  proportions in clustered surveys", J. Survey Statist. Methodol. 3(4):484–503.
* L. D. Brown, T. T. Cai & A. DasGupta (2001), "Interval estimation for a binomial
  proportion", Statist. Sci. 16(2):101–133.
* L. Kish (1965), Survey Sampling, Wiley (design effect, effective sample size).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats

#: Method names written as ``ci_method``.
WILSON = "wilson-effective-n"
T_IN_RANGE = "t-in-range"
#: Notes written as ``note`` (and shown by the tables in place of an interval).
ONE_SEED = "1 seed: no CI"
NO_VALUE = "no value: no CI"
SEEDS_EQUAL = "all seeds equal: zero-width CI"
#: Two-sided level of every interval.
LEVEL = 0.95


@dataclass(frozen=True)
class Quantity:
    """What a per-seed value is: a proportion (share of events, in [0, 1]; Wilson
    with an effective n) or a mean bounded to ``[low, high]`` (t-interval in range)."""

    proportion: bool
    low: float
    high: float


PROPORTION = Quantity(proportion=True, low=0.0, high=1.0)
UNIT = Quantity(proportion=False, low=0.0, high=1.0)  # fidelities: means, not shares
NONNEGATIVE = Quantity(proportion=False, low=0.0, high=math.inf)
DIFFERENCE = Quantity(proportion=False, low=-1.0, high=1.0)  # of two proportions
UNBOUNDED = Quantity(proportion=False, low=-math.inf, high=math.inf)

#: The per-round fields of a ``RoundRecord`` (and ``metrics.csv``) that get an interval.
RECORD_QUANTITIES: Mapping[str, Quantity] = {
    "train_accuracy": PROPORTION,
    "test_accuracy": PROPORTION,
    "hardware_test_accuracy": PROPORTION,
    "gate_shots_met": PROPORTION,
    "train_loss": NONNEGATIVE,
    "test_loss": NONNEGATIVE,
    "hardware_test_loss": NONNEGATIVE,
    "grad_variance": NONNEGATIVE,
    "grad_norm": NONNEGATIVE,
    "key_pairs": NONNEGATIVE,
    "key_fidelity": UNIT,
    "consensus_pairs": NONNEGATIVE,
    "consensus_messages": NONNEGATIVE,
    "consensus_fidelity": UNIT,
    "gate_fidelity": UNIT,
}


def quantity_of(metric: str) -> Quantity:
    """The quantity of a record field; a plain t-interval for a field not listed."""
    return RECORD_QUANTITIES.get(metric, UNBOUNDED)


@dataclass(frozen=True)
class Interval:
    """A mean over seeds and its 95% interval (None where there is none).

    ``n_eff`` is the effective sample size behind a Wilson interval (None for the
    t-interval, or where it is undefined); ``note`` says why an interval is missing or
    has zero width.
    """

    mean: float
    ci95: tuple[float, float] | None
    method: str
    note: str | None = None
    n_eff: float | None = None


# --------------------------------------------------------------------- maths
def t_quantile(seeds: int) -> float:
    """t_{0.975, S−1}: the two-sided 95% Student-t quantile for S ≥ 2 seeds."""
    return float(stats.t.ppf(0.5 + LEVEL / 2, seeds - 1))


def wilson(p: float, n: float, z: float) -> tuple[float, float]:
    """Wilson's score interval for a proportion ``p`` of ``n`` trials at quantile ``z``.

    centre = (p + z²/(2n)) / (1 + z²/n), half = z/(1 + z²/n) · sqrt(p(1−p)/n + z²/(4n²)).
    The exact interval lies in [0, 1] and contains p (see the module docstring), so
    clipping to those only removes rounding, e.g. an upper bound of 1 + 1e-16 at p = 1.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"wilson: p = {p!r} must be in [0, 1]")
    if not n > 0:
        raise ValueError(f"wilson: n = {n!r} must be > 0")
    k = z * z / n
    centre = (p + k / 2) / (1 + k)
    half = z / (1 + k) * math.sqrt(p * (1 - p) / n + k / (4 * n))
    lo = min(max(0.0, centre - half), p)
    hi = max(min(1.0, centre + half), p)
    return lo, hi


def effective_n(p: float, variance: float, seeds: int, n_total: float | None) -> float | None:
    """Korn–Graubard effective sample size n_eff = p(1−p) / (s²/S), capped at ``n_total``.

    ``variance`` is s² (ddof = 1) over ``seeds`` seeds. With no spread (s² = 0, which
    p ∈ {0, 1} implies) it is ``n_total``, None where that is unknown.
    """
    if variance <= 0 or p * (1 - p) <= 0:
        return n_total
    n_eff = p * (1 - p) * seeds / variance
    return n_eff if n_total is None else min(n_eff, n_total)


# ------------------------------------------------------------- the intervals
def _finite(values: Sequence[float | None] | NDArray[np.float64]) -> NDArray[np.float64]:
    """The finite values, as floats (None, NaN and infinities are missing values)."""
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    return arr[np.isfinite(arr)]


def _moments(arr: NDArray[np.float64]) -> tuple[float, float]:
    """Mean and sample variance (ddof = 1) of ≥ 2 values; exactly (x, 0) when all equal
    (np.mean of equal values can round away from them, which would fake a spread)."""
    if np.ptp(arr) == 0:
        return float(arr[0]), 0.0
    return float(arr.mean()), float(arr.var(ddof=1))


def _check_range(arr: NDArray[np.float64], quantity: Quantity) -> None:
    """A value outside the range means the caller chose the wrong quantity: the
    interval's guarantees (in range, coverage) would not hold, so refuse."""
    if arr.size and (arr.min() < quantity.low or arr.max() > quantity.high):
        raise ValueError(
            f"values in [{arr.min()!r}, {arr.max()!r}] lie outside the range "
            f"[{quantity.low}, {quantity.high}] of the quantity"
        )


def _too_few(arr: NDArray[np.float64], method: str) -> Interval | None:
    """No interval from fewer than two finite values."""
    if arr.size >= 2:
        return None
    mean = float(arr[0]) if arr.size else math.nan
    return Interval(mean, None, method, ONE_SEED if arr.size else NO_VALUE)


def proportion_interval(
    values: Sequence[float | None] | NDArray[np.float64], n_total: float | None = None
) -> Interval:
    """Wilson score interval at the Korn–Graubard effective n, t quantile (module
    docstring). ``n_total``: the number of Bernoulli trials behind all the seeds
    together (e.g. S × test samples), None if unknown."""
    if n_total is not None and not n_total > 0:
        raise ValueError(f"n_total = {n_total!r} must be > 0 (or None: unknown)")
    arr = _finite(values)
    _check_range(arr, PROPORTION)
    few = _too_few(arr, WILSON)
    if few is not None:
        return few
    p, variance = _moments(arr)
    n = effective_n(p, variance, arr.size, n_total)
    if n is None:  # no spread and no trial count: nothing to size the interval with
        return Interval(p, (p, p), WILSON, SEEDS_EQUAL)
    return Interval(p, wilson(p, n, t_quantile(arr.size)), WILSON, n_eff=float(n))


def bounded_interval(
    values: Sequence[float | None] | NDArray[np.float64], quantity: Quantity
) -> Interval:
    """Student-t interval of the mean, x̄ ± t·s/√S, intersected with the quantity's
    range (valid with the same coverage: the true mean lies in the range)."""
    arr = _finite(values)
    _check_range(arr, quantity)
    few = _too_few(arr, T_IN_RANGE)
    if few is not None:
        return few
    mean, variance = _moments(arr)
    half = t_quantile(arr.size) * math.sqrt(variance / arr.size)
    lo, hi = max(quantity.low, mean - half), min(quantity.high, mean + half)
    return Interval(mean, (lo, hi), T_IN_RANGE, SEEDS_EQUAL if half == 0 else None)


def interval(
    values: Sequence[float | None] | NDArray[np.float64],
    quantity: Quantity,
    n_total: float | None = None,
) -> Interval:
    """The 95% interval of the mean of ``values`` over seeds, by the quantity's method."""
    if quantity.proportion:
        return proportion_interval(values, n_total)
    return bounded_interval(values, quantity)


def entry(
    values: Sequence[float | None] | NDArray[np.float64],
    quantity: Quantity,
    n_total: float | None = None,
) -> dict[str, Any]:
    """A summary entry: ``mean`` (of the finite values), ``ci95`` ([lo, hi] or None),
    ``per_seed`` (every value, in seed order), ``ci_method``, and ``note`` / ``n_eff``
    where there is one."""
    found = interval(values, quantity, n_total)
    out: dict[str, Any] = {
        "mean": found.mean,
        "ci95": None if found.ci95 is None else list(found.ci95),
        "per_seed": [math.nan if v is None else float(v) for v in values],
        "ci_method": found.method,
    }
    if found.note is not None:
        out["note"] = found.note
    if found.n_eff is not None:
        out["n_eff"] = found.n_eff
    return out


def band(
    curves: NDArray[np.float64], quantity: Quantity, n_total: float | None = None
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Mean and 95% band over seeds (rows) for each round (columns), by the quantity's
    method. Where a round has fewer than two finite values (one seed; round 0 has no
    gradient) the band is NaN, so nothing is drawn there; the mean is NaN only where
    there is no value at all."""
    columns = [interval(curves[:, j], quantity, n_total) for j in range(curves.shape[1])]
    mean = np.array([c.mean for c in columns], dtype=float)
    lo = np.array([math.nan if c.ci95 is None else c.ci95[0] for c in columns], dtype=float)
    hi = np.array([math.nan if c.ci95 is None else c.ci95[1] for c in columns], dtype=float)
    return mean, lo, hi


# ----------------------------------------------------------------- showing
def shown(ci95: object, note: object = None) -> tuple[tuple[float, float] | None, str | None]:
    """What a table shows for an interval: ``(lo, hi)`` or None, and the note to show
    in its place. Reads entries written before this module too (``ci95`` always a
    2-list, zero-width with one seed): a zero-width interval shows no interval, and
    its note only if the entry has one."""
    text = note if isinstance(note, str) else None
    if not isinstance(ci95, Sequence) or isinstance(ci95, str) or len(ci95) != 2:
        return None, text
    lo, hi = ci95
    numbers = all(isinstance(v, int | float) and math.isfinite(v) for v in (lo, hi))
    if not numbers or lo == hi:
        return None, text
    return (float(lo), float(hi)), None


def ci_text(stat: Mapping[str, Any], digits: int = 3, signed: bool = False) -> str:
    """``[lo, hi]`` of a summary entry, or its note (e.g. ``1 seed: no CI``) where it
    has no interval; ``no CI`` for an old entry with none."""
    bounds, note = shown(stat.get("ci95"), stat.get("note"))
    if bounds is None:
        return note or "no CI"
    sign = "+" if signed else ""
    return f"[{bounds[0]:{sign}.{digits}f}, {bounds[1]:{sign}.{digits}f}]"
