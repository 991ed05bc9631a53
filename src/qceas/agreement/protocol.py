"""EPR-pair quantum detectable Byzantine agreement (QDBA), vectorized over instances.

After Andronikos & Sirokofskich, "A Quantum Detectable Byzantine Agreement Protocol
Using Only EPR Pairs", Appl. Sci. 13, 8405 (2023), arXiv:2306.10825, with the n-player
rounds as they extend the three-player protocol; the decision rules below are this
module's statement of them, with a tolerance δ for noisy pairs. Written here because
no maintained library implements the protocol (the authors' and QOSF's simulations are
discrete-event scripts; see ``benchmarks/consensus_speed.py`` for the speed gap).

Set-up. A commander C and lieutenants L_0 … L_{n−2}. For every tuple k < M and
lieutenant i, C and L_i share one |Ψ+⟩ pair, measured in Z: C holds ``c[k, i]``,
L_i holds ``l[k, i] = 1 ⊕ c[k, i] ⊕ e[k, i]`` with ``e ~ Bernoulli(ε_i)``
(``qceas.agreement.noise``). In the paper every lieutenant's tuple has n − 1 bits, the
others from independent random qubits; no check ever reads them, so they are not
drawn. Pairs per binary instance: ``M·(n − 1)`` (plus the conjugate-basis test pairs).

Round 1 (C → L_i). An order ``v_i`` and a command vector: the tuples
``S_i = {k : c[k, i] = v_i}`` with their whole rows ``c[k, ·]``. L_i's check (A): every
revealed row holds ``v_i`` at position i (form), ``|S_i| ≥ m`` (count; m from
``bounds.count_floor``), and at most ``⌊δ|S_i|⌋`` revealed rows with
``c[k, i] = l[k, i]`` (anti-correlation). Pass: ``d¹_i = v_i``; else ``d¹_i = ⊥``.

Round 2 (L_i → L_j). ``d¹_i`` with its command vector as evidence. L_j:

* ``d¹_j = y``: a claim ``¬y`` whose vector passes the *conflict check* (B_vec: form
  and count at the claimant's position, and the set of tuples it reveals with
  ``y`` at position j equals, exactly, the set L_j's own vector reveals with ``¬y``
  at the claimant's position — both are C's own bits, so no pair noise enters)
  proves that C equivocated: ``d²_j = ⊥``. Otherwise ``d²_j = y``.
* ``d¹_j = ⊥``: claims whose vectors pass the *bit check* (B_bit: form, count and
  anti-correlation of the revealed bits at position j with L_j's own, as in (A)); if
  they all name one value x, ``d²_j = x``; else ``⊥``.

Round 3 (L_i → L_j). ``d²_i`` with proofs: the vectors behind it (its own, the
conflicting one, or the two contradicting ones). L_j with ``d²_j = y`` ends in ⊥ if
some proof for ``¬y`` passes its conflict check; otherwise it decides y. ``⊥`` stays.

``rule = "strict"`` replaces the evidence in the conflict steps by the claim itself:
L_j with a definite value ends in ⊥ on any claim of the other value (round 2 or 3).

Guarantees, and where they stop (proved in the docstring of
:mod:`qceas.agreement.attacks` and measured by ``qceas consensus``):

* Loyal C, any coalition of traitor lieutenants (F = 1): rule ``paper`` never aborts
  and never decides a wrong value, except by a forgery of probability at most
  ``(3/4)^M`` per conflict check and ``bounds.forgery`` per bit check.
* Traitor C equivocating with *genuine* vectors (the paper's attack): every loyal
  lieutenant that sees the other order's vector aborts; inconsistency needs a
  forgery.
* Traitor C equivocating with *crafted* vectors (rows whose bits at the other group's
  positions are random): each vector passes its recipient's check and fails the
  other group's conflict check, so under ``paper`` the two groups keep different
  orders. No rule on Z-basis data from pairwise pairs can prevent both this and a
  traitor lieutenant's forced abort (``attacks``, Proposition); ``strict`` chooses
  consistency (deterministic) and gives up abort-freedom.

Vectorization: arrays ``(instances, senders, recipients, tuples)``; no Python loop
over tuples, lieutenants or instances (a loop over traitors builds forged vectors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qceas.agreement import bounds

#: ⊥ (abort) in decision arrays; orders are 0 and 1.
BOT = 2
#: The decision rules (module docstring).
RULES: tuple[str, ...] = ("paper", "strict")
#: Pair sources: an honest one sends |Ψ+⟩; a ``classical`` one (in the coalition)
#: sends |01⟩ or |10⟩ at random — Z-perfect, known to the traitors, random in X.
SOURCES: tuple[str, ...] = ("honest", "classical")
#: Forged vectors per (traitor, value): ``ADOPT`` (fewest tuples, best against the
#: bit check) and ``CONFLICT`` (every tuple it believes holds the value, best against
#: the conflict check).
ADOPT, CONFLICT = 0, 1


@dataclass(frozen=True)
class Protocol:
    """One QDBA configuration (binary instance); the rounds are :func:`run_batch`."""

    players: int
    tuples: int
    tolerance: float = 0.0
    rule: str = "paper"
    count_alpha: float = 1e-6
    #: Fraction of extra pairs per link measured in X and compared (0: none).
    source_test: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.players, bool) or not isinstance(self.players, int):
            raise ValueError(f"players = {self.players!r}: must be an integer >= 3")
        if self.players < 3:
            raise ValueError(f"players = {self.players}: must be >= 3 (commander + 2)")
        if isinstance(self.tuples, bool) or not isinstance(self.tuples, int) or self.tuples < 1:
            raise ValueError(f"tuples = {self.tuples!r}: must be an integer >= 1")
        if not 0.0 <= self.tolerance < 0.5:
            raise ValueError(
                f"tolerance = {self.tolerance}: must be in [0, 0.5) (at 1/2 a forger "
                "guessing every bit passes)"
            )
        if self.rule not in RULES:
            raise ValueError(f"rule = {self.rule!r}: must be one of {', '.join(RULES)}")
        if not 0.0 <= self.count_alpha < 0.5:
            raise ValueError(f"count_alpha = {self.count_alpha}: must be in [0, 0.5)")
        if not 0.0 <= self.source_test <= 1.0:
            raise ValueError(f"source_test = {self.source_test}: must be in [0, 1]")

    @property
    def lieutenants(self) -> int:
        return self.players - 1

    @property
    def count(self) -> int:
        """m: the fewest tuples a command vector may reveal."""
        return bounds.count_floor(self.tuples, self.count_alpha)

    @property
    def test_pairs(self) -> int:
        """Conjugate-basis test pairs per link."""
        return source_test_pairs(self.tuples, self.source_test)

    @property
    def pairs(self) -> int:
        """Bell pairs one binary instance consumes."""
        return (self.tuples + self.test_pairs) * self.lieutenants

    def batch_size(self) -> int:
        """Instances per batch: about 2·10⁶ evidence cells, a function of the protocol
        only, so results do not depend on the machine."""
        per = self.lieutenants * self.lieutenants * self.tuples
        return max(1, min(4096, 2_000_000 // per))


@dataclass
class Pool:
    """Command vectors of a batch: ``mask (B, P, M)``, ``rows (B, P, M, L)``, the
    order each is for ``value (B, P)`` and the position it is about ``owner (P,)``.
    Entries ``0 … L−1`` are what C sent to each lieutenant; ``L + 4i + 2x + kind``
    the vector traitor i forged for value x (``ADOPT`` or ``CONFLICT``)."""

    mask: np.ndarray
    rows: np.ndarray
    value: np.ndarray
    owner: np.ndarray

    @staticmethod
    def forged_id(lieutenants: int, i: Any, x: Any, kind: int) -> np.ndarray:
        return np.asarray(lieutenants + 4 * np.asarray(i) + 2 * np.asarray(x) + kind)


@dataclass
class Coalition:
    """What the traitors know and do: their positions, whether C is one of them,
    their own bits, and C's bits where they know them."""

    traitor: np.ndarray  # (L,) bool
    commander: bool
    #: C's bits as the coalition knows them (B, M, L): exact everywhere when C is a
    #: traitor or the source is classical, else ``1 ⊕ l`` at traitor positions (noisy)
    #: and uniform guesses elsewhere.
    belief: np.ndarray
    #: Orders C sent to each lieutenant (B, L) — the traitors know theirs, and C all.
    orders: np.ndarray
    #: Group of each lieutenant for equivocation: True = the second group (the later
    #: half of the loyal positions).
    second: np.ndarray  # (L,) bool
    rng: np.random.Generator


