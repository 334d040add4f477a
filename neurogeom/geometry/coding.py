"""Coding schemes of a population: how its units share the code for a set of classes.

A layer's activity (``points`` of shape (n_points, n_units), one class label per point) is summarised
by each unit's **tuning** (its mean response to every class, a units x classes matrix) and scored
for the three schemes van Meegen & Sompolinsky (2025) find in wide networks learning
classification:

- **analog**: every unit responds to every class, with strengths that vary continuously from unit
  to unit (the tuning vectors fill a subspace);
- **redundant**: the tuning vectors fall into a few tight clusters, each code shared by many units;
- **sparse**: only a small subset of the units carries a code at all (the rest stay near baseline).

A population that fits none of them cleanly (some units clustered, others spread) is **mixed**. The
scores and the rule are in :func:`coding_scheme`; any population (a recording or a network layer)
goes in, as plain arrays.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.cluster.hierarchy import fcluster, linkage

from neurogeom._provenance import provenance
from neurogeom.geometry import _validate
from neurogeom.geometry.registry import Output, register_measure

__all__ = ["SCHEMES", "coding_scheme", "tuning_matrix"]

SCHEMES = ("analog", "redundant", "sparse", "mixed")
SCORES = (
    "coding_fraction",
    "active_fraction",
    "sparseness",
    "selectivity",
    "redundancy",
    "n_clusters",
    "n_directions",
    "clustered_fraction",
    "tuning_dimension",
)


def _points_labels(
    points: object, labels: object, caller: str
) -> tuple[np.ndarray, np.ndarray, list]:
    if labels is None:
        raise ValueError(f"{caller}() needs labels= (the class of each point).")
    categories = getattr(labels, "categories", None)  # pandas Categorical: declared classes
    if categories is not None:
        present = set(np.asarray(labels).tolist())
        empty = [c for c in categories if c not in present]
        if empty:
            raise ValueError(
                f"{caller}() got empty classes {empty[:5]} (declared categories with no points); "
                "drop them (labels.remove_unused_categories()) or give them points."
            )
    lab = np.asarray(labels)
    if lab.ndim == 1 and lab.dtype.kind == "f" and np.isnan(lab).any():
        raise ValueError(
            f"{caller}() got NaN labels for {int(np.isnan(lab).sum())} points; give every point "
            "a class or drop the unlabelled points."
        )
    try:
        x, codes, names = _validate.points_and_labels(points, labels, caller=caller)
    except ValueError as exc:
        if "at least 2 manifolds" in str(exc):
            raise ValueError(
                f"{caller}() needs at least 2 classes (distinct labels); a coding scheme says "
                "how units share the code for several classes. Pass points from two or more "
                "classes."
            ) from None
        raise
    return x, codes, names


def tuning_matrix(points: np.ndarray, labels: np.ndarray) -> xr.DataArray:
    """Per-unit tuning: the mean response of every unit to every class.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_units)
        Activity (any unit: rates in Hz, counts, network activations).
    labels : ndarray of shape (n_points,)
        Class of each point (at least 2 classes, each with at least one point).

    Returns
    -------
    xarray.DataArray
        Dims (``unit``, ``manifold``), the manifold coord holding the class labels (sorted), in the
        units of ``points``.

    See Also
    --------
    coding_scheme : scores and the scheme built on this matrix.

    Examples
    --------
    >>> import numpy as np
    >>> t = tuning_matrix(np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]), np.array([0, 0, 1]))
    >>> t.values.tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    x, codes, names = _points_labels(points, labels, "tuning_matrix")
    return xr.DataArray(
        _class_means(x, codes, len(names)),
        dims=("unit", "manifold"),
        coords={"manifold": np.asarray(names)},
        name="tuning",
    )


