"""The report of a pullback spec (``neurogeom run tasks/pullback_sine.toml``).

:func:`pullback_report` puts the volume element at initialisation and after training
(:func:`neurogeom.show.figures.plot_volume_element`), the boundary magnification index along
training, a table per checkpoint and a plain-language reading into one HTML report.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure

from neurogeom.show._style import save_figure
from neurogeom.show.report import Report, spec_report

__all__ = ["plot_pullback_index", "pullback_reading", "pullback_report", "pullback_table"]


def pullback_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per checkpoint: mean and s.d. over seeds of the index and the training accuracy.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.pullback.pullback_sweep`'s result.

    Returns
    -------
    pandas.DataFrame
        Index ``step``; columns ``accuracy``, ``boundary_magnification_final`` (the metric at
        that step against the final boundary) and ``boundary_magnification`` (against the
        network's own boundary at that step), each ``_mean`` and ``_sd``; ``n_seeds``.

    See Also
    --------
    pullback_reading : one sentence of it.
    pullback_report : the report.

    Examples
    --------
    >>> ds = xr.Dataset({v: (("seed", "step"), np.arange(4.0).reshape(2, 2)) for v in
    ...                  ("accuracy", "boundary_magnification", "boundary_magnification_final")},
    ...                 coords={"seed": [0, 1], "step": [0, 10]})
    >>> pullback_table(ds)["accuracy_mean"].tolist()
    [1.0, 2.0]
    """
    cols = {}
    for name in ("accuracy", "boundary_magnification_final", "boundary_magnification"):
        da = ds[name]
        cols[f"{name}_mean"] = da.mean("seed").values
        cols[f"{name}_sd"] = da.std("seed", ddof=1).values if ds.sizes["seed"] > 1 else np.nan
    df = pd.DataFrame(cols, index=pd.Index(ds["step"].values, name="step"))
    df["n_seeds"] = ds.sizes["seed"]
    return df


def plot_pullback_index(ds: xr.Dataset) -> Figure:
    """Boundary magnification index and training accuracy against the training step, per seed.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.pullback.pullback_sweep`'s result.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the index of the metric at each step against the final boundary (solid) and
        against the network's own boundary at that step (dotted, where it has one), one colour
        per seed. Right: training accuracy.

    See Also
    --------
    neurogeom.workflows.pullback_sweep : the numbers it plots.
    pullback_report : the report around it.

    Examples
    --------
    >>> from neurogeom.workflows.pullback import pullback_sweep
    >>> spec = {"pullback": {"seeds": [0], "n_points": 50, "width": 20, "n_steps": 20,
    ...                      "checkpoint_steps": [0, 20], "n_grid": 11, "n_index": 7}}
    >>> ds = pullback_sweep(spec)  # one small network, 20 steps: too short to fit the boundary
    >>> fig = plot_pullback_index(ds)
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['boundary magnification (log ratio)', 'training accuracy (fraction)']
    """
    fig, (ax, acc) = plt.subplots(1, 2, figsize=(9, 3.5))
    steps = ds["step"].values
    for i, seed in enumerate(ds["seed"].values):
        c = f"C{i}"
        sub = ds.sel(seed=seed)
        ax.plot(steps, sub["boundary_magnification_final"], "o-", color=c, label=f"seed {seed}")
        ax.plot(steps, sub["boundary_magnification"], "s:", color=c, ms=3)
        acc.plot(steps, sub["accuracy"], "o-", color=c)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set(
        xlabel="training step",
        ylabel="boundary magnification (log ratio)",
        title="near minus far (solid: final boundary)",
    )
    ax.legend(fontsize=8)
    acc.set(xlabel="training step", ylabel="training accuracy (fraction)", ylim=(0, 1.02))
    fig.tight_layout()
    return fig


