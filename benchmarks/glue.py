"""GLUE speed panel: the batched exact dual solver against per-sample scipy NNLS, each case in one run.

Cases (the same (y, t) samples on both sides; y from glue's default ensemble, "nontrivial"):
  (a) config B of the reference outputs (P = 50, M = 50, N = 2000, rebuilt from input_recipe);
  (b) Golub et al. 2018 BCI data from ../shared when present (8 directions, 86 units, centred),
      else a synthetic floor case of the same shape;
  (c) the bundled context-DM checkpoints at step 0 and at the last step, decision period
      (states averaged over its bins), 2 manifolds (ground truth), centred;
  (d) the README config (P = 100, M = 50, N = 5000, Gaussian);
  (e) near the floor with wide supports: two heavily overlapping manifolds of 216 points in 128
      units (rank 111, centred), n_t = 200 over the 2 distinct dichotomies;
  (f) many small problems: 1,000 problems of P = 3 manifolds of M = 20 points in N = 100 units,
      n_t = 100 each, by one glue_batch() call against one glue() call per problem (same seed;
      capacities compared, largest relative difference recorded), and against per-sample NNLS
      on the samples of a few problems, extrapolated to all;
  (g) a trajectory's 50 bootstrap replicates (4 stages, 3 conditions x 30 trials, 40 units) by
      trajectory(), which measures all replicates in one glue_batch pass, against one
      measure_geometry() call per replicate (which solves that replicate's stages in one
      glue_batch pass), same draws and seeds.
For (a)-(e): total glue() time, one Gram build, the per-sample baseline (scipy.optimize.nnls on each
sample's dual in the ambient features, a few samples timed and extrapolated to n_t), and capacity
agreement on the timed samples. The baseline is checked: a sample whose NNLS solution violates the
constraints or the KKT conditions beyond tolerance is a baseline failure, counted and excluded.
``os.getloadavg()`` is recorded before and after (the machine is shared).

Run: ``python benchmarks/glue.py`` -> benchmarks/results/glue.json. ``BENCH_CASES=bc`` runs only
the cases named by their letters (written to results/glue_<letters>.json instead);
``BENCH_SKIP_README=1`` leaves out case (d).

Measured (results/glue.json: the run with the median case f of five on the final code, cases a-c
and e-g, on an AMD EPYC machine with AVX-512, load average 1.2-1.5; case d alone,
results/glue_d.json, one run on the final code; each timed call after a 0.2 s pause, glue and
its baseline alternating, best of 3 where a baseline run takes under 5 s): per-sample NNLS over
glue 520x (a), 82x / 92x (b), 38x and 72x (c, steps 0 and 400), 103x (d, 112 s against 11,500 s;
134 s on the code before), 32.3x (e), 31.3x (f); config B 3.07x one Gram build (0.407 s against
0.133 s); 1,000 small problems 0.258 ms a problem by
glue_batch against 3.11 ms by one glue() call each (12.07x), F and capacities equal to the
per-call ones bit for bit; a trajectory's 50 bootstrap replicates 1.21x one measure_geometry()
call per replicate. The five runs: config B 3.00-3.11x, NNLS 463-520x (a), 82-99x (b), 38-45x
and 63-77x (c), 28.1-32.3x (e), 31.3-33.8x (f), f 12.24x / 12.49x / 11.04x / 12.05x / 12.07x one
call (0.237-0.258 against 2.77-3.11 ms a problem); four runs of case f alone: 12.07x / 11.88x /
11.71x / 11.98x. Back to back, case f: 10.72x on the code before the last changes, 12.51x after
them (0.300 -> 0.258 ms a problem). Three panel runs on the first of those changes (the same
solve): f 11.88x / 11.67x / 11.41x, e 23.8x / 44.1x / 15.4x, the last in a slow spell of the
host (the Gram builds of c and e 2.7-4x slower than in the other runs).
The last changes: the active-set method's solves on the passive set keep its forward
substitution between solves (only the rows that changed are redone; new points extend it),
divide by the factor's diagonal through reciprocals formed off the chains of dependent steps,
and rotate without hypot where a^2 + b^2 is safe; F's sum over coordinates is vectorised;
glue_batch's stacked signs and linear terms are not zeroed first where written whole. The
compiled solve of a block of 125 small problems: 37.0-37.4 -> 30.7-31.0 ms on one thread.
Where the time of 1,000 small problems goes now (one thread, perf samples, before the zeroing
change): the compiled solve and its per-sample measures about half, the anchor geometry 9%, BLAS
and LAPACK (the Gram matrices, their pivoted Cholesky factors, the linear terms) 11%, zeroing and
page faults 7%, the rest numpy and Python steps.
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
from neurogeom.geometry.capacity import glue, glue_batch

THREADS = int(os.environ.get("BENCH_THREADS", "2"))
N_BASELINE = int(os.environ.get("BENCH_BASELINE_SAMPLES", "20"))
# baselines quicker than this are timed best of k, as glue is
CHEAP_BASELINE_S = 5.0
# pause before each timed call (see timed)
PAUSE_S = 0.2
CASES = os.environ.get("BENCH_CASES", "abcdefg")
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


def near_floor(shift=1.0, seed=0):
    """Two manifolds of 216 points from one 110-dim Gaussian in 128 units, shifted apart by
    +-shift along one direction: heavily overlapping, separable, capacity near P / rank."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((432, 110)) @ rng.standard_normal((110, 128)) / np.sqrt(110)
    lab = np.repeat([0, 1], 216)
    d = rng.standard_normal(128)
    d /= np.linalg.norm(d)
    return z + shift * np.where(lab[:, None] == 0, 1.0, -1.0) * d, lab


