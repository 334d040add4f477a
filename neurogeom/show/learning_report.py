"""The report of ``neurogeom run``: every result of the pipeline as figures, tables and readings.

:func:`learning_report` reads the result Datasets :func:`neurogeom.workflows.pipeline.run_pipeline`
computes (keyed by name: ``trajectory_<source>``, ``stage_test_<recording>``,
``stages_<model>``, ``strategy``, ``compare_trajectories``, ``compare_representations``,
``psychometric_<model>``), draws each figure once, writes it as PNG and SVG, embeds it in a
:class:`~neurogeom.show.report.Report` with a plain-language reading, and puts the numbers beside
it in tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from neurogeom._deprecation import renamed_arguments
from neurogeom.show._readings import _floor_reading, reading
from neurogeom.show._style import save_figure
from neurogeom.show.report import Report, significant

__all__ = [
    "learning_report",
    "rank_sweep_report",
    "rank_sweep_reading",
    "rank_sweep_table",
    "trajectory_reading",
    "trajectory_table",
]

TABLE_MEASURES = ("capacity", "radius", "dimension")
_COLUMNS = ("", "_sem", "_resample_se", "_ci_low", "_ci_high", "_null_mean")
_NAMES = ("value", "mc_sem", "resample_se", "ci_low", "ci_high", "null_mean")


@renamed_arguments(traj="trajectory")
def trajectory_table(
    trajectory: xr.Dataset, measures: Sequence[str] = TABLE_MEASURES
) -> pd.DataFrame:
    """A trajectory's numbers: each (stage, measure) with its two errors, interval and null.

    Parameters
    ----------
    trajectory : xarray.Dataset
        A trajectory (layout in :mod:`neurogeom.learning.stats`).
    measures : sequence of str, default=("capacity", "radius", "dimension")
        The measures shown (those the trajectory lacks are skipped).

    Returns
    -------
    pandas.DataFrame
        One row per (stage, measure): columns ``stage`` (its ``label`` or value), ``measure``,
        ``units`` (the measure's), ``value``, ``mc_sem`` (Monte-Carlo s.e.), ``resample_se``, ``ci_low``, ``ci_high``
        (resampling interval) and ``null_mean`` (label-shuffle null), in the measure's units.

    See Also
    --------
    trajectory_reading : one sentence of it.
    neurogeom.show.plot_trajectory : the same as a figure.

    Examples
    --------

    >>> import xarray as xr
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", [0.10, 0.20, 0.30]),
    ...      "capacity_ci_low": ("stage", [0.08, 0.17, 0.27]),
    ...      "capacity_ci_high": ("stage", [0.12, 0.23, 0.33])},
    ...     coords={"stage": [0, 1, 2], "label": ("stage", ["early", "mid", "late"])},
    ... )
    >>> table = trajectory_table(traj)
    >>> table[["stage", "measure", "value", "ci_low"]].values.tolist()
    [['early', 'capacity', 0.1, 0.08],
     ['mid', 'capacity', 0.2, 0.17],
     ['late', 'capacity', 0.3, 0.27]]
    """
    index = (
        trajectory["label"].values if "label" in trajectory.coords else trajectory["stage"].values
    )
    rows = []
    for i, stage in enumerate(index):
        for v in (m for m in measures if m in trajectory):
            row = {
                "stage": str(stage),
                "measure": v,
                "units": str(trajectory[v].attrs.get("units", "")),
            }
            for col, suffix in zip(_NAMES, _COLUMNS):
                var = trajectory.get(f"{v}{suffix}")
                row[col] = float(var.values[i]) if var is not None else float("nan")
            rows.append(row)
    return pd.DataFrame(rows)


def _floor_stages(traj: xr.Dataset) -> list[str]:
    """Stages whose capacity sits at the floor (finite capacity, NaN radius)."""
    if "capacity" not in traj or "radius" not in traj:
        return []
    cap, rad = np.asarray(traj["capacity"].values, float), np.asarray(traj["radius"].values, float)
    index = traj["label"].values if "label" in traj.coords else traj["stage"].values
    return [str(s) for s, c, r in zip(index, cap, rad) if np.isfinite(c) and not np.isfinite(r)]


def _change_reading(traj: xr.Dataset, conf: float) -> str:
    """Whether each of capacity, radius and dimension moves beyond its resampling interval: the
    stage whose interval lies farthest from the first stage's (else the stage whose value lies
    farthest from the first), with both intervals."""
    parts, flat = [], []
    index = traj["label"].values if "label" in traj.coords else traj["stage"].values
    for m in (v for v in TABLE_MEASURES if f"{v}_ci_low" in traj and f"{v}_ci_high" in traj):
        val = np.asarray(traj[m].values, float)
        lo = np.asarray(traj[f"{m}_ci_low"].values, float)
        hi = np.asarray(traj[f"{m}_ci_high"].values, float)
        if not np.isfinite(val[0]) or not np.isfinite(val[1:]).any():
            continue
        gap = np.fmax(lo[1:] - hi[0], lo[0] - hi[1:])  # > 0: the two intervals do not overlap
        beyond = bool(np.nanmax(gap, initial=-np.inf) > 0)
        k = 1 + int(np.nanargmax(gap) if beyond else np.nanargmax(np.abs(val[1:] - val[0])))
        where = f"{m} {val[0]:.3g} [{lo[0]:.3g}, {hi[0]:.3g}] -> {val[k]:.3g} [{lo[k]:.3g}, {hi[k]:.3g}] at {index[k]}"
        (parts if beyond else flat).append(where)
    text = ""
    if parts:
        text += (
            f" Beyond the {conf:.0%} intervals (at the stage shown, its interval and the first "
            f"stage's do not overlap): {'; '.join(parts)}."
        )
    if flat:
        text += f" Within them (the intervals overlap, so no change is shown): {'; '.join(flat)}."
    return text


@renamed_arguments(traj="trajectory")
def trajectory_reading(trajectory: xr.Dataset, name: str) -> str:
    """A plain-language reading of a trajectory: the change, its errors, the null, the floor.

    Parameters
    ----------
    trajectory : xarray.Dataset
        A trajectory with ``capacity`` and its error columns.
    name : str
        What the trajectory is of (``"the recording 'sample'"``).

    Returns
    -------
    str
        One paragraph; it includes the floor warning when some stage sits at the floor.

    See Also
    --------
    trajectory_table : the table it reads.
    neurogeom.show.reading : the reading of any result.

    Examples
    --------

    >>> import xarray as xr
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", [0.10, 0.20, 0.30]),
    ...      "capacity_ci_low": ("stage", [0.08, 0.17, 0.27]),
    ...      "capacity_ci_high": ("stage", [0.12, 0.23, 0.33])},
    ...     coords={"stage": [0, 1, 2], "label": ("stage", ["early", "mid", "late"])},
    ... )
    >>> text = trajectory_reading(traj, "the recording 'sample'")
    >>> text.split(". ")[0]
    "For the recording 'sample', capacity goes from 0.1 at the first stage to 0.3 at the last"
    """
    cap = np.asarray(trajectory["capacity"].values, float)
    high = np.asarray(
        trajectory.get("capacity_null_high", xr.full_like(trajectory["capacity"], np.nan))
    )
    above = int(np.sum(cap > high)) if np.isfinite(high).any() else None
    conf = float(trajectory.attrs.get("confidence", 0.95))
    text = (
        f"For {name}, capacity goes from {cap[0]:.3g} at the first stage to {cap[-1]:.3g} at the "
        f"last. The shaded band is the {conf:.0%} resampling interval over trials (how much the "
        "number would move with other trials); the error bars are twice the Monte-Carlo error of "
        "the estimator (how precisely it was computed on these trials); the two are not merged."
    )
    text += _change_reading(trajectory, conf)
    if above is not None:
        text += (
            f" Capacity lies above the {conf:.0%} band of the label-shuffle null at {above} of "
            f"{cap.size} stages: there the manifolds are more separable than chance; elsewhere "
            "the number is what unstructured labels would give."
        )
    floor = _floor_stages(trajectory)
    if floor or int(trajectory.attrs.get("at_floor", 0)) == 1:
        where = f" (stages {', '.join(floor)})" if floor else ""
        text += f" Floor{where}: " + _floor_reading(trajectory)
    return text


def _m_n(traj: xr.Dataset) -> str:
    """M (points per manifold) and N (units) of a trajectory, as its caption states them."""
    m = traj.attrs.get("points_per_manifold")
    n = traj.attrs.get("n_units", traj.attrs.get("n_features"))
    m_text = f"M = {int(m)} points per manifold" if m is not None else "M not recorded"
    n_text = f"N = {int(n)} units" if n is not None else "N not recorded"
    return f"{m_text}, {n_text}."


def _add_figure(
    rep: Report, fig: Figure, folder: Path, stem: str, caption: str, text: str | None
) -> None:
    save_figure(fig, folder / stem)
    rep.add_figure(fig, caption, text)


def _trajectory_section(
    rep: Report, results: Mapping[str, xr.Dataset], name: str, kind: str, folder: Path
) -> None:
    from neurogeom.show.figures import plot_trajectory

    traj = results[f"trajectory_{name}"]
    stages = results.get(f"stages_{name}")
    label = "session (learning order)" if kind == "recording" else "training step (log scale)"
    rep.add_section(f"{kind.capitalize()} {name!r}: geometry along learning")
    fig = plot_trajectory(
        {name: traj},
        [m for m in TABLE_MEASURES if m in traj],
        stages=stages,
        step_label=label,
        axis="stage" if kind == "recording" else "step",
    )
    _add_figure(
        rep,
        fig,
        folder,
        f"trajectory_{name}",
        f"Capacity, radius and dimension of "
        f"{name!r} at each stage. Bands: resampling interval; bars: 2 Monte-Carlo s.e.; "
        f"grey: label-shuffle null; background: learning stages (models). {_m_n(traj)}",
        trajectory_reading(traj, f"the {kind} {name!r}"),
    )
    rep.add_table(
        trajectory_table(traj),
        f"Trajectory of {name!r}: value, Monte-Carlo s.e., "
        "resampling s.e. and interval, null mean, per stage.",
    )
    test = results.get(f"stage_test_{name}")
    if test is not None:
        cols = ["difference", "difference_ci_low", "difference_ci_high", "p_value"]
        stages_t = test.attrs.get("stages", ["first", "last"])
        rep.add_table(
            test[cols],
            f"Stage-to-stage test of {test.attrs.get('output', 'capacity')}"
            f": {stages_t[1]} minus {stages_t[0]} (difference and its interval in manifolds "
            "per unit; p: permutation p-value).",
        )
        rep.add_text(reading(test))


def _stages_section(
    rep: Report, stages: xr.Dataset, name: str, folder: Path, m_n: str = ""
) -> None:
    from neurogeom.show.figures import plot_stages_heatmap

    rep.add_section(f"Learning stages of {name!r}")
    _add_figure(
        rep,
        plot_stages_heatmap(stages),
        folder,
        f"stages_{name}",
        "The six GLUE measures per checkpoint, min-max normalised per measure; white "
        f"lines: change points; names: the stated label rule. {m_n}",
        reading(stages),
    )
    cols = [c for c in ("start_step", "stop_step", "label", "label_source") if c in stages]
    table = stages[cols].to_dataframe().reset_index(drop=True)
    if "boundary_reason" in stages:
        table["boundary before it (why it stands)"] = [""] + [
            f"step {s:g}: {r}"
            for s, r in zip(stages["boundary_step"].values, stages["boundary_reason"].values)
        ]
    rep.add_table(
        table,
        f"Segments of {name!r} (steps: training steps; rule: "
        f"{stages.attrs.get('label_rule', '')}).",
    )


def _strategy_section(
    rep: Report, results: Mapping[str, xr.Dataset], names: Sequence[str], folder: Path
) -> None:
    from neurogeom.show.figures import plot_strategy_plane

    cmp = results["strategy"]
    trajs = {n: results[f"trajectory_{n}"] for n in names}
    rep.add_section("Learning strategies: the (radius, dimension) plane")
    heading = float(cmp["heading_difference_deg"])
    text = (
        f"Each route runs from o (first stage) to * (last) over the contours of "
        f"(1 + R^-2) / D, which is capacity divided by the utility (GLUE: capacity = utility x "
        f"(1 + R^-2) / D), so a contour is not a capacity; the measured capacity is printed at "
        f"each route's end. The net directions differ by {heading:.0f} degrees and the routes "
        f"enclose an area of {float(cmp['area_between']):.3g} (log10 units squared; 0 for the "
        "same route). A route can raise capacity by shrinking the radius or by lowering the "
        "dimension; the split of each route's change is in the table. The plane shows the "
        "point estimates only; their error bars are in the trajectory figures."
    )
    _add_figure(
        rep,
        plot_strategy_plane(trajs),
        folder,
        "strategy_plane",
        "Routes through the (radius, dimension) plane over contours of (1 + R^-2) / D; "
        "printed at each end: the measured capacity.",
        text,
    )
    table = cmp[
        ["net_heading_deg", "radius_part", "dimension_part", "path_length", "final_capacity"]
    ].to_dataframe()
    table.index = pd.Index([names[0], names[1]], name="route")
    table = table.rename(columns={"final_capacity": "final (1 + R^-2) / D"})
    table["measured capacity at the end"] = [float(trajs[n]["capacity"].values[-1]) for n in names]
    rep.add_table(
        table,
        "Each route: net heading (degrees), radius and dimension parts of the change of "
        "log10 (1 + R^-2) / D, path length (log10 units), its final (1 + R^-2) / D, and the "
        "measured capacity at the last stage (manifolds per unit).",
    )


def _capacity_row(results: Mapping[str, xr.Dataset], name: str, kind: str) -> dict[str, Any]:
    """One row of the summary: capacity at the first and last stage, the change, its interval and
    p-value (the stage test of a recording or a network, where it was run)."""
    traj = results[f"trajectory_{name}"]
    index = traj["label"].values if "label" in traj.coords else traj["stage"].values
    cap = np.asarray(traj["capacity"].values, float)
    conf = float(traj.attrs.get("confidence", 0.95))
    ci = [
        f"[{significant(float(traj['capacity_ci_low'].values[i]))}, "
        f"{significant(float(traj['capacity_ci_high'].values[i]))}]"
        if "capacity_ci_low" in traj
        else ""
        for i in (0, -1)
    ]
    row: dict[str, Any] = {
        "source": name,
        "kind": kind,
        "behind it": "1 animal" if kind == "recording" else "1 network",
        "stages": f"{index[0]} -> {index[-1]}",
        "capacity first": cap[0],
        f"first {conf:.0%} CI": ci[0],
        "capacity last": cap[-1],
        f"last {conf:.0%} CI": ci[1],
        "change": cap[-1] - cap[0],
        "change CI low": np.nan,
        "change CI high": np.nan,
        "p": np.nan,
        "test": "none for a network: compare the two stage intervals",
        "M": traj.attrs.get("points_per_manifold", np.nan),
    }
    test = results.get(f"stage_test_{name}")
    if test is not None:
        tested = test.attrs.get("stages", ["first", "last"])
        what = f"{tested[1]} minus {tested[0]}, {test.attrs.get('test', 'permutation')}"
        row.update(
            {
                "change CI low": float(test["difference_ci_low"]),
                "change CI high": float(test["difference_ci_high"]),
                "p": float(test["p_value"]),
                "test": what,
            }
        )
        if kind == "recording":
            row["change"] = float(test["difference"])
        else:  # the row's change stays last minus first of its trajectory, as the pooled row's
            row["test"] = (
                f"{what}; interval and p from the test, whose own estimate of the change "
                f"(new draws of GLUE's probes) is {significant(float(test['difference']))}"
            )
    return row


def _verdict_text(results: Mapping[str, xr.Dataset], names: Sequence[str]) -> str:
    """The brain-vs-model verdict: trajectory correlation and the last matched stage's CKA."""
    brain, model = names
    text = f"Brain ({brain!r}, 1 animal) vs model ({model!r}, 1 network): "
    traj_cmp = results.get("compare_trajectories")
    if traj_cmp is not None:
        cap = traj_cmp.sel(output="capacity") if "output" in traj_cmp.dims else traj_cmp
        r, p = float(cap["correlation"]), float(cap["correlation_p_value"])
        text += (
            f"their capacity trajectories correlate at r = {significant(r)} (permutation "
            f"p = {significant(p)}; "
            + (
                "they change alike along learning). "
                if p < 0.05
                else "no evidence that they change alike). "
            )
        )
    reps = results.get("compare_representations")
    if reps is not None and "cka_similarity" in reps:
        last = reps.isel(stage_a=-1)
        v = float(last["cka_similarity"])
        lo, hi = float(last["cka_similarity_null_low"]), float(last["cka_similarity_null_high"])
        p = float(last["cka_similarity_p_value"])
        where = "above" if v > hi else "inside" if v >= lo else "below"
        text += (
            f"At the last matched stage ({last['stage_a'].values} vs step "
            f"{last['stage_b'].values}) the CKA similarity of their representations is "
            f"{significant(v)}, {where} its shuffle null [{significant(lo)}, {significant(hi)}] "
            f"(p = {significant(p)}): "
            + (
                "they arrange the task conditions alike beyond chance."
                if where == "above"
                else "no more alike than with the model's conditions shuffled."
            )
        )
    return text


