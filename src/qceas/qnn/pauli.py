"""Pauli-transfer (Liouville) representation of noisy circuits on small registers.

A Hermitian operator A on n qubits is stored as the real vector of its Pauli
coefficients ``a_s = Tr(P_s A)``, so that ``A = (1/d)·Σ_s a_s P_s`` (d = 2^n). Strings
are indexed ``s = Σ_q s_q·4^(n-1-q)`` with digits I, X, Y, Z = 0, 1, 2, 3, qubit 0 the
most significant, as in the computational basis. A channel Φ acts as the real
``4^n × 4^n`` Pauli transfer matrix ``R_st = (1/d)·Tr(P_s Φ(P_t))`` (Greenbaum,
arXiv:1509.02921, §3.3). Why this representation for n ≤ ``MAX_PAULI_QUBITS``:

* the layer unitary becomes one dense real matrix shared by all rows, applied to every
  state and tangent in a single large GEMM (efficient BLAS, no batched small products);
* the per-qubit noise of the ansatz is diagonal in this basis, up to the one
  non-unital term of amplitude damping, so a whole layer of noise is one elementwise
  multiply instead of strided block updates of the density matrix;
* expectation values of Z strings are read off directly: ``⟨Z_c⟩ = a_{Z_c}``;
* the vectors are real, half the memory traffic of complex density matrices.

Its cost grows as 16^n per operator (against 2·8^n complex for a density-matrix
sandwich), so larger registers use the density-matrix kernels of ``simulate``.

Single-qubit noise of ``noise.py`` as a Pauli transfer matrix on one qubit (rows and
columns I, X, Y, Z), depolarizing p then amplitude damping γ:

    [[1, 0, 0, 0], [0, c, 0, 0], [0, 0, c, 0], [γ, 0, 0, (1-γ)(1-p)]],  c = (1-p)·√(1-γ).
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray

#: Registers up to this size use the Pauli-transfer kernels.
MAX_PAULI_QUBITS = 5

_SINGLE = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex
)


@cache
def pauli_basis(n_qubits: int) -> NDArray[np.complex128]:
    """All 4^n Pauli strings as matrices, shape (4^n, d, d), in the module's order."""
    out = _SINGLE
    for _ in range(n_qubits - 1):
        out = np.einsum("aij,bkl->abikjl", out, _SINGLE).reshape(
            out.shape[0] * 4, out.shape[1] * 2, out.shape[2] * 2
        )
    out.setflags(write=False)
    return out


