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
    pop = read_nwb(path, align="cue_start_time", window_s=(-1.0, 2.0), bin_size_s=0.25)
    assert pop.sizes["trial"] == DANDI[name]
    assert pop.dims == ("trial", "time", "unit")
    assert pop.attrs["event_times"] == "relative"
    with h5py.File(path, "r") as f:  # independent read of the raw datasets
        spikes = f["units/spike_times"][:]
        start = f["intervals/trials/start_time"][:]
        cue = f["intervals/trials/cue_start_time"][:]
        types = f["intervals/trials/type"][:].astype(str)
        responses = f["intervals/trials/response"][:].astype(str)
    edges = -1.0 + 0.25 * np.arange(13)
    for i in range(DANDI[name]):
        event = start[i] + cue[i]  # cue_start_time is seconds from the trial's start
        for k in range(12):
            lo, hi = event + edges[k], event + edges[k + 1]
            assert pop.values[i, k, 0] == np.sum((spikes >= lo) & (spikes < hi))
    assert pop.values.sum() > 100  # the windows do hold spikes
    assert pop["type"].dtype.kind == "U"
    assert set(np.unique(pop["type"].values)) == {"lick left", "lick right"}
    assert pop["response"].dtype.kind == "U" and "correct" in set(pop["response"].values)
    np.testing.assert_array_equal(pop["type"].values, types)
    np.testing.assert_array_equal(pop["response"].values, responses)
    np.testing.assert_allclose(pop["time"].values[:2], [-0.875, -0.625])


def test_dandi_relative_events_can_be_stated(shared_data):
    path = dandi_path(shared_data, "sub-anm369963_ses-20170228.nwb")
    auto = read_nwb(path, align="cue_start_time", window_s=(0, 1), bin_size_s=0.5)
    stated = read_nwb(
        path, align="cue_start_time", window_s=(0, 1), bin_size_s=0.5, event_times="relative"
    )
    wrong = read_nwb(
        path, align="cue_start_time", window_s=(0, 1), bin_size_s=0.5, event_times="absolute"
    )
    np.testing.assert_array_equal(auto.values, stated.values)
    assert wrong.values.sum() == 0  # read as absolute, the cues fall before the first spike


def test_dandi_rates_filters_and_file_left_untouched(shared_data):
    path = dandi_path(shared_data, "sub-anm372793_ses-20170508.nwb")
    before = sha256(path)
    counts = read_nwb(path, align="cue_start_time", window_s=(-0.5, 0.5), bin_size_s=0.1)
    rates = read_nwb(
        path,
        align="cue_start_time",
        window_s=(-0.5, 0.5),
        bin_size_s=0.1,
        quantity="rate_hz",
        trial_filter={"response": "correct"},
    )
    correct = counts["response"].values == "correct"
    assert rates.sizes["trial"] == correct.sum() > 0
    np.testing.assert_allclose(rates.values, counts.values[correct] / 0.1)
    assert rates.attrs["quantity"] == "rate_hz"
    one = read_nwb(
        path, window_s=(0, 1), bin_size_s=0.5, units=[1001], unit_filter={"quality": "Good"}
    )
    assert one.sizes["unit"] == 1 and one["cell_type"].item() == "PTupper"
    assert sha256(path) == before


def test_pooling_two_dandi_sessions_balances_conditions(shared_data):
    paths = [dandi_path(shared_data, n) for n in sorted(DANDI)]
    settings = dict(align="cue_start_time", window_s=(-1, 1), bin_size_s=0.2)
    pop = read_nwb(paths, pool_by="type", **settings)
    assert pop.sizes["unit"] == 2
    assert pop["session"].values.tolist() == [p.stem for p in paths]
    types, counts = np.unique(pop["type"].values, return_counts=True)
    assert types.tolist() == ["lick left", "lick right"]
    singles = [read_nwb(p, **settings) for p in paths]
    smallest = min(int((s["type"].values == t).sum()) for s in singles for t in types)
    assert counts.tolist() == [smallest, smallest] and smallest > 50
    # each pseudo-trial joins a real trial of its condition from each session
    for u, single in enumerate(singles):
        for t in range(pop.sizes["trial"]):
            hits = np.flatnonzero((single.values[:, :, 0] == pop.values[t, :, u]).all(axis=1))
            same = hits[single["type"].values[hits] == pop["type"].values[t]]
            assert same.size, f"pseudo-trial {t} of session {u} matches no real trial"
    again = read_nwb(paths, pool_by="type", seed=0, **settings)
    np.testing.assert_array_equal(again.values, pop.values)
    other = read_nwb(paths, pool_by="type", seed=1, **settings)
    assert not np.array_equal(other.values, pop.values)
    with pytest.raises(ValueError, match="occur in more than one session"):
        read_nwb(
            paths,
            align="cue_start_time",
            window_s=(-1, 1),
            bin_size_s=0.2,
            pool_by="type",
            unique_unit_ids=False,
        )
    with pytest.raises(ValueError, match="pool_by"):
        read_nwb(paths, align="cue_start_time", window_s=(-1, 1), bin_size_s=0.2)


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
        read_nwb(broken, window_s=(0, 1), bin_size_s=0.5)


