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
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._provenance import child_seed, provenance
from neurogeom.population import STUDY_VARIABLE, label_names

__all__ = ["SIMILARITIES", "cohort_similarity", "compare_cohorts"]

#: The representation similarities of :func:`cohort_similarity`.
SIMILARITIES = ("cka", "rsa")


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
        one out: near 0.5 when animals look like networks, near 0 when they lie outside;
        ``animal_percentile`` over (``configuration``, ``subject``, ``output``): each animal's),
        ``p_value`` (permutation test at the level of subjects: animals farther than networks,
        one-sided). Over ``configuration``: ``distance`` (mean over animals, all outputs),
        ``distance_ci_low``, ``distance_ci_high`` (bootstrap over animals), ``closest_support``
        (share of replicates in which it is the closest). Over ``subject`` (animals):
        ``animal_closest``. 0-d ``closest`` (the configuration of least distance). attrs:
        distance (the rule), outputs, n_boot, n_perm, seed.

    See Also
    --------
    neurogeom.learning.compare_trajectories : one trajectory against another.
    neurogeom.learning.hierarchical_bootstrap : intervals over subjects and trials.

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
    pct_animal = np.full((len(names), a.shape[0], len(outputs)), np.nan)
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
        )  # (Nc, O)
        pct_animal[c] = np.mean(loo[None, :, :] >= d_a[:, None, :], axis=1)
        pct[c] = pct_animal[c].mean(axis=0)
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
            "animal_percentile": (("configuration", "subject", "output"), pct_animal),
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


def _stage_means(
    tree: xr.DataTree, by: tuple[str, ...], window_s: Any, n_grid: int, what: str
) -> tuple[list[str], list[list[dict[str, np.ndarray]]], list[list[tuple[np.ndarray, np.ndarray]]]]:
    """Per subject and grid stage: the nearest session's condition means (key -> mean) and its
    (points, keys) for the shuffle null."""
    from neurogeom.learning.study import _session_points, _subjects

    grid = np.linspace(0.0, 1.0, n_grid)
    names, means, points = [], [], []
    for name, sessions in _subjects(tree):
        fraction = np.arange(len(sessions)) / max(len(sessions) - 1, 1)
        nearest = [int(np.argmin(np.abs(fraction - g))) for g in grid]
        cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        for i in set(nearest):
            x, keys, _, _ = _session_points(sessions[i], by, STUDY_VARIABLE, window_s)
            if x.shape[0] == 0:
                raise ValueError(f"{what} session {sessions[i].path!r} has no finite trial.")
            cache[i] = (x, keys)
        names.append(name)
        points.append([cache[i] for i in nearest])
        means.append([_means(*cache[i]) for i in nearest])
    return names, means, points


def _means(x: np.ndarray, keys: np.ndarray) -> dict[str, np.ndarray]:
    return {k: x[keys == k].mean(axis=0) for k in dict.fromkeys(keys.tolist())}


def _centred_gram(m: np.ndarray) -> np.ndarray:
    m = m - m.mean(axis=0, keepdims=True)
    return m @ m.T


