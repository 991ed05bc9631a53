"""Numbers that do not depend on the machine's threads: one BLAS thread while qceas
computes, and the record of what a run ran on.

The contract (README, "Reproducibility"): the numbers of a run depend only on its
config, its seed and the versions of qceas, numpy and the BLAS build (library,
version and the CPU kernel it selected), not on the core count, the thread variables
(``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``), the engine, the
number of Ray tasks or workers, or what else runs on the machine.

Why one BLAS thread. A multi-threaded BLAS splits a product into blocks by its thread
count, and the kernels treat the edge rows and columns of a block differently (other
vector widths, other summation orders), so the last bits of a result depend on how
many threads there were: measured here, ``qceas run quick`` wrote a different
``metrics.csv`` under ``OPENBLAS_NUM_THREADS=1`` than under the default two threads,
and a Ray worker (one thread) disagreed with its two-threaded driver in the last bit.
The circuits are small matrices, on which BLAS threads gain little (one round of 1000
four-qubit nodes: 7.1 s with two BLAS threads, 7.6 s with one), so every kernel runs
single-threaded and the parallelism comes from elsewhere: the engines evaluate fixed
node batches (``qceas.engine``) in parallel, threads of this process or Ray workers,
each batch by the same single-threaded call, which gives the same bits whatever runs
beside it. The alternatives were worse: pinning the thread count through the
environment works only before numpy is imported (too late for a library), and
BLAS-free kernels (``np.einsum`` without BLAS) are several times slower.

How. :func:`single_threaded_blas` sets every BLAS and OpenMP pool loaded in the
process (numpy's and scipy's OpenBLAS, or MKL) to one thread and restores them on exit;
threadpoolctl (the library scikit-learn uses for the same job) finds the pools and
their setters, so no library is probed by hand here. The scope is re-entrant and
counted across threads. A pool with one process-wide setting (OpenBLAS on pthreads,
the wheels' default) is set by the first scope the process opens and restored by the
last one to close, whichever threads they are in; a pool whose setting belongs to the
calling thread (OpenMP, an OpenMP OpenBLAS, MKL as threadpoolctl sets it) is set by
each thread's own first scope, so worker threads that enter a scope get one thread
too. While any thread is inside, the whole process computes with one BLAS thread
(process-wide pools cannot do otherwise), which is the point. Entry points that
compute a run's numbers enter it themselves: the model's evaluations
(``QNN.evaluate_nodes``, ``expectations``, ``jacobian``), the aggregators, the network
simulation and its schedulers' preparation, scenario building, the trainer, the
runners and the Ray tasks; a user who calls these from Python gets the numbers of a
``qceas run``.

What is not guaranteed: another BLAS library or version, or the same build selecting
another kernel (another CPU family, or ``OPENBLAS_CORETYPE`` set), may differ in the
last bits; :func:`environment` records all of these in ``summary.json`` so two result
directories can be compared. A BLAS that threadpoolctl cannot control (none is listed
in ``environment()["blas"]``) keeps its own threading, and the guarantee is then that
of the library.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any, ParamSpec, TypeVar

import numpy as np
import scipy.linalg  # noqa: F401  - loads scipy's own BLAS, so the limit covers it too
from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")

#: Thread variables a user may set; recorded with every run.
THREAD_VARIABLES: tuple[str, ...] = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "MKL_CBWR",
)

_lock = threading.Lock()
_depth = 0  # scopes open in the process
#: Each process-wide pool's thread count when the outermost scope began.
_saved: list[tuple[Any, int]] = []
_local = threading.local()  # per thread: its open scopes and its pools' saved counts
_controller: ThreadpoolController | None = None


def _blas_controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS/OpenMP pools, built once (~1 ms): numpy
    and scipy.linalg are imported above, so their libraries are in it."""
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def _per_thread(lib: Any) -> bool:
    """Whether a pool's limit belongs to the calling thread: OpenMP's (and an OpenMP
    OpenBLAS's) and MKL's as threadpoolctl sets them; OpenBLAS on pthreads, BLIS and
    FlexiBLAS have one process-wide setting."""
    return lib.internal_api in ("openmp", "mkl") or (
        getattr(lib, "threading_layer", None) == "openmp"
    )


