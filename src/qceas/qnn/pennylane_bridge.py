"""Export a qceas QNN to PennyLane.

``to_pennylane(model)`` builds a ``pennylane.QNode`` with the same gates in the same
order, the same parameter layout (``params[l·2n + 2q + r]``), and the node's noise as
PennyLane channels:

* depolarizing p (qceas convention: replace by I/2 with probability p) →
  ``qml.DepolarizingChannel(3p/4)``, after every layer, on every qubit;
* amplitude damping γ → ``qml.AmplitudeDamping(γ)`` right after it;
* readout error r → ``qml.BitFlip(r)`` on each measured qubit just before measurement,
  which gives the same outcome statistics as flipping the read bit.

The QNode returns the expectation of Z on each measured qubit (a tuple, one entry per
class for multiclass readout; one entry for binary readout). A noiseless model goes to
``default.qubit``, a noisy one to ``default.mixed``, unless a device is given. The
node's ``shots`` are not carried over: the QNode returns exact expectations, and a
user who wants sampling sets it on the PennyLane side (``qml.set_shots``).
PennyLane is an optional dependency (extra ``oracle``), imported only here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pennylane

    from qceas.qnn.model import QNN


def to_pennylane(model: QNN, device: Any = None) -> pennylane.QNode:
    """Build the QNode ``qnode(params, x)`` of ``model`` (see the module docstring)."""
    try:
        import pennylane as qml
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "to_pennylane needs PennyLane: pip install 'qceas[oracle]' (pennylane==0.45.1)"
        ) from exc

    ansatz, noise = model.ansatz, model.noise
    n = ansatz.n_qubits
    noisy = (not noise.is_pure) or any(noise.readout_error)
    if device is None:
        device = qml.device("default.mixed" if noisy else "default.qubit", wires=n)
    pairs = ansatz.entangler_pairs()
    gate = qml.CNOT if ansatz.entangler == "cnot" else qml.CZ
    per_layer = ansatz.params_per_layer

    def encode(x: Any) -> None:
        for q in range(n):
            qml.RY(x[..., q], wires=q)

    def circuit(params: Any, x: Any) -> Any:
        encode(x)
        for layer in range(ansatz.layers):
            if layer > 0 and ansatz.encoding == "reupload":
                encode(x)
            for q in range(n):
                qml.RY(params[layer * per_layer + 2 * q], wires=q)
                qml.RZ(params[layer * per_layer + 2 * q + 1], wires=q)
            for control, target in pairs:
                gate(wires=[control, target])
            for q in range(n):
                if noise.depolarizing[q] > 0:
                    qml.DepolarizingChannel(0.75 * noise.depolarizing[q], wires=q)
                if noise.amplitude_damping[q] > 0:
                    qml.AmplitudeDamping(noise.amplitude_damping[q], wires=q)
        for q in model.measured_qubits:
            if noise.readout_error[q] > 0:
                qml.BitFlip(noise.readout_error[q], wires=q)
        return tuple(qml.expval(qml.PauliZ(q)) for q in model.measured_qubits)

    return qml.QNode(circuit, device)
