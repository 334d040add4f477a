"""Mistakes with NWB files and the io commands: each gives a message naming the problem and the fix.

Windows that miss the spikes, milliseconds typed as seconds, bins that do not divide the window,
NaN or denormal spike times, tensors too large to allocate, files that crash the HDF5 library,
files locked by another process, HDF5 files that are not NWB, an NWB file given as a stored
tensor, ``--window`` with one number, and a damaged trials table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from test_nwb_read import make_nwb
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.io._nwb_open import probe_hdf5
from neurogeom.io.arrays import from_array
from neurogeom.io.nwb import nwb_info, read_nwb
from neurogeom.io.store import save

runner = CliRunner()


def spikes(seed: int = 0, n_units: int = 3, stop_s: float = 20.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.sort(rng.uniform(0.0, stop_s, 60)) for _ in range(n_units)]


@pytest.fixture(scope="module")
def small_nwb(tmp_path_factory) -> Path:
    """10 trials 2 s apart (1.5 s long), 3 units with spikes in 0..20 s."""
    return make_nwb(tmp_path_factory.mktemp("nwb") / "small.nwb", units=spikes())


def cli_error(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert lines and lines[0].startswith("error:"), result.output
    return " ".join(result.output.split())


# ---- windows, bins and spike times -----------------------------------------------------------


def test_window_outside_the_spikes_warns_that_the_tensor_is_all_zero(small_nwb):
    with pytest.warns(UserWarning, match=r"every bin .* is zero.*entirely outside the recorded"):
        pop = read_nwb(small_nwb, align="start_time", window_s=(100.0, 101.0), bin_size_s=0.5)
    assert not pop.values.any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a window holding spikes: no warning
        pop = read_nwb(small_nwb, align="start_time", window_s=(0.0, 1.0), bin_size_s=0.5)
    assert pop.values.sum() > 0


def test_window_in_milliseconds_is_refused_or_warned(tmp_path, small_nwb):
    with pytest.raises(ValueError, match=r"longer than the whole session.*window_s=\(-0.5, 1\)"):
        read_nwb(small_nwb, align="start_time", window_s=(-500, 1000), bin_size_s=50)
    long = make_nwb(tmp_path / "long.nwb", n_trials=30, units=spikes(stop_s=60.0))
    with pytest.warns(UserWarning, match=r"times the median trial .*window_s=\(0, 0.035\)"):
        read_nwb(long, align="start_time", window_s=(0, 35), bin_size_s=5)


def test_bin_that_does_not_divide_the_window_states_the_binned_window(small_nwb):
    with pytest.warns(UserWarning, match=r"does not divide window_s=\(0, 1\).*\(0, 0.9\)"):
        pop = read_nwb(small_nwb, align="start_time", window_s=(0.0, 1.0), bin_size_s=0.3)
    assert pop.sizes["time"] == 3
    assert pop.attrs["window_s"] == [0.0, 0.9]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = read_nwb(small_nwb, align="start_time", window_s=(0.0, 1.0), bin_size_s=0.25)
    assert whole.attrs["window_s"] == [0.0, 1.0]


def test_all_nan_spike_times_are_an_error_not_zeros(tmp_path):
    path = make_nwb(tmp_path / "nan.nwb", units=[np.full(40, np.nan), np.full(10, np.nan)])
    with pytest.raises(ValueError, match=r"all NaN .*spike_times column is damaged"):
        read_nwb(path, align="start_time", window_s=(0, 1), bin_size_s=0.5)


def test_denormal_spike_times_are_an_error_not_zeros(tmp_path):
    bits = np.arange(1, 41, dtype=np.int64).view(np.float64)  # sample indices stored as floats
    path = make_nwb(tmp_path / "denormal.nwb", units=[bits])
    with pytest.raises(ValueError, match=r"denormal numbers .*wrong type"):
        read_nwb(path, align="start_time", window_s=(0, 1), bin_size_s=0.5)


def test_a_few_nan_spike_times_are_ignored_with_a_warning(tmp_path):
    train = np.sort(np.random.default_rng(1).uniform(0, 20, 50))
    path = make_nwb(tmp_path / "some_nan.nwb", units=[np.append(train, [np.nan, np.nan])])
    with pytest.warns(UserWarning, match=r"ignored 2 of 52 spike times"):
        pop = read_nwb(path, align="start_time", window_s=(0, 1), bin_size_s=0.5)
    expected = sum(np.sum((train >= 2.0 * i) & (train < 2.0 * i + 1)) for i in range(10))
    assert pop.values.sum() == expected


def test_tiny_bin_is_refused_before_allocating(small_nwb, tmp_path, monkeypatch):
    out = tmp_path / "t.nc"
    text = cli_error(
        ["load", str(small_nwb), "--window", "0", "1.5", "--bin", "1e-9", "-o", str(out)]
    )
    assert "1,500,000,000 bins" in text and "more than the limit of 8 GiB (max_bytes)" in text
    assert "NEUROGEOM_MAX_TENSOR_BYTES" in text and "--max-bytes" in text
    assert not out.exists()
    # the limit can be lowered and raised
    with pytest.raises(ValueError, match=r"10 trials x 100 bins x 3 units = 23.4 KiB"):
        read_nwb(small_nwb, window_s=(0, 1), bin_size_s=0.01, max_bytes=10_000)
    monkeypatch.setenv("NEUROGEOM_MAX_TENSOR_BYTES", "1e4")
    with pytest.raises(ValueError, match=r"limit of 9.77 KiB"):
        read_nwb(small_nwb, window_s=(0, 1), bin_size_s=0.01)
    pop = read_nwb(small_nwb, window_s=(0, 1), bin_size_s=0.01, max_bytes=30_000)
    assert pop.shape == (10, 100, 3)


# ---- files: crashes, locks, kinds ------------------------------------------------------------


def crashing_copy(src: Path, dst: Path) -> Path:
    """``src`` with one attribute's string datatype damaged: h5py segfaults reading it."""
    data = bytearray(src.read_bytes())
    mark = b"description\x00\x00\x00\x00\x00\x19\x01"
    at = data.find(mark)
    assert at > 0
    data[at + len(mark) - 1] = 0x05  # variable-length type 1 (string) -> 5 (undefined)
    dst.write_bytes(bytes(data))
    return dst


