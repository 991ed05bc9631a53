"""The quantum neural network (QNN) model: one ansatz, a readout, a noise model.

``QNN`` is the object users hold. Single-node methods (``expectations``, ``loss``,
``gradient``, ``quantum_fisher``) use the model's own noise; ``evaluate_nodes`` runs
many nodes, each with its own noise and data shard, in one batched pass — the hot path
of a training round. Rows (one input of one node) are processed in chunks sized to a
memory budget: noiseless nodes on the statevector path, noisy ones in the
Pauli-transfer representation (``simulate``): dense layer transfer matrices up to
``MAX_PAULI_QUBITS`` qubits, gate-local kernels above (``pauli_local``), where with
exact expectations the gradient comes from the reverse pass (``adjoint``) and only
the QFI rows carry tangents.

With finite shots every node samples from its own random stream (``node_rngs``), row
by row, so a node draws the same shots whatever the other nodes, however its rows
fall into chunks and however the nodes are split over calls. (The numbers themselves
can differ in their last bits between splits: a row's rounding depends on the rows it
shares a BLAS call with; ``qceas.engine`` therefore fixes the split.) The evaluations
run with one BLAS thread (``qceas.reproducibility``), so the thread settings of the
machine change no bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from qceas._rules import is_integer
from qceas.qnn.adjoint import ReversePass
from qceas.qnn.ansatz import Ansatz
from qceas.qnn.noise import NoiseModel
from qceas.qnn.partition import BlockError
from qceas.qnn.pauli import MAX_PAULI_QUBITS, diagonal, diagonal_transpose
from qceas.qnn.qfi_estimators import QFI_ESTIMATORS
from qceas.qnn.readout import (
    class_probabilities,
    flip_bits,
    loss_and_cotangent,
    sample_expectations,
)
from qceas.qnn.simulate import LayerPlan, Propagated, plan_layers, propagate
from qceas.reproducibility import deterministic

if TYPE_CHECKING:  # pragma: no cover
    import pennylane

Readout = Literal["multiclass", "binary"]
READOUTS: tuple[str, ...] = ("multiclass", "binary")

#: Operator entries (states, tangents, shifted states) per chunk of rows: 2^21, about
#: 32 MiB of complex numbers. Scratch copies and the QFI's temporaries come on top (a
#: few times this), and a chunk holds at least one row whatever its size.
CHUNK_BUDGET = 1 << 21


def qfi_rows(n: int, samples: int | None) -> NDArray[np.int64]:
    """The rows of an n-row shard a node's QFI weight is taken on: all of them, or
    ``samples`` evenly spaced ones, row ⌊(j + ½)·n/q⌋ for j < q (deterministic, so a
    node's weight depends on its shard alone, and spread over the shard: shards are
    drawn in random order, and a class-sorted one is sampled in proportion)."""
    if samples is None or samples >= n:
        return np.arange(n, dtype=np.int64)
    return ((np.arange(samples) + 0.5) * n / samples).astype(np.int64)


def _subsample_se(
    total: NDArray[np.float64],
    squares: NDArray[np.float64],
    q: NDArray[np.int64],
    n: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Standard error of the mean τ of q of n rows drawn without replacement:
    s/√q·√(1 − q/n), s the rows' sample standard deviation (0 when q = n; NaN when
    q = 1 < n, where s is undefined). Nominal: the rows are evenly spaced, not drawn,
    which is as good as a random draw on a shard in random order; with minibatches n
    is the minibatch, so the error is against the minibatch's mean."""
    qf = q.astype(float)
    mean = total / qf
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(squares - qf * mean * mean, 0.0) / (qf - 1.0)
        se = np.sqrt(var / qf * (1.0 - qf / n))
    return np.where(q >= n, 0.0, np.where(q > 1, se, np.nan))


