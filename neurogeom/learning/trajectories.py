"""Trajectories: a registered measure along ``stage``, with resampling error and a shuffle null.

:func:`trajectory` returns one :class:`xarray.Dataset` over ``stage`` (plus ``time_window`` and
a split dim on request) holding, for every output ``v`` of the measure, the point estimate ``v``,
its Monte-Carlo error ``v_sem``, the resampling error over trials ``v_resample_se`` with the
interval ``v_ci_low`` / ``v_ci_high``, and the shuffle null ``v_null_mean``, ``v_null_low``,
``v_null_high``. The two errors answer different questions (how precisely the estimator computed
the number on these trials; how much it would change with other trials) and are never merged.

:func:`stage_difference` tests the change of one output between two stages of a tensor (a
permutation of stage membership), or across subjects (the sign-flip test of
:func:`neurogeom.learning.stats.paired_difference` on per-subject values). Intervals and p-values
use :func:`~neurogeom.learning.stats.percentile_ci` and
:func:`~neurogeom.learning.stats.permutation_p_value`.

Seeds: every replicate has its own child seeds (``neurogeom._provenance.child_seed``)
for the resampling and for the measure's Monte Carlo: the point estimate uses ``seed`` (each
stage ``child_seed(seed, i)``), bootstrap replicate ``b`` resamples with ``child_seed(seed, 1,
b)`` and measures with ``child_seed(seed, 2, b)``, null replicate ``b`` with ``child_seed(seed, 3,
b)`` and ``child_seed(seed, 4, b)``.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter as _get
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._deprecation import renamed_arguments
from neurogeom._params import check_choice, check_params, coarse_p_warning
from neurogeom._provenance import attr_value, child_seed
from neurogeom.geometry.registry import get_measure
from neurogeom.learning.measure import _measure_many, measure_geometry
from neurogeom.learning.prepare import _cells, regroup, resample_pseudopopulation, trial_has_data
from neurogeom.learning.stats import paired_difference, percentile_ci, permutation_p_value
from neurogeom.parallel import batches, parallel_map
from neurogeom.population import label_names, validate

__all__ = ["stage_difference", "trajectory"]

RESAMPLES = ("subsample", "bootstrap")


# ---- setup ---------------------------------------------------------------------------------------


@dataclass
class _Setup:
    by: tuple[str, ...]
    within: tuple[str, ...]
    split: str | None
    measure: str
    window_s: Any
    n_jobs: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> tuple[str, ...]:
        return (*self.by, *self.within, *([self.split] if self.split else []))

    def estimate(self, pop: xr.DataArray, seed: int, quiet: bool = False) -> xr.Dataset:
        """The measure at every stage of ``pop`` (one measure_geometry() call)."""
        with warnings.catch_warnings():
            if quiet:  # replicates: NaN slots and floor warnings were shown by the point estimate
                warnings.simplefilter("ignore")
            return measure_geometry(
                pop,
                by=self.by,
                measures=(self.measure,),
                over=("stage",),
                within=self.within or None,
                split=self.split,
                window_s=self.window_s,
                n_jobs=self.n_jobs,
                seed=seed,
                **self.options,
            )

    def estimate_many(self, pops: Any) -> list[xr.Dataset]:
        """:meth:`estimate` (quiet) of each ``(pop, seed)`` of ``pops``, in order: one pass for
        all of them, their glue() problems solved together by glue_batch() (the same numbers)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _measure_many(
                pops,
                by=self.by,
                measures=(self.measure,),
                over=("stage",),
                within=self.within or None,
                split=self.split,
                window_s=self.window_s,
                **self.options,
            )


def _check_stages(pop: Any) -> xr.DataArray:
    if not isinstance(pop, xr.DataArray):
        raise TypeError(
            f"a trajectory needs a population tensor (xarray.DataArray); got {type(pop).__name__}."
        )
    validate(pop)
    n = pop.sizes.get("stage", 0)
    if n < 2:
        what = "no 'stage' dim" if "stage" not in pop.dims else "a 'stage' dim of length 1"
        raise ValueError(
            f"a trajectory needs at least 2 stages; the tensor has {what}. Stack the stages "
            "(checkpoints, sessions) with xr.concat([...], dim='stage'), or compute one stage "
            "with pop.ng.measure(...)."
        )
    return pop


