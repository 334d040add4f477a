"""Labelled neurogym trial banks: labels checked against the inputs themselves; TOML specs."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.specs.train import expand_sweep, validate_spec
from neurogeom.tasks import build_trial_bank, ideal_observer, supported_tasks
from neurogeom.workflows.preflight import load_spec

pytest.importorskip("neurogym")

CDM = "ContextDecisionMaking-v0"


@pytest.fixture(scope="module")
def cdm_bank():
    return build_trial_bank(CDM, 600, seed=3, env_kwargs={"use_expl_context": True})


def _stim_mean(bank, name):
    stim = bank.period_mask("stimulus")
    x = bank.inputs[..., list(bank.input_names).index(name)]
    return (x * stim).sum(1) / stim.sum(1)


def test_cdm_channels_and_context_inputs(cdm_bank):
    b = cdm_bank
    assert b.input_names == (
        "fixation", "stim1_mod1", "stim2_mod1", "stim1_mod2", "stim2_mod2", "context1", "context2"
    )  # fmt: skip
    ctx = b.conditions["context"].to_numpy()
    c1 = b.inputs[..., 5].max(1)
    c2 = b.inputs[..., 6].max(1)
    np.testing.assert_array_equal(c1 == 1, ctx == 0)  # context 0: input 5 (context1) on
    np.testing.assert_array_equal(c2 == 1, ctx == 1)
    # fixation input on only during the fixation period
    np.testing.assert_array_equal(b.inputs[..., 0] > 0.5, b.period_mask("fixation"))


def test_cdm_ground_truth_is_the_relevant_modality(cdm_bank):
    b = cdm_bank
    c = b.conditions
    gt_action = b.targets[np.arange(b.n_trial), b.periods["decision_start"].to_numpy()]
    np.testing.assert_array_equal(gt_action, c["ground_truth"])
    # the relevant modality's direction is the ground truth, on every trial
    rel_dir = np.where(c["context"] == 0, c["choice_1"], c["choice_2"])
    np.testing.assert_array_equal(rel_dir, c["ground_truth"])
    # other_choice is drawn independently: about half the trials are congruent
    assert 0.4 < c["congruent"].mean() < 0.6
    # the signed evidence of each modality is recoverable from its stimulus channels
    for m in (1, 2):
        d = (_stim_mean(b, f"stim1_mod{m}") - _stim_mean(b, f"stim2_mod{m}")) * 100
        ev = c[f"evidence_{m}"].to_numpy()
        slope = np.polyfit(ev, d, 1)[0]
        assert abs(slope - 1) < 0.1
        assert np.corrcoef(ev, d)[0, 1] > 0.9
        # the sign of strong evidence is read off the inputs on every such trial
        strong = np.abs(ev) == 50
        np.testing.assert_array_equal(np.sign(d[strong]), np.sign(ev[strong]))


def test_cdm_noise_free_evidence_exact():
    b = build_trial_bank(CDM, 60, seed=1, env_kwargs={"use_expl_context": True, "sigma": 0.0})
    for m in (1, 2):
        d = (_stim_mean(b, f"stim1_mod{m}") - _stim_mean(b, f"stim2_mod{m}")) * 100
        np.testing.assert_allclose(d, b.conditions[f"evidence_{m}"], atol=1e-4)


def test_implicit_context_has_no_context_inputs():
    b = build_trial_bank(CDM, 20, seed=0, env_kwargs={"use_expl_context": False})
    assert b.n_input == 5
    assert set(b.conditions["context"]) == {0}


def test_dmc_match_label_equals_category_agreement():
    # noise-free, dim_ring=4: the angle, hence the category, is read from the inputs
    b = build_trial_bank(
        "DelayMatchCategory-v0", 200, seed=2, env_kwargs={"dim_ring": 4, "sigma": 0.0}
    )
    s = b.inputs[..., 1:5]

    def category(period):
        v = (s * b.period_mask(period)[..., None]).sum(1) / b.period_mask(period).sum(1)[:, None]
        sin = v[:, 1] - v[:, 3]  # cos(theta - pi/2) - cos(theta - 3 pi/2) = 2 sin(theta)
        return (sin < 0).astype(int)  # category 0: theta in [0, pi)

    c = b.conditions
    np.testing.assert_array_equal(category("sample"), c["sample_category"])
    np.testing.assert_array_equal(category("test"), c["test_category"])
    np.testing.assert_array_equal(c["match"], category("sample") == category("test"))
    np.testing.assert_array_equal(c["match"], c["ground_truth"] == "match")
    assert 0.3 < c["match"].mean() < 0.7


def test_dmc_dim_ring_2_warns():
    with pytest.warns(UserWarning, match="dim_ring"):
        build_trial_bank("DelayMatchCategory-v0", 4, seed=0)


def test_pdm_and_yang19_labels():
    b = build_trial_bank("PerceptualDecisionMaking-v0", 100, seed=0, env_kwargs={"sigma": 0.0})
    d = _stim_mean(b, "stimulus1") - _stim_mean(b, "stimulus2")
    np.testing.assert_allclose(d * 100, b.conditions["signed_coh"], atol=1e-4)
    for name, rel in (("yang19.ctxdm1-v0", 1), ("yang19.ctxdm2-v0", 2)):
        y = build_trial_bank(name, 80, seed=0)
        c = y.conditions
        assert set(c["relevant_modality"]) == {rel}
        # the target is the direction favoured by the relevant modality only
        fav = np.where(c["relevant_evidence"] > 0, c["theta1"], c["theta2"])
        target_theta = (c["ground_truth"] - 1) * 2 * np.pi / 16
        np.testing.assert_allclose(fav, target_theta, atol=1e-9)
    y = build_trial_bank("yang19.dmc-v0", 80, seed=0)
    c = y.conditions
    assert set(c["modality"]) == {1, 2}
    np.testing.assert_array_equal(c["match"], c["sample_category"] == c["test_category"])
    # match-go: respond at the test direction on a match, keep fixating on a non-match
    assert ((c["target_action"] > 0) == c["match"]).all()


def test_bank_is_reproducible_and_grid_balanced():
    kw = {"use_expl_context": True}
    grid = {"context": [0, 1], "coh_1": [5, 15, 50], "coh_2": [5, 15, 50], "ground_truth": [1, 2]}
    a = build_trial_bank(CDM, 72, seed=5, env_kwargs=kw, conditions=grid)
    b = build_trial_bank(CDM, 72, seed=5, env_kwargs=kw, conditions=grid)
    c = build_trial_bank(CDM, 72, seed=6, env_kwargs=kw, conditions=grid)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    assert not np.array_equal(a.inputs, c.inputs)
    counts = a.conditions.groupby(list(grid)).size()
    assert len(counts) == 36 and (counts == 2).all()


def test_aligned_puts_event_at_time_zero(cdm_bank):
    b = cdm_bank
    al, t = b.aligned(b.inputs, "stimulus")
    zero = int(np.argmin(np.abs(t)))
    assert t[zero] == 0.0
    # fixation input is on just before, off at stimulus onset, on every trial
    np.testing.assert_array_equal(al[:, zero - 1, 0], 1.0)
    np.testing.assert_array_equal(al[:, zero, 0], 0.0)
    assert np.isnan(al).any()  # trials of different lengths are NaN-padded
    al2, t2 = b.aligned(b.inputs, "decision")
    assert np.isfinite(al2[:, int(np.argmin(np.abs(t2)))]).all()


def test_ideal_observer_close_to_probe(cdm_bank):
    b = build_trial_bank(CDM, 2000, seed=11, env_kwargs={"use_expl_context": True})
    correct = ideal_observer(b) == b.conditions["ground_truth"].to_numpy()
    assert 0.92 < correct.mean() < 0.965
    rel = b.conditions["relevant_coh"].to_numpy()
    assert correct[rel == 50].mean() > 0.99
    assert 0.78 < correct[rel == 5].mean() < 0.9


def test_unknown_task_lists_available():
    with pytest.raises(ValueError, match="unknown task 'ContextDM'.*ContextDecisionMaking-v0"):
        build_trial_bank("ContextDM", 4)
    assert "yang19.dmc-v0" in supported_tasks()


def test_bad_conditions():
    with pytest.raises(ValueError, match="cannot fix condition.*coherence.*allowed: ground_truth"):
        build_trial_bank(CDM, 4, conditions={"coherence": [5]})
    with pytest.raises(ValueError, match="non-empty list"):
        build_trial_bank(CDM, 4, conditions={"coh_1": 5})


def test_spec_files_load():
    for f in ("context_dm", "delay_match_category", "rank_sweep_context_dm"):
        spec = load_spec(f"tasks/{f}.toml")
        assert spec["task"]["name"] in supported_tasks()
    runs = expand_sweep(load_spec("tasks/rank_sweep_context_dm.toml"))
    assert len(runs) == 35
    ranks = {r["network"]["rank"] for _, r in runs}
    assert ranks == {1, 5, 10, 25, 50, 100, "full"}
    # every rank with every seed, one run folder each
    pairs = {(r["network"]["rank"], r["training"]["seed"]) for _, r in runs}
    assert pairs == {(k, s) for k in ranks for s in range(5)}
    names = [name for name, _ in runs]
    assert len(set(names)) == 35 and "rank_1_seed_0" in names and "rank_full_seed_4" in names


def test_bad_specs(tmp_path):
    base = {"task": {"name": CDM}, "network": {"n_units": 16}}
    with pytest.raises(
        ValueError, match=r"unknown key\(s\) \['lr_rate'\] in \[training\]; allowed: n_steps"
    ):
        validate_spec({**base, "training": {"lr_rate": 1}})
    with pytest.raises(ValueError, match="unknown section"):
        validate_spec({**base, "optimiser": {}})
    from neurogeom.tasks import check_task_spec

    with pytest.raises(ValueError, match="unknown task.*available tasks"):
        check_task_spec(validate_spec({"task": {"name": "Nope-v0"}}))
    with pytest.raises(ValueError, match="rank must be an integer in 1..n_units=16"):
        validate_spec({**base, "network": {"n_units": 16, "rank": -1}})
    with pytest.raises(ValueError, match="rank must be an integer in 1..n_units=16"):
        validate_spec({**base, "network": {"n_units": 16, "rank": 17}})
    with pytest.raises(FileNotFoundError, match="spec .* does not exist; check the path"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[task]\nname = 'ContextDecisionMaking-v0'\n[network]\nunits = 3\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['units'\] in \[network\]"):
        load_spec(bad)


def test_bank_holds_each_trial_as_neurogym_built_it():
    """Padding and period bounds against the env stepped by hand, trial by trial."""
    from neurogeom.tasks import make_env

    kw = {"use_expl_context": True}
    bank = build_trial_bank(CDM, 50, seed=8, env_kwargs=kw)
    env = make_env(CDM, **kw).unwrapped
    env.seed(8)
    for i in range(50):
        env.new_trial()
        n = len(env.ob)
        assert bank.lengths[i] == n
        np.testing.assert_array_equal(bank.inputs[i, :n], env.ob)
        np.testing.assert_array_equal(bank.targets[i, :n], env.gt)
        assert (bank.inputs[i, n:] == 0).all() and (bank.targets[i, n:] == -1).all()
        for p in env.start_ind:  # delays differ from trial to trial
            assert bank.periods[f"{p}_start"][i] == env.start_ind[p]
            assert bank.periods[f"{p}_end"][i] == env.end_ind[p]
    assert bank.periods["delay_end"].nunique() > 1


def test_a_bank_asked_for_again_is_an_independent_copy():
    kw = {"use_expl_context": True}
    a = build_trial_bank(CDM, 40, seed=21, env_kwargs=kw)
    b = build_trial_bank(CDM, 40, seed=21, env_kwargs=kw)
    assert a.inputs is not b.inputs and a.conditions is not b.conditions
    np.testing.assert_array_equal(a.inputs, b.inputs)
    a.inputs[:] = 7.0
    a.conditions.loc[0, "context"] = 99
    a.env_kwargs["sigma"] = 3.0
    c = build_trial_bank(CDM, 40, seed=21, env_kwargs=kw)
    np.testing.assert_array_equal(c.inputs, b.inputs)
    assert c.conditions.equals(b.conditions) and c.env_kwargs == kw
    # other arguments, other bank
    assert not np.array_equal(build_trial_bank(CDM, 40, seed=22, env_kwargs=kw).inputs, b.inputs)


def _direction(bank, m):
    """Choice (1 or 2) signalled by modality ``m``, read from its two stimulus channels."""
    d = _stim_mean(bank, f"stim1_mod{m}") - _stim_mean(bank, f"stim2_mod{m}")
    return np.where(d > 0, 1, 2), np.abs(d) * 100


def test_cdm_ground_truth_is_read_from_the_relevant_inputs_on_every_trial():
    """Without input noise every trial's inputs say which modality counts and what it signals: the
    env's target at the decision step is that modality's choice, never the irrelevant one's."""
    b = build_trial_bank(CDM, 400, seed=12, env_kwargs={"use_expl_context": True, "sigma": 0.0})
    c = b.conditions
    ctx = np.where(b.inputs[..., 5].max(1) == 1, 0, 1)  # context input 5 (context1) or 6
    assert (b.inputs[..., 5].max(1) + b.inputs[..., 6].max(1) == 1).all()  # exactly one is on
    dir_1, coh_1 = _direction(b, 1)
    dir_2, coh_2 = _direction(b, 2)
    target = b.targets[np.arange(b.n_trial), b.periods["decision_start"].to_numpy()]
    relevant = np.where(ctx == 0, dir_1, dir_2)
    irrelevant = np.where(ctx == 0, dir_2, dir_1)
    np.testing.assert_array_equal(target, relevant)
    incongruent = dir_1 != dir_2
    assert incongruent.sum() > 100 and (target[incongruent] != irrelevant[incongruent]).all()
    # the labels say the same: context, ground truth, and coh_1 always belongs to modality 1
    np.testing.assert_array_equal(c["context"], ctx)
    np.testing.assert_array_equal(c["ground_truth"], target)
    np.testing.assert_array_equal(c["choice_1"], dir_1)
    np.testing.assert_array_equal(c["choice_2"], dir_2)
    np.testing.assert_allclose(c["coh_1"], coh_1, atol=1e-4)
    np.testing.assert_allclose(c["coh_2"], coh_2, atol=1e-4)
    np.testing.assert_array_equal(c["congruent"], ~incongruent)


