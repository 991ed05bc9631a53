"""Server-side optimizers applied to the aggregated gradient.

Each optimizer is a small object with ``init(params) -> state`` and
``step(params, grad, state) -> (params, state)``: state is passed in and out (optax's
``GradientTransformation`` shape), so a trainer can checkpoint it as plain arrays.

* ``sgd``: θ ← θ − η·v, v ← μ·v + g (heavy-ball momentum μ, default 0).
* ``adam``: Kingma & Ba, ICLR 2015, Algorithm 1, with bias correction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from qceas.registry import Registry

State = dict[str, Any]


class Optimizer(Protocol):
    """One optimizer: pure update of parameters and state from a gradient."""

    def init(self, params: NDArray[np.float64]) -> State: ...

    def step(
        self, params: NDArray[np.float64], grad: NDArray[np.float64], state: State
    ) -> tuple[NDArray[np.float64], State]: ...


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")


def _check(name: str, value: float, low: float, high: float, *, closed_high: bool = False) -> None:
    ok = low <= value <= high if closed_high else low <= value < high
    if not ok:
        bracket = "]" if closed_high else ")"
        raise ValueError(f"optimizer.{name} = {value:g}: must be in [{low:g}, {high:g}{bracket}")


@OPTIMIZERS.register("sgd")
@dataclass(frozen=True)
class SGD:
    """Gradient descent with optional heavy-ball momentum."""

    learning_rate: float = 0.1
    momentum: float = 0.0

    def __post_init__(self) -> None:
        _check("momentum", self.momentum, 0.0, 1.0)

    def init(self, params: NDArray[np.float64]) -> State:
        return {"velocity": np.zeros_like(params)}

    def step(
        self, params: NDArray[np.float64], grad: NDArray[np.float64], state: State
    ) -> tuple[NDArray[np.float64], State]:
        velocity = self.momentum * state["velocity"] + grad
        return params - self.learning_rate * velocity, {"velocity": velocity}


@OPTIMIZERS.register("adam")
@dataclass(frozen=True)
class Adam:
    """Adam (Kingma & Ba 2015): m, v moment estimates with bias correction."""

    learning_rate: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        _check("beta1", self.beta1, 0.0, 1.0)
        _check("beta2", self.beta2, 0.0, 1.0)
        if not self.eps > 0:
            raise ValueError(f"optimizer.eps = {self.eps:g}: must be > 0")

    def init(self, params: NDArray[np.float64]) -> State:
        return {"m": np.zeros_like(params), "v": np.zeros_like(params), "t": 0}

    def step(
        self, params: NDArray[np.float64], grad: NDArray[np.float64], state: State
    ) -> tuple[NDArray[np.float64], State]:
        t = state["t"] + 1
        m = self.beta1 * state["m"] + (1 - self.beta1) * grad
        v = self.beta2 * state["v"] + (1 - self.beta2) * grad**2
        m_hat = m / (1 - self.beta1**t)
        v_hat = v / (1 - self.beta2**t)
        new = params - self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)
        return new, {"m": m, "v": v, "t": t}
