"""Time-slotted, vectorized simulation of Bell-pair distribution to the aggregator.

Every QPU k has a *flow*: end-to-end pairs with the aggregator along its route
(``Network.routes[k]``, h_k links). Each link of a route is a *segment* of the flow;
a segment holds at most one link pair at a time. Time advances in slots of Δ seconds;
in every slot, for all links and flows at once:

1. **decide**: the scheduler sees the state (stored pairs and their fidelities now,
   segment pairs, remaining demand, slots to each deadline, free memory) and returns
   a :class:`Decision`: which end-to-end pairs to consume or discard, which segment
   pairs to discard, which flows purify, which segments attempt generation, and the
   priority of each attempt;
2. **consume**: a consumed pair yields ``s·r(e(F))`` key bits (ARCHITECTURE §4); with
   r = 0 the distillation aborts and the demand stays unmet;
3. **discard**, then **purify** (optional; BBPSSW or DEJMPS on the flow's two
   lowest-fidelity pairs, success sampled, the output twirled back to Werner form);
4. **attempt**: a link attempts back to back, one attempt per period, each heralding
   with probability ``p_e`` (:class:`~qceas.network.Network`); an attempt still
   running at a slot's end carries over into the next slot if the link keeps
   attempting, so a link attempting throughout completes Δ/period_e attempts per
   slot on average and heralds at exactly the rate ``p/period``. Several segments
   that want the same link take turns in priority order: the first attempts until it
   heralds, the next continues with the attempts left, and so on. A heralded pair
   needs a free memory qubit at both ends of the link; requests are granted by
   priority at every node (a request refused at one end still takes its turn at the
   other, which can leave a qubit idle for a slot: conservative, never over
   capacity). A segment heralds at most once per slot, except in a *streaming* flow
   (below);
5. **swap**: once every segment of a flow holds a pair, ideal Bell-state
   measurements join them at the time the last one heralded (classical signalling
   time is not modelled):

       w_e2e = ∏_i w_i·exp(−Γ_i·(t_swap − t_i)),   F = 1/4 + 3/4·w_e2e

   (ARCHITECTURE §4; Γ_i = 1/T_a + 1/T_b of link i's end nodes), freeing the qubits
   at the intermediate nodes. The end-to-end pair then decays at
   Γ_k = 1/T_k + 1/T_N (its qubits sit at QPU k and the aggregator);
6. **consume on arrival** (optional per flow): a pair made inside the flow's window
   while demand remains is measured at once, at its creation time, as entanglement-
   based QKD does with photons that need no storage. Such a flow *streams* when the
   slot is longer than its slowest link's period and no other flow attempts on its
   links in the slot: it keeps generating through the slot (its segments restart
   after every swap) and all of the slot's pairs are drawn at once.

Choosing the slot: decisions happen once per slot, and a segment that does not
stream heralds at most once per slot. The default slot is the longest attempt period
(lengthened a little to divide the round period), which keeps every link close to its
physical rate; a longer slot is exact for streaming flows and much faster to
simulate (``benchmarks/network_speed.py``), but throttles non-streaming flows, in
particular routes that share a link.

Memory: a segment pair holds one qubit at both ends of its link; an end-to-end pair
one at QPU k and one at the aggregator; ``Network.memory_slots`` bounds the total at
every node. Pair decay follows ARCHITECTURE §4 exactly in continuous time (herald
times inside a slot are the attempt at which the pair heralded); decisions happen at
slot starts.

Why by hand: network simulators such as SeQUeNCe and NetSquid are discrete-event
engines that move one photon or pair at a time in Python objects (SeQUeNCe needs
about 1 ms of wall time per pair in its Bell-diagonal mode); a scheduling study needs
millions of pairs over thousands of links, so this module keeps the whole network in
numpy arrays and advances all links per slot. ``benchmarks/network_speed.py``
measures the difference.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.network.demand import Demand, as_importance
from qceas.network.ledger import FATE, PURPOSE, Ledger, LedgerWriter
from qceas.network.topology import Network
from qceas.physics import QBER_THRESHOLD, bbpssw, dejmps, werner_coefficients
from qceas.reproducibility import deterministic

FloatArray: TypeAlias = NDArray[np.float64]
IntArray: TypeAlias = NDArray[np.int64]
BoolArray: TypeAlias = NDArray[np.bool_]

#: Purification protocols the simulator can run.
PURIFICATIONS: tuple[str, ...] = ("none", "bbpssw", "dejmps")
#: What consumed pairs are for (``Context.use``).
PAIR_USES: tuple[str, ...] = ("key", "gate")
_EPS = 1e-9


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
        flow_w0: (N,) ∏ of segment_w0 along each route: a swap of fresh pairs.
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
            are recorded with 0 key bits.
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
    storage: int
    importance: FloatArray
    sift: float
    purification: str
    use: str = "key"

    @property
    def n_flows(self) -> int:
        return self.network.n_nodes

    def key_bits(self, fidelity: ArrayLike) -> FloatArray:
        """κ(F) = s·r(e(F)), secret key bits of one pair of fidelity F.

        The same as ``sift · secret_fraction(qber(F))`` of :mod:`qceas.physics` (a test
        checks it), without their input checks: the simulator calls it every slot on
        fidelities it computed itself.
        """
        f = np.clip(np.asarray(fidelity, dtype=float), 0.25, 1.0)
        e = 2.0 * (1.0 - f) / 3.0
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -(e * np.log2(e) + (1.0 - e) * np.log2(1.0 - e))
        h = np.where(e > 0.0, h, 0.0)
        r = np.where(e >= QBER_THRESHOLD, 0.0, np.maximum(0.0, 1.0 - 2.0 * h))
        return self.sift * r


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
    """

    attempt: BoolArray | None = None
    consume: BoolArray | None = None
    discard: BoolArray | None = None
    discard_segment: BoolArray | None = None
    purify: BoolArray | None = None
    consume_on_herald: BoolArray | None = None
    priority: FloatArray | None = None


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


