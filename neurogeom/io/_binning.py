"""Binning kernels: event-aligned spike counts and bin-averaged continuous signals.

Both kernels take plain numpy arrays and trust their input (validation happens in
:mod:`neurogeom.io.nwb`). Bins are half-open, ``[edge_k, edge_{k+1})``, in seconds.

The spike kernel places every bin edge of every trial into each unit's sorted spike train with one
:func:`numpy.searchsorted` call per unit and takes differences of the insertion points: the cost is
``O(n_units * n_trials * n_bins * log(n_spikes_per_unit))`` with no Python loop over trials, and
windows of different trials may overlap.
"""

from __future__ import annotations

import numpy as np

__all__ = ["bin_edges", "bin_spike_counts", "bin_average", "ragged_bounds"]


def bin_edges(window_s: tuple[float, float], bin_size_s: float) -> np.ndarray:
    """Bin edges (seconds, relative to the alignment event) covering ``window_s``.

    Parameters
    ----------
    window_s : (float, float)
        Start and stop of the window, seconds relative to the event; ``start < stop``.
    bin_size_s : float
        Bin width in seconds, > 0.

    Returns
    -------
    ndarray of shape (n_bins + 1,)
        ``start + k * bin_size_s``; ``n_bins = floor((stop - start) / bin_size_s)`` (with a
        tolerance of 1e-9 bins, so ``(-0.5, 1.0)`` with ``0.05`` gives exactly 30 bins).
    """
    start, stop = float(window_s[0]), float(window_s[1])
    n_bins = int(np.floor((stop - start) / bin_size_s + 1e-9))
    return start + bin_size_s * np.arange(n_bins + 1, dtype=np.float64)


def ragged_bounds(index_ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop offsets of each row of a ragged column stored as (flat data, row ends).

    Parameters
    ----------
    index_ends : ndarray of shape (n_rows,)
        Cumulative end offsets, as in an NWB ``VectorIndex``.

    Returns
    -------
    starts, stops : ndarray of shape (n_rows,), int64
    """
    stops = np.asarray(index_ends, dtype=np.int64)
    starts = np.concatenate([[0], stops[:-1]]).astype(np.int64)
    return starts, stops


def bin_spike_counts(
    spike_times: np.ndarray,
    unit_ends: np.ndarray,
    event_times: np.ndarray,
    edges: np.ndarray,
) -> np.ndarray:
    """Count each unit's spikes in bins aligned to each trial's event.

    Parameters
    ----------
    spike_times : ndarray of shape (n_spikes_total,)
        All units' spike times (seconds), concatenated unit after unit; each unit's run sorted.
    unit_ends : ndarray of shape (n_units,)
        End offset of each unit's run in ``spike_times`` (an NWB ``spike_times_index``).
    event_times : ndarray of shape (n_trials,)
        Absolute time (seconds) of the alignment event in each trial; finite.
    edges : ndarray of shape (n_bins + 1,)
        Bin edges relative to the event (seconds), increasing.

    Returns
    -------
    ndarray of shape (n_trials, n_bins, n_units), int64
        ``counts[i, k, u]`` = number of spikes of unit ``u`` in
        ``[event_times[i] + edges[k], event_times[i] + edges[k + 1])``.
    """
    spike_times = np.asarray(spike_times, dtype=np.float64)
    event_times = np.asarray(event_times, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    n_trials, n_edges = event_times.size, edges.size
    starts, stops = ragged_bounds(unit_ends)
    # every edge of every trial, in trial order; sorted when the trials do not overlap, which
    # lets searchsorted reuse its previous position
    abs_edges = (event_times[:, None] + edges[None, :]).ravel()
    counts = np.empty((starts.size, n_trials, n_edges - 1), dtype=np.int64)
    for u, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
        pos = np.searchsorted(spike_times[lo:hi], abs_edges, side="left").reshape(n_trials, n_edges)
        np.subtract(pos[:, 1:], pos[:, :-1], out=counts[u])
    return np.ascontiguousarray(counts.transpose(1, 2, 0))


def bin_average(
    timestamps: np.ndarray,
    data: np.ndarray,
    event_times: np.ndarray,
    edges: np.ndarray,
) -> np.ndarray:
    """Average a sampled signal over bins aligned to each trial's event.

    Samples whose time falls in ``[event + edges[k], event + edges[k + 1])`` are averaged, per
    channel, ignoring NaN samples. A bin with no (finite) sample is NaN. The sum of a bin holding a
    single sample is that sample exactly (no running-sum round-off).

    Parameters
    ----------
    timestamps : ndarray of shape (n_samples,)
        Sample times in seconds, increasing.
    data : ndarray of shape (n_samples,) or (n_samples, n_channels)
        The signal.
    event_times : ndarray of shape (n_trials,)
        Absolute event time of each trial (seconds).
    edges : ndarray of shape (n_bins + 1,)
        Bin edges relative to the event (seconds), increasing.

    Returns
    -------
    ndarray of shape (n_trials, n_bins, n_channels), float64
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    values = np.asarray(data, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    values = values.reshape(values.shape[0], -1)
    n_channels = values.shape[1]
    event_times = np.asarray(event_times, dtype=np.float64)
    n_trials, n_bins = event_times.size, edges.size - 1

    abs_edges = event_times[:, None] + np.asarray(edges, dtype=np.float64)[None, :]
    pos = np.searchsorted(timestamps, abs_edges.ravel(), side="left").reshape(n_trials, -1)
    lo = pos[:, :-1].ravel()
    hi = pos[:, 1:].ravel()

    finite = np.isfinite(values)
    # a trailing zero row makes index n_samples valid for reduceat
    padded = np.vstack([np.where(finite, values, 0.0), np.zeros((1, n_channels))])
    padded_n = np.vstack([finite.astype(np.int64), np.zeros((1, n_channels), dtype=np.int64)])
    pairs = np.empty(2 * lo.size, dtype=np.int64)
    pairs[0::2], pairs[1::2] = lo, hi
    if pairs.size == 0:
        return np.full((n_trials, n_bins, n_channels), np.nan)
    sums = np.add.reduceat(padded, pairs, axis=0)[0::2]
    n = np.add.reduceat(padded_n, pairs, axis=0)[0::2]
    empty = (hi <= lo)[:, None]  # reduceat returns padded[lo] for an empty range
    n = np.where(empty, 0, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, sums / np.maximum(n, 1), np.nan)
    return mean.reshape(n_trials, n_bins, n_channels)
