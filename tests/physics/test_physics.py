"""Physics formulas against closed forms, density-matrix simulations of the protocols,
and properties (ARCHITECTURE §4)."""

from __future__ import annotations

import re
from functools import reduce

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas import physics as ph

# ------------------------------------------------------------------ helpers
KET = {
    "phi+": np.array([1, 0, 0, 1]) / np.sqrt(2),
    "psi-": np.array([0, 1, -1, 0]) / np.sqrt(2),
    "psi+": np.array([0, 1, 1, 0]) / np.sqrt(2),
    "phi-": np.array([1, 0, 0, -1]) / np.sqrt(2),
}
ORDER = ("phi+", "psi-", "psi+", "phi-")  # the coefficient order of dejmps
I2 = np.eye(2)
X = np.array([[0, 1], [1, 0]], dtype=complex)
CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)


def bell_diagonal_state(c: np.ndarray) -> np.ndarray:
    return sum(ci * np.outer(KET[k], KET[k]) for ci, k in zip(c, ORDER, strict=True))


def coefficients(rho: np.ndarray) -> np.ndarray:
    return np.array([np.real(KET[k] @ rho @ KET[k]) for k in ORDER])


def op_on(n: int, ops: dict[int, np.ndarray]) -> np.ndarray:
    return reduce(np.kron, [ops.get(q, I2) for q in range(n)])


def two_qubit_on(n: int, gate: np.ndarray, a: int, b: int) -> np.ndarray:
    """A 2-qubit gate on qubits (a, b) of n, by permuting a basis (a < b not required)."""
    d = 1 << n
    out = np.zeros((d, d), dtype=complex)
    for col in range(d):
        bits = [(col >> (n - 1 - q)) & 1 for q in range(n)]
        sub = 2 * bits[a] + bits[b]
        for new_sub in range(4):
            amp = gate[new_sub, sub]
            if amp == 0:
                continue
            nb = list(bits)
            nb[a], nb[b] = new_sub >> 1, new_sub & 1
            row = sum(bit << (n - 1 - q) for q, bit in enumerate(nb))
            out[row, col] += amp
    return out


def rx(theta: float) -> np.ndarray:
    return np.cos(theta / 2) * I2 - 1j * np.sin(theta / 2) * X


def purify(c1: np.ndarray, c2: np.ndarray, *, dejmps: bool) -> tuple[float, np.ndarray]:
    """Simulate the protocol on qubits (A1, B1, A2, B2); return (p, coefficients)."""
    rho = np.kron(bell_diagonal_state(c1), bell_diagonal_state(c2))
    n = 4
    if dejmps:
        u = op_on(n, {0: rx(np.pi / 2), 2: rx(np.pi / 2), 1: rx(-np.pi / 2), 3: rx(-np.pi / 2)})
        rho = u @ rho @ u.conj().T
    cnots = two_qubit_on(n, CNOT, 0, 2) @ two_qubit_on(n, CNOT, 1, 3)
    rho = cnots @ rho @ cnots.conj().T
    kept = np.zeros((4, 4), dtype=complex)
    r = rho.reshape(2, 2, 2, 2, 2, 2, 2, 2)  # (A1,B1,A2,B2) x (A1,B1,A2,B2)
    for m in (0, 1):  # both ends read the same bit
        kept += r[:, :, m, m, :, :, m, m].reshape(4, 4)
    p = float(np.real(np.trace(kept)))
    return p, coefficients(kept / p)


def random_bell_diagonal(rng: np.random.Generator) -> np.ndarray:
    return rng.dirichlet(np.ones(4))


# ------------------------------------------------------------ closed forms
def test_worked_bbpssw_check() -> None:
    p, f = ph.bbpssw(0.85, 0.85)
    assert p == pytest.approx(0.82, abs=1e-12)
    assert f == pytest.approx(0.88415, abs=5e-6)


def test_decay_closed_form_and_rates() -> None:
    assert ph.decay(0.9, 0.0, 0.1) == pytest.approx(0.9)
    assert ph.decay(0.9, 0.05, 0.1) == pytest.approx(0.25 + 0.65 * np.exp(-1.0))
    assert ph.decay(0.9, 0.05, 0.1, 0.2) == pytest.approx(0.25 + 0.65 * np.exp(-0.75))
    assert ph.decay(1.0, 1e9, 1.0) == pytest.approx(0.25)
    t = np.array([0.0, 0.01, 0.1])
    np.testing.assert_allclose(ph.decay(0.95, t, 0.05), 0.25 + 0.7 * np.exp(-2 * t / 0.05))


def test_swap_and_chain() -> None:
    assert ph.swap(0.9, 0.8) == pytest.approx(0.9 * 0.8 + 0.1 * 0.2 / 3)
    fs = np.array([0.95, 0.9, 0.85, 0.99])
    w = (4 * fs - 1) / 3
    assert ph.swap_chain(fs) == pytest.approx(0.25 + 0.75 * np.prod(w))
    chained = reduce(ph.swap, fs)
    assert ph.swap_chain(fs) == pytest.approx(chained)


