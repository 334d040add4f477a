"""Metadata of every geometry measure: what it is, which way is "more", what it ignores.

A measure registers itself where it is defined, with the :func:`register_measure` decorator::

    @register_measure(
        kind="dimension",
        direction="larger_is_more_dimensional",
        invariances=("rotation", "reflection", "translation", "isotropic scaling"),
        citation="Gao et al., bioRxiv 214262 (2017)",
        label="participation ratio",
        units="dimensions",
    )
    def participation_ratio(points, labels): ...

Each measure says its ``kind``, its ``direction`` (larger is more separable, less separable, more
similar, less similar, or more dimensional), the transformations of the data it is invariant to,
whether it is a metric, where it comes from, and its output variables, each with its own
direction, a label and units. ``neurogeom.geometry.measures()`` lists them as a table, one row per
output variable (``glue`` gives capacity, radius, dimension, ... each with its own direction). The
registry name is the function's name and the CLI's ``--method``.

The registry finds the package's measures by importing ``MEASURE_MODULES`` (and the modules
named by the ``neurogeom.measures`` entry points of installed packages) the first time it is
asked, so ``import neurogeom`` imports none of them; :func:`get_measure` stops at the module that
defines the measure it looks for. Code outside the package registers a measure with the same
decorator (or :func:`register`), and it then shows up in the table, the CLI, the accessor,
trajectories and figures; :func:`unregister` removes it.

A registered function writes its outputs' labels into the result: each output variable gets the
CF attrs ``long_name`` and ``units`` (its ``_sem`` too), which xarray's plotting and
:func:`neurogeom.show.measure_label` read, so figures need not import the engine.

The direction and invariances given at registration are the ones stated in each function's
docstring ("Direction:" and "Invariant to:" lines in its Notes); a test checks that they agree.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, TypeVar

import pandas as pd
import xarray as xr

__all__ = [
    "Measure",
    "Output",
    "get_measure",
    "measure_names",
    "measures",
    "register",
    "register_measure",
    "registered",
    "unregister",
]

KINDS = ("capacity", "geometry", "similarity", "decoding", "dimension")
KINDS += ("coding",)
DIRECTIONS = (
    "larger_is_more_separable",
    "larger_is_less_separable",
    "larger_is_more_similar",
    "larger_is_less_similar",
    "larger_is_more_dimensional",
    "larger_is_more_magnified",
)
DIRECTIONS += ("larger_is_more_redundant",)
INVARIANCES = (
    "rotation",
    "reflection",
    "translation",
    "isotropic scaling",
    "invertible linear maps",
    "permutation of units",
)
INPUTS = ("points_labels", "pair", "feature_map")

# The package's modules that define measures, imported when the registry is first asked (in this
# order; ``riemann`` last, as it imports torch). A measure added to one of them needs no other
# file; a new module of measures is added here.
MEASURE_MODULES = (
    "neurogeom.geometry.capacity",
    "neurogeom.geometry._mftma",
    "neurogeom.geometry.similarity",
    "neurogeom.geometry.coding",
    "neurogeom.geometry.riemann",
)
# Installed packages name their modules of measures under this entry-point group.
ENTRY_POINT_GROUP = "neurogeom.measures"

# ``units`` that xarray would decode into timedeltas when a result is read back from netCDF.
_TIME_UNITS = {"days", "hours", "minutes", "seconds", "milliseconds", "microseconds", "nanoseconds"}


def _check_kind_and_direction(what: str, kind: str, direction: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"{what}: kind must be one of {KINDS}; got {kind!r}.")
    if direction not in DIRECTIONS:
        raise ValueError(f"{what}: direction must be one of {DIRECTIONS}; got {direction!r}.")


@dataclass(frozen=True)
class Output:
    """One output variable of a measure (``radius`` of ``glue``), with its own direction.

    Attributes
    ----------
    name : str
        The variable's name in the measure's Dataset (its standard error is ``<name>_sem``).
    direction : str
        One of ``DIRECTIONS``.
    kind : str
        One of ``KINDS`` (``capacity`` for a capacity, ``geometry`` for radius, dimension,
        alignments and utility).
    label : str
        What it is, for figures (``"radius R"``); written as the variable's ``long_name``
        (default: the name with spaces).
    units : str
        Its units (``"relative to centre norm"``), written as the variable's ``units``; an axis
        label reads ``"<label> (<units>)"``. Empty for none.

    See Also
    --------
    Measure : The measure it belongs to.
    measures : Every measure's outputs as a table.

    Examples
    --------
    >>> out = Output("spread", "larger_is_less_separable", "geometry")
    >>> out.label
    'spread'
    """

    name: str
    direction: str
    kind: str
    label: str = ""
    units: str = ""

    def __post_init__(self) -> None:
        _check_kind_and_direction(f"output {self.name!r}", self.kind, self.direction)
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))
        units = self.units.strip().lower()
        if units in _TIME_UNITS or " since " in f" {units} ":
            raise ValueError(
                f"output {self.name!r}: units {self.units!r} would be read back from netCDF as a "
                "time; write them another way (e.g. 's (seconds)')."
            )

    @property
    def axis_label(self) -> str:
        """``"<label> (<units>)"``, or the label alone when there are no units."""
        return f"{self.label} ({self.units})" if self.units else self.label


@dataclass(frozen=True)
class Measure:
    """One registered measure.

    Attributes
    ----------
    name : str
        Registry name, used by ``geometry(measures=...)`` and the CLI's ``--method``; the same as
        the name of the function computing it.
    kind : str
        capacity, geometry, similarity, decoding or dimension.
    direction : str
        One of ``DIRECTIONS``: the direction of the main output (the one the function's
        docstring speaks of).
    invariances : tuple of str
        Transformations of the data (from ``INVARIANCES``) that leave the value unchanged.
    is_metric : bool
        True for distances that satisfy the metric axioms (so K x K tables can feed MDS/clustering).
    citation : str
    function : str
        ``"module:attribute"`` of the function computing it.
    outputs : tuple of Output
        The variables of its Dataset that are measures, each with its direction (default: one
        output named like the measure, with the measure's kind and direction).
    options : dict
        Keyword arguments fixed for this measure (e.g. ``of="centroids"``).
    inputs : str
        ``"points_labels"`` (one population's points and manifold labels), ``"pair"`` (two
        representations of the same conditions) or ``"feature_map"`` (a differentiable torch
        feature map, the network's logits and probe inputs).
    func : callable, optional
        The registered function itself (set by :func:`register_measure`); :meth:`resolve`
        returns it without importing ``function``.

    See Also
    --------
    register_measure : Build and register one from a decorated function.
    get_measure : A registered measure by name.

    Examples
    --------
    >>> m = get_measure("glue")
    >>> m.kind, m.direction
    ('capacity', 'larger_is_more_separable')
    """

    name: str
    kind: str
    direction: str
    invariances: tuple[str, ...]
    is_metric: bool
    citation: str
    function: str
    outputs: tuple[Output, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    inputs: str = "points_labels"
    func: Callable[..., Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_kind_and_direction(f"measure {self.name!r}", self.kind, self.direction)
        object.__setattr__(self, "invariances", tuple(self.invariances))
        unknown = set(self.invariances) - set(INVARIANCES)
        if unknown:
            raise ValueError(
                f"measure {self.name!r}: unknown invariances {sorted(unknown)}; use {INVARIANCES}."
            )
        if ":" not in self.function:
            raise ValueError(f"measure {self.name!r}: function must be 'module:attribute'.")
        if self.inputs not in INPUTS:
            raise ValueError(
                f"measure {self.name!r}: inputs must be one of {INPUTS}; got {self.inputs!r}."
            )
        if not self.outputs:
            object.__setattr__(self, "outputs", (Output(self.name, self.direction, self.kind),))
        object.__setattr__(self, "outputs", tuple(self.outputs))

    def resolve(self) -> Callable[..., Any]:
        """The function that computes this measure (imported from ``function`` if need be).

        Returns
        -------
        callable
            The measure's function.

        See Also
        --------
        get_measure : The measure by name.

        Examples
        --------
        >>> get_measure("glue").resolve().__name__
        'glue'
        """
        if self.func is not None:
            return self.func
        module, attr = self.function.split(":")
        return getattr(importlib.import_module(module), attr)

    def output(self, name: str) -> Output | None:
        """The output variable called ``name``, or None.

        Parameters
        ----------
        name : str
            An output variable's name (``"radius"``).

        Returns
        -------
        Output or None
            That output, or None when the measure has none of that name.

        See Also
        --------
        Output : What it returns.

        Examples
        --------
        >>> get_measure("glue").output("radius").direction
        'larger_is_less_separable'
        """
        return next((o for o in self.outputs if o.name == name), None)


_REGISTRY: dict[str, Measure] = {}
_SHADOWED: dict[str, list[Measure]] = {}  # name -> measures replaced by replace=True, oldest first
_OVERRIDDEN: set[str] = set()  # names registered with replace=True
_PENDING: list[Any] | None = None  # modules (or entry points) not yet imported; None: not listed
_UNAVAILABLE: dict[str, str] = {}  # module -> why it could not be imported
_DISCOVERING = False


# ---- finding the measures -----------------------------------------------------------------------


def _entry_points() -> list[Any]:

    return list(entry_points(group=ENTRY_POINT_GROUP))


def _load(source: Any) -> None:
    """Import one module of measures. A missing optional dependency (torch) only makes its
    measures unavailable; an installed package's entry point that fails is skipped with a
    warning."""
    if not isinstance(source, str):
        try:
            source.load()
        except Exception as exc:  # another package's bug must not break the registry
            import warnings

            warnings.warn(
                f"measures of entry point {source.name!r} ({source.value}) could not be "
                f"loaded: {exc!r}",
                RuntimeWarning,
                stacklevel=3,
            )
            _UNAVAILABLE[source.value] = repr(exc)
        return
    try:
        importlib.import_module(source)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if not missing or missing.split(".")[0] == "neurogeom":
            raise
        _UNAVAILABLE[source] = f"needs {missing} (not installed)"


def _discover(until: str | None = None) -> None:
    """Import the modules of measures not yet imported, stopping once ``until`` is registered."""
    global _PENDING, _DISCOVERING
    if _DISCOVERING:
        return
    _DISCOVERING = True
    try:
        if _PENDING is None:
            _PENDING = [*MEASURE_MODULES, *_entry_points()]
        while _PENDING and (until is None or until not in _REGISTRY):
            _load(_PENDING.pop(0))
    finally:
        _DISCOVERING = False


# ---- registering --------------------------------------------------------------------------------


def register(measure: Measure, *, replace: bool = False) -> Measure:
    """Add a measure to the registry (``replace=True`` to overwrite one of the same name).

    The same function decorated again (its module run twice) updates the entry.
    A measure defined outside ``MEASURE_MODULES`` first makes the registry import them, so
    that a name the package already uses is refused now rather than later.

    Parameters
    ----------
    measure : Measure
        The entry to add.
    replace : bool, default=False
        Overwrite a measure of the same name.

    Returns
    -------
    Measure
        ``measure``, as registered.

    See Also
    --------
    register_measure : The decorator form.
    registered : Register for a ``with`` block only.
    unregister : Remove a measure.

    Examples
    --------
    >>> def spread(points, labels):
    ...     centred = points - points.mean(0)
    ...     return xr.Dataset({"spread": np.linalg.norm(centred, axis=1).mean()})
    >>> m = Measure(name="spread", kind="geometry", direction="larger_is_less_separable",
    ...             invariances=("rotation",), is_metric=False, citation="example",
    ...             function="numpy:mean", func=spread)
    >>> register(m).name
    'spread'
    >>> "spread" in measure_names()
    True
    >>> unregister("spread").name
    'spread'
    """
    own = measure.function.split(":")[0] in MEASURE_MODULES
    if not own:
        _discover()
    old = _REGISTRY.get(measure.name)
    redefined = old is not None and old.function == measure.function and old.func is not None
    redefined = redefined and measure.func is not None and measure.func is not old.func
    if old is not None and not redefined:
        if replace:
            _SHADOWED.setdefault(measure.name, []).append(old)
            _OVERRIDDEN.add(measure.name)
        elif measure.name in _OVERRIDDEN and own:
            _SHADOWED.setdefault(measure.name, []).insert(0, measure)  # keep the replacement
            return _REGISTRY[measure.name]
        else:
            raise ValueError(
                f"a measure named {measure.name!r} is already registered ({old.function}); "
                "pass replace=True to overwrite it, or choose another name."
            )
    _REGISTRY[measure.name] = measure
    return measure


def unregister(name: str) -> Measure:
    """Remove a registered measure (a measure it had replaced comes back); returns it.

    Parameters
    ----------
    name : str
        A registry name.

    Returns
    -------
    Measure
        The removed entry.

    See Also
    --------
    register : Add a measure.
    registered : Register for a ``with`` block only.

    Examples
    --------
    >>> def spread(points, labels):
    ...     centred = points - points.mean(0)
    ...     return xr.Dataset({"spread": np.linalg.norm(centred, axis=1).mean()})
    >>> m = Measure(name="spread", kind="geometry", direction="larger_is_less_separable",
    ...             invariances=("rotation",), is_metric=False, citation="example",
    ...             function="numpy:mean", func=spread)
    >>> _ = register(m)
    >>> unregister("spread").name, "spread" in measure_names()
    ('spread', False)
    """
    measure = get_measure(name)
    shadowed = _SHADOWED.get(name)
    if shadowed:
        _REGISTRY[name] = shadowed.pop()
        if not shadowed:
            del _SHADOWED[name]
            _OVERRIDDEN.discard(name)
    else:
        del _REGISTRY[name]
    return measure


@contextlib.contextmanager
def registered(measure: Measure, *, replace: bool = False) -> Iterator[Measure]:
    """Register ``measure`` for the duration of a ``with`` block, then unregister it.

    Parameters
    ----------
    measure : Measure
        The entry to add for the block.
    replace : bool, default=False
        Overwrite a measure of the same name for the block.

    Yields
    ------
    Measure
        ``measure``, registered until the block ends.

    See Also
    --------
    register : Register for good.
    unregister : Remove a measure.

    Examples
    --------
    >>> def spread(points, labels):
    ...     centred = points - points.mean(0)
    ...     return xr.Dataset({"spread": np.linalg.norm(centred, axis=1).mean()})
    >>> m = Measure(name="spread", kind="geometry", direction="larger_is_less_separable",
    ...             invariances=("rotation",), is_metric=False, citation="example",
    ...             function="numpy:mean", func=spread)
    >>> with registered(m):
    ...     "spread" in measure_names()
    True
    >>> "spread" in measure_names()
    False
    """
    register(measure, replace=replace)
    try:
        yield measure
    finally:
        unregister(measure.name)


def _cf(out: Output, long_name: str) -> dict[str, str]:
    return {"long_name": long_name, **({"units": out.units} if out.units else {})}


def _labelled(ds: Any, measure: Measure) -> Any:
    """``long_name`` and ``units`` of every output (and its ``_sem``) of a measure's result."""

    if isinstance(ds, xr.DataArray):
        out = measure.output(str(ds.name)) or (measure.outputs[0] if ds.name is None else None)
        if out is not None:
            ds.attrs.update(_cf(out, out.label))
        return ds
    if not isinstance(ds, xr.Dataset):
        return ds
    for out in measure.outputs:
        if out.name in ds.data_vars:
            ds[out.name].attrs.update(_cf(out, out.label))
        if f"{out.name}_sem" in ds.data_vars:
            sem = f"Monte-Carlo standard error of {out.label}"
            ds[f"{out.name}_sem"].attrs.update(_cf(out, sem))
    return ds


def label_outputs(ds: Any, measure: str | Measure) -> Any:
    """Write the registered ``long_name`` and ``units`` of a measure's outputs into a result.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        The measure's result (changed in place; anything else is returned as it is).
    measure : str or Measure
        The measure, or its registry name.

    Returns
    -------
    The same object.
    """
    return _labelled(ds, get_measure(measure) if isinstance(measure, str) else measure)


F = TypeVar("F", bound=Callable[..., Any])


def register_measure(
    name: str | None = None,
    *,
    kind: str,
    direction: str,
    invariances: Sequence[str] = (),
    citation: str,
    is_metric: bool = False,
    inputs: str = "points_labels",
    outputs: Sequence[Output] = (),
    label: str = "",
    units: str = "",
    options: Mapping[str, Any] | None = None,
    replace: bool = False,
) -> Callable[[F], F]:
    """Register the decorated function as a measure, where it is defined.

    Parameters
    ----------
    name : str, optional
        Registry name (default: the function's name, which it should be).
    kind : str
        One of ``KINDS``.
    direction : str
        One of ``DIRECTIONS``, that of the main output (the docstring's "Direction:").
    invariances : sequence of str
        From ``INVARIANCES`` (the docstring's "Invariant to:").
    citation : str
        Where the measure comes from.
    is_metric : bool, default=False
        True for distances that satisfy the metric axioms.
    inputs : str, default="points_labels"
        One of ``INPUTS``.
    outputs : sequence of Output, optional
        The result's measure variables, each with its direction, kind, label and units
        (default: one output named like the measure, with ``kind``, ``direction``, ``label``
        and ``units``).
    label, units : str
        Label and units of the single default output (ignored when ``outputs`` is given).
    options : mapping, optional
        Keyword arguments fixed for this measure.
    replace : bool, default=False
        Overwrite a registered measure of the same name.

    Returns
    -------
    callable
        A decorator; the function it returns computes the same result and writes each output's
        ``long_name`` and ``units`` into its attrs.

    See Also
    --------
    register : Register a :class:`Measure` built by hand.
    measures : The registry as a table.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> @register_measure(kind="geometry", direction="larger_is_less_separable",
    ...                   invariances=("rotation",), citation="example", units="data units")
    ... def spread(points, labels):
    ...     '''Mean norm of the points.'''
    ...     v = float(np.linalg.norm(points, axis=1).mean())
    ...     return xr.Dataset({"spread": v, "spread_sem": np.nan})
    >>> spread(np.ones((2, 3)), [0, 1])["spread"].attrs["units"]
    'data units'
    >>> _ = unregister("spread")
    """

    def decorate(func: F) -> F:
        measure_name = name or func.__name__
        default = (Output(measure_name, direction, kind, label=label, units=units),)

        @functools.wraps(func)
        def measured(*args: Any, **kwargs: Any) -> Any:
            return _labelled(func(*args, **kwargs), measure)

        measure = Measure(
            name=measure_name,
            kind=kind,
            direction=direction,
            invariances=tuple(invariances),
            is_metric=is_metric,
            citation=citation,
            function=f"{func.__module__}:{func.__qualname__}",
            outputs=tuple(outputs) or default,
            options=dict(options or {}),
            inputs=inputs,
            func=measured,
        )
        register(measure, replace=replace)
        return measured  # type: ignore[return-value]

    return decorate


# ---- reading ------------------------------------------------------------------------------------


def get_measure(name: str) -> Measure:
    """The registered measure called ``name``; the error lists the known names.

    Parameters
    ----------
    name : str
        A registry name (``"glue"``, ``"mftma"``, ...).

    Returns
    -------
    Measure
        Its registry entry.

    See Also
    --------
    measure_names : The known names.
    measures : All measures as a table.

    Examples
    --------
    >>> get_measure("glue").kind
    'capacity'
    """
    if name not in _REGISTRY:
        _discover(until=name)
    try:
        return _REGISTRY[name]
    except KeyError:
        missing = "".join(
            f" The measures of {module} are unavailable: {why}."
            for module, why in _UNAVAILABLE.items()
        )
        near = difflib.get_close_matches(str(name), sorted(_REGISTRY), n=3, cutoff=0.5)
        hint = f" (nearest: {', '.join(map(repr, near))})" if near else ""
        raise ValueError(
            f"unknown measure {name!r}{hint}; registered measures: {sorted(_REGISTRY)}. "
            f"See neurogeom.geometry.measures().{missing}"
        ) from None


def measure_names(inputs: str | None = None) -> list[str]:
    """Registered measure names, sorted; ``inputs`` (one of ``INPUTS``) filters them.

    Parameters
    ----------
    inputs : str, optional
        Keep only the measures taking these inputs (one of ``INPUTS``).

    Returns
    -------
    list of str
        Sorted registry names.

    See Also
    --------
    get_measure : One measure by name.
    measures : All measures as a table.

    Examples
    --------
    >>> "glue" in measure_names()
    True
    """
    _discover()
    return sorted(n for n, m in _REGISTRY.items() if inputs is None or m.inputs == inputs)


def measures() -> pd.DataFrame:
    """All registered measures as a table, one row per (measure, output variable).

    A measure with several outputs (``glue``: capacity, radius, dimension, utility and the
    alignments) has one row per output, each with its own direction; a measure with one output
    has one row whose output is named like the measure.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``measure``, ``output``). Columns: kind, direction,
        larger_is_more_separable and larger_is_more_similar (True, False, or None where the
        notion does not apply), invariances (comma-separated), is_metric, citation, function,
        inputs, label and units (of the output, as written into results and figures).

    See Also
    --------
    measure_names : The names only.
    get_measure : One measure's entry.

    Examples
    --------
    >>> from neurogeom.geometry import measures
    >>> bool(measures().loc[("glue", "radius"), "larger_is_more_separable"])
    False
    >>> bool(measures().loc[("cka_similarity", "cka_similarity"), "larger_is_more_similar"])
    True
    """
    _discover()
    sep = {"larger_is_more_separable": True, "larger_is_less_separable": False}
    sim = {"larger_is_more_similar": True, "larger_is_less_similar": False}
    rows = [
        {
            "measure": m.name,
            "output": out.name,
            "kind": out.kind,
            "direction": out.direction,
            "larger_is_more_separable": sep.get(out.direction),
            "larger_is_more_similar": sim.get(out.direction),
            "invariances": ", ".join(m.invariances),
            "is_metric": m.is_metric,
            "citation": m.citation,
            "function": m.function,
            "inputs": m.inputs,
            "label": out.label,
            "units": out.units,
        }
        for m in _REGISTRY.values()
        for out in m.outputs
    ]
    return pd.DataFrame(rows).set_index(["measure", "output"])
