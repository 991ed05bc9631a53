"""The channel between the nodes and the aggregator: keys, MACs, and what the
adversary's forgeries and man in the middle achieve through it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from qceas.attacks.adversary import Adversary
from qceas.config import AdversaryConfig, SecurityConfig, from_dict
from qceas.training import Trainer, build_scenario
from qceas.training.key_supply import FixedKeySupply
from qceas.training.transport import Delivery, Transport

K, P = 10, 4


@dataclass
class _Link:
    """One run's adversary, key supply and transport, sharing one stream as a trainer's do."""

    adversary: Adversary
    supply: FixedKeySupply
    transport: Transport

    @property
    def byzantine(self) -> np.ndarray:
        return self.adversary.byzantine

    def deliver(self, grads: np.ndarray, claims: np.ndarray, sizes: np.ndarray) -> Delivery:
        outgoing = self.adversary.forge(grads, claims, sizes)
        keys = self.supply.pairs() if self.transport.authenticate else None
        return self.transport.deliver(0, outgoing, keys, middle=self.adversary)


def _transport(authenticate: bool, **adversary) -> _Link:
    rng = np.random.default_rng(0)
    adv = Adversary(AdversaryConfig(**adversary), K, 3, rng=rng)
    security = SecurityConfig(pairs_per_round=2000)
    return _Link(
        adv,
        FixedKeySupply(security, K, adv),
        Transport(K, adv.n_identities, security, authenticate=authenticate, rng=rng),
    )


def _round(t: _Link) -> Delivery:
    rng = np.random.default_rng(1)
    return t.deliver(rng.normal(size=(K, P)), rng.uniform(0.1, 1, K), np.full(K, 5))


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
    d = t.deliver(grads, claims, np.full(K, 5))
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


def test_an_authenticating_channel_needs_the_rounds_keys() -> None:
    t = _transport(True)
    outgoing = t.adversary.forge(np.zeros((K, P)), np.zeros(K), np.full(K, 5))
    with pytest.raises(ValueError, match="needs this round's keys"):
        t.transport.deliver(0, outgoing, None)
    with pytest.raises(ValueError, match="key supply: 3 nodes' pairs for 10 real nodes"):
        t.transport.deliver(0, outgoing, [np.ones(5)] * 3)
