"""Batched forward-mode simulation of the ansatz: states, tangents, shifted states.

One pass over the circuit propagates, for every row (one input of one node):

* the state — a statevector ψ (pure path) or a density matrix ρ (mixed path);
* the tangents ``∂_i ψ`` or ``∂_i ρ`` for every parameter i (forward mode);
* optionally, on the mixed path, the *shift means* ``S_i = (ρ(θ_i+π/2) + ρ(θ_i-π/2))/2``.

Why forward mode: the exact QFI needs every tangent of the final state anyway, and the
same tangents give the Jacobian of every expectation value exactly, so gradients cost
nothing extra. Why shift means: with finite shots the gradient must be estimated the
way hardware does it, from sampled expectation values of the parameter-shifted
circuits (Schuld et al., PRA 99, 032331), and the shifted states follow exactly as
``ρ_± = S_i ± ∂_iρ`` (pure: ``ψ_± = (ψ ± 2∂_iψ)/√2``) because each angle enters the
circuit once through ``exp(-iθG/2)``.

A layer with unitary U and generators G̃ (see ``ansatz``) maps

    ψ → Uψ,          ∂_iψ → U·(-i/2)G̃_iψ                   (new parameters)
    ρ → UρU†,        ∂_iρ → U·(-i/2)[G̃_i, ρ]·U†,   S_i → U·(ρ + G̃_iρG̃_i)/2·U†

and tangents of earlier parameters are carried along by the same U (and, on the
mixed path, by the same noise channel, which is linear). All rows share U, so each
layer is a handful of batched matrix products.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.ansatz import Ansatz, ry, rz
from qceas.qnn.noise import LayerChannel
from qceas.qnn.partition import BlockError
from qceas.qnn.pauli import (
    MAX_PAULI_QUBITS,
    PauliChannel,
    apply_local,
    commutator_transfer,
    diagonal,
    from_pauli,
    local_superop,
    paulis,
    transfer_matrix,
)
from qceas.qnn.pauli_local import LocalLayer, entangler_permutation


@dataclass(frozen=True)
class LayerPlan:
    """Everything about one layer that depends on θ but not on the rows.

    Attributes:
        unitary: (d, d) layer unitary U.
        generators: (2n, 2, 2) local generators G̃_i (see ``Ansatz.layer_generators``).
        transfer_t: (4^n, 4^n) transpose of U's Pauli transfer matrix (n ≤
            ``MAX_PAULI_QUBITS``), or None.
        local: U's Pauli transfer applied gate-locally (n > ``MAX_PAULI_QUBITS``,
            ``pauli_local``), or None.
    """

    unitary: NDArray[np.complex128]
    generators: NDArray[np.complex128]
    transfer_t: NDArray[np.float64] | None
    local: LocalLayer | None = None

    @property
    def pauli(self) -> bool:
        """Whether the plan can run the Pauli-transfer path."""
        return self.transfer_t is not None or self.local is not None

    def apply_pauli(self, vecs: NDArray[np.float64], out: NDArray[np.float64]) -> None:
        """``out ← R_U·vecs`` for (..., 4^n) Pauli vectors."""
        if self.local is not None:
            self.local.apply(vecs, out)
        else:
            assert self.transfer_t is not None
            np.matmul(vecs, self.transfer_t, out=out)


def plan_layers(
    ansatz: Ansatz,
    params: NDArray[np.float64],
    *,
    pauli: bool = False,
    local: bool | None = None,
) -> list[LayerPlan]:
    """Precompute the per-layer matrices once for all chunks of rows of one call.

    With ``pauli``, registers up to ``MAX_PAULI_QUBITS`` get the dense layer transfer
    matrix and larger ones its gate-local form (``pauli_local``; the dense one has
    16^n entries); ``local`` forces the choice (the reverse pass of ``adjoint`` needs
    the gate-local form).
    """
    n, per_layer = ansatz.n_qubits, ansatz.params_per_layer
    dense = pauli and (n <= MAX_PAULI_QUBITS if local is None else not local)
    entangler = (
        entangler_permutation(n, ansatz.entangler, tuple(ansatz.entangler_pairs()))
        if pauli and not dense
        else None
    )
    out = []
    for layer in range(ansatz.layers):
        theta = params[layer * per_layer : (layer + 1) * per_layer]
        unitary = ansatz.layer_unitary(theta)
        transfer_t = np.ascontiguousarray(ansatz.layer_transfer_matrix(theta).T) if dense else None
        gate_local = None
        if entangler is not None:
            angles = np.asarray(theta, dtype=float).reshape(n, 2)
            rotations = np.stack(
                [transfer_matrix(rz(angles[q, 1]) @ ry(angles[q, 0]), 1) for q in range(n)]
            )
            gate_local = LocalLayer(rotations, entangler)
        out.append(LayerPlan(unitary, ansatz.layer_generators(theta), transfer_t, gate_local))
    return out


Representation = Literal["pure", "density", "pauli"]
REPRESENTATIONS: tuple[str, ...] = ("auto", "density", "pauli")


@dataclass
class Propagated:
    """Result of ``propagate`` for R rows, in one of three representations.

    Attributes:
        kind: ``"pure"`` (statevectors), ``"density"`` (density matrices) or
            ``"pauli"`` (real Pauli-coefficient vectors, see ``pauli``).
        n_qubits: register size.
        state: (R, d), (R, d, d) or (R, 4^n).
        tangents: (R, P, d), (R, P, d, d) or (R, P, 4^n); None when not requested.
        shift_means: (R, P, d, d) or (R, P, 4^n) for mixed states when requested.
    """

    kind: Representation
    n_qubits: int
    state: NDArray[Any]
    tangents: NDArray[Any] | None
    shift_means: NDArray[Any] | None

    @property
    def mixed(self) -> bool:
        return self.kind != "pure"

    def probabilities(self) -> NDArray[np.float64]:
        """Computational-basis outcome distribution (R, d)."""
        if self.kind == "pure":
            return np.abs(self.state) ** 2
        if self.kind == "pauli":
            return diagonal(self.state, self.n_qubits)
        return np.real(np.diagonal(self.state, axis1=-2, axis2=-1)).copy()

    def tangent_probabilities(self) -> NDArray[np.float64]:
        """∂_i of the outcome distribution, (P, R, d)."""
        assert self.tangents is not None
        tan = np.moveaxis(self.tangents, 1, 0)
        if self.kind == "pure":
            return 2.0 * np.real(np.conj(self.state)[None] * tan)
        if self.kind == "pauli":
            return diagonal(tan, self.n_qubits)
        return np.real(np.diagonal(tan, axis1=-2, axis2=-1))

    def shifted_probabilities(self) -> NDArray[np.float64]:
        """Outcome distributions of the ±π/2-shifted circuits, (2, P, R, d)."""
        assert self.tangents is not None
        tan = np.moveaxis(self.tangents, 1, 0)
        if self.kind == "pure":
            psi = self.state[None]
            return np.stack([np.abs(psi + 2 * tan) ** 2 / 2, np.abs(psi - 2 * tan) ** 2 / 2])
        assert self.shift_means is not None
        mean = np.moveaxis(self.shift_means, 1, 0)
        if self.kind == "pauli":
            base, delta = diagonal(mean, self.n_qubits), diagonal(tan, self.n_qubits)
        else:
            base = np.real(np.diagonal(mean, axis1=-2, axis2=-1))
            delta = np.real(np.diagonal(tan, axis1=-2, axis2=-1))
        return np.stack([base + delta, base - delta])

    def density(
        self, rows: NDArray[np.bool_] | None = None
    ) -> tuple[NDArray[np.complex128], NDArray[np.complex128] | None]:
        """Mixed states as density matrices (R, d, d) and tangents (R, P, d, d), of
        the ``rows`` selected (a mask; None: all), converted only for those."""
        state, tangents = self.state, self.tangents
        if rows is not None:
            state = state[rows]
            tangents = None if tangents is None else tangents[rows]
        if self.kind == "pauli":
            tan = None if tangents is None else from_pauli(tangents, self.n_qubits)
            return from_pauli(state, self.n_qubits), tan
        return state, tangents


def _left_local(x: NDArray[np.complex128], g: NDArray[np.complex128], q: int, n: int) -> NDArray:
    """Apply the 2×2 matrix g on qubit q to the first index after the row axes.

    ``x`` has shape (R, d, *rest); returns a new array of the same shape.
    """
    v = x.reshape(x.shape[0], 1 << q, 2, -1)
    out = np.empty_like(v, dtype=np.result_type(v, g))
    x0, x1 = v[:, :, 0], v[:, :, 1]
    out[:, :, 0] = g[0, 0] * x0 + g[0, 1] * x1
    out[:, :, 1] = g[1, 0] * x0 + g[1, 1] * x1
    return out.reshape(x.shape)


def _sandwich(
    unitary: NDArray[np.complex128],
    unitary_h: NDArray[np.complex128],
    ops: NDArray[np.complex128],
    scratch: NDArray[np.complex128],
) -> None:
    """ops[...] ← U · ops · U† in place (ops: (..., d, d)); scratch has ops' shape."""
    np.matmul(unitary, ops, out=scratch)
    np.matmul(scratch, unitary_h, out=ops)


