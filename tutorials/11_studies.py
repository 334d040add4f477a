# %% [markdown]
# # Studies: many animals, each with its own sessions, units and trials
#
# A learning experiment records several animals over many sessions, and each session sees its
# own neurons and its own trials: there is no one tensor with a shared `unit` dim. A **study**
# keeps every session as it is, in an `xarray.DataTree` `/<subject>/<session>`, and the study
# analyses compute geometry per session, at one number of points per manifold within each
# animal, with intervals at the level the question is asked (animals: a hierarchical bootstrap)
# and tests paired across animals.
#
# We generate a study with a known change of geometry (`neurogeom.synthetic_study`), write it as
# NWB files in the DANDI layout and read it back as a real one would be; then: trajectories per
# animal with the hierarchical interval, the paired test, capacity against the number of points
# per manifold, animals among trained-network cohorts, and a real recording (Golub et al. 2018,
# read from `../shared/data`; that part is skipped with a notice when the file is absent).
#
# **Settings.** `NEUROGEOM_FAST=1` (the tests): 4 animals x 4 sessions, `n_t=30`, 20 bootstrap
# replicates and permutations: well under a minute on 2 cores. Full (unset): 8 animals x 8
# sessions, `n_t=200`, 100 of each (a few minutes). Figures go to `$NEUROGEOM_TUTORIAL_OUT` (or a
# temporary folder).

# %%
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import xarray as xr

import neurogeom as ng
from neurogeom.learning import (
    balance,
    capacity_vs_m,
    compare_cohorts,
    measure_geometry,
    study_geometry,
    study_stage_difference,
    study_trajectory,
    trajectory,
)
from neurogeom.learning.prepare import window_mean
from neurogeom.population import node_tensor
from neurogeom.show import save_figure
from neurogeom.studies import session_nodes

FAST = os.environ.get("NEUROGEOM_FAST") == "1"
N_SUBJECTS, N_SESSIONS, N_T, N_REP = (4, 4, 30, 20) if FAST else (8, 8, 200, 100)
out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="ng_tut11_"))
out_dir.mkdir(parents=True, exist_ok=True)
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
shared = Path(os.environ.get("NEUROGEOM_SHARED_DATA") or here.parent.parent / "shared" / "data")

# %% [markdown]
# ## A study on disk, in the DANDI layout
# `synthetic_study` draws each session's units and trials afresh (40 to 60 units, 15 to 25 trials
# of each of 3 conditions); the separation of the condition centres grows along a sigmoid of the
# fraction of training (`learning_progress`), so capacity should rise, most of it mid-training.
# Each session's (trial, unit) rates become a (trial, time, unit) tensor of two 100 ms bins and
# are written with `write_nwb` to `sub-<id>/sub-<id>_ses-<id>.nwb`, the layout of DANDI archives.

# %%
truth = ng.synthetic_study(
    n_subjects=N_SUBJECTS, n_sessions=N_SESSIONS, change=2.0, onset=0.5, seed=0
)
folder = Path(tempfile.mkdtemp(prefix="ng_study_"))
for node in session_nodes(truth):
    pop = node_tensor(node)
    binned = pop.expand_dims(time=[0.05, 0.15]).transpose("trial", "time", "unit")
    subject, session = node.attrs["subject"].split("-")[1], node.name.split("-")[1]
    path = folder / f"sub-{subject}" / f"sub-{subject}_ses-{session}.nwb"
    path.parent.mkdir(exist_ok=True)
    ng.write_nwb(binned.assign_attrs(bin_size_s=0.1), path, subject={"subject_id": subject})
print(sorted(str(p.relative_to(folder)) for p in folder.rglob("*.nwb"))[:3], "...")

# %% [markdown]
# `study(folder)` finds the files by the layout's pattern and names subjects and sessions from
# the file names; a file is opened only when its session is first needed. Read options (here
# none) are the same for every file.

