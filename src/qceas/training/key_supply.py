"""Where a run's authentication keys come from: the Bell pairs each node measures.

A strategy that authenticates (``Strategy.authenticates``) needs key bits every round;
every real node distills them (``qceas.security.keys.distill``, in the transport) from
the Bell pairs it measured that round, each at its Werner fidelity F then. A
:class:`KeySupply` is the one object that carries those pairs, as (K,) arrays of
fidelities, from their source into the distillation:

* :class:`FixedKeySupply` (``security.key_source: fixed``): ``pairs_per_round`` pairs
  of fidelity ``link_fidelity`` per node and round;
* :class:`NetworkKeySupply` (``security.key_source: network``): a network simulation
  (``qceas.network.Simulation``) run alongside the training, one demand round per
  training round, under the strategy's scheduler (:func:`key_scheduler`); each node
  gets the pairs it consumed for key that round, at their fidelities then.

The eavesdropper (``qceas.attacks.adversary.Adversary.intercept``) acts on the pairs
on their way: intercept-resend on a fraction q raises each pair's QBER from
e = 2(1 − F)/3 to e' = e + (q/4)(1 − 2e), and the pair measures as one of fidelity
F' = 1 − 3e'/2. The fixed supply states its pairs by a fidelity, and always hands on
that round trip of ``link_fidelity`` (at q = 0 it is F up to rounding); the network's
pairs pass unchanged when q = 0.

Faults (``qceas.training.faults``): a node whose link is down, or that crashed, takes
no key material; the fixed supply gives it no pairs, the network switches off its
access link (the first link of its route to the aggregator). The network supply also
learns the aggregator's weights of each round (:meth:`KeySupply.observe`): where pairs
are short, the nodes that count most are served first in the next round.

The demand of the key network, and the compute-finish times it may be timed by
(:func:`ready_times`), are built here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError, under
from qceas.attacks.adversary import Adversary
from qceas.network import Simulation, SimulationResult
from qceas.network.config import ScheduleConfig
from qceas.network.setup import context_of, demand_of, network_of
from qceas.qnn.timing import compute_times
from qceas.scheduling import SCHEDULERS
from qceas.security.config import SecurityConfig
from qceas.streams import KEY_NETWORK, SLOWDOWNS, run_stream, stream
from qceas.training.config import RunConfig
from qceas.training.scenario import Scenario, build_scenario
from qceas.training.strategies import Strategy, make_strategy


class KeySupply(Protocol):
    """The Bell pairs each real node measures for key, round by round."""

    def apply_faults(self, dark: NDArray[np.bool_]) -> None:
        """(K,) nodes whose link is dead for the rounds to come (a link outage or a
        crash); all False restores every link."""
        ...

    def pairs(self) -> Sequence[NDArray[np.float64]]:
        """The next round's pairs: one array per real node with the Werner fidelities
        of the pairs it measures for key, as the eavesdropper left them."""
        ...

    def observe(self, weights: NDArray[np.float64]) -> None:
        """The aggregator's (K,) weights of the round just aggregated."""
        ...

    def result(self) -> SimulationResult | None:
        """The network simulation so far (None where no network supplies the keys)."""
        ...


class FixedKeySupply:
    """``pairs_per_round`` pairs of one fidelity per node and round (module docstring).

    Args:
        security: the ``security`` section (``pairs_per_round``, ``link_fidelity``).
        n_nodes: K, the real nodes.
        eavesdropper: the adversary, whose intercept-resend raises the pairs' QBER.
    """

    def __init__(self, security: SecurityConfig, n_nodes: int, eavesdropper: Adversary) -> None:
        self.n_nodes = n_nodes
        self.pairs_per_round = security.pairs_per_round
        #: F' = 1 − 3e'/2 of the configured F (the round trip through the QBER).
        self.fidelity = float(eavesdropper.intercept(security.link_fidelity))
        #: (K,) nodes without a link this round, or None before the first fault.
        self.link_down: NDArray[np.bool_] | None = None

    def apply_faults(self, dark: NDArray[np.bool_]) -> None:
        self.link_down = dark

    def pairs(self) -> list[NDArray[np.float64]]:
        fixed = np.full(self.pairs_per_round, self.fidelity)
        down = np.zeros(self.n_nodes, bool) if self.link_down is None else self.link_down
        return [np.zeros(0) if off else fixed for off in down]

    def observe(self, weights: NDArray[np.float64]) -> None:
        """A fixed supply serves every node alike: the weights change nothing."""

    def result(self) -> None:
        return None


class NetworkKeySupply:
    """The pairs a network simulation delivers and each node consumes for key
    (module docstring).

    Args:
        simulation: the key network (:func:`network_simulation`), one demand round
            per training round.
        eavesdropper: the adversary, whose intercept-resend raises the pairs' QBER.
    """

    def __init__(self, simulation: Simulation, eavesdropper: Adversary) -> None:
        self.simulation = simulation
        self.eavesdropper = eavesdropper

    def apply_faults(self, dark: NDArray[np.bool_]) -> None:
        net = self.simulation.context.network
        down = np.zeros(net.n_links, dtype=bool)
        for k in np.flatnonzero(dark):
            down[net.routes[k][0]] = True  # the node's access link
        self.simulation.set_link_outage(down)

    def pairs(self) -> Sequence[NDArray[np.float64]]:
        supplied = self.simulation.run_round().fidelities
        if self.eavesdropper.spec.eavesdrop <= 0:
            return supplied
        return [self.eavesdropper.intercept(f) for f in supplied]

    def observe(self, weights: NDArray[np.float64]) -> None:
        """Rank the nodes for the next round's entanglement by ``weights`` (verified
        QFI × shard size under CEAS), unless nobody got weight."""
        if np.any(weights > 0):
            self.simulation.set_importance(weights)

    def result(self) -> SimulationResult:
        return self.simulation.result()


