"""Cached kernels are never those of older modules: a changed module discards every cached kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from neurogeom.geometry import _kernel_cache

ROOT = Path(__file__).resolve().parents[1]


def _tree(tmp_path):
    for name in ("_a.py", "_b.py", "c.py"):
        (tmp_path / name).write_text(f"# {name}\n")
    return tmp_path


def _cache(folder):
    return sorted(f.name for f in (folder / "__pycache__").glob("*.nb[ic]"))


def test_first_sync_stamps_and_keeps_the_modules(tmp_path):
    folder = _tree(tmp_path)
    before = {f.name: f.stat().st_mtime_ns for f in folder.glob("*.py")}
    assert _kernel_cache.sync(folder) is False
    assert {f.name: f.stat().st_mtime_ns for f in folder.glob("*.py")} == before
    stamp = json.loads((folder / "__pycache__" / _kernel_cache.STAMP).read_text())
    assert sorted(stamp) == ["_a.py", "_b.py", "c.py"]
    assert _kernel_cache.sync(folder) is False  # nothing changed


def test_a_changed_module_discards_every_cached_kernel_once(tmp_path):
    folder = _tree(tmp_path)
    _kernel_cache.sync(folder)
    for name in ("_a.f-3.py311.nbi", "_a.f-3.py311.1.nbc", "_b.g-4.py311.nbi", "c.h-1.py311.nbi"):
        (folder / "__pycache__" / name).write_bytes(b"")
    assert _kernel_cache.sync(folder) is False  # in step: the cache is kept
    assert len(_cache(folder)) == 4
    (folder / "_a.py").write_text("# _a.py, edited\n")
    assert _kernel_cache.sync(folder) is True
    assert _cache(folder) == []  # _b's and c's too: they may have inlined _a's kernels
    assert (folder / "__pycache__" / _kernel_cache.STAMP).exists()
    assert _kernel_cache.sync(folder) is False  # in step again


def test_kernels_cached_before_any_stamp_are_discarded(tmp_path):
    folder = _tree(tmp_path)
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "_b.f-1.py311.nbi").write_bytes(b"")
    assert _kernel_cache.sync(folder) is True
    assert _cache(folder) == []


def _call_caller(parent: Path) -> str:
    """In a fresh process: sync the package ``pkg`` under ``parent``, then run its kernel ``g``
    (cached, and calling the cached kernel ``f`` of another of its modules)."""
    code = textwrap.dedent(
        f"""
        import sys
        sys.path[:0] = [{str(ROOT)!r}, {str(parent)!r}]
        from neurogeom.geometry import _kernel_cache
        _kernel_cache.sync({str(parent / "pkg")!r})
        from pkg import _b
        print(_b.g())
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    return out.stdout.split()[-1]


def test_a_kernel_that_calls_a_changed_kernel_runs_the_new_one(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    callee = "import numba\n\n\n@numba.njit(cache=True)\ndef f():\n    return {}\n"
    (pkg / "_a.py").write_text(callee.format(1))
    (pkg / "_b.py").write_text(
        "import numba\n\nfrom pkg import _a\n\n\n@numba.njit(cache=True)\n"
        "def g():\n    return _a.f() + 10\n"
    )
    assert _call_caller(tmp_path) == "11"
    assert _cache(pkg)  # both kernels cached
    assert _call_caller(tmp_path) == "11"
    (pkg / "_a.py").write_text(callee.format(2))  # _b.py unchanged: its cache alone is valid
    assert _call_caller(tmp_path) == "12"


def test_the_package_is_in_step_after_import():
    import neurogeom.geometry as geometry

    folder = os.path.dirname(geometry.__file__)
    assert _kernel_cache.sync(folder) is False
