"""Measures of a trajectory prepared for segmentation: ordered by step, min-max normalised along
log training time, with their noise level in the same units (step 1 of
:mod:`neurogeom.learning.stages`)."""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["GLUE_MEASURES", "log_time", "normalise_measures"]

GLUE_MEASURES: tuple[str, ...] = (
    "capacity",
    "radius",
    "dimension",
    "center_alignment",
    "axis_alignment",
    "center_axis_alignment",
)


def log_time(step: Any) -> np.ndarray:
    """Log training time ``log10(1 + step)`` (step 0 at 0), shape of ``step``.

    Parameters
    ----------
    step : array_like
        Training steps (>= 0), any shape.

    Returns
    -------
    numpy.ndarray
        ``log10(1 + step)``, float, the shape of ``step``.

    See Also
    --------
    normalise_measures : measures on this axis.

    Examples
    --------
    >>> log_time([0, 9, 99]).tolist()
    [0.0, 1.0, 2.0]
    """
    s = np.asarray(step, dtype=float)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError("the stage coord 'step' must hold finite training steps >= 0.")
    return np.log10(1.0 + s)


def ordered(trajectory: xr.Dataset, time_window: Hashable | None) -> xr.Dataset:
    if not isinstance(trajectory, xr.Dataset):
        raise TypeError(
            f"learning_stages needs a trajectory xarray.Dataset; got {type(trajectory)}."
        )
    if "stage" not in trajectory.dims:
        raise ValueError(
            f"the trajectory needs a 'stage' dim; got dims {tuple(trajectory.dims)}. "
            "Try ds.rename(session='stage')."
        )
    if "time_window" in trajectory.dims:
        if time_window is None:
            raise ValueError(
                "the trajectory has a 'time_window' dim; choose one with time_window=<value>."
            )
        trajectory = trajectory.sel(time_window=time_window)
    n = trajectory.sizes["stage"]
    if n < 3:
        raise ValueError(
            f"learning stages need a trajectory of at least 3 stages; got {n}. "
            "Add checkpoints or sessions."
        )
    if "step" in trajectory.coords:
        step = np.asarray(trajectory["step"].values, dtype=float)
        if len(np.unique(step)) != n:
            raise ValueError(
                "the stage coord 'step' holds repeated values; each stage needs its own."
            )
        trajectory = trajectory.isel(stage=np.argsort(step, kind="stable"))
    return trajectory


def _noise(trajectory: xr.Dataset, name: str) -> np.ndarray:
    parts = [
        trajectory[f"{name}{s}"] for s in ("_sem", "_resample_se") if f"{name}{s}" in trajectory
    ]
    if not parts:
        return np.full(trajectory.sizes["stage"], np.nan)
    var = sum(np.nan_to_num(np.asarray(p.values, dtype=float) ** 2) for p in parts)
    return np.sqrt(var)


def normalise_measures(
    trajectory: xr.Dataset,
    measures: Sequence[str] = GLUE_MEASURES,
    *,
    time_window: Hashable | None = None,
) -> xr.Dataset:
    """Min-max normalise measures along log training time, with their noise in the same units.

    Parameters
    ----------
    trajectory : xarray.Dataset
        A trajectory (dims ``stage`` and optionally ``time_window``; layout in
        :mod:`neurogeom.learning.stats`).
    measures : sequence of str, default=GLUE_MEASURES
        The measure variables to normalise.
    time_window : hashable, optional
        The ``time_window`` value to use when the trajectory has that dim.

    Returns
    -------
    xarray.Dataset
        ``normalised`` (stage, measure) in [0, 1] (0 = the measure's minimum over stages),
        ``noise_sd`` (stage, measure): ``sqrt(sem**2 + resample_se**2)`` in the same units,
        ``minimum`` and ``range`` (measure) in the measure's own units; coords ``step`` and
        ``log_step`` (``log10(1 + step)``) on ``stage``, sorted by step.

    See Also
    --------
    learning_stages : stage boundaries from these measures.
    log_time : the time axis.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> traj = xr.Dataset({"capacity": ("stage", [0.2, 0.6, 1.0]),
    ...                     "capacity_sem": ("stage", [0.0, 0.0, 0.0])},
    ...                    coords={"step": ("stage", [0, 9, 99])})
    >>> norm = normalise_measures(traj, ["capacity"])
    >>> norm.normalised.sel(measure="capacity").values.round(6).tolist()
    [0.0, 0.5, 1.0]
    """
    traj = ordered(trajectory, time_window)
    missing = [m for m in measures if m not in traj]
    if missing:
        raise ValueError(
            f"the trajectory lacks the measures {missing}; it holds {sorted(traj.data_vars)}. "
            "Pass measures= with the ones it has."
        )
    values = np.stack([np.asarray(traj[m].values, dtype=float) for m in measures], axis=1)
    noise = np.stack([_noise(traj, m) for m in measures], axis=1)
    lo = np.nanmin(values, axis=0) if np.isfinite(values).any() else np.zeros(len(measures))
    span = np.nanmax(values, axis=0) - lo if np.isfinite(values).any() else np.ones(len(measures))
    span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
    step = (
        np.asarray(traj["step"].values, dtype=float)
        if "step" in traj.coords
        else np.arange(traj.sizes["stage"], dtype=float)
    )
    return xr.Dataset(
        {
            "normalised": (("stage", "measure"), (values - lo) / span),
            "noise_sd": (("stage", "measure"), noise / span),
            "minimum": ("measure", lo),
            "range": ("measure", span),
        },
        coords={
            "stage": traj["stage"].values,
            "measure": list(measures),
            "step": ("stage", step),
            "log_step": ("stage", log_time(step)),
        },
        attrs={
            "time_axis": "log10(1 + step)" if "step" in traj.coords else "log10(1 + stage index)"
        },
    )


def _usable(norm: xr.Dataset) -> list[str]:
    usable = []
    for m in norm["measure"].values.tolist():
        values, sd = (
            norm["normalised"].sel(measure=m).values,
            norm["noise_sd"].sel(measure=m).values,
        )
        if np.isfinite(values).all() and np.isfinite(sd).all() and np.any(sd > 0):
            usable.append(m)
    return usable


def whitened(norm: xr.Dataset, measures: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised values (stage, measure) divided by each measure's rms noise; and that noise."""
    values = norm["normalised"].sel(measure=measures).values
    sd = norm["noise_sd"].sel(measure=measures).values
    sigma = np.sqrt(np.mean(sd**2, axis=0))
    return values / sigma, sigma


def select_measures(norm: xr.Dataset) -> list[str]:
    measures = _usable(norm)
    left_out = [m for m in norm["measure"].values.tolist() if m not in measures]
    if not measures:
        raise ValueError(
            "no measure has finite values and error bars at every stage; learning_stages sizes "
            "its penalty from *_sem / *_resample_se, so give the trajectory its error terms."
        )
    if left_out:
        warnings.warn(
            f"learning_stages leaves out {left_out}: NaN values (e.g. capacity at the floor) or no "
            "error bars. Balance or subsample the points, or pass measures= without them.",
            RuntimeWarning,
            stacklevel=3,
        )
    return measures
