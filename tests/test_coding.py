"""Coding schemes: synthetic populations built to be analog, redundant, sparse and mixed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from neurogeom.geometry import coding_scheme, tuning_matrix
from neurogeom.learning import measure_geometry
from neurogeom.population import make_population

N_CLASSES, N_PER, N_UNITS = 3, 30, 200
LABELS = np.repeat(np.arange(N_CLASSES), N_PER)
SIGN_CODES = np.array([[1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)


def _population(tuning: np.ndarray, seed: int = 0, noise: float = 0.1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return tuning[:, LABELS].T + noise * rng.standard_normal((LABELS.size, tuning.shape[0]))


def _analog(rng):
    return rng.standard_normal((N_UNITS, N_CLASSES))


def _redundant(rng):
    return SIGN_CODES[rng.integers(0, 3, N_UNITS)]


def _sparse(rng):
    t = np.zeros((N_UNITS, N_CLASSES))
    t[:15] = 3.0 * np.eye(N_CLASSES)[rng.integers(0, N_CLASSES, 15)]
    return t


def _mixed(rng):
    return np.vstack([_redundant(rng)[: N_UNITS // 2], _analog(rng)[: N_UNITS // 2]])


BUILDERS = {"analog": _analog, "redundant": _redundant, "sparse": _sparse, "mixed": _mixed}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("scheme", list(BUILDERS))
def test_synthetic_populations_are_classified(scheme, seed):
    rng = np.random.default_rng(seed)
    ds = coding_scheme(_population(BUILDERS[scheme](rng), seed), LABELS)
    assert str(ds.scheme.values) == scheme == ds.attrs["scheme"]
    assert ds.attrs["rule"].startswith("sparse if coding_fraction <= 0.25")


def test_scores_of_the_built_schemes():
    rng = np.random.default_rng(0)
    analog = coding_scheme(_population(_analog(rng)), LABELS)
    redundant = coding_scheme(_population(_redundant(rng)), LABELS)
    sparse = coding_scheme(_population(_sparse(rng)), LABELS)
    # three shared codes: effective number of clusters ~3, all units clustered
    assert redundant.n_clusters == pytest.approx(3.0, abs=0.1)
    assert redundant.redundancy == pytest.approx(1 / 3, abs=0.02)
    assert redundant.clustered_fraction == 1.0
    assert redundant.sparseness == 1.0 and redundant.selectivity < 0.05
    # Gaussian tuning: no shared codes, many distinct directions, 3-D tuning subspace
    assert analog.clustered_fraction == 0.0 and analog.n_directions > 30
    assert analog.tuning_dimension == pytest.approx(3.0, abs=0.1)
    assert 0.5 < float(analog.coding_fraction) < 0.7  # E[r^2]^2 / E[r^4] = 9/15 for chi^2_3
    # 15 equally tuned one-class units out of 200
    assert sparse.coding_fraction == pytest.approx(15 / N_UNITS, rel=0.05)
    assert sparse.sparseness == pytest.approx(1 / 3, abs=1e-9)
    assert sparse.selectivity > 0.95


def test_tuning_matrix_and_layout():
    points = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    t = tuning_matrix(points, np.array(["b", "b", "a", "a"]))
    assert t.dims == ("unit", "manifold") and t.manifold.values.tolist() == ["a", "b"]
    np.testing.assert_array_equal(t.values, [[0.0, 2.0], [3.0, 0.0]])
    ds = coding_scheme(_population(_analog(np.random.default_rng(0))), LABELS, n_boot=5)
    for name in ("redundancy", "tuning_dimension", "coding_fraction", "sparseness"):
        assert np.isfinite(ds[f"{name}_sem"]) and ds[f"{name}_sem"] >= 0
    assert ds.attrs["sem"] == "bootstrap over points within class"
    assert ds.tuning.dims == ("unit", "manifold") and ds.n_points.values.tolist() == [30] * 3
    plain = coding_scheme(_population(_analog(np.random.default_rng(0))), LABELS)
    assert np.isnan(plain.redundancy_sem) and plain.attrs["sem"] == "none"
    # invariant to isotropic scaling and to permuting units
    x = _population(_redundant(np.random.default_rng(2)))
    perm = np.random.default_rng(3).permutation(x.shape[1])
    other = coding_scheme(7.0 * x[:, perm], LABELS)
    base = coding_scheme(x, LABELS)
    for name in ("redundancy", "coding_fraction", "tuning_dimension", "clustered_fraction"):
        assert float(other[name]) == pytest.approx(float(base[name]), rel=1e-9)


def test_silent_units_and_zero_threshold():
    rng = np.random.default_rng(0)
    tuning = np.vstack([_redundant(rng), np.zeros((20, N_CLASSES))])
    x = tuning[:, LABELS].T  # 20 units exactly silent
    ds = coding_scheme(x, LABELS, active_threshold=0.0)
    assert ds.active_fraction == pytest.approx(N_UNITS / (N_UNITS + 20))
    assert str(ds.scheme.values) == "redundant"


def test_baseline_min_finds_the_code_on_top_of_a_spontaneous_rate():
    rng = np.random.default_rng(0)
    rates = 10.0 + _sparse(rng)  # 10 Hz spontaneous rate everywhere
    x = _population(rates)
    assert str(coding_scheme(x, LABELS).scheme.values) != "sparse"
    assert str(coding_scheme(x, LABELS, baseline="min").scheme.values) == "sparse"


def test_along_stages_through_geometry():
    rng = np.random.default_rng(0)
    codes = [_analog(rng), _redundant(rng)]
    data = np.stack([_population(t, seed=s) for s, t in enumerate(codes)])
    pop = make_population(
        data,
        dims=("stage", "trial", "unit"),
        quantity="rnn_state",
        trial_coords={"category": LABELS},
        stage=[0, 1],
    )
    ds = measure_geometry(pop, by="category", measures=("coding_scheme",))
    assert ds.scheme.dims == ("stage",)
    assert ds.scheme.values.tolist() == ["analog", "redundant"]
    assert float(ds.redundancy[1]) > 5 * float(ds.redundancy[0])


def test_bad_input_errors():
    x = _population(_analog(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="at least 2 classes"):
        coding_scheme(x, np.zeros(len(LABELS), dtype=int))
    bad = x.copy()
    bad[3, 5] = np.nan
    with pytest.raises(ValueError, match="finite points"):
        coding_scheme(bad, LABELS)
    nan_labels = LABELS.astype(float)
    nan_labels[0] = np.nan
    with pytest.raises(ValueError, match="NaN labels"):
        coding_scheme(x, nan_labels)
    with pytest.raises(ValueError, match="one label per point"):
        coding_scheme(x, LABELS[:-1])
    with pytest.raises(ValueError, match="no tuning"):
        coding_scheme(np.array([[1.0, 0], [-1, 0], [1, 0], [-1, 0]]), [0, 0, 1, 1])
    with pytest.raises(ValueError, match=r"empty classes \['c'\]"):
        coding_scheme(x[:60], pd.Categorical(LABELS[:60], categories=[0, 1, "c"]))
    with pytest.raises(ValueError, match="baseline to be one of"):
        coding_scheme(x, LABELS, baseline="mean")
    with pytest.raises(ValueError, match="active_threshold between 0 and 1"):
        coding_scheme(x, LABELS, active_threshold=2.0)
    with pytest.raises(ValueError, match="labels="):
        tuning_matrix(x, None)


def test_coding_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from neurogeom.show._style import save_figure
    from neurogeom.show.figures import plot_coding_scheme

    rng = np.random.default_rng(0)
    results = {
        k: coding_scheme(_population(BUILDERS[k](rng)), LABELS) for k in ("analog", "sparse")
    }
    fig = plot_coding_scheme(results)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["analog: analog", "sparse: sparse"]
    png, _ = save_figure(fig, tmp_path / "coding")
    assert png.stat().st_size > 0
