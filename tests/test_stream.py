"""read_nwb and nwb_info from URLs, against a loopback HTTP server with byte ranges.

The DANDI:000006 files are served from ../shared/data as a plain file URL and as a DANDI-style
asset URL (``/api/assets/<id>/download/`` redirecting to the object); the streamed tensor must
equal the local read exactly, and the bytes the server sent are counted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

pytest.importorskip("remfile")

from _http import RangeServer  # noqa: E402
from _nwb_files import many_units_nwb  # noqa: E402

from neurogeom.data import sample_nwb  # noqa: E402
from neurogeom.io.nwb import nwb_info, read_nwb  # noqa: E402

DANDI = ("sub-anm369963_ses-20170228.nwb", "sub-anm372793_ses-20170508.nwb")
READ = dict(align="cue_start_time", window_s=(-1.0, 2.0), bin_size_s=0.25)


@pytest.fixture(scope="module")
def dandi_server(shared_data):
    with RangeServer(shared_data / "dandi000006_alm_nwb") as server:
        yield server


@pytest.fixture(scope="module")
def many_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    path = many_units_nwb(root / "many_units.nwb")
    with RangeServer(root) as server:
        yield server, path


def assert_same_tensor(streamed: xr.DataArray, local: xr.DataArray) -> None:
    assert streamed.dims == local.dims and streamed.shape == local.shape
    np.testing.assert_array_equal(streamed.values, local.values)
    for name in local.coords:
        np.testing.assert_array_equal(streamed[name].values, local[name].values)
    differ = {"source"}  # the URL instead of the path
    assert {k: v for k, v in streamed.attrs.items() if k not in differ} == {
        k: v for k, v in local.attrs.items() if k not in differ
    }


@pytest.mark.parametrize("name", DANDI)
def test_streamed_dandi_file_equals_local_read(shared_data, dandi_server, name):
    local = read_nwb(shared_data / "dandi000006_alm_nwb" / name, **READ)
    dandi_server.reset()
    streamed = read_nwb(dandi_server.file_url(name), **READ)
    assert_same_tensor(streamed, local)
    assert streamed.attrs["source"] == dandi_server.file_url(name)
    size = (shared_data / "dandi000006_alm_nwb" / name).stat().st_size
    served = dandi_server.served_bytes
    # the file's metadata dominates these small files; the lick times are never fetched
    assert 0 < served < size, (served, size)
    assert streamed.values.sum() > 100


def test_dandi_asset_url_follows_the_redirect(shared_data, dandi_server):
    name = DANDI[0]
    local = read_nwb(shared_data / "dandi000006_alm_nwb" / name, **READ)
    streamed = read_nwb(dandi_server.asset_url(name), **READ)
    assert_same_tensor(streamed, local)
    assert streamed.attrs["session"] == Path(name).stem  # from Content-Disposition


def test_nwb_info_of_a_url_equals_local(shared_data, dandi_server):
    name = DANDI[1]
    local = nwb_info(shared_data / "dandi000006_alm_nwb" / name)
    streamed = nwb_info(dandi_server.asset_url(name))
    assert {k: v for k, v in streamed.items() if k != "path"} == {
        k: v for k, v in local.items() if k != "path"
    }
    assert streamed["n_trials"] == 340


def test_few_units_fetch_far_less_than_the_file(many_server):
    server, path = many_server
    size = path.stat().st_size
    settings = dict(align="start_time", window_s=(0.0, 2.0), bin_size_s=0.25)
    local = read_nwb(path, units=[3, 50, 97], **settings)
    server.reset()
    streamed = read_nwb(server.file_url(path.name), units=[3, 50, 97], **settings)
    assert_same_tensor(streamed, local)
    few = server.served_bytes
    server.reset()
    every = read_nwb(server.file_url(path.name), **settings)
    assert every.sizes["unit"] == 100
    all_units = server.served_bytes
    # 3 of 100 units: their spike times are 3% of the 8 MB file; the rest is metadata, tables
    assert few < 0.1 * size, (few, size)
    assert all_units > 0.9 * size  # every unit: (nearly) the whole file
    assert all_units <= 1.05 * size


def test_streaming_a_sample_with_one_compressed_chunk_equals_local(tmp_path):
    # the bundled sample keeps all spike times in one gzip chunk: any unit fetches all of it
    shutil.copy(sample_nwb("early"), tmp_path / "sample_early.nwb")
    settings = dict(align="stimulus_on_time", window_s=(0.0, 0.5), bin_size_s=0.25)
    with RangeServer(tmp_path) as server:
        streamed = read_nwb(server.file_url("sample_early.nwb"), units=[3, 50], **settings)
    assert_same_tensor(streamed, read_nwb(sample_nwb("early"), units=[3, 50], **settings))


def test_unreachable_or_rangeless_urls_are_clear_errors(dandi_server):
    with pytest.raises(ValueError, match=r"HTTP 404.*check the URL"):
        read_nwb(dandi_server.url + "/files/missing.nwb", **READ)
    with pytest.raises(ValueError, match=r"cannot reach .*check the URL and the network"):
        read_nwb("http://127.0.0.1:9/files/x.nwb", **READ)  # port 9: discard, nothing listens


def test_cli_info_and_load_take_a_dandi_asset_url(shared_data, dandi_server, tmp_path):
    from typer.testing import CliRunner

    from neurogeom.cli import app
    from neurogeom.io.store import load

    runner = CliRunner()
    url = dandi_server.asset_url(DANDI[0])
    info = runner.invoke(app, ["info", url])
    assert info.exit_code == 0, info.output
    assert "units: 1  trials: 178" in info.output
    out = tmp_path / "streamed.nc"
    args = ["load", url, "--align", "cue_start_time", "--window", "-1", "2", "--bin", "0.25"]
    done = runner.invoke(app, [*args, "-o", str(out)])
    assert done.exit_code == 0, done.output
    local = read_nwb(shared_data / "dandi000006_alm_nwb" / DANDI[0], **READ)
    np.testing.assert_array_equal(load(out).values, local.values)
