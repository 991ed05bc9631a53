"""The synchronous round loop: one loop, phases as methods, callbacks to observe it.

One round t (``docs/architecture.md`` §1; its steps 1–2 are one phase here), one
method of :class:`Trainer` per phase:

0. **faults** (``_apply_faults``): this round's crashed, late and cut-off nodes
   (``qceas.training.faults``); a node without a link takes no key material, and an
   aggregator restart goes back to the aggregator's last checkpoint;
1–2. **plan + network** (``_plan``): with ``partition.qpus_per_replica`` > 1 a node is a
   *replica* whose circuit spans several QPUs (model-level or hybrid partition), and
   the Bell pairs of its teleported gates are drawn for the round
   (``qceas.partition.gate_pairs``, under the strategy's ``gate_scheduler``, else
   ``partition.scheduler``); its evaluation carries the resulting block error;
3. **compute** (``_compute``): every node k evaluates its loss, gradient g_k and (if
   needed) QFI F̄_k on its shard (or minibatch) at θ_t, on its own noisy QPU — one
   batched call for all nodes, on the trainer's engine (``qceas.engine``: in this
   process, or node batches on a Ray cluster). With finite shots every node samples
   from its own stream, drawn from (seed, strategy, round, node), and every engine
   evaluates the same fixed node batches, so the engine changes no number;
4. **secure** (``_secure``): the adversary forges its messages
   (``qceas.attacks.adversary``), the key supply hands every node this round's Bell
   pairs (``qceas.training.key_supply``: fixed, or a network simulation run alongside,
   one demand round per training round under the strategy's ``scheduler``, else
   ``security.scheduler``), and the transport distills the keys and carries the
   messages through the (authenticated) channel (``qceas.training.transport``);
5. **agree** (``_agree``): the strategy aggregates what arrived, ĝ with weights w_k;
   the optimizer steps θ_{t+1} from ĝ, and the key network learns the weights (the
   nodes that count most are served first next round). With ``leader.mode`` set
   (``_agree_led``, ``qceas.training.leadership``) no aggregator is trusted: the
   round's leader proposes, the nodes agree (trusted, Bracha's broadcast or QDBA)
   and each applies the proposal it decided or keeps its own model, at which step 3
   evaluates it next round;
6. **record** (``_record``): node-measured train loss, ideal test loss and accuracy
   of θ_{t+1} on the held-out split (with ``training.test_on_hardware``, also on every
   node's own noisy and teleported circuit), per-node QFI scalars and weights, the
   spread of honest node gradients around the aggregate, ``mean_k ‖g_k − ĝ‖²``, the
   gate pairs' mean fidelity and share of shot cycles served, and what the adversary
   achieved (weight given to its identities, rejected, refused and tampered messages,
   skipped rounds).

The trainer owns the loop (:meth:`Trainer.run`; ``docs/architecture.md`` §5.6); strategies only
aggregate, and callers observe the rounds through callbacks (:class:`Callback`): the
experiment runner's checkpoints (``qceas.training.checkpoint.CheckpointEvery``) and
progress bar are two of them.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError, is_integer
from qceas.attacks.adversary import Adversary
from qceas.engine import Engine
from qceas.engine.local import LocalEngine
from qceas.network import SimulationResult
from qceas.partition.gate_pairs import GatePairs, RoundGates
from qceas.qnn.model import NodeEvaluation
from qceas.qnn.partition import BlockError
from qceas.qnn.readout import class_probabilities, loss_and_cotangent
from qceas.reproducibility import deterministic
from qceas.streams import CONSENSUS, GATE_PAIRS, SHOTS, run_entropy, run_stream
from qceas.training.agreement_pairs import AgreementPairs, agreement_pairs_of
from qceas.training.faults import FaultPlan, RoundFaults
from qceas.training.key_supply import KeySupply, key_supply_of
from qceas.training.leadership import Leadership, ModelState, Outcome, poisoned
from qceas.training.optimizers import OPTIMIZERS, Optimizer
from qceas.training.scenario import Scenario
from qceas.training.strategies import Strategy, make_strategy, qfi_scalar
from qceas.training.transport import Delivery, Transport


@dataclass(frozen=True)
class RoundRecord:
    """Metrics of one round (round 0 is the initial model, before any update)."""

    round: int
    train_loss: float
    train_accuracy: float
    test_loss: float
    test_accuracy: float
    grad_variance: float
    grad_norm: float
    node_qfi: tuple[float, ...] = field(default=())
    node_weights: tuple[float, ...] = field(default=())
    node_loss: tuple[float, ...] = field(default=())
    byzantine_weight: float = 0.0
    rejected_updates: int = 0
    refused_no_key: int = 0
    tampered: int = 0
    aborted_keys: int = 0
    skipped: bool = False
    key_pairs: int = 0
    key_fidelity: float = float("nan")
    gate_fidelity: float = float("nan")
    gate_shots_met: float = float("nan")
    hardware_test_loss: float = float("nan")
    hardware_test_accuracy: float = float("nan")
    crashed: int = 0
    late: int = 0
    link_outage: int = 0
    restarted: bool = False
    rounds_lost: int = 0
    leader: int = -1
    leader_byzantine: bool = False
    consensus_abort: bool = False
    consensus_pairs: int = 0
    consensus_messages: int = 0
    consensus_fidelity: float = float("nan")
    rejected_proposals: int = 0
    stale_nodes: int = 0
    poisoned_nodes: int = 0
    forked: bool = False
    honest_models: int = 1


class Callback(Protocol):
    """Observes :meth:`Trainer.run`: the start of the loop, then every round."""

    def on_start(self, trainer: Trainer, records: list[RoundRecord]) -> None:
        """Before the first round the loop runs; ``records`` are the records so far
        (round 0 first), the list the loop appends every new record to."""
        ...

    def on_round(self, trainer: Trainer, record: RoundRecord) -> None:
        """After every round, once ``record`` is appended (``trainer.round`` is its
        round)."""
        ...


class Trainer:
    """Trains one strategy on one scenario (module docstring).

    Args:
        scenario: the built experiment (data, shards, noise, θ_0).
        strategy: a registered strategy name.
        engine: where the nodes' evaluations run (default: this process). It is not
            part of the trainer's saved state: a trainer loaded from a checkpoint
            runs locally until given one again.
    """

    @deterministic
    def __init__(self, scenario: Scenario, strategy: str, engine: Engine | None = None) -> None:
        self.scenario = scenario
        self.engine: Engine = engine if engine is not None else LocalEngine()
        self.strategy_name = strategy
        cfg = scenario.config
        self.strategy: Strategy = make_strategy(strategy, cfg.training.compositions)
        self.optimizer: Optimizer = OPTIMIZERS.get(
            cfg.optimizer.name, learning_rate=cfg.optimizer.learning_rate, **cfg.optimizer.params
        )
        self.rng = run_stream(scenario.seed, strategy)
        self.params = scenario.initial_params.copy()
        self.adversary = Adversary(cfg.adversary, scenario.n_nodes, scenario.seed, rng=self.rng)
        self.key_supply: KeySupply | None = key_supply_of(
            scenario, strategy, self.strategy, self.adversary
        )
        self.transport = Transport(
            scenario.n_nodes,
            self.adversary.n_identities,
            cfg.security,
            authenticate=self.strategy.authenticates,
            rng=self.rng,
        )
        self.gate_pairs: GatePairs | None = None
        if cfg.partition.qpus_per_replica > 1:
            scheduler = self.strategy.gate_scheduler or cfg.partition.scheduler
            rng = run_stream(scenario.seed, strategy, GATE_PAIRS)
            try:
                self.gate_pairs = GatePairs(
                    cfg.model,
                    cfg.partition,
                    cfg.training.rounds,
                    scenario.n_nodes,
                    scenario.seed,
                    scheduler,
                    rng,
                )
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        self.shard_sizes = np.array([y.shape[0] for _, y in scenario.shards], dtype=np.int64)
        self.opt_state = self.optimizer.init(self.params)
        self.round = 0
        self.faults = FaultPlan(cfg.faults, scenario.n_nodes, scenario.seed)
        # The aggregator's own checkpoint, which a restart fault goes back to.
        self._aggregator_saved = (0, self.params.copy(), copy.deepcopy(self.opt_state))
        # Rounds with no trusted aggregator (qceas.training.leadership): every node's
        # model state, as an id into `models`.
        self.leadership: Leadership | None = None
        self.agreement_pairs: AgreementPairs | None = None
        if cfg.leader.mode != "none":
            self.leadership = Leadership(
                cfg.leader,
                getattr(self.strategy, "agreement", "trusted"),
                self.adversary.byzantine[: scenario.n_nodes],
                run_stream(scenario.seed, strategy, CONSENSUS),
                rule=getattr(self.strategy, "rule", None),
            )
            if self.leadership.agreement == "qdba":
                self.agreement_pairs = agreement_pairs_of(
                    scenario, strategy, self.strategy, self.leadership
                )
            self.models: dict[int, ModelState] = {0: ModelState(self.params, self.opt_state)}
            # (n,) the model each player holds (the aggregator too, where it leads).
            self.holds = np.zeros(self.leadership.n_nodes, dtype=np.int64)
            self._next_model = 1

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["engine"] = None  # a cluster connection is not saved with the run
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        # Checkpoints written before led rounds existed have no leadership.
        state.setdefault("leadership", None)
        state.setdefault("agreement_pairs", None)
        self.__dict__.update(state)
        self.engine = LocalEngine()

    # ------------------------------------------------------------------ the loop
    def run(
        self,
        rounds: int,
        callbacks: Sequence[Callback] = (),
        *,
        records: list[RoundRecord] | None = None,
    ) -> list[RoundRecord]:
        """Run rounds until ``rounds`` are done; the records, round 0 first.

        Every caller runs its rounds here, the experiment runner included.

        Args:
            rounds: the round to stop after (a trainer already there runs none).
            callbacks: observers, called in this order at the start and after every
                round (:class:`Callback`).
            records: the records so far (a trainer resumed from a checkpoint), which
                the loop appends to; default: a fresh trainer's round-0 record.
        """
        if not is_integer(rounds) or rounds < 0:
            raise ValueError(
                f"rounds = {rounds!r}: must be an integer >= 0 (the round to stop after)"
            )
        if records is None:
            if self.round:
                raise ValueError(
                    f"trainer at round {self.round}: pass its records so far (records=...)"
                )
            records = [self.initial_record()]
        for callback in callbacks:
            callback.on_start(self, records)
        while self.round < rounds:
            record = self.step()
            records.append(record)
            for callback in callbacks:
                callback.on_round(self, record)
        return records

    @deterministic
    def initial_record(self) -> RoundRecord:
        test_loss, test_acc = self.test_metrics()
        nan = float("nan")
        return RoundRecord(0, nan, nan, test_loss, test_acc, nan, nan)

    @deterministic
    def step(self) -> RoundRecord:
        """Run one synchronous round (module docstring) and return its record."""
        faults = self.faults.round(self.round + 1) if self.faults.active else None
        rounds_lost = 0 if faults is None else self._apply_faults(faults)
        gates = self._plan()
        evaluation = self._compute(gates)
        delivery = self._secure(evaluation, faults)
        if self.leadership is None:
            aggregate, weights, skipped = self._agree(delivery)
            led = None
        else:
            aggregate, weights, skipped, led = self._agree_led(delivery)
        return self._record(
            evaluation, delivery, aggregate, weights, skipped, gates, faults, rounds_lost, led
        )

    # ------------------------------------------------------------------ phases
    def _apply_faults(self, faults: RoundFaults) -> int:
        """Cut the links of this round's dark nodes from the key supply and, on an
        aggregator restart, go back to the aggregator's last checkpoint; returns the
        rounds of progress lost."""
        if self.key_supply is not None:
            # A crashed node takes no key material either: its link end is dead too.
            self.key_supply.apply_faults(faults.outage | faults.crashed)
        if not faults.restart:
            return 0
        saved_round, params, opt_state = self._aggregator_saved
        self.params, self.opt_state = params.copy(), copy.deepcopy(opt_state)
        return self.round - saved_round

    def _plan(self) -> RoundGates | None:
        """The Bell pairs of this round's teleported gates (None: no partition)."""
        return None if self.gate_pairs is None else self.gate_pairs.next_round()

    def _compute(self, gates: RoundGates | None) -> NodeEvaluation:
        """Every node's loss, gradient and (if needed) QFI at θ_t, on the engine."""
        sc = self.scenario
        qfi = self.strategy.needs_qfi or sc.config.training.track_qfi
        batch, rngs = self._batch(), self._shot_streams()
        blocks = None if gates is None else gates.blocks
        if self.leadership is None:
            return self.engine.evaluate_nodes(
                sc.model,
                self.params,
                batch,
                sc.noises,
                qfi=qfi,
                node_rngs=rngs,
                data_sizes=self.shard_sizes,
                blocks=blocks,
            )
        # Every node at its own model: one call per model state held.
        parts = []
        qpus = self.holds[: sc.n_nodes]
        for model in np.unique(qpus):
            nodes = np.flatnonzero(qpus == model)
            part = self.engine.evaluate_nodes(
                sc.model,
                self.models[int(model)].params,
                [batch[k] for k in nodes],
                [sc.noises[k] for k in nodes],
                qfi=qfi,
                node_rngs=None if rngs is None else [rngs[k] for k in nodes],
                data_sizes=self.shard_sizes[nodes],
                blocks=None if blocks is None else [blocks[k] for k in nodes],
            )
            parts.append((nodes, part))
        return _merge(parts, sc.n_nodes)

    def _secure(self, evaluation: NodeEvaluation, faults: RoundFaults | None) -> Delivery:
        """The adversary's forgeries, this round's keys and the channel: what reaches
        the aggregator."""
        claims = (
            qfi_scalar(evaluation.qfi)
            if evaluation.qfi is not None
            else np.zeros(evaluation.gradient.shape[0])
        )
        outgoing = self.adversary.forge(
            evaluation.gradient,
            claims,
            self.shard_sizes,
            absent=None if faults is None else faults.missing,
        )
        keys = None if self.key_supply is None else self.key_supply.pairs()
        return self.transport.deliver(self.round, outgoing, keys, middle=self.adversary)

    def _agree(self, delivery: Delivery) -> tuple[NDArray[np.float64], NDArray[np.float64], bool]:
        """Aggregate, step θ and the optimizer, end the round; returns the aggregate,
        the weights and whether the round was skipped."""
        k = self.scenario.n_nodes
        aggregate, weights = self.strategy.aggregate(delivery)
        if self.key_supply is not None:
            # The aggregator's weights of this round rank the nodes for the next
            # round's entanglement.
            self.key_supply.observe(weights[:k])
        # A non-finite aggregate (a NaN or overflow let through by a rule that does not
        # sanitise, or no update accepted at all) cannot be applied: θ stays, and the
        # round is marked skipped.
        skipped = not bool(np.all(np.isfinite(aggregate)))
        if skipped:
            weights = np.zeros_like(weights)  # nothing was applied, nobody gained weight
        else:
            self.params, self.opt_state = self.optimizer.step(
                self.params, aggregate, self.opt_state
            )
        self.round += 1
        faults_spec = self.scenario.config.faults
        if (
            faults_spec.aggregator_restarts
            and self.round % faults_spec.aggregator_checkpoint_every == 0
        ):
            self._aggregator_saved = (self.round, self.params.copy(), copy.deepcopy(self.opt_state))
        return aggregate, weights, skipped

    def _agree_led(
        self, delivery: Delivery
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], bool, _Led]:
        """A round with no trusted aggregator (``qceas.training.leadership``): the
        leader aggregates and proposes, the nodes agree and apply or keep their state."""
        lead = self.leadership
        assert lead is not None
        k = self.scenario.n_nodes
        leader, byzantine = lead.leader, lead.leader_byzantine
        aggregate, weights = self.strategy.aggregate(delivery)
        if self.key_supply is not None:
            self.key_supply.observe(weights[:k])
        skipped = not bool(np.all(np.isfinite(aggregate)))
        # The round's pairs are generated (and spent) whether or not a proposal comes.
        links = None if self.agreement_pairs is None else self.agreement_pairs.errors(leader)
        if skipped:
            # No proposal: nothing to agree on, every node keeps its state; the pairs
            # generated for the round were still spent.
            weights = np.zeros_like(weights)
            outcome = Outcome(np.full(lead.n_nodes, -1, dtype=np.int64), False, 0, 0, 0)
        else:
            # A Byzantine leader starts from the honest majority's model (the coalition
            # knows every model; leadership module docstring).
            base = self._honest_majority() if byzantine else int(self.holds[leader])
            mine = self.models[base]
            params, opt_state = self.optimizer.step(mine.params, aggregate, mine.opt_state)
            honest = ModelState(params, opt_state)
            proposals = (honest, poisoned(mine, honest, self.scenario.config.leader.poison_scale))
            outcome = lead.agree(proposals, None if links is None else links.eps)
            ids = []
            for proposal in proposals:
                self.models[self._next_model] = proposal
                ids.append(self._next_model)
                self._next_model += 1
            applied = outcome.applied
            self.holds = np.where(applied >= 0, np.asarray(ids)[np.maximum(applied, 0)], self.holds)
        # The coalition holds the honest majority's model (leadership module docstring).
        majority_id = self._honest_majority()
        self.holds[lead.byzantine] = majority_id
        self.models = {m: self.models[m] for m in np.unique(self.holds).tolist()}
        lead.end_round(outcome.abort)
        self.round += 1
        honest_nodes = ~lead.byzantine[:k]
        models = np.unique(self.holds[:k][honest_nodes])
        # θ of the trainer (hardware metrics, checkpoints): the honest majority's model.
        majority = self.models[majority_id]
        self.params, self.opt_state = majority.params, majority.opt_state
        led = _Led(
            leader=leader,
            byzantine=byzantine,
            outcome=outcome,
            pairs=outcome.pairs if links is None else links.pairs,
            fidelity=float("nan") if links is None else links.fidelity,
            stale=int(np.sum(honest_nodes & (outcome.applied[:k] < 0))),
            poisoned=int(np.sum(honest_nodes & (outcome.applied[:k] == 1))),
            forked=bool({0, 1} <= set(outcome.applied[:k][honest_nodes].tolist())),
            models=int(models.size),
        )
        return aggregate, weights, skipped, led

    def _honest_majority(self) -> int:
        """The model id most honest QPUs hold (ties: the smaller id, the older)."""
        assert self.leadership is not None
        k = self.scenario.n_nodes
        honest = ~self.leadership.byzantine[:k]
        held = self.holds[:k][honest] if honest.any() else self.holds[:k]
        models, counts = np.unique(held, return_counts=True)
        return int(models[np.argmax(counts)])

    def _record(
        self,
        evaluation: NodeEvaluation,
        delivery: Delivery,
        aggregate: NDArray[np.float64],
        weights: NDArray[np.float64],
        skipped: bool,
        gates: RoundGates | None,
        faults: RoundFaults | None,
        rounds_lost: int,
        led: _Led | None = None,
    ) -> RoundRecord:
        """The record of the round just ended (θ is θ_{t+1}; with a leader, the test
        scores are the mean over honest nodes of their own models' scores)."""
        sc = self.scenario
        k = sc.n_nodes
        test_loss, test_acc = self.test_metrics() if led is None else self.honest_test_metrics()
        hw_loss, hw_acc = (
            self.hardware_test_metrics(None if gates is None else gates.blocks)
            if sc.config.training.test_on_hardware
            else (float("nan"), float("nan"))
        )
        # What the nodes that answered measured (crashed and late nodes sent nothing).
        present = np.ones(k, dtype=bool) if faults is None else ~faults.missing
        sizes = np.where(present, self.shard_sizes, 0)
        share = sizes / sizes.sum() if sizes.sum() else np.full(k, np.nan)
        honest = ~delivery.byzantine[:k] & present
        spread = np.sum((evaluation.gradient[honest] - aggregate) ** 2, axis=1)
        node_qfi = () if evaluation.qfi is None else tuple(qfi_scalar(evaluation.qfi).tolist())
        return RoundRecord(
            round=self.round,
            train_loss=float(share @ evaluation.loss),
            train_accuracy=float(share @ evaluation.accuracy),
            test_loss=test_loss,
            test_accuracy=test_acc,
            grad_variance=float(spread.mean()) if spread.size else float("nan"),
            grad_norm=float(np.linalg.norm(aggregate)),
            node_qfi=node_qfi,
            node_weights=tuple(weights[:k].tolist()),
            node_loss=tuple(evaluation.loss.tolist()),
            byzantine_weight=float(weights[delivery.byzantine].sum()),
            rejected_updates=delivery.rejected,
            refused_no_key=delivery.refused_no_key,
            tampered=delivery.tampered,
            aborted_keys=delivery.aborted_keys,
            skipped=skipped,
            key_pairs=delivery.key_pairs,
            key_fidelity=delivery.key_fidelity,
            gate_fidelity=float("nan") if gates is None else float(gates.fidelity.mean()),
            gate_shots_met=float("nan") if gates is None else float(gates.met.mean()),
            hardware_test_loss=hw_loss,
            hardware_test_accuracy=hw_acc,
            crashed=0 if faults is None else int(faults.crashed.sum()),
            late=0 if faults is None else int(faults.late.sum()),
            link_outage=0 if faults is None else int(faults.outage.sum()),
            restarted=False if faults is None else faults.restart,
            rounds_lost=rounds_lost,
            **({} if led is None else led.fields()),
        )

    # ------------------------------------------------------------------ helpers
    def _shot_streams(self) -> list[np.random.Generator] | None:
        """This round's random stream of every node, where any node samples shots:
        seeded by (seed, strategy, round, node) alone, so a node's shots depend on
        nothing else."""
        if all(noise.shots is None for noise in self.scenario.noises):
            return None
        entropy = [*run_entropy(self.scenario.seed, self.strategy_name), SHOTS, self.round]
        return [np.random.default_rng([*entropy, k]) for k in range(self.scenario.n_nodes)]

    def network_result(self) -> SimulationResult | None:
        """The key network's simulation so far (None without one)."""
        return None if self.key_supply is None else self.key_supply.result()

    def _batch(self) -> list[tuple[NDArray[np.float64], NDArray[np.int64]]]:
        size = self.scenario.config.training.batch_size
        if size is None:
            return list(self.scenario.shards)
        out = []
        for x, y in self.scenario.shards:
            if x.shape[0] <= size:
                out.append((x, y))
            else:
                pick = np.sort(self.rng.choice(x.shape[0], size=size, replace=False))
                out.append((x[pick], y[pick]))
        return out

    def test_metrics(self) -> tuple[float, float]:
        """Loss and accuracy of the current θ on the held-out split (ideal circuit)."""
        return self._test_scores(
            self.scenario.model.expectations(self.params, self.scenario.dataset.x_test)
        )

    def honest_test_metrics(self) -> tuple[float, float]:
        """Test loss and accuracy (ideal circuit) of every honest node's own model,
        averaged over the honest nodes (leader mode)."""
        assert self.leadership is not None
        k = self.scenario.n_nodes
        held = self.holds[:k][~self.leadership.byzantine[:k]]
        if held.size == 0:
            return self.test_metrics()
        models, counts = np.unique(held, return_counts=True)
        scores = np.array(
            [
                self._test_scores(
                    self.scenario.model.expectations(
                        self.models[int(m)].params, self.scenario.dataset.x_test
                    )
                )
                for m in models
            ]
        )
        mean = counts @ scores / counts.sum()
        return float(mean[0]), float(mean[1])

    def _test_scores(self, expect: NDArray[np.float64]) -> tuple[float, float]:
        """Mean loss and accuracy on the held-out split of measured expectations."""
        model, y = self.scenario.model, self.scenario.dataset.y_test
        loss, _ = loss_and_cotangent(expect, y, model.readout, model.output_scale)
        probs = class_probabilities(expect, model.readout, model.output_scale)
        return float(loss.mean()), float(np.mean(np.argmax(probs, axis=-1) == y))

    def hardware_test_metrics(self, blocks: Sequence[BlockError] | None) -> tuple[float, float]:
        """Test loss and accuracy of θ on every node's own noisy circuit (its noise and
        its teleported-gate error ``blocks[k]``), exact expectations, mean over nodes."""
        model, x = self.scenario.model, self.scenario.dataset.x_test
        scores = [
            self._test_scores(
                model.expectations(
                    self.params, x, noise=noise, block=None if blocks is None else blocks[k]
                )
            )
            for k, noise in enumerate(self.scenario.noises)
        ]
        losses, accs = zip(*scores, strict=True)
        return float(np.mean(losses)), float(np.mean(accs))


