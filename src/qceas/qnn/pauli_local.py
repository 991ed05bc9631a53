"""Gate-local Pauli-transfer kernels for registers above ``MAX_PAULI_QUBITS`` (6–10 qubits).

The dense layer transfer matrix of ``pauli`` has 16^n entries: 2 GiB at 7 qubits, so
above ``MAX_PAULI_QUBITS`` the simulator used to fall back to dense density matrices,
whose layer sandwich costs 2·8^n per operator and whose noise pass touches every entry
n times. This module applies one layer ``E · ⊗_q R_q`` of the ansatz to Pauli vectors
without forming it, from its structure:

* **Rotations by qubit blocks.** The rotation block is a tensor product of one-qubit
  transfer matrices ``R_q`` (4×4, real). The qubits are cut into contiguous blocks of at
  most ``BLOCK_QUBITS`` = 2 (``qubit_blocks``) and each block's Kronecker product
  ``A_g = ⊗_{q∈g} R_q`` (16×16) acts on its digits of the string index as one batched
  matrix product. Blocks act on different digits, so they commute and the order is free.
  A vector costs ``4^n · Σ_g 4^{|g|}`` multiply-adds: 4^8 · 64 at 8 qubits against the
  16^8 of the dense matrix. Why blocks of 2: measured on one BLAS thread at 8 qubits
  (ms per vector and layer), blocks (4, 4) 1.22, (3, 3, 2) 0.57, (2, 2, 2, 2) 0.31; at
  10 qubits (3, 3, 4) 16.8 against 8.1 for blocks of 2: below 16×16 the flops saved no
  longer pay for the extra pass over the vector.
* **The entangler as a signed permutation.** CNOT and CZ are Clifford gates: they map
  every Pauli string to ± another, ``E·P_t·E† = σ_t·P_{π(t)}``, so the transfer matrix is
  ``R_E[π(t), t] = σ_t`` and applying it is one gather and one multiply
  (``entangler_permutation``; Gottesman, arXiv:quant-ph/9807006, for the conjugation
  rules, read off here from each gate's 16×16 transfer matrix so the signs come out
  right by construction).
* **Transposes for reverse mode.** ``apply_transpose`` applies ``R_rotᵀ·R_Eᵀ``: blocks
  by ``A_gᵀ`` and the permutation backwards, ``(R_Eᵀ λ)[t] = σ_t·λ[π(t)]``. The
  adjoint (backpropagation) pass of ``qceas.qnn.adjoint`` runs observables through it.

Why by hand: the quantum simulators with gate-local kernels (Qiskit Aer, PennyLane
``lightning``, qulacs) work on statevectors or density matrices, one circuit at a time;
none applies a parametrized layer to a batch of Pauli vectors of many noisy nodes, which
is what keeps the noise diagonal (``pauli``) and the reverse pass a product of
transposes. Each kernel is checked against the dense transfer matrices of ``pauli`` at
n ≤ 5 and against density-matrix propagation (``tests/qnn/test_pauli_local.py``).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.pauli import pauli_digits, transfer_matrix

#: Largest qubit block whose Kronecker product is formed (16×16 real).
BLOCK_QUBITS = 2

#: Vectors go through a layer in tiles of about this many float64 entries (2 MiB), so a
#: tile stays in cache across the block products, the gather and the sign: at 8 qubits,
#: 200 vectors at once cost 0.66 ms each, in tiles of 4 0.35 ms (one BLAS thread).
TILE_ENTRIES = 1 << 18

_CNOT = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=complex)
_CZ = np.diag([1.0, 1.0, 1.0, -1.0]).astype(complex)


def qubit_blocks(n_qubits: int) -> tuple[tuple[int, int], ...]:
    """Contiguous (first qubit, size) blocks of at most ``BLOCK_QUBITS`` qubits, as even
    as possible (8 → 2 + 2 + 2 + 2, 7 → 1 + 2 + 2 + 2): the fewest blocks."""
    count = -(-n_qubits // BLOCK_QUBITS)
    base, extra = divmod(n_qubits, count)
    sizes = [base] * (count - extra) + [base + 1] * extra
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return tuple((int(s), int(k)) for s, k in zip(starts, sizes, strict=True))


@cache
def entangler_permutation(
    n_qubits: int, entangler: str, pairs: tuple[tuple[int, int], ...]
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """``(π, σ)`` of the entangling block: ``E·P_t·E† = σ_t·P_{π(t)}`` for every string t.

    The gates are applied in ``pairs`` order (first pair first, as in
    ``Ansatz.entangler_matrix``); each maps the two digits it touches by its own
    two-qubit transfer matrix, a signed permutation of the 16 two-digit strings.
    """
    gate = _CNOT if entangler == "cnot" else _CZ
    table = transfer_matrix(gate, 2)  # (16, 16): column j's image is ±e_{image[j]}
    image = np.argmax(np.abs(table), axis=0)
    sign = table[image, np.arange(16)]
    digits = pauli_digits(n_qubits).astype(np.int8)
    signs = np.ones(4**n_qubits)
    for control, target in pairs:
        pair = 4 * digits[:, control].astype(np.int64) + digits[:, target]
        signs *= sign[pair]
        mapped = image[pair]
        digits[:, control] = mapped // 4
        digits[:, target] = mapped % 4
    weights = 4 ** (n_qubits - 1 - np.arange(n_qubits))
    out = np.asarray(digits.astype(np.int64) @ weights, dtype=np.int64)
    out.setflags(write=False)
    signs.setflags(write=False)
    return out, signs


class LocalLayer:
    """One layer ``R_E · ⊗_q R_q`` of Pauli transfer matrices, applied without forming it.

    Args:
        rotations: (n, 4, 4) one-qubit transfer matrices ``R_q`` of ``RZ·RY`` per qubit.
        entangler: ``(π, σ)`` from ``entangler_permutation``.
    """

    def __init__(
        self,
        rotations: NDArray[np.float64],
        entangler: tuple[NDArray[np.int64], NDArray[np.float64]],
    ) -> None:
        n = rotations.shape[0]
        self.n_qubits = n
        self.width = 4**n
        self.blocks: list[tuple[int, int, NDArray[np.float64]]] = []
        for start, size in qubit_blocks(n):
            matrix = np.ones((1, 1))
            for q in range(start, start + size):
                matrix = np.kron(matrix, rotations[q])
            self.blocks.append((start, size, np.ascontiguousarray(matrix)))
        image, sign = entangler
        self.sign = sign
        # Forward gather: out[π(t)] = σ_t·v[t], i.e. out[s] = σ_{π⁻¹(s)}·v[π⁻¹(s)].
        # int32 indices: the gathers run at about twice the speed of int64 ones.
        inverse = np.empty(image.size, dtype=np.int32)
        inverse[image] = np.arange(image.size, dtype=np.int32)
        self.inverse = inverse
        self.image = image.astype(np.int32)
        self.inverse_sign = np.ascontiguousarray(sign[inverse])

    def _rotate(self, vecs: NDArray[np.float64], transpose: bool) -> NDArray[np.float64]:
        """⊗_g A_g (or its transpose) on (N, 4^n) vectors; returns a new array."""
        rows, n = vecs.shape[0], self.n_qubits
        out = vecs
        for start, size, matrix in self.blocks:
            m = matrix.T if transpose else matrix
            left, inner = 4**start, 4**size
            right = 4 ** (n - start - size)
            if right == 1:  # the block holds the last digits: a plain right product
                out = out.reshape(-1, inner) @ m.T
            else:
                out = m @ out.reshape(rows * left, inner, right)
        return out.reshape(rows, self.width)

    def apply(self, vecs: NDArray[np.float64], out: NDArray[np.float64]) -> None:
        """``out ← R_E·R_rot·vecs`` for (..., 4^n) vectors (``out`` another array)."""
        flat = vecs.reshape(-1, self.width)
        target = out.reshape(-1, self.width)
        tile = max(1, TILE_ENTRIES // self.width)
        for lo in range(0, flat.shape[0], tile):
            rotated = self._rotate(flat[lo : lo + tile], transpose=False)
            part = target[lo : lo + tile]
            np.take(rotated, self.inverse, axis=1, out=part)
            part *= self.inverse_sign

    def apply_transpose(self, vecs: NDArray[np.float64]) -> NDArray[np.float64]:
        """``R_rotᵀ·R_Eᵀ·vecs`` for (N, 4^n) vectors: ``(R_Eᵀλ)[t] = σ_t·λ[π(t)]``."""
        flat = vecs.reshape(-1, self.width)
        out = np.empty_like(flat)
        tile = max(1, TILE_ENTRIES // self.width)
        for lo in range(0, flat.shape[0], tile):
            pulled = np.take(flat[lo : lo + tile], self.image, axis=1)
            pulled *= self.sign
            out[lo : lo + tile] = self._rotate(pulled, transpose=True)
        return out

    def block_correlations(
        self, left: NDArray[np.float64], right: NDArray[np.float64]
    ) -> list[NDArray[np.float64]]:
        """Per qubit q, the (R, 4, 4) matrices ``K_q[a, b] = Σ left[.., a, ..]·right[.., b, ..]``
        summed over every digit but q's, for (R, 4^n) ``left`` and ``right``.

        ``λ·(C ⊗_q v) = Σ_ab C_ab·K_q[a, b]`` for a 4×4 map C on qubit q, which is how
        the reverse pass reads every gradient of a layer off two vectors. Each block's
        (R, 4^k, 4^k) correlation is one batched product; its qubits' K are its partial
        traces.
        """
        rows, n = left.shape[0], self.n_qubits
        out: list[NDArray[np.float64]] = []
        for start, size, _ in self.blocks:
            lead, inner = 4**start, 4**size
            tail = 4 ** (n - start - size)
            if tail == 1:  # the last digits: contract over the leading ones
                a = left.reshape(rows, lead, inner)
                block = np.swapaxes(a, 1, 2) @ right.reshape(rows, lead, inner)
            else:
                a = left.reshape(rows * lead, inner, tail)
                b = right.reshape(rows * lead, inner, tail)
                block = (a @ np.swapaxes(b, 1, 2)).reshape(rows, lead, inner, inner)
                block = block.sum(axis=1)
            for j in range(size):
                before, after = 4**j, 4 ** (size - j - 1)
                view = block.reshape(rows, before, 4, after, before, 4, after)
                out.append(np.einsum("rxayxby->rab", view))
        return out
