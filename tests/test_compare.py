"""Brain vs model: matching conditions, the learning axis, trajectory and representation
comparisons."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom.learning.compare import (
    compare_representations,
    compare_trajectories,
    learning_axis,
    match_conditions,
)
from neurogeom.population import make_population


def _pop(n_stage=4, n_trial=48, n_unit=10, seed=0, label="choice", values=(0, 1, 2, 3)):
    rng = np.random.default_rng(seed)
    cond = np.tile(np.asarray(values), n_trial // len(values))
    codes = np.tile(np.arange(len(values)), n_trial // len(values))
    axes = np.random.default_rng(7).standard_normal((len(values), n_unit))
    data = np.stack([(1 + s) * axes[codes] + rng.standard_normal((n_trial, n_unit))
                     for s in range(n_stage)])  # fmt: skip
    return make_population(
        data, dims=("stage", "trial", "unit"), quantity="rnn_state",
        trial_coords={label: cond}, stage_coords={"step": 100 * np.arange(n_stage),
                                                   "accuracy": np.linspace(0.5, 0.9, n_stage)},
    )  # fmt: skip


def test_match_conditions_renames_and_maps_values():
    brain = _pop(values=("l", "r", "u", "d"))
    model = _pop(label="ground_truth", values=(0, 1, 2, 9))
    b, m = match_conditions(brain, model, by="choice",
                            mapping={"ground_truth": ("choice", {0: "l", 1: "r", 2: "u"})})  # fmt: skip
    assert set(b.choice.values) == set(m.choice.values) == {"l", "r", "u"}
    assert b.sizes["trial"] == m.sizes["trial"] == 36 and b.attrs["matched_by"] == ["choice"]


def test_match_conditions_errors():
    brain, model = _pop(values=("l", "r", "u", "d")), _pop(label="ground_truth")
    with pytest.raises(ValueError, match="share no value of 'choice'"):
        match_conditions(brain, model, by="choice", mapping={"ground_truth": "choice"})
    with pytest.raises(ValueError, match="to unknown label 'decision'"):
        match_conditions(brain, model, by="choice", mapping={"ground_truth": "decision"})
    with pytest.raises(ValueError, match="model label 'target', which the model tensor lacks"):
        match_conditions(brain, model, by="choice", mapping={"target": "choice"})
    with pytest.raises(ValueError, match="the model tensor has no label 'choice'"):
        match_conditions(brain, model, by="choice")


def test_learning_axis_fraction_and_performance():
    pop = _pop(n_stage=3)
    np.testing.assert_allclose(learning_axis(pop).values, [0, 0.5, 1])
    np.testing.assert_allclose(learning_axis(pop, "performance").values, [0, 0.5, 1])
    np.testing.assert_allclose(learning_axis(pop.drop_vars("step")).values, [0, 0.5, 1])
    with pytest.raises(ValueError, match="at least 2 stages"):
        learning_axis(pop.isel(stage=0))
    with pytest.raises(ValueError, match="unknown stage coord 'loss'"):
        learning_axis(pop, coord="loss")


def _traj(values, steps):
    return xr.Dataset({"capacity": ("stage", np.asarray(values, float))},
                      coords={"stage": np.arange(len(values)), "step": ("stage", steps)})  # fmt: skip


def test_trajectory_compared_with_itself_is_perfect_and_a_shuffle_is_not():
    rising = _traj([0.1, 0.2, 0.4, 0.7, 0.9, 1.0], [0, 1, 2, 3, 4, 5])
    twice_as_long = _traj(np.interp(np.linspace(0, 5, 11), np.arange(6), rising.capacity),
                          np.arange(11) * 10)  # fmt: skip
    r = compare_trajectories(rising, twice_as_long, outputs=("capacity",), n_perm=100)
    r = r.sel(output="capacity")
    assert float(r.correlation) == pytest.approx(1.0) and float(r.rms_distance) == pytest.approx(0)
    assert float(r.correlation_p_value) < 0.05
    noise = np.random.default_rng(1).standard_normal(6)
    r = compare_trajectories(rising, _traj(noise, np.arange(6)), outputs=("capacity",))
    r = r.sel(output="capacity")
    assert float(r.correlation_p_value) > 0.05
    with pytest.raises(ValueError, match="no output 'radius' in both trajectories"):
        compare_trajectories(rising, rising, outputs=("radius",))
    per_manifold = rising.assign(radius=(("stage", "manifold"), np.ones((6, 2))))
    with pytest.raises(ValueError, match="over \\('stage',\\) only"):
        compare_trajectories(per_manifold, per_manifold, outputs=("radius",))


def test_representation_compared_with_itself_is_identical():
    pop = _pop()
    r = compare_representations(pop, pop, by="choice")
    np.testing.assert_allclose(r.cka_similarity, 1.0)
    np.testing.assert_allclose(r.rsa_similarity, 1.0)
    np.testing.assert_allclose(r.procrustes_distance, 0.0, atol=1e-6)
    assert r.attrs["cka_similarity_direction"] == "larger_is_more_similar"
    assert r.attrs["procrustes_distance_direction"] == "larger_is_less_similar"
    assert r.stage_b.values.tolist() == r.stage_a.values.tolist()
    full = compare_representations(pop, pop, by="choice", stages="all",
                                   measures=("cka_similarity",))  # fmt: skip
    assert full.cka_similarity.dims == ("stage_a", "stage_b")


def test_label_shuffled_copy_sits_within_the_null():
    pop = _pop(values=tuple(range(8)))
    shuffled = pop.assign_coords(choice=("trial", np.random.default_rng(3).permutation(
        pop.choice.values)))  # fmt: skip
    kw = dict(by="choice", measures=("cka_similarity", "rsa_similarity"), n_perm=50)
    same = compare_representations(pop, pop, **kw)
    assert np.all(same.cka_similarity_p_value < 0.05)
    r = compare_representations(pop, shuffled, **kw)
    inside = (r.rsa_similarity >= r.rsa_similarity_null_low) & (
        r.rsa_similarity <= r.rsa_similarity_null_high)  # fmt: skip
    assert inside.mean() >= 0.75 and np.all(r.rsa_similarity_p_value > 0.01)


def test_representations_with_other_conditions_are_refused():
    with pytest.raises(ValueError, match="different conditions"):
        compare_representations(_pop(), _pop(values=(0, 1, 2, 5)), by="choice")
    with pytest.raises(ValueError, match="not a pair measure"):
        compare_representations(_pop(), _pop(), by="choice", measures=("glue",))


def test_compare_strategy_paths_same_route_and_other_route():
    from neurogeom.learning.compare import compare_strategy_paths

    def traj(r, d):
        return xr.Dataset({"radius": ("stage", r), "dimension": ("stage", d)},
                          coords={"step": ("stage", np.arange(len(r)))})  # fmt: skip

    compress = traj([2.0, 1.5, 1.0, 0.7], [8.0, 8.0, 8.0, 8.0])  # radius falls, dimension holds
    fold = traj([2.0, 2.0, 2.0, 2.0], [8.0, 6.0, 4.0, 3.0])  # dimension falls, radius holds
    same = compare_strategy_paths(compress, compress, n_perm=24)
    assert float(same["mean_distance"]) == pytest.approx(0.0, abs=1e-12)
    assert float(same["area_between"]) == pytest.approx(0.0, abs=1e-12)
    assert float(same["mean_distance_p_value"]) == pytest.approx(1 / 24)  # 4! orderings, identity closest
    other = compare_strategy_paths(compress, fold)
    assert float(other["mean_distance"]) > 0.1
    assert other["radius_part"].sel(path="a") > 0 and other["dimension_part"].sel(path="a") == 0
    assert other["dimension_part"].sel(path="b") > 0 and other["radius_part"].sel(path="b") == 0
    assert abs(float(other["heading_difference_deg"])) == pytest.approx(90.0)
    with pytest.raises(ValueError, match="fewer than 2 stages have a finite"):
        compare_strategy_paths(compress, traj([np.nan, np.nan], [1.0, 2.0]))
