"""Brain vs model: matching conditions, a normalised learning axis, and comparisons.

:func:`match_conditions` restricts two tensors to the condition labels and values they share
(renaming the model's labels and values to the brain's); :func:`learning_axis` puts a tensor's or
a trajectory's stages on [0, 1]; :func:`compare_trajectories` compares two trajectories measure by
measure on that axis; :func:`compare_representations` compares condition-averaged
representations stage by stage with the registry's pair measures (CKA, RSA, shape distances);
:func:`compare_strategy_paths` compares the two routes through the (radius, dimension) plane
(:func:`neurogeom.learning.strategies.compare_strategies`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import permutations
from math import factorial
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._deprecation import renamed_arguments
from neurogeom._params import check_choice, check_names, check_params, typed_value_map
from neurogeom._provenance import attr_value, child_seed
from neurogeom.geometry.registry import get_measure
from neurogeom.learning.prepare import window_mean
from neurogeom.learning.strategies import compare_strategies, strategy_path
from neurogeom.population import average, label_names, select, trial_labels, validate

__all__ = [
    "compare_representations",
    "compare_strategy_paths",
    "compare_trajectories",
    "learning_axis",
    "match_conditions",
]


def _renamed(model: xr.DataArray, mapping: Mapping[str, Any], brain_labels: list[str]):
    """The model with labels renamed (and values mapped) to the brain's."""
    model_labels = trial_labels(model)
    targets: dict[str, list[str]] = {}
    for src, target in mapping.items():
        name = target if isinstance(target, str) else target[0]
        targets.setdefault(str(name), []).append(src)
    for name, sources in targets.items():
        if len(sources) > 1:
            raise ValueError(
                f"mapping sends model labels {sources} all to {name!r}; one brain label takes one "
                "model label. Map the others to other labels, or leave them out of mapping."
            )
    for src, target in mapping.items():
        if src not in model_labels:
            raise ValueError(
                f"mapping names model label {src!r}, which the model tensor lacks; its labels "
                f"are {model_labels}."
            )
        name, values = (target, None) if isinstance(target, str) else target
        if name not in brain_labels:
            raise ValueError(
                f"mapping sends {src!r} to unknown label {name!r}; the brain tensor's labels "
                f"are {brain_labels}."
            )
        coord = model[src].values
        if values is not None:
            values = typed_value_map(coord.tolist(), values)  # "1" (a TOML key) is 1
            unknown = sorted(set(coord.tolist()) - set(values), key=str)
            coord = np.asarray([values.get(v, v) for v in coord.tolist()])
            if unknown and len(unknown) == len(set(model[src].values.tolist())):
                raise ValueError(
                    f"the value map of {src!r} covers none of its values {unknown[:10]}."
                )
        model = model.drop_vars(src).assign_coords({name: ("trial", coord)})
    return model


