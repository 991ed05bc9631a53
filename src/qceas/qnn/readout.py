"""From states to measured numbers: readout error, shot sampling, losses.

Measurement is in the computational basis. The readout of class c is ``⟨Z_{q_c}⟩`` on
measured qubit ``q_c``. A readout error r flips a measured bit with probability r, so
the distribution over bit strings is pushed through ⊗_q [[1-r, r], [r, 1-r]] before
sampling, and ``⟨Z⟩_measured = (1 - 2r)·⟨Z⟩`` exactly.

With finite shots each execution draws ``shots`` bit strings from the (readout-noisy)
distribution — a multinomial over all 2^n outcomes, so the estimates of different
qubits keep their true correlations and each marginal is binomial:
``Var[Ẑ] = (1 - ⟨Z⟩²)/shots``. Jacobians use the parameter-shift estimator
``(Ẑ(θ+π/2) − Ẑ(θ−π/2))/2`` from two such independent executions per parameter, which
is unbiased. The loss gradient ``Ĵᵀ·∂L/∂E(Ê)`` is not: ∂L/∂E is nonlinear in the
sampled Ê, so it carries an O(1/shots) bias, as it does on hardware.

Readouts (s = ``output_scale``):

* ``multiclass``: ``P(c) = softmax(s·⟨Z_c⟩)`` over the C measured qubits;
* ``binary``: ``P(1) = σ(−s·⟨Z_0⟩)`` (logistic), so reading |1⟩ on qubit 0 means class 1.
  The logistic keeps ∂L/∂E bounded by s even when a finite-shot estimate gives
  ⟨Z⟩ = ±1 exactly; using ``(1 − ⟨Z⟩)/2`` as the probability would make the log-loss
  and its gradient blow up there.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def flip_bits(
    probs: NDArray[np.float64], readout_error: NDArray[np.float64], n_qubits: int
) -> NDArray[np.float64]:
    """Push bit-string distributions through independent per-qubit bit flips.

    Args:
        probs: (..., R, d) distributions.
        readout_error: (R, n) flip probability per row and qubit.
    """
    out = np.array(probs, dtype=float, copy=True)
    lead = out.shape[:-1]
    for q in range(n_qubits):
        r = readout_error[:, q]
        if not r.any():
            continue
        v = out.reshape(*lead, 1 << q, 2, -1)
        r_b = r.reshape((-1, 1, 1))
        p0, p1 = v[..., 0, :].copy(), v[..., 1, :].copy()
        v[..., 0, :] = (1 - r_b) * p0 + r_b * p1
        v[..., 1, :] = r_b * p0 + (1 - r_b) * p1
    return out


def sample_expectations(
    probs: NDArray[np.float64],
    z_signs: NDArray[np.float64],
    shots: NDArray[np.int64],
    *,
    rng: np.random.Generator,
) -> NDArray[np.float64]:
    """Estimate ⟨Z_c⟩ from ``shots`` samples of each distribution.

    Args:
        probs: (R, ..., d) outcome distributions (readout error already applied), rows
            first: row r's distributions are sampled before row r + 1's, so sampling
            rows 0..a and then a..R from one generator draws what sampling all R does.
        z_signs: (d, C) ±1 eigenvalue table of the measured qubits.
        shots: (R,) shots per row.
        rng: random generator.

    Returns:
        (R, ..., C) sampled expectation values.
    """
    clean = np.clip(probs, 0.0, None)
    clean /= clean.sum(axis=-1, keepdims=True)
    per_row = shots.reshape((-1,) + (1,) * (clean.ndim - 2))
    counts = rng.multinomial(np.broadcast_to(per_row, clean.shape[:-1]), clean)
    return (counts @ z_signs) / per_row[..., None]


def softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def _logits(expectations: NDArray[np.float64], readout: str, scale: float) -> NDArray[np.float64]:
    if readout == "binary":
        # Two-class softmax on [0, -s·E] is the logistic σ(-s·E) for class 1.
        z = -scale * expectations[..., :1]
        return np.concatenate([np.zeros_like(z), z], axis=-1)
    return scale * expectations


def class_probabilities(
    expectations: NDArray[np.float64], readout: str, output_scale: float
) -> NDArray[np.float64]:
    """Class probabilities (…, n_classes) from measured expectations (…, C)."""
    return softmax(_logits(expectations, readout, output_scale))


def loss_and_cotangent(
    expectations: NDArray[np.float64],
    labels: NDArray[np.int64],
    readout: str,
    output_scale: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-sample cross-entropy and its derivative with respect to the expectations.

    Args:
        expectations: (S, C) measured ⟨Z_c⟩.
        labels: (S,) integer classes.

    Returns:
        loss (S,) and dL/dE (S, C). For ``multiclass`` dL/dE_c = s·(P(c) − [c = y]);
        for ``binary`` dL/dE_0 = s·(y − P(1)).
    """
    rows = np.arange(labels.shape[0])
    logits = _logits(expectations, readout, output_scale)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_norm = np.log(np.exp(shifted).sum(axis=-1))
    loss = log_norm - shifted[rows, labels]
    probs = np.exp(shifted - log_norm[:, None])
    if readout == "binary":
        cot = np.zeros_like(expectations)
        cot[:, 0] = output_scale * (labels - probs[:, 1])
        return loss, cot
    onehot = np.zeros_like(probs)
    onehot[rows, labels] = 1.0
    return loss, output_scale * (probs - onehot)
