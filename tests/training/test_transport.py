"""Keys, attacks and the channel between the nodes and the aggregator."""

from __future__ import annotations

import numpy as np
import pytest

from qceas.config import AdversaryConfig, SecurityConfig, from_dict
from qceas.training import Trainer, build_scenario
from qceas.training.transport import Transport, byzantine_nodes

K, P = 10, 4


def _transport(authenticate: bool, **adversary) -> Transport:
    adv = AdversaryConfig(**adversary)
    return Transport(
        K,
        byzantine_nodes(K, adv.fraction, seed=3),
        adv,
        SecurityConfig(pairs_per_round=2000),
        authenticate=authenticate,
        rng=np.random.default_rng(0),
    )


def _round(t: Transport):
    rng = np.random.default_rng(1)
    return t.deliver(0, rng.normal(size=(K, P)), rng.uniform(0.1, 1, K), np.full(K, 5))


def test_byzantine_nodes_are_a_fixed_share() -> None:
    mask = byzantine_nodes(20, 0.2, seed=0)
    assert mask.sum() == 4
    np.testing.assert_array_equal(mask, byzantine_nodes(20, 0.2, seed=0))
    assert byzantine_nodes(20, 0.0, seed=0).sum() == 0


def test_authenticated_channel_refuses_sybils_and_rejects_tampering() -> None:
    t = _transport(True, fraction=0.2, attack="sign_flip", sybils=3, tamper=0.5)
    d = _round(t)
    assert d.refused_no_key == 3  # the Sybils hold no key
    assert d.rejected == d.tampered > 0  # every altered message fails its MAC
    assert not d.accepted[K:].any()
    assert d.accepted.sum() == K - d.tampered
    assert d.byzantine.sum() == 2 + 3


def test_unauthenticated_channel_lets_everything_through() -> None:
    t = _transport(False, fraction=0.2, attack="sign_flip", sybils=3, tamper=0.5)
    d = _round(t)
    assert d.accepted.all()
    assert d.refused_no_key == d.rejected == 0
    assert d.tampered > 0


def test_attack_and_inflation_replace_byzantine_messages() -> None:
    t = _transport(False, fraction=0.2, attack="sign_flip", qfi_inflation=10.0)
    rng = np.random.default_rng(1)
    grads, claims = rng.normal(size=(K, P)), rng.uniform(0.1, 1, K)
    d = t.deliver(0, grads, claims, np.full(K, 5))
    byz = d.byzantine
    np.testing.assert_allclose(d.updates[~byz], grads[~byz])
    np.testing.assert_allclose(d.updates[byz], np.tile(-grads[~byz].mean(axis=0), (2, 1)))
    assert np.all(d.claims[byz] == pytest.approx(10 * claims[~byz].max()))


def test_an_eavesdropper_above_threshold_leaves_no_accepted_update() -> None:
    # Intercept-resend on every pair: QBER ≈ 0.25 + ..., far above 0.11: every key aborts.
    t = _transport(True, eavesdrop=1.0)
    d = _round(t)
    assert d.aborted_keys == K
    assert not d.accepted.any()
    config = from_dict(
        {
            "model": {"n_qubits": 3, "layers": 1},
            "nodes": {"count": 3},
            "training": {"rounds": 2, "strategies": ["ceas"]},
            "adversary": {"eavesdrop": 1.0},
        }
    )
    trainer = Trainer(build_scenario(config, 0), "ceas")
    before = trainer.params.copy()
    records = trainer.run(2)
    assert all(r.skipped for r in records[1:])
    np.testing.assert_array_equal(trainer.params, before)


def test_ceas_rounds_count_what_the_adversary_tried() -> None:
    config = from_dict(
        {
            "model": {"n_qubits": 3, "layers": 1},
            "nodes": {"count": 10},
            "training": {"rounds": 2, "strategies": ["ceas", "fedavg"]},
            "adversary": {"fraction": 0.2, "attack": "alie", "sybils": 2, "tamper": 0.3},
        }
    )
    sc = build_scenario(config, 0)
    ceas = Trainer(sc, "ceas").run(2)[1:]
    assert all(r.refused_no_key == 2 for r in ceas)
    assert all(r.rejected_updates == r.tampered for r in ceas)
    plain = Trainer(sc, "fedavg").run(2)[1:]
    assert all(r.rejected_updates == 0 and r.refused_no_key == 0 for r in plain)


def test_a_broken_honest_update_does_not_stop_the_attack_or_the_round() -> None:
    t = _transport(True, fraction=0.2, attack="alie", qfi_inflation=5.0)
    rng = np.random.default_rng(2)
    grads, claims = rng.normal(size=(K, P)), rng.uniform(0.1, 1, K)
    honest_ids = np.flatnonzero(~t.byzantine[:K])
    grads[honest_ids[0], 1] = np.nan
    claims[honest_ids[1]] = np.nan
    d = t.deliver(0, grads, claims, np.full(K, 5))
    assert np.all(np.isfinite(d.updates[d.byzantine]))
    assert np.all(np.isfinite(d.claims[d.byzantine]))


def test_default_adversary_and_security_leave_the_fingerprint_unchanged() -> None:
    from qceas.experiments import load_scenario

    # The values of 0.1.0's quick scenario under the earlier evaluation versions (its
    # shot numbers changed when every node got its own stream, then every number when
    # the kernels got one BLAS thread): the later sections, at their defaults, add
    # nothing to the hash, and directories of those versions are recognised.
    quick = load_scenario("quick")
    assert quick.legacy_fingerprints()[2] == "c88720e42b74bdc3"
    exact = from_dict({"noise": {"shots": None}}, base=quick)
    assert exact.legacy_fingerprints()[2] == "ddba9465807efdb7"  # as before the key
    assert exact.legacy_fingerprints()[1] == "ddba9465807efdb7"
    assert quick.fingerprint() not in quick.legacy_fingerprints().values()


def test_infeasible_attacks_fail_at_config_time() -> None:
    from qceas.config import ConfigError

    with pytest.raises(ConfigError, match="leaves 1 honest node"):
        from_dict({"nodes": {"count": 2}, "adversary": {"fraction": 0.3}})
    with pytest.raises(ConfigError, match=r"adversary: alie"):
        from_dict({"nodes": {"count": 8}, "adversary": {"fraction": 0.2, "sybils": 5}})
    with pytest.raises(ConfigError, match=r"adversary.qfi_inflation = inf"):
        from_dict({"adversary": {"qfi_inflation": float("inf")}})
