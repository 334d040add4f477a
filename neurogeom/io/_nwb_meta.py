"""The metadata :func:`neurogeom.write_nwb` stores in an NWB file, and how :func:`read_nwb` reads it.

NWB has no place for some parts of a population tensor (the exact time coord, non-integer unit ids,
the attrs, a ``stage`` dim stacked into the trials table), so the writer keeps them in a JSON blob in
``NWBFile.notes`` under the key ``"neurogeom"``; the reader restores them. This module is the one
place that defines the blob: its fields, its encoding and its decoding.

Fields (``version`` 1)
----------------------
``align``, ``window_s``, ``bin_size_s``, ``time`` (bin centres, s), ``quantity``,
``trial_columns`` ({trials-table column: coord name}), ``attrs`` (the tensor's other attrs), and
where they apply: ``stage`` ({"column", "n_stage", "coords": {coord: column}}), ``unit_id_column``
(units-table column holding non-integer unit ids), ``series`` (path of the written series),
``unit`` and ``unit_coords`` (unit ids and coords of a written series).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._files import to_json

__all__ = ["META_KEY", "UNIT_ID_COLUMN", "make_meta", "write_meta", "read_meta", "restore_meta"]

#: key of the JSON blob stored in ``NWBFile.notes``
META_KEY = "neurogeom"
#: units-table column holding non-integer unit ids
UNIT_ID_COLUMN = "unit_name"
VERSION = 1
#: attrs stored in their own fields (or, for ``source`` / ``session``, set by the reader)
_OWN_FIELDS = ("quantity", "bin_size_s", "align", "source", "session", "window_s")


def make_meta(
    pop: xr.DataArray,
    *,
    align: str,
    window_s: tuple[float, float],
    bin_size_s: float,
    time: np.ndarray,
    trial_columns: Mapping[str, str],
    stage: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The blob's fields for ``pop`` (the writer adds ``unit_id_column`` or the series fields)."""
    meta: dict[str, Any] = {
        "version": VERSION,
        "align": align,
        "window_s": [float(window_s[0]), float(window_s[1])],
        "bin_size_s": float(bin_size_s),
        "time": np.asarray(time, dtype=np.float64).tolist(),
        "quantity": pop.attrs["quantity"],
        "trial_columns": dict(trial_columns),
        "attrs": {k: v for k, v in pop.attrs.items() if k not in _OWN_FIELDS},
    }
    if stage:
        meta["stage"] = dict(stage)
    return meta


def write_meta(nwbfile: Any, meta: Mapping[str, Any]) -> None:
    """Store ``meta`` in ``nwbfile.notes``."""
    nwbfile.notes = to_json({META_KEY: dict(meta)})


def read_meta(nwbfile: Any) -> dict[str, Any]:
    """The blob :func:`write_meta` stored (empty for a file that neurogeom did not write)."""
    notes = getattr(nwbfile, "notes", None)
    if not notes:
        return {}
    try:
        blob = json.loads(notes)
    except (TypeError, ValueError):
        return {}
    meta = blob.get(META_KEY, {}) if isinstance(blob, dict) else {}
    return meta if isinstance(meta, dict) else {}


def restore_meta(
    meta: Mapping[str, Any],
    *,
    from_series: bool,
    unit_ids: np.ndarray,
    unit_coords: dict[str, np.ndarray],
    time: np.ndarray,
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Unit ids, unit coords and time coord as written, where the blob records them.

    Spike files keep non-integer ids in the ``unit_id_column`` of the units table; series files
    keep ids and coords in the blob. The time coord is taken from the blob when it matches the
    bins read (same count, same values up to rounding).
    """
    unit_coords = dict(unit_coords)
    id_column = meta.get("unit_id_column")
    if not from_series and id_column in unit_coords:
        unit_ids = unit_coords.pop(id_column)
    if from_series and meta.get("unit") and len(meta["unit"]) == len(unit_ids):
        unit_ids = np.asarray(meta["unit"])
        for name, vec in meta.get("unit_coords", {}).items():
            unit_coords[name] = np.asarray(vec)
    written = meta.get("time")
    if written and len(written) == time.size and np.allclose(written, time):
        time = np.asarray(written, dtype=np.float64)
    return unit_ids, unit_coords, time
