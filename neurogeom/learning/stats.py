"""Statistics across learning: bootstrap intervals, stage-to-stage tests, paired tests.

Everything here works on plain arrays and returns small :class:`xarray.Dataset` results with the
provenance attrs of ``neurogeom._provenance.provenance``. Every random stream is seeded
(``seed``, split into independent child streams by
``neurogeom._provenance.child_seed``), so the same call gives the same numbers.

The trajectory Dataset
----------------------
The input of :mod:`neurogeom.learning.stages`, :mod:`neurogeom.learning.strategies` and
:mod:`neurogeom.show` is one :class:`xarray.Dataset` per condition (an animal, a network):

dims
    ``stage`` (checkpoints, sessions, before/after), optionally ``time_window``; a ``replicate``
    dim only on bootstrap replicate trajectories (see :func:`neurogeom.learning.stages.learning_stages`).
coords
    ``stage`` plus stage metadata on it, e.g. ``step`` (training step or session index, int, >= 0)
    and ``label`` (str).
data variables, for each measure ``v`` (``capacity``, ``radius``, ``dimension``,
``center_alignment``, ``axis_alignment``, ``center_axis_alignment``, or any registered measure)
    ``v``
        the point estimate on all trials;
    ``v_sem``
        the Monte-Carlo standard error of the estimator (probe sampling: ``n_t``, dichotomies);
    ``v_resample_se``, ``v_ci_low``, ``v_ci_high``
        the bootstrap error over trials / pseudo-population draws: the standard deviation of the
        replicates and their percentile interval at ``attrs["confidence"]``;
    ``v_null_mean``, ``v_null_low``, ``v_null_high``
        the shuffle null (labels permuted within stage): its mean and percentile interval.
attrs
    ``n_boot``, ``n_perm``, ``seed``, ``confidence``, ``estimator`` (and the measure's own attrs).

The two errors answer different questions (how precisely the estimator computed the number on these
trials; how much the number would change with other trials) and are never merged into one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from itertools import product

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurogeom._params import check_params
from neurogeom._provenance import child_seed, provenance
from neurogeom.parallel import batches, parallel_map

__all__ = ["percentile_ci", "permutation_p_value", "difference_test", "paired_difference"]

Statistic = Callable[[np.ndarray, np.ndarray], float]


def _check_confidence(confidence: float) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}. Try confidence=0.95.")
    return float(confidence)


def _check_count(name: str, value: int, minimum: int) -> int:
    if int(value) != value or int(value) < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def percentile_ci(
    replicates: ArrayLike, *, confidence: float = 0.95, axis: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap confidence interval from replicate values.

    Parameters
    ----------
    replicates : array_like, shape (n_boot, ...)
        Bootstrap replicates of a statistic along ``axis`` (NaN replicates are left out).
    confidence : float, default=0.95
        Coverage of the interval, in (0, 1).
    axis : int, default=0
        The replicate axis.

    Returns
    -------
    low, high : ndarray, shape (...)
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the replicates, in
        the units of the statistic; NaN where every replicate is NaN.

    See Also
    --------
    permutation_p_value : the p-value of a null.
    neurogeom.learning.hierarchical_bootstrap : intervals over subjects.

    Examples
    --------
    >>> low, high = percentile_ci(np.arange(101.0), confidence=0.9)
    >>> round(float(low), 6), round(float(high), 6)
    (5.0, 95.0)
    """
    confidence = _check_confidence(confidence)
    values = np.asarray(replicates, dtype=float)
    if values.ndim == 0 or values.shape[axis] == 0:
        raise ValueError("percentile_ci needs at least one replicate along the replicate axis.")
    q = 100.0 * np.array([(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0])
    finite = np.isfinite(values).any(axis=axis)
    filled = np.where(np.isfinite(values).any(axis=axis, keepdims=True), values, 0.0)
    low, high = np.nanpercentile(filled, q, axis=axis)
    return np.where(finite, low, np.nan), np.where(finite, high, np.nan)


def _points_labels(
    points: ArrayLike, labels: ArrayLike, name: str
) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(points, dtype=float)
    y = np.asarray(labels)
    if x.ndim != 2:
        raise ValueError(f"{name} points must be 2-D (n_trials, n_units); got shape {x.shape}.")
    if y.shape != (x.shape[0],):
        raise ValueError(
            f"{name} labels must have shape ({x.shape[0]},), one per trial; got {y.shape}."
        )
    if len(np.unique(y)) < 2:
        raise ValueError(f"{name} needs at least two labels (manifolds); got {np.unique(y)}.")
    return x, y


def _strata(labels: np.ndarray) -> list[np.ndarray]:
    return [np.flatnonzero(labels == value) for value in np.unique(labels)]


def _stratified_resample(rng: np.random.Generator, strata: list[np.ndarray]) -> np.ndarray:
    """Trial indices drawn with replacement within each label (each label keeps its count)."""
    return np.concatenate([rng.choice(idx, size=idx.size, replace=True) for idx in strata])


def _replicate_batch(
    statistic: Statistic, arrays: tuple[np.ndarray, ...], picks: list[tuple[np.ndarray, np.ndarray]]
) -> list[float]:
    """``statistic(b[ib]) - statistic(a[ia])`` for each ``(ia, ib)`` of one batch."""
    xa, ya, xb, yb = arrays
    return [float(statistic(xb[ib], yb[ib])) - float(statistic(xa[ia], ya[ia])) for ia, ib in picks]


def _replicates(
    statistic: Statistic,
    arrays: tuple[np.ndarray, ...],
    picks: list[tuple[np.ndarray, np.ndarray]],
    n_jobs: int,
) -> np.ndarray:
    """The replicate differences, in order, batched through :func:`neurogeom.parallel.parallel_map`."""

    if not picks:
        return np.full(0, np.nan)
    one = functools.partial(_replicate_batch, statistic, arrays)
    return np.asarray(
        [v for part in parallel_map(one, batches(picks, n_jobs), n_jobs=n_jobs) for v in part],
        dtype=float,
    )


def permutation_p_value(observed: float, null: ArrayLike, *, exact: bool = False) -> float:
    """Two-sided permutation p-value of an observed statistic against its null replicates.

    Parameters
    ----------
    observed : float
        The statistic on the data.
    null : array_like, shape (n,)
        The statistic on permuted data (NaN replicates are left out).
    exact : bool, default=False
        ``null`` enumerates every permutation (the identity among them): the p-value is
        ``#{|null| >= |observed|} / n``; otherwise (random permutations)
        ``(1 + #{|null| >= |observed|}) / (1 + n)``.

    Returns
    -------
    float
        The p-value in (0, 1]; NaN when ``observed`` is not finite or no null replicate is.

    See Also
    --------
    percentile_ci : an interval from replicates.
    difference_test : a permutation test of a change.

    Examples
    --------
    >>> permutation_p_value(2.0, [0.5, -3.0, 1.0])
    0.5
    """
    values = np.asarray(null, dtype=float).ravel()
    values = values[np.isfinite(values)]
    if not np.isfinite(observed) or values.size == 0:
        return float("nan")
    hits = np.count_nonzero(np.abs(values) >= abs(observed) - 1e-12 * max(1.0, abs(observed)))
    if exact:
        return float(hits / values.size)
    return float((1 + hits) / (1 + values.size))


def difference_test(
    statistic: Statistic,
    points_a: ArrayLike,
    labels_a: ArrayLike,
    points_b: ArrayLike,
    labels_b: ArrayLike,
    *,
    n_boot: int = 100,
    n_perm: int = 100,
    seed: int = 0,
    confidence: float = 0.95,
    n_jobs: int = 1,
) -> xr.Dataset:
    """Difference of a statistic between two stages of (points, labels) arrays, with a CI and p-value.

    The array-level test; for population tensors with a ``stage`` dim use
    :func:`neurogeom.learning.stage_difference`.

    The difference is ``statistic(points_b, labels_b) - statistic(points_a, labels_a)`` (stage b
    minus stage a, e.g. after minus before). Its confidence interval resamples trials with
    replacement within each label of each stage (a stratified bootstrap: every manifold keeps its
    number of points); its p-value permutes the stage of each trial within each label (the null:
    the two stages' trials are exchangeable, label by label), two-sided.

    Parameters
    ----------
    statistic : callable
        ``statistic(points, labels) -> float``: points of shape (n_trials, n_units), labels of
        shape (n_trials,). E.g. ``lambda x, y: float(glue(x, y)["capacity"])``.
    points_a, points_b : array_like, shape (n_trials_a, n_units), (n_trials_b, n_units)
        The two stages' points (the same units: the permutation pools their trials).
    labels_a, labels_b : array_like, shape (n_trials_a,), (n_trials_b,)
        Condition labels of each trial; both stages must hold the same label values.
    n_boot : int, default=100
        Bootstrap replicates for the confidence interval (0 skips it: the interval is NaN).
    n_perm : int, default=100
        Permutations for the p-value (0 skips it: the p-value is NaN). Its resolution is
        ``1 / (n_perm + 1)``.
    seed : int, default=0
        Seed; the bootstrap and the permutation use independent child streams.
    confidence : float, default=0.95
        Coverage of the percentile interval.
    n_jobs : int, default=1
        Workers for the replicates (:func:`neurogeom.parallel.parallel_map`; inside
        ``neurogeom.parallel.cluster(...)`` they run on that cluster). The resamples are drawn
        here, in order, so the numbers do not depend on it. ``statistic`` must then be
        picklable by cloudpickle (a lambda is).

    Returns
    -------
    xarray.Dataset
        0-d variables ``difference`` (in the units of the statistic), ``value_a``, ``value_b``,
        ``difference_resample_se`` (the standard deviation of the bootstrap replicates),
        ``difference_ci_low``, ``difference_ci_high``, ``p_value``; per-replicate arrays
        ``boot_difference`` (dim ``boot``) and ``null_difference`` (dim ``perm``). attrs from
        ``neurogeom._provenance.provenance`` with ``estimator="difference_test"``,
        ``n_boot``, ``n_perm``, ``seed``, ``confidence``, ``test``.

    Notes
    -----
    The permutation null holds the labels fixed, so it tests a change in the representation, not
    in how many trials each condition has. A p-value cannot be smaller than ``1 / (n_perm + 1)``.

    See Also
    --------
    paired_difference : the test across subjects.
    neurogeom.learning.stage_difference : the test on a population tensor.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 20)
    >>> gap = lambda x, lab: float(np.linalg.norm(x[lab == 0].mean(0) - x[lab == 1].mean(0)))
    >>> a = rng.normal(size=(40, 3)); b = rng.normal(size=(40, 3)) + 2.0 * y[:, None]
    >>> res = difference_test(gap, a, y, b, y, n_boot=200, n_perm=200)
    >>> bool(res["p_value"] < 0.05), bool(res["difference_ci_low"] > 0)
    (True, True)
    """
    checked = check_params("difference_test", n_boot=n_boot, n_perm=n_perm, confidence=confidence)
    n_boot, n_perm, confidence = (checked[k] for k in ("n_boot", "n_perm", "confidence"))
    xa, ya = _points_labels(points_a, labels_a, "stage a")
    xb, yb = _points_labels(points_b, labels_b, "stage b")
    if xa.shape[1] != xb.shape[1]:
        raise ValueError(
            f"the two stages have {xa.shape[1]} and {xb.shape[1]} units; the permutation test "
            "pools their trials, so give both stages the same units (e.g. a pseudo-population)."
        )
    if set(np.unique(ya).tolist()) != set(np.unique(yb).tolist()):
        raise ValueError(
            f"the two stages hold different labels ({np.unique(ya)} vs {np.unique(yb)}); "
            "select the labels both stages share."
        )
    value_a, value_b = float(statistic(xa, ya)), float(statistic(xb, yb))
    observed = value_b - value_a

    rng = np.random.default_rng(child_seed(seed, 0))
    strata_a, strata_b = _strata(ya), _strata(yb)
    picks = [
        (_stratified_resample(rng, strata_a), _stratified_resample(rng, strata_b))
        for _ in range(n_boot)
    ]
    boot = _replicates(statistic, (xa, ya, xb, yb), picks, n_jobs)

    rng = np.random.default_rng(child_seed(seed, 1))
    x_all, y_all = np.concatenate([xa, xb]), np.concatenate([ya, yb])
    in_b = np.r_[np.zeros(len(ya), bool), np.ones(len(yb), bool)]
    strata_all = _strata(y_all)
    perms = []
    for _ in range(n_perm):
        perm = in_b.copy()
        for idx in strata_all:
            perm[idx] = rng.permutation(in_b[idx])
        perms.append((np.flatnonzero(~perm), np.flatnonzero(perm)))
    null = _replicates(statistic, (x_all, y_all, x_all, y_all), perms, n_jobs)

    low, high = percentile_ci(boot, confidence=confidence) if n_boot else (np.nan, np.nan)
    return xr.Dataset(
        {
            "difference": observed,
            "value_a": value_a,
            "value_b": value_b,
            "difference_resample_se": float(np.nanstd(boot, ddof=1)) if n_boot > 1 else np.nan,
            "difference_ci_low": float(low),
            "difference_ci_high": float(high),
            "p_value": permutation_p_value(observed, null) if n_perm else np.nan,
            "boot_difference": ("boot", boot),
            "null_difference": ("perm", null),
        },
        attrs=provenance(
            "difference_test",
            n_boot=n_boot,
            n_perm=n_perm,
            seed=seed,
            confidence=confidence,
            test="stratified bootstrap CI; permutation of stage within label, two-sided",
        ),
    )


def _sign_flips(n: int, n_perm: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Sign patterns of shape (n_flips, n): all 2^n when that is at most ``n_perm``, else random."""
    if 2**n <= n_perm:
        return np.array(list(product([1.0, -1.0], repeat=n))), 1
    return rng.choice([1.0, -1.0], size=(n_perm, n)), 0


def paired_difference(
    values_a: ArrayLike,
    values_b: ArrayLike,
    *,
    subjects: Sequence[str] | None = None,
    n_boot: int = 100,
    n_perm: int = 100,
    seed: int = 0,
    confidence: float = 0.95,
) -> xr.Dataset:
    """Mean paired difference across animals or networks, with a bootstrap CI and a sign-flip test.

    Each subject (an animal, a trained network) gives one value per stage; the per-subject
    differences ``d = values_b - values_a`` are tested against zero by flipping their signs (the
    null: the difference is symmetric about zero for every subject), two-sided on the mean. The
    interval resamples subjects with replacement.

    Parameters
    ----------
    values_a, values_b : array_like, shape (n_subjects,)
        One value of the measure per subject at stage a and at stage b (same subject order).
    subjects : sequence of str, optional
        Subject names (the ``subject`` coord); default ``"0", "1", ...``.
    n_boot : int, default=100
        Bootstrap replicates over subjects (0 skips the interval).
    n_perm : int, default=100
        Sign flips; when ``2 ** n_subjects <= n_perm`` all patterns are enumerated (exact test,
        attrs ``exact=1``).
    seed : int, default=0
        Seed; bootstrap and sign flips use independent child streams.
    confidence : float, default=0.95
        Coverage of the percentile interval.

    Returns
    -------
    xarray.Dataset
        ``difference`` (mean of d), ``difference_resample_se``, ``difference_ci_low``,
        ``difference_ci_high``, ``p_value`` (0-d) and ``subject_difference`` (dim ``subject``);
        attrs ``estimator="paired_difference"``, ``n_boot``, ``n_perm``, ``seed``,
        ``confidence``, ``exact``, ``n_subjects``.

    See Also
    --------
    difference_test : the test on (points, labels) arrays.
    neurogeom.learning.stage_difference : the test on population tensors.

    Examples
    --------
    >>> res = paired_difference([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2.1, 3.2, 3.9, 5.2, 6.1, 7.0])
    >>> round(float(res["difference"]), 2), float(res["p_value"])
    (1.08, 0.03125)
    """
    checked = check_params("paired_difference", n_boot=n_boot, n_perm=n_perm, confidence=confidence)
    n_boot, confidence = checked["n_boot"], checked["confidence"]
    n_perm = _check_count("n_perm", checked["n_perm"], 1)
    a, b = np.asarray(values_a, dtype=float), np.asarray(values_b, dtype=float)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"values_a and values_b must be 1-D with one value per subject; got {a.shape} and "
            f"{b.shape}."
        )
    if a.size < 2 or not np.all(np.isfinite(a) & np.isfinite(b)):
        raise ValueError(
            "a paired test needs at least two subjects with finite values at both stages."
        )
    names = [str(i) for i in range(a.size)] if subjects is None else [str(s) for s in subjects]
    if len(names) != a.size:
        raise ValueError(f"subjects names {len(names)} subjects; the values hold {a.size}.")
    d = b - a
    observed = float(d.mean())
    flips, exact = _sign_flips(d.size, n_perm, np.random.default_rng(child_seed(seed, 1)))
    null = (flips * d).mean(axis=1)
    rng = np.random.default_rng(child_seed(seed, 0))
    boot = d[rng.integers(0, d.size, size=(n_boot, d.size))].mean(axis=1)
    low, high = percentile_ci(boot, confidence=confidence) if n_boot else (np.nan, np.nan)
    return xr.Dataset(
        {
            "difference": observed,
            "difference_resample_se": float(boot.std(ddof=1)) if n_boot > 1 else np.nan,
            "difference_ci_low": float(low),
            "difference_ci_high": float(high),
            "p_value": permutation_p_value(observed, null, exact=bool(exact)),
            "subject_difference": ("subject", d),
        },
        coords={"subject": names},
        attrs=provenance(
            "paired_difference",
            n_boot=n_boot,
            n_perm=n_perm,
            seed=seed,
            confidence=confidence,
            exact=exact,
            n_subjects=int(d.size),
            test="bootstrap over subjects; sign-flip permutation of the mean difference, two-sided",
        ),
    )
