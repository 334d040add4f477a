# %% [markdown]
# # Coding schemes of wide networks learning classification
#
# van Meegen & Sompolinsky (Nat. Commun. 16, 3354, 2025) sample the Bayesian posterior of wide
# one-hidden-layer networks learning classification and find that in the feature-learning
# (mean-field) regime the hidden layer adopts a **coding scheme** set by the nonlinearity:
# **analog** for linear units (every unit responds to every class, with graded strengths; the mean
# predictor is the lazy, kernel one), **redundant** for sigmoidal units (a few codes, each shared
# by many units) and **sparse** for ReLU units (only a few units carry a code).
#
# Here: `neurogeom.models.bayesian.sample_posterior` samples the posterior of
# `f(x) = N^-gamma sum_i a_i phi(w_i . x / sqrt(n_in))` by Langevin dynamics on the input weights
# (the Gaussian readout drawn exactly given them), on Gaussian-mixture classes (3 classes, 20
# points each, 20 inputs); `neurogeom.geometry.coding_scheme` scores the hidden activity of one
# posterior sample (tuning, selectivity, sparseness, coding fraction, code clusters, tuning
# dimension) and names its scheme by a documented rule.
#
# **What this reproduces**: linear units in mean-field scaling give an analog code, and the
# linear network's posterior mean predictor equals the kernel (Gaussian-process) predictor within
# sampling error; ReLU units give a sparse code (a few units with large, one-class responses);
# erf units give saturated sign codes shared by groups of units.
# **What it does not**: at the sizes run here (N = 64 units, a few thousand Langevin steps, no
# check of equilibration beyond two chains agreeing) the erf layer is classified **mixed**, not
# redundant: about half of its units sit in shared saturated codes and the rest stay graded. The
# paper's analytic large-N theory, its digits/CIFAR experiments and its statements about
# generalisation are not reproduced. `NEUROGEOM_FAST=0` runs N = 128, 6000-step chains and prior
# scales {0.5, 1, 2} (estimated at about 10 minutes on one core from the fast run; not run for
# this text). The fast setting takes about 40 s of CPU here.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from neurogeom.geometry import coding_scheme
from neurogeom.models.bayesian import (
    digits,
    gaussian_mixture,
    kernel_predictor,
    sample_posterior,
)
from neurogeom.show import save_figure
from neurogeom.show.figures import plot_coding_phases, plot_coding_scheme
from neurogeom.workflows.coding_phases import coding_phases

out_dir = Path(os.environ.get("NEUROGEOM_TUTORIAL_OUT") or tempfile.mkdtemp())
out_dir.mkdir(parents=True, exist_ok=True)
fast = os.environ.get("NEUROGEOM_FAST", "1") != "0"
n_units, n_steps = (64, 1500) if fast else (128, 6000)
x, labels = gaussian_mixture(3, 20, 20, seed=0)

# %% [markdown]
# ## One posterior sample per nonlinearity, mean-field scaling
# Temperature T = 0.01 (the likelihood variance, divided by N in mean-field scaling), prior
# standard deviation 1 for every weight. Two chains each; the scheme of the last sample of each.

# %%
steps = {"linear": 5e-3, "erf": 5e-3, "relu": 2e-3}
results = {}
for act, step in steps.items():
    s = sample_posterior(x, labels, activation=act, n_units=n_units, temperature=0.01,
                         n_steps=n_steps, step_size=step, n_chains=2, seed=0)  # fmt: skip
    results[act] = coding_scheme(s.points(chain=0), labels, n_boot=20)
    other = coding_scheme(s.points(chain=1), labels)
    r = results[act]
    print(f"{act:7s} scheme {str(r.scheme.values):9s} (chain 2: {str(other.scheme.values)}) "
          f"coding fraction {float(r.coding_fraction):.2f} +- {float(r.coding_fraction_sem):.2f}, "
          f"clustered {float(r.clustered_fraction):.2f}, sparseness {float(r.sparseness):.2f}, "
          f"tuning dimension {float(r.tuning_dimension):.2f}, accuracy {s.accuracy():.2f}")  # fmt: skip
