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

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.ansatz import Ansatz
from qceas.qnn.noise import LayerChannel


@dataclass
class Propagated:
    """Result of ``propagate`` for R rows.

    Attributes:
        mixed: False for the statevector path.
        state: (R, d) statevectors or (R, d, d) density matrices.
        tangents: (R, P, d) or (R, P, d, d), or None when not requested.
        shift_means: (R, P, d, d) on the mixed path when requested, else None.
    """

    mixed: bool
    state: NDArray[np.complex128]
    tangents: NDArray[np.complex128] | None
    shift_means: NDArray[np.complex128] | None


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

    The pure path is taken when both noise arrays are None or all zero.
    """
    n, d, big_p = ansatz.n_qubits, ansatz.dim, ansatz.num_params
    params = np.asarray(params, dtype=float)
    angles = np.asarray(angles, dtype=float)
    rows = angles.shape[0]
    zeros = np.zeros((rows, n))
    dep = zeros if depolarizing is None else np.asarray(depolarizing, dtype=float)
    amp = zeros if amplitude_damping is None else np.asarray(amplitude_damping, dtype=float)
    mixed = bool(dep.any() or amp.any())
    shift_means = shift_means and mixed
    tangents = tangents or shift_means
    per_layer = ansatz.params_per_layer
    # Re-uploading applies ⊗RY(x) again before every layer after the first.
    encoders = ansatz.encoding_unitaries(angles) if ansatz.encoding == "reupload" else None
    psi0 = ansatz.product_state(angles).astype(complex)

    if not mixed:
        # ops[0] is ψ, ops[1 + i] is ∂_iψ: parameters born so far form a contiguous prefix.
        ops = np.zeros((1 + (big_p if tangents else 0), rows, d), dtype=complex)
        ops[0] = psi0
        for layer in range(ansatz.layers):
            theta = params[layer * per_layer : (layer + 1) * per_layer]
            start = layer * per_layer
            if layer > 0 and encoders is not None:
                ops[: 1 + start] = np.einsum("rij,mrj->mri", encoders, ops[: 1 + start])
            if tangents:
                for i, g in enumerate(ansatz.layer_generators(theta)):
                    ops[1 + start + i] = -0.5j * _left_local(ops[0], g, i // 2, n)
            stop = 1 + start + per_layer if tangents else 1
            ops[:stop] = ops[:stop] @ ansatz.layer_unitary(theta).T
        tan = np.moveaxis(ops[1:], 0, 1) if tangents else None
        return Propagated(mixed=False, state=ops[0], tangents=tan, shift_means=None)

    # core[0] is ρ, core[1 + i] is ∂_iρ; shf[i] is S_i. Prefixes stay contiguous.
    core = np.zeros((1 + (big_p if tangents else 0), rows, d, d), dtype=complex)
    core[0] = np.einsum("ri,rj->rij", psi0, psi0.conj())
    shf = np.zeros((big_p, rows, d, d), dtype=complex) if shift_means else None
    scratch = np.empty_like(core)
    channel = LayerChannel(dep, amp)
    for layer in range(ansatz.layers):
        theta = params[layer * per_layer : (layer + 1) * per_layer]
        start = layer * per_layer
        stop = start + per_layer
        if layer > 0 and encoders is not None:
            enc_t = np.swapaxes(encoders, -1, -2)
            core[: 1 + start] = encoders @ core[: 1 + start] @ enc_t
            if shf is not None:
                shf[:start] = encoders @ shf[:start] @ enc_t
        if tangents:
            rho = core[0]
            for i, g in enumerate(ansatz.layer_generators(theta)):
                g_rho = _left_local(rho, g, i // 2, n)
                g_rho_h = np.swapaxes(g_rho.conj(), -1, -2)
                core[1 + start + i] = -0.5j * (g_rho - g_rho_h)
                if shf is not None:
                    shf[start + i] = 0.5 * (rho + _left_local(g_rho_h, g, i // 2, n))
        unitary = ansatz.layer_unitary(theta)
        unitary_h = unitary.conj().T
        live = 1 + stop if tangents else 1
        _sandwich(unitary, unitary_h, core[:live], scratch[:live])
        channel.apply(core[:live])
        if shf is not None:
            _sandwich(unitary, unitary_h, shf[:stop], scratch[:stop])
            channel.apply(shf[:stop])
    return Propagated(
        mixed=True,
        state=core[0],
        tangents=np.moveaxis(core[1:], 0, 1) if tangents else None,
        shift_means=None if shf is None else np.moveaxis(shf, 0, 1),
    )
