"""The private Ray the engine tests share (2 CPUs, loopback only), stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from qceas.config import EngineConfig
from qceas.engine import Engine, make_engine

RAY_CPUS = 2


@pytest.fixture(scope="session")
def ray_engine() -> Iterator[Engine]:
    """A private Ray with 2 CPUs on the loopback interface, stopped at the end."""
    ray = pytest.importorskip("ray")
    if ray.is_initialized():  # pragma: no cover - another test left one running
        pytest.skip("a Ray session is already running in this process")
    engine = make_engine(EngineConfig(name="ray", num_cpus=RAY_CPUS, batches_per_task=1))
    try:
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        assert ray.cluster_resources()["CPU"] == RAY_CPUS
        yield engine
    finally:
        engine.close()
    assert not ray.is_initialized()
