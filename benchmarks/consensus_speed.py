"""Seconds per EPR-pair QDBA instance (``qceas.agreement``), against the targets.

The aqnsim-based implementation of the same protocol took about 28 s per instance at
n = 11, M = 112 (6,050 instances in over 48 h, by its authors' code comment). Targets:
≤ 3 ms there (≥ 10⁴×) and ≤ 50 ms at n = 50, M = 250. Run::

    python benchmarks/consensus_speed.py [--instances 2000]

Prints, per case, ms per instance (best of ``--repeats``), the speed-up over 28 s and
whether the target holds. One thread (``qceas.reproducibility``).
"""

from __future__ import annotations

import argparse
import time

from qceas.agreement import Point, Protocol, simulate
from qceas.reproducibility import single_threaded_blas

AQNSIM_SECONDS = 28.0
CASES = [
    # (players, tuples, traitors, commander traitor, attack, target ms)
    (11, 112, 0, False, "none", 3.0),
    (11, 112, 5, False, "lie", 3.0),
    (11, 112, 0, True, "equivocate_crafted", 3.0),
    (50, 250, 0, False, "none", 50.0),
    (50, 250, 24, False, "lie", 50.0),
    (50, 250, 0, True, "equivocate_crafted", 50.0),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    head = ("n", "M", "traitors", "commander", "attack", "ms/inst", "x aqnsim")
    widths = (3, 4, 8, 9, 19, 8, 9)
    print(" ".join(h.rjust(w) for h, w in zip(head, widths, strict=True)), "target")
    with single_threaded_blas():
        for n, m, t, ct, attack, target in CASES:
            count = args.instances if n < 50 else max(50, args.instances // 10)
            point = Point(
                Protocol(n, m, 0.15),
                0.0,
                0.0,
                attack=attack,
                traitors=t,
                commander_traitor=ct,
                instances=count,
            )
            best = float("inf")
            for r in range(args.repeats):
                began = time.perf_counter()
                simulate(point, [r])
                best = min(best, (time.perf_counter() - began) / count)
            ms = best * 1e3
            ok = "ok" if ms <= target else "MISSED"
            who = "traitor" if ct else "loyal"
            cells = (
                str(n),
                str(m),
                str(t),
                who,
                attack,
                f"{ms:.3f}",
                f"{AQNSIM_SECONDS / best:.0f}",
            )
            row = " ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True))
            print(row, f"{ok} (<= {target} ms)")


if __name__ == "__main__":
    main()
