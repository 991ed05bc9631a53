"""QFI estimators: the exact SLD QFI and lower bounds a QPU could measure.

A node's QFI weight needs F(θ) of its noisy output state ρ(θ) (``qceas.qnn.fisher``).
The exact symmetric-logarithmic-derivative (SLD) QFI needs the eigendecomposition of
ρ, i.e. the full density matrix, which no QPU hands out. This module offers, beside
it, two lower bounds that need only overlaps Tr[AB] of states a QPU can prepare, each
measured with a destructive SWAP test on 2n qubits (Garcia-Escartin & Chamorro-Posada,
PRA 87, 052330 (2013)); their hardware cost is priced in :mod:`qceas.qnn.timing`.

Estimators (:data:`QFI_ESTIMATORS`, chosen by ``model.qfi_estimator``):

* ``sld`` — exact (Liu, Yuan, Lu & Wang, J. Phys. A 53, 023001 (2020), eq. 42):

      F_ij = 2·Σ_{a,b} Re(⟨a|∂_iρ|b⟩⟨b|∂_jρ|a⟩) / (λ_a + λ_b).

* ``sub_qfi`` — the sub-QFI of Cerezo, Sone, Beckey & Coles, Quantum Sci. Technol. 6,
  035008 (2021), in matrix form:

      S_ij = 2·Tr[∂_iρ ∂_jρ] + 2·Tr[ρ∂_iρ]·Tr[ρ∂_jρ] / (1 − Tr ρ²).

* ``hilbert_schmidt`` — its first term alone, ``H_ij = 2·Tr[∂_iρ ∂_jρ]`` (twice the
  Hilbert–Schmidt metric), which needs no purity.

**Derivation of the bounds (exact statements).** Along a direction v, let
ρ_ε = ρ + ε·ρ' + ε²/2·ρ'' with ρ' = Σ_i v_i ∂_iρ. The super-fidelity
G(ρ, σ) = Tr[ρσ] + √((1 − Tr ρ²)(1 − Tr σ²)) bounds Uhlmann's fidelity
F_U(ρ, σ) = (Tr|√ρ√σ|)² from above (Miszczak, Puchała, Horodecki, Uhlmann &
Życzkowski, Quantum Inf. Comput. 9, 103 (2009)). With P = 1 − Tr ρ², a = Tr[ρρ'],
b = Tr[ρ'²] and c = Tr[ρρ'']: Tr[ρρ_ε] = 1 − P + εa + ε²c/2 and
1 − Tr ρ_ε² = P − 2εa − ε²(b + c), so

    √(P·(P − 2εa − ε²(b + c))) = P − εa − ε²(b + c)/2 − ε²a²/(2P) + O(ε³),
    1 − G(ρ, ρ_ε) = ε²/2·(b + a²/P) + O(ε³).

The Bures expansion is 1 − F_U(ρ, ρ_ε) = ε²/4·vᵀFv + O(ε³) (Braunstein & Caves, PRL 72,
3439 (1994)), and G ≥ F_U gives 1 − G ≤ 1 − F_U, hence for every v

    vᵀFv ≥ 2b + 2a²/P = vᵀSv ≥ 2b = vᵀHv,

i.e. F ⪰ S ⪰ H as matrices (the last because the extra term is a rank-one PSD matrix).
On pure states (P = 0: a = ½·∂Tr ρ² = 0) S = H = F: with ρ = |ψ⟩⟨ψ|,
2·Tr[∂_iρ∂_jρ] = 4·Re[⟨∂_iψ|∂_jψ⟩ − ⟨∂_iψ|ψ⟩⟨ψ|∂_jψ⟩], the pure-state QFI. Under global
depolarizing noise ρ = p·|ψ⟩⟨ψ| + (1 − p)·I/d of a unitary family, S = H = p²·F_pure
while F = p²·F_pure / (p + 2(1 − p)/d) (tested): the bounds fall with noise faster
than the QFI does, which a weight that should count noisy nodes less can use.

Where P is below :data:`PURE_CUTOFF` the state is taken as pure and the purity term is
dropped (a → 0 there as fast as P does; see above). Nothing here is heuristic; what is
an estimate is only the measurement of the overlaps on hardware (shot noise), which
this package does not sample (QFI claims are exact properties of the declared circuit,
as for ``sld``).

Why by hand: PennyLane's ``metric_tensor`` on mixed states is neither quantity (see
``qceas.qnn.fisher``), and no library computes the sub-QFI of a batch of states.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qceas.qnn.fisher import qfi_mixed, qfi_pure
from qceas.qnn.pauli import from_pauli
from qceas.registry import Registry

#: 1 − Tr ρ² at or below this: the state is pure and the purity term of ``sub_qfi`` is 0.
PURE_CUTOFF = 1e-12

Matrices = NDArray[np.float64]


@dataclass(frozen=True)
class QFIEstimator:
    """One estimator: its QFI matrices of mixed states (from ρ and ∂ρ) and of pure
    states (from ψ and ∂ψ).

    Attributes:
        name: the registry name.
        bound: ``exact`` or ``lower`` (F ⪰ estimate, shown in the module docstring).
        mixed: (R, d, d) ρ, (R, P, d, d) ∂ρ → (R, P, P).
        pure: (R, d) ψ, (R, P, d) ∂ψ → (R, P, P).
        pauli: the same from Pauli vectors (``qceas.qnn.pauli``): (R, 4^n) ρ,
            (R, P, 4^n) ∂ρ and n → (R, P, P).
    """

    name: str
    bound: str
    mixed: Callable[[NDArray[np.complex128], NDArray[np.complex128]], Matrices]
    pure: Callable[[NDArray[np.complex128], NDArray[np.complex128]], Matrices]
    pauli: Callable[[NDArray[np.float64], NDArray[np.float64], int], Matrices]


#: QFI estimators by name.
QFI_ESTIMATORS: Registry[QFIEstimator] = Registry("QFI estimator")


def hilbert_schmidt_matrix(
    rho: NDArray[np.complex128], tangents: NDArray[np.complex128]
) -> Matrices:
    """``H_ij = 2·Tr[∂_iρ ∂_jρ]``: for Hermitian A, B, Tr[AB] = vec(A)·conj(vec(B))."""
    rows, big_p, d, _ = tangents.shape
    flat = np.ascontiguousarray(tangents).reshape(rows, big_p, d * d)
    return 2.0 * np.real(flat @ np.conj(np.swapaxes(flat, 1, 2)))


def sub_qfi_matrix(rho: NDArray[np.complex128], tangents: NDArray[np.complex128]) -> Matrices:
    """``S_ij = H_ij + 2·a_i·a_j/(1 − Tr ρ²)`` with ``a_i = Tr[ρ∂_iρ]``."""
    rows, big_p, d, _ = tangents.shape
    flat = np.ascontiguousarray(tangents).reshape(rows, big_p, d * d)
    vec = np.ascontiguousarray(rho).reshape(rows, d * d)
    h = hilbert_schmidt_matrix(rho, tangents)
    a = np.real(np.einsum("rpk,rk->rp", flat, np.conj(vec)))
    loss = 1.0 - np.real(np.einsum("rk,rk->r", vec, np.conj(vec)))
    return _with_purity_term(h, a, loss)


def _with_purity_term(h: Matrices, a: NDArray[np.float64], loss: NDArray[np.float64]) -> Matrices:
    """``S = H + 2·a·aᵀ/(1 − Tr ρ²)`` from H, ``a_i = Tr[ρ∂_iρ]`` and ``1 − Tr ρ²``; the
    term is dropped where the state is pure (``PURE_CUTOFF``)."""
    mixed = loss > PURE_CUTOFF
    scale = np.where(mixed, 2.0 / np.where(mixed, loss, 1.0), 0.0)
    return h + scale[:, None, None] * a[:, :, None] * a[:, None, :]


def sld_pauli(vecs: NDArray[np.float64], tangents: NDArray[np.float64], n_qubits: int) -> Matrices:
    """The SLD QFI needs ρ's eigenbasis: the vectors become density matrices first."""
    return qfi_mixed(from_pauli(vecs, n_qubits), from_pauli(tangents, n_qubits))


