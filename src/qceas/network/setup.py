"""Build the network and the demand of an experiment config (its ``network`` and
``schedule`` sections), reproducibly from a seed.

Random streams: the network is drawn from ``default_rng([seed, 101])``, uniform ready
times from ``[seed, 102]`` (compute slowdowns from ``[seed, 104]``, see
``qceas.training.key_supply.ready_times``) and a simulation from ``[seed, 103]``
(:func:`simulation_rng`), so every policy run on one seed sees the same network,
demand and random numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from qceas.config import ConfigError, ExperimentConfig, ScheduleConfig
from qceas.network.demand import Demand
from qceas.network.simulator import Context, make_context
from qceas.network.topology import Network, build_network


def network_of(config: ExperimentConfig, seed: int) -> Network:
    """The network of ``config`` for ``seed`` (QPUs: ``nodes.count``)."""
    spec = config.network
    n = config.nodes.count
    aggregator = spec.aggregator_memory_slots or 2 * n
    slots = np.r_[np.full(n, spec.memory_slots), aggregator].astype(np.int64)
    network = build_network(
        spec.topology,
        n,
        rng=np.random.default_rng([seed, 101]),
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
    if spec.aggregator_coherence_time_s is not None:
        coherence = network.coherence_time_s.copy()
        coherence[-1] = spec.aggregator_coherence_time_s
        network = dataclasses.replace(network, coherence_time_s=coherence)
    return network


def with_coherence_time(network: Network, coherence_time_s: float) -> Network:
    """The same network (graph, links, memories) with every node's coherence time set
    to ``coherence_time_s`` (> 0): one point of a coherence-time sweep."""
    value = float(coherence_time_s)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"coherence_time_s = {coherence_time_s!r}: must be a number > 0")
    return dataclasses.replace(network, coherence_time_s=np.full(network.n_nodes + 1, value))


def demand_of(
    config: ExperimentConfig,
    seed: int,
    schedule: ScheduleConfig | None = None,
    ready_s: np.ndarray | None = None,
    section: str = "schedule",
) -> Demand:
    """The demand model of ``config`` (or of ``schedule`` in its place) for ``seed``.

    With ``schedule.ready: compute`` the ready times are ``ready_s``, the nodes'
    compute-finish times (``qceas.training.key_supply.ready_times``); a node whose update
    is not ready a window before the round ends is a ConfigError that names the round
    period it would need (``section`` names where the schedule came from).
    """
    spec = config.schedule if schedule is None else schedule
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
        config.nodes.count,
        pairs=spec.pairs_per_round,
        period_s=spec.round_period_s,
        rounds=spec.rounds,
        window_s=spec.window_s,
        ready_fraction=(float(low), float(high)),
        rng=np.random.default_rng([seed, 102]),
    )


def context_of(
    config: ExperimentConfig,
    network: Network,
    demand: Demand,
    schedule: ScheduleConfig | None = None,
) -> Context:
    """The simulation context of ``network`` and ``demand`` under ``config.schedule``
    (or ``schedule``); a rule broken (slot, purification, relay memory) is a
    ConfigError."""
    spec = config.schedule if schedule is None else schedule
    try:
        return make_context(
            network,
            demand,
            slot_s=spec.slot_s,
            sift=spec.sift,
            purification=spec.purification,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def simulation_rng(seed: int) -> np.random.Generator:
    """The generator a simulation on ``seed`` draws from (the same for every policy)."""
    return np.random.default_rng([seed, 103])
