"""The population-tensor contract: building, validation, selection, averaging, manifolds, pooling."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurogeom as ng
from neurogeom.population import make_population, pool


def _pop(n_trial=40, n_time=10, n_unit=5, seed=0, unit=None, **coords):
    rng = np.random.default_rng(seed)
    labels = {
        "context": rng.integers(0, 2, n_trial),
        "choice": np.array(["left", "right"])[rng.integers(0, 2, n_trial)],
    }
    labels.update(coords)
    return make_population(
        rng.poisson(3.0, (n_trial, n_time, n_unit)).astype(float),
        dims=("trial", "time", "unit"),
        quantity="spike_count",
        trial_coords=labels,
        bin_size_s=0.05,
        align="stimulus_on",
        unit=unit,
    )


def test_make_population_follows_the_contract():
    pop = _pop()
    assert isinstance(pop, xr.DataArray) and type(pop) is xr.DataArray
    assert pop.dims == ("trial", "time", "unit")
    assert pop.attrs["quantity"] == "spike_count" and pop.attrs["align"] == "stimulus_on"
    assert pop["time"].attrs["units"] == "s"
    np.testing.assert_allclose(pop["time"].values, np.arange(10) * 0.05)
    assert pop["valid"].dims == ("trial", "time") and bool(pop["valid"].all())
    assert ng.population.trial_labels(pop) == ["context", "choice"]


def test_valid_mask_marks_missing_trials():
    pop = _pop()
    values = pop.values.copy()
    values[3, 7:, :] = np.nan  # trial 3 is shorter than the window
    short = pop.copy(data=values)
    short = ng.population.with_valid_mask(short)
    assert not short["valid"].sel(trial=3, time=slice(0.35, None)).any()
    assert int((~short["valid"]).sum()) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": ("trial", "neuron")}, r"unknown \['neuron'\].*rename\(neuron='unit'\)"),
        ({"dims": ("unit", "trial")}, r"order \('trial', 'unit'\)"),
        ({"dims": ("trial",)}, "data has 2 axes"),
        ({"quantity": "volts"}, "unknown quantity 'volts'"),
        (
            {"trial_coords": {"choice": [0, 1, 0]}},
            r"'choice' must be 1-D with one value per trial \(6\)",
        ),
        ({"unit": [1, 1, 2, 3]}, r"unit ids must be unique; repeated: \[1\]"),
    ],
)
def test_make_population_rejects_broken_contracts(kwargs, match):
    args = {"dims": ("trial", "unit"), "quantity": "rate_hz"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_population(np.zeros((6, 4)), **args)


def test_validate_rejects_non_dataarray_and_inf():
    with pytest.raises(TypeError, match="xarray.DataArray; got ndarray"):
        ng.validate(np.zeros((3, 3)))
    pop = _pop()
    bad = pop.copy(data=np.where(pop.values > 5, np.inf, pop.values))
    with pytest.raises(ValueError, match="inf values"):
        bad.ng.validate()


def test_select_matches_labels_and_reports_unknown_values():
    pop = _pop()
    sub = pop.ng.select(context=1, choice=["left"])
    expected = (pop["context"].values == 1) & (pop["choice"].values == "left")
    assert sub.sizes["trial"] == expected.sum()
    assert set(sub["context"].values) == {1}
    with pytest.raises(ValueError, match=r"no trial has context=7; its values are \[0, 1\]"):
        pop.ng.select(context=7)
    with pytest.raises(ValueError, match="unknown label 'colour'"):
        pop.ng.select(colour=1)


def test_condition_average_equals_groupwise_mean():
    pop = _pop()
    avg = pop.ng.average(by=["context", "choice"])
    assert avg.dims == pop.dims and avg.sizes["trial"] == 4
    for i in range(4):
        c, ch = avg["context"].values[i], avg["choice"].values[i]
        mask = (pop["context"].values == c) & (pop["choice"].values == ch)
        np.testing.assert_allclose(avg.values[i], pop.values[mask].mean(axis=0))
        assert avg["n_trials"].values[i] == mask.sum()
    np.testing.assert_allclose(pop.ng.average(over="time").values, pop.values.mean(axis=1))


def test_manifolds_points_are_window_means_and_labels_are_conjunctions():
    pop = _pop()
    m = pop.ng.manifolds(by="choice", within="context", time=(0.1, 0.2))
    assert m.points.shape == (40, 5) and m.points.dtype == np.float64
    np.testing.assert_allclose(m.points, pop.values[:, 2:5, :].mean(axis=1))
    assert m.n_manifolds == 4 and list(m.table.columns) == ["choice", "context", "n_points"]
    for k, row in m.table.iterrows():
        idx = m.labels == k
        assert idx.sum() == row["n_points"]
        assert set(pop["choice"].values[idx]) == {row["choice"]}
        assert set(pop["context"].values[idx]) == {row["context"]}
    every = pop.ng.manifolds(by="choice", points="all")
    assert every.points.shape == (400, 5)


def test_manifolds_errors_name_the_problem():
    pop = _pop()
    with pytest.raises(
        ValueError, match=r"unknown trial label 'coherence'.*\['context', 'choice'\]"
    ):
        pop.ng.manifolds(by="coherence")
    with pytest.raises(ValueError, match=r"holds no bins; the tensor spans 0 to 0.45 s"):
        pop.ng.manifolds(by="choice", time=(2.0, 3.0))
    with pytest.raises(ValueError, match="start < stop"):
        pop.ng.manifolds(by="choice", time=(0.3, 0.1))
    lonely = _pop(context=np.r_[np.zeros(39, int), 1])
    with pytest.raises(ValueError, match="fewer than 2 points.*min_points=1"):
        lonely.ng.manifolds(by="context")
    staged = xr.concat([pop, pop], dim="stage").transpose("stage", ...)
    with pytest.raises(ValueError, match="'stage' dim with 2 entries"):
        staged.ng.manifolds(by="choice")


def test_manifolds_drop_missing_points_with_a_warning():
    pop = _pop()
    values = pop.values.copy()
    values[:3] = np.nan
    with pytest.warns(UserWarning, match="dropped 3 of 40 points"):
        m = pop.copy(data=values).ng.manifolds(by="choice")
    assert m.points.shape[0] == 37


def test_pool_balances_conditions_and_keeps_sessions_apart():
    a = _pop(n_trial=50, seed=1)
    b = _pop(n_trial=30, seed=2, unit=[10, 11, 12, 13, 14])
    pooled = pool([a, b], by="context", seed=3, sessions=["s1", "s2"])
    counts_a = np.bincount(a["context"].values)
    counts_b = np.bincount(b["context"].values)
    n = min(counts_a.min(), counts_b.min())
    assert pooled.sizes == {"trial": 2 * n, "time": 10, "unit": 10}
    assert np.all(np.bincount(pooled["context"].values) == n)
    assert list(pooled["session"].values) == ["s1"] * 5 + ["s2"] * 5
    # every pseudo-trial draws real trials of the same condition from each session
    for s, src in (("s1", a), ("s2", b)):
        part = pooled.sel(unit=pooled["session"] == s)
        for t in range(pooled.sizes["trial"]):
            row = part.values[t]
            hits = [i for i in range(src.sizes["trial"]) if np.array_equal(src.values[i], row)]
            assert any(src["context"].values[i] == pooled["context"].values[t] for i in hits)
    again = pool([a, b], by="context", seed=3, sessions=["s1", "s2"])
    xr.testing.assert_identical(pooled, again)


def test_pool_errors():
    a = _pop(seed=1)
    with pytest.raises(ValueError, match=r"unit ids \[0, 1, 2, 3, 4\] occur in more than one"):
        pool([a, _pop(seed=2)], by="context")
    ok = pool([a, _pop(seed=2)], by="context", unique_ids=True)
    assert ok["unit"].values[0] == "session0/0"
    with pytest.raises(ValueError, match="replace=True"):
        pool([a, _pop(seed=2, unit=list("abcde"))], by="context", n_trials=1000)
    with pytest.raises(ValueError, match="lacks trial label"):
        pool([a, _pop(seed=2, unit=list("abcde"))], by="coherence")


def test_pool_through_the_accessor_is_seeded():
    a = _pop(n_trial=30, seed=1)
    b = _pop(n_trial=45, seed=2, unit=list("vwxyz"))
    c = _pop(n_trial=25, seed=3, unit=list("pqrst"))
    pooled = a.ng.pool([b, c], by=["context", "choice"], seed=5, sessions=["a", "b", "c"])
    xr.testing.assert_identical(
        pooled, pool([a, b, c], by=["context", "choice"], seed=5, sessions=["a", "b", "c"])
    )
    assert pooled.sizes["unit"] == 15 and pooled.attrs["pool_seed"] == 5
    _, counts = np.unique(
        np.stack([pooled["context"].values, pooled["choice"].values], 1), axis=0, return_counts=True
    )
    assert len(counts) == 4 and len(set(counts)) == 1
    other = a.ng.pool([b, c], by=["context", "choice"], seed=6, sessions=["a", "b", "c"])
    assert not np.array_equal(other.values, pooled.values)
    assert set(pooled.coords) >= {"context", "choice", "session", "valid"}
    assert "n_trials" not in pooled.coords  # only the pooling labels stay on `trial`


def test_pool_refuses_sessions_that_do_not_match():
    a = _pop(seed=1)
    b = _pop(seed=2, unit=list("abcde"))
    shifted = b.assign_coords(time=b["time"].values + 0.01)
    with pytest.raises(ValueError, match="other time bins.*same align, window and bin size"):
        pool([a, shifted], by="context")
    rates = b.assign_attrs(quantity="rate_hz")
    with pytest.raises(ValueError, match="'rate_hz'.*pool tensors of the same quantity"):
        pool([a, rates], by="context")
    other = b.assign_coords(context=("trial", b["context"].values + 10))
    with pytest.raises(ValueError, match="no condition.*every session shares"):
        pool([a, other], by="context")
    with pytest.raises(ValueError, match="sessions must name each tensor once"):
        pool([a, b], by="context", sessions=["s", "s"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bin_size_s": 0.0}, r"bin_size_s must be a positive.*e\.g\. bin_size_s=0\.05"),
        ({"time": [0.0, 0.2, 0.1]}, r"strictly increasing.*pop\.sortby\('time'\)"),
        ({"unit": [1, 1]}, r"repeated: \[1\]\. Give each unit its own id"),
    ],
)
def test_contract_errors_say_how_to_fix_them(kwargs, match):
    args = {"dims": ("trial", "time", "unit"), "quantity": "rate_hz", "bin_size_s": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_population(np.zeros((4, 3, 2)), **args)
