"""Write a population tensor as an NWB file that :func:`neurogeom.read_nwb` reads back unchanged.

Layout of the written file
--------------------------
- ``intervals/trials``: one row per trial, laid out one after another on a synthetic clock
  (``event_i = t0 + i * period``, with a 1 s gap between windows). The alignment event is an
  absolute-time column named after ``attrs["align"]`` (unless it is ``start_time``). Every trial
  coord becomes a column (strings, numbers, booleans); coords whose names clash with NWB's own
  columns are written as ``label_<name>``.
- spike counts (``quantity="spike_count"``): a ``units`` table whose spike times are placed inside
  their bins, ``bin_start + (k + 1/2) / c * bin_size_s`` for the k-th of c spikes, so re-binning
  gives the counts back exactly; unit coords become units-table columns.
- anything else: one sample per (trial, bin) at the bin centre, in a processing module:
  ``ophys/Fluorescence`` or ``ophys/DfOverF`` (a ``RoiResponseSeries`` over a one-pixel-per-ROI
  ``PlaneSegmentation``) for ``fluorescence`` / ``dff``, else ``misc/<quantity>``
  (a ``TimeSeries``).
- a ``stage`` dim (model checkpoints, sessions) is stacked into the trials table: stage-major
  rows with a ``stage`` column (and ``stage_<coord>`` columns); ``read_nwb`` unstacks it when it
  reads the whole table, and otherwise leaves ``stage`` as a trial label.
- ``notes`` holds a JSON blob (key ``"neurogeom"``, defined in :mod:`neurogeom.io._nwb_meta`) with
  the window, bin size, time coord, unit ids and coords, and attrs, so that reading back restores
  the tensor as written.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._files import replace_atomic
from neurogeom.io._binning import bin_edges
from neurogeom.io._nwb_meta import UNIT_ID_COLUMN, make_meta, write_meta
from neurogeom.population import validate

__all__ = ["write_nwb"]

_RESERVED = {"start_time", "stop_time", "id", "timeseries", "tags", "trial", "valid"}
_GAP_S = 1.0  # silence between consecutive trial windows on the written clock
_OPHYS = {"fluorescence": "Fluorescence", "dff": "DfOverF"}


def _regular_time(pop: xr.DataArray) -> tuple[np.ndarray, float, tuple[float, float]]:
    """Time coord, bin size and window of a tensor with regular bins."""
    if "time" not in pop.dims:
        raise ValueError(
            "write_nwb needs a 'time' dim (bins within each trial); got dims "
            f"{tuple(pop.dims)}. Add one with pop.expand_dims(time=[0.0]) and set "
            "attrs['bin_size_s']."
        )
    time = np.asarray(pop["time"].values, dtype=np.float64)
    size = pop.attrs.get("bin_size_s")
    if size is None:
        if time.size < 2:
            raise ValueError("set pop.attrs['bin_size_s'] (seconds) to write a single-bin tensor.")
        size = float(np.median(np.diff(time)))
    size = float(size)
    if time.size > 1 and not np.allclose(np.diff(time), size, rtol=1e-6, atol=1e-9):
        raise ValueError(
            f"write_nwb needs regular time bins of bin_size_s={size} s; the time coord steps are "
            f"{np.unique(np.round(np.diff(time), 9))[:5]}. Resample the tensor to regular bins."
        )
    window = (float(time[0] - size / 2), float(time[-1] + size / 2))
    return time, size, window


def _column_values(name: str, values: Any, n: int) -> np.ndarray:
    vec = np.asarray(values)
    if vec.ndim != 1 or vec.shape[0] != n:
        raise ValueError(
            f"label {name!r} must have one value per trial ({n}); got shape {vec.shape}."
        )
    if vec.dtype.kind == "O":
        vec = vec.astype(str)
    if vec.dtype.kind == "M":
        vec = vec.astype(str)
    return vec


def _subject(subject: Any, pop: xr.DataArray) -> Any:
    from pynwb.file import Subject

    if isinstance(subject, Subject):
        return subject
    given = dict(subject or {})
    species = given.get("species") or pop.attrs.get("species")
    if not species:
        raise ValueError(
            "write_nwb needs the subject's species (NWB best practice): pass "
            "subject={'species': 'Mus musculus', ...} or set pop.attrs['species']."
        )
    fields = {
        "subject_id": "subject",
        "sex": "U",
        "age": "P0D/",  # ISO 8601 range "0 days or older": age not known
        "description": "subject of the recording the population tensor was built from",
    }
    fields.update(given)
    fields["species"] = species
    return Subject(**fields)


def write_nwb(
    pop: xr.DataArray,
    path: str | os.PathLike,
    *,
    session_description: str | None = None,
    subject: Mapping[str, Any] | Any = None,
    identifier: str | None = None,
    session_start_time: datetime | None = None,
    experimenter: str | list[str] = "Unknown, Experimenter",
    institution: str = "unknown",
    lab: str | None = None,
    experiment_description: str | None = None,
    keywords: list[str] | None = None,
    trial_coords: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a population tensor as an NWB file that :func:`neurogeom.read_nwb` reads back.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with dims (``trial``, ``time``, ``unit``) or (``stage``, ``trial``,
        ``time``, ``unit``) and regular time bins. ``spike_count`` tensors must hold
        non-negative integers (no NaN); other quantities may hold NaN.
    path : path
        Output ``.nwb`` file. Written to a temporary file in the same folder, then renamed.
    session_description : str, optional
        Default: a sentence built from the tensor's shape and quantity.
    subject : dict or pynwb.file.Subject, optional
        Subject fields; ``species`` defaults to ``pop.attrs["species"]`` (required one way or the
        other), ``sex`` to ``"U"``, ``age`` to ``"P0D/"`` (unknown), ``subject_id`` to
        ``"subject"``.
    identifier : str, optional
        Default: a random UUID.
    session_start_time : datetime, optional
        Default: now (UTC).
    experimenter, institution, lab, experiment_description, keywords : optional
        NWB session metadata.
    trial_coords : dict of str to array_like, optional
        Extra trial labels (one value per trial, or per stage x trial row for a staged tensor)
        written as trials-table columns; read back as trial coords.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        For a tensor that cannot be written faithfully (irregular bins, non-integer or NaN spike
        counts, a label of the wrong length, no species). Nothing is written then.

    See Also
    --------
    neurogeom.read_nwb : Read the written file back into the same tensor.
    neurogeom.make_population : Build a population tensor from plain arrays.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from neurogeom import read_nwb
    >>> from neurogeom.data import sample_nwb
    >>> pop = read_nwb(sample_nwb("early"), align="stimulus_on_time", window_s=(0.0, 0.5),
    ...                bin_size_s=0.25, units=[0, 1, 2])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_nwb(pop, Path(folder) / "copy.nwb")
    ...     back = read_nwb(path)
    >>> path.name, back.sizes["trial"], bool((back == pop).all())
    ('copy.nwb', 400, True)
    """
    from pynwb import NWBHDF5IO, NWBFile

    path = _check_destination(pop, path, overwrite)
    time, bin_size_s, window_s = _regular_time(pop)
    values = _row_values(pop)  # (n_stage * n_trial, n_time, n_unit)
    n_rows, n_time, n_unit = values.shape
    quantity = pop.attrs["quantity"]
    align = _alignment_event(pop)
    columns, coord_of, stage_meta = _trial_columns(pop, align, trial_coords)
    events, starts, stops = _trial_clock(window_s, bin_size_s, n_rows, align)
    nwbfile = NWBFile(
        session_description=session_description
        or (
            f"{quantity} population tensor, {n_rows} trials x {n_time} bins of {bin_size_s} s x "
            f"{n_unit} units, aligned to {align}; written by neurogeom"
        ),
        identifier=identifier or str(uuid.uuid4()),
        session_start_time=session_start_time or datetime.now(UTC),
        experimenter=experimenter,
        institution=institution,
        lab=lab,
        experiment_description=experiment_description
        or f"population tensor from {pop.attrs.get('source', 'neurogeom')}",
        keywords=keywords or ["population tensor", "neurogeom"],
        subject=_subject(subject, pop),
    )
    _add_trials(nwbfile, columns, coord_of, align, events, starts, stops)
    meta = make_meta(
        pop,
        align=align,
        window_s=window_s,
        bin_size_s=bin_size_s,
        time=time,
        trial_columns=coord_of,
        stage=stage_meta,
    )
    unit_coords = {
        str(c): _column_values(str(c), pop[c].values, n_unit)
        for c in pop.coords
        if pop[c].dims == ("unit",) and c != "unit"
    }
    edges = bin_edges(window_s, bin_size_s)
    if quantity == "spike_count":
        _add_units(nwbfile, values, events, edges, bin_size_s, pop["unit"].values, unit_coords)
        if not np.issubdtype(pop["unit"].dtype, np.integer):
            meta["unit_id_column"] = UNIT_ID_COLUMN
    else:
        meta["series"] = _add_series(nwbfile, values, events, time, quantity, pop, bin_size_s)
        meta["unit"] = np.asarray(pop["unit"].values).tolist()
        meta["unit_coords"] = {k: v.tolist() for k, v in unit_coords.items()}
    write_meta(nwbfile, meta)

    def write(tmp: Path) -> None:
        with NWBHDF5IO(tmp, mode="w") as io:
            io.write(nwbfile)

    return replace_atomic(path, write)


