"""Effective geometry of manifolds from GLUE anchor points.

Given, for every sample k = (y, t), the anchor point ``s_mu(k)`` of each active manifold (the
convex combination of its points that supports the separating problem), the effective measures are
(Chou, Le, Wang & Chung 2025, Def. 2.3; exact a/b/c form):

- anchor centre ``s0_mu = E_k[s_mu(k)]`` and anchor axis ``s1_mu(k) = s_mu(k) - s0_mu``;
- per sample, over the active manifolds A_k (rows of S, S0, S1):
  ``a = (S t)^T (S S^T)^+ (S t)``, ``b = (S1 t)^T (S1 S1^T)^+ (S1 t)``,
  ``c = (S1 t)^T (S0 S0^T + S1 S1^T)^+ (S1 t)``;
- capacity ``alpha = P / E[a]``, dimension ``D = E[b] / P``, radius ``R = sqrt(E[c] / E[b - c])``,
  utility ``Psi = E[c] / E[a]``, so that ``alpha = Psi (1 + R^-2) / D`` exactly;
- alignments (normalised |cos|, in [0, 1]): centre ``E_k mean_{mu != nu in A_k} |cos(s0_mu, s0_nu)|``,
  axis ``E_k mean_{mu != nu in A_k} |cos(s1_mu, s1_nu)|``, centre-axis
  ``E_k mean_{mu in A_k} |cos(s0_mu, s1_mu)|`` (the same manifold, as the reference code does).
  With ``alignment="inner"`` the raw |inner products| are averaged instead.

All functions take plain arrays; anchors may be in any coordinates in which ``t`` is the standard
Gaussian probe (neurogeom passes reduced coordinates of the span of the points).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

_PINV_RCOND = 1e-10


def anchor_centers(
    anchors: np.ndarray, active: np.ndarray, policy: Literal["active", "all"] = "active"
) -> np.ndarray:
    """Anchor centre of each manifold.

    Parameters
    ----------
    anchors : ndarray of shape (n_samples, n_manifolds, dim)
        Anchor points (any value where inactive).
    active : ndarray of bool, shape (n_samples, n_manifolds)
    policy : {"active", "all"}
        ``"active"``: average over the samples where the manifold is active (reference code).
        ``"all"``: average over all samples, inactive ones counting as zero.

    Returns
    -------
    ndarray of shape (n_manifolds, dim); zero for a manifold that is never active.
    """
    masked = np.where(active[..., None], anchors, 0.0)
    total = masked.sum(axis=0)
    if policy == "all":
        return total / anchors.shape[0]
    count = active.sum(axis=0)[:, None]
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _quad_pinv(gram: np.ndarray, vec: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``vec^T gram^+ vec`` for stacks of symmetric PSD matrices (n, m, m) and vectors (n, m).

    Eigenvalues below ``_PINV_RCOND * scale`` (per sample, the size of the anchors' Gram matrix)
    count as zero, so rounding noise in vanishing axes does not enter.
    """
    evals, evecs = np.linalg.eigh(gram)
    keep = evals > _PINV_RCOND * np.maximum(scale, 1e-300)[:, None]
    proj = np.einsum("kij,ki->kj", evecs, vec)
    inv = np.divide(1.0, evals, out=np.zeros_like(evals), where=keep)
    return np.einsum("kj,kj->k", proj * inv, proj)


