"""Samples of one dichotomy solved in warm-started chains: the same exact optimum as one by one
from zero, chains that do not depend on how the samples are split."""

from __future__ import annotations

import numpy as np

from neurogeom.geometry import _active_set, _dual
from neurogeom.geometry.capacity import _whole_chains


def _problem(n_pts=120, rank=12, n_s=70, seed=0):
    rng = np.random.default_rng(seed)
    codes = np.repeat([0, 1, 2], n_pts // 3)
    # three clouds around far centres: every dichotomy separable, supports of several points
    f = 4.0 * rng.standard_normal((3, rank))[codes] + rng.standard_normal((n_pts, rank))
    y = np.array([[1.0, -1.0, -1.0], [1.0, 1.0, -1.0], [-1.0, 1.0, 1.0]])
    signs = y[rng.integers(0, 3, n_s)][:, codes]
    signs[5, :3] = 0.0  # a sample with points left out: its own group
    probes = rng.standard_normal((n_s, rank))
    return f, signs, probes


def test_chains_group_equal_signs_in_sample_order():
    signs = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
    members, bounds = _dual.dichotomy_chains(signs)
    chains = [members[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])]
    assert chains == [[0, 2, 3], [1, 4]]
    prob = np.array([0, 0, 1, 1, 0])
    members, bounds = _dual.dichotomy_chains(signs, prob)
    chains = [members[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])]
    assert chains == [[0], [1, 4], [2, 3]]


def _chains_by_bytes(signs, prob=None):
    """The chains by a dict over each row's bytes (and problem): the definition."""
    keys = signs if prob is None else np.column_stack([prob.astype(np.float64), signs])
    first: dict[bytes, int] = {}
    group = np.array([first.setdefault(row.tobytes(), len(first)) for row in keys])
    chains = []
    for g in range(len(first)):
        rows = np.flatnonzero(group == g).tolist()
        chains += [rows[a : a + _dual._CHAIN] for a in range(0, len(rows), _dual._CHAIN)]
    return chains


def test_chains_are_those_of_the_rows_bytes():
    rng = np.random.default_rng(3)
    for n, c in ((1, 0), (5, 0), (7, 1), (400, 2), (3000, 5), (2500, 60)):
        # few distinct rows, many repeats: full hash-table slots, chains past _CHAIN; -0.0 and
        # 0.0 differ in their bytes, so they are other rows
        pool = rng.choice([-1.0, 0.0, 1.0, -0.0], size=(max(1, n // 40), c))
        signs = pool[rng.integers(0, pool.shape[0], n)]
        prob = rng.integers(0, 3, n)
        for pr in (None, prob):
            members, bounds = _dual.dichotomy_chains(signs, pr)
            chains = [members[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])]
            assert chains == _chains_by_bytes(signs, pr)
    members, bounds = _dual.dichotomy_chains(np.array([[0.0], [-0.0], [0.0]]))
    assert members.tolist() == [0, 2, 1] and bounds.tolist() == [0, 2, 3]


def test_chained_duals_are_the_exact_optimum():
    f, signs, probes = _problem()
    gram = f @ f.T
    chained, stats = _dual.finish(
        f, signs, probes, np.zeros(signs.shape), 0.0, gram=gram, every_point=True
    )
    assert stats["nnls"] == stats["unresolved"] == 0
    # one by one from zero (the unchained kernel)
    q = np.ascontiguousarray(signs * (probes @ f.T))
    tol = _dual._kkt_tolerance(f, probes, 0.0)
    alone = np.zeros(signs.shape)
    status = np.zeros(signs.shape[0], dtype=np.int64)
    _active_set.solve_working_sets(
        gram, f, True, signs, q, signs != 0, alone, tol, 10_000, np.arange(signs.shape[0]), status
    )
    assert (status == _active_set.OK).all()
    f_chained = np.sum(((signs * chained) @ f + probes) ** 2, axis=1)
    f_alone = np.sum(((signs * alone) @ f + probes) ** 2, axis=1)
    assert f_alone.min() > 1e-3  # separable: F is not zero
    assert (chained > 0).sum(axis=1).mean() > 2  # warm starts have supports to reuse
    np.testing.assert_allclose(f_chained, f_alone, rtol=1e-10)
    g = _dual.dual_gradient(f, signs, probes, chained, 0.0)
    assert (chained >= 0).all() and (chained[signs == 0] == 0).all()
    viol = np.where(chained > 0, np.abs(g), -np.minimum(g, 0.0))[signs != 0]
    assert viol.max() <= tol.max()


def test_split_parts_hold_whole_chains():
    f, signs, probes = _problem(n_s=200)
    # on a grid of 1/8: every product and sum below is exact, so the linear terms of a part
    # equal those of the whole whatever the BLAS kernel does with the number of rows (it may
    # round a row's product differently), and only the chains can make the duals differ
    f, probes = np.round(8.0 * f) / 8.0, np.round(8.0 * probes) / 8.0
    gram = f @ f.T
    one, _ = _dual.finish(f, signs, probes, np.zeros(signs.shape), 0.0, gram=gram, every_point=True)
    rows = _whole_chains(signs, 3)
    assert len(rows) == 3
    assert sorted(np.concatenate(rows).tolist()) == list(range(200))
    for r in rows:
        part, _ = _dual.finish(
            f, signs[r], probes[r], np.zeros((r.size, f.shape[0])), 0.0, gram=gram, every_point=True
        )
        np.testing.assert_array_equal(part, one[r])
