"""The config sections of training (``nodes``, ``optimizer``, ``training``, ``faults``)
and :class:`RunConfig`, the composite of every section that changes a run's numbers.

Validation happens in three tiers: each field in its own section (built first, in
the package that consumes it); names in the section's own package registry; and the
rules that need two sections or two packages here, in ``RunConfig.__post_init__``
(policy names, the merged key schedule, per-qubit noise lists, the attack's
feasibility for the node count, the partition's fit to the model, restarts within the
run, a binary readout's two classes). The experiment around a run — its name, seeds,
sweep and engine, none of which changes a number — is
``qceas.experiments.config.ExperimentConfig``, a RunConfig with those fields added.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from qceas._rules import (
    MAX_COUNT,
    MAX_SAMPLES,
    MAX_SCALE,
    MAX_SEED,
    ConfigError,
    FrozenMapping,
    boolean,
    choice,
    fail,
    freeze_fields,
    integer,
    is_number,
    known,
    positive,
    text_hint,
    unit,
)
from qceas.agreement.attacks import ATTACKS
from qceas.agreement.broadcast import ATTACKS as BROADCAST_ATTACKS
from qceas.agreement.protocol import RULES
from qceas.attacks.config import AdversaryConfig, byzantine_count, check_feasible
from qceas.data.config import DataConfig
from qceas.network.config import CHAIN, NetworkConfig, ScheduleConfig, check_chain_schedule
from qceas.partition.config import PartitionConfig
from qceas.partition.gate_pairs import check_partition
from qceas.qnn.config import ComputeConfig, ModelConfig, NoiseConfig
from qceas.registry import UnknownOptionError
from qceas.scheduling.config import check_policies
from qceas.security.config import SecurityConfig
from qceas.training.optimizers import OPTIMIZERS
from qceas.training.strategies import STRATEGIES, Composition, make_strategy


@dataclass(frozen=True)
class NodesConfig:
    """The QPUs that train together."""

    count: int = 8

    def __post_init__(self) -> None:
        freeze_fields(self)
        integer("nodes.count", self.count, 1, MAX_COUNT)


@dataclass(frozen=True)
class OptimizerConfig:
    """The server's optimizer on the aggregated gradient (``qceas.training.optimizers``)."""

    name: str = "adam"
    learning_rate: float = 0.1
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)

    def __post_init__(self) -> None:
        freeze_fields(self)
        choice("optimizer.name", self.name, OPTIMIZERS.names())
        positive("optimizer.learning_rate", self.learning_rate, MAX_SCALE)
        if not isinstance(self.params, Mapping):
            raise fail("optimizer.params", self.params, "must be a mapping")
        if "learning_rate" in self.params:
            raise ConfigError("optimizer.params.learning_rate: set optimizer.learning_rate")
        factory = OPTIMIZERS.factory(self.name)
        known: list[str] = (
            [f.name for f in fields(factory)] if dataclasses.is_dataclass(factory) else []
        )
        for key, value in self.params.items():
            if key not in known:
                raise ConfigError(
                    f"optimizer.params.{key}: unknown parameter of {self.name} "
                    f"(known: {', '.join(k for k in known if k != 'learning_rate')})"
                )
            if not is_number(value):
                rule = "must be a number" + text_hint(value)
                raise fail(f"optimizer.params.{key}", value, rule)
        try:
            factory(learning_rate=self.learning_rate, **self.params)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class TrainingConfig:
    """The round loop and the strategies to compare.

    ``compositions`` defines strategies of one's own without code, by name:
    ``{my-rule: {scheduler: ceas, authenticate: true, weighting: verified_qfi,
    aggregator: krum, params: {f: 2}}}`` (fields of
    ``qceas.training.strategies.Composition``); ``strategies`` may then name them.
    ``checkpoint_every`` saves a run in progress every that many rounds (0: never;
    ``qceas.training.checkpoint``); it changes no number, so it is not part of the
    fingerprint. ``test_on_hardware`` also records, every round, the test accuracy and loss of θ
    on the nodes' own noisy circuits (their noise and, for split replicas, the
    teleported-gate error of the round; exact expectations), averaged over nodes.
    """

    rounds: int = 30
    strategies: tuple[str, ...] = ("fedavg", "qfi")
    batch_size: int | None = None
    track_qfi: bool = True
    compositions: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMapping)
    test_on_hardware: bool = False
    checkpoint_every: int = 5

    def __post_init__(self) -> None:
        freeze_fields(self)
        integer("training.rounds", self.rounds, 1, MAX_COUNT)
        if not isinstance(self.compositions, Mapping):
            raise fail("training.compositions", self.compositions, "must map names to fields")
        for name, spec in self.compositions.items():
            where = f"training.compositions.{name}"
            if name in STRATEGIES:
                raise ConfigError(f"{where}: the name is taken by a built-in strategy")
            if not isinstance(spec, Mapping):
                raise fail(where, spec, "must be a mapping of Composition fields")
            for key in spec:
                if key not in known(Composition):
                    fields_ = ", ".join(known(Composition))
                    raise ConfigError(f"{where}.{key}: unknown key (known: {fields_})")
            if not isinstance(spec.get("params", {}), Mapping):
                raise fail(f"{where}.params", spec["params"], "must be a mapping")
            try:
                Composition(**{**spec, "params": tuple(dict(spec.get("params", {})).items())})
            except UnknownOptionError as exc:
                raise ConfigError(f"{where}.{exc}") from None
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"{where}: {exc}") from None
        if isinstance(self.strategies, str) or not isinstance(self.strategies, list | tuple):
            raise fail("training.strategies", self.strategies, "must be a list of names")
        if not self.strategies:
            raise fail("training.strategies", self.strategies, "must name at least one")
        names = [*STRATEGIES.names(), *self.compositions]
        for k, name in enumerate(self.strategies):
            choice(f"training.strategies[{k}]", name, names)
        if len(set(self.strategies)) != len(self.strategies):
            raise fail("training.strategies", self.strategies, "must not repeat a name")
        if self.batch_size is not None:
            integer("training.batch_size", self.batch_size, 1, MAX_SAMPLES)
        if not isinstance(self.track_qfi, bool):
            raise fail("training.track_qfi", self.track_qfi, "must be true or false")
        integer("training.checkpoint_every", self.checkpoint_every, 0, MAX_COUNT)
        if not isinstance(self.test_on_hardware, bool):
            raise fail("training.test_on_hardware", self.test_on_hardware, "must be true or false")