class _Draws:
    """The trials of every (stage, cell) and the random draws built from them."""

    def __init__(self, pop: xr.DataArray, labels: tuple[str, ...], n_group_labels: int) -> None:
        self.pop = pop
        self.table, codes = _cells(pop, labels)
        ok = trial_has_data(pop) & (codes >= 0)[None, :]
        self.trials = [
            [np.flatnonzero(row & (codes == c)) for c in range(len(self.table))] for row in ok
        ]
        keys = self.table.iloc[:, len(labels) - n_group_labels :]
        self.group = (
            keys.groupby(list(keys.columns), sort=True).ngroup().to_numpy()
            if n_group_labels
            else np.zeros(len(self.table), dtype=np.int64)
        )

    def resample(self, rng: np.random.Generator, how: str, fraction: float) -> xr.DataArray:
        """Trials drawn within every (stage, cell): a subsample without, or a bootstrap with,
        replacement."""
        picks = []
        for per_cell in self.trials:
            row = []
            for t in per_cell:
                if how == "bootstrap":
                    row.append(rng.choice(t, len(t), replace=True))
                else:
                    m = min(len(t), max(2, int(round(fraction * len(t)))))
                    row.append(np.sort(rng.choice(t, m, replace=False)))
            picks.append(row)
        return regroup(self.pop, picks, self.table)

    def permute_labels(self, rng: np.random.Generator) -> xr.DataArray:
        """The ``by`` labels permuted among the trials of each stage (within each group of the
        ``within`` / ``split`` labels), keeping every manifold's count."""
        picks = []
        for per_cell in self.trials:
            row: list[np.ndarray] = [np.empty(0, np.int64)] * len(per_cell)
            for g in np.unique(self.group):
                cells = np.flatnonzero(self.group == g)
                pooled = rng.permutation(np.concatenate([per_cell[c] for c in cells]))
                bounds = np.cumsum([0, *(len(per_cell[c]) for c in cells)])
                for k, c in enumerate(cells):
                    row[c] = pooled[bounds[k] : bounds[k + 1]]
            picks.append(row)
        return regroup(self.pop, picks, self.table)

    def swap_stages(self, rng: np.random.Generator) -> xr.DataArray:
        """Two stages' trials of every cell pooled and reassigned to the stages at random,
        keeping each stage's count (index ``n_trial + t`` is trial t of stage 1)."""
        n_trial = self.pop.sizes["trial"]
        picks: list[list[np.ndarray]] = [[], []]
        for a, b in zip(*self.trials):
            pooled = rng.permutation(np.concatenate([a, b + n_trial]))
            picks[0].append(pooled[: len(a)])
            picks[1].append(pooled[len(a) :])
        return regroup(self.pop, picks, self.table, flat=True)


# ---- summarising replicates ----------------------------------------------------------------------


def _outputs(measure: str, ds: xr.Dataset, wanted: Sequence[str] | None) -> list[str]:
    names = [o.name for o in get_measure(measure).outputs if o.name in ds.data_vars]
    if wanted is None:
        return names
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ValueError(f"unknown output(s) {unknown} of measure {measure!r}; it gives {names}.")
    return list(wanted)


def _stack(reps: list[xr.Dataset], names: list[str]) -> xr.Dataset:
    """Replicates along a ``replicate`` dim, only the outputs and the index coords."""
    parts = [r[names].reset_coords(drop=True) for r in reps]
    return xr.concat(parts, dim="replicate", join="outer")


def _quantiles(reps: xr.Dataset, confidence: float) -> tuple[xr.Dataset, xr.Dataset]:
    tail = (1 - confidence) / 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        q = reps.quantile([tail, 1 - tail], dim="replicate", skipna=True)
    return q.isel(quantile=0, drop=True), q.isel(quantile=1, drop=True)