@dataclass(frozen=True)
class NodeEvaluation:
    """What every node computes in one round, at the current parameters.

    Attributes:
        loss: (K,) mean training loss on each node's shard (as the node measures it).
        gradient: (K, P) gradient of that loss (exact, or the shot-noise estimate).
        qfi: (K, P, P) QFI averaged over each node's shard (or over the subsample of
            ``QNN.qfi_samples`` rows of it), or None if not requested.
        accuracy: (K,) training accuracy each node measures on its shard.
        samples: (K,) inputs each node evaluated this round (its minibatch).
        data_sizes: (K,) training samples each node holds (its whole shard), the n_k of
            sample-weighted aggregation; None when every node evaluated its whole shard.
    """

    loss: NDArray[np.float64]
    gradient: NDArray[np.float64]
    qfi: NDArray[np.float64] | None
    accuracy: NDArray[np.float64]
    samples: NDArray[np.int64]
    data_sizes: NDArray[np.int64] | None = None
    #: (K,) standard error of each node's weight τ_k = tr(F̄_k)/P from its QFI
    #: subsample (0 where the whole shard was used, NaN from a single row); None
    #: without the QFI.
    qfi_se: NDArray[np.float64] | None = None

    @property
    def sizes(self) -> NDArray[np.int64]:
        """n_k for weighting: the shard sizes, or the evaluated counts if not given."""
        return self.samples if self.data_sizes is None else self.data_sizes