@cache
def _flat_basis(n_qubits: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Real and imaginary parts of the flattened basis (4^n, d²), contiguous for BLAS."""
    basis = pauli_basis(n_qubits)
    flat = basis.reshape(basis.shape[0], -1)
    re, im = np.ascontiguousarray(flat.real), np.ascontiguousarray(flat.imag)
    re.setflags(write=False)
    im.setflags(write=False)
    return re, im


def to_pauli(ops: NDArray[np.complex128], n_qubits: int) -> NDArray[np.float64]:
    """Pauli coefficients ``Tr(P_s A)`` of Hermitian matrices (..., d, d) → (..., 4^n).

    ``Tr(P_s A) = Σ_ij conj((P_s)_ij)·A_ij`` (P_s is Hermitian), whose real part is
    ``Re(P)·Re(A) + Im(P)·Im(A)`` summed over ij.
    """
    re, im = _flat_basis(n_qubits)
    d2 = re.shape[1]
    flat = np.ascontiguousarray(ops).reshape(-1, d2)
    out = np.ascontiguousarray(flat.real) @ re.T + np.ascontiguousarray(flat.imag) @ im.T
    return out.reshape(*ops.shape[:-2], re.shape[0])


@cache
def _xz_layout(n_qubits: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray]:
    """Index maps for ``from_pauli``.

    Returns ``order`` (d, d): the string index of each (x, z) mask pair; ``sign``
    (d, d): the phase i^{|x∧z|} of P = i^{|x∧z|}·X^x·Z^z (Y = iXZ) as a real ±1 and
    whether it is imaginary; and ``source`` (d²): for each matrix cell (r, c), the
    position ``x·d + c`` with ``x = r ⊕ c`` where ``(X^x Z^z)_{c⊕x, c} = (−1)^{z·c}``.
    """
    n, d = n_qubits, 1 << n_qubits
    digits = pauli_digits(n)  # I, X, Y, Z = 0, 1, 2, 3
    weights = 1 << (n - 1 - np.arange(n))
    xbits = ((digits == 1) | (digits == 2)).astype(np.int64)
    zbits = ((digits == 2) | (digits == 3)).astype(np.int64)
    x, z = xbits @ weights, zbits @ weights
    order = np.empty((d, d), dtype=np.int64)
    order[x, z] = np.arange(4**n)
    power = (xbits * zbits).sum(axis=1) % 4  # phase i^power
    sign = np.empty((d, d))
    sign[x, z] = np.where(power < 2, 1.0, -1.0)
    imaginary = np.empty((d, d), dtype=bool)
    imaginary[x, z] = power % 2 == 1
    r, c = np.divmod(np.arange(d * d), d)
    source = (r ^ c) * d + c
    for arr in (order, sign, imaginary, source):
        arr.setflags(write=False)
    return order, np.stack([np.where(imaginary, 0.0, sign), np.where(imaginary, sign, 0.0)]), source


def from_pauli(vecs: NDArray[np.float64], n_qubits: int) -> NDArray[np.complex128]:
    """Matrices ``(1/d)·Σ_s a_s P_s`` from Pauli coefficients (..., 4^n) → (..., d, d).

    Uses the sparsity of Pauli strings: for each X-mask x the d entries
    ``ρ[c⊕x, c] = (1/d)·Σ_z i^{|x∧z|} a_{(x,z)} (−1)^{z·c}`` are one Walsh–Hadamard
    transform over z, so a conversion costs d³ instead of the d⁴ of a dense product.
    """
    order, phases, source = _xz_layout(n_qubits)
    d = 1 << n_qubits
    lead = vecs.shape[:-1]
    grouped = vecs.reshape(-1, 4**n_qubits)[:, order]  # (N, x, z)
    walsh = _walsh(n_qubits) / d
    out = np.empty((grouped.shape[0], d * d), dtype=complex)
    # Real and imaginary parts are separate real GEMMs; a gather puts [x, c] at [c⊕x, c].
    # (A fast Walsh–Hadamard transform in numpy was slower at 8 qubits: 0.37 s against
    # 0.25 s for 49 vectors, its n strided passes costing more than the GEMM's flops.)
    out.real = ((grouped * phases[0]) @ walsh).reshape(-1, d * d)[:, source]
    out.imag = ((grouped * phases[1]) @ walsh).reshape(-1, d * d)[:, source]
    return out.reshape(*lead, d, d)


def transfer_matrix(unitary: NDArray[np.complex128], n_qubits: int) -> NDArray[np.float64]:
    """Pauli transfer matrix of ``ρ → UρU†``: ``R_st = (1/d)·Tr(P_s U P_t U†)``."""
    basis = pauli_basis(n_qubits)
    conjugated = unitary @ basis @ unitary.conj().T  # U P_t U† for every t
    return to_pauli(conjugated, n_qubits).T / (1 << n_qubits)


def local_superop(images: NDArray[np.complex128]) -> NDArray[np.float64]:
    """4×4 transfer matrix of a Hermitian-preserving one-qubit map from the images
    ``Φ(σ_b)`` (4, 2, 2) of I, X, Y, Z: ``M_ab = (1/2)·Tr(σ_a Φ(σ_b))``."""
    return np.real(np.einsum("aji,bij->ab", _SINGLE, images)) / 2


def commutator_transfer(generator: NDArray[np.complex128]) -> NDArray[np.float64]:
    """4×4 transfer matrix of ``A ↦ -(i/2)·[G, A]`` on one qubit: the derivative of
    ``exp(-iθG/2)·A·exp(iθG/2)`` at θ = 0, how an angle's tangent is born (forward
    mode, ``simulate``) and read off (reverse mode, ``adjoint``)."""
    return local_superop(-0.5j * (generator @ _SINGLE - _SINGLE @ generator))


def paulis() -> NDArray[np.complex128]:
    """I, X, Y, Z as a read-only (4, 2, 2) array."""
    return _SINGLE


def apply_local(
    vecs: NDArray[np.float64], matrix: NDArray[np.float64], qubit: int, n_qubits: int
) -> NDArray[np.float64]:
    """Apply a 4×4 matrix to digit ``qubit`` of Pauli vectors (R, 4^n) → new (R, 4^n)."""
    rows = vecs.shape[0]
    v = vecs.reshape(rows, 4**qubit, 4, 4 ** (n_qubits - qubit - 1))
    return np.einsum("ab,rxby->rxay", matrix, v).reshape(rows, -1)


def pauli_digits(n_qubits: int) -> NDArray[np.int64]:
    """(4^n, n) digits (I, X, Y, Z = 0..3) of every string index, qubit 0 first."""
    s = np.arange(4**n_qubits)
    return (s[:, None] // 4 ** (n_qubits - 1 - np.arange(n_qubits))[None, :]) % 4


class PauliChannel:
    """Per-row depolarizing + amplitude damping on every qubit, in the Pauli basis.

    The diagonal of the per-qubit transfer matrices multiplies into one (R, 4^n) mask;
    amplitude damping's Z ← γ·I term is then added qubit by qubit (commuting maps on
    different qubits compose in any order, so mask-then-add is exact).

    Args:
        depolarizing: (R, n) per-row, per-qubit p.
        amplitude_damping: (R, n) per-row, per-qubit γ.
    """

    def __init__(self, depolarizing: NDArray, amplitude_damping: NDArray) -> None:
        p = np.asarray(depolarizing, dtype=float)
        g = np.asarray(amplitude_damping, dtype=float)
        self.n_qubits = n = p.shape[1]
        c = (1.0 - p) * np.sqrt(1.0 - g)
        diag = np.stack([np.ones_like(p), c, c, (1.0 - g) * (1.0 - p)], axis=-1)  # (R, n, 4)
        # The mask is the Kronecker product of the qubits' diagonals, built digit by
        # digit (qubit 0 most significant); the factors multiply in qubit order.
        mask = np.ones((p.shape[0], 1))
        for q in range(n):
            mask = (mask[:, :, None] * diag[:, q, None, :]).reshape(p.shape[0], -1)
        self.mask = mask
        self.damping = [(q, g[:, q]) for q in range(n) if g[:, q].any()]

    def apply(self, ops: NDArray[np.float64]) -> None:
        """In place on (M, R, 4^n) Pauli vectors."""
        ops *= self.mask
        n = self.n_qubits
        for q, gamma in self.damping:
            v = ops.reshape(ops.shape[0], ops.shape[1], 4**q, 4, 4 ** (n - q - 1))
            v[:, :, :, 3, :] += gamma[:, None, None] * v[:, :, :, 0, :]


@cache
def z_string_indices(n_qubits: int) -> NDArray[np.int64]:
    """Indices of the 2^n strings made of I and Z only, ordered like bit strings."""
    bits = (np.arange(1 << n_qubits)[:, None] >> (n_qubits - 1 - np.arange(n_qubits))) & 1
    out = (3 * bits * 4 ** (n_qubits - 1 - np.arange(n_qubits))).sum(axis=1)
    out.setflags(write=False)
    return out


@cache
def _walsh(n_qubits: int) -> NDArray[np.float64]:
    h = np.array([[1.0, 1.0], [1.0, -1.0]])
    out = np.ones((1, 1))
    for _ in range(n_qubits):
        out = np.kron(out, h)
    out.setflags(write=False)
    return out


def diagonal(vecs: NDArray[np.float64], n_qubits: int) -> NDArray[np.float64]:
    """Computational-basis diagonal ``⟨j|A|j⟩`` from Pauli vectors (..., 4^n) → (..., d).

    ``⟨j|A|j⟩ = (1/d)·Σ_{s ∈ {I,Z}^n} a_s·Π_q (−1)^{j_q [s_q = Z]}``, a Walsh–Hadamard
    transform of the I/Z coefficients.
    """
    iz = vecs[..., z_string_indices(n_qubits)]
    return (iz @ _walsh(n_qubits)) / (1 << n_qubits)


def diagonal_transpose(cotangent: NDArray[np.float64], n_qubits: int) -> NDArray[np.float64]:
    """The transpose of ``diagonal``: ∂L/∂a (..., 4^n) from ∂L/∂⟨j|A|j⟩ (..., d).

    ``diagonal`` is linear, ``a ↦ a[IZ]·W/d`` with W the (symmetric) Walsh matrix, so its
    transpose puts ``cotangent·W/d`` on the I/Z strings and zero elsewhere.
    """
    out = np.zeros((*cotangent.shape[:-1], 4**n_qubits))
    out[..., z_string_indices(n_qubits)] = (cotangent @ _walsh(n_qubits)) / (1 << n_qubits)
    return out
