"""Exact loss gradients of noisy circuits by reverse mode (the adjoint method).

Forward mode (``simulate``) carries every tangent ∂_iρ through the rest of the circuit:
``Σ_l (1 + 2n·(l + 1))`` layer applications per row, 99 for 8 qubits and 3 layers,
where the state alone needs 3. A loss gradient needs only one number per parameter, so
this module runs the state forward once, keeping each layer's input, and one
*observable* backward, the Heisenberg picture of backpropagation (Jones & Gacon,
arXiv:2009.02823, for statevectors; Luo et al., Quantum 4, 341 (2020), §3, for channels):
about three layer applications per layer, whatever the number of parameters.

Derivation, in the Pauli-transfer representation of ``pauli`` (a state or observable is
a real vector, a channel a real matrix, ``Tr(A·B) = a·b/d``). Layer l maps

    v_{l+1} = N_l · B · R_E · R_rot(θ_l) · v_l',      v_l' = Enc_l · v_l

(rotations, entangler, the partition's block error B, the node's noise N_l; ``Enc_l``
is the re-uploading encoder, the identity for l = 0 or angle encoding). The measured
expectations are linear in the final vector and the loss L is a function of them, so
``λ_L = ∂L/∂v_L`` is a vector too (``pauli.diagonal_transpose``). The chain rule gives
``∂L/∂v_l' = R_rot(θ_l)ᵀ·R_Eᵀ·Bᵀ·N_lᵀ·λ_{l+1}`` and ``λ_l = Enc_lᵀ·∂L/∂v_l'``.
Each angle θ_i of layer l enters once, with ``∂_i R_rot·v = R_rot·C_i·v`` (``C_i`` the
transfer matrix of ``A ↦ -(i/2)[G̃_i, A]`` on its qubit q, the generator moved to the
layer's input as in ``ansatz``), so

    ∂L/∂θ_i = λ_{l+1}ᵀ·N_l·B·R_E·R_rot·C_i·v_l' = (∂L/∂v_l')ᵀ·C_i·v_l'
            = Σ_ab (C_i)_ab · K_q[a, b],
    K_q[a, b] = Σ_{other digits} (∂L/∂v_l')[.., a, ..] · v_l'[.., b, ..]

(``pauli_local.LocalLayer.block_correlations``). The transposes: the noise is diagonal
up to amplitude damping's ``Z ← γ·I`` term, whose transpose is ``I ← γ·Z``, taken
before the mask since ``(Π(1 + N_q)·D)ᵀ = D·Π(1 + N_qᵀ)``; B is diagonal; the layer's
is ``LocalLayer.apply_transpose``; the encoders are rotations, transposed per row.

What is exact: everything, to rounding; the gradient equals forward mode's
``Σ_c cot_c·∂_i⟨Z_c⟩`` (``tests/qnn/test_pauli_local.py`` checks it against forward
mode and central differences, ``tests/oracles/test_pennylane_oracle.py`` against
PennyLane). What it does not give: the tangents themselves, so the QFI (which needs
every ∂_iρ) and the parameter-shift circuits of finite shots stay on forward mode,
which ``QNN.evaluate_nodes`` runs only on the rows that need them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.ansatz import Ansatz
from qceas.qnn.partition import BlockError
from qceas.qnn.pauli import PauliChannel, commutator_transfer
from qceas.qnn.simulate import LayerPlan, pauli_product_state, rotate_rows, ry_transfer


@dataclass
class Forward:
    """The forward half: final Pauli vectors (R, 4^n) and every layer's input v_l'."""

    state: NDArray[np.float64]
    inputs: list[NDArray[np.float64]]


class ReversePass:
    """Forward state and reverse gradient of R rows at one θ (the plan).

    Args:
        ansatz: the circuit.
        plan: ``plan_layers(..., pauli=True, local=True)``: every layer gate-local.
        angles: (R, n) encoding angles.
        depolarizing, amplitude_damping: (R, n) per-row noise.
        block: the partition's Pauli block error, or None.
    """

    def __init__(
        self,
        ansatz: Ansatz,
        plan: Sequence[LayerPlan],
        angles: NDArray[np.float64],
        depolarizing: NDArray[np.float64],
        amplitude_damping: NDArray[np.float64],
        block: BlockError | None = None,
    ) -> None:
        if any(layer.local is None for layer in plan):
            raise ValueError("plan: the reverse pass needs gate-local layers (local=True)")
        self.ansatz, self.plan, self.angles = ansatz, plan, angles
        self.channel = PauliChannel(depolarizing, amplitude_damping)
        self.block = None if block is None or block.trivial else block
        self.encoders = ry_transfer(angles) if ansatz.encoding == "reupload" else None

    def forward(self) -> Forward:
        """Run the state through the circuit, keeping each layer's input."""
        n = self.ansatz.n_qubits
        v = pauli_product_state(self.angles)
        inputs = []
        for layer, step in enumerate(self.plan):
            if layer > 0 and self.encoders is not None:
                rotate_rows(v[None], self.encoders, n)
            inputs.append(v)
            out = np.empty_like(v)
            step.apply_pauli(v, out)
            if self.block is not None:
                self.block.apply_pauli(out)
            self.channel.apply(out[None])
            v = out
        return Forward(v, inputs)

    def _noise_transpose(self, lam: NDArray[np.float64]) -> None:
        """``λ ← N_lᵀ·λ`` in place: damping's ``I ← γ·Z`` terms, then the mask."""
        n = self.ansatz.n_qubits
        rows = lam.shape[0]
        for q, gamma in self.channel.damping:
            v = lam.reshape(rows, 4**q, 4, 4 ** (n - q - 1))
            v[:, :, 0, :] += gamma[:, None, None] * v[:, :, 3, :]
        lam *= self.channel.mask

    def gradient(self, forward: Forward, cotangent: NDArray[np.float64]) -> NDArray[np.float64]:
        """∂L/∂θ (R, P) from ``cotangent`` = ∂L/∂v_L (R, 4^n) (module docstring)."""
        ansatz, n = self.ansatz, self.ansatz.n_qubits
        per_layer = ansatz.params_per_layer
        rows = cotangent.shape[0]
        grad = np.zeros((rows, ansatz.num_params))
        lam = np.array(cotangent, dtype=float, copy=True)
        for layer in range(ansatz.layers - 1, -1, -1):
            step = self.plan[layer]
            assert step.local is not None
            self._noise_transpose(lam)
            if self.block is not None:
                self.block.apply_pauli(lam)
            lam = step.local.apply_transpose(lam)  # ∂L/∂v_l'
            correlations = step.local.block_correlations(lam, forward.inputs[layer])
            for i, g in enumerate(step.generators):
                k = correlations[i // 2]
                grad[:, layer * per_layer + i] = np.einsum("ab,rab->r", commutator_transfer(g), k)
            if layer > 0 and self.encoders is not None:
                rotate_rows(lam[None], self.encoders, n, transpose=True)
        return grad
