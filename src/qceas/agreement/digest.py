"""Many QDBA instances, binary or on a b-bit digest, tallied.

Multi-valued agreement. A round must agree on a model digest of b bits, not one bit.
Here: b binary instances run side by side on disjoint pairs, and a lieutenant decides
the digest if it decides every bit, else ⊥. Cost: ``b·M·(n−1)`` pairs (plus test
pairs). Why not fewer: the EPR-pair protocol's evidence is "the tuples where C's bit
equals the order"; an order from an alphabet of size 2^b would reveal a 2^{−b}
fraction of M tuples, so M would grow as 2^b. Classical reductions of multi-valued to
binary agreement (Turpin & Coan, IPL 18, 73 (1984)) need n > 3t and are not used.
Bounds per digest follow by a union bound over its b bits: honest failure ≤ b·P,
forgery ≤ b·P_F. A leader equivocating between two digests differs on a random
nonempty subset of bits (each bit w.p. ½); the commander attack acts on those bits and
C is honest on the rest. Two loyal lieutenants decide different digests if any bit
splits them; the digest's security against a leader that searches for collisions is
the hash's (b/2 bits of work), not this module's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from qceas.agreement.attacks import ATTACKS
from qceas.agreement.protocol import BOT, Protocol, run_batch
from qceas.streams import CONSENSUS


@dataclass(frozen=True)
class Point:
    """One grid point: a protocol and the world it runs in."""

    protocol: Protocol
    eps: float
    eps_x: float
    attack: str = "none"
    traitors: int = 0
    commander_traitor: bool = False
    source: str = "honest"
    digest_bits: int = 1
    instances: int = 1000

    def __post_init__(self) -> None:
        lieutenants = self.protocol.lieutenants
        if not 0 <= self.traitors <= lieutenants - 1:
            raise ValueError(
                f"traitors = {self.traitors}: must be in [0, {lieutenants - 1}] (players − 2: "
                "at least one loyal lieutenant)"
            )
        if self.attack not in ATTACKS:
            raise ValueError(
                f"attack = {self.attack!r}: must be one of {', '.join(ATTACKS.names())}"
            )
        if not 1 <= self.digest_bits <= 256:
            raise ValueError(f"digest_bits = {self.digest_bits}: must be in [1, 256]")

    @property
    def pairs(self) -> int:
        """Bell pairs per agreement (a digest of ``digest_bits`` bits)."""
        return self.protocol.pairs * self.digest_bits


@dataclass
class Tally:
    """Counts over agreements (digests)."""

    instances: int = 0
    agreement: int = 0
    abort: int = 0
    inconsistent: int = 0
    wrong: int = 0
    forged_checks: int = 0
    forged_bit_passed: int = 0
    forged_conflict_passed: int = 0
    seconds: float = 0.0
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, other: Tally) -> None:
        for name in (
            "instances", "agreement", "abort", "inconsistent", "wrong",
            "forged_checks", "forged_bit_passed", "forged_conflict_passed",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.seconds += other.seconds


def outcomes(
    final: np.ndarray, value: np.ndarray, commander_traitor: bool
) -> dict[str, np.ndarray]:
    """Per agreement: ``final (G, b, Ll)`` of the loyal lieutenants, C's digest
    ``value (G, b)``. ``agreement``: every loyal lieutenant decides (C's digest if C
    is loyal; one common digest otherwise); ``abort``: some loyal lieutenant decides
    ⊥; ``inconsistent``: two loyal lieutenants decide different digests (not ⊥);
    ``wrong``: a loyal C, and some loyal lieutenant decides another digest."""
    aborted = (final == BOT).any(axis=1)  # (G, Ll): ⊥ on some bit
    decided = ~aborted
    bits = np.where(decided[:, None, :], final, BOT)
    zero = ((bits == 0).any(axis=2)) & ((bits == 1).any(axis=2))  # a bit splits them
    inconsistent = zero.any(axis=1)
    abort = aborted.any(axis=1)
    if commander_traitor:
        agreement = ~abort & ~inconsistent
        wrong = np.zeros_like(abort)
    else:
        right = (final == value[:, :, None]).all(axis=1)  # (G, Ll)
        agreement = right.all(axis=1)
        wrong = (decided & ~right).any(axis=1)
    return {"agreement": agreement, "abort": abort, "inconsistent": inconsistent, "wrong": wrong}


def simulate(
    point: Point, entropy: list[int], *, start: int = 0, count: int | None = None
) -> Tally:
    """Run ``count`` agreements (default all of ``point.instances``) from agreement
    ``start``; batch k draws from ``[*entropy, CONSENSUS, k]``, so any split
    of the instances into calls gives the same numbers."""
    proto = point.protocol
    bits = point.digest_bits
    per_batch = max(1, proto.batch_size() // bits)  # agreements per batch
    total = point.instances if count is None else count
    traitor = np.zeros(proto.lieutenants, dtype=bool)
    traitor[: point.traitors] = True  # positions are symmetric: the first t are traitors
    attack = ATTACKS.get(point.attack)
    tally = Tally()
    first, last = start // per_batch, (start + total - 1) // per_batch
    for k in range(first, last + 1):
        rng = np.random.default_rng([*entropy, CONSENSUS, k])
        began = time.perf_counter()
        active_bits = rng.random((per_batch, bits)) < 0.5
        none = ~active_bits.any(axis=1)
        active_bits[none, rng.integers(0, bits, size=int(none.sum()))] = True
        result = run_batch(
            proto,
            np.full(proto.lieutenants, point.eps),
            attack,
            traitor,
            point.commander_traitor,
            rng,
            per_batch * bits,
            eps_x=np.full(proto.lieutenants, point.eps_x),
            source=point.source,
            active=active_bits.reshape(-1),
        )
        final = result.final[:, result.loyal].reshape(per_batch, bits, -1)
        found = outcomes(final, result.value.reshape(per_batch, bits), point.commander_traitor)
        lo = max(start, k * per_batch) - k * per_batch
        hi = min(start + total, (k + 1) * per_batch) - k * per_batch
        part = Tally(instances=hi - lo)
        for name, flags in found.items():
            setattr(part, name, int(flags[lo:hi].sum()))
        groups = {
            name: v.reshape(per_batch, bits).sum(axis=1)[lo:hi] for name, v in result.forged.items()
        }
        part.forged_checks = int(groups["checks"].sum())
        part.forged_bit_passed = int(groups["bit_passed"].sum())
        part.forged_conflict_passed = int(groups["conflict_passed"].sum())
        part.seconds = (time.perf_counter() - began) * (hi - lo) / per_batch
        tally.add(part)
    return tally
