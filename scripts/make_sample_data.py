"""Write neurogeom's bundled sample recordings: data/sample_early.nwb and data/sample_late.nwb.

Synthetic, deterministic (seeded) spiking data from 100 units in a context-dependent
decision-making task (after Mante et al. 2013): on each trial a random-dot stimulus carries a
motion and a colour coherence, a context cue says which one to report, and the subject chooses
left or right. The two files are an early and a late session of the same units in learning: the
late session has more accurate choices and a stronger choice signal in the population, so its
choice manifolds are better separated. The generative model is written out in data/README.md.

Run from the repository root:  python scripts/make_sample_data.py
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

N_UNITS = 100
N_TRIALS = 400
COHERENCES = np.array([-0.5, -0.15, -0.05, 0.05, 0.15, 0.5])
ITI_S = 2.0  # trial starts are this far apart
PRE_S, STIM_S, POST_S = 0.3, 0.8, 0.3  # fixation, stimulus, delay until the trial stops
RESOLUTION_S = 1 / 30000  # spike times lie on a 30 kHz sample grid
SESSIONS = {
    # name: (seed of the trials, choice noise sd, choice-signal gain, session start)
    "early": (101, 0.30, 0.35, datetime(2024, 3, 4, 10, 0, tzinfo=UTC)),
    "late": (202, 0.08, 1.40, datetime(2024, 4, 15, 10, 0, tzinfo=UTC)),
}


def unit_parameters(seed: int = 7) -> dict[str, np.ndarray]:
    """Per-unit tuning shared by both sessions (the same 100 units recorded twice)."""
    rng = np.random.default_rng(seed)
    return {
        "base_hz": np.exp(rng.normal(np.log(3.0), 0.5, N_UNITS)),
        "beta_context": rng.normal(0.0, 0.35, N_UNITS),
        "beta_motion": rng.normal(0.0, 1.2, N_UNITS),
        "beta_color": rng.normal(0.0, 1.2, N_UNITS),
        # context gating of the sensory inputs: mixed selectivity (gain differs by context)
        "gate_motion": rng.uniform(-0.6, 0.6, N_UNITS),
        "gate_color": rng.uniform(-0.6, 0.6, N_UNITS),
        "beta_choice": rng.normal(0.0, 0.8, N_UNITS),
        "depth_um": rng.uniform(200.0, 1800.0, N_UNITS).round(0),
    }


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


def simulate_session(name: str) -> dict:
    seed, choice_sd, gain, start = SESSIONS[name]
    rng = np.random.default_rng(seed)
    unit = unit_parameters()
    context = np.where(rng.random(N_TRIALS) < 0.5, "motion", "color")
    motion = rng.choice(COHERENCES, N_TRIALS)
    color = rng.choice(COHERENCES, N_TRIALS)
    relevant = np.where(context == "motion", motion, color)
    choice_sign = np.where(relevant + rng.normal(0, choice_sd, N_TRIALS) > 0, 1.0, -1.0)
    choice = np.where(choice_sign > 0, "right", "left")
    correct = choice_sign == np.sign(relevant)

    trial_start = 1.0 + ITI_S * np.arange(N_TRIALS)
    stim_on = trial_start + PRE_S
    trial_stop = stim_on + STIM_S + POST_S
    spikes: list[list[np.ndarray]] = [[] for _ in range(N_UNITS)]
    grid = np.linspace(-PRE_S, STIM_S + POST_S, 141)
    for i in range(N_TRIALS):
        trial = {
            "context_sign": 1.0 if context[i] == "motion" else -1.0,
            "motion": motion[i],
            "color": color[i],
            "choice_sign": choice_sign[i],
        }
        r_max = rate_hz(grid, trial, unit, gain).max(axis=1) * 1.05
        duration = trial_stop[i] - trial_start[i]
        n_cand = rng.poisson(r_max * duration)
        for u in np.flatnonzero(n_cand):  # thinning of a homogeneous process
            t = rng.uniform(0.0, duration, n_cand[u]) - PRE_S
            one = {k: v[u : u + 1] for k, v in unit.items()}
            keep = rng.random(t.size) * r_max[u] < rate_hz(t, trial, one, gain)[0]
            spikes[u].append(np.sort(t[keep]) + stim_on[i])
    trains = [
        np.round(np.concatenate(s) / RESOLUTION_S) * RESOLUTION_S if s else np.zeros(0)
        for s in spikes
    ]
    return {
        "name": name,
        "start": start,
        "unit": unit,
        "trains": trains,
        "trials": {
            "start_time": trial_start,
            "stop_time": trial_stop,
            "stimulus_on_time": stim_on,
            "stimulus_off_time": stim_on + STIM_S,
            "context": context,
            "motion_coherence": motion,
            "color_coherence": color,
            "choice": choice,
            "correct": correct,
        },
    }


TRIAL_COLUMNS = {
    "stimulus_on_time": "onset of the random-dot stimulus (s)",
    "stimulus_off_time": "offset of the random-dot stimulus (s)",
    "context": "which stimulus feature to report: 'motion' or 'color'",
    "motion_coherence": "signed motion coherence (positive: towards the right target)",
    "color_coherence": "signed colour coherence (positive: towards the right target)",
    "choice": "the subject's choice: 'left' or 'right'",
    "correct": "True where the choice matches the sign of the relevant coherence",
}


def write_session(session: dict, path: Path) -> None:
    from hdmf.backends.hdf5.h5_utils import H5DataIO
    from pynwb import NWBHDF5IO, NWBFile
    from pynwb.file import Subject
    from pynwb.misc import Units

    nwbfile = NWBFile(
        session_description=(
            f"SYNTHETIC {session['name']} session of a context-dependent decision task: 100 "
            "simulated units, 400 trials (neurogeom sample data; not a recording)"
        ),
        identifier=f"neurogeom-sample-{session['name']}",
        session_id=f"sample-{session['name']}",
        session_start_time=session["start"],
        experimenter=["Synthetic, Data"],
        institution="neurogeom (synthetic data)",
        lab="neurogeom",
        experiment_description=(
            "Simulated Poisson spiking with context-dependent mixed selectivity to motion and "
            "colour coherence and a choice signal, generated by scripts/make_sample_data.py."
        ),
        keywords=["synthetic", "context-dependent decision making", "mixed selectivity"],
        subject=Subject(
            subject_id="synthetic-01",
            species="Macaca mulatta",
            sex="M",
            age="P6Y",
            description="synthetic subject: every spike in this file was simulated",
        ),
    )
    trials = session["trials"]
    for name, description in TRIAL_COLUMNS.items():
        nwbfile.add_trial_column(name=name, description=description)
    for i in range(N_TRIALS):
        nwbfile.add_trial(**{k: v[i].item() for k, v in trials.items()})
    nwbfile.units = Units(
        name="units", description="simulated single units", resolution=RESOLUTION_S
    )
    unit = session["unit"]
    nwbfile.add_unit_column(name="depth", description="simulated depth below the surface (um)")
    nwbfile.add_unit_column(name="area", description="simulated brain area")
    for name in ("beta_motion", "beta_color", "beta_choice"):
        nwbfile.add_unit_column(
            name=name, description=f"ground truth: the unit's {name} coefficient (log-rate)"
        )
    for u in range(N_UNITS):
        nwbfile.add_unit(
            spike_times=session["trains"][u],
            id=u,
            depth=float(unit["depth_um"][u]),
            area="PFC",
            beta_motion=float(unit["beta_motion"][u]),
            beta_color=float(unit["beta_color"][u]),
            beta_choice=float(unit["beta_choice"][u]),
        )
    nwbfile.units.spike_times.set_data_io(
        H5DataIO, {"compression": "gzip", "compression_opts": 9, "shuffle": True}
    )
    tmp = path.parent / f".{path.stem}.{os.getpid()}.tmp.nwb"  # same folder: atomic rename
    try:
        with NWBHDF5IO(tmp, mode="w") as io:
            io.write(nwbfile)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main(out_dir: Path | None = None) -> list[Path]:
    out_dir = out_dir or Path(__file__).resolve().parents[1] / "data"
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in SESSIONS:
        path = out_dir / f"sample_{name}.nwb"
        write_session(simulate_session(name), path)
        paths.append(path)
    return paths


if __name__ == "__main__":
    for p in main():
        print(f"wrote {p} ({p.stat().st_size / 1e6:.2f} MB)")
