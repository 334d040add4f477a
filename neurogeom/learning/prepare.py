"""Preparing a population tensor for geometry: window means, z-scoring, balancing, pseudo-populations.

Each step is a function of a population tensor that returns a new tensor and records what it did:
the attr ``prepared`` is a list of strings, one per step in the order they were applied
(``"window_mean(window_s=[0.2, 0.8])"``), and each step adds its own keys (``window_s``,
``zscore_dim``, ``balance_n_points``, ...). The same steps are doors on the accessor:
``pop.ng.window_mean(...)``, ``pop.ng.zscore(...)``, ``pop.ng.balance(...)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom._provenance import attr_value, child_seed
from neurogeom.population import (
    VALID,
    TimeWindow,
    label_names,
    labelled_rows,
    pool,
    select_window,
    trial_labels,
    validate,
    with_valid_mask,
)

__all__ = ["balance", "resample_pseudopopulation", "window_mean", "zscore"]


def _record(pop: xr.DataArray, step: str, **keys: Any) -> xr.DataArray:
    """Append ``step`` to attrs ``prepared`` and set the step's own keys (netCDF-safe)."""
    attrs = dict(pop.attrs)
    attrs["prepared"] = [*attr_value(attrs.get("prepared", [])), step]
    attrs.update({k: attr_value(v) for k, v in keys.items()})
    out = pop.copy(deep=False)
    out.attrs = attrs
    return out


def _window_list(window_s: TimeWindow) -> list[float]:
    if isinstance(window_s, slice):
        return [window_s.start, window_s.stop]
    return [float(w) for w in window_s]  # type: ignore[union-attr]


def window_mean(pop: xr.DataArray, window_s: TimeWindow) -> xr.DataArray:
    """Mean over the time bins of a window; the ``time`` dim is dropped.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with a ``time`` dim (seconds).
    window_s : (start_s, stop_s) or slice
        Window of bin centres in seconds (inclusive), e.g. ``(0.2, 0.8)``.

    Returns
    -------
    xarray.DataArray
        ``pop`` without ``time``: each value the NaN-aware mean over the window's bins (NaN where
        a trial has no finite bin in it). attrs keep ``pop``'s, plus ``window_s = [start_s,
        stop_s]`` and ``"window_mean(window_s=[...])"`` appended to ``prepared``.

    Raises
    ------
    ValueError
        If the tensor has no ``time`` dim, or the window holds no bins.

    See Also
    --------
    neurogeom.population.manifolds : ``window_s=`` there averages the same way, per call.

    Examples
    --------
    >>> import numpy as np, neurogeom
    >>> pop = neurogeom.make_population(np.arange(6.0).reshape(1, 3, 2), dims=("trial", "time",
    ...     "unit"), quantity="continuous", bin_size_s=0.1)
    >>> window_mean(pop, (0.0, 0.1)).values.tolist()
    [[1.0, 2.0]]
    """
    validate(pop)
    if "time" not in pop.dims:
        raise ValueError(
            "window_mean needs a 'time' dim; the tensor's dims are "
            f"{tuple(pop.dims)} (it may be window-averaged already)."
        )
    if window_s is None:
        raise ValueError("give window_s=(start_s, stop_s), e.g. window_s=(0.2, 0.8).")
    sub = select_window(pop, window_s)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN trials stay NaN
        out = sub.drop_vars(VALID, errors="ignore").mean("time", skipna=True, keep_attrs=True)
    bounds = _window_list(window_s)
    out = with_valid_mask(out)
    return _record(out, f"window_mean(window_s={bounds})", window_s=bounds)


