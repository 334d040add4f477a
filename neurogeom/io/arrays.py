"""Population tensors from numpy arrays, per-unit trial lists, and MATLAB files.

- :func:`from_array`: an array with named dims and label vectors.
- :func:`from_unit_trials`: one entry per unit, each with its own trials x time matrix and per-trial
  task variables (the layout of Mante et al. 2013's released data) -> a pseudo-population.
- :func:`read_mat`: a MATLAB v5 file as nested dicts / arrays.
- :func:`read_golub`: the Golub et al. 2018 BCI-learning example data -> a (stage, trial, unit)
  tensor, ``before`` / ``after`` learning.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.io
import xarray as xr

from neurogeom.population import DIMS, make_population, pool

__all__ = [
    "from_array",
    "from_unit_trials",
    "read_mat",
    "read_golub",
    "MIN_TRIALS_PER_CONDITION",
]


def _check_length(kind: str, name: str, values: Any, n: int, dim: str) -> np.ndarray:
    vec = np.asarray(values)
    if vec.ndim == 0:
        return np.full(n, vec.item())
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(
            f"{kind} {name!r} has shape {vec.shape} but the data has {n} along {dim!r}; give one "
            f"value per {dim}."
        )
    return vec


def from_array(
    data: Any,
    dims: Sequence[str],
    *,
    trial_coords: Mapping[str, Any] | None = None,
    time: Any = None,
    unit: Any = None,
    unit_coords: Mapping[str, Any] | None = None,
    stage: Any = None,
    stage_coords: Mapping[str, Any] | None = None,
    quantity: str = "continuous",
    bin_size_s: float | None = None,
    align: str | None = None,
    source: str | None = None,
    species: str | None = None,
    area: str | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Build a population tensor from a numpy array with named dims.

    Parameters
    ----------
    data : array_like
        Numeric values, one axis per name in ``dims``.
    dims : sequence of str
        Names of the axes of ``data``, among ``stage``, ``trial``, ``time``, ``unit``, in any
        order (the tensor is transposed to the contract's order).
    trial_coords : dict of str to array_like, optional
        Trial labels (condition columns), each with one value per trial.
    time : array_like, optional
        Bin centres (s) relative to the alignment event; default ``arange(n_time) * bin_size_s``.
    unit : array_like, optional
        Unit ids (default ``0 .. n_unit - 1``).
    unit_coords : dict of str to array_like, optional
        Per-unit metadata (``area``, ``depth``, ...).
    stage : array_like, optional
        Stage values (training step, session index).
    stage_coords : dict of str to array_like, optional
        Per-stage metadata (``label`` = ``before`` / ``after``, ...).
    quantity : str, default="continuous"
        ``spike_count``, ``rate_hz``, ``dff``, ``fluorescence``, ``rnn_state`` or ``continuous``.
    bin_size_s, align, source, species, area, attrs : optional
        Stored in attrs (see :func:`neurogeom.population.make_population`).

    Returns
    -------
    xarray.DataArray
        The validated population tensor.

    Raises
    ------
    ValueError
        If a dim name is unknown or repeated, ``dims`` does not match ``data``'s axes, or a coord
        vector has the wrong length (the message names the coord and both lengths).

    See Also
    --------
    from_unit_trials : Units recorded on separate trials.
    neurogeom.population.make_population : The builder this calls (``dims`` in contract order).
    neurogeom.read_nwb : Read a tensor from an NWB file.

    Examples
    --------
    >>> import numpy as np
    >>> pop = from_array(np.zeros((4, 3)), dims=("unit", "trial"),
    ...                  trial_coords={"context": ["a", "b", "a"]})
    >>> dict(pop.sizes)
    {'trial': 3, 'unit': 4}
    """
    values = np.asarray(data)
    dims = tuple(str(d) for d in dims)
    if values.ndim != len(dims):
        raise ValueError(
            f"data has {values.ndim} axes (shape {values.shape}) but dims names {len(dims)}: "
            f"{dims}. Give one name per axis."
        )
    unknown = [d for d in dims if d not in DIMS]
    if unknown or len(set(dims)) != len(dims):
        hint = " Use 'unit' for neurons/cells/channels." if unknown else ""
        raise ValueError(f"dims must be distinct names among {DIMS}; got {dims}.{hint}")
    order = [d for d in DIMS if d in dims]
    values = np.transpose(values, [dims.index(d) for d in order])
    sizes = dict(zip(order, values.shape))

    def checked(kind: str, mapping: Mapping[str, Any] | None, dim: str) -> dict[str, np.ndarray]:
        if not mapping:
            return {}
        if dim not in sizes:
            raise ValueError(f"{kind}s were given but dims {dims} has no {dim!r}.")
        return {k: _check_length(kind, k, v, sizes[dim], dim) for k, v in mapping.items()}

    trial_coords = checked("trial coord", trial_coords, "trial")
    unit_coords = checked("unit coord", unit_coords, "unit")
    stage_coords = checked("stage coord", stage_coords, "stage")
    for kind, vec, dim in (
        ("time", time, "time"),
        ("unit", unit, "unit"),
        ("stage", stage, "stage"),
    ):
        if vec is not None:
            if dim not in sizes:
                raise ValueError(f"{kind} was given but dims {dims} has no {dim!r}.")
            _check_length("coord", kind, vec, sizes[dim], dim)
    return make_population(
        values,
        dims=order,
        quantity=quantity,
        trial_coords=trial_coords,
        time=time,
        unit=unit,
        unit_coords=unit_coords,
        stage=stage,
        stage_coords=stage_coords,
        align=align,
        bin_size_s=bin_size_s,
        source=source,
        species=species,
        area=area,
        attrs=attrs,
    )


