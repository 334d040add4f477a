"""Binning kernels: event-aligned spike counts and bin-averaged continuous signals.

Both kernels take plain numpy arrays and trust their input (validation happens in
:mod:`neurogeom.io.nwb`). Bins are half-open, ``[edge_k, edge_{k+1})``, in seconds.

The spike kernel loops over units only (never over trials): per unit, :func:`numpy.searchsorted`
of the window starts (and, for overlapping windows, stops) finds each trial's spikes, arithmetic
gives each spike its (trial, bin) key, and one :func:`numpy.bincount` counts them. Windows of
different trials may overlap.
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
        Absolute time (seconds) of the alignment event in each trial; finite. Windows of
        different trials may overlap and need not be sorted.
    edges : ndarray of shape (n_bins + 1,)
        Bin edges relative to the event (seconds), increasing.

    Returns
    -------
    ndarray of shape (n_trials, n_bins, n_units), int64
        ``counts[i, k, u]`` = number of spikes of unit ``u`` in
        ``[event_times[i] + edges[k], event_times[i] + edges[k + 1])`` (a transposed view of a
        unit-major array).

    Notes
    -----
    Three paths, all equal to the definition above bit for bit:

    * Regular edges and windows that do not overlap (the usual case; trials in any order):
      the window starts, sorted, cut each unit's spike train into one run per trial (from its
      window start to the next one) with one :func:`numpy.searchsorted` of the n_trials starts.
      Each spike's key is ``trial * stride + floor((t - window_start) / bin_size)``, where
      ``stride`` exceeds the longest run in bins, so spikes between windows land in unused
      slots; one :func:`numpy.bincount` per unit counts the keys.
    * Regular edges, overlapping windows: two ``searchsorted`` calls per unit find each window's
      spikes, which are gathered and keyed the same way.
    * Irregular edges: one ``searchsorted`` of every absolute edge per unit.

    In the arithmetic paths, spikes within 1e-6 bin of an edge are re-checked against the
    exact edge ``event + edges[k]``. When round-off could reach that margin (times or bin
    counts so large that float64 cannot resolve 1e-6 bin), the irregular path is used.
    """
    spike_times = np.asarray(spike_times, dtype=np.float64)
    event_times = np.asarray(event_times, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    starts, stops = ragged_bounds(unit_ends)
    n_trials, n_bins = event_times.size, edges.size - 1
    width = (edges[-1] - edges[0]) / n_bins
    deviation = np.abs(edges - (edges[0] + width * np.arange(n_bins + 1))).max()
    regular = deviation < 1e-12 * max(width, np.abs(edges).max())
    arithmetic = (
        n_trials > 0
        and regular
        and _round_off_in_bins(event_times, edges, deviation) < _NEAR_EDGE / 4
    )
    if arithmetic:
        window_start = event_times + edges[0]
        order = np.argsort(window_start, kind="stable")
        window_stop = event_times[order] + edges[-1]
        if np.all(window_stop[:-1] <= window_start[order[1:]]):
            counts = _DisjointWindows(event_times, edges, order).counts(spike_times, starts, stops)
            return counts.transpose(1, 2, 0)
    counts = np.empty((starts.size, n_trials * n_bins), dtype=np.int64)
    if not arithmetic:
        abs_edges = (event_times[:, None] + edges[None, :]).ravel()
        for u, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
            pos = np.searchsorted(spike_times[lo:hi], abs_edges, side="left")
            pos = pos.reshape(n_trials, n_bins + 1)
            counts[u] = (pos[:, 1:] - pos[:, :-1]).ravel()
    else:
        window_start = event_times + edges[0]
        window_stop = event_times + edges[-1]
        first = np.empty((starts.size, n_trials), dtype=np.int64)
        n_in = np.empty((starts.size, n_trials), dtype=np.int64)
        for u, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
            first[u] = np.searchsorted(spike_times[lo:hi], window_start, side="left")
            n_in[u] = np.searchsorted(spike_times[lo:hi], window_stop, side="left") - first[u]
        # work buffers reused for every unit: no large temporaries (allocating them per unit
        # costs more in page faults than the arithmetic)
        work = _Work(int(n_in.sum(axis=1).max(initial=0)))
        kernel = _RegularBins(event_times, edges, window_start)
        for u, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
            counts[u] = kernel.counts(spike_times[lo:hi], first[u], n_in[u], work)
    return counts.reshape(starts.size, n_trials, n_bins).transpose(1, 2, 0)


_NEAR_EDGE = 1e-6  # in bins: spikes this close to an edge are checked exactly


def _round_off_in_bins(event_times: np.ndarray, edges: np.ndarray, deviation: float) -> float:
    """Bound (in bins) on how far the arithmetic bin coordinate of a spike can be off.

    Covers the rounding of ``event + edges[k]``, of ``t / bin_size`` plus a per-trial offset
    (keys up to ``n_trials * stride`` bins), and the edges' deviation from a regular grid.
    """
    n_bins = edges.size - 1
    inv = n_bins / (edges[-1] - edges[0])
    span = float(np.abs(event_times).max(initial=0.0) + np.abs(edges).max())
    eps = np.finfo(np.float64).eps
    keys = event_times.size * (n_bins + 1.0) + span * inv  # crude bound on |key|, |t / bin|
    return float(inv * (deviation + 4 * eps * span) + 8 * eps * (2 * span * inv + keys))


class _DisjointWindows:
    """Counts in regular bins of windows that do not overlap (in any trial order).

    Sorted by start, the windows cut a spike train into consecutive runs ``[start_j,
    start_{j+1})`` (the last one stops at its window's stop); a run's spikes get the key
    ``trial * stride + floor((t - start_j) / bin_size)``. Slots ``n_bins .. stride - 1`` of a
    trial hold the spikes between its window and the next and are dropped.
    """

    def __init__(self, event_times: np.ndarray, edges: np.ndarray, order: np.ndarray) -> None:
        self.events, self.edges = event_times, edges
        self.n_trials, self.n_bins = event_times.size, edges.size - 1
        start = event_times[order] + edges[0]  # sorted window starts, exact as in the definition
        self.bounds = np.append(start, event_times[order[-1]] + edges[-1])
        self.inv = self.n_bins / (edges[-1] - edges[0])
        longest = float(np.diff(start).max(initial=0.0)) * self.inv
        self.stride = max(int(np.floor(longest)) + 2, self.n_bins + 1)
        # key + _NEAR_EDGE = t / bin_size + offset: spikes near an edge have a small fraction
        self.offset = order * self.stride - start * self.inv + _NEAR_EDGE

    def counts(self, spike_times: np.ndarray, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """Counts of every unit, shape (n_units, n_trials, n_bins), int64."""
        n_trials, n_bins, stride = self.n_trials, self.n_bins, self.stride
        out = np.empty((starts.size, n_trials, n_bins), dtype=np.int64)
        longest = int((stops - starts).max(initial=0))
        z_buf = np.empty(longest, dtype=np.float64)
        key_buf = np.empty(longest, dtype=np.int64)
        for u, (lo, hi) in enumerate(zip(starts, stops, strict=True)):
            train = spike_times[lo:hi]
            a, b = np.searchsorted(train, self.bounds[[0, -1]], side="left")
            train = train[a:b]
            z, key = z_buf[: train.size], key_buf[: train.size]
            np.multiply(train, self.inv, out=z)  # first pass: brings the train into cache
            runs = np.diff(np.searchsorted(train, self.bounds, side="left"))
            z += np.repeat(self.offset, runs)
            np.copyto(key, z, casting="unsafe")  # truncation = floor (z > 0)
            z -= key  # fraction of a bin past the edge, + _NEAR_EDGE
            near = np.flatnonzero(z < 2 * _NEAR_EDGE)
            if near.size:  # decide against the exact edges event + edges[k]
                trial = key[near] // stride
                k = np.minimum(key[near] - trial * stride, n_bins)
                t, event = train[near], self.events[trial]
                k -= (k > 0) & (t < event + self.edges[k])
                k += (k < n_bins) & (t >= event + self.edges[np.minimum(k + 1, n_bins)])
                key[near] = trial * stride + k
            per_trial = np.bincount(key, minlength=n_trials * stride).reshape(n_trials, stride)
            out[u] = per_trial[:, :n_bins]
        return out


class _Work:
    """Preallocated per-spike buffers, sized for the unit with most spikes in windows."""

    def __init__(self, size: int) -> None:
        self.index = np.empty(size, dtype=np.int64)
        self.trial = np.empty(size, dtype=np.int64)
        self.key = np.empty(size, dtype=np.int64)
        self.t = np.empty(size, dtype=np.float64)
        self.z = np.empty(size, dtype=np.float64)
        self.offset = np.empty(size, dtype=np.float64)


class _RegularBins:
    """Counts of one sorted spike train in regular bins: (trial, bin) keys by arithmetic."""

    def __init__(self, event_times: np.ndarray, edges: np.ndarray, window_start: np.ndarray):
        self.events = event_times
        self.edges = edges
        self.n_trials, self.n_bins = event_times.size, edges.size - 1
        self.inv = self.n_bins / (edges[-1] - edges[0])
        # key = t / bin_size + offset[trial] = trial * n_bins + (t - window_start) / bin_size
        self.offset = np.arange(self.n_trials) * self.n_bins - window_start * self.inv

    def counts(self, train: np.ndarray, first: np.ndarray, n_in: np.ndarray, w: _Work):
        size = self.n_trials * self.n_bins
        total = int(n_in.sum())
        if total == 0:
            return np.zeros(size, dtype=np.int64)
        filled = np.flatnonzero(n_in)  # trials with spikes in their window
        lengths = n_in[filled]
        seg = np.cumsum(lengths) - lengths  # where each trial's run starts in the buffers
        # spike index (runs first[i] .. first[i] + n_in[i] - 1) and trial index, by cumsum
        index, trial = w.index[:total], w.trial[:total]
        index.fill(1)
        index[seg] = first[filled]
        index[seg[1:]] -= first[filled[:-1]] + lengths[:-1] - 1
        np.cumsum(index, out=index)
        trial.fill(0)
        trial[seg] = np.diff(filled, prepend=0)
        np.cumsum(trial, out=trial)
        t, z, offset, key = w.t[:total], w.z[:total], w.offset[:total], w.key[:total]
        np.take(train, index, out=t)
        np.take(self.offset, trial, out=offset)
        np.multiply(t, self.inv, out=z)
        np.add(z, offset, out=z)
        np.copyto(key, z, casting="unsafe")  # truncation = floor (z >= 0 up to round-off)
        np.subtract(z, key, out=z)  # position inside the bin, in [0, 1)
        np.subtract(z, 0.5, out=z)
        np.abs(z, out=z)
        near = np.flatnonzero(z > 0.5 - _NEAR_EDGE)
        if near.size:  # decide against the exact edges event + edges[k]
            tr = trial[near]
            k = np.clip(key[near] - tr * self.n_bins, 0, self.n_bins - 1)
            tn = t[near]
            k -= tn < self.events[tr] + self.edges[k]
            k += tn >= self.events[tr] + self.edges[k + 1]
            key[near] = tr * self.n_bins + k
        return np.bincount(key, minlength=size)


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
