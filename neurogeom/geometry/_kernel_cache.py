"""The compiled kernels' cache kept in step with every module they were compiled from.

numba keeps each compiled kernel in a cache beside its module and discards it when that module's
source changes, but not when a kernel it calls from *another* module changes: the cached machine
code, with the old callee inlined, would be loaded and run (``_glue_batch`` and ``_dual`` call
the active-set kernels of ``_active_set``). So on import of :mod:`neurogeom.geometry` the files of
its modules are compared with the stamp written at the last import; when one changed (an update
of the source tree), every cached kernel of the folder is deleted (numba compiles them again on
first use), and the new stamp is written. Touching the modules would not do: numba (0.68)
recognises a module by a hash of its text, not by its time stamp. An installed release never
needs it (installing writes a fresh tree); where the cache or the stamp cannot be written
nothing is done.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["sync"]

STAMP = "neurogeom_kernel_sources.json"


def _stamp(files: list[Path]) -> dict[str, list[int]]:
    out = {}
    for f in files:
        st = f.stat()
        out[f.name] = [st.st_size, st.st_mtime_ns]
    return out


def sync(folder: Path | str) -> bool:
    """Delete the cached kernels of ``folder`` (numba's ``*.nbi`` indexes and ``*.nbc`` data in
    its ``__pycache__``) when one of its modules changed since the stamp there (numba then
    compiles them anew); write the stamp. Returns whether cached kernels were deleted."""
    folder = Path(folder)
    files = sorted(folder.glob("*.py"))
    stamp_file = folder / "__pycache__" / STAMP
    try:
        now = _stamp(files)
        try:
            before = json.loads(stamp_file.read_text())
        except (OSError, ValueError):
            before = None
        if before == now:
            return False
        # a module changed, or kernels were cached before any stamp: every kernel compiled
        # against an older module must go
        cached = list(stamp_file.parent.glob("*.nb[ic]"))
        for f in cached:  # another process loading one meanwhile compiles it instead
            f.unlink(missing_ok=True)
        stamp_file.parent.mkdir(exist_ok=True)
        tmp = stamp_file.with_name(f"{STAMP}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(now))
        os.replace(tmp, stamp_file)
        return bool(cached)
    except OSError:  # a read-only install: nothing changes there
        return False
