"""How close each strategy's aggregated gradient is to the ideal gradient.

For a scenario (default ``heterogeneous``) and its seed-0 problem, at the initial
parameters and after a few rounds of training, this draws ``--draws`` independent
shot-noise realizations of one round and compares every strategy's aggregate ``ĝ``
with the ideal gradient ``g*`` — noiseless circuit, exact expectations, the whole
training set (the quantity every node's update is trying to estimate). Printed per
strategy: the mean cosine similarity ``cos(ĝ, g*)`` and the mean squared distance of
the unit vectors, with their standard errors over draws.

Every strategy of the scenario aggregates the same round through its own
``Strategy.aggregate``, as if every update arrived, verified and claiming its node's
true QFI (no adversary); the robust rules are compared too. This isolates the
aggregation rule from everything else of training (optimizer, stopping, test split),
so it measures directly whether QFI weighting yields a better gradient estimate under
heterogeneous noise.

Usage:
    python benchmarks/aggregation_quality.py [SCENARIO] [--draws 200] [--rounds 0 10 20]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from qceas.experiments import resolve
from qceas.qnn import NodeEvaluation, NoiseModel
from qceas.training import Trainer, build_scenario, qfi_scalar
from qceas.training.strategies import make_strategy
from qceas.training.transport import Delivery


def _arrived(ev: NodeEvaluation) -> Delivery:
    """One round's evaluations as the aggregator receives them with no adversary and
    no loss: every update arrives (and verifies), claiming its node's true QFI."""
    assert ev.qfi is not None
    return Delivery.unattacked(ev.gradient, qfi_scalar(ev.qfi), ev.sizes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="heterogeneous")
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--rounds", type=int, nargs="+", default=[0, 10, 20])
    parser.add_argument("--train-with", default="fedavg", help="strategy that moves θ")
    args = parser.parse_args(argv)
    config = resolve(args.scenario)
    scenario = build_scenario(config, config.seed)
    model = scenario.model
    x_all = np.concatenate([x for x, _ in scenario.shards])
    y_all = np.concatenate([y for _, y in scenario.shards])
    ideal = NoiseModel.ideal(model.n_qubits)
    strategies = list(config.training.strategies)
    trainer = Trainer(scenario, args.train_with)
    rng = np.random.default_rng([config.seed, 12345])
    done = 0
    print(
        f"scenario {config.name}: {scenario.n_nodes} nodes, {args.draws} shot-noise draws "
        f"per point; θ moved by {args.train_with}"
    )
    for target in sorted(args.rounds):
        while done < target:
            trainer.step()
            done += 1
        theta = trainer.params
        g_star = model.with_noise(ideal).gradient(theta, x_all, y_all)
        unit_star = g_star / np.linalg.norm(g_star)
        cos: dict[str, list[float]] = {s: [] for s in strategies}
        dist: dict[str, list[float]] = {s: [] for s in strategies}
        for _ in range(args.draws):
            ev = model.evaluate_nodes(theta, scenario.shards, scenario.noises, qfi=True, rng=rng)
            arrived = _arrived(ev)
            for name in strategies:
                agg, _ = make_strategy(name, config.training.compositions).aggregate(arrived)
                unit = agg / np.linalg.norm(agg)
                cos[name].append(float(unit @ unit_star))
                dist[name].append(float(np.sum((unit - unit_star) ** 2)))
        print(f"round {target:3d}  |g*| = {np.linalg.norm(g_star):.3f}")
        for name in strategies:
            c, dd = np.array(cos[name]), np.array(dist[name])
            se_c = c.std(ddof=1) / np.sqrt(c.size)
            se_d = dd.std(ddof=1) / np.sqrt(dd.size)
            print(
                f"  {name:<10} cos(ĝ, g*) = {c.mean():.4f} ± {se_c:.4f}   "
                f"‖ĝ/|ĝ| − g*/|g*|‖² = {dd.mean():.4f} ± {se_d:.4f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
