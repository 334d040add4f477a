# %% [markdown]
# # Brain vs model: does the network untangle the task the way the recording does?
#
# The bundled sample recording has an early and a late session of a context-dependent decision
# task (synthetic data, `data/README.md`: 100 units, labels `choice` "left"/"right" and `context`
# "motion"/"color"); the bundled network learned the same kind of task (neurogym's
# `ContextDecisionMaking-v0`: answers `ground_truth` 1/2, `context` 0/1). We put both on shared
# condition labels and a normalised learning axis, and compare them three ways: trajectory vs
# trajectory per measure, representation vs representation per stage (CKA, RSA, shape distance),
# and the route through the (radius, dimension) plane.
#
# **Settings.** `NEUROGEOM_FAST=1` (the tests): 144 model trials, 4 checkpoints, 40 trials per
# condition of each session, `n_t=20`, 4 resamples / 4 shuffles, 24 permutations: about a
# minute on 2 shared cores. Full (unset): 432 trials, 9 checkpoints, 80 trials per condition,
# `n_t=200`, 50 / 50, 200 permutations. Figures go to `$NEUROGEOM_TUTORIAL_OUT`.

# %%
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import xarray as xr

import neurogeom as ng
from neurogeom.data import bundled_run, sample_nwb
from neurogeom.learning import (
    balance,
    compare_representations,
    compare_strategy_paths,
    compare_trajectories,
    learning_axis,
    match_conditions,
    trajectory,
    window_mean,
)
from neurogeom.models.simulate import simulate
from neurogeom.models.train import run_spec
from neurogeom.show import plot_brain_vs_model, plot_strategy_plane, save_figure
from neurogeom.tasks import build_trial_bank

FAST = os.environ.get("NEUROGEOM_FAST") == "1"
if FAST:
    N_MODEL, STEPS, N_COND, N_T, N_BOOT, N_NULL, N_PERM = 144, [0, 8, 64, 400], 40, 20, 4, 4, 24
else:
    N_MODEL, STEPS, N_COND, N_T, N_BOOT, N_NULL, N_PERM = (
        432, [0, 2, 5, 10, 21, 42, 85, 170, 400], 80, 200, 50, 50, 200,
    )  # fmt: skip
out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="ng_tut05_"))
out_dir.mkdir(parents=True, exist_ok=True)
BY = ("choice", "context")

# %% [markdown]
# ## The brain: two sessions as two stages
# Each session is read aligned to stimulus onset and averaged over 0.4-1.1 s (where the choices
# have split, tutorial 01). The two sessions recorded different trials, so to stack them along
# `stage` each is balanced to the same number of trials per (choice, context) condition and its
# trials ordered by condition: trial k then means "the k-th trial of its condition" in both
# sessions, and the two share their labels.


# %%
def session(name: str) -> xr.DataArray:
    pop = ng.read_nwb(sample_nwb(name), align="stimulus_on_time", window_s=(0.0, 1.1),
                      bin_size_s=0.05)  # fmt: skip
    pop = balance(window_mean(pop, (0.4, 1.1)), by=BY, n_points=N_COND, seed=0)
    order = np.lexsort([pop[b].values for b in BY[::-1]])
    pop = pop.isel(trial=order)
    coords = {b: ("trial", pop[b].values) for b in BY}
    return xr.DataArray(pop.values, dims=pop.dims, coords={**coords, "trial": np.arange(
        pop.sizes["trial"]), "unit": pop["unit"].values}, attrs=pop.attrs)  # fmt: skip


brain = xr.concat([session("early"), session("late")], dim="stage")
brain = brain.assign_coords(stage=[0, 1], label=("stage", ["early", "late"]))
print("brain", dict(brain.sizes))

# %% [markdown]
# ## The model: checkpoints on one trial bank, matched to the brain's labels
# The network's decision-period states (time 0 = start of the decision period). Its labels are
# renamed and their values mapped to the brain's: `ground_truth` 1 -> "left", 2 -> "right" (a
# convention: neither task has a true left), `context` 0 -> "motion", 1 -> "color".
# `match_conditions` keeps the trials of the conditions both hold.

# %%
run = bundled_run("context_dm")
spec = run_spec(run)
bank = build_trial_bank(spec["task"]["name"], N_MODEL, seed=12345,
                        env_kwargs=spec["task"]["kwargs"],
                        conditions=spec["analysis"]["conditions"])  # fmt: skip
model = window_mean(simulate(run, bank=bank, steps=STEPS, align="decision"), (0.0, 0.1))
mapping = {
    "ground_truth": ("choice", {1: "left", 2: "right"}),
    "context": ("context", {0: "motion", 1: "color"}),
}
brain, model = match_conditions(brain, model, by=BY, mapping=mapping)
print("model", dict(model.sizes), "conditions:", sorted(set(zip(*(model[b].values for b in BY)))))
print("learning axis, brain:", learning_axis(brain).values, "model:",
      np.round(learning_axis(model).values, 3))  # fmt: skip

# %% [markdown]
# ## Trajectories: the choice manifolds' geometry along learning
# GLUE on the two choice manifolds (within each context: the `within=` labels keep the nesting
# in the shuffle null), centred, with both error terms and the null (tutorial 04 explains them).

