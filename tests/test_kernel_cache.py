"""Cached kernels are never those of older modules: a changed module touches every module."""

from __future__ import annotations

import json
import os
import time

from neurogeom.geometry import _kernel_cache


def _tree(tmp_path):
    for name in ("_a.py", "_b.py", "c.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    return tmp_path


def _mtimes(folder):
    return {f.name: f.stat().st_mtime_ns for f in folder.glob("*.py")}


def test_first_sync_stamps_without_touching(tmp_path):
    folder = _tree(tmp_path)
    before = _mtimes(folder)
    assert _kernel_cache.sync(folder) is False
    assert _mtimes(folder) == before
    stamp = json.loads((folder / "__pycache__" / _kernel_cache.STAMP).read_text())
    assert sorted(stamp) == ["_a.py", "_b.py", "c.py"]
    assert _kernel_cache.sync(folder) is False  # nothing changed


def test_a_changed_module_touches_every_module_once(tmp_path):
    folder = _tree(tmp_path)
    _kernel_cache.sync(folder)
    past = time.time() - 100
    for f in folder.glob("*.py"):
        os.utime(f, (past, past))
    _kernel_cache.sync(folder)  # stamp the old times
    (folder / "_a.py").write_text("# _a.py, edited\n")
    assert _kernel_cache.sync(folder) is True
    assert all(t > past * 1e9 + 50e9 for t in _mtimes(folder).values())  # _b.py, c.py too
    assert _kernel_cache.sync(folder) is False  # in step again


def test_kernels_cached_before_any_stamp_are_discarded(tmp_path):
    folder = _tree(tmp_path)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "_b.f-1.py311.nbi").write_bytes(b"")
    past = time.time() - 100
    for f in folder.glob("*.py"):
        os.utime(f, (past, past))
    assert _kernel_cache.sync(folder) is True
    assert all(t > past * 1e9 + 50e9 for t in _mtimes(folder).values())


def test_the_package_is_in_step_after_import():
    import neurogeom.geometry as geometry

    folder = os.path.dirname(geometry.__file__)
    assert _kernel_cache.sync(folder) is False
