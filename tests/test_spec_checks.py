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
from neurogeom.geometry import glue, mftma, simulated_capacity
from neurogeom.learning import (
    compare_trajectories,
    learning_stages,
    match_conditions,
    stage_difference,
    trajectory,
)
from neurogeom.learning.measure import measure_geometry
from neurogeom.population import make_population
from neurogeom.specs.run import parse_analysis, spec_kind
from neurogeom.workflows.preflight import load_run_spec, load_spec
from tests._specs import TINY_SPEC, spec_toml

ROOT = Path(__file__).resolve().parents[1]
DEMO = (ROOT / "tasks" / "recording_vs_network.toml").read_text()  # one recording, one network


def _run_spec(tmp_path: Path, text: str) -> Path:
    """A bundled spec rewritten into tmp_path, its relative paths made absolute."""
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


# (old, new) in tasks/recording_vs_network.toml -> the message `neurogeom run` now gives, before writing
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
    "n_t one": (("n_t = 100", "n_t = 1"), r"\[analysis\] n_t must be an integer >= 2; got 1\."),
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
    "compare kind": (
        ('kind = "fraction"', 'kind = "fractoin"'),
        r"\[compare\] kind must be 'fraction' or 'performance'; got 'fractoin'\.",
    ),
    "compare n_perm": (
        ('kind = "fraction"\nn_perm = 20', 'kind = "fraction"\nn_perm = -5'),
        r"\[compare\] n_perm must be 0 \(no p-value\) or a positive integer; got -5\.",
    ),
    "compare measures text": (
        (
            'measures = ["cka_similarity", "rsa_similarity", "procrustes_distance"]',
            'measures = "cka_similarity"',
        ),
        r"\[compare\] measures must be a list of strings; got 'cka_similarity' \(a string\)\.",
    ),
    "compare mapping key": (
        ('to = "choice"', 'too = "choice"'),
        r"\[compare\] mapping\.ground_truth: unknown key\(s\) \['too'\] \(did you mean 'to'\?\)",
    ),
    "run n_jobs": (
        ("n_jobs = 2 ", "n_jobs = 0 "),
        r"\[run\] n_jobs must be a positive integer or -1 \(every core\); got 0\.",
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
    "network type": (
        {"network": {"type": "lstm"}},
        r"network\.type must be one of \['ctrnn', 'gru'\]; got 'lstm'\.",
    ),
    "sparsity": (
        {"network": {"sparsity": 1.0}},
        r"network\.sparsity must be in \[0, 1\); got 1\.0\.",
    ),
    "optimizer": (
        {"training": {"optimizer": "adamw"}},
        r"training\.optimizer must be 'adam' or 'sgd'; got 'adamw'\.",
    ),
    "checkpoint schedule": (
        {"checkpoints": {"schedule": "linear"}},
        r"checkpoints\.schedule must be 'log' or 'list'; got 'linear'\.",
    ),
    "analysis seed": (
        {"analysis": {"geometry_seed": -2}},
        r"analysis\.geometry_seed must be a non-negative integer; got -2\.",
    ),
    "task name": ({"task": {"name": 3}}, r"\[task\] name must be a string; got 3 \(an integer\)\."),
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
    "not a list": (
        {"seed": 3},
        r"\[sweep\] seed must be a list \(or omitted\); got 3 \(an integer\)\.",
    ),
    "g": ({"g": [1.0, -0.5]}, r"network\.g must be >= 0; got -0\.5\."),
}


@pytest.mark.parametrize("case", list(SWEEP))
def test_sweep_spec_refuses_bad_values_before_the_store(tmp_path, case):
    sweep, match = SWEEP[case]
    spec = _tiny_task(tmp_path, sweep=sweep)
    out = tmp_path / "sweep.zarr"
    message = _one_line_error(["sweep", str(spec), "-o", str(out), "--no-progress"])
    assert re.search(match, message), message
    assert not out.exists()


# -- the other kinds that `neurogeom run` takes, told apart by one sniffer ------------------------

