"""GLUE's per-problem steps after the solve, for many problems at once.

:func:`neurogeom.geometry.capacity.glue_batch` solves the samples of many small problems in one
call of the compiled kernel; these functions then compute what :func:`neurogeom.geometry.capacity.glue`
computes per problem (anchors, effective geometry, summaries with standard errors), for the
samples of all problems stacked along one axis with the problem of each sample in ``prob``.
Every formula is that of :mod:`neurogeom.geometry.effective` applied to each problem's samples
alone; only the order of floating-point sums may differ (results agree to rounding).
"""

from __future__ import annotations

import numba
import numpy as np

from neurogeom.geometry import effective

# samples per chunk of the stacked geometry (bounds the (samples, P, P) temporaries)
_CHUNK = 8192

__all__ = ["anchors", "geometry", "summarize"]


def anchors(lam: np.ndarray, factor: np.ndarray, codes: np.ndarray, n_manifolds: int):
    """Anchor points (sample, manifold, rank), their totals and the active mask, as
    :func:`neurogeom.geometry.capacity._anchors` computes them (one dense product per
    manifold instead of one sparse product)."""
    n_t = lam.shape[0]
    out = np.zeros((n_t, n_manifolds, factor.shape[1]))
    totals = np.zeros((n_t, n_manifolds))
    for mu in range(n_manifolds):
        idx = codes == mu
        sub = lam[:, idx]
        out[:, mu] = sub @ factor[idx]
        totals[:, mu] = sub.sum(axis=1)
    grand = totals.sum(axis=1, keepdims=True)
    active = totals > 1e-12 * np.maximum(grand, 1e-300)
    out *= np.divide(1.0, totals, out=np.zeros_like(totals), where=active)[..., None]
    return out, totals, active


@numba.njit(cache=True, nogil=True, parallel=True)
def _gram_terms(anchors_, active, probes, prob, centers, g, g1, st, s1t, ca):
    """Per sample, with ``s`` the anchors (zero where inactive) and ``s1 = s - active * c``
    (``c`` the anchor centres of the sample's problem): ``g = s s^T``, ``g1 = s1 s1^T``,
    ``st = s t``, ``s1t = s1 t`` and ``ca = |s1_mu . c_mu|`` (written into the outputs)."""
    n_s, n_m, dim = anchors_.shape
    for k in numba.prange(n_s):
        cen = centers[prob[k]]
        s = np.zeros((n_m, dim))
        s1 = np.zeros((n_m, dim))
        for p in range(n_m):
            if active[k, p]:
                for d in range(dim):
                    s[p, d] = anchors_[k, p, d]
                    s1[p, d] = anchors_[k, p, d] - cen[p, d]
            else:
                for d in range(dim):
                    s1[p, d] = 0.0
        for p in range(n_m):
            acc_t = 0.0
            acc_1t = 0.0
            acc_c = 0.0
            for d in range(dim):
                acc_t += s[p, d] * probes[k, d]
                acc_1t += s1[p, d] * probes[k, d]
                acc_c += s1[p, d] * cen[p, d]
            st[k, p] = acc_t
            s1t[k, p] = acc_1t
            ca[k, p] = abs(acc_c)
            for q in range(p + 1):
                acc = 0.0
                acc1 = 0.0
                for d in range(dim):
                    acc += s[p, d] * s[q, d]
                    acc1 += s1[p, d] * s1[q, d]
                g[k, p, q] = acc
                g[k, q, p] = acc
                g1[k, p, q] = acc1
                g1[k, q, p] = acc1


def _starts(prob: np.ndarray, n_prob: int) -> np.ndarray:
    """Index of each problem's first sample (``prob`` sorted, every problem present)."""
    return np.searchsorted(prob, np.arange(n_prob))


def _segment_sum(values: np.ndarray, prob: np.ndarray, n_prob: int) -> np.ndarray:
    """Sums over each problem's samples of ``values`` (n_samples, ...); samples sorted by
    problem, every problem with at least one."""
    return np.add.reduceat(values, _starts(prob, n_prob), axis=0)


