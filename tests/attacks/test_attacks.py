"""Attacks: a contract suite over every registry entry, closed forms (ALIE, IPM,
Min-Max/Min-Sum), statistics, identity/protocol helpers, and exact error messages."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.attacks import (
    ALIE,
    ATTACKS,
    DATA_ATTACKS,
    IPM,
    Gaussian,
    Mimic,
    MinMax,
    MinSum,
    alie_z,
    get,
    hog_demand,
    inflate_qfi,
    intercept_resend_qber,
    label_flip,
    sybil_identities,
    tamper,
)
from qceas.registry import UnknownNameError

NAMES = ATTACKS.names()


def honest_matrix(seed: int, h: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(h, d)) * rng.uniform(0.1, 3.0, size=d) + rng.normal(size=d)


# ------------------------------------------------------------------ contract suite
def test_registry_lists_the_seven_update_attacks() -> None:
    expected = ["alie", "ipm", "min_max", "min_sum", "sign_flip", "gaussian", "mimic"]
    assert set(NAMES) == set(expected)
    assert "label_flip" not in ATTACKS
    assert DATA_ATTACKS.names() == ["label_flip"]


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(2, 7),
    d=st.integers(1, 6),
    f=st.integers(1, 4),
)
def test_contract(name: str, seed: int, h: int, d: int, f: int) -> None:
    f = min(f, h)  # ALIE's z is defined for f <= h (a Byzantine minority or tie)
    honest = honest_matrix(seed, h, d)
    before = honest.copy()
    atk = ATTACKS.get(name)
    assert isinstance(atk.omniscient, bool)

    out = atk(honest, f=f, rng=np.random.default_rng(seed))
    again = atk(honest, f=f, rng=np.random.default_rng(seed))

    assert out.shape == (f, d)
    assert out.dtype == np.float64
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(honest, before)  # inputs never modified
    assert not np.shares_memory(out, honest)
    np.testing.assert_array_equal(out, again)  # deterministic given rng
    out[...] = 0.0  # a fresh, writable array
    if not atk.omniscient:  # reads only the dimension
        other = atk(honest + 1.0, f=f, rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(other, again)


@pytest.mark.parametrize("name", NAMES)
def test_get_alias_and_list_input(name: str) -> None:
    honest = honest_matrix(0, 4, 3)
    a = get(name)(honest.tolist(), f=2, rng=np.random.default_rng(1))
    b = ATTACKS.get(name)(honest, f=2, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_omniscience_flags() -> None:
    flags = {name: ATTACKS.get(name).omniscient for name in NAMES}
    assert flags == {
        "alie": True,
        "gaussian": False,
        "ipm": True,
        "mimic": True,
        "min_max": True,
        "min_sum": True,
        "sign_flip": True,
    }


# ------------------------------------------------------------------ closed forms
HAND = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])  # μ = (3, 4), σ(ddof=1) = (2, √12)


def test_alie_closed_form() -> None:
    # h = 3, f = 2: n = 5, s = ⌊3.5⌋ − 2 = 1, z = Φ⁻¹((5 − 2 − 1)/3) = Φ⁻¹(2/3)
    z = 0.43072729929545744
    assert alie_z(5, 2) == pytest.approx(z, abs=1e-15)
    out = ATTACKS.get("alie")(HAND, f=2)
    expected = np.array([3.0 - 2.0 * z, 4.0 - math.sqrt(12.0) * z])
    np.testing.assert_allclose(out, np.tile(expected, (2, 1)), rtol=0, atol=1e-14)
    assert np.all(out < HAND.mean(axis=0))  # μ − z·σ with z > 0 lies below the mean


def test_alie_sign_with_negative_z() -> None:
    # h = 3, f = 1: n = 4, s = 3 − 1 = 2, z = Φ⁻¹(1/3) < 0: the vector lies above μ
    z = alie_z(4, 1)
    assert z == pytest.approx(-0.43072729929545744, abs=1e-15)
    out = ALIE()(HAND, f=1)
    np.testing.assert_allclose(out[0], [3.0 - 2.0 * z, 4.0 - math.sqrt(12.0) * z], atol=1e-14)
    assert np.all(out > HAND.mean(axis=0))


def test_alie_z_override() -> None:
    out = ATTACKS.get("alie", z=1.5)(HAND, f=3)
    np.testing.assert_allclose(out, np.tile([0.0, 4.0 - 1.5 * math.sqrt(12.0)], (3, 1)))


def test_alie_z_undefined() -> None:
    msg = (
        "alie: s = floor(n/2 + 1) - f = -1 for n = 7, f = 5 makes "
        "(n - f - s)/(n - f) = 3/2, outside (0, 1); pass z explicitly"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        ALIE()(HAND[:2], f=5)
    assert ALIE(z=1.0)(HAND[:2], f=5).shape == (5, 2)


@pytest.mark.parametrize("epsilon", [0.1, 100.0, 2.5])
def test_ipm_is_minus_epsilon_mean(epsilon: float) -> None:
    out = ATTACKS.get("ipm", epsilon=epsilon)(HAND, f=4)
    np.testing.assert_allclose(out, np.tile(-epsilon * np.array([3.0, 4.0]), (4, 1)))
    assert IPM().epsilon == 0.1


def test_sign_flip() -> None:
    np.testing.assert_allclose(ATTACKS.get("sign_flip")(HAND, f=1), [[-3.0, -4.0]])
    np.testing.assert_allclose(ATTACKS.get("sign_flip", scale=2.0)(HAND, f=1), [[-6.0, -8.0]])


def _max_sq(v: np.ndarray, x: np.ndarray) -> float:
    return float(np.max(np.sum((x - v) ** 2, axis=1)))


def _sum_sq(v: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((x - v) ** 2))


def _constraint(kind: str, gamma: float, p: np.ndarray, x: np.ndarray) -> bool:
    """Shejwalkar & Houmansadr eq. 7 / eq. 8, written out independently."""
    v = x.mean(axis=0) + gamma * p
    pair = np.array([[np.sum((a - b) ** 2) for b in x] for a in x])
    if kind == "min_max":
        return _max_sq(v, x) <= pair.max() * (1 + 1e-12)
    return _sum_sq(v, x) <= pair.sum(axis=1).max() * (1 + 1e-12)


def _closed_form_gamma(kind: str, p: np.ndarray, x: np.ndarray) -> float:
    mu = x.mean(axis=0)
    pair = np.array([[np.sum((a - b) ** 2) for b in x] for a in x])
    a = float(p @ p)
    if kind == "min_sum":
        c = pair.sum(axis=1).max() - _sum_sq(mu, x)
        return math.sqrt(c / (x.shape[0] * a))
    roots = []
    for xi in x:  # ‖μ − x_i‖² + 2γ p·(μ − x_i) + γ²‖p‖² = max pair distance
        b = 2.0 * float(p @ (mu - xi))
        c = float(np.sum((mu - xi) ** 2)) - pair.max()
        roots.append((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a))
    return min(roots)


def _direction(kind: str, x: np.ndarray) -> np.ndarray:
    mu = x.mean(axis=0)
    return {
        "std": -x.std(axis=0, ddof=1),
        "unit_vec": -mu / np.linalg.norm(mu),
        "sign": -np.sign(mu),
    }[kind]


@pytest.mark.parametrize("kind", ["min_max", "min_sum"])
@pytest.mark.parametrize("direction", ["std", "unit_vec", "sign"])
@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    h=st.integers(2, 8),
    d=st.integers(1, 6),
    gamma_init=st.sampled_from([0.01, 1.0, 10.0]),
)
def test_min_max_min_sum_gamma_is_maximal(
    kind: str, direction: str, seed: int, h: int, d: int, gamma_init: float
) -> None:
    x = honest_matrix(seed, h, d)
    tol = 1e-5
    atk = ATTACKS.get(kind, direction=direction, gamma_init=gamma_init, tol=tol)
    out = atk(x, f=3)
    p = _direction(direction, x)
    gamma = atk.gamma(x)
    np.testing.assert_array_equal(out, np.tile(x.mean(axis=0) + gamma * p, (3, 1)))
    assert _constraint(kind, gamma, p, x)
    assert not _constraint(kind, gamma + 2 * tol, p, x)  # slightly larger violates it
    assert gamma == pytest.approx(_closed_form_gamma(kind, p, x), abs=tol)


def test_min_max_default_is_std_direction() -> None:
    assert MinMax().direction == "std"
    assert MinSum().direction == "std"
    x = honest_matrix(3, 5, 4)
    np.testing.assert_array_equal(ATTACKS.get("min_max")(x, f=1), MinMax(direction="std")(x, f=1))


def test_min_max_zero_direction_returns_mean() -> None:
    x = np.tile([1.0, -2.0], (4, 1))
    np.testing.assert_array_equal(ATTACKS.get("min_max")(x, f=2), x[:2])
    np.testing.assert_array_equal(ATTACKS.get("min_sum")(x, f=2), x[:2])


# ------------------------------------------------------------------ gaussian, mimic
def test_gaussian_statistics() -> None:
    honest = np.zeros((3, 50))
    out = Gaussian(std=0.5, mean=1.0)(honest, f=2000, rng=np.random.default_rng(7))
    assert abs(out.mean() - 1.0) < 0.01
    assert abs(out.std() - 0.5) < 0.01
    assert not np.array_equal(out[0], out[1])  # attackers draw independently


def test_gaussian_needs_rng() -> None:
    msg = "gaussian needs an explicit rng (a numpy.random.Generator)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        ATTACKS.get("gaussian")(HAND, f=1)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), h=st.integers(1, 7), d=st.integers(1, 5))
def test_mimic_copies_an_honest_row(seed: int, h: int, d: int) -> None:
    x = honest_matrix(seed, h, d)
    out = ATTACKS.get("mimic")(x, f=3)
    assert any(np.array_equal(out[0], row) for row in x)
    assert np.all(out == out[0])


def test_mimic_picks_the_outlier_along_the_top_direction() -> None:
    x = np.array([[0.0, 0.0], [0.1, 0.05], [-0.1, 0.0], [5.0, 0.1], [0.0, -0.05]])
    np.testing.assert_array_equal(Mimic()(x, f=2), x[[3, 3]])
    np.testing.assert_array_equal(Mimic(target=1)(x, f=1), x[[1]])
    msg = "mimic target = 5: must be < the number of honest updates (5)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        Mimic(target=5)(x, f=1)


# ------------------------------------------------------------------ label flip
def test_label_flip() -> None:
    labels = np.array([0, 1, 2, 3, 3])
    np.testing.assert_array_equal(label_flip(labels, 4), [3, 2, 1, 0, 0])
    np.testing.assert_array_equal(labels, [0, 1, 2, 3, 3])
    np.testing.assert_array_equal(DATA_ATTACKS.get("label_flip")([0, 1], 2), [1, 0])
    with pytest.raises(ValueError, match=re.escape("label_flip labels must lie in [0, 3) (got 3)")):
        label_flip([0, 3], 3)
    with pytest.raises(ValueError, match=re.escape("n_classes = 1: must be an integer >= 2")):
        label_flip([0], 1)
    with pytest.raises(ValueError, match=re.escape("labels must be integers (got dtype float64)")):
        label_flip([0.5], 2)


@given(st.integers(2, 20).flatmap(lambda c: st.tuples(st.just(c), st.lists(st.integers(0, c - 1)))))
def test_label_flip_is_an_involution(case: tuple[int, list[int]]) -> None:
    c, labels = case
    np.testing.assert_array_equal(label_flip(label_flip(labels, c), c), labels)


# ------------------------------------------------------------------ bad inputs
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("f", "msg"),
    [(0, "f = 0: must be an integer >= 1"), (2.5, "f = 2.5: must be an integer >= 1")],
)
def test_bad_f(name: str, f: object, msg: str) -> None:
    with pytest.raises(ValueError, match=re.escape(msg)):
        ATTACKS.get(name)(HAND, f=f, rng=np.random.default_rng(0))


@pytest.mark.parametrize(
    ("name", "honest", "msg"),
    [
        ("alie", HAND[:1], "alie needs at least 2 honest updates to estimate sigma (got 1)"),
        (
            "min_max",
            HAND[:1],
            "min_max needs at least 2 honest updates to bound the honest distances (got 1)",
        ),
        (
            "min_sum",
            HAND[:1],
            "min_sum needs at least 2 honest updates to bound the honest distances (got 1)",
        ),
        ("ipm", np.zeros((0, 2)), "ipm needs at least 1 honest update (got 0)"),
        ("ipm", np.zeros(3), "ipm: honest must be a 2-D array (h, d) (got shape (3,))"),
        ("alie", np.zeros((3, 0)), "alie: honest must have at least one coordinate"),
        ("ipm", [[1.0, np.nan]], "ipm: honest must be finite (got nan at [0, 1])"),
        ("mimic", [["a"]], "mimic: honest must be an (h, d) array of numbers"),
    ],
)
def test_bad_honest(name: str, honest: object, msg: str) -> None:
    with pytest.raises(ValueError, match=re.escape(msg)):
        ATTACKS.get(name)(honest, f=1)


@pytest.mark.parametrize(
    ("name", "params", "msg"),
    [
        ("ipm", {"epsilon": 0.0}, "ipm epsilon = 0.0: must be > 0"),
        ("alie", {"z": math.inf}, "alie z = inf: must be a finite number"),
        (
            "min_max",
            {"direction": "up"},
            "min_max direction = 'up': must be one of 'std', 'unit_vec', 'sign'",
        ),
        ("min_sum", {"tol": -1.0}, "min_sum tol = -1.0: must be > 0"),
        ("gaussian", {"std": -1.0}, "gaussian std = -1.0: must be >= 0"),
        ("mimic", {"target": -1}, "mimic target = -1: must be an integer >= 0 or None"),
        ("sign_flip", {"scale": 0.0}, "sign_flip scale = 0.0: must be > 0"),
    ],
)
def test_bad_params(name: str, params: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=re.escape(msg)):
        ATTACKS.get(name, **params)


def test_unknown_name() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown attack 'nope' \(known: alie, gaussian"):
        ATTACKS.get("nope")


# ------------------------------------------------------------------ identity attacks
def test_inflate_qfi() -> None:
    claims = np.array([1.0, 3.0, 2.0, 0.5])
    mask = np.array([False, False, True, True])
    out = inflate_qfi(claims, mask, 2.0)
    np.testing.assert_array_equal(out, [1.0, 3.0, 6.0, 6.0])
    np.testing.assert_array_equal(claims, [1.0, 3.0, 2.0, 0.5])
    msg = "inflate_qfi needs at least one honest node to outbid (mask is all True)"
    with pytest.raises(ValueError, match=re.escape(msg)):
        inflate_qfi(claims, np.ones(4, dtype=bool), 2.0)
    with pytest.raises(ValueError, match=re.escape("inflate_qfi factor = 0.5: must be")):
        inflate_qfi(claims, mask, 0.5)
    with pytest.raises(ValueError, match=re.escape("claimed_scalars = -1: must be finite")):
        inflate_qfi([-1.0, 1.0], [True, False], 2.0)
    with pytest.raises(ValueError, match=re.escape("byzantine_mask has shape (2,), expected")):
        inflate_qfi(claims, [True, False], 2.0)


@settings(max_examples=40, deadline=None)
@given(
    claims=st.lists(st.floats(0.0, 1e6), min_size=2, max_size=10),
    data=st.data(),
    factor=st.floats(1.0, 100.0),
)
def test_inflation_dominates_honest_claims(
    claims: list[float], data: st.DataObject, factor: float
) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(claims), max_size=len(claims))))
    mask[0] = False  # at least one honest node
    out = inflate_qfi(claims, mask, factor)
    honest = np.asarray(claims)[~mask]
    np.testing.assert_array_equal(out[~mask], honest)
    assert np.all(out[mask] >= honest.max())


def test_sybil_identities() -> None:
    s = sybil_identities(5, 3)
    np.testing.assert_array_equal(s.ids, [5, 6, 7])
    assert s.has_key.dtype == np.bool_
    assert not s.has_key.any()
    assert not s.ids.flags.writeable
    assert sybil_identities(4, 0).ids.shape == (0,)
    with pytest.raises(ValueError, match=re.escape("n_sybil = -1: must be an integer >= 0")):
        sybil_identities(4, -1)


def _bit_difference(a: bytes, b: bytes) -> int:
    return sum(bin(x ^ y).count("1") for x, y in zip(a, b, strict=True))


@settings(max_examples=30, deadline=None)
@given(payload=st.binary(min_size=1, max_size=40), seed=st.integers(0, 2**32 - 1))
def test_tamper_flips_exactly_one_bit(payload: bytes, seed: int) -> None:
    out = tamper(payload, np.random.default_rng(seed))
    assert isinstance(out, bytes)
    assert _bit_difference(payload, out) == 1
    assert out == tamper(payload, rng=np.random.default_rng(seed), mode="bit")


def test_tamper_arrays() -> None:
    update = np.linspace(-1.0, 1.0, 7)
    before = update.copy()
    flipped = tamper(update, np.random.default_rng(3))
    assert flipped.dtype == update.dtype
    assert flipped.shape == update.shape
    assert _bit_difference(update.tobytes(), flipped.tobytes()) == 1
    np.testing.assert_array_equal(update, before)

    bits = np.array([True, False, True, True])
    out_bits = tamper(bits, np.random.default_rng(0))
    assert np.sum(out_bits != bits) == 1

    big = np.zeros(20_000)
    noisy = tamper(big, np.random.default_rng(1), mode="noise", scale=0.3)
    assert abs(noisy.std() - 0.3) < 0.01
    assert abs(noisy.mean()) < 0.01
    assert not big.any()


@pytest.mark.parametrize(
    ("payload", "kwargs", "msg"),
    [
        (b"ab", {"mode": "noise"}, "tamper mode 'noise' needs a numeric array payload (got bytes)"),
        (b"ab", {"mode": "swap"}, "tamper mode = 'swap': must be 'bit' or 'noise'"),
        (b"", {}, "tamper: cannot flip a bit of an empty payload"),
        ([1, 2], {}, "tamper payload must be bytes or a numpy array (got list)"),
        (np.zeros(2), {"mode": "noise", "scale": 0.0}, "tamper scale = 0.0: must be a finite"),
    ],
)
def test_tamper_bad_inputs(payload: object, kwargs: dict[str, object], msg: str) -> None:
    with pytest.raises(ValueError, match=re.escape(msg)):
        tamper(payload, np.random.default_rng(0), **kwargs)


def test_intercept_resend_qber_values() -> None:
    assert intercept_resend_qber(0.0, 1.0) == 0.25
    assert intercept_resend_qber(0.03, 0.0) == 0.03
    assert intercept_resend_qber(0.5, 0.7) == 0.5
    np.testing.assert_allclose(
        intercept_resend_qber(np.array([0.0, 0.1]), 0.5), [0.125, 0.1 + 0.125 * 0.8]
    )
    with pytest.raises(ValueError, match=re.escape("fraction = 1.5: must be finite and in [0, 1]")):
        intercept_resend_qber(0.0, 1.5)


@given(e=st.floats(0.0, 0.49), q1=st.floats(0.0, 1.0), q2=st.floats(0.0, 1.0))
def test_intercept_resend_qber_monotone_in_fraction(e: float, q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert intercept_resend_qber(e, lo) <= intercept_resend_qber(e, hi)
    assert e <= intercept_resend_qber(e, lo) <= 0.5


@pytest.mark.parametrize(("e", "q"), [(0.0, 1.0), (0.05, 0.4), (0.1, 0.8)])
def test_intercept_resend_qber_monte_carlo(e: float, q: float) -> None:
    """Simulate sifted BB84 bits: channel flip, then Eve measuring in a random basis."""
    rng = np.random.default_rng(11)
    m = 400_000
    bit = rng.integers(0, 2, m)
    received = bit ^ (rng.random(m) < e)
    intercepted = rng.random(m) < q
    wrong_basis = rng.random(m) < 0.5
    randomised = intercepted & wrong_basis
    bob = np.where(randomised, rng.integers(0, 2, m), received)
    assert np.mean(bob != bit) == pytest.approx(intercept_resend_qber(e, q), abs=3e-3)


def test_hog_demand() -> None:
    demand = np.array([2.0, 3.0, 4.0])
    out = hog_demand(demand, np.array([False, True, False]), 3.0)
    np.testing.assert_array_equal(out, [2.0, 9.0, 4.0])
    np.testing.assert_array_equal(demand, [2.0, 3.0, 4.0])
    with pytest.raises(ValueError, match=re.escape("byzantine_mask must be a boolean array")):
        hog_demand(demand, [0, 1, 0], 3.0)
    with pytest.raises(ValueError, match=re.escape("hog_demand factor = 0.5: must be")):
        hog_demand(demand, np.array([False, True, False]), 0.5)


# ------------------------------------------------------------------ ByzFL oracle
def test_byzfl_oracle() -> None:
    """ALIE and IPM against ByzFL, under explicit conventions.

    ByzFL's ALittleIsEnough(τ) sends μ + τ·σ (σ with ddof=1 in some releases, 1/n in
    others): ours with z = −τ·c, c = 1 or √((h−1)/h). IPM: ByzFL's
    InnerProductManipulation(τ) is −τ·μ (ε = τ); the older FallOfEmpires(τ) is
    (1 − τ)·μ (ε = τ − 1).
    """
    byzfl = pytest.importorskip("byzfl")
    x = honest_matrix(5, 6, 4)
    h, tau = x.shape[0], 1.5
    ref = np.asarray(byzfl.ALittleIsEnough(tau)(x.copy()), dtype=float)
    ours = [ALIE(z=-tau * c)(x, f=1)[0] for c in (1.0, math.sqrt((h - 1) / h))]
    assert any(np.allclose(o, ref, rtol=1e-12, atol=1e-12) for o in ours)
    if hasattr(byzfl, "InnerProductManipulation"):
        ref_ipm, eps = byzfl.InnerProductManipulation(tau)(x.copy()), tau
    else:
        ref_ipm, eps = byzfl.FallOfEmpires(tau)(x.copy()), tau - 1.0
    np.testing.assert_allclose(IPM(epsilon=eps)(x, f=1)[0], ref_ipm, rtol=1e-12, atol=1e-12)


def test_inflate_qfi_outbids_a_given_honest_set_and_skips_missing_claims() -> None:
    claims = np.array([1.0, np.nan, 4.0, 0.5, 0.0])
    byz = np.array([False, False, False, True, True])
    answered = np.array([True, True, False, False, False])  # node 2 crashed
    out = inflate_qfi(claims, byz, 3.0, honest=answered)
    np.testing.assert_array_equal(out[:3], claims[:3])  # NaN stays NaN (no claim)
    np.testing.assert_array_equal(out[3:], [3.0, 3.0])  # 3 × max(1.0), NaN skipped
    nobody = inflate_qfi(claims, byz, 3.0, honest=np.zeros(5, dtype=bool))
    np.testing.assert_array_equal(nobody[3:], [0.0, 0.0])  # nothing to outbid
    sybils = inflate_qfi(claims, np.array([False] * 4 + [True]), 1.0, honest=answered)
    assert sybils[4] == 1.0  # a Sybil claims as much as the best honest node
    with pytest.raises(ValueError, match=re.escape("inflate_qfi: honest must be a boolean")):
        inflate_qfi(claims, byz, 2.0, honest=[1, 0, 0, 0, 0])
    with pytest.raises(ValueError, match=re.escape("claimed_scalars = inf: must be finite")):
        inflate_qfi([np.inf, 1.0], [True, False], 2.0)
