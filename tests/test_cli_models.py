"""`neurogeom train` and `neurogeom simulate` end to end, and their one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from neurogeom.cli import app

pytest.importorskip("neurogym")

runner = CliRunner()


def _text(result) -> str:
    return " ".join(result.output.split())  # rich wraps long lines


SPEC = """
[task]
name = "ContextDecisionMaking-v0"
[task.kwargs]
use_expl_context = true
[network]
n_units = 16
init = "identity"
g = 0.1
[training]
n_steps = 12
batch_size = 16
n_train_trials = 64
n_test_trials = 40
eval_every = 4
[analysis]
n_trials = 36
labels = ["context", "ground_truth"]
[analysis.conditions]
context = [0, 1]
coh_1 = [5, 15, 50]
coh_2 = [5, 15, 50]
ground_truth = [1, 2]
"""


def test_train_resume_and_simulate(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text(SPEC)
    run = tmp_path / "run"
    r = runner.invoke(
        app, ["train", str(spec), "-o", str(run), "--max-steps", "5", "--no-progress"]
    )
    assert r.exit_code == 0, r.output
    assert "stopped (resumable)" in _text(r)
    r = runner.invoke(app, ["train", str(spec), "-o", str(run), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "step 12" in _text(r) and "done" in _text(r)
    assert json.loads((run / "spec.json").read_text())["training"]["n_steps"] == 12
    out = tmp_path / "states.nc"
    r = runner.invoke(app, ["simulate", str(run), "-o", str(out)])
    assert r.exit_code == 0, r.output
    import neurogeom

    pop = neurogeom.load(out)
    assert pop.dims == ("stage", "trial", "time", "unit")
    assert pop.sizes["trial"] == 36 and pop.sizes["unit"] == 16
    assert list(pop["step"].values) == [0, 1, 2, 4, 5, 6, 8, 10, 12]
    assert set(pop["context"].values) == {0, 1}


def test_one_line_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[task]\nname = 'ContextDM'\n")
    r = runner.invoke(app, ["train", str(bad), "-o", str(tmp_path / "x")])
    assert r.exit_code == 1
    assert "unknown task 'ContextDM'" in _text(r) and "ContextDecisionMaking-v0" in _text(r)
    bad.write_text("[task]\nname = 'ContextDecisionMaking-v0'\n[network]\nn_units = 8\nrank = 9\n")
    r = runner.invoke(app, ["train", str(bad), "-o", str(tmp_path / "x")])
    assert r.exit_code == 1 and "rank must be an integer in 1..n_units=8" in _text(r)
    r = runner.invoke(app, ["simulate", str(tmp_path / "nowhere"), "-o", str(tmp_path / "o.nc")])
    assert r.exit_code == 1 and "no run folder" in _text(r)
    r = runner.invoke(app, ["train", str(tmp_path / "none.toml"), "-o", str(tmp_path / "x")])
    assert r.exit_code == 1 and "does not exist; check the path" in _text(r)
    assert Path(tmp_path / "x").exists() is False
