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
from neurogeom.show.report import Report, significant

__all__ = ["cohort_section", "study_section", "study_test_table"]

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


def _pct(v: float) -> str:
    return f"{100 * v:.0f}%"


def _cohort_words(cohorts: xr.Dataset) -> tuple[str, str]:
    """Who is compared (``"4 animals vs 3 networks (configuration 'context_dm')"``) and the
    verdict on trajectories and the closest configuration, in words, from a ``cohorts`` result."""
    n_a, n_n = int(cohorts.attrs["n_animals"]), int(cohorts.attrs["n_networks"])
    configs = [str(c) for c in cohorts["configuration"].values]
    who = (
        f"{n_a} animals vs {n_n} networks (configuration"
        f"{'s' if len(configs) > 1 else ''} {', '.join(repr(c) for c in configs)})"
    )
    parts, outside = [], []
    for config in configs:
        for o in (str(o) for o in cohorts["output"].values):
            cell = cohorts.sel(configuration=config, output=o)
            pct, p = float(cell["percentile"]), float(cell["p_value"])
            outside.append(p < 0.05)
            where = (
                "every animal lies farther from the networks' mean curve than any network"
                if pct == 0
                else f"on average {_pct(pct)} of the networks lie at least as far out as an animal"
            )
            parts.append(
                f"{o}: {where} (percentile {significant(pct)}; permutation p = {significant(p)}, "
                + (
                    "the animals lie farther out than the networks)"
                    if p < 0.05
                    else "no evidence at 0.05 that the animals lie farther out)"
                )
            )
    if all(outside):
        short = "the animals' trajectories lie outside the networks' distribution on every measure"
    elif not any(outside):
        short = "no evidence that the animals' trajectories lie outside the networks' distribution"
    else:
        short = "the animals' trajectories lie outside the networks' distribution on some measures"
    closest = str(cohorts["closest"].values)
    c = cohorts.sel(configuration=closest)
    text = (
        f"In short: {short}. Trajectories on the common fraction-of-learning grid, each cohort at M = "
        f"{cohorts.attrs.get('points_per_manifold', '?')} points per manifold: "
        + "; ".join(parts)
        + f" (a test at the level of subjects: {n_a} animals and {n_n} networks, "
        f"n_perm = {cohorts.attrs.get('n_perm')})"
        + f". Closest configuration: {closest!r}, distance {significant(float(c['distance']))} "
        f"[{significant(float(c['distance_ci_low']))}, "
        f"{significant(float(c['distance_ci_high']))}] (bootstrap over the {n_a} animals; "
        f"closest in {_pct(float(c['closest_support']))} of the replicates"
        + ("; the only configuration, so this ranks nothing)." if len(configs) == 1 else ").")
    )
    return who, text


def _similarity_words(sim: xr.Dataset) -> str:
    """The representation similarity at the last matched stage against its subject-level null."""
    last = sim.isel(stage=-1)
    parts = []
    for m in sim.attrs.get("measures", ["cka", "rsa"]):
        v, lo, hi = (float(last[k]) for k in (m, f"{m}_null_low", f"{m}_null_high"))
        p = float(last[f"{m}_p_value"])
        where = "above" if v > hi else "inside" if v >= lo else "below"
        parts.append(
            f"{m.upper()} {significant(v)}, {where} its null [{significant(lo)}, "
            f"{significant(hi)}] (p = {significant(p)})"
        )
    return (
        f"Representations at the last matched stage (mean over the {sim.attrs['n_animals']} "
        f"animals, each against the {sim.attrs['n_networks']} networks): "
        + "; ".join(parts)
        + "; the null shuffles each animal's condition labels (n_perm = "
        f"{sim.attrs['n_perm']})."
    )


