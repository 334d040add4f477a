"""Sweeps into one zarr store: resume, refusal of another spec, a killed worker, an interrupted run.

Every run here is compared with one serial run of the same tiny grid (4 points: 2 ranks x 2 seeds
of a 16-unit CTRNN trained 20 steps): complete, each point exactly once, numbers identical.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.workflows.sweep import open_sweep, run_sweep, sweep_grid, sweep_status

REPO = Path(__file__).resolve().parents[1]

TINY = """
[task]
name = "ContextDecisionMaking-v0"
[task.kwargs]
use_expl_context = true
dt = 100
[task.kwargs.timing]
fixation = 0
stimulus = 200
delay = 500
decision = 100
[network]
type = "ctrnn"
n_units = 16
activation = "relu"
bias = false
readout_bias = false
init = "normal"
g = 1.25
[training]
n_steps = {n_steps}
batch_size = 16
optimizer = "sgd"
lr = 0.03
momentum = 0.9
lr_schedule = "constant"
grad_clip = 0
loss = "all"
n_train_trials = 128
n_test_trials = 50
eval_every = 10
[checkpoints]
schedule = "list"
steps = [0, {n_steps}]
save_every = 10
[analysis]
period = "decision"
by = "ground_truth"
n_trials = 40
seed = 12345
n_points_per_manifold = 20
[analysis.conditions]
ground_truth = [1, 2]
[analysis.options]
n_t = 20
dichotomies = "one_vs_rest"
jitter = 1e-6
[sweep]
rank = [1, "full"]
seed = [0, 1]
"""


def _spec(folder: Path, n_steps: int = 20) -> Path:
    path = folder / "tiny_sweep.toml"
    path.write_text(TINY.format(n_steps=n_steps))
    return path


def _groups(store: Path) -> list[str]:
    """Grid-point groups in the store (folders that are not hidden temporaries)."""
    return sorted(p.name for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))


def _files(store: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(store)): p.read_bytes() for p in sorted(store.rglob("*")) if p.is_file()
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One serial run of the tiny grid: (spec path, store path, opened Dataset)."""
    folder = tmp_path_factory.mktemp("sweep_ref")
    spec = _spec(folder)
    store = folder / "serial.zarr"
    counts = run_sweep(spec, store)
    assert counts == {"done": 4, "total": 4, "computed": 4, "skipped": 0}
    return spec, store, open_sweep(store)


def test_store_opens_as_one_dataset_by_the_grid_dims(reference):
    spec, store, ds = reference
    assert ds["capacity_final"].dims == ("rank", "seed")
    assert ds["rank"].values.tolist() == [1, "full"] and ds["seed"].values.tolist() == [0, 1]
    assert bool(ds["done"].all())
    for var in ("capacity_init", "capacity_final", "weight_change", "accuracy_final"):
        assert np.isfinite(ds[var].values).all(), var
    assert (ds["capacity_init"].values > 0).all()
    assert _groups(store) == sorted(name for name, _, _ in sweep_grid(spec).points)
    assert sweep_status(store) == {"done": 4, "total": 4, "missing": []}
    # attrs: the spec and the versions it was computed with
    assert "ContextDecisionMaking-v0" in ds.attrs["spec"] and "torch" in ds.attrs["versions"]


def test_rerun_skips_complete_points_and_same_seeds_give_identical_stores(reference, tmp_path):
    spec, store, _ = reference
    before = _files(store)
    assert run_sweep(spec, store)["computed"] == 0
    assert _files(store) == before
    again = tmp_path / "again.zarr"
    run_sweep(spec, again)
    assert _files(again) == before  # byte for byte


def test_partial_point_and_stale_temporary_are_redone(reference, tmp_path):
    spec, store, ds = reference
    copy = tmp_path / "copy.zarr"
    import shutil

    shutil.copytree(store, copy)
    name = sweep_grid(spec).points[2][0]
    (copy / name / "zarr.json").unlink()  # a point without its metadata and marker
    stale = copy / f".{name}.abc123.tmp"
    (stale / name).mkdir(parents=True)  # what a write killed before its rename leaves
    assert sweep_status(copy)["missing"] == [name]
    counts = run_sweep(spec, copy)
    assert counts["computed"] == 1 and counts["done"] == 4
    assert not stale.exists()
    xr.testing.assert_identical(open_sweep(copy).drop_attrs(), ds.drop_attrs())