def _resample_error(
    point: xr.Dataset, reps: xr.Dataset, how: str, fraction: float, confidence: float
) -> tuple[xr.Dataset, xr.Dataset, xr.Dataset]:
    """Standard error and interval from replicates. Subsamples (m of n without replacement) are
    recentred on the point estimate and scaled by ``sqrt(f / (1 - f))`` (for a smooth statistic,
    ``var(theta_m - theta_n) = sigma^2 (1/m - 1/n)``); bootstrap and pseudo-population draws give
    plain percentiles."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sd = reps.std("replicate", ddof=1, skipna=True)
        if how != "subsample":
            low, high = _quantiles(reps, confidence)
            return sd, low, high
        scale = float(np.sqrt(fraction / (1 - fraction)))
        low, high = _quantiles(reps - reps.mean("replicate", skipna=True), confidence)
    return scale * sd, point + scale * low, point + scale * high


def _assemble(
    point: xr.Dataset,
    names: list[str],
    boot: xr.Dataset | None,
    null: xr.Dataset | None,
    how: str,
    fraction: float,
    confidence: float,
    keep_replicates: bool,
) -> xr.Dataset:
    out = point[[]].copy()
    nan = xr.full_like(point[names], np.nan)
    if boot is not None:
        se, low, high = _resample_error(point[names], boot, how, fraction, confidence)
    else:
        se = low = high = nan
    if null is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            null_mean = null.mean("replicate", skipna=True)
        null_low, null_high = _quantiles(null, confidence)
    else:
        null_mean = null_low = null_high = nan
    for v in names:
        sem = point[f"{v}_sem"] if f"{v}_sem" in point else xr.full_like(point[v], np.nan)
        out[v] = point[v]
        out[f"{v}_sem"] = sem
        out[f"{v}_resample_se"] = se[v]
        out[f"{v}_ci_low"] = low[v]
        out[f"{v}_ci_high"] = high[v]
        out[f"{v}_null_mean"] = null_mean[v]
        out[f"{v}_null_low"] = null_low[v]
        out[f"{v}_null_high"] = null_high[v]
        if keep_replicates and boot is not None:
            out[f"{v}_boot"] = boot[v]
    return out


# ---- replicates, fanned out through parallel_map -------------------------------------------------


def _boot_batch(
    bs: list[int], setup: _Setup, draws: _Draws, how: str, fraction: float, seed: int
) -> list[xr.Dataset]:
    """Resampled estimates ``b`` of one batch: trials drawn with ``child_seed(seed, 1, b)``, the
    measure seeded ``child_seed(seed, 2, b)`` (the batch's GLUE problems solved together)."""
    return setup.estimate_many(
        (
            draws.resample(np.random.default_rng(child_seed(seed, 1, b)), how, fraction),
            child_seed(seed, 2, b),
        )
        for b in bs
    )


def _null_batch(
    bs: list[int],
    setup: _Setup,
    pop: xr.DataArray | None,
    pseudo: list[xr.DataArray] | None,
    seed: int,
) -> list[xr.Dataset]:
    """Shuffle-null estimates ``b`` of one batch (labels permuted with ``child_seed(seed, 3, b)``;
    the batch's GLUE problems solved together)."""

    def shuffled(b: int) -> tuple[xr.DataArray, int]:
        base_pop = (
            pop
            if pseudo is None
            else resample_pseudopopulation(pseudo, setup.labels, draw=b, seed=child_seed(seed, 5))
        )
        base = _Draws(base_pop, setup.labels, len(setup.labels) - len(setup.by))
        return base.permute_labels(np.random.default_rng(child_seed(seed, 3, b))), child_seed(
            seed, 4, b
        )

    return setup.estimate_many(shuffled(b) for b in bs)


def _fan_out(batch_fn: Any, n: int, n_jobs: int, what: str = "replicate") -> list[Any]:
    """Replicates ``0..n-1`` through :func:`neurogeom.parallel.parallel_map`, in order; each
    replicate's geometry runs in one worker (its own fan-out serial). An error names the
    replicates of its batch (``"bootstrap replicates 0-24"``)."""

    def describe(batch: list[int]) -> str:
        if len(batch) == 1:
            return f"{what} {batch[0]}"
        return f"{what}s {batch[0]}-{batch[-1]}"

    parts = parallel_map(
        batch_fn, batches(list(range(n)), n_jobs), n_jobs=n_jobs, describe=describe
    )
    return [ds for part in parts for ds in part]


# ---- the trajectory ------------------------------------------------------------------------------


def _pseudo_point(setup: _Setup, pseudo: list[xr.DataArray], n: int, seed: int, names: list[str]):
    """Point estimate over pseudo-population draws: the mean of ``n`` draws, its Monte-Carlo
    error ``sqrt(sum sem_b^2) / n``; the draws themselves are the replicates."""

    def drawn(b: int) -> xr.DataArray:
        return _check_stages(resample_pseudopopulation(pseudo, setup.labels, draw=b, seed=seed))

    reps = [setup.estimate(drawn(0), child_seed(seed, 2, 0))]
    reps += setup.estimate_many((drawn(b), child_seed(seed, 2, b)) for b in range(1, n))
    first = reps[0]
    stacked = _stack(reps, [*names, *(f"{v}_sem" for v in names if f"{v}_sem" in first)])
    point = first.copy()
    for v in names:
        point[v] = stacked[v].mean("replicate", skipna=True)
        if f"{v}_sem" in stacked:
            point[f"{v}_sem"] = np.sqrt((stacked[f"{v}_sem"] ** 2).sum("replicate")) / n
    return point, stacked[names], first


@renamed_arguments(n_null="n_perm")
def trajectory(
    pop: xr.DataArray | None,
    by: str | Sequence[str],
    measure: str = "glue",
    *,
    within: str | Sequence[str] | None = None,
    split: str | None = None,
    window_s: Any = None,
    n_boot: int = 100,
    n_perm: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
    n_jobs: int = 1,
    resample: str = "subsample",
    fraction: float = 0.5,
    pseudo: Sequence[xr.DataArray] | None = None,
    outputs: Sequence[str] | None = None,
    keep_replicates: bool = False,
    **measure_options: Any,
) -> xr.Dataset:
    """A registered measure along ``stage`` with resampling error and a shuffle null.

    Parameters
    ----------
    pop : xarray.DataArray or None
        Population tensor with a ``stage`` dim of length >= 2 (dims ``stage``, ``trial``,
        [``time``], ``unit``). None when ``pseudo`` gives the sessions.
    by : str or sequence of str
        Trial label(s) defining the manifolds.
    measure : str, default="glue"
        Registry name of a measure of one population's points and labels (``glue``,
        ``simulated_capacity``, ``mftma``, ``decoding_accuracy``, ``participation_ratio``).
    within, split, window_s
        As in :func:`neurogeom.learning.measure_geometry`: joint manifolds, a separate analysis per
        value of a label (a dim named after it), a window (seconds) or a list of windows (a
        ``time_window`` dim).
    n_boot : int, default=100
        Resampling replicates (0: no resampling error, the columns are NaN).
    n_perm : int, default=100
        Shuffle-null replicates, labels permuted within stage (0: no null). Renamed from
        ``n_null`` in 0.2.0 (the old name is accepted, with a ``FutureWarning``, until 0.3.0).
    confidence : float, default=0.95
        Coverage of the resampling interval and of the null interval.
    seed : int, default=0
        The one seed; see the module docstring for the child seeds of each replicate.
    n_jobs : int, default=1
        Workers of each measure_geometry() call (over stages); the numbers do not depend on it.
    resample : {"subsample", "bootstrap"}, default="subsample"
        ``"subsample"``: in each (stage, manifold), a ``fraction`` of its trials drawn without
        replacement (m-out-of-n); the replicates are recentred on the full-data estimate and
        scaled by ``sqrt(fraction / (1 - fraction))`` (1 at the default 0.5, half-sampling).
        ``"bootstrap"``: trials drawn with replacement, a plain percentile interval.
    fraction : float, default=0.5
        Share of each manifold's trials in a subsample (0 < fraction < 1; at least 2 trials).
    pseudo : sequence of xarray.DataArray, optional
        Sessions of units recorded apart, each with the same ``stage`` dim: the resampling runs
        over pseudo-population draws (:func:`neurogeom.learning.prepare.resample_pseudopopulation`),
        the point estimate is the mean of ``n_boot`` draws (``v_sem`` its Monte-Carlo error),
        and ``v_resample_se`` / the interval are the spread and percentiles of the draws.
    outputs : sequence of str, optional
        The measure's outputs to keep (default: all of its registered outputs, e.g. glue's
        capacity, radius, dimension, utility and the three alignments).
    keep_replicates : bool, default=False
        Also return the resampling replicates as ``v_boot`` over dim ``replicate``.
    **measure_options
        Options of the measure (``n_t=200``, ``kappa=0.0``, ...).

    Returns
    -------
    xarray.Dataset
        Dims ``stage`` (coords of the tensor's stage: ``step``, ``label``, ...), and the split
        / ``time_window`` / ``manifold`` dims where they apply. For each output ``v``: ``v``,
        ``v_sem`` (Monte-Carlo error of the estimator), ``v_resample_se``, ``v_ci_low``,
        ``v_ci_high`` (resampling error over trials or draws, interval at ``confidence``),
        ``v_null_mean``, ``v_null_low``, ``v_null_high`` (labels permuted within stage).
        attrs: the estimator's provenance plus n_boot, n_perm, seed, confidence, estimator,
        by, within, split, resample, fraction.

    Raises
    ------
    ValueError
        A tensor without a ``stage`` dim or with one stage, an unknown resample, a fraction
        outside (0, 1), a confidence outside (0, 1), or both ``pop`` and ``pseudo``.

    Notes
    -----
    Why subsampling by default: duplicated points do not change a convex hull, so a bootstrap
    resample (with replacement) of a manifold behaves like a subsample of about 63% of its
    distinct points, and capacity (which grows as manifolds have fewer points) is biased
    upward in every replicate; the percentile interval then sits off the full-data estimate.
    A subsample without replacement at a fixed fraction, the same in every manifold, has a
    known size, so its shift is removed by recentring on the full-data estimate and its spread
    is rescaled to the full sample (Politis & Romano's subsampling; half-sampling at 0.5). The
    interval is the resampling error of the full-data estimate; the size bias of the estimator
    itself (capacity at n vs infinitely many trials) is not removed.

    The null permutes the ``by`` labels among the trials of each stage (within each value of
    the ``within`` and ``split`` labels, so the nesting is kept), and computes the measure at
    the same sample size: the chance level of the number.

    See Also
    --------
    neurogeom.learning.measure_geometry : the point estimate at every stage.
    stage_difference : a test of the change between two stages.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 8)  # 3 conditions x 8 trials
    >>> x = rng.normal(size=(3, 24, 10)) + 2 * np.arange(3)[:, None, None] * np.eye(10)[y]
    >>> pop = ng.make_population(x, dims=("stage", "trial", "unit"), quantity="rate_hz",
    ...                           trial_coords={"choice": y}, stage=[0, 1, 2])
    >>> traj = trajectory(pop, by="choice", n_boot=0, n_perm=0, n_t=20)
    >>> traj.capacity.dims, bool(traj.capacity[2] > traj.capacity[0])
    (('stage',), True)
    """
    if resample not in RESAMPLES:
        raise ValueError(f"resample must be one of {RESAMPLES}; got {resample!r}.")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1); got {fraction}.")
    n_boot, n_perm, confidence = _get("n_boot", "n_perm", "confidence")(
        check_params(
            "trajectory",
            n_boot=n_boot,
            n_perm=n_perm,
            confidence=confidence,
            seed=seed,
            n_jobs=n_jobs,
        )
    )
    setup = _Setup(
        label_names(by), label_names(within), split, measure, window_s, n_jobs, measure_options
    )
    inner = replace(setup, n_jobs=1)  # replicates fan out; each one's stages run in its worker
    if pseudo is not None:
        if pop is not None:
            raise ValueError("give either pop or pseudo= (the sessions), not both.")
        if n_boot < 2:
            raise ValueError("with pseudo=, n_boot (the number of draws) must be at least 2.")
        pseudo = list(pseudo)
        how = "pseudo"
        probe = setup.estimate(_check_stages(resample_pseudopopulation(pseudo, setup.labels)), 0)
        names = _outputs(measure, probe, outputs)
        point, boot, first = _pseudo_point(setup, pseudo, n_boot, seed, names)
    else:
        pop = _check_stages(pop)
        how = resample
        point = setup.estimate(pop, seed)
        names = _outputs(measure, point, outputs)
        draws = _Draws(pop, setup.labels, len(setup.labels) - len(setup.by))
        boot = None
        if n_boot:
            one = functools.partial(
                _boot_batch, setup=inner, draws=draws, how=resample, fraction=fraction, seed=seed
            )
            boot = _stack(_fan_out(one, n_boot, n_jobs, f"{resample} replicate"), names)
    null = None
    if n_perm:
        one = functools.partial(_null_batch, setup=inner, pop=pop, pseudo=pseudo, seed=seed)
        null = _stack(_fan_out(one, n_perm, n_jobs, "shuffle replicate"), names)
    out = _assemble(point, names, boot, null, how, fraction, confidence, keep_replicates)
    out.attrs = dict(point.attrs)
    out.attrs.update(
        estimator=measure,
        n_boot=int(n_boot),
        n_perm=int(n_perm),
        seed=int(seed),
        confidence=float(confidence),
        resample=how,
        fraction=float(fraction),
        by=list(setup.by),
        within=list(setup.within),
        split=split or "none",
        outputs=names,
        window_s=attr_value(point.attrs.get("window_s", "none")),
    )
    return out


