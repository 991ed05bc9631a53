"""The round loop: reproducibility, learning, and the recorded metrics."""

from __future__ import annotations

import numpy as np

from qceas.config import from_dict
from qceas.training import Trainer, build_scenario

SMALL = {
    "model": {"n_qubits": 3, "layers": 2},
    "nodes": {"count": 4},
    "training": {"rounds": 6},
    "noise": {"depolarizing": [0.0, 0.0, 0.2, 0.2], "shots": 64},
}


def test_same_config_and_seed_give_identical_numbers() -> None:
    config = from_dict(SMALL)
    first = Trainer(build_scenario(config, 3), "qfi").run(4)
    second = Trainer(build_scenario(config, 3), "qfi").run(4)
    assert repr(first) == repr(second)  # repr: round 0 holds NaNs, which never compare equal


def test_different_seeds_differ() -> None:
    config = from_dict(SMALL)
    a = Trainer(build_scenario(config, 0), "fedavg").run(2)
    b = Trainer(build_scenario(config, 1), "fedavg").run(2)
    assert repr(a) != repr(b)


def test_strategies_share_the_problem_for_a_seed() -> None:
    config = from_dict(SMALL)
    sc = build_scenario(config, 5)
    a, b = Trainer(sc, "fedavg"), Trainer(sc, "qfi")
    np.testing.assert_array_equal(a.params, b.params)
    assert repr(a.initial_record()) == repr(b.initial_record())


def test_noiseless_training_lowers_the_loss() -> None:
    config = from_dict({"nodes": {"count": 3}, "training": {"rounds": 25}})
    records = Trainer(build_scenario(config, 0), "fedavg").run(25)
    assert records[-1].train_loss < records[1].train_loss
    assert records[-1].test_accuracy > 0.8


def test_records_hold_per_node_metrics_and_the_qfi_rule_downweights_noisy_nodes() -> None:
    config = from_dict(SMALL)
    rec = Trainer(build_scenario(config, 0), "qfi").run(1)[-1]
    assert len(rec.node_qfi) == len(rec.node_weights) == len(rec.node_loss) == 4
    assert np.isclose(sum(rec.node_weights), 1.0)
    clean, noisy = rec.node_weights[:2], rec.node_weights[2:]
    assert min(clean) > max(noisy)
    assert min(rec.node_qfi[:2]) > max(rec.node_qfi[2:])
    assert rec.grad_variance > 0


def test_minibatches_are_drawn_per_round() -> None:
    config = from_dict({**SMALL, "training": {"rounds": 2, "batch_size": 5}})
    trainer = Trainer(build_scenario(config, 0), "fedavg")
    batches = [trainer._batch() for _ in range(2)]
    assert all(x.shape[0] == 5 for x, _ in batches[0])
    assert any(not np.array_equal(a[0], b[0]) for a, b in zip(*batches, strict=True))


def test_minibatch_rounds_weight_nodes_by_shard_size() -> None:
    config = from_dict(
        {
            "data": {"split": "dirichlet", "alpha": 0.3},
            "training": {"rounds": 1, "batch_size": 4},
        }
    )
    trainer = Trainer(build_scenario(config, 0), "fedavg")
    sizes = trainer.shard_sizes
    assert len(set(sizes.tolist())) > 1  # the split is uneven
    weights = np.array(trainer.step().node_weights)
    np.testing.assert_allclose(weights, sizes / sizes.sum())
