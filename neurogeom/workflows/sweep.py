"""Sweeps that outgrow one machine: a grid of trained networks, one zarr group per grid point.

A sweep spec is a training spec (``tasks/context_dm.toml`` keys) with a ``[sweep]`` section whose
keys are the grid's dims: ``rank``, ``alpha`` and ``g`` set ``[network]``, ``seed`` and ``lr`` set
``[training]`` (:func:`neurogeom.specs.train.expand_sweep`). :func:`run_sweep` trains and analyses every
grid point (the geometry of its first and last checkpoint, as
:func:`neurogeom.workflows.rank_sweep.rank_sweep` computes it) through
:func:`neurogeom.parallel.parallel_map`, serially, in joblib processes, or on a dask cluster,
and writes each result into one zarr store::

    sweep.zarr/                       root group (zarr format 3): attrs spec, fingerprint, dims,
                                      the point names in grid order, versions
    sweep.zarr/rank_1_alpha_1_seed_0  one group per grid point (0-d variables), with the marker
                                      attr ``neurogeom_point_done`` = the spec's fingerprint

Each task is a pure function of its grid point (it trains in a scratch folder of its own, removed
afterwards), so a task rerun after its worker died gives the same numbers; the process that runs
the sweep writes each group under a temporary name and renames it into place
(``neurogeom._files.replace_dir_atomic``), so a group is there whole or not at all. A rerun
skips complete points, redoes the rest and removes temporaries left by a killed run; a store
written from another spec is refused unless ``overwrite=True``. :func:`open_sweep` reads the store
as one Dataset indexed by the grid's dims, :func:`sweep_status` counts what is done, and
:func:`sweep_report` writes the rank-sweep report from it.

``neurogeom sweep tasks/sweep_fast.toml -o sweep.zarr [--local-cluster 2 | --scheduler ADDR]``
runs it from the command line (docs/scaling.md).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata as md
import json
import platform
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._deprecation import phase_progress
from neurogeom._files import output_lock, replace_dir_atomic, to_json
from neurogeom.parallel import _check_n_jobs, cluster, parallel_map
from neurogeom.specs.train import SWEEP_SECTION, expand_sweep, validate_spec
from neurogeom.workflows.preflight import load_spec
from neurogeom.workflows.rank_sweep import _one_run

__all__ = ["SweepGrid", "open_sweep", "run_sweep", "sweep_grid", "sweep_report", "sweep_status"]

#: The marker attr of a complete grid-point group: the fingerprint of the spec it was computed from.
DONE = "neurogeom_point_done"
_ROOT_KIND = "neurogeom_sweep"


@dataclass(frozen=True)
class SweepGrid:
    """The expanded grid of a sweep spec.

    Attributes
    ----------
    spec : dict
        The validated spec (``[sweep]`` included, no ``source``).
    dims : dict of str to list
        The grid's dims in the spec's order and their values.
    points : list of (str, dict, dict)
        ``(group name, {dim: value}, the point's spec)`` in grid order (the last dim fastest).
    fingerprint : str
        SHA-256 of the spec's canonical JSON: a store holds the points of one fingerprint.

    See Also
    --------
    sweep_grid : builds it from a spec.
    run_sweep : runs it.

    Examples
    --------
    >>> grid = sweep_grid({"task": {"name": "ContextDecisionMaking-v0"},
    ...                    "sweep": {"rank": [1, "full"], "seed": [0, 1]}})
    >>> grid.dims, grid.shape, len(grid.fingerprint)
    ({'rank': [1, 'full'], 'seed': [0, 1]}, (2, 2), 64)
    >>> name, point, spec = grid.points[1]
    >>> point, spec["network"]["rank"], spec["training"]["seed"]
    ({'rank': 1, 'seed': 1}, 1, 1)
    """

    spec: dict[str, Any]
    dims: dict[str, list[Any]]
    points: list[tuple[str, dict[str, Any], dict[str, Any]]]
    fingerprint: str

    @property
    def shape(self) -> tuple[int, ...]:
        """Number of values of each dim."""
        return tuple(len(v) for v in self.dims.values())


def _fingerprint(spec: Mapping[str, Any]) -> str:
    """SHA-256 of the spec (keys sorted) and the order of its sweep dims (which names the points)."""
    text = to_json(spec, sort_keys=True) + to_json(list(spec.get("sweep", {})))
    return hashlib.sha256(text.encode()).hexdigest()


def sweep_grid(spec: Mapping[str, Any] | str | Path) -> SweepGrid:
    """Expand a sweep spec into its grid points.

    Parameters
    ----------
    spec : mapping or path
        A training spec (or its TOML file) with a non-empty ``[sweep]`` section.

    Returns
    -------
    SweepGrid
        The dims, the points in grid order and the spec's fingerprint.

    Raises
    ------
    ValueError
        No ``[sweep]`` section, an empty or repeated list of values, or a bad spec (from
        :func:`neurogeom.specs.train.validate_spec`).

    See Also
    --------
    run_sweep : computes the points.

    Examples
    --------
    >>> from neurogeom.workflows.sweep import sweep_grid
    >>> grid = sweep_grid("tasks/sweep_fast.toml")  # doctest: +SKIP
    >>> grid.dims  # doctest: +SKIP
    {'rank': [1, 'full'], 'alpha': [1.0, 10.0], 'seed': [0, 1, 2, 3]}
    """

    full = (
        load_spec(spec)
        if isinstance(spec, str | Path)
        else validate_spec(copy.deepcopy(dict(spec)))
    )
    full.pop("source", None)
    dims = {str(k): list(v) for k, v in full.get("sweep", {}).items()}
    if not dims:
        raise ValueError(
            "a sweep spec needs a [sweep] section of swept values, e.g. [sweep] rank = [1, "
            "'full'] and seed = [0, 1]; tasks/sweep_fast.toml is an example."
        )
    for dim, values in dims.items():
        if not values:
            raise ValueError(f"[sweep] {dim} is empty; give at least one value.")
        if len({json.dumps(v) for v in values}) != len(values):
            raise ValueError(f"[sweep] {dim} = {values} repeats a value; give each value once.")
    points = [
        (name, {d: one[SWEEP_SECTION[d]][d] for d in dims}, one) for name, one in expand_sweep(full)
    ]
    return SweepGrid(full, dims, points, _fingerprint(full))


# ---- one grid point ----------------------------------------------------------------------------


def _point(item: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """Train one grid point in a scratch folder of its own and return its numbers.

    A pure function of the point's spec: rerun (a worker lost mid-task), it gives the same
    numbers. BLAS and torch use one thread, so the numbers do not depend on where it runs."""
    import torch
    from threadpoolctl import threadpool_limits

    name, spec = item
    scratch = Path(tempfile.mkdtemp(prefix=f"neurogeom-sweep-{name}-"))
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with threadpool_limits(1):
            row, _ = _one_run((name, spec), str(scratch), ends_only=True)
            return row
    finally:
        torch.set_num_threads(threads)
        shutil.rmtree(scratch, ignore_errors=True)


def _point_dataset(
    row: Mapping[str, Any], coords: Mapping[str, Any], grid: SweepGrid
) -> xr.Dataset:
    values = {
        k: float(v) for k, v in row.items() if k not in grid.dims and k not in ("rank", "seed")
    }
    ds = xr.Dataset({k: ((), np.float64(v)) for k, v in sorted(values.items())})
    ds.attrs = {"point": to_json(dict(coords)), DONE: grid.fingerprint}
    return ds


# ---- the store ---------------------------------------------------------------------------------


def _versions() -> dict[str, str]:

    out = {"python": platform.python_version()}
    for pkg in ("neurogeom", "numpy", "xarray", "zarr", "torch", "neurogym", "dask", "distributed"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _root_attrs(store: Path) -> dict[str, Any] | None:
    """The root attrs of a sweep store, or None when ``store`` holds none."""
    meta = store / "zarr.json"
    if not meta.is_file():
        return None
    try:
        attrs = json.loads(meta.read_text()).get("attributes", {})
    except (OSError, ValueError):
        return None
    return attrs if attrs.get("neurogeom_object") == _ROOT_KIND else None


def _new_root(store: Path, grid: SweepGrid) -> None:
    import zarr

    attrs = {
        "neurogeom_object": _ROOT_KIND,
        "fingerprint": grid.fingerprint,
        "spec": to_json(grid.spec),
        "dims": to_json(grid.dims),
        "points": [name for name, _, _ in grid.points],
        "versions": _versions(),
    }
    store.parent.mkdir(parents=True, exist_ok=True)
    replace_dir_atomic(
        store, lambda tmp: zarr.open_group(tmp, mode="w", attributes=attrs, zarr_format=3)
    )


def _open_store(store: Path, grid: SweepGrid, overwrite: bool) -> None:
    """Create the store, or check that it holds this spec's sweep (``overwrite``: start afresh)."""
    if store.exists() and not store.is_dir():
        raise ValueError(f"{str(store)!r} is a file, not a sweep store; give another -o.")
    attrs = _root_attrs(store)
    if attrs is None:
        if store.exists() and any(store.iterdir()):
            raise ValueError(
                f"{str(store)!r} exists and is not a neurogeom sweep store; give another -o "
                "(nothing was written)."
            )
        _new_root(store, grid)
        return
    if attrs.get("fingerprint") != grid.fingerprint:
        if not overwrite:
            done = sum(
                _is_done(store, n, attrs.get("fingerprint")) for n in attrs.get("points", [])
            )
            raise ValueError(
                f"{str(store)!r} holds a sweep of another spec ({done} points done); its results "
                "would not mix with this one. Give another -o, or --overwrite to discard them."
            )
        _new_root(store, grid)


def _is_done(store: Path, name: str, fingerprint: str | None) -> bool:
    meta = store / name / "zarr.json"
    try:
        return json.loads(meta.read_text()).get("attributes", {}).get(DONE) == fingerprint
    except (OSError, ValueError):
        return False


def _clean_stale(store: Path) -> list[Path]:
    """Temporary folders a killed write left in the store (``replace_dir_atomic``'s ``.name.*.tmp``)."""
    stale = [p for p in store.glob(".*.tmp") if p.is_dir()]
    for path in stale:
        shutil.rmtree(path, ignore_errors=True)
    return stale


def _write_point(store: Path, name: str, ds: xr.Dataset) -> None:
    replace_dir_atomic(
        store / name, lambda tmp: ds.to_zarr(tmp, mode="w", consolidated=False, zarr_format=3)
    )


def run_sweep(
    spec: Mapping[str, Any] | str | Path,
    store: str | Path,
    *,
    n_jobs: int = 1,
    backend: str | None = None,
    scheduler: Any = None,
    n_workers: int | None = None,
    overwrite: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Train and analyse every grid point of a sweep spec into one zarr store; resume a stopped one.

    Parameters
    ----------
    spec : mapping or path
        A training spec with a ``[sweep]`` section (``tasks/sweep_fast.toml``).
    store : path
        The zarr store (a folder, e.g. ``sweep.zarr``): created, or resumed when it holds this
        spec's sweep (complete points are skipped, partial ones redone).
    n_jobs : int, default=1
        joblib worker processes (``-1``: every core) when no cluster is given.
    backend : {"serial", "joblib", "dask"}, optional
        :func:`neurogeom.parallel.parallel_map`'s backend (default from the other arguments).
    scheduler : str or distributed.Client, optional
        An existing dask cluster: its scheduler address (``"tcp://host:8786"``) or a client.
    n_workers : int, optional
        Start a dask ``LocalCluster`` of this many worker processes for the sweep.
    overwrite : bool, default=False
        Discard a store that holds a sweep of another spec instead of refusing it.
    progress : callable, optional
        ``progress(phase, done, total)`` (phase ``"sweep"``) with the grid points complete so far, called at the start and
        as each point is written.

    Returns
    -------
    dict
        ``{"done": ..., "total": ..., "computed": ..., "skipped": ...}``: grid points complete
        in the store, in the grid, computed by this call, and found complete.

    Raises
    ------
    ValueError
        A bad spec, a store not named ``*.zarr``, a bad ``n_jobs``, an output that is a file or
        not a sweep store, or a store of another spec without ``overwrite`` (before anything is
        computed or written).
    neurogeom._files.OutputLocked
        Another process is writing the store.

    Notes
    -----
    A sweep that stops before its first point is written (an unreachable scheduler, an
    interruption) removes the store it created; one that stops later keeps the complete points,
    and a rerun resumes.

    See Also
    --------
    open_sweep : the store as one Dataset.
    neurogeom.parallel.cluster : one dask client for a run.

    Examples
    --------
    >>> from neurogeom.workflows.sweep import open_sweep, run_sweep
    >>> run_sweep("tasks/sweep_fast.toml", "sweep.zarr", n_workers=2)  # doctest: +SKIP
    {'done': 16, 'total': 16, 'computed': 16, 'skipped': 0}
    >>> open_sweep("sweep.zarr").capacity_final.dims  # doctest: +SKIP
    ('rank', 'alpha', 'seed')
    """

    if scheduler is not None and n_workers is not None:
        raise ValueError(
            "give scheduler (an existing cluster) or n_workers (a LocalCluster), not both."
        )
    store = Path(store)
    if store.suffix != ".zarr" and not store.exists():  # an existing path is checked below
        raise ValueError(
            f"a sweep store is a zarr folder: name it *.zarr (e.g. "
            f"{str(store.with_suffix('.zarr'))!r}); got {str(store)!r}"
        )
    _check_n_jobs(n_jobs)  # before the store is created
    grid = sweep_grid(spec)
    with output_lock(store):
        new = not store.exists()
        try:
            return _run_sweep_locked(
                grid, store, overwrite, n_jobs, backend, scheduler, n_workers, progress
            )
        except BaseException:
            if (
                new
                and store.is_dir()
                and not any(_is_done(store, n, grid.fingerprint) for n, _, _ in grid.points)
            ):
                shutil.rmtree(store, ignore_errors=True)  # a sweep that could not start: no store
            raise


def _run_sweep_locked(
    grid: SweepGrid,
    store: Path,
    overwrite: bool,
    n_jobs: int,
    backend: str | None,
    scheduler: Any,
    n_workers: int | None,
    progress: Callable[[str, int, int], None] | None,
) -> dict[str, int]:
    _open_store(store, grid, overwrite)
    _clean_stale(store)
    todo = [(n, c, s) for n, c, s in grid.points if not _is_done(store, n, grid.fingerprint)]
    total, skipped = len(grid.points), len(grid.points) - len(todo)
    tell = phase_progress(progress, "sweep")
    tell(skipped, total)
    written = [skipped]

    def write(index: int, row: dict[str, Any]) -> None:
        name, coords, _ = todo[index]
        _write_point(store, name, _point_dataset(row, coords, grid))
        written[0] += 1
        tell(written[0], total)

    items = [(name, one) for name, _, one in todo]
    if todo and (scheduler is not None or n_workers is not None):
        how = {"scheduler": scheduler} if scheduler is not None else {"n_workers": n_workers}
        with cluster(**how):
            parallel_map(_point, items, backend=backend, on_result=write)
    elif todo:
        parallel_map(_point, items, n_jobs=n_jobs, backend=backend, on_result=write)
    done = sum(_is_done(store, n, grid.fingerprint) for n, _, _ in grid.points)
    return {"done": done, "total": total, "computed": len(todo), "skipped": skipped}


def _read_root(store: str | Path) -> tuple[Path, dict[str, Any]]:
    store = Path(store)
    attrs = _root_attrs(store)
    if attrs is None:
        raise ValueError(
            f"{str(store)!r} is not a neurogeom sweep store (no sweep attrs in its zarr.json); "
            "give the -o folder of `neurogeom sweep`."
        )
    return store, attrs


def sweep_status(store: str | Path) -> dict[str, Any]:
    """How far a sweep store is: grid points complete, in the grid, and those still to do.

    Parameters
    ----------
    store : path
        A store written by :func:`run_sweep`.

    Returns
    -------
    dict
        ``{"done": int, "total": int, "missing": [group names]}``.

    See Also
    --------
    run_sweep : computes what is missing.

    Examples
    --------
    >>> from neurogeom.workflows.sweep import sweep_status
    >>> sweep_status("sweep.zarr")["done"]  # doctest: +SKIP
    16
    """
    store, attrs = _read_root(store)
    names = list(attrs.get("points", []))
    missing = [n for n in names if not _is_done(store, n, attrs["fingerprint"])]
    return {"done": len(names) - len(missing), "total": len(names), "missing": missing}


def open_sweep(store: str | Path) -> xr.Dataset:
    """A sweep store as one Dataset indexed by the grid's dims (NaN where a point is not done).

    Parameters
    ----------
    store : path
        A store written by :func:`run_sweep`.

    Returns
    -------
    xarray.Dataset
        dims: the ``[sweep]`` keys in the spec's order (e.g. ``rank``, ``alpha``, ``seed``), coords
        their values; variables as :func:`neurogeom.workflows.rank_sweep.rank_sweep` gives them
        (``capacity_init`` / ``_final``, ``radius_*``, ``dimension_*``, ``weight_change``,
        ``accuracy_*``, ...) plus ``capacity_change`` and ``done`` (bool). attrs: ``spec`` (the
        sections task, network, training, analysis as JSON), ``fingerprint``, ``versions``,
        ``store``.

    Raises
    ------
    ValueError
        ``store`` is not a sweep store.

    See Also
    --------
    sweep_report : the report from this Dataset.

    Examples
    --------
    >>> from neurogeom.workflows.sweep import open_sweep
    >>> ds = open_sweep("sweep.zarr")  # doctest: +SKIP
    >>> ds.capacity_final.mean("seed")  # doctest: +SKIP
    """
    store, attrs = _read_root(store)
    dims = json.loads(attrs["dims"])
    spec = json.loads(attrs["spec"])
    shape = tuple(len(v) for v in dims.values())
    done = np.zeros(shape, dtype=bool)
    data: dict[str, np.ndarray] = {}
    for flat, name in enumerate(attrs["points"]):  # grid order: the last dim fastest
        if not _is_done(store, name, attrs["fingerprint"]):
            continue
        index = np.unravel_index(flat, shape)
        done[index] = True
        with xr.open_zarr(store, group=name, consolidated=False) as part:
            for var in part.data_vars:
                data.setdefault(str(var), np.full(shape, np.nan))[index] = float(part[var])
    coords = {
        d: np.asarray(v, dtype=object if len({type(x) for x in v}) > 1 else None)
        for d, v in dims.items()
    }
    names = list(dims)
    ds = xr.Dataset({k: (names, v) for k, v in sorted(data.items())}, coords=coords)
    if "capacity_final" in ds and "capacity_init" in ds:
        ds["capacity_change"] = ds["capacity_final"] - ds["capacity_init"]
    ds["done"] = (names, done)
    ds.attrs = {
        "spec": to_json({k: spec[k] for k in ("task", "network", "training", "analysis")}),
        "fingerprint": attrs["fingerprint"],
        "versions": to_json(attrs.get("versions", {})),
        "store": str(store),
        "out_dir": str(store),
    }
    return ds


def sweep_report(ds: xr.Dataset, out: str | Path, *, spec: str = "", **select: Any) -> Path:
    """Write the rank-sweep report (figure, table, reading) of an opened sweep to ``out/report.html``.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`open_sweep`'s result, with ``rank`` and ``seed`` dims.
    out : path
        Output folder: ``report.html`` and ``figures/``.
    spec : str, optional
        The spec's path, shown in the report.
    **select
        A value for each other grid dim (e.g. ``alpha=10.0``); default: its first value.

    Returns
    -------
    pathlib.Path
        The report's path.

    Raises
    ------
    ValueError
        The sweep has no ``rank`` or ``seed`` dim, or a selected value is not in the grid.

    See Also
    --------
    open_sweep : the results it reports.
    sweep_status : the runs done.

    Examples
    --------
    >>> from neurogeom.workflows.sweep import open_sweep, sweep_report
    >>> sweep_report(open_sweep("sweep.zarr"), "out/sweep", alpha=1.0)  # doctest: +SKIP
    """
    from neurogeom.show.learning_report import rank_sweep_report

    missing = [d for d in ("rank", "seed") if d not in ds.dims]
    if missing:
        raise ValueError(
            f"the rank-sweep report needs dims rank and seed; this sweep lacks {missing}."
        )
    others = [d for d in ds.dims if d not in ("rank", "seed")]
    unknown = sorted(set(select) - set(others))
    if unknown:
        raise ValueError(f"unknown dim(s) {unknown} to select; the other dims are {others}.")
    chosen = {d: select.get(d, ds[d].values[0]) for d in others}
    for d, v in chosen.items():
        if v not in ds[d].values.tolist():
            raise ValueError(
                f"{d}={v!r} is not in the grid; its values are {ds[d].values.tolist()}."
            )
    part = ds.sel(chosen).drop_vars(others, errors="ignore").transpose("rank", "seed")
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    setting = ", ".join(f"{d}={v}" for d, v in chosen.items()) or "as written"
    return rank_sweep_report(part, figures=out / "figures", setting=setting, spec=spec).save(
        out / "report.html"
    )
