"""Capacity at initialisation and its change with training, across the rank of the initial weights.

arXiv 2503.18114 (Sec. 5.1) trains CTRNNs whose initial recurrent matrix is SVD-truncated to rank
r and finds that low-rank initialisations start with lower capacity ("poor") and change more
("rich"). :func:`rank_sweep` trains (or reuses) one run per (rank, seed) of a spec with a
``[sweep]`` section (``tasks/rank_sweep_paper.toml`` is the paper's protocol) and returns, per run,
the geometry of the first and the last checkpoint (:func:`neurogeom.workflows.runs.run_geometry`
with the spec's ``[analysis]`` settings) and the relative change of the recurrent weights.

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
from neurogeom.parallel import parallel_map
from neurogeom.specs.run import named_setting
from neurogeom.specs.train import expand_sweep, validate_spec
from neurogeom.workflows.folders import Results, result_key
from neurogeom.workflows.outputs import RunOptions, check_out, save_report, write_timings
from neurogeom.workflows.preflight import load_spec

__all__ = ["rank_sweep", "FAST_SETTING", "SETTINGS", "run_rank_sweep"]

#: Variables of the result, from the geometry at the first and the last checkpoint.
_MEASURES = ("capacity", "radius", "dimension")

#: A fast setting of ``tasks/rank_sweep_paper.toml`` (about 30 s on 2 cores): 4 ranks, 2 seeds,
#: 200 SGD steps on a bank of 1024 trials, 50 probes per GLUE estimate. The tests and
#: ``tutorials/06_rank_sweep.py`` run it: ``neurogeom run <spec> -o OUT --setting fast``, or
#: ``rank_sweep(spec, out, **FAST_SETTING)``.
FAST_SETTING: dict[str, Any] = {
    "ranks": [1, 5, 25, 300],
    "seeds": [0, 1],
    "overrides": {
        "training": {"n_steps": 200, "n_train_trials": 1024, "n_test_trials": 200},
        "checkpoints": {"steps": [0, 200], "save_every": 100},
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


def _one_run(
    item: tuple[str, dict[str, Any]], out_dir: str, seconds: dict[str, float] | None = None
) -> dict[str, Any]:
    """Train (or reuse) one run; the geometry of its first and last checkpoints. ``seconds``,
    when given, gets the seconds spent in training (``"train"``) and geometry (``"geometry"``)."""
    from neurogeom.models.train import list_checkpoints, train
    from neurogeom.workflows.runs import run_geometry

    name, spec = item
    run_dir = Path(out_dir) / name
    t0 = time.perf_counter()
    res = train(spec, run_dir)
    t1 = time.perf_counter()
    steps = [s for s, _ in list_checkpoints(run_dir)]
    ds = run_geometry(run_dir, steps=[steps[0], steps[-1]])
    if seconds is not None:
        seconds.update(train=t1 - t0, geometry=time.perf_counter() - t1)
    rows = pd.read_csv(run_dir / "metrics.csv").groupby("step").last()
    row: dict[str, Any] = {
        "rank": spec["network"]["rank"],
        "seed": spec["training"]["seed"],
        "init_step": steps[0],
        "final_step": steps[-1],
        "weight_change": float(rows["weight_change"].loc[steps[-1]]),
        "accuracy_init": float(rows["accuracy"].loc[steps[0]]),
        "accuracy_final": float(rows["accuracy"].loc[steps[-1]]),
        "ideal_accuracy": np.nan if res.ideal_accuracy is None else float(res.ideal_accuracy),
    }
    for m in _MEASURES:
        row[f"{m}_init"] = float(ds[m].isel(stage=0))
        row[f"{m}_final"] = float(ds[m].isel(stage=-1))
    for key in ("at_floor", "no_separating_fraction"):
        for when, i in (("init", 0), ("final", -1)):
            row[f"{key}_{when}"] = float(ds[key].isel(stage=i)) if key in ds else np.nan
    return row


def _worker_run(
    item: tuple[str, dict[str, Any]], out_dir: str
) -> tuple[dict[str, Any], dict[str, float]]:
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
        row = _one_run(item, out_dir, seconds)
    return row, seconds


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
        ``_final`` (NaN where the measure has none). attrs: the
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

    def advance(index: int, result: tuple[dict[str, Any], dict[str, float]]) -> None:
        finished[0] += 1
        tell(finished[0], len(runs))

    tell(0, len(runs))
    done = parallel_map(one, runs, n_jobs=n_jobs, on_result=advance)
    df = pd.DataFrame([row for row, _ in done])
    df["rank"] = [str(r) if isinstance(r, str) else int(r) for r in df["rank"]]
    ds = xr.Dataset.from_dataframe(df.set_index(["rank", "seed"]))
    ds = ds.reindex(rank=list(full["sweep"]["rank"]), seed=list(full["sweep"]["seed"]))
    ds["capacity_change"] = ds["capacity_final"] - ds["capacity_init"]
    ds.attrs.update(
        {
            "spec": to_json({k: full[k] for k in ("task", "network", "training", "analysis")}),
            "out_dir": str(out_dir),
            "train_s": sum(sec["train"] for _, sec in done),
            "geometry_s": sum(sec["geometry"] for _, sec in done),
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
