"""Read NWB recordings into population tensors, and write population tensors as NWB files.

:func:`read_nwb` turns the ``units`` table (spike times) or a continuous series (an LFP-like
``TimeSeries``, a calcium ``RoiResponseSeries``) into a (trial, time, unit) population tensor
aligned to a named trial event, with the trials table's columns as ``trial`` coords.
:func:`write_nwb` writes a population tensor back so that :func:`read_nwb` returns it unchanged.
:func:`nwb_info` summarises a file (used by ``neurogeom info``).

Files are always opened read-only; an NWB file is never modified.

Streaming
---------
:func:`read_nwb` and :func:`nwb_info` also take ``http(s)://`` URLs, including DANDI asset URLs
(``https://api.dandiarchive.org/api/assets/<asset_id>/download/``, resolved once to the S3 object
they redirect to). The file is read lazily through remfile (see ``neurogeom.io._remote`` for
why remfile and not fsspec): only the byte ranges h5py asks for are fetched, that is the file's
metadata, the trials table, the units table's label columns and index, the spike times of the
requested units only (each unit's run read on its own), and of a continuous series the samples
inside the requested window. Install with ``pip install 'neurogeom[stream]'``.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom.io._binning import bin_average, bin_edges, bin_spike_counts
from neurogeom.io._nwb_meta import read_meta, restore_meta
from neurogeom.io._nwb_open import open_nwb_h5
from neurogeom.io._nwb_write import write_nwb
from neurogeom.io._remote import is_url
from neurogeom.population import QUANTITIES, make_population, pool

__all__ = ["read_nwb", "write_nwb", "nwb_info"]

PathLike = str | os.PathLike
#: largest tensor (bytes, float64) read_nwb builds unless told otherwise; the environment variable
#: ``NEUROGEOM_MAX_TENSOR_BYTES`` or ``read_nwb(..., max_bytes=...)`` changes it
MAX_TENSOR_BYTES = 8 * 1024**3
EventTimes = Literal["auto", "absolute", "relative"]

#: trials-table columns that hold no condition label
_TRIAL_SKIP = {"id", "timeseries", "tags", "tags_index", "timeseries_index"}
#: units-table columns that hold no per-unit label
_UNIT_SKIP = {
    "spike_times",
    "spike_times_index",
    "electrodes",
    "electrodes_index",
    "obs_intervals",
    "obs_intervals_index",
    "waveforms",
    "waveform_mean",
    "waveform_sd",
    "electrode_group",
}
_SPIKE_QUANTITIES = ("spike_count", "rate_hz")


# ---- trials and events -----------------------------------------------------------------------------


def _damaged_group(h5file: Any, name: str) -> str | None:
    """Why the HDF5 group ``name`` that pynwb did not read as a table is unreadable, if present."""
    if h5file is None:
        return None
    try:
        if name not in h5file:
            return None
    except Exception as exc:  # the link itself is damaged
        return f"{type(exc).__name__}: {exc}"
    try:
        group = h5file[name]
        kind = group.attrs.get("neurodata_type")
        kind = kind.decode() if isinstance(kind, bytes) else kind
        columns = list(group.keys())
    except Exception as exc:
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:200]
    if not kind:
        return "its neurodata_type attribute is missing or unreadable"
    return f"pynwb could not read it as {kind} (members {columns[:10]})"


def _trials_frame(nwbfile: Any, path: PathLike, h5file: Any = None) -> pd.DataFrame:
    trials = nwbfile.trials
    damage = _damaged_group(h5file, "intervals/trials") if trials is None else None
    if damage is not None:
        raise ValueError(
            f"{str(path)!r} has a trials table (intervals/trials) but it is damaged ({damage}); "
            "copy or download the file again, or repair the table with pynwb."
        )
    if trials is None or len(trials) == 0:
        raise ValueError(
            f"{str(path)!r} has no trials table (intervals/trials), so there is nothing to align "
            "to. Add trials with NWBFile.add_trial(...) or build the tensor with "
            "neurogeom.from_array(...)."
        )
    columns: dict[str, Any] = {}
    for name in trials.colnames:
        if name in _TRIAL_SKIP:
            continue
        col = trials[name]
        if type(col).__name__ == "VectorIndex":  # ragged column: not a label
            continue
        values = np.asarray(col.data[:])
        if values.ndim != 1:
            continue
        if values.dtype.kind == "S":
            values = values.astype(str)
        elif values.dtype.kind == "O":
            values = np.array([v.decode() if isinstance(v, bytes) else v for v in values])
            if values.dtype.kind == "O":
                continue  # references to other objects
        columns[name] = values
    frame = pd.DataFrame(columns)
    frame.index = np.asarray(trials.id.data[:])
    frame.index.name = "id"
    return frame


def _event_columns(trials: pd.DataFrame) -> list[str]:
    """Numeric trial columns that hold times: ``start_time``, ``stop_time`` and ``*_time(s)``."""
    return [
        c
        for c in trials.columns
        if pd.api.types.is_float_dtype(trials[c].dtype)
        and (c in ("start_time", "stop_time") or c.endswith("_time") or c.endswith("_times"))
    ]


def _event_is_relative(values: np.ndarray, start: np.ndarray) -> bool | None:
    """Tell whether event times are seconds from the trial's start (True) or absolute (False).

    Absolute event times are at or after their trial's start and grow with it; times relative to
    the start are mostly smaller than the start and do not follow it. Returns None when the two
    readings cannot be told apart from the values.
    """
    ok = np.isfinite(values) & np.isfinite(start)
    v, s = values[ok], start[ok]
    if v.size == 0 or np.allclose(s, 0.0):
        return False  # both readings agree
    after_start = np.mean(v >= s - 1e-9)
    order = np.argsort(s, kind="stable")
    steps = np.diff(v[order])
    monotone = np.mean(steps >= 0) if steps.size else 1.0
    if after_start >= 0.99 and monotone >= 0.9:
        return False
    if after_start <= 0.5 or monotone < 0.6:
        return True
    return None


def _event_kind(trials: pd.DataFrame, name: str) -> str:
    if name in ("start_time", "stop_time"):
        return "absolute"
    rel = _event_is_relative(trials[name].to_numpy(float), trials["start_time"].to_numpy(float))
    return {True: "relative", False: "absolute", None: "unknown"}[rel]


def _align_times(
    trials: pd.DataFrame, align: str, event_times: EventTimes, path: PathLike
) -> tuple[np.ndarray, str]:
    """Absolute time (s) of ``align`` in every trial, and how the column was read."""
    events = _event_columns(trials)
    if align not in trials.columns or not pd.api.types.is_numeric_dtype(trials[align].dtype):
        raise ValueError(
            f"unknown event {align!r} in {str(path)!r}; the trials table has the event columns "
            f"{events}. Pass one of them as align=..."
        )
    values = trials[align].to_numpy(float)
    if align in ("start_time", "stop_time") or event_times == "absolute":
        return values, "absolute"
    start = trials["start_time"].to_numpy(float)
    if event_times == "relative":
        return start + values, "relative"
    rel = _event_is_relative(values, start)
    if rel is None:
        raise ValueError(
            f"cannot tell whether {align!r} holds absolute times or seconds from each trial's "
            "start_time; pass event_times='absolute' or event_times='relative'."
        )
    return (start + values, "relative") if rel else (values, "absolute")


def _row_mask(frame: pd.DataFrame, rule: Any, what: str) -> np.ndarray:
    """Boolean row mask from a dict (column -> value or list of values), a callable or a query."""
    if rule is None:
        return np.ones(len(frame), dtype=bool)
    if callable(rule):
        mask = np.asarray(rule(frame))
    elif isinstance(rule, str):
        mask = frame.eval(rule)
        mask = np.asarray(mask)
    elif isinstance(rule, Mapping):
        mask = np.ones(len(frame), dtype=bool)
        for col, want in rule.items():
            if col not in frame.columns:
                raise ValueError(
                    f"{what} names column {col!r}, which is not in the table; its columns are "
                    f"{list(frame.columns)}."
                )
            wanted = list(want) if isinstance(want, list | tuple | set | np.ndarray) else [want]
            hits = frame[col].isin(wanted).to_numpy()
            if not hits.any():
                _explain_no_match(frame[col], wanted, what, col)
            mask &= hits
    else:
        raise TypeError(
            f"{what} must be a dict (column -> value or list), a callable on the DataFrame or a "
            f"query string; got {type(rule).__name__}."
        )
    if mask.dtype != bool or mask.shape != (len(frame),):
        raise ValueError(
            f"{what} must select rows with one boolean per row ({len(frame)}); got an array of "
            f"shape {mask.shape} and dtype {mask.dtype}."
        )
    return mask


def _explain_no_match(column: pd.Series, wanted: list[Any], what: str, col: str) -> None:
    """Raise when a filter value can never match its column because their types differ (the
    string '1' against a column of integers)."""
    kind = column.dtype.kind
    holds = {"i": "integers", "u": "integers", "f": "floats", "b": "booleans"}.get(kind)
    if holds is None or not all(isinstance(w, str) for w in wanted):
        return
    values = sorted(pd.unique(column.dropna()).tolist())[:10]
    raise ValueError(
        f"{what}[{col!r}] = {wanted[0] if len(wanted) == 1 else wanted!r} gives strings, but column "
        f"{col!r} holds {holds} (values {values}), so no row matches; give {holds} "
        f"(e.g. {what}={{{col!r}: {values[0]!r}}})."
    )


# ---- spikes and continuous series ------------------------------------------------------------------


def _units_frame(units: Any) -> pd.DataFrame:
    columns: dict[str, Any] = {}
    for name in units.colnames:
        if name in _UNIT_SKIP:
            continue
        col = units[name]
        if type(col).__name__ in ("VectorIndex", "DynamicTableRegion"):
            continue
        values = np.asarray(col.data[:])
        if values.ndim != 1:
            continue
        if values.dtype.kind == "S":
            values = values.astype(str)
        elif values.dtype.kind == "O":
            values = np.array([v.decode() if isinstance(v, bytes) else v for v in values])
            if values.dtype.kind == "O":
                continue
        columns[name] = values
    frame = pd.DataFrame(columns)
    frame.index = np.asarray(units.id.data[:])
    frame.index.name = "id"
    return frame


def _spike_trains(units: Any, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spike times of the selected unit rows as (flat sorted runs, run ends).

    Reads the index whole (one integer per unit) and then only the runs of the selected units:
    one slice of the flat ``spike_times`` dataset per block of consecutive selected rows, so a
    lazily read (streamed) file fetches the spikes of those units only.
    """
    index = units["spike_times"]
    ends_all = np.asarray(index.data[:], dtype=np.int64)
    starts_all = np.concatenate([[0], ends_all[:-1]])
    target = index.target.data
    blocks: dict[int, np.ndarray] = {}  # first row of a block -> its spike times
    order = np.unique(rows)
    splits = np.flatnonzero(np.diff(order) != 1) + 1
    for block in np.split(order, splits) if order.size else []:
        lo, hi = int(starts_all[block[0]]), int(ends_all[block[-1]])
        data = np.asarray(target[lo:hi], dtype=np.float64) if hi > lo else np.zeros(0)
        for r in block:
            blocks[int(r)] = data[starts_all[r] - lo : ends_all[r] - lo]
    pieces = [blocks[int(r)] for r in rows]
    pieces = [p if np.all(np.diff(p) >= 0) else np.sort(p) for p in pieces]
    lengths = np.array([p.size for p in pieces], dtype=np.int64)
    flat = np.concatenate(pieces) if pieces else np.zeros(0)
    return flat, np.cumsum(lengths)


