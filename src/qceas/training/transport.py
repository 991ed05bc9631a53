"""What reaches the aggregator in one round: keys, attacks, the channel (ARCHITECTURE §1, step 4).

Per round, in this order:

1. **Keys.** Every real node distills key bits (BBM92, ``qceas.security.keys.distill``)
   into its key pool from the Bell pairs it received this round: with a fixed supply,
   ``pairs_per_round`` pairs of fidelity ``link_fidelity``; with a network supply
   (``key_supply``), the pairs the network simulation delivered to it and it
   consumed, each at its own fidelity then. An eavesdropper who intercepts and
   resends a fraction q of the pairs raises each pair's QBER from e to
   ``e + (q/4)(1 − 2e)`` (``qceas.attacks.intercept_resend_qber``); above the threshold
   the distillation aborts and the node has no key this round.
2. **Attack.** The Byzantine nodes (chosen once per scenario) and ``sybils`` extra
   identities replace their updates by the configured coordinated attack, computed
   from the finite honest updates (``qceas.attacks``), and may inflate their QFI
   claims to ``qfi_inflation`` × the largest honest claim. Sybils claim the largest
   shard size and, without inflation, the largest honest QFI claim; with ``attack:
   none`` they send the mean honest update.
3. **Channel.** Updates travel as bytes (``encode_update``). A strategy that
   authenticates sends them through the Wegman–Carter channel: a node without key
   bits is refused, and Sybils have none. A man-in-the-middle adds N(0, s²) noise to a
   ``tamper`` fraction of the honest messages; the MAC rejects them, an
   unauthenticated strategy receives them as they are.

Everything is counted in ``Delivery``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.attacks import ATTACKS
from qceas.attacks.config import AdversaryConfig
from qceas.attacks.identity import intercept_resend_qber
from qceas.physics import qber
from qceas.security.channel import AuthenticatedChannel, Message, decode_update, encode_update
from qceas.security.config import SecurityConfig
from qceas.security.keys import KeyPool, distill


@dataclass(frozen=True)
class Delivery:
    """The messages of one round as the aggregator sees them.

    Attributes:
        updates: (M, P) update per identity (K real nodes, then the Sybils); NaN rows
            for messages that never arrived.
        claims: (M,) claimed QFI scalars.
        sizes: (M,) claimed shard sizes.
        accepted: (M,) messages that arrived (and verified, when authenticated).
        byzantine: (M,) identities controlled by the adversary.
        refused_no_key: sends refused for lack of key bits.
        rejected: messages whose MAC failed.
        tampered: honest messages altered in transit.
        aborted_keys: nodes whose key distillation aborted this round.
        key_pairs: pairs consumed for key this round, all nodes together.
        key_fidelity: their mean fidelity (NaN when none).

    The channel's pads of rejected messages stay outstanding (so a forgery cannot block
    the honest message of that slot); over very long runs they accumulate.
    """

    updates: NDArray[np.float64]
    claims: NDArray[np.float64]
    sizes: NDArray[np.float64]
    accepted: NDArray[np.bool_]
    byzantine: NDArray[np.bool_]
    refused_no_key: int
    rejected: int
    tampered: int
    aborted_keys: int
    key_pairs: int = 0
    key_fidelity: float = float("nan")


def byzantine_nodes(n_nodes: int, fraction: float, seed: int) -> NDArray[np.bool_]:
    """A fixed random set of round(fraction·n) Byzantine nodes for a scenario seed."""
    count = int(np.floor(fraction * n_nodes + 0.5))
    mask = np.zeros(n_nodes, dtype=bool)
    if count:
        # A stream of its own, so adding an adversary leaves every other draw unchanged.
        mask[np.random.default_rng([seed, 0xB12]).choice(n_nodes, count, replace=False)] = True
    return mask


class Transport:
    """Carries one strategy's rounds from the nodes to the aggregator (module docstring).

    Args:
        n_nodes: real nodes K.
        byzantine: (K,) adversary-controlled real nodes.
        adversary: the attack settings.
        security: key-supply settings.
        authenticate: whether messages go through the authenticated channel.
        rng: this run's random stream.
        key_supply: round index -> one array per real node with the fidelities of the
            pairs it consumed for key that round (a network simulation); None for the
            fixed supply of ``security``.
    """

    def __init__(
        self,
        n_nodes: int,
        byzantine: NDArray[np.bool_],
        adversary: AdversaryConfig,
        security: SecurityConfig,
        *,
        authenticate: bool,
        rng: np.random.Generator,
        key_supply: Callable[[int], Sequence[NDArray[np.float64]]] | None = None,
    ) -> None:
        self.n_nodes = n_nodes
        self.key_supply = key_supply
        #: (N,) nodes whose quantum link is down this round (a fault), or None.
        self.link_down: NDArray[np.bool_] | None = None
        self.adversary = adversary
        self.security = security
        self.authenticate = authenticate
        self.rng = rng
        self.n_identities = n_nodes + adversary.sybils
        self.byzantine = np.concatenate([byzantine, np.ones(adversary.sybils, dtype=bool)])
        self.attack = (
            None
            if adversary.attack == "none"
            else ATTACKS.get(adversary.attack, **dict(adversary.params))
        )
        self.pool = KeyPool(self.n_identities, rng=rng)
        self.channel = AuthenticatedChannel(self.pool)
        e = float(qber(security.link_fidelity))
        e_eve = float(intercept_resend_qber(e, adversary.eavesdrop))
        self.pair_fidelity = min(1.0, max(0.25, 1.0 - 1.5 * e_eve))

    def _received(self, round_index: int) -> Sequence[NDArray[np.float64]]:
        """Fidelities of the pairs each real node measures for key this round."""
        if self.key_supply is None:
            fixed = np.full(self.security.pairs_per_round, self.pair_fidelity)
            down = np.zeros(self.n_nodes, bool) if self.link_down is None else self.link_down
            return [np.zeros(0) if off else fixed for off in down]
        supplied = self.key_supply(round_index)
        if len(supplied) != self.n_nodes:
            raise ValueError(
                f"key supply: {len(supplied)} nodes' pairs for {self.n_nodes} real nodes"
            )
        if self.adversary.eavesdrop <= 0:
            return supplied
        out = []
        for f in supplied:
            e = intercept_resend_qber(np.asarray(qber(f)), self.adversary.eavesdrop)
            out.append(np.clip(1.0 - 1.5 * np.asarray(e, dtype=float), 0.25, 1.0))
        return out

    def _distill_keys(self, round_index: int) -> tuple[int, int, float]:
        """Distill every node's key; returns (aborted nodes, pairs, mean fidelity)."""
        aborted = 0
        received = self._received(round_index)
        for node, fidelities in enumerate(received):
            if fidelities.size == 0:
                continue  # nothing to distill: no key this round
            result = distill(
                fidelities,
                rng=self.rng,
                sample_fraction=self.security.sample_fraction,
                ec_efficiency=self.security.ec_efficiency,
            )
            aborted += int(result.aborted)
            if result.key_bits:
                self.pool.deposit(node, result.key_bits)
        pairs = int(sum(f.size for f in received))
        mean = float(np.concatenate(received).mean()) if pairs else float("nan")
        return aborted, pairs, mean

    def deliver(
        self,
        round_index: int,
        gradients: NDArray[np.float64],
        claims: NDArray[np.float64],
        sizes: NDArray[np.int64],
        absent: NDArray[np.bool_] | None = None,
    ) -> Delivery:
        """Carry the K honest-computed updates, claims and sizes of one round;
        ``absent`` (K,) nodes send nothing (crashed, or too late for the round), and the
        adversary does not see their updates."""
        adv = self.adversary
        m, k = self.n_identities, self.n_nodes
        byz = self.byzantine
        gone = np.zeros(m, dtype=bool)
        if absent is not None:
            gone[:k] = absent
        vectors = np.concatenate([gradients, np.zeros((adv.sybils, gradients.shape[1]))])
        claimed = np.concatenate([claims, np.zeros(adv.sybils)])
        size = np.concatenate([sizes, np.full(adv.sybils, sizes.max())]).astype(float)
        # The adversary observes the honest updates that are well formed (a broken
        # honest node's NaN must not stop the attack, nor the round).
        honest_rows = gradients[~byz[:k] & ~gone[:k]]
        attackers = byz & ~gone  # a crashed or late Byzantine node sends nothing either
        honest_rows = honest_rows[np.all(np.isfinite(honest_rows), axis=1)]
        if attackers.any() and honest_rows.shape[0]:
            forged = None
            if self.attack is not None and honest_rows.shape[0] >= 2:
                try:
                    forged = self.attack(honest_rows, f=int(attackers.sum()), rng=self.rng)
                except ValueError:
                    # Faults left too few honest updates for the attack's own rule.
                    forged = None
            if forged is not None:
                vectors[attackers] = forged
            else:  # no attack (or too little to attack with): honest-looking messages
                vectors[k:] = honest_rows.mean(axis=0)
        honest_claims = claims[~byz[:k] & ~gone[:k]]
        top_claim = float(np.nanmax(honest_claims)) if np.isfinite(honest_claims).any() else 0.0
        if adv.qfi_inflation > 0 and byz.any():
            claimed[byz] = adv.qfi_inflation * top_claim
        elif byz.any():
            claimed[k:] = top_claim
        aborted, key_pairs, key_fidelity = (
            self._distill_keys(round_index) if self.authenticate else (0, 0, float("nan"))
        )
        updates = np.full_like(vectors, np.nan)
        accepted = np.zeros(m, dtype=bool)
        refused_before, rejected_before = self.channel.refused_no_key, self.channel.rejected
        tampered = 0
        for ident in range(m):
            if gone[ident]:
                continue
            payload = encode_update(vectors[ident], node=ident, round_index=round_index)
            if self.authenticate:
                message = self.channel.send(ident, payload)
                if message is None:
                    continue
            else:
                message = Message(ident, round_index, payload, 0)
            if not byz[ident] and adv.tamper > 0 and self.rng.random() < adv.tamper:
                noisy = vectors[ident] + self.rng.normal(0.0, adv.tamper_scale, vectors.shape[1])
                altered = encode_update(noisy, node=ident, round_index=round_index)
                message = Message(message.node, message.seq, altered, message.tag)
                tampered += 1
            data = self.channel.receive(message) if self.authenticate else message.payload
            if data is None:
                continue
            updates[ident] = decode_update(data).vector
            accepted[ident] = True
        return Delivery(
            updates=updates,
            claims=claimed,
            sizes=size,
            accepted=accepted,
            byzantine=byz.copy(),
            refused_no_key=self.channel.refused_no_key - refused_before,
            rejected=self.channel.rejected - rejected_before,
            tampered=tampered,
            aborted_keys=aborted,
            key_pairs=key_pairs,
            key_fidelity=key_fidelity,
        )