def small_problems(n_problems=1000, p=3, m=20, n=100, seed=0):
    """Clusters around Gaussian centres, one set of points per problem (bootstrap-like)."""
    rng = np.random.default_rng(seed)
    lab = np.repeat(np.arange(p), m)
    out = []
    for _ in range(n_problems):
        centres = rng.standard_normal((p, n))
        out.append((np.repeat(centres, m, axis=0) + rng.standard_normal((p * m, n)), lab))
    return out


def many_small(n_problems=1000, n_t=100, n_nnls_problems=5):
    print(f"many small: {n_problems} problems ...", file=sys.stderr, flush=True)
    problems = small_problems(n_problems)
    glue_batch(problems[:2], n_t=n_t)  # compile or load the batched kernel
    t_batch = t_calls = np.inf
    for _ in range(3):  # alternating, best of 3 each
        t, ds = timed(lambda: glue_batch(problems, n_t=n_t, seed=0))
        t_batch = min(t_batch, t)
        t, ones = timed(lambda: [glue(x, lab, n_t=n_t, seed=0) for x, lab in problems])
        t_calls = min(t_calls, t)
    cap_one = np.array([float(o.capacity) for o in ones])
    rel = np.abs(ds.capacity.values / cap_one - 1)
    f_one = np.array([o.F.values for o in ones])
    # per-sample NNLS on every sample of a few problems, extrapolated to all samples
    n_base, t_base, fails, rel_f = 0, 0.0, 0, []
    for k in np.linspace(0, n_problems - 1, n_nnls_problems).astype(int):
        x, lab = problems[k]
        red = _dual.reduce_points(x)
        y, _, _ = _dichotomies.draw(
            "nontrivial", n_t, 3, cap_mod._rng(0, cap_mod._STREAM_DICHOTOMY)
        )
        w = cap_mod._rng(0, cap_mod._STREAM_PROBE).standard_normal((y.shape[0], red.rank))
        t_amb = np.linalg.lstsq(x, red.factor @ w.T, rcond=None)[0].T
        signs = y[:, lab]
        t, f_base = timed_baseline(lambda x=x, s=signs, t=t_amb: baseline(x, s, t), 3)
        t_base += t
        n_base += y.shape[0]
        ok = np.isfinite(f_base)
        fails += int((~ok).sum())
        rel_f.append(float(np.max(np.abs(f_one[k][ok] / f_base[ok] - 1))))
    n_samples_all = n_problems * int(ds.attrs["n_samples"])
    nnls_extrapolated = t_base / n_base * n_samples_all
    return {
        "config": f"{n_problems} problems of P3_M20_N100",
        "n_problems": n_problems,
        "P": 3,
        "points": 60,
        "N": 100,
        "n_t": int(ds.attrs["n_samples"]),
        "glue_batch_total_s": round(t_batch, 3),
        "glue_batch_per_problem_ms": round(1e3 * t_batch / n_problems, 3),
        "glue_per_call_total_s": round(t_calls, 3),
        "glue_per_call_ms": round(1e3 * t_calls / n_problems, 3),
        "speedup_over_one_call_per_problem": round(t_calls / t_batch, 2),
        "max_rel_diff_capacity_vs_per_call": float(rel.max()),
        "max_rel_diff_F_vs_per_call": float(
            np.max(np.abs(ds.F.values - f_one) / np.maximum(np.abs(f_one), 1e-300))
        ),
        "nnls_per_sample_s": round(t_base / n_base, 6),
        "nnls_extrapolated_s": round(nnls_extrapolated, 2),
        "speedup_over_per_sample_nnls": round(nnls_extrapolated / t_batch, 1),
        "baseline_samples": n_base,
        "baseline_failures": fails,
        "max_rel_diff_F_per_sample_vs_nnls": max(rel_f),
        "solver": {k: v for k, v in ds.attrs.items() if k.startswith("solver_")},
        "timing": "alternating, best of 3; the baseline best of 3 per problem",
    }


