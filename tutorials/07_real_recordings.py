# requires: shared-data
# %% [markdown]
# # Real recordings: before vs after learning, the capacity floor, and the NWB path
#
# Two small public datasets kept beside the repository in `../shared/data` (not part of the
# package; `/work/shared/data/README.md` names their sources and licences; the tests skip this
# tutorial when they are absent):
#
# * Golub et al. 2018 (Nat Neurosci 21:607), monkey J: 86 motor-cortex units during a
#   brain-computer-interface task, before and after learning a perturbed mapping, 8 target
#   directions x 69 time samples each;
# * DANDI:000006 (Economo et al. 2018, Nature; CC-BY-4.0): two sessions of mouse ALM in a
#   delayed-response licking task, read through the NWB path.
#
# **Settings.** `NEUROGEOM_FAST=1` (the tests): `n_t=30`, 10 points per direction, 10 resamples,
# shuffles and permutations: well under a minute on 2 cores. Full (unset): `n_t=200`, 20 points
# per direction, 100 of each (several minutes: capacity near the floor is slow to solve).
# Numbers quoted below are printed by the script; the facts the text relies on are asserted.

# %%
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import neurogeom as ng
from neurogeom.io.arrays import read_golub
from neurogeom.io.nwb import nwb_info
from neurogeom.learning import balance, measure_geometry, stage_difference, trajectory
from neurogeom.show import plot_trajectory, reading, save_figure

FAST = os.environ.get("NEUROGEOM_FAST") == "1"
N_T, N_POINTS, N_REP = (30, 10, 10) if FAST else (200, 20, 100)
out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="ng_tut07_"))
out_dir.mkdir(parents=True, exist_ok=True)
here = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
shared = Path(os.environ.get("NEUROGEOM_SHARED_DATA") or here.parent.parent / "shared" / "data")
if not shared.is_dir():
    raise SystemExit(f"this tutorial needs the real recordings at {shared}; see its header.")

# %% [markdown]
# ## Golub 2018: the tensor
# `read_golub` gives (stage, trial, unit): stage `before` / `after`, and every time sample of a
# direction's "cloud" as one point labelled by the cursor-to-target `direction`. So each stage
# holds 8 manifolds (one per direction) of 69 points in 86 units: the same units before and after.

# %%
pop = read_golub(shared / "golub2018_bci_learning" / "exampleData_monkeyJ_20120305.mat")
print(dict(pop.sizes), "directions:", np.unique(pop["direction"].values).tolist())
n_dir, n_unit = len(np.unique(pop["direction"].values)), pop.sizes["unit"]

# %% [markdown]
# ## At the full sample count: every stage at the floor
# With 69 points per direction, 8 x 69 = 552 points in 86 units, and noisy single-timestep spike
# counts, a random split of the 8 directions is almost never linearly separable. GLUE then
# returns the floor value P / rank (8 / 86, the capacity of manifolds that fill the space), sets
# `at_floor`, leaves radius, dimension and the alignments NaN (they would describe nothing), and
# says so once in a warning. This is the diagnostic doing its job: the number is not "capacity
# did not change", it is "this sample size cannot tell".

# %%
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    full = measure_geometry(pop, by="direction", measures=("glue",), over=("stage",), n_t=N_T)
floor = n_dir / n_unit
floor_warnings = [str(w.message) for w in caught if "floor" in str(w.message)]
print(full[["capacity", "capacity_sem", "radius", "dimension"]].to_dataframe().round(4))
print(f"floor P/rank = {floor:.4f}; at_floor = {full.attrs['at_floor']}")
print(floor_warnings[0][:300])
assert full.attrs["at_floor"] == 1 and floor_warnings
assert np.all(np.abs(full["capacity"].values - floor) < 0.02)
assert np.all(np.isnan(full["radius"].values)) and np.all(np.isnan(full["dimension"].values))

# %% [markdown]
# ## A smaller, balanced sample
# The warning's first suggestion is fewer points per manifold. `balance` draws the same
# `N_POINTS` samples of every direction (seeded; the same draw at both stages), so the two
# stages are compared at equal sample size (capacity grows as manifolds have fewer points, so
# only equal sizes are comparable). Capacity, radius and dimension are now defined.
#
# The trajectory over the two stages carries both error terms: the Monte-Carlo error of the
# estimator (`*_sem`) and the error over samples (half-samples of each direction, rescaled,
# `*_resample_se` and the interval), plus the chance level with the direction labels shuffled
# within each stage (`*_null_*`).

# %%
small = balance(pop, by="direction", n_points=N_POINTS, seed=0)
glue_options = dict(n_t=N_T)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # floor warnings of shuffled replicates
    traj = trajectory(small, by="direction", n_boot=N_REP, n_perm=N_REP, seed=0, **glue_options)
cols = [f"{m}{s}" for m in ("capacity", "radius", "dimension")
        for s in ("", "_sem", "_resample_se", "_null_mean", "_null_high")]  # fmt: skip
print(traj[cols].to_dataframe()[cols].round(3).T.to_string())
assert np.all(np.isfinite(traj["radius"])) and np.all(np.isfinite(traj["dimension"]))
share = (traj["capacity_null_mean"] / traj["capacity"]).values
print("shuffle-null mean as a share of capacity:", np.round(share, 2).tolist(),
      "; above the null's upper end:", (traj["capacity"] > traj["capacity_null_high"]).values.tolist())  # fmt: skip
if FAST:  # measured at 10 points per direction (80 points in 86 units)
    assert np.all(share > 0.8), "at this sample size most of the capacity is the sample size's"

