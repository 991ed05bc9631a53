"""The synchronous data-parallel round loop.

One round t (ARCHITECTURE §1, data-level partition, no network yet):

1. every node k evaluates its loss, gradient g_k and (if needed) QFI F̄_k on its shard
   at θ_t, on its own noisy QPU — one batched call for all nodes;
2. the strategy turns the evaluations into weights w_k; ĝ = Σ_k w_k g_k;
3. the optimizer steps θ_{t+1} from ĝ;
4. the round is recorded: node-measured train loss, ideal test loss and accuracy of
   θ_{t+1} on the held-out split, per-node QFI scalars and weights, the spread of
   honest node gradients around the aggregate, ``mean_k ‖g_k − ĝ‖²``, and what the
   adversary achieved (weight given to its identities, rejected, refused and tampered
   messages, skipped rounds).

Between 1 and 2 the updates travel to the aggregator (``transport``): keys, attacks
and the authenticated channel. With ``security.key_source: network`` an authenticating
strategy's keys come from a network simulation (``qceas.network.Simulation``) run
alongside, one demand round per training round under ``security.scheduler``: each
node distills its key from the pairs it actually consumed that round.

The trainer owns the loop; strategies only supply weights, and callers observe rounds
through ``on_round`` (ARCHITECTURE §5.6). Step 1 runs on the trainer's engine
(``qceas.engine``: in this process, or node batches on a Ray cluster); with finite
shots every node samples from its own stream, drawn from (seed, strategy, round,
node), and every engine evaluates the same fixed node batches, so the engine changes no
number.

With ``partition.qpus_per_replica`` > 1 a node is a *replica* whose circuit spans
several QPUs (model-level or hybrid partition): before step 1 the Bell pairs of its
teleported gates are drawn for the round (``qceas.training.gate_pairs``, under the
strategy's scheduler: its composition's, CEAS for the CEAS rule, else
``partition.scheduler``), and its evaluation carries the resulting block error; the
round records the mean pair fidelity its gates used and the share of shot cycles that
got their pairs. With ``training.test_on_hardware`` it also records the test metrics
of θ on every node's own noisy (and teleported) circuit.
"""

from __future__ import annotations

import copy
import dataclasses
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError
from qceas.engine import Engine
from qceas.engine.local import LocalEngine
from qceas.network import Simulation, SimulationResult
from qceas.network.setup import context_of, demand_of, network_of
from qceas.partition.gate_pairs import GatePairs
from qceas.qnn.partition import BlockError
from qceas.qnn.readout import class_probabilities, loss_and_cotangent
from qceas.reproducibility import deterministic
from qceas.scheduling import SCHEDULERS
from qceas.training.faults import FaultPlan, RoundFaults
from qceas.training.optimizers import OPTIMIZERS, Optimizer
from qceas.training.scenario import Scenario, key_schedule_section, ready_times
from qceas.training.strategies import CEASStrategy, Strategy, make_strategy, qfi_scalar
from qceas.training.transport import Transport, byzantine_nodes


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


def strategy_seed(seed: int, strategy: str) -> list[int]:
    """Entropy for a run's own random streams (minibatches and attacks; with the round
    and node appended, each node's shots): stable across runs."""
    return [seed, zlib.crc32(strategy.encode())]


