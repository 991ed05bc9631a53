"""Optimizers: closed-form steps and convergence on a quadratic."""

from __future__ import annotations

import numpy as np
import pytest

from qceas.training import OPTIMIZERS


def test_sgd_with_momentum_matches_closed_form() -> None:
    opt = OPTIMIZERS.get("sgd", learning_rate=0.1, momentum=0.5)
    params = np.array([1.0, -2.0])
    state = opt.init(params)
    g = np.array([0.4, 0.2])
    p1, state = opt.step(params, g, state)
    np.testing.assert_allclose(p1, params - 0.1 * g)
    p2, _ = opt.step(p1, g, state)
    np.testing.assert_allclose(p2, p1 - 0.1 * (0.5 * g + g))


def test_adam_first_step_is_learning_rate_times_sign() -> None:
    # With bias correction, m̂ = g and v̂ = g², so the first step is -lr·g/(|g| + eps).
    opt = OPTIMIZERS.get("adam", learning_rate=0.05)
    params = np.zeros(3)
    new, state = opt.step(params, np.array([2.0, -0.5, 1e-3]), opt.init(params))
    np.testing.assert_allclose(new, -0.05 * np.array([1.0, -1.0, 1.0]), rtol=1e-4)
    assert state["t"] == 1


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_minimises_a_quadratic(name: str) -> None:
    opt = OPTIMIZERS.get(name, learning_rate=0.05)
    target = np.array([0.3, -1.2, 2.0])
    params = np.zeros(3)
    state = opt.init(params)
    for _ in range(2000):
        params, state = opt.step(params, 2 * (params - target), state)
    np.testing.assert_allclose(params, target, atol=1e-3)


@pytest.mark.parametrize("name", OPTIMIZERS.names())
def test_every_optimizer_leaves_its_inputs_alone(name: str) -> None:
    opt = OPTIMIZERS.get(name, learning_rate=0.1)
    params, grad = np.ones(4), np.full(4, 0.5)
    state = opt.init(params)
    before = (params.copy(), grad.copy(), {k: np.copy(v) for k, v in state.items()})
    opt.step(params, grad, state)
    np.testing.assert_array_equal(params, before[0])
    np.testing.assert_array_equal(grad, before[1])
    for key, value in before[2].items():
        np.testing.assert_array_equal(state[key], value)


def test_bad_hyperparameters_are_named() -> None:
    with pytest.raises(ValueError, match=r"optimizer.beta1 = 1: must be in \[0, 1\)"):
        OPTIMIZERS.get("adam", beta1=1.0)
    with pytest.raises(ValueError, match=r"optimizer.momentum = -0.1: must be in \[0, 1\)"):
        OPTIMIZERS.get("sgd", momentum=-0.1)
