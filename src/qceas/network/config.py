"""The config sections of the quantum network: ``network`` (topology, links,
memories) and ``schedule`` (the demand and the policies ``qceas network`` runs).

Each section checks its own fields when it is built (``qceas._rules``). The names of
the policies in ``schedule.policies`` and their options in ``schedule.params`` belong
to the scheduling layer above this one, so the composite config checks them
(``qceas.scheduling.config.check_policies``); the builders of ``qceas.network.setup``
turn the sections into a network, a demand and a simulation context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qceas._rules import (
    MAX_COUNT,
    MAX_KM,
    MAX_SECONDS,
    FrozenMapping,
    attempt_floor,
    boolean,
    check_options,
    choice,
    fail,
    freeze_fields,
    integer,
    is_number,
    mapping,
    positive,
    range_or_number,
    range_spec,
    show,
)
from qceas.network.chain import MAX_CHAIN_NODES, Chain
from qceas.network.interface import PURIFICATIONS
from qceas.network.topology import BUILDER_ARGUMENTS
from qceas.network.topology import TOPOLOGIES as NETWORK_TOPOLOGIES
from qceas.physics import success_probability, werner_parameter_unchecked


@dataclass(frozen=True)
class NetworkConfig:
    """The quantum network (``qceas.network``): topology, links, memories.

    ``initial_fidelity``, ``coherence_time_s``, ``efficiency`` and
    ``attenuation_db_per_km`` are a number (all the same) or a ``[low, high]`` range,
    drawn per link (per node for coherence times, log-uniformly) from the seed.
    ``aggregator_memory_slots`` defaults to ``2 × nodes.count`` (the aggregator holds
    one end of every QPU's pairs); ``aggregator_coherence_time_s`` (a number) replaces
    the aggregator's drawn coherence time, which otherwise decides every pair's decay
    by the luck of one draw; ``params`` go to the topology builder (e.g.
    ``radius_km``, ``aggregator_degree``). ``signal_delays``: pairs decay while
    heralds and swap outcomes travel the fibre (``qceas.network.Network.signal_delays``).

    ``topology: chain`` is the homogeneous repeater chain of ``qceas.network.chain``
    (Iñesta et al. 2023), run only by ``qceas network``: ``chain_nodes`` n >= 3 nodes,
    ``attempt_success`` p per elementary link and slot (null: from the fibre physics of
    one ``link_length_km`` link, ½·η²·10^(−α·L/10)), ``swap_success`` p_s, and
    ``memory_slots: 1`` (one memory per side of a node, as in their model). These three
    fields belong to that topology only.
    """

    topology: str = "star"
    params: Mapping[str, Any] = field(default_factory=FrozenMapping)
    link_length_km: float = 10.0
    area_km: float = 100.0
    path: str | None = None
    attenuation_db_per_km: float | tuple[float, float] = 0.2
    efficiency: float | tuple[float, float] = 0.9
    initial_fidelity: float | tuple[float, float] = (0.85, 0.95)
    coherence_time_s: float | tuple[float, float] = (1.0e-3, 1.0)
    memory_slots: int = 4
    aggregator_memory_slots: int | None = None
    aggregator_coherence_time_s: float | None = None
    min_period_s: float = 1.0e-6
    signal_delays: bool = False
    chain_nodes: int | None = None
    attempt_success: float | None = None
    swap_success: float = 1.0

    def __post_init__(self) -> None:
        freeze_fields(self)
        choice("network.topology", self.topology, (*NETWORK_TOPOLOGIES.names(), CHAIN))
        if not isinstance(self.params, Mapping):
            raise fail("network.params", self.params, "must be a mapping")
        if self.topology != CHAIN:  # the chain has no builder (``_check_chain``)
            check_options(
                "network.params",
                NETWORK_TOPOLOGIES,
                self.topology,
                self.params,
                exclude=BUILDER_ARGUMENTS,
            )
        positive("network.link_length_km", self.link_length_km, MAX_KM)
        positive("network.area_km", self.area_km, MAX_KM)
        if self.topology == "file" and not isinstance(self.path, str):
            raise fail("network.path", self.path, "the 'file' topology needs a path")
        if self.path is not None and not isinstance(self.path, str):
            raise fail("network.path", self.path, "must be a file path or null")
        range_or_number(
            "network.attenuation_db_per_km", self.attenuation_db_per_km, 0.0, 10.0, open_low=False
        )
        range_or_number("network.efficiency", self.efficiency, 0.0, 1.0, open_low=True)
        range_or_number(
            "network.initial_fidelity", self.initial_fidelity, 0.25, 1.0, open_low=False
        )
        range_or_number(
            "network.coherence_time_s", self.coherence_time_s, 0.0, 1.0e6, open_low=True
        )
        integer("network.memory_slots", self.memory_slots, 1, MAX_COUNT)
        if self.aggregator_memory_slots is not None:
            integer("network.aggregator_memory_slots", self.aggregator_memory_slots, 1, MAX_COUNT)
        if self.aggregator_coherence_time_s is not None:
            positive(
                "network.aggregator_coherence_time_s", self.aggregator_coherence_time_s, MAX_SECONDS
            )
        attempt_floor("network.min_period_s", self.min_period_s)
        boolean("network.signal_delays", self.signal_delays)
        self._check_chain()

    def _check_chain(self) -> None:
        """The fields of the ``chain`` topology: set there (and only there)."""
        if self.topology != CHAIN:
            for name, default in CHAIN_FIELDS.items():
                value = getattr(self, name)
                if value != default or isinstance(value, bool):  # True == 1.0
                    rule = f"only topology '{CHAIN}' uses it (this network is {self.topology!r})"
                    raise fail(f"network.{name}", value, rule)
            return
        if self.chain_nodes is None:
            raise fail("network.chain_nodes", None, f"topology '{CHAIN}' needs it: nodes >= 3")
        integer("network.chain_nodes", self.chain_nodes, 3, MAX_CHAIN_NODES)
        if self.attempt_success is not None:
            probability_in("network.attempt_success", self.attempt_success)
        probability_in("network.swap_success", self.swap_success)
        if self.memory_slots != 1:
            rule = f"topology '{CHAIN}' has one memory per side of a node: set it to 1"
            raise fail("network.memory_slots", self.memory_slots, rule)
        for name in ("attenuation_db_per_km", "efficiency"):
            if isinstance(getattr(self, name), list | tuple):
                rule = f"topology '{CHAIN}' is homogeneous: one number, not a range"
                raise fail(f"network.{name}", getattr(self, name), rule)
        if self.params:
            raise fail("network.params", self.params, f"topology '{CHAIN}' takes no params")

    def chain(self, cutoff_slots: int | None, slot_s: float | None = None) -> Chain:
        """The repeater chain of a ``chain`` network, with ``schedule.cutoff_slots``; with
        ``slot_s`` and ``initial_fidelity`` and ``coherence_time_s`` given as numbers,
        also its pairs' physics (w0, coherence time in slots)."""
        if self.topology != CHAIN or self.chain_nodes is None:
            raise ValueError(f"network.topology = {self.topology!r}: not a chain")
        p = self.attempt_success
        if p is None:
            eta = float(self.efficiency)  # type: ignore[arg-type]  # a number (checked)
            p = float(
                success_probability(
                    self.link_length_km,
                    efficiency_a=eta,
                    efficiency_b=eta,
                    attenuation_db_per_km=float(self.attenuation_db_per_km),  # type: ignore[arg-type]
                )
            )
        f0, t = self.initial_fidelity, self.coherence_time_s
        if slot_s is None or isinstance(f0, list | tuple) or isinstance(t, list | tuple):
            return Chain(self.chain_nodes, float(p), float(self.swap_success), cutoff_slots)
        w0 = float(werner_parameter_unchecked(float(f0)))
        return Chain(
            self.chain_nodes, float(p), float(self.swap_success), cutoff_slots, w0, t / slot_s
        )

    def spec(self, name: str) -> Any:
        """A field as ``build_network`` takes it: a range becomes a (low, high) tuple."""
        return range_spec(getattr(self, name))


#: The repeater-chain topology (``qceas.network.chain``), outside the graph builders.
CHAIN = "chain"

#: The fields only the chain uses, with their defaults.
CHAIN_FIELDS: dict[str, Any] = {"chain_nodes": None, "attempt_success": None, "swap_success": 1.0}


def probability_in(path: str, value: Any) -> None:
    """A number in (0, 1]."""
    if not is_number(value) or not 0 < value <= 1:
        raise fail(path, value, "must be a number in (0, 1]")


def check_chain_schedule(network: NetworkConfig, schedule: ScheduleConfig) -> None:
    """``schedule.cutoff_slots`` belongs to the chain topology."""
    if schedule.cutoff_slots is not None and network.topology != CHAIN:
        rule = f"only topology '{CHAIN}' uses it (this network is {network.topology!r})"
        raise fail("schedule.cutoff_slots", schedule.cutoff_slots, rule)


#: How ready times are set (``ScheduleConfig.ready``).
READY_MODELS: tuple[str, ...] = ("uniform", "compute")


#: Policies run by ``qceas network`` unless the config names others.
DEFAULT_POLICIES: tuple[str, ...] = ("ceas", "oblivious", "greedy", "random")


#: Default sweep of a common coherence time (s) for ``qceas network``.
DEFAULT_COHERENCE_SWEEP: tuple[float, ...] = (1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3, 1.0e-2, 1.0e-1, 1.0)


@dataclass(frozen=True)
class ScheduleConfig:
    """The demand model and the schedulers of ``qceas network`` (``qceas.scheduling``).

    Every round of ``round_period_s``, each QPU needs ``pairs_per_round`` end-to-end
    pairs with the aggregator, consumed within ``window_s`` after its update is ready
    (``ready: uniform``: ready times drawn per QPU uniformly in ``ready_fraction`` ×
    (period − window); ``ready: compute``: each QPU's compute-finish time under the
    ``compute`` section, the same every round).
    ``slot_s: null`` uses the longest attempt period (for a chain: one link's).
    ``cutoff_slots``: a chain's cutoff t_cut in slots (null: links never expire); for
    a chain ``rounds`` is the number of deliveries simulated per seed. ``params`` maps
    a policy name to its options; ``coherence_sweep_s`` lists the common coherence
    times of the sweep (empty: no sweep).
    """

    policies: tuple[str, ...] = DEFAULT_POLICIES
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=FrozenMapping)
    pairs_per_round: int = 2
    round_period_s: float = 0.02
    window_s: float = 0.002
    ready_fraction: tuple[float, float] = (0.2, 0.8)
    ready: str = "uniform"
    rounds: int = 20
    slot_s: float | None = None
    sift: float = 0.5
    purification: str = "none"
    coherence_sweep_s: tuple[float, ...] = DEFAULT_COHERENCE_SWEEP
    cutoff_slots: int | None = None

    def __post_init__(self) -> None:
        freeze_fields(self)
        # Policy names and their options are the scheduling layer's: the composite
        # checks them (``qceas.scheduling.config.check_policies``).
        if not isinstance(self.policies, list | tuple) or not self.policies:
            raise fail("schedule.policies", self.policies, "must be a non-empty list")
        if len(set(self.policies)) != len(self.policies):
            raise fail("schedule.policies", self.policies, "must not repeat a policy")
        mapping("schedule.params", self.params, "a mapping policy -> options")
        integer("schedule.pairs_per_round", self.pairs_per_round, 1, MAX_COUNT)
        positive("schedule.round_period_s", self.round_period_s, MAX_SECONDS)
        positive("schedule.window_s", self.window_s, MAX_SECONDS)
        if self.window_s > self.round_period_s:
            raise fail(
                "schedule.window_s",
                self.window_s,
                f"must be <= round_period_s = {show(self.round_period_s)}",
            )
        range_or_number("schedule.ready_fraction", self.ready_fraction, 0.0, 1.0, open_low=False)
        if not isinstance(self.ready_fraction, list | tuple):
            raise fail("schedule.ready_fraction", self.ready_fraction, "must be [low, high]")
        choice("schedule.ready", self.ready, READY_MODELS)
        integer("schedule.rounds", self.rounds, 1, MAX_COUNT)
        if self.slot_s is not None:
            positive("schedule.slot_s", self.slot_s, MAX_SECONDS)
        if not is_number(self.sift) or not 0 < self.sift <= 1:
            raise fail("schedule.sift", self.sift, "must be in (0, 1]")
        choice("schedule.purification", self.purification, PURIFICATIONS)
        if not isinstance(self.coherence_sweep_s, list | tuple):
            raise fail("schedule.coherence_sweep_s", self.coherence_sweep_s, "must be a list")
        for i, value in enumerate(self.coherence_sweep_s):
            positive(f"schedule.coherence_sweep_s[{i}]", value, MAX_SECONDS)
        if self.cutoff_slots is not None:
            integer("schedule.cutoff_slots", self.cutoff_slots, 1, MAX_COUNT)


__all__ = [
    "CHAIN",
    "CHAIN_FIELDS",
    "DEFAULT_COHERENCE_SWEEP",
    "DEFAULT_POLICIES",
    "READY_MODELS",
    "NetworkConfig",
    "ScheduleConfig",
    "check_chain_schedule",
    "probability_in",
]
