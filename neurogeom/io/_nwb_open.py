"""Open NWB files read-only, turning every way a file can be unreadable into one clear error.

A missing path, a folder, a file that is not HDF5, an HDF5 file that is not NWB (a netCDF
tensor, a plain HDF5 file), a file locked by another process, a truncated or corrupted file, and
a table whose columns disagree in length each raise an error that names the problem and the fix.
Files are only ever opened with mode ``"r"``; ``http(s)://`` URLs are read lazily
(``neurogeom.io._remote``).

A damaged file can crash the HDF5 library itself (a segmentation fault inside h5py), which no
Python code can catch in the process it happens in. :func:`probe_hdf5` therefore reads the
file's whole structure (every group, attribute and small dataset) in a child process first; a
crash there becomes one clear error. The ``neurogeom`` commands that open files (``info``,
``load``, ``capacity``) call it; in Python, call it before :func:`neurogeom.read_nwb` on files
you do not trust.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neurogeom.io._remote import is_url, open_remote, resolve_url

__all__ = [
    "open_nwb",
    "open_nwb_h5",
    "probe_hdf5",
    "table_length_problems",
    "hdf5_kind",
    "is_locked",
    "LOCKED",
]

_DAMAGED = "the file is truncated or corrupted: copy or download it again."
#: the rest of the message for a file another process holds the lock of
LOCKED = (
    "is locked by another process (a program has it open for writing, e.g. a recording or an "
    "open h5py / pynwb session): close that program or wait until it has finished, then retry; "
    "to read it while it is being written, set the environment variable "
    "HDF5_USE_FILE_LOCKING=FALSE (at your own risk)."
)
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


_TABLES = {"intervals/trials": "trials table", "units": "units table"}


def _damaged_part(exc: BaseException) -> str:
    """Which part of the file an hdmf read error names, as words (empty when it names none)."""

    match = re.search(r"root/([\w./-]+)", _detail(exc))
    if not match:
        return ""
    part = match.group(1).rstrip(".:")
    for prefix, words in _TABLES.items():
        if part == prefix or part.startswith(prefix + "/"):
            return f"its {words} ({prefix}) is damaged: "
    return f"the object {part!r} is damaged: "


def table_length_problems(path: str | os.PathLike | Any) -> list[str]:
    """Columns of the file's tables whose length differs from the table's number of rows.

    Looks at every ``DynamicTable`` group of the file (trials, units, electrodes, ...): a column
    needs one value per row (per ``id``), or for a ragged column one index entry per row.

    Parameters
    ----------
    path : path or h5py.File
        An HDF5 file, opened read-only (or an open ``h5py.File``).

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

    if isinstance(path, h5py.File):
        path.visititems(visit)
    else:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    return problems


def is_locked(exc: BaseException) -> bool:
    """Whether an h5py open failed because another process holds the file's lock."""
    text = str(exc).lower()
    return "unable to lock file" in text or isinstance(exc, BlockingIOError)


def hdf5_kind(h5file: Any) -> str:
    """What an open HDF5 file holds: ``"nwb"``, ``"netcdf"`` or ``"hdf5"`` (anything else).

    NWB files carry an ``nwb_version`` attribute at the root; netCDF-4 files (what
    :func:`neurogeom.save` and xarray write) carry ``_NCProperties`` or neurogeom's
    ``neurogeom_object`` attribute, or dimension scales.
    """
    attrs = h5file.attrs
    if "nwb_version" in attrs or attrs.get("neurodata_type") in ("NWBFile", b"NWBFile"):
        return "nwb"
    if "_NCProperties" in attrs or "neurogeom_object" in attrs:
        return "netcdf"
    for name in list(h5file.keys())[:50]:
        try:
            if h5file[name].attrs.get("CLASS") in (b"DIMENSION_SCALE", "DIMENSION_SCALE"):
                return "netcdf"
        except Exception:  # a damaged member: the kind is decided by the root
            continue
    return "hdf5"


def _not_nwb(where: str, kind: str, h5file: Any) -> ValueError:
    if kind == "netcdf":
        return ValueError(
            f"{where!r} is a netCDF file (a population tensor or result Dataset as written by "
            "neurogeom.save / xarray), not an NWB file: open it with neurogeom.load(path) in "
            "Python, or give it to `neurogeom capacity`; `neurogeom info` and read_nwb read NWB "
            "recordings."
        )
    names = sorted(h5file.keys())[:8]
    return ValueError(
        f"{where!r} is an HDF5 file but not an NWB file (no nwb_version attribute; it holds "
        f"{names}): read_nwb and `neurogeom info` read NWB recordings. Load a plain array with "
        "neurogeom.from_array(h5py.File(path)['<dataset>'][...], dims=(...)), or convert the "
        "recording to NWB (e.g. with neuroconv)."
    )