def key_scheduler(strategy: Strategy, config: RunConfig) -> str:
    """The scheduler of ``strategy``'s key network: its own, else ``security.scheduler``."""
    return strategy.scheduler or config.security.scheduler


def key_supply_of(
    scenario: Scenario, strategy_name: str, strategy: Strategy, adversary: Adversary
) -> KeySupply | None:
    """The key supply of a run of ``strategy`` (registered as ``strategy_name``) on
    ``scenario``: None where the strategy does not authenticate (it needs no keys)."""
    cfg = scenario.config
    if not strategy.authenticates:
        return None
    if cfg.security.key_source == "network":
        scheduler = key_scheduler(strategy, cfg)
        return NetworkKeySupply(network_simulation(scenario, strategy_name, scheduler), adversary)
    return FixedKeySupply(cfg.security, scenario.n_nodes, adversary)


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
    rng = run_stream(scenario.seed, strategy, KEY_NETWORK)
    try:
        return Simulation(context, policy, rng=rng)
    except ValueError as exc:  # e.g. a CEAS class too large for max_states
        where = "security.key_schedule" if "params" in cfg.security.key_schedule else "schedule"
        raise under(f"{where}.params.{scheduler}", exc) from None


def ready_times(scenario: Scenario) -> NDArray[np.float64]:
    """(N,) seconds from the broadcast of θ until each node's update is ready, under
    the ``compute`` section (``qceas.qnn.timing``): the node's batch (its shard, or
    ``training.batch_size`` samples of it), its shots (``noise.shots``, else
    ``compute.shots``) and its slowdown, drawn from stream ``SLOWDOWNS`` (``qceas.streams``)."""
    cfg = scenario.config
    spec = cfg.compute
    batch = cfg.training.batch_size
    samples = np.array(
        [y.shape[0] if batch is None else min(batch, y.shape[0]) for _, y in scenario.shards],
        dtype=np.int64,
    )
    shots = np.array([spec.shots if n.shots is None else n.shots for n in scenario.noises])
    slowdown = spec.slowdowns(scenario.n_nodes, stream(scenario.seed, SLOWDOWNS))
    return compute_times(
        scenario.model.ansatz,
        spec.gate_times(),
        samples,
        shots=shots,
        qfi=spec.qfi_circuits,
        slowdown=slowdown,
        estimator=scenario.model.qfi_estimator,
        qfi_samples=scenario.model.qfi_samples,
    )


def ready_times_of(
    config: RunConfig, seed: int, schedule: ScheduleConfig | None = None
) -> NDArray[np.float64] | None:
    """The compute-finish times where ``schedule`` (default ``config.schedule``) sets
    ``ready: compute`` (the scenario of ``seed`` is built for its shards), else None."""
    spec = config.schedule if schedule is None else schedule
    if spec.ready != "compute":
        return None
    return ready_times(build_scenario(config, seed))


def key_schedule_section(config: RunConfig) -> str:
    """Where the key-supply demand is written: ``security.key_schedule`` when given,
    else ``schedule`` (which it then is)."""
    return "security.key_schedule" if config.security.key_schedule else "schedule"


def authenticated_schedulers(config: RunConfig) -> list[str]:
    """The schedulers that supply keys from the simulated network to the config's
    strategies (none unless ``security.key_source: network``), without repeats."""
    if config.security.key_source != "network":
        return []
    out: list[str] = []
    for name in config.training.strategies:
        strategy = make_strategy(name, config.training.compositions)
        if strategy.authenticates:
            scheduler = key_scheduler(strategy, config)
            if scheduler not in out:
                out.append(scheduler)
    return out


def check_ready_times(config: RunConfig, seeds: Sequence[int]) -> None:
    """Raise ConfigError now, not mid-run, where a compute-timed demand (``schedule``,
    and the key demand where a strategy draws keys from the network) does not fit its
    round for one of ``seeds``."""
    specs = [(config.schedule, "schedule")]
    if authenticated_schedulers(config):
        specs.append((config.key_schedule(), key_schedule_section(config)))
    if not any(spec.ready == "compute" for spec, _ in specs):
        return
    for seed in seeds:
        ready = ready_times(build_scenario(config, seed))
        for spec, section in specs:
            if spec.ready == "compute":
                demand_of(spec, config.nodes.count, seed, ready_s=ready, section=section)


__all__ = [
    "FixedKeySupply",
    "KeySupply",
    "NetworkKeySupply",
    "authenticated_schedulers",
    "check_ready_times",
    "key_schedule_section",
    "key_scheduler",
    "key_supply_of",
    "network_simulation",
    "ready_times",
    "ready_times_of",
]
