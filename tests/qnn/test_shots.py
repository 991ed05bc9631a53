"""Shot noise of qceas.qnn: sampled expectations and the nodes' loss/gradient estimates.

Statistical design. Every check compares a sample statistic of K independent draws with
its exact value and turns the difference into a z-score:

* a mean: ``z = (mean − μ) / √(σ²/K)``;
* a variance: ``z = (s² − σ²) / √((m₄ − s⁴)/K)`` (m₄ the sample fourth central moment;
  the large-K standard error of the sample variance).

A test fails when a mean has |z| ≥ 4.5 or a variance has |z| ≥ 5. Under the normal
approximation (K ≥ 4000 here) a mean check fails by chance with probability 6.8e-6 and a
variance check with 5.7e-7; the sample variance is skewed, so its z has slightly heavier
tails (measured over 3600 replicates of these tests: 0.4% beyond 3 instead of 0.27%, none
beyond 4.1), which the wider limit absorbs. A test runs at most ~40 checks, so its
false-failure probability is about 1e-4 (Bonferroni), and well below 1e-3 for the module.
The seeds are fixed, so the outcome is deterministic in practice. The tests keep their
power: estimating the shifted circuits with 2N instead of N shots gives |z| up to ~50.

What the exact values are. With finite shots a node estimates the expectations Ê from
N samples and the Jacobian Ĵ by the parameter-shift rule from two further independent
executions per parameter; its gradient is ``ĝ = Ĵᵀ·c(Ê)`` with c = dL/dE. Ĵ is unbiased
(the shift rule is exact), but c is nonlinear in Ê, so ĝ and the loss L(Ê) are *not*
unbiased for the exact gradient and loss: their bias is O(1/N). The tests therefore use
the exact distribution of Ê (a multinomial over the measured qubits' outcomes,
enumerated) for E[L(Ê)], E[c(Ê)] and E[c·cᵀ], and independence of Ĵ and Ê:

    E[ĝ_p] = J_pᵀ E[c],    E[ĝ_p²] = Σ_ab (J_p J_pᵀ + Cov Ĵ_p)_ab E[c cᵀ]_ab,
    Cov Ĵ_p = (Σ₊ + Σ₋) / (4N)   (Σ± the one-shot covariance of Z at θ ± π/2·e_p).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gammaln

from qceas.qnn import QNN, NoiseModel, propagate
from qceas.qnn.readout import flip_bits, sample_expectations

Z_MEAN_LIMIT = 4.5
Z_VAR_LIMIT = 5.0


def z_mean(samples: np.ndarray, mu: float, var: float) -> float:
    return float((samples.mean() - mu) / np.sqrt(var / samples.shape[0]))


def z_var(samples: np.ndarray, var: float) -> float:
    k = samples.shape[0]
    s2 = samples.var(ddof=1)
    m4 = np.mean((samples - samples.mean()) ** 4)
    return float((s2 - var) / np.sqrt((m4 - s2**2) / k))


def check(means: list[float], variances: list[float]) -> None:
    assert max(map(abs, means)) < Z_MEAN_LIMIT, ("mean z-scores", np.round(means, 2))
    assert max(map(abs, variances)) < Z_VAR_LIMIT, ("variance z-scores", np.round(variances, 2))


def z_table(n_bits: int) -> np.ndarray:
    """(2^m, m) ±1 table: entry [j, c] = 1 − 2·(bit c of j), bit 0 the most significant."""
    j = np.arange(1 << n_bits)
    return np.stack([1.0 - 2.0 * ((j >> (n_bits - 1 - c)) & 1) for c in range(n_bits)], axis=1)


# ---------------------------------------------------------------- sample_expectations
def test_sample_expectations_moments() -> None:
    """Ẑ is unbiased, Var Ẑ = (1 − ⟨Z⟩²)/N, Cov(Ẑ_a, Ẑ_b) = (⟨Z_aZ_b⟩ − ⟨Z_a⟩⟨Z_b⟩)/N."""
    rng = np.random.default_rng(41)
    n, rows = 3, 16000
    probs = rng.dirichlet(np.ones(1 << n))
    r = np.array([0.1, 0.0, 0.25])
    flipped = flip_bits(np.tile(probs, (rows, 1)), np.tile(r, (rows, 1)), n)
    z = z_table(n)
    np.testing.assert_allclose(flipped[0] @ z, (1 - 2 * r) * (probs @ z), atol=1e-15)
    # Two shot counts in one call: per-row shots.
    shots = np.where(np.arange(rows) % 2 == 0, 10, 1000).astype(np.int64)
    est = sample_expectations(flipped, z, shots, rng=rng)
    assert est.shape == (rows, n)
    mean = flipped[0] @ z
    second = (flipped[0][:, None, None] * z[:, :, None] * z[:, None, :]).sum(axis=0)
    cov1 = second - np.outer(mean, mean)  # one-shot covariance
    means: list[float] = []
    variances: list[float] = []
    for n_shots in (10, 1000):
        e = est[shots == n_shots]
        for a in range(n):
            var = cov1[a, a] / n_shots
            means.append(z_mean(e[:, a], mean[a], var))
            variances.append(z_var(e[:, a], var))
        for a, b in ((0, 1), (0, 2), (1, 2)):
            prod = (e[:, a] - mean[a]) * (e[:, b] - mean[b])
            means.append(z_mean(prod, cov1[a, b] / n_shots, prod.var(ddof=1)))
    check(means, variances)
    # Values live on the grid {-1, -1 + 2/N, ..., 1}.
    grid = est * shots[:, None]
    np.testing.assert_allclose(grid, np.round(grid), atol=1e-9)
    assert np.all(np.abs(est) <= 1)


# ------------------------------------------------------------------- exact oracle
def compositions(total: int, parts: int) -> np.ndarray:
    """All count vectors of ``parts`` non-negative integers summing to ``total``."""
    if parts == 1:
        return np.array([[total]])
    blocks = []
    for first in range(total + 1):
        rest = compositions(total - first, parts - 1)
        blocks.append(np.column_stack([np.full(rest.shape[0], first), rest]))
    return np.vstack(blocks)


def measured_distribution(model: QNN, params: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Outcome distribution of the measured qubits (wires 0..C-1), readout error included."""
    nm = model.noise
    dep = None if nm.is_pure else np.asarray(nm.depolarizing)[None]
    amp = None if nm.is_pure else np.asarray(nm.amplitude_damping)[None]
    prop = propagate(model.ansatz, params, x[None], dep, amp, tangents=False)
    probs = np.real(np.diagonal(prop.state[0])) if prop.mixed else np.abs(prop.state[0]) ** 2
    probs = flip_bits(probs[None], np.asarray(nm.readout_error)[None], model.n_qubits)[0]
    return probs.reshape(1 << len(model.measured_qubits), -1).sum(axis=1)