def geometry(anchors_, active, probes, prob, n_prob, n_geo, anchor_center, normalise):
    """Per-sample a, b, c and alignments of stacked samples, each problem with its own anchor
    centres (:func:`neurogeom.geometry.effective.anchor_centers` and
    :func:`neurogeom.geometry.effective.anchor_geometry` on that problem's samples).

    Parameters
    ----------
    anchors_ : ndarray (n_samples, P, dim)
        Anchors (zero-padded past each problem's rank).
    active : ndarray of bool (n_samples, P)
    probes : ndarray (n_samples, dim)
    prob : ndarray of int (n_samples,)
        The problem of each sample (0..n_prob-1).
    n_geo : ndarray (n_prob,)
        Samples per problem (the divisor of ``anchor_center="all"``).
    """
    n_s, n_m, _ = anchors_.shape
    act_f = active.astype(np.float64)
    total = _segment_sum(act_f[..., None] * anchors_, prob, n_prob)
    if anchor_center == "all":
        centers = total / n_geo[:, None, None]
    else:
        count = _segment_sum(act_f, prob, n_prob)[..., None]
        centers = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    norm2 = np.einsum("kpd,kpd->kp", anchors_, anchors_)
    peak = np.maximum.reduceat(
        np.max(np.where(active, norm2, 0.0), axis=1), _starts(prob, n_prob), axis=0
    )
    tiny = 1e-9 * np.sqrt(peak)
    cc = centers @ centers.transpose(0, 2, 1)
    c_norm = np.sqrt(np.einsum("kpp->kp", cc))
    c_ok = c_norm > tiny[:, None]
    both_ok = c_ok[:, :, None] & c_ok[:, None, :]
    cc_align = np.abs(np.where(both_ok, cc, 0.0))
    if normalise:
        cc_align = np.divide(
            cc_align,
            c_norm[:, :, None] * c_norm[:, None, :],
            out=np.full_like(cc_align, np.nan),
            where=both_ok,
        )
    off = ~np.eye(n_m, dtype=bool)
    a = np.empty(n_s)
    b = np.empty(n_s)
    c = np.empty(n_s)
    align = {k: np.full(n_s, np.nan) for k in ("center", "axis", "center_axis")}
    for lo in range(0, n_s, _CHUNK):
        sl = slice(lo, lo + _CHUNK)
        pk = prob[sl]
        act = active[sl]
        m = pk.size
        g = np.empty((m, n_m, n_m))
        g1 = np.empty((m, n_m, n_m))
        st = np.empty((m, n_m))
        s1t = np.empty((m, n_m))
        ca = np.empty((m, n_m))
        _gram_terms(anchors_[sl], act, probes[sl], pk, centers, g, g1, st, s1t, ca)
        both = act[:, :, None] & act[:, None, :]
        scale = np.max(np.einsum("kpp->kp", g), axis=1)
        a[sl] = effective._quad_pinv(g, st, scale)
        b[sl] = effective._quad_pinv(g1, s1t, scale)
        c[sl] = effective._quad_pinv(g1 + both * cc[pk], s1t, scale)
        tiny_k = tiny[pk]
        n1 = np.sqrt(np.maximum(np.einsum("kpp->kp", g1), 0.0))
        ax_ok = n1 > tiny_k[:, None]
        pair = both & off
        ax = np.abs(np.where(ax_ok[:, :, None] & ax_ok[:, None, :], g1, 0.0))
        ca = np.where(ax_ok & c_ok[pk], ca, 0.0)
        if normalise:
            den = n1[:, :, None] * n1[:, None, :]
            ax = np.divide(ax, den, out=np.full_like(ax, np.nan), where=den > 0)
            ax[~(ax_ok[:, :, None] & ax_ok[:, None, :])] = np.nan
            den = n1 * c_norm[pk]
            ca = np.divide(ca, den, out=np.full_like(ca, np.nan), where=ax_ok & c_ok[pk])
        for name, vals, ok in (
            ("center", cc_align[pk], pair),
            ("axis", ax, pair),
            ("center_axis", ca, act),
        ):
            ok = ok & np.isfinite(vals)
            axes = tuple(range(1, ok.ndim))
            cnt = ok.sum(axis=axes)
            tot = np.where(ok, vals, 0.0).sum(axis=axes)
            align[name][sl] = np.divide(tot, cnt, out=np.full(tot.shape, np.nan), where=cnt > 0)
    return a, b, c, align


