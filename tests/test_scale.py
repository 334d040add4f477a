"""Scale robustness: measures documented as invariant to isotropic scaling give their unit-scale
value at every overall scale float64 can hold the data at, and undefined inputs are refused."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from neurogeom.geometry import (
    cka_similarity,
    debiased_cka_similarity,
    glue,
    mftma,
    simulated_capacity,
)

SCALES = (1e-300, 1e-150, 1e-10, 1e14, 1e160, 1e200)
RTOL = 1e-12


def _data():
    rng = np.random.default_rng(3)
    n_manifolds, m, n = 4, 8, 20
    centres = 2.0 * rng.standard_normal((n_manifolds, n))
    x = np.repeat(centres, m, axis=0) + rng.standard_normal((n_manifolds * m, n))
    labels = np.repeat(np.arange(n_manifolds), m)
    y = x @ rng.standard_normal((n, 12)) + 0.5 * rng.standard_normal((x.shape[0], 12))
    return x, labels, y


X, LABELS, Y = _data()

MEASURES = {
    "glue": lambda x: float(glue(x, LABELS, n_t=40).capacity),
    "glue_radius": lambda x: float(glue(x, LABELS, n_t=40).radius),
    "glue_pairwise": lambda x: float(glue(x, LABELS, n_t=20, dichotomies="pairwise").capacity),
    "mftma": lambda x: float(mftma(x, LABELS, n_t=40).capacity),
    "mftma_dimension": lambda x: float(mftma(x, LABELS, n_t=40).dimension),
    "simulated_capacity": lambda x: float(
        simulated_capacity(x, LABELS, n_dichotomies=11).critical_dimension
    ),
    "cka": lambda x: float(cka_similarity(x, Y).cka_similarity),
    "debiased_cka": lambda x: float(debiased_cka_similarity(x, Y).debiased_cka_similarity),
}


@functools.cache
def _unit(name: str) -> float:
    return MEASURES[name](X)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("name", sorted(MEASURES))
def test_measure_equals_its_unit_scale_value(name, scale):
    unit = _unit(name)
    assert np.isfinite(unit) and unit > 0
    assert np.all(np.isfinite(X * scale)) and np.all(X * scale != 0)
    value = MEASURES[name](X * scale)
    assert value == pytest.approx(unit, rel=RTOL)


def test_unit_scale_divisor_is_a_power_of_two_recorded_in_attrs():
    ds = glue(X * 1e200, LABELS, n_t=20)
    scale = ds.attrs["data_scale"]
    mantissa, _ = np.frexp(scale)
    assert mantissa == 0.5
    rms = 1e200 * np.sqrt(np.mean(np.sum(X**2, axis=1)))
    assert 0.5 <= rms / scale < 1.0
    assert mftma(X * 1e-300, LABELS, n_t=20).attrs["data_scale"] == pytest.approx(
        1e-300 * scale / 1e200, rel=1e-15
    )


@pytest.mark.parametrize("scale", (1e-300, 1e200))
def test_glue_margin_and_anchors_in_the_points_units(scale):
    kappa = 0.05 * float(np.sqrt(np.mean(np.sum(X**2, axis=1))))
    unit = glue(X, LABELS, n_t=30, kappa=kappa, dichotomies="one_vs_rest", return_anchors=True)
    big = glue(
        X * scale,
        LABELS,
        n_t=30,
        kappa=kappa * scale,
        dichotomies="one_vs_rest",
        return_anchors=True,
    )
    assert float(big.capacity) == pytest.approx(float(unit.capacity), rel=1e-10)
    ok = np.isfinite(unit.anchors.values)
    assert np.array_equal(ok, np.isfinite(big.anchors.values))
    np.testing.assert_allclose(big.anchors.values[ok] / scale, unit.anchors.values[ok], rtol=1e-8)


def test_mftma_center_norm_in_the_points_units():
    unit = mftma(X, LABELS, n_t=20)
    big = mftma(X * 1e160, LABELS, n_t=20)
    np.testing.assert_allclose(big.center_norm.values / 1e160, unit.center_norm.values, rtol=1e-10)


@pytest.mark.parametrize(
    "call",
    [
        lambda x: glue(x, LABELS, n_t=10),
        lambda x: mftma(x, LABELS, n_t=10),
        lambda x: simulated_capacity(x, LABELS, n_dichotomies=3),
    ],
    ids=["glue", "mftma", "simulated_capacity"],
)
def test_inf_and_zero_points_are_refused(call):
    bad = X.copy()
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="finite"):
        call(bad)
    with pytest.raises(ValueError, match="all zero"):
        call(np.zeros_like(X))
    with np.errstate(over="ignore"):
        overflowed = X * 1e300 * 1e10  # data float64 cannot hold: inf on the way in
    with pytest.raises(ValueError, match="finite"):
        call(overflowed)


@pytest.mark.parametrize("func", [cka_similarity, debiased_cka_similarity])
def test_cka_refuses_inf_and_constant(func):
    bad = Y.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        func(X, bad)
    with pytest.raises(ValueError, match="constant"):
        func(X, np.zeros_like(Y))


def test_glue_margin_that_overflows_in_the_points_units_is_refused():
    with pytest.raises(ValueError, match="kappa"):
        glue(X * 1e-300, LABELS, n_t=10, kappa=1e10)