def _check_destination(pop: xr.DataArray, path: str | os.PathLike, overwrite: bool) -> Path:
    """Check the tensor's dims and the destination before anything is built."""
    validate(pop)
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist; create it first.")
    if "trial" not in pop.dims or "unit" not in pop.dims:
        raise ValueError(
            f"write_nwb needs dims ('trial', 'time', 'unit') (optionally led by 'stage'); got "
            f"{tuple(pop.dims)}."
        )
    return path


def _row_values(pop: xr.DataArray) -> np.ndarray:
    """Values as (n_stage * n_trial, n_time, n_unit) float64, stage-major; spike counts checked."""
    has_stage = "stage" in pop.dims
    n_rows = pop.sizes.get("stage", 1) * pop.sizes["trial"]
    values = np.asarray(pop.transpose(*(("stage",) if has_stage else ()), "trial", "time", "unit"))
    values = values.reshape(n_rows, pop.sizes["time"], pop.sizes["unit"]).astype(np.float64)
    if pop.attrs["quantity"] == "spike_count":
        if not np.all(np.isfinite(values)):
            raise ValueError(
                "a spike_count tensor with NaN cannot be written as spike times; drop the "
                "incomplete trials (pop.where(pop.valid, drop=True)) or write another quantity."
            )
        if np.any(values < 0) or not np.array_equal(values, np.round(values)):
            raise ValueError(
                "spike_count values must be non-negative integers to be written as spike times; "
                "set attrs['quantity'] to 'rate_hz' or 'continuous' for other values."
            )
    return values