# ---- stage-to-stage tests ------------------------------------------------------------------------


def _stage_index(pop: xr.DataArray, stage: Any) -> int:
    values = pop["stage"].values.tolist()
    if stage in values:
        return values.index(stage)
    if "label" in pop.coords and pop["label"].dims == ("stage",):
        hits = np.flatnonzero(pop["label"].values == stage)
        if len(hits) == 1:
            return int(hits[0])
    labels = pop["label"].values.tolist() if "label" in pop.coords else []
    raise ValueError(f"unknown stage {stage!r}; the stages are {values} (labels {labels}).")


def _difference_batch(
    bs: list[int], setup: _Setup, draws: _Draws, output: str, fraction: float, seed: int, null: bool
) -> list[float]:
    """Stage differences of one batch: subsamples ``b`` (trials drawn with
    ``child_seed(seed, 1, b)``) or, with ``null``, stage swaps (``child_seed(seed, 3, b)``); the
    batch's GLUE problems solved together."""

    def drawn(b: int) -> tuple[xr.DataArray, int]:
        if null:
            pop = draws.swap_stages(np.random.default_rng(child_seed(seed, 3, b)))
            return pop, child_seed(seed, 4, b)
        rng = np.random.default_rng(child_seed(seed, 1, b))
        return draws.resample(rng, "subsample", fraction), child_seed(seed, 2, b)

    return [float(ds[output][1] - ds[output][0]) for ds in setup.estimate_many(map(drawn, bs))]


