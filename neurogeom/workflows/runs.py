"""Geometry and behaviour of a trained run, from its checkpoints.

:func:`run_geometry` simulates every (or the chosen) checkpoint of a run on its analysis trial bank,
takes each trial's mean state over a task period, and computes registered measures on the
manifolds of a label at each checkpoint (their GLUE problems solved together in one
:func:`neurogeom.geometry.glue_batch` pass): the checkpoint of step ``s`` gets the seed
``child_seed(seed, s)``, so its geometry does not depend on which other steps are computed. This is
what makes the geometry computed live during training (:mod:`neurogeom.workflows.live`) equal to the
geometry computed afterwards. :func:`psychometric` tabulates a checkpoint's choices against the
relevant evidence, per context.

The defaults of every option are the run's spec (its ``[analysis]`` section,
:class:`neurogeom.specs.train.AnalysisConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom._provenance import child_seed
from neurogeom.learning.measure import _measure_many, measure_geometry
from neurogeom.models.simulate import analysis_bank, bank_choices, simulate
from neurogeom.models.train import list_checkpoints, run_spec
from neurogeom.specs.train import AnalysisConfig
from neurogeom.tasks import TrialBank

__all__ = ["run_geometry", "psychometric"]

#: Result attrs of a measure that describe one checkpoint; kept as variables over ``stage``.
_PER_STEP_ATTRS = ("at_floor", "no_separating_fraction", "n_dichotomies_distinct")


def geometry_settings(spec: Mapping[str, Any], **given: Any) -> dict[str, Any]:
    """The geometry options of a spec's ``[analysis]`` section, with ``given`` ones (not None)
    taking precedence: ``by``, ``period``, ``measures``, ``n_points_per_manifold``, ``center``,
    ``seed`` and the measures' further ``options``."""
    cfg = AnalysisConfig.from_dict(spec.get("analysis", {}))
    out = {
        "by": cfg.by,
        "period": cfg.period,
        "measures": tuple(cfg.measures),
        "n_points_per_manifold": cfg.n_points_per_manifold,
        "center": cfg.center,
        "seed": cfg.geometry_seed,
        "options": dict(cfg.options),
    }
    options = given.pop("options", None) or {}
    out.update({k: v for k, v in given.items() if v is not None})
    out["options"].update(options)
    return out


def _accuracies(run_dir: Path) -> dict[int, float]:
    path = run_dir / "metrics.csv"
    if not path.is_file():
        return {}
    try:
        df = pd.read_csv(path)
    except (pd.errors.EmptyDataError, pd.errors.ParserError):
        return {}
    if not len(df) or "accuracy" not in df:
        return {}
    last = df.groupby("step")["accuracy"].last()  # the last evaluation of a step (the full bank)
    return {int(s): float(a) for s, a in last.items()}


def checkpoint_geometry(
    run_dir: str | Path,
    step: int,
    *,
    bank: TrialBank,
    by: str | Sequence[str],
    period: str | None,
    measures: Sequence[str],
    n_points_per_manifold: int | None,
    center: bool,
    seed: int,
    options: Mapping[str, Any],
) -> xr.Dataset:
    """The geometry of one checkpoint (see :func:`run_geometry`): a Dataset with a ``stage`` dim
    of length 1, coords ``step``, ``accuracy`` (NaN when metrics.csv has no row for the step) and
    ``seed_used`` = ``child_seed(seed, step)``."""
    run_dir = Path(run_dir)
    period = period or bank.decision_period
    pop = _checkpoint_states(run_dir, step, bank, period)
    used = child_seed(seed, int(step))
    ds = measure_geometry(
        pop,
        by=by,
        measures=tuple(measures),
        over=(),
        seed=used,
        **_measure_options(center, n_points_per_manifold, options),
    )
    return _step_result(ds, run_dir, step, used, seed, period)