def zscore(pop: xr.DataArray, dim: str = "trial", within_stage: bool = True) -> xr.DataArray:
    """Z-score each unit: subtract its mean and divide by its standard deviation over trials.

    The statistics of a unit are taken over ``dim`` and, when the tensor has one, over ``time``
    too (one mean and one standard deviation per unit, so the time course within a trial is
    kept), NaN-aware, with ``ddof=0``. With ``within_stage`` (and a ``stage`` dim) each stage has
    its own statistics; otherwise they are pooled over stages.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with dims ``dim`` and ``unit``.
    dim : str, default="trial"
        The dim the statistics run over (``"trial"``; ``"stage"`` is refused: use
        ``within_stage``).
    within_stage : bool, default=True
        Separate statistics per stage. Ignored without a ``stage`` dim.

    Returns
    -------
    xarray.DataArray
        Same dims and coords; every unit with mean 0 and standard deviation 1 over ``dim``
        (and ``time``), per stage when ``within_stage``. attrs add ``zscore_dim``,
        ``zscore_within_stage`` (0/1), ``zscore_zero_variance`` (the number of (unit[, stage])
        cells with zero variance) and a ``prepared`` entry.

    Warns
    -----
    UserWarning
        Once, when some unit has zero variance (a silent unit, or a constant one in a stage):
        its values are set to 0 (centred, not scaled) rather than NaN, so it drops out of
        distances without removing trials; the warning names how many.

    Raises
    ------
    ValueError
        If ``dim`` is not a dim of the tensor, or is ``unit`` or ``stage``.

    See Also
    --------
    window_mean : average a time window first.
    balance : equal trials per condition.

    Examples
    --------
    >>> import numpy as np, neurogeom
    >>> pop = neurogeom.make_population(np.array([[1.0], [3.0]]), dims=("trial", "unit"),
    ...     quantity="continuous")
    >>> zscore(pop).values.ravel().tolist()
    [-1.0, 1.0]
    """
    validate(pop)
    if dim not in pop.dims or dim in ("unit", "stage"):
        raise ValueError(
            f"zscore runs over a dim among {[d for d in pop.dims if d not in ('unit', 'stage')]}; "
            f"got dim={dim!r}. Use within_stage= for stages."
        )
    over = [dim, *(["time"] if "time" in pop.dims and dim != "time" else [])]
    if "stage" in pop.dims and not within_stage:
        over.append("stage")
    data = pop.drop_vars(VALID, errors="ignore")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = data.mean(over, skipna=True)
        sd = data.std(over, skipna=True, ddof=0)
    flat = ~(sd > 0)
    n_flat = int(flat.sum())
    if n_flat:
        warnings.warn(
            f"{n_flat} unit(s){' x stage' if 'stage' in sd.dims else ''} have zero variance over "
            f"{over}; their values were set to 0. Drop silent units first "
            "(pop.isel(unit=...)) to silence this.",
            stacklevel=2,
        )
    out = ((data - mean) / sd.where(~flat, 1.0)).where(~flat, 0.0).where(np.isfinite(data))
    out = out.transpose(*pop.dims)
    out.attrs = dict(pop.attrs)
    out.name = pop.name
    out = with_valid_mask(out)
    return _record(
        out,
        f"zscore(dim={dim!r}, within_stage={bool(within_stage and 'stage' in pop.dims)})",
        zscore_dim=dim,
        zscore_within_stage=bool(within_stage and "stage" in pop.dims),
        zscore_zero_variance=n_flat,
    )


# ---- balancing -----------------------------------------------------------------------------------


