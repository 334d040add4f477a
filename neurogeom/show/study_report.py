"""The report section of a study (``[studies.<name>]`` of a run spec).

:func:`study_section` draws what :func:`neurogeom.workflows.study_run.study_results` and
:func:`neurogeom.learning.study_stages` return (it reads the Datasets only): each subject's
trajectory with the across-subject mean and its hierarchical interval, the points per manifold
``M`` and the units ``N`` in the caption, the paired first-vs-last test in a table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom.show._readings import reading
from neurogeom.show._style import measure_label, new_figure, save_figure
from neurogeom.show.report import Report

__all__ = ["study_section", "study_test_table"]

_MEASURES = ("capacity", "radius", "dimension")


def study_test_table(ds: xr.Dataset) -> pd.DataFrame:
    """The paired test of a study: one row per subject, then the across-subject difference.

    Parameters
    ----------
    ds : xarray.Dataset
        A result of :func:`neurogeom.learning.study_stage_difference`.

    Returns
    -------
    pandas.DataFrame
        Rows: each subject (``first``, ``second``, ``difference``, ``n_points`` M,
        ``n_units_first``, ``n_units_second`` N), then ``all subjects`` with the mean difference,
        its interval (``ci_low``, ``ci_high``) and the sign-flip ``p_value``.

    See Also
    --------
    study_section : the report section that shows it.
    neurogeom.learning.study_stage_difference : the test it tabulates.

    Examples
    --------
    >>> import neurogeom as ng
    >>> from neurogeom.learning import study_stage_difference
    >>> tree = ng.synthetic_study(n_subjects=3, n_sessions=3, change=2.0, seed=0)
    >>> table = study_test_table(study_stage_difference(tree, by="condition", n_t=20, n_perm=8))
    >>> table["subject"].tolist()
    ['sub-0', 'sub-1', 'sub-2', 'all subjects']
    """
    rows = []
    for i, s in enumerate(ds["subject"].values):
        rows.append(
            {
                "subject": str(s),
                "first": float(ds["value_first"].values[i]),
                "second": float(ds["value_second"].values[i]),
                "difference": float(ds["subject_difference"].values[i]),
                "n_points": int(ds["n_points"].values[i]),
                "n_units_first": int(ds["n_units_first"].values[i]),
                "n_units_second": int(ds["n_units_second"].values[i]),
            }
        )
    rows.append(
        {
            "subject": "all subjects",
            "difference": float(ds["difference"]),
            "ci_low": float(ds["difference_ci_low"]),
            "ci_high": float(ds["difference_ci_high"]),
            "p_value": float(ds["p_value"]),
        }
    )
    return pd.DataFrame(rows)


def _m_n_words(traj: xr.Dataset) -> str:
    m = [int(v) for v in traj["n_points"].values]
    n = traj["n_units"].values
    n = n[np.isfinite(n)].astype(int)
    subjects = [str(s) for s in traj["subject"].values]
    m_words = ", ".join(f"{s}: {v}" for s, v in zip(subjects, m))
    return f"M (points per manifold, per subject) = {m_words}; N (units per session) {n.min()} to {n.max()}"


def study_section(
    report: Report,
    results: Mapping[str, xr.Dataset],
    *,
    name: str,
    figures: str | Path,
) -> Report:
    """Add a study's section to a report: trajectories per subject, the across-subject interval,
    the paired test.

    Parameters
    ----------
    report : Report
        The report the section is added to (as the last section).
    results : mapping of str to xarray.Dataset
        ``"trajectory"`` (:func:`neurogeom.learning.study_trajectory`), optionally
        ``"stage_difference"`` (:func:`neurogeom.learning.study_stage_difference`) and
        ``"stages"`` (:func:`neurogeom.learning.study_stages`).
    name : str
        The study's name (``[studies.<name>]``).
    figures : path
        Existing folder the figure is written to (``study_<name>.png`` and ``.svg``).

    Returns
    -------
    Report
        ``report``, with the section added.

    See Also
    --------
    neurogeom.workflows.study_run.study_results : the results it draws.
    study_test_table : the paired test's table.
    neurogeom.show.Report : the report it adds to.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import neurogeom as ng
    >>> from neurogeom.show import Report
    >>> from neurogeom.workflows.study_run import study_results
    >>> tree = ng.synthetic_study(n_subjects=3, n_sessions=3, change=2.0, seed=0)
    >>> res = study_results(tree, "condition", n_boot=4, n_perm=8, n_t=20)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = study_section(Report("Study"), res, name="demo", figures=folder)
    ...     files = sorted(p.name for p in Path(folder).iterdir())
    >>> files, report.n_figures
    (['study_demo.png', 'study_demo.svg'], 1)
    """
    traj = results["trajectory"]
    measures = [m for m in _MEASURES if m in traj]
    axis = traj.attrs.get("axis", "session")
    x = traj["axis_value"].values
    fig, axes = new_figure(len(measures))
    for ax, m in zip(axes, measures):
        for s in traj["subject"].values:
            ax.plot(x, traj[m].sel(subject=s).values, color="0.65", lw=1, marker=".")
        ax.plot(x, traj[f"{m}_study"].values, color="k", lw=2, label="mean over subjects")
        low, high = traj.get(f"{m}_study_ci_low"), traj.get(f"{m}_study_ci_high")
        if low is not None and np.any(np.isfinite(low.values)):
            ax.fill_between(x, low.values, high.values, color="C0", alpha=0.25, lw=0)
        ax.set_xlabel(f"{axis} (learning order)")
        ax.set_ylabel(measure_label(traj[m]))
    axes[0].legend(frameon=False, fontsize="small")
    report.add_section(f"Study {name!r}: geometry along learning, per subject")
    n_sub = traj.sizes["subject"]
    level = traj.attrs.get("percentile_level", float("nan"))
    caption = (
        f"{', '.join(measures).capitalize()} of each of the {n_sub} subjects (grey) at each "
        f"session, measured on that session's own units and trials; black: the mean over "
        f"subjects; band: hierarchical bootstrap interval (subjects, then trials within "
        f"sessions; n_boot = {traj.attrs.get('n_boot')}, percentile level {level:.3g}). "
        f"{_m_n_words(traj)}."
    )
    save_figure(fig, Path(figures) / f"study_{name}")
    text = None
    test = results.get("stage_difference")
    if test is not None:
        text = reading(test)
    report.add_figure(fig, caption, text)
    if test is not None:
        stages = test.attrs.get("stages", ["0", "-1"])
        report.add_table(
            study_test_table(test),
            f"Paired test of {test.attrs.get('output', 'capacity')} across subjects: session "
            f"{stages[1]} minus session {stages[0]} (positions in each subject's learning "
            f"order), per subject and over subjects (interval by bootstrap over subjects, "
            f"p-value by sign flips). M and N as in the figure.",
        )
    stg = results.get("stages")
    if stg is not None:
        table = stg["subject_boundaries"].to_pandas()
        table.columns = [f"boundary {int(c)}" for c in table.columns]
        consensus = ", ".join(
            f"{float(p):g} (support {float(f):.2f})"
            for p, f in zip(stg["consensus_stage"].values, stg["consensus_support"].values)
        )
        report.add_table(
            table,
            f"Learning-stage boundaries per subject (session positions where a new segment "
            f"starts); boundaries a majority of subjects share: {consensus or 'none'}.",
        )
    return report