class QNN:
    """A layered variational quantum classifier with per-node noise.

    Args:
        n_qubits: register size; inputs must have ``n_qubits`` features (angles).
        layers: variational layers.
        encoding: ``"angle"`` or ``"reupload"``.
        entangler: ``"cnot"`` or ``"cz"``.
        topology: ``"ring"`` or ``"linear"``.
        readout: ``"multiclass"`` (softmax over s·⟨Z⟩ of the first ``n_classes``
            qubits) or ``"binary"`` (P(1) = σ(−s·⟨Z_0⟩)); see ``qceas.qnn.readout``.
        n_classes: number of classes (multiclass: 2..n_qubits; binary: 2).
        output_scale: inverse temperature s of the softmax / logistic readout.
        noise: the model's own NoiseModel (default: ideal).

    Example:
        >>> model = QNN(n_qubits=3, layers=2, n_classes=3)
        >>> model.num_params
        12
    """

    def __init__(
        self,
        n_qubits: int = 4,
        layers: int = 2,
        *,
        encoding: str = "angle",
        entangler: str = "cnot",
        topology: str = "ring",
        readout: str = "multiclass",
        n_classes: int = 2,
        output_scale: float = 5.0,
        noise: NoiseModel | None = None,
        qfi_estimator: str = "sld",
        qfi_samples: int | None = None,
    ) -> None:
        self.ansatz = Ansatz(
            n_qubits=n_qubits,
            layers=layers,
            encoding=encoding,  # type: ignore[arg-type]
            entangler=entangler,  # type: ignore[arg-type]
            topology=topology,  # type: ignore[arg-type]
        )
        if not is_integer(n_classes):
            raise ValueError(f"model.n_classes = {n_classes!r}: must be an integer")
        if isinstance(output_scale, bool) or not isinstance(output_scale, int | float):
            raise ValueError(f"model.output_scale = {output_scale!r}: must be a number > 0")
        if readout not in READOUTS:
            raise ValueError(f"model.readout = {readout!r}: must be one of {', '.join(READOUTS)}")
        if readout == "binary" and n_classes != 2:
            raise ValueError(f"model.n_classes = {n_classes}: binary readout needs exactly 2")
        if readout == "multiclass" and not (2 <= n_classes <= n_qubits):
            raise ValueError(
                f"model.n_classes = {n_classes}: multiclass readout needs 2 <= n_classes <= "
                f"n_qubits ({n_qubits}), one measured qubit per class"
            )
        if not (np.isfinite(output_scale) and output_scale > 0):
            raise ValueError(f"model.output_scale = {output_scale}: must be > 0")
        if not isinstance(qfi_estimator, str) or qfi_estimator not in QFI_ESTIMATORS:
            raise ValueError(
                f"model.qfi_estimator = {qfi_estimator!r}: must be one of "
                f"{', '.join(QFI_ESTIMATORS.names())}"
            )
        #: The QFI the nodes declare (``qceas.qnn.qfi_estimators``).
        self.qfi_estimator: str = qfi_estimator
        self._qfi = QFI_ESTIMATORS.get(qfi_estimator)
        if qfi_samples is not None and (not is_integer(qfi_samples) or qfi_samples < 1):
            raise ValueError(
                f"model.qfi_samples = {qfi_samples!r}: must be null or an integer >= 1"
            )
        #: Rows of a node's shard its QFI weight is estimated from (None: all of them;
        #: :func:`qfi_rows`).
        self.qfi_samples: int | None = None if qfi_samples is None else int(qfi_samples)
        self.readout: str = readout
        self.n_classes = int(n_classes)
        self.output_scale = float(output_scale)
        self.noise = noise if noise is not None else NoiseModel.ideal(n_qubits)
        if self.noise.n_qubits != n_qubits:
            raise ValueError(
                f"noise.n_qubits = {self.noise.n_qubits}: must equal model.n_qubits ({n_qubits})"
            )
        self.measured_qubits: tuple[int, ...] = (
            (0,) if readout == "binary" else tuple(range(self.n_classes))
        )
        self._z_signs = self.ansatz.z_signs(self.measured_qubits)

    # ----------------------------------------------------------------- structure
    @property
    def n_qubits(self) -> int:
        return self.ansatz.n_qubits

    @property
    def layers(self) -> int:
        return self.ansatz.layers

    @property
    def num_params(self) -> int:
        return self.ansatz.num_params

    def init_params(self, *, rng: np.random.Generator) -> NDArray[np.float64]:
        """Parameters drawn uniformly from [-π, π)."""
        return rng.uniform(-np.pi, np.pi, size=self.num_params)

    def with_qfi_estimator(self, name: str, samples: int | None = None) -> QNN:
        """The same circuit, readout and noise, declaring its QFI by estimator ``name``
        from ``samples`` rows of each shard (None: all)."""
        return self._like(self.noise, name, samples)

    def with_noise(self, noise: NoiseModel) -> QNN:
        """The same circuit and readout with another noise model."""
        return self._like(noise, self.qfi_estimator, self.qfi_samples)

    def _like(self, noise: NoiseModel, qfi_estimator: str, qfi_samples: int | None) -> QNN:
        return QNN(
            self.n_qubits,
            self.layers,
            encoding=self.ansatz.encoding,
            entangler=self.ansatz.entangler,
            topology=self.ansatz.topology,
            readout=self.readout,
            n_classes=self.n_classes,
            output_scale=self.output_scale,
            noise=noise,
            qfi_estimator=qfi_estimator,
            qfi_samples=qfi_samples,
        )

    # ------------------------------------------------------------ validation
    def _check_params(self, params: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(params, dtype=float)
        if arr.shape != (self.num_params,):
            raise ValueError(
                f"params: shape {arr.shape} does not match the model's {self.num_params} "
                f"parameters ({self.layers} layers x {self.n_qubits} qubits x 2)"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError("params: must be finite")
        return arr

    def _check_inputs(self, x: ArrayLike) -> NDArray[np.float64]:
        arr = np.asarray(x, dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.n_qubits:
            raise ValueError(
                f"x: shape {np.shape(x)}: must be (n_samples, {self.n_qubits}) angles, "
                f"one feature per qubit"
            )
        if not np.all(np.isfinite(arr)):
            raise ValueError("x: must be finite")
        return arr

    def _check_labels(self, y: ArrayLike, n_rows: int) -> NDArray[np.int64]:
        arr = np.asarray(y)
        if arr.shape != (n_rows,) or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"y: must be {n_rows} integer labels, got shape {arr.shape}")
        if arr.size and (arr.min() < 0 or arr.max() >= self.n_classes):
            raise ValueError(f"y: labels must be in [0, {self.n_classes - 1}]")
        return arr.astype(np.int64)

    # ------------------------------------------------------------- core batch
    def _rows_per_chunk(self, mixed: bool, copies: int) -> int:
        d = self.ansatz.dim
        per_row = copies * (d * d if mixed else d)
        return max(1, CHUNK_BUDGET // per_row)

    def _check_noise(self, noise: NoiseModel, label: str = "noise") -> NoiseModel:
        if not isinstance(noise, NoiseModel) or noise.n_qubits != self.n_qubits:
            got = noise.n_qubits if isinstance(noise, NoiseModel) else type(noise).__name__
            raise ValueError(
                f"{label}: a NoiseModel for {got} qubits does not fit this "
                f"{self.n_qubits}-qubit model"
            )
        return noise

    def _run(
        self,
        params: NDArray[np.float64],
        x: NDArray[np.float64],
        noise: NoiseModel,
        *,
        tangents: bool,
        shift_means: bool = False,
        block: BlockError | None = None,
    ) -> Propagated:
        rows = x.shape[0]
        dep = np.broadcast_to(np.asarray(noise.depolarizing), (rows, self.n_qubits))
        amp = np.broadcast_to(np.asarray(noise.amplitude_damping), (rows, self.n_qubits))
        mixed = not noise.is_pure or (block is not None and not block.trivial)
        return propagate(
            self.ansatz,
            params,
            x,
            dep if mixed else None,
            amp if mixed else None,
            tangents=tangents,
            shift_means=shift_means,
            representation="auto",
            block=block,
        )

    # ----------------------------------------------------------- single node
    @deterministic
    def expectations(
        self,
        params: ArrayLike,
        x: ArrayLike,
        *,
        noise: NoiseModel | None = None,
        block: BlockError | None = None,
    ) -> NDArray[np.float64]:
        """Exact measured expectations ⟨Z_c⟩ (readout error included): (S, C); with
        ``block``, of the model-partitioned circuit (``qceas.qnn.partition``)."""
        noise = self.noise if noise is None else self._check_noise(noise)
        p, xs = self._check_params(params), self._check_inputs(x)
        out = np.empty((xs.shape[0], len(self.measured_qubits)))
        flips = np.broadcast_to(np.asarray(noise.readout_error), (xs.shape[0], self.n_qubits))
        mixed = not noise.is_pure or (block is not None and not block.trivial)
        step = self._rows_per_chunk(mixed, 1)
        for lo in range(0, xs.shape[0], step):
            prop = self._run(p, xs[lo : lo + step], noise, tangents=False, block=block)
            probs = flip_bits(prop.probabilities(), flips[lo : lo + step], self.n_qubits)
            out[lo : lo + step] = probs @ self._z_signs
        return out

    def predict_proba(
        self, params: ArrayLike, x: ArrayLike, *, noise: NoiseModel | None = None
    ) -> NDArray[np.float64]:
        """Class probabilities (S, n_classes) from exact expectations."""
        return class_probabilities(
            self.expectations(params, x, noise=noise), self.readout, self.output_scale
        )

    def predict(
        self, params: ArrayLike, x: ArrayLike, *, noise: NoiseModel | None = None
    ) -> NDArray[np.int64]:
        """Predicted labels (S,)."""
        return np.argmax(self.predict_proba(params, x, noise=noise), axis=-1)

    @deterministic
    def jacobian(self, params: ArrayLike, x: ArrayLike) -> NDArray[np.float64]:
        """Exact Jacobian of the measured expectations: (S, C, P)."""
        p, xs = self._check_params(params), self._check_inputs(x)
        flips = np.broadcast_to(np.asarray(self.noise.readout_error), (xs.shape[0], self.n_qubits))
        out = np.empty((xs.shape[0], len(self.measured_qubits), self.num_params))
        step = self._rows_per_chunk(not self.noise.is_pure, 1 + self.num_params)
        for lo in range(0, xs.shape[0], step):
            prop = self._run(p, xs[lo : lo + step], self.noise, tangents=True)
            dprobs = flip_bits(prop.tangent_probabilities(), flips[lo : lo + step], self.n_qubits)
            out[lo : lo + step] = np.einsum("prd,dc->rcp", dprobs, self._z_signs)
        return out

    def loss(self, params: ArrayLike, x: ArrayLike, y: ArrayLike) -> float:
        """Mean cross-entropy on (x, y) with exact expectations under the model's noise."""
        e = self.expectations(params, x)
        labels = self._check_labels(y, e.shape[0])
        return float(loss_and_cotangent(e, labels, self.readout, self.output_scale)[0].mean())

    def gradient(self, params: ArrayLike, x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
        """Exact gradient of ``loss`` with respect to the parameters: (P,)."""
        xs = self._check_inputs(x)
        labels = self._check_labels(y, xs.shape[0])
        result = self.evaluate_nodes(params, [(xs, labels)], [self.noise.exact()])
        return result.gradient[0]

    def quantum_fisher(self, params: ArrayLike, x: ArrayLike) -> NDArray[np.float64]:
        """QFI of the circuit's output state under the model's noise, by the model's
        ``qfi_estimator`` (exact for ``sld``, a lower bound otherwise): (P, P).

        ``x`` of shape (n_qubits,) gives the QFI of that input's state; (S, n_qubits)
        gives the mean over the S inputs. Pure-state formula when the model is
        noiseless (every estimator agrees there), the estimator's mixed-state formula
        otherwise (``qceas.qnn.qfi_estimators``). Every given input counts, whatever
        ``qfi_samples`` says (that subsamples a node's shard in ``evaluate_nodes``).
        """
        xs = self._check_inputs(x)
        labels = np.zeros(xs.shape[0], dtype=np.int64)
        model = (
            self if self.qfi_samples is None else self._like(self.noise, self.qfi_estimator, None)
        )
        result = model.evaluate_nodes(params, [(xs, labels)], [self.noise.exact()], qfi=True)
        assert result.qfi is not None
        return result.qfi[0]

    # ------------------------------------------------------------ many nodes
    @deterministic
    def evaluate_nodes(
        self,
        params: ArrayLike,
        shards: Sequence[tuple[ArrayLike, ArrayLike]],
        noises: Sequence[NoiseModel],
        *,
        qfi: bool = False,
        rng: np.random.Generator | None = None,
        node_rngs: Sequence[np.random.Generator] | None = None,
        data_sizes: ArrayLike | None = None,
        blocks: Sequence[BlockError | None] | None = None,
    ) -> NodeEvaluation:
        """Loss, gradient (and QFI) of every node on its own shard, batched.

        Args:
            params: (P,) shared parameters θ_t.
            shards: one (x_k (S_k, n), y_k (S_k,)) per node.
            noises: one NoiseModel per node.
            qfi: also compute each node's shard-averaged QFI.
            rng: with finite shots, the generator each node's own stream is drawn from
                (one seed per node, in node order).
            node_rngs: with finite shots, instead of ``rng``: one generator per node,
                which its shots are sampled from (row by row, in row order). A node's
                draws then depend on its generator alone: evaluating the nodes in
                batches, each with its nodes' generators, draws the shots of one call.
            data_sizes: (K,) shard sizes when ``shards`` are minibatches of them.
            blocks: per node, the Pauli error of its model-partitioned entangling block
                (``qceas.qnn.partition.teleported_block``), or None where the node's
                circuit runs on one QPU.

        With finite shots a node's loss uses sampled expectations and its gradient the
        parameter-shift estimate from sampled shifted expectations (``readout``); its
        QFI stays exact (it is a property of the circuit the node declares, not a
        measured quantity here).
        """
        p = self._check_params(params)
        if len(shards) != len(noises):
            raise ValueError(f"noises: {len(noises)} noise models for {len(shards)} shards")
        if len(shards) == 0:
            raise ValueError("shards: need at least one node")
        for k, nm in enumerate(noises):
            self._check_noise(nm, f"noises[{k}]")
        xs_list, ys_list = [], []
        for k, (xk, yk) in enumerate(shards):
            xa = self._check_inputs(xk)
            if xa.shape[0] == 0:
                raise ValueError(f"shards[{k}]: node {k} has no samples")
            xs_list.append(xa)
            ys_list.append(self._check_labels(yk, xa.shape[0]))
        k_nodes, big_p = len(shards), self.num_params
        streams = self._node_streams(noises, rng, node_rngs)
        samples = np.array([xa.shape[0] for xa in xs_list], dtype=np.int64)
        loss_sum = np.zeros(k_nodes)
        correct = np.zeros(k_nodes)
        grad_sum = np.zeros((k_nodes, big_p))
        qfi_sum = np.zeros((k_nodes, big_p, big_p)) if qfi else None
        # τ of the rows the QFI is taken on, and their squares, for the error.
        tau_sum, tau_sq = np.zeros(k_nodes), np.zeros(k_nodes)
        rows_of = [qfi_rows(int(n), self.qfi_samples) for n in samples]

        def add_qfi(f_rows: NDArray[np.float64], who: NDArray[np.int64]) -> None:
            """Accumulate rows' QFI matrices and their τ (and τ², for the SE) by node."""
            assert qfi_sum is not None
            np.add.at(qfi_sum, who, f_rows)
            tau = np.trace(f_rows, axis1=1, axis2=2) / big_p
            np.add.at(tau_sum, who, tau)
            np.add.at(tau_sq, who, tau * tau)

        qfi_count = np.array([rows.size for rows in rows_of])

        if blocks is None:
            blocks = [None] * k_nodes
        if len(blocks) != k_nodes:
            raise ValueError(f"blocks: {len(blocks)} block errors for {k_nodes} shards")
        # Batch nodes that share a path, a need for shifted states and a partition error.
        groups: dict[tuple[bool, bool, int], list[int]] = {}
        for k, nm in enumerate(noises):
            block = blocks[k]
            split = block is not None and not block.trivial
            key = (not nm.is_pure or split, nm.shots is not None, id(block) if split else 0)
            groups.setdefault(key, []).append(k)
        for (mixed, shots, _), nodes in groups.items():
            block = blocks[nodes[0]]
            x_all = np.concatenate([xs_list[k] for k in nodes])
            y_all = np.concatenate([ys_list[k] for k in nodes])
            owner = np.repeat(nodes, [xs_list[k].shape[0] for k in nodes])
            on_qfi = np.zeros(owner.size, dtype=bool)
            if qfi_sum is not None:
                start = 0
                for k in nodes:
                    on_qfi[start + rows_of[k]] = True
                    start += int(samples[k])
            dep = np.concatenate([np.tile(noises[k].depolarizing, (samples[k], 1)) for k in nodes])
            amp = np.concatenate(
                [np.tile(noises[k].amplitude_damping, (samples[k], 1)) for k in nodes]
            )
            flips = np.concatenate(
                [np.tile(noises[k].readout_error, (samples[k], 1)) for k in nodes]
            )
            shot_rows = np.concatenate(
                [np.full(samples[k], noises[k].shots or 0, dtype=np.int64) for k in nodes]
            )
            # Exact expectations of a large noisy register: the loss gradient by
            # reverse mode (``adjoint``), forward-mode tangents only on the QFI rows.
            # Where every row needs its tangents anyway (the QFI on whole shards),
            # forward mode gives the gradient with them at no extra cost.
            reverse = self._reverse_applies(
                mixed, shots, every_row_qfi=qfi_sum is not None and bool(on_qfi.all())
            )
            copies = self.layers + 3 if reverse else 1 + big_p * (2 if (shots and mixed) else 1)
            step = self._rows_per_chunk(mixed, copies)
            plan = self._plan(p, pauli=mixed)
            for lo in range(0, x_all.shape[0], step):
                sl = slice(lo, lo + step)
                if reverse:
                    loss_r, grad_r, correct_r = self._reverse_rows(
                        plan, x_all[sl], y_all[sl], dep[sl], amp[sl], flips[sl], block
                    )
                    np.add.at(loss_sum, owner[sl], loss_r)
                    np.add.at(correct, owner[sl], correct_r)
                    np.add.at(grad_sum, owner[sl], grad_r)
                    continue
                prop = propagate(
                    self.ansatz,
                    p,
                    x_all[sl],
                    dep[sl] if mixed else None,
                    amp[sl] if mixed else None,
                    tangents=True,
                    shift_means=shots and mixed,
                    representation="auto",
                    plan=plan,
                    block=block,
                )
                loss_r, grad_r, correct_r = self._node_rows(
                    prop,
                    y_all[sl],
                    flips[sl],
                    shot_rows[sl] if shots else None,
                    owner[sl],
                    streams,
                )
                np.add.at(loss_sum, owner[sl], loss_r)
                np.add.at(correct, owner[sl], correct_r)
                np.add.at(grad_sum, owner[sl], grad_r)
                take = on_qfi[sl]
                if qfi_sum is not None and take.any():
                    add_qfi(self._qfi_rows(prop, take), owner[sl][take])
            if reverse and qfi_sum is not None:
                picked = np.flatnonzero(on_qfi)
                step = self._rows_per_chunk(mixed, 1 + big_p)
                for lo in range(0, picked.size, step):
                    at = picked[lo : lo + step]
                    prop = propagate(
                        self.ansatz,
                        p,
                        x_all[at],
                        dep[at],
                        amp[at],
                        tangents=True,
                        representation="auto",
                        plan=plan,
                        block=block,
                    )
                    add_qfi(self._qfi_rows(prop, np.ones(at.size, dtype=bool)), owner[at])
        norm = samples.astype(float)
        return NodeEvaluation(
            loss=loss_sum / norm,
            gradient=grad_sum / norm[:, None],
            qfi=None if qfi_sum is None else qfi_sum / qfi_count[:, None, None],
            qfi_se=None if qfi_sum is None else _subsample_se(tau_sum, tau_sq, qfi_count, samples),
            accuracy=correct / norm,
            samples=samples,
            data_sizes=None if data_sizes is None else np.asarray(data_sizes, dtype=np.int64),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_plan_memo", None)  # megabytes of transfer matrices, rebuilt on use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A model pickled before the QFI estimators (a checkpoint) declares the exact
        # QFI on its whole shard, as it did then.
        state.setdefault("qfi_estimator", "sld")
        state.setdefault("qfi_samples", None)
        state.setdefault("_qfi", QFI_ESTIMATORS.get(state["qfi_estimator"]))
        self.__dict__.update(state)

    def _plan(self, params: NDArray[np.float64], *, pauli: bool) -> list[LayerPlan]:
        """``plan_layers`` at ``params``, kept for the next call at the same θ (an
        engine evaluates a round's node batches by one call each)."""
        memo: dict[bool, tuple[bytes, list[LayerPlan]]] = self.__dict__.setdefault("_plan_memo", {})
        theta = params.tobytes()
        if pauli not in memo or memo[pauli][0] != theta:
            memo[pauli] = (theta, plan_layers(self.ansatz, params, pauli=pauli))
        return memo[pauli][1]

    @staticmethod
    def _node_streams(
        noises: Sequence[NoiseModel],
        rng: np.random.Generator | None,
        node_rngs: Sequence[np.random.Generator] | None,
    ) -> Sequence[np.random.Generator] | None:
        """One random generator per node where any node samples shots, else None."""
        if rng is not None and node_rngs is not None:
            raise ValueError("rng, node_rngs: give one of them, not both")
        if node_rngs is not None:
            if len(node_rngs) != len(noises):
                raise ValueError(
                    f"node_rngs: {len(node_rngs)} generators for {len(noises)} nodes; "
                    "need one per node"
                )
            for k, g in enumerate(node_rngs):
                if not isinstance(g, np.random.Generator):
                    raise ValueError(
                        f"node_rngs[{k}]: must be a numpy Generator, got {type(g).__name__}"
                    )
        if not any(nm.shots is not None for nm in noises):
            return None
        if node_rngs is not None:
            return node_rngs
        if rng is None:
            raise ValueError(
                "rng: a numpy Generator (or node_rngs, one per node) is needed when any "
                "node has finite shots"
            )
        seeds = rng.integers(0, 2**63, size=len(noises))
        return [np.random.default_rng(int(s)) for s in seeds]

    def _node_rows(
        self,
        prop: Propagated,
        labels: NDArray[np.int64],
        flips: NDArray[np.float64],
        shots: NDArray[np.int64] | None,
        owner: NDArray[np.int64],
        streams: Sequence[np.random.Generator] | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Per-row loss, gradient and correctness for one chunk of rows (``owner``:
        each row's node, rows of a node contiguous)."""
        n, zs = self.n_qubits, self._z_signs
        probs = flip_bits(prop.probabilities(), flips, n)
        if shots is None:
            expect = probs @ zs
            dprobs = flip_bits(prop.tangent_probabilities(), flips, n)
            jac = np.einsum("prd,dc->rpc", dprobs, zs)
        else:
            assert streams is not None
            shifted = flip_bits(prop.shifted_probabilities(), flips, n)  # (2, P, R, d)
            rows, big_p = probs.shape[0], shifted.shape[1]
            # Row r's executions side by side (forward, then the 2P shifted ones), so
            # each node draws its rows in row order whatever chunk they fall in.
            executions = np.concatenate(
                [probs[:, None, :], np.moveaxis(shifted, 2, 0).reshape(rows, 2 * big_p, -1)],
                axis=1,
            )
            est = np.empty((rows, 1 + 2 * big_p, zs.shape[1]))
            starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
            for lo, hi in zip(starts, np.r_[starts[1:], rows], strict=True):
                est[lo:hi] = sample_expectations(
                    executions[lo:hi], zs, shots[lo:hi], rng=streams[owner[lo]]
                )
            expect = est[:, 0]
            plus_minus = est[:, 1:].reshape(rows, 2, big_p, -1)
            jac = (plus_minus[:, 0] - plus_minus[:, 1]) / 2.0  # (R, P, C)
        loss, cot = loss_and_cotangent(expect, labels, self.readout, self.output_scale)
        grad = np.einsum("rpc,rc->rp", jac, cot)
        pred = np.argmax(class_probabilities(expect, self.readout, self.output_scale), axis=-1)
        return loss, grad, (pred == labels).astype(float)

    def _reverse_applies(self, mixed: bool, shots: bool, *, every_row_qfi: bool) -> bool:
        """Whether a batch of rows takes the reverse pass for its gradient: exact
        expectations of a noisy register above ``MAX_PAULI_QUBITS``, unless every row
        needs its tangents for the QFI anyway."""
        return mixed and not shots and self.n_qubits > MAX_PAULI_QUBITS and not every_row_qfi

    def simulation_path(
        self, noise: NoiseModel, *, qfi: bool, rows: int, split: bool = False
    ) -> str:
        """In words, how ``evaluate_nodes`` computes a node with ``noise`` and a shard
        of ``rows`` samples, ``split`` over QPUs by a model partition (a block error
        makes the state mixed); ``qceas validate`` prints it. Whether every row needs
        tangents is judged on this node's shard (``evaluate_nodes`` judges a batch of
        nodes sharing a path, so a node smaller than ``qfi_samples`` batched with
        larger ones takes the reverse pass with them)."""
        n = self.n_qubits
        if noise.is_pure and not split:
            return f"statevectors ({n} qubits), tangents in forward mode"
        kernels = (
            "dense layer transfer matrices"
            if n <= MAX_PAULI_QUBITS
            else "gate-local kernels (pauli_local)"
        )
        shots = noise.shots is not None
        taken = qfi_rows(rows, self.qfi_samples).size
        every = qfi and taken == rows
        if shots:
            how = "sampled parameter-shift circuits from forward-mode shift means"
        elif self._reverse_applies(True, False, every_row_qfi=every):
            how = "gradient by the reverse pass (adjoint)"
            if qfi:
                how += f", tangents on {taken} QFI row(s)"
        else:
            how = "gradient and tangents in forward mode"
        return f"Pauli vectors ({n} qubits, {kernels}), {how}"

    def _qfi_rows(self, prop: Propagated, take: NDArray[np.bool_]) -> NDArray[np.float64]:
        """The estimator's QFI matrices (R', P, P) of the rows ``take`` selects."""
        assert prop.tangents is not None
        every = bool(take.all())
        state = prop.state if every else prop.state[take]
        tangents = prop.tangents if every else prop.tangents[take]
        if prop.kind == "pauli" and self.n_qubits > MAX_PAULI_QUBITS:
            # From the vectors (no density matrices); up to MAX_PAULI_QUBITS the
            # estimators run on density matrices as before, so those numbers keep
            # their bits (EVALUATION moved only above).
            return self._qfi.pauli(state, tangents, self.n_qubits)
        if prop.mixed:
            rho, drho = prop.density(None if every else take)
            assert drho is not None
            return self._qfi.mixed(rho, drho)
        return self._qfi.pure(state, tangents)

    def _reverse_rows(
        self,
        plan: Sequence[LayerPlan],
        x: NDArray[np.float64],
        labels: NDArray[np.int64],
        dep: NDArray[np.float64],
        amp: NDArray[np.float64],
        flips: NDArray[np.float64],
        block: BlockError | None,
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Per-row loss, exact gradient and correctness by the reverse pass.

        The cotangent ∂L/∂p of the outcome distribution goes back through the readout
        flips (each qubit's flip matrix is symmetric, so the map is its own transpose)
        and ``diagonal`` (``pauli.diagonal_transpose``) to the final Pauli vector.
        """
        n, zs = self.n_qubits, self._z_signs
        reverse = ReversePass(self.ansatz, plan, x, dep, amp, block)
        forward = reverse.forward()
        probs = flip_bits(diagonal(forward.state, n), flips, n)
        expect = probs @ zs
        loss, cot = loss_and_cotangent(expect, labels, self.readout, self.output_scale)
        dprobs = flip_bits(cot @ zs.T, flips, n)
        grad = reverse.gradient(forward, diagonal_transpose(dprobs, n))
        pred = np.argmax(class_probabilities(expect, self.readout, self.output_scale), axis=-1)
        return loss, grad, (pred == labels).astype(float)

    # ------------------------------------------------------------- export
    def to_pennylane(self, device: Any = None) -> pennylane.QNode:
        """The same circuit as a ``pennylane.QNode`` called as ``qnode(params, x)``.

        See ``qceas.qnn.pennylane_bridge.to_pennylane``.
        """
        from qceas.qnn.pennylane_bridge import to_pennylane

        return to_pennylane(self, device)
