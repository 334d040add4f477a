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

import os
from typing import Literal

import numba
import numpy as np
from numpy.typing import ArrayLike

from neurogeom.geometry import _dual, _threads

__all__ = ["capacity_contour"]

_PINV_RCOND = 1e-10
# The Cholesky route of _quad_pinv is taken where its lower bound on the smallest eigenvalue
# exceeds the pseudo-inverse's cut by this factor (no eigenvalue is then cut, and both routes
# give the inverse's quadratic form to rounding); elsewhere the eigendecomposition decides.
_CHOLESKY_MARGIN = 1e3


def anchor_centers(
    anchors: np.ndarray, active: np.ndarray, policy: Literal["active", "all"] = "active"
) -> np.ndarray:
    """Anchor centre of each manifold.

    Parameters
    ----------
    anchors : ndarray of shape (n_samples, n_manifolds, dim)
        Anchor points (any finite value where inactive).
    active : ndarray of bool, shape (n_samples, n_manifolds)
    policy : {"active", "all"}
        ``"active"``: average over the samples where the manifold is active (reference code).
        ``"all"``: average over all samples, inactive ones counting as zero.

    Returns
    -------
    ndarray of shape (n_manifolds, dim); zero for a manifold that is never active.
    """
    total = np.einsum("kp,kpd->pd", active.astype(anchors.dtype), anchors)
    if policy == "all":
        return total / anchors.shape[0]
    count = active.sum(axis=0)[:, None]
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def _quad_pinv(
    gram: np.ndarray, vec: np.ndarray, scale: np.ndarray, active: np.ndarray | None = None
) -> np.ndarray:
    """``vec^T gram^+ vec`` for stacks of symmetric PSD matrices (n, m, m) and vectors (n, m).

    Eigenvalues below ``_PINV_RCOND * scale`` (per sample, the size of the anchors' Gram matrix)
    count as zero, so rounding noise in vanishing axes does not enter.

    With ``active`` (n, m) bool, where rows and columns outside it are zero: each sample's
    active block is factored (Cholesky), and where the smallest eigenvalue is certified far
    above the cut (``1 / trace(block^-1)`` exceeds it by ``_CHOLESKY_MARGIN``) the form is read
    from the factor, several times cheaper than the eigendecomposition; the others go through
    the eigendecomposition as without ``active``.
    """
    if active is not None:
        floor = _CHOLESKY_MARGIN * _PINV_RCOND * np.maximum(scale, 1e-300)
        out, ok = _quad_cholesky(gram, vec, active, floor)
        if not ok.all():
            out[~ok] = _quad_pinv(gram[~ok], vec[~ok], scale[~ok])
        return out
    evals, evecs = np.linalg.eigh(gram)
    keep = evals > _PINV_RCOND * np.maximum(scale, 1e-300)[:, None]
    proj = np.einsum("kij,ki->kj", evecs, vec)
    inv = np.divide(1.0, evals, out=np.zeros_like(evals), where=keep)
    return np.einsum("kj,kj->k", proj * inv, proj)


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _quad_cholesky(gram, vec, active, floor):
    """Per sample ``k``: ``vec^T G^-1 vec`` with ``G`` the block of ``gram[k]`` on the active
    rows, from its Cholesky factor, and whether ``1 / trace(G^-1)`` (a lower bound on its
    smallest eigenvalue) exceeds ``floor[k]``; where it does not, the value is not set."""
    n, p, _ = gram.shape
    out = np.zeros(n)
    ok = np.zeros(n, dtype=np.bool_)
    idx = np.empty(p, dtype=np.int64)
    lmat = np.zeros((p, p))
    y = np.empty(p)
    z = np.empty(p)
    for k in range(n):
        m = 0
        for i in range(p):
            if active[k, i]:
                idx[m] = i
                m += 1
        good = True
        for j in range(m):
            d = gram[k, idx[j], idx[j]]
            for t in range(j):
                d -= lmat[j, t] * lmat[j, t]
            if not d > 0.0:
                good = False
                break
            ljj = np.sqrt(d)
            lmat[j, j] = ljj
            for i in range(j + 1, m):
                v = gram[k, idx[i], idx[j]]
                for t in range(j):
                    v -= lmat[i, t] * lmat[j, t]
                lmat[i, j] = v / ljj
        if not good:
            continue
        acc = 0.0
        for i in range(m):
            v = vec[k, idx[i]]
            for t in range(i):
                v -= lmat[i, t] * y[t]
            y[i] = v / lmat[i, i]
            acc += y[i] * y[i]
        # trace(G^-1) = ||L^-1||_F^2, column by column
        trace = 0.0
        for j in range(m):
            z[j] = 1.0 / lmat[j, j]
            trace += z[j] * z[j]
            for i in range(j + 1, m):
                v = 0.0
                for t in range(j, i):
                    v -= lmat[i, t] * z[t]
                z[i] = v / lmat[i, i]
                trace += z[i] * z[i]
        if m == 0 or trace * floor[k] < 1.0:
            out[k] = acc
            ok[k] = True
    return out, ok


