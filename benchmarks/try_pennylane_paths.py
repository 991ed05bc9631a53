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
    params, x, y, depol = pp.make_workload(nodes=3, samples=4)
    t = time.perf_counter()
    gs, fs = pp.stock_round(params, x, y, depol, **KW)
    print(f"stock small {time.perf_counter() - t:.2f}s")
    gj, fj = pp.jax_round(params, x, y, depol, **KW)
    gj2, fj2 = pp.jax_round(params, x, y, depol, **KW, chunk=5)
    print("grad max|diff|", np.abs(gs - gj).max(), "max|g|", np.abs(gs).max())
    print("qfi  max|diff|", np.abs(fs - fj).max(), "max|F|", np.abs(fs).max())
    print("chunked vs full", np.abs(gj - gj2).max(), np.abs(fj - fj2).max())
    # finite-difference check of the stock gradient via a tiny numpy loss
    print("qfi symmetric", np.abs(fs - np.swapaxes(fs, 1, 2)).max())


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


def time_jax(n_qubits: int, nodes: int, chunk: int | None = None) -> None:
    params, x, y, depol = pp.make_workload(n_qubits=n_qubits, nodes=nodes)
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
        f"jax n={n_qubits} nodes={nodes} chunk={chunk}: first call {first:.2f}s "
        f"(compile ~{first - best:.2f}s), steady best-of-3 {best:.3f}s {times}"
    )


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "agree":
        check_agree()
    elif what == "closed":
        check_closed_form()
    elif what == "stock":
        time_stock(int(sys.argv[2]), int(sys.argv[3]))
    elif what == "jax":
        chunk = int(sys.argv[4]) if len(sys.argv) > 4 else None
        time_jax(int(sys.argv[2]), int(sys.argv[3]), chunk)
