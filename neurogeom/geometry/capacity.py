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

import functools
import itertools
import os
import warnings
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats
from scipy.optimize import linprog

from neurogeom import _provenance
from neurogeom._params import check_monte_carlo, check_params
from neurogeom.geometry import (
    _dichotomies,
    _dual,
    _glue_batch,
    _separability,
    _threads,
    _validate,
    effective,
)
from neurogeom.geometry.registry import Output, register_measure
from neurogeom.parallel import parallel_map

__all__ = ["glue", "glue_batch", "simulated_capacity"]

_MORE, _LESS = "larger_is_more_separable", "larger_is_less_separable"
_ROT = ("rotation", "reflection", "isotropic scaling")
CAPACITY = Output(
    "capacity", direction=_MORE, kind="capacity", label="capacity α", units="manifolds per unit"
)
GLUE_OUTPUTS = (
    CAPACITY,
    Output(
        "radius",
        direction=_LESS,
        kind="geometry",
        label="radius R",
        units="relative to centre norm",
    ),
    Output("dimension", direction=_LESS, kind="geometry", label="dimension D", units="dimensions"),
    Output(
        "utility", direction=_MORE, kind="geometry", label="utility Ψ", units="fraction, 0 to 1"
    ),
    Output(
        "center_alignment",
        direction=_LESS,
        kind="geometry",
        label="centre alignment",
        units="cos², 0 to 1",
    ),
    Output(
        "axis_alignment",
        direction=_MORE,
        kind="geometry",
        label="axis alignment",
        units="cos, 0 to 1",
    ),
    Output(
        "center_axis_alignment",
        direction=_LESS,
        kind="geometry",
        label="centre-axis alignment",
        units="|cos|, 0 to 1",
    ),
)

# independent random streams derived from ``seed``
_STREAM_SUBSAMPLE, _STREAM_PROJECTION, _STREAM_JITTER, _STREAM_DICHOTOMY, _STREAM_PROBE = range(5)
_STREAM_SIMULATED = 7


def _rng(seed: int, stream: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream, *more])


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
    """Rescale, subsample, centre, randomly project and jitter; returns points, codes and
    provenance (``info["data_scale"]``: the points were divided by it, see
    :func:`neurogeom.geometry._validate.unit_scale`; ``jitter`` is in the input's units)."""
    info: dict[str, Any] = {"n_features_input": int(x.shape[1])}
    x, scale = _validate.unit_scale(x, "points", caller)
    info["data_scale"] = scale
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
        x = x + (jitter / scale) * _rng(seed, _STREAM_JITTER).standard_normal(x.shape)
    info["jitter"] = float(jitter)
    info["n_features"] = int(x.shape[1])
    return x, codes, info


# ---- GLUE ---------------------------------------------------------------------------------------


def _anchors(lam, factor, codes, y):
    """Anchor points (sample, manifold, rank), their totals Lambda_mu, the active mask and
    ``F = ||sum_mu y_mu Lambda_mu s_mu||^2`` of each sample (``y`` its dichotomy).

    The duals are sparse (supported on at most ``rank`` points per sample): the anchors are sums
    over each sample's support (:func:`neurogeom.geometry._dual.anchor_means`)."""
    return _dual.anchor_means(
        np.ascontiguousarray(lam, dtype=np.float64),
        np.ascontiguousarray(factor, dtype=np.float64),
        np.ascontiguousarray(codes, dtype=np.int64),
        np.ascontiguousarray(y, dtype=np.float64),
    )


def _at_floor(f_vals: np.ndarray, norm2: np.ndarray, none: np.ndarray) -> bool:
    """Capacity at the floor P / rank within its error: some samples have no separating
    direction, and the mean gain ``||t||^2 - F`` over all samples is within 2 standard errors of
    zero (exactly zero when no sample has a separating direction)."""
    if not none.any():
        return False
    gain = norm2 - f_vals
    sem = float(np.std(gain, ddof=1) / np.sqrt(gain.size)) if gain.size > 1 else 0.0
    return bool(float(gain.mean()) <= 2.0 * sem)


def _decide(factor, codes, y):
    """Dichotomies up to sign, each sample's index among them, verdicts from the centroid
    direction (+1 separable, 0 open) and the separability counts."""
    uniq, inverse = _separability.canonical(y)
    stats = {"centroid": 0, "probe": 0, "lp": 0, "undecided": 0}
    if factor.shape[1] >= factor.shape[0]:  # linearly independent points: all separable
        return uniq, inverse, np.ones(uniq.shape[0], dtype=np.int8), stats
    verdict = _separability.centroid_certificate(factor, codes, uniq).astype(np.int8)
    stats["centroid"] = int(verdict.sum())
    return uniq, inverse, verdict, stats


def _add_stats(total, more):
    for k, v in more.items():
        total[k] = total.get(k, 0) + v if k != "active_set_rounds" else max(total.get(k, 0), v)
    return total


def _solve_part(factor, kappa, gram, max_iter, backend, part):
    """Exact duals of one part ``(signs, probes)`` of the samples (run by a worker)."""
    signs, probes = part
    with _dual.blas_threads(*factor.shape):
        return _dual.solve_batch(
            factor, signs, probes, kappa, max_iter=max_iter, backend=backend, gram=gram
        )


def _solve_split(factor, signs, probes, kappa, gram, *, max_iter, backend, n_jobs, scheduler):
    """:func:`neurogeom.geometry._dual.solve_batch` on ``n_jobs`` parts of the samples
    through :func:`neurogeom.parallel.parallel_map` (joblib workers, or tasks on the dask cluster
    ``scheduler``), merged in order. Each part holds whole chains of samples of one dichotomy
    (:func:`_whole_chains`), so each sample's exact dual is the one it gets in one batch (up to
    the solver's tolerance where the batched iteration warm-starts it)."""
    n_s = signs.shape[0]
    parts = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    parts = max(1, min(parts, n_s))
    if parts == 1 and scheduler is None:
        return _dual.solve_batch(
            factor, signs, probes, kappa, max_iter=max_iter, backend=backend, gram=gram
        )

    rows = _whole_chains(signs, parts)
    items = [(signs[r], probes[r]) for r in rows]
    func = functools.partial(_solve_part, factor, kappa, gram, max_iter, backend)
    done = parallel_map(func, items, n_jobs=len(items), scheduler=scheduler)
    stats: dict[str, int] = {}
    for _, more in done:
        for k, v in more.items():
            stats[k] = (
                max(stats.get(k, 0), v)
                if k.endswith(("rounds", "iterations"))
                else (stats.get(k, 0) + v)
            )
    lam = np.empty((n_s, factor.shape[0]))
    for r, (part, _) in zip(rows, done):
        lam[r] = part
    return lam, stats


def _whole_chains(signs, parts):
    """The samples dealt to ``parts`` parts (fewer when there are fewer chains) as whole chains
    of :func:`neurogeom.geometry._dual.dichotomy_chains`, largest first to the part with fewest
    samples, each part in sample order: a part forms the same chains alone, so each sample's
    dual does not depend on the split (degenerate duals, and the anchors read from them,
    included), up to the rounding of its linear terms (BLAS may round a row of a product
    differently with the number of rows: then the duals agree to rounding)."""
    members, bounds = _dual.dichotomy_chains(np.ascontiguousarray(signs, dtype=np.float64))
    chains = sorted((members[a:b] for a, b in zip(bounds[:-1], bounds[1:])), key=lambda c: -c.size)
    dealt: list[list[np.ndarray]] = [[] for _ in range(min(parts, len(chains)))]
    load = np.zeros(len(dealt), dtype=np.int64)
    for chain in chains:
        i = int(np.argmin(load))
        dealt[i].append(chain)
        load[i] += chain.size
    return [np.sort(np.concatenate(d)) for d in dealt]


