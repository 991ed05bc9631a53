"""Strategies: a contract over every registered strategy, and the QFI rule itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.qnn import NodeEvaluation
from qceas.training import STRATEGIES, qfi_scalar


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


@pytest.mark.parametrize("name", STRATEGIES.names())
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 12))
def test_contract_weights_are_a_distribution_and_equivariant(name: str, seed: int, k: int) -> None:
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