def _chunk_geometry(sl, anchors, active, probes, const, out) -> None:
    """a, b, c and alignments of the samples ``sl``, written into ``out`` (see anchor_geometry)."""
    centers, cc, cc_align, c_norm, c_ok, ct, tiny, off, normalise = const
    a, b, c, align = out
    act = active[sl]
    s = anchors[sl]
    off_rows = ~act
    if np.any(s[off_rows]):  # inactive anchors are read as zero
        s = np.where(act[..., None], s, 0.0)
    s1 = s - centers[None]
    s1[off_rows] = 0.0
    g = s @ s.transpose(0, 2, 1)
    g1 = s1 @ s1.transpose(0, 2, 1)
    both = act[:, :, None] & act[:, None, :]
    st = np.einsum("kpd,kd->kp", s, probes[sl])
    s1t = st - act * ct[sl]
    scale = np.max(np.einsum("kpp->kp", g), axis=1)
    a[sl] = _quad_pinv(g, st, scale, act)
    b[sl] = _quad_pinv(g1, s1t, scale, act)
    c[sl] = _quad_pinv(g1 + both * cc, s1t, scale, act)
    # alignments; an axis shorter than `tiny` counts as zero
    n1 = np.sqrt(np.maximum(np.einsum("kpp->kp", g1), 0.0))
    ax_ok = n1 > tiny
    pair = both & off
    ax = np.abs(np.where(ax_ok[:, :, None] & ax_ok[:, None, :], g1, 0.0))
    ca = np.abs(np.einsum("kpd,pd->kp", s1, centers))
    ca = np.where(ax_ok & c_ok, ca, 0.0)
    if normalise:
        den = n1[:, :, None] * n1[:, None, :]
        ax = np.divide(ax, den, out=np.full_like(ax, np.nan), where=den > 0)
        ax[~(ax_ok[:, :, None] & ax_ok[:, None, :])] = np.nan
        den = n1 * c_norm
        ca = np.divide(ca, den, out=np.full_like(ca, np.nan), where=ax_ok & c_ok)
    for name, vals, ok in (
        ("center", np.broadcast_to(cc_align, pair.shape), pair),
        ("axis", ax, pair),
        ("center_axis", ca, act),
    ):
        ok = ok & np.isfinite(vals)
        cnt = ok.sum(axis=tuple(range(1, ok.ndim)))
        tot = np.where(ok, vals, 0.0).sum(axis=tuple(range(1, ok.ndim)))
        align[name][sl] = np.divide(tot, cnt, out=np.full(tot.shape, np.nan), where=cnt > 0)


