"""Every spec is checked whole before anything is computed or written.

Each bad value of a run, training or sweep spec exits non-zero with a one-line error naming the
section and the key, and the output location does not exist afterwards. The constraints are
shared with the functions the values feed (:mod:`neurogeom._params`), so a function and a spec
refuse the same value with the same words.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.geometry import glue
from neurogeom.learning import compare_trajectories, learning_stages, stage_difference
from neurogeom.learning.measure import measure_geometry
from neurogeom.population import make_population
from neurogeom.specs.run import parse_analysis
from neurogeom.workflows.preflight import load_run_spec, load_spec
from tests._specs import TINY_SPEC, spec_toml

ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "tasks" / "demo.toml").read_text()


def _run_spec(tmp_path: Path, text: str) -> Path:
    """The demo spec rewritten into tmp_path, its relative paths made absolute."""
    text = text.replace('"../data/', f'"{ROOT}/data/').replace(
        '"context_dm.toml"', f'"{ROOT}/tasks/context_dm.toml"'
    )
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return path


def _one_line_error(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert lines and lines[-1].startswith("error:"), result.output
    return " ".join(lines[-1].split())


# (old, new) in tasks/demo.toml -> the message `neurogeom run` now gives, before writing
RUN = {
    "S04 balance": (
        ("balance = 20", "balance = -3"),
        r"\[analysis\] balance must be true, false or an integer >= 2 \(points per manifold\); "
        r"got -3\.",
    ),
    "n_boot = 1": (
        ("n_boot = 10", "n_boot = 1"),
        r"spec\.toml: \[analysis\] n_boot must be 0 \(no interval\) or at least 2; got 1\.",
    ),
    "n_null negative": (
        ("n_null = 10", "n_null = -1"),
        r"\[analysis\] n_null must be 0 \(no p-value\) or a positive integer; got -1\.",
    ),
    "n_t zero": (("n_t = 100", "n_t = 0"), r"\[analysis\] n_t must be a positive integer; got 0\."),
    "n_t text": (
        ("n_t = 100", 'n_t = "100"'),
        r"\[analysis\] n_t must be an integer; got '100' \(a string\)",
    ),
    "confidence": (
        ("confidence = 0.95", "confidence = 95"),
        r"\[analysis\] confidence must be a number in \(0, 1\), e\.g\. 0\.95; got 95",
    ),
    "S05 n_t memory": (
        ("n_t = 100", "n_t = 1000000000"),
        r"n_t = 1000000000 would need about [\d.,]+ GiB for its Monte-Carlo samples .* "
        r"lower n_t",
    ),
    "S09 unknown measure": (
        ('measure = "glue"', 'measure = "capacity"'),
        r"\[analysis\] measure: unknown measure 'capacity' \(nearest: .*\); registered measures",
    ),
    "S11 within = by": (
        ('within = ["context"]', 'within = ["choice"]'),
        r"\[analysis\]: within repeats by = 'choice'",
    ),
    "S32 missing checkpoints": (
        ("steps = [0, 2, 5, 10, 16, 26, 42, 85, 170, 400]", "steps = [0, 3, 999]"),
        r"\[models\.cdm\]: no checkpoints at steps \[3, 999\] in .*context_dm_checkpoints'; its "
        r"checkpoints are at steps \[0, 1, 2, 4",
    ),
    "S36 value map covers part": (
        ('values = { 1 = "left", 2 = "right" }', 'values = { 1 = "left", 3 = "right" }'),
        r"\[compare\.mapping\.ground_truth\] values: maps \['3'\], which the model's "
        r"'ground_truth' never takes; leaves the model's values \[2\] unmapped",
    ),
    "S36 value map covers nothing": (
        ('values = { 1 = "left", 2 = "right" }', 'values = { left = "left", right = "right" }'),
        r"\[compare\.mapping\.ground_truth\] values: maps \['left', 'right'\], none of which is a "
        r"value of the model's 'ground_truth'; its values are \[1, 2\]",
    ),
    "unknown key": (
        ("n_boot = 10", "n_bot = 10"),
        r"\[analysis\]: unknown key\(s\) \['n_bot'\] \(did you mean 'n_boot'\?\)",
    ),
}


@pytest.mark.parametrize("case", list(RUN))
def test_run_spec_refuses_bad_values_before_writing(tmp_path, case):
    (old, new), match = RUN[case]
    assert old in DEMO, old
    spec = _run_spec(tmp_path, DEMO.replace(old, new))
    out = tmp_path / "out"
    message = _one_line_error(["run", str(spec), "-o", str(out), "--no-progress"])
    assert re.search(match, message), message
    assert not out.exists()


def test_run_spec_warns_when_no_p_value_can_be_significant(tmp_path):
    with pytest.warns(UserWarning, match=r"n_perm = 5: the smallest p-value .* Use n_perm >= 19"):
        parse_analysis({"by": "choice", "n_perm": 5})


def test_c48_a_folder_as_the_spec(tmp_path):
    folder = tmp_path / "specdir"
    folder.mkdir()
    out = tmp_path / "out"
    message = _one_line_error(["run", str(folder), "-o", str(out), "--no-progress"])
    assert re.search(r"run spec '.*specdir' is a folder; give the TOML file", message), message
    assert not out.exists()


def _tiny_task(tmp_path: Path, **sections: dict) -> Path:
    spec = {k: dict(v) for k, v in TINY_SPEC.items()}
    for name, table in sections.items():
        spec[name] = {**spec.get(name, {}), **table}
    path = tmp_path / "tiny.toml"
    path.write_text(spec_toml(spec))
    return path


def _model_run_spec(tmp_path: Path, values: str) -> Path:
    """The demo spec with its model trained from a task spec with no [analysis.conditions]."""
    task = _tiny_task(tmp_path, analysis={"labels": ["ground_truth", "context"]})
    text = DEMO.replace('run = "../data/context_dm_checkpoints"', f'run = "{tmp_path}/fresh"')
    text = text.replace('task = "context_dm.toml"', f'task = "{task}"')
    text = text.replace("steps = [0, 2, 5, 10, 16, 26, 42, 85, 170, 400]", "steps = [0, 40]")
    text = text.replace('values = { 1 = "left", 2 = "right" }', values)
    return _run_spec(tmp_path, text)


def test_s36b_value_map_keys_typed_from_the_trial_bank(tmp_path):
    spec = load_run_spec(_model_run_spec(tmp_path, 'values = { 1 = "left", 2 = "right" }'))
    assert spec.models["cdm"].values["ground_truth"] == [1, 2]
    target, vmap = spec.compare["mapping"]["ground_truth"]
    assert (target, vmap) == ("choice", {1: "left", 2: "right"})
    assert not (tmp_path / "fresh").exists()


def test_s36b_partial_map_named_against_the_trial_bank(tmp_path):
    spec = _model_run_spec(tmp_path, 'values = { 1 = "left", 3 = "right" }')
    out = tmp_path / "out"
    message = _one_line_error(["run", str(spec), "-o", str(out), "--no-progress"])
    assert "leaves the model's values [2] unmapped" in message, message
    assert not out.exists() and not (tmp_path / "fresh").exists()


# -- training and sweep specs --------------------------------------------------------------------

TRAIN = {
    "S15 n_units memory": (
        {"network": {"n_units": 1000000}},
        r"network\.n_units = 1000000: its recurrent weights, their gradients and the optimiser's "
        r"state need about [\d.,]+ GiB, more than the [\d.,]+ GiB allowed; use fewer units",
    ),
    "n_units zero": ({"network": {"n_units": 0}}, r"network\.n_units must be a positive integer"),
    "seed": (
        {"training": {"seed": -1}},
        r"training\.seed must be a non-negative integer; got -1",
    ),
    "n_steps": ({"training": {"n_steps": 0}}, r"training\.n_steps must be a positive integer"),
    "lr text": ({"training": {"lr": "0.003"}}, r"training\.lr must be a number; got '0\.003'"),
    "unknown key": (
        {"training": {"n_step": 5}},
        r"unknown key\(s\) \['n_step'\] in \[training\] \(did you mean 'n_steps'\?\)",
    ),
}


@pytest.mark.parametrize("case", list(TRAIN))
def test_train_spec_refuses_bad_values_before_the_run_folder(tmp_path, case):
    sections, match = TRAIN[case]
    spec = _tiny_task(tmp_path, **sections)
    out = tmp_path / "run"
    message = _one_line_error(["train", str(spec), "-o", str(out), "--no-progress"])
    assert re.search(match, message), message
    assert not out.exists()


SWEEP = {
    "seed": ({"seed": [0, -1]}, r"training\.seed must be a non-negative integer; got -1"),
    "rank": ({"rank": [1, 0]}, r"rank must be an integer in 1\.\.n_units=32 or 'full'; got 0"),
    "lr": ({"lr": [0.01, 0.0]}, r"training\.lr must be > 0; got 0\.0"),
}


@pytest.mark.parametrize("case", list(SWEEP))
def test_sweep_spec_refuses_bad_values_before_the_store(tmp_path, case):
    sweep, match = SWEEP[case]
    spec = _tiny_task(tmp_path, sweep=sweep)
    out = tmp_path / "sweep.zarr"
    message = _one_line_error(["sweep", str(spec), "-o", str(out), "--no-progress"])
    assert re.search(match, message), message
    assert not out.exists()


def test_s26_a_byte_order_mark_is_read(tmp_path):
    path = _tiny_task(tmp_path)
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    spec = load_spec(path)
    assert spec["network"]["n_units"] == 32
    bad = _tiny_task(tmp_path, training={"seed": -1})
    bad.write_bytes(b"\xef\xbb\xbf" + bad.read_bytes())
    out = tmp_path / "run"
    message = _one_line_error(["train", str(bad), "-o", str(out), "--no-progress"])
    assert "training.seed must be a non-negative integer" in message, message
    assert not out.exists()


# -- the same constraints at the functions' boundaries -------------------------------------------


def _stages_pop(seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(2, 40, 6))
    data[:, :20] += 1.5
    return make_population(
        data,
        dims=("stage", "trial", "unit"),
        quantity="rate_hz",
        trial_coords={"choice": np.repeat(["left", "right"], 20)},
        stage=["before", "after"],
    )


def _traj(values: list[float]) -> xr.Dataset:
    v = np.asarray(values, dtype=float)
    return xr.Dataset(
        {"capacity": ("stage", v), "radius": ("stage", 2 - v)},
        coords={"stage": np.arange(len(v)), "step": ("stage", np.arange(len(v)) * 10)},
    )


def test_l11_stage_difference_refuses_n_boot_1_with_the_spec_words():
    with pytest.raises(
        ValueError,
        match=r"^stage_difference: n_boot must be 0 \(no interval\) or at least 2; got 1\.$",
    ):
        stage_difference(_stages_pop(), "choice", n_boot=1, n_t=20)
    with pytest.raises(ValueError, match=r"n_boot must be 0 \(no interval\) or at least 2; got 1"):
        parse_analysis({"by": "choice", "n_boot": 1})


def test_l09_stage_difference_names_the_nearest_output():
    with pytest.raises(
        ValueError,
        match=r"no output 'capacty' of measure 'glue' \(did you mean 'capacity'\?\); the "
        r"available ones are \['capacity', ",
    ):
        stage_difference(_stages_pop(), "choice", "capacty", n_t=20)


def test_l40_compare_trajectories_n_grid_and_n_perm():
    a, b = _traj([0.1, 0.2, 0.4]), _traj([0.1, 0.3, 0.5])
    with pytest.raises(ValueError, match=r"compare_trajectories: n_grid must be an integer >= 2"):
        compare_trajectories(a, b, ["capacity"], n_grid=1)
    with pytest.raises(
        ValueError, match=r"compare_trajectories: n_perm must be 0 \(no p-value\) or a positive"
    ):
        compare_trajectories(a, b, ["capacity"], n_perm=-1)


def test_l37_compare_trajectories_names_a_missing_output():
    a, b = _traj([0.1, 0.2, 0.4]), _traj([0.1, 0.3, 0.5])
    with pytest.raises(
        ValueError,
        match=r"no output 'curvature' in both trajectories; the available ones are "
        r"\['capacity', 'radius'\]",
    ):
        compare_trajectories(a, b, ["capacity", "curvature"], n_perm=0)
    res = compare_trajectories(a, b, "capacity", n_perm=0)  # one name, not its letters
    assert list(res["output"].values) == ["capacity"]


def test_l27_learning_stages_takes_one_measure_name_as_a_string():
    traj = _traj([0.1, 0.1, 0.1, 0.5, 0.5, 0.5])
    traj["capacity_sem"] = ("stage", np.full(6, 0.01))
    traj["radius_sem"] = ("stage", np.full(6, 0.01))
    one = learning_stages(traj, measures="capacity")
    assert list(one.attrs["measures_used"]) == ["capacity"]


def test_a110_glue_refuses_n_t_beyond_memory():
    x = np.random.default_rng(0).normal(size=(48, 10))
    y = np.repeat([0, 1, 2, 3], 12)
    with pytest.raises(
        ValueError, match=r"glue\(\): n_t = 1000000000 would need about [\d.,]+ GiB .* lower n_t"
    ):
        glue(x, y, n_t=10**9)


def test_x26_options_for_a_measure_not_requested():
    pop = _stages_pop().isel(stage=0)
    with pytest.raises(
        TypeError,
        match=r"options given for \['mftma'\], which is not among the requested measures "
        r"\['glue'\]",
    ):
        measure_geometry(pop, by="choice", measures=["glue"], mftma={"n_t": 5})
