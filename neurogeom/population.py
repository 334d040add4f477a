"""The population tensor: neurogeom's one data contract.

A population tensor is a plain :class:`xarray.DataArray` whose dims are a subset, in this order, of
``("stage", "trial", "time", "unit")``:

========  ===================================================================================
dim       coords
========  ===================================================================================
stage     what it indexes (``step``, ``epoch``, ``session_date``) and a ``label`` (before/after)
trial     one plain 1-D coord per condition label (``context``, ``choice``, ``coherence``, ...)
time      seconds relative to the alignment event named in ``attrs["align"]`` (bin centres)
unit      unit ids, plus metadata (``area``, ``depth``, ``cell_type``, ``session`` when pooled)
========  ===================================================================================

attrs: ``quantity`` (``spike_count``, ``rate_hz``, ``dff``, ``fluorescence``, ``rnn_state``,
``continuous``), ``bin_size_s``, ``source``, ``species``, ``area``, ``align``. Missing data are NaN,
and a boolean ``valid`` coord over the non-unit dims says where at least one unit has data.

Recordings (:func:`neurogeom.read_nwb`), arrays (:func:`neurogeom.from_array`) and model simulations
all produce this object, so every measure works on brains and models without a branch.

This module is the contract only: it imports nothing from the engine (:mod:`neurogeom.geometry`),
the learning layer or the figures. The ``.ng`` accessor (:mod:`neurogeom.accessor`, registered by
``import neurogeom``) sits above both: ``pop.ng.validate()``, ``pop.ng.select(...)``,
``pop.ng.average(...)``, ``pop.ng.manifolds(...)``, ``pop.ng.pool(...)``, ``pop.ng.glue(...)``,
``pop.ng.geometry(...)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "DIMS",
    "QUANTITIES",
    "STUDY_VARIABLE",
    "VALID",
    "make_population",
    "node_tensor",
    "register_node_reader",
    "validate",
    "with_valid_mask",
    "Manifolds",
    "manifolds",
    "check_labels",
    "trial_labels",
    "select",
    "select_stage",
    "average",
    "pool",
]

DIMS: tuple[str, ...] = ("stage", "trial", "time", "unit")
QUANTITIES: frozenset[str] = frozenset(
    {"spike_count", "rate_hz", "dff", "fluorescence", "rnn_state", "continuous"}
)
VALID = "valid"

TimeWindow = tuple[float, float] | slice | None


# ---- building and validating --------------------------------------------------------------------


def make_population(
    data: Any,
    *,
    dims: Sequence[str],
    quantity: str,
    trial_coords: Mapping[str, Any] | None = None,
    time: Any = None,
    unit: Any = None,
    unit_coords: Mapping[str, Any] | None = None,
    stage: Any = None,
    stage_coords: Mapping[str, Any] | None = None,
    align: str | None = None,
    bin_size_s: float | None = None,
    source: str | None = None,
    species: str | None = None,
    area: str | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build a validated population tensor.

    Parameters
    ----------
    data : array_like
        Values with one axis per entry of ``dims``.
    dims : sequence of str
        A subset of ``("stage", "trial", "time", "unit")``, in that order.
    quantity : str
        What the values are: ``spike_count``, ``rate_hz``, ``dff``, ``fluorescence``,
        ``rnn_state`` or ``continuous``.
    trial_coords : mapping of str to array_like, optional
        Condition labels, each of length ``n_trial`` (str, int, float or bool values).
    time : array_like, optional
        Bin centres in seconds relative to the alignment event, strictly increasing.
        Defaults to ``arange(n_time) * bin_size_s`` when ``bin_size_s`` is given.
    unit : array_like, optional
        Unique unit ids (default ``0 .. n_unit - 1``).
    unit_coords : mapping of str to array_like, optional
        Per-unit metadata (``area``, ``depth``, ``cell_type``, ``session``).
    stage : array_like, optional
        Stage index values (training step, session number). Default ``0 .. n_stage - 1``.
    stage_coords : mapping of str to array_like, optional
        Per-stage metadata (``step``, ``label`` such as ``before`` / ``after``).
    align : str, optional
        Name of the event that time 0 is aligned to, e.g. ``"cue_start_time"``.
    bin_size_s : float, optional
        Bin width in seconds.
    source, species, area : str, optional
        Provenance stored in attrs.
    attrs : mapping, optional
        Further attrs.

    Returns
    -------
    xarray.DataArray
        Named ``"population"``, dims ``dims``, with a boolean ``valid`` coord over the non-unit dims.

    Raises
    ------
    ValueError
        If the dims, coords or attrs break the contract; the message says what was expected.

    See Also
    --------
    validate : Check an existing DataArray against the contract.
    neurogeom.from_array : Build a tensor from a NumPy array and a table of trial labels.
    neurogeom.read_nwb : Read a tensor from an NWB file.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 3, 4)), dims=("trial", "time", "unit"),
    ...                       quantity="spike_count", bin_size_s=0.1,
    ...                       trial_coords={"choice": [0, 1] * 4})
    >>> dict(pop.sizes)
    {'trial': 8, 'time': 3, 'unit': 4}
    >>> pop["time"].values
    array([0. , 0.1, 0.2])
    >>> pop["valid"].dims
    ('trial', 'time')
    """
    dims = tuple(dims)
    _check_dims(dims)
    values = np.asarray(data)
    if values.ndim != len(dims):
        raise ValueError(
            f"data has {values.ndim} axes but dims names {len(dims)}: {dims}. "
            "Give one dim name per axis."
        )
    if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
        raise TypeError(f"data must be numeric; got dtype {values.dtype}.")
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; expected one of {sorted(QUANTITIES)}.")
    if bin_size_s is not None and not (np.isfinite(bin_size_s) and bin_size_s > 0):
        raise ValueError(
            f"bin_size_s must be a positive number of seconds; got {bin_size_s}. Give the bin "
            "width, e.g. bin_size_s=0.05."
        )
    sizes = dict(zip(dims, values.shape))

    coords: dict[str, Any] = {}
    if "trial" in sizes:
        coords["trial"] = np.arange(sizes["trial"])
        for name, vec in (trial_coords or {}).items():
            coords[name] = ("trial", _label_vector(name, vec, sizes["trial"], "trial"))
    elif trial_coords:
        raise ValueError("trial_coords were given but dims has no 'trial'.")
    if "time" in sizes:
        if time is None:
            if bin_size_s is None:
                raise ValueError(
                    "give time (seconds) or bin_size_s for a tensor with a 'time' dim."
                )
            time = np.arange(sizes["time"]) * bin_size_s
        coords["time"] = ("time", _label_vector("time", time, sizes["time"], "time"))
    if "unit" in sizes:
        unit = np.arange(sizes["unit"]) if unit is None else unit
        coords["unit"] = ("unit", _label_vector("unit", unit, sizes["unit"], "unit"))
        for name, vec in (unit_coords or {}).items():
            coords[name] = ("unit", _label_vector(name, vec, sizes["unit"], "unit"))
    elif unit_coords:
        raise ValueError("unit_coords were given but dims has no 'unit'.")
    if "stage" in sizes:
        stage = np.arange(sizes["stage"]) if stage is None else stage
        coords["stage"] = ("stage", _label_vector("stage", stage, sizes["stage"], "stage"))
        for name, vec in (stage_coords or {}).items():
            coords[name] = ("stage", _label_vector(name, vec, sizes["stage"], "stage"))
    elif stage_coords:
        raise ValueError("stage_coords were given but dims has no 'stage'.")

    all_attrs: dict[str, Any] = {"quantity": quantity}
    for key, val in {
        "bin_size_s": bin_size_s,
        "source": source,
        "species": species,
        "area": area,
        "align": align,
    }.items():
        if val is not None:
            all_attrs[key] = val
    all_attrs.update(attrs or {})
    pop = xr.DataArray(values, dims=dims, coords=coords, name="population", attrs=all_attrs)
    if "time" in sizes:
        pop["time"].attrs.update(units="s", **({"align": align} if align else {}))
    return validate(with_valid_mask(pop))


