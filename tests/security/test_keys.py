"""Key distillation against the closed forms of ARCHITECTURE §4, and exact key pools."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas import physics as ph
from qceas.security.keys import DistillResult, KeyPool, distill, sift_probability

N_PAIRS = 1_000_000


def _expected_fraction(e: float, *, sift: float, sample_fraction: float, f_ec: float) -> float:
    h = float(ph.binary_entropy(e))
    return sift * (1.0 - sample_fraction) * max(0.0, 1.0 - f_ec * h - h)


# ------------------------------------------------------------------ distillation
@pytest.mark.parametrize("fidelity", [0.99, 0.95, 0.9, 0.86])
def test_qber_estimate_and_key_fraction_match_closed_forms(fidelity: float) -> None:
    rng = np.random.default_rng(11)
    res = distill(np.full(N_PAIRS, fidelity), rng=rng)
    e = float(ph.qber(fidelity))
    # ≈ 50k sampled bits: 5 standard deviations of the binomial estimate.
    sigma = math.sqrt(e * (1 - e) / res.sampled)
    assert res.qber_estimate == pytest.approx(e, abs=5 * sigma)
    assert res.fidelity_witness == pytest.approx(1 - 1.5 * res.qber_estimate)
    assert res.fidelity_witness == pytest.approx(fidelity, abs=7.5 * sigma)
    expected = _expected_fraction(e, sift=0.5, sample_fraction=0.1, f_ec=1.16)
    # The key fraction moves with ê: dr/de = −(1 + f_ec)·h2'(e), h2'(e) = log2((1−e)/e).
    slope = (1 + 1.16) * math.log2((1 - e) / e)
    assert res.key_bits / N_PAIRS == pytest.approx(expected, abs=5 * sigma * slope * 0.45 + 2e-3)
    assert res.sifted == pytest.approx(N_PAIRS / 2, abs=5 * math.sqrt(N_PAIRS / 4))
    assert res.sampled == math.ceil(0.1 * res.sifted)
    assert res.kept == res.sifted - res.sampled


def test_bookkeeping_is_exact() -> None:
    res = distill(np.full(20_000, 0.95), rng=np.random.default_rng(3), ec_efficiency=1.2)
    h = float(ph.binary_entropy(res.qber_estimate))
    assert not res.aborted
    assert res.leaked_ec_bits == math.ceil(1.2 * res.kept * h)
    assert res.pa_removed_bits == math.ceil(res.kept * h)
    assert res.key_bits == res.kept - res.leaked_ec_bits - res.pa_removed_bits
    assert res.qber_estimate == res.errors_in_sample / res.sampled


def test_matches_secret_fraction_with_ideal_error_correction() -> None:
    fidelity, sift, frac = 0.95, sift_probability(0.8), 0.05
    res = distill(
        np.full(N_PAIRS, fidelity),
        rng=np.random.default_rng(5),
        sift=sift,
        sample_fraction=frac,
        ec_efficiency=1.0,
    )
    assert sift == pytest.approx(0.68)
    r = float(ph.secret_fraction(res.qber_estimate))
    assert res.key_bits == pytest.approx(res.kept * r, abs=2)
    expected = sift * (1 - frac) * float(ph.secret_fraction(ph.qber(fidelity)))
    assert res.key_bits / N_PAIRS == pytest.approx(expected, rel=0.03)


def test_perfect_pairs_give_every_kept_bit() -> None:
    res = distill(np.ones(10_000), rng=np.random.default_rng(0))
    assert res.qber_estimate == 0.0
    assert res.fidelity_witness == 1.0
    assert res.errors_in_sample == 0
    assert res.key_bits == res.kept == res.sifted - res.sampled
    assert not res.aborted


def test_estimate_tracks_the_mean_qber_of_mixed_pairs() -> None:
    rng = np.random.default_rng(8)
    fid = rng.uniform(0.85, 1.0, N_PAIRS)
    res = distill(fid, rng=rng, sample_fraction=0.2)
    e_mean = float(np.mean(ph.qber(fid)))
    assert res.qber_estimate == pytest.approx(e_mean, abs=5 * math.sqrt(e_mean / res.sampled))


@settings(max_examples=60, deadline=None)
@given(
    fidelity=st.floats(0.8, 0.9),
    seed=st.integers(0, 2**32 - 1),
    threshold=st.sampled_from([ph.QBER_THRESHOLD, 0.05, 0.2]),
)
def test_abort_exactly_above_the_threshold(fidelity: float, seed: int, threshold: float) -> None:
    res = distill(np.full(400, fidelity), rng=np.random.default_rng(seed), qber_threshold=threshold)
    assert res.aborted == (res.qber_estimate > threshold)
    if res.aborted:
        assert res.key_bits == res.leaked_ec_bits == res.pa_removed_bits == 0
    assert res.key_bits >= 0


def test_no_sample_means_no_certified_key() -> None:
    for fid in (np.zeros(0), np.ones(1)):
        res = distill(fid, rng=np.random.default_rng(1), sift=0.5)
        if res.sifted == 0:
            assert res.aborted
            assert res.key_bits == 0
            assert math.isnan(res.qber_estimate)
        else:  # one sifted bit: it is the sample, nothing is kept
            assert res.sampled == 1
            assert res.kept == 0
            assert res.key_bits == 0


def test_finite_size_margin_only_shrinks_the_key() -> None:
    fid = np.full(100_000, 0.97)
    plain = distill(fid, rng=np.random.default_rng(4))
    margin = distill(fid, rng=np.random.default_rng(4), pe_epsilon=1e-10)
    assert margin.qber_estimate == plain.qber_estimate
    assert margin.leaked_ec_bits == plain.leaked_ec_bits
    delta = math.sqrt(math.log(1e10) / (2 * plain.sampled))
    e_u = plain.qber_estimate + delta
    assert margin.pa_removed_bits == math.ceil(plain.kept * float(ph.binary_entropy(e_u)))
    assert margin.key_bits < plain.key_bits


def test_deterministic_given_the_seed() -> None:
    fid = np.full(5_000, 0.93)
    a = distill(fid, rng=np.random.default_rng(9))
    b = distill(fid, rng=np.random.default_rng(9))
    assert a == b
    assert isinstance(a, DistillResult)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fidelities": [0.9, 0.2]}, "fidelities = 0.2 (at [1]): must be in [0.25, 1]"),
        ({"fidelities": [1.5]}, "fidelities = 1.5 (at [0]): must be in [0.25, 1]"),
        ({"fidelities": [float("nan")]}, "fidelities = nan (at [0]): must be in [0.25, 1]"),
        (
            {"fidelities": [[0.9]]},
            "fidelities: shape (1, 1): must be one-dimensional (one per pair)",
        ),
        ({"fidelities": ["a"]}, "fidelities = ['a']: must be an array of numbers (one per pair)"),
        ({"sift": 0.0}, "sift = 0.0: must be in (0, 1]"),
        ({"sift": 1.2}, "sift = 1.2: must be in (0, 1]"),
        ({"sift": "half"}, "sift = 'half': must be a number"),
        ({"sample_fraction": 0.0}, "sample_fraction = 0.0: must be in (0, 1)"),
        ({"sample_fraction": 1.0}, "sample_fraction = 1.0: must be in (0, 1)"),
        (
            {"ec_efficiency": 0.9},
            "ec_efficiency = 0.9: must be >= 1 (no code beats the Shannon limit)",
        ),
        ({"ec_efficiency": float("inf")}, "ec_efficiency = inf: must be finite"),
        ({"qber_threshold": 0.6}, "qber_threshold = 0.6: must be in (0, 0.5]"),
        ({"pe_epsilon": 0.0}, "pe_epsilon = 0.0: must be in (0, 1)"),
    ],
)
def test_bad_inputs_name_the_rule(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"fidelities": [0.9], "rng": np.random.default_rng(0)} | kwargs
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        distill(**args)  # type: ignore[arg-type]


def test_rng_must_be_a_generator() -> None:
    with pytest.raises(TypeError, match=r"^rng: must be a numpy.random.Generator, got int$"):
        distill([0.9], rng=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^p_z = 2: must be in \[0, 1\]$"):
        sift_probability(2)


# ------------------------------------------------------------------ key pool
def test_pool_accounting_and_refusal() -> None:
    pool = KeyPool(3, rng=np.random.default_rng(0))
    pool.deposit([0, 1, 0], [10, 5, 7])
    assert pool.balance(0) == 17
    assert list(pool.balance(np.arange(3))) == [17, 5, 0]
    assert pool.withdraw(1, 6) is False  # all or nothing
    assert pool.balance(1) == 5
    assert list(pool.withdraw([0, 0, 2], [10, 10, 0])) == [True, False, True]
    assert list(pool.deposited) == [17, 5, 0]
    assert list(pool.spent) == [10, 0, 0]
    assert list(pool.refused) == [1, 1, 0]
    bits = pool.withdraw_bits(0, 7)
    assert bits is not None
    assert bits.dtype == np.uint8
    assert bits.shape == (7,)
    assert pool.withdraw_bits(0, 1) is None
    assert pool.balance(0) == 0


def test_pool_bits_are_fifo_and_shared() -> None:
    pool = KeyPool(1, rng=np.random.default_rng(0))
    pool.deposit_bits(0, [1, 0, 1])
    pool.deposit_bits(0, [1, 1])
    first = pool.withdraw_bits(0, 2)
    rest = pool.withdraw_bits(0, 3)
    assert first is not None
    assert rest is not None
    assert first.tolist() == [1, 0]
    assert rest.tolist() == [1, 1, 1]


def test_deposited_key_is_uniform_bits() -> None:
    pool = KeyPool(1, rng=np.random.default_rng(2))
    pool.deposit(0, 100_000)
    bits = pool.withdraw_bits(0, 100_000)
    assert bits is not None
    assert set(np.unique(bits).tolist()) == {0, 1}
    assert bits.mean() == pytest.approx(0.5, abs=5 * 0.5 / math.sqrt(100_000))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.deposit(0, -3), "bits = -3: must be >= 0"),
        (lambda p: p.withdraw([0, 1], [1, -1]), "bits = -1: must be >= 0"),
        (lambda p: p.withdraw_bits(0, -2), "bits = -2: must be >= 0"),
        (lambda p: p.deposit(2, 1), "node = 2: unknown node id (the pool has nodes 0..1)"),
        (lambda p: p.balance(-1), "node = -1: unknown node id (the pool has nodes 0..1)"),
        (lambda p: p.deposit(0, 2.0), "bits = 2.0: must be an integer or an array of integers"),
        (
            lambda p: p.deposit_bits(0, [0, 2]),
            "bits: must be a one-dimensional array of 0/1 values",
        ),
    ],
)
def test_pool_bad_inputs(call: object, message: str) -> None:
    pool = KeyPool(2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call(pool)  # type: ignore[operator]
    assert list(pool.deposited) == [0, 0]


def test_pool_needs_nodes() -> None:
    with pytest.raises(ValueError, match=r"^n_nodes = 0: must be an integer >= 1$"):
        KeyPool(0, rng=np.random.default_rng(0))


OPS = st.lists(
    st.tuples(
        st.sampled_from(["deposit", "withdraw", "bits"]), st.integers(0, 3), st.integers(0, 50)
    ),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(ops=OPS)
def test_pool_never_negative_and_conserves(ops: list[tuple[str, int, int]]) -> None:
    pool = KeyPool(4, rng=np.random.default_rng(0))
    model = np.zeros(4, dtype=np.int64)
    refused = np.zeros(4, dtype=np.int64)
    for op, node, n in ops:
        if op == "deposit":
            pool.deposit(node, n)
            model[node] += n
            continue
        ok = pool.withdraw(node, n) if op == "withdraw" else pool.withdraw_bits(node, n) is not None
        assert ok == (n <= model[node])
        if ok:
            model[node] -= n
        else:
            refused[node] += 1
        assert np.all(pool.balance(np.arange(4)) >= 0)
    assert np.array_equal(pool.balance(np.arange(4)), model)
    assert np.array_equal(pool.deposited - pool.spent, model)
    assert np.array_equal(pool.refused, refused)
    # The stored key material matches the balance bit for bit.
    for node in range(4):
        left = pool.withdraw_bits(node, int(model[node]))
        assert left is not None
        assert left.size == model[node]
