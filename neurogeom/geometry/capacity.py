"""Manifold capacity: GLUE (anchor points and effective geometry) and simulated capacity.

Two estimators, never mixed (MFTMA, the per-manifold mean-field estimator, lives in
:mod:`neurogeom.geometry.mftma`):

- :func:`glue` solves, for each of ``n_t`` samples of a dichotomy ``y`` and a Gaussian probe ``t``,
  the joint problem ``F(y, t) = min ||v - t||^2 s.t. y_mu <v, x> >= kappa`` for every point x of
  every manifold mu, and reports ``capacity = P / E[F]`` with the effective radius, dimension,
  utility and alignments of the anchor points (Chou, Le, Wang & Chung 2025).
- :func:`simulated_capacity` finds the number of random projections ``N_c`` at which half of random
  dichotomies stay linearly separable, and reports ``P / N_c`` (Cover 1965; Cohen et al. 2020).

Both take plain arrays: ``points`` of shape (n_points, n_features) and one label per point.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import xarray as xr
from scipy import stats
from scipy.optimize import linprog

from neurogeom.geometry import _dual, _validate, effective

__all__ = ["glue", "simulated_capacity"]

_DICHOTOMIES = ("random", "one_vs_rest", "pairwise")

# independent random streams derived from ``seed``
_STREAM_SUBSAMPLE, _STREAM_PROJECTION, _STREAM_JITTER, _STREAM_DICHOTOMY, _STREAM_PROBE = range(5)
_STREAM_SIMULATED = 7


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("neurogeom")
    except Exception:  # pragma: no cover - not installed
        return "unknown"


# ---- preprocessing ------------------------------------------------------------------------------


def _preprocess(
    x: np.ndarray,
    codes: np.ndarray,
    n_manifolds: int,
    names: list[Hashable],
    *,
    n_points_per_manifold: int | None,
    projection_dim: int | None,
    jitter: float,
    center: bool,
    seed: int,
    caller: str,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Subsample, centre, randomly project and jitter; returns points, codes and provenance."""
    info: dict[str, Any] = {"n_features_input": int(x.shape[1])}
    counts = np.bincount(codes, minlength=n_manifolds)
    if n_points_per_manifold is not None:
        m = _validate.positive_int(n_points_per_manifold, "n_points_per_manifold", caller)
        short = np.flatnonzero(counts < m)
        if short.size:
            raise ValueError(
                f"{caller}() was asked for n_points_per_manifold={m}, but manifold "
                f"{names[short[0]]!r} has only {counts[short[0]]} points (smallest: "
                f"{counts.min()}). Lower n_points_per_manifold or drop that manifold."
            )
        rng = _rng(seed, _STREAM_SUBSAMPLE)
        keep = np.concatenate(
            [
                np.sort(rng.choice(np.flatnonzero(codes == mu), m, replace=False))
                for mu in range(n_manifolds)
            ]
        )
        x, codes = x[keep], codes[keep]
    info["n_points_per_manifold"] = (
        -1 if n_points_per_manifold is None else int(n_points_per_manifold)
    )
    if center:
        x = x - x.mean(axis=0)
        if not np.any(np.abs(x) > 1e-12 * (np.abs(x).max() + 1e-300)):
            raise ValueError(
                f"{caller}(center=True) left nothing: every point equals the grand mean. "
                "Check the input."
            )
    info["center"] = int(bool(center))
    applied = False
    if projection_dim is not None:
        d = _validate.positive_int(projection_dim, "projection_dim", caller)
        if x.shape[1] > d:
            proj = _rng(seed, _STREAM_PROJECTION).standard_normal((x.shape[1], d)) / np.sqrt(d)
            x = x @ proj
            applied = True
    info["projection_dim"] = -1 if projection_dim is None else int(projection_dim)
    info["projection_applied"] = int(applied)
    if jitter:
        x = x + jitter * _rng(seed, _STREAM_JITTER).standard_normal(x.shape)
    info["jitter"] = float(jitter)
    info["n_features"] = int(x.shape[1])
    return x, codes, info


def _manifold_coord(names: list[Hashable]) -> np.ndarray:
    arr = np.asarray(names)
    if arr.dtype == object or arr.ndim != 1:
        arr = np.asarray([str(n) for n in names])
    return arr


# ---- GLUE ---------------------------------------------------------------------------------------


