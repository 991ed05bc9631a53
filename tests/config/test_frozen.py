"""A validated config cannot change: every section frozen, hashable, deeply immutable.

* contract over every built-in scenario and every section: the config and each section
  hash; assigning any field raises ``FrozenInstanceError``; no field holds a list, a
  dict or a set at any depth; a mapping field refuses item assignment with a clear
  message, a sequence field has no ``append``;
* property: ``freeze`` makes any YAML-like value hashable and changes none of its
  plain data (so YAML files and fingerprints are as before).
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qceas.config import (
    SECTIONS,
    ExperimentConfig,
    FrozenMapping,
    freeze,
    from_dict,
    parse_text,
    plain,
)
from qceas.experiments import resolve, scenario_names

CONFIGS = ["default", *scenario_names()]


def _config(name: str) -> ExperimentConfig:
    return ExperimentConfig() if name == "default" else resolve(name)


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every container and value below ``value``, with its path."""
    yield path, value
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}")
    elif isinstance(value, tuple):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")


@pytest.mark.parametrize("name", CONFIGS)
def test_every_config_and_section_is_hashable_and_survives_copies(name: str) -> None:
    config = _config(name)
    assert hash(config) == hash(pickle.loads(pickle.dumps(config)))
    assert copy.deepcopy(config) == config
    for section in SECTIONS:
        hash(getattr(config, section))


@pytest.mark.parametrize("name", CONFIGS)
@pytest.mark.parametrize("section", list(SECTIONS))
def test_no_field_of_a_section_can_be_changed(name: str, section: str) -> None:
    part = getattr(_config(name), section)
    for f in dataclasses.fields(part):
        value = getattr(part, f.name)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(part, f.name, value)
        for where, leaf in _leaves(value, f"{section}.{f.name}"):
            assert not isinstance(leaf, list | dict | set), f"{where} is a {type(leaf)}"
            if isinstance(leaf, Mapping):
                with pytest.raises(TypeError, match="a validated config is read-only"):
                    leaf["x"] = 1  # type: ignore[index]
                with pytest.raises(TypeError, match="read-only"):
                    leaf.update({"x": 1})  # type: ignore[attr-defined]
            if isinstance(leaf, tuple):
                assert not hasattr(leaf, "append")


def test_the_mutations_of_the_issue_are_refused() -> None:
    config = ExperimentConfig()
    with pytest.raises(AttributeError):
        config.schedule.policies.append("zzz")  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="from_dict"):
        config.data.params["x"] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.model.n_qubits = 5  # type: ignore[misc]
    assert isinstance(hash(config.schedule), int)


def test_nested_yaml_values_are_frozen_all_the_way_down() -> None:
    text = """
nodes: {count: 2}
noise:
  depolarizing: [[0.01, 0.02, 0.0, 0.0], 0.05]
  amplitude_damping: {low: 0.0, high: [0.01, 0.01, 0.02, 0.0], noisy_fraction: 0.5}
schedule: {params: {ceas: {pair_cost: 0.5}}, policies: [ceas, greedy]}
sweep: {adversary: [{attack: ipm, params: {epsilon: 10}}, {attack: alie}]}
"""
    config = from_dict(parse_text(text))
    assert config.noise.depolarizing == ((0.01, 0.02, 0.0, 0.0), 0.05)
    assert isinstance(config.noise.amplitude_damping, FrozenMapping)
    assert config.schedule.params == {"ceas": {"pair_cost": 0.5}}
    assert isinstance(config.sweep["adversary"][0]["params"], FrozenMapping)
    hash(config)
    # The plain data (YAML, fingerprint) is what was written.
    again = from_dict(config.to_dict())
    assert again == config
    assert again.fingerprint() == config.fingerprint()
    assert config.to_dict()["noise"]["depolarizing"] == [[0.01, 0.02, 0.0, 0.0], 0.05]


_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_yaml_like = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(_yaml_like)
def test_freeze_makes_any_value_hashable_and_keeps_its_plain_data(value: Any) -> None:
    frozen = freeze(value)
    hash(frozen)
    assert plain(frozen) == plain(value)
    assert freeze(frozen) == frozen
    assert pickle.loads(pickle.dumps(frozen)) == frozen
