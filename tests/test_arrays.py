"""from_array, from_unit_trials, read_mat and read_golub."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.io.arrays import from_array, from_unit_trials, read_golub, read_mat


def test_from_array_transposes_to_the_contract_order_and_keeps_labels():
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4).astype(float)  # (unit, time, trial)
    pop = from_array(
        data,
        ("unit", "time", "trial"),
        trial_coords={"context": ["a", "b", "a", "b"], "ok": [True, False, True, True]},
        time=[0.0, 0.1, 0.2],
        unit=["n1", "n2"],
        bin_size_s=0.1,
    )
    assert pop.dims == ("trial", "time", "unit")
    assert pop.sel(unit="n2").values[3, 1] == data[1, 1, 3]
    assert pop["ok"].dtype == bool and pop["context"].values.tolist() == ["a", "b", "a", "b"]
    assert pop.attrs["quantity"] == "continuous"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"trial_coords": {"context": ["a", "b", "c"]}},
            r"trial coord 'context' has shape \(3,\).*4 along 'trial'",
        ),
        ({"unit_coords": {"area": ["x"]}}, r"unit coord 'area'.*2 along 'unit'"),
        ({"time": [0.0, 0.1]}, r"coord 'time'.*3 along 'time'"),
        ({"dims": ("neuron", "time", "trial")}, "Use 'unit' for neurons"),
        ({"dims": ("unit", "trial")}, "data has 3 axes"),
        ({"stage_coords": {"label": ["x"]}}, "no 'stage'"),
    ],
)
def test_from_array_wrong_lengths_and_names_are_clear_errors(kwargs, match):
    kwargs = {"dims": ("unit", "time", "trial"), **kwargs}
    with pytest.raises(ValueError, match=match):
        from_array(np.zeros((2, 3, 4)), **kwargs)


def mante_like_units(rng, n_units=5):
    """Each unit with its own trials: different counts (at least 12 per condition), same
    conditions, own variables."""
    units = []
    for u in range(n_units):
        n = 4 * (12 + u)
        order = rng.permutation(n)
        ctx = np.tile([0, 0, 1, 1], n // 4)[order]
        choice = np.tile([0, 1, 0, 1], n // 4)[order]
        response = 10.0 * u + 100.0 * ctx[:, None] + choice[:, None] + np.zeros((n, 6))
        units.append(
            {
                "response": response,
                "task_variables": {
                    "context": ctx,
                    "choice": choice,
                    "stim_dir": rng.normal(size=n),
                },
                "unit_id": 100 + u,
                "unit_coords": {"area": "FEF" if u < 3 else "PFC"},
            }
        )
    return units


def test_from_unit_trials_builds_a_balanced_pseudo_population():
    rng = np.random.default_rng(0)
    units = mante_like_units(rng)
    pop = from_unit_trials(units, by=["context", "choice"], time=0.05 * np.arange(6), seed=3)
    assert pop.dims == ("trial", "time", "unit")
    assert pop["unit"].values.tolist() == [100, 101, 102, 103, 104]
    assert pop["area"].values.tolist() == ["FEF"] * 3 + ["PFC"] * 2
    combos, counts = np.unique(
        np.stack([pop["context"].values, pop["choice"].values], 1), axis=0, return_counts=True
    )
    assert len(combos) == 4 and len(set(counts)) == 1
    # every pseudo-trial takes each unit's response from a trial of the same condition
    for u in range(5):
        expected = 10.0 * u + 100.0 * pop["context"].values + pop["choice"].values
        np.testing.assert_array_equal(pop.values[:, 0, u], expected)
    again = from_unit_trials(units, by=["context", "choice"], time=0.05 * np.arange(6), seed=3)
    np.testing.assert_array_equal(again.values, pop.values)


def test_from_unit_trials_errors_name_the_problem():
    rng = np.random.default_rng(1)
    units = mante_like_units(rng, 2)
    bad = [units[0], {**units[1], "task_variables": {"choice": [0, 1]}}]
    with pytest.raises(
        ValueError,
        match=r"unit entry 1 lacks task variable\(s\) \['context'\]; its 'task_variables' "
        r"has \['choice'\]",
    ):
        from_unit_trials(bad, by="context", bin_size_s=0.05)
    with pytest.raises(ValueError, match=r"has no task variables \(a 'task_variable' or"):
        from_unit_trials([{"response": np.zeros(3), "conditions": {}}], by="context")
    short = [units[0], {**units[1], "response": units[1]["response"][:5]}]
    with pytest.raises(ValueError, match="task variable 'context' has shape"):
        from_unit_trials(short, by="context", bin_size_s=0.05)
    with pytest.raises(ValueError, match="has no 'response'"):
        from_unit_trials([{"task_variables": {}}], by="context")
    with pytest.raises(ValueError, match="is a list, not a struct"):
        from_unit_trials([[1, 2]], by="context")
    with pytest.raises(ValueError, match="give time="):
        from_unit_trials(units, by="context")


def _mante_struct_units(rng, counts):
    """Units in the Mante layout as MATLAB holds them: a response (trials x time) whose every row
    is unique, a ``task_variable`` struct, and the time axis."""
    time = np.array([-0.1, 0.0, 0.1, 0.2])
    units = []
    for u, n in enumerate(counts):
        order = rng.permutation(n)
        context = np.tile([1.0, 1.0, -1.0, -1.0], n // 4)[order]
        direction = np.tile([1.0, -1.0, 1.0, -1.0], n // 4)[order]
        response = 1000.0 * u + np.arange(n)[:, None] + time[None, :]
        units.append(
            {
                "response": response,
                "task_variable": {
                    "context": context,
                    "direction": direction,
                    "correct": 1.0 + 0 * order,
                },
                "time": time,
            }
        )
    return units, time


@pytest.mark.parametrize("container", ["struct_array", "cell"])
def test_a_matlab_mante_struct_reads_back_through_read_mat_and_from_unit_trials(
    tmp_path, container
):
    import scipy.io

    rng = np.random.default_rng(5)
    written, time = _mante_struct_units(rng, [48, 56, 40])
    if container == "struct_array":
        mat = np.empty((1, len(written)), dtype=[(k, object) for k in written[0]])
        for i, unit in enumerate(written):
            for key, value in unit.items():
                mat[0, i][key] = value
    else:
        mat = np.empty((1, len(written)), dtype=object)
        for i, unit in enumerate(written):
            mat[0, i] = unit
    path = tmp_path / "mante.mat"
    scipy.io.savemat(path, {"units": mat})

    units = read_mat(path)["units"]
    pop = from_unit_trials(units, by=["context", "direction"], seed=2)
    assert pop.dims == ("trial", "time", "unit") and pop.sizes["unit"] == 3
    np.testing.assert_allclose(pop["time"].values, time)
    # 4 conditions x the smallest count per condition (unit 2: 40 trials / 4 conditions)
    assert pop.sizes["trial"] == 4 * 10
    for u, unit in enumerate(written):
        rows = pop.values[:, 0, u] - 1000.0 * u - time[0]
        idx = np.rint(rows).astype(int)
        np.testing.assert_allclose(pop.values[:, :, u], unit["response"][idx])  # written rows
        assert len(set(idx.tolist())) == len(idx)  # each trial drawn once
        for var in ("context", "direction"):
            np.testing.assert_array_equal(pop[var].values, unit["task_variable"][var][idx])


def test_from_unit_trials_default_count_below_the_floor_is_an_error_naming_the_units():
    rng = np.random.default_rng(6)
    units, _ = _mante_struct_units(rng, [48, 24, 48])  # unit 1: 6 trials per condition
    with pytest.raises(
        ValueError,
        match=r"would be 6, below the floor of 10 per condition: unit 1: 6 trials of "
        r"\(context=.*pass n_trials= explicitly",
    ):
        from_unit_trials(units, by=["context", "direction"])
    pop = from_unit_trials(units, by=["context", "direction"], n_trials=6)  # explicit: allowed
    assert pop.sizes["trial"] == 24


def test_from_unit_trials_warns_when_a_few_units_set_a_low_count():
    rng = np.random.default_rng(7)
    units, _ = _mante_struct_units(rng, [160, 160, 160, 40])  # 20 vs 80 trials per context
    with pytest.warns(
        UserWarning,
        match=r"n_trials=20 per condition, set by the smallest counts \(unit 3: 20 trials of "
        r"\(context=1.0\); unit 3: 20 trials of \(context=-1.0\)\); most units have 80",
    ):
        pop = from_unit_trials(units, by="context")
    assert pop.sizes["trial"] == 2 * 20


def golub_path(shared_data):
    return shared_data / "golub2018_bci_learning" / "exampleData_monkeyJ_20120305.mat"


def test_read_golub_before_after_tensor(shared_data):
    path = golub_path(shared_data)
    pop = read_golub(path)
    assert pop.dims == ("stage", "trial", "unit")
    assert pop.sizes["unit"] == 86 and pop.sizes["stage"] == 2
    assert pop["label"].values.tolist() == ["before", "after"]
    assert sorted(np.unique(pop["direction"].values).tolist()) == list(range(0, 360, 45))
    raw = read_mat(path)
    for s, stage in enumerate(("beforeLearning", "afterLearning")):
        spikes = raw[stage]["clouds"]["spikes"]
        for c in (0, 5):
            rows = pop["condition"].values == c
            np.testing.assert_array_equal(pop.values[s][rows], spikes[c].T)
    # learning changed the activity of the same units
    assert not np.array_equal(pop.values[0], pop.values[1])
    directions, counts = np.unique(pop["direction"].values, return_counts=True)
    assert counts.tolist() == [69] * 8 and pop.sizes["trial"] == 8 * 69
    assert pop.attrs["quantity"] == "spike_count" and pop.attrs["species"] == "Macaca mulatta"
    # the layout feeds the engine: one manifold per direction, 86 features, in either stage
    after = pop.ng.manifolds(by="direction", stage="after")
    assert after.n_manifolds == 8 and after.points.shape == (8 * 69, 86)
    assert after.table["direction"].tolist() == directions.tolist()
    np.testing.assert_array_equal(after.points, pop.values[1])


def test_read_mat_errors(tmp_path, shared_data):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_mat(tmp_path / "absent.mat")
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(ValueError, match="not a readable MATLAB"):
        read_mat(junk)
    import scipy.io

    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"x": np.zeros(3)})
    with pytest.raises(ValueError, match="lacks"):
        read_golub(other)
