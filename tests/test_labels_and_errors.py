"""Labels that look alike, stages whose labels differ, and errors raised in workers, in words."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

import neurogeom as ng
from neurogeom.cli import app
from neurogeom.geometry import glue
from neurogeom.learning import stack_sessions, stage_difference, trajectory
from neurogeom.learning.compare import match_conditions
from neurogeom.learning.prepare import resample_pseudopopulation
from neurogeom.parallel import parallel_map
from neurogeom.population import check_labels, make_population

RNG = np.random.default_rng(0)


def _pop(labels, name="choice", n_unit=10, **extra):
    x = np.random.default_rng(len(labels)).normal(size=(len(labels), n_unit))
    return ng.from_array(x, dims=("trial", "unit"), trial_coords={name: labels, **extra})


def _staged(late=None, mid=True):
    sessions = {"early": _pop(["left", "right"] * 8)}
    if mid:
        sessions["mid"] = _pop(["left", "right"] * 8)
    sessions["late"] = _pop(late or ["left", "right"] * 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return stack_sessions(sessions)


def _messages(record) -> str:
    return "\n".join(str(w.message) for w in record)


# ---- labels that look alike (A23, A24, A25) -----------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "match"),
    [
        (  # A23
            [0.1 + 0.2] * 6 + [0.3] * 6 + [2.0] * 6,
            r"'choice' has values equal to rounding error: 0\.3 and 0\.30000000000000004.*"
            r"round them: pop\.assign_coords\(choice=pop\['choice'\]\.round\(9\)\)",
        ),
        (  # A24
            ["left"] * 6 + ["left "] * 6 + ["right"] * 6,
            r"differ only by surrounding whitespace: 'left' and 'left '.*str\.strip\(\)",
        ),
        (  # A25
            ["left"] * 6 + ["Left"] * 6 + ["right"] * 6 + ["RIGHT"] * 6,
            r"differ only in case: 'Left' and 'left'; 'RIGHT' and 'right'.*str\.lower\(\)",
        ),
    ],
    ids=["A23-float-rounding", "A24-whitespace", "A25-case"],
)
def test_look_alike_labels_warn_naming_them_and_the_merge(labels, match):
    pop = _pop(labels)
    with pytest.warns(UserWarning, match=match):
        pop.ng.manifolds(by="choice")
    with pytest.warns(UserWarning, match=match):
        pop.ng.glue(by="choice", n_t=10)


def test_distinct_labels_do_not_warn():
    pop = _pop([0.1, 0.2, 0.3] * 6, context=["a", "b", "B "] * 6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_labels(pop, "choice")
        pop.ng.manifolds(by="choice")


def test_whitespace_and_case_together_are_named_once_each():
    pop = _pop(["left", "left ", "Left"] * 6)
    with pytest.warns(UserWarning) as record:
        check_labels(pop, ["choice", "not_a_label"])
    text = _messages(record)
    assert "'left' and 'left '" in text
    assert "'Left' and 'left'" in text


# ---- labels that are not scalars, a time coord that is not seconds (A31, A39) -------------------


def test_a_dict_per_trial_is_a_type_error_naming_the_label():  # A31
    labels = [{"side": "left"}, {"side": "right"}] * 6
    with pytest.raises(TypeError, match=r"label 'choice' holds dict values.*must be scalars"):
        _pop(labels)
    pop = _pop(["a", "b"] * 6).assign_coords(choice=("trial", np.array(labels, dtype=object)))
    with pytest.raises(TypeError, match=r"label 'choice' holds dict values"):
        pop.ng.glue(by="choice", n_t=10)


def test_a_timedelta_time_coord_is_refused_asking_for_seconds():  # A39
    td = pd.to_timedelta(np.arange(5) * 50, unit="ms")
    x = RNG.normal(size=(12, 5, 4))
    with pytest.raises(TypeError, match=r"'time' coord holds timedelta64.*give time in seconds"):
        ng.from_array(x, dims=("trial", "time", "unit"), trial_coords={"c": [0, 1] * 6}, time=td)
    ok = make_population(
        x, dims=("trial", "time", "unit"), quantity="continuous", time=td / np.timedelta64(1, "s")
    )
    with pytest.raises(TypeError, match="give time in seconds"):
        ng.validate(ok.assign_coords(time=td))


# ---- the index of an error, in words (A53, L03, L52, C20, C21) ----------------------------------


def test_a_split_value_with_one_trial_is_named():  # A53
    pop = _pop([0, 1] * 12 + [0], context=[0] * 12 + [1] * 12 + [9])
    with pytest.raises(ValueError, match=r"^split context=9: 1 manifold\(s\) have fewer than 2"):
        pop.ng.glue(by="choice", split="context", n_t=10)


def test_an_all_nan_stage_is_named():  # L03
    pop = _staged().copy()
    pop.values[1] = np.nan
    with pytest.raises(ValueError, match=r"^stage 'mid': every point has missing \(NaN\)"):
        trajectory(pop, by="choice", n_boot=0, n_perm=0, n_t=10)


def test_a_stage_with_one_manifold_names_the_stage_and_the_label_value():  # L52
    with pytest.raises(ValueError) as info:
        with pytest.warns(UserWarning, match=r"stage 'late' has none"):
            trajectory(_staged(["left"] * 16), by="choice", n_boot=0, n_perm=0, n_t=10)
    assert str(info.value).startswith("stage 'late': only 1 manifold (choice=left)")
    assert "array" not in str(info.value) and "_Task" not in str(info.value)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--n-t", "0"], "error: glue() needs n_t to be an integer >= 2; got 0."),  # C20
        (
            ["--seed", "-1"],
            "error: measure_geometry: seed must be a non-negative integer; got -1.",
        ),  # C21
    ],
)
def test_cli_prints_the_measure_s_own_message(tmp_path, option, message):
    ng.save(_pop(["a", "b"] * 12), tmp_path / "pop.nc")
    args = ["capacity", str(tmp_path / "pop.nc"), "--by", "choice", *option]
    res = CliRunner().invoke(app, [*args, "-o", str(tmp_path / "c.nc")])
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == message
    assert not (tmp_path / "c.nc").exists()


def _fails_on_three(x):
    if x == 3:
        raise ValueError("three is not allowed")
    return x


def test_parallel_map_names_items_in_words_never_by_an_array_repr():
    with pytest.raises(ValueError, match=r"^bootstrap replicate 3: three is not allowed$"):
        parallel_map(_fails_on_three, [1, 2, 3], describe=lambda i: f"bootstrap replicate {i}")
    with pytest.raises(ValueError, match=r"^three is not allowed$"):  # one computation: as is
        parallel_map(_fails_on_three, [3], describe=lambda i: "")
    with pytest.raises(ValueError, match=r"^item 1: three is not allowed$"):
        parallel_map(lambda a: _fails_on_three(int(a[0])), [np.ones(50), np.full(50, 3.0)])


def test_replicate_errors_name_the_replicates():
    def boom(batch):
        raise ValueError("bad draw")

    from neurogeom.learning.trajectories import _fan_out

    with pytest.raises(ValueError, match=r"^subsample replicates 0-3: bad draw$"):
        _fan_out(boom, 4, 1, "subsample replicate")


# ---- degenerate points (N10, N17) ---------------------------------------------------------------


def test_all_zero_but_one_tiny_value_is_refused_like_all_zero():  # N10
    labels = np.repeat([0, 1], 12)
    z = np.zeros((24, 10))
    with pytest.raises(ValueError, match="all zero"):
        glue(z, labels, n_t=10)
    z[0, 0] = 1e-300
    with pytest.raises(ValueError, match=r"all but one \(row 0\) are identical"):
        glue(z, labels, n_t=10)


def test_identical_manifolds_warn():  # N17
    x = RNG.normal(size=(48, 10))
    labels = np.repeat(["a", "b", "silent1", "silent2"], 12)
    x[12 * 2 :] = 0.0
    with pytest.warns(RuntimeWarning, match=r"manifolds 'silent1' and 'silent2' hold identical"):
        glue(x, labels, n_t=10)


# ---- stages and sessions whose labels differ (L05, L50, L53, L54, L55, L62, X14) ----------------


def test_a_stage_compared_with_itself_is_an_error():  # L05
    with pytest.raises(ValueError, match=r"two different stages; 'early' and 'early' are the same"):
        stage_difference(_staged(), by="choice", stages=("early", "early"), n_boot=2, n_perm=2)


def test_stack_sessions_of_a_list_asks_for_a_mapping():  # L50
    with pytest.raises(TypeError, match=r"mapping of session name -> tensor.*got a list"):
        stack_sessions([_pop(["a", "b"] * 4), _pop(["a", "b"] * 4)])


def test_stages_with_other_label_values_are_named():  # L53
    staged = _staged(["Left", "Right"] * 8, mid=False)
    want = (
        r"values of 'choice' not at every stage: stage 'early' has \['left', 'right'\], "
        r"stage 'late' has \['Left', 'Right'\]"
    )
    with pytest.warns(UserWarning, match=want):
        trajectory(staged, by="choice", n_boot=0, n_perm=0, n_t=10)
    with pytest.warns(UserWarning, match=want):
        stage_difference(staged, by="choice", stages=("early", "late"), n_boot=2, n_perm=2, n_t=5)


def test_stack_sessions_names_a_dropped_label_and_its_session():  # L54
    early = _pop(["left", "right"] * 8, context=[0, 0, 1, 1] * 4)
    with pytest.warns(
        UserWarning, match=r"trial label 'context' is dropped: session\(s\) \['late'\]"
    ):
        stacked = stack_sessions({"early": early, "late": _pop(["left", "right"] * 8)})
    assert "context" not in stacked.coords


def test_stack_sessions_of_staged_tensors_is_refused():  # L55
    with pytest.raises(ValueError, match=r"session 'a' already has a 'stage' dim \(3 stages\)"):
        stack_sessions({"a": _staged(), "b": _staged()})


def test_two_mappings_onto_one_label_is_an_error():  # L62
    brain = _pop(["left", "right"] * 8)
    model = _pop([0, 1] * 8, name="ground_truth", context=[0, 0, 1, 1] * 4)
    values = {0: "left", 1: "right"}
    with pytest.raises(ValueError, match=r"\['ground_truth', 'context'\] all to 'choice'"):
        match_conditions(
            brain,
            model,
            by="choice",
            mapping={"ground_truth": ("choice", values), "context": ("choice", values)},
        )


@pytest.mark.parametrize(
    ("second", "shown"),
    [
        (["a", "c"], r"\['0 \(a\)', '1 \(c\)'\] but session 0 has \['0 \(a\)', '1 \(b\)'\]"),
        (["b", "a"], r"\['0 \(b\)', '1 \(a\)'\] but session 0 has \['0 \(a\)', '1 \(b\)'\]"),
    ],
)
def test_pseudopopulation_of_sessions_with_other_stages_names_them(second, shown):  # X14
    def session(names):
        x = RNG.normal(size=(2, 8, 5))
        return make_population(
            x,
            dims=("stage", "trial", "unit"),
            quantity="continuous",
            trial_coords={"choice": [0, 1] * 4},
            stage_coords={"label": names},
        )

    with pytest.raises(ValueError, match=shown):
        resample_pseudopopulation([session(["a", "b"]), session(second)], "choice")


# ---- a filter value of the wrong type (X30) -----------------------------------------------------


def test_trial_filter_string_on_an_integer_column_says_so(tmp_path: Path):  # X30
    from pynwb import NWBHDF5IO, NWBFile

    nwb = NWBFile(
        session_description="test",
        identifier="x30",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwb.add_trial_column(name="is_good", description="1 if good")
    for i in range(6):
        nwb.add_trial(start_time=2.0 * i, stop_time=2.0 * i + 1.5, is_good=i % 2)
    nwb.add_unit(spike_times=np.arange(0, 12, 0.1))
    path = tmp_path / "x30.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    kwargs = {"align": "start_time", "window_s": (0, 1), "bin_size_s": 0.5}
    with pytest.raises(
        ValueError,
        match=r"trial_filter\['is_good'\] = '1' gives strings, but column 'is_good' holds "
        r"integers \(values \[0, 1\]\).*trial_filter=\{'is_good': 0\}",
    ):
        ng.read_nwb(path, trial_filter={"is_good": "1"}, **kwargs)
    assert ng.read_nwb(path, trial_filter={"is_good": 1}, **kwargs).sizes["trial"] == 3


def test_plain_xarray_tensor_measures_like_a_built_one():
    pop = _pop(["a", "b"] * 12)
    plain = xr.DataArray(pop.values, dims=pop.dims, coords={"choice": ("trial", pop.choice.values)})
    plain.attrs["quantity"] = "continuous"
    a = pop.ng.glue(by="choice", n_t=10)
    b = plain.ng.glue(by="choice", n_t=10)
    np.testing.assert_allclose(a.capacity, b.capacity)