def _iter_series(nwbfile: Any) -> Iterator[tuple[str, Any]]:
    """Every TimeSeries of the file with its path (``processing/ophys/Fluorescence/Roi...``)."""
    from pynwb import TimeSeries

    def walk(obj: Any, prefix: str) -> Iterator[tuple[str, Any]]:
        if isinstance(obj, TimeSeries):
            yield prefix, obj
            return
        for child in getattr(obj, "children", []) or []:
            yield from walk(child, f"{prefix}/{child.name}")

    for group in ("acquisition", "stimulus"):
        for name, obj in (getattr(nwbfile, group, None) or {}).items():
            yield from walk(obj, f"{group}/{name}")
    for mod_name, module in (nwbfile.processing or {}).items():
        for name, obj in module.data_interfaces.items():
            yield from walk(obj, f"processing/{mod_name}/{name}")


def _is_continuous(ts: Any) -> bool:
    """A series worth binning: numeric samples (not event markers in BehavioralEvents)."""
    parent = getattr(ts, "parent", None)
    if type(parent).__name__ == "BehavioralEvents":
        return False
    data = ts.data
    dtype = getattr(data, "dtype", None)
    return dtype is not None and np.issubdtype(dtype, np.number)


def _find_series(nwbfile: Any, series: str, path: PathLike) -> tuple[str, Any]:
    found = list(_iter_series(nwbfile))
    key = series.strip("/")
    for p, ts in found:
        if p == key or ts.name == key:
            return p, ts
    inside = [(p, ts) for p, ts in found if p.startswith(key + "/") or f"/{key}/" in p]
    if len(inside) == 1:
        return inside[0]
    raise ValueError(
        f"no series {series!r} in {str(path)!r}"
        + (" (it holds several; name one)" if inside else "")
        + f"; its series are {[p for p, _ in found]}. Pass one of them as series=..."
    )