def test_qber_and_secret_fraction() -> None:
    assert ph.qber(1.0) == 0.0
    assert ph.qber(0.85) == pytest.approx(0.1)
    assert ph.secret_fraction(0.0) == 1.0
    assert ph.secret_fraction(0.05) == pytest.approx(1 - 2 * ph.binary_entropy(0.05))
    assert ph.secret_fraction(ph.QBER_THRESHOLD) == 0.0
    assert ph.secret_fraction(0.2) == 0.0
    assert ph.binary_entropy(0.5) == pytest.approx(1.0)
    # The threshold is the root of 1 - 2 h2(e).
    assert 1 - 2 * ph.binary_entropy(ph.QBER_THRESHOLD) == pytest.approx(0.0, abs=1e-12)


def _bits(x: object) -> bytes:
    return np.asarray(x, dtype=np.float64).tobytes()


def test_unchecked_kernels_give_the_bits_of_the_checked_functions() -> None:
    """The ``*_unchecked`` kernels the network simulator calls every slot."""
    f = np.concatenate([np.linspace(0.25, 1.0, 20001), [0.25, 1.0, 0.835, 0.8349, 0.8351]])
    w = np.linspace(0.0, 1.0, 20001)
    t = ph.QBER_THRESHOLD
    e = np.concatenate([np.linspace(0.0, 1.0, 20001), [t, np.nextafter(t, 0), np.nextafter(t, 1)]])
    assert _bits(ph.secret_fraction_unchecked(e)) == _bits(ph.secret_fraction(e))
    assert _bits(ph.qber_unchecked(f)) == _bits(ph.qber(f))
    assert _bits(ph.werner_parameter_unchecked(f)) == _bits(ph.werner_parameter(f))
    assert _bits(ph.fidelity_from_werner_unchecked(w)) == _bits(ph.fidelity_from_werner(w))
    # The order of operations the simulator always wrote out (F = 1/4 + 3/4·w is not
    # the bits of (3w + 1)/4).
    assert _bits(ph.fidelity_from_werner_unchecked(w)) == _bits(0.25 + 0.75 * w)
    assert _bits(ph.werner_parameter_unchecked(f)) == _bits((4.0 * f - 1.0) / 3.0)
    # NaN marks an empty memory slot: it passes through where the checked ones refuse.
    assert np.isnan(ph.fidelity_from_werner_unchecked(np.array([np.nan, 0.5]))[0])


@given(st.floats(0.0, 1.0))
def test_unchecked_secret_fraction_is_the_checked_one(e: float) -> None:
    assert _bits(ph.secret_fraction_unchecked(e)) == _bits(ph.secret_fraction(e))
    assert _bits(ph.secret_fraction_unchecked(ph.qber_unchecked(1.0 - 0.75 * e))) == _bits(
        ph.secret_fraction(ph.qber(1.0 - 0.75 * e))
    )


def test_links() -> None:
    assert ph.transmissivity(100.0) == pytest.approx(0.1)  # 0.2 dB/km x 50 km = 10 dB
    assert ph.success_probability(100.0, efficiency_a=0.8) == pytest.approx(0.5 * 0.64 * 0.01)
    assert ph.attempt_period(20.0) == pytest.approx(20e3 / 2e8)
    assert ph.attempt_period(0.1, minimum_s=1e-5) == pytest.approx(1e-5)
    assert ph.pair_rate(20.0, 1e-4) == pytest.approx(0.5 * 10 ** (-0.2 * 20 / 10) / 1e-4)


def test_vectorized_shapes_and_scalars() -> None:
    assert isinstance(ph.decay(0.9, 0.1, 1.0), float)
    out = ph.decay(np.full((3, 2), 0.9), np.linspace(0, 1, 2), 1.0)
    assert out.shape == (3, 2)
    p, c = ph.dejmps(np.tile(ph.werner_coefficients(0.8), (5, 1)), ph.werner_coefficients(0.9))
    assert c.shape == (5, 4)
    assert np.shape(p) == (5,)


# ----------------------------------------------------- protocol simulations
@pytest.mark.parametrize("seed", range(6))
def test_dejmps_equals_density_matrix_simulation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    c1, c2 = random_bell_diagonal(rng), random_bell_diagonal(rng)
    p_sim, c_sim = purify(c1, c2, dejmps=True)
    p, c = ph.dejmps(c1, c2)
    assert p == pytest.approx(p_sim, abs=1e-12)
    np.testing.assert_allclose(c, c_sim, atol=1e-12)


@pytest.mark.parametrize(("f1", "f2"), [(0.85, 0.85), (0.6, 0.95), (0.3, 0.7), (1.0, 0.5)])
def test_bbpssw_equals_density_matrix_simulation(f1: float, f2: float) -> None:
    p_sim, c_sim = purify(ph.werner_coefficients(f1), ph.werner_coefficients(f2), dejmps=False)
    p, f = ph.bbpssw(f1, f2)
    assert p == pytest.approx(p_sim, abs=1e-12)
    assert f == pytest.approx(c_sim[0], abs=1e-12)


def _werner(f: float) -> np.ndarray:
    return bell_diagonal_state(ph.werner_coefficients(f))


