"""Simulated capacity: Cover's theorem, agreement with GLUE, degenerate input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import comb

from neurogeom.geometry.capacity import glue, simulated_capacity


def _cover(p, n):
    return 2.0 ** (1 - p) * sum(comb(p - 1, k) for k in range(n))


def test_cover_half_separable_at_half_the_points():
    rng = np.random.default_rng(0)
    p = 20
    x = rng.standard_normal((p, 40))
    ds = simulated_capacity(x, np.arange(p), n_dichotomies=201)
    frac = ds.separable_fraction
    sd = np.sqrt(0.25 / 201)
    for n in (9, 10, 11):
        assert abs(float(frac.sel(n_dimensions=n)) - _cover(p, n)) <= 3.5 * sd
    assert _cover(p, p // 2) == 0.5
    assert float(ds.capacity_low) <= 2.0 <= float(ds.capacity_high)
    assert ds.attrs["bias"] == 0 and ds.attrs["n_dichotomies"] == 201


def test_bias_shifts_points_to_p_over_half_p_minus_one():
    rng = np.random.default_rng(1)
    p = 20
    ds = simulated_capacity(
        rng.standard_normal((p, 40)), np.arange(p), n_dichotomies=151, bias=True
    )
    assert float(ds.capacity_low) <= p / (p / 2 - 1) <= float(ds.capacity_high)


def _balls(n_manifolds, dim, radius, m, n_features, rng):
    x, lab = [], []
    for mu in range(n_manifolds):
        c = rng.standard_normal(n_features) / np.sqrt(n_features)
        u = np.linalg.qr(rng.standard_normal((n_features, dim)))[0]
        s = rng.standard_normal((m, dim))
        s /= np.linalg.norm(s, axis=1, keepdims=True)
        x.append(c + radius * np.linalg.norm(c) * (s @ u.T))
        lab += [mu] * m
    return np.vstack(x), np.array(lab)


@pytest.mark.parametrize("case", ["points", "balls"])
def test_agrees_with_glue(case):
    rng = np.random.default_rng(2)
    if case == "points":
        x, lab = rng.standard_normal((24, 48)), np.arange(24)
    else:
        x, lab = _balls(16, 3, 1.0, 12, 200, rng)
    sim = simulated_capacity(x, lab, n_dichotomies=101, seed=3)
    g = glue(x, lab, n_t=400)
    lo, hi = float(sim.capacity_low), float(sim.capacity_high)
    cap, sem = float(g.capacity), float(g.capacity_sem)
    # GLUE's value (within 2 of its standard errors) lies in the simulated interval
    assert lo - 2 * sem <= cap <= hi + 2 * sem, (lo, cap, hi, sem)


def test_deterministic_given_seed():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((12, 30))
    a = simulated_capacity(x, np.arange(12), n_dichotomies=21, seed=5)
    b = simulated_capacity(x, np.arange(12), n_dichotomies=21, seed=5)
    assert a.identical(b)


def test_too_few_features_gives_nan_with_a_warning():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((10, 2))  # 10 points in the plane: ~2% of dichotomies separable
    with pytest.warns(RuntimeWarning, match="floor P / rank.*more units"):
        ds = simulated_capacity(x, np.arange(10), n_dichotomies=21)
    assert np.isnan(float(ds.capacity)) and ds.attrs["at_floor"] == 1
    assert ds.attrs["no_separating_fraction"] > 0.5


def test_bad_input():
    x = np.random.default_rng(7).standard_normal((10, 5))
    with pytest.raises(ValueError, match="at least 2 manifolds"):
        simulated_capacity(x, np.zeros(10))
    with pytest.raises(ValueError, match=r"confidence must be a number in \(0, 1\)"):
        simulated_capacity(x, np.arange(10), confidence=1.5)
    with pytest.raises(ValueError, match="one of \\['nontrivial', 'uniform'"):
        simulated_capacity(x, np.arange(10), dichotomies="pairwise")
