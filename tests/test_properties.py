"""Property tests: random population tensors (dims, labels, NaN patterns) through the accessor
and the engine. Bounded and derandomised (the same examples on every run)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import neurogeom  # noqa: F401  (registers the .ng accessor)
from neurogeom.geometry import glue, mftma, simulated_capacity
from neurogeom.population import make_population

FAST = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(FAST, max_examples=8)

NAN_PATTERNS = ("none", "trials", "units", "scattered", "all")


@st.composite
def populations(draw, *, with_time=None, nan=None, min_conditions=2):
    """A population tensor (trial, [time], unit) with a ``cond`` label of 2-4 values, a second
    label ``side``, and a NaN pattern; returns (pop, pattern)."""
    n_cond = draw(st.integers(min_conditions, 4))
    per = draw(st.integers(3, 6))
    n_trial = n_cond * per
    n_unit = draw(st.integers(2, 9))
    has_time = draw(st.booleans()) if with_time is None else with_time
    n_time = draw(st.integers(1, 4)) if has_time else 0
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    cond = np.repeat(np.arange(n_cond), per)
    rng.shuffle(cond)
    side = rng.choice(np.array(["left", "right"]), size=n_trial)
    shape = (n_trial, n_time, n_unit) if has_time else (n_trial, n_unit)
    centres = 3.0 * rng.standard_normal((n_cond, n_unit))
    values = centres[cond][:, None, :] if has_time else centres[cond]
    values = values + rng.standard_normal(shape)
    pattern = draw(st.sampled_from(NAN_PATTERNS)) if nan is None else nan
    if pattern == "trials":  # a few trials not recorded at all
        values[rng.choice(n_trial, size=max(1, n_trial // 6), replace=False)] = np.nan
    elif pattern == "units":  # one unit missing on some trials
        values[rng.choice(n_trial, size=2, replace=False), ..., 0] = np.nan
    elif pattern == "scattered":
        values[rng.random(shape) < 0.05] = np.nan
        values.reshape(-1)[0] = np.nan
    elif pattern == "all":
        values[:] = np.nan
    dims = ("trial", "time", "unit") if has_time else ("trial", "unit")
    pop = make_population(
        values,
        dims=dims,
        quantity="continuous",
        trial_coords={"cond": cond, "side": side},
        unit=[f"u{i}" for i in range(n_unit)],
        bin_size_s=0.05 if has_time else None,
    )
    return pop, pattern


def _finite_rows(pop):
    """Trials whose point (mean over the time bins, NaN bins skipped) is finite."""
    finite = np.isfinite(pop.values)
    if "time" in pop.dims:
        finite = finite.any(axis=1)
    return finite.all(axis=1)


# ---- the accessor ---------------------------------------------------------------------------------


@FAST
@given(populations())
def test_validate_returns_the_tensor_unchanged(case):
    pop, _ = case
    out = pop.ng.validate()
    assert out is pop
    assert out.dims == pop.dims and out.shape == pop.shape
    assert out["valid"].dims == tuple(d for d in pop.dims if d != "unit")
    finite = np.isfinite(pop.values)
    np.testing.assert_array_equal(out["valid"].values, finite.any(axis=-1))


@FAST
@given(populations(), st.data())
def test_select_keeps_matching_trials_with_their_coords(case, data):
    pop, _ = case
    values = sorted(set(pop["cond"].values.tolist()))
    wanted = data.draw(st.lists(st.sampled_from(values), min_size=1, max_size=2, unique=True))
    out = pop.ng.select(cond=wanted)
    mask = np.isin(pop["cond"].values, wanted)
    assert out.sizes["trial"] == int(mask.sum())
    assert set(out["cond"].values.tolist()) == set(wanted)
    np.testing.assert_array_equal(out["trial"].values, pop["trial"].values[mask])
    np.testing.assert_array_equal(out["side"].values, pop["side"].values[mask])
    np.testing.assert_array_equal(out["unit"].values, pop["unit"].values)
    np.testing.assert_array_equal(out.values, pop.values[mask])
    assert out.attrs == pop.attrs
    with pytest.raises(ValueError, match="cond"):
        pop.ng.select(cond=99)
    with pytest.raises(ValueError, match="unknown label"):
        pop.ng.select(colour=1)


@FAST
@given(populations(nan="none"))
def test_average_by_condition_keeps_one_row_per_condition(case):
    pop, _ = case
    out = pop.ng.average(by="cond")
    conds = np.unique(pop["cond"].values)
    assert out.sizes["trial"] == conds.size
    assert out.sizes["unit"] == pop.sizes["unit"]
    np.testing.assert_array_equal(out["cond"].values, conds)
    assert int(out["n_trials"].sum()) == pop.sizes["trial"]
    for k, c in enumerate(conds):
        np.testing.assert_allclose(
            out.isel(trial=k).values, pop.values[pop["cond"].values == c].mean(axis=0)
        )
    np.testing.assert_array_equal(out["unit"].values, pop["unit"].values)
    if "time" in pop.dims:
        np.testing.assert_array_equal(out["time"].values, pop["time"].values)


@FAST
@given(populations())
def test_manifolds_never_return_nan_points(case):
    pop, pattern = case
    ok = _finite_rows(pop)
    if pattern == "all":
        with pytest.raises(ValueError, match="missing"):
            pop.ng.manifolds(by="cond", min_points=1)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            m = pop.ng.manifolds(by="cond", min_points=1)
        except ValueError as exc:  # every point of the window missing: a clear error
            assert "missing" in str(exc)
            assert not ok.any()
            return
    dropped = [w for w in caught if "dropped" in str(w.message)]
    assert bool(dropped) == (not ok.all())
    assert np.isfinite(m.points).all()
    assert m.points.shape == (int(ok.sum()), pop.sizes["unit"])
    np.testing.assert_array_equal(m.feature_names, pop["unit"].values)
    kept = pop["cond"].values[ok]
    # codes follow the sorted condition values of the kept trials
    np.testing.assert_array_equal(np.unique(kept)[m.labels], kept)


@FEW
@given(populations(with_time=False, nan="none"), st.integers(1, 3))
def test_pool_joins_units_and_keeps_conditions(case, n_trials):
    pop, _ = case
    other = pop.copy(data=pop.values[:, ::-1] * 2.0)
    out = pop.ng.pool(other, by="cond", n_trials=n_trials, sessions=["a", "b"])
    n_cond = np.unique(pop["cond"].values).size
    assert out.dims == pop.dims
    assert out.sizes["unit"] == 2 * pop.sizes["unit"]
    assert out.sizes["trial"] == n_cond * n_trials
    assert sorted(set(out["session"].values.tolist())) == ["a", "b"]
    assert len(set(out["unit"].values.tolist())) == out.sizes["unit"]
    counts = np.unique(out["cond"].values, return_counts=True)[1]
    assert np.all(counts == n_trials)
    assert np.isfinite(out.values).all()


# ---- the engine ------------------------------------------------------------------------------------


@st.composite
def point_clouds(draw):
    n_manifolds = draw(st.integers(2, 4))
    m = draw(st.integers(2, 6))
    n = draw(st.integers(2, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    spread = draw(st.sampled_from([0.3, 1.0, 3.0]))
    centres = 2.0 * rng.standard_normal((n_manifolds, n))
    x = np.repeat(centres, m, axis=0) + spread * rng.standard_normal((n_manifolds * m, n))
    labels = np.repeat(np.arange(n_manifolds), m)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q *= np.sign(np.diag(r))
    return x, labels, q, rng.permutation(n)


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the floor warning, where it applies
        return fn(*args, **kw)


@FAST
@given(point_clouds())
def test_glue_capacity_invariant_to_rotation_and_unit_order(case):
    x, labels, q, perm = case
    base = _quiet(glue, x, labels, n_t=24, seed=1)
    rotated = _quiet(glue, x @ q, labels, n_t=24, seed=1)
    permuted = _quiet(glue, x[:, perm], labels, n_t=24, seed=1)
    for other in (rotated, permuted):
        assert float(other.capacity) == pytest.approx(float(base.capacity), rel=1e-7)
        np.testing.assert_allclose(other.F.values, base.F.values, rtol=1e-6, atol=1e-9)
        assert other.sizes == base.sizes
        np.testing.assert_array_equal(other["manifold"].values, base["manifold"].values)
        np.testing.assert_array_equal(other["n_points"].values, base["n_points"].values)


@pytest.mark.slow
@FEW
@given(point_clouds())
def test_mftma_and_simulated_capacity_invariant_to_rotation_and_unit_order(case):
    x, labels, q, perm = case
    for fn, kw in ((mftma, {"n_t": 20, "n_reps": 2}), (simulated_capacity, {"n_dichotomies": 7})):
        try:
            base = _quiet(fn, x, labels, **kw)
        except ValueError as exc:  # MFTMA: a centre at the global mean (a clear refusal)
            assert "centre" in str(exc)
            continue
        for y in (x @ q, x[:, perm]):
            other = _quiet(fn, y, labels, **kw)
            b, o = float(base.capacity), float(other.capacity)
            assert (np.isnan(b) and np.isnan(o)) or o == pytest.approx(b, rel=1e-6)


@pytest.mark.slow
@FEW
@given(populations(with_time=False, nan="none"), st.data())
def test_accessor_glue_invariant_to_unit_order_and_rotation(case, data):
    pop, _ = case
    rng = np.random.default_rng(data.draw(st.integers(0, 100)))
    perm = rng.permutation(pop.sizes["unit"])
    q, _ = np.linalg.qr(rng.standard_normal((pop.sizes["unit"],) * 2))
    reordered = pop.isel(unit=perm)
    rotated = pop.copy(data=pop.values @ q)
    base = _quiet(pop.ng.glue, by="cond", n_t=16)
    for other in (reordered, rotated):
        res = _quiet(other.ng.glue, by="cond", n_t=16)
        assert float(res.capacity) == pytest.approx(float(base.capacity), rel=1e-7)
        np.testing.assert_array_equal(res["manifold"].values, base["manifold"].values)
        assert res.capacity.dims == base.capacity.dims


@FEW
@given(populations(with_time=False, nan="scattered"))
def test_accessor_glue_on_nan_patterns_drops_with_a_warning_never_a_silent_number(case):
    pop, _ = case
    ok = np.isfinite(pop.values).all(axis=1)
    n_left = np.bincount(np.unique(pop["cond"].values, return_inverse=True)[1][ok])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = pop.ng.glue(by="cond", n_t=16)
        except ValueError as exc:  # a manifold emptied below 2 points: a clear error
            assert "fewer than" in str(exc) or "missing" in str(exc)
            assert n_left.size < np.unique(pop["cond"].values).size or n_left.min() < 2
            return
    assert any("dropped" in str(w.message) for w in caught)
    assert np.isfinite(float(res.capacity))
    assert int(res["n_points"].sum()) == int(ok.sum())


@FAST
@given(point_clouds(), st.sampled_from(["nan", "inf"]), st.data())
def test_engine_refuses_non_finite_points(case, kind, data):
    x, labels, _, _ = case
    bad = x.copy()
    i = data.draw(st.integers(0, x.shape[0] - 1))
    j = data.draw(st.integers(0, x.shape[1] - 1))
    bad[i, j] = np.nan if kind == "nan" else np.inf
    for fn in (glue, mftma, simulated_capacity):
        with pytest.raises(ValueError, match="finite"):
            fn(bad, labels)


def test_population_with_inf_is_refused():
    with pytest.raises(ValueError, match="inf"):
        make_population(
            np.array([[1.0, np.inf], [0.0, 1.0]]),
            dims=("trial", "unit"),
            quantity="continuous",
        )
    assert isinstance(xr.DataArray, type)