# -------------------------------------------------------------------- simulate
def make_context(
    network: Network,
    demand: Demand,
    *,
    slot_s: float | None = None,
    importance: ArrayLike | None = None,
    sift: float = 0.5,
    purification: str = "none",
    use: str = "key",
) -> Context:
    """Check and precompute the static context of a simulation.

    Args:
        network: the network (QPUs 0..N−1, aggregator N).
        demand: the demand; ``demand.n_nodes`` must equal N.
        slot_s: Δ (s), at least the longest attempt period of any link (every link
            completes an attempt in every slot it attempts) and dividing the round
            period into a whole number of slots. None: the longest slot that divides
            the round period into as many slots as fit the longest attempt period,
            ``period / floor(period / longest)``.
        importance: (N,) non-negative weights, uniform when None.
        sift: s in (0, 1].
        purification: one of :data:`PURIFICATIONS`.
        use: one of :data:`PAIR_USES` (see :class:`Context`).
    """
    if use not in PAIR_USES:
        raise ValueError(f"use = {use!r}: must be one of {', '.join(PAIR_USES)}")
    n = network.n_nodes
    if demand.n_nodes != n:
        raise ValueError(f"demand: has ready times for {demand.n_nodes} QPUs; the network has {n}")
    longest = float(network.attempt_period_s.max())
    period = demand.period_s
    if longest > period:
        raise ValueError(
            f"demand.period_s = {period:g}: must be >= the longest attempt period "
            f"{longest:g} s of the network"
        )
    if slot_s is None:
        slot_s = period / math.floor(period / longest * (1 + _EPS))
    if not (_is_real(slot_s) and math.isfinite(slot_s) and slot_s > 0):
        raise ValueError(f"schedule.slot_s = {slot_s!r}: must be a finite number > 0")
    slot_s = float(slot_s)
    if slot_s < longest * (1 - _EPS):
        raise ValueError(
            f"schedule.slot_s = {slot_s:g}: must be >= the longest attempt period "
            f"{longest:g} s (every link attempts at least once per slot)"
        )
    ratio = period / slot_s
    if abs(ratio - round(ratio)) > 1e-6 * ratio:
        raise ValueError(
            f"schedule.slot_s = {slot_s:g}: must divide the round period {period:g} s into "
            f"a whole number of slots (it gives {ratio:.4g}); try {period / math.floor(ratio):g}"
        )
    if not (_is_real(sift) and 0 < sift <= 1):
        raise ValueError(f"schedule.sift = {sift!r}: must be in (0, 1]")
    _check_relay_memory(network)
    if purification not in PURIFICATIONS:
        raise ValueError(
            f"schedule.purification = {purification!r}: must be one of {', '.join(PURIFICATIONS)}"
        )
    round_slots, ready, deadline = demand.slots(slot_s)
    k = slot_s / network.attempt_period_s
    p = network.success_probability
    success = -np.expm1(k * np.log1p(-np.minimum(p, 1 - 1e-16)))
    success = np.where(p >= 1.0, 1.0, success)

    rate_node = 1.0 / network.coherence_time_s
    flows = [np.full(len(r), i, dtype=np.int64) for i, r in enumerate(network.routes)]
    seg_flow = np.concatenate(flows)
    seg_link = np.concatenate(network.routes).astype(np.int64)
    seg_start = np.concatenate([[0], np.cumsum([len(r) for r in network.routes])]).astype(np.int64)
    ends = network.endpoints[seg_link]
    seg_rate = rate_node[ends[:, 0]] + rate_node[ends[:, 1]]
    seg_w0 = (4.0 * network.initial_fidelity[seg_link] - 1.0) / 3.0
    flow_w0 = np.multiply.reduceat(seg_w0, seg_start[:-1])
    flow_rate = rate_node[:n] + rate_node[n]
    return Context(
        network=network,
        demand=demand,
        slot_s=float(slot_s),
        attempts_per_slot=k,
        slot_success=success,
        round_slots=round_slots,
        ready_slot=ready,
        deadline_slot=deadline,
        total_slots=demand.rounds * round_slots,
        segment_flow=seg_flow,
        segment_link=seg_link,
        segment_start=seg_start,
        segment_rate=seg_rate,
        segment_w0=seg_w0,
        flow_rate=flow_rate,
        flow_w0=flow_w0,
        storage=int(network.memory_slots[:n].max()),
        importance=as_importance(importance, n),
        sift=float(sift),
        purification=purification,
        use=use,
    )


def simulate(
    context: Context,
    scheduler: Scheduler,
    *,
    rng: np.random.Generator,
) -> SimulationResult:
    """Run ``scheduler`` over ``context.total_slots`` slots; every pair goes in the ledger.

    The scheduler's own randomness and the physics draw from ``rng``, in a fixed
    order, so a seed reproduces the run exactly.
    """
    return Simulation(context, scheduler, rng=rng).run()


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


