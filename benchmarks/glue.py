"""GLUE speed: the batched exact dual solver against a per-sample NNLS baseline, in one run.

Config B of the reference outputs (P = 50 manifolds, M = 50 points, N = 2000 features, rebuilt from
``input_recipe``), n_t = 200:
  (a) total ``glue()`` time (reduction, batched solve, exact finish, geometry);
  (b) the per-sample baseline: :func:`scipy.optimize.nnls` on each sample's dual in the ambient
      coordinates, as third-party GLUE code does (a few samples timed, extrapolated to n_t);
  (c) one Gram-matrix build X X^T (the floor);
  (d) capacity agreement between (a) and (b) on the same (y, t) samples.
Also the README config (P = 100, M = 50, N = 5000, Gaussian) and a large float32 problem.
BLAS threads are the same for both sides (``BENCH_THREADS``, default 2). The compiled exact
finish is compiled (or loaded from numba's cache) by a small warm-up call first, timed apart.

Run: ``python benchmarks/glue.py`` -> benchmarks/results/glue.json
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import time

import numpy as np
from _results import write_results
from threadpoolctl import threadpool_limits

from neurogeom.geometry import _dual
from neurogeom.geometry.capacity import glue

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
N_T = 200
N_BASELINE = int(os.environ.get("BENCH_BASELINE_SAMPLES", "5"))


def structured(p=50, m=50, n=2000, d=10, r=1.0, seed=0):
    rs = np.random.RandomState(seed)
    xs = []
    for _ in range(p):
        c = rs.randn(n)
        u = rs.randn(n, d)
        s = rs.randn(d, m)
        xs.append(c[:, None] + (r / np.sqrt(d)) * (u @ s))
    return np.concatenate([x.T for x in xs]), np.repeat(np.arange(p), m)


def readme(p=100, m=50, n=5000):
    np.random.seed(0)  # noqa: NPY002 - the reference recipe, rebuilt exactly
    xs = [np.random.randn(n, m) for _ in range(p)]  # noqa: NPY002
    return np.concatenate([x.T for x in xs]), np.repeat(np.arange(p), m)


def timed(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def compare(name, x, lab, n_baseline=N_BASELINE):
    p = int(lab.max()) + 1
    print(f"{name}: glue ...", file=sys.stderr, flush=True)
    t_gram, _ = timed(lambda: x @ x.T, repeat=3)
    t_reduce, _ = timed(lambda: _dual.reduce_points(x))
    t_glue, ds = timed(lambda: glue(x, lab, n_t=N_T, seed=0), repeat=2)
    # the same (y, t) samples glue() drew, mapped back to the ambient features for the baseline
    red = _dual.reduce_points(x)
    rng_y = np.random.default_rng([0, 3])
    y = rng_y.choice(np.array([-1.0, 1.0]), size=(N_T, p))
    w = np.random.default_rng([0, 4]).standard_normal((N_T, red.rank))
    # t in R^N with X t = B w: t = X^+ B w (minimum norm); F depends on X t only
    t_amb = np.linalg.lstsq(x, red.factor @ w.T, rcond=None)[0].T
    signs = y[:, lab]
    print(f"{name}: per-sample nnls on {n_baseline} samples ...", file=sys.stderr, flush=True)
    t_base, lam = timed(lambda: _dual.solve_reference(x, signs[:n_baseline], t_amb[:n_baseline]))
    f_base = np.sum(((signs[:n_baseline] * lam) @ x) ** 2, axis=1)
    f_glue = ds.F.values[:n_baseline]
    # batched solve on exactly these samples, for the capacity comparison on all n_t samples
    t_batch, (lam_b, stats) = timed(lambda: _dual.solve_batch(red.factor, signs, w, gram=red.gram))
    f_batch = np.sum(((signs * lam_b) @ red.factor) ** 2, axis=1)
    cap_glue = float(ds.capacity)
    cap_base_partial = p / f_base.mean()
    cap_glue_partial = p / f_glue.mean()
    extrapolated = t_base / n_baseline * N_T
    return {
        "config": name,
        "P": p,
        "M": int(np.bincount(lab)[0]),
        "N": int(x.shape[1]),
        "n_t": N_T,
        "span_dimension": int(red.rank),
        "a_glue_total_s": round(t_glue, 3),
        "b_per_sample_nnls_s_extrapolated": round(extrapolated, 1),
        "b_per_sample_nnls_s_per_sample": round(t_base / n_baseline, 3),
        "b_samples_timed": n_baseline,
        "c_gram_build_s": round(t_gram, 3),
        "ratio_glue_over_gram": round(t_glue / t_gram, 2),
        "reduction_s": round(t_reduce, 3),
        "speedup_over_per_sample_nnls": round(extrapolated / t_glue, 1),
        "batched_solve_only_s": round(t_batch, 3),
        "finish_stats": {k: int(v) for k, v in stats.items()},
        "capacity_glue": cap_glue,
        "capacity_glue_sem": float(ds.capacity_sem),
        "d_capacity_rel_diff_on_timed_samples": float(abs(cap_glue_partial / cap_base_partial - 1)),
        "max_rel_diff_F_per_sample": float(np.max(np.abs(f_glue / f_base - 1))),
        "F_batch_equals_glue": float(np.max(np.abs(f_batch / ds.F.values - 1))),
        "radius": float(ds.radius),
        "dimension": float(ds.dimension),
    }


def large(n_manifolds=100, m=500, n=1000, n_t=N_T):
    """A large problem (P x M = 50,000 points) on the float32 path."""
    rng = np.random.default_rng(0)
    x = (
        np.repeat(rng.standard_normal((n_manifolds, n)), m, axis=0)
        + 0.5 * rng.standard_normal((n_manifolds * m, n))
    ).astype(np.float32)
    lab = np.repeat(np.arange(n_manifolds), m)
    t, ds = timed(lambda: glue(x, lab, n_t=n_t, dtype=np.float32))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {
        "P": n_manifolds,
        "M": m,
        "N": n,
        "n_points": n_manifolds * m,
        "n_t": n_t,
        "dtype": "float32",
        "glue_total_s": round(t, 2),
        "peak_rss_gib_process": round(peak, 2),
        "capacity": float(ds.capacity),
        "capacity_sem": float(ds.capacity_sem),
        "finish": {k: v for k, v in ds.attrs.items() if k.startswith("solver_")},
    }


def main() -> None:
    t0 = time.perf_counter()
    glue(np.eye(6), np.arange(6), n_t=4)  # compile or load the exact finish
    warmup = time.perf_counter() - t0
    out = {
        "what": "GLUE (batched exact dual) vs per-sample scipy.optimize.nnls, same (y, t) samples",
        "blas_threads": THREADS,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, shared; timings noisy",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "warmup_compile_or_cache_load_s": round(warmup, 2),
        "goals": "config B: (a) <= 5x (c); (a) >= 100x faster than (b); capacity within 0.1% of (b)",
        "solver": "float32 batched FISTA until the support settles, then exact float64 finish: "
        "compiled Lawson-Hanson on per-sample working sets, KKT checked on all points",
    }
    with threadpool_limits(THREADS):
        out["config_B"] = compare("B_P50_M50_N2000", *structured())
        if os.environ.get("BENCH_SKIP_README") != "1":
            n_readme = int(os.environ.get("BENCH_README_BASELINE_SAMPLES", "2"))
            out["readme"] = compare("README_P100_M50_N5000", *readme(), n_baseline=n_readme)
        if os.environ.get("BENCH_SKIP_LARGE") != "1":
            out["large"] = large()
    write_results("glue", out)


if __name__ == "__main__":
    main()
