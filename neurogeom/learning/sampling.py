"""Capacity against the number of points per manifold M, and its limit at infinite M.

Anchor points are extreme points of each manifold's sample, and a finite sample's convex hull is
smaller than the manifold's: capacity measured at M points per manifold is inflated, the more so
the smaller M and the higher the manifolds' dimension (balls of radius 0.3 in D = 20 sampled with
M = 100 give about twice the exact capacity). Numbers measured at different M are therefore not
comparable. :func:`capacity_vs_m` measures capacity on a grid of M (seeded subsamples without
replacement), fits the stated form

    alpha(M) = alpha_inf + c * M^(-b)      (c >= 0, b > 0)

by weighted least squares, and reports ``alpha_inf`` with its standard error only where the fit
determines it; otherwise it reports the trend (the log-log slope of capacity on M) and says so.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurogeom._provenance import child_seed, provenance

__all__ = ["FORM", "capacity_vs_m"]

FORM = "alpha(M) = alpha_inf + c * M**(-b), c >= 0, b > 0 (weighted least squares)"


def _grid(m_max: int, m_min: int, n_grid: int) -> np.ndarray:
    if m_max < m_min:
        raise ValueError(
            f"the smallest manifold has {m_max} points, fewer than m_min={m_min}; capacity_vs_m "
            "needs a range of M to fit."
        )
    return np.unique(np.round(np.geomspace(m_min, m_max, n_grid)).astype(int))


def _fit(m: np.ndarray, y: np.ndarray, se: np.ndarray):
    from scipy.optimize import curve_fit

    def form(x, a, c, b):
        return a + c * x ** (-b)

    p0 = (y[-1], max(y[0] - y[-1], 1e-6) * m[0] ** 0.5, 0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        popt, pcov = curve_fit(
            form,
            m,
            y,
            p0=p0,
            sigma=se,
            absolute_sigma=True,
            bounds=([-np.inf, 0.0, 1e-3], [np.inf, np.inf, 10.0]),
            maxfev=20000,
        )
    perr = np.sqrt(np.clip(np.diag(pcov), 0, np.inf))
    return popt, perr


def _subsamples(
    x: np.ndarray, y: np.ndarray, values: np.ndarray, grid: np.ndarray, n_draws: int, seed: int
) -> tuple[list[tuple[np.ndarray, np.ndarray]], list[int]]:
    """``n_draws`` seeded subsamples of M points per manifold at every M of the grid."""
    rows = [np.flatnonzero(y == v) for v in values]
    problems, seeds = [], []
    for i, m in enumerate(grid):
        for d in range(n_draws):
            rng = np.random.default_rng(child_seed(seed, i, d))
            pick = np.concatenate([rng.choice(r, m, replace=False) for r in rows])
            problems.append((x[pick], y[pick]))
            seeds.append(child_seed(seed, i, d))
    return problems, seeds


def _undetermined(
    grid: np.ndarray,
    mean: np.ndarray,
    se: np.ndarray,
    fitted: np.ndarray,
    popt: np.ndarray,
    perr: np.ndarray,
    max_relative_se: float,
) -> str:
    """Why the fit does not determine alpha_inf, or ``"determined"`` where it does."""
    chi2 = float(np.sum(((mean - fitted) / se) ** 2) / max(grid.size - 3, 1))
    if not np.isfinite(perr[0]):
        return "the fit's covariance is not finite (the form is not identified by the data)"
    if perr[0] > max_relative_se * abs(popt[0]):
        return (
            f"alpha_inf's standard error {perr[0]:.3g} exceeds {max_relative_se:g} of its "
            f"value {popt[0]:.3g}: capacity is still moving at the largest M"
        )
    if perr[2] > popt[2] / 2 and popt[1] * grid[-1] ** (-popt[2]) > se[-1]:
        return f"the exponent b = {popt[2]:.3g} +- {perr[2]:.3g} is not determined"
    if chi2 > 4:
        return f"the form does not fit (reduced chi-square {chi2:.2g})"
    return "determined"


def capacity_vs_m(
    points: ArrayLike,
    labels: ArrayLike,
    n_points: Sequence[int] | None = None,
    *,
    n_grid: int = 5,
    m_min: int = 5,
    n_draws: int = 4,
    max_relative_se: float = 0.1,
    seed: int = 0,
    **glue_options: Any,
) -> xr.Dataset:
    """GLUE capacity on a grid of points per manifold M, and its fitted limit at infinite M.

    Parameters
    ----------
    points : array_like, shape (n_points, n_features)
    labels : array_like, shape (n_points,)
        Manifold label of each point.
    n_points : sequence of int, optional
        The grid of points per manifold M (default: ``n_grid`` log-spaced values from ``m_min``
        to the smallest manifold's count).
    n_grid : int, default=5
        Values of M in the default grid.
    m_min : int, default=5
        Smallest M of the default grid.
    n_draws : int, default=4
        Seeded subsamples (without replacement) at each M; draw ``d`` at grid point ``i`` is
        drawn and measured with ``child_seed(seed, i, d)``.
    max_relative_se : float, default=0.1
        ``alpha_inf`` is reported only when its standard error is at most this share of it,
        the exponent ``b`` is determined (its standard error below half its value) or the fitted
        excess at the largest M is below that point's standard error (converged within the
        grid), and the fit passes through the data (reduced chi-square below 4).
    seed : int, default=0
    **glue_options
        Options of :func:`neurogeom.geometry.glue` (``n_t=200``, ``kappa``, ...).

    Returns
    -------
    xarray.Dataset
        Over ``n_points`` (the grid of M): ``capacity`` (mean over draws), ``capacity_se`` (its
        standard error: spread of the draws and Monte-Carlo error), ``capacity_draws``
        (n_points, draw), ``fitted``. 0-d: ``alpha_inf``, ``alpha_inf_se`` (NaN where the fit
        does not determine it), ``c``, ``b`` and their ``*_se``, ``trend`` (slope of log
        capacity on log M, always reported). attrs: form, determined (0/1), reason,
        n_draws, seed, the glue options.

    See Also
    --------
    neurogeom.geometry.capacity.glue : the capacity at one number of points.
    neurogeom.learning.study_geometry : a study's floor of points per manifold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(4), 40)
    >>> x = rng.normal(size=(160, 60)) + 3 * np.eye(60)[labels]
    >>> res = capacity_vs_m(x, labels, n_grid=3, n_draws=2, n_t=50)
    >>> res.n_points.values.tolist(), float(res.trend) < 0
    ([5, 14, 40], True)
    """
    from neurogeom.geometry import glue_batch

    x = np.asarray(points, dtype=float)
    y = np.asarray(labels)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(
            f"points must be (n_points, n_features) and labels (n_points,); got {x.shape} and "
            f"{y.shape}."
        )
    values, counts = np.unique(y, return_counts=True)
    if values.size < 2:
        raise ValueError("capacity_vs_m needs at least two manifolds.")
    grid = (
        _grid(int(counts.min()), int(m_min), int(n_grid))
        if n_points is None
        else np.asarray(sorted(set(int(m) for m in n_points)))
    )
    if grid.max() > counts.min():
        raise ValueError(f"M = {grid.max()} exceeds the smallest manifold's {counts.min()} points.")
    if grid.size < 3:
        raise ValueError(f"a fit of {FORM!r} needs at least 3 values of M; got {grid.tolist()}.")
    problems, seeds = _subsamples(x, y, values, grid, n_draws, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = glue_batch(problems, seed=seeds, **glue_options)
    cap = ds["capacity"].values.reshape(grid.size, n_draws)
    sem = ds["capacity_sem"].values.reshape(grid.size, n_draws)
    mean = cap.mean(axis=1)
    spread = cap.std(axis=1, ddof=1) if n_draws > 1 else np.zeros(grid.size)
    se = np.sqrt((spread**2 + (sem**2).mean(axis=1)) / n_draws)
    se = np.maximum(se, 1e-9)
    trend = float(np.polyfit(np.log(grid), np.log(mean), 1)[0])
    fitted = np.full(grid.size, np.nan)
    popt, perr = np.full(3, np.nan), np.full(3, np.nan)
    reason = "determined"
    try:
        popt, perr = _fit(grid.astype(float), mean, se)
        fitted = popt[0] + popt[1] * grid ** (-popt[2])
        reason = _undetermined(grid, mean, se, fitted, popt, perr, max_relative_se)
    except (RuntimeError, ValueError) as err:
        reason = f"the fit failed: {err}"
    determined = reason == "determined"
    a, a_se = (popt[0], perr[0]) if determined else (np.nan, np.nan)
    return xr.Dataset(
        {
            "capacity": ("n_points", mean),
            "capacity_se": ("n_points", se),
            "capacity_draws": (("n_points", "draw"), cap),
            "fitted": ("n_points", fitted),
            "alpha_inf": float(a),
            "alpha_inf_se": float(a_se),
            "c": float(popt[1]),
            "c_se": float(perr[1]),
            "b": float(popt[2]),
            "b_se": float(perr[2]),
            "trend": trend,
        },
        coords={"n_points": grid, "draw": np.arange(n_draws)},
        attrs=provenance(
            "capacity_vs_m",
            form=FORM,
            determined=int(determined),
            reason=reason if not determined else "alpha_inf determined by the fit",
            n_draws=int(n_draws),
            seed=int(seed),
            max_relative_se=float(max_relative_se),
            n_manifolds=int(values.size),
            **{k: v for k, v in glue_options.items() if isinstance(v, (int, float, str))},
        ),
    )