@renamed_arguments(on="by")
def match_conditions(
    brain: xr.DataArray,
    model: xr.DataArray,
    by: str | Sequence[str],
    mapping: Mapping[str, str | tuple[str, Mapping[Any, Any]]] | None = None,
) -> tuple[xr.DataArray, xr.DataArray]:
    """The two tensors restricted to the condition labels and values they share.

    Parameters
    ----------
    brain, model : xarray.DataArray
        Population tensors with a ``trial`` dim.
    by : str or sequence of str
        The brain's label names to match on (e.g. ``("choice", "context")``). Renamed from
        ``on`` in 0.2.0 (the old name is accepted, with a ``FutureWarning``, until 0.3.0).
    mapping : mapping, optional
        How model labels become brain labels: ``{"ground_truth": "choice"}`` renames a label;
        ``{"ground_truth": ("choice", {0: "left", 1: "right"})}`` renames it and maps its
        values (values not in the map are kept).

    Returns
    -------
    (brain, model) : tuple of xarray.DataArray
        Each with only the trials whose ``by`` values occur in both; the model's labels renamed.
        attrs add ``matched_by``.

    Raises
    ------
    ValueError
        A mapping from a label the model lacks or to a label the brain lacks, or of two model
        labels onto one brain label; a label of ``by``
        missing from either tensor; no shared value of a label.

    See Also
    --------
    compare_representations : the pair measures on matched tensors.
    neurogeom.population.average : condition averages.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> brain = ng.make_population(np.ones((4, 3)), dims=("trial", "unit"), quantity="rate_hz",
    ...                            trial_coords={"choice": [0, 1, 2, 0]})
    >>> model = ng.make_population(np.ones((4, 5)), dims=("trial", "unit"), quantity="rnn_state",
    ...                            trial_coords={"ground_truth": [0, 1, 1, 3]})
    >>> b, m = match_conditions(brain, model, by="choice", mapping={"ground_truth": "choice"})
    >>> b.choice.values.tolist(), m.choice.values.tolist()
    ([0, 1, 0], [0, 1, 1])
    """
    validate(brain), validate(model)
    by_t = label_names(by)
    brain_labels = trial_labels(brain)
    model = _renamed(model, mapping or {}, brain_labels)
    for name, pop, what in (
        (n, p, w) for n in by_t for p, w in ((brain, "brain"), (model, "model"))
    ):
        if name not in trial_labels(pop):
            raise ValueError(
                f"the {what} tensor has no label {name!r}; its labels are {trial_labels(pop)}. "
                "Rename it with mapping={'<model label>': '<brain label>'}."
            )
    for name in by_t:
        shared = sorted(
            set(brain[name].values.tolist()) & set(model[name].values.tolist()), key=str
        )
        if not shared:
            raise ValueError(
                f"the tensors share no value of {name!r}: brain has "
                f"{sorted(set(brain[name].values.tolist()), key=str)[:10]}, model has "
                f"{sorted(set(model[name].values.tolist()), key=str)[:10]}; map the values with "
                "mapping={'<label>': ('<label>', {model_value: brain_value})}."
            )
        brain, model = select(brain, **{name: shared}), select(model, **{name: shared})
    for pop in (brain, model):
        pop.attrs["matched_by"] = list(by_t)
    return brain, model


def learning_axis(
    obj: xr.DataArray | xr.Dataset, kind: str = "fraction", coord: str | None = None
) -> xr.DataArray:
    """A normalised learning coordinate in [0, 1] over ``stage``.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        A population tensor or a trajectory, with a ``stage`` dim of length >= 2.
    kind : {"fraction", "performance"}, default="fraction"
        ``"fraction"``: the fraction of training, ``(x - x[0]) / (x[-1] - x[0])`` of a stage
        coord ``x`` (default ``step`` if present, else ``epoch``, else the stage position, i.e.
        the fraction of sessions). ``"performance"``: task performance rescaled to [0, 1],
        ``(a - min a) / (max a - min a)`` of a stage coord (default ``accuracy``).
    coord : str, optional
        The stage coord to use.

    Returns
    -------
    xarray.DataArray
        ``learning_axis`` over ``stage``, values in [0, 1]; attrs ``kind`` and ``coord``.

    Raises
    ------
    ValueError
        No ``stage`` dim or one stage, an unknown kind or coord, or a constant coord.

    See Also
    --------
    compare_trajectories : trajectories on this axis.
    compare_representations : stages matched on this axis.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 8)  # 3 conditions x 8 trials
    >>> x = rng.normal(size=(3, 24, 10)) + 2 * np.arange(3)[:, None, None] * np.eye(10)[y]
    >>> pop = ng.make_population(x, dims=("stage", "trial", "unit"), quantity="rate_hz",
    ...                           trial_coords={"choice": y}, stage=[0, 1, 2])
    >>> learning_axis(pop).values.tolist()
    [0.0, 0.5, 1.0]
    """
    if obj.sizes.get("stage", 0) < 2:
        raise ValueError("a learning axis needs a 'stage' dim with at least 2 stages.")
    if kind not in ("fraction", "performance"):
        raise ValueError(f"kind must be 'fraction' or 'performance'; got {kind!r}.")
    stage_coords = [str(n) for n, c in obj.coords.items() if c.dims == ("stage",) and n != "stage"]
    if coord is None:
        options = ("step", "epoch") if kind == "fraction" else ("accuracy",)
        coord = next((c for c in options if c in stage_coords), None)
        if coord is None and kind == "performance":
            raise ValueError(
                f"kind='performance' needs a stage coord of task performance (e.g. 'accuracy'); "
                f"the stage coords are {stage_coords}. Name it with coord=..."
            )
    elif coord not in stage_coords:
        raise ValueError(f"unknown stage coord {coord!r}; the stage coords are {stage_coords}.")
    x = np.arange(obj.sizes["stage"], dtype=float) if coord is None else obj[coord].values
    x = np.asarray(x, dtype=float)
    lo, hi = (x[0], x[-1]) if kind == "fraction" else (np.nanmin(x), np.nanmax(x))
    if not np.isfinite(hi - lo) or hi == lo:
        raise ValueError(
            f"stage coord {coord!r} is constant or not finite; it cannot be normalised."
        )
    return xr.DataArray(
        (x - lo) / (hi - lo),
        dims="stage",
        coords={"stage": obj["stage"].values},
        name="learning_axis",
        attrs={"kind": kind, "coord": coord or "stage position"},
    )


