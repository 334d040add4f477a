"""Sessions of one set of units stacked as the stages of one tensor.

Model checkpoints, and recordings whose sessions share their units (chronic imaging with cell
registration), are one tensor with a dense ``stage`` dim; :func:`stack_sessions` builds it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import xarray as xr

from neurogeom.population import make_population, trial_labels

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
    """
    names, parts = list(pops), list(pops.values())
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
