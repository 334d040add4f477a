"""measure_geometry(): measures over stages, split values, time bins and time windows of a population."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom._provenance import child_seed
from neurogeom.geometry import mftma, participation_ratio
from neurogeom.geometry.registry import get_measure, measure_names
from neurogeom.learning import measure_geometry
from neurogeom.population import make_population

SEPARATION = (0.5, 1.5, 4.0)  # choice-manifold separation grows over the stages


@pytest.fixture(scope="module")
def pop() -> xr.DataArray:
    rng = np.random.default_rng(0)
    n_trial, n_time, n_unit = 48, 4, 25
    choice = np.tile([0, 1, 2], n_trial // 3)
    context = np.repeat(["a", "b"], n_trial // 2)
    axes = rng.standard_normal((3, n_unit))
    data = np.empty((len(SEPARATION), n_trial, n_time, n_unit))
    for s, sep in enumerate(SEPARATION):
        base = sep * axes[choice] + 0.3 * (context == "b")[:, None]
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


def test_over_stage_matches_direct_calls_with_child_seeds(pop):
    ds = measure_geometry(pop, by="choice", measures=("mftma",), **FAST)
    assert ds.sizes["stage"] == 3
    assert list(ds.step.values) == [0, 100, 1000]
    assert list(ds.label.values) == ["early", "mid", "late"]
    assert ds.attrs["estimator"] == "mftma" and ds.attrs["n_t"] == 60 and ds.attrs["seed"] == 0
    assert ds.manifold.values.tolist() == [0, 1, 2]  # the label values
    assert ds.seed_used.dims == ("stage",)
    assert ds.seed_used.values.tolist() == [child_seed(0, i) for i in range(3)]
    for i, stage in enumerate(pop.stage.values):
        m = pop.ng.manifolds(by="choice", stage=stage)
        direct = mftma(m.points, m.labels, n_t=60, n_reps=2, seed=child_seed(0, i))
        assert float(ds.capacity[i]) == float(direct.capacity)
        np.testing.assert_array_equal(
            ds.manifold_capacity.isel(stage=i).values, direct.manifold_capacity.values
        )
    caps = ds.capacity.values
    assert caps[0] < caps[1] < caps[2]  # separation grows, capacity grows


def test_stages_draw_independent_probes(pop):
    """The same points at two stages get different Monte-Carlo draws (not common numbers)."""
    same = xr.concat([pop.isel(stage=2)] * 2, dim="stage").transpose("stage", ...)
    same = same.assign_coords(stage=[0, 1])
    ds = measure_geometry(same, by="choice", measures=("mftma",), **FAST)
    assert float(ds.capacity[0]) != float(ds.capacity[1])
    gap = abs(float(ds.capacity[0] - ds.capacity[1]))
    assert gap < 5 * float(np.hypot(ds.capacity_sem[0], ds.capacity_sem[1]))


def test_parallel_identical_to_serial(pop):
    kw = dict(by="choice", measures=("mftma", "participation_ratio"), **FAST)
    serial = measure_geometry(pop, n_jobs=1, **kw)
    parallel = measure_geometry(pop, n_jobs=2, **kw)
    xr.testing.assert_identical(serial, parallel)


def test_several_measures_keep_their_names_unless_they_clash(pop):
    ds = measure_geometry(pop, by="choice", measures=("mftma", "participation_ratio"), **FAST)
    assert {"capacity", "capacity_sem", "participation_ratio", "participation_ratio_sem"} <= set(
        ds.data_vars
    )
    one = pop.ng.manifolds(by="choice", stage=2)
    expected = participation_ratio(one.points).participation_ratio
    assert float(ds.participation_ratio[2]) == pytest.approx(float(expected))
    assert ds.attrs["estimator"] == ["mftma", "participation_ratio"]
    assert ds.attrs["mftma_n_t"] == 60 and ds.attrs["participation_ratio_of"] == "points"


def test_clashing_variables_are_prefixed(pop):
    one = pop.isel(stage=2)
    ds = measure_geometry(one, by="choice", measures=("glue", "mftma"), n_t=20, mftma={"n_reps": 1})
    assert {"glue_capacity", "mftma_capacity", "glue_radius", "mftma_radius"} <= set(ds.data_vars)
    assert "utility" in ds and "capacity" not in ds  # glue's own, no clash
    assert ds.attrs["glue_n_t"] == 20 and ds.attrs["mftma_n_t"] == 20
    single = measure_geometry(one, by="choice", measures=("glue",), n_t=20)
    assert float(single.capacity) == float(ds.glue_capacity)


def test_over_stage_and_time_bins(pop):
    ds = measure_geometry(
        pop,
        by="choice",
        measures="participation_ratio",
        over=("stage", "time"),
        window_s=(0.1, 0.4),
    )
    assert dict(ds.sizes) == {"stage": 3, "time": 3}
    np.testing.assert_allclose(ds.time.values, [0.15, 0.25, 0.35])
    sub = pop.isel(stage=1).sel(time=0.25)
    m = sub.ng.manifolds(by="choice")
    expected = participation_ratio(m.points).participation_ratio
    assert float(ds.participation_ratio.sel(stage=1, time=0.25)) == pytest.approx(float(expected))


def test_time_windows(pop):
    ds = measure_geometry(
        pop,
        by="choice",
        measures="decoding_accuracy",
        window_s=[(0.0, 0.2), (0.2, 0.4)],
        n_splits=3,
    )
    assert dict(ds.sizes) == {"stage": 3, "time_window": 2}
    np.testing.assert_allclose(ds.window_start_s.values, [0.0, 0.2])
    assert ds.seed_used.dims == ("stage", "time_window")
    assert ds.seed_used.values[1, 0] == child_seed(0, 1, 0)
    acc = ds.decoding_accuracy.values
    assert np.all(acc[2] > 0.9)  # well separated at the last stage
    assert np.all((acc >= 0) & (acc <= 1))
    assert np.all(ds.decoding_accuracy_sem.values >= 0)


def test_no_stage_dim_computes_once_with_the_seed_itself(pop):
    ds = measure_geometry(pop.isel(stage=2), by="choice", within="context", measures="decoding_accuracy",
                  n_splits=3, seed=4)  # fmt: skip
    assert ds.decoding_accuracy.ndim == 0 and int(ds.seed_used) == 4
    assert ds.attrs["within"] == ["context"] and ds.attrs["seed"] == 4


def test_split_equals_per_value_select_calls(pop):
    """split= runs the analysis per value of a label; each value's child seed is recorded."""
    ds = measure_geometry(pop, by="choice", split="context", measures=("mftma",), seed=7, **FAST)
    assert ds.capacity.dims == ("stage", "context")
    assert ds.context.values.tolist() == ["a", "b"] and ds.attrs["split"] == "context"
    for i in range(3):
        for j, value in enumerate(["a", "b"]):
            assert int(ds.seed_used[i, j]) == child_seed(7, i, j)
            one = pop.isel(stage=i).ng.select(context=value)
            m = one.ng.manifolds(by="choice")
            direct = mftma(m.points, m.labels, n_t=60, n_reps=2, seed=child_seed(7, i, j))
            assert float(ds.capacity[i, j]) == float(direct.capacity)
    # the accessor door, on one stage: the same numbers with the documented seed
    late = pop.isel(stage=2)
    split = late.ng.mftma(by="choice", split="context", seed=7, n_t=60, n_reps=2)
    b = late.ng.select(context="b").ng.mftma(by="choice", seed=child_seed(7, 1), n_t=60, n_reps=2)
    assert float(split.capacity.sel(context="b")) == float(b.capacity)
    np.testing.assert_array_equal(
        split.manifold_radius.sel(context="b").values, b.manifold_radius.values
    )