def loss_and_cot(model: QNN, e: np.ndarray, y: int) -> tuple[np.ndarray, np.ndarray]:
    """Cross-entropy and dL/dE for a batch of expectation vectors e (M, C), written out."""
    if model.readout == "binary":
        s = model.output_scale
        p1 = 1 / (1 + np.exp(s * e[:, 0]))  # P(1) = sigmoid(-s <Z0>)
        loss = -np.log(p1) if y == 1 else -np.log(1 - p1)
        return loss, (s * (y - p1))[:, None]
    logits = model.output_scale * e
    logits = logits - logits.max(axis=1, keepdims=True)
    soft = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    onehot = np.zeros(e.shape[1])
    onehot[y] = 1
    return -np.log(soft[:, y]), model.output_scale * (soft - onehot)


def predicted(model: QNN, e: np.ndarray) -> np.ndarray:
    if model.readout == "binary":
        return (e[:, 0] < 0).astype(int)
    return np.argmax(e, axis=1)


def exact_node_moments(model: QNN, params: np.ndarray, x: np.ndarray, y: int, shots: int) -> dict:
    """Exact mean/variance of one-row node estimates (loss, gradient, accuracy)."""
    n_meas = len(model.measured_qubits)
    z = z_table(n_meas)
    counts = compositions(shots, 1 << n_meas)
    dist = measured_distribution(model, params, x)
    log_pmf = gammaln(shots + 1) - gammaln(counts + 1).sum(axis=1)
    log_pmf = log_pmf + (counts * np.log(np.where(counts > 0, dist, 1.0))).sum(axis=1)
    pmf = np.exp(log_pmf)
    assert abs(pmf.sum() - 1) < 1e-10
    e_hat = counts @ z / shots
    loss, cot = loss_and_cot(model, e_hat, y)
    mu_c = pmf @ cot
    m2_c = np.einsum("m,ma,mb->ab", pmf, cot, cot)
    grad_mean, grad_var, jac = [], [], []
    for i in range(model.num_params):
        stats = []
        for sign in (1.0, -1.0):
            shifted = params.copy()
            shifted[i] += sign * np.pi / 2
            q = measured_distribution(model, shifted, x)
            m = q @ z
            stats.append((m, np.einsum("j,ja,jb->ab", q, z, z) - np.outer(m, m)))
        (m_plus, s_plus), (m_minus, s_minus) = stats
        j = (m_plus - m_minus) / 2
        cov_j = (s_plus + s_minus) / (4 * shots)
        mean = j @ mu_c
        grad_mean.append(mean)
        grad_var.append(np.sum((np.outer(j, j) + cov_j) * m2_c) - mean**2)
        jac.append(j)
    acc = pmf @ (predicted(model, e_hat) == y)
    return {
        "loss": (pmf @ loss, pmf @ loss**2 - (pmf @ loss) ** 2),
        "grad": (np.array(grad_mean), np.array(grad_var)),
        "acc": (acc, acc * (1 - acc)),
        "jac": np.array(jac).T,  # (C, P)
        "exact_e": dist @ z,
    }