def _one_difference(
    pop: xr.DataArray,
    setup: _Setup,
    output: str,
    stages: Sequence[Any],
    n_boot: int,
    n_perm: int,
    fraction: float,
    confidence: float,
    seed: int,
) -> dict[str, Any]:
    """Difference (second stage minus first) on one tensor, its interval and permutation p."""
    index = [_stage_index(_check_stages(pop), s) for s in stages]
    if index[0] == index[1]:
        raise ValueError(
            f"stages must name two different stages; {stages[0]!r} and {stages[1]!r} are the "
            f"same stage (the stages are {pop['stage'].values.tolist()}). A stage compared with "
            "itself has no difference to test."
        )
    sub = pop.isel(stage=index)
    point = setup.estimate(sub, seed)
    values = point[output].values
    diff = float(values[1] - values[0])
    draws = _Draws(sub, setup.labels, len(setup.labels) - len(setup.by))
    inner = replace(setup, n_jobs=1)
    one = functools.partial(
        _difference_batch, setup=inner, draws=draws, output=output, fraction=fraction, seed=seed
    )
    boot = _fan_out(functools.partial(one, null=False), n_boot, setup.n_jobs, "subsample")
    null = _fan_out(functools.partial(one, null=True), n_perm, setup.n_jobs, "permutation")
    boot_a = np.asarray(boot)
    scale = np.sqrt(fraction / (1 - fraction))
    low, high = (
        percentile_ci(diff + scale * (boot_a - np.nanmean(boot_a)), confidence=confidence)
        if n_boot
        else (np.nan, np.nan)
    )
    return {
        "difference": diff,
        "ci": (float(low), float(high)),
        "p": permutation_p_value(diff, null),
        "values": values,
        "sems": point[f"{output}_sem"].values if f"{output}_sem" in point else np.full(2, np.nan),
        "null": np.asarray(null),
    }


