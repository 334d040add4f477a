"""GLUE's per-problem steps after the solve, for many problems at once.

:func:`neurogeom.geometry.capacity.glue_batch` solves the samples of many small problems in one
call of the compiled kernel; these functions then compute what :func:`neurogeom.geometry.capacity.glue`
computes per problem (anchors, effective geometry, summaries with standard errors), for the
samples of all problems stacked along one axis with the problem of each sample in ``prob``.
Every formula is that of :mod:`neurogeom.geometry.effective` applied to each problem's samples
alone; only the order of floating-point sums may differ (results agree to rounding).
"""

from __future__ import annotations

import contextlib
import threading

import numba
import numpy as np

from neurogeom.geometry import _active_set, _dual, _threads, effective

# samples per chunk of the stacked geometry (bounds the (samples, P, P) temporaries)
_CHUNK = 8192

__all__ = [
    "InTurn",
    "anchors",
    "anchors_many",
    "geometry",
    "in_blocks",
    "solve_and_measure",
    "summarize",
]


class InTurn:
    """Steps of blocks of items taken one at a time, the block starting at item 0 first (``with
    turns(lo, hi): ...``); after it, in whatever order the blocks come. A step that raises still
    lets the others go on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first = threading.Event()

    @contextlib.contextmanager
    def __call__(self, lo: int, hi: int):
        if lo:
            self._first.wait()
        try:
            with self._lock:
                yield
        finally:
            if not lo:
                self._first.set()


def in_blocks(fn, n_items: int, block: int, per_worker: int | None = None) -> list:
    """``[fn(lo, hi) for each block]`` over consecutive blocks of about ``block`` items (at least
    ``block``, except when there are fewer items; on several threads, the first of several
    blocks is a quarter of the others, the last three quarters), in order. Where numba may use
    several threads and there are several blocks, they run in as many worker threads, each of
    whose compiled kernels then runs on one thread: one block's Python steps overlap another's
    compiled ones (numba's kernels release the GIL). With ``per_worker``, blocks grow past
    ``block`` items so that each worker thread gets about that many (a block's fixed steps then
    recur less often). ``fn`` must give each item's result independently of the other items in its block
    (then the results do not depend on the blocks or the threads)."""
    threads = numba.get_num_threads()
    if per_worker is not None:
        block = max(block, n_items // (per_worker * threads))
    n_blocks = max(1, n_items // block)
    edges = np.linspace(0, n_items, n_blocks + 1)
    if n_blocks > 1 and threads > 1:
        # a first block of a quarter, the last of three quarters: where the blocks' Python
        # steps are taken in turn (see glue_batch), the other workers wait for the first
        # block's, a quarter as long, and the worker that took it then takes the last
        edges = np.concatenate([[0.0], edges[:-1] + 0.25 * n_items / n_blocks, [n_items]])
    edges = np.unique(edges.round().astype(int)).tolist()  # no empty block
    spans = list(zip(edges[:-1], edges[1:]))
    workers = min(threads, len(spans))
    if workers <= 1:
        return [fn(lo, hi) for lo, hi in spans]

    def one(span):
        numba.set_num_threads(1)  # this thread's kernels (numba's setting is per thread)
        return fn(*span)

    return _threads.thread_map(one, spans, workers)


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


# the fused per-sample kernel below handles up to this many manifolds (its cyclic Jacobi
# eigensolver is cheap and accurate for small symmetric matrices); more go through numpy
_FUSED_MAX_MANIFOLDS = 16
_JACOBI_SWEEPS = 60


@_active_set._leaf
def _quad_pinv_small(gmat, vec, thr, work, vecs):
    """``vec^T gmat^+ vec`` for one small symmetric PSD matrix, eigenvalues at or below ``thr``
    counting as zero (as :func:`neurogeom.geometry.effective._quad_pinv`), by cyclic Jacobi
    rotations (``work`` and ``vecs`` are scratch of the matrix's shape)."""
    m = gmat.shape[0]
    for i in range(m):
        for j in range(m):
            work[i, j] = gmat[i, j]
            vecs[i, j] = 1.0 if i == j else 0.0
    for _ in range(_JACOBI_SWEEPS):
        off = 0.0
        diag = 0.0
        for i in range(m):
            diag += work[i, i] * work[i, i]
            for j in range(i + 1, m):
                off += work[i, j] * work[i, j]
        if off <= 1e-34 * diag or off == 0.0:
            break
        for p in range(m - 1):
            for q in range(p + 1, m):
                apq = work[p, q]
                if apq == 0.0:
                    continue
                theta = (work[q, q] - work[p, p]) / (2.0 * apq)
                t = 1.0 / (abs(theta) + np.sqrt(theta * theta + 1.0))
                if theta < 0.0:
                    t = -t
                c = 1.0 / np.sqrt(t * t + 1.0)
                sn = t * c
                for r in range(m):  # columns p and q
                    arp = work[r, p]
                    arq = work[r, q]
                    work[r, p] = c * arp - sn * arq
                    work[r, q] = sn * arp + c * arq
                for r in range(m):  # rows p and q
                    apr = work[p, r]
                    aqr = work[q, r]
                    work[p, r] = c * apr - sn * aqr
                    work[q, r] = sn * apr + c * aqr
                work[p, q] = 0.0
                work[q, p] = 0.0
                for r in range(m):
                    vrp = vecs[r, p]
                    vrq = vecs[r, q]
                    vecs[r, p] = c * vrp - sn * vrq
                    vecs[r, q] = sn * vrp + c * vrq
    out = 0.0
    for j in range(m):
        ev = work[j, j]
        if ev > thr:
            proj = 0.0
            for i in range(m):
                proj += vecs[i, j] * vec[i]
            out += proj * proj / ev
    return out


# the Cholesky path of _quad_small: the active block's smallest eigenvalue, bounded below by
# det / trace^(m - 1), at least this fraction of its trace (condition number at most about its
# inverse, so the quadratic form agrees with the eigendecomposition's to ~1e-12 relative)
_CHOLESKY_MIN_SPREAD = 1e-4


@_active_set._leaf
def _quad_small(gmat, vec, thr, act, work, vecs):
    """``vec^T gmat^+ vec`` as :func:`_quad_pinv_small` gives it, for a symmetric PSD
    ``gmat`` that is zero outside the rows and columns ``act``: by a Cholesky factor of the
    active block where that block is certified well conditioned (its eigenvalues are then all
    far above ``thr``, so none is dropped; see :data:`_CHOLESKY_MIN_SPREAD`), else by
    :func:`_quad_pinv_small`."""
    m = gmat.shape[0]
    det = 1.0
    trace = 0.0
    n_act = 0
    for i in range(m):
        if not act[i]:
            continue
        n_act += 1
        trace += gmat[i, i]
        for j in range(i + 1):
            if not act[j]:
                continue
            acc = gmat[i, j]
            for k in range(j):
                if act[k]:
                    acc -= work[i, k] * work[j, k]
            if i == j:
                if not acc > 0.0:
                    return _quad_pinv_small(gmat, vec, thr, work, vecs)
                work[i, i] = np.sqrt(acc)
                det *= acc
            else:
                work[i, j] = acc / work[j, j]
    if n_act == 0:
        return 0.0
    if not det > _CHOLESKY_MIN_SPREAD * trace**n_act:
        return _quad_pinv_small(gmat, vec, thr, work, vecs)
    out = 0.0
    for i in range(m):  # forward substitution L z = vec on the active entries
        if not act[i]:
            continue
        acc = vec[i]
        for k in range(i):
            if act[k]:
                acc -= work[i, k] * vecs[k, 0]
        z = acc / work[i, i]
        vecs[i, 0] = z
        out += z * z
    return out


@_active_set._leaf_reassoc
def _gram_small(anchors_, active, probe, k, cen, dim, s1, g, g1, st, s1t, ca):
    """Sample ``k``'s Gram terms, written into ``g``, ``g1``, ``st``, ``s1t`` and ``ca``:
    ``g = S S^T`` of its anchors ``S`` (zero where inactive), ``g1`` of the active anchors minus
    their centres (``S1``), ``S t``, ``S1 t`` and ``|S1 . c|`` per manifold (``probe``: its
    ``t``; ``s1`` scratch of shape (P, at least dim)). Sums run over the first ``dim``
    coordinates only (the rank of the sample's problem: the rest are zero), so they do not
    depend on other problems' ranks."""
    n_m = anchors_.shape[1]
    s = anchors_[k]
    for p in range(n_m):
        if active[k, p]:
            for d in range(dim):
                s1[p, d] = s[p, d] - cen[p, d]
        else:
            for d in range(dim):
                s1[p, d] = 0.0
    for p in range(n_m):
        acc_t = 0.0
        acc_1t = 0.0
        acc_c = 0.0
        for d in range(dim):
            acc_t += s[p, d] * probe[d]
            acc_1t += s1[p, d] * probe[d]
            acc_c += s1[p, d] * cen[p, d]
        st[p] = acc_t
        s1t[p] = acc_1t
        ca[p] = abs(acc_c)
        for q in range(p + 1):
            acc = 0.0
            acc1 = 0.0
            for d in range(dim):
                acc += s[p, d] * s[q, d]
                acc1 += s1[p, d] * s1[q, d]
            g[p, q] = acc
            g[q, p] = acc
            g1[p, q] = acc1
            g1[q, p] = acc1


# samples per task of the fused kernel (each task allocates its scratch once)
_FUSED_BLOCK = 256


@numba.njit(cache=True, nogil=True, parallel=True, fastmath={"reassoc", "contract"})
def _fused(
    anchors_,
    active,
    probes,
    probe_row,
    prob,
    dims,
    centers,
    cc,
    cc_align,
    c_norm,
    c_ok,
    tiny,
    rcond,
    normalise,
    a,
    b,
    c,
    align,
):
    """Per sample: the anchors' Gram terms (see :func:`_gram_terms`), ``a``, ``b``, ``c`` by
    :func:`_quad_pinv_small` and the three alignment means (``align[k]``: centre, axis,
    centre-axis), each as :func:`geometry`'s numpy path computes them. Samples run in blocks of
    :data:`_FUSED_BLOCK`, each with its own scratch (the results do not depend on the blocks)."""
    n_s, n_m, dim = anchors_.shape
    n_blocks = (n_s + _FUSED_BLOCK - 1) // _FUSED_BLOCK
    for blk in numba.prange(n_blocks):
        s1 = np.empty((n_m, dim))
        g = np.empty((n_m, n_m))
        g1 = np.empty((n_m, n_m))
        gc = np.empty((n_m, n_m))
        work = np.empty((n_m, n_m))
        vecs = np.empty((n_m, n_m))
        st = np.empty(n_m)
        s1t = np.empty(n_m)
        ca = np.empty(n_m)
        n1 = np.empty(n_m)
        ax_ok = np.empty(n_m, dtype=np.bool_)
        for k in range(blk * _FUSED_BLOCK, min(n_s, (blk + 1) * _FUSED_BLOCK)):
            pk = prob[k]
            cen = centers[pk]
            _gram_small(
                anchors_, active, probes[probe_row[k]], k, cen, dims[pk], s1, g, g1, st, s1t, ca
            )
            scale = -np.inf
            for p in range(n_m):
                scale = max(scale, g[p, p])
            thr = rcond * max(scale, 1e-300)
            for p in range(n_m):
                for q in range(n_m):
                    both = active[k, p] and active[k, q]
                    gc[p, q] = g1[p, q] + (cc[pk, p, q] if both else 0.0)
            act = active[k]
            a[k] = _quad_small(g, st, thr, act, work, vecs)
            b[k] = _quad_small(g1, s1t, thr, act, work, vecs)
            c[k] = _quad_small(gc, s1t, thr, act, work, vecs)
            for p in range(n_m):
                n1[p] = np.sqrt(max(g1[p, p], 0.0))
                ax_ok[p] = n1[p] > tiny[pk]
            tot_c, cnt_c, tot_a, cnt_a, tot_ca, cnt_ca = 0.0, 0, 0.0, 0, 0.0, 0
            for p in range(n_m):
                if not active[k, p]:
                    continue
                for q in range(n_m):
                    if q == p or not active[k, q]:
                        continue
                    val = cc_align[pk, p, q]
                    if np.isfinite(val):
                        tot_c += val
                        cnt_c += 1
                    if ax_ok[p] and ax_ok[q]:
                        val = abs(g1[p, q])
                        if normalise:
                            den = n1[p] * n1[q]
                            val = val / den if den > 0 else np.nan
                    elif normalise:
                        val = np.nan
                    else:
                        val = 0.0
                    if np.isfinite(val):
                        tot_a += val
                        cnt_a += 1
                if ax_ok[p] and c_ok[pk, p]:
                    val = ca[p] / (n1[p] * c_norm[pk, p]) if normalise else ca[p]
                elif normalise:
                    val = np.nan
                else:
                    val = 0.0
                if np.isfinite(val):
                    tot_ca += val
                    cnt_ca += 1
            align[k, 0] = tot_c / cnt_c if cnt_c > 0 else np.nan
            align[k, 1] = tot_a / cnt_a if cnt_a > 0 else np.nan
            align[k, 2] = tot_ca / cnt_ca if cnt_ca > 0 else np.nan


@numba.njit(cache=True, nogil=True, parallel=True)
def _gram_terms(anchors_, active, probes, prob, centers, dims, g, g1, st, s1t, ca):
    """Per sample, with ``s`` the anchors (zero where inactive) and ``s1 = s - active * c``
    (``c`` the anchor centres of the sample's problem): ``g = s s^T``, ``g1 = s1 s1^T``,
    ``st = s t``, ``s1t = s1 t`` and ``ca = |s1_mu . c_mu|`` (written into the outputs; see
    :func:`_gram_small`)."""
    n_s, n_m, dim = anchors_.shape
    for k in numba.prange(n_s):
        pk = prob[k]
        s1 = np.empty((n_m, dim))
        _gram_small(
            anchors_,
            active,
            probes[k],
            k,
            centers[pk],
            dims[pk],
            s1,
            g[k],
            g1[k],
            st[k],
            s1t[k],
            ca[k],
        )


@numba.njit(cache=True, nogil=True, parallel=True)
def _anchors_kernel(
    factors,
    f_offsets,
    sizes,
    ranks,
    codes,
    c_offsets,
    prob,
    signs,
    lam,
    rows,
    f_vals,
    out,
    totals,
    active,
):
    """Per sample of ``rows``: ``F``, the totals, the anchors and the active mask (see
    :func:`neurogeom.geometry._dual.measure_sample`, which writes each row of ``totals`` and
    ``out`` whole)."""
    for i_row in numba.prange(rows.size):
        k = rows[i_row]
        p = prob[k]
        n = sizes[p]
        r = ranks[p]
        f = factors[f_offsets[p] : f_offsets[p] + n * r].reshape((n, r))
        codes_p = codes[c_offsets[p] : c_offsets[p] + n]
        y = _manifold_signs(signs[k, :n], codes_p, out.shape[1])
        sup = np.empty(n, dtype=np.int64)
        disp = np.empty(r)
        _dual.measure_sample(k, f, codes_p, y, lam, sup, disp, f_vals, out, totals, active)


@numba.njit(cache=True, nogil=True)
def _manifold_signs(signs, codes, n_manifolds):
    """A dichotomy's sign per manifold, from its sign per point (``signs``; zero: a point left
    out, as are the manifolds with no point allowed)."""
    y = np.zeros(n_manifolds)
    for j in range(signs.size):
        if signs[j] != 0.0:
            y[codes[j]] = signs[j]
    return y


@numba.njit(cache=True, nogil=True, parallel=True)
def _solve_measure(
    grams,
    g_offsets,
    factors,
    f_offsets,
    sizes,
    ranks,
    codes,
    c_offsets,
    prob,
    signs,
    q,
    tol,
    members,
    bounds,
    lam,
    status,
    worst,
    f_vals,
    out,
    totals,
    active,
):
    """Per chain (see :func:`neurogeom.geometry._active_set.solve_every_point_chains_many`): its
    samples' exact duals with their ``worst`` violation of the optimality conditions on every
    allowed point (see :func:`neurogeom.geometry._active_set._final_worst`), then per sample
    ``F``, totals, anchors and active mask (:func:`neurogeom.geometry._dual.measure_sample`, on
    the chain's dichotomy) while they are at hand."""
    for c in numba.prange(bounds.size - 1):
        chain = members[bounds[c] : bounds[c + 1]]
        p = prob[chain[0]]
        n = sizes[p]
        r = ranks[p]
        gram = grams[g_offsets[p] : g_offsets[p] + n * n].reshape((n, n))
        _active_set._solve_chain(
            gram,
            signs,
            q,
            lam,
            n,
            tol,
            20 * n + 100,
            r + 1,
            chain,
            status,
            worst,
        )
        f = factors[f_offsets[p] : f_offsets[p] + n * r].reshape((n, r))
        codes_p = codes[c_offsets[p] : c_offsets[p] + n]
        y = _manifold_signs(signs[chain[0], :n], codes_p, out.shape[1])  # the chain's dichotomy
        sup = np.empty(n, dtype=np.int64)
        disp = np.empty(r)
        for k in chain:
            _dual.measure_sample(k, f, codes_p, y, lam, sup, disp, f_vals, out, totals, active)


def solve_and_measure(st, codes, n_manifolds: int, scratch: _threads.Scratch = _threads.FRESH):
    """:func:`neurogeom.geometry._dual.solve_stacked` on stacked samples (a
    :class:`neurogeom.geometry._dual.Stacked`) with ``F`` and the anchors of each solved sample
    computed as it is solved (as :func:`anchors_many` gives them; ``codes``: the problems'
    points' manifolds one after the other); samples that are not solved keep duals, F and
    anchors of zero. Returns the duals, each problem's statistics, F, the anchors (samples, P,
    most ranks) and the active mask. ``scratch``: where the duals and anchors are kept (see
    :class:`neurogeom.geometry._threads.Scratch`; they are then valid until its next use)."""
    n_all, n_max = st.signs.shape
    codes = np.asarray(codes, dtype=np.int64)
    c_offsets = np.zeros(st.sizes.size, dtype=np.int64)
    c_offsets[1:] = np.cumsum(st.sizes)[:-1]
    # every row solved (the common case): the kernel writes each row whole, so the arrays need
    # no zeroing first (a pass over megabytes that holds the GIL)
    zero = st.solve is not None
    lam = scratch.array("duals", (n_all, n_max), zero or not (st.sizes == n_max).all())
    status = np.zeros(n_all, dtype=np.int64)
    worst = np.zeros(n_all)
    f_vals = np.zeros(n_all)
    out = scratch.array("anchors", (n_all, n_manifolds, int(st.ranks.max(initial=0))), zero)
    totals = (np.zeros if zero else np.empty)((n_all, n_manifolds))
    active = np.zeros((n_all, n_manifolds), dtype=bool)
    if st.solved().size:
        members, bounds = st.chains()
        previous = numba.set_parallel_chunksize(1)
        try:
            with _dual.one_blas_thread():
                _solve_measure(
                    st.grams,
                    st.g_offsets,
                    st.factors,
                    st.f_offsets,
                    st.sizes,
                    st.ranks,
                    codes,
                    c_offsets,
                    st.prob,
                    st.signs,
                    st.q,
                    st.tol,
                    members,
                    bounds,
                    lam,
                    status,
                    worst,
                    f_vals,
                    out,
                    totals,
                    active,
                )
        finally:
            numba.set_parallel_chunksize(previous)
    stats, redone = _dual.settle_stacked(st, lam, status, worst)
    if redone:  # duals rewritten by the verification: their F and anchors again
        rows = np.concatenate([st.rows(i) for i in redone])
        _anchors_kernel(
            st.factors,
            st.f_offsets,
            st.sizes,
            st.ranks,
            codes,
            c_offsets,
            st.prob,
            st.signs,
            lam,
            rows,
            f_vals,
            out,
            totals,
            active,
        )
    return lam, stats, f_vals, out, active


def anchors_many(factors, f_offsets, sizes, ranks, codes, prob, signs, lam, n_manifolds: int):
    """:func:`anchors` and ``F`` of many problems' stacked samples in one compiled pass.

    Problem ``i`` has ``sizes[i]`` points of rank ``ranks[i]``, its factor (row by row) at
    ``factors[f_offsets[i]:]`` and its points' manifold codes next in ``codes`` (the problems'
    codes one after the other); ``prob``, ``signs`` and ``lam`` (samples, most points) are the
    samples' problems, signs and duals. Returns F, anchors (samples, P, most r_i; zero where
    inactive and past r_i), totals and the active mask, as :func:`anchors` gives them per
    problem."""
    c_offsets = np.zeros(sizes.size, dtype=np.int64)
    c_offsets[1:] = np.cumsum(sizes)[:-1]
    n_all = prob.size
    f_vals = np.empty(n_all)
    out = np.empty((n_all, n_manifolds, int(ranks.max(initial=0))))
    totals = np.empty((n_all, n_manifolds))
    active = np.zeros((n_all, n_manifolds), dtype=bool)
    if n_all:
        _anchors_kernel(
            factors,
            f_offsets,
            sizes,
            ranks,
            np.asarray(codes, dtype=np.int64),
            c_offsets,
            np.asarray(prob, dtype=np.int64),
            signs,
            lam,
            np.arange(n_all),
            f_vals,
            out,
            totals,
            active,
        )
    return f_vals, out, totals, active


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _center_sums(anchors_, active, prob, dims, total, count, peak):
    """Per problem (samples in order): the sums of its samples' active anchors (``total``),
    their numbers (``count``) and the largest squared norm of an active anchor (``peak``),
    accumulated into the zeroed outputs in one pass (over the first ``dims[p]`` coordinates of
    problem ``p``'s anchors: the rest are zero)."""
    n_s, n_m, _ = anchors_.shape
    for k in range(n_s):
        p = prob[k]
        for m in range(n_m):
            if not active[k, m]:
                continue
            count[p, m, 0] += 1.0
            nrm = 0.0
            for d in range(dims[p]):
                v = anchors_[k, m, d]
                total[p, m, d] += v
                nrm += v * v
            if nrm > peak[p]:
                peak[p] = nrm
    return total


@numba.njit(cache=True, nogil=True)
def _center_products(centers, dims, cc):
    """``cc[i] = centers[i] @ centers[i].T`` over the first ``dims[i]`` coordinates (the rest are
    zero), each problem's sums in one order whatever the other problems."""
    n_prob, n_m, _ = centers.shape
    for i in range(n_prob):
        for p in range(n_m):
            for q in range(p + 1):
                acc = 0.0
                for d in range(dims[i]):
                    acc += centers[i, p, d] * centers[i, q, d]
                cc[i, p, q] = acc
                cc[i, q, p] = acc


def geometry(
    anchors_, active, probes, probe_row, prob, n_prob, n_geo, dims, anchor_center, normalise
):
    """Per-sample a, b, c and alignments of stacked samples, each problem with its own anchor
    centres (:func:`neurogeom.geometry.effective.anchor_centers` and
    :func:`neurogeom.geometry.effective.anchor_geometry` on that problem's samples).

    Parameters
    ----------
    anchors_ : ndarray (n_samples, P, dim)
        Anchors (zero-padded past each problem's rank).
    active : ndarray of bool (n_samples, P)
    probes : ndarray (n_probes, dim)
    probe_row : ndarray of int (n_samples,)
        Sample ``k``'s probe is ``probes[probe_row[k]]``.
    prob : ndarray of int (n_samples,)
        The problem of each sample (0..n_prob-1).
    n_geo : ndarray (n_prob,)
        Samples per problem (the divisor of ``anchor_center="all"``).
    dims : ndarray of int (n_prob,)
        Each problem's rank: its anchors' and probes' coordinates past it are zero, and are left
        out of every sum (a problem's numbers do not depend on the others' ranks).

    Returns
    -------
    a, b, c : ndarray (n_samples,)
    align : ndarray (n_samples, 3)
        Each sample's mean centre, axis and centre-axis alignment (NaN where it has none).
    """
    n_s, n_m, dim = anchors_.shape
    anchors_ = np.ascontiguousarray(anchors_)
    active = np.ascontiguousarray(active)
    prob = np.ascontiguousarray(prob, dtype=np.int64)
    dims = np.ascontiguousarray(dims, dtype=np.int64)
    total = np.zeros((n_prob, n_m, dim))
    count = np.zeros((n_prob, n_m, 1))
    peak = np.zeros(n_prob)
    _center_sums(anchors_, active, prob, dims, total, count, peak)
    if anchor_center == "all":
        centers = total / n_geo[:, None, None]
    else:
        centers = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    tiny = 1e-9 * np.sqrt(peak)
    cc = np.empty((n_prob, n_m, n_m))
    _center_products(centers, dims, cc)
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
    probe_row = np.ascontiguousarray(probe_row, dtype=np.int64)
    samples = (anchors_, active, probes, probe_row, prob, dims)
    centres = (centers, cc, cc_align, c_norm, c_ok, tiny)
    if n_m <= _FUSED_MAX_MANIFOLDS:
        return _geometry_fused(samples, centres, normalise)
    return _geometry_chunked(samples, centres, normalise)


def _geometry_fused(samples, centres, normalise):
    """The anchor geometry of every sample in one compiled pass (up to ``_FUSED_MAX_MANIFOLDS``
    manifolds). ``samples``: anchors, active mask, probes, probe rows, problems and ranks;
    ``centres``: each problem's anchor centres, their products (as they are and for the
    alignments), norms, which are nonzero, and the tolerance (see :func:`geometry`)."""
    anchors_, active, probes, probe_row, prob, dims = samples
    centers, cc, cc_align, c_norm, c_ok, tiny = centres
    n_s = anchors_.shape[0]
    a = np.empty(n_s)
    b = np.empty(n_s)
    c = np.empty(n_s)
    out = np.empty((n_s, 3))
    _fused(
        np.ascontiguousarray(anchors_),
        np.ascontiguousarray(active),
        np.ascontiguousarray(probes),
        probe_row,
        np.ascontiguousarray(prob, dtype=np.int64),
        dims,
        centers,
        cc,
        cc_align,
        c_norm,
        c_ok,
        tiny,
        effective._PINV_RCOND,
        normalise,
        a,
        b,
        c,
        out,
    )
    return a, b, c, out


def _geometry_chunked(samples, centres, normalise):
    """The anchor geometry of the samples in chunks, with numpy (any number of manifolds;
    arguments as :func:`_geometry_fused`)."""
    anchors_, active, probes, probe_row, prob, dims = samples
    centers, cc, cc_align, c_norm, c_ok, tiny = centres
    n_s, n_m, _ = anchors_.shape
    off = ~np.eye(n_m, dtype=bool)
    a = np.empty(n_s)
    b = np.empty(n_s)
    c = np.empty(n_s)
    align = np.full((n_s, 3), np.nan)
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
        _gram_terms(anchors_[sl], act, probes[probe_row[sl]], pk, centers, dims, g, g1, st, s1t, ca)
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
        for j, (vals, ok) in enumerate(((cc_align[pk], pair), (ax, pair), (ca, act))):
            ok = ok & np.isfinite(vals)
            axes = tuple(range(1, ok.ndim))
            cnt = ok.sum(axis=axes)
            tot = np.where(ok, vals, 0.0).sum(axis=axes)
            align[sl, j] = np.divide(tot, cnt, out=np.full(tot.shape, np.nan), where=cnt > 0)
    return a, b, c, align


# summaries per problem (see summarize): columns of the kernel's output, in this order
_SUMMARY_NAMES = (
    "dimension",
    "radius",
    "utility",
    "center_alignment",
    "axis_alignment",
    "center_axis_alignment",
)


@numba.njit(cache=True, nogil=True)
def _summaries(n_manifolds, a, b, c, align, prob, n_prob, out):
    """:func:`summarize`'s numbers in two compiled passes over the samples (each problem's sums
    in sample order): ``out[i, j]`` is (value, standard error) of ``_SUMMARY_NAMES[j]`` for
    problem ``i``. Means and standard errors of a, b, c and the alignments (``align``: samples x
    3) are over their finite entries; covariances (ddof 1, 0 for one sample) over all samples."""
    n = np.zeros(n_prob)
    cnt = np.zeros((n_prob, 6))  # finite entries of a, b, c and the three alignments
    tot = np.zeros((n_prob, 6))
    tot_v = np.zeros(n_prob)
    for k in range(prob.size):
        i = prob[k]
        n[i] += 1.0
        for j in range(6):
            x = a[k] if j == 0 else b[k] if j == 1 else c[k] if j == 2 else align[k, j - 3]
            if np.isfinite(x):
                cnt[i, j] += 1.0
                tot[i, j] += x
        tot_v[i] += b[k] - c[k]
    mean = np.full((n_prob, 6), np.nan)
    for i in range(n_prob):
        for j in range(6):
            if cnt[i, j] > 0:
                mean[i, j] = tot[i, j] / cnt[i, j]
    ss = np.zeros((n_prob, 6))
    # covariances of u = c and v = b - c, and of c and a
    s_uu = np.zeros(n_prob)
    s_vv = np.zeros(n_prob)
    s_uv = np.zeros(n_prob)
    s_aa = np.zeros(n_prob)
    s_ca = np.zeros(n_prob)
    for k in range(prob.size):
        i = prob[k]
        for j in range(6):
            x = a[k] if j == 0 else b[k] if j == 1 else c[k] if j == 2 else align[k, j - 3]
            if np.isfinite(x):
                d = x - mean[i, j]
                ss[i, j] += d * d
        mv = tot_v[i] / n[i]
        du = c[k] - mean[i, 2]
        dv = (b[k] - c[k]) - mv
        da = a[k] - mean[i, 0]
        s_uu[i] += du * du
        s_vv[i] += dv * dv
        s_uv[i] += du * dv
        s_aa[i] += da * da
        s_ca[i] += du * da
    p = float(n_manifolds)
    for i in range(n_prob):
        sem = np.full(6, np.nan)
        for j in range(6):
            if cnt[i, j] >= 2:
                sem[j] = np.sqrt(ss[i, j] / (cnt[i, j] - 1.0)) / np.sqrt(cnt[i, j])
        ma, mb, mc = mean[i, 0], mean[i, 1], mean[i, 2]
        out[i, 0, 0] = mb / p
        out[i, 0, 1] = sem[1] / p
        ni = n[i]
        dof = ni - 1.0
        var_u = s_uu[i] / dof if ni > 1 else 0.0
        var_v = s_vv[i] / dof if ni > 1 else 0.0
        cov_uv = s_uv[i] / dof if ni > 1 else 0.0
        var_a = s_aa[i] / dof if ni > 1 else 0.0
        cov_ca = s_ca[i] / dof if ni > 1 else 0.0
        mu, mv = mc, tot_v[i] / ni
        if mu <= 0 or mv <= 0:
            out[i, 1, 0] = 0.0
            out[i, 1, 1] = 0.0
        else:
            var_r2 = (var_u / mv**2 + mu**2 * var_v / mv**4 - 2 * mu * cov_uv / mv**3) / ni
            r = np.sqrt(mu / mv)
            out[i, 1, 0] = r
            out[i, 1, 1] = np.sqrt(max(var_r2, 0.0)) / (2 * r)
        if ma > 0:
            var = (var_u / ma**2 + mc**2 * var_a / ma**4 - 2 * mc * cov_ca / ma**3) / ni
            out[i, 2, 0] = mc / ma
            out[i, 2, 1] = np.sqrt(max(var, 0.0))
        else:
            out[i, 2, 0] = np.nan
            out[i, 2, 1] = np.nan
        for j in range(3):
            out[i, 3 + j, 0] = mean[i, 3 + j]
            out[i, 3 + j, 1] = sem[3 + j]


def summarize(n_manifolds, a, b, c, align, prob, n_prob):
    """:func:`neurogeom.geometry.effective.summarize` for every problem (samples stacked, all
    finite in a, b, c; ``align``: the centre, axis and centre-axis alignments, samples x 3);
    dict name -> (values, standard errors), arrays of shape (n_prob,)."""
    out = np.empty((n_prob, len(_SUMMARY_NAMES), 2))
    _summaries(
        n_manifolds,
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(align, dtype=np.float64),
        np.ascontiguousarray(prob, dtype=np.int64),
        n_prob,
        out,
    )
    return {name: (out[:, j, 0], out[:, j, 1]) for j, name in enumerate(_SUMMARY_NAMES)}
