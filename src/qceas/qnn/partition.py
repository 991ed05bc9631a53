"""Model-level partition: one circuit's qubits split across QPUs, with every
cross-QPU gate of the entangling block run by gate teleportation through a Bell pair.

A :class:`Partition` maps each qubit of the register to the QPU that holds it. An
entangling gate whose two qubits sit on different QPUs is *nonlocal*: it consumes one
Bell pair shared by those QPUs and, with a Werner pair of fidelity F, acts as the
ideal gate followed by the two-qubit Pauli channel of
:func:`qceas.physics.teleported_cnot` (Eisert et al., PRA 62, 052317 (2000)). A
teleported CZ is a teleported CNOT conjugated by H on the target, so its channel is
the CNOT's with X and Z exchanged on the target.

The entangling block is Clifford (CNOTs or CZs), so a Pauli error raised after one of
its gates is still a Pauli after the remaining gates: C·P·C† = ±P'. The whole block
is therefore the ideal block E followed by one n-qubit Pauli channel,

    ρ ↦ Σ_P p_P · P (E ρ E†) P,

whose distribution p over Pauli strings :func:`block_error` builds gate by gate:
conjugate the error accumulated so far through the gate, then, for a nonlocal gate,
compose it with the gate's own channel (a convolution over the Pauli group, where
multiplying Pauli strings ignores phases). Strings are indexed like
``qceas.qnn.pauli``: digits I, X, Y, Z = 0..3, qubit 0 the most significant.

:class:`BlockError` applies that channel to density matrices (a sum over its support)
and to Pauli-coefficient vectors (a diagonal: the coefficient of Q is scaled by
λ_Q = Σ_P p_P·(+1 if P and Q commute, else −1)).

Written here because the circuit simulators we could use (PennyLane, Qiskit Aer) do
not model a gate teleported through a decaying pair as part of a variational circuit,
and our simulator needs the error folded into its batched layer kernels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas._rules import is_integer
from qceas.physics.teleport import PAULIS, teleported_cnot
from qceas.qnn.ansatz import Ansatz
from qceas.qnn.pauli import pauli_digits

# Products of single-qubit Paulis up to phase: _PRODUCT[a, b] = index of σ_a σ_b.
_PRODUCT = np.array([[0, 1, 2, 3], [1, 0, 3, 2], [2, 3, 0, 1], [3, 2, 1, 0]])
# (x, z) bits of I, X, Y, Z, and back.
_X = np.array([0, 1, 1, 0])
_Z = np.array([0, 0, 1, 1])
_FROM_XZ = np.array([[0, 3], [1, 2]])  # _FROM_XZ[x, z]


@dataclass(frozen=True)
class Partition:
    """Which QPU holds each qubit of the register.

    Args:
        qpu_of: ``qpu_of[q]`` is the QPU (an integer >= 0) holding qubit q.
        capacity: qubits each QPU can hold: one number for all, one per QPU, or None
            (no limit).
    """

    qpu_of: tuple[int, ...]
    capacity: int | tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        qpus = tuple(self.qpu_of)
        if not qpus or not all(is_integer(k) and k >= 0 for k in qpus):
            raise ValueError(
                f"partition.qpu_of = {self.qpu_of!r}: must be a non-empty list of QPU "
                "indices >= 0, one per qubit"
            )
        object.__setattr__(self, "qpu_of", tuple(int(k) for k in qpus))
        held = np.bincount(self.qpu_of)
        cap = self.capacity
        if cap is None:
            return
        limits = np.full(held.size, cap) if is_integer(cap) else np.asarray(cap, dtype=object)
        if (
            limits.ndim != 1
            or not all(is_integer(c) and c >= 0 for c in limits)
            or (not is_integer(cap) and limits.size < held.size)
        ):
            raise ValueError(
                f"partition.capacity = {cap!r}: must be an integer >= 0 or one per QPU "
                f"({held.size} QPUs are used)"
            )
        over = np.flatnonzero(held > limits[: held.size].astype(int))
        if over.size:
            k = int(over[0])
            qubits = [q for q, owner in enumerate(self.qpu_of) if owner == k]
            raise ValueError(
                f"partition: QPU {k} holds {held[k]} qubits {qubits} but its capacity is "
                f"{int(limits[k])}; move qubits to another QPU or raise its capacity"
            )

    @classmethod
    def contiguous(cls, n_qubits: int, n_qpus: int, capacity: int | None = None) -> Partition:
        """Qubits in order, split into ``n_qpus`` blocks as even as possible."""
        if not (is_integer(n_qpus) and 1 <= n_qpus <= n_qubits):
            raise ValueError(f"n_qpus = {n_qpus!r}: must be an integer in [1, {n_qubits}]")
        sizes = np.full(n_qpus, n_qubits // n_qpus) + (np.arange(n_qpus) < n_qubits % n_qpus)
        return cls(tuple(int(k) for k in np.repeat(np.arange(n_qpus), sizes)), capacity)

    @property
    def n_qubits(self) -> int:
        return len(self.qpu_of)

    @property
    def n_qpus(self) -> int:
        return max(self.qpu_of) + 1

    def nonlocal_gates(self, ansatz: Ansatz) -> list[int]:
        """Indices into ``ansatz.entangler_pairs()`` of the gates that cross QPUs."""
        if ansatz.n_qubits != self.n_qubits:
            raise ValueError(
                f"partition covers {self.n_qubits} qubits but the model has "
                f"{ansatz.n_qubits}; give one QPU per qubit"
            )
        return [
            i
            for i, (a, b) in enumerate(ansatz.entangler_pairs())
            if self.qpu_of[a] != self.qpu_of[b]
        ]

    def check_routes(self, ansatz: Ansatz, connected: Callable[[int, int], bool]) -> None:
        """Raise if a nonlocal gate joins two QPUs that ``connected`` says share no
        route (e.g. ``lambda a, b: nx.has_path(graph, a, b)``)."""
        pairs = ansatz.entangler_pairs()
        for i in self.nonlocal_gates(ansatz):
            a, b = pairs[i]
            qa, qb = self.qpu_of[a], self.qpu_of[b]
            if not connected(qa, qb):
                raise ValueError(
                    f"partition: gate {ansatz.entangler.upper()}({a}, {b}) joins QPU {qa} "
                    f"and QPU {qb}, which have no route in the network; it needs a Bell pair "
                    "between them"
                )


def _index(digits: NDArray[np.int64]) -> NDArray[np.int64]:
    n = digits.shape[1]
    return np.asarray(digits @ (4 ** (n - 1 - np.arange(n))), dtype=np.int64)


def _conjugation(ansatz: Ansatz, gate: tuple[int, int]) -> NDArray[np.int64]:
    """Permutation of string indices: where C·P·C† sends P, for one block gate C."""
    n = ansatz.n_qubits
    digits = pauli_digits(n)
    x, z = _X[digits], _Z[digits]
    a, b = gate
    if ansatz.entangler == "cnot":  # X_c → X_c X_t, Z_t → Z_c Z_t
        x[:, b] ^= x[:, a]
        z[:, a] ^= z[:, b]
    else:  # CZ: X_a → X_a Z_b, X_b → Z_a X_b
        z[:, b] ^= x[:, a]
        z[:, a] ^= x[:, b]
    return _index(_FROM_XZ[x, z])


def gate_channel(entangler: str, fidelity: float) -> NDArray[np.float64]:
    """(4, 4) Pauli table after a teleported CNOT or CZ (first index: control, or the
    first qubit of the CZ)."""
    table = teleported_cnot(fidelity)
    if entangler == "cz":  # H on the target: X ↔ Z there
        table = table[:, [0, 3, 2, 1]]
    return np.asarray(table, dtype=float)


def block_error(ansatz: Ansatz, partition: Partition, fidelity: ArrayLike) -> NDArray[np.float64]:
    """(4^n,) probabilities of the Pauli error after the entangling block.

    Args:
        fidelity: the Bell pair's fidelity at use, in [1/4, 1]: one for every nonlocal
            gate, or one per nonlocal gate in block order.
    """
    n = ansatz.n_qubits
    nonlocal_ = partition.nonlocal_gates(ansatz)
    f = np.asarray(fidelity, dtype=float)
    if f.ndim > 1 or (f.ndim == 1 and f.size != len(nonlocal_)):
        raise ValueError(
            f"fidelity has shape {f.shape}: must be one number or one per nonlocal gate "
            f"({len(nonlocal_)})"
        )
    per_gate = np.broadcast_to(f, (len(nonlocal_),))
    dist = np.zeros(4**n)
    dist[0] = 1.0
    digits = pauli_digits(n)
    pairs = ansatz.entangler_pairs()
    for i, gate in enumerate(pairs):
        moved = np.zeros_like(dist)
        moved[_conjugation(ansatz, gate)] = dist
        dist = moved
        if i in nonlocal_:
            table = gate_channel(ansatz.entangler, float(per_gate[nonlocal_.index(i)]))
            a, b = gate
            out = np.zeros_like(dist)
            for j, k in zip(*np.nonzero(table), strict=True):
                shifted = digits.copy()
                shifted[:, a] = _PRODUCT[shifted[:, a], j]
                shifted[:, b] = _PRODUCT[shifted[:, b], k]
                out[_index(shifted)] += table[j, k] * dist
            dist = out
    return dist


#: Entries of the (support × strings) anticommutation table built at once: above, in
#: slices of strings. At least 4^5 · 4^5, so no register of up to MAX_PAULI_QUBITS is
#: sliced (their numbers keep their bits).
SLICE_ENTRIES = 1 << 24


class BlockError:
    """The Pauli channel ρ ↦ Σ_P p_P·P ρ P of :func:`block_error`, ready to apply.

    Args:
        probabilities: (4^n,) distribution over Pauli strings.
        n_qubits: n.
    """

    def __init__(self, probabilities: ArrayLike, n_qubits: int) -> None:
        p = np.asarray(probabilities, dtype=float)
        if p.shape != (4**n_qubits,) or np.any(p < -1e-15) or abs(p.sum() - 1) > 1e-9:
            raise ValueError(
                f"probabilities: must be a distribution over the {4**n_qubits} Pauli "
                f"strings of {n_qubits} qubits"
            )
        self.n_qubits = n_qubits
        self.support = np.flatnonzero(p > 1e-15)
        self.weights = p[self.support]

    @property
    def trivial(self) -> bool:
        """True when the channel is the identity (no error at all)."""
        return bool(self.support.size == 1 and self.support[0] == 0)

    @cached_property
    def transfer_diagonal(self) -> NDArray[np.float64]:
        """(4^n,) λ_Q: the channel's Pauli transfer matrix is diag(λ)."""
        digits = pauli_digits(self.n_qubits)
        x, z = _X[digits], _Z[digits]
        xs, zs = x[self.support], z[self.support]
        # (support, 4^n) at once where that is small; in slices of strings above
        # (6.5 GiB at 10 qubits over 4 QPUs otherwise; 0.76 GiB in slices). Small
        # registers keep the one product, and so their bits.
        width = 4**self.n_qubits
        step = (
            width if xs.shape[0] * width <= SLICE_ENTRIES else max(1, SLICE_ENTRIES // xs.shape[0])
        )
        out = np.empty(width)
        for lo in range(0, width, step):
            hi = lo + step
            anti = ((xs @ z[lo:hi].T) + (zs @ x[lo:hi].T)) % 2  # 1 where they anticommute
            out[lo:hi] = self.weights @ (1.0 - 2.0 * anti)
        return out

    @cached_property
    def _operators(self) -> list[NDArray[np.complex128]]:
        digits = pauli_digits(self.n_qubits)[self.support]
        out = []
        for row in digits:
            op = np.ones((1, 1), dtype=complex)
            for d in row:
                op = np.kron(op, PAULIS[int(d)])
            out.append(op)
        return out

    def apply_density(self, ops: NDArray[np.complex128]) -> None:
        """Apply in place to (..., d, d) operators (states, tangents: it is linear)."""
        if self.trivial:
            return
        total = np.zeros_like(ops)
        for weight, op in zip(self.weights, self._operators, strict=True):
            total += weight * (op @ ops @ op.conj().T)
        ops[...] = total

    def apply_pauli(self, vecs: NDArray[np.float64]) -> None:
        """Apply in place to (..., 4^n) Pauli-coefficient vectors."""
        if not self.trivial:
            vecs *= self.transfer_diagonal


def teleported_block(ansatz: Ansatz, partition: Partition, fidelity: ArrayLike) -> BlockError:
    """:class:`BlockError` of the entangling block under ``partition`` at ``fidelity``."""
    return BlockError(block_error(ansatz, partition, fidelity), ansatz.n_qubits)


def pairs_per_execution(ansatz: Ansatz, partition: Partition) -> dict[tuple[int, int], int]:
    """Bell pairs one run of the circuit consumes, per pair of QPUs (a, b), a < b: one
    per nonlocal gate per layer (a pair is used once; a shot needs fresh pairs)."""
    pairs = ansatz.entangler_pairs()
    out: dict[tuple[int, int], int] = {}
    for i in partition.nonlocal_gates(ansatz):
        a, b = (partition.qpu_of[q] for q in pairs[i])
        key = (min(a, b), max(a, b))
        out[key] = out.get(key, 0) + ansatz.layers
    return out


__all__ = [
    "BlockError",
    "Partition",
    "block_error",
    "gate_channel",
    "pairs_per_execution",
    "teleported_block",
]