KINDS = {
    "rank_sweep": (
        {"sweep": {"rank": [1, "half"], "seed": [0]}},
        r"rank must be an integer in 1\.\.n_units=32 or 'full'; got 'half'",
    ),
    "lazy_rich": (
        ("lazy_rich_digits.toml", "n_t = 200", "n_t = 1"),
        r"\[analysis\] n_t must be an integer >= 2; got 1\.",
    ),
    "lazy_rich severities": (
        ("lazy_rich_digits.toml", "severities = [1, 2, 3, 4, 5]", "severities = [1, 9]"),
        r"\[ood\] severities must be in 1\.\.5; got 9\.",
    ),
    "lazy_rich architecture": (
        ("lazy_rich_digits.toml", "[architectures.mlp]\n", "[architectures.mlp]\nwidth = 3\n"),
        r"\[architectures\.mlp\]: unknown key\(s\) \['width'\] \(did you mean 'widths'\?\)",
    ),
    "pullback": (
        ("pullback_sine.toml", "quantile = 0.2", "quantile = 0.7"),
        r"\[pullback\] quantile must be in \(0, 0\.5\]; got 0\.7\.",
    ),
    "pullback type": (
        ("pullback_sine.toml", "n_grid = 101", 'n_grid = "101"'),
        r"\[pullback\] n_grid must be an integer; got '101' \(a string\)",
    ),
}


@pytest.mark.parametrize("case", list(KINDS))
def test_every_spec_kind_refuses_bad_values_before_writing(tmp_path, case):
    change, match = KINDS[case]
    if isinstance(change, dict):
        spec = _tiny_task(tmp_path, **change)
    else:
        name, old, new = change
        text = (ROOT / "tasks" / name).read_text()
        assert old in text, old
        spec = tmp_path / name
        spec.write_text(text.replace(old, new, 1))
    out = tmp_path / "out"
    message = _one_line_error(["run", str(spec), "-o", str(out), "--no-progress"])
    assert re.search(match, message), message
    assert not out.exists()


def test_spec_kind_is_decided_in_one_place(tmp_path):
    assert spec_kind({"task": {"name": "x"}, "sweep": {"rank": [1]}}) == "rank_sweep"
    assert spec_kind({"task": {"name": "x"}, "sweep": {"seed": [1]}}) == "train"
    assert spec_kind({"pullback": {}}) == "pullback"
    assert spec_kind({"lazy_rich": {}}) == "lazy_rich"
    assert spec_kind({"recordings": {}}) == "run"
    with pytest.raises(
        ValueError, match=r"tiny\.toml: a training spec \(\[task\]\), not a run spec: train it"
    ):
        load_run_spec(_tiny_task(tmp_path))


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


def _points() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(24, 8)), np.repeat([0, 1, 2], 8)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda x, y: mftma(x, y, n_t=1), r"^mftma: n_t must be an integer >= 2; got 1\.$"),
        (lambda x, y: mftma(x, y, seed=-1), r"^mftma: seed must be a non-negative integer"),
        (
            lambda x, y: simulated_capacity(x, y, seed=-1),
            r"^simulated_capacity: seed must be a non-negative integer; got -1\.$",
        ),
        (
            lambda x, y: simulated_capacity(x, y, confidence=1.5),
            r"^simulated_capacity: confidence must be a number in \(0, 1\), e\.g\. 0\.95; got 1\.5",
        ),
        (
            lambda x, y: simulated_capacity(x, y, n_dichotomies=0),
            r"^simulated_capacity: n_dichotomies must be a positive integer; got 0\.$",
        ),
    ],
)
def test_measures_check_their_counts_with_the_spec_words(call, match):
    with pytest.raises(ValueError, match=match):
        call(*_points())


def test_trajectory_and_measure_geometry_check_their_counts():
    pop = _stages_pop()
    with pytest.raises(ValueError, match=r"^trajectory: seed must be a non-negative integer"):
        trajectory(pop, "choice", seed=-1, n_t=20)
    with pytest.raises(
        ValueError, match=r"^trajectory: n_jobs must be a positive integer or -1 \(every core\)"
    ):
        trajectory(pop, "choice", n_jobs=0, n_t=20)
    with pytest.raises(ValueError, match=r"^measure_geometry: seed must be a non-negative integer"):
        measure_geometry(pop, by="choice", seed=-1)


def test_match_conditions_reads_value_map_keys_by_their_text():
    brain = _stages_pop().isel(stage=0)
    rng = np.random.default_rng(1)
    model = make_population(
        rng.normal(size=(40, 6)),
        dims=("trial", "unit"),
        quantity="rate_hz",
        trial_coords={"ground_truth": np.repeat([1, 2], 20)},
    )
    by_text = {"ground_truth": ("choice", {"1": "left", "2": "right"})}  # TOML's string keys
    by_value = {"ground_truth": ("choice", {1: "left", 2: "right"})}
    b, m = match_conditions(brain, model, "choice", by_text)
    b2, m2 = match_conditions(brain, model, "choice", by_value)
    assert (
        m["choice"].values.tolist()
        == m2["choice"].values.tolist()
        == ["left"] * 20 + ["right"] * 20
    )
    assert b.sizes == b2.sizes
