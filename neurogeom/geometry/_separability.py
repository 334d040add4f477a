"""Which dichotomies have a separating direction at all, decided once per dichotomy.

A dichotomy ``y`` (one sign per manifold) has a separating direction when the cone
``K_y = {v in span: y_mu <v, x> >= 0 for every point x of every manifold mu}`` is not ``{0}``.
When it is ``{0}``, GLUE's ``F(y, t) = min_{v in K_y} ||v - t||^2`` equals ``||t||^2`` (in the span)
for every probe ``t``: no solve is needed, and the sample says nothing about geometry.

With ``A = diag(y) B`` (``B`` the points in an orthonormal basis of their span, full column rank),
Stiemke's alternative says exactly one holds:

- a separating direction: ``v != 0`` with ``A v >= 0``;
- a certificate of none: ``lam > 0`` (every entry) with ``A^T lam = 0``.

Both come from one GLUE problem per dichotomy, with the probe ``u = A^T 1`` (the sum of the signed
points): its solution ``v* = u + A^T lam'`` (``lam' >= 0``) is the projection of ``u`` on ``K_y``.
If ``v* != 0`` it is a separating direction. If ``v* = 0`` then ``lam = 1 + lam'`` is positive with
``A^T lam = 0``: the certificate of none. So the question costs one sample's solve, and all
dichotomies are solved as one batch by the exact solver of :mod:`neurogeom.geometry._dual`
(KKT-verified). Most separable dichotomies are settled before that, with no solve, by the
direction ``sum_mu y_mu c_mu`` (``c_mu`` the manifold means); the few whose ``v*`` is neither
clearly zero nor clearly a direction go to a linear programme (HiGHS). The sign of ``y`` does not
matter (``K_{-y} = -K_y``), so ``y`` and ``-y`` are decided together.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import linprog

__all__ = [
    "canonical",
    "centroid_certificate",
    "no_separating_direction",
    "probe_problems",
    "settle_by_lp",
    "verdicts",
]

# ||v*|| / ||u|| below this: no separating direction; above _DIRECTION (with v* feasible): one
_ZERO = 1e-9
_DIRECTION = 1e-6


def canonical(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct dichotomies up to sign (first entry +1) and the index of each row among them."""
    rows = np.asarray(rows, dtype=np.float64)
    canon = rows * np.where(rows[:, :1] < 0, -1.0, 1.0)
    uniq, inverse = np.unique(canon, axis=0, return_inverse=True)
    return uniq, inverse.ravel()


def centroid_certificate(factor: np.ndarray, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Dichotomies separated by ``v = sum_mu y_mu c_mu`` (c_mu the manifold means): no solve."""
    n_m = rows.shape[1]
    counts = np.bincount(codes, minlength=n_m).astype(np.float64)
    member = np.zeros((n_m, codes.size))  # one product, not np.add.at (unbuffered, slow)
    member[codes, np.arange(codes.size)] = 1.0
    centres = member @ factor
    centres /= counts[:, None]
    proj = centres @ factor.T  # (P, n_points)
    margins = rows[:, codes] * (rows @ proj)
    norm = np.linalg.norm(rows @ centres, axis=1)
    return (margins.min(axis=1) > 0) & (norm > 0)


def probe_problems(factor: np.ndarray, codes: np.ndarray, rows: np.ndarray):
    """Signs and probes ``u = A^T 1`` of the deciding problems, shapes (n, n_points), (n, rank)."""
    signs = np.asarray(rows, dtype=np.float64)[:, codes]
    return signs, signs @ factor


def verdicts(factor: np.ndarray, signs: np.ndarray, probes: np.ndarray, lam: np.ndarray):
    """+1 (a separating direction), -1 (none) or 0 (undecided) from the solved probe problems."""
    v = probes + (signs * lam) @ factor
    size = np.linalg.norm(probes, axis=1)
    rel = np.linalg.norm(v, axis=1) / np.maximum(size, 1e-300)
    row = float(np.sqrt(np.max(np.einsum("ij,ij->i", factor, factor))))
    margin = (signs * (v @ factor.T)).min(axis=1)
    out = np.zeros(signs.shape[0], dtype=np.int8)
    out[rel < _ZERO] = -1
    out[(rel > _DIRECTION) & (margin >= -1e-9 * row * size)] = 1
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


def settle_by_lp(factor, codes, rows, verdict, stats) -> None:
    """Decide the rows still at 0 in ``verdict`` by LP (in place); count them in ``stats``."""
    for k in np.flatnonzero(verdict == 0):
        ans = _lp_has_no_direction(factor, rows[k][codes])
        if ans is None:
            stats["undecided"] += 1
            continue
        verdict[k] = -1 if ans else 1
        stats["lp"] += 1


def no_separating_direction(
    factor: np.ndarray,
    codes: np.ndarray,
    rows: np.ndarray,
    solve: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
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
    solve : callable, optional
        ``solve(signs, probes) -> lam``, the exact dual of a batch at ``kappa = 0``; default
        :func:`neurogeom.geometry._dual.solve_batch` (FISTA and the finish).

    Returns
    -------
    none : ndarray of bool, shape (n_dichotomies,)
        True where the dichotomy has no separating direction.
    stats : dict
        How many were decided by the centroid direction, by the probe problem, and by the LP,
        and how many stayed undecided (counted as separable: their samples are solved).
    """
    uniq, inverse = canonical(rows)
    n_points, rank = factor.shape
    stats = {"centroid": 0, "probe": 0, "lp": 0, "undecided": 0}
    verdict = np.zeros(uniq.shape[0], dtype=np.int8)
    if rank >= n_points:  # linearly independent points: every dichotomy is separable
        return np.zeros(np.asarray(rows).shape[0], dtype=bool), stats
    cert = centroid_certificate(factor, codes, uniq)
    verdict[cert] = 1
    stats["centroid"] = int(cert.sum())
    open_ = np.flatnonzero(verdict == 0)
    if open_.size:
        if solve is None:
            from neurogeom.geometry import _dual

            def solve(s, p):
                return _dual.solve_batch(factor, s, p)[0]

        signs, probes = probe_problems(factor, codes, uniq[open_])
        verdict[open_] = verdicts(factor, signs, probes, solve(signs, probes))
        stats["probe"] = int(np.count_nonzero(verdict[open_]))
    settle_by_lp(factor, codes, uniq, verdict, stats)
    return (verdict == -1)[inverse], stats