def _summary(
    rep: Report,
    results: Mapping[str, xr.Dataset],
    recordings: Sequence[str],
    models: Sequence[str],
    compare: tuple[str, str] | None,
    folder: Path,
    studies: Sequence[str] = (),
    cohort: str | None = None,
) -> None:
    rep.add_section("Summary", summary=True)
    cohorts = results.get("cohorts") if cohort is not None else None
    who = ""
    if cohorts is not None:
        from neurogeom.show.study_report import _cohort_words

        who = f" Here: study {cohort!r}, {_cohort_words(cohorts)[0]}."
    rep.add_text(
        "The question: how does the geometry of the task manifolds change with learning, and "
        "does the task-trained network change the same way as the brain? Capacity (GLUE, "
        "manifolds per unit; larger = more separable) from the first to the last stage"
        f" (session of each animal, checkpoint of each network):{who}"
    )
    rows = [r for name in studies for r in _study_rows(results, name)]
    rows += [_capacity_row(results, n, "recording") for n in recordings]
    rows += [_capacity_row(results, n, "network") for n in models]
    if cohorts is not None and len(models) > 1:
        rows.append(_networks_row(results, cohorts, models))
    if rows:
        rep.add_table(
            pd.DataFrame(rows),
            "Summary: capacity at the first and last stage with their resampling intervals; "
            "the change with its interval and p-value where a stage test was run. Animals: "
            "intervals over each session's trials; pooled over animals: the hierarchical "
            "bootstrap (animals, then trials) and the paired sign-flip test across animals.",
        )
    for name in studies:
        test = results.get(f"study_{name}_stage_difference")
        if test is not None:
            rep.add_text(_study_verdict(results[f"study_{name}_trajectory"], test, name))
    if cohorts is not None:
        from neurogeom.show.study_report import _cohort_words, _similarity_words

        who, text = _cohort_words(cohorts)
        verdict = f"Brain vs model ({who}): {text}"
        sim = results.get("cohort_similarity")
        if sim is not None:
            verdict += " " + _similarity_words(sim)
        rep.add_text(verdict + " The figure and the numbers are in the section below.")
    if compare is not None:
        rep.add_text(_verdict_text(results, compare))
        _brain_vs_model_figure(rep, results, compare, folder)


