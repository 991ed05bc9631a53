"""QFI estimators side by side: the bounds, the ranks of the weights, time, accuracy.

For a scenario (default ``heterogeneous``; ``paper`` too), at its seed-0 problem and
initial parameters, every node's QFI weight τ_k = tr(F̄_k)/P on its whole shard, under
each estimator of :data:`qceas.qnn.qfi_estimators.QFI_ESTIMATORS`:

* the bound checked per node (``sub_qfi`` and ``hilbert_schmidt`` at most ``sld``);
* Spearman's rank correlation of the per-node weights with the ``sld`` weights (the
  weights are normalized, so ranks and ratios are what aggregation sees) and the
  ratio of each node's weight to its ``sld`` weight (min, max);
* the wall time of one round's evaluation with the QFI, against without it;
* the hardware time a round takes per node (``qceas.qnn.timing``) with each
  estimator's circuits.

With ``--qfi-samples Q`` (default 8) the same with each node's weight taken on Q
evenly spaced rows of its shard (``model.qfi_samples``): the time, Spearman against the
whole-shard ``sld`` weights, and how many nodes' whole-shard τ lies within 2 reported
standard errors of the subsample's.

Then a round at the size where subsampling matters (the built-in scenarios hold
2.5–18 rows per node, so it changes nothing there): ``--nodes`` 50 nodes × ``--rows``
64 samples, 4 qubits, 3 layers, depolarizing from 0.005 to 0.1 across the nodes, exact
expectations; one evaluation with gradients and the QFI weight per estimator, on the
whole shard and on Q rows, against the whole-shard ``sld`` weights.

With ``--seeds S`` it also trains the scenario's ``--strategy`` (default ``qfi``) with
each estimator for seeds 0..S−1 and prints the final test accuracy and the paired
difference to ``sld`` with its 95% t interval. Every parameter is the scenario's own
(only ``model.qfi_estimator`` changes); nothing is tuned on the test split.

Usage:
    python benchmarks/qfi_estimators.py [SCENARIO] [--seeds 5] [--strategy qfi]
        [--qfi-samples 8] [--nodes 50] [--rows 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from qceas.experiments import resolve
from qceas.qnn import QNN, NoiseModel
from qceas.qnn.qfi_estimators import QFI_ESTIMATORS
from qceas.qnn.timing import compute_times
from qceas.training import Trainer, build_scenario, qfi_scalar


def weights(scenario, name: str, samples: int | None = None):
    """(K,) τ_k of every node on its shard (or ``samples`` rows of it) at θ_0 under
    estimator ``name``, their standard errors, and the wall time of that evaluation."""
    model = scenario.model.with_qfi_estimator(name, samples)
    noises = [n.exact() for n in scenario.noises]
    start = time.perf_counter()
    ev = model.evaluate_nodes(scenario.initial_params, scenario.shards, noises, qfi=True)
    wall = time.perf_counter() - start
    assert ev.qfi is not None
    return qfi_scalar(ev.qfi), ev.qfi_se, wall


def subsample_round(nodes: int, rows: int, q: int) -> None:
    """Time per round and accuracy of the weights on a subsample (module docstring)."""
    rng = np.random.default_rng(0)
    n = 4
    base = QNN(n, 3, n_classes=2)
    params = base.init_params(rng=rng)
    noises = [NoiseModel.build(n, depolarizing=float(d)) for d in np.linspace(0.005, 0.1, nodes)]
    shards = [
        (rng.uniform(-np.pi, np.pi, size=(rows, n)), rng.integers(0, 2, size=rows))
        for _ in range(nodes)
    ]

    def run(name: str, samples: int | None, qfi: bool = True):
        model = base.with_qfi_estimator(name, samples)
        start = time.perf_counter()
        ev = model.evaluate_nodes(params, shards, noises, qfi=qfi)
        return ev, time.perf_counter() - start

    run("sld", None)  # warm-up
    print(f"== {nodes} nodes x {rows} samples, 4 qubits, 3 layers: one round ==")
    print(f"without the QFI: {run('sld', None, qfi=False)[1]:.2f} s")
    full, _ = run("sld", None)
    assert full.qfi is not None
    ref = qfi_scalar(full.qfi)
    for name in QFI_ESTIMATORS.names():
        for samples in (None, q):
            ev, wall = run(name, samples)
            assert ev.qfi is not None
            assert ev.qfi_se is not None
            t = qfi_scalar(ev.qfi)
            line = (
                f"{name:16s} on {'all' if samples is None else samples:>3} rows: {wall:.2f} s, "
                f"Spearman vs whole-shard sld {stats.spearmanr(t, ref).statistic:+.3f}"
            )
            if samples is not None:
                line += f", median SE/tau {np.median(ev.qfi_se / t):.4f}"
                if name == "sld":
                    inside = np.mean(np.abs(t - ref) <= 2 * ev.qfi_se)
                    line += f", whole-shard tau within 2 SE for {inside:.0%} of nodes"
            print(line)


def final_accuracy(config, seed: int, name: str, strategy: str, samples=None) -> float:
    raw = config.to_dict()
    raw["model"]["qfi_estimator"] = name
    raw["model"]["qfi_samples"] = samples
    from qceas.config import from_dict

    cfg = from_dict(raw)
    trainer = Trainer(build_scenario(cfg, seed), strategy)
    records = trainer.run(cfg.training.rounds)
    return float(records[-1].test_accuracy)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="heterogeneous")
    parser.add_argument("--seeds", type=int, default=0, help="train with each estimator")
    parser.add_argument("--strategy", default="qfi")
    parser.add_argument("--qfi-samples", type=int, default=8, help="rows per shard")
    parser.add_argument("--nodes", type=int, default=50, help="nodes of the subsample round")
    parser.add_argument("--rows", type=int, default=64, help="rows per node there")
    args = parser.parse_args(argv)
    config = resolve(args.scenario)
    scenario = build_scenario(config, config.seed)
    names = QFI_ESTIMATORS.names()
    print(f"== {args.scenario}: {scenario.n_nodes} nodes, {scenario.model.n_qubits} qubits ==")
    noises = [n.exact() for n in scenario.noises]
    start = time.perf_counter()
    scenario.model.evaluate_nodes(scenario.initial_params, scenario.shards, noises)
    plain = time.perf_counter() - start
    print(f"evaluation without the QFI: {plain:.2f} s")
    tau = {}
    for name in names:
        tau[name], _, wall = weights(scenario, name)
        print(f"{name:16s} evaluation with it: {wall:.2f} s")
    ref = tau["sld"]
    q = args.qfi_samples
    for name in names:
        sub, se, wall = weights(scenario, name, q)
        rho = stats.spearmanr(sub, ref).statistic
        inside = np.mean(np.abs(sub - tau[name]) <= 2 * se)
        print(
            f"{name:16s} on {q} rows per shard: {wall:.2f} s, Spearman vs whole-shard sld "
            f"{rho:+.3f}, whole-shard tau within 2 SE for {inside:.0%} of nodes, "
            f"SE/tau median {np.median(se / sub):.3f}"
        )
    samples = np.array([y.shape[0] for _, y in scenario.shards], dtype=np.int64)
    ansatz = scenario.model.ansatz
    times = config.compute.gate_times()
    for name in names:
        t = tau[name]
        rho = stats.spearmanr(t, ref).statistic
        ratio = t / ref
        seconds = compute_times(
            ansatz, times, samples, shots=config.compute.shots, qfi=True, estimator=name
        )
        bound = "holds" if np.all(t <= ref * (1 + 1e-9)) else "VIOLATED"
        print(
            f"{name:16s} tau mean {t.mean():.4f}  Spearman vs sld {rho:+.3f}  "
            f"tau/tau_sld in [{ratio.min():.3f}, {ratio.max():.3f}]  bound {bound}  "
            f"QPU time per round (mean node) {seconds.mean():.3f} s"
        )
    subsample_round(args.nodes, args.rows, q)
    if args.seeds:
        variants = [(name, None) for name in names] + [("sld", q), ("hilbert_schmidt", q)]
        acc = {
            (name, rows): np.array(
                [final_accuracy(config, s, name, args.strategy, rows) for s in range(args.seeds)]
            )
            for name, rows in variants
        }
        print(f"== {args.strategy}: final test accuracy over seeds 0..{args.seeds - 1} ==")
        for key in variants:
            name, rows = key
            label = name if rows is None else f"{name}@{rows}"
            line = f"{label:19s} {acc[key].mean():.3f}  per seed {np.round(acc[key], 3)}"
            if key != ("sld", None):
                d = acc[key] - acc["sld", None]
                if args.seeds > 1:
                    half = stats.t.ppf(0.975, args.seeds - 1) * d.std(ddof=1) / np.sqrt(d.size)
                else:
                    half = float("nan")
                line += f"  - sld: {d.mean():+.3f} [{d.mean() - half:+.3f}, {d.mean() + half:+.3f}]"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