def _checkpoint_states(run_dir: Path, step: int, bank: TrialBank, period: str) -> xr.DataArray:
    """The checkpoint's mean state per trial over ``period``, dims (trial, unit)."""
    return simulate(run_dir, bank=bank, steps=[int(step)], period=period).isel(stage=0, drop=True)


def _measure_options(center, n_points_per_manifold, options) -> dict[str, Any]:
    extra = dict(options)
    if n_points_per_manifold is not None:
        extra["n_points_per_manifold"] = int(n_points_per_manifold)
    return {"center": bool(center), **extra}


def _step_result(ds, run_dir, step, used, seed, period) -> xr.Dataset:
    """One checkpoint's measures laid out with a ``stage`` dim of length 1 (see
    :func:`checkpoint_geometry`)."""
    ds = ds.drop_vars([c for c in ("seed_used", "step", "label") if c in ds.coords])
    ds = ds.expand_dims(stage=[int(step)])
    acc = _accuracies(run_dir).get(int(step), np.nan)
    ds = ds.assign_coords(
        step=("stage", np.array([int(step)], dtype=np.int64)),
        accuracy=("stage", np.array([acc], dtype=np.float64)),
        seed_used=("stage", np.array([used], dtype=np.int64)),
    )
    for key in _PER_STEP_ATTRS:  # diagnostics that differ from step to step: variables over stage
        if key in ds.attrs:
            ds[key] = ("stage", np.array([ds.attrs.pop(key)]))
    ds.attrs.update({"seed": int(seed), "period": period, "source": str(run_dir)})
    return ds


def concat_steps(parts: Sequence[xr.Dataset], seed: int) -> xr.Dataset:
    """Per-checkpoint geometries (each with a ``stage`` dim) as one Dataset over ``stage``."""
    if not parts:
        raise ValueError("no checkpoint geometry to put together")
    parts = sorted(parts, key=lambda d: int(d["step"].values[0]))
    out = xr.concat(
        list(parts), dim="stage", data_vars="minimal", coords="minimal", combine_attrs="override"
    )
    out.attrs["seed"] = int(seed)
    return out


def run_geometry(
    run_dir: str | Path,
    *,
    by: str | Sequence[str] | None = None,
    period: str | None = None,
    steps: Sequence[int] | None = None,
    measures: Sequence[str] | None = None,
    n_points_per_manifold: int | None = None,
    center: bool | None = None,
    seed: int | None = None,
    bank: TrialBank | None = None,
    **options: Any,
) -> xr.Dataset:
    """Geometry of a trained run's checkpoints on its analysis trial bank.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`neurogeom.models.train.train`.
    by : str or sequence of str, optional
        Trial label(s) whose values are the manifolds (default the spec's ``analysis.by``,
        ``"ground_truth"``: the decision).
    period : str, optional
        Task period whose mean state per trial is the point (default ``analysis.period``, else the
        task's decision period).
    steps : sequence of int, optional
        Checkpointed steps (default all).
    measures : sequence of str, optional
        Registered measures (default ``analysis.measures``, ``("glue",)``).
    n_points_per_manifold : int, optional
        Points subsampled per manifold, seeded (default ``analysis.n_points_per_manifold``: all).
    center : bool, optional
        Subtract the grand mean (default ``analysis.center``, True).
    seed : int, optional
        Parent seed (default ``analysis.geometry_seed``, 0); step ``s`` uses
        ``child_seed(seed, s)``, recorded in the ``seed_used`` coord.
    bank : TrialBank, optional
        Trials to run (default the spec's analysis bank,
        :func:`neurogeom.models.simulate.analysis_bank`).
    **options
        Further options of the measures (``n_t``, ``dichotomies``, ``jitter``, ...), added to the
        spec's ``analysis.options``.

    Returns
    -------
    xarray.Dataset
        The measures' variables over dim ``stage`` (the training step), with coords ``step``,
        ``accuracy`` (held-out accuracy from metrics.csv, NaN where absent) and ``seed_used``;
        the floor diagnostics ``at_floor`` and ``no_separating_fraction`` of each step are
        variables over ``stage`` too.

    See Also
    --------
    neurogeom.workflows.run_pipeline : the whole run.
    neurogeom.learning.trajectory : the measure along training.

    Examples
    --------
    The first and the last checkpoint of the bundled run, with few GLUE probes:

    >>> from neurogeom.data import bundled_run
    >>> ds = run_geometry(bundled_run(), steps=[0, 32], n_t=20)
    >>> ds.capacity.dims, ds.step.values.tolist()
    (('stage',), [0, 32])
    """
    run_dir = Path(run_dir)
    spec = run_spec(run_dir)
    have = [s for s, _ in list_checkpoints(run_dir)]
    chosen = have if steps is None else sorted({int(s) for s in steps})
    missing = sorted(set(chosen) - set(have))
    if missing:
        raise ValueError(f"no checkpoints at steps {missing} in {run_dir}; steps: {have}")
    st = geometry_settings(
        spec,
        by=by,
        period=period,
        measures=None if measures is None else tuple(measures),
        n_points_per_manifold=n_points_per_manifold,
        center=center,
        seed=seed,
        options=options,
    )
    bank = analysis_bank(spec) if bank is None else bank
    period = st["period"] or bank.decision_period
    pops = [_checkpoint_states(run_dir, s, bank, period) for s in chosen]
    used = [child_seed(st["seed"], int(s)) for s in chosen]
    # each checkpoint as checkpoint_geometry() computes it, their GLUE problems in one pass
    results = _measure_many(
        zip(pops, used),
        by=st["by"],
        measures=tuple(st["measures"]),
        over=(),
        **_measure_options(st["center"], st["n_points_per_manifold"], st["options"]),
    )
    parts = [
        _step_result(ds, run_dir, s, u, st["seed"], period)
        for ds, s, u in zip(results, chosen, used)
    ]
    return concat_steps(parts, st["seed"])