class Simulation:
    """A simulation advanced one demand round at a time (:func:`simulate` runs it all).

    A training loop calls :meth:`run_round` once per training round; the network state
    (stored pairs, attempts in progress, the ledger) carries over between rounds.

    Args:
        context: the static context.
        scheduler: the policy; ``prepare`` is called here.
        rng: the only source of randomness.
    """

    @deterministic
    def __init__(self, context: Context, scheduler: Scheduler, *, rng: np.random.Generator) -> None:
        self._start = time.perf_counter()
        self.context = context
        self.scheduler = scheduler
        self.rng = rng
        scheduler.prepare(context)
        self._state = _State(context)
        self.slot = 0
        self.rounds_done = 0
        self._finished: SimulationResult | None = None

    def set_importance(self, weights: ArrayLike) -> None:
        """Importance weights for the rounds to come (e.g. the QFI weights of the last
        training round): (N,) finite and >= 0."""
        self._state.importance = as_importance(weights, self.context.n_flows)

    def set_link_outage(self, down: ArrayLike) -> None:
        """Links that make no pairs in the rounds to come: (E,) booleans (all False
        ends the outage). Pairs already heralded or stored are kept; a down link's
        attempts are simply not made, whatever the scheduler asks."""
        mask = np.asarray(down, dtype=bool)
        if mask.shape != (self.context.network.n_links,):
            raise ValueError(
                f"link outage: {mask.shape} flags for {self.context.network.n_links} links"
            )
        self._state.link_down = mask.copy()

    @deterministic
    def run_round(self) -> RoundPairs:
        """Advance through the next round's slots; the pairs consumed for it."""
        ctx = self.context
        if self.rounds_done >= ctx.demand.rounds:
            raise ValueError(f"simulation: all {ctx.demand.rounds} rounds of the demand are done")
        state = self._state
        state.consumed_log.clear()
        end = self.slot + ctx.round_slots
        for slot in range(self.slot, end):
            state.close_deadlines(slot)
            decision = self.scheduler.decide(state.view(slot), rng=self.rng)
            state.apply(slot, decision, self.rng, self.scheduler.name)
        self.slot = end
        index = self.rounds_done
        self.rounds_done += 1
        ids = np.concatenate(state.consumed_log) if state.consumed_log else np.zeros(0, np.int64)
        e2e = state.ledger.e2e
        flows = np.asarray(e2e.column("flow"))[ids]
        fidelity = np.asarray(e2e.column("fate_fidelity"))[ids]
        per_node = tuple(fidelity[flows == k] for k in range(ctx.n_flows))
        return RoundPairs(round=index, fidelities=per_node)

    def run(self) -> SimulationResult:
        """Run every round not yet run, then :meth:`result`."""
        while self.rounds_done < self.context.demand.rounds:
            self.run_round()
        return self.result()

    def result(self) -> SimulationResult:
        """Close the run (pairs still stored become ``unused``) and return it; the
        rounds not yet run are not simulated."""
        if self._finished is None:
            ctx = self.context
            state = self._state
            state.close_deadlines(self.slot)
            state.finish(self.slot * ctx.slot_s)
            self._finished = SimulationResult(
                policy=self.scheduler.name,
                context=ctx,
                ledger=state.ledger.freeze(),
                met=state.met,
                attempts=state.attempts,
                wall_s=time.perf_counter() - self._start,
            )
        return self._finished


