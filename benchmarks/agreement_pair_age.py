"""Where a QDBA pair's age matters: its Z error and the agreement's honest failure
when the pair waits, by closed form (no simulation).

A pair measured in Z on arrival over one hop waits only for its herald, ``t = L/c``
(the one-way fibre delay, c = 2·10⁸ m/s, ``qceas.physics.FIBRE_LIGHT_SPEED``), with
both ends decaying: ``w = w0·e^{−2t/T}`` (``qceas.physics.decay``). Three cases:

* ``herald``: one hop, measured when the herald arrives (what the network simulator
  does not model yet: its fresh pairs have their fidelity at herald time);
* ``hub wait``: two hops through the hub (QPU leaders): both ends measure on arrival,
  and the hub's half of the first pair waits for the other link's herald, on average
  ``τ/p`` (attempt period τ = L/c, success p = η·10^{−0.2 L/10}, η = 0.9), decaying at
  1/T alone; the swap's Werner parameters multiply;
* ``held 20 ms``: one hop, the pair kept unmeasured for a 20 ms round (a node whose
  qubits are busy with the round's circuits), both ends decaying.

For each: ε = (1 − w)/2, and the exact honest failure of one check
(``qceas.agreement.bounds.honest_failure``) at M = 112, δ = 0.15, and the chance
that some check of one agreement on a 16-bit digest with 10 lieutenants fails,
``1 − (1 − P)^160`` (the checks use independent pairs; a lieutenant that fails may
still adopt the value in round 2, so this bounds the abort rate from above). Run::

    python benchmarks/agreement_pair_age.py
"""

from __future__ import annotations

import math

import numpy as np

from qceas.agreement import bounds
from qceas.physics import FIBRE_LIGHT_SPEED, FIBRE_LOSS_DB_PER_KM

F0, M, DELTA, ALPHA, CHECKS = 0.95, 112, 0.15, 1e-6, 16 * 10
LENGTHS_KM = (1.0, 10.0, 25.0, 50.0)
COHERENCE_S = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)


def failure(w: float) -> tuple[float, float, float]:
    eps = (1.0 - w) / 2.0
    one = bounds.honest_failure(M, eps, DELTA, ALPHA)
    return eps, one, 1.0 - (1.0 - one) ** CHECKS


def main() -> None:
    w0 = (4 * F0 - 1) / 3
    print(f"F0 = {F0}, M = {M}, delta = {DELTA}: eps, P(one check fails), P(some check fails)")
    print("| L km | T s | case | eps | check | some check |")
    print("|---|---|---|---|---|---|")
    for length in LENGTHS_KM:
        tau = length * 1e3 / FIBRE_LIGHT_SPEED
        p = 0.9 * 10 ** (-FIBRE_LOSS_DB_PER_KM * length / 10)
        for t_mem in COHERENCE_S:
            cases = {
                "herald": w0 * math.exp(-2 * tau / t_mem),
                "hub wait": (w0 * math.exp(-2 * tau / t_mem)) ** 2 * math.exp(-tau / p / t_mem),
                "held 20 ms": w0 * math.exp(-2 * 0.02 / t_mem),
            }
            for name, w in cases.items():
                eps, one, agree = failure(float(np.clip(w, 0.0, 1.0)))
                print(f"| {length:g} | {t_mem:g} | {name} | {eps:.4f} | {one:.3g} | {agree:.3g} |")
    print(f"(fresh pair: eps = {(1 - w0) / 2:.4f}, check fails {failure(w0)[1]:.3g})")


if __name__ == "__main__":
    main()