def test_within_is_joint_manifolds_with_a_coord_per_label(pop):
    ds = measure_geometry(pop.isel(stage=2), by="choice", within="context", measures=("mftma",), **FAST)
    assert ds.sizes["manifold"] == 6
    assert ds.manifold.values[0] == "choice=0, context=a"
    assert ds.choice.dims == ("manifold",) and ds.choice.values.tolist() == [0, 0, 1, 1, 2, 2]
    assert ds.context.values.tolist() == ["a", "b"] * 3


def test_options_routing(pop):
    ds = measure_geometry(pop, by="choice", measures=("mftma",), kappa=0.2, mftma={"n_t": 40})
    assert ds.attrs["kappa"] == 0.2 and ds.attrs["n_t"] == 40
    with pytest.raises(
        TypeError, match=r"measure 'participation_ratio' does not take.*\['kappa'\]"
    ):
        measure_geometry(pop, by="choice", measures=("mftma", "participation_ratio"), kappa=0.2)
    with pytest.raises(TypeError, match="measure 'mftma' does not take"):
        measure_geometry(pop, by="choice", measures=("mftma",), mftma={"n_dichotomies": 3})
    with pytest.raises(TypeError, match="must be a dict"):
        measure_geometry(pop, by="choice", measures=("mftma",), mftma=5)


def test_deterministic(pop):
    a = measure_geometry(pop, by="choice", measures=("mftma",), seed=5, **FAST)
    b = measure_geometry(pop, by="choice", measures=("mftma",), seed=5, **FAST)
    xr.testing.assert_identical(a, b)