# %%
opts = dict(by="choice", within="context", n_boot=N_BOOT, n_perm=N_NULL, n_t=N_T, center=True,
            dichotomies="one_vs_rest", seed=0)  # fmt: skip
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # floor warnings of shuffled replicates
    traj_brain = trajectory(brain, **opts)
    traj_model = trajectory(model, **opts)
for name, t in (("brain", traj_brain), ("model", traj_model)):
    cols = ["capacity", "capacity_sem", "capacity_resample_se", "capacity_null_high", "radius",
            "dimension"]  # fmt: skip
    print(name, "\n", t[cols].to_dataframe()[cols].round(3).to_string())
brain_gain = float(traj_brain["capacity"][1] - traj_brain["capacity"][0])
model_gain = float(traj_model["capacity"][-1] - traj_model["capacity"][0])
print(f"capacity change: brain early->late {brain_gain:+.3f}, model first->last {model_gain:+.3f}")
assert brain_gain > 0, "the late session's choice manifolds have the larger capacity"
assert float(traj_brain["capacity"][1]) > float(traj_brain["capacity_null_high"][1])

# %% [markdown]
# ## Trajectory vs trajectory
# On the common learning axis (fraction of sessions / of training steps), per measure: the
# correlation of the two curves and their RMS distance, each against a null that shuffles the
# model's stage order. With two brain stages the brain's curve is a straight line, so the
# correlation says only whether the model moves the same way on average; the distance is in the
# measure's units (capacity of 100 recorded units vs 128 model units: compare shapes, not levels).
# First the sanity check: a trajectory against itself correlates perfectly at distance 0.

# %%
self_traj = compare_trajectories(traj_model, traj_model, n_perm=N_PERM)
assert np.allclose(self_traj["correlation"], 1.0) and np.allclose(self_traj["rms_distance"], 0.0)
traj_cmp = compare_trajectories(traj_brain, traj_model, n_perm=N_PERM)
print(traj_cmp[["correlation", "correlation_p_value", "rms_distance", "rms_distance_p_value"]]
      .to_dataframe().round(3).to_string())  # fmt: skip

# %% [markdown]
# ## Representation vs representation, stage by stage
# Condition averages (4 conditions x units) of each brain session against the model checkpoint
# nearest on the learning axis: linear CKA and RSA (1 = identical, larger = more similar) and the
# Procrustes shape distance (0 = identical, larger = less similar). The null permutes the model's
# condition order. Sanity: the brain against itself gives CKA 1 and distance 0, and against a
# copy with its trial labels shuffled (its condition averages then carry no condition
# structure) CKA does not beat its null.

# %%
itself = compare_representations(brain, brain, BY)
assert np.allclose(itself["cka_similarity"], 1.0) and np.allclose(itself["rsa_similarity"], 1.0)
assert np.allclose(itself["procrustes_distance"], 0.0, atol=1e-6)
rng = np.random.default_rng(0)
shuffled = brain.copy()
for b in BY:
    shuffled = shuffled.assign_coords({b: ("trial", rng.permutation(brain[b].values))})
vs_shuffled = compare_representations(brain, shuffled, BY, n_perm=N_PERM)
print("CKA vs label-shuffled copy:", np.round(vs_shuffled["cka_similarity"].values, 3),
      "p:", np.round(vs_shuffled["cka_similarity_p_value"].values, 3))  # fmt: skip
assert np.all(vs_shuffled["cka_similarity_p_value"] > 0.05), "a label-shuffled copy sits within the null"

rep = compare_representations(brain, model, BY, n_perm=N_PERM)
print(rep.to_dataframe().round(3).to_string())
for m in ("cka_similarity", "rsa_similarity", "procrustes_distance"):
    print(f"  {m}: {rep.attrs[f'{m}_direction']}")

# %% [markdown]
# ## The strategy plane
# Each trajectory is a route through (radius, dimension); capacity's contours `(1 + R^-2) / D`
# run across the plane. `compare_strategy_paths` splits each route's capacity change into a
# radius part and a dimension part and measures how far apart the two routes run (mean distance
# at equal fractions of their length, in log10 units, against a null that reorders the model's
# checkpoints).

# %%
routes = compare_strategy_paths(traj_brain, traj_model, n_perm=N_PERM)
print(routes[["radius_part", "dimension_part", "net_heading_deg"]].to_dataframe().round(3))
print(f"mean distance {float(routes['mean_distance']):.3f} (p {float(routes['mean_distance_p_value']):.3f}),"
      f" heading difference {float(routes['heading_difference_deg']):.0f} deg")  # fmt: skip
assert float(compare_strategy_paths(traj_model, traj_model)["mean_distance"]) < 1e-12

# %% [markdown]
# What it means and what it does not: the numbers above compare *shapes* of change (which way
# capacity, radius and dimension move, and which conditions resemble each other) between a
# synthetic recording and one small network; two sessions make a brain trajectory of two points,
# so any agreement in its course is weak evidence. A model that matches on one comparison and not
# another (e.g. similar condition geometry, different route) is the informative case.

# %%
similarity = rep.rename(stage_a="stage")
fig = plot_brain_vs_model({"brain": traj_brain, "model": traj_model}, similarity=similarity,
                          similarity_name="cka_similarity")  # fmt: skip
save_figure(fig, out_dir / "05_brain_vs_model")
save_figure(plot_strategy_plane({"brain": traj_brain, "model": traj_model}),
            out_dir / "05_strategy_plane")  # fmt: skip
print("figures in", out_dir)
