"""Learning stages: change points in the six GLUE measures along log training time.

The seed paper (arXiv 2503.18114, Sec. 4.2, Fig. 4c) names at least four stages of learning,
*clustering*, *structuring*, *separating* and *stabilizing*, and finds them by eye on a heatmap of the
min-max normalised measures; it gives no criterion, neither for the boundaries nor for the names.
:func:`learning_stages` makes both reproducible from a trajectory Dataset (the layout is in
:mod:`neurogeom.learning.stats`).

Method
------
1. **Normalise.** Stages are ordered by the ``step`` coord (training step or session; without it,
   by stage order) and placed on the log training time ``t = log10(1 + step)`` (so step 0 sits at
   ``t = 0``). Each measure is min-max normalised over the stages (0 = its minimum, 1 = its maximum),
   its error bars by the same factor. Its noise level ``sigma_v`` is the root mean square over
   stages of ``sqrt(v_sem**2 + v_resample_se**2)`` in those units (the two errors are added in
   variance only here, to size the penalty; they are reported apart everywhere else). Each measure is
   divided by its ``sigma_v``, so every measure has noise variance ``sigma**2 = 1`` in the units of
   the cost.
2. **Change points.** A stage is a stretch of checkpoints over which every measure moves at a
   steady rate in log time (possibly zero). The segment cost is the residual sum of squares of a
   straight line in ``t`` fitted to each whitened measure, summed over measures; segments hold at
   least ``min_size = 3`` checkpoints. :class:`ruptures.Pelt` finds the segmentation minimising the
   total cost plus a penalty per segment.
3. **Penalty (the stated rule).** ``penalty = c * sigma**2 * n_measures * log(n_stages)`` with
   ``sigma**2 = 1`` after step 1 and ``c = 2``: BIC for this model, which charges ``log n`` per
   parameter in units of the noise variance, each new segment bringing two parameters per measure
   (a level and a rate). Measured on flat noisy trajectories of the six measures (error bars equal to
   the noise, 15 to 40 log-spaced checkpoints, 100 seeded draws each): ``c = 2`` gave a false
   boundary in 0 of 100 draws at every length, ``c = 1`` in 39 to 70 of 100; ``tests/test_stages.py``
   keeps that check. Error bars that understate the stage-to-stage noise give extra boundaries
   (look at the ``2 x`` row of the sensitivity); when the same trials are measured at every
   checkpoint, the resampling error is shared by all stages and the rule is conservative.
   The boundaries found at ``0.5 x`` and ``2 x`` the
   penalty are reported as its sensitivity. ``penalty=`` overrides the rule
   (attrs ``penalty_rule="given"``).
4. **Labels.** In each segment the straight-line fit gives each measure's change from the
   segment's first to its last checkpoint (normalised units) and its z score against the noise
   (``change / se``, ``se`` from ``sigma_v`` and the spread of ``t`` in the segment). A measure
   *moves* when ``|z| > 3`` (rises: +1, falls: -1; 3 standard errors keep the chance that one of six
   flat measures "moves" near 1.6%). The first rule that matches names the segment:

   ==============  ===============================================================================
   label           rule (first match wins)
   ==============  ===============================================================================
   stabilizing     no measure moves beyond noise
   separating      capacity rises and dimension falls
   clustering      radius falls and dimension does not fall (manifolds shrink about their centres)
   structuring     a centre, axis or centre-axis alignment moves (the manifolds rearrange)
   changing        anything else that moves (e.g. only capacity falls); not one of the four
   ==============  ===============================================================================

   The signatures are this package's reading of the stage names (the seed paper's text suggests
   "radius falls first" for clustering and "capacity rises while dimension falls" for separating);
   they are a convention, stated so it can be argued with, not a finding of the paper. A measure
   left out (``measures=`` or NaN, e.g. at the capacity floor) never moves.
5. **Uncertainty.** Given bootstrap replicate trajectories (``replicates=``, the same layout with
   a ``replicate`` dim), each is segmented with the same normalisation and penalty; each boundary's
   nearest replicate boundary (within the stretch between its neighbouring boundaries) gives its
   spread (standard deviation and percentile interval, in checkpoints) and its support (fraction of
   replicates with a boundary within one checkpoint).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import ruptures as rpt
import xarray as xr
from ruptures.base import BaseCost
from ruptures.exceptions import NotEnoughPoints

from neurogeom.geometry._provenance import provenance
from neurogeom.learning.stats import percentile_ci

__all__ = ["GLUE_MEASURES", "PENALTY_C", "learning_stages", "normalise_measures", "log_time"]

GLUE_MEASURES: tuple[str, ...] = (
    "capacity",
    "radius",
    "dimension",
    "center_alignment",
    "axis_alignment",
    "center_axis_alignment",
)
PENALTY_C = 2.0
Z_MOVE = 3.0
MIN_SIZE = 3
PENALTY_SCALES = (0.5, 1.0, 2.0)
ALIGNMENTS = ("center_alignment", "axis_alignment", "center_axis_alignment")
PENALTY_RULE = (
    "penalty = c * sigma^2 * n_measures * log(n_stages); each min-max normalised measure divided by "
    "its noise level (rms over stages of sqrt(sem^2 + resample_se^2)), so sigma^2 = 1; c = 2 "
    "(BIC: a level and a rate per measure per segment)"
)
LABEL_RULE = (
    "first match: stabilizing (nothing moves, |z| <= 3); separating (capacity rises, dimension "
    "falls); clustering (radius falls, dimension does not fall); structuring (an alignment moves); "
    "changing (anything else)"
)


def log_time(step: Any) -> np.ndarray:
    """Log training time ``log10(1 + step)`` (step 0 at 0), shape of ``step``.

    Examples
    --------
    >>> log_time([0, 9, 99]).tolist()
    [0.0, 1.0, 2.0]
    """
    s = np.asarray(step, dtype=float)
    if np.any(~np.isfinite(s)) or np.any(s < 0):
        raise ValueError("the stage coord 'step' must hold finite training steps >= 0.")
    return np.log10(1.0 + s)


class _CostSegmentLine(BaseCost):
    """Residual sum of squares of one straight line in ``t`` per column, summed (O(1) per segment)."""

    model = "segment_line"

    def __init__(self, t: np.ndarray, min_size: int = MIN_SIZE):
        self.t = np.asarray(t, dtype=float)
        self.min_size = min_size

    def fit(self, signal: np.ndarray) -> _CostSegmentLine:
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


def _ordered(trajectory: xr.Dataset, time_window: Hashable | None) -> xr.Dataset:
    if not isinstance(trajectory, xr.Dataset):
        raise TypeError(
            f"learning_stages needs a trajectory xarray.Dataset; got {type(trajectory)}."
        )
    if "stage" not in trajectory.dims:
        raise ValueError(
            f"the trajectory needs a 'stage' dim; got dims {tuple(trajectory.dims)}. "
            "Try ds.rename(session='stage')."
        )
    if "time_window" in trajectory.dims:
        if time_window is None:
            raise ValueError(
                "the trajectory has a 'time_window' dim; choose one with time_window=<value>."
            )
        trajectory = trajectory.sel(time_window=time_window)
    n = trajectory.sizes["stage"]
    if n < 3:
        raise ValueError(
            f"learning stages need a trajectory of at least 3 stages; got {n}. "
            "Add checkpoints or sessions."
        )
    if "step" in trajectory.coords:
        step = np.asarray(trajectory["step"].values, dtype=float)
        if len(np.unique(step)) != n:
            raise ValueError(
                "the stage coord 'step' holds repeated values; each stage needs its own."
            )
        trajectory = trajectory.isel(stage=np.argsort(step, kind="stable"))
    return trajectory


def _noise(trajectory: xr.Dataset, name: str) -> np.ndarray:
    parts = [
        trajectory[f"{name}{s}"] for s in ("_sem", "_resample_se") if f"{name}{s}" in trajectory
    ]
    if not parts:
        return np.full(trajectory.sizes["stage"], np.nan)
    var = sum(np.nan_to_num(np.asarray(p.values, dtype=float) ** 2) for p in parts)
    return np.sqrt(var)


def normalise_measures(
    trajectory: xr.Dataset,
    measures: Sequence[str] = GLUE_MEASURES,
    *,
    time_window: Hashable | None = None,
) -> xr.Dataset:
    """Min-max normalise measures along log training time, with their noise in the same units.

    Parameters
    ----------
    trajectory : xarray.Dataset
        A trajectory (dims ``stage`` and optionally ``time_window``; layout in
        :mod:`neurogeom.learning.stats`).
    measures : sequence of str, default=GLUE_MEASURES
        The measure variables to normalise.
    time_window : hashable, optional
        The ``time_window`` value to use when the trajectory has that dim.

    Returns
    -------
    xarray.Dataset
        ``normalised`` (stage, measure) in [0, 1] (0 = the measure's minimum over stages),
        ``noise_sd`` (stage, measure): ``sqrt(sem**2 + resample_se**2)`` in the same units,
        ``minimum`` and ``range`` (measure) in the measure's own units; coords ``step`` and
        ``log_step`` (``log10(1 + step)``) on ``stage``, sorted by step.
    """
    traj = _ordered(trajectory, time_window)
    missing = [m for m in measures if m not in traj]
    if missing:
        raise ValueError(
            f"the trajectory lacks the measures {missing}; it holds {sorted(traj.data_vars)}. "
            "Pass measures= with the ones it has."
        )
    values = np.stack([np.asarray(traj[m].values, dtype=float) for m in measures], axis=1)
    noise = np.stack([_noise(traj, m) for m in measures], axis=1)
    lo = np.nanmin(values, axis=0) if np.isfinite(values).any() else np.zeros(len(measures))
    span = np.nanmax(values, axis=0) - lo if np.isfinite(values).any() else np.ones(len(measures))
    span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
    step = (
        np.asarray(traj["step"].values, dtype=float)
        if "step" in traj.coords
        else np.arange(traj.sizes["stage"], dtype=float)
    )
    return xr.Dataset(
        {
            "normalised": (("stage", "measure"), (values - lo) / span),
            "noise_sd": (("stage", "measure"), noise / span),
            "minimum": ("measure", lo),
            "range": ("measure", span),
        },
        coords={
            "stage": traj["stage"].values,
            "measure": list(measures),
            "step": ("stage", step),
            "log_step": ("stage", log_time(step)),
        },
        attrs={
            "time_axis": "log10(1 + step)" if "step" in traj.coords else "log10(1 + stage index)"
        },
    )


def _segment(signal: np.ndarray, t: np.ndarray, penalty: float) -> list[int]:
    """Boundaries (index of the first checkpoint of each new segment) found by Pelt."""
    algo = rpt.Pelt(custom_cost=_CostSegmentLine(t), min_size=MIN_SIZE, jump=1).fit(signal)
    return [int(b) for b in algo.predict(pen=penalty)[:-1]]


def _line_change(y: np.ndarray, t: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted change first -> last checkpoint of each column of ``y`` and its z score."""
    tc = t - t.mean()
    sxx = float(tc @ tc)
    if sxx <= 0:
        return np.zeros(y.shape[1]), np.zeros(y.shape[1])
    slope = tc @ (y - y.mean(0)) / sxx
    width = t[-1] - t[0]
    change = slope * width
    se = sd * width / np.sqrt(sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, change / se, 0.0)
    return change, z


def _label(moves: dict[str, int]) -> str:
    """The stage name of one segment from which measures move (+1 rise, -1 fall, 0 not)."""
    if not any(moves.values()):
        return "stabilizing"
    if moves.get("capacity", 0) > 0 and moves.get("dimension", 0) < 0:
        return "separating"
    if moves.get("radius", 0) < 0 and moves.get("dimension", 0) >= 0:
        return "clustering"
    if any(moves.get(a, 0) for a in ALIGNMENTS):
        return "structuring"
    return "changing"


def _usable(norm: xr.Dataset) -> list[str]:
    usable = []
    for m in norm["measure"].values.tolist():
        values, sd = (
            norm["normalised"].sel(measure=m).values,
            norm["noise_sd"].sel(measure=m).values,
        )
        if np.isfinite(values).all() and np.isfinite(sd).all() and np.any(sd > 0):
            usable.append(m)
    return usable


def _whitened(norm: xr.Dataset, measures: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Normalised values (stage, measure) divided by each measure's rms noise; and that noise."""
    values = norm["normalised"].sel(measure=measures).values
    sd = norm["noise_sd"].sel(measure=measures).values
    sigma = np.sqrt(np.mean(sd**2, axis=0))
    return values / sigma, sigma


def _segments(
    norm: xr.Dataset, measures: list[str], boundaries: list[int], z_threshold: float
) -> xr.Dataset:
    """Per-segment start/stop, label and per-measure change (normalised units) with z scores."""
    t = norm["log_step"].values
    values = norm["normalised"].values
    sd = norm["noise_sd"].values
    all_measures = norm["measure"].values.tolist()
    edges = [0, *boundaries, len(t)]
    change = np.zeros((len(edges) - 1, len(all_measures)))
    z = np.zeros_like(change)
    labels = []
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        rms = np.sqrt(np.mean(sd[a:b] ** 2, axis=0))
        change[k], z[k] = _line_change(values[a:b], t[a:b], rms)
        keep = np.isin(all_measures, measures)
        z[k] = np.where(keep, z[k], 0.0)
        moves = np.where(np.abs(z[k]) > z_threshold, np.sign(z[k]), 0).astype(int)
        labels.append(_label(dict(zip(all_measures, moves.tolist()))))
    step = norm["step"].values
    moves_all = np.where(np.abs(z) > z_threshold, np.sign(z), 0).astype(np.int64)
    return xr.Dataset(
        {
            "start_stage": ("segment", np.array(edges[:-1], dtype=np.int64)),
            "stop_stage": ("segment", np.array(edges[1:], dtype=np.int64)),
            "start_step": ("segment", step[edges[:-1]]),
            "stop_step": ("segment", step[np.array(edges[1:]) - 1]),
            "label": ("segment", np.array(labels, dtype=object).astype(str)),
            "change": (("segment", "measure"), change),
            "change_z": (("segment", "measure"), z),
            "moves": (("segment", "measure"), moves_all),
        },
        coords={"segment": np.arange(len(labels)), "measure": all_measures},
    )


def _boundary_spread(
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


def _replicate_boundaries(
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
        rep = _ordered(replicates.isel(replicate=r), time_window)
        if rep.sizes["stage"] != len(t):
            raise ValueError(
                f"replicate {r} has {rep.sizes['stage']} stages; the trajectory has {len(t)}."
            )
        values = np.stack([np.asarray(rep[m].values, dtype=float) for m in measures], axis=1)
        signal = (values - lo) / span / sigma
        if np.isfinite(signal).all():
            found.append(_segment(signal, t, penalty))
    return found


def _select_measures(norm: xr.Dataset) -> list[str]:
    measures = _usable(norm)
    left_out = [m for m in norm["measure"].values.tolist() if m not in measures]
    if not measures:
        raise ValueError(
            "no measure has finite values and error bars at every stage; learning_stages sizes "
            "its penalty from *_sem / *_resample_se, so give the trajectory its error terms."
        )
    if left_out:
        warnings.warn(
            f"learning_stages leaves out {left_out}: NaN values (e.g. capacity at the floor) or no "
            "error bars. Balance or subsample the points, or pass measures= without them.",
            RuntimeWarning,
            stacklevel=3,
        )
    return measures


def learning_stages(
    trajectory: xr.Dataset,
    measures: Sequence[str] = GLUE_MEASURES,
    *,
    replicates: xr.Dataset | None = None,
    penalty: float | None = None,
    penalty_c: float = PENALTY_C,
    z_threshold: float = Z_MOVE,
    time_window: Hashable | None = None,
    confidence: float = 0.95,
) -> xr.Dataset:
    """Learning stages of a trajectory: change points, their uncertainty, and a name per segment.

    The method, the penalty rule and the label rule are in the module docstring
    (:mod:`neurogeom.learning.stages`).

    Parameters
    ----------
    trajectory : xarray.Dataset
        Measures along ``stage`` with their ``*_sem`` / ``*_resample_se`` (layout in
        :mod:`neurogeom.learning.stats`); a ``step`` coord on ``stage`` gives the training time.
        At least 3 stages.
    measures : sequence of str, default=GLUE_MEASURES
        Measures to segment on; one with a NaN at some stage is left out with a RuntimeWarning.
    replicates : xarray.Dataset, optional
        Bootstrap replicate trajectories (dims ``replicate``, ``stage``; same measures) for the
        uncertainty of each boundary.
    penalty : float, optional
        Penalty per segment in the whitened units; overrides the rule.
    penalty_c : float, default=2.0
        The multiplier ``c`` of the rule ``c * sigma**2 * n_measures * log(n_stages)``.
    z_threshold : float, default=3.0
        A measure moves in a segment when its change exceeds this many standard errors.
    time_window : hashable, optional
        The ``time_window`` to use when the trajectory has that dim.
    confidence : float, default=0.95
        Coverage of each boundary's percentile interval over replicates.

    Returns
    -------
    xarray.Dataset
        On ``segment``: ``start_stage``, ``stop_stage`` (positions; stop exclusive),
        ``start_step``, ``stop_step`` (the first and last checkpoint's step), ``label``,
        ``change`` / ``change_z`` / ``moves`` (segment, measure): the fitted change in normalised
        units, its z score, and -1/0/+1. On ``boundary``: ``boundary_stage`` (position of the first
        checkpoint of the new segment), ``boundary_step``, ``boundary_sd``, ``boundary_low``,
        ``boundary_high`` (checkpoints, over replicates; NaN without them), ``boundary_support``.
        On ``stage``: ``normalised`` and ``noise_sd`` (stage, measure), ``segment_of_stage``.
        On ``penalty_scale`` (0.5, 1, 2): ``n_boundaries_at`` and ``boundaries_at``
        (penalty_scale, slot; NaN-padded positions). attrs: ``penalty``, ``penalty_rule``,
        ``penalty_c``, ``label_rule``, ``z_threshold``, ``min_size``, ``measures_used``,
        ``measures_left_out``, ``noise_sd`` (per measure used), ``time_axis``, ``n_replicates``.

    Raises
    ------
    ValueError
        Fewer than 3 stages, a missing measure, no error bars, a bad ``replicates``.

    Examples
    --------
    >>> step = np.arange(12)
    >>> t = np.log10(1 + step)
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", np.minimum(t, t[6])), "capacity_sem": ("stage", np.full(12, 0.01))},
    ...     coords={"stage": step, "step": ("stage", step)},
    ... )
    >>> res = learning_stages(traj, measures=["capacity"])
    >>> res["boundary_step"].values.tolist(), res["label"].values.tolist()
    ([7.0], ['changing', 'stabilizing'])
    """
    norm = normalise_measures(trajectory, measures, time_window=time_window)
    used = _select_measures(norm)
    signal, sigma = _whitened(norm, used)
    n = signal.shape[0]
    rule = PENALTY_RULE if penalty is None else "given"
    if penalty is None:
        penalty = float(penalty_c) * 1.0 * len(used) * np.log(n)
    if not penalty > 0:
        raise ValueError(f"penalty must be > 0; got {penalty}.")
    t = norm["log_step"].values
    boundaries = _segment(signal, t, penalty)
    at_scale = [_segment(signal, t, s * penalty) for s in PENALTY_SCALES]
    reps = _replicate_boundaries(replicates, norm, used, sigma, penalty, time_window)
    spread = _boundary_spread(boundaries, reps, n, confidence)
    out = _segments(norm, used, boundaries, z_threshold)
    slots = max([1, *(len(b) for b in at_scale)])
    padded = np.full((len(PENALTY_SCALES), slots), np.nan)
    for i, b in enumerate(at_scale):
        padded[i, : len(b)] = b
    seg_of_stage = np.searchsorted(np.asarray(boundaries), np.arange(n), side="right")
    b_idx = np.asarray(boundaries, dtype=np.int64)
    out = out.assign(
        normalised=norm["normalised"],
        noise_sd=norm["noise_sd"],
        segment_of_stage=("stage", seg_of_stage.astype(np.int64)),
        boundary_stage=("boundary", b_idx),
        boundary_step=("boundary", norm["step"].values[b_idx]),
        boundary_sd=("boundary", spread["sd"]),
        boundary_low=("boundary", spread["low"]),
        boundary_high=("boundary", spread["high"]),
        boundary_support=("boundary", spread["support"]),
        n_boundaries_at=("penalty_scale", np.array([len(b) for b in at_scale], dtype=np.int64)),
        boundaries_at=(("penalty_scale", "slot"), padded),
    )
    out = out.assign_coords(
        boundary=np.arange(len(boundaries)),
        penalty_scale=list(PENALTY_SCALES),
        step=("stage", norm["step"].values),
        log_step=("stage", t),
    )
    out.attrs = provenance(
        "learning_stages",
        penalty=float(penalty),
        penalty_rule=rule,
        penalty_c=float(penalty_c),
        label_rule=LABEL_RULE,
        z_threshold=float(z_threshold),
        min_size=MIN_SIZE,
        model="piecewise linear in log10(1 + step), Pelt (ruptures)",
        measures_used=used,
        measures_left_out=[m for m in measures if m not in used],
        noise_sd=[float(s) for s in sigma],
        time_axis=norm.attrs["time_axis"],
        n_replicates=len(reps),
        confidence=float(confidence),
    )
    return out
