"""The quantities of the convergence bound in docs/theory.md, measured.

For a scenario (default ``heterogeneous``) at θ after ``--rounds`` rounds of
``--train-with``, ``--draws`` independent shot-noise realizations of one round give,
per node k, the mean update m_k and its shot-noise variance σ_k² = E‖g_k − m_k‖².
For each weighting w (sample-weighted ``fedavg``, QFI-weighted ``qfi``) it prints:

* V(w) = Σ_k w_k² σ_k², the variance of the aggregate (the η·L·V term);
* s(w) = ⟨m(w), g*⟩/‖g*‖² with m(w) = Σ_k w_k m_k: how much of the ideal gradient g*
  (noiseless circuit, all training data) the mean aggregate carries; noise contracts
  it below 1 (the step-size rescaling c of the theory page);
* B(w) = ‖m(w) − s(w)·g*‖² / ‖g*‖², the part of the mean aggregate off the direction
  of g* (the bias term, relative);
* SNR(w) = ‖m(w)‖² / V(w);

and checks V against the empirical variance of the aggregate over the draws.

Usage:
    python benchmarks/theory_quantities.py [SCENARIO] [--draws 100] [--rounds 10]
"""

from __future__ import annotations

import argparse

import numpy as np

from qceas.experiments import resolve
from qceas.qnn import NoiseModel
from qceas.training import Trainer, build_scenario
from qceas.training.strategies import normalise, qfi_scalar


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="heterogeneous")
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--train-with", default="fedavg")
    args = parser.parse_args(argv)
    config = resolve(args.scenario)
    scenario = build_scenario(config, config.seed)
    model = scenario.model
    trainer = Trainer(scenario, args.train_with)
    for _ in range(args.rounds):
        trainer.step()
    theta = trainer.params
    x_all = np.concatenate([x for x, _ in scenario.shards])
    y_all = np.concatenate([y for _, y in scenario.shards])
    g_star = model.with_noise(NoiseModel.ideal(model.n_qubits)).gradient(theta, x_all, y_all)
    sizes = np.array([y.shape[0] for _, y in scenario.shards], dtype=float)
    rng = np.random.default_rng([config.seed, 777])
    grads = []
    qfi = None
    for _ in range(args.draws):
        ev = model.evaluate_nodes(
            theta,
            list(scenario.shards),
            scenario.noises,
            qfi=qfi is None,
            rng=rng,
            data_sizes=sizes.astype(np.int64),
        )
        if qfi is None:
            qfi = qfi_scalar(ev.qfi)  # exact (shot-free): the same every draw
        grads.append(ev.gradient)
    g = np.array(grads)  # (draws, K, P)
    m = g.mean(axis=0)
    sigma2 = ((g - m) ** 2).sum(axis=2).mean(axis=0) * args.draws / (args.draws - 1)
    weightings = {
        "fedavg": normalise(sizes),
        "qfi": normalise(sizes * np.clip(qfi, 0.0, None)),
    }
    norm2 = float(g_star @ g_star)
    print(
        f"scenario {config.name}: {scenario.n_nodes} nodes, θ after {args.rounds} rounds of "
        f"{args.train_with}, {args.draws} shot-noise draws"
    )
    print(
        f"per-node σ_k² (min / median / max): {sigma2.min():.4g} / "
        f"{np.median(sigma2):.4g} / {sigma2.max():.4g}"
    )
    print(
        f"{'weights':8s} {'V(w)':>10s} {'empirical':>10s} {'s(w)':>8s} {'B(w)':>8s} {'SNR(w)':>8s}"
    )
    for name, w in weightings.items():
        v = float(np.sum(w**2 * sigma2))
        agg = np.einsum("k,dkp->dp", w, g)
        empirical = float(((agg - agg.mean(axis=0)) ** 2).sum(axis=1).mean())
        empirical *= args.draws / (args.draws - 1)
        mean = w @ m
        s = float(mean @ g_star) / norm2
        bias = float(np.sum((mean - s * g_star) ** 2)) / norm2
        snr = float(mean @ mean) / v
        print(f"{name:8s} {v:10.4g} {empirical:10.4g} {s:8.4f} {bias:8.4f} {snr:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
