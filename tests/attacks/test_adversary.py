"""The adversary of a run: its identities, forgeries, QFI claims, man in the middle and
eavesdropper, each checked against the code the transport ran inline before the
adversary was one object (the numbers of every run must not change)."""

from __future__ import annotations

import numpy as np
import pytest

from qceas.attacks import ATTACKS, intercept_resend_qber
from qceas.attacks.adversary import Adversary, byzantine_nodes
from qceas.config import AdversaryConfig
from qceas.physics import qber

K, P = 10, 4


def test_byzantine_nodes_are_a_fixed_share() -> None:
    mask = byzantine_nodes(20, 0.2, seed=0)
    assert mask.sum() == 4
    np.testing.assert_array_equal(mask, byzantine_nodes(20, 0.2, seed=0))
    assert byzantine_nodes(20, 0.0, seed=0).sum() == 0


def test_identities_are_the_byzantine_nodes_then_the_sybils() -> None:
    adv = Adversary(AdversaryConfig(fraction=0.2, sybils=3), K, 3, rng=np.random.default_rng(0))
    assert adv.n_identities == K + 3
    np.testing.assert_array_equal(adv.byzantine[:K], byzantine_nodes(K, 0.2, 3))
    assert adv.byzantine[K:].all()
    np.testing.assert_array_equal(adv.sybils.ids, [10, 11, 12])
    assert not adv.sybils.has_key.any()


def test_attack_and_inflation_replace_byzantine_messages() -> None:
    adv = Adversary(
        AdversaryConfig(fraction=0.2, attack="sign_flip", qfi_inflation=10.0),
        K,
        3,
        rng=np.random.default_rng(0),
    )
    rng = np.random.default_rng(1)
    grads, claims = rng.normal(size=(K, P)), rng.uniform(0.1, 1, K)
    out = adv.forge(grads, claims, np.full(K, 5))
    byz = out.byzantine
    np.testing.assert_array_equal(out.vectors[~byz], grads[~byz])
    np.testing.assert_allclose(out.vectors[byz], np.tile(-grads[~byz].mean(axis=0), (2, 1)))
    assert np.all(out.claims[byz] == pytest.approx(10 * claims[~byz].max()))
    np.testing.assert_array_equal(out.claims[~byz], claims[~byz])


