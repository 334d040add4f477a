"""Numerical kernels of the per-manifold mean-field (MFTMA) estimator.

Private module: the functions take plain, already-validated arrays in the (features x points)
layout of the published replicaMFT code and return plain numbers. The public entry point is
:func:`neurogeom.geometry.mftma`.

Two pieces:

* :func:`manifold_mean_field` solves, for each Gaussian probe ``t``, the quadratic programme
  ``min_v ||v - t||^2  s.t.  v . s <= -kappa  for every point s`` of one manifold (Chung, Lee and
  Sompolinsky 2018, Eqs. 16-17) exactly, through its non-negative least-squares dual, and
  returns the manifold's capacity, anchor radius and anchor dimension (Eqs. 28-29).
* :func:`center_subspace` finds the low-rank subspace shared by the manifold centres (Cohen,
  Chung, Lee and Sompolinsky 2020), whose removal decorrelates the centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import qr
from scipy.optimize import minimize, nnls

__all__ = ["center_subspace", "manifold_mean_field", "qr_basis"]

#: ||v - t|| below this counts as an interior probe (the published code's ``eps``).
INTERIOR_EPS = 1e-8


@dataclass(frozen=True)
class ManifoldResult:
    """Mean-field estimates for one manifold."""

    capacity: float
    radius: float
    dimension: float
    capacity_se: float
    field: np.ndarray  # (n_t,) F_k = max(t.s + kappa, 0)^2 / ||s||^2 per probe


def anchor_points(sD1: np.ndarray, t_vec: np.ndarray, kappa: float) -> np.ndarray:
    """Anchor point of the manifold for every probe.

    Parameters
    ----------
    sD1 : ndarray of shape (D + 1, M)
        Manifold points in their own frame, with a last row of ones (the centre coordinate).
    t_vec : ndarray of shape (D + 1, n_t)
        Gaussian probes.
    kappa : float
        Margin.

    Returns
    -------
    ndarray of shape (D + 1, n_t)
        The anchor (a point of the convex hull, last coordinate 1) for each probe. For interior
        probes (the constraint set already contains ``t``) it is the point of largest projection.

    Notes
    -----
    The quadratic programme ``min_v ||v - t||^2 s.t. sD1^T v <= -kappa`` has the KKT solution
    ``v = t - sD1 lam`` with ``lam >= 0``; because the last row of ``sD1`` is all ones, its
    dual is the non-negative least-squares problem ``min_{lam >= 0} ||sD1 lam - (t + kappa e)||``
    with ``e`` the last unit vector. The anchor is ``sD1 lam / sum(lam)``; its last coordinate is
    ``sum(lam) / sum(lam) = 1`` and ``sD1 lam`` is unique, so the anchor is unique even when
    ``lam`` is not.
    """
    n_dim = sD1.shape[0] - 1
    # point of largest projection, ignoring the centre coordinate (the published `maxproj`)
    best = np.argmax(t_vec[:n_dim].T @ sD1[:n_dim], axis=1)
    s_max = np.vstack([sD1[:n_dim, best], np.ones((1, t_vec.shape[1]))])
    g = np.einsum("ij,ij->j", t_vec, s_max)
    anchors = s_max.copy()
    shift = np.zeros(sD1.shape[0])
    shift[-1] = kappa
    for k in np.flatnonzero(g + kappa >= 0):
        lam, _ = nnls(sD1, t_vec[:, k] + shift, maxiter=50 * sD1.shape[1] + 100)
        t_minus_v = sD1 @ lam
        if np.linalg.norm(t_minus_v) >= INTERIOR_EPS:
            anchors[:, k] = t_minus_v / t_minus_v[-1]
    return anchors


def manifold_mean_field(sD1: np.ndarray, t_vec: np.ndarray, kappa: float = 0.0) -> ManifoldResult:
    """Capacity, anchor radius and anchor dimension of one manifold (replicaMFT definitions).

    Parameters
    ----------
    sD1 : ndarray of shape (D + 1, M)
        Manifold points (normalised by the centre norm, centred) with a last row of ones.
    t_vec : ndarray of shape (D + 1, n_t)
        Gaussian probes.
    kappa : float, default=0.0
        Margin.

    Returns
    -------
    ManifoldResult
        ``capacity = 1 / mean_k F_k`` with ``F_k = max(t_k . s_k + kappa, 0)^2 / ||s_k||^2``;
        ``radius = sqrt(mean_k ||s_k[:D] - mean_j s_j[:D]||^2)``;
        ``dimension = D (mean_k t_hat_k . s_hat_k)^2`` (square of the mean cosine, as published);
        ``capacity_se`` the delta-method Monte-Carlo standard error of the capacity.
    """
    n_dim = sD1.shape[0] - 1
    n_t = t_vec.shape[1]
    s_all = anchor_points(sD1, t_vec, kappa)

    max_ts = np.maximum(np.einsum("ij,ij->j", t_vec, s_all) + kappa, 0.0)
    s_sq = np.einsum("ij,ij->j", s_all, s_all)
    field = np.square(max_ts) / s_sq  # ||s|| >= 1 (last coordinate is 1)
    mean_field = field.mean()
    capacity = 1.0 / mean_field if mean_field > 0 else np.inf
    capacity_se = capacity**2 * field.std(ddof=1) / np.sqrt(n_t) if n_t > 1 else np.nan

    ds = s_all[:-1] - s_all[:-1].mean(axis=1, keepdims=True)
    radius = float(np.sqrt(np.mean(np.einsum("ij,ij->j", ds, ds))))

    if n_dim == 0:
        dimension = 0.0
    else:
        t_part, s_part = t_vec[:n_dim], s_all[:n_dim]
        t_hat = t_part / np.sqrt(np.einsum("ij,ij->j", t_part, t_part))
        s_hat = s_part / np.sqrt(np.einsum("ij,ij->j", s_part, s_part) + 1e-12)
        dimension = float(n_dim * np.mean(np.einsum("ij,ij->j", t_hat, s_hat)) ** 2)
    return ManifoldResult(float(capacity), radius, dimension, float(capacity_se), field)


def qr_basis(A: np.ndarray, *, canonical: bool = True) -> np.ndarray:
    """Orthonormal basis Q of the economic QR of ``A`` (n x m).

    With ``canonical=True`` column signs are fixed so that ``diag(R) >= 0``; the coordinates
    ``Q^T A`` are then the same for ``A`` and ``O A`` with ``O`` orthogonal, which makes results
    at a fixed seed invariant to rotations and reflections of the data. ``canonical=False``
    keeps LAPACK's Householder signs, as the published code gets them.
    """
    q, r = qr(A, mode="economic")
    if canonical:
        signs = np.where(np.diag(r) < 0, -1.0, 1.0)
        q = q * signs
    return q


def mean_abs_correlation(X: np.ndarray) -> float:
    """Mean |cosine| between distinct rows of ``X`` (shape (P, n)); the centre correlation."""
    norms = np.linalg.norm(X, axis=1)
    cos = (X @ X.T) / np.outer(norms, norms)
    n = X.shape[0]
    return float((np.abs(cos).sum() - np.trace(np.abs(cos))) / (n * (n - 1)))


def _cost_and_grad(z: np.ndarray, X: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Centre-correlation cost on the subspace spanned by the columns of Z, and its gradient.

    ``F = 1/2 sum_mn (C_mn - B_mn)^2 / (c0_m c0_n)``, ``C = X X^T``, ``B = X Pi X^T``,
    ``c0 = diag(C - B)``, with ``Pi`` the orthogonal projector onto span(Z). ``F`` depends on
    the subspace only, so it is minimised over unconstrained Z.
    """
    Z = z.reshape(X.shape[1], k)
    gram_inv = np.linalg.inv(Z.T @ Z)
    proj = Z @ gram_inv @ Z.T
    C = X @ X.T
    E = C - X @ proj @ X.T
    c0 = np.diag(E).copy()
    if np.any(c0 <= 1e-12 * np.diag(C)):
        return np.inf, np.zeros_like(z)
    W = np.outer(c0, c0)
    ratio = E / W
    cost = 0.5 * float(np.sum(E * ratio))
    g = (ratio * ratio) @ c0
    dF_dB = -ratio + np.diag(g)
    dF_dproj = X.T @ dF_dB @ X
    dF_dZ = 2.0 * (dF_dproj - proj @ dF_dproj) @ Z @ gram_inv
    return cost, dF_dZ.ravel()