def test_errors(pop):
    with pytest.raises(ValueError, match="compares two representations"):
        measure_geometry(pop, by="choice", measures=("cka_similarity",))
    with pytest.raises(ValueError, match="differentiable feature map"):
        measure_geometry(pop, by="choice", measures=("boundary_magnification",))
    with pytest.raises(ValueError, match="unknown measure"):
        measure_geometry(pop, by="choice", measures=("cka",))
    with pytest.raises(ValueError, match="not a dim of the tensor"):
        measure_geometry(pop.isel(stage=0), by="choice", over=("seed",))
    with pytest.raises(ValueError, match="cannot compute over 'trial'"):
        measure_geometry(pop, by="choice", over=("stage", "trial"))
    with pytest.raises(ValueError, match="include it in over="):
        measure_geometry(pop, by="choice", measures="participation_ratio", over=())
    with pytest.raises(TypeError, match="population tensor"):
        measure_geometry(np.zeros((3, 4)), by="choice")
    with pytest.raises(ValueError, match="unknown trial label"):
        measure_geometry(pop, by="reward", measures="participation_ratio")
    with pytest.raises(ValueError, match="unknown trial label 'reward' in split="):
        measure_geometry(pop, by="choice", measures="participation_ratio", split="reward")
    with pytest.raises(ValueError, match="is also in by/within"):
        measure_geometry(
            pop, by="choice", within="context", measures="participation_ratio", split="context"
        )
    with pytest.raises(ValueError, match=r"window_s \(2.0, 3.0\) holds no bins"):
        measure_geometry(pop, by="choice", measures="participation_ratio", window_s=[(0, 0.2), (2.0, 3.0)])


# ---- one result layout ---------------------------------------------------------------------------

LAYOUT_OPTIONS = {
    "glue": {"n_t": 20},
    "simulated_capacity": {"n_dichotomies": 11},
    "mftma": {"n_t": 20, "n_reps": 1},
    "decoding_accuracy": {"n_splits": 2},
}


@pytest.mark.parametrize("name", measure_names("points_labels"))
def test_every_measure_has_the_one_result_layout(pop, name):
    """Value and *_sem per output, label values on `manifold`, n_points a coord, provenance."""
    small = pop.isel(stage=2)
    ds = measure_geometry(small, by="choice", within="context", measures=(name,), seed=3,
                  **LAYOUT_OPTIONS.get(name, {}))  # fmt: skip
    for out in get_measure(name).outputs:
        assert out.name in ds.data_vars, (name, out.name)
        assert f"{out.name}_sem" in ds.data_vars, (name, out.name)
        assert ds[out.name].ndim == 0
    assert "trial" not in ds.dims
    if "manifold" in ds.dims:
        assert ds.manifold.values.tolist() == [f"choice={c}, context={x}"
                                               for c in range(3) for x in "ab"]  # fmt: skip
        assert ds.choice.values.tolist() == [0, 0, 1, 1, 2, 2]
        assert ds.context.values.tolist() == ["a", "b"] * 3
        assert "n_points" in ds.coords and "n_points" not in ds.data_vars
        assert ds.n_points.dtype == np.int64 and ds.n_points.values.tolist() == [8] * 6
    assert ds.attrs["estimator"] == name
    assert ds.attrs["neurogeom_version"] and ds.attrs["seed"] == 3
    for value in ds.attrs.values():
        assert isinstance(value, str | int | float | list), (name, value)


def test_glue_over_stages_in_one_batch_equals_one_call_per_stage(pop):
    """Serial GLUE over stages (and split values) runs as one glue_batch() pass: every stage's
    numbers are those of its own glue() call, and the layout is that of the per-call path."""
    from neurogeom.geometry import glue

    kw = dict(by="choice", n_t=40, split="context")
    batched = measure_geometry(pop, **kw)
    per_call = measure_geometry(pop, n_jobs=2, **kw)
    assert set(batched.data_vars) == set(per_call.data_vars)
    assert batched.sizes == per_call.sizes
    for name in per_call.data_vars:
        np.testing.assert_allclose(batched[name], per_call[name], rtol=1e-10, atol=0)
    for c in per_call.coords:
        np.testing.assert_array_equal(batched[c].values, per_call[c].values)
    for i in range(pop.sizes["stage"]):
        for j, ctx in enumerate(batched.context.values):
            m = pop.isel(stage=i).ng.select(context=ctx).ng.manifolds(by="choice")
            one = glue(m.points, m.labels, n_t=40, seed=child_seed(0, i, j))
            got = float(batched.capacity.isel(stage=i, context=j))
            assert got == pytest.approx(float(one.capacity), rel=1e-10)
