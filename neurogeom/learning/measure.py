"""Geometry measures at every stage, split value and time window of a population tensor.

``measure_geometry(pop, by="choice", measures=("glue",), over=("stage",))`` builds the manifolds of each
stage, computes each measure on them, and returns one :class:`xarray.Dataset` indexed by the
``over`` dims, carrying their coords (e.g. the training ``step`` of each stage). ``split="look"``
runs the analysis separately for each value of a trial label (a dim named after it), and a list of
``window_s`` windows adds a ``time_window`` dim. The work fans out through
:func:`neurogeom.parallel.parallel_map` (``n_jobs``); results do not depend on it.

Seeds: the measure at each index of those dims gets its own child seed,
``child_seed(seed, *index)`` (``neurogeom._provenance.child_seed``), recorded in the
``seed_used`` coord, so the Monte-Carlo draws of different stages, split values and windows are
independent.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom._params import check_params
from neurogeom._provenance import attr_value, child_seed
from neurogeom.geometry.registry import Measure, get_measure, measure_names
from neurogeom.parallel import parallel_map
from neurogeom.population import (
    _check_manifold_labels,
    _manifolds,
    _stage_name,
    check_labels,
    label_names,
    labelled_rows,
    select,
    select_window,
    trial_labels,
    validate,
)

__all__ = ["measure_geometry"]

_CORE_DIMS = ("trial", "unit")
WINDOW_DIM = "time_window"


@dataclass(frozen=True)
class _Call:
    measure: str
    function: str  # "module:attribute"
    options: tuple[tuple[str, Any], ...]
    takes_seed: bool


@dataclass(frozen=True)
class _Task:
    points: np.ndarray
    labels: np.ndarray
    manifold: np.ndarray  # the manifold coord (label values or readable names), in code order
    calls: tuple[_Call, ...]
    seed: int
    label: str = ""  # the index in words ("stage 'late', split context=9"), for error messages


@dataclass(frozen=True)
class _Grid:
    """The broadcast dims of one measure_geometry() call, and what each index selects."""

    over: tuple[str, ...]
    split: str | None
    split_values: list[Any]
    windows: list[Any]  # one entry (None or a window) unless window_dim
    window_dim: bool = False

    @property
    def dims(self) -> list[str]:
        split = [self.split] if self.split else []
        return [*self.over, *split, *([WINDOW_DIM] if self.window_dim else [])]

    def shape(self, pop: xr.DataArray) -> list[int]:
        sizes = [pop.sizes[d] for d in self.over]
        if self.split:
            sizes.append(len(self.split_values))
        if self.window_dim:
            sizes.append(len(self.windows))
        return sizes


# ---- checking and planning ----------------------------------------------------------------------


def _resolve_measures(names: Sequence[str]) -> list[Measure]:
    out = []
    for name in names:
        m = get_measure(name)
        if m.inputs == "feature_map":
            raise ValueError(
                f"{name!r} measures a differentiable feature map (a torch callable), not a "
                f"population's manifolds; call neurogeom.geometry.{name}(feature_map, inputs, "
                "...) on the network of each checkpoint."
            )
        if m.inputs != "points_labels":
            raise ValueError(
                f"{name!r} compares two representations of the same conditions, so it cannot be "
                f"computed on one population's manifolds; call {name}(X, Y) on the two "
                "(condition-averaged) tensors."
            )
        out.append(m)
    if not out:
        raise ValueError("give at least one measure, e.g. measures=('glue',).")
    if len({m.name for m in out}) != len(out):
        raise ValueError(f"measures must not repeat; got {list(names)}.")
    return out


def _parameters(func: Any) -> tuple[set[str], bool]:
    params = inspect.signature(func).parameters
    named = {n for n, p in params.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return named, any(p.kind is p.VAR_KEYWORD for p in params.values())


def _plan_calls(chosen: list[Measure], kwargs: dict[str, Any]) -> tuple[_Call, ...]:
    """One call per measure; ``<measure>={...}`` options go to that measure, others to all."""
    names = {m.name for m in chosen}
    registered = set(measure_names())
    not_asked = sorted(
        k for k, v in kwargs.items() if k in registered - names and isinstance(v, dict)
    )
    if not_asked:
        raise TypeError(
            f"options given for {not_asked}, which {'is' if len(not_asked) == 1 else 'are'} not "
            f"among the requested measures {sorted(names)}; add {not_asked[0]!r} to measures or "
            "drop its options."
        )
    per_measure = {k: v for k, v in kwargs.items() if k in names}
    shared = {k: v for k, v in kwargs.items() if k not in names}
    for k, v in per_measure.items():
        if not isinstance(v, dict):
            raise TypeError(f"options for measure {k!r} must be a dict; got {type(v).__name__}.")
    calls = []
    for m in chosen:
        named, open_kwargs = _parameters(m.resolve())
        options = {**m.options, **shared, **per_measure.get(m.name, {})}
        if "seed" in options:
            raise TypeError("give the seed as measure_geometry(seed=...), not as a measure option.")
        unknown = sorted(k for k in options if k not in named and not open_kwargs)
        if unknown:
            raise TypeError(
                f"measure {m.name!r} does not take the argument(s) {unknown}; give options for "
                f"one measure as {m.name}={{...}}, or request the measures separately."
            )
        calls.append(_Call(m.name, m.function, tuple(sorted(options.items())), "seed" in named))
    return tuple(calls)


def _over_dims(pop: xr.DataArray, over: str | Sequence[str]) -> tuple[str, ...]:
    over_t = label_names(over)
    if over_t == ("stage",) and "stage" not in pop.dims:
        return ()
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
            "one stage first (pop.ng.measure(..., stage=...) or pop.sel(stage=...))."
        )
    return over_t


def _is_window_list(window_s: Any) -> bool:
    return (
        isinstance(window_s, list)
        and len(window_s) > 0
        and all(isinstance(w, tuple | list) and len(w) == 2 for w in window_s)
    )


def _split_values(pop: xr.DataArray, split: str | None, labels: tuple[str, ...]) -> list[Any]:
    if split is None:
        return [None]
    if not isinstance(split, str):
        raise TypeError(f"split must be one trial label (a str); got {split!r}.")
    if split not in trial_labels(pop):
        raise ValueError(
            f"unknown trial label {split!r} in split=; the tensor's trial labels are "
            f"{trial_labels(pop)}."
        )
    if split in labels:
        raise ValueError(
            f"split={split!r} is also in by/within; a label either defines manifolds (by, "
            "within: joint manifolds) or separates analyses (split), not both."
        )

    frame = pd.DataFrame({split: np.asarray(pop[split].values)})
    values = frame[split][labelled_rows(frame)]
    return sorted(pd.unique(values).tolist())


def _grid(
    pop: xr.DataArray,
    over: str | Sequence[str],
    split: str | None,
    window_s: Any,
    labels: tuple[str, ...],
) -> tuple[xr.DataArray, _Grid]:
    over_t = _over_dims(pop, over)
    windows: list[Any] = [window_s]
    if _is_window_list(window_s):
        windows = [tuple(w) for w in window_s]
        if "time" in over_t:
            raise ValueError("give either a list of windows (window_s=[...]) or over=('time',).")
        for w in windows:
            select_window(pop, w)  # each window holds bins: fail before any work
    elif window_s is not None and "time" in over_t:
        pop = select_window(pop, window_s)
        windows = [None]
    values = _split_values(pop, split, labels)
    return pop, _Grid(over_t, split, values, windows, window_dim=_is_window_list(window_s))


# ---- computing ----------------------------------------------------------------------------------


def _as_dataset(value: Any, name: str) -> xr.Dataset:
    """A measure's result as a Dataset: a plain number becomes ``<name>`` and NaN ``<name>_sem``."""
    if isinstance(value, xr.Dataset):
        return value
    if isinstance(value, xr.DataArray):
        return value.to_dataset(name=name)
    return xr.Dataset({name: ((), float(value)), f"{name}_sem": ((), np.nan)})


