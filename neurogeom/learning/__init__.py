"""The learning layer: composes the population contract and the geometry engine.

:func:`geometry` computes registered measures at every stage, split value and time window of a
population tensor; :func:`~neurogeom.learning.trajectories.trajectory` gives a measure along stage
with its errors and null, and :func:`~neurogeom.learning.trajectories.stage_difference` tests the
change between two stages of a tensor (:mod:`~neurogeom.learning.stats` holds the array-level
tests: :func:`difference_test`, :func:`paired_difference`). :mod:`~neurogeom.learning.stages`
finds learning stages, :mod:`~neurogeom.learning.strategies` places trajectories in the
(radius, dimension) plane, :mod:`~neurogeom.learning.prepare` prepares a tensor (window means,
z-scoring, balancing, pseudo-populations) and :mod:`~neurogeom.learning.compare` compares brain
and model. :func:`~neurogeom.learning.runs.run_geometry` computes the geometry of a trained run's
checkpoints, :mod:`~neurogeom.learning.live` the same while it trains, and
:func:`~neurogeom.learning.rank_sweep.rank_sweep` the seed paper's sweep over the rank of the
initial weights. Names are imported on first use, so ``import neurogeom`` stays light.
"""

from __future__ import annotations

from neurogeom._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "geometry": "broadcast",
    "percentile_ci": "stats",
    "permutation_p_value": "stats",
    "difference_test": "stats",
    "paired_difference": "stats",
    "stage_difference": "trajectories",
    "learning_stages": "stages",
    "normalise_measures": "stages",
    "capacity_contour": "strategies",
    "strategy_path": "strategies",
    "compare_strategies": "strategies",
    "window_mean": "prepare",
    "zscore": "prepare",
    "balance": "prepare",
    "resample_pseudopopulation": "prepare",
    "trajectory": "trajectories",
    "match_conditions": "compare",
    "learning_axis": "compare",
    "compare_trajectories": "compare",
    "compare_representations": "compare",
    "compare_strategy_paths": "compare",
    "run_geometry": "runs",
    "psychometric": "runs",
    "live_observer": "live",
    "read_live_geometry": "live",
    "rank_sweep": "rank_sweep",
    "load_run_spec": "spec",
    "run_pipeline": "pipeline",
    "stack_sessions": "pipeline",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
