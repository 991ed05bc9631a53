"""How long a node's QPU takes to compute its update: the compute-finish time of a round.

A synchronous round starts when the aggregator broadcasts θ. Node k then runs, for
every sample of its batch and ``shots`` times each, the circuits its update needs:

* 1 forward circuit (the prediction and loss);
* 2P parameter-shifted circuits for the gradient, θ_i ± π/2 (Schuld, Bergholm, Gogolin,
  Izaac & Killoran, PRA 99, 032331 (2019));
* with QFI weighting, 2L circuits, one per rotation sublayer (the RY layer and the
  RZ layer of each variational layer): the forward circuit cut just before the
  sublayer, every qubit measured in the basis of the sublayer's generators (Y or Z;
  a Y measurement costs one more single-qubit layer). The n generators of a sublayer
  act on distinct qubits and commute, so one circuit gives every ⟨σ_a⟩ and ⟨σ_a σ_b⟩
  of the sublayer, hence its diagonal elements 1 − ⟨σ_a⟩² and its block of the
  block-diagonal metric tensor (Stokes, Izaac, Killoran & Carleo, Quantum 4, 269
  (2020)). The diagonal alone by overlaps would take P compute–uncompute circuits: for
  a rotation exp(−iθσ/2), |⟨ψ|e^{−iπσ/2}|ψ⟩|² = ⟨σ⟩² with ⟨σ⟩ in the state ψ at that
  gate (the second-order parameter shift of the fidelity, Mari, Bromley & Killoran,
  PRA 103, 012405 (2021)); the sublayer circuits are cheaper. Both are the pure-state
  metric: the mixed-state QFI this package computes has no efficient hardware
  estimator, so this prices the closest thing a QPU can measure.

That pricing is the ``sld`` estimator's (``model.qfi_estimator``). The lower bounds of
:mod:`qceas.qnn.qfi_estimators` are made of overlaps Tr[AB] of states the node can
prepare, each measured by a destructive SWAP test (Garcia-Escartin & Chamorro-Posada,
PRA 87, 052330 (2013)): both states prepared side by side on 2n qubits, one CNOT layer
and one Hadamard layer, every qubit measured. The weight needs only the trace of the
QFI, i.e. its diagonal, and by the parameter shift of the noisy circuit (the noise does
not depend on θ) ∂_iρ = (ρ_{+i} − ρ_{−i})/2 with θ_i shifted by ±π/2, so
(the two-term shift holds because every rotation has a Pauli generator)
Tr[(∂_iρ)²] = (Tr ρ_{+i}² + Tr ρ_{−i}² − 2·Tr ρ_{+i}ρ_{−i})/4 takes 3 SWAP tests per
parameter (``hilbert_schmidt``: 3P circuits), and the sub-QFI also
Tr[ρ∂_iρ] = (Tr ρρ_{+i} − Tr ρρ_{−i})/2 and Tr ρ² (``sub_qfi``: 5P + 1 circuits).
This assumes the node has 2n qubits (or two n-qubit registers it can entangle); that
is not checked against any device size here.

One shot of a circuit takes ``reset + d₁·t₁ + d₂·t₂ + measurement``, with d₁ and d₂
the circuit's single- and two-qubit *layer* depth (gates on disjoint qubits run in
parallel) and t₁, t₂ the gate times; every qubit is measured at once. Each circuit
adds a fixed ``circuit_overhead_s`` (loading and compiling the parameters). A node's
time is multiplied by its ``slowdown`` (> 0 in a config; heterogeneous QPUs, older
control electronics, shared devices). This is a simple estimate, not a bound: gates
are not scheduled across layer boundaries, the encoding RY is not merged into the
first variational RY, and RZ is priced as a pulse although transmons apply it as a
zero-time frame change. The defaults are superconducting-transmon figures:
single-qubit gates ~50 ns, two-qubit gates ~300 ns, dispersive readout ~1 µs (Krantz
et al., "A quantum engineer's guide to superconducting qubits", Appl. Phys. Rev. 6,
021318 (2019)) and active reset ~1 µs (Magnard et al., PRL 121, 060502 (2018)).
Trapped ions are about 10²–10³× slower per gate (Bruzewicz et al., Appl. Phys. Rev. 6,
021314 (2019)); set the times or the slowdown to model them.

Layer depth: the encoding is one layer of RY; each variational layer has an RY and an
RZ layer (plus a re-uploaded RY layer before each but the first, with ``encoding =
reupload``) and the entangling block. Consecutive CNOTs of a ring or a chain share a
qubit that is the target of one and the control of the next, so they do not commute:
they are layered as soon as possible in the listed order (a CNOT ring on n > 2
qubits has depth n); CZs commute, so they are layered by greedy
edge colouring (a ring has depth 2 for even n, 3 for odd n).

Written here because no library prices a variational round in wall-clock time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas.qnn.ansatz import Ansatz


@dataclass(frozen=True)
class GateTimes:
    """Durations (s) of the primitive operations of one QPU (see the module docstring).

    Attributes:
        single_qubit_s: one single-qubit gate, > 0.
        two_qubit_s: one two-qubit gate, > 0.
        measurement_s: reading out every qubit (in parallel), >= 0.
        reset_s: preparing |0…0⟩ before each shot, >= 0.
        circuit_overhead_s: fixed cost of each distinct circuit, >= 0.
    """

    single_qubit_s: float = 5.0e-8
    two_qubit_s: float = 3.0e-7
    measurement_s: float = 1.0e-6
    reset_s: float = 1.0e-6
    circuit_overhead_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("single_qubit_s", "two_qubit_s"):
            _check(f"compute.{name.replace('_s', '_gate_s')}", getattr(self, name), positive=True)
        for name in ("measurement_s", "reset_s", "circuit_overhead_s"):
            _check(f"compute.{name}", getattr(self, name), positive=False)


def _check(name: str, value: object, *, positive: bool) -> None:
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or float(value) < 0 or (positive and value == 0):  # type: ignore[arg-type]
        rule = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} = {value!r}: must be a finite number {rule}")


def entangler_depth(ansatz: Ansatz) -> int:
    """Layer depth of the entangling block (see the module docstring)."""
    pairs = ansatz.entangler_pairs()
    layer_of: dict[int, int] = {}  # qubit -> last layer that touches it (CNOT)
    used: list[set[int]] = []  # qubits busy in each layer (CZ colouring)
    depth = 0
    for a, b in pairs:
        if ansatz.entangler == "cnot":
            layer = 1 + max(layer_of.get(a, 0), layer_of.get(b, 0))
            layer_of[a] = layer_of[b] = layer
        else:
            layer = next((i + 1 for i, busy in enumerate(used) if not busy & {a, b}), 0)
            if layer == 0:
                used.append(set())
                layer = len(used)
            used[layer - 1] |= {a, b}
        depth = max(depth, layer)
    return depth


def circuit_depth(ansatz: Ansatz) -> tuple[int, int]:
    """(single-qubit layers, two-qubit layers) of one forward circuit."""
    single = 1 + 2 * ansatz.layers
    if ansatz.encoding == "reupload":
        single += ansatz.layers - 1
    return single, ansatz.layers * entangler_depth(ansatz)


def shot_time(ansatz: Ansatz, times: GateTimes, *, repeat: int = 1) -> float:
    """Seconds per shot of the forward circuit run ``repeat`` times back to back
    (2 = compute–uncompute overlap circuit)."""
    single, two = circuit_depth(ansatz)
    gates = repeat * (single * times.single_qubit_s + two * times.two_qubit_s)
    return times.reset_s + gates + times.measurement_s


def qfi_shot_times(ansatz: Ansatz, times: GateTimes) -> list[float]:
    """Seconds per shot of each of the 2L sublayer circuits that measure the QFI
    (block-)diagonal, in circuit order (see the module docstring)."""
    block = entangler_depth(ansatz)
    out = []
    for layer in range(ansatz.layers):
        reuploads = layer if ansatz.encoding == "reupload" else 0
        for sublayer, basis_change in ((0, 1), (1, 0)):  # RY: measure Y; RZ: measure Z
            single = 1 + 2 * layer + reuploads + sublayer + basis_change
            two = layer * block
            gates = single * times.single_qubit_s + two * times.two_qubit_s
            out.append(times.reset_s + gates + times.measurement_s)
    return out


#: SWAP-test circuits per sample of each overlap estimator: (per parameter, fixed).
SWAP_TESTS: dict[str, tuple[int, int]] = {"hilbert_schmidt": (3, 0), "sub_qfi": (5, 1)}


def swap_test_time(ansatz: Ansatz, times: GateTimes) -> float:
    """Seconds per shot of a destructive SWAP test of two copies of the forward
    circuit (shifted or not): their layers side by side, one CNOT layer, one H layer."""
    single, two = circuit_depth(ansatz)
    gates = (single + 1) * times.single_qubit_s + (two + 1) * times.two_qubit_s
    return times.reset_s + gates + times.measurement_s


def estimator_shot_times(ansatz: Ansatz, times: GateTimes, estimator: str) -> list[float]:
    """Seconds per shot of each circuit a sample needs for the QFI by ``estimator``:
    the 2L sublayer circuits for ``sld``, the SWAP tests of the module docstring for
    the overlap bounds."""
    if estimator == "sld":
        return qfi_shot_times(ansatz, times)
    try:
        per_param, fixed = SWAP_TESTS[estimator]
    except KeyError:
        known = ", ".join(["sld", *SWAP_TESTS])
        raise ValueError(f"model.qfi_estimator = {estimator!r}: must be one of {known}") from None
    return [swap_test_time(ansatz, times)] * (per_param * ansatz.num_params + fixed)


def circuits_per_sample(ansatz: Ansatz, *, qfi: bool, estimator: str = "sld") -> int:
    """Distinct circuits a sample needs: the forward circuit, 2P parameter-shifted ones
    and, when ``qfi``, the QFI circuits of ``estimator`` (2L sublayer circuits for
    ``sld``)."""
    extra = len(estimator_shot_times(ansatz, GateTimes(), estimator)) if qfi else 0
    return 1 + 2 * ansatz.num_params + extra


def sample_cost(
    ansatz: Ansatz, times: GateTimes, *, qfi: bool, estimator: str = "sld"
) -> tuple[float, float]:
    """``(per_shot, per_sample)`` seconds: one shot of every circuit a sample needs
    (forward, gradient, and the QFI circuits of ``estimator`` when ``qfi``), and the
    fixed overhead of those circuits. A sample at S shots takes ``S·per_shot +
    per_sample``."""
    per_shot = (1 + 2 * ansatz.num_params) * shot_time(ansatz, times)
    if qfi:
        per_shot += sum(estimator_shot_times(ansatz, times, estimator))
    circuits = circuits_per_sample(ansatz, qfi=qfi, estimator=estimator)
    return per_shot, circuits * times.circuit_overhead_s


def compute_times(
    ansatz: Ansatz,
    times: GateTimes,
    samples: ArrayLike,
    *,
    shots: ArrayLike,
    qfi: bool,
    slowdown: ArrayLike = 1.0,
    estimator: str = "sld",
    qfi_samples: int | None = None,
) -> NDArray[np.float64]:
    """(N,) seconds from the broadcast of θ until each node's update is ready.

    Args:
        samples: (N,) samples each node evaluates per round (its batch), >= 0.
        shots: shots per circuit, >= 1: one for all nodes or (N,).
        slowdown: a factor >= 0: one for all nodes or (N,).
        estimator: the QFI estimator whose circuits ``qfi`` prices
            (``model.qfi_estimator``).
        qfi_samples: the QFI circuits run on this many of a node's samples at most
            (``model.qfi_samples``; None: on all).
    """
    n = np.asarray(samples)
    if n.ndim != 1 or not np.issubdtype(n.dtype, np.integer) or np.any(n < 0):
        raise ValueError("samples: must be a 1-D array of integers >= 0, one per node")
    shot = np.asarray(shots)
    if not np.issubdtype(shot.dtype, np.integer) or np.any(shot < 1):
        raise ValueError(f"shots = {shots!r}: must be integers >= 1")
    factor = np.asarray(slowdown, dtype=float)
    for name, value in (("shots", shot), ("compute.slowdown", factor)):
        if value.ndim > 1 or (value.ndim == 1 and value.shape != n.shape):
            raise ValueError(
                f"{name} has shape {value.shape}: must be one value or one per node {n.shape}"
            )
    if not np.all(np.isfinite(factor) & (factor >= 0)):
        raise ValueError(f"compute.slowdown = {slowdown!r}: every factor must be finite and >= 0")
    if qfi_samples is not None and (
        isinstance(qfi_samples, bool) or not isinstance(qfi_samples, int) or qfi_samples < 1
    ):
        raise ValueError(f"model.qfi_samples = {qfi_samples!r}: must be null or an integer >= 1")
    per_shot, per_sample = sample_cost(ansatz, times, qfi=qfi, estimator=estimator)
    if not qfi or qfi_samples is None:
        # Every sample with its QFI circuits: the expression (and bits) of before.
        return np.asarray(factor * n * (shot * per_shot + per_sample), dtype=float)
    # The QFI circuits run only on the rows the weight is taken on.
    bare, bare_sample = sample_cost(ansatz, times, qfi=False)
    rows = np.minimum(n, qfi_samples)
    cost = n * (shot * per_shot + per_sample)
    cost = cost - (n - rows) * (shot * (per_shot - bare) + (per_sample - bare_sample))
    return np.asarray(factor * cost, dtype=float)
