"""A scenario: everything fixed before the first round, built from a config and a seed.

The dataset, its test split, the shards of the nodes, the nodes' noise and the initial
parameters depend only on (config, seed) — never on the strategy — so strategies run
with the same seed are compared on identical problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError
from qceas.data import Dataset, load_dataset, split_dirichlet, split_iid
from qceas.network.config import ScheduleConfig
from qceas.qnn import QNN, NoiseModel
from qceas.qnn.timing import compute_times
from qceas.reproducibility import deterministic
from qceas.streams import SLOWDOWNS, stream
from qceas.training.config import RunConfig


@dataclass(frozen=True)
class Scenario:
    """A built experiment for one seed."""

    config: RunConfig
    seed: int
    model: QNN
    dataset: Dataset
    shards: tuple[tuple[NDArray[np.float64], NDArray[np.int64]], ...]
    noises: tuple[NoiseModel, ...]
    initial_params: NDArray[np.float64]

    @property
    def n_nodes(self) -> int:
        return len(self.shards)


@deterministic
def build_scenario(config: RunConfig, seed: int) -> Scenario:
    """Load the data, split it across nodes, assign noise and draw θ_0 for ``seed``.

    Raises:
        ConfigError: a rule that needs the data to check (e.g. more nodes than samples).
    """
    rng = np.random.default_rng(seed)
    cfg, m = config.data, config.model
    try:
        dataset = load_dataset(
            cfg.dataset,
            n_features=m.n_qubits,
            test_fraction=cfg.test_fraction,
            rng=rng,
            classes=cfg.classes,
            max_samples=cfg.max_samples,
            **dict(cfg.params),
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if m.readout == "binary" and dataset.n_classes != 2:
        raise ConfigError(
            f"model.readout = 'binary': dataset {cfg.dataset!r} has {dataset.n_classes} "
            "classes; choose two with data.classes"
        )
    if m.readout == "multiclass" and dataset.n_classes > m.n_qubits:
        raise ConfigError(
            f"model.n_qubits = {m.n_qubits}: multiclass readout measures one qubit per "
            f"class and dataset {cfg.dataset!r} has {dataset.n_classes} classes; "
            "raise n_qubits or choose fewer with data.classes"
        )
    model = QNN(
        m.n_qubits,
        m.layers,
        encoding=m.encoding,
        entangler=m.entangler,
        topology=m.topology,
        readout=m.readout,
        n_classes=dataset.n_classes,
        output_scale=m.output_scale,
    )
    n_nodes = config.nodes.count
    try:
        if cfg.split == "iid":
            parts = split_iid(dataset.y_train.shape[0], n_nodes, rng=rng)
        else:
            parts = split_dirichlet(dataset.y_train, n_nodes, cfg.alpha, rng=rng)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    shards = tuple((dataset.x_train[idx], dataset.y_train[idx]) for idx in parts)
    noises = tuple(config.noise.node_models(n_nodes, m.n_qubits))
    return Scenario(
        config=config,
        seed=seed,
        model=model,
        dataset=dataset,
        shards=shards,
        noises=noises,
        initial_params=model.init_params(rng=rng),
    )


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
    from qceas.training.strategies import make_strategy

    if config.security.key_source != "network":
        return []
    out: list[str] = []
    for name in config.training.strategies:
        strategy = make_strategy(name, config.training.compositions)
        if strategy.authenticates:
            scheduler = getattr(strategy, "scheduler", None) or config.security.scheduler
            if scheduler not in out:
                out.append(scheduler)
    return out


def check_ready_times(config: RunConfig, seeds: Sequence[int]) -> None:
    """Raise ConfigError now, not mid-run, where a compute-timed demand (``schedule``,
    and the key demand where a strategy draws keys from the network) does not fit its
    round for one of ``seeds``."""
    from qceas.network.setup import demand_of

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
