"""Wegman–Carter message authentication over GF(p), p = 2^61 − 1.

**Blocks.** A message of n bytes is cut into 7-byte (56-bit) big-endian chunks, the
last one zero-padded, and its byte length n is appended as a final block:
``m_1, …, m_{L−1}, m_L = n``. Every block is < 2^56 < p. The length block makes the
encoding injective (``b"a"`` and ``b"a\\x00"`` would otherwise share blocks) and stops
extension by trailing zeros.

**Hash.** With a hash key k ∈ [1, p − 1] (Carter & Wegman, JCSS 18, 143 (1979)):

    h_k(m) = Σ_{i=1..L} m_i·k^{L−i+1}  mod p        (Horner: acc ← (acc + m_i)·k)

**Tag.** ``t = (h_k(m) + s) mod p`` with a fresh one-time pad s per message
(Wegman & Carter, JCSS 22, 265 (1981)). The hash key is reused; the pads never are.

**Forgery bound.** For m' ≠ m, ``h_k(m') − h_k(m)`` is a nonzero polynomial in k of
degree ≤ L with no constant term, so ``h_k(m') − h_k(m) = c`` has at most L roots in
GF(p) whatever c. A forger who saw (m, t) and submits (m', t') — s uniform hides k —
succeeds with probability ≤ L/(p − 1) ≈ L·4.3·10⁻¹⁹ per attempt (L the larger block
count); with q attempts, ≤ q·L/(p − 1). (m, t') with t' ≠ t is always rejected.

**Key bits.** A hash key and a pad each take 61 key bits, read as a big-endian integer
v ∈ [0, 2^61 − 1] = [0, p]. We reduce deterministically, so a message consumes exactly
61 bits and the accounting is exact: ``k = 1 + (v mod (p − 1))`` (k = 1 and 2 are
twice as likely as the rest) and ``s = v mod p`` (s = 0 twice as likely). Either is
within statistical distance 2^{−61} of uniform, which adds at most 2^{−60} to the
forgery probability — far below the bound above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

#: The Mersenne prime 2^61 − 1: the field of the hash.
PRIME = (1 << 61) - 1
#: Key bits one hash key takes (drawn once per node, reused).
HASH_KEY_BITS = 61
#: Key bits each message consumes (its one-time pad).
KEY_BITS_PER_MESSAGE = 61
#: Bytes per message block: 56 bits, safely below p.
BLOCK_BYTES = 7


@dataclass(frozen=True)
class MacKey:
    """A reusable polynomial-hash key ``hash_key`` ∈ [1, p − 1]."""

    hash_key: int

    def __post_init__(self) -> None:
        k = self.hash_key
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k < PRIME:
            raise ValueError(f"hash_key = {k!r}: must be an integer in [1, 2^61 - 2]")


def _bits_to_int(name: str, bits: ArrayLike, width: int) -> int:
    arr = np.asarray(bits)
    if arr.shape != (width,) or not np.all((arr == 0) | (arr == 1)):
        raise ValueError(f"{name}: must be {width} bits (a 0/1 array of shape ({width},))")
    value = 0
    for b in arr.tolist():
        value = (value << 1) | int(b)
    return value


def hash_key_from_bits(bits: ArrayLike) -> MacKey:
    """Hash key from 61 key bits: ``k = 1 + (v mod (p − 1))`` (see the module docstring)."""
    return MacKey(1 + _bits_to_int("hash key bits", bits, HASH_KEY_BITS) % (PRIME - 1))


def pad_from_bits(bits: ArrayLike) -> int:
    """One-time pad from 61 key bits: ``s = v mod p`` (see the module docstring)."""
    return _bits_to_int("pad bits", bits, KEY_BITS_PER_MESSAGE) % PRIME


def message_blocks(message: bytes) -> list[int]:
    """Blocks ``m_1 … m_L`` of ``message``: 56-bit big-endian chunks, then the length."""
    if not isinstance(message, bytes | bytearray | memoryview):
        raise TypeError(f"message: must be bytes, got {type(message).__name__}")
    data = bytes(message)
    blocks = [
        int.from_bytes(data[i : i + BLOCK_BYTES].ljust(BLOCK_BYTES, b"\0"), "big")
        for i in range(0, len(data), BLOCK_BYTES)
    ]
    blocks.append(len(data))
    return blocks


def _key(hash_key: int | MacKey) -> int:
    return (hash_key if isinstance(hash_key, MacKey) else MacKey(hash_key)).hash_key


def _pad(pad: int) -> int:
    if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad < PRIME:
        raise ValueError(f"pad = {pad!r}: must be an integer in [0, 2^61 - 2]")
    return pad


def poly_hash(message: bytes, hash_key: int | MacKey) -> int:
    """``h_k(m) = Σ_i m_i·k^{L−i+1} mod p``, evaluated by Horner's rule."""
    k = _key(hash_key)
    acc = 0
    for block in message_blocks(message):
        acc = (acc + block) * k % PRIME
    return acc


def forgery_bound(message_length: int) -> float:
    """Upper bound L/(p − 1) on one forgery attempt against messages of that many bytes."""
    if message_length < 0:
        raise ValueError(f"message_length = {message_length}: must be >= 0")
    blocks = -(-message_length // BLOCK_BYTES) + 1
    return blocks / (PRIME - 1)


def _tag(message: bytes, hash_key: int | MacKey, pad: int) -> int:
    return (poly_hash(message, hash_key) + _pad(pad)) % PRIME


def tag(message: bytes, hash_key: int | MacKey, pad: int) -> int:
    """Wegman–Carter tag ``(h_k(m) + s) mod p`` of ``message``."""
    return _tag(message, hash_key, pad)


def verify(message: bytes, tag: int, hash_key: int | MacKey, pad: int) -> bool:
    """True iff ``tag`` is the tag of ``message`` under (hash_key, pad).

    A tag outside [0, p) — e.g. a bit-flipped 61-bit tag equal to p — or not an
    integer is rejected, never an error: it is what an attacker sends.
    """
    if isinstance(tag, bool) or not isinstance(tag, int | np.integer):
        return False
    value = int(tag)
    return 0 <= value < PRIME and _tag(message, hash_key, pad) == value
