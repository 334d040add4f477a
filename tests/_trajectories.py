"""Synthetic trajectory Datasets in the layout of neurogeom.learning.stats (for figure tests)."""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurogeom.learning.stages import log_time

STEPS = np.array([0, 1, 2, 4, 5, 6, 8, 10, 13, 16, 21, 26, 32, 42, 53, 64, 85, 106, 128, 170])


def synthetic_trajectory(seed: int = 0, *, flip: bool = False, n_boot: int = 20) -> xr.Dataset:
    """Radius falls, then capacity rises while dimension falls, then flat; all six measures with
    MC error, bootstrap error and interval, and a shuffle null."""
    rng = np.random.default_rng(seed)
    t = log_time(STEPS)
    n = len(STEPS)
    curves = {
        "capacity": np.interp(t, [t[6], t[14]], [0.1, 0.3]),
        "radius": np.interp(t, [0, t[7]], [1.6, 0.9] if not flip else [1.6, 1.4]),
        "dimension": np.interp(t, [t[6], t[14]], [14.0, 7.0] if not flip else [14.0, 5.0]),
        "center_alignment": np.full(n, 0.4),
        "axis_alignment": np.full(n, 0.25),
        "center_axis_alignment": np.full(n, 0.2),
    }
    data = {}
    for m, c in curves.items():
        sd = 0.02 * np.abs(c).mean()
        v = c + sd * rng.normal(size=n)
        data[m] = ("stage", v)
        data[f"{m}_sem"] = ("stage", np.full(n, 0.6 * sd))
        data[f"{m}_resample_se"] = ("stage", np.full(n, 0.8 * sd))
        data[f"{m}_ci_low"] = ("stage", v - 1.6 * sd)
        data[f"{m}_ci_high"] = ("stage", v + 1.6 * sd)
        null = np.full(n, c.min() * 0.5)
        data[f"{m}_null_mean"] = ("stage", null)
        data[f"{m}_null_low"] = ("stage", null - 2 * sd)
        data[f"{m}_null_high"] = ("stage", null + 2 * sd)
    return xr.Dataset(
        data,
        coords={
            "stage": np.arange(n),
            "step": ("stage", STEPS),
            "label": ("stage", [f"ckpt{s}" for s in STEPS]),
        },
        attrs={
            "n_boot": n_boot,
            "n_perm": 20,
            "seed": seed,
            "confidence": 0.95,
            "estimator": "glue",
        },
    )
