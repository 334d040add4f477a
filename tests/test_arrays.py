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
        labels={"context": ["a", "b", "a", "b"], "ok": [True, False, True, True]},
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
            {"labels": {"context": ["a", "b", "c"]}},
            r"label 'context' has shape \(3,\).*4 along 'trial'",
        ),
        ({"unit_labels": {"area": ["x"]}}, r"unit label 'area'.*2 along 'unit'"),
        ({"time": [0.0, 0.1]}, r"coord 'time'.*3 along 'time'"),
        ({"dims": ("neuron", "time", "trial")}, "Use 'unit' for neurons"),
        ({"dims": ("unit", "trial")}, "data has 3 axes"),
        ({"stage_labels": {"label": ["x"]}}, "no 'stage'"),
    ],
)
def test_from_array_wrong_lengths_and_names_are_clear_errors(kwargs, match):
    kwargs = {"dims": ("unit", "time", "trial"), **kwargs}
    with pytest.raises(ValueError, match=match):
        from_array(np.zeros((2, 3, 4)), **kwargs)


def mante_like_units(rng, n_units=5):
    """Each unit with its own trials: different counts, same conditions, own variables."""
    units = []
    for u in range(n_units):
        n = 30 + 7 * u
        ctx = rng.integers(0, 2, n)
        ctx[:2] = [0, 1]
        choice = rng.integers(0, 2, n)
        choice[:4] = [0, 1, 0, 1]
        ctx[:4] = [0, 0, 1, 1]
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
                "unit_labels": {"area": "FEF" if u < 3 else "PFC"},
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
    with pytest.raises(ValueError, match=r"unit entry 1 lacks task variable\(s\) \['context'\]"):
        from_unit_trials(bad, by="context", bin_size_s=0.05)
    short = [units[0], {**units[1], "response": units[1]["response"][:5]}]
    with pytest.raises(ValueError, match="task variable 'context' has shape"):
        from_unit_trials(short, by="context", bin_size_s=0.05)
    with pytest.raises(ValueError, match="has no 'response'"):
        from_unit_trials([{"task_variables": {}}], by="context")
    with pytest.raises(ValueError, match="give time="):
        from_unit_trials(units, by="context")


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
