"""Learning stages: known change points recovered, none on flat noise, labels by the stated rule."""

from __future__ import annotations

import doctest
import json

import numpy as np
import pytest
import xarray as xr

from neurogeom.learning import stages
from neurogeom.learning.stages import GLUE_MEASURES, learning_stages, log_time

SD = 0.02  # noise of every measure, in its own units


def log_steps(n: int) -> np.ndarray:
    """n distinct checkpoint steps, 0 then log-spaced (as the seed paper's get_steps)."""
    steps = [0]
    x = 1.0
    while len(steps) < n:
        if round(x) > steps[-1]:
            steps.append(round(x))
        x *= 1.35
    return np.array(steps)


def trajectory(curves: dict[str, np.ndarray], rng, sd: float = SD) -> xr.Dataset:
    """A trajectory Dataset: each curve plus Gaussian noise whose error bars say the noise."""
    n = len(next(iter(curves.values())))
    data = {}
    for m, curve in curves.items():
        data[m] = ("stage", curve + sd * rng.normal(size=n))
        data[f"{m}_sem"] = ("stage", np.full(n, sd * 0.6))
        data[f"{m}_resample_se"] = ("stage", np.full(n, sd * 0.8))
        data[f"{m}_ci_low"] = ("stage", data[m][1] - 2 * sd)
        data[f"{m}_ci_high"] = ("stage", data[m][1] + 2 * sd)
    step = log_steps(n)
    return xr.Dataset(
        data,
        coords={"stage": np.arange(n), "step": ("stage", step)},
        attrs={"n_boot": 50, "n_perm": 0, "seed": 0, "confidence": 0.95, "estimator": "glue"},
    )


def ramp(t: np.ndarray, start: int, stop: int, a: float, b: float) -> np.ndarray:
    """a before t[start], b after t[stop - 1], linear in t between."""
    return np.interp(t, [t[start], t[stop - 1]], [a, b])


def three_stage_curves(n: int = 24, b1: int = 8, b2: int = 16) -> dict[str, np.ndarray]:
    """Radius falls in [0, b1), capacity rises and dimension falls in [b1, b2), then flat."""
    t = log_time(log_steps(n))
    return {
        "capacity": ramp(t, b1 - 1, b2, 0.2, 0.6),
        "radius": ramp(t, 0, b1, 1.5, 0.8),
        "dimension": ramp(t, b1 - 1, b2, 12.0, 6.0),
        "center_alignment": np.full(n, 0.5),
        "axis_alignment": np.full(n, 0.3),
        "center_axis_alignment": np.full(n, 0.2),
    }


def test_doctests_run():
    assert doctest.testmod(stages).failed == 0


@pytest.mark.parametrize("seed", range(5))
def test_known_change_points_recovered_within_one_checkpoint(seed):
    rng = np.random.default_rng(seed)
    res = learning_stages(trajectory(three_stage_curves(), rng))
    found = res["boundary_stage"].values
    assert len(found) == 2, found
    assert abs(found[0] - 8) <= 1 and abs(found[1] - 16) <= 1, found
    assert res["label"].values.tolist() == ["clustering", "separating", "stabilizing"]
    assert res.attrs["penalty"] == pytest.approx(2.0 * 6 * np.log(24))
    # the fitted per-measure changes (normalised units): radius falls by most of its range first
    assert -1.1 < float(res["change"].sel(segment=0, measure="radius")) < -0.6
    assert int(res["moves"].sel(segment=1, measure="capacity")) == 1


def test_flat_noisy_trajectory_gives_no_change_point():
    """No false boundary over 30 seeded flat trajectories of 15 to 40 checkpoints; the one segment
    is "stabilizing" but where a measure passes |z| > 3 by chance (1.6% per draw expected)."""
    rng = np.random.default_rng(11)
    n_found, labels = [], []
    for n in (15, 25, 40):
        for _ in range(10):
            flat = {m: np.ones(n) for m in GLUE_MEASURES}
            res = learning_stages(trajectory(flat, rng))
            n_found.append(res.sizes["boundary"])
            labels.extend(res["label"].values.tolist())
    assert sum(n_found) == 0, n_found
    assert labels.count("stabilizing") >= 27, labels


