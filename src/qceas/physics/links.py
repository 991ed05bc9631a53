"""Heralded entanglement generation over fibre with a midpoint station.

Each end sends a photon over half the link (L/2) to a midpoint Bell-state measurement;
a single-click (Barrett–Kok-like) scheme heralds success with probability

    p = ½·η_A·η_B,   η = η_device·10^{−α·(L/2)/10} = η_device·10^{−α·L/20}

per attempt (α in dB/km, typically 0.2 dB/km at 1550 nm; Barrett & Kok, PRA 71,
060310 (2005)). An attempt cannot repeat faster than the herald's round trip, the
period ``L/c`` with c = 2·10⁸ m/s in fibre, so the expected rate is ``p/period``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from qceas.physics._checks import in_range, non_negative, positive
from qceas.physics.werner import FloatOrArray, _out

#: Speed of light in optical fibre (m/s), refractive index ≈ 1.5.
FIBRE_LIGHT_SPEED = 2.0e8
#: Typical loss of telecom fibre at 1550 nm (dB/km).
FIBRE_LOSS_DB_PER_KM = 0.2


def transmissivity(
    length_km: ArrayLike, attenuation_db_per_km: ArrayLike = FIBRE_LOSS_DB_PER_KM
) -> FloatOrArray:
    """Fraction of photons surviving half a link, ``10^{−α·L/20}``."""
    length = non_negative("length_km", length_km)
    alpha = non_negative("attenuation_db_per_km", attenuation_db_per_km)
    return _out(10.0 ** (-alpha * length / 20.0))


def success_probability(
    length_km: ArrayLike,
    *,
    efficiency_a: ArrayLike = 1.0,
    efficiency_b: ArrayLike | None = None,
    attenuation_db_per_km: ArrayLike = FIBRE_LOSS_DB_PER_KM,
) -> FloatOrArray:
    """Herald probability per attempt, ``½·η_A·η_B`` (see the module docstring)."""
    eta_a = in_range("efficiency_a", efficiency_a, 0.0, 1.0)
    eta_b = eta_a if efficiency_b is None else in_range("efficiency_b", efficiency_b, 0.0, 1.0)
    half = transmissivity(length_km, attenuation_db_per_km)
    return _out(0.5 * eta_a * eta_b * half * half)


def attempt_period(length_km: ArrayLike, minimum_s: ArrayLike = 0.0) -> FloatOrArray:
    """Seconds between attempts: ``max(L/c, minimum)`` (a device may be slower)."""
    length = non_negative("length_km", length_km)
    floor = non_negative("minimum_s", minimum_s)
    period = positive("attempt_period", np.maximum(length * 1e3 / FIBRE_LIGHT_SPEED, floor))
    return _out(period)


def pair_rate(
    length_km: ArrayLike,
    period_s: ArrayLike,
    *,
    efficiency_a: ArrayLike = 1.0,
    efficiency_b: ArrayLike | None = None,
    attenuation_db_per_km: ArrayLike = FIBRE_LOSS_DB_PER_KM,
) -> FloatOrArray:
    """Expected heralded pairs per second, ``p/period``."""
    p = success_probability(
        length_km,
        efficiency_a=efficiency_a,
        efficiency_b=efficiency_b,
        attenuation_db_per_km=attenuation_db_per_km,
    )
    return _out(np.asarray(p) / positive("period_s", period_s))