@dataclass(frozen=True)
class FaultsConfig:
    """Faults injected into training (``qceas.training.faults``); none by default.

    * ``crash_fraction`` of the nodes stop answering from round ``crash_round`` on;
    * ``straggler_fraction`` of the nodes are stragglers: each round, with
      ``straggler_probability``, a straggler's update arrives after the round's deadline
      and is left out;
    * ``outage_fraction`` of the nodes lose their quantum link for ``outage_rounds``
      rounds from ``outage_start``: it makes no pairs (keys from the network: stored
      pairs are kept; a fixed key supply: no key material those rounds);
    * the aggregator restarts at each round of ``aggregator_restarts``, from its last
      checkpoint (it saves θ and the optimizer state every
      ``aggregator_checkpoint_every`` rounds, and at round 0): θ and the optimizer
      state go back there, and the rounds since are lost.

    Faulty nodes are drawn from the seed (the same for every strategy); each round
    proceeds with what arrived by its deadline, and the records count every fault.
    """

    crash_fraction: float = 0.0
    crash_round: int = 1
    straggler_fraction: float = 0.0
    straggler_probability: float = 0.5
    outage_fraction: float = 0.0
    outage_start: int = 1
    outage_rounds: int = 1
    aggregator_restarts: tuple[int, ...] = ()
    aggregator_checkpoint_every: int = 5

    def __post_init__(self) -> None:
        freeze_fields(self)
        integer(
            "faults.aggregator_checkpoint_every", self.aggregator_checkpoint_every, 1, MAX_COUNT
        )
        for name in ("crash_fraction", "straggler_fraction", "outage_fraction"):
            unit(f"faults.{name}", getattr(self, name))
        unit("faults.straggler_probability", self.straggler_probability)
        for name in ("crash_round", "outage_start", "outage_rounds"):
            integer(f"faults.{name}", getattr(self, name), 1, MAX_COUNT)
        if not isinstance(self.aggregator_restarts, list | tuple):
            raise fail(
                "faults.aggregator_restarts", self.aggregator_restarts, "must be a list of rounds"
            )
        for i, r in enumerate(self.aggregator_restarts):
            integer(f"faults.aggregator_restarts[{i}]", r, 1, MAX_COUNT)


#: How rounds are led (``LeaderConfig.mode``).
LEADER_MODES: tuple[str, ...] = ("none", "aggregator", "fixed", "rotate")
#: What a Byzantine leader does (``LeaderConfig.attack``).
LEADER_ATTACKS: tuple[str, ...] = ("equivocate", "poison")
#: Where the agreement's Bell pairs come from (``LeaderConfig.pairs``).
LEADER_PAIRS: tuple[str, ...] = ("fixed", "network")