def test_penalty_sensitivity_is_reported():
    rng = np.random.default_rng(3)
    res = learning_stages(trajectory(three_stage_curves(), rng))
    assert res["penalty_scale"].values.tolist() == [0.5, 1.0, 2.0]
    n_at = res["n_boundaries_at"].values
    assert n_at[1] == 2 and n_at[0] >= n_at[1] >= n_at[2]
    assert "BIC" in res.attrs["penalty_rule"]
    given = learning_stages(trajectory(three_stage_curves(), rng), penalty=1e6)
    assert given.sizes["boundary"] == 0 and given.attrs["penalty_rule"] == "given"


def test_boundary_uncertainty_from_replicates():
    rng = np.random.default_rng(4)
    curves = three_stage_curves()
    main = trajectory(curves, rng)
    reps = xr.concat([trajectory(curves, rng) for _ in range(12)], dim="replicate")
    res = learning_stages(main, replicates=reps)
    assert res.attrs["n_replicates"] == 12
    assert np.all(res["boundary_support"].values >= 0.75)
    assert np.all(res["boundary_sd"].values <= 1.0)
    assert np.all(res["boundary_low"].values <= res["boundary_stage"].values + 1)
    assert np.all(np.isnan(learning_stages(main)["boundary_sd"].values))


def test_structuring_label_and_unsorted_stages():
    rng = np.random.default_rng(5)
    n = 20
    t = log_time(log_steps(n))
    curves = {m: np.ones(n) for m in GLUE_MEASURES}
    curves["center_alignment"] = ramp(t, 9, n, 0.2, 0.8)
    traj = trajectory(curves, rng)
    shuffled = traj.isel(stage=rng.permutation(n))
    res = learning_stages(shuffled)
    assert res["label"].values.tolist() == ["stabilizing", "structuring"]
    assert abs(int(res["boundary_stage"][0]) - 10) <= 1
    np.testing.assert_array_equal(res["step"].values, np.sort(traj["step"].values))


def test_nan_measure_is_left_out_with_a_warning():
    rng = np.random.default_rng(6)
    traj = trajectory(three_stage_curves(), rng)
    traj["axis_alignment"][:3] = np.nan
    with pytest.warns(RuntimeWarning, match="leaves out \\['axis_alignment'\\]"):
        res = learning_stages(traj)
    assert res.attrs["measures_left_out"] == ["axis_alignment"]
    assert res.sizes["boundary"] == 2


def test_bad_inputs():
    rng = np.random.default_rng(0)
    traj = trajectory(three_stage_curves(), rng)
    with pytest.raises(ValueError, match="at least 3 stages; got 2"):
        learning_stages(traj.isel(stage=[0, 1]))
    with pytest.raises(ValueError, match="lacks the measures \\['utility'\\]"):
        learning_stages(traj, measures=["capacity", "utility"])
    with pytest.raises(ValueError, match="needs a 'stage' dim"):
        learning_stages(traj.rename(stage="session"))
    with pytest.raises(ValueError, match="error bars"):
        learning_stages(traj[["capacity", "radius"]], measures=["capacity", "radius"])
    with pytest.raises(ValueError, match="'replicate' dim"):
        learning_stages(traj, replicates=traj)
    with pytest.raises(ValueError, match="choose one with time_window"):
        learning_stages(xr.concat([traj, traj], dim="time_window"))
    with pytest.raises(ValueError, match="repeated values"):
        learning_stages(traj.assign_coords(step=("stage", np.zeros(24, int))))
    with pytest.raises(TypeError, match="trajectory xarray.Dataset"):
        learning_stages(traj["capacity"])


def four_stage_curves(n: int = 40, bounds=(10, 20, 30)) -> dict[str, np.ndarray]:
    """The seed paper's four stages, each with the signature of the stated rule: radius falls
    (clustering), the centre alignment rises (structuring), capacity rises while dimension falls
    (separating), then nothing moves (stabilizing)."""
    t = log_time(log_steps(n))
    b1, b2, b3 = bounds
    return {
        "capacity": ramp(t, b2 - 1, b3, 0.2, 0.6),
        "radius": ramp(t, 0, b1, 1.5, 0.8),
        "dimension": ramp(t, b2 - 1, b3, 12.0, 6.0),
        "center_alignment": ramp(t, b1 - 1, b2, 0.2, 0.6),
        "axis_alignment": np.full(n, 0.3),
        "center_axis_alignment": np.full(n, 0.2),
    }


