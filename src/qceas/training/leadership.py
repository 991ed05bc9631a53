"""Rounds with no trusted aggregator: a leader proposes, the nodes agree, or abort.

With ``leader.mode`` other than ``none`` (``qceas.training.config.LeaderConfig``), no
aggregator is trusted. Every node k holds its own model state (θ_k, optimizer state).
The players are the K QPUs and, with ``mode: aggregator``, the aggregator as player K
(the network's hub). Round t, after the nodes have sent their updates (the round's
phases 0–4, each node at its own θ_k):

1. **Leader.** ``aggregator``: the aggregator, every round (an abort is counted, and
   there is nobody to pass leadership to); ``fixed``: QPU ℓ_t, the same until a round
   aborts (then the next index); ``rotate``: the next QPU every round. The leader aggregates the
   updates it received with the strategy's rule and proposes P = step(θ_ℓ, ĝ), a
   full model state (parameters and optimizer state), so that a node which missed a
   round is back in step as soon as it accepts one.
2. **Byzantine leader** (ℓ_t among the adversary's nodes; the coalition shares
   everything). The poisoned proposal Q = θ_ℓ − λ·(P − θ_ℓ) steps back by λ
   (``poison_scale``) × the honest step, with P's optimizer state. ``equivocate``: P
   to the earlier half of the honest nodes (group A), Q to the later half (group B;
   the split of :func:`qceas.agreement.protocol.second_group`); ``poison``: Q to all.
3. **Agreement** (the strategy's ``agreement``) on the b-bit digest (SHA-256 of the
   proposal, truncated) among all n players, the leader as commander:

   * ``trusted`` — no agreement: every node applies what it received (today's trust
     in the aggregator, where that trust is misplaced);
   * ``broadcast`` — Bracha's classical broadcast over the authenticated channels
     (:mod:`qceas.agreement.broadcast`), built for f = ⌊(n−1)/3⌋ traitors;
   * ``qdba`` — b binary instances of the EPR-pair QDBA (:mod:`qceas.agreement`),
     M tuples each, ``b·(M + test)·(n − 1)`` pairs, over pairs of Z error ε per
     leader–player link (``pairs: fixed``: ε = 2(1 − F)/3; ``network``: the pairs a
     network simulation delivered, :mod:`qceas.training.agreement_pairs`). Behind an
     honest leader the traitor lieutenants play ``lieutenant_attack``; an equivocating
     leader plays ``commander_attack`` on the bits where the digests of P and Q differ;
     a poisoning leader plays the protocol honestly (it wants Q accepted).

4. **Apply.** A node applies a proposal only if it decided a digest (no ⊥) and that
   digest is the digest of a proposal sent this round (fetched from a peer where it
   is not the one it received); otherwise it keeps its state. Counted per round:
   ``consensus_abort`` (some honest node decided ⊥; leadership passes on under
   ``fixed``), ``rejected_proposals`` (honest nodes whose received proposal is not the
   digest they decided), ``stale_nodes`` (honest nodes that kept their state),
   ``honest_models`` (distinct model states among honest nodes after the round: 2 or
   more is a fork), ``poisoned_nodes`` (honest nodes that applied Q), the consensus
   pairs and the classical messages.

The two coalitions' alternatives differ behind an honest leader: QDBA's liars claim
the complement of every digest bit, so a node they fool decides a digest of neither
proposal and keeps its state, while Bracha's coalition offers Q, so a node it fools
applies Q.

What the agreement gives and what it does not: consistency (every honest node that
applies, applies the same proposal) and, behind an honest leader, validity. Not
validity of a Byzantine leader's *content*: a poisoned proposal sent to all is agreed
by every protocol and applied (the poison rows of the training table show it). The
coalition's players hold the honest majority's model after every round (they know
every model), so a Byzantine leader proposes from the model most honest nodes hold,
and a poison sent to all compounds round after round. Their own updates are computed
there too (forged or not, as the ``adversary`` section says).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qceas.agreement.attacks import ATTACKS
from qceas.agreement.broadcast import reliable_broadcast
from qceas.agreement.protocol import BOT, Protocol, run_batch, second_group
from qceas.training.config import LeaderConfig


@dataclass(frozen=True)
class ModelState:
    """A node's model: parameters and the optimizer's state (what a proposal carries)."""

    params: NDArray[np.float64]
    opt_state: Any


@dataclass(frozen=True)
class Outcome:
    """What the agreement of one round decided.

    Attributes:
        applied: (n,) per player: 0 applies P, 1 applies Q, −1 keeps its state (−1
            for the coalition, whose states the trainer sets).
        abort: some honest node decided ⊥.
        rejected: honest nodes whose received proposal differs from their decision.
        pairs: Bell pairs the agreement consumed (QDBA only).
        messages: authenticated classical messages honest nodes sent.
    """

    applied: NDArray[np.int64]
    abort: bool
    rejected: int
    pairs: int
    messages: int


def digest(state: ModelState, bits: int) -> NDArray[np.uint8]:
    """The first ``bits`` bits of SHA-256 of the parameters and optimizer arrays."""
    h = hashlib.sha256(np.ascontiguousarray(state.params, dtype=np.float64).tobytes())
    opt = state.opt_state
    if isinstance(opt, dict):
        for key in sorted(opt):
            h.update(key.encode())
            h.update(np.ascontiguousarray(opt[key], dtype=np.float64).tobytes())
    raw = np.frombuffer(h.digest() * (1 + bits // 256), dtype=np.uint8)
    return np.unpackbits(raw)[:bits]


def poisoned(leader: ModelState, honest: ModelState, scale: float) -> ModelState:
    """Q = θ_ℓ − λ·(P − θ_ℓ) with P's optimizer state (module docstring)."""
    step = honest.params - leader.params
    return ModelState(leader.params - scale * step, honest.opt_state)


