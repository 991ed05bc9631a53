"""What a scheduler sees of a network simulation, and what it hands back.

A simulation (:mod:`qceas.network.simulation`) gives its scheduler a :class:`Context`
once (everything static: the network, the demand, the slot, the segments of every
route) and a :class:`SlotView` at the start of every slot (the pairs stored and their
fidelities now, the demand left, the slots to each deadline, free memory); the
scheduler answers each view with a :class:`Decision`. :class:`SimulationResult` and
:class:`RoundPairs` are what a run, or one of its demand rounds, returns. The
module docstring of :mod:`qceas.network.simulation` describes a slot step by step.

Schedulers (:mod:`qceas.scheduling`) import this module only; the engine that
advances the state is private (``network/_state.py``, ``network/_generation.py``,
``network/_uses.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.network.demand import Demand
from qceas.network.ledger import Ledger
from qceas.network.topology import Network
from qceas.physics import qber_unchecked, secret_fraction_unchecked

if TYPE_CHECKING:
    from qceas.network._uses import PairUse

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]

#: Purification protocols the simulator can run (``Context.purification``).
PURIFICATIONS: tuple[str, ...] = ("none", "bbpssw", "dejmps")
#: What consumed pairs are for (``Context.use``).
PAIR_USES: tuple[str, ...] = ("key", "gate", "agreement")


# --------------------------------------------------------------------- context
@dataclass(frozen=True, eq=False)
class Context:
    """Everything static about one simulation, given to the scheduler once.

    Attributes:
        network: the network.
        demand: the demand model.
        slot_s: Δ, the slot length (s).
        attempts_per_slot: (E,) ``k_e = Δ/period_e``, the mean number of attempts a
            link completes in a slot while it attempts throughout (attempts run back to
            back across slot boundaries, so a slot holds floor or ceil of it).
        slot_success: (E,) ``1 − (1 − p_e)^k_e``, the chance that a link heralds in a
            slot of continuous attempts, on average.
        round_slots: slots per round.
        ready_slot, deadline_slot: (N,) each QPU's window in slots from a round start
            (:meth:`Demand.slots`).
        total_slots: slots simulated, ``rounds × round_slots``.
        segment_flow, segment_link: (S,) the flow and link of each segment; the
            segments of flow k are ``segment_start[k]:segment_start[k + 1]``, in route
            order from QPU k.
        segment_rate: (S,) Γ = 1/T_a + 1/T_b of each segment's link ends (1/s).
        segment_w0: (S,) Werner parameter of a fresh pair on each segment's link.
        flow_rate: (N,) Γ_k = 1/T_k + 1/T_N of the end-to-end pairs.
        flow_w0: (N,) ∏ of segment_w0 along each route, times ``flow_signal``: a
            swap of fresh pairs.
        flow_signal: (N,) the factor on a flow's end-to-end Werner parameter for the
            decay of its end qubits while swap outcomes travel (1 unless
            ``Network.signal_delays``; ``segment_w0`` then holds the decay during
            the herald).
        storage: M, stored end-to-end pairs per flow at most (max memory of a QPU).
        importance: (N,) initial importance weight of each QPU (≥ 0); a
            :class:`Simulation` may change it between rounds (``set_importance``), and
            schedulers read the current one from :attr:`SlotView.importance`.
        sift: s, sifted fraction of measured pairs (BBM92: 1/2).
        purification: ``none``, ``bbpssw`` or ``dejmps``.
        use: what consumed pairs are for (:data:`PAIR_USES`): ``key`` — measured for
            key distillation, so a pair that yields no key (κ = 0) aborts and leaves
            its unit of demand unmet; ``gate`` — spent on the teleported gates of one
            shot, so every consumed pair meets a unit of demand whatever its fidelity
            (its fidelity becomes the gate's error, :mod:`qceas.qnn.partition`), a
            flow consumes only when its stored pairs cover its whole remaining demand
            (the shot needs them all at once), and never on arrival; consumed pairs
            are recorded with 0 key bits; ``agreement`` — measured in Z on arrival
            for quantum Byzantine agreement (:mod:`qceas.agreement`), so every
            consumption goes ahead, on arrival too, and every pair with any
            correlation left (F > 1/4) meets a unit of demand, with 0 key bits (its
            Z error 2(1 − F)/3 enters the agreement's checks). Read from ``pair_use``.
        pair_use: the consume policy of ``use`` that the engine applies
            (``network/_uses.py``), chosen once by :func:`make_context`.
    """

    network: Network
    demand: Demand
    slot_s: float
    attempts_per_slot: FloatArray
    slot_success: FloatArray
    round_slots: int
    ready_slot: IntArray
    deadline_slot: IntArray
    total_slots: int
    segment_flow: IntArray
    segment_link: IntArray
    segment_start: IntArray
    segment_rate: FloatArray
    segment_w0: FloatArray
    flow_rate: FloatArray
    flow_w0: FloatArray
    flow_signal: FloatArray
    storage: int
    importance: FloatArray
    sift: float
    purification: str
    pair_use: PairUse

    @property
    def n_flows(self) -> int:
        return self.network.n_nodes

    @property
    def use(self) -> str:
        """``key``, ``gate`` or ``agreement`` (:data:`PAIR_USES`)."""
        return self.pair_use.name

    def key_bits(self, fidelity: ArrayLike) -> FloatArray:
        """κ(F) = s·r(e(F)), secret key bits of one pair of fidelity F (clipped to
        [1/4, 1]).

        ``sift · secret_fraction(qber(F))`` of :mod:`qceas.physics`, through their
        unchecked kernels (the same bits): the simulator calls it every slot on
        fidelities it computed itself.
        """
        f = np.clip(np.asarray(fidelity, dtype=float), 0.25, 1.0)
        return self.sift * secret_fraction_unchecked(qber_unchecked(f))


# ------------------------------------------------------------- view / decision
@dataclass(frozen=True, eq=False)
class SlotView:
    """The state a scheduler decides on at the start of one slot (read-only arrays).

    Attributes:
        slot: index of this slot; time_s = slot × Δ.
        time_s: the time now (s).
        target_round: (N,) the round whose deadline each QPU works toward (``rounds``
            once all are over).
        remaining: (N,) pairs still needed by that deadline (key-yielding pairs only).
        slots_to_deadline: (N,) τ, decision slots left before that deadline (≥ 1
            while a round is open; 0 once all rounds are over).
        in_window: (N,) whether QPU k may consume now.
        stored: (N, M) whether slot j of flow k holds an end-to-end pair.
        fidelity: (N, M) fidelity of each stored pair now (NaN where empty).
        created_s: (N, M) creation time of each stored pair (NaN where empty).
        segment_has: (S,) whether each segment holds a link pair.
        segment_fidelity: (S,) fidelity of each segment pair now (NaN where empty).
        segment_herald_s: (S,) herald time of each segment pair (NaN where empty).
        free_memory: (N+1,) free memory qubits at every node.
        importance: (N,) the current importance weight of each QPU (≥ 0).
    """

    slot: int
    time_s: float
    target_round: IntArray
    remaining: IntArray
    slots_to_deadline: IntArray
    in_window: BoolArray
    stored: BoolArray
    fidelity: FloatArray
    created_s: FloatArray
    segment_has: BoolArray
    segment_fidelity: FloatArray
    segment_herald_s: FloatArray
    free_memory: IntArray
    importance: FloatArray


@dataclass(frozen=True, eq=False)
class Decision:
    """What a scheduler does in one slot; ``None`` means nothing of that kind.

    Attributes:
        attempt: (S,) segments that attempt generation (ignored where a segment
            already holds a pair).
        consume: (N, M) stored pairs consumed for key (only inside the window, at
            most ``remaining`` per flow).
        discard: (N, M) stored pairs discarded.
        discard_segment: (S,) segment pairs discarded.
        purify: (N,) flows that purify their two lowest-fidelity stored pairs.
        consume_on_herald: (N,) flows that consume an end-to-end pair the moment it is
            made in this slot (measured on arrival), while inside the window and demand
            remains; a pair made this way is never stored.
        priority: (S,) higher attempts first where segments share a link or memory;
            ties go to the lower segment index.
        stable_slots: the scheduler's promise that, while nothing happens (no pair is
            made, consumed, purified or dropped and no demand window opens or closes),
            it would return this same decision, drawing nothing from ``rng``, at the
            next ``stable_slots − 1`` slot starts too, whatever the ages of the pairs.
            The simulator then skips the slots in which nothing happens without asking
            (:meth:`qceas.network.Simulation.run_round`); 1 (the default) asks every
            slot. A policy that reads ages, time or ``slots_to_deadline`` gives the
            slots until its answer could change (e.g. until a pair crosses a cutoff).
    """

    attempt: BoolArray | None = None
    consume: BoolArray | None = None
    discard: BoolArray | None = None
    discard_segment: BoolArray | None = None
    purify: BoolArray | None = None
    consume_on_herald: BoolArray | None = None
    priority: FloatArray | None = None
    stable_slots: int = 1

    def __post_init__(self) -> None:
        k = self.stable_slots
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"Decision.stable_slots = {k!r}: must be an integer >= 1")


class Scheduler(Protocol):
    """A scheduling policy (registered in :data:`qceas.scheduling.SCHEDULERS`)."""

    name: str

    def prepare(self, context: Context) -> None:
        """Called once before the first slot (solve, precompute)."""

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        """The decision for one slot."""
        ...


# ----------------------------------------------------------------------- result
@dataclass(frozen=True, eq=False)
class SimulationResult:
    """The outcome of :func:`simulate`.

    Attributes:
        policy: the scheduler's name.
        context: the static context.
        ledger: every pair (:class:`~qceas.network.ledger.Ledger`).
        met: (rounds, N) key-yielding pairs consumed for each round's demand in time.
        attempts: link attempts made (sum of attempts actually run).
        wall_s: wall-clock time of the simulation (s).
    """

    policy: str
    context: Context
    ledger: Ledger
    met: IntArray
    attempts: int
    wall_s: float = field(default=math.nan)


@dataclass(frozen=True, eq=False)
class RoundPairs:
    """The end-to-end pairs consumed for one round's demand (what a training round's
    key distillation receives).

    Attributes:
        round: the demand round.
        fidelities: N arrays, the fidelity at consumption of each pair QPU k consumed
            for this round (key-yielding or not), in consumption order.
    """

    round: int
    fidelities: tuple[FloatArray, ...]