# ---- bundled synthetic sample ------------------------------------------------------------------


def test_sample_sessions_choice_manifolds_separate_more_late():
    sep = {}
    for session in ("early", "late"):
        pop = read_nwb(
            sample_nwb(session), align="stimulus_on_time", window_s=(-0.3, 1.1), bin_size_s=0.1
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
        assert len(nwb.units) == len(session["trains"]) == 100
        for u, train in enumerate(session["trains"]):
            np.testing.assert_array_equal(nwb.units["spike_times"][u], train)
        for name, values in session["trials"].items():
            np.testing.assert_array_equal(nwb.trials[name][:], values, err_msg=name)
        np.testing.assert_array_equal(nwb.units["beta_choice"][:], session["unit"]["beta_choice"])


def test_sample_files_are_inspector_clean_with_the_documented_accuracy():
    from nwbinspector import inspect_nwbfile

    accuracy = {}
    for session in ("early", "late"):
        path = sample_nwb(session)
        bad = [
            (m.importance.name, m.check_function_name, m.message)
            for m in inspect_nwbfile(nwbfile_path=str(path))
            if m.importance.name in ("CRITICAL", "BEST_PRACTICE_VIOLATION")
        ]
        assert bad == []
        with h5py.File(path, "r") as f:
            accuracy[session] = float(f["intervals/trials/correct"][:].mean())
            assert f["units/id"].shape == (100,) and f["intervals/trials/id"].shape == (400,)
    # data/README.md: accuracy ~0.70 early, ~0.86 late
    assert accuracy["early"] == pytest.approx(0.70, abs=0.02)
    assert accuracy["late"] == pytest.approx(0.86, abs=0.02)


# ---- small files: continuous data, NaN events, errors ------------------------------------------


def test_continuous_series_is_bin_averaged(tmp_path):
    rate = 100.0
    t = (np.arange(2200) + 0.5) / rate  # samples half-way between bin edges
    data = np.stack([np.sin(t), np.cos(3 * t), t], axis=1)
    path = make_nwb(tmp_path / "lfp.nwb", lfp=(rate, data))
    pop = read_nwb(path, align="cue_time", window_s=(-0.2, 0.4), bin_size_s=0.1)  # series found
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
        pop = read_nwb(path, align="cue_time", window_s=(0, 0.5), bin_size_s=0.25)
    assert pop.sizes["trial"] == 8
    np.testing.assert_array_equal(pop["trial_id"].values, [0, 1, 3, 4, 6, 7, 8, 9])


def test_clip_to_trial_sets_bins_past_stop_time_to_nan(tmp_path):
    path = make_nwb(tmp_path / "clip.nwb", units=[np.arange(0, 20, 0.05)])
    pop = read_nwb(path, window_s=(0, 2.0), bin_size_s=0.5, clip_to_trial=True)
    assert np.isnan(pop.values[:, 3]).all() and np.isfinite(pop.values[:, :3]).all()
    assert not pop["valid"].values[:, 3].any()


def test_ambiguous_event_column_asks_for_event_times(tmp_path):
    cue = 2.0 * np.arange(10) + 0.5
    cue[-2:] = 0.5  # mostly absolute, but two look relative
    path = make_nwb(tmp_path / "amb.nwb", units=[np.arange(0, 20, 0.1)], cue=cue)
    with pytest.raises(ValueError, match="event_times='absolute' or event_times='relative'"):
        read_nwb(path, align="cue_time", window_s=(0, 1), bin_size_s=0.5)
    pop = read_nwb(path, align="cue_time", window_s=(0, 1), bin_size_s=0.5, event_times="absolute")
    assert pop.sizes["trial"] == 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"window_s": (1.0, 1.0), "bin_size_s": 0.1}, "window start must be before its stop"),
        ({"window_s": (2.0, -1.0), "bin_size_s": 0.1}, "window start must be before its stop"),
        ({"window_s": (0, 1), "bin_size_s": 0.0}, "bin_size_s must be a positive"),
        ({"window_s": (0, 1), "bin_size_s": -0.1}, "bin_size_s must be a positive"),
        (
            {"window_s": (0, 1), "bin_size_s": 0.1, "align": "go_cue"},
            r"unknown event 'go_cue'.*cue_time",
        ),
        ({"window_s": (0, 1), "bin_size_s": 0.1, "units": [42]}, "not in the units table"),
        ({"window_s": (0, 1), "bin_size_s": 0.1, "series": "nope"}, "no series 'nope'"),
        ({"window_s": (0, 1), "bin_size_s": 0.1, "event_times": "maybe"}, "event_times must be"),
        ({"bin_size_s": 0.1}, "needs window_s"),
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
        read_nwb(path, window_s=(0, 1), bin_size_s=0.5)


