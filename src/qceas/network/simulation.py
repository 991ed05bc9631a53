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

Skipping idle slots: a decision may promise to stand while nothing happens
(:attr:`~qceas.network.Decision.stable_slots`). After a slot in which nothing
happened (no pair made, consumed, purified or dropped) under such a decision,
:meth:`Simulation.run_round` skips, without asking the scheduler, the slots before
the next herald, the next demand window change and the promise's end
(``State.skip`` derives the herald's slot from each link's kept draw of attempts,
which is exact since attempts are memoryless). From a run's first promise on, links
keep their draws in every slot, so skipping changes no number: a run stepped slot by
slot draws the same, and with one attempt per slot gives the same ledger bit for bit
(``tests/network/test_skipping.py``). Schedulers that never promise draw as they
always did.

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

Where the code is: this module drives a run slot by slot (:class:`Simulation`,
:func:`simulate`); what schedulers see and return is :mod:`qceas.network.interface`,
the static context :mod:`qceas.network.context`; the private engine keeps the state
and its bookkeeping (steps 2, 3, 5, 6: ``network/_state.py``), generates pairs (step
4 and streaming: ``network/_generation.py``) and applies the use of consumed pairs
(``network/_uses.py``).
"""

from __future__ import annotations

import time

import numpy as np
from numpy.typing import ArrayLike

from qceas.network._state import State
from qceas.network.demand import as_importance
from qceas.network.interface import Context, RoundPairs, Scheduler, SimulationResult
from qceas.reproducibility import deterministic


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
        self._state = State(context)
        self.slot = 0
        self.rounds_done = 0
        self._finished: SimulationResult | None = None
        self._skipping = True  # tests turn it off to step every slot
        self._keep_draws = False

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
        slot = self.slot
        while slot < end:
            state.close_deadlines(slot)
            decision = self.scheduler.decide(state.view(slot), rng=self.rng)
            stable = int(decision.stable_slots)
            # From the first promise on, links keep their draws in every slot, so a
            # run that skips and one that steps draw the same numbers (State.skip).
            self._keep_draws = self._keep_draws or stable > 1
            happened = state.apply(
                slot, decision, self.rng, self.scheduler.name, keep_residual=self._keep_draws
            )
            slot += 1
            if stable > 1 and not happened and self._skipping:
                # Nothing happened and the scheduler keeps its decision: the slots in
                # which nothing will happen need no decision (State.skip).
                slot += state.skip(slot, min(stable - 1, end - slot))
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
