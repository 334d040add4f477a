"""Speed of the rank sweep of ``tasks/rank_sweep_paper.toml`` (arXiv 2503.18114 Sec. 5.1).

(a) time per network-step of :func:`neurogeom.models.train.train` on the spec's network (rank 300,
    seed 0: a CTRNN of 300 ReLU units, no biases, batch 32, 8 time steps, SGD with momentum 0.9,
    cross-entropy over every step) against a plain torch loop of the same network
    (``torch.nn.RNN(relu, bias=False)`` + ``nn.Linear(bias=False)``, the same optimiser, the same
    minibatches gathered from the same bank at each step), measured in this process, the two
    alternately ``REPEATS`` times, with one torch and one BLAS thread; the best of each is
    compared. ``train``'s time per step is its loop's: the clock from the end of the step-0
    evaluation to the end of the last one, over the steps (the spec's evaluations every 500 steps
    on the 1,000 held-out trials and its resume files included, the set-up not); the whole call
    per step (set-up included, with the trial banks already built, as a worker pays it for every
    run after its first of a seed) and the time inside forward / loss / backward / optimiser step
    are reported too.
(b) the protocol at a reduced scale: 8 ranks x 2 seeds x 1,000 steps (checkpoints on the paper's
    schedule up to 1,000 steps, the six GLUE measures at every one, as the full protocol
    measures them), ``rank_sweep(..., n_jobs=2)`` as ``neurogeom run
    tasks/rank_sweep_paper.toml --jobs 2`` runs it: wall time, the seconds of training and of
    geometry summed over the runs and their shares, ``os.getloadavg()`` before and after; and an
    extrapolation to the full protocol (80 networks x 10,000 steps, 38 checkpoints): the
    measured wall time scaled by the work of the full protocol over the work measured (each
    run's set-up as measured, its training loop x 10, its geometry x the ratio of checkpoints),
    so it carries this run's parallel efficiency and load.
    ``--timing RUNS_DIR/timing.json`` reads a full run done by the scripts instead of measuring
    one: the training timing ``scripts/train_sweep.py`` writes beside the runs and, with
    ``--geometry-timing OUT/timing.json``, the geometry timing of ``scripts/seed_protocol.py``;
    (b) then reports the full protocol's wall time (training + geometry), the shares of each
    and the load recorded at their starts and ends.
(c) (a) again on a CUDA device when ``torch.cuda.is_available()``; otherwise "untested (no CUDA
    device)".

Run: python benchmarks/rank_sweep.py   (writes benchmarks/results/rank_sweep.json)
     python benchmarks/rank_sweep.py --timing RUNS/timing.json --geometry-timing OUT/timing.json
     [--no-a]   ((b) from a full run by the scripts; --no-a skips (a) and (c))
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from _results import write_results
from threadpoolctl import threadpool_limits

from neurogeom.models.rnn import torch_threads
from neurogeom.models.train import _batch_plan, log_schedule, train
from neurogeom.specs.train import expand_sweep
from neurogeom.tasks import build_trial_bank
from neurogeom.workflows.preflight import load_spec
from neurogeom.workflows.rank_sweep import rank_sweep

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO / "tasks" / "rank_sweep_paper.toml"
N_STEPS = 1000  # steps of each timed training run in (a)
REPEATS = 3
SEEDS = [0, 1]  # (b): every rank of the spec, these seeds
PROTOCOL_STEPS = 1000
N_JOBS = 2


def _spec() -> dict:
    spec = load_spec(SPEC)
    spec.pop("source", None)
    return spec


def _network_spec(n_steps: int, device: str) -> dict:
    """The spec's run of rank 300, seed 0, trained ``n_steps`` (checkpoints at 0 and the end)."""
    spec = _spec()
    spec["sweep"] = {"rank": [300], "seed": [0]}
    (_, one), *_ = expand_sweep(spec)
    one["training"].update(n_steps=n_steps, device=device)
    one["checkpoints"]["steps"] = [0, n_steps]
    return one


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def plain_loop(spec: dict, device: torch.device) -> float:
    """Seconds per step of a plain torch loop of the spec's network on the spec's batches."""
    tr, task = spec["training"], spec["task"]
    bank = build_trial_bank(
        task["name"], tr["n_train_trials"], seed=tr["seed"], env_kwargs=task["kwargs"]
    )
    x_all = torch.from_numpy(bank.inputs).to(device)
    y_all = torch.from_numpy(bank.targets).to(device)
    plan: list = []
    epoch = 0
    while len(plan) < tr["n_steps"]:  # the batches train() draws, in its order
        plan += _batch_plan(bank.lengths, tr["batch_size"], tr["seed"], epoch)
        epoch += 1
    plan = [torch.from_numpy(i).to(device) for i in plan[: tr["n_steps"]]]
    n, n_out = spec["network"]["n_units"], bank.n_output
    torch.manual_seed(0)
    rnn = torch.nn.RNN(bank.n_input, n, nonlinearity="relu", batch_first=True, bias=False)
    lin = torch.nn.Linear(n, n_out, bias=False)
    rnn, lin = rnn.to(device), lin.to(device)
    params = [*rnn.parameters(), *lin.parameters()]
    opt = torch.optim.SGD(params, lr=tr["lr"], momentum=tr["momentum"])
    ce = torch.nn.functional.cross_entropy
    _sync(device)
    t0 = time.perf_counter()
    for idx in plan:
        x, y = x_all[idx], y_all[idx]
        h, _ = rnn(x)
        loss = ce(lin(h).reshape(-1, n_out), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return (time.perf_counter() - t0) / len(plan)


def train_run(spec: dict) -> dict:
    """One timed ``train`` call: loop, whole call and forward/backward/optimiser per step."""
    tmp = Path(tempfile.mkdtemp())
    try:
        t0 = time.perf_counter()
        res = train(spec, tmp / "run")
        total = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    m, n = res.metrics, spec["training"]["n_steps"]
    return {
        "loop_s_per_step": float(m["wall_s"].iloc[-1] - m["wall_s"].iloc[0]) / n,
        "call_s_per_step": total / n,
        "fwd_bwd_opt_s_per_step": float(m["step_s"].iloc[-1]) / n,
        "setup_s": float(m["wall_s"].iloc[0]),
        "accuracy_final": float(m["accuracy"].iloc[-1]),
    }


def per_step(device: str = "cpu") -> dict:
    """(a): ``train`` against the plain loop, alternately, one thread."""
    spec = _network_spec(N_STEPS, device)
    dev = torch.device(device)
    load = os.getloadavg()
    with torch_threads(1), threadpool_limits(1):
        cold = train_run(spec)  # builds the trial banks of the process
        plain, ours = [], []
        for _ in range(REPEATS):
            plain.append(plain_loop(spec, dev))
            ours.append(train_run(spec))
    best = min(ours, key=lambda r: r["loop_s_per_step"])
    p = min(plain)
    return {
        "network": "CTRNN 300 ReLU units, no biases, rank 300, seed 0; batch 32, 8 time steps, "
        "SGD lr 0.003 momentum 0.9, cross-entropy over every step",
        "baseline": "torch.nn.RNN(relu, bias=False) + nn.Linear(bias=False), same batches",
        "device": device,
        "threads": 1,
        "n_steps": N_STEPS,
        "repeats": REPEATS,
        "plain_s_per_step": p,
        "plain_s_per_step_all": plain,
        "train_loop_s_per_step": best["loop_s_per_step"],
        "train_loop_s_per_step_all": [r["loop_s_per_step"] for r in ours],
        "train_call_s_per_step_warm_banks": min(r["call_s_per_step"] for r in ours),
        "train_fwd_bwd_opt_s_per_step": min(r["fwd_bwd_opt_s_per_step"] for r in ours),
        "setup_s_cold": cold["setup_s"],
        "setup_s_warm": min(r["setup_s"] for r in ours),
        "ratio_train_loop_vs_plain": best["loop_s_per_step"] / p,
        "ratio_train_loop_vs_plain_medians": statistics.median(r["loop_s_per_step"] for r in ours)
        / statistics.median(plain),
        "accuracy_final": best["accuracy_final"],
        "loadavg_at_start": load,
        "loadavg_at_end": os.getloadavg(),
    }


def protocol() -> dict:
    """(b): the protocol at a reduced scale, and its extrapolation to the full one."""
    spec = _spec()
    ranks = spec["sweep"]["rank"]
    overrides = {"training": {"n_steps": PROTOCOL_STEPS}}  # checkpoints: the spec's log schedule
    tmp = Path(tempfile.mkdtemp())
    load = os.getloadavg()
    try:
        t0 = time.perf_counter()
        ds = rank_sweep(SPEC, tmp / "runs", seeds=SEEDS, overrides=overrides, n_jobs=N_JOBS)
        wall = time.perf_counter() - t0
        runs = sorted((tmp / "runs").iterdir())
        metrics = [pd.read_csv(r / "metrics.csv") for r in runs]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    load_end = os.getloadavg()
    train_s, geometry_s = float(ds.attrs["train_s"]), float(ds.attrs["geometry_s"])
    setup = sum(float(m["wall_s"].iloc[0]) for m in metrics)
    loop = sum(float(m["wall_s"].iloc[-1] - m["wall_s"].iloc[0]) for m in metrics)
    other = train_s - setup - loop  # train() after its last evaluation: closing, last writes
    n_runs = len(runs)
    n_full = len(ranks) * len(spec["sweep"]["seed"])
    full_steps = spec["training"]["n_steps"]
    work = train_s + geometry_s
    scale = n_full / n_runs
    ckpt = len(log_schedule(full_steps)) / len(log_schedule(PROTOCOL_STEPS))
    work_full = scale * (setup + loop * full_steps / PROTOCOL_STEPS + other + geometry_s * ckpt)
    return {
        "scale": f"{len(ranks)} ranks x {len(SEEDS)} seeds x {PROTOCOL_STEPS} steps "
        f"({len(log_schedule(PROTOCOL_STEPS))} checkpoints on the paper's schedule, six GLUE "
        f"measures at every one), n_jobs={N_JOBS}",
        "n_runs": n_runs,
        "wall_s": wall,
        "train_s_summed_over_runs": train_s,
        "geometry_s_summed_over_runs": geometry_s,
        "share_train": train_s / work,
        "share_geometry": geometry_s / work,
        "train_setup_s_summed": setup,
        "train_loop_s_summed": loop,
        "train_loop_s_per_network_step": loop / (n_runs * PROTOCOL_STEPS),
        "parallel_efficiency": work / (N_JOBS * wall),
        "capacity_init_mean": float(ds["capacity_init"].mean()),
        "accuracy_final_mean": float(ds["accuracy_final"].mean()),
        "loadavg_at_start": load,
        "loadavg_at_end": load_end,
        "extrapolation": {
            "what": f"the full protocol ({n_full} networks x {full_steps} steps, n_jobs="
            f"{N_JOBS}) extrapolated from this run, not measured: wall_s x (full work / "
            "measured work), each run's training loop x "
            f"{full_steps // PROTOCOL_STEPS}, its geometry x {ckpt:.3g} (checkpoints), set-up as "
            f"measured, x {scale:g} runs",
            "wall_s": wall * work_full / work,
            "wall_min": wall * work_full / work / 60,
            "share_train": 1 - scale * geometry_s * ckpt / work_full,
        },
    }


def from_timing(train_json: Path, geometry_json: Path | None) -> dict:
    """(b) from a full run by the scripts: ``scripts/train_sweep.py``'s ``timing.json`` and,
    when given, ``scripts/seed_protocol.py``'s."""
    tr = json.loads(Path(train_json).read_text())
    out = {
        "source": "measured: a full run by scripts/train_sweep.py"
        + (" and scripts/seed_protocol.py" if geometry_json else ""),
        "train_timing": str(train_json),
        "n_runs": tr["n_runs"],
        "n_jobs": tr["n_jobs"],
        "train_wall_s": tr["wall_s"],
        "train_s_summed_over_runs": tr["train_s_summed"],
        "train_loadavg_at_start": tr["loadavg_at_start"],
        "train_loadavg_at_end": tr["loadavg_at_end"],
        "train_parallel_efficiency": tr["train_s_summed"] / (tr["n_jobs"] * tr["wall_s"]),
    }
    if geometry_json is None:
        out["wall_s"] = tr["wall_s"]
        out["note"] = "geometry not timed: give --geometry-timing OUT/timing.json"
        return out
    geo = json.loads(Path(geometry_json).read_text())
    summed = geo.get("geometry_s_summed_all_runs", geo["geometry_s_summed"])
    geometry_wall = summed / geo["n_jobs"]  # the runs' measured seconds, spread over the workers
    wall = tr["wall_s"] + geometry_wall
    out.update(
        {
            "geometry_timing": str(geometry_json),
            "n_measured": geo["n_measured"],
            "geometry_s_summed_over_runs": summed,
            "geometry_wall_s": geometry_wall,
            "geometry_wall_note": "the runs' geometry seconds (each measured when it was first "
            f"computed; a rerun reads the cache) over {geo['n_jobs']} workers",
            "geometry_last_call_wall_s": geo["wall_s"],
            "geometry_loadavg_at_start": geo["loadavg_at_start"],
            "geometry_loadavg_at_end": geo["loadavg_at_end"],
            "wall_s": wall,
            "wall_min": wall / 60,
            "share_train_wall": tr["wall_s"] / wall,
            "share_geometry_wall": geometry_wall / wall,
        }
    )
    return out


def cuda() -> dict | str:
    if not torch.cuda.is_available():
        return "untested (no CUDA device)"
    return {"device_name": torch.cuda.get_device_name(0), **per_step("cuda")}


def main() -> None:
    ap = argparse.ArgumentParser(description="Speed of the rank sweep")
    ap.add_argument("--timing", help="(b) from this train_sweep.py timing.json")
    ap.add_argument("--geometry-timing", help="and this seed_protocol.py timing.json")
    ap.add_argument(
        "--no-a", action="store_true", help="skip (a) and (c); keep their stored results"
    )
    args = ap.parse_args()
    if args.geometry_timing and not args.timing:
        ap.error("--geometry-timing needs --timing RUNS_DIR/timing.json")
    stored = Path(__file__).with_name("results") / "rank_sweep.json"
    old = json.loads(stored.read_text()) if args.no_a and stored.is_file() else {}
    carried = "carried over from the previous results (--no-a)"
    a = {**old.get("a_per_network_step", {}), "note": carried} if args.no_a else per_step("cpu")
    b = (
        from_timing(Path(args.timing), args.geometry_timing and Path(args.geometry_timing))
        if args.timing
        else protocol()
    )
    c = old.get("c_cuda", "untested (--no-a)") if args.no_a else cuda()
    goals = {"ratio_train_vs_plain": 1.2, "full_protocol_wall_min": 30.0}
    result = {
        "benchmark": "rank_sweep",
        "spec": "tasks/rank_sweep_paper.toml",
        "a_per_network_step": a,
        "b_protocol": b,
        "c_cuda": c,
        "goals": goals,
        "goals_met": {
            "ratio_train_vs_plain": (
                a["ratio_train_loop_vs_plain"] <= goals["ratio_train_vs_plain"]
                if "ratio_train_loop_vs_plain" in a
                else None
            ),
            "full_protocol_wall_min": (
                (b["extrapolation"]["wall_min"] if "extrapolation" in b else b.get("wall_min"))
                or float("inf")
            )
            <= goals["full_protocol_wall_min"],
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch": torch.__version__,
            "note": "shared machine (other jobs running when loadavg is above 0); timings are "
            "noisy and slower than on a quiet machine",
        },
    }
    write_results("rank_sweep", result)


if __name__ == "__main__":
    main()
