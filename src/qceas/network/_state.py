"""The mutable state of one simulation and its bookkeeping of pairs (private engine).

:class:`State` holds, as numpy arrays over all flows and segments at once: the stored
end-to-end pairs of every flow (M slots each: creation time t_ref, Werner parameter
w_ref at that time, ledger id), the link pair of every segment (herald time, ledger
id), every link's attempt in progress, and each QPU's target round and remaining
demand. :meth:`State.apply` runs one slot's steps in the order of the module
docstring of :mod:`qceas.network.simulation`: consume, discard, purify, attempt
(:mod:`qceas.network._generation`), swap, consume on arrival.

Fidelities are never stored: a pair keeps its Werner parameter at a reference time
and its fidelity at t is ``F = 1/4 + 3/4·w_ref·exp(−Γ·(t − t_ref))`` (ARCHITECTURE
§4; Γ = Γ_k for an end-to-end pair, 1/T_a + 1/T_b for a link pair), so decay is exact
in continuous time whatever the slot. A swap joins the link pairs of a complete route
at the time the last one heralded, ``w_e2e = ∏_i w_i·exp(−Γ_i·(t_swap − t_i))``. A
purification (BBPSSW or DEJMPS, :mod:`qceas.physics.purification`) takes a flow's two
lowest-fidelity pairs, succeeds with its probability, and twirls the output back to
Werner form (DEJMPS: its Φ+ weight). What a consumed pair yields (key bits, demand
met) is the context's consume policy (:mod:`qceas.network._uses`). Every pair's fate
goes in the ledger (:mod:`qceas.network.ledger`).
"""

from __future__ import annotations

import bisect

import numpy as np
from numpy.typing import ArrayLike

from qceas.network import _generation
from qceas.network.context import EPS
from qceas.network.interface import (
    BoolArray,
    Context,
    Decision,
    FloatArray,
    IntArray,
    SlotView,
)
from qceas.network.ledger import FATE, LedgerWriter
from qceas.physics import (
    bbpssw,
    dejmps,
    fidelity_from_werner_unchecked,
    werner_coefficients,
    werner_parameter_unchecked,
)


def attempts_completed(
    slots: IntArray | int, phase: FloatArray, period: FloatArray, slot_s: float
) -> IntArray:
    """m(i) = ⌊(i·Δ + EPS·P − c)/P⌋ + 1 (never negative): the attempts a link attempting
    back to back completes in i whole slots from a slot start at which its attempt in
    progress ends c into the slot (:meth:`State.skip`; the same count as stepping
    :func:`~qceas.network._generation.attempt`'s per-slot rule i times, except where an
    attempt ends within rounding of a slot end plus EPS·P, where the two may count it
    in neighbouring slots: a float tie of measure zero, which moves one herald by one
    slot and changes no law)."""
    m = np.floor((slots * slot_s + EPS * period - phase) / period).astype(np.int64) + 1
    return np.maximum(m, 0)


