"""Save and load population tensors and result Datasets (netCDF via h5netcdf, or zarr).

Writes are atomic: the object is written under a temporary name in the destination folder and
renamed into place, so an interrupted run never leaves a half-written result under the real name.
Provenance (neurogeom version, creation time, source) is stored as file attributes and comes back
in ``obj.encoding["provenance"]`` (see :func:`read_provenance`).

netCDF cannot hold boolean or ``None`` attributes, nor nested ones: such attrs are stored as JSON
strings with a marker prefix and decoded on load, so attrs round-trip unchanged in both formats.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr

from neurogeom._files import replace_atomic, replace_dir_atomic, to_json
from neurogeom._version import __version__
from neurogeom.io._nwb_open import LOCKED, is_locked

__all__ = ["save", "load", "read_provenance"]

Format = Literal["netcdf", "zarr"]
_JSON = "__json__:"
_KIND = "neurogeom_object"  # "DataArray" or "Dataset"
_NAME = "neurogeom_dataarray_name"
_PROVENANCE = ("neurogeom_version", "created_utc", "provenance_source")


def _format_of(path: Path, format: str | None) -> Format:
    if format is not None:
        fmt = {"nc": "netcdf", "netcdf": "netcdf", "netcdf4": "netcdf", "zarr": "zarr"}.get(
            format.lower()
        )
        if fmt is None:
            raise ValueError(f"unknown format {format!r}; use 'netcdf' (.nc) or 'zarr' (.zarr).")
        return fmt  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix in (".nc", ".nc4", ".h5", ".netcdf"):
        return "netcdf"
    if suffix == ".zarr":
        return "zarr"
    raise ValueError(
        f"cannot tell the format of {str(path)!r} from its suffix; name it *.nc (netCDF) or "
        "*.zarr, or pass format='netcdf' / 'zarr'."
    )


def _encode_attr(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool) or value is None or isinstance(value, dict | list | tuple):
        return _JSON + to_json(value)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "biuf" and value.dtype != bool:
            return value
        return _JSON + to_json(value.tolist())
    if isinstance(value, str | int | float):
        return value
    return _JSON + to_json(value)


def _decode_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, str) and value.startswith(_JSON):
        return json.loads(value[len(_JSON) :])
    if isinstance(value, np.generic):
        return value.item()
    return value


def _map_attrs(ds: xr.Dataset, fn: Any) -> xr.Dataset:
    ds = ds.copy()
    ds.attrs = {k: fn(v) for k, v in ds.attrs.items()}
    for name in ds.variables:
        ds[name].attrs = {k: fn(v) for k, v in ds[name].attrs.items()}
    return ds


def _plain_coords(ds: xr.Dataset) -> xr.Dataset:
    """Object-dtype variables of strings -> fixed unicode, so every backend can store them."""
    fixes = {}
    for name, var in ds.variables.items():
        if var.dtype.kind == "T":  # numpy's variable-length StringDType (from zarr)
            fixes[name] = var.copy(data=np.array(var.values.tolist(), dtype=str))
        elif var.dtype == object:
            vals = var.values
            if all(isinstance(v, str) for v in vals.ravel()):
                fixes[name] = var.copy(data=vals.astype(str))
            else:
                raise TypeError(
                    f"variable {name!r} holds Python objects of mixed types; convert it to "
                    "numbers or strings before saving."
                )
    for name, var in fixes.items():
        if name in ds.coords:
            ds = ds.assign_coords({name: var})
        else:
            ds[name] = var
    return ds


def _map_string_vars(ds: xr.Dataset, fn: Any) -> xr.Dataset:
    for name in list(ds.variables):
        var = ds.variables[name]
        new = var.copy(data=fn(var.values))
        if new.dtype != var.dtype:
            if name in ds.coords:
                ds = ds.assign_coords({name: new})
            else:
                ds[name] = new
    return ds


def save(
    obj: xr.DataArray | xr.Dataset,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    source: str | None = None,
    overwrite: bool = True,
) -> Path:
    """Save a population tensor or a result Dataset atomically, with provenance.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        What to store. Bool and string coords, and bool / None / list / dict attrs, round-trip.
    path : path
        Destination: ``*.nc`` (netCDF4 through h5netcdf) or ``*.zarr`` (a zarr store folder).
        Missing parent folders are created.
    format : {"netcdf", "zarr"}, optional
        Overrides the suffix.
    source : str, optional
        Provenance: what the object was computed from (default ``obj.attrs["source"]``).
    overwrite : bool, default=True
        Replace an existing file or store; with False an existing path is an error.

    Returns
    -------
    pathlib.Path
        The written path.

    See Also
    --------
    load : Read it back.
    neurogeom.io.read_provenance : The provenance attrs of a stored file.

    Examples
    --------
    >>> from neurogeom.population import make_population
    >>> pop = make_population(np.ones((4, 2)), dims=("trial", "unit"), quantity="rate_hz",
    ...                       trial_coords={"choice": [0, 1, 0, 1]})
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save(pop, f"{tmp.name}/pop.nc")
    >>> path.name
    'pop.nc'
    >>> load(path).equals(pop)
    True
    >>> tmp.cleanup()
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset):
        raise TypeError(
            f"save stores an xarray.DataArray or Dataset; got {type(obj).__name__}. "
            "Build a tensor with neurogeom.from_array first."
        )
    path = Path(path)
    fmt = _format_of(path, format)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{str(path)!r} exists; pass overwrite=True to replace it.")
    if path.parent.exists() and not path.parent.is_dir():
        raise NotADirectoryError(
            f"{str(path.parent)!r} is a file, not a folder; choose a path inside a folder."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(obj, xr.DataArray):
        name = obj.name if obj.name is not None else "population"
        ds = obj.to_dataset(name=str(name), promote_attrs=False)
        ds.attrs = {_KIND: "DataArray", _NAME: str(name)}
    else:
        ds = obj.copy()
        ds.attrs = {**obj.attrs, _KIND: "Dataset"}
    ds.attrs.update(
        neurogeom_version=__version__,
        created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        provenance_source=str(source or obj.attrs.get("source") or "unknown"),
    )
    ds = _map_attrs(_plain_coords(ds), _encode_attr)
    for var in ds.variables.values():
        var.encoding = {}

    if fmt == "zarr":  # variable-length strings: the string dtype zarr v3 specifies
        ds = _map_string_vars(ds, lambda v: v.astype(object) if v.dtype.kind == "U" else v)
    if fmt == "netcdf":
        replace_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
    else:
        replace_dir_atomic(path, lambda tmp: ds.to_zarr(tmp, mode="w", consolidated=False))
    return path


def _refuse_nwb(path: Path) -> None:
    """An NWB recording (whatever its suffix) is not a stored tensor: say what to run."""
    import h5py

    if not path.is_file():
        return
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                return
        with h5py.File(path, "r") as f:
            version = f.attrs.get("nwb_version")
    except OSError as exc:
        if is_locked(exc):
            raise ValueError(f"{str(path)!r} {LOCKED}") from None
        return  # the ordinary open reports it
    if version is not None:
        raise ValueError(
            f"{str(path)!r} is an NWB recording, not a stored population tensor: bin it first "
            f"with `neurogeom load {str(path)!r} --window START STOP --bin SIZE -o tensor.nc` "
            "(or neurogeom.read_nwb in Python), then use tensor.nc."
        )


def _open(path: Path, format: str | None) -> xr.Dataset:
    if not path.exists():
        raise FileNotFoundError(f"no stored result at {str(path)!r}. Check the path.")
    _refuse_nwb(path)  # also an NWB file named *.nc (or with no known suffix)
    fmt = _format_of(path, format)
    try:
        if fmt == "netcdf":
            ds = xr.open_dataset(path, engine="h5netcdf")
        else:
            ds = xr.open_zarr(path, consolidated=False)
        return ds.load()
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(
            f"{str(path)!r} is not a readable {fmt} store ({type(exc).__name__}: {exc}); load "
            "files written by neurogeom.save (or xarray), or check that the copy is complete."
        ) from None


def load(path: str | os.PathLike, *, format: str | None = None) -> xr.DataArray | xr.Dataset:
    """Load what :func:`save` stored: the same DataArray or Dataset, with its attrs.

    Parameters
    ----------
    path : path
        A ``*.nc`` file or ``*.zarr`` store.
    format : {"netcdf", "zarr"}, optional
        Overrides the suffix.

    Returns
    -------
    xarray.DataArray or xarray.Dataset
        Loaded into memory (the file is closed). Provenance is in ``obj.encoding["provenance"]``.

    See Also
    --------
    save : Store a tensor or result.
    neurogeom.io.read_provenance : Only the provenance attrs.

    Examples
    --------
    >>> from neurogeom.population import make_population
    >>> pop = make_population(np.ones((4, 2)), dims=("trial", "unit"), quantity="rate_hz",
    ...                       trial_coords={"choice": [0, 1, 0, 1]})
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> back = load(save(pop, f"{tmp.name}/pop.zarr"))
    >>> back.dims, back.attrs["quantity"]
    (('trial', 'unit'), 'rate_hz')
    >>> tmp.cleanup()
    """
    path = Path(path)
    with _open(path, format) as ds:
        ds = _map_attrs(_plain_coords(ds), _decode_attr)
    provenance = {k: ds.attrs.pop(k) for k in _PROVENANCE if k in ds.attrs}
    kind = ds.attrs.pop(_KIND, "Dataset")
    name = ds.attrs.pop(_NAME, None)
    for var in ds.variables.values():
        var.encoding = {}
    if kind == "DataArray":
        if name is None:
            name = next(iter(ds.data_vars))
        obj: xr.DataArray | xr.Dataset = ds[name]
    else:
        obj = ds
    obj.encoding["provenance"] = provenance
    obj.encoding["source"] = str(path)
    return obj


def _written_by_neurogeom(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file or zarr store that :func:`save` (or a sweep) wrote."""
    path = Path(path)
    try:
        if path.is_dir():
            meta = path / "zarr.json"
            if not meta.is_file():
                return False
            attrs = json.loads(meta.read_text()).get("attributes", {})
            return "neurogeom_version" in attrs or "neurogeom_object" in attrs
        import h5py

        with h5py.File(path, "r") as f:
            return "neurogeom_version" in f.attrs
    except (OSError, ValueError):
        return False


def read_provenance(path: str | os.PathLike, *, format: str | None = None) -> dict[str, Any]:
    """Provenance attributes of a stored result: neurogeom version, creation time, source.

    Parameters
    ----------
    path : path
        A ``*.nc`` file or ``*.zarr`` store written by :func:`save`.
    format : {"netcdf", "zarr"}, optional
        Overrides the suffix.

    Returns
    -------
    dict of str to Any
        ``neurogeom_version``, ``created_utc``, ``provenance_source`` and any other
        ``provenance_*`` attrs.

    See Also
    --------
    save : Writes the provenance.
    load : The whole object.

    Examples
    --------
    >>> from neurogeom.population import make_population
    >>> pop = make_population(np.ones((4, 2)), dims=("trial", "unit"), quantity="rate_hz",
    ...                       trial_coords={"choice": [0, 1, 0, 1]})
    >>> import tempfile
    >>> tmp = tempfile.TemporaryDirectory()
    >>> path = save(pop, f"{tmp.name}/pop.nc", source="example")
    >>> read_provenance(path)["provenance_source"]
    'example'
    >>> tmp.cleanup()
    """
    return dict(load(path, format=format).encoding["provenance"])