def _solve(factor, codes, y, probes, kappa, gram, *, max_iter, backend, n_jobs=1, scheduler=None):
    """Exact duals of every sample; samples whose dichotomy has no separating direction (kappa=0)
    are not solved (``solve`` False): their dual is left at 0 and their F is ``||t||^2``.

    Separability is decided per dichotomy (up to sign) by one probe problem each (see
    ``neurogeom.geometry._separability``) for those the centroid direction does not settle.
    When each such dichotomy has few samples, the probe problems join the samples' batch;
    otherwise (or at ``kappa != 0``) they are solved first, and samples of dichotomies with no
    separating direction are not solved. ``solver_*`` counts cover both.
    """
    n_t = y.shape[0]
    # small products: on one BLAS thread (two stalled for tens of milliseconds on a busy machine)
    with _dual.one_blas_thread():
        uniq, inverse, verdict, sep_stats = _decide(factor, codes, y)
        open_ = np.flatnonzero(verdict == 0)
        u_signs, u_probes = _separability.probe_problems(factor, codes, uniq[open_])
    signs = y[:, codes]
    lam = np.zeros((n_t, factor.shape[0]))
    stats = {k: 0 for k in ("support_solve", "active_set_rounds", "kkt_relaxed", "nnls")}
    stats.update(unresolved=0, fista_iterations=0)

    def batch(sg, pr, kap):
        return _solve_split(
            factor,
            sg,
            pr,
            kap,
            gram,
            max_iter=max_iter,
            backend=backend,
            n_jobs=n_jobs,
            scheduler=scheduler,
        )

    n_open_samples = int(np.isin(inverse, open_).sum())
    together = kappa == 0.0 and open_.size and n_open_samples <= 2 * open_.size
    if open_.size and not together:
        lam_u, more = batch(u_signs, u_probes, 0.0)
        _add_stats(stats, more)
    if open_.size and together:
        lam_all, more = batch(np.vstack([signs, u_signs]), np.vstack([probes, u_probes]), kappa)
        _add_stats(stats, more)
        lam, lam_u = lam_all[:n_t], lam_all[n_t:]
    if open_.size:
        with _dual.one_blas_thread():
            verdict[open_] = _separability.verdicts(factor, u_signs, u_probes, lam_u)
        sep_stats["probe"] = int(np.count_nonzero(verdict[open_]))
        _separability.settle_by_lp(factor, codes, uniq, verdict, sep_stats)
    none = (verdict == -1)[inverse]
    solve = ~none if kappa == 0.0 else np.ones(n_t, dtype=bool)
    if together:
        lam[~solve] = 0.0
    elif solve.any():
        lam[solve], more = batch(signs[solve], probes[solve], kappa)
        _add_stats(stats, more)
    stats.update({f"separability_{k}": v for k, v in sep_stats.items()})
    return lam, solve, none, stats


def _geometry(anchors, active, probes, n_manifolds, anchor_center, alignment):
    """Radius, dimension, utility and alignments of the samples given (see effective)."""
    centers = effective.anchor_centers(anchors, active, anchor_center)
    a, b, c, align = effective.anchor_geometry(
        anchors, active, probes, centers, normalise=alignment == "cosine"
    )
    return a, b, c, effective.summarize(n_manifolds, a, b, c, align)


def _glue_core(x: np.ndarray, codes: np.ndarray, n_manifolds: int, y: np.ndarray, **kw):
    """:func:`_glue_eval`, with BLAS on one thread for small problems (see
    :func:`neurogeom.geometry._dual.blas_threads`)."""
    with _dual.blas_threads(*x.shape):
        return _glue_eval(x, codes, n_manifolds, y, **kw)


