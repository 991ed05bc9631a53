"""The round loop: reproducibility, learning, and the recorded metrics."""

from __future__ import annotations

import numpy as np
import pytest

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


class _Seen:
    """A callback that writes down what the loop showed it."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int]] = []
        self.records: list = []

    def on_start(self, trainer: Trainer, records: list) -> None:
        self.events.append(("start", trainer.round))
        self.records = records

    def on_round(self, trainer: Trainer, record) -> None:
        assert record.round == trainer.round
        assert self.records[-1] is record  # appended before the callbacks see it
        self.events.append(("round", record.round))


def test_a_callback_sees_the_start_and_every_round_in_order() -> None:
    config = from_dict(SMALL)
    first, second = _Seen(), _Seen()
    records = Trainer(build_scenario(config, 0), "qfi").run(4, [first, second])
    expected = [("start", 0)] + [("round", t) for t in range(1, 5)]
    assert first.events == second.events == expected
    assert first.records is records
    assert [r.round for r in records] == [0, 1, 2, 3, 4]
    plain = Trainer(build_scenario(config, 0), "qfi").run(4)
    assert repr(plain) == repr(records)  # observing changes no number


def test_the_loop_continues_a_run_from_its_records() -> None:
    config = from_dict(SMALL)
    whole = Trainer(build_scenario(config, 0), "fedavg").run(4)
    trainer = Trainer(build_scenario(config, 0), "fedavg")
    part = trainer.run(2)
    seen = _Seen()
    rest = trainer.run(4, [seen], records=part)
    assert rest is part
    assert seen.events == [("start", 2), ("round", 3), ("round", 4)]
    assert repr(rest) == repr(whole)
    assert trainer.run(4, records=rest) == rest  # already there: no round runs
    with pytest.raises(ValueError, match="trainer at round 4: pass its records so far"):
        trainer.run(6)


def test_a_step_runs_the_phases_in_the_order_of_the_round(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = from_dict({**SMALL, "faults": {"straggler_fraction": 0.5}})
    trainer = Trainer(build_scenario(config, 0), "fedavg")
    order: list[str] = []
    for phase in ("_apply_faults", "_plan", "_compute", "_secure", "_agree", "_record"):
        method = getattr(trainer, phase)

        def spy(*args, _name=phase, _method=method, **kwargs):
            order.append(_name)
            return _method(*args, **kwargs)

        monkeypatch.setattr(trainer, phase, spy)
    trainer.step()
    assert order == ["_apply_faults", "_plan", "_compute", "_secure", "_agree", "_record"]


@pytest.mark.parametrize("rounds", [1.5, "5", -1, True])
def test_run_names_a_bad_round_count(rounds: object) -> None:
    trainer = Trainer(build_scenario(from_dict({"training": {"rounds": 2}}), 0), "fedavg")
    with pytest.raises(ValueError, match=r"^rounds = .*: must be an integer >= 0"):
        trainer.run(rounds)  # type: ignore[arg-type]
