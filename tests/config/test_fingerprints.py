"""Every built-in scenario's fingerprint, pinned.

A fingerprint names the result directories a config may resume or reuse
(``ExperimentConfig.fingerprint``); a change to it orphans every result written
before. These values were printed at 7a66e02 (before the config moved into its
packages) and must not change unless the numbers of a run change, in which case
``EVALUATION`` goes up and the values here are updated in the same commit (last: 4,
when the oblivious and greedy schedulers began to keep their attempt draws; 5 changed
only configs above ``MAX_PAULI_QUBITS`` qubits, none of the built-in scenarios).
"""

from __future__ import annotations

import pytest

from qceas.config import from_dict
from qceas.experiments.scenarios import load_scenario, scenario_names
from qceas.training.config import RunConfig

PINNED = {
    "byzantine": "994ff51963836771",
    "byzantine-inflation": "378cef094399a3b6",
    "byzantine-network": "bee4b7676c32d946",
    "byzantine-signflip": "69aefeecaf051c05",
    "byzantine-sweep": "712726b84e18257b",
    "chain-inesta": "78dfbb9200713549",
    "chain-memory": "b31376eb5bfe2d66",
    "coherence-sweep": "a13545776c67a513",
    # The consensus scenarios set only the consensus section (no training number):
    # the defaults' fingerprint.
    "consensus": "f5c7584b06713206",
    "consensus-attacks": "f5c7584b06713206",
    "consensus-coherence": "d7fd42c736e15bf1",
    "consensus-fixed": "2ddf98350fc76964",
    "consensus-training": "1b0565f59981d550",
    "faults": "2d1d30fe6963338f",
    "heterogeneity-sweep": "0a164134c496f6c8",
    "heterogeneous": "4383677dc14d4871",
    "heterogeneous-depolarizing": "cfc28d9fda243de8",
    "hybrid": "8c9a4d6e84c20c74",
    "model-level": "0a92339151be125a",
    "pair-fidelity-sweep": "77770c247188fcf1",
    "paper": "d3acca3d9b35f3e1",
    "paper-ipm": "845f589deb6b1202",
    "paper-multihop": "d515e380729a3c40",
    "paper-multihop-sc": "cc30f5b9fd5e706a",
    "paper-multihop-purify": "db8ff02532789ce0",
    "coherence-multihop": "a463881636171067",
    "paper-multihop-purify-m8": "b547a18b2cd35b9d",
    "paper-signalling": "fca6ed1a6db3fbc7",
    "partition-compare": "b492087b85223ae5",
    "quick": "a01aa3d1a2b9b1c6",
    "scale-1000": "f700961997bb13e1",
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


def test_evaluation_5_moves_only_registers_above_the_dense_pauli_path() -> None:
    """Version 5 changed the numbers of circuits above MAX_PAULI_QUBITS qubits (the
    gate-local kernels and the reverse pass) and no other: a 4-qubit config keeps its
    version-4 fingerprint, which is therefore not among the refused ones; a 6-qubit
    config's version-4 directories are refused."""
    small = load_scenario("quick")
    assert small.fingerprint() == small._fingerprint(4)
    assert small.fingerprint() not in small.legacy_fingerprints().values()
    raw = small.to_dict()
    raw["model"]["n_qubits"] = 6
    large = from_dict(raw)
    assert large.fingerprint() != large._fingerprint(4)
    assert large.legacy_fingerprints()[4] == large._fingerprint(4)
