"""Every tutorial runs end to end (as a script, at its fast setting) and writes its figures.

``NEUROGEOM_FAST=1`` selects each tutorial's small settings (the full ones are documented at its
top). A tutorial with a header line ``# requires: shared-data`` reads the real recordings at
``../shared/data`` and is skipped, with the reason, when they are absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_DATA

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / "tutorials").glob("*.py"))
HEADER_LINES = 30  # where a tutorial declares what it requires


def _requires(tutorial: Path) -> set[str]:
    lines = tutorial.read_text().splitlines()[:HEADER_LINES]
    marks = [ln.split("requires:", 1)[1] for ln in lines if ln.startswith("# requires:")]
    return {word.strip() for mark in marks for word in mark.split(",") if word.strip()}


def test_requires_header_is_read(tmp_path):
    path = tmp_path / "t.py"
    path.write_text("# %% [markdown]\n# requires: shared-data\n# # Title\n")
    assert _requires(path) == {"shared-data"}
    path.write_text("# %% [markdown]\n# # Title\n# it requires: nothing here\n")
    assert _requires(path) == set()


@pytest.mark.slow
@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(tutorial, tmp_path):
    if "shared-data" in _requires(tutorial) and not SHARED_DATA.is_dir():
        pytest.skip(f"{tutorial.name} reads real recordings, not found at {SHARED_DATA}")
    env = {
        **os.environ,
        "NEUROGEOM_TUTORIAL_OUT": str(tmp_path),
        "NEUROGEOM_FAST": "1",
        "MPLBACKEND": "Agg",
        "NEUROGEOM_SHARED_DATA": str(SHARED_DATA),
    }
    proc = subprocess.run(
        [sys.executable, str(tutorial)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert list(tmp_path.glob("*.png")), "a tutorial saves at least one figure"
