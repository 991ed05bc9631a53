"""Entanglement-oblivious and simple baseline schedulers.

* ``oblivious`` — the paper's baseline: every segment attempts whenever memory allows,
  stored pairs are consumed first-in-first-out when a node needs them, nothing is
  ever discarded, fidelity is never looked at.
* ``greedy`` — attempts whenever memory allows, consumes the freshest pair first and
  discards every pair older than one fixed cutoff (the same for all nodes, so it
  does not know which memories are short-lived).
* ``greedy-purify`` — ``greedy`` that also purifies: a flow whose fresh pairs yield
  no key climbs the recurrence ladder of :mod:`.ladder` (its binary-counter rule,
  raw pairs never measured), as CEAS does, but without CEAS's plan: it attempts
  whenever memory allows and never yields a link or relay memory to other flows. It
  is the baseline that isolates CEAS's planning from purification itself.
* ``random`` — attempts with a fixed probability, consumes random stored pairs when a
  node needs them, discards each stored pair with a small probability per slot.
"""

from __future__ import annotations

import math

import numpy as np

from qceas.network.interface import Context, Decision, SlotView
from qceas.physics import fidelity_from_werner_unchecked
from qceas.scheduling import ladder as ladders
from qceas.scheduling.base import SCHEDULERS, check_probability, check_seconds, consumable, pick


@SCHEDULERS.register("oblivious")
class Oblivious:
    """Attempt whenever memory allows; FIFO consumption; no cutoff; fidelity ignored."""

    name = "oblivious"

    def prepare(self, context: Context) -> None:
        self._forever = context.total_slots

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        del rng
        consume = pick(view.stored, view.created_s, consumable(view))
        # First in, first out: a new pair is used on arrival only if none is waiting
        # once this slot's consumption is done.
        empty: np.ndarray = view.stored.sum(axis=1) == consume.sum(axis=1)
        # Which pairs exist, their order, the windows and the demand decide all of
        # it: the decision stands until something happens.
        return Decision(
            attempt=~view.segment_has,
            consume=consume,
            consume_on_herald=empty,
            stable_slots=self._forever,
        )


@SCHEDULERS.register("greedy")
class Greedy:
    """Attempt whenever memory allows; freshest first; one fixed cutoff for all nodes.

    Args:
        cutoff_s: pairs stored longer than this are discarded (s). None: a tenth of
            the median memory coherence time of the network, i.e. one cutoff tuned to
            the typical node and blind to the spread. For gate use (``Context.use ==
            "gate"``: the links of a partition, simulated as a star whose centre never
            decays) the same rule is applied to the links' memories, T = 2/Γ per flow
            (the T of two equal ends), since the nodes' own times would read the centre.
    """

    name = "greedy"
    #: Set by :meth:`prepare` from the context when left out (``cutoff_s``).
    FROM_CONTEXT = ("cutoff_s",)

    def __init__(self, cutoff_s: float | None = None) -> None:
        self.cutoff_s = check_seconds("cutoff_s", cutoff_s, allow_none=True)
        self._cutoff = 0.0

    def prepare(self, context: Context) -> None:
        if context.use == "gate":
            median = float(np.median(2.0 / np.asarray(context.flow_rate, dtype=float)))
        else:
            median = float(np.median(context.network.coherence_time_s))
        self._cutoff = self.cutoff_s if self.cutoff_s is not None else 0.1 * median
        self._slot_s = context.slot_s
        self._forever = context.total_slots

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        del rng
        old = view.stored & (view.time_s - view.created_s > self._cutoff)
        old_segments = view.segment_has & (view.time_s - view.segment_herald_s > self._cutoff)
        fresh_first = -view.created_s
        consume = pick(view.stored & ~old, fresh_first, consumable(view))
        return Decision(
            attempt=~view.segment_has | old_segments,
            consume=consume,
            discard=old,
            discard_segment=old_segments,
            consume_on_herald=np.ones(view.remaining.shape, dtype=bool),  # freshest first
            stable_slots=self._stable(view, old, old_segments),
        )

    def _stable(self, view: SlotView, old: np.ndarray, old_segments: np.ndarray) -> int:
        """Slots this decision stands while nothing happens: until the first pair still
        young now could be past the cutoff, one slot early against rounding (the age
        test above is the rule; a slot asked early only costs a decision)."""
        born = np.concatenate(
            [
                view.created_s[view.stored & ~old],
                view.segment_herald_s[view.segment_has & ~old_segments],
            ]
        )
        if not born.size:
            return self._forever
        slot_s = self._slot_s
        first_old = math.floor((float(born.min()) + self._cutoff) / slot_s) + 1
        return max(1, min(self._forever, first_old - 1 - view.slot))


