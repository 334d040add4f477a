"""Files written whole or not at all, and the one JSON encoding of neurogeom's metadata.

Every file neurogeom writes (result stores, NWB files, checkpoints, run specs, metrics, benchmark
figures) goes through :func:`replace_atomic` (or :func:`write_atomic` for bytes and text): it is
written under a temporary name in its destination folder, flushed to disk, and renamed over the
destination, so a reader sees the old file or the new one, never half of one, and a run killed while
writing leaves no temporary file behind. Folders (zarr stores) go through :func:`replace_dir_atomic`.

Metadata stored as JSON (file attributes, NWB ``notes``, checkpoint metadata, run specs, benchmark
results) is encoded by :func:`to_json`, which turns numpy scalars and arrays into plain numbers and
lists, datetimes into ISO 8601 strings, and anything else into its ``str``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["write_atomic", "replace_atomic", "replace_dir_atomic", "json_default", "to_json"]

PathLike = str | os.PathLike


def _temporary_name(path: Path) -> Path:
    """A fresh name beside ``path`` (same folder, so the final rename stays on one file system),
    keeping its suffix for writers that look at it."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (where the platform allows opening folders)."""
    try:
        _fsync(folder)
    except OSError:  # e.g. Windows cannot open a folder
        pass


def replace_atomic(path: PathLike, write: Callable[[Path], Any]) -> Path:
    """Create ``path`` through ``write(tmp)``, which must create the new file ``tmp``, atomically.

    Parameters
    ----------
    path : path
        Destination file; its folder must exist. An existing file is replaced.
    write : callable
        Called with a temporary path in the destination folder; writes the whole file there.

    Returns
    -------
    pathlib.Path
        ``path``.

    Notes
    -----
    The temporary file is flushed to disk (``fsync``) before it is renamed over ``path``
    (``os.replace``), and removed if ``write`` or the rename fails.
    """
    path = Path(path)
    tmp = _temporary_name(path)
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def write_atomic(path: PathLike, data: bytes | str) -> Path:
    """Replace ``path`` atomically by a file holding ``data`` (``str`` is written as UTF-8).

    Parameters
    ----------
    path : path
        Destination file; its folder must exist.
    data : bytes or str
        The whole content.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    elif not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"write_atomic writes bytes or str; got {type(data).__name__}.")

    def write(tmp: Path) -> None:
        with open(tmp, "xb") as f:
            f.write(data)

    return replace_atomic(path, write)


def replace_dir_atomic(path: PathLike, write: Callable[[Path], Any]) -> Path:
    """Create the folder ``path`` through ``write(tmp)``, which must create the folder ``tmp``.

    The new folder is built under a temporary name beside ``path``; then an existing ``path`` is
    moved aside and the new folder renamed into place, and the old one deleted. Readers never see
    a half-written folder under ``path``; only a crash between the two renames leaves ``path``
    missing (the old folder then stays in the hidden ``.<name>.*.tmp`` folder beside it).

    Parameters
    ----------
    path : path
        Destination folder; its parent must exist.
    write : callable
        Called with a temporary path (which does not exist yet) in the destination's parent.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    path = Path(path)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        new = work / path.name
        write(new)
        if path.exists():
            os.replace(path, work / "old")  # move the old folder aside, then the new one in
        os.replace(new, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _fsync_folder(path.parent)
    return path


def json_default(obj: Any) -> Any:
    """The JSON form of what :mod:`json` cannot encode itself (``default=`` of ``json.dumps``).

    numpy scalars become Python numbers, arrays lists, dates and datetimes ISO 8601 strings, and
    anything else (paths, ...) its ``str``.
    """
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    return str(obj)


def to_json(obj: Any, **kwargs: Any) -> str:
    """``json.dumps(obj, default=json_default, **kwargs)``: neurogeom's one JSON encoding."""
    return json.dumps(obj, default=json_default, **kwargs)
