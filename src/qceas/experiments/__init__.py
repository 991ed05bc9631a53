"""Experiments: built-in scenarios, the resumable runner, result tables and plots."""

from qceas.experiments.runner import RunOutcome, run_experiment
from qceas.experiments.scenarios import DEFAULT_SCENARIO, load_scenario, resolve, scenario_names

__all__ = [
    "DEFAULT_SCENARIO",
    "RunOutcome",
    "load_scenario",
    "resolve",
    "run_experiment",
    "scenario_names",
]
