"""Classical Byzantine reliable broadcast over authenticated channels (Bracha 1987).

The classical baseline of a consensus round: the leader's proposal (its digest) is
broadcast by Bracha's protocol, designed for ``f`` traitors among ``n`` players with
``n ≥ 3f + 1`` (G. Bracha, "Asynchronous Byzantine agreement protocols", Inf. Comput.
75, 130 (1987), §2), run in lock-step rounds with a timeout, over the same pairwise
authenticated channels as the quantum protocol (MACs, not signatures: a relayed claim
cannot be proved, which is why no classical protocol on such channels tolerates
``t ≥ n/3``; Lamport, Shostak & Pease, TOPLAS 4, 382 (1982); Fischer, Lynch & Merritt,
Distrib. Comput. 1, 26 (1986)). Written here because no maintained Python library
simulates it vectorized against a coalition.

Rounds (every honest player counts its own messages):

1. INIT: the leader sends a value to every player.
2. ECHO: every honest player sends the value it received to all.
3. READY: an honest player that received ``E = ⌈(n + f + 1)/2⌉`` ECHOs of one value
   sends READY of it to all (of two such values, the one with more ECHOs).
4. READY amplification: an honest player that has not sent READY and received
   ``f + 1`` READYs of one value in round 3 sends READY of it.
5. Decision: a player that holds ``2f + 1`` READYs of one value (rounds 3–4, one per
   sender) delivers it; one that holds none by the timeout decides ⊥ (abort).

Guarantees for ``t ≤ f`` traitors (the derivation, checked by the tests):

* *consistency* — two ECHO quorums of size E intersect in ``2E − n ≥ f + 1`` players,
  one honest, who echoes one value: at most one value gets an honest READY in round 3,
  and the ``f + 1`` READYs of round 4 include an honest one, so no honest player sends
  READY for another value; two honest players never deliver different values;
* *validity* — an honest leader's value reaches ``n − t ≥ n − f ≥ E`` ECHOs at every
  honest player (``n − f ≥ (n + f + 1)/2 ⇔ n ≥ 3f + 1``), so every honest player
  sends READY for it and holds ``n − t ≥ 2f + 1`` of them: all deliver it;
* *totality in lock-step* — if one honest player delivers, ``f + 1`` honest players
  sent READY in round 3 or 4; with one amplification round this holds when they sent
  in round 3 (as in every run of the attacks below).

For ``t > f`` nothing holds, and the coalition (the traitors and, where Byzantine, the
leader; they share everything) plays one of :data:`ATTACKS`:

* ``split`` — the honest players are split into groups A and B (``second``); every
  traitor sends value a to group A and value b to group B in every round. A Byzantine
  leader sends its two proposals (a ≠ b): group A delivers a when ``h_A + t ≥ E`` and
  ``h_A + t ≥ 2f + 1`` (the traitors' messages count in full), group B likewise, so
  a fork needs both, i.e. ``t ≥ max(E, 2f + 1) − h_B`` for the smaller group, about
  ``t ≥ n/3`` at ``f = ⌊(n−1)/3⌋`` (``tests/agreement/test_broadcast.py`` checks this
  condition exactly). Behind an honest leader's value v the coalition sends a = v to
  A and b = ¬v to B; B's honest players echo v, so B gets ¬v only through the
  traitors' READYs and round 4's amplification (``t ≥ f + 1`` READYs of ¬v and no
  ``f + 1`` of v before it), which happens from about n/2. Heuristic, not proved
  optimal: the coalition could split into more groups or send different values in
  different rounds.
* ``silent`` — the traitors send nothing after INIT (a Byzantine leader's INITs are
  still ``init``, equivocating or not): honest players lacking E ECHOs abort. Optimal
  for forcing aborts behind an honest leader, since any message a traitor sends can
  only add to a count.

Ties (two values with equal counts, both at a quorum; possible only for ``t > f``) go
to value 0, the honest proposal: this favours the honest side.

Cost: one INIT per player, then ``n − 1`` ECHOs and at most ``n − 1`` READYs (one
READY, in round 3 or 4) per honest player: ``O(n²)`` authenticated messages and no
pairs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from qceas.agreement.protocol import BOT

#: What the coalition does (module docstring).
ATTACKS: tuple[str, ...] = ("split", "silent")


def design_threshold(players: int) -> int:
    """f = ⌊(n − 1)/3⌋, the most traitors the protocol is built for."""
    return (players - 1) // 3


@dataclass(frozen=True)
class BroadcastResult:
    """Decisions ``final (B, n)`` in {0, 1, BOT} (traitors' entries are BOT), and the
    authenticated messages honest players sent ``(B,)``."""

    final: np.ndarray
    messages: np.ndarray


def _counts(senders: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(B, n_recipients, 2) messages of value 0 and 1 received: ``values (B, S, R)``
    from senders that send (``senders (B, S, R)``)."""
    return np.stack([(senders & (values == x)).sum(axis=1) for x in (0, 1)], axis=-1)


def reliable_broadcast(
    players: int,
    leader: int,
    traitor: np.ndarray,
    init: np.ndarray,
    second: np.ndarray,
    *,
    threshold: int | None = None,
    attack: str = "split",
) -> BroadcastResult:
    """Bracha's broadcast (module docstring) in lock-step, batched.

    Args:
        players: n (the leader included).
        leader: the leader's index.
        traitor: (B, n) or (n,) the coalition (the leader too, where Byzantine).
        init: (B, n) or (n,) the value (0 or 1) the leader sends each player; an honest
            leader sends one value to all.
        second: (B, n) or (n,) group B of the split attack (honest players only).
        threshold: f (default :func:`design_threshold`).
        attack: :data:`ATTACKS`.
    """
    n = players
    if n < 2:
        raise ValueError(f"players = {n}: must be >= 2")
    f = design_threshold(n) if threshold is None else threshold
    if not 0 <= f < n:
        raise ValueError(f"threshold = {f}: must be in [0, {n - 1}]")
    if attack not in ATTACKS:
        raise ValueError(f"attack = {attack!r}: must be one of {', '.join(ATTACKS)}")
    traitor = np.atleast_2d(np.asarray(traitor, dtype=bool))
    batch = traitor.shape[0]
    init = np.broadcast_to(np.atleast_2d(np.asarray(init, dtype=np.uint8)), (batch, n))
    second = np.broadcast_to(np.atleast_2d(np.asarray(second, dtype=bool)), (batch, n))
    honest = ~traitor
    echo_quorum, ready_quorum = math.ceil((n + f + 1) / 2), 2 * f + 1
    lead_traitor = traitor[:, leader]
    # What the coalition sends recipient r: a to group A, b to group B (split), where
    # (a, b) are the leader's two proposals, or v and ¬v behind an honest leader.
    v = init[:, leader]
    a = np.where(lead_traitor, _first_value(init, honest & ~second, fallback=v), v)
    b = np.where(lead_traitor, _first_value(init, honest & second, fallback=1 - a), 1 - a)
    to_recipient = np.where(second, b[:, None], a[:, None]).astype(np.uint8)  # (B, n)
    sends = attack == "split"

    # Round 1 gives every player `init` (a traitor's copy is moot). Round 2: ECHO;
    # honest senders echo what they got, traitors send `to_recipient`.
    echo_value = np.where(honest[:, :, None], init[:, :, None], to_recipient[:, None, :])
    echoes = _counts(honest[:, :, None] | (traitor[:, :, None] & sends), echo_value)  # (B, R, 2)
    # Round 3: READY from ECHOs.
    ready3 = (echoes >= echo_quorum).any(-1) & honest
    ready3_value = np.argmax(echoes, axis=-1).astype(np.uint8)
    r3_send = ready3[:, :, None] | (traitor[:, :, None] & sends)  # ready3 is honest only
    r3_value = np.where(honest[:, :, None], ready3_value[:, :, None], to_recipient[:, None, :])
    readies3 = _counts(r3_send, r3_value)
    # Round 4: amplification by players without a READY yet.
    amplify = ~ready3 & honest & (readies3 >= f + 1).any(-1)
    amp_value = np.argmax(readies3, axis=-1).astype(np.uint8)
    r4_send = np.broadcast_to(amplify[:, :, None], (batch, n, n))
    readies = readies3 + _counts(r4_send, np.broadcast_to(amp_value[:, :, None], (batch, n, n)))
    # Round 5: deliver on 2f + 1 READYs (of one value; the larger, should both reach it).
    deliver = (readies >= ready_quorum).any(-1) & honest
    final = np.where(deliver, np.argmax(readies, axis=-1), BOT).astype(np.uint8)
    messages = (
        np.where(lead_traitor, 0, n - 1)
        + honest.sum(-1) * (n - 1)
        + (ready3 | amplify).sum(-1) * (n - 1)
    )
    return BroadcastResult(final=final, messages=messages.astype(np.int64))


def _first_value(values: np.ndarray, where: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(B,) the value of the first player in ``where`` per row, else ``fallback``."""
    has = where.any(axis=1)
    first = np.argmax(where, axis=1)
    return np.where(has, values[np.arange(values.shape[0]), first], fallback).astype(np.uint8)


__all__ = ["ATTACKS", "BOT", "BroadcastResult", "design_threshold", "reliable_broadcast"]
