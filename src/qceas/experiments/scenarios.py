"""Built-in scenarios shipped with the package, and resolution of a user's argument.

A scenario is an ordinary config file stored under ``qceas/experiments/scenarios/``;
``qceas run NAME`` and ``qceas run path/to/config.yaml`` go through the same loader.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from qceas.experiments.config import (
    ConfigError,
    ExperimentConfig,
    from_dict,
    load_config,
    parse_text,
)

DEFAULT_SCENARIO = "quick"


def scenario_names() -> list[str]:
    """Names of the built-in scenarios."""
    folder = resources.files("qceas.experiments") / "scenarios"
    return sorted(p.name[: -len(".yaml")] for p in folder.iterdir() if p.name.endswith(".yaml"))


def load_scenario(name: str) -> ExperimentConfig:
    """The built-in scenario ``name``."""
    if name not in scenario_names():
        raise ConfigError(
            f"scenario {name!r}: no built-in scenario or config file of that name "
            f"(built-in: {', '.join(scenario_names())})"
        )
    text = (resources.files("qceas.experiments") / "scenarios" / f"{name}.yaml").read_text()
    return from_dict(parse_text(text, origin=f"scenario {name}"))


def resolve(target: str | None) -> ExperimentConfig:
    """A config from a built-in scenario name, a config file path, or None (default)."""
    if target is None:
        return load_scenario(DEFAULT_SCENARIO)
    path = Path(target)
    if path.suffix in {".yaml", ".yml", ".toml"} or path.exists():
        return load_config(path)
    return load_scenario(target)
