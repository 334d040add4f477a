"""Analysis along learning: takes population tensors, returns Datasets.

:func:`measure_geometry` computes registered measures at every stage, split value and time window
of a population tensor; :func:`trajectory` gives a measure along stage with its errors and null,
and :func:`stage_difference` tests the change between two stages (:func:`difference_test` and
:func:`paired_difference` are the array-level tests). :func:`learning_stages` finds learning
stages, :func:`strategy_path` places trajectories in the (radius, dimension) plane,
:func:`window_mean`, :func:`zscore`, :func:`balance` and :func:`resample_pseudopopulation` prepare
a tensor, :func:`stack_sessions` stacks sessions of one set of units as stages, and
:func:`compare_trajectories` / :func:`compare_representations` compare brain and model.

This room reads no files, trains nothing and draws nothing: the workflows that do
(:mod:`neurogeom.workflows`) compose it with the loaders, the models and the figures. Names are
imported on first use, so ``import neurogeom`` stays light.
"""

from __future__ import annotations

from typing import Any

from neurogeom._deprecation import renamed_function
from neurogeom._lazy import lazy_exports
from neurogeom.learning.measure import measure_geometry

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "measure_geometry": "measure",
    "percentile_ci": "stats",
    "permutation_p_value": "stats",
    "difference_test": "stats",
    "paired_difference": "stats",
    "stage_difference": "trajectories",
    "trajectory": "trajectories",
    "learning_stages": "stages",
    "normalise_measures": "stages",
    "log_time": "stages",
    "strategy_path": "strategies",
    "compare_strategies": "strategies",
    "window_mean": "prepare",
    "zscore": "prepare",
    "balance": "prepare",
    "resample_pseudopopulation": "prepare",
    "stack_sessions": "sessions",
    "match_conditions": "compare",
    "learning_axis": "compare",
    "compare_trajectories": "compare",
    "compare_representations": "compare",
    "compare_strategy_paths": "compare",
    "hierarchical_bootstrap": "hierarchical",
    "capacity_vs_m": "sampling",
    "study_geometry": "study",
    "study_trajectory": "study",
    "study_stage_difference": "study",
    "study_stages": "study",
    "compare_cohorts": "cohorts",
    "cohort_similarity": "cohorts",
}

__all__ = sorted(_EXPORTS)

_getattr, __dir__ = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str) -> Any:
    if name == "geometry":  # renamed measure_geometry in 0.2.0
        return renamed_function(measure_geometry, "geometry")
    return _getattr(name)
