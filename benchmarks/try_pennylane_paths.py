"""Throwaway driver: checks and timings of benchmarks/pennylane_paths.py."""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

warnings.filterwarnings("ignore")
sys.path.insert(0, "benchmarks")
import pennylane_paths as pp  # noqa: E402

KW = {"n_classes": 3, "output_scale": 2.0, "layers": 3}


def check_agree() -> None:
    for n, c in ((2, 2), (3, 3), (4, 3)):
        kw = {**KW, "n_classes": c}
        params, x, y, depol = pp.make_workload(n_qubits=n, nodes=3, samples=4, n_classes=c)
        t = time.perf_counter()
        gs, fs = pp.stock_round(params, x, y, depol, **kw)
        ts = time.perf_counter() - t
        gj, fj = pp.jax_round(params, x, y, depol, **kw)
        gj2, fj2 = pp.jax_round(params, x, y, depol, **kw, chunk=5)
        print(
            f"n={n}: stock {ts:.1f}s; grad max|diff| {np.abs(gs - gj).max():.2e} "
            f"(max|g| {np.abs(gs).max():.3f}); qfi max|diff| {np.abs(fs - fj).max():.2e} "
            f"(max|F| {np.abs(fs).max():.3f}); chunk=5 vs default "
            f"{max(np.abs(gj - gj2).max(), np.abs(fj - fj2).max()):.1e}; "
            f"QFI asym {np.abs(fs - np.swapaxes(fs, 1, 2)).max():.1e}, "
            f"min eig {np.linalg.eigvalsh(fs).min():.1e}"
        )


def check_closed_form() -> None:
    kw = {"n_classes": 1, "output_scale": 1.0, "layers": 1}
    for p in (0.0, 0.1, 0.37, 0.8):
        for t0 in (0.3, 1.2):
            params = np.array([t0, 0.7])
            x = np.zeros((1, 1, 1))
            y = np.zeros((1, 1), dtype=np.int64)
            depol = np.array([[p]])
            _, fs = pp.stock_round(params, x, y, depol, **kw)
            _, fj = pp.jax_round(params, x, y, depol, **kw)
            d = 2
            expect_ry = (1 - p) ** 2 / (1 - p + 2 * p / d) * 1.0
            expect_rz = (1 - p) ** 2 * np.sin(t0) ** 2
            print(
                f"p={p} t={t0}: F_RY stock {fs[0, 0, 0]:.12f} jax {fj[0, 0, 0]:.12f} "
                f"expect {expect_ry:.12f}; F_RZ {fs[0, 1, 1]:.12f}/{fj[0, 1, 1]:.12f} "
                f"expect {expect_rz:.12f}; F_01 {fs[0, 0, 1]:.2e}"
            )


def time_stock(n_qubits: int, nodes_subset: int) -> None:
    params, x, y, depol = pp.make_workload(n_qubits=n_qubits)
    k = x.shape[0]
    t = time.perf_counter()
    pp.stock_round(params, x[:nodes_subset], y[:nodes_subset], depol[:nodes_subset], **KW)
    dt = time.perf_counter() - t
    print(
        f"stock n={n_qubits}: {nodes_subset} nodes {dt:.1f}s -> {dt / nodes_subset:.1f}s/node, "
        f"extrapolated {k} nodes {dt / nodes_subset * k:.0f}s"
    )


def time_jax(n_qubits: int, nodes: int, chunk: int | None = None, samples: int = 64) -> None:
    params, x, y, depol = pp.make_workload(n_qubits=n_qubits, nodes=nodes, samples=samples)
    t = time.perf_counter()
    pp.jax_round(params, x, y, depol, **KW, chunk=chunk)
    first = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        pp.jax_round(params, x, y, depol, **KW, chunk=chunk)
        times.append(time.perf_counter() - t)
    best = min(times)
    print(
        f"jax n={n_qubits} nodes={nodes} samples={samples} chunk={chunk}: first call {first:.2f}s "
        f"(compile ~{first - best:.2f}s), steady best-of-3 {best:.3f}s {times}"
    )


def estimate_stock_jacobian(n_qubits: int, samples: int = 64) -> None:
    """Time one reverse pass of the stock density-matrix Jacobian and scale by d**2."""
    import pennylane as qml
    from autograd import make_vjp
    from pennylane import numpy as pnp

    layers = KW["layers"]
    params, x, _, depol = pp.make_workload(n_qubits=n_qubits, nodes=1, samples=samples)
    dev = qml.device("default.mixed", wires=n_qubits)
    dim = 2**n_qubits

    @qml.qnode(dev, diff_method="backprop")
    def density(theta, feats, p):
        pp._apply_circuit(qml, theta, feats, p, n_qubits, layers)
        return qml.density_matrix(wires=range(n_qubits))

    up = np.triu_indices(dim)
    up1 = np.triu_indices(dim, 1)
    feats = pnp.array(x[0], requires_grad=False)
    p = pnp.array(depol[0], requires_grad=False)

    def summed(theta):
        tot = pnp.sum(density(theta, feats, p), axis=0)
        return pnp.concatenate([qml.math.real(tot)[up], qml.math.imag(tot)[up1]])

    theta = pnp.array(np.tile(params, (samples, 1)), requires_grad=True)
    t = time.perf_counter()
    vjp, out = make_vjp(summed)(theta)
    fwd = time.perf_counter() - t
    e = np.zeros(out.shape)
    e[0] = 1.0
    ts = []
    for _ in range(3):
        t = time.perf_counter()
        vjp(e)
        ts.append(time.perf_counter() - t)
    one = min(ts)
    print(
        f"stock jac n={n_qubits} S={samples}: forward {fwd:.2f}s, one VJP {one:.3f}s, "
        f"x {dim * dim} outputs -> {fwd + one * dim * dim:.0f}s/node (jacobian only)"
    )


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "agree":
        check_agree()
    elif what == "closed":
        check_closed_form()
    elif what == "stock":
        time_stock(int(sys.argv[2]), int(sys.argv[3]))
    elif what == "stockest":
        estimate_stock_jacobian(int(sys.argv[2]))
    elif what == "jax":
        chunk = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "auto" else None
        samples = int(sys.argv[5]) if len(sys.argv) > 5 else 64
        time_jax(int(sys.argv[2]), int(sys.argv[3]), chunk, samples)
