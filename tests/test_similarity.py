"""Similarity and baseline measures: ground truths, invariances, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom.geometry import similarity as sim


def _orthogonal(n: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, n)))
    return q


def _value(ds: xr.Dataset) -> float:
    """The measure's value: the variable named like its estimator."""
    return float(ds[ds.attrs["estimator"]])


def cka(X, Y, *, debiased=False):
    return _value((sim.debiased_cka_similarity if debiased else sim.cka_similarity)(X, Y))


def rsa(X, Y, **kw):
    return _value(sim.rsa_similarity(X, Y, **kw))


def procrustes(X, Y, **kw):
    return _value(sim.procrustes_distance(X, Y, **kw))


def angular(X, Y, **kw):
    return _value(sim.angular_shape_distance(X, Y, **kw))


def decoding(points, labels, **kw):
    return _value(sim.decoding_accuracy(points, labels, **kw))


def pr(points, labels=None, **kw):
    return _value(sim.participation_ratio(points, labels, **kw))


@pytest.fixture(scope="module")
def X() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((40, 12))


# ---- CKA ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("debiased", [False, True])
def test_cka_invariant_to_orthogonal_and_isotropic_scaling(X, debiased):
    Q = _orthogonal(12, 1)
    assert cka(X, X @ Q, debiased=debiased) == pytest.approx(1.0, abs=1e-10)
    assert cka(X, 4.0 * X @ Q + 2.0, debiased=debiased) == pytest.approx(1.0)
    # padded with zero features (different widths) is still the same representation
    assert cka(X, np.hstack([X, np.zeros((40, 3))])) == pytest.approx(1.0)


def test_cka_not_invariant_to_anisotropic_scaling(X):
    A = np.diag(np.linspace(0.1, 5, 12))
    assert cka(X, X @ A) < 0.95


def test_debiased_cka_of_independent_matrices_is_near_zero():
    rng = np.random.default_rng(2)
    pairs = [(rng.standard_normal((50, 200)), rng.standard_normal((50, 200))) for _ in range(20)]
    biased = np.mean([cka(a, b) for a, b in pairs])
    debiased = [cka(a, b, debiased=True) for a, b in pairs]
    assert biased > 0.5  # the plain estimator's known bias at n << p
    # single values scatter by ~0.03 around 0; their mean within ~4 standard errors
    assert abs(np.mean(debiased)) < 0.03


def test_cka_symmetric_and_bounded(X):
    Y = np.random.default_rng(5).standard_normal((40, 7)) + X[:, :7]
    a, b = cka(X, Y), cka(Y, X)
    assert a == pytest.approx(b)
    assert 0 < a < 1


# ---- RSA ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["spearman", "kendall_tau_a"])
def test_rsa_identical_representations_score_one(X, method):
    Q = _orthogonal(12, 3)
    perm = np.random.default_rng(3).permutation(12)
    # correlation distance: unit permutation and scaling; euclidean: also rotation, translation
    assert rsa(X, 2 * X[:, perm], method=method) == pytest.approx(1.0)
    same = rsa(X, 2 * X @ Q + 1, metric="euclidean", method=method)
    assert same == pytest.approx(1.0)
    assert rsa(X, X @ Q, metric="correlation", method=method) < 0.99


def test_rsa_unrelated_near_zero_and_related_positive(X):
    rng = np.random.default_rng(4)
    assert abs(rsa(X, rng.standard_normal((40, 30)))) < 0.15
    assert rsa(X, X + 0.5 * rng.standard_normal(X.shape)) > 0.5


def test_rdm_values():
    pts = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    d = sim.rdm(pts, metric="euclidean")
    assert d.values[0, 1] == pytest.approx(25 / 2)
    assert d.values[0, 2] == pytest.approx(100 / 2)
    assert d.dims == ("condition", "condition_")
    c = sim.rdm(np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [3.0, 2.0, 1.0]]))
    assert c.values[0, 1] == pytest.approx(0.0, abs=1e-12)
    assert c.values[0, 2] == pytest.approx(2.0)


