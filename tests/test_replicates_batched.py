"""Replicates of a trajectory measured in one glue_batch() pass equal one measure_geometry()
call per replicate (same draws, same seeds)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from neurogeom._provenance import child_seed
from neurogeom.learning.measure import _batchable, _Call, _measure_many, measure_geometry
from neurogeom.learning.trajectories import _Draws, stage_difference, trajectory
from neurogeom.population import make_population

RTOL, ATOL = 1e-8, 1e-12  # ATOL: sems that are zero up to rounding


def _pop(n_trial=36, n_unit=10, seps=(0.5, 2.0, 4.0), seed=0):
    rng = np.random.default_rng(seed)
    choice = np.tile([0, 1, 2], n_trial // 3)
    axes = np.random.default_rng(7).standard_normal((3, n_unit))
    data = np.stack([s * axes[choice] + rng.standard_normal((n_trial, n_unit)) for s in seps])
    return make_population(
        data,
        dims=("stage", "trial", "unit"),
        quantity="rnn_state",
        trial_coords={"choice": choice, "context": np.repeat(["a", "b"], n_trial // 2)},
        stage_coords={"step": [1, 10, 100]},
    )


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _same(batched: xr.Dataset, one: xr.Dataset) -> None:
    xr.testing.assert_allclose(batched, one, rtol=RTOL, atol=ATOL)
    assert list(batched.data_vars) == list(one.data_vars)
    assert set(batched.coords) == set(one.coords)
    for v in batched.data_vars:
        assert batched[v].attrs == one[v].attrs, v
    wanted = {k: v for k, v in one.attrs.items() if not k.startswith("solver_")}
    assert set(batched.attrs) == set(wanted)
    for k, v in wanted.items():
        assert np.array_equal(np.asarray(batched.attrs[k]), np.asarray(v)), k


@pytest.mark.parametrize("split", [None, "context"])
def test_many_tensors_equal_one_call_each(split):
    pop = _pop()
    draws = _Draws(pop, ("choice", "context"), 1) if split else _Draws(pop, ("choice",), 0)
    pops = [
        (draws.resample(np.random.default_rng(b), "subsample", 0.6), child_seed(3, b))
        for b in range(4)
    ]
    kw = dict(by="choice", split=split, n_t=30)
    batched = _quiet(_measure_many, pops, **kw)
    assert len(batched) == 4
    for (p, s), ds in zip(pops, batched):
        _same(ds, _quiet(measure_geometry, p, seed=s, **kw))


def test_bootstrap_and_null_replicates_equal_the_per_call_path():
    pop = _pop()
    kw = dict(n_t=30)
    traj = _quiet(
        trajectory, pop, by="choice", n_boot=5, n_perm=4, seed=2, keep_replicates=True, **kw
    )
    draws = _Draws(pop, ("choice",), 0)
    boot = [
        _quiet(
            measure_geometry,
            draws.resample(np.random.default_rng(child_seed(2, 1, b)), "subsample", 0.5),
            by="choice",
            seed=child_seed(2, 2, b),
            **kw,
        ).capacity.values
        for b in range(5)
    ]
    got = traj.capacity_boot.transpose("replicate", "stage").values
    np.testing.assert_allclose(got, np.array(boot), rtol=RTOL, atol=0)
    null = [
        _quiet(
            measure_geometry,
            draws.permute_labels(np.random.default_rng(child_seed(2, 3, b))),
            by="choice",
            seed=child_seed(2, 4, b),
            **kw,
        ).capacity.values
        for b in range(4)
    ]
    np.testing.assert_allclose(
        traj.capacity_null_mean.values, np.mean(null, axis=0), rtol=RTOL, atol=0
    )


def test_stage_difference_replicates_equal_the_per_call_path():
    pop = _pop().isel(stage=[0, 2])
    res = _quiet(
        stage_difference, pop, "choice", "capacity", stages=(0, 2), n_boot=3, n_perm=3,
        seed=4, n_t=30,
    )  # fmt: skip
    draws = _Draws(pop, ("choice",), 0)
    null = []
    for b in range(3):
        ds = _quiet(
            measure_geometry,
            draws.swap_stages(np.random.default_rng(child_seed(4, 3, b))),
            by="choice",
            seed=child_seed(4, 4, b),
            n_t=30,
        )
        null.append(float(ds.capacity[1] - ds.capacity[0]))
    np.testing.assert_allclose(np.sort(res["null"].values.ravel()), np.sort(null), rtol=RTOL)


def test_glue_options_the_batch_lacks_run_one_call_each():
    def call(**options):
        return _Call("glue", "neurogeom.geometry.capacity:glue", tuple(options.items()), True)

    assert _batchable(call(n_t=50, kappa=0.1, backend="numpy", n_jobs=1))
    assert not _batchable(call(dichotomies="pairwise"))
    assert not _batchable(call(return_anchors=True))
    assert not _batchable(call(n_jobs=2))
    other = _Call("mftma", "neurogeom.geometry.mftma:mftma", (), True)
    assert not _batchable(other)