@pytest.mark.parametrize("seed", range(5))
def test_four_planted_stages_recovered_with_their_names(seed):
    rng = np.random.default_rng(seed)
    res = learning_stages(trajectory(four_stage_curves(), rng))
    found = res["boundary_stage"].values
    assert len(found) == 3, found
    kinks = np.array([9, 19, 29])  # each ramp turns at checkpoint b - 1
    assert np.all(np.abs(found - kinks) <= 1), found
    assert res["label"].values.tolist() == [
        "clustering",
        "structuring",
        "separating",
        "stabilizing",
    ]
    assert res["label_source"].values.tolist() == ["within"] * 4
    # every boundary says why it stands, and the change it names is the planted one
    reasons = res["boundary_reason"].values.tolist()
    assert "slope of radius" in reasons[0], reasons  # its fall stops
    assert all("slope of" in r for r in reasons), reasons
    assert all(g > res.attrs["penalty"] for g in res["boundary_gain"].values)


def test_adjacent_segments_share_a_name_only_with_a_reason():
    """A level step with nothing moving inside either segment: the second segment is named by
    the jump into it, so the two names differ."""
    rng = np.random.default_rng(0)
    n = 24
    step = np.r_[np.zeros(12), np.ones(12)]
    curves = {
        "capacity": 0.2 + 0.4 * step,
        "radius": np.full(n, 1.0),
        "dimension": 12.0 - 6.0 * step,
        "center_alignment": np.full(n, 0.5),
        "axis_alignment": np.full(n, 0.3),
        "center_axis_alignment": np.full(n, 0.2),
    }
    res = learning_stages(trajectory(curves, rng))
    assert res["boundary_stage"].values.tolist() == [12]
    assert res["label"].values.tolist() == ["stabilizing", "separating"]
    assert res["label_source"].values.tolist() == ["within", "jump"]
    assert "the level of" in str(res["boundary_reason"].values[0])
    assert float(res["jump_z"].sel(boundary=0, measure="capacity")) > 3


def test_planted_stages_across_seeds_consensus_and_naming_rule():
    """Two groups of six networks (seeds 0-5), each with the four planted stages and its own
    noise: a consensus boundary at each kink supported by most seeds, and a naming rule fitted
    on the even seeds from the order of the stages that names the odd seeds' stages as their
    order does."""
    from neurogeom.learning._seed_stages import stages_across_seeds

    curves = four_stage_curves()
    measures = list(curves)
    groups = []
    for g in range(2):
        seeds = []
        for s in range(6):
            traj = trajectory(curves, np.random.default_rng(100 * g + s))
            traj = traj[[*measures, *(f"{m}_sem" for m in measures)]]
            seeds.append(traj.swap_dims(stage="step").drop_vars("stage"))
        groups.append(xr.concat(seeds, dim="seed").assign_coords(seed=range(6)))
    cube = xr.concat(groups, dim="rank").assign_coords(rank=[1, 300])
    res = stages_across_seeds(cube, measures)
    steps = cube["step"].values.tolist()
    rule = json.loads(res.attrs["naming_rule"])
    assert rule["radius-"] == "clustering" and rule["center_alignment+"] == "structuring"
    assert rule["none"] == "stabilizing"
    assert res.attrs["naming_agreement"] == 1.0
    for r in (1, 300):
        s = res.sel(rank=r)
        found = [steps.index(int(b)) for b in s["consensus_boundary_step"].values if b == b]
        assert len(found) == 3 and np.all(np.abs(np.array(found) - [9, 19, 29]) <= 1), found
        assert np.all(s["consensus_support"].values[:3] >= 5 / 6)
        names = [str(n) for n in s["stage_name"].values if str(n)]
        assert names == ["clustering", "structuring", "separating", "stabilizing"]
        assert int(s["n_adjacent_same_name"]) == 0
