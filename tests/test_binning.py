"""The binning kernels against brute-force counts and averages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neurogeom.io._binning import bin_average, bin_edges, bin_spike_counts


def brute_counts(trains, events, edges):
    out = np.zeros((len(events), len(edges) - 1, len(trains)), dtype=np.int64)
    for u, train in enumerate(trains):
        for i, ev in enumerate(events):
            for k in range(len(edges) - 1):
                lo, hi = ev + edges[k], ev + edges[k + 1]
                out[i, k, u] = np.sum((train >= lo) & (train < hi))
    return out


def flat(trains):
    return np.concatenate(trains), np.cumsum([len(t) for t in trains])


def test_bin_edges_tile_the_window_exactly():
    edges = bin_edges((-0.5, 1.0), 0.05)
    assert edges.size == 31
    assert edges[0] == -0.5
    assert edges[-1] == pytest.approx(1.0)
    assert bin_edges((0.0, 1.0), 0.3).size == 4  # 3 whole bins; the remainder is left out


def test_counts_match_brute_force_with_overlapping_windows():
    rng = np.random.default_rng(1)
    trains = [np.sort(rng.uniform(0, 20, n)) for n in (0, 5, 200, 57)]
    events = np.array([3.0, 3.2, 10.0, 19.5, 0.1])  # overlapping and past-the-end windows
    edges = bin_edges((-0.5, 0.75), 0.25)
    got = bin_spike_counts(*flat(trains), events, edges)
    np.testing.assert_array_equal(got, brute_counts(trains, events, edges))
    assert got.shape == (5, 5, 4)


def test_spike_on_an_edge_goes_to_the_bin_it_opens():
    counts = bin_spike_counts(
        np.array([1.0, 1.5]), np.array([2]), np.array([1.0]), np.array([0.0, 0.5, 1.0])
    )
    np.testing.assert_array_equal(counts[0, :, 0], [1, 1])


@settings(max_examples=60, deadline=None)
@given(
    spikes=st.lists(st.floats(0, 100, allow_nan=False), min_size=0, max_size=300),
    starts=st.lists(st.floats(0, 95), min_size=1, max_size=8),
    length=st.floats(0.05, 5.0),
    n_bins=st.integers(1, 20),
)
def test_counts_sum_to_spikes_inside_each_window(spikes, starts, length, n_bins):
    train = np.sort(np.asarray(spikes, dtype=float))
    events = np.asarray(starts)
    edges = np.linspace(0.0, length, n_bins + 1)
    counts = bin_spike_counts(train, np.array([train.size]), events, edges)
    for i, ev in enumerate(events):
        inside = np.sum((train >= ev + edges[0]) & (train < ev + edges[-1]))
        assert counts[i, :, 0].sum() == inside
    assert (counts >= 0).all()


def test_bin_average_is_the_mean_of_samples_in_each_bin():
    t = np.arange(0, 10, 0.01)
    data = np.stack([np.sin(t), t], axis=1)
    data[500, 0] = np.nan  # ignored, not propagated
    events = np.array([2.0, 5.0])
    edges = bin_edges((-0.2, 0.3), 0.1)
    got = bin_average(t, data, events, edges)
    assert got.shape == (2, 5, 2)
    for i, ev in enumerate(events):
        for k in range(5):
            sel = (t >= ev + edges[k]) & (t < ev + edges[k + 1])
            np.testing.assert_allclose(got[i, k], np.nanmean(data[sel], axis=0))


def test_bin_average_empty_bins_are_nan_and_single_samples_exact():
    stamps = np.array([0.05, 0.15, 0.35])
    values = np.array([0.1 + 0.2, 1e-17, 7.0])  # no running-sum round-off
    got = bin_average(stamps, values, np.array([0.0]), np.array([0.0, 0.1, 0.2, 0.3, 0.4]))
    assert got[0, 0, 0] == 0.1 + 0.2
    assert got[0, 1, 0] == 1e-17
    assert np.isnan(got[0, 2, 0])
    assert got[0, 3, 0] == 7.0


def test_irregular_edges_and_spikes_exactly_on_edges():
    events = np.array([1.0, 1.1, 7.3])
    regular = bin_edges((-0.3, 0.3), 0.1)
    # spikes placed exactly on (and one ulp around) every absolute edge
    on_edges = (events[:, None] + regular[None, :]).ravel()
    train = np.sort(
        np.concatenate([on_edges, np.nextafter(on_edges, -np.inf), np.nextafter(on_edges, np.inf)])
    )
    for edges in (regular, np.array([-0.3, -0.1, 0.0, 0.25, 0.3])):
        got = bin_spike_counts(train, np.array([train.size]), events, edges)
        np.testing.assert_array_equal(got, brute_counts([train], events, edges))


def test_no_spikes_no_trials_shapes():
    edges = bin_edges((0.0, 1.0), 0.5)
    empty = bin_spike_counts(np.zeros(0), np.array([0, 0]), np.array([1.0, 2.0]), edges)
    assert empty.shape == (2, 2, 2) and empty.sum() == 0
    none = bin_spike_counts(np.array([0.5]), np.array([1]), np.zeros(0), edges)
    assert none.shape == (0, 2, 1)


def test_disjoint_windows_sorted_or_shuffled_match_brute_force():
    # windows that do not overlap (the fast path), spikes in the gaps between them, before the
    # first window and after the last, and spikes exactly on (and one ulp around) every edge
    rng = np.random.default_rng(7)
    events = np.array([2.0, 3.25, 5.0, 5.75, 9.1])  # gaps of 0 (touching) .. 2.85 s
    edges = bin_edges((-0.25, 0.5), 0.125)
    on_edges = (events[:, None] + edges[None, :]).ravel()
    trains = [
        np.sort(rng.uniform(0, 11, 300)),
        np.sort(
            np.concatenate(
                [on_edges, np.nextafter(on_edges, -np.inf), np.nextafter(on_edges, np.inf)]
            )
        ),
        np.array([0.5, 4.0, 4.5, 8.0, 10.5]),  # every spike in a gap or outside all windows
        np.zeros(0),
    ]
    expected = brute_counts(trains, events, edges)
    assert expected[:, :, 2].sum() == 0 and expected[:, :, 1].min() == 3  # on, above, below next
    got = bin_spike_counts(*flat(trains), events, edges)
    np.testing.assert_array_equal(got, expected)
    perm = np.array([3, 0, 4, 2, 1])
    shuffled = bin_spike_counts(*flat(trains), events[perm], edges)
    np.testing.assert_array_equal(shuffled, expected[perm])


def test_touching_windows_count_a_shared_edge_once():
    # window i stops exactly where window i + 1 starts: a spike on that edge opens the next bin
    events = np.array([1.0, 2.0, 3.0])
    edges = np.array([0.0, 0.5, 1.0])
    train = np.array([1.0, 1.5, 2.0, 2.0, 2.999999, 3.0, 4.0])
    got = bin_spike_counts(train, np.array([train.size]), events, edges)
    np.testing.assert_array_equal(got[:, :, 0], [[1, 1], [2, 1], [1, 0]])
    np.testing.assert_array_equal(got, brute_counts([train], events, edges))


@settings(max_examples=60, deadline=None)
@given(
    spikes=st.lists(st.floats(0, 60, allow_nan=False), min_size=0, max_size=200),
    gaps=st.lists(st.floats(0.0, 3.0), min_size=1, max_size=6),
    length=st.floats(0.05, 2.0),
    n_bins=st.integers(1, 12),
    shuffle_seed=st.integers(0, 1000),
)
def test_disjoint_windows_match_brute_force_property(spikes, gaps, length, n_bins, shuffle_seed):
    train = np.sort(np.asarray(spikes, dtype=float))
    edges = bin_edges((-0.3 * length, 0.7 * length), length / n_bins)
    span = edges[-1] - edges[0]
    events = 1.0 + np.cumsum(np.asarray(gaps) + span)  # windows disjoint (maybe touching)
    events = np.random.default_rng(shuffle_seed).permutation(events)
    # a few spikes exactly on absolute edges
    on = (events[:, None] + edges[None, :]).ravel()[::3]
    train = np.sort(np.concatenate([train, on]))
    got = bin_spike_counts(train, np.array([train.size]), events, edges)
    np.testing.assert_array_equal(got, brute_counts([train], events, edges))