def _compute(task: _Task) -> list[xr.Dataset]:
    """Every measure of one index, the manifold coord set to the label values."""
    out = []
    for call in task.calls:
        module, attr = call.function.split(":")
        func = getattr(importlib.import_module(module), attr)
        options = dict(call.options)
        if call.takes_seed:
            options["seed"] = task.seed
        ds = _as_dataset(func(task.points, task.labels, **options), call.measure)
        if "manifold" in ds.dims and ds.sizes["manifold"] == len(task.manifold):
            ds = ds.assign_coords(manifold=task.manifold)
        out.append(ds)
    return out


def _where(pop: xr.DataArray, grid: _Grid, idx: tuple[int, ...]) -> str:
    """One index of the grid in words: ``"stage 'late', split context=9, window 0.1-0.2 s"``."""
    parts = []
    for d, i in zip(grid.over, idx):
        parts.append(f"stage {_stage_name(pop, i)}" if d == "stage" else f"{d} index {i}")
    k = len(grid.over)
    if grid.split:
        parts.append(f"split {grid.split}={grid.split_values[idx[k]]!r}")
        k += 1
    if grid.window_dim:
        start, stop = grid.windows[idx[k]]
        parts.append(f"window {start}-{stop} s")
    return ", ".join(parts)


def _tasks(
    pop: xr.DataArray,
    grid: _Grid,
    calls: tuple[_Call, ...],
    seed: int,
    *,
    by: tuple[str, ...],
    cols: list[str],
    points: str,
) -> tuple[list[_Task], dict[str, dict[str, Any]], np.ndarray]:
    """One task per index of the grid; the label values of every manifold name; the seeds."""
    shape = grid.shape(pop)
    seeds = np.empty(shape, dtype=np.int64)
    tasks, label_map = [], {}
    for idx in itertools.product(*[range(n) for n in shape]):
        where = _where(pop, grid, idx)
        sub = pop.isel(dict(zip(grid.over, idx))) if grid.over else pop
        k = len(grid.over)
        if grid.split:
            sub = select(sub, **{grid.split: grid.split_values[idx[k]]})
            k += 1
        window = grid.windows[idx[k]] if grid.window_dim else grid.windows[0]
        try:
            mf = _manifolds(sub, by, cols, window, None, points, 2)
            if mf.n_manifolds < 2:
                raise ValueError(
                    f"only 1 manifold ({mf.names()[0]}); a measure needs at least 2 conditions "
                    "to tell apart. Select the stages or split values that hold several."
                )
        except ValueError as exc:
            if not where:
                raise
            raise ValueError(f"{where}: {exc}") from None
        coords = mf.coords()
        for i, name in enumerate(coords["manifold"].tolist()):
            label_map[name] = {c: v[i] for c, v in coords.items() if c != "manifold"}
        seeds[idx] = child_seed(seed, *idx) if idx else seed
        tasks.append(_Task(mf.points, mf.labels, coords["manifold"], calls, int(seeds[idx]), where))
    return tasks, label_map, seeds