def _class_means(x: np.ndarray, codes: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_units, n_classes) mean of every unit in every class."""
    sums = np.zeros((n_classes, x.shape[1]))
    np.add.at(sums, codes, x)
    return (sums / np.bincount(codes, minlength=n_classes)[:, None]).T


def _effective_clusters(vectors: np.ndarray, distance: float) -> tuple[np.ndarray, float]:
    """Average-linkage clusters of ``vectors`` cut at ``distance``: (sizes, participation ratio)."""
    if len(vectors) == 1:
        return np.array([1]), 1.0

    tree = linkage(vectors, method="average", metric="euclidean")
    ids = fcluster(tree, t=distance, criterion="distance")
    sizes = np.bincount(ids)[1:]
    sizes = sizes[sizes > 0]
    return sizes, float(sizes.sum() ** 2 / np.sum(sizes.astype(float) ** 2))


def _scores(
    tuning: np.ndarray,
    *,
    active_threshold: float,
    response_threshold: float,
    cluster_distance: float,
    min_cluster_fraction: float,
) -> dict[str, float]:
    """Every score of one tuning matrix (n_units, n_classes), baseline already removed."""
    n_units, n_classes = tuning.shape
    norms = np.linalg.norm(tuning, axis=1)
    top = norms.max()
    if not top > 0:
        raise ValueError(
            "coding_scheme() got a population with no tuning: every unit's class means equal its "
            "baseline. Check the input (or use baseline='zero' for signed activity)."
        )
    active = (norms >= active_threshold * top) & (norms > 0)
    t = tuning[active]
    mag = np.abs(t)
    peak = mag.max(axis=1)
    responds = mag >= response_threshold * peak[:, None]
    others = (mag.sum(axis=1) - peak) / max(n_classes - 1, 1)
    selectivity = (peak - others) / (peak + others)
    rms = np.sqrt(np.mean(np.sum(t**2, axis=1)))
    sizes, n_eff = _effective_clusters(t / rms, cluster_distance)
    big = max(3.0, min_cluster_fraction * len(t))
    clustered = float(sizes[sizes >= big].sum() / len(t)) if len(t) > 1 else 0.0
    unit = t / np.linalg.norm(t, axis=1, keepdims=True)
    _, n_dir = _effective_clusters(unit, cluster_distance)
    lam = np.linalg.svd(t, compute_uv=False) ** 2
    power = norms**2
    return {
        "coding_fraction": float(power.sum() ** 2 / (n_units * np.sum(power**2))),
        "active_fraction": float(active.mean()),
        "sparseness": float(responds.mean()),
        "selectivity": float(selectivity.mean()),
        "redundancy": float(1.0 / n_eff),
        "n_clusters": n_eff,
        "n_directions": n_dir,
        "clustered_fraction": clustered,
        "tuning_dimension": float(lam.sum() ** 2 / np.sum(lam**2)),
    }


def _classify(s: dict[str, float], max_coding_fraction: float) -> str:
    if s["coding_fraction"] <= max_coding_fraction:
        return "sparse"
    if s["clustered_fraction"] >= 2.0 / 3.0:
        return "redundant"
    if s["clustered_fraction"] <= 1.0 / 3.0:
        return "analog"
    return "mixed"


def _remove_baseline(tuning: np.ndarray, baseline: str) -> np.ndarray:
    if baseline == "min":
        return tuning - tuning.min(axis=1, keepdims=True)
    return tuning


@register_measure(
    kind="coding",
    direction="larger_is_more_redundant",
    invariances=("permutation of units", "isotropic scaling"),
    citation="van Meegen & Sompolinsky, Nat. Commun. 16, 3354 (2025)",
    outputs=(
        Output(
            "redundancy",
            direction="larger_is_more_redundant",
            kind="coding",
            label="redundancy",
            units="probability, 0 to 1",
        ),
        Output(
            "tuning_dimension",
            direction="larger_is_more_dimensional",
            kind="dimension",
            label="tuning dimension",
            units="dimensions",
        ),
    ),
)
def coding_scheme(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    baseline: str = "zero",
    active_threshold: float = 0.2,
    response_threshold: float = 0.5,
    cluster_distance: float = 0.1,
    min_cluster_fraction: float = 0.02,
    max_coding_fraction: float = 0.25,
    n_boot: int = 0,
    seed: int = 0,
) -> xr.Dataset:
    """Tuning, selectivity, sparseness, redundancy and the coding scheme of a population.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_units)
        Activity of one layer or recorded population (one row per trial or input).
    labels : ndarray of shape (n_points,)
        Class of each point; at least 2 classes.
    baseline : {"zero", "min"}, default="zero"
        What a unit's response is measured from: ``"zero"`` (network activations, where 0 is
        silent, and signed activity) or ``"min"`` (each unit's smallest class mean, for firing
        rates with a spontaneous rate).
    active_threshold : float, default=0.2
        A unit carries a code ("is active") when the norm of its tuning vector is at least this
        fraction of the largest norm in the population.
    response_threshold : float, default=0.5
        An active unit responds to a class when the magnitude of its mean response to it is at
        least this fraction of its largest one.
    cluster_distance : float, default=0.1
        Average-linkage cut for clustering the active units' tuning vectors, each divided by the
        root-mean-square tuning norm of the active units (so strengths count, not only directions;
        for ``n_directions`` the unit-norm vectors are clustered with the same cut).
    min_cluster_fraction : float, default=0.02
        A cluster holding at least this fraction of the active units, and at least 3 of them, is
        a shared code.
    max_coding_fraction : float, default=0.25
        At or below this coding fraction the scheme is sparse.
    n_boot : int, default=0
        Bootstrap resamples of the points within each class for the ``*_sem`` values (their
        standard deviation over resamples); 0 leaves them NaN.
    seed : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    xarray.Dataset
        0-d scores, each with ``<score>_sem``:

        - ``coding_fraction``: the effective fraction of units carrying the tuning, the
          participation ratio (sum r_i^2)^2 / (n_units sum r_i^4) of the tuning norms r_i (1 when
          all units are equally tuned, k / n_units when k units carry it alone; 0.6 for Gaussian
          tuning in 3 classes): population sparseness without a threshold;
        - ``active_fraction``: fraction of units at or above ``active_threshold`` (the units the
          scores below are computed on);
        - ``sparseness``: mean over active units of the fraction of classes a unit responds to
          (1/n_classes for one-class units, 1 for units responding to all);
        - ``selectivity``: mean over active units of (peak - mean other) / (peak + mean other) of
          the response magnitudes (0: equal to all classes, 1: one class only);
        - ``redundancy``: probability that two active units share a code cluster (the inverse of
          ``n_clusters``);
        - ``n_clusters``: effective number of code clusters, the participation ratio
          (sum n_k)^2 / sum n_k^2 of the cluster sizes;
        - ``n_directions``: the same for the unit-norm tuning vectors (distinct tuning directions);
        - ``clustered_fraction``: fraction of active units in shared code clusters;
        - ``tuning_dimension``: participation ratio of the squared singular values of the active
          units' tuning matrix (at most n_classes);

        ``scheme`` (0-d str), and ``tuning`` with dims (``unit``, ``manifold``), the class means
        after the baseline is removed; coord ``n_points`` (points per class) on ``manifold``. attrs: estimator, neurogeom_version, every threshold,
        ``rule``, ``scheme``, ``sem`` ("none" or "bootstrap over points within class").

    Notes
    -----
    The rule, applied to the point estimates: **sparse** if ``coding_fraction`` <=
    ``max_coding_fraction`` (only a small subset of units has a code); otherwise **redundant** if
    ``clustered_fraction`` >= 2/3 (most active units share a few codes), **analog** if it is <= 1/3
    (the strengths vary continuously from unit to unit), else **mixed**. The names follow the
    glossary of van Meegen & Sompolinsky (2025): a unit's code is the subset of classes that
    activate it.

    Clustering costs memory of order n_active**2 (about 0.4 GB for 10,000 active units).

    With a one-dimensional tuning subspace (``tuning_dimension`` near 1, e.g. two classes coded
    by opposite responses) a continuum of strengths along the line can fall into clusters at
    this cut and read as redundant; look at ``tuning_dimension`` and ``n_directions`` there.

    Invariant to: permutation of units, isotropic scaling.
    Direction: larger_is_more_redundant (``redundancy``).

    See Also
    --------
    tuning_matrix : the per-unit tuning alone.
    neurogeom.geometry.participation_ratio : the dimension of the points themselves.

    References
    ----------
    van Meegen & Sompolinsky, "Coding schemes in neural networks learning classification tasks",
    Nat. Commun. 16, 3354 (2025).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(np.arange(3), 20)
    >>> codes = np.repeat(np.eye(3), 30, axis=0)            # 90 units, 3 shared codes
    >>> points = codes[:, labels].T + 0.01 * rng.standard_normal((60, 90))
    >>> str(coding_scheme(points, labels).scheme.values)
    'redundant'
    """
    caller = "coding_scheme"
    x, codes, names = _points_labels(points, labels, caller)
    n_classes = len(names)
    baseline = _validate.choice(baseline, "baseline", ("zero", "min"), caller)
    thresholds = {
        "active_threshold": active_threshold,
        "response_threshold": response_threshold,
        "cluster_distance": cluster_distance,
        "min_cluster_fraction": min_cluster_fraction,
        "max_coding_fraction": max_coding_fraction,
    }
    for name, value in thresholds.items():
        v = _validate.finite_real(value, name, caller, minimum=0.0)
        if name != "cluster_distance" and v > 1:
            raise ValueError(f"{caller}() needs {name} between 0 and 1; got {value!r}.")
    n_boot = _validate.positive_int(n_boot, "n_boot", caller, minimum=0)
    score_args = {k: v for k, v in thresholds.items() if k != "max_coding_fraction"}
    tuning = _remove_baseline(_class_means(x, codes, n_classes), baseline)
    scores = _scores(tuning, **score_args)
    scheme = _classify(scores, max_coding_fraction)
    sems = dict.fromkeys(scores, float("nan"))
    if n_boot:
        rng = np.random.default_rng(seed)
        groups = [np.flatnonzero(codes == c) for c in range(n_classes)]
        boots = []
        for _ in range(n_boot):
            idx = np.concatenate([rng.choice(g, size=g.size, replace=True) for g in groups])
            t = _remove_baseline(_class_means(x[idx], codes[idx], n_classes), baseline)
            boots.append(_scores(t, **score_args))
        sems = {k: float(np.std([b[k] for b in boots], ddof=1)) for k in scores}
    rule = (
        f"sparse if coding_fraction <= {max_coding_fraction}; else redundant if "
        "clustered_fraction >= 2/3; analog if clustered_fraction <= 1/3; else mixed"
    )
    data: dict[str, object] = {}
    for k in SCORES:
        data[k] = ((), scores[k])
        data[f"{k}_sem"] = ((), sems[k])
    data["scheme"] = ((), scheme)
    data["tuning"] = (("unit", "manifold"), tuning)
    return xr.Dataset(
        data,
        coords={
            "manifold": np.asarray(names),
            "n_points": ("manifold", np.bincount(codes, minlength=n_classes).astype(np.int64)),
        },
        attrs=provenance(
            caller,
            baseline=baseline,
            **thresholds,
            n_boot=n_boot,
            seed=seed,
            scheme=scheme,
            rule=rule,
            sem="bootstrap over points within class" if n_boot else "none",
            n_classes=n_classes,
        ),
    )
