"""The authenticated node → aggregator channel: key accounting, tampering, replays."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.security import (
    HASH_KEY_BITS,
    KEY_BITS_PER_MESSAGE,
    PRIME,
    AuthenticatedChannel,
    KeyPool,
    Message,
    decode_update,
    distill,
    encode_update,
)

FIRST = HASH_KEY_BITS + KEY_BITS_PER_MESSAGE  # 122 bits for a node's first message


def _channel(balances: list[int], seed: int = 0) -> tuple[KeyPool, AuthenticatedChannel]:
    pool = KeyPool(len(balances), rng=np.random.default_rng(seed))
    pool.deposit(np.arange(len(balances)), balances)
    return pool, AuthenticatedChannel(pool)


def test_round_trip_and_exact_key_accounting() -> None:
    pool, ch = _channel([FIRST + 2 * KEY_BITS_PER_MESSAGE + 5])
    assert ch.bits_needed(0) == FIRST
    sent = [ch.send(0, f"update {i}".encode()) for i in range(3)]
    assert all(m is not None for m in sent)
    assert pool.balance(0) == 5
    assert list(pool.spent) == [FIRST + 2 * KEY_BITS_PER_MESSAGE]
    assert ch.key_bits_used == FIRST + 2 * KEY_BITS_PER_MESSAGE
    assert ch.bits_needed(0) == KEY_BITS_PER_MESSAGE
    assert [m.seq for m in sent if m] == [0, 1, 2]
    # Delivery order does not matter: each slot keeps its own pad.
    assert [ch.receive(m) for m in reversed(sent) if m] == [b"update 2", b"update 1", b"update 0"]
    assert (ch.sent, ch.accepted, ch.rejected, ch.refused_no_key) == (3, 3, 0, 0)
    assert ch.outstanding == 0


def test_node_without_enough_key_is_refused_and_nothing_is_consumed() -> None:
    pool, ch = _channel([FIRST - 1, FIRST, 0])
    assert ch.send(0, b"u") is None
    assert pool.balance(0) == FIRST - 1  # no partial withdrawal
    assert ch.send(1, b"u") is not None
    assert ch.send(1, b"v") is None  # 0 left, 61 needed
    assert ch.send(2, b"w") is None
    assert ch.refused_no_key == 3
    assert ch.sent == 1
    assert list(pool.refused) == [1, 1, 1]
    pool.deposit(0, 1)
    assert ch.send(0, b"u") is not None
    assert pool.balance(0) == 0


def test_tampered_messages_are_rejected() -> None:
    _, ch = _channel([FIRST + 10 * KEY_BITS_PER_MESSAGE, FIRST], seed=3)
    msg = ch.send(0, b"\x00\x01gradient")
    other = ch.send(1, b"\x00\x01gradient")
    assert msg is not None
    assert other is not None
    payload_flip = bytearray(msg.payload)
    payload_flip[3] ^= 0x10
    forgeries = [
        dataclasses.replace(msg, payload=bytes(payload_flip)),
        dataclasses.replace(msg, payload=msg.payload + b"\x00"),
        dataclasses.replace(msg, tag=msg.tag ^ 1),
        dataclasses.replace(msg, tag=(msg.tag + 1) % PRIME),
        dataclasses.replace(msg, node=1, seq=0),  # relabelled onto node 1's open slot
        dataclasses.replace(msg, seq=5),  # a slot never issued
        dataclasses.replace(msg, node=7),  # a node that does not exist (Sybil)
        dataclasses.replace(msg, node="0"),  # type: ignore[arg-type]
        dataclasses.replace(msg, payload="text"),  # type: ignore[arg-type]
    ]
    assert all(ch.receive(f) is None for f in forgeries)
    assert ch.rejected == len(forgeries)
    assert ch.accepted == 0
    # Rejections do not burn the honest messages' pads.
    assert ch.receive(msg) == msg.payload
    assert ch.receive(other) == other.payload
    assert ch.accepted == 2


def test_replays_are_rejected() -> None:
    _, ch = _channel([FIRST + KEY_BITS_PER_MESSAGE])
    first, second = ch.send(0, b"a"), ch.send(0, b"b")
    assert first is not None
    assert second is not None
    assert ch.receive(first) == b"a"
    assert ch.receive(first) is None
    assert ch.receive(dataclasses.replace(first, payload=b"b", tag=second.tag)) is None
    assert ch.receive(second) == b"b"
    assert ch.receive(second) is None
    assert (ch.accepted, ch.rejected, ch.replays) == (2, 3, 3)  # all three reuse slots


@settings(max_examples=40, deadline=None)
@given(
    balances=st.lists(st.integers(0, 400), min_size=1, max_size=4),
    sends=st.lists(st.integers(0, 3), max_size=30),
)
def test_key_bits_consumed_exactly(balances: list[int], sends: list[int]) -> None:
    pool, ch = _channel(balances)
    model = list(balances)
    keyed = [False] * len(balances)
    for node in (s % len(balances) for s in sends):
        need = KEY_BITS_PER_MESSAGE + (0 if keyed[node] else HASH_KEY_BITS)
        msg = ch.send(node, b"x")
        assert (msg is not None) == (model[node] >= need)
        if msg is not None:
            model[node] -= need
            keyed[node] = True
            assert ch.receive(msg) == b"x"
    assert list(pool.balance(np.arange(len(balances)))) == model
    assert ch.key_bits_used == sum(balances) - sum(model)
    assert ch.sent + ch.refused_no_key == len(sends) == ch.accepted + ch.refused_no_key


def test_update_encoding_round_trip_through_the_channel() -> None:
    rng = np.random.default_rng(4)
    res = distill(np.full(4_000, 0.97), rng=rng)
    pool = KeyPool(2, rng=rng)
    pool.deposit(1, res.key_bits)
    ch = AuthenticatedChannel(pool)
    vec = rng.normal(size=17)
    vec[3] = np.nan  # an update may carry anything; the channel only authenticates it
    msg = ch.send(1, encode_update(vec, node=1, round_index=42))
    assert msg is not None
    got = ch.receive(msg)
    assert got is not None
    upd = decode_update(got)
    assert (upd.node, upd.round_index) == (1, 42)
    assert upd.vector.dtype == np.float64
    np.testing.assert_array_equal(upd.vector, vec)
    assert len(got) == 20 + 8 * 17


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: encode_update(np.zeros((2, 2)), node=0, round_index=0),
            "vector: shape (2, 2): must be one-dimensional",
        ),
        (
            lambda: encode_update(np.zeros(2), node=-1, round_index=0),
            "node = -1: must be in [0, 2^32)",
        ),
        (
            lambda: encode_update(np.zeros(2), node=0, round_index=-1),
            "round_index = -1: must be in [0, 2^64)",
        ),
        (lambda: decode_update(b"QCU1"), "update: 4 bytes: shorter than the 20-byte header"),
        (
            lambda: decode_update(b"XXXX" + bytes(16)),
            "update: magic b'XXXX': expected b'QCU1'",
        ),
        (
            lambda: decode_update(encode_update(np.zeros(3), node=0, round_index=0)[:-8]),
            "update: 36 bytes: header announces 3 values",
        ),
    ],
)
def test_encoding_bad_inputs(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()  # type: ignore[operator]


def test_channel_bad_inputs() -> None:
    pool, ch = _channel([FIRST])
    with pytest.raises(TypeError, match=r"^pool: must be a KeyPool, got dict$"):
        AuthenticatedChannel({})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^payload: must be bytes, got str$"):
        ch.send(0, "text")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"^node = 3: unknown node id \(the pool has nodes 0..0\)$"
    ):
        ch.send(3, b"x")
    with pytest.raises(TypeError, match=r"^message: must be a Message, got bytes$"):
        ch.receive(b"x")  # type: ignore[arg-type]
    assert pool.balance(0) == FIRST
    assert ch.sent == 0
    assert isinstance(ch.send(0, b"x"), Message)
