"""Live geometry during training equals the geometry computed afterwards, and resumes like the
checkpoints."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import xarray as xr
from _specs import TINY_SPEC

from neurogeom.models.train import list_checkpoints, train
from neurogeom.specs.train import validate_spec
from neurogeom.workflows.live import LiveGeometry, live_observer, read_live_geometry
from neurogeom.workflows.runs import psychometric, run_geometry

pytest.importorskip("neurogym")

SPEC = {
    **TINY_SPEC,
    "training": {**TINY_SPEC["training"], "n_steps": 20},
    "analysis": {
        "live": True,
        "n_trials": 40,
        "conditions": {"ground_truth": [1, 2]},
        "n_points_per_manifold": 15,
        "options": {"n_t": 20, "dichotomies": "one_vs_rest", "jitter": 1e-6},
    },
}


def _train_live(run_dir, **kwargs):
    obs = live_observer(SPEC, run_dir)
    res = train(SPEC, run_dir, observers=[obs], **kwargs)
    return res, obs


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("live") / "run"
    res, obs = _train_live(run_dir)
    return run_dir, res, obs


def _numbers(ds: xr.Dataset) -> xr.Dataset:
    return ds.reset_coords(["accuracy", "seed_used"]).drop_attrs()


def test_live_geometry_equals_geometry_afterwards(full_run):
    run_dir, res, obs = full_run
    steps = [s for s, _ in list_checkpoints(run_dir)]
    assert obs.computed == steps  # every checkpoint, in step order
    live = read_live_geometry(run_dir)
    after = run_geometry(run_dir)  # the spec's [analysis] settings
    assert list(live["step"].values) == steps
    xr.testing.assert_allclose(_numbers(live), _numbers(after), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(live["seed_used"], after["seed_used"])
    # the steps' accuracies come from metrics.csv, the last evaluation of each step
    acc = res.metrics.groupby("step")["accuracy"].last()
    np.testing.assert_allclose(live["accuracy"].values, acc.loc[steps].values)
    # the geometry is not a constant: learning moves it, and the seeds differ per step
    assert live["capacity"].std() > 0
    assert len(set(live["seed_used"].values.tolist())) == len(steps)
    # other settings give other numbers (the comparison above can fail)
    other = run_geometry(run_dir, steps=steps[-1:], seed=1)
    assert not np.allclose(other["capacity"], live["capacity"].isel(stage=[-1]))


def test_a_subset_of_steps_is_the_same_numbers(full_run):
    run_dir, _, _ = full_run
    live = read_live_geometry(run_dir)
    part = run_geometry(run_dir, steps=[16, 2])
    assert list(part["step"].values) == [2, 16]
    np.testing.assert_allclose(part["capacity"], live["capacity"].sel(stage=[2, 16]), rtol=1e-9)


def test_interrupted_run_resumes_and_equals_the_uninterrupted_one(full_run, tmp_path, monkeypatch):
    run_dir, _, _ = full_run
    part = tmp_path / "part"
    calls = []

    def failing_write(self, *args, **kwargs):  # the write of step 8 dies half way
        calls.append(1)
        with open(args[0], "wb") as f:
            f.write(b"partial")
        raise RuntimeError("killed while writing")

    obs = live_observer(SPEC, part)
    original = xr.Dataset.to_netcdf
    seen = []

    def observer(step, path):
        seen.append(step)
        if step == 8:
            monkeypatch.setattr(xr.Dataset, "to_netcdf", failing_write)
        try:
            obs(step, path)
        finally:
            monkeypatch.setattr(xr.Dataset, "to_netcdf", original)

    with pytest.raises(RuntimeError, match="killed while writing"):
        train(SPEC, part, observers=[observer])
    assert calls and seen[-1] == 8
    files = sorted(p.name for p in (part / "geometry").iterdir())
    assert files == [f"step_{s:07d}.nc" for s in seen[:-1]]  # no partial or temporary file
    resumed, obs2 = _train_live(part)
    assert resumed.done
    done_before = set(seen[:-1])
    steps = [s for s, _ in list_checkpoints(part)]
    assert obs2.computed == [s for s in steps if s not in done_before]  # only the missing steps
    assert 8 in obs2.computed
    xr.testing.assert_allclose(
        _numbers(read_live_geometry(part)), _numbers(read_live_geometry(run_dir)), rtol=1e-9
    )
    # a finished run with all its geometry computes nothing more
    again = LiveGeometry(SPEC, part)
    train(SPEC, part, observers=[again])
    assert again.computed == []


def test_psychometric_table(full_run):
    run_dir, _, _ = full_run
    table = psychometric(run_dir)
    assert set(table["context"]) == {0, 1}
    assert table["n_trials"].sum() == SPEC["analysis"]["n_trials"]
    assert ((table["p_choice_1"] >= 0) & (table["p_choice_1"] <= 1)).all()
    # accuracy is the fraction of choice 1 where the evidence favours choice 1, else of choice 2
    pos = table["relevant_evidence"] > 0
    np.testing.assert_allclose(table.loc[pos, "accuracy"], table.loc[pos, "p_choice_1"])
    np.testing.assert_allclose(table.loc[~pos, "accuracy"], 1 - table.loc[~pos, "p_choice_1"])
    assert (table["step"] == 20).all()


def test_no_live_geometry_and_bad_analysis_keys(tmp_path):
    assert live_observer({**SPEC, "analysis": {}}, tmp_path) is None
    with pytest.raises(FileNotFoundError, match="no live geometry"):
        read_live_geometry(tmp_path)
    bad = copy.deepcopy(SPEC)
    bad["analysis"]["live"] = "yes"
    with pytest.raises(ValueError, match="analysis.live must be true or false"):
        validate_spec(bad)
    bad["analysis"] = {"options": {"seed": 3}}
    with pytest.raises(ValueError, match="analysis.geometry_seed"):
        validate_spec(bad)
    bad["analysis"] = {"measures": "glue"}
    with pytest.raises(ValueError, match="analysis.measures must be a list"):
        validate_spec(bad)
    bad["analysis"] = {"live": True, "measures": ["nope"]}
    with pytest.raises(ValueError, match="nope"):
        live_observer(bad, tmp_path)


def test_run_geometry_errors(full_run):
    run_dir, _, _ = full_run
    with pytest.raises(ValueError, match=r"no checkpoints at steps \[3\]"):
        run_geometry(run_dir, steps=[3])


def test_cli_train_writes_live_geometry(tmp_path):
    from typer.testing import CliRunner

    from neurogeom.cli import app

    spec = tmp_path / "live.toml"
    spec.write_text(
        """
