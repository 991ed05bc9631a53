"""``qceas validate``: every check a run makes before its first round, without running.

A config that passes its section rules may still fail once its data and networks are
built: a compute-timed demand longer than its round, a key network whose scheduler
cannot plan it, a sweep point whose data does not split. :func:`validate` builds what
a run builds first — the scenario of the first seed, the network and demand of the
``schedule`` section, the key-supply network of every authenticating strategy, every
sweep point's data — and describes it in one line (and a second one on the partition
where circuits span several QPUs).
"""

from __future__ import annotations

from qceas._rules import ConfigError
from qceas.experiments.config import ExperimentConfig
from qceas.experiments.sweep import check_points
from qceas.network.setup import context_of, demand_of, network_of
from qceas.partition.layout import describe
from qceas.training.key_supply import authenticated_schedulers, network_simulation, ready_times
from qceas.training.scenario import build_scenario


def validate(config: ExperimentConfig, label: str) -> list[str]:
    """The lines ``qceas validate`` prints for ``config`` (named ``label``).

    Raises:
        ConfigError: naming the field, value and rule of the first check that fails.
    """
    scenario = build_scenario(config, config.seed)
    n = config.nodes.count
    try:
        network = network_of(config.network, n, config.seed)
        ready = ready_times(scenario) if config.schedule.ready == "compute" else None
        demand = demand_of(config.schedule, n, config.seed, ready_s=ready)
        for scheduler in authenticated_schedulers(config):  # the key-supply network
            network_simulation(scenario, "validate", scheduler)
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
    return lines


__all__ = ["validate"]
