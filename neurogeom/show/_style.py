"""Shared look of every figure: one palette, axis labels with units, atomic PNG + SVG files."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # figures are files; no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from neurogeom._files import write_atomic  # noqa: E402

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["palette", "measure_label", "save_figure", "figure_png", "STAGE_COLORS"]

# Conditions and measures that keep one colour in every figure of the package.
_FIXED: dict[str, int] = {
    "brain": 0,
    "model": 1,
    "before": 2,
    "after": 3,
    "capacity": 0,
    "radius": 1,
    "dimension": 2,
    "center_alignment": 3,
    "axis_alignment": 4,
    "center_axis_alignment": 5,
    "utility": 6,
}
STAGE_COLORS: dict[str, str] = {
    "clustering": "#cfe2f3",
    "structuring": "#fce5cd",
    "separating": "#d9ead3",
    "stabilizing": "#eeeeee",
    "changing": "#f4cccc",
}


def palette(names: Iterable[str]) -> dict[str, tuple[float, float, float]]:
    """One colour per condition (or measure), the same in every figure.

    Known names (``brain``, ``model``, ``before``, ``after`` and the GLUE measures) always get the
    same colour of seaborn's colour-blind palette; other names get the remaining colours in sorted
    order. Pass every condition of an analysis at once so each keeps its colour everywhere.

    Parameters
    ----------
    names : iterable of str
        Condition or measure names.

    Returns
    -------
    dict
        name -> RGB tuple (floats in [0, 1]).

    See Also
    --------
    measure_label : the axis label of a measure.

    Examples
    --------
    >>> palette(["model", "brain"])["brain"] == palette(["brain"])["brain"]
    True
    """
    unique = sorted({str(n) for n in names})
    base = sns.color_palette("colorblind", 10)
    out: dict[str, tuple[float, float, float]] = {}
    taken = {_FIXED[n] for n in unique if n in _FIXED}
    free = [i for i in range(10) if i not in taken]
    others = [n for n in unique if n not in _FIXED]
    extra = sns.color_palette("husl", max(0, len(others) - len(free)))
    for n in unique:
        if n in _FIXED:
            out[n] = tuple(base[_FIXED[n]])
    for k, n in enumerate(others):
        out[n] = tuple(base[free[k]]) if k < len(free) else tuple(extra[k - len(free)])
    return out


def measure_label(measure: str | xr.DataArray) -> str:
    """Axis label of a measure, with its units (e.g. ``"radius R (relative to centre norm)"``).

    Parameters
    ----------
    measure : xarray.DataArray or str
        A measure's output variable: its ``long_name`` and ``units`` attrs (written by the
        measure, from the registry) make the label. A name, or a variable without them, gives
        the name with spaces.

    Returns
    -------
    str
        ``"<long_name> (<units>)"``, or the long name alone when the units are empty.

    See Also
    --------
    palette : the colours of the same names.

    Examples
    --------
    >>> import xarray as xr
    >>> measure_label(xr.DataArray(1.0, attrs={"long_name": "radius R", "units": "a.u."}))
    'radius R (a.u.)'
    >>> measure_label("center_alignment")
    'center alignment (units of the measure)'
    """
    attrs = getattr(measure, "attrs", {})
    name = str(getattr(measure, "name", measure))
    long_name = attrs.get("long_name") or name.replace("_", " ")
    units = attrs.get("units", "units of the measure" if "long_name" not in attrs else "")
    return f"{long_name} ({units})" if units else str(long_name)


def figure_png(fig: Figure, *, dpi: int = 110) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def save_figure(fig: Figure, path_stem: str | os.PathLike, *, dpi: int = 150) -> tuple[Path, Path]:
    """Write a figure as ``<path_stem>.png`` and ``<path_stem>.svg``, each atomically.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path_stem : str or path
        Path without suffix; its folder must exist.
    dpi : int, default=150
        Resolution of the PNG.

    Returns
    -------
    (Path, Path)
        The PNG and SVG paths.

    Raises
    ------
    FileNotFoundError
        If the folder of ``path_stem`` does not exist (nothing is written).

    See Also
    --------
    Report.add_figure : a figure in a report instead.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots(figsize=(2, 2))
    >>> _ = ax.plot([0, 1], [0, 1])
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     png, svg = save_figure(fig, Path(folder) / "line", dpi=50)
    ...     names = sorted(p.name for p in Path(folder).iterdir())
    >>> names, png.suffix, svg.suffix
    (['line.png', 'line.svg'], '.png', '.svg')
    >>> plt.close(fig)
    """
    stem = Path(path_stem)
    if not stem.parent.is_dir():
        raise FileNotFoundError(f"folder {stem.parent} does not exist; create it first.")
    png, svg = stem.with_name(stem.name + ".png"), stem.with_name(stem.name + ".svg")
    write_atomic(png, figure_png(fig, dpi=dpi))
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    write_atomic(svg, buf.getvalue())
    return png, svg


def _plain(value: float, _pos=None) -> str:
    """A tick label in plain numbers: 0.6, 1, 10, 400 (never 6x10^-1)."""
    return f"{value:.3g}" if value else "0"


def plain_ticks(ax, *, axis: str = "both") -> None:
    """Plain tick labels on a linear, log or symlog axis: majors as plain numbers; on a log axis
    that spans less than two decades, minors 2 and 5 of each decade too (all of them under one
    decade; else none). Call it after the limits are set."""
    import numpy as np
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for which in ("x", "y") if axis == "both" else (axis,):
        ax_ = ax.xaxis if which == "x" else ax.yaxis
        ax_.set_major_formatter(FuncFormatter(_plain))
        lo, hi = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
        scale = ax_.get_scale()
        if scale in ("log", "symlog") and lo > 0 and np.log10(hi / lo) < 2:
            shown = (2, 5) if np.log10(hi / lo) > 1 else (2, 3, 4, 5, 6, 7, 8, 9)

            def minor(v, _pos=None, shown=shown):
                mantissa = round(v / 10 ** np.floor(np.log10(v)), 6) if v > 0 else 0
                return _plain(v) if mantissa in shown else ""

            ax_.set_minor_formatter(FuncFormatter(minor))
        else:
            ax_.set_minor_formatter(NullFormatter())


def new_figure(n_panels: int, *, width: float = 3.6, height: float = 3.0, ncols: int = 3):
    """A figure with ``n_panels`` axes on a grid of at most ``ncols`` columns (extra axes removed)."""
    ncols = max(1, min(ncols, n_panels))
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, layout="constrained"
    )
    flat = axes.ravel().tolist()
    for ax in flat[n_panels:]:
        ax.remove()
    return fig, flat[:n_panels]
