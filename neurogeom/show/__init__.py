"""Figures and the self-contained HTML report; reads result Datasets only.

Names are imported on first use (matplotlib and seaborn load only when a figure is drawn).
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
    "Report": "report",
    "reading": "_readings",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
