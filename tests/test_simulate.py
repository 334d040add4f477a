"""Simulation of checkpoints into a population tensor (same contract as a recording)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from neurogeom.models.simulate import simulate
from neurogeom.models.train import list_checkpoints, load_run_network
from neurogeom.population import validate
from neurogeom.tasks import build_trial_bank

pytest.importorskip("neurogym")

RUN = Path(__file__).resolve().parents[1] / "data" / "context_dm_checkpoints"


@pytest.fixture(scope="module")
def pop():
    bank = build_trial_bank(
        "ContextDecisionMaking-v0",
        72,
        seed=9,
        env_kwargs={"use_expl_context": True},
        conditions={
            "context": [0, 1],
            "coh_1": [5, 15, 50],
            "coh_2": [5, 15, 50],
            "ground_truth": [1, 2],
        },
    )
    return simulate(RUN, bank=bank, steps=[0, 16, 400]), bank


def test_contract(pop):
    p, bank = pop
    validate(p)
    assert p.dims == ("stage", "trial", "time", "unit")
    assert p.attrs["quantity"] == "rnn_state"
    assert list(p["step"].values) == [0, 16, 400]
    assert list(p["label"].values) == ["init", "step_16", "final"]
    for name in ("context", "ground_truth", "coh_1", "evidence_2"):
        np.testing.assert_array_equal(p[name].values, bank.conditions[name].to_numpy())
    assert p.sizes["unit"] == 128 and p.sizes["trial"] == 72
    assert 0.0 in p["time"].values and p.attrs["align"] == "stimulus_start"


def test_states_equal_a_direct_forward_pass(pop):
    p, bank = pop
    net, _ = load_run_network(RUN, step=400)
    with torch.no_grad():
        _, h = net(torch.from_numpy(bank.inputs))
    i = 5
    onset = int(bank.periods["stimulus_start"][i])
    n = int(bank.lengths[i])
    t0 = int(np.argmin(np.abs(p["time"].values)))
    got = p.sel(stage=400).isel(trial=i).values[t0 - onset : t0 - onset + n]
    np.testing.assert_allclose(got, h[i, :n].numpy(), rtol=1e-5, atol=1e-5)
    # NaN outside the trial; the valid mask says so
    assert np.isnan(p.sel(stage=400).isel(trial=i).values[: t0 - onset]).all()
    assert not p["valid"].sel(stage=400).isel(trial=i).values[: t0 - onset].any()


def test_trained_states_separate_choice_at_decision(pop):
    p, bank = pop
    dec = bank.aligned(bank.period_mask("decision").astype(float), "stimulus")[0] == 1
    final = p.sel(stage=400).values
    x = np.stack([final[i, dec[i]][0] for i in range(final.shape[0])])
    y = p["ground_truth"].values
    # distance between choice means vs spread: trained network separates choices
    d = np.linalg.norm(x[y == 1].mean(0) - x[y == 2].mean(0))
    assert d > np.sqrt(x.var(0).sum()) * 0.5


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no run folder"):
        simulate(tmp_path / "missing")
    with pytest.raises(ValueError, match=r"no checkpoints at steps \[3\]"):
        simulate(RUN, steps=[3])
    with pytest.raises(ValueError, match="unknown label"):
        simulate(RUN, steps=[0], labels=["colour"])
    assert list_checkpoints(RUN)[0][0] == 0


def test_simulation_written_to_nwb_reads_back_identical(pop, tmp_path):
    """A simulation is a model "recording": write_nwb, then read_nwb, gives the same tensor."""
    import xarray as xr

    from neurogeom.io.nwb import read_nwb, write_nwb

    p, _ = pop
    # NWB asks for a species: here that of the animals whose task the network models
    path = write_nwb(p, tmp_path / "model.nwb", subject={"species": "Macaca mulatta"})
    back = read_nwb(path)
    assert back.dims == ("stage", "trial", "time", "unit")
    volatile = ("source", "session", "window_s", "event_times", "series", "species")

    def comparable(x):
        out = x.copy()
        out.attrs = {k: v for k, v in x.attrs.items() if k not in volatile}
        out["valid"].attrs = {}
        return out

    xr.testing.assert_identical(comparable(back), comparable(p))
    assert back.attrs["species"] == "Macaca mulatta"
    try:
        from nwbinspector import inspect_nwbfile
    except ImportError:  # pragma: no cover - nwbinspector is a test dependency
        return
    severe = ("CRITICAL", "BEST_PRACTICE_VIOLATION")
    findings = inspect_nwbfile(nwbfile_path=str(path))
    assert [m.message for m in findings if m.importance.name in severe] == []


def test_period_mean_states(pop):
    p, bank = pop
    mean = simulate(RUN, bank=bank, steps=[0, 400], period="delay")
    assert mean.dims == ("stage", "trial", "unit")
    net, _ = load_run_network(RUN, step=400)
    with torch.no_grad():
        _, h = net(torch.from_numpy(bank.inputs))
    i = 3
    start, end = int(bank.periods["delay_start"][i]), int(bank.periods["delay_end"][i])
    assert end - start > 1  # a mean over several steps
    np.testing.assert_allclose(
        mean.sel(stage=400).isel(trial=i).values, h[i, start:end].mean(0).numpy(), rtol=1e-5
    )
    assert mean.attrs["analysis_period"] == "delay"
    with pytest.raises(ValueError, match="no period 'nope'"):
        simulate(RUN, bank=bank, steps=[0], period="nope")


def test_bank_choices(pop):
    from neurogeom.models.simulate import bank_choices
    from neurogeom.models.train import predict_choices

    _, bank = pop
    table = bank_choices(RUN, 400, bank)
    net, _ = load_run_network(RUN, 400)
    np.testing.assert_array_equal(table["choice"], predict_choices(net, bank))
    np.testing.assert_array_equal(table["correct"], table["choice"] == table["ground_truth"])
    assert table["correct"].mean() > 0.7 and (table["step"] == 400).all()
