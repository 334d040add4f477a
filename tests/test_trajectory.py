"""Trajectories along stage: resampling error, shuffle null, stage-to-stage tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom.learning.trajectories import stage_difference, trajectory
from neurogeom.population import make_population

SEPARATION = (0.0, 1.0, 3.0, 6.0)  # the first stage carries no choice signal


def _pop(n_trial=60, n_unit=8, seps=SEPARATION, seed=0, scale=None):
    rng = np.random.default_rng(seed)  # the noise; the geometry (axes) is the same for all seeds
    choice = np.tile([0, 1, 2], n_trial // 3)
    axes = np.random.default_rng(12345).standard_normal((3, n_unit))
    data = np.stack(
        [s * axes[choice] + rng.standard_normal((n_trial, n_unit)) * (1 if scale is None
         else scale[i]) for i, s in enumerate(seps)]
    )  # fmt: skip
    return make_population(
        data,
        dims=("stage", "trial", "unit"),
        quantity="rnn_state",
        trial_coords={"choice": choice, "context": np.repeat(["a", "b"], n_trial // 2)},
        stage_coords={"step": 10 ** np.arange(len(seps)), "label": [f"s{i}" for i in
                      range(len(seps))]},
    )  # fmt: skip


GLUE = {"n_t": 40}


@pytest.fixture(scope="module")
def traj() -> xr.Dataset:
    with pytest.warns(RuntimeWarning, match="floor"):  # stage 0 has no signal: said once
        return trajectory(_pop(), by="choice", n_boot=6, n_perm=8, seed=0, **GLUE)


def test_layout_has_both_errors_and_the_null(traj):
    assert traj.sizes["stage"] == 4 and traj.step.values.tolist() == [1, 10, 100, 1000]
    for v in ("capacity", "radius", "dimension", "center_alignment", "axis_alignment"):
        for suffix in ("", "_sem", "_resample_se", "_ci_low", "_ci_high", "_null_mean",
                       "_null_low", "_null_high"):  # fmt: skip
            assert f"{v}{suffix}" in traj, f"{v}{suffix}"
    sem, se = traj.capacity_sem.values, traj.capacity_resample_se.values
    assert np.all(sem > 0) and np.all(se > 0) and not np.allclose(sem, se)  # never merged
    for key in ("n_boot", "n_perm", "seed", "confidence", "estimator", "by", "within"):
        assert key in traj.attrs
    assert traj.attrs["estimator"] == "glue" and traj.attrs["n_t"] == 40
    assert traj.attrs["resample"] == "subsample" and traj.attrs["confidence"] == 0.95


def test_capacity_rises_and_leaves_the_null_only_with_signal(traj):
    cap = traj.capacity.values
    assert cap[0] < cap[2] < cap[3]
    low, high = traj.capacity_null_low.values, traj.capacity_null_high.values
    assert low[0] - 2 * traj.capacity_sem[0] <= cap[0] <= high[0] + 2 * traj.capacity_sem[0]
    assert cap[3] > high[3] and cap[2] > high[2]
    assert np.all(traj.capacity_ci_low <= cap) and np.all(cap <= traj.capacity_ci_high)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the floor at stage 0, as in traj
def test_same_seed_same_numbers_and_other_seed_other_numbers(traj):
    again = trajectory(_pop(), by="choice", n_boot=6, n_perm=8, seed=0, **GLUE)
    xr.testing.assert_identical(traj, again)
    other = trajectory(_pop(), by="choice", n_boot=6, n_perm=8, seed=1, **GLUE)
    assert not np.allclose(other.capacity_ci_low, traj.capacity_ci_low)


def test_resampling_error_matches_the_spread_over_independent_datasets():
    """The half-sample standard error of one dataset estimates the spread of the full-data
    estimate over fresh datasets (participation ratio: no Monte-Carlo error)."""
    kw = dict(by="choice", measure="participation_ratio", n_perm=0, n_boot=30)
    fresh = [trajectory(_pop(seed=s), **{**kw, "n_boot": 0}) for s in range(30)]
    spread = np.std([t.participation_ratio.values for t in fresh], axis=0, ddof=1)
    se = trajectory(_pop(seed=99), **kw).participation_ratio_resample_se.values
    assert np.all(se / spread > 0.5) and np.all(se / spread < 2.0), se / spread
    big = trajectory(_pop(seed=99, n_trial=240), **kw).participation_ratio_resample_se.values
    assert np.all(big < se) and np.sum(big) < 0.75 * np.sum(se)  # ~half with 4x the trials


def test_bootstrap_option_and_kept_replicates():
    t = trajectory(_pop(), by="choice", measure="participation_ratio", n_boot=5, n_perm=0,
                   resample="bootstrap", keep_replicates=True)  # fmt: skip
    assert t.participation_ratio_boot.dims == ("replicate", "stage")
    assert t.participation_ratio_boot.sizes["replicate"] == 5
    assert np.all(np.isnan(t.participation_ratio_null_mean))
    assert t.attrs["resample"] == "bootstrap"
    door = _pop().ng.trajectory("choice", "participation_ratio", n_boot=5, n_perm=0,
                                resample="bootstrap", keep_replicates=True)  # fmt: skip
    xr.testing.assert_identical(door, t)


def test_null_keeps_within_groups_and_split_dims_work():
    t = trajectory(_pop(), by="choice", split="context", measure="decoding_accuracy", n_boot=0,
                   n_perm=4, n_splits=3)  # fmt: skip
    assert t.decoding_accuracy.dims == ("stage", "context")
    late, null_high = t.decoding_accuracy.isel(stage=1), t.decoding_accuracy_null_high.isel(stage=1)
    assert np.all(late > null_high) and np.all(t.decoding_accuracy_null_mean < 0.7)


def test_pseudo_population_trajectory():
    pop = _pop(n_unit=8)
    sessions = [pop.isel(unit=slice(0, 4)), pop.isel(unit=slice(4, 8))]
    t = trajectory(None, by="choice", measure="participation_ratio", pseudo=sessions, n_boot=4,
                   n_perm=2)  # fmt: skip
    assert t.attrs["resample"] == "pseudo" and t.sizes["stage"] == 4
    assert np.all(t.participation_ratio_resample_se > 0)
    with pytest.raises(ValueError, match="either pop or pseudo"):
        trajectory(pop, by="choice", pseudo=sessions)


@pytest.mark.parametrize(
    "bad, match",
    [
        (lambda p: p.isel(stage=0), "at least 2 stages; the tensor has no 'stage' dim"),
        (
            lambda p: p.isel(stage=[0]),
            "at least 2 stages; the tensor has a 'stage' dim of length 1",
        ),
    ],
)
def test_trajectory_needs_two_stages(bad, match):
    with pytest.raises(ValueError, match=match):
        trajectory(bad(_pop()), by="choice", measure="participation_ratio")


def test_trajectory_rejects_bad_options():
    pop = _pop()
    with pytest.raises(ValueError, match="resample must be one of"):
        trajectory(pop, by="choice", resample="jackknife")
    with pytest.raises(ValueError, match="fraction must lie in"):
        trajectory(pop, by="choice", fraction=1.0)
    with pytest.raises(
        ValueError, match=r"n_boot must be 0 \(no interval\) or at least 2; got 1\."
    ):
        trajectory(pop, by="choice", n_boot=1)
    with pytest.raises(ValueError, match="unknown output"):
        trajectory(pop, by="choice", measure="participation_ratio", outputs=("capacity",))


# ---- stage-to-stage -----------------------------------------------------------------------------


def test_stage_difference_finds_a_known_change():
    pop = _pop(seps=(1.0, 1.0), scale=(1.0, 3.0))  # noise grows: dimension rises
    r = stage_difference(pop, by="choice", measure="participation_ratio", stages=("s0", "s1"),
                         n_boot=20, n_perm=40)  # fmt: skip
    assert r.difference > 0 and r.p_value < 0.05
    assert r.difference_ci_low > 0 and r.difference_ci_low < r.difference < r.difference_ci_high
    assert r.value.values[1] - r.value.values[0] == pytest.approx(float(r.difference))
    assert r.attrs["test"].startswith("stage permutation")


def test_stage_difference_false_positive_rate_near_alpha():
    """With no change the p-value is about uniform: at alpha 0.2, 30 repeats reject ~6 times."""
    p = [
        float(stage_difference(_pop(seps=(1.0, 1.0), seed=s, n_trial=30), by="choice",
                               measure="participation_ratio", stages=("s0", "s1"), n_boot=0,
                               n_perm=19, seed=s).p_value)
        for s in range(30)
    ]  # fmt: skip
    rejections = sum(pi <= 0.2 for pi in p)
    assert 1 <= rejections <= 12, p


def test_paired_difference_across_subjects():
    same = [_pop(seps=(1.0, 1.0), seed=s, n_trial=30) for s in range(6)]
    grows = [_pop(seps=(1.0, 1.0), scale=(1.0, 2.0), seed=s, n_trial=30) for s in range(6)]
    kw = dict(by="choice", measure="participation_ratio", stages=("s0", "s1"), n_boot=50,
              n_perm=64)  # fmt: skip
    r = stage_difference(grows, **kw)
    assert r.subject_difference.sizes["subject"] == 6 and np.all(r.subject_difference > 0)
    assert r.p_value == pytest.approx(2 / 64) and r.difference_ci_low > 0
    assert stage_difference(same, **kw).p_value > 0.05
    with pytest.raises(ValueError, match="at least 2 subjects"):
        stage_difference(grows[:1], **kw)
    with pytest.raises(ValueError, match="unknown stage 'late'"):
        stage_difference(grows[0], by="choice", stages=("s0", "late"))
