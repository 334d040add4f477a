"""The seed paper's rank sweep (arXiv 2503.18114 Sec. 5.1) at a fast setting: capacity at
initialisation and its change for every rank and seed, and the ordering measured here."""

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
from neurogeom.models.rnn import truncate_rank
from neurogeom.workflows.pipeline import run_pipeline
from neurogeom.workflows.preflight import load_spec
from neurogeom.workflows.rank_sweep import FAST_SETTING, rank_sweep

pytest.importorskip("neurogym")

SPEC = Path(__file__).resolve().parents[1] / "tasks" / "rank_sweep_paper.toml"


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    """`neurogeom run tasks/rank_sweep_paper.toml --setting fast`, once for the module."""
    out = tmp_path_factory.mktemp("rank_sweep") / "out"
    args = ["run", str(SPEC), "-o", str(out), "--setting", "fast", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'report.html'}" in " ".join(result.output.split())
    return out


@pytest.fixture(scope="module")
def sweep(out):
    return load(out / "results" / "rank_sweep.nc")


def test_paper_spec_is_the_paper_protocol():
    spec = load_spec(SPEC)
    net, tr, an = spec["network"], spec["training"], spec["analysis"]
    assert (net["n_units"], net["activation"], net["init"]) == (300, "relu", "normal")
    assert net["g"] == 1.25
    assert not net["bias"] and not net["readout_bias"] and "tau_ms" not in net
    assert (tr["optimizer"], tr["lr"], tr["momentum"], tr["batch_size"]) == ("sgd", 0.003, 0.9, 32)
    assert (tr["n_steps"], tr["loss"], tr["grad_clip"]) == (10000, "all", 0)
    assert spec["sweep"]["rank"] == [1, 5, 10, 25, 50, 100, 200, 300]
    assert spec["sweep"]["seed"] == list(range(10))
    assert (an["by"], an["n_points_per_manifold"], an["center"]) == ("ground_truth", 50, True)
    assert an["options"]["dichotomies"] == "one_vs_rest" and an["options"]["jitter"] == 1e-6
    timing = spec["task"]["kwargs"]["timing"]
    assert timing == {"fixation": 0, "stimulus": 200, "delay": 500, "decision": 100}


def test_truncate_rank_is_the_papers_knob():
    gen = np.random.default_rng(0)
    w = 1.25 * gen.standard_normal((300, 300)) / np.sqrt(300)
    u, s, vh = np.linalg.svd(w)
    for r in (1, 5, 300):
        low = truncate_rank(w, r).numpy()
        assert np.linalg.matrix_rank(low, tol=1e-8 * np.linalg.norm(w)) == r
        np.testing.assert_allclose(np.linalg.norm(low), np.linalg.norm(w), rtol=1e-12)
        # the best rank-r approximation (Eckart-Young), only rescaled
        best = (u[:, :r] * s[:r]) @ vh[:r]
        expected = best * np.linalg.norm(w) / np.linalg.norm(best)
        np.testing.assert_allclose(low, expected, atol=1e-12)


def test_every_rank_and_seed_has_capacity_at_init_and_its_change(sweep):
    assert list(sweep["rank"].values) == FAST_SETTING["ranks"]
    assert list(sweep["seed"].values) == FAST_SETTING["seeds"]
    for name in ("capacity_init", "capacity_final", "capacity_change", "weight_change"):
        assert np.isfinite(sweep[name]).all(), name
    np.testing.assert_allclose(
        sweep["capacity_change"], sweep["capacity_final"] - sweep["capacity_init"]
    )
    assert (sweep["init_step"] == 0).all() and (sweep["final_step"] == 200).all()
    # two manifolds of 50 points: above the floor P / n_features, far below 2
    assert (sweep["capacity_init"] > 2 / 300).all() and (sweep["capacity_final"] < 1).all()
    assert (sweep["weight_change"] > 0).all()
    assert (sweep["accuracy_final"].sel(rank=300) > 0.7).all()


def test_measured_ordering(sweep):
    """What this package measures at the fast setting (tutorials/06_rank_sweep.py reads it):
    capacity at initialisation rises with the rank (the paper's "poor" low-rank start), but
    rank 1 changes least in 200 steps (it has barely learnt), where the paper has low rank
    changing most."""
    m = sweep.mean("seed")
    init = m["capacity_init"]
    assert init.sel(rank=1) < init.sel(rank=5) < init.sel(rank=25)
    assert init.sel(rank=5) < init.sel(rank=300)
    assert init.sel(rank=1) < 0.6 * init.sel(rank=300)
    change = m["capacity_change"]
    for r in (5, 25, 300):
        assert change.sel(rank=1) < change.sel(rank=r)
    assert (change > 0).all()  # training raises capacity at every rank