# ---- trajectory vs trajectory --------------------------------------------------------------------


def _curve(traj: xr.Dataset, name: str, axis: np.ndarray, grid: np.ndarray) -> np.ndarray:
    if name not in traj or traj[name].dims != ("stage",):
        raise ValueError(
            f"output {name!r} must be a variable over ('stage',) only in both trajectories; "
            "select the other dims first (traj.sel(manifold=...))."
        )
    y = np.asarray(traj[name].values, float)
    order = np.argsort(axis)
    return np.interp(grid, axis[order], y[order])


def _scores(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = float(np.corrcoef(a, b)[0, 1]) if np.std(a) > 0 and np.std(b) > 0 else float("nan")
    return r, float(np.sqrt(np.mean((a - b) ** 2)))


def compare_trajectories(
    traj_a: xr.Dataset,
    traj_b: xr.Dataset,
    outputs: Sequence[str] = ("capacity", "radius", "dimension"),
    *,
    kind: str = "fraction",
    n_grid: int | None = None,
    n_perm: int = 100,
    seed: int = 0,
) -> xr.Dataset:
    """Trajectory vs trajectory, per measure: correlation and RMS distance on a common axis.

    Both trajectories are put on :func:`learning_axis` (``kind``) and linearly interpolated onto
    ``n_grid`` evenly spaced points of [0, 1]; per output, the Pearson correlation and the root
    mean square difference of the two curves are computed. The null shuffles the stage order of
    ``traj_b`` (its values permuted among its stages, ``n_perm`` times).

    Parameters
    ----------
    traj_a, traj_b : xarray.Dataset
        Trajectories (see :func:`neurogeom.learning.trajectories.trajectory`) with the outputs as
        variables over ``stage``.
    outputs : sequence of str, default=("capacity", "radius", "dimension")
    kind : {"fraction", "performance"}, default="fraction"
    n_grid : int, optional
        Points of the common axis (default: the larger number of stages).
    n_perm : int, default=100
        Shuffles of ``traj_b``'s stage order for the p-values (0 skips them: NaN).
    seed : int, default=0

    Returns
    -------
    xarray.Dataset
        Over dim ``output``: ``correlation`` (in [-1, 1]; NaN for a flat curve),
        ``correlation_p_value`` (one-sided, large correlation), ``rms_distance`` (units of the
        output), ``rms_distance_p_value`` (one-sided, small distance), ``correlation_null_mean``,
        ``rms_distance_null_mean``. attrs: kind, n_grid, n_perm, seed.

    See Also
    --------
    learning_axis : the common [0, 1] axis.
    neurogeom.learning.compare_cohorts : a cohort of subjects against another.

    Examples
    --------
    >>> import xarray as xr
    >>> a = xr.Dataset({"capacity": ("stage", [0.2, 0.4, 0.8])})
    >>> b = xr.Dataset({"capacity": ("stage", [0.1, 0.3, 0.5, 0.9])})
    >>> res = compare_trajectories(a, b, ["capacity"], n_perm=10)
    >>> bool(res.correlation.sel(output="capacity") > 0.9)
    True
    """
    checked = check_params("compare_trajectories", n_grid=n_grid, n_perm=n_perm, seed=seed)
    n_perm = checked["n_perm"]
    outputs = check_names("outputs", outputs)
    for name in outputs:
        shared = [v for v in traj_a.data_vars if v in traj_b.data_vars]
        if name not in traj_a.data_vars or name not in traj_b.data_vars:
            check_choice("output", name, shared, of=" in both trajectories")
    xa, xb = learning_axis(traj_a, kind).values, learning_axis(traj_b, kind).values
    n_grid = checked["n_grid"] or max(len(xa), len(xb))
    grid = np.linspace(0.0, 1.0, n_grid)
    rng = np.random.default_rng(child_seed(seed, 0))
    perms = [rng.permutation(len(xb)) for _ in range(n_perm)]
    rows = []
    for name in outputs:
        a = _curve(traj_a, name, xa, grid)
        b = _curve(traj_b, name, xb, grid)
        r, d = _scores(a, b)
        null = np.array(
            [
                _scores(
                    a,
                    _curve(
                        traj_b.isel(stage=p).assign_coords(stage=traj_b["stage"].values),
                        name,
                        xb,
                        grid,
                    ),
                )
                for p in perms
            ]
        ).reshape(-1, 2)
        rows.append(
            (
                r,
                d,
                *_one_sided(r, null[:, 0], larger=True),
                *_one_sided(d, null[:, 1], larger=False),
            )
        )
    cols = np.array(rows, dtype=float).T
    names = (
        "correlation",
        "rms_distance",
        "correlation_p_value",
        "correlation_null_mean",
        "rms_distance_p_value",
        "rms_distance_null_mean",
    )
    data = dict(zip(names, (cols[0], cols[1], cols[2], cols[3], cols[4], cols[5])))
    return xr.Dataset(
        {k: ("output", v) for k, v in data.items()},
        coords={"output": list(outputs)},
        attrs={
            "kind": kind,
            "n_grid": n_grid,
            "n_perm": n_perm,
            "seed": seed,
            "correlation_direction": "larger_is_more_similar",
            "rms_distance_direction": "larger_is_less_similar",
        },
    )


def _one_sided(observed: float, null: np.ndarray, larger: bool) -> tuple[float, float]:
    null = null[np.isfinite(null)]
    if not np.isfinite(observed) or null.size == 0:
        return float("nan"), float("nan")
    hits = np.sum(null >= observed - 1e-12) if larger else np.sum(null <= observed + 1e-12)
    return float((1 + hits) / (1 + null.size)), float(np.mean(null))


# ---- representation vs representation ------------------------------------------------------------


def _condition_means(pop: xr.DataArray, by: tuple[str, ...], window_s: Any) -> xr.DataArray:
    if "time" in pop.dims:
        pop = window_mean(pop, window_s) if window_s is not None else average(pop, dim="time")
    out = average(pop, dim="trial", by=by)
    return out if "stage" in out.dims else out.expand_dims(stage=[0])


def _pairs(a: xr.DataArray, b: xr.DataArray, stages: str, kind: str) -> list[tuple[int, int]]:
    na, nb = a.sizes["stage"], b.sizes["stage"]
    if stages == "all":
        return [(i, j) for i in range(na) for j in range(nb)]
    if stages != "matched":
        raise ValueError(f"stages must be 'matched' or 'all'; got {stages!r}.")
    if na == 1 or nb == 1:
        return (
            [(i, 0 if nb == 1 else i) for i in range(na)]
            if nb == 1 or na == nb
            else [(0, j) for j in range(nb)]
        )
    xa, xb = learning_axis(a, kind).values, learning_axis(b, kind).values
    return [(i, int(np.argmin(np.abs(xb - x)))) for i, x in enumerate(xa)]


def compare_representations(
    a: xr.DataArray,
    b: xr.DataArray,
    by: str | Sequence[str],
    measures: Sequence[str] = ("cka_similarity", "rsa_similarity", "procrustes_distance"),
    *,
    stages: str = "matched",
    kind: str = "fraction",
    window_s: Any = None,
    n_perm: int = 0,
    seed: int = 0,
) -> xr.Dataset:
    """Representation vs representation: the registry's pair measures on condition averages.

    Each tensor is averaged over its time window (``window_s``, or every bin) and over the
    trials of each condition (:func:`neurogeom.population.average` by ``by``), giving
    (n_conditions, n_units) per stage; the two must hold the same conditions (use
    :func:`match_conditions` first).

    Parameters
    ----------
    a, b : xarray.DataArray
        Population tensors ([``stage``], ``trial``, [``time``], ``unit``); unit counts may differ.
    by : str or sequence of str
        The condition labels.
    measures : sequence of str
        Registered pair measures (``cka_similarity``, ``debiased_cka_similarity``,
        ``rsa_similarity``, ``procrustes_distance``, ``angular_shape_distance``).
    stages : {"matched", "all"}, default="matched"
        ``"matched"``: each stage of ``a`` with the stage of ``b`` nearest on the normalised
        learning axis (dim ``stage_a``, coord ``stage_b``); ``"all"``: every pair (dims
        ``stage_a``, ``stage_b``).
    kind : {"fraction", "performance"}, default="fraction"
        The learning axis used for matching.
    window_s : (start_s, stop_s), optional
    n_perm : int, default=0
        Permutations of ``b``'s condition order for a null (``<m>_null_low/high`` at 95% and
        ``<m>_p_value``, one-sided towards more similar).
    seed : int, default=0

    Returns
    -------
    xarray.Dataset
        One variable per measure over the stage dims; attrs ``<m>_direction``
        (``larger_is_more_similar`` or ``larger_is_less_similar``), by, stages, n_conditions.

    Raises
    ------
    ValueError
        Conditions that differ between the tensors, or a measure that is not a pair measure.

    See Also
    --------
    match_conditions : keep the conditions both tensors hold.
    neurogeom.geometry.cka_similarity : the pair measure on arrays.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 8)  # 3 conditions x 8 trials
    >>> x = rng.normal(size=(3, 24, 10)) + 2 * np.arange(3)[:, None, None] * np.eye(10)[y]
    >>> pop = ng.make_population(x, dims=("stage", "trial", "unit"), quantity="rate_hz",
    ...                           trial_coords={"choice": y}, stage=[0, 1, 2])
    >>> res = compare_representations(pop, pop, by="choice")
    >>> res.cka_similarity.dims, res.cka_similarity.values.round(6).tolist()
    (('stage_a',), [1.0, 1.0, 1.0])
    """
    by_t = label_names(by)
    chosen = [get_measure(m) for m in measures]
    for m in chosen:
        if m.inputs != "pair":
            raise ValueError(
                f"{m.name!r} is not a pair measure; compare_representations takes "
                "cka_similarity, rsa_similarity, procrustes_distance, ..."
            )
    ma, mb = _condition_means(a, by_t, window_s), _condition_means(b, by_t, window_s)
    keys_a = list(zip(*(ma[c].values.tolist() for c in by_t)))
    keys_b = list(zip(*(mb[c].values.tolist() for c in by_t)))
    if keys_a != keys_b:
        raise ValueError(
            f"the tensors hold different conditions of {list(by_t)}: {keys_a[:6]} vs "
            f"{keys_b[:6]}; restrict both with match_conditions(a, b, by=...)."
        )
    pairs = _pairs(ma, mb, stages, kind)
    rng = np.random.default_rng(child_seed(seed, 0))
    perms = [rng.permutation(len(keys_a)) for _ in range(n_perm)]
    values: dict[str, dict[tuple[int, int], tuple[float, np.ndarray]]] = {
        m.name: {} for m in chosen
    }
    for i, j in pairs:
        X = ma.isel(stage=i).transpose("trial", "unit").values
        Y = mb.isel(stage=j).transpose("trial", "unit").values
        for m in chosen:
            f = m.resolve()
            null = np.array([float(f(X, Y[p])[m.name]) for p in perms])
            values[m.name][(i, j)] = (float(f(X, Y)[m.name]), null)
    return _representation_result(ma, mb, pairs, chosen, values, stages, by_t, n_perm)


def _representation_result(ma, mb, pairs, chosen, values, stages, by_t, n_perm) -> xr.Dataset:
    out = xr.Dataset()
    sa, sb = ma["stage"].values, mb["stage"].values
    for m in chosen:
        more = m.direction == "larger_is_more_similar"
        if stages == "all":
            shape, dims = (len(sa), len(sb)), ("stage_a", "stage_b")
        else:
            shape, dims = (len(pairs),), ("stage_a",)
        val = np.full(shape, np.nan)
        low, high, p = (np.full(shape, np.nan) for _ in range(3))
        for k, (i, j) in enumerate(pairs):
            idx = (i, j) if stages == "all" else (k,)
            v, null = values[m.name][(i, j)]
            val[idx] = v
            if n_perm:
                low[idx], high[idx] = np.percentile(null, [2.5, 97.5])
                hits = np.sum(null >= v - 1e-12) if more else np.sum(null <= v + 1e-12)
                p[idx] = (1 + hits) / (1 + n_perm)
        out[m.name] = (dims, val)
        if n_perm:
            out[f"{m.name}_null_low"], out[f"{m.name}_null_high"] = (dims, low), (dims, high)
            out[f"{m.name}_p_value"] = (dims, p)
        out.attrs[f"{m.name}_direction"] = m.direction
    out = out.assign_coords(stage_a=sa[[i for i, _ in pairs]] if stages != "all" else sa)
    if stages == "all":
        out = out.assign_coords(stage_b=sb)
    else:
        out = out.assign_coords(stage_b=("stage_a", sb[[j for _, j in pairs]]))
    out.attrs.update(
        by=list(by_t),
        stages=stages,
        n_conditions=int(ma.sizes["trial"]),
        n_perm=int(n_perm),
        measures=attr_value([m.name for m in chosen]),
    )
    return out


# ---- route vs route in the strategy plane --------------------------------------------------------


def compare_strategy_paths(
    traj_a: xr.Dataset,
    traj_b: xr.Dataset,
    *,
    n_points: int = 200,
    n_perm: int = 0,
    seed: int = 0,
) -> xr.Dataset:
    """Trajectory vs trajectory in the (radius, dimension) plane: do they take the same route?

    Each trajectory is placed on the plane (:func:`~neurogeom.learning.strategies.strategy_path`)
    and the two routes are compared by
    :func:`~neurogeom.learning.strategies.compare_strategies`: net heading, the split of the
    capacity change into a radius part and a dimension part, the area between the routes and
    their mean distance at equal fractions of arc length. The comparison is of shapes of routes,
    so the two may have different numbers of stages (a brain's two sessions, a model's
    checkpoints).

    Parameters
    ----------
    traj_a, traj_b : xarray.Dataset
        Trajectories along ``stage`` with ``radius`` and ``dimension`` (e.g. brain and model).
    n_points : int, default=200
        Points per route for the arc-length comparison.
    n_perm : int, default=0
        Orderings of ``traj_b``'s stages for a null of ``mean_distance`` (every ordering, the
        observed one included, when there are at most ``n_perm``: then the p-value is
        ``#{null <= observed} / n``): ``mean_distance_p_value`` is one-sided towards closer routes,
        ``mean_distance_null_mean`` the null's mean. 0 skips it.
    seed : int, default=0

    Returns
    -------
    xarray.Dataset
        The output of :func:`~neurogeom.learning.strategies.compare_strategies` over ``path``
        (``["a", "b"]``), plus ``mean_distance_p_value`` and ``mean_distance_null_mean`` with
        ``n_perm``; attrs add ``n_perm``, ``seed``, ``mean_distance_direction``
        (``larger_is_less_similar``).

    Raises
    ------
    ValueError
        A trajectory without radius and dimension at two or more stages (e.g. at the floor,
        where they are NaN).

    See Also
    --------
    neurogeom.learning.strategy_path : one trajectory's path in the radius-dimension plane.
    neurogeom.learning.compare_strategies : two paths' headings and area between.

    Examples
    --------
    >>> a = xr.Dataset({"radius": ("stage", [2.0, 1.0]), "dimension": ("stage", [8.0, 8.0])})
    >>> round(float(compare_strategy_paths(a, a)["mean_distance"]), 12)
    0.0
    """
    path_a, path_b = strategy_path(traj_a), strategy_path(traj_b)
    out = compare_strategies(path_a, path_b, n_points=n_points)
    out.attrs.update(
        n_perm=int(n_perm),
        seed=int(seed),
        mean_distance_direction="larger_is_less_similar",
        area_between_direction="larger_is_less_similar",
    )
    if n_perm:
        r, d = path_b["radius"].values, path_b["dimension"].values
        orders, exact = _orderings(len(r), int(n_perm), child_seed(seed, 0))
        null = np.array(
            [
                float(
                    compare_strategies(
                        path_a,
                        strategy_path(
                            xr.Dataset({"radius": ("stage", r[o]), "dimension": ("stage", d[o])})
                        ),
                        n_points=n_points,
                    )["mean_distance"]
                )
                for o in orders
            ]
        )
        observed = float(out["mean_distance"])
        hits = int(np.sum(null <= observed + 1e-12))
        out["mean_distance_p_value"] = hits / len(null) if exact else (1 + hits) / (1 + len(null))
        out["mean_distance_null_mean"] = float(np.mean(null))
    return out


def _orderings(n: int, n_perm: int, seed: int) -> tuple[list[np.ndarray], bool]:
    """Every ordering of n stages when there are at most ``n_perm`` (exact: True), else
    ``n_perm`` random ones."""

    if factorial(n) <= n_perm:
        return [np.asarray(o) for o in permutations(range(n))], True
    rng = np.random.default_rng(seed)
    return [rng.permutation(n) for _ in range(n_perm)], False
