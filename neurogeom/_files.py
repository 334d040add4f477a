"""Files written whole or not at all, and the one JSON encoding of neurogeom's metadata.

Every file neurogeom writes (result stores, NWB files, checkpoints, run specs, metrics, benchmark
figures) goes through :func:`replace_atomic` (or :func:`write_atomic` for bytes and text): it is
written under a temporary name in its destination folder, flushed to disk, and renamed over the
destination, so a reader sees the old file or the new one, never half of one. Folders (zarr stores)
go through :func:`replace_dir_atomic`. A temporary name carries the writer's process id: a process
killed while writing leaves its temporary behind, and the next write of the same destination
removes the temporaries of that destination whose writer is no longer running (those of live
processes, and of other destinations, are left alone; process ids are of this machine, and on
Windows no temporary is removed).

:func:`check_output` checks an output path before anything is computed: not one of the inputs,
not a folder where a file goes (or a file where a folder goes), and in a folder that can be
written.

Metadata stored as JSON (file attributes, NWB ``notes``, checkpoint metadata, run specs, benchmark
results) is encoded by :func:`to_json`, which turns numpy scalars and arrays into plain numbers and
lists, datetimes into ISO 8601 strings, and anything else into its ``str``.

:func:`output_lock` lets one writer at a time write an output (a run folder, a store, a file): a
lock file (:mod:`filelock`; ``.neurogeom.lock`` inside a run folder, ``.<name>.lock`` beside a
file or store) and a JSON note beside it (``.lock.json``) naming the holder (process id, command,
start time). A second writer is
refused with :class:`OutputLocked`, which names the holder; a lock left by a process that no
longer runs is taken over (the operating system released it) and said so in ``lock.took_over``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "write_atomic",
    "replace_atomic",
    "replace_dir_atomic",
    "check_output",
    "output_lock",
    "OutputLocked",
    "json_default",
    "to_json",
]

PathLike = str | os.PathLike


def _temporary_name(path: Path) -> Path:
    """A fresh name beside ``path`` (same folder, so the final rename stays on one file system),
    keeping its suffix for writers that look at it."""
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (this process counts as running)."""
    if pid == os.getpid() or os.name == "nt":  # Windows: os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's) or cannot be told: keep its files
    return True


def _remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporaries of ``path`` left by writers that no longer run; the removed paths.

    A file temporary is ``.<name>.<pid>.<8 hex>.tmp<suffix>`` (:func:`_temporary_name`), a folder
    temporary ``.<name>.<pid>.<random>.tmp`` (:func:`replace_dir_atomic`).
    """
    pattern = re.compile(
        re.escape(f".{path.name}.")
        + r"(\d+)\.(?:[0-9a-f]{8}\.tmp"
        + re.escape(path.suffix)
        + r"|[A-Za-z0-9_]+\.tmp)"
    )
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        stale = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(stale)
            else:
                stale.unlink()
        except OSError:
            continue  # removed by another writer meanwhile, or not ours to remove
        removed.append(stale)
    return removed


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
    (``os.replace``), and removed if ``write`` or the rename fails. Temporaries of ``path`` left
    by killed writers (their process id no longer runs) are removed first.
    """
    path = Path(path)
    _remove_stale_temporaries(path)
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
    missing (the old folder then stays in the hidden ``.<name>.<pid>.*.tmp`` folder beside it,
    until the next write of ``path`` removes it).

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
    _remove_stale_temporaries(path)
    work = Path(
        tempfile.mkdtemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    )
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


def _nearest_existing(path: Path) -> Path:
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent


