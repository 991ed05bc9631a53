"""The Ray engine: node batches as Ray tasks, on this machine or across a cluster.

Why Ray: it places tasks on the CPUs of every machine of a cluster, moves numpy
arrays through a shared object store without copies on a machine, and retries a
task whose worker died; nothing of that is ours to write. What is ours: splitting a
round's nodes into batches, and checking that the numbers cannot drift.

Where Ray runs (``EngineConfig``):

* ``engine.address``, else the environment's ``RAY_ADDRESS``: an existing cluster
  (``host:port`` of the head node, ``ray://host:port`` for Ray Client, or ``auto``).
  The address is tried over TCP first, so an unreachable one is a clear error within
  seconds instead of Ray's long retry loop.
* neither: a private Ray on this machine with ``engine.num_cpus`` CPUs (a new one,
  even where ``ray start`` left a cluster running), listening on the loopback
  interface only (Ray's own switch, see ``_loopback_only``), no dashboard, no usage
  statistics; it is stopped by :meth:`RayEngine.close`.
* a Ray already initialised in this process is used as it is, and left running.

Identical numbers: a task evaluates whole node batches (``qceas.engine.base``), each
by the same single-threaded ``QNN.evaluate_nodes`` call the local engine makes
(``qceas.reproducibility``), and every node's shot generator travels with it. That
holds bit for bit where the workers run the same qceas, numpy and BLAS build (library,
version and CPU kernel) as the driver: every task reports them and a mismatch is an
error, not a silent drift; ``tests/engine`` checks it with drivers of 1, 2 and 4 BLAS
threads against Ray's workers. A task that fails for another reason than bad input,
after Ray's retries, is an :class:`~qceas.engine.base.EngineError`.
"""

from __future__ import annotations

import logging
import math
import os
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np
from numpy.typing import NDArray

from qceas._rules import ConfigError
from qceas._version import __version__
from qceas.engine.base import BatchedEngine, EngineError, NodeInputs, evaluate_batches
from qceas.qnn.model import QNN, NodeEvaluation
from qceas.reproducibility import blas_build, single_threaded_blas

if TYPE_CHECKING:  # pragma: no cover
    from qceas.engine.config import EngineConfig

#: Seconds to wait for a cluster's head node to accept a TCP connection.
CONNECT_TIMEOUT_S = 5.0
#: Object store of a private Ray: a round's arrays are small (shards, θ, results).
PRIVATE_OBJECT_STORE_BYTES = 256 * 1024**2
#: Times Ray reruns a task whose worker or machine died before giving up.
TASK_RETRIES = 3


Versions = tuple[str, str, tuple[tuple[str, str, str], ...]]


def versions() -> Versions:
    """What must match between driver and workers for identical numbers: qceas,
    numpy, and every BLAS's (library, version, CPU kernel)."""
    return __version__, np.__version__, blas_build()


def _show_versions(v: Versions) -> str:
    blas = ", ".join(f"{lib} {version} ({kernel})" for lib, version, kernel in v[2])
    return f"qceas {v[0]} with numpy {v[1]} and BLAS {blas or 'unknown'}"


