"""The 16-point sweep of tasks/sweep_fast.toml: serial vs joblib (2 jobs) vs a dask LocalCluster
(2 worker processes), in the same run, and the per-task overhead of the dask path.

(a) wall time of ``run_sweep`` end to end (grid expansion, training and analysis of every point,
    the zarr store written point by point) with each backend, into a fresh store each; the
    speed-ups are against the serial run (baseline). The joblib and dask times include starting
    their worker processes (each worker imports torch and builds its trial banks once, seconds);
    the dask time includes starting the LocalCluster.
(b) per-task overhead of the dask path on warm workers: the 16 points run again on the same
    cluster with each task recording its start and end on its worker; the overhead per task is
    the idle time of the workers between tasks (scheduling, sending the point, returning the
    row), from the first submission to the last result, divided by the number of tasks, and is
    reported as a fraction of the mean task time (goal <= 5%).
(c) the three stores hold identical numbers.

Run: python benchmarks/sweep.py   (writes benchmarks/results/sweep.json)
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_results

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "tasks" / "sweep_fast.toml"


def _timed_point(item):
    """One grid point, with its start and end time and the worker that ran it."""
    from distributed import get_worker

    from neurogeom.workflows.sweep import _point

    start = time.time()
    row = _point(item)
    return {"start": start, "end": time.time(), "worker": get_worker().address, "row": row}


def _overhead(client, grid) -> dict:
    from neurogeom.parallel import parallel_map

    items = [(name, one) for name, _, one in grid.points]
    t0 = time.time()
    out = parallel_map(_timed_point, items)
    t1 = time.time()
    task_s = np.array([o["end"] - o["start"] for o in out])
    busy: dict[str, float] = {}
    for o in out:
        busy[o["worker"]] = busy.get(o["worker"], 0.0) + o["end"] - o["start"]
    n_workers = len(client.scheduler_info()["workers"])
    idle = n_workers * (t1 - t0) - task_s.sum()  # worker-seconds not spent inside a task
    per_task = idle / len(items)
    return {
        "n_tasks": len(items),
        "n_workers": n_workers,
        "wall_s": t1 - t0,
        "task_s_mean": float(task_s.mean()),
        "task_s_min": float(task_s.min()),
        "task_s_max": float(task_s.max()),
        "idle_worker_s": float(idle),
        "overhead_per_task_s": float(per_task),
        "overhead_fraction_of_task": float(per_task / task_s.mean()),
        "tasks_per_worker": {w: sum(o["worker"] == w for o in out) for w in busy},
    }


def main() -> None:
    from neurogeom.parallel import cluster
    from neurogeom.workflows.sweep import open_sweep, run_sweep, sweep_grid

    grid = sweep_grid(SPEC)
    folder = Path(tempfile.mkdtemp(prefix="neurogeom-bench-sweep-"))
    load_before = os.getloadavg()
    walls: dict[str, float] = {}
    try:
        t = time.perf_counter()
        run_sweep(SPEC, folder / "serial.zarr")
        walls["serial"] = time.perf_counter() - t
        t = time.perf_counter()
        run_sweep(SPEC, folder / "joblib.zarr", n_jobs=2)
        walls["joblib_2_jobs"] = time.perf_counter() - t
        t = time.perf_counter()
        with cluster(n_workers=2) as client:
            started = time.perf_counter() - t
            run_sweep(SPEC, folder / "dask.zarr", scheduler=client)
            walls["dask_local_cluster_2_workers"] = time.perf_counter() - t
            overhead = _overhead(client, grid)
        stores = {
            k: open_sweep(folder / f"{k}.zarr").drop_attrs() for k in ("serial", "joblib", "dask")
        }
        identical = all(stores["serial"].identical(v) for v in stores.values())
        capacity = stores["serial"]["capacity_final"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    load_after = os.getloadavg()
    result = {
        "what": "tasks/sweep_fast.toml, 16 grid points (2 ranks x 2 output scales x 4 seeds), "
        "run_sweep end to end with each backend; per-task overhead of the dask path on warm "
        "workers",
        "baseline": "serial run_sweep in this process",
        "wall_s": walls,
        "speedup_vs_serial": {k: walls["serial"] / v for k, v in walls.items()},
        "local_cluster_start_s": started,
        "dask_overhead": overhead,
        "goal_overhead_fraction": 0.05,
        "meets_goal": overhead["overhead_fraction_of_task"] <= 0.05,
        "stores_identical": bool(identical),
        "capacity_final_mean_by_rank_alpha": {
            f"rank={r}, alpha={a}": float(capacity.sel(rank=r, alpha=a).mean())
            for r in capacity["rank"].values.tolist()
            for a in capacity["alpha"].values.tolist()
        },
        "load_average_before": list(load_before),
        "load_average_after": list(load_after),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "argv": sys.argv,
    }
    write_results("sweep", result)


if __name__ == "__main__":
    main()
