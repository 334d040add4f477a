# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # From an NWB file to a labelled population tensor
#
# neurogeom reads a recording into one object, a *population tensor*: an `xarray.DataArray`
# with dims `(trial, time, unit)`, the trial conditions as coords and the alignment in its attrs.
# Every geometry measure takes this object.
#
# We use the bundled **synthetic** sample session (`neurogeom.data.sample_nwb`): 100 simulated
# units in a context-dependent decision task (motion or colour coherence decides the choice),
# recorded late in learning. Its generative model is described in `data/README.md`.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neurogeom as ng
from neurogeom.data import sample_nwb
from neurogeom.io.nwb import nwb_info

out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp())
path = sample_nwb("late")

# %% [markdown]
# ## What is in the file?
#
# `nwb_info` (the `neurogeom info FILE.nwb` command) lists the units, the trials and their
# columns, and which columns are event times (absolute seconds, or seconds from each trial's
# start as in some DANDI files).

# %%
info = nwb_info(path)
print(info["n_units"], "units,", info["n_trials"], "trials")
for column, examples in info["trial_columns"].items():
    print(f"  {column}: {examples}")
print("events:", info["event_columns"])

# %% [markdown]
# ## Read a tensor aligned to stimulus onset
#
# Spike counts in 50 ms bins from 0.3 s before to 1.1 s after `stimulus_on_time`. The counting
# is one `searchsorted` per unit over all trials' bin edges, so this takes a fraction of a second.

# %%
pop = ng.read_nwb(path, align="stimulus_on_time", window_s=(-0.3, 1.1), bin_size_s=0.05)
print(pop.sizes)
print(pop.attrs["quantity"], pop.attrs["bin_size_s"], pop.attrs["align"])

# %% [markdown]
# The trials table's columns arrived as `trial` coords, so trials can be selected by label:

# %%
print(np.unique(pop["context"].values, return_counts=True))
motion_right = pop.ng.select(context="motion", choice="right")
print("motion-context trials with a right choice:", motion_right.sizes["trial"])

# %% [markdown]
# ## A condition-averaged PSTH
#
# `pop.ng.average` averages the trials of each (context, choice) condition and keeps one row
# per condition. For the 20 units most selective to choice, we plot the mean rate on trials of
# each unit's preferred and non-preferred choice.

# %%
rates = pop / pop.attrs["bin_size_s"]  # counts per bin -> Hz
late = rates.sel(time=slice(0.4, 1.1)).mean("time")
right = late.where(late["choice"] == "right", drop=True).mean("trial")
left = late.where(late["choice"] == "left", drop=True).mean("trial")
selectivity = (right - left).values
top = np.argsort(-np.abs(selectivity))[:20]
prefers_right = selectivity[top] > 0

psth = rates.isel(unit=top).ng.average(dim="trial", by=["context", "choice"])
print(psth.sizes, psth["n_trials"].values)

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5), sharey=True)
for ax, context in zip(axes, ["motion", "color"]):
    cond = psth.where(psth["context"] == context, drop=True)
    r = cond.where(cond["choice"] == "right", drop=True).isel(trial=0).values  # (time, unit)
    lft = cond.where(cond["choice"] == "left", drop=True).isel(trial=0).values
    preferred = np.where(prefers_right, r, lft).mean(axis=1)
    other = np.where(prefers_right, lft, r).mean(axis=1)
    ax.plot(psth["time"], preferred, "-", label="preferred choice")
    ax.plot(psth["time"], other, "--", label="non-preferred choice")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_title(f"{context} context")
    ax.set_xlabel("time from stimulus onset (s)")
axes[0].set_ylabel("mean rate (Hz)")
axes[0].legend(frameon=False)
fig.tight_layout()
figure_path = out_dir / "01_psth.png"
fig.savefig(figure_path, dpi=100)
print("saved", figure_path)

# %% [markdown]
# The two choices split after stimulus onset in both contexts: the choice manifolds the geometry
# engine measures. Save the tensor for later analyses (netCDF, written atomically, with
# provenance):

# %%
saved = ng.save(pop, out_dir / "sample_late.nc")
again = ng.load(saved)
assert again.identical(pop)
print("saved", saved, "with", again.encoding["provenance"])
