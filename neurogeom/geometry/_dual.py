"""Kernels for the GLUE anchor problem: reduction to the span of the points and a batched dual solver.

For one sample (dichotomy ``y``, Gaussian probe ``t``) GLUE solves

    F(y, t) = min_v ||v - t||^2   subject to   y_mu <v, x> >= kappa  for every point x of manifold mu,

whose non-negative dual is

    min_{lam >= 0}  1/2 lam^T G lam + lam^T q,   G = D_y K D_y,   q = D_y X t - kappa,

with ``K = X X^T`` the Gram matrix of the points and ``F = lam^T G lam``. All samples share ``K``, so
the points are reduced once to a factor ``B`` (n_points x rank) with ``B B^T = K``; then
``X t ~ B w`` with ``w ~ N(0, I_rank)`` and the ambient dimension drops out. The dual is solved for
all samples as one batch by accelerated projected gradient (FISTA with adaptive restart), and
finished exactly: on the estimated support each sample's equality-constrained system is solved in
float64 and the Karush-Kuhn-Tucker conditions are verified; samples that fail go through a
warm-started active-set (Lawson-Hanson) loop, then, if need be, :func:`scipy.optimize.nnls`.

These kernels trust their input (validated in :mod:`neurogeom.geometry._validate`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
from scipy.optimize import nnls
from threadpoolctl import threadpool_limits

# Use the Gram path (K = X X^T, pivoted Cholesky) when n_points <= max(n_features, this).
_GRAM_PATH_MAX_POINTS = 4096


@dataclass(frozen=True)
class Reduction:
    """Points expressed in an orthonormal basis of their span.

    Attributes
    ----------
    factor : ndarray of shape (n_points, rank)
        ``factor @ factor.T`` equals the Gram matrix ``points @ points.T`` (to rounding).
    rank : int
        Numerical dimension of the span of the points.
    path : str
        ``"gram"`` (pivoted Cholesky of the n_points x n_points Gram matrix; the factor depends on
        the Gram matrix only, so results are invariant to rotations and zero-padding of the
        features to rounding) or ``"features"`` (eigendecomposition of the n_features x
        n_features covariance, used when there are many more points than features; the factor
        is rotation-invariant up to the signs fixed below and degenerate eigenvalues).
    """

    factor: np.ndarray
    rank: int
    path: str


def reduce_points(points: np.ndarray, dtype: type = np.float64) -> Reduction:
    """Factor the Gram matrix of ``points`` (n_points, n_features) as ``B B^T``, B of full rank."""
    x = np.asarray(points, dtype=dtype)
    n, n_features = x.shape
    if n <= max(n_features, _GRAM_PATH_MAX_POINTS):
        gram = x @ x.T
        pstrf = sla.lapack.dpstrf if gram.dtype == np.float64 else sla.lapack.spstrf
        scale = float(np.max(np.diag(gram))) if n else 0.0
        if scale <= 0.0:
            return Reduction(np.zeros((n, 0), dtype=dtype), 0, "gram")
        tol = n * np.finfo(gram.dtype).eps * scale
        chol, piv, rank, info = pstrf(gram, lower=1, tol=tol, overwrite_a=1)
        if info < 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"pivoted Cholesky failed (info={info})")
        factor = np.zeros((n, rank), dtype=dtype)
        factor[piv - 1] = np.tril(chol[:, :rank])
        return Reduction(factor, int(rank), "gram")
    cov = x.T @ x
    evals, evecs = np.linalg.eigh(cov)
    keep = evals > n_features * np.finfo(cov.dtype).eps * max(float(evals[-1]), 0.0)
    evecs = evecs[:, keep][:, ::-1]
    factor = x @ evecs
    # canonical signs: the entry of largest magnitude in each column is positive
    sign = np.sign(factor[np.argmax(np.abs(factor), axis=0), np.arange(factor.shape[1])])
    sign[sign == 0] = 1.0
    factor *= sign
    return Reduction(np.ascontiguousarray(factor), int(keep.sum()), "features")


def spectral_norm_sq(factor: np.ndarray) -> float:
    """Largest eigenvalue of ``factor.T @ factor`` (the dual's Lipschitz constant), slightly inflated."""
    rank = factor.shape[1]
    if rank == 0:
        return 1.0
    if rank <= 600:
        f = factor.astype(np.float64)
        return float(np.linalg.eigvalsh(f.T @ f)[-1]) * 1.0001
    from scipy.sparse.linalg import LinearOperator, eigsh

    f = factor.astype(np.float64)
    op = LinearOperator((rank, rank), matvec=lambda v: f.T @ (f @ v), dtype=np.float64)
    val = eigsh(op, k=1, which="LA", tol=1e-6, return_eigenvectors=False, v0=np.ones(rank))
    return float(val[0]) * 1.001


# ---- batched accelerated projected gradient -----------------------------------------------------


def fista(
    factor: np.ndarray,
    signs: np.ndarray,
    probes: np.ndarray,
    kappa: float,
    *,
    max_iter: int = 300,
    check_every: int = 10,
    stable_fraction: float = 0.3,
    backend: str = "numpy",
    dtype: type = np.float32,
) -> tuple[np.ndarray, int]:
    """Approximate dual solutions for all samples at once.

    Parameters
    ----------
    factor : ndarray of shape (n_points, rank)
    signs : ndarray of shape (n_samples, n_points)
        ``y`` of each point's manifold (+1, -1, or 0 for points left out of that sample).
    probes : ndarray of shape (n_samples, rank)
        The Gaussian probes ``w`` in reduced coordinates.
    kappa : float
        Margin.

    Returns
    -------
    lam : ndarray of shape (n_samples, n_points), float64
        Non-negative approximate duals (exactly zero off the estimated support).
    n_iter : int
        Iterations run (stops early once the support of at least ``stable_fraction`` of the
        samples is unchanged over ``check_every`` iterations; the exact finish handles the rest).
    """
    step = 1.0 / spectral_norm_sq(factor)
    if backend == "torch":
        return _fista_torch(
            factor, signs, probes, kappa, step, max_iter, check_every, stable_fraction, dtype
        )
    b = np.ascontiguousarray(factor, dtype=dtype)
    bt = np.ascontiguousarray(b.T)
    y = signs.astype(dtype)
    w = probes.astype(dtype)
    excluded = signs == 0
    n_s, n = y.shape
    lam = np.zeros((n_s, n), dtype)
    z = lam.copy()
    tk = np.ones((n_s, 1), dtype)
    step_c = dtype(step)
    kap = dtype(kappa)
    support_prev = None
    it = 0
    for it in range(1, max_iter + 1):
        grad = y * (((y * z) @ b + w) @ bt) - kap
        new = np.maximum(z - step_c * grad, 0)
        if kappa != 0.0:
            new[excluded] = 0
        delta = new - lam
        restart = np.einsum("ij,ij->i", grad, delta) > 0
        tn = (1 + np.sqrt(1 + 4 * tk * tk)) / 2
        beta = (tk - 1) / tn
        beta[restart] = 0
        tn[restart] = 1
        z = new + beta * delta
        lam = new
        tk = tn
        if it % check_every == 0 and it >= 3 * check_every:
            support = lam > 0
            if support_prev is not None:
                same = np.all(support == support_prev, axis=1).mean()
                if same >= stable_fraction:
                    break
            support_prev = support
    return lam.astype(np.float64), it


def _fista_torch(factor, signs, probes, kappa, step, max_iter, check_every, stable_fraction, dtype):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    tdtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    b = torch.as_tensor(np.asarray(factor), dtype=tdtype, device=device)
    bt = b.T.contiguous()
    y = torch.as_tensor(signs, dtype=tdtype, device=device)
    w = torch.as_tensor(probes, dtype=tdtype, device=device)
    excluded = y == 0
    lam = torch.zeros_like(y)
    z = lam.clone()
    tk = torch.ones((y.shape[0], 1), dtype=tdtype, device=device)
    support_prev = None
    it = 0
    for it in range(1, max_iter + 1):
        grad = y * ((((y * z) @ b) + w) @ bt) - kappa
        new = torch.clamp(z - step * grad, min=0)
        if kappa != 0.0:
            new[excluded] = 0
        delta = new - lam
        restart = (grad * delta).sum(1) > 0
        tn = (1 + torch.sqrt(1 + 4 * tk * tk)) / 2
        beta = (tk - 1) / tn
        beta[restart] = 0
        tn[restart] = 1
        z = new + beta * delta
        lam = new
        tk = tn
        if it % check_every == 0 and it >= 3 * check_every:
            support = lam > 0
            if support_prev is not None:
                same = torch.all(support == support_prev, dim=1).double().mean().item()
                if same >= stable_fraction:
                    break
            support_prev = support
    return lam.double().cpu().numpy(), it


# ---- exact finish -------------------------------------------------------------------------------


def _kkt_tolerance(factor: np.ndarray, probes: np.ndarray, kappa: float) -> np.ndarray:
    """Per-sample tolerance on the dual gradient, relative to the size of its terms."""
    row = float(np.sqrt(np.max(np.einsum("ij,ij->i", factor, factor)))) if factor.size else 1.0
    return 1e-9 * (row * np.linalg.norm(probes, axis=1) + abs(kappa) + 1e-300)


def dual_gradient(factor, signs, probes, lam, kappa):
    """Gradient ``G lam + q`` of the dual for every sample, shape (n_samples, n_points)."""
    return signs * (((signs * lam) @ factor + probes) @ factor.T) - kappa


def _solve_on_support(bp: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """Solve ``(bp bp^T) s = rhs``; None when the support is linearly dependent."""
    return _solve_gram(bp @ bp.T, rhs)


def _solve_gram(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray | None:
    """Solve ``gram s = rhs`` for a PSD ``gram``; None when it is (numerically) singular."""
    try:
        cf = sla.cho_factor(gram, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        return None
    diag = np.diag(cf[0])
    if diag.min() <= 1e-7 * diag.max():
        return None
    return sla.cho_solve(cf, rhs, check_finite=False)


def _primal_dual_active_set(
    f: np.ndarray,
    yk: np.ndarray,
    q: np.ndarray,
    support: np.ndarray,
    tol: float,
    allowed: np.ndarray,
    max_rounds: int = 25,
    gram: np.ndarray | None = None,
) -> np.ndarray | None:
    """Solve on the support, then swap all sign and KKT violators at once; None if not settled.

    The dual matrix is ``diag(yk) f f^T diag(yk)``; ``gram`` (= f f^T), when given, is indexed
    instead of multiplying rows of ``f`` (cheaper when the span is wider than the support).
    """
    support = support & allowed
    lam = np.zeros(q.size)
    for _ in range(max_rounds):
        idx = np.flatnonzero(support)
        lam[:] = 0.0
        if idx.size:
            if gram is None:
                bp = yk[idx, None] * f[idx]
                s = _solve_on_support(bp, -q[idx])
            else:
                s = _solve_gram(gram[np.ix_(idx, idx)] * np.outer(yk[idx], yk[idx]), -q[idx])
            if s is None:
                return None
            lam[idx] = s
            if gram is None:
                grad = yk * (f @ (bp.T @ s)) + q
            else:
                grad = yk * (gram[:, idx] @ (yk[idx] * s)) + q
        else:
            s = np.zeros(0)
            grad = q.copy()
        add = (grad < -tol) & ~support & allowed
        drop = s <= 0
        if not add.any() and not drop.any():
            return lam
        support[idx[drop]] = False
        support |= add
    return None


def _active_set(bs: np.ndarray, q: np.ndarray, lam0: np.ndarray, tol: float, max_outer: int):
    """Warm-started Lawson-Hanson for min 1/2 |bs^T lam|^2 + q.lam, lam >= 0; None on failure."""
    lam = np.maximum(lam0, 0.0)
    passive = lam > 0
    n = q.size
    for _ in range(max_outer):
        for _ in range(n + 1):
            idx = np.flatnonzero(passive)
            if idx.size == 0:
                break
            s = _solve_on_support(bs[idx], -q[idx])
            if s is None:
                return None
            if np.all(s > 0):
                lam[idx] = s
                break
            cur = lam[idx]
            neg = s <= 0
            ratios = cur[neg] / (cur[neg] - s[neg])
            j = int(np.argmin(ratios))
            cur = cur + ratios[j] * (s - cur)
            cur[np.flatnonzero(neg)[j]] = 0.0
            cur[cur <= 0] = 0.0
            lam[idx] = cur
            passive[idx[cur <= 0]] = False
        idx = np.flatnonzero(passive)
        grad = bs @ (bs[idx].T @ lam[idx]) + q
        grad[passive] = np.inf
        j = int(np.argmin(grad))
        if grad[j] >= -tol:
            return lam
        passive[j] = True
    return None


def finish(
    factor: np.ndarray,
    signs: np.ndarray,
    probes: np.ndarray,
    lam: np.ndarray,
    kappa: float,
    *,
    max_outer: int = 2000,
) -> tuple[np.ndarray, dict]:
    """Polish approximate duals to the exact optimum (float64) and verify the KKT conditions.

    Returns the exact duals (n_samples, n_points) and counts of how each sample was finished.
    """
    f = np.ascontiguousarray(factor, dtype=np.float64)
    y = signs.astype(np.float64)
    w = probes.astype(np.float64)
    tol = _kkt_tolerance(f, w, kappa)
    out = np.zeros_like(lam)
    stats = {"support_solve": 0, "active_set": 0, "nnls": 0, "unresolved": 0}
    n, rank = f.shape
    # index a precomputed Gram matrix when the span is wider than typical supports
    gram = f @ f.T if (n <= 8192 and rank >= 256) else None
    with threadpool_limits(1):
        q = y * (w @ f.T) - kappa
        for k in range(lam.shape[0]):
            sol = _primal_dual_active_set(
                f, y[k], q[k], lam[k] > 0, tol[k], signs[k] != 0, gram=gram
            )
            out[k] = np.nan if sol is None else sol
    grad = dual_gradient(f, y, w, np.nan_to_num(out), kappa)
    bad = np.isnan(out).any(axis=1)
    viol = np.where(out > 0, np.abs(grad), -np.minimum(grad, 0.0))
    viol[:, :] = np.where(signs == 0, 0.0, viol)
    bad |= viol.max(axis=1, initial=0.0) > tol
    stats["support_solve"] = int((~bad).sum())
    with threadpool_limits(1):
        for k in np.flatnonzero(bad):
            keep = signs[k] != 0
            bs = y[k, keep, None] * f[keep]
            qk = q[k, keep]
            start = np.nan_to_num(out[k, keep]) if not np.isnan(out[k]).any() else lam[k, keep]
            sol = _active_set(bs, qk, start, tol[k], max_outer)
            if sol is not None:
                stats["active_set"] += 1
            elif kappa == 0.0:
                sol, _ = nnls(bs.T, -w[k], maxiter=50 * bs.shape[0])
                stats["nnls"] += 1
            else:
                sol = lam[k, keep]
                stats["unresolved"] += 1
            out[k] = 0.0
            out[k, keep] = sol
    if stats["unresolved"]:
        warnings.warn(
            f"{stats['unresolved']} of {lam.shape[0]} samples kept the iterative dual solution "
            "(the exact finish did not converge); results for them are approximate.",
            RuntimeWarning,
            stacklevel=3,
        )
    return out, stats


def solve_batch(
    factor: np.ndarray,
    signs: np.ndarray,
    probes: np.ndarray,
    kappa: float = 0.0,
    *,
    max_iter: int = 300,
    backend: str = "numpy",
    iterate_dtype: type = np.float32,
) -> tuple[np.ndarray, dict]:
    """Exact duals for a batch of samples: FISTA on all samples, then the exact finish."""
    lam, n_iter = fista(
        factor, signs, probes, kappa, max_iter=max_iter, backend=backend, dtype=iterate_dtype
    )
    out, stats = finish(factor, signs, probes, lam, kappa)
    stats["fista_iterations"] = n_iter
    return out, stats


# ---- plain per-sample reference -----------------------------------------------------------------


def solve_reference(
    points: np.ndarray, signs: np.ndarray, probes: np.ndarray, kappa: float = 0.0
) -> np.ndarray:
    """Per-sample dual by :func:`scipy.optimize.nnls`, as third-party GLUE code does.

    ``points`` (n_points, dim) and ``probes`` (n_samples, dim) are in the same coordinates (ambient
    or reduced). Solves min ||A^T lam + t|| over lam >= 0 with A = diag(y) points. A margin
    ``kappa`` != 0 is handled by writing the linear term as ``A^T u`` with ``A u = kappa``, which
    needs the points to be linearly independent (n_points <= dim); otherwise ValueError.

    Returns
    -------
    lam : ndarray of shape (n_samples, n_points)
    """
    x = np.asarray(points, dtype=np.float64)
    out = np.zeros((signs.shape[0], x.shape[0]))
    for k in range(signs.shape[0]):
        keep = signs[k] != 0
        a = signs[k, keep, None] * x[keep]
        t = np.asarray(probes[k], dtype=np.float64)
        if kappa != 0.0:
            u, _, rank, _ = np.linalg.lstsq(a, np.full(a.shape[0], kappa), rcond=None)
            if rank < a.shape[0]:
                raise ValueError(
                    "the reference solver handles kappa != 0 only for linearly independent "
                    f"points; got {a.shape[0]} points of rank {rank}."
                )
            t = t - u
        sol, _ = nnls(a.T, -t, maxiter=50 * a.shape[0])
        out[k, keep] = sol
    return out
