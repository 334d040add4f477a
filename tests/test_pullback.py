"""`neurogeom run tasks/pullback_sine.toml`: the pullback-metric reference task along training,
its report with the volume-element figures, and bad specs."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.io.store import load
from neurogeom.specs.pullback import DEFAULTS, load_pullback_spec
from neurogeom.specs.run import spec_kind
from neurogeom.workflows.preflight import load_run_spec
from neurogeom.workflows.pullback import sine_task

pytest.importorskip("torch")

SPEC = Path(__file__).resolve().parents[1] / "tasks" / "pullback_sine.toml"


def _run(out: Path, *extra: str):
    args = ["run", str(SPEC), "-o", str(out), "--setting", "fast", "--no-progress", *extra]
    return CliRunner().invoke(app, args)


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pullback") / "out"
    result = _run(out)
    assert result.exit_code == 0, result.output
    return out


def test_spec_is_the_reference_setting():
    cfg = load_pullback_spec(SPEC)["pullback"]
    assert cfg == {**DEFAULTS, "checkpoint_steps": cfg["checkpoint_steps"]}
    assert (cfg["n_points"], cfg["width"], cfg["activation"], cfg["lr"], cfg["momentum"]) == (
        400, 250, "sigmoid", 0.1, 0.9)  # fmt: skip
    assert cfg["checkpoint_steps"][0] == 0 and cfg["checkpoint_steps"][-1] == cfg["n_steps"]
    x, y = sine_task(cfg)
    assert x.shape == (400, 2) and np.abs(x).max() <= 1
    np.testing.assert_array_equal(y, x[:, 1] > 0.6 * np.sin(7 * x[:, 0] - 1))
    assert spec_kind(SPEC) == "pullback"
    with pytest.raises(ValueError, match="a pullback spec"):
        load_run_spec(SPEC)


def test_run_writes_results_figures_and_report(out):
    ds = load(out / "results" / "pullback.nc")
    assert ds.attrs["setting"] == "fast"
    assert dict(ds["log_volume_element"].sizes) == {"seed": 1, "step": 3, "y": 21, "x": 21}
    assert list(ds["step"].values) == [0, 200, 400]
    assert np.isfinite(ds["log_volume_element"]).all()
    assert np.isfinite(ds["boundary_magnification_final"]).all()
    assert float(ds["accuracy"].isel(step=-1)) > float(ds["accuracy"].isel(step=0))
    for name in ("pullback_volume", "pullback_index"):
        for suffix in ("png", "svg"):
            assert (out / "figures" / f"{name}.{suffix}").stat().st_size > 1_000
    text = html.unescape(re.sub(r"<[^>]+>", " ", (out / "report.html").read_text()))
    assert "pullback metric" in text and "boundary magnification" in text
    assert "have not fitted the boundary" in text  # 400 steps do not fit the sine
    assert json.loads((out / "results" / "timings.json").read_text())["reused"] == []


def test_report_renders_in_headless_chromium(out, tmp_path):
    from _browser import render

    sizes, errors = render(out / "report.html", tmp_path / "shot.png")
    assert len(sizes) == 2 and errors == []
    assert all(done and w > 100 and h > 100 for done, w, h in sizes), sizes


def test_the_index_at_step_zero_matches_the_engine(out):
    """The stored index is the engine's number for the initial network and the final boundary."""
    import torch

    from neurogeom.geometry.riemann import boundary_magnification
    from neurogeom.models.feedforward import MLP, train_classifier

    fast = {"seeds": [0], "n_steps": 400, "checkpoint_steps": [0, 400], "n_index": 15}
    cfg = load_pullback_spec(SPEC, fast)["pullback"]
    x_np, labels = sine_task(cfg)
    net = MLP(2, [250], 2, activation="sigmoid", seed=0, center=False, init="uniform")
    ckpts = train_classifier(net, torch.tensor(x_np, dtype=torch.float32), torch.tensor(labels),
                             n_steps=400, batch_size=10, checkpoint_steps=[0, 400], seed=0)  # fmt: skip
    final = MLP(2, [250], 2, activation="sigmoid", center=False)
    final.load_state_dict(ckpts[-1][1])
    net.load_state_dict(ckpts[0][1])
    side = np.linspace(-1, 1, 15)
    probe = np.stack(np.meshgrid(side, side), -1).reshape(-1, 2)
    expected = float(boundary_magnification(net.features, final, probe).boundary_magnification)
    ds = load(out / "results" / "pullback.nc")
    np.testing.assert_allclose(float(ds["boundary_magnification_final"][0, 0]), expected,
                               rtol=1e-6)  # fmt: skip


def test_rerun_reuses_the_results(out):
    result = _run(out)
    assert result.exit_code == 0, result.output
    assert json.loads((out / "results" / "timings.json").read_text())["reused"] == ["pullback"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"n_stepz": 3}, "unknown keys"),
        ({"seeds": []}, "seeds is empty"),
        ({"checkpoint_steps": [0, 50_000]}, "go past n_steps"),
        ({"width": 0}, "width must be >= 1"),
        ({"activation": "gelu"}, "activation must be one of"),
        ({"init": "xavier"}, "init must be one of"),
    ],
)
def test_bad_specs_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        load_pullback_spec(SPEC, change)


def test_bad_setting_is_named(tmp_path):
    args = ["run", str(SPEC), "-o", str(tmp_path / "o"), "--setting", "medium", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "unknown setting 'medium'" in result.output
