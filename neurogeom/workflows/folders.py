"""Run folders you can trust: each result keyed by exactly what it depends on.

Every result a run writes (``OUT/results/<name>.nc``) records in its attrs (``neurogeom_key``) the
SHA-256 of the spec keys and input files it was computed from (:func:`result_key`). A rerun into
the same folder reuses a result only when its key matches the key the current spec and inputs
give; the others are recomputed and replaced, and :class:`Results` records which were reused,
recomputed (a result was there with another key) and computed. Results are written under a
temporary name and renamed when whole (:func:`neurogeom.io.store.save`), so a run that fails
leaves only whole results, each keyed by what it was computed from: a later run with another spec
or other inputs does not reuse them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from neurogeom._files import to_json
from neurogeom.io.store import load, save

__all__ = ["KEY_ATTR", "Results", "result_key"]

#: The attr of a stored result that holds its key.
KEY_ATTR = "neurogeom_key"


def _file_state(path: Path) -> list[Any]:
    """A file's (name, size, mtime); a folder's, for every file in it (sorted)."""
    path = Path(path)
    if path.is_dir():
        rows = []
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):  # locks, temporaries
                    continue
                p = Path(root) / name
                st = p.stat()
                rows.append([str(p.relative_to(path)), st.st_size, st.st_mtime_ns])
        return [str(path.absolute()), rows]
    if path.exists():
        st = path.stat()
        return [str(path.absolute()), st.st_size, st.st_mtime_ns]
    return [str(path.absolute()), None]


def result_key(spec_part: Mapping[str, Any], inputs: Sequence[str | os.PathLike] = ()) -> str:
    """The key of a result: SHA-256 of the spec keys it depends on and the state of its inputs.

    Parameters
    ----------
    spec_part : mapping
        Exactly the spec keys (and keys of the results it is computed from) the result depends
        on; encoded as canonical JSON (keys sorted).
    inputs : sequence of paths
        Input files or folders: each one's path, size and modification time (a folder's, for
        every file in it) enter the key, so a changed file changes it.

    Returns
    -------
    str
        64 hex digits.

    See Also
    --------
    Results : the results by key.

    Examples
    --------
    >>> key = result_key({"by": "choice", "n_t": 100})
    >>> len(key), key == result_key({"n_t": 100, "by": "choice"}), key == result_key({"by": "x"})
    (64, True, False)
    """
    body = {"spec": spec_part, "inputs": [_file_state(Path(p)) for p in inputs]}
    return hashlib.sha256(to_json(body, sort_keys=True).encode()).hexdigest()


class Results:
    """``folder/<name>.nc`` keyed by what each depends on: reused only when the key matches.

    Parameters
    ----------
    folder : path
        Where the results go (``OUT/results``).
    force : bool, default=False
        Recompute every result, whatever its key.

    Attributes
    ----------
    reused, recomputed, computed : list of str
        The names of the results read back, recomputed over a stored one with another key, and
        computed where none was stored, in the order asked for.

    See Also
    --------
    result_key : the key of one result.
    neurogeom.workflows.run_pipeline : writes the results.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     results = Results(folder)
    ...     key = result_key({"n": 3})
    ...     first = results.get("ones", key, lambda: xr.Dataset({"x": ("i", [1.0, 1.0, 1.0])}))
    ...     again = results.get("ones", key, lambda: 1 / 0)  # stored under this key: not computed
    >>> results.computed, results.reused, again.x.values.tolist()
    (['ones'], ['ones'], [1.0, 1.0, 1.0])
    """

    def __init__(self, folder: Path, force: bool = False) -> None:
        self.folder, self.force = Path(folder), force
        self.reused: list[str] = []
        self.recomputed: list[str] = []
        self.computed: list[str] = []

    def stored_key(self, name: str) -> str | None:
        """The key of the stored result ``name`` (None when there is none, or it is unreadable).

        Parameters
        ----------
        name : str
            The result's name (``<folder>/<name>.nc``).

        Returns
        -------
        str or None
            Its key, as :func:`result_key` made it.

        See Also
        --------
        Results.get : reuse or compute a result.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     results = Results(folder)
        ...     _ = results.get("ones", "abc", lambda: xr.Dataset({"x": ("i", [1.0])}))
        ...     keys = results.stored_key("ones"), results.stored_key("missing")
        >>> keys
        ('abc', None)
        """
        path = self.folder / f"{name}.nc"
        if not path.is_file():
            return None
        try:
            return load(path).attrs.get(KEY_ATTR)
        except (OSError, ValueError):
            return None

    def get(self, name: str, key: str, compute: Callable[[], Any]) -> Any:
        """The result ``name``: the stored one when its key is ``key``, else ``compute()``, saved.

        Parameters
        ----------
        name : str
            The result's name (``<folder>/<name>.nc``).
        key : str
            What it depends on (:func:`result_key`), stored with it.
        compute : callable
            ``compute()`` returns the result (an xarray Dataset or DataArray is saved).

        Returns
        -------
        object
            The stored result (without its key attr) or the one computed.

        See Also
        --------
        Results.stored_key : the key of a stored result.
        result_key : the key.

        Examples
        --------
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     results = Results(folder)
        ...     _ = results.get("ones", "abc", lambda: xr.Dataset({"x": ("i", [1.0])}))
        ...     ds = results.get("ones", "new", lambda: xr.Dataset({"x": ("i", [2.0])}))
        >>> results.recomputed, ds.x.values.tolist()  # another key: computed again
        (['ones'], [2.0])
        """
        path = self.folder / f"{name}.nc"
        if path.is_file() and not self.force:
            try:
                obj = load(path)
            except (OSError, ValueError):
                obj = None
            if obj is not None and obj.attrs.get(KEY_ATTR) == key:
                self.reused.append(name)
                del obj.attrs[KEY_ATTR]
                return obj
        (self.recomputed if path.exists() else self.computed).append(name)
        obj = compute()
        if isinstance(obj, xr.DataArray | xr.Dataset):
            stored = obj.copy(deep=False)
            stored.attrs = {**obj.attrs, KEY_ATTR: key}
            save(stored, path)
        return obj
