"""The compiled kernels' cache kept in step with every module they were compiled from.

numba keeps each compiled kernel in a cache beside its module and discards it when that module's
file changes, but not when a kernel it calls from *another* module changes: the cached machine
code, with the old callee inlined, would be loaded and run (``_glue_batch`` and ``_dual`` call
the active-set kernels of ``_active_set``). So on import of :mod:`neurogeom.geometry` the files of
its modules are compared with the stamp written at the last import; when one changed (an update
of the source tree), every module is touched, which makes numba discard all of their cached
kernels and compile them again on first use, and the new stamp is written. An installed release
never needs it (installing writes every file anew); where the files or the stamp cannot be
written nothing is done.
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
    """Touch every module of ``folder`` when one changed since the stamp in its
    ``__pycache__`` (numba then compiles their kernels anew); write the stamp. Returns whether
    the modules were touched."""
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
        touched = before is not None or any(stamp_file.parent.glob("*.nbi"))
        if touched:
            for f in files:
                os.utime(f)
            now = _stamp(files)
        stamp_file.parent.mkdir(exist_ok=True)
        tmp = stamp_file.with_name(f"{STAMP}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(now))
        os.replace(tmp, stamp_file)
        return touched
    except OSError:  # a read-only install: nothing changes there
        return False