class State:
    """Mutable arrays of one simulation (the module docstring says what they hold)."""

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
        # Per link: attempts left to the herald of the attempt in progress, where the
        # last slot kept its draw (network/_generation.py; 0: draw afresh).
        self.pending = np.zeros(net.n_links, dtype=np.int64)
        self.has_pending = False
        self.target = np.zeros(n, dtype=np.int64)
        self._rounds_changed()
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
        # Flows whose slot is longer than their slowest link's period: a slot holds
        # several rounds of their segments, so they may stream (network/_generation.py).
        self.multi_round = ctx.slot_s > slowest * (1 + 1e-6)

    # ---- rounds
    def _rounds_changed(self) -> None:
        """Recompute what depends on the target rounds alone (they change only in
        :meth:`close_deadlines`): deadlines, open flows, the next deadline and the
        sorted slots at which a window opens or closes."""
        ctx = self.ctx
        base = self.target * ctx.round_slots
        self._deadline_abs = base + ctx.deadline_slot
        self._ready_abs = base + ctx.ready_slot
        self._open = self.target < ctx.demand.rounds
        live = self._deadline_abs[self._open]
        self._next_due = int(live.min()) if live.size else np.iinfo(np.int64).max
        self._events = sorted({int(v) for v in np.concatenate([live, self._ready_abs[self._open]])})
        self._window_at: tuple[int, BoolArray] | None = None

    def close_deadlines(self, slot: int) -> None:
        """Move every QPU whose deadline is ``slot`` on to its next round."""
        if slot < self._next_due:
            return  # no deadline yet (the common case: one comparison)
        ctx = self.ctx
        due = (self._deadline_abs <= slot) & self._open
        if due.any():
            self.target[due] += 1
            more = due & (self.target < ctx.demand.rounds)
            self.remaining[due] = 0
            self.remaining[more] = ctx.demand.pairs
            self._rounds_changed()

    # ---- fidelities now
    def stored_fidelity(self, t: float) -> FloatArray:
        w = self.w_ref * np.exp(-self.ctx.flow_rate[:, None] * (t - self.t_ref))
        return np.where(self.stored, fidelity_from_werner_unchecked(w), np.nan)

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
        tau = np.where(self._open, self._deadline_abs - slot, 0)
        in_window = self._in_window(slot).copy()
        seg_f = np.where(self.seg_has, fidelity_from_werner_unchecked(self.segment_w(t)), np.nan)
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

    def next_window_change(self, slot: int) -> int:
        """The first slot after ``slot`` at which a demand window opens or closes (a
        round's deadline included); a very large number once all rounds are over."""
        events = self._events
        at = bisect.bisect_right(events, slot)
        return events[at] if at < len(events) else np.iinfo(np.int64).max

    def skip(self, slot: int, limit: int) -> int:
        """Advance through up to ``limit`` slots from ``slot`` on in which nothing
        happens, without deciding them; returns how many were skipped.

        Called after a slot in which nothing happened, under a decision the
        scheduler promised to keep (:attr:`Decision.stable_slots`): every link still
        attempting keeps attempting, back to back, and the rest of its draw
        (``pending``, R attempts with the one in progress) says where its herald
        falls. Attempt j = 0, 1, … after the slot start ends at c + j·P (c: the
        carried phase, P: the period), and belongs to the slot it ends in, an end
        within EPS·P past a slot end counting for that slot (the rule of
        :func:`~qceas.network._generation.attempt`); so i whole slots complete
        m(i) = ⌊(i·Δ + EPS·P − c)/P⌋ + 1 attempts, and the herald is in slot i*, the
        least i with m(i + 1) ≥ R. Up to the first herald, the limit and the next
        window change, the slots are skipped: each link's attempts and phase move on
        by m, its draw keeps R − m ≥ 1. Exact: the skipped slots are those in which
        the stepped simulation would herald nothing and the scheduler, by its promise,
        would decide the same; the draws are the same ones (a stepped run with kept
        draws and Δ = P gives the same ledger bit for bit,
        ``tests/network/test_skipping.py``)."""
        ctx = self.ctx
        limit = min(limit, self.next_window_change(slot - 1) - slot)
        if limit <= 0:
            return 0
        busy = np.flatnonzero(self.phase > 0)
        if busy.size:
            rest = self.pending[busy]
            if not self.has_pending or np.any(rest <= 0):
                return 0  # an attempt in progress without its draw: decide the slot
            delta = ctx.slot_s
            period = ctx.network.attempt_period_s[busy]
            c = self.phase[busy]

            def done(i: IntArray | int) -> IntArray:
                return attempts_completed(i, c, period, delta)

            # i*: from the slot the herald's end time falls in, corrected by m itself
            # where rounding put it one off (m is non-decreasing and m(0) = 0 < R).
            herald = np.floor(((rest - 1) * period + c) / delta).astype(np.int64)
            herald = np.maximum(herald, 0)
            while np.any(late := done(herald) >= rest):
                herald = herald - late
            while np.any(early := done(herald + 1) < rest):
                herald = herald + early
            limit = min(limit, int(herald.min()))
            if limit <= 0:
                return 0
            m = done(limit)
            self.attempts += int(m.sum())
            self.phase[busy] = c + (m * period - limit * delta)
            self.pending[busy] = rest - m
        return limit

    # ---- one slot
    def apply(
        self,
        slot: int,
        decision: Decision,
        rng: np.random.Generator,
        who: str,
        *,
        keep_residual: bool = False,
    ) -> bool:
        """Run ``decision`` in ``slot``; returns whether anything happened (a pair
        made, consumed, purified or dropped). ``keep_residual``: links still
        attempting keep the rest of their draw (for :meth:`skip`)."""
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

        # What the pairs are for decides which of these go ahead (network/_uses.py).
        consume, on_herald = ctx.pair_use.admit(consume, on_herald, self.remaining)
        happened = False
        consuming, discarding = bool(consume.any()), bool(discard.any())
        if consuming or discarding:
            happened = True
            fidelity = self.stored_fidelity(t)
            if consuming:
                self._consume(consume, fidelity, t, slot, who)
            if discarding:
                self._drop_stored(discard, fidelity, t)
        if seg_discard.any():
            happened = True
            self._drop_segments(seg_discard, t)
        if ctx.purification != "none" and purify.any():
            happened = True
            self._purify(purify, t, rng)
        # Flows that use pairs on arrival keep generating through the slot (streaming).
        in_window = self._in_window(slot)
        streaming = on_herald & in_window & (self.remaining > 0)
        if self.link_down is not None:
            attempt = attempt & ~self.link_down[ctx.segment_link]
        heralded = _generation.attempt(
            self,
            attempt & ~self.seg_has,
            priority,
            slot,
            rng,
            streaming,
            keep_residual=keep_residual,
        )
        if not heralded:
            return happened  # no new segment pair: no route is newly complete
        made = self._swap()
        if made.size and on_herald.any():
            self._consume_on_arrival(made, on_herald & in_window)
        return True

    def _in_window(self, slot: int) -> BoolArray:
        """(N,) whether each QPU may consume in ``slot`` (read-only: cached for the
        slot, since view and apply both ask)."""
        cached = self._window_at
        if cached is not None and cached[0] == slot:
            return cached[1]
        window = self._open & (self._ready_abs <= slot) & (self._deadline_abs > slot)
        self._window_at = (slot, window)
        return window

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
        self.record_consumption(self.pair_id[consume], np.nonzero(consume)[0], fidelity[consume], t)
        self._clear(consume)

    def record_consumption(
        self, ids: IntArray, flows: IntArray, f: FloatArray, t: float | FloatArray
    ) -> None:
        """Consumed pairs (one per entry, fidelity ``f`` at time ``t``): their key bits
        and the demand they meet, as the context's use says (network/_uses.py)."""
        self.consumed_log.append(np.asarray(ids, dtype=np.int64))
        use = self.ctx.pair_use
        bits, useful = use.worth(self.ctx, f)
        fate = np.where(useful, FATE["consumed"], FATE["aborted"]).astype(np.int8)
        self.ledger.e2e.set(
            ids,
            fate=fate,
            fate_s=t,
            fate_fidelity=f,
            purpose=use.purpose,
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
        fidelity = fidelity_from_werner_unchecked(self.w_ref[rows, cols])
        self.record_consumption(ids, rows, fidelity, self.t_ref[rows, cols])
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
        # Written out: fidelity_from_werner_unchecked(w·flow_w0/w0) would multiply by
        # 3/4 last, not first, and change the last bit.
        best = 0.25 + 0.75 * w * ctx.flow_w0[flows] / ctx.segment_w0[mask]
        fate = np.where(ctx.key_bits(best) > 0, FATE["discarded"], FATE["expired"])
        self.ledger.links.set(
            self.seg_id[mask],
            fate=fate.astype(np.int8),
            fate_s=t,
            fate_fidelity=fidelity_from_werner_unchecked(w),
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
        self.w_ref[keep_rows, keep_cols] = werner_parameter_unchecked(f_out[ok])
        self.pair_id[keep_rows, keep_cols] = new

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
        w = w_flow[flows] * ctx.flow_signal[flows]
        new = self.ledger.e2e.append(
            flows.size, flow=flows, created_s=created, fidelity=fidelity_from_werner_unchecked(w)
        )
        new_of_flow = np.full(self.n, -1, dtype=np.int64)
        new_of_flow[flows] = new
        self.ledger.links.set(
            self.seg_id[segs],
            fate=FATE["swapped"],
            fate_s=t_swap,
            fate_fidelity=fidelity_from_werner_unchecked(w_seg),
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
            fate_fidelity=fidelity_from_werner_unchecked(self.segment_w(t_end)[has]),
        )
        self.seg_has[:] = False


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