def _cohort_m_n(cohorts: xr.Dataset) -> str:
    m_a = ", ".join(
        f"{s}: {int(v)}"
        for s, v in zip(cohorts["subject"].values, cohorts["n_points_animal"].values)
    )
    n_a = cohorts["n_units_animal"].values
    n_a = n_a[np.isfinite(n_a)].astype(int)
    m_n = sorted({int(v) for v in cohorts["n_points_network"].values})
    n_n = cohorts["n_units_network"].values
    n_n = sorted({int(v) for v in n_n[np.isfinite(n_n)]})
    return (
        f"M (points per manifold): animals {m_a}; networks {', '.join(map(str, m_n))}. "
        f"N (units): animals {n_a.min()} to {n_a.max()} per session; networks "
        f"{', '.join(map(str, n_n))}"
    )


def cohort_section(
    report: Report,
    cohorts: xr.Dataset,
    similarity: xr.Dataset | None = None,
    *,
    name: str,
    figures: str | Path,
) -> Report:
    """Add the section of a study (the animals) against networks: each animal's trajectory over
    the networks' band, where it falls among them, the closest configuration, and the
    representation similarity per matched stage.

    Parameters
    ----------
    report : Report
        The report the section is added to (as the last section).
    cohorts : xarray.Dataset
        :func:`neurogeom.learning.compare_cohorts`'s result with the trajectories it compared
        (``<output>_animal``, ``<output>_network``, ``n_points_*``, ``n_units_*``), as
        ``neurogeom run`` saves it (``results/cohorts.nc``).
    similarity : xarray.Dataset, optional
        :func:`neurogeom.learning.cohort_similarity`'s result.
    name : str
        The study's name (``[studies.<name>]``).
    figures : path
        Existing folder the figure is written to (``cohorts.png`` and ``.svg``).

    Returns
    -------
    Report
        ``report``, with the section added.

    See Also
    --------
    study_section : the study's own section.
    neurogeom.learning.compare_cohorts : the comparison it draws.

    Examples
    --------
    Three animals against four networks of one configuration, with the trajectories compared,
    their M and their N beside the comparison (as ``neurogeom run`` saves it):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from neurogeom.learning import compare_cohorts
    >>> from neurogeom.show import Report
    >>> g = np.linspace(0, 1, 5)
    >>> def cohort(shift, n):
    ...     v = g[None, :] ** shift + 0.01 * np.arange(n)[:, None]
    ...     return xr.Dataset({"capacity": (("subject", "stage"), v)})
    >>> animals = cohort(3, 3)
    >>> nets = cohort(1, 4).assign_coords(configuration=("subject", ["cdm"] * 4))
    >>> cohorts = compare_cohorts(animals, nets, ["capacity"], n_boot=20, n_perm=20).assign(
    ...     capacity_animal=animals["capacity"],
    ...     capacity_network=nets["capacity"].rename(subject="network").drop_vars("configuration"),
    ...     n_points_animal=("subject", [12, 12, 12]), n_units_animal=("subject", [40, 55, 61]),
    ...     n_points_network=("network", [12] * 4), n_units_network=("network", [300] * 4),
    ... ).assign_coords(fraction=("stage", g), network_configuration=("network", ["cdm"] * 4))
    >>> cohorts.attrs.update(n_animals=3, n_networks=4, points_per_manifold=12)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = cohort_section(Report("Cohorts"), cohorts, name="mice", figures=folder)
    ...     files = sorted(p.name for p in Path(folder).iterdir())
    >>> files, report.n_figures
    (['cohorts.png', 'cohorts.svg'], 1)
    """
    outputs = [str(o) for o in cohorts["output"].values]
    x = cohorts["fraction"].values
    configs = [str(c) for c in cohorts["configuration"].values]
    # the legend (a band and a mean per configuration, a line per animal) sits below the panels,
    # 4 entries a row: the figure grows with its rows so the panels keep their height
    legend_rows = -(-(2 * len(configs) + cohorts.sizes["subject"]) // 4)
    fig, axes = new_figure(len(outputs), height=2.8 + 0.25 * legend_rows)
    for ax, o in zip(axes, outputs):
        for c, config in enumerate(configs):
            nets = cohorts[f"{o}_network"].where(
                cohorts["network_configuration"] == config, drop=True
            )
            n_n = nets.sizes["network"]
            ax.fill_between(
                x,
                nets.min("network").values,
                nets.max("network").values,
                color=f"C{7 + c}",
                alpha=0.3,
                lw=0,
                label=f"{config}: range of {n_n} networks",
            )
            ax.plot(
                x,
                nets.mean("network").values,
                color=f"C{7 + c}",
                lw=2,
                ls="--",
                label=f"{config}: mean of {n_n} networks",
            )
        for i, s in enumerate(cohorts["subject"].values):
            ax.plot(
                x,
                cohorts[f"{o}_animal"].sel(subject=s).values,
                color=f"C{i}",
                lw=1.2,
                marker="o",
                ms=3,
                label=f"animal {s}",
            )
        ax.set_xlabel("fraction of learning (sessions / checkpoints)")
        ax.set_ylabel(o if o != "capacity" else "capacity (manifolds per unit)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=4, frameon=False, fontsize="small"
    )
    n_a, n_n = int(cohorts.attrs["n_animals"]), int(cohorts.attrs["n_networks"])
    who, verdict = _cohort_words(cohorts)
    report.add_section(f"Study {name!r} vs networks: {who}")
    caption = (
        f"{', '.join(outputs).capitalize()} of each of the {n_a} animals (coloured lines, one per "
        f"animal) and of the {n_n} networks (band: their range; dashed: their mean) at "
        f"{x.size} stages of the fraction of learning (each subject's sessions or checkpoints "
        "interpolated onto fractions 0 to 1 of its own learning). Geometry per session on that "
        f"session's units and trials. {_cohort_m_n(cohorts)}."
    )
    save_figure(fig, Path(figures) / "cohorts")
    report.add_figure(fig, caption, verdict)
    table = cohorts[["percentile", "p_value"]].to_dataframe().reset_index()
    report.add_table(
        table,
        f"Where the animals fall among the networks, per configuration and output: percentile "
        f"(mean over the {n_a} animals of the share of networks at least as far from their "
        "configuration's mean curve, leave one out; 0.5 looks like a network, 0 lies outside) "
        f"and the one-sided permutation p-value of animal/network membership (n_perm = "
        f"{cohorts.attrs.get('n_perm')}).",
    )
    per_animal = cohorts["animal_percentile"].to_dataframe().reset_index()
    report.add_table(
        per_animal.pivot_table(
            index=["configuration", "subject"], columns="output", values="animal_percentile"
        ).reset_index(),
        "Each animal's percentile among the networks, per output (share of networks at least as "
        "far from their mean curve as the animal).",
    )
    report.add_table(
        cohorts[["distance", "distance_ci_low", "distance_ci_high", "closest_support"]]
        .to_dataframe()
        .reset_index(),
        f"Distance of the animals to each configuration's mean curve (RMS over stages, each "
        f"output in units of the networks' spread, outputs pooled), its interval by bootstrap "
        f"over the {n_a} animals (n_boot = {cohorts.attrs.get('n_boot')}), and the share of "
        "replicates in which it is the closest.",
    )
    if similarity is not None:
        measures = list(similarity.attrs.get("measures", ["cka", "rsa"]))
        cols = [f"{m}{s}" for m in measures for s in ("", "_null_low", "_null_high", "_p_value")]
        sim = similarity[cols].to_dataframe().reset_index()
        report.add_table(
            sim,
            f"Representation similarity per matched stage (fraction of learning), mean over the "
            f"{similarity.attrs['n_animals']} animals of each animal's mean over the "
            f"{similarity.attrs['n_networks']} networks, on the condition means of "
            f"{similarity.attrs.get('by')}; null: each animal's condition labels shuffled within "
            f"its session (subject level, n_perm = {similarity.attrs['n_perm']}), its central "
            f"interval and one-sided p-value. {_similarity_words(similarity)}",
        )
    return report
