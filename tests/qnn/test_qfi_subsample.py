"""The QFI weight from a subsample of each shard (``model.qfi_samples``).

The weight needs a shard's mean QFI, not every sample's: ``qfi_rows`` picks q evenly
spaced rows, ``evaluate_nodes`` averages the QFI over them only (loss and gradient still
over the whole shard) and reports the standard error of τ = tr(F̄)/P for sampling q of
n rows without replacement, s/√q·√(1 − q/n). Checked against the QFI of those rows
computed one by one, and the compute-time model charges the QFI circuits on q rows.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qceas._rules import ConfigError
from qceas.qnn import QNN
from qceas.qnn.config import ModelConfig
from qceas.qnn.model import qfi_rows
from qceas.qnn.noise import NoiseModel
from qceas.qnn.timing import GateTimes, compute_times


@given(n=st.integers(1, 500), q=st.one_of(st.none(), st.integers(1, 600)))
def test_rows_are_all_or_q_distinct_evenly_spaced(n, q) -> None:
    rows = qfi_rows(n, q)
    if q is None or q >= n:
        np.testing.assert_array_equal(rows, np.arange(n))
        return
    assert rows.size == q
    assert np.all(np.diff(rows) >= 1)
    assert rows[0] >= 0
    assert rows[-1] < n
    # Evenly spaced: every gap within one row of n/q.
    assert np.all(np.abs(np.diff(rows) - n / q) <= 1.0)


def _problem():
    rng = np.random.default_rng(7)
    noise = NoiseModel.build(3, depolarizing=0.05, amplitude_damping=[0.0, 0.2, 0.1])
    full = QNN(3, 2, n_classes=2, noise=noise)
    params = full.init_params(rng=rng)
    shards = [(rng.uniform(-np.pi, np.pi, size=(n, 3)), rng.integers(0, 2, size=n)) for n in (9, 4)]
    return full, params, shards, [noise.exact(), noise.exact()]


@pytest.mark.parametrize("estimator", ["sld", "hilbert_schmidt"])
def test_subsampled_qfi_is_the_mean_over_the_chosen_rows_with_its_error(estimator) -> None:
    full, params, shards, noises = _problem()
    q = 5
    sub = full.with_qfi_estimator(estimator, q)
    ref = full.with_qfi_estimator(estimator)
    got = sub.evaluate_nodes(params, shards, noises, qfi=True)
    whole = ref.evaluate_nodes(params, shards, noises, qfi=True)
    # Loss and gradient are the whole shard's either way.
    np.testing.assert_array_equal(got.loss, whole.loss)
    np.testing.assert_array_equal(got.gradient, whole.gradient)
    assert got.qfi is not None
    assert got.qfi_se is not None
    for k, (x, _) in enumerate(shards):
        rows = qfi_rows(x.shape[0], q)
        per_row = np.array([ref.quantum_fisher(params, x[r]) for r in rows])
        np.testing.assert_allclose(got.qfi[k], per_row.mean(axis=0), rtol=1e-10, atol=1e-12)
        n = x.shape[0]
        if rows.size < n:
            tau = np.trace(per_row, axis1=1, axis2=2) / full.num_params
            se = tau.std(ddof=1) / np.sqrt(rows.size) * np.sqrt(1 - rows.size / n)
            assert got.qfi_se[k] == pytest.approx(se, rel=1e-9)
        else:  # the 4-row shard is used whole: exact, no error
            np.testing.assert_allclose(got.qfi[k], whole.qfi[k], rtol=1e-12)  # type: ignore[index]
            assert got.qfi_se[k] == 0.0
    # quantum_fisher takes every input it is given, subsample or not.
    x0 = shards[0][0]
    np.testing.assert_allclose(
        sub.quantum_fisher(params, x0), ref.quantum_fisher(params, x0), rtol=1e-12
    )
    # Nodes evaluated one at a time give the same (a node's weight is its own).
    alone = sub.evaluate_nodes(params, shards[1:], noises[1:], qfi=True)
    np.testing.assert_allclose(alone.qfi[0], got.qfi[1], rtol=1e-12)  # type: ignore[index]


def test_one_row_has_no_error_estimate_and_bad_counts_are_one_line() -> None:
    full, params, shards, noises = _problem()
    got = full.with_qfi_estimator("sld", 1).evaluate_nodes(params, shards, noises, qfi=True)
    assert got.qfi_se is not None
    assert np.all(np.isnan(got.qfi_se))
    with pytest.raises(ConfigError, match=r"^model\.qfi_samples = 0: must be null or an integer"):
        ModelConfig(qfi_samples=0)
    with pytest.raises(ValueError, match=r"^model\.qfi_samples = 2\.5: must be null or"):
        QNN(2, 1, n_classes=2, qfi_samples=2.5)  # type: ignore[arg-type]


def test_compute_times_charge_the_qfi_circuits_on_the_subsample_only() -> None:
    ansatz = QNN(4, 3, n_classes=2).ansatz
    times = GateTimes()
    n = np.array([40, 10])

    def at(q):
        return compute_times(ansatz, times, n, shots=100, qfi=True, qfi_samples=q)

    none = compute_times(ansatz, times, n, shots=100, qfi=False)
    qfi_part = at(None) - none
    np.testing.assert_allclose(at(8) - none, qfi_part * np.minimum(n, 8) / n)
    np.testing.assert_allclose(at(100), at(None))


def test_compute_times_without_a_subsample_keep_their_old_bits() -> None:
    """Found by review: with per-node slowdowns the first version regrouped the product
    and moved the last bits of ready times; without ``qfi_samples`` the expression is
    the one of before, factor·n·(S·per_shot + per_sample)."""
    from qceas.qnn.timing import sample_cost

    ansatz = QNN(3, 2, n_classes=2).ansatz
    times = GateTimes()
    n = np.array([7, 64, 1000])
    slow = np.array([0.3, 2.7, 1.1])
    for estimator in ("sld", "hilbert_schmidt", "sub_qfi"):
        per_shot, per_sample = sample_cost(ansatz, times, qfi=True, estimator=estimator)
        old = slow * n * (100 * per_shot + per_sample)
        got = compute_times(
            ansatz, times, n, shots=100, qfi=True, slowdown=slow, estimator=estimator
        )
        np.testing.assert_array_equal(got, old)


def test_a_model_pickled_before_the_estimators_loads_with_the_exact_qfi() -> None:
    import pickle

    model = QNN(2, 1, n_classes=2, noise=NoiseModel.build(2, depolarizing=0.1))
    state = model.__getstate__()
    for name in ("qfi_estimator", "qfi_samples", "_qfi"):
        state.pop(name)
    old = QNN.__new__(QNN)
    old.__setstate__(state)
    assert old.qfi_estimator == "sld"
    assert old.qfi_samples is None
    x = np.array([[0.1, 0.2]])
    np.testing.assert_array_equal(
        old.quantum_fisher(np.zeros(model.num_params) + 0.3, x),
        model.quantum_fisher(np.zeros(model.num_params) + 0.3, x),
    )
    assert pickle.loads(pickle.dumps(model)).qfi_estimator == "sld"