def _inline_forge(
    spec: AdversaryConfig,
    byz: np.ndarray,
    gradients: np.ndarray,
    claims: np.ndarray,
    sizes: np.ndarray,
    absent: np.ndarray | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forging and claims of the transport's ``deliver`` before the adversary
    became one object, verbatim."""
    attack = None if spec.attack == "none" else ATTACKS.get(spec.attack, **dict(spec.params))
    m, k = byz.size, gradients.shape[0]
    gone = np.zeros(m, dtype=bool)
    if absent is not None:
        gone[:k] = absent
    vectors = np.concatenate([gradients, np.zeros((spec.sybils, gradients.shape[1]))])
    claimed = np.concatenate([claims, np.zeros(spec.sybils)])
    size = np.concatenate([sizes, np.full(spec.sybils, sizes.max())]).astype(float)
    honest_rows = gradients[~byz[:k] & ~gone[:k]]
    attackers = byz & ~gone
    honest_rows = honest_rows[np.all(np.isfinite(honest_rows), axis=1)]
    if attackers.any() and honest_rows.shape[0]:
        forged = None
        if attack is not None and honest_rows.shape[0] >= 2:
            try:
                forged = attack(honest_rows, f=int(attackers.sum()), rng=rng)
            except ValueError:
                forged = None
        if forged is not None:
            vectors[attackers] = forged
        else:
            vectors[k:] = honest_rows.mean(axis=0)
    honest_claims = claims[~byz[:k] & ~gone[:k]]
    top_claim = float(np.nanmax(honest_claims)) if np.isfinite(honest_claims).any() else 0.0
    if spec.qfi_inflation > 0 and byz.any():
        claimed[byz] = spec.qfi_inflation * top_claim
    elif byz.any():
        claimed[k:] = top_claim
    return vectors, claimed, size


@pytest.mark.parametrize("attack", ["none", "alie", "sign_flip", "ipm", "gaussian"])
@pytest.mark.parametrize("sybils", [0, 2])
@pytest.mark.parametrize("inflation", [0.0, 5.0])
def test_forging_is_bit_identical_to_the_inline_code(
    attack: str, sybils: int, inflation: float
) -> None:
    for seed in range(12):
        data = np.random.default_rng(seed)
        spec = AdversaryConfig(
            fraction=[0.0, 0.2, 0.3][seed % 3],
            attack=attack,
            sybils=sybils,
            qfi_inflation=inflation,
        )
        grads = data.normal(size=(K, P))
        claims = data.uniform(0.0, 2.0, K)
        sizes = data.integers(1, 30, K)
        if seed % 4 == 1:  # a broken honest node, and one without a QFI claim
            grads[data.integers(K), 0] = np.nan
            claims[data.integers(K)] = np.nan
        absent = None if seed % 2 else data.random(K) < 0.4
        if seed == 6:
            absent = np.ones(K, dtype=bool)  # nobody answers
        adv = Adversary(spec, K, seed, rng=np.random.default_rng([seed, 1]))
        out = adv.forge(grads, claims, sizes, absent=absent)
        reference_rng = np.random.default_rng([seed, 1])
        vectors, claimed, size = _inline_forge(
            spec, adv.byzantine, grads, claims, sizes, absent, reference_rng
        )
        np.testing.assert_array_equal(out.vectors, vectors)
        np.testing.assert_array_equal(out.claims, claimed)
        np.testing.assert_array_equal(out.sizes, size)
        assert adv.rng.random() == reference_rng.random()  # the same draws were taken
        silent = np.zeros(adv.n_identities, bool)
        if absent is not None:
            silent[:K] = absent
        np.testing.assert_array_equal(out.silent, silent)


@pytest.mark.parametrize("tamper", [0.0, 0.4, 1.0])
def test_the_man_in_the_middle_is_bit_identical_to_the_inline_code(tamper: float) -> None:
    spec = AdversaryConfig(fraction=0.2, sybils=2, tamper=tamper, tamper_scale=0.7)
    adv = Adversary(spec, K, 0, rng=np.random.default_rng(5))
    reference = np.random.default_rng(5)
    vectors = np.random.default_rng(6).normal(size=(adv.n_identities, P))
    for ident in range(adv.n_identities):
        altered = adv.in_transit(ident, vectors[ident])
        expected = None
        if not adv.byzantine[ident] and spec.tamper > 0 and reference.random() < spec.tamper:
            expected = vectors[ident] + reference.normal(0.0, spec.tamper_scale, P)
        if expected is None:
            assert altered is None
        else:
            assert altered is not None
            np.testing.assert_array_equal(altered, expected)
    assert adv.rng.random() == reference.random()


@pytest.mark.parametrize("fidelity", [0.25, 0.6, 0.8, 0.9, 0.95, 0.97, 0.999, 1.0])
@pytest.mark.parametrize("eavesdrop", [0.0, 0.1, 0.5, 1.0])
def test_interception_is_the_round_trip_through_the_raised_qber(
    fidelity: float, eavesdrop: float
) -> None:
    adv = Adversary(AdversaryConfig(eavesdrop=eavesdrop), K, 0, rng=np.random.default_rng(0))
    # The fixed supply's scalar path as it was written inline.
    e = float(qber(fidelity))
    scalar = min(1.0, max(0.25, 1.0 - 1.5 * float(intercept_resend_qber(e, eavesdrop))))
    assert float(adv.intercept(fidelity)) == scalar
    # The network supply's array path as it was written inline.
    pairs = np.random.default_rng(1).uniform(0.25, 1.0, 50)
    raised = intercept_resend_qber(np.asarray(qber(pairs)), eavesdrop)
    expected = np.clip(1.0 - 1.5 * np.asarray(raised, dtype=float), 0.25, 1.0)
    np.testing.assert_array_equal(adv.intercept(pairs), expected)
    if eavesdrop == 1.0:
        # Every pair intercepted: QBER >= 1/4, far above the BBM92 threshold.
        assert np.all(adv.intercept(pairs) <= 1.0 - 1.5 * 0.25 + 1e-12)