def network_simulation(scenario: Scenario, strategy: str, scheduler: str) -> Simulation:
    """The network that supplies a run's keys: the config's network and key demand
    (``RunConfig.key_schedule``; one demand round per training round) under
    ``scheduler`` (the strategy's own, else ``security.scheduler``), on a random stream
    of its own, so the training draws are those of a fixed-supply run."""
    cfg = scenario.config
    spec = cfg.key_schedule()
    ready = ready_times(scenario) if spec.ready == "compute" else None
    try:
        network = network_of(cfg.network, cfg.nodes.count, scenario.seed)
        demand = dataclasses.replace(
            demand_of(
                spec,
                cfg.nodes.count,
                scenario.seed,
                ready_s=ready,
                section=key_schedule_section(cfg),
            ),
            rounds=max(1, cfg.training.rounds),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    context = context_of(spec, network, demand)
    policy = SCHEDULERS.get(scheduler, **dict(spec.params.get(scheduler, {})))
    rng = np.random.default_rng([*strategy_seed(scenario.seed, strategy), 0x4E7])
    try:
        return Simulation(context, policy, rng=rng)
    except ValueError as exc:  # e.g. a CEAS class too large for ceas.max_states
        raise ConfigError(f"schedule.params.{scheduler}: {exc}") from None


class Trainer:
    """Trains one strategy on one scenario.

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
        self.rng = np.random.default_rng(strategy_seed(scenario.seed, strategy))
        self.params = scenario.initial_params.copy()
        self.network: Simulation | None = None
        if self.strategy.authenticates and cfg.security.key_source == "network":
            scheduler = getattr(self.strategy, "scheduler", None) or cfg.security.scheduler
            self.network = network_simulation(scenario, strategy, scheduler)
        self.transport = Transport(
            scenario.n_nodes,
            byzantine_nodes(scenario.n_nodes, cfg.adversary.fraction, scenario.seed),
            cfg.adversary,
            cfg.security,
            authenticate=self.strategy.authenticates,
            rng=self.rng,
            key_supply=None if self.network is None else self._network_keys,
        )
        self.gate_pairs: GatePairs | None = None
        if cfg.partition.qpus_per_replica > 1:
            scheduler = getattr(self.strategy, "scheduler", None)
            if scheduler is None:  # the CEAS rule schedules with CEAS; others name none
                ceas = isinstance(self.strategy, CEASStrategy)
                scheduler = "ceas" if ceas else cfg.partition.scheduler
            rng = np.random.default_rng([*strategy_seed(scenario.seed, strategy), 0x6A7E])
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

    def __getstate__(self) -> dict[str, object]:
        state = self.__dict__.copy()
        state["engine"] = None  # a cluster connection is not saved with the run
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.engine = LocalEngine()

    def _shot_streams(self) -> list[np.random.Generator] | None:
        """This round's random stream of every node, where any node samples shots:
        seeded by (seed, strategy, round, node) alone, so a node's shots depend on
        nothing else."""
        if all(noise.shots is None for noise in self.scenario.noises):
            return None
        entropy = [*strategy_seed(self.scenario.seed, self.strategy_name), 0x5407, self.round]
        return [np.random.default_rng([*entropy, k]) for k in range(self.scenario.n_nodes)]

    def _network_keys(self, round_index: int) -> tuple[NDArray[np.float64], ...]:
        assert self.network is not None
        return self.network.run_round().fidelities

    def network_result(self) -> SimulationResult | None:
        """The network simulation so far (None with a fixed key supply)."""
        return None if self.network is None else self.network.result()

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

    def _test_scores(self, expect: NDArray[np.float64]) -> tuple[float, float]:
        """Mean loss and accuracy on the held-out split of measured expectations."""
        model, y = self.scenario.model, self.scenario.dataset.y_test
        loss, _ = loss_and_cotangent(expect, y, model.readout, model.output_scale)
        probs = class_probabilities(expect, model.readout, model.output_scale)
        return float(loss.mean()), float(np.mean(np.argmax(probs, axis=-1) == y))

    def _apply_faults(self, faults: RoundFaults) -> int:
        """Set up this round's link outages and, on an aggregator restart, go back to
        the aggregator's last checkpoint; returns the rounds of progress lost."""
        # A crashed node takes no key material either: its link end is dead too.
        dark = faults.outage | faults.crashed
        self.transport.link_down = dark
        if self.network is not None:
            net = self.network.context.network
            down = np.zeros(net.n_links, dtype=bool)
            for k in np.flatnonzero(dark):
                down[net.routes[k][0]] = True  # the node's access link
            self.network.set_link_outage(down)
        if not faults.restart:
            return 0
        saved_round, params, opt_state = self._aggregator_saved
        self.params, self.opt_state = params.copy(), copy.deepcopy(opt_state)
        return self.round - saved_round

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

    @deterministic
    def initial_record(self) -> RoundRecord:
        test_loss, test_acc = self.test_metrics()
        nan = float("nan")
        return RoundRecord(0, nan, nan, test_loss, test_acc, nan, nan)

    @deterministic
    def step(self) -> RoundRecord:
        """Run one synchronous round and return its record."""
        sc = self.scenario
        want_qfi = self.strategy.needs_qfi or sc.config.training.track_qfi
        faults = self.faults.round(self.round + 1) if self.faults.active else None
        rounds_lost = self._apply_faults(faults) if faults is not None else 0
        gates = None if self.gate_pairs is None else self.gate_pairs.next_round()
        evaluation = self.engine.evaluate_nodes(
            sc.model,
            self.params,
            self._batch(),
            sc.noises,
            qfi=want_qfi,
            node_rngs=self._shot_streams(),
            data_sizes=self.shard_sizes,
            blocks=None if gates is None else gates.blocks,
        )
        claims = (
            qfi_scalar(evaluation.qfi)
            if evaluation.qfi is not None
            else np.zeros(evaluation.gradient.shape[0])
        )
        delivery = self.transport.deliver(
            self.round,
            evaluation.gradient,
            claims,
            self.shard_sizes,
            absent=None if faults is None else faults.missing,
        )
        aggregate, weights = self.strategy.aggregate(delivery)
        if self.network is not None and np.any(weights[: sc.n_nodes] > 0):
            # The aggregator's weights of this round rank the nodes for the next
            # round's entanglement: where pairs are short, the nodes that count most
            # (verified QFI × shard size under CEAS) are served first.
            self.network.set_importance(weights[: sc.n_nodes])
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
        faults_spec = sc.config.faults
        if (
            faults_spec.aggregator_restarts
            and self.round % faults_spec.aggregator_checkpoint_every == 0
        ):
            self._aggregator_saved = (self.round, self.params.copy(), copy.deepcopy(self.opt_state))
        test_loss, test_acc = self.test_metrics()
        hw_loss, hw_acc = (
            self.hardware_test_metrics(None if gates is None else gates.blocks)
            if sc.config.training.test_on_hardware
            else (float("nan"), float("nan"))
        )
        # What the nodes that answered measured (crashed and late nodes sent nothing).
        present = np.ones(sc.n_nodes, dtype=bool) if faults is None else ~faults.missing
        sizes = np.where(present, self.shard_sizes, 0)
        share = sizes / sizes.sum() if sizes.sum() else np.full(sc.n_nodes, np.nan)
        honest = ~delivery.byzantine[: self.scenario.n_nodes] & present
        spread = np.sum((evaluation.gradient[honest] - aggregate) ** 2, axis=1)
        node_qfi = () if evaluation.qfi is None else tuple(qfi_scalar(evaluation.qfi).tolist())
        k = self.scenario.n_nodes
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
        )

    def run(
        self, rounds: int, on_round: Callable[[RoundRecord], None] | None = None
    ) -> list[RoundRecord]:
        """Record round 0, then run ``rounds`` rounds; ``on_round`` sees every record."""
        records = [self.initial_record()]
        if on_round is not None:
            on_round(records[0])
        for _ in range(rounds):
            rec = self.step()
            records.append(rec)
            if on_round is not None:
                on_round(rec)
        return records
