"""``qceas validate``: every check a run makes before its first round, without running.

A config that passes its section rules may still fail once its data and networks are
built: a compute-timed demand longer than its round, a key network whose scheduler
cannot plan it, a sweep point whose data does not split. :func:`validate` builds what
a run builds first — the scenario of the first seed, the network and demand of the
``schedule`` section, the key-supply network of every authenticating strategy, every
sweep point's data — and describes it in one line (and a second one on the partition
where circuits span several QPUs, one on the leader section, one on the consensus
grid), with a warning line for every QPU whose route cannot deliver a pair its
consumer can use (:func:`route_warnings`).
"""

from __future__ import annotations

import numpy as np

from qceas._rules import ConfigError
from qceas.agreement import bounds
from qceas.agreement.broadcast import design_threshold
from qceas.agreement.config import ConsensusConfig
from qceas.agreement.protocol import Protocol
from qceas.attacks.config import byzantine_count
from qceas.experiments.chain_run import slot_seconds
from qceas.experiments.config import ExperimentConfig
from qceas.experiments.sweep import check_points
from qceas.network.config import CHAIN
from qceas.network.interface import Context
from qceas.network.metrics import KEY_FIDELITY_THRESHOLD
from qceas.network.setup import context_of, demand_of, network_of
from qceas.partition.layout import describe, replica_partition
from qceas.physics import fidelity_from_werner_unchecked, werner_parameter_unchecked
from qceas.qnn.cost import estimate_round_seconds
from qceas.qnn.partition import teleported_block
from qceas.scheduling import chain_mdp, ladder
from qceas.scheduling.chain_policies import CHAIN_POLICIES
from qceas.training.agreement_pairs import agreement_context
from qceas.training.key_supply import authenticated_schedulers, network_simulation, ready_times
from qceas.training.scenario import Scenario, build_scenario
from qceas.training.strategies import make_strategy


def validate(config: ExperimentConfig, label: str) -> list[str]:
    """The lines ``qceas validate`` prints for ``config`` (named ``label``).

    Raises:
        ConfigError: naming the field, value and rule of the first check that fails.
    """
    if config.network.topology == CHAIN:
        return chain_lines(config, label)
    scenario = build_scenario(config, config.seed)
    n = config.nodes.count
    try:
        network = network_of(config.network, n, config.seed)
        ready = ready_times(scenario) if config.schedule.ready == "compute" else None
        demand = demand_of(config.schedule, n, config.seed, ready_s=ready)
        for scheduler in authenticated_schedulers(config):  # the key-supply network
            network_simulation(scenario, "validate", scheduler)
        if config.leader.mode != "none" and config.leader.pairs == "network":
            agreement_context(config, config.seed)  # the agreement network
        check_points(config.sweep_points() if config.sweep else [])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    context = context_of(config.schedule, network, demand)
    lines = [
        f"{label}: valid ({n} nodes, "
        f"{scenario.model.num_params} parameters, "
        f"{scenario.dataset.x_train.shape[0]} training / "
        f"{scenario.dataset.x_test.shape[0]} test samples, "
        f"strategies {', '.join(config.training.strategies)}; network "
        f"{config.network.topology} with {network.n_links} links, up to "
        f"{int(network.hops.max())} hops, slot {context.slot_s:.3g} s, "
        f"{context.round_slots} slots per round)"
    ]
    lines.append(circuit_line(config, scenario))
    if config.partition.qpus_per_replica > 1:
        batch = config.training.batch_size
        sizes = [y.shape[0] for _, y in scenario.shards]
        samples = max(sizes) if batch is None else min(batch, max(sizes))
        shots = max(node.shots or config.compute.shots for node in scenario.noises)
        lines.append(
            describe(
                config.model,
                config.partition,
                n,
                samples,
                shots,
                qfi=config.compute.qfi_circuits,
            )
        )
    lines.extend(
        route_warnings(context, "schedule", KEY_FIDELITY_THRESHOLD, "key", climbers(config))
    )
    if config.leader.mode != "none":
        lines.append(leader_line(config))
        if config.leader.pairs == "network":
            # A QDBA check passes only while the pairs' Z error stays below δ.
            floor = 1.0 - 1.5 * config.leader.tolerance
            agreement = agreement_context(config, config.seed)
            lines.extend(route_warnings(agreement, "leader", floor, "agreement"))
    if config.consensus != ConsensusConfig():
        points = config.consensus.points()
        pairs = sorted({config.consensus.point(values).pairs for values in points})
        lines.append(
            f"consensus: {len(points)} grid point(s) ({len(config.consensus.skipped())} left "
            f"out), {pairs[0]}-{pairs[-1]} pairs per agreement, "
            f"{config.consensus.instances} instances each"
        )
    return lines