def _open_local_h5(path: Path) -> Any:
    import h5py

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
        return h5py.File(path, "r")
    except Exception as exc:  # h5py raises OSError, KeyError, RuntimeError on damage
        if is_locked(exc):
            raise ValueError(f"{str(path)!r} {LOCKED}") from None
        raise ValueError(
            f"{str(path)!r} cannot be opened as HDF5 ({_detail(exc)}); {_DAMAGED}"
        ) from None


def _open_remote_h5(url: str) -> tuple[Any, str]:
    import h5py

    remote = resolve_url(url)
    fileobj = open_remote(remote)
    try:
        # no chunk cache: HDF5 then reads a slice of an uncompressed chunk directly instead of
        # the whole chunk (pynwb writes a dataset as one chunk), so a few units fetch only
        # their own spike times; remfile keeps the fetched bytes
        return h5py.File(fileobj, "r", rdcc_nbytes=0), remote.name
    except Exception as exc:
        if "signature" in str(exc).lower():
            raise ValueError(
                f"{url!r} does not serve an HDF5 file (its first bytes are not an HDF5 "
                "signature), so not an NWB file neurogeom can read; check the URL."
            ) from None
        raise ValueError(
            f"{url!r} cannot be read as HDF5 ({_detail(exc)}); the remote file is truncated or "
            "corrupted, or the server sent other bytes than the file's."
        ) from None


@contextlib.contextmanager
def open_nwb_h5(source: str | os.PathLike) -> Iterator[tuple[Any, Any, str]]:
    """Open an NWB file (a path or an ``http(s)://`` URL) read-only.

    Parameters
    ----------
    source : path or str
        A local ``.nwb`` file, or a URL read lazily (only the byte ranges read are fetched).

    Yields
    ------
    nwbfile : pynwb.NWBFile
    h5file : h5py.File
        The same file at the HDF5 level (for checks the NWB objects cannot make).
    name : str
        The file's name (for a URL: from the server's ``Content-Disposition``, else the URL).

    Raises
    ------
    FileNotFoundError
        If a local path does not exist.
    ValueError
        If the source is a folder, not HDF5, an HDF5 file that is not NWB, locked by another
        process, unreachable, truncated or corrupted (also when the damage shows only while data
        are read inside the block), or holds a table whose columns have the wrong length.
    """
    from pynwb import NWBHDF5IO

    if is_url(source):
        where = str(source)
        h5file, name = _open_remote_h5(where)
    else:
        path = Path(source)
        where, name = str(path), path.name
        h5file = _open_local_h5(path)
    try:
        try:
            kind = hdf5_kind(h5file)
        except Exception as exc:
            raise ValueError(
                f"{where!r}: its root cannot be read ({_detail(exc)}); {_DAMAGED}"
            ) from None
        if kind != "nwb":
            raise _not_nwb(where, kind, h5file)
        try:
            io = NWBHDF5IO(file=h5file, mode="r", load_namespaces=True)
        except Exception as exc:
            raise ValueError(
                f"{where!r} cannot be opened as NWB ({_detail(exc)}); {_DAMAGED}"
            ) from None
        try:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # schema-version chatter from old files
                    nwbfile = io.read()
            except Exception as exc:  # hdmf raises many types on damaged files
                try:
                    problems = table_length_problems(h5file)
                except Exception:  # the diagnosis is a courtesy: never mask the first error
                    problems = []
                if problems:
                    raise ValueError(
                        f"{where!r} is not valid NWB: {'; '.join(problems)}. Every column needs "
                        "one value per row: rewrite the table with pynwb (or ask the file's "
                        "author to), or remove the faulty column."
                    ) from None
                raise ValueError(
                    f"{where!r} could not be read as NWB ({_damaged_part(exc)}{_detail(exc)}); "
                    f"{_DAMAGED}"
                ) from None
            try:
                yield nwbfile, h5file, name
            except (OSError, RuntimeError, UnicodeDecodeError) as exc:
                # datasets are read lazily: damage shows late
                raise ValueError(
                    f"{where!r}: reading its data failed ({_detail(exc)}); {_DAMAGED}"
                ) from None
        finally:
            io.close()
    finally:
        h5file.close()