def _draw_dichotomies(
    scheme: str | np.ndarray, n_t: int, n_manifolds: int, seed: int
) -> np.ndarray:
    rng = _rng(seed, _STREAM_DICHOTOMY)
    if isinstance(scheme, np.ndarray):
        return scheme[np.arange(n_t) % scheme.shape[0]]
    if scheme == "random":
        return rng.choice(np.array([-1.0, 1.0]), size=(n_t, n_manifolds))
    # one_vs_rest: each manifold in turn against all others (stratified, shuffled order)
    y = -np.ones((n_t, n_manifolds))
    which = rng.permutation(np.arange(n_t) % n_manifolds)
    y[np.arange(n_t), which] = 1.0
    return y


def _glue_core(
    x: np.ndarray,
    codes: np.ndarray,
    n_manifolds: int,
    y: np.ndarray,
    *,
    kappa: float,
    seed: int,
    dtype: type,
    backend: str,
    anchor_center: str,
    alignment: str,
    max_iter: int,
    return_anchors: bool,
) -> dict[str, Any]:
    """One GLUE evaluation on prepared points; returns per-sample arrays and summaries."""
    n_t = y.shape[0]
    red = _dual.reduce_points(x, dtype=dtype)
    factor = red.factor.astype(np.float64)
    probes = _rng(seed, _STREAM_PROBE).standard_normal((n_t, red.rank))
    signs = y[:, codes]
    lam, solver_stats = _dual.solve_batch(
        factor, signs, probes, kappa, max_iter=max_iter, backend=backend, gram=red.gram
    )
    disp = (signs * lam) @ factor
    f_vals = np.einsum("kd,kd->k", disp, disp)

    # anchors: s_mu = sum_i lam_i x_i / Lambda_mu over the points of manifold mu
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(n_manifolds + 1))
    lam_sorted, factor_sorted = lam[:, order], factor[order]
    totals = np.empty((n_t, n_manifolds))
    anchors = np.empty((n_t, n_manifolds, red.rank))
    for mu in range(n_manifolds):
        sl = slice(bounds[mu], bounds[mu + 1])
        totals[:, mu] = lam_sorted[:, sl].sum(axis=1)
        np.matmul(lam_sorted[:, sl], factor_sorted[sl], out=anchors[:, mu])
    grand = totals.sum(axis=1, keepdims=True)
    active = totals > 1e-12 * np.maximum(grand, 1e-300)
    anchors /= np.where(active, totals, 1.0)[..., None]
    anchors[~active] = 0.0
    centers = effective.anchor_centers(anchors, active, anchor_center)
    a, b, c, align = effective.anchor_geometry(
        anchors, active, probes, centers, normalise=alignment == "cosine"
    )
    summary = effective.summarize(n_manifolds, a, b, c, align)
    mean_f = float(f_vals.mean())
    cap = n_manifolds / mean_f if mean_f > 0 else float("inf")
    sem_f = float(np.std(f_vals, ddof=1) / np.sqrt(n_t)) if n_t > 1 else float("nan")
    summary["capacity"] = (cap, cap * sem_f / mean_f if mean_f > 0 else float("nan"))
    out: dict[str, Any] = {
        "summary": summary,
        "F": f_vals,
        "a": a,
        "b": b,
        "c": c,
        "active": active,
        "rank": red.rank,
        "path": red.path,
        "solver": solver_stats,
    }
    if return_anchors:
        full = np.full((n_t, n_manifolds, x.shape[1]), np.nan)
        for mu in range(n_manifolds):
            idx = np.flatnonzero(codes == mu)
            with np.errstate(invalid="ignore", divide="ignore"):
                full[:, mu] = (lam[:, idx] @ x[idx]) / totals[:, mu, None]
        full[~active] = np.nan
        out["anchors"] = full
    return out


_MEASURES = (
    "capacity",
    "radius",
    "dimension",
    "utility",
    "center_alignment",
    "axis_alignment",
    "center_axis_alignment",
)