def anchor_quadratics(
    anchors: np.ndarray,
    active: np.ndarray,
    probes: np.ndarray,
    centers: np.ndarray,
    *,
    chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample a, b, c (see module docstring), each of shape (n_samples,)."""
    n_s = anchors.shape[0]
    a = np.empty(n_s)
    b = np.empty(n_s)
    c = np.empty(n_s)
    for lo in range(0, n_s, chunk):
        sl = slice(lo, lo + chunk)
        act = active[sl][..., None]
        s = np.where(act, anchors[sl], 0.0)
        s0 = np.where(act, centers[None], 0.0)
        s1 = s - s0
        t = probes[sl]
        g = s @ s.transpose(0, 2, 1)
        g1 = s1 @ s1.transpose(0, 2, 1)
        g0 = s0 @ s0.transpose(0, 2, 1)
        st = (s @ t[:, :, None])[..., 0]
        s1t = (s1 @ t[:, :, None])[..., 0]
        scale = np.max(np.einsum("kpp->kp", g), axis=1)
        a[sl] = _quad_pinv(g, st, scale)
        b[sl] = _quad_pinv(g1, s1t, scale)
        c[sl] = _quad_pinv(g0 + g1, s1t, scale)
    return a, b, c


def _abs_cos(u: np.ndarray, v: np.ndarray, normalise: bool) -> np.ndarray:
    """|<u_p, v_q>| (optionally divided by the norms) for stacks (k, p, d), (k, q, d)."""
    inner = np.abs(u @ v.transpose(0, 2, 1))
    if not normalise:
        return inner
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    den = nu[:, :, None] * nv[:, None, :]
    return np.divide(inner, den, out=np.full_like(inner, np.nan), where=den > 0)


def alignments(
    anchors: np.ndarray,
    active: np.ndarray,
    centers: np.ndarray,
    *,
    normalise: bool = True,
    chunk: int = 64,
) -> dict[str, np.ndarray]:
    """Per-sample centre, axis and centre-axis alignments, each of shape (n_samples,).

    A sample with fewer than two active manifolds (or zero-length vectors) gives NaN for the
    alignments that need them; average with ``np.nanmean``.
    """
    n_s, n_m, _ = anchors.shape
    out = {k: np.full(n_s, np.nan) for k in ("center", "axis", "center_axis")}
    off = ~np.eye(n_m, dtype=bool)
    size = float(np.sqrt(np.max(np.einsum("kpd,kpd->kp", anchors, anchors), initial=0.0)))
    tiny = 1e-9 * max(size, 1e-300)
    for lo in range(0, n_s, chunk):
        sl = slice(lo, lo + chunk)
        act = active[sl]
        s0 = np.broadcast_to(centers[None], anchors[sl].shape)
        s1 = anchors[sl] - s0
        s1 = np.where(np.linalg.norm(s1, axis=-1, keepdims=True) > tiny, s1, 0.0)
        s0 = np.where(np.linalg.norm(s0, axis=-1, keepdims=True) > tiny, s0, 0.0)
        pair = act[:, :, None] & act[:, None, :] & off
        for name, u, v in (("center", s0, s0), ("axis", s1, s1)):
            m = _abs_cos(u, v, normalise)
            ok = pair & np.isfinite(m)
            cnt = ok.sum(axis=(1, 2))
            tot = np.where(ok, m, 0.0).sum(axis=(1, 2))
            out[name][sl] = np.divide(tot, cnt, out=np.full(tot.shape, np.nan), where=cnt > 0)
        inner = np.abs(np.einsum("kpd,kpd->kp", s0, s1))
        if normalise:
            den = np.linalg.norm(s0, axis=-1) * np.linalg.norm(s1, axis=-1)
            inner = np.divide(inner, den, out=np.full_like(inner, np.nan), where=den > 0)
        ok = act & np.isfinite(inner)
        cnt = ok.sum(axis=1)
        tot = np.where(ok, inner, 0.0).sum(axis=1)
        out["center_axis"][sl] = np.divide(tot, cnt, out=np.full(tot.shape, np.nan), where=cnt > 0)
    return out


def _sem(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    return float(np.std(x, ddof=1) / np.sqrt(x.size))


def summarize(
    n_manifolds: int,
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    align: dict[str, np.ndarray] | None = None,
) -> dict[str, tuple[float, float]]:
    """Capacity (from a), radius, dimension, utility and alignments with Monte-Carlo standard errors.

    Standard errors of ratios of means use the delta method over samples.

    Returns
    -------
    dict name -> (value, standard error)
    """
    n = a.size
    p = n_manifolds
    ma, mb, mc = a.mean(), b.mean(), c.mean()
    out: dict[str, tuple[float, float]] = {}
    cap = p / ma if ma > 0 else float("inf")
    out["capacity_anchor"] = (cap, cap * _sem(a) / ma if ma > 0 else float("nan"))
    out["dimension"] = (mb / p, _sem(b) / p)
    u, v = c, b - c
    mu, mv = u.mean(), v.mean()
    if mu <= 0 or mv <= 0:
        # no spread of the anchors (points, or anchors that never move): radius 0
        out["radius"] = (0.0, 0.0)
    else:
        r2 = mu / mv
        cov = np.cov(np.vstack([u, v])) if n > 1 else np.zeros((2, 2))
        var_r2 = (cov[0, 0] / mv**2 + mu**2 * cov[1, 1] / mv**4 - 2 * mu * cov[0, 1] / mv**3) / n
        r = float(np.sqrt(r2))
        out["radius"] = (r, float(np.sqrt(max(var_r2, 0.0)) / (2 * r)))
    if ma > 0:
        psi = mc / ma
        cov = np.cov(np.vstack([c, a])) if n > 1 else np.zeros((2, 2))
        var = (cov[0, 0] / ma**2 + mc**2 * cov[1, 1] / ma**4 - 2 * mc * cov[0, 1] / ma**3) / n
        out["utility"] = (float(psi), float(np.sqrt(max(var, 0.0))))
    else:
        out["utility"] = (float("nan"), float("nan"))
    if align is not None:
        for name, vals in align.items():
            finite = vals[np.isfinite(vals)]
            val = float(finite.mean()) if finite.size else float("nan")
            out[f"{name}_alignment"] = (val, _sem(vals))
    return out


def capacity_identity(capacity: float, radius: float, dimension: float, utility: float) -> float:
    """Right-hand side of the exact identity ``alpha = Psi (1 + R^-2) / D``."""
    return utility * (1.0 + radius**-2) / dimension