def pullback_reading(ds: xr.Dataset) -> str:
    """Plain-language reading of the index at initialisation and at the end of training.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.pullback.pullback_sweep`'s result.

    Returns
    -------
    str
        The index near minus far from the boundary at the end against initialisation, per
        seed, and what the training accuracy says about it.

    See Also
    --------
    pullback_table : the table it reads.
    pullback_report : the report.

    Examples
    --------
    >>> from neurogeom.workflows.pullback import pullback_sweep
    >>> spec = {"pullback": {"seeds": [0], "n_points": 50, "width": 20, "n_steps": 20,
    ...                      "checkpoint_steps": [0, 20], "n_grid": 11, "n_index": 7}}
    >>> ds = pullback_sweep(spec)  # one small network, 20 steps: too short to fit the boundary
    >>> pullback_reading(ds).startswith("After 20 steps")
    True
    """
    first = ds["boundary_magnification_final"].isel(step=0).values
    last = ds["boundary_magnification_final"].isel(step=-1).values
    acc = ds["accuracy"].isel(step=-1).values
    n, up = len(last), int(np.sum(last > first + 0.15))
    text = (
        f"After {int(ds['step'][-1])} steps (training accuracy {acc.min():.3f}-"
        f"{acc.max():.3f}) the log volume element near the decision boundary exceeds that far "
        f"from it by {last.min():.2f} to {last.max():.2f} (mean {last.mean():.2f}), against "
        f"{first.min():.2f} to {first.max():.2f} for the initial metric on the same boundary; "
        f"the index rose by more than 0.15 at {up} of {n} seeds."
    )
    path = ds["boundary_magnification_final"].mean("seed").values
    if len(path) > 2 and path[1:-1].min() < min(path[0], path[-1]) - 0.15:
        k = int(np.argmin(path[1:-1])) + 1
        text += (
            f" The way there is not monotone: at step {int(ds['step'][k])} the mean index "
            f"was {path[k]:.2f}, below both ends (the volume element grows first in bands "
            "that do not follow the boundary)."
        )
    if acc.min() < 0.97:
        text += (
            " Some networks have not fitted the boundary (accuracy below 0.97): the index "
            "then says little about magnification; train longer."
        )
    elif up == n:
        text += " Training magnified areas near the boundary, as Zavatone-Veth et al. report."
    return text


def pullback_report(
    ds: xr.Dataset, *, figures: str | Path, setting: str, spec: str, title: str | None = None
) -> Report:
    """The report of a pullback spec (:func:`neurogeom.workflows.pullback.pullback_sweep`):
    inputs, settings, the figures (``pullback_volume`` and ``pullback_index``, png and svg,
    written into the folder ``figures``), the table, the reading. The other arguments and the
    result are those of ``neurogeom.show.report.spec_report``.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.pullback.pullback_sweep`'s result.
    figures : str or path
        Existing folder the figures are written to (png and svg).
    setting : str
        The setting's name (``"fast"``, ``"full"``), shown in the inputs.
    spec : str
        The spec's path, shown in the inputs.
    title : str, optional
        The report's title (default: 'Pullback geometry along training').

    Returns
    -------
    Report
        Not yet saved (:meth:`~neurogeom.show.report.Report.save`).

    See Also
    --------
    neurogeom.show.figures.plot_volume_element : the volume-element figure.
    plot_pullback_index : the index figure.
    pullback_reading : its reading.

    Examples
    --------
    >>> from neurogeom.workflows.pullback import pullback_sweep
    >>> spec = {"pullback": {"seeds": [0], "n_points": 50, "width": 20, "n_steps": 20,
    ...                      "checkpoint_steps": [0, 20], "n_grid": 11, "n_index": 7}}
    >>> ds = pullback_sweep(spec)  # one small network, 20 steps: too short to fit the boundary
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = pullback_report(ds, figures=folder, setting="fast", spec="pullback.toml")
    ...     files = sorted(p.stem for p in Path(folder).glob("*.png"))
    >>> files, report.n_figures
    (['pullback_index', 'pullback_volume'], 2)
    """
    from neurogeom.show.figures import plot_volume_element

    rep, cfg = spec_report(
        ds, spec=spec, setting=setting, title=title or "Pullback geometry along training"
    )
    rep.settings["pullback"] = cfg
    rep.add_section(
        "The pullback metric of the hidden layer",
        (
            "g(x) = J(x)^T J(x) / N with J the Jacobian of the hidden layer's activity (N units); its "
            "volume element sqrt(det g) tells how much the layer stretches area at x. The boundary "
            "magnification index is the mean log volume element over the 20 % of points of a grid on "
            "the data square nearest the decision boundary (smallest logit margin) minus that over "
            "the 20 % farthest. The numbers per seed and step are in results/pullback.nc."
        ),
    )
    seed = ds["seed"].values[0]
    points = xr.Dataset({"x": ds["train_x"], "y": ds["train_y"], "label": ds["train_label"]})
    grids = {
        f"step {int(ds['step'][i])} (seed {seed})": ds.sel(seed=seed).isel(step=i) for i in (0, -1)
    }
    fig = plot_volume_element(grids, points=points)
    save_figure(fig, Path(figures) / "pullback_volume")
    rep.add_figure(
        fig,
        "Log volume element of the hidden layer's pullback metric at "
        "initialisation and after training (natural log, shared colour scale); black: "
        "the network's decision boundary; dots: the training inputs by class.",
        pullback_reading(ds),
    )
    fig = plot_pullback_index(ds)
    save_figure(fig, Path(figures) / "pullback_index")
    rep.add_figure(
        fig, "The boundary magnification index along training, per seed, and the training accuracy."
    )
    rep.add_table(
        pullback_table(ds),
        "Per checkpoint: mean and s.d. over seeds (index in "
        "natural-log units; accuracy as a fraction).",
    )
    return rep
