# %% [markdown]
# # Learning stages of a trained network
#
# How does the geometry of a network's decision representation change as it learns, and can the
# change be cut into stages without judging by eye? We take the bundled context-dependent
# decision checkpoints (trained by `neurogeom train tasks/context_dm.toml`, see tutorial 03),
# simulate every checkpoint on one trial bank, measure GLUE capacity and effective geometry of the
# two decision manifolds along training, with both error terms and a chance level, and segment
# that trajectory with `neurogeom.learning.learning_stages`.
#
# **Settings.** `NEUROGEOM_FAST=1` (what the tests use) runs 144 trials, every third checkpoint,
# `n_t=30` probes and 6 resamples / 6 shuffles: well under a minute on 2 cores, with wide error
# bars.
# The full setting (unset) runs the spec's 432 trials, all 24 checkpoints, `n_t=200` and 50 / 50:
# a few minutes. Figures go to `$NEUROGEOM_TUTORIAL_OUT` (or a temporary folder).

# %%
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import xarray as xr

import neurogeom  # registers the .ng accessor
from neurogeom.data import bundled_run
from neurogeom.learning import balance, learning_stages, trajectory
from neurogeom.learning.stages import GLUE_MEASURES
from neurogeom.models.simulate import simulate
from neurogeom.models.train import run_spec
from neurogeom.show import plot_stages_heatmap, plot_trajectory, save_figure
from neurogeom.tasks import build_trial_bank

FAST = os.environ.get("NEUROGEOM_FAST") == "1"
N_TRIALS, EVERY, N_T, N_BOOT, N_NULL = (144, 3, 30, 6, 6) if FAST else (432, 1, 200, 50, 50)
out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="ng_tut04_"))
out_dir.mkdir(parents=True, exist_ok=True)
print(f"setting: {'fast' if FAST else 'full'} ({neurogeom.__name__})")

# %% [markdown]
# ## Simulate the checkpoints, aligned to the decision
# Every checkpoint runs on the same balanced trial bank. We align time to the start of the
# decision period (`align="decision"`), so the decision-period state of every trial is the bin at
# time 0: one point per trial, whatever the trial's delay. The manifolds are the trials of each
# correct answer (`ground_truth`, 1 or 2).

