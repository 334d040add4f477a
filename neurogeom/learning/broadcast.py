"""Geometry measures for every index of a population's extra dims (stage, time, time windows).

``geometry(pop, by="choice", measures=("glue",), over=("stage",))`` builds the manifolds of each
stage, computes each measure on them, and returns one :class:`xarray.Dataset` indexed by the
``over`` dims, carrying their coords (e.g. the training ``step`` of each stage). The work fans out
through :func:`neurogeom.parallel.parallel_map` (``n_jobs``); results do not depend on it.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from neurogeom.geometry.registry import Measure, get_measure
from neurogeom.population import label_names as _as_tuple

__all__ = ["geometry"]

_CORE_DIMS = ("trial", "unit")
WINDOW_DIM = "time_window"


@dataclass(frozen=True)
class _Task:
    points: np.ndarray
    labels: np.ndarray
    names: tuple[str, ...]
    calls: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...]  # (function path, kwargs)


def _is_window_list(time: Any) -> bool:
    return (
        isinstance(time, list)
        and len(time) > 0
        and all(isinstance(w, tuple | list) and len(w) == 2 for w in time)
    )


def _resolve_measures(names: Sequence[str]) -> list[Measure]:
    out = []
    for name in names:
        m = get_measure(name)
        if m.inputs != "points_labels":
            raise ValueError(
                f"{name!r} compares two representations of the same conditions, so it cannot be "
                "computed on one population's manifolds; call "
                f"{m.function.split(':')[1]}(X, Y) on the two (condition-averaged) tensors."
            )
        out.append(m)
    if len({m.name for m in out}) != len(out):
        raise ValueError(f"measures must not repeat; got {list(names)}.")
    return out


def _accepts(func: Any, name: str) -> bool:
    params = inspect.signature(func).parameters
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def _plan_calls(
    chosen: list[Measure], seed: int, kwargs: dict[str, Any]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """Measure name -> (function path, keyword arguments), routing ``kwargs`` to the measures."""
    keys = {m.name for m in chosen} | {m.function.split(":")[1] for m in chosen}
    per_measure = {k: v for k, v in kwargs.items() if k in keys}
    shared = {k: v for k, v in kwargs.items() if k not in per_measure}
    for k, v in per_measure.items():
        if not isinstance(v, dict):
            raise TypeError(f"options for measure {k!r} must be a dict; got {type(v).__name__}.")
    used: set[str] = set()
    plan = {}
    for m in chosen:
        func = m.resolve()
        call = dict(m.options)
        if _accepts(func, "seed"):
            call["seed"] = seed
        for k, v in shared.items():
            if _accepts(func, k):
                call[k] = v
                used.add(k)
        call.update(per_measure.get(m.function.split(":")[1], {}))
        call.update(per_measure.get(m.name, {}))
        plan[m.name] = (m.function, call)
    unused = set(shared) - used
    if unused:
        raise TypeError(
            f"no requested measure accepts the argument(s) {sorted(unused)}; measures: "
            f"{[m.name for m in chosen]}. Give options for one measure as <measure>={{...}}."
        )
    return plan


_SCALAR = "__value__"


def _as_dataset(value: Any) -> xr.Dataset:
    """A measure's result as a Dataset; plain numbers become the variable ``__value__``."""
    if isinstance(value, xr.Dataset):
        return value
    if isinstance(value, xr.DataArray):
        return value.to_dataset(name=_SCALAR)
    return xr.Dataset({_SCALAR: ((), float(value))})


def _compute(task: _Task) -> dict[str, xr.Dataset]:
    """Every distinct (function, options) call once; results keyed by the call index."""
    import importlib

    out = {}
    for i, (path, items) in enumerate(task.calls):
        module, attr = path.split(":")
        func = getattr(importlib.import_module(module), attr)
        ds = _as_dataset(func(task.points, task.labels, **dict(items)))
        if "manifold" in ds.dims and ds.sizes["manifold"] == len(task.names):
            ds = ds.assign_coords(manifold=list(task.names))
        out[str(i)] = ds
    return out


