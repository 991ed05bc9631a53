"""PennyLane reference computations of one data-parallel training round.

One *round* of the noisy quantum neural network (QNN) is, for every node ``k`` of the
simulated network and every sample ``s`` held by that node:

* the gradient of the node's mean cross-entropy loss with respect to the shared
  parameters, and
* the mixed-state (SLD) quantum Fisher information of the node's noisy state, averaged
  over the node's samples.

This module computes those numbers with PennyLane so that a benchmark can time them
against the project's own simulator and check that the results agree. Two paths are
provided, both returning ``(grads, qfis)`` as float64 NumPy arrays of shapes ``(K, P)``
and ``(K, P, P)``:

``stock_round``
    Stock PennyLane: the ``default.mixed`` device with the autograd/NumPy interface and
    ``diff_method="backprop"``, no compilation. The loss gradient of a node comes from
    ``qml.grad`` of the node's mean loss, with the samples passed as one broadcast batch.
    The density-matrix Jacobian comes from ``qml.jacobian``. Autograd only offers
    reverse mode (one backward pass per real output) and PennyLane's parameter-shift
    transform refuses circuits that return a state, so two tricks keep this tolerable:
    the ``d**2`` independent real numbers of the Hermitian ``rho`` (real upper triangle
    plus imaginary strict upper triangle) are the only outputs, and every sample gets its
    own broadcast copy of the parameters, so differentiating the *sum* over samples of
    ``rho`` yields all per-sample Jacobians from the same ``d**2`` backward passes.

``jax_round``
    The fastest correct PennyLane path we found: ``default.mixed`` with
    ``interface="jax"`` and ``diff_method="backprop"``; the depolarizing strength is a
    traced argument of the QNode so a single compiled function serves every node.
    Per sample, forward mode gives ``d rho / d params``: ``jax.jvp`` vmapped over the
    ``P`` unit tangents, which is exactly ``jax.jacfwd`` but also returns ``rho`` from the
    same pass (complex outputs of real inputs are fine in forward mode). Then
    ``jnp.linalg.eigh`` and the SLD formula give the QFI;
    ``jax.grad`` of the node's mean loss gives the gradient. Samples and nodes are
    batched with ``jax.vmap`` (through ``jax.lax.map`` with a batch size, so memory stays
    bounded at 8+ qubits) and the whole round is one ``jax.jit`` function, cached per
    circuit shape by :func:`build_jax_round`. The first call pays tracing and XLA
    compilation; later calls with the same shapes are steady state.

The circuit (``n`` qubits, ``L`` layers, ``P = 2 n L`` parameters; parameter index of
layer ``l``, qubit ``q``, rotation ``r`` is ``l*2n + 2q + r``): ``RY(x[q])`` encoding on
every qubit; then per layer ``RY``/``RZ`` on every qubit, a CNOT ring (only ``CNOT(0, 1)``
for two qubits, none for one) and a depolarizing channel on every qubit. The project's
convention ``rho -> (1-p) rho + p I/2 (x) Tr_q rho`` equals PennyLane's
``DepolarizingChannel(3p/4)``. The readout is ``<Z_c>`` for ``c < n_classes``, the logits
are ``output_scale * <Z>`` and the loss is the softmax cross-entropy with the label.

The SLD quantum Fisher information of ``rho = sum_a lam_a |a><a|`` is
``F_ij = 2 sum_{a,b: lam_a + lam_b > 1e-12} Re(<a|d_i rho|b><b|d_j rho|a>) / (lam_a + lam_b)``.

PennyLane and JAX are imported inside the functions, so importing this module needs only
NumPy.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Eigenvalue pairs with ``lam_a + lam_b`` at or below this are left out of the SLD sum.
SLD_CUTOFF = 1e-12

#: Rough upper bound, in bytes, on the working memory of one batched chunk of samples in
#: :func:`jax_round` when the caller does not choose a chunk size.
DEFAULT_CHUNK_BYTES = 1 << 29

#: Largest batch :func:`jax_round` uses by default; bigger batches ran slower on CPU at
#: four qubits (the tangent-stacked states no longer stay in cache).
DEFAULT_MAX_CHUNK = 64

FloatArray = NDArray[np.float64]


def make_workload(
    n_qubits: int = 4,
    layers: int = 3,
    nodes: int = 50,
    samples: int = 64,
    n_classes: int = 3,
    seed: int = 0,
) -> tuple[FloatArray, FloatArray, NDArray[np.int64], FloatArray]:
    """Draw a random round: ``(params, x, y, depol)``.

    Args:
        n_qubits: Number of qubits ``n`` (also the number of input features).
        layers: Number of variational layers ``L``.
        nodes: Number of nodes ``K``.
        samples: Number of samples per node ``S``.
        n_classes: Number of classes; labels are drawn from ``range(n_classes)``.
        seed: Seed of the NumPy generator.

    Returns:
        ``params`` of shape ``(2 n L,)`` uniform in ``[0, 2 pi)``; ``x`` of shape
        ``(K, S, n)`` uniform in ``[0, pi]``; integer labels ``y`` of shape ``(K, S)``;
        ``depol`` of shape ``(K, n)``, one probability per node drawn uniformly from
        ``[0.01, 0.2]`` and repeated over the node's qubits.
    """
    rng = np.random.default_rng(seed)
    params = rng.uniform(0.0, 2.0 * np.pi, size=2 * n_qubits * layers)
    x = rng.uniform(0.0, np.pi, size=(nodes, samples, n_qubits))
    y = rng.integers(0, n_classes, size=(nodes, samples), dtype=np.int64)
    per_node = rng.uniform(0.01, 0.2, size=(nodes, 1))
    depol = np.repeat(per_node, n_qubits, axis=1)
    return params, x, y, depol


def _apply_circuit(qml: Any, params: Any, x: Any, p: Any, n_qubits: int, layers: int) -> None:
    """Queue the QNN circuit's operations.

    ``params`` and ``x`` may carry a leading broadcast dimension (``params[..., i]`` and
    ``x[..., q]`` are used), which PennyLane treats as parameter broadcasting.
    """
    for q in range(n_qubits):
        qml.RY(x[..., q], wires=q)
    if n_qubits == 1:
        ring: list[tuple[int, int]] = []
    elif n_qubits == 2:
        ring = [(0, 1)]
    else:
        ring = [(q, (q + 1) % n_qubits) for q in range(n_qubits)]
    for layer in range(layers):
        base = layer * 2 * n_qubits
        for q in range(n_qubits):
            qml.RY(params[..., base + 2 * q], wires=q)
            qml.RZ(params[..., base + 2 * q + 1], wires=q)
        for control, target in ring:
            qml.CNOT(wires=[control, target])
        for q in range(n_qubits):
            # Our depolarizing probability p is PennyLane's 3p/4.
            qml.DepolarizingChannel(0.75 * p[q], wires=q)


def sld_qfi_numpy(rho: NDArray[Any], drho: NDArray[Any]) -> FloatArray:
    """SLD quantum Fisher information from a density matrix and its derivatives.

    Args:
        rho: Density matrices, shape ``(..., d, d)``.
        drho: Derivatives ``d rho / d theta_i``, shape ``(..., P, d, d)``.

    Returns:
        The QFI matrices, shape ``(..., P, P)``.
    """
    lam, vecs = np.linalg.eigh(rho)
    vecs_b = vecs[..., None, :, :]
    # a_mat[..., i, a, b] = <a| d_i rho |b>
    a_mat = np.conj(np.swapaxes(vecs_b, -1, -2)) @ drho @ vecs_b
    lam_sum = lam[..., :, None] + lam[..., None, :]
    keep = lam_sum > SLD_CUTOFF
    weight = np.where(keep, 1.0 / np.where(keep, lam_sum, 1.0), 0.0)
    # sum_ab <a|d_i rho|b> <b|d_j rho|a> w_ab
    terms = np.einsum("...iab,...jba,...ab->...ij", a_mat, a_mat, weight)
    return np.asarray(2.0 * terms.real, dtype=np.float64)


def stock_round(
    params: FloatArray,
    x: FloatArray,
    y: NDArray[np.integer[Any]],
    depol: FloatArray,
    *,
    n_classes: int,
    output_scale: float,
    layers: int,
) -> tuple[FloatArray, FloatArray]:
    """One round on stock PennyLane (``default.mixed``, autograd, backprop, no jit).

    Args:
        params: Shared parameters, shape ``(P,)`` with ``P = 2 n layers``.
        x: Features, shape ``(K, S, n)``.
        y: Integer labels, shape ``(K, S)``.
        depol: Per-qubit depolarizing probabilities of every node (our convention),
            shape ``(K, n)``.
        n_classes: Number of read-out classes (``<Z_c>`` for ``c < n_classes``).
        output_scale: Factor applied to the expectations to form the logits.
        layers: Number of variational layers.

    Returns:
        ``(grads, qfis)``: per-node gradients of the mean loss, shape ``(K, P)``, and
        per-node sample-averaged SLD QFI matrices, shape ``(K, P, P)``.
    """
    import pennylane as qml
    from pennylane import numpy as pnp

    params = np.asarray(params, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    depol = np.asarray(depol, dtype=np.float64)
    n_nodes, n_samples, n_qubits = x.shape
    n_params = params.shape[0]
    dim = 2**n_qubits
    _check_shapes(n_params, n_qubits, layers, n_classes)

    dev = qml.device("default.mixed", wires=n_qubits)

    @qml.qnode(dev, diff_method="backprop")
    def expvals(theta: Any, feats: Any, p: Any) -> Any:
        _apply_circuit(qml, theta, feats, p, n_qubits, layers)
        return [qml.expval(qml.PauliZ(c)) for c in range(n_classes)]

    @qml.qnode(dev, diff_method="backprop")
    def density(theta: Any, feats: Any, p: Any) -> Any:
        _apply_circuit(qml, theta, feats, p, n_qubits, layers)
        return qml.density_matrix(wires=range(n_qubits))

    upper = np.triu_indices(dim)
    strict_upper = np.triu_indices(dim, 1)
    n_upper = upper[0].size

    grads = np.empty((n_nodes, n_params))
    qfis = np.empty((n_nodes, n_params, n_params))
    for k in range(n_nodes):
        feats = pnp.array(x[k], requires_grad=False)
        p = pnp.array(depol[k], requires_grad=False)
        onehot = np.eye(n_classes)[np.asarray(y[k])]

        def node_loss(theta: Any, feats: Any = feats, p: Any = p, onehot: Any = onehot) -> Any:
            logits = output_scale * pnp.stack(expvals(theta, feats, p), axis=1)  # (S, C)
            # |logits| <= output_scale, so shifting by it keeps exp() in range.
            shifted = logits - output_scale
            log_norm = pnp.log(pnp.sum(pnp.exp(shifted), axis=1))
            return -pnp.mean(pnp.sum(onehot * shifted, axis=1) - log_norm)

        grads[k] = qml.grad(node_loss)(pnp.array(params, requires_grad=True))

        def summed_rho(theta_per_sample: Any, feats: Any = feats, p: Any = p) -> Any:
            total = pnp.sum(density(theta_per_sample, feats, p), axis=0)
            return pnp.concatenate(
                [qml.math.real(total)[upper], qml.math.imag(total)[strict_upper]]
            )

        theta_ps = pnp.array(np.tile(params, (n_samples, 1)), requires_grad=True)
        jac = np.asarray(qml.jacobian(summed_rho)(theta_ps))  # (d*d, S, P)
        drho = np.zeros((n_samples, n_params, dim, dim), dtype=np.complex128)
        re_up = np.moveaxis(jac[:n_upper], 0, -1)  # (S, P, n_upper)
        im_up = np.moveaxis(jac[n_upper:], 0, -1)
        drho[..., upper[0], upper[1]] = re_up
        drho[..., upper[1], upper[0]] = re_up
        drho[..., strict_upper[0], strict_upper[1]] += 1j * im_up
        drho[..., strict_upper[1], strict_upper[0]] -= 1j * im_up
        rho = np.asarray(density(pnp.array(params, requires_grad=False), feats, p))
        qfis[k] = sld_qfi_numpy(rho, drho).mean(axis=0)
    return grads, qfis


def _check_shapes(n_params: int, n_qubits: int, layers: int, n_classes: int) -> None:
    """Raise ``ValueError`` when the parameter count or class count is inconsistent."""
    if n_params != 2 * n_qubits * layers:
        raise ValueError(f"expected {2 * n_qubits * layers} parameters, got {n_params}")
    if not 1 <= n_classes <= n_qubits:
        raise ValueError(f"n_classes must be in [1, {n_qubits}], got {n_classes}")


def default_chunk(n_qubits: int, layers: int, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Number of samples :func:`jax_round` batches at once by default.

    At most :data:`DEFAULT_MAX_CHUNK`, and fewer when the memory estimate exceeds
    ``budget_bytes``: four complex ``(P + 1, d, d)`` arrays per sample (the density
    matrix with its ``P`` tangents, the rotated derivatives and temporaries).
    """
    dim = 2**n_qubits
    per_sample = 4 * (2 * n_qubits * layers + 1) * dim * dim * 16
    return int(max(1, min(DEFAULT_MAX_CHUNK, budget_bytes // per_sample)))


@functools.cache
def build_jax_round(
    n_qubits: int,
    layers: int,
    n_classes: int,
    output_scale: float,
    chunk: int,
    n_samples: int,
) -> Callable[[Any, Any, Any, Any], tuple[Any, Any]]:
    """Build (and cache) the jitted round function of the JAX path.

    Side effect: turns on ``jax_enable_x64`` for the whole process (float64 throughout).

    Args:
        n_qubits: Number of qubits.
        layers: Number of variational layers.
        n_classes: Number of read-out classes.
        output_scale: Factor applied to the expectations to form the logits.
        chunk: Number of samples evaluated together in one vectorised batch.
        n_samples: Samples per node (sets how many nodes form a gradient batch).

    Returns:
        A ``jax.jit``-compiled function ``(params, x, y, depol) -> (grads, qfis)``
        taking and returning JAX arrays with the shapes of :func:`jax_round`.
    """
    import jax
    import jax.numpy as jnp
    import pennylane as qml

    jax.config.update("jax_enable_x64", True)
    dev = qml.device("default.mixed", wires=n_qubits)

    @qml.qnode(dev, interface="jax", diff_method="backprop")
    def expvals(theta: Any, feats: Any, p: Any) -> Any:
        _apply_circuit(qml, theta, feats, p, n_qubits, layers)
        return [qml.expval(qml.PauliZ(c)) for c in range(n_classes)]

    @qml.qnode(dev, interface="jax", diff_method="backprop")
    def density(theta: Any, feats: Any, p: Any) -> Any:
        _apply_circuit(qml, theta, feats, p, n_qubits, layers)
        return qml.density_matrix(wires=range(n_qubits))

    def sample_qfi(theta: Any, feats: Any, p: Any) -> Any:
        # Forward mode, one tangent per parameter (what jax.jacfwd does), keeping the
        # primal so the circuit is simulated once: rho (d, d), drho (P, d, d).
        def push(tangent: Any) -> Any:
            return jax.jvp(lambda t: density(t, feats, p), (theta,), (tangent,))

        basis = jnp.eye(theta.shape[0], dtype=theta.dtype)
        rho, drho = jax.vmap(push, out_axes=(None, 0))(basis)
        lam, vecs = jnp.linalg.eigh(rho)
        a_mat = vecs.conj().T[None] @ drho @ vecs[None]  # <a| d_i rho |b>
        lam_sum = lam[:, None] + lam[None, :]
        keep = lam_sum > SLD_CUTOFF
        weight = jnp.where(keep, 1.0 / jnp.where(keep, lam_sum, 1.0), 0.0)
        return 2.0 * jnp.einsum("iab,jba,ab->ij", a_mat, a_mat, weight).real

    def node_loss(theta: Any, feats: Any, labels: Any, p: Any) -> Any:
        def sample_logits(f: Any) -> Any:
            return output_scale * jnp.stack(expvals(theta, f, p))

        log_probs = jax.nn.log_softmax(jax.vmap(sample_logits)(feats), axis=-1)
        return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))

    node_grad = jax.grad(node_loss)
    node_batch = max(1, chunk // n_samples)

    def round_fn(theta: Any, x: Any, y: Any, depol: Any) -> tuple[Any, Any]:
        n_nodes = x.shape[0]
        grads = jax.lax.map(
            lambda args: node_grad(theta, *args), (x, y, depol), batch_size=node_batch
        )
        flat_x = x.reshape(n_nodes * n_samples, n_qubits)
        flat_p = jnp.repeat(depol, n_samples, axis=0)
        qfi = jax.lax.map(lambda args: sample_qfi(theta, *args), (flat_x, flat_p), batch_size=chunk)
        n_params = theta.shape[0]
        return grads, qfi.reshape(n_nodes, n_samples, n_params, n_params).mean(axis=1)

    return jax.jit(round_fn)


def jax_round(
    params: FloatArray,
    x: FloatArray,
    y: NDArray[np.integer[Any]],
    depol: FloatArray,
    *,
    n_classes: int,
    output_scale: float,
    layers: int,
    chunk: int | None = None,
) -> tuple[FloatArray, FloatArray]:
    """One round on PennyLane + JAX (``default.mixed``, jit, vmap, jacfwd).

    Same arguments and results as :func:`stock_round`, plus:

    Args:
        chunk: Samples evaluated together in one vectorised batch (nodes are batched in
            groups of ``max(1, chunk // S)`` for the gradient). ``None`` picks
            :func:`default_chunk` (64 samples at four qubits, 2 at eight). Any value is
            capped at ``K * S``; that cap means one batch, i.e. a plain ``vmap``.

    The jitted function is cached per shape, so the first call with a new shape includes
    tracing and compilation time; time a second call for the steady state.
    """
    import jax.numpy as jnp

    n_nodes, n_samples, n_qubits = np.shape(x)
    _check_shapes(np.shape(params)[0], n_qubits, layers, n_classes)
    if chunk is None:
        chunk = default_chunk(n_qubits, layers)
    chunk = max(1, min(int(chunk), n_nodes * n_samples))
    fn = build_jax_round(n_qubits, layers, n_classes, float(output_scale), chunk, n_samples)
    grads, qfis = fn(
        jnp.asarray(params, dtype=jnp.float64),
        jnp.asarray(x, dtype=jnp.float64),
        jnp.asarray(y, dtype=jnp.int64),
        jnp.asarray(depol, dtype=jnp.float64),
    )
    return np.asarray(grads, dtype=np.float64), np.asarray(qfis, dtype=np.float64)