def trajectory_bootstrap(n_boot=50, n_t=100, repeat=3):
    """A trajectory's bootstrap replicates: 4 stages of 3 conditions x 30 trials in 40 units,
    ``n_boot`` replicates by trajectory() (all replicates' GLUE problems in one glue_batch pass)
    against one measure_geometry() call per replicate (one glue() call per stage and replicate),
    the same draws and seeds; alternating, best of ``repeat``."""
    import warnings

    from neurogeom._provenance import child_seed
    from neurogeom.learning import measure_geometry, trajectory
    from neurogeom.learning.trajectories import _Draws
    from neurogeom.population import make_population

    print(f"trajectory: {n_boot} bootstrap replicates ...", file=sys.stderr, flush=True)
    rng = np.random.default_rng(0)
    choice = np.tile([0, 1, 2], 30)
    axes = rng.standard_normal((3, 40))
    data = np.stack([s * axes[choice] + rng.standard_normal((90, 40)) for s in (0.5, 1, 2, 4)])
    pop = make_population(
        data,
        dims=("stage", "trial", "unit"),
        quantity="rnn_state",
        trial_coords={"choice": choice},
    )
    draws = _Draws(pop, ("choice",), 0)

    def batched():
        return trajectory(
            pop, by="choice", n_boot=n_boot, n_perm=0, resample="bootstrap", seed=0,
            keep_replicates=True, n_t=n_t,
        ).capacity_boot.transpose("replicate", "stage").values  # fmt: skip

    def per_call():
        return np.array(
            [
                measure_geometry(
                    draws.resample(np.random.default_rng(child_seed(0, 1, b)), "bootstrap", 0.5),
                    by="choice",
                    seed=child_seed(0, 2, b),
                    n_t=n_t,
                ).capacity.values
                for b in range(n_boot)
            ]
        )

    t_batch, t_call = np.inf, np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batched(), per_call()  # warm both paths
        for _ in range(repeat):
            t, got = timed(batched)
            t_batch = min(t_batch, t)
            t, ref = timed(per_call)
            t_call = min(t_call, t)
    return {
        "config": f"trajectory, 4 stages x 3 conditions x 30 trials, 40 units, {n_boot} bootstrap",
        "n_boot": n_boot,
        "n_t": n_t,
        "glue_problems": 4 * n_boot,
        "batched_s": round(t_batch, 3),
        "per_call_s": round(t_call, 3),
        "speedup_over_one_call_per_replicate": round(t_call / t_batch, 2),
        "max_rel_diff_capacity": float(np.max(np.abs(got / ref - 1))),
        "timing": f"alternating, best of {repeat}",
    }


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
    """Best of ``repeat`` wall times of ``fn()`` and its result. Each call starts after a pause
    of ``PAUSE_S``: the BLAS threads of the call before (the Gram build times two) keep spinning
    on the cores for a while after it returns, and a call of tens of milliseconds started at once
    ran 1.5-2x slower beside them (glue near the floor, 2 cores: 0.07-0.10 s against 0.044-0.055
    s after 0.2 s)."""
    best, out = np.inf, None
    for _ in range(repeat):
        time.sleep(PAUSE_S)
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def timed_baseline(fn, repeat):
    """The baseline timed once, and best of ``repeat`` where one run takes under
    ``CHEAP_BASELINE_S`` (the same protocol as the glue side, where it costs little)."""
    t, out = timed(fn)
    if t < CHEAP_BASELINE_S and repeat > 1:
        t = min(t, timed(fn, repeat - 1)[0])
    return t, out


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


