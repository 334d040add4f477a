"""Kernels for the GLUE anchor problem: reduction to the span of the points and a batched dual solver.

For one sample (dichotomy ``y``, Gaussian probe ``t``) GLUE solves

    F(y, t) = min_v ||v - t||^2   subject to   y_mu <v, x> >= kappa  for every point x of manifold mu,

whose non-negative dual is

    min_{lam >= 0}  1/2 lam^T G lam + lam^T q,   G = D_y K D_y,   q = D_y X t - kappa,

with ``K = X X^T`` the Gram matrix of the points and ``F = lam^T G lam``. All samples share ``K``, so
the points are reduced once to a factor ``B`` (n_points x rank) with ``B B^T = K``; then
``X t ~ B w`` with ``w ~ N(0, I_rank)`` and the ambient dimension drops out. The dual is solved for
all samples as one batch by accelerated projected gradient (FISTA with adaptive restart), and
finished exactly in float64: each sample's problem is restricted to a working set (the iterate's
support plus the most violated points), solved there by a compiled warm-started Lawson-Hanson
active-set method (:mod:`neurogeom.geometry._active_set`), and the Karush-Kuhn-Tucker conditions
are checked on all points for all samples at once; violators join the working set until none is
left. A sample the active-set method cannot settle goes to :func:`scipy.optimize.nnls`.
Where the rank of the points is small the FISTA stage is skipped: the active-set method runs
on every point from zero (:func:`direct_is_cheaper`), with the same verification; past that
rank a few samples solved so choose, by their support, the route of the others
(:func:`solve_batch`).

These kernels trust their input (validated in :mod:`neurogeom.geometry._validate`).
"""

from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import dataclass

import llvmlite.binding as llvm
import numba
import numpy as np
import scipy.linalg as sla
from numba import types
from numba.extending import get_cython_function_address
from scipy.optimize import nnls
from scipy.sparse.linalg import LinearOperator, eigsh
from threadpoolctl import ThreadpoolController

from neurogeom.geometry import _active_set, _threads

__all__ = [
    "anchor_means",
    "blas_threads",
    "direct_is_cheaper",
    "dual_gradient",
    "finish",
    "fista",
    "fista_in_chunks",
    "measure_sample",
    "one_blas_thread",
    "reduce_points",
    "solve_batch",
    "solve_reference",
    "spectral_norm_sq",
]

# Use the Gram path (K = X X^T, pivoted Cholesky) when n_points <= max(n_features, this).
_GRAM_PATH_MAX_POINTS = 4096
# Keep the float64 Gram matrix for the exact finish when it has at most this many entries.
_GRAM_KEEP_MAX_ENTRIES = 6000**2
# Pivoted Cholesky by candidate panels (_pivoted_cholesky) instead of LAPACK's dpstrf past this
# many points (when the rank can pass _DIRECT_MAX_RANK); columns per panel
_PANEL_MIN_POINTS = 2048
_PANEL = 32
_CANDIDATES = 2.0
# accepted KKT violation, in tolerances, for points the active-set method left out as dependent
_KKT_RELAXED = 1e4
# Largest rank at which the active-set method on every point replaces FISTA (see
# direct_is_cheaper)
_DIRECT_MAX_RANK = 256
# Most points for which one GLUE evaluation runs BLAS on one thread (see blas_threads)
_SMALL_MAX_POINTS = 2048
# Samples per independent FISTA chunk (see fista_in_chunks)
_FISTA_CHUNK = 128
# Largest float64 block (bytes) the active-set method builds for one sample from the factor when
# no Gram matrix is kept; past it, working sets grow by at most _GROW_MAX_POINTS per round
_BLOCK_MAX_BYTES = 2**30
_GROW_MAX_POINTS = 1024
# Least samples x points x rank for which dual_gradient runs in row chunks
_CHUNKED_MIN_WORK = 2e7
# most samples of one dichotomy solved in one chain, each warm-started from the one before
_CHAIN = 32
# Past _DIRECT_MAX_RANK (with the Gram matrix kept), the first _PILOT samples are solved on every
# point and their mean support chooses the route of the others (see _direct_wins). Per-sample
# costs in seconds of one thread (measured on config B and variants of it, ranks 550-2000,
# 2,000-4,000 points, supports 87-1007): the active-set method on every point
# _DIRECT_COST * n_points * support^2 + _DIRECT_CUBE_COST * support^3 + _ZEROING_COST * rank^2;
# FISTA _FISTA_COST * n_points * rank (about 30 iterations) and its finish
# _FINISH_COST * support^2.
_PILOT = 4
_DIRECT_COST = 5.5e-11
_DIRECT_CUBE_COST = 5.7e-11
_ZEROING_COST = 8e-10
_FISTA_COST = 3.4e-9
_FINISH_COST = 1e-7
# The finish starts from zero on the iterate's support, rather than from the iterate, when that
# support is larger than the pilot's by more than this factor: a warm start refactors its
# passive set as points leave it (measured: 1.2-1.4x larger, the cold start 1.4-1.7x cheaper;
# 1.01x larger, 1.8x dearer)
_COLD_FINISH_EXCESS = 1.15


_CONTROLLER: list[ThreadpoolController] = []


def one_blas_thread():
    """Context limiting BLAS to one thread; the controller (a scan of the loaded libraries,
    tens of milliseconds) is made once."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1, user_api="blas")


def blas_threads(n_points: int, n_features: int):
    """BLAS threads for one GLUE evaluation: one where the problem is small enough for the
    active-set method on every point (:func:`direct_is_cheaper`), else as configured.

    Its matrix products are then small (milliseconds), and the compiled kernel already runs
    samples in parallel threads: BLAS threads only contend with them (measured 2-3x slower on
    2 cores). Results then also do not depend on the BLAS thread count.
    """
    small = n_points <= _SMALL_MAX_POINTS and min(n_points, n_features) <= _DIRECT_MAX_RANK
    return one_blas_thread() if small else contextlib.nullcontext()


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
    gram : ndarray of shape (n_points, n_points) or None
        The float64 Gram matrix, kept on the Gram path when it is small enough (the exact finish
        reads its entries); None otherwise.
    """

    factor: np.ndarray
    rank: int
    path: str
    gram: np.ndarray | None = None


def reduce_points(points: np.ndarray, dtype: type = np.float64) -> Reduction:
    """Factor the Gram matrix of ``points`` (n_points, n_features) as ``B B^T``, B of full rank."""
    x = np.asarray(points, dtype=dtype)
    n, n_features = x.shape
    if n <= max(n_features, _GRAM_PATH_MAX_POINTS):
        gram = x @ x.T
        scale = float(gram.diagonal().max()) if n else 0.0
        if scale <= 0.0:
            return Reduction(np.zeros((n, 0), dtype=dtype), 0, "gram")
        tol = n * np.finfo(gram.dtype).eps * scale
        keep = gram.dtype == np.float64 and n * n <= _GRAM_KEEP_MAX_ENTRIES
        if keep and n > _PANEL_MIN_POINTS and min(n, n_features) > _DIRECT_MAX_RANK:
            with one_blas_thread():  # its products are small: threads only contend
                panels = _pivoted_cholesky(gram, tol, min(n, n_features))
            if panels is not None:  # else a rank past a third of the points: LAPACK
                return Reduction(panels[0], panels[0].shape[1], "gram", gram)
        if gram.dtype == np.float64:  # LAPACK called from compiled code: no GIL held
            factor, rank, info = _lapack_pivoted_factor(gram, tol)
        else:
            chol, piv, rank, info = sla.lapack.spstrf(gram, lower=1, tol=tol, overwrite_a=1)
            factor = np.zeros((n, rank), dtype=dtype)
            factor[piv - 1] = np.tril(chol[:, :rank])
        if info < 0:  # pragma: no cover - LAPACK argument error
            raise RuntimeError(f"pivoted Cholesky failed (info={info})")
        return Reduction(factor, int(rank), "gram", gram if keep else None)
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


