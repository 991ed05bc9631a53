"""Strategies: a contract over every registered strategy, and the QFI rule itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.qnn import NodeEvaluation
from qceas.training import STRATEGIES, qfi_scalar
from qceas.training.transport import Delivery


def _evaluation(rng: np.random.Generator, k: int, p: int = 3) -> NodeEvaluation:
    a = rng.normal(size=(k, p, p))
    qfi = a @ np.swapaxes(a, 1, 2)  # PSD, like a QFI
    return NodeEvaluation(
        loss=rng.uniform(size=k),
        gradient=rng.normal(size=(k, p)),
        qfi=qfi,
        accuracy=rng.uniform(size=k),
        samples=rng.integers(1, 50, size=k),
    )


def _permute(ev: NodeEvaluation, order: np.ndarray) -> NodeEvaluation:
    assert ev.qfi is not None
    return NodeEvaluation(
        ev.loss[order], ev.gradient[order], ev.qfi[order], ev.accuracy[order], ev.samples[order]
    )


def _delivery(rng: np.random.Generator, k: int, p: int = 3) -> Delivery:
    return Delivery(
        updates=rng.normal(size=(k, p)),
        claims=rng.uniform(0.1, 1.0, size=k),
        sizes=rng.integers(1, 50, size=k).astype(float),
        accepted=np.ones(k, dtype=bool),
        byzantine=np.zeros(k, dtype=bool),
        refused_no_key=0,
        rejected=0,
        tampered=0,
        aborted_keys=0,
    )


def _permute_delivery(d: Delivery, order: np.ndarray) -> Delivery:
    return Delivery(
        d.updates[order],
        d.claims[order],
        d.sizes[order],
        d.accepted[order],
        d.byzantine[order],
        0,
        0,
        0,
        0,
    )


@pytest.mark.parametrize("name", STRATEGIES.names())
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12))
def test_contract_aggregate_is_weighted_and_equivariant(name: str, seed: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    strategy = STRATEGIES.get(name)
    d = _delivery(rng, k)
    before = d.updates.copy()
    aggregate, w = strategy.aggregate(d)
    np.testing.assert_array_equal(d.updates, before)  # inputs never modified
    assert aggregate.shape == (3,)
    assert w.shape == (k,)
    assert np.all(w >= 0)
    if not np.all(np.isfinite(aggregate)):
        # A rule with a minimum number of inputs (krum: n > 2f + 2) skips the round,
        # and then nobody gets weight.
        assert name == "robust-krum"
        assert k <= 3
        assert np.all(w == 0)
        return
    assert np.isclose(w.sum(), 1.0)
    # Inside the coordinate-wise box of the updates (every registered rule guarantees it).
    assert np.all(aggregate >= d.updates.min(axis=0) - 1e-12)
    assert np.all(aggregate <= d.updates.max(axis=0) + 1e-12)
    order = rng.permutation(k)
    agg2, w2 = strategy.aggregate(_permute_delivery(d, order))
    np.testing.assert_allclose(w2, w[order], atol=1e-12)
    np.testing.assert_allclose(agg2, aggregate, atol=1e-12)


def test_dropped_messages_get_no_weight() -> None:
    d = _delivery(np.random.default_rng(5), 4)
    gone = Delivery(
        np.where(np.array([[1], [0], [1], [1]]) == 1, d.updates, np.nan),
        d.claims,
        d.sizes,
        np.array([True, False, True, True]),
        d.byzantine,
        0,
        1,
        0,
        0,
    )
    for name in STRATEGIES.names():
        aggregate, w = STRATEGIES.get(name).aggregate(gone)
        assert w[1] == 0
        assert np.all(np.isfinite(aggregate))


@pytest.mark.parametrize("name", ["fedavg", "qfi"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12))
def test_mean_rules_weights_are_a_distribution_and_equivariant(
    name: str, seed: int, k: int
) -> None:
    rng = np.random.default_rng(seed)
    strategy = STRATEGIES.get(name)
    ev = _evaluation(rng, k)
    w = strategy.weights(ev)
    assert w.shape == (k,)
    assert np.all(w >= 0)
    assert np.isclose(w.sum(), 1.0)
    order = rng.permutation(k)
    np.testing.assert_allclose(strategy.weights(_permute(ev, order)), w[order], atol=1e-12)


def test_fedavg_weights_by_samples() -> None:
    ev = _evaluation(np.random.default_rng(0), 3)
    np.testing.assert_allclose(STRATEGIES.get("fedavg").weights(ev), ev.samples / ev.samples.sum())


def test_qfi_equals_fedavg_when_every_node_has_the_same_qfi() -> None:
    ev = _evaluation(np.random.default_rng(1), 5)
    assert ev.qfi is not None
    same = NodeEvaluation(
        ev.loss, ev.gradient, np.repeat(ev.qfi[:1], 5, axis=0), ev.accuracy, ev.samples
    )
    np.testing.assert_allclose(
        STRATEGIES.get("qfi").weights(same), STRATEGIES.get("fedavg").weights(same)
    )


def test_qfi_weights_are_proportional_to_samples_times_trace() -> None:
    ev = _evaluation(np.random.default_rng(2), 4)
    assert ev.qfi is not None
    raw = ev.samples * np.trace(ev.qfi, axis1=1, axis2=2)
    np.testing.assert_allclose(STRATEGIES.get("qfi").weights(ev), raw / raw.sum())
    np.testing.assert_allclose(qfi_scalar(ev.qfi), np.trace(ev.qfi, axis1=1, axis2=2) / 3)
    sharper = STRATEGIES.get("qfi", power=2.0).weights(ev)
    raw2 = ev.samples * (np.trace(ev.qfi, axis1=1, axis2=2) / 3) ** 2
    np.testing.assert_allclose(sharper, raw2 / raw2.sum())


def test_qfi_without_qfi_fails_clearly() -> None:
    ev = _evaluation(np.random.default_rng(3), 2)
    bare = NodeEvaluation(ev.loss, ev.gradient, None, ev.accuracy, ev.samples)
    with pytest.raises(ValueError, match="evaluated without QFI"):
        STRATEGIES.get("qfi").weights(bare)


def test_the_ceas_composition_equals_the_ceas_strategy() -> None:
    from qceas.training.strategies import CEASStrategy, Composition

    composed = Composition(scheduler="ceas", authenticate=True, weighting="verified_qfi")
    for seed in range(20):
        d = _delivery(np.random.default_rng(seed), 7)
        a1, w1 = composed.aggregate(d)
        a2, w2 = CEASStrategy().aggregate(d)
        np.testing.assert_allclose(a1, a2, atol=1e-12)
        np.testing.assert_allclose(w1, w2, atol=1e-12)


def test_named_compositions_switch_one_component_each() -> None:
    flags = {
        name: (
            getattr(STRATEGIES.get(name), "scheduler", None),
            STRATEGIES.get(name).authenticates,
            STRATEGIES.get(name).needs_qfi,
        )
        for name in ("oblivious", "ceas-no-qfi", "ceas-no-sched", "ceas-no-auth")
    }
    assert flags == {
        "oblivious": ("oblivious", False, False),
        "ceas-no-qfi": ("ceas", True, False),
        "ceas-no-sched": ("oblivious", True, True),
        "ceas-no-auth": ("ceas", False, True),
    }


def test_a_config_composes_its_own_strategy() -> None:
    from qceas.config import ConfigError, from_dict
    from qceas.training import build_scenario
    from qceas.training.trainer import Trainer

    raw = {
        "model": {"n_qubits": 3, "layers": 1},
        "nodes": {"count": 5},
        "training": {
            "rounds": 2,
            "strategies": ["mine"],
            "compositions": {
                "mine": {"authenticate": False, "weighting": "size", "aggregator": "trimmed_mean"}
            },
        },
    }
    config = from_dict(raw)
    records = Trainer(build_scenario(config, 0), "mine").run(2)
    assert all(np.isfinite(r.test_accuracy) for r in records)
    with pytest.raises(ConfigError, match=r"training\.compositions\.ceas: the name is taken"):
        from_dict({"training": {"compositions": {"ceas": {}}}})
    with pytest.raises(ConfigError, match=r"training\.compositions\.x: weighting = 'loud'"):
        from_dict({"training": {"compositions": {"x": {"weighting": "loud"}}}})
    with pytest.raises(ConfigError, match=r"training\.compositions\.x: unknown aggregator"):
        from_dict({"training": {"compositions": {"x": {"aggregator": "avg"}}}})