def circuit_line(config: ExperimentConfig, scenario: Scenario) -> str:
    """How the nodes' circuits are simulated (each distinct path once) and about how
    long one round of their evaluations takes here (``qceas.qnn.cost``; a full-batch
    round, the QFI on where a strategy or ``training.track_qfi`` needs it). A model
    partition's teleported gates add a block error, taken at ``partition.pair_fidelity``
    where it is a number and at F = 0.95 where pairs come from the network (their
    fidelity is known only once it runs; the path and cost do not depend on it)."""
    model = scenario.model
    qfi = config.training.track_qfi or any(
        make_strategy(name, config.training.compositions).needs_qfi
        for name in config.training.strategies
    )
    blocks = None
    split = config.partition.qpus_per_replica > 1
    if split:  # a representative block error: the pairs' fidelity where it is fixed
        fidelity = config.partition.pair_fidelity
        value = float(fidelity) if not isinstance(fidelity, str) else 0.95
        partition = replica_partition(config.model, config.partition)
        block = teleported_block(model.ansatz, partition, value)
        blocks = [block] * len(scenario.noises)
    paths = {
        model.simulation_path(noise, qfi=qfi, rows=shard[0].shape[0], split=split): None
        for noise, shard in zip(scenario.noises, scenario.shards, strict=True)
    }
    seconds = estimate_round_seconds(
        model, scenario.initial_params, scenario.shards, scenario.noises, qfi=qfi, blocks=blocks
    )
    return (
        f"circuits: {'; '.join(paths)}; about {seconds:.3g} s of circuit evaluation per "
        f"full-batch round{' with the QFI' if qfi else ''} here (one process, measured on "
        "a probe)"
    )


def chain_lines(config: ExperimentConfig, label: str) -> list[str]:
    """What ``qceas network`` runs on a repeater chain: the chain, the slot, and for
    each policy that plans with the exact MDP the size of its state space (a state
    space above ``max_states`` is the error the run would stop with)."""
    chain = config.network.chain(config.schedule.cutoff_slots, slot_seconds(config))
    cutoff = "none" if chain.cutoff is None else f"{chain.cutoff} slots"
    lines = [
        f"{label}: valid (repeater chain of {chain.nodes} nodes, attempt success "
        f"{chain.p:.4g}, swap success {chain.p_s:.4g}, cutoff {cutoff}, slot "
        f"{slot_seconds(config):.3g} s; {config.schedule.rounds} deliveries per seed, "
        f"policies {', '.join(config.schedule.policies)})"
    ]
    f0 = config.network.initial_fidelity
    if not isinstance(f0, list | tuple):  # a fidelity model: can any delivery give key?
        w = float(werner_parameter_unchecked(float(f0))) ** chain.links
        best = float(fidelity_from_werner_unchecked(w))
        if best <= KEY_FIDELITY_THRESHOLD:
            lines.append(
                f"warning: the chain's end-to-end pairs have F <= {best:.4f} even with "
                f"perfect memories ({chain.links} links of F0 = {float(f0):.4f}), not above "
                f"{KEY_FIDELITY_THRESHOLD:.4f}, what key pairs need: no delivery yields key"
            )
    for name in config.schedule.policies:
        if not name.startswith("ceas"):
            continue
        options = dict(config.schedule.params.get(name, {}))
        policy = CHAIN_POLICIES.get(name, **options)
        bound = int(options.get("max_states", chain_mdp.MAX_STATES))
        storage = policy.plans_with_memory
        try:
            if storage and (not chain.has_memory or chain.cutoff is None):
                policy.exact(chain)  # raises the objective's own one-line rule
            mdp = chain_mdp.build(chain, max_states=bound, storage=storage)
        except ValueError as exc:
            raise ConfigError(f"schedule.params.{name}: {exc}") from None
        what = "with each link's storage, " if storage else ""
        lines.append(
            f"{name}: exact chain MDP, {what}{len(mdp.states)} states and "
            f"{mdp.P.shape[0]} state-action pairs (max_states {bound})"
        )
    return lines


#: The schedulers that climb a recurrence ladder (``qceas.scheduling.ladder``).
CLIMBING_SCHEDULERS = ("ceas", "greedy-purify")


def climbers(config: ExperimentConfig) -> dict[str, int]:
    """The configured schedulers that climb a ladder (``schedule.policies``, and
    ``security.scheduler`` where keys come from the network), with their
    ``purify_levels``."""
    names = [p for p in config.schedule.policies if p in CLIMBING_SCHEDULERS]
    if config.security.key_source == "network" and config.security.scheduler in (
        CLIMBING_SCHEDULERS
    ):
        names.append(config.security.scheduler)
    return {
        name: int(config.schedule.params.get(name, {}).get("purify_levels", ladder.MAX_LEVELS))
        for name in dict.fromkeys(names)
    }