@contextlib.contextmanager
def open_nwb(path: str | os.PathLike) -> Iterator[Any]:
    """Open an NWB (HDF5) file read-only and yield the ``pynwb.NWBFile``.

    Parameters
    ----------
    path : path or str
        The ``.nwb`` file, or an ``http(s)://`` URL of one (read lazily).

    Yields
    ------
    pynwb.NWBFile
        Valid inside the ``with`` block; the file is closed on exit.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        As :func:`open_nwb_h5`.

    See Also
    --------
    open_nwb_h5 : the same, also yielding the ``h5py.File`` and the file's name.
    probe_hdf5 : read an untrusted file's structure in a child process first.
    """
    with open_nwb_h5(path) as (nwbfile, _, _):
        yield nwbfile


# ---- reading untrusted files in a child process ----------------------------------------------

#: the child's program: walk every object, read every attribute and every small dataset (and
#: one element of the large ones), dereference object references; Python errors are skipped
#: (the parent's own open reports them), only a crash of the library matters
_PROBE = r"""
import sys
import h5py

SMALL = 1 << 20
seen = set()
budget = [200000]

def touch_attrs(obj, f):
    for key in list(obj.attrs.keys()):
        try:
            value = obj.attrs[key]
        except Exception:
            continue
        if isinstance(value, h5py.Reference) and value:
            try:
                f[value]
            except Exception:
                pass

def touch_dataset(ds, f):
    if ds.shape is None:
        return
    if ds.size * max(ds.dtype.itemsize, 1) <= SMALL:
        values = ds[()]
    elif ds.ndim and ds.shape[0]:
        values = ds[:1]
        ds[ds.shape[0] - 1 : ds.shape[0]]
    else:
        return
    if ds.dtype.kind == "O" and ds.dtype.metadata and "ref" in ds.dtype.metadata:
        for ref in values.ravel()[:16]:
            if ref:
                try:
                    f[ref]
                except Exception:
                    pass

def walk(group, f):
    for key in list(group.keys()):
        budget[0] -= 1
        if budget[0] < 0:
            return
        try:
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                continue
            obj = group[key]
            ident = hash(obj.id)
        except Exception:
            continue
        if ident in seen:
            continue
        seen.add(ident)
        try:
            touch_attrs(obj, f)
        except Exception:
            pass
        if isinstance(obj, h5py.Dataset):
            try:
                touch_dataset(obj, f)
            except Exception:
                pass
        elif isinstance(obj, h5py.Group):
            walk(obj, f)

with h5py.File(sys.argv[1], "r") as f:
    try:
        touch_attrs(f, f)
    except Exception:
        pass
    walk(f, f)
"""

#: seconds the child may take before the file is reported as unreadable
PROBE_TIMEOUT_S = 300.0


def probe_hdf5(path: str | os.PathLike, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Read an HDF5 file's whole structure in a child process; raise if that crashes.

    Every group, attribute and small dataset (<= 1 MiB; one element of larger ones) is read by
    h5py in a separate Python process. A damaged file that crashes the HDF5 library
    (segmentation fault, abort) then ends that process, not this one, and becomes one clear
    error. Ordinary read errors in the child are ignored: opening the file in this process
    reports them with their own message. Costs one Python start plus the walk (well under a
    second for a typical NWB file); URLs, missing paths and non-HDF5 files are left to the
    ordinary open.

    Parameters
    ----------
    path : path
        A local HDF5 file (``.nwb``, ``.nc``, ``.h5``).
    timeout_s : float, default=300
        Longest the walk may take.

    Raises
    ------
    ValueError
        If the child crashed (the message names the signal) or did not finish in ``timeout_s``.

    Examples
    --------
    >>> from neurogeom.data import sample_nwb
    >>> probe_hdf5(sample_nwb("early"))  # returns None: the file is safe to open
    """
    if is_url(path):
        return
    path = Path(path)
    if not path.is_file():
        return
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return
    if head != b"\x89HDF\r\n\x1a\n" and not _hdf5_signature_later(path):
        return
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, str(path)],
            capture_output=True,
            timeout=timeout_s,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ValueError(
            f"{str(path)!r}: reading its HDF5 structure did not finish in {timeout_s:.0f} s, "
            f"so the file is most likely damaged (looping metadata); {_DAMAGED}"
        ) from None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        raise ValueError(
            f"{str(path)!r} is damaged: reading its HDF5 structure crashed the HDF5 library "
            f"({name}, in a child process, so nothing else was affected); copy or download the "
            "file again."
        )


def _hdf5_signature_later(path: Path) -> bool:
    """HDF5 files may start with a user block: the signature then sits at 512, 1024, ..."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            offset = 512
            while offset < min(size, 1 << 20):
                fh.seek(offset)
                if fh.read(8) == b"\x89HDF\r\n\x1a\n":
                    return True
                offset *= 2
    except OSError:
        return False
    return False
