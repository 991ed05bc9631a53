"""Data-level, hybrid and model-level partitions at equal total qubits (issue 6).

Starts from the ``partition-compare`` scenario (QPUs of 2 qubits, 8 qubits in all)
and changes only ``model.n_qubits``, ``nodes.count`` and
``partition.qpus_per_replica``:

* ``data``: 4 replicas of a 2-qubit circuit, one QPU each;
* ``hybrid``: 2 replicas of a 4-qubit circuit over 2 QPUs (the scenario itself);
* ``model`` (with ``--model``): 1 replica of an 8-qubit circuit over 4 QPUs (slow:
  8-qubit density matrices with their tangents).

Each variant runs through ``run_experiment`` into ``OUT/<variant>`` (finished runs are
reused on a rerun) and one line per variant is printed: final test accuracy of the
ideal circuit and on the replicas' own hardware (95% CI over seeds), the mean pair
fidelity of the teleported gates, and the shots a replica runs per round with the
time they take at one shot per ``partition.shot_period_s``.

Usage:
    python benchmarks/partition_compare.py OUT [--model] [--seeds N]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from qceas.config import from_dict
from qceas.experiments import resolve, run_experiment
from qceas.experiments.intervals import ci_text
from qceas.partition import executions_per_round

#: variant -> (qubits per replica, replicas, QPUs per replica)
VARIANTS: dict[str, tuple[int, int, int]] = {
    "data": (2, 4, 1),
    "hybrid": (4, 2, 2),
    "model": (8, 1, 4),
}


def variant(name: str, seeds: int) -> Any:
    """The scenario with the variant's model size, replicas and QPUs per replica."""
    qubits, replicas, qpus = VARIANTS[name]
    raw = resolve("partition-compare").to_dict()
    raw.pop("sweep")
    raw["name"] = f"partition-compare-{name}"
    raw["seeds"] = seeds
    raw["model"]["n_qubits"] = qubits
    raw["nodes"]["count"] = replicas
    raw["partition"]["qpus_per_replica"] = qpus
    return from_dict(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", action="store_true", help="also run the 8-qubit model-level")
    parser.add_argument("--seeds", type=int, default=None)
    args = parser.parse_args()
    names = ["data", "hybrid", *(["model"] if args.model else [])]
    rows = []
    for name in names:
        config = variant(name, args.seeds or resolve("partition-compare").seeds)
        outcome = run_experiment(config, args.out / name, progress=False, plot=False)
        s = outcome.summary["strategies"]["fedavg"]
        batch = config.training.batch_size
        shots = executions_per_round(
            config.model, batch, config.compute.shots, qfi=config.compute.qfi_circuits
        )
        hours = shots * config.partition.shot_period_s / 3600 if name != "data" else 0.0
        rows.append(
            {
                "variant": name,
                "replicas x qubits": f"{config.nodes.count} x {config.model.n_qubits}",
                "qpus_per_replica": config.partition.qpus_per_replica,
                "final_accuracy": s["final_accuracy"],
                "final_hardware_accuracy": s["final_hardware_accuracy"],
                "gate_fidelity": s.get("gate_fidelity", {}).get("mean"),
                "shots_per_round": shots,
                "hours_per_round_at_shot_period": hours,
            }
        )
        acc, hw = s["final_accuracy"], s["final_hardware_accuracy"]
        gate, layout = rows[-1]["gate_fidelity"], rows[-1]["replicas x qubits"]
        print(
            f"{name:<7} {layout:>7}  QPUs/replica {config.partition.qpus_per_replica}"
            f"  acc {acc['mean']:.3f} {ci_text(acc)}"
            f"  on hardware {hw['mean']:.3f} {ci_text(hw)}"
            f"  gate F {'-' if gate is None else f'{gate:.3f}'}"
            f"  {shots:,} shots/round ({hours:.2f} h of pair-limited shots)",
            flush=True,
        )
    (args.out / "partition_compare.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