@dataclass(frozen=True)
class LeaderConfig:
    """Rounds with no trusted aggregator (``qceas.training.leadership``).

    ``mode``: ``none`` (one aggregator every node trusts: the rounds as before),
    ``aggregator`` (the aggregator, the network's hub, leads every round and is
    Byzantine where ``byzantine_aggregator``), ``fixed`` (one QPU leads until an
    aborted round passes leadership on) or ``rotate`` (leadership passes every round).
    A Byzantine leader (the aggregator so marked, or a QPU of the adversary's) plays
    ``attack``: ``equivocate`` (its honest proposal to half of the honest nodes,
    a poisoned one to the rest) or ``poison`` (the poisoned one to all); the poisoned
    proposal steps back by ``poison_scale`` × the honest step. How the nodes agree
    is the strategy's (``Composition.agreement``: ``trusted``, ``broadcast`` or
    ``qdba``). QDBA agrees on a ``digest_bits``-bit digest with ``tuples`` (M) per
    instance, tolerance δ, decision ``rule``, its coalition's ``commander_attack``
    (a Byzantine leader's equivocation) and ``lieutenant_attack`` (traitors behind an
    honest leader), and the conjugate-basis test on ``source_test`` × M extra pairs;
    its pairs have ``fidelity`` (``pairs: fixed``) or come from a network simulation
    of the ``network`` section (``pairs: network``), ``round_period_s`` of generation
    per round in slots of ``slot_s`` (None: the longest attempt period). Bracha's
    broadcast plays ``broadcast_attack``.
    """

    mode: str = "none"
    byzantine_aggregator: bool = False
    attack: str = "equivocate"
    poison_scale: float = 1.0
    digest_bits: int = 16
    tuples: int = 112
    tolerance: float = 0.0
    rule: str = "paper"
    commander_attack: str = "equivocate_crafted"
    lieutenant_attack: str = "lie"
    source_test: float = 0.0
    pairs: str = "fixed"
    fidelity: float = 1.0
    round_period_s: float = 0.02
    slot_s: float | None = None
    broadcast_attack: str = "split"

    def __post_init__(self) -> None:
        freeze_fields(self)
        choice("leader.mode", self.mode, LEADER_MODES)
        boolean("leader.byzantine_aggregator", self.byzantine_aggregator)
        choice("leader.attack", self.attack, LEADER_ATTACKS)
        positive("leader.poison_scale", self.poison_scale, MAX_SCALE)
        integer("leader.digest_bits", self.digest_bits, 1, 256)
        integer("leader.tuples", self.tuples, 1, 100_000)
        if not is_number(self.tolerance) or not 0.0 <= self.tolerance < 0.5:
            raise fail(
                "leader.tolerance",
                self.tolerance,
                "must be in [0, 0.5) (at 1/2 a forger guessing every bit passes)",
            )
        choice("leader.rule", self.rule, RULES)
        commander = [n for n in ATTACKS.names() if ATTACKS.get(n).commander_side]
        choice("leader.commander_attack", self.commander_attack, commander)
        lieutenant = [n for n in ATTACKS.names() if not ATTACKS.get(n).commander_side]
        choice("leader.lieutenant_attack", self.lieutenant_attack, lieutenant)
        unit("leader.source_test", self.source_test)
        choice("leader.pairs", self.pairs, LEADER_PAIRS)
        if not is_number(self.fidelity) or not 0.25 <= self.fidelity <= 1.0:
            raise fail("leader.fidelity", self.fidelity, "must be in [0.25, 1] (a Werner pair)")
        positive("leader.round_period_s", self.round_period_s, 3600.0)
        if self.slot_s is not None:
            positive("leader.slot_s", self.slot_s, 3600.0)
            if self.slot_s > self.round_period_s:
                raise fail(
                    "leader.slot_s",
                    self.slot_s,
                    f"must be <= leader.round_period_s = {self.round_period_s:g}",
                )
        choice("leader.broadcast_attack", self.broadcast_attack, BROADCAST_ATTACKS)

    def players(self, qpus: int) -> int:
        """n, the agreement's players: the QPUs, and the aggregator where it leads."""
        return qpus + (self.mode == "aggregator")


