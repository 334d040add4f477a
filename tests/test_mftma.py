"""MFTMA: agreement with the published replicaMFT outputs, closed-form capacities, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from neurogeom.geometry import mftma
from neurogeom.geometry._mftma_kernels import center_subspace, manifold_mean_field

REFERENCE = Path(__file__).parents[2] / "shared" / "reference" / "mftma_reference_outputs.json"
CONFIGS = {"A_P10_M50_N500": (10, 50, 500), "B_P50_M50_N2000": (50, 50, 2000)}


@pytest.fixture(scope="module")
def reference() -> dict:
    if not REFERENCE.exists():
        pytest.skip(f"reference outputs not found at {REFERENCE}")
    return json.loads(REFERENCE.read_text())


def structured_config(P: int, M: int, N: int, D: int = 10, R: float = 1.0, data_seed: int = 0):
    """The JSON's input_recipe: P manifolds (N x M), centre + (R / sqrt(D)) U S."""
    rs = np.random.RandomState(data_seed)
    clouds = []
    for _ in range(P):
        c = rs.randn(N)
        U = rs.randn(N, D)
        S = rs.randn(D, M)
        clouds.append(c[:, None] + (R / np.sqrt(D)) * (U @ S))
    rs_t = np.random.RandomState(12345)
    t_vecs = [rs_t.randn(min(M, N) + 1, 200) for _ in range(P)]
    points = np.concatenate([x.T for x in clouds])
    labels = np.repeat(np.arange(P), M)
    return points, labels, t_vecs


@pytest.fixture(scope="module", params=list(CONFIGS))
def config(request, reference):
    name = request.param
    points, labels, t_vecs = structured_config(*CONFIGS[name])
    return name, points, labels, t_vecs, reference["configs"][name], reference["sensitivity"][name]


def _spread(values: list[float]) -> float:
    return float(np.std(values, ddof=1))


def test_reference_no_correlation_path_is_exact(config):
    """With the same probes and no centre-subspace removal the published code is deterministic."""
    _, points, labels, t_vecs, ref, _ = config
    ds = mftma(
        points,
        labels,
        t_vectors=t_vecs,
        remove_center_correlations=False,
        canonical_signs=False,
    )
    exact = ref["no_corr_path"]
    for ours, theirs in [
        ("manifold_capacity", "capacity"),
        ("manifold_radius", "radius"),
        ("manifold_dimension", "dimension"),
    ]:
        np.testing.assert_allclose(ds[ours].values, exact["per_manifold"][theirs], rtol=1e-6)
    assert float(ds.capacity) == pytest.approx(exact["capacity_harmonic_mean"], rel=1e-6)


def test_reference_full_path_within_center_subspace_spread(config):
    """Same probes, centre correlations removed: within 3 SD of the published code's own
    variation over its global RNG seed (which drives its centre-subspace search)."""
    _, points, labels, t_vecs, ref, sens = config
    ds = mftma(points, labels, t_vectors=t_vecs, canonical_signs=False, seed=0)
    runs = sens["global_seed_variation (fun_FA RNG)"]
    assert int(ds.n_center_dims) == ref["K"]
    assert float(ds.center_correlation) == pytest.approx(
        ref["center_correlation_res_coeff0"], rel=1e-9
    )
    for ours, theirs in [
        ("capacity", "capacity_harmonic_mean"),
        ("radius", "radius_mean"),
        ("dimension", "dimension_mean"),
    ]:
        values = [ref[theirs]] + [r[theirs] for r in runs]
        tol = max(3 * _spread(values), 1e-6 * abs(ref[theirs]))
        assert abs(float(ds[ours]) - ref[theirs]) <= tol, (ours, float(ds[ours]), ref[theirs], tol)