def _alignment_event(pop: xr.DataArray) -> str:
    align = str(pop.attrs.get("align") or "start_time")
    if align == "stop_time":
        raise ValueError(
            "write_nwb cannot use 'stop_time' as the alignment event; rename the event "
            "(pop.attrs['align'] = 'end_time')."
        )
    return align


def _trial_columns(
    pop: xr.DataArray, align: str, extra: Mapping[str, Any] | None
) -> tuple[dict[str, np.ndarray], dict[str, str], dict[str, Any] | None]:
    """Trials-table columns (one value per stage x trial row), the coord each holds, and the
    stacking of a ``stage`` dim.

    Trial coords become columns (renamed ``label_<name>`` where they clash with NWB's own columns
    or the event), stage coords ``stage`` and ``stage_<name>`` columns, then the extra labels.
    """
    n_stage, n_trial = pop.sizes.get("stage", 1), pop.sizes["trial"]
    columns: dict[str, np.ndarray] = {}
    coord_of: dict[str, str] = {}
    reserved = _RESERVED | {align}
    for name in pop.coords:
        if pop[name].dims != ("trial",) or name in ("trial", "valid"):
            continue
        col = f"label_{name}" if name in reserved else str(name)
        columns[col] = np.tile(_column_values(str(name), pop[name].values, n_trial), n_stage)
        coord_of[col] = str(name)
    stage_meta = None
    if "stage" in pop.dims:
        columns["stage"] = np.repeat(np.asarray(pop["stage"].values), n_trial)
        coord_of["stage"] = "stage"
        stage_meta = {"column": "stage", "n_stage": n_stage, "coords": {}}
        for name in pop.coords:
            if pop[name].dims == ("stage",) and name != "stage":
                col = f"stage_{name}"
                columns[col] = np.repeat(
                    _column_values(str(name), pop[name].values, n_stage), n_trial
                )
                coord_of[col] = col
                stage_meta["coords"][str(name)] = col
    for name, vec in (extra or {}).items():
        col = f"label_{name}" if name in reserved else str(name)
        columns[col] = _column_values(str(name), vec, n_stage * n_trial)
        coord_of[col] = str(name)
    return columns, coord_of, stage_meta


