"""The report of a lazy-rich sweep (``neurogeom run tasks/lazy_rich_digits.toml``).

:func:`lazy_rich_report` puts the figure (:func:`neurogeom.show.figures.plot_lazy_rich`), a table
per (architecture, alpha) and a plain-language reading against the seed study's released numbers
(VGG-11 on CIFAR-10: last-layer capacity about 0.053 at alpha = 1, a peak near 0.066 at alpha
5-7.5, 0.054 at alpha = 100) into one HTML report.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom.show._style import save_figure
from neurogeom.show.report import Report, spec_report

__all__ = ["PAPER_CAPACITY", "lazy_rich_table", "lazy_rich_reading", "lazy_rich_report"]

#: The released last-layer capacities of the seed study (VGG-11 trained on CIFAR-10 at output
#: scale alpha, capacity of 10 CIFAR-100 classes x 50 images; read from its tables): not
#: monotone in alpha, a peak near alpha 5-7.5.
PAPER_CAPACITY: dict[float, float] = {1.0: 0.053, 5.0: 0.066, 7.5: 0.066, 100.0: 0.054}


def _final(ds: xr.Dataset, name: str) -> xr.DataArray:
    da = ds[name]
    return da.isel(step=-1) if "step" in da.dims else da


def _worst_ood(ds: xr.Dataset) -> xr.DataArray:
    """OOD accuracy at the highest severity, averaged over corruptions."""
    return ds["ood_accuracy"].isel(severity=int(ds["severity"].values.argmax())).mean("corruption")


def lazy_rich_table(ds: xr.Dataset) -> pd.DataFrame:
    """Per (architecture, alpha): means and s.d. over seeds of the final numbers.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.lazy_rich.lazy_rich_sweep`'s result.

    Returns
    -------
    pandas.DataFrame
        Index (architecture, alpha); columns ``<name>_mean`` and ``<name>_sd`` for test accuracy,
        weight change, capacity, radius and dimension at the last checkpoint, the OOD accuracy at
        the highest severity (mean over corruptions), and the transfer probe (trained and at
        initialisation); ``n_seeds``.

    See Also
    --------
    lazy_rich_reading : one sentence of it.
    lazy_rich_report : the report.

    Examples
    --------
    >>> ds = xr.Dataset({"capacity": (("architecture", "alpha", "seed", "step"),
    ...                               np.arange(8.0).reshape(1, 2, 2, 2))},
    ...                 coords={"architecture": ["mlp"], "alpha": [1.0, 10.0], "seed": [0, 1]})
    >>> lazy_rich_table(ds)["capacity_mean"].tolist()
    [2.0, 6.0]
    """
    cols: dict[str, xr.DataArray] = {}
    for name in (
        "accuracy",
        "weight_change",
        "capacity",
        "radius",
        "dimension",
        "transfer_accuracy",
        "transfer_accuracy_init",
    ):
        if name in ds:
            cols[name] = _final(ds, name)
    if "ood_accuracy" in ds:
        cols["ood_accuracy_worst"] = _worst_ood(ds)
    rows = {}
    n = ds.sizes["seed"]
    for name, da in cols.items():
        rows[f"{name}_mean"] = da.mean("seed")
        rows[f"{name}_sd"] = (
            da.std("seed", ddof=1) if n > 1 else xr.full_like(da.mean("seed"), np.nan)
        )
    df = xr.Dataset(rows).to_dataframe()
    df = df[[c for c in df.columns if c in rows]]
    df["n_seeds"] = n
    return df


def _se_diff(a: np.ndarray, b: np.ndarray) -> float:
    n = len(a)
    return float(np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n)) if n > 1 else np.nan


def _capacity_shape(cap: xr.DataArray) -> tuple[str, float, float, float, float]:
    """(verdict, alpha of the peak, capacity at the smallest alpha, at the peak, at the largest)."""
    v = np.asarray(cap.transpose("alpha", "seed").values, float)
    means = v.mean(1)
    k = int(means.argmax())
    alphas = np.asarray(cap["alpha"].values, float)
    lo, pk, hi = means[0], means[k], means[-1]
    if 0 < k < len(means) - 1:
        z = min((pk - lo) / _se_diff(v[k], v[0]), (pk - hi) / _se_diff(v[k], v[-1]))
        if np.isfinite(z) and z >= 2:
            verdict = (
                f"not monotone, with an interior peak at alpha = {alphas[k]:g} "
                f"({z:.1f} s.e. above both ends): the same shape as the seed study"
            )
        else:
            verdict = (
                f"highest at alpha = {alphas[k]:g}, but within "
                f"{'one seed' if not np.isfinite(z) else f'{z:.1f} s.e.'} of an end: "
                "no clear interior peak"
            )
    else:
        rho = pd.Series(means).corr(
            pd.Series(np.arange(len(means), dtype=float)), method="spearman"
        )
        trend = "falling" if rho < 0 else "rising"
        verdict = (
            f"{trend} with alpha (Spearman rho = {rho:+.2f} over the alphas), its maximum "
            f"at the {'smallest' if k == 0 else 'largest'} alpha: not the seed study's "
            "interior peak"
        )
    return verdict, float(alphas[k]), float(lo), float(pk), float(hi)


def lazy_rich_reading(ds: xr.Dataset) -> str:
    """The plain-language reading of a lazy-rich sweep, against the seed study's numbers.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.lazy_rich.lazy_rich_sweep`'s result.

    Returns
    -------
    str
        Per architecture: whether the weight change falls monotonically with alpha, the shape of
        the last-layer capacity against alpha (interior peak or monotone, judged in standard
        errors over seeds), the clean and most-corrupted accuracy and the transfer probe at the
        smallest and the largest alpha.

    See Also
    --------
    lazy_rich_table : the table it reads.
    lazy_rich_report : the report.

    Examples
    --------
    A sweep of one architecture at two output scales, two seeds, two checkpoints:

    >>> import numpy as np, xarray as xr
    >>> c = {"architecture": ["mlp"], "alpha": [1.0, 10.0], "seed": [0, 1], "step": [0, 5],
    ...      "corruption": ["noise"], "severity": [0, 5]}
    >>> a3, a4 = ("architecture", "alpha", "seed"), ("architecture", "alpha", "seed", "step")
    >>> per_alpha = np.array([1.0, 0.5]).reshape(1, 2, 1, 1) * np.ones((1, 2, 2, 2))
    >>> ds = xr.Dataset({"weight_change": (a4, 0.4 * per_alpha),
    ...     "capacity": (a4, 0.1 * per_alpha),
    ...     "accuracy": (a4, np.full((1, 2, 2, 2), 0.9)),
    ...     "ood_accuracy": ((*a3, "corruption", "severity"), np.full((1, 2, 2, 1, 2), 0.5)),
    ...     "transfer_accuracy": (a3, np.full((1, 2, 2), 0.8)),
    ...     "transfer_accuracy_init": (a3, np.full((1, 2, 2), 0.7))}, coords=c)
    >>> text = lazy_rich_reading(ds)
    >>> "mlp: the weight change ||w - w0||/||w0|| at the end goes from 0.4 at alpha = 1" in text
    True
    """
    a = np.asarray(ds["alpha"].values, float)
    parts = [
        "The seed study (VGG-11 on CIFAR-10, capacity of 10 CIFAR-100 classes x 50 images) finds "
        "last-layer capacity not monotone in alpha: about 0.053 at alpha = 1, a peak near 0.066 "
        "at alpha 5-7.5, 0.054 at alpha = 100. Absolute values are not comparable across "
        "networks, data and manifolds (capacity depends on the number of units and points); the "
        "shape is."
    ]
    for arch in ds["architecture"].values:
        sub = ds.sel(architecture=arch)
        wc = _final(sub, "weight_change").mean("seed").values
        mono = bool(np.all(np.diff(wc) < 0))
        verdict, peak, lo, pk, hi = _capacity_shape(_final(sub, "capacity"))
        acc = _final(sub, "accuracy").mean("seed").values
        worst = _worst_ood(sub).mean("seed").values
        tr = sub["transfer_accuracy"].mean("seed").values
        tr0 = float(sub["transfer_accuracy_init"].mean())
        cap0 = float(sub["capacity"].isel(step=0).mean())
        parts.append(
            f"{arch}: the weight change ||w - w0||/||w0|| at the end goes from {wc[0]:.3g} at "
            f"alpha = {a[0]:g} to {wc[-1]:.3g} at alpha = {a[-1]:g}"
            f"{', falling at every step' if mono else ', not monotone'}. Last-layer capacity "
            f"is {lo:.3g} at alpha = {a[0]:g}, {pk:.3g} at alpha = {peak:g} (its maximum) and "
            f"{hi:.3g} at alpha = {a[-1]:g}, against {cap0:.3g} at initialisation (the same "
            f"network for every alpha): {verdict}. Test accuracy {acc[0]:.3f} -> "
            f"{acc[-1]:.3f} (smallest -> largest alpha); at the highest severity, averaged over "
            f"the corruptions, {worst[0]:.3f} -> {worst[-1]:.3f}. The transfer probe on the held-out "
            f"digits reads {tr[0]:.3f} -> {tr[-1]:.3f} (random features at initialisation: "
            f"{tr0:.3f}; chance {float(ds.attrs.get('chance_transfer_accuracy', np.nan)):.2f})."
        )
    if ds.sizes["seed"] < 3:
        parts.append(
            f"With {ds.sizes['seed']} seed(s) the spread over seeds is rough; the full "
            "setting runs more."
        )
    return " ".join(parts[:1]) + "\n\n" + "\n\n".join(parts[1:])


def lazy_rich_report(
    ds: xr.Dataset, *, figures: str | Path, setting: str, spec: str, title: str | None = None
) -> Report:
    """The report of a lazy-rich sweep (:func:`neurogeom.workflows.lazy_rich.lazy_rich_sweep`):
    inputs, settings, the figure (``lazy_rich.png|svg`` written into the folder ``figures``), the
    tables, the reading. The other arguments and the result are those of
    ``neurogeom.show.report.spec_report``.

    Parameters
    ----------
    ds : xarray.Dataset
        :func:`neurogeom.workflows.lazy_rich.lazy_rich_sweep`'s result.
    figures : str or path
        Existing folder the figures are written to (png and svg).
    setting : str
        The setting's name (``"fast"``, ``"full"``), shown in the inputs.
    spec : str
        The spec's path, shown in the inputs.
    title : str, optional
        The report's title (default: 'Lazy to rich on digits').

    Returns
    -------
    Report
        Not yet saved (:meth:`~neurogeom.show.report.Report.save`).

    See Also
    --------
    neurogeom.show.figures.plot_lazy_rich : its figure.
    lazy_rich_reading : its reading.

    Examples
    --------
    A sweep of one architecture at two output scales, two seeds, two checkpoints:

    >>> import numpy as np, xarray as xr
    >>> c = {"architecture": ["mlp"], "alpha": [1.0, 10.0], "seed": [0, 1], "step": [0, 5],
    ...      "corruption": ["noise"], "severity": [0, 5]}
    >>> a3, a4 = ("architecture", "alpha", "seed"), ("architecture", "alpha", "seed", "step")
    >>> per_alpha = np.array([1.0, 0.5]).reshape(1, 2, 1, 1) * np.ones((1, 2, 2, 2))
    >>> ds = xr.Dataset({"weight_change": (a4, 0.4 * per_alpha),
    ...     "capacity": (a4, 0.1 * per_alpha),
    ...     "accuracy": (a4, np.full((1, 2, 2, 2), 0.9)),
    ...     "ood_accuracy": ((*a3, "corruption", "severity"), np.full((1, 2, 2, 1, 2), 0.5)),
    ...     "transfer_accuracy": (a3, np.full((1, 2, 2), 0.8)),
    ...     "transfer_accuracy_init": (a3, np.full((1, 2, 2), 0.7))}, coords=c)
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     report = lazy_rich_report(ds, figures=folder, setting="fast", spec="lazy_rich.toml")
    ...     files = sorted(p.name for p in Path(folder).iterdir())
    >>> files, report.title
    (['lazy_rich.png', 'lazy_rich.svg'], 'Lazy to rich on digits')
    """
    from neurogeom.show.figures import plot_lazy_rich

    rep, cfg = spec_report(
        ds,
        spec=spec,
        setting=setting,
        title=title or "Lazy to rich on digits",
        inputs={
            "architectures": json.loads(ds.attrs.get("spec", "{}")).get("architectures", {}),
            "alphas": [float(v) for v in ds["alpha"].values],
        },
    )
    rep.settings.update(
        {
            "training": cfg.get("training", {}),
            "geometry": cfg.get("analysis", {}),
            "out of distribution": cfg.get("ood", {}),
            "transfer": cfg.get("transfer", {}),
            "output scale": "logits alpha (f(w) - f(w0)), loss / alpha^2 (Chizat et al. 2019)",
        }
    )
    rep.add_section(
        "Output scale alpha: weight change, last-layer geometry, OOD and transfer",
        (
            "One network per (architecture, alpha, seed) trained on scikit-learn's 8x8 digits; GLUE "
            "capacity of the last hidden layer's activity per test digit along training; accuracy on "
            "the test digits corrupted by noise, blur and occlusion; a logistic-regression probe on "
            "held-out digits of a network trained on the others. The numbers per run are in "
            "results/lazy_rich.nc beside this file."
        ),
    )
    fig = plot_lazy_rich(ds, PAPER_CAPACITY)
    save_figure(fig, Path(figures) / "lazy_rich")
    rep.add_figure(
        fig,
        "Against the output scale alpha (log axis): relative weight change at the "
        "end; last-layer capacity at the end (grey, right axis: the seed study's VGG-11 "
        "values); capacity along training, one colour per alpha; clean test accuracy "
        "(bars) and accuracy at the highest severity of each corruption (crosses); the "
        "transfer probe, trained and at initialisation. Bars: mean ± s.d. over seeds.",
        lazy_rich_reading(ds),
    )
    rep.add_table(
        lazy_rich_table(ds),
        "Per architecture and alpha: mean and s.d. over seeds at "
        "the last checkpoint (capacity in manifolds per unit; weight change as a ratio; "
        "accuracies as fractions).",
    )
    sev = ds["ood_accuracy"].mean("seed").to_dataframe().reset_index()
    table = sev.pivot_table(
        index=["architecture", "alpha", "corruption"], columns="severity", values="ood_accuracy"
    )
    table.columns = [f"severity {c}" for c in table.columns]
    rep.add_table(table, "Test accuracy per corruption and severity (0 = clean), mean over seeds.")
    return rep