def _mean_sem(x, prob, n_prob):
    """Per problem: mean and standard error of the finite entries (NaN where fewer than 2)."""
    ok = np.isfinite(x)
    cnt = np.bincount(prob, weights=ok.astype(np.float64), minlength=n_prob)
    tot = np.bincount(prob, weights=np.where(ok, x, 0.0), minlength=n_prob)
    mean = np.divide(tot, cnt, out=np.full(n_prob, np.nan), where=cnt > 0)
    dev = np.where(ok, x - mean[prob], 0.0)
    ss = np.bincount(prob, weights=dev * dev, minlength=n_prob)
    sem = np.full(n_prob, np.nan)
    two = cnt >= 2
    sem[two] = np.sqrt(ss[two] / (cnt[two] - 1)) / np.sqrt(cnt[two])
    return mean, sem, cnt


def _cov(u, v, mu, mv, prob, n_prob, n):
    """Per problem sample covariance (ddof 1) of u and v; 0 where a problem has one sample."""
    s = np.bincount(prob, weights=(u - mu[prob]) * (v - mv[prob]), minlength=n_prob)
    return np.divide(s, n - 1, out=np.zeros(n_prob), where=n > 1)


def summarize(n_manifolds, a, b, c, align, prob, n_prob):
    """:func:`neurogeom.geometry.effective.summarize` for every problem (samples stacked, all
    finite in a, b, c); dict name -> (values, standard errors), arrays of shape (n_prob,)."""
    p = n_manifolds
    n = np.bincount(prob, minlength=n_prob).astype(np.float64)
    ma, _, _ = _mean_sem(a, prob, n_prob)
    mb, sem_b, _ = _mean_sem(b, prob, n_prob)
    mc, _, _ = _mean_sem(c, prob, n_prob)
    out = {"dimension": (mb / p, sem_b / p)}
    u, v = c, b - c
    mu, mv = mc, np.bincount(prob, weights=v, minlength=n_prob) / n
    with np.errstate(divide="ignore", invalid="ignore"):
        var_u = _cov(u, u, mu, mu, prob, n_prob, n)
        var_v = _cov(v, v, mv, mv, prob, n_prob, n)
        cov_uv = _cov(u, v, mu, mv, prob, n_prob, n)
        r2 = mu / mv
        var_r2 = (var_u / mv**2 + mu**2 * var_v / mv**4 - 2 * mu * cov_uv / mv**3) / n
        r = np.sqrt(r2)
        r_sem = np.sqrt(np.maximum(var_r2, 0.0)) / (2 * r)
        flat = (mu <= 0) | (mv <= 0)
        out["radius"] = (np.where(flat, 0.0, r), np.where(flat, 0.0, r_sem))
        var_c = var_u
        var_a = _cov(a, a, ma, ma, prob, n_prob, n)
        cov_ca = _cov(c, a, mc, ma, prob, n_prob, n)
        psi = mc / ma
        var = (var_c / ma**2 + mc**2 * var_a / ma**4 - 2 * mc * cov_ca / ma**3) / n
        pos = ma > 0
        out["utility"] = (
            np.where(pos, psi, np.nan),
            np.where(pos, np.sqrt(np.maximum(var, 0.0)), np.nan),
        )
    for name, vals in align.items():
        mean, sem, _ = _mean_sem(vals, prob, n_prob)
        out[f"{name}_alignment"] = (mean, sem)
    return out