@SCHEDULERS.register("greedy-purify")
class GreedyPurify(Greedy):
    """``greedy`` plus the recurrence ladder for flows whose fresh pairs yield no key.

    Args:
        cutoff_s: as for ``greedy``; a raw pair (one on the way up a ladder) is kept
            past it, since it is purified rather than measured.
        purify_levels: the most ladder levels a flow may climb (as CEAS's option; a
            flow needs memory M >= L + 2). Only with purification on and key use.
    """

    name = "greedy-purify"

    def __init__(self, cutoff_s: float | None = None, purify_levels: int = ladders.MAX_LEVELS):
        super().__init__(cutoff_s)
        self.purify_levels = ladders.check_levels(purify_levels)

    def prepare(self, context: Context) -> None:
        super().prepare(context)
        self._ctx = context
        climb = context.purification != "none" and context.use == "key"
        fresh = fidelity_from_werner_unchecked(np.asarray(context.flow_w0, dtype=float))
        found = [
            ladders.for_flow(
                float(fresh[k]),
                context.key_bits,
                int(context.network.memory_slots[k]),
                self.purify_levels,
            )
            if climb
            else None
            for k in range(context.network.n_nodes)
        ]
        self._ladders = ladders.Ladders.of(found)
        self._climbs = self._ladders.levels > 0

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        base = super().decide(view, rng=rng)
        if not self._climbs.any():
            return base
        ctx = self._ctx
        f = np.where(view.stored, view.fidelity, 1.0)
        # A hopeless raw pair goes (below).
        raw = self._ladders.liftable(view.stored & (ctx.key_bits(f) <= 0.0), f, ctx.key_bits)
        # What may be measured: a climbing flow's key-yielding pairs; any pair of the
        # other flows, exactly as greedy does.
        units = view.stored & ~raw & ((ctx.key_bits(f) > 0.0) | ~self._climbs[:, None])
        old = base.discard if base.discard is not None else np.zeros_like(view.stored)
        consume = pick(units & ~old, -view.created_s, consumable(view))
        hopeless = view.stored & self._climbs[:, None] & ~raw & ~units
        purify, room = self._ladders.climb(raw, np.where(raw, view.fidelity, np.inf))
        seg_flow = ctx.segment_flow
        attempt = base.attempt if base.attempt is not None else ~view.segment_has
        attempt = attempt & (room | ~self._climbs)[seg_flow]
        return Decision(
            attempt=attempt,
            consume=consume,
            discard=(old & ~raw) | hopeless,
            discard_segment=base.discard_segment,
            purify=purify,
            consume_on_herald=~self._climbs,
        )


@SCHEDULERS.register("random")
class RandomPolicy:
    """Random decisions: a floor any policy should beat.

    Args:
        attempt_probability: chance that an empty segment attempts in a slot.
        discard_probability: chance that a stored pair is discarded in a slot.
    """

    name = "random"

    def __init__(self, attempt_probability: float = 0.5, discard_probability: float = 0.01) -> None:
        self.attempt_probability = check_probability("attempt_probability", attempt_probability)
        self.discard_probability = check_probability("discard_probability", discard_probability)

    def prepare(self, context: Context) -> None:
        del context

    def decide(self, view: SlotView, *, rng: np.random.Generator) -> Decision:
        attempt = ~view.segment_has & (
            rng.random(view.segment_has.shape) < self.attempt_probability
        )
        consume = pick(view.stored, rng.random(view.stored.shape), consumable(view))
        discard = (
            view.stored & ~consume & (rng.random(view.stored.shape) < self.discard_probability)
        )
        return Decision(attempt=attempt, consume=consume, discard=discard)
