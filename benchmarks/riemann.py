"""Benchmark: batched pullback metric (torch.func) vs a per-point autograd loop.

The pullback metric ``g = J^T J / N`` and the log volume element of the last hidden layer of a
3-hidden-layer MLP (2 -> 1000 -> 1000 -> 1000, sigmoid, float64) on a 100 x 100 grid of
[-1.5, 1.5]^2 (10,000 points), computed by :func:`neurogeom.geometry.riemann.pullback_metric`
(``vmap`` of ``jacfwd``, chunked) and, in the same run, by the baseline: a Python loop calling
``torch.autograd.functional.jacobian`` on one point at a time (its default reverse mode, one
backward pass per output unit), then the same metric and ``slogdet``. The baseline is timed on a
subset of the points and extrapolated linearly to the whole grid (stated in the results). A second,
stronger baseline, the same loop with ``vectorize=True, strategy="forward-mode"``, is timed the
same way. The metrics of the subset are checked to agree.

Writes benchmarks/results/riemann.json. Run:  python benchmarks/riemann.py [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from _results import write_results

from neurogeom.geometry.riemann import pullback_metric
from neurogeom.models.feedforward import MLP


def per_point(features, pts: torch.Tensor, **jac_kwargs) -> tuple[np.ndarray, np.ndarray]:
    """The baseline: one ``torch.autograd.functional.jacobian`` call per point."""
    gs, lvs = [], []
    for p in pts:
        J = torch.autograd.functional.jacobian(lambda v: features(v[None])[0], p, **jac_kwargs)
        g = J.T @ J / J.shape[0]
        gs.append(g)
        lvs.append(0.5 * torch.linalg.slogdet(g)[1])
    return torch.stack(gs).detach().numpy(), torch.stack(lvs).detach().numpy()


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="width 100, 400 points (smoke run)")
    parser.add_argument("--subset", type=int, default=40, help="points timed in the baseline")
    args = parser.parse_args()
    width, n_side = (100, 20) if args.small else (1000, 100)
    net = MLP(2, [width] * 3, 2, activation="sigmoid", seed=0, center=False).double()
    axis = torch.linspace(-1.5, 1.5, n_side, dtype=torch.float64)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([gx.ravel(), gy.ravel()], 1)
    n = grid.shape[0]
    load_before = os.getloadavg()

    pullback_metric(net.features, grid[:8])  # warm-up: first torch.func call
    t_ours, ours = timed(lambda: pullback_metric(net.features, grid))

    rng = np.random.default_rng(0)
    subset = np.sort(rng.choice(n, size=min(args.subset, n), replace=False))
    t_loop, (g_loop, lv_loop) = timed(lambda: per_point(net.features, grid[subset]))
    t_vec, (g_vec, _) = timed(
        lambda: per_point(net.features, grid[subset], vectorize=True, strategy="forward-mode")
    )
    scale = n / subset.size
    t_loop_all, t_vec_all = t_loop * scale, t_vec * scale
    err = float(np.max(np.abs(ours.metric.values[subset] - g_loop) / np.abs(g_loop).max()))
    err_vec = float(np.max(np.abs(ours.metric.values[subset] - g_vec) / np.abs(g_vec).max()))
    lv_err = float(np.max(np.abs(ours.log_volume_element.values[subset] - lv_loop)))

    result = {
        "benchmark": "riemann",
        "what": "pullback metric g = J^T J / N and log volume element of the last hidden layer on "
        "a 2-D grid, float64",
        "network": f"MLP 2 -> {width} -> {width} -> {width} (sigmoid), features of layer 3",
        "n_points": n,
        "baseline": "per-point loop of torch.autograd.functional.jacobian (default: reverse "
        "mode, one backward pass per output unit), then g and slogdet",
        "baseline_timed_points": int(subset.size),
        "baseline_extrapolated": "linearly from the timed points to all n_points",
        "neurogeom_s": round(t_ours, 3),
        "baseline_s": round(t_loop_all, 1),
        "speedup": round(t_loop_all / t_ours, 1),
        "vectorized_baseline": "the same loop with vectorize=True, strategy='forward-mode'",
        "vectorized_baseline_s": round(t_vec_all, 2),
        "speedup_vs_vectorized": round(t_vec_all / t_ours, 1),
        "max_relative_metric_difference": err,
        "max_relative_metric_difference_vectorized": err_vec,
        "max_log_volume_difference": lv_err,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "load_average_1min_before_after": [
            round(load_before[0], 2),
            round(os.getloadavg()[0], 2),
        ],
        "timing": "wall clock, one run each, same process",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus (shared)",
    }
    if args.small:
        print(json.dumps(result, indent=1))
    else:
        write_results("riemann", result)
    return result


if __name__ == "__main__":
    main()