def _series_samples(ts: Any, t_lo: float, t_hi: float) -> tuple[np.ndarray, np.ndarray]:
    """Timestamps (s) and data (n_samples, n_channels) of ``ts`` between ``t_lo`` and ``t_hi``."""
    n = int(ts.data.shape[0])
    if ts.timestamps is not None:
        stamps = np.asarray(ts.timestamps[:], dtype=np.float64)
        i0, i1 = np.searchsorted(stamps, [t_lo, t_hi], side="left")
        i1 = min(n, i1 + 1)
        stamps = stamps[i0:i1]
    else:
        rate = float(ts.rate)
        t0 = float(ts.starting_time or 0.0)
        i0 = int(np.clip(np.floor((t_lo - t0) * rate), 0, n))
        i1 = int(np.clip(np.ceil((t_hi - t0) * rate) + 1, 0, n))
        stamps = t0 + np.arange(i0, i1, dtype=np.float64) / rate
    data = np.asarray(ts.data[i0:i1], dtype=np.float64)
    return stamps, data.reshape(data.shape[0], -1)


def _series_quantity(ts: Any) -> str:
    parent = type(getattr(ts, "parent", None)).__name__
    if parent == "DfOverF":
        return "dff"
    if parent == "Fluorescence" or type(ts).__name__ == "RoiResponseSeries":
        return "fluorescence"
    return "continuous"


def _series_channel_ids(ts: Any, n_channels: int) -> np.ndarray:
    for attr in ("rois", "electrodes"):
        region = getattr(ts, attr, None)
        if region is not None:
            try:
                ids = np.asarray(region.table.id.data[:])[np.asarray(region.data[:])]
                if ids.size == n_channels:
                    return ids
            except (AttributeError, IndexError, TypeError):
                pass
    return np.arange(n_channels)


# ---- read_nwb --------------------------------------------------------------------------------------


def _check_window(window_s: Any, bin_size_s: Any) -> tuple[tuple[float, float], float]:
    try:
        a, b = (float(x) for x in window_s)
    except (TypeError, ValueError):
        raise ValueError(
            f"window_s must be two numbers (start_s, stop_s) relative to the event; got "
            f"{window_s!r}. Give e.g. window_s=(-0.5, 1.0)."
        ) from None
    if not (np.isfinite(a) and np.isfinite(b)) or a >= b:
        raise ValueError(
            f"window start must be before its stop; got window_s=({a}, {b}). "
            "Give (start_s, stop_s) with start_s < stop_s, e.g. (-0.5, 1.0)."
        )
    try:
        size = float(bin_size_s)
    except (TypeError, ValueError):
        raise ValueError(
            f"bin_size_s must be a number of seconds; got {bin_size_s!r}. Give e.g. "
            "bin_size_s=0.05."
        ) from None
    if not np.isfinite(size) or size <= 0:
        raise ValueError(
            f"bin_size_s must be a positive number of seconds; got {size}. Give the bin width, "
            "e.g. bin_size_s=0.05."
        )
    if size > b - a + 1e-12:
        raise ValueError(
            f"bin_size_s={size} s is longer than the window ({b - a} s); use a smaller bin."
        )
    return (a, b), size