def _glue_eval(
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
    n_jobs: int = 1,
    scheduler: Any = None,
) -> dict[str, Any]:
    """One GLUE evaluation on prepared points; returns per-sample arrays and summaries.

    Samples whose dichotomy has no separating direction enter the capacity (F = ||t||^2) but not
    the anchor geometry (their anchors are not defined: any dual with ``sum lam y x = -t`` is
    optimal); they are reported inactive on every manifold.
    """
    n_t = y.shape[0]
    red = _dual.reduce_points(x, dtype=dtype)
    factor = red.factor.astype(np.float64, copy=False)
    probes = _rng(seed, _STREAM_PROBE).standard_normal((n_t, red.rank))
    lam, solved, none, solver_stats = _solve(
        factor,
        codes,
        y,
        probes,
        kappa,
        red.gram,
        max_iter=max_iter,
        backend=backend,
        n_jobs=n_jobs,
        scheduler=scheduler,
    )
    anchors, totals, active, f_vals = _anchors(lam, factor, codes, y)
    norm2 = np.einsum("kd,kd->k", probes, probes)
    f_vals[~solved] = norm2[~solved]
    active[none] = False
    floor = _at_floor(f_vals, norm2, none)
    geo = ~none
    summary = {name: (float("nan"), float("nan")) for name in _MEASURES[1:]}
    if not floor and geo.sum() >= 2:
        sel = slice(None) if geo.all() else geo  # no copy of the anchors when all are separable
        _, _, _, found = _geometry(
            anchors[sel], active[sel], probes[sel], n_manifolds, anchor_center, alignment
        )
        summary.update({name: found[name] for name in _MEASURES[1:]})
    mean_f = float(f_vals.mean())
    cap = n_manifolds / mean_f if mean_f > 0 else float("inf")
    sem_f = float(np.std(f_vals, ddof=1) / np.sqrt(n_t)) if n_t > 1 else float("nan")
    summary["capacity"] = (cap, cap * sem_f / mean_f if mean_f > 0 else float("nan"))
    out: dict[str, Any] = {
        "summary": summary,
        "F": f_vals,
        "separable": geo,
        "active": active,
        "rank": red.rank,
        "path": red.path,
        "solver": solver_stats,
        "no_separating_fraction": float(none.mean()),
        "at_floor": floor,
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


def _floor_warning(caller: str, n_manifolds: int, rank: int, fraction: float) -> None:
    warnings.warn(
        f"{caller}(): capacity sits at its floor P / rank = {n_manifolds}/{rank} = "
        f"{n_manifolds / max(rank, 1):.4g}: {fraction:.0%} of the samples' dichotomies have no "
        "separating direction, so radius, dimension, utility and alignments carry no information "
        "about geometry and are NaN. Try fewer points per manifold (n_points_per_manifold=), a "
        "shorter time window, or more units.",
        RuntimeWarning,
        stacklevel=3,
    )


def _pairwise(x, codes, n_manifolds, n_t, kw):
    """GLUE on every pair of manifolds (P = 2, the one dichotomy +1/-1); measures averaged over
    pairs, pairs at the floor left out of the geometry."""
    results = []
    active_frac = np.zeros(n_manifolds)
    for mu, nu in itertools.combinations(range(n_manifolds), 2):
        sel = (codes == mu) | (codes == nu)
        sub_codes = (codes[sel] == nu).astype(np.intp)
        y = np.tile(np.array([1.0, -1.0]), (n_t, 1))
        res = _glue_core(x[sel], sub_codes, 2, y, return_anchors=False, **kw)
        results.append(res)
        active_frac[[mu, nu]] += res["active"].mean(axis=0)
    summary = {}
    for name in _MEASURES:
        vals = np.array([r["summary"][name][0] for r in results])
        sems = np.array([r["summary"][name][1] for r in results])
        ok = np.isfinite(vals)
        mean = float(vals[ok].mean()) if ok.any() else float("nan")
        summary[name] = (mean, float(np.sqrt(np.sum(sems[ok] ** 2))) / max(int(ok.sum()), 1))
    return {
        "summary": summary,
        "active_fraction": active_frac / (n_manifolds - 1),
        "rank": max(r["rank"] for r in results),
        "path": results[0]["path"],
        "solver": {k: sum(r["solver"][k] for r in results) for k in results[0]["solver"]},
        "no_separating_fraction": float(np.mean([r["no_separating_fraction"] for r in results])),
        "at_floor": all(r["at_floor"] for r in results),
        "n_pairs": len(results),
        "n_t": n_t,
    }


def _scaled_margin(kappa: float, scale: float, caller: str) -> float:
    """The margin in units of the rescaled points (see :func:`_preprocess`)."""
    out = kappa / scale
    if not np.isfinite(out):
        raise ValueError(
            f"{caller}() got kappa={kappa!r} for points of overall scale {scale:.3g}: the margin "
            "relative to the points' scale overflows. Give kappa in the points' units."
        )
    return float(out)


def _check_glue_options(dichotomies, n_manifolds, return_anchors, caller):
    if isinstance(dichotomies, str):
        scheme: str | np.ndarray = _validate.choice(
            dichotomies, "dichotomies", (*_dichotomies.ENSEMBLES, "pairwise"), caller
        )
    else:
        scheme = _validate.dichotomy_array(dichotomies, n_manifolds, caller)
    if isinstance(scheme, str) and scheme == "pairwise" and return_anchors:
        raise ValueError(
            "glue(dichotomies='pairwise') runs one problem per pair of manifolds and cannot "
            "return anchors; use return_anchors=False, or another dichotomy scheme."
        )
    return scheme


def _glue_dataset(res, names, counts, sample_vars, attrs):
    data_vars: dict[str, Any] = {}
    for name in _MEASURES:
        val, sem = res["summary"][name]
        data_vars[name] = ((), float(val))
        data_vars[f"{name}_sem"] = ((), float(sem))
    data_vars["active_fraction"] = (("manifold",), res["active_fraction"])
    data_vars.update(sample_vars)
    ds = xr.Dataset(
        data_vars,
        coords={
            "manifold": _validate.label_values(names),
            "n_points": ("manifold", counts.astype(np.int64)),
        },
        attrs=attrs,
    )
    ds["capacity"].attrs.update(larger_is_more_separable=1)
    return ds


def _glue_samples(x, codes, n_manifolds, scheme, n_t, seed, return_anchors, scale, info, kw):
    """glue()'s evaluation: every pair of manifolds, or the samples of the ensemble drawn;
    returns the result, the number of distinct dichotomies (or pairs), the samples used and the
    per-sample variables of the Dataset."""
    sample_vars: dict[str, Any] = {}
    if isinstance(scheme, str) and scheme == "pairwise":
        res = _pairwise(x, codes, n_manifolds, n_t, kw)
        info["n_pairs"] = res["n_pairs"]
        n_distinct, n_used = res["n_pairs"], n_t
    else:
        y, n_distinct, _ = _dichotomies.draw(
            scheme, n_t, n_manifolds, _rng(seed, _STREAM_DICHOTOMY)
        )
        n_used = y.shape[0]
        res = _glue_core(x, codes, n_manifolds, y, return_anchors=return_anchors, **kw)
        res["active_fraction"] = res["active"].mean(axis=0)
        sample_vars["F"] = (("sample",), res["F"])
        sample_vars["separable"] = (("sample",), res["separable"].astype(np.int8))
        if return_anchors:
            sample_vars["anchors"] = (
                ("sample", "manifold", "feature"),
                res["anchors"] * scale,
            )
            sample_vars["dichotomy"] = (("sample", "manifold"), y)
            sample_vars["active"] = (("sample", "manifold"), res["active"])
    return res, n_distinct, n_used, sample_vars


@register_measure(
    kind="capacity",
    direction=_MORE,
    invariances=_ROT,
    citation="Chou, Le, Wang & Chung, bioRxiv 2024.02.26.582157 (GLUE); Chou et al., ICML 2025",
    outputs=GLUE_OUTPUTS,
)
def glue(
    points: Any,
    labels: Any,
    *,
    n_t: int = 200,
    kappa: float = 0.0,
    seed: int = 0,
    dichotomies: Literal["nontrivial", "uniform", "balanced", "one_vs_rest", "pairwise"]
    | np.ndarray = "nontrivial",
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
    n_jobs: int = 1,
    scheduler: Any = None,
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
        Number of (y, t) samples. When the ensemble has at most ``n_t`` distinct dichotomies they
        are enumerated, each with an equal share of probes: ``n_t`` is then rounded up to a
        multiple of their number (attrs ``n_samples``; ``n_t`` keeps the value asked for).
    kappa : float, default=0.0
        Margin. With ``kappa > 0`` every dichotomy must be separable with that margin.
    seed : int, default=0
        Seed of every random draw (subsampling, projection, jitter, dichotomies, probes).
    dichotomies : {"nontrivial", "uniform", "balanced", "one_vs_rest", "pairwise"} or ndarray
        The ensemble y is drawn from (see ``neurogeom.geometry._dichotomies``).
        ``"nontrivial"`` (default): uniform +-1 without the two constant labellings.
        ``"uniform"``: all +-1 labellings. Caveat: on centred data the constant labellings have
        no separating direction (F = rank), so 2 / 2**P of the samples sit at the floor and pull
        capacity down (by 30-60% at P = 2-4 on recordings), partly tracking the number of units.
        ``"balanced"``: P // 2 manifolds of one sign (both splits for odd P).
        ``"one_vs_rest"``: one manifold +1, the rest -1, each manifold in turn.
        ``"pairwise"``: GLUE on every pair of manifolds (P = 2, labels +1/-1, ``n_t`` samples
        per pair); measures are averaged over pairs. An array of shape (n, P) of +-1 (columns in
        sorted label order): the given rows, each used equally often when ``n <= n_t``.
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
    n_jobs : int, default=1
        Split the samples into this many equal parts, solved in parallel through
        :func:`neurogeom.parallel.parallel_map` (``-1``: one part per core) and merged in order.
        The preprocessing, the separability decisions and the anchor geometry stay in this
        process; results equal the one-part run with the same ``seed`` (exactly where the
        active-set method runs on every point, else to the solver's tolerance, about 1e-9
        relative).
    scheduler : str or distributed.Client, optional
        Run the parts as tasks on this dask.distributed cluster (a scheduler address such as
        ``"tcp://host:8786"``, or a Client); ``n_jobs`` parts, one task each.

    Returns
    -------
    xarray.Dataset
        Scalars ``capacity``, ``radius``, ``dimension``, ``utility``, ``center_alignment``,
        ``axis_alignment``, ``center_axis_alignment``, each with ``<name>_sem`` (Monte-Carlo
        standard error); dim ``manifold`` (coord: the label values; coord ``n_points``) with
        ``active_fraction``; per sample (dim ``sample``) ``F`` and ``separable`` (0/1: the
        sample's dichotomy has a separating direction); with ``return_anchors`` also
        ``anchors`` (sample, manifold, feature; NaN where inactive), ``dichotomy`` and
        ``active``. ``attrs`` (``neurogeom._provenance.provenance``) record the
        estimator, every parameter and preprocessing step, ``dichotomies``,
        ``n_dichotomies_distinct``, ``no_separating_fraction`` and ``at_floor``.

    Warns
    -----
    RuntimeWarning
        Once, when capacity sits at its floor ``P / rank`` (``at_floor=1``): radius, dimension,
        utility and alignments are then NaN.

    See Also
    --------
    glue_batch : The same measure on many point sets at once.
    simulated_capacity : Capacity from random projections, without the mean-field theory.
    neurogeom.geometry.mftma : The mean-field (MFTMA) estimate.
    neurogeom.accessor.NgAccessor.glue : ``pop.ng.glue(by)`` on a population tensor.

    Notes
    -----
    Invariant to: rotation, reflection, isotropic scaling.
    Direction: larger_is_more_separable (for ``capacity`` and ``utility``; larger ``radius``,
    ``dimension`` and centre alignment mean less separable manifolds).

    Scale: the points are first divided by a power of two near their RMS norm (attrs
    ``data_scale``), computed without squaring them, so the Gram matrix neither overflows nor
    underflows: results at overall scales from 1e-300 to 1e200 equal those at unit scale to
    rounding. A margin ``kappa`` is in the points' units (scaling the points and ``kappa`` by the
    same factor changes nothing); anchors and ``alignment="inner"`` values are returned in the
    input's units. All-zero points are refused.

    Separability: a dichotomy has no separating direction when no nonzero ``v`` in the span of
    the points has ``y_mu <v, x> >= 0`` for all points; then ``F = ||t||^2`` for every probe. This
    is decided once per distinct dichotomy (``neurogeom.geometry._separability``), and such
    samples are not solved (at ``kappa = 0``). They count in the capacity but not in the anchor
    geometry (any dual with ``sum lam_i y_i x_i = -t`` is optimal there, so their anchors are
    undefined): radius, dimension, utility and alignments are those of the samples whose
    dichotomy is separable (``separable == 1``), and such samples are inactive on every manifold.
    ``no_separating_fraction`` is the fraction of samples without a separating direction;
    ``at_floor`` is 1 when some are, and the mean of ``||t||^2 - F`` over all samples is within
    two standard errors of 0 (capacity indistinguishable from ``P / rank``). A case where every
    dichotomy is separable is never at the floor.

    Also invariant to zero-padding of the features and to the order of the labels' names; not
    to translation (use ``center=True``) or to the number of points per manifold. For P points in
    general position capacity is 2 (every ensemble, uncentred); for balls of radius 1 in
    dimension D it is 2 / (D + 1). The exact identity ``capacity = utility (1 + radius^-2) /
    dimension`` holds at ``kappa = 0`` when every sample is separable (otherwise it holds for
    the capacity of the separable samples, ``P / mean(F[separable == 1])``).

    References
    ----------
    Chou, Le, Wang & Chung (2025), Feature learning beyond the lazy-rich dichotomy, ICML.
    Chung, Lee & Sompolinsky (2018), Classification and geometry of general perceptual manifolds,
    Phys. Rev. X 8, 031003.

    Examples
    --------
    Three manifolds of 10 points in 20 dimensions:

    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> result = glue(points, labels, n_t=20)
    >>> result["capacity"].item()
    0.36...
    >>> result["radius"].item(), result["dimension"].item()
    (0.94..., 3.03...)
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
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or (n_jobs < 1 and n_jobs != -1):
        raise ValueError(
            f"{caller}() needs n_jobs to be a positive integer or -1 (one part per core); got "
            f"{n_jobs!r}."
        )
    n_manifolds = len(names)
    check_monte_carlo(f"{caller}(): ", n_t, x.shape[1], x.shape[0])
    scheme = _check_glue_options(dichotomies, n_manifolds, return_anchors, caller)
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
    scale = info["data_scale"]
    kw = dict(
        kappa=_scaled_margin(kappa, scale, caller),
        seed=seed,
        dtype=dtype,
        backend=backend,
        anchor_center=anchor_center,
        alignment=alignment,
        max_iter=max_iter,
        n_jobs=n_jobs,
        scheduler=scheduler,
    )
    counts = np.bincount(codes, minlength=n_manifolds)
    res, n_distinct, n_used, sample_vars = _glue_samples(
        x, codes, n_manifolds, scheme, n_t, seed, return_anchors, scale, info, kw
    )
    if res["at_floor"]:
        _floor_warning(caller, n_manifolds, res["rank"], res["no_separating_fraction"])
    if alignment == "inner":  # inner products of anchors, back in the input's units
        for name in _MEASURES[4:]:
            val, sem = res["summary"][name]
            res["summary"][name] = (val * scale**2, sem * scale**2)
    solver = res["solver"]
    attrs = _provenance.provenance(
        caller,
        dichotomies=scheme if isinstance(scheme, str) else "given",
        n_dichotomies_distinct=int(n_distinct),
        n_t=int(n_t),
        n_samples=int(n_used),
        kappa=kappa,
        seed=seed,
        no_separating_fraction=res["no_separating_fraction"],
        at_floor=bool(res["at_floor"]),
        n_manifolds=n_manifolds,
        span_dimension=int(res["rank"]),
        reduction=res["path"],
        anchor_center=anchor_center,
        alignment=alignment,
        dtype=np.dtype(dtype).name,
        backend=backend,
        **{f"solver_{k}": int(v) for k, v in solver.items()},
        **info,
    )
    return _glue_dataset(res, names, counts, sample_vars, attrs)


# ---- GLUE on many problems ----------------------------------------------------------------------


def _batch_inputs(points, labels, problem, caller):
    """The problems as a list of (points, labels) and their ids."""
    if labels is None and problem is None:
        if isinstance(points, np.ndarray) or isinstance(points, (str, bytes)):
            raise TypeError(
                f"{caller}() got one array without labels= and problem=; pass a list of "
                "(points, labels) pairs, or the stacked points with labels= and problem= (one "
                "problem index per row)."
            )
        try:
            pairs = list(points)
        except TypeError:
            raise TypeError(
                f"{caller}() needs a list of (points, labels) pairs; got {type(points).__name__}."
            ) from None
        for i, item in enumerate(pairs):
            if not isinstance(item, (tuple, list)) or len(item) != 2:
                raise TypeError(
                    f"{caller}() needs a list of (points, labels) pairs; item {i} is a "
                    f"{type(item).__name__}{'' if not hasattr(item, '__len__') else ' of length ' + str(len(item))}."
                )
        ids = np.arange(len(pairs))
    elif labels is not None and problem is not None:
        x = np.asarray(points)
        lab = np.asarray(labels)
        prob = np.asarray(problem)
        if x.ndim != 2 or lab.ndim != 1 or prob.ndim != 1:
            raise ValueError(
                f"{caller}() needs stacked points of shape (n_rows, n_features) with labels and "
                f"problem of shape (n_rows,); got shapes {x.shape}, {lab.shape}, {prob.shape}."
            )
        if not x.shape[0] == lab.shape[0] == prob.shape[0]:
            raise ValueError(
                f"{caller}() needs one label and one problem index per row: got {x.shape[0]} "
                f"rows, {lab.shape[0]} labels and {prob.shape[0]} problem indices."
            )
        ids, inverse = np.unique(prob, return_inverse=True)
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(ids.size + 1))
        pairs = [(x[order[a:b]], lab[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]
    else:
        raise ValueError(
            f"{caller}() needs labels= and problem= together (stacked points), or neither (a "
            "list of (points, labels) pairs)."
        )
    if not pairs:
        raise ValueError(f"{caller}() got no problems.")
    return pairs, ids


def _batch_validate(pairs, ids, caller):
    """The manifold codes of every problem's points and the shared label names.

    The labels of all problems are factorised once; each problem must hold every label (the
    result shares one ``manifold`` dimension). A problem whose labels fail a check is passed to
    :func:`neurogeom.geometry._validate.points_and_labels` for its message. The points are
    checked per block of problems (:func:`_batch_points`)."""
    labs = []
    for i, (x, lab) in enumerate(pairs):
        arr = lab if isinstance(lab, np.ndarray) else np.asarray(lab, dtype=object)
        if arr.ndim != 1:
            _refuse(x, lab, ids[i], caller)
        labs.append(arr)
    lab_all = np.concatenate(labs) if len(labs) > 1 else labs[0]
    try:
        codes_all, uniques = pd.factorize(pd.Series(lab_all), sort=True)
    except TypeError:
        raise TypeError(
            f"{caller}() needs labels that sort (numbers or strings), to order the manifolds "
            "the same way in every problem."
        ) from None
    names = list(uniques)
    n_m = len(names)
    # per problem: a label left out of the factorisation, and how many points each label has
    codes_all = codes_all.astype(np.intp, copy=False)
    lens = np.array([lab.shape[0] for lab in labs], dtype=np.int64)
    pid = np.repeat(np.arange(len(labs)), lens)
    neg = codes_all < 0
    codes_bad = np.bincount(pid[neg], minlength=len(labs)) > 0
    present = np.bincount(pid[~neg] * n_m + codes_all[~neg], minlength=len(labs) * n_m).reshape(
        len(labs), n_m
    )
    missing = (present == 0).any(axis=1)
    for i in np.flatnonzero(codes_bad | missing):
        if codes_bad[i]:
            _refuse(*pairs[i], ids[i], caller)
        if missing[i]:
            raise ValueError(
                f"{caller}() problem {ids[i]!r} has no points of manifold "
                f"{names[int(np.flatnonzero(present[i] == 0)[0])]!r}; every problem needs every "
                f"label ({n_m} in all). Run problems with other labels in their own batch."
            )
    bounds = np.concatenate([[0], np.cumsum(lens)]).tolist()
    return [codes_all[a:b] for a, b in zip(bounds[:-1], bounds[1:])], names


def _batch_points(pairs, codes, ids, caller):
    """Each problem's points as a float64 array (n_points, n_features) with its manifold codes,
    checked (finite, one row per label, not all the same); a problem that fails is passed to
    :func:`neurogeom.geometry._validate.points_and_labels` for its message."""
    out = []
    for (x, lab), c, pid in zip(pairs, codes, ids):
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        good = (
            arr is not None
            and arr.ndim == 2
            and arr.shape[1] >= 1
            and arr.shape[0] == c.size
            and c.size > 0
            and _validate.finite_and_spread(arr)  # also every point zero
        )
        if not good:
            _refuse(x, lab, pid, caller)
        out.append((arr, c))
    return out


def _refuse(x, lab, pid, caller):
    """Raise :func:`neurogeom.geometry._validate.points_and_labels`'s error on one problem's
    points and labels, naming the problem."""
    try:
        _validate.points_and_labels(x, lab, caller=caller)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{caller}() problem {pid!r}: {exc}") from None


def _stage_small(items, scratch=_threads.FRESH):
    """The steps of :func:`_solve` before the solve for problems on the direct path (see
    :func:`neurogeom.geometry._dual.direct_is_cheaper`): each dichotomy's separability decided
    once, then the samples of all problems stacked (:func:`_small_stack`, None without items).
    ``items``: dicts with factor, gram, codes, y, probes, kappa and the cached ``canonical``
    (dichotomies up to sign and each sample's index); adds the verdicts, separability counts,
    solver statistics and per sample whether its dichotomy has no separating direction
    (``none``) to each. ``scratch``: where the largest stacked arrays are kept (a
    :class:`neurogeom.geometry._threads.Scratch`: valid until its next use; by default newly
    allocated). Mostly Python and numpy steps on small arrays (see :func:`glue_batch`)."""
    if not items:
        return None
    first = []
    for it in items:
        factor, codes = it["factor"], it["codes"]
        uniq, inverse = it["canonical"]
        sep = {"centroid": 0, "probe": 0, "lp": 0, "undecided": 0}
        if factor.shape[1] >= factor.shape[0]:
            verdict = np.ones(uniq.shape[0], dtype=np.int8)
            it["open"] = verdict[:0]
        else:
            verdict = _separability.centroid_certificate(factor, codes, uniq).astype(np.int8)
            sep["centroid"] = int(verdict.sum())
            it["open"] = np.flatnonzero(verdict == 0)
        it["verdict"], it["sep"] = verdict, sep
        if it["open"].size:
            u_signs, u_probes = _separability.probe_problems(factor, codes, uniq[it["open"]])
            it["u"] = (u_signs, u_probes)
            first.append(it)
        it["stats"] = dict.fromkeys(
            ("support_solve", "active_set_rounds", "kkt_relaxed", "nnls", "unresolved"), 0
        )
        it["stats"]["fista_iterations"] = 0
    done = _dual.solve_direct_many([(it["factor"], it["gram"], *it["u"], 0.0) for it in first])
    for it, (lam_u, more) in zip(first, done):
        factor, codes, open_ = it["factor"], it["codes"], it["open"]
        _add_stats(it["stats"], more)
        verdict = it["verdict"]
        verdict[open_] = _separability.verdicts(factor, *it["u"], lam_u)
        it["sep"]["probe"] = int(np.count_nonzero(verdict[open_]))
        _separability.settle_by_lp(factor, codes, it["canonical"][0], verdict, it["sep"])
    for it in items:
        it["none"] = (it["verdict"] == -1)[it["canonical"][1]]
    return _small_stack(items, scratch)


def _solve_small(items, out, n_manifolds, scratch=_threads.FRESH):
    """:func:`_solve` for the problems staged by :func:`_stage_small` (``out``), their solves
    batched across problems (:func:`neurogeom.geometry._glue_batch.solve_and_measure`); each
    sample's duals are those :func:`_solve` gives it. Adds f_vals, norm2 (views into the arrays
    of all samples), stats and active_fraction to each item (F and anchors of all problems
    computed in the same compiled pass as their duals). Returns ``out`` with ``anchors``,
    ``active`` and ``f_vals`` added (None without items). ``scratch``: see :func:`_stage_small`."""
    if not items:
        return None
    st = out["stack"]
    _, stats, f_all, anchors, active = _glue_batch.solve_and_measure(
        st, out["codes"], n_manifolds, scratch
    )
    for it, more in zip(items, stats):
        _add_stats(it["stats"], more)
        it["stats"].update({f"separability_{k}": v for k, v in it["sep"].items()})
    none = out["none"]
    norm2 = out["norm2"]
    if st.solve is not None:
        skip = np.ones(none.size, dtype=bool)
        skip[st.solve] = False
        f_all[skip] = norm2[skip]
    active[none] = False
    # each problem's share of samples in which each manifold is active (its samples' mean, as
    # one problem's glue() gives it: counts are exact, and divided the same way)
    counts = np.add.reduceat(active.view(np.uint8), st.starts[:-1], axis=0, dtype=np.int64)
    fraction = counts / np.diff(st.starts)[:, None]
    for i, it in enumerate(items):
        rows = slice(int(st.starts[i]), int(st.starts[i + 1]))
        it.update(f_vals=f_all[rows], norm2=norm2[rows], active_fraction=fraction[i])
    out.update(anchors=anchors, active=active, f_vals=f_all)
    return out


def _small_stack(items, scratch=_threads.FRESH):
    """The samples of the direct-path problems stacked: ``stack`` (a
    :class:`neurogeom.geometry._dual.Stacked`, the samples of dichotomies with no separating
    direction not solved at kappa = 0), the manifold codes of all problems' points one after
    the other (``codes``), and per sample whether its dichotomy has no separating direction
    (``none``) and ``||t||^2`` (``norm2``). Problems of one seed share their dichotomies and
    probes: the signs of problems of one shape are gathered in one step, and the probes are
    stored once per distinct probe array. ``scratch``: see :func:`_stage_small`."""
    n_prob = len(items)
    counts = np.array([it["y"].shape[0] for it in items], dtype=np.int64)
    starts = np.zeros(n_prob + 1, dtype=np.int64)
    starts[1:] = np.cumsum(counts)
    sizes = np.array([it["codes"].size for it in items], dtype=np.int64)
    n_all, n_max = int(starts[-1]), int(sizes.max())
    # distinct dichotomy and probe arrays (shared by the problems of one seed)
    y_of: dict[int, int] = {}
    w_of: dict[int, int] = {}
    ys, ws = [], []
    y_idx = np.empty(n_prob, dtype=np.int64)
    w_idx = np.empty(n_prob, dtype=np.int64)
    for i, it in enumerate(items):
        y_idx[i] = y_of.setdefault(id(it["y"]), len(y_of))
        if y_idx[i] == len(ys):
            ys.append(it["y"])
        w_idx[i] = w_of.setdefault(id(it["probes"]), len(w_of))
        if w_idx[i] == len(ws):
            ws.append(it["probes"])
    codes = np.concatenate([it["codes"] for it in items])
    # every row is written whole below where all problems have as many points (then not zeroed
    # first: on 1,000 small problems the zeroing of these and the linear terms was about 2% of
    # the CPU time)
    one_size = bool((sizes == n_max).all())
    signs = scratch.array("signs", (n_all, n_max), zero=not one_size)
    if one_size and (counts == counts[0]).all():
        # problems of one seed whose points carry the same labels share their signs
        codes3 = codes.reshape(n_prob, n_max)
        same = (codes3 == codes3[0]).all(axis=1)
        signs3 = signs.reshape(n_prob, int(counts[0]), n_max)
        for u, y in enumerate(ys):
            sel = same & (y_idx == u)
            if sel.any():
                signs3[sel] = np.take(y, codes3[0], axis=1)
    else:
        same = np.zeros(n_prob, dtype=bool)
    for i in np.flatnonzero(~same):
        it = items[i]
        signs[starts[i] : starts[i + 1], : it["codes"].size] = np.take(it["y"], it["codes"], axis=1)
    # every problem holds every manifold: two of its samples have equal signs exactly when their
    # dichotomies are equal, so the chains group samples by dichotomy (one integer a sample)
    kinds = [np.unique(y, axis=0, return_inverse=True)[1].ravel() for y in ys]
    if (counts == counts[0]).all():
        keys = np.stack(kinds)[y_idx].ravel()
    else:
        keys = np.concatenate([kinds[u] for u in y_idx])
    w_start = np.zeros(len(ws) + 1, dtype=np.int64)
    w_start[1:] = np.cumsum([w.shape[0] for w in ws])
    r_max = max(w.shape[1] for w in ws)
    probes = np.zeros((int(w_start[-1]), r_max))
    norm2_w = np.empty(int(w_start[-1]))
    for w, a, b in zip(ws, w_start[:-1], w_start[1:]):
        probes[a:b, : w.shape[1]] = w
        norm2_w[a:b] = np.einsum("kd,kd->k", w, w)
    prob = np.repeat(np.arange(n_prob), counts)
    probe_row = w_start[w_idx][prob] + (np.arange(n_all) - starts[prob])
    none = np.concatenate([it["none"] for it in items])
    solve = None
    kappas = np.array([it["kappa"] for it in items], dtype=np.float64)
    if none.any():
        unsolved = none & (kappas[prob] == 0.0)
        if unsolved.any():
            solve = np.flatnonzero(~unsolved)
    st = _dual.stack_samples(
        [it["factor"] for it in items],
        [it["gram"] for it in items],
        kappas,
        signs,
        probes,
        probe_row,
        starts,
        solve=solve,
        keys=keys,
        scratch=scratch,
    )
    return {
        "stack": st,
        "codes": codes.astype(np.int64, copy=False),
        "none": none,
        "norm2": norm2_w[probe_row],
    }


def _finish_small(items, n_manifolds, anchor_center, alignment, stacked):
    """Floor and summaries of solved direct-path problems (see :func:`_glue_eval`), the anchor
    geometry of all of them stacked (:mod:`neurogeom.geometry._glue_batch`). ``stacked``: the
    arrays of all samples as :func:`_solve_small` returns them (the measured samples are taken
    from them in one step, or used as they are when they are all of them)."""
    if not items:
        return
    st = stacked["stack"]
    n_prob = len(items)
    prob, starts = st.prob, st.starts
    counts = np.diff(starts)
    none, f_all, norm2 = stacked["none"], stacked["f_vals"], stacked["norm2"]
    floor = np.zeros(n_prob, dtype=bool)
    for i in np.flatnonzero(np.bincount(prob[none], minlength=n_prob)):
        rows = slice(int(starts[i]), int(starts[i + 1]))
        floor[i] = _at_floor(f_all[rows], norm2[rows], none[rows])
    geo = ~none
    n_geo = np.bincount(prob[geo], minlength=n_prob)
    measured = ~floor & (n_geo >= 2)
    used = np.flatnonzero(measured)
    found = {}
    if used.size:
        pick = geo & measured[prob]
        dim = int(st.ranks[used].max())
        anchors, active = stacked["anchors"], stacked["active"]
        if not (pick.all() and dim == anchors.shape[2]):
            rows = np.flatnonzero(pick)
            anchors = anchors[rows, :, :dim]
            active = active[rows]
            probe_row = st.probe_row[rows]
            prob_used = (np.cumsum(measured) - 1)[prob[rows]]
        else:
            probe_row = st.probe_row
            prob_used = prob
        a, b, c, align = _glue_batch.geometry(
            anchors,
            active,
            st.probes[:, :dim],
            probe_row,
            prob_used,
            used.size,
            n_geo[used],
            st.ranks[used],
            anchor_center,
            alignment == "cosine",
        )
        found = _glue_batch.summarize(n_manifolds, a, b, c, align, prob_used, used.size)
    names = _MEASURES[1:]
    table = np.full((n_prob, len(names), 2), np.nan)
    for j, name in enumerate(names):
        if name in found:
            table[used, j, 0], table[used, j, 1] = found[name]
    # capacity P / E[F] and its standard error, each problem's samples alone
    if (counts == counts[0]).all() and counts[0] > 0:
        f2 = f_all.reshape(n_prob, int(counts[0]))
        mean_f = f2.mean(axis=1)
        sem_f = (
            np.std(f2, axis=1, ddof=1) / np.sqrt(counts[0])
            if counts[0] > 1
            else np.full(n_prob, np.nan)
        )
    else:
        mean_f = np.array([f_all[a:b].mean() for a, b in zip(starts[:-1], starts[1:])])
        sem_f = np.array(
            [
                np.std(f_all[a:b], ddof=1) / np.sqrt(b - a) if b - a > 1 else np.nan
                for a, b in zip(starts[:-1], starts[1:])
            ]
        )
    pos = mean_f > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        cap = np.where(pos, n_manifolds / mean_f, np.inf)
        cap_sem = np.where(pos, cap * sem_f / mean_f, np.nan)
    no_sep = np.bincount(prob[none], minlength=n_prob) / counts
    rows_all = table.tolist()
    for i, it in enumerate(items):
        summary = dict(zip(names, map(tuple, rows_all[i])))
        summary["capacity"] = (float(cap[i]), float(cap_sem[i]))
        it.update(
            summary=summary,
            floor=bool(floor[i]),
            geo=geo[starts[i] : starts[i + 1]],
            measured=bool(measured[i]),
            no_separating_fraction=float(no_sep[i]),
        )


def glue_batch(
    points: Any,
    labels: Any = None,
    problem: Any = None,
    *,
    n_t: int = 200,
    kappa: float = 0.0,
    seed: int | Any = 0,
    dichotomies: Literal["nontrivial", "uniform", "balanced", "one_vs_rest"]
    | np.ndarray = "nontrivial",
    n_points_per_manifold: int | None = None,
    projection_dim: int | None = None,
    jitter: float = 0.0,
    center: bool = False,
    dtype: type = np.float64,
    anchor_center: Literal["active", "all"] = "active",
    alignment: Literal["cosine", "inner"] = "cosine",
    max_iter: int = 300,
) -> xr.Dataset:
    """GLUE on many problems at once (bootstrap replicates, stages, sessions, networks).

    Each problem is a set of points with manifold labels; its numbers equal those of
    :func:`glue` on that problem with the same settings and seed (to rounding, 1e-12 relative
    or better). Problems small enough for the active-set method on every point (rank at most
    256) share one pass (in blocks): their samples are solved together in one call of the
    compiled solver, KKT-verified per sample on every point, and their anchor geometry and
    summaries are computed stacked. Larger problems run as :func:`glue` runs them, one after another.

    Parameters
    ----------
    points : list of (points, labels) pairs, or array-like of shape (n_rows, n_features)
        Either a sequence of problems, each ``(points, labels)`` as :func:`glue` takes them
        (``points`` of shape (n_points_i, n_features_i): the number of points and of features
        may differ between problems), or all problems' points stacked, with ``labels`` and
        ``problem`` given.
    labels : array-like of shape (n_rows,), optional
        Manifold label of each stacked row (with ``problem``).
    problem : array-like of shape (n_rows,), optional
        Problem of each stacked row (any sortable values; the ``problem`` coordinate is their
        sorted distinct values; rows keep their order within a problem).
    n_t, kappa, dichotomies, n_points_per_manifold, projection_dim, jitter, center, dtype, \
anchor_center, alignment, max_iter
        As in :func:`glue`, the same for every problem (``"pairwise"`` dichotomies are not
        offered here).
    seed : int or sequence of int, default=0
        Seed of every problem (one int), or one seed per problem.

    Returns
    -------
    xarray.Dataset
        :func:`glue`'s result layout with a leading dim ``problem``: ``capacity``, ``radius``,
        ``dimension``, ``utility``, ``center_alignment``, ``axis_alignment``,
        ``center_axis_alignment`` and their ``<name>_sem`` of shape (problem,);
        ``active_fraction`` (problem, manifold); ``F`` and ``separable`` (problem, sample);
        coords ``problem``, ``manifold`` (the label values, shared by every problem) and
        ``n_points`` (problem, manifold). What varies between problems is also per problem:
        ``seed``, ``span_dimension``, ``data_scale``, ``n_features``,
        ``no_separating_fraction``, ``at_floor`` (0/1). ``attrs``: the shared settings
        (``neurogeom._provenance.provenance``) and the solver counts summed over
        problems.

    Raises
    ------
    ValueError
        When a problem lacks one of the labels (every problem must hold every manifold), and
        for any input :func:`glue` refuses (the message names the problem).

    Warns
    -----
    RuntimeWarning
        Once, naming how many problems sit at their floor ``P / rank`` (see :func:`glue`).

    See Also
    --------
    glue : one problem, with anchors, pairwise dichotomies, parallel and dask options.
    neurogeom.geometry.mftma : the per-manifold mean-field estimator.

    Notes
    -----
    Small problems run in blocks (of 32 problems or more: about four per worker thread where
    there are many problems; on several threads the first block is a quarter of the others and
    the last three quarters), each block in one call of the compiled solver (which
    computes each sample's F and anchors as it is solved) and one pass of anchor geometry,
    instead of one of each per problem; the blocks run in parallel worker threads (as many as
    numba may use), which take the blocks' Python steps in turn, each beside another block's
    compiled solve. Each worker thread keeps its largest work arrays between blocks and calls
    (at most 64 MB a thread). A problem's numbers do not depend on the other problems in the
    batch, the blocks or the threads (bit for bit), so adding or removing problems changes no
    number.

    Examples
    --------
    >>> import numpy as np
    >>> from neurogeom.geometry.capacity import glue, glue_batch
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 20)
    >>> problems = [(rng.standard_normal((60, 100)) + 2.0 * labels[:, None], labels)
    ...             for _ in range(4)]
    >>> ds = glue_batch(problems, n_t=50, seed=1)
    >>> ds.capacity.shape
    (4,)
    >>> one = glue(*problems[2], n_t=50, seed=1)
    >>> bool(np.isclose(ds.capacity[2], one.capacity, rtol=1e-12, atol=0))
    True
    >>> ds.F.dims
    ('problem', 'sample')
    """
    caller = "glue_batch"
    pairs, ids = _batch_inputs(points, labels, problem, caller)
    n_prob = len(pairs)
    n_t, kappa, jitter, dtype, anchor_center, alignment, max_iter, seeds = _batch_settings(
        n_t, kappa, jitter, dtype, anchor_center, alignment, max_iter, seed, n_prob, caller
    )
    ids_list = np.asarray(ids).tolist()
    codes, names = _batch_validate(pairs, ids_list, caller)
    n_manifolds = len(names)
    if isinstance(dichotomies, str) and dichotomies == "pairwise":
        raise ValueError(
            f"{caller}() does not offer dichotomies='pairwise'; run glue() on each problem, or "
            "give each pair of manifolds as its own problem."
        )
    scheme = _check_glue_options(dichotomies, n_manifolds, False, caller)
    prep = dict(
        n_points_per_manifold=n_points_per_manifold,
        projection_dim=projection_dim,
        jitter=jitter,
        center=center,
    )

    draws: dict[int, Any] = {}
    probe_cache: dict[tuple[int, int, int], np.ndarray] = {}

    # one block's Python steps at a time, the first block's first (input checks, preprocessing,
    # separability, stacking): two worker threads that both ran them vied for the GIL in
    # lockstep, each leaving its core idle for the other's turns; taken in turn, one block's
    # steps run beside another's compiled solve (1,000 small problems on 2 threads: 0.251 ->
    # 0.220 s, medians of 12 alternating calls), and the short first block (see in_blocks) goes
    # first
    staging = _glue_batch.InTurn()

    def block(lo, hi):
        # the block's work arrays, kept by this thread for its next block or call
        scratch = _threads.thread_scratch()
        with staging(lo, hi):
            checked = _batch_points(pairs[lo:hi], codes[lo:hi], ids_list[lo:hi], caller)
            results, small = _batch_prepare(
                checked,
                seeds[lo:hi],
                names,
                scheme,
                n_t,
                kappa,
                dtype,
                prep,
                caller,
                draws,
                probe_cache,
            )
            staged = _stage_small(small, scratch)
        stacked = _solve_small(small, staged, n_manifolds, scratch)
        _finish_small(small, n_manifolds, anchor_center, alignment, stacked)
        return results

    with _dual.one_blas_thread():
        parts = _glue_batch.in_blocks(block, n_prob, _BATCH_BLOCK, _BATCH_BLOCKS_PER_WORKER)
    results = [r for part in parts for r in part]
    _batch_large(results, n_manifolds, dtype, anchor_center, alignment, max_iter)
    n_floor = sum(bool(r["floor"]) for r in results)
    if n_floor:
        warnings.warn(
            f"{caller}(): capacity sits at its floor P / rank in {n_floor} of {n_prob} problems "
            "(at_floor == 1): some samples' dichotomies have no separating direction, so their "
            "radius, dimension, utility and alignments are NaN. Try fewer points per manifold "
            "(n_points_per_manifold=), a shorter time window, or more units.",
            RuntimeWarning,
            stacklevel=2,
        )
    return _batch_dataset(
        results, ids, names, seeds, scheme, n_t, kappa, anchor_center, alignment, dtype
    )


# problems per block of glue_batch's direct path, at least (blocks run in parallel worker
# threads; each problem's numbers do not depend on its block), and blocks per worker thread
# where there are more problems: each block's fixed steps (about a millisecond of numpy calls
# on small arrays) then recur less often (1,000 problems on 2 threads, 8 blocks of 125 instead
# of 31 of 32: about 5% less CPU time, in five alternating runs)
_BATCH_BLOCK = 32
_BATCH_BLOCKS_PER_WORKER = 4


def _batch_settings(
    n_t, kappa, jitter, dtype, anchor_center, alignment, max_iter, seed, n_prob, caller
):
    """glue_batch()'s settings checked, and one seed per problem."""
    n_t = _validate.positive_int(n_t, "n_t", caller, minimum=2)
    kappa = _validate.finite_real(kappa, "kappa", caller)
    jitter = _validate.finite_real(jitter, "jitter", caller, minimum=0.0)
    dtype = _validate.float_dtype(dtype, caller)
    anchor_center = _validate.choice(anchor_center, "anchor_center", ("active", "all"), caller)
    alignment = _validate.choice(alignment, "alignment", ("cosine", "inner"), caller)
    max_iter = _validate.positive_int(max_iter, "max_iter", caller)
    if np.ndim(seed) == 0:
        seeds = [_validate.positive_int(seed, "seed", caller, minimum=0)] * n_prob
    else:
        seeds = [_validate.positive_int(s, "seed", caller, minimum=0) for s in seed]
        if len(seeds) != n_prob:
            raise ValueError(
                f"{caller}() got {len(seeds)} seeds for {n_prob} problems; give one seed, or "
                "one per problem."
            )
    return n_t, kappa, jitter, dtype, anchor_center, alignment, max_iter, seeds


def _batch_prepare(
    checked, seeds, names, scheme, n_t, kappa, dtype, prep, caller, draws, probe_cache
):
    """Preprocess every problem and draw its samples (draws and probes shared between problems
    of one seed, kept in ``draws`` and ``probe_cache`` for the other blocks); returns the
    per-problem results (with ``"run"`` for problems that go through :func:`_glue_core`) and
    the items of the direct path (see :func:`_solve_small`)."""
    n_manifolds = len(names)
    results: list[dict[str, Any]] = [{} for _ in checked]
    small = []
    for i, (x, codes) in enumerate(checked):
        s = seeds[i]
        x, codes, info = _preprocess(
            x,
            codes,
            n_manifolds,
            names,
            **prep,
            seed=s,
            caller=caller,
        )
        kap = _scaled_margin(kappa, info["data_scale"], caller)
        if s not in draws:
            y, n_distinct, _ = _dichotomies.draw(
                scheme, n_t, n_manifolds, _rng(s, _STREAM_DICHOTOMY)
            )
            draws.setdefault(s, (y, n_distinct, _separability.canonical(y)))
        y, n_distinct, canon = draws[s]
        counts = np.bincount(codes, minlength=n_manifolds)
        results[i].update(info=info, counts=counts, n_distinct=n_distinct, n_used=y.shape[0])
        red = None
        if x.shape[0] <= _dual._SMALL_MAX_POINTS and min(x.shape) <= _dual._DIRECT_MAX_RANK:
            red = _dual.reduce_points(x, dtype=dtype)
        if red is None or not _dual.direct_is_cheaper(x.shape[0], red.rank, red.gram):
            results[i]["run"] = (x, codes, y, kap, s)
            continue
        key = (s, y.shape[0], red.rank)
        if key not in probe_cache:
            probe_cache.setdefault(
                key, _rng(s, _STREAM_PROBE).standard_normal((y.shape[0], red.rank))
            )
        item = results[i]
        item.update(
            factor=np.asarray(red.factor, dtype=np.float64),
            gram=red.gram,
            rank=red.rank,
            path=red.path,
            codes=codes,
            y=y,
            canonical=canon,
            probes=probe_cache[key],
            kappa=kap,
        )
        small.append(item)
    return results, small


def _batch_large(results, n_manifolds, dtype, anchor_center, alignment, max_iter):
    """Problems past the direct path, each run as :func:`glue` runs it."""
    for res in results:
        if "run" in res:
            x, codes, y, kap, s = res.pop("run")
            out = _glue_core(
                x,
                codes,
                n_manifolds,
                y,
                return_anchors=False,
                kappa=kap,
                seed=s,
                dtype=dtype,
                backend="numpy",
                anchor_center=anchor_center,
                alignment=alignment,
                max_iter=max_iter,
            )
            res.update(
                summary=out["summary"],
                f_vals=out["F"],
                geo=out["separable"],
                active_fraction=out["active"].mean(axis=0),
                rank=out["rank"],
                path=out["path"],
                stats=out["solver"],
                no_separating_fraction=out["no_separating_fraction"],
                floor=out["at_floor"],
            )


def _batch_dataset(results, ids, names, seeds, scheme, n_t, kappa, anchor_center, alignment, dtype):
    """glue_batch()'s Dataset from the per-problem results."""
    n_prob = len(results)
    n_manifolds = len(names)
    caller = "glue_batch"
    data_vars: dict[str, Any] = {}
    for name in _MEASURES:
        vals = np.array([r["summary"][name] for r in results], dtype=np.float64)
        if alignment == "inner" and name in _MEASURES[4:]:
            scale2 = np.array([r["info"]["data_scale"] ** 2 for r in results])
            vals = vals * scale2[:, None]
        data_vars[name] = (("problem",), vals[:, 0])
        data_vars[f"{name}_sem"] = (("problem",), vals[:, 1])
    data_vars["active_fraction"] = (
        ("problem", "manifold"),
        np.array([r["active_fraction"] for r in results]),
    )
    data_vars["F"] = (("problem", "sample"), np.array([r["f_vals"] for r in results]))
    data_vars["separable"] = (
        ("problem", "sample"),
        np.array([r["geo"] for r in results]).astype(np.int8),
    )
    data_vars["seed"] = (("problem",), np.array(seeds, dtype=np.int64))
    data_vars["span_dimension"] = (("problem",), np.array([r["rank"] for r in results]))
    for key in ("data_scale", "n_features", "projection_applied"):
        data_vars[key] = (("problem",), np.array([r["info"][key] for r in results]))
    data_vars["no_separating_fraction"] = (
        ("problem",),
        np.array([r["no_separating_fraction"] for r in results]),
    )
    data_vars["at_floor"] = (("problem",), np.array([int(r["floor"]) for r in results]))
    # the solver's counts summed over problems (rounds and iterations: the most of any)
    keys = results[0]["stats"].keys()
    if not all(r["stats"].keys() == keys for r in results):
        keys = dict.fromkeys(k for r in results for k in r["stats"]).keys()
    solver: dict[str, int] = {}
    for k in keys:
        vals = [r["stats"].get(k, 0) for r in results]
        solver[k] = max(0, *vals) if k.endswith(("rounds", "iterations")) else sum(vals)
    info = results[0]["info"]
    attrs = _provenance.provenance(
        caller,
        dichotomies=scheme if isinstance(scheme, str) else "given",
        n_dichotomies_distinct=int(results[0]["n_distinct"]),
        n_t=int(n_t),
        n_samples=int(results[0]["n_used"]),
        n_problems=n_prob,
        kappa=kappa,
        n_manifolds=n_manifolds,
        reduction=",".join(sorted({r["path"] for r in results})),
        anchor_center=anchor_center,
        alignment=alignment,
        dtype=np.dtype(dtype).name,
        backend="numpy",
        **{f"solver_{k}": int(v) for k, v in solver.items()},
        **{
            k: v
            for k, v in info.items()
            if k not in ("data_scale", "n_features", "n_features_input", "projection_applied")
        },
    )
    ds = xr.Dataset(
        data_vars,
        coords={
            "problem": ids,
            "manifold": _validate.label_values(names),
            "n_points": (
                ("problem", "manifold"),
                np.array([r["counts"] for r in results], dtype=np.int64),
            ),
        },
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


def _critical_dimensions(factor, signs_all, seed, bias):
    """Per trial, the fewest nested random projections in which the dichotomy is separable."""
    rank = factor.shape[1]
    critical = np.full(signs_all.shape[0], np.inf)
    for r, signs in enumerate(signs_all):
        if not _separable(factor, signs, bias):
            continue
        state = _rng(seed, _STREAM_SIMULATED, r).bit_generator.state
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
    return critical


def _sim_cap(n_manifolds: int, n: float) -> float:
    return float(n_manifolds / n) if np.isfinite(n) and n > 0 else float("nan")


def _simulated_interval(critical, rank, n_manifolds, confidence):
    """The separable fraction at each dimension 0..rank, the critical dimension N_c (crossing of
    1/2) with its ``confidence`` interval (crossings of 1/2 -+ z/2/sqrt(n)), and the capacity's
    lower bound and standard error from that interval."""
    n_grid = np.arange(0, rank + 1)
    frac = (critical[None, :] <= n_grid[:, None]).mean(axis=1)
    n_c = _crossing(n_grid, frac, 0.5)
    z = stats.norm.ppf(0.5 + confidence / 2)
    half = z * 0.5 / np.sqrt(critical.shape[0])
    n_low = _crossing(n_grid, frac, 0.5 - half)
    n_high = _crossing(n_grid, frac, 0.5 + half)
    low = _sim_cap(n_manifolds, n_high) if np.isfinite(n_high) else 0.0
    sem = (_sim_cap(n_manifolds, n_low) - low) / (2 * z) if np.isfinite(n_high) else float("nan")
    return n_grid, frac, n_c, n_low, n_high, low, sem


@register_measure(
    kind="capacity",
    direction=_MORE,
    invariances=_ROT,
    citation="Cohen et al. 2020; Chou et al., ICML 2025 (Algorithm 1)",
    outputs=(CAPACITY,),
)
def simulated_capacity(
    points: Any,
    labels: Any,
    *,
    n_dichotomies: int = 101,
    seed: int = 0,
    bias: bool = False,
    dichotomies: Literal["nontrivial", "uniform", "balanced", "one_vs_rest"]
    | np.ndarray = "nontrivial",
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
        Number of trials (dichotomy + projection). When the ensemble has at most this many
        distinct dichotomies, each is used equally often (the number of trials is rounded up to
        a multiple of their number; attrs ``n_samples``).
    seed : int, default=0
    bias : bool, default=False
        Hyperplanes with a bias term. Without (the default), P points in general position give
        capacity exactly 2 (Cover 1965); with a bias, ``P / (P/2 - 1)``.
    dichotomies : {"nontrivial", "uniform", "balanced", "one_vs_rest"} or ndarray
        The ensemble, as in :func:`glue` (default: uniform +-1 without the constant labellings;
        ``"uniform"`` keeps them, with the same caveat on centred data).
    confidence : float, default=0.95
        Level of the interval: ``N_c`` is bracketed by the crossings of ``p(n)`` at
        ``1/2 -+ z sqrt(1/(4 n_dichotomies))``.
    n_points_per_manifold, projection_dim, jitter, center
        Preprocessing, as in :func:`glue`.

    Returns
    -------
    xarray.Dataset
        ``capacity``, ``capacity_sem`` (half the width of the interval over ``2 z``; NaN when
        an end is not reached), ``capacity_low``, ``capacity_high``, ``critical_dimension``
        (N_c); ``separable_fraction`` over dim ``n_dimensions`` (1..rank of the points); per
        trial (dim ``sample``) ``sample_critical_dimension`` (inf where never separable); dim
        ``manifold`` (coord: the label values; coord ``n_points``). ``attrs`` record every
        setting, ``n_dichotomies_distinct``, ``no_separating_fraction`` (trials not separable
        even in the full span) and ``at_floor``.

    Warns
    -----
    RuntimeWarning
        Once, when capacity sits at its floor: fewer than half of the dichotomies are separable
        below the full span (``N_c`` is the rank or not reached).

    See Also
    --------
    glue : The analytic (GLUE) estimate.
    neurogeom.accessor.NgAccessor.simulated_capacity : ``pop.ng.simulated_capacity(by)``.

    Notes
    -----
    Invariant to: rotation, reflection, isotropic scaling.
    Direction: larger_is_more_separable.

    Scale: the points are first divided by a power of two near their RMS norm (attrs
    ``data_scale``), so the separability programmes are well scaled: results at overall scales
    from 1e-300 to 1e200 equal those at unit scale to rounding. All-zero points are refused.

    Capacity is NaN when fewer than half of the dichotomies are separable even in the full span
    of the points: there are too few features (or points in general position) to reach ``N_c``.
    ``at_floor`` is 1 when the upper end of the interval for ``N_c`` reaches the rank (capacity
    indistinguishable from ``P / rank``) or ``N_c`` is not reached.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> simulated_capacity(points, labels, n_dichotomies=11)["capacity"].item()
    0.32...
    """
    check_params(
        "simulated_capacity", n_dichotomies=n_dichotomies, seed=seed, confidence=confidence
    )
    caller = "simulated_capacity"
    x, codes, names = _validate.points_and_labels(points, labels, caller=caller)
    n_rep = _validate.positive_int(n_dichotomies, "n_dichotomies", caller)
    seed = _validate.positive_int(seed, "seed", caller, minimum=0)
    n_manifolds = len(names)
    if isinstance(dichotomies, str):
        scheme: str | np.ndarray = _validate.choice(
            dichotomies, "dichotomies", _dichotomies.ENSEMBLES, caller
        )
    else:
        scheme = _validate.dichotomy_array(dichotomies, n_manifolds, caller)
    confidence = _validate.finite_real(confidence, "confidence", caller)
    if not 0 < confidence < 1:
        raise ValueError(f"{caller}() needs 0 < confidence < 1; got {confidence!r}.")
    jitter = _validate.finite_real(jitter, "jitter", caller, minimum=0.0)
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
    rank = red.rank
    y, n_distinct, _ = _dichotomies.draw(scheme, n_rep, n_manifolds, _rng(seed, _STREAM_SIMULATED))
    critical = _critical_dimensions(red.factor, y[:, codes], seed, bias)
    n_grid, frac, n_c, n_low, n_high, low, sem = _simulated_interval(
        critical, rank, n_manifolds, confidence
    )
    at_floor = not np.isfinite(n_c) or not n_high < rank
    if at_floor:
        warnings.warn(
            f"{caller}(): capacity sits at its floor P / rank = {n_manifolds}/{rank}: only "
            f"{frac[-1]:.0%} of the dichotomies are separable in the full {rank}-dimensional span "
            f"(N_c = {n_c:.4g}, NaN when half separable is not reached). Try fewer points per "
            "manifold (n_points_per_manifold=), a shorter time window, or more units.",
            RuntimeWarning,
            stacklevel=2,
        )
    ds = xr.Dataset(
        {
            "capacity": ((), _sim_cap(n_manifolds, n_c)),
            "capacity_sem": ((), float(sem)),
            "capacity_low": ((), low),
            "capacity_high": ((), _sim_cap(n_manifolds, n_low)),
            "critical_dimension": ((), n_c),
            "separable_fraction": (("n_dimensions",), frac[1:]),
            "sample_critical_dimension": (("sample",), critical),
        },
        coords={
            "n_dimensions": n_grid[1:],
            "manifold": _validate.label_values(names),
            "n_points": ("manifold", np.bincount(codes, minlength=n_manifolds).astype(np.int64)),
        },
        attrs=_provenance.provenance(
            caller,
            dichotomies=scheme if isinstance(scheme, str) else "given",
            n_dichotomies_distinct=int(n_distinct),
            n_dichotomies=int(n_rep),
            n_samples=int(y.shape[0]),
            seed=seed,
            bias=bool(bias),
            confidence=confidence,
            no_separating_fraction=float(np.mean(~np.isfinite(critical))),
            at_floor=bool(at_floor),
            n_manifolds=n_manifolds,
            span_dimension=int(rank),
            **info,
        ),
    )
    ds["capacity"].attrs.update(larger_is_more_separable=1)
    return ds
