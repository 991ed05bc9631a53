"""qceas against the published optimum for repeater chains with cutoffs: Iñesta,
Vardoyan, Scavuzzo & Wehner, npj Quantum Inf. 9, 46 (2023).

For every parameter point of ``tests/oracles/data/inesta_chain_reference.json`` (the
expected delivery times of their optimal and swap-asap policies, computed with their
own code; provenance in the file):

* **exact**: qceas's chain MDP (``qceas.scheduling.chain_mdp``): ``ceas`` (the optimal
  policy by policy iteration) and ``swap_asap`` (policy evaluation), against theirs;
* **Monte Carlo**: ``qceas.network.chain.simulate`` of ``swap_asap`` and ``ceas``,
  ``--deliveries`` each on common random numbers, with the 95% t-interval of the mean;
  their swap-asap value should fall inside qceas's swap-asap interval, and their
  optimum inside the ``ceas`` interval, at about 95% of the points (each interval
  misses its true value 5% of the time).

Then the chains beyond the reference (n = 5 with t_cut = 4–6 where their code was too
slow to run here, n = 6), exact only, with the time each solve took. Run::

    python benchmarks/chain_optimum.py [--deliveries 20000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np

from qceas.experiments import intervals
from qceas.network.chain import Chain, simulate
from qceas.scheduling import chain_mdp
from qceas.scheduling.chain_policies import CHAIN_POLICIES

REFERENCE = Path(__file__).parents[1] / "tests" / "oracles" / "data" / "inesta_chain_reference.json"
BEYOND = [(5, 0.5, 0.5, 4), (5, 0.5, 0.5, 6), (5, 0.3, 1.0, 6), (6, 0.5, 0.5, 4), (6, 0.9, 1.0, 6)]


def interval(slots: np.ndarray) -> tuple[float, float, float]:
    found = intervals.interval(slots.astype(float), intervals.NONNEGATIVE)
    assert found.ci95 is not None
    assert found.mean is not None
    return found.mean, found.ci95[0], found.ci95[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=20_000)
    parser.add_argument("--quick", action="store_true", help="every fourth point only")
    args = parser.parse_args()
    points = json.loads(REFERENCE.read_text())["points"]
    if args.quick:
        points = points[::4]
    print(
        f"{'n':>2} {'p':>4} {'p_s':>4} {'tc':>2}  {'theirs opt':>10} {'ceas exact':>10} "
        f"{'ceas MC 95% CI':>20}  {'theirs asap':>11} {'asap exact':>10} "
        f"{'asap MC 95% CI':>20}  in-CI"
    )
    worst, inside_asap, inside_opt, wall_exact, wall_mc = 0.0, 0, 0, 0.0, 0.0
    for k, pt in enumerate(points):
        chain = Chain(pt["n"], pt["p"], pt["p_s"], pt["cutoff"])
        started = time.perf_counter()
        ceas = CHAIN_POLICIES.get("ceas")
        asap = CHAIN_POLICIES.get("swap_asap")
        exact_opt, exact_asap = ceas.exact(chain), asap.exact(chain)
        wall_exact += time.perf_counter() - started
        worst = max(worst, abs(exact_opt - pt["optimal"]), abs(exact_asap - pt["swap_asap"]))
        started = time.perf_counter()
        mc = {}
        for name, policy in (("ceas", ceas), ("swap_asap", asap)):
            rng = np.random.default_rng([k, 0xC4A1])  # the same numbers for both
            mc[name] = interval(simulate(chain, policy.prepare(chain), args.deliveries, rng).slots)
        wall_mc += time.perf_counter() - started
        ok_opt = mc["ceas"][1] <= pt["optimal"] <= mc["ceas"][2]
        ok_asap = mc["swap_asap"][1] <= pt["swap_asap"] <= mc["swap_asap"][2]
        inside_opt += ok_opt
        inside_asap += ok_asap
        c, a = mc["ceas"], mc["swap_asap"]
        print(
            f"{pt['n']:>2} {pt['p']:>4} {pt['p_s']:>4} {pt['cutoff']:>2}  {pt['optimal']:>10.5f} "
            f"{exact_opt:>10.5f} [{c[1]:>8.4f}, {c[2]:>8.4f}]  {pt['swap_asap']:>11.5f} "
            f"{exact_asap:>10.5f} [{a[1]:>8.4f}, {a[2]:>8.4f}]  "
            f"{'y' if ok_opt else 'N'}{'y' if ok_asap else 'N'}"
        )
    total = len(points)
    print(
        f"\nexact: max |qceas - theirs| over {total} points and both policies = {worst:.2e} slots"
    )
    print(
        f"Monte Carlo ({args.deliveries} deliveries per policy and point): their optimum inside "
        f"the ceas 95% CI at {inside_opt}/{total}, their swap-asap inside the swap_asap CI at "
        f"{inside_asap}/{total} (about 95% expected)"
    )
    print(f"time: exact {wall_exact:.1f} s, Monte Carlo {wall_mc:.1f} s")
    print("\nbeyond the reference (exact only):")
    for n, p, p_s, cut in BEYOND:
        chain = Chain(n, p, p_s, cut)
        started = time.perf_counter()
        mdp = chain_mdp.build(chain)
        solved = chain_mdp.solve(mdp)
        asap_value = chain_mdp.expected_delivery(chain, chain_mdp.swap_asap)
        gain = 100.0 * (asap_value - solved.expected_delivery) / solved.expected_delivery
        print(
            f"n={n} p={p} p_s={p_s} t_cut={cut}: {len(mdp.states)} states, optimum "
            f"{solved.expected_delivery:.4f}, swap-asap {asap_value:.4f} (+{gain:.2f}%), "
            f"{solved.iterations} policy iterations, {time.perf_counter() - started:.1f} s"
        )
    assert math.isfinite(worst)


if __name__ == "__main__":
    main()
