"""The exact finish of the GLUE dual: compiled working-set Lawson-Hanson against scipy's NNLS."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from neurogeom.geometry import _dual


def _structured(rng, n_manifolds=12, m=20, dim=3, n_features=80):
    """Manifolds in low-dimensional affine subspaces: many points share a span (dependent)."""
    x = []
    for _ in range(n_manifolds):
        basis = rng.standard_normal((dim, n_features))
        x.append(rng.standard_normal(n_features) + rng.standard_normal((m, dim)) @ basis)
    return np.vstack(x), np.repeat(np.arange(n_manifolds), m)


def _reference(factor, signs, probes):
    out = np.zeros(signs.shape)
    for k in range(signs.shape[0]):
        keep = signs[k] != 0
        a = signs[k, keep, None] * factor[keep]
        out[k, keep] = nnls(a.T, -probes[k], maxiter=50 * a.shape[0])[0]
    return out


def _objective(factor, signs, probes, lam):
    return np.sum(((signs * lam) @ factor + probes) ** 2, axis=1)


@pytest.mark.parametrize("warm", ["zeros", "random", "dense", "fista"])
@pytest.mark.parametrize("keep_gram", [True, False])
def test_finish_is_exact_from_any_warm_start(warm, keep_gram):
    rng = np.random.default_rng(0)
    x, lab = _structured(rng)
    red = _dual.reduce_points(x)
    n_s = 30
    signs = rng.choice([-1.0, 1.0], size=(n_s, 12))[:, lab]
    probes = rng.standard_normal((n_s, red.rank))
    start = {
        "zeros": np.zeros(signs.shape),
        "random": rng.exponential(size=signs.shape) * (rng.random(signs.shape) < 0.3),
        "dense": np.ones(signs.shape),  # every point passive: far more than the span allows
        "fista": _dual.fista(red.factor, signs, probes, 0.0, max_iter=15)[0],
    }[warm]
    gram = red.gram if keep_gram else None
    assert (red.gram is not None) and np.allclose(red.gram, x @ x.T)
    lam, stats = _dual.finish(red.factor, signs, probes, start, 0.0, gram=gram)
    ref = _reference(red.factor, signs, probes)
    assert stats["nnls"] == 0 and stats["unresolved"] == 0
    assert (lam >= 0).all()
    np.testing.assert_allclose(
        _objective(red.factor, signs, probes, lam),
        _objective(red.factor, signs, probes, ref),
        rtol=1e-10,
    )
    # the anchors' displacement (the primal solution) is unique even where duals are not
    np.testing.assert_allclose(
        (signs * lam) @ red.factor, (signs * ref) @ red.factor, atol=1e-8 * np.abs(probes).max()
    )


def test_finish_with_margin_and_left_out_points():
    rng = np.random.default_rng(1)
    q = np.linalg.qr(rng.standard_normal((60, 24)))[0].T  # orthonormal points: separable
    red = _dual.reduce_points(q)
    signs = rng.choice([-1.0, 1.0], size=(25, 24))
    signs[:, :4] = 0.0  # points left out of every sample
    probes = rng.standard_normal((25, red.rank))
    lam, stats = _dual.finish(red.factor, signs, probes, np.zeros(signs.shape), 0.7)
    ref = _dual.solve_reference(red.factor[4:], signs[:, 4:], probes, kappa=0.7)
    assert stats["unresolved"] == 0
    assert (lam[:, :4] == 0).all()
    np.testing.assert_allclose(lam[:, 4:], ref, atol=1e-9)


def test_duplicate_points_do_not_break_the_finish():
    rng = np.random.default_rng(2)
    x, lab = _structured(rng, n_manifolds=6, m=10)
    x, lab = np.vstack([x, x, x[:7]]), np.r_[lab, lab, lab[:7]]
    red = _dual.reduce_points(x)
    signs = rng.choice([-1.0, 1.0], size=(20, 6))[:, lab]
    probes = rng.standard_normal((20, red.rank))
    lam, stats = _dual.finish(red.factor, signs, probes, np.ones(signs.shape), 0.0)
    ref = _reference(red.factor, signs, probes)
    assert stats["nnls"] == 0
    np.testing.assert_allclose(
        _objective(red.factor, signs, probes, lam),
        _objective(red.factor, signs, probes, ref),
        rtol=1e-10,
    )


def test_concurrent_calls_from_threads_agree_with_serial():
    """The compiled finish may be entered from several threads at once (threaded schedulers)."""
    from concurrent.futures import ThreadPoolExecutor

    from neurogeom.geometry.capacity import glue

    rng = np.random.default_rng(3)
    x, lab = _structured(rng, n_manifolds=8, m=15)
    serial = [float(glue(x, lab, n_t=60, seed=s).capacity) for s in range(4)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda s: float(glue(x, lab, n_t=60, seed=s).capacity), range(4)))
    assert threaded == serial


def test_large_support_warm_start_with_a_few_wrong_points():
    """Supports of hundreds of points: the few wrong warm-start points leave by downdates."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((900, 900))
    lab = np.repeat(np.arange(30), 30)
    red = _dual.reduce_points(x)
    signs = rng.choice([-1.0, 1.0], size=(3, 30))[:, lab]
    probes = rng.standard_normal((3, red.rank))
    ref = _reference(red.factor, signs, probes)
    assert (ref > 0).sum(axis=1).min() > 400
    start = ref.copy()
    for k in range(3):  # a point that does not belong, with a small weight
        wrong = rng.choice(np.flatnonzero(ref[k] == 0), 1, replace=False)
        start[k, wrong] = 1e-3 * ref[k].max()
    lam, stats = _dual.finish(red.factor, signs, probes, start, 0.0, gram=red.gram)
    assert stats["nnls"] == 0 and stats["unresolved"] == 0
    np.testing.assert_allclose(
        _objective(red.factor, signs, probes, lam),
        _objective(red.factor, signs, probes, ref),
        rtol=1e-10,
    )
    np.testing.assert_allclose(lam, ref, atol=1e-8 * ref.max())