def _ranks(v: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(v, axis=-1)


def _similarity(kind: str, a: np.ndarray, b: np.ndarray) -> float:
    """CKA (linear, on condition means centred over conditions) or RSA (Spearman correlation of
    the Euclidean RDMs' upper triangles) of two (conditions, units) matrices."""
    if kind == "cka":
        k, l_ = _centred_gram(a), _centred_gram(b)
        denom = np.linalg.norm(k) * np.linalg.norm(l_)
        return float(np.sum(k * l_) / denom) if denom > 0 else float("nan")
    iu = np.triu_indices(a.shape[0], 1)
    ra = _ranks(np.linalg.norm(a[:, None] - a[None], axis=-1)[iu])
    rb = _ranks(np.linalg.norm(b[:, None] - b[None], axis=-1)[iu])
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = np.linalg.norm(ra) * np.linalg.norm(rb)
    return float(ra @ rb / denom) if denom > 0 else float("nan")


def cohort_similarity(
    animals: xr.DataTree,
    networks: xr.DataTree,
    by: str | Sequence[str],
    *,
    measures: Sequence[str] = SIMILARITIES,
    n_grid: int = 5,
    window_s: Any = None,
    n_perm: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
) -> xr.Dataset:
    """Representation similarity of animals to networks per matched stage, averaged over animals.

    Both cohorts are studies (:func:`neurogeom.study`): the animals' subjects and sessions, and
    the networks' (a subject per network, a session per checkpoint). Stages are matched on the
    fraction of each subject's sessions (session index over the last index): grid stage ``g`` of
    ``n_grid`` evenly spaced fractions takes each subject's nearest session. At each stage, each
    animal's condition means (the joint values of ``by``, conditions both cohorts share) are
    compared with each network's; the animal's similarity is the mean over networks, the
    stage's the mean over animals.

    Parameters
    ----------
    animals, networks : xarray.DataTree
        Studies with the labels ``by`` (map the networks' labels to the animals' first).
    by : str or sequence of str
        The label(s) whose joint values are the conditions (at least 3 shared for RSA).
    measures : sequence of {"cka", "rsa"}, default=("cka", "rsa")
        Linear CKA of the condition means centred over conditions; RSA: the Spearman
        correlation of the Euclidean representational dissimilarity matrices.
    n_grid : int, default=5
        Matched stages.
    window_s : (start_s, stop_s), optional
        For sessions with a ``time`` dim: the window averaged into each trial's point.
    n_perm : int, default=100
        The null at the level of subjects: each animal's condition labels shuffled across its
        trials (within the session), the networks kept, the mean over animals recomputed.
    confidence : float, default=0.95
        The central share of the null reported as ``v_null_low``, ``v_null_high``.
    seed : int, default=0

    Returns
    -------
    xarray.Dataset
        Over ``stage`` (coord ``fraction``), for each measure ``v``: ``v`` (mean over animals),
        ``v_null_mean``, ``v_null_low``, ``v_null_high``, ``v_p_value`` (one-sided: more
        similar than with shuffled labels). Over (``subject``, ``stage``): ``v_animal``. attrs:
        by, conditions, n_animals, n_networks, n_perm, seed, confidence, the rules.

    See Also
    --------
    neurogeom.learning.compare_cohorts : where each animal falls among the networks.
    neurogeom.learning.compare_representations : one brain against one network.

    Examples
    --------
    >>> import neurogeom as ng
    >>> a = ng.synthetic_study(n_subjects=3, n_sessions=3, n_conditions=4, change=3, seed=0)
    >>> n = ng.synthetic_study(n_subjects=2, n_sessions=4, n_conditions=4, change=3,
    ...                        shared_units=True, subject_prefix="net", seed=1)
    >>> res = cohort_similarity(a, n, "condition", n_grid=3, n_perm=20)
    >>> bool(res.cka.isel(stage=-1) > res.cka_null_high.isel(stage=-1))
    True
    """
    by_t = tuple(label_names(by))
    unknown = [m for m in measures if m not in SIMILARITIES]
    if unknown or not measures:
        raise ValueError(f"unknown similarity measure(s) {unknown}; give some of {SIMILARITIES}.")
    if int(n_grid) < 1:
        raise ValueError(f"n_grid must be >= 1; got {n_grid}.")
    a_names, a_means, a_points = _stage_means(animals, by_t, window_s, int(n_grid), "animal")
    _, n_means, _ = _stage_means(networks, by_t, window_s, int(n_grid), "network")
    keys = set.intersection(*(set(m) for subj in a_means + n_means for m in subj))
    conditions = sorted(keys)
    if len(conditions) < (3 if "rsa" in measures else 2):
        raise ValueError(
            f"animals and networks share {len(conditions)} condition(s) of {list(by_t)} "
            f"({conditions}) at every matched stage; RSA needs at least 3 and CKA 2: map the "
            "networks' labels and values to the animals' (compare mapping) or check the labels."
        )
    rng = np.random.default_rng(child_seed(seed, 2))
    A, G, P = len(a_names), int(n_grid), int(n_perm)
    observed = {m: np.full((A, G), np.nan) for m in measures}
    null = {m: np.full((P, A, G), np.nan) for m in measures}

    def against(m: str, mat: np.ndarray, g: int) -> float:
        return float(
            np.mean(
                [_similarity(m, mat, np.stack([net[g][k] for k in conditions])) for net in n_means]
            )
        )

    for i in range(A):
        for g in range(G):
            mat = np.stack([a_means[i][g][k] for k in conditions])
            x, k_ = a_points[i][g]
            for m in measures:
                observed[m][i, g] = against(m, mat, g)
            for p in range(P):
                shuffled = _means(x, rng.permutation(k_))
                mat_p = np.stack([shuffled[k] for k in conditions])
                for m in measures:
                    null[m][p, i, g] = against(m, mat_p, g)
    tail = (1 - confidence) / 2
    data: dict[str, Any] = {}
    for m in measures:
        mean = observed[m].mean(axis=0)
        nm = null[m].mean(axis=1)  # (P, G): the mean over animals under the null
        data[m] = ("stage", mean)
        data[f"{m}_animal"] = (("subject", "stage"), observed[m])
        if P:
            data[f"{m}_null_mean"] = ("stage", nm.mean(axis=0))
            low, high = np.quantile(nm, [tail, 1 - tail], axis=0)
            data[f"{m}_null_low"], data[f"{m}_null_high"] = ("stage", low), ("stage", high)
            data[f"{m}_p_value"] = ("stage", (1 + np.sum(nm >= mean - 1e-12, axis=0)) / (1 + P))
        else:
            for suffix in ("null_mean", "null_low", "null_high", "p_value"):
                data[f"{m}_{suffix}"] = ("stage", np.full(G, np.nan))
    return xr.Dataset(
        data,
        coords={
            "stage": np.arange(G),
            "fraction": ("stage", np.linspace(0, 1, G)),
            "subject": a_names,
        },
        attrs=provenance(
            "cohort_similarity",
            by=list(by_t),
            conditions=conditions,
            measures=list(measures),
            n_animals=A,
            n_networks=len(n_means),
            n_perm=P,
            seed=int(seed),
            confidence=float(confidence),
            stages="grid stage g takes each subject's session nearest in fraction of its sessions",
            null="each animal's condition labels shuffled within the session, networks kept",
        ),
    )