def test_file_without_units_or_continuous_data(tmp_path):
    path = make_nwb(tmp_path / "empty.nwb")
    with pytest.raises(ValueError, match="no units table and no continuous data"):
        read_nwb(path, window_s=(0, 1), bin_size_s=0.5)


def test_missing_and_non_hdf5_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        read_nwb(tmp_path / "absent.nwb", window_s=(0, 1), bin_size_s=0.5)
    text = tmp_path / "notes.nwb"
    text.write_text("this is not HDF5")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        read_nwb(text, window_s=(0, 1), bin_size_s=0.5)
    with pytest.raises(ValueError, match="not an HDF5 file"):
        nwb_info(text)


def test_reading_does_not_warn_on_a_clean_file(tmp_path):
    path = make_nwb(tmp_path / "clean.nwb", units=[np.arange(0, 20, 0.1)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_nwb(path, align="cue_time", window_s=(0, 1), bin_size_s=0.5)
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_truncated_or_damaged_small_file_is_a_clear_error(tmp_path):
    rng = np.random.default_rng(0)
    trains = [np.sort(rng.uniform(0, 100, 2000)) for _ in range(3)]
    raw = make_nwb(tmp_path / "whole.nwb", n_trials=50, units=trains).read_bytes()
    cut = tmp_path / "cut.nwb"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="truncated or corrupted: copy or download it again"):
        read_nwb(cut, align="cue_time", window_s=(0, 1), bin_size_s=0.5)
    with pytest.raises(ValueError, match="truncated or corrupted"):
        nwb_info(cut)
    # bytes overwritten anywhere: the file either still reads or fails with one clear ValueError
    damaged = tmp_path / "damaged.nwb"
    messages = []
    for frac in np.linspace(0.01, 0.99, 60)[21:]:  # the metadata of the tables and namespaces
        blob = bytearray(raw)
        at = int(len(blob) * frac)
        blob[at : at + 4096] = b"\xff" * 4096
        damaged.write_bytes(bytes(blob))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_nwb(damaged, align="cue_time", window_s=(0, 1), bin_size_s=0.5)
        except ValueError as exc:
            messages.append(str(exc))
    assert sum("truncated or corrupted" in m for m in messages) >= 3
    assert max(len(m) for m in messages) < 600  # short enough to read: no dumped internals


def test_calcium_series_from_another_writer_with_nan_stop_times(tmp_path):
    """An ophys file as acquisition software writes it: ROI ids, NaN stop_time, no units."""
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.ophys import Fluorescence, ImageSegmentation, OpticalChannel

    nwb = NWBFile(
        session_description="ophys",
        identifier="ophys",
        session_start_time=datetime(2024, 1, 1, tzinfo=UTC),
    )
    nwb.add_trial_column(name="cue_time", description="cue (s)")
    nwb.add_trial_column(name="context", description="context")
    for i in range(8):
        nwb.add_trial(
            start_time=3.0 * i,
            stop_time=np.nan,
            cue_time=3.0 * i + 1.0,
            context="a" if i % 2 else "b",
        )
    device = nwb.create_device(name="scope")
    plane = nwb.create_imaging_plane(
        name="plane",
        optical_channel=OpticalChannel(name="ch", description="green", emission_lambda=510.0),
        description="plane",
        device=device,
        excitation_lambda=920.0,
        imaging_rate=30.0,
        indicator="GCaMP6f",
        location="V1",
    )
    module = nwb.create_processing_module(name="ophys", description="ophys")
    segmentation = ImageSegmentation(name="ImageSegmentation")
    module.add(segmentation)
    rois = segmentation.create_plane_segmentation(
        name="PlaneSegmentation", description="rois", imaging_plane=plane
    )
    for u in range(4):
        rois.add_roi(pixel_mask=[(u, 0, 1.0)], id=10 + u)
    region = rois.create_roi_table_region(region=[0, 1, 2, 3], description="all")
    fluorescence = Fluorescence(name="Fluorescence")
    module.add(fluorescence)
    t = np.arange(750) / 30.0
    data = np.stack([np.sin((u + 1) * t) + u for u in range(4)], axis=1)
    fluorescence.create_roi_response_series(
        name="RoiResponseSeries", data=data, rois=region, unit="a.u.", rate=30.0
    )
    path = tmp_path / "ophys.nwb"
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)

    pop = read_nwb(
        path, align="cue_time", window_s=(-1.5, 1.0), bin_size_s=0.25, clip_to_trial=True
    )
    assert pop.attrs["quantity"] == "fluorescence"
    assert pop.attrs["series"] == "processing/ophys/Fluorescence/RoiResponseSeries"
    assert pop["unit"].values.tolist() == [10, 11, 12, 13]  # the ROI table's ids
    assert pop.shape == (8, 10, 4)
    # bins before start_time are clipped; a NaN stop_time clips nothing after the event
    assert np.isnan(pop.values[:, :2]).all() and np.isfinite(pop.values[:, 2:]).all()
    for i in (0, 5):
        for k in range(2, 10):
            lo = 3.0 * i + 1.0 - 1.5 + 0.25 * k
            inside = (t >= lo - 1e-9) & (t < lo + 0.25 - 1e-9)
            np.testing.assert_allclose(pop.values[i, k], data[inside].mean(axis=0), atol=1e-12)
    assert pop["context"].values.tolist() == ["b", "a"] * 4
    info = nwb_info(path)
    assert info["n_units"] == 0 and info["trial_columns"]["stop_time"] == []
    assert info["series"] == {"processing/ophys/Fluorescence/RoiResponseSeries": (750, 4)}


