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

   Adjacent segments do not share a name silently. A segment whose own fit would give it its
   predecessor's name is named by the *jump into it* (``label_source="jump"``): the step of the
   two fitted lines halfway between the boundary's checkpoints, with its z score from the two
   fits' prediction errors, read by the same rule. Every boundary carries ``boundary_reason``:
   the measure whose level (jump) or slope changes most across it, in standard errors, or, when
   no single measure passes ``|z| > 3``, the measures' joint gain (cost of one line minus that
   of two, ``boundary_gain``) against the penalty; two neighbours that still share a name are
   read through it.

   The signatures are this package's reading of the stage names (the seed paper's text suggests
   "radius falls first" for clustering and "capacity rises while dimension falls" for separating);
   they are a convention, stated so it can be argued with, not a finding of the paper. A measure
   left out (``measures=`` or NaN, e.g. at the capacity floor) never moves.
5. **Uncertainty.** Given bootstrap replicate trajectories (``replicates=``, the same layout with
   a ``replicate`` dim), each is segmented with the same normalisation and penalty; each boundary's
   nearest replicate boundary (within the stretch between its neighbouring boundaries) gives its
   spread (standard deviation and percentile interval, in checkpoints) and its support (fraction of
   replicates with a boundary within one checkpoint).

Step 1 lives in ``neurogeom.learning._stage_measures``, steps 2 and 5 in
``neurogeom.learning._segmentation``, step 4 in ``neurogeom.learning._stage_labels``; this
module composes them.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np
import xarray as xr

from neurogeom._params import check_names
from neurogeom._provenance import provenance
from neurogeom.learning._segmentation import (
    MIN_SIZE,
    boundary_spread,
    replicate_boundaries,
    segment,
    split_gains,
)
from neurogeom.learning._stage_labels import LABEL_RULE, Z_MOVE, boundary_reasons, label_segments
from neurogeom.learning._stage_measures import (
    GLUE_MEASURES,
    log_time,
    normalise_measures,
    select_measures,
    whitened,
)

__all__ = ["GLUE_MEASURES", "PENALTY_C", "learning_stages", "normalise_measures", "log_time"]

PENALTY_C = 2.0
PENALTY_SCALES = (0.5, 1.0, 2.0)
PENALTY_RULE = (
    "penalty = c * sigma^2 * n_measures * log(n_stages); each min-max normalised measure divided by "
    "its noise level (rms over stages of sqrt(sem^2 + resample_se^2)), so sigma^2 = 1; c = 2 "
    "(BIC: a level and a rate per measure per segment)"
)


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
        ``label_source`` (``"within"``: its own fit; ``"jump"``: the jump into it),
        ``change`` / ``change_z`` / ``moves`` (segment, measure): the fitted change in normalised
        units, its z score, and -1/0/+1. On (boundary, measure): ``jump`` / ``jump_z`` and
        ``rate_change`` / ``rate_change_z`` (normalised units; per log10 step). On ``boundary``: ``boundary_stage`` (position of the first
        checkpoint of the new segment), ``boundary_step``, ``boundary_sd``, ``boundary_low``,
        ``boundary_high`` (checkpoints, over replicates; NaN without them), ``boundary_support``,
        ``boundary_gain`` (whitened cost units, to compare with ``penalty``), ``boundary_reason``.
        On ``stage``: ``normalised`` and ``noise_sd`` (stage, measure), ``segment_of_stage``.
        On ``penalty_scale`` (0.5, 1, 2): ``n_boundaries_at`` and ``boundaries_at``
        (penalty_scale, slot; NaN-padded positions). attrs: ``penalty``, ``penalty_rule``,
        ``penalty_c``, ``label_rule``, ``z_threshold``, ``min_size``, ``measures_used``,
        ``measures_left_out``, ``noise_sd`` (per measure used), ``time_axis``, ``n_replicates``.

    Raises
    ------
    ValueError
        Fewer than 3 stages, a missing measure, no error bars, a bad ``replicates``.

    See Also
    --------
    normalise_measures : the normalised measures it segments.
    neurogeom.learning.trajectory : the measures along training.

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
    measures = check_names("measures", measures)  # one name, not its letters
    norm = normalise_measures(trajectory, measures, time_window=time_window)
    used = select_measures(norm)
    signal, sigma = whitened(norm, used)
    n = signal.shape[0]
    rule = PENALTY_RULE if penalty is None else "given"
    if penalty is None:
        penalty = float(penalty_c) * 1.0 * len(used) * np.log(n)
    if not penalty > 0:
        raise ValueError(f"penalty must be > 0; got {penalty}.")
    t = norm["log_step"].values
    boundaries = segment(signal, t, penalty)
    at_scale = [segment(signal, t, s * penalty) for s in PENALTY_SCALES]
    reps = replicate_boundaries(replicates, norm, used, sigma, penalty, time_window)
    spread = boundary_spread(boundaries, reps, n, confidence)
    out = label_segments(norm, used, boundaries, z_threshold)
    gains = split_gains(signal, t, boundaries)
    reasons = boundary_reasons(
        [str(m) for m in out["measure"].values],
        out["jump_z"].values,
        out["rate_change_z"].values,
        gains,
        float(penalty),
        float(z_threshold),
    )
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
        boundary_gain=("boundary", np.asarray(gains, dtype=float)),
        boundary_reason=("boundary", np.array(reasons, dtype=object).astype(str)),
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