def test_cdm_probe_facts_at_default_timing_and_noise(cdm_bank):
    b = cdm_bank
    c = b.conditions
    assert set(c["ground_truth"]) == {1, 2} and set(c["other_choice"]) == {1, 2}
    # other_choice is drawn independently of the ground truth: 4 cells of about a quarter each
    cells = c.groupby(["ground_truth", "other_choice"]).size() / b.n_trial
    assert len(cells) == 4 and cells.between(0.19, 0.31).all()
    # dt = 100 ms: 3 fixation steps, a 3-30 step delay, a single decision step
    dur = {p: b.periods[f"{p}_end"] - b.periods[f"{p}_start"] for p in ("fixation", "delay")}
    assert (dur["fixation"] == 3).all()
    assert dur["delay"].between(3, 30).all() and dur["delay"].nunique() > 5
    assert (b.periods["decision_end"] - b.periods["decision_start"] == 1).all()
    # the delay and the decision step have identical inputs on every trial
    dec = b.periods["decision_start"].to_numpy()
    delay = b.period_mask("delay")
    for i in range(b.n_trial):
        np.testing.assert_array_equal(
            b.inputs[i, delay[i]], np.repeat(b.inputs[i, dec[i]][None], delay[i].sum(), 0)
        )
    # with the default noise, strong relevant evidence always gives the ground truth
    dir_1, _ = _direction(b, 1)
    dir_2, _ = _direction(b, 2)
    relevant = np.where(c["context"] == 0, dir_1, dir_2)
    strong = c["relevant_coh"].to_numpy() == 50
    np.testing.assert_array_equal(relevant[strong], c["ground_truth"][strong])


