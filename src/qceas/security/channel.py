"""Authenticated channel from nodes to the aggregator, keyed by distilled QKD bits.

Each node shares a :class:`~qceas.security.keys.KeyPool` with the aggregator. The first
message a node sends draws its reusable hash key (``HASH_KEY_BITS`` = 61 bits); every
message draws a fresh one-time pad (``KEY_BITS_PER_MESSAGE`` = 61 bits). So a node's
first message consumes exactly 122 key bits and each later one exactly 61; a node
short of them is refused (nothing is consumed) and the update cannot be sent.

The tag covers the header (node id, sequence number) as well as the payload, so a
message cannot be relabelled to another node or slot. The aggregator keeps its copy of
each outstanding pad under (node, seq) and burns it on acceptance, so a replayed
message finds no pad and is rejected. A rejected message leaves its pad outstanding, so
an injected forgery cannot block the honest message for that slot; each extra
verification is one more forgery attempt, bounded by L/(p − 1) (see ``mac``).

Update vectors travel as :func:`encode_update` bytes: a 20-byte little-endian header
(magic, node id, round, length) and the float64 values, little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas._rules import is_integer
from qceas.security.keys import KeyPool
from qceas.security.mac import (
    HASH_KEY_BITS,
    KEY_BITS_PER_MESSAGE,
    MacKey,
    hash_key_from_bits,
    pad_from_bits,
    tag,
    verify,
)

_HEADER = struct.Struct("<IQ")  # authenticated header: node id, sequence number


@dataclass(frozen=True)
class Message:
    """A tagged message as it travels (an adversary may alter any field)."""

    node: int
    seq: int
    payload: bytes
    tag: int


def _authenticated_data(node: int, seq: int, payload: bytes) -> bytes:
    return _HEADER.pack(node, seq) + bytes(payload)


class AuthenticatedChannel:
    """Wegman–Carter authenticated node → aggregator channel over a shared key pool.

    Counters: ``sent``, ``refused_no_key`` (sends refused for lack of key bits),
    ``accepted``, ``rejected`` (bad tag, unknown slot or replay) and ``replays`` (the
    rejected messages whose slot had already been accepted), plus ``key_bits_used``.
    """

    def __init__(self, pool: KeyPool) -> None:
        if not isinstance(pool, KeyPool):
            raise TypeError(f"pool: must be a KeyPool, got {type(pool).__name__}")
        self.pool = pool
        # The node's and the aggregator's copies of the same shared key material.
        self._node_keys: dict[int, MacKey] = {}
        self._aggregator_keys: dict[int, MacKey] = {}
        self._outstanding: dict[tuple[int, int], int] = {}
        self._next_seq = [0] * pool.n_nodes
        self.sent = 0
        self.refused_no_key = 0
        self.accepted = 0
        self.rejected = 0
        self.replays = 0
        self.key_bits_used = 0

    def bits_needed(self, node: int) -> int:
        """Key bits the next message of ``node`` consumes: 61, or 122 for its first."""
        self.pool.balance(node)  # validates the node id
        return KEY_BITS_PER_MESSAGE + (0 if int(node) in self._node_keys else HASH_KEY_BITS)

    @property
    def outstanding(self) -> int:
        """Messages sent but not yet accepted (their pads are still held)."""
        return len(self._outstanding)

    def send(self, node: int, payload: bytes) -> Message | None:
        """Tag ``payload`` from ``node``; None (counted) when its key bits run short."""
        if not isinstance(payload, bytes | bytearray):
            raise TypeError(f"payload: must be bytes, got {type(payload).__name__}")
        need = self.bits_needed(node)
        node = int(node)
        bits = self.pool.withdraw_bits(node, need)
        if bits is None:
            self.refused_no_key += 1
            return None
        if need > KEY_BITS_PER_MESSAGE:
            key = hash_key_from_bits(bits[:HASH_KEY_BITS])
            self._node_keys[node] = key
            self._aggregator_keys[node] = key
        pad = pad_from_bits(bits[-KEY_BITS_PER_MESSAGE:])
        seq = self._next_seq[node]
        self._next_seq[node] += 1
        self._outstanding[(node, seq)] = pad
        self.sent += 1
        self.key_bits_used += need
        data = bytes(payload)
        return Message(
            node, seq, data, tag(_authenticated_data(node, seq, data), self._node_keys[node], pad)
        )

    def receive(self, message: Message) -> bytes | None:
        """The payload if ``message`` verifies with the aggregator's key; else None (counted)."""
        if not isinstance(message, Message):
            raise TypeError(f"message: must be a Message, got {type(message).__name__}")
        node, seq = message.node, message.seq
        if not (is_integer(node) and is_integer(seq)):
            self.rejected += 1
            return None
        node, seq = int(node), int(seq)
        pad = self._outstanding.get((node, seq))
        if pad is None:
            # No pad held for this slot: either it was accepted already (a replay) or it
            # was never issued (a forged slot or node id).
            self.rejected += 1
            if 0 <= node < self.pool.n_nodes and 0 <= seq < self._next_seq[node]:
                self.replays += 1
            return None
        payload = message.payload
        if not isinstance(payload, bytes | bytearray) or not verify(
            _authenticated_data(node, seq, bytes(payload)),
            message.tag,
            self._aggregator_keys[node],
            pad,
        ):
            self.rejected += 1
            return None
        del self._outstanding[(node, seq)]
        self.accepted += 1
        return bytes(payload)


# ---------------------------------------------------------------- update encoding
_MAGIC = b"QCU1"
_UPDATE_HEADER = struct.Struct("<4sIQI")  # magic, node id, round, number of float64


class Update(NamedTuple):
    """A decoded update: sender, round and the (d,) float64 vector."""

    node: int
    round_index: int
    vector: NDArray[np.float64]


def encode_update(vector: ArrayLike, *, node: int, round_index: int) -> bytes:
    """Bytes of a (d,) update: header ``<4sIQI`` (magic, node, round, d), then float64 LE."""
    arr = np.asarray(vector, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"vector: shape {arr.shape}: must be one-dimensional")
    if not 0 <= node < 2**32:
        raise ValueError(f"node = {node}: must be in [0, 2^32)")
    if not 0 <= round_index < 2**64:
        raise ValueError(f"round_index = {round_index}: must be in [0, 2^64)")
    header = _UPDATE_HEADER.pack(_MAGIC, node, round_index, arr.size)
    return header + arr.astype("<f8").tobytes()


def decode_update(data: bytes) -> Update:
    """Inverse of :func:`encode_update`; a malformed buffer raises ValueError."""
    size = _UPDATE_HEADER.size
    if len(data) < size:
        raise ValueError(f"update: {len(data)} bytes: shorter than the {size}-byte header")
    magic, node, round_index, d = _UPDATE_HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise ValueError(f"update: magic {magic!r}: expected {_MAGIC!r}")
    if len(data) != size + 8 * d:
        raise ValueError(f"update: {len(data)} bytes: header announces {d} values")
    vector = np.frombuffer(data, dtype="<f8", offset=size).astype(np.float64)
    return Update(node, round_index, vector)
