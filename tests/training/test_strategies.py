"""Strategies: a contract over every registered strategy, and the QFI rule itself."""

from __future__ import annotations

from typing import Any

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
    return Delivery.unattacked(
        rng.normal(size=(k, p)),
        rng.uniform(0.1, 1.0, size=k),
        rng.integers(1, 50, size=k).astype(float),
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


def _arrived(ev: NodeEvaluation) -> Delivery:
    """Every node's evaluation, arrived as it was computed (no adversary, no loss)."""
    assert ev.qfi is not None
    return Delivery.unattacked(ev.gradient, qfi_scalar(ev.qfi), ev.sizes)


@pytest.mark.parametrize("name", ["fedavg", "qfi"])
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12))
def test_mean_rules_weights_are_a_distribution_and_equivariant(
    name: str, seed: int, k: int
) -> None:
    rng = np.random.default_rng(seed)
    strategy = STRATEGIES.get(name)
    ev = _evaluation(rng, k)
    aggregate, w = strategy.aggregate(_arrived(ev))
    assert w.shape == (k,)
    assert np.all(w >= 0)
    assert np.isclose(w.sum(), 1.0)
    np.testing.assert_allclose(aggregate, w @ ev.gradient, atol=1e-12)  # ĝ = Σ_k w_k g_k
    order = rng.permutation(k)
    _, permuted = strategy.aggregate(_arrived(_permute(ev, order)))
    np.testing.assert_allclose(permuted, w[order], atol=1e-12)


def test_fedavg_weights_by_samples() -> None:
    ev = _evaluation(np.random.default_rng(0), 3)
    _, w = STRATEGIES.get("fedavg").aggregate(_arrived(ev))
    np.testing.assert_allclose(w, ev.samples / ev.samples.sum())


def test_qfi_equals_fedavg_when_every_node_has_the_same_qfi() -> None:
    ev = _evaluation(np.random.default_rng(1), 5)
    assert ev.qfi is not None
    same = NodeEvaluation(
        ev.loss, ev.gradient, np.repeat(ev.qfi[:1], 5, axis=0), ev.accuracy, ev.samples
    )
    qfi, fedavg = STRATEGIES.get("qfi"), STRATEGIES.get("fedavg")
    np.testing.assert_allclose(
        qfi.aggregate(_arrived(same))[1], fedavg.aggregate(_arrived(same))[1]
    )


def test_qfi_weights_are_proportional_to_samples_times_trace() -> None:
    ev = _evaluation(np.random.default_rng(2), 4)
    assert ev.qfi is not None
    raw = ev.samples * np.trace(ev.qfi, axis1=1, axis2=2)
    np.testing.assert_allclose(STRATEGIES.get("qfi").aggregate(_arrived(ev))[1], raw / raw.sum())
    np.testing.assert_allclose(qfi_scalar(ev.qfi), np.trace(ev.qfi, axis1=1, axis2=2) / 3)
    _, sharper = STRATEGIES.get("qfi", power=2.0).aggregate(_arrived(ev))
    raw2 = ev.samples * (np.trace(ev.qfi, axis1=1, axis2=2) / 3) ** 2
    np.testing.assert_allclose(sharper, raw2 / raw2.sum())


def test_qfi_without_claims_falls_back_to_the_arrived_mean() -> None:
    """A round evaluated without QFI claims nothing (zeros): no node earns weight by
    its claim, and the arrived updates are averaged uniformly."""
    ev = _evaluation(np.random.default_rng(3), 3)
    arrived = _arrived(ev)
    bare = Delivery(
        arrived.updates, np.zeros(3), arrived.sizes, arrived.accepted, arrived.byzantine, 0, 0, 0, 0
    )
    aggregate, w = STRATEGIES.get("qfi").aggregate(bare)
    np.testing.assert_allclose(w, np.full(3, 1 / 3))
    np.testing.assert_allclose(aggregate, ev.gradient.mean(axis=0))


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
            STRATEGIES.get(name).scheduler,
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


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_contract_every_strategy_declares_its_schedulers(name: str) -> None:
    from qceas.scheduling import SCHEDULERS

    strategy = STRATEGIES.get(name)
    for scheduler in (strategy.scheduler, strategy.gate_scheduler):
        assert scheduler is None or scheduler in SCHEDULERS
    assert isinstance(strategy.needs_qfi, bool)
    assert isinstance(strategy.authenticates, bool)


def test_the_ceas_rule_takes_its_keys_from_the_config_and_schedules_its_gates_with_ceas() -> None:
    ceas = STRATEGIES.get("ceas")
    assert (ceas.scheduler, ceas.gate_scheduler) == (None, "ceas")
    for name in ("fedavg", "qfi"):
        assert (STRATEGIES.get(name).scheduler, STRATEGIES.get(name).gate_scheduler) == (None, None)
    composed = STRATEGIES.get("ceas-no-sched")
    assert composed.gate_scheduler == composed.scheduler == "oblivious"


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


def test_a_plugin_strategy_missing_part_of_the_protocol_is_named() -> None:
    from qceas.training.strategies import STRATEGIES, make_strategy

    class Old:
        needs_qfi = False
        authenticates = False

        def aggregate(self, delivery: Delivery) -> Any:
            raise NotImplementedError

    STRATEGIES.register("old-protocol-plugin")(Old)
    try:
        with pytest.raises(
            TypeError,
            match=r"^strategy 'old-protocol-plugin': Old lacks "
            r"scheduler, gate_scheduler \(a Strategy has",
        ):
            make_strategy("old-protocol-plugin", {})
    finally:
        STRATEGIES._entries.pop("old-protocol-plugin")
