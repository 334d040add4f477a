"""Input checks of the capacity estimators in few passes: the same verdicts and scales."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.geometry import _validate


@pytest.mark.parametrize("scale", [1e-120, 1e-3, 1.0, 7e4, 1e150, 1e306])
@pytest.mark.parametrize("order", ["C", "F"])
def test_unit_scale_is_the_power_of_two_near_the_rms_norm(scale, order):
    rng = np.random.default_rng(0)
    x = np.asarray(rng.standard_normal((30, 7)) * scale, order=order)
    scaled, div = _validate.unit_scale(x, "points", "glue")
    peak = np.max(np.abs(x))
    rms = peak * np.sqrt(np.sum((x / peak) ** 2) / x.shape[0])  # without squaring raw values
    assert div == 2.0 ** np.frexp(rms)[1]
    np.testing.assert_array_equal(scaled * div, x)


def test_finite_values_whose_sum_overflows_pass_and_nan_is_refused():
    x = np.full((4, 3), 4e307)
    x[1] = 3e307
    x[2, 0] = 5.0
    x[3, 1] = -2e307
    with np.errstate(over="ignore", invalid="ignore"):  # the one-pass check cannot tell
        assert not np.isfinite(np.sum(x))
    _validate.unit_scale(x, "points", "glue")
    codes = _validate.points_and_labels(x, [0, 0, 1, 1], caller="glue")[1]
    assert codes.tolist() == [0, 0, 1, 1]
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"1 NaN/inf values in 1 points \(first rows: \[3\]\)"):
        _validate.points_and_labels(x, [0, 0, 1, 1], caller="glue")
    with pytest.raises(ValueError, match="glue\\(\\) needs finite points; got NaN or inf"):
        _validate.unit_scale(x, "points", "glue")


def test_all_zero_and_identical_points_are_refused():
    with pytest.raises(ValueError, match="points that are all zero"):
        _validate.points_and_labels(np.zeros((4, 3)), [0, 0, 1, 1], caller="glue")
    with pytest.raises(ValueError, match="4 identical points"):
        _validate.points_and_labels(np.full((4, 3), -2.0), [0, 0, 1, 1], caller="glue")


@pytest.mark.parametrize("scale", [5e-320, 1e-300, 1.0, 1e300])
def test_rescaling_is_ldexp_to_the_last_bit(scale):
    # a product with the power of two where that power is a normal number, ldexp beyond
    x = np.random.default_rng(1).standard_normal((9, 4)) * scale
    scaled, div = _validate.unit_scale(x, "points", "glue")
    np.testing.assert_array_equal(scaled, np.ldexp(x, 1 - np.frexp(div)[1]))


def test_rows_differing_from_the_first_match_the_elementwise_comparison():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 5))
    x[2] = x[0]
    x[3] = x[0]
    x[3, 4] += 1.0  # differs in its last value only
    x[4, :4] = x[0, :4]
    for arr in (x, np.asfortranarray(x), x[:, ::-1], x[::2], x[:1]):
        expect = np.any(arr != arr[0], axis=1)
        np.testing.assert_array_equal(_validate.rows_differing(arr), expect)