def test_reference_own_probes_within_monte_carlo_spread(config):
    """Own seeded probes: within 3 SD of the reference's variation over probe seeds."""
    _, points, labels, _, ref, sens = config
    ds = mftma(points, labels, seed=0)
    runs = sens["tvec_seed_variation (Monte-Carlo over t, seeds 1..5)"]
    for ours, theirs in [
        ("capacity", "capacity_harmonic_mean"),
        ("radius", "radius_mean"),
        ("dimension", "dimension_mean"),
    ]:
        values = [ref[theirs]] + [r[theirs] for r in runs]
        assert abs(float(ds[ours]) - ref[theirs]) <= 3 * _spread(values), ours


def test_capacity_standard_error_matches_observed_spread():
    sD1 = np.array([[1.0, -1.0], [1.0, 1.0]])
    runs = [
        manifold_mean_field(sD1, np.random.default_rng(s).standard_normal((2, 400)))
        for s in range(60)
    ]
    observed = np.std([r.capacity for r in runs], ddof=1)
    reported = np.mean([r.capacity_se for r in runs])
    assert reported == pytest.approx(observed, rel=0.3)


# --- per-manifold routine: the JSON's per_manifold_routine_tests --------------------------------


def _routine_cases() -> dict[str, np.ndarray]:
    theta = np.linspace(0, 2 * np.pi, 720, endpoint=False)
    return {
        "segment_R0.5_D1": np.array([[0.5, -0.5], [1.0, 1.0]]),
        "segment_R1.0_D1": np.array([[1.0, -1.0], [1.0, 1.0]]),
        "segment_R2.0_D1": np.array([[2.0, -2.0], [1.0, 1.0]]),
        "segment_R1_padded_D2": np.array([[1.0, -1.0], [0.0, 0.0], [1.0, 1.0]]),
        "circle_R1_M720": np.vstack([np.cos(theta), np.sin(theta), np.ones(720)]),
        "point": np.array([[1.0]]),
    }


THEORY = {
    "segment_R0.5_D1": 1.257597,
    "segment_R1.0_D1": 1.0,
    "segment_R2.0_D1": 0.829991,
    "segment_R1_padded_D2": 1.0,
    "circle_R1_M720": 2 / 3,
    "point": 2.0,
}


@pytest.mark.parametrize("case", list(THEORY))
def test_per_manifold_routine_matches_reference_and_theory(case, reference):
    tests = reference["per_manifold_routine_tests"]["by_tolerance"]
    # the published code's loosest tolerance run succeeded on every case; 1e-12 crashed on some
    ref = tests["1e-8"][case]
    sD1 = _routine_cases()[case]
    t_vec = np.random.RandomState(7).randn(sD1.shape[0], ref["n_t"])
    res = manifold_mean_field(sD1, t_vec, 0.0)
    assert res.capacity == pytest.approx(ref["alpha"], rel=1e-6)
    assert res.radius == pytest.approx(ref["R_M"], rel=1e-6, abs=1e-9)
    assert res.dimension == pytest.approx(ref["D_M"], rel=1e-6, abs=1e-9)
    # and the closed-form capacity, within 4 Monte-Carlo standard errors
    assert abs(res.capacity - THEORY[case]) < 4 * res.capacity_se
    if "error" in tests["1e-12"][case]:  # the published default crashes here; we do not
        assert np.isfinite(res.capacity)


def test_padded_segment_dimension_bias_as_published():
    sD1 = _routine_cases()["segment_R1_padded_D2"]
    res = manifold_mean_field(sD1, np.random.default_rng(3).standard_normal((3, 20000)))
    assert res.dimension == pytest.approx(2 * (2 / np.pi) ** 2, abs=0.02)


def _gauss_moment(a: float, b: float, c: float) -> float:
    """int_a^b phi(x) (c - x)^2 dx for the standard normal density phi (closed form)."""
    pa, pb = (stats.norm.pdf(a) if np.isfinite(a) else 0.0), stats.norm.pdf(b)
    mass = stats.norm.cdf(b) - stats.norm.cdf(a)
    first = pa - pb
    second = mass + (a * pa if np.isfinite(a) else 0.0) - b * pb
    return c**2 * mass - 2 * c * first + second


