"""Milliseconds of one led round's agreement (``qceas.training.leadership``): Bracha's
broadcast against QDBA on a 16-bit digest (M = 112, δ = 0.15, F = 0.95), an honest
leader and a coalition of lying QPUs. Run::

    python benchmarks/led_round_speed.py [--rounds 20]

Prints ms per agreement and the ratio QDBA / broadcast; one BLAS thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from qceas.reproducibility import single_threaded_blas
from qceas.training.config import LeaderConfig
from qceas.training.leadership import Leadership, ModelState, poisoned

CASES = [(20, 4), (20, 10), (50, 10)]  # (players, traitors)


def ms_per_round(agreement: str, players: int, traitors: int, rounds: int) -> float:
    honest = ModelState(np.arange(24.0), {"m": np.zeros(24)})
    other = poisoned(ModelState(np.zeros(24), {"m": np.zeros(24)}), honest, 1.0)
    mask = np.zeros(players, dtype=bool)
    mask[1 : traitors + 1] = True
    spec = LeaderConfig(mode="rotate", tuples=112, tolerance=0.15)
    lead = Leadership(spec, agreement, mask, np.random.default_rng(0))
    eps = np.full(players, 2 * (1 - 0.95) / 3)
    began = time.perf_counter()
    for _ in range(rounds):
        lead.agree((honest, other), eps)
    return (time.perf_counter() - began) / rounds * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with single_threaded_blas():
        for players, traitors in CASES:
            classical = ms_per_round("broadcast", players, traitors, args.rounds)
            quantum = ms_per_round("qdba", players, traitors, args.rounds)
            print(
                f"n = {players}, {traitors} traitors: broadcast {classical:.2f} ms, "
                f"qdba {quantum:.1f} ms (x{quantum / classical:.0f})"
            )


if __name__ == "__main__":
    main()
