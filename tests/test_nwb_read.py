"""read_nwb and nwb_info on real DANDI files, the bundled sample, and small files built here."""

from __future__ import annotations

import hashlib
import shutil
import warnings
from datetime import UTC, datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

from neurogeom.data import sample_nwb
from neurogeom.io.nwb import nwb_info, read_nwb

DANDI = {
    "sub-anm369963_ses-20170228.nwb": 178,
    "sub-anm372793_ses-20170508.nwb": 340,
}


def dandi_path(shared_data: Path, name: str) -> Path:
    return shared_data / "dandi000006_alm_nwb" / name


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_nwb(
    path: Path,
    *,
    n_trials: int = 10,
    with_trials: bool = True,
    units: list[np.ndarray] | None = None,
    lfp: tuple[float, np.ndarray] | None = None,
    cue: np.ndarray | None = None,
) -> Path:
    """A small NWB file: trials 2 s apart with an absolute ``cue_time`` 0.5 s after the start."""
    from pynwb import NWBHDF5IO, NWBFile, TimeSeries

    nwb = NWBFile(
        session_description="test",
        identifier=path.stem,
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    if with_trials:
        nwb.add_trial_column(name="cue_time", description="cue (s)")
        nwb.add_trial_column(name="side", description="left/right")
        nwb.add_trial_column(name="is_rewarded", description="bool")
        cue = 2.0 * np.arange(n_trials) + 0.5 if cue is None else cue
        for i in range(n_trials):
            nwb.add_trial(
                start_time=2.0 * i,
                stop_time=2.0 * i + 1.5,
                cue_time=float(cue[i]),
                side="left" if i % 2 else "right",
                is_rewarded=bool(i % 3 == 0),
            )
    for train in units or []:
        nwb.add_unit(spike_times=train)
    if lfp is not None:
        rate, data = lfp
        nwb.add_acquisition(
            TimeSeries(name="lfp", data=data, unit="V", rate=rate, starting_time=0.5 / rate)
        )
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)
    return path


# ---- real DANDI:000006 files ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DANDI))
def test_dandi_counts_equal_brute_force_relative_cue(shared_data, name):
    path = dandi_path(shared_data, name)
    pop = read_nwb(path, align="cue_start_time", window=(-1.0, 2.0), bin_size=0.25)
    assert pop.sizes["trial"] == DANDI[name]
    assert pop.dims == ("trial", "time", "unit")
    assert pop.attrs["event_times"] == "relative"
    with h5py.File(path, "r") as f:  # independent read of the raw datasets
        spikes = f["units/spike_times"][:]
        start = f["intervals/trials/start_time"][:]
        cue = f["intervals/trials/cue_start_time"][:]
        types = f["intervals/trials/type"][:].astype(str)
    edges = -1.0 + 0.25 * np.arange(13)
    for i in range(DANDI[name]):
        event = start[i] + cue[i]  # cue_start_time is seconds from the trial's start
        for k in range(12):
            lo, hi = event + edges[k], event + edges[k + 1]
            assert pop.values[i, k, 0] == np.sum((spikes >= lo) & (spikes < hi))
    assert pop.values.sum() > 100  # the windows do hold spikes
    assert pop["type"].dtype.kind == "U"
    assert set(np.unique(pop["type"].values)) == {"lick left", "lick right"}
    assert "correct" in set(pop["response"].values)
    np.testing.assert_array_equal(pop["type"].values, types)
    np.testing.assert_allclose(pop["time"].values[:2], [-0.875, -0.625])


def test_dandi_relative_events_can_be_stated(shared_data):
    path = dandi_path(shared_data, "sub-anm369963_ses-20170228.nwb")
    auto = read_nwb(path, align="cue_start_time", window=(0, 1), bin_size=0.5)
    stated = read_nwb(
        path, align="cue_start_time", window=(0, 1), bin_size=0.5, event_times="relative"
    )
    wrong = read_nwb(
        path, align="cue_start_time", window=(0, 1), bin_size=0.5, event_times="absolute"
    )
    np.testing.assert_array_equal(auto.values, stated.values)
    assert wrong.values.sum() == 0  # read as absolute, the cues fall before the first spike