def hilbert_schmidt_pauli(
    vecs: NDArray[np.float64], tangents: NDArray[np.float64], n_qubits: int
) -> Matrices:
    """``H_ij = 2·Tr[∂_iρ ∂_jρ] = (2/d)·t_i·t_j``: Pauli strings are orthogonal,
    ``Tr(P_s P_t) = d·δ_st``, so no density matrix is formed."""
    return (2.0 / (1 << n_qubits)) * (tangents @ np.swapaxes(tangents, 1, 2))


def sub_qfi_pauli(
    vecs: NDArray[np.float64], tangents: NDArray[np.float64], n_qubits: int
) -> Matrices:
    """``sub_qfi_matrix`` from Pauli vectors: ``Tr[ρ∂_iρ] = v·t_i/d``, ``Tr ρ² = v·v/d``."""
    d = 1 << n_qubits
    h = hilbert_schmidt_pauli(vecs, tangents, n_qubits)
    a = np.einsum("rpk,rk->rp", tangents, vecs) / d
    loss = 1.0 - np.einsum("rk,rk->r", vecs, vecs) / d
    return _with_purity_term(h, a, loss)


@QFI_ESTIMATORS.register("sld")
def _sld() -> QFIEstimator:
    return QFIEstimator("sld", "exact", qfi_mixed, qfi_pure, sld_pauli)


@QFI_ESTIMATORS.register("sub_qfi")
def _sub_qfi() -> QFIEstimator:
    return QFIEstimator("sub_qfi", "lower", sub_qfi_matrix, qfi_pure, sub_qfi_pauli)


@QFI_ESTIMATORS.register("hilbert_schmidt")
def _hilbert_schmidt() -> QFIEstimator:
    return QFIEstimator(
        "hilbert_schmidt", "lower", hilbert_schmidt_matrix, qfi_pure, hilbert_schmidt_pauli
    )