def _study_rows(results: Mapping[str, xr.Dataset], name: str) -> list[dict[str, Any]]:
    """Summary rows of a study: each animal, then the animals pooled (hierarchical interval,
    paired test)."""
    traj = results[f"study_{name}_trajectory"]
    test = results.get(f"study_{name}_stage_difference")
    conf = float(traj.attrs.get("confidence", 0.95))
    x = traj["axis_value"].values
    axis = traj.attrs.get("axis", "session")

    def ci(low: Any, high: Any) -> str:
        low, high = float(low), float(high)
        if not (np.isfinite(low) and np.isfinite(high)):
            return ""
        return f"[{significant(low)}, {significant(high)}]"

    rows = []
    for i, s in enumerate(traj["subject"].values):
        cap = traj["capacity"].values[i]
        last = int(np.flatnonzero(np.isfinite(cap))[-1])
        rows.append(
            {
                "source": f"{name}: {s}",
                "kind": "animal",
                "behind it": "1 animal",
                "stages": f"{axis} {x[0]:g} -> {x[last]:g}",
                "capacity first": cap[0],
                f"first {conf:.0%} CI": ci(
                    traj["capacity_ci_low"].values[i, 0], traj["capacity_ci_high"].values[i, 0]
                ),
                "capacity last": cap[last],
                f"last {conf:.0%} CI": ci(
                    traj["capacity_ci_low"].values[i, last],
                    traj["capacity_ci_high"].values[i, last],
                ),
                "change": float(traj["capacity_change"].values[i]),
                "change CI low": float(traj["capacity_change_ci_low"].values[i]),
                "change CI high": float(traj["capacity_change_ci_high"].values[i]),
                "p": np.nan,
                "test": "none for one animal (its interval: the sessions' trials resampled)",
                "M": int(traj["n_points"].values[i]),
            }
        )
    n = traj.sizes["subject"]
    study = traj["capacity_study"].values
    row = {
        "source": f"{name}: pooled",
        "kind": "study",
        "behind it": f"{n} animals",
        "stages": f"{axis} first -> last",
        "capacity first": study[0],
        f"first {conf:.0%} CI": ci(
            traj["capacity_study_ci_low"].values[0], traj["capacity_study_ci_high"].values[0]
        ),
        "capacity last": study[-1],
        f"last {conf:.0%} CI": ci(
            traj["capacity_study_ci_low"].values[-1], traj["capacity_study_ci_high"].values[-1]
        ),
        "change": float(traj["capacity_study_change"]),
        "change CI low": float(traj["capacity_study_change_ci_low"]),
        "change CI high": float(traj["capacity_study_change_ci_high"]),
        "p": np.nan,
        "test": "hierarchical bootstrap interval; no paired test was run",
        "M": "per animal",
    }
    if test is not None:
        row["p"] = float(test["p_value"])
        row["test"] = (
            f"last minus first session, paired sign flip across {n} animals"
            + (f" (exact: p >= {2 / 2**n:.3g})" if int(test.attrs.get("exact", 0)) else "")
            + "; interval: hierarchical bootstrap"
        )
    rows.append(row)
    return rows


