"""Write neurogeom's bundled sample study: data/sample_study/sub-<id>/sub-<id>_ses-<k>.nwb.

SYNTHETIC, deterministic (seeded) spiking data of a small study in the DANDI layout: 6 animals,
3 sessions each, learning the context-dependent decision task of data/sample_*.nwb (after Mante et
al. 2013). Every session records its own units (40-80 of them, new neurons each day) and its own
number of trials; labels ``context`` ("motion" / "color") and ``choice`` ("left" / "right"). As
an animal learns, its choices follow the relevant coherence more closely and the population's
choice signal grows, so the choice manifolds separate within each context: a known change of
geometry. The generative model and its numbers are written out in data/README.md.

Run from the repository root:  python scripts/make_sample_study.py
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

N_ANIMALS, N_SESSIONS = 6, 3
UNITS = (40, 80)  # units per session, drawn uniformly (each session its own neurons)
TRIALS = (72, 96)  # trials per session, drawn uniformly
COHERENCES = np.array([-0.5, -0.15, -0.05, 0.05, 0.15, 0.5])
ITI_S = 1.5
PRE_S, STIM_S, POST_S = 0.0, 0.8, 0.0  # trials run from stimulus onset to offset
RESOLUTION_S = 1 / 30000
#: learning progress of session k (0, 1/2, 1) sets the choice noise and the choice-signal gain
CHOICE_SD = (0.45, 0.20, 0.06)
GAIN = (0.15, 0.9, 1.8)
SEED = 2024


def rate_hz(t: np.ndarray, trial: dict[str, float], unit: dict[str, np.ndarray], gain: float):
    """Firing rate (Hz) at times ``t`` (s from stimulus onset), shape (n_units, n_times)."""
    stim = np.where((t >= 0) & (t < STIM_S), 1.0 - np.exp(-np.clip(t, 0, None) / 0.1), 0.0)
    ramp = np.clip(t / STIM_S, 0.0, 1.0) * (t >= 0)
    ctx = trial["context_sign"]
    drive = (
        unit["beta_context"][:, None] * ctx
        + stim[None, :]
        * (
            unit["beta_motion"][:, None]
            * (1 + unit["gate_motion"][:, None] * ctx)
            * trial["motion"]
            + unit["beta_color"][:, None] * (1 - unit["gate_color"][:, None] * ctx) * trial["color"]
        )
        + gain * unit["beta_choice"][:, None] * trial["choice_sign"] * ramp[None, :]
    )
    return np.minimum(unit["base_hz"][:, None] * np.exp(drive), 80.0)


def simulate_session(rng: np.random.Generator, k: int) -> dict:
    """One session: fresh units and trials; ``k`` its index along learning."""
    n_units, n_trials = (
        int(rng.integers(*UNITS, endpoint=True)),
        int(rng.integers(*TRIALS, endpoint=True)),
    )
    unit = {
        "base_hz": np.exp(rng.normal(np.log(2.0), 0.4, n_units)),
        "beta_context": rng.normal(0.0, 0.35, n_units),
        "beta_motion": rng.normal(0.0, 1.0, n_units),
        "beta_color": rng.normal(0.0, 1.0, n_units),
        "gate_motion": rng.uniform(-0.6, 0.6, n_units),
        "gate_color": rng.uniform(-0.6, 0.6, n_units),
        "beta_choice": rng.normal(0.0, 0.8, n_units),
    }
    context = np.where(rng.random(n_trials) < 0.5, "motion", "color")
    motion, color = rng.choice(COHERENCES, n_trials), rng.choice(COHERENCES, n_trials)
    relevant = np.where(context == "motion", motion, color)
    choice_sign = np.where(relevant + rng.normal(0, CHOICE_SD[k], n_trials) > 0, 1.0, -1.0)
    start = 1.0 + ITI_S * np.arange(n_trials)
    stim_on = start + PRE_S
    stop = stim_on + STIM_S + POST_S
    grid = np.linspace(-PRE_S, STIM_S + POST_S, 101)
    spikes: list[list[np.ndarray]] = [[] for _ in range(n_units)]
    for i in range(n_trials):
        trial = {"context_sign": 1.0 if context[i] == "motion" else -1.0, "motion": motion[i],
                 "color": color[i], "choice_sign": choice_sign[i]}  # fmt: skip
        r_max = rate_hz(grid, trial, unit, GAIN[k]).max(axis=1) * 1.05
        n_cand = rng.poisson(r_max * (stop[i] - start[i]))
        for u in np.flatnonzero(n_cand):  # thinning of a homogeneous process
            t = rng.uniform(0.0, stop[i] - start[i], n_cand[u]) - PRE_S
            one = {key: v[u : u + 1] for key, v in unit.items()}
            keep = rng.random(t.size) * r_max[u] < rate_hz(t, trial, one, GAIN[k])[0]
            spikes[u].append(np.sort(t[keep]) + stim_on[i])
    trains = [np.round(np.concatenate(s) / RESOLUTION_S) * RESOLUTION_S if s else np.zeros(0)
              for s in spikes]  # fmt: skip
    return {
        "trains": trains,
        "trials": {
            "start_time": start,
            "stop_time": stop,
            "stimulus_on_time": stim_on,
            "context": context,
            "motion_coherence": motion,
            "color_coherence": color,
            "choice": np.where(choice_sign > 0, "right", "left"),
            "correct": choice_sign == np.sign(relevant),
        },
    }


TRIAL_COLUMNS = {
    "stimulus_on_time": "onset of the random-dot stimulus (s)",
    "context": "which stimulus feature to report: 'motion' or 'color'",
    "motion_coherence": "signed motion coherence (positive: towards the right target)",
    "color_coherence": "signed colour coherence (positive: towards the right target)",
    "choice": "the subject's choice: 'left' or 'right'",
    "correct": "True where the choice matches the sign of the relevant coherence",
}


def write_session(session: dict, path: Path, animal: str, k: int) -> None:
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.misc import Units

    n_units = len(session["trains"])
    n_trials = len(session["trials"]["start_time"])
    nwbfile = NWBFile(
        session_description=(
            f"SYNTHETIC session {k} of animal {animal} learning a context-dependent decision "
            f"task: {n_units} simulated units, {n_trials} trials (neurogeom sample study)"
        ),
        identifier=f"neurogeom-sample-study-{animal}-{k}",
        session_id=f"ses-{k}",
        session_start_time=datetime(2024, 3, 4, 10, 0, tzinfo=UTC) + timedelta(days=7 * k),
        experimenter=["Synthetic, Data"],
        institution="neurogeom (synthetic data)",
        lab="neurogeom",
        experiment_description="Simulated by scripts/make_sample_study.py (data/README.md).",
        subject=Subject(
            subject_id=animal,
            species="Mus musculus",
            sex="F",
            age="P90D",
            description="synthetic subject: every spike was simulated",
        ),  # fmt: skip
    )
    for name, description in TRIAL_COLUMNS.items():
        nwbfile.add_trial_column(name=name, description=description)
    trials = session["trials"]
    for i in range(n_trials):
        nwbfile.add_trial(**{key: v[i].item() for key, v in trials.items()})
    nwbfile.units = Units(name="units", description="simulated units", resolution=RESOLUTION_S)
    for u in range(n_units):
        nwbfile.add_unit(spike_times=session["trains"][u], id=u)
    nwbfile.units.spike_times.set_data_io(
        H5DataIO, {"compression": "gzip", "compression_opts": 9, "shuffle": True}
    )
    tmp = path.parent / f".{path.stem}.{os.getpid()}.tmp.nwb"
    try:
        with NWBHDF5IO(tmp, mode="w") as io:
            io.write(nwbfile, cache_spec=False)  # the NWB schema is not stored: small files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(out_dir: Path | None = None) -> list[Path]:
    out_dir = out_dir or Path(__file__).resolve().parents[1] / "data" / "sample_study"
    paths = []
    for a in range(N_ANIMALS):
        animal = f"m{a + 1}"
        folder = out_dir / f"sub-{animal}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(N_SESSIONS):
            rng = np.random.default_rng([SEED, a, k])
            path = folder / f"sub-{animal}_ses-{k}.nwb"
            write_session(simulate_session(rng, k), path, animal, k)
            paths.append(path)
    return paths


if __name__ == "__main__":
    total = 0
    for p in main():
        total += p.stat().st_size
        print(f"wrote {p} ({p.stat().st_size / 1e3:.0f} kB)")
    print(f"{total / 1e6:.2f} MB in all")
