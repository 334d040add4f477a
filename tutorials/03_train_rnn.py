# %% [markdown]
# # Training a network on context-dependent decisions
#
# A recurrent network learns neurogym's `ContextDecisionMaking-v0` (Mante et al. 2013): two noisy
# stimulus modalities, a context cue saying which one counts. We load the bundled checkpoints
# (trained with `neurogeom train tasks/context_dm.toml -o data/context_dm_checkpoints`, ~6 s),
# check the network against an ideal observer, plot psychometric curves per context, and simulate
# every checkpoint into a population tensor.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from neurogeom.data import bundled_run
from neurogeom.models.simulate import simulate
from neurogeom.models.train import load_run_network, predict_choices, run_spec
from neurogeom.tasks import build_trial_bank, ideal_observer

out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp())
out_dir.mkdir(parents=True, exist_ok=True)
run = bundled_run("context_dm")  # trained by `neurogeom train tasks/context_dm.toml`
spec = run_spec(run)

# %% [markdown]
# ## Learning curve
# `metrics.csv` sits beside the checkpoints: held-out accuracy and how far the recurrent weights
# moved from their initial values.

# %%
metrics = pd.read_csv(run / "metrics.csv")
fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].plot(metrics["step"], metrics["accuracy"], label="network")
ax[0].axhline(metrics["ideal_accuracy"].iloc[-1], color="k", ls="--", label="ideal observer")
ax[0].set(xlabel="training step", ylabel="held-out accuracy")
ax[0].legend()
ax[1].plot(metrics["step"], metrics["weight_change"])
ax[1].set(xlabel="training step", ylabel="||W - W0|| / ||W0||")
fig.tight_layout()
fig.savefig(out_dir / "03_learning_curve.png", dpi=100)

# %% [markdown]
# ## Against the ideal observer, on fresh held-out trials
# The ideal observer knows the context and sums the relevant modality's evidence over the
# stimulus period.

# %%
net, step = load_run_network(run)
bank = build_trial_bank(spec["task"]["name"], 3000, seed=777, env_kwargs=spec["task"]["kwargs"])
cond = bank.conditions
choice = predict_choices(net, bank)
correct = choice == cond["ground_truth"].to_numpy()
ideal = ideal_observer(bank) == cond["ground_truth"].to_numpy()
table = pd.DataFrame({"network": correct, "ideal": ideal, "coh": cond["relevant_coh"]})
print(table.groupby("coh").mean().round(3))
print(f"overall: network {correct.mean():.3f}, ideal observer {ideal.mean():.3f}")

# %% [markdown]
# ## Psychometric curves per context
# In each context the choice should follow the relevant modality's signed evidence steeply and
# ignore the irrelevant one's.

# %%
cond = cond.assign(right=(choice == 1).astype(float))
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True)
for ctx, ax in zip((0, 1), axes):
    sub = cond[cond["context"] == ctx]
    for m, style in ((1, "o-"), (2, "s--")):
        curve = sub.groupby(f"evidence_{m}")["right"].mean()
        relevant = (ctx == 0 and m == 1) or (ctx == 1 and m == 2)
        ax.plot(
            curve.index,
            curve.values,
            style,
            label=f"modality {m}" + (" (relevant)" if relevant else ""),
        )
    ax.set(title=f"context {ctx}", xlabel="signed evidence (% coherence)")
    ax.legend(fontsize=8)
axes[0].set_ylabel("P(choice 1)")
fig.tight_layout()
fig.savefig(out_dir / "03_psychometric.png", dpi=100)

# %% [markdown]
# ## Simulate checkpoints into a population tensor
# Every checkpoint runs on the same balanced trial bank; the result has dims
# (stage, trial, time, unit), the trial labels as coords, time 0 at stimulus onset: the same contract
# as a recording, ready for the geometry engine.

# %%
small = build_trial_bank(
    spec["task"]["name"],
    144,
    seed=12345,
    env_kwargs=spec["task"]["kwargs"],
    conditions=spec["analysis"]["conditions"],
)
pop = simulate(run, bank=small, steps=[0, 8, 32, 128, 400])
print(pop.dims, dict(pop.sizes))
print(pop["label"].values)

# %%
decision = pop.sel(time=slice(0.0, None)).mean("unit")
fig, ax = plt.subplots(figsize=(5, 3))
for label in pop["label"].values:
    trace = decision.sel(stage=pop["stage"][pop["label"] == label]).mean("trial").squeeze()
    ax.plot(trace["time"], trace, label=str(label))
ax.set(xlabel="time from stimulus onset (s)", ylabel="mean rate")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(out_dir / "03_mean_rate.png", dpi=100)