def read_nwb(
    path_or_paths: PathLike | Sequence[PathLike],
    *,
    align: str | None = None,
    window_s: tuple[float, float] | None = None,
    bin_size_s: float | None = None,
    quantity: str | None = None,
    units: Sequence[Any] | None = None,
    unit_filter: Mapping[str, Any] | Callable[[pd.DataFrame], Any] | str | None = None,
    series: str | None = None,
    trial_filter: Mapping[str, Any] | Callable[[pd.DataFrame], Any] | str | None = None,
    trial_columns: Sequence[str] | None = None,
    event_times: EventTimes = "auto",
    clip_to_trial: bool = False,
    pool_by: str | Sequence[str] | None = None,
    n_trials: int | None = None,
    seed: int = 0,
    unique_unit_ids: bool = True,
    max_bytes: int | None = None,
) -> xr.DataArray:
    """Read an NWB file into a (trial, time, unit) population tensor aligned to a trial event.

    Parameters
    ----------
    path_or_paths : path, URL, or sequence of them
        One NWB (HDF5) file, or several: each is read with the same settings, then they are pooled
        into a pseudo-population by :func:`neurogeom.population.pool` (needs ``pool_by``). A
        ``http(s)://`` URL (also a DANDI asset URL,
        ``https://api.dandiarchive.org/api/assets/<asset_id>/download/``) is streamed: read
        lazily with remfile, fetching only the bytes the requested units, trials and window need
        (the tensor equals that of the downloaded file).
    align : str, optional
        Trials-table column of the event that time 0 is aligned to (``"start_time"``,
        ``"cue_start_time"``, ...). Default: the event a neurogeom-written file records, else
        ``"start_time"``.
    window_s : (float, float), optional
        Seconds relative to the event, ``start_s < stop_s``. Required unless the file was written
        by :func:`write_nwb`, which records it.
    bin_size_s : float, optional
        Bin width in seconds, > 0 (same default rule as ``window_s``).
    quantity : {"spike_count", "rate_hz", "dff", "fluorescence", "continuous", ...}, optional
        For spikes: counts per bin (default) or rates in Hz (counts / ``bin_size_s``). For a
        continuous series: the label stored in attrs (default from the series type).
    units : sequence, optional
        Unit ids (the units table's ``id``) to keep, in this order.
    unit_filter : dict, callable or str, optional
        Units-table row filter: ``{"quality": "good"}`` (a list value means any of), a callable
        taking the units DataFrame and returning a boolean mask, or a ``DataFrame.eval`` query.
    series : str, optional
        Name or path of a continuous series to bin instead of spikes, e.g. ``"LFP"`` or
        ``"processing/ophys/Fluorescence/RoiResponseSeries"`` (a container holding one series may
        be named). Each bin holds the mean of the samples inside it (NaN when none).
    trial_filter : dict, callable or str, optional
        Trials-table row filter, same forms as ``unit_filter``.
    trial_columns : sequence of str, optional
        Trials-table columns to keep as ``trial`` coords. Default: all of them (strings, numbers,
        booleans), plus ``trial_id``.
    event_times : {"auto", "absolute", "relative"}, default="auto"
        Whether event columns hold absolute seconds or seconds from each trial's ``start_time``
        (as in DANDI:000006). ``"auto"`` decides from the values: relative times are mostly smaller
        than their trial's start and do not grow with it; ambiguous columns raise.
    clip_to_trial : bool, default=False
        Set bins outside ``[start_time, stop_time]`` of their trial to NaN (where ``stop_time``
        is known). By default a window may reach into the neighbouring trials.
    pool_by : str or sequence of str, optional
        With several files: trial label(s) whose conditions are balanced when pooling.
    n_trials : int, optional
        With several files: trials per condition in the pseudo-population (default: the minimum).
    seed : int, default=0
        Seed of the trial resampling when pooling.
    unique_unit_ids : bool, default=True
        With several files: prefix unit ids with the file name (``"<stem>/<id>"``). With False,
        a unit id found in two files is an error.
    max_bytes : int, optional
        Largest tensor (bytes of float64 values) to build; a larger one is refused before
        anything is allocated. Default: the environment variable ``NEUROGEOM_MAX_TENSOR_BYTES``,
        else ``MAX_TENSOR_BYTES`` (8 GiB).

    Returns
    -------
    xarray.DataArray
        Dims (``trial``, ``time``, ``unit``), float64; ``time`` holds bin centres (s). Trials
        whose event is NaN are dropped (with a warning giving the count). attrs: ``quantity``,
        ``bin_size_s``, ``align``, ``window_s`` (the window actually binned: when
        ``bin_size_s`` does not divide the window, its whole bins, with a warning),
        ``event_times``, ``source`` (the path or URL), ``session`` (the file's stem),
        ``species``.

    Warns
    -----
    UserWarning
        When every bin is zero because the windows miss the recorded spikes, when the window is
        many times longer than a trial (milliseconds typed as seconds?), when the bin does not
        divide the window, and when spike times are NaN.

    Raises
    ------
    FileNotFoundError
        If a file does not exist.
    ValueError
        For a file that is not HDF5, not NWB, locked, truncated or damaged (also a damaged trials
        or units table), a file without trials, units or continuous data, an unknown event or
        series, a bad window or bin size, a window longer than the whole session, spike times
        that are all NaN or denormal, a tensor larger than ``max_bytes``, or duplicate unit ids.

    See Also
    --------
    nwb_info : what a file holds (units, trials, event columns, series).

    Notes
    -----
    h5py can crash (segmentation fault) on some damaged files; run
    ``neurogeom.io._nwb_open.probe_hdf5`` first, or ``neurogeom info`` (which does), on
    files you do not trust.

    Examples
    --------
    >>> from neurogeom.data import sample_nwb
    >>> pop = read_nwb(sample_nwb("early"), align="stimulus_on_time", window_s=(0.0, 0.5),
    ...                bin_size_s=0.25, units=[0, 1, 2])
    >>> pop.dims, pop.sizes["unit"]
    (('trial', 'time', 'unit'), 3)

    Streaming from DANDI (needs the network):

    >>> pop = read_nwb("https://api.dandiarchive.org/api/assets/<asset_id>/download/",
    ...                align="cue_start_time", window_s=(-1.0, 2.0), bin_size_s=0.05,
    ...                units=[0])  # doctest: +SKIP
    """
    if event_times not in ("auto", "absolute", "relative"):
        raise ValueError(
            f"event_times must be 'auto', 'absolute' or 'relative'; got {event_times!r}."
        )
    if quantity is not None and quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; expected one of {sorted(QUANTITIES)}.")
    if window_s is not None and bin_size_s is not None:
        _check_window(window_s, bin_size_s)  # fail before opening anything
    settings = dict(
        align=align,
        window_s=window_s,
        bin_size_s=bin_size_s,
        quantity=quantity,
        units=units,
        unit_filter=unit_filter,
        series=series,
        trial_filter=trial_filter,
        trial_columns=trial_columns,
        event_times=event_times,
        clip_to_trial=clip_to_trial,
        max_bytes=_max_bytes(max_bytes),
    )
    if isinstance(path_or_paths, str | os.PathLike):
        return _read_file(_source(path_or_paths), settings)
    paths = [_source(p) for p in path_or_paths]
    if not paths:
        raise ValueError("read_nwb got an empty list of paths; give one NWB file or several.")
    if len(paths) == 1:
        return _read_file(paths[0], settings)
    if pool_by is None:
        raise ValueError(
            "reading several files builds a pseudo-population: pass pool_by=<trial "
            "label(s)> whose conditions are balanced across files, e.g. pool_by='type'."
        )
    pops = [_read_file(p, settings) for p in paths]
    names = [p.attrs["session"] for p in pops]
    if len(set(names)) != len(names):
        names = [f"{i}:{n}" for i, n in enumerate(names)]
    return pool(
        pops,
        by=pool_by,
        n_trials=n_trials,
        seed=seed,
        sessions=names,
        unique_unit_ids=unique_unit_ids,
    )