@dataclass(frozen=True)
class RunConfig:
    """Everything that changes the numbers of one (strategy, seed) run: the base seed
    and the fourteen sections, with the rules that need several of them."""

    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    nodes: NodesConfig = field(default_factory=NodesConfig)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    adversary: AdversaryConfig = field(default_factory=AdversaryConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    compute: ComputeConfig = field(default_factory=ComputeConfig)
    partition: PartitionConfig = field(default_factory=PartitionConfig)
    faults: FaultsConfig = field(default_factory=FaultsConfig)
    leader: LeaderConfig = field(default_factory=LeaderConfig)

    def __post_init__(self) -> None:
        freeze_fields(self)
        self._check_plugins()
        self._check_fields()
        self._check_sections()

    def _check_chain_unused(self) -> None:
        """A repeater chain has no QPUs: no training pairs come from it."""
        if self.network.topology != CHAIN:
            return
        users = []
        if self.security.key_source == "network":
            users.append("security.key_source: network")
        if self.leader.mode != "none" and self.leader.pairs == "network":
            users.append("leader.pairs: network")
        if users:
            rule = (
                "the repeater chain runs only in `qceas network` and supplies no pairs to "
                f"training ({', '.join(users)}): pick a graph topology"
            )
            raise fail("network.topology", CHAIN, rule)

    def _check_fields(self) -> None:
        """The config's own top-level fields (the sections checked theirs)."""
        integer("seed", self.seed, 0, MAX_SEED)

    def _check_plugins(self) -> None:
        """The names a section holds of a registry above its own package (the policies
        of ``schedule``), checked first, as if the section had checked them itself."""
        check_policies(self.schedule, chain=self.network.topology == CHAIN)

    def _check_sections(self) -> None:
        """The rules that need more than one section (module docstring)."""
        check_chain_schedule(self.network, self.schedule)
        self._check_chain_unused()
        self.key_schedule()
        self.noise.node_models(self.nodes.count, self.model.n_qubits)
        check_feasible(self.adversary, self.nodes.count)
        self._check_partition()
        for i, r in enumerate(self.faults.aggregator_restarts):
            if r > self.training.rounds:
                raise fail(
                    f"faults.aggregator_restarts[{i}]",
                    r,
                    f"must be a round of the run (training.rounds = {self.training.rounds})",
                )
        if self.leader.mode != "none":
            players = self.leader.players(self.nodes.count)
            if players < 3:
                raise fail(
                    "nodes.count",
                    self.nodes.count,
                    f"leader.mode = {self.leader.mode} needs >= 3 players (the leader and 2)",
                )
            traitors = byzantine_count(self.adversary.fraction, self.nodes.count)
            if traitors > self.nodes.count - 2:
                raise fail(
                    "adversary.fraction",
                    self.adversary.fraction,
                    f"makes {traitors} of nodes.count = {self.nodes.count} Byzantine; "
                    "agreement needs at least 2 honest QPUs (a loyal lieutenant besides an "
                    "honest leader)",
                )
            if self.faults.aggregator_restarts:
                raise fail(
                    "faults.aggregator_restarts",
                    self.faults.aggregator_restarts,
                    f"must be empty with leader.mode = {self.leader.mode} (no aggregator)",
                )
            if self.faults != FaultsConfig():
                # A led round does not read crashes, stragglers or outages yet.
                raise ConfigError(
                    f"faults: must be left at its defaults with leader.mode = "
                    f"{self.leader.mode} (led rounds do not model faults)"
                )
        else:
            for name in self.training.strategies:
                strategy = make_strategy(name, self.training.compositions)
                agreement = getattr(strategy, "agreement", "trusted")
                rule = getattr(strategy, "rule", None)
                if agreement != "trusted" or rule is not None:
                    key, value = (
                        ("agreement", agreement) if agreement != "trusted" else ("rule", rule)
                    )
                    raise fail(
                        f"training.compositions.{name}.{key}",
                        value,
                        "needs a leader (leader.mode other than none); without one every "
                        "node trusts the aggregator",
                    )
        if (
            self.model.readout == "binary"
            and self.data.classes is not None
            and len(self.data.classes) != 2
        ):
            raise fail("data.classes", self.data.classes, "binary readout needs 2 classes")

    def key_schedule(self) -> ScheduleConfig:
        """The demand of the key-supply network: ``schedule`` with
        ``security.key_schedule`` applied (checked here)."""
        if not self.security.key_schedule:
            return self.schedule
        merged = dataclasses.asdict(self.schedule) | dict(self.security.key_schedule)
        try:
            schedule = ScheduleConfig(**merged)
        except ConfigError as exc:
            raise ConfigError(f"security.key_schedule: {exc}") from None
        # Policies and options the key schedule sets itself (the schedule's own are
        # checked already): named where the user wrote them.
        check_policies(schedule, "security.key_schedule")
        return schedule

    def _check_partition(self) -> None:
        """The partition must fit the model (and its links, where pairs are simulated)."""
        spec = self.partition
        if spec.qpus_per_replica == 1 and (spec.capacity, spec.qpu_of) == (None, None):
            return
        try:
            check_partition(self.model, spec, self.training.rounds, self.seed)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


#: The sections of a run, in the order of a config file (each field's default is its
#: section class).
RUN_SECTIONS: dict[str, type] = {
    f.name: f.default_factory  # type: ignore[misc]
    for f in fields(RunConfig)
    if f.name != "seed"
}

__all__ = [
    "RUN_SECTIONS",
    "FaultsConfig",
    "LeaderConfig",
    "NodesConfig",
    "OptimizerConfig",
    "RunConfig",
    "TrainingConfig",
]
