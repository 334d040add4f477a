"""GLUE on large problems: 50,000 points on one machine, and samples split over a dask cluster.

Cases, each in its own child process (so its peak resident memory is its own, read with
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at its end):
  (a) ``large``: P = 100 manifolds x M = 500 points, N = 1,000 features (50,000 points), n_t = 200,
      ``dtype=np.float32``, one process. Goal: peak RSS within 24 GiB (docs/memory.md predicts it).
  (b) ``split``: config B of the reference outputs (P = 50, M = 50, N = 2,000, n_t = 200), first in
      one process (the baseline), then its samples split over a dask LocalCluster of 2 worker
      processes (``glue(..., n_jobs=2, scheduler=client)``, and 4 parts), in the same child; the
      capacities and every sample's F are compared with the one-process run.
``os.getloadavg()`` is recorded before and after (the machine is shared: timings are noisy).

Run: ``python benchmarks/large.py`` -> benchmarks/results/large.json (minutes).
``BENCH_CASES=b`` runs only the cases named by their letters.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time

import numpy as np
from _results import write_results
from glue import structured  # the structured manifolds of the GLUE speed panel

CASES = os.environ.get("BENCH_CASES", "ab")
GIB = 2.0**30


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB  # KiB on Linux


def _summary(ds, wall):
    return {
        "wall_s": round(wall, 2),
        "capacity": float(ds.capacity),
        "capacity_sem": float(ds.capacity_sem),
        "radius": float(ds.radius),
        "dimension": float(ds.dimension),
        "span_dimension": ds.attrs["span_dimension"],
        "reduction": ds.attrs["reduction"],
        "fista_iterations": ds.attrs["solver_fista_iterations"],
    }


def _warm() -> None:
    from neurogeom.geometry import glue

    glue(np.eye(6), np.arange(6), n_t=4)


def case_large() -> dict:
    from neurogeom.geometry import glue

    glue(np.eye(6), np.arange(6), n_t=4)  # compile or load the exact finish
    x, labels = structured(100, 500, 1000)
    rss_data = _peak_gib()
    t0 = time.perf_counter()
    ds = glue(x, labels, n_t=200, dtype=np.float32)
    out = _summary(ds, time.perf_counter() - t0)
    out.update(
        n_points=int(x.shape[0]),
        n_features=int(x.shape[1]),
        n_t=200,
        dtype="float32",
        peak_rss_gib_after_data=round(rss_data, 3),
        peak_rss_gib=round(_peak_gib(), 3),
        data_gib=round(x.nbytes / GIB, 3),
    )
    out["within_24_gib"] = out["peak_rss_gib"] < 24.0
    return out


def case_split() -> dict:
    from distributed import Client, LocalCluster

    from neurogeom.geometry import glue

    glue(np.eye(6), np.arange(6), n_t=4)
    x, labels = structured(50, 50, 2000)
    t0 = time.perf_counter()
    one = glue(x, labels, n_t=200)
    out = {"one_process": _summary(one, time.perf_counter() - t0)}
    t0 = time.perf_counter()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        start = time.perf_counter() - t0
        client.run(_warm)  # compile or load the exact finish on every worker
        for parts in (2, 4):
            t0 = time.perf_counter()
            ds = glue(x, labels, n_t=200, n_jobs=parts, scheduler=client)
            res = _summary(ds, time.perf_counter() - t0)
            res["max_relative_F_difference"] = float(
                np.max(np.abs(ds.F.values - one.F.values) / one.F.values)
            )
            res["capacity_relative_difference"] = abs(float(ds.capacity) / float(one.capacity) - 1)
            res["speedup_vs_one_process"] = round(out["one_process"]["wall_s"] / res["wall_s"], 3)
            out[f"dask_2_workers_{parts}_parts"] = res
    out["cluster_start_s"] = round(start, 2)
    out["problem"] = "config B: P=50, M=50, N=2000, n_t=200, float64"
    return out


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


def main() -> None:
    out = {
        "what": "GLUE at 50,000 points (float32, one process) and samples split over a dask "
        "LocalCluster against one process",
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, shared; timings noisy",
        "loadavg_before": list(os.getloadavg()),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "goals": "peak RSS within 24 GiB at 50,000 points; split results equal one process "
        "to rounding",
    }
    if "a" in CASES:
        out["a_large"] = _child("large")
    if "b" in CASES:
        out["b_split"] = _child("split")
    out["loadavg_after"] = list(os.getloadavg())
    write_results("large" if CASES == "ab" else f"large_{CASES}", out)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        result = {"large": case_large, "split": case_split}[sys.argv[2]]()
        print(json.dumps(result))
    else:
        main()
