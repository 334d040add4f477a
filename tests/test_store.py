"""save / load: netCDF and zarr round trips, provenance, atomic writes, errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from neurogeom import __version__
from neurogeom.io.arrays import from_array
from neurogeom.io.store import load, read_provenance, save


@pytest.fixture
def pop():
    rng = np.random.default_rng(0)
    return from_array(
        rng.normal(size=(2, 6, 4, 3)),
        ("stage", "trial", "time", "unit"),
        trial_coords={
            "context": ["motion", "color"] * 3,
            "is_correct": [True, False, True, True, False, True],
            "coherence": [0.05, np.nan, 0.5, -0.5, 0.15, 0.05],
        },
        stage=[0, 500],
        stage_coords={"label": ["before", "after"]},
        time=0.1 * np.arange(4),
        unit=["a/1", "a/2", "b/1"],
        unit_coords={"session": ["a", "a", "b"]},
        quantity="rnn_state",
        bin_size_s=0.1,
        source="synthetic",
        attrs={
            "flag": True,
            "nothing": None,
            "steps": [1, 10],
            "pool_by": ["context"],
            "cfg": {"lr": 1e-3},
        },
    )


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_population_round_trip_is_identical(tmp_path, pop, suffix):
    path = save(pop, tmp_path / f"pop{suffix}")
    back = load(path)
    xr.testing.assert_identical(back, pop)
    assert back["is_correct"].dtype == bool
    assert back["context"].dtype.kind == "U"
    assert back.attrs["flag"] is True and back.attrs["nothing"] is None
    assert back.attrs["cfg"] == {"lr": 1e-3}
    prov = read_provenance(path)
    assert prov["neurogeom_version"] == __version__
    assert prov["provenance_source"] == "synthetic"
    assert prov["created_utc"].startswith("20")


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_result_dataset_round_trip_and_overwrite(tmp_path, suffix):
    ds = xr.Dataset(
        {"capacity": ("stage", [0.12, 0.31]), "capacity_se": ("stage", [0.01, 0.02])},
        coords={"stage": [0, 1], "label": ("stage", ["before", "after"])},
        attrs={"estimator": "glue", "seed": 0, "kappa": 0.0, "converged": False},
    )
    path = save(ds, tmp_path / f"res{suffix}", source="pop.nc")
    xr.testing.assert_identical(load(path), ds)
    save(ds * 2, path)  # replaced in place
    np.testing.assert_allclose(load(path)["capacity"].values, [0.24, 0.62])
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"res{suffix}"]  # no leftovers
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save(ds, path, overwrite=False)


def test_store_errors(tmp_path, pop):
    with pytest.raises(ValueError, match=r"name it \*\.nc"):
        save(pop, tmp_path / "pop.pkl")
    with pytest.raises(TypeError, match="DataArray or Dataset"):
        save(np.zeros(3), tmp_path / "x.nc")
    with pytest.raises(FileNotFoundError, match="no stored result"):
        load(tmp_path / "absent.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        save(pop, bad / "x.nc")
    with pytest.raises(ValueError, match="not a readable netcdf"):
        load(bad)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.nc"]


def test_save_creates_missing_folders(tmp_path, pop):
    path = save(pop, tmp_path / "new" / "deeper" / "pop.nc")
    assert path.is_file()
    xr.testing.assert_identical(load(path), pop)


@pytest.mark.parametrize(("suffix", "method"), [(".nc", "to_netcdf"), (".zarr", "to_zarr")])
def test_a_save_that_fails_midway_keeps_the_old_result(tmp_path, pop, monkeypatch, suffix, method):
    path = save(pop, tmp_path / f"pop{suffix}")
    original = getattr(xr.Dataset, method)

    def fail_after_writing(self, target, *args, **kwargs):
        original(self, target, *args, **kwargs)  # written under the temporary name ...
        raise OSError("disk full")  # ... then the write fails

    monkeypatch.setattr(xr.Dataset, method, fail_after_writing)
    with pytest.raises(OSError, match="disk full"):
        save(pop * 2, path)
    with pytest.raises(OSError, match="disk full"):
        save(pop, tmp_path / f"other{suffix}")
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"pop{suffix}"]
    xr.testing.assert_identical(load(path), pop)