# ---- assembling ---------------------------------------------------------------------------------


def _merge_measures(calls: tuple[_Call, ...], parts: list[xr.Dataset]) -> xr.Dataset:
    """One Dataset of several measures: a variable name (or dim) two measures share is prefixed
    ``<measure>_`` in each; attrs are prefixed when there are several measures."""
    if len(parts) == 1:
        return parts[0]
    names = [v for p in parts for v in p.data_vars]
    coords = {c for p in parts for c in p.coords}
    sizes: dict[str, set[int]] = {}
    for p in parts:
        for d, n in p.sizes.items():
            sizes.setdefault(str(d), set()).add(n)
    renamed = []
    for call, p in zip(calls, parts):
        clash = {v: f"{call.measure}_{v}" for v in p.data_vars if names.count(v) > 1 or v in coords}
        dims = {d: f"{call.measure}_{d}" for d in p.dims if d != "manifold" and len(sizes[d]) > 1}
        q = p.rename({**clash, **dims})
        q.attrs = {f"{call.measure}_{k}": v for k, v in p.attrs.items() if k != "estimator"}
        renamed.append(q)
    merged = xr.merge(renamed, combine_attrs="drop_conflicts", join="outer", compat="equals")
    merged.attrs["estimator"] = [c.measure for c in calls]
    return merged