def glue(
    points: Any,
    labels: Any,
    *,
    n_t: int = 200,
    kappa: float = 0.0,
    seed: int = 0,
    dichotomies: Literal["random", "one_vs_rest", "pairwise"] | np.ndarray = "random",
    n_points_per_manifold: int | None = None,
    projection_dim: int | None = None,
    jitter: float = 0.0,
    center: bool = False,
    return_anchors: bool = False,
    dtype: type = np.float64,
    backend: Literal["numpy", "torch"] = "numpy",
    anchor_center: Literal["active", "all"] = "active",
    alignment: Literal["cosine", "inner"] = "cosine",
    max_iter: int = 300,
) -> xr.Dataset:
    """GLUE manifold capacity and effective geometry from anchor points.

    For ``n_t`` samples of a dichotomy ``y`` (one sign per manifold) and a Gaussian probe ``t``,
    solves ``F(y, t) = min_v ||v - t||^2`` subject to ``y_mu <v, x> >= kappa`` for every point x
    of every manifold, exactly, for all samples at once (the problem is reduced to the span of the
    points, so the number of features drops out). Capacity is ``P / E[F]``; radius, dimension,
    utility and alignments come from the anchor points (see :mod:`neurogeom.geometry.effective`).

    Parameters
    ----------
    points : array-like of shape (n_points, n_features)
        Points of all manifolds (e.g. trials x units), finite.
    labels : array-like of shape (n_points,)
        Manifold label of each point (any hashable values; at least two distinct).
    n_t : int, default=200
        Number of (y, t) samples.
    kappa : float, default=0.0
        Margin. With ``kappa > 0`` every dichotomy must be separable with that margin.
    seed : int, default=0
        Seed of every random draw (subsampling, projection, jitter, dichotomies, probes).
    dichotomies : {"random", "one_vs_rest", "pairwise"} or ndarray of shape (n_dichotomies, P)
        ``"random"``: uniform +-1 per manifold. ``"one_vs_rest"``: one manifold +1, the rest -1,
        each manifold in turn. ``"pairwise"``: GLUE on every pair of manifolds (P = 2, labels
        +1/-1, ``n_t`` samples per pair); measures are averaged over pairs. An array: sample k
        uses row ``k % n_dichotomies`` (columns in sorted label order).
    n_points_per_manifold : int, optional
        Subsample this many points from every manifold (without replacement). Keep it fixed across
        comparisons: anchors are extreme points, so capacity is biased upward at small M.
    projection_dim : int, optional
        Gaussian random projection to this many features when there are more.
    jitter : float, default=0.0
        Standard deviation of Gaussian noise added to every coordinate (e.g. 1e-6 for ReLU
        features with exact ties).
    center : bool, default=False
        Subtract the grand mean of all points first (capacity is not translation invariant).
    return_anchors : bool, default=False
        Also return the anchor points (sample, manifold, feature) in the preprocessed features.
    dtype : np.float64 or np.float32, default=np.float64
        Precision of the Gram matrix and its factor (float32 halves memory). The dual is iterated
        in float32 and always finished and checked in float64.
    backend : {"numpy", "torch"}, default="numpy"
        Where the batched iterations run (``"torch"`` uses CUDA when available).
    anchor_center : {"active", "all"}, default="active"
        How samples where a manifold is inactive enter its anchor centre: skipped (reference
        code) or counted as zero.
    alignment : {"cosine", "inner"}, default="cosine"
        Alignments as mean |cosine| (in [0, 1]) or mean |inner product| (unnormalised).
    max_iter : int, default=300
        Most batched iterations before the exact finish.

    Returns
    -------
    xarray.Dataset
        Scalars ``capacity``, ``radius``, ``dimension``, ``utility``, ``center_alignment``,
        ``axis_alignment``, ``center_axis_alignment``, each with ``<name>_sem`` (Monte-Carlo
        standard error); per manifold (dim ``manifold``, coord = the labels) ``n_points`` and
        ``active_fraction``; per sample ``F``; with ``return_anchors`` also ``anchors``
        (sample, manifold, feature; NaN where inactive) and ``dichotomy`` (sample, manifold).
        ``attrs`` record the estimator and every parameter and preprocessing step.

    Notes
    -----
    Invariant to: rotation, reflection, isotropic scaling.
    Direction: larger_is_more_separable (for ``capacity`` and ``utility``; larger ``radius``,
    ``dimension`` and centre alignment mean less separable manifolds).

    Also invariant to zero-padding of the features and to the order of the labels' names; not
    to translation (use ``center=True``) or to the number of points per manifold. For P points in
    general position capacity is 2; for balls of radius 1 in dimension D it is 2 / (D + 1).
    The exact identity ``capacity = utility (1 + radius^-2) / dimension`` holds at ``kappa = 0``.

    References
    ----------
    Chou, Le, Wang & Chung (2025), Feature learning beyond the lazy-rich dichotomy, ICML.
    Chung, Lee & Sompolinsky (2018), Classification and geometry of general perceptual manifolds,
    Phys. Rev. X 8, 031003.
    """
    caller = "glue"
    x, codes, names = _validate.points_and_labels(points, labels, caller=caller)
    n_t = _validate.positive_int(n_t, "n_t", caller, minimum=2)
    kappa = _validate.finite_real(kappa, "kappa", caller)
    seed = _validate.positive_int(seed, "seed", caller, minimum=0)
    jitter = _validate.finite_real(jitter, "jitter", caller, minimum=0.0)
    dtype = _validate.float_dtype(dtype, caller)
    backend = _validate.backend_name(backend, caller)
    anchor_center = _validate.choice(anchor_center, "anchor_center", ("active", "all"), caller)
    alignment = _validate.choice(alignment, "alignment", ("cosine", "inner"), caller)
    max_iter = _validate.positive_int(max_iter, "max_iter", caller)
    n_manifolds = len(names)
    if isinstance(dichotomies, str):
        scheme: str | np.ndarray = _validate.choice(
            dichotomies, "dichotomies", _DICHOTOMIES, caller
        )
    else:
        scheme = _validate.dichotomy_array(dichotomies, n_manifolds, caller)
    if isinstance(scheme, str) and scheme == "pairwise" and return_anchors:
        raise ValueError(
            "glue(dichotomies='pairwise') runs one problem per pair of manifolds and cannot "
            "return anchors; use return_anchors=False, or another dichotomy scheme."
        )
    x, codes, info = _preprocess(
        x,
        codes,
        n_manifolds,
        names,
        n_points_per_manifold=n_points_per_manifold,
        projection_dim=projection_dim,
        jitter=jitter,
        center=center,
        seed=seed,
        caller=caller,
    )
    kw = dict(
        kappa=kappa,
        seed=seed,
        dtype=dtype,
        backend=backend,
        anchor_center=anchor_center,
        alignment=alignment,
        max_iter=max_iter,
    )
    counts = np.bincount(codes, minlength=n_manifolds)
    sample_vars: dict[str, Any] = {}
    if isinstance(scheme, str) and scheme == "pairwise":
        results = []
        active_frac = np.zeros(n_manifolds)
        for mu, nu in itertools.combinations(range(n_manifolds), 2):
            sel = (codes == mu) | (codes == nu)
            sub_codes = (codes[sel] == nu).astype(np.intp)
            y = np.tile(np.array([1.0, -1.0]), (n_t, 1))
            res = _glue_core(x[sel], sub_codes, 2, y, return_anchors=False, **kw)
            results.append(res)
            active_frac[[mu, nu]] += res["active"].mean(axis=0)
        n_pairs = len(results)
        summary = {}
        for name in _MEASURES:
            vals = np.array([r["summary"][name][0] for r in results])
            sems = np.array([r["summary"][name][1] for r in results])
            ok = np.isfinite(vals)
            mean = float(vals[ok].mean()) if ok.any() else float("nan")
            summary[name] = (mean, float(np.sqrt(np.sum(sems[ok] ** 2))) / max(int(ok.sum()), 1))
        active_frac /= n_manifolds - 1
        rank = max(r["rank"] for r in results)
        path = results[0]["path"]
        solver = {k: sum(r["solver"][k] for r in results) for k in results[0]["solver"]}
        info["n_pairs"] = n_pairs
    else:
        y = _draw_dichotomies(scheme, n_t, n_manifolds, seed)
        res = _glue_core(x, codes, n_manifolds, y, return_anchors=return_anchors, **kw)
        summary = res["summary"]
        active_frac = res["active"].mean(axis=0)
        rank, path, solver = res["rank"], res["path"], res["solver"]
        sample_vars["F"] = (("sample",), res["F"])
        if return_anchors:
            sample_vars["anchors"] = (("sample", "manifold", "feature"), res["anchors"])
            sample_vars["dichotomy"] = (("sample", "manifold"), y)
            sample_vars["active"] = (("sample", "manifold"), res["active"])

    data_vars: dict[str, Any] = {}
    for name in _MEASURES:
        val, sem = summary[name]
        data_vars[name] = ((), float(val))
        data_vars[f"{name}_sem"] = ((), float(sem))
    data_vars["n_points"] = (("manifold",), counts.astype(np.int64))
    data_vars["active_fraction"] = (("manifold",), active_frac)
    data_vars.update(sample_vars)
    attrs = {
        "estimator": "glue",
        "n_t": int(n_t),
        "kappa": float(kappa),
        "seed": int(seed),
        "dichotomies": scheme if isinstance(scheme, str) else "given",
        "n_manifolds": int(n_manifolds),
        "M": [int(c) for c in counts],
        "span_dimension": int(rank),
        "reduction": path,
        "anchor_center": anchor_center,
        "alignment": alignment,
        "dtype": np.dtype(dtype).name,
        "backend": backend,
        "solver_support_solves": int(solver["support_solve"]),
        "solver_active_set_rounds": int(solver["active_set_rounds"]),
        "solver_nnls": int(solver["nnls"]),
        "solver_unresolved": int(solver["unresolved"]),
        "neurogeom_version": _version(),
        **info,
    }
    ds = xr.Dataset(
        data_vars,
        coords={"manifold": _manifold_coord(names)},
        attrs=attrs,
    )
    ds["capacity"].attrs.update(
        long_name="GLUE manifold capacity P / E[F]", larger_is_more_separable=1
    )
    return ds


