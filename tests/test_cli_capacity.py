"""End-to-end `neurogeom capacity`: a saved population tensor in, a result Dataset out."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.io.store import load, save
from neurogeom.population import make_population


@pytest.fixture
def tensor_path(tmp_path):
    rng = np.random.default_rng(0)
    n_trial, n_time, n_unit = 48, 4, 30
    choice = np.repeat([0, 1, 2, 3], 12)
    context = np.tile([0, 1], 24)
    centres = 3.0 * rng.standard_normal((4, n_unit))
    data = centres[choice][:, None, :] + rng.standard_normal((n_trial, n_time, n_unit))
    pop = make_population(
        data,
        dims=("trial", "time", "unit"),
        trial_coords={"choice": choice, "context": context},
        time=np.arange(n_time) * 0.1,
        unit=np.arange(n_unit),
        quantity="rate_hz",
        bin_size_s=0.1,
    )
    path = tmp_path / "pop.nc"
    save(pop, path)
    return path


def test_capacity_command_writes_the_glue_dataset(tensor_path, tmp_path):
    out = tmp_path / "cap.nc"
    res = CliRunner().invoke(
        app,
        [
            "capacity",
            str(tensor_path),
            "--by",
            "choice",
            "--time",
            "0.1",
            "0.3",
            "--n-t",
            "60",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "capacity" in res.output and "radius" in res.output
    ds = load(out)
    assert ds.attrs["estimator"] == "glue" and ds.attrs["by"] == "choice"
    assert ds.sizes["manifold"] == 4
    assert 0 < float(ds.capacity) < 10 and float(ds.capacity_sem) > 0
    # the same numbers as calling the library directly
    from neurogeom.geometry import glue

    man = load(tensor_path).ng.manifolds(by="choice", time=(0.1, 0.3))
    assert float(glue(man.points, man.labels, n_t=60).capacity) == float(ds.capacity)


def test_capacity_command_within_and_simulated(tensor_path, tmp_path):
    out = tmp_path / "sim.nc"
    res = CliRunner().invoke(
        app,
        [
            "capacity",
            str(tensor_path),
            "--by",
            "choice",
            "--within",
            "context",
            "--method",
            "simulated",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    ds = load(out)
    assert ds.attrs["estimator"] == "simulated" and ds.sizes["manifold"] == 8
    assert float(ds.capacity_low) <= float(ds.capacity) <= float(ds.capacity_high)


def test_capacity_command_bad_input_is_one_line(tensor_path, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app, ["capacity", str(tensor_path), "--by", "nope", "-o", str(tmp_path / "x.nc")]
    )
    assert res.exit_code == 1
    assert "unknown trial label 'nope'" in res.output
    res = runner.invoke(
        app, ["capacity", str(tensor_path), "--by", "choice", "--method", "svm", "-o", "x.nc"]
    )
    assert res.exit_code == 1 and "--method must be glue, simulated or mftma" in res.output
