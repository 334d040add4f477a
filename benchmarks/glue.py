"""GLUE speed panel: the batched exact dual solver against per-sample scipy NNLS, each case in one run.

Cases (the same (y, t) samples on both sides; y from glue's default ensemble, "nontrivial"):
  (a) config B of the reference outputs (P = 50, M = 50, N = 2000, rebuilt from input_recipe);
  (b) Golub et al. 2018 BCI data from ../shared when present (8 directions, 86 units, centred),
      else a synthetic floor case of the same shape;
  (c) the bundled context-DM checkpoints at step 0 and at the last step, decision period
      (states averaged over its bins), 2 manifolds (ground truth), centred;
  (d) the README config (P = 100, M = 50, N = 5000, Gaussian).
For each: total glue() time, one Gram build, the per-sample baseline (scipy.optimize.nnls on each
sample's dual in the ambient features, a few samples timed and extrapolated to n_t), and capacity
agreement on the timed samples. The baseline is checked: a sample whose NNLS solution violates the
constraints or the KKT conditions beyond tolerance is a baseline failure, counted and excluded.
``os.getloadavg()`` is recorded before and after (the machine is shared).

Run: ``python benchmarks/glue.py`` -> benchmarks/results/glue.json. ``BENCH_CASES=bc`` runs only
the cases named by their letters (written to results/glue_<letters>.json instead);
``BENCH_SKIP_README=1`` leaves out case (d).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from _results import write_results
from threadpoolctl import threadpool_limits

from neurogeom.geometry import _dichotomies, _dual
from neurogeom.geometry import capacity as cap_mod
from neurogeom.geometry.capacity import glue

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
N_BASELINE = int(os.environ.get("BENCH_BASELINE_SAMPLES", "20"))
CASES = os.environ.get("BENCH_CASES", "abcd")
ROOT = Path(__file__).resolve().parents[1]
GOLUB = (
    ROOT.parent / "shared" / "data" / "golub2018_bci_learning" / "exampleData_monkeyJ_20120305.mat"
)


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


def golub(stage=0):
    if GOLUB.exists():
        from neurogeom.io.arrays import read_golub

        pop = read_golub(GOLUB)
        return pop.values[stage], pop["condition"].values, "golub2018"
    rng = np.random.default_rng(stage)
    return rng.standard_normal((8 * 69, 86)), np.repeat(np.arange(8), 69), "synthetic_floor"


def context_dm():
    from neurogeom.models.simulate import simulate

    pop = simulate(ROOT / "data" / "context_dm_checkpoints", align="decision")
    pop = pop.isel(stage=[0, -1]).sel(time=slice(0.0, None))
    pts = np.nanmean(pop.values, axis=2).astype(np.float64)
    return pts, pop["ground_truth"].values, pop["step"].values.tolist()


def timed(fn, repeat=1):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def baseline(x, signs, t_amb):
    """Per-sample NNLS in the ambient features, checked; returns F (NaN where it failed)."""
    lam = _dual.solve_reference(x, signs, t_amb)
    v = t_amb + (signs * lam) @ x
    av = signs * (v @ x.T)
    scale = float(np.sqrt(np.max(np.sum(x * x, axis=1)))) * np.linalg.norm(t_amb, axis=1)
    viol = np.maximum(np.maximum(-av, 0.0), np.where(lam > 0, np.abs(av), 0.0)).max(axis=1)
    f = np.sum(((signs * lam) @ x) ** 2, axis=1)
    f[viol > 1e-6 * scale] = np.nan
    return f


def compare(name, x, lab, *, n_t=200, center=False, n_baseline=N_BASELINE):
    print(f"{name}: glue ...", file=sys.stderr, flush=True)
    if center:
        x = x - x.mean(axis=0)
    lab = np.unique(lab, return_inverse=True)[1].ravel()
    p = int(lab.max()) + 1
    t_gram, _ = timed(lambda: x @ x.T, repeat=3)
    t_glue, ds = timed(lambda: glue(x, lab, n_t=n_t, seed=0), repeat=2)
    red = _dual.reduce_points(x)
    y, _, _ = _dichotomies.draw("nontrivial", n_t, p, cap_mod._rng(0, cap_mod._STREAM_DICHOTOMY))
    w = cap_mod._rng(0, cap_mod._STREAM_PROBE).standard_normal((y.shape[0], red.rank))
    t_amb = np.linalg.lstsq(x, red.factor @ w.T, rcond=None)[0].T  # X t = B w
    signs = y[:, lab]
    pick = np.linspace(0, y.shape[0] - 1, min(n_baseline, y.shape[0])).astype(int)
    print(f"{name}: per-sample nnls on {pick.size} samples ...", file=sys.stderr, flush=True)
    t_base, f_base = timed(lambda: baseline(x, signs[pick], t_amb[pick]))
    ok = np.isfinite(f_base)
    f_glue = ds.F.values[pick]
    per_sample = t_base / pick.size
    extrapolated = per_sample * ds.attrs["n_samples"]
    at = ds.attrs
    return {
        "config": name,
        "P": p,
        "points": int(x.shape[0]),
        "N": int(x.shape[1]),
        "n_t": int(at["n_samples"]),
        "span_dimension": int(at["span_dimension"]),
        "glue_total_s": round(t_glue, 3),
        "gram_build_s": round(t_gram, 4),
        "ratio_glue_over_gram": round(t_glue / t_gram, 2),
        "nnls_per_sample_s": round(per_sample, 4),
        "nnls_extrapolated_s": round(extrapolated, 2),
        "speedup_over_per_sample_nnls": round(extrapolated / t_glue, 1),
        "baseline_samples": int(pick.size),
        "baseline_failures": int((~ok).sum()),
        "capacity_glue": float(ds.capacity),
        "capacity_glue_sem": float(ds.capacity_sem),
        "capacity_rel_diff_on_checked_samples": float(
            abs(f_base[ok].mean() / f_glue[ok].mean() - 1)
        )
        if ok.any()
        else None,
        "max_rel_diff_F_per_sample": float(np.max(np.abs(f_glue[ok] / f_base[ok] - 1)))
        if ok.any()
        else None,
        "no_separating_fraction": at["no_separating_fraction"],
        "at_floor": at["at_floor"],
        "solver": {k: v for k, v in at.items() if k.startswith("solver_")},
    }


def main() -> None:
    t0 = time.perf_counter()
    glue(np.eye(6), np.arange(6), n_t=4)  # compile or load the exact finish
    warmup = time.perf_counter() - t0
    out = {
        "what": "GLUE (batched exact dual) vs per-sample scipy.optimize.nnls, same (y, t) samples",
        "blas_threads": THREADS,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, shared; timings noisy",
        "loadavg_before": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "warmup_compile_or_cache_load_s": round(warmup, 2),
        "goals": ">= 20x per-sample NNLS on every case; config B within 5x one Gram build; "
        "capacities equal to 0.1%",
        "panel": {},
    }
    panel = out["panel"]
    with threadpool_limits(THREADS):
        if "a" in CASES:
            panel["a_config_B"] = compare("B_P50_M50_N2000", *structured())
        for stage in (0, 1) if "b" in CASES else ():
            x, lab, source = golub(stage)
            panel[f"b_{source}_stage{stage}"] = compare(
                f"{source}_stage{stage}", x, lab, n_t=400, center=True
            )
        if "c" in CASES:
            pts, lab, steps = context_dm()
            for k, step in enumerate(steps):
                panel[f"c_context_dm_step{step}"] = compare(
                    f"context_dm_step{step}_decision", pts[k], lab, n_t=400, center=True
                )
        if "d" in CASES and os.environ.get("BENCH_SKIP_README") != "1":
            panel["d_readme"] = compare(
                "README_P100_M50_N5000",
                *readme(),
                n_baseline=int(os.environ.get("BENCH_README_BASELINE_SAMPLES", "2")),
            )
    out["loadavg_after"] = list(os.getloadavg())
    write_results("glue" if CASES == "abcd" else f"glue_{CASES}", out)


if __name__ == "__main__":
    main()