#: Fewest trials per unit and condition that the default ``n_trials`` of
#: :func:`from_unit_trials` accepts; below it, pass ``n_trials`` explicitly.
MIN_TRIALS_PER_CONDITION = 10
#: Keys of a unit entry that hold its per-trial task variables (MATLAB's struct names the
#: field ``task_variable``).
_VARIABLE_KEYS = ("task_variables", "task_variable")


def from_unit_trials(
    units: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    by: str | Sequence[str],
    *,
    n_trials: int | None = None,
    seed: int = 0,
    time: Any = None,
    quantity: str = "rate_hz",
    bin_size_s: float | None = None,
    align: str | None = None,
    replace: bool = False,
    source: str | None = None,
    species: str | None = None,
    area: str | None = None,
) -> xr.DataArray:
    """Pseudo-population from per-unit trial lists (one entry per unit, trials not shared).

    Each unit was recorded on its own set of trials: the layout of Mante et al. 2013's released
    data, one MATLAB struct per unit with a trials x time ``response``, a ``task_variable`` struct
    of per-trial fields (``context``, ``stim_dir``, ``correct``, ...) and the ``time`` axis, as
    :func:`read_mat` returns it. Trials are resampled per condition of ``by`` to a common count
    with :func:`neurogeom.population.pool`, so the k-th pseudo-trial of a condition joins the k-th
    drawn trial of every unit.

    Parameters
    ----------
    units : sequence of dict, or dict
        One dict per unit (a struct array or cell array of structs from :func:`read_mat`; one
        dict for a single unit) with ``"response"``: array of shape (n_trials,) or
        (n_trials, n_time); ``"task_variable"`` or ``"task_variables"``: dict of label ->
        (n_trials,) vector; optional ``"time"``: bin centres (s), (n_time,); optional
        ``"unit_id"`` (default: the position) and ``"unit_coords"`` (dict of scalars, e.g. area).
    by : str or sequence of str
        Task variable(s) defining conditions; every unit must have them.
    n_trials : int, optional
        Pseudo-trials per condition. Default: the smallest count over units and conditions,
        which must be at least ``MIN_TRIALS_PER_CONDITION`` (10): fewer trials give a small
        pseudo-population whose capacity is biased upward. Below that, pass ``n_trials`` (with
        ``replace=True`` to resample beyond a unit's count). A warning names the units that
        limit the count when it is below half the median count.
    seed : int, default=0
        Seed of the resampling.
    time : array_like, optional
        Bin centres (s) of the time axis of the responses; default the entries' ``time`` field.
    quantity : str, default="rate_hz"
        What the responses are.
    bin_size_s, align, source, species, area : optional
        Stored in attrs.
    replace : bool, default=False
        Resample with replacement (allows ``n_trials`` above a unit's count).

    Returns
    -------
    xarray.DataArray
        Dims (``trial``, [``time``], ``unit``) with the ``by`` labels as trial coords and a
        ``session`` unit coord (``"unit<id>"``).

    Raises
    ------
    ValueError
        If an entry lacks ``response``, its task variables or a ``by`` variable (the message
        lists what it has), a task variable has the wrong length, units disagree on the time
        axis, unit ids repeat, or the default ``n_trials`` would be below the floor.

    See Also
    --------
    read_mat : Reads the per-unit structs from a ``.mat`` file.
    neurogeom.population.pool : The resampling used to join the units.
    from_array : Units recorded together.

    Examples
    --------
    Three units, each with its own 20 trials of two time bins:

    >>> rng = np.random.default_rng(0)
    >>> units = [{"response": rng.poisson(3.0, (20, 2)), "time": [0.0, 0.1],
    ...           "task_variable": {"context": np.tile([0, 1], 10)}} for _ in range(3)]
    >>> pop = from_unit_trials(units, by="context")
    >>> dict(pop.sizes)
    {'trial': 20, 'time': 2, 'unit': 3}
    """
    if isinstance(units, Mapping):
        units = [units]
    units = list(units)
    if not units:
        raise ValueError("from_unit_trials needs at least one unit entry.")
    by_t = (by,) if isinstance(by, str) else tuple(by)
    checked = [_unit_entry(i, entry, by_t) for i, entry in enumerate(units)]
    time = _common_time(checked, time)
    if checked[0][1].ndim == 2 and time is None and bin_size_s is None:
        raise ValueError(
            "the responses have a time axis: give time= (bin centres, s) or bin_size_s=."
        )
    ids = [entry.get("unit_id", i) for i, (entry, _, _) in enumerate(checked)]
    names = [f"unit{u}" for u in ids]
    if len(set(names)) != len(names):
        raise ValueError("unit_id values repeat across entries; give each unit its own id.")
    if n_trials is None:
        n_trials = _default_n_trials(checked, ids, by_t)
    pops = [
        _unit_population(entry, resp, labels, unit_id, time, quantity, bin_size_s, align)
        for (entry, resp, labels), unit_id in zip(checked, ids)
    ]
    out = pool(  # ids already unique across entries: kept as given
        pops,
        by=by_t,
        n_trials=n_trials,
        seed=seed,
        sessions=names,
        unique_unit_ids=False,
        replace=replace,
    )
    for key, val in {"source": source, "species": species, "area": area}.items():
        if val is not None:
            out.attrs[key] = val
    if bin_size_s is not None and "time" in out.dims:
        out.attrs["bin_size_s"] = bin_size_s
    return out


