"""The CEAS scheduler: decoherence-aware, driven by the per-flow MDP of :mod:`.mdp`.

For every QPU k the route to the aggregator is treated as one heralded channel (a
:class:`~qceas.scheduling.mdp.LinkClass`) and its finite-horizon MDP is solved
exactly; in every slot the flow then does what the optimal policy says for its state
(τ slots to the deadline, r pairs still needed, ages of its stored pairs):

* **just-in-time generation**: the policy attempts only from
  :meth:`~qceas.scheduling.mdp.Policy.first_attempt` slots before the deadline, so
  pairs arrive when the node's update is ready rather than decaying in memory;
* **consumption** of the pairs that maximise the expected key (not always the
  freshest, see :mod:`.mdp`), only pairs that still yield key;
* **cutoff**: discards chosen by the policy, and for multi-link routes any segment
  pair that could no longer make a key-yielding end-to-end pair;
* **priority**: where flows share a link or memory, attempts go by priority
  ``importance·(1 + 1/τ)/E[N]``: the importance weight (``SlotView.importance``, the
  verified QFI weights of the last round in a training run) scaled up for flows
  close to their deadline, and down by the fresh pairs a key pair costs the flow
  (E[N] = 1 without purification, E[N_L] on a ladder, below): value per use of the
  shared resource, a greedy rule for a knapsack the MDPs of single flows do not see;
* **purification** (when the simulation enables it), two ways. A flow whose fresh
  end-to-end pairs yield key purifies by a one-step look-ahead: the two
  lowest-fidelity kept pairs when p·κ(F') > κ(F1) + κ(F2). A flow whose fresh pairs
  yield *no* key (κ(0) = 0, most 2–3-hop routes at F0 0.85–0.9) climbs the
  recurrence ladder of :mod:`.ladder`: its MDP is solved over *units*, level-L
  purified pairs, a channel of per-slot success p/E[N_L] and fresh fidelity F_L
  with M − L − 1 memory slots (the other L + 1 hold the pairs on the way up); the
  MDP says when to generate and which units to consume or discard, the ladder's
  binary-counter rule when to purify, and a raw pair that no fresh partners could
  lift to a key-yielding unit is discarded. The unit channel keeps only the mean
  time to a unit (a heuristic, :mod:`.ladder`); the simulator does the physics of
  every round exactly. A flow needs memory M >= L + 2 for a ladder of L levels;
  with less, or more levels than ``purify_levels``, it does not generate. While a
  flow that needs no purification is planning (inside its horizon, demand left), a
  climbing flow whose route shares a link or a node (other than the aggregator)
  with that flow's route neither attempts on any of its links nor holds a link pair
  (it discards what it holds; the ledger records those as expired, judged by the
  unpurified pair's key; the raw pairs it stores at its own QPU stay, even where
  that QPU relays for the planning flow): spending E[N_L] >= 2
  pairs per unit, it would otherwise fill the relays' shared memories with half-built
  routes and starve the flows whose every pair counts (found while developing the
  rule on seed 0 of ``paper-multihop-purify``, its first 10 rounds: without it the
  1-hop flows met 0.78 of their demand instead of 0.96 and the 2-hop flows that need
  no purification about a fifth of what they met without purification).

The class of flow k: per-slot success ``p = 1/E[slots until every segment of the route
has heralded]`` (segments attempt in parallel; for one link this is
``1 − (1 − p_e)^{k_e}`` with k_e = Δ/period_e attempts per slot), fresh fidelity
``1/4 + 3/4·∏ w_i`` (a swap of fresh link pairs), decay rate Γ_k = 1/T_k + 1/T_N,
memory ``min(memory_slots[k], max_memory)``, demand R, window W = deadline − ready
slots and horizon H = min(deadline, W + lead) with ``lead = ceil(lead_factor·R/p)``
slots (before τ = H the flow is idle: no plan needs pairs that early). Each heralded
pair costs ``pair_cost·κ(0)`` key bits, charged as ``pair_cost·κ(0)·p`` per
attempt-slot: without a price on pairs the optimum keeps refreshing stored pairs (a
fresher pair gives more key) and wastes most of what it heralds. A stored pair's age
for the policy is the number of slots after which a fresh pair of the flow (exact
values, not the rounded class) would have decayed to its current fidelity, rounded up;
ages are capped at the first age with no key (:meth:`CEASScheduler._age_cap`), and a
pair that yields no key is discarded. Within a slot, the plan cannot see sub-slot
timing: a pair heralded late in the slot before the window might still be usable,
which the plan does not count on.

Classes are rounded (p, F0, Γ to 3 significant digits) and solved once per distinct
class, all of a network's new classes in one batched induction
(:func:`~qceas.scheduling.mdp_batch.solve_many`, the tables of one solve each; only
the action tables are kept): about 0.6 s for the 50 classes of ``paper`` and 1.9 s
for the 1000 of a 1000-QPU ``paper`` network (``benchmarks/network_speed.py``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from qceas.network.interface import Context, Decision, SlotView
from qceas.network.metrics import KEY_FIDELITY_THRESHOLD
from qceas.physics import (
    bbpssw,
    dejmps,
    fidelity_from_werner_unchecked,
    werner_coefficients,
    werner_parameter_unchecked,
)
from qceas.scheduling import ladder as ladders
from qceas.scheduling.base import SCHEDULERS, FloatArray, IntArray
from qceas.scheduling.mdp import UTILITIES, LinkClass, Policy
from qceas.scheduling.mdp_batch import solve_many


def _finite_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _round3(x: float) -> float:
    return float(f"{x:.3g}")


def route_success(slot_success: np.ndarray) -> float:
    """Per-slot success of a route as one channel: 1/E[max_i G_i], G_i ~ Geom(q_i).

    By inclusion–exclusion over the links, with P(G_i > t) = (1 − q_i)^t,

        E[max_i G_i] = Σ_{t≥0} (1 − ∏_i (1 − (1 − q_i)^t))
                     = Σ_{∅≠S⊆links} (−1)^{|S|+1} / (1 − ∏_{i∈S} (1 − q_i)),

    exact, in 2^h − 1 terms for h links (a route of more than 16 links is refused).
    """
    q = np.asarray(slot_success, dtype=float)
    if q.size == 1:
        return float(q[0])
    if q.size > 16:
        raise ValueError(f"route_success: {q.size} links; at most 16 (2^h terms)")
    subsets = (np.arange(1, 2**q.size)[:, None] >> np.arange(q.size)[None, :]) & 1
    fail_all = np.prod(np.where(subsets == 1, 1.0 - q[None, :], 1.0), axis=1)
    signs = np.where(subsets.sum(axis=1) % 2 == 1, 1.0, -1.0)
    return float(1.0 / np.sum(signs / (1.0 - fail_all)))


@dataclass(frozen=True)
class FlowPlan:
    """The solved plan of one flow: its class, policy, and when it becomes active."""

    link: LinkClass
    policy: Policy
    horizon: int
    ladder: ladders.Ladder | None = None


@SCHEDULERS.register("ceas")
class CEASScheduler:
    """Decoherence-aware scheduling by the per-flow MDP (module docstring).

    Args:
        pair_cost: price of one heralded pair as a fraction of κ(0) (>= 0).
        max_memory: cap on the pairs the MDP tracks per flow (state size grows as
            C(A + 1 + m, m)); the simulator still enforces the true memory. None (the
            default): 2 for key use; for gate use (``Context.use == "gate"``) the pairs
            one round needs, ``context.demand.pairs``, which a shot must hold at once.
        lead_factor: generation may start up to ``lead_factor·R/p`` slots before
            the window (>= 1).
        max_states: passed to :func:`~qceas.scheduling.mdp.solve`.
        utility: what a consumed pair is worth (:data:`~qceas.scheduling.mdp.UTILITIES`):
            ``key`` (κ(F), pairs for key distillation) or ``gate`` (the Werner parameter
            w = (4F − 1)/3 of a pair spent on a teleported gate,
            :mod:`qceas.qnn.partition`), so that no pair is "dead" before it is fully
            mixed, and a fresher pair is still worth more. None (the default): the
            context's own use, ``Context.use``; ``gate`` for agreement pairs too (their
            Z correlation 1 − 2ε is w, what the agreement's checks rest on).
        max_demand: the MDP tracks at most this many outstanding pairs; a node that
            needs more is planned as if it needed ``max_demand`` (>= 1). Beyond what
            memory can hold ahead of the window, a large demand is met by pairs used
            on arrival, which every in-window slot attempts anyway, so the cap only
            coarsens the plan for the last pairs; it keeps the state space small
            when a round needs hundreds of pairs (keys for authentication). None (the
            default): 8 for key use, ``context.demand.pairs`` for gate use.
        purify_levels: the most recurrence levels a flow whose fresh pairs yield no
            key may climb (:mod:`.ladder`; >= 0, at most
            :data:`~qceas.scheduling.ladder.MAX_LEVELS`; 0: never climb). Only with
            purification on (``Context.purification``) and key use.

    The defaults left as None are set by :meth:`prepare` from the context, so a caller
    (the gate-pair links of a partition, a key network) passes only what its user set.
    """

    name = "ceas"
    #: Options whose default is set by :meth:`prepare` from the context: a config may
    #: leave them out, not give them as null (``qceas.scheduling.config``).
    FROM_CONTEXT = ("utility", "max_memory", "max_demand")

    def __init__(
        self,
        pair_cost: float = 0.5,
        max_memory: int | None = None,
        lead_factor: float = 4.0,
        max_states: int = 1_500_000,
        max_demand: int | None = None,
        utility: str | None = None,
        purify_levels: int = ladders.MAX_LEVELS,
    ) -> None:
        if not (_finite_number(pair_cost) and pair_cost >= 0):
            raise ValueError(f"pair_cost = {pair_cost!r}: must be a number >= 0")
        if max_memory is not None and (
            isinstance(max_memory, bool) or not isinstance(max_memory, int) or max_memory < 1
        ):
            raise ValueError(f"max_memory = {max_memory!r}: must be an integer >= 1")
        if not (_finite_number(lead_factor) and lead_factor >= 1):
            raise ValueError(f"lead_factor = {lead_factor!r}: must be a number >= 1")
        if isinstance(max_states, bool) or not isinstance(max_states, int) or max_states < 1000:
            raise ValueError(f"max_states = {max_states!r}: must be an integer >= 1000")
        if max_demand is not None and (
            isinstance(max_demand, bool) or not isinstance(max_demand, int) or max_demand < 1
        ):
            raise ValueError(f"max_demand = {max_demand!r}: must be an integer >= 1")
        if utility is not None and utility not in UTILITIES:
            raise ValueError(f"utility = {utility!r}: must be one of {', '.join(UTILITIES)}")
        # The options as given (None: from the context in prepare), and as in use.
        self._options = (utility, max_memory, max_demand)
        self.utility = utility or "key"
        self.max_demand = max_demand or 8
        self.pair_cost = float(pair_cost)
        self.max_memory = max_memory or 2
        self.lead_factor = float(lead_factor)
        self.max_states = max_states
        self.purify_levels = ladders.check_levels(purify_levels)
        self.plans: list[FlowPlan] = []
        self._cache: dict[LinkClass, Policy] = {}

    # ------------------------------------------------------------------ prepare
    def prepare(self, context: Context) -> None:
        self._ctx = context
        utility, max_memory, max_demand = self._options
        gate = context.use == "gate"
        # Agreement pairs are worth their Werner parameter w = 1 − 2ε, the Z
        # correlation the checks rest on (the gate utility), and are used like key.
        self.utility = utility or ("gate" if gate or context.use == "agreement" else "key")
        self.max_memory = max_memory or (context.demand.pairs if gate else 2)
        self.max_demand = max_demand or (context.demand.pairs if gate else 8)
        net = context.network
        links: list[tuple[LinkClass, int, ladders.Ladder | None]] = []
        climb = context.purification != "none" and self.utility == "key"
        for k in range(net.n_nodes):
            route = net.routes[k]
            p = min(1.0, _round3(route_success(context.slot_success[route])))
            # Age 0 is a fresh pair: in the window it is consumed on arrival (the
            # best use of a fresh pair, see decide), before it the ages round up.
            fresh = float(fidelity_from_werner_unchecked(float(context.flow_w0[k])))
            slots = int(net.memory_slots[k])
            ladder = (
                ladders.for_flow(fresh, context.key_bits, slots, self.purify_levels)
                if climb
                else None
            )
            if ladder is not None:
                # The flow's MDP plans units: level-L pairs (module docstring).
                p = min(1.0, _round3(p / ladder.raw_pairs))
                fresh = ladder.fidelity[-1]
                slots -= ladder.raw_slots
            f0 = _round3(fresh)
            window = int(context.deadline_slot[k] - context.ready_slot[k])
            demand = min(context.demand.pairs, self.max_demand)
            lead = math.ceil(self.lead_factor * demand / p)
            horizon = int(min(context.deadline_slot[k], window + lead))
            memory = int(min(slots, self.max_memory))
            free = LinkClass(
                success_probability=p,
                initial_fidelity=f0,
                decay_rate=_round3(float(context.flow_rate[k])),
                slot=context.slot_s,
                memory=memory,
                demand=demand,
                horizon=horizon,
                window=min(window, horizon),
                sift=context.sift,
                utility=self.utility,
            )
            link = dataclasses.replace(
                free,
                attempt_cost=self.pair_cost * float(free.value(0)) * p,
                max_age=self._age_cap(free),
            )
            links.append((link, horizon, ladder))
        # Every class not solved before, in one batched backward induction (the same
        # tables as one solve per class, :mod:`.mdp_batch`); decide needs only the actions.
        new = [link for link, _, _ in links if link not in self._cache]
        for link, policy in zip(
            new, solve_many(new, max_states=self.max_states, keep_values=False), strict=True
        ):
            self._cache[link] = policy
        plans = [
            FlowPlan(link=link, policy=self._cache[link], horizon=horizon, ladder=ladder)
            for link, horizon, ladder in links
        ]
        self.plans = plans
        self._ladders = ladders.Ladders.of([pl.ladder for pl in plans])
        self._climbs = self._ladders.levels > 0
        # Which links and nodes each flow's route holds, its own QPU included (the
        # aggregator's memory is left out: it is large and serves every flow).
        self._route_links = net.route_incidence.astype(np.int64)
        on_route = np.zeros((net.n_nodes, net.n_nodes + 1), dtype=np.int64)
        for k, nodes in enumerate(net.route_nodes):
            on_route[k, nodes[:-1]] = 1
        self._route_nodes = on_route
        self._raw_pairs = np.array(
            [1.0 if pl.ladder is None else pl.ladder.raw_pairs for pl in plans]
        )
        self._table = _Table.build(plans)
        self._memory = np.array([pl.link.memory for pl in plans], dtype=np.int64)
        # Ages from the exact fresh fidelity and decay rate (the classes are rounded);
        # a climbing flow's ages count from a fresh unit.
        unit_w0 = werner_parameter_unchecked(
            self._ladders.rungs[np.arange(net.n_nodes), self._ladders.levels]
        )
        self._w0 = np.where(self._climbs, unit_w0, np.asarray(context.flow_w0, dtype=float))
        self._rate_slot = np.asarray(context.flow_rate, dtype=float) * context.slot_s
        self._cap = np.array([pl.link.age_cap for pl in plans], dtype=np.int64)
        self._horizon = np.array([pl.horizon for pl in plans], dtype=np.int64)
        self._useful = np.array([pl.link.value(0) > 0.0 for pl in plans], dtype=bool)

    def _age_cap(self, link: LinkClass) -> int:
        """The age cap A of a flow's class: the first age at which a pair yields no key,
        so that a capped age always means a worthless pair, even for pairs stored past
        a deadline into the next round (the MDP's own default stops at the horizon);
        when that many ages do not fit ``max_states``, the largest cap that fits. Ages
        above such a cap count as the cap: optimistic for old pairs, which on a
        long-lived memory still hold nearly the cap's fidelity (decide discards any
        pair that no longer yields key, whatever its capped age)."""
        w0 = float(werner_parameter_unchecked(link.initial_fidelity))
        # A gate pair is worth something until fully mixed: cap where w has fallen to
        # 1e-3 of w0 (e^-6.9), past which its worth is negligible.
        w_min = (
            w0 * 1e-3
            if self.utility == "gate"
            else float(werner_parameter_unchecked(KEY_FIDELITY_THRESHOLD))
        )
        if w0 <= w_min:
            return 1
        zero = math.log(w0 / w_min) / (link.decay_rate * link.slot)
        cap = max(1, min(math.ceil(zero) + 1, 1_000_000))
        while cap > 1 and link.value(cap - 1) <= 0.0:
            cap -= 1  # the first age with κ = 0 (the ceil may overshoot by one)
        if self.utility == "gate":
            # A gate pair keeps some worth at any age, but no pair heralded in a round
            # is older than H − 1 at a decision of that round: cap there (exact for
            # such pairs; a pair kept from an earlier round counts as age H).
            cap = max(1, min(cap, link.horizon))
        exact = dataclasses.replace(link, max_age=cap)
        if exact.state_count <= self.max_states:
            return cap
        per_layer = self.max_states // ((link.horizon + 1) * (link.demand + 1))
        cap = 1
        while math.comb(cap + 2 + link.memory, link.memory) <= per_layer:
            cap += 1
        if math.comb(cap + 1 + link.memory, link.memory) > per_layer:
            raise ValueError(
                f"max_states = {self.max_states:,}: too few for horizon = {link.horizon}, "
                f"demand = {link.demand}, memory = {link.memory} at any age cap; "
                "lower the pairs per round (schedule.pairs_per_round; for gate pairs, the "
                "pairs per shot) or the window, or raise max_states"
            )
        return cap

    def ages(self, view: SlotView) -> IntArray:
        """(N, M) effective ages of the stored pairs in slots (−1 where empty): the
        slots after which a fresh pair of the flow (its exact fidelity and decay rate)
        would have decayed to the pair's fidelity, rounded up; capped at A."""
        return np.where(view.stored, np.ceil(self._real_ages(view) - 1e-9), -1).astype(np.int64)

    def _value(self, fidelity: ArrayLike) -> FloatArray:
        """What a pair of ``fidelity`` is worth under the utility (as :meth:`LinkClass.value`)."""
        f = np.asarray(fidelity, dtype=float)
        if self.utility == "gate":
            return werner_parameter_unchecked(f)
        return self._ctx.key_bits(f)

    def _real_ages(self, view: SlotView) -> FloatArray:
        w = werner_parameter_unchecked(np.where(view.stored, view.fidelity, 1.0))
        with np.errstate(divide="ignore"):
            ratio = np.log(self._w0[:, None] / np.maximum(w, 1e-300))
        age = np.maximum(ratio, 0.0) / self._rate_slot[:, None]
        return np.minimum(age, self._cap[:, None])

    # ------------------------------------------------------------------- decide
    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        del rng
        ctx = self._ctx
        n, m = view.stored.shape
        tau = view.slots_to_deadline
        # A pair that no longer yields key never will (fidelity only falls in storage):
        # discard it and leave it out of the MDP state. This also keeps a capped age
        # (an optimistic approximation, see _age_cap) from ever consuming such a pair.
        dead = view.stored & (self._value(np.where(view.stored, view.fidelity, 1.0)) <= 0.0)
        # On a climbing flow those are the raw pairs on the way up the ladder: kept
        # unless no fresh partners could lift them to a key-yielding unit.
        raw = self._ladders.liftable(dead, view.fidelity, self._value)
        ages = np.where(dead, -1, self.ages(view))
        # Storage columns in age order (empty last; within an age, the fresher first):
        # position i is the i-th youngest.
        fresher = np.where(view.stored, -view.fidelity, 0.0)
        order = np.lexsort((fresher, np.where(ages >= 0, ages, np.iinfo(np.int64).max)), axis=1)
        sorted_ages = np.take_along_axis(ages, order, axis=1)
        held = sorted_ages >= 0
        rows = np.flatnonzero((tau >= 1) & (tau <= self._horizon))
        use = np.zeros((n, m), dtype=bool)
        gone = held & (np.arange(m)[None, :] >= self._memory[:, None])  # beyond what is tracked
        attempt_flow = np.zeros(n, dtype=bool)
        if rows.size:
            t = self._table
            width = self._memory.max()
            a = sorted_ages[rows, :width]
            tracked = held[rows, :width] & (np.arange(width)[None, :] < self._memory[rows, None])
            count = tracked.sum(axis=1)
            capped = np.minimum(a, self._cap[rows, None])
            steps = np.arange(width)
            terms = t.binom[np.where(tracked, capped + steps, 0), steps + 1]
            index = t.offset[rows, count] + np.where(tracked, terms, 0).sum(axis=1)
            flat = (
                t.base[rows]
                + (tau[rows] * t.width[rows] + np.minimum(view.remaining[rows], t.width[rows] - 1))
                * t.size[rows]
                + index
            )
            j = t.actions[flat].astype(np.int64)
            menu = (self._memory[rows], count, j)
            bits = t.menu_bits[menu]
            chosen = (bits[:, None] & (1 << steps)[None, :]) != 0
            drop = t.menu_discard[menu]
            # The MDP discards the `drop` oldest pairs among those it does not consume.
            rest = tracked & ~chosen
            from_old = np.cumsum(rest[:, ::-1], axis=1)[:, ::-1]
            use[rows, :width] = chosen & view.in_window[rows, None]
            gone[rows, :width] |= rest & (from_old <= drop[:, None])
            attempt_flow[rows] = t.menu_attempt[menu]
        consume = np.zeros((n, m), dtype=bool)
        discard = np.zeros((n, m), dtype=bool)
        np.put_along_axis(consume, order, use, axis=1)
        np.put_along_axis(discard, order, gone, axis=1)
        # Dead pairs go, unless purification can still make something of them.
        purify, inputs = self._purify(view, consume | discard)
        inputs &= ~self._climbs[:, None]  # a climbing flow purifies by its ladder
        discard |= dead & ~inputs & ~raw
        climb, raw_room = self._ladders.climb(raw, np.where(raw, view.fidelity, np.inf))
        purify = climb if purify is None else (purify & ~self._climbs) | climb

        # Multi-link routes: drop a segment pair that could no longer make a
        # key-yielding pair even if the rest of the route heralded fresh now.
        seg_flow = ctx.segment_flow
        w_seg = werner_parameter_unchecked(np.where(view.segment_has, view.segment_fidelity, 1.0))
        best = 0.25 + 0.75 * w_seg * ctx.flow_w0[seg_flow] / ctx.segment_w0
        if self._climbs.any():
            # ...for a climbing flow, a unit from that pair and fresh partners all the
            # way up its ladder.
            lifted = self._ladders.rows(seg_flow).best_unit(
                best[:, None], np.zeros((best.size, 1), dtype=np.int64)
            )[:, 0]
            best = np.where(self._climbs[seg_flow], lifted, best)
        hopeless = view.segment_has & (self._value(best) <= 0.0)
        attempt = (attempt_flow & (raw_room | ~self._climbs))[seg_flow] & (
            ~view.segment_has | hopeless
        )
        urgency = 1.0 / np.maximum(tau, 1)
        # A climbing flow spends E[N_L] fresh pairs per unit: where flows share a link
        # or memory it goes after the flows whose every pair counts (value per use).
        priority = (view.importance * (1.0 + urgency) / self._raw_pairs)[seg_flow]
        # A fresh pair inside the window is worth κ(0), the most any pair gives, and
        # holding it only loses value: consume it on arrival. For the same reason every
        # in-window slot with demand left is worth an attempt (the MDP, which models a
        # pair as usable from the next decision on, would skip the last slot).
        wanted = view.in_window & (view.remaining > 0)
        attempt |= (wanted & self._useful & (raw_room | ~self._climbs))[seg_flow] & (
            ~view.segment_has
        )
        if self._climbs.any():
            # Shared links and memories: a climbing flow spends E[N_L] pairs per unit,
            # so it yields every link and relay memory of a route whose flow takes its
            # key from fresh pairs while that flow is planning (value per use).
            active = (
                ~self._climbs
                & self._useful
                & (view.remaining > 0)
                & (tau >= 1)
                & (tau <= self._horizon)
            )
            busy_link = active @ self._route_links > 0
            busy_node = active @ self._route_nodes > 0
            ends = ctx.network.endpoints[ctx.segment_link]
            free = ~busy_link[ctx.segment_link] & ~busy_node[ends].any(axis=1)
            # A route yields as a whole: a pair on a free segment could not be swapped
            # while the others wait, and would only decay in a shared memory.
            blocked = np.logical_or.reduceat(~free, ctx.segment_start[:-1])
            yields = (self._climbs & blocked)[seg_flow]
            attempt &= ~yields
            # ...and frees what it holds on it: a half-built route would block them.
            hopeless |= view.segment_has & yields
        # A climbing flow's fresh pairs yield no key: never measure them on arrival.
        on_herald = wanted & ~self._climbs
        return Decision(
            attempt=attempt,
            consume=consume,
            discard=discard,
            discard_segment=hopeless,
            purify=purify,
            consume_on_herald=on_herald,
            priority=priority,
        )

    def _purify(self, view: SlotView, used: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
        """Purify a flow's two lowest-fidelity kept pairs when it pays in expected key:
        p·κ(F') > κ(F1) + κ(F2) (a one-step look-ahead; purification is not a state
        of the MDP). The simulator purifies the flow's two lowest-fidelity pairs, so
        only flows where those two are both kept are considered.

        Returns ``(purify (N,) or None, inputs (N, M))``: the flows, and the pairs
        that go into their purification.
        """
        ctx = self._ctx
        inputs = np.zeros(view.stored.shape, dtype=bool)
        if ctx.purification == "none" or view.stored.shape[1] < 2:
            return None, inputs
        kept = view.stored & ~used
        f = np.where(view.stored, view.fidelity, np.inf)
        order = np.argsort(f, axis=1)[:, :2]
        rows = np.arange(f.shape[0])
        both = (view.stored.sum(axis=1) >= 2) & kept[rows, order[:, 0]] & kept[rows, order[:, 1]]
        if not both.any():
            return None, inputs
        f1 = np.where(both, f[rows, order[:, 0]], 0.5)
        f2 = np.where(both, f[rows, order[:, 1]], 0.5)
        if ctx.purification == "bbpssw":
            p, f_out = bbpssw(f1, f2)
        else:
            p, coeff = dejmps(werner_coefficients(f1), werner_coefficients(f2))
            f_out = coeff[..., 0]
        gain = np.asarray(p) * self._value(np.clip(f_out, 0.25, 1.0))
        purify = both & (gain > self._value(f1) + self._value(f2))
        inputs[rows[purify], order[purify, 0]] = True
        inputs[rows[purify], order[purify, 1]] = True
        return purify, inputs


@dataclass(frozen=True, eq=False)
class _Table:
    """Every flow's policy in flat arrays, so one slot is decided for all flows at once.

    ``actions`` concatenates the policies' action tables (τ, r, state) raveled;
    flow k's entry for state index i is at ``base + (τ·width + r)·size + i``, with
    the state index of a sorted, capped age multiset a_1..a_n equal to
    ``offset[k, n] + Σ_i C(a_i + i, i + 1)`` (:class:`~qceas.scheduling.mdp.Policy`'s
    colex rank). The menus depend only on (memory, n): ``menu_*[memory, n, j]``.
    """

    actions: np.ndarray
    base: IntArray
    width: IntArray
    size: IntArray
    offset: IntArray
    binom: IntArray
    menu_bits: IntArray
    menu_discard: IntArray
    menu_attempt: np.ndarray

    @classmethod
    def build(cls, plans: list[FlowPlan]) -> _Table:
        # Reads the solved tables of mdp.Policy (same package) without copying them per flow.
        policies = list({id(pl.policy): pl.policy for pl in plans}.values())
        where = {id(pol): i for i, pol in enumerate(policies)}
        starts = np.cumsum([0] + [pol._actions.size for pol in policies])
        # One copy of each table (a policy of solve_many holds a view of its batch's).
        actions = np.empty(int(starts[-1]), dtype=np.int16)
        for pol, start in zip(policies, starts, strict=False):
            flat = actions[start : start + pol._actions.size]
            flat.reshape(pol._actions.shape)[...] = pol._actions
        mem = max(pl.link.memory for pl in plans)
        cap = max(pl.link.age_cap for pl in plans)
        binom = np.array(
            [[math.comb(x, k) for k in range(mem + 1)] for x in range(cap + mem + 1)],
            dtype=np.int64,
        )
        offset = np.zeros((len(plans), mem + 1), dtype=np.int64)
        for k, pl in enumerate(plans):
            offset[k, : pl.link.memory + 1] = pl.policy._states.offset[: pl.link.memory + 1]
        longest = max(len(b.menu.bits) for pol in policies for b in pol._blocks)
        bits = np.zeros((mem + 1, mem + 1, longest), dtype=np.int64)
        discard = np.zeros_like(bits)
        attempt = np.zeros(bits.shape, dtype=bool)
        for pol in policies:
            for block in pol._blocks:
                size = len(block.menu.bits)
                memory, held = pol.link.memory, block.n
                bits[memory, held, :size] = block.menu.bits
                discard[memory, held, :size] = block.menu.discard
                attempt[memory, held, :size] = block.menu.attempt
        return cls(
            actions=actions,
            base=np.array([starts[where[id(pl.policy)]] for pl in plans], dtype=np.int64),
            width=np.array([pl.link.demand + 1 for pl in plans], dtype=np.int64),
            size=np.array([pl.policy._states.size for pl in plans], dtype=np.int64),
            offset=offset,
            binom=binom,
            menu_bits=bits,
            menu_discard=discard,
            menu_attempt=attempt,
        )
