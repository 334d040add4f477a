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
            "--window",
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
    assert ds.attrs["estimator"] == "glue" and ds.attrs["by"] == ["choice"]
    assert ds.attrs["window_s"] == [0.1, 0.3] and ds.attrs["n_t"] == 60
    assert ds.manifold.values.tolist() == [0, 1, 2, 3]
    assert 0 < float(ds.capacity) < 10 and float(ds.capacity_sem) > 0
    # the same numbers as calling the library directly
    from neurogeom.geometry import glue

    man = load(tensor_path).ng.manifolds(by="choice", window_s=(0.1, 0.3))
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
            "simulated_capacity",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    ds = load(out)
    assert ds.attrs["estimator"] == "simulated_capacity" and ds.sizes["manifold"] == 8
    assert ds.context.values.tolist() == [0, 1] * 4  # one coord per label on `manifold`
    assert float(ds.capacity_low) <= float(ds.capacity) <= float(ds.capacity_high)


def test_capacity_command_split(tensor_path, tmp_path):
    out = tmp_path / "split.nc"
    args = ["capacity", str(tensor_path), "--by", "choice", "--split", "context"]
    res = CliRunner().invoke(app, [*args, "--method", "mftma", "--n-t", "30", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "context=0" in res.output and "context=1" in res.output
    ds = load(out)
    assert ds.capacity.dims == ("context",) and ds.sizes["manifold"] == 4


POINTS_LABELS = [
    "coding_scheme",
    "decoding_accuracy",
    "glue",
    "mftma",
    "participation_ratio",
    "simulated_capacity",
]


def test_method_choices_are_the_registry_points_labels_measures():
    from neurogeom.cli import _points_labels_measures

    assert _points_labels_measures() == POINTS_LABELS


@pytest.mark.parametrize("method", POINTS_LABELS)
def test_capacity_command_accepts_every_registered_measure(tensor_path, tmp_path, method):
    out = tmp_path / f"{method}.nc"
    res = CliRunner().invoke(
        app, ["capacity", str(tensor_path), "--by", "choice", "--method", method, "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    ds = load(out)
    assert ds.attrs["estimator"] == method
    assert method.split("_")[0] in res.output or "capacity" in res.output


@pytest.mark.parametrize("method", ["simulated", "cka_similarity", "radius", "svm"])
def test_capacity_command_rejects_other_methods(tensor_path, method):
    res = CliRunner().invoke(
        app, ["capacity", str(tensor_path), "--by", "choice", "--method", method, "-o", "x.nc"]
    )
    assert res.exit_code == 1
    assert f"--method must be one of {', '.join(POINTS_LABELS)}; got {method!r}" in res.output, (
        res.output
    )


def test_capacity_command_bad_input_is_one_line(tensor_path, tmp_path):
    runner = CliRunner()
    res = runner.invoke(
        app, ["capacity", str(tensor_path), "--by", "nope", "-o", str(tmp_path / "x.nc")]
    )
    assert res.exit_code == 1
    assert "unknown trial label 'nope'" in res.output
    res = runner.invoke(
        app,
        ["capacity", str(tensor_path), "--by", "choice", "--method", "participation_ratio",
         "--n-t", "50", "-o", str(tmp_path / "x.nc")],
    )  # fmt: skip
    assert res.exit_code == 1
    assert "measure 'participation_ratio' does not take the argument(s) ['n_t']" in res.output