def _source(path: PathLike) -> str | Path:
    """A URL stays a string; anything else is a local path."""
    return str(path) if is_url(path) else Path(path)


def _max_bytes(max_bytes: int | None) -> int:
    if max_bytes is None:
        env = os.environ.get("NEUROGEOM_MAX_TENSOR_BYTES")
        if env is None:
            return MAX_TENSOR_BYTES
        try:
            return int(float(env))
        except ValueError:
            raise ValueError(
                f"NEUROGEOM_MAX_TENSOR_BYTES must be a number of bytes; got {env!r}, e.g. "
                "NEUROGEOM_MAX_TENSOR_BYTES=32e9."
            ) from None
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int | float) or max_bytes <= 0:
        raise ValueError(f"max_bytes must be a positive number of bytes; got {max_bytes!r}.")
    return int(max_bytes)


def _read_file(source: str | Path, settings: Mapping[str, Any]) -> xr.DataArray:
    with open_nwb_h5(source) as (nwbfile, h5file, name):
        return _read_one(nwbfile, source, **settings, h5file=h5file, name=name)


def _read_one(
    nwbfile: Any,
    path: str | Path,
    *,
    align: str | None,
    window_s: Any,
    bin_size_s: Any,
    quantity: str | None,
    units: Any,
    unit_filter: Any,
    series: str | None,
    trial_filter: Any,
    trial_columns: Any,
    event_times: EventTimes,
    clip_to_trial: bool,
    max_bytes: int,
    h5file: Any = None,
    name: str | None = None,
) -> xr.DataArray:
    """One open file -> a population tensor: settings, trials, values, coords, in this order."""
    meta = read_meta(nwbfile)
    align = align or meta.get("align") or "start_time"
    window_s, bin_size_s = _window_settings(meta, window_s, bin_size_s)
    n_bins = int(np.floor((window_s[1] - window_s[0]) / bin_size_s + 1e-9))  # as bin_edges
    series = _series_setting(nwbfile, path, meta, series, h5file)
    trials, event_abs, event_kind, complete = _aligned_trials(
        nwbfile, path, trial_filter, align, event_times, h5file
    )
    _check_window_scale(trials, window_s, path)
    if series is None:
        unit_frame, rows = _selected_units(nwbfile, units, unit_filter)
        _check_size(len(trials), n_bins, rows.size, "units", bin_size_s, window_s, max_bytes)
        edges = bin_edges(window_s, bin_size_s)
        values, quantity, unit_ids, unit_coords = _spike_values(
            nwbfile, path, event_abs, edges, bin_size_s, meta, quantity, unit_frame, rows
        )
    else:
        ts_path, ts = _find_series(nwbfile, series, path)
        n_channels = int(np.prod(ts.data.shape[1:], dtype=np.int64))
        _check_size(len(trials), n_bins, n_channels, "channels", bin_size_s, window_s, max_bytes)
        edges = bin_edges(window_s, bin_size_s)
        values, quantity, unit_ids, series = _series_values(
            ts_path, ts, event_abs, edges, meta, quantity
        )
        unit_coords = {}
    window_s = _binned_window(window_s, edges, bin_size_s)
    time = (edges[:-1] + edges[1:]) / 2.0
    unit_ids, unit_coords, time = restore_meta(
        meta, from_series=series is not None, unit_ids=unit_ids, unit_coords=unit_coords, time=time
    )
    if clip_to_trial and "stop_time" in trials:
        _clip_to_trials(values, trials, event_abs, edges)
    attrs = dict(meta.get("attrs", {}))
    session = Path(name).stem if name else Path(str(path)).stem
    attrs.update(window_s=list(window_s), event_times=event_kind, session=session)
    if series is not None:
        attrs["series"] = series
    species = getattr(getattr(nwbfile, "subject", None), "species", None)
    pop = make_population(
        values,
        dims=("trial", "time", "unit"),
        quantity=quantity,
        trial_coords=_trial_coords(trials, trial_columns, meta),
        time=time,
        unit=unit_ids,
        unit_coords=unit_coords,
        align=align,
        bin_size_s=bin_size_s,
        source=str(path),
        species=attrs.pop("species", None) or species or None,
        area=attrs.pop("area", None),
        attrs={k: v for k, v in attrs.items() if k not in ("quantity", "bin_size_s", "align")},
    )
    stage = meta.get("stage")
    return _unstack_stage(pop, stage) if stage and complete else pop


def _window_settings(
    meta: Mapping[str, Any], window_s: Any, bin_size_s: Any
) -> tuple[tuple[float, float], float]:
    """The window and bin size asked for, else the ones a neurogeom-written file records."""
    if window_s is None:
        if "window_s" not in meta:
            raise ValueError(
                "read_nwb needs window_s=(start_s, stop_s): seconds around the event to keep, "
                "e.g. window_s=(-0.5, 1.0)."
            )
        window_s = meta["window_s"]
    if bin_size_s is None:
        if "bin_size_s" not in meta:
            raise ValueError("read_nwb needs bin_size_s (seconds), e.g. bin_size_s=0.05.")
        bin_size_s = meta["bin_size_s"]
    return _check_window(window_s, bin_size_s)


