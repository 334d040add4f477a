"""Learning strategies: routes through the (radius, dimension) plane over capacity contours.

GLUE's effective measures obey the exact identity ``alpha = utility * (1 + R**-2) / D``
(glue_spec section 1.3); at utility 1 it is the seed paper's approximation
``alpha ~ (1 + R**-2) / D`` (FLG Eq. B.7), whose level sets are the contours drawn in its Fig. 4a,b.
A network can raise its capacity by compressing its manifolds (R falls, D holds) or by folding them
into fewer dimensions (D falls, R holds) or by trading one for the other; two networks with the same
final capacity may have taken different routes. :func:`strategy_path` places a trajectory on the
plane and :func:`compare_strategies` tells two routes apart.

The plane is read in log coordinates ``(log10 R, log10 D)``: capacity contours are smooth there and a
step's direction does not depend on the units of R or D. Along any path the change of
``log alpha`` splits exactly into a radius part ``delta log(1 + R**-2)`` and a dimension part
``-delta log D`` (the sum telescopes), which is how the two routes differ in numbers.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurogeom._provenance import provenance
from neurogeom.geometry.effective import capacity_contour

__all__ = ["strategy_path", "compare_strategies"]


def _ordered_stage(trajectory: xr.Dataset) -> xr.Dataset:
    if "stage" not in trajectory.dims:
        raise ValueError(f"a path needs a 'stage' dim; got dims {tuple(trajectory.dims)}.")
    if trajectory.sizes["stage"] < 2:
        raise ValueError(f"a path needs at least 2 stages; got {trajectory.sizes['stage']}.")
    if "step" in trajectory.coords:
        order = np.argsort(np.asarray(trajectory["step"].values, dtype=float), kind="stable")
        trajectory = trajectory.isel(stage=order)
    return trajectory


def strategy_path(
    trajectory: xr.Dataset, *, radius: str = "radius", dimension: str = "dimension"
) -> xr.Dataset:
    """Place a trajectory on the (radius, dimension) plane.

    Parameters
    ----------
    trajectory : xarray.Dataset
        A trajectory along ``stage`` (layout in :mod:`neurogeom.learning.stats`) with the radius
        and dimension variables (and optionally ``utility``); sorted by ``step`` when present.
    radius, dimension : str, default="radius", "dimension"
        Names of the two variables.

    Returns
    -------
    xarray.Dataset
        On ``stage``: ``radius``, ``dimension``, ``log_radius``, ``log_dimension`` (log10),
        ``contour_capacity`` (``(1 + R**-2) / D``), ``radius_part`` and ``dimension_part``
        (cumulative ``delta log10(1 + R**-2)`` and ``-delta log10 D`` from the first stage: their sum
        is ``log10`` of the contour capacity's ratio to its start); on ``step_index``
        (one per move between stages): ``heading_deg`` (direction of each move in the
        (log10 R, log10 D) plane: 0 = R grows, 90 = D grows, +-180 = R shrinks, -90 = D shrinks) and
        ``move_length``. Stages with a NaN radius or dimension are dropped.

    See Also
    --------
    compare_strategies : two paths compared.
    neurogeom.learning.trajectory : the radius and dimension along training.

    Examples
    --------
    >>> traj = xr.Dataset({"radius": ("stage", [2.0, 1.0]), "dimension": ("stage", [8.0, 8.0])})
    >>> float(strategy_path(traj)["heading_deg"][0])
    180.0
    """
    traj = _ordered_stage(trajectory)
    missing = [v for v in (radius, dimension) if v not in traj]
    if missing:
        raise ValueError(f"the trajectory lacks {missing}; name them with radius= / dimension=.")
    r = np.asarray(traj[radius].values, dtype=float)
    d = np.asarray(traj[dimension].values, dtype=float)
    keep = np.isfinite(r) & np.isfinite(d) & (r > 0) & (d > 0)
    if keep.sum() < 2:
        raise ValueError("fewer than 2 stages have a finite, positive radius and dimension.")
    traj, r, d = traj.isel(stage=np.flatnonzero(keep)), r[keep], d[keep]
    lr, ld = np.log10(r), np.log10(d)
    dr, dd = np.diff(lr), np.diff(ld)
    radius_term = np.log10(1.0 + r**-2)
    coords = {"stage": traj["stage"].values}
    if "step" in traj.coords:
        coords["step"] = ("stage", traj["step"].values)
    return xr.Dataset(
        {
            "radius": ("stage", r),
            "dimension": ("stage", d),
            "log_radius": ("stage", lr),
            "log_dimension": ("stage", ld),
            "contour_capacity": ("stage", capacity_contour(r, d)),
            "radius_part": ("stage", radius_term - radius_term[0]),
            "dimension_part": ("stage", -(ld - ld[0])),
            "heading_deg": ("step_index", np.degrees(np.arctan2(dd, dr))),
            "move_length": ("step_index", np.hypot(dr, dd)),
        },
        coords=coords,
        attrs=provenance("strategy_path", radius=radius, dimension=dimension, plane="log10"),
    )


def _arc_resample(path: xr.Dataset, n: int) -> np.ndarray:
    """Points (n, 2) of a path in the log plane at equal fractions of its arc length."""
    xy = np.stack([path["log_radius"].values, path["log_dimension"].values], axis=1)
    s = np.r_[0.0, np.cumsum(np.hypot(*np.diff(xy, axis=0).T))]
    if s[-1] == 0:
        return np.repeat(xy[:1], n, axis=0)
    u = np.linspace(0.0, 1.0, n)
    return np.stack([np.interp(u, s / s[-1], xy[:, k]) for k in range(2)], axis=1)


def _shoelace(xy: np.ndarray) -> float:
    x, y = xy[:, 0], xy[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _angle_difference(a: float, b: float) -> float:
    return float((b - a + 180.0) % 360.0 - 180.0)


def compare_strategies(
    path_a: xr.Dataset, path_b: xr.Dataset, *, n_points: int = 200
) -> xr.Dataset:
    """Tell two routes through the (radius, dimension) plane apart.

    Parameters
    ----------
    path_a, path_b : xarray.Dataset
        Outputs of :func:`strategy_path` (e.g. two networks, or brain and model).
    n_points : int, default=200
        Points per path when both are resampled at equal fractions of their arc length.

    Returns
    -------
    xarray.Dataset
        Over dim ``path`` (``["a", "b"]``): ``net_heading_deg`` (direction of the net move, start to
        end, in the (log10 R, log10 D) plane), ``radius_part`` and ``dimension_part`` (the split of
        ``delta log10 alpha`` at the end), ``path_length``, ``final_capacity`` (contour capacity at
        the end). 0-d: ``heading_difference_deg`` (b minus a, in (-180, 180]), ``area_between``
        (area enclosed by path a, then path b backwards, closed at both ends; log10 units squared,
        0 for the same route), ``mean_distance`` (mean distance between the two paths at equal
        arc-length fractions; log10 units).

    Notes
    -----
    Two paths with the same final capacity end on one contour; they differ in how the change of
    ``log alpha`` splits between radius and dimension, and in the area and distance between them.

    See Also
    --------
    strategy_path : the path of one trajectory.
    neurogeom.learning.compare_strategy_paths : paths compared point by point.

    Examples
    --------
    >>> a = strategy_path(xr.Dataset({"radius": ("stage", [2.0, 1.0]), "dimension": ("stage", [8.0, 8.0])}))
    >>> round(float(compare_strategies(a, a)["area_between"]), 12)
    0.0
    """
    if int(n_points) < 2:
        raise ValueError(f"n_points must be >= 2; got {n_points}.")
    rows = {}
    for name, p in (("a", path_a), ("b", path_b)):
        missing = [v for v in ("log_radius", "log_dimension", "radius_part") if v not in p]
        if missing:
            raise ValueError(f"path_{name} lacks {missing}: give the output of strategy_path().")
        dx = float(p["log_radius"][-1] - p["log_radius"][0])
        dy = float(p["log_dimension"][-1] - p["log_dimension"][0])
        rows[name] = (
            float(np.degrees(np.arctan2(dy, dx))),
            float(p["radius_part"][-1]),
            float(p["dimension_part"][-1]),
            float(p["move_length"].sum()),
            float(p["contour_capacity"][-1]),
        )
    xa, xb = _arc_resample(path_a, int(n_points)), _arc_resample(path_b, int(n_points))
    ring = np.concatenate([xa, xb[::-1]])
    cols = list(zip(*rows.values()))
    return xr.Dataset(
        {
            "net_heading_deg": ("path", np.array(cols[0])),
            "radius_part": ("path", np.array(cols[1])),
            "dimension_part": ("path", np.array(cols[2])),
            "path_length": ("path", np.array(cols[3])),
            "final_capacity": ("path", np.array(cols[4])),
            "heading_difference_deg": _angle_difference(rows["a"][0], rows["b"][0]),
            "area_between": abs(_shoelace(ring)),
            "mean_distance": float(np.mean(np.hypot(*(xa - xb).T))),
        },
        coords={"path": ["a", "b"]},
        attrs=provenance("compare_strategies", n_points=int(n_points), plane="log10"),
    )