def _combine(datasets: list[xr.Dataset], dims: list[str], shape: list[int]) -> xr.Dataset:
    if not dims:
        return datasets[0]
    nested: Any = np.empty(shape, dtype=object)
    for flat, ds in enumerate(datasets):
        nested[np.unravel_index(flat, shape)] = ds
    return xr.combine_nested(
        nested.tolist(),
        concat_dim=dims,
        data_vars="all",
        coords="different",
        compat="equals",
        join="outer",
        combine_attrs="drop_conflicts",
    ).transpose(*dims, ...)


def _label_result(
    out: xr.Dataset,
    pop: xr.DataArray,
    grid: _Grid,
    label_map: dict[str, dict[str, Any]],
    seeds: np.ndarray,
) -> xr.Dataset:
    """Coords of the broadcast dims, one coord per label on ``manifold``, and ``seed_used``."""
    for d in grid.over:
        out = out.assign_coords({d: pop[d].values})
        for name, coord in pop.coords.items():
            if coord.dims == (d,) and name != d:
                out = out.assign_coords({name: (d, coord.values)})
    if grid.split:
        out = out.assign_coords({grid.split: np.asarray(grid.split_values)})
    if WINDOW_DIM in grid.dims:
        out = out.assign_coords(
            {
                WINDOW_DIM: np.arange(len(grid.windows)),
                "window_start_s": (WINDOW_DIM, [float(w[0]) for w in grid.windows]),
                "window_stop_s": (WINDOW_DIM, [float(w[1]) for w in grid.windows]),
            }
        )
    if "manifold" in out.dims and label_map and next(iter(label_map.values())):
        names = out["manifold"].values.tolist()
        for label in next(iter(label_map.values())):
            out = out.assign_coords(
                {label: ("manifold", np.asarray([label_map[n][label] for n in names]))}
            )
    return out.assign_coords(seed_used=(grid.dims, seeds))