def _ball_capacity(R: float, D: int, kappa: float = 0.0) -> float:
    """CLS18 closed form for an L2 ball: touching + fully embedded regimes, t ~ chi_D."""

    def inner(t: float) -> float:
        touch = _gauss_moment(kappa - t / R, kappa + t * R, t * R + kappa) / (1 + R**2)
        emb = _gauss_moment(-np.inf, kappa - t / R, kappa) + t**2 * stats.norm.cdf(kappa - t / R)
        return stats.chi.pdf(t, D) * (touch + emb)

    return 1.0 / integrate.quad(inner, 0, np.inf, limit=200)[0]


def test_ball_closed_form_helper(reference):
    for row in reference["closed_forms"]["balls_kappa0"]:
        assert _ball_capacity(row["R"], row["D"]) == pytest.approx(row["alpha_ball"], rel=1e-5)
    for row in reference["closed_forms"]["balls_kappa_nonzero"]:
        got = _ball_capacity(row["R"], row["D"], row["kappa"])
        assert got == pytest.approx(row["alpha_ball"], rel=1e-5)


def test_circle_with_margin_matches_theory(reference):
    row = reference["closed_forms"]["balls_kappa_nonzero"][0]  # kappa 0.5, D 2, R 1
    sD1 = _routine_cases()["circle_R1_M720"]
    res = manifold_mean_field(
        sD1, np.random.default_rng(8).standard_normal((3, 8000)), row["kappa"]
    )
    assert abs(res.capacity - row["alpha_ball"]) < 4 * res.capacity_se


def test_five_segments_with_center_removal_give_theory():
    """P = 5 makes the published centre-subspace search fail; here it runs and each manifold's
    capacity is the segment closed form at its centre-normalised half-length."""
    P, N = 5, 20
    half = np.array([0.4, 0.7, 1.0, 1.5, 2.0])
    basis = np.eye(N)
    rng = np.random.default_rng(0)
    centres = 3.0 * basis[:P] + 0.3 * rng.standard_normal((P, P)) @ basis[:P]
    points, labels = [], []
    for mu in range(P):
        axis = basis[P + mu]
        points += [centres[mu] + half[mu] * axis, centres[mu] - half[mu] * axis]
        labels += [mu, mu]
    ds = mftma(np.array(points), np.array(labels), n_t=4000, seed=1)
    assert 1 <= int(ds.n_center_dims) <= P - 2
    for mu in range(P):
        r_eff = half[mu] / float(ds.center_norm[mu])
        theory = _ball_capacity(r_eff, 1)
        got = float(ds.manifold_capacity[mu])
        assert abs(got - theory) < 4 * float(ds.manifold_capacity_sem[mu]), (mu, got, theory)
        assert float(ds.manifold_radius[mu]) < r_eff  # anchor spread is below the half-length


def test_points_capacity_two():
    """Single points: MFTMA gives the Gardner/Cover value 2."""
    rng = np.random.default_rng(0)
    points = rng.standard_normal((12, 30))
    ds = mftma(points, np.arange(12), n_t=3000, remove_center_correlations=False)
    assert float(ds.capacity) == pytest.approx(2.0, abs=4 * float(ds.capacity_sem))
    np.testing.assert_allclose(ds.manifold_radius, 0.0, atol=1e-12)


# --- properties ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = 3 * rng.standard_normal((6, 40))
    points = np.repeat(centres, 15, axis=0) + rng.standard_normal((90, 40))
    return points, np.repeat(np.arange(6), 15)


def test_deterministic_given_seed(blobs):
    points, labels = blobs
    a = mftma(points, labels, n_t=100, seed=3)
    b = mftma(points, labels, n_t=100, seed=3)
    c = mftma(points, labels, n_t=100, seed=4)
    for name in ("manifold_capacity", "manifold_radius", "manifold_dimension", "capacity"):
        np.testing.assert_array_equal(a[name].values, b[name].values)
    assert float(a.capacity) != float(c.capacity)


