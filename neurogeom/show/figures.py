"""Figures of learning geometry: trajectories, stages, strategies, brain vs model, psychometrics.

Every function takes result Datasets (layouts in :mod:`neurogeom.learning.stats`,
:func:`neurogeom.learning.stages.learning_stages`, :func:`neurogeom.learning.strategies.strategy_path`)
or plain tables and returns a :class:`matplotlib.figure.Figure`; ``save_figure`` writes it as PNG
and SVG. Axes carry units; each condition keeps one colour (``palette``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from neurogeom.geometry import capacity_contour
from neurogeom.show._style import STAGE_COLORS, measure_label, new_figure, palette, plain_ticks
from neurogeom.show._style import save_figure as save_figure

__all__ = [
    "plot_trajectory",
    "plot_stages_heatmap",
    "plot_strategy_plane",
    "plot_brain_vs_model",
    "plot_psychometric",
    "plot_rank_sweep",
    "plot_coding_scheme",
    "plot_coding_phases",
    "plot_lazy_rich",
    "plot_volume_element",
]


def _as_mapping(data: xr.Dataset | Mapping[str, xr.Dataset], default: str) -> dict[str, xr.Dataset]:
    if isinstance(data, xr.Dataset):
        return {str(data.attrs.get("condition", default)): data}
    if isinstance(data, Mapping) and all(isinstance(v, xr.Dataset) for v in data.values()):
        return {str(k): v for k, v in data.items()}
    raise TypeError(f"give a trajectory Dataset or a mapping name -> Dataset; got {type(data)}.")


def _steps(ds: xr.Dataset) -> np.ndarray:
    if "step" in ds.coords:
        return np.asarray(ds["step"].values, dtype=float)
    return np.arange(ds.sizes["stage"], dtype=float)


def _shade_stages(ax: Axes, stages: xr.Dataset, *, top_text: bool) -> None:
    step = np.asarray(stages["step"].values, dtype=float)
    for k in range(stages.sizes["segment"]):
        a, b = int(stages["start_stage"][k]), int(stages["stop_stage"][k])
        lo = step[a] if a == 0 else 0.5 * (step[a - 1] + step[a])
        hi = step[b - 1] if b == len(step) else 0.5 * (step[b - 1] + step[b])
        label = str(stages["label"][k].values)
        ax.axvspan(lo, hi, color=STAGE_COLORS.get(label, "#eeeeee"), alpha=0.6, lw=0, zorder=0)
        if top_text:
            ax.text(
                np.sqrt(max(lo, 0.5) * max(hi, 1.0)) if hi > 1 else 0.5 * (lo + hi),
                1.0,
                label,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                fontsize=7,
            )


def _trajectory_panel(
    ax: Axes, ds: xr.Dataset, measure: str, color, name: str, x: np.ndarray | None = None
) -> None:
    x = _steps(ds) if x is None else x
    v = np.asarray(ds[measure].values, dtype=float)
    conf = float(ds.attrs.get("confidence", 0.95))
    if f"{measure}_null_low" in ds:
        ax.fill_between(
            x,
            ds[f"{measure}_null_low"],
            ds[f"{measure}_null_high"],
            color="0.6",
            alpha=0.35,
            lw=0,
            label=f"{name}: shuffle null ({conf:.0%})",
        )
    if f"{measure}_null_mean" in ds:
        ax.plot(x, ds[f"{measure}_null_mean"], color="0.4", ls="--", lw=1)
    if f"{measure}_ci_low" in ds:
        ax.fill_between(
            x,
            ds[f"{measure}_ci_low"],
            ds[f"{measure}_ci_high"],
            color=color,
            alpha=0.25,
            lw=0,
            label=f"{name}: resampling {conf:.0%} CI",
        )
    sem = ds[f"{measure}_sem"].values if f"{measure}_sem" in ds else None
    ax.errorbar(
        x,
        v,
        yerr=None if sem is None else 2 * np.asarray(sem, float),
        color=color,
        marker="o",
        ms=3,
        lw=1.5,
        capsize=2.5,
        elinewidth=1,
        label=f"{name}: estimate ± 2 MC s.e." if sem is not None else f"{name}: estimate",
    )


def plot_trajectory(
    trajectories: xr.Dataset | Mapping[str, xr.Dataset],
    measures: Sequence[str] = ("capacity", "radius", "dimension"),
    *,
    stages: xr.Dataset | None = None,
    step_label: str = "training step (log scale)",
    axis: str = "step",
) -> Figure:
    """Measures along learning with both error terms, the shuffle null and the stages.

    The resampling interval (``v_ci_low`` to ``v_ci_high``, over trials / pseudo-populations) is a
    shaded band; the Monte-Carlo error of the estimator (``2 * v_sem``) is error bars on the points;
    the shuffle null (``v_null_low`` to ``v_null_high``) a grey band with its mean dashed; segments
    of ``stages`` shade the background with their names.

    Parameters
    ----------
    trajectories : xarray.Dataset or mapping of str to Dataset
        One trajectory or several (one colour each; layout in :mod:`neurogeom.learning.stats`).
    measures : sequence of str, default=("capacity", "radius", "dimension")
        One panel per measure.
    stages : xarray.Dataset, optional
        Output of :func:`~neurogeom.learning.stages.learning_stages` for the background.
    step_label : str, default="training step (log scale)"
        The x-axis label (e.g. ``"session"``).
    axis : {"step", "stage"}, default="step"
        ``"step"``: training steps on a symmetric log axis (plain tick labels); ``"stage"``:
        the stages as categories in order, each named by its ``label`` coord (sessions).

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    neurogeom.learning.trajectory : the numbers it plots.
    neurogeom.show.trajectory_table : the same as a table.

    Examples
    --------
    A trajectory without error terms (one panel per measure):

    >>> import numpy as np, xarray as xr
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", [0.10, 0.12, 0.20, 0.28, 0.30]),
    ...      "radius": ("stage", [1.6, 1.4, 1.1, 0.95, 0.9]),
    ...      "dimension": ("stage", [14.0, 13.0, 10.0, 8.0, 7.0])},
    ...     coords={"stage": np.arange(5), "step": ("stage", [0, 10, 100, 1000, 3000])},
    ... )
    >>> fig = plot_trajectory(traj)
    >>> [ax.get_xlabel() for ax in fig.axes]
    ['training step (log scale)', 'training step (log scale)', 'training step (log scale)']
    """
    if axis not in ("step", "stage"):
        raise ValueError(f"axis must be 'step' or 'stage'; got {axis!r}.")
    trajs = _as_mapping(trajectories, "trajectory")
    colors = palette(trajs)
    fig, axes = new_figure(len(measures), height=3.4)
    first = next(iter(trajs.values()))
    names = [str(v) for v in (first["label"] if "label" in first.coords else first["stage"]).values]
    for ax, measure in zip(axes, measures):
        if stages is not None and axis == "step":
            _shade_stages(ax, stages, top_text=True)
        for name, ds in trajs.items():
            if measure not in ds:
                raise ValueError(
                    f"trajectory {name!r} lacks {measure!r}; it holds {sorted(ds.data_vars)}."
                )
            x = np.arange(ds.sizes["stage"], dtype=float) if axis == "stage" else None
            _trajectory_panel(ax, ds, measure, colors[name], name, x)
        if axis == "stage":
            ax.set_xticks(range(len(names)), names)
            ax.set_xlim(-0.5, len(names) - 0.5)
            plain_ticks(ax, axis="y")
        else:
            ax.set_xscale("symlog", linthresh=1.0)
            plain_ticks(ax)
        ax.set_xlabel(step_label)
        ax.set_ylabel(measure_label(first[measure]))
    axes[0].legend(fontsize=7, loc="best")
    return fig


def plot_stages_heatmap(stages: xr.Dataset, *, step_label: str = "training step") -> Figure:
    """The stages heatmap: checkpoints x measures, min-max normalised, with boundaries and names.

    Parameters
    ----------
    stages : xarray.Dataset
        Output of :func:`~neurogeom.learning.stages.learning_stages` (uses ``normalised``,
        ``step``, ``boundary_stage``, segments).
    step_label : str, default="training step"
        The x-axis label.

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    neurogeom.learning.learning_stages : the stages it plots.
    plot_trajectory : the measures along training.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurogeom.learning import learning_stages
    >>> step = np.arange(12)
    >>> t = np.log10(1 + step)
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", np.minimum(t, t[6])), "capacity_sem": ("stage", np.full(12, 0.01))},
    ...     coords={"stage": step, "step": ("stage", step)},
    ... )
    >>> fig = plot_stages_heatmap(learning_stages(traj, measures=["capacity"]))
    >>> len(fig.axes)  # the heatmap and its colour bar
    2
    """
    if "normalised" not in stages:
        raise ValueError("plot_stages_heatmap needs the output of learning_stages().")
    norm = stages["normalised"].transpose("measure", "stage")
    fig, (ax,) = new_figure(1, width=max(5.0, 0.32 * norm.sizes["stage"] + 2.5), height=3.4)
    mesh = ax.imshow(
        norm.values, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest"
    )
    cbar = fig.colorbar(mesh, ax=ax)
    cbar.set_label("normalised (0 = min, 1 = max)")
    steps = stages["step"].values
    every = max(1, len(steps) // 12)
    ax.set_xticks(range(0, len(steps), every), [f"{s:g}" for s in steps[::every]], rotation=45)
    ax.set_yticks(
        range(norm.sizes["measure"]), [str(m).replace("_", " ") for m in norm["measure"].values]
    )
    labels = [str(v) for v in stages["label"].values]
    for k, b in enumerate(stages["boundary_stage"].values):
        same = labels[k] == labels[k + 1]  # a bend inside one stretch: the reading says why
        ax.axvline(b - 0.5, color="white", lw=2, ls="--" if same else "-")
    for k in range(stages.sizes["segment"]):
        a, b = int(stages["start_stage"][k]), int(stages["stop_stage"][k])
        ax.text(
            0.5 * (a + b) - 0.5,
            -0.6,
            labels[k] if k == 0 or labels[k] != labels[k - 1] else f"{labels[k]} (cont.)",
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xlabel(f"{step_label} (checkpoints, log-spaced order)")
    ax.set_ylabel("measure (normalised per measure)")
    return fig


def _paths(data: xr.Dataset | Mapping[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    out = {}
    for name, ds in _as_mapping(data, "trajectory").items():
        if "step" in ds.coords and "log_radius" not in ds:  # a trajectory: its stages in step order
            ds = ds.isel(stage=np.argsort(np.asarray(ds["step"].values, float), kind="stable"))
        r, d = ds["radius"].values, ds["dimension"].values
        out[name] = ds.isel(
            stage=np.flatnonzero(np.isfinite(r) & np.isfinite(d) & (r > 0) & (d > 0))
        )
    return out


def plot_strategy_plane(
    trajectories: xr.Dataset | Mapping[str, xr.Dataset], *, n_levels: int = 8
) -> Figure:
    """Routes through the (radius, dimension) plane over the contours of ``(1 + R^-2) / D``.

    The contours are labelled as the quantity they draw, ``(1 + R^-2) / D``: GLUE's capacity is
    ``utility * (1 + R^-2) / D``, so a contour is not a capacity. Each route's measured capacity
    is printed at its last point (``capacity = ...``, from the trajectory's ``capacity``).

    Parameters
    ----------
    trajectories : xarray.Dataset or mapping of str to Dataset
        Trajectories (with ``radius`` and ``dimension``) or outputs of
        :func:`~neurogeom.learning.strategies.strategy_path`; one colour each.
    n_levels : int, default=8
        Number of contour levels (log-spaced over the plotted range).

    Returns
    -------
    matplotlib.figure.Figure
        The end labels carry the gid ``"end_capacity:<name>"``.

    See Also
    --------
    neurogeom.learning.strategy_path : the path it plots.
    plot_trajectory : the measures along training.

    Examples
    --------

    >>> import numpy as np, xarray as xr
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", [0.10, 0.12, 0.20, 0.28, 0.30]),
    ...      "radius": ("stage", [1.6, 1.4, 1.1, 0.95, 0.9]),
    ...      "dimension": ("stage", [14.0, 13.0, 10.0, 8.0, 7.0])},
    ...     coords={"stage": np.arange(5), "step": ("stage", [0, 10, 100, 1000, 3000])},
    ... )
    >>> fig = plot_strategy_plane({"model": traj})
    >>> fig.axes[0].get_xscale(), fig.axes[0].get_yscale()
    ('log', 'log')
    """
    paths = _paths(trajectories)
    colors = palette(paths)
    r = np.concatenate([p["radius"].values for p in paths.values()])
    d = np.concatenate([p["dimension"].values for p in paths.values()])
    rr = np.geomspace(r.min() / 1.5, r.max() * 1.5, 200)
    dd = np.geomspace(d.min() / 1.5, d.max() * 1.5, 200)
    grid = capacity_contour(rr[None, :], dd[:, None])
    fig, (ax,) = new_figure(1, width=5.6, height=4.4)
    levels = np.geomspace(grid.min(), grid.max(), n_levels + 2)[1:-1]
    cs = ax.contour(rr, dd, grid, levels=levels, colors="0.6", linewidths=0.8)
    labels = ax.clabel(cs, fmt=lambda v: f"(1+R⁻²)/D = {v:.2g}", fontsize=6)
    for name, p in paths.items():
        x, y = p["radius"].values, p["dimension"].values
        ax.plot(x, y, "-", color=colors[name], lw=1.8, label=name)
        ax.plot(x[0], y[0], "o", color=colors[name], ms=6)
        ax.plot(x[-1], y[-1], "*", color=colors[name], ms=11)
        for k in range(len(x) - 1):
            ax.annotate(
                "",
                xy=(x[k + 1], y[k + 1]),
                xytext=(x[k], y[k]),
                arrowprops={"arrowstyle": "->", "color": colors[name], "lw": 1.2},
            )
        if "capacity" in p:
            cap = float(p["capacity"].values[-1])
            ax.annotate(
                f"capacity = {cap:.3g}",
                xy=(x[-1], y[-1]),
                xytext=(6, -12),
                textcoords="offset points",
                fontsize=8,
                color=colors[name],
                fontweight="bold",
                gid=f"end_capacity:{name}",
                annotation_clip=False,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(rr[0], rr[-1])
    ax.set_ylim(dd[0], dd[-1])
    plain_ticks(ax)
    fig.canvas.draw()  # drop contour labels that the axes would cut
    box = ax.get_window_extent()
    for text in labels:
        ext = text.get_window_extent()
        if not (box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 and ext.y1 <= box.y1):
            text.remove()
    first = next(iter(_as_mapping(trajectories, "trajectory").values()))  # with the labels
    ax.set_xlabel(measure_label(first["radius"] if "radius" in first else "radius"))
    ax.set_ylabel(measure_label(first["dimension"] if "dimension" in first else "dimension"))
    ax.set_title("grey: contours of (1 + R⁻²) / D; capacity = utility × (1 + R⁻²) / D", fontsize=8)
    ax.legend(fontsize=8, title="o start, * end", title_fontsize=7, loc="lower left")
    return fig


def _learning_axis(ds: xr.Dataset, axis: str) -> np.ndarray:
    n = ds.sizes["stage"]
    if axis == "position":
        return np.linspace(0.0, 1.0, n)
    if axis == "step":
        s = _steps(ds)
        return (s - s.min()) / (s.max() - s.min())
    if axis in ds:
        return np.asarray(ds[axis].values, dtype=float)
    raise ValueError(
        f"axis must be 'position', 'step' or a variable of the trajectory; got {axis!r}."
    )


def _similarity_label(name: str) -> str:
    if name.endswith("_distance"):
        return f"{name.replace('_', ' ')}\n(0 = identical)"
    return f"{name.replace('_', ' ')}\n(1 = identical, larger = more similar)"


def plot_brain_vs_model(
    trajectories: Mapping[str, xr.Dataset],
    *,
    measure: str = "capacity",
    similarity: xr.Dataset | None = None,
    similarity_name: str = "cka_similarity",
    axis: str = "position",
) -> Figure:
    """Brain vs model: trajectories on a normalised learning axis, and per-stage similarity.

    Parameters
    ----------
    trajectories : mapping of str to Dataset
        E.g. ``{"brain": ..., "model": ...}``; each along ``stage``.
    measure : str, default="capacity"
        The measure drawn, min-max normalised per trajectory (their scales differ).
    similarity : xarray.Dataset, optional
        Per-stage similarity of the two representations (dim ``stage``; variable
        ``similarity_name``, optionally ``<name>_null_low`` / ``<name>_null_high``): a second panel.
    similarity_name : str, default="cka_similarity"
        The similarity variable; a name ending in ``_distance`` is labelled "0 = identical".
    axis : str, default="position"
        The learning axis: ``"position"`` (fraction of checkpoints / sessions), ``"step"``
        (fraction of training steps) or a variable of each trajectory already in [0, 1]
        (e.g. task performance).

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    neurogeom.learning.compare_trajectories : the numbers it plots.
    neurogeom.show.save_figure : writes the figure.

    Examples
    --------

    >>> import numpy as np, xarray as xr
    >>> traj = xr.Dataset(
    ...     {"capacity": ("stage", [0.10, 0.12, 0.20, 0.28, 0.30]),
    ...      "radius": ("stage", [1.6, 1.4, 1.1, 0.95, 0.9]),
    ...      "dimension": ("stage", [14.0, 13.0, 10.0, 8.0, 7.0])},
    ...     coords={"stage": np.arange(5), "step": ("stage", [0, 10, 100, 1000, 3000])},
    ... )
    >>> sim = xr.Dataset({"cka_similarity": ("stage", np.linspace(0.3, 0.9, 5))})
    >>> fig = plot_brain_vs_model({"brain": traj, "model": traj}, similarity=sim)
    >>> len(fig.axes)  # the measures, and the similarity per stage
    2
    """
    trajs = _as_mapping(trajectories, "trajectory")
    colors = palette(trajs)
    fig, axes = new_figure(1 if similarity is None else 2, width=4.4, height=3.4)
    ax = axes[0]
    for name, ds in trajs.items():
        v = np.asarray(ds[measure].values, dtype=float)
        span = np.nanmax(v) - np.nanmin(v)
        y = (v - np.nanmin(v)) / (span if span > 0 else 1.0)
        ax.plot(_learning_axis(ds, axis), y, "o-", color=colors[name], ms=3, label=name)
    ax.set_xlabel(
        {
            "position": "fraction of learning (checkpoints / sessions)",
            "step": "fraction of training steps",
        }.get(axis, f"{axis} (fraction)")
    )
    ax.set_ylabel(f"{measure}\n(min-max normalised per trajectory)")
    ax.legend(fontsize=8)
    if similarity is not None:
        ax = axes[1]
        sim = similarity[similarity_name]
        x = np.linspace(0.0, 1.0, sim.sizes["stage"])
        if f"{similarity_name}_null_low" in similarity:
            ax.fill_between(
                x,
                similarity[f"{similarity_name}_null_low"],
                similarity[f"{similarity_name}_null_high"],
                color="0.6",
                alpha=0.35,
                lw=0,
                label="shuffle null",
            )
        ax.plot(x, sim, "o-", color="0.15", ms=4, label="brain vs model")
        ax.set_xlabel("fraction of learning (matched stages)")
        ax.set_ylabel(_similarity_label(similarity_name))
        ax.legend(fontsize=8)
    return fig


def plot_psychometric(
    data: pd.DataFrame,
    *,
    x: str = "coherence",
    y: str = "accuracy",
    hue: str = "context",
    error: str | None = None,
    x_label: str = "coherence (signed stimulus strength, unitless)",
) -> Figure:
    """Psychometric curves of a model: accuracy vs coherence, one curve per context.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per (context, coherence) with columns ``x``, ``y``, ``hue`` and optionally
        ``error`` (standard error of ``y``).
    x, y, hue : str
        Column names.
    error : str, optional
        Column of standard errors, drawn as error bars.
    x_label : str
        The x-axis label.

    Returns
    -------
    matplotlib.figure.Figure

    See Also
    --------
    neurogeom.workflows.psychometric : the numbers it plots.
    neurogeom.show.save_figure : writes the figure.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame({"coherence": [-0.5, 0.0, 0.5] * 2,
    ...                       "accuracy": [0.9, 0.5, 0.9, 0.7, 0.5, 0.7],
    ...                       "context": ["motion"] * 3 + ["colour"] * 3})
    >>> fig = plot_psychometric(table)
    >>> len(fig.axes), len(fig.axes[0].get_legend().get_texts())  # two contexts and chance
    (1, 3)
    """
    missing = [c for c in (x, y, hue, error) if c is not None and c not in data.columns]
    if missing:
        raise ValueError(f"the table lacks the columns {missing}; it has {list(data.columns)}.")
    groups = [str(g) for g in data[hue].unique()]
    colors = palette(groups)
    fig, (ax,) = new_figure(1, width=4.4, height=3.4)
    for g, part in data.groupby(data[hue].astype(str), sort=True):
        part = part.sort_values(x)
        ax.errorbar(
            part[x],
            part[y],
            yerr=None if error is None else part[error],
            color=colors[g],
            marker="o",
            ms=4,
            capsize=2,
            label=g,
        )
    ax.axhline(0.5, color="0.5", ls=":", lw=1, label="chance")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"{y} (fraction correct)")
    ax.legend(fontsize=8, title=hue, title_fontsize=8)
    return fig


def plot_rank_sweep(ds: xr.Dataset) -> Figure:
    """A rank sweep: capacity at initialisation, its change and the weight change, vs the rank.

    Parameters
    ----------
    ds : xarray.Dataset
        The result of :func:`neurogeom.workflows.rank_sweep.rank_sweep`, dims ``(rank, seed)``
        with ``capacity_init``, ``capacity_change`` and ``weight_change``.

    Returns
    -------
    matplotlib.figure.Figure
        Three panels over the rank of the initial recurrent weights (log axis): the mean over
        seeds with +- one standard deviation across seeds as bars, each seed a faint dot.

    See Also
    --------
    neurogeom.workflows.rank_sweep.rank_sweep : the numbers it plots.
    neurogeom.show.rank_sweep_report : the report around it.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> values = {"capacity_init": 0.1, "capacity_change": 0.05, "weight_change": 0.3}
    >>> ds = xr.Dataset({k: (("rank", "seed"), np.full((3, 2), v)) for k, v in values.items()},
    ...                 coords={"rank": [1, 4, 16], "seed": [0, 1]})
    >>> len(plot_rank_sweep(ds).axes)
    3
    """

    n_units = json.loads(ds.attrs.get("spec", "{}")).get("network", {}).get("n_units", np.nan)
    ranks = np.array([n_units if str(r) == "full" else float(r) for r in ds["rank"].values])
    panels = (
        ("capacity_init", "capacity at init α (per unit)"),
        ("capacity_change", "capacity change, final − init (per unit)"),
        ("weight_change", "||W − W0|| / ||W0|| at the end (ratio)"),
    )
    color = palette(["capacity"])["capacity"]
    fig, axes = new_figure(3, width=4.0, height=3.4)
    for ax, (name, label) in zip(axes, panels):
        values = np.asarray(ds[name].transpose("rank", "seed").values, float)
        spread = values.std(1, ddof=1) if values.shape[1] > 1 else np.zeros(len(ranks))
        for j in range(values.shape[1]):
            ax.plot(ranks, values[:, j], "o", color=color, alpha=0.25, ms=3)
        ax.errorbar(
            ranks,
            values.mean(1),
            yerr=spread,
            color=color,
            marker="o",
            capsize=3,
            label=f"mean ± s.d. over {values.shape[1]} seeds",
        )
        if name == "capacity_change":
            ax.axhline(0, color="0.5", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("rank of the initial recurrent weights W0")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    return fig


def plot_coding_scheme(ds: xr.Dataset | Mapping[str, xr.Dataset]) -> Figure:
    """Coding schemes: the tuning of every unit and the scores behind each scheme.

    Parameters
    ----------
    ds : xarray.Dataset or mapping name -> Dataset
        Results of :func:`neurogeom.geometry.coding.coding_scheme` (one population, or several
        such as one per nonlinearity).

    Returns
    -------
    matplotlib.figure.Figure
        One row per population: the tuning matrix (units sorted by the class of their largest
        response, then by tuning norm; colour: mean response in the units of the input), the
        tuning norms in descending order (relative to the largest; the coding fraction in the
        legend), and the scores in [0, 1] (active and coding fraction, sparseness, selectivity,
        clustered fraction, redundancy), the scheme in the title.

    See Also
    --------
    neurogeom.geometry.coding_scheme : the numbers it plots.
    neurogeom.show.save_figure : writes the figure.

    Examples
    --------
    >>> import numpy as np
    >>> from neurogeom.geometry import coding_scheme
    >>> labels = np.repeat(np.arange(3), 10)
    >>> x = np.random.default_rng(0).standard_normal((30, 40))
    >>> fig = plot_coding_scheme(coding_scheme(x, labels))
    >>> len(fig.axes)
    4
    """
    import matplotlib.pyplot as plt

    data = _as_mapping(ds, "population")
    names = list(data)
    fig, axes = plt.subplots(
        len(names), 3, figsize=(12.0, 3.0 * len(names)), squeeze=False, layout="constrained"
    )
    scores = (
        "active_fraction",
        "coding_fraction",
        "sparseness",
        "selectivity",
        "clustered_fraction",
        "redundancy",
    )
    for row, name in zip(axes, names):
        res = data[name]
        tuning = np.asarray(res["tuning"].transpose("unit", "manifold").values, float)
        norms = np.linalg.norm(tuning, axis=1)
        order = np.lexsort((-norms, np.abs(tuning).argmax(axis=1)))
        lim = float(np.abs(tuning).max()) or 1.0
        im = row[0].imshow(
            tuning[order].T,
            aspect="auto",
            cmap="RdBu_r",
            vmin=-lim,
            vmax=lim,
            interpolation="nearest",
        )
        row[0].set_yticks(range(tuning.shape[1]), [str(v) for v in res["manifold"].values])
        row[0].set_xlabel("unit (sorted by preferred class, then norm)")
        row[0].set_ylabel("class")
        fig.colorbar(im, ax=row[0], label="mean response")
        rel = np.sort(norms)[::-1] / (norms.max() or 1.0)
        row[1].plot(
            np.arange(1, rel.size + 1),
            rel,
            color="0.2",
            label=f"coding fraction {float(res['coding_fraction']):.2f}",
        )
        row[1].axhline(float(res.attrs.get("active_threshold", 0.2)), color="0.5", ls=":", lw=1)
        row[1].set_xlabel("unit rank")
        row[1].set_ylabel("tuning norm / largest")
        row[1].legend(fontsize=8)
        values = [float(res[s]) for s in scores]
        errs = [float(res[f"{s}_sem"]) for s in scores]
        row[2].bar(range(len(scores)), values, yerr=np.nan_to_num(errs), color="0.6", capsize=3)
        row[2].set_xticks(range(len(scores)), [s.replace("_", "\n") for s in scores], fontsize=7)
        row[2].set_ylim(0, 1.05)
        row[2].set_ylabel("score")
        row[0].set_title(f"{name}: {str(res['scheme'].values)}")
    return fig


def plot_coding_phases(ds: xr.Dataset) -> Figure:
    """Phase picture of coding schemes: the scheme at every nonlinearity x scaling x prior scale.

    Parameters
    ----------
    ds : xarray.Dataset
        The result of :func:`neurogeom.workflows.coding_phases.coding_phases`, dims (``activation``,
        ``scaling``, ``prior_scale``, ``chain``).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per scaling: activation (rows) x prior scale (columns), coloured by the
        chains' mean clustered fraction, each cell labelled with the majority scheme over chains
        and the mean coding fraction.

    See Also
    --------
    neurogeom.workflows.coding_phases.coding_phases : the numbers it plots.
    neurogeom.show.save_figure : writes the figure.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> dims = ("activation", "scaling", "prior_scale", "chain")
    >>> ds = xr.Dataset(
    ...     {"clustered_fraction": (dims, np.full((2, 1, 2, 2), 0.5)),
    ...      "coding_fraction": (dims, np.full((2, 1, 2, 2), 0.3)),
    ...      "scheme": (dims, np.full((2, 1, 2, 2), "distributed"))},
    ...     coords={"activation": ["relu", "erf"], "scaling": ["mean_field"],
    ...             "prior_scale": [0.5, 2.0], "chain": [0, 1]},
    ... )
    >>> len(plot_coding_phases(ds).axes)  # one panel per scaling, and the colour bar
    2
    """
    scalings = [str(s) for s in ds["scaling"].values]
    fig, axes = new_figure(len(scalings), width=4.2, height=3.2)
    for ax, sc in zip(axes, scalings):
        sub = ds.sel(scaling=sc)
        clustered = sub["clustered_fraction"].mean("chain").transpose("activation", "prior_scale")
        coding = sub["coding_fraction"].mean("chain").transpose("activation", "prior_scale")
        im = ax.imshow(clustered.values, vmin=0, vmax=1, cmap="viridis", aspect="auto")
        for i in range(clustered.shape[0]):
            for j in range(clustered.shape[1]):
                labels = sub["scheme"].transpose("activation", "prior_scale", "chain").values[i, j]
                kinds, counts = np.unique(labels.astype(str), return_counts=True)
                ax.text(
                    j,
                    i,
                    f"{kinds[counts.argmax()]}\ncoding {float(coding[i, j]):.2f}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="w",
                )
        ax.set_xticks(range(clustered.shape[1]), [f"{p:g}" for p in ds["prior_scale"].values])
        ax.set_yticks(range(clustered.shape[0]), [str(a) for a in ds["activation"].values])
        ax.set_xlabel("prior scale σ")
        ax.set_title(f"{sc.replace('_', '-')} scaling")
        fig.colorbar(im, ax=ax, label="clustered fraction")
    return fig


def _seed_mean_sd(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and s.d. over ``seed`` (s.d. 0 with one seed)."""
    mean = da.mean("seed").values
    sd = da.std("seed", ddof=1).values if da.sizes["seed"] > 1 else np.zeros_like(mean)
    return np.asarray(mean, float), np.asarray(sd, float)


