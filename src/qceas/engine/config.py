"""The ``engine`` config section: where the nodes' evaluations run (no number depends
on it, so it is not part of a config's fingerprint)."""

from __future__ import annotations

from dataclasses import dataclass

from qceas._rules import MAX_COUNT, choice, fail, freeze_fields, integer
from qceas.engine.registry import ENGINES


@dataclass(frozen=True)
class EngineConfig:
    """Where the nodes' evaluations run (``qceas.engine``); changes no number.

    * ``name``: ``local`` (in this process, node batches on threads; the default) or
      ``ray`` (node batches as Ray tasks);
    * ``address``: with ``ray``, the address of a running Ray cluster (``host:port``
      of its head node, ``ray://host:port`` for Ray Client, or ``auto``); null takes
      ``RAY_ADDRESS`` from the environment, else starts a private Ray on this machine,
      listening on the loopback interface only;
    * ``num_cpus``: with ``local``, the threads that evaluate node batches side by
      side; with ``ray``, the CPUs of the private Ray (null: every CPU this process
      may use);
    * ``batches_per_task``: node batches (of ``qceas.engine.nodes_per_batch`` nodes:
      ``NODES_PER_BATCH`` up to 5 qubits, fewer above)
      evaluated by one Ray task (null: the batches spread over two tasks per CPU of
      the cluster).

    Both engines evaluate the same node batches by the same single-threaded calls
    (``qceas.reproducibility``), and every node draws its shots from its own random
    stream, so the engine, its threads or tasks and the cluster change no number; the
    section is left out of the config's fingerprint.
    """

    name: str = "local"
    address: str | None = None
    num_cpus: int | None = None
    batches_per_task: int | None = None

    def __post_init__(self) -> None:
        freeze_fields(self)
        choice("engine.name", self.name, ENGINES.names())
        if self.address is not None and (not isinstance(self.address, str) or not self.address):
            raise fail("engine.address", self.address, "must be a non-empty string or null")
        if self.num_cpus is not None:
            integer("engine.num_cpus", self.num_cpus, 1, MAX_COUNT)
        if self.batches_per_task is not None:
            integer("engine.batches_per_task", self.batches_per_task, 1, MAX_COUNT)
        if self.address is not None and self.num_cpus is not None:
            raise fail(
                "engine.num_cpus",
                self.num_cpus,
                "applies only to a private Ray started here; an existing cluster "
                "(engine.address) has its own CPUs",
            )


__all__ = ["EngineConfig"]
