"""A study's trajectories with hierarchical intervals: the study path against the hand loop.

The study: ``synthetic_study`` with 10 subjects x 10 sessions, 100 units per session, 3
conditions of 20 trials each (M = 20 points per manifold). The numbers: GLUE (n_t = 100) in every
session, and 50 within-session half-subsamples per session for the hierarchical bootstrap across
subjects; 5,100 GLUE problems of 3 manifolds in all.

(a) ``study``: ``neurogeom.learning.study_trajectory(tree, by="condition", n_boot=50, n_t=100)``.
(b) ``loop`` (the baseline): what a user writes today for the same numbers: for every subject and
    session, draw M points per condition and call ``neurogeom.geometry.glue``, then 50 times a
    half-subsample and ``glue`` again; recentre and rescale the replicates, draw subjects with
    replacement, and take the percentile interval at the expanded level. It uses the study
    path's seeds (``child_seed``), so both give the same numbers; the benchmark checks it.

Each path runs in its own child process (its peak resident memory is its own, read with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at its end; the study is generated and the
compiled solver loaded before the clock starts). Goals: the study path within 60 s and within
1.2x of the hand loop's time. ``os.getloadavg()`` is recorded before and after (the machine is
shared: timings are noisy).

Run: ``python benchmarks/study.py`` -> benchmarks/results/study.json (minutes).
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np
from _results import write_results

GIB = 2.0**30
STUDY = dict(n_subjects=10, n_sessions=10, n_conditions=3, n_units=100, n_trials=20, seed=0)
N_T, N_BOOT, FRACTION, CONFIDENCE, SEED = 100, 50, 0.5, 0.95, 0


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # KiB on Linux


def _setup():
    import neurogeom as ng
    from neurogeom.geometry import glue, glue_batch

    tree = ng.synthetic_study(**STUDY)
    x = np.random.default_rng(0).normal(size=(30, 10))
    y = np.repeat(np.arange(3), 10)
    glue(x, y, n_t=4)  # compile or load the solver before the clock starts
    glue_batch([(x, y)], n_t=4)
    return tree


def case_study() -> dict:
    from neurogeom.learning import study_trajectory

    tree = _setup()
    rss0 = _peak_gib()
    t0 = time.perf_counter()
    traj = study_trajectory(
        tree, by="condition", n_boot=N_BOOT, fraction=FRACTION, confidence=CONFIDENCE,
        seed=SEED, n_t=N_T,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 2),
        "peak_rss_gib_before": round(rss0, 3),
        "peak_rss_gib": round(_peak_gib(), 3),
        "capacity": traj.capacity.values.tolist(),
        "capacity_study": traj.capacity_study.values.tolist(),
        "capacity_study_ci_low": traj.capacity_study_ci_low.values.tolist(),
        "capacity_study_ci_high": traj.capacity_study_ci_high.values.tolist(),
    }


def case_loop() -> dict:
    from neurogeom._provenance import child_seed
    from neurogeom.geometry import glue
    from neurogeom.learning.hierarchical import expanded_confidence
    from neurogeom.learning.stats import percentile_ci

    tree = _setup()
    rss0 = _peak_gib()
    t0 = time.perf_counter()
    subjects = list(tree.children.values())
    n_sub, n_ses = len(subjects), max(len(s.children) for s in subjects)
    value = np.full((n_sub, n_ses), np.nan)
    reps = np.full((n_sub, n_ses, N_BOOT), np.nan)
    for i, subject in enumerate(subjects):
        sessions = sorted(subject.children.values(), key=lambda n: n.attrs["order"])
        data = []
        for node in sessions:
            pop = node["pop"]
            data.append((pop.transpose("trial", "unit").values, pop["condition"].values))
        m = min(int(np.sum(k == c)) for _, k in data for c in np.unique(k))
        half = max(2, int(round(FRACTION * m)))
        for k, (x, lab) in enumerate(data):

            def draw(rng, size, x=x, lab=lab):
                rows = np.concatenate(
                    [np.sort(rng.choice(np.flatnonzero(lab == c), size, replace=False))
                     for c in np.unique(lab)]
                )  # fmt: skip
                return x[rows], np.repeat(np.arange(np.unique(lab).size), size)

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                xs, ys = draw(np.random.default_rng(child_seed(SEED, 0, i, k)), m)
                value[i, k] = float(glue(xs, ys, n_t=N_T, seed=child_seed(SEED, 1, i, k)).capacity)
                for b in range(N_BOOT):
                    xs, ys = draw(np.random.default_rng(child_seed(SEED, 2, i, k, b)), half)
                    seed = child_seed(SEED, 3, i, k, b)
                    reps[i, k, b] = float(glue(xs, ys, n_t=N_T, seed=seed).capacity)
    centred = value[:, :, None] + np.sqrt(FRACTION / (1 - FRACTION)) * (
        reps - reps.mean(axis=2, keepdims=True)
    )
    rng = np.random.default_rng(child_seed(SEED, 4))
    drawn = rng.integers(0, n_sub, size=(N_BOOT, n_sub))
    which = rng.integers(0, N_BOOT, size=(N_BOOT, n_sub))
    study_reps = centred.transpose(0, 2, 1)[drawn, which].mean(axis=1)  # (B, sessions)
    low, high = percentile_ci(study_reps, confidence=expanded_confidence(n_sub, CONFIDENCE))
    wall = time.perf_counter() - t0
    return {
        "wall_s": round(wall, 2),
        "peak_rss_gib_before": round(rss0, 3),
        "peak_rss_gib": round(_peak_gib(), 3),
        "capacity": value.tolist(),
        "capacity_study": value.mean(axis=0).tolist(),
        "capacity_study_ci_low": np.asarray(low).tolist(),
        "capacity_study_ci_high": np.asarray(high).tolist(),
    }


def _child(case: str) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--case", case],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:], "returncode": proc.returncode}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _max_relative(a, b) -> float:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def main() -> None:
    import numba

    out = {
        "what": "study_trajectory (GLUE n_t=100, 50 hierarchical bootstrap replicates) on 10 "
        "subjects x 10 sessions x 100 units, 3 conditions x 20 trials, against the per-session "
        "loop of neurogeom.geometry.glue computing the same numbers",
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, shared; timings noisy",
        "numba_threads": numba.get_num_threads(),
        "loadavg_before": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "goals": "study path <= 60 s and <= 1.2x the hand loop's time; the same numbers",
        "problems": 10 * 10 * (1 + N_BOOT),
    }
    loop = _child("loop")
    study = _child("study")
    out["loadavg_after"] = list(os.getloadavg())
    numbers = ("capacity", "capacity_study", "capacity_study_ci_low", "capacity_study_ci_high")
    if "error" not in loop and "error" not in study:
        out["max_relative_difference"] = {k: _max_relative(study[k], loop[k]) for k in numbers}
        out["time_ratio_study_over_loop"] = round(study["wall_s"] / loop["wall_s"], 3)
        out["within_60_s"] = study["wall_s"] <= 60.0
        out["within_1_2x_of_loop"] = out["time_ratio_study_over_loop"] <= 1.2
        for res in (loop, study):
            for k in numbers[:1]:
                res.pop(k)
    out["a_study"] = study
    out["b_loop"] = loop
    write_results("study", out)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        result = {"study": case_study, "loop": case_loop}[sys.argv[2]]()
        print(json.dumps(result))
    else:
        main()