def route_warnings(
    context: Context,
    section: str,
    needed: float,
    use: str,
    climbing: dict[str, int] | None = None,
) -> list[str]:
    """One warning per QPU whose route cannot deliver a pair its consumer can use:
    the best end-to-end fidelity, a swap of fresh pairs (decayed over the signals'
    travel where ``network.signal_delays``), at or below ``needed``; for key pairs
    with purification on, what the ``climbing`` schedulers (name: purify_levels)
    can make of it."""
    best = fidelity_from_werner_unchecked(np.asarray(context.flow_w0, dtype=float))
    verdict = (
        "no pair of it can serve"
        if context.purification == "none"
        else f"only purification ({context.purification}) can lift it"
    )
    out = []
    for k in np.flatnonzero(best <= needed):
        route = " - ".join(str(int(v)) for v in context.network.route_nodes[k])
        said = verdict
        if context.purification != "none" and use == "key":
            said = _ladder_verdict(context, int(k), float(best[k]), climbing or {})
        out.append(
            f"warning: QPU {int(k)}'s route {route} ({int(context.network.hops[k])} hops) "
            f"gives fresh pairs of F = {float(best[k]):.4f} <= {needed:.4f}, what {use} "
            f"pairs need ({section}): {said}"
        )
    return out


def _ladder_verdict(context: Context, k: int, fresh: float, climbing: dict[str, int]) -> str:
    """What recurrence purification (qceas.scheduling.ladder) can make of QPU k's
    fresh pairs, with the memory it needs against the memory QPU k has, and which of
    the ``climbing`` schedulers (name: purify_levels) may climb that far."""
    found = ladder.build(fresh, context.key_bits)
    if found is None:
        return (
            f"{context.purification} cannot lift it in up to {ladder.MAX_LEVELS} "
            "recurrence rounds: no delivery yields key"
        )
    memory = int(context.network.memory_slots[k])
    able = [name for name, levels in climbing.items() if levels >= found.levels]
    if not climbing:
        fits = f"no configured scheduler purifies ({', '.join(CLIMBING_SCHEDULERS)} do)"
    elif memory < found.memory_needed:
        fits = f"it does not fit: no key for this QPU from {', '.join(climbing)}"
    elif not able:
        fits = f"purify_levels of {', '.join(climbing)} stops below {found.levels}"
    else:
        fits = f"it fits ({', '.join(able)})"
    return (
        f"{context.purification} lifts it in {found.levels} recurrence round(s) to "
        f"F = {found.fidelity[-1]:.4f} ({found.raw_pairs:.1f} fresh pairs per key pair), "
        f"needing {found.memory_needed} memory qubits at QPU {k}, which has {memory}: {fits}"
    )


def leader_line(config: ExperimentConfig) -> str:
    """What a led round needs and guarantees (``leader`` section): players, the
    coalition against Bracha's design threshold, and QDBA's pairs and bounds per
    agreement (union bounds over the digest's bits, at ``leader.fidelity``)."""
    spec = config.leader
    players = spec.players(config.nodes.count)
    traitors = byzantine_count(config.adversary.fraction, config.nodes.count)
    traitors += spec.mode == "aggregator" and spec.byzantine_aggregator
    f = design_threshold(players)
    proto = Protocol(players, spec.tuples, spec.tolerance, spec.rule, source_test=spec.source_test)
    # Network pairs: the worst fresh pair of the network section (measured on arrival).
    low = float(np.min(config.network.initial_fidelity))  # a number or a [low, high] range
    fidelity = spec.fidelity if spec.pairs == "fixed" else low
    eps = 2.0 * (1.0 - fidelity) / 3.0
    honest = min(1.0, spec.digest_bits * (players - 1) * bounds.honest_failure(
        spec.tuples, eps, spec.tolerance, proto.count_alpha
    ))  # fmt: skip
    forge, _ = bounds.forgery(spec.tuples, spec.tolerance, proto.count_alpha)
    return (
        f"leader: {spec.mode}, {players} players, coalition of {traitors} "
        f"({'within' if traitors <= f else 'beyond'} the broadcast's f = {f}); QDBA "
        f"{spec.digest_bits} x {proto.pairs} = {spec.digest_bits * proto.pairs} pairs per "
        f"agreement, honest failure <= {honest:.2g} at F = {fidelity:g} "
        f"({spec.pairs} pairs), forgery per check <= {forge:.2g}"
    )


__all__ = ["validate"]
