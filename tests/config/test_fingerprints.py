"""Every built-in scenario's fingerprint, pinned.

A fingerprint names the result directories a config may resume or reuse
(``ExperimentConfig.fingerprint``); a change to it orphans every result written
before. These values were printed at 7a66e02 (before the config moved into its
packages) and must not change unless the numbers of a run change, in which case
``EVALUATION`` goes up and the values here are updated in the same commit.
"""

from __future__ import annotations

import pytest

from qceas.experiments.scenarios import load_scenario, scenario_names
from qceas.training.config import RunConfig

PINNED = {
    "byzantine": "dd6f41e7bc6fcfa6",
    "byzantine-inflation": "8849ea8d277607da",
    "byzantine-network": "a3a12e4e5b477829",
    "byzantine-signflip": "0b3e44df3c739e1a",
    "byzantine-sweep": "823daa0964cc7daf",
    "chain-inesta": "d84bd01ee0ffc8bf",
    "chain-memory": "61f591d2cb753850",
    "coherence-sweep": "3db12aaf9b639852",
    # The consensus scenarios set only the consensus section (no training number):
    # the defaults' fingerprint.
    "consensus": "9723a15c617792dd",
    "consensus-attacks": "9723a15c617792dd",
    "consensus-coherence": "98e2c0bdc34a39a6",
    "consensus-fixed": "2d28ac0114dcc2b8",
    "consensus-training": "27071bcff9c6c002",
    "faults": "704fdb89a058b147",
    "heterogeneity-sweep": "c55a7ce1836a3b9b",
    "heterogeneous": "f581a5cdf6fd3f5e",
    "heterogeneous-depolarizing": "ec1b040729ff70ce",
    "hybrid": "1ebe26c71bfea873",
    "model-level": "31a66aea9c7f5d41",
    "pair-fidelity-sweep": "b83781cbfab051cc",
    "paper": "cc80ceb5bd2a1471",
    "paper-ipm": "2d993be87d6c3820",
    "paper-multihop": "fb0feb857360e182",
    "paper-multihop-sc": "32133df8a356acc1",
    "paper-multihop-purify": "77e0dc11d0cb1ce7",
    "coherence-multihop": "834423598a3d3f5f",
    "paper-multihop-purify-m8": "6a95abea1fe06b50",
    "paper-signalling": "f34d327b9ad0569c",
    "partition-compare": "5f1f952e5cac4a71",
    "quick": "682fbb253f6db058",
    "scale-1000": "2cc3a30b5b09ee74",
}


def test_every_scenario_is_pinned() -> None:
    assert sorted(PINNED) == sorted(scenario_names())


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_fingerprint_is_unchanged(name: str) -> None:
    assert load_scenario(name).fingerprint() == PINNED[name]


@pytest.mark.parametrize("name", sorted(PINNED))
def test_the_fingerprint_ignores_what_changes_no_number(name: str) -> None:
    config = load_scenario(name)
    points = [point for _, point in config.sweep_points()] if config.sweep else [config]
    for point in points:
        assert type(point.run()) is RunConfig
        assert point.fingerprint() == point.replace(name="other", seeds=7).fingerprint()