def _per_alpha(
    ax: Axes,
    ds: xr.Dataset,
    alphas: np.ndarray,
    colors: Mapping[str, Any],
    var: str,
    arch: str,
    sel: Mapping[str, int],
    **kw: Any,
) -> None:
    """Mean ± s.d. over seeds of one variable against alpha, for one architecture."""
    da = ds[var].sel(architecture=arch)
    for dim, i in sel.items():
        if dim in da.dims:
            da = da.isel({dim: i})
    mean, sd = _seed_mean_sd(da)
    ax.errorbar(alphas, mean, yerr=sd, color=colors[arch], marker="o", capsize=3, **kw)


def _lazy_rich_along_training(
    ax: Axes, ds: xr.Dataset, archs: list[str], alphas: np.ndarray
) -> None:
    """Capacity along training, one colour per alpha, one line style per architecture."""
    import matplotlib as mpl

    cmap = mpl.colormaps["viridis"]
    steps = np.asarray(ds["step"].values, float)
    for k, alpha in enumerate(alphas):
        color = cmap(k / max(len(alphas) - 1, 1))
        for arch, ls in zip(archs, ("-", "--", ":", "-.")):
            mean, _ = _seed_mean_sd(ds["capacity"].sel(architecture=arch, alpha=alpha))
            ax.plot(
                steps,
                mean,
                ls,
                color=color,
                marker=".",
                label=f"α = {alpha:g}" if arch == archs[0] else None,
            )
    ax.set_xlabel("training step")
    ax.set_ylabel("last-layer capacity α_M (per unit)")
    ax.set_title(
        " / ".join(f"{a} {ls}" for a, ls in zip(archs, ("—", "- -", "···", "-·"))), fontsize=8
    )
    ax.legend(fontsize=7, ncol=2)


