"""Stage-to-stage statistics: known differences are found, null differences at the stated rate."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from neurogeom.learning import stats
from neurogeom.learning.stats import (
    difference_test,
    paired_difference,
    percentile_ci,
    permutation_p_value,
)


def gap(points: np.ndarray, labels: np.ndarray) -> float:
    """Distance between the two class means (a cheap stand-in for a geometry measure)."""
    return float(np.linalg.norm(points[labels == 0].mean(0) - points[labels == 1].mean(0)))


def two_stages(rng, shift_b: float, n: int = 15, units: int = 3):
    y = np.repeat([0, 1], n)
    a = rng.normal(size=(2 * n, units)) + 1.0 * y[:, None]
    b = rng.normal(size=(2 * n, units)) + (1.0 + shift_b) * y[:, None]
    return a, y, b, y


def test_doctests_run():
    assert doctest.testmod(stats).failed == 0


def test_percentile_ci_matches_quantiles_and_ignores_nan():
    reps = np.r_[np.arange(1001.0), np.nan]
    low, high = percentile_ci(reps, confidence=0.9)
    assert low == pytest.approx(50.0) and high == pytest.approx(950.0)
    low, high = percentile_ci(np.full((10, 2), np.nan))
    assert np.isnan(low).all() and np.isnan(high).all()


def test_permutation_p_value_counts_as_large_and_exact():
    assert permutation_p_value(3.0, [0.1, -0.2, 4.0, -3.5]) == pytest.approx(3 / 5)
    assert permutation_p_value(3.0, [0.1, -0.2, 4.0, -3.5], exact=True) == pytest.approx(2 / 4)
    assert permutation_p_value(-3.0, [0.1, np.nan, 4.0]) == pytest.approx(2 / 3)
    assert np.isnan(permutation_p_value(np.nan, [1.0])) and np.isnan(permutation_p_value(1.0, []))


def test_known_difference_is_found_with_ci_covering_it():
    rng = np.random.default_rng(1)
    a, ya, b, yb = two_stages(rng, shift_b=1.5, n=30)
    res = difference_test(gap, a, ya, b, yb, n_boot=300, n_perm=300, seed=3)
    true = 1.5 * np.sqrt(3)  # the class-mean gap grows from sqrt(3) to 2.5 sqrt(3)
    assert float(res["p_value"]) < 0.01
    assert float(res["difference_ci_low"]) < true < float(res["difference_ci_high"])
    assert float(res["difference_ci_low"]) > 0
    assert res.attrs["estimator"] == "difference_test" and res.attrs["n_perm"] == 300
    assert res["boot_difference"].sizes == {"boot": 300}


def test_same_seed_same_numbers_and_other_seed_differs():
    rng = np.random.default_rng(2)
    a, ya, b, yb = two_stages(rng, shift_b=0.5)
    r1 = difference_test(gap, a, ya, b, yb, n_boot=50, n_perm=50, seed=7)
    r2 = difference_test(gap, a, ya, b, yb, n_boot=50, n_perm=50, seed=7)
    r3 = difference_test(gap, a, ya, b, yb, n_boot=50, n_perm=50, seed=8)
    np.testing.assert_array_equal(r1["null_difference"], r2["null_difference"])
    assert not np.array_equal(r1["null_difference"], r3["null_difference"])


def test_no_difference_false_positive_rate_at_alpha():
    """Over 200 seeded repeats with no change, p < 0.05 in 5% of them within binomial error."""
    rng = np.random.default_rng(0)
    n_rep, alpha = 200, 0.05
    p = np.empty(n_rep)
    for r in range(n_rep):
        a, ya, b, yb = two_stages(rng, shift_b=0.0, n=8, units=2)
        p[r] = float(difference_test(gap, a, ya, b, yb, n_boot=0, n_perm=99, seed=r)["p_value"])
    rate = np.mean(p < alpha)
    se = np.sqrt(alpha * (1 - alpha) / n_rep)
    assert abs(rate - alpha) < 3 * se, rate


def test_paired_known_difference_and_exact_enumeration():
    rng = np.random.default_rng(4)
    a = rng.normal(size=10)
    b = a + 1.0 + 0.3 * rng.normal(size=10)
    res = paired_difference(a, b, n_perm=2000, seed=1)
    assert res.attrs["exact"] == 1  # 2**10 = 1024 patterns <= 2000
    assert float(res["p_value"]) == pytest.approx(2 / 1024)
    assert float(res["difference_ci_low"]) < 1.0 < float(res["difference_ci_high"])
    assert res["subject_difference"].sizes == {"subject": 10}


def test_paired_false_positive_rate_at_alpha():
    rng = np.random.default_rng(5)
    n_rep, alpha = 400, 0.05
    p = np.array(
        [
            float(
                paired_difference(
                    rng.normal(size=12), rng.normal(size=12), n_boot=0, n_perm=199, seed=r
                )["p_value"]
            )
            for r in range(n_rep)
        ]
    )
    se = np.sqrt(alpha * (1 - alpha) / n_rep)
    assert abs(np.mean(p < alpha) - alpha) < 3 * se


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"confidence": 1.5}, r"confidence must be a number in \(0, 1\)"),
        ({"n_boot": -1}, r"n_boot must be 0 \(no interval\) or at least 2; got -1"),
        ({"n_boot": 1}, r"n_boot must be 0 \(no interval\) or at least 2; got 1"),
    ],
)
def test_bad_settings(kwargs, match):
    rng = np.random.default_rng(0)
    a, ya, b, yb = two_stages(rng, 0.0)
    with pytest.raises(ValueError, match=match):
        difference_test(gap, a, ya, b, yb, **kwargs)


def test_bad_inputs():
    rng = np.random.default_rng(0)
    a, ya, b, yb = two_stages(rng, 0.0)
    with pytest.raises(ValueError, match="same units"):
        difference_test(gap, a, ya, b[:, :2], yb)
    with pytest.raises(ValueError, match="different labels"):
        difference_test(gap, a, ya, b, yb + 1)
    with pytest.raises(ValueError, match="one per trial"):
        difference_test(gap, a, ya[:-1], b, yb)
    with pytest.raises(ValueError, match="at least two labels"):
        difference_test(gap, a, np.zeros_like(ya), b, yb)
    with pytest.raises(ValueError, match="one value per subject"):
        paired_difference([1.0, 2.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="at least two subjects"):
        paired_difference([1.0], [2.0])
