"""Config loading and validation: every rule names the field, the value and the rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qceas.config import (
    ConfigError,
    ExperimentConfig,
    NoiseConfig,
    dump_yaml,
    from_dict,
    load_config,
)
from qceas.experiments import load_scenario, scenario_names
from qceas.training import build_scenario


def _raises(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        from_dict(raw)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"nodes": {"count": 4}, "noise": {"depolarizing": [0.1, 0.2, 0.0, 1.4]}},
            "noise.depolarizing[3] = 1.4: must be in [0, 1]",
        ),
        ({"noise": {"depolarizing": -0.1}}, "noise.depolarizing = -0.1: must be in [0, 1]"),
        ({"noise": {"readout_error": 2}}, "noise.readout_error = 2: must be in [0, 1]"),
        (
            {"noise": {"amplitude_damping": [[0.1, 0.2, 3.0, 0.0]]}},
            "noise.amplitude_damping[0][2] = 3.0: must be in [0, 1]",
        ),
        ({"noise": {"shots": 0}}, "noise.shots = 0: must be an integer in [1, 1000000000]"),
        ({"noise": {"shots": 1.5}}, "noise.shots = 1.5: must be an integer in [1, 1000000000]"),
        (
            {"noise": {"depolarizing": {"low": 0.1, "high": 0.2}}},
            "a group mapping needs exactly the keys low, high, noisy_fraction",
        ),
        (
            {"nodes": {"count": 3}, "noise": {"depolarizing": [0.1, 0.2]}},
            "noise.depolarizing = [0.1, 0.2]: a list must have one entry per node (3)",
        ),
        (
            {"nodes": {"count": 1}, "noise": {"depolarizing": [[0.1, 0.2]]}},
            "noise.depolarizing[0] = [0.1, 0.2]: a per-qubit list must have 4 entries",
        ),
        ({"model": {"n_qubits": 0}}, "model.n_qubits = 0: must be an integer in [1, 10]"),
        ({"model": {"n_qubits": 11}}, "model.n_qubits = 11: must be an integer in [1, 10]"),
        ({"model": {"layers": 0}}, "model.layers = 0: must be an integer in [1, 1000]"),
        (
            {"model": {"encoding": "amplitude"}},
            "model.encoding = 'amplitude': must be one of angle, reupload",
        ),
        (
            {"model": {"output_scale": -1}},
            "model.output_scale = -1: must be a number in (0, 1e+06]",
        ),
        (
            {"data": {"dataset": "mnist"}},
            "data.dataset = 'mnist': must be one of breast_cancer, circles, digits, iris, "
            "moons, wine",
        ),
        ({"data": {"test_fraction": 1.5}}, "data.test_fraction = 1.5: must be in (0, 1)"),
        ({"data": {"split": "shards"}}, "data.split = 'shards': must be one of iid, dirichlet"),
        ({"data": {"alpha": 0}}, "data.alpha = 0: must be a number in (0, 1e+06]"),
        ({"nodes": {"count": 0}}, "nodes.count = 0: must be an integer in [1, 1000000]"),
        (
            {"training": {"strategies": ["fedavg", "krum9"]}},
            "training.strategies[1] = 'krum9': must be one of ceas, ceas-no-auth,",
        ),
        (
            {"training": {"strategies": "fedavg"}},
            "training.strategies = 'fedavg': must be a list of names",
        ),
        ({"training": {"rounds": 0}}, "training.rounds = 0: must be an integer in [1, 1000000]"),
        (
            {"optimizer": {"name": "lbfgs"}},
            "optimizer.name = 'lbfgs': must be one of adam, sgd",
        ),
        (
            {"optimizer": {"learning_rate": 0}},
            "optimizer.learning_rate = 0: must be a number in (0, 1e+06]",
        ),
        ({"seeds": 0}, "seeds = 0: must be an integer in [1, 1000000]"),
        ({"model": {"qubits": 4}}, "model.qubits: unknown key (known: n_qubits, layers,"),
        ({"modle": {}}, "modle: unknown key (known: name, seed, seeds, model, data,"),
        ({"model": 4}, "model: must be a mapping of settings, got 4"),
    ],
)
def test_invalid_values_name_field_value_and_rule(raw: dict, message: str) -> None:
    _raises(raw, message)


def test_rules_that_need_the_data() -> None:
    too_many = from_dict({"nodes": {"count": 500}})
    with pytest.raises(
        ConfigError,
        match=re.escape("nodes.count = 500: must be <= the number of training samples (105)"),
    ):
        build_scenario(too_many, 0)
    classes = from_dict({"data": {"dataset": "digits"}})
    with pytest.raises(ConfigError, match=re.escape("dataset 'digits' has 10 classes")):
        build_scenario(classes, 0)


def test_defaults_are_valid_and_round_trip_through_yaml(tmp_path: Path) -> None:
    config = ExperimentConfig()
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(config))
    assert load_config(path) == config
    assert load_config(path).fingerprint() == config.fingerprint()


def test_toml_configs_load(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('name = "t"\n[model]\nn_qubits = 3\n[noise]\ndepolarizing = 0.05\n')
    config = load_config(path)
    assert config.model.n_qubits == 3
    assert config.noise.depolarizing == 0.05


def test_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}:2:1: not valid YAML")):
        load_config(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="must be a mapping of sections at the top level"):
        load_config(top)


def test_group_noise_assigns_the_last_nodes() -> None:
    noise = NoiseConfig(depolarizing={"low": 0.01, "high": 0.3, "noisy_fraction": 0.25})
    models = noise.node_models(8, 2)
    assert [m.depolarizing[0] for m in models] == [0.01] * 6 + [0.3] * 2


def test_per_node_and_per_qubit_noise_and_shots() -> None:
    noise = NoiseConfig(depolarizing=[0.1, [0.0, 0.2]], shots=[None, 100])
    models = noise.node_models(2, 2)
    assert models[0].depolarizing == (0.1, 0.1)
    assert models[1].depolarizing == (0.0, 0.2)
    assert (models[0].shots, models[1].shots) == (None, 100)


def test_fingerprint_ignores_name_and_seed_count_only() -> None:
    base = ExperimentConfig()
    assert base.replace(name="other", seeds=5).fingerprint() == base.fingerprint()
    assert base.replace(seed=1).fingerprint() != base.fingerprint()


@pytest.mark.parametrize("name", scenario_names())
def test_every_builtin_scenario_is_valid(name: str) -> None:
    config = load_scenario(name)
    scenario = build_scenario(config, config.seed)
    assert scenario.n_nodes == config.nodes.count


def test_group_noise_takes_per_qubit_lists() -> None:
    noise = NoiseConfig(
        amplitude_damping={"low": 0.0, "high": [0.05, 0.4, 0.05, 0.4], "noisy_fraction": 0.5}
    )
    models = noise.node_models(4, 4)
    assert models[0].amplitude_damping == (0.0,) * 4
    assert models[3].amplitude_damping == (0.05, 0.4, 0.05, 0.4)
    with pytest.raises(ConfigError, match=re.escape("noise.amplitude_damping.high[1] = 2.0")):
        NoiseConfig(amplitude_damping={"low": 0.0, "high": [0.1, 2.0], "noisy_fraction": 0.5})
    with pytest.raises(ConfigError, match="a per-qubit list must have 3 entries"):
        noise.node_models(4, 3)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"optimizer": {"params": {"foo": 1}}},
            "optimizer.params.foo: unknown parameter of adam (known: beta1, beta2, eps)",
        ),
        (
            {"optimizer": {"params": {"learning_rate": 1}}},
            "optimizer.params.learning_rate: set optimizer.learning_rate",
        ),
        (
            {"optimizer": {"name": "sgd", "params": {"momentum": "0.9"}}},
            "optimizer.params.momentum = '0.9': must be a number (YAML read 0.9 as text",
        ),
        ({"optimizer": {"params": {"eps": -1}}}, "optimizer.eps = -1: must be > 0"),
        ({"seed": 1.0}, "seed = 1.0: must be an integer in [0, 9223372036854775807]"),
        (
            {"optimizer": {"learning_rate": "1e-3"}},
            "optimizer.learning_rate = '1e-3': must be a number in (0, 1e+06] (YAML read 1e-3 as "
            "text; write it with a dot, e.g. 1.0e-3)",
        ),
    ],
)
def test_more_invalid_values(raw: dict, message: str) -> None:
    _raises(raw, message)


def test_group_noise_rounds_half_up() -> None:
    noise = NoiseConfig(depolarizing={"low": 0.0, "high": 0.5, "noisy_fraction": 0.5})
    for count, noisy in [(3, 2), (5, 3), (7, 4)]:
        models = noise.node_models(count, 1)
        assert sum(m.depolarizing[0] == 0.5 for m in models) == noisy


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"network": {"topology": "mesh"}}, "network.topology = 'mesh': must be one of"),
        (
            {"network": {"initial_fidelity": [0.2, 0.9]}},
            "network.initial_fidelity = [0.2, 0.9]: every value must be in [0.25, 1]",
        ),
        (
            {"network": {"initial_fidelity": [0.95, 0.85]}},
            "network.initial_fidelity = [0.95, 0.85]: a range must have low <= high",
        ),
        (
            {"network": {"coherence_time_s": -1.0}},
            "network.coherence_time_s = -1.0: every value must be in (0, 1e+06]",
        ),
        (
            {"network": {"memory_slots": 0}},
            "network.memory_slots = 0: must be an integer in [1, 1000000]",
        ),
        (
            {"network": {"link_length_km": -5.0}},
            "network.link_length_km = -5.0: must be a number in (0, 40075]",
        ),
        (
            {"network": {"topology": "file"}},
            "network.path = None: the 'file' topology needs a path",
        ),
        (
            {"network": {"aggregator_coherence_time_s": 0}},
            "network.aggregator_coherence_time_s = 0: must be a number in (0, 1e+06]",
        ),
        ({"schedule": {"policies": []}}, "schedule.policies = []: must be a non-empty list"),
        (
            {"schedule": {"policies": ["ceas", "ceas"]}},
            "schedule.policies = ['ceas', 'ceas']: must not repeat a policy",
        ),
        (
            {"schedule": {"params": {"ceas": {"pair_cost": -1}}}},
            "schedule.params.ceas.pair_cost = -1: must be a number >= 0",
        ),
        (
            {"schedule": {"params": {"greedy": {"bogus": 1}}}},
            "schedule.params.greedy.bogus: unknown parameter of scheduler 'greedy' "
            "(known: cutoff_s)",
        ),
        ({"schedule": {"window_s": 0.5}}, "schedule.window_s = 0.5: must be <= round_period_s"),
        ({"schedule": {"purification": "x"}}, "schedule.purification = 'x': must be one of"),
        (
            {"schedule": {"coherence_sweep_s": [1.0e-3, 0]}},
            "schedule.coherence_sweep_s[1] = 0: must be a number in (0, 1e+06]",
        ),
        ({"schedule": {"network": 1}}, "schedule.network: unknown key"),
    ],
)
def test_network_and_schedule_rules_are_named(raw: dict, message: str) -> None:
    _raises(raw, message)


def test_network_sections_at_defaults_leave_fingerprints_unchanged() -> None:
    base = ExperimentConfig()
    changed = from_dict({"network": {"memory_slots": 8}})
    assert changed.fingerprint() != base.fingerprint()
    same = from_dict({"network": {"memory_slots": 4}, "schedule": {"rounds": 20}})
    assert same.fingerprint() == base.fingerprint()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # a library message that names a thing, not an argument, is not made a path
        (
            {"network": {"topology": "ring", "path": "g.txt"}},
            "network.path = 'g.txt': only the 'file' topology reads a file, not 'ring'",
        ),
        (
            {"partition": {"scheduler_params": {"greedy": {"cutoff_s": None}}}},
            "partition.scheduler_params.greedy.cutoff_s = None: leave it out for its default",
        ),
        (
            {"schedule": {"params": {"ceas": {"max_memory": None}}}},
            "schedule.params.ceas.max_memory = None: leave it out for its default",
        ),
    ],
)
def test_library_errors_read_as_the_yaml_path_the_user_set(raw: dict, message: str) -> None:
    from qceas.network.setup import network_of

    def build() -> None:  # the section rules, then the network builder
        config = from_dict(raw)
        network_of(config.network, config.nodes.count, config.seed)

    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        build()


def test_under_keeps_a_message_that_already_says_where() -> None:
    from qceas._rules import under

    assert str(under("network", ValueError("network: node 1 has no route"))) == (
        "network: node 1 has no route"
    )
    assert str(under("network", ValueError("efficiency = 0: must be in (0, 1]"))) == (
        "network.efficiency = 0: must be in (0, 1]"
    )
    assert str(under("partition", ValueError("a graph with no links"))) == (
        "partition: a graph with no links"
    )
