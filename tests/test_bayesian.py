"""Langevin-sampled one-hidden-layer networks: the linear network's lazy mean predictor and the
coding schemes of linear, erf and ReLU units in mean-field scaling (as measured, seeds fixed)."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.geometry import coding_scheme
from neurogeom.models.bayesian import (
    digits,
    gaussian_mixture,
    kernel_predictor,
    sample_posterior,
)
from neurogeom.workflows.coding_phases import coding_phases

X, Y = gaussian_mixture(3, 20, 20, seed=0)
SETTINGS = {"n_units": 64, "temperature": 0.01, "n_steps": 1500, "n_chains": 2}


@pytest.mark.slow
def test_linear_mean_predictor_is_the_kernel_predictor():
    """Mean field, T = 1e-3: posterior mean on new inputs = K_*(K + T)^-1 Y within sampling error."""
    rng = np.random.default_rng(1)
    x_test = X[:10] + 0.5 * rng.standard_normal((10, X.shape[1]))
    s = sample_posterior(X, Y, activation="linear", n_units=64, temperature=1e-3,
                         n_steps=1000, step_size=1e-3, n_chains=4, n_samples=20,
                         x_test=x_test, seed=0)  # fmt: skip
    mean, sem = s.mean_predictor()
    kernel = kernel_predictor(X, Y, x_test, temperature=1e-3, prior_scale=1.0)
    rms_sem = float(np.sqrt(np.mean(sem**2)))
    assert 0 < rms_sem < 0.01
    assert np.abs(mean - kernel).max() < 5 * rms_sem
    # the check can fail: a kernel predictor with another ridge is far outside the error
    other = kernel_predictor(X, Y, x_test, temperature=0.3, prior_scale=1.0)
    assert np.abs(mean - other).max() > 20 * rms_sem
    assert s.accuracy() == 1.0
    assert all(str(coding_scheme(s.points(c), Y).scheme.values) == "analog" for c in range(4))


@pytest.mark.slow
def test_mean_field_schemes_of_erf_and_relu():
    """Measured at N = 64, T = 0.01, 1500 steps: erf mixed (about half of the units in shared
    saturated sign codes), ReLU sparse (a few units carry one class each); linear analog; ReLU in
    standard scaling (near the lazy limit) analog."""
    out = {}
    for act, step in (("linear", 5e-3), ("erf", 5e-3), ("relu", 2e-3)):
        s = sample_posterior(X, Y, activation=act, step_size=step, seed=0, **SETTINGS)
        assert s.accuracy() == 1.0
        out[act] = [coding_scheme(s.points(c), Y) for c in range(2)]
    lazy = sample_posterior(X, Y, activation="relu", scaling="standard", step_size=2e-3, seed=0,
                            **{**SETTINGS, "n_steps": 1000})  # fmt: skip
    out["relu_standard"] = [coding_scheme(lazy.points(c), Y) for c in range(2)]
    schemes = {a: [str(d.scheme.values) for d in ds] for a, ds in out.items()}
    assert schemes == {"linear": ["analog"] * 2, "erf": ["mixed"] * 2, "relu": ["sparse"] * 2,
                       "relu_standard": ["analog"] * 2}  # fmt: skip
    for d in out["erf"]:
        assert 1 / 3 < float(d.clustered_fraction) < 2 / 3
        assert float(d.sparseness) > 0.75  # saturated units respond to every class
    for d in out["relu"]:
        assert float(d.coding_fraction) < 0.25 and float(d.selectivity) > 0.7
    for d in out["linear"]:
        assert float(d.clustered_fraction) == 0.0 and float(d.coding_fraction) > 0.5


@pytest.mark.slow
def test_phase_sweep_layout_and_data():
    x, y = gaussian_mixture(2, 8, 5, seed=1)
    ds = coding_phases(x, y, activations=("linear", "relu"), scalings=("mean_field", "standard"),
                       prior_scales=(0.5,), n_units=16, n_steps=40, n_chains=2)  # fmt: skip
    assert ds.scheme.dims == ("activation", "scaling", "prior_scale", "chain")
    assert ds.scheme.shape == (2, 2, 1, 2)
    assert set(np.unique(ds.scheme.values)) <= {"analog", "redundant", "sparse", "mixed"}
    assert ds.accuracy.dims == ("activation", "scaling", "prior_scale")
    assert ds.attrs["estimator"] == "coding_phases" and "rule" in ds.attrs
    xd, yd = digits((0, 1, 2), 10)
    assert xd.shape == (30, 64) and np.allclose(xd.mean(axis=0), 0)
    assert yd.tolist() == [0] * 10 + [1] * 10 + [2] * 10


def test_same_seed_same_samples():
    a = sample_posterior(X, Y, activation="erf", n_units=8, n_steps=20, n_chains=1, seed=4)
    b = sample_posterior(X, Y, activation="erf", n_units=8, n_steps=20, n_chains=1, seed=4)
    np.testing.assert_array_equal(a.hidden, b.hidden)
    assert a.hidden.shape == (1, 10, 60, 8) and a.readout.shape == (1, 10, 8, 3)
    sig = sample_posterior(X, Y, activation="sigmoid", n_units=8, n_steps=20, n_chains=1)
    assert 0 < sig.hidden.min() and sig.hidden.max() < 1  # sigmoid units lie in (0, 1)
    np.testing.assert_allclose(
        sig.outputs, np.einsum("cspu,csuk->cspk", sig.hidden, sig.readout) / 8
    )  # mean field: 1/N


def test_bad_input_errors():
    with pytest.raises(ValueError, match="activation must be one of"):
        sample_posterior(X, Y, activation="tanh")
    with pytest.raises(ValueError, match="scaling must be one of"):
        sample_posterior(X, Y, scaling="ntk")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        sample_posterior(bad, Y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        sample_posterior(X, np.zeros(len(Y), dtype=int))
    with pytest.raises(ValueError, match="integer classes"):
        sample_posterior(X, Y.astype(float))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        sample_posterior(X, Y, temperature=0.0)
    with pytest.raises(ValueError, match="n_samples"):
        sample_posterior(X, Y, n_steps=10, n_samples=10)
    with pytest.raises(FloatingPointError, match="smaller step_size"):
        sample_posterior(X, Y, activation="relu", n_units=8, n_steps=200, step_size=50.0)
    with pytest.raises(ValueError, match="2 or more distinct digits"):
        digits((3, 3))