# %% [markdown]
# Look at the null before reading the numbers. At 10 points per direction (80 points in 86
# units, the fast setting) almost any split of the points is separable, so capacity is high
# whatever the labels: the shuffled-label null reaches most of the measured value (the printed
# share), and the direction structure adds only the rest. A sample small enough to leave the
# floor can be so small that it measures its own size; the null is what tells the two apart.
# More points per direction (the full setting's 20) move away from that regime and towards the
# floor again: the window between the two is narrow for 86 units and 8 directions.
#
# ## Before vs after: the stage test
# `stage_difference` computes after minus before with a half-sample interval and a permutation
# p-value that reassigns each direction's samples between the two stages at random. That null
# needs the two stages' samples to be exchangeable: here they are different time samples of the
# same 86 units, which fits, though successive time samples are not independent, so the p-value
# is somewhat optimistic.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)
    tests = {
        m: stage_difference(
            small,
            by="direction",
            measure_output=m,
            n_boot=N_REP,
            n_perm=N_REP,
            seed=0,
            **glue_options,
        )  # fmt: skip
        for m in ("capacity", "radius", "dimension")
    }
for m, t in tests.items():
    print(
        f"{m}: {float(t['value'][0]):.3f} -> {float(t['value'][1]):.3f}, change "
        f"{float(t['difference']):+.3f} (95% CI {float(t['difference_ci_low']):+.3f} to "
        f"{float(t['difference_ci_high']):+.3f}), permutation p = {float(t['p_value']):.3f}"
    )
print(reading(tests["capacity"]))
for m, t in tests.items():  # the test's point estimate is the trajectory's
    assert np.isclose(float(t["difference"]), float(traj[m][1] - traj[m][0]))
    assert float(t["difference_ci_low"]) <= float(t["difference"]) <= float(t["difference_ci_high"])

# %% [markdown]
# How to read it: Golub et al. found that learning here works by *reassociation*: the same
# repertoire of population patterns is reassigned to new directions. A reassignment need not
# change how separable the directions are, so a small or uncertain capacity change is what one
# would expect, not a failure. The change is measured at one sample size (`N_POINTS` per
# direction); at the full count both stages sit at the floor and nothing can be said.

# %%
fig = plot_trajectory({"monkey J": traj}, step_label="stage (0 = before, 1 = after learning)")
save_figure(fig, out_dir / "07_golub_before_after")

# %% [markdown]
# ## DANDI:000006 through the NWB path
# `read_nwb` reads an old-schema (2.0.2) NWB file: its trials table has NaN stop times, string
# condition columns and event times relative to each trial's start (detected, `event_times`).
# Let us look at what the files hold first.

# %%
files = sorted((shared / "dandi000006_alm_nwb").glob("*.nwb"))
for f in files:
    info = nwb_info(f)
    print(f.name, info["n_units"], "unit(s),", info["n_trials"], "trials; events:",
          {k: v for k, v in info["event_columns"].items()})  # fmt: skip
    assert info["n_units"] == 1

# %% [markdown]
# One unit per session: a single session is not a population, and capacity of manifolds in one
# dimension says little. The honest analysis pools the two sessions' units into a
# pseudo-population (the unit recorded in session A and the one recorded in session B, as if
# recorded together): for each trial type (`lick left` / `lick right`) trials are drawn so both
# sessions contribute the same number, and trial k of a type pairs the k-th draw of each
# session. That assumes the units' trial-to-trial noise is independent, which the pairing
# imposes whether it is true or not.
#
# Aligned to the go cue (`cue_start_time`), 100 ms bins; the delay period (1 s before the cue) is
# where ALM holds the upcoming lick direction.

# %%
alm = ng.read_nwb(files, align="cue_start_time", window_s=(-1.0, 1.0), bin_size_s=0.1,
                  pool_by="type", seed=0)  # fmt: skip
print(dict(alm.sizes), alm["unit"].values.tolist())
types, counts = np.unique(alm["type"].values, return_counts=True)
print(dict(zip(types.tolist(), counts.tolist())))
assert alm.sizes["unit"] == 2 and counts[0] == counts[1]

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    delay = alm.ng.glue(by="type", window_s=(-1.0, 0.0), n_t=N_T, seed=0)
print({v: round(float(delay[v]), 3) for v in ("capacity", "capacity_sem", "radius", "dimension")})
print(f"at_floor = {delay.attrs['at_floor']} (floor P/rank = 2/2 = 1)")
print(reading(delay))
if delay.attrs["at_floor"]:
    assert np.isnan(float(delay["radius"].mean()))

# %% [markdown]
# Reading: two manifolds of about 85 delay-period spike counts in a 2-unit space. Whether they
# separate is a question about these two cells' tuning against their trial-to-trial noise; the
# printed reading says which. Either way it is a check that the NWB path delivers a valid
# tensor from an old DANDI file, not a population-geometry finding: that needs tens of units.
# The mean rates per trial type show what the two cells carry.

# %%
rates = alm.sel(time=slice(-1.0, 0.0)).mean("time") / alm.attrs["bin_size_s"]
fig, ax = plt.subplots(figsize=(4.5, 3.2))
for t in types:
    r = rates.where(rates["type"] == t, drop=True)
    mean, se = r.mean("trial"), r.std("trial") / np.sqrt(r.sizes["trial"])
    ax.errorbar(np.arange(2), mean, yerr=2 * se, fmt="o-", capsize=3, label=str(t))
ax.set_xticks([0, 1], [str(u).split("/")[0].replace("sub-", "") for u in alm["unit"].values],
              fontsize=7)  # fmt: skip
ax.set(xlabel="unit (session)", ylabel="delay-period rate (Hz), mean ± 2 s.e.")
ax.legend(fontsize=8)
fig.tight_layout()
save_figure(fig, out_dir / "07_alm_delay_rates")
print("figures in", out_dir)
