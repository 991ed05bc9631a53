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

With ``--seeds S`` it also trains the scenario's ``--strategy`` (default ``qfi``) with
each estimator for seeds 0..S−1 and prints the final test accuracy and the paired
difference to ``sld`` with its 95% t interval. Every parameter is the scenario's own
(only ``model.qfi_estimator`` changes); nothing is tuned on the test split.

Usage:
    python benchmarks/qfi_estimators.py [SCENARIO] [--seeds 5] [--strategy qfi]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from qceas.experiments import resolve
from qceas.qnn.qfi_estimators import QFI_ESTIMATORS
from qceas.qnn.timing import compute_times
from qceas.training import Trainer, build_scenario, qfi_scalar


def weights(scenario, name: str) -> tuple[np.ndarray, float]:
    """(K,) τ_k of every node on its shard at θ_0 under estimator ``name``, and the
    wall time of that evaluation."""
    model = scenario.model.with_qfi_estimator(name)
    noises = [n.exact() for n in scenario.noises]
    start = time.perf_counter()
    ev = model.evaluate_nodes(scenario.initial_params, scenario.shards, noises, qfi=True)
    wall = time.perf_counter() - start
    assert ev.qfi is not None
    return qfi_scalar(ev.qfi), wall


def final_accuracy(config, seed: int, name: str, strategy: str) -> float:
    raw = config.to_dict()
    raw["model"]["qfi_estimator"] = name
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
        tau[name], wall = weights(scenario, name)
        print(f"{name:16s} evaluation with it: {wall:.2f} s")
    ref = tau["sld"]
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
    if args.seeds:
        acc = {
            name: np.array(
                [final_accuracy(config, s, name, args.strategy) for s in range(args.seeds)]
            )
            for name in names
        }
        print(f"== {args.strategy}: final test accuracy over seeds 0..{args.seeds - 1} ==")
        for name in names:
            line = f"{name:16s} {acc[name].mean():.3f}  per seed {np.round(acc[name], 3)}"
            if name != "sld":
                d = acc[name] - acc["sld"]
                if args.seeds > 1:
                    half = stats.t.ppf(0.975, args.seeds - 1) * d.std(ddof=1) / np.sqrt(d.size)
                else:
                    half = float("nan")
                line += f"  - sld: {d.mean():+.3f} [{d.mean() - half:+.3f}, {d.mean() + half:+.3f}]"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
