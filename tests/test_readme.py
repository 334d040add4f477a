"""The README's example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text()
    section = text[text.index("## Ten lines") :]
    match = re.search(r"```python\n(.*?)```", section, flags=re.S)
    assert match, "the README's 'Ten lines' section has a python block"
    return match.group(1)


@pytest.mark.slow
def test_readme_example_runs():
    code = _example()
    assert len(code.strip().splitlines()) <= 14
    scope: dict = {}
    exec(compile(code, str(README), "exec"), scope)
    traj, res = scope["traj"], scope["res"]
    # the late session separates choices better than the early one (data/README.md)
    assert float(traj["capacity"].sel(stage="late")) > float(traj["capacity"].sel(stage="early"))
    assert res.attrs["dichotomies"] == "nontrivial"
    assert {"capacity_sem", "capacity_ci_low", "capacity_null_high"} <= set(traj.data_vars)
