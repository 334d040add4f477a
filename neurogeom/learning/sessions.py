"""Sessions of one set of units stacked as the stages of one tensor.

Model checkpoints, and recordings whose sessions share their units (chronic imaging with cell
registration), are one tensor with a dense ``stage`` dim; :func:`stack_sessions` builds it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import numpy as np
import xarray as xr

from neurogeom.population import make_population, trial_labels, validate

__all__ = ["stack_sessions"]


def stack_sessions(pops: Mapping[str, xr.DataArray]) -> xr.DataArray:
    """Sessions of the same units as stages of one tensor (NaN where a trial is not in a stage).

    Parameters
    ----------
    pops : mapping of str to xarray.DataArray
        Stage name -> tensor (``trial``, [``time``], ``unit``), in learning order; the same unit
        ids and time bins.

    Returns
    -------
    xarray.DataArray
        Dims (``stage``, ``trial``, [``time``], ``unit``); the trials of every session one after
        the other, each stage holding data only on its own session's trials; the trial labels
        every session has; stage coords ``label`` (the names) and ``step`` (0, 1, ...: the
        session index).

    Raises
    ------
    TypeError
        ``pops`` is not a mapping (a list of tensors: give them names).
    ValueError
        A session with a ``stage`` dim already, or sessions with other unit ids or time bins.

    Warns
    -----
    UserWarning
        A trial label that some sessions lack (it is dropped), naming the label and sessions.

    See Also
    --------
    neurogeom.learning.trajectory : the measures over the stacked stages.
    neurogeom.learning.resample_pseudopopulation : sessions with different units.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> def session(n_trials):
    ...     return ng.make_population(np.ones((n_trials, 4)), dims=("trial", "unit"),
    ...                               quantity="rate_hz", trial_coords={"choice": [0, 1] * (n_trials // 2)})
    >>> pop = stack_sessions({"naive": session(4), "expert": session(6)})
    >>> dict(pop.sizes), pop.label.values.tolist()
    ({'stage': 2, 'trial': 10, 'unit': 4}, ['naive', 'expert'])
    """
    if not isinstance(pops, Mapping):
        raise TypeError(
            "stack_sessions needs a mapping of session name -> tensor, in learning order, e.g. "
            f"stack_sessions({{'early': pop_a, 'late': pop_b}}); got a {type(pops).__name__}."
        )
    if not pops:
        raise ValueError("stack_sessions needs at least one session tensor.")
    names, parts = [str(n) for n in pops], list(pops.values())
    for name, p in zip(names, parts):
        validate(p)
        if "stage" in p.dims:
            raise ValueError(
                f"session {name!r} already has a 'stage' dim ({p.sizes['stage']} stages); "
                "stack_sessions stacks one-stage tensors. Select one stage of it "
                "(p.isel(stage=0)), or join staged tensors with xr.concat([...], dim='stage')."
            )
        if "trial" not in p.dims or "unit" not in p.dims:
            raise ValueError(
                f"session {name!r} has dims {tuple(p.dims)}; stack_sessions needs "
                "('trial', [time,] 'unit')."
            )
    first = parts[0]
    for name, p in zip(names, parts):
        if not np.array_equal(p["unit"].values, first["unit"].values):
            raise ValueError(
                f"session {name!r} has other unit ids than {names[0]!r}; sessions "
                "stacked as stages must hold the same units (or pool them)."
            )
        if "time" in p.dims and not np.allclose(p["time"].values, first["time"].values):
            raise ValueError(
                f"session {name!r} has other time bins than {names[0]!r}; read "
                "every session with the same window_s and bin_size_s."
            )
    labels = sorted(set.intersection(*(set(trial_labels(p)) for p in parts)))
    for label in sorted(set().union(*(set(trial_labels(p)) for p in parts)) - set(labels)):
        lacking = [n for n, p in zip(names, parts) if label not in trial_labels(p)]
        warnings.warn(
            f"trial label {label!r} is dropped: session(s) {lacking} lack it (the stacked "
            f"tensor keeps the labels every session has, {labels}). Add it to those sessions "
            f"(p.assign_coords({label}=('trial', [...]))) to keep it.",
            UserWarning,
            stacklevel=2,
        )
    inner = [d for d in first.dims if d != "trial"]
    n = [p.sizes["trial"] for p in parts]
    data = np.full((len(parts), sum(n), *(first.sizes[d] for d in inner)), np.nan)
    for s, (p, start) in enumerate(zip(parts, np.cumsum([0, *n[:-1]]))):
        data[s, start : start + n[s]] = p.transpose("trial", *inner).values
    coords = {c: np.concatenate([np.asarray(p[c].values) for p in parts]) for c in labels}
    return make_population(
        data,
        dims=("stage", "trial", *inner),
        quantity=first.attrs["quantity"],
        trial_coords=coords,
        time=first["time"].values if "time" in inner else None,
        unit=first["unit"].values,
        stage=names,
        stage_coords={"label": names, "step": np.arange(len(names))},
        align=first.attrs.get("align"),
        bin_size_s=first.attrs.get("bin_size_s"),
        source=";".join(str(p.attrs.get("source", "")) for p in parts),
    )
