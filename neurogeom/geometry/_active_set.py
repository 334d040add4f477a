"""Compiled exact solver for the GLUE dual on per-sample working sets (numba).

For one sample the dual is the non-negative quadratic programme

    min_{lam >= 0}  1/2 lam^T G lam + h^T lam,   G = diag(y) K diag(y),   h = y * (X t) - kappa,

with ``K`` the Gram matrix of the points. Its solution is supported on few points (at most the
dimension of their span), so each sample is solved exactly on a *working set* ``W`` of candidate
points by the Lawson-Hanson active-set method in Gram form, warm-started from an approximate
solution. The Cholesky factor of the passive block gains a row per added point and loses one per
leaving point by Givens rotations (O(s^2) each, s the support size); it is factored whole (LAPACK)
only for the warm start. Whether points outside ``W`` violate the optimality conditions is
checked by the caller for all samples at once (one matrix product), and violators are added to
``W``; see :func:`neurogeom.geometry._dual.finish`.

Entries of ``G`` come from a stored Gram matrix when there is one, else from the factor ``B`` of the
points' span (``K = B B^T``). Samples run in parallel threads.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["solve_every_point_chains", "solve_every_point_chains_many", "solve_working_sets"]

# status codes of one sample's solve
OK, MAX_ITER = 0, 1
# starts of a sample in a chain of one dichotomy (see solve_every_point_chains)
_COLD, _WARM, _SHRUNK, _STARTS = 0, 1, 2, 3
# the starts from the previous support are tried only while at least 1 / _KEPT_MIN of the
# previous supports' points stay in the next (see solve_every_point_chains)
_KEPT_MIN = 4
# most points added to the passive set per outer iteration: _BLOCK_SMALL below _SMALL_POINTS
# points, else _BLOCK, or one per _PER_ADDED points up to _BLOCK_WIDE (see _most_per_iteration)
_BLOCK, _BLOCK_WIDE, _PER_ADDED = 8, 32, 64
_BLOCK_SMALL, _SMALL_POINTS = 4, 256

# a Givens rotation's a^2 + b^2 is formed directly in this range (its square root then exact to
# rounding), else by hypot
_SQUARES_SAFE_MIN, _SQUARES_SAFE_MAX = 1e-280, 1e280

_jit = numba.njit(cache=True, nogil=True, fastmath=False)
# sums may be reordered (vectorised); no assumption about NaN or inf
_jit_reassoc = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
# the inner loops' steps neither allocate nor keep arrays: compiled without numba's reference
# counting (its _nrt=False), their calls make no atomic count updates of their array arguments
# (on small problems, 60 points, those updates took about a third of a sample's solve)
_leaf = numba.njit(cache=True, nogil=True, fastmath=False, _nrt=False)
_leaf_reassoc = numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"}, _nrt=False)
# the steps of an outer iteration: inlined into their callers by numba (compiled there with the
# caller's flags: used only where those are the same, fastmath off, so the same numbers bit for
# bit), not called with every field of every array argument on the stack (on 1,000 small
# problems that overhead took 7-14% of glue_batch's CPU time)
_leaf_inline = numba.njit(cache=True, nogil=True, fastmath=False, _nrt=False, inline="always")


@_leaf
def _reciprocal(x):
    """``1 / x``, compiled without fastmath: in a solve's loop ``y * _reciprocal(d)`` keeps the
    division off the chain of dependent steps (a reassociating caller would fold ``y * (1 /
    d)`` back into ``y / d``). On small problems the divisions' latency held up the triangular
    solves, one division per row (125 problems of 60 points of the GLUE panel, one thread: the
    compiled solve 7% faster)."""
    return 1.0 / x


@_leaf_reassoc
def _forward_from(lmat, lo, s, rhs, out):
    """Rows ``lo`` to ``s - 1`` of the solution of L[:s, :s] x = rhs (lower triangular), by rows,
    into ``out`` (not ``rhs``), its first ``lo`` entries given there."""
    for i in range(lo, s):  # 2-d indexing, not row views: no reference counting in the loop
        acc = 0.0
        for j in range(i):
            acc += lmat[i, j] * out[j]
        out[i] = (rhs[i] - acc) * _reciprocal(lmat[i, i])


@_leaf_inline
def _forward_into(lmat, s, rhs, out):
    """Solve L[:s, :s] x = rhs (lower triangular), by rows, into ``out[:s]`` (not ``rhs``)."""
    _forward_from(lmat, 0, s, rhs, out)


@_jit
def _forward(lmat, s, rhs):
    """Solve L[:s, :s] x = rhs (lower triangular), by rows."""
    out = np.empty(s)
    _forward_into(lmat, s, rhs, out)
    return out


@_leaf_inline
def _backward_in_place(lmat, s, x):
    """Solve L[:s, :s]^T z = x[:s] in place, by rows of L (contiguous)."""
    for i in range(s - 1, -1, -1):
        xi = x[i] * _reciprocal(lmat[i, i])
        x[i] = xi
        for j in range(i):
            x[j] -= lmat[i, j] * xi


@_jit
def _backward(lmat, s, rhs):
    """Solve L[:s, :s]^T x = rhs, by rows of L (contiguous)."""
    out = rhs.copy()
    _backward_in_place(lmat, s, out)
    return out


@_leaf_inline
def _solve_passive(lmat, s, h, order, rhs, fwd, z, lo):
    """``z[:s]``: the unconstrained solution on the passive set ``order[:s]`` (factored in
    ``lmat``), ``G_PP z = -h_P``, with the forward substitution's ``L y = -h_P`` left in
    ``fwd[:s]`` (its first ``lo`` entries are given there: the factor's first ``lo`` rows and
    points are those they were solved with); ``rhs`` is scratch, ``fwd`` may be ``z`` where it
    is not kept. No allocation (called in the inner loops)."""
    for i in range(lo, s):
        rhs[i] = -h[order[i]]
    _forward_from(lmat, lo, s, rhs, fwd)
    for i in range(s):
        z[i] = fwd[i]
    _backward_in_place(lmat, s, z)


@_leaf_inline
def _append(lmat, s, gmat, ys, order, j, rel_tol, col, row):
    """Add point ``j`` as row ``s`` of the Cholesky factor; False if it is dependent. ``col``
    and ``row`` are scratch of at least ``s`` entries."""
    if s >= lmat.shape[0]:
        return False
    for i in range(s):
        col[i] = ys[order[i]] * ys[j] * gmat[order[i], j]
    _forward_into(lmat, s, col, row)
    d2 = gmat[j, j]
    for i in range(s):
        d2 -= row[i] * row[i]
    if d2 <= rel_tol * gmat[j, j] or d2 <= 0.0:
        return False
    for i in range(s):
        lmat[s, i] = row[i]
    lmat[s, s] = np.sqrt(d2)
    return True


@_leaf
def _delete(lmat, s, p):
    """Remove row and column ``p`` of the factored block: Givens rotations, O((s - p)^2)."""
    for i in range(p, s - 1):
        for j in range(i + 2):
            lmat[i, j] = lmat[i + 1, j]
    for j in range(s):
        lmat[s - 1, j] = 0.0
    # rows p..s-2 now have one entry right of the diagonal: rotate columns (j, j+1)
    for j in range(p, s - 1):
        a = lmat[j, j]
        b = lmat[j, j + 1]
        r2 = a * a + b * b
        if _SQUARES_SAFE_MIN < r2 < _SQUARES_SAFE_MAX:  # no underflow or overflow: no hypot
            inv = 1.0 / np.sqrt(r2)  # (a libm call per rotation: about 2% of small solves)
            c = a * inv
            sn = b * inv
        else:
            r = np.hypot(a, b)
            if r == 0.0:
                continue
            c = a / r
            sn = b / r
        for i in range(j, s - 1):
            x = lmat[i, j]
            y = lmat[i, j + 1]
            lmat[i, j] = c * x + sn * y
            lmat[i, j + 1] = -sn * x + c * y
        lmat[j, j + 1] = 0.0
    for i in range(s - 1):
        lmat[i, s - 1] = 0.0
        if lmat[i, i] < 0.0:  # keep a positive diagonal
            for k in range(i, s - 1):
                lmat[k, i] = -lmat[k, i]


@_jit
def _cholesky(gmat):
    """LAPACK Cholesky factor of ``gmat``; False when it is not positive definite."""
    try:
        return np.linalg.cholesky(gmat), True
    except Exception:
        return np.zeros_like(gmat), False


@_leaf_reassoc
def _gradient(gmat, ys, h, order, lam, s, out, acc):
    """``out = h + G[:, P] lam[P]`` (P the first ``s`` entries of ``order``,
    ``G = diag(ys) gmat diag(ys)``), by rows of the symmetric ``gmat`` (contiguous, vectorised);
    ``acc`` is scratch of ``h.size`` entries."""
    m = h.size
    for i in range(m):
        acc[i] = 0.0
    for k in range(s):
        j = order[k]
        lj = ys[j] * lam[j]
        for i in range(m):
            acc[i] += lj * gmat[j, i]
    for i in range(m):
        out[i] = h[i] + ys[i] * acc[i]


@_leaf_inline
def _take_back(lmat, s, n_new, z, order, passive, lam, banned):
    """Remove the new points (the last ``n_new`` rows of the factor) whose solution is not
    positive; a single new point that cannot enter is banned (rounding). Returns ``s, n_new``."""
    if n_new == 1:
        j = order[s - 1]
        passive[j] = False
        lam[j] = 0.0
        banned[j] = True
        return s - 1, 0
    for i in range(s - 1, s - n_new - 1, -1):
        if not z[i] > 0.0:
            j = order[i]
            passive[j] = False
            lam[j] = 0.0
            _delete(lmat, s, i)
            for k in range(i, s - 1):
                order[k] = order[k + 1]
            s -= 1
            n_new -= 1
    return s, n_new


@_jit
def _warm_start(gmat, ys, h, lam, cap, lmat, order, passive, rel_tol):
    """The first passive set, from the warm start ``lam`` (see :func:`_lawson_hanson`): its
    factor in ``lmat``, its points in ``order``, ``passive`` marked and ``lam`` zero elsewhere.
    Returns its size ``s``."""
    m = h.size
    # warm start: the positive entries, largest first; points whose solution on the set is
    # not positive leave together until it is. The set is factored with LAPACK; when only a few
    # points leave (fewer than s / 360) they are taken out of the factor by Givens rotations
    # (6 s^2 operations each) instead of factoring the rest anew (s^3 / 3, at LAPACK's pace).
    cand = np.argsort(-lam)
    n_pos = 0
    while n_pos < m and lam[cand[n_pos]] > 0.0:
        n_pos += 1
    cand = cand[:n_pos].copy()
    s = 0
    factored = False
    while cand.size or factored:
        if not factored:
            c = cand.size
            sub = np.empty((c, c))
            for a in range(c):
                for b in range(c):
                    sub[a, b] = ys[cand[a]] * ys[cand[b]] * gmat[cand[a], cand[b]]
            fac, good = (np.zeros((1, 1)), False) if c > cap else _cholesky(sub)
            if good:
                dmax = 0.0
                for a in range(c):
                    dmax = max(dmax, fac[a, a])
                for a in range(c):
                    if not fac[a, a] > 1e-6 * dmax:
                        good = False
                        break
            if good:
                for a in range(c):
                    order[a] = cand[a]
                    for b in range(a + 1):
                        lmat[a, b] = fac[a, b]
                s = c
            else:  # dependent: keep a greedy independent subset, in the same order
                s = 0
                col = np.empty(lmat.shape[0])
                row = np.empty(lmat.shape[0])
                for a in range(c):
                    if _append(lmat, s, gmat, ys, order, cand[a], rel_tol, col, row):
                        order[s] = cand[a]
                        s += 1
            factored = True
        if s == 0:
            break
        rhs = np.empty(s)
        for a in range(s):
            rhs[a] = -h[order[a]]
        z = _backward(lmat, s, _forward(lmat, s, rhs))
        n_pos = 0
        for a in range(s):
            if z[a] > 0.0:
                n_pos += 1
        if n_pos == s:
            for a in range(s):
                lam[order[a]] = z[a]
            break
        if (s - n_pos) * 360 < s:
            for i in range(s - 1, -1, -1):
                if not z[i] > 0.0:
                    _delete(lmat, s, i)
                    for k in range(i, s - 1):
                        order[k] = order[k + 1]
                    s -= 1
            continue
        nxt = np.empty(n_pos, dtype=np.int64)
        n_pos = 0
        for a in range(s):
            if z[a] > 0.0:
                nxt[n_pos] = order[a]
                n_pos += 1
        cand = nxt
        s = 0
        factored = False
    for a in range(m):
        passive[a] = False
    for a in range(s):
        passive[order[a]] = True
    for a in range(m):
        if not passive[a]:
            lam[a] = 0.0
    return s


@_jit
def _most_per_iteration(m):
    """Most points added to the passive set in one outer iteration on ``m`` points.

    Each outer iteration reads the gradient of every point (``m`` rows of the Gram matrix, at
    ``s`` entries each); a point added that does not enter costs a row of the factor and its
    removal (O(s^2)). On many points (config B: 2,500) fewer, larger blocks pay: from cold,
    blocks of 32 instead of 8 cut the solve by about a fifth there, while on a few hundred points
    blocks of 8 stay best (measured on the GLUE panel, ``benchmarks/glue.py``). Below 256 points
    blocks of 4 are cheaper still (one thread, problems of 3 manifolds in 100 units: 60, 120 and
    240 points 8.5%, 9% and 6% less time a sample than blocks of 8; near the floor, 432 points,
    blocks of 4 or 6 took longer)."""
    if m < _SMALL_POINTS:
        return _BLOCK_SMALL
    return max(_BLOCK, min(_BLOCK_WIDE, m // _PER_ADDED))


@_leaf_inline
def _inner(lmat, s, n_new, block, most, h, order, passive, lam, banned, rhs, fwd, z, valid):
    """Lawson-Hanson's inner loop: the unconstrained solution on the passive set, kept
    non-negative (new points that do not enter are taken back). Returns ``s, block`` and the
    work done (``s^2`` per solve on the passive set, ``3 s (s - i)`` per removal of its point
    ``i``). ``rhs``, ``fwd`` and ``z`` are scratch of the factor's size; the first ``valid``
    entries of ``fwd`` hold the forward substitution of the passive set on entry (see
    :func:`_solve_passive`), and all ``s`` of them on return: a solve redoes only the rows of
    the factor that changed since the last (removals change the rows from the one removed)."""
    work = 0
    # inner loop: the unconstrained solution on the passive set, kept non-negative
    while s > 0:
        work += s * s
        _solve_passive(lmat, s, h, order, rhs, fwd, z, min(valid, s))
        valid = s
        all_pos = True
        for i in range(s):
            if z[i] <= 0.0:
                all_pos = False
                break
        if all_pos:
            for i in range(s):
                lam[order[i]] = z[i]
            if n_new > 0:
                block = min(most, 2 * block)
            break
        if n_new > 0:
            entered = True
            for i in range(s - n_new, s):
                if z[i] <= 0.0:
                    entered = False
            if not entered:
                # the new points are the factor's last rows: take back those that do not
                # enter and solve again with the others
                valid = s - n_new
                s, n_new = _take_back(lmat, s, n_new, z, order, passive, lam, banned)
                if n_new == 0:
                    block = max(1, block // 2)
                continue
            block = min(most, 2 * block)
        n_new = 0
        # step from lam towards z until the first passive point reaches zero
        alpha, arg = 1.0, -1
        for i in range(s):
            if z[i] <= 0.0:
                li = lam[order[i]]
                ratio = li / (li - z[i])
                if ratio < alpha:
                    alpha, arg = ratio, i
        for i in range(s):
            j = order[i]
            lam[j] = lam[j] + alpha * (z[i] - lam[j])
        if arg >= 0:
            lam[order[arg]] = 0.0
        # remove the points that reached zero, last first
        for i in range(s - 1, -1, -1):
            j = order[i]
            if lam[j] <= 0.0:
                lam[j] = 0.0
                passive[j] = False
                _delete(lmat, s, i)
                valid = min(valid, i)
                work += 3 * s * (s - i)  # its rows moved up and rotated
                for k in range(i, s - 1):
                    order[k] = order[k + 1]
                s -= 1
    return s, block, work


@_leaf_inline
def _violators(
    gmat, ys, h, order, lam, s, grad, passive, banned, tol, block, best_g, best_i, acc, cand
):
    """The at most ``block`` most violated optimality conditions among the non-passive,
    non-banned points, most violated first (the first point on ties), in ``best_i``; returns
    how many (``acc``: scratch of ``h.size`` entries; ``cand``: of ``h.size`` integers).

    The violators are first gathered in one pass without branches on the data, then inserted
    into the sorted list: the gradient's signs are those of random probes, and a branch per
    point on them was mispredicted about half the time (gathering first, this step alone ran
    1.6-2.5x faster on 60 and 432 points of random gradients; the same choice)."""
    m = h.size
    _gradient(gmat, ys, h, order, lam, s, grad, acc)
    n_c = 0
    for i in range(m):  # acc (the gradient's scratch) now holds the violators' gradients
        g = grad[i]
        cand[n_c] = i
        acc[n_c] = g
        n_c += (not (passive[i] | banned[i])) & (not g >= -tol)
    n_best = 0
    for k in range(n_c):
        g = acc[k]
        if n_best == block and g >= best_g[n_best - 1]:
            continue
        # insert into the sorted list of the most violated
        pos = min(n_best, block - 1)
        while pos > 0 and best_g[pos - 1] > g:
            if pos < block:
                best_g[pos] = best_g[pos - 1]
                best_i[pos] = best_i[pos - 1]
            pos -= 1
        best_g[pos] = g
        best_i[pos] = cand[k]
        if n_best < block:
            n_best += 1
    return n_best


@_jit
def _lawson_hanson(gmat, ys, h, lam, tol, max_iter, cap):
    """Exact NNLS in Gram form, warm-started from ``lam`` (>= 0, updated in place).

    ``min 1/2 lam^T G lam + h^T lam`` over ``lam >= 0``, ``G = diag(ys) gmat diag(ys)`` (``ys``
    of +-1). At most ``cap`` points are passive at once (the rank of ``G`` is at most that). The warm start's positive entries
    form the first passive set (in order of decreasing value; dependent ones are left out).
    Returns the status code and the number of outer iterations.
    """
    m = h.size
    rel_tol = 1e-12
    cap = min(m, cap)
    lmat = np.zeros((cap, cap))
    order = np.empty(m, dtype=np.int64)
    passive = np.zeros(m, dtype=np.bool_)
    banned = np.zeros(m, dtype=np.bool_)
    s = _warm_start(gmat, ys, h, lam, cap, lmat, order, passive, rel_tol)
    scratch = _iterate_scratch(m, cap)
    code, it, _, _ = _iterate(
        gmat, ys, h, lam, tol, max_iter, lmat, order, passive, banned, s, scratch
    )
    return code, it


@_jit
def _iterate_scratch(m, size):
    """Scratch of :func:`_iterate` and :func:`_shrink` on ``m`` points with a factor of
    ``size`` rows (allocated by their callers, once per sample or chain). :func:`_iterate`
    lays it out as the most violated points' gradients and indices (``_BLOCK_WIDE`` each), the
    gradient and its accumulator (``m`` each), four rows of ``size + 1`` (the right-hand side of
    a solve; the passive set's forward substitution, kept between solves; the solution, or a
    new point's column of the Gram matrix; its row of the factor), and the indices of all
    violators (``m`` integers); :func:`_shrink` uses its first ``2 size + 2`` entries before."""
    return np.empty(2 * _BLOCK_WIDE + 3 * m + 4 * (size + 1))


@_leaf
def _iterate(gmat, ys, h, lam, tol, max_iter, lmat, order, passive, banned, s, work_space):
    """Lawson-Hanson's iterations from a feasible state: ``lam`` (>= 0) positive exactly on the
    passive set, whose ``s`` points are ``order[:s]`` with their Cholesky factor in ``lmat``
    (``work_space``: :func:`_iterate_scratch`). Returns the status code, the number of outer
    iterations, the final ``s`` and the work done (multiply-adds, roughly: the gradients and the
    passes over every point, the solves, new rows of the factor and removals from it); the
    state is left at the solution (its support ``order[:s]``, for a warm start with another
    ``h``)."""
    m = h.size
    rel_tol = 1e-12
    n_new = 0  # points added by the last outer iteration (the last rows of the factor)
    most = _most_per_iteration(m)
    block = most  # most points added per outer iteration: halved when a block does not
    # enter, doubled (up to most) when one does
    best_g = work_space[:most]
    best_i = work_space[_BLOCK_WIDE : _BLOCK_WIDE + most].view(np.int64)
    grad = work_space[2 * _BLOCK_WIDE : 2 * _BLOCK_WIDE + m]
    acc = work_space[2 * _BLOCK_WIDE + m : 2 * _BLOCK_WIDE + 2 * m]
    # scratch of the solves and new rows of the factor (on small problems allocations in the
    # loops, or per sample, cost a third of the solve)
    size = lmat.shape[0] + 1
    start = 2 * _BLOCK_WIDE + 2 * m
    scratch = work_space[start : start + 4 * size].reshape((4, size))
    cand = work_space[start + 4 * size : start + 4 * size + m].view(np.int64)
    it = 0
    work = 0
    while it < max_iter:
        it += 1
        # after the first solve the forward substitution of the passive set is kept in
        # scratch[1] (and extended there by _add_block's new rows): solves redo only the rows
        # that changed, and _add_block none (the compiled solve of 125 small problems of the
        # GLUE panel, one thread: 6-7% less time)
        s, block, more = _inner(
            lmat,
            s,
            n_new,
            block,
            most,
            h,
            order,
            passive,
            lam,
            banned,
            scratch[0],
            scratch[1],
            scratch[2],
            0 if it == 1 else s,
        )
        work += more + m * (s + 4)  # the gradient's rows, and its passes over every point
        n_new = 0
        # outer loop: the most violated optimality conditions among the other points
        n_best = _violators(
            gmat, ys, h, order, lam, s, grad, passive, banned, tol, block, best_g, best_i, acc, cand
        )
        if n_best == 0:
            return OK, it, s, work
        work += n_best * s * s // 2
        s, n_new = _add_block(
            lmat, s, gmat, ys, h, order, passive, banned, lam, best_i, n_best, rel_tol, scratch
        )
    return MAX_ITER, it, s, work


@_leaf_inline
def _final_worst(work_space, m, lam):
    """Largest violation of the optimality conditions at the solution :func:`_iterate` returned
    with status OK, on every one of the ``m`` allowed points (banned ones too): ``|g|`` where
    ``lam > 0``, ``-g`` (when positive) elsewhere, from the gradient ``g`` of its last outer
    iteration (left in ``work_space``, computed at that solution: the optimality conditions in
    the Gram matrix's form, which equal those in the factor's to rounding); infinite where the
    gradient is not finite. Four running maxima (the largest is the same in any order), not
    one chain of dependent comparisons."""
    grad = work_space[2 * _BLOCK_WIDE : 2 * _BLOCK_WIDE + m]
    w0 = w1 = w2 = w3 = 0.0
    finite = True
    for i in range(0, m - 3, 4):
        v0 = abs(grad[i]) if lam[i] > 0.0 else -grad[i]
        v1 = abs(grad[i + 1]) if lam[i + 1] > 0.0 else -grad[i + 1]
        v2 = abs(grad[i + 2]) if lam[i + 2] > 0.0 else -grad[i + 2]
        v3 = abs(grad[i + 3]) if lam[i + 3] > 0.0 else -grad[i + 3]
        finite &= (v0 - v0 == 0.0) & (v1 - v1 == 0.0) & (v2 - v2 == 0.0) & (v3 - v3 == 0.0)
        w0 = v0 if v0 > w0 else w0
        w1 = v1 if v1 > w1 else w1
        w2 = v2 if v2 > w2 else w2
        w3 = v3 if v3 > w3 else w3
    for i in range(m - m % 4, m):
        v0 = abs(grad[i]) if lam[i] > 0.0 else -grad[i]
        finite &= v0 - v0 == 0.0
        w0 = v0 if v0 > w0 else w0
    w0 = w1 if w1 > w0 else w0
    w2 = w3 if w3 > w2 else w2
    out = w2 if w2 > w0 else w0
    return out if finite else np.inf


@_leaf_inline
def _add_block(lmat, s, gmat, ys, h, order, passive, banned, lam, best_i, n_best, rel_tol, scratch):
    """Append the violators ``best_i[:n_best]`` (most violated first) to the factor.

    The most violated always joins (its solution on the enlarged set is positive, up to
    rounding); each further one joins only if its own entry of the solution on the set built so
    far is positive, read in O(s) from the forward substitution extended by its row. Returns
    the new ``s`` and the number of points added. ``scratch``: 4 rows of the factor's size + 1,
    the forward substitution of the passive set in its second (see :func:`_inner`; extended
    by the new points' rows)."""
    fwd, col, row = scratch[1], scratch[2], scratch[3]
    n_new = 0
    for a in range(n_best):
        j = best_i[a]
        if not _append(lmat, s, gmat, ys, order, j, rel_tol, col, row):
            if n_best == 1 or a == 0:
                banned[j] = True
            continue
        acc = -h[j]
        for i in range(s):
            acc -= lmat[s, i] * fwd[i]
        fwd[s] = acc * _reciprocal(lmat[s, s])
        if a > 0 and not fwd[s] > 0.0:  # its entry fwd[s] / L[s, s] would not be positive
            continue  # row s is overwritten by the next append
        order[s] = j
        s += 1
        passive[j] = True
        lam[j] = 0.0
        n_new += 1
    return s, n_new


@_jit
def _block(gram, factor, use_gram, signs_k, idx):
    """``diag(y) K diag(y)`` restricted to the points ``idx``."""
    m = idx.size
    gmat = np.empty((m, m))
    if use_gram:
        for a in range(m):
            ia = idx[a]
            ya = signs_k[ia]
            for b in range(m):
                ib = idx[b]
                gmat[a, b] = ya * signs_k[ib] * gram[ia, ib]
    else:
        sub = np.empty((m, factor.shape[1]))
        for a in range(m):
            sub[a] = signs_k[idx[a]] * factor[idx[a]]
        gmat[:, :] = sub @ sub.T
    return gmat


@numba.njit(cache=True, nogil=True, parallel=True)
def solve_working_sets(gram, factor, use_gram, signs, q, work, lam, tol, max_iter, rows, status):
    """Exact duals restricted to each sample's working set, in parallel over samples.

    Parameters
    ----------
    gram : ndarray (n_points, n_points) or (1, 1)
        Gram matrix of the points (used when ``use_gram``).
    factor : ndarray (n_points, rank)
        Factor of the Gram matrix (used otherwise).
    signs, q : ndarray (n_samples, n_points)
        ``y`` of each point's manifold and the dual's linear term ``y * (X t) - kappa``.
    work : ndarray of bool (n_samples, n_points)
        Working sets.
    lam : ndarray (n_samples, n_points)
        Warm start (>= 0); overwritten with the solutions (zero off the working set).
    tol : ndarray (n_samples,)
        Tolerance on the dual gradient.
    rows : ndarray of int64
        The samples to solve (the others are left as they are).
    status : ndarray of int64 (n_samples,)
        Out: :data:`OK`, or :data:`MAX_ITER` when ``max_iter`` outer iterations did not
        settle the sample.
    """
    cap = factor.shape[1] + 1
    for r in numba.prange(rows.size):
        k = rows[r]
        idx = np.flatnonzero(work[k])
        m = idx.size
        h = np.empty(m)
        lw = np.empty(m)
        for a in range(m):
            h[a] = q[k, idx[a]]
            lw[a] = max(lam[k, idx[a]], 0.0)
        if use_gram and m == signs.shape[1]:  # every point: read the Gram matrix in place
            code, _ = _lawson_hanson(gram, signs[k], h, lw, tol[k], max_iter, cap)
        else:
            gmat = _block(gram, factor, use_gram, signs[k], idx)
            code, _ = _lawson_hanson(gmat, np.ones(m), h, lw, tol[k], max_iter, cap)
        status[k] = code
        lam[k, :] = 0.0
        for a in range(m):
            lam[k, idx[a]] = lw[a]


@_leaf
def _shrink(lmat, s, h, order, passive, lam, work_space):
    """A warm start's passive set (``order[:s]``, factored in ``lmat``) shrunk until the solution
    on it is positive: the points of non-positive solution leave together (Givens rotations),
    as in :func:`_warm_start`, not one by one. Sets ``lam`` to that solution (zero elsewhere);
    returns ``s`` and the work done (``work_space``: :func:`_iterate_scratch`)."""
    work = 0
    rhs = work_space[: s + 1]
    z = work_space[s + 1 : 2 * s + 2]
    while s > 0:
        work += s * s
        _solve_passive(lmat, s, h, order, rhs, z, z, 0)
        n_out = 0
        for i in range(s - 1, -1, -1):
            if not z[i] > 0.0:
                j = order[i]
                passive[j] = False
                lam[j] = 0.0
                _delete(lmat, s, i)
                for k in range(i, s - 1):
                    order[k] = order[k + 1]
                s -= 1
                n_out += 1
        if n_out == 0:
            for i in range(s):
                lam[order[i]] = z[i]
            break
        work += 6 * n_out * s * s
    return s, work


@_jit
def _solve_chain(gram, signs, q, lam, n, tol, max_iter, cap, chain, status, worst):
    """The samples ``chain`` (of one dichotomy), in order: see :func:`solve_every_point_chains`;
    ``worst[k]`` is set to sample ``k``'s largest violation of the optimality conditions on every
    allowed point (:func:`_final_worst`; infinite where it did not settle). The problem's ``n``
    points are the first ``n`` columns of ``signs``, ``q`` and ``lam`` (C-contiguous: rows
    read and written with unit stride; columns past ``n`` are left as they are)."""
    first = chain[0]
    idx = np.flatnonzero(signs[first, :n] != 0.0)
    m = idx.size
    if m == n:  # every point: read the Gram matrix in place
        gmat = gram
        ys = signs[first, :n].copy()
    else:
        gmat = _block(gram, gram, True, signs[first], idx)
        ys = np.ones(m)
    size = min(m, cap)
    # the factor's rows are written as points join, and only its lower triangle of the rows in
    # use is ever read: not zeroed first (on small problems a pass over 29 kB per chain)
    lmat = np.empty((size, size))
    order = np.empty(m, dtype=np.int64)
    passive = np.zeros(m, dtype=np.bool_)
    banned = np.zeros(m, dtype=np.bool_)
    lw = np.zeros(m)
    h = np.empty(m)
    work_space = _iterate_scratch(m, size)
    s = 0
    # the three starts: from zero, from the previous solution (Lawson-Hanson's steps), from its
    # support shrunk at once; the work each did and how many samples took it
    work_of = np.zeros(_STARTS, dtype=np.int64)
    n_of = np.zeros(_STARTS, dtype=np.int64)
    start = _COLD  # the first sample starts from zero
    taken = 1  # samples that took the starts in turn (the first: from zero)
    # the previous sample's support (last, of n_last points), and over the chain how many
    # points of each support were in the one before (kept) out of that one's size (before)
    last = np.zeros(m, dtype=np.bool_)
    n_last = kept = before = 0
    for r in range(chain.size):
        k = chain[r]
        if start == _COLD:
            s = 0
            for a in range(m):
                passive[a] = False
                lw[a] = 0.0
        if m == n:  # every point: rows copied, not gathered
            for a in range(m):
                h[a] = q[k, a]
        else:
            for a in range(m):
                h[a] = q[k, idx[a]]
        for a in range(m):
            banned[a] = False
        work = 0
        if start == _SHRUNK:
            s, work = _shrink(lmat, s, h, order, passive, lw, work_space)
        code, _, s, more = _iterate(
            gmat, ys, h, lw, tol[k], max_iter, lmat, order, passive, banned, s, work_space
        )
        status[k] = code
        worst[k] = _final_worst(work_space, m, lw) if code == OK else np.inf
        if m == n:
            for a in range(m):
                lam[k, a] = lw[a]
        else:
            for a in range(n):
                lam[k, a] = 0.0
            for a in range(m):
                lam[k, idx[a]] = lw[a]
        before += n_last
        n_last = 0
        for a in range(m):
            now = lw[a] > 0.0
            n_last += now
            kept += now & last[a]
            last[a] = now
        work_of[start] += work + more
        n_of[start] += 1
        if code != OK:  # the next sample starts from zero
            start = _COLD
        elif _KEPT_MIN * kept < before:  # supports change: start from zero
            start = _COLD
        elif taken < 2 * _STARTS:  # the first samples take each start in turn, twice
            start = taken % _STARTS
            taken += 1
        else:  # then the one of least work on average (counted: the choice is reproducible)
            start = 0
            for i in range(1, _STARTS):
                if work_of[i] * n_of[start] < work_of[start] * n_of[i]:
                    start = i


@numba.njit(cache=True, nogil=True, parallel=True)
def solve_every_point_chains(
    gram, signs, q, lam, tol, max_iter, cap, members, bounds, status, worst
):
    """Exact duals on every allowed point of samples in chains of one dichotomy, chains in parallel.

    The samples of a chain share their signs (so their dual's matrix ``G``, and its block on the
    allowed points, built once per chain); they differ in the linear term. A sample is solved
    from zero or warm-started from the previous sample's solution, its passive set and the
    Cholesky factor of its block: either Lawson-Hanson's iterations from there (a feasible
    start), or after the points of non-positive solution on that set leave at once
    (:func:`_shrink`). Which pays depends on how the supports of one dichotomy overlap (near
    the capacity floor of few directions the first, of many the second, elsewhere neither). The
    first six samples take each start in turn, and the rest the one of least work on average so
    far (counted multiply-adds, not time: the choice, and so the results, do not depend on the
    machine). While fewer than a quarter of the previous supports' points stay in the next
    (counted over the chain so far), a sample starts from zero and is not counted as a turn: a
    start from the previous support must first remove most of it, one solve per point. On the
    GLUE panel (``benchmarks/glue.py``), per chain: 6-21% of a support stays on the small
    problems of 60 points, where a start from zero takes 0.55-0.65 of the others' work; 26-29%
    near the floor (from zero still least); 39-48% on the trained context-DM population, where
    the warm start takes under a third of the work of one from zero. Each result is the exact
    optimum, met to ``tol``;
    a sample that does not settle in ``max_iter`` outer iterations hands the next a start from
    zero.

    Parameters
    ----------
    gram : ndarray (n_points, n_points)
        Gram matrix of the points (float64).
    signs, q : ndarray (n_samples, n_points)
        ``y`` of each point (0: left out) and the dual's linear term ``y * (X t) - kappa``.
    lam : ndarray (n_samples, n_points)
        Out: the solutions (zero off the allowed points).
    tol : ndarray (n_samples,)
        Tolerance on the dual gradient.
    cap : int
        The points' rank plus one (most points passive at once).
    members, bounds : ndarray of int64
        The samples of chain ``c`` are ``members[bounds[c]:bounds[c + 1]]``, in order.
    status : ndarray of int64 (n_samples,)
        Out: :data:`OK` or :data:`MAX_ITER`.
    worst : ndarray (n_samples,)
        Out: each sample's largest violation of the optimality conditions on every allowed
        point, read from its last gradient (:func:`_final_worst`; infinite where it did not
        settle).
    """
    for c in numba.prange(bounds.size - 1):
        chain = members[bounds[c] : bounds[c + 1]]
        _solve_chain(gram, signs, q, lam, signs.shape[1], tol, max_iter, cap, chain, status, worst)


@numba.njit(cache=True, nogil=True, parallel=True)
def solve_every_point_chains_many(
    grams, offsets, sizes, caps, max_iters, prob, signs, q, lam, tol, members, bounds, status, worst
):
    """:func:`solve_every_point_chains` on the samples of many problems (as
    :func:`solve_every_point_many` takes them; ``lam`` zero on entry), each chain within one
    problem: each sample's result (and its ``worst``) is the one it gets from
    :func:`solve_every_point_chains` on its own problem with the same chains."""
    for c in numba.prange(bounds.size - 1):
        chain = members[bounds[c] : bounds[c + 1]]
        p = prob[chain[0]]
        n = sizes[p]
        gram = grams[offsets[p] : offsets[p] + n * n].reshape((n, n))
        _solve_chain(
            gram,
            signs,
            q,
            lam,
            n,
            tol,
            max_iters[p],
            caps[p],
            chain,
            status,
            worst,
        )


@numba.njit(cache=True, nogil=True, parallel=True)
def solve_every_point_many(
    grams, offsets, sizes, caps, max_iters, prob, signs, q, lam, tol, status
):
    """Exact duals of samples of many problems, each on every allowed point, from zero.

    The samples of one problem are those of :func:`solve_working_sets` with every allowed point
    in the working set; each sample's result is the one it gets there.

    Parameters
    ----------
    grams : ndarray (sum of n_i^2,)
        Gram matrices of the problems' points, row by row, one after the other.
    offsets, sizes, caps, max_iters : ndarray of int64 (n_problems,)
        Where each Gram matrix starts in ``grams``, its number of points ``n_i``, the rank of
        its points plus one, and the most outer iterations of a sample.
    prob : ndarray of int64 (n_samples,)
        The problem of each sample.
    signs, q : ndarray (n_samples, max n_i)
        ``y`` of each point (0: left out, and past ``n_i``) and the dual's linear term.
    lam : ndarray (n_samples, max n_i)
        Out: the solutions (zero off the allowed points).
    tol : ndarray (n_samples,)
        Tolerance on the dual gradient.
    status : ndarray of int64 (n_samples,)
        Out: :data:`OK` or :data:`MAX_ITER`.
    """
    for k in numba.prange(prob.size):
        p = prob[k]
        n = sizes[p]
        gram = grams[offsets[p] : offsets[p] + n * n].reshape((n, n))
        ys = signs[k, :n].copy()
        idx = np.flatnonzero(ys != 0.0)
        m = idx.size
        h = np.empty(m)
        lw = np.zeros(m)
        for a in range(m):
            h[a] = q[k, idx[a]]
        if m == n:  # every point: read the Gram matrix in place
            code, _ = _lawson_hanson(gram, ys, h, lw, tol[k], max_iters[p], caps[p])
        else:
            gmat = _block(gram, gram, True, ys, idx)
            code, _ = _lawson_hanson(gmat, np.ones(m), h, lw, tol[k], max_iters[p], caps[p])
        status[k] = code
        for a in range(signs.shape[1]):
            lam[k, a] = 0.0
        for a in range(m):
            lam[k, idx[a]] = lw[a]