def measure_geometry(
    pop: xr.DataArray,
    *,
    by: str | Sequence[str],
    measures: str | Sequence[str] = ("glue",),
    over: str | Sequence[str] = ("stage",),
    within: str | Sequence[str] | None = None,
    split: str | None = None,
    window_s: tuple[float, float] | list[tuple[float, float]] | None = None,
    points: str = "mean",
    n_jobs: int = 1,
    seed: int = 0,
    **kwargs: Any,
) -> xr.Dataset:
    """Compute geometry measures at every stage, split value and time window of a population.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor (dims among stage, trial, time, unit; see
        :func:`neurogeom.population.make_population`).
    by : str or sequence of str
        Trial label(s) defining the manifolds (e.g. ``"choice"``).
    measures : str or sequence of str, default=("glue",)
        Registered measure names (see :func:`neurogeom.geometry.measures`) that take one
        population's points and labels: ``glue``, ``simulated_capacity``, ``mftma``,
        ``decoding_accuracy``, ``participation_ratio``.
    over : str or sequence of str, default=("stage",)
        Dims to compute separately at every index of, e.g. ``"stage"`` or ``("stage", "time")``
        (per time bin). If left at the default and the tensor has no ``stage`` dim, the measures
        are computed once.
    within : str or sequence of str, optional
        Joint manifolds over the product of labels: every combination of ``by`` and ``within``
        values is one manifold of the same analysis.
    split : str, optional
        A trial label: the analysis runs separately for each of its values (trials with a
        missing value are left out with a warning), and the result gets a dim named after it,
        its coord the label values. ``split="context"`` asks "how separable are the choices in
        each context", ``within="context"`` "how separable are the (choice, context) pairs".
    window_s : (start_s, stop_s) or list of them, optional
        Window of bin centres averaged into each trial's point, or a list of windows: each becomes
        an index of a new ``time_window`` dim (coords ``window_start_s``, ``window_stop_s``).
    points : {"mean", "all"}, default="mean"
        One point per trial (window average) or per (trial, time bin).
    n_jobs : int, default=1
        Parallel workers (``-1``: every core); the numbers do not depend on it.
    seed : int, default=0
        The one seed. Computed once (no ``over``, ``split`` or window dims), a measure gets
        ``seed`` itself; at the index ``(i, j, ...)`` of the result's broadcast dims (in the
        order ``over``, ``split``, ``time_window``) it gets the independent child seed
        ``child_seed(seed, i, j, ...)``, recorded in the ``seed_used`` coord. Independent
        streams, not common random numbers: Monte-Carlo draws shared across resampled
        populations make their errors move together, which once showed as a spurious 6% gap in
        capacity that vanished at larger ``n_t``.
    **kwargs
        ``<measure>={...}`` gives options to one measure by its registry name
        (``mftma={"n_t": 500}``); any other keyword goes to every requested measure, and one that
        some requested measure does not take is a ``TypeError``.

    Returns
    -------
    xarray.Dataset
        Every variable of each measure's result (value and ``*_sem`` per output), with the
        broadcast dims (and their coords, e.g. ``step``) and per-manifold dims where the
        estimator has them: ``manifold``, its coord the label values (with several labels, a
        readable name, plus one coord per label such as ``choice`` and ``context``). A
        variable or dim name two measures share is prefixed by the measure name
        (``mftma_capacity``); their attrs are prefixed likewise. attrs: the estimator's
        provenance, plus by, within, split, measures, over, window_s and the parent seed.

    See Also
    --------
    neurogeom.learning.trajectory : the same with errors and a null.
    neurogeom.geometry.get_measure : the registry of measures.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 8)  # 3 conditions x 8 trials
    >>> x = rng.normal(size=(3, 24, 10)) + 2 * np.arange(3)[:, None, None] * np.eye(10)[y]
    >>> pop = ng.make_population(x, dims=("stage", "trial", "unit"), quantity="rate_hz",
    ...                           trial_coords={"choice": y}, stage=[0, 1, 2])
    >>> ds = measure_geometry(pop, by="choice", n_t=20)
    >>> ds.capacity.dims, bool(ds.capacity[2] > ds.capacity[0])
    (('stage',), True)
    """
    if not isinstance(pop, xr.DataArray):
        raise TypeError(
            f"measure_geometry() needs a population tensor (xarray.DataArray); got {type(pop).__name__}. "
            "Build one with neurogeom.make_population(...), or call the measure on arrays."
        )
    plan = _plan(pop, by, measures, over, within, split, window_s, points, n_jobs, seed, kwargs)
    if n_jobs == 1 and len(plan.tasks) > 1 and any(_batchable(c) for c in plan.calls):
        # the glue() calls of every stage (split value, window) in one glue_batch() pass: the
        # same numbers, to rounding
        raw, refs = _compute_many(plan.tasks)
        return _result_many(plan, raw, [refs.get(k) for k in range(len(plan.tasks))])
    raw = parallel_map(_compute, plan.tasks, n_jobs=n_jobs)
    return _result(plan, raw)