def _series_setting(
    nwbfile: Any, path: str | Path, meta: Mapping[str, Any], series: str | None, h5file: Any
) -> str | None:
    """The continuous series to read: the one asked for, the written one, or the file's only
    one when it has no units table; None to read spikes."""
    if series is None and meta.get("series"):
        series = meta["series"]
    has_units = nwbfile.units is not None and len(nwbfile.units) > 0
    if series is not None or has_units:
        return series
    candidates = [p for p, ts in _iter_series(nwbfile) if _is_continuous(ts)]
    damage = _damaged_group(h5file, "units") if nwbfile.units is None else None
    if damage is not None and not candidates:
        raise ValueError(
            f"{str(path)!r} has a units table (units) but it is damaged ({damage}); copy or "
            "download the file again, or repair the table with pynwb."
        )
    if not candidates:
        raise ValueError(
            f"{str(path)!r} has no units table and no continuous data (TimeSeries); "
            "there is nothing to bin. Add spike times (NWBFile.add_unit) or a TimeSeries."
        )
    if len(candidates) > 1:
        raise ValueError(
            f"{str(path)!r} has no units table and several continuous series "
            f"{candidates}; pass series=<one of them>."
        )
    return candidates[0]


def _aligned_trials(
    nwbfile: Any,
    path: str | Path,
    trial_filter: Any,
    align: str,
    event_times: EventTimes,
    h5file: Any = None,
) -> tuple[pd.DataFrame, np.ndarray, str, bool]:
    """The kept trials, the absolute time (s) of their event, how the event column was read, and
    whether every trial of the table was kept."""
    trials = _trials_frame(nwbfile, path, h5file)
    n_all = len(trials)
    keep = _row_mask(trials, trial_filter, "trial_filter")
    trials = trials[keep]
    if trials.empty:
        raise ValueError(f"trial_filter kept none of the {n_all} trials; loosen it.")
    event_abs, event_kind = _align_times(trials, align, event_times, path)
    finite = np.isfinite(event_abs)
    if not finite.all():
        warnings.warn(
            f"dropped {int((~finite).sum())} of {len(trials)} trials whose {align!r} is NaN.",
            stacklevel=5,
        )
        trials, event_abs = trials[finite], event_abs[finite]
        if trials.empty:
            raise ValueError(f"every trial has a NaN {align!r}; align to another event.")
    return trials, event_abs, event_kind, bool(keep.all() and finite.all())


def _selected_units(
    nwbfile: Any, units: Sequence[Any] | None, unit_filter: Any
) -> tuple[pd.DataFrame, np.ndarray]:
    """The units table's label columns and the rows (positions) of the selected units."""
    unit_frame = _units_frame(nwbfile.units)
    rows = np.flatnonzero(_row_mask(unit_frame, unit_filter, "unit_filter"))
    if units is not None:
        pos = {u: i for i, u in enumerate(unit_frame.index)}
        missing = [u for u in units if u not in pos]
        if missing:
            raise ValueError(
                f"unit ids {missing[:5]} are not in the units table; its ids are "
                f"{list(unit_frame.index)[:20]}."
            )
        chosen = set(rows.tolist())
        rows = np.array([pos[u] for u in units if pos[u] in chosen], dtype=np.int64)
    if rows.size == 0:
        raise ValueError("unit_filter / units selected no unit; loosen the selection.")
    return unit_frame, rows


def _spike_values(
    nwbfile: Any,
    path: str | Path,
    event_abs: np.ndarray,
    edges: np.ndarray,
    bin_size_s: float,
    meta: Mapping[str, Any],
    quantity: str | None,
    unit_frame: pd.DataFrame,
    rows: np.ndarray,
) -> tuple[np.ndarray, str, np.ndarray, dict[str, np.ndarray]]:
    """Binned spikes (n_trials, n_bins, n_units) of the selected units, the quantity, the unit
    ids and the units-table columns."""
    if quantity not in (None, *_SPIKE_QUANTITIES):
        raise ValueError(
            f"quantity={quantity!r} does not apply to spikes; use 'spike_count' or 'rate_hz' "
            "(or pass series=... to read a continuous series)."
        )
    quantity = quantity or meta.get("quantity") or "spike_count"
    if quantity not in _SPIKE_QUANTITIES:
        quantity = "spike_count"
    flat, ends = _spike_trains(nwbfile.units, rows)
    unit_ids = unit_frame.index.to_numpy()[rows]
    _check_spike_times(flat, unit_ids, path)
    values = bin_spike_counts(flat, ends, event_abs, edges).astype(np.float64)
    _check_all_zero(values, flat, event_abs, edges, path)
    if quantity == "rate_hz":
        values /= bin_size_s
    unit_coords = {c: unit_frame[c].to_numpy()[rows] for c in unit_frame.columns}
    return values, quantity, unit_ids, unit_coords


def _series_values(
    ts_path: str,
    ts: Any,
    event_abs: np.ndarray,
    edges: np.ndarray,
    meta: Mapping[str, Any],
    quantity: str | None,
) -> tuple[np.ndarray, str, np.ndarray, str]:
    """Bin means (n_trials, n_bins, n_channels) of a continuous series, the quantity, the channel
    ids and the series' path."""
    t_lo, t_hi = float(event_abs.min() + edges[0]), float(event_abs.max() + edges[-1])
    stamps, data = _series_samples(ts, t_lo, t_hi)
    values = bin_average(stamps, data, event_abs, edges)
    quantity = quantity or meta.get("quantity") or _series_quantity(ts)
    return values, quantity, _series_channel_ids(ts, values.shape[2]), ts_path


# ---- checks of what a read would give --------------------------------------------------------


