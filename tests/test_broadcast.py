"""geometry(): measures over stages, time bins and time windows of a population tensor."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom.geometry import geometry, mftma, participation_ratio
from neurogeom.population import make_population

SEPARATION = (0.5, 1.5, 4.0)  # choice-manifold separation grows over the stages


@pytest.fixture(scope="module")
def pop() -> xr.DataArray:
    rng = np.random.default_rng(0)
    n_trial, n_time, n_unit = 48, 4, 25
    choice = np.tile([0, 1, 2], n_trial // 3)
    context = np.repeat([0, 1], n_trial // 2)
    axes = rng.standard_normal((3, n_unit))
    data = np.empty((len(SEPARATION), n_trial, n_time, n_unit))
    for s, sep in enumerate(SEPARATION):
        base = sep * axes[choice] + 0.3 * context[:, None]
        data[s] = base[:, None, :] + rng.standard_normal((n_trial, n_time, n_unit))
    return make_population(
        data,
        dims=("stage", "trial", "time", "unit"),
        quantity="rnn_state",
        trial_coords={"choice": choice, "context": context},
        time=np.array([0.05, 0.15, 0.25, 0.35]),
        stage=[0, 1, 2],
        stage_coords={"step": [0, 100, 1000], "label": ["early", "mid", "late"]},
        bin_size_s=0.1,
    )


FAST = {"mftma": {"n_t": 60, "n_reps": 2}}


def test_over_stage_matches_direct_calls(pop):
    ds = geometry(pop, by="choice", measures=("mftma",), **FAST)
    assert ds.sizes["stage"] == 3
    assert list(ds.step.values) == [0, 100, 1000]
    assert list(ds.label.values) == ["early", "mid", "late"]
    assert ds.attrs["estimator"] == "mftma" and ds.attrs["n_t"] == 60
    assert list(ds.manifold.values) == ["choice=0", "choice=1", "choice=2"]
    for i, stage in enumerate(pop.stage.values):
        m = pop.ng.manifolds(by="choice", stage=stage)
        direct = mftma(m.points, m.labels, n_t=60, n_reps=2, seed=0)
        assert float(ds.capacity[i]) == float(direct.capacity)
        np.testing.assert_array_equal(
            ds.manifold_capacity.isel(stage=i).values, direct.manifold_capacity.values
        )
    caps = ds.capacity.values
    assert caps[0] < caps[1] < caps[2]  # separation grows, capacity grows


def test_parallel_identical_to_serial(pop):
    kw = dict(by="choice", measures=("mftma", "participation_ratio"), **FAST)
    serial = geometry(pop, n_jobs=1, **kw)
    parallel = geometry(pop, n_jobs=2, **kw)
    xr.testing.assert_identical(serial, parallel)


def test_several_measures_are_prefixed_and_scalars_named(pop):
    ds = geometry(pop, by="choice", measures=("mftma", "participation_ratio"), **FAST)
    assert "mftma_capacity" in ds and "participation_ratio" in ds and "capacity" not in ds
    one = pop.ng.manifolds(by="choice", stage=2)
    assert float(ds.participation_ratio[2]) == pytest.approx(participation_ratio(one.points))
    selected = geometry(pop, by="choice", measures=("mftma_capacity", "mftma_radius"), **FAST)
    assert set(selected.data_vars) == {"mftma_capacity", "mftma_radius"}


def test_over_stage_and_time_bins(pop):
    ds = geometry(
        pop, by="choice", measures="participation_ratio", over=("stage", "time"), time=(0.1, 0.4)
    )
    assert dict(ds.sizes) == {"stage": 3, "time": 3}
    np.testing.assert_allclose(ds.time.values, [0.15, 0.25, 0.35])
    sub = pop.isel(stage=1).sel(time=0.25)
    m = sub.ng.manifolds(by="choice")
    assert float(ds.participation_ratio.sel(stage=1, time=0.25)) == pytest.approx(
        participation_ratio(m.points)
    )


def test_time_windows(pop):
    ds = geometry(
        pop,
        by="choice",
        measures="decoding_accuracy",
        time=[(0.0, 0.2), (0.2, 0.4)],
        n_splits=3,
    )
    assert dict(ds.sizes) == {"stage": 3, "time_window": 2}
    np.testing.assert_allclose(ds.window_start_s.values, [0.0, 0.2])
    acc = ds.decoding_accuracy.values
    assert np.all(acc[2] > 0.9)  # well separated at the last stage
    assert np.all((acc >= 0) & (acc <= 1))


def test_no_stage_dim_computes_once(pop):
    ds = geometry(pop.isel(stage=2), by="choice", within="context", measures="participation_ratio")
    assert ds.participation_ratio.ndim == 0
    assert ds.attrs["within"] == ["context"]


def test_options_routing(pop):
    ds = geometry(pop, by="choice", measures=("mftma",), kappa=0.2, mftma={"n_t": 40})
    assert ds.attrs["kappa"] == 0.2 and ds.attrs["n_t"] == 40
    both = geometry(pop, by="choice", measures=("mftma", "participation_ratio"), **FAST)
    assert both.attrs["mftma_n_t"] == 60
    with pytest.raises(TypeError, match="no requested measure accepts"):
        geometry(pop, by="choice", measures=("participation_ratio",), kappa=0.2)
    with pytest.raises(TypeError, match="must be a dict"):
        geometry(pop, by="choice", measures=("mftma",), mftma=5)


def test_deterministic(pop):
    a = geometry(pop, by="choice", measures=("mftma",), seed=5, **FAST)
    b = geometry(pop, by="choice", measures=("mftma",), seed=5, **FAST)
    xr.testing.assert_identical(a, b)


def test_errors(pop):
    with pytest.raises(ValueError, match="compares two representations"):
        geometry(pop, by="choice", measures=("cka",))
    with pytest.raises(ValueError, match="unknown measure"):
        geometry(pop, by="choice", measures=("nope",))
    with pytest.raises(ValueError, match="not a dim of the tensor"):
        geometry(pop.isel(stage=0), by="choice", over=("seed",))
    with pytest.raises(ValueError, match="cannot compute over 'trial'"):
        geometry(pop, by="choice", over=("stage", "trial"))
    with pytest.raises(ValueError, match="include it in over="):
        geometry(pop, by="choice", measures="participation_ratio", over=())
    with pytest.raises(TypeError, match="population tensor"):
        geometry(np.zeros((3, 4)), by="choice")
    with pytest.raises(ValueError, match="unknown trial label"):
        geometry(pop, by="reward", measures="participation_ratio")


def test_glue_measures_by_name(pop):
    pytest.importorskip("neurogeom.geometry.capacity")
    ds = geometry(pop, by="choice", measures=("capacity", "radius", "mftma_capacity"), n_t=40)
    assert {"capacity", "radius", "mftma_capacity"} <= set(ds.data_vars)
    assert ds.attrs["glue_n_t"] == 40 and ds.attrs["mftma_n_t"] == 40
    assert ds.capacity.values[0] < ds.capacity.values[2]