class Leadership:
    """Who leads, what a Byzantine leader sends and how the nodes agree (module docstring).

    Args:
        spec: the ``leader`` section.
        agreement: the strategy's ``trusted``, ``broadcast`` or ``qdba``.
        byzantine: (K,) the adversary's real nodes.
        rng: the run's consensus stream (``qceas.streams.CONSENSUS``).
        rule: the QDBA decision rule (default ``spec.rule``).

    Attributes:
        n_nodes: n, the players: K, or K + 1 with the aggregator (player K).
        byzantine: (n,) the coalition.
        leader: the current leader's player index.
        passes: times leadership passed on after an abort.
    """

    def __init__(
        self,
        spec: LeaderConfig,
        agreement: str,
        byzantine: NDArray[np.bool_],
        rng: np.random.Generator,
        rule: str | None = None,
    ) -> None:
        self.spec = spec
        self.agreement = agreement
        qpus = np.asarray(byzantine, dtype=bool)
        self.aggregator_leads = spec.mode == "aggregator"
        if self.aggregator_leads:
            qpus = np.append(qpus, spec.byzantine_aggregator)
        self.byzantine = qpus
        self.n_nodes = self.byzantine.size
        self.rng = rng
        self.leader = self.n_nodes - 1 if self.aggregator_leads else 0
        self.passes = 0
        self.protocol = Protocol(
            players=self.n_nodes,
            tuples=spec.tuples,
            tolerance=spec.tolerance,
            rule=spec.rule if rule is None else rule,
            source_test=spec.source_test,
        )

    @property
    def pairs_per_agreement(self) -> int:
        """``b·(M + test)·(n − 1)``: pairs of one QDBA agreement on a digest."""
        return self.spec.digest_bits * self.protocol.pairs

    @property
    def leader_byzantine(self) -> bool:
        return bool(self.byzantine[self.leader])

    def sent(self) -> NDArray[np.int64]:
        """(n,) which proposal the current leader sends each player: 0 P, 1 Q."""
        out = np.zeros(self.n_nodes, dtype=np.int64)
        if not self.leader_byzantine:
            return out
        if self.spec.attack == "poison":
            return np.ones(self.n_nodes, dtype=np.int64)
        out[self._group_b()] = 1
        return out

    def _others(self) -> NDArray[np.int64]:
        return np.delete(np.arange(self.n_nodes), self.leader)

    def _group_b(self) -> NDArray[np.int64]:
        """Nodes in the later half of the honest lieutenants (the equivocation's B)."""
        others = self._others()
        return others[second_group(self.byzantine[others])]

    def agree(
        self, proposals: tuple[ModelState, ModelState], eps: NDArray[np.float64] | None
    ) -> Outcome:
        """Run this round's agreement on ``proposals`` (P, Q) and say who applies what;
        ``eps`` (K,): the Z error of each node's pairs with the leader (QDBA)."""
        sent = self.sent()
        honest = ~self.byzantine
        if self.agreement == "trusted":
            applied = np.where(self.byzantine, -1, sent).astype(np.int64)
            return Outcome(applied, False, 0, 0, 0)
        digests = [digest(p, self.spec.digest_bits) for p in proposals]
        if self.agreement == "broadcast":
            decided, messages = self._broadcast(sent)
            pairs = 0
        else:
            assert eps is not None
            decided = self._qdba(sent, digests, eps)
            messages, pairs = self._qdba_messages(), self.pairs_per_agreement
        # The leader applies its own proposal where honest (it sent P to all).
        decided[self.leader] = 0 if not self.leader_byzantine else -1
        same = bool(np.array_equal(digests[0], digests[1]))
        if same:  # colliding digests: P and Q are indistinguishable, each keeps its copy
            decided = np.where(decided >= 0, sent, decided)
        lieutenants = honest.copy()
        lieutenants[self.leader] = False
        abort = bool(np.any(decided[lieutenants] == -2))
        rejected = int(np.sum(lieutenants & (decided != -2) & (decided != sent)))
        applied = np.where(decided >= 0, decided, -1).astype(np.int64)
        applied[self.byzantine] = -1  # the coalition's own states are the trainer's
        return Outcome(applied, abort, rejected, pairs, messages)

    def _broadcast(self, sent: NDArray[np.int64]) -> tuple[NDArray[np.int64], int]:
        """Bracha's broadcast: per node 0 / 1 (the proposal delivered) or −2 (⊥)."""
        second = np.zeros(self.n_nodes, dtype=bool)
        second[self._group_b()] = True
        result = reliable_broadcast(
            self.n_nodes,
            self.leader,
            self.byzantine,
            sent,
            second,
            attack=self.spec.broadcast_attack,
        )
        final = result.final[0].astype(np.int64)
        return np.where(final == BOT, -2, final), int(result.messages[0])

    def _qdba(
        self,
        sent: NDArray[np.int64],
        digests: list[NDArray[np.uint8]],
        eps: NDArray[np.float64],
    ) -> NDArray[np.int64]:
        """b binary QDBA instances on the digest: per node 0 / 1 (the proposal whose
        digest it decided), −1 (a digest of neither) or −2 (⊥)."""
        spec, others = self.spec, self._others()
        traitor = self.byzantine[others]
        equivocates = self.leader_byzantine and spec.attack == "equivocate"
        # C's value per bit: the digest of what group A (or everyone) is sent.
        first = digests[1] if self.leader_byzantine and not equivocates else digests[0]
        if equivocates:
            attack, active = ATTACKS.get(spec.commander_attack), digests[0] != digests[1]
        elif self.leader_byzantine:  # poison: the protocol played honestly, on Q
            attack, active = ATTACKS.get("none"), None
        else:
            attack, active = ATTACKS.get(spec.lieutenant_attack), None
        result = run_batch(
            self.protocol,
            eps[others],
            attack,
            traitor,
            equivocates,
            self.rng,
            spec.digest_bits,
            active=active,
            value=first,
        )
        final = result.final  # (b, L): 0, 1 or BOT per bit and lieutenant
        undecided = (final == BOT).any(axis=0)
        bits = np.where(final == BOT, 0, final).T  # (L, b)
        decided = np.full(self.n_nodes, -1, dtype=np.int64)
        for x in (0, 1):
            match = np.all(bits == digests[x][None, :], axis=1)
            decided[others[match & (decided[others] == -1)]] = x
        decided[others[undecided]] = -2
        return decided

    def _qdba_messages(self) -> int:
        """Classical messages of one QDBA agreement: round 1 (n − 1), rounds 2 and 3
        ((n − 1)(n − 2) each), per digest bit (honest senders; an upper bound)."""
        n = self.n_nodes
        return self.spec.digest_bits * ((n - 1) + 2 * (n - 1) * (n - 2))

    def end_round(self, abort: bool) -> None:
        """Pass leadership on: every round (``rotate``) or after an abort (``fixed``);
        the aggregator keeps it."""
        if self.aggregator_leads:
            return
        if self.spec.mode == "rotate" or abort:
            self.leader = (self.leader + 1) % self.n_nodes
            self.passes += 1 if abort else 0


__all__ = ["Leadership", "ModelState", "Outcome", "digest", "poisoned"]
