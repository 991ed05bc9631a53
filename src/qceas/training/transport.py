"""The channel between the nodes and the aggregator in one round (ARCHITECTURE §1, step 4).

Per round, in this order:

1. **Keys.** Every real node distills key bits (BBM92, ``qceas.security.keys.distill``)
   into its key pool from the Bell pairs it measured this round, each at its own
   fidelity: the pairs come from the run's key supply (``qceas.training.key_supply``:
   a fixed number at the configured fidelity, or what a network simulation delivered),
   already as the eavesdropper left them. Above the QBER threshold the distillation
   aborts and the node has no key this round.
2. **Channel.** The messages (``qceas.attacks.adversary.Outgoing``: the honest
   updates with the adversary's forgeries) travel as bytes (``encode_update``). A
   strategy that authenticates sends them through the Wegman–Carter channel: a node
   without key bits is refused, and Sybils have none. A man in the middle (the
   adversary's ``in_transit``) may alter an honest message on its way, keeping its
   tag; the MAC rejects it, an unauthenticated strategy receives it as it is.

Everything is counted in ``Delivery``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.attacks.adversary import Adversary, Outgoing
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

    @classmethod
    def unattacked(
        cls, updates: NDArray[np.float64], claims: NDArray[np.float64], sizes: NDArray[np.float64]
    ) -> Delivery:
        """Every node's message as it left, with no adversary and no loss (K = M): what
        an aggregation rule is measured on alone (tests, ``benchmarks/``)."""
        k = updates.shape[0]
        return cls(
            updates=updates,
            claims=claims,
            sizes=np.asarray(sizes, dtype=float),
            accepted=np.ones(k, dtype=bool),
            byzantine=np.zeros(k, dtype=bool),
            refused_no_key=0,
            rejected=0,
            tampered=0,
            aborted_keys=0,
        )


class Transport:
    """Carries one strategy's rounds from the nodes to the aggregator (module docstring).

    Args:
        n_nodes: real nodes K (the ones that distill keys).
        n_identities: M >= K, every identity that may send (the real nodes, then the
            Sybils).
        security: the distillation settings (``sample_fraction``, ``ec_efficiency``).
        authenticate: whether messages go through the authenticated channel.
        rng: this run's random stream.
    """

    def __init__(
        self,
        n_nodes: int,
        n_identities: int,
        security: SecurityConfig,
        *,
        authenticate: bool,
        rng: np.random.Generator,
    ) -> None:
        self.n_nodes = n_nodes
        self.n_identities = n_identities
        self.security = security
        self.authenticate = authenticate
        self.rng = rng
        self.pool = KeyPool(n_identities, rng=rng)
        self.channel = AuthenticatedChannel(self.pool)

    def _distill_keys(self, received: Sequence[NDArray[np.float64]]) -> tuple[int, int, float]:
        """Distill every real node's key from the fidelities of the pairs it measured;
        returns (aborted nodes, pairs, mean fidelity)."""
        if len(received) != self.n_nodes:
            raise ValueError(
                f"key supply: {len(received)} nodes' pairs for {self.n_nodes} real nodes"
            )
        aborted = 0
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
        outgoing: Outgoing,
        keys: Sequence[NDArray[np.float64]] | None = None,
        middle: Adversary | None = None,
    ) -> Delivery:
        """Carry one round's messages to the aggregator.

        Args:
            round_index: the round (0-based), written into every message.
            outgoing: what every identity sends (``silent`` ones send nothing).
            keys: (K,) arrays, the fidelities of the pairs each real node measured for
                key this round; needed when authenticating, ignored otherwise.
            middle: the man in the middle, whose ``in_transit`` may alter a message.
        """
        m = self.n_identities
        vectors, silent, byz = outgoing.vectors, outgoing.silent, outgoing.byzantine
        if self.authenticate:
            if keys is None:
                raise ValueError("transport: an authenticating strategy needs this round's keys")
            aborted, key_pairs, key_fidelity = self._distill_keys(keys)
        else:
            aborted, key_pairs, key_fidelity = 0, 0, float("nan")
        updates = np.full_like(vectors, np.nan)
        accepted = np.zeros(m, dtype=bool)
        refused_before, rejected_before = self.channel.refused_no_key, self.channel.rejected
        tampered = 0
        for ident in range(m):
            if silent[ident]:
                continue
            payload = encode_update(vectors[ident], node=ident, round_index=round_index)
            if self.authenticate:
                message = self.channel.send(ident, payload)
                if message is None:
                    continue
            else:
                message = Message(ident, round_index, payload, 0)
            altered = None if middle is None else middle.in_transit(ident, vectors[ident])
            if altered is not None:
                payload = encode_update(altered, node=ident, round_index=round_index)
                message = Message(message.node, message.seq, payload, message.tag)
                tampered += 1
            data = self.channel.receive(message) if self.authenticate else message.payload
            if data is None:
                continue
            updates[ident] = decode_update(data).vector
            accepted[ident] = True
        return Delivery(
            updates=updates,
            claims=outgoing.claims,
            sizes=outgoing.sizes,
            accepted=accepted,
            byzantine=byz.copy(),
            refused_no_key=self.channel.refused_no_key - refused_before,
            rejected=self.channel.rejected - rejected_before,
            tampered=tampered,
            aborted_keys=aborted,
            key_pairs=key_pairs,
            key_fidelity=key_fidelity,
        )
