"""The ``partition`` config section: how each replica's circuit is spread over QPUs.

The rules that need the model (qubits per QPU, routes of the gates) and the links'
physics are checked by :func:`qceas.partition.gate_pairs.check_partition`, which the
composite config calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from qceas._rules import (
    MAX_COUNT,
    MAX_KM,
    MAX_SECONDS,
    FrozenMapping,
    attempt_floor,
    fail,
    freeze_fields,
    integer,
    is_int,
    is_number,
    positive,
    range_or_number,
    show,
    text_hint,
)
from qceas.qnn.ansatz import MAX_QUBITS
from qceas.scheduling.config import scheduler_name, scheduler_options

#: Where the Bell pairs of teleported gates get their fidelity (``PartitionConfig``).
PAIR_SOURCES: tuple[str, ...] = ("network",)


@dataclass(frozen=True)
class PartitionConfig:
    """How each replica's circuit is spread over QPUs (``qceas.qnn.partition``).

    A *replica* is what the trainer calls a node: it holds a shard, computes one update
    per round and is aggregated with the others. With ``qpus_per_replica: 1`` (the
    default) a replica is one QPU: the data-level partition. With m > 1 each replica's
    n-qubit circuit is split over m QPUs (``qpu_of``, one QPU index per qubit; default:
    contiguous blocks), and every entangling gate between two of them is teleported
    through a Bell pair: ``nodes.count: 1`` is the model-level partition, more replicas
    the hybrid one (replicas aggregate under the training strategy, CEAS included).

    ``capacity`` bounds the qubits of one QPU; ``links`` lists the QPU pairs of a
    replica joined by a quantum link (null: every pair a gate joins). A gate between
    QPUs with no route over ``links`` is an error.

    ``pair_fidelity`` is a number in [1/4, 1] (every pair has that Werner fidelity at
    use) or ``network``: the pairs come from a simulated link per QPU pair
    (``qceas.partition.gate_pairs``). Each shot of a circuit needs its k pairs per link
    in memory when it starts; one shot is run every ``shot_period_s``, and the link's
    scheduler (the strategy's own: its composition's, ``ceas`` for the CEAS rule; else
    ``scheduler``; options in ``scheduler_params``) decides when to generate and which
    pairs to use, so pairs that wait in memory decay into gate errors. Model-level
    and hybrid runs are pair-limited: ``qceas validate`` prints the shots of a round
    and the hours they take. ``cycles_per_round`` shot cycles are
    simulated per training round and stand for all of the round's shots. Link
    parameters: ``link_length_km``, ``efficiency`` (per end), ``initial_fidelity`` and
    ``coherence_time_s`` (a number or a ``[low, high]`` range, drawn per link and per
    QPU), ``memory_slots`` (per link end; null: the pairs one shot needs),
    ``min_period_s`` (attempt period floor) and ``slot_s`` (simulation slot).
    """

    qpus_per_replica: int = 1
    qpu_of: tuple[int, ...] | None = None
    capacity: int | None = None
    links: tuple[tuple[int, int], ...] | None = None
    pair_fidelity: float | str = "network"
    scheduler: str = "ceas"
    scheduler_params: Mapping[str, Any] = field(default_factory=FrozenMapping)
    shot_period_s: float = 0.02
    cycles_per_round: int = 10
    link_length_km: float = 0.01
    efficiency: float | tuple[float, float] = 0.03
    initial_fidelity: float | tuple[float, float] = (0.94, 0.98)
    coherence_time_s: float | tuple[float, float] = (0.01, 1.0)
    memory_slots: int | None = None
    min_period_s: float = 1.0e-6
    slot_s: float = 5.0e-4

    def __post_init__(self) -> None:
        freeze_fields(self)
        integer("partition.qpus_per_replica", self.qpus_per_replica, 1, MAX_QUBITS)
        if self.qpu_of is not None and (
            not isinstance(self.qpu_of, list | tuple)
            or not self.qpu_of
            or not all(is_int(k) and k >= 0 for k in self.qpu_of)
        ):
            raise fail(
                "partition.qpu_of", self.qpu_of, "must be a list of QPU indices >= 0, one per qubit"
            )
        if self.capacity is not None:
            integer("partition.capacity", self.capacity, 1, MAX_QUBITS)
        if self.links is not None:
            if not isinstance(self.links, list | tuple):
                raise fail("partition.links", self.links, "must be a list of [a, b] QPU pairs")
            for i, pair in enumerate(self.links):
                if (
                    not isinstance(pair, list | tuple)
                    or len(pair) != 2
                    or not all(is_int(k) and 0 <= k < self.qpus_per_replica for k in pair)
                    or pair[0] == pair[1]
                ):
                    raise fail(
                        f"partition.links[{i}]",
                        pair,
                        "must be two different QPU indices in "
                        f"[0, {self.qpus_per_replica - 1}] (qpus_per_replica)",
                    )
        fidelity = self.pair_fidelity
        if fidelity not in PAIR_SOURCES and (
            not is_number(fidelity) or not 0.25 <= float(fidelity) <= 1
        ):
            raise fail(
                "partition.pair_fidelity",
                fidelity,
                "must be a fidelity in [0.25, 1] or 'network'" + text_hint(fidelity),
            )
        scheduler_name("partition.scheduler", self.scheduler)
        scheduler_options("partition.scheduler_params", self.scheduler_params)
        positive("partition.shot_period_s", self.shot_period_s, MAX_SECONDS)
        integer("partition.cycles_per_round", self.cycles_per_round, 1, MAX_COUNT)
        positive("partition.link_length_km", self.link_length_km, MAX_KM)
        range_or_number("partition.efficiency", self.efficiency, 0.0, 1.0, open_low=True)
        range_or_number(
            "partition.initial_fidelity", self.initial_fidelity, 0.25, 1.0, open_low=False
        )
        range_or_number(
            "partition.coherence_time_s", self.coherence_time_s, 0.0, 1.0e6, open_low=True
        )
        if self.memory_slots is not None:
            integer("partition.memory_slots", self.memory_slots, 1, MAX_COUNT)
        attempt_floor("partition.min_period_s", self.min_period_s)
        positive("partition.slot_s", self.slot_s, MAX_SECONDS)
        if self.slot_s > self.shot_period_s:
            raise fail(
                "partition.slot_s",
                self.slot_s,
                f"must be <= shot_period_s = {show(self.shot_period_s)}",
            )


__all__ = ["PAIR_SOURCES", "PartitionConfig"]