NOISES = {
    "pure": {"readout_error": [0.05, 0.1]},
    "mixed": {
        "depolarizing": [0.05, 0.1],
        "amplitude_damping": [0.1, 0.05],
        "readout_error": [0.05, 0.1],
    },
}


@pytest.mark.parametrize("path", ["pure", "mixed"])
@pytest.mark.parametrize(
    ("readout", "shots", "seed"),
    # Binary readout needs enough shots that an all-equal sample (p̂ clipped to 1e-12,
    # a ~5e11 cotangent) has negligible probability: here < 1e-40, so the moments exist.
    [("binary", 400, 51), ("multiclass", 60, 52)],
)
def test_node_estimates_have_exact_mean_and_variance(
    path: str, readout: str, shots: int, seed: int
) -> None:
    nodes = 4000
    rng = np.random.default_rng(seed)
    noise = NoiseModel.build(2, shots=shots, **NOISES[path])
    model = QNN(2, 2, encoding="reupload", readout=readout, n_classes=2, noise=noise)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=2)
    y = 1
    moments = exact_node_moments(model, params, x, y, shots)
    # The oracle agrees with the model's exact quantities.
    np.testing.assert_allclose(moments["exact_e"], model.expectations(params, x)[0], atol=1e-12)
    np.testing.assert_allclose(moments["jac"], model.jacobian(params, x)[0], atol=1e-12)
    if readout == "binary":
        assert np.all(np.abs(moments["exact_e"]) < 0.5)  # keeps P(all shots equal) tiny

    res = model.evaluate_nodes(
        params, [(x[None], [y])] * nodes, [noise] * nodes, rng=np.random.default_rng(seed + 1)
    )
    assert res.gradient.shape == (nodes, model.num_params)
    # Accuracy is Bernoulli: its variance follows from its mean, so only the mean is tested.
    acc_mu, acc_var = moments["acc"]
    means = [z_mean(res.accuracy, acc_mu, max(acc_var, 1e-300))]
    variances = []
    for samples, (mu, var) in [
        (res.loss, moments["loss"]),
        *zip(res.gradient.T, zip(*moments["grad"], strict=True), strict=True),
    ]:
        means.append(z_mean(samples, mu, var))
        variances.append(z_var(samples, var))
    check(means, variances)
    # The estimates are really random (not the exact values in disguise).
    assert res.gradient.std(axis=0).min() > 0


