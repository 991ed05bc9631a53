"""Aggregation strategies: how the server combines the nodes' gradients.

A strategy maps one round's ``Delivery`` (what reached the aggregator: every
identity's update, claimed QFI scalar and shard size, and which messages arrived and
verified) to the aggregate update and the non-negative weights it gave each identity,
summing to one; for the mean rules the aggregate is ``ĝ = Σ_k w_k g_k``. It also
declares what its rounds need (:class:`Strategy`): QFIs, authentication, and the
schedulers of its Bell pairs. Strategies are registered by name (``STRATEGIES``).

* ``fedavg`` — sample-weighted mean, ``w_k ∝ n_k`` (McMahan et al., AISTATS 2017).
* ``qfi`` — QFI-weighted mean, ``w_k ∝ n_k · τ_k^γ`` with ``τ_k = tr(F̄_k)/P``, the mean
  eigenvalue of node k's shard-averaged QFI, and γ = ``power`` (default 1). It takes
  the claims at face value.
* ``ceas`` — only authenticated updates, QFI claims verified (clipped to the median of
  all claims), then the weighted coordinate-wise median (``qceas.consensus.ceas``).
* compositions (:class:`Composition`: key scheduler, authentication, weighting,
  aggregator): ``oblivious`` (the paper's baseline), the ablations ``ceas-no-qfi``,
  ``ceas-no-sched``, ``ceas-no-auth``, and ``robust-<aggregator>`` for the classic
  Byzantine-robust rules without authentication.

``fedavg`` and ``qfi`` receive updates unauthenticated and do not sanitise them, as the
entanglement-oblivious baselines do.

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

n_k is the node's shard size (``Delivery.sizes``, as claimed), also when a round
evaluates minibatches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from qceas.agreement.protocol import RULES
from qceas.consensus import AGGREGATORS
from qceas.consensus.ceas import CEASRule
from qceas.registry import Registry, UnknownOptionError
from qceas.training.transport import Delivery


class Strategy(Protocol):
    """Turns what reached the aggregator in one round into the aggregate update."""

    @property
    def needs_qfi(self) -> bool:
        """Whether the nodes must compute (and claim) their QFI."""
        ...

    @property
    def authenticates(self) -> bool:
        """Whether updates travel through the authenticated channel."""
        ...

    @property
    def scheduler(self) -> str | None:
        """The scheduler of its key network (``security.key_source: network``, when it
        authenticates); None: ``security.scheduler``."""
        ...

    @property
    def gate_scheduler(self) -> str | None:
        """The scheduler of its teleported gates' Bell pairs (model-level and hybrid
        partitions); None: ``partition.scheduler``."""
        ...

    def aggregate(self, delivery: Delivery) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The (P,) aggregate and the (M,) weights given to each identity."""
        ...


