"""A scenario: everything fixed before the first round, built from a config and a seed.

The dataset, its test split, the shards of the nodes, the nodes' noise and the initial
parameters depend only on (config, seed) — never on the strategy — so strategies run
with the same seed are compared on identical problems. What a strategy's run draws
itself starts from ``qceas.streams.run_entropy`` (every stream in ``qceas.streams``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError
from qceas.data import Dataset, load_dataset, split_dirichlet, split_iid
from qceas.qnn import QNN, NoiseModel
from qceas.reproducibility import deterministic
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
        qfi_estimator=m.qfi_estimator,
        qfi_samples=m.qfi_samples,
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