def test_rdm_averages_trials_by_label():
    pts = np.array([[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [12.0, 0.0]])
    d = sim.rdm(pts, labels=np.array(["a", "a", "b", "b"]), metric="euclidean")
    assert list(d.condition.values) == ["a", "b"]
    assert d.values[0, 1] == pytest.approx(100 / 2)


def test_kendall_tau_a_with_ties():
    a = np.array([[0, 1, 1], [1, 0, 2], [1, 2, 0]], dtype=float)  # entries 1, 1, 2: one tie
    b = np.array([[0, 1, 2], [1, 0, 3], [2, 3, 0]], dtype=float)
    # pairs: (1,1) tied in a -> 0; (1,2) concordant; (1,2) concordant -> tau_a = 2/3
    assert sim.compare_rdms(a, b, method="kendall_tau_a") == pytest.approx(2 / 3)


def test_crossnobis_unbiased_and_ordered():
    rng = np.random.default_rng(6)
    n_cond, n_split, n_rep, n_feat = 4, 4, 6, 20
    patterns = np.zeros((n_cond, n_feat))
    patterns[1, 0] = 1.0
    patterns[2, 0] = 3.0
    patterns[3] = patterns[0]  # condition 3 identical to condition 0
    rows, labels, splits = [], [], []
    for s in range(n_split):
        for c in range(n_cond):
            for _ in range(n_rep):
                rows.append(patterns[c] + rng.standard_normal(n_feat))
                labels.append(c)
                splits.append(s)
    pts, labels, splits = np.array(rows), np.array(labels), np.array(splits)
    for noise in ("identity", "residual"):
        d = sim.rdm(pts, labels, metric="crossnobis", splits=splits, noise=noise).values
        assert abs(d[0, 3]) < 0.02  # unbiased: identical conditions ~0 (plain Euclidean ~ 2/6)
        assert d[0, 1] < d[0, 2]
    d_id = sim.rdm(pts, labels, metric="crossnobis", splits=splits, noise="identity").values
    assert d_id[0, 2] == pytest.approx(9 / n_feat, rel=0.2)
    plain = sim.rdm(pts, labels, metric="euclidean").values
    assert plain[0, 3] > 0.03  # the positive bias crossnobis removes


# ---- Procrustes --------------------------------------------------------------------------------


def test_procrustes_zero_under_rotation_reflection_translation(X):
    Q = _orthogonal(12, 7)
    R = np.diag([-1.0] + [1.0] * 11)
    Y = X @ Q @ R + 3.0
    assert procrustes(X, Y) == pytest.approx(0.0, abs=1e-9)
    assert angular(X, 5 * Y) == pytest.approx(0.0, abs=1e-6)
    assert procrustes(X, 5 * Y) > 1.0  # euclidean form is not scale invariant


def test_procrustes_positive_otherwise(X):
    Y = X @ np.diag(np.linspace(0.2, 3, 12))
    assert angular(X, Y) > 0.05
    assert procrustes(X, Y) > 0.05


def test_angular_triangle_inequality_and_symmetry():
    rng = np.random.default_rng(8)
    for _ in range(30):
        A, B, C = (rng.standard_normal((15, int(rng.integers(3, 8)))) for _ in range(3))
        dab = angular(A, B)
        dbc = angular(B, C)
        dac = angular(A, C)
        assert dac <= dab + dbc + 1e-10
        assert dab == pytest.approx(angular(B, A), abs=1e-10)
        assert 0 <= dab <= np.pi / 2 + 1e-12


def test_procrustes_class_fit_on_train_score_on_test(X):
    Q = _orthogonal(12, 9)
    Y = X @ Q
    metric = sim.ProcrustesDistance().fit(X[:30], Y[:30])
    assert metric.score(X[30:], Y[30:]) == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(metric.transform(X[:3]) + metric.mean_y_, Y[:3], atol=1e-9)
    with pytest.raises(ValueError, match="not fitted"):
        sim.ProcrustesDistance().score(X, Y)
    with pytest.raises(ValueError, match="score_method"):
        sim.ProcrustesDistance(score_method="cosine").fit(X, Y)


# ---- decoding, participation ratio ---------------------------------------------------------------


def test_decoding_separable_and_shuffled():
    rng = np.random.default_rng(10)
    centres = 6 * rng.standard_normal((3, 10))
    labels = np.repeat(np.arange(3), 30)
    pts = centres[labels] + rng.standard_normal((90, 10))
    assert decoding(pts, labels) > 0.97
    shuffled = [
        decoding(pts, np.random.default_rng(s).permutation(labels), seed=s) for s in range(4)
    ]
    assert abs(np.mean(shuffled) - 1 / 3) < 0.12


def test_decoding_deterministic():
    rng = np.random.default_rng(11)
    pts = rng.standard_normal((40, 5))
    labels = np.repeat([0, 1], 20)
    assert decoding(pts, labels, seed=3) == decoding(pts, labels, seed=3)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_participation_ratio_counts_equal_variance_directions(k):
    rng = np.random.default_rng(k)
    Q = _orthogonal(20, k)[:, :k]
    # exactly equal variance along k orthogonal directions: +-1 patterns (a Hadamard-like design)
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * k, indexing="ij")).reshape(k, -1).T
    pts = 2.0 * signs @ Q.T + rng.standard_normal(20)
    assert pr(pts) == pytest.approx(k, rel=1e-10)