def anchor_geometry(
    anchors: np.ndarray,
    active: np.ndarray,
    probes: np.ndarray,
    centers: np.ndarray,
    *,
    normalise: bool = True,
    chunk: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Per-sample a, b, c and alignments (see module docstring) in one pass over the anchors.

    Parameters
    ----------
    anchors : ndarray of shape (n_samples, n_manifolds, dim)
        Anchor points (any value where inactive).
    active : ndarray of bool, shape (n_samples, n_manifolds)
    probes : ndarray of shape (n_samples, dim)
        The Gaussian probes ``t`` in the anchors' coordinates.
    centers : ndarray of shape (n_manifolds, dim)
        Anchor centres (:func:`anchor_centers`).
    normalise : bool, default=True
        Alignments as mean |cosine| (True) or mean |inner product|.

    Returns
    -------
    a, b, c : ndarray of shape (n_samples,)
    alignments : dict
        ``"center"``, ``"axis"``, ``"center_axis"``, each of shape (n_samples,). A sample with
        fewer than two active manifolds (or zero-length vectors, when normalising) gives NaN
        for the alignments that need them; average with ``np.nanmean``.

    Notes
    -----
    Only two stacked Gram matrices are formed per sample, ``S S^T`` and ``S1 S1^T``; the centre
    terms come from the single ``n_manifolds x n_manifolds`` Gram matrix of the centres.
    """
    n_s, n_m, _ = anchors.shape
    a = np.empty(n_s)
    b = np.empty(n_s)
    c = np.empty(n_s)
    align = {k: np.full(n_s, np.nan) for k in ("center", "axis", "center_axis")}
    off = ~np.eye(n_m, dtype=bool)
    norm2 = np.einsum("kpd,kpd->kp", anchors, anchors)
    tiny = 1e-9 * float(np.sqrt(np.max(norm2, where=active, initial=0.0)))
    with _dual.one_blas_thread():  # small products
        cc = centers @ centers.T
        ct = probes @ centers.T
    c_norm = np.sqrt(np.diag(cc))
    c_ok = c_norm > tiny
    cc_align = np.abs(np.where(np.outer(c_ok, c_ok), cc, 0.0))
    if normalise:
        cc_align = np.divide(
            cc_align,
            np.outer(c_norm, c_norm),
            out=np.full_like(cc_align, np.nan),
            where=np.outer(c_ok, c_ok),
        )
    const = (centers, cc, cc_align, c_norm, c_ok, ct, tiny, off, normalise)
    workers = os.cpu_count() or 1
    # chunks of equal size (at most ``chunk``), their number a multiple of the threads
    n_chunks = -(-max(-(-n_s // chunk), 1) // workers) * workers
    size = max(-(-n_s // n_chunks), 1)
    slices = [slice(lo, lo + size) for lo in range(0, n_s, size)]
    out = (a, b, c, align)
    with _dual.one_blas_thread():
        _threads.thread_map(
            lambda sl: _chunk_geometry(sl, anchors, active, probes, const, out), slices, workers
        )
    return a, b, c, align


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


def _capacity_identity(capacity: float, radius: float, dimension: float, utility: float) -> float:
    """Right-hand side of the exact identity ``alpha = Psi (1 + R^-2) / D``."""
    return utility * (1.0 + radius**-2) / dimension


def capacity_contour(
    radius: ArrayLike, dimension: ArrayLike, utility: ArrayLike = 1.0
) -> np.ndarray:
    """Capacity ``utility * (1 + R**-2) / D`` at effective radius R and dimension D.

    Parameters
    ----------
    radius : array_like
        Effective radius R (> 0, unitless: relative to the centre norm).
    dimension : array_like
        Effective dimension D (> 0, dimensions).
    utility : array_like, default=1.0
        GLUE's utility in [0, 1]; 1 gives the seed paper's approximation.

    Returns
    -------
    ndarray
        Capacity alpha (manifolds per unit), broadcast shape of the inputs.

    See Also
    --------
    neurogeom.geometry.glue : Capacity from the same effective geometry.

    Examples
    --------
    >>> float(capacity_contour(1.0, 4.0))
    0.5
    >>> capacity_contour([0.5, 2.0], 10.0).tolist()
    [0.5, 0.125]
    """
    r = np.asarray(radius, dtype=float)
    d = np.asarray(dimension, dtype=float)
    if np.any(r <= 0) or np.any(d <= 0):
        raise ValueError("capacity_contour needs radius > 0 and dimension > 0.")
    return np.asarray(utility, dtype=float) * (1.0 + r**-2) / d