@dataclass(frozen=True)
class _Led:
    """What a led round adds to its record (``Trainer._agree_led``)."""

    leader: int
    byzantine: bool
    outcome: Outcome
    pairs: int
    fidelity: float
    stale: int
    poisoned: int
    forked: bool
    models: int

    def fields(self) -> dict[str, Any]:
        return {
            "leader": self.leader,
            "leader_byzantine": self.byzantine,
            "consensus_abort": self.outcome.abort,
            "consensus_pairs": self.pairs,
            "consensus_messages": self.outcome.messages,
            "consensus_fidelity": self.fidelity,
            "rejected_proposals": self.outcome.rejected,
            "stale_nodes": self.stale,
            "poisoned_nodes": self.poisoned,
            "forked": self.forked,
            "honest_models": self.models,
        }


def _merge(parts: list[tuple[NDArray[np.int64], NodeEvaluation]], n_nodes: int) -> NodeEvaluation:
    """One evaluation of all nodes from evaluations of disjoint node sets."""

    def gather(name: str) -> NDArray[Any] | None:
        first = getattr(parts[0][1], name)
        if first is None:
            return None
        out = np.zeros((n_nodes, *first.shape[1:]), dtype=first.dtype)
        for nodes, part in parts:
            out[nodes] = getattr(part, name)
        return out

    def need(name: str) -> NDArray[Any]:
        out = gather(name)
        if out is None:
            raise ValueError(f"evaluation without {name}")
        return out

    return NodeEvaluation(
        loss=need("loss"),
        gradient=need("gradient"),
        qfi=gather("qfi"),
        accuracy=need("accuracy"),
        samples=need("samples"),
        data_sizes=gather("data_sizes"),
        qfi_se=gather("qfi_se"),
    )
