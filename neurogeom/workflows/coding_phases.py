"""The phase picture of coding schemes: Bayesian networks sampled over a grid, their codes scored.

Composes :mod:`neurogeom.models.bayesian` (Langevin-sampled one-hidden-layer networks) with the
engine's :func:`neurogeom.geometry.coding_scheme` (van Meegen & Sompolinsky, Nat. Commun. 16,
3354, 2025).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurogeom._provenance import child_seed, provenance
from neurogeom.geometry.coding import SCORES, coding_scheme
from neurogeom.models.bayesian import gaussian_mixture, sample_posterior  # noqa: F401 (Examples)

__all__ = ["coding_phases"]


def coding_phases(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    activations: Sequence[str] = ("linear", "erf", "relu"),
    scalings: Sequence[str] = ("mean_field", "standard"),
    prior_scales: Sequence[float] = (1.0,),
    seed: int = 0,
    **sampler: object,
) -> xr.Dataset:
    """The phase picture of coding schemes: nonlinearity x scaling x prior scale.

    Every grid point samples the posterior (:func:`~neurogeom.models.bayesian.sample_posterior`, options in ``**sampler``)
    and scores the hidden activity of the last sample of every chain with
    :func:`neurogeom.geometry.coding.coding_scheme`.

    Parameters
    ----------
    x : ndarray of shape (n_points, n_inputs)
    labels : ndarray of shape (n_points,)
    activations, scalings : sequence of str
    prior_scales : sequence of float
    seed : int, default=0
        Grid point ``(i, j, k)`` runs with the child seed ``child_seed(seed, i, j, k)``.
    **sampler
        Passed to :func:`~neurogeom.models.bayesian.sample_posterior` (``n_units``, ``temperature``, ``n_steps``, ...).

    Returns
    -------
    xarray.Dataset
        Dims (``activation``, ``scaling``, ``prior_scale``, ``chain``): every score of
        ``coding_scheme`` (without ``_sem``), ``scheme`` (str), ``accuracy`` (training accuracy of
        the mean predictor, per grid point); attrs: the sampler settings and the scheme rule.

    See Also
    --------
    neurogeom.show.plot_coding_phases : its figure.
    neurogeom.geometry.coding_scheme : the scheme at one point.

    Examples
    --------
    >>> x, y = gaussian_mixture(2, 10, 5)
    >>> ds = coding_phases(x, y, activations=("linear",), scalings=("mean_field",),
    ...                    n_units=20, n_steps=200, n_chains=2)
    >>> ds.scheme.dims
    ('activation', 'scaling', 'prior_scale', 'chain')
    """
    acts, scs, pss = list(activations), list(scalings), [float(p) for p in prior_scales]
    if not acts or not scs or not pss:
        raise ValueError("coding_phases() needs at least one activation, scaling and prior scale.")
    n_chains = int(sampler.get("n_chains", 4))  # type: ignore[call-overload]
    shape = (len(acts), len(scs), len(pss), n_chains)
    scores = {k: np.full(shape, np.nan) for k in SCORES}
    scheme = np.empty(shape, dtype=object)
    accuracy = np.full(shape[:3], np.nan)
    rule = ""
    for i, act in enumerate(acts):
        for j, sc in enumerate(scs):
            for k, ps in enumerate(pss):
                s = sample_posterior(
                    x,
                    labels,
                    activation=act,
                    scaling=sc,
                    prior_scale=ps,
                    seed=child_seed(seed, i, j, k),
                    **sampler,  # type: ignore[arg-type]
                )
                accuracy[i, j, k] = s.accuracy()
                for c in range(n_chains):
                    ds = coding_scheme(s.points(chain=c), labels)
                    rule = ds.attrs["rule"]
                    scheme[i, j, k, c] = str(ds.scheme.values)
                    for name in SCORES:
                        scores[name][i, j, k, c] = float(ds[name])
    dims = ("activation", "scaling", "prior_scale", "chain")
    data = {name: (dims, v) for name, v in scores.items()}
    data["scheme"] = (dims, scheme.astype(str))
    data["accuracy"] = (dims[:3], accuracy)
    settings = {k: v for k, v in sampler.items() if isinstance(v, int | float | str)}
    return xr.Dataset(
        data,
        coords={"activation": acts, "scaling": scs, "prior_scale": pss, "chain": range(n_chains)},
        attrs=provenance("coding_phases", seed=seed, rule=rule, **settings),
    )