@pytest.mark.parametrize("kappa", [0.0, 0.3])
def test_direct_path_and_fista_path_agree_with_nnls(kappa):
    """The active-set method on every point from zero (small ranks) and FISTA with the finish
    give the same exact duals; with a margin, points left out (sign 0) stay at zero."""
    rng = np.random.default_rng(11)
    x, lab = _structured(rng)
    red = _dual.reduce_points(x)
    assert _dual.direct_is_cheaper(*red.factor.shape, red.gram)
    signs = rng.choice([-1.0, 1.0], size=(25, 12))[:, lab]
    if kappa:
        signs[:, :7] = 0.0
    probes = rng.standard_normal((25, red.rank))
    direct, s_direct = _dual.solve_batch(
        red.factor, signs, probes, kappa, gram=red.gram, method="direct"
    )
    fista, _ = _dual.solve_batch(red.factor, signs, probes, kappa, gram=red.gram, method="fista")
    assert s_direct["fista_iterations"] == 0 and s_direct["unresolved"] == 0
    assert np.all(direct[signs == 0] == 0.0)
    f_direct = np.sum(((signs * direct) @ red.factor) ** 2, axis=1)
    f_fista = np.sum(((signs * fista) @ red.factor) ** 2, axis=1)
    np.testing.assert_allclose(f_direct, f_fista, rtol=1e-8)
    if kappa == 0.0:
        ref = _reference(red.factor, signs, probes)
        np.testing.assert_allclose(
            _objective(red.factor, signs, probes, direct),
            _objective(red.factor, signs, probes, ref),
            rtol=1e-8,
            atol=1e-10,
        )


def test_fista_in_chunks_is_fista_per_fixed_chunk(monkeypatch):
    """Chunks of equal size (at most _FISTA_CHUNK), each run on its own: the result does not
    depend on how many threads ran them."""
    monkeypatch.setattr(_dual, "_FISTA_CHUNK", 64)
    rng = np.random.default_rng(5)
    x, lab = _structured(rng)
    red = _dual.reduce_points(x)
    signs = rng.choice([-1.0, 1.0], size=(150, 12))[:, lab]
    probes = rng.standard_normal((150, red.rank))
    lam, n_iter = _dual.fista_in_chunks(red.factor, signs, probes, 0.0, max_iter=40)
    step = 1.0 / _dual.spectral_norm_sq(red.factor)
    with _dual.one_blas_thread():  # as each chunk runs: float32 BLAS sums depend on threads
        parts = [
            _dual.fista(
                red.factor, signs[a : a + 50], probes[a : a + 50], 0.0, max_iter=40, step=step
            )
            for a in (0, 50, 100)
        ]
    np.testing.assert_array_equal(lam, np.vstack([p[0] for p in parts]))
    assert n_iter == max(p[1] for p in parts)


