"""The adversary of one training run: whom it controls and what it does to a round.

One :class:`Adversary` per (strategy, seed) run holds everything the ``adversary``
section configures, acting at three places of the round (ARCHITECTURE §1, step 4):

1. **Identities.** ``round(fraction·K)`` of the K real nodes are Byzantine, drawn
   once per scenario seed (:func:`byzantine_nodes`), and ``sybils`` fabricated
   identities K … K + S − 1 follow them (``identity.sybil_identities``): they hold no
   key material, so an authenticated channel refuses them.
2. **Forging** (:meth:`Adversary.forge`), before the messages leave: the Byzantine
   identities that answer this round replace their updates by the configured
   coordinated attack (``qceas.attacks.ATTACKS``), computed from the finite honest
   updates of the round; without an attack, or with too few honest updates for it,
   the Sybils send the mean honest update. With ``qfi_inflation`` = c > 0 every
   Byzantine identity claims c × the largest honest QFI claim
   (``identity.inflate_qfi``); without it the Sybils claim the largest honest claim
   (the same helper with c = 1) and the real Byzantine nodes their own. Sybils claim
   the largest shard size.
3. **In transit** (:meth:`Adversary.in_transit`): a man in the middle adds
   N(0, s²) noise, s = ``tamper_scale``, to each honest message with probability
   ``tamper`` (``identity.tamper``, mode ``noise``), keeping its tag.

Eavesdropping acts on the quantum channel instead (:meth:`Adversary.intercept`): an
intercept-resend attack on a fraction q = ``eavesdrop`` of the pairs raises a Werner
pair's QBER from e = 2(1 − F)/3 to e' = e + (q/4)(1 − 2e)
(``identity.intercept_resend_qber``), i.e. the pair measures as one of fidelity
F' = 1 − 3e'/2; the key supplies of ``qceas.training.key_supply`` apply it.

Randomness: the Byzantine draw has a stream of its own, stream ``BYZANTINE`` of ``qceas.streams``,
so adding an adversary leaves every other draw unchanged; forging and tampering draw
from the run's stream (``rng``), in the order of the round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.attacks.config import AdversaryConfig, byzantine_count
from qceas.attacks.identity import inflate_qfi, intercept_resend_qber, sybil_identities, tamper
from qceas.attacks.updates import ATTACKS, UpdateAttack
from qceas.physics import qber
from qceas.streams import BYZANTINE, stream


def _outbid(
    claimed: NDArray[np.float64],
    mask: NDArray[np.bool_],
    factor: float,
    honest: NDArray[np.bool_],
) -> NDArray[np.float64]:
    """``identity.inflate_qfi`` on a round's claims: the masked identities claim
    ``factor`` × the largest honest claim, every other claim stays as it was computed.
    A QFI trace is >= 0 but may round to about −1e-17 for a parameter that moves
    nothing; the helper, which refuses negative claims, sees those as 0."""
    outbid = inflate_qfi(np.maximum(claimed, 0.0), mask, factor, honest=honest)
    return np.where(mask, outbid, claimed)


def byzantine_nodes(n_nodes: int, fraction: float, seed: int) -> NDArray[np.bool_]:
    """A fixed random set of round(fraction·n) Byzantine nodes for a scenario seed."""
    count = byzantine_count(fraction, n_nodes)
    mask = np.zeros(n_nodes, dtype=bool)
    if count:
        # A stream of its own, so adding an adversary leaves every other draw unchanged.
        mask[stream(seed, BYZANTINE).choice(n_nodes, count, replace=False)] = True
    return mask


@dataclass(frozen=True)
class Outgoing:
    """What the M = K + S identities send in one round, the adversary's forgeries
    included.

    Attributes:
        vectors: (M, P) update of every identity.
        claims: (M,) claimed QFI scalars.
        sizes: (M,) claimed shard sizes.
        byzantine: (M,) identities the adversary controls.
        silent: (M,) identities that send nothing this round (crashed or late nodes).
    """

    vectors: NDArray[np.float64]
    claims: NDArray[np.float64]
    sizes: NDArray[np.float64]
    byzantine: NDArray[np.bool_]
    silent: NDArray[np.bool_]


class Adversary:
    """The attacker of one run (module docstring).

    Args:
        spec: the ``adversary`` section.
        n_nodes: K, the real nodes.
        seed: the scenario seed (draws the Byzantine nodes).
        rng: the run's random stream (forging, tampering).
    """

    def __init__(
        self, spec: AdversaryConfig, n_nodes: int, seed: int, *, rng: np.random.Generator
    ) -> None:
        self.spec = spec
        self.n_nodes = n_nodes
        self.rng = rng
        self.sybils = sybil_identities(n_nodes, spec.sybils)
        #: (M,) the identities it controls: its real nodes, then every Sybil.
        self.byzantine = np.concatenate(
            [byzantine_nodes(n_nodes, spec.fraction, seed), np.ones(self.sybils.ids.size, bool)]
        )
        self.attack: UpdateAttack | None = (
            None if spec.attack == "none" else ATTACKS.get(spec.attack, **dict(spec.params))
        )

    @property
    def n_identities(self) -> int:
        """M = K + S: the real nodes and the Sybils."""
        return self.n_nodes + int(self.sybils.ids.size)

    def forge(
        self,
        gradients: NDArray[np.float64],
        claims: NDArray[np.float64],
        sizes: NDArray[np.int64],
        absent: NDArray[np.bool_] | None = None,
    ) -> Outgoing:
        """The messages of a round from the K honest-computed ``gradients`` (K, P), QFI
        ``claims`` (K,) and shard ``sizes`` (K,); ``absent`` (K,) nodes send nothing,
        and the adversary does not see their updates."""
        k, m = self.n_nodes, self.n_identities
        n_sybils = m - k
        byz = self.byzantine
        silent = np.zeros(m, dtype=bool)
        if absent is not None:
            silent[:k] = absent
        vectors = np.concatenate([gradients, np.zeros((n_sybils, gradients.shape[1]))])
        claimed = np.concatenate([claims, np.zeros(n_sybils)])
        size = np.concatenate([sizes, np.full(n_sybils, sizes.max())]).astype(float)
        honest = ~byz & ~silent
        # The adversary observes the honest updates that are well formed (a broken
        # honest node's NaN must not stop the attack, nor the round).
        honest_rows = gradients[honest[:k]]
        attackers = byz & ~silent  # a crashed or late Byzantine node sends nothing either
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
        if byz.any():
            if self.spec.qfi_inflation > 0:
                claimed = _outbid(claimed, byz, self.spec.qfi_inflation, honest)
            elif n_sybils:
                sybil = np.zeros(m, dtype=bool)
                sybil[self.sybils.ids] = True
                claimed = _outbid(claimed, sybil, 1.0, honest)
        return Outgoing(vectors, claimed, size, byz.copy(), silent)

    def in_transit(self, identity: int, vector: NDArray[np.float64]) -> NDArray[np.float64] | None:
        """The update the aggregator receives in place of an honest ``identity``'s
        ``vector`` when the man in the middle alters it (its tag is kept), else None.
        Draws from the run's stream only where tampering is on and the sender is
        honest."""
        spec = self.spec
        if self.byzantine[identity] or spec.tamper <= 0 or self.rng.random() >= spec.tamper:
            return None
        return tamper(vector, self.rng, mode="noise", scale=spec.tamper_scale)

    def intercept(self, fidelities: ArrayLike) -> NDArray[np.float64]:
        """Werner fidelities F' = clip(1 − 3e'/2, 1/4, 1) of pairs of fidelity F once the
        eavesdropper has intercepted and resent a fraction q of them, with
        e' = e + (q/4)(1 − 2e) and e = 2(1 − F)/3 (module docstring). At q = 0 this is
        F up to rounding: the round trip through the QBER."""
        e = intercept_resend_qber(np.asarray(qber(fidelities)), self.spec.eavesdrop)
        return np.clip(1.0 - 1.5 * np.asarray(e, dtype=float), 0.25, 1.0)


__all__ = ["Adversary", "Outgoing", "byzantine_nodes"]
