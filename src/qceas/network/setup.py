"""Build the network, the demand and the simulation context of the ``network`` and
``schedule`` config sections (``qceas.network.config``), reproducibly from a seed.

The builders take the sections they read and the node count, never the whole config.
Random streams (``qceas.streams``): the network is drawn from stream ``NETWORK``,
uniform ready times from ``READY_TIMES`` (compute slowdowns from ``SLOWDOWNS``, see
``qceas.training.key_supply.ready_times``) and a simulation from ``NETWORK_SIMULATION``
(:func:`simulation_rng`), so every policy run on one seed sees the same network,
demand and random numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from qceas._rules import ConfigError, under
from qceas.network.config import CHAIN, NetworkConfig, ScheduleConfig
from qceas.network.context import make_context
from qceas.network.demand import Demand
from qceas.network.interface import Context
from qceas.network.topology import Network, build_network
from qceas.streams import NETWORK, NETWORK_SIMULATION, READY_TIMES, stream

#: How make_context's messages start for its arguments that are ``schedule`` fields
#: of the same name (its other messages name ``network.`` or ``demand.`` fields).
_SCHEDULE_ARGUMENTS = ("slot_s =", "sift =", "purification =")


def network_of(spec: NetworkConfig, n: int, seed: int) -> Network:
    """The network of the ``network`` section ``spec`` for ``n`` QPUs (``nodes.count``)
    and ``seed``."""
    if spec.topology == CHAIN:
        raise ConfigError(
            f"network.topology = '{CHAIN}': the repeater chain (qceas.network.chain) has no "
            "QPUs and runs only in `qceas network`; pick a graph topology here"
        )
    aggregator = spec.aggregator_memory_slots or 2 * n
    slots = np.r_[np.full(n, spec.memory_slots), aggregator].astype(np.int64)
    try:
        network = _build(spec, n, slots, seed)
    except ValueError as exc:  # the builders name their arguments: the section's fields
        raise under("network", exc) from None
    if spec.aggregator_coherence_time_s is not None:
        coherence = network.coherence_time_s.copy()
        coherence[-1] = spec.aggregator_coherence_time_s
        network = dataclasses.replace(network, coherence_time_s=coherence)
    if spec.signal_delays:
        network = dataclasses.replace(network, signal_delays=True)
    return network


def _build(spec: NetworkConfig, n: int, slots: np.ndarray, seed: int) -> Network:
    return build_network(
        spec.topology,
        n,
        rng=stream(seed, NETWORK),
        link_length_km=spec.link_length_km,
        area_km=spec.area_km,
        attenuation_db_per_km=spec.spec("attenuation_db_per_km"),
        efficiency=spec.spec("efficiency"),
        initial_fidelity=spec.spec("initial_fidelity"),
        coherence_time_s=spec.spec("coherence_time_s"),
        memory_slots=slots,
        min_period_s=spec.min_period_s,
        path=spec.path,
        **dict(spec.params),
    )


def with_coherence_time(network: Network, coherence_time_s: float) -> Network:
    """The same network (graph, links, memories) with every node's coherence time set
    to ``coherence_time_s`` (> 0): one point of a coherence-time sweep."""
    value = float(coherence_time_s)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"coherence_time_s = {coherence_time_s!r}: must be a number > 0")
    return dataclasses.replace(network, coherence_time_s=np.full(network.n_nodes + 1, value))


def demand_of(
    spec: ScheduleConfig,
    n_nodes: int,
    seed: int,
    ready_s: np.ndarray | None = None,
    section: str = "schedule",
) -> Demand:
    """The demand model of the schedule section ``spec`` for ``n_nodes`` QPUs and ``seed``.

    With ``schedule.ready: compute`` the ready times are ``ready_s``, the nodes'
    compute-finish times (``qceas.training.key_supply.ready_times``); a node whose update
    is not ready a window before the round ends is a ConfigError that names the round
    period it would need (``section`` names where the schedule came from).
    """
    if spec.ready == "compute":
        if ready_s is None:
            raise ConfigError(f"{section}.ready = 'compute': needs the nodes' compute times")
        ready = np.asarray(ready_s, dtype=float)
        need = float(ready.max()) + spec.window_s
        if need > spec.round_period_s * (1 + 1e-9):
            k = int(np.argmax(ready))
            raise ConfigError(
                f"{section}.round_period_s = {spec.round_period_s:g}: node {k}'s update is "
                f"ready {ready[k]:.4g} s into the round (compute section), so the round "
                f"must last at least ready + window_s = {need:.4g} s; lengthen the round, "
                "or cut shots, samples or compute times"
            )
        return Demand(
            pairs=spec.pairs_per_round,
            period_s=spec.round_period_s,
            rounds=spec.rounds,
            ready_s=ready,
            window_s=spec.window_s,
        )
    low, high = spec.ready_fraction
    return Demand.draw(
        n_nodes,
        pairs=spec.pairs_per_round,
        period_s=spec.round_period_s,
        rounds=spec.rounds,
        window_s=spec.window_s,
        ready_fraction=(float(low), float(high)),
        rng=stream(seed, READY_TIMES),
    )


def context_of(spec: ScheduleConfig, network: Network, demand: Demand) -> Context:
    """The simulation context of ``network`` and ``demand`` under the schedule section
    ``spec``; a rule broken (slot, purification, relay memory) is a ConfigError."""
    try:
        return make_context(
            network,
            demand,
            slot_s=spec.slot_s,
            sift=spec.sift,
            purification=spec.purification,
        )
    except ValueError as exc:
        message = str(exc)
        if message.startswith(_SCHEDULE_ARGUMENTS):
            message = f"schedule.{message}"
        raise ConfigError(message) from None


def simulation_rng(seed: int) -> np.random.Generator:
    """The generator a simulation on ``seed`` draws from (the same for every policy)."""
    return stream(seed, NETWORK_SIMULATION)