@dataclass(frozen=True)
class _Plan:
    """One measure_geometry() call's tasks and what its result is assembled from."""

    pop: xr.DataArray  # the broadcast dims' coords (see _coords_only)
    grid: _Grid
    calls: tuple[_Call, ...]
    chosen: tuple[Measure, ...]
    tasks: list[_Task]
    label_map: dict[str, dict[str, Any]]
    seeds: np.ndarray
    by: tuple[str, ...]
    within: tuple[str, ...]
    split: str | None
    window_s: Any
    seed: int


def _plan(
    pop, by, measures, over, within, split, window_s, points, n_jobs, seed, kwargs, drawn=False
) -> _Plan:
    """measure_geometry()'s checks and its tasks (one per index of the grid). ``drawn``: the
    tensor was drawn from one already checked (a replicate's trials regrouped), so its contract
    and its label values are not checked again."""
    if not drawn:
        validate(pop)
    check_params("measure_geometry", n_jobs=n_jobs, seed=seed)
    chosen = _resolve_measures(label_names(measures))
    calls = _plan_calls(chosen, kwargs)
    labels = (*label_names(by), *label_names(within))
    _check_manifold_labels(pop, label_names(by), list(labels))
    pop, grid = _grid(pop, over, split, window_s, labels)
    if not drawn:
        check_labels(pop, (*labels, *([split] if split else [])))
    tasks, label_map, seeds = _tasks(
        pop, grid, calls, seed, by=label_names(by), cols=list(labels), points=points
    )
    return _Plan(
        _coords_only(pop, grid.over),
        grid,
        calls,
        tuple(chosen),
        tasks,
        label_map,
        seeds,
        label_names(by),
        label_names(within),
        split,
        window_s,
        int(seed),
    )


def _coords_only(pop: xr.DataArray, over: tuple[str, ...]) -> xr.DataArray:
    """An empty stand-in of ``pop`` with its ``over`` dims and the coords along them only
    (what the result is labelled from; a plan does not hold the data, so many replicates' plans
    fit in memory at once)."""
    coords = {k: c for k, c in pop.coords.items() if c.dims and set(c.dims) <= set(over)}
    return xr.DataArray(
        np.zeros([pop.sizes[d] for d in over], dtype=np.int8), dims=over, coords=coords
    )


def _result(plan: _Plan, raw: list[list[xr.Dataset]]) -> xr.Dataset:
    """measure_geometry()'s Dataset from the results of its tasks."""
    grid = plan.grid
    out = _combine([_merge_measures(plan.calls, r) for r in raw], grid.dims, grid.shape(plan.pop))
    return _finish(plan, out)


def _finish(plan: _Plan, out: xr.Dataset) -> xr.Dataset:
    """The combined result labelled: coords of the broadcast dims, seeds, attrs."""
    pop, grid = plan.pop, plan.grid
    out = _label_result(out, pop, grid, plan.label_map, plan.seeds)
    out.attrs.update(
        {
            "by": list(plan.by),
            "within": list(plan.within),
            "split": plan.split or "none",
            "measures": [m.name for m in plan.chosen],
            "over": list(grid.over),
            "seed": plan.seed,
        }
    )
    window_s = plan.window_s
    if window_s is not None and not _is_window_list(window_s):
        out.attrs["window_s"] = attr_value(
            [window_s.start, window_s.stop] if isinstance(window_s, slice) else list(window_s)
        )
    return out


# ---- many tensors at once: GLUE on all of their manifolds in one glue_batch() ----------------------

_GLUE = "neurogeom.geometry.capacity:glue"
#: glue() options glue_batch() takes as they are, and those it runs only at their default
_GLUE_BATCH_OPTIONS = frozenset(
    {
        "n_t",
        "kappa",
        "dichotomies",
        "n_points_per_manifold",
        "projection_dim",
        "jitter",
        "center",
        "dtype",
        "anchor_center",
        "alignment",
        "max_iter",
    }
)
_GLUE_DEFAULTS = {"return_anchors": False, "backend": "numpy", "n_jobs": 1, "scheduler": None}
#: GLUE problems per glue_batch() call (bounds its memory; the numbers do not depend on it)
_GLUE_CHUNK = 256


