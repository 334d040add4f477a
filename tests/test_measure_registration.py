"""A measure defined outside the package registers itself and shows up everywhere: the table,
the CLI, the accessor, trajectories and figures (labels through the results' attrs)."""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import neurogeom.geometry
from neurogeom.cli import app
from neurogeom.geometry import measures
from neurogeom.geometry import registry as reg
from neurogeom.io.store import load, save
from neurogeom.learning.trajectories import trajectory
from neurogeom.population import make_population
from neurogeom.show import measure_label, plot_trajectory

LABEL, UNITS = "mean norm ‖x‖", "units of the data"


def mean_norm(points, labels) -> xr.Dataset:
    """Mean Euclidean norm of the points (a toy measure).

    Notes
    -----
    Invariant to: rotation, reflection.
    Direction: larger_is_more_dimensional.
    """
    norms = np.linalg.norm(np.asarray(points, float), axis=1)
    sem = norms.std(ddof=1) / np.sqrt(len(norms))
    return xr.Dataset({"mean_norm": float(norms.mean()), "mean_norm_sem": float(sem)})


def _register():
    return reg.register_measure(
        kind="dimension",
        direction="larger_is_more_dimensional",
        invariances=("rotation", "reflection"),
        citation="a test",
        label=LABEL,
        units=UNITS,
    )(mean_norm)


@pytest.fixture
def toy(monkeypatch):
    """``mean_norm`` registered (and in this module, as the decorator's result) for one test."""
    decorated = _register()
    monkeypatch.setattr(sys.modules[__name__], "mean_norm", decorated)
    yield decorated
    reg.unregister("mean_norm")
    assert "mean_norm" not in reg.measure_names()


def _pop(stages: bool, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    n_trial, n_unit = 24, 6
    choice = np.tile([0, 1, 2], n_trial // 3)
    centres = rng.standard_normal((3, n_unit))
    if not stages:
        data = 3 * centres[choice][:, None, :] + rng.standard_normal((n_trial, 2, n_unit))
        return make_population(
            data,
            dims=("trial", "time", "unit"),
            trial_coords={"choice": choice},
            time=np.array([0.0, 0.1]),
            quantity="rate_hz",
            bin_size_s=0.1,
        )
    data = np.stack([s * centres[choice] + rng.standard_normal((n_trial, n_unit)) for s in (1, 4)])
    return make_population(
        data,
        dims=("stage", "trial", "unit"),
        quantity="rnn_state",
        trial_coords={"choice": choice},
        stage_coords={"step": [1, 10], "label": ["early", "late"]},
    )


def test_a_registered_measure_is_in_the_table_and_the_package(toy):
    row = measures().loc[("mean_norm", "mean_norm")]
    assert row["kind"] == "dimension" and row["direction"] == "larger_is_more_dimensional"
    assert row["label"] == LABEL and row["units"] == UNITS
    assert row["function"] == f"{__name__}:mean_norm"
    assert "mean_norm" in reg.measure_names("points_labels")
    assert neurogeom.geometry.mean_norm is toy is reg.get_measure("mean_norm").resolve()
    ds = toy(np.eye(3), [0, 1, 2])
    assert ds["mean_norm"].attrs == {"long_name": LABEL, "units": UNITS}
    assert ds["mean_norm_sem"].attrs["units"] == UNITS
    assert float(ds["mean_norm"]) == 1.0  # the number is the function's own


def test_the_cli_and_the_accessor_take_it(toy, tmp_path):
    path, out = tmp_path / "pop.nc", tmp_path / "mean_norm.nc"
    save(_pop(stages=False), path)
    args = ["capacity", str(path), "--by", "choice", "--method", "mean_norm", "-o", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "mean_norm" in res.output
    ds = load(out)
    assert ds["mean_norm"].attrs["long_name"] == LABEL  # the labels survive the file
    assert ds["mean_norm"].attrs["units"] == UNITS
    direct = _pop(stages=False).ng.measure("choice", measure="mean_norm")
    assert float(direct["mean_norm"]) == pytest.approx(float(ds["mean_norm"]))


def test_a_trajectory_and_its_figure_use_the_registered_label(toy):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        traj = trajectory(_pop(stages=True), by="choice", measure="mean_norm", n_boot=3, n_perm=3)
    assert traj.sizes["stage"] == 2
    assert {"mean_norm", "mean_norm_sem", "mean_norm_ci_low", "mean_norm_null_mean"} <= set(traj)
    assert traj["mean_norm"].attrs["long_name"] == LABEL
    fig = plot_trajectory(traj, measures=("mean_norm",))
    assert fig.axes[0].get_ylabel() == f"{LABEL} ({UNITS})" == measure_label(traj["mean_norm"])


def test_unregistered_it_is_gone_everywhere(tmp_path):
    measure = reg.unregister(_register().__name__)
    with reg.registered(measure):  # for the duration of a block
        assert "mean_norm" in reg.measure_names("points_labels")
    assert "mean_norm" not in measures().index.get_level_values("measure")
    with pytest.raises(AttributeError):
        neurogeom.geometry.mean_norm  # noqa: B018
    with pytest.raises(ValueError, match="unknown measure 'mean_norm'"):
        reg.unregister("mean_norm")
    path = tmp_path / "pop.nc"
    save(_pop(stages=False), path)
    args = ["capacity", str(path), "--by", "choice", "--method", "mean_norm", "-o", "x.nc"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1 and "--method must be one of" in res.output


def test_names_of_the_package_are_refused_unless_replaced(toy):
    spec = dict(kind="dimension", direction="larger_is_more_dimensional", citation="a test")
    with pytest.raises(ValueError, match="'participation_ratio' is already registered"):
        reg.register_measure(name="participation_ratio", **spec)(mean_norm)
    original = reg.get_measure("participation_ratio")
    reg.register_measure(name="participation_ratio", replace=True, **spec)(mean_norm)
    try:
        assert reg.get_measure("participation_ratio").function == f"{__name__}:mean_norm"
    finally:
        reg.unregister("participation_ratio")
    assert reg.get_measure("participation_ratio") is original


def test_outputs_check_their_metadata():
    with pytest.raises(ValueError, match="read back from netCDF as a time"):
        reg.Output("latency", "larger_is_less_separable", "geometry", units="seconds")
    out = reg.Output("radius", direction="larger_is_less_separable", kind="geometry")
    assert out.label == "radius" and out.axis_label == "radius"


def test_the_package_measures_label_their_results():
    table = measures()
    assert {"label", "units"} <= set(table.columns)
    assert table.loc[("glue", "capacity"), "label"] == "capacity α"
    assert table.loc[("glue", "radius"), "units"] == "relative to centre norm"
    rng = np.random.default_rng(0)
    ds = neurogeom.geometry.participation_ratio(rng.standard_normal((30, 5)), np.arange(30) % 3)
    assert measure_label(ds["participation_ratio"]) == "participation ratio (dimensions)"
    assert measure_label("participation_ratio") == "participation ratio (units of the measure)"