def with_valid_mask(pop: xr.DataArray) -> xr.DataArray:
    """Return ``pop`` with its ``valid`` coord recomputed from the data.

    ``valid`` is True where at least one unit has a finite value; its dims are ``pop``'s dims
    without ``unit``.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor; missing data are NaN.

    Returns
    -------
    xarray.DataArray
        ``pop`` with a boolean ``valid`` coord over its non-unit dims.

    See Also
    --------
    validate : Check the population-tensor contract.
    make_population : Build a tensor (its ``valid`` coord included).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
    ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4})
    >>> pop = pop.astype(float)
    >>> pop[0] = np.nan
    >>> with_valid_mask(pop)["valid"].values
    array([False,  True,  True,  True,  True,  True,  True,  True])
    """
    data = xr.Variable(pop.dims, pop.values)  # attrs-free, so the mask carries none of them
    finite = xr.ones_like(data, dtype=bool) if pop.dtype == bool else np.isfinite(data)
    if "unit" in pop.dims:
        finite = finite.any("unit")
    pop = pop.drop_vars(VALID, errors="ignore")
    return pop.assign_coords({VALID: finite})


def validate(pop: Any) -> xr.DataArray:
    """Check that ``pop`` follows the population-tensor contract; return it unchanged.

    Parameters
    ----------
    pop : xarray.DataArray
        The tensor to check.

    Returns
    -------
    xarray.DataArray
        ``pop`` itself, unchanged.

    Raises
    ------
    TypeError
        If ``pop`` is not an :class:`xarray.DataArray`.
    ValueError
        If dims are unknown or out of order, a coord has the wrong shape, the time coord is not
        increasing, unit ids repeat, values are infinite, or ``quantity`` is missing or unknown.

    See Also
    --------
    make_population : Build a valid tensor from values and labels.
    neurogeom.population.with_valid_mask : Recompute the ``valid`` coord.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
    ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4})
    >>> validate(pop) is pop
    True
    >>> validate(pop.rename(unit="neuron"))
    Traceback (most recent call last):
    ...
    ValueError: population dims must be among ('stage', 'trial', 'time', 'unit'); got unknown ['neuron']. Try pop.rename(neuron='unit').
    """
    if not isinstance(pop, xr.DataArray):
        raise TypeError(
            f"a population tensor is an xarray.DataArray; got {type(pop).__name__}. "
            "Build one with neurogeom.from_array(...) or neurogeom.make_population(...)."
        )
    _check_dims(tuple(pop.dims))
    for name, coord in pop.coords.items():
        if isinstance(pop.indexes.get(name), pd.MultiIndex):
            raise ValueError(
                f"coord {name!r} is a MultiIndex; labels must be plain 1-D coords. "
                f"Use pop.reset_index({name!r})."
            )
        if name != VALID and coord.ndim > 1:
            raise ValueError(
                f"coord {name!r} has dims {coord.dims}; label coords must be 1-D (on one of {DIMS})."
            )
    for name in trial_labels(pop):
        _check_scalars(name, np.asarray(pop[name].values))
    if "time" in pop.dims:
        if pop["time"].dtype.kind in "mM":
            raise TypeError(_TIME_IN_SECONDS.format(dtype=pop["time"].dtype))
        t = np.asarray(pop["time"].values, dtype=float)
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise ValueError(
                "the 'time' coord must be finite and strictly increasing (seconds); sort the "
                "tensor with pop.sortby('time') and drop repeated or NaN bins."
            )
    if "unit" in pop.dims:
        ids = pd.Index(pop["unit"].values)
        if ids.has_duplicates:
            dup = ids[ids.duplicated()].unique().tolist()[:5]
            raise ValueError(
                f"unit ids must be unique; repeated: {dup}. Give each unit its own id, e.g. "
                "pop.assign_coords(unit=[...])."
            )
    quantity = pop.attrs.get("quantity")
    if quantity not in QUANTITIES:
        raise ValueError(
            f"attrs['quantity'] must be one of {sorted(QUANTITIES)}; got {quantity!r}. "
            "Set it with pop.attrs['quantity'] = 'spike_count' (or the right one)."
        )
    if np.issubdtype(pop.dtype, np.floating) and np.isinf(pop.values).any():
        raise ValueError("the tensor holds inf values; use NaN for missing data.")
    return pop


def _check_dims(dims: tuple[Hashable, ...]) -> None:
    unknown = [d for d in dims if d not in DIMS]
    if unknown:
        hint = ""
        if "neuron" in unknown or "cell" in unknown:
            hint = " Try pop.rename(neuron='unit')."
        raise ValueError(f"population dims must be among {DIMS}; got unknown {unknown}.{hint}")
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims repeat: {dims}; name each dim once.")
    order = [DIMS.index(d) for d in dims]
    if order != sorted(order):
        wanted = tuple(d for d in DIMS if d in dims)
        raise ValueError(
            f"population dims must be in the order {wanted}; got {dims}. "
            f"Use pop.transpose(*{wanted})."
        )


