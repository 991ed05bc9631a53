"""Circuit structure of the hardware-efficient variational ansatz.

The circuit on ``n`` qubits (wire 0 is the most significant bit, PennyLane's order):

    encode(x)  ──  for l in 0..L-1:  [encode(x) if re-uploading and l > 0]
                                     ⊗_q RZ(θ[l,q,1]) RY(θ[l,q,0])
                                     entangler (CNOT or CZ, ring or linear)
                                     noise channel of the node (see ``noise``)

``encode(x) = ⊗_q RY(x_q)``. Parameters are flattened as ``θ[l·2n + 2q + r]`` with
``r = 0`` the RY and ``r = 1`` the RZ angle of qubit ``q`` in layer ``l``; the PennyLane
export applies the gates in exactly this order.

Every rotation is ``R(θ) = exp(-iθG/2)`` with a Pauli generator ``G``. Moving each
generator to the right of the whole layer gives ``∂U/∂θ_i = -(i/2)·U·G̃_i`` with a
single-qubit ``G̃_i``, and the shifted layers of the parameter-shift rule become
``U(θ_i ± π/2) = U·(I ∓ iG̃_i)/√2`` (Schuld et al., PRA 99, 032331, 2019). A layer is
available as one dense ``2^n × 2^n`` matrix (statevectors, density matrices) and as
one dense Pauli transfer matrix (up to ``MAX_PAULI_QUBITS`` qubits, where one matrix
product per layer over all rows and tangents beats gate-by-gate updates); larger
noisy registers apply it gate by gate in the Pauli basis (``pauli_local``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from qceas._rules import is_integer
from qceas.qnn.pauli import transfer_matrix

Encoding = Literal["angle", "reupload"]
Entangler = Literal["cnot", "cz"]
Topology = Literal["ring", "linear"]

ENCODINGS: tuple[str, ...] = ("angle", "reupload")
ENTANGLERS: tuple[str, ...] = ("cnot", "cz")
TOPOLOGIES: tuple[str, ...] = ("ring", "linear")
MAX_QUBITS = 10

PAULI_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
PAULI_Z = np.array([[1, 0], [0, -1]], dtype=complex)


def ry(theta: float) -> NDArray[np.complex128]:
    """RY(θ) = exp(-iθY/2)."""
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return np.array([[c, -s], [s, c]], dtype=complex)


def rz(theta: float) -> NDArray[np.complex128]:
    """RZ(θ) = exp(-iθZ/2)."""
    return np.array([[np.exp(-0.5j * theta), 0], [0, np.exp(0.5j * theta)]], dtype=complex)


def ry_batch(angles: NDArray[np.float64]) -> NDArray[np.float64]:
    """RY matrices for an array of angles: shape ``angles.shape + (2, 2)`` (real)."""
    c, s = np.cos(angles / 2), np.sin(angles / 2)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def _kron_all(mats: list[NDArray[np.complex128]]) -> NDArray[np.complex128]:
    out = mats[0]
    for m in mats[1:]:
        out = np.asarray(np.kron(out, m), dtype=complex)
    return out


@dataclass(frozen=True)
class Ansatz:
    """Hardware-efficient layered ansatz (structure only; no parameters, no noise).

    Args:
        n_qubits: register size n (1..MAX_QUBITS = 10; layers are dense 2^n × 2^n).
        layers: number of variational layers L (≥ 1).
        encoding: ``"angle"`` (RY(x) once) or ``"reupload"`` (RY(x) before every layer).
        entangler: two-qubit gate, ``"cnot"`` or ``"cz"``.
        topology: ``"ring"`` (q → q+1 mod n; on 2 qubits the ring is the single pair
            (0, 1), as in PennyLane's templates) or ``"linear"`` (q → q+1, q < n-1).
    """

    n_qubits: int = 4
    layers: int = 2
    encoding: Encoding = "angle"
    entangler: Entangler = "cnot"
    topology: Topology = "ring"

    def __post_init__(self) -> None:
        if not is_integer(self.n_qubits) or not 1 <= self.n_qubits <= MAX_QUBITS:
            raise ValueError(
                f"model.n_qubits = {self.n_qubits!r}: must be an integer in [1, {MAX_QUBITS}]"
            )
        if not is_integer(self.layers) or self.layers < 1:
            raise ValueError(f"model.layers = {self.layers!r}: must be an integer >= 1")
        for field, value, allowed in (
            ("encoding", self.encoding, ENCODINGS),
            ("entangler", self.entangler, ENTANGLERS),
            ("topology", self.topology, TOPOLOGIES),
        ):
            if value not in allowed:
                raise ValueError(f"model.{field} = {value!r}: must be one of {', '.join(allowed)}")

    def __getstate__(self) -> dict[str, Any]:
        # The cached matrices (4^n × 4^n transfer: 0.5 MiB at 4 qubits, 8 MiB at 5)
        # are rebuilt on use rather than carried in every pickle (checkpoints, Ray).
        state = self.__dict__.copy()
        for name in ("entangler_matrix", "entangler_transfer"):
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    @property
    def dim(self) -> int:
        """Hilbert-space dimension d = 2^n."""
        return 1 << self.n_qubits

    @property
    def params_per_layer(self) -> int:
        return 2 * self.n_qubits

    @property
    def num_params(self) -> int:
        return self.layers * self.params_per_layer

    def entangler_pairs(self) -> list[tuple[int, int]]:
        """(control, target) pairs of the entangling block, in application order."""
        n = self.n_qubits
        if n == 1:
            return []
        if self.topology == "linear" or n == 2:
            return [(q, q + 1) for q in range(n - 1)]
        return [(q, (q + 1) % n) for q in range(n)]

    @cached_property
    def entangler_matrix(self) -> NDArray[np.complex128]:
        """The entangling block as one d×d matrix (a permutation for CNOT, diagonal for CZ)."""
        n, d = self.n_qubits, self.dim
        basis = np.arange(d)
        bits = (basis[:, None] >> (n - 1 - np.arange(n))[None, :]) & 1
        out = np.eye(d, dtype=complex)
        for control, target in self.entangler_pairs():
            if self.entangler == "cnot":
                flipped = bits.copy()
                flipped[:, target] ^= bits[:, control]
                image = (flipped << (n - 1 - np.arange(n))[None, :]).sum(axis=1)
                gate = np.zeros((d, d), dtype=complex)
                gate[image, basis] = 1.0
            else:
                gate = np.diag(np.where(bits[:, control] & bits[:, target], -1.0, 1.0)).astype(
                    complex
                )
            out = gate @ out
        return out

    def layer_unitary(self, layer_params: NDArray[np.float64]) -> NDArray[np.complex128]:
        """The layer unitary ``U = E · ⊗_q RZ(θ[q,1]) RY(θ[q,0])`` (d × d)."""
        n = self.n_qubits
        angles = np.asarray(layer_params, dtype=float).reshape(n, 2)
        return self.entangler_matrix @ _kron_all(
            [rz(angles[q, 1]) @ ry(angles[q, 0]) for q in range(n)]
        )

    @cached_property
    def entangler_transfer(self) -> NDArray[np.float64]:
        """Pauli transfer matrix of the entangling block (a signed permutation)."""
        return transfer_matrix(self.entangler_matrix, self.n_qubits)

    def layer_transfer_matrix(self, layer_params: NDArray[np.float64]) -> NDArray[np.float64]:
        """Pauli transfer matrix of the layer unitary, ``R(E)·⊗_q R(RZ·RY)`` (4^n × 4^n).

        The rotation block is a tensor product, so its transfer matrix is the Kronecker
        product of 4×4 single-qubit ones; only the entangler's is computed densely (once).
        """
        n = self.n_qubits
        angles = np.asarray(layer_params, dtype=float).reshape(n, 2)
        out: NDArray[np.float64] = np.ones((1, 1))
        for q in range(n):
            local = transfer_matrix(rz(angles[q, 1]) @ ry(angles[q, 0]), 1)
            out = np.asarray(np.kron(out, local), dtype=float)
        return self.entangler_transfer @ out

    def layer_generators(self, layer_params: NDArray[np.float64]) -> NDArray[np.complex128]:
        """Local generators ``G̃_i`` (2n, 2, 2) with ``∂U/∂θ_i = -(i/2)·U·G̃_i[on qubit q]``.

        For the RY angle ``G̃ = Y`` (RY acts first); for the RZ angle the generator Z is
        moved through RY: ``G̃ = RY(θ_y)† Z RY(θ_y)``. Pulling every generator to the
        right of U lets the kernels form all new tangents *before* the layer and apply
        U once to state and tangents together.
        """
        n = self.n_qubits
        angles = np.asarray(layer_params, dtype=float).reshape(n, 2)
        out = np.empty((2 * n, 2, 2), dtype=complex)
        for q in range(n):
            r = ry(angles[q, 0])
            out[2 * q] = PAULI_Y
            out[2 * q + 1] = r.conj().T @ PAULI_Z @ r
        return out

    def product_state(self, angles: NDArray[np.float64]) -> NDArray[np.float64]:
        """⊗_q RY(x_q)|0⟩ for rows of encoding angles: (R, n) → (R, d), real."""
        angles = np.asarray(angles, dtype=float)
        c, s = np.cos(angles / 2), np.sin(angles / 2)
        state = np.ones((angles.shape[0], 1))
        for q in range(self.n_qubits):
            amp = np.stack([c[:, q], s[:, q]], axis=-1)
            state = (state[:, :, None] * amp[:, None, :]).reshape(angles.shape[0], -1)
        return state

    def encoding_unitaries(self, angles: NDArray[np.float64]) -> NDArray[np.float64]:
        """⊗_q RY(x_q) for rows of encoding angles: (R, n) → (R, d, d), real."""
        angles = np.asarray(angles, dtype=float)
        mats = ry_batch(angles)
        out = mats[:, 0]
        for q in range(1, self.n_qubits):
            out = np.einsum("rij,rkl->rikjl", out, mats[:, q]).reshape(
                angles.shape[0], out.shape[1] * 2, out.shape[2] * 2
            )
        return out

    def z_signs(self, qubits: tuple[int, ...]) -> NDArray[np.float64]:
        """(d, C) matrix of Z eigenvalues: column c holds ⟨j|Z_{qubits[c]}|j⟩ = ±1."""
        basis = np.arange(self.dim)
        cols = [1.0 - 2.0 * ((basis >> (self.n_qubits - 1 - q)) & 1) for q in qubits]
        return np.stack(cols, axis=1)
