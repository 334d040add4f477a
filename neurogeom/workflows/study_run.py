"""A study through the learning analyses in one call, as ``neurogeom run`` and ``neurogeom study``
run it: the trajectory with the across-subject interval and the paired test of the first vs the
last session (``neurogeom run`` adds the learning stages per subject,
:func:`neurogeom.learning.study_stages`, from the trajectory).

:func:`study_results` is the one place the calls and their seeds are put together, so a
study run from a spec (``[studies.<name>]``), from the command line and from the API with the
same settings gives the same numbers. :func:`save_study_results` writes them to one netCDF file,
one group per result (``xarray.open_datatree(path)["trajectory"]``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xarray as xr

from neurogeom._files import replace_atomic
from neurogeom._version import __version__
from neurogeom.geometry.registry import get_measure
from neurogeom.learning.study import study_stage_difference, study_trajectory
from neurogeom.population import label_names

__all__ = ["STUDY_RESULTS", "save_study_results", "study_results"]

#: The results of :func:`study_results`, in the order they are computed.
STUDY_RESULTS = ("trajectory", "stage_difference")


def study_results(
    tree: xr.DataTree,
    by: str | Sequence[str],
    *,
    within: str | Sequence[str] | None = None,
    window_s: Any = None,
    axis: str = "session",
    measure: str = "glue",
    n_boot: int = 100,
    n_perm: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
    **measure_options: Any,
) -> dict[str, xr.Dataset]:
    """The trajectory and the paired first-vs-last test of a study.

    Parameters
    ----------
    tree : xarray.DataTree
        A study (:func:`neurogeom.study`); every subject needs two sessions.
    by : str or sequence of str
        Trial label(s) defining the manifolds.
    within : str or sequence of str, optional
        Labels whose product with ``by`` makes joint manifolds (the conditions are the joint
        values of ``[by, *within]``).
    window_s : (start_s, stop_s), optional
        Window averaged into each trial's point, for tensors with a ``time`` dim.
    axis : {"session", "day", "fraction", "performance"}, default="session"
        The learning axis of the trajectory.
    measure : str, default="glue"
    n_boot : int, default=100
        Hierarchical bootstrap replicates of the trajectory; bootstrap replicates over subjects
        of the paired test.
    n_perm : int, default=100
        Sign flips of the paired test.
    confidence : float, default=0.95
    seed : int, default=0
        The same seed for both (as the API calls with ``seed=seed``).
    **measure_options
        Options of the measure (``n_t=100``).

    Returns
    -------
    dict of str to xarray.Dataset
        ``"trajectory"`` (:func:`neurogeom.learning.study_trajectory`), ``"stage_difference"``
        (:func:`neurogeom.learning.study_stage_difference`, session 0 vs the last, paired across
        subjects).

    Examples
    --------
    >>> import neurogeom as ng
    >>> tree = ng.synthetic_study(n_subjects=3, n_sessions=3, change=2.0, seed=0)
    >>> res = study_results(tree, "condition", n_boot=4, n_perm=8, n_t=20)
    >>> sorted(res), res["stage_difference"].attrs["stages"]
    (['stage_difference', 'trajectory'], ['0', '-1'])

    See Also
    --------
    save_study_results : write them to one netCDF file.
    neurogeom.show.study_report.study_section : their report section.
    neurogeom.learning.study_trajectory : the trajectory alone.
    """
    labels = [*label_names(by), *label_names(within or ())]
    by_all: str | list[str] = labels[0] if len(labels) == 1 else labels
    common = {
        "measure": measure,
        "window_s": None if window_s is None else tuple(window_s),
        "n_boot": n_boot,
        "confidence": confidence,
        "seed": seed,
        **measure_options,
    }
    # the paired test first: it refuses a subject with one session before the longer trajectory
    test = study_stage_difference(
        tree, by_all, get_measure(measure).outputs[0].name, (0, -1), n_perm=n_perm, **common
    )
    return {
        "trajectory": study_trajectory(tree, by_all, axis=axis, **common),
        "stage_difference": test,
    }


def save_study_results(
    results: Mapping[str, xr.Dataset], path: str | os.PathLike, *, source: str | None = None
) -> Path:
    """Write study results to one netCDF file, one group per result, atomically.

    Parameters
    ----------
    results : mapping of str to xarray.Dataset
        As :func:`study_results` returns them.
    path : path
        A ``.nc`` file (replaced whole).
    source : str, optional
        Provenance: what the results were computed from (the study's folder).

    Returns
    -------
    pathlib.Path
        The path written. Read it with ``xarray.open_datatree(path)``: one group per result,
        attrs as stored by :func:`neurogeom.save` (lists and flags as ``__json__:`` text).

    See Also
    --------
    study_results : the results it writes.
    neurogeom.save : one Dataset to netCDF.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import neurogeom as ng
    >>> tree = ng.synthetic_study(n_subjects=3, n_sessions=3, change=2.0, seed=0)
    >>> res = study_results(tree, "condition", n_boot=4, n_perm=8, n_t=20)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = save_study_results(res, Path(folder) / "study.nc", source="synthetic")
    ...     with xr.open_datatree(path) as back:
    ...         groups = sorted(back.children)
    >>> groups
    ['stage_difference', 'trajectory']
    """
    from neurogeom.io.store import _encode_attr, _map_attrs, _plain_coords

    path = Path(path)
    root = {
        "neurogeom_version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "provenance_source": str(source or "unknown"),
        "results": ",".join(results),
    }
    groups = {"/": xr.Dataset(attrs=root)}
    for name, ds in results.items():
        ds = _map_attrs(_plain_coords(ds), _encode_attr)
        for var in ds.variables.values():
            var.encoding = {}
        groups[f"/{name}"] = ds
    tree = xr.DataTree.from_dict(groups)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_atomic(path, lambda tmp: tree.to_netcdf(tmp, engine="h5netcdf"))