class Attack:
    """Base coalition behaviour: C (if a traitor) sends honest messages and traitor
    lieutenants follow the protocol. Subclasses override the hooks."""

    name = "none"
    #: Whether the attack is C's (needs ``commander: traitor``).
    commander_side = False

    def commander(
        self, c: np.ndarray, value: np.ndarray, co: Coalition, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Orders (B, L), masks (B, L, M) and rows (B, L, M, L) C sends."""
        return honest_commander(c, value)

    def round2(self, co: Coalition, d1: np.ndarray, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
        """Claims (B, L, L) and evidence ids (B, L, L) of every sender (rows of loyal
        senders are overwritten by the protocol)."""
        claims = np.broadcast_to(d1[:, :, None], (*d1.shape, d1.shape[1])).copy()
        ids = np.broadcast_to(np.arange(d1.shape[1])[None, :, None], claims.shape).copy()
        return claims, ids

    def round3(
        self, co: Coalition, d2: np.ndarray, proofs: np.ndarray, pool: Pool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Claims (B, L, L) and proof ids (B, L, L, 2) (−1: none) of every sender."""
        lieutenants = d2.shape[1]
        claims = np.broadcast_to(d2[:, :, None], (*d2.shape, lieutenants)).copy()
        ids = np.broadcast_to(proofs[:, :, None, :], (*claims.shape, 2)).copy()
        return claims, ids


def honest_commander(c: np.ndarray, value: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A loyal commander's round 1: order ``value`` to all, ``S_i = {k: c[k,i] = v}``."""
    batch, _, lieutenants = c.shape
    orders = np.broadcast_to(value[:, None], (batch, lieutenants)).astype(np.uint8)
    return (
        orders,
        vectors_for(c, orders),
        np.broadcast_to(c[:, None], (batch, lieutenants, *c.shape[1:])),
    )


def vectors_for(c: np.ndarray, orders: np.ndarray) -> np.ndarray:
    """Masks (B, L, M) of genuine command vectors for ``orders`` (B, L)."""
    return c.transpose(0, 2, 1) == orders[:, :, None]


@dataclass
class BatchResult:
    """Decisions of one batch: ``final (B, L)`` in {0, 1, BOT} (``first``: after the
    commander check), C's value (−1 when C is a traitor), the loyal lieutenants, and
    counts of forged-evidence checks in round 2."""

    final: np.ndarray
    value: np.ndarray
    loyal: np.ndarray
    first: np.ndarray
    forged: dict[str, np.ndarray] = field(default_factory=dict)


def _evidence(pool: Pool, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For evidence ids (B, F, T): mask, bits at the vector's own position, bits at the
    recipient's position (each (B, F, T, M)) and owners (B, F, T)."""
    batch, _, recipients = ids.shape
    safe = np.maximum(ids, 0)
    b = np.arange(batch)[:, None, None]
    t = np.arange(recipients)[None, None, :]
    owner = pool.owner[safe]
    return pool.mask[b, safe], pool.rows[b, safe, :, owner], pool.rows[b, safe, :, t], owner


def _checks(
    proto: Protocol,
    pool: Pool,
    ids: np.ndarray,
    value: np.ndarray,
    own: np.ndarray,
    *,
    bit_check: bool = True,
) -> tuple[np.ndarray | None, np.ndarray]:
    """``(bit check, conflict check)`` (B, F, T) of evidence ``ids`` for ``value`` at
    every recipient, whose own bits are ``own (B, M, L)`` and own vector pool entry j
    (the bit check is None with ``bit_check=False``: round 3 needs only the other)."""
    mask, at_owner, at_recipient, owner = _evidence(pool, ids)
    batch, _, recipients = ids.shape
    v = value[..., None]
    form = ~np.any(mask & (at_owner != v), axis=-1)
    count = mask.sum(-1)
    sound = form & (count >= proto.count) & (ids >= 0) & (owner != np.arange(recipients))
    bit = None
    if bit_check:
        mine = own.transpose(0, 2, 1)[:, None]  # (B, 1, T, M)
        mismatch = (mask & (at_recipient == mine)).sum(-1)
        bit = sound & (mismatch <= bounds.allowed(count, proto.tolerance))
    b = np.arange(batch)[:, None, None]
    t = np.arange(recipients)[None, None, :]
    theirs = mask & (at_recipient == (1 - v))
    ours = pool.mask[b, t] & (pool.rows[b, t, :, owner] == v)
    conflict = sound & ~np.any(theirs != ours, axis=-1)
    return bit, conflict


def _first(flags: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """For each (B, T): the id of the first sender whose flag is set, else −1."""
    pick = np.argmax(flags, axis=1)  # (B, T)
    chosen = np.take_along_axis(ids, pick[:, None, :], axis=1)[:, 0, :]
    return np.where(flags.any(axis=1), chosen, -1)


def source_test_pairs(tuples: int, source_test: float) -> int:
    """``⌈source_test·M⌉``: conjugate-basis test pairs per link of one instance."""
    return math.ceil(source_test * tuples)


def second_group(traitor: np.ndarray) -> np.ndarray:
    """(L,) the loyal lieutenants an equivocating commander sends the other order:
    the later half of the loyal positions (the earlier half keeps C's value)."""
    loyal = np.flatnonzero(~np.asarray(traitor, dtype=bool))
    second = np.zeros(len(traitor), dtype=bool)
    second[loyal[(len(loyal) + 1) // 2 :]] = True
    return second


def run_batch(
    proto: Protocol,
    eps: np.ndarray,
    attack: Attack,
    traitor: np.ndarray,
    commander_traitor: bool,
    rng: np.random.Generator,
    batch: int,
    *,
    eps_x: np.ndarray | None = None,
    source: str = "honest",
    active: np.ndarray | None = None,
    value: np.ndarray | None = None,
) -> BatchResult:
    """``batch`` binary instances over links of Z error ``eps (L,)`` (X error
    ``eps_x``, default ``eps``) with the coalition ``traitor (L,)`` (+ C if
    ``commander_traitor``) playing ``attack``; ``active (B,)`` says where a commander
    attack acts (C is honest elsewhere). ``value (B,)``: C's value per instance (the
    order to the first group where C equivocates; :func:`second_group` is the other);
    default drawn at random."""
    lieutenants, tuples = proto.lieutenants, proto.tuples
    eps = np.broadcast_to(np.asarray(eps, dtype=float), (lieutenants,))
    eps_x = (
        eps if eps_x is None else np.broadcast_to(np.asarray(eps_x, dtype=float), (lieutenants,))
    )
    active = np.ones(batch, dtype=bool) if active is None else active
    classical = source == "classical"
    c = rng.integers(0, 2, size=(batch, tuples, lieutenants), dtype=np.uint8)
    flips = rng.random((batch, tuples, lieutenants)) < eps
    own = 1 - c if classical else (1 - c) ^ flips.astype(np.uint8)
    distrust = np.zeros((batch, lieutenants), dtype=bool)
    if proto.test_pairs:
        p_x = np.full(lieutenants, 0.5) if classical else eps_x
        x_errors = rng.binomial(proto.test_pairs, np.broadcast_to(p_x, (batch, lieutenants)))
        distrust = x_errors > bounds.allowed(proto.test_pairs, proto.tolerance)

    if value is None:
        value = rng.integers(0, 2, size=batch, dtype=np.uint8)
    value = np.asarray(value, dtype=np.uint8)
    knows = commander_traitor or classical
    belief = c.copy() if knows else rng.integers(0, 2, size=c.shape, dtype=np.uint8)
    if not knows:
        belief[:, :, traitor] = 1 - own[:, :, traitor]
    second = second_group(traitor)
    co = Coalition(
        traitor, commander_traitor, belief, np.zeros((batch, lieutenants), np.uint8), second, rng
    )

    if commander_traitor and attack.commander_side:
        orders, masks, rows = attack.commander(c, value, co, active)
    else:
        orders, masks, rows = honest_commander(c, value)
    co.orders = orders
    b = np.arange(batch)[:, None]
    i = np.arange(lieutenants)[None, :]
    at_own = rows[b, i, :, i]  # (B, L, M)
    count = masks.sum(-1)
    form = ~np.any(masks & (at_own != orders[:, :, None]), axis=-1)
    mismatch = (masks & (at_own == own.transpose(0, 2, 1))).sum(-1)
    passed = form & (count >= proto.count) & (mismatch <= bounds.allowed(count, proto.tolerance))
    d1 = np.where(passed & ~distrust, orders, BOT).astype(np.uint8)

    pool = _pool(proto, c, orders, masks, rows, co)
    claims, ids = attack.round2(co, d1, pool)
    claims[:, ~traitor] = d1[:, ~traitor, None]
    ids[:, ~traitor] = np.arange(lieutenants)[~traitor][None, :, None]
    off = ~np.eye(lieutenants, dtype=bool)[None]
    definite = d1 < BOT
    bit, conflict = _checks(proto, pool, ids, np.minimum(claims, 1), own)
    assert bit is not None
    claimed = (claims < BOT) & off
    against = claimed & (claims == (1 - d1)[:, None, :]) & definite[:, None, :]
    proven = against & conflict if proto.rule == "paper" else against
    conflicted = proven.any(axis=1)
    valid = claimed & bit
    has = [(valid & (claims == x)).any(axis=1) for x in (0, 1)]
    adopted = np.where(has[0] & ~has[1], 0, np.where(has[1] & ~has[0], 1, BOT))
    d2 = np.where(definite, np.where(conflicted, BOT, d1), adopted).astype(np.uint8)

    proofs = np.full((batch, lieutenants, 2), -1, dtype=np.int64)
    mine = np.arange(lieutenants)[None, :]
    for x in (0, 1):
        own_proof = np.where(definite & (d1 == x), mine, -1)
        shown = np.where(proven.any(axis=1), _first(proven, ids), _first(against, ids))
        conflict_proof = np.where(definite & (d1 == 1 - x) & conflicted, shown, -1)
        adopted_proof = np.where(~definite, _first(valid & (claims == x), ids), -1)
        proofs[:, :, x] = np.maximum(np.maximum(own_proof, conflict_proof), adopted_proof)
    claims3, ids3 = attack.round3(co, d2, proofs, pool)
    claims3[:, ~traitor] = d2[:, ~traitor, None]
    ids3[:, ~traitor] = proofs[:, ~traitor][:, :, None, :]
    holding = d2 < BOT
    y = np.minimum(d2, 1)
    if proto.rule == "paper":
        wanted = np.broadcast_to((1 - y)[:, None, :], ids3.shape[:3]).astype(np.int64)
        other = np.take_along_axis(ids3, wanted[..., None], axis=3)[..., 0]
        _, conflict3 = _checks(proto, pool, other, wanted.astype(np.uint8), own, bit_check=False)
        overturned = (conflict3 & off & (other >= 0)).any(axis=1)
    else:
        overturned = ((claims3 < BOT) & (claims3 != y[:, None, :]) & off).any(axis=1)
    final = np.where(holding & ~overturned & ~distrust, d2, BOT).astype(np.uint8)

    forged = ids >= lieutenants
    sent = forged & off & ~traitor[None, None, :]
    result = BatchResult(
        final=final,
        value=np.where(commander_traitor, -1, value.astype(np.int64)),
        loyal=~traitor,
        first=d1,
        forged={
            "checks": sent.sum(axis=(1, 2)),
            "bit_passed": (sent & bit).sum(axis=(1, 2)),
            "conflict_passed": (sent & conflict).sum(axis=(1, 2)),
        },
    )
    return result


def _pool(
    proto: Protocol,
    c: np.ndarray,
    orders: np.ndarray,
    masks: np.ndarray,
    rows: np.ndarray,
    co: Coalition,
) -> Pool:
    """C's vectors, then (with traitors) each traitor's forgeries for 0 and 1."""
    batch, tuples, lieutenants = c.shape
    traitors = np.flatnonzero(co.traitor)
    if not len(traitors):
        return Pool(masks, np.ascontiguousarray(rows), orders, np.arange(lieutenants))
    size = lieutenants * 5
    mask = np.zeros((batch, size, tuples), dtype=bool)
    allrows = np.zeros((batch, size, tuples, lieutenants), dtype=np.uint8)
    value = np.zeros((batch, size), dtype=np.uint8)
    owner = np.concatenate([np.arange(lieutenants), np.repeat(np.arange(lieutenants), 4)])
    mask[:, :lieutenants] = masks
    allrows[:, :lieutenants] = rows
    value[:, :lieutenants] = orders
    _, reveal = bounds.forgery(proto.tuples, proto.tolerance, proto.count_alpha)
    for i in traitors:
        for x in (0, 1):
            believed = co.belief[:, :, i] == x
            # ADOPT: the s tuples that maximise the bit-check forgery, believed ones first.
            score = believed + co.rng.random((batch, tuples))
            top = np.argsort(-score, axis=1)[:, :reveal]
            adopt = np.zeros((batch, tuples), dtype=bool)
            np.put_along_axis(adopt, top, True, axis=1)
            for kind, chosen in ((ADOPT, adopt), (CONFLICT, believed)):
                slot = int(Pool.forged_id(lieutenants, i, x, kind))
                mask[:, slot] = chosen
                allrows[:, slot] = co.belief
                allrows[:, slot, :, i] = np.where(chosen, x, co.belief[:, :, i])
                value[:, slot] = x
    return Pool(mask, allrows, value, owner)
