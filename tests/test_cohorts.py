"""Animals vs networks: animals drawn from one of two network configurations are matched to it.

The "networks" are two synthetic model families of trajectories (not trained RNNs): capacity,
radius and dimension along a fraction-of-training grid, changing early (configuration "early")
or late ("late"), each network a seed with its own noise. "Animals" are noisy subsamples of one
family's trajectories: a family curve plus per-animal and per-stage noise, on fewer stages.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

import neurogeom as ng
from neurogeom.learning.cohorts import compare_cohorts
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