def test_dandi_rates_filters_and_file_left_untouched(shared_data):
    path = dandi_path(shared_data, "sub-anm372793_ses-20170508.nwb")
    before = sha256(path)
    counts = read_nwb(path, align="cue_start_time", window=(-0.5, 0.5), bin_size=0.1)
    rates = read_nwb(
        path,
        align="cue_start_time",
        window=(-0.5, 0.5),
        bin_size=0.1,
        quantity="rate_hz",
        trial_filter={"response": "correct"},
    )
    correct = counts["response"].values == "correct"
    assert rates.sizes["trial"] == correct.sum() > 0
    np.testing.assert_allclose(rates.values, counts.values[correct] / 0.1)
    assert rates.attrs["quantity"] == "rate_hz"
    one = read_nwb(path, window=(0, 1), bin_size=0.5, units=[1001], unit_filter={"quality": "Good"})
    assert one.sizes["unit"] == 1 and one["cell_type"].item() == "PTupper"
    assert sha256(path) == before


def test_pooling_two_dandi_sessions_balances_conditions(shared_data):
    paths = [dandi_path(shared_data, n) for n in sorted(DANDI)]
    pop = read_nwb(paths, align="cue_start_time", window=(-1, 1), bin_size=0.2, pool_by="type")
    assert pop.sizes["unit"] == 2
    assert set(pop["session"].values) == {p.stem for p in paths}
    _, counts = np.unique(pop["type"].values, return_counts=True)
    assert counts.tolist() == [counts[0], counts[0]] and counts[0] > 50
    with pytest.raises(ValueError, match="duplicate unit ids"):
        read_nwb(
            paths,
            align="cue_start_time",
            window=(-1, 1),
            bin_size=0.2,
            pool_by="type",
            unique_unit_ids=False,
        )
    with pytest.raises(ValueError, match="pool_by"):
        read_nwb(paths, align="cue_start_time", window=(-1, 1), bin_size=0.2)


def test_nwb_info_on_dandi_lists_columns_and_relative_events(shared_data):
    info = nwb_info(dandi_path(shared_data, "sub-anm369963_ses-20170228.nwb"))
    assert info["n_units"] == 1 and info["n_trials"] == 178
    assert info["nwb_version"] == "2.0.2"
    assert set(info["trial_columns"]["type"]) == {"lick left", "lick right"}
    assert info["event_columns"]["cue_start_time"] == "relative"
    assert info["event_columns"]["start_time"] == "absolute"


def test_truncated_nwb_file_is_a_clear_error(shared_data, tmp_path):
    src = dandi_path(shared_data, "sub-anm369963_ses-20170228.nwb")
    broken = tmp_path / "broken.nwb"
    broken.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated or corrupted"):
        read_nwb(broken, window=(0, 1), bin_size=0.5)


# ---- bundled synthetic sample ------------------------------------------------------------------


def test_sample_sessions_choice_manifolds_separate_more_late():
    sep = {}
    for session in ("early", "late"):
        pop = read_nwb(
            sample_nwb(session), align="stimulus_on_time", window=(-0.3, 1.1), bin_size=0.1
        )
        assert pop.shape == (400, 14, 100)
        assert pop.attrs["event_times"] == "absolute"
        assert set(np.unique(pop["context"].values)) == {"motion", "color"}
        assert pop["correct"].dtype == bool
        late = pop.sel(time=slice(0.4, 1.1)).mean("time")
        right = late.where(late["choice"] == "right", drop=True).mean("trial")
        left = late.where(late["choice"] == "left", drop=True).mean("trial")
        sep[session] = float(np.linalg.norm(right - left))
    assert sep["late"] > 2 * sep["early"]


@pytest.mark.slow
def test_sample_files_match_their_generator(tmp_path):
    import runpy

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_sample_data.py"
    module = runpy.run_path(str(script))
    session = module["simulate_session"]("early")
    from pynwb import NWBHDF5IO

    with NWBHDF5IO(str(sample_nwb("early")), "r") as io:
        nwb = io.read()
        for u in (0, 17, 99):
            np.testing.assert_allclose(nwb.units["spike_times"][u], session["trains"][u])
        np.testing.assert_array_equal(nwb.trials["choice"][:], session["trials"]["choice"])


# ---- small files: continuous data, NaN events, errors ------------------------------------------


def test_continuous_series_is_bin_averaged(tmp_path):
    rate = 100.0
    t = (np.arange(2200) + 0.5) / rate  # samples half-way between bin edges
    data = np.stack([np.sin(t), np.cos(3 * t), t], axis=1)
    path = make_nwb(tmp_path / "lfp.nwb", lfp=(rate, data))
    pop = read_nwb(path, align="cue_time", window=(-0.2, 0.4), bin_size=0.1)  # series found
    assert pop.attrs["quantity"] == "continuous"
    assert pop.attrs["series"] == "acquisition/lfp"
    assert pop.shape == (10, 6, 3)
    for i in (0, 7):
        event = 2.0 * i + 0.5
        for k in range(6):
            lo, hi = event - 0.2 + 0.1 * k, event - 0.1 + 0.1 * k
            sel = (t >= lo) & (t < hi)
            np.testing.assert_allclose(pop.values[i, k], data[sel].mean(axis=0), atol=1e-9)
    assert pop["is_rewarded"].dtype == bool
    assert pop["side"].values[0] == "right"