def test_dual_gradient_in_row_chunks_equals_one_product(monkeypatch):
    monkeypatch.setattr(_dual, "_FISTA_CHUNK", 32)
    rng = np.random.default_rng(6)
    factor = rng.standard_normal((1000, 300))
    signs = rng.choice([-1.0, 1.0], size=(70, 1000))
    probes = rng.standard_normal((70, 300))
    lam = np.maximum(rng.standard_normal((70, 1000)), 0.0)
    assert 70 * 1000 * 300 >= _dual._CHUNKED_MIN_WORK
    expected = signs * (((signs * lam) @ factor + probes) @ factor.T) - 0.2
    np.testing.assert_allclose(
        _dual.dual_gradient(factor, signs, probes, lam, 0.2), expected, rtol=1e-10, atol=1e-9
    )


def test_direct_path_on_wide_supports_matches_nnls():
    """Two manifolds of many points in a small span (supports of most of the rank): the blocks
    of added points that do not all enter are taken back in part, and the result is exact."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((300, 40)) + 0.3
    lab = np.repeat([0, 1], 150)
    red = _dual.reduce_points(x)
    signs = rng.choice([-1.0, 1.0], size=(30, 2))[:, lab]
    probes = rng.standard_normal((30, red.rank))
    lam, stats = _dual.solve_batch(red.factor, signs, probes, gram=red.gram, method="direct")
    assert stats["nnls"] == 0 and stats["unresolved"] == 0
    ref = _reference(red.factor, signs, probes)
    assert (ref > 0).sum(axis=1).mean() > 20
    np.testing.assert_allclose(
        _objective(red.factor, signs, probes, lam),
        _objective(red.factor, signs, probes, ref),
        rtol=1e-9,
        atol=1e-12,
    )


def test_samples_the_warm_started_finish_leaves_are_solved_from_zero_on_every_point():
    """One round of working-set growth from a poor warm start leaves violators outside the
    working sets: those samples are solved again on every point, exactly, without NNLS."""
    rng = np.random.default_rng(9)
    x, lab = _structured(rng)
    red = _dual.reduce_points(x)
    signs = rng.choice([-1.0, 1.0], size=(20, 12))[:, lab]
    probes = rng.standard_normal((20, red.rank))
    start = np.zeros(signs.shape)
    start[:, :3] = 1.0  # three points, nowhere near the support
    lam, stats = _dual.finish(red.factor, signs, probes, start, 0.0, gram=red.gram, max_rounds=1)
    assert stats["nnls"] == 0 and stats["unresolved"] == 0 and stats["support_solve"] == 20
    ref = _reference(red.factor, signs, probes)
    np.testing.assert_allclose(
        _objective(red.factor, signs, probes, lam),
        _objective(red.factor, signs, probes, ref),
        rtol=1e-9,
    )


def test_bounded_working_sets_without_gram_give_the_same_glue(monkeypatch):
    """Past the block limit (no Gram matrix kept), working sets grow by the most violated points
    only and the retry never builds an every-point block: the capacity is unchanged."""
    from neurogeom.geometry import glue

    rng = np.random.default_rng(1)
    centres = rng.standard_normal((10, 60))
    x = (centres[:, None, :] + 0.6 * rng.standard_normal((10, 500, 60))).reshape(5000, 60)
    labels = np.repeat(np.arange(10), 500)
    free = glue(x, labels, n_t=40, seed=0)
    monkeypatch.setattr(_dual, "_BLOCK_MAX_BYTES", 8 * 100 * 100)
    monkeypatch.setattr(_dual, "_GROW_MAX_POINTS", 64)
    bounded = glue(x, labels, n_t=40, seed=0)
    assert float(bounded.capacity) == pytest.approx(float(free.capacity), rel=1e-9)
    np.testing.assert_allclose(bounded.F.values, free.F.values, rtol=1e-9)


def test_most_violated_keeps_the_k_most_negative_per_row():
    viol = np.array([[True, True, False, True], [False, True, False, False]])
    grad = np.array([[-3.0, -1.0, -9.0, -2.0], [0.0, -5.0, 0.0, 0.0]])
    kept = _dual._most_violated(viol, grad, 2)
    np.testing.assert_array_equal(kept, [[True, False, False, True], [False, True, False, False]])


@pytest.mark.parametrize("support_cost", ["small", "large"])
def test_large_rank_pilot_chooses_a_route_and_every_sample_is_exact(monkeypatch, support_cost):
    """Past the direct path's rank, the first samples are solved on every point and their
    support chooses the route of the others (cost model forced both ways); either way every
    sample gets the exact dual, as FISTA with the finish gives it."""
    monkeypatch.setattr(_dual, "_DIRECT_MAX_RANK", 40)
    monkeypatch.setattr(_dual, "_DIRECT_COST", 0.0 if support_cost == "small" else 1.0)
    rng = np.random.default_rng(12)
    x, lab = _structured(rng, dim=5)
    red = _dual.reduce_points(x)
    assert red.rank > 40 and not _dual.direct_is_cheaper(*red.factor.shape, red.gram)
    signs = rng.choice([-1.0, 1.0], size=(15, 12))[:, lab]
    probes = rng.standard_normal((15, red.rank))
    lam, stats = _dual.solve_batch(red.factor, signs, probes, gram=red.gram)
    assert (stats["fista_iterations"] == 0) == (support_cost == "small")
    assert stats["support_solve"] == 15 and stats["nnls"] == 0 and stats["unresolved"] == 0
    fista, _ = _dual.solve_batch(red.factor, signs, probes, gram=red.gram, method="fista")
    np.testing.assert_allclose(
        _objective(red.factor, signs, probes, lam),
        _objective(red.factor, signs, probes, fista),
        rtol=1e-9,
    )
    # the optimal direction is unique (the duals need not be: points share spans)
    np.testing.assert_allclose(
        (signs * lam) @ red.factor, (signs * fista) @ red.factor, rtol=1e-8, atol=1e-9
    )


def test_kkt_worst_violation_per_sample():
    grad = np.array([[0.5, -0.2, 3e-3, 7.0], [-1e-3, 2.0, np.nan, 0.0], [1.0, 2.0, 3.0, 4.0]])
    lam = np.array([[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    allowed = np.array([[True, True, True, False], [True, True, True, True], [True] * 4])
    # row 0: -grad where lam = 0 (0.2), |grad| where lam > 0 (3e-3), point 3 not allowed
    # row 1: a gradient that is not finite fails; row 2: no violation
    np.testing.assert_array_equal(_dual._kkt_worst(grad, lam, allowed), [0.2, np.inf, 0.0])


@pytest.mark.parametrize("block", [1, 4, 32])
def test_violators_are_the_most_violated_first_point_first_on_ties(block):
    from neurogeom.geometry import _active_set

    rng = np.random.default_rng(5)
    for trial in range(40):
        m = int(rng.integers(1, 90))
        h = np.round(rng.standard_normal(m), 1)  # many ties
        passive = rng.random(m) < 0.2
        banned = rng.random(m) < 0.05
        best_g, best_i = np.empty(32), np.empty(32, dtype=np.int64)
        n = _active_set._violators(
            np.eye(m), np.ones(m), h, np.zeros(m, dtype=np.int64), np.zeros(m), 0,
            np.empty(m), passive, banned, 1e-9, block, best_g, best_i, np.empty(m),
            np.empty(m, dtype=np.int64),
        )  # fmt: skip
        allowed = np.flatnonzero(~passive & ~banned & (h < -1e-9))
        expect = allowed[np.lexsort((allowed, h[allowed]))][:block]
        np.testing.assert_array_equal(best_i[:n], expect, err_msg=f"trial {trial}")
