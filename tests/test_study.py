"""Studies: sessions with their own units and trials, through the learning analyses."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import xarray as xr

import neurogeom as ng
from neurogeom.learning.sessions import stack_sessions
from neurogeom.learning.stats import paired_difference
from neurogeom.learning.study import (
    study_geometry,
    study_stage_difference,
    study_stages,
    study_trajectory,
)
from neurogeom.population import node_tensor
from neurogeom.studies import session_nodes


def test_sessions_with_their_own_units_and_trials_run_through_every_analysis():
    tree = ng.synthetic_study(n_subjects=4, n_sessions=(6, 8), change=3.0, seed=2)
    sizes = {(n.attrs["subject"], n.attrs["session"]): dict(node_tensor(n).sizes)
             for n in session_nodes(tree)}  # fmt: skip
    assert (
        len({s["unit"] for s in sizes.values()}) > 3
        and len({s["trial"] for s in sizes.values()}) > 3
    )
    traj = study_trajectory(tree, by="condition", n_boot=6, n_t=30, seed=1)
    assert traj.capacity.dims == ("subject", "stage") and traj.sizes["subject"] == 4
    assert np.all(traj.n_points.values >= 15) and "n_units" in traj
    first, last = traj.capacity_study.values[0], np.nanmax(traj.capacity_study.values[-3:])
    assert last > first  # the planted change: separation grows with learning
    assert np.all(traj.capacity_study_ci_low <= traj.capacity_study_ci_high)
    diff = study_stage_difference(tree, by="condition", n_t=30, n_perm=100)
    # 4 subjects: the exact sign-flip test's smallest two-sided p is 2 / 16
    assert np.all(diff.subject_difference > 0) and float(diff.p_value) == 0.125
    stages = study_stages(traj, measures=["capacity", "radius"])
    assert stages.subject_boundaries.sizes["subject"] == 4
    frac = study_trajectory(tree, by="condition", axis="fraction", rule="interpolate",
                            n_boot=0, n_t=30)  # fmt: skip
    assert frac.sizes["stage"] == 8 and float(frac.axis_value[-1]) == 1.0


def test_study_from_dandi_folder_opens_each_file_on_first_use(tmp_path, monkeypatch):
    from neurogeom.io import nwb

    rng = np.random.default_rng(0)
    for subject in ("a", "b"):
        for session in ("1", "2"):
            pop = ng.make_population(
                rng.poisson(3.0, size=(12, 4, 6 + int(session))).astype(float),
                dims=("trial", "time", "unit"), quantity="spike_count",
                trial_coords={"side": np.arange(12) % 2}, time=np.arange(4) * 0.1 + 0.05,
                bin_size_s=0.1, species="Mus musculus",
            )  # fmt: skip
            folder = tmp_path / f"sub-{subject}"
            folder.mkdir(exist_ok=True)
            ng.write_nwb(pop, folder / f"sub-{subject}_ses-{session}_ecephys.nwb",
                         subject={"subject_id": subject})  # fmt: skip
    opened = []
    real = nwb.read_nwb
    monkeypatch.setattr(nwb, "read_nwb", lambda p, **kw: opened.append(p) or real(p, **kw))
    tree = ng.study(tmp_path)
    assert opened == [] and sorted(tree.children) == ["a", "b"]
    assert dict(node_tensor(tree["a/2"]).sizes)["unit"] == 8
    node_tensor(tree["a/2"])
    assert len(opened) == 1
    geo = study_geometry(tree, by="side", window_s=(0.0, 0.4), min_points=3, n_t=20)
    assert len(opened) == 4 and geo.n_units.values.tolist() == [[7, 8], [7, 8]]
    saved = ng.save_study(tree, tmp_path / "study.nc")
    back = ng.load_study(saved)
    xr.testing.assert_allclose(node_tensor(back["b/1"]).reset_coords(drop=True),
                               node_tensor(tree["b/1"]).reset_coords(drop=True))  # fmt: skip


def test_stage_split_tensor_is_a_study_of_checkpoints():
    pop = ng.make_population(
        np.random.default_rng(0).normal(size=(3, 20, 10)), dims=("stage", "trial", "unit"),
        quantity="rnn_state", trial_coords={"choice": np.arange(20) % 2},
        stage=[0, 1, 2], stage_coords={"label": ["early", "mid", "late"]},
    )  # fmt: skip
    tree = ng.study({"net-0": pop, "net-1": pop})
    assert sorted(tree["net-0"].children) == ["early", "late", "mid"]
    assert [n.attrs["phase"] for n in session_nodes(tree, "net-0")] == ["early", "mid", "late"]


N_STUDIES, N_ANIMALS, CHANGE = 200, 6, 1.5


@pytest.mark.slow  # about 25 s of CPU: 3,600 sessions built and measured
def test_no_change_false_positives_and_planted_change_power():
    """The paired sign-flip test of a study at 0.05, over 200 seeded synthetic studies of 6
    animals: at most 8% rejections with no planted change, at least 80% with a planted change of
    1.5 (the growth of the condition centres' separation, from 1 before learning).

    The studies are consecutive blocks of 6 animals of one seeded synthetic study with 3 sessions
    per animal; session 0 and 1 lie before the learning curve (its onset at the last session,
    width 0.01: session 1 gets 1e-22 of the change, nothing in float64), session 2 after it. The
    per-session capacities are computed once, as the study path computes them
    (``study_geometry``: M balanced within each animal over its sessions), and each study's paired
    test reads them: session 1 vs 0 (no change), session 2 vs 0 (the planted change). Study 0
    through ``study_stage_difference`` on its own gives the same values and p-values."""
    common = dict(n_sessions=3, n_units=(20, 30), n_trials=(8, 12), change=CHANGE, seed=0)
    common.update(onset=1.0, transition_width=0.01)
    progress = ng.synthetic.learning_progress(np.array([0.0, 0.5, 1.0]), 1.0, 0.01)
    assert progress[0] == 0 and progress[2] == 1 and 1.0 + CHANGE * progress[1] == 1.0
    tree = ng.synthetic_study(n_subjects=N_STUDIES * N_ANIMALS, **common)
    cap = study_geometry(tree, by="condition", n_t=20).capacity.values
    cap = cap.reshape(N_STUDIES, N_ANIMALS, 3)
    p = {1: np.empty(N_STUDIES), 2: np.empty(N_STUDIES)}
    for r, c in enumerate(cap):
        for k in (1, 2):
            p[k][r] = float(paired_difference(c[:, 0], c[:, k], n_boot=0, n_perm=64).p_value)
    first = ng.synthetic_study(n_subjects=N_ANIMALS, **common)  # the same animals as study 0
    for k in (1, 2):
        one = study_stage_difference(first, by="condition", stages=(0, k), n_t=20, n_perm=64)
        np.testing.assert_array_equal(one.value_first.values, cap[0, :, 0])
        np.testing.assert_array_equal(one.value_second.values, cap[0, :, k])
        assert float(one.p_value) == p[k][0] and one.attrs["exact"] == 1
    false_positive_rate, power = np.mean(p[1] <= 0.05), np.mean(p[2] <= 0.05)
    assert false_positive_rate <= 0.08, false_positive_rate
    assert power >= 0.8, power


def test_memory_of_a_study_is_a_fraction_of_the_dense_stage_tensor():
    rng = np.random.default_rng(0)
    sessions = {
        f"s{i}": ng.make_population(
            rng.normal(size=(500, 40)),
            dims=("trial", "unit"),
            quantity="rate_hz",
            trial_coords={"c": np.arange(500) % 2},
            unit=np.arange(40),
        )  # fmt: skip
        for i in range(20)
    }
    tracemalloc.start()
    stack_sessions(sessions)
    dense = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    tree = ng.study({"m": sessions})
    study_geometry(
        ng.study({"w": dict(list(sessions.items())[:2])}), by="c", measure="participation_ratio"
    )  # imports, caches: not the analysis's memory
    tracemalloc.start()
    study_geometry(tree, by="c", measure="participation_ratio")
    used = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert used < dense / 5, (used, dense)


def _two_session_tree(**kw):
    rng = np.random.default_rng(0)

    def pop(labels):
        return ng.make_population(rng.normal(size=(len(labels), 8)), dims=("trial", "unit"),
                                  quantity="rate_hz", trial_coords={"c": labels})  # fmt: skip

    return pop


def test_bad_inputs_get_clear_errors(tmp_path):
    one = ng.synthetic_study(n_subjects=3, n_sessions=(1, 1), seed=0)
    with pytest.raises(ValueError, match="has 1 session; a paired stage test needs two"):
        study_stage_difference(one, by="condition", n_t=20)
    pop = _two_session_tree()
    tree = ng.study({"m": {"d1": pop(np.repeat([0, 1], 10)), "d2": pop(np.repeat([2, 3], 10))}})
    with pytest.raises(ValueError, match=r"share 0 condition\(s\)"):
        study_geometry(tree, by="c", n_t=20)
    with pytest.raises(ValueError, match="no file in .* matches"):
        ng.study(tmp_path)
    (tmp_path / "sub-a").mkdir()
    for name in ("sub-a_ses-1_ecephys.nwb", "sub-a_ses-1_behavior.nwb"):
        (tmp_path / "sub-a" / name).write_bytes(b"")
    with pytest.raises(ValueError, match="two files claim subject 'a' session '1'"):
        ng.study(tmp_path)
    short = ng.study({"m": {"d1": pop(np.repeat([0, 1], 3)), "d2": pop(np.repeat([0, 1], 9))}})
    with pytest.raises(ValueError, match="between min_points=5 and 3"):
        study_geometry(short, by="c", n_t=20)
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == [
        "sub-a_ses-1_behavior.nwb", "sub-a_ses-1_ecephys.nwb"]  # fmt: skip


def test_doctests_run():
    import doctest

    from neurogeom import studies, synthetic
    from neurogeom.learning import cohorts, hierarchical, sampling
    from neurogeom.learning import study as study_mod

    for module in (studies, synthetic, study_mod, hierarchical, sampling, cohorts):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__


def test_sessions_from_files_are_ordered_with_numbers_compared_as_numbers(tmp_path):
    for session in ("10", "2", "1b", "1a"):
        (tmp_path / "sub-m").mkdir(exist_ok=True)
        (tmp_path / "sub-m" / f"sub-m_ses-{session}.nwb").write_bytes(b"")  # not opened
    tree = ng.study(tmp_path)
    assert [n.name for n in session_nodes(tree)] == ["1a", "1b", "2", "10"]
    assert [n.attrs["order"] for n in session_nodes(tree)] == [0, 1, 2, 3]


def test_a_session_measured_with_its_seed_used_gives_the_single_tensor_numbers():
    from neurogeom.learning import measure_geometry

    rng = np.random.default_rng(3)
    labels = np.repeat([5, 10, 45], 8)  # as text, "10" < "45" < "5": ordered by value instead
    pops = {
        f"d{k}": ng.from_array(rng.normal(size=(24, 30)) + 2 * np.eye(30)[labels % 7],
                               ("trial", "unit"), trial_coords={"angle": labels})
        for k in range(2)
    }  # fmt: skip
    geo = study_geometry(ng.study({"m": pops}), by="angle", n_t=20, seed=4)
    for k, pop in enumerate(pops.values()):
        one = measure_geometry(pop, by="angle", measures=("glue",), n_t=20,
                               seed=int(geo.seed_used[0, k]))  # fmt: skip
        for m in ("capacity", "radius", "dimension"):
            assert float(geo[m][0, k]) == pytest.approx(float(one[m]), rel=1e-9)