def test_file_that_crashes_h5py_is_one_clear_line(small_nwb, tmp_path):
    bad = crashing_copy(small_nwb, tmp_path / "flipped.nwb")
    walk = (
        "import h5py, sys; f = h5py.File(sys.argv[1]); names = ['/']; f.visit(names.append); "
        "[dict(f[n].attrs) for n in names]"
    )
    raw = subprocess.run([sys.executable, "-c", walk, str(bad)], capture_output=True)
    assert raw.returncode < 0  # h5py itself dies on this file (SIGSEGV)
    with pytest.raises(ValueError, match=r"is damaged: reading its HDF5 structure crashed"):
        probe_hdf5(bad)
    probe_hdf5(small_nwb)  # an intact file passes
    # the commands read the file in a child first, so this process never opens it
    for args in (
        ["info", str(bad)],
        ["load", str(bad), "--window", "0", "1", "--bin", "0.5", "-o", str(tmp_path / "o.nc")],
    ):
        text = cli_error(args)
        assert "crashed the HDF5 library (SIGSEGV" in text and "copy or download" in text
    assert not (tmp_path / "o.nc").exists()


@pytest.mark.skipif(
    os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE",
    reason="HDF5 file locking is switched off in this environment",
)
def test_file_locked_by_another_process_is_not_called_corrupted(small_nwb, tmp_path):
    path = shutil.copy(small_nwb, tmp_path / "locked.nwb")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import h5py, sys; f = h5py.File(sys.argv[1], 'a'); print('open', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(ValueError, match=r"is locked by another process") as err:
            read_nwb(path, window_s=(0, 1), bin_size_s=0.5)
        assert "corrupted" not in str(err.value) and "HDF5_USE_FILE_LOCKING" in str(err.value)
        text = cli_error(["info", str(path)])
        assert "locked by another process" in text and "corrupted" not in text
    finally:
        holder.communicate("", timeout=30)
    assert nwb_info(path)["n_trials"] == 10  # readable once the other process is done


def test_plain_hdf5_and_netcdf_given_to_info_say_what_they_are(tmp_path):
    plain = tmp_path / "arrays.h5"
    with h5py.File(plain, "w") as f:
        f["rates"] = np.zeros((4, 3))
    text = cli_error(["info", str(plain)])
    assert "is an HDF5 file but not an NWB file" in text and "['rates']" in text
    assert "neurogeom.from_array" in text
    tensor = from_array(np.zeros((4, 2, 3)), dims=("trial", "time", "unit"), bin_size_s=0.1)
    nc = save(tensor, tmp_path / "tensor.nc")
    text = cli_error(["info", str(nc)])
    assert "is a netCDF file" in text and "neurogeom.load" in text and "capacity" in text


def test_nwb_renamed_nc_given_to_capacity_says_to_run_load(small_nwb, tmp_path):
    renamed = shutil.copy(small_nwb, tmp_path / "session.nc")
    out = tmp_path / "cap.nc"
    text = cli_error(["capacity", str(renamed), "--by", "side", "-o", str(out)])
    assert "is an NWB recording, not a stored population tensor" in text
    assert "neurogeom load" in text and "--window START STOP --bin SIZE" in text
    assert not out.exists()


@pytest.mark.parametrize(
    "window", [["--window", "1.0", "--bin", "0.5"], ["--bin", "0.5", "--window", "1.0"]]
)
def test_window_with_one_number_asks_for_two(small_nwb, tmp_path, window):
    result = runner.invoke(app, ["load", str(small_nwb), *window, "-o", str(tmp_path / "w.nc")])
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())
    assert "--window needs two numbers, START STOP in seconds" in text or (
        "'--window' requires 2 arguments" in text
    )
    assert not (tmp_path / "w.nc").exists()


def test_damaged_trials_table_is_not_called_missing(small_nwb, tmp_path):
    bad = shutil.copy(small_nwb, tmp_path / "trials_damaged.nwb")
    with h5py.File(small_nwb, "r") as f:
        header = h5py.h5o.get_info(f["intervals/trials"].id).addr
    data = bytearray(Path(bad).read_bytes())
    data[header] = 0x07  # object header version 1 -> 7: the group cannot be opened
    Path(bad).write_bytes(bytes(data))
    for call in (
        lambda: read_nwb(bad, window_s=(0, 1), bin_size_s=0.5),
        lambda: nwb_info(bad),
    ):
        with pytest.raises(ValueError, match=r"has a trials table \(intervals/trials\) but it is "):
            call()
    text = cli_error(["info", str(bad)])
    assert "damaged" in text and "no trials table" not in text
    # a trials group without its type reads as a damaged table too
    untyped = shutil.copy(small_nwb, tmp_path / "trials_untyped.nwb")
    with h5py.File(untyped, "a") as f:
        del f["intervals/trials"].attrs["neurodata_type"]
    with pytest.raises(ValueError, match=r"its trials table \(intervals/trials\) is damaged"):
        read_nwb(untyped, window_s=(0, 1), bin_size_s=0.5)