def _set_threads(lib: Any, threads: int) -> None:
    """Set a pool's threads. For OpenBLAS on pthreads, threadpoolctl lets only the
    first Python thread that limited it change it again; this scope counts its
    entries across threads itself, so it calls the library's own setter."""
    setter = getattr(lib, "_real_set_num_threads", None) or lib.set_num_threads
    setter(threads)


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the body with every BLAS/OpenMP pool of the process at one thread.

    Re-entrant, from any thread: process-wide pools are set by the first scope the
    process opens and restored by the last one to close; per-thread pools (OpenMP,
    MKL) by each thread's own first and last scope.
    """
    global _depth, _saved
    libraries = _blas_controller().lib_controllers
    with _lock:
        if _depth == 0:
            _saved = [(lib, int(lib.num_threads)) for lib in libraries if not _per_thread(lib)]
            for lib, _ in _saved:
                _set_threads(lib, 1)
        _depth += 1
    depth = getattr(_local, "depth", 0)
    if depth == 0:
        _local.saved = [(lib, int(lib.num_threads)) for lib in libraries if _per_thread(lib)]
        for lib, _ in _local.saved:
            _set_threads(lib, 1)
    _local.depth = depth + 1
    try:
        yield
    finally:
        _local.depth -= 1
        if _local.depth == 0:
            for lib, threads in _local.saved:
                _set_threads(lib, threads)
        with _lock:
            _depth -= 1
            if _depth == 0:
                for lib, threads in _saved:
                    _set_threads(lib, threads)


def _outside_threads() -> list[int]:
    """Each pool's thread count outside qceas's scopes (what the caller set)."""
    saved: dict[int, int] = {}
    with _lock:
        if _depth:
            saved.update((id(lib), n) for lib, n in _saved)
    if getattr(_local, "depth", 0):
        saved.update((id(lib), n) for lib, n in _local.saved)
    libraries = _blas_controller().lib_controllers
    return [saved.get(id(lib), int(lib.num_threads)) for lib in libraries]


def deterministic(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorate an entry point so that it runs inside :func:`single_threaded_blas`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with single_threaded_blas():
            return fn(*args, **kwargs)

    return wrapper


def thread_pools() -> list[dict[str, Any]]:
    """Every loaded BLAS/OpenMP pool as the calling thread sees it now: its library
    (``api``), whether its setting is process-wide or the thread's own, and its
    threads (1 inside a :func:`single_threaded_blas` scope)."""
    return [
        {
            "api": str(lib.internal_api),
            "process_wide": not _per_thread(lib),
            "threads": int(lib.num_threads),
        }
        for lib in _blas_controller().lib_controllers
    ]


def blas_build() -> tuple[tuple[str, str, str], ...]:
    """(library, version, CPU kernel) of every loaded BLAS: with numpy's version, what
    must match between machines (or a driver and its workers) for identical numbers."""
    return tuple(
        sorted(
            (str(lib["internal_api"]), str(lib.get("version")), str(lib.get("architecture")))
            for lib in _blas_controller().info()
            if lib.get("user_api") == "blas"
        )
    )


def _cpu_model() -> str:
    """The CPU's name: /proc/cpuinfo on Linux, else what the platform says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith(("model name", "cpu model", "hardware")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> dict[str, Any]:
    """What a run ran on, for ``summary.json``: versions, BLAS builds, CPU, threads.

    Two result directories with equal ``qceas``, ``numpy`` and ``blas`` entries hold
    the same numbers for the same config and seed; where they differ, this says why.
    """
    libraries = _blas_controller().info()
    outside = _outside_threads()
    blas = [
        {
            "library": str(lib.get("prefix")),
            "api": str(lib.get("internal_api")),
            "version": lib.get("version"),
            "architecture": lib.get("architecture"),
            "threading_layer": lib.get("threading_layer"),
            "threads_outside_qceas": threads,
        }
        for lib, threads in zip(libraries, outside, strict=True)
    ]
    return {
        "qceas": _version("qceas"),
        "numpy": np.__version__,
        "scipy": _version("scipy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "usable_cpus": usable_cpus(),
        "blas": blas,
        "blas_threads_in_qceas": 1,
        "thread_variables": {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "byteorder": sys.byteorder,
    }


__all__ = [
    "THREAD_VARIABLES",
    "blas_build",
    "deterministic",
    "environment",
    "single_threaded_blas",
    "thread_pools",
    "usable_cpus",
]
