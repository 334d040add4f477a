"""Dichotomy ensembles, separability diagnostics, the floor, and the result layout of estimators."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from neurogeom.geometry import _dual, _separability, mftma
from neurogeom.geometry.capacity import glue, simulated_capacity

PROVENANCE = ("estimator", "neurogeom_version", "dichotomies", "n_t", "seed")


def _issue_case():
    """4 manifolds of 50 points in 319 dims, centred (a reported reproduction case)."""
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((4, 319))
    x = np.concatenate([c + 0.8 * rng.standard_normal((50, 319)) for c in centres])
    return x - x.mean(0), np.repeat(np.arange(4), 50)


def _oracle_capacity(x, lab, n_t, seed):
    """Per-sample scipy NNLS over uniform +-1 draws, constant labellings rejected and redrawn."""
    red = _dual.reduce_points(x)
    rng = np.random.default_rng(seed)
    y = rng.choice([-1.0, 1.0], size=(4 * n_t, 4))
    y = y[np.abs(y.sum(axis=1)) < 4][:n_t]
    w = rng.standard_normal((n_t, red.rank))
    lam = _dual.solve_reference(red.factor, y[:, lab], w)
    f = np.sum(((y[:, lab] * lam) @ red.factor) ** 2, axis=1)
    return 4 / f.mean(), 4 * f.std(ddof=1) / np.sqrt(n_t) / f.mean() ** 2


def test_nontrivial_equals_an_nnls_oracle_that_rejects_constant_labellings():
    x, lab = _issue_case()
    ds = glue(x, lab, n_t=300)
    cap, sem = float(ds.capacity), float(ds.capacity_sem)
    ref, ref_sem = _oracle_capacity(x, lab, 150, seed=1)
    assert abs(cap - ref) <= 4 * np.hypot(sem, ref_sem), (cap, ref)
    assert ds.attrs["dichotomies"] == "nontrivial" and ds.attrs["no_separating_fraction"] == 0
    # "uniform" keeps the constant labellings: on centred data they sit at F = rank
    uni = glue(x, lab, n_t=300, dichotomies="uniform")
    assert uni.attrs["no_separating_fraction"] == pytest.approx(2 / 16)
    assert float(uni.capacity) < 0.6 * cap
    assert uni.attrs["at_floor"] == 0 and np.isfinite(float(uni.radius))


@pytest.mark.parametrize("p", [2, 3, 4])
def test_exact_enumeration_is_deterministic_and_agrees_with_sampling(p):
    rng = np.random.default_rng(p)
    x = np.repeat(rng.standard_normal((p, 30)), 12, axis=0) + rng.standard_normal((12 * p, 30))
    lab = np.repeat(np.arange(p), 12)
    exact = glue(x, lab, n_t=300, center=True)
    n = 2**p - 2
    assert exact.attrs["n_dichotomies_distinct"] == n
    assert exact.attrs["n_samples"] == -(-300 // n) * n and exact.attrs["n_t"] == 300
    assert glue(x, lab, n_t=300, center=True).identical(exact)
    # the explicit rows, sampled uniformly with many probes: the same value
    rows = np.array([r for r in itertools.product([-1, 1], repeat=p) if abs(sum(r)) < p])
    draws = rows[np.random.default_rng(0).integers(0, n, 3000)]
    sampled = glue(x, lab, n_t=3000, center=True, dichotomies=draws, seed=5)
    sem = np.hypot(float(exact.capacity_sem), float(sampled.capacity_sem))
    assert abs(float(exact.capacity) - float(sampled.capacity)) <= 4 * sem


def _floor_case(rng, n_manifolds=8, m=69, n_units=86):
    """Heavily overlapping manifolds, more points than units: no dichotomy is realisable."""
    x = rng.standard_normal((n_manifolds * m, n_units))
    return x - x.mean(0), np.repeat(np.arange(n_manifolds), m)


def _check_floor(ds, n_manifolds, rank):
    assert ds.attrs["at_floor"] == 1 and ds.attrs["no_separating_fraction"] > 0.9
    assert abs(float(ds.capacity) - n_manifolds / rank) <= 4 * float(ds.capacity_sem)
    for name in ("radius", "dimension", "utility", "center_alignment", "axis_alignment"):
        assert np.isnan(float(ds[name])), name


def test_synthetic_floor_is_flagged_with_nan_geometry_and_one_warning():
    x, lab = _floor_case(np.random.default_rng(0))
    with pytest.warns(RuntimeWarning, match="floor P / rank.*fewer points per manifold") as rec:
        ds = glue(x, lab, n_t=100)
    assert len([r for r in rec if "floor" in str(r.message)]) == 1
    _check_floor(ds, 8, 86)
    assert (ds.F.values[ds.separable.values == 0] > 0).all()


def test_golub_recording_is_at_the_floor(shared_data):
    from neurogeom.io.arrays import read_golub

    pop = read_golub(shared_data / "golub2018_bci_learning" / "exampleData_monkeyJ_20120305.mat")
    for stage in range(2):
        with pytest.warns(RuntimeWarning, match="floor"):
            ds = glue(pop.values[stage], pop["condition"].values, n_t=200, center=True)
        _check_floor(ds, 8, ds.attrs["span_dimension"])


def test_separable_case_is_not_flagged():
    rng = np.random.default_rng(1)
    x = np.repeat(3 * rng.standard_normal((4, 40)), 10, axis=0) + rng.standard_normal((40, 40))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = glue(x - x.mean(0), np.repeat(np.arange(4), 10), n_t=100)
    assert ds.attrs["at_floor"] == 0 and ds.attrs["no_separating_fraction"] == 0
    assert np.isfinite(float(ds.radius)) and np.isfinite(float(ds.dimension))


def test_separability_certificates_match_an_lp():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((60, 12))
    x -= x.mean(0)
    codes = np.repeat(np.arange(6), 10)
    red = _dual.reduce_points(x)
    rows = np.array(list(itertools.product([-1.0, 1.0], repeat=6)))
    none, _ = _separability.no_separating_direction(red.factor, codes, rows)
    lp = np.array([_separability._lp_has_no_direction(red.factor, r[codes]) for r in rows])
    np.testing.assert_array_equal(none, lp)
    assert none[0] and none[-1]  # the constant labellings of centred points


def _check_layout(ds, labels, estimator, measures):
    assert "trial" not in ds.dims and "M" not in ds.attrs
    assert ds.manifold.values.tolist() == labels
    assert ds.n_points.dims == ("manifold",) and ds.n_points.dtype == np.int64
    assert "n_points" in ds.coords and "n_points" not in ds.data_vars
    for name in measures:
        assert f"{name}_sem" in ds.data_vars, name
    for key in (*PROVENANCE, "no_separating_fraction", "at_floor", "kappa"):
        if estimator == "simulated_capacity" and key in ("n_t", "kappa"):
            continue
        assert key in ds.attrs, key
    assert ds.attrs["estimator"] == estimator


@pytest.mark.parametrize("labels", [[3, 7, 9], ["a", "b", "c"]])
def test_result_layout_of_every_capacity_estimator(labels):
    rng = np.random.default_rng(4)
    x = np.repeat(3 * rng.standard_normal((3, 20)), 8, axis=0) + rng.standard_normal((24, 20))
    lab = np.repeat(np.array(labels), 8)
    g = glue(x, lab, n_t=20)
    _check_layout(g, labels, "glue", ("capacity", "radius", "dimension", "utility"))
    assert g.F.dims == ("sample",)
    s = simulated_capacity(x, lab, n_dichotomies=12)
    _check_layout(s, labels, "simulated_capacity", ("capacity",))
    assert s.sample_critical_dimension.dims == ("sample",)
    m = mftma(x, lab, n_t=20)
    _check_layout(m, labels, "mftma", ("capacity", "radius", "dimension"))
    if isinstance(labels[0], int):
        assert g.manifold.dtype.kind == "i" and m.manifold.dtype.kind == "i"


def test_ensembles_and_bad_names():
    x, lab = _issue_case()
    for name, n in (("balanced", 6), ("one_vs_rest", 4), ("uniform", 16)):
        assert glue(x, lab, n_t=20, dichotomies=name).attrs["n_dichotomies_distinct"] == n
    with pytest.raises(ValueError, match="one of \\['nontrivial', 'uniform'"):
        glue(x, lab, dichotomies="random")
    with pytest.raises(ValueError, match="one of"):
        simulated_capacity(x, lab, dichotomies="pairwise")
