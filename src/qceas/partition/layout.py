"""The layout of a partitioned replica: which QPU holds which qubit, which QPUs a link
joins, how many circuit executions a round needs (``partition`` and ``model``
sections; the pairs that serve it are :mod:`qceas.partition.gate_pairs`').

Functions take the sections they read, never the whole config, and raise
``ValueError`` naming the ``partition``/``model`` fields they check.
"""

from __future__ import annotations

from typing import cast

import networkx as nx

from qceas.partition.config import PartitionConfig
from qceas.qnn.ansatz import Ansatz, Encoding, Entangler, Topology
from qceas.qnn.config import ModelConfig
from qceas.qnn.partition import Partition, pairs_per_execution
from qceas.qnn.timing import circuits_per_sample

#: The partition schemes (:func:`scheme_of`).
SCHEMES: tuple[str, ...] = ("data", "model", "hybrid")


def scheme_of(partition: PartitionConfig, n_replicas: int) -> str:
    """``data`` (one QPU per replica), ``model`` (one replica over several QPUs) or
    ``hybrid`` (several such replicas); ``n_replicas``: ``nodes.count``."""
    if partition.qpus_per_replica == 1:
        return "data"
    return "model" if n_replicas == 1 else "hybrid"


def ansatz_of(m: ModelConfig) -> Ansatz:
    """The circuit structure of the ``model`` section."""
    return Ansatz(
        m.n_qubits,
        m.layers,
        cast(Encoding, m.encoding),
        cast(Entangler, m.entangler),
        cast(Topology, m.topology),
    )


def replica_partition(model: ModelConfig, spec: PartitionConfig) -> Partition:
    """The qubit → QPU map of one replica: ``partition.qpu_of``, else contiguous blocks.

    Raises:
        ValueError: naming the field and the rule (QPU count, capacity).
    """
    n = model.n_qubits
    m = spec.qpus_per_replica
    if m > n:
        raise ValueError(
            f"partition.qpus_per_replica = {m}: more QPUs than the model's {n} qubits "
            "(model.n_qubits); every QPU must hold at least one qubit"
        )
    if spec.qpu_of is None:
        return Partition.contiguous(n, m, spec.capacity)
    qpus = list(spec.qpu_of)
    if len(qpus) != n:
        raise ValueError(
            f"partition.qpu_of has {len(qpus)} entries: must give one QPU per qubit "
            f"(model.n_qubits = {n})"
        )
    if sorted(set(qpus)) != list(range(m)):
        raise ValueError(
            f"partition.qpu_of = {qpus}: uses QPUs {sorted(set(qpus))}, but "
            f"qpus_per_replica = {m}: every QPU 0..{m - 1} must hold a qubit"
        )
    return Partition(tuple(qpus), spec.capacity)


def link_graph(spec: PartitionConfig, partition: Partition, ansatz: Ansatz) -> nx.Graph:
    """The QPUs of one replica and their quantum links (``partition.links``, else one
    per QPU pair that a gate joins)."""
    graph = nx.Graph()
    graph.add_nodes_from(range(partition.n_qpus))
    if spec.links is None:
        graph.add_edges_from(pairs_per_execution(ansatz, partition))
    else:
        graph.add_edges_from(tuple(pair) for pair in spec.links)
    return graph


def executions_per_round(model: ModelConfig, samples: int, shots: int, *, qfi: bool) -> int:
    """E: circuit executions of one replica per round, for ``samples`` samples at
    ``shots`` shots (forward, 2P shifted and, with ``qfi`` — ``compute.qfi_circuits`` —,
    the QFI circuits of ``model.qfi_estimator`` on ``model.qfi_samples`` of the samples;
    :mod:`qceas.qnn.timing`)."""
    ansatz = ansatz_of(model)
    base = circuits_per_sample(ansatz, qfi=False)
    extra = circuits_per_sample(ansatz, qfi=qfi, estimator=model.qfi_estimator) - base
    rows = samples if model.qfi_samples is None else min(samples, model.qfi_samples)
    return int((samples * base + rows * extra) * shots)


def describe(
    model: ModelConfig,
    spec: PartitionConfig,
    n_replicas: int,
    samples: int,
    shots: int,
    *,
    qfi: bool,
) -> str:
    """One line on the partition for ``n_replicas`` replicas of ``samples`` samples per
    round at ``shots`` shots: scheme, QPUs, pairs per shot per link, shots per round and
    the time they take at one shot per ``shot_period_s``."""
    scheme = scheme_of(spec, n_replicas)
    if scheme == "data":
        return "data-level partition (one QPU per node)"
    partition = replica_partition(model, spec)
    per_link = pairs_per_execution(ansatz_of(model), partition)
    links = ", ".join(f"QPU {a}-{b}: {k}" for (a, b), k in per_link.items()) or "none"
    runs = executions_per_round(model, samples, shots, qfi=qfi)
    line = (
        f"{'model-level' if scheme == 'model' else scheme} partition: "
        f"{n_replicas} replica(s) of "
        f"{model.n_qubits} qubits over {spec.qpus_per_replica} QPUs; pairs per shot "
        f"by link {links}; {runs:,} shots per replica per round"
    )
    if not per_link:
        line += ", no gate crosses QPUs"
    elif spec.pair_fidelity == "network":
        hours = runs * spec.shot_period_s / 3600
        line += f" (~{hours:.3g} h at one shot per {spec.shot_period_s:g} s)"
    else:
        line += f", pairs of fidelity {spec.pair_fidelity}"
    return line


__all__ = [
    "SCHEMES",
    "ansatz_of",
    "describe",
    "executions_per_round",
    "link_graph",
    "replica_partition",
    "scheme_of",
]
