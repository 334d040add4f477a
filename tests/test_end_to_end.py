"""From the bundled recordings and model run to geometry, through the public API only."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import neurogeom as ng
from neurogeom._provenance import child_seed

WINDOW = {"align": "stimulus_on_time", "window_s": (-0.2, 1.0), "bin_size_s": 0.05}


@pytest.fixture(scope="module")
def sessions() -> dict[str, xr.DataArray]:
    return {s: ng.read_nwb(ng.data.sample_nwb(s), **WINDOW) for s in ("early", "late")}


def test_choice_manifolds_untangle_with_learning(sessions):
    """The late sample session was generated with sharper choice coding: GLUE must see it."""
    res = {
        s: pop.ng.glue(by="choice", window_s=(0.2, 0.8), n_t=100, seed=0)
        for s, pop in sessions.items()
    }
    early, late = res["early"], res["late"]
    gap = float(late.capacity - early.capacity)
    assert gap > 5 * float(np.hypot(late.capacity_sem, early.capacity_sem))
    assert float(late.radius) < float(early.radius)
    assert float(late.center_alignment) < float(early.center_alignment)
    assert late.attrs["by"] == ["choice"] and late.attrs["window_s"] == [0.2, 0.8]
    assert late.manifold.values.tolist() == ["left", "right"]  # the label values


def test_geometry_along_stages_matches_per_stage_calls(sessions):
    """A stage dim (the same trials, a noisier copy): one geometry() call equals glue() per stage,
    each stage with its own child seed."""
    late = sessions["late"]
    noisy = late + np.random.default_rng(0).normal(0.0, 2.0, late.shape)
    staged = xr.concat([late, noisy], dim="stage").transpose("stage", ...)
    staged = staged.assign_coords(stage=[0, 1], label=("stage", ["clean", "noisy"]))
    ds = staged.ng.geometry(by="choice", over="stage", window_s=(0.2, 0.8), n_t=50, seed=1)
    assert ds["capacity"].dims == ("stage",)
    for stage, pop in enumerate((late, noisy)):
        one = pop.ng.glue(by="choice", window_s=(0.2, 0.8), n_t=50, seed=child_seed(1, stage))
        for name in ("capacity", "radius", "dimension", "center_alignment"):
            np.testing.assert_allclose(
                float(ds[name].sel(stage=stage)), float(one[name]), rtol=1e-9
            )
    assert float(ds["capacity"].sel(stage=1)) < float(ds["capacity"].sel(stage=0))


def test_model_checkpoints_give_a_stage_tensor_for_the_engine():
    """Bundled checkpoints -> (stage, trial, time, unit) -> measures per stage, no special case."""
    pytest.importorskip("torch")
    from neurogeom.geometry import decoding_accuracy, participation_ratio
    from neurogeom.models.simulate import simulate

    pop = simulate(ng.data.bundled_run("context_dm"), steps=[0, 400])
    assert pop.dims == ("stage", "trial", "time", "unit")
    assert pop.attrs["quantity"] == "rnn_state" and list(pop["step"].values) == [0, 400]
    ng.validate(pop)
    window = (0.3, 0.7)
    ds = pop.ng.geometry(
        by="ground_truth",
        over="stage",
        measures=("decoding_accuracy", "participation_ratio"),
        window_s=window,
    )
    for i, step in enumerate((0, 400)):
        m = pop.ng.manifolds(by="ground_truth", stage=step, window_s=window)
        expected = decoding_accuracy(m.points, m.labels, seed=child_seed(0, i))
        got = ds["decoding_accuracy"].sel(stage=step)
        np.testing.assert_allclose(float(got), float(expected.decoding_accuracy), rtol=1e-12)
        np.testing.assert_allclose(
            float(ds["participation_ratio"].sel(stage=step)),
            float(participation_ratio(m.points).participation_ratio),
            rtol=1e-10,
        )