def _study_verdict(traj: xr.Dataset, test: xr.Dataset, name: str) -> str:
    n = traj.sizes["subject"]
    change = float(traj["capacity_study_change"])
    low, high = (
        float(traj["capacity_study_change_ci_low"]),
        float(traj["capacity_study_change_ci_high"]),
    )
    p = float(test["p_value"])
    up = int(np.sum(traj["capacity_change"].values > 0))
    text = (
        f"Study {name!r} ({n} animals): capacity changes by {significant(change)} from the first "
        f"to the last session, pooled over the animals (hierarchical "
        f"{float(traj.attrs.get('confidence', 0.95)):.0%} interval [{significant(low)}, "
        f"{significant(high)}]); it rises in {up} of {n} animals; paired sign-flip p = "
        f"{significant(p)}"
    )
    if int(test.attrs.get("exact", 0)) and p <= 2 / 2**n + 1e-12 and p > 0.05:
        text += (
            f", the smallest p the exact test can give with {n} animals (2 of 2^{n} sign "
            "patterns), so it cannot fall below 0.05 however large the change: more animals are "
            "needed for a test at 0.05"
        )
    elif p > 0.05:
        text += ": chance could give a change this large"
    return text + "."


def _networks_row(
    results: Mapping[str, xr.Dataset], cohorts: xr.Dataset, models: Sequence[str]
) -> dict[str, Any]:
    """The networks pooled: mean first and last capacity over them, the mean change."""
    caps = [np.asarray(results[f"trajectory_{n}"]["capacity"].values, float) for n in models]
    first = float(np.mean([c[0] for c in caps]))
    last = float(np.mean([c[-1] for c in caps]))
    changes = [c[-1] - c[0] for c in caps]
    configs = ", ".join(repr(str(c)) for c in cohorts["configuration"].values)
    return {
        "source": f"networks ({configs}): pooled",
        "kind": "networks",
        "behind it": f"{len(models)} networks",
        "stages": "first -> last checkpoint",
        "capacity first": first,
        "capacity last": last,
        "change": last - first,
        "change CI low": np.nan,
        "change CI high": np.nan,
        "p": np.nan,
        "test": f"mean over the networks (their changes range {significant(min(changes))} to "
        f"{significant(max(changes))}); no test",
    }