def _batchable(call: _Call) -> bool:
    """Whether glue_batch() gives this glue() call's numbers (every option it takes; not
    ``dichotomies="pairwise"``)."""
    if call.function != _GLUE:
        return False
    for key, value in call.options:
        if key in _GLUE_DEFAULTS:
            if value is not _GLUE_DEFAULTS[key] and value != _GLUE_DEFAULTS[key]:
                return False
        elif key not in _GLUE_BATCH_OPTIONS:
            return False
        elif key == "dichotomies" and isinstance(value, str) and value == "pairwise":
            return False
    return True


_PER_PROBLEM = (
    "seed",
    "span_dimension",
    "data_scale",
    "n_features",
    "projection_applied",
    "no_separating_fraction",
    "at_floor",
)


def _glue_slice(
    batch: xr.Dataset, lo: int, hi: int, dim: str | None, tasks: list[_Task]
) -> xr.Dataset:
    """Problems ``lo..hi-1`` of a glue_batch() result laid out as glue() gives one problem
    (``dim=None``, one problem) or as several glue() results concatenated along ``dim``: the
    per-problem settings become attrs where the problems agree (dropped where not), ``n_points``
    keeps ``dim`` only where it varies; solver counts, summed over the batch, are left out.
    ``tasks``: those of the problems (their points give ``n_features_input``)."""
    part = batch.isel(problem=lo if dim is None else slice(lo, hi)).drop_vars("problem")
    if dim is not None:
        part = part.rename_dims({"problem": dim})
    attrs = {
        k: v for k, v in batch.attrs.items() if not k.startswith("solver_") and k != "n_problems"
    }
    for key in _PER_PROBLEM:
        vals = np.atleast_1d(part[key].values)
        if (vals == vals[0]).all():
            attrs[key] = vals[0].item()
    n_input = {t.points.shape[1] for t in tasks}
    if len(n_input) == 1:
        attrs["n_features_input"] = int(n_input.pop())
    counts = part["n_points"].values
    if dim is not None and (counts == counts[:1]).all():
        part = part.assign_coords(n_points=("manifold", counts[0]))
    part = part.drop_vars(list(_PER_PROBLEM))
    part.attrs = {**attrs, "estimator": "glue"}
    return part


def _compute_many(tasks: list[_Task]) -> tuple[list[list[Any]], dict[int, tuple[Any, int]]]:
    """:func:`_compute` of every task, the glue() calls of all tasks solved together by
    glue_batch() (per problem the same numbers, to rounding; see
    :func:`neurogeom.geometry.capacity.glue_batch`). Returns the per-task results and, for the
    tasks whose only measure is such a glue() call, ``(batch, index)`` of their problem."""
    from neurogeom.geometry.capacity import glue_batch
    from neurogeom.geometry.registry import label_outputs

    out: list[list[Any]] = [[None] * len(t.calls) for t in tasks]
    groups: dict[tuple[int, int], list[int]] = {}
    for k, task in enumerate(tasks):
        for j, call in enumerate(task.calls):
            if _batchable(call):
                groups.setdefault((j, int(task.labels.max()) + 1), []).append(k)
        if not any(_batchable(c) for c in task.calls):
            out[k] = _compute(task)
        elif not all(_batchable(c) for c in task.calls):
            rest = tuple(c for c in task.calls if not _batchable(c))
            done = iter(_compute(replace(task, calls=rest)))
            out[k] = [None if _batchable(c) else next(done) for c in task.calls]
    refs: dict[int, tuple[Any, int]] = {}
    for (j, _), members in groups.items():
        options = dict(tasks[members[0]].calls[j].options)
        options = {k: v for k, v in options.items() if k not in _GLUE_DEFAULTS}
        for lo in range(0, len(members), _GLUE_CHUNK):
            chunk = members[lo : lo + _GLUE_CHUNK]
            batch = glue_batch(
                [(tasks[k].points, tasks[k].labels) for k in chunk],
                seed=[tasks[k].seed for k in chunk],
                **options,
            )
            label_outputs(batch, "glue")
            for i, k in enumerate(chunk):
                if len(tasks[k].calls) == 1:
                    refs[k] = (batch, i)
                else:
                    out[k][j] = _named(_glue_slice(batch, i, i + 1, None, [tasks[k]]), tasks[k])
    return out, refs


