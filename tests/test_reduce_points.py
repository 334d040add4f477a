"""The reduction of the points to their span: panels of candidate columns against LAPACK."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

from neurogeom.geometry import _dual


def _lapack(gram, tol):
    chol, piv, rank, _ = sla.lapack.dpstrf(gram, lower=1, tol=tol, overwrite_a=0)
    factor = np.zeros((gram.shape[0], rank))
    factor[piv - 1] = np.tril(chol[:, :rank])
    return factor, piv[:rank] - 1


def _points(kind, rng):
    if kind == "low_rank":  # 300 points of rank 60 in 90 features
        return rng.standard_normal((300, 60)) @ rng.standard_normal((60, 90))
    if kind == "full":  # more features than points: rank = number of points
        return rng.standard_normal((120, 200))
    if kind == "duplicates":  # every point twice, and one integer-valued block: exact ties
        x = np.vstack([rng.integers(-3, 4, size=(40, 50)), rng.standard_normal((60, 50))])
        return np.vstack([x, x[::-1]]).astype(np.float64)
    raise KeyError(kind)


@pytest.mark.parametrize("kind", ["low_rank", "duplicates"])
@pytest.mark.parametrize("panel, candidates", [(8, 2.0), (5, 1.0), (32, 2.0)])
def test_panels_give_lapacks_pivots_and_factor(monkeypatch, kind, panel, candidates):
    """Same pivots (ties broken as LAPACK does; of two copies of a point, either), so the same
    factor to rounding, whatever the panel width and however many pivots fall outside the
    candidates (formed from scratch)."""
    monkeypatch.setattr(_dual, "_PANEL", panel)
    monkeypatch.setattr(_dual, "_CANDIDATES", candidates)
    x = _points(kind, np.random.default_rng(3))
    gram = x @ x.T
    tol = gram.shape[0] * np.finfo(float).eps * np.max(np.diag(gram))
    expected, pivots = _lapack(gram, tol)
    got, order = _dual._pivoted_cholesky(gram, tol, min(x.shape))
    assert got.shape == expected.shape and got.flags.c_contiguous
    if kind == "duplicates":
        # between the two copies of a point LAPACK's choice follows how its BLAS rounds their
        # (equal) updates, which differs between machines: compare the points pivoted
        n = gram.shape[0]
        order, pivots = np.minimum(order, n - 1 - order), np.minimum(pivots, n - 1 - pivots)
    np.testing.assert_array_equal(order, pivots)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(got @ got.T, gram, rtol=0, atol=1e-10 * np.abs(gram).max())


def test_reduce_points_takes_the_panels_past_its_size(monkeypatch):
    x = _points("low_rank", np.random.default_rng(4))
    small = _dual.reduce_points(x)
    monkeypatch.setattr(_dual, "_PANEL_MIN_POINTS", 100)
    monkeypatch.setattr(_dual, "_DIRECT_MAX_RANK", 20)
    calls = []
    panels = _dual._pivoted_cholesky
    monkeypatch.setattr(_dual, "_pivoted_cholesky", lambda *a: calls.append(a[2]) or panels(*a))
    large = _dual.reduce_points(x)
    assert calls == [90] and large.rank == small.rank == 60 and large.path == "gram"
    np.testing.assert_allclose(large.factor, small.factor, atol=1e-12 * np.abs(x).max() ** 2)
    np.testing.assert_array_equal(large.gram, x @ x.T)


def test_a_rank_past_a_third_of_the_points_is_left_to_lapack(monkeypatch):
    """The panels decline (their cost grows with the rank), and reduce_points gives LAPACK's
    factor itself."""
    x = _points("full", np.random.default_rng(5))
    gram = x @ x.T
    tol = gram.shape[0] * np.finfo(float).eps * np.max(np.diag(gram))
    assert _dual._pivoted_cholesky(gram, tol, min(x.shape)) is None
    monkeypatch.setattr(_dual, "_PANEL_MIN_POINTS", 100)
    monkeypatch.setattr(_dual, "_DIRECT_MAX_RANK", 20)
    red = _dual.reduce_points(x)
    np.testing.assert_array_equal(red.factor, _lapack(gram, tol)[0])


@pytest.mark.parametrize("kind", ["low_rank_small", "full", "duplicates", "zero_rows"])
def test_the_compiled_call_of_lapack_gives_scipys_numbers_bit_for_bit(kind):
    """reduce_points calls LAPACK's dpstrf from compiled code (no GIL held): the factor, its
    rank and the Gram matrix are those of scipy.linalg.lapack.dpstrf bit for bit, ties broken
    as LAPACK breaks them (the duplicated and integer-valued points) and rank deficits too."""
    rng = np.random.default_rng(6)
    if kind == "low_rank_small":  # 150 points of rank 25 in 70 features
        x = rng.standard_normal((150, 25)) @ rng.standard_normal((25, 70))
    elif kind == "zero_rows":
        x = rng.standard_normal((60, 100))
        x[[3, 17, 40]] = 0.0
    else:
        x = _points(kind, rng)
    gram = x @ x.T
    tol = gram.shape[0] * np.finfo(float).eps * np.max(np.diag(gram))
    expected, _ = _lapack(gram, tol)
    red = _dual.reduce_points(x)
    assert red.path == "gram" and red.rank == expected.shape[1]
    assert red.factor.flags.c_contiguous
    np.testing.assert_array_equal(red.factor, expected)
    np.testing.assert_array_equal(red.gram, gram)


def test_all_zero_points_have_rank_zero():
    red = _dual.reduce_points(np.zeros((5, 8)))
    assert red.rank == 0 and red.factor.shape == (5, 0) and red.gram is None
