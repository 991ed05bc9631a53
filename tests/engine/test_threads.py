"""Numbers that do not depend on threads (``qceas.reproducibility``).

* the scope: inside it every BLAS pool has one thread, outside the caller's setting
  is back; nested scopes and scopes entered from several threads end with the last;
* the same nodes (noise, shots, QFI and teleported-gate errors mixed, three batches)
  evaluated with 1, 2 and 4 BLAS threads set by the caller, on the local engine with
  1, 2 and 4 worker threads and on Ray: bit-identical;
* a few rounds of a shot-based training run (several batches, an attack, a robust
  rule) under the same settings: identical tables;
* processes started with ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` = 1, 2, 4:
  the same bytes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from qceas.config import EngineConfig, from_dict
from qceas.engine import Engine, make_engine
from qceas.engine.local import LocalEngine
from qceas.experiments import resolve, run_experiment
from qceas.qnn import QNN, NoiseModel
from qceas.qnn.partition import Partition, teleported_block
from qceas.reproducibility import environment, single_threaded_blas, thread_pools

#: Three batches of nodes: worker threads and Ray tasks get something to split.
COUNT = 2 * 64 + 5
KINDS = [
    {"shots": 50},
    {"depolarizing": 0.05, "readout_error": 0.02, "shots": 80},
    {"depolarizing": 0.1},
    {},
    {"amplitude_damping": 0.03, "shots": 50},
]


def _nodes(count: int = COUNT) -> tuple[QNN, np.ndarray, list, list, list]:
    rng = np.random.default_rng(11)
    model = QNN(4, 2, n_classes=3)
    params = model.init_params(rng=rng)
    noises = [NoiseModel.build(4, **KINDS[k % len(KINDS)]) for k in range(count)]
    shards = [
        (rng.uniform(-np.pi, np.pi, size=(2 + k % 5, 4)), rng.integers(0, 3, size=2 + k % 5))
        for k in range(count)
    ]
    block = teleported_block(model.ansatz, Partition.contiguous(4, 2), 0.85)
    blocks = [block if k % 4 == 1 else None for k in range(count)]
    return model, params, shards, noises, blocks


def _evaluate(engine: Engine, outside_threads: int | None) -> tuple[np.ndarray, ...]:
    """The nodes' results on ``engine``, called with ``outside_threads`` BLAS threads
    (None: as the process has them)."""
    model, params, shards, noises, blocks = _nodes()
    limit = nullcontext() if outside_threads is None else threadpool_limits(outside_threads)
    with limit:
        ran = engine.evaluate_nodes(
            model,
            params,
            shards,
            noises,
            qfi=True,
            node_rngs=[np.random.default_rng([5, k]) for k in range(COUNT)],
            data_sizes=None,
            blocks=blocks,
        )
    assert ran.qfi is not None
    return ran.loss, ran.gradient, ran.qfi, ran.accuracy


def _same(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> bool:
    return all(x.tobytes() == y.tobytes() for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------------- the scope
def blas_threads(process_wide_only: bool = False) -> list[int]:
    """The threads of every pool as this thread sees them (or only the pools with a
    process-wide setting: a per-thread pool, e.g. OpenMP's, is the calling thread's)."""
    return [p["threads"] for p in thread_pools() if p["process_wide"] or not process_wide_only]


def test_the_scope_gives_every_pool_one_thread_and_restores_the_callers() -> None:
    with threadpool_limits(2):
        assert set(blas_threads()) == {2}
        with single_threaded_blas():
            assert set(blas_threads()) == {1}
            with single_threaded_blas():
                assert set(blas_threads()) == {1}
            assert set(blas_threads()) == {1}  # the inner end leaves the limit on
            recorded = environment()
        assert set(blas_threads()) == {2}
    assert {lib["threads_outside_qceas"] for lib in recorded["blas"]} == {2}
    assert recorded["blas_threads_in_qceas"] == 1
    assert recorded["numpy"] == np.__version__


def test_scopes_from_several_threads_end_with_the_last() -> None:
    entered, release = threading.Barrier(3), threading.Event()
    seen: list[list[int]] = []

    def worker() -> None:
        with single_threaded_blas():
            entered.wait(timeout=30)
            release.wait(timeout=30)
            seen.append(blas_threads())

    with threadpool_limits(2):
        threads = [threading.Thread(target=worker, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        try:
            entered.wait(timeout=30)  # both inside
            inside = blas_threads(process_wide_only=True)
        finally:
            release.set()
            for t in threads:
                t.join(timeout=30)
        assert set(inside) == {1}
        assert set(blas_threads()) == {2}
    assert all(set(s) == {1} for s in seen)


def test_an_error_inside_the_scope_restores_the_threads() -> None:
    with threadpool_limits(2):
        with pytest.raises(RuntimeError), single_threaded_blas():
            raise RuntimeError("boom")
        assert set(blas_threads()) == {2}


def test_the_model_computes_with_one_thread() -> None:
    """The entry points enter the scope themselves (a spy inside a kernel)."""
    import qceas.qnn.model as model_module

    model, params, shards, noises, _ = _nodes(3)
    original, counts = model_module.loss_and_cotangent, []

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts.append(blas_threads())
        return original(*args, **kwargs)

    model_module.loss_and_cotangent = spy
    try:
        with threadpool_limits(2):
            model.evaluate_nodes(params, shards, noises, node_rngs=[np.random.default_rng(0)] * 3)
    finally:
        model_module.loss_and_cotangent = original
    assert counts
    assert all(set(c) == {1} for c in counts)


# --------------------------------------------------------------- the same numbers
@pytest.fixture(scope="module")
def reference() -> tuple[np.ndarray, ...]:
    return _evaluate(LocalEngine(threads=1), 1)


@pytest.mark.parametrize("outside", [1, 2, 4])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_the_local_engine_gives_the_same_bits_whatever_the_threads(
    reference: tuple[np.ndarray, ...], outside: int, workers: int
) -> None:
    assert _same(_evaluate(LocalEngine(threads=workers), outside), reference)


@pytest.mark.parametrize("outside", [1, 2, 4])
def test_ray_gives_the_same_bits_whatever_the_drivers_threads(
    reference: tuple[np.ndarray, ...], ray_engine: Engine, outside: int
) -> None:
    assert _same(_evaluate(ray_engine, outside), reference)


def _training_config():  # type: ignore[no-untyped-def]
    """Three rounds of 70 nodes (two batches) with 60 shots, ALIE with QFI inflation,
    CEAS (weighted median, QFI weights) and the mean."""
    return from_dict(
        {
            "name": "threads",
            "model": {"n_qubits": 4, "layers": 2},
            "data": {"dataset": "moons", "params": {"n_samples": 700}},
            "nodes": {"count": 70},
            "noise": {"depolarizing": {"low": 0.01, "high": 0.08, "noisy_fraction": 0.5}},
            "training": {"rounds": 3, "batch_size": 4, "strategies": ["fedavg", "ceas"]},
            "adversary": {"fraction": 0.2, "attack": "alie", "qfi_inflation": 10.0},
        },
        base=from_dict({"noise": {"shots": 60}}, base=resolve("quick")),
    )


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("reference")
    with threadpool_limits(1):
        run_experiment(
            _training_config(), out, progress=False, plot=False, engine=LocalEngine(threads=1)
        )
    return {t: (out / t).read_bytes() for t in ("metrics.csv", "node_metrics.csv")}


@pytest.mark.parametrize(
    ("outside", "engine_name", "workers"),
    [(2, "local", 2), (4, "local", 1), (4, "local", 4), (2, "ray", None), (4, "ray", None)],
)
def test_a_training_run_gives_the_same_tables_whatever_the_threads(
    reference_run: dict[str, bytes],
    tmp_path: Path,
    outside: int,
    engine_name: str,
    workers: int | None,
    request: pytest.FixtureRequest,
) -> None:
    engine = (
        request.getfixturevalue("ray_engine")
        if engine_name == "ray"
        else make_engine(EngineConfig(name="local", num_cpus=workers))
    )
    with threadpool_limits(outside):
        run_experiment(_training_config(), tmp_path, progress=False, plot=False, engine=engine)
    for table, expected in reference_run.items():
        assert (tmp_path / table).read_bytes() == expected, table


#: A child that evaluates the nodes and prints the SHA-256 of every result's bytes.
_CHILD = """
import hashlib, importlib.util, sys
spec = importlib.util.spec_from_file_location("threads_test", sys.argv[1])
t = importlib.util.module_from_spec(spec)
spec.loader.exec_module(t)
from qceas.engine.local import LocalEngine
from qceas.reproducibility import thread_pools, usable_cpus
# The variables took effect (OpenBLAS caps its threads at the CPU count).
wide = [p["threads"] for p in thread_pools() if p["process_wide"]]
want = min(int(sys.argv[2]), usable_cpus())
assert wide and max(wide) == want, (want, thread_pools())
digest = hashlib.sha256(b"".join(a.tobytes() for a in t._evaluate(LocalEngine(), None)))
print(digest.hexdigest())
"""


def test_processes_with_any_thread_variables_give_the_same_bytes() -> None:
    digests = set()
    for threads in ("1", "2", "4"):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads}
        env["MKL_NUM_THREADS"] = threads
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(Path(__file__).resolve()), threads],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        digests.add(done.stdout.strip().splitlines()[-1])
    reference = hashlib.sha256(
        b"".join(a.tobytes() for a in _evaluate(LocalEngine(threads=1), 1))
    ).hexdigest()
    assert digests == {reference}