def _brain_vs_model_figure(
    rep: Report, results: Mapping[str, xr.Dataset], names: Sequence[str], folder: Path
) -> None:
    from neurogeom.show.figures import plot_brain_vs_model

    reps = results.get("compare_representations")
    sim = None
    if reps is not None and "cka_similarity" in reps:
        sim = reps.rename({"stage_a": "stage"})
    trajs = {n: results[f"trajectory_{n}"] for n in names}
    fig = plot_brain_vs_model(trajs, similarity=sim, axis="position")
    traj_cmp = results.get("compare_trajectories")
    text = "The trajectories are put on one learning axis (fraction of sessions / checkpoints)."
    if traj_cmp is not None:
        r, p = float(traj_cmp["correlation"][0]), float(traj_cmp["correlation_p_value"][0])
        text += (
            f" Their capacity curves correlate at r = {r:.2f} (permutation p = {p:.2g}, stage "
            "order of the model shuffled). "
            + (
                "So the two change in the same direction along learning (which says nothing "
                "about whether they reach the same values)."
                if p < 0.05
                else "So there is no evidence here that the two change alike along learning; with few "
                "stages this test has little power."
            )
        )
    if sim is not None:
        text += (
            " Right: CKA between the condition-averaged representations at matched stages (1 = "
            "identical up to rotation and scale); the grey band is its null with the model's "
            "conditions shuffled. Similarity above the band means brain and model arrange the "
            "task conditions alike."
        )
    _add_figure(
        rep,
        fig,
        folder,
        "brain_vs_model",
        "Left: capacity along the normalised learning "
        "axis, min-max normalised per trajectory. Right: representation similarity per "
        "matched stage.",
        text,
    )


def _compare_section(
    rep: Report, results: Mapping[str, xr.Dataset], names: Sequence[str], folder: Path
) -> None:
    rep.add_section(
        "Brain vs model",
        "The figure is the summary's (Figure 1); the numbers behind it follow.",
    )
    reps = results.get("compare_representations")
    traj_cmp = results.get("compare_trajectories")
    if traj_cmp is not None:
        rep.add_table(
            traj_cmp.to_dataframe(),
            "Trajectory vs trajectory, per measure (output): "
            "correlation (larger is more similar) and RMS distance (smaller is more "
            "similar), with one-sided permutation p-values.",
        )
    if reps is not None:
        rep.add_table(
            _representation_table(reps),
            "Representation vs representation per matched stage "
            "(stage_a: brain, stage_b: model). Directions: "
            + "; ".join(
                f"{k[: -len('_direction')]}: {v}"
                for k, v in reps.attrs.items()
                if k.endswith("_direction")
            )
            + ".",
        )


def _representation_table(reps: xr.Dataset) -> pd.DataFrame:
    """One row per (matched stage, measure): value, null interval, p-value."""
    rows = []
    measures = [str(v) for v in reps.data_vars if f"{v}_direction" in reps.attrs]
    for i in range(reps.sizes["stage_a"]):
        for m in measures:
            get = lambda k, m=m, i=i: float(reps[k].values[i]) if k in reps else float("nan")  # noqa: E731
            rows.append(
                {
                    "stage_a": str(reps["stage_a"].values[i]),
                    "stage_b": str(reps["stage_b"].values[i]),
                    "measure": m,
                    "value": get(m),
                    "null_low": get(f"{m}_null_low"),
                    "null_high": get(f"{m}_null_high"),
                    "p": get(f"{m}_p_value"),
                }
            )
    return pd.DataFrame(rows)


def _named(names: Mapping[str, Mapping[Any, str]], label: str, value: Any) -> str:
    """A condition value's name from the spec's mapping (the value itself when unnamed)."""
    mapping = {str(k): str(v) for k, v in (names.get(label) or {}).items()}
    key = str(value)
    if key not in mapping and isinstance(value, float) and value.is_integer():
        key = str(int(value))
    return mapping.get(key, key)