def _same(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output(
    path: PathLike, *, folder: bool = False, inputs: Iterable[PathLike] = (), option: str = "-o"
) -> Path:
    """Check that ``path`` can be written, before anything is computed for it.

    Parameters
    ----------
    path : path
        The output: a file (``*.nc``, ``*.html``, ...), a zarr store (``*.zarr``, a folder
        replaced as a whole) or, with ``folder=True``, a folder written into.
    folder : bool, default=False
        Whether the output is a folder written into (a run folder, a report folder).
    inputs : iterable of paths, optional
        The inputs of the computation: the output may not be one of them.
    option : str, default="-o"
        How the output is named to the user (the command-line option).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        ``path`` is one of ``inputs`` (writing would replace the input by the result), or an
        existing folder that is not a zarr store where a store goes.
    IsADirectoryError, NotADirectoryError
        A folder where a file goes, or a file where a folder goes.
    PermissionError
        The folder it goes in cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> check_output(f"{d}/result.nc").name
    'result.nc'
    """
    path = Path(path)
    for given in inputs:
        if Path(given).absolute() == path.absolute() or _same(Path(given), path):
            raise ValueError(
                f"{option} {str(path)!r} is the input {str(given)!r}: writing the result there "
                "would replace the input; give another output path"
            )
    is_store = path.suffix == ".zarr"
    if path.exists():
        if folder and not path.is_dir():
            raise NotADirectoryError(
                f"{option} {str(path)!r} is a file, but a folder is written there; "
                "give a folder path"
            )
        if not folder and path.is_dir():
            if not is_store:
                raise IsADirectoryError(
                    f"{option} {str(path)!r} is a folder; give a file path such as "
                    f"{str(path / 'result.nc')!r}"
                )
            markers = ("zarr.json", ".zgroup", ".zattrs", ".zarray")
            if any(path.iterdir()) and not any((path / m).exists() for m in markers):
                raise ValueError(
                    f"{option} {str(path)!r} is a folder that is not a zarr store; it would be "
                    "replaced as a whole: give a new path"
                )
    parent = _nearest_existing(path)
    if not parent.is_dir():
        raise NotADirectoryError(
            f"{option} {str(path)!r}: {str(parent)!r} is a file, not a folder; "
            "choose a path inside a folder"
        )
    try:
        fd, probe = tempfile.mkstemp(prefix=".neurogeom-probe.", dir=parent)
    except OSError as exc:
        raise PermissionError(
            f"{option} {str(path)!r}: cannot write in {str(parent)!r} "
            f"({exc.strerror or exc}); choose a folder you can write to"
        ) from None
    os.close(fd)
    os.unlink(probe)
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


# ---- one writer at a time --------------------------------------------------------------------------


class OutputLocked(OSError):
    """Another process is writing the same output (its lock is held); the message names it."""


class HeldLock:
    """What :func:`output_lock` yields: the output, and the note of a stale lock taken over."""

    def __init__(self, path: Path, took_over: str | None = None) -> None:
        self.path, self.took_over = path, took_over


#: Locks this process holds: lock file -> [depth, FileLock, HeldLock] (a nested writer of the
#: same output, e.g. ``neurogeom run`` training a model into its own folder, reuses the lock).
_HELD: dict[str, list[Any]] = {}


def _lock_paths(path: Path, folder: bool) -> tuple[Path, Path]:
    path = Path(path).absolute()
    base = path / ".neurogeom.lock" if folder else path.with_name(f".{path.name}.lock")
    return base, base.with_name(base.name + ".json")


def _command_line() -> str:
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("__main__.py", "-c", ""):
        name = "python"
    return " ".join([name, *sys.argv[1:]])[:300]


def _holder(note: Path) -> dict[str, Any]:
    try:
        info = json.loads(note.read_text())
        return info if isinstance(info, dict) else {}
    except (OSError, ValueError):
        return {}


def _describe(info: Mapping[str, Any]) -> str:
    if not info:
        return "another process (no note of which)"
    return (
        f"process {info.get('pid', '?')} ({info.get('command', '?')!s}), "
        f"since {info.get('since', '?')}"
    )


@contextmanager
def output_lock(
    path: PathLike, command: str | None = None, *, folder: bool = False
) -> Iterator[HeldLock]:
    """Hold the write lock of the output ``path`` while the block runs.

    Parameters
    ----------
    path : path
        The output (a folder written into, a store or a file).
    command : str, optional
        What holds it, as the note shows it to a second writer (default: this process's command
        line).
    folder : bool, default=False
        Whether ``path`` is a folder written into (a run folder): the lock ``.neurogeom.lock``
        and its note ``.neurogeom.lock.json`` go inside it (it is created). Otherwise (a file,
        or a store replaced as a whole) they go beside it, as ``.<name>.lock`` and
        ``.<name>.lock.json``. The note is removed on exit.

    Yields
    ------
    HeldLock
        ``took_over`` names the writer of a stale lock taken over (that process no longer runs).

    Raises
    ------
    OutputLocked
        Another process holds the lock; the message names its process id, command and start.
    """
    from filelock import FileLock, Timeout

    path = Path(path)
    lock_file, note = _lock_paths(path, folder)
    key = str(lock_file)
    if key in _HELD:  # this process holds it already: nested writers share it
        _HELD[key][0] += 1
        try:
            yield _HELD[key][2]
        finally:
            _HELD[key][0] -= 1
        return
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_file), thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise OutputLocked(
            f"{str(path)!r} is being written by {_describe(_holder(note))}; wait until it "
            "finishes, or write to another output (one writer at a time)"
        ) from None
    previous = _holder(note)
    took_over = None
    if previous and previous.get("pid") != os.getpid():
        took_over = (
            f"took over the lock of {str(path)!r} left by {_describe(previous)}, which no "
            "longer runs"
        )
    write_atomic(
        note,
        to_json(
            {
                "pid": os.getpid(),
                "command": command or _command_line(),
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        ),
    )
    held = HeldLock(path, took_over)
    _HELD[key] = [1, lock, held]
    try:
        yield held
    finally:
        del _HELD[key]
        note.unlink(missing_ok=True)
        lock.release()  # filelock removes the lock file
