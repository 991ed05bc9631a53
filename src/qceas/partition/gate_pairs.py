"""Bell pairs for the teleported gates of model-level and hybrid partitions.

A replica whose circuit is split over m QPUs (``partition`` section,
:class:`qceas.qnn.partition.Partition`) spends one Bell pair on every cross-QPU gate of
every execution of its circuit. This module turns that into pair demand, simulates the
links that meet it under a scheduler, and hands the trainer the Pauli error of each
replica's entangling block for the round.

**Pairs per shot (the assumption).** A pair is consumed by the teleportation that uses
it (both halves are measured), so every *shot* needs fresh pairs: on the link between
QPUs a and b, ``k_ab`` = (nonlocal gates between a and b) × L pairs per shot
(:func:`qceas.qnn.partition.pairs_per_execution`). No pair is shared by two shots or two
gates, and nothing is purified.

**Pair demand of a round.** A replica evaluates, for each sample of its batch, the
forward circuit, 2P parameter-shifted circuits and, with ``compute.qfi_circuits``, 2L
QFI sublayer circuits (:mod:`qceas.qnn.timing`), each ``noise.shots`` times
(``compute.shots`` when the simulation is exact): E executions in all, at most E·k_ab
pairs on link ab per round. (The QFI circuits of layer l hold only l entangling
blocks; counting them as full shots overstates E by at most 2L of 1 + 2P + 2L
circuits, 4 of 37 for 4 qubits and 2 layers.)

**When pairs are needed (the time model).** The gates of a shot follow one another
within microseconds (a shot's circuit takes ~10 µs at transmon gate times), against
link periods of milliseconds, so a shot needs all of its k_ab pairs in memory at the
moment it starts; the replica starts one shot every ``shot_period_s`` (a *shot
cycle*). Decay over the shot itself is neglected. In the network simulator
(:mod:`qceas.network.simulation`) each link is a flow whose demand round is one shot
cycle: k_ab pairs, consumed in the cycle's last slot (ready = period − slot, window =
one slot), with ``use = 'gate'``: every consumed pair counts whatever its fidelity, a
link spends its stored pairs only when they are all k_ab the shot needs (otherwise
they stay in memory for the next cycle, older), and no pair is used on arrival.
Pairs heralded earlier in the cycle wait in memory and decay at Γ = 1/T_a + 1/T_b: the
scheduler decides when to generate (``oblivious``: at once, as memory allows; ``ceas``:
just in time, from its MDP with the gate utility w = (4F − 1)/3,
:mod:`qceas.scheduling.ceas`) and which pairs to spend.

**From cycles to a round.** Every cycle repeats the same demand, so the cycles of a
round are identically distributed. ``cycles_per_round`` of them are simulated per
training round, and their statistics stand for all E shots of the round:

* the gate fidelity of link ab is the mean fidelity at use of the pairs spent by the
  cycles in which *every* link of the replica delivered its pairs (a shot runs only
  then). Every nonlocal gate on link ab gets that Werner fidelity, and
  :func:`qceas.qnn.partition.block_error` gives the block's Pauli error. Using the
  mean is exact in expectation when the pairs of different gates are independent:
  the block channel is affine in each gate's Werner parameter;
* ``met``, the share of cycles that completed, is the rate at which shots run; a
  round then takes E·shot_period/met seconds of the replica's time (reported, not
  enforced: rounds stay synchronous in the trainer);
* a replica with no completed cycle in its sample keeps its previous gate fidelity
  (at first, the links' mean fresh-pair fidelity);
* with m >= 3 QPUs a replica's links are independent: one link may spend its pairs in
  a cycle in which another could not, and that shot still does not run.

Round records average the gate fidelity and ``met`` over all replicas, Byzantine ones
included (their hardware is as real as the others').

**CEAS on gate pairs.** CEAS's exact MDP (:mod:`qceas.scheduling.mdp`) tracks up to k
stored pairs with their ages: C(A + 1 + k, k) age multisets per (slot, demand). With a
cycle of H slots and ages capped at H, k = 2 fits easily (H = 40: 1.3·10⁵ states), but
for k >= 4 the default ``max_states`` forces a smaller age cap, beyond which CEAS sees
no further decay and acts like the oblivious scheduler. Measured (T = 50 ms at both
ends, fresh F = 0.97, 0.5 ms slots, 80-slot cycles): mean fidelity at use 0.74 for
CEAS against 0.42 oblivious at k = 2; 0.44 for both at k = 4 (age cap 13 slots) and
at k = 6. Scenarios split chains (one crossing gate per layer) to keep k small; raise
``scheduler_params.ceas.max_states`` for more.

**The links.** Each replica has one link per QPU pair that carries gates (its own
fibre of ``link_length_km``, QPUs in one lab), with herald probability
½·η² per attempt (η the per-end ``efficiency``) and an attempt every
``max(L/c, min_period_s)``. Coherence times are drawn per QPU, fresh-pair fidelity
and efficiency per link, from stream ``GATE_LINKS`` (``qceas.streams``). Links of one replica run
in parallel; each link end holds ``memory_slots`` pairs (default: the k_ab of one
shot), and a QPU's memory is not shared between its links (an approximation for
m ≥ 3, where a QPU has two links). All links with the same k_ab are simulated as one
star network, one flow per link, whose centre stands for the far ends: its memory
(twice the flows' total) never binds, its coherence time is infinite, and each flow's
decay rate is set to Γ = 1/T_a + 1/T_b of its two QPUs, so the star is exactly a set
of independent links.

Written here because no network simulator (SeQUeNCe, NetSquid) couples pair ageing to
the gate errors of a variational circuit trained over rounds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
from numpy.typing import NDArray

from qceas._rules import log_uniform, range_spec, under
from qceas.network.context import make_context
from qceas.network.demand import Demand
from qceas.network.interface import Context
from qceas.network.simulation import Simulation
from qceas.network.topology import network_from_graph, star
from qceas.partition.config import PartitionConfig
from qceas.partition.layout import ansatz_of, link_graph, replica_partition
from qceas.physics import fidelity_from_werner_unchecked
from qceas.physics.links import attempt_period, success_probability
from qceas.qnn.config import ModelConfig
from qceas.qnn.partition import BlockError, pairs_per_execution, teleported_block
from qceas.scheduling import SCHEDULERS
from qceas.streams import GATE_LINKS, stream

#: Coherence time standing in for "no decay" at the star's centre (s).
_FOREVER_S = 1.0e12


def check_partition(model: ModelConfig, spec: PartitionConfig, rounds: int, seed: int) -> None:
    """Every rule of the ``partition`` section that needs the model (and, for
    simulated pairs, the links, drawn for ``rounds`` training rounds from ``seed``):
    raise ValueError naming the field, value and rule."""
    ansatz = ansatz_of(model)
    partition = replica_partition(model, spec)
    graph = link_graph(spec, partition, ansatz)
    partition.check_routes(ansatz, lambda a, b: nx.has_path(graph, a, b))
    if spec.pair_fidelity != "network":
        return
    pairs = ansatz.entangler_pairs()
    for i in partition.nonlocal_gates(ansatz):
        a, b = (partition.qpu_of[q] for q in pairs[i])
        if not graph.has_edge(a, b):
            raise ValueError(
                f"partition.links: gate {ansatz.entangler.upper()}({pairs[i][0]}, "
                f"{pairs[i][1]}) joins QPU {a} and QPU {b}, which share no direct link; "
                f"simulated pairs (pair_fidelity: network) cover direct links only: add "
                f"[{min(a, b)}, {max(a, b)}] to partition.links, or give pair_fidelity "
                "as a number"
            )
    low_eta = min(spec.efficiency) if isinstance(spec.efficiency, list | tuple) else spec.efficiency
    p = float(success_probability(spec.link_length_km, efficiency_a=low_eta))
    period = float(attempt_period(spec.link_length_km, spec.min_period_s))
    rate = p / period
    for (a, b), k in pairs_per_execution(ansatz, partition).items():
        if spec.memory_slots is not None and spec.memory_slots < k:
            raise ValueError(
                f"partition.memory_slots = {spec.memory_slots}: a shot needs the {k} pairs "
                f"of link QPU {a}–QPU {b} in memory at once; must be >= {k}"
            )
        need = k / rate
        if need > spec.shot_period_s:
            raise ValueError(
                f"partition.shot_period_s = {spec.shot_period_s:g}: a link makes about "
                f"{rate:.4g} pairs/s (efficiency {low_eta:g}, its lowest), so the {k} pairs "
                f"a shot needs on link QPU {a}–QPU {b} take {need:.4g} s on average; "
                "lengthen shot_period_s or raise efficiency"
            )
    slots = spec.shot_period_s / spec.slot_s
    if spec.slot_s < period:
        raise ValueError(
            f"partition.slot_s = {spec.slot_s:g}: must be >= the links' attempt period "
            f"{period:g} s (link_length_km, min_period_s)"
        )
    if abs(slots - round(slots)) > 1e-9 * slots or round(slots) < 2:
        raise ValueError(
            f"partition.slot_s = {spec.slot_s:g}: must divide shot_period_s = "
            f"{spec.shot_period_s:g} into a whole number (>= 2) of slots"
        )
    GatePairs.contexts(model, spec, rounds, n_replicas=1, seed=seed)


@dataclass(frozen=True)
class RoundGates:
    """What a replica's teleported gates were like in one round.

    Attributes:
        blocks: per replica, the Pauli error of its entangling block.
        fidelity: (G,) mean Werner fidelity of the pairs its gates used.
        met: (G,) share of shot cycles in which every link delivered (1 for a fixed
            fidelity).
    """

    blocks: tuple[BlockError, ...]
    fidelity: NDArray[np.float64]
    met: NDArray[np.float64]


@dataclass(frozen=True)
class _LinkGroup:
    """Links with the same pairs per shot, simulated as one star network."""

    pairs_per_shot: int
    flows: tuple[tuple[int, tuple[int, int]], ...]  # (replica, (QPU a, QPU b)) per flow
    context: Context


class GatePairs:
    """The Bell pairs behind every replica's nonlocal gates, round by round.

    Args:
        model: the ``model`` section.
        spec: the ``partition`` section (``qpus_per_replica`` > 1).
        rounds: the training rounds the links are simulated for (``training.rounds``).
        n_replicas: G, the replicas (the trainer's nodes).
        seed: the scenario seed (draws the links).
        scheduler: the link scheduler (``pair_fidelity: network``).
        rng: the simulation's random stream.
    """

    def __init__(
        self,
        model: ModelConfig,
        spec: PartitionConfig,
        rounds: int,
        n_replicas: int,
        seed: int,
        scheduler: str,
        rng: np.random.Generator,
    ) -> None:
        self.spec = spec
        self.rounds = rounds
        self.ansatz = ansatz_of(model)
        self.partition = replica_partition(model, spec)
        self.n_replicas = n_replicas
        self.nonlocal_gates = self.partition.nonlocal_gates(self.ansatz)
        pairs = self.ansatz.entangler_pairs()
        qpu = self.partition.qpu_of
        self._gate_link: list[tuple[int, int]] = [
            (min(qpu[pairs[i][0]], qpu[pairs[i][1]]), max(qpu[pairs[i][0]], qpu[pairs[i][1]]))
            for i in self.nonlocal_gates
        ]
        self.scheduler = scheduler
        self._fixed: BlockError | None = None
        self._groups: list[tuple[_LinkGroup, Simulation]] = []
        if spec.pair_fidelity != "network" or not self.nonlocal_gates:
            fixed = 1.0 if spec.pair_fidelity == "network" else spec.pair_fidelity
            self._fixed_fidelity = float(fixed)
            self._fixed = teleported_block(self.ansatz, self.partition, fixed)
            return
        options: dict[str, Any] = dict(spec.scheduler_params.get(scheduler, {}))
        for group in self.contexts(model, spec, rounds, n_replicas, seed):
            # Only the user's options: each scheduler sets its own defaults for gate
            # use from the context (``Context.use``) in ``prepare``.
            try:
                policy = SCHEDULERS.get(scheduler, **options)
                sim = Simulation(group.context, policy, rng=rng)
            except (TypeError, ValueError) as exc:
                raise under(f"partition.scheduler_params.{scheduler}", exc) from None
            self._groups.append((group, sim))
        # Until a replica completes a shot cycle: its links' mean fresh-pair fidelity.
        fresh: dict[tuple[int, tuple[int, int]], float] = {}
        for group, _ in self._groups:
            w0 = group.context.flow_w0
            for flow, key in enumerate(group.flows):
                fresh[key] = float(fidelity_from_werner_unchecked(float(w0[flow])))
        self._last = fresh

    @staticmethod
    def contexts(
        model: ModelConfig, spec: PartitionConfig, rounds: int, n_replicas: int, seed: int
    ) -> list[_LinkGroup]:
        """The star networks of the replicas' links, one per distinct pairs-per-shot
        (see the module docstring); links drawn from stream ``GATE_LINKS`` of ``seed``."""
        ansatz = ansatz_of(model)
        partition = replica_partition(model, spec)
        per_link = pairs_per_execution(ansatz, partition)
        rng = stream(seed, GATE_LINKS)
        m = spec.qpus_per_replica
        coherence = log_uniform(spec.coherence_time_s, n_replicas * m, rng)
        groups = []
        for k in sorted(set(per_link.values())):
            links = [link for link, count in per_link.items() if count == k]
            flows = tuple((g, link) for g in range(n_replicas) for link in links)
            e = len(flows)
            memory = spec.memory_slots or k
            try:  # the builders name their arguments: partition's fields of those names
                network = network_from_graph(
                    star(e, link_length_km=spec.link_length_km),
                    rng=rng,
                    efficiency=range_spec(spec.efficiency),
                    initial_fidelity=range_spec(spec.initial_fidelity),
                    coherence_time_s=1.0,
                    memory_slots=np.r_[np.full(e, memory), 2 * memory * e].astype(np.int64),
                    min_period_s=spec.min_period_s,
                )
            except ValueError as exc:
                raise under("partition", exc) from None
            ends = np.array([[g * m + a, g * m + b] for g, (a, b) in flows], dtype=np.int64)
            rate = (1.0 / coherence[ends]).sum(axis=1)  # Γ = 1/T_a + 1/T_b
            times = np.r_[1.0 / rate, _FOREVER_S]
            network = dataclasses.replace(network, coherence_time_s=times)
            period, slot = spec.shot_period_s, spec.slot_s
            cycles = max(1, rounds) * spec.cycles_per_round
            demand = Demand(
                pairs=k,
                period_s=period,
                rounds=cycles,
                ready_s=np.full(e, period - slot),
                window_s=slot,
            )
            try:
                context = make_context(network, demand, slot_s=slot, use="gate")
            except ValueError as exc:
                # make_context names its arguments: its slot_s is partition.slot_s.
                message = str(exc)
                where = "partition." if message.startswith("slot_s =") else "partition: "
                raise ValueError(where + message) from None
            groups.append(_LinkGroup(k, flows, context))
        return groups

    def block_of(self, fidelity: Mapping[tuple[int, int], float]) -> BlockError:
        """The block error when the pairs of link (a, b) have ``fidelity[(a, b)]``."""
        per_gate = [fidelity[link] for link in self._gate_link]
        return teleported_block(self.ansatz, self.partition, per_gate)

    def next_round(self) -> RoundGates:
        """Simulate the next round's sampled shot cycles (``pair_fidelity: network``)
        or return the fixed error; see the module docstring."""
        g_count = self.n_replicas
        if self._fixed is not None:
            f = self._fixed_fidelity
            return RoundGates((self._fixed,) * g_count, np.full(g_count, f), np.ones(g_count))
        cycles = self.spec.cycles_per_round
        # per (replica, link): fidelities of spent pairs per cycle, and whether enough came
        spent: dict[tuple[int, tuple[int, int]], list[NDArray[np.float64]]] = {}
        enough: dict[tuple[int, tuple[int, int]], NDArray[np.bool_]] = {}
        for group, sim in self._groups:
            got = np.zeros((cycles, len(group.flows)), dtype=bool)
            per_flow: list[list[NDArray[np.float64]]] = [[] for _ in group.flows]
            for c in range(cycles):
                if sim.rounds_done >= group.context.demand.rounds:
                    raise ValueError(
                        f"gate pairs: the links were simulated for training.rounds = "
                        f"{self.rounds} rounds; train no longer than that"
                    )
                pairs = sim.run_round().fidelities
                for flow, used in enumerate(pairs):
                    per_flow[flow].append(used)
                    got[c, flow] = used.size >= group.pairs_per_shot
            for flow, key in enumerate(group.flows):
                spent[key] = per_flow[flow]
                enough[key] = got[:, flow]
        blocks, fid, met = [], np.zeros(g_count), np.zeros(g_count)
        for g in range(g_count):
            keys = [key for key in enough if key[0] == g]
            complete = np.logical_and.reduce([enough[key] for key in keys])
            met[g] = complete.mean()
            if complete.any():
                for key in keys:
                    ran = [f for f, ok in zip(spent[key], complete, strict=True) if ok]
                    self._last[key] = float(np.concatenate(ran).mean())
            link_f = {key[1]: self._last[key] for key in keys}
            blocks.append(self.block_of(link_f))
            fid[g] = float(np.mean([link_f[link] for link in self._gate_link]))
        return RoundGates(tuple(blocks), fid, met)


__all__ = ["GatePairs", "RoundGates", "check_partition"]
