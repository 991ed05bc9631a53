"""Where purification could make multi-hop routes yield key: closed forms, no
simulation, ideal memories (no decay while pairs wait), so every number here is an
upper bound on what a scheduler could get.

A route of h links of fresh-pair fidelity F0 (Werner) gives, after ideal swaps, a
Werner pair of ``w = w0^h`` (``qceas.physics.swap_chain``). k rounds of symmetric
recurrence purification (two identical pairs in, one out, DEJMPS on the Bell-diagonal
state, ``qceas.physics.dejmps``; Deutsch et al., PRL 77, 2818 (1996)) give the
state after round k and its success probability p_k; an output of round k costs
``N_k = 2·N_{k−1}/p_k`` end-to-end pairs on average (N_0 = 1). Key from a
Bell-diagonal pair (A, B, C, D) = (Φ+, Ψ−, Ψ+, Φ−) measured in Z and X (BBM92): the
bit error in Z is e_Z = B + C, in X e_X = B + D, and the asymptotic key fraction
``r = max(0, 1 − h2(e_Z) − h2(e_X))`` (Shor & Preskill, PRL 85, 441 (2000), with the
phase error estimated from the X basis). For a Werner pair e_Z = e_X = 2(1 − F)/3 and
r is zero below F = 0.8350 (``KEY_FIDELITY_THRESHOLD``), which is why a route of
fresh F below it can give no key without purification (``qceas validate`` warns).

Printed per (hops, F0): the fresh fidelity and key fraction, then for the first k
whose output yields key: F_k, r_k, N_k, and the key bits per end-to-end pair
``r_k/N_k``, against r_0 where fresh pairs already yield key. Run::

    python benchmarks/multihop_purification.py
"""

from __future__ import annotations

import numpy as np

from qceas.physics import dejmps, swap_chain, werner_coefficients
from qceas.physics.qkd import binary_entropy

HOPS = (1, 2, 3, 4)
FRESH = (0.85, 0.90, 0.95)
ROUNDS = 6


def key_fraction(c: np.ndarray) -> float:
    _, b, cc, d = c
    e_z, e_x = b + cc, b + d
    return max(0.0, 1.0 - float(binary_entropy(e_z)) - float(binary_entropy(e_x)))


def main() -> None:
    print(
        f"{'hops':>4} {'F0':>5} {'F e2e':>7} {'r0':>6}   "
        "first k with key: F_k, r_k, pairs N_k, r_k/N_k"
    )
    for h in HOPS:
        for f0 in FRESH:
            f = float(swap_chain(np.full(h, f0)))
            c = werner_coefficients(f)
            r0 = key_fraction(c)
            cost = 1.0
            found = None
            if r0 <= 0.0:
                for k in range(1, ROUNDS + 1):
                    p, c = dejmps(c, c)
                    cost = 2.0 * cost / float(p)
                    r = key_fraction(c)
                    if r > 0.0:
                        found = (k, float(c[0]), r, cost)
                        break
            line = f"{h:>4} {f0:>5.2f} {f:>7.4f} {r0:>6.3f}   "
            if r0 > 0.0:
                line += "fresh pairs yield key"
            elif found is None:
                line += f"none within {ROUNDS} rounds"
            else:
                k, fk, r, n = found
                line += f"k={k}: F={fk:.4f}, r={r:.3f}, N={n:.2f}, r/N={r / n:.4f}"
            print(line)


if __name__ == "__main__":
    main()