def test_changed_spec_is_refused_unless_overwrite(reference, tmp_path):
    spec, store, _ = reference
    import shutil

    copy = tmp_path / "copy.zarr"
    shutil.copytree(store, copy)
    other = _spec(tmp_path, n_steps=10)
    with pytest.raises(ValueError, match="another spec.*--overwrite"):
        run_sweep(other, copy)
    assert sweep_status(copy)["done"] == 4  # untouched
    counts = run_sweep(other, copy, overwrite=True)
    assert counts == {"done": 4, "total": 4, "computed": 4, "skipped": 0}
    assert open_sweep(copy).attrs["fingerprint"] != open_sweep(store).attrs["fingerprint"]


def test_not_a_sweep_store_is_refused(reference, tmp_path):
    spec = reference[0]
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a neurogeom sweep store"):
        run_sweep(spec, folder)
    assert (folder / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="not a neurogeom sweep store"):
        open_sweep(folder)


@pytest.mark.slow
def test_worker_killed_mid_sweep_loses_nothing(reference, tmp_path):
    """A LocalCluster of 2 worker processes; a worker busy with a point is killed by its pid."""
    import threading

    from neurogeom.parallel import cluster

    spec, _, ds = reference
    store = tmp_path / "dask.zarr"
    killed: list[int] = []
    with cluster(n_workers=2) as client:
        pids = client.run(os.getpid)  # {worker address: pid}

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                busy = [w for w, keys in client.processing().items() if keys]
                if busy:
                    time.sleep(1.0)  # well inside its first point (a cold worker needs seconds)
                    killed.append(pids[busy[0]])
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    return
                time.sleep(0.02)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        counts = run_sweep(spec, store, scheduler=client)
        killer.join()
        assert len(killed) == 1 and killed[0] not in client.run(os.getpid).values()
    assert counts == {"done": 4, "total": 4, "computed": 4, "skipped": 0}
    assert _groups(store) == _groups(reference[1])  # every point exactly once
    xr.testing.assert_identical(open_sweep(store).drop_attrs(), ds.drop_attrs())
    assert _files(store) == _files(reference[1])


@pytest.mark.slow
def test_interrupted_sweep_restarted_finishes_the_same(reference, tmp_path):
    spec, ref_store, ds = reference
    store = tmp_path / "interrupted.zarr"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", "from neurogeom.cli import app; app()", "sweep", str(spec),
           "-o", str(store), "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if store.exists() and (store / "zarr.json").exists() and sweep_status(store)["done"]:
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    left = sweep_status(store)
    assert 1 <= left["done"] < 4
    counts = run_sweep(spec, store)
    assert counts["computed"] == 4 - left["done"] and counts["done"] == 4
    assert _groups(store) == _groups(ref_store)
    assert _files(store) == _files(ref_store)


def test_cli_status_and_errors(reference, tmp_path):
    spec, store, _ = reference
    runner = CliRunner()
    res = runner.invoke(app, ["sweep", "--status", str(store)])
    assert res.exit_code == 0 and "4/4 grid points done" in res.output
    res = runner.invoke(app, ["sweep", str(spec), "-o", str(store), "--no-progress"])
    assert res.exit_code == 0 and "0 computed, 4 already there" in res.output
    res = runner.invoke(app, ["sweep", str(spec), "-o", str(store), "--local-cluster", "2",
                              "--scheduler", "tcp://127.0.0.1:1"])  # fmt: skip
    assert res.exit_code == 1 and "not both" in res.output
    res = runner.invoke(app, ["sweep", "--status", str(tmp_path)])
    assert res.exit_code == 1 and "not a neurogeom sweep store" in res.output


def test_report_from_the_opened_sweep(reference, tmp_path):
    from neurogeom.workflows.sweep import sweep_report

    _, _, ds = reference
    path = sweep_report(ds, tmp_path / "report", spec="tiny_sweep.toml")
    assert path.is_file() and (tmp_path / "report" / "figures" / "rank_sweep.png").is_file()
    with pytest.raises(ValueError, match="unknown dim"):
        sweep_report(ds, tmp_path / "r2", alpha=1.0)


def test_dims_keep_the_spec_order(tmp_path):
    """The grid's dims are the [sweep] keys in the spec's order, not sorted."""
    spec = tmp_path / "ordered.toml"
    spec.write_text(
        TINY.format(n_steps=2).replace(
            'rank = [1, "full"]\nseed = [0, 1]', "seed = [3]\nalpha = [10.0, 1.0]\nrank = [2]"
        )
    )
    store = tmp_path / "ordered.zarr"
    run_sweep(spec, store)
    ds = open_sweep(store)
    assert ds["capacity_final"].dims == ("seed", "alpha", "rank")
    assert ds["alpha"].values.tolist() == [10.0, 1.0] and bool(ds["done"].all())
    assert _groups(store) == sorted(["seed_3_alpha_10.0_rank_2", "seed_3_alpha_1.0_rank_2"])
