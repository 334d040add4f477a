"""Train every run of a sweep spec, side by side, without measuring geometry.

    python scripts/train_sweep.py tasks/rank_sweep_paper.toml OUT/runs/full --jobs 2 [--seeds 0 1]

Each run goes to ``OUT/runs/full/<run name>`` exactly as :func:`neurogeom.workflows.rank_sweep.rank_sweep`
names it, so a later ``neurogeom run SPEC -o OUT`` reuses the trained runs and only measures. Runs
are ordered seed by seed so that a worker builds each seed's trial banks once; each run trains with
one torch and one BLAS thread. Writes ``timing.json`` beside the runs: wall time, the seconds of
training summed over runs, and ``os.getloadavg()`` at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _train_one(item, out_dir):
    from threadpoolctl import threadpool_limits

    from neurogeom.models.rnn import torch_threads
    from neurogeom.models.train import train

    name, spec = item
    t0 = time.perf_counter()
    with torch_threads(1), threadpool_limits(1):
        train(spec, Path(out_dir) / name)
    return name, time.perf_counter() - t0


def main() -> None:
    from neurogeom.parallel import parallel_map
    from neurogeom.specs.train import expand_sweep, validate_spec
    from neurogeom.workflows.preflight import load_spec

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("spec")
    ap.add_argument("out")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="*", help="train only these seeds of the sweep")
    args = ap.parse_args()
    spec = load_spec(args.spec)
    spec.pop("source", None)
    if args.seeds:
        spec["sweep"] = {**spec["sweep"], "seed": list(args.seeds)}
    runs = expand_sweep(validate_spec(spec))
    runs.sort(key=lambda item: (item[1]["training"]["seed"], str(item[1]["network"]["rank"])))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    load0, t0 = os.getloadavg(), time.perf_counter()
    done = [0]

    def tell(index, result):
        done[0] += 1
        print(f"{done[0]}/{len(runs)} {result[0]} {result[1]:.1f} s", flush=True)

    import functools

    results = parallel_map(
        functools.partial(_train_one, out_dir=str(out)), runs, n_jobs=args.jobs, on_result=tell
    )
    info = {
        "spec": args.spec,
        "n_runs": len(runs),
        "n_jobs": args.jobs,
        "wall_s": time.perf_counter() - t0,
        "train_s_summed": sum(s for _, s in results),
        "loadavg_at_start": load0,
        "loadavg_at_end": os.getloadavg(),
    }
    (out / "timing.json").write_text(json.dumps(info, indent=1))
    print(json.dumps(info), file=sys.stderr)


if __name__ == "__main__":
    main()