def _named(ds: xr.Dataset, task: _Task) -> xr.Dataset:
    """The manifold coord set to the task's label values (as :func:`_compute` does)."""
    if ds.sizes.get("manifold") == len(task.manifold):
        ds = ds.assign_coords(manifold=task.manifold)
    return ds


def _same_manifolds(tasks: list[_Task]) -> bool:
    first = tasks[0].manifold
    return all(
        len(t.manifold) == len(first) and (np.asarray(t.manifold) == np.asarray(first)).all()
        for t in tasks
    )


def _result_many(plan: _Plan, raw: list[list[Any]], refs: list[Any]) -> xr.Dataset:
    """:func:`_result` of one plan; glue results of one batch taken as one slice of it when the
    plan has one dim and its manifolds are the same at every index (what concatenating the
    per-index results would give), else per index."""
    batch = refs[0][0] if refs and refs[0] is not None else None
    idx = [r[1] for r in refs] if batch is not None else []
    fast = (
        batch is not None
        and len(plan.grid.dims) == 1
        and all(r is not None and r[0] is batch for r in refs)
        and idx == list(range(idx[0], idx[0] + len(idx)))
        and _same_manifolds(plan.tasks)
    )
    if not fast:
        raw = [
            [_named(_glue_slice(r[0], r[1], r[1] + 1, None, [t]), t)] if r is not None else done
            for r, t, done in zip(refs, plan.tasks, raw)
        ]
        return _result(plan, raw)
    dim = plan.grid.dims[0]
    one = _named(_glue_slice(batch, idx[0], idx[-1] + 1, dim, plan.tasks), plan.tasks[0])
    return _finish(plan, one.transpose(*plan.grid.dims, ...))


def _measure_many(pops: Any, **kwargs: Any) -> list[xr.Dataset]:
    """measure_geometry() of several tensors drawn from one checked tensor (their contract and
    label values are not checked again), ``pops`` an iterable of ``(pop, seed)`` and
    ``kwargs`` measure_geometry()'s other arguments (n_jobs is not used: it runs here); the
    glue() calls of all of them run as one glue_batch() pass (bootstrap and shuffle replicates
    of a trajectory). Each result equals measure_geometry()'s in its measures' values (to
    rounding) and layout; a glue result's attrs hold no solver counts."""
    by = kwargs.pop("by")
    args = dict(measures=("glue",), over=("stage",), within=None, split=None, window_s=None)
    args.update({k: kwargs.pop(k) for k in list(args) if k in kwargs})
    points = kwargs.pop("points", "mean")
    kwargs.pop("n_jobs", None)
    plans = []
    for pop, seed in pops:
        if not isinstance(pop, xr.DataArray):
            raise TypeError(
                f"measure_geometry() needs a population tensor; got {type(pop).__name__}."
            )
        plans.append(
            _plan(
                pop,
                by,
                args["measures"],
                args["over"],
                args["within"],
                args["split"],
                args["window_s"],
                points,
                1,
                seed,
                kwargs,
                drawn=True,
            )
        )
    tasks = [t for p in plans for t in p.tasks]
    raw, refs = _compute_many(tasks)
    out, start = [], 0
    for p in plans:
        stop = start + len(p.tasks)
        out.append(_result_many(p, raw[start:stop], [refs.get(k) for k in range(start, stop)]))
        start = stop
    return out