save_figure(plot_coding_scheme(results), out_dir / "coding_schemes")

# %% [markdown]
# The paper's schemes for comparison: linear **analog** (ours: analog), sigmoidal **redundant**
# (ours: mixed, the saturated half of the units redundant), ReLU **sparse** (ours: sparse).

# %% [markdown]
# ## The same on scikit-learn's digits
# Digits 0, 1, 2 (20 images each, 64 z-scored pixels), 1000 steps. Measured here: linear analog,
# erf analog (clustered fraction about 0.1), ReLU on the edge of sparse (coding fraction about
# 0.28 against the 0.25 cut; one chain sparse, one analog). With 64 inputs the chains need longer
# than this to learn features as strong as on the 20-dimensional mixture.

# %%
xd, yd = digits((0, 1, 2), 20)
for act, step in steps.items():
    s = sample_posterior(xd, yd, activation=act, n_units=n_units, temperature=0.01,
                         n_steps=1000 if fast else n_steps, step_size=step, n_chains=2)  # fmt: skip
    r = [coding_scheme(s.points(chain=c), yd) for c in range(2)]
    print(f"digits {act:7s} schemes {[str(d.scheme.values) for d in r]}, coding fraction "
          f"{float(r[0].coding_fraction):.2f}, clustered {float(r[0].clustered_fraction):.2f}")  # fmt: skip

# %% [markdown]
# ## The linear network's mean predictor is the kernel predictor
# At T = 1e-3 the posterior mean output on new inputs against
# `K(x*, X) (K(X, X) + T)^-1 Y` with the linear kernel `K = sigma^4 x . x' / n_in`; the error is
# the spread of four independent chains. Measured here: largest difference 0.0011 against an rms
# sampling error of 0.0004 (the test allows 5 times the error; a kernel predictor with ridge 0.3
# instead of T lies more than 20 times the error away). At T = 0.01 the difference (0.006) was
# larger than the error (0.0025): at finite temperature the mean-field posterior mean is a kernel
# predictor with a renormalised ridge, which tends to the lazy one as T goes to 0.

# %%
rng = np.random.default_rng(1)
x_test = x[:10] + 0.5 * rng.standard_normal((10, x.shape[1]))
lin = sample_posterior(x, labels, activation="linear", n_units=n_units, temperature=1e-3,
                       n_steps=1000, step_size=1e-3, n_chains=4, n_samples=20, x_test=x_test)  # fmt: skip
mean, sem = lin.mean_predictor()
kernel = kernel_predictor(x, labels, x_test, temperature=1e-3, prior_scale=1.0)
print(f"max |mean - kernel| = {np.abs(mean - kernel).max():.4f}; "
      f"rms sampling error {np.sqrt(np.mean(sem**2)):.4f}")  # fmt: skip

# %% [markdown]
# ## The phase picture: nonlinearity x scaling x prior scale
# Standard scaling (readout 1/sqrt(N)) keeps the network near its Gaussian-process limit: the
# hidden units keep their random tuning. Cells show the majority scheme over chains. Measured at
# the fast setting (prior scale 1, N = 64, 1000 steps): mean-field linear analog, erf mixed, ReLU
# sparse; standard scaling analog for all three nonlinearities, as the paper's lazy regime has no
# learned code.

# %%
phases = coding_phases(
    x, labels,
    activations=("linear", "erf", "relu"),
    scalings=("mean_field", "standard"),
    prior_scales=(1.0,) if fast else (0.5, 1.0, 2.0),
    n_units=n_units,
    temperature=0.01,
    n_steps=1000 if fast else n_steps,
    step_size=2e-3,
    n_chains=2,
)  # fmt: skip
print(phases["scheme"].to_dataframe()["scheme"].unstack("chain"))
save_figure(plot_coding_phases(phases), out_dir / "coding_phases")