def _unit_entry(
    i: int, entry: Any, by: tuple[str, ...]
) -> tuple[Mapping[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """One unit's entry checked: (entry, response (n_trials[, n_time]), task variables)."""
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"unit entry {i} is a {type(entry).__name__}, not a struct/dict with 'response' and "
            "'task_variable' fields."
        )
    if "response" not in entry:
        raise ValueError(
            f"unit entry {i} has no 'response' (n_trials x n_time array); its keys are "
            f"{sorted(entry)}."
        )
    resp = np.asarray(entry["response"], dtype=np.float64)
    if resp.ndim not in (1, 2):
        raise ValueError(
            f"unit entry {i}: response must be (n_trials,) or (n_trials, n_time); got shape "
            f"{resp.shape}."
        )
    key = next((k for k in _VARIABLE_KEYS if k in entry), None)
    if key is None:
        raise ValueError(
            f"unit entry {i} has no task variables (a 'task_variable' or 'task_variables' "
            f"field); its keys are {sorted(entry)}."
        )
    variables = entry[key]
    if not isinstance(variables, Mapping):
        raise ValueError(
            f"unit entry {i}: {key!r} must be a struct/dict of per-trial vectors; got "
            f"{type(variables).__name__}."
        )
    missing = [b for b in by if b not in variables]
    if missing:
        raise ValueError(
            f"unit entry {i} lacks task variable(s) {missing}; its {key!r} has {sorted(variables)}."
        )
    labels = {
        k: _check_length("task variable", k, v, resp.shape[0], "trial")
        for k, v in variables.items()
        if np.ndim(v) <= 1
    }
    return entry, resp, labels


def _common_time(
    checked: list[tuple[Mapping[str, Any], np.ndarray, dict[str, np.ndarray]]], time: Any
) -> np.ndarray | None:
    """The time axis all units share (``time`` if given, else the entries' ``time`` field)."""
    n_time = [resp.shape[1] if resp.ndim == 2 else 0 for _, resp, _ in checked]
    for i, n in enumerate(n_time):
        if n != n_time[0]:
            raise ValueError(
                f"unit entry {i} has {n} time bins but entry 0 has {n_time[0]}; all units need "
                "the same time axis."
            )
    if not n_time[0]:
        return None
    if time is not None:
        return np.asarray(time, dtype=np.float64)
    given = [entry.get("time") for entry, _, _ in checked]
    if given[0] is None:
        return None
    first = np.atleast_1d(np.asarray(given[0], dtype=np.float64))
    for i, t in enumerate(given):
        if t is None or not np.allclose(np.atleast_1d(np.asarray(t, dtype=np.float64)), first):
            raise ValueError(
                f"unit entry {i}'s 'time' differs from entry 0's; all units need the same time "
                "axis (or pass time=)."
            )
    return first


def _default_n_trials(
    checked: list[tuple[Mapping[str, Any], np.ndarray, dict[str, np.ndarray]]],
    ids: list[Any],
    by: tuple[str, ...],
) -> int:
    """The smallest trial count over units and conditions, checked against the floor."""
    frames = [
        pd.DataFrame({b: labels[b] for b in by}).assign(unit=uid)
        for (_, _, labels), uid in zip(checked, ids)
    ]
    table = pd.concat(frames, ignore_index=True)
    conditions = list(table[list(by)].drop_duplicates().itertuples(index=False, name=None))
    every = pd.MultiIndex.from_tuples(
        [(u, *c) for u in ids for c in conditions], names=["unit", *by]
    )  # a condition a unit never had counts 0
    counts = table.groupby(["unit", *by]).size().reindex(every, fill_value=0)
    smallest = counts.sort_values(kind="stable")
    lowest = int(smallest.iloc[0])

    def named(below: float) -> str:
        """The (at most 3) smallest unit/condition counts under ``below``."""
        parts = []
        for key, count in smallest[smallest < below].iloc[:3].items():
            unit, *values = key
            cond = ", ".join(f"{b}={v!r}" for b, v in zip(by, values))
            parts.append(f"unit {unit}: {count} trials of ({cond})")
        return "; ".join(parts)

    if lowest < MIN_TRIALS_PER_CONDITION:
        raise ValueError(
            f"the default n_trials (the smallest count over units and conditions) would be "
            f"{lowest}, below the floor of {MIN_TRIALS_PER_CONDITION} per condition: {named(MIN_TRIALS_PER_CONDITION)}. "
            "Drop those units, merge conditions, or pass n_trials= explicitly (replace=True to "
            "resample)."
        )
    median = float(np.median(counts.to_numpy()))
    if lowest < median / 2:
        warnings.warn(
            f"n_trials={lowest} per condition, set by the smallest counts ({named(median / 2)}); most "
            f"units have {median:g}. Pass n_trials= to choose, or drop the units that limit it.",
            UserWarning,
            stacklevel=3,
        )
    return lowest


def _unit_population(
    entry: Mapping[str, Any],
    resp: np.ndarray,
    labels: dict[str, np.ndarray],
    unit_id: Any,
    time: np.ndarray | None,
    quantity: str,
    bin_size_s: float | None,
    align: str | None,
) -> xr.DataArray:
    """One unit's trials as a (trial, [time,] unit=1) tensor."""
    unit_coords = {k: [v] for k, v in dict(entry.get("unit_coords", {})).items()}
    timed = resp.ndim == 2
    return from_array(
        resp[:, :, None] if timed else resp[:, None],
        ("trial", "time", "unit") if timed else ("trial", "unit"),
        trial_coords=labels,
        time=time if timed else None,
        unit=[unit_id],
        unit_coords=unit_coords,
        quantity=quantity,
        bin_size_s=bin_size_s if timed else None,
        align=align,
    )


def read_mat(path: str | os.PathLike) -> dict[str, Any]:
    """Read a MATLAB v5/v7 ``.mat`` file into nested dicts, lists and arrays.

    Parameters
    ----------
    path : path
        A ``.mat`` file (MATLAB v5 or v7; v7.3 files are HDF5: open them with ``h5py``).

    Returns
    -------
    dict
        Variable name -> value, structs as dicts and cell arrays as lists/arrays
        (``scipy.io.loadmat(..., simplify_cells=True)``), without the ``__header__`` entries.

    See Also
    --------
    from_unit_trials : Per-unit trial structs to a tensor.
    read_golub : A ``.mat`` layout read straight into a tensor.

    Examples
    --------
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> import scipy.io
    >>> path = f"{tmp.name}/rates.mat"
    >>> scipy.io.savemat(path, {"rates": np.arange(6.0).reshape(2, 3), "meta": {"area": "PFC"}})
    >>> raw = read_mat(path)
    >>> sorted(raw), raw["rates"].shape, raw["meta"]
    (['meta', 'rates'], (2, 3), {'area': 'PFC'})
    >>> tmp.cleanup()
    """

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"MATLAB file not found: {str(path)!r}. Check the path.")
    try:
        raw = scipy.io.loadmat(path, simplify_cells=True)
    except NotImplementedError:
        raise ValueError(
            f"{str(path)!r} is a MATLAB v7.3 (HDF5) file; read it with h5py.File(path) and build "
            "the tensor with neurogeom.from_array."
        ) from None
    except (ValueError, TypeError, OSError) as exc:
        raise ValueError(f"{str(path)!r} is not a readable MATLAB .mat file ({exc}).") from None
    return {k: v for k, v in raw.items() if not k.startswith("__")}