def propagate(
    ansatz: Ansatz,
    params: NDArray[np.float64],
    angles: NDArray[np.float64],
    depolarizing: NDArray[np.float64] | None = None,
    amplitude_damping: NDArray[np.float64] | None = None,
    *,
    tangents: bool = True,
    shift_means: bool = False,
    representation: str = "density",
    plan: Sequence[LayerPlan] | None = None,
    block: BlockError | None = None,
) -> Propagated:
    """Run the circuit on R rows at once.

    Args:
        ansatz: circuit structure.
        params: (P,) circuit parameters, shared by all rows.
        angles: (R, n) encoding angles, one row per input.
        depolarizing: (R, n) per-row, per-qubit depolarizing p, or None.
        amplitude_damping: (R, n) per-row, per-qubit damping γ, or None.
        tangents: also propagate ∂_i of the state for every parameter.
        shift_means: also propagate S_i (mixed path only; implies tangents).
        representation: for mixed states, ``"density"`` matrices, ``"pauli"`` vectors,
            or ``"auto"`` (Pauli vectors: dense layer transfer matrices up to
            ``MAX_PAULI_QUBITS`` qubits, gate-local ones above, both faster than
            density matrices there).
        plan: ``plan_layers(ansatz, params, pauli=...)`` when the caller runs several
            chunks at the same θ; built here otherwise.
        block: the Pauli error of a model-partitioned entangling block (teleported
            gates, ``qceas.qnn.partition``), applied after every layer's unitary and
            before the node's own noise; None for a circuit on one QPU.

    The pure path is taken when both noise arrays are None or all zero and the block
    adds no error.
    """
    if representation not in REPRESENTATIONS:
        raise ValueError(
            f"representation = {representation!r}: must be one of {', '.join(REPRESENTATIONS)}"
        )
    n, d, big_p = ansatz.n_qubits, ansatz.dim, ansatz.num_params
    params = np.asarray(params, dtype=float)
    angles = np.asarray(angles, dtype=float)
    rows = angles.shape[0]
    use_pauli = representation in ("pauli", "auto")
    zeros = np.zeros((rows, n))
    dep = zeros if depolarizing is None else np.asarray(depolarizing, dtype=float)
    amp = zeros if amplitude_damping is None else np.asarray(amplitude_damping, dtype=float)
    mixed = bool(dep.any() or amp.any()) or (block is not None and not block.trivial)
    shift_means = shift_means and mixed
    tangents = tangents or shift_means
    if plan is None or (mixed and use_pauli and not plan[0].pauli):
        plan = plan_layers(ansatz, params, pauli=mixed and use_pauli)
    if mixed and use_pauli:
        return _propagate_pauli(
            ansatz, plan, angles, dep, amp, tangents=tangents, shift_means=shift_means, block=block
        )
    per_layer = ansatz.params_per_layer
    # Re-uploading applies ⊗RY(x) again before every layer after the first.
    encoders = ansatz.encoding_unitaries(angles) if ansatz.encoding == "reupload" else None
    psi0 = ansatz.product_state(angles).astype(complex)

    if not mixed:
        # ops[0] is ψ, ops[1 + i] is ∂_iψ: parameters born so far form a contiguous prefix.
        ops = np.zeros((1 + (big_p if tangents else 0), rows, d), dtype=complex)
        ops[0] = psi0
        for layer in range(ansatz.layers):
            start = layer * per_layer
            if layer > 0 and encoders is not None:
                ops[: 1 + start] = np.einsum("rij,mrj->mri", encoders, ops[: 1 + start])
            if tangents:
                for i, g in enumerate(plan[layer].generators):
                    ops[1 + start + i] = -0.5j * _left_local(ops[0], g, i // 2, n)
            stop = 1 + start + per_layer if tangents else 1
            ops[:stop] = ops[:stop] @ plan[layer].unitary.T
        tan = np.moveaxis(ops[1:], 0, 1) if tangents else None
        return Propagated("pure", n, ops[0], tan, None)

    # core[0] is ρ, core[1 + i] is ∂_iρ; shf[i] is S_i. Prefixes stay contiguous.
    core = np.zeros((1 + (big_p if tangents else 0), rows, d, d), dtype=complex)
    core[0] = np.einsum("ri,rj->rij", psi0, psi0.conj())
    shf = np.zeros((big_p, rows, d, d), dtype=complex) if shift_means else None
    scratch = np.empty_like(core)
    channel = LayerChannel(dep, amp)
    for layer in range(ansatz.layers):
        start = layer * per_layer
        stop = start + per_layer
        if layer > 0 and encoders is not None:
            enc_t = np.swapaxes(encoders, -1, -2)
            core[: 1 + start] = encoders @ core[: 1 + start] @ enc_t
            if shf is not None:
                shf[:start] = encoders @ shf[:start] @ enc_t
        if tangents:
            rho = core[0]
            for i, g in enumerate(plan[layer].generators):
                g_rho = _left_local(rho, g, i // 2, n)
                g_rho_h = np.swapaxes(g_rho.conj(), -1, -2)
                core[1 + start + i] = -0.5j * (g_rho - g_rho_h)
                if shf is not None:
                    shf[start + i] = 0.5 * (rho + _left_local(g_rho_h, g, i // 2, n))
        unitary = plan[layer].unitary
        unitary_h = unitary.conj().T
        live = 1 + stop if tangents else 1
        _sandwich(unitary, unitary_h, core[:live], scratch[:live])
        if block is not None:
            block.apply_density(core[:live])
        channel.apply(core[:live])
        if shf is not None:
            _sandwich(unitary, unitary_h, shf[:stop], scratch[:stop])
            if block is not None:
                block.apply_density(shf[:stop])
            channel.apply(shf[:stop])
    return Propagated(
        "density",
        n,
        core[0],
        np.moveaxis(core[1:], 0, 1) if tangents else None,
        None if shf is None else np.moveaxis(shf, 0, 1),
    )


def pauli_product_state(angles: NDArray[np.float64]) -> NDArray[np.float64]:
    """Pauli vectors of ⊗_q RY(x_q)|0⟩: each qubit contributes (1, sin x, 0, cos x)."""
    rows, n = angles.shape
    out = np.ones((rows, 1))
    for q in range(n):
        x = angles[:, q]
        local = np.stack([np.ones_like(x), np.sin(x), np.zeros_like(x), np.cos(x)], axis=-1)
        out = (out[:, :, None] * local[:, None, :]).reshape(rows, -1)
    return out


def ry_transfer(angles: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per-row 4×4 transfer matrices of RY(x): a rotation by x in the Z–X plane."""
    c, s = np.cos(angles), np.sin(angles)
    out = np.zeros((*angles.shape, 4, 4))
    out[..., 0, 0] = out[..., 2, 2] = 1.0
    out[..., 1, 1] = out[..., 3, 3] = c
    out[..., 1, 3] = s  # X' = cos·X + sin·Z
    out[..., 3, 1] = -s  # Z' = cos·Z − sin·X
    return out


def rotate_rows(
    ops: NDArray[np.float64],
    rotations: NDArray[np.float64],
    n_qubits: int,
    *,
    transpose: bool = False,
) -> None:
    """In place: per-row one-qubit transfer matrices ``rotations`` (R, n, 4, 4) (or
    their transposes) on every qubit of Pauli vectors ``ops`` (M, R, 4^n) — the
    re-uploading encoders, forward and, transposed, in the reverse pass."""
    if not ops.size:
        return
    m, rows = ops.shape[0], ops.shape[1]
    spec = "rba,mrxby->mrxay" if transpose else "rab,mrxby->mrxay"
    for q in range(n_qubits):
        view = ops.reshape(m, rows, 4**q, 4, 4 ** (n_qubits - q - 1))
        ops[...] = np.einsum(spec, rotations[:, q], view).reshape(ops.shape)


def _propagate_pauli(
    ansatz: Ansatz,
    plan: Sequence[LayerPlan],
    angles: NDArray[np.float64],
    dep: NDArray[np.float64],
    amp: NDArray[np.float64],
    *,
    tangents: bool,
    shift_means: bool,
    block: BlockError | None = None,
) -> Propagated:
    """The mixed path in the Pauli-transfer representation (see ``pauli``)."""
    n, big_p, per_layer = ansatz.n_qubits, ansatz.num_params, ansatz.params_per_layer
    rows, width = angles.shape[0], 4**ansatz.n_qubits
    sigma = paulis()
    core = np.zeros((1 + (big_p if tangents else 0), rows, width))
    core[0] = pauli_product_state(angles)
    shf = np.zeros((big_p, rows, width)) if shift_means else None
    scratch = np.empty_like(core)
    scratch_shf = None if shf is None else np.empty_like(shf)
    channel = PauliChannel(dep, amp)
    encoders = ry_transfer(angles) if ansatz.encoding == "reupload" else None
    for layer in range(ansatz.layers):
        start, stop = layer * per_layer, (layer + 1) * per_layer
        if layer > 0 and encoders is not None:
            rotate_rows(core[: 1 + start], encoders, n)
            if shf is not None:
                rotate_rows(shf[:start], encoders, n)
        if tangents:
            for i, g in enumerate(plan[layer].generators):
                q = i // 2
                # ∂: A → -(i/2)[G, A];  shift mean: A → (A + G A G)/2.
                core[1 + start + i] = apply_local(core[0], commutator_transfer(g), q, n)
                if shf is not None:
                    mean = local_superop(0.5 * (sigma + g @ sigma @ g))
                    shf[start + i] = apply_local(core[0], mean, q, n)
        live = 1 + stop if tangents else 1
        plan[layer].apply_pauli(core[:live], scratch[:live])
        core, scratch = scratch, core
        if block is not None:
            block.apply_pauli(core[:live])
        channel.apply(core[:live])
        if shf is not None and scratch_shf is not None:
            plan[layer].apply_pauli(shf[:stop], scratch_shf[:stop])
            shf, scratch_shf = scratch_shf, shf
            if block is not None:
                block.apply_pauli(shf[:stop])
            channel.apply(shf[:stop])
    return Propagated(
        "pauli",
        n,
        core[0],
        np.moveaxis(core[1:], 0, 1) if tangents else None,
        None if shf is None else np.moveaxis(shf, 0, 1),
    )