def _assemble(
    chosen: list[Measure],
    plan: dict[str, tuple[str, dict[str, Any]]],
    call_index: dict[str, int],
    results: dict[str, xr.Dataset],
) -> xr.Dataset:
    whole = [
        m for m in chosen if m.variable is None and _SCALAR not in results[str(call_index[m.name])]
    ]
    parts = []
    for m in chosen:
        ds = results[str(call_index[m.name])]
        if m.variable is not None:
            if m.variable not in ds:
                raise ValueError(
                    f"measure {m.name!r} expects variable {m.variable!r} in the result of "
                    f"{m.function}; it has {sorted(ds.data_vars)}."
                )
            parts.append(ds[[m.variable]].rename({m.variable: m.name}))
        elif _SCALAR in ds:
            parts.append(ds.rename({_SCALAR: m.name}))
        elif len(chosen) > 1:
            parts.append(ds.rename({v: f"{m.name}_{v}" for v in ds.data_vars}))
        else:
            parts.append(ds)
    names = [v for p in parts for v in p.data_vars]
    dupes = sorted({v for v in names if names.count(v) > 1})
    if dupes:
        raise ValueError(f"measures give clashing variables {dupes}; request them separately.")
    merged = xr.merge(parts, combine_attrs="drop")
    # keep the estimators' provenance (n_t, kappa, M, ...), prefixed when several report it
    sources = {}
    for m in chosen:
        i = call_index[m.name]
        if _SCALAR not in results[str(i)] and results[str(i)].attrs:
            sources.setdefault(i, m.function.split(":")[1])
    for i, fname in sources.items():
        prefix = f"{fname}_" if len(chosen) > 1 and (len(sources) > 1 or len(whole) > 0) else ""
        merged.attrs.update({f"{prefix}{k}": v for k, v in results[str(i)].attrs.items()})
    return merged


