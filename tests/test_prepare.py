"""Preparing a population: window means, z-scoring, balancing, pseudo-population draws."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom.learning.prepare import balance, resample_pseudopopulation, window_mean, zscore
from neurogeom.population import make_population


def _pop(n_stage=2, n_trial=12, n_time=4, n_unit=3, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.normal(5.0, 2.0, size=(n_stage, n_trial, n_time, n_unit))
    return make_population(
        data,
        dims=("stage", "trial", "time", "unit"),
        quantity="rnn_state",
        trial_coords={"choice": np.repeat([0, 1, 2], n_trial // 3), "rt": np.arange(n_trial)},
        bin_size_s=0.1,
        stage_coords={"label": ["before", "after"][:n_stage]},
    )


def test_window_mean_is_the_mean_of_the_bins_and_records_the_window():
    pop = _pop()
    out = window_mean(pop, (0.1, 0.2))
    assert "time" not in out.dims
    np.testing.assert_allclose(out.values, pop.values[:, :, 1:3].mean(axis=2))
    assert out.attrs["window_s"] == [0.1, 0.2]
    assert out.attrs["prepared"] == ["window_mean(window_s=[0.1, 0.2])"]
    assert pop.ng.window_mean((0.1, 0.2)).identical(out)
    with pytest.raises(ValueError, match="needs a 'time' dim"):
        window_mean(out, (0.0, 0.1))
    with pytest.raises(ValueError, match="holds no bins"):
        window_mean(pop, (5.0, 6.0))


def test_zscore_gives_unit_mean_zero_and_sd_one_per_stage():
    pop = _pop()
    out = zscore(pop)
    for s in range(2):
        x = out.values[s]  # (trial, time, unit)
        np.testing.assert_allclose(x.mean(axis=(0, 1)), 0.0, atol=1e-12)
        np.testing.assert_allclose(x.std(axis=(0, 1)), 1.0, atol=1e-12)
    pooled = zscore(pop, within_stage=False).values
    np.testing.assert_allclose(pooled.std(axis=(0, 1, 2)), 1.0, atol=1e-12)
    assert np.abs(pooled[0].std(axis=(0, 1)) - 1).max() > 1e-3  # not per stage
    assert out.attrs["zscore_within_stage"] == 1 and out.attrs["zscore_dim"] == "trial"
    assert out.attrs["prepared"] == ["zscore(dim='trial', within_stage=True)"]
    chained = pop.ng.window_mean((0.0, 0.3)).ng.zscore()
    assert len(chained.attrs["prepared"]) == 2


def test_zscore_sets_silent_units_to_zero_with_a_warning():
    pop = _pop()
    pop[:, :, :, 0] = 3.0
    with pytest.warns(UserWarning, match="zero variance"):
        out = zscore(pop)
    assert np.all(out.values[..., 0] == 0.0)
    assert out.attrs["zscore_zero_variance"] == 2  # one unit at each of 2 stages
    with pytest.raises(ValueError, match="zscore runs over"):
        zscore(pop, dim="unit")


def test_balance_gives_equal_counts_seeded_and_subset_of_the_trials():
    pop = _pop(n_trial=12).ng.select(rt=[0, 1, 2, 3, 4, 5, 8, 9, 10, 11])
    counts = np.bincount(pop.choice.values)
    assert counts.tolist() == [4, 2, 4]
    out = balance(pop, by="choice", seed=1)
    assert np.bincount(out.choice.values).tolist() == [2, 2, 2]
    assert set(out.rt.values) <= set(pop.rt.values)  # trial coords kept (shared stages)
    np.testing.assert_array_equal(  # the data of the drawn trials, paired across stages
        out.values, pop.sel(trial=out.source_trial.values).values
    )
    assert out.attrs["balance_n_points"] == [2, 2] and out.attrs["balance_seed"] == 1
    xr.testing.assert_identical(out, balance(pop, by="choice", seed=1))
    draws = {tuple(balance(pop, by="choice", seed=s).source_trial.values) for s in range(5)}
    assert len(draws) > 1  # the seed decides the draw
    with pytest.raises(ValueError, match=r"n_points=3 exceeds the smallest manifold \(choice=1\)"):
        balance(pop, by="choice", n_points=3)
    with pytest.raises(ValueError, match="unknown trial label"):
        balance(pop, by="colour")


def test_balance_per_stage_draws_among_trials_with_data():
    pop = _pop(n_trial=12).copy()
    pop[1, 0:2] = np.nan  # stage 'after' lost two trials of choice 0
    pop = pop.ng.validate()
    out = balance(pop, by="choice", seed=0)
    assert out.attrs["balance_n_points"] == [2, 2]
    assert out.sizes["trial"] == 6 and np.isfinite(out.values).all()
    uneven = balance(pop, by="choice", across_stages=False)
    assert uneven.attrs["balance_n_points"] == [4, 2]
    assert np.isnan(uneven.values[1]).any() and np.isfinite(uneven.values[0]).all()


def test_balance_rejects_a_label_with_one_trial():
    pop = _pop(n_stage=1, n_trial=6).isel(stage=0).ng.select(rt=[0, 1, 2, 4, 5])
    pop = pop.assign_coords(choice=("trial", [0, 0, 1, 2, 2]))
    with pytest.raises(ValueError, match=r"manifold \(choice=1\) has 1 trial"):
        balance(pop, by="choice")


def test_pseudopopulation_draws_are_seeded_and_independent():
    sessions = [_pop(seed=i).isel(stage=0, drop=True) for i in range(2)]
    a = resample_pseudopopulation(sessions, "choice", draw=0, seed=3)
    b = resample_pseudopopulation(sessions, "choice", draw=0, seed=3)
    c = resample_pseudopopulation(sessions, "choice", draw=1, seed=3)
    xr.testing.assert_identical(a, b)
    assert not np.array_equal(a.values, c.values)
    assert a.sizes["unit"] == 6 and a.attrs["pseudo_draw"] == 0
    assert np.bincount(a.choice.values).tolist() == [4, 4, 4]
    staged = resample_pseudopopulation([_pop(seed=i) for i in range(2)], "choice", n_trials=3)
    assert staged.dims == ("stage", "trial", "time", "unit") and staged.sizes["trial"] == 9
    with pytest.raises(ValueError, match="same stages"):
        resample_pseudopopulation([_pop(), sessions[0]], "choice")