def _check_window_scale(trials: pd.DataFrame, window_s: tuple[float, float], path: Any) -> None:
    """Refuse a window longer than the whole session; warn when it dwarfs a trial.

    Both usually mean milliseconds typed as seconds.
    """
    a, b = window_s
    length = b - a
    start = trials["start_time"].to_numpy(float)
    stop = trials["stop_time"].to_numpy(float) if "stop_time" in trials else start
    ends = np.concatenate([start[np.isfinite(start)], stop[np.isfinite(stop)]])
    if len(trials) < 2 or ends.size < 2:
        return
    span = float(ends.max() - ends.min())
    ms_hint = f"if you meant milliseconds, give seconds: window_s=({a / 1000:g}, {b / 1000:g})"
    if span > 0 and length > span:
        raise ValueError(
            f"window_s=({a:g}, {b:g}) is {length:g} s long, longer than the whole session in "
            f"{str(path)!r} ({span:.4g} s from the first trial's start to the last trial's "
            f"end); window_s is in seconds relative to the event: {ms_hint}."
        )
    durations = stop - start
    durations = durations[np.isfinite(durations) & (durations > 0)]
    if durations.size:
        typical = float(np.median(durations))
        if length > 20 * typical:
            warnings.warn(
                f"window_s=({a:g}, {b:g}) is {length:g} s long, {length / typical:.0f} times "
                f"the median trial ({typical:.3g} s) of {str(path)!r}, so each window spans many "
                f"trials; window_s is in seconds: {ms_hint}.",
                UserWarning,
                stacklevel=5,
            )


def _format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def _check_size(
    n_trials: int,
    n_bins: int,
    n_columns: int,
    what: str,
    bin_size_s: float,
    window_s: tuple[float, float],
    max_bytes: int,
) -> None:
    """Refuse, before allocating, a tensor larger than ``max_bytes`` (float64 values)."""
    n_bytes = 8.0 * n_trials * n_bins * n_columns
    if n_bytes <= max_bytes:
        return
    raise ValueError(
        f"the tensor would be {n_trials} trials x {n_bins:,} bins x {n_columns} {what} = "
        f"{_format_bytes(n_bytes)} (float64), more than the limit of "
        f"{_format_bytes(max_bytes)} (max_bytes): use a larger bin_size_s (got {bin_size_s:g} "
        f"s for a {window_s[1] - window_s[0]:g} s window), a shorter window or fewer {what}; "
        "to allow more, pass max_bytes=<bytes> to read_nwb (neurogeom load --max-bytes) or set "
        "the environment variable NEUROGEOM_MAX_TENSOR_BYTES."
    )


def _binned_window(
    window_s: tuple[float, float], edges: np.ndarray, bin_size_s: float
) -> tuple[float, float]:
    """The window the bins cover; warns when the bin does not divide the asked window."""
    a, b = window_s
    stop = float(edges[-1])
    if abs(stop - b) <= 1e-9 * max(bin_size_s, abs(b)):
        return window_s
    stop = float(np.round(stop, 12))
    warnings.warn(
        f"bin_size_s={bin_size_s:g} does not divide window_s=({a:g}, {b:g}) "
        f"({(b - a) / bin_size_s:.4g} bins): binned {edges.size - 1} whole bins, the window "
        f"({a:g}, {stop:g}), which attrs['window_s'] states. Choose a bin that divides the "
        "window to keep all of it.",
        UserWarning,
        stacklevel=5,
    )
    return (a, stop)


def _check_spike_times(flat: np.ndarray, unit_ids: np.ndarray, path: Any) -> None:
    """Refuse spike times that are all NaN or denormal (a damaged or mis-typed column)."""
    if flat.size == 0:
        return
    finite = np.isfinite(flat)
    shown = list(unit_ids[:5])
    if not finite.any():
        raise ValueError(
            f"the spike times of units {shown} in {str(path)!r} are all NaN (or infinite), so "
            "there is nothing to count: the units table's spike_times column is damaged or was "
            "written without values; fix the file, or select other units (units= / "
            "unit_filter=)."
        )
    values = np.abs(flat[finite])
    nonzero = values[values != 0]
    tiny = np.finfo(np.float64).tiny
    if nonzero.size and np.mean(nonzero < tiny) > 0.5:
        raise ValueError(
            f"the spike times of units {shown} in {str(path)!r} are denormal numbers (e.g. "
            f"{float(nonzero.min()):.3g}), not seconds: the column was most likely written "
            "with the wrong type (integers such as sample indices stored as float64 bits); "
            "rewrite spike_times in seconds (float64)."
        )
    n_bad = int((~finite).sum())
    if n_bad:
        warnings.warn(
            f"ignored {n_bad} of {flat.size} spike times of {str(path)!r} that are NaN or "
            "infinite.",
            UserWarning,
            stacklevel=6,
        )


def _check_all_zero(
    values: np.ndarray, flat: np.ndarray, event_abs: np.ndarray, edges: np.ndarray, path: Any
) -> None:
    """Warn when every bin is zero, saying whether the windows miss the recorded spikes."""
    if values.size == 0 or np.any(values):
        return
    lo, hi = event_abs + edges[0], event_abs + edges[-1]
    spikes = flat[np.isfinite(flat)]
    where = (
        f"the windows run from {lo.min():.6g} s to {hi.max():.6g} s (event + "
        f"[{edges[0]:g}, {edges[-1]:g}] s)"
    )
    if spikes.size == 0:
        reason = "the selected units have no spikes"
    else:
        first, last = float(spikes.min()), float(spikes.max())
        outside = np.all((hi <= first) | (lo > last))
        reason = (
            f"{where}, entirely outside the recorded spikes ({first:.6g} s to {last:.6g} s)"
            if outside
            else f"no spike of the selected units falls in a window; {where}"
        )
    warnings.warn(
        f"every bin of the tensor read from {str(path)!r} is zero: {reason}. Check align=, "
        "window_s= (seconds relative to the event) and event_times= ('absolute' or "
        "'relative').",
        UserWarning,
        stacklevel=6,
    )


