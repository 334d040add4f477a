"""Benchmark: event-aligned spike binning, neurogeom's kernel vs pynapple's ``build_tensor``.

A synthetic session of 1,000 units x 1,000 trials with ~50 spikes per unit per trial window
(50 Hz Poisson, 1 s windows, 50 bins of 20 ms) is binned into a (trial, time, unit) count tensor
by both libraries from the same in-memory spike trains, in the same run. Building pynapple's
``TsGroup``/``IntervalSet`` objects is excluded from its time (only ``build_tensor`` is timed,
after a warm-up call that compiles its numba kernels); neurogeom's time is the whole
``bin_spike_counts`` call. The two tensors are checked to be equal.

Writes benchmarks/results/bin_spikes.json. Run:  python benchmarks/bin_spikes.py [--small]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from _results import write_results

from neurogeom.io._binning import bin_edges, bin_spike_counts


def make_session(n_units: int, n_trials: int, rate_hz: float, period_s: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    duration = n_trials * period_s + 1.0
    trains = []
    for _ in range(n_units):
        n = rng.poisson(rate_hz * duration)
        trains.append(np.sort(rng.uniform(0.0, duration, n)))
    events = 0.5 + period_s * np.arange(n_trials) + 0.25
    return trains, events


def best_of(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="100 units x 100 trials (smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n_units, n_trials = (100, 100) if args.small else (1000, 1000)
    rate_hz, period_s, window_s, bin_size_s = 50.0, 1.5, (-0.5, 0.5), 0.02

    trains, events = make_session(n_units, n_trials, rate_hz, period_s)
    flat = np.concatenate(trains)
    ends = np.cumsum([t.size for t in trains])
    edges = bin_edges(window_s, bin_size_s)
    n_bins = edges.size - 1

    import pynapple as nap

    group = nap.TsGroup({u: nap.Ts(t=t) for u, t in enumerate(trains)})
    epochs = nap.IntervalSet(start=events + window_s[0], end=events + window_s[1])
    warm = nap.IntervalSet(start=epochs.start[:2], end=epochs.end[:2])
    nap.build_tensor(group, warm, bin_size=bin_size_s)  # compile numba kernels first

    # interleaved repeats: both see the same machine load; keep each one's best
    t_ours, t_peer = np.inf, np.inf
    for _ in range(args.repeats):
        dt, ours = best_of(lambda: bin_spike_counts(flat, ends, events, edges), 1)
        t_ours = min(t_ours, dt)
        dt, peer = best_of(
            lambda: nap.build_tensor(group, epochs, bin_size=bin_size_s, padding_value=np.nan), 1
        )
        t_peer = min(t_peer, dt)
    peer_tensor = np.asarray(peer)[:, :, :n_bins].transpose(1, 2, 0)  # (unit, trial, time) -> ours
    equal = float(np.mean(peer_tensor == ours))

    result = {
        "benchmark": "bin_spikes",
        "what": "align + bin spike trains into a (trial, time, unit) count tensor",
        "baseline": f"pynapple {nap.__version__} build_tensor (TsGroup, IntervalSet)",
        "n_units": n_units,
        "n_trials": n_trials,
        "n_bins": n_bins,
        "bin_size_s": bin_size_s,
        "n_spikes": int(flat.size),
        "spikes_per_unit_per_window": float(ours.sum() / (n_units * n_trials)),
        "neurogeom_s": round(t_ours, 4),
        "pynapple_s": round(t_peer, 4),
        "speedup": round(t_peer / t_ours, 2),
        "fraction_of_counts_equal": equal,
        "repeats": args.repeats,
        "timing": "best of interleaved repeats, wall clock, same process",
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus (shared)",
    }
    if args.small:
        print(json.dumps(result, indent=1))
    else:
        write_results("bin_spikes", result)
    return result


if __name__ == "__main__":
    main()