# %%
run = bundled_run("context_dm")
spec = run_spec(run)
bank = build_trial_bank(
    spec["task"]["name"],
    N_TRIALS,
    seed=12345,
    env_kwargs=spec["task"]["kwargs"],
    conditions=spec["analysis"]["conditions"],
)
steps = sorted(int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.safetensors"))
keep = sorted(set(steps[::EVERY]) | {steps[-1]})  # always the last checkpoint
pop = simulate(run, bank=bank, steps=keep, align="decision")
# the seed paper's protocol keeps at most 50 points per label: a seeded draw, the same trials at
# every checkpoint
pop = balance(pop, by="ground_truth", n_points=min(50, N_TRIALS // 2), seed=0)
print(dict(pop.sizes), "steps:", keep)

# %% [markdown]
# ## The trajectory, with both error terms and the null
# `trajectory` computes GLUE at every checkpoint (the seed paper's protocol: decision-period
# states, centred, 50 points per label, one-vs-rest dichotomies) and adds:
#
# * `*_sem`: the Monte-Carlo error of the estimator (how precisely `n_t` probes pinned the number
#   on *these* trials);
# * `*_resample_se`, `*_ci_low/high`: the error over trials (half-samples of each manifold,
#   recentred and rescaled to the full sample: how much the number would change with other
#   trials);
# * `*_null_*`: the chance level, the same measure with the labels shuffled within each checkpoint.
#
# The two errors answer different questions, so they are kept apart.

# %%
glue_options = dict(
    window_s=(0.0, 0.1),  # the decision-period bin
    n_t=N_T,
    center=True,
    dichotomies="one_vs_rest",
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # floor warnings of shuffled replicates
    traj = trajectory(
        pop, by="ground_truth", n_boot=N_BOOT, n_perm=N_NULL, keep_replicates=True, seed=0,
        **glue_options,
    )  # fmt: skip
cap = traj["capacity"]
table = traj[["capacity", "capacity_sem", "capacity_resample_se", "capacity_null_high"]]
print(table.to_dataframe()[list(table.data_vars)].round(3).to_string())

# %% [markdown]
# What the numbers say. Capacity is the number of manifolds per unit that a random dichotomy
# can separate with a linear readout; here two manifolds in 128 units, so values are small
# fractions and only their change and their distance from chance mean anything. We check the two
# facts the rest of the tutorial rests on: at the last checkpoint capacity sits above the upper
# end of the shuffle null, and above its value at initialisation. Note what the table also shows:
# the untrained network already separates the two answers well above chance (its decision state
# carries the stimulus it was given), so training raises capacity from a non-zero start. The
# script prints the gain in units of its combined error (Monte-Carlo and resampling, added in
# variance for this one comparison); at the fast setting that ratio is small and the gain is not
# established by itself; `stage_difference` would be the test, but its stage permutation is not
# valid for checkpoints run on one trial set (see its Notes).

# %%
first, last = cap.isel(stage=0), cap.isel(stage=-1)
err = np.sqrt(
    traj["capacity_sem"][[0, -1]] ** 2 + traj["capacity_resample_se"][[0, -1]] ** 2
).values
gain = float(last - first)
gain_se = float(np.sqrt(np.sum(err**2)))
print(
    f"capacity: step 0 {float(first):.3f}, step {keep[-1]} {float(last):.3f} "
    f"(gain {gain:.3f} +- {gain_se:.3f}, {gain / gain_se:.1f} errors); null upper end at the "
    f"last step "
    f"{float(traj['capacity_null_high'][-1]):.3f}"
)
assert float(last) > float(traj["capacity_null_high"][-1]), "last checkpoint above chance"
assert gain > 0, "capacity at the last checkpoint above its value at initialisation"
assert float(first) > float(traj["capacity_null_high"][0]), "the untrained network is above chance"

# %% [markdown]
# ## Learning stages
# `learning_stages` normalises the six GLUE measures along log training time, divides each by
# its noise level (from the two error terms), and finds change points with `ruptures` (Pelt,
# piecewise-linear segments) under a stated penalty: `c * n_measures * log(n_checkpoints)` with
# `c = 2` (BIC). It names each segment by which measures move beyond 3 standard errors
# (separating: capacity up and dimension down; clustering: radius down; structuring: an
# alignment moves; stabilizing: nothing moves). The names are a convention, stated so it can be
# argued with, not a finding.
#
# Each boundary's uncertainty comes from segmenting the resampled trajectories the same way. The
# half-sample replicates sit at a smaller sample than the full data (capacity grows as manifolds
# have fewer points), so we recentre them on the point estimate and rescale them as
# `trajectory` does for its interval before segmenting them.

# %%
scale = np.sqrt(traj.attrs["fraction"] / (1 - traj.attrs["fraction"]))
replicates = xr.Dataset(
    {
        m: traj[m] + scale * (traj[f"{m}_boot"] - traj[f"{m}_boot"].mean("replicate"))
        for m in GLUE_MEASURES
    }
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # a measure with a NaN stage is left out
    stages = learning_stages(traj, replicates=replicates)
print("segments:", stages["label"].values.tolist())
print("boundaries at steps:", stages["boundary_step"].values.tolist())
print("support over replicates:", np.round(stages["boundary_support"].values, 2).tolist())
sensitivity = dict(
    zip(stages["penalty_scale"].values.tolist(), stages["n_boundaries_at"].values.tolist())
)
print("boundaries at 0.5x, 1x, 2x the penalty:", sensitivity)
print(
    "measures used:", stages.attrs["measures_used"], "left out:", stages.attrs["measures_left_out"]
)
assert sensitivity[0.5] >= sensitivity[1.0] >= sensitivity[2.0], "more penalty, fewer boundaries"
assert stages.sizes["segment"] == len(stages["boundary_step"]) + 1

# %% [markdown]
# How to read it: a boundary says that the course of the measures changes beyond what their
# error bars allow. A boundary that disappears at twice the penalty, or that few replicates
# reproduce (low support), is not established; at the fast setting, with 8 replicates and few
# checkpoints, expect few boundaries and low support. A trajectory whose checkpoints all share
# one trial bank has correlated errors across checkpoints, which makes the rule conservative.

# %%
save_figure(plot_stages_heatmap(stages), out_dir / "04_stages_heatmap")
fig = plot_trajectory(
    {"context-DM network": traj}, measures=("capacity", "radius", "dimension"), stages=stages
)
save_figure(fig, out_dir / "04_trajectory")
print("figures in", out_dir)
