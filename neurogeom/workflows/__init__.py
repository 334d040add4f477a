"""Workflows: what composes the layers into a run.

The spec pipeline behind ``neurogeom run`` and ``neurogeom demo`` (:func:`run_pipeline`), sweeps
over grids of networks stored in zarr (:func:`run_sweep`), the seed paper's rank sweep
(:func:`~neurogeom.workflows.rank_sweep.rank_sweep`), lazy-to-rich training on digits
(:func:`lazy_rich_sweep`), pullback geometry along training (:func:`pullback_sweep`), the coding
phases of Bayesian networks (:func:`~neurogeom.workflows.coding_phases.coding_phases`), the geometry
of a trained run's checkpoints (:func:`run_geometry`) and while it trains (:func:`live_observer`),
and the run folder's outputs and timings.

Workflows read files, train networks, call the analysis (:mod:`neurogeom.learning`) and draw
(:mod:`neurogeom.show`); the analysis layer itself does none of these.

Names are imported on first use. ``rank_sweep`` and ``coding_phases`` share their names with their
modules, so they are imported from those: ``from neurogeom.workflows.rank_sweep import rank_sweep``.
"""

from __future__ import annotations

from neurogeom._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "run_pipeline": "pipeline",
    "load_run_spec": "preflight",
    "load_spec": "preflight",
    "run_sweep": "sweep",
    "sweep_grid": "sweep",
    "SweepGrid": "sweep",
    "open_sweep": "sweep",
    "sweep_status": "sweep",
    "sweep_report": "sweep",
    "run_rank_sweep": "rank_sweep",
    "lazy_rich_sweep": "lazy_rich",
    "pullback_sweep": "pullback",
    "sine_task": "pullback",
    "run_geometry": "runs",
    "psychometric": "runs",
    "LiveGeometry": "live",
    "live_observer": "live",
    "read_live_geometry": "live",
    "read_timings": "outputs",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