def _run_batches(
    model: QNN,
    params: NDArray[np.float64],
    nodes: NodeInputs,
    qfi: bool,
    batches: Sequence[slice],
) -> tuple[list[NodeEvaluation], Versions]:
    """A Ray task's body: its node batches (one BLAS thread), and the versions it ran
    with."""
    with single_threaded_blas():
        return evaluate_batches(model, params, nodes, qfi, batches), versions()


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) to try for a cluster address; None for ``auto``."""
    if address == "auto":
        return None
    parts = urlsplit(address if "://" in address else f"tcp://{address}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        return ("", -1)
    return parts.hostname, port


def _import_ray() -> Any:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise ConfigError(
            "engine.name = 'ray': Ray is not installed (pip install 'qceas[ray]')"
        ) from None
    return ray


def _loopback_only(ray: Any) -> Callable[[], None]:
    """Make the Ray about to start take the loopback address; returns the undo.

    Ray reads ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` once, at import, into a module
    constant that it consults when a node picks its address; the constant is set for
    the start and put back afterwards, so a later connection to a cluster in this
    process advertises its real address again.
    """
    constants: Any = getattr(getattr(ray, "_private", None), "ray_constants", None)
    if constants is None or not hasattr(constants, "ENABLE_RAY_CLUSTER"):
        return lambda: None
    before = constants.ENABLE_RAY_CLUSTER
    constants.ENABLE_RAY_CLUSTER = False

    def undo() -> None:
        constants.ENABLE_RAY_CLUSTER = before

    return undo


class RayEngine(BatchedEngine):
    """Evaluates node batches as Ray tasks.

    Args:
        spec: the ``engine`` section (address, CPUs of a private Ray, batches per task).
    """

    name = "ray"

    def __init__(self, spec: EngineConfig) -> None:
        self.spec = spec
        address = spec.address or os.environ.get("RAY_ADDRESS") or None
        origin = "engine.address" if spec.address else "RAY_ADDRESS"
        if address is not None:
            if spec.num_cpus is not None:
                raise ConfigError(
                    f"engine.num_cpus = {spec.num_cpus}: applies only to a private Ray "
                    f"started here, and {origin} = {address!r} names a cluster"
                )
            self._check_reachable(address, origin)
        self._ray = ray = _import_ray()
        self._owned = False
        self._model: tuple[QNN, Any] | None = None
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {
                "include_dashboard": False,
                "logging_level": logging.WARNING,
                "log_to_driver": False,
            }
            if address is None:
                # "local": a new Ray of our own, even where `ray start` left one running.
                kwargs |= {
                    "address": "local",
                    "num_cpus": spec.num_cpus,
                    "object_store_memory": PRIVATE_OBJECT_STORE_BYTES,
                }
                undo = _loopback_only(ray)
            else:
                kwargs["address"] = address
                undo = lambda: None  # noqa: E731
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, TimeoutError, ValueError) as exc:
                where = f"{origin} = {address!r}" if address else "engine.name = 'ray'"
                raise ConfigError(f"{where}: Ray did not start ({exc})") from None
            finally:
                undo()
            self._owned = True
        try:
            self._task = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(_run_batches)
            self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _check_reachable(address: str, origin: str) -> None:
        target = _host_port(address)
        if target is None:
            return
        host, port = target
        if port < 0:
            raise ConfigError(
                f"{origin} = {address!r}: not a cluster address (write host:port, "
                "ray://host:port or auto)"
            )
        try:
            with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise ConfigError(
                f"{origin} = {address!r}: no Ray cluster answers there ({reason}); "
                "start one with `ray start --head`, correct the address, or leave "
                "engine.address and RAY_ADDRESS unset for a private Ray on this machine"
            ) from None

    def _model_ref(self, model: QNN) -> Any:
        """The model in the object store, put once per model."""
        if self._model is None or self._model[0] is not model:
            self._model = (model, self._ray.put(model))
        return self._model[1]

    def batches_per_task(self, n_batches: int) -> int:
        """``engine.batches_per_task``, else two tasks per CPU of the cluster."""
        if self.spec.batches_per_task is not None:
            return self.spec.batches_per_task
        return max(1, math.ceil(n_batches / (2 * self.cpus)))

    def run_batches(
        self,
        model: QNN,
        params: NDArray[np.float64],
        nodes: NodeInputs,
        qfi: bool,
        batches: Sequence[slice],
    ) -> list[NodeEvaluation]:
        """The batches as tasks of ``batches_per_task`` consecutive batches each."""
        ref = self._model_ref(model)
        per_task = self.batches_per_task(len(batches))
        futures = []
        for first in range(0, len(batches), per_task):
            mine = batches[first : first + per_task]
            lo, hi = mine[0].start, mine[-1].stop
            relative = [slice(b.start - lo, b.stop - lo) for b in mine]
            futures.append(self._task.remote(ref, params, nodes[lo:hi], qfi, relative))
        try:
            done = self._ray.get(futures)
        except self._ray.exceptions.RayError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ValueError):  # the model's own message, as locally
                raise cause from None
            first_line = str(cause if cause is not None else exc).strip().splitlines()
            raise EngineError(
                f"engine ray: a task of {len(nodes.shards)} nodes' evaluation failed on "
                f"the cluster ({type(cause or exc).__name__}: "
                f"{first_line[0] if first_line else ''}); see the Ray logs of the workers"
            ) from None
        here = versions()
        for _, there in done:
            if there != here:
                raise ConfigError(
                    f"engine ray: a worker runs {_show_versions(there)}, this process "
                    f"{_show_versions(here)}; install the same versions on every machine "
                    "of the cluster, on CPUs of one kind (identical numbers need them)"
                )
        return [part for parts, _ in done for part in parts]

    def close(self) -> None:
        """Stop the Ray this engine started or connected to (not one it found running)."""
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()
        self._owned = False