def _lazy_rich_accuracy(
    ax: Axes, ds: xr.Dataset, archs: list[str], alphas: np.ndarray, colors: Mapping[str, Any]
) -> None:
    """Clean test accuracy (error bars) and at the highest severity of each corruption."""
    last = {"step": -1}
    worst = int(ds["severity"].values.argmax())
    for arch in archs:
        _per_alpha(ax, ds, alphas, colors, "accuracy", arch, last, label=f"{arch} clean")
        for corr, ls in zip(ds["corruption"].values, (":", "--", "-.")):
            da = ds["ood_accuracy"].sel(architecture=arch, corruption=corr).isel(severity=worst)
            mean, _ = _seed_mean_sd(da)
            ax.plot(
                alphas,
                mean,
                ls,
                color=colors[arch],
                marker="x",
                ms=4,
                label=f"{arch} {corr} {int(ds['severity'][worst])}",
            )
    ax.axhline(0.1, color="0.5", ls=":", lw=1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("test accuracy (fraction correct)")
    ax.legend(fontsize=6, ncol=2)


def plot_lazy_rich(ds: xr.Dataset, paper: Mapping[float, float] | None = None) -> Figure:
    """A lazy-rich sweep: weight change, last-layer capacity, OOD and transfer against alpha.

    Parameters
    ----------
    ds : xarray.Dataset
        The result of :func:`neurogeom.workflows.lazy_rich.lazy_rich_sweep`, dims
        ``(architecture, alpha, seed, step, corruption, severity)``.
    paper : mapping of float to float, optional
        Reference capacities by alpha (e.g.
        :data:`neurogeom.show.lazy_rich_report.PAPER_CAPACITY`), drawn grey on a right-hand axis of
        the capacity panel (another network and data set: compare the shape, not the level).

    Returns
    -------
    matplotlib.figure.Figure
        Five panels: the relative weight change at the end (log-log); the last hidden layer's
        capacity at the end; capacity along training (one line per alpha); clean and
        most-corrupted test accuracy; the transfer probe's accuracy with its value at
        initialisation and chance. Against alpha on a log axis; mean ± s.d. over seeds.

    See Also
    --------
    neurogeom.show.lazy_rich_report.lazy_rich_report

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> c = {"architecture": ["mlp"], "alpha": [1.0, 10.0], "seed": [0, 1], "step": [0, 5],
    ...      "corruption": ["noise"], "severity": [0, 5]}
    >>> a3, a4 = ("architecture", "alpha", "seed"), ("architecture", "alpha", "seed", "step")
    >>> ds = xr.Dataset({"weight_change": (a4, np.full((1, 2, 2, 2), 0.1)),
    ...     "capacity": (a4, np.full((1, 2, 2, 2), 0.2)),
    ...     "accuracy": (a4, np.full((1, 2, 2, 2), 0.9)),
    ...     "ood_accuracy": ((*a3, "corruption", "severity"), np.full((1, 2, 2, 1, 2), 0.5)),
    ...     "transfer_accuracy": (a3, np.full((1, 2, 2), 0.8)),
    ...     "transfer_accuracy_init": (a3, np.full((1, 2, 2), 0.7))}, coords=c)
    >>> len(plot_lazy_rich(ds).axes)
    5
    """

    archs = [str(a) for a in ds["architecture"].values]
    colors = palette(archs)
    alphas = np.asarray(ds["alpha"].values, float)
    fig, axes = new_figure(5, width=3.8, height=3.2, ncols=3)
    last = {"step": -1}

    ax = axes[0]
    for arch in archs:
        _per_alpha(ax, ds, alphas, colors, "weight_change", arch, last, label=arch)
    ax.set_yscale("log")
    ax.set_ylabel("||w − w0|| / ||w0|| at the end (ratio)")
    ax.legend(fontsize=8)
    ax = axes[1]
    for arch in archs:
        _per_alpha(ax, ds, alphas, colors, "capacity", arch, last, label=arch)
    ax.set_ylabel("last-layer capacity α_M at the end (per unit)")
    if paper:
        twin = ax.twinx()
        ref = sorted(paper.items())
        twin.plot(
            [a for a, _ in ref],
            [v for _, v in ref],
            "s--",
            color="0.55",
            ms=4,
            label="seed study, VGG-11 CIFAR-10",
        )
        twin.set_ylabel("seed study's capacity (per unit)", color="0.45")
        twin.legend(fontsize=7, loc="upper right")
    _lazy_rich_along_training(axes[2], ds, archs, alphas)
    _lazy_rich_accuracy(axes[3], ds, archs, alphas, colors)
    ax = axes[4]
    for arch in archs:
        _per_alpha(ax, ds, alphas, colors, "transfer_accuracy", arch, {}, label=f"{arch} trained")
        mean, _ = _seed_mean_sd(ds["transfer_accuracy_init"].sel(architecture=arch))
        ax.plot(alphas, mean, ":", color=colors[arch], label=f"{arch} at init")
    chance = float(ds.attrs.get("chance_transfer_accuracy", np.nan))
    if np.isfinite(chance):
        ax.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
    ax.set_ylabel("transfer probe accuracy (fraction)")
    ax.legend(fontsize=7)
    for ax in axes:
        if ax is not axes[2]:
            ax.set_xscale("log")
            ax.set_xlabel("output scale α (log; large = lazy)")
    return fig


def plot_volume_element(
    grids: xr.Dataset | Mapping[str, xr.Dataset], *, points: xr.Dataset | None = None
) -> Figure:
    """The log volume element of a feature map on a 2-D grid, with the decision boundary.

    Parameters
    ----------
    grids : xarray.Dataset or mapping of str to Dataset
        Results of :func:`neurogeom.geometry.riemann.metric_on_grid` (dims ``y``, ``x``), one panel
        each (a mapping names the panels, e.g. ``{"initialisation": g0, "trained": g1}``). Where a
        grid has ``predicted`` (a classifier was given) its decision boundary is drawn in black.
    points : xarray.Dataset or None, default None
        Training inputs to overlay: variables ``x`` and ``y`` (input coordinates) and ``label``
        over one dim.

    Returns
    -------
    matplotlib.figure.Figure
        One heat map per grid of ``log sqrt(det g)`` (natural log; colour scale shared across
        panels), axes in input units.

    See Also
    --------
    neurogeom.geometry.riemann.metric_on_grid : the grids it draws.

    Examples
    --------
    >>> import torch
    >>> from neurogeom.geometry import metric_on_grid
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 20), torch.nn.Sigmoid())
    >>> grid = metric_on_grid(net, n_grid=11)
    >>> fig = plot_volume_element({"initialisation": grid, "again": grid})
    >>> [ax.get_title() for ax in fig.axes[:2]]
    ['initialisation', 'again']
    """
    named = _as_mapping(grids, "feature map")
    values = [np.asarray(g["log_volume_element"], float) for g in named.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values])
    vmin, vmax = (float(np.min(finite)), float(np.max(finite))) if finite.size else (0.0, 1.0)
    fig, axes = new_figure(len(named), width=4.0, height=3.5)
    image = None
    for ax, (name, g) in zip(axes, named.items()):
        x, y = np.asarray(g["x"], float), np.asarray(g["y"], float)
        image = ax.pcolormesh(
            x,
            y,
            g["log_volume_element"].transpose("y", "x").values,
            shading="auto",
            cmap="viridis",
            vmin=vmin,
            vmax=vmax,
        )
        if "predicted" in g:
            pred = np.asarray(g["predicted"].transpose("y", "x").values, float)
            levels = np.unique(pred)
            if levels.size > 1:
                ax.contour(
                    x, y, pred, levels=(levels[:-1] + levels[1:]) / 2, colors="k", linewidths=1.2
                )
        if points is not None:
            ax.scatter(
                points["x"],
                points["y"],
                c=points["label"],
                cmap="coolwarm",
                s=4,
                edgecolors="none",
                alpha=0.6,
            )
        ax.set(title=name, xlabel="input 1", ylabel="input 2", aspect="equal")
    if image is not None:
        fig.colorbar(image, ax=axes, label="log volume element, log sqrt(det g)")
    return fig
