"""Per-manifold mean-field theoretic manifold analysis (MFTMA).

The estimator of the older manifold-capacity papers (Chung, Lee & Sompolinsky 2018; Cohen, Chung,
Lee & Sompolinsky 2020; Stephenson et al. 2019), as published in replicaMFT's
``manifold_analysis_corr``: each manifold is analysed on its own, against random labels, in its
own centre-normalised frame. It is kept for comparison with those papers; GLUE
(:func:`neurogeom.geometry.glue`) is the joint estimator. Never mix their radii or dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from threadpoolctl import threadpool_limits

from neurogeom import _provenance
from neurogeom._params import check_params
from neurogeom.geometry import _validate
from neurogeom.geometry._mftma_kernels import center_subspace, manifold_mean_field, qr_basis
from neurogeom.geometry.capacity import GLUE_OUTPUTS
from neurogeom.geometry.registry import register_measure

__all__ = ["mftma", "manifold_frames"]


def manifold_frames(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    remove_center_correlations: bool = True,
    n_reps: int = 10,
    seed: int | np.random.Generator = 0,
    canonical_signs: bool = True,
) -> dict:
    """Each manifold in its own centre-normalised frame, as the MFTMA estimator sees it.

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
    labels : ndarray of shape (n_points,)
    remove_center_correlations : bool, default=True
        Project out the low-rank subspace shared by the centres first (Cohen et al. 2020).
    n_reps : int, default=10
        Random restarts per rank of the centre-subspace search.
    seed : int or numpy.random.Generator, default=0
        Seeds the centre-subspace search.
    canonical_signs : bool, default=True
        Fix the signs of each manifold's QR frame (diag(R) >= 0); see :func:`mftma`.

    Returns
    -------
    dict
        ``labels`` (manifold codes 0..P-1; ``names`` the label values), ``frames`` (list of (D+1, M) arrays with a last
        row of ones), ``center_norm`` (P,, in the points' units), ``n_points`` (P,), the
        centre-subspace result ``subspace`` (or None), and ``data_scale`` (the points were divided
        by it first, see :func:`mftma`).
    """
    X, y, names = _validate.points_and_labels(points, labels, caller="manifold_frames")
    X, scale = _validate.unit_scale(X, "points", "manifold_frames")
    uniq = np.unique(y)
    clouds = [X[y == u].T for u in uniq]  # (N, M_mu) each, the published layout
    origin = X.mean(axis=0)[:, None]
    subspace = None
    basis = np.zeros((X.shape[1], 0))
    if remove_center_correlations:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        centers = np.stack([c.mean(axis=1) for c in clouds], axis=1)
        subspace = center_subspace(centers, n_reps=n_reps, rng=rng)
        basis = subspace.basis
    frames, norms = [], []
    for u, cloud in zip(uniq, clouds):
        xr_ = cloud - origin
        xr_ = xr_ - basis @ (basis.T @ xr_)
        center = xr_.mean(axis=1)
        norm = float(np.linalg.norm(center))
        if norm <= 1e-12 * max(1.0, float(np.abs(cloud).max())):
            raise ValueError(
                f"manifold {names[u]!r} has its centre at the global mean (after removing the shared "
                "centre subspace); MFTMA normalises each manifold by its centre norm and cannot "
                "analyse it. Try remove_center_correlations=False or drop that manifold."
            )
        s = (xr_ - center[:, None]) / norm
        n_feat, m = s.shape
        if n_feat > m or canonical_signs:
            # the canonical QR frame also where N <= M, so probes at a fixed seed meet the same
            # coordinates whatever the rotation of the data
            s = qr_basis(s, canonical=canonical_signs).T @ s
        frames.append(np.vstack([s, np.ones((1, s.shape[1]))]))
        norms.append(norm)
    return {
        "labels": uniq,
        "names": names,
        "frames": frames,
        "center_norm": np.asarray(norms) * scale,
        "data_scale": scale,
        "n_points": np.array([c.shape[1] for c in clouds]),
        "subspace": subspace,
    }


@register_measure(
    kind="capacity",
    direction="larger_is_more_separable",
    invariances=("rotation", "reflection", "translation", "isotropic scaling"),
    citation="Chung, Lee & Sompolinsky, Phys. Rev. X 8, 031003 (2018); "
    "Cohen, Chung, Lee & Sompolinsky, Nat. Commun. 11, 746 (2020)",
    outputs=GLUE_OUTPUTS[:3],
)
def mftma(
    points: np.ndarray,
    labels: np.ndarray,
    *,
    kappa: float = 0.0,
    n_t: int = 200,
    seed: int = 0,
    remove_center_correlations: bool = True,
    n_reps: int = 10,
    t_vectors: Sequence[np.ndarray] | None = None,
    canonical_signs: bool = True,
) -> xr.Dataset:
    """Mean-field manifold capacity, radius and dimension of each manifold (MFTMA).

    Parameters
    ----------
    points : ndarray of shape (n_points, n_features)
        One row per point (trial, sample), one column per feature (unit).
    labels : ndarray of shape (n_points,)
        Manifold label of each point; P = number of unique labels, at least 2.
    kappa : float, default=0.0
        Margin (in units of the centre norm).
    n_t : int, default=200
        Gaussian probes per manifold (the Monte-Carlo sample size).
    seed : int, default=0
        Seeds the probes and the centre-subspace search; same seed, identical numbers.
    remove_center_correlations : bool, default=True
        Project out the low-rank subspace shared by the manifold centres before the analysis
        (Cohen et al. 2020; replicaMFT ``fun_FA``).
    n_reps : int, default=10
        Random restarts per rank in the centre-subspace search.
    t_vectors : sequence of P arrays of shape (D_mu + 1, n_t), optional
        Probes to use instead of drawing them (``D_mu = min(M_mu, n_features)``), for exact
        comparison with the published code given the same probes (with
        ``canonical_signs=False``).
    canonical_signs : bool, default=True
        Fix the sign of each coordinate of a manifold's QR frame so that results at a fixed seed
        are exactly invariant to rotations and reflections of the data (where a manifold has
        no more features than points, it is also put in its QR frame). ``False`` keeps LAPACK's
        signs, as the published code does; the two agree in distribution, and pointwise only
        where the signs happen to coincide.

    Returns
    -------
    xarray.Dataset
        Per manifold (dim ``manifold``, coords the labels and ``n_points``):
        ``manifold_capacity``, ``manifold_capacity_sem``, ``manifold_radius``,
        ``manifold_dimension``, ``center_norm``. Scalars: ``capacity`` (harmonic mean over
        manifolds, ``1 / mean(1 / alpha_mu)``), ``capacity_sem``, ``radius`` and ``dimension``
        (arithmetic means), ``center_correlation`` (mean |cos| between centred centres before
        removal), ``n_center_dims`` (K, the rank removed); ``radius_sem`` and ``dimension_sem``
        are NaN (no standard error). attrs (one provenance helper): estimator="mftma",
        dichotomies="mean_field" (random labels, each manifold against the origin in its own
        frame), kappa, n_t, seed, n_reps, remove_center_correlations, no_separating_fraction
        (always 0: the centre direction separates every manifold from the origin) and at_floor
        (always 0), neurogeom_version.

    See Also
    --------
    glue : The GLUE estimate (capacity and geometry from sampled dichotomies).
    simulated_capacity : Capacity from random projections, without the mean-field theory.
    neurogeom.accessor.NgAccessor.mftma : ``pop.ng.mftma(by)`` on a population tensor.

    Notes
    -----
    For each manifold (centred on the global mean, shared centre subspace removed, normalised by
    its centre norm, QR-reduced to its span) and each probe ``t ~ N(0, I_{D+1})`` the programme
    ``min_v ||v - t||^2 s.t. v.s <= -kappa`` over the manifold's points ``s = (x, 1)`` is solved
    exactly through its non-negative least-squares dual (no general QP solver), giving an anchor
    point ``s_k``. Then ``alpha_mu = 1 / mean_k max(t_k.s_k + kappa, 0)^2 / ||s_k||^2``, the
    radius is the RMS spread of the anchors around their mean, and the dimension is
    ``D (mean_k cos(t_k, s_k))^2``, all as in replicaMFT (including its QR to M coordinates,
    which biases the dimension low, e.g. 0.81 instead of 1 for a segment in 2 coordinates).
    The published code's general QP solver fails on exact segments and circles; this one does
    not. For P below about 10 the published centre-subspace search fails; here the removed
    rank is capped at P - 2.

    Invariant to: rotation, reflection, translation, isotropic scaling.
    Direction: larger_is_more_separable (for ``capacity``; larger ``radius`` and ``dimension``
    are larger_is_less_separable).

    The invariances are exact at a fixed seed with ``canonical_signs=True``. The points are first
    divided by a power of two near their RMS norm (attrs ``data_scale``), computed without squaring
    them, so no norm overflows or underflows: results at overall scales from 1e-300 to 1e200
    equal those at unit scale to rounding (``center_norm`` is in the points' units). All-zero
    points are refused.

    References
    ----------
    Chung, Lee & Sompolinsky, Phys. Rev. X 8, 031003 (2018).
    Cohen, Chung, Lee & Sompolinsky, Nat. Commun. 11, 746 (2020).

    Examples
    --------
    >>> import numpy as np
    >>> from neurogeom.geometry import mftma
    >>> rng = np.random.default_rng(0)
    >>> centres = 3 * rng.standard_normal((4, 60))
    >>> points = np.repeat(centres, 20, axis=0) + rng.standard_normal((80, 60))
    >>> labels = np.repeat(np.arange(4), 20)
    >>> ds = mftma(points, labels, n_t=100)
    >>> float(ds.capacity) > 0
    True
    """
    check_params("mftma", n_t=n_t, seed=seed)
    caller = "mftma"
    X, codes, names = _validate.points_and_labels(points, labels, caller=caller)
    n_t = _validate.positive_int(n_t, "n_t", caller, minimum=2)
    kappa = _validate.finite_real(kappa, "kappa", caller)
    seed = _validate.positive_int(seed, "seed", caller, minimum=0)
    n_reps = _validate.positive_int(n_reps, "n_reps", caller)
    # Small dense problems: BLAS threads only add contention (30x slower measured on 2 busy cores).
    with threadpool_limits(limits=1, user_api="blas"):
        return _mftma(
            X,
            codes,
            kappa,
            n_t,
            seed,
            remove_center_correlations,
            n_reps,
            t_vectors,
            canonical_signs,
        ).assign_coords(manifold=_validate.label_values(names))


def _mftma(
    X, y, kappa, n_t, seed, remove_center_correlations, n_reps, t_vectors, canonical_signs
) -> xr.Dataset:
    n_manifolds = np.unique(y).size
    ss = np.random.SeedSequence(seed)
    rng_subspace, rng_t = (np.random.default_rng(s) for s in ss.spawn(2))
    frames = manifold_frames(
        X,
        y,
        remove_center_correlations=remove_center_correlations,
        n_reps=n_reps,
        seed=rng_subspace,
        canonical_signs=canonical_signs,
    )
    if t_vectors is not None and len(t_vectors) != n_manifolds:
        raise ValueError(
            f"t_vectors must hold one array per manifold ({n_manifolds}); got {len(t_vectors)}."
        )

    results = []
    for i, sD1 in enumerate(frames["frames"]):
        if t_vectors is None:
            t_vec = rng_t.standard_normal((sD1.shape[0], n_t))
        else:
            t_vec = np.asarray(t_vectors[i], dtype=np.float64)
            if t_vec.shape != (sD1.shape[0], n_t):
                raise ValueError(
                    f"t_vectors[{i}] must have shape {(sD1.shape[0], n_t)} "
                    f"(D + 1, n_t); got {t_vec.shape}."
                )
        results.append(manifold_mean_field(sD1, t_vec, kappa))

    alpha = np.array([r.capacity for r in results])
    mean_fields = np.array([r.field.mean() for r in results])
    var_fields = np.array([r.field.var(ddof=1) / n_t for r in results])
    capacity = 1.0 / mean_fields.mean()
    capacity_se = capacity**2 * np.sqrt(var_fields.sum()) / n_manifolds
    sub = frames["subspace"]
    ds = xr.Dataset(
        {
            "manifold_capacity": ("manifold", alpha),
            "manifold_capacity_sem": ("manifold", np.array([r.capacity_se for r in results])),
            "manifold_radius": ("manifold", np.array([r.radius for r in results])),
            "manifold_dimension": ("manifold", np.array([r.dimension for r in results])),
            "center_norm": ("manifold", frames["center_norm"]),
            "capacity": ((), float(capacity)),
            "capacity_sem": ((), float(capacity_se)),
            "radius": ((), float(np.mean([r.radius for r in results]))),
            "radius_sem": ((), np.nan),
            "dimension": ((), float(np.mean([r.dimension for r in results]))),
            "dimension_sem": ((), np.nan),
            "center_correlation": ((), np.nan if sub is None else sub.correlation_before),
            "n_center_dims": ((), 0 if sub is None else sub.n_dims),
        },
        coords={
            "manifold": frames["labels"],
            "n_points": ("manifold", frames["n_points"].astype(np.int64)),
        },
        attrs=_provenance.provenance(
            "mftma",
            dichotomies="mean_field",
            n_t=n_t,
            kappa=kappa,
            seed=seed,
            no_separating_fraction=0.0,
            at_floor=False,
            n_manifolds=n_manifolds,
            n_reps=n_reps,
            remove_center_correlations=bool(remove_center_correlations),
            t_vectors="given" if t_vectors is not None else "drawn",
            data_scale=frames["data_scale"],
            canonical_signs=bool(canonical_signs),
        ),
    )
    return ds