def _psychometric_section(
    rep: Report,
    table: xr.Dataset,
    name: str,
    folder: Path,
    names: Mapping[str, Mapping[Any, str]] | None = None,
) -> None:
    from neurogeom.show.figures import plot_psychometric

    names = names or {}
    df = table.to_dataframe().reset_index(drop=True)
    df["context"] = [_named(names, "context", v) for v in df["context"]]
    choice_1 = _named(names, "choice", 1)
    rep.add_section(f"Psychometric curves of {name!r}")
    acc = df["accuracy"].to_numpy()
    text = (
        f"The network's accuracy ranges from {acc.min():.2f} to {acc.max():.2f} over the relevant "
        "stimulus strengths, on its fixed analysis trials. Steep curves, the same in both "
        "contexts, show the network answers by the relevant stimulus; they say nothing about how "
        "its states are arranged (that is the geometry above)."
    )
    fig = plot_psychometric(
        df,
        x="relevant_evidence",
        y="p_choice_1",
        hue="context",
        error="p_choice_1_se",
        x_label=f"relevant evidence for {choice_1} (signed coherence, %)",
    )
    fig.axes[0].set_ylabel(f"P(choice = {choice_1}) (fraction of trials)")
    _add_figure(
        rep,
        fig,
        folder,
        f"psychometric_{name}",
        f"Fraction of {choice_1!r} answers at the last checkpoint per context and signed "
        f"relevant evidence (> 0 favours {choice_1!r}); bars: binomial s.e.; dotted: 0.5. "
        "Behaviour, not geometry: M (points per manifold) and N (units) do not apply.",
        text,
    )
    df = df.rename(
        columns={
            "relevant_evidence": "relevant evidence (%)",
            "relevant_coh": "relevant coherence (%)",
            "p_choice_1": f"P(choice = {choice_1})",
            "p_choice_1_se": f"P(choice = {choice_1}) s.e.",
            "accuracy": "accuracy (fraction)",
        }
    )
    rep.add_table(df, f"Psychometric table of {name!r}.")


def _coding_section(rep: Report, ds: xr.Dataset, name: str, folder: Path) -> None:
    from neurogeom.show.figures import plot_coding_scheme

    if "stage" not in ds.dims:
        ds = ds.expand_dims(stage=[0])
    ends = sorted({0, ds.sizes["stage"] - 1})
    label = "label" if "label" in ds.coords else "stage"
    panels = {f"{name}, {ds[label].values[i]}": ds.isel(stage=i) for i in ends}
    rep.add_section(f"Coding scheme of {name!r}")
    schemes = [str(ds["scheme"].values[i]) for i in ends]
    text = (
        f"Scheme at the first stage: {schemes[0]}; at the last: {schemes[-1]} "
        f"(rule: {ds.attrs.get('rule', 'see neurogeom.geometry.coding_scheme')})."
    )
    _add_figure(
        rep,
        plot_coding_scheme(panels),
        folder,
        f"coding_{name}",
        f"Tuning of every unit of {name!r} (class means) and the scores behind its "
        "coding scheme, at the first and last stage.",
        text,
    )
    cols = [
        "coding_fraction",
        "sparseness",
        "selectivity",
        "clustered_fraction",
        "n_clusters",
        "tuning_dimension",
    ]
    table = ds[[c for c in cols if c in ds]].to_dataframe()
    table = table[[c for c in cols if c in table]]
    table["scheme"] = [str(v) for v in np.atleast_1d(ds["scheme"].values)]
    rep.add_table(table, f"Coding scores of {name!r} per stage.")


def learning_report(
    results: Mapping[str, xr.Dataset],
    *,
    title: str,
    inputs: Mapping[str, Any],
    settings: Mapping[str, Any],
    figures: str | Path,
    recordings: Sequence[str] = (),
    models: Sequence[str] = (),
    compare: tuple[str, str] | None = None,
    notes: Sequence[str] = (),
    condition_names: Mapping[str, Mapping[Any, str]] | None = None,
    studies: Sequence[str] = (),
    cohort: str | None = None,
) -> Report:
    """The report of a pipeline run: one section per source, stages, strategies, comparison.

    Parameters
    ----------
    results : mapping of str to xarray.Dataset
        The pipeline's results, keyed as in the module docstring.
    title : str
        The report's title.
    inputs, settings : mapping
        Shown first (what went in; what decides the numbers).
    figures : path
        Existing folder for the figures (``<name>.png`` and ``<name>.svg``).
    recordings, models : sequence of str
        The sources' names, in the order shown.
    compare : (brain, model), optional
        The pair compared, when the run compares one.
    notes : sequence of str
        Analyses left out, and why.
    condition_names : mapping of str to mapping, optional
        Names of condition values per label (``{"context": {0: "motion", 1: "color"}}``, the
        spec's mapping), used in every figure and table instead of the raw values.
    studies : sequence of str
        The studies' names (``[studies.<name>]``: results ``study_<name>_trajectory``,
        ``study_<name>_stage_difference``, ``study_<name>_stages``): rows of the summary (each
        animal, the animals pooled) and a section each.
    cohort : str, optional
        The study compared with networks (results ``cohorts``, ``cohort_similarity``): its
        verdict in the summary and a section with the animals over the networks' band.

    Returns
    -------
    Report
        Not yet saved (:meth:`~neurogeom.show.report.Report.save`).

    See Also
    --------
    neurogeom.show.Report : the page it builds.
    trajectory_table : one of its tables.

    Examples
    --------
    The report of one recording's trajectory:

    >>> import xarray as xr
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", [0.10, 0.20, 0.30]),
    ...      "capacity_ci_low": ("stage", [0.08, 0.17, 0.27]),
    ...      "capacity_ci_high": ("stage", [0.12, 0.23, 0.33])},
    ...     coords={"stage": [0, 1, 2], "label": ("stage", ["early", "mid", "late"])},
    ... )
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = learning_report({"trajectory_sample": traj}, title="Sample",
    ...                              inputs={"recording": "sample.nwb"}, settings={"seed": 0},
    ...                              figures=folder, recordings=["sample"])
    ...     files = sorted(p.name for p in Path(folder).iterdir())
    >>> files, report.n_figures
    (['trajectory_sample.png', 'trajectory_sample.svg'], 1)
    """
    folder = Path(figures)
    rep = Report(title, inputs=inputs, settings=settings)
    _summary(rep, results, recordings, models, compare, folder, studies, cohort)
    rep.add_section(
        "What this report holds",
        (
            "Geometry of the task manifolds (GLUE capacity, radius, dimension) at every stage of "
            "learning for each study (per animal, per session, pooled over animals with a "
            "hierarchical bootstrap and a paired test; against the networks' distribution), "
            "recording and network, with the estimator's Monte-Carlo error, the "
            "resampling error over trials and a label-shuffle null; the stage-to-stage test of each "
            "recording; the learning stages of each network; the routes through the (radius, "
            "dimension) plane; brain vs model on a normalised learning axis; the network's "
            "psychometric curves. The numbers behind every figure are in the tables and in "
            "results/*.nc beside this file; the inputs and settings close the report."
        ),
    )
    if notes:
        rep.add_text("Left out: " + " ".join(notes))
    if cohort is not None and "cohorts" in results:
        from neurogeom.show.study_report import cohort_section

        cohort_section(
            rep,
            results["cohorts"],
            results.get("cohort_similarity"),
            name=cohort,
            figures=folder,
        )
    if studies:
        from neurogeom.show.study_report import study_section

        for name in studies:
            prefix = f"study_{name}_"
            study_section(
                rep,
                {k[len(prefix) :]: v for k, v in results.items() if k.startswith(prefix)},
                name=name,
                figures=folder,
            )
    for kind, names in (("recording", recordings), ("model", models)):
        for name in names:
            _trajectory_section(rep, results, name, kind, folder)
            if f"stages_{name}" in results:
                m_n = _m_n(results[f"trajectory_{name}"])
                _stages_section(rep, results[f"stages_{name}"], name, folder, m_n)
    if compare is not None and "strategy" in results:
        _strategy_section(rep, results, compare, folder)
    if compare is not None:
        _compare_section(rep, results, compare, folder)
    for name in (*recordings, *models):
        if f"coding_{name}" in results:
            _coding_section(rep, results[f"coding_{name}"], name, folder)
    for name in models:
        if f"psychometric_{name}" in results:
            _psychometric_section(
                rep, results[f"psychometric_{name}"], name, folder, condition_names
            )
    return rep