def _clip_to_trials(
    values: np.ndarray, trials: pd.DataFrame, event_abs: np.ndarray, edges: np.ndarray
) -> None:
    """Set bins outside their trial's [start_time, stop_time] to NaN, in place."""
    start = trials["start_time"].to_numpy(float)
    stop = trials["stop_time"].to_numpy(float)
    lo = event_abs[:, None] + edges[None, :-1]
    hi = event_abs[:, None] + edges[None, 1:]
    outside = (lo < start[:, None] - 1e-9) | (
        np.isfinite(stop)[:, None] & (hi > stop[:, None] + 1e-9)
    )
    values[outside] = np.nan


def _trial_coords(
    trials: pd.DataFrame, trial_columns: Sequence[str] | None, meta: Mapping[str, Any]
) -> dict[str, np.ndarray]:
    renamed = meta.get("trial_columns")  # {column: coord name} written by write_nwb
    if trial_columns is None and renamed is not None:
        return {coord: trials[col].to_numpy() for col, coord in renamed.items() if col in trials}
    if trial_columns is None:
        out = {"trial_id": trials.index.to_numpy()}
        out.update({c: trials[c].to_numpy() for c in trials.columns})
        return out
    missing = [c for c in trial_columns if c not in trials.columns and c != "trial_id"]
    if missing:
        raise ValueError(
            f"trial_columns {missing} are not in the trials table; its columns are "
            f"{list(trials.columns)}."
        )
    return {
        c: (trials.index.to_numpy() if c == "trial_id" else trials[c].to_numpy())
        for c in trial_columns
    }


def _unstack_stage(pop: xr.DataArray, stage: Mapping[str, Any]) -> xr.DataArray:
    """Undo :func:`write_nwb`'s stacking of a ``stage`` dim into the trials table."""
    col = stage["column"]
    if col not in pop.coords:
        return pop
    n_stage = int(stage["n_stage"])
    n_trial = pop.sizes["trial"] // n_stage
    if n_trial * n_stage != pop.sizes["trial"]:
        return pop
    values = pop.values.reshape(n_stage, n_trial, *pop.shape[1:])
    stage_coords = {
        name: pop[c].values.reshape(n_stage, n_trial)[:, 0] for name, c in stage["coords"].items()
    }
    skip = {col, *stage["coords"].values(), "trial", "valid"}
    trial_coords = {
        c: pop[c].values[:n_trial]
        for c in pop.coords
        if pop[c].dims == ("trial",) and c not in skip
    }
    unit_coords = {c: pop[c].values for c in pop.coords if pop[c].dims == ("unit",) and c != "unit"}
    attrs = {k: v for k, v in pop.attrs.items() if k not in ("quantity", "bin_size_s", "align")}
    return make_population(
        values,
        dims=("stage", "trial", "time", "unit"),
        quantity=pop.attrs["quantity"],
        trial_coords=trial_coords,
        time=pop["time"].values,
        unit=pop["unit"].values,
        unit_coords=unit_coords,
        stage=pop[col].values.reshape(n_stage, n_trial)[:, 0],
        stage_coords=stage_coords,
        align=pop.attrs.get("align"),
        bin_size_s=pop.attrs.get("bin_size_s"),
        attrs=attrs,
    )


# ---- nwb_info --------------------------------------------------------------------------------------


def nwb_info(path: PathLike, n_examples: int = 3) -> dict[str, Any]:
    """Summarise an NWB file: units, trials, trial columns, event columns and continuous series.

    Parameters
    ----------
    path : path or str
        An NWB (HDF5) file, opened read-only, or an ``http(s)://`` URL of one (streamed: only
        the metadata and the tables are fetched).
    n_examples : int, default=3
        Distinct example values listed per trial column.

    Returns
    -------
    dict
        ``path``, ``nwb_version``, ``identifier``, ``session_description``, ``species``,
        ``n_units``, ``unit_columns``, ``n_trials``, ``trial_columns`` (column -> example values),
        ``event_columns`` (column -> ``"absolute"`` / ``"relative"`` / ``"unknown"``) and
        ``series`` (path -> shape) for the continuous series.

    See Also
    --------
    read_nwb : read the file into a population tensor.

    Examples
    --------
    >>> from neurogeom.data import sample_nwb
    >>> nwb_info(sample_nwb("early"))["n_units"]
    100
    """
    source = _source(path)
    with open_nwb_h5(source) as (nwbfile, h5file, _):
        info: dict[str, Any] = {
            "path": str(source),
            "nwb_version": _nwb_version(h5file),
            "identifier": nwbfile.identifier,
            "session_description": nwbfile.session_description,
            "species": getattr(getattr(nwbfile, "subject", None), "species", None),
        }
        units = nwbfile.units
        info["n_units"] = 0 if units is None else len(units)
        info["unit_columns"] = [] if units is None else list(_units_frame(units).columns)
        trials = nwbfile.trials
        if trials is None and _damaged_group(h5file, "intervals/trials") is not None:
            _trials_frame(nwbfile, source, h5file)  # raises: the table is damaged
        if units is None and _damaged_group(h5file, "units") is not None:
            raise ValueError(
                f"{str(source)!r} has a units table (units) but it is damaged "
                f"({_damaged_group(h5file, 'units')}); copy or download the file again, or "
                "repair the table with pynwb."
            )
        if trials is None or len(trials) == 0:
            info.update(n_trials=0, trial_columns={}, event_columns={})
        else:
            frame = _trials_frame(nwbfile, source, h5file)
            info["n_trials"] = len(frame)
            examples = {}
            for col in frame.columns:
                uniq = pd.unique(frame[col].dropna())
                examples[col] = [_plain(v) for v in uniq[:n_examples]]
            info["trial_columns"] = examples
            info["event_columns"] = {c: _event_kind(frame, c) for c in _event_columns(frame)}
        info["series"] = {
            p: tuple(int(s) for s in ts.data.shape)
            for p, ts in _iter_series(nwbfile)
            if _is_continuous(ts)
        }
    return info


def _nwb_version(h5file: Any) -> str | None:
    version = h5file.attrs.get("nwb_version")
    return version.decode() if isinstance(version, bytes) else version


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