def psychometric(run_dir: str | Path, step: int | None = None) -> pd.DataFrame:
    """Choice fraction and accuracy against the relevant evidence, per context, at one checkpoint.

    Runs the checkpoint on the spec's analysis bank (:func:`neurogeom.models.simulate.bank_choices`).

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`neurogeom.models.train.train` (a two-choice context task).
    step : int, optional
        Checkpointed step (default the last).

    Returns
    -------
    pandas.DataFrame
        One row per (``context``, ``relevant_evidence``): ``relevant_coh`` (% coherence, unsigned),
        ``n_trials``, ``p_choice_1`` (fraction of trials answered with choice 1), ``accuracy`` and
        ``step``. Signed evidence is positive for choice 1.

    See Also
    --------
    neurogeom.show.plot_psychometric : its figure.
    neurogeom.models.bank_choices : the choices it bins.

    Examples
    --------
    >>> from neurogeom.data import bundled_run
    >>> table = psychometric(bundled_run(), step=32)
    >>> sorted(table["context"].unique().tolist()), list(table.columns[-4:])
    ([0, 1], ['n_trials', 'p_choice_1', 'accuracy', 'step'])
    """
    df = bank_choices(run_dir, step)
    need = {"context", "relevant_evidence", "relevant_coh"}
    if not need <= set(df.columns) or df["relevant_evidence"].isna().all():
        raise ValueError(
            "psychometric() needs a two-choice context task (ContextDecisionMaking-v0 with "
            f"dim_ring=2); this run's trials have the labels {sorted(df.columns)}"
        )
    df = df.assign(choice_1=(df["choice"] == 1).astype(float), correct=df["correct"].astype(float))
    table = (
        df.groupby(["context", "relevant_evidence"])
        .agg(
            relevant_coh=("relevant_coh", "first"),
            n_trials=("choice", "size"),
            p_choice_1=("choice_1", "mean"),
            accuracy=("correct", "mean"),
        )
        .reset_index()
    )
    return table.assign(step=int(df["step"].iloc[0]))