# ---- the rank sweep (`neurogeom run tasks/rank_sweep_paper.toml`) --------------------------------

_SWEEP_COLUMNS = (
    "capacity_init",
    "capacity_change",
    "capacity_final",
    "weight_change",
    "accuracy_final",
    "at_floor_init",
)


def rank_sweep_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per rank: mean and standard deviation over seeds of each number of a rank sweep.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.rank_sweep.rank_sweep`'s result, dims ``(rank, seed)``.

    Returns
    -------
    pandas.DataFrame
        Index ``rank``; columns ``<name>_mean`` and ``<name>_sd`` for capacity at init (manifolds
        per unit), its change, the final capacity, the relative weight change, the final
        held-out accuracy (fraction) and the fraction of seeds at the floor at init; ``n_seeds``.

    See Also
    --------
    rank_sweep_reading : one sentence of it.
    rank_sweep_report : the report.

    Examples
    --------

    >>> import numpy as np, xarray as xr
    >>> sweep = xr.Dataset(
    ...     {"capacity_init": (("rank", "seed"), [[0.05, 0.06], [0.10, 0.11], [0.20, 0.21]]),
    ...      "capacity_change": (("rank", "seed"), [[0.20, 0.22], [0.10, 0.12], [0.02, 0.03]]),
    ...      "weight_change": (("rank", "seed"), [[0.50, 0.52], [0.30, 0.31], [0.10, 0.12]])},
    ...     coords={"rank": [1, 4, 16], "seed": [0, 1]},
    ... )
    >>> table = rank_sweep_table(sweep)
    >>> table.index.tolist(), table["capacity_init_mean"].round(3).tolist()
    (['1', '4', '16'], [0.055, 0.105, 0.205])
    """
    cols: dict[str, Any] = {}
    for name in (c for c in _SWEEP_COLUMNS if c in ds):
        v = ds[name].transpose("rank", "seed")
        cols[f"{name}_mean"] = v.mean("seed").values
        cols[f"{name}_sd"] = v.std("seed", ddof=1).values if ds.sizes["seed"] > 1 else np.nan
    cols["n_seeds"] = ds.sizes["seed"]
    return pd.DataFrame(cols, index=pd.Index([str(r) for r in ds["rank"].values], name="rank"))


def _ordering(ds: xr.Dataset, name: str) -> tuple[float, float, float, float]:
    """(lowest-rank mean, highest-rank mean, their difference in s.e. over seeds, Spearman rho of
    the per-rank means with the rank)."""
    v = np.asarray(ds[name].transpose("rank", "seed").values, float)
    n = v.shape[1]
    lo, hi = v[0], v[-1]
    se = np.sqrt((lo.var(ddof=1) + hi.var(ddof=1)) / n) if n > 1 else np.nan
    z = (lo.mean() - hi.mean()) / se if se and np.isfinite(se) else np.nan
    rho = pd.Series(v.mean(1)).corr(pd.Series(np.arange(len(v), dtype=float)), method="spearman")
    return float(lo.mean()), float(hi.mean()), float(z), float(rho)


def _verdict(z: float, lower: bool) -> str:
    if not np.isfinite(z):
        return "with one seed, no spread to judge it by"
    if abs(z) < 2:
        return f"a difference within the seed spread ({z:+.1f} s.e.)"
    agrees = (z < 0) == lower
    return f"{'as' if agrees else 'against'} the paper ({z:+.1f} s.e.)"


def rank_sweep_reading(ds: xr.Dataset) -> str:
    """The plain-language reading of a rank sweep against the paper's claim (arXiv 2503.18114):
    low-rank initialisations start with lower capacity and change more with training.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.rank_sweep.rank_sweep`'s result.

    Returns
    -------
    str
        What the numbers show about each half of the claim, judged by the difference between
        the lowest and highest rank in standard errors over seeds, the ordering across all
        ranks (Spearman rho of the means), and what the final accuracy says about it.

    See Also
    --------
    rank_sweep_table : the table it reads.
    rank_sweep_report : the report.

    Examples
    --------

    >>> import numpy as np, xarray as xr
    >>> sweep = xr.Dataset(
    ...     {"capacity_init": (("rank", "seed"), [[0.05, 0.06], [0.10, 0.11], [0.20, 0.21]]),
    ...      "capacity_change": (("rank", "seed"), [[0.20, 0.22], [0.10, 0.12], [0.02, 0.03]]),
    ...      "weight_change": (("rank", "seed"), [[0.50, 0.52], [0.30, 0.31], [0.10, 0.12]])},
    ...     coords={"rank": [1, 4, 16], "seed": [0, 1]},
    ... )
    >>> text = rank_sweep_reading(sweep)
    >>> "Spearman rho = +1.00" in text  # capacity at init rises with the rank
    True
    """
    r0, r1 = (str(r) for r in ds["rank"].values[[0, -1]])
    i0, i1, iz, irho = _ordering(ds, "capacity_init")
    c0, c1, cz, crho = _ordering(ds, "capacity_change")
    w0, w1, _, wrho = _ordering(ds, "weight_change")
    acc = ds["accuracy_final"].mean("seed") if "accuracy_final" in ds else None
    text = (
        f"The paper: low-rank initial weights start with lower capacity and change more in "
        f"training. Here, capacity at initialisation is {i0:.3g} at rank {r0} and {i1:.3g} at "
        f"rank {r1}: {_verdict(iz, lower=True)}; across all ranks the means order with the rank "
        f"at Spearman rho = {irho:+.2f} (+1: rising with rank). The change of capacity is "
        f"{c0:.3g} at rank {r0} and {c1:.3g} at rank {r1}: "
        f"{_verdict(-cz if np.isfinite(cz) else cz, lower=True)} (rho = {crho:+.2f}; the paper "
        f"expects it negative). The relative weight change ||W - W0||/||W0|| is {w0:.3g} at rank "
        f"{r0} and {w1:.3g} at rank {r1} (rho = {wrho:+.2f})."
    )
    if acc is not None:
        text += (
            f" Held-out accuracy at the end is {float(acc.min()):.2f} to {float(acc.max()):.2f} "
            "over ranks: a rank that has not learnt the task yet shows a small change because "
            "it has not learnt, not because it is lazy; longer training separates the two."
        )
    if "at_floor_init" in ds and float(ds["at_floor_init"].max()) > 0:
        text += " Some runs sit at the capacity floor at initialisation: " + _floor_reading(ds)
    return text


def rank_sweep_report(ds: xr.Dataset, *, figures: str | Path, setting: str, spec: str) -> Report:
    """The report of a rank sweep: inputs, settings, the figure, the table and the reading.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.rank_sweep.rank_sweep`'s result.
    figures : path
        Existing folder for ``rank_sweep.png`` and ``rank_sweep.svg``.
    setting : str
        The setting's name (``"fast"``, ``"full"``).
    spec : str
        The sweep spec's path.

    Returns
    -------
    Report
        Not yet saved.

    See Also
    --------
    neurogeom.show.plot_rank_sweep : its figure.
    rank_sweep_table : its table.

    Examples
    --------

    >>> import numpy as np, xarray as xr
    >>> sweep = xr.Dataset(
    ...     {"capacity_init": (("rank", "seed"), [[0.05, 0.06], [0.10, 0.11], [0.20, 0.21]]),
    ...      "capacity_change": (("rank", "seed"), [[0.20, 0.22], [0.10, 0.12], [0.02, 0.03]]),
    ...      "weight_change": (("rank", "seed"), [[0.50, 0.52], [0.30, 0.31], [0.10, 0.12]])},
    ...     coords={"rank": [1, 4, 16], "seed": [0, 1]},
    ... )
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = rank_sweep_report(sweep, figures=folder, setting="fast", spec="rank.toml")
    ...     files = sorted(p.name for p in Path(folder).iterdir())
    >>> files, report.n_figures
    (['rank_sweep.png', 'rank_sweep.svg'], 1)
    """

    from neurogeom.show.figures import plot_rank_sweep

    cfg = json.loads(ds.attrs.get("spec", "{}"))
    tr, an = cfg.get("training", {}), cfg.get("analysis", {})
    inputs = {
        "spec": spec,
        "setting": setting,
        "runs": ds.attrs.get("out_dir", ""),
        "ranks": [str(r) for r in ds["rank"].values],
        "seeds": [int(s) for s in ds["seed"].values],
    }
    settings = {
        "network": cfg.get("network", {}),
        "training steps": tr.get("n_steps"),
        "optimizer": f"{tr.get('optimizer')} lr {tr.get('lr')} momentum "
        f"{tr.get('momentum')} batch {tr.get('batch_size')}",
        "geometry": {k: an.get(k) for k in ("period", "by", "n_points_per_manifold", "center")},
        "measure options": an.get("options", {}),
    }
    rep = Report(
        "Rank of the initial weights: capacity at initialisation and its change",
        inputs=inputs,
        settings=settings,
    )
    rep.add_section(
        "Capacity at initialisation and its change, against the rank",
        (
            "One network per (rank, seed), its initial recurrent weights truncated to that rank and "
            "rescaled to the full-rank norm; GLUE capacity of the decision-period states labelled "
            "by the decision, at the first and the last checkpoint. The numbers per run are in "
            "results/rank_sweep.nc beside this file."
        ),
    )
    _add_figure(
        rep,
        plot_rank_sweep(ds),
        Path(figures),
        "rank_sweep",
        "Left: capacity at "
        "initialisation; middle: its change with training; right: relative change of the "
        "recurrent weights; each against the rank of W0 (log axis). Points: seeds; line "
        "and bars: mean ± s.d. over seeds.",
        rank_sweep_reading(ds),
    )
    rep.add_table(
        rank_sweep_table(ds),
        "Per rank: mean and s.d. over seeds (capacity in "
        "manifolds per unit; weight change as a ratio; accuracy as a fraction).",
    )
    return rep
