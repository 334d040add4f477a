"""Animals vs networks: animals drawn from one of two network configurations are matched to it.

The "networks" are two synthetic model families of trajectories (not trained RNNs): capacity,
radius and dimension along a fraction-of-training grid, changing early (configuration "early")
or late ("late"), each network a seed with its own noise. "Animals" are noisy subsamples of one
family's trajectories: a family curve plus per-animal and per-stage noise, on fewer stages.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurogeom as ng
from neurogeom.learning.cohorts import cohort_similarity, compare_cohorts
from neurogeom.learning.study import study_trajectory

GRID = np.linspace(0, 1, 8)
OUTPUTS = ("capacity", "radius", "dimension")


def _family(onset: float) -> np.ndarray:
    p = 1 / (1 + np.exp(-(GRID - onset) / 0.1))
    return np.stack([0.3 + 0.4 * p, 1.5 - 0.6 * p, 8 - 3 * p], axis=-1)  # (G, 3)


def _cohort(onset: float, n: int, noise: float, rng) -> np.ndarray:
    base = _family(onset)
    return base[None] * (1 + noise * rng.normal(size=(n, 1, 3))) + noise * rng.normal(
        size=(n, GRID.size, 3)
    ) * base.std(axis=0)


def _dataset(values: np.ndarray, **coords) -> xr.Dataset:
    return xr.Dataset({o: (("subject", "stage"), values[..., j]) for j, o in enumerate(OUTPUTS)},
                      coords=coords)  # fmt: skip


def test_animals_are_matched_to_their_configuration():
    right = 0
    for r in range(10):
        rng = np.random.default_rng(r)
        nets = np.concatenate([_cohort(0.3, 10, 0.1, rng), _cohort(0.7, 10, 0.1, rng)])
        networks = _dataset(nets, configuration=("subject", ["early"] * 10 + ["late"] * 10))
        truth = ["early", "late"][r % 2]
        animals = _dataset(_cohort(0.3 if truth == "early" else 0.7, 5, 0.2, rng))
        res = compare_cohorts(animals, networks, OUTPUTS, n_boot=200, n_perm=200, seed=r)
        right += str(res.closest.values) == truth
    assert right >= 9


def test_cohorts_from_study_trajectories():
    animals = ng.synthetic_study(n_subjects=3, n_sessions=(5, 7), change=2.0, seed=0)
    nets = [ng.synthetic_study(n_subjects=3, n_sessions=6, change=2.0, onset=o,
                               shared_units=True, subject_prefix=f"net{o}", seed=1)
            for o in (0.2, 0.8)]  # fmt: skip
    kw = dict(by="condition", axis="fraction", rule="interpolate", n_grid=6, n_boot=0, n_t=20)
    ta = study_trajectory(animals, **kw)
    tn = xr.concat([study_trajectory(t, **kw) for t in nets], "subject", data_vars="all")
    tn = tn.assign_coords(configuration=("subject", ["early"] * 3 + ["late"] * 3))
    res = compare_cohorts(ta, tn, ("capacity",), n_boot=50, n_perm=50)
    assert set(res.configuration.values) == {"early", "late"}
    assert res.percentile.dims == ("configuration", "output")


CENTRES = np.array([[0, 0, 0], [1, 0, 0], [0, 2.5, 0], [1, 2.5, 1.5]])  # unequal distances


def _cohort_study(n, n_sessions, seed, *, shared=False, prefix="sub"):
    """Subjects whose 4 condition centres (CENTRES, embedded in each session's own units) grow
    from 0 at the first session to 4x at the last: no geometry, then the task's."""
    rng = np.random.default_rng(seed)
    source = {}
    for i in range(n):
        n_ses = int(rng.integers(n_sessions[0], n_sessions[1] + 1))
        embed = np.linalg.qr(rng.normal(size=(40, 3)))[0]
        source[f"{prefix}-{i}"] = {}
        for s in range(n_ses):
            if not shared:
                embed = np.linalg.qr(rng.normal(size=(int(rng.integers(30, 50)), 3)))[0]
            labels = np.repeat(np.arange(4), rng.integers(12, 18, 4))
            latent = 4.0 * s / (n_ses - 1) * CENTRES[labels] + 0.5 * rng.normal(
                size=(labels.size, 3)
            )
            data = latent @ embed.T + 0.3 * rng.normal(size=(labels.size, embed.shape[0]))
            source[f"{prefix}-{i}"][f"ses-{s}"] = ng.make_population(
                data, dims=("trial", "unit"), quantity="rate_hz", trial_coords={"condition": labels}
            )
    return ng.study(source)


def test_cohort_similarity_rises_above_its_null_only_where_the_geometry_is_learnt():
    """Condition centres grow from nothing (separation 0) to the task's; animals and networks
    share the task, so at the last stage their representations match (CKA and RSA above the
    subject-level null) and at the first they do not (within the null)."""
    animals = _cohort_study(4, (3, 5), 0)
    networks = _cohort_study(3, (6, 6), 1, shared=True, prefix="net")
    res = cohort_similarity(animals, networks, "condition", n_grid=3, n_perm=50, seed=0)
    assert res.attrs["n_animals"] == 4 and res.attrs["n_networks"] == 3
    assert res["cka_animal"].dims == ("subject", "stage") and res.sizes["subject"] == 4
    np.testing.assert_allclose(res["cka"].values, res["cka_animal"].mean("subject").values)
    for m in ("cka", "rsa"):
        assert float(res[m].isel(stage=-1)) > float(res[f"{m}_null_high"].isel(stage=-1)), m
        assert float(res[f"{m}_p_value"].isel(stage=-1)) < 0.05, m
        assert float(res[f"{m}_p_value"].isel(stage=0)) > 0.05, m
    assert float(res["cka"].isel(stage=-1)) > 0.8


def test_cohort_similarity_refuses_unshared_conditions():
    animals = _cohort_study(2, (3, 3), 0)
    networks = ng.synthetic_study(n_subjects=2, n_sessions=3, n_conditions=2, shared_units=True,
                                  seed=1)  # fmt: skip
    with pytest.raises(ValueError, match=r"share 2 condition\(s\) of \['condition'\].*RSA needs"):
        cohort_similarity(animals, networks, "condition", n_perm=5)
    with pytest.raises(ValueError, match=r"unknown similarity measure\(s\) \['cca'\]"):
        cohort_similarity(animals, networks, "condition", measures=["cca"])