# %%
tree = ng.study(folder)
print(sorted(tree.children), "->", sorted(tree["0"].children), dict(tree["0/1"].attrs))
assert sorted(tree.children) == [str(i) for i in range(N_SUBJECTS)]
assert all(len(tree[s].children) == N_SESSIONS for s in tree.children)

# %% [markdown]
# ## Trajectories per animal, and the interval across animals
# `study_trajectory` measures GLUE in every session on that session's own units and trials,
# after subsampling every session of an animal to the same number of points per condition `M`
# (capacity grows as manifolds have fewer points). Per animal it gives the Monte-Carlo error and
# a within-session interval; across animals, `capacity_study` (the mean) and a **hierarchical
# bootstrap** interval: animals drawn with replacement, then trials within each drawn animal's
# sessions. The interval is about animals: it is as wide as the animals disagree.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    traj = study_trajectory(
        tree, by="condition", window_s=(0.0, 0.2), n_boot=N_REP, n_t=N_T, seed=0
    )
print(traj.capacity.to_pandas().round(3))
study_mean = traj.capacity_study.values
low, high = traj.capacity_study_ci_low.values, traj.capacity_study_ci_high.values
for k in range(N_SESSIONS):
    print(f"session {k}: capacity {study_mean[k]:.3f} [{low[k]:.3f}, {high[k]:.3f}]")
print("points per manifold M (per animal):", traj.n_points.values.tolist())
assert study_mean[-1] > study_mean[0] and high[0] < low[-1], "the planted rise is found"
progress = np.array([node.attrs["progress"] for node in session_nodes(truth, "sub-0")])
print("correlation of the study mean with the true learning progress:",
      round(float(np.corrcoef(study_mean, progress)[0, 1]), 3))  # fmt: skip

# %%
fig, ax = plt.subplots(figsize=(5, 3.4))
for s in traj.subject.values:
    ax.plot(traj.stage, traj.capacity.sel(subject=s), color="0.7", lw=1)
ax.fill_between(traj.stage, low, high, alpha=0.3, label="hierarchical 95% interval")
ax.plot(traj.stage, study_mean, "o-", label="mean over animals")
ax.set(xlabel="session", ylabel="GLUE capacity", title="capacity along learning")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, out_dir / "11_study_trajectory")

# %% [markdown]
# ## First vs last session, paired across animals
# Each animal is its own control: the test takes each animal's change and asks whether the mean
# change differs from 0 (sign flips of the animals' changes). With 4 animals (the fast setting)
# there are only 2**4 sign patterns, so no p-value can fall below 2/16 = 0.125 however clear the
# change: the number of animals, not of trials, limits what a study can show.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    test = study_stage_difference(
        tree, by="condition", window_s=(0.0, 0.2), n_boot=N_REP, n_perm=N_REP, n_t=N_T
    )
print(f"last - first: {float(test.difference):+.3f} "
      f"[{float(test.difference_ci_low):+.3f}, {float(test.difference_ci_high):+.3f}], "
      f"p = {float(test.p_value):.3f} over {test.sizes['subject']} animals")  # fmt: skip
assert float(test.difference) > 0

# %% [markdown]
# ## Capacity depends on M: measure the trend before comparing numbers
# Anchor points are extreme points of a manifold's sample, so capacity at few points per manifold
# is inflated. Sessions are only comparable at equal `M`, and numbers from studies with different
# `M` need the trend: `capacity_vs_m` measures capacity on a grid of `M` and fits its limit where
# the fit determines it (and says so when it does not).

# %%
last = window_mean(node_tensor(tree["0"][sorted(tree["0"].children)[-1]]), (0.0, 0.2))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    vs_m = capacity_vs_m(last.values, last["condition"].values, n_grid=3 if FAST else 5,
                         n_draws=2 if FAST else 4, n_t=N_T)  # fmt: skip
