"""The hierarchical bootstrap on a statistic with a known truth (the mean of nested data)."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.learning.hierarchical import (
    _hierarchical_interval,
    expanded_confidence,
    hierarchical_bootstrap,
)


def _nested(seed: int, n_subjects: int = 20, n_sessions: int = 4, n_trials: int = 10):
    """Subject effect + session effect + trial noise, intra-class correlation 0.3 (subject
    variance 0.3 of a total of 1); the truth (the population mean) is 0."""
    rng = np.random.default_rng(seed)
    a = rng.normal(0, np.sqrt(0.3), n_subjects)
    b = rng.normal(0, np.sqrt(0.2), (n_subjects, n_sessions))
    subject = np.repeat(np.arange(n_subjects), n_sessions * n_trials)
    session = np.tile(np.repeat(np.arange(n_sessions), n_trials), n_subjects)
    x = a[subject] + b[subject, session] + rng.normal(0, np.sqrt(0.5), subject.size)
    return x, subject, session


def test_hierarchical_interval_covers_the_truth_and_the_trial_bootstrap_does_not():
    # the array path hierarchical_bootstrap wraps (same numbers, checked below), 600 times
    hits = {"hierarchical": 0, "trial": 0}
    n_repeats = 300
    for r in range(n_repeats):
        x, subject, session = _nested(r, n_trials=5)
        h = _hierarchical_interval(x, subject, session, n_boot=300, seed=r)
        t = _hierarchical_interval(x, subject, session, n_boot=300, seed=r, levels=("trial",))
        hits["hierarchical"] += bool(h["ci_low"] <= 0 <= h["ci_high"])
        hits["trial"] += bool(t["ci_low"] <= 0 <= t["ci_high"])
    assert 0.92 <= hits["hierarchical"] / n_repeats <= 0.98, hits
    assert hits["trial"] / n_repeats < 0.85, hits


@pytest.mark.parametrize("levels", [("subject", "trial"), ("trial",), ("subject",)])
def test_the_dataset_holds_the_array_paths_numbers(levels):
    x, subject, session = _nested(7, n_subjects=6)
    res = hierarchical_bootstrap(x, subject, session, n_boot=50, seed=2, levels=levels)
    arr = _hierarchical_interval(x, subject, session, n_boot=50, seed=2, levels=levels)
    assert float(res.ci_low) == arr["ci_low"] and float(res.ci_high) == arr["ci_high"]
    np.testing.assert_array_equal(res.replicates.values, arr["replicates"])
    assert res.attrs["percentile_level"] == pytest.approx(expanded_confidence(
        6 if "subject" in levels else x.size))  # fmt: skip


def test_subject_level_alone_resamples_whole_subjects():
    # two subjects of constant values: every replicate mean is one of three values
    x = np.r_[np.zeros(5), np.ones(15)]
    subjects = np.r_[np.zeros(5), np.ones(15)]
    res = hierarchical_bootstrap(x, subjects, n_boot=200, levels=("subject",))
    assert set(np.round(res.replicates.values, 12)) <= {0.0, 0.75, 1.0}
    assert float(res.estimate) == 0.75


def test_callable_statistic_matches_the_vectorised_mean_in_distribution():
    x, subject, session = _nested(1)
    fast = hierarchical_bootstrap(x, subject, session, n_boot=400, seed=3)
    slow = hierarchical_bootstrap(x, subject, session, statistic=np.mean, n_boot=400, seed=3)
    assert float(fast.estimate) == pytest.approx(float(slow.estimate))
    assert float(fast.se) == pytest.approx(float(slow.se), rel=0.2)


def test_expanded_level_widens_with_few_subjects():
    assert expanded_confidence(5) > expanded_confidence(20) > 0.95


def test_bad_levels_and_lengths():
    x, subject, session = _nested(0)
    with pytest.raises(ValueError, match="levels must be a non-empty subset"):
        hierarchical_bootstrap(x, subject, levels=("animal",))
    with pytest.raises(ValueError, match="one entry per trial"):
        hierarchical_bootstrap(x, subject[:-1])