def _label_vector(name: str, values: Any, n: int, dim: str) -> np.ndarray:
    vec = np.asarray(values)
    if vec.ndim == 0:
        vec = np.full(n, vec.item())
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(
            f"coord {name!r} must be 1-D with one value per {dim} ({n}); got shape {vec.shape}."
        )
    if dim == "time" and vec.dtype.kind in "mM":
        raise TypeError(_TIME_IN_SECONDS.format(dtype=vec.dtype))
    if vec.dtype == object:
        _check_scalars(name, vec)
        vec = vec.astype(str) if all(isinstance(v, str) for v in vec) else vec
    return vec


_TIME_IN_SECONDS = (
    "the 'time' coord holds {dtype} values; give time in seconds (floats), e.g. "
    "time=td / np.timedelta64(1, 's') or pd.to_timedelta(td).total_seconds()."
)


def _check_scalars(name: Any, values: np.ndarray) -> None:
    """A label holds one scalar (str, number, bool, None) per entry, never a dict or list."""
    for v in values.tolist() if values.dtype == object else ():
        if isinstance(v, Mapping | list | tuple | set | np.ndarray):
            raise TypeError(
                f"label {name!r} holds {type(v).__name__} values (e.g. {_brief(v)}); labels must "
                "be scalars (str, int, float or bool), one per trial. Give each field its own "
                f"label, e.g. trial_coords={{'{name}_a': [d['a'] for d in ...]}}."
            )