# ---- simulated capacity -------------------------------------------------------------------------


def _separable(z: np.ndarray, signs: np.ndarray, bias: bool) -> bool:
    """Whether ``signs_i (w . z_i [+ b]) >= 1`` is feasible (LP, HiGHS)."""
    if bias:
        z = np.hstack([z, np.ones((z.shape[0], 1))])
    a_ub = -(signs[:, None] * z)
    # retry once without presolve, then with the interior-point solver, on numerical trouble
    for method, options in (("highs", {}), ("highs-ds", {"presolve": False}), ("highs-ipm", {})):
        res = linprog(
            np.zeros(z.shape[1]),
            A_ub=a_ub,
            b_ub=-np.ones(z.shape[0]),
            bounds=(None, None),
            method=method,
            options=options,
        )
        if res.status == 0:
            return True
        if res.status == 2:
            return False
    warnings.warn(
        f"a separability LP stopped with status {res.status} ({res.message}); counted as not "
        "separable.",
        RuntimeWarning,
        stacklevel=3,
    )
    return False


def _crossing(n_grid: np.ndarray, frac: np.ndarray, level: float) -> float:
    """Linear interpolation of the first crossing of ``frac`` (non-decreasing) at ``level``."""
    above = np.flatnonzero(frac >= level)
    if above.size == 0:
        return float("inf")
    hi = above[0]
    if hi == 0:
        return float(n_grid[0])
    lo = hi - 1
    return float(
        n_grid[lo] + (level - frac[lo]) / (frac[hi] - frac[lo]) * (n_grid[hi] - n_grid[lo])
    )


