"""The seed paper's rank sweep (arXiv 2503.18114 Sec. 5.1) at a fast setting: capacity at
initialisation and its change for every rank and seed, and the ordering measured here."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.io.store import load
from neurogeom.learning.stages import GLUE_MEASURES
from neurogeom.models.rnn import truncate_rank
from neurogeom.workflows.pipeline import run_pipeline
from neurogeom.workflows.preflight import load_spec
from neurogeom.workflows.rank_sweep import FAST_SETTING, rank_protocol, rank_sweep

pytest.importorskip("neurogym")

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "tasks" / "rank_sweep_paper.toml"
#: The full protocol's result, written by scripts/seed_protocol.py and committed.
COMMITTED = ROOT / "docs" / "papers" / "rank_protocol_cxt.nc"
GEOMETRY = GLUE_MEASURES  # the six GLUE measures


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
        row, traj, seconds = _worker_run((name, run_spec(out / "runs" / "fast" / name)),
                                         str(out / "runs" / "fast"))  # fmt: skip
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert seen == [(1, {1})]
    assert row["capacity_init"] == float(sweep["capacity_init"].sel(rank=5, seed=0))
    np.testing.assert_array_equal(traj["capacity"], sweep["capacity"].sel(rank=5, seed=0))
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


def test_every_checkpoint_is_measured(sweep):
    """The six GLUE measures at every checkpoint of the paper's schedule (up to 200 steps), and
    the summaries are the first and the last of them."""
    from neurogeom.models.train import log_schedule

    assert sweep["step"].values.tolist() == log_schedule(200)
    for m in GEOMETRY:
        assert sweep[m].dims == ("rank", "seed", "step"), m
        assert sweep[f"{m}_sem"].dims == ("rank", "seed", "step"), m
    assert np.isfinite(sweep["capacity"]).all() and sweep["measured"].all()
    np.testing.assert_array_equal(sweep["capacity"].isel(step=0), sweep["capacity_init"])
    np.testing.assert_array_equal(sweep["radius"].isel(step=-1), sweep["radius_final"])
    np.testing.assert_array_equal(
        sweep["relative_weight_change"].isel(step=-1), sweep["weight_change"]
    )
    assert (sweep["relative_weight_change"].isel(step=0) == 0).all()


def test_rank_protocol_reads_the_seeds_as_replicates(sweep):
    res = rank_protocol(sweep)
    cap = res.sel(measure="capacity")
    init = sweep["capacity_init"]
    np.testing.assert_allclose(cap["init_mean"], init.mean("seed"), rtol=1e-12)
    assert (cap["init_low"] < cap["init_mean"]).all() and (
        cap["init_mean"] < cap["init_high"]
    ).all()
    np.testing.assert_allclose(
        cap["change_mean"], sweep["capacity_change"].mean("seed"), rtol=1e-12
    )
    # two seeds: the exact sign-flip test has four patterns, so p is 0.5 or 1
    assert set(np.unique(res["change_p_value"].values)) <= {0.5, 1.0}
    assert ((res["rank_effect_init_p_value"] > 0) & (res["rank_effect_init_p_value"] <= 1)).all()
    np.testing.assert_allclose(
        res["route_log_radius"], np.log10(sweep["radius"]).mean("seed"), rtol=1e-12
    )
    # the consensus: support is the fraction of seeds with a boundary within one checkpoint
    support = res["consensus_support"].values
    assert np.all(support[np.isfinite(support)] >= 0.5)
    steps = sweep["step"].values.tolist()
    for r in sweep["rank"].values:
        s = res.sel(rank=r)
        for b, sup in zip(s["consensus_boundary_step"].values, s["consensus_support"].values):
            if not np.isfinite(b):
                continue
            k = steps.index(int(b))
            near = [
                any(abs(steps.index(int(x)) - k) <= 1 for x in row if np.isfinite(x))
                for row in s["run_boundary_step"].values
            ]
            assert sup == np.mean(near)
        names = [str(n) for n in s["stage_name"].values if str(n)]
        reasons = [str(x) for x in s["consensus_reason"].values]
        for k in range(1, len(names)):  # a boundary between two stages of one name says why
            if names[k] == names[k - 1]:
                assert reasons[k - 1].startswith("the "), reasons[k - 1]
    rule = json.loads(res.attrs["naming_rule"])
    assert rule["none"] == "stabilizing"
    assert res.attrs["naming_rule_fit_on"] == "even seeds"
    assert 0 <= res.attrs["naming_agreement"] <= 1


def test_rank_protocol_needs_the_trajectories(sweep):
    summary = sweep.drop_dims("step")
    with pytest.raises(ValueError, match="rank_protocol needs the trajectories of rank_sweep"):
        rank_protocol(summary)
    with pytest.raises(ValueError, match="n_perm must be a positive count"):
        rank_protocol(sweep, n_perm=0)


def test_fast_setting_reproduces_the_committed_step0_capacity(out, sweep):
    """Step 0 is the initialisation: it does not depend on the training length, so the fast
    setting's runs give the full protocol's step-0 capacities (docs/papers/rank_protocol_cxt.nc),
    measured with the full protocol's analysis settings (its n_t, seeds, points per manifold);
    the fast setting's own n_t (50) is not the spec's, so step 0 is measured again.

    The states are simulated in float32, whose last bits differ between CPUs (vector widths);
    at rank 1 the initial states of a condition lie about as close to each other as the 1e-6
    jitter, so the capacity follows those bits (on an AVX-512 machine: 0.8% at rank 1, 1.5e-4
    at rank 5, at most 2.3e-6 at ranks 25 and 300, against the file written on another machine;
    without the jitter the rank-1 capacity is three times larger): hence a tolerance by rank."""
    from neurogeom.models.simulate import analysis_bank
    from neurogeom.models.train import run_spec
    from neurogeom.workflows.runs import run_geometry

    if not COMMITTED.is_file():
        pytest.skip(
            f"{COMMITTED.relative_to(ROOT)} is absent: write it with "
            "scripts/seed_protocol.py tasks/rank_sweep_paper.toml RUNS_DIR OUT"
        )
    committed = load(COMMITTED)
    full = json.loads(committed.attrs["spec"])["analysis"]
    paper = load_spec(SPEC)["analysis"]  # the committed file is the spec's protocol
    assert {k: full[k] for k in paper} == paper
    pairs = [
        (r, s)
        for r in FAST_SETTING["ranks"]
        for s in FAST_SETTING["seeds"]
        if bool(committed["measured"].sel(rank=r, seed=s))
    ]
    if not pairs:
        pytest.skip("the committed protocol has none of the fast setting's runs measured")
    fast = run_spec(out / "runs" / "fast" / "rank_1_seed_0")["analysis"]
    decides = (
        "period",
        "by",
        "n_trials",
        "seed",
        "n_points_per_manifold",
        "center",
        "geometry_seed",
        "conditions",
    )
    same = all(fast[k] == full[k] for k in decides) and fast["options"] == full["options"]
    assert not same and fast["options"]["n_t"] == 50 != full["options"]["n_t"]
    for r, s in pairs:
        run_dir = out / "runs" / "fast" / f"rank_{r}_seed_{s}"
        spec = run_spec(run_dir)
        assert spec["training"]["n_steps"] == 200  # the fast setting's run, not the full one
        got = run_geometry(
            run_dir,
            steps=[0],
            by=full["by"],
            period=full["period"],
            n_points_per_manifold=full["n_points_per_manifold"],
            center=full["center"],
            seed=full["geometry_seed"],
            bank=analysis_bank({**spec, "analysis": full}),
            **full["options"],
        )
        want = float(committed["capacity"].sel(rank=r, seed=s, step=0))
        rtol = 3e-2 if r == 1 else 1e-3 if r <= 5 else 1e-4
        np.testing.assert_allclose(float(got["capacity"][0]), want, rtol=rtol)


def test_the_protocol_page_is_generated_from_the_stored_numbers(sweep, tmp_path):
    """scripts/seed_protocol.py: the stored result (float32 trajectories but capacity) gives the
    same analysis when read back, and the page's table holds its numbers."""
    import importlib.util

    where = importlib.util.spec_from_file_location(
        "seed_protocol", ROOT / "scripts" / "seed_protocol.py"
    )
    script = importlib.util.module_from_spec(where)
    where.loader.exec_module(script)
    swept = sweep.copy()
    swept.attrs.update(spec_path="tasks/rank_sweep_paper.toml", setting="fast")
    script.write_nc(script.protocol_result(swept), tmp_path / "rank_protocol_cxt.nc")
    stored = load(tmp_path / "rank_protocol_cxt.nc")
    with xr.open_dataset(tmp_path / "rank_protocol_cxt.nc") as raw:
        assert raw["capacity"].encoding["dtype"] == np.float64
        assert raw["radius"].encoding["dtype"] == np.float32
    again = rank_protocol(stored[list(sweep.data_vars)])
    np.testing.assert_array_equal(again["init_mean"], stored["init_mean"])
    np.testing.assert_array_equal(again["change_p_value"], stored["change_p_value"])
    assert again["stage_name"].values.tolist() == stored["stage_name"].values.tolist()
    text = script.page(tmp_path).read_text()
    cap = stored.sel(measure="capacity")
    for r in FAST_SETTING["ranks"]:
        s = cap.sel(rank=r)
        row = f"| {r} | 2 | {float(s['init_mean']):.3f} [{float(s['init_low']):.3f}, "
        assert row in text, row
    assert "Low-rank initialisations start with lower capacity**: " in text
    assert text.count("### Learning stages per rank") == 1
