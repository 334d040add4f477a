# %% [markdown]
# # Manifold geometry: what GLUE capacity, radius, dimension and alignments say
#
# Toy manifolds whose answers are known: points, segments, balls, and points whose centres are
# correlated. For each we run `neurogeom.geometry.glue` (the anchor-point capacity of Chou et al.
# 2025) and read off the measures. Figures go to `$NEUROGEOM_TUTORIAL_OUT` (or a temp folder).

# %%
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

import neurogeom  # importing it registers the .ng accessor
from neurogeom.geometry import glue, simulated_capacity

out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="ng_tut02_"))
out_dir.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)


def balls(n_manifolds, dim, radius, m, n_features=200, center_corr=0.0):
    """Balls (points on their spheres) around random centres with a shared component."""
    shared = rng.standard_normal(n_features)
    x, lab = [], []
    for mu in range(n_manifolds):
        c = np.sqrt(center_corr) * shared + np.sqrt(1 - center_corr) * rng.standard_normal(
            n_features
        )
        u = np.linalg.qr(rng.standard_normal((n_features, max(dim, 1))))[0][:, :dim]
        s = rng.standard_normal((m, dim))
        s /= np.linalg.norm(s, axis=1, keepdims=True)
        if dim == 1:
            s = np.array([[1.0], [-1.0]])  # a segment: its two end points
        x.append(c + radius * np.linalg.norm(c) * (s @ u.T) if dim else c[None])
        lab += [mu] * (m if dim else 1)
    return np.vstack(x), np.array(lab)


# %% [markdown]
# ## Points: capacity 2, whatever the correlation
# Cover's theorem: P points in general position are linearly separable, for half of all
# dichotomies, in P/2 dimensions, so capacity is 2 even when the points share a common component.

# %%
rows = []
for corr in (0.0, 0.5, 0.9):
    x, lab = balls(20, 0, 0.0, 1, center_corr=corr)
    ds = glue(x, lab, n_t=300)
    rows.append(
        {"center correlation": corr, "capacity": float(ds.capacity), "sem": float(ds.capacity_sem)}
    )
points_table = pd.DataFrame(rows)
points_table

# %% [markdown]
# ## Segments and balls: capacity falls with radius and dimension
# Radius is relative to the centre norm. The identity capacity = utility (1 + R^-2) / D holds exactly.

# %%
rows = []
for dim in (1, 2, 4):
    for radius in (0.25, 0.5, 1.0, 2.0):
        x, lab = balls(16, dim, radius, 2 if dim == 1 else 24)  # a segment: its 2 ends
        ds = glue(x, lab, n_t=200)
        rows.append(
            {
                "D": dim,
                "R": radius,
                "capacity": float(ds.capacity),
                "radius": float(ds.radius),
                "dimension": float(ds.dimension),
                "identity": float(ds.utility) * (1 + float(ds.radius) ** -2) / float(ds.dimension),
            }
        )
geometry = pd.DataFrame(rows)
assert np.allclose(geometry["identity"], geometry["capacity"], rtol=1e-8)
fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
sns.lineplot(data=geometry, x="R", y="capacity", hue="D", marker="o", ax=axes[0])
sns.scatterplot(data=geometry, x="radius", y="dimension", hue="D", size="capacity", ax=axes[1])
axes[0].set_xscale("log")
axes[1].set_xlabel("effective radius")
axes[1].set_ylabel("effective dimension")
fig.tight_layout()
fig.savefig(out_dir / "capacity_vs_radius.png", dpi=100)
geometry

# %% [markdown]
# ## Correlated centres: centre alignment rises, capacity of balls falls

# %%
rows = []
for corr in (0.0, 0.4, 0.8):
    x, lab = balls(12, 2, 0.5, 16, center_corr=corr)
    ds = glue(x, lab, n_t=200)
    rows.append(
        {
            "center correlation": corr,
            "capacity": float(ds.capacity),
            "center alignment": float(ds.center_alignment),
            "axis alignment": float(ds.axis_alignment),
            "center-axis alignment": float(ds.center_axis_alignment),
        }
    )
corr_table = pd.DataFrame(rows)
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(corr_table["center correlation"], corr_table["center alignment"], "o-", label="centre")
ax.plot(corr_table["center correlation"], corr_table["axis alignment"], "s-", label="axis")
ax.set_xlabel("planted centre correlation")
ax.set_ylabel("alignment")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "alignments.png", dpi=100)
corr_table

# %% [markdown]
# ## Simulated capacity: the direct count agrees with GLUE

# %%
x, lab = balls(12, 2, 0.5, 8)
sim = simulated_capacity(x, lab, n_dichotomies=41)
g = glue(x, lab, n_t=200)
print(
    f"simulated {float(sim.capacity):.3f} [{float(sim.capacity_low):.3f}, "
    f"{float(sim.capacity_high):.3f}]  GLUE {float(g.capacity):.3f} ± {float(g.capacity_sem):.3f}"
)

# %% [markdown]
# ## From a population tensor: joint manifolds (`within`) or separate analyses (`split`)
# Two contexts, each with three directions. `within="context"` makes the six (direction, context)
# pairs the manifolds of one analysis; `split="context"` asks, separately in each context, how
# separable the three directions are, and returns one Dataset with a `context` dim. Each context
# gets its own child seed of `seed` (the `seed_used` coord), so their Monte-Carlo draws are
# independent.

# %%
x1, lab1 = balls(3, 2, 0.5, 16)
x2, lab2 = balls(3, 2, 1.0, 16)
pop = neurogeom.make_population(
    np.vstack([x1, x2]),
    dims=("trial", "unit"),
    quantity="continuous",
    trial_coords={"direction": np.r_[lab1, lab2], "context": np.repeat(["calm", "busy"], 48)},
)
joint = pop.ng.glue(by="direction", within="context", n_t=200)
split = pop.ng.glue(by="direction", split="context", n_t=200)
print("joint manifolds:", joint.manifold.values.tolist())
print(split[["capacity", "radius", "seed_used"]].to_dataframe())
assert float(split.radius.sel(context="calm")) < float(split.radius.sel(context="busy"))
fig, ax = plt.subplots(figsize=(3.5, 3))
ax.bar(split.context.values, split.capacity.values, yerr=split.capacity_sem.values)
ax.set_ylabel("GLUE capacity of the directions")
fig.tight_layout()
fig.savefig(out_dir / "split_by_context.png", dpi=100)
print("figures in", out_dir)