# LAPACK's dpstrf (scipy's build, the one scipy.linalg.lapack calls), callable from compiled code
# by a symbol name (not an address baked into the code, so the kernel that calls it is cached)
llvm.add_symbol(
    "neurogeom_dpstrf", get_cython_function_address("scipy.linalg.cython_lapack", "dpstrf")
)
_DPSTRF = types.ExternalFunction("neurogeom_dpstrf", types.void(*[types.voidptr] * 9))


@numba.njit(cache=True, nogil=True)
def _lapack_pivoted_factor(gram, tol):
    """The factor (n_points, rank) of LAPACK's pivoted Cholesky (dpstrf, lower, stopping at
    ``tol``) of the symmetric ``gram``, rows in the points' order, its rank and LAPACK's info:
    the numbers of ``scipy.linalg.lapack.dpstrf`` on ``gram`` bit for bit (the same routine on
    the same lower triangle), without the GIL or the Python steps around the call (on small
    problems those cost more than the factorisation)."""
    n = gram.shape[0]
    a = np.ascontiguousarray(gram.T)  # read as Fortran (column-major) it is gram itself
    piv = np.empty(n, np.int32)
    rank = np.zeros(1, np.int32)
    info = np.zeros(1, np.int32)
    work = np.empty(2 * n)
    uplo = np.array([76], np.uint8)  # "L"
    size = np.array([n], np.int32)
    stop = np.array([tol])
    _DPSTRF(
        uplo.ctypes,
        size.ctypes,
        a.ctypes,
        size.ctypes,
        piv.ctypes,
        rank.ctypes,
        stop.ctypes,
        work.ctypes,
        info.ctypes,
    )
    r = rank[0]
    factor = np.zeros((n, r))
    for i in range(n):  # L[i, j] (Fortran) is a[j, i] here
        p = piv[i] - 1
        for j in range(min(i + 1, r)):
            factor[p, j] = a[j, i]
    return factor, r, info[0]