@dataclass(frozen=True)
class CenterSubspace:
    """Shared low-rank structure of the manifold centres."""

    basis: np.ndarray  # (N, K) orthonormal directions removed from the data (K may be 0)
    n_dims: int  # K
    correlation_before: float  # mean |cos| between centred centres (replicaMFT res_coeff0)
    correlation_after: float  # the same after removing the K directions
    residual_by_k: np.ndarray  # mean |cos| of the residual centres for K = 1, 2, ...


def center_subspace(
    centers: np.ndarray,
    *,
    n_reps: int,
    rng: np.random.Generator,
    max_iter: int = 1000,
) -> CenterSubspace:
    """Low-rank subspace of the manifold centres whose removal best decorrelates them.

    Parameters
    ----------
    centers : ndarray of shape (N, P)
        Manifold centres as columns.
    n_reps : int
        Random restarts per rank; the most stable solution (largest smallest residual norm
        ratio) is kept, as in the published ``fun_FA``.
    rng : numpy.random.Generator
        Source of the random starting subspaces.
    max_iter : int, default=1000
        L-BFGS iterations per restart.

    Notes
    -----
    Follows Cohen et al. (2020) / replicaMFT ``fun_FA``: centres are mean-subtracted and expressed
    in a (P-1)-dim orthonormal basis; for K = 1, 2, ... a K-dim subspace V minimising
    ``1/2 sum_mn (C_mn - c_m.c_n)^2 / (c0_m c0_n)`` is found; the rank search stops when the
    residual correlation has risen three times in a row; the chosen K minimises the residual
    correlation. Differences from the published code: the optimiser is L-BFGS over the subspace
    (same cost), and K is capped at ``rank - 1`` so that every centre keeps a residual (the
    published code fails with NaN for P of about 5, where K can reach P-1).
    """
    n_features, n_manifolds = centers.shape
    Xb = centers.T - centers.T.mean(axis=0, keepdims=True)  # (P, N)
    q = qr_basis(Xb.T)
    rank = min(n_manifolds - 1, n_features)
    q = q[:, :rank]
    X = Xb @ q  # (P, rank)
    before = mean_abs_correlation(X)

    sv = np.linalg.svd(Xb, compute_uv=False)
    explained = np.cumsum(sv**2) / np.sum(sv**2)
    max_k = int(np.argmax([e if e < 0.95 else 0 for e in explained])) + 11
    max_k = min(max_k, rank - 1)
    if max_k < 1:
        return CenterSubspace(np.zeros((n_features, 0)), 0, before, before, np.array([]))

    bases: list[np.ndarray] = []
    residual: list[float] = []
    row_norms = np.linalg.norm(X, axis=1)
    for k in range(1, max_k + 1):
        best_v, best_stability = None, -np.inf
        for _ in range(n_reps):
            z0 = rng.standard_normal((rank, k))
            res = minimize(
                _cost_and_grad,
                z0.ravel(),
                args=(X, k),
                jac=True,
                method="L-BFGS-B",
                options={"maxiter": max_iter, "gtol": 1e-10, "ftol": 1e-15},
            )
            v, _ = np.linalg.qr(res.x.reshape(rank, k))
            resid = X - (X @ v) @ v.T
            stability = float(np.min(np.linalg.norm(resid, axis=1) / row_norms))
            if np.isfinite(res.fun) and stability > best_stability:
                best_v, best_stability = v, stability
        if best_v is None:  # every restart hit a degenerate subspace
            break
        bases.append(best_v)
        residual.append(mean_abs_correlation(X - (X @ best_v) @ best_v.T))
        i = k - 1
        if k > 4 and residual[i] > residual[i - 1] > residual[i - 2] > residual[i - 3]:
            break
    if not bases:
        return CenterSubspace(np.zeros((n_features, 0)), 0, before, before, np.array([]))
    best = int(np.argmin(residual))
    return CenterSubspace(
        basis=q @ bases[best],
        n_dims=best + 1,
        correlation_before=before,
        correlation_after=residual[best],
        residual_by_k=np.asarray(residual),
    )