def _brief(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- manifolds: the geometry engine's numeric input -----------------------------------------------


@dataclass(frozen=True)
class Manifolds:
    """Points grouped into task manifolds: the numeric input of the geometry engine.

    Attributes
    ----------
    points : ndarray of shape (n_points, n_features)
        One row per trial (or per trial and time bin), one column per unit, float64.
    labels : ndarray of shape (n_points,)
        Integer manifold index ``0 .. n_manifolds - 1`` of each point.
    table : pandas.DataFrame
        One row per manifold: its label values (columns ``by`` and ``within``) and ``n_points``.
    by, within : tuple of str
        The labels that define a manifold, and the labels it is nested in.
    feature_names : ndarray of shape (n_features,)
        Unit ids.

    See Also
    --------
    neurogeom.population.manifolds : Build a Manifolds from a population tensor.
    neurogeom.geometry.glue : Measure the manifolds' capacity and geometry.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
    ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4})
    >>> m = manifolds(pop, by="choice")
    >>> m.n_manifolds, m.points.shape
    (2, (8, 4))
    >>> m.labels
    array([0, 1, 0, 1, 0, 1, 0, 1])
    """

    points: np.ndarray
    labels: np.ndarray
    table: pd.DataFrame
    by: tuple[str, ...]
    within: tuple[str, ...] = ()
    feature_names: np.ndarray = field(default_factory=lambda: np.empty(0))

    @property
    def n_manifolds(self) -> int:
        """Number of manifolds P."""
        return len(self.table)

    def names(self) -> list[str]:
        """Human-readable manifold names such as ``'choice=1, context=0'``.

        Returns
        -------
        list of str
            One ``'label=value, ...'`` name per manifold, in manifold order.

        See Also
        --------
        Manifolds.coords : The names as the coords of a result's ``manifold`` dim.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
        ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4,
        ...                                     "context": ["a"] * 4 + ["b"] * 4})
        >>> manifolds(pop, by="choice", within="context").names()
        ['choice=0, context=a', 'choice=0, context=b', 'choice=1, context=a', 'choice=1, context=b']
        """
        cols = [*self.by, *self.within]
        return [", ".join(f"{c}={row[c]}" for c in cols) for _, row in self.table.iterrows()]

    def coords(self) -> dict[str, np.ndarray]:
        """Coords of a result's ``manifold`` dim, in manifold order.

        One label: ``{"manifold": <its values>}`` (ints stay ints, strings stay strings).
        Several labels (``by`` and ``within``): ``"manifold"`` holds the readable names of
        :meth:`names`, and each label gets its own coord (e.g. ``choice`` and ``context``).

        Returns
        -------
        dict of str to numpy.ndarray
            ``manifold`` and, with several labels, one coord per label; each of length ``n_manifolds``.

        See Also
        --------
        Manifolds.names : The readable manifold names.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
        ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4})
        >>> manifolds(pop, by="choice").coords()
        {'manifold': array([0, 1])}
        """
        cols = [*self.by, *self.within]
        if len(cols) == 1:
            return {"manifold": self.table[cols[0]].to_numpy()}
        out = {"manifold": np.asarray(self.names())}
        out.update({c: self.table[c].to_numpy() for c in cols})
        return out


def manifolds(
    pop: xr.DataArray,
    by: str | Sequence[str],
    *,
    within: str | Sequence[str] | None = None,
    window_s: TimeWindow = None,
    stage: Any = None,
    points: Literal["mean", "all"] = "mean",
    min_points: int = 2,
) -> Manifolds:
    """Group a population's trials into manifolds, one per value of ``by`` (within ``within``).

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with dims ``trial`` and ``unit`` (``time`` and ``stage`` optional).
    by : str or sequence of str
        Trial label(s) whose values define the manifolds (e.g. ``"choice"``).
    within : str or sequence of str, optional
        Joint manifolds over the product of labels: each combination of ``by`` and ``within``
        values is one manifold of the same analysis (``by="choice", within="context"`` gives one
        manifold per (choice, context)). To run an analysis separately for each value of a
        label instead, use ``split=`` of the measures (``pop.ng.glue(by=..., split="context")``).
    window_s : (start_s, stop_s) or slice, optional
        Window in seconds (inclusive) of bin centres to use. Default: all time bins.
    stage : label, optional
        Which stage to use when ``pop`` has a ``stage`` dim (a value of the ``stage`` coord, or
        of its ``label`` coord).
    points : {"mean", "all"}, default="mean"
        ``"mean"``: one point per trial, averaged over the window. ``"all"``: one point per
        (trial, time bin).
    min_points : int, default=2
        Fewest points a manifold may have; fewer is an error.

    Returns
    -------
    Manifolds
        ``points`` of shape (n_points, n_unit) and integer ``labels``.

    Warns
    -----
    UserWarning
        Once if trials whose ``by``/``within`` label is missing (NaN or None, e.g. catch trials)
        are left out (a missing label is never a manifold), and once if points with missing
        (NaN) values are dropped; label values that look alike (see :func:`check_labels`).

    Raises
    ------
    ValueError
        Unknown label (the message lists the trial labels), a ``stage`` dim without ``stage=``,
        an empty window, no labelled trial, or a manifold with fewer than ``min_points`` points.

    See Also
    --------
    Manifolds : The returned points and labels.
    check_labels : The label check run here first.
    neurogeom.accessor.NgAccessor.manifolds : The same as ``pop.ng.manifolds(...)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 3, 4)), dims=("trial", "time", "unit"),
    ...                       quantity="spike_count", bin_size_s=0.1,
    ...                       trial_coords={"choice": [0, 1] * 4})
    >>> m = manifolds(pop, by="choice", window_s=(0.1, 0.2))
    >>> m.points.shape, m.n_manifolds
    ((8, 4), 2)
    >>> manifolds(pop, by="choice", points="all").points.shape
    (24, 4)
    """
    validate(pop)
    by_t = label_names(by)
    cols = [*by_t, *label_names(within)]
    _check_manifold_labels(pop, by_t, cols)
    return _manifolds(pop, by_t, cols, window_s, stage, points, min_points, check=True)


def _manifolds(
    pop: xr.DataArray,
    by_t: tuple[str, ...],
    cols: list[str],
    window_s: TimeWindow,
    stage: Any,
    points: str,
    min_points: int,
    check: bool = False,
) -> Manifolds:
    """:func:`manifolds` of a checked tensor and labels; ``check``: warn about look-alike label
    values (:func:`check_labels`), else the caller did so once."""
    if "stage" in pop.dims:
        if stage is None:
            raise ValueError(
                f"the tensor has a 'stage' dim with {pop.sizes['stage']} entries "
                f"({list(pop['stage'].values[:5])}...); pass stage=<one of them>, or use "
                "pop.ng.geometry(by=..., over='stage') for every stage."
            )
        pop = select_stage(pop, stage)
    elif stage is not None:
        raise ValueError("stage= was given but the tensor has no 'stage' dim.")
    if check:
        check_labels(pop, cols)
    samples = _window_points(pop, window_s, points)
    sample_dim = "sample" if "sample" in samples.dims else "trial"
    x = np.asarray(samples.transpose(sample_dim, "unit").values, dtype=np.float64)
    frame = pd.DataFrame({c: np.asarray(samples[c].values) for c in cols})
    keep = labelled_rows(frame, what="trial" if points == "mean" else "point")
    finite = np.isfinite(x).all(axis=1)
    n_drop = int((keep & ~finite).sum())
    if n_drop:
        if n_drop == int(keep.sum()):
            raise ValueError("every point has missing (NaN) values in the chosen window.")
        warnings.warn(
            f"dropped {n_drop} of {int(keep.sum())} points with missing (NaN) values "
            "(trials shorter than the window, or units not recorded).",
            stacklevel=2,
        )
    keep &= finite
    frame, x = frame[keep], x[keep]
    codes = frame.groupby(cols, sort=True).ngroup().to_numpy()
    table = frame.assign(n_points=1).groupby(cols, sort=True)["n_points"].count().reset_index()
    small = table[table["n_points"] < min_points]
    if len(small):
        raise ValueError(
            f"{len(small)} manifold(s) have fewer than {min_points} points, e.g. "
            f"{small.iloc[0][cols].to_dict()} with {int(small.iloc[0]['n_points'])}. "
            "Merge or drop that condition (pop.ng.select(...)), or pass min_points=1."
        )
    return Manifolds(
        points=x,
        labels=codes.astype(np.int64),
        table=table,
        by=by_t,
        within=tuple(cols[len(by_t) :]),
        feature_names=np.asarray(pop["unit"].values),
    )


def check_labels(pop: xr.DataArray, by: str | Sequence[str]) -> None:
    """Warn about trial-label values that look alike, and stages that hold other values.

    Called once wherever manifolds are built from a tensor (:func:`manifolds`, the measures of
    :mod:`neurogeom.learning`), so a label spelled two ways is seen before it becomes two
    manifolds.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with a ``trial`` dim.
    by : str or sequence of str
        The trial labels to check (those that define manifolds or split an analysis); names the
        tensor lacks are skipped.

    Warns
    -----
    UserWarning
        For each label: float values equal within a relative 1e-9 (``0.1 + 0.2`` and ``0.3``),
        strings equal after stripping whitespace (``'left'`` and ``'left '``), strings that
        differ only in case (``'left'`` and ``'Left'``), each naming the values and how to
        merge them. With a ``stage`` dim: stages whose trials (those with data) hold other
        values of a label, naming the stages and the values found in some stages only.

    Raises
    ------
    TypeError
        A label holding non-scalar values (dicts, lists) instead of one scalar per trial.

    See Also
    --------
    neurogeom.population.manifolds : Builds manifolds after this check.
    trial_labels : The names of the trial labels.

    Examples
    --------
    >>> import warnings
    >>> pop = make_population(np.ones((4, 2)), dims=("trial", "unit"), quantity="rate_hz",
    ...                       trial_coords={"side": ["left", "left ", "right", "right"]})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     check_labels(pop, "side")
    >>> print(caught[0].message)
    trial label 'side' has values that differ only by surrounding whitespace: 'left' and 'left '; ...
    """
    present = set(trial_labels(pop))
    names = [b for b in label_names(by) if b in present]
    for name in names:
        values = np.asarray(pop[name].values)
        _check_scalars(name, values)
        for message in _look_alike(name, values):
            warnings.warn(message, UserWarning, stacklevel=3)
    if "stage" in pop.dims and pop.sizes["stage"] > 1 and names:
        message = _stage_label_sets(pop, names)
        if message:
            warnings.warn(message, UserWarning, stacklevel=3)


def _look_alike(name: str, values: np.ndarray) -> list[str]:
    """Messages for the values of one label that are probably meant to be one value."""
    uniq = pd.unique(pd.Series(values).dropna())
    if values.dtype.kind == "f" and len(uniq) > 1:
        u = np.sort(uniq.astype(float))
        close = np.abs(np.diff(u)) <= 1e-9 * np.maximum(np.abs(u[:-1]), np.abs(u[1:]))
        pairs = [f"{float(u[i])!r} and {float(u[i + 1])!r}" for i in np.flatnonzero(close)[:3]]
        if pairs:
            return [
                f"trial label {name!r} has values equal to rounding error: {'; '.join(pairs)}; "
                "they become separate manifolds. If they are one condition, round them: "
                f"pop.assign_coords({name}=pop[{name!r}].round(9))."
            ]
        return []
    strings = [v for v in uniq.tolist() if isinstance(v, str)]
    out = []
    for key, what, fix in (
        (str.strip, "differ only by surrounding whitespace", "str.strip()"),
        (lambda v: v.strip().casefold(), "differ only in case", "str.lower()"),
    ):
        groups: dict[str, list[str]] = {}
        for v in strings:
            groups.setdefault(key(v), []).append(v)
        alike = [g for g in groups.values() if len(g) > 1]
        if what == "differ only in case":  # whitespace-only groups were named already
            alike = [g for g in alike if len({v.strip() for v in g}) > 1]
        if alike:
            shown = "; ".join(" and ".join(repr(v) for v in sorted(g)) for g in alike[:3])
            out.append(
                f"trial label {name!r} has values that {what}: {shown}; they become separate "
                f"manifolds. If they are one condition, merge them: pop.assign_coords({name}="
                f"('trial', pop[{name!r}].to_series().{fix}.to_numpy()))."
            )
    return out


def _stage_label_sets(pop: xr.DataArray, names: list[str]) -> str:
    """A message naming the stages whose trials (with data) hold other values of a label."""
    other = [d for d in pop.dims if d not in ("stage", "trial")]
    has_data = np.asarray(pop.notnull().any(other).transpose("stage", "trial").values)
    stages = [_stage_name(pop, i) for i in range(pop.sizes["stage"])]
    parts = []
    for name in names:
        vals = np.asarray(pop[name].values)
        sets = []
        for i in range(len(stages)):
            sets.append(set(pd.Series(vals[has_data[i]]).dropna().tolist()))
        everywhere = set.intersection(*sets)
        if all(s == everywhere for s in sets):
            continue
        held = [
            f"stage {st} has {sorted(s - everywhere, key=_sort_key) or 'none'}"
            for st, s in zip(stages, sets)
        ]
        parts.append(f"values of {name!r} not at every stage: {', '.join(held)}")
    if not parts:
        return ""
    return (
        "the stages hold different trial-label values, so their manifolds are not the same "
        f"conditions: {'; '.join(parts)}. Compare stages on the values they share "
        "(pop.ng.select(...)), or fix the spelling of the labels."
    )


def _stage_name(pop: xr.DataArray, i: int) -> str:
    """A stage in words: its ``label`` coord when there is one, else its ``stage`` value."""
    if "label" in pop.coords and pop["label"].dims == ("stage",):
        return repr(pop["label"].values[i].item())
    return repr(pop["stage"].values[i].item())


def _check_manifold_labels(pop: xr.DataArray, by: tuple[str, ...], cols: list[str]) -> None:
    for dim in ("trial", "unit"):
        if dim not in pop.dims:
            raise ValueError(f"manifolds need dims 'trial' and 'unit'; got {tuple(pop.dims)}.")
    available = trial_labels(pop)
    for name in cols:
        if name not in available:
            raise ValueError(
                f"unknown trial label {name!r}; the tensor's trial labels are {available}."
            )
    if not by:
        raise ValueError("give at least one trial label in `by`.")
    repeated = sorted({c for c in cols if cols.count(c) > 1})
    if repeated:
        raise ValueError(
            f"trial label(s) {repeated} given twice (in by and within); within must name "
            "other labels than by."
        )


def _window_points(pop: xr.DataArray, window_s: TimeWindow, points: str) -> xr.DataArray:
    """The tensor reduced to one point per trial (``"mean"``) or per (trial, bin) (``"all"``)."""
    if points not in ("mean", "all"):
        raise ValueError(f"points must be 'mean' or 'all'; got {points!r}.")
    if "time" not in pop.dims:
        if window_s is not None:
            raise ValueError("window_s= was given but the tensor has no 'time' dim.")
        return pop
    pop = select_window(pop, window_s)
    if points == "all":
        return pop.stack(sample=("trial", "time")).transpose("sample", "unit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: dropped by the caller
        return pop.mean("time", skipna=True, keep_attrs=True)


def labelled_rows(frame: pd.DataFrame, *, what: str = "trial") -> np.ndarray:
    """Rows of a label table with every label present: a missing label is never a condition.

    Parameters
    ----------
    frame : pandas.DataFrame
        One column per label, one row per trial (or point).
    what : str, default="trial"
        What a row is, for the messages.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
        True where no label is NaN or None. One ``UserWarning`` counts the rows left out.

    Raises
    ------
    ValueError
        If every row has a missing label.
    """
    missing = frame.isna().to_numpy().any(axis=1)
    n_missing = int(missing.sum())
    if n_missing == len(frame) and n_missing:
        raise ValueError(
            f"every {what} has a missing (NaN or None) value of {list(frame.columns)}; give the "
            "trials labels, or choose labels that are set on them."
        )
    if n_missing:
        per_label = {c: int(n) for c, n in frame.isna().sum().items() if n}
        warnings.warn(
            f"left out {n_missing} of {len(frame)} {what}s whose label is missing (NaN or None): "
            f"{per_label}; a missing label is never a manifold or condition.",
            stacklevel=3,
        )
    return ~missing


def trial_labels(pop: xr.DataArray) -> list[str]:
    """Names of the condition labels on the ``trial`` dim (``valid`` excluded).

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor.

    Returns
    -------
    list of str
        Each 1-D coord on ``trial`` except ``trial`` and ``valid``, in coord order.

    See Also
    --------
    select : Keep the trials whose labels match.
    neurogeom.population.manifolds : Group trials by a label.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
    ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4,
    ...                                     "context": ["a"] * 4 + ["b"] * 4})
    >>> trial_labels(pop)
    ['choice', 'context']
    """
    return [
        str(n) for n, c in pop.coords.items() if c.dims == ("trial",) and n not in ("trial", VALID)
    ]


def label_names(x: str | Sequence[str] | None) -> tuple[str, ...]:
    """Label name(s) as a tuple: ``None`` -> ``()``, ``"choice"`` -> ``("choice",)``."""
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,)
    return tuple(x)


def select_window(pop: xr.DataArray, window_s: TimeWindow) -> xr.DataArray:
    """The time bins whose centres lie in ``window_s = (start_s, stop_s)`` (inclusive).

    ``None`` keeps every bin; a ``slice`` of seconds is accepted too.

    Raises
    ------
    ValueError
        If the window is not ``(start_s, stop_s)`` with start < stop, or holds no bins.
    """
    if window_s is None:
        return pop
    if isinstance(window_s, slice):
        start, stop = window_s.start, window_s.stop
    else:
        try:
            start, stop = window_s
        except (TypeError, ValueError):
            raise ValueError(
                f"window_s must be (start_s, stop_s) or a slice; got {window_s!r}."
            ) from None
    if start is not None and stop is not None and not start < stop:
        raise ValueError(f"window_s must have start < stop; got ({start}, {stop}).")
    out = pop.sel(time=slice(start, stop))
    if out.sizes["time"] == 0:
        t = pop["time"].values
        raise ValueError(
            f"window_s ({start}, {stop}) holds no bins; the tensor spans "
            f"{t[0]:.3g} to {t[-1]:.3g} s."
        )
    return out


def select_stage(pop: xr.DataArray, stage: Any) -> xr.DataArray:
    """The tensor at one stage: a value of the ``stage`` coord or of its ``label`` coord.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with a ``stage`` dim.
    stage : label
        A value of the ``stage`` coord (e.g. a training step) or of the ``label`` coord
        (e.g. ``"after"``).

    Returns
    -------
    xarray.DataArray
        ``pop`` at that stage, without the ``stage`` dim.

    Raises
    ------
    ValueError
        If no stage has that value (the message lists the stages).

    See Also
    --------
    select : Keep trials or stages by label.
    neurogeom.population.manifolds : Takes ``stage=`` to build manifolds at one stage.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.normal(size=(2, 6, 4)), dims=("stage", "trial", "unit"),
    ...                       quantity="rnn_state", stage_coords={"label": ["before", "after"]})
    >>> after = select_stage(pop, "after")
    >>> after.dims, after["stage"].item()
    (('trial', 'unit'), 1)
    """
    values = pop["stage"].values
    if stage in set(values.tolist()):
        return pop.sel(stage=stage)
    if "label" in pop.coords and pop["label"].dims == ("stage",):
        hits = np.flatnonzero(pop["label"].values == stage)
        if len(hits) == 1:
            return pop.isel(stage=int(hits[0]))
    raise ValueError(f"unknown stage {stage!r}; the tensor's stages are {values.tolist()}.")


# ---- selection, averaging ------------------------------------------------------------------------


def select(pop: xr.DataArray, **conditions: Any) -> xr.DataArray:
    """Keep the trials (or stages) whose labels match every condition.

    ``select(pop, context=0, choice=[1, 2])`` keeps trials with context 0 and choice 1 or 2.
    Keys may be trial labels or stage coords (``label="after"``).

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor.
    **conditions : label or list of labels
        ``name=value`` (or ``name=[values]``) for trial labels or 1-D stage coords.

    Returns
    -------
    xarray.DataArray
        The matching trials (or stages), every other dim kept.

    Raises
    ------
    ValueError
        An unknown label (the message lists the labels), or a value no trial has.

    See Also
    --------
    select_stage : One stage, by value or label.
    trial_labels : The labels a tensor can be selected on.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 4)), dims=("trial", "unit"),
    ...                       quantity="spike_count", trial_coords={"choice": [0, 1] * 4})
    >>> select(pop, choice=1)["choice"].values
    array([1, 1, 1, 1])
    >>> select(pop, choice=[0, 1]).sizes["trial"]
    8
    """
    out = pop
    for name, wanted in conditions.items():
        if name not in out.coords or out[name].ndim != 1 or name == VALID:
            raise ValueError(
                f"unknown label {name!r}; trial labels are {trial_labels(out)}"
                + (f", stage coords {_stage_labels(out)}" if "stage" in out.dims else "")
                + "."
            )
        dim = out[name].dims[0]
        values = np.asarray(out[name].values)
        wanted_list = (
            list(wanted)
            if isinstance(wanted, list | tuple | set | frozenset | np.ndarray)
            else [wanted]
        )
        mask = np.isin(values, wanted_list)
        if not mask.any():
            uniq = sorted(pd.unique(values).tolist(), key=_sort_key)[:20]
            raise ValueError(f"no {dim} has {name}={wanted!r}; its values are {uniq}.")
        out = out.isel({dim: np.flatnonzero(mask)})
    return out


def _stage_labels(pop: xr.DataArray) -> list[str]:
    return [str(n) for n, c in pop.coords.items() if c.dims == ("stage",)]


def average(
    pop: xr.DataArray, dim: str = "trial", by: str | Sequence[str] | None = None
) -> xr.DataArray:
    """Average over a dim; with ``by``, a condition average that keeps one row per condition.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor.
    dim : str, default="trial"
        Dim to average over (NaN-aware); it is removed, unless ``by`` is given.
    by : str or sequence of str, optional
        Only with ``dim="trial"``: average the trials of each combination of these labels. The
        result keeps a ``trial`` dim with one entry per condition, the labels as coords, and an
        ``n_trials`` coord. Trials with a missing (NaN or None) label are left out with a
        warning.

    Returns
    -------
    xarray.DataArray
        The averaged tensor, attrs kept, ``valid`` recomputed.

    See Also
    --------
    pool : Combine sessions into a pseudo-population.
    select : Keep trials by label before averaging.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> pop = make_population(rng.poisson(2.0, (8, 3, 4)), dims=("trial", "time", "unit"),
    ...                       quantity="spike_count", bin_size_s=0.1,
    ...                       trial_coords={"choice": [0, 1] * 4})
    >>> average(pop, "time").dims
    ('trial', 'unit')
    >>> means = average(pop, by="choice")
    >>> means["choice"].values, means["n_trials"].values
    (array([0, 1]), array([4, 4]))
    """
    if dim not in pop.dims:
        raise ValueError(f"cannot average over {dim!r}: the tensor's dims are {tuple(pop.dims)}.")
    by_t = label_names(by)
    if not by_t:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = pop.drop_vars(VALID, errors="ignore").mean(dim, skipna=True, keep_attrs=True)
        return with_valid_mask(out)
    if dim != "trial":
        raise ValueError("average(by=...) groups trials; use dim='trial'.")
    missing = [b for b in by_t if b not in trial_labels(pop)]
    if missing:
        raise ValueError(f"unknown trial label(s) {missing}; trial labels are {trial_labels(pop)}.")
    frame = pd.DataFrame({b: np.asarray(pop[b].values) for b in by_t})
    frame = frame[labelled_rows(frame)]
    groups = frame.groupby(list(by_t), sort=True).indices
    data = pop.drop_vars(VALID, errors="ignore").transpose(*pop.dims)
    axis = pop.dims.index("trial")
    rows, keys, counts = [], [], []
    for key, pos in groups.items():
        idx = frame.index.to_numpy()[pos]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            rows.append(np.nanmean(np.take(data.values, idx, axis=axis), axis=axis))
        keys.append(key if isinstance(key, tuple) else (key,))
        counts.append(len(idx))
    values = np.stack(rows, axis=axis)
    coords: dict[str, Any] = {n: c for n, c in data.coords.items() if "trial" not in c.dims}
    coords["trial"] = np.arange(len(rows))
    for j, b in enumerate(by_t):
        coords[b] = ("trial", np.asarray([k[j] for k in keys]))
    coords["n_trials"] = ("trial", np.asarray(counts))
    out = xr.DataArray(values, dims=data.dims, coords=coords, name=pop.name, attrs=dict(pop.attrs))
    out.attrs["averaged_by"] = list(by_t)
    return with_valid_mask(out)


# ---- pooling: pseudo-populations ------------------------------------------------------------------


def pool(
    pops: Sequence[xr.DataArray],
    by: str | Sequence[str],
    *,
    n_trials: int | None = None,
    seed: int = 0,
    sessions: Sequence[str] | None = None,
    unique_unit_ids: bool = True,
    replace: bool = False,
) -> xr.DataArray:
    """Pool units recorded in different sessions into one pseudo-population.

    Units not recorded simultaneously are combined by resampling trials per condition: for every
    combination of the ``by`` labels, each session contributes the same number of trials, drawn
    without replacement with a seeded generator, and the k-th pseudo-trial of a condition joins the
    k-th drawn trial of every session. Trials with a missing (NaN or None) ``by`` label are left
    out with a warning.

    Parameters
    ----------
    pops : sequence of xarray.DataArray
        Population tensors with dims (``trial``, [``time``], ``unit``) and equal time coords.
    by : str or sequence of str
        Trial labels that define a condition (e.g. ``"type"``); the pooled tensor keeps only these.
    n_trials : int, optional
        Trials per condition. Default: the smallest count of any condition in any session.
    seed : int, default=0
        Seed of the resampling.
    sessions : sequence of str, optional
        Session names, stored in the unit coord ``session``. Default: ``attrs["session"]``,
        else ``attrs["source"]``, else ``"session<i>"``.
    unique_unit_ids : bool, default=True
        Prefix unit ids with the session name (``"<session>/<id>"``). With False the ids are
        kept, and an id that occurs in two sessions is an error.
    replace : bool, default=False
        Draw with replacement, allowing ``n_trials`` above a session's count.

    Returns
    -------
    xarray.DataArray
        Dims (``trial``, [``time``], ``unit``); ``n_conditions * n_trials`` trials sorted by
        condition; unit coords ``session`` and every unit coord common to all sessions.

    See Also
    --------
    neurogeom.population.average : Condition averages of one session.
    neurogeom.studies.study : Many sessions as one study tree.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = make_population(rng.poisson(2.0, (6, 2)), dims=("trial", "unit"),
    ...                     quantity="spike_count", trial_coords={"choice": [0, 1] * 3})
    >>> b = make_population(rng.poisson(2.0, (4, 3)), dims=("trial", "unit"),
    ...                     quantity="spike_count", trial_coords={"choice": [0, 1] * 2})
    >>> pooled = pool([a, b], by="choice", sessions=["s1", "s2"])
    >>> dict(pooled.sizes)
    {'trial': 4, 'unit': 5}
    >>> pooled["unit"].values
    array(['s1/0', 's1/1', 's2/0', 's2/1', 's2/2'], dtype='<U4')
    """
    pops = list(pops)
    by_t = label_names(by)
    _check_sessions(pops, by_t)
    names = (
        list(sessions)
        if sessions is not None
        else [_session_name(p, i) for i, p in enumerate(pops)]
    )
    if len(names) != len(pops) or len(set(names)) != len(names):
        raise ValueError(f"sessions must name each tensor once; got {names}.")
    per_session, common = _common_conditions(pops, by_t)
    smallest = min(len(g[c]) for g in per_session for c in common)
    n = smallest if n_trials is None else int(n_trials)
    if n < 1:
        raise ValueError(f"n_trials must be at least 1; got {n}.")
    if n > smallest and not replace:
        raise ValueError(
            f"n_trials={n} but some condition has only {smallest} trials in some session; "
            "lower n_trials or pass replace=True."
        )
    rng = np.random.default_rng(seed)
    parts = []
    for p, groups in zip(pops, per_session):
        idx = np.concatenate([rng.choice(groups[c], size=n, replace=replace) for c in common])
        part = p.drop_vars(VALID, errors="ignore").isel(trial=idx)
        keep = {"trial", "time", "unit", *by_t}
        part = part.drop_vars(
            [c for c in part.coords if c not in keep and "unit" not in part[c].dims]
        )
        parts.append(part.assign_coords(trial=np.arange(part.sizes["trial"])))
    out = _join_units(parts, names, by_t, unique_unit_ids)
    attrs = dict(pops[0].attrs)
    attrs.update(pooled_sessions=list(names), pool_by=list(by_t), pool_seed=seed, pool_n_trials=n)
    attrs.pop("session", None)
    out.attrs = attrs
    return validate(with_valid_mask(out.transpose(*pops[0].dims)))


def _check_sessions(pops: list[xr.DataArray], by: tuple[str, ...]) -> None:
    """Every tensor can be pooled with the first: dims, labels, time bins and quantity agree."""
    if not pops:
        raise ValueError("pool needs at least one population tensor.")
    if not by:
        raise ValueError("pool needs `by`: the trial label(s) that define a condition.")
    first = pops[0]
    for i, p in enumerate(pops):
        validate(p)
        if "stage" in p.dims or "trial" not in p.dims or "unit" not in p.dims:
            raise ValueError(
                f"session {i} has dims {tuple(p.dims)}; pooling needs ('trial', [time,] 'unit')."
            )
        missing = [b for b in by if b not in trial_labels(p)]
        if missing:
            raise ValueError(
                f"session {i} lacks trial label(s) {missing}; its labels are {trial_labels(p)}."
            )
        if p.dims != first.dims:
            raise ValueError(
                f"session {i} has dims {p.dims}, session 0 has {first.dims}; give every "
                "session the same dims (add or drop 'time')."
            )
        if "time" in p.dims and not np.allclose(p["time"].values, first["time"].values):
            raise ValueError(
                f"session {i} has other time bins than session 0; read them with the same "
                "align, window and bin size."
            )
        if p.attrs.get("quantity") != first.attrs.get("quantity"):
            raise ValueError(
                f"session {i} holds {p.attrs.get('quantity')!r} but session 0 holds "
                f"{first.attrs.get('quantity')!r}; pool tensors of the same quantity (units)."
            )


def _common_conditions(
    pops: list[xr.DataArray], by: tuple[str, ...]
) -> tuple[list[dict[Any, np.ndarray]], list[Any]]:
    """Trial indices of each condition per session, and the conditions every session has."""
    per_session = []
    for p in pops:
        frame = pd.DataFrame({b: np.asarray(p[b].values) for b in by})
        rows = np.flatnonzero(labelled_rows(frame))
        groups = frame.iloc[rows].groupby(list(by), sort=True).indices
        per_session.append({k: rows[v] for k, v in groups.items()})
    common = sorted(set.intersection(*(set(g) for g in per_session)), key=_sort_key)
    if not common:
        raise ValueError(
            f"no condition of {by} occurs in every session; pool by label(s) whose values "
            "every session shares."
        )
    dropped = set().union(*(set(g) for g in per_session)) - set(common)
    if dropped:
        warnings.warn(
            f"conditions missing from some session were left out: {sorted(dropped, key=_sort_key)}",
            stacklevel=3,
        )
    return per_session, common


def _join_units(
    parts: list[xr.DataArray], names: list[str], by: tuple[str, ...], unique_unit_ids: bool
) -> xr.DataArray:
    """Concatenate the resampled sessions along ``unit``, keeping their common unit coords."""
    shared = set.intersection(
        *({str(c) for c in q.coords if q[c].dims == ("unit",) and c != "unit"} for q in parts)
    )
    parts = [
        q.drop_vars(
            [c for c in q.coords if q[c].dims == ("unit",) and c != "unit" and c not in shared]
        ).assign_coords(session=("unit", np.full(q.sizes["unit"], name)))
        for q, name in zip(parts, names)
    ]
    if unique_unit_ids:
        parts = [
            q.assign_coords(unit=[f"{name}/{u}" for u in q["unit"].values])
            for q, name in zip(parts, names)
        ]
    ids = pd.Index(np.concatenate([q["unit"].values for q in parts]))
    if ids.has_duplicates:
        dup = ids[ids.duplicated()].unique().tolist()[:5]
        raise ValueError(
            f"unit ids {dup} occur in more than one session; pass unique_unit_ids=True to prefix "
            "them with the session name, or relabel them (pop.assign_coords(unit=...))."
        )
    for q in parts[1:]:  # the same condition labels, in the same order, in every session
        for b in by:
            if not np.array_equal(q[b].values, parts[0][b].values):
                raise ValueError(f"label {b!r} does not line up across sessions after resampling.")
    return xr.concat(parts, dim="unit", coords="minimal", compat="override", join="override")


def _session_name(pop: xr.DataArray, i: int) -> str:
    for key in ("session", "source"):
        if pop.attrs.get(key):
            return str(pop.attrs[key])
    return f"session{i}"


def _sort_key(key: Any) -> tuple:
    key = key if isinstance(key, tuple) else (key,)
    return tuple((type(k).__name__, k) for k in key)


# ---- study nodes: a session's tensor, read on first use ------------------------------------------

STUDY_VARIABLE = "pop"
_NODE_READERS: dict[str, Any] = {}


def register_node_reader(name: str, reader: Any) -> None:
    """Register ``reader(attrs) -> DataArray``, which reads a study node's tensor from the node's
    attrs (``reader`` names it); :mod:`neurogeom.studies` registers the file readers.

    Parameters
    ----------
    name : str
        The reader's name, as a node's ``attrs["reader"]`` gives it.
    reader : callable
        ``reader(attrs) -> xarray.DataArray``, called with the node's attrs.

    See Also
    --------
    node_tensor : Reads a node's tensor with the registered reader.
    neurogeom.studies.study : Builds study nodes read by file readers.

    Examples
    --------
    >>> register_node_reader("ones", lambda attrs: make_population(
    ...     np.ones((attrs["n_trials"], 2)), dims=("trial", "unit"), quantity="rate_hz"))
    >>> node = xr.DataTree(name="session", dataset=xr.Dataset(attrs={"reader": "ones", "n_trials": 3}))
    >>> node_tensor(node).sizes["trial"]
    3
    """
    _NODE_READERS[name] = reader


def node_tensor(node: Any, variable: str = STUDY_VARIABLE) -> xr.DataArray:
    """The population tensor of one study node (an :class:`xarray.DataTree` session node).

    A node built from a file holds no data until this is first called: the file named in its
    attrs is read then, and the tensor kept in the node, so each file is opened once.

    Parameters
    ----------
    node : xarray.DataTree
        A session node of a study (``/subject/session``).
    variable : str, default="pop"
        The name the tensor is stored under.

    Returns
    -------
    xarray.DataArray
        The session's tensor (``trial``, [``time``], ``unit``), attrs as stored.

    See Also
    --------
    register_node_reader : Register how a node's file is read.
    neurogeom.studies.study : Build a study whose nodes this reads.

    Examples
    --------
    >>> pop = make_population(np.ones((3, 2)), dims=("trial", "unit"), quantity="rate_hz")
    >>> node = xr.DataTree(name="session", dataset=pop.to_dataset(name="pop"))
    >>> node_tensor(node).dims
    ('trial', 'unit')
    """
    if variable in node.data_vars:
        return node.to_dataset(inherit=False)[variable]
    reader = node.attrs.get("reader")
    if reader is None:
        raise ValueError(
            f"study node {node.path!r} holds no variable {variable!r} (it holds "
            f"{sorted(node.data_vars)}); name the tensor's variable with variable=..."
        )
    if reader not in _NODE_READERS:
        raise ValueError(
            f"study node {node.path!r} is read by {reader!r}, which is not registered; "
            "import neurogeom.studies first."
        )
    pop = _NODE_READERS[reader](dict(node.attrs))
    node.dataset = pop.to_dataset(name=variable).assign_attrs(dict(node.attrs))
    return node.to_dataset(inherit=False)[variable]