print(vs_m.capacity.to_pandas().round(3).to_dict(), "trend (log-log slope):",
      round(float(vs_m.trend), 3), "|", vs_m.attrs["reason"])  # fmt: skip
assert float(vs_m.capacity[0]) > float(vs_m.capacity[-1])

# %% [markdown]
# ## Animals among networks
# Trained networks are studies too: networks x checkpoints (here generated with one set of units
# per network, `shared_units=True`). Two configurations learn early or late in training; both
# cohorts go on one grid of the fraction of training (`axis="fraction"`, interpolated), and
# `compare_cohorts` asks where each animal falls among each configuration's networks and which
# configuration is closest (with its bootstrap support over animals).

# %%
grid = dict(axis="fraction", rule="interpolate", n_grid=N_SESSIONS, n_boot=0, n_t=N_T)
networks = []
for name, onset, seed in (("early", 0.5, 1), ("late", 0.9, 2)):
    nets = ng.synthetic_study(n_subjects=3, n_sessions=N_SESSIONS, change=2.0, onset=onset,
                              shared_units=True, subject_prefix=name, seed=seed)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t = study_trajectory(nets, by="condition", **grid)
    networks.append(t.assign_coords(configuration=("subject", [name] * t.sizes["subject"])))
networks = xr.concat(networks, "subject", data_vars="all")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    animals = study_trajectory(tree, by="condition", window_s=(0.0, 0.2), **grid)
cmp = compare_cohorts(animals, networks, ("capacity", "radius"), n_boot=N_REP, n_perm=N_REP)
print(cmp[["distance", "closest_support"]].to_pandas().round(3))
print("closest configuration:", str(cmp.closest.values))
assert str(cmp.closest.values) == "early"  # the animals learn mid-training, as "early" does

# %% [markdown]
# ## A real recording through the study path: Golub et al. 2018
# Tutorial 07 measures monkey J's 86 units before and after learning, on a balanced sample of
# `N_POINTS` points per direction. A tensor with a `stage` dim is a study of one subject (one
# session per stage); `study_geometry` measures each session with its own seed, recorded in
# `seed_used`. On the same points and with that seed, the single-tensor path of tutorial 07
# (`measure_geometry`) gives the same numbers; with tutorial 07's own seeds (`trajectory`), the
# numbers agree within their Monte-Carlo error.

# %%
golub = shared / "golub2018_bci_learning" / "exampleData_monkeyJ_20120305.mat"
if not golub.is_file():
    print(f"Golub 2018 data not found at {golub}: skipping this part (see tutorial 07).")
else:
    from neurogeom.io.arrays import read_golub

    N_T_07, N_POINTS = (30, 10) if FAST else (200, 20)  # tutorial 07's settings
    small = balance(read_golub(golub), by="direction", n_points=N_POINTS, seed=0)
    monkey = ng.study({"J": small})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        geo = study_geometry(monkey, by="direction", n_t=N_T_07)
        ours = trajectory(small, by="direction", n_boot=0, n_perm=0, seed=0, n_t=N_T_07)
    for k, stage in enumerate(geo.session_name.values[0]):
        one = measure_geometry(small.isel(stage=k), by="direction", measures=("glue",),
                               n_t=N_T_07, seed=int(geo.seed_used[0, k]))  # fmt: skip
        for m in ("capacity", "radius", "dimension"):
            a, b = float(geo[m][0, k]), float(one[m])
            assert np.isclose(a, b, rtol=1e-9), (stage, m, a, b)
        a, b = float(geo.capacity[0, k]), float(ours.capacity[k])
        se = np.hypot(float(geo.capacity_sem[0, k]), float(ours.capacity_sem[k]))
        print(f"{stage}: study path {a:.3f}, tutorial 07's trajectory {b:.3f} (+- {se:.3f})")
        assert abs(a - b) < 4 * se
    assert geo.n_points.values.tolist() == [N_POINTS] and geo.n_units.values.tolist() == [[86, 86]]

print("figures in", out_dir)