def _trial_clock(
    window_s: tuple[float, float], bin_size_s: float, n_rows: int, align: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event, start and stop times (s) of the rows laid out one after another, ``_GAP_S`` apart."""
    period = (window_s[1] - window_s[0]) + _GAP_S
    t0 = max(0.0, -window_s[0]) + _GAP_S
    events = t0 + period * np.arange(n_rows, dtype=np.float64)
    starts = events + min(window_s[0], 0.0) if align != "start_time" else events.copy()
    stops = events + max(window_s[1], bin_size_s)
    return events, starts, stops


def _add_trials(
    nwbfile: Any,
    columns: Mapping[str, np.ndarray],
    coord_of: Mapping[str, str],
    align: str,
    events: np.ndarray,
    starts: np.ndarray,
    stops: np.ndarray,
) -> None:
    if align != "start_time":
        nwbfile.add_trial_column(
            name=align, description=f"time of the alignment event {align} (s, absolute)"
        )
    for col in columns:
        nwbfile.add_trial_column(name=col, description=f"trial label {coord_of[col]!r}")
    for i in range(len(events)):
        row = {
            col: vec[i].item() if isinstance(vec[i], np.generic) else vec[i]
            for col, vec in columns.items()
        }
        if align != "start_time":
            row[align] = float(events[i])
        nwbfile.add_trial(start_time=float(starts[i]), stop_time=float(stops[i]), **row)


def _spike_times(
    counts: np.ndarray, events: np.ndarray, edges: np.ndarray, bin_size_s: float
) -> np.ndarray:
    """Spike times that re-bin to ``counts`` (n_trials, n_bins): evenly spread inside each bin."""
    c = counts.astype(np.int64).ravel()
    total = int(c.sum())
    if total == 0:
        return np.zeros(0)
    bin_start = (events[:, None] + edges[None, :-1]).ravel()
    which = np.repeat(np.arange(c.size), c)
    first = np.repeat(np.cumsum(c) - c, c)
    k = np.arange(total) - first
    return bin_start[which] + (k + 0.5) / c[which] * bin_size_s


def _add_units(
    nwbfile: Any,
    values: np.ndarray,
    events: np.ndarray,
    edges: np.ndarray,
    bin_size_s: float,
    unit_ids: np.ndarray,
    unit_coords: Mapping[str, np.ndarray],
) -> None:
    from pynwb.misc import Units

    int_ids = np.issubdtype(np.asarray(unit_ids).dtype, np.integer)
    if not int_ids:  # NWB ids are integers: keep other ids in a column
        unit_coords = {UNIT_ID_COLUMN: np.asarray(unit_ids).astype(str), **unit_coords}
    nwbfile.units = Units(
        name="units",
        description=(
            f"units of the population tensor; spike counts in {bin_size_s} s bins, written as "
            "spike times spread evenly inside their bins (timing known to the bin only)"
        ),
        # the smallest difference between two written spike times (capped at the 100 Hz that
        # NWB best practice expects of a resolution)
        resolution=min(bin_size_s / max(1.0, float(values.max(initial=0.0))), 0.01),
    )
    for name in unit_coords:
        nwbfile.add_unit_column(name=name, description=f"unit label {name!r}")
    for u in range(values.shape[2]):
        extra = {
            k: (v[u].item() if isinstance(v[u], np.generic) else v[u])
            for k, v in unit_coords.items()
        }
        kwargs = {"id": int(unit_ids[u])} if int_ids else {}
        nwbfile.add_unit(
            spike_times=_spike_times(values[:, :, u], events, edges, bin_size_s), **kwargs, **extra
        )


def _imaging_location(area: str, species: str | None) -> str:
    """NWB asks mouse imaging locations to be Allen CCF terms: else use the CCF's ``root``."""
    if species not in (
        "Mus musculus",
        "mouse",
        "Mouse",
        "http://purl.obolibrary.org/obo/NCBITaxon_10090",
    ):
        return area
    try:  # the term list ships with nwbinspector (a development dependency)
        from nwbinspector._internal_configs._allen_ccf import get_allen_ccf_location_terms
    except ImportError:
        return "root"
    return area if area in get_allen_ccf_location_terms() else "root"


def _add_series(
    nwbfile: Any,
    values: np.ndarray,
    events: np.ndarray,
    time: np.ndarray,
    quantity: str,
    pop: xr.DataArray,
    bin_size_s: float,
) -> str:
    """One sample per (trial, bin) at the bin centre; returns the series path."""
    from pynwb import TimeSeries

    n_rows, n_time, n_unit = values.shape
    stamps = (events[:, None] + time[None, :]).ravel()
    data = values.reshape(n_rows * n_time, n_unit)
    if data.shape[0] < n_unit:
        raise ValueError(
            f"NWB wants time along the longest axis: {data.shape[0]} samples (trials x bins) "
            f"but {n_unit} units. Write more trials or bins than units, or fewer units."
        )
    steps = np.diff(stamps)
    regular = stamps.size > 1 and np.allclose(steps, steps[0], rtol=0, atol=1e-9)
    timing = (
        {"starting_time": float(stamps[0]), "rate": float(1.0 / steps[0])}
        if regular
        else {"timestamps": stamps}
    )
    area = str(pop.attrs.get("area") or "unknown")
    location = _imaging_location(area, nwbfile.subject.species)
    if quantity in _OPHYS:
        from pynwb.ophys import (
            DfOverF,
            Fluorescence,
            ImageSegmentation,
            OpticalChannel,
        )

        device = nwbfile.create_device(name="Microscope", description="imaging device")
        channel = OpticalChannel(
            name="OpticalChannel", description="imaging channel", emission_lambda=510.0
        )
        plane = nwbfile.create_imaging_plane(
            name="ImagingPlane",
            optical_channel=channel,
            description=f"imaging plane of the recorded ROIs (area: {area})",
            device=device,
            excitation_lambda=920.0,
            imaging_rate=float(1.0 / bin_size_s),
            indicator="unknown",
            location=location,
        )
        module = nwbfile.create_processing_module(name="ophys", description="ROI responses")
        segmentation = ImageSegmentation(name="ImageSegmentation")
        module.add(segmentation)
        planes = segmentation.create_plane_segmentation(
            name="PlaneSegmentation", description="one pixel per ROI", imaging_plane=plane
        )
        side = int(np.ceil(np.sqrt(n_unit)))
        for u in range(n_unit):
            planes.add_roi(pixel_mask=[(u % side, u // side, 1.0)])
        rois = planes.create_roi_table_region(region=list(range(n_unit)), description="all ROIs")
        container = (Fluorescence if quantity == "fluorescence" else DfOverF)(name=_OPHYS[quantity])
        module.add(container)
        container.create_roi_response_series(
            name="RoiResponseSeries",
            data=data,
            rois=rois,
            unit="a.u." if quantity == "fluorescence" else "dF/F",
            description=f"{quantity} of each ROI, one sample per bin ({bin_size_s} s) per trial",
            **timing,
        )
        return f"processing/ophys/{_OPHYS[quantity]}/RoiResponseSeries"
    module = nwbfile.create_processing_module(
        name="misc", description="population activity, one sample per bin per trial"
    )
    module.add(
        TimeSeries(
            name=quantity,
            data=data,
            unit="Hz" if quantity == "rate_hz" else "a.u.",
            description=f"{quantity} of each unit, one sample per bin ({bin_size_s} s) per trial",
            **timing,
        )
    )
    return f"processing/misc/{quantity}"
