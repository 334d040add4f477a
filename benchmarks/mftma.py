"""Benchmark: MFTMA per-manifold solver, neurogeom's exact NNLS dual vs a cvxopt QP per probe.

Baseline: the published replicaMFT solver (one ``cvxopt.solvers.qp`` per Gaussian probe with
P = I, G = sD1^T, h = -kappa, tolerances 1e-12), run in the same process on the same manifold
frames and probes (config A of mftma_reference_outputs.json, no centre-subspace removal).
Both give the same capacities (checked); the figure is the wall-time ratio. The whole
``mftma()`` call (centre-subspace search included) is timed too, for configs A and B.

Writes benchmarks/results/mftma.json. Run:  python benchmarks/mftma.py [--small]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from _results import write_results

from neurogeom.geometry import mftma
from neurogeom.geometry._mftma import manifold_frames
from neurogeom.geometry._mftma_kernels import manifold_mean_field


def structured(P: int, M: int, N: int, D: int = 10, R: float = 1.0, seed: int = 0):
    rs = np.random.RandomState(seed)
    clouds = []
    for _ in range(P):
        c, U, S = rs.randn(N), rs.randn(N, D), rs.randn(D, M)
        clouds.append(c[:, None] + (R / np.sqrt(D)) * (U @ S))
    return np.concatenate([x.T for x in clouds]), np.repeat(np.arange(P), M)


def cvxopt_capacity(sD1: np.ndarray, t_vec: np.ndarray, kappa: float = 0.0) -> float:
    """Capacity of one manifold with one cvxopt QP per (non-interior) probe, as published."""
    from cvxopt import matrix, solvers

    solvers.options.update(show_progress=False, abstol=1e-12, reltol=1e-12, feastol=1e-12)
    n_dim = sD1.shape[0] - 1
    fields = np.zeros(t_vec.shape[1])
    for k in range(t_vec.shape[1]):
        t = t_vec[:, k]
        best = np.argmax(t[:n_dim] @ sD1[:n_dim])
        if t @ np.append(sD1[:n_dim, best], 1.0) + kappa < 0:
            continue
        out = solvers.qp(
            matrix(np.eye(sD1.shape[0])),
            matrix(-t[:, None]),
            matrix(sD1.T.copy()),
            matrix(-kappa * np.ones(sD1.shape[1])),
        )
        v = np.array(out["x"])[:, 0]
        if np.linalg.norm(v - t) < 1e-8:
            continue
        s = (t - v) / np.sum(np.array(out["z"]))
        fields[k] = max(t @ s + kappa, 0.0) ** 2 / (s @ s)
    return 1.0 / fields.mean()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="fewer manifolds (quick check)")
    args = parser.parse_args()
    n_manifolds = 4 if args.small else 10

    points, labels = structured(10, 50, 500)
    frames = manifold_frames(points, labels, remove_center_correlations=False)["frames"]
    frames = frames[:n_manifolds]
    rs_t = np.random.RandomState(12345)
    probes = [rs_t.randn(f.shape[0], 200) for f in frames]

    t0 = time.perf_counter()
    ours = [manifold_mean_field(f, t).capacity for f, t in zip(frames, probes)]
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = [cvxopt_capacity(f, t) for f, t in zip(frames, probes)]
    t_cvx = time.perf_counter() - t0
    max_rel = float(np.max(np.abs(np.array(ours) / np.array(theirs) - 1)))

    whole = {}
    for name, (P, M, N) in {
        "A_P10_M50_N500": (10, 50, 500),
        "B_P50_M50_N2000": (50, 50, 2000),
    }.items():
        if args.small and name.startswith("B"):
            continue
        pts, lab = structured(P, M, N)
        t0 = time.perf_counter()
        ds = mftma(pts, lab, n_t=200)
        whole[name] = {"wall_s": time.perf_counter() - t0, "capacity": float(ds.capacity)}

    result = {
        "benchmark": "MFTMA per-manifold solver: NNLS dual vs cvxopt QP per probe (same run)",
        "baseline": "cvxopt.solvers.qp per probe (replicaMFT's solver), tolerances 1e-12",
        "config": f"A_P10_M50_N500, {n_manifolds} manifolds, n_t=200, kappa=0",
        "nnls_s": t_ours,
        "cvxopt_s": t_cvx,
        "speedup_vs_cvxopt": t_cvx / t_ours,
        "max_rel_capacity_difference": max_rel,
        "mftma_whole_call": whole,
        "machine": {
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "note": "shared 2-core machine; compare only ratios from one run",
        },
    }
    write_results("mftma", result)


if __name__ == "__main__":
    main()
