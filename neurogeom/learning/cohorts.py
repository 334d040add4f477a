"""Animals vs networks: where each animal falls among the networks, which configuration is closest.

Both cohorts are study trajectories (:func:`neurogeom.learning.study_trajectory`) on the same
grid of a learning axis (dims ``subject``, ``stage``); the networks carry a configuration coord
over ``subject``. The stated distance between two curves of one output is the root mean square
over stages of their difference divided by the networks' spread of that output (the standard
deviation over networks and stages), so outputs of different units can be pooled by averaging
their squared distances.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurogeom._provenance import child_seed, provenance

__all__ = ["compare_cohorts"]


def _curves(traj: xr.Dataset, outputs: Sequence[str], what: str) -> np.ndarray:
    missing = [o for o in outputs if o not in traj]
    if missing:
        raise ValueError(f"the {what} trajectories lack the output(s) {missing}.")
    return np.stack([traj[o].transpose("subject", "stage").values for o in outputs], axis=-1)


def compare_cohorts(
    animals: xr.Dataset,
    networks: xr.Dataset,
    outputs: Sequence[str] = ("capacity", "radius", "dimension"),
    *,
    configuration: str = "configuration",
    n_boot: int = 100,
    n_perm: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Animals' trajectories against the distribution of networks' trajectories.

    Parameters
    ----------
    animals, networks : xarray.Dataset
        Study trajectories with dims (``subject``, ``stage``) on the same grid; ``networks``
        has a coord ``configuration`` over ``subject``.
    outputs : sequence of str, default=("capacity", "radius", "dimension")
    configuration : str, default="configuration"
        The networks' coord naming their configuration.
    n_boot : int, default=100
        Bootstrap replicates over animals for the distances' intervals and the support of the
        closest configuration.
    n_perm : int, default=100
        Permutations of animal / network membership for the rank test.
    confidence : float, default=0.95
    seed : int, default=0

    Returns
    -------
    xarray.Dataset
        Over (``configuration``, ``output``): ``percentile`` (mean over animals of the share of
        the configuration's networks at least as far from its mean curve as the animal, leave
        one out: near 0.5 when animals look like networks, near 0 when they lie outside),
        ``p_value`` (permutation test at the level of subjects: animals farther than networks,
        one-sided). Over ``configuration``: ``distance`` (mean over animals, all outputs),
        ``distance_ci_low``, ``distance_ci_high`` (bootstrap over animals), ``closest_support``
        (share of replicates in which it is the closest). Over ``subject`` (animals):
        ``animal_closest``. 0-d ``closest`` (the configuration of least distance). attrs:
        distance (the rule), outputs, n_boot, n_perm, seed.

    See Also
    --------
    compare_trajectories : one trajectory against another.
    hierarchical_bootstrap : intervals over subjects and trials.

    Examples
    --------
    >>> g = np.linspace(0, 1, 6)
    >>> def cohort(shift, n):
    ...     v = g[None, :] ** shift + 0.01 * np.arange(n)[:, None]
    ...     return xr.Dataset({"capacity": (("subject", "stage"), v)})
    >>> nets = xr.concat([cohort(1, 4), cohort(3, 4)], "subject").assign_coords(
    ...     configuration=("subject", ["linear"] * 4 + ["late"] * 4))
    >>> str(compare_cohorts(cohort(3, 3), nets, ["capacity"], n_boot=50, n_perm=50).closest.values)
    'late'
    """
    if configuration not in networks.coords:
        raise ValueError(
            f"the networks need a coord {configuration!r} over 'subject' naming each network's "
            "configuration."
        )
    a = _curves(animals, outputs, "animal")  # (A, G, O)
    n = _curves(networks, outputs, "network")  # (Nn, G, O)
    if a.shape[1] != n.shape[1]:
        raise ValueError(
            f"animals and networks are on grids of {a.shape[1]} and {n.shape[1]} stages; put "
            "both on the same grid (study_trajectory(..., axis='fraction', rule='interpolate', "
            "n_grid=...))."
        )
    scale = np.nanstd(n, axis=(0, 1))
    scale = np.where(scale > 0, scale, 1.0)
    a, n = a / scale, n / scale
    configs = np.asarray(networks[configuration].values)
    names = list(dict.fromkeys(configs.tolist()))
    rng_b = np.random.default_rng(child_seed(seed, 0))
    rng_p = np.random.default_rng(child_seed(seed, 1))
    boots = rng_b.integers(0, a.shape[0], size=(n_boot, a.shape[0]))

    def dist(x, mean):  # (k, G, O) vs (G, O) -> (k, O) mean squared over stages
        return np.nanmean((x - mean[None]) ** 2, axis=1)

    pct = np.full((len(names), len(outputs)), np.nan)
    pval = np.full((len(names), len(outputs)), np.nan)
    d_all = np.full((len(names), a.shape[0]), np.nan)
    for c, name in enumerate(names):
        members = n[configs == name]
        if members.shape[0] < 2:
            raise ValueError(f"configuration {name!r} has one network; give at least 2 seeds.")
        mean = np.nanmean(members, axis=0)
        d_a = dist(a, mean)  # (A, O)
        loo = np.stack(
            [
                dist(members[[k]], np.nanmean(np.delete(members, k, axis=0), axis=0))[0]
                for k in range(members.shape[0])
            ]
        )  # fmt: skip  (Nc, O)
        pct[c] = np.mean(loo[None, :, :] >= d_a[:, None, :], axis=(0, 1))
        pooled = np.concatenate([d_a, loo])
        observed = d_a.mean(axis=0) - loo.mean(axis=0)
        null = np.empty((n_perm, len(outputs)))
        for p in range(n_perm):
            perm = rng_p.permutation(pooled.shape[0])
            null[p] = pooled[perm[: d_a.shape[0]]].mean(0) - pooled[perm[d_a.shape[0] :]].mean(0)
        pval[c] = (1 + np.sum(null >= observed - 1e-12, axis=0)) / (1 + n_perm)
        d_all[c] = np.sqrt(d_a.mean(axis=1))
    distance = d_all.mean(axis=1)
    boot = d_all[:, boots].mean(axis=2)  # (C, B)
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot, [tail, 1 - tail], axis=1)
    support = np.bincount(np.argmin(boot, axis=0), minlength=len(names)) / n_boot
    return xr.Dataset(
        {
            "percentile": (("configuration", "output"), pct),
            "p_value": (("configuration", "output"), pval),
            "distance": ("configuration", distance),
            "distance_ci_low": ("configuration", low),
            "distance_ci_high": ("configuration", high),
            "closest_support": ("configuration", support),
            "animal_closest": ("subject", np.asarray(names)[np.argmin(d_all, axis=0)]),
            "closest": names[int(np.argmin(distance))],
        },
        coords={
            "configuration": names,
            "output": list(outputs),
            "subject": animals["subject"].values,
        },
        attrs=provenance(
            "compare_cohorts",
            distance="RMS over stages of the difference from the configuration's mean curve, "
            "each output divided by the networks' standard deviation of it; outputs pooled by "
            "their mean square",
            outputs=list(outputs),
            n_boot=int(n_boot),
            n_perm=int(n_perm),
            seed=int(seed),
            confidence=float(confidence),
        ),
    )
