"""Representation similarity and baseline measures: CKA, RSA, Procrustes shape distance,
cross-validated linear decoding and the participation-ratio dimension.

Similarity measures compare two representations of the *same* stimuli or conditions:
``X`` of shape (n_conditions, n_features_x) and ``Y`` of shape (n_conditions, n_features_y), with
rows in the same order. The feature counts may differ (e.g. a brain area and a network layer).
Names say the direction: ``*_similarity`` is larger for more similar representations (1 =
identical up to the stated invariances); ``*_distance`` is 0 for identical ones.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from neurogeom._provenance import provenance
from neurogeom.geometry import _validate
from neurogeom.geometry.registry import register_measure

__all__ = [
    "ProcrustesDistance",
    "angular_shape_distance",
    "cka_similarity",
    "compare_rdms",
    "debiased_cka_similarity",
    "decoding_accuracy",
    "participation_ratio",
    "procrustes_distance",
    "rdm",
    "rsa_similarity",
]


# ---- validation and the result layout -------------------------------------------------------------


def _as_matrix(X: object, name: str, *, min_rows: int = 2, caller: str = "rdm") -> np.ndarray:
    return _validate.representation(X, name, caller, min_rows=min_rows)


def _pair(X: object, Y: object, caller: str, *, min_rows: int = 2) -> tuple[np.ndarray, np.ndarray]:
    return _validate.representation_pair(X, Y, caller, min_rows=min_rows)


def _result(name: str, value: float, sem: float = float("nan"), **params: object) -> xr.Dataset:
    """The layout every measure returns: ``<name>`` and ``<name>_sem`` (NaN: no estimate), 0-d,
    with attrs from ``neurogeom._provenance.provenance``."""
    return xr.Dataset(
        {name: ((), float(value)), f"{name}_sem": ((), float(sem))},
        attrs=provenance(name, **params),
    )


# ---- CKA ---------------------------------------------------------------------------------------


def _unbiased_hsic(K: np.ndarray, L: np.ndarray) -> float:
    """Song et al. (2012) unbiased HSIC estimator from two Gram matrices (n >= 4)."""
    n = K.shape[0]
    K = K.copy()
    L = L.copy()
    np.fill_diagonal(K, 0.0)
    np.fill_diagonal(L, 0.0)
    k1, l1 = K.sum(axis=0), L.sum(axis=0)
    term = np.sum(K * L) + k1.sum() * l1.sum() / ((n - 1) * (n - 2)) - 2.0 * (k1 @ l1) / (n - 2)
    return float(term / (n * (n - 3)))


def _cka(X: np.ndarray, Y: np.ndarray, *, debiased: bool, caller: str) -> float:
    X, Y = _pair(X, Y, caller, min_rows=4 if debiased else 2)
    Xc = X - X.mean(axis=0)
    Yc = Y - Y.mean(axis=0)
    if not (np.any(Xc) and np.any(Yc)):
        raise ValueError(
            f"{caller}() is undefined for a representation that is constant across conditions."
        )
    # both are scale invariant: rescale before any squared quantity (no overflow or underflow)
    Xc, _ = _validate.unit_scale(Xc, "X", caller)
    Yc, _ = _validate.unit_scale(Yc, "Y", caller)
    if debiased:
        K, L = Xc @ Xc.T, Yc @ Yc.T
        denom = np.sqrt(_unbiased_hsic(K, K) * _unbiased_hsic(L, L))
        if not denom > 0:
            raise ValueError(
                "debiased CKA is undefined here: a representation has (near) zero unbiased "
                "self-similarity (constant rows, or too few conditions for its spread)."
            )
        return _unbiased_hsic(K, L) / float(denom)
    xx = np.linalg.norm(Xc.T @ Xc)
    yy = np.linalg.norm(Yc.T @ Yc)
    if xx == 0 or yy == 0:
        raise ValueError(
            "CKA is undefined for a representation that is constant across conditions."
        )
    return float(np.linalg.norm(Yc.T @ Xc) ** 2 / (xx * yy))


@register_measure(
    kind="similarity",
    direction="larger_is_more_similar",
    invariances=("rotation", "reflection", "translation", "isotropic scaling"),
    citation="Kornblith, Norouzi, Lee & Hinton, ICML 2019",
    inputs="pair",
    label="linear CKA",
    units="similarity, 0 to 1",
)
def cka_similarity(X: np.ndarray, Y: np.ndarray) -> xr.Dataset:
    """Linear centred kernel alignment (CKA) between two representations.

    Parameters
    ----------
    X : ndarray of shape (n_conditions, n_features_x)
    Y : ndarray of shape (n_conditions, n_features_y)
        Same conditions, same row order.

    Returns
    -------
    xarray.Dataset
        0-d ``cka_similarity``: ``||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with
        column-centred ``Xc``, ``Yc``; 1 for identical representations (up to the
        invariances), near 0 for unrelated ones. ``cka_similarity_sem`` is NaN (no estimate).
        attrs: estimator, neurogeom_version, n_conditions.

    See Also
    --------
    debiased_cka_similarity : Without the bias at few samples.
    rsa_similarity : Similarity of dissimilarity matrices.

    Notes
    -----
    Invariant to: rotation, reflection, translation, isotropic scaling.
    Direction: larger_is_more_similar (1 = identical up to the invariances).

    Each representation is divided by a power of two near its RMS norm before any squared
    quantity, so values at overall scales from 1e-300 to 1e200 equal those at unit scale to
    rounding.

    Not invariant to general invertible linear maps (unlike CCA). Not a metric. Biased upward
    at few conditions and many features: see :func:`debiased_cka_similarity`.

    References
    ----------
    Kornblith, Norouzi, Lee & Hinton, "Similarity of neural network representations revisited",
    ICML 2019.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).standard_normal((30, 5))
    >>> round(float(cka_similarity(X, 3 * X + 1).cka_similarity), 6)
    1.0
    """
    value = _cka(X, Y, debiased=False, caller="cka_similarity")
    return _result("cka_similarity", value, n_conditions=np.shape(X)[0])


@register_measure(
    kind="similarity",
    direction="larger_is_more_similar",
    invariances=("rotation", "reflection", "translation", "isotropic scaling"),
    citation="Kornblith, Norouzi, Lee & Hinton, ICML 2019; Song et al., JMLR 2012 (unbiased HSIC)",
    inputs="pair",
    label="debiased linear CKA",
    units="similarity, at most 1",
)
def debiased_cka_similarity(X: np.ndarray, Y: np.ndarray) -> xr.Dataset:
    """Linear CKA with the unbiased HSIC estimator (Song et al. 2012; Nguyen et al. 2021).

    Removes the positive bias of :func:`cka_similarity` at few conditions and many features:
    independent representations score about 0 instead of well above it.

    Parameters
    ----------
    X : ndarray of shape (n_conditions, n_features_x)
    Y : ndarray of shape (n_conditions, n_features_y)
        Same conditions (at least 4), same row order.

    Returns
    -------
    xarray.Dataset
        0-d ``debiased_cka_similarity`` (1 for identical representations, about 0 for
        independent ones, and it can be slightly negative) and ``debiased_cka_similarity_sem``
        (NaN). attrs: estimator, neurogeom_version, n_conditions.

    See Also
    --------
    cka_similarity : The plain estimate.

    Notes
    -----
    Invariant to: rotation, reflection, translation, isotropic scaling.
    Direction: larger_is_more_similar (1 = identical up to the invariances).

    References
    ----------
    Song, Smola, Gretton, Bedo & Borgwardt, JMLR 13 (2012) (unbiased HSIC).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> Y = X @ Q  # a rotation of X
    >>> round(debiased_cka_similarity(X, Y)["debiased_cka_similarity"].item(), 10)
    1.0
    """
    value = _cka(X, Y, debiased=True, caller="debiased_cka_similarity")
    return _result("debiased_cka_similarity", value, n_conditions=np.shape(X)[0])


# ---- RSA ---------------------------------------------------------------------------------------

RDM_METRICS = ("correlation", "euclidean", "crossnobis")


def _condition_means(
    points: np.ndarray, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if labels is None:
        return points, np.arange(points.shape[0])
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != points.shape[0]:
        raise ValueError(
            f"labels must be 1-D with one entry per row: {points.shape[0]} rows, labels shape "
            f"{labels.shape}."
        )
    conds, inverse = np.unique(labels, return_inverse=True)
    means = np.zeros((conds.size, points.shape[1]))
    np.add.at(means, inverse, points)
    means /= np.bincount(inverse)[:, None]
    return means, conds


def _crossnobis(
    points: np.ndarray, labels: np.ndarray, splits: np.ndarray, noise: str
) -> tuple[np.ndarray, np.ndarray]:
    conds = np.unique(labels)
    parts = np.unique(splits)
    if parts.size < 2:
        raise ValueError(
            f"crossnobis needs at least 2 independent splits (runs, sessions, folds); got "
            f"{parts.size}. Pass splits= with a split id per trial."
        )
    n_feat = points.shape[1]
    means = np.full((parts.size, conds.size, n_feat), np.nan)
    resid = []
    for a, part in enumerate(parts):
        for c, cond in enumerate(conds):
            rows = points[(splits == part) & (labels == cond)]
            if rows.shape[0] == 0:
                raise ValueError(
                    f"condition {cond!r} has no trials in split {part!r}; crossnobis needs every "
                    "condition in every split."
                )
            means[a, c] = rows.mean(axis=0)
            resid.append(rows - means[a, c])
    if noise == "residual":
        from sklearn.covariance import LedoitWolf

        residuals = np.vstack(resid)
        if residuals.shape[0] <= conds.size * parts.size:
            raise ValueError(
                "noise='residual' needs repeated trials per condition and split to estimate the "
                "noise covariance; use noise='identity' (cross-validated Euclidean) instead."
            )
        precision = LedoitWolf(assume_centered=True).fit(residuals).precision_
    elif noise == "identity":
        precision = np.eye(n_feat)
    else:
        raise ValueError(f"noise must be 'residual' or 'identity'; got {noise!r}.")
    # pattern differences per split: (n_parts, n_pairs, n_feat)
    i, j = np.triu_indices(conds.size, k=1)
    diffs = means[:, i, :] - means[:, j, :]
    whitened = diffs @ precision
    total = np.zeros(i.size)
    n_cross = 0
    for a in range(parts.size):
        for b in range(parts.size):
            if a != b:
                total += np.einsum("pf,pf->p", whitened[a], diffs[b])
                n_cross += 1
    dist = np.zeros((conds.size, conds.size))
    dist[i, j] = dist[j, i] = total / n_cross / n_feat
    return dist, conds


def rdm(
    points: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    metric: str = "correlation",
    splits: np.ndarray | None = None,
    noise: str = "residual",
) -> xr.DataArray:
    """Representational dissimilarity matrix (RDM) between conditions.

    Parameters
    ----------
    points : ndarray of shape (n_rows, n_features)
        Condition patterns, or trials when ``labels`` is given.
    labels : ndarray of shape (n_rows,), optional
        Condition of each row; rows are averaged per condition first (correlation, euclidean).
        Required for ``crossnobis``.
    metric : {"correlation", "euclidean", "crossnobis"}, default="correlation"
        ``correlation``: 1 - Pearson r between patterns. ``euclidean``: squared Euclidean
        distance per feature (rsatoolbox's convention). ``crossnobis``: cross-validated
        Mahalanobis distance per feature, ``mean_{a != b} (m_i^a - m_j^a)^T S^-1 (m_i^b - m_j^b)``
        over pairs of independent splits ``a, b``; unbiased (0 in expectation for identical
        conditions, so it can be negative).
    splits : ndarray of shape (n_rows,), optional
        Independent split (run, session, fold) of each trial; required for ``crossnobis``.
    noise : {"residual", "identity"}, default="residual"
        Noise covariance ``S`` for crossnobis: Ledoit-Wolf shrinkage estimate from the residuals
        around each (condition, split) mean, or the identity (cross-validated Euclidean).

    Returns
    -------
    xarray.DataArray of shape (n_conditions, n_conditions)
        Dims ``condition`` and ``condition_``, coords the sorted condition labels (or row
        indices), attrs ``metric``.

    See Also
    --------
    compare_rdms : Compare two RDMs.
    rsa_similarity : Both steps in one call.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> d = rdm(points, labels)
    >>> d.dims, d.shape
    (('condition', 'condition_'), (3, 3))
    """
    points = _as_matrix(points, "points")
    if metric not in RDM_METRICS:
        raise ValueError(f"unknown RDM metric {metric!r}; expected one of {RDM_METRICS}.")
    if metric == "crossnobis":
        if labels is None or splits is None:
            raise ValueError(
                "metric='crossnobis' needs trial-level points with labels= (condition of each "
                "trial) and splits= (independent run/fold of each trial)."
            )
        labels = np.asarray(labels)
        splits = np.asarray(splits)
        if labels.shape != (points.shape[0],) or splits.shape != (points.shape[0],):
            raise ValueError(
                f"labels and splits need one entry per row ({points.shape[0]}); got shapes "
                f"{labels.shape} and {splits.shape}."
            )
        dist, conds = _crossnobis(points, labels, splits, noise)
    else:
        means, conds = _condition_means(points, labels)
        if means.shape[0] < 2:
            raise ValueError("an RDM needs at least 2 conditions.")
        if metric == "correlation":
            centred = means - means.mean(axis=1, keepdims=True)
            norms = np.linalg.norm(centred, axis=1)
            if np.any(norms == 0):
                raise ValueError(
                    "correlation distance is undefined for a condition pattern that is constant "
                    "across features; use metric='euclidean'."
                )
            unit = centred / norms[:, None]
            dist = 1.0 - unit @ unit.T
        else:
            sq = np.sum(means**2, axis=1)
            dist = np.maximum(sq[:, None] + sq[None, :] - 2 * means @ means.T, 0.0)
            dist /= means.shape[1]
        np.fill_diagonal(dist, 0.0)
    return xr.DataArray(
        dist,
        dims=("condition", "condition_"),
        coords={"condition": conds, "condition_": conds},
        attrs={"metric": metric},
        name="rdm",
    )


def _kendall_tau_a(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall's tau-a: (concordant - discordant) / (n (n - 1) / 2), ties count as neither."""
    n = x.size
    tau_b = stats.kendalltau(x, y, variant="b").statistic
    if not np.isfinite(tau_b):
        return 0.0
    n0 = n * (n - 1) / 2

    def tied_pairs(v: np.ndarray) -> float:
        counts = np.unique(v, return_counts=True)[1]
        return float(np.sum(counts * (counts - 1) / 2))

    return float(tau_b * np.sqrt((n0 - tied_pairs(x)) * (n0 - tied_pairs(y))) / n0)


def compare_rdms(rdm_x: object, rdm_y: object, *, method: str = "spearman") -> float:
    """Rank correlation between the upper triangles of two RDMs.

    Parameters
    ----------
    rdm_x, rdm_y : array_like of shape (n_conditions, n_conditions)
    method : {"spearman", "kendall_tau_a"}, default="spearman"
        Kendall's tau-a (Nili et al. 2014) is preferred when a model RDM has many ties.

    Returns
    -------
    float
        In [-1, 1]; 1 for RDMs with the same ordering of dissimilarities.

    See Also
    --------
    rdm : Build an RDM.
    rsa_similarity : Both steps in one call.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> d = rdm(points, labels)
    >>> compare_rdms(d, d)
    1.0
    """
    a, b = np.asarray(rdm_x, dtype=float), np.asarray(rdm_y, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape != b.shape:
        raise ValueError(
            f"RDMs must be square and of the same size; got shapes {a.shape} and {b.shape}."
        )
    if a.shape[0] < 3:
        raise ValueError("comparing RDMs needs at least 3 conditions (3 dissimilarities).")
    i, j = np.triu_indices(a.shape[0], k=1)
    x, y = a[i, j], b[i, j]
    if method == "spearman":
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            raise ValueError("an RDM with all dissimilarities equal has no rank correlation.")
        return float(stats.spearmanr(x, y).statistic)
    if method == "kendall_tau_a":
        return _kendall_tau_a(x, y)
    raise ValueError(f"unknown method {method!r}; expected 'spearman' or 'kendall_tau_a'.")


@register_measure(
    kind="similarity",
    direction="larger_is_more_similar",
    invariances=("isotropic scaling", "permutation of units"),
    citation="Kriegeskorte, Mur & Bandettini 2008; Nili et al. 2014",
    inputs="pair",
    label="RSA similarity",
    units="rank correlation of RDMs, -1 to 1",
)
def rsa_similarity(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    metric: str = "correlation",
    method: str = "spearman",
    labels: np.ndarray | None = None,
    splits: np.ndarray | None = None,
    noise: str = "residual",
) -> xr.Dataset:
    """Representational similarity analysis: rank correlation of the two representations' RDMs.

    Parameters
    ----------
    X : ndarray of shape (n_rows, n_features_x)
    Y : ndarray of shape (n_rows, n_features_y)
        Same rows (conditions, or trials when ``labels`` is given) in the same order.
    metric : {"correlation", "euclidean", "crossnobis"}, default="correlation"
        Dissimilarity used for both RDMs (see :func:`rdm`).
    method : {"spearman", "kendall_tau_a"}, default="spearman"
        How the RDMs are compared (see :func:`compare_rdms`).
    labels, splits, noise
        Passed to :func:`rdm` for both representations.

    Returns
    -------
    xarray.Dataset
        0-d ``rsa_similarity`` in [-1, 1] (1 when the two RDMs order the condition pairs
        identically) and ``rsa_similarity_sem`` (NaN). attrs: estimator, neurogeom_version,
        n_conditions, metric, method, noise.

    See Also
    --------
    rdm : The dissimilarity matrices compared.
    cka_similarity : Similarity without condition labels.

    Notes
    -----
    Invariant to: isotropic scaling, permutation of units.
    Direction: larger_is_more_similar (1 = same ordering of dissimilarities).

    These are the invariances of the default correlation distance, which is also invariant to
    adding a constant to, or scaling, one condition's pattern, but not to rotations of the unit
    space (the mean over units changes). ``metric="euclidean"`` and crossnobis with
    ``noise="identity"`` are invariant to rotation, reflection and translation too. Ranks make
    the score invariant to any monotone transformation of the dissimilarities. Not a metric.

    References
    ----------
    Kriegeskorte, Mur & Bandettini, Front. Syst. Neurosci. 2, 4 (2008).
    Nili et al., PLoS Comput. Biol. 10, e1003553 (2014).
    Walther et al., NeuroImage 137, 188-200 (2016) (crossnobis).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> rsa_similarity(points, 2 * points + 1, labels=labels)["rsa_similarity"].item()
    1.0
    """
    X, Y = _pair(X, Y, "rsa_similarity", min_rows=3)
    rx = rdm(X, labels, metric=metric, splits=splits, noise=noise)
    ry = rdm(Y, labels, metric=metric, splits=splits, noise=noise)
    value = compare_rdms(rx.values, ry.values, method=method)
    return _result(
        "rsa_similarity",
        value,
        n_conditions=rx.shape[0],
        metric=metric,
        method=method,
        noise=noise if metric == "crossnobis" else "none",
    )


# ---- Procrustes / shape metrics ----------------------------------------------------------------


def _pad(A: np.ndarray, n_features: int) -> np.ndarray:
    if A.shape[1] == n_features:
        return A
    return np.hstack([A, np.zeros((A.shape[0], n_features - A.shape[1]))])


class ProcrustesDistance:
    """Procrustes shape distance between two representations (a netrep-style metric).

    ``fit(X, Y)`` learns the rotation/reflection ``Q`` that best aligns ``X`` to ``Y`` (after
    centring and, for the angular score, normalising); ``score(X, Y)`` gives the distance on any
    rows, e.g. held-out conditions or trials. Fewer features are zero-padded.

    Parameters
    ----------
    score_method : {"angular", "euclidean"}, default="angular"
        ``angular``: ``arccos(<X Q, Y> / (||X|| ||Y||))`` in radians, in [0, pi/2] after
        fitting; invariant to isotropic scaling. ``euclidean``: ``||X Q - Y||_F`` on the
        centred data, in the data's units.
    center : bool, default=True
        Centre the columns (then translation invariant).

    Attributes
    ----------
    rotation_ : ndarray of shape (n_features, n_features)
        The orthogonal alignment of (padded) ``X`` onto ``Y``.
    mean_x_, mean_y_ : ndarray
        Column means removed at fit time.

    See Also
    --------
    procrustes_distance : The distance in one call.
    angular_shape_distance : The angular score as a function.

    Notes
    -----
    Invariant to: rotation, reflection, translation, isotropic scaling.
    Direction: larger_is_less_similar (0 = identical up to the invariances).

    Isotropic scaling applies to the angular score only. Both scores are metrics (symmetric,
    triangle inequality) on shapes; the angular one on the sphere of normalised shapes.

    References
    ----------
    Williams, Kunz, Kornblith & Linderman, "Generalized shape metrics on neural
    representations", NeurIPS 2021.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> Y = X @ Q  # a rotation of X
    >>> round(ProcrustesDistance().fit(X, Y).score(X, Y), 6)
    0.0
    """

    def __init__(self, *, score_method: str = "angular", center: bool = True) -> None:
        self.score_method = score_method
        self.center = center

    def _prepare(self, X: np.ndarray, Y: np.ndarray, fit: bool) -> tuple[np.ndarray, np.ndarray]:
        if self.score_method not in ("angular", "euclidean"):
            raise ValueError(
                f"score_method must be 'angular' or 'euclidean'; got {self.score_method!r}."
            )
        X, Y = _pair(X, Y, "ProcrustesDistance")
        if fit:
            self.n_features_ = max(X.shape[1], Y.shape[1])
            self.mean_x_ = X.mean(axis=0) if self.center else np.zeros(X.shape[1])
            self.mean_y_ = Y.mean(axis=0) if self.center else np.zeros(Y.shape[1])
        elif (X.shape[1], Y.shape[1]) != (self.mean_x_.size, self.mean_y_.size):
            raise ValueError(
                f"score needs the feature counts seen in fit ({self.mean_x_.size}, "
                f"{self.mean_y_.size}); got ({X.shape[1]}, {Y.shape[1]})."
            )
        Xc = _pad(X - self.mean_x_, self.n_features_)
        Yc = _pad(Y - self.mean_y_, self.n_features_)
        if self.score_method == "angular":
            nx, ny = np.linalg.norm(Xc), np.linalg.norm(Yc)
            if nx == 0 or ny == 0:
                raise ValueError(
                    "angular shape distance is undefined for a constant representation."
                )
            Xc, Yc = Xc / nx, Yc / ny
        return Xc, Yc

    def fit(self, X: np.ndarray, Y: np.ndarray) -> ProcrustesDistance:
        """Learn the alignment of ``X`` (n, p) onto ``Y`` (n, q); returns self.

        Parameters
        ----------
        X : ndarray of shape (n_samples, p)
            Responses of the first system, one row per stimulus or trial.
        Y : ndarray of shape (n_samples, q)
            Responses of the second system, the same rows.

        Returns
        -------
        ProcrustesDistance
            ``self``, fitted.

        See Also
        --------
        score : The distance under the fitted alignment.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(20, 5))
        >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        >>> Y = X @ Q  # a rotation of X
        >>> ProcrustesDistance().fit(X, Y).transform(X).shape
        (20, 5)
        """
        Xc, Yc = self._prepare(X, Y, fit=True)
        U, _, Vt = np.linalg.svd(Xc.T @ Yc)
        self.rotation_ = U @ Vt
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X`` centred, padded and rotated onto ``Y``'s frame (not normalised).

        Parameters
        ----------
        X : ndarray of shape (n_samples, p)
            Responses of the first system.

        Returns
        -------
        ndarray of shape (n_samples, max(p, q))
            ``X`` in ``Y``'s frame.

        See Also
        --------
        fit : Learns the alignment.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(20, 5))
        >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        >>> Y = X @ Q  # a rotation of X
        >>> metric = ProcrustesDistance(center=False).fit(X, Y)
        >>> np.allclose(metric.transform(X), Y)
        True
        """
        if not hasattr(self, "rotation_"):
            raise ValueError("This ProcrustesDistance is not fitted yet; call fit(X, Y) first.")
        X = _as_matrix(X, "X", min_rows=1, caller="ProcrustesDistance.transform")
        return _pad(X - self.mean_x_, self.n_features_) @ self.rotation_

    def score(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Distance between ``X`` and ``Y`` under the fitted alignment.

        Parameters
        ----------
        X : ndarray of shape (n_samples, p)
            Responses of the first system, one row per stimulus or trial.
        Y : ndarray of shape (n_samples, q)
            Responses of the second system, the same rows.

        Returns
        -------
        float
            The distance: 0 for the same shape, larger for more different.

        See Also
        --------
        fit_score : Fit and score the same rows.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(20, 5))
        >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        >>> Y = X @ Q  # a rotation of X
        >>> metric = ProcrustesDistance().fit(X, Y)
        >>> round(metric.score(X, Y), 6)
        0.0
        """
        if not hasattr(self, "rotation_"):
            raise ValueError("This ProcrustesDistance is not fitted yet; call fit(X, Y) first.")
        Xc, Yc = self._prepare(X, Y, fit=False)
        aligned = Xc @ self.rotation_
        if self.score_method == "euclidean":
            return float(np.linalg.norm(aligned - Yc))
        cos = np.sum(aligned * Yc) / (np.linalg.norm(aligned) * np.linalg.norm(Yc))
        return float(np.arccos(np.clip(cos, -1.0, 1.0)))

    def fit_score(self, X: np.ndarray, Y: np.ndarray) -> float:
        """Fit on ``X, Y`` and score the same rows.

        Parameters
        ----------
        X : ndarray of shape (n_samples, p)
            Responses of the first system, one row per stimulus or trial.
        Y : ndarray of shape (n_samples, q)
            Responses of the second system, the same rows.

        Returns
        -------
        float
            The distance after fitting on the same rows.

        See Also
        --------
        score : Score rows other than those fitted on.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(20, 5))
        >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
        >>> Y = X @ Q  # a rotation of X
        >>> round(ProcrustesDistance().fit_score(X, Y), 6)
        0.0
        """
        return self.fit(X, Y).score(X, Y)


@register_measure(
    kind="similarity",
    direction="larger_is_less_similar",
    invariances=("rotation", "reflection", "translation", "isotropic scaling"),
    citation="Williams, Kunz, Kornblith & Linderman, NeurIPS 2021",
    is_metric=True,
    inputs="pair",
    label="angular shape distance",
    units="radians",
)
def angular_shape_distance(X: np.ndarray, Y: np.ndarray, *, center: bool = True) -> xr.Dataset:
    """Angular Procrustes shape distance, in radians (0 = same shape).

    ``arccos`` of the largest cosine between the centred, normalised ``X`` rotated/reflected and
    ``Y``: ``arccos(||Xc^T Yc||_* / (||Xc||_F ||Yc||_F))`` with the nuclear norm ``||.||_*``.

    Parameters
    ----------
    X : ndarray of shape (n_conditions, n_features_x)
    Y : ndarray of shape (n_conditions, n_features_y)
    center : bool, default=True

    Returns
    -------
    xarray.Dataset
        0-d ``angular_shape_distance`` in radians, in [0, pi/2], and
        ``angular_shape_distance_sem`` (NaN). attrs: estimator, neurogeom_version,
        n_conditions, center.

    See Also
    --------
    procrustes_distance : The Euclidean version.
    ProcrustesDistance : Fit on some rows, score others.

    Notes
    -----
    Invariant to: rotation, reflection, translation, isotropic scaling.
    Direction: larger_is_less_similar (0 = identical up to the invariances).

    A metric: symmetric and satisfies the triangle inequality (Williams et al. 2021).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> Y = X @ Q  # a rotation of X
    >>> round(angular_shape_distance(X, Y)["angular_shape_distance"].item(), 6)
    0.0
    """
    value = ProcrustesDistance(score_method="angular", center=center).fit_score(X, Y)
    return _result("angular_shape_distance", value, n_conditions=np.shape(X)[0], center=center)


@register_measure(
    kind="similarity",
    direction="larger_is_less_similar",
    invariances=("rotation", "reflection", "translation"),
    citation="Williams, Kunz, Kornblith & Linderman, NeurIPS 2021",
    is_metric=True,
    inputs="pair",
    label="Procrustes distance",
    units="units of the data",
)
def procrustes_distance(X: np.ndarray, Y: np.ndarray, *, center: bool = True) -> xr.Dataset:
    """Euclidean Procrustes distance ``min_Q ||Xc Q - Yc||_F`` over orthogonal ``Q``.

    Parameters
    ----------
    X : ndarray of shape (n_conditions, n_features_x)
    Y : ndarray of shape (n_conditions, n_features_y)
    center : bool, default=True

    Returns
    -------
    xarray.Dataset
        0-d ``procrustes_distance`` in the data's units (0 for the same configuration up to
        rotation/reflection/translation) and ``procrustes_distance_sem`` (NaN). attrs:
        estimator, neurogeom_version, n_conditions, center.

    See Also
    --------
    angular_shape_distance : The angular version.
    ProcrustesDistance : Fit on some rows, score others.

    Notes
    -----
    Invariant to: rotation, reflection, translation.
    Direction: larger_is_less_similar (0 = identical up to the invariances).

    A metric. Not invariant to scale: normalise first, or use :func:`angular_shape_distance`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(20, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> Y = X @ Q  # a rotation of X
    >>> round(procrustes_distance(X, Y)["procrustes_distance"].item(), 6)
    0.0
    """
    value = ProcrustesDistance(score_method="euclidean", center=center).fit_score(X, Y)
    return _result("procrustes_distance", value, n_conditions=np.shape(X)[0], center=center)


# ---- decoding and dimension --------------------------------------------------------------------


@register_measure(
    kind="decoding",
    direction="larger_is_more_separable",
    invariances=("translation", "permutation of units"),
    citation="cross-validated logistic regression (scikit-learn)",
    label="decoding accuracy",
    units="fraction correct",
)
def decoding_accuracy(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    n_splits: int = 5,
    seed: int = 0,
    C: float = 1.0,
) -> xr.Dataset:
    """Cross-validated accuracy of a linear classifier of ``labels`` from ``points``.

    Standardised features, L2-regularised logistic regression (multinomial for more than 2
    classes), stratified ``n_splits``-fold cross-validation with seeded shuffling.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    labels : ndarray of shape (n_points,)
        Class of each point; every class needs at least ``n_splits`` points.
    n_splits : int, default=5
    seed : int, default=0
        Seeds the fold assignment; same seed, identical accuracy.
    C : float, default=1.0
        Inverse regularisation strength.

    Returns
    -------
    xarray.Dataset
        0-d ``decoding_accuracy``: mean held-out accuracy in [0, 1] (chance is about
        1 / n_classes for balanced classes), and ``decoding_accuracy_sem``: the standard error
        of the fold accuracies, ``std(ddof=1) / sqrt(n_splits)`` (folds share training points,
        so it is a rough guide). attrs: estimator, neurogeom_version, n_splits, seed, C,
        n_classes.

    See Also
    --------
    neurogeom.geometry.glue : Capacity of the same manifolds.

    Notes
    -----
    Invariant to: translation, permutation of units.
    Direction: larger_is_more_separable.

    Standardisation makes it invariant to per-unit scaling too, but not to rotations (the L2
    penalty acts on standardised axes). Not a metric.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> decoding_accuracy(points, labels)["decoding_accuracy"].item()
    0.73...
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    caller = "decoding_accuracy"
    X, y, names = _validate.points_and_labels(points, labels, caller=caller)
    n_splits = _validate.positive_int(n_splits, "n_splits", caller, minimum=2)
    counts = np.bincount(y)
    if counts.min() < n_splits:
        raise ValueError(
            f"{caller}() got class {names[int(np.argmin(counts))]!r} with {counts.min()} points, "
            f"fewer than n_splits={n_splits}; lower n_splits or merge sparse classes."
        )
    C = _validate.finite_real(C, "C", caller)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    scores = cross_val_score(model, X, y, cv=folds, scoring="accuracy")
    return _result(
        caller,
        float(np.mean(scores)),
        float(np.std(scores, ddof=1) / np.sqrt(n_splits)),
        n_splits=n_splits,
        seed=seed,
        C=C,
        n_classes=len(names),
    )


@register_measure(
    kind="dimension",
    direction="larger_is_more_dimensional",
    invariances=("rotation", "reflection", "translation", "isotropic scaling"),
    citation="Gao et al., bioRxiv 214262 (2017)",
    label="participation ratio",
    units="dimensions",
)
def participation_ratio(
    points: np.ndarray, labels: np.ndarray | None = None, *, of: str = "points"
) -> xr.Dataset:
    """Participation-ratio dimension ``(sum_i lam_i)^2 / sum_i lam_i^2`` of the covariance.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    labels : ndarray of shape (n_points,), optional
        Needed for ``of="centroids"``.
    of : {"points", "centroids"}, default="points"
        Covariance of all points, or of the class means (the dimension of the centre
        configuration).

    Returns
    -------
    xarray.Dataset
        0-d ``participation_ratio``, between 1 and min(n_points - 1, n_features) (equal to k
        for k orthogonal directions of equal variance), and ``participation_ratio_sem`` (NaN).
        attrs: estimator, neurogeom_version, of.

    See Also
    --------
    neurogeom.geometry.glue : Manifold dimension from capacity theory.

    Notes
    -----
    Invariant to: rotation, reflection, translation, isotropic scaling.
    Direction: larger_is_more_dimensional.

    References
    ----------
    Gao et al., "A theory of multineuronal dimensionality, dynamics and measurement",
    bioRxiv 214262 (2017).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([0, 1, 2], 10)
    >>> points = rng.normal(size=(30, 20)) + 3 * np.eye(20)[labels]
    >>> participation_ratio(points)["participation_ratio"].item()
    10.17...
    """
    caller = "participation_ratio"
    of = _validate.choice(of, "of", ("points", "centroids"), caller)
    X = _as_matrix(points, "points", caller=caller)
    if of == "centroids":
        if labels is None:
            raise ValueError(f"{caller}(of='centroids') needs labels= (the class of each point).")
        X, _, _ = _validate.points_and_labels(X, labels, caller=caller)
        X, _ = _condition_means(X, labels)
    centred = X - X.mean(axis=0)
    sv = np.linalg.svd(centred, compute_uv=False)
    lam = sv**2
    if lam.sum() == 0:
        raise ValueError(f"{caller}() is undefined for points with zero variance.")
    return _result(caller, float(lam.sum() ** 2 / np.sum(lam**2)), of=of)
