"""Model-level partition (qceas.qnn.partition): the block's Pauli error against a
gate-by-gate simulation of teleported gates, the simulator with it, the QFI against a
closed form, and bad partitions."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qceas.physics.teleport import apply_two_qubit_pauli_channel
from qceas.qnn.ansatz import Ansatz, ry, rz
from qceas.qnn.fisher import qfi_mixed
from qceas.qnn.partition import (
    Partition,
    block_error,
    gate_channel,
    pairs_per_execution,
    teleported_block,
)
from qceas.qnn.simulate import propagate


def _on(gate: np.ndarray, qubits: tuple[int, ...], n: int) -> np.ndarray:
    """A gate on ``qubits`` of an n-qubit register, as a dense matrix (qubit 0 MSB)."""
    d = 2**n
    out = np.zeros((d, d), dtype=complex)
    k = len(qubits)
    for col in range(d):
        bits = [(col >> (n - 1 - q)) & 1 for q in range(n)]
        sub = sum(bits[q] << (k - 1 - i) for i, q in enumerate(qubits))
        for row_sub in range(2**k):
            amp = gate[row_sub, sub]
            if amp == 0:
                continue
            new = bits.copy()
            for i, q in enumerate(qubits):
                new[q] = (row_sub >> (k - 1 - i)) & 1
            out[sum(b << (n - 1 - q) for q, b in enumerate(new)), col] += amp
    return out


CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
CZ = np.diag([1, 1, 1, -1]).astype(complex)


def _reference(
    ansatz: Ansatz, partition: Partition, fidelity: float, params: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """Density matrix of the partitioned circuit, gate by gate: every nonlocal gate is
    followed by its own teleportation channel on its two qubits (no block algebra)."""
    n = ansatz.n_qubits
    psi = np.zeros(2**n, dtype=complex)
    psi[0] = 1.0
    encode = np.ones((1, 1), dtype=complex)
    for value in x:
        encode = np.kron(encode, ry(value))
    rho = np.outer(encode @ psi, (encode @ psi).conj())
    theta = params.reshape(ansatz.layers, n, 2)
    crossing = set(partition.nonlocal_gates(ansatz))
    gate = CNOT if ansatz.entangler == "cnot" else CZ
    for layer in range(ansatz.layers):
        if layer > 0 and ansatz.encoding == "reupload":
            rho = encode @ rho @ encode.conj().T
        rot = np.ones((1, 1), dtype=complex)
        for q in range(n):
            rot = np.kron(rot, rz(theta[layer, q, 1]) @ ry(theta[layer, q, 0]))
        rho = rot @ rho @ rot.conj().T
        for i, (a, b) in enumerate(ansatz.entangler_pairs()):
            u = _on(gate, (a, b), n)
            rho = u @ rho @ u.conj().T
            if i in crossing:
                table = gate_channel(ansatz.entangler, fidelity)
                rho = apply_two_qubit_pauli_channel(rho, table, first=a, second=b, n_qubits=n)
    return rho


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(2, 4),
    layers=st.integers(1, 2),
    entangler=st.sampled_from(["cnot", "cz"]),
    topology=st.sampled_from(["ring", "linear"]),
    encoding=st.sampled_from(["angle", "reupload"]),
    fidelity=st.floats(0.25, 1.0),
    seed=st.integers(0, 2**16),
)
def test_partitioned_circuit_equals_gate_by_gate_teleportation(
    n: int, layers: int, entangler: str, topology: str, encoding: str, fidelity: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ansatz = Ansatz(n, layers, encoding=encoding, entangler=entangler, topology=topology)  # type: ignore[arg-type]
    partition = Partition(tuple(int(k) for k in rng.integers(0, n, size=n)))
    params = rng.uniform(-np.pi, np.pi, ansatz.num_params)
    x = rng.uniform(0, np.pi, (1, n))
    expected = _reference(ansatz, partition, fidelity, params, x[0])
    block = teleported_block(ansatz, partition, fidelity)
    for representation in ("density", "pauli"):
        out = propagate(
            ansatz, params, x, tangents=False, representation=representation, block=block
        )
        rho = out.density()[0][0] if out.mixed else np.outer(out.state[0], out.state[0].conj())
        np.testing.assert_allclose(rho, expected, atol=1e-10)


def test_perfect_pairs_change_nothing() -> None:
    ansatz = Ansatz(4, 2)
    partition = Partition.contiguous(4, 2)
    block = teleported_block(ansatz, partition, 1.0)
    assert block.trivial
    rng = np.random.default_rng(1)
    params, x = rng.uniform(-np.pi, np.pi, ansatz.num_params), rng.uniform(0, np.pi, (3, 4))
    ideal = propagate(ansatz, params, x)
    split = propagate(ansatz, params, x, block=block)
    assert not split.mixed
    np.testing.assert_allclose(split.state, ideal.state, atol=1e-12)
    np.testing.assert_allclose(split.tangents, ideal.tangents, atol=1e-12)


def test_block_error_is_a_distribution_and_degrades_with_fidelity() -> None:
    ansatz = Ansatz(4, 1)
    partition = Partition((0, 0, 1, 1))
    assert partition.nonlocal_gates(ansatz) == [1, 3]  # CNOT(1, 2) and CNOT(3, 0)
    previous = 1.0
    for f in (1.0, 0.95, 0.9, 0.7, 0.25):
        dist = block_error(ansatz, partition, f)
        assert dist.sum() == pytest.approx(1.0, abs=1e-12)
        assert np.all(dist >= 0)
        # No error at all needs both gates to succeed: F² (each gate's channel is
        # F on the identity; other terms cannot cancel into the identity).
        assert dist[0] == pytest.approx(f**2, abs=1e-12)
        assert dist[0] <= previous
        previous = dist[0]
    with pytest.raises(ValueError, match=r"fidelity has shape \(3,\): must be one number"):
        block_error(ansatz, partition, [0.9, 0.9, 0.9])
    with pytest.raises(ValueError, match="fidelity"):
        block_error(ansatz, partition, 1.2)


def test_qfi_falls_with_pair_infidelity_as_the_closed_form_says() -> None:
    """Two qubits on two QPUs, one teleported CNOT. With the target in |+⟩ the CNOT
    acts trivially and X_t errors do nothing; Z_c errors (probability 2(1−F)/3)
    dephase the control, shrinking its transverse Bloch vector by (4F−1)/3. The QFI
    of the control's RZ angle (a rotation about z) is then r_⊥² = ((4F−1)/3)²·
    sin²(x₀ + θ₀)."""
    ansatz = Ansatz(2, 1)
    partition = Partition((0, 1))
    x0, theta0 = 0.4, 0.3
    params = np.array([theta0, 0.7, 0.0, 0.0])
    angles = np.array([[x0, np.pi / 2]])
    previous = np.inf
    for f in (1.0, 0.97, 0.9, 0.8, 0.6, 0.4):
        out = propagate(ansatz, params, angles, block=teleported_block(ansatz, partition, f))
        if out.mixed:
            rho, tangents = out.density()
            assert tangents is not None
            qfi = qfi_mixed(rho, tangents)[0]
        else:
            psi, tan = out.state[0], out.tangents[0]  # type: ignore[index]
            berry = tan.conj() @ psi
            qfi = 4 * np.real(tan.conj() @ tan.T - np.outer(berry, berry.conj()))
        closed = ((4 * f - 1) / 3) ** 2 * np.sin(x0 + theta0) ** 2
        assert qfi[1, 1] == pytest.approx(closed, abs=1e-9)
        assert np.trace(qfi) < previous + 1e-12
        previous = np.trace(qfi)


def test_bad_partitions_are_named() -> None:
    ansatz = Ansatz(4, 1)
    with pytest.raises(ValueError, match=r"QPU 0 holds 3 qubits \[0, 1, 2\] but its capacity is 2"):
        Partition((0, 0, 0, 1), capacity=2)
    with pytest.raises(ValueError, match=r"QPU 1 holds 2 qubits \[2, 3\] but its capacity is 1"):
        Partition((0, 0, 1, 1), capacity=(2, 1))
    with pytest.raises(ValueError, match=r"partition.qpu_of = \(0, -1\)"):
        Partition((0, -1))
    with pytest.raises(ValueError, match="partition covers 3 qubits but the model has 4"):
        Partition((0, 1, 1)).nonlocal_gates(ansatz)
    graph = nx.Graph([(0, 1)])
    graph.add_node(2)
    with pytest.raises(ValueError, match=r"gate CNOT\(1, 2\) joins QPU 1 and QPU 2, which have"):
        Partition((0, 1, 2, 0)).check_routes(ansatz, lambda a, b: nx.has_path(graph, a, b))
    Partition((0, 0, 1, 1)).check_routes(ansatz, lambda a, b: nx.has_path(graph, a, b))


def test_pairs_per_execution_count_nonlocal_gates_per_layer() -> None:
    ansatz = Ansatz(4, 3)
    assert pairs_per_execution(ansatz, Partition((0, 0, 1, 1))) == {(0, 1): 6}
    assert pairs_per_execution(ansatz, Partition((0, 1, 2, 3))) == {
        (0, 1): 3,
        (1, 2): 3,
        (2, 3): 3,
        (0, 3): 3,
    }
    assert pairs_per_execution(ansatz, Partition((0, 0, 0, 0))) == {}


def test_nodes_evaluate_their_partitioned_circuits() -> None:
    """evaluate_nodes with one block error per node: a node on perfect pairs equals an
    unpartitioned one; a node on F = 0.8 pairs has the QFI its propagated state has."""
    from qceas.qnn import QNN, NoiseModel

    model = QNN(4, 2, n_classes=2)
    rng = np.random.default_rng(3)
    params = model.init_params(rng=rng)
    x, y = rng.uniform(0, np.pi, (5, 4)), rng.integers(0, 2, 5)
    partition = Partition.contiguous(4, 2)
    noisy = teleported_block(model.ansatz, partition, 0.8)
    blocks = [None, teleported_block(model.ansatz, partition, 1.0), noisy]
    ideal = NoiseModel.ideal(4)
    out = model.evaluate_nodes(params, [(x, y)] * 3, [ideal] * 3, qfi=True, blocks=blocks)
    assert out.qfi is not None
    np.testing.assert_allclose(out.loss[1], out.loss[0], atol=1e-12)
    np.testing.assert_allclose(out.qfi[1], out.qfi[0], atol=1e-10)
    prop = propagate(model.ansatz, params, x, block=noisy)
    rho, tangents = prop.density()
    assert tangents is not None
    np.testing.assert_allclose(out.qfi[2], qfi_mixed(rho, tangents).mean(axis=0), atol=1e-10)
    assert np.trace(out.qfi[2]) < np.trace(out.qfi[0])
    with pytest.raises(ValueError, match="blocks: 2 block errors for 3 shards"):
        model.evaluate_nodes(params, [(x, y)] * 3, [ideal] * 3, blocks=blocks[:2])


def test_transfer_diagonal_in_slices_is_the_whole_product(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large registers build the anticommutation table in slices of strings (memory);
    the diagonal is the whole table's to rounding (the slices' products may round
    differently), and no register of up to MAX_PAULI_QUBITS is ever sliced, so their
    bits are as before (their fingerprints kept evaluation 4)."""
    import qceas.qnn.partition as partition_module
    from qceas.qnn.pauli import MAX_PAULI_QUBITS

    assert 4 ** (2 * MAX_PAULI_QUBITS) <= partition_module.SLICE_ENTRIES
    ansatz = Ansatz(5, 1)
    whole = teleported_block(ansatz, Partition.contiguous(5, 3), 0.9).transfer_diagonal
    monkeypatch.setattr(partition_module, "SLICE_ENTRIES", 1000)
    sliced = teleported_block(ansatz, Partition.contiguous(5, 3), 0.9).transfer_diagonal
    np.testing.assert_allclose(sliced, whole, rtol=0, atol=1e-14)