def test_nan_events_are_dropped_with_a_count(tmp_path):
    cue = 2.0 * np.arange(10) + 0.5
    cue[[2, 5]] = np.nan
    path = make_nwb(tmp_path / "nan.nwb", units=[np.arange(0, 20, 0.1)], cue=cue)
    with pytest.warns(UserWarning, match="dropped 2 of 10 trials"):
        pop = read_nwb(path, align="cue_time", window=(0, 0.5), bin_size=0.25)
    assert pop.sizes["trial"] == 8
    np.testing.assert_array_equal(pop["trial_id"].values, [0, 1, 3, 4, 6, 7, 8, 9])


def test_clip_to_trial_sets_bins_past_stop_time_to_nan(tmp_path):
    path = make_nwb(tmp_path / "clip.nwb", units=[np.arange(0, 20, 0.05)])
    pop = read_nwb(path, window=(0, 2.0), bin_size=0.5, clip_to_trial=True)
    assert np.isnan(pop.values[:, 3]).all() and np.isfinite(pop.values[:, :3]).all()
    assert not pop["valid"].values[:, 3].any()


def test_ambiguous_event_column_asks_for_event_times(tmp_path):
    cue = 2.0 * np.arange(10) + 0.5
    cue[-2:] = 0.5  # mostly absolute, but two look relative
    path = make_nwb(tmp_path / "amb.nwb", units=[np.arange(0, 20, 0.1)], cue=cue)
    with pytest.raises(ValueError, match="event_times='absolute' or event_times='relative'"):
        read_nwb(path, align="cue_time", window=(0, 1), bin_size=0.5)
    pop = read_nwb(path, align="cue_time", window=(0, 1), bin_size=0.5, event_times="absolute")
    assert pop.sizes["trial"] == 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window": (1.0, 1.0), "bin_size": 0.1}, "window start must be before its stop"),
        ({"window": (2.0, -1.0), "bin_size": 0.1}, "window start must be before its stop"),
        ({"window": (0, 1), "bin_size": 0.0}, "bin_size must be a positive"),
        ({"window": (0, 1), "bin_size": -0.1}, "bin_size must be a positive"),
        (
            {"window": (0, 1), "bin_size": 0.1, "align": "go_cue"},
            r"unknown event 'go_cue'.*cue_time",
        ),
        ({"window": (0, 1), "bin_size": 0.1, "units": [42]}, "not in the units table"),
        ({"window": (0, 1), "bin_size": 0.1, "series": "nope"}, "no series 'nope'"),
        ({"window": (0, 1), "bin_size": 0.1, "event_times": "maybe"}, "event_times must be"),
        ({"bin_size": 0.1}, "needs window"),
    ],
)
def test_bad_arguments_raise_clear_errors(tmp_path, kwargs, match):
    path = make_nwb(tmp_path / "ok.nwb", units=[np.arange(0, 20, 0.1)])
    before = sha256(path)
    with pytest.raises(ValueError, match=match):
        read_nwb(path, **kwargs)
    assert sha256(path) == before


def test_file_without_trials_table(tmp_path):
    path = make_nwb(tmp_path / "notrials.nwb", with_trials=False, units=[np.arange(5.0)])
    with pytest.raises(ValueError, match="no trials table"):
        read_nwb(path, window=(0, 1), bin_size=0.5)


def test_file_without_units_or_continuous_data(tmp_path):
    path = make_nwb(tmp_path / "empty.nwb")
    with pytest.raises(ValueError, match="no units table and no continuous data"):
        read_nwb(path, window=(0, 1), bin_size=0.5)


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_nwb(tmp_path / "absent.nwb", window=(0, 1), bin_size=0.5)
    text = tmp_path / "notes.nwb"
    text.write_text("this is not HDF5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        read_nwb(text, window=(0, 1), bin_size=0.5)
    with pytest.raises(ValueError, match="not an HDF5 file"):
        nwb_info(text)


def test_reading_does_not_warn_on_a_clean_file(tmp_path):
    path = make_nwb(tmp_path / "clean.nwb", units=[np.arange(0, 20, 0.1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_nwb(path, align="cue_time", window=(0, 1), bin_size=0.5)
    shutil.rmtree(tmp_path, ignore_errors=True)