[task]
name = "ContextDecisionMaking-v0"
[task.kwargs]
use_expl_context = true
[network]
n_units = 48
[training]
n_steps = 6
batch_size = 16
n_train_trials = 64
n_test_trials = 40
seed = 1
[checkpoints]
schedule = "list"
steps = [0, 6]
[analysis]
live = true
by = "ground_truth"
n_trials = 24
n_points_per_manifold = 10
[analysis.conditions]
ground_truth = [1, 2]
[analysis.options]
n_t = 10
dichotomies = "one_vs_rest"
"""
    )
    run = tmp_path / "run"
    res = CliRunner().invoke(app, ["train", str(spec), "-o", str(run), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "live geometry" in res.output
    live = read_live_geometry(run)
    assert list(live["step"].values) == [0, 6]
    xr.testing.assert_allclose(_numbers(live), _numbers(run_geometry(run)), rtol=1e-9)
    res = CliRunner().invoke(
        app, ["simulate", str(run), "-o", str(tmp_path / "s.nc"), "--period", "decision"]
    )
    assert res.exit_code == 0, res.output
    assert "trial=24, unit=48" in res.output


def test_floor_diagnostics_are_per_step(full_run):
    run_dir, _, _ = full_run
    live = read_live_geometry(run_dir)
    assert live["at_floor"].dims == ("stage",) and "at_floor" not in live.attrs
    assert ((live["no_separating_fraction"] >= 0) & (live["no_separating_fraction"] <= 1)).all()
