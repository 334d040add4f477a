"""neurogeom info / neurogeom load on the bundled sample, and their one-line errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.data import sample_nwb
from neurogeom.io.nwb import read_nwb
from neurogeom.io.store import load

runner = CliRunner()


def test_info_prints_counts_columns_and_events():
    result = runner.invoke(app, ["info", str(sample_nwb("early"))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "units: 100  trials: 400" in out
    assert "context: 'motion', 'color'" in out or "context: 'color', 'motion'" in out
    assert "choice:" in out and "motion_coherence:" in out
    assert "stimulus_on_time (absolute)" in out


def test_load_writes_the_same_tensor_as_read_nwb(tmp_path):
    out = tmp_path / "late.nc"
    args = ["load", str(sample_nwb("late")), "--align", "stimulus_on_time"]
    args += ["--window", "-0.2", "0.6", "--bin", "0.1", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "trial=400, time=8, unit=100" in result.output
    saved = load(out)
    direct = read_nwb(
        sample_nwb("late"), align="stimulus_on_time", window_s=(-0.2, 0.6), bin_size_s=0.1
    )
    np.testing.assert_array_equal(saved.values, direct.values)
    assert saved["choice"].values.tolist() == direct["choice"].values.tolist()


def test_bad_event_prints_one_line_and_exits_non_zero(tmp_path):
    out = tmp_path / "never.nc"
    code = "from neurogeom.cli import app; app()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "load", str(sample_nwb("late")), "--align", "go_cue"]
        + ["--window", "0", "1", "--bin", "0.1", "-o", str(out)],
        capture_output=True,
        text=True,
        env={"COLUMNS": "400", "PATH": "", "HOME": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == 1
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "unknown event 'go_cue'" in lines[0] and "stimulus_on_time" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not out.exists()


def test_bad_window_and_missing_file_are_one_line_errors(tmp_path):
    result = runner.invoke(
        app,
        [
            "load",
            str(sample_nwb("late")),
            "--window",
            "1",
            "0",
            "--bin",
            "0.1",
            "-o",
            str(tmp_path / "x.nc"),
        ],
    )
    assert result.exit_code == 1
    assert "window start must be before its stop" in result.output
    result = runner.invoke(app, ["info", str(tmp_path / "absent.nwb")])
    assert result.exit_code == 1 and "not found" in result.output
    assert list(tmp_path.iterdir()) == []


def _bad_file(kind: str, folder):
    """A file that ``neurogeom load`` must refuse, and the phrase its error must contain."""
    from test_nwb_read import make_nwb

    path = folder / f"{kind}.nwb"
    if kind == "no_trials":
        make_nwb(path, with_trials=False, units=[np.arange(5.0)])
        return path, "no trials table"
    if kind == "no_data":
        make_nwb(path)
        return path, "no units table and no continuous data"
    if kind == "wrong_length":
        from test_nwb_read import shorten_column

        make_nwb(path, units=[np.arange(5.0)])
        shorten_column(path, "intervals/trials", "side", 4)
        return path, "column 'side' has 4 values but the table has 10 rows"
    if kind == "not_hdf5":
        path.write_text("spike times, one per line\n0.1\n0.2\n")
        return path, "not an HDF5 file"
    if kind == "truncated":
        whole = make_nwb(folder / "whole.nwb", units=[np.arange(0, 20, 0.01)])
        path.write_bytes(whole.read_bytes()[:5000])
        whole.unlink()
        return path, "truncated or corrupted"
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["no_trials", "no_data", "not_hdf5", "truncated", "wrong_length"])
def test_bad_files_are_one_line_errors_and_write_nothing(tmp_path, kind):
    src = tmp_path / "in"
    src.mkdir()
    path, phrase = _bad_file(kind, src)
    out = tmp_path / "out" / "never.nc"
    args = ["load", str(path), "--window", "0", "1", "--bin", "0.5", "-o", str(out)]
    commands = [args] if kind in ("no_trials", "no_data") else [args, ["info", str(path)]]
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 1, result.output
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.output
        assert phrase in lines[0]
        assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("options", "phrase"),
    [
        (["--window", "0.5", "0.5", "--bin", "0.1"], "window start must be before its stop"),
        (["--window", "0", "1", "--bin", "0"], "bin_size_s must be a positive number"),
        (["--window", "0", "1", "--bin=-0.1"], "e.g. bin_size_s=0.05"),
        (["--window", "0", "1", "--bin", "0.1", "--align", "go"], "'stimulus_on_time'"),
        (["--window", "0", "1", "--bin", "0.1", "--series", "lfp"], "no series 'lfp'"),
    ],
)
def test_bad_options_are_one_line_errors_and_write_nothing(tmp_path, options, phrase):
    out = tmp_path / "never.nc"
    result = runner.invoke(app, ["load", str(sample_nwb("early")), *options, "-o", str(out)])
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and phrase in lines[0], result.output
    assert list(tmp_path.iterdir()) == []