def _pivoted_cholesky(
    gram: np.ndarray, tol: float, max_rank: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The factor of :func:`scipy.linalg.lapack.dpstrf` (rows in the points' order, columns in
    pivot order) and the pivots, by panels of ``_PANEL`` pivots, for many points of moderate
    rank.

    Pivoting is LAPACK's: the largest remaining diagonal of the Schur complement, the first
    in LAPACK's permuted order on ties, stopping at ``tol``; the factor equals dpstrf's to
    rounding. LAPACK updates the whole trailing matrix after each panel (``n^2`` per pivot);
    here only the columns needed are formed, ``n`` per pivot and prior pivot: at the start of a
    panel the columns of the ``_CANDIDATES * _PANEL`` points of largest remaining diagonal (the
    likely pivots) are brought up to date by one matrix product, and each pivot's column is
    finished within the panel (a pivot outside them is formed from scratch). Past a third of the
    points as pivots that no longer pays (LAPACK's updates of the trailing matrix are then the
    cheaper way): returns None, and the caller runs LAPACK (the work lost is a fraction of
    LAPACK's, and far less than the solves of such a rank take).
    """
    n = gram.shape[0]
    d = np.diag(gram).copy()
    order = np.arange(n, dtype=np.int64)
    slot = np.full(n, -1, dtype=np.int64)
    cols = np.zeros((max_rank, n))  # the factor's columns as rows (pages touched as filled)
    j = 0
    while j < max_rank:
        if j >= max(n // 3, _PANEL):
            return None
        nb = min(_PANEL, max_rank - j)
        rest = order[j:]
        c = min(int(_CANDIDATES * nb), rest.size)
        cand = rest if c == rest.size else rest[np.argpartition(-d[rest], c - 1)[:c]]
        upd = gram[cand]  # rows of the symmetric Gram matrix: the candidates' columns
        if j:
            upd -= cols[:j, cand].T @ cols[:j]
        slot[cand] = np.arange(c)
        j, stop = _cholesky_panel(gram, cols, d, order, j, j + nb, upd, slot, tol)
        slot[cand] = -1
        if stop:
            break
    return np.ascontiguousarray(cols[:j].T), order[:j]


@numba.njit(cache=True, nogil=True)
def _cholesky_panel(gram, cols, d, order, j, end, upd, slot, tol):
    """Pivots ``j`` to ``end - 1`` of :func:`_pivoted_cholesky`: rows of ``cols`` (the factor's
    columns), the remaining diagonal ``d`` and LAPACK's permutation ``order`` updated in place.
    ``upd`` holds the candidates' columns up to date with the pivots before ``j`` (row
    ``slot[p]`` for point ``p``). Returns the pivots done and whether the rank was reached."""
    n = gram.shape[0]
    j0 = j
    pivoted = np.zeros(n, dtype=np.bool_)
    for q in range(j0):
        pivoted[order[q]] = True
    col = np.empty(n)
    stop = False
    while j < end:
        best = -np.inf
        at = j
        for q in range(j, n):  # the first largest, in LAPACK's order
            v = d[order[q]]
            if v > best:
                best = v
                at = q
        if not best > tol:
            stop = True
            break
        p = order[at]
        order[at] = order[j]
        order[j] = p
        pivoted[p] = True
        ajj = np.sqrt(best)
        r = 1.0 / ajj
        c = slot[p]
        if c >= 0:
            for i in range(n):
                col[i] = upd[c, i]
        else:  # not a candidate: its column from the Gram matrix and every prior pivot
            for i in range(n):
                col[i] = gram[p, i]
            for u in range(j0):
                f = cols[u, p]
                for i in range(n):
                    col[i] -= cols[u, i] * f
        for u in range(j0, j):
            f = cols[u, p]
            for i in range(n):
                col[i] -= cols[u, i] * f
        row = cols[j]
        for i in range(n):
            if not pivoted[i]:
                lij = col[i] * r
                row[i] = lij
                d[i] -= lij * lij
        row[p] = ajj
        d[p] = 0.0
        j += 1
    return j, stop


def spectral_norm_sq(factor: np.ndarray) -> float:
    """Largest eigenvalue of ``factor.T @ factor`` (the dual's Lipschitz constant), inflated.

    Dense for small ranks; otherwise Lanczos (:func:`scipy.sparse.linalg.eigsh`, which converges
    from below) to 1e-3 relative, inflated by 1%, so the step ``1 / L`` stays safe.
    """
    rank = factor.shape[1]
    if rank == 0:
        return 1.0
    f = factor.astype(np.float64)
    if rank <= 128:
        return float(np.linalg.eigvalsh(f.T @ f)[-1]) * 1.0001

    op = LinearOperator((rank, rank), matvec=lambda v: f.T @ (f @ v), dtype=np.float64)
    with one_blas_thread():  # products of milliseconds: BLAS threads only wait on each other
        val = eigsh(op, k=1, which="LA", tol=1e-3, return_eigenvectors=False, v0=np.ones(rank))
    return float(val[0]) * 1.01


# ---- sums over the duals' supports --------------------------------------------------------------


def anchor_means(
    lam: np.ndarray, factor: np.ndarray, codes: np.ndarray, dichotomies: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per sample and manifold, the anchor ``sum lam_i factor_i / sum lam_i`` over the manifold's
    points in the support of ``lam`` (points in increasing order), the totals ``sum lam_i``, and
    whether the manifold is active (its total above ``1e-12`` of the sample's; the anchor is
    zero where it is not); and per sample ``F = ||sum_mu y_mu sum_i lam_i factor_i||^2`` with
    ``y = dichotomies`` (n_samples, n_manifolds). In parallel over samples, each normalised
    while in cache."""
    n_s, n_manifolds = dichotomies.shape
    # numpy's zeros: large ones are mapped on huge pages, several times cheaper to touch first
    anchors = np.zeros((n_s, n_manifolds, factor.shape[1]))
    totals = np.zeros((n_s, n_manifolds))
    active = np.zeros((n_s, n_manifolds), dtype=bool)
    f_vals = np.zeros(n_s)
    _anchor_means(lam, factor, codes, dichotomies, anchors, totals, active, f_vals)
    return anchors, totals, active, f_vals


@numba.njit(cache=True, nogil=True, parallel=True)
def _anchor_means(lam, factor, codes, dichotomies, anchors, totals, active, f_vals):
    """:func:`anchor_means` into its outputs, one sample at a time (:func:`measure_sample`)."""
    for k in numba.prange(lam.shape[0]):
        sup = np.empty(lam.shape[1], dtype=np.int64)
        disp = np.empty(factor.shape[1])
        measure_sample(
            k, factor, codes, dichotomies[k], lam, sup, disp, f_vals, anchors, totals, active
        )


# no allocation: compiled without reference counting; F's sum over coordinates vectorised
@_active_set._leaf_reassoc
def measure_sample(k, factor, codes, y, lam, sup, disp, f_vals, anchors, totals, active):
    """Sample ``k``'s anchors, totals, active mask and F (see :func:`anchor_means`; ``y``: its
    dichotomy, one sign per manifold), each row of the outputs written whole. Sums run over the
    support of ``lam[k]`` in increasing order of the points, and every caller runs this one
    compiled step, so any caller gets the same bits
    (:func:`neurogeom.geometry._glue_batch.solve_and_measure` calls it as each sample is
    solved); the support is gathered first into ``sup`` (scratch of ``n_points`` integers)
    without a branch per point: a random probe's support is a random subset; ``disp`` is
    scratch of ``rank`` entries (the displacement, summed over manifolds coordinate-wise, so
    that F's sum over coordinates is vectorised: one chain of dependent additions per
    coordinate took about a third of this step on problems of 3 manifolds)."""
    n, rank = factor.shape
    n_m = totals.shape[1]
    for mu in range(n_m):
        totals[k, mu] = 0.0
        for d in range(anchors.shape[2]):
            anchors[k, mu, d] = 0.0
    n_sup = 0
    for i in range(n):
        sup[n_sup] = i
        n_sup += lam[k, i] != 0.0
    for a in range(n_sup):
        i = sup[a]
        v = lam[k, i]
        mu = codes[i]
        totals[k, mu] += v
        for d in range(rank):
            anchors[k, mu, d] += v * factor[i, d]
    for d in range(rank):
        disp[d] = 0.0
    for mu in range(n_m):  # a manifold out of the support adds y * 0.0
        y_mu = y[mu]
        for d in range(rank):
            disp[d] += y_mu * anchors[k, mu, d]
    f = 0.0
    for d in range(rank):
        f += disp[d] * disp[d]
    f_vals[k] = f
    grand = 0.0
    for mu in range(n_m):
        grand += totals[k, mu]
    floor = 1e-12 * max(grand, 1e-300)
    for mu in range(n_m):
        active[k, mu] = totals[k, mu] > floor
        scale = 1.0 / totals[k, mu] if active[k, mu] else 0.0
        for d in range(rank):
            anchors[k, mu, d] *= scale


# ---- batched accelerated projected gradient -----------------------------------------------------


def fista(
    factor: np.ndarray,
    signs: np.ndarray,
    probes: np.ndarray,
    kappa: float,
    *,
    max_iter: int = 300,
    check_every: int = 5,
    churn_coef: float = 0.6,
    stall: float = 1e-2,
    backend: str = "numpy",
    dtype: type = np.float32,
    step: float | None = None,
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
    max_iter : int
        Most iterations.
    check_every, churn_coef
        Every ``check_every`` iterations (from the second check on) the iteration stops once
        the points that entered or left a sample's support since the last check, on average, are
        at most ``churn_coef * n_points * rank / s**2`` (``s`` the mean support size): each
        error left to the exact finish costs it about ``s**2`` operations, one more batched
        iteration costs about ``n_points * rank`` per sample.
    stall : float
        Also stop once the dual objective, summed over samples, improved by at most this
        fraction since the last check: where supports are wide the support keeps churning long
        after the iterate is good enough to warm-start the exact finish.
    step : float, optional
        The step ``1 / L``; default from :func:`spectral_norm_sq`.

    Returns
    -------
    lam : ndarray of shape (n_samples, n_points), float64
        Non-negative approximate duals (exactly zero off the estimated support).
    n_iter : int
        Iterations run.
    """
    if step is None:
        step = 1.0 / spectral_norm_sq(factor)
    if backend == "torch":
        return _fista_torch(
            factor, signs, probes, kappa, step, max_iter, check_every, churn_coef, dtype
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
    support_prev = obj_prev = None
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
        if it % check_every == 0:
            support = lam > 0
            disp = (y * lam) @ b
            obj = 0.5 * np.einsum("kd,kd->k", disp, disp) + np.einsum("kd,kd->k", disp, w)
            if kappa != 0.0:
                obj -= kap * lam.sum(axis=1)
            if support_prev is not None:
                flips = np.count_nonzero(support != support_prev) / n_s
                size = max(np.count_nonzero(support) / n_s, 1.0)
                gain = float(np.sum(obj_prev - obj)) / max(float(-np.sum(obj)), 1e-30)
                if flips <= churn_coef * n * b.shape[1] / size**2 or 0 <= gain <= stall:
                    break
            support_prev, obj_prev = support, obj
    return lam.astype(np.float64), it


def fista_in_chunks(factor, signs, probes, kappa, *, backend="numpy", **kw):
    """:func:`fista` on fixed chunks of at most :data:`_FISTA_CHUNK` samples (equal sizes), each with its own stopping
    rule, in parallel threads with one BLAS thread each.

    Chunks are the same whatever the number of threads, so the result does not depend on it.
    On a shared machine, multi-threaded BLAS on these (samples x points x rank) products lost to
    one thread by 2-3x; independent chunks keep every core busy without that contention.
    Returns the duals and the most iterations any chunk ran.
    """
    n_s = signs.shape[0]
    if backend != "numpy" or n_s <= _FISTA_CHUNK:
        return fista(factor, signs, probes, kappa, backend=backend, **kw)
    step = 1.0 / spectral_norm_sq(factor)
    parts = _in_row_chunks(
        lambda sl: fista(factor, signs[sl], probes[sl], kappa, step=step, **kw), n_s
    )
    return np.vstack([p[0] for p in parts]), max(p[1] for p in parts)


def _in_row_chunks(fn, n_rows: int) -> list:
    """``[fn(slice) for each chunk]`` over fixed chunks of at most :data:`_FISTA_CHUNK` rows (equal
    sizes, whatever the number of threads), run in parallel threads with one BLAS thread each."""
    size = -(-n_rows // -(-n_rows // _FISTA_CHUNK))
    slices = [slice(a, a + size) for a in range(0, n_rows, size)]
    with one_blas_thread():
        return _threads.thread_map(fn, slices, os.cpu_count() or 1)


def _fista_torch(factor, signs, probes, kappa, step, max_iter, check_every, churn_coef, dtype):
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
        if it % check_every == 0:
            support = lam > 0
            if support_prev is not None:
                n_s, n = support.shape
                flips = (support != support_prev).sum().item() / n_s
                size = max(support.sum().item() / n_s, 1.0)
                if flips <= churn_coef * n * b.shape[1] / size**2:
                    break
            support_prev = support
    return lam.double().cpu().numpy(), it


# ---- exact finish -------------------------------------------------------------------------------


def _kkt_tolerance(factor: np.ndarray, probes: np.ndarray, kappa: float) -> np.ndarray:
    """Per-sample tolerance on the dual gradient, relative to the size of its terms."""
    row = float(np.sqrt(np.max(np.einsum("ij,ij->i", factor, factor)))) if factor.size else 1.0
    return 1e-9 * (row * np.linalg.norm(probes, axis=1) + abs(kappa) + 1e-300)


def dual_gradient(factor, signs, probes, lam, kappa):
    """Gradient ``G lam + q`` of the dual for every sample, shape (n_samples, n_points).

    Large batches run in row chunks on parallel threads (see :func:`_in_row_chunks`)."""

    def grad(sl, out):
        y = signs[sl]
        np.matmul((y * lam[sl]) @ factor + probes[sl], factor.T, out=out)
        out *= y
        out -= kappa

    return _rows(grad, *signs.shape, factor.shape[1])


def _linear_terms(factor, signs, probes, kappa):
    """The dual's linear terms ``signs * (probes @ factor.T) - kappa``, large batches in row
    chunks on parallel threads (see :func:`_in_row_chunks`)."""

    def terms(sl, out):
        np.matmul(probes[sl], factor.T, out=out)
        out *= signs[sl]
        out -= kappa

    return _rows(terms, *signs.shape, factor.shape[1])


def _rows(fn, n_s: int, n: int, rank: int) -> np.ndarray:
    """An (n_s, n) product over ``rank``, ``fn(rows, out)`` writing the rows ``rows`` into
    ``out``: small ones on one BLAS thread (two only wait on each other), large batches in row
    chunks on parallel threads (:func:`_in_row_chunks`), a few large rows on BLAS's threads."""
    out = np.empty((n_s, n))
    if n_s * n * rank < _CHUNKED_MIN_WORK:
        with one_blas_thread():
            fn(slice(None), out)
    elif n_s <= _FISTA_CHUNK:
        fn(slice(None), out)
    else:
        _in_row_chunks(lambda sl: fn(sl, out[sl]), n_s)
    return out


def _solve_working_sets(*args) -> None:
    """:func:`neurogeom.geometry._active_set.solve_working_sets`, its samples handed to threads one
    at a time (their costs vary widely; each sample's result does not depend on the schedule)."""
    previous = numba.set_parallel_chunksize(1)
    try:
        _active_set.solve_working_sets(*args)
    finally:
        numba.set_parallel_chunksize(previous)


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_FNV = np.uint64(0x100000001B3)


@numba.njit(cache=True, nogil=True)
def _mix(z):
    """splitmix64's finaliser: every bit of ``z`` reaches every bit of the result."""
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _chains_of(keys, prob, chain):
    """:func:`dichotomy_chains` on the rows of ``keys`` (the signs' bytes, as unsigned integers)
    and ``prob``: rows are grouped by exact equality of their bytes and problem (an open-addressing
    hash table that compares each row with its slot's first row, so a collision of hashes never
    merges rows), groups numbered by their first row, members in sample order."""
    n, c = keys.shape
    size = 16
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    slot_row = np.full(size, -1, dtype=np.int64)
    slot_group = np.empty(size, dtype=np.int64)
    group = np.empty(n, dtype=np.int64)
    n_groups = 0
    for i in range(n):
        h = np.uint64(prob[i])
        for j in range(c):
            v = np.uint64(keys[i, j])
            h = (h ^ v ^ (v >> np.uint64(32))) * _FNV
        slot = _mix(h) & mask
        while True:
            r = slot_row[slot]
            if r < 0:
                slot_row[slot] = i
                slot_group[slot] = n_groups
                group[i] = n_groups
                n_groups += 1
                break
            same = prob[r] == prob[i]
            j = 0
            while same and j < c:
                same = keys[r, j] == keys[i, j]
                j += 1
            if same:
                group[i] = slot_group[slot]
                break
            slot = (slot + np.uint64(1)) & mask
    count = np.zeros(n_groups, dtype=np.int64)
    for i in range(n):
        count[group[i]] += 1
    first = np.zeros(n_groups, dtype=np.int64)
    n_chains = 0
    for g in range(n_groups):
        if g:
            first[g] = first[g - 1] + count[g - 1]
        n_chains += (count[g] + chain - 1) // chain
    members = np.empty(n, dtype=np.int64)
    pos = first.copy()
    for i in range(n):
        g = group[i]
        members[pos[g]] = i
        pos[g] += 1
    bounds = np.empty(n_chains + 1, dtype=np.int64)
    b = 0
    for g in range(n_groups):
        for a in range(first[g], first[g] + count[g], chain):
            bounds[b] = a
            b += 1
    bounds[n_chains] = n
    return members, bounds


def dichotomy_chains(
    signs: np.ndarray, prob: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Samples grouped by their signs (one dichotomy and the same points left out: rows equal
    byte for byte) and problem ``prob`` (when given) into chains of at most ``_CHAIN`` samples,
    in sample order within a group, groups in the order of their first sample:
    ``(members, bounds)``, chain ``c`` being ``members[bounds[c]:bounds[c + 1]]``. The chains do
    not depend on the number of threads (so neither do the results), and a problem's chains are
    the same alone as among others."""
    n_s = signs.shape[0]
    if not n_s:
        return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    rows = np.ascontiguousarray(signs)
    width = rows.shape[1] * rows.dtype.itemsize
    keys = rows.view(np.uint8).reshape(n_s, width)
    if width % 8 == 0:
        keys = keys.view(np.uint64)
    prob = np.zeros(n_s, dtype=np.int64) if prob is None else np.asarray(prob, dtype=np.int64)
    return _chains_of(keys, prob, _CHAIN)


def _solve_chains(gram, y, q, out, tol, max_iter, cap, status, worst) -> None:
    """:func:`neurogeom.geometry._active_set.solve_every_point_chains` on the chains of
    :func:`dichotomy_chains`, handed to threads one at a time (``worst``: each sample's largest
    violation of the optimality conditions, from its last gradient)."""
    members, bounds = dichotomy_chains(y)
    previous = numba.set_parallel_chunksize(1)
    try:
        _active_set.solve_every_point_chains(
            gram, y, q, out, tol, max_iter, cap, members, bounds, status, worst
        )
    finally:
        numba.set_parallel_chunksize(previous)


def finish(
    factor: np.ndarray,
    signs: np.ndarray,
    probes: np.ndarray,
    lam: np.ndarray,
    kappa: float,
    *,
    gram: np.ndarray | None = None,
    max_rounds: int = 100,
    every_point: bool = False,
    retry: bool = True,
    warm: bool = True,
) -> tuple[np.ndarray, dict]:
    """Polish approximate duals to the exact optimum (float64) and verify the KKT conditions.

    Parameters
    ----------
    factor : ndarray of shape (n_points, rank)
    signs : ndarray of shape (n_samples, n_points)
    probes : ndarray of shape (n_samples, rank)
    lam : ndarray of shape (n_samples, n_points)
        Approximate duals (>= 0), the warm start.
    kappa : float
    gram : ndarray of shape (n_points, n_points), optional
        ``factor @ factor.T`` in float64, if at hand (entries are read instead of recomputed).
    max_rounds : int
        Most rounds of (solve on working sets, check all points).
    every_point : bool
        Start from working sets of every allowed point (one round: the active-set method then
        checks every point itself) instead of the warm start's support.
    retry : bool
        Give samples the first rounds did not settle a second try (every point from zero, or,
        where that block would pass ``_BLOCK_MAX_BYTES``, more rounds of bounded growth).
    warm : bool
        Start the first round from ``lam`` on its support (True) or from zero on that support
        (False: cheaper where ``lam`` is an iterate whose support holds many points that leave,
        since each removal from a warm start refactors the passive set).

    Returns
    -------
    lam : ndarray of shape (n_samples, n_points)
        The exact duals.
    stats : dict
        ``support_solve``: samples settled by the active-set method; ``active_set_rounds``: rounds
        of working-set growth; ``nnls``: samples passed to :func:`scipy.optimize.nnls`;
        ``unresolved``: samples left approximate (warned).
    """
    f = np.ascontiguousarray(factor, dtype=np.float64)
    y = np.ascontiguousarray(signs, dtype=np.float64)
    w = np.ascontiguousarray(probes, dtype=np.float64)
    n_s, n = y.shape
    tol = _kkt_tolerance(f, w, kappa)
    allowed = signs != 0
    q = _linear_terms(f, y, w, kappa)
    out = np.ascontiguousarray(np.where(allowed, np.maximum(lam, 0.0), 0.0), dtype=np.float64)
    work = allowed.copy() if every_point else out > 0  # the first working sets
    if not warm:
        out[:] = 0.0
    use_gram = gram is not None and gram.dtype == np.float64
    # without a Gram matrix every block is built from the factor: bound its size
    bounded = not use_gram and 8.0 * n * n > _BLOCK_MAX_BYTES
    if bounded and every_point:
        every_point = False
        work = np.zeros_like(allowed)
    gram_arg = np.ascontiguousarray(gram) if use_gram else np.zeros((1, 1))
    status = np.zeros(n_s, dtype=np.int64)
    failed = np.zeros(n_s, dtype=bool)
    rows = np.arange(n_s)
    grad = np.empty((n_s, n))
    fresh = np.zeros(n_s, dtype=bool)  # grad is that of the final duals (no re-solve since)
    # the chains' own check (from each sample's last gradient, in the Gram matrix's form) where
    # it is clean by a margin; NaN: the gradient from the factor decides (see _verify)
    worst = np.full(n_s, np.nan)
    rounds = 0
    # every point from zero, with the Gram matrix: samples of one dichotomy in chains, each
    # warm-started from the one before
    chained = every_point and use_gram and n_s > 1 and not out.any()
    while rows.size and rounds < max_rounds:
        rounds += 1
        with one_blas_thread():  # the kernel runs samples in parallel threads
            if chained:
                _solve_chains(gram_arg, y, q, out, tol, 20 * n + 100, f.shape[1] + 1, status, worst)
            else:
                _solve_working_sets(
                    gram_arg, f, use_gram, y, q, work, out, tol, 20 * n + 100, rows, status
                )
        failed[rows] |= status[rows] != _active_set.OK
        rows = rows[status[rows] == _active_set.OK]
        if every_point:  # every point was in the working set: verified below
            rows = rows[:0]
        if not rows.size:
            break
        g = dual_gradient(f, y[rows], w[rows], out[rows], kappa)
        viol = (g < -tol[rows, None]) & allowed[rows] & ~work[rows]
        if bounded:  # grow by the most violated points only, so blocks stay small
            viol = _most_violated(viol, g, _GROW_MAX_POINTS)
        more = viol.any(axis=1)
        grad[rows] = g
        fresh[rows] = ~more
        work[rows[more]] |= viol[more]
        rows = rows[more]
    failed[rows] = True
    return _verify(
        f,
        y,
        w,
        lam,
        out,
        kappa,
        tol,
        allowed,
        failed,
        grad,
        fresh,
        worst,
        rounds=rounds,
        every_point=every_point,
        retry=retry,
        bounded=bounded,
        gram=gram,
        max_rounds=max_rounds,
    )


def _verify(
    f,
    y,
    w,
    lam,
    out,
    kappa,
    tol,
    allowed,
    failed,
    grad,
    fresh,
    known,
    *,
    rounds,
    every_point,
    retry,
    bounded,
    gram,
    max_rounds,
):
    """The end of :func:`finish`: check the optimality conditions of ``out`` on every point of
    every sample (``grad`` holds the dual gradient where ``fresh``), retry or hand to
    :func:`scipy.optimize.nnls` the samples that fail (``failed`` marks those the working-set
    rounds did not settle). ``known``: the largest violation each sample's solve read from its
    last gradient (in the Gram matrix's form; NaN where not known); where it is within half the
    tolerance it stands (the gradient from the factor differs by rounding only, so it would
    change nothing), elsewhere the gradient from the factor decides. Returns the duals and the
    statistics."""
    n_s, n = y.shape
    # verify the optimality conditions on every point of every sample
    clean = known < 0.5 * tol  # False where NaN
    stale = ~fresh & ~clean
    if stale.all():  # no copies of the samples
        grad = dual_gradient(f, y, w, out, kappa)
    elif stale.any():
        grad[stale] = dual_gradient(f, y[stale], w[stale], out[stale], kappa)
    if clean.any():
        worst = known.copy()
        rest = ~clean
        worst[rest] = _kkt_worst(grad[rest], out[rest], allowed[rest])
    else:
        worst = _kkt_worst(grad, out, allowed)
    failed |= worst > tol
    # points the active-set method left out as dependent on its passive set, on ill-conditioned
    # spans, can keep a violation of a few tolerances: accept up to _KKT_RELAXED of them (the
    # objective is then off by about violation^2 / ||x||^2, far below rounding of F)
    relaxed = failed & (worst <= _KKT_RELAXED * tol)
    stats = {
        "support_solve": int((~failed).sum()),
        "active_set_rounds": int(rounds),
        "kkt_relaxed": 0 if not every_point else int(relaxed.sum()),
        "nnls": 0,
        "unresolved": 0,
    }
    if failed.any() and not every_point and retry:
        # samples the warm-started finish did not settle within tolerance: the active-set
        # method on every point, from zero (before scipy's NNLS, which can stop far from the
        # optimum on these problems); where that block would not fit, more rounds of bounded
        # growth from where the first rounds stopped
        again = np.flatnonzero(failed)
        if bounded:
            sub, more = finish(
                f, y[again], w[again], out[again], kappa, max_rounds=4 * max_rounds, retry=False
            )
        else:
            sub, more = finish(
                f, y[again], w[again], np.zeros((again.size, n)), kappa, gram=gram, every_point=True
            )
        out[again] = sub
        for key in ("support_solve", "kkt_relaxed", "nnls", "unresolved"):
            stats[key] += more[key]
        failed[:] = False
    failed &= ~relaxed
    stats["support_solve"] += int(relaxed.sum()) if every_point else 0
    for k in np.flatnonzero(failed):
        keep = allowed[k]
        if kappa == 0.0:
            bs = y[k, keep, None] * f[keep]
            sol, _ = nnls(bs.T, -w[k], maxiter=50 * bs.shape[0])
            cand = np.zeros(n)
            cand[keep] = sol
            # scipy's NNLS can stop at an infeasible point: keep it only if it is better
            g_c = dual_gradient(f, y[k : k + 1], w[k : k + 1], cand[None], kappa)[0]
            v_c = np.where(cand > 0, np.abs(g_c), -np.minimum(g_c, 0.0))
            if v_c[keep].max(initial=0.0) < worst[k]:
                out[k] = cand
            stats["nnls"] += 1
        else:
            out[k] = np.where(allowed[k], np.maximum(lam[k], 0.0), 0.0)
            stats["unresolved"] += 1
    if stats["unresolved"]:
        warnings.warn(
            f"{stats['unresolved']} of {n_s} samples kept the iterative dual solution "
            "(the exact finish did not converge); results for them are approximate.",
            RuntimeWarning,
            stacklevel=4,
        )
    return out, stats


@numba.njit(cache=True, nogil=True)
def _kkt_worst(grad, lam, allowed):
    """Per sample, the largest violation of the optimality conditions over the allowed points:
    ``|grad|`` where ``lam > 0``, ``-grad`` (when positive) elsewhere; infinite where the gradient
    is not finite."""
    n_s, n = grad.shape
    out = np.zeros(n_s)
    for k in range(n_s):
        worst = 0.0
        for i in range(n):
            if not allowed[k, i]:
                continue
            g = grad[k, i]
            v = abs(g) if lam[k, i] > 0.0 else -g
            if not v <= worst:  # larger, or NaN
                worst = v if v == v else np.inf
        out[k] = worst
    return out


def _most_violated(viol: np.ndarray, grad: np.ndarray, k: int) -> np.ndarray:
    """Keep, per row, only the ``k`` violations of most negative gradient."""
    if viol.shape[1] <= k:
        return viol
    score = np.where(viol, grad, np.inf)
    cut = np.partition(score, k - 1, axis=1)[:, k - 1 : k]
    return viol & (score <= cut)


def direct_is_cheaper(n_points: int, rank: int, gram: np.ndarray | None) -> bool:
    """Cost model: the active-set method on every point, from zero, against FISTA and a finish.

    From zero, Lawson-Hanson takes about ``s`` additions (``s <= rank`` the support), each
    reading ``n_points * s`` Gram entries, in compiled scalar code; FISTA runs tens to hundreds of
    BLAS iterations of ``4 * n_points * rank`` each and the finish still pays for the support.
    Where the rank is small the direct method wins (measured: rank 43-119, 432-552 points, 3-10x);
    where it is large (config B, rank 550) FISTA does. It needs the float64 Gram matrix.
    """
    return gram is not None and gram.dtype == np.float64 and rank <= _DIRECT_MAX_RANK


def solve_batch(
    factor: np.ndarray,
    signs: np.ndarray,
    probes: np.ndarray,
    kappa: float = 0.0,
    *,
    max_iter: int = 300,
    backend: str = "numpy",
    iterate_dtype: type = np.float32,
    gram: np.ndarray | None = None,
    method: str = "auto",
    support: float | None = None,
) -> tuple[np.ndarray, dict]:
    """Exact duals for a batch of samples, KKT-verified on every point.

    ``method="fista"``: FISTA on all samples, then the exact finish from its support;
    ``"direct"``: the active-set method on every point from zero (needs ``gram``, the float64
    ``factor @ factor.T``); ``"auto"``: by :func:`direct_is_cheaper`, and past its rank, where
    the Gram matrix is at hand, the first ``_PILOT`` samples on every point, whose mean support
    chooses the route of the others (:func:`_direct_wins`). ``gram``, when given, is read by the
    exact finish. ``support``, when given (the mean support of solved samples), lets the finish
    after FISTA start from zero where the iterate's support holds many more points.
    ``stats["fista_iterations"]`` is 0 on the direct path.
    """
    if method == "auto":
        method = "direct" if direct_is_cheaper(*factor.shape, gram) else "fista"
        if method == "fista" and backend == "numpy" and _can_pilot(gram):
            method = "pilot"
    if method == "direct" or (method == "pilot" and signs.shape[0] <= _PILOT):
        return _direct(factor, signs, probes, kappa, gram)
    if method == "pilot":
        head, stats = _direct(factor, signs[:_PILOT], probes[:_PILOT], kappa, gram)
        support = np.count_nonzero(head > 0) / _PILOT
        route = "direct" if _direct_wins(*factor.shape, support) else "fista"
        rest, more = solve_batch(
            factor,
            signs[_PILOT:],
            probes[_PILOT:],
            kappa,
            max_iter=max_iter,
            iterate_dtype=iterate_dtype,
            gram=gram,
            method=route,
            support=support,
        )
        for key, val in more.items():
            big = key in ("active_set_rounds", "fista_iterations")
            stats[key] = max(stats[key], val) if big else stats[key] + val
        return np.vstack([head, rest]), stats
    lam, n_iter = fista_in_chunks(
        factor, signs, probes, kappa, max_iter=max_iter, backend=backend, dtype=iterate_dtype
    )
    # from zero on the iterate's support where it holds many more points than the solution's
    warm = support is None or np.count_nonzero(lam > 0) <= _COLD_FINISH_EXCESS * support * len(lam)
    out, stats = finish(factor, signs, probes, lam, kappa, gram=gram, warm=warm)
    stats["fista_iterations"] = n_iter
    return out, stats


def _direct(factor, signs, probes, kappa, gram):
    """:func:`solve_batch` by the active-set method on every point, from zero."""
    start = np.zeros(signs.shape)
    out, stats = finish(factor, signs, probes, start, kappa, gram=gram, every_point=True)
    stats["fista_iterations"] = 0
    return out, stats


def _can_pilot(gram: np.ndarray | None) -> bool:
    """Whether the active-set method on every point can run (it reads the float64 Gram matrix)."""
    return gram is not None and gram.dtype == np.float64


def _direct_wins(n_points: int, rank: int, support: float) -> bool:
    """Cost model (see _PILOT): the active-set method on every point, from zero, against FISTA
    and its finish, for samples of mean support ``support``.

    The direct method pays ``n_points * support^2`` (the gradient on every point as the support
    grows), FISTA ``n_points * rank`` per iteration at BLAS speed: direct wins where the support
    is small against the square root of the rank (config B: rank 550, supports of about 160,
    measured 1.9x cheaper)."""
    direct = (
        _DIRECT_COST * n_points * support**2
        + _DIRECT_CUBE_COST * support**3
        + _ZEROING_COST * rank**2
    )
    iterated = _FISTA_COST * n_points * rank + _FINISH_COST * support**2
    return direct <= iterated


def solve_direct_many(problems) -> list[tuple[np.ndarray, dict]]:
    """:func:`solve_batch` with ``method="direct"`` on many problems at once.

    ``problems`` is a sequence of ``(factor, gram, signs, probes, kappa)``, each as
    :func:`solve_batch` takes them (``gram`` the float64 ``factor @ factor.T``). The samples of all
    problems run in one call of the compiled kernel, in the chains each problem gets alone
    (:func:`neurogeom.geometry._active_set.solve_every_point_chains_many`); each problem is then verified
    as :func:`finish` verifies its own (the optimality conditions on every point of every sample,
    scipy's NNLS for a sample that fails them). Each sample's duals are those
    ``solve_batch(..., method="direct")`` gives it. Returns ``(lam, stats)`` per problem.
    """
    if not len(problems):
        return []
    counts = np.array([p[2].shape[0] for p in problems], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    n_max = max(p[2].shape[1] for p in problems)
    r_max = max(p[0].shape[1] for p in problems)
    signs = np.zeros((int(starts[-1]), n_max))
    probes = np.zeros((int(starts[-1]), r_max))
    for (_, _, sg, pr, _), a, b in zip(problems, starts[:-1], starts[1:]):
        signs[a:b, : sg.shape[1]] = sg
        probes[a:b, : pr.shape[1]] = pr
    st = stack_samples(
        [p[0] for p in problems],
        [p[1] for p in problems],
        [p[4] for p in problems],
        signs,
        probes,
        np.arange(signs.shape[0]),
        starts,
    )
    lam, stats = solve_stacked(st)
    return [
        (np.ascontiguousarray(lam[a:b, :n]), s)
        for a, b, n, s in zip(starts[:-1], starts[1:], st.sizes, stats)
    ]


class Stacked:
    """The samples of many problems stacked for the compiled kernels (see :func:`stack_samples`).

    Problem ``i`` has ``sizes[i]`` points of rank ``ranks[i]``, its factor (float64, row by row)
    at ``factors[f_offsets[i]:]``, its float64 Gram matrix at ``grams[g_offsets[i]:]`` and the
    margin ``kappas[i]``; its samples are the rows ``starts[i]:starts[i + 1]`` (``prob``: each
    row's problem) of ``signs`` and of the dual's linear terms ``q`` (zero past ``sizes[i]``),
    with tolerances ``tol``. Sample ``k``'s probe is ``probes[probe_row[k], :ranks[i]]``
    (samples that share a probe share a row). ``solve``: the rows to solve (all when None).
    ``keys``: one integer per row (shape (rows, 1)) equal between two rows of a problem exactly
    when their signs are equal (None: the signs themselves are compared)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def factor(self, i: int) -> np.ndarray:
        n, r = int(self.sizes[i]), int(self.ranks[i])
        return self.factors[self.f_offsets[i] : self.f_offsets[i] + n * r].reshape(n, r)

    def gram(self, i: int) -> np.ndarray:
        n = int(self.sizes[i])
        return self.grams[self.g_offsets[i] : self.g_offsets[i] + n * n].reshape(n, n)

    def solved(self) -> np.ndarray:
        """The rows to solve."""
        return np.arange(self.signs.shape[0]) if self.solve is None else self.solve

    def chains(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows to solve in chains (:func:`dichotomy_chains`), each problem's chains those it
        gets alone: ``(members, bounds)``."""
        rows = slice(None) if self.solve is None else self.solve
        if self.keys is None:
            members, bounds = dichotomy_chains(self.signs[rows], self.prob[rows])
        else:  # the same groups, by one integer a row
            members, bounds = _chains_of(self.keys[rows], self.prob[rows], _CHAIN)
        return (members if self.solve is None else self.solve[members]), bounds

    def rows(self, i: int) -> np.ndarray:
        """Problem ``i``'s rows to solve."""
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        if self.solve is None:
            return np.arange(a, b)
        lo, hi = np.searchsorted(self.solve, [a, b])
        return self.solve[lo:hi]


def _offsets(sizes: np.ndarray) -> np.ndarray:
    out = np.zeros(sizes.size, dtype=np.int64)
    out[1:] = np.cumsum(sizes)[:-1]
    return out


def stack_samples(
    factors,
    grams,
    kappas,
    signs,
    probes,
    probe_row,
    starts,
    solve=None,
    keys=None,
    scratch: _threads.Scratch = _threads.FRESH,
) -> Stacked:
    """:class:`Stacked` from per-problem factors and Gram matrices (sequences of arrays), margins,
    and the stacked ``signs`` (samples, most points; zero past a problem's points), ``probes``
    and ``probe_row`` (see :class:`Stacked`; a problem's probes zero past its rank), with problem
    ``i``'s samples in rows ``starts[i]:starts[i + 1]``. ``solve``: the rows to solve, ascending
    (all when None); ``keys``: see :class:`Stacked`; ``scratch``: where the stacked factors,
    Gram matrices and linear terms are kept (a :class:`neurogeom.geometry._threads.Scratch`;
    by default newly allocated). Computes each solved sample's linear term and tolerance as
    :func:`finish` does on its problem's solved samples alone: the problems whose solved samples
    are all their samples, with one shape and probes taken as one block of rows, in batched
    matrix products (the same products, bit for bit); others one by one."""
    n_prob = len(factors)
    sizes = np.array([f.shape[0] for f in factors], dtype=np.int64)
    ranks = np.array([f.shape[1] for f in factors], dtype=np.int64)
    kappas = np.asarray(kappas, dtype=np.float64).reshape(n_prob)
    starts = np.asarray(starts, dtype=np.int64)
    counts = np.diff(starts)
    prob = np.repeat(np.arange(n_prob, dtype=np.int64), counts)
    n_all, n_max = signs.shape
    uniform = bool(
        n_prob and (sizes == sizes[0]).all() and (ranks == ranks[0]).all() and ranks[0] > 0
    )
    f3 = None
    if uniform:
        f3 = scratch.array("factors", (n_prob, *factors[0].shape))
        np.stack(factors, out=f3)
        flat = f3.reshape(-1)
        grams_flat = scratch.array("grams", (n_prob, *grams[0].shape))
        np.stack(grams, out=grams_flat)
        grams_flat = grams_flat.reshape(-1)
        peaks = np.sqrt(np.max(np.einsum("pij,pij->pi", f3, f3), axis=1))
    else:
        flat = np.concatenate(
            [np.ascontiguousarray(f, dtype=np.float64).ravel() for f in factors] or [np.zeros(0)]
        )
        grams_flat = np.concatenate(
            [np.ascontiguousarray(g, dtype=np.float64).ravel() for g in grams] or [np.zeros(0)]
        )
        peaks = np.array(
            [
                float(np.sqrt(np.max(np.einsum("ij,ij->i", f, f)))) if f.size else 1.0
                for f in factors
            ]
        )
    # written whole below where blocked, zeroed first elsewhere (not a pass over every row)
    q = scratch.array("linear_terms", (n_all, n_max))
    tol = np.zeros(n_all)
    # problems all of whose samples are solved
    whole = np.ones(n_prob, dtype=bool)
    if solve is not None:
        whole = np.bincount(prob[solve], minlength=n_prob) == counts
    blocked = np.zeros(n_prob, dtype=bool)
    if uniform and n_all and n_max == sizes[0] and (counts == counts[0]).all():
        c, n, r = int(counts[0]), int(sizes[0]), int(ranks[0])
        base = probe_row[starts[:-1]]
        local = probe_row - base[prob]
        if c and np.array_equal(local, np.tile(np.arange(c), n_prob)):
            y3 = signs.reshape(n_prob, c, n)
            q3 = q.reshape(n_prob, c, n)
            t3 = tol.reshape(n_prob, c)
            ft = f3.transpose(0, 2, 1)
            for b in np.unique(base[whole]):
                w = probes[b : b + c, :r]
                sel = whole & (base == b)
                norms = np.linalg.norm(w, axis=1)
                if sel.all():
                    np.multiply(y3, np.matmul(w, ft), out=q3)
                    if kappas.any():  # x - 0.0 is x, bit for bit
                        q3 -= kappas[:, None, None]
                    t3[:] = 1e-9 * (peaks[:, None] * norms + np.abs(kappas)[:, None] + 1e-300)
                else:
                    q3[sel] = y3[sel] * np.matmul(w, ft[sel]) - kappas[sel, None, None]
                    t3[sel] = 1e-9 * (
                        peaks[sel, None] * norms + np.abs(kappas[sel])[:, None] + 1e-300
                    )
                blocked |= sel
    st = Stacked(
        factors=flat,
        f_offsets=_offsets(sizes * ranks),
        sizes=sizes,
        ranks=ranks,
        grams=grams_flat,
        g_offsets=_offsets(sizes * sizes),
        kappas=kappas,
        starts=starts,
        prob=prob,
        signs=signs,
        q=q,
        tol=tol,
        probes=probes,
        probe_row=np.asarray(probe_row, dtype=np.int64),
        solve=None if solve is None else np.asarray(solve, dtype=np.int64),
        keys=None if keys is None else np.asarray(keys, dtype=np.uint64).reshape(n_all, 1),
    )
    for i in np.flatnonzero(~blocked):
        q[starts[i] : starts[i + 1]] = 0.0
        rows = st.rows(i)
        if not rows.size:
            continue
        n, r = int(sizes[i]), int(ranks[i])
        f = st.factor(i)
        w = probes[st.probe_row[rows], :r]
        q[rows, :n] = signs[rows, :n] * (w @ f.T) - kappas[i]
        tol[rows] = 1e-9 * (peaks[i] * np.linalg.norm(w, axis=1) + abs(kappas[i]) + 1e-300)
    return st


def solve_stacked(st: Stacked) -> tuple[np.ndarray, list[dict]]:
    """:func:`solve_direct_many` on stacked samples: exact duals of the rows ``st.solve`` (all
    when None) on every allowed point, from zero, in the chains each problem gets alone; zero
    elsewhere. Returns the duals (samples, most points) and each problem's statistics."""
    lam = np.zeros(st.signs.shape)
    status = np.zeros(st.signs.shape[0], dtype=np.int64)
    worst = np.zeros(st.signs.shape[0])
    rows = st.solved()
    if rows.size:
        members, bounds = st.chains()
        previous = numba.set_parallel_chunksize(1)
        try:
            with one_blas_thread():
                _active_set.solve_every_point_chains_many(
                    st.grams,
                    st.g_offsets,
                    st.sizes,
                    st.ranks + 1,
                    20 * st.sizes + 100,
                    st.prob,
                    st.signs,
                    st.q,
                    lam,
                    st.tol,
                    members,
                    bounds,
                    status,
                    worst,
                )
        finally:
            numba.set_parallel_chunksize(previous)
    stats, _ = settle_stacked(st, lam, status, worst)
    return lam, stats


def settle_stacked(st: Stacked, lam, status, worst) -> tuple[list[dict], list[int]]:
    """Each problem's statistics from its samples' status and largest violation of the
    optimality conditions (``worst``, on every allowed point): a problem every sample of which
    settled and meets them within half its tolerance is clean (:func:`_verify` would change
    nothing: the two gradients differ by rounding only, far below half a tolerance); any other
    is verified through :func:`_verify` as :func:`finish` verifies it (its rows of ``lam``
    rewritten). Returns the statistics and the problems so verified."""
    n_prob = st.sizes.size
    rows = st.solved()
    bad = (worst > 0.5 * st.tol) | (status != _active_set.OK) | ~np.isfinite(worst)
    n_bad = np.bincount(st.prob[bad], minlength=n_prob)
    n_solved = np.bincount(st.prob[rows], minlength=n_prob)
    stats = []
    for i in range(n_prob):
        if n_bad[i]:
            stats.append(_verified(st, i, lam, status, worst))
            continue
        stats.append(
            {
                "support_solve": int(n_solved[i]),
                "active_set_rounds": 1 if n_solved[i] else 0,
                "kkt_relaxed": 0,
                "nnls": 0,
                "unresolved": 0,
                "fista_iterations": 0,
            }
        )
    return stats, np.flatnonzero(n_bad).tolist()


def _verified(st, i, lam, status, worst):
    """Problem ``i``'s duals verified through :func:`_verify` as :func:`finish` verifies them
    (written back into ``lam``; ``worst``: the samples' largest violations as the solve found
    them); returns its statistics."""
    rows = st.rows(i)
    n, r = int(st.sizes[i]), int(st.ranks[i])
    y = np.ascontiguousarray(st.signs[rows, :n])
    w = st.probes[st.probe_row[rows], :r]
    n_s = rows.size
    res, stats = _verify(
        st.factor(i),
        y,
        w,
        np.zeros((n_s, n)),
        np.ascontiguousarray(lam[rows, :n]),
        st.kappas[i],
        st.tol[rows],
        y != 0,
        status[rows] != _active_set.OK,
        np.empty((n_s, n)),
        np.zeros(n_s, dtype=bool),
        worst[rows],
        rounds=1 if n_s else 0,
        every_point=True,
        retry=True,
        bounded=False,
        gram=st.gram(i),
        max_rounds=100,
    )
    lam[rows, :n] = res
    stats["fista_iterations"] = 0
    return stats


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
