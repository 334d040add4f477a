"""Atomic writes and the one JSON encoding (neurogeom._files)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from neurogeom._files import replace_atomic, replace_dir_atomic, to_json, write_atomic


def test_write_atomic_replaces_bytes_and_text(tmp_path):
    path = tmp_path / "a.json"
    write_atomic(path, b"old")
    assert write_atomic(path, "néw") == path
    assert path.read_text(encoding="utf-8") == "néw"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]  # no temporary file stays


def test_write_atomic_rejects_other_types(tmp_path):
    with pytest.raises(TypeError, match="writes bytes or str; got dict"):
        write_atomic(tmp_path / "x", {"a": 1})


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "result.nc"
    path.write_text("old")

    def half(tmp: Path) -> None:
        assert tmp.parent == tmp_path and tmp.suffix == ".nc" and tmp.name.startswith(".")
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        replace_atomic(path, half)
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.nc"]


def test_replace_dir_atomic_swaps_the_folder(tmp_path):
    path = tmp_path / "store.zarr"

    def make(content: str):
        def write(tmp: Path) -> None:
            assert not tmp.exists()
            tmp.mkdir()
            (tmp / "data").write_text(content)

        return write

    replace_dir_atomic(path, make("one"))
    replace_dir_atomic(path, make("two"))
    assert (path / "data").read_text() == "two" and sorted(p.name for p in path.iterdir()) == [
        "data"
    ]

    def failing(tmp: Path) -> None:
        tmp.mkdir()
        raise OSError("interrupted")

    with pytest.raises(OSError, match="interrupted"):
        replace_dir_atomic(path, failing)
    assert (path / "data").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.zarr"]


def test_to_json_encodes_numpy_dates_and_the_rest():
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    text = to_json(
        {"a": np.int64(3), "b": np.float32(0.5), "c": np.arange(3), "d": when, "e": Path("x/y")}
    )
    assert json.loads(text) == {
        "a": 3,
        "b": 0.5,
        "c": [0, 1, 2],
        "d": "2024-05-01T12:00:00+00:00",
        "e": "x/y",
    }
    assert to_json({"a": 1}, indent=2) == json.dumps({"a": 1}, indent=2)
