"""glue_batch: many problems in one pass give the numbers of one glue() call per problem."""

from __future__ import annotations

import doctest
import warnings

import numpy as np
import pytest
import xarray as xr

from neurogeom.geometry import _dual
from neurogeom.geometry import capacity as cap_mod
from neurogeom.geometry.capacity import glue, glue_batch

MEASURES = (
    "capacity",
    "radius",
    "dimension",
    "utility",
    "center_alignment",
    "axis_alignment",
    "center_axis_alignment",
)


def _clusters(n_manifolds, m, n, seed, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((n_manifolds, n))
    x = np.repeat(centres, m, axis=0) + spread * rng.standard_normal((n_manifolds * m, n))
    return x, np.repeat(np.arange(n_manifolds), m)


def _mixed_problems():
    """Small independent points, overlapping clouds that need separability decisions, a floor
    case, and one problem of rank > 256 (the batched-iteration path)."""
    return [
        _clusters(3, 20, 100, 0),
        _clusters(3, 20, 100, 1),
        _clusters(3, 50, 40, 2),  # 150 points in 40 units
        _clusters(3, 60, 12, 3, spread=4.0),  # heavily overlapping, near the floor
        _clusters(3, 100, 300, 4, spread=0.5),  # rank 300: not batched
    ]


def _assert_same(ds, i, one, rtol=1e-8):
    for name in MEASURES:
        for key in (name, f"{name}_sem"):
            a, b = float(ds[key][i]), float(one[key])
            if np.isnan(b):
                assert np.isnan(a), (key, a, b)
            else:
                assert a == pytest.approx(b, rel=rtol, abs=0), (key, a, b)
    np.testing.assert_allclose(ds.F[i].values, one.F.values, rtol=rtol, atol=0)
    np.testing.assert_array_equal(ds.separable[i].values, one.separable.values)
    np.testing.assert_allclose(ds.active_fraction[i].values, one.active_fraction.values)
    assert int(ds.span_dimension[i]) == one.attrs["span_dimension"]
    assert int(ds.at_floor[i]) == one.attrs["at_floor"]
    assert float(ds.no_separating_fraction[i]) == pytest.approx(one.attrs["no_separating_fraction"])
    np.testing.assert_array_equal(ds.n_points[i].values, one.n_points.values)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"center": True, "anchor_center": "all", "alignment": "inner"},
        {"dichotomies": "one_vs_rest", "n_points_per_manifold": 15, "projection_dim": 30},
        {"kappa": 0.05, "jitter": 1e-3},
    ],
)
def test_every_problem_equals_its_own_glue_call(options):
    problems = _mixed_problems()
    if options.get("kappa"):  # a margin needs every dichotomy separable
        problems = [p for p in problems if p[0].shape[0] <= p[0].shape[1]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = glue_batch(problems, n_t=40, seed=5, **options)
        for i, (x, lab) in enumerate(problems):
            one = glue(x, lab, n_t=40, seed=5, **options)
            _assert_same(ds, i, one)
            # F is formed as glue() forms it (over each sample's support, in the same order),
            # so F, the capacity and its standard error are those of glue(), bit for bit
            np.testing.assert_array_equal(ds.F[i].values, one.F.values)
            assert float(ds.capacity[i]) == float(one.capacity)
            assert float(ds.capacity_sem[i]) == float(one.capacity_sem)
    assert ds.capacity.dims == ("problem",)
    assert ds.F.dims == ("problem", "sample")
    assert ds.active_fraction.dims == ("problem", "manifold")


def test_numbers_do_not_depend_on_the_blocks(monkeypatch):
    """Blocks of problems run in parallel threads, problems of one shape in batched products:
    every number is the same, bit for bit, in blocks of two problems as in one block."""
    mixed = _mixed_problems()
    same = [_clusters(3, 20, 100, s) for s in (10, 11, 12, 13, 14)]
    problems = [*same[:2], mixed[2], mixed[3], *same[2:4], mixed[4], same[4]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        monkeypatch.setattr(cap_mod, "_BATCH_BLOCK", 10**6)
        whole = glue_batch(problems, n_t=40, seed=[3, 3, 4, 4, 3, 5, 5, 3])
        monkeypatch.setattr(cap_mod, "_BATCH_BLOCK", 2)
        blocks = glue_batch(problems, n_t=40, seed=[3, 3, 4, 4, 3, 5, 5, 3])
    assert int(whole.at_floor.sum()) >= 1
    xr.testing.assert_identical(blocks, whole)


def test_work_arrays_kept_between_calls_change_no_number(monkeypatch):
    """The work arrays a thread keeps between blocks and calls (larger ones first, then smaller
    and other shapes in the same buffers, left holding other values) give the numbers of newly
    allocated ones, bit for bit; past the byte cap an array is new and the cap holds."""
    from neurogeom.geometry import _threads

    big = [_clusters(3, 30, 100, s) for s in range(6)]
    small = [*_mixed_problems()[:3], _clusters(3, 12, 50, 9)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        kept = [glue_batch(p, n_t=40, seed=2) for p in (big, small, big)]
        monkeypatch.setattr(_threads, "thread_scratch", lambda: _threads.FRESH)
        fresh = [glue_batch(p, n_t=40, seed=2) for p in (big, small)]
    xr.testing.assert_identical(kept[0], fresh[0])
    xr.testing.assert_identical(kept[1], fresh[1])
    xr.testing.assert_identical(kept[2], fresh[0])

    scratch = _threads.Scratch(1000)
    a = scratch.array("x", (3, 5), zero=True)
    assert a.shape == (3, 5) and not a.any() and a.ctypes.data % 64 == 0
    a[:] = 7.0
    b = scratch.array("x", (2, 4))  # the same buffer, values left as they were
    assert np.shares_memory(a, b) and (b == 7.0).all()
    assert not scratch.array("x", (4,), zero=True).any()
    over = scratch.array("y", (200,))  # 1,600 bytes: past the cap, not kept
    assert "y" not in scratch._bufs and over.shape == (200,)
    assert _threads.FRESH.array("x", (2,), zero=True).tolist() == [0.0, 0.0]
    assert not _threads.FRESH._bufs


def test_blocks_take_their_python_steps_in_turn_the_first_block_first():
    """On several threads the first block is a quarter, the last three quarters and none is
    empty; the first block's step runs before any other's, steps never overlap, and a step that
    raises passes the turn on (the error reaches the caller; blocks not yet begun are
    cancelled)."""
    import threading
    import time

    import numba

    from neurogeom.geometry import _glue_batch

    if numba.get_num_threads() < 2:
        pytest.skip("needs two numba threads")
    spans = _glue_batch.in_blocks(lambda lo, hi: (lo, hi), 1000, 32, 4)
    sizes = [hi - lo for lo, hi in spans]
    assert spans[0][0] == 0 and spans[-1][1] == 1000 and min(sizes) > 0
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert sizes[0] * 4 == pytest.approx(sizes[1], abs=4)
    assert sizes[-1] * 4 == pytest.approx(sizes[1] * 3, abs=4)

    turns, order, inside = _glue_batch.InTurn(), [], []

    def step(lo, hi):
        if lo == 0:
            time.sleep(0.05)  # the other blocks are ready first
        with turns(lo, hi):
            inside.append(threading.get_ident())
            assert len(inside) == 1
            order.append(lo)
            time.sleep(0.002)
            inside.pop()
            if lo == spans[2][0]:
                raise RuntimeError("step failed")
        return lo

    with pytest.raises(RuntimeError, match="step failed"):
        _glue_batch.in_blocks(step, 1000, 32, 4)
    time.sleep(0.2)  # blocks already started finish after the error; the rest are cancelled
    assert order[0] == 0 and spans[2][0] in order and len(set(order)) == len(order)


def test_small_quadratic_forms_equal_the_thresholded_pseudo_inverse():
    """vec^T G^+ vec by a Cholesky factor where the active block is well conditioned, by Jacobi
    rotations elsewhere: both equal numpy's eigendecomposition with small eigenvalues dropped."""
    from neurogeom.geometry import _glue_batch, effective

    rng = np.random.default_rng(0)
    n_m = 4
    work, vecs = np.empty((n_m, n_m)), np.empty((n_m, n_m))
    for case in range(300):
        s = rng.standard_normal((n_m, 7))
        act = rng.random(n_m) > 0.2
        if case % 3 == 1:  # two nearly equal anchors: an eigenvalue below the threshold
            s[1] = s[0] * (1 + 1e-9)
            act[:2] = True
        if case % 3 == 2:  # two close anchors: condition numbers up to ~1e5, on either side of
            s[2] = s[0] + 0.05 * s[2]  # the Cholesky path's bound
            act[[0, 2]] = True
        s[~act] = 0.0
        g = s @ s.T
        vec = s @ rng.standard_normal(7)
        scale = np.max(np.diag(g))
        thr = effective._PINV_RCOND * max(scale, 1e-300)
        got = _glue_batch._quad_small(g, vec, thr, act, work, vecs)
        want = effective._quad_pinv(g[None], vec[None], np.array([scale]))[0]
        assert got == pytest.approx(want, rel=1e-11, abs=1e-12 * abs(vec @ vec) / scale)


def test_batch_covers_the_separability_decisions_and_the_floor():
    problems = _mixed_problems()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ds = glue_batch(problems, n_t=40, seed=5)
    assert ds.attrs["solver_separability_probe"] + ds.attrs["solver_separability_centroid"] > 0
    assert int(ds.at_floor.sum()) >= 1 and int(ds.at_floor.sum()) < len(problems)
    assert ds.span_dimension.values.max() > 256  # one problem ran glue's own path


def test_floor_problems_warn_once():
    x, lab = _clusters(3, 60, 12, 3, spread=4.0)
    with pytest.warns(RuntimeWarning, match="floor") as rec:
        glue_batch([(x, lab), (x, lab)], n_t=20)
    assert len([w for w in rec if "floor" in str(w.message)]) == 1


def test_stacked_array_with_problem_index_equals_the_list():
    problems = [_clusters(3, 12, 30, s) for s in range(4)]
    listed = glue_batch(problems, n_t=30, seed=2)
    x = np.vstack([p[0] for p in problems])
    lab = np.concatenate([p[1] for p in problems])
    sizes = [p[0].shape[0] for p in problems]
    which = np.repeat(np.array([40, 10, 30, 20]), sizes)
    within = np.concatenate([np.arange(n) for n in sizes])
    inter = np.argsort(within, kind="stable")  # rows of the problems interleaved, round robin
    stacked = glue_batch(x[inter], lab[inter], which[inter], n_t=30, seed=2)
    assert len(set(which[inter][:4])) == 4
    np.testing.assert_array_equal(stacked.problem.values, [10, 20, 30, 40])
    back = [1, 3, 2, 0]  # problem ids 10, 20, 30, 40 are list items 1, 3, 2, 0
    for name in MEASURES:
        np.testing.assert_allclose(stacked[name].values, listed[name].values[back], rtol=1e-12)
    np.testing.assert_allclose(stacked.F.values, listed.F.values[back], rtol=1e-12)


def test_per_problem_seeds_and_string_labels():
    x, lab = _clusters(4, 10, 50, 7)
    names = np.array(["a", "b", "c", "d"])[lab]
    ds = glue_batch([(x, names), (x, names)], n_t=30, seed=[1, 2])
    np.testing.assert_array_equal(ds.seed.values, [1, 2])
    np.testing.assert_array_equal(ds.manifold.values, ["a", "b", "c", "d"])
    for i, s in enumerate((1, 2)):
        _assert_same(ds, i, glue(x, names, n_t=30, seed=s))
    assert float(ds.capacity[0]) != float(ds.capacity[1])


def test_batched_duals_are_optimal_on_every_point():
    """The optimality conditions hold on every point, and F equals an independent NNLS oracle."""
    problems = [_clusters(3, 20, 100, s) for s in range(3)] + [_clusters(3, 50, 40, 9)]
    batch, oracle = [], []
    rng = np.random.default_rng(3)
    for x, lab in problems:
        red = _dual.reduce_points(x)
        y = rng.choice([-1.0, 1.0], size=(12, 3))
        signs = y[:, lab]
        w = rng.standard_normal((12, red.rank))
        batch.append((red.factor, red.gram, signs, w, 0.0))
        oracle.append(_dual.solve_reference(red.factor, signs, w))
    for (f, _, signs, w, _), (lam, stats), ref in zip(
        batch, _dual.solve_direct_many(batch), oracle
    ):
        assert stats["support_solve"] == signs.shape[0] and stats["nnls"] == 0
        assert (lam >= 0).all()
        grad = _dual.dual_gradient(f, signs, w, lam, 0.0)
        tol = _dual._kkt_tolerance(f, w, 0.0)[:, None]
        assert (grad >= -tol).all()  # dual feasibility on every point
        assert (np.abs(grad[lam > 0]) <= np.broadcast_to(tol, grad.shape)[lam > 0]).all()
        f_batch = np.sum(((signs * lam) @ f) ** 2, axis=1)
        f_ref = np.sum(((signs * ref) @ f) ** 2, axis=1)
        np.testing.assert_allclose(f_batch, f_ref, rtol=1e-8)
        direct, _ = _dual.solve_batch(f, signs, w, gram=f @ f.T, method="direct")
        np.testing.assert_allclose(lam, direct, rtol=1e-10, atol=1e-12)


def test_the_solves_own_check_equals_the_factors_on_every_point():
    """The largest violation of the optimality conditions that the batched solve reads from its
    last gradient (Gram form, every allowed point) equals the one glue() computes from the factor
    to rounding, far below the half tolerance that decides a clean problem."""
    from neurogeom.geometry import _active_set, _glue_batch

    rng = np.random.default_rng(5)
    factors, grams = [], []
    for s in range(3):
        red = _dual.reduce_points(_clusters(3, 12, 40, s, spread=1.5)[0])
        factors.append(red.factor)
        grams.append(red.gram)
    codes = np.repeat(np.arange(3), 12)
    y = rng.choice([-1.0, 1.0], size=(40, 3))
    y[:5, 1] = 0.0  # points of a manifold left out
    w = rng.standard_normal((40, 36))
    signs = np.tile(y[:, codes], (3, 1))
    st = _dual.stack_samples(
        factors, grams, [0.0, 0.1, 0.0], signs, w, np.tile(np.arange(40), 3), [0, 40, 80, 120]
    )
    n_all, n_max = signs.shape
    members, bounds = st.chains()
    lam = np.zeros((n_all, n_max))
    status = np.zeros(n_all, dtype=np.int64)
    worst = np.full(n_all, np.nan)
    c_offsets = np.array([0, 36, 72])
    _glue_batch._solve_measure(
        st.grams, st.g_offsets, st.factors, st.f_offsets, st.sizes, st.ranks,
        np.tile(codes, 3), c_offsets, st.prob, st.signs, st.q, st.tol, members, bounds, lam,
        status, worst, np.zeros(n_all), np.zeros((n_all, 3, 36)), np.zeros((n_all, 3)),
        np.zeros((n_all, 3), dtype=bool),
    )  # fmt: skip
    assert (status == _active_set.OK).all()
    ref = np.empty(n_all)
    for i in range(3):  # the check glue() makes: the gradient from the factor
        rows = st.rows(i)
        grad = _dual.dual_gradient(factors[i], signs[rows], w, lam[rows], st.kappas[i])
        ref[rows] = _dual._kkt_worst(grad, lam[rows], signs[rows] != 0)
    assert (worst <= 0.5 * st.tol).all()
    np.testing.assert_allclose(worst, ref, rtol=0, atol=1e-3 * st.tol.min())


def test_f_and_anchors_are_those_of_the_verified_duals():
    """F and the anchors, computed as each chain is solved, are computed again for a problem
    whose duals the verification rewrites (here: a tolerance of zero, so its samples go to
    scipy's NNLS), and equal those of the final duals."""
    from neurogeom.geometry import _glue_batch

    rng = np.random.default_rng(0)
    factors, grams = [], []
    for s in range(3):
        red = _dual.reduce_points(_clusters(3, 10, 30, s)[0])
        factors.append(red.factor)
        grams.append(red.gram)
    codes = np.repeat(np.arange(3), 10)
    y = rng.choice([-1.0, 1.0], size=(20, 3))
    w = rng.standard_normal((20, 30))
    signs = np.tile(y[:, codes], (3, 1))
    st = _dual.stack_samples(
        factors, grams, [0.0] * 3, signs, w, np.tile(np.arange(20), 3), [0, 20, 40, 60]
    )
    st.tol[20:40] = 0.0
    lam, stats, f_vals, anchors, active = _glue_batch.solve_and_measure(st, np.tile(codes, 3), 3)
    assert [s["nnls"] for s in stats] == [0, 20, 0]
    again, stats_again = _dual.solve_stacked(st)
    np.testing.assert_array_equal(lam, again)
    assert stats == stats_again
    f_ref, anchors_ref, _, active_ref = _glue_batch.anchors_many(
        st.factors, st.f_offsets, st.sizes, st.ranks, np.tile(codes, 3), st.prob, signs, lam, 3
    )
    np.testing.assert_array_equal(f_vals, f_ref)
    np.testing.assert_array_equal(anchors, anchors_ref)
    np.testing.assert_array_equal(active, active_ref)


def test_points_in_general_position_have_capacity_two_in_every_problem():
    """Cover: P points in general position have capacity 2; with n_t large the batch mean is
    within its standard error of 2."""
    rng = np.random.default_rng(11)
    problems = [(rng.standard_normal((8, 20)), np.arange(8)) for _ in range(6)]
    ds = glue_batch(problems, n_t=400, seed=1)
    mean = float(ds.capacity.mean())
    sem = float(np.sqrt(np.sum(ds.capacity_sem.values**2))) / ds.capacity.size
    assert abs(mean - 2.0) <= 4 * sem, (mean, sem)


def test_bad_batches_are_refused_with_the_problem_named():
    x, lab = _clusters(3, 10, 20, 0)
    with pytest.raises(ValueError, match="problem 1 .*manifold 2"):
        glue_batch([(x, lab), (x[lab < 2], lab[lab < 2])], n_t=10)
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="problem 1: .*finite"):
        glue_batch([(x, lab), (bad, lab)], n_t=10)
    bad[0, 0] = -np.inf
    with pytest.raises(ValueError, match="problem 1: .*finite"):
        glue_batch([(x, lab), (bad, lab)], n_t=10)
    with pytest.raises(ValueError, match="problem 0: "):  # every point the same
        glue_batch([(np.tile(x[:1], (x.shape[0], 1)), lab), (x, lab)], n_t=10)
    with pytest.raises(ValueError, match="pairwise"):
        glue_batch([(x, lab)], n_t=10, dichotomies="pairwise")
    with pytest.raises(ValueError, match="2 seeds for 1 problems"):
        glue_batch([(x, lab)], n_t=10, seed=[1, 2])
    with pytest.raises(TypeError, match="labels= and problem="):
        glue_batch(x)
    with pytest.raises(ValueError, match="together"):
        glue_batch(x, lab)
    with pytest.raises(ValueError, match="no problems"):
        glue_batch([])


def test_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(cap_mod.glue_batch, "glue_batch", globs={}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0
