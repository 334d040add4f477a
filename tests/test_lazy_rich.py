"""The output scale alpha on digits at the fast setting: weight change, last-layer capacity for
every alpha, out-of-distribution accuracy and the transfer probe, run through `neurogeom run`."""

from __future__ import annotations

import html
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.io.store import load
from neurogeom.models.images import CORRUPTIONS, corrupt, load_digits_split
from neurogeom.specs.lazy_rich import FAST_SETTING, load_lazy_rich_spec
from neurogeom.specs.run import spec_kind
from neurogeom.workflows.preflight import load_run_spec

pytest.importorskip("torch")

SPEC = Path(__file__).resolve().parents[1] / "tasks" / "lazy_rich_digits.toml"
ALPHAS = [1.0, 2.0, 5.0, 10.0, 30.0, 100.0]


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """`neurogeom run tasks/lazy_rich_digits.toml --setting fast`, once for the module."""
    out = tmp_path_factory.mktemp("lazy_rich") / "out"
    args = ["run", str(SPEC), "-o", str(out), "--setting", "fast", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'report.html'}" in " ".join(result.output.split())
    return out


@pytest.fixture(scope="module")
def sweep(out):
    return load(out / "results" / "lazy_rich.nc")


def test_spec_is_the_sweep_asked_for():
    cfg = load_lazy_rich_spec(SPEC)
    assert cfg["lazy_rich"]["alphas"] == ALPHAS
    assert {a["type"] for a in cfg["architectures"].values()} == {"mlp", "cnn"}
    assert len(cfg["lazy_rich"]["seeds"]) >= 5
    assert set(cfg["ood"]["corruptions"]) == set(CORRUPTIONS)
    assert cfg["transfer"]["source_classes"] == [0, 1, 2, 3, 4]
    assert cfg["transfer"]["target_classes"] == [5, 6, 7, 8, 9]
    assert spec_kind(SPEC) == "lazy_rich"
    with pytest.raises(ValueError, match="lazy-rich spec"):
        load_run_spec(SPEC)


@pytest.mark.slow
def test_cli_run_writes_its_outputs(out, sweep):
    assert (out / "report.html").stat().st_size > 10_000
    for suffix in ("png", "svg"):
        assert (out / "figures" / f"lazy_rich.{suffix}").stat().st_size > 1_000
    assert (out / "results" / "timings.json").exists()
    assert sweep.attrs["setting"] == "fast" and sweep.attrs["estimator"] == "lazy_rich_sweep"
    assert not list(out.rglob("*.tmp*"))
    text = html.unescape(re.sub(r"<[^>]+>", " ", (out / "report.html").read_text()))
    assert "0.053" in text and "0.066" in text  # the seed study's numbers, read against
    assert "Last-layer capacity" in text


@pytest.mark.slow
def test_weight_change_falls_monotonically_with_alpha(sweep):
    assert list(sweep["alpha"].values) == ALPHAS
    assert list(sweep["seed"].values) == FAST_SETTING["lazy_rich"]["seeds"]
    change = sweep["weight_change"].isel(step=-1).mean("seed")
    for arch in sweep["architecture"].values:
        c = change.sel(architecture=arch).values
        assert np.all(np.diff(c) < 0), (arch, c)
        # lazy end: ||w - w0|| ~ 1 / alpha, so from alpha 30 to 100 it shrinks 3.3x (within 25 %)
        assert c[-2] / c[-1] == pytest.approx(100 / 30, rel=0.25), (arch, c)
    assert float(sweep["weight_change"].isel(step=0).max()) == 0.0


@pytest.mark.slow
def test_capacity_for_every_alpha_along_training(sweep):
    cap = sweep["capacity"]
    assert cap.dims == ("architecture", "alpha", "seed", "step")
    assert np.isfinite(cap).all() and float(cap.min()) > 0
    assert np.isfinite(sweep["capacity_sem"]).all() and float(sweep["capacity_sem"].min()) > 0
    # at initialisation the network does not depend on alpha (the same w0 per seed): the
    # capacity of its last layer is the same for every alpha, to the solver's precision
    at0 = cap.isel(step=0)
    np.testing.assert_allclose(at0 - at0.isel(alpha=0), 0.0, atol=1e-6 * float(at0.max()))
    # trained networks separate the digits: test accuracy far above chance for every alpha
    assert float(sweep["accuracy"].isel(step=-1).min()) > 0.8


@pytest.mark.slow
def test_ood_figures_are_reported(sweep):
    ood = sweep["ood_accuracy"]
    assert set(ood["corruption"].values) == set(CORRUPTIONS)
    assert list(ood["severity"].values) == [0, 1, 2, 3, 4, 5]
    assert np.isfinite(ood).all() and float(ood.min()) >= 0 and float(ood.max()) <= 1
    # severity 0 is the clean test set
    np.testing.assert_allclose(ood.isel(severity=0).isel(corruption=0),
                               sweep["accuracy"].isel(step=-1))  # fmt: skip
    clean = ood.isel(severity=0).mean("seed")
    worst = ood.isel(severity=-1).mean("seed")
    assert bool((clean >= worst).all()), (clean - worst).values
    # the most severe corruption costs at least 10 points of accuracy, averaged over the sweep
    assert float((clean - worst).mean()) > 0.1


@pytest.mark.slow
def test_transfer_probe_above_chance(sweep):
    chance = sweep.attrs["chance_transfer_accuracy"]
    assert chance == pytest.approx(0.2)
    for name in ("transfer_accuracy", "transfer_accuracy_init"):
        acc = sweep[name]
        assert np.isfinite(acc).all() and float(acc.max()) <= 1
        assert float(acc.min()) > chance + 0.3, name


def test_corruptions_hurt_by_severity_and_keep_the_range():
    d = load_digits_split(seed=0)
    x = d["x_test"][:200]
    for kind in CORRUPTIONS:
        dist = [float(np.abs(corrupt(x, kind, s, seed=1) - x).mean()) for s in range(6)]
        assert dist[0] == 0.0
        assert np.all(np.diff(dist) > 0), (kind, dist)
        out = corrupt(x, kind, 5, seed=1)
        assert out.dtype == np.float32 and out.min() >= 0 and out.max() <= 1
    np.testing.assert_array_equal(corrupt(x, "noise", 3, seed=4), corrupt(x, "noise", 3, seed=4))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"lazy_rich": {"alphas": [1, 0]}}, "alphas must be distinct numbers > 0"),
        ({"lazy_rich": {"alphas": []}}, "give alphas"),
        ({"training": {"checkpoint_steps": [0, 5000]}}, "checkpoint_steps"),
        ({"ood": {"corruptions": ["fog"]}}, "unknown"),
        ({"ood": {"severities": [9]}}, "severities"),
        ({"transfer": {"target_classes": [4, 5, 6]}}, "without overlap"),
        ({"analysis": {"n_pointz": 3}}, "unknown key"),
    ],
)
def test_bad_specs_are_named(change, match):
    with pytest.raises(ValueError, match=match):
        load_lazy_rich_spec(SPEC, change)


def test_bad_corruption_arguments_are_named():
    x = np.zeros((2, 64), np.float32)
    with pytest.raises(ValueError, match="kind must be one of"):
        corrupt(x, "fog", 1)
    with pytest.raises(ValueError, match="severity"):
        corrupt(x, "noise", 7)
    with pytest.raises(ValueError, match="shape"):
        corrupt(np.zeros((2, 60)), "noise", 1)
    with pytest.raises(ValueError, match="NaN"):
        corrupt(np.full((2, 64), np.nan), "blur", 1)