def geometry(
    pop: xr.DataArray,
    *,
    by: str | Sequence[str],
    measures: str | Sequence[str] = ("glue",),
    over: str | Sequence[str] = ("stage",),
    within: str | Sequence[str] | None = None,
    time: tuple[float, float] | list[tuple[float, float]] | None = None,
    points: str = "mean",
    n_jobs: int = 1,
    seed: int = 0,
    **kwargs: Any,
) -> xr.Dataset:
    """Compute geometry measures for every index of the extra dims of a population tensor.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor (dims among stage, trial, time, unit; see
        :func:`neurogeom.population.make_population`).
    by : str or sequence of str
        Trial label(s) defining the manifolds (e.g. ``"choice"``).
    measures : str or sequence of str, default=("glue",)
        Registered measure names (see :func:`neurogeom.geometry.measures`) that take one
        population's points and labels: capacity, geometry, decoding and dimension measures.
    over : str or sequence of str, default=("stage",)
        Dims to compute separately at every index of, e.g. ``"stage"`` or ``("stage", "time")``
        (per time bin). If left at the default and the tensor has no ``stage`` dim, the measures
        are computed once.
    within : str or sequence of str, optional
        Split manifolds further by these labels (see ``pop.ng.manifolds``).
    time : (start_s, stop_s) or list of them, optional
        Window of bin centres averaged into each trial's point, or a list of windows: each becomes
        an index of a new ``time_window`` dim (coords ``window_start_s``, ``window_stop_s``).
    points : {"mean", "all"}, default="mean"
        One point per trial (window average) or per (trial, time bin).
    n_jobs : int, default=1
        Parallel workers (``-1``: every core); the numbers do not depend on it.
    seed : int, default=0
        Passed to every measure that takes a seed, the same at every index (common random
        numbers: differences between stages are not differences between Monte-Carlo draws).
    **kwargs
        ``<measure>={...}`` gives options to one measure, by its registry name or its
        function's name (``mftma={"n_t": 500}`` also reaches ``mftma_radius``); any other
        keyword goes to every requested measure that accepts it (``kappa=0.1``).

    Returns
    -------
    xarray.Dataset
        One variable per measure output, with the ``over`` dims (and their coords, e.g.
        ``step``), plus per-manifold dims where the estimator has them (``manifold``, named by
        the manifolds' label values). A single Dataset-valued measure (``glue`` or ``mftma``)
        keeps its variable names; next to other measures they are prefixed by the measure name
        (``mftma_capacity``).
        Measures selecting one output (``radius``, ``mftma_capacity``) and scalar measures
        (``participation_ratio``) are named after the measure. attrs: by, within, measures,
        over, seed, and the estimators' own provenance.

    Examples
    --------
    >>> ds = geometry(pop, by="choice", measures=("mftma", "participation_ratio"))  # doctest: +SKIP
    >>> ds.mftma_capacity.plot(x="step")  # doctest: +SKIP
    """
    if not isinstance(pop, xr.DataArray):
        raise TypeError(
            f"geometry() needs a population tensor (xarray.DataArray); got {type(pop).__name__}. "
            "Build one with neurogeom.make_population(...), or call the measure on arrays."
        )
    from neurogeom.population import manifolds, validate

    validate(pop)
    chosen = _resolve_measures(_as_tuple(measures))
    if not chosen:
        raise ValueError("give at least one measure, e.g. measures=('glue',).")
    over_t = _as_tuple(over)
    if over_t == ("stage",) and "stage" not in pop.dims:
        over_t = ()
    for d in over_t:
        if d in _CORE_DIMS:
            raise ValueError(
                f"cannot compute over {d!r}: manifolds are built from trials and units."
            )
        if d not in pop.dims:
            raise ValueError(
                f"over={over_t} names {d!r}, which is not a dim of the tensor {pop.dims}."
            )
    if "stage" in pop.dims and "stage" not in over_t:
        raise ValueError(
            "the tensor has a 'stage' dim; include it in over= (e.g. over=('stage',)) or select "
            "one stage first (pop.sel(stage=...))."
        )
    windows: list[Any] = [time]
    if _is_window_list(time):
        windows = [tuple(w) for w in time]
        if "time" in over_t:
            raise ValueError("give either a list of time windows or over=('time',), not both.")
    elif time is not None and "time" in over_t:
        pop = pop.sel(time=slice(*time))
        windows = [None]

    plan = _plan_calls(chosen, seed, kwargs)
    calls: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
    call_index = {}
    for m in chosen:
        path, call = plan[m.name]
        key = (path, tuple(sorted(call.items())))
        if key not in calls:
            calls.append(key)
        call_index[m.name] = calls.index(key)

    shape = [pop.sizes[d] for d in over_t]
    tasks = []
    for idx in itertools.product(*[range(n) for n in shape]):
        sub = pop.isel(dict(zip(over_t, idx))) if over_t else pop
        for window in windows:
            mf = manifolds(sub, by, within=within, time=window, points=points)
            tasks.append(_Task(mf.points, mf.labels, tuple(mf.names()), tuple(calls)))

    from neurogeom.parallel import parallel_map

    raw = parallel_map(_compute, tasks, n_jobs=n_jobs)
    datasets = [_assemble(chosen, plan, call_index, r) for r in raw]

    dims = list(over_t)
    if _is_window_list(time):
        dims.append(WINDOW_DIM)
        shape.append(len(windows))
    if dims:
        nested: Any = np.empty(shape, dtype=object)
        for flat, ds in enumerate(datasets):
            nested[np.unravel_index(flat, shape)] = ds
        out = xr.combine_nested(
            nested.tolist(), concat_dim=dims, combine_attrs="drop_conflicts", join="outer"
        ).transpose(*dims, ...)
    else:
        out = datasets[0]
    for d in over_t:
        out = out.assign_coords({d: pop[d].values})
        for name, coord in pop.coords.items():
            if coord.dims == (d,) and name != d:
                out = out.assign_coords({name: (d, coord.values)})
    if WINDOW_DIM in dims:
        out = out.assign_coords(
            {
                WINDOW_DIM: np.arange(len(windows)),
                "window_start_s": (WINDOW_DIM, [float(w[0]) for w in windows]),
                "window_stop_s": (WINDOW_DIM, [float(w[1]) for w in windows]),
            }
        )
    out.attrs.update(
        {
            "by": list(_as_tuple(by)),
            "within": list(_as_tuple(within)),
            "measures": [m.name for m in chosen],
            "over": list(over_t),
            "seed": int(seed),
        }
    )
    return out
