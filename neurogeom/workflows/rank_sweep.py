"""Capacity at initialisation and its change with training, across the rank of the initial weights.

arXiv 2503.18114 (Sec. 5.1) trains CTRNNs whose initial recurrent matrix is SVD-truncated to rank
r and finds that low-rank initialisations start with lower capacity ("poor") and change more
("rich"). :func:`rank_sweep` trains (or reuses) one run per (rank, seed) of a spec with a
``[sweep]`` section (``tasks/rank_sweep_paper.toml`` is the paper's protocol) and returns, per run,
the geometry of every checkpoint (:func:`neurogeom.workflows.runs.run_geometry` with the spec's
``[analysis]`` settings: the six GLUE measures along training, dims ``(rank, seed, step)``), its
first and last checkpoint as ``(rank, seed)`` summaries, and the relative change of the recurrent
weights. :func:`rank_protocol` reads it with the seeds as replicates: capacity at initialisation
and its change by rank, the final geometry, the learning stages per rank and the routes in the
(radius, dimension) plane.

``neurogeom run tasks/rank_sweep_paper.toml -o OUT [--setting fast] [--jobs 2]`` runs it end to
end (:func:`run_rank_sweep`): runs under ``OUT/runs/<setting>/``, ``OUT/results/rank_sweep.nc``
and ``OUT/report.html`` with the figure, the table and the reading against the paper's claim.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from neurogeom._deprecation import phase_progress
from neurogeom._files import output_lock, to_json
from neurogeom.learning.stages import GLUE_MEASURES
from neurogeom.parallel import parallel_map
from neurogeom.specs.run import named_setting
from neurogeom.specs.train import expand_sweep, validate_spec
from neurogeom.workflows.folders import Results, result_key
from neurogeom.workflows.outputs import RunOptions, check_out, save_report, write_timings
from neurogeom.workflows.preflight import load_spec

__all__ = ["rank_sweep", "rank_protocol", "FAST_SETTING", "SETTINGS", "run_rank_sweep"]

#: Variables of the result, from the geometry at the first and the last checkpoint.
_MEASURES = ("capacity", "radius", "dimension")

#: The six GLUE measures, measured at every checkpoint of every run.
_GEOMETRY = GLUE_MEASURES

#: Variables of the trajectories (dims rank, seed, step), besides ``accuracy`` and
#: ``relative_weight_change``.
_STEP_VARIABLES = (
    *_GEOMETRY,
    *(f"{m}_sem" for m in _GEOMETRY),
    "at_floor",
    "no_separating_fraction",
)

#: A fast setting of ``tasks/rank_sweep_paper.toml`` (about a minute on 2 cores): 4 ranks, 2 seeds,
#: 200 SGD steps on a bank of 1024 trials, checkpoints on the paper's schedule up to 200 (21 of
#: them), 50 probes per GLUE estimate. The tests and
#: ``tutorials/06_rank_sweep.py`` run it: ``neurogeom run <spec> -o OUT --setting fast``, or
#: ``rank_sweep(spec, out, **FAST_SETTING)``.
FAST_SETTING: dict[str, Any] = {
    "ranks": [1, 5, 25, 300],
    "seeds": [0, 1],
    "overrides": {
        "training": {"n_steps": 200, "n_train_trials": 1024, "n_test_trials": 200},
        "checkpoints": {"schedule": "log", "save_every": 100},
        "analysis": {"options": {"n_t": 50, "dichotomies": "one_vs_rest", "jitter": 1e-6}},
    },
}


#: The settings ``neurogeom run <sweep spec> --setting NAME`` selects: ``"full"`` is the spec as
#: written (``tasks/rank_sweep_paper.toml``: 80 runs of 10,000 steps, about 1-2 hours on 2 cores
#: with ``--jobs 2``), ``"fast"`` is ``FAST_SETTING``.
SETTINGS: dict[str, dict[str, Any]] = {"full": {}, "fast": FAST_SETTING}


def _spec_with(
    spec: Mapping[str, Any] | str | Path,
    ranks: Sequence[int | str] | None,
    seeds: Sequence[int] | None,
    overrides: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, Any]:

    base = load_spec(spec) if isinstance(spec, str | Path) else copy.deepcopy(dict(spec))
    base.pop("source", None)
    for section, values in (overrides or {}).items():
        if not isinstance(values, Mapping):
            raise ValueError(
                f"overrides[{section!r}] must be a table of keys, e.g. "
                "{'training': {'n_steps': 300}}"
            )
        base[section] = {**base.get(section, {}), **values}
    sweep = dict(base.get("sweep", {}))
    if ranks is not None:
        sweep["rank"] = list(ranks)
    if seeds is not None:
        sweep["seed"] = list(seeds)
    if not sweep.get("rank"):
        raise ValueError("rank_sweep needs ranks: give ranks=[...] or a [sweep] rank = [...]")
    sweep.setdefault("seed", [base.get("training", {}).get("seed", 0)])
    base["sweep"] = {"rank": sweep["rank"], "seed": sweep["seed"]}
    return validate_spec(base, where="rank_sweep spec")


def _finished(run_dir: Path, spec: Mapping[str, Any]) -> str | None:
    """Why ``run_dir`` is not a finished run of ``spec`` (None when it is one)."""
    import json

    from neurogeom.models.train import _resolve, list_checkpoints, run_spec

    if not (run_dir / "spec.json").is_file():
        return "not trained"
    if run_spec(run_dir) != json.loads(to_json(_resolve(copy.deepcopy(dict(spec))))):
        return "holds a run of a different spec"
    steps = [s for s, _ in list_checkpoints(run_dir)]
    n_steps = int(spec["training"]["n_steps"])
    if not steps or steps[-1] != n_steps or not (run_dir / "metrics.csv").is_file():
        return f"not finished (last checkpoint {steps[-1] if steps else None} of {n_steps})"
    if n_steps not in set(pd.read_csv(run_dir / "metrics.csv")["step"]):
        return "not finished (metrics.csv lacks the last step)"
    return None


def _trajectory(run_dir: Path, ds: xr.Dataset) -> xr.Dataset:
    """One run's geometry at every checkpoint on dim ``step``: the six measures, their Monte-Carlo
    errors, the floor diagnostics, the held-out accuracy (NaN where not evaluated) and the
    relative weight change."""
    rows = pd.read_csv(run_dir / "metrics.csv").groupby("step").last()
    steps = np.asarray(ds["step"].values, dtype=np.int64)
    out = xr.Dataset(coords={"step": steps})
    for v in _STEP_VARIABLES:
        values = ds[v].values if v in ds else np.full(len(steps), np.nan)
        out[v] = ("step", np.asarray(values, dtype=np.float64))
    for v, col in (("accuracy", "accuracy"), ("relative_weight_change", "weight_change")):
        out[v] = ("step", rows[col].reindex(steps).to_numpy(dtype=np.float64))
    return out


def _cached_geometry(run_dir: Path, cache: Path | None, *, ends_only: bool = False) -> xr.Dataset:
    """:func:`_trajectory` of ``run_geometry(run_dir)`` (every checkpoint, or the first and the
    last with ``ends_only``), read from ``cache`` when it holds the same run (spec, checkpoints,
    metrics) and written there otherwise; attrs ``geometry_s``: the seconds its geometry took
    when it was computed."""
    import hashlib

    from neurogeom.models.train import list_checkpoints
    from neurogeom.workflows.runs import run_geometry

    steps = [s for s, _ in list_checkpoints(run_dir)]
    if ends_only:
        steps = [steps[0], steps[-1]]
    key = hashlib.sha256(
        (run_dir / "spec.json").read_bytes()
        + (run_dir / "metrics.csv").read_bytes()
        + to_json(steps).encode()
    ).hexdigest()
    if cache is not None and cache.is_file():
        with xr.open_dataset(cache) as old:
            if old.attrs.get("key") == key and "geometry_s" in old.attrs:
                return old.load()
    t0 = time.perf_counter()
    traj = _trajectory(run_dir, run_geometry(run_dir, steps=steps))
    traj.attrs.update(key=key, geometry_s=time.perf_counter() - t0)
    if cache is not None:
        from neurogeom._files import replace_atomic

        cache.parent.mkdir(parents=True, exist_ok=True)
        replace_atomic(cache, lambda tmp: traj.to_netcdf(tmp))
    return traj


def _one_run(
    item: tuple[str, dict[str, Any]],
    out_dir: str,
    seconds: dict[str, float] | None = None,
    *,
    train_runs: bool = True,
    cache_dir: str | None = None,
    ends_only: bool = False,
) -> tuple[dict[str, Any], xr.Dataset]:
    """Train (or reuse) one run; its summary row and its geometry at every checkpoint
    (:func:`_trajectory`). ``seconds``, when given, gets the seconds spent in training
    (``"train"``) and geometry (``"geometry"``). With ``train_runs=False`` the run must be a
    finished run of its spec (nothing is written into it); ``cache_dir`` keeps each run's
    geometry (``<cache_dir>/<run name>.nc``) for a rerun. ``ends_only`` measures the first and
    the last checkpoint only (what a sweep point keeps)."""
    from neurogeom.models.train import train

    name, spec = item
    run_dir = Path(out_dir) / name
    t0 = time.perf_counter()
    if train_runs:
        ideal = train(spec, run_dir).ideal_accuracy
    else:
        why = _finished(run_dir, spec)
        if why is not None:
            raise ValueError(f"{run_dir}: {why}; train it first (scripts/train_sweep.py)")
        ideal = pd.read_csv(run_dir / "metrics.csv")["ideal_accuracy"].dropna()
        ideal = float(ideal.iloc[0]) if len(ideal) else None
    t1 = time.perf_counter()
    cache = None if cache_dir is None else Path(cache_dir) / f"{name}.nc"
    traj = _cached_geometry(run_dir, cache, ends_only=ends_only)
    if seconds is not None:
        seconds.update(train=t1 - t0, geometry=time.perf_counter() - t1)
    first, last = traj.isel(step=0), traj.isel(step=-1)
    row: dict[str, Any] = {
        "rank": spec["network"]["rank"],
        "seed": spec["training"]["seed"],
        "init_step": int(first["step"]),
        "final_step": int(last["step"]),
        "weight_change": float(last["relative_weight_change"]),
        "accuracy_init": float(first["accuracy"]),
        "accuracy_final": float(last["accuracy"]),
        "ideal_accuracy": np.nan if ideal is None else float(ideal),
    }
    for m in (*_MEASURES, "at_floor", "no_separating_fraction"):
        row[f"{m}_init"] = float(first[m])
        row[f"{m}_final"] = float(last[m])
    return row, traj


def _worker_run(
    item: tuple[str, dict[str, Any]],
    out_dir: str,
    train_runs: bool = True,
    cache_dir: str | None = None,
) -> tuple[dict[str, Any], xr.Dataset, dict[str, float]]:
    """One run of :func:`rank_sweep` where the workers run it: :func:`_one_run` with one torch
    and one BLAS thread (the networks are small: a second thread per process gains little alone
    and oversubscribes the cores when the runs go side by side), and its seconds.

    A worker process keeps its imports and, through :func:`neurogeom.tasks.build_trial_bank`,
    the trial banks it has built: the runs of one seed share their training, held-out and
    analysis banks, so a worker builds them once, not once per rank.
    """
    from threadpoolctl import threadpool_limits

    from neurogeom.models.rnn import torch_threads

    seconds: dict[str, float] = {}
    with torch_threads(1), threadpool_limits(1):
        row, traj = _one_run(item, out_dir, seconds, train_runs=train_runs, cache_dir=cache_dir)
    return row, traj, seconds


def _assemble(
    full: Mapping[str, Any],
    done: Sequence[tuple[dict[str, Any], xr.Dataset, dict[str, float]]],
) -> xr.Dataset:
    """The result of :func:`rank_sweep` from its runs' rows and trajectories: dims (rank, seed)
    and (rank, seed, step), NaN for a (rank, seed) not in ``done``."""
    ranks, seeds = list(full["sweep"]["rank"]), list(full["sweep"]["seed"])
    if done:
        df = pd.DataFrame([row for row, _, _ in done])
        df["rank"] = [str(r) if isinstance(r, str) else int(r) for r in df["rank"]]
        ds = xr.Dataset.from_dataframe(df.set_index(["rank", "seed"]))
        ds = ds.reindex(rank=ranks, seed=seeds)
    else:
        ds = xr.Dataset(coords={"rank": ranks, "seed": seeds})
    steps = sorted({int(s) for _, traj, _ in done for s in traj["step"].values})
    names = (*_STEP_VARIABLES, "accuracy", "relative_weight_change")
    cube = {v: np.full((len(ranks), len(seeds), len(steps)), np.nan) for v in names}
    measured = np.zeros((len(ranks), len(seeds)), dtype=bool)
    where = {s: i for i, s in enumerate(steps)}
    for row, traj, _ in done:
        i, j = ranks.index(row["rank"]), seeds.index(row["seed"])
        k = [where[int(s)] for s in traj["step"].values]
        measured[i, j] = True
        for v in names:
            cube[v][i, j, k] = traj[v].values
    for v in names:
        ds[v] = (("rank", "seed", "step"), cube[v])
    ds = ds.assign_coords(step=np.asarray(steps, dtype=np.int64))
    ds["measured"] = (("rank", "seed"), measured)
    ds["capacity_change"] = ds["capacity_final"] - ds["capacity_init"]
    return ds


def rank_sweep(
    spec: Mapping[str, Any] | str | Path,
    out_dir: str | Path,
    *,
    ranks: Sequence[int | str] | None = None,
    seeds: Sequence[int] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    n_jobs: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> xr.Dataset:
    """Train or reuse one run per (rank, seed) and compare the geometry at init and at the end.

    Parameters
    ----------
    spec : mapping or path
        An experiment spec (or its TOML file) with ``[sweep] rank = [...]`` (and ``seed``), e.g.
        ``tasks/rank_sweep_paper.toml``. Its ``[analysis]`` section sets the geometry.
    out_dir : path
        Runs go to ``out_dir/rank_<r>_seed_<s>``; finished runs are reused, stopped ones resumed.
    ranks, seeds : sequence, optional
        Replace the spec's swept values.
    overrides : mapping of section to mapping, optional
        Keys replaced in the spec's sections before the sweep, e.g. a fast setting
        ``{"training": {"n_steps": 300}, "checkpoints": {"steps": [0, 300]}}``.
    n_jobs : int, default=1
        Runs trained at once (:func:`neurogeom.parallel.parallel_map`; inside
        ``neurogeom.parallel.cluster(...)`` they run on that cluster); results do not depend on
        it. Each run trains and measures with one torch and one BLAS thread, so ``n_jobs`` up to
        the number of cores runs that many runs side by side without oversubscribing them.
    progress : callable, optional
        ``progress(phase, done, total)`` (phase ``"train"``), called at the start and as each
        run finishes.

    Returns
    -------
    xarray.Dataset
        dims ``(rank, seed)``: ``capacity_init``, ``capacity_final``, ``capacity_change``
        (final - init), ``radius_init`` / ``_final``, ``dimension_init`` / ``_final``,
        ``weight_change`` (``||W - W0||_F / ||W0||_F`` at the end), ``accuracy_init`` /
        ``_final`` (held-out), ``ideal_accuracy``, ``init_step`` / ``final_step``, the floor
        diagnostics ``at_floor_init`` / ``_final`` and ``no_separating_fraction_init`` /
        ``_final`` (NaN where the measure has none); ``measured`` (True for every run here).
        dims ``(rank, seed, step)`` (``step``: every checkpoint, the spec's ``[checkpoints]``):
        the six GLUE measures ``capacity``, ``radius``, ``dimension``, ``center_alignment``,
        ``axis_alignment``, ``center_axis_alignment``, each with its Monte-Carlo error
        ``<measure>_sem``, the floor diagnostics ``at_floor`` and ``no_separating_fraction``,
        ``accuracy`` (held-out; NaN at steps without an evaluation) and
        ``relative_weight_change``. attrs: the
        settings of the sweep (network, training, analysis) as JSON, and ``train_s`` and
        ``geometry_s``, the seconds the runs spent in training and in geometry, summed over the
        runs (with ``n_jobs > 1`` more than the wall time).

    See Also
    --------
    run_rank_sweep : the sweep run from a spec.
    neurogeom.show.plot_rank_sweep : its figure.

    Examples
    --------
    Two ranks, two seeds of the paper's protocol at a shorter training (one run per pair):

    >>> ds = rank_sweep("tasks/rank_sweep_paper.toml", "runs/rank", ranks=[1, "full"],
    ...                 seeds=[0, 1], overrides={"training": {"n_steps": 300}})  # doctest: +SKIP
    >>> dict(ds.sizes)  # doctest: +SKIP
    {'rank': 2, 'seed': 2}
    """

    full = _spec_with(spec, ranks, seeds, overrides)
    runs = expand_sweep(full)
    one = functools.partial(_worker_run, out_dir=str(out_dir))
    tell = phase_progress(progress, "train")
    finished = [0]

    def advance(index: int, result: Any) -> None:
        finished[0] += 1
        tell(finished[0], len(runs))

    tell(0, len(runs))
    done = parallel_map(one, runs, n_jobs=n_jobs, on_result=advance)
    ds = _assemble(full, done)
    ds.attrs.update(
        {
            "spec": to_json({k: full[k] for k in ("task", "network", "training", "analysis")}),
            "out_dir": str(out_dir),
            "train_s": sum(sec["train"] for _, _, sec in done),
            "geometry_s": sum(sec["geometry"] for _, _, sec in done),
        }
    )
    return ds


# ---- `neurogeom run <sweep spec>` ---------------------------------------------------------------


def _is_sweep_spec(raw: Mapping[str, Any]) -> bool:
    """Whether a parsed TOML file is a training spec with a ``[sweep]`` of ``rank``: the kind
    ``neurogeom run`` hands to :func:`run_rank_sweep` (a run spec has no ``[task]``)."""
    return "task" in raw and "rank" in dict(raw.get("sweep", {}))


def run_rank_sweep(
    spec_path: str | Path, out: str | Path, options: RunOptions | None = None
) -> Path:
    """A rank-sweep spec end to end: its runs under ``OUT/runs/<setting>/``,
    ``OUT/results/rank_sweep.nc``, figures and report.

    The entry point is :func:`neurogeom.workflows.pipeline.run_pipeline` (``neurogeom run``),
    which tells the spec's kind and passes its ``neurogeom.workflows.outputs.RunOptions``.

    Parameters
    ----------
    spec_path : str or path
        A training spec with ``[sweep] rank = [...]`` (``tasks/rank_sweep_paper.toml``).
    out : str or path
        The output folder (created; a rerun reuses the runs and results already in it).
    options : RunOptions, optional
        The setting (``"full"`` or ``"fast"``), workers, ``force`` and progress callback
        (default: ``RunOptions()``).

    Returns
    -------
    pathlib.Path
        ``OUT/report.html``.

    See Also
    --------
    rank_sweep : the sweep on given settings.
    neurogeom.show.rank_sweep_report : its report.
    neurogeom.workflows.pipeline.run_pipeline : the entry point.

    Examples
    --------
    >>> from neurogeom.workflows.outputs import RunOptions
    >>> run_rank_sweep("tasks/rank_sweep_paper.toml", "rank_out",
    ...                RunOptions(setting="fast"))  # doctest: +SKIP
    PosixPath('rank_out/report.html')
    """
    options = options or RunOptions()
    setting, n_jobs, force, tell = options.setting, options.n_jobs, options.force, options.tell
    name, kwargs = named_setting(SETTINGS, setting)
    spec = load_spec(spec_path)
    _spec_with(spec, **kwargs)  # the swept spec is checked before anything is written
    out = Path(out)
    check_out(out)
    with output_lock(out, folder=True):
        seconds: dict[str, float] = {}
        t0 = time.perf_counter()
        (out / "report.html").unlink(missing_ok=True)  # rebuilt from the result it shows
        res = Results(out / "results", force)
        key = result_key(
            {"setting": name, "spec": {k: v for k, v in spec.items() if k != "source"}},
            [Path(spec_path)],
        )

        def compute() -> xr.Dataset:
            ds = rank_sweep(spec, out / "runs" / name, n_jobs=n_jobs or 1, progress=tell, **kwargs)
            ds.attrs.update(setting=name, spec_path=str(spec_path))
            return ds

        ds = res.get("rank_sweep", key, compute)
        tell("train", 1, 1)
        seconds["train"] = time.perf_counter() - t0
        report = _sweep_report(ds, out, name, spec_path, tell, seconds)
        write_timings(out, seconds, res.reused, [], recomputed=res.recomputed)
    return report


def _sweep_report(
    ds: xr.Dataset,
    out: Path,
    setting: str,
    spec_path: str | Path,
    tell: Callable[[str, int, int], None],
    seconds: dict[str, float],
) -> Path:
    from neurogeom.show.learning_report import rank_sweep_report

    return save_report(
        out,
        lambda figures: rank_sweep_report(
            ds, figures=figures, setting=setting, spec=str(spec_path)
        ),
        tell,
        seconds,
    )


# ---- the protocol read with the seeds as replicates ---------------------------------------------


def _t_interval(x: np.ndarray, confidence: float) -> tuple[float, float, float]:
    from scipy import stats

    x = x[np.isfinite(x)]
    if x.size < 2:
        return (float(x.mean()) if x.size else np.nan), np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean()), float(x.mean() - half), float(x.mean() + half)


def _rank_effect(values: np.ndarray, n_perm: int, seed: int) -> tuple[float, float]:
    """Share of the variance between ranks (eta squared) of ``values`` (rank, seed) and its
    permutation p-value (seeds shuffled across ranks), NaN runs left out."""
    groups = [row[np.isfinite(row)] for row in values]
    groups = [g for g in groups if g.size]
    if len(groups) < 2:
        return np.nan, np.nan
    flat = np.concatenate(groups)
    sizes = np.cumsum([g.size for g in groups])[:-1]

    def eta2(x: np.ndarray) -> float:
        total = float(((x - x.mean()) ** 2).sum())
        between = sum(p.size * (p.mean() - x.mean()) ** 2 for p in np.split(x, sizes))
        return float(between / total) if total > 0 else 0.0

    observed = eta2(flat)
    rng = np.random.default_rng(seed)
    null = np.array([eta2(rng.permutation(flat)) for _ in range(n_perm)])
    return observed, float((1 + np.sum(null >= observed - 1e-12)) / (1 + n_perm))


def _shared_wiggle(values: xr.DataArray) -> float:
    """Mean Pearson correlation, over pairs of runs, of their checkpoint-to-checkpoint changes:
    near 0 when each run's measurement noise is its own, high when the runs share it (the same
    points drawn at a checkpoint for every run)."""
    d = np.diff(np.asarray(values.transpose("rank", "seed", "step").values, float), axis=-1)
    d = d.reshape(-1, d.shape[-1])
    d = d[np.isfinite(d).all(axis=1) & (d.std(axis=1) > 0)]
    if len(d) < 2:
        return np.nan
    c = np.corrcoef(d)
    return float(c[~np.eye(len(c), dtype=bool)].mean())


def rank_protocol(
    ds: xr.Dataset, *, n_perm: int = 4096, seed: int = 0, confidence: float = 0.95
) -> xr.Dataset:
    """The rank sweep read with the seeds as replicates, measure by measure and rank by rank.

    Parameters
    ----------
    ds : xarray.Dataset
        A :func:`rank_sweep` result (its trajectories, dims ``(rank, seed, step)``); runs not
        ``measured`` are left out.
    n_perm : int, default=4096
        Sign flips of the paired test (all of them, an exact test, while ``2 ** n_seeds`` is at
        most ``n_perm``) and seed shuffles of the rank effect.
    seed : int, default=0
        Seed of the resampling.
    confidence : float, default=0.95
        Coverage of the intervals over seeds (Student t on the seeds' values).

    Returns
    -------
    xarray.Dataset
        On (rank, measure), for the six GLUE measures: ``init_mean`` / ``init_low`` /
        ``init_high`` (the measure at the first checkpoint: mean and interval over seeds),
        ``final_*`` (the last checkpoint), ``change_*`` (final - init) and ``change_p_value``
        (paired sign-flip test of the change, seeds as replicates:
        :func:`neurogeom.learning.stats.paired_difference`); on (measure):
        ``rank_effect_init`` / ``rank_effect_final`` (the share of the variance across runs
        that lies between ranks) and their ``_p_value`` (seeds shuffled across ranks); on
        (rank, step): ``route_log_radius`` and ``route_log_dimension`` (mean over seeds of
        log10 radius and dimension: the strategy route) and ``capacity_mean`` / ``capacity_low``
        / ``capacity_high`` along training; on (rank, seed): ``radius_part`` and
        ``dimension_part`` (:func:`neurogeom.learning.strategy_path`'s shares of the change of
        log10 contour capacity, init to final); on (measure): ``step_change_correlation``, the
        mean correlation over pairs of runs of their checkpoint-to-checkpoint changes (high when
        the runs share their measurement noise: every run draws the same points at a
        checkpoint, so the seeds are not independent replicates of that noise); and the learning stages per rank
        (``neurogeom.learning._seed_stages``: every network's boundaries, a consensus per rank
        with its support, stage names by a rule fixed on the even seeds and read on the odd
        ones, ``attrs["naming_agreement"]``).

    See Also
    --------
    rank_sweep : the result it reads.
    neurogeom.learning.learning_stages : the detector run on each network.

    Examples
    --------
    Two ranks, four seeds, eight checkpoints in which every measure rises by 0.1 per log10 step
    (plus noise): the change is positive in every seed, so the exact sign-flip test gives
    2 / 2**4:

    >>> rng = np.random.default_rng(0)
    >>> steps = [0, 1, 2, 4, 8, 16, 32, 64]
    >>> ds = xr.Dataset(coords={"rank": [1, 300], "seed": [0, 1, 2, 3], "step": steps})
    >>> rise = 1 + 0.1 * np.log10(1 + np.array(steps))
    >>> for m in _GEOMETRY:
    ...     ds[m] = (("rank", "seed", "step"), rise + 0.01 * rng.standard_normal((2, 4, 8)))
    ...     ds[f"{m}_sem"] = xr.full_like(ds[m], 0.01)
    >>> ds["measured"] = (("rank", "seed"), np.ones((2, 4), dtype=bool))
    >>> res = rank_protocol(ds)
    >>> res["change_p_value"].sel(measure="capacity").values.tolist()
    [0.125, 0.125]
    """
    from neurogeom._provenance import child_seed, provenance
    from neurogeom.learning._seed_stages import stages_across_seeds
    from neurogeom.learning.stats import paired_difference
    from neurogeom.learning.strategies import strategy_path

    if int(n_perm) < 1:
        raise ValueError(f"n_perm must be a positive count; got {n_perm}.")
    if not 0 < float(confidence) < 1:
        raise ValueError(f"confidence must lie in (0, 1); got {confidence}. Try 0.95.")
    missing = [v for v in _GEOMETRY if v not in ds or "step" not in ds[v].dims]
    missing += [] if "measured" in ds else ["measured"]
    if missing:
        raise ValueError(
            f"rank_protocol needs the trajectories of rank_sweep (dims rank, seed, step); the "
            f"result lacks {missing}. Rerun rank_sweep with this version."
        )
    ds = ds.where(ds["measured"].astype(bool))
    ranks, measures = ds["rank"].values, list(_GEOMETRY)
    out = xr.Dataset(coords={"rank": ranks, "measure": measures, "seed": ds["seed"].values})
    init, final = ds.isel(step=0), ds.isel(step=-1)
    names = ("init", "final", "change")
    arr = {f"{w}_{k}": np.full((len(ranks), len(measures)), np.nan)
           for w in names for k in ("mean", "low", "high")}  # fmt: skip
    p = np.full((len(ranks), len(measures)), np.nan)
    for i in range(len(ranks)):
        for j, m in enumerate(measures):
            a = np.asarray(init[m].isel(rank=i).values, float)
            b = np.asarray(final[m].isel(rank=i).values, float)
            for w, x in (("init", a), ("final", b), ("change", b - a)):
                arr[f"{w}_mean"][i, j], arr[f"{w}_low"][i, j], arr[f"{w}_high"][i, j] = _t_interval(
                    x, confidence
                )
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() >= 2:
                test = paired_difference(
                    a[ok], b[ok], n_boot=0, n_perm=int(n_perm), seed=child_seed(seed, i, j)
                )
                p[i, j] = float(test["p_value"])
    for k, v in arr.items():
        out[k] = (("rank", "measure"), v)
    out["change_p_value"] = (("rank", "measure"), p)
    for w, part in (("init", init), ("final", final)):
        eff = [
            _rank_effect(np.asarray(part[m].values, float), int(n_perm), child_seed(seed, 99, j))
            for j, m in enumerate(measures)
        ]
        out[f"rank_effect_{w}"] = ("measure", np.array([e[0] for e in eff]))
        out[f"rank_effect_{w}_p_value"] = ("measure", np.array([e[1] for e in eff]))
    with np.errstate(divide="ignore", invalid="ignore"):
        out["route_log_radius"] = np.log10(ds["radius"]).mean("seed")
        out["route_log_dimension"] = np.log10(ds["dimension"]).mean("seed")
    cap = np.asarray(ds["capacity"].transpose("rank", "step", "seed").values, float)
    band = np.array([[_t_interval(c, confidence) for c in row] for row in cap])
    for k, name in enumerate(("capacity_mean", "capacity_low", "capacity_high")):
        out[name] = (("rank", "step"), band[..., k])
    parts = np.full((2, len(ranks), ds.sizes["seed"]), np.nan)
    for i in range(len(ranks)):
        for j in range(ds.sizes["seed"]):
            traj = ds[["radius", "dimension"]].isel(rank=i, seed=j)
            if np.isfinite(traj["radius"].values).sum() >= 2:
                path = strategy_path(traj.rename(step="stage"))
                parts[0, i, j] = float(path["radius_part"][-1])
                parts[1, i, j] = float(path["dimension_part"][-1])
    out["radius_part"] = (("rank", "seed"), parts[0])
    out["dimension_part"] = (("rank", "seed"), parts[1])
    out["step_change_correlation"] = ("measure", [_shared_wiggle(ds[m]) for m in measures])
    stages = stages_across_seeds(ds, measures)
    out = xr.merge([out, stages], combine_attrs="drop_conflicts")
    out.attrs = provenance(
        "rank_protocol",
        n_perm=int(n_perm),
        seed=int(seed),
        confidence=float(confidence),
        interval="Student t over seeds",
        change_test="paired sign flips over seeds (exact when 2**n_seeds <= n_perm)",
        rank_effect="eta squared across ranks; p from seeds shuffled across ranks",
        n_measured=int(ds["measured"].sum()),
        **stages.attrs,
    )
    return out
