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
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom.population import DIMS, make_population, pool

__all__ = ["from_array", "from_unit_trials", "read_mat", "read_golub"]


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
    labels: Mapping[str, Any] | None = None,
    time: Any = None,
    unit: Any = None,
    unit_labels: Mapping[str, Any] | None = None,
    stage: Any = None,
    stage_labels: Mapping[str, Any] | None = None,
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
    labels : dict of str to array_like, optional
        Trial labels (condition columns), each with one value per trial.
    time : array_like, optional
        Bin centres (s) relative to the alignment event; default ``arange(n_time) * bin_size_s``.
    unit : array_like, optional
        Unit ids (default ``0 .. n_unit - 1``).
    unit_labels : dict of str to array_like, optional
        Per-unit metadata (``area``, ``depth``, ...).
    stage : array_like, optional
        Stage values (training step, session index).
    stage_labels : dict of str to array_like, optional
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
        If a dim name is unknown or repeated, ``dims`` does not match ``data``'s axes, or a label
        vector has the wrong length (the message names the label and both lengths).

    Examples
    --------
    >>> import numpy as np
    >>> pop = from_array(np.zeros((4, 3)), dims=("unit", "trial"),
    ...                  labels={"context": ["a", "b", "a"]})
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

    trial_coords = checked("label", labels, "trial")
    unit_coords = checked("unit label", unit_labels, "unit")
    stage_coords = checked("stage label", stage_labels, "stage")
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


def from_unit_trials(
    units: Sequence[Mapping[str, Any]],
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

    Each unit was recorded on its own set of trials (the layout of Mante et al. 2013's data: one
    struct per unit with a trials x time ``response`` and per-trial ``task_variable`` fields).
    Trials are resampled per condition of ``by`` to a common count with
    :func:`neurogeom.population.pool`, so the k-th pseudo-trial of a condition joins the k-th
    drawn trial of every unit.

    Parameters
    ----------
    units : sequence of dict
        One dict per unit with ``"response"``: array of shape (n_trials,) or (n_trials, n_time);
        ``"task_variables"``: dict of label -> (n_trials,) vectors; optional ``"unit_id"``
        (default: the position) and ``"unit_labels"`` (dict of scalars, e.g. area).
    by : str or sequence of str
        Task variable(s) defining conditions; every unit must have them.
    n_trials : int, optional
        Pseudo-trials per condition (default: the smallest count over units and conditions).
    seed : int, default=0
        Seed of the resampling.
    time : array_like, optional
        Bin centres (s) of the time axis of the responses.
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
        If an entry lacks ``response`` or a ``by`` variable, a task variable has the wrong
        length, units disagree on the number of time bins, or unit ids repeat.
    """
    if not units:
        raise ValueError("from_unit_trials needs at least one unit entry.")
    by_t = (by,) if isinstance(by, str) else tuple(by)
    pops = []
    names = []
    n_time = None
    checked: list[tuple[Mapping[str, Any], np.ndarray, dict[str, np.ndarray]]] = []
    for i, entry in enumerate(units):
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
        if n_time is None:
            n_time = resp.shape[1] if resp.ndim == 2 else 0
        elif (resp.shape[1] if resp.ndim == 2 else 0) != n_time:
            raise ValueError(
                f"unit entry {i} has {resp.shape[1:]} time bins but entry 0 has {n_time}; all "
                "units need the same time axis."
            )
        variables = dict(entry.get("task_variables", {}))
        missing = [b for b in by_t if b not in variables]
        if missing:
            raise ValueError(
                f"unit entry {i} lacks task variable(s) {missing}; it has {sorted(variables)}."
            )
        labels = {
            k: _check_length("task variable", k, v, resp.shape[0], "trial")
            for k, v in variables.items()
        }
        checked.append((entry, resp, labels))
    if n_time and time is None and bin_size_s is None:
        raise ValueError(
            "the responses have a time axis: give time= (bin centres, s) or bin_size_s=."
        )
    for i, (entry, resp, labels) in enumerate(checked):
        unit_id = entry.get("unit_id", i)
        unit_labels = {k: [v] for k, v in dict(entry.get("unit_labels", {})).items()}
        data = resp[:, :, None] if resp.ndim == 2 else resp[:, None]
        dims = ("trial", "time", "unit") if resp.ndim == 2 else ("trial", "unit")
        pops.append(
            from_array(
                data,
                dims,
                labels=labels,
                time=time if resp.ndim == 2 else None,
                unit=[unit_id],
                unit_labels=unit_labels,
                quantity=quantity,
                bin_size_s=bin_size_s if resp.ndim == 2 else None,
                align=align,
            )
        )
        names.append(f"unit{unit_id}")
    if len(set(names)) != len(names):
        raise ValueError("unit_id values repeat across entries; give each unit its own id.")
    out = pool(pops, by=by_t, n_trials=n_trials, seed=seed, sessions=names, replace=replace)
    for key, val in {"source": source, "species": species, "area": area}.items():
        if val is not None:
            out.attrs[key] = val
    if bin_size_s is not None and "time" in out.dims:
        out.attrs["bin_size_s"] = bin_size_s
    return out


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
    """
    import scipy.io

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

    References
    ----------
    Golub MD et al. (2018) Learning by neural reassociation. Nat Neurosci 21:607-616.
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
        labels=labels,
        stage=[0, 1],
        stage_labels={"label": ["before", "after"]},
        quantity="spike_count",
        source=str(path),
        species="Macaca mulatta",
        area="M1",
        attrs={"reference": "Golub et al. 2018, Nat Neurosci 21:607 (monkey J, 20120305)"},
    )