def simulated_capacity(
    points: Any,
    labels: Any,
    *,
    n_dichotomies: int = 101,
    seed: int = 0,
    bias: bool = False,
    dichotomies: Literal["random", "balanced"] = "random",
    confidence: float = 0.95,
    n_points_per_manifold: int | None = None,
    projection_dim: int | None = None,
    jitter: float = 0.0,
    center: bool = False,
) -> xr.Dataset:
    """Simulated manifold capacity ``P / N_c``: half of random dichotomies separable at ``N_c``.

    For each of ``n_dichotomies`` trials a dichotomy ``y`` and a Gaussian random projection of
    the points' span are drawn once; the projections are nested (the first n rows of one stream),
    so a trial that is separable in n dimensions stays separable in more, and its critical
    dimension ``n*`` (the fewest dimensions in which every point of every manifold is on its
    side of a hyperplane) is found by bisection with an LP feasibility test
    (:func:`scipy.optimize.linprog`, HiGHS). The separable fraction ``p(n)`` is the fraction of
    trials with ``n* <= n``; ``N_c`` is where ``p`` crosses 1/2 (linear interpolation).

    Parameters
    ----------
    points : array-like of shape (n_points, n_features)
    labels : array-like of shape (n_points,)
    n_dichotomies : int, default=101
        Number of trials (dichotomy + projection).
    seed : int, default=0
    bias : bool, default=False
        Hyperplanes with a bias term. Without (the default), P points in general position give
        capacity exactly 2 (Cover 1965); with a bias, ``P / (P/2 - 1)``.
    dichotomies : {"random", "balanced"}, default="random"
        Uniform +-1 per manifold, or exactly P // 2 manifolds labelled +1.
    confidence : float, default=0.95
        Level of the interval: ``N_c`` is bracketed by the crossings of ``p(n)`` at
        ``1/2 -+ z sqrt(1/(4 n_dichotomies))``.
    n_points_per_manifold, projection_dim, jitter, center
        Preprocessing, as in :func:`glue`.

    Returns
    -------
    xarray.Dataset
        ``capacity``, ``capacity_low``, ``capacity_high``, ``critical_dimension`` (N_c);
        ``separable_fraction`` over dim ``n_dimensions`` (1..rank of the points); per trial
        ``trial_critical_dimension`` (inf where never separable). ``attrs`` record every setting.

    Notes
    -----
    Invariant to: rotation, reflection, isotropic scaling.
    Direction: larger_is_more_separable.

    Capacity is NaN (with a warning) when fewer than half of the dichotomies are separable even
    in the full span of the points: there are too few features (or points in general position)
    to reach ``N_c``.
    """
    caller = "simulated_capacity"
    x, codes, names = _validate.points_and_labels(points, labels, caller=caller)
    n_rep = _validate.positive_int(n_dichotomies, "n_dichotomies", caller)
    seed = _validate.positive_int(seed, "seed", caller, minimum=0)
    dichotomies = _validate.choice(dichotomies, "dichotomies", ("random", "balanced"), caller)
    confidence = _validate.finite_real(confidence, "confidence", caller)
    if not 0 < confidence < 1:
        raise ValueError(f"{caller}() needs 0 < confidence < 1; got {confidence!r}.")
    jitter = _validate.finite_real(jitter, "jitter", caller, minimum=0.0)
    n_manifolds = len(names)
    x, codes, info = _preprocess(
        x,
        codes,
        n_manifolds,
        names,
        n_points_per_manifold=n_points_per_manifold,
        projection_dim=projection_dim,
        jitter=jitter,
        center=center,
        seed=seed,
        caller=caller,
    )
    red = _dual.reduce_points(x)
    factor, rank = red.factor, red.rank
    critical = np.full(n_rep, np.inf)
    for r in range(n_rep):
        rng = _rng(seed, _STREAM_SIMULATED, r)
        if dichotomies == "random":
            y = rng.choice(np.array([-1.0, 1.0]), size=n_manifolds)
        else:
            y = -np.ones(n_manifolds)
            y[rng.permutation(n_manifolds)[: n_manifolds // 2]] = 1.0
        signs = y[codes]
        state = rng.bit_generator.state
        if not _separable(factor, signs, bias):
            continue
        lo, hi = 0, rank  # not separable at lo (0 dims), separable at hi (the full span)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            gen = np.random.default_rng()
            gen.bit_generator.state = state  # the same nested stream at every n
            proj = gen.standard_normal((mid, rank))
            if _separable(factor @ proj.T, signs, bias):
                hi = mid
            else:
                lo = mid
        critical[r] = hi
    n_grid = np.arange(0, rank + 1)
    frac = (critical[None, :] <= n_grid[:, None]).mean(axis=1)
    n_c = _crossing(n_grid, frac, 0.5)
    half = stats.norm.ppf(0.5 + confidence / 2) * 0.5 / np.sqrt(n_rep)
    n_low = _crossing(n_grid, frac, 0.5 - half)
    n_high = _crossing(n_grid, frac, 0.5 + half)
    if not np.isfinite(n_c):
        warnings.warn(
            f"simulated_capacity(): only {frac[-1]:.0%} of the dichotomies are separable in the "
            f"full {rank}-dimensional span of the points, so N_c (half separable) is not reached; "
            "capacity is NaN. Use more features, or fewer points per manifold.",
            RuntimeWarning,
            stacklevel=2,
        )

    def cap(n: float) -> float:
        return float(n_manifolds / n) if np.isfinite(n) and n > 0 else float("nan")

    ds = xr.Dataset(
        {
            "capacity": ((), cap(n_c)),
            "capacity_low": ((), cap(n_high) if np.isfinite(n_high) else 0.0),
            "capacity_high": ((), cap(n_low)),
            "critical_dimension": ((), n_c),
            "separable_fraction": (("n_dimensions",), frac[1:]),
            "trial_critical_dimension": (("trial",), critical),
            "n_points": (("manifold",), np.bincount(codes, minlength=n_manifolds)),
        },
        coords={"n_dimensions": n_grid[1:], "manifold": _manifold_coord(names)},
        attrs={
            "estimator": "simulated",
            "n_dichotomies": int(n_rep),
            "seed": int(seed),
            "bias": int(bool(bias)),
            "dichotomies": dichotomies,
            "confidence": float(confidence),
            "n_manifolds": int(n_manifolds),
            "M": [int(c) for c in np.bincount(codes, minlength=n_manifolds)],
            "span_dimension": int(rank),
            "neurogeom_version": _version(),
            **info,
        },
    )
    ds["capacity"].attrs.update(long_name="simulated capacity P / N_c", larger_is_more_separable=1)
    return ds