def test_bad_sweep_input(tmp_path):
    with pytest.raises(ValueError, match="rank_sweep needs ranks"):
        rank_sweep({**load_spec(SPEC), "sweep": {}}, tmp_path)
    with pytest.raises(ValueError, match="must be a table of keys"):
        rank_sweep(SPEC, tmp_path, overrides={"training": 3})
    with pytest.raises(ValueError, match="rank must be an integer"):
        rank_sweep(SPEC, tmp_path, ranks=[0])


def test_run_writes_the_runs_the_result_and_a_report(out, sweep):
    runs = sorted(p.name for p in (out / "runs" / "fast").iterdir())
    assert runs == sorted(f"rank_{r}_seed_{s}" for r in FAST_SETTING["ranks"]
                          for s in FAST_SETTING["seeds"])  # fmt: skip
    assert sweep.attrs["setting"] == "fast"
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 1
    assert (out / "figures" / "rank_sweep.png").stat().st_size > 1000
    reading = html.unescape(re.search(r'<p class="reading">(.*?)</p>', text, re.S).group(1))
    init = sweep["capacity_init"].mean("seed")
    assert f"{float(init.sel(rank=1)):.3g} at rank 1" in reading
    assert "start with lower capacity and change more" in reading  # the paper's claim, stated
    assert "as the paper" in reading.split("The change")[0]  # init rises with rank: as measured
    caption = "<caption>Per rank: mean and s.d. over seeds"
    table = text[text.index(caption) : text.index("</table>", text.index(caption))]
    shown = [float(x) for x in re.findall(r"<td>([-0-9.e]+)</td>", table)]
    for value in init.values:  # the table holds the numbers of the netCDF
        assert any(abs(v - value) <= 1e-3 * abs(value) for v in shown), value


def test_rerun_reuses_the_sweep(out, sweep):
    result = CliRunner().invoke(app, ["run", str(SPEC), "-o", str(out), "--setting", "fast",
                                      "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    timings = json.loads((out / "results" / "timings.json").read_text())
    assert timings["reused"] == ["rank_sweep"]
    again = load(out / "results" / "rank_sweep.nc")
    np.testing.assert_array_equal(again["capacity_init"].values, sweep["capacity_init"].values)


def test_a_run_measures_with_one_thread_and_the_sweep_records_its_seconds(out, sweep, monkeypatch):
    """Each run trains and measures with one torch and one BLAS thread (runs side by side do not
    oversubscribe the cores); the caller's thread count is left as it was."""
    import torch
    from threadpoolctl import threadpool_info

    import neurogeom.workflows.runs as runs_mod
    from neurogeom.models.train import run_spec
    from neurogeom.workflows.rank_sweep import _worker_run

    assert sweep.attrs["train_s"] > 0 and sweep.attrs["geometry_s"] > 0
    seen = []
    measure = runs_mod.run_geometry

    def run_geometry(*args, **kwargs):
        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        seen.append((torch.get_num_threads(), set(blas)))
        return measure(*args, **kwargs)

    monkeypatch.setattr(runs_mod, "run_geometry", run_geometry)
    threads = torch.get_num_threads()
    name = "rank_5_seed_0"
    try:
        torch.set_num_threads(2)
        row, seconds = _worker_run((name, run_spec(out / "runs" / "fast" / name)),
                                   str(out / "runs" / "fast"))  # fmt: skip
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert seen == [(1, {1})]
    assert row["capacity_init"] == float(sweep["capacity_init"].sel(rank=5, seed=0))
    assert set(seconds) == {"train", "geometry"} and min(seconds.values()) > 0


@pytest.mark.parametrize("setting, spec, match", [
    ("medium", SPEC, r"unknown setting 'medium'; give one of \['fast', 'full'\]"),
    ("fast", SPEC.parent / "demo.toml", r"setting 'fast' applies to a rank-sweep spec"),
])  # fmt: skip
def test_bad_setting_is_one_line_and_writes_nothing(tmp_path, setting, spec, match):
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=match):
        run_pipeline(spec, out, setting=setting)
    result = CliRunner().invoke(app, ["run", str(spec), "-o", str(out), "--setting", setting,
                                      "--no-progress"])  # fmt: skip
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error:")
    assert not out.exists()


def test_bad_sweep_spec_writes_nothing(tmp_path):
    text = SPEC.read_text().replace("n_steps = 10000", "n_steps = -5")
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    with pytest.raises(ValueError, match="n_steps"):
        run_pipeline(spec, tmp_path / "out", setting="full")
    assert not (tmp_path / "out").exists()
