"""Which dichotomies have a separating direction at all, decided once per dichotomy.

A dichotomy ``y`` (one sign per manifold) has a separating direction when the cone
``K_y = {v in span: y_mu <v, x> >= 0 for every point x of every manifold mu}`` is not ``{0}``.
When it is ``{0}``, GLUE's ``F(y, t) = min_{v in K_y} ||v - t||^2`` equals ``||t||^2`` (in the span)
for every probe ``t``: no solve is needed, and the sample says nothing about geometry.

With ``A = diag(y) B`` (``B`` the points in an orthonormal basis of their span, full column rank),
Stiemke's alternative says exactly one holds:

- a separating direction: ``v != 0`` with ``A v >= 0``;
- a certificate of none: ``lam > 0`` (every entry) with ``A^T lam = 0``.

Both are found, for all dichotomies at once, by over-relaxed alternating projections between the
null space of ``A^T`` and the box ``{mu : y_i mu_i >= 1}`` started from ``mu = y``: the null-space
part of an iterate is checked for ``y * mu > 0`` (no separating direction), the range part for
``y * mu >= 0`` (a separating direction, the limit gap of the two sets when they do not meet).
The first iterate is the least-squares classifier. Every answer is an exact certificate checked on
the points; the few dichotomies still open after the iterations go to a linear programme (HiGHS).
The sign of ``y`` does not matter (``K_{-y} = -K_y``), so ``y`` and ``-y`` are decided together.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

_MAX_ITER = 2000
_RELAX = 1.9


def _centroid_certificate(factor: np.ndarray, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Dichotomies separated by ``v = sum_mu y_mu c_mu`` (c_mu the manifold means): no solve."""
    n_m = rows.shape[1]
    counts = np.bincount(codes, minlength=n_m).astype(np.float64)
    centres = np.zeros((n_m, factor.shape[1]))
    np.add.at(centres, codes, factor)
    centres /= counts[:, None]
    proj = centres @ factor.T  # (P, n_points)
    margins = rows[:, codes] * (rows @ proj)
    norm = np.linalg.norm(rows @ centres, axis=1)
    return (margins.min(axis=1) > 0) & (norm > 0)


def _projections(basis, signs, max_iter):
    """Alternating projections; returns +1 (separable), -1 (no direction), 0 (open) per row."""
    out = np.zeros(signs.shape[0], dtype=np.int8)
    rows = np.arange(signs.shape[0])
    mu = signs.copy()
    for _ in range(max_iter):
        s = signs[rows]
        rng_part = (mu @ basis) @ basis.T
        null_part = mu - rng_part
        scale = np.abs(mu).max(axis=1)
        none = (s * null_part).min(axis=1) > 1e-9 * scale
        rng_margin = s * rng_part
        sep = (
            ~none & (rng_margin.min(axis=1) >= 0) & (np.abs(rng_margin).max(axis=1) > 1e-9 * scale)
        )
        out[rows[none]] = -1
        out[rows[sep]] = 1
        keep = ~(none | sep)
        rows, null_part, s = rows[keep], null_part[keep], s[keep]
        if not rows.size:
            break
        box = s * np.maximum(s * null_part, 1.0)
        mu = null_part + _RELAX * (box - null_part)
    return out


def _lp_has_no_direction(factor: np.ndarray, signs: np.ndarray) -> bool | None:
    """Stiemke's certificate by LP: ``lam >= 1`` with ``B^T (y * lam) = 0``; None if undecided."""
    a = signs[:, None] * factor
    res = linprog(
        np.zeros(a.shape[0]),
        A_eq=a.T,
        b_eq=np.zeros(a.shape[1]),
        bounds=(1.0, None),
        method="highs",
    )
    if res.status == 0:
        return True
    if res.status == 2:
        return False
    return None


def no_separating_direction(
    factor: np.ndarray, codes: np.ndarray, rows: np.ndarray, *, max_iter: int = _MAX_ITER
) -> tuple[np.ndarray, dict[str, int]]:
    """For each dichotomy, whether it has no separating direction.

    Parameters
    ----------
    factor : ndarray of shape (n_points, rank)
        The points in an orthonormal basis of their span (full column rank).
    codes : ndarray of shape (n_points,)
        Manifold index of each point.
    rows : ndarray of shape (n_dichotomies, P)
        Dichotomies (+-1).
    max_iter : int
        Most alternating-projection iterations before the LP decides.

    Returns
    -------
    none : ndarray of bool, shape (n_dichotomies,)
        True where the dichotomy has no separating direction.
    stats : dict
        How many were decided by the centroid direction, by the projections, and by the LP, and
        how many stayed undecided (counted as separable: their samples are solved).
    """
    rows = np.asarray(rows, dtype=np.float64)
    canon = rows * np.where(rows[:, :1] < 0, -1.0, 1.0)
    uniq, inverse = np.unique(canon, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_points, rank = factor.shape
    stats = {"centroid": 0, "projections": 0, "lp": 0, "undecided": 0}
    verdict = np.zeros(uniq.shape[0], dtype=np.int8)  # +1 separable, -1 none, 0 open
    if rank >= n_points:  # linearly independent points: every dichotomy is separable
        return np.zeros(rows.shape[0], dtype=bool), stats
    cert = _centroid_certificate(factor, codes, uniq)
    verdict[cert] = 1
    stats["centroid"] = int(cert.sum())
    open_ = np.flatnonzero(verdict == 0)
    if open_.size:
        basis = np.linalg.qr(factor)[0]
        verdict[open_] = _projections(basis, uniq[open_][:, codes], max_iter)
        stats["projections"] = int(np.count_nonzero(verdict[open_]))
    for k in np.flatnonzero(verdict == 0):
        ans = _lp_has_no_direction(factor, uniq[k][codes])
        if ans is None:
            stats["undecided"] += 1
            continue
        verdict[k] = -1 if ans else 1
        stats["lp"] += 1
    return (verdict == -1)[inverse], stats
