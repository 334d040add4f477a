"""write_nwb: round trips through read_nwb, nwbinspector cleanliness, atomic writes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom.io.arrays import from_array
from neurogeom.io.nwb import read_nwb, write_nwb

BAD = ("CRITICAL", "BEST_PRACTICE_VIOLATION")
VOLATILE = ("source", "session", "window_s", "event_times", "series")


def inspector_findings(path):
    from nwbinspector import inspect_nwbfile

    return [
        (m.importance.name, m.check_function_name, m.message)
        for m in inspect_nwbfile(nwbfile_path=str(path))
        if m.importance.name in BAD
    ]


def comparable(pop: xr.DataArray) -> xr.DataArray:
    """The tensor without attrs that name the file it came from."""
    out = pop.copy()
    out.attrs = {k: v for k, v in pop.attrs.items() if k not in VOLATILE}
    out["valid"].attrs = {}
    return out


def labelled(rng, quantity, values, n_trial, **kw):
    return from_array(
        values,
        ("trial", "time", "unit"),
        trial_coords={
            "context": np.array(["motion", "color"])[rng.integers(0, 2, n_trial)],
            "coherence": rng.choice([-0.5, 0.05, 0.5], n_trial),
            "is_correct": rng.random(n_trial) > 0.3,
            "choice": rng.integers(0, 3, n_trial),
        },
        quantity=quantity,
        align="stimulus_on_time",
        species="Mus musculus",
        area="ALM",
        **kw,
    )


def test_spike_count_round_trip_is_identical_and_inspector_clean(tmp_path):
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, (30, 16, 7)).astype(float)
    counts[3, 4, 2] = 40  # many spikes in one bin
    pop = labelled(
        rng,
        "spike_count",
        counts,
        30,
        time=-0.4 + 0.05 * np.arange(16) + 0.025,
        bin_size_s=0.05,
        unit=np.arange(100, 107),
        unit_coords={"cell_type": ["pyr"] * 4 + ["int"] * 3, "depth": np.linspace(0, 600, 7)},
    )
    path = write_nwb(pop, tmp_path / "spikes.nwb")
    back = read_nwb(path)  # window, bin and align come from the file
    xr.testing.assert_identical(comparable(back), comparable(pop))
    assert back.attrs["source"] == str(path)
    assert inspector_findings(path) == []
    # the spike times are real spike times: other tools re-bin them to the same counts
    again = read_nwb(path, align="stimulus_on_time", window_s=(-0.4, 0.4), bin_size_s=0.05)
    np.testing.assert_array_equal(again.values, counts)


def test_calcium_round_trip_is_identical_and_inspector_clean(tmp_path):
    rng = np.random.default_rng(1)
    dff = rng.normal(0.0, 1.0, (24, 10, 5))
    dff[2, 3, :] = np.nan  # a missing bin stays missing
    pop = labelled(
        rng,
        "dff",
        dff,
        24,
        time=0.1 * np.arange(10),
        bin_size_s=0.1,
        unit=[f"roi{i}" for i in range(5)],
        unit_coords={"plane": [0, 0, 1, 1, 1]},
    )
    path = write_nwb(pop, tmp_path / "calcium.nwb", subject={"subject_id": "m1", "age": "P60D"})
    back = read_nwb(path)
    assert back.attrs["series"] == "processing/ophys/DfOverF/RoiResponseSeries"
    xr.testing.assert_identical(comparable(back), comparable(pop))
    assert inspector_findings(path) == []
    # the file is ordinary NWB: the series can be named explicitly
    named = read_nwb(path, series="DfOverF", align="stimulus_on_time")
    np.testing.assert_array_equal(np.isnan(named.values), np.isnan(dff))


def test_stage_dim_is_stacked_into_trials_and_unstacked_on_read(tmp_path):
    rng = np.random.default_rng(2)
    states = rng.normal(size=(3, 20, 6, 4))
    pop = from_array(
        states,
        ("stage", "trial", "time", "unit"),
        trial_coords={"context": rng.integers(0, 2, 20)},
        stage=[0, 100, 1000],
        stage_coords={"label": ["early", "mid", "late"]},
        time=0.02 * np.arange(6),
        bin_size_s=0.02,
        quantity="rnn_state",
        align="stimulus_on_time",
        species="Mus musculus",
    )
    path = write_nwb(pop, tmp_path / "model.nwb")
    back = read_nwb(path)
    assert back.dims == ("stage", "trial", "time", "unit")
    xr.testing.assert_identical(comparable(back), comparable(pop))
    assert inspector_findings(path) == []
    # a subset of rows stays flat, with the stage as a trial label
    flat = read_nwb(path, trial_filter={"stage": [100, 1000]})
    assert flat.dims == ("trial", "time", "unit") and flat.sizes["trial"] == 40
    np.testing.assert_array_equal(np.unique(flat["stage"].values), [100, 1000])


def test_dandi_tensor_survives_a_write_read_cycle(shared_data, tmp_path):
    src = shared_data / "dandi000006_alm_nwb" / "sub-anm369963_ses-20170228.nwb"
    pop = read_nwb(src, align="cue_start_time", window_s=(-1, 1), bin_size_s=0.1)
    path = write_nwb(pop, tmp_path / "alm.nwb")
    back = read_nwb(path)
    xr.testing.assert_identical(comparable(back), comparable(pop))
    assert inspector_findings(path) == []


def test_write_is_atomic_and_refuses_to_overwrite(tmp_path):
    rng = np.random.default_rng(3)
    pop = labelled(rng, "spike_count", rng.poisson(1, (12, 4, 2)), 12, bin_size_s=0.1)
    path = write_nwb(pop, tmp_path / "a.nwb")
    size = path.stat().st_size
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_nwb(pop, path)
    assert path.stat().st_size == size
    write_nwb(pop.isel(trial=slice(0, 6)), path, overwrite=True)
    assert read_nwb(path).sizes["trial"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.nwb"]  # no temp files left


@pytest.mark.parametrize(
    ("make", "kwargs", "error", "match"),
    [
        (lambda p: p.assign_coords(time=p.time.values**2), {}, ValueError, "regular time bins"),
        (lambda p: p * 0.5, {}, ValueError, "non-negative integers"),
        (lambda p: p.where(p.trial > 0), {}, ValueError, "with NaN"),
        (
            lambda p: p,
            {"trial_coords": {"block": [1, 2, 3]}},
            ValueError,
            r"label 'block'.*one value per trial \(12\)",
        ),
        (lambda p: p.assign_attrs(species=None), {}, ValueError, "species"),
    ],
)
def test_unwritable_tensors_raise_and_write_nothing(tmp_path, make, kwargs, error, match):
    rng = np.random.default_rng(4)
    pop = labelled(
        rng,
        "spike_count",
        rng.poisson(1, (12, 4, 2)).astype(float),
        12,
        time=0.1 + 0.1 * np.arange(4),
        bin_size_s=0.1,
    )
    with pytest.raises(error, match=match):
        write_nwb(make(pop), tmp_path / "bad.nwb", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_extra_labels_are_written_as_trial_columns(tmp_path):
    rng = np.random.default_rng(5)
    pop = labelled(rng, "rate_hz", rng.gamma(2.0, 3.0, (12, 4, 2)), 12, bin_size_s=0.1)
    path = write_nwb(pop, tmp_path / "labels.nwb", trial_coords={"block": np.repeat([1, 2], 6)})
    back = read_nwb(path)
    np.testing.assert_array_equal(back["block"].values, np.repeat([1, 2], 6))
    np.testing.assert_allclose(back.values, pop.values)
    assert back.attrs["quantity"] == "rate_hz"


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from pynwb import NWBHDF5IO

    rng = np.random.default_rng(6)
    pop = labelled(rng, "spike_count", rng.poisson(1, (12, 4, 2)), 12, bin_size_s=0.1)
    path = write_nwb(pop, tmp_path / "kept.nwb")
    before = path.read_bytes()
    original = NWBHDF5IO.write

    def fail_after_writing(self, *args, **kwargs):
        original(self, *args, **kwargs)  # the temporary file is complete on disk ...
        raise OSError("disk full")  # ... and then the write fails

    monkeypatch.setattr(NWBHDF5IO, "write", fail_after_writing)
    with pytest.raises(OSError, match="disk full"):
        write_nwb(pop.isel(trial=slice(0, 6)), path, overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        write_nwb(pop, tmp_path / "new.nwb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.nwb"]
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("quantity", "series"),
    [
        ("fluorescence", "processing/ophys/Fluorescence/RoiResponseSeries"),
        ("continuous", "processing/misc/continuous"),
    ],
)
def test_other_continuous_quantities_round_trip(tmp_path, quantity, series):
    rng = np.random.default_rng(7)
    values = rng.gamma(2.0, 1.0, (16, 5, 3))
    pop = labelled(rng, quantity, values, 16, time=-0.2 + 0.1 * np.arange(5), bin_size_s=0.1)
    path = write_nwb(pop, tmp_path / f"{quantity}.nwb")
    back = read_nwb(path)
    assert back.attrs["series"] == series
    xr.testing.assert_identical(comparable(back), comparable(pop))
    assert inspector_findings(path) == []
