"""Open NWB files read-only, turning every way a file can be unreadable into one clear error.

A missing path, a folder, a file that is not HDF5, a truncated or corrupted file, and a table
whose columns disagree in length each raise an error that names the problem and the fix. Files
are only ever opened with mode ``"r"``.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["open_nwb", "table_length_problems"]

_DAMAGED = "the file is truncated or corrupted: copy or download it again."
_MAX_DETAIL = 300  # characters of a low-level error message kept in ours


def _detail(exc: BaseException) -> str:
    """A short description of a low-level read error.

    hdmf's ``ConstructError`` carries the whole builder (pages of text) and the reason last;
    keep the object's path and the reason.
    """
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[1], str) and hasattr(args[0], "path"):
        text = f"{args[0].path}: {args[1]}"
    else:
        text = str(exc)
    text = " ".join(text.split())
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 3] + "..."
    return f"{type(exc).__name__}: {text}"


def table_length_problems(path: str | os.PathLike) -> list[str]:
    """Columns of the file's tables whose length differs from the table's number of rows.

    Looks at every ``DynamicTable`` group of the file (trials, units, electrodes, ...): a column
    needs one value per row (per ``id``), or for a ragged column one index entry per row.

    Parameters
    ----------
    path : path
        An HDF5 file, opened read-only.

    Returns
    -------
    list of str
        One sentence per faulty column, e.g. ``"in 'intervals/trials', column 'side' has 7
        values but the table has 10 rows"``; empty when every table is consistent.
    """
    import h5py

    problems: list[str] = []

    def visit(name: str, obj: Any) -> None:
        if not isinstance(obj, h5py.Group) or "colnames" not in obj.attrs or "id" not in obj:
            return
        n_rows = obj["id"].shape[0]
        for col in obj.attrs["colnames"]:
            col = col.decode() if isinstance(col, bytes) else str(col)
            target = f"{col}_index" if f"{col}_index" in obj else col
            if target not in obj or not isinstance(obj[target], h5py.Dataset):
                continue
            shape = obj[target].shape
            n = shape[0] if shape else 1
            if n != n_rows:
                what = "index entries" if target != col else "values"
                problems.append(
                    f"in {name!r}, column {col!r} has {n} {what} but the table has {n_rows} rows"
                )

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return problems


@contextlib.contextmanager
def open_nwb(path: str | os.PathLike) -> Iterator[Any]:
    """Open an NWB (HDF5) file read-only and yield the ``pynwb.NWBFile``.

    Parameters
    ----------
    path : path
        The ``.nwb`` file.

    Yields
    ------
    pynwb.NWBFile
        Valid inside the ``with`` block; the file is closed on exit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If ``path`` is a folder, not HDF5, truncated or corrupted (also when the damage shows
        only while data are read inside the block), or holds a table whose columns have the
        wrong length (the message names the table and column).
    """
    import h5py
    from pynwb import NWBHDF5IO

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"NWB file not found: {str(path)!r}. Check the path.")
    if path.is_dir():
        raise ValueError(
            f"{str(path)!r} is a folder, not an NWB file; read_nwb reads HDF5 NWB files (*.nwb)."
        )
    if not h5py.is_hdf5(path):
        raise ValueError(
            f"{str(path)!r} is not an HDF5 file, so not an NWB file neurogeom can read. "
            "Give the path of an .nwb (HDF5) file; arrays load with neurogeom.from_array."
        )
    try:
        io = NWBHDF5IO(str(path), mode="r", load_namespaces=True)
    except Exception as exc:  # h5py / hdmf raise OSError, KeyError, RuntimeError on damage
        raise ValueError(
            f"{str(path)!r} cannot be opened as HDF5 ({_detail(exc)}); {_DAMAGED}"
        ) from None
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # schema-version chatter from old files
                nwbfile = io.read()
        except Exception as exc:  # hdmf raises many types on damaged files
            try:
                problems = table_length_problems(path)
            except Exception:  # the diagnosis is a courtesy: never mask the first error
                problems = []
            if problems:
                raise ValueError(
                    f"{str(path)!r} is not valid NWB: {'; '.join(problems)}. Every column needs "
                    "one value per row: rewrite the table with pynwb (or ask the file's author "
                    "to), or remove the faulty column."
                ) from None
            raise ValueError(
                f"{str(path)!r} could not be read as NWB ({_detail(exc)}); {_DAMAGED}"
            ) from None
        try:
            yield nwbfile
        except (OSError, RuntimeError) as exc:  # datasets are read lazily: damage shows late
            raise ValueError(
                f"{str(path)!r}: reading its data failed ({_detail(exc)}); {_DAMAGED}"
            ) from None
    finally:
        io.close()
