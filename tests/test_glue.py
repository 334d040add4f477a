"""GLUE capacity and effective geometry: closed-form ground truths, invariances, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from neurogeom.geometry import _dual
from neurogeom.geometry.capacity import glue

REF = Path(__file__).parents[2] / "shared" / "reference" / "mftma_reference_outputs.json"
if REF.exists():
    CLOSED = json.loads(REF.read_text())["closed_forms"]
else:  # the closed forms, as computed in the reference file
    CLOSED = {
        "alpha0": {"0.5": 0.9612050528015417, "1.0": 0.519572229604938},
        "segments_kappa0_D1": {
            "0.1": 1.7747771112826225,
            "0.3": 1.4586888561985636,
            "0.6": 1.1847755312364001,
            "1.0": 1.0,
            "2.0": 0.8299907085027823,
        },
    }


def _close(ds, truth, n_sem=4.0, rel=0.0):
    cap, sem = float(ds.capacity), float(ds.capacity_sem)
    assert abs(cap - truth) <= n_sem * sem + rel * truth, (cap, sem, truth)


def _orthogonal_balls(n_manifolds, dim, radius, points, rng, n_features=None):
    """Balls (sampled on their sphere) centred on unit vectors, each in its own subspace."""
    n_features = n_features or n_manifolds * (dim + 1)
    x, lab = [], []
    for mu in range(n_manifolds):
        base = mu * (dim + 1)
        centre = np.zeros(n_features)
        centre[base] = 1.0
        sphere = np.asarray(points(dim, rng))
        block = np.zeros((sphere.shape[0], n_features))
        block[:, base + 1 : base + 1 + dim] = radius * sphere
        x.append(centre + block)
        lab += [mu] * sphere.shape[0]
    return np.vstack(x), np.array(lab)


def _segment_ends(dim, rng):
    return np.array([[1.0], [-1.0]])


def _circle(dim, rng, m=120):
    th = np.linspace(0, 2 * np.pi, m, endpoint=False)
    return np.c_[np.cos(th), np.sin(th)]


def _sphere(dim, rng, m=300):
    i = np.arange(m) + 0.5
    phi = np.arccos(1 - 2 * i / m)
    th = np.pi * (1 + 5**0.5) * i
    return np.c_[np.cos(th) * np.sin(phi), np.sin(th) * np.sin(phi), np.cos(phi)]


@pytest.mark.parametrize("rho", [0.0, 0.9])
def test_points_in_general_position_have_capacity_two(rho):
    rng = np.random.default_rng(0)
    common = rng.standard_normal(60)
    x = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal((24, 60))
    ds = glue(x, np.arange(24), n_t=1500)
    _close(ds, 2.0)
    assert float(ds.radius) == 0.0
    assert float(ds.dimension) < 1e-8


@pytest.mark.parametrize("half_length", ["0.1", "0.3", "0.6", "1.0", "2.0"])
def test_segments_match_the_closed_form(half_length):
    x, lab = _orthogonal_balls(60, 1, float(half_length), _segment_ends, None)
    ds = glue(x, lab, n_t=400, seed=1)
    _close(ds, CLOSED["segments_kappa0_D1"][half_length])
    assert float(ds.dimension) <= 1.0 + 1e-9


@pytest.mark.parametrize(("dim", "points"), [(2, _circle), (3, _sphere)])
def test_balls_of_radius_one_have_capacity_two_over_d_plus_one(dim, points):
    x, lab = _orthogonal_balls(10, dim, 1.0, points, None)
    ds = glue(x, lab, n_t=400, seed=2)
    # a finely sampled sphere is a polytope slightly inside the ball: capacity at most ~2% high
    _close(ds, 2.0 / (dim + 1), rel=0.02)


@pytest.mark.parametrize("kappa", ["0.5", "1.0"])
def test_margin_on_orthonormal_points_matches_gardner(kappa):
    rng = np.random.default_rng(3)
    q = np.linalg.qr(rng.standard_normal((120, 60)))[0].T  # 60 orthonormal points
    ds = glue(q, np.arange(60), n_t=600, kappa=float(kappa))
    _close(ds, CLOSED["alpha0"][kappa])


def _gaussian_manifolds(rng, n_manifolds=8, m=15, n_features=40, radius=0.6):
    centres = rng.standard_normal((n_manifolds, n_features))
    x = np.repeat(centres, m, axis=0) + radius * rng.standard_normal((n_manifolds * m, n_features))
    return x, np.repeat(np.arange(n_manifolds), m)


def test_exact_identity_on_anchors():
    rng = np.random.default_rng(4)
    x, lab = _gaussian_manifolds(rng)
    ds = glue(x, lab, n_t=300, return_anchors=True)
    cap, r, d, psi = (float(ds[k]) for k in ("capacity", "radius", "dimension", "utility"))
    assert psi * (1 + r**-2) / d == pytest.approx(cap, rel=1e-9)
    # the anchors are convex combinations of each manifold's points, NaN where inactive
    anchors, active = ds.anchors.values, ds.active.values
    assert np.isnan(anchors[~active]).all() and np.isfinite(anchors[active]).all()
    for mu in range(8):
        pts = x[lab == mu]
        a = anchors[:, mu][active[:, mu]]
        assert (a.max(0) <= pts.max(0) + 1e-9).all() and (a.min(0) >= pts.min(0) - 1e-9).all()
    for name in ("center_alignment", "axis_alignment", "center_axis_alignment"):
        assert 0.0 <= float(ds[name]) <= 1.0


def test_invariant_to_rotation_reflection_scale_zero_padding_and_point_order():
    rng = np.random.default_rng(5)
    x, lab = _gaussian_manifolds(rng)
    base = glue(x, lab, n_t=200)
    rot = np.linalg.qr(rng.standard_normal((40, 40)))[0]
    padded = np.hstack([x @ rot, np.zeros((x.shape[0], 25))])
    order = rng.permutation(x.shape[0])
    reflect = x * np.r_[-1.0, np.ones(39)]
    cases = ((x @ rot, lab), (padded, lab), (x[order], lab[order]), (3.7 * x, lab), (reflect, lab))
    for xx, ll in cases:
        other = glue(xx, ll, n_t=200)
        for name in ("capacity", "radius", "dimension", "center_alignment", "axis_alignment"):
            assert float(other[name]) == pytest.approx(float(base[name]), rel=1e-7, abs=1e-10)


def test_invariant_to_label_names_and_permutation():
    rng = np.random.default_rng(6)
    x, lab = _gaussian_manifolds(rng)
    base = glue(x, lab, n_t=400)
    named = glue(x, np.array([f"cond{v}" for v in lab]), n_t=400)  # same sorted order
    assert float(named.capacity) == float(base.capacity)
    assert list(named.manifold.values[:2]) == ["cond0", "cond1"]
    perm = rng.permutation(8)
    shuffled = glue(x, perm[lab], n_t=400, seed=11)  # other names: equal in distribution
    sem = np.hypot(float(base.capacity_sem), float(shuffled.capacity_sem))
    assert abs(float(shuffled.capacity) - float(base.capacity)) <= 4 * sem


def test_same_seed_same_numbers_and_float32_close():
    rng = np.random.default_rng(7)
    x, lab = _gaussian_manifolds(rng)
    a = glue(x, lab, n_t=150, seed=3)
    b = glue(x, lab, n_t=150, seed=3)
    c = glue(x, lab, n_t=150, seed=4)
    assert a.identical(b)
    assert float(c.capacity) != float(a.capacity)
    f32 = glue(x, lab, n_t=150, seed=3, dtype=np.float32)
    assert float(f32.capacity) == pytest.approx(float(a.capacity), rel=1e-4)


def test_batched_solver_agrees_with_per_sample_reference():
    rng = np.random.default_rng(8)
    x, lab = _gaussian_manifolds(rng, n_manifolds=10, m=20, n_features=60, radius=1.0)
    red = _dual.reduce_points(x)
    y = rng.choice([-1.0, 1.0], size=(40, 10))[:, lab]
    w = rng.standard_normal((40, red.rank))
    lam, stats = _dual.solve_batch(red.factor, y, w)
    ref = _dual.solve_reference(red.factor, y, w)
    f_batch = np.sum(((y * lam) @ red.factor) ** 2, axis=1)
    f_ref = np.sum(((y * ref) @ red.factor) ** 2, axis=1)
    np.testing.assert_allclose(f_batch, f_ref, rtol=1e-8)
    np.testing.assert_allclose(lam, ref, atol=1e-7 * ref.max())
    assert stats["unresolved"] == 0
    # and in the ambient coordinates: the reduction preserves every inner product
    np.testing.assert_allclose(red.factor @ red.factor.T, x @ x.T, rtol=1e-9, atol=1e-8)


def test_reference_solver_with_margin_matches_batch():
    rng = np.random.default_rng(9)
    q = np.linalg.qr(rng.standard_normal((50, 20)))[0].T
    y = rng.choice([-1.0, 1.0], size=(30, 20))
    red = _dual.reduce_points(q)
    w = rng.standard_normal((30, red.rank))
    lam, _ = _dual.solve_batch(red.factor, y, w, 0.5)
    ref = _dual.solve_reference(red.factor, y, w, kappa=0.5)
    np.testing.assert_allclose(lam, ref, atol=1e-8)


def test_dichotomy_schemes():
    x, lab = _orthogonal_balls(30, 1, 1.0, _segment_ends, None)
    # segments in orthogonal subspaces decouple: any dichotomy gives the closed form
    for scheme in ("one_vs_rest", np.ones((3, 30))):
        _close(glue(x, lab, n_t=400, dichotomies=scheme), 1.0)
    q = np.eye(6)
    pair = glue(q, np.arange(6), n_t=300, dichotomies="pairwise")
    assert pair.attrs["n_pairs"] == 15
    _close(pair, 2.0)
    with pytest.raises(ValueError, match="entries \\+1 or -1"):
        glue(x, lab, dichotomies=np.zeros((2, 30)))
    with pytest.raises(ValueError, match="shape \\(n_dichotomies, 30\\)"):
        glue(x, lab, dichotomies=np.ones((2, 5)))
    with pytest.raises(ValueError, match="one of"):
        glue(x, lab, dichotomies="balanced-ish")


def test_preprocessing_is_recorded():
    rng = np.random.default_rng(10)
    x, lab = _gaussian_manifolds(rng, n_features=300)
    ds = glue(
        x, lab, n_t=50, n_points_per_manifold=10, projection_dim=100, jitter=1e-6, center=True
    )
    at = ds.attrs
    assert (at["n_points_per_manifold"], at["projection_applied"], at["n_features"]) == (10, 1, 100)
    assert (at["jitter"], at["center"], at["n_features_input"]) == (1e-6, 1, 300)
    assert ds.n_points.values.tolist() == [10] * 8 and "M" not in at
    assert at["estimator"] == "glue" and at["n_t"] == 50 and at["n_dichotomies_distinct"] == 254
    assert at["n_samples"] == 50 and at["dichotomies"] == "nontrivial"
    assert glue(x, lab, n_t=50, projection_dim=500).attrs["projection_applied"] == 0


def test_duplicate_points_and_single_point_manifolds():
    rng = np.random.default_rng(11)
    x, lab = _gaussian_manifolds(rng)
    base = glue(x, lab, n_t=200)
    dup = glue(np.vstack([x, x[:10]]), np.r_[lab, lab[:10]], n_t=200)
    # duplicates do not change the convex hulls: same capacity and geometry
    assert float(dup.capacity) == pytest.approx(float(base.capacity), rel=1e-7)
    assert float(dup.radius) == pytest.approx(float(base.radius), rel=1e-6)
    assert dup.n_points.values[0] == 25


def test_bad_input_is_rejected_with_a_clear_message():
    rng = np.random.default_rng(12)
    x, lab = _gaussian_manifolds(rng)
    with pytest.raises(ValueError, match="at least 2 manifolds"):
        glue(x, np.zeros(len(x)))
    with pytest.raises(ValueError, match="120 points but 119 labels"):
        glue(x, lab[:-1])
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        glue(bad, lab)
    bad[3, 2] = np.inf
    with pytest.raises(ValueError, match="NaN/inf"):
        glue(bad, lab)
    with pytest.raises(ValueError, match="identical points"):
        glue(np.ones((10, 4)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="all zero"):
        glue(np.zeros((10, 4)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="at least 1 feature"):
        glue(np.zeros((10, 0)), np.arange(10) % 2)
    with pytest.raises(ValueError, match="shape \\(n_points, n_features\\)"):
        glue(x[:, 0], lab)
    with pytest.raises(TypeError, match="numeric points"):
        glue([["a", "b"], ["c", "d"]], [0, 1])
    with pytest.raises(ValueError, match="has only 15 points"):
        glue(x, lab, n_points_per_manifold=20)
    with pytest.raises(ValueError, match="n_t to be an integer >= 2"):
        glue(x, lab, n_t=0)
    with pytest.raises(ValueError, match="dtype np.float32 or np.float64"):
        glue(x, lab, dtype=np.int32)
    with pytest.raises(ValueError, match="kappa to be a finite number"):
        glue(x, lab, kappa=np.nan)
    with pytest.raises(ValueError, match="cannot return anchors"):
        glue(x, lab, dichotomies="pairwise", return_anchors=True)


def test_torch_backend_gives_the_same_exact_result():
    pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    x, lab = _gaussian_manifolds(rng)
    base = glue(x, lab, n_t=100)
    other = glue(x, lab, n_t=100, backend="torch")
    assert other.attrs["backend"] == "torch"
    # the batched iterations differ in rounding, the exact finish does not
    np.testing.assert_allclose(other.F.values, base.F.values, rtol=1e-10)
    for name in ("capacity", "radius", "dimension", "center_alignment"):
        assert float(other[name]) == pytest.approx(float(base[name]), rel=1e-8)