def _weighted_mean(
    delivery: Delivery, raw: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean of the arrived updates with weights ∝ raw; no sanitising (a NaN propagates)."""
    if not delivery.accepted.any():
        return np.full(delivery.updates.shape[1], np.nan), np.zeros(delivery.accepted.size)
    weights = np.where(delivery.accepted, raw, 0.0)
    if weights.sum() <= 0:
        weights = delivery.accepted.astype(float)
    weights = normalise(np.asarray(weights, dtype=float))
    rows = delivery.accepted
    return weights[rows] @ delivery.updates[rows], weights


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


@STRATEGIES.register("fedavg")
@dataclass(frozen=True)
class FedAvg:
    """Sample-weighted mean of node gradients."""

    needs_qfi: bool = False
    authenticates: bool = False
    scheduler: str | None = None
    gate_scheduler: str | None = None

    def aggregate(self, delivery: Delivery) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return _weighted_mean(delivery, delivery.sizes)


@STRATEGIES.register("qfi")
@dataclass(frozen=True)
class QFIWeighted:
    """Mean of node gradients weighted by shard size × (trace of the QFI)^power."""

    power: float = 1.0
    needs_qfi: bool = True
    authenticates: bool = False
    scheduler: str | None = None
    gate_scheduler: str | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.power) and self.power >= 0):
            raise ValueError(f"strategy qfi power = {self.power}: must be a finite number >= 0")

    def aggregate(self, delivery: Delivery) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        # Naive: the claims are taken at face value (what QFI inflation exploits).
        tau = np.clip(np.nan_to_num(delivery.claims, nan=0.0), 0.0, None)
        return _weighted_mean(delivery, delivery.sizes * tau**self.power)


@STRATEGIES.register("ceas")
@dataclass(frozen=True)
class CEASStrategy:
    """The CEAS rule: authenticated updates, verified QFI weights, a robust core.

    See ``qceas.consensus.ceas``; the inner aggregator is the weighted coordinate-wise
    median by default. Its keys come from ``security.scheduler``'s network; its gate
    pairs are always scheduled by CEAS.
    """

    inner: str = "median"
    spread: float = 0.0
    needs_qfi: bool = True
    authenticates: bool = True
    scheduler: str | None = None
    gate_scheduler: str | None = "ceas"

    def aggregate(self, delivery: Delivery) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        if not (delivery.accepted & np.all(np.isfinite(delivery.updates), axis=1)).any():
            # Nothing authenticated arrived (e.g. every key aborted): no update this round.
            return np.full(delivery.updates.shape[1], np.nan), np.zeros(delivery.accepted.size)
        rule = CEASRule(inner=self.inner, spread=self.spread)
        result = rule(
            delivery.updates,
            delivery.claims,
            sizes=delivery.sizes,
            authenticated=delivery.accepted,
        )
        return result.aggregate, result.weights


#: How the nodes agree on a leader's proposal where no aggregator is trusted
#: (``leader.mode`` other than ``none``; ``qceas.training.leadership``).
AGREEMENTS: tuple[str, ...] = ("trusted", "broadcast", "qdba")

#: How a composed strategy weights the updates it aggregates.
WEIGHTINGS: tuple[str, ...] = ("size", "qfi", "verified_qfi")


@dataclass(frozen=True)
class Composition:
    """A strategy composed of a key scheduler, authentication, a weighting and an
    aggregation rule (issue 5's named strategies and ablations, or a user's own).

    Attributes:
        scheduler: the scheduler that supplies this strategy's keys when
            ``security.key_source`` is ``network`` (None: ``security.scheduler``;
            irrelevant without authentication, which needs no keys), and its gate
            pairs in a model-level or hybrid partition (None: ``partition.scheduler``).
        authenticate: send updates through the Wegman–Carter channel (only nodes with
            key bits get through; Sybils never do) or unauthenticated.
        weighting: ``size`` (w ∝ n_k), ``qfi`` (w ∝ n_k·claimed τ_k, claims taken at
            face value) or ``verified_qfi`` (claims clipped by the CEAS rule).
        aggregator: a registered aggregator (``qceas.consensus.AGGREGATORS``), applied
            to the finite updates that arrived, with the weights; ``verified_qfi`` runs
            it as the CEAS rule's inner aggregator.
        params: options of the aggregator (e.g. ``f`` for krum).
        agreement: how nodes accept a leader's proposal when ``leader.mode`` is not
            ``none`` (:data:`AGREEMENTS`): ``trusted`` (each applies what it received),
            ``broadcast`` (Bracha's classical broadcast of its digest) or ``qdba``
            (quantum detectable Byzantine agreement on its digest). A registered
            strategy without the attribute is ``trusted``.
        rule: the QDBA decision rule (``paper`` or ``strict``) of this strategy;
            None: ``leader.rule``.
    """

    scheduler: str | None = None
    authenticate: bool = True
    weighting: str = "verified_qfi"
    aggregator: str = "median"
    params: tuple[tuple[str, Any], ...] = ()
    agreement: str = "trusted"
    rule: str | None = None

    def __post_init__(self) -> None:
        from qceas.scheduling import SCHEDULERS

        if self.scheduler is not None and self.scheduler not in SCHEDULERS:
            known = ", ".join(SCHEDULERS.names())
            raise ValueError(f"scheduler = {self.scheduler!r}: must be one of {known}")
        if not isinstance(self.authenticate, bool):
            raise ValueError(f"authenticate = {self.authenticate!r}: must be true or false")
        if self.weighting not in WEIGHTINGS:
            raise ValueError(
                f"weighting = {self.weighting!r}: must be one of {', '.join(WEIGHTINGS)}"
            )
        if self.agreement not in AGREEMENTS:
            raise ValueError(
                f"agreement = {self.agreement!r}: must be one of {', '.join(AGREEMENTS)}"
            )
        if self.rule is not None and self.rule not in RULES:
            raise ValueError(f"rule = {self.rule!r}: must be one of {', '.join(RULES)}")
        params = dict(self.params)
        object.__setattr__(self, "params", tuple(sorted(params.items())))
        if self.aggregator in AGGREGATORS:
            try:
                AGGREGATORS.check_options(self.aggregator, params)
            except UnknownOptionError as exc:
                raise UnknownOptionError(f"params.{exc}") from None
        AGGREGATORS.get(self.aggregator, **params)  # fail early: name and option values

    @property
    def needs_qfi(self) -> bool:
        return self.weighting != "size"

    @property
    def authenticates(self) -> bool:
        return self.authenticate

    @property
    def gate_scheduler(self) -> str | None:
        return self.scheduler

    def aggregate(self, delivery: Delivery) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        arrived = delivery.accepted & np.all(np.isfinite(delivery.updates), axis=1)
        weights = np.zeros(delivery.accepted.size)
        if not arrived.any():
            return np.full(delivery.updates.shape[1], np.nan), weights
        if self.weighting == "verified_qfi":
            rule = CEASRule(inner=self.aggregator, spread=0.0, inner_params=dict(self.params))
            result = rule(
                delivery.updates, delivery.claims, sizes=delivery.sizes, authenticated=arrived
            )
            return result.aggregate, result.weights
        raw = delivery.sizes.astype(float)
        if self.weighting == "qfi":
            raw = raw * np.clip(np.nan_to_num(delivery.claims, nan=0.0), 0.0, None)
        rows = np.flatnonzero(arrived)
        w = raw[rows]
        w = w / w.sum() if w.sum() > 0 else np.full(rows.size, 1.0 / rows.size)
        rule_fn = AGGREGATORS.get(self.aggregator, **dict(self.params))
        try:
            aggregate = rule_fn(delivery.updates[rows], weights=w)
        except ValueError:
            # Too few arrivals for the rule's Byzantine bound (e.g. krum's n > 2f + 2):
            # nothing can be applied this round.
            return np.full(delivery.updates.shape[1], np.nan), weights
        weights[rows] = w
        return np.asarray(aggregate, dtype=float), weights


def make_strategy(name: str, compositions: Mapping[str, Mapping[str, Any]]) -> Strategy:
    """The strategy ``name``: a composition defined in the config, or a registered one."""
    if name in compositions:
        spec = dict(compositions[name])
        spec["params"] = tuple(dict(spec.get("params", {})).items())
        return Composition(**spec)
    strategy = STRATEGIES.get(name)
    missing = [a for a in _PROTOCOL if not hasattr(strategy, a)]
    if missing:  # a plugin written to an older protocol: say what it lacks, once
        raise TypeError(
            f"strategy {name!r}: {type(strategy).__name__} lacks {', '.join(missing)} "
            f"(a Strategy has {', '.join(_PROTOCOL)}; scheduler and gate_scheduler may be None)"
        )
    return strategy


#: What every strategy has (the :class:`Strategy` protocol).
_PROTOCOL = ("needs_qfi", "authenticates", "scheduler", "gate_scheduler", "aggregate")


def composed(**fields: Any) -> Callable[[], Composition]:
    """A factory of the named composition (registries take factories)."""
    return lambda: Composition(**fields)


#: The paper's entanglement-oblivious baseline: oblivious scheduling, no
#: authentication, fidelity-blind sample-weighted mean.
STRATEGIES.register("oblivious")(
    composed(scheduler="oblivious", authenticate=False, weighting="size", aggregator="mean")
)
# CEAS ablations: one component off at a time.
STRATEGIES.register("ceas-no-qfi")(
    composed(scheduler="ceas", authenticate=True, weighting="size", aggregator="median")
)
STRATEGIES.register("ceas-no-sched")(
    composed(scheduler="oblivious", authenticate=True, weighting="verified_qfi")
)
STRATEGIES.register("ceas-no-auth")(
    composed(scheduler="ceas", authenticate=False, weighting="verified_qfi")
)
# Classic Byzantine-robust aggregators with entanglement-oblivious, unauthenticated
# transport (they need no keys, so the scheduler does not matter to them).
for _name in ("median", "trimmed_mean", "krum", "geometric_median", "centered_clipping"):
    STRATEGIES.register(f"robust-{_name}")(
        composed(scheduler="oblivious", authenticate=False, weighting="size", aggregator=_name)
    )