@pytest.mark.parametrize(("f1", "f2"), [(0.9, 0.8), (0.25, 0.99), (1.0, 1.0), (0.6, 0.7)])
def test_swap_equals_bell_measurement_simulation(f1: float, f2: float) -> None:
    # Qubits (A, B1, B2, C); pairs (A, B1) and (B2, C); project B1B2 on Φ+ (no correction).
    rho = np.kron(_werner(f1), _werner(f2))
    r = rho.reshape(2, 2, 2, 2, 2, 2, 2, 2)
    bell = KET["phi+"].reshape(2, 2)
    out = np.einsum("bc,abcdefgh,fg->adeh", bell.conj(), r, bell)
    out = out.reshape(4, 4)
    out /= np.trace(out)
    assert np.real(KET["phi+"] @ out @ KET["phi+"]) == pytest.approx(ph.swap(f1, f2), abs=1e-12)


@pytest.mark.parametrize("t_over_T", [0.0, 0.1, 0.7, 3.0])
def test_decay_equals_per_qubit_depolarizing(t_over_T: float) -> None:
    p = 1 - np.exp(-t_over_T)  # each qubit, NetSquid convention
    rho = _werner(0.93)
    for q in range(2):
        reduced = rho.reshape(2, 2, 2, 2)
        traced = np.einsum("abcb->ac", reduced) if q == 1 else np.einsum("abad->bd", reduced)
        mixed = np.kron(traced, I2 / 2) if q == 1 else np.kron(I2 / 2, traced)
        rho = (1 - p) * rho + p * mixed
    fid = np.real(KET["phi+"] @ rho @ KET["phi+"])
    assert fid == pytest.approx(ph.decay(0.93, t_over_T, 1.0), abs=1e-12)


# ---------------------------------------------------------------- properties
fids = st.floats(0.25, 1.0)


@settings(max_examples=200, deadline=None)
@given(f=fids, t1=st.floats(0, 10), dt=st.floats(0, 10), T=st.floats(1e-3, 10))
def test_fidelity_never_rises_in_storage(f: float, t1: float, dt: float, T: float) -> None:
    a, b = ph.decay(f, t1, T), ph.decay(f, t1 + dt, T)
    assert 0.25 <= b <= a + 1e-15 <= f + 1e-15


@settings(max_examples=200, deadline=None)
@given(f1=fids, f2=fids)
def test_swap_never_raises_fidelity(f1: float, f2: float) -> None:
    assert ph.swap(f1, f2) <= min(f1, f2) + 1e-15


@settings(max_examples=200, deadline=None)
@given(f1=fids, f2=fids)
def test_swap_stays_a_fidelity_the_checked_functions_accept(f1: float, f2: float) -> None:
    """Found by the SeQUeNCe oracle: swap(1/4, 0.295...) rounded to one ulp below 1/4,
    and werner_coefficients of it raised."""
    f = ph.swap(f1, f2)
    assert 0.25 <= f <= 1.0
    ph.werner_coefficients(f)
    assert ph.swap(0.25, 0.2950450165640828) == 0.25


@settings(max_examples=200, deadline=None)
@given(f=st.floats(0.5001, 0.9999))
def test_purification_raises_fidelity_above_one_half(f: float) -> None:
    assert ph.bbpssw(f, f)[1] > f
    assert ph.dejmps(ph.werner_coefficients(f), ph.werner_coefficients(f))[1][0] > f


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_dejmps_output_is_a_distribution(seed: int) -> None:
    rng = np.random.default_rng(seed)
    p, c = ph.dejmps(random_bell_diagonal(rng), random_bell_diagonal(rng))
    assert 0 < p <= 1
    assert c.sum() == pytest.approx(1.0)
    assert np.all(c >= 0)


# ----------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ph.decay(1.2, 0.1, 1.0), "fidelity = 1.2: must be in [0.25, 1]"),
        (lambda: ph.decay(0.2, 0.1, 1.0), "fidelity = 0.2: must be in [0.25, 1]"),
        (lambda: ph.decay(0.9, -1.0, 1.0), "elapsed = -1: must be >= 0"),
        (lambda: ph.decay(0.9, 1.0, 0.0), "coherence_time = 0: must be > 0"),
        (lambda: ph.decay([0.9, 1.5], 1.0, 1.0), "fidelity = 1.5 (at [1]): must be in [0.25, 1]"),
        (lambda: ph.swap(0.9, "x"), "f2 = 'x': must be a number or an array of numbers"),
        (lambda: ph.qber(float("nan")), "fidelity = nan: must be finite"),
        (lambda: ph.transmissivity(-3.0), "length_km = -3: must be >= 0"),
        (lambda: ph.attempt_period(0.0), "attempt_period = 0: must be > 0"),
        (lambda: ph.dejmps([0.5, 0.5, 0.5, 0.5], [1, 0, 0, 0]), "c1: coefficients sum to 2"),
        (lambda: ph.dejmps([1, 0, 0], [1, 0, 0, 0]), "the last axis must hold 4 coefficients"),
        (lambda: ph.secret_fraction(1.5), "qber = 1.5: must be in [0, 1]"),
    ],
)
def test_bad_input_is_named(call, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
