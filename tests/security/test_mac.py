"""Wegman–Carter MAC: correctness, forgery and tampering resistance, the L/p bound."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.security.mac import (
    BLOCK_BYTES,
    HASH_KEY_BITS,
    KEY_BITS_PER_MESSAGE,
    PRIME,
    MacKey,
    forgery_bound,
    hash_key_from_bits,
    message_blocks,
    pad_from_bits,
    poly_hash,
    tag,
    verify,
)

N_ATTEMPTS = 100_000


def _random_messages(rng: np.random.Generator, n: int, max_len: int = 80) -> list[bytes]:
    lengths = rng.integers(0, max_len + 1, n)
    return [rng.bytes(int(length)) for length in lengths]


def _random_field(rng: np.random.Generator, n: int, low: int = 0) -> list[int]:
    return [int(v) for v in rng.integers(low, PRIME, n, dtype=np.int64)]


def test_constants() -> None:
    assert PRIME == 2**61 - 1
    assert HASH_KEY_BITS == KEY_BITS_PER_MESSAGE == 61
    assert BLOCK_BYTES * 8 == 56 < 61


def test_blocks_are_56_bit_chunks_then_the_length() -> None:
    msg = bytes(range(1, 10))
    assert message_blocks(msg) == [
        int.from_bytes(msg[:7], "big"),
        int.from_bytes(msg[7:] + b"\0" * 5, "big"),
        9,
    ]
    assert message_blocks(b"") == [0]
    # Zero padding alone would make these collide; the length block separates them.
    assert message_blocks(b"a") != message_blocks(b"a\0")


@settings(max_examples=200, deadline=None)
@given(msg=st.binary(max_size=200), k=st.integers(1, PRIME - 1))
def test_hash_is_the_polynomial(msg: bytes, k: int) -> None:
    blocks = message_blocks(msg)
    n_blocks = len(blocks)
    direct = sum(m * pow(k, n_blocks - i, PRIME) for i, m in enumerate(blocks)) % PRIME
    assert poly_hash(msg, k) == direct
    assert all(0 <= m < PRIME for m in blocks)


def test_correct_tags_are_accepted() -> None:
    rng = np.random.default_rng(0)
    msgs = _random_messages(rng, 20_000)
    keys = _random_field(rng, 20_000, low=1)
    pads = _random_field(rng, 20_000)
    assert all(verify(m, tag(m, k, s), k, s) for m, k, s in zip(msgs, keys, pads, strict=True))
    assert verify(b"x", tag(b"x", MacKey(5), 3), MacKey(5), 3)


def test_random_forgeries_are_rejected() -> None:
    """10⁵ random tags on random messages: each succeeds with probability 1/p."""
    rng = np.random.default_rng(1)
    msgs = _random_messages(rng, N_ATTEMPTS)
    forged = _random_field(rng, N_ATTEMPTS)
    k, s = _random_field(rng, 1, low=1)[0], _random_field(rng, 1)[0]
    assert not any(verify(m, t, k, s) for m, t in zip(msgs, forged, strict=True))


def test_single_bit_tampering_is_rejected() -> None:
    """10⁵ (message, tag) pairs, one bit flipped in the message or in the 61-bit tag."""
    rng = np.random.default_rng(2)
    msgs = _random_messages(rng, N_ATTEMPTS, max_len=64)
    keys = _random_field(rng, N_ATTEMPTS, low=1)
    pads = _random_field(rng, N_ATTEMPTS)
    where = rng.random(N_ATTEMPTS)
    accepted = 0
    for m, k, s, u in zip(msgs, keys, pads, where, strict=True):
        t = tag(m, k, s)
        if m and u < 0.5:
            bit = int(u * 2 * 8 * len(m))
            buf = bytearray(m)
            buf[bit // 8] ^= 1 << (bit % 8)
            accepted += verify(bytes(buf), t, k, s)
        else:
            accepted += verify(m, t ^ (1 << int(u * 61)), k, s)
    assert accepted == 0


def test_tags_outside_the_field_or_not_integers_are_rejected() -> None:
    t = tag(b"m", 7, PRIME - 1)
    assert verify(b"m", t, 7, PRIME - 1)
    assert not verify(b"m", t + PRIME, 7, PRIME - 1)
    assert not verify(b"m", -1, 7, PRIME - 1)
    assert not verify(b"m", float(t), 7, PRIME - 1)  # type: ignore[arg-type]
    assert not verify(b"m", True, 7, PRIME - 1)
    assert verify(b"m", np.uint64(t), 7, PRIME - 1)  # type: ignore[arg-type]


# ------------------------------------------------------------ the forgery bound, analytically
def _trim(p: list[int]) -> list[int]:
    while p and p[-1] == 0:
        p.pop()
    return p


def _polymod(a: list[int], b: list[int]) -> list[int]:
    """a mod b over GF(p); coefficients lowest degree first."""
    a = _trim([c % PRIME for c in a])
    inv = pow(b[-1], PRIME - 2, PRIME)
    while len(a) >= len(b):
        q = a[-1] * inv % PRIME
        shift = len(a) - len(b)
        for i, c in enumerate(b):
            a[shift + i] = (a[shift + i] - q * c) % PRIME
        a = _trim(a)
    return a


def _polymulmod(a: list[int], b: list[int], mod: list[int]) -> list[int]:
    out = [0] * (len(a) + len(b))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            out[i + j] = (out[i + j] + x * y) % PRIME
    return _polymod(out, mod)


def _distinct_roots(poly: list[int]) -> int:
    """Number of distinct roots in GF(p): deg gcd(poly, x^p − x)."""
    f = _trim([c % PRIME for c in poly])
    # x^p mod f by square-and-multiply, then gcd(f, x^p − x).
    result, base = [1], _polymod([0, 1], f)
    e = PRIME
    while e:
        if e & 1:
            result = _polymulmod(result, base, f)
        base = _polymulmod(base, base, f)
        e >>= 1
    g = result + [0] * max(0, 2 - len(result))
    g[1] = (g[1] - 1) % PRIME
    a, b = f, _trim(g)
    while b:
        a, b = b, _polymod(a, b)
    return len(a) - 1


def _difference_polynomial(m1: bytes, m2: bytes) -> list[int]:
    """h_k(m1) − h_k(m2) as a polynomial in k, lowest degree first."""
    b1, b2 = message_blocks(m1), message_blocks(m2)
    size = max(len(b1), len(b2)) + 1
    coef = [0] * size
    for blocks, sign in ((b1, 1), (b2, -1)):
        for i, m in enumerate(blocks):
            coef[len(blocks) - i] += sign * m
    return coef


def test_distinct_messages_collide_on_at_most_l_keys() -> None:
    """For m1 ≠ m2 the difference polynomial is nonzero, of degree ≤ L, no constant term:
    at most L − 1 nonzero keys k make them collide, so Pr[collision] ≤ L/(p − 1)."""
    rng = np.random.default_rng(3)
    for _ in range(30):
        m1, m2 = _random_messages(rng, 2, max_len=40)
        if m1 == m2:
            continue
        d = _difference_polynomial(m1, m2)
        n_blocks = max(len(message_blocks(m1)), len(message_blocks(m2)))
        assert any(c % PRIME for c in d)
        assert d[0] == 0
        nonzero_roots = _distinct_roots(d) - 1  # k = 0 is always a root and is excluded
        assert 0 <= nonzero_roots <= n_blocks - 1
        assert (nonzero_roots + 1) / (PRIME - 1) <= forgery_bound(max(len(m1), len(m2)))


def test_the_bound_is_nearly_reached_by_a_crafted_pair() -> None:
    """Two same-length messages built so that k = 1..L−2 all collide: the bound is tight
    up to the two roots the length block and the missing constant term take away."""
    n_data = 5  # data blocks; L = 6 with the length block
    roots = list(range(1, n_data))
    # r(x) = ∏ (x − j), highest degree first: the data-block differences d_1..d_{L−1}.
    r = [1]
    for j in roots:
        r = [*r, 0]
        for i in range(len(r) - 1, 0, -1):
            r[i] -= j * r[i - 1]
    base = 1 << 40
    blocks1 = [base + c for c in r]
    blocks2 = [base] * n_data
    m1 = b"".join(b.to_bytes(BLOCK_BYTES, "big") for b in blocks1)
    m2 = b"".join(b.to_bytes(BLOCK_BYTES, "big") for b in blocks2)
    assert m1 != m2
    assert len(m1) == len(m2)
    for k in roots:
        assert poly_hash(m1, k) == poly_hash(m2, k)
    assert _distinct_roots(_difference_polynomial(m1, m2)) - 1 == len(roots)
    assert poly_hash(m1, n_data + 7) != poly_hash(m2, n_data + 7)
    assert forgery_bound(len(m1)) == 6 / (PRIME - 1)


# ------------------------------------------------------------------ key bits
def test_key_reduction_from_bits() -> None:
    ones, zeros = np.ones(61, dtype=np.uint8), np.zeros(61, dtype=np.uint8)
    assert hash_key_from_bits(zeros).hash_key == 1
    assert hash_key_from_bits(ones).hash_key == 2  # v = p ≡ 1 (mod p − 1)
    assert pad_from_bits(ones) == 0  # v = p
    assert pad_from_bits(zeros) == 0
    bits = np.zeros(61, dtype=np.uint8)
    bits[-3:] = [1, 0, 1]
    assert pad_from_bits(bits) == 5
    assert hash_key_from_bits(bits).hash_key == 6


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: MacKey(0), "hash_key = 0: must be an integer in [1, 2^61 - 2]"),
        (lambda: MacKey(PRIME), f"hash_key = {PRIME}: must be an integer in [1, 2^61 - 2]"),
        (lambda: tag(b"m", 1, PRIME), f"pad = {PRIME}: must be an integer in [0, 2^61 - 2]"),
        (lambda: tag(b"m", 1, -1), "pad = -1: must be an integer in [0, 2^61 - 2]"),
        (
            lambda: pad_from_bits(np.ones(60)),
            "pad bits: must be 61 bits (a 0/1 array of shape (61,))",
        ),
        (
            lambda: hash_key_from_bits(np.full(61, 2)),
            "hash key bits: must be 61 bits (a 0/1 array of shape (61,))",
        ),
        (lambda: forgery_bound(-1), "message_length = -1: must be >= 0"),
    ],
)
def test_bad_inputs(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()  # type: ignore[operator]


def test_message_must_be_bytes() -> None:
    with pytest.raises(TypeError, match=r"^message: must be bytes, got str$"):
        tag("text", 1, 0)  # type: ignore[arg-type]
