"""Wall time of the main job, `neurogeom demo`, and the share of each phase.

The demo runs as a subprocess (process start, imports, numba's cached GLUE kernels, torch and the
trial bank included) into a fresh temporary folder, so nothing is reused. The phase seconds
(load, simulate, prepare, geometry, bootstrap, compare, plots, report) come from the timings the
pipeline records in ``OUT/results/timings.json``; "bootstrap" is the networks' trajectories'
resampling error and shuffle null plus the study's (6 animals x 3 sessions: the hierarchical
bootstrap and the paired test), "geometry" the networks' point estimates, "compare" the animals
against the 3 networks (cohorts and their representation similarity). Their sum is
the pipeline's own time; the rest of the wall time is interpreter start and imports.

Goal: <= 180 s in all on 2 cores, the bootstrap at most half of it. The load average before and
after is recorded: on a shared machine other work inflates the wall time.

Run: python benchmarks/demo.py   (writes benchmarks/results/demo.json)
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _results import write_results

GOAL_S = 180.0


def run_demo(out: Path) -> float:
    """Seconds of one `neurogeom demo -o out` as a whole process."""
    cmd = [sys.executable, "-c", "from neurogeom.cli import main; main()", "demo", "-o", str(out),
           "--no-progress"]  # fmt: skip
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0


def main() -> None:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        wall = run_demo(out)
        timings = json.loads((out / "results" / "timings.json").read_text())
    load_after = os.getloadavg()
    seconds = timings["seconds"]
    share_of_wall = {k: v / wall for k, v in seconds.items()}
    result = {
        "what": "wall time of `neurogeom demo` (subprocess) and the share of each phase",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },  # fmt: skip
        "loadavg_before": list(load_before),
        "loadavg_after": list(load_after),
        "wall_s": wall,
        "pipeline_s": timings["total_s"],
        "startup_and_imports_s": wall - timings["total_s"],
        "phase_s": seconds,
        "phase_share_of_wall": share_of_wall,
        "goal_wall_s": GOAL_S,
        "meets_wall_goal": wall <= GOAL_S,
        "bootstrap_share_of_wall": share_of_wall["bootstrap"],
        "meets_bootstrap_goal": share_of_wall["bootstrap"] <= 0.5,
    }
    write_results("demo", result)


if __name__ == "__main__":
    main()