def _cells(pop: xr.DataArray, labels: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    """The label table of every trial, and the cell (label combination) code of each (-1: none)."""
    missing = [b for b in labels if b not in trial_labels(pop)]
    if missing:
        raise ValueError(
            f"unknown trial label(s) {missing}; the tensor's trial labels are {trial_labels(pop)}."
        )
    frame = pd.DataFrame({b: np.asarray(pop[b].values) for b in labels})
    keep = labelled_rows(frame)
    codes = np.full(len(frame), -1, dtype=np.int64)
    codes[keep] = frame[keep].groupby(list(labels), sort=True).ngroup().to_numpy()
    table = frame[keep].drop_duplicates().sort_values(list(labels)).reset_index(drop=True)
    return table, codes


def trial_has_data(pop: xr.DataArray) -> np.ndarray:
    """Boolean (n_stage, n_trial): trial t has data at stage s (one stage row without ``stage``)."""
    ok = np.isfinite(pop.transpose(*[d for d in ("stage", "trial") if d in pop.dims], ...).values)
    extra = tuple(range(ok.ndim))[("stage" in pop.dims) + 1 :]
    ok = ok.any(axis=extra) if extra else ok
    return ok if "stage" in pop.dims else ok[None, :]


def _check_counts(counts: np.ndarray, table: pd.DataFrame, stage: Any, n_points: int | None) -> int:
    """Validate the per-(stage, cell) counts; the smallest count (or ``n_points``)."""
    s, c = np.unravel_index(int(np.argmin(counts)), counts.shape)
    where = ", ".join(f"{k}={v!r}" for k, v in table.iloc[c].items())
    at = f" at stage {stage[s]!r}" if stage is not None else ""
    smallest = int(counts[s, c])
    if smallest < 2:
        raise ValueError(
            f"the manifold ({where}){at} has {smallest} trial(s); a manifold needs at least 2. "
            "Drop or merge that condition (pop.ng.select(...))."
        )
    if n_points is None:
        return smallest
    if n_points < 2:
        raise ValueError(f"n_points must be at least 2; got {n_points}.")
    if n_points > smallest:
        raise ValueError(
            f"n_points={n_points} exceeds the smallest manifold ({where}){at} with {smallest} "
            "trials; lower n_points or drop that condition."
        )
    return int(n_points)


def regroup(
    pop: xr.DataArray, picks: list[list[np.ndarray]], table: pd.DataFrame, flat: bool = False
) -> xr.DataArray:
    """A tensor whose trials are ``picks[s][c]`` (trial indices) of cell ``c`` at stage ``s``.

    The new trial dim has, for each cell, as many slots as the most trials any stage picks for
    it; a stage that picks fewer gets NaN in the remaining slots. With ``flat``, an index ``i``
    is trial ``i % n_trial`` of stage ``i // n_trial`` (for moving trials between stages). The
    cell labels become the trial coords; other trial coords are dropped.
    """
    has_stage = "stage" in pop.dims
    data = pop.drop_vars(VALID, errors="ignore").transpose(*pop.dims)
    vals = data.values if has_stage else data.values[None]
    n_trial = pop.sizes["trial"]
    rows = vals.reshape(-1, *vals.shape[2:])  # (stage*trial, ...)
    width = [max(len(p[c]) for p in picks) for c in range(len(table))]
    out = np.full((len(picks), sum(width), *vals.shape[2:]), np.nan)
    for s, per_cell in enumerate(picks):
        start = 0
        for c, idx in enumerate(per_cell):
            idx = np.asarray(idx, dtype=np.int64)
            src = idx if flat else idx + s * n_trial
            out[s, start : start + len(idx)] = rows[src]
            start += width[c]
    coords = {n: c for n, c in data.coords.items() if "trial" not in c.dims}
    coords["trial"] = np.arange(sum(width))
    for col in table.columns:
        coords[col] = ("trial", np.repeat(table[col].to_numpy(), width))
    res = xr.DataArray(
        out if has_stage else out[0],
        dims=data.dims,
        coords=coords,
        name=pop.name,
        attrs=dict(pop.attrs),
    )
    return with_valid_mask(res)


def balance(
    pop: xr.DataArray,
    by: str | Sequence[str],
    within: str | Sequence[str] | None = None,
    n_points: int | None = None,
    across_stages: bool = True,
    seed: int = 0,
) -> xr.DataArray:
    """The same number of trials in every manifold (and stage), by seeded subsampling.

    Each manifold (combination of ``by`` and ``within`` values) keeps ``n_points`` trials drawn
    without replacement. Without a ``stage`` dim, or when every stage has data on the same
    trials (network checkpoints), one draw serves every stage, the trials stay paired across
    stages and every trial coord is kept (with the original ids in ``source_trial``). When
    stages have data on different trials (sessions padded with NaN), each stage draws its own
    trials among those with data (seed ``child_seed(seed, s)``) and only the ``by``/``within``
    coords are kept.

    Parameters
    ----------
    pop : xarray.DataArray
        Population tensor with dims ``trial`` and ``unit`` (``stage`` and ``time`` optional).
    by, within : str or sequence of str
        The labels defining the manifolds (as in :func:`neurogeom.population.manifolds`).
    n_points : int, optional
        Trials per manifold. Default: the smallest count of any manifold (at any stage, when
        ``across_stages``).
    across_stages : bool, default=True
        The same count at every stage. With False, each stage is balanced to its own smallest
        count, and stages with fewer trials get NaN trials (dropped, with a warning, by
        :func:`neurogeom.population.manifolds`).
    seed : int, default=0
        Seed of the subsampling.

    Returns
    -------
    xarray.DataArray
        Dims as ``pop``; ``n_manifolds * n_points`` trials sorted by manifold. attrs add
        ``balance_by``, ``balance_n_points`` (per stage, a list), ``balance_seed`` and a
        ``prepared`` entry.

    Raises
    ------
    ValueError
        An unknown label, a manifold with fewer than 2 trials (a label with one trial), or
        ``n_points`` above the smallest count (the message names that manifold and stage).

    See Also
    --------
    resample_pseudopopulation : matched pseudo-trials across sessions.
    zscore : per-unit standardisation.

    Examples
    --------
    >>> import numpy as np, neurogeom
    >>> pop = neurogeom.make_population(np.zeros((5, 2)), dims=("trial", "unit"),
    ...     quantity="continuous", trial_coords={"choice": [0, 0, 0, 1, 1]})
    >>> balance(pop, by="choice")["choice"].values.tolist()
    [0, 0, 1, 1]
    """
    validate(pop)
    labels = (*label_names(by), *label_names(within))
    if not label_names(by):
        raise ValueError("give at least one trial label in `by`.")
    table, codes = _cells(pop, labels)
    ok = trial_has_data(pop) & (codes >= 0)[None, :]
    counts = np.array([[np.sum(row & (codes == c)) for c in range(len(table))] for row in ok])
    stage = pop["stage"].values.tolist() if "stage" in pop.dims else None
    shared = bool(np.all(ok == ok[0]))
    if across_stages or shared:
        n = [_check_counts(counts, table, stage, n_points)] * len(ok)
    else:
        n = [
            _check_counts(counts[s : s + 1], table, [st], n_points)
            for s, st in enumerate(stage or [None])
        ]
    if shared and len(set(n)) == 1:
        rng = np.random.default_rng(seed)
        idx = np.concatenate(
            [
                np.sort(rng.choice(np.flatnonzero(ok[0] & (codes == c)), n[0], replace=False))
                for c in range(len(table))
            ]
        )
        out = pop.isel(trial=idx).assign_coords(source_trial=("trial", pop["trial"].values[idx]))
        out = with_valid_mask(out.assign_coords(trial=np.arange(len(idx))))
    else:
        picks = []
        for s, row in enumerate(ok):
            rng = np.random.default_rng(child_seed(seed, s))
            picks.append(
                [
                    np.sort(rng.choice(np.flatnonzero(row & (codes == c)), n[s], replace=False))
                    for c in range(len(table))
                ]
            )
        out = regroup(pop, picks, table)
    return _record(
        validate(out),
        f"balance(by={list(labels)}, n_points={n if len(set(n)) > 1 else n[0]}, seed={seed})",
        balance_by=list(labels),
        balance_n_points=n,
        balance_seed=seed,
    )


def resample_pseudopopulation(
    pops: Sequence[xr.DataArray],
    by: str | Sequence[str],
    *,
    n_trials: int | None = None,
    draw: int = 0,
    seed: int = 0,
    **pool_options: Any,
) -> xr.DataArray:
    """One pseudo-population draw of units recorded in different sessions.

    Draw ``draw`` pools the sessions with :func:`neurogeom.population.pool` at the child seed
    ``child_seed(seed, draw)``, so draws ``0, 1, 2, ...`` are independent and each is
    reproducible on its own. Sessions with a ``stage`` dim are pooled stage by stage (each stage
    with its own child seed ``child_seed(seed, draw, s)``) and stacked back along ``stage``.

    Parameters
    ----------
    pops : sequence of xarray.DataArray
        Session tensors, dims ([``stage``], ``trial``, [``time``], ``unit``), the same stages.
    by : str or sequence of str
        The condition labels the pseudo-trials are matched on.
    n_trials : int, optional
        Pseudo-trials per condition (default: the smallest count in any session and stage).
    draw : int, default=0
        Index of the draw.
    seed : int, default=0
        Parent seed.
    **pool_options
        ``sessions``, ``unique_unit_ids``, ``replace`` of :func:`neurogeom.population.pool`.

    Returns
    -------
    xarray.DataArray
        The pseudo-population, attrs of ``pool`` plus ``pseudo_draw``, ``pseudo_seed`` and a
        ``prepared`` entry.

    Raises
    ------
    ValueError
        As :func:`neurogeom.population.pool`, or sessions with different stages.

    See Also
    --------
    neurogeom.population.pool : the pooling of one draw.
    balance : equal trials per condition.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> def session(n_units, seed):
    ...     x = np.random.default_rng(seed).normal(size=(6, n_units))
    ...     return ng.make_population(x, dims=("trial", "unit"), quantity="rate_hz",
    ...                               trial_coords={"choice": [0, 1] * 3},
    ...                               unit=[f"s{seed}u{i}" for i in range(n_units)])
    >>> pseudo = resample_pseudopopulation([session(3, 0), session(2, 1)], by="choice")
    >>> dict(pseudo.sizes)
    {'trial': 6, 'unit': 5}
    """
    pops = list(pops)
    if not pops:
        raise ValueError("resample_pseudopopulation needs at least one session tensor.")
    staged = ["stage" in p.dims for p in pops]
    if not any(staged):
        out = pool(pops, by, n_trials=n_trials, seed=child_seed(seed, draw), **pool_options)
    else:
        _check_same_stages(pops)
        if n_trials is None:
            n_trials = _smallest_condition(pops, by)
        parts = [
            pool(
                [_with_data(p.isel(stage=s)) for p in pops],
                by,
                n_trials=n_trials,
                seed=child_seed(seed, draw, s),
                **pool_options,
            )
            for s in range(pops[0].sizes["stage"])
        ]
        out = xr.concat(parts, dim="stage", coords="different", compat="equals")
        out = out.drop_vars(VALID, errors="ignore").transpose("stage", ...)
        out = validate(with_valid_mask(out))
        out.attrs = dict(parts[0].attrs)
    return _record(
        out,
        f"resample_pseudopopulation(draw={draw}, seed={seed})",
        pseudo_draw=draw,
        pseudo_seed=seed,
    )


def _stages_in_words(pop: xr.DataArray) -> list[Any]:
    """The stages of a session as the user named them: the ``label`` coord, else ``stage``."""
    if "stage" not in pop.dims:
        return []
    stages = pop["stage"].values.tolist()
    if "label" in pop.coords and pop["label"].dims == ("stage",):
        labels = pop["label"].values.tolist()
        return stages if labels == stages else [f"{s} ({lab})" for s, lab in zip(stages, labels)]
    return stages


def _check_same_stages(pops: list[xr.DataArray]) -> None:
    """Sessions pooled stage by stage hold the same stages (values and labels), in one order."""
    first = pops[0]
    for i, p in enumerate(pops):
        same = "stage" in p.dims and np.array_equal(p["stage"].values, first["stage"].values)
        if same and "label" in first.coords and first["label"].dims == ("stage",):
            same = "label" in p.coords and np.array_equal(p["label"].values, first["label"].values)
        if not same:
            raise ValueError(
                f"session {i} has stages {_stages_in_words(p)} but session 0 has "
                f"{_stages_in_words(first)}; sessions are pooled stage by stage, so every "
                "session needs the same stages in the same order. Select and order the shared "
                "stages first (p.sel(stage=[...]))."
            )


def _with_data(pop: xr.DataArray) -> xr.DataArray:
    """The trials of a one-stage tensor that have data."""
    return pop.isel(trial=np.flatnonzero(trial_has_data(pop)[0]))


def _smallest_condition(pops: list[xr.DataArray], by: str | Sequence[str]) -> int:
    """The fewest trials with data of any condition in any session and stage."""
    labels = label_names(by)
    smallest = None
    for p in pops:
        _, codes = _cells(p, labels)
        ok = trial_has_data(p) & (codes >= 0)[None, :]
        for row in ok:
            n = np.bincount(codes[row], minlength=codes.max() + 1).min()
            smallest = n if smallest is None else min(smallest, n)
    return int(smallest)
