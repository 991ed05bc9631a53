"""Pair generation on the links, and flows that stream (private engine).

:func:`attempt` is step 4 of a slot (:mod:`qceas.network.simulation`): a link
attempts back to back, one attempt per period ``period_e``, each heralding with
probability ``p_e`` (:class:`~qceas.network.Network`), so the attempts to a herald
are geometric, G ~ Geom(p_e). An attempt still running at a slot's end carries over
into the next slot if the link keeps attempting (``State.phase``), so a link
attempting throughout completes Δ/period_e attempts per slot on average and heralds
at exactly the rate ``p/period``. Several segments that want the same link take
turns in priority order: the first attempts until it heralds, the next continues
with the attempts left, and so on. A heralded pair needs a free memory qubit at both
ends of the link; requests are granted by priority at every node (a request refused
at one end still takes its turn at the other, which can leave a qubit idle for a
slot: conservative, never over capacity). A segment heralds at most once per slot,
except in a streaming flow.

:func:`stream`: a flow that consumes on arrival, alone on its links in the slot, in
a slot longer than its slowest link's period, keeps generating through the slot: its
segments restart after every swap, the j-th end-to-end pair is made when the last
segment heralds, ``t_j = t_{j−1} + max_i G_ij·period_i``, and all of the slot's
pairs are drawn at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from qceas.network.context import EPS
from qceas.network.interface import BoolArray, FloatArray, IntArray
from qceas.network.ledger import FATE
from qceas.physics import fidelity_from_werner_unchecked

if TYPE_CHECKING:
    from qceas.network._state import State


def attempt(
    state: State,
    want: BoolArray,
    priority: FloatArray | None,
    slot: int,
    rng: np.random.Generator,
    streaming: BoolArray,
    *,
    keep_residual: bool = False,
) -> bool:
    """Step 4 of ``slot``: the segments in ``want`` (empty ones) attempt in
    ``priority`` order, within the free memory; granted segments of ``streaming``
    flows that may stream (:func:`streamable`) go to :func:`stream`, the others herald
    at most once. Heralded pairs go in the segments and the ledger. Returns whether
    any pair was heralded or streamed.

    A link's attempts to its next herald are drawn fresh in every slot (they are
    memoryless), except where the last slot left a *residual* (``State.pending``):
    with ``keep_residual`` a link still attempting at the slot end keeps the rest of
    its draw, so that :meth:`State.skip` can tell the slot of its herald in advance.
    """
    ctx = state.ctx
    net = ctx.network
    t = slot * ctx.slot_s
    # A link that does not attempt in this slot abandons its attempt in progress.
    carried, state.phase = state.phase, np.zeros_like(state.phase)
    resumed, pending = state.has_pending, state.pending
    if resumed:
        state.pending, state.has_pending = np.zeros_like(pending), False
    req = np.flatnonzero(want)
    if not req.size:
        return False
    # Priority order: higher priority first, then lower segment index.
    key = -priority[req] if priority is not None else np.zeros(req.size)
    req = req[np.lexsort((req, key))]
    # Memory: rank each request among those touching the same node.
    free = net.memory_slots - state.occupancy()
    nodes = np.concatenate([state.seg_a[req], state.seg_b[req]])
    order = np.concatenate([np.arange(req.size), np.arange(req.size)])
    sort = np.lexsort((order, nodes))
    sorted_nodes = nodes[sort]
    first = np.searchsorted(sorted_nodes, sorted_nodes, side="left")
    rank = np.empty(nodes.size, dtype=np.int64)
    rank[sort] = np.arange(nodes.size) - first
    fits = rank < free[nodes]
    granted = req[fits[: req.size] & fits[req.size :]]
    if not granted.size:
        return False
    streamers = streamable(state, granted, streaming)
    streamed = bool(streamers.size)  # a stream always makes or changes pairs
    if streamed:
        stream(state, streamers, slot, rng, carried, pending if resumed else None)
        granted = granted[~np.isin(ctx.segment_flow[granted], streamers)]
        if not granted.size:
            return True
    # Links: granted segments of the same link take turns in priority order.
    links = ctx.segment_link[granted]
    turn = np.lexsort((np.arange(granted.size), links))
    granted, links = granted[turn], links[turn]
    group_start = np.flatnonzero(np.concatenate([[True], links[1:] != links[:-1]]))
    # Attempts run back to back: the first ends when the one carried over from the
    # last slot does (or one period in), then one per period until the slot ends.
    period = net.attempt_period_s[links]
    first = np.where(carried[links] > 0, carried[links], period)
    budget = np.floor((ctx.slot_s - first) / period + EPS).astype(np.int64) + 1
    if keep_residual or resumed:
        tries = _turn_draws(
            rng, net.success_probability[links], group_start, budget, pending[links]
        )
    else:
        tries = rng.geometric(net.success_probability[links]).astype(np.int64)
    total = np.cumsum(tries)
    before = np.repeat(
        np.concatenate([[0], total[group_start[1:] - 1]]),
        np.diff(np.append(group_start, links.size)),
    )
    used = total - before
    heralded = used <= budget
    # Attempts actually run: every link stops at its budget or after its last turn;
    # one still attempting at the slot end carries its attempt in progress over.
    last = np.append(group_start[1:] - 1, links.size - 1)
    state.attempts += int(np.minimum(used[last], budget[last]).sum())
    busy = used[last] > budget[last]
    ends = first[last] + budget[last] * period[last] - ctx.slot_s
    state.phase[links[last[busy]]] = ends[busy]
    if keep_residual:
        # Links on which no turn heralded: their first turn is still running.
        idle = used[group_start] > budget[group_start]
        if idle.any():
            state.pending[links[group_start[idle]]] = (tries - budget)[group_start[idle]]
            state.has_pending = True
    got = granted[heralded]
    if not got.size:
        return streamed
    herald_s = t + first[heralded] + (used[heralded] - 1) * period[heralded]
    # The last attempt ends with the slot: never later than the next decision time
    # (computed the same way), whatever the rounding of k·period.
    herald_s = np.minimum(herald_s, (slot + 1) * ctx.slot_s)
    ids = state.ledger.links.append(
        got.size,
        link=ctx.segment_link[got],
        flow=ctx.segment_flow[got],
        herald_s=herald_s,
        fidelity=net.initial_fidelity[ctx.segment_link[got]],
    )
    state.seg_has[got] = True
    state.seg_herald[got] = herald_s
    state.seg_id[got] = ids
    return True


def _turn_draws(
    rng: np.random.Generator,
    p: FloatArray,
    group_start: IntArray,
    budget: IntArray,
    rest: IntArray,
) -> IntArray:
    """Attempts to the herald of every turn that starts in the slot, drawn turn by
    turn: the first turn on a link continues its link's kept draw where there is one
    (``rest`` > 0), a later turn is drawn only if the turns before it heralded within
    the link's budget; turns that never start get 0. Same law as one draw per turn
    (the draws of turns that never start are never read), and nothing is drawn in a
    slot whose every turn continues a kept draw, so a stepped run with kept draws
    and one that skips such slots (:meth:`State.skip`) draw the same numbers."""
    n = p.size
    tries = np.zeros(n, dtype=np.int64)
    size = np.diff(np.append(group_start, n))
    used = np.zeros(group_start.size, dtype=np.int64)
    groups = np.arange(group_start.size)
    turn = 0
    while groups.size:
        idx = group_start[groups] + turn
        draw = rest[idx] if turn == 0 else np.zeros(idx.size, dtype=np.int64)
        fresh = draw <= 0
        if fresh.any():
            draw[fresh] = rng.geometric(p[idx[fresh]])
        tries[idx] = draw
        used[groups] += draw
        turn += 1
        groups = groups[(used[groups] <= budget[idx]) & (size[groups] > turn)]
    return tries


def streamable(state: State, granted: IntArray, streaming: BoolArray) -> IntArray:
    """Streaming flows that may make several pairs in this slot: every segment
    either holds a pair or was granted a turn (at least one was), no other granted
    segment uses any of the flow's links, and the slot is longer than the slowest
    link's period (else one herald per segment fits and the ordinary path is the
    same process)."""
    ctx = state.ctx
    streaming = streaming & state.multi_round
    if not streaming.any():
        return np.zeros(0, dtype=np.int64)
    flow = ctx.segment_flow[granted]
    turns = np.bincount(flow, minlength=state.n)
    ready = turns + np.bincount(ctx.segment_flow[state.seg_has], minlength=state.n)
    users = np.bincount(ctx.segment_link[granted], minlength=ctx.network.n_links)
    mine = np.zeros(len(ctx.segment_flow), dtype=np.int64)
    mine[granted] = 1
    # Granted turns of *other* flows on each segment's link.
    others = users[ctx.segment_link] - mine
    alone = np.bincount(ctx.segment_flow[others > 0], minlength=state.n) == 0
    return np.flatnonzero(streaming & (turns > 0) & (ready == state.flow_len) & alone)


def stream(
    state: State,
    flows: IntArray,
    slot: int,
    rng: np.random.Generator,
    carried: FloatArray,
    pending: IntArray | None,
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
    ctx = state.ctx
    net = ctx.network
    t0, t_end = slot * ctx.slot_s, (slot + 1) * ctx.slot_s
    late = t_end * (1 + EPS)
    counts = state.flow_len[flows]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    chosen = np.zeros(state.n, dtype=bool)
    chosen[flows] = True  # flows ascend and segments are grouped by flow in order
    segs = np.flatnonzero(chosen[ctx.segment_flow])
    local = np.repeat(np.arange(flows.size), counts)
    col = np.arange(segs.size)
    links = ctx.segment_link[segs]
    period = net.attempt_period_s[links]
    held = state.seg_has[segs]
    need = state.remaining[flows]
    slowest = np.maximum.reduceat(period, starts)
    # Every round but possibly the first lasts at least the slowest period.
    rows = int(np.floor(ctx.slot_s / slowest.min() + EPS)) + 2
    tries = rng.geometric(net.success_probability[links], size=(rows, segs.size))
    if pending is not None:  # attempts carried over with the rest of their draw
        tries[0] = np.where(pending[links] > 0, pending[links], tries[0])
    tries[0, held] = 0  # a held pair needs no attempt in the first round
    wait = tries * period[None, :]
    # Round j starts when round j − 1's pair is made; in the first, a link continues
    # the attempt it carried over (attempt ends at t0 + carried + j·period) and a
    # held pair "heralds" at its own, earlier time. `base` is one period before a
    # segment's first attempt end in each round.
    offset = np.where(carried[links] > 0, carried[links], period) - period
    first = t0 + offset + wait[0]
    first[held] = state.seg_herald[segs[held]]
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
    w_all = np.multiply.reduceat(decayed, starts, axis=1) * ctx.flow_signal[flows][None, :]
    # What counts toward the demand is the context's use (network/_uses.py).
    useful = timely & ctx.pair_use.worth(ctx, fidelity_from_werner_unchecked(w_all))[1]
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
    left = np.floor((t_end - base[open_row, col]) / period + EPS).astype(np.int64)
    partial = np.where(in_open, np.minimum(tries[open_row, col], left), 0)
    state.attempts += int((tries * done[:, local]).sum() + partial.sum())
    # A segment still attempting at the slot end carries its attempt in progress.
    busy = in_open & (tries[open_row, col] > left)
    if busy.any():
        ends = base[open_row, col] + (left + 1) * period - t_end
        state.phase[links[busy]] = ends[busy]

    # End-to-end pairs of finished rounds, row-major (round, flow).
    pr, pf = np.nonzero(done)
    t_made = made_at[pr, pf]
    w = w_all[pr, pf]
    ids = state.ledger.e2e.append(
        pr.size, flow=flows[pf], created_s=t_made, fidelity=fidelity_from_werner_unchecked(w)
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
        "fate_fidelity": fidelity_from_werner_unchecked(decayed[r_idx, s_idx]),
    }
    if old.any():
        state.ledger.links.set(
            state.seg_id[segs[s_idx[old]]], **{k: v[old] for k, v in swap_info.items()}
        )
    fresh = ~old
    state.ledger.links.append(
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
    state.seg_has[clear] = False
    state.seg_herald[clear] = np.nan
    state.seg_id[clear] = -1

    use = consumed[pr, pf]
    if use.any():
        state.record_consumption(
            ids[use], flows[pf[use]], fidelity_from_werner_unchecked(w[use]), t_made[use]
        )
    keep = ~use
    if keep.any():
        # The pair after the demand is met: stored (its segments' qubits hold it).
        kf = flows[pf[keep]]
        slot_free = np.argmin(state.stored[kf], axis=1)
        state.stored[kf, slot_free] = True
        state.t_ref[kf, slot_free] = t_made[keep]
        state.w_ref[kf, slot_free] = w[keep]
        state.pair_id[kf, slot_free] = ids[keep]
    # The open round: segments that heralded before the slot ended keep their pair.
    t_open = herald[open_row, col]
    hold = in_open & ~keep_old & (t_open <= late)
    if hold.any():
        at = np.minimum(t_open[hold], t_end)
        new = state.ledger.links.append(
            int(hold.sum()),
            link=links[hold],
            flow=flows[local[hold]],
            herald_s=at,
            fidelity=net.initial_fidelity[links[hold]],
        )
        state.seg_has[segs[hold]] = True
        state.seg_herald[segs[hold]] = at
        state.seg_id[segs[hold]] = new