GOLUB_STAGES = ("beforeLearning", "afterLearning")


def read_golub(path: str | os.PathLike) -> xr.DataArray:
    """Load the Golub et al. (2018) BCI-learning example data as a (stage, trial, unit) tensor.

    Layout chosen: every timestep of a condition's "cloud" is one sample (a trial-like row)
    labelled by the condition's cursor-to-target direction, so a direction's samples form one
    manifold. Both stages hold the same 86 units and the same samples per direction.

    Parameters
    ----------
    path : path
        ``exampleData.mat`` from github.com/mattgolub/bci_learning (structs ``beforeLearning``
        and ``afterLearning``, each with ``clouds.spikes{c}`` of shape (86 units, n samples)).

    Returns
    -------
    xarray.DataArray
        Dims (``stage``, ``trial``, ``unit``) = (2, 8 x n_samples, 86); spike counts per
        timestep (``quantity="spike_count"``). Coords: ``stage`` 0/1 with ``label``
        ``before``/``after``; trial coords ``direction`` (degrees, 0..315), ``condition``
        (0..7) and ``sample`` (index within the condition); unit ids 0..85. The per-sample
        cursor-to-target direction and factor activity stay in the file (:func:`read_mat`).

    See Also
    --------
    read_mat : The reader under this one.
    from_array : Build a tensor from any array.

    References
    ----------
    Golub MD et al. (2018) Learning by neural reassociation. Nat Neurosci 21:607-616.

    Examples
    --------
    A file of the same layout, 5 units and 4 samples for each of 8 directions:

    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> import scipy.io
    >>> rng = np.random.default_rng(0)
    >>> clouds = {"spikes": [rng.poisson(2.0, (5, 4)) for _ in range(8)],
    ...           "angles": np.arange(0, 360, 45)}
    >>> path = f"{tmp.name}/exampleData.mat"
    >>> scipy.io.savemat(path, {"beforeLearning": {"clouds": clouds},
    ...                         "afterLearning": {"clouds": clouds}})
    >>> pop = read_golub(path)
    >>> dict(pop.sizes), pop["label"].values.tolist()
    ({'stage': 2, 'trial': 32, 'unit': 5}, ['before', 'after'])
    >>> tmp.cleanup()
    """
    raw = read_mat(path)
    missing = [s for s in GOLUB_STAGES if s not in raw]
    if missing:
        raise ValueError(
            f"{str(path)!r} lacks {missing}; read_golub expects the bci_learning exampleData.mat "
            f"layout (beforeLearning/afterLearning.clouds). It has {sorted(raw)}."
        )
    stacks, labels = [], None
    for stage in GOLUB_STAGES:
        clouds = raw[stage]["clouds"]
        spikes = [np.asarray(s, dtype=np.float64) for s in clouds["spikes"]]
        angles = np.atleast_1d(np.asarray(clouds["angles"])).astype(np.int64)
        if len(spikes) != angles.size:
            raise ValueError(f"{stage}: {len(spikes)} spike clouds but {angles.size} angles.")
        n_samples = [s.shape[1] for s in spikes]
        # (units, samples) per condition -> (samples, units), conditions one after another
        data = np.concatenate([s.T for s in spikes], axis=0)
        direction = np.repeat(angles, n_samples)
        condition = np.repeat(np.arange(angles.size), n_samples)
        sample = np.concatenate([np.arange(n) for n in n_samples])
        current = {"direction": direction, "condition": condition, "sample": sample}
        if labels is None:
            labels = current
        elif any(not np.array_equal(labels[k], current[k]) for k in current):
            raise ValueError(
                "before and after learning have different samples per direction; "
                "they cannot share a trial axis."
            )
        stacks.append(data)
    return from_array(
        np.stack(stacks),
        ("stage", "trial", "unit"),
        trial_coords=labels,
        stage=[0, 1],
        stage_coords={"label": ["before", "after"]},
        quantity="spike_count",
        source=str(path),
        species="Macaca mulatta",
        area="M1",
        attrs={"reference": "Golub et al. 2018, Nat Neurosci 21:607 (monkey J, 20120305)"},
    )
