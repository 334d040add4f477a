"""Run specs: every bad spec gives a one-line error naming the problem, and writes nothing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.learning.sessions import stack_sessions
from neurogeom.population import make_population
from neurogeom.workflows.pipeline import run_pipeline
from neurogeom.workflows.preflight import load_run_spec

ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "tasks" / "recording_vs_network.toml").read_text()  # one recording, one network


def _spec(tmp_path: Path, text: str) -> Path:
    """A bundled spec rewritten into tmp_path, its relative paths made absolute."""
    text = text.replace('"../data/', f'"{ROOT}/data/').replace(
        '"context_dm.toml"', f'"{ROOT}/tasks/context_dm.toml"'
    )
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def test_demo_spec_is_a_study_against_three_networks():
    spec = load_run_spec(ROOT / "tasks" / "demo.toml")
    assert list(spec.studies) == ["mice"] and not spec.recordings
    files = spec.studies["mice"].options["files"]
    assert len(files) == 18 and len({Path(f).parent.name for f in files}) == 6
    assert spec.compare["networks"] == {"context_dm": ["cdm", "cdm_seed1", "cdm_seed2"]}
    assert spec.compare["model"] is None and spec.compare["n_perm"] >= 19
    assert spec.compare["mapping"]["ground_truth"] == ("choice", {1: "left", 2: "right"})


def test_pair_spec_reads_with_its_mapping():
    spec = load_run_spec(ROOT / "tasks" / "recording_vs_network.toml")
    assert list(spec.recordings["sample"].options["stages"]) == ["early", "late"]
    assert {"choice", "context"} <= set(spec.recordings["sample"].labels)
    mapping = spec.compare["mapping"]
    assert mapping["ground_truth"] == (
        "choice",
        {1: "left", 2: "right"},
    )  # keys typed as the model's
    assert mapping["context"] == ("context", {0: "motion", 1: "color"})


BAD = {
    "missing file": (
        ("sample_late.nwb", "no_such_session.nwb"),
        FileNotFoundError,
        r"stage 'late'.*does not exist",
    ),
    "unknown label": (
        ('by = "choice"', 'by = "lever"'),
        ValueError,
        r"unknown label\(s\) \['lever'\]",
    ),
    "mapping to an unknown label": (
        ('to = "choice"', 'to = "decision"'),
        ValueError,
        r"mapping.ground_truth: maps to 'decision', which is not in on",
    ),
    "mapping from an unknown model label": (
        ("[compare.mapping.ground_truth]", "[compare.mapping.target]"),
        ValueError,
        r"unknown label\(s\) \['target'\] in model 'cdm'",
    ),
    "no shared labels": (
        ('values = { 1 = "left", 2 = "right" }', 'values = { 1 = "up", 2 = "down" }'),
        ValueError,
        r"no shared values of 'choice'",
    ),
    "one stage": (
        (
            'stages = { early = "../data/sample_early.nwb", late = "../data/sample_late.nwb" }',
            'stages = { early = "../data/sample_early.nwb" }',
        ),
        ValueError,
        r"a trajectory needs at least 2 stages; got 1",
    ),
    "one checkpoint": (
        ("steps = [0, 2, 5, 10, 16, 26, 42, 85, 170, 400]", "steps = [400]"),
        ValueError,
        r"at least 2 checkpoints",
    ),
    "period and window": (
        ('period = "decision"', 'period = "decision"\nwindow_s_analysis = [0.3, 0.7]'),
        ValueError,
        r"give period \(a task period\) or window_s_analysis \(seconds\), not both",
    ),
    "unknown key": (
        ("n_boot = 10", "n_bootstrap = 10"),
        ValueError,
        r"unknown key\(s\) \['n_bootstrap'\]",
    ),
    "unknown test stage": (
        ('test_stages = ["early", "late"]', 'test_stages = ["early", "final"]'),
        ValueError,
        r"test_stages: give two stage names",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_spec_is_one_line_and_writes_nothing(tmp_path, case):
    (old, new), exc, match = BAD[case]
    assert old in DEMO, old
    spec = _spec(tmp_path, DEMO.replace(old, new))
    out = tmp_path / "out"
    with pytest.raises(exc, match=match):
        run_pipeline(spec, out)
    assert not out.exists()
    result = CliRunner().invoke(app, ["run", str(spec), "-o", str(out), "--no-progress"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert re.search(match, " ".join(lines[0].split())) or case == "missing file"
    assert not out.exists()


def test_missing_spec_and_output_that_is_a_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="run spec .* does not exist"):
        run_pipeline(tmp_path / "none.toml", tmp_path / "out")
    afile = tmp_path / "taken"
    afile.write_text("x")
    with pytest.raises(ValueError, match="is a file; give a folder"):
        run_pipeline(_spec(tmp_path, DEMO), afile)


def test_stack_sessions_keeps_each_session_on_its_own_trials():
    def session(n, shift):
        data = np.arange(n * 3, dtype=float).reshape(n, 3) + shift
        return make_population(data, dims=("trial", "unit"), quantity="rate_hz",
                               trial_coords={"choice": np.arange(n) % 2})  # fmt: skip

    pop = stack_sessions({"before": session(4, 0.0), "after": session(6, 100.0)})
    assert pop.dims == ("stage", "trial", "unit") and pop.sizes["trial"] == 10
    assert pop["label"].values.tolist() == ["before", "after"]
    assert pop["step"].values.tolist() == [0, 1]
    before, after = pop.sel(stage="before").values, pop.sel(stage="after").values
    assert np.isnan(before[4:]).all() and np.isfinite(before[:4]).all()
    assert np.isnan(after[:4]).all() and after[4, 0] == 100.0
    other = make_population(np.zeros((4, 3)), dims=("trial", "unit"), quantity="rate_hz",
                            unit=[5, 6, 7], trial_coords={"choice": [0, 1, 0, 1]})  # fmt: skip
    with pytest.raises(ValueError, match="other unit ids"):
        stack_sessions({"a": session(4, 0.0), "b": other})


def test_trajectory_reading_warns_at_the_floor():
    import xarray as xr

    from neurogeom.show.learning_report import trajectory_reading

    traj = xr.Dataset(
        {"capacity": ("stage", [0.1, 0.3]), "radius": ("stage", [np.nan, 1.2]),
         "capacity_null_high": ("stage", [0.12, 0.12])},
        coords={"stage": [0, 1], "label": ("stage", ["early", "late"])},
    )  # fmt: skip
    text = trajectory_reading(traj, "x")
    assert "Floor (stages early)" in text and "fewer points per manifold" in text
    assert "at 1 of 2 stages" in text
    assert "Floor" not in trajectory_reading(traj.assign(radius=("stage", [1.0, 1.2])), "x")


def _sessions(rng, n_unit=12, n_trial=40, gains=(0.3, 2.0)):
    """Two sessions of the same units; the choice signal grows from the first to the second."""
    axis = rng.standard_normal(n_unit)
    out = []
    for g in gains:
        choice = np.tile([0, 1], n_trial // 2)
        x = rng.standard_normal((n_trial, n_unit)) + g * np.outer(2 * choice - 1, axis)
        out.append((x, choice))
    return out


FAST = """
[run]
seed = 0
[analysis]
by = "choice"
n_t = 30
n_boot = 2
n_null = 2
n_perm = 2
balance = 10
"""


def test_array_recordings_run_end_to_end(tmp_path):
    rng = np.random.default_rng(0)
    for name, (x, choice) in zip(("before", "after"), _sessions(rng)):
        np.savez(tmp_path / f"{name}.npz", data=x, choice=choice)
    spec = tmp_path / "arrays.toml"
    spec.write_text(FAST + '[recordings.arr]\nformat = "array"\ndims = ["trial", "unit"]\n'
                    'stages = { before = "before.npz", after = "after.npz" }\n')  # fmt: skip
    report = run_pipeline(spec, tmp_path / "out")
    from neurogeom.io.store import load

    traj = load(tmp_path / "out" / "results" / "trajectory_arr.nc")
    assert traj["label"].values.tolist() == ["before", "after"]
    assert float(traj.capacity[1]) > float(traj.capacity[0])  # the choice signal grew
    assert report.read_text().count("data:image/png;base64,") == 1


def test_mat_recordings_run_end_to_end(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(1)
    for name, (x, choice) in zip(("before", "after"), _sessions(rng, n_trial=40)):
        units = [{"response": x[:, u], "task_variable": {"choice": choice.astype(float)}}
                 for u in range(x.shape[1])]  # fmt: skip
        scipy_io.savemat(tmp_path / f"{name}.mat", {"units": units})
    spec = tmp_path / "mat.toml"
    spec.write_text(FAST + '[recordings.mante]\nformat = "mat"\nvariable = "units"\nby = "choice"\n'
                    'stages = { before = "before.mat", after = "after.mat" }\n')  # fmt: skip
    run_pipeline(spec, tmp_path / "out")
    from neurogeom.io.store import load

    traj = load(tmp_path / "out" / "results" / "trajectory_mante.nc")
    assert float(traj.capacity[1]) > float(traj.capacity[0])


def test_trajectory_reading_says_which_measures_move_beyond_their_intervals():
    import xarray as xr

    from neurogeom.show.learning_report import trajectory_reading

    traj = xr.Dataset(
        {"capacity": ("stage", [0.2, 0.3, 0.25]), "capacity_ci_low": ("stage", [0.18, 0.27, 0.1]),
         "capacity_ci_high": ("stage", [0.22, 0.33, 0.4]), "radius": ("stage", [1.0, 1.1, 0.9]),
         "radius_ci_low": ("stage", [0.8, 0.9, 0.7]), "radius_ci_high": ("stage", [1.2, 1.3, 1.1])},
        coords={"stage": [0, 1, 2], "label": ("stage", ["a", "b", "c"])},
    )  # fmt: skip
    text = trajectory_reading(traj, "x")
    moved = text.split("Beyond the 95% intervals")[1].split("Within them")[0]
    assert "capacity 0.2 [0.18, 0.22] -> 0.3 [0.27, 0.33] at b" in moved  # not c: it overlaps
    assert "radius" not in moved
    assert "radius 1 [0.8, 1.2] -> 1.1 [0.9, 1.3] at b" in text.split("Within them")[1]


def test_coding_scheme_runs_along_stages_into_the_report(tmp_path):
    from neurogeom.geometry import coding_scheme
    from neurogeom.io.store import load

    rng = np.random.default_rng(0)
    for name, (x, choice) in zip(("before", "after"), _sessions(rng)):
        np.savez(tmp_path / f"{name}.npz", data=x, choice=choice)
    spec = tmp_path / "arrays.toml"
    spec.write_text(FAST.replace("balance = 10", "balance = 10\ncoding = true")
                    + '[recordings.arr]\nformat = "array"\ndims = ["trial", "unit"]\n'
                    'stages = { before = "before.npz", after = "after.npz" }\n')  # fmt: skip
    report = run_pipeline(spec, tmp_path / "out")
    ds = load(tmp_path / "out" / "results" / "coding_arr.nc")
    pop = load(tmp_path / "out" / "results" / "prepared_arr.nc")
    assert ds.sizes["stage"] == 2
    for i in range(2):  # the stage's scores are those of the measure on that stage's points
        one = pop.isel(stage=i)
        if "time" in one.dims:
            one = one.mean("time")
        direct = coding_scheme(one.values, one["choice"].values)
        assert float(ds.coding_fraction[i]) == pytest.approx(float(direct.coding_fraction))
        assert str(ds.scheme.values[i]) == str(direct.scheme.values)
    html = report.read_text()
    assert "Coding scheme of &#x27;arr&#x27;" in html or "Coding scheme of 'arr'" in html
    assert html.count("data:image/png;base64,") == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(spec.read_text().replace("coding = true", 'coding = "yes"'))
    with pytest.raises(ValueError, match="coding must be true or false"):
        run_pipeline(bad, tmp_path / "out_bad")
