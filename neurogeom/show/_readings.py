"""Plain-language readings of results: what a number means, and what it does not."""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurogeom._deprecation import renamed_arguments

__all__ = ["reading"]


def _num(ds: xr.Dataset, name: str) -> float:
    return float(np.asarray(ds[name].values).ravel()[0]) if name in ds else float("nan")


def _floor_reading(ds: xr.Dataset) -> str:
    frac = ds.attrs.get("no_separating_fraction")
    extra = (
        f" {float(frac):.0%} of the probed dichotomies had no separating direction."
        if frac is not None
        else ""
    )
    return (
        "Capacity sits at the floor P/rank: no probed dichotomy was separable beyond what the rank of "
        "the points allows, so radius and dimension carry no information here (they are NaN)."
        + extra
        + " It does not mean the manifolds are unstructured; try fewer points per manifold, a shorter "
        "window, or more units."
    )


def _stages_reading(ds: xr.Dataset) -> str:
    steps = [f"{s:g}" for s in ds["boundary_step"].values]
    names = ", ".join(ds["label"].values.tolist())
    at = ds["n_boundaries_at"].values.tolist()
    support = ds["boundary_support"].values
    stable = (
        ""
        if np.all(np.isnan(support))
        else f" Over bootstrap replicates each boundary was found within one checkpoint in "
        f"{', '.join(f'{s:.0%}' for s in support)} of them."
    )
    where = f"at steps {', '.join(steps)}" if steps else "nowhere"
    labels = [str(v) for v in ds["label"].values]
    source = ds["label_source"].values if "label_source" in ds else ["within"] * len(labels)
    why = ""
    if "boundary_reason" in ds:
        for k, reason in enumerate(ds["boundary_reason"].values):
            same = labels[k] == labels[k + 1]
            why += f" Step {steps[k]} stands because {reason}" + (
                f"; both sides are {labels[k]}, so read them as one {labels[k]} stretch "
                "that bends there."
                if same
                else "."
            )
    jumped = [
        f"{labels[k]} (from step {steps[k - 1]})" for k in range(len(labels)) if source[k] == "jump"
    ]
    if jumped:
        why += (
            f" Named by the jump into them, as nothing moves inside them beyond noise: "
            f"{', '.join(jumped)}."
        )
    return (
        f"The measures change their course beyond the noise of their error bars {where}; the "
        f"segments read as {names}.{why} With half and twice the penalty there are {at[0]} and "
        f"{at[2]} boundaries.{stable} The names follow a stated rule on which measures move; "
        "they are a convention, not a finding, and a boundary that vanishes at twice the "
        "penalty or has low support is not established."
    )


def _difference_reading(ds: xr.Dataset) -> str:
    d, lo, hi, p = (
        _num(ds, k) for k in ("difference", "difference_ci_low", "difference_ci_high", "p_value")
    )
    conf = float(ds.attrs.get("confidence", 0.95))
    verdict = (
        "the change is larger than chance would give"
        if p < 1 - conf
        else "chance could give a change this large"
    )
    who = (
        "across subjects"
        if ds.attrs.get("estimator") == "paired_difference"
        else "between the two stages"
    )
    return (
        f"The measure changes by {d:.3g} {who} ({conf:.0%} CI {lo:.3g} to {hi:.3g}; permutation "
        f"p = {p:.3g}): {verdict}. The interval is over resampled trials or subjects, not over new "
        "animals or networks unless the test is paired; a small p-value is not a large effect."
    )


def _capacity_reading(ds: xr.Dataset) -> str:
    c, sem = _num(ds, "capacity"), _num(ds, "capacity_sem")
    return (
        f"Capacity is {c:.3g} (Monte-Carlo s.e. {sem:.2g}): about {c:.3g} manifolds per unit can be "
        "linearly separated in random dichotomies. The error is the estimator's alone; it says "
        "nothing about how the number would change with other trials."
    )


@renamed_arguments(result="ds")
def reading(ds: xr.Dataset) -> str:
    """A plain-language reading of a result Dataset: what it means and what it does not.

    Knows the outputs of ``learning_stages``, ``stage_difference``, ``difference_test``,
    ``paired_difference`` and any
    capacity result (``at_floor`` in attrs gives the floor reading).

    Parameters
    ----------
    ds : xarray.Dataset
        A result of the package.

    Returns
    -------
    str
        One paragraph.

    See Also
    --------
    trajectory_reading : the reading of a trajectory.
    Report.add_text : puts it in a report.

    Examples
    --------
    >>> import xarray as xr
    >>> reading(xr.Dataset({"capacity": 0.5}, attrs={"at_floor": 1}))[:37]
    'Capacity sits at the floor P/rank: no'
    """
    est = str(ds.attrs.get("estimator", ""))
    if int(ds.attrs.get("at_floor", 0)) == 1:
        return _floor_reading(ds)
    if est == "learning_stages":
        return _stages_reading(ds)
    if est in {"stage_difference", "difference_test", "paired_difference"}:
        return _difference_reading(ds)
    if "capacity" in ds:
        return _capacity_reading(ds)
    raise ValueError(
        f"no reading is known for a result of estimator {est!r}; write one with Report.add_text()."
    )
