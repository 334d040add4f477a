"""A study of NWB files in the DANDI layout, run from a spec (`neurogeom run`) and from the command
line (`neurogeom study`): the same numbers as the API at the same seed; bad inputs refused before
anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import neurogeom as ng
from neurogeom.cli import app
from neurogeom.learning import study_stage_difference, study_stages, study_trajectory
from neurogeom.workflows.pipeline import run_pipeline

N_T, N_BOOT, N_PERM, SEED = 20, 4, 20, 3
READ = {"align": "start_time", "window_s": (0.0, 0.2), "bin_size_s": 0.1}


def _write_study(folder: Path, sessions: dict[str, int]) -> None:
    """NWB files sub-<s>/sub-<s>_ses-<k>.nwb: each session its own units and trial count, two
    conditions whose separation grows along the sessions."""
    rng = np.random.default_rng(0)
    for i, (subject, n_sessions) in enumerate(sessions.items()):
        for k in range(n_sessions):
            n_trials, n_units = 24 + 4 * k + 2 * i, 10 + 3 * k + i
            side = np.arange(n_trials) % 2
            rates = 4.0 + (1.0 + 2.0 * k) * np.outer(side - 0.5, rng.normal(size=n_units))
            counts = rng.poisson(np.clip(rates, 0.2, None)[:, None, :], (n_trials, 2, n_units))
            pop = ng.make_population(
                counts.astype(float), dims=("trial", "time", "unit"), quantity="spike_count",
                trial_coords={"side": side}, time=np.array([0.05, 0.15]), bin_size_s=0.1, species="Mus musculus",
            )  # fmt: skip
            path = folder / f"sub-{subject}" / f"sub-{subject}_ses-{k + 1}.nwb"
            path.parent.mkdir(parents=True, exist_ok=True)
            ng.write_nwb(pop, path, subject={"subject_id": subject})


def _spec(tmp_path: Path, folder: Path, **study: str) -> Path:
    keys = "".join(f'{k} = "{v}"\n' for k, v in study.items())
    spec = tmp_path / "study.toml"
    spec.write_text(
        f'[studies.mice]\nfolder = "{folder}"\n{keys}align = "start_time"\n'
        "window_s = [0.0, 0.2]\nbin_size_s = 0.1\n\n"
        f'[analysis]\nby = "side"\nwindow_s = [0.0, 0.2]\nn_t = {N_T}\nn_boot = {N_BOOT}\n'
        f"n_perm = {N_PERM}\n\n[run]\nseed = {SEED}\n"
    )
    return spec


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("dandi")
    _write_study(folder, {"a": 3, "b": 3, "c": 3})
    return folder


@pytest.fixture(scope="module")
def api(folder) -> dict[str, xr.Dataset]:
    tree = ng.study(folder, **READ)
    common = {"window_s": (0.0, 0.2), "n_boot": N_BOOT, "seed": SEED, "n_t": N_T}
    traj = study_trajectory(tree, "side", **common)
    test = study_stage_difference(tree, "side", n_perm=N_PERM, **common)
    return {"trajectory": traj, "stage_difference": test, "stages": study_stages(traj)}


def _same_numbers(a: xr.Dataset, b: xr.Dataset) -> None:
    for name in a.data_vars:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=str(name))


def test_a_study_runs_from_a_spec_with_the_api_numbers(tmp_path, folder, api):
    sizes = {
        (n.attrs["subject"], n.name): dict(ng.population.node_tensor(n).sizes)
        for n in ng.studies.session_nodes(ng.study(folder, **READ))
    }
    assert len({s["unit"] for s in sizes.values()}) > 3
    assert len({s["trial"] for s in sizes.values()}) > 3
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["run", str(_spec(tmp_path, folder)), "-o", str(out), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    for key in ("trajectory", "stage_difference", "stages"):
        _same_numbers(api[key], ng.load(out / "results" / f"study_mice_{key}.nc"))
    assert api["trajectory"].capacity_study.values[-1] > api["trajectory"].capacity_study.values[0]
    html = (out / "report.html").read_text()
    assert "Study &#x27;mice&#x27;" in html and "M (points per manifold, per subject)" in html
    assert (out / "figures" / "study_mice.png").is_file()
    again = CliRunner().invoke(
        app, ["run", str(_spec(tmp_path, folder)), "-o", str(out), "--no-progress"]
    )
    assert "reused" in again.output and "study_mice_trajectory" in again.output


def test_the_study_command_writes_the_api_numbers(tmp_path, folder, api):
    out = tmp_path / "study.nc"
    args = ["study", str(folder), "--by", "side", "--align", "start_time", "--window", "0", "0.2",
            "--bin", "0.1", "--n-t", str(N_T), "--n-boot", str(N_BOOT), "--n-perm", str(N_PERM),
            "--seed", str(SEED), "-o", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "paired sign-flip p" in result.output
    tree = xr.open_datatree(out, engine="h5netcdf")
    for key in ("trajectory", "stage_difference"):
        _same_numbers(api[key], tree[key].to_dataset())
    tree.close()
    again = CliRunner().invoke(app, [*args, "--seed", "4"])
    assert again.exit_code == 1 and "give --seed once" in again.output


def test_bad_studies_are_refused_before_anything_is_written(tmp_path, folder):
    out = tmp_path / "out"
    runner = CliRunner()
    spec = _spec(tmp_path, folder, pattern="sub-*/*_ecephys.nwb")
    result = runner.invoke(app, ["run", str(spec), "-o", str(out), "--no-progress"])
    assert result.exit_code == 1 and "matches 'sub-*/*_ecephys.nwb'" in result.output
    assert not out.exists()
    short = tmp_path / "short"
    _write_study(short, {"a": 2, "b": 1})
    result = runner.invoke(app, ["run", str(_spec(tmp_path, short)), "-o", str(out)])
    assert result.exit_code == 1 and "subject 'b' has 1 session" in result.output
    assert not out.exists()
    result = runner.invoke(app, ["study", str(short), "--by", "side", "--align", "start_time",
                                 "--window", "0", "0.2", "--bin", "0.1", "-o", str(out) + ".nc"])  # fmt: skip
    assert result.exit_code == 1 and "subject 'b' has 1 session" in result.output
    assert not Path(str(out) + ".nc").exists()
    spec = _spec(tmp_path, folder)
    spec.write_text(spec.read_text().replace('by = "side"', 'by = "choice"'))
    with pytest.raises(
        ValueError, match=r"sub-a_ses-1.nwb' lacks the trial label\(s\) \['choice'\]"
    ):
        run_pipeline(spec, out)
    assert not out.exists()
