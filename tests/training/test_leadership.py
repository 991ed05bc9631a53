"""Rounds with no trusted aggregator (qceas.training.leadership, agreement_pairs and the
trainer's led rounds): who applies what under each agreement and leader attack, the
accounting, the pair supply, reproducibility and the config's rules."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from qceas.config import ConfigError, from_dict
from qceas.network import Simulation
from qceas.network._uses import USES, AgreementUse
from qceas.network.context import make_context
from qceas.training.agreement_pairs import FixedAgreementPairs, NetworkAgreementPairs
from qceas.training.config import LeaderConfig
from qceas.training.leadership import Leadership, ModelState, digest, poisoned
from qceas.training.scenario import build_scenario
from qceas.training.trainer import Trainer

P = ModelState(np.array([1.0, 2.0]), {"m": np.zeros(2)})
Q = poisoned(ModelState(np.array([0.5, 1.5]), {"m": np.zeros(2)}), P, 1.0)


def lead(agreement: str, byzantine: list[int], n: int = 10, **spec: Any) -> Leadership:
    mask = np.zeros(n, dtype=bool)
    mask[byzantine] = True
    fields = {"mode": "rotate", "digest_bits": 8, "tuples": 60, **spec}
    return Leadership(LeaderConfig(**fields), agreement, mask, np.random.default_rng(0))


def test_poisoned_steps_back_and_digests_tell_models_apart() -> None:
    np.testing.assert_allclose(Q.params, [0.0, 1.0])  # 0.5 − (1.0 − 0.5)
    assert digest(P, 16).shape == (16,)
    assert not np.array_equal(digest(P, 64), digest(Q, 64))
    np.testing.assert_array_equal(digest(P, 300)[:256], digest(P, 256))
    same = ModelState(P.params.copy(), {"m": np.zeros(2)})
    np.testing.assert_array_equal(digest(P, 32), digest(same, 32))


def test_honest_leader_every_agreement_applies_its_proposal() -> None:
    eps = np.zeros(10)
    for agreement in ("trusted", "broadcast", "qdba"):
        out = lead(agreement, [3, 4]).agree((P, Q), eps)
        assert out.applied.tolist() == [0, 0, 0, -1, -1, 0, 0, 0, 0, 0], agreement
        assert (out.abort, out.rejected) == (False, 0)
    qdba = lead("qdba", [3, 4])
    assert qdba.agree((P, Q), eps).pairs == 8 * 60 * 9 == qdba.pairs_per_agreement


def test_equivocating_leader_forks_trusted_nodes_and_strict_qdba_aborts() -> None:
    byz = [0, 5]  # node 0 leads first
    honest = np.setdiff1d(np.arange(10), byz)
    trusted = lead("trusted", byz).agree((P, Q), None)
    b_group = honest[len(honest) // 2 :]
    assert set(trusted.applied[b_group].tolist()) == {1}
    assert set(trusted.applied[np.setdiff1d(honest, b_group)].tolist()) == {0}
    strict = lead("qdba", byz, rule="strict").agree((P, Q), np.zeros(10))
    applied = strict.applied[honest]
    assert strict.abort
    assert not {0, 1} <= set(applied.tolist())  # never both proposals among honest nodes
    genuine = lead("qdba", byz, commander_attack="equivocate").agree((P, Q), np.zeros(10))
    assert genuine.abort


def test_paper_rule_forks_under_the_crafted_equivocation() -> None:
    """The Proposition of qceas.agreement.attacks, seen from a training round."""
    out = lead("qdba", [0, 5]).agree((P, Q), np.zeros(10))
    honest = np.setdiff1d(np.arange(10), [0, 5])
    assert {0, 1} <= set(out.applied[honest].tolist())


def test_a_poisoned_proposal_sent_to_all_is_agreed_by_every_protocol() -> None:
    for agreement in ("trusted", "broadcast", "qdba"):
        out = lead(agreement, [0, 5], attack="poison").agree((P, Q), np.zeros(10))
        honest = np.setdiff1d(np.arange(10), [0, 5])
        assert set(out.applied[honest].tolist()) == {1}, agreement
        assert not out.abort


def test_broadcast_above_a_third_lets_the_coalition_split_an_honest_leader() -> None:
    out = lead("broadcast", list(range(1, 9)), n=20).agree((P, Q), None)  # 8 > f = 6
    honest = np.setdiff1d(np.arange(20), range(1, 9))
    assert {0, 1} <= set(out.applied[honest].tolist())
    assert out.rejected > 0
    assert out.messages > 0


def test_leadership_passes_on_abort_when_fixed_and_every_round_when_rotating() -> None:
    fixed, rotate = lead("qdba", [], mode="fixed"), lead("qdba", [], mode="rotate")
    fixed.end_round(False)
    rotate.end_round(False)
    assert (fixed.leader, rotate.leader) == (0, 1)
    fixed.end_round(True)
    assert (fixed.leader, fixed.passes) == (1, 1)
    agg = lead("qdba", [], mode="aggregator", byzantine_aggregator=True)
    assert (agg.n_nodes, agg.leader, agg.leader_byzantine) == (11, 10, True)
    agg.end_round(True)
    assert agg.leader == 10


def test_too_few_pairs_make_a_lieutenant_abort() -> None:
    eps = np.zeros(10)
    eps[[2, 7]] = 0.5  # lists uncorrelated with the leader's
    out = lead("qdba", []).agree((P, Q), eps)
    assert out.abort
    assert out.applied[2] == -1
    assert out.applied[7] == -1


def test_fixed_pairs_and_the_agreement_use() -> None:
    fixed = FixedAgreementPairs(0.94, 5, 100).errors(2)
    np.testing.assert_allclose(fixed.eps, [0.04, 0.04, 0.0, 0.04, 0.04])
    assert (fixed.pairs, fixed.short) == (100, 0)
    use = USES["agreement"]
    assert isinstance(use, AgreementUse)
    consume = np.array([[True, False]])
    got, arrive = use.admit(consume, np.array([True]), np.array([5]))
    np.testing.assert_array_equal(got, consume)
    assert arrive.all()
    bits, useful = use.worth(None, np.array([0.9, 0.25]))  # type: ignore[arg-type]
    np.testing.assert_array_equal(bits, [0.0, 0.0])
    np.testing.assert_array_equal(useful, [True, False])


def _network_pairs(aggregator_leads: bool, period: float) -> NetworkAgreementPairs:
    from qceas.network.demand import Demand
    from qceas.network.setup import network_of
    from qceas.scheduling import SCHEDULERS
    from qceas.training.config import RunConfig

    cfg = RunConfig()
    net = network_of(cfg.network, 4, 0)
    m = 4
    need = m if aggregator_leads else 3 * m
    demand = Demand(pairs=need, period_s=period, rounds=2, ready_s=np.zeros(4), window_s=period)
    ctx = make_context(net, demand, use="agreement")
    sim = Simulation(ctx, SCHEDULERS.get("ceas"), rng=np.random.default_rng(1))
    return NetworkAgreementPairs(sim, m, aggregator_leads)


def test_network_pairs_through_the_hub_multiply_werner_parameters() -> None:
    hub = _network_pairs(True, 0.05).errors(4)
    assert hub.eps.shape == (5,)
    assert hub.eps[4] == 0.0
    assert hub.short == 0
    assert 0.0 < hub.eps[:4].max() < 0.1
    assert 0.85 <= hub.fidelity <= 1.0
    swap = _network_pairs(False, 0.05).errors(1)
    assert swap.eps[1] == 0.0
    assert swap.short == 0
    # A swapped pair is worse than either of its halves: ε grows.
    assert swap.eps[[0, 2, 3]].min() > hub.eps[:4].min()
    starved = _network_pairs(True, 0.0002).errors(4)
    assert starved.short == 4
    assert np.all(starved.eps[:4] == 0.5)


def _config(agreement: str, **leader: Any) -> Any:
    return from_dict(
        {
            "nodes": {"count": 8},
            "training": {
                "rounds": 4,
                "strategies": ["x"],
                "compositions": {
                    "x": {
                        "weighting": "size",
                        "aggregator": "mean",
                        "authenticate": False,
                        "agreement": agreement,
                    }
                },
            },
            "adversary": {"fraction": 0.25, "attack": "none"},
            "leader": {"mode": "rotate", "digest_bits": 8, "tuples": 40, **leader},
        }
    )


def test_led_training_is_reproducible_and_accounts_for_every_round() -> None:
    cfg = _config("qdba", fidelity=0.95, tolerance=0.15)
    runs = []
    for _ in range(2):
        trainer = Trainer(build_scenario(cfg.run(), 0), "x")
        runs.append(trainer.run(4))
    assert repr(runs[0]) == repr(runs[1])  # NaN-aware equality
    records = runs[0][1:]
    assert [r.leader for r in records] == [0, 1, 2, 3]
    byz = Trainer(build_scenario(cfg.run(), 0), "x").adversary.byzantine[:8]
    assert [r.leader_byzantine for r in records] == byz[:4].tolist()
    assert all(r.consensus_pairs == 8 * 40 * 7 for r in records)
    assert all(r.consensus_fidelity == pytest.approx(0.95) for r in records)
    for r in records:
        assert r.forked == (r.leader_byzantine and r.poisoned_nodes > 0)


def test_trusted_led_rounds_evaluate_each_node_at_its_own_model() -> None:
    cfg = _config("trusted")
    trainer = Trainer(build_scenario(cfg.run(), 0), "x")
    byz = trainer.adversary.byzantine[:8]
    trainer.leadership.leader = int(np.flatnonzero(byz)[0])  # type: ignore[union-attr]
    record = trainer.step()
    assert record.leader_byzantine
    assert record.forked
    assert record.honest_models == 2
    held = trainer.holds[:8][~byz]
    assert len(set(held.tolist())) == 2
    # The next round's gradients are taken at two different models.
    evaluation = trainer._compute(None)
    a, b = (np.flatnonzero((trainer.holds[:8] == m) & ~byz)[0] for m in set(held.tolist()))
    assert not np.allclose(evaluation.gradient[a], evaluation.gradient[b])


def test_summary_reports_the_consensus_entry(tmp_path) -> None:
    from qceas.experiments.runner import run_experiment

    cfg = dataclasses.replace(_config("qdba", fidelity=0.95, tolerance=0.15), seeds=2)
    summary = run_experiment(cfg, tmp_path, progress=False, plot=False).summary
    entry = summary["strategies"]["x"]["consensus"]
    assert entry["pairs_per_round"]["mean"] == 8 * 40 * 7
    for name in ("abort_rate", "fork_rate", "diverged_rate", "byzantine_led"):
        assert 0.0 <= entry[name]["mean"] <= 1.0
    header = (tmp_path / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"consensus_abort", "forked", "rejected_proposals"} <= set(header)


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"leader": {"tolerance": 0.5}}, r"^leader\.tolerance = 0\.5: must be in \[0, 0\.5\)"),
        ({"leader": {"mode": "x"}}, r"^leader\.mode = 'x'"),
        ({"leader": {"commander_attack": "lie"}}, r"^leader\.commander_attack = 'lie'"),
        ({"leader": {"fidelity": 0.2}}, r"^leader\.fidelity = 0\.2: must be in \[0\.25, 1\]"),
        (
            {"leader": {"mode": "rotate"}, "nodes": {"count": 10},
             "adversary": {"fraction": 0.9, "attack": "none"}},
            r"^adversary\.fraction = 0\.9: makes 9 of nodes\.count = 10 Byzantine",
        ),
        (
            {"adversary": {"fraction": 0.6, "attack": "alie"}},
            r"^adversary\.fraction = 0\.6: must be < 0\.5 with an update attack",
        ),
        (
            {"leader": {"mode": "fixed"}, "faults": {"aggregator_restarts": [1]}},
            r"^faults\.aggregator_restarts = \[1\]: must be empty with leader\.mode = fixed",
        ),
        (
            {"training": {"strategies": ["y"], "compositions": {"y": {"agreement": "vote"}}}},
            r"agreement = 'vote': must be one of trusted, broadcast, qdba",
        ),
        (
            {"training": {"strategies": ["y"], "compositions": {"y": {"agreement": "qdba"}}}},
            r"^training\.compositions\.y\.agreement = 'qdba': needs a leader",
        ),
        (
            {"leader": {"mode": "rotate"}, "faults": {"crash_fraction": 0.2}},
            r"^faults: must be left at its defaults with leader\.mode = rotate",
        ),
        (
            {"leader": {"round_period_s": 0.01, "slot_s": 0.02}},
            r"^leader\.slot_s = 0\.02: must be <= leader\.round_period_s = 0\.01",
        ),
        (
            {"adversary": {"fraction": 0.6, "attack": "none", "sybils": 1}},
            r"^adversary\.fraction = 0\.6: must be < 0\.5 with an update attack, QFI",
        ),
    ],
)  # fmt: skip
def test_bad_leader_configs_name_the_field_and_rule(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        from_dict(raw)


def test_a_poison_sent_to_all_gives_every_agreement_the_same_trajectory() -> None:
    """Consistency is not validity: with perfect pairs and no liars, every agreement
    applies the same poisoned proposals, so the honest nodes' models, and their
    scores, are the same whatever the agreement (the coalition's own state does not
    depend on it)."""
    scores = {}
    for agreement in ("trusted", "broadcast", "qdba"):
        cfg = _config(
            agreement,
            mode="aggregator",
            byzantine_aggregator=True,
            attack="poison",
            lieutenant_attack="none",
        )
        cfg = dataclasses.replace(cfg, adversary=dataclasses.replace(cfg.adversary, fraction=0.0))
        records = Trainer(build_scenario(cfg.run(), 0), "x").run(4)
        assert all(r.poisoned_nodes == 8 and not r.consensus_abort for r in records[1:])
        scores[agreement] = [(r.test_loss, r.test_accuracy) for r in records]
    assert scores["trusted"] == scores["broadcast"] == scores["qdba"]
    # The poison compounds: every round steps the honest models uphill.
    losses = [loss for loss, _ in scores["trusted"]]
    assert losses[-1] > losses[0]


def test_validate_describes_the_leader_and_consensus_sections() -> None:
    from qceas.experiments.scenarios import load_scenario
    from qceas.experiments.validate import validate

    lines = validate(load_scenario("consensus-training"), "consensus-training")
    assert lines[-1].startswith("leader: rotate, 20 players, coalition of 4 (within the")
    assert "16 x 2128 = 34048 pairs per agreement" in lines[-1]
    lines = validate(load_scenario("consensus"), "consensus")
    assert lines[-1].startswith("consensus: 48 grid point(s) (0 left out), 200-12250 pairs")


@pytest.mark.parametrize("pairs", ["fixed", "network"])
def test_a_led_run_resumed_from_its_pickle_gives_the_same_records(pairs: str) -> None:
    """What a checkpoint saves (the trainer, pickled) carries every node's model, the
    leadership and the agreement network."""
    import pickle

    extra: dict[str, Any] = {"fidelity": 0.95, "tolerance": 0.15, "pairs": pairs}
    if pairs == "network":
        extra.update(digest_bits=2, tuples=10, round_period_s=0.02, mode="aggregator")
    cfg = _config("qdba", **extra)
    whole = Trainer(build_scenario(cfg.run(), 0), "x").run(4)
    first = Trainer(build_scenario(cfg.run(), 0), "x")
    records = first.run(2)
    resumed = pickle.loads(pickle.dumps(first)).run(4, records=records)
    assert repr(resumed) == repr(whole)