@pytest.mark.parametrize("path", ["pure", "mixed"])
def test_shot_estimates_are_reproducible_and_mix_with_exact_nodes(path: str) -> None:
    rng = np.random.default_rng(53)
    model = QNN(3, 2, n_classes=3)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(4, 3))
    y = np.array([0, 1, 2, 1])
    sampled = NoiseModel.build(3, shots=100, **({} if path == "pure" else {"depolarizing": 0.1}))
    exact = NoiseModel.build(3, depolarizing=0.05)
    shards, noises = [(x, y), (x, y)], [sampled, exact]
    a = model.evaluate_nodes(params, shards, noises, rng=np.random.default_rng(1))
    b = model.evaluate_nodes(params, shards, noises, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.gradient, b.gradient)
    np.testing.assert_array_equal(a.loss, b.loss)
    c = model.evaluate_nodes(params, shards, noises, rng=np.random.default_rng(2))
    assert not np.array_equal(a.gradient[0], c.gradient[0])
    node = model.with_noise(exact)
    np.testing.assert_allclose(a.gradient[1], node.gradient(params, x, y), atol=1e-13)
    np.testing.assert_allclose(a.loss[1], node.loss(params, x, y), atol=1e-13)
    # The single-node methods always use exact expectations, whatever the shots.
    np.testing.assert_allclose(
        model.with_noise(sampled).gradient(params, x, y),
        model.with_noise(sampled.exact()).gradient(params, x, y),
        atol=0,
    )


@pytest.mark.parametrize(
    "noise_kw",
    [{}, {"readout_error": 0.1}, {"depolarizing": [0.1, 0.0, 0.2], "amplitude_damping": 0.05}],
)
def test_infinite_shots_give_the_exact_gradient(noise_kw: dict) -> None:
    rng = np.random.default_rng(54)
    noise = NoiseModel.build(3, shots=None, **noise_kw)
    model = QNN(3, 2, encoding="reupload", n_classes=2, noise=noise)
    params = model.init_params(rng=rng)
    x = rng.uniform(-np.pi, np.pi, size=(5, 3))
    y = rng.integers(0, 2, size=5)
    for generator in (None, np.random.default_rng(0)):
        res = model.evaluate_nodes(params, [(x, y)], [noise], rng=generator)
        np.testing.assert_allclose(res.gradient[0], model.gradient(params, x, y), atol=1e-14)
        np.testing.assert_allclose(res.loss[0], model.loss(params, x, y), atol=1e-14)


def test_binary_gradients_stay_bounded_with_few_shots() -> None:
    # With 10 shots a node often reads the same bit every time (Ẑ = ±1). The logistic
    # readout keeps |dL/dE| <= output_scale, so no gradient explodes.
    model = QNN(1, 1, readout="binary", n_classes=2)
    x, params = np.array([[0.6]]), np.zeros(2)
    result = model.evaluate_nodes(
        params,
        [(x, np.array([1]))] * 500,
        [NoiseModel.build(1, shots=10)] * 500,
        rng=np.random.default_rng(0),
    )
    # |Ĵ| <= 1 per entry (a difference of two ±1 estimates over 2), |dL/dE| <= s.
    assert np.abs(result.gradient).max() <= model.output_scale + 1e-12
