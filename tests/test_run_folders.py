"""Run folders: results keyed by what they depend on, one writer at a time, outputs that match what
is written, and the messages of the commands that read and write single files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import neurogeom as ng
from neurogeom.cli import app
from neurogeom.io.store import load, save

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
runner = CliRunner()


def _text(result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


def _spec(
    tmp: Path,
    *,
    by: str = "choice",
    within: str = '["context"]',
    n_perm: int = 3,
    bin_size: float = 0.05,
    balance: int = 10,
    name: str = "spec.toml",
) -> Path:
    """A small run spec on the bundled sample recording (seconds to run)."""
    path = tmp / name
    path.write_text(
        f"""
[run]
title = "run folders"
seed = 0
n_jobs = 1

[recordings.sample]
format = "nwb"
stages = {{ early = "{DATA / "sample_early.nwb"}", late = "{DATA / "sample_late.nwb"}" }}
align = "stimulus_on_time"
window_s = [-0.2, 1.0]
bin_size_s = {bin_size}
window_s_analysis = [0.2, 0.8]

[analysis]
by = "{by}"
within = {within}
measure = "glue"
n_t = 10
n_boot = 2
n_null = 2
n_perm = {n_perm}
confidence = 0.95
zscore = true
balance = {balance}
test_stages = ["early", "late"]
coding = false
"""
    )
    return path


def _run(spec: Path, out: Path):
    return runner.invoke(app, ["run", str(spec), "-o", str(out), "--no-progress"])


def _mtimes(out: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in (out / "results").glob("*.nc")}


# ---- reuse by key ----------------------------------------------------------------------------------


def test_changing_n_perm_recomputes_only_the_stage_test(tmp_path):
    out = tmp_path / "out"
    r = _run(_spec(tmp_path), out)
    assert r.exit_code == 0, r.output
    before = _mtimes(out)
    r = _run(_spec(tmp_path, n_perm=4), out)
    assert r.exit_code == 0, r.output
    assert "recomputed (spec or inputs changed): stage_test_sample" in _text(r)
    after = _mtimes(out)
    changed = sorted(k for k in after if after[k] != before[k])
    assert changed == ["stage_test_sample.nc"]
    assert load(out / "results" / "stage_test_sample.nc").attrs["n_perm"] == 4
    timings = json.loads((out / "results" / "timings.json").read_text())
    assert timings["recomputed"] == ["stage_test_sample"]
    assert "population_sample" in timings["reused"]


def test_rerun_with_another_spec_recomputes_what_depends_on_it(tmp_path):
    """R03: a changed bin and by= recompute every result; the report shows the new ones."""
    out = tmp_path / "out"
    assert _run(_spec(tmp_path), out).exit_code == 0
    r = _run(_spec(tmp_path, by="context", within="[]", bin_size=0.1), out)
    assert r.exit_code == 0, r.output
    timings = json.loads((out / "results" / "timings.json").read_text())
    assert timings["reused"] == []
    pop = load(out / "results" / "population_sample.nc")
    assert pop.attrs["bin_size_s"] == 0.1
    traj = load(out / "results" / "trajectory_sample.nc")
    assert traj.attrs["by"] in ("context", ["context"])
    assert re.search(r"<td>by</td>\s*<td>context</td>", (out / "report.html").read_text())


def test_failed_run_leaves_nothing_a_later_run_reuses(tmp_path):
    """R02: a run that fails after its population is saved (more points per manifold than a
    condition has); fixed and rerun with another bin size, the population is recomputed, not the
    stale one reused."""
    out = tmp_path / "out"
    r = _run(_spec(tmp_path, balance=1000), out)
    assert r.exit_code == 1
    assert "n_points=1000 exceeds the smallest manifold" in _text(r)
    stale = load(out / "results" / "population_sample.nc")  # written before the failure
    assert stale.attrs["bin_size_s"] == 0.05
    assert not (out / "report.html").exists()
    r = _run(_spec(tmp_path, bin_size=0.1), out)
    assert r.exit_code == 0, r.output
    assert "recomputed (spec or inputs changed): population_sample" in _text(r)
    assert load(out / "results" / "population_sample.nc").attrs["bin_size_s"] == 0.1
    assert json.loads((out / "results" / "timings.json").read_text())["reused"] == []


# ---- one writer at a time --------------------------------------------------------------------------


def _wait_for_lock(out: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    note = out / ".neurogeom.lock.json"
    t0 = time.monotonic()
    while not note.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "the first writer never took the lock"
        time.sleep(0.05)


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-c", "from neurogeom.cli import main; main()", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_two_runs_into_one_folder(tmp_path):
    """C56: the second writer is refused, naming the first; the first finishes correct."""
    out = tmp_path / "out"
    a = _spec(tmp_path, name="a.toml")
    b = _spec(tmp_path, by="context", within="[]", bin_size=0.1, name="b.toml")
    first = subprocess.Popen(
        _cli("run", str(a), "-o", str(out), "--no-progress"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_lock(out, first)
    second = subprocess.run(
        _cli("run", str(b), "-o", str(out), "--no-progress"),
        env=_env(),
        capture_output=True,
        text=True,
    )
    assert second.returncode == 1
    message = " ".join(second.stderr.split())
    assert f"is being written by process {first.pid} (" in message
    assert "a.toml" in message and "since 20" in message
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert load(out / "results" / "population_sample.nc").attrs["bin_size_s"] == 0.05
    assert load(out / "results" / "trajectory_sample.nc").attrs["by"] in ("choice", ["choice"])
    assert not (out / ".neurogeom.lock.json").exists()


TRAIN_SPEC = """
[task]
name = "ContextDecisionMaking-v0"
[task.kwargs]
use_expl_context = true
[network]
n_units = 16
init = "identity"
g = 0.1
[training]
n_steps = 60
batch_size = 16
n_train_trials = 64
n_test_trials = 40
eval_every = 4
[analysis]
n_trials = 36
labels = ["context", "ground_truth"]
[analysis.conditions]
context = [0, 1]
coh_1 = [5, 15, 50]
coh_2 = [5, 15, 50]
ground_truth = [1, 2]
"""


def test_two_trains_into_one_run_folder(tmp_path):
    """C58: the second `train` is refused; metrics.csv holds each evaluation once."""
    pytest.importorskip("neurogym")
    spec = tmp_path / "s.toml"
    spec.write_text(TRAIN_SPEC)
    run = tmp_path / "run"
    args = ["train", str(spec), "-o", str(run), "--no-progress"]
    # the second writer imports torch first and starts when told, while the first trains
    ready = (
        "import sys, torch, neurogym; from neurogeom.cli import main; sys.stdin.readline(); main()"
    )
    second = subprocess.Popen(
        [sys.executable, "-c", ready, *args],
        env=_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = subprocess.Popen(
        _cli(*args), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _wait_for_lock(run, first)
    _, err2 = second.communicate("go\n", timeout=300)
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    assert second.returncode == 1, err2
    assert f"is being written by process {first.pid}" in " ".join(err2.split())
    steps = [int(line.split(",")[0]) for line in (run / "metrics.csv").read_text().splitlines()[1:]]
    assert steps == sorted(set(steps))


def test_a_lock_of_a_dead_process_is_taken_over(tmp_path):
    from neurogeom._files import output_lock

    out = tmp_path / "out"
    note = tmp_path / ".out.lock.json"
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    pid = int(dead.stdout)
    note.write_text(json.dumps({"pid": pid, "command": "neurogeom run x", "since": "2026-01-01"}))
    with output_lock(out) as held:
        assert held.took_over == (
            f"took over the lock of {str(out)!r} left by process {pid} (neurogeom run x), since "
            "2026-01-01, which no longer runs"
        )
    assert not note.exists()


# ---- sweeps ----------------------------------------------------------------------------------------


SWEEP = ROOT / "tasks" / "sweep_fast.toml"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (  # W08
            ["-o", "{d}/w08.nc"],
            "a sweep store is a zarr folder: name it *.zarr (e.g. '{d}/w08.zarr'); got '{d}/w08.nc'",
        ),
        (  # W11
            ["-o", "{d}/w11.zarr", "-j", "0"],
            "n_jobs must be a positive int or -1 (every core); got 0.",
        ),
    ],
)
def test_sweep_refused_before_the_store_is_made(tmp_path, args, message):
    d = str(tmp_path)
    r = runner.invoke(app, ["sweep", str(SWEEP), *[a.format(d=d) for a in args], "--no-progress"])
    assert r.exit_code == 1
    assert message.format(d=d) in _text(r)
    assert list(tmp_path.iterdir()) == []


def test_sweep_that_cannot_reach_its_scheduler_leaves_no_store(tmp_path):
    """W10."""
    pytest.importorskip("distributed")
    import dask

    from neurogeom.workflows.sweep import run_sweep

    store = tmp_path / "w10.zarr"
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(OSError):
            run_sweep(SWEEP, store, scheduler="tcp://127.0.0.1:1")
    assert not store.exists()
    assert [p.name for p in tmp_path.iterdir()] in ([], [".w10.zarr.lock"])


def test_train_refuses_a_grid_spec(tmp_path):
    r = runner.invoke(app, ["train", str(SWEEP), "-o", str(tmp_path / "run")])
    assert r.exit_code == 1
    assert "is a grid spec ([sweep]); a grid runs with one command: `neurogeom sweep" in _text(r)
    assert not (tmp_path / "run").exists()


# ---- single files: capacity, load, simulate ---------------------------------------------------------


def _tensor(dims=("trial", "unit"), quantity: str | None = "rate_hz") -> xr.DataArray:
    rng = np.random.default_rng(0)
    shape = {"stage": 2, "trial": 40, "time": 3, "unit": 12}
    pop = ng.from_array(
        rng.normal(size=[shape[d] for d in dims]),
        dims,
        trial_coords={"choice": np.tile([0, 1], 20), "context": np.repeat([0, 1], 20)},
        quantity=quantity or "rate_hz",
    )
    if quantity is None:
        pop.attrs.pop("quantity")
    return pop


def _cap(*args: str):
    return runner.invoke(app, ["capacity", *args, "--n-t", "10"])


def test_capacity_reads_a_tensor_xarray_wrote(tmp_path):
    """C13: `pop.to_netcdf()` (xarray) loads in the commands."""
    pop = _tensor()
    pop.attrs = {k: v for k, v in pop.attrs.items() if isinstance(v, str | int | float)}
    pop.to_netcdf(tmp_path / "xr.nc", engine="h5netcdf")
    r = _cap(str(tmp_path / "xr.nc"), "--by", "choice", "-o", str(tmp_path / "c.nc"))
    assert r.exit_code == 0, r.output
    assert "capacity" in load(tmp_path / "c.nc")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (  # C11
            lambda: _tensor().rename(unit="neuron"),
            "'neuron' is not a population dim; rename it to 'unit'",
        ),
        (  # C24
            lambda: _tensor(("stage", "trial", "unit")),
            "has a stage dim (2 stages: 0, 1); choose one with --stage VALUE",
        ),
    ],
)
def test_capacity_says_what_is_wrong_with_the_tensor(tmp_path, make, message):
    save(make(), tmp_path / "pop.nc")
    r = _cap(str(tmp_path / "pop.nc"), "--by", "choice", "-o", str(tmp_path / "c.nc"))
    assert r.exit_code == 1
    assert message in _text(r)
    assert not (tmp_path / "c.nc").exists()


def test_capacity_on_a_tensor_without_quantity_warns(tmp_path):
    """C12: no attrs['quantity']: read with a warning naming the attr."""
    pop = _tensor()
    pop.attrs = {}
    pop.to_netcdf(tmp_path / "bare.nc", engine="h5netcdf")
    r = _cap(str(tmp_path / "bare.nc"), "--by", "choice", "-o", str(tmp_path / "c.nc"))
    assert r.exit_code == 0, r.output
    assert "has no attrs['quantity']" in _text(r)


def test_capacity_on_a_folder(tmp_path):
    """C06."""
    (tmp_path / "afolder").mkdir()
    r = _cap(str(tmp_path / "afolder"), "--by", "choice", "-o", str(tmp_path / "c.nc"))
    assert r.exit_code == 1
    assert f"'{tmp_path}/afolder' is a folder; give a population tensor file" in _text(r)


@pytest.mark.parametrize(
    "args",
    [
        ["--by", "choice", "--by", "context"],  # C51
        ["--by=choice", "--by", "context"],
    ],
)
def test_a_repeated_option_is_an_error(tmp_path, args):
    save(_tensor(), tmp_path / "pop.nc")
    r = _cap(str(tmp_path / "pop.nc"), *args, "-o", str(tmp_path / "c.nc"))
    assert r.exit_code == 1
    assert "give --by once; for joint manifolds use --within (it was given 2 times)" in _text(r)
    r = _cap(str(tmp_path / "pop.nc"), "--by", "choice", "-o", "a.nc", "--out", "b.nc")
    assert "give --out once (it was given 2 times)" in _text(r)


def test_an_unrelated_output_file_is_kept(tmp_path):
    """C14: -o onto a file neurogeom did not write is refused unless --overwrite."""
    save(_tensor(), tmp_path / "pop.nc")
    mine = tmp_path / "existing.nc"
    mine.write_bytes(b"my notes")
    args = [str(tmp_path / "pop.nc"), "--by", "choice", "-o", str(mine)]
    message = (
        f"-o '{mine}' exists and was not written by neurogeom; give a new path, or pass --overwrite"
    )
    r = _cap(*args)
    assert r.exit_code == 1 and message in _text(r)
    assert mine.read_bytes() == b"my notes"
    for cmd in (
        ["load", str(DATA / "sample_early.nwb"), "--window", "0", "0.5", "--bin", "0.1"],
        ["simulate", str(DATA / "context_dm_checkpoints")],
    ):
        r = runner.invoke(app, [*cmd, "-o", str(mine)])
        assert r.exit_code == 1 and message in _text(r), r.output
    assert mine.read_bytes() == b"my notes"
    r = _cap(*args, "--overwrite")
    assert r.exit_code == 0, r.output
    assert "capacity" in load(mine)
    r = _cap(*args)  # a file neurogeom wrote is replaced
    assert r.exit_code == 0, r.output


def test_output_suffix_names_the_format(tmp_path):
    save(_tensor(), tmp_path / "pop.nc")
    r = _cap(str(tmp_path / "pop.nc"), "--by", "choice", "-o", str(tmp_path / "c.txt"))
    assert r.exit_code == 1
    assert "name the output *.nc (netCDF) or *.zarr (a zarr store)" in _text(r)


def test_simulate_a_run_whose_spec_is_damaged(tmp_path):
    """T08."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "spec.json").write_text('{"task": {"na')
    r = runner.invoke(app, ["simulate", str(run), "-o", str(tmp_path / "s.nc")])
    assert r.exit_code == 1
    assert f"'{run}/spec.json' is damaged (not valid JSON: Unterminated string" in _text(r)