# ------------------------------------------------------------------------ state
class _State:
    """Mutable arrays of one simulation (see the module docstring for the steps)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        net = ctx.network
        n, m, s = net.n_nodes, ctx.storage, len(ctx.segment_flow)
        self.n = n
        self.ledger = LedgerWriter()
        self.stored = np.zeros((n, m), dtype=bool)
        self.t_ref = np.full((n, m), np.nan)
        self.w_ref = np.full((n, m), np.nan)
        self.pair_id = np.full((n, m), -1, dtype=np.int64)
        self._made_id = np.full(n, -1, dtype=np.int64)  # last pair made by each flow
        self.seg_has = np.zeros(s, dtype=bool)
        self.seg_herald = np.full(s, np.nan)
        self.seg_id = np.full(s, -1, dtype=np.int64)
        # Per link: time from the slot start to the end of its attempt in progress
        # (0: none), so that attempts run back to back across slot boundaries.
        self.phase = np.zeros(net.n_links)
        self.target = np.zeros(n, dtype=np.int64)
        self.remaining = np.full(n, ctx.demand.pairs, dtype=np.int64)
        self.met = np.zeros((ctx.demand.rounds, n), dtype=np.int64)
        self.attempts = 0
        self.consumed_log: list[IntArray] = []  # e2e ids consumed, per call batch
        self.importance = ctx.importance.copy()
        self.link_down: BoolArray | None = None  # links in an outage (Simulation.set_link_outage)
        ends = net.endpoints[ctx.segment_link]
        self.seg_a, self.seg_b = ends[:, 0].copy(), ends[:, 1].copy()
        self.flow_len = np.diff(ctx.segment_start)
        slowest = np.maximum.reduceat(
            net.attempt_period_s[ctx.segment_link], ctx.segment_start[:-1]
        )
        self._multi_round = ctx.slot_s > slowest * (1 + 1e-6)

    # ---- rounds
    def deadline_abs(self) -> IntArray:
        return self.target * self.ctx.round_slots + self.ctx.deadline_slot

    def close_deadlines(self, slot: int) -> None:
        """Move every QPU whose deadline is ``slot`` on to its next round."""
        ctx = self.ctx
        due = (self.deadline_abs() <= slot) & (self.target < ctx.demand.rounds)
        if due.any():
            self.target[due] += 1
            more = due & (self.target < ctx.demand.rounds)
            self.remaining[due] = 0
            self.remaining[more] = ctx.demand.pairs

    # ---- fidelities now
    def stored_fidelity(self, t: float) -> FloatArray:
        w = self.w_ref * np.exp(-self.ctx.flow_rate[:, None] * (t - self.t_ref))
        return np.where(self.stored, 0.25 + 0.75 * w, np.nan)

    def segment_w(self, t: float | FloatArray) -> FloatArray:
        ctx = self.ctx
        return ctx.segment_w0 * np.exp(-ctx.segment_rate * (t - self.seg_herald))

    def occupancy(self) -> IntArray:
        n = self.n
        used = np.bincount(self.seg_a[self.seg_has], minlength=n + 1)
        used += np.bincount(self.seg_b[self.seg_has], minlength=n + 1)
        per_flow = self.stored.sum(axis=1)
        used[:n] += per_flow
        used[n] += int(per_flow.sum())
        return used

    def view(self, slot: int) -> SlotView:
        ctx = self.ctx
        t = slot * ctx.slot_s
        open_ = self.target < ctx.demand.rounds
        tau = np.where(open_, self.deadline_abs() - slot, 0)
        in_window = self._in_window(slot)
        seg_f = np.where(self.seg_has, 0.25 + 0.75 * self.segment_w(t), np.nan)
        return SlotView(
            slot=slot,
            time_s=t,
            target_round=self.target.copy(),
            remaining=self.remaining.copy(),
            slots_to_deadline=tau.astype(np.int64),
            in_window=in_window,
            stored=self.stored.copy(),
            fidelity=self.stored_fidelity(t),
            created_s=np.where(self.stored, self.t_ref, np.nan),
            segment_has=self.seg_has.copy(),
            segment_fidelity=seg_f,
            segment_herald_s=self.seg_herald.copy(),
            free_memory=self.ctx.network.memory_slots - self.occupancy(),
            importance=self.importance.copy(),
        )

    # ---- one slot
    def apply(self, slot: int, decision: Decision, rng: np.random.Generator, who: str) -> None:
        ctx = self.ctx
        t = slot * ctx.slot_s
        n, m, s = self.n, ctx.storage, len(ctx.segment_flow)
        consume = _mask(decision.consume, (n, m), "consume", who) & self.stored
        discard = _mask(decision.discard, (n, m), "discard", who) & self.stored & ~consume
        seg_discard = _mask(decision.discard_segment, (s,), "discard_segment", who) & self.seg_has
        purify = _mask(decision.purify, (n,), "purify", who)
        attempt = _mask(decision.attempt, (s,), "attempt", who)
        on_herald = _mask(decision.consume_on_herald, (n,), "consume_on_herald", who)
        priority = decision.priority
        if priority is not None:
            priority = np.asarray(priority, dtype=float)
            if priority.shape != (s,) or not np.all(np.isfinite(priority)):
                raise ValueError(f"scheduler {who!r}: priority must be ({s},) finite numbers")

        if ctx.use == "gate":
            # A shot needs all of its pairs in memory when it starts: a flow spends its
            # stored pairs only when they meet its whole remaining demand, and nothing
            # is used on arrival (qceas.training.gate_pairs).
            consume[consume.sum(axis=1) < self.remaining] = False
            on_herald = np.zeros_like(on_herald)
        fidelity = self.stored_fidelity(t)
        if consume.any():
            self._consume(consume, fidelity, t, slot, who)
        if discard.any():
            self._drop_stored(discard, fidelity, t)
        if seg_discard.any():
            self._drop_segments(seg_discard, t)
        if ctx.purification != "none" and purify.any():
            self._purify(purify, t, rng)
        # Flows that use pairs on arrival keep generating through the slot (streaming).
        streaming = on_herald & self._in_window(slot) & (self.remaining > 0)
        if self.link_down is not None:
            attempt = attempt & ~self.link_down[ctx.segment_link]
        self._attempt(attempt & ~self.seg_has, priority, slot, rng, streaming)
        made = self._swap()
        if made.size and on_herald.any():
            self._consume_on_arrival(made, on_herald & self._in_window(slot))

    def _in_window(self, slot: int) -> BoolArray:
        ctx = self.ctx
        offset = slot - self.target * ctx.round_slots
        open_ = self.target < ctx.demand.rounds
        return open_ & (offset >= ctx.ready_slot) & (self.deadline_abs() > slot)

    def _consume(
        self, consume: BoolArray, fidelity: FloatArray, t: float, slot: int, who: str
    ) -> None:
        in_window = self._in_window(slot)
        rows = np.flatnonzero(consume.any(axis=1))
        outside = rows[~in_window[rows]]
        if outside.size:
            raise ValueError(
                f"scheduler {who!r}: consumed a pair of QPU {int(outside[0])} outside its "
                "demand window"
            )
        counts = consume.sum(axis=1)
        over = np.flatnonzero(counts > self.remaining)
        if over.size:
            k = int(over[0])
            raise ValueError(
                f"scheduler {who!r}: consumed {int(counts[k])} pairs of QPU {k}, more than "
                f"its remaining demand {int(self.remaining[k])}"
            )
        self._record_consumption(
            self.pair_id[consume], np.nonzero(consume)[0], fidelity[consume], t
        )
        self._clear(consume)

    def _record_consumption(
        self, ids: IntArray, flows: IntArray, f: FloatArray, t: float | FloatArray
    ) -> None:
        """Key from consumed pairs (one per entry); the demand counts key-yielding ones
        (every one for gate pairs)."""
        self.consumed_log.append(np.asarray(ids, dtype=np.int64))
        gate = self.ctx.use == "gate"
        bits = np.zeros(np.shape(f)) if gate else self.ctx.key_bits(f)
        useful = np.ones(bits.shape, dtype=bool) if gate else bits > 0
        fate = np.where(useful, FATE["consumed"], FATE["aborted"]).astype(np.int8)
        self.ledger.e2e.set(
            ids,
            fate=fate,
            fate_s=t,
            fate_fidelity=f,
            purpose=PURPOSE["gate" if gate else "key"],
            key_bits=bits,
            round=self.target[flows],
        )
        gained = np.bincount(flows[useful], minlength=self.n)
        self.remaining -= gained
        self.met[self.target[gained > 0], np.flatnonzero(gained > 0)] += gained[gained > 0]

    def _consume_on_arrival(self, made: IntArray, flows_on: BoolArray) -> None:
        """Consume pairs made this slot at their creation, for flows that asked to."""
        rows = made[flows_on[made] & (self.remaining[made] > 0)]
        if not rows.size:
            return
        # A flow makes at most one pair per slot: find the column it was stored in.
        cols = np.argmax(self.pair_id[rows] == self._made_id[rows, None], axis=1)
        ids = self.pair_id[rows, cols]
        fidelity = 0.25 + 0.75 * self.w_ref[rows, cols]
        self._record_consumption(ids, rows, fidelity, self.t_ref[rows, cols])
        mask = np.zeros_like(self.stored)
        mask[rows, cols] = True
        self._clear(mask)

    def _drop_stored(self, mask: BoolArray, fidelity: FloatArray, t: float) -> None:
        f = fidelity[mask]
        fate = np.where(self.ctx.key_bits(f) > 0, FATE["discarded"], FATE["expired"])
        self.ledger.e2e.set(
            self.pair_id[mask], fate=fate.astype(np.int8), fate_s=t, fate_fidelity=f
        )
        self._clear(mask)

    def _drop_segments(self, mask: BoolArray, t: float) -> None:
        # A lone segment pair's usefulness is judged by the end-to-end pair it could
        # still make with fresh pairs on the rest of the route.
        ctx = self.ctx
        w = self.segment_w(t)[mask]
        flows = ctx.segment_flow[mask]
        best = 0.25 + 0.75 * w * ctx.flow_w0[flows] / ctx.segment_w0[mask]
        fate = np.where(ctx.key_bits(best) > 0, FATE["discarded"], FATE["expired"])
        self.ledger.links.set(
            self.seg_id[mask], fate=fate.astype(np.int8), fate_s=t, fate_fidelity=0.25 + 0.75 * w
        )
        self.seg_has[mask] = False
        self.seg_herald[mask] = np.nan
        self.seg_id[mask] = -1

    def _clear(self, mask: BoolArray) -> None:
        self.stored[mask] = False
        self.t_ref[mask] = np.nan
        self.w_ref[mask] = np.nan
        self.pair_id[mask] = -1

    def _purify(self, purify: BoolArray, t: float, rng: np.random.Generator) -> None:
        ctx = self.ctx
        fidelity = self.stored_fidelity(t)
        flows = np.flatnonzero(purify & (self.stored.sum(axis=1) >= 2))
        if not flows.size:
            return
        order = np.argsort(np.where(self.stored[flows], fidelity[flows], np.inf), axis=1)
        col1, col2 = order[:, 0], order[:, 1]
        f1, f2 = fidelity[flows, col1], fidelity[flows, col2]
        if ctx.purification == "bbpssw":
            p, f_out = bbpssw(f1, f2)
        else:
            p, coeff = dejmps(werner_coefficients(f1), werner_coefficients(f2))
            f_out = coeff[..., 0]  # twirled back to Werner form: keep the Φ+ weight
        p = np.atleast_1d(np.asarray(p, dtype=float))
        f_out = np.clip(np.atleast_1d(np.asarray(f_out, dtype=float)), 0.25, 1.0)
        ok = rng.random(flows.size) < p
        id1, id2 = self.pair_id[flows, col1], self.pair_id[flows, col2]
        fail = ~ok
        if fail.any():
            for ids, f in ((id1, f1), (id2, f2)):
                self.ledger.e2e.set(
                    ids[fail], fate=FATE["purification_failed"], fate_s=t, fate_fidelity=f[fail]
                )
        new = self.ledger.e2e.append(
            int(ok.sum()), flow=flows[ok], created_s=np.full(int(ok.sum()), t), fidelity=f_out[ok]
        )
        for ids, f in ((id1, f1), (id2, f2)):
            self.ledger.e2e.set(
                ids[ok], fate=FATE["purified"], fate_s=t, fate_fidelity=f[ok], child=new
            )
        both = np.zeros_like(self.stored)
        both[flows, col1] = True
        both[flows, col2] = True
        self._clear(both)
        keep_rows, keep_cols = flows[ok], col1[ok]
        self.stored[keep_rows, keep_cols] = True
        self.t_ref[keep_rows, keep_cols] = t
        self.w_ref[keep_rows, keep_cols] = (4.0 * f_out[ok] - 1.0) / 3.0
        self.pair_id[keep_rows, keep_cols] = new

    def _attempt(
        self,
        want: BoolArray,
        priority: FloatArray | None,
        slot: int,
        rng: np.random.Generator,
        streaming: BoolArray,
    ) -> None:
        ctx = self.ctx
        net = ctx.network
        t = slot * ctx.slot_s
        # A link that does not attempt in this slot abandons its attempt in progress.
        carried, self.phase = self.phase, np.zeros_like(self.phase)
        req = np.flatnonzero(want)
        if not req.size:
            return
        # Priority order: higher priority first, then lower segment index.
        key = -priority[req] if priority is not None else np.zeros(req.size)
        req = req[np.lexsort((req, key))]
        # Memory: rank each request among those touching the same node.
        free = net.memory_slots - self.occupancy()
        nodes = np.concatenate([self.seg_a[req], self.seg_b[req]])
        order = np.concatenate([np.arange(req.size), np.arange(req.size)])
        sort = np.lexsort((order, nodes))
        sorted_nodes = nodes[sort]
        first = np.searchsorted(sorted_nodes, sorted_nodes, side="left")
        rank = np.empty(nodes.size, dtype=np.int64)
        rank[sort] = np.arange(nodes.size) - first
        fits = rank < free[nodes]
        granted = req[fits[: req.size] & fits[req.size :]]
        if not granted.size:
            return
        stream = self._streamable(granted, streaming)
        if stream.size:
            self._stream(stream, slot, rng, carried)
            granted = granted[~np.isin(ctx.segment_flow[granted], stream)]
            if not granted.size:
                return
        # Links: granted segments of the same link take turns in priority order.
        links = ctx.segment_link[granted]
        turn = np.lexsort((np.arange(granted.size), links))
        granted, links = granted[turn], links[turn]
        tries = rng.geometric(net.success_probability[links]).astype(np.int64)
        total = np.cumsum(tries)
        group_start = np.flatnonzero(np.concatenate([[True], links[1:] != links[:-1]]))
        before = np.repeat(
            np.concatenate([[0], total[group_start[1:] - 1]]),
            np.diff(np.append(group_start, links.size)),
        )
        used = total - before
        # Attempts run back to back: the first ends when the one carried over from the
        # last slot does (or one period in), then one per period until the slot ends.
        period = net.attempt_period_s[links]
        first = np.where(carried[links] > 0, carried[links], period)
        budget = np.floor((ctx.slot_s - first) / period + _EPS).astype(np.int64) + 1
        heralded = used <= budget
        # Attempts actually run: every link stops at its budget or after its last turn;
        # one still attempting at the slot end carries its attempt in progress over.
        last = np.append(group_start[1:] - 1, links.size - 1)
        self.attempts += int(np.minimum(used[last], budget[last]).sum())
        busy = used[last] > budget[last]
        ends = first[last] + budget[last] * period[last] - ctx.slot_s
        self.phase[links[last[busy]]] = ends[busy]
        got = granted[heralded]
        if not got.size:
            return
        herald_s = t + first[heralded] + (used[heralded] - 1) * period[heralded]
        # The last attempt ends with the slot: never later than the next decision time
        # (computed the same way), whatever the rounding of k·period.
        herald_s = np.minimum(herald_s, (slot + 1) * ctx.slot_s)
        ids = self.ledger.links.append(
            got.size,
            link=ctx.segment_link[got],
            flow=ctx.segment_flow[got],
            herald_s=herald_s,
            fidelity=net.initial_fidelity[ctx.segment_link[got]],
        )
        self.seg_has[got] = True
        self.seg_herald[got] = herald_s
        self.seg_id[got] = ids

    def _streamable(self, granted: IntArray, streaming: BoolArray) -> IntArray:
        """Streaming flows that may make several pairs in this slot: every segment
        either holds a pair or was granted a turn (at least one was), no other granted
        segment uses any of the flow's links, and the slot is longer than the slowest
        link's period (else one herald per segment fits and the ordinary path is the
        same process)."""
        ctx = self.ctx
        streaming = streaming & self._multi_round
        if not streaming.any():
            return np.zeros(0, dtype=np.int64)
        flow = ctx.segment_flow[granted]
        turns = np.bincount(flow, minlength=self.n)
        ready = turns + np.bincount(ctx.segment_flow[self.seg_has], minlength=self.n)
        users = np.bincount(ctx.segment_link[granted], minlength=ctx.network.n_links)
        mine = np.zeros(len(ctx.segment_flow), dtype=np.int64)
        mine[granted] = 1
        # Granted turns of *other* flows on each segment's link.
        others = users[ctx.segment_link] - mine
        alone = np.bincount(ctx.segment_flow[others > 0], minlength=self.n) == 0
        return np.flatnonzero(streaming & (turns > 0) & (ready == self.flow_len) & alone)

    def _stream(
        self, flows: IntArray, slot: int, rng: np.random.Generator, carried: FloatArray
    ) -> None:
        """Every pair the streaming ``flows`` make in this slot, drawn at once.

        Each segment attempts from the previous swap on (from the slot start in the
        first round, where a segment already holding a pair just waits) until it
        heralds after a geometric number G_i of attempts, one period each, and then
        waits; the j-th end-to-end pair is made when the last segment heralds,
        t_j = t_{j−1} + max_i G_ij·period_i. Pairs are consumed on arrival until r of
        them have yielded key (a pair above the QBER threshold aborts and the stream
        goes on); the next pair is stored and ends the stream; pairs of an unfinished
        round stay in their segments. A round lasts at least the slowest link's
        period, so a slot holds at most Δ/period + 1 rounds.
        """
        ctx = self.ctx
        net = ctx.network
        t0, t_end = slot * ctx.slot_s, (slot + 1) * ctx.slot_s
        late = t_end * (1 + _EPS)
        counts = self.flow_len[flows]
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        chosen = np.zeros(self.n, dtype=bool)
        chosen[flows] = True  # flows ascend and segments are grouped by flow in order
        segs = np.flatnonzero(chosen[ctx.segment_flow])
        local = np.repeat(np.arange(flows.size), counts)
        col = np.arange(segs.size)
        links = ctx.segment_link[segs]
        period = net.attempt_period_s[links]
        held = self.seg_has[segs]
        need = self.remaining[flows]
        slowest = np.maximum.reduceat(period, starts)
        # Every round but possibly the first lasts at least the slowest period.
        rows = int(np.floor(ctx.slot_s / slowest.min() + _EPS)) + 2
        tries = rng.geometric(net.success_probability[links], size=(rows, segs.size))
        tries[0, held] = 0  # a held pair needs no attempt in the first round
        wait = tries * period[None, :]
        # Round j starts when round j − 1's pair is made; in the first, a link continues
        # the attempt it carried over (attempt ends at t0 + carried + j·period) and a
        # held pair "heralds" at its own, earlier time. `base` is one period before a
        # segment's first attempt end in each round.
        offset = np.where(carried[links] > 0, carried[links], period) - period
        first = t0 + offset + wait[0]
        first[held] = self.seg_herald[segs[held]]
        length = np.maximum.reduceat(wait, starts, axis=1)
        length[0] = np.maximum.reduceat(first, starts) - t0
        made_at = t0 + np.cumsum(length, axis=0)
        began = np.vstack([np.full((1, flows.size), t0), made_at[:-1]])
        base = began[:, local].copy()
        base[0] += offset
        herald = base + wait
        herald[0, held] = first[held]
        timely = made_at <= late
        made_at = np.minimum(made_at, t_end)
        decayed = ctx.segment_w0[segs][None, :] * np.exp(
            -ctx.segment_rate[segs][None, :] * np.maximum(made_at[:, local] - herald, 0.0)
        )
        w_all = np.multiply.reduceat(decayed, starts, axis=1)
        useful = timely & (True if ctx.use == "gate" else ctx.key_bits(0.25 + 0.75 * w_all) > 0)
        got_before: IntArray = np.cumsum(useful, axis=0) - useful
        consumed = timely & (got_before < need[None, :])
        over = timely & ~consumed
        stored_row = over & (np.cumsum(over, axis=0) == 1)
        done = consumed | stored_row
        n_made = done.sum(axis=0)
        open_ = ~stored_row.any(axis=0) & (n_made < rows)

        # Attempts: all tries of finished rounds, then of the open round up to the end.
        open_row = np.minimum(n_made, rows - 1)[local]
        in_open = open_[local]
        left = np.floor((t_end - base[open_row, col]) / period + _EPS).astype(np.int64)
        partial = np.where(in_open, np.minimum(tries[open_row, col], left), 0)
        self.attempts += int((tries * done[:, local]).sum() + partial.sum())
        # A segment still attempting at the slot end carries its attempt in progress.
        busy = in_open & (tries[open_row, col] > left)
        if busy.any():
            ends = base[open_row, col] + (left + 1) * period - t_end
            self.phase[links[busy]] = ends[busy]

        # End-to-end pairs of finished rounds, row-major (round, flow).
        pr, pf = np.nonzero(done)
        t_made = made_at[pr, pf]
        w = w_all[pr, pf]
        ids = self.ledger.e2e.append(
            pr.size, flow=flows[pf], created_s=t_made, fidelity=0.25 + 0.75 * w
        )
        e2e_of = np.full(done.shape, -1, dtype=np.int64)
        e2e_of[pr, pf] = ids
        # Their link pairs: pairs held from before the slot are already in the ledger.
        r_idx, s_idx = np.nonzero(done[:, local])
        old = (r_idx == 0) & held[s_idx]
        swap_info = {
            "e2e": e2e_of[r_idx, local[s_idx]],
            "fate": np.full(r_idx.size, FATE["swapped"], dtype=np.int8),
            "fate_s": made_at[r_idx, local[s_idx]],
            "fate_fidelity": 0.25 + 0.75 * decayed[r_idx, s_idx],
        }
        if old.any():
            self.ledger.links.set(
                self.seg_id[segs[s_idx[old]]], **{k: v[old] for k, v in swap_info.items()}
            )
        fresh = ~old
        self.ledger.links.append(
            int(fresh.sum()),
            link=links[s_idx[fresh]],
            flow=flows[local[s_idx[fresh]]],
            herald_s=herald[r_idx[fresh], s_idx[fresh]],
            fidelity=net.initial_fidelity[links[s_idx[fresh]]],
            **{k: v[fresh] for k, v in swap_info.items()},
        )
        # Segment state: cleared, then set again by the open round below.
        keep_old = in_open & (open_row == 0) & held
        clear = segs[~keep_old]
        self.seg_has[clear] = False
        self.seg_herald[clear] = np.nan
        self.seg_id[clear] = -1

        use = consumed[pr, pf]
        if use.any():
            self._record_consumption(ids[use], flows[pf[use]], 0.25 + 0.75 * w[use], t_made[use])
        keep = ~use
        if keep.any():
            # The pair after the demand is met: stored (its segments' qubits hold it).
            kf = flows[pf[keep]]
            slot_free = np.argmin(self.stored[kf], axis=1)
            self.stored[kf, slot_free] = True
            self.t_ref[kf, slot_free] = t_made[keep]
            self.w_ref[kf, slot_free] = w[keep]
            self.pair_id[kf, slot_free] = ids[keep]
        # The open round: segments that heralded before the slot ended keep their pair.
        t_open = herald[open_row, col]
        hold = in_open & ~keep_old & (t_open <= late)
        if hold.any():
            at = np.minimum(t_open[hold], t_end)
            new = self.ledger.links.append(
                int(hold.sum()),
                link=links[hold],
                flow=flows[local[hold]],
                herald_s=at,
                fidelity=net.initial_fidelity[links[hold]],
            )
            self.seg_has[segs[hold]] = True
            self.seg_herald[segs[hold]] = at
            self.seg_id[segs[hold]] = new

    def _swap(self) -> IntArray:
        """Join complete routes into end-to-end pairs; returns the flows that made one."""
        ctx = self.ctx
        start = ctx.segment_start[:-1]
        complete = np.logical_and.reduceat(self.seg_has, start) & (self.flow_len > 0)
        flows = np.flatnonzero(complete)
        if not flows.size:
            return flows
        segs = np.flatnonzero(complete[ctx.segment_flow])
        seg_flow = ctx.segment_flow[segs]
        t_swap_flow = np.full(self.n, -np.inf)
        np.maximum.at(t_swap_flow, seg_flow, self.seg_herald[segs])
        t_swap = t_swap_flow[seg_flow]
        w_seg = ctx.segment_w0[segs] * np.exp(
            -ctx.segment_rate[segs] * (t_swap - self.seg_herald[segs])
        )
        w_flow = np.ones(self.n)
        np.multiply.at(w_flow, seg_flow, w_seg)
        created = t_swap_flow[flows]
        w = w_flow[flows]
        new = self.ledger.e2e.append(
            flows.size, flow=flows, created_s=created, fidelity=0.25 + 0.75 * w
        )
        new_of_flow = np.full(self.n, -1, dtype=np.int64)
        new_of_flow[flows] = new
        self.ledger.links.set(
            self.seg_id[segs],
            fate=FATE["swapped"],
            fate_s=t_swap,
            fate_fidelity=0.25 + 0.75 * w_seg,
            e2e=new_of_flow[seg_flow],
        )
        self.seg_has[segs] = False
        self.seg_herald[segs] = np.nan
        self.seg_id[segs] = -1
        # Store: the first empty slot of each flow. A flow's segment held a qubit at
        # QPU k, so a slot is always free (occupancy <= memory_slots[k] <= storage).
        col = np.argmin(self.stored[flows], axis=1)
        if np.any(self.stored[flows, col]):
            raise RuntimeError("network simulator: no storage left for a swapped pair")
        self.stored[flows, col] = True
        self.t_ref[flows, col] = created
        self.w_ref[flows, col] = w
        self.pair_id[flows, col] = new
        self._made_id[flows] = new
        return flows

    def finish(self, t_end: float) -> None:
        """Everything still stored at the end is unused."""
        fidelity = self.stored_fidelity(t_end)
        self.ledger.e2e.set(
            self.pair_id[self.stored],
            fate=FATE["unused"],
            fate_s=t_end,
            fate_fidelity=fidelity[self.stored],
        )
        self._clear(self.stored.copy())
        has = self.seg_has
        self.ledger.links.set(
            self.seg_id[has],
            fate=FATE["unused"],
            fate_s=t_end,
            fate_fidelity=0.25 + 0.75 * self.segment_w(t_end)[has],
        )
        self.seg_has[:] = False


def _is_real(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _check_relay_memory(network: Network) -> None:
    """A node that relays a route holds one qubit for each of its two links' pairs at
    once before the swap: with one memory qubit no pair through it can ever be made."""
    for k, nodes in enumerate(network.route_nodes):
        for relay in nodes[1:-1].tolist():
            if network.memory_slots[relay] < 2:
                raise ValueError(
                    f"network.memory_slots = {int(network.memory_slots[relay])} (node {relay}): "
                    f"must be >= 2 at a node that relays a route (QPU {k}'s route passes "
                    "through it)"
                )


def _mask(value: ArrayLike | None, shape: tuple[int, ...], name: str, who: str) -> BoolArray:
    if value is None:
        return np.zeros(shape, dtype=bool)
    arr = np.asarray(value)
    if arr.shape != shape or arr.dtype != np.bool_:
        raise ValueError(
            f"scheduler {who!r}: Decision.{name} must be a bool array of shape {shape}, "
            f"got {arr.dtype} {arr.shape}"
        )
    return arr