def compare(name, x, lab, *, n_t=200, center=False, n_baseline=N_BASELINE, repeat=3):
    """One case: glue() and one Gram build timed alternately (best of ``repeat`` each), and the
    per-sample NNLS baseline on a few samples."""
    print(f"{name}: glue ...", file=sys.stderr, flush=True)
    if center:
        x = x - x.mean(axis=0)
    lab = np.unique(lab, return_inverse=True)[1].ravel()
    p = int(lab.max()) + 1
    t_gram = t_glue = np.inf
    for _ in range(repeat):  # alternating: both see the same load
        t_gram = min(t_gram, timed(lambda: x @ x.T)[0])
        t, ds = timed(lambda: glue(x, lab, n_t=n_t, seed=0))
        t_glue = min(t_glue, t)
    red = _dual.reduce_points(x)
    y, _, _ = _dichotomies.draw("nontrivial", n_t, p, cap_mod._rng(0, cap_mod._STREAM_DICHOTOMY))
    w = cap_mod._rng(0, cap_mod._STREAM_PROBE).standard_normal((y.shape[0], red.rank))
    t_amb = np.linalg.lstsq(x, red.factor @ w.T, rcond=None)[0].T  # X t = B w
    signs = y[:, lab]
    pick = np.linspace(0, y.shape[0] - 1, min(n_baseline, y.shape[0])).astype(int)
    print(f"{name}: per-sample nnls on {pick.size} samples ...", file=sys.stderr, flush=True)
    t_base, f_base = timed_baseline(lambda: baseline(x, signs[pick], t_amb[pick]), repeat)
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
        "timing": f"glue and the Gram build alternating, best of {repeat}; the baseline "
        + (f"best of {repeat}" if repeat > 1 and t_base < CHEAP_BASELINE_S else "once"),
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
        "many small problems >= 10x one glue() call per problem, capacities equal to 1e-8",
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
                repeat=1,
            )
        if "e" in CASES:
            panel["e_near_floor"] = compare("near_floor_P2_M216_N128", *near_floor(), center=True)
        if "f" in CASES:
            panel["f_many_small"] = many_small()
        if "g" in CASES:
            panel["g_trajectory_bootstrap"] = trajectory_bootstrap()
    out["loadavg_after"] = list(os.getloadavg())
    write_results("glue" if CASES == "abcdefg" else f"glue_{CASES}", out)


if __name__ == "__main__":
    main()