def test_banks_built_from_several_threads_at_once_equal_serial_ones(monkeypatch):
    import time
    from collections import OrderedDict
    from concurrent.futures import ThreadPoolExecutor

    import neurogeom.tasks as tasks_mod

    kw = {"use_expl_context": True}
    serial = {s: build_trial_bank(CDM, 20, seed=100 + s, env_kwargs=kw) for s in range(4)}
    # room for about two banks: threads insert, evict and read the cache at the same time
    monkeypatch.setattr(tasks_mod, "_BANK_CACHE_BYTES", 2 * serial[0].nbytes + 1)
    monkeypatch.setattr(tasks_mod, "_BANKS", OrderedDict())
    size = tasks_mod.TrialBank.nbytes.fget

    def slow_size(bank):  # a wide window for another thread to change the cache meanwhile
        time.sleep(0.002)
        return size(bank)

    monkeypatch.setattr(tasks_mod.TrialBank, "nbytes", property(slow_size))
    seeds = [s % 4 for s in range(48)]
    with ThreadPoolExecutor(8) as pool:
        banks = list(
            pool.map(lambda s: build_trial_bank(CDM, 20, seed=100 + s, env_kwargs=kw), seeds)
        )
    for s, bank in zip(seeds, banks):
        np.testing.assert_array_equal(bank.inputs, serial[s].inputs)
        assert bank.conditions.equals(serial[s].conditions)
    assert len(tasks_mod._BANKS) <= 2


def test_spec_sections_are_the_fields_of_the_configs_they_build():
    from dataclasses import fields

    from neurogeom.specs.train import SPEC_KEYS, CheckpointConfig, NetworkConfig, TrainConfig

    for section, cls in (
        ("network", NetworkConfig),
        ("training", TrainConfig),
        ("checkpoints", CheckpointConfig),
    ):
        assert SPEC_KEYS[section] == tuple(f.name for f in fields(cls))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ({"checkpoints": {"schedule": "list"}}, r"schedule = 'list' needs checkpoints.steps"),
        ({"checkpoints": {"save_every": 0}}, "save_every must be a positive integer; got 0"),
        ({"training": {"lr": -1.0}}, r"training.lr must be > 0"),
        ({"sweep": {"g": [1.0, -2.0]}}, "g must be >= 0; got -2.0"),
    ],
)
def test_spec_values_are_checked_by_the_configs(spec, match):
    from neurogeom.specs.train import validate_spec

    with pytest.raises(ValueError, match=match):
        validate_spec({"task": {"name": "ContextDecisionMaking-v0"}, **spec}, where="x.toml")
