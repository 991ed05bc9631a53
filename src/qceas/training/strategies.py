"""Aggregation strategies: how the server combines the nodes' gradients.

A strategy maps one round's ``NodeEvaluation`` (per-node gradients, shard sizes and,
when it asks for them, QFIs) to non-negative weights summing to one; the aggregate is
``ĝ = Σ_k w_k g_k``. Strategies are registered by name (``STRATEGIES``).

* ``fedavg`` — sample-weighted mean, ``w_k ∝ n_k`` (McMahan et al., AISTATS 2017).
* ``qfi`` — QFI-weighted mean, ``w_k ∝ n_k · τ_k^γ`` with ``τ_k = tr(F̄_k)/P``, the mean
  eigenvalue of node k's shard-averaged QFI, and γ = ``power`` (default 1).

Why the trace of the QFI. Noise contracts the state space: under global depolarizing
noise of strength p the whole QFI matrix is scaled by ``c(p) = (1-p)²/(1-p+2p/d)``
(ARCHITECTURE §4), and under local depolarizing or damping its eigenvalues shrink
likewise. The QFI bounds how much a parameter change can change *any* measurement
(quantum Cramér–Rao: Var(θ̂) ≥ 1/(N·F)), so τ_k measures how much information about θ a
node's circuit can carry per shot, whatever the observable. The trace is basis-free
(it does not depend on how parameters are labelled), needs no matrix inverse (the QFI
of an over-parametrised circuit is singular), is additive over parameters and costs
nothing once F̄_k is known. Multiplying by n_k keeps the rule close to ``fedavg`` in the
homogeneous case: when every node has the same noise and iid data, the τ_k differ only
through the inputs of each shard, and ``qfi`` weights approach ``fedavg``'s.

n_k is the node's shard size (``NodeEvaluation.sizes``), also when a round evaluates
minibatches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.model import NodeEvaluation
from qceas.registry import Registry


class Strategy(Protocol):
    """Turns one round's node evaluations into aggregation weights."""

    @property
    def needs_qfi(self) -> bool:
        """Whether ``weights`` reads ``evaluation.qfi``."""
        ...

    def weights(self, evaluation: NodeEvaluation) -> NDArray[np.float64]:
        """(K,) non-negative weights that sum to 1."""
        ...


STRATEGIES: Registry[Strategy] = Registry("strategy")


def qfi_scalar(qfi: NDArray[np.float64]) -> NDArray[np.float64]:
    """τ_k = tr(F̄_k)/P for a stack of QFI matrices (K, P, P) → (K,)."""
    return np.trace(qfi, axis1=-2, axis2=-1) / qfi.shape[-1]


def normalise(raw: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scale non-negative weights to sum to one (uniform if they are all zero)."""
    total = raw.sum()
    if total <= 0:
        return np.full(raw.shape, 1.0 / raw.size)
    return raw / total


@dataclass(frozen=True)
class FedAvg:
    """Sample-weighted mean of node gradients."""

    needs_qfi: bool = False

    def weights(self, evaluation: NodeEvaluation) -> NDArray[np.float64]:
        return normalise(evaluation.sizes.astype(float))


@dataclass(frozen=True)
class QFIWeighted:
    """Mean of node gradients weighted by shard size × (trace of the QFI)^power."""

    power: float = 1.0
    needs_qfi: bool = True

    def __post_init__(self) -> None:
        if not (np.isfinite(self.power) and self.power >= 0):
            raise ValueError(f"strategy qfi power = {self.power}: must be a finite number >= 0")

    def weights(self, evaluation: NodeEvaluation) -> NDArray[np.float64]:
        if evaluation.qfi is None:
            raise ValueError("strategy qfi: the round was evaluated without QFI")
        tau = np.clip(qfi_scalar(evaluation.qfi), 0.0, None)
        return normalise(evaluation.sizes * tau**self.power)


STRATEGIES.register("fedavg")(FedAvg)
STRATEGIES.register("qfi")(QFIWeighted)