def test_participation_ratio_centroids():
    labels = np.repeat([0, 1, 2], 5)
    centres = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    pts = centres[labels] + 1e-3 * np.random.default_rng(0).standard_normal((15, 3))
    assert pr(pts, labels, of="centroids") == pytest.approx(2.0, rel=1e-3)


# ---- bad input ----------------------------------------------------------------------------------


def test_errors(X):
    with pytest.raises(ValueError, match=r"cka_similarity\(\) needs X and Y to describe the same"):
        cka(X, X[:-1])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        rsa(bad, X)
    with pytest.raises(ValueError, match="at least 4 rows"):
        cka(X[:3], X[:3], debiased=True)
    with pytest.raises(ValueError, match=r"shape \(n_conditions, n_features\)"):
        procrustes(X[0], X[0])
    with pytest.raises(TypeError, match="numeric"):
        cka(np.array([["a", "b"], ["c", "d"]]), X[:2])
    with pytest.raises(ValueError, match="constant"):
        cka(np.ones((10, 3)), X[:10])
    with pytest.raises(ValueError, match="unknown RDM metric"):
        sim.rdm(X, metric="cosine")
    with pytest.raises(ValueError, match="needs trial-level points"):
        sim.rdm(X, metric="crossnobis")
    with pytest.raises(ValueError, match="at least 2 independent splits"):
        sim.rdm(X, np.repeat([0, 1], 20), metric="crossnobis", splits=np.zeros(40))
    with pytest.raises(ValueError, match="unknown method"):
        rsa(X, X, method="pearson")
    with pytest.raises(ValueError, match="fewer than n_splits"):
        decoding(X, np.r_[np.zeros(37), np.ones(3)])
    with pytest.raises(ValueError, match=r"decoding_accuracy\(\) needs at least 2 manifolds"):
        decoding(X, np.zeros(40))
    with pytest.raises(ValueError, match="n_splits to be an integer >= 2"):
        decoding(X, np.repeat([0, 1], 20), n_splits=1)
    with pytest.raises(ValueError, match="zero variance"):
        pr(np.ones((5, 3)))
    with pytest.raises(ValueError, match="needs labels"):
        pr(X, of="centroids")


# ---- the result layout ----------------------------------------------------------------------------

PAIRS = ("cka_similarity", "debiased_cka_similarity", "rsa_similarity", "procrustes_distance",
         "angular_shape_distance")  # fmt: skip


@pytest.mark.parametrize("name", PAIRS)
def test_pair_measures_return_the_result_layout(X, name):
    Y = X @ _orthogonal(12, 12) + 0.3 * np.random.default_rng(12).standard_normal(X.shape)
    ds = getattr(sim, name)(X, Y)
    assert isinstance(ds, xr.Dataset)
    assert set(ds.data_vars) == {name, f"{name}_sem"}
    assert ds[name].ndim == 0 and np.isfinite(float(ds[name]))
    assert np.isnan(float(ds[f"{name}_sem"]))  # no estimator of its error
    assert ds.attrs["estimator"] == name and ds.attrs["neurogeom_version"]
    assert ds.attrs["n_conditions"] == 40


def test_points_measures_return_the_result_layout():
    rng = np.random.default_rng(13)
    labels = np.repeat([0, 1], 20)
    pts = 2.0 * labels[:, None] + rng.standard_normal((40, 6))
    dec = sim.decoding_accuracy(pts, labels, n_splits=4, seed=2)
    assert set(dec.data_vars) == {"decoding_accuracy", "decoding_accuracy_sem"}
    assert 0 < float(dec.decoding_accuracy_sem) < 0.2
    assert dec.attrs["estimator"] == "decoding_accuracy" and dec.attrs["seed"] == 2
    assert dec.attrs["n_splits"] == 4 and dec.attrs["n_classes"] == 2
    ratio = sim.participation_ratio(pts, labels, of="centroids")
    assert ratio.attrs["of"] == "centroids" and np.isnan(float(ratio.participation_ratio_sem))
