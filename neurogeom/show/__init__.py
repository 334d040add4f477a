"""Figures and the self-contained HTML report; reads result Datasets only.

Names are imported on first use (matplotlib and seaborn load only when a figure is drawn). The
report of each kind of run shares its name with its module, so it is imported from there:
``from neurogeom.show.learning_report import learning_report`` (and ``pullback_report``,
``lazy_rich_report``).
"""

from __future__ import annotations

from neurogeom._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "palette": "_style",
    "save_figure": "_style",
    "measure_label": "_style",
    "plot_trajectory": "figures",
    "plot_stages_heatmap": "figures",
    "plot_strategy_plane": "figures",
    "plot_brain_vs_model": "figures",
    "plot_psychometric": "figures",
    "plot_rank_sweep": "figures",
    "plot_coding_scheme": "figures",
    "plot_coding_phases": "figures",
    "plot_lazy_rich": "figures",
    "plot_volume_element": "figures",
    "plot_pullback_index": "pullback_report",
    "trajectory_table": "learning_report",
    "trajectory_reading": "learning_report",
    "rank_sweep_table": "learning_report",
    "rank_sweep_reading": "learning_report",
    "rank_sweep_report": "learning_report",
    "lazy_rich_table": "lazy_rich_report",
    "lazy_rich_reading": "lazy_rich_report",
    "pullback_table": "pullback_report",
    "pullback_reading": "pullback_report",
    "Report": "report",
    "reading": "_readings",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
