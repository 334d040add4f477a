"""Change points: the piecewise-linear cost for ruptures' Pelt, the segmentation, and the spread
of each boundary over bootstrap replicate trajectories (steps 2 and 5 of
:mod:`neurogeom.learning.stages`)."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import ruptures as rpt
import xarray as xr
from ruptures.base import BaseCost
from ruptures.exceptions import NotEnoughPoints

from neurogeom.learning._stage_measures import ordered
from neurogeom.learning.stats import percentile_ci

__all__ = ["MIN_SIZE", "boundary_spread", "replicate_boundaries", "segment", "split_gains"]

MIN_SIZE = 3


class CostSegmentLine(BaseCost):
    """Residual sum of squares of one straight line in ``t`` per column, summed (O(1) per segment)."""

    model = "segment_line"

    def __init__(self, t: np.ndarray, min_size: int = MIN_SIZE):
        self.t = np.asarray(t, dtype=float)
        self.min_size = min_size

    def fit(self, signal: np.ndarray) -> CostSegmentLine:
        self.signal = signal
        y = signal.reshape(len(signal), -1)
        t = self.t[:, None]
        zero = np.zeros((1, y.shape[1]))
        self._sums = [
            np.concatenate([zero[:, :1], np.cumsum(np.ones_like(t), 0)]),
            np.concatenate([zero[:, :1], np.cumsum(t, 0)]),
            np.concatenate([zero[:, :1], np.cumsum(t * t, 0)]),
            np.concatenate([zero, np.cumsum(y, 0)]),
            np.concatenate([zero, np.cumsum(t * y, 0)]),
            np.concatenate([zero, np.cumsum(y * y, 0)]),
        ]
        return self

    def error(self, start: int, end: int) -> float:
        if end - start < self.min_size:
            raise NotEnoughPoints
        n, st, stt, sy, sty, syy = (s[end] - s[start] for s in self._sums)
        sxx = stt - st * st / n
        sxy = sty - st * sy / n
        ss = syy - sy * sy / n
        if sxx[0] > 1e-12:
            ss = ss - sxy * sxy / sxx
        return float(max(np.sum(ss), 0.0))


def segment(signal: np.ndarray, t: np.ndarray, penalty: float) -> list[int]:
    """Boundaries (index of the first checkpoint of each new segment) found by Pelt."""
    algo = rpt.Pelt(custom_cost=CostSegmentLine(t), min_size=MIN_SIZE, jump=1).fit(signal)
    return [int(b) for b in algo.predict(pen=penalty)[:-1]]


def split_gains(signal: np.ndarray, t: np.ndarray, boundaries: list[int]) -> list[float]:
    """Per boundary: the cost of one line over its two segments minus that of two lines (the
    whitened units of the penalty; a boundary stands where this exceeds the penalty)."""
    cost = CostSegmentLine(t, min_size=1).fit(signal)
    edges = [0, *boundaries, len(t)]
    return [
        cost.error(edges[i], edges[i + 2]) - cost.error(edges[i], b) - cost.error(b, edges[i + 2])
        for i, b in enumerate(boundaries)
    ]


def boundary_spread(
    boundaries: list[int], replicate_boundaries: list[list[int]], n: int, confidence: float
) -> dict[str, np.ndarray]:
    """Spread of each boundary over replicate segmentations (in checkpoints)."""
    out = {k: np.full(len(boundaries), np.nan) for k in ("sd", "low", "high", "support")}
    if not replicate_boundaries:
        return out
    edges = [0, *boundaries, n]
    for i, b in enumerate(boundaries):
        lo, hi = (edges[i] + b) / 2.0, (b + edges[i + 2]) / 2.0
        matched = []
        for rb in replicate_boundaries:
            near = [x for x in rb if lo <= x <= hi]
            if near:
                matched.append(min(near, key=lambda x: abs(x - b)))
        m = np.asarray(matched, dtype=float)
        out["support"][i] = np.mean(
            [any(abs(x - b) <= 1 for x in rb) for rb in replicate_boundaries]
        )
        if m.size:
            out["sd"][i] = m.std(ddof=1) if m.size > 1 else 0.0
            low, high = percentile_ci(m, confidence=confidence)
            out["low"][i], out["high"][i] = float(low), float(high)
    return out


def replicate_boundaries(
    replicates: xr.Dataset | None,
    norm: xr.Dataset,
    measures: list[str],
    sigma: np.ndarray,
    penalty: float,
    time_window: Hashable | None,
) -> list[list[int]]:
    if replicates is None:
        return []
    if "replicate" not in replicates.dims:
        raise ValueError(
            f"replicates needs a 'replicate' dim; got dims {tuple(replicates.dims)}. "
            "Stack bootstrap trajectories with xr.concat(..., dim='replicate')."
        )
    lo = norm["minimum"].sel(measure=measures).values
    span = norm["range"].sel(measure=measures).values
    t = norm["log_step"].values
    found = []
    for r in range(replicates.sizes["replicate"]):
        rep = ordered(replicates.isel(replicate=r), time_window)
        if rep.sizes["stage"] != len(t):
            raise ValueError(
                f"replicate {r} has {rep.sizes['stage']} stages; the trajectory has {len(t)}."
            )
        values = np.stack([np.asarray(rep[m].values, dtype=float) for m in measures], axis=1)
        signal = (values - lo) / span / sigma
        if np.isfinite(signal).all():
            found.append(segment(signal, t, penalty))
    return found