def stage_difference(
    pop: xr.DataArray | Sequence[xr.DataArray],
    by: str | Sequence[str],
    measure_output: str | None = None,
    stages: Sequence[Any] = ("before", "after"),
    *,
    measure: str = "glue",
    within: str | Sequence[str] | None = None,
    window_s: Any = None,
    n_boot: int = 100,
    n_perm: int = 100,
    confidence: float = 0.95,
    fraction: float = 0.5,
    seed: int = 0,
    n_jobs: int = 1,
    **measure_options: Any,
) -> xr.Dataset:
    """The change of one measure output between two stages, with an interval and a p-value.

    Parameters
    ----------
    pop : xarray.DataArray or sequence of them
        One tensor with a ``stage`` dim, or one per subject (animal, network): then the test is
        paired across subjects.
    by : str or sequence of str
        Trial label(s) defining the manifolds.
    measure_output : str, optional
        The output compared (default: the measure's first output, ``capacity`` for glue).
    stages : (first, second), default=("before", "after")
        The two stages, as values of the ``stage`` coord or of its ``label`` coord. The
        difference is second minus first.
    measure : str, default="glue"
        Registry name of the measure.
    within, window_s
        As in :func:`trajectory`.
    n_boot, n_perm : int, default=100
        Resampling replicates for the interval, permutations (or sign flips) for the p-value.
    confidence : float, default=0.95
    fraction : float, default=0.5
        Subsample share for the interval (as in :func:`trajectory`).
    seed : int, default=0
        Seed; subject ``i`` uses ``child_seed(seed, i)``.
    n_jobs : int, default=1
    **measure_options
        Options of the measure (``n_t=100``).

    Returns
    -------
    xarray.Dataset
        0-d ``difference`` (second minus first; across subjects their mean),
        ``difference_ci_low``, ``difference_ci_high`` (at ``confidence``), ``p_value``
        (two-sided). One tensor: ``value`` and ``value_sem`` over ``stage`` (the two stages),
        and ``null`` over ``permutation``. Several: ``subject_difference`` over ``subject`` and
        ``difference_resample_se`` (the output of
        :func:`neurogeom.learning.stats.paired_difference` on the per-subject values).
        attrs: measure, output, stages, test, n_boot, n_perm, seed, confidence.

    Notes
    -----
    One tensor: the interval recentres half-sample replicates on the observed difference (see
    :func:`trajectory`). The p-value permutes stage membership: each manifold's trials of the two
    stages are pooled and reassigned at random, keeping the counts. This is valid when the
    trials of the two stages are independent samples of the same units (before/after sessions
    of the same recorded units): under the null the trials are exchangeable between the stages.
    It is not valid when the same trials are measured at both stages (network checkpoints run on
    one trial set, repeated measures) or when the units differ between stages; for networks,
    give one tensor per network and use the paired test.

    Several tensors: each subject's difference is computed on all its trials; the p-value flips
    the signs of the per-subject differences (every sign pattern when ``2**n <= n_perm``, else
    ``n_perm`` random ones); the interval resamples subjects with replacement. Subjects are the
    unit of replication, so within-subject trial noise enters through their spread.

    See Also
    --------
    trajectory : the measure at every stage, with errors and a null.
    neurogeom.learning.stats.difference_test : the same question on plain (points, labels) arrays.
    neurogeom.learning.stats.paired_difference : the paired test on per-subject values.

    Examples
    --------
    >>> import numpy as np, neurogeom as ng
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 8)  # 3 conditions x 8 trials
    >>> x = rng.normal(size=(3, 24, 10)) + 2 * np.arange(3)[:, None, None] * np.eye(10)[y]
    >>> pop = ng.make_population(x, dims=("stage", "trial", "unit"), quantity="rate_hz",
    ...                           trial_coords={"choice": y}, stage=[0, 1, 2])
    >>> res = stage_difference(pop, by="choice", stages=(0, 2), measure="participation_ratio",
    ...                        n_boot=10, n_perm=10)
    >>> sorted(k for k in res.data_vars if k.startswith("difference"))
    ['difference', 'difference_ci_high', 'difference_ci_low']
    """
    setup = _Setup(
        label_names(by), label_names(within), None, measure, window_s, n_jobs, measure_options
    )
    checked = check_params(
        "stage_difference",
        n_boot=n_boot,
        n_perm=0 if n_perm is None else n_perm,
        confidence=confidence,
        seed=seed,
    )
    n_boot, n_perm = checked["n_boot"], checked["n_perm"]
    coarse_p_warning(n_perm, 1 - confidence, "stage_difference: ")
    outputs = [o.name for o in get_measure(measure).outputs]
    output = outputs[0] if measure_output is None else measure_output
    check_choice("output", output, outputs, of=f" of measure {measure!r}")
    if len(stages) != 2:
        raise ValueError(f"stages must name two stages (first, second); got {stages!r}.")
    attrs = dict(
        measure=measure,
        output=output,
        stages=attr_value([str(s) for s in stages]),
        n_boot=int(n_boot),
        n_perm=int(n_perm),
        seed=int(seed),
        confidence=float(confidence),
    )
    if isinstance(pop, xr.DataArray):
        r = _one_difference(
            pop,
            setup,
            output,
            stages,
            n_boot,
            0 if n_perm is None else n_perm,
            fraction,
            confidence,
            seed,
        )
        return xr.Dataset(
            {
                "difference": r["difference"],
                "difference_ci_low": r["ci"][0],
                "difference_ci_high": r["ci"][1],
                "p_value": r["p"],
                "value": ("stage", r["values"]),
                "value_sem": ("stage", r["sems"]),
                "null": ("permutation", r["null"]),
            },
            coords={"stage": [str(s) for s in stages]},
            attrs={
                **attrs,
                "estimator": "stage_difference",
                "test": "stage permutation within manifolds",
            },
        )
    pops = list(pop)
    if len(pops) < 2:
        raise ValueError("a paired test needs at least 2 subjects; give a list of tensors.")
    values = np.array(
        [
            _one_difference(
                p, setup, output, stages, 0, 0, fraction, confidence, child_seed(seed, i)
            )["values"]
            for i, p in enumerate(pops)
        ]
    )
    out = paired_difference(
        values[:, 0],
        values[:, 1],
        n_boot=n_boot,
        n_perm=max(int(n_perm), 1),
        seed=seed,
        confidence=confidence,
    )
    out = out.assign_coords(subject=np.arange(len(pops)))
    out.attrs.update(attrs, test="paired sign flip across subjects")
    return out
