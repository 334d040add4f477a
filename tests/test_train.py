"""Training: checkpoint schedule, exact resume, lazy vs rich, and a trained network near the ideal observer."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from _specs import TINY_SPEC

from neurogeom.models.train import (
    list_checkpoints,
    load_checkpoint,
    load_run_network,
    log_schedule,
    predict_choices,
    train,
)
from neurogeom.tasks import build_trial_bank, ideal_observer
from neurogeom.workflows.preflight import load_spec

pytest.importorskip("neurogym")

REPO = Path(__file__).resolve().parents[1]

TINY = TINY_SPEC


def _weights(path):
    tensors, meta = load_checkpoint(path)
    return {k: v for k, v in tensors.items() if not k.startswith("rng")}, meta


def test_log_schedule_matches_seed_paper():
    assert log_schedule(64) == [0, 1, 2, 4, 5, 6, 8, 10, 13, 16, 21, 26, 32, 42, 53, 64]
    s = log_schedule(1000)
    assert s[-1] == 1000 and s == sorted(set(s))


def test_resume_after_stop_is_bit_identical(tmp_path):
    full = train(TINY, tmp_path / "full")
    part = train(TINY, tmp_path / "part", max_steps=23)
    assert part.step == 23 and not part.done
    resumed = train(TINY, tmp_path / "part")
    assert resumed.step == 40 and resumed.done
    for (s1, p1), (s2, p2) in zip(
        list_checkpoints(tmp_path / "full"), list_checkpoints(tmp_path / "part")
    ):
        assert s1 == s2
        w1, _ = _weights(p1)
        w2, _ = _weights(p2)
        assert w1.keys() == w2.keys()
        for k in w1:
            assert torch.equal(w1[k], w2[k]), (s1, k)
    both = full.metrics.merge(resumed.metrics, on="step", suffixes=("_full", "_resumed"))
    assert len(both) == len(full.metrics)  # every evaluation of the full run is in the resumed one
    np.testing.assert_array_equal(both["accuracy_full"], both["accuracy_resumed"])
    np.testing.assert_array_equal(both["weight_change_full"], both["weight_change_resumed"])
    # the metrics table was written beside the checkpoints
    assert (tmp_path / "part" / "metrics.csv").is_file()
    # resuming a finished run does nothing and changes nothing
    again = train(TINY, tmp_path / "full")
    assert again.step == 40


@pytest.mark.slow
def test_resume_after_kill_is_bit_identical(tmp_path):
    spec = copy.deepcopy(TINY)
    spec["training"]["n_steps"] = 400
    spec["checkpoints"]["save_every"] = 20
    toml = tmp_path / "spec.toml"
    toml.write_text(
        "[task]\nname = 'ContextDecisionMaking-v0'\n[task.kwargs]\nuse_expl_context = true\n"
        "[network]\nn_units = 32\ninit = 'identity'\ng = 0.1\n"
        "[training]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in spec["training"].items())
        + "[checkpoints]\nsave_every = 20\n"
    )
    exe = [str(Path(sys.executable).parent / "neurogeom")]
    run = tmp_path / "killed"
    proc = subprocess.Popen([*exe, "train", str(toml), "-o", str(run), "--no-progress"], cwd=REPO)
    deadline = time.time() + 120
    while time.time() < deadline:
        last = run / "last.safetensors"
        if last.is_file() and load_checkpoint(last)[1]["step"] >= 40:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(run / "last.safetensors")[1]["step"]
    assert 40 <= killed_at < 400, "the run finished before it could be killed"
    spec_loaded = load_spec(toml)
    resumed = train(spec_loaded, run)
    full = train(spec_loaded, tmp_path / "full")
    assert resumed.step == full.step == 400
    w1, _ = _weights(run / "last.safetensors")
    w2, _ = _weights(tmp_path / "full" / "last.safetensors")
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k


def test_lazy_alpha_moves_weights_less(tmp_path):
    changes = {}
    for alpha in (1.0, 100.0):
        spec = copy.deepcopy(TINY)
        spec["network"] = {"n_units": 64, "init": "normal", "g": 1.0, "alpha": alpha}
        spec["training"].update({"n_steps": 30, "optimizer": "sgd", "lr": 0.05, "grad_clip": None})
        res = train(spec, tmp_path / f"a{alpha}")
        changes[alpha] = res.metrics["param_change"].iloc[-1]
    # gradient of the 1/alpha^2-scaled loss through alpha (f - f0) shrinks by 1/alpha
    assert changes[1.0] > 20 * changes[100.0] > 0


def test_spec_errors(tmp_path):
    train(TINY, tmp_path / "r", max_steps=2)
    other = copy.deepcopy(TINY)
    other["training"]["lr"] = 0.01
    with pytest.raises(ValueError, match="different spec"):
        train(other, tmp_path / "r")
    with pytest.raises(FileNotFoundError, match="no run folder"):
        list_checkpoints(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        list_checkpoints(tmp_path / "empty")
    bad = copy.deepcopy(TINY)
    bad["training"]["optimizer"] = "lbfgs"
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'sgd'"):
        train(bad, tmp_path / "bad")
    bad = copy.deepcopy(TINY)
    bad["network"]["rank"] = 64
    with pytest.raises(ValueError, match="rank must be an integer in 1..n_units=32"):
        train(bad, tmp_path / "bad2")


@pytest.mark.slow
def test_shipped_config_reaches_ideal_observer(tmp_path):
    spec = load_spec(REPO / "tasks" / "context_dm.toml")
    res = train(spec, tmp_path / "cdm")
    m = res.metrics
    # sustained: the last 5 evaluations all within 3 points of the ideal observer
    assert (m["accuracy"].tail(5) >= res.ideal_accuracy - 0.03).all()
    net, _ = load_run_network(tmp_path / "cdm")
    bank = build_trial_bank(
        spec["task"]["name"], 3000, seed=2024, env_kwargs=spec["task"]["kwargs"]
    )
    c = bank.conditions
    choice = predict_choices(net, bank)
    correct = choice == c["ground_truth"].to_numpy()
    ideal = (ideal_observer(bank) == c["ground_truth"].to_numpy()).mean()
    assert correct.mean() >= ideal - 0.03, (correct.mean(), ideal)
    rel = c["relevant_coh"].to_numpy()
    assert correct[rel == 15].mean() >= 0.98
    assert correct[rel == 50].mean() >= 0.98
    # psychometric: choice follows the relevant modality's signed evidence, not the irrelevant one's
    right = choice == 1
    for ctx in (0, 1):
        in_ctx = c["context"].to_numpy() == ctx
        rel_ev = c["relevant_evidence"].to_numpy()
        irr_ev = c["irrelevant_evidence"].to_numpy()
        p_rel = right[in_ctx & (rel_ev == 50)].mean() - right[in_ctx & (rel_ev == -50)].mean()
        p_irr = right[in_ctx & (irr_ev == 50)].mean() - right[in_ctx & (irr_ev == -50)].mean()
        assert p_rel > 0.97
        assert abs(p_irr) < 0.1
        # the whole curve: never falling with the relevant evidence, and steep already between
        # -5 and +5; a linear fit of the choice on both modalities' signed evidence weighs the
        # irrelevant one at under a tenth of the relevant one
        levels = (-50, -15, -5, 5, 15, 50)
        curve = [right[in_ctx & (rel_ev == e)].mean() for e in levels]
        assert np.all(np.diff(curve) >= 0) and curve[3] - curve[2] > 0.5, curve
        x = np.column_stack([np.ones(in_ctx.sum()), rel_ev[in_ctx], irr_ev[in_ctx]])
        _, b_rel, b_irr = np.linalg.lstsq(x, right[in_ctx].astype(float), rcond=None)[0]
        assert abs(b_irr) < 0.1 * b_rel, (b_rel, b_irr)


def test_monitor_subset_and_full_bank_confirmation_resume_identically(tmp_path):
    spec = copy.deepcopy(TINY)
    spec["training"].update({"n_monitor_trials": 40, "target_accuracy": 0.0, "patience": 2})
    full = train(spec, tmp_path / "full")
    m = full.metrics
    # evaluations before the last step run on the first 40 held-out trials, the last one on all 100
    assert m["n_eval_trials"].iloc[-1] == 100
    # the evaluation completing the first streak of 2 at the target is redone on all 100 trials
    assert list(m["n_eval_trials"].iloc[:4]) == [40, 40, 100, 40]
    assert list(m["reached"].iloc[1:4]) == [False, True, True]
    # time inside forward/backward/optimiser steps never exceeds the clock
    d_step = m["step_s"].iloc[-1] - m["step_s"].iloc[0]
    assert 0 < d_step < m["wall_s"].iloc[-1] - m["wall_s"].iloc[0]
    # an interrupted run (stopped between evaluations) resumes to the same weights and metrics
    train(spec, tmp_path / "part", max_steps=23)
    resumed = train(spec, tmp_path / "part")
    both = m.merge(resumed.metrics, on="step", suffixes=("_full", "_resumed"))
    assert len(both) == len(m)
    for col in ("accuracy", "n_eval_trials", "reached"):
        assert [str(v) for v in both[f"{col}_full"]] == [str(v) for v in both[f"{col}_resumed"]]
    w1, _ = _weights(tmp_path / "full" / "last.safetensors")
    w2, _ = _weights(tmp_path / "part" / "last.safetensors")
    for k in w1:
        assert torch.equal(w1[k], w2[k]), k


def test_monitor_trials_must_be_positive(tmp_path):
    bad = copy.deepcopy(TINY)
    bad["training"]["n_monitor_trials"] = 0
    with pytest.raises(ValueError, match="n_monitor_trials must be a positive integer"):
        train(bad, tmp_path / "bad")


def _all_weights(run):
    return {s: _weights(p)[0] for s, p in list_checkpoints(run)}


def _same_files(run_a, run_b):
    wa, wb = _all_weights(run_a), _all_weights(run_b)
    assert wa.keys() == wb.keys()
    for s in wa:
        assert wa[s].keys() == wb[s].keys()
        for k in wa[s]:
            assert torch.equal(wa[s][k], wb[s][k]), (s, k)


def test_background_recording_equals_recording_in_the_loop(tmp_path, monkeypatch):
    """Evaluations and writes on the worker thread give the rows and files of doing them inline."""
    import neurogeom.models.train as train_mod

    spec = copy.deepcopy(TINY)
    spec["training"].update({"n_monitor_trials": 40, "target_accuracy": 0.55, "patience": 2})
    runs = {}
    for background in (True, False):
        monkeypatch.setattr(train_mod, "_BACKGROUND", background)
        runs[background] = train(spec, tmp_path / str(background))
    a, b = runs[True].metrics, runs[False].metrics
    cols = [c for c in a.columns if c not in ("wall_s", "step_s")]
    assert len(a) == len(b) > 10
    assert a[cols].astype(str).equals(b[cols].astype(str))
    _same_files(tmp_path / "True", tmp_path / "False")
    # wall_s is read as each evaluation finishes, step_s as its step was taken: both increase
    assert (a["wall_s"].diff().dropna() >= 0).all() and (a["step_s"].diff().dropna() >= 0).all()


def test_a_slow_worker_holds_few_snapshots_and_changes_no_result(tmp_path, monkeypatch):
    import neurogeom.models._recorder as rec_mod

    full = train(TINY, tmp_path / "fast")
    slow_row, submit, queued = rec_mod.Recorder._row, rec_mod.Recorder._submit, []

    def slow(self, *args, **kwargs):
        time.sleep(0.02)
        return slow_row(self, *args, **kwargs)

    def counting(self, *args):
        submit(self, *args)
        queued.append(len(self._pending))

    monkeypatch.setattr(rec_mod, "_MAX_PENDING", 2)
    monkeypatch.setattr(rec_mod.Recorder, "_row", slow)
    monkeypatch.setattr(rec_mod.Recorder, "_submit", counting)
    res = train(TINY, tmp_path / "slow")
    assert max(queued) == 2
    _same_files(tmp_path / "fast", tmp_path / "slow")
    cols = ["step", "accuracy", "weight_change", "reached"]
    assert res.metrics[cols].astype(str).equals(full.metrics[cols].astype(str))


def test_early_stop_ends_on_the_streak_with_a_checkpoint(tmp_path):
    spec = copy.deepcopy(TINY)
    spec["training"].update({"target_accuracy": 0.0, "patience": 2, "early_stop": True})
    res = train(spec, tmp_path / "r")
    m = res.metrics
    first = int(m.loc[m["reached"] == True, "step"].iloc[0])  # noqa: E712
    assert res.done and res.step == first == int(m["step"].iloc[-1]) < 40
    assert res.checkpoints[-1] == first
    assert load_checkpoint(tmp_path / "r" / "last.safetensors")[1]["step"] == first
    again = train(spec, tmp_path / "r")  # a finished run: nothing more to do
    assert again.step == first and len(again.metrics) == len(m)


def test_a_failed_write_stops_the_run_and_it_resumes_identically(tmp_path, monkeypatch):
    import neurogeom.models._recorder as rec_mod

    full = train(TINY, tmp_path / "full")
    real, calls = rec_mod.write_state, []

    def failing(path, tensors, meta):
        calls.append(meta["step"])
        if meta["step"] == 21:
            raise OSError("disk full")
        real(path, tensors, meta)

    monkeypatch.setattr(rec_mod, "write_state", failing)
    with pytest.raises(OSError, match="disk full"):
        train(TINY, tmp_path / "part")
    assert calls[-1] == 21  # nothing was written after the failed write
    kept = [s for s, _ in list_checkpoints(tmp_path / "part")]
    assert kept == [s for s in full.checkpoints if s < 21]
    monkeypatch.setattr(rec_mod, "write_state", real)
    resumed = train(TINY, tmp_path / "part")
    assert resumed.step == 40
    _same_files(tmp_path / "full", tmp_path / "part")
    cols = ["step", "accuracy", "weight_change", "n_eval_trials"]
    assert resumed.metrics[cols].equals(full.metrics[cols])


def test_metrics_rows_past_the_resume_point_and_a_cut_line_are_dropped(tmp_path):
    from neurogeom.models.checkpoints import append_metrics, read_metrics, write_metrics

    rows = [{"step": s, "accuracy": s / 100} for s in (0, 1, 2, 4)]
    write_metrics(tmp_path, rows[:2])
    append_metrics(tmp_path, rows[2:])
    with open(tmp_path / "metrics.csv", "a") as f:
        f.write("5,,,0.0")  # a row cut short when the run was killed
    back = read_metrics(tmp_path, 2)
    assert [r["step"] for r in back] == [0, 1, 2]
    text = (tmp_path / "metrics.csv").read_text()
    assert text.endswith("\n") and text.count("\n") == 4  # the header and 3 rows
    assert [r["step"] for r in read_metrics(tmp_path, 100)] == [0, 1, 2]


def test_a_run_resumes_when_its_metrics_file_was_deleted(tmp_path):
    run = tmp_path / "r"
    train(TINY, run, max_steps=15)
    (run / "metrics.csv").unlink()
    train(TINY, run, max_steps=30)
    res = train(TINY, run)
    assert res.step == 40
    m = pd.read_csv(run / "metrics.csv")
    assert m["step"].tolist() == res.metrics["step"].tolist() and m["step"].iloc[0] > 15


def test_gru_and_dale_networks_train_from_a_spec(tmp_path):
    gru = copy.deepcopy(TINY)
    gru["network"] = {"type": "gru", "n_units": 16}
    full = train(gru, tmp_path / "gru_full")
    train(gru, tmp_path / "gru_part", max_steps=12)
    assert train(gru, tmp_path / "gru_part").step == 40
    _same_files(tmp_path / "gru_full", tmp_path / "gru_part")
    assert full.metrics["weight_change"].iloc[-1] > 0

    dale = copy.deepcopy(TINY)
    dale["network"] = {"n_units": 20, "dale": True, "sparsity": 0.3, "g": 0.5}
    dale["training"]["lr"] = 0.03
    res = train(dale, tmp_path / "dale")
    net, _ = load_run_network(tmp_path / "dale")
    net0, _ = load_run_network(tmp_path / "dale", step=0)
    w, w0 = net.recurrent_weight().detach(), net0.recurrent_weight().detach()
    assert res.metrics["weight_change"].iloc[-1] > 0.05  # it trained
    assert (w[:, :16] >= 0).all() and (w[:, 16:] <= 0).all()  # 80% excitatory columns
    assert (w[net.mask == 0] == 0).all()
    # some inhibitory and excitatory weights were pushed to zero rather than across it
    assert ((w == 0) & (w0 != 0)).any()


def test_bundled_run_is_the_shipped_spec_trained_by_the_cli():
    from neurogeom.models.train import _resolve

    run = REPO / "data" / "context_dm_checkpoints"
    stored = json.loads((run / "spec.json").read_text())
    assert stored == json.loads(json.dumps(_resolve(load_spec(REPO / "tasks" / "context_dm.toml"))))
    assert [s for s, _ in list_checkpoints(run)] == log_schedule(stored["training"]["n_steps"])
    size = sum(p.stat().st_size for p in run.rglob("*") if p.is_file())
    assert size < 8 * 2**20  # a few MB
    readme = (REPO / "data" / "README.md").read_text()
    assert "neurogeom train tasks/context_dm.toml -o data/context_dm_checkpoints" in readme
    m = pd.read_csv(run / "metrics.csv")
    assert m["n_eval_trials"].iloc[-1] == 2000
    assert m["accuracy"].iloc[-1] >= m["ideal_accuracy"].iloc[-1] - 0.03


def test_loss_over_all_steps_trains_without_clipping(tmp_path):
    """loss = "all" (the seed paper's cross-entropy over every step) on minibatches of trials of
    different lengths, with grad_clip = 0 (no clipping, as TOML has no null)."""
    spec = copy.deepcopy(TINY)
    spec["training"].update({"loss": "all", "grad_clip": 0, "optimizer": "sgd", "lr": 0.01})
    res = train(spec, tmp_path / "all")
    loss = res.metrics["test_loss"].to_numpy()
    assert np.isfinite(loss).all() and loss[-1] < loss[0]
    clipped = copy.deepcopy(spec)
    clipped["training"]["grad_clip"] = 1e-3  # clipping changes the trajectory
    other = train(clipped, tmp_path / "clipped")
    assert other.metrics["test_loss"].iloc[-1] != res.metrics["test_loss"].iloc[-1]
    bad = copy.deepcopy(spec)
    bad["training"]["grad_clip"] = -1.0
    with pytest.raises(ValueError, match="grad_clip must be > 0, or 0 for no clipping"):
        train(bad, tmp_path / "bad")


def test_full_length_minibatches_train_as_gathered_ones(tmp_path, monkeypatch):
    """loss = "all" reads a minibatch whose trials all last to its end as it lies, without
    gathering its steps: the same weights, bit for bit, as gathering them."""
    import neurogeom.models.train as train_mod

    spec = copy.deepcopy(TINY)
    timing = {"fixation": 0, "stimulus": 200, "delay": 500, "decision": 100}  # 8 steps each
    spec["task"]["kwargs"] = {"use_expl_context": True, "dt": 100, "timing": timing}
    spec["training"].update({"loss": "all", "grad_clip": 0, "optimizer": "sgd", "momentum": 0.9})
    bank = build_trial_bank(
        "ContextDecisionMaking-v0", 64, seed=0, env_kwargs=spec["task"]["kwargs"]
    )
    assert set(bank.lengths) == {8}
    bt = train_mod._bank_tensors(bank, torch.device("cpu"))
    (*_, valid), *_ = train_mod._assemble(bt, [np.arange(32)], torch.device("cpu"))
    assert valid is train_mod.ALL_STEPS
    mixed = build_trial_bank("ContextDecisionMaking-v0", 64, seed=0)  # delays of several lengths
    assert len(set(mixed.lengths)) > 1
    bt = train_mod._bank_tensors(mixed, torch.device("cpu"))
    order = np.argsort(mixed.lengths)
    (*_, valid), *_ = train_mod._assemble(bt, [order[[0, -1]]], torch.device("cpu"))
    assert valid is None

    train(spec, tmp_path / "as_it_lies")
    assemble = train_mod._assemble

    def gathered(*args):
        return [(*batch[:-1], None) for batch in assemble(*args)]

    monkeypatch.setattr(train_mod, "_assemble", gathered)
    train(spec, tmp_path / "gathered")
    _same_files(tmp_path / "as_it_lies", tmp_path / "gathered")