def test_invariant_to_rotation_scale_translation(blobs):
    points, labels = blobs
    q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((40, 40)))
    a = mftma(points, labels, n_t=100)
    b = mftma(2.5 * points @ q + 7.0, labels, n_t=100)
    for name in ("manifold_capacity", "manifold_radius", "manifold_dimension"):
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=1e-8)


def test_dataset_layout(blobs):
    points, labels = blobs
    ds = mftma(points, labels + 10, n_t=50, kappa=0.1)
    assert ds.sizes["manifold"] == 6
    assert list(ds.manifold.values) == list(range(10, 16))
    assert ds.attrs["estimator"] == "mftma"
    assert ds.attrs["kappa"] == 0.1 and ds.attrs["n_t"] == 50
    assert ds.n_points.values.tolist() == [15] * 6 and "M" not in ds.attrs
    assert ds.attrs["dichotomies"] == "mean_field" and "neurogeom_version" in ds.attrs
    assert ds.attrs["no_separating_fraction"] == 0.0 and ds.attrs["at_floor"] == 0
    assert np.isnan(float(ds.radius_sem)) and np.isnan(float(ds.dimension_sem))
    assert ds.capacity.ndim == 0
    harmonic = 1 / np.mean(1 / ds.manifold_capacity.values)
    assert float(ds.capacity) == pytest.approx(harmonic, rel=1e-12)
    assert float(ds.radius) == pytest.approx(float(ds.manifold_radius.mean()))


def test_larger_separation_more_capacity():
    rng = np.random.default_rng(2)
    centres = rng.standard_normal((5, 30))
    noise = rng.standard_normal((100, 30))
    labels = np.repeat(np.arange(5), 20)
    caps = [
        float(mftma(s * np.repeat(centres, 20, axis=0) + noise, labels, n_t=300).capacity)
        for s in (1.0, 3.0, 9.0)
    ]
    assert caps[0] < caps[1] < caps[2]


def test_center_subspace_caps_rank_for_few_manifolds():
    rng = np.random.default_rng(0)
    shared = rng.standard_normal(30)
    centres = np.stack([shared + 0.2 * rng.standard_normal(30) for _ in range(4)], axis=1)
    sub = center_subspace(centres, n_reps=3, rng=np.random.default_rng(0))
    assert sub.n_dims <= 2
    assert np.allclose(sub.basis.T @ sub.basis, np.eye(sub.n_dims))


# --- bad input -------------------------------------------------------------------------------


def test_errors(blobs):
    points, labels = blobs
    bad = points.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mftma(bad, labels)
    with pytest.raises(ValueError, match="one label per point"):
        mftma(points, labels[:-1])
    with pytest.raises(ValueError, match="at least 2 manifolds"):
        mftma(points, np.zeros(len(labels)))
    with pytest.raises(ValueError, match=r"shape \(n_points, n_features\)"):
        mftma(points[None], labels)
    with pytest.raises(ValueError, match="n_t must be an integer >= 2"):
        mftma(points, labels, n_t=1)
    with pytest.raises(TypeError, match="numeric"):
        mftma(np.full((4, 2), "a"), np.arange(4))
    with pytest.raises(ValueError, match=r"t_vectors\[0\] must have shape"):
        mftma(points, labels, n_t=10, t_vectors=[np.zeros((3, 10))] * 6)
    with pytest.raises(ValueError, match="one array per manifold"):
        mftma(points, labels, n_t=10, t_vectors=[np.zeros((3, 10))])


def test_centre_at_global_mean_is_an_error():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((10, 5)) + 3
    points = np.vstack([a, -a, rng.standard_normal((10, 5))])
    points[20:] -= points[20:].mean(axis=0)  # third manifold centred exactly on the global mean
    labels = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match="centre at the global mean"):
        mftma(points, labels, remove_center_correlations=False)