def test_files_are_opened_read_only(tmp_path, monkeypatch):
    path = make_nwb(tmp_path / "ro.nwb", units=[np.arange(0, 20, 0.1)])
    modes = []
    original = h5py.File.__init__

    def spy(self, name, mode=None, *args, **kwargs):
        if isinstance(name, str | Path):  # a file opened by name, not a handle re-wrapped
            modes.append(mode)
        original(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(h5py.File, "__init__", spy)
    before = sha256(path)
    read_nwb(path, align="cue_time", window_s=(0, 1), bin_size_s=0.5)
    read_nwb([path, path], align="cue_time", window_s=(0, 1), bin_size_s=0.5, pool_by="side")
    nwb_info(path)
    assert len(modes) >= 3 and set(modes) == {"r"}
    assert sha256(path) == before


def test_several_small_files_pool_into_a_pseudo_population(tmp_path):
    rng = np.random.default_rng(3)
    a = make_nwb(tmp_path / "a.nwb", n_trials=12, units=[np.sort(rng.uniform(0, 24, 300))])
    b = make_nwb(
        tmp_path / "b.nwb",
        n_trials=7,
        units=[np.sort(rng.uniform(0, 14, n)) for n in (100, 250)],
    )
    settings = dict(align="cue_time", window_s=(-0.5, 1.0), bin_size_s=0.25)
    pop = read_nwb([a, b], pool_by="side", seed=4, **settings)
    # file b has 3 "left" (odd) and 4 "right" trials: 3 per condition
    assert pop.sizes == {"trial": 6, "time": 6, "unit": 3}
    assert pop["side"].values.tolist() == ["left"] * 3 + ["right"] * 3
    assert pop["unit"].values.tolist() == ["a/0", "b/0", "b/1"]
    assert pop["session"].values.tolist() == ["a", "b", "b"]
    assert pop.attrs["pool_by"] == ["side"] and pop.attrs["pool_n_trials"] == 3
    for src, cols in ((a, [0]), (b, [1, 2])):
        single = read_nwb(src, **settings)
        for t in range(6):
            hits = [
                i
                for i in range(single.sizes["trial"])
                if np.array_equal(single.values[i], pop.values[t][:, cols])
            ]
            assert any(single["side"].values[i] == pop["side"].values[t] for i in hits)
    with pytest.raises(ValueError, match="n_trials=5.*replace=True"):
        read_nwb([a, b], pool_by="side", n_trials=5, **settings)
    with pytest.raises(ValueError, match="empty list of paths"):
        read_nwb([], **settings)


def shorten_column(path: Path, table: str, column: str, n: int) -> Path:
    """Rewrite one column of an NWB table with only its first ``n`` entries (a broken writer)."""
    with h5py.File(path, "a") as f:
        group = f[table]
        values, attrs = group[column][:], dict(group[column].attrs)
        del group[column]
        new = group.create_dataset(column, data=values[:n])
        for key, value in attrs.items():
            new.attrs[key] = value
    return path


@pytest.mark.parametrize(
    ("table", "column", "match"),
    [
        ("intervals/trials", "side", r"'intervals/trials', column 'side' has 7 values.*10 rows"),
        (
            "units",
            "spike_times_index",
            r"'units', column 'spike_times' has 1 index entries.*2 rows",
        ),
    ],
)
def test_a_column_of_the_wrong_length_is_named(tmp_path, table, column, match):
    path = make_nwb(tmp_path / "short.nwb", units=[np.arange(0, 20, 0.1), np.arange(3.0)])
    shorten_column(path, table, column, 7 if column == "side" else 1)
    before = sha256(path)
    for read in (
        lambda: read_nwb(path, align="cue_time", window_s=(0, 1), bin_size_s=0.5),
        lambda: nwb_info(path),
    ):
        with pytest.raises(ValueError, match=match) as info:
            read()
        assert "one value per row" in str(info.value) and len(str(info.value)) < 400
    assert sha256(path) == before


def test_unit_and_trial_selection_in_every_form(tmp_path):
    trains = [np.arange(0, 20, 0.1), np.arange(0, 20, 0.25), np.arange(0, 20, 0.5)]
    path = make_nwb(tmp_path / "sel.nwb", units=trains)
    settings = dict(align="cue_time", window_s=(0, 1), bin_size_s=0.5)
    full = read_nwb(path, **settings)
    np.testing.assert_array_equal(full.values.sum(axis=(0, 1)), [100, 40, 20])
    rows = {
        "dict": {"side": "left", "is_rewarded": [True]},
        "callable": lambda t: (t["side"] == "left") & t["is_rewarded"],
        "query": "side == 'left' and is_rewarded",
    }
    expected = np.flatnonzero((full["side"].values == "left") & full["is_rewarded"].values)
    assert expected.tolist() == [3, 9]
    for rule in rows.values():
        sub = read_nwb(path, trial_filter=rule, **settings)
        np.testing.assert_array_equal(sub["trial_id"].values, expected)
        np.testing.assert_array_equal(sub.values, full.values[expected])
    picked = read_nwb(path, units=[2, 0], **settings)
    assert picked["unit"].values.tolist() == [2, 0]
    np.testing.assert_array_equal(picked.values, full.values[:, :, [2, 0]])
    fast = read_nwb(path, unit_filter=lambda u: u.index < 2, **settings)
    assert fast["unit"].values.tolist() == [0, 1]
    only = read_nwb(path, trial_columns=["side"], **settings)
    assert [c for c in only.coords if only[c].dims == ("trial",)] == ["trial", "side"]
    with pytest.raises(ValueError, match="trial_filter kept none of the 10 trials"):
        read_nwb(path, trial_filter={"side": "up"}, **settings)
    with pytest.raises(ValueError, match=r"trial_filter names column 'sdie'.*'side'"):
        read_nwb(path, trial_filter={"sdie": "left"}, **settings)
    with pytest.raises(ValueError, match=r"trial_columns \['colour'\] are not in the trials"):
        read_nwb(path, trial_columns=["colour"], **settings)
    with pytest.raises(ValueError, match="does not apply to spikes"):
        read_nwb(path, quantity="dff", **settings)
    with pytest.raises(ValueError, match=r"unknown event 'side'.*\['start_time', 'stop_time'"):
        read_nwb(path, align="side", window_s=(0, 1), bin_size_s=0.5)


def test_series_with_irregular_timestamps_is_bin_averaged(tmp_path):
    from pynwb import NWBHDF5IO, TimeSeries

    rng = np.random.default_rng(8)
    stamps = np.sort(rng.uniform(0, 21, 3000))
    data = np.stack([np.sin(stamps), stamps**0.5], axis=1)
    path = make_nwb(tmp_path / "irregular.nwb")
    with NWBHDF5IO(str(path), "a") as io:
        nwb = io.read()
        nwb.add_acquisition(TimeSeries(name="pupil", data=data, unit="a.u.", timestamps=stamps))
        io.write(nwb)
    pop = read_nwb(path, align="cue_time", window_s=(-0.4, 0.6), bin_size_s=0.2, series="pupil")
    assert pop.shape == (10, 5, 2) and pop.attrs["series"] == "acquisition/pupil"
    for i in range(10):
        for k in range(5):
            lo = 2.0 * i + 0.5 - 0.4 + 0.2 * k
            inside = (stamps >= lo) & (stamps < lo + 0.2)
            np.testing.assert_allclose(pop.values[i, k], data[inside].mean(axis=0), rtol=1e-12)
