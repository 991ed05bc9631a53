"""Coordinated adversaries of the EPR-pair QDBA, and what no decision rule can stop.

All traitors form one coalition (``protocol.Coalition``): they pool their bits and, if
the commander is one of them, every bit of C's lists. Registered in ``ATTACKS``:

Traitor lieutenants (C loyal or not)
    ``lie``     claim the other order in rounds 2 and 3 with the forged vector that is
                best against the conflict check (every tuple the coalition believes
                holds that order; bits at loyal positions guessed): aims at aborts.
    ``adopt``   the same claim with the vector best against the bit check (the
                ``bounds.forgery`` number of tuples): aims at lieutenants that hold ⊥.
    ``abort``   claim ⊥ and show, in round 3, its own vector and a forged one for the
                other order as "proof" that C equivocated.
    ``split``   tell the first loyal group the true order and the second group the
                other one, with forged evidence (an equivocating lieutenant).
Traitor commander (``commander: traitor``)
    ``equivocate``          order v to the first loyal group and ¬v to the second,
                            each with its genuine command vector (the paper's attack).
    ``equivocate_crafted``  the same orders, with vectors whose bits at the other
                            group's positions are replaced by fresh random bits.
    ``bad_vector``          order v to all, but the second group gets a vector for ¬v
                            (it fails their check; they must adopt v from the others).

Optimality. With a loyal C and an honest source, a loyal lieutenant's bits are
uniform and independent of the coalition's whole view, so every guess at them is
right with probability ½ whatever strategy chose it: ``adopt`` achieves the exact
maximum of ``bounds.forgery`` against one bit check (it reveals the maximising number
of tuples) and ``lie`` the maximum ``(3/4)^M`` against one conflict check (it must guess
one bit per tuple with its own order, and its belief about its own position is as
good as its pairs: with noise it does slightly worse than the bound). Across
*several* loyal recipients and rounds these are heuristics: a coalition could send
different forgeries to different recipients; the bounds above still hold per check
(a union bound over checks covers any such strategy). A traitor C's attacks are not
claimed optimal except ``equivocate_crafted``, which succeeds with probability 1
under rule ``paper`` (below).

Proposition (no rule on Z data from pairwise pairs has both). Take F = 1, an honest
source, three players or more. Scenario A: C loyal with order y; traitor L_i claims
¬y with a forged vector (rows at L_j's position uniform guesses). Scenario B: C a
traitor that sends y to L_j with a genuine vector and ¬y to L_i with a genuine mask
but uniformly random bits at L_j's position; everyone else loyal. L_j's view (its
bits, C's message, L_i's messages — a traitor L_i in A can send exactly what a loyal
L_i sends in B, it knows everything L_i knows there) has the same distribution in
A and B. A rule that keeps y in A (no abort against a traitor lieutenant) keeps it in
B; by the symmetric argument L_i keeps ¬y in B: an inconsistency. So a rule either
lets one traitor lieutenant force an abort (``strict``: any conflicting claim aborts;
consistency then holds with certainty) or lets a traitor C split the loyal lieutenants
(``paper``). It is the Lamport–Shostak–Pease indistinguishability argument (ACM
TOPLAS 4, 382 (1982)); detectable broadcast for any number of traitors needs
correlations that are not pairwise (Fitzi, Gisin, Maurer & von Rotz, Eurocrypt 2002;
Fitzi, Gottesman, Hirt, Holenstein & Smith, PODC 2002, use a three-party qutrit
state). Z-basis outcomes of C–L_i pairs are pairwise shared randomness, which private
channels already give.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qceas.agreement.protocol import (
    ADOPT,
    BOT,
    CONFLICT,
    Attack,
    Coalition,
    Pool,
    honest_commander,
    vectors_for,
)
from qceas.registry import Registry

#: Coalition behaviours by name; ``ATTACKS.get(name)`` builds one.
ATTACKS: Registry[Attack] = Registry("consensus attack")


def _claim_all(
    co: Coalition, claims: np.ndarray, ids: np.ndarray, value: np.ndarray, kind: int
) -> None:
    """Traitors claim ``value (B, L)`` (per traitor) to everyone with their forgery."""
    lieutenants = co.traitor.size
    for i in np.flatnonzero(co.traitor):
        claims[:, i, :] = value[:, i, None]
        ids[:, i, :] = Pool.forged_id(lieutenants, i, value[:, i], kind)[:, None]


def _show(ids: np.ndarray, i: Any, value: np.ndarray, proof: Any) -> None:
    """Traitor i shows everyone ``proof`` (a pool id, or one per instance) as its
    round-3 proof for ``value (B,)``."""
    b = np.arange(len(value))
    ids[b, i, :, value] = np.broadcast_to(proof, value.shape)[:, None]


class _Liar(Attack):
    def __init__(self, name: str = "lie", kind: int = CONFLICT) -> None:
        self.name, self.kind = name, kind

    def round2(self, co: Coalition, d1: np.ndarray, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
        claims, ids = super().round2(co, d1, pool)
        _claim_all(co, claims, ids, 1 - co.orders, self.kind)
        return claims, ids

    def round3(
        self, co: Coalition, d2: np.ndarray, proofs: np.ndarray, pool: Pool
    ) -> tuple[np.ndarray, np.ndarray]:
        claims, ids = super().round3(co, d2, proofs, pool)
        lieutenants = co.traitor.size
        for i in np.flatnonzero(co.traitor):
            lie = 1 - co.orders[:, i]
            claims[:, i, :] = lie[:, None]
            ids[:, i, :, :] = -1
            _show(ids, i, lie, Pool.forged_id(lieutenants, i, lie, self.kind))
        return claims, ids


@ATTACKS.register("none")
def none() -> Attack:
    """Traitors that follow the protocol (the baseline)."""
    return Attack()


@ATTACKS.register("lie")
def lie() -> Attack:
    """Claim the other order, forged against the conflict check."""
    return _Liar("lie", CONFLICT)


@ATTACKS.register("adopt")
def adopt() -> Attack:
    """Claim the other order, forged against the bit check."""
    return _Liar("adopt", ADOPT)


class _Abort(Attack):
    name = "abort"

    def round2(self, co: Coalition, d1: np.ndarray, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
        claims, ids = super().round2(co, d1, pool)
        claims[:, co.traitor, :] = BOT
        return claims, ids

    def round3(
        self, co: Coalition, d2: np.ndarray, proofs: np.ndarray, pool: Pool
    ) -> tuple[np.ndarray, np.ndarray]:
        claims, ids = super().round3(co, d2, proofs, pool)
        lieutenants = co.traitor.size
        for i in np.flatnonzero(co.traitor):
            order = co.orders[:, i]
            claims[:, i, :] = BOT
            _show(ids, i, order, i)
            _show(ids, i, 1 - order, Pool.forged_id(lieutenants, i, 1 - order, CONFLICT))
        return claims, ids


@ATTACKS.register("abort")
def abort() -> Attack:
    """Claim ⊥ and show a forged proof that C equivocated."""
    return _Abort()


class _Split(_Liar):
    def __init__(self) -> None:
        super().__init__("split", CONFLICT)

    def round2(self, co: Coalition, d1: np.ndarray, pool: Pool) -> tuple[np.ndarray, np.ndarray]:
        claims, ids = Attack.round2(self, co, d1, pool)
        lied_claims, lied_ids = claims.copy(), ids.copy()
        _claim_all(co, lied_claims, lied_ids, 1 - co.orders, CONFLICT)
        truth = np.broadcast_to(co.orders[:, :, None], claims.shape)
        claims[:, co.traitor] = truth[:, co.traitor]
        to_second = co.second[None, None, :] & co.traitor[None, :, None]
        return np.where(to_second, lied_claims, claims), np.where(to_second, lied_ids, ids)

    def round3(
        self, co: Coalition, d2: np.ndarray, proofs: np.ndarray, pool: Pool
    ) -> tuple[np.ndarray, np.ndarray]:
        claims, ids = Attack.round3(self, co, d2, proofs, pool)
        lied_claims, lied_ids = _Liar.round3(self, co, d2, proofs, pool)
        for i in np.flatnonzero(co.traitor):
            order = co.orders[:, i]
            claims[:, i, :] = order[:, None]
            ids[:, i, :, :] = -1
            _show(ids, i, order, i)
        to_second = co.second[None, None, :] & co.traitor[None, :, None]
        return (
            np.where(to_second, lied_claims, claims),
            np.where(to_second[..., None], lied_ids, ids),
        )


@ATTACKS.register("split")
def split() -> Attack:
    """Tell the first loyal group the truth and the second the other order."""
    return _Split()


class _Equivocate(Attack):
    commander_side = True

    def __init__(self, name: str, *, crafted: bool = False, bad_vector: bool = False) -> None:
        self.name, self.crafted, self.bad_vector = name, crafted, bad_vector

    def commander(
        self, c: np.ndarray, value: np.ndarray, co: Coalition, active: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        orders, masks, rows = honest_commander(c, value)
        flip = active[:, None] & co.second[None, :]
        if self.bad_vector:  # the second group gets a vector for the other order
            return orders, np.where(flip[:, :, None], vectors_for(c, 1 - orders), masks), rows
        orders = np.where(flip, 1 - orders, orders).astype(np.uint8)
        masks = vectors_for(c, orders)
        if not self.crafted:
            return orders, masks, rows
        rows = rows.copy()
        noise = co.rng.integers(0, 2, size=rows.shape, dtype=np.uint8)
        # A recipient of one group sees random bits at the other group's positions.
        other = co.second[None, :, None, None] != co.second[None, None, None, :]
        hide = active[:, None, None, None] & other
        return orders, masks, np.where(hide, noise, rows)


@ATTACKS.register("equivocate")
def equivocate() -> Attack:
    """Different orders to two groups, each with its genuine vector."""
    return _Equivocate("equivocate")


@ATTACKS.register("equivocate_crafted")
def equivocate_crafted() -> Attack:
    """Different orders, vectors random at the other group's positions."""
    return _Equivocate("equivocate_crafted", crafted=True)


@ATTACKS.register("bad_vector")
def bad_vector() -> Attack:
    """The same order to all, a failing vector to the second group."""
    return _Equivocate("bad_vector", bad_vector=True)


__all__ = ["ATTACKS"]
