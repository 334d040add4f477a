"""The end-to-end pipeline of ``neurogeom run``: from a run spec to a report with figures.

:func:`run_pipeline` reads and checks the spec (:func:`neurogeom.workflows.preflight.load_run_spec`)
before anything is written, then, in phases,

1. **load**: each recording's sessions, stacked along ``stage`` (trials of one session are NaN
   at the others);
2. **simulate**: each model's run folder (trained first when it holds no checkpoints) on its
   analysis trial bank, at the checkpoints the spec names;
3. **prepare**: brain and model matched on shared condition labels (with the spec's mapping),
   the analysis window averaged, units z-scored within stage, manifolds balanced;
4. **geometry**: the measure at every stage;
5. **bootstrap**: the same with resampling error and the shuffle null (a trajectory), and the
   stage-to-stage test of each recording;
6. **compare**: learning stages of each model, strategy paths, brain vs model trajectories and
   representations, the model's psychometric curves;
7. **plots** and **report**: ``OUT/figures/*.png|svg`` and ``OUT/report.html``
   (:func:`neurogeom.show.learning_report.learning_report`).

Every result is saved as ``OUT/results/<name>.nc`` (:func:`neurogeom.io.store.save`, atomic) with
the key of the spec keys and input files it depends on (:mod:`neurogeom.workflows.folders`): a
rerun reuses a result only when its key matches and recomputes the others (``force=True``
recomputes all); ``OUT/results/timings.json`` records the seconds of each phase and which results
were reused and recomputed. The run holds the folder's write lock
(``neurogeom._files.output_lock``): a second writer into the same folder is refused.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._files import output_lock
from neurogeom.geometry.registry import get_measure
from neurogeom.io.arrays import from_array, from_unit_trials, read_mat
from neurogeom.io.nwb import read_nwb
from neurogeom.learning.measure import measure_geometry
from neurogeom.learning.prepare import balance, window_mean, zscore
from neurogeom.learning.sessions import stack_sessions
from neurogeom.learning.trajectories import stage_difference, trajectory
from neurogeom.show.lazy_rich_report import lazy_rich_report
from neurogeom.show.pullback_report import pullback_report
from neurogeom.specs.lazy_rich import SETTINGS as LAZY_RICH_SETTINGS
from neurogeom.specs.lazy_rich import load_lazy_rich_spec
from neurogeom.specs.pullback import SETTINGS as PULLBACK_SETTINGS
from neurogeom.specs.pullback import load_pullback_spec
from neurogeom.specs.run import RunSpec, Source, spec_kind
from neurogeom.workflows.folders import Results, result_key
from neurogeom.workflows.lazy_rich import lazy_rich_sweep
from neurogeom.workflows.outputs import (
    Progress,
    RunOptions,
    check_out,
    run_setting_spec,
    write_timings,
)
from neurogeom.workflows.preflight import load_run_spec, load_spec
from neurogeom.workflows.pullback import pullback_sweep
from neurogeom.workflows.rank_sweep import run_rank_sweep

__all__ = ["PHASES", "run_pipeline"]

PHASES: tuple[str, ...] = (
    "load",
    "train",
    "simulate",
    "prepare",
    "geometry",
    "bootstrap",
    "compare",
    "plots",
    "report",
)


class _Results(Results):
    """``OUT/results/<name>.nc``, each keyed by what it depends on; ``keys[name]`` the key of each
    result asked for, so the results computed from it key on it."""

    def __init__(self, folder: Path, force: bool) -> None:
        super().__init__(folder, force)
        self.keys: dict[str, str] = {}

    def get(self, name: str, compute: Callable[[], Any], **depends: Any) -> Any:  # type: ignore[override]
        """``depends``: the spec keys and results (by name: their keys) the result depends on;
        ``inputs=[paths]`` its input files."""
        inputs = depends.pop("inputs", ())
        parts = {k: self.keys.get(v, v) if k.startswith("from_") else v for k, v in depends.items()}
        key = result_key({"result": name, **parts}, inputs)
        self.keys[name] = key
        return super().get(name, key, compute)


#: The analysis keys every geometry result depends on (the estimate, trajectory and stage test add
#: their own resampling counts).
_MEASURE_KEYS = ("measure", "n_t", "confidence")


class _Clock:
    """Seconds spent in each phase."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0


# ---- the steps that use the learning layer (one call each) ---------------------------------------


def _trajectory(
    pop: xr.DataArray,
    by: str,
    within: list[str],
    an: Mapping[str, Any],
    *,
    boot: bool,
    seed: int,
    n_jobs: int,
) -> xr.Dataset:

    n = (an["n_boot"], an["n_null"]) if boot else (0, 0)  # spec key n_null: the trajectory null
    return trajectory(
        pop,
        by,
        an["measure"],
        within=within or None,
        n_boot=n[0],
        n_perm=n[1],
        confidence=float(an["confidence"]),
        seed=seed,
        n_jobs=n_jobs,
        keep_replicates=boot and n[0] >= 2,
        **_measure_options(an),
    ).assign_attrs(
        points_per_manifold=_points_per_manifold(pop, [by, *within]), n_units=pop.sizes["unit"]
    )


def _points_per_manifold(pop: xr.DataArray, labels: list[str]) -> int:
    """M: the smallest number of valid trials of a (by, within) condition at any stage."""
    valid = pop["valid"] if "valid" in pop.coords else xr.ones_like(pop.isel(unit=0), dtype=bool)
    if "time" in valid.dims:
        valid = valid.any("time")
    keys = ["|".join(map(str, row)) for row in zip(*(pop[k].values.tolist() for k in labels))]
    ok = np.atleast_2d(valid.transpose(..., "trial").values)
    return int(min(np.sum(row[np.asarray(keys) == k]) for row in ok for k in set(keys)))


def _measure_options(an: Mapping[str, Any]) -> dict[str, Any]:
    return {"n_t": int(an["n_t"])} if an["measure"] in ("glue", "mftma") else {}


def _stage_test(
    pop: xr.DataArray,
    by: str,
    within: list[str],
    an: Mapping[str, Any],
    stages: list[str],
    seed: int,
) -> xr.Dataset:

    output = get_measure(an["measure"]).outputs[0].name
    ds = stage_difference(
        pop,
        by,
        output,
        stages,
        measure=an["measure"],
        within=within or None,
        n_boot=an["n_boot"],
        n_perm=an["n_perm"],
        confidence=float(an["confidence"]),
        seed=seed,
        **_measure_options(an),
    )
    ds.attrs["estimator"] = "stage_difference"
    return ds


def _match(brain: xr.DataArray, model: xr.DataArray, cmp: Mapping[str, Any]):
    from neurogeom.learning.compare import match_conditions

    return match_conditions(brain, model, by=cmp["on"], mapping=cmp["mapping"] or None)


def _prepare(
    pop: xr.DataArray, window_s: Any, an: Mapping[str, Any], by: str, within: list[str], seed: int
) -> xr.DataArray:

    if window_s is not None and "time" in pop.dims:
        pop = window_mean(pop, tuple(window_s))
    if an["zscore"]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # silent units are set to 0, as said
            pop = zscore(pop)
    if an["balance"] is not False:
        n = None if an["balance"] is True else int(an["balance"])
        pop = balance(pop, by, within=within or None, n_points=n, seed=seed)
    return pop


# ---- loading --------------------------------------------------------------------------------------


def _read_stage(src: Source, path: Path) -> xr.DataArray:
    o = src.options
    if o["format"] == "nwb":
        return read_nwb(
            path, align=o["align"], window_s=tuple(o["window_s"]), bin_size_s=float(o["bin_size_s"])
        )
    if o["format"] == "mat":
        content = read_mat(path)
        var = o.get("variable") or next(iter(content))
        if var not in content:
            raise ValueError(f"{path}: no variable {var!r}; it holds {list(content)}.")
        return from_unit_trials(
            content[var], o.get("by"), bin_size_s=o.get("bin_size_s"), source=str(path)
        )

    with np.load(path, allow_pickle=False) as z:
        if "data" not in z:
            raise ValueError(f"{path}: an array recording needs a 'data' array; got {list(z)}.")
        dims = tuple(o.get("dims", ("trial", "unit")))
        n = z["data"].shape[dims.index("trial")]
        labels = {k: z[k] for k in z.files if k != "data" and z[k].shape == (n,)}
        return from_array(
            z["data"],
            dims,
            trial_coords=labels,
            quantity=o.get("quantity", "continuous"),
            bin_size_s=o.get("bin_size_s"),
            source=str(path),
        )


def _load_recording(src: Source) -> xr.DataArray:
    return stack_sessions({name: _read_stage(src, p) for name, p in src.options["stages"].items()})


def _source_inputs(src: Source) -> list[Path]:
    """The files a source's population is read from: a recording's stage files; a model's run
    folder (its checkpoints and spec) and the task spec it is trained from when it holds none."""
    o = src.options
    if "stages" in o:
        return [Path(p) for p in o["stages"].values()]
    paths = [Path(o["run"])]
    if o.get("task") is not None and not (Path(o["run"]) / "checkpoints").is_dir():
        paths.append(Path(o["task"]))
    return paths


def _simulate_model(src: Source) -> xr.DataArray:
    from neurogeom.models.simulate import simulate
    from neurogeom.models.train import list_checkpoints

    run = Path(src.options["run"])
    if not (run / "checkpoints").is_dir() or not list_checkpoints(run):
        from neurogeom.models.train import train

        train(load_spec(src.options["task"]), run)
    steps = src.options.get("steps")
    return simulate(
        run,
        steps=None if steps is None else [int(s) for s in steps],
        period=src.options.get("period"),
    )


# ---- phases ---------------------------------------------------------------------------------------


def _labels_for(spec: RunSpec, src: Source) -> tuple[str, list[str]]:
    """The manifold labels of a source (model labels are renamed to the brain's when compared)."""
    return spec.analysis["by"], list(spec.analysis["within"])


def _window_for(spec: RunSpec, src: Source) -> Any:
    if "period" in src.options:
        return None  # simulated as period means: no time dim to average
    return src.options.get("window_s_analysis", spec.analysis.get("window_s"))


def _raw(
    spec: RunSpec, res: _Results, clock: _Clock, progress: Progress
) -> dict[str, xr.DataArray]:
    raw: dict[str, xr.DataArray] = {}
    for phase, pool, fn in (
        ("load", spec.recordings, _load_recording),
        ("simulate", spec.models, _simulate_model),
    ):
        with clock.phase(phase):
            for i, (name, src) in enumerate(pool.items()):
                progress(phase, i, len(pool))
                raw[name] = res.get(
                    f"population_{name}",
                    lambda src=src, fn=fn: fn(src),
                    source=src.options,
                    inputs=_source_inputs(src),
                )
            progress(phase, len(pool), len(pool))
    return raw


def _prepared(
    spec: RunSpec, raw: dict[str, xr.DataArray], res: _Results
) -> dict[str, xr.DataArray]:
    pops = dict(raw)
    cmp = spec.compare if spec.compare is not None and spec.compare["model"] else None
    if cmp is not None:
        pops[cmp["brain"]], pops[cmp["model"]] = _match(pops[cmp["brain"]], pops[cmp["model"]], cmp)
    matched = {} if cmp is None else {"compare": {k: cmp[k] for k in ("on", "mapping")}}
    if cmp is not None:
        matched["from_brain"] = f"population_{cmp['brain']}"
        matched["from_model"] = f"population_{cmp['model']}"
    cohort = spec.compare if spec.compare is not None and spec.compare["networks"] else None
    networks = [n for group in (cohort or {}).get("networks", {}).values() for n in group]
    if cohort is not None:
        from neurogeom.learning.compare import _renamed

        for name in networks:  # the networks' labels become the animals'
            pops[name] = _renamed(pops[name], cohort["mapping"], list(cohort["on"]))
        matched = {"compare": {k: cohort[k] for k in ("on", "mapping")}}
    an = spec.analysis
    out = {}
    for i, (name, src) in enumerate(spec.sources.items()):
        by, within = _labels_for(spec, src)
        window = _window_for(spec, src)
        compute = lambda p=pops[name], w=window, by=by, wi=within, i=i: _prepare(  # noqa: E731
            p, w, an, by, wi, seed=spec.seed + i
        )
        out[name] = res.get(
            f"prepared_{name}",
            compute,
            from_population=f"population_{name}",
            window_s=window,
            by=by,
            within=within,
            zscore=an["zscore"],
            balance=an["balance"],
            seed=spec.seed + i,
            **(
                matched
                if (cmp is not None and name in (cmp["brain"], cmp["model"])) or name in networks
                else {}
            ),
        )
    return out


def _geometry(
    spec: RunSpec, pops: dict[str, xr.DataArray], res: _Results, clock: _Clock, progress: Progress
) -> dict[str, xr.Dataset]:
    trajs: dict[str, xr.Dataset] = {}
    names = list(spec.sources)
    an = spec.analysis
    for phase, boot in (("geometry", False), ("bootstrap", True)):
        with clock.phase(phase):
            for i, name in enumerate(names):
                progress(phase, i, len(names))
                by, within = _labels_for(spec, spec.sources[name])
                key = f"trajectory_{name}" if boot else f"estimate_{name}"
                counts = {k: an[k] for k in ("n_boot", "n_null")} if boot else {}
                trajs[key] = res.get(
                    key,
                    lambda n=name, b=boot, by=by, w=within: _trajectory(
                        pops[n], by, w, an, boot=b, seed=spec.seed, n_jobs=spec.n_jobs
                    ),
                    from_prepared=f"prepared_{name}",
                    by=by,
                    within=within,
                    seed=spec.seed,
                    **{k: an[k] for k in _MEASURE_KEYS},
                    **counts,
                )
            if boot:
                # first vs last stage of every recording (or the spec's test_stages) and first
                # vs last checkpoint of every network: the change's interval and p-value
                for name in names:
                    src = spec.sources[name]
                    by, within = _labels_for(spec, src)
                    if name in spec.recordings:
                        stages = spec.analysis["test_stages"] or [
                            list(src.options["stages"])[i] for i in (0, -1)
                        ]
                    else:
                        stages = [pops[name]["stage"].values[i].item() for i in (0, -1)]
                    trajs[f"stage_test_{name}"] = res.get(
                        f"stage_test_{name}",
                        lambda n=name, by=by, w=within, s=stages: _stage_test(
                            pops[n], by, w, an, list(s), spec.seed
                        ),
                        from_prepared=f"prepared_{name}",
                        by=by,
                        within=within,
                        stages=list(stages),
                        seed=spec.seed,
                        **{k: an[k] for k in (*_MEASURE_KEYS, "n_boot", "n_perm")},
                    )
            progress(phase, len(names), len(names))
    return trajs


def _coding(
    spec: RunSpec, pops: dict[str, xr.DataArray], res: _Results, notes: list[str]
) -> dict[str, xr.Dataset]:
    """The coding scheme of every source at every stage (``[analysis] coding = true``)."""

    out: dict[str, xr.Dataset] = {}
    if not spec.analysis["coding"]:
        return out
    for name, src in spec.sources.items():
        by, within = _labels_for(spec, src)

        def compute(p=pops[name], by=by, w=within):
            return measure_geometry(
                p, by=by, within=w or None, measures=("coding_scheme",), seed=spec.seed
            )

        ds = _guarded(
            notes,
            f"coding scheme of {name!r}",
            lambda k=f"coding_{name}", f=compute, by=by, w=within, n=name: res.get(
                k, f, from_prepared=f"prepared_{n}", by=by, within=w, seed=spec.seed
            ),
        )
        if ds is not None:
            out[f"coding_{name}"] = ds
    return out


def _replicates(traj: xr.Dataset) -> xr.Dataset | None:
    """The bootstrap replicate trajectories kept by the trajectory (``v_boot`` -> ``v``)."""
    names = {str(v): str(v)[: -len("_boot")] for v in traj.data_vars if str(v).endswith("_boot")}
    if not names:
        return None
    reps = traj[list(names)].rename(names)
    return reps.assign_coords({c: traj[c] for c in ("step",) if c in traj.coords})


def _model_stages(traj: xr.Dataset) -> xr.Dataset:
    from neurogeom.learning.stages import GLUE_MEASURES, learning_stages

    measures = [m for m in GLUE_MEASURES if m in traj and f"{m}_sem" in traj]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # measures left out are listed in attrs
        return learning_stages(traj, measures or ["capacity"], replicates=_replicates(traj))


def _strategy(a: xr.Dataset, b: xr.Dataset) -> xr.Dataset:
    from neurogeom.learning.strategies import compare_strategies, strategy_path

    return compare_strategies(strategy_path(a), strategy_path(b))


def _compare_trajectories(a: xr.Dataset, b: xr.Dataset, cmp: Mapping[str, Any], seed: int):
    from neurogeom.learning.compare import compare_trajectories

    outputs = [o for o in ("capacity", "radius", "dimension") if o in a and o in b]
    return compare_trajectories(
        a, b, outputs, kind=cmp["kind"], n_perm=int(cmp["n_perm"]), seed=seed
    )


def _compare_representations(
    a: xr.DataArray, b: xr.DataArray, by: list[str], cmp: Mapping[str, Any], seed: int
) -> xr.Dataset:
    from neurogeom.learning.compare import compare_representations

    return compare_representations(
        a,
        b,
        by,
        measures=tuple(cmp["measures"]),
        kind=cmp["kind"],
        n_perm=int(cmp["n_perm"]),
        seed=seed,
    )


def _psychometric(run_dir: Path) -> xr.Dataset:
    """The model's psychometric table at its last checkpoint, with binomial standard errors."""
    from neurogeom.workflows.runs import psychometric

    table = psychometric(run_dir).reset_index(drop=True)
    p, n = table["p_choice_1"], table["n_trials"]
    table["p_choice_1_se"] = np.sqrt(p * (1 - p) / n)
    ds = xr.Dataset.from_dataframe(table.rename_axis("row"))
    ds.attrs.update(estimator="psychometric", run=str(run_dir))
    return ds


def _guarded(notes: list[str], what: str, fn: Callable[[], Any]) -> Any:
    """Run an optional analysis; on a ValueError, note why it was left out."""
    try:
        return fn()
    except ValueError as exc:
        notes.append(f"{what} left out: {str(exc).splitlines()[0]}")
        return None


def _compare(
    spec: RunSpec,
    pops: dict[str, xr.DataArray],
    trajs: dict[str, xr.Dataset],
    res: _Results,
    notes: list[str],
) -> dict[str, xr.Dataset]:
    out: dict[str, xr.Dataset] = {}
    for name, src in spec.models.items():
        traj = trajs[f"trajectory_{name}"]
        ds = _guarded(
            notes,
            f"learning stages of {name!r}",
            lambda t=traj, n=name: res.get(
                f"stages_{n}", lambda: _model_stages(t), from_trajectory=f"trajectory_{n}"
            ),
        )
        if ds is not None:
            out[f"stages_{name}"] = ds
        ds = _guarded(
            notes,
            f"psychometric curves of {name!r}",
            lambda s=src, n=name: res.get(
                f"psychometric_{n}",
                lambda: _psychometric(Path(s.options["run"])),
                inputs=[Path(s.options["run"])],
            ),
        )
        if ds is not None:
            out[f"psychometric_{name}"] = ds
    cmp = spec.compare
    if cmp is not None and cmp["model"]:
        a, b = trajs[f"trajectory_{cmp['brain']}"], trajs[f"trajectory_{cmp['model']}"]
        by = [spec.analysis["by"], *spec.analysis["within"]]
        steps = {
            "strategy": lambda: _strategy(a, b),
            "compare_trajectories": lambda: _compare_trajectories(a, b, cmp, spec.seed),
            "compare_representations": lambda: _compare_representations(
                pops[cmp["brain"]], pops[cmp["model"]], by, cmp, spec.seed
            ),
        }
        depends = {
            "strategy": {},
            "compare_trajectories": {"kind": cmp["kind"], "n_perm": cmp["n_perm"]},
            "compare_representations": {
                "from_brain_prepared": f"prepared_{cmp['brain']}",
                "from_model_prepared": f"prepared_{cmp['model']}",
                "by": by,
                **{k: cmp[k] for k in ("measures", "kind", "n_perm")},
            },
        }
        both = {
            "from_brain": f"trajectory_{cmp['brain']}",
            "from_model": f"trajectory_{cmp['model']}",
            "seed": spec.seed,
        }
        for key, fn in steps.items():
            ds = _guarded(
                notes,
                key.replace("_", " "),
                lambda k=key, f=fn: res.get(k, f, **both, **depends[k]),
            )
            if ds is not None:
                out[key] = ds
    return out


def _network_study(spec: RunSpec, raw: dict[str, xr.DataArray], names: list[str]) -> xr.DataTree:
    """Networks as a study: a subject per model, a session per checkpoint, labels mapped to the
    brain's (``[compare.mapping]``)."""
    from neurogeom.learning.compare import _renamed
    from neurogeom.studies import study

    cmp = spec.compare
    source: dict[str, dict[str, xr.DataArray]] = {}
    for name in names:
        pop = _renamed(raw[name], cmp["mapping"], list(cmp["on"]))
        steps = pop["step"].values if "step" in pop.coords else range(pop.sizes["stage"])
        source[name] = {
            f"step-{int(step)}": pop.isel(stage=i).drop_vars(
                [c for c in pop.coords if "stage" in pop[c].dims]
            )
            for i, step in enumerate(steps)
        }
    return study(source)


def _cohorts(
    spec: RunSpec, raw: dict[str, xr.DataArray], res: _Results, notes: list[str]
) -> dict[str, xr.Dataset]:
    """A study (animals) against models by configuration (networks): ``cohorts``
    (:func:`neurogeom.learning.compare_cohorts`) and ``cohort_similarity``
    (:func:`neurogeom.learning.cohort_similarity`), on a grid of fractions of sessions with as
    many stages as the animal with most sessions."""
    from neurogeom.learning.cohorts import cohort_similarity, compare_cohorts
    from neurogeom.learning.study import study_trajectory

    cmp, an = spec.compare, spec.analysis
    src = spec.studies[cmp["brain"]]
    window = src.options["window_s_analysis"] or an["window_s"]
    names = [n for group in cmp["networks"].values() for n in group]
    configs = [c for c, group in cmp["networks"].items() for _ in group]
    by = list(cmp["on"])
    animals = _study_tree(src)
    n_grid = max(len(node.children) for node in animals.children.values())
    networks = _network_study(spec, raw, names)
    traj = {
        "axis": "fraction",
        "rule": "interpolate",
        "n_grid": n_grid,
        "n_boot": 0,
        "measure": an["measure"],
        "seed": spec.seed,
        **_measure_options(an),
    }

    def cohorts() -> xr.Dataset:
        ta = study_trajectory(animals, by, window_s=window, **traj)
        # one M for both cohorts (capacity grows as M falls): the smallest of any animal's
        m = int(ta["n_points"].min())
        if np.any(ta["n_points"].values != m):
            ta = study_trajectory(animals, by, window_s=window, n_points=m, **traj)
        tn = study_trajectory(networks, by, n_points=m, **traj).assign_coords(
            configuration=("subject", configs)
        )
        outputs = [o for o in ("capacity", "radius", "dimension") if o in ta and o in tn]
        ds = compare_cohorts(
            ta,
            tn,
            outputs,
            n_boot=int(an["n_boot"]),
            n_perm=int(cmp["n_perm"]),
            confidence=float(an["confidence"]),
            seed=spec.seed,
        )
        ds.attrs.update(
            n_animals=ta.sizes["subject"],
            n_networks=tn.sizes["subject"],
            points_per_manifold=m,
            points_per_manifold_rule="the smallest of any animal's, for animals and networks",
        )
        return ds.merge(_cohort_curves(ta, tn, outputs))

    def similarity() -> xr.Dataset:
        return cohort_similarity(
            animals,
            networks,
            by,
            n_grid=n_grid,
            window_s=window,
            n_perm=int(cmp["n_perm"]),
            confidence=float(an["confidence"]),
            seed=spec.seed,
        )

    depends = {
        "network_keys": [res.keys.get(f"population_{n}") for n in names],
        "networks": cmp["networks"],
        "on": by,
        "mapping": {
            k: [t, {str(a): b for a, b in v.items()}] for k, (t, v) in cmp["mapping"].items()
        },
        "window_s": window,
        "n_perm": cmp["n_perm"],
        "seed": spec.seed,
        "inputs": src.options["files"],
    }
    out: dict[str, xr.Dataset] = {}
    for key, fn, extra in (
        ("cohorts", cohorts, {k: an[k] for k in (*_MEASURE_KEYS, "n_boot")}),
        ("cohort_similarity", similarity, {}),
    ):
        ds = _guarded(
            notes, key.replace("_", " "), lambda k=key, f=fn, e=extra: res.get(k, f, **depends, **e)
        )
        if ds is not None:
            out[key] = ds
    return out


def _cohort_curves(animals: xr.Dataset, networks: xr.Dataset, outputs: list[str]) -> xr.Dataset:
    """The trajectories the cohorts were compared on (grid ``stage``, coord ``fraction``): per
    output ``<output>_animal`` (subject, stage) and ``<output>_network`` (network, stage), with
    M (``n_points_animal``, ``n_points_network``) and N (``n_units_animal``,
    ``n_units_network``) beside them."""
    nets = networks.rename(subject="network")
    data = {}
    for o in outputs:
        data[f"{o}_animal"] = animals[o].reset_coords(drop=True)
        data[f"{o}_network"] = nets[o].reset_coords(drop=True)
    for what, ds in (("animal", animals), ("network", nets)):
        data[f"n_points_{what}"] = ds["n_points"].reset_coords(drop=True)
        data[f"n_units_{what}"] = ds["n_units"].reset_coords(drop=True)
    return xr.Dataset(data).assign_coords(
        fraction=("stage", animals["axis_value"].values),
        network_configuration=("network", networks["configuration"].values),
    )


def _study_tree(src: Source) -> xr.DataTree:
    from neurogeom.studies import study

    o = src.options
    return study(
        o["folder"],
        pattern=o["pattern"],
        align=o["align"],
        window_s=tuple(o["window_s"]),
        bin_size_s=float(o["bin_size_s"]),
    )


def _studies(spec: RunSpec, res: _Results, notes: list[str]) -> dict[str, xr.Dataset]:
    """Per ``[studies.<name>]``: ``study_<name>_trajectory``, ``study_<name>_stage_difference``
    (:func:`neurogeom.workflows.study_run.study_results`) and ``study_<name>_stages``, each keyed
    by the spec keys and files it depends on."""
    from neurogeom.learning.study import study_stages
    from neurogeom.workflows.study_run import STUDY_RESULTS, study_results

    an = spec.analysis
    out: dict[str, xr.Dataset] = {}
    for name, src in spec.studies.items():
        o = src.options
        window = o["window_s_analysis"] or an["window_s"]
        settings = {
            "within": list(an["within"]),
            "window_s": window,
            "axis": o["axis"],
            "measure": an["measure"],
            "n_boot": an["n_boot"],
            "n_perm": an["n_perm"],
            "confidence": float(an["confidence"]),
            "seed": spec.seed,
            **_measure_options(an),
        }
        computed: dict[str, xr.Dataset] = {}

        def part(key: str, src: Source = src, settings: dict = settings, done: dict = computed):
            if not done:  # both results from one call, as the API computes them
                done.update(study_results(_study_tree(src), an["by"], **settings))
            return done[key]

        reading = {k: o[k] for k in ("pattern", "align", "window_s", "bin_size_s")}
        for key in STUDY_RESULTS:
            out[f"study_{name}_{key}"] = res.get(
                f"study_{name}_{key}",
                lambda k=key, f=part: f(k),
                by=an["by"],
                reading=reading,
                **settings,
                inputs=o["files"],
            )
        traj = f"study_{name}_trajectory"

        def stages(t: xr.Dataset = out[traj]) -> xr.Dataset:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return study_stages(t)

        ds = _guarded(
            notes,
            f"learning stages of the study {name!r}",
            lambda k=f"study_{name}_stages", f=stages, t=traj: res.get(k, f, from_trajectory=t),
        )
        if ds is not None:
            out[f"study_{name}_stages"] = ds
    return out


def run_pipeline(spec_path: str | Path, out: str | Path, **options: Any) -> Path:
    """Run a spec end to end and write ``OUT/report.html``, ``OUT/results/``, ``OUT/figures/``.

    A training spec with a ``[sweep]`` of ``rank`` (``tasks/rank_sweep_paper.toml``) is a rank
    sweep: :func:`neurogeom.workflows.rank_sweep.run_rank_sweep` trains or reuses its runs under
    ``OUT/runs/<setting>/`` and writes ``OUT/results/rank_sweep.nc`` and its report. A spec with
    a ``[lazy_rich]`` section (``tasks/lazy_rich_digits.toml``) is a sweep of the output scale
    alpha on images: it writes ``OUT/results/lazy_rich.nc`` and its report. A spec with a
    ``[pullback]`` section (``tasks/pullback_sine.toml``) trains the networks of the
    pullback-metric reference task: it writes ``OUT/results/pullback.nc`` and its report.

    Parameters
    ----------
    spec_path : path
        A TOML run spec (keys in :mod:`neurogeom.specs.run`), a rank-sweep, lazy-rich or
        pullback spec.
    out : path
        The output folder (created; a rerun reuses the results already in it).
    **options
        The fields of ``neurogeom.workflows.outputs.RunOptions``: ``setting`` (a rank
        sweep's, lazy-rich or pullback spec's named setting, default ``"full"``, the spec as
        written; an error for a run spec), ``n_jobs`` (workers: a sweep's runs trained at once, a
        run spec's ``[run] n_jobs`` otherwise; the numbers do not depend on it), ``force``
        (recompute every result even if ``OUT/results`` holds it), ``progress``
        (``progress(phase, done, total)``, called as each phase of ``PHASES`` advances).

    Returns
    -------
    pathlib.Path
        The report's path.

    Raises
    ------
    FileNotFoundError, ValueError
        From the spec's check (:func:`~neurogeom.workflows.preflight.load_run_spec`), before anything
        is written.

    See Also
    --------
    neurogeom.workflows.load_run_spec : the checked spec.
    neurogeom.workflows.read_timings : the time each phase took.

    Examples
    --------
    The bundled demo spec, end to end (minutes: it measures every stage with resampling):

    >>> report = run_pipeline("tasks/demo.toml", "demo_out")  # doctest: +SKIP
    >>> report.name  # doctest: +SKIP
    'report.html'
    """
    opts = RunOptions(**options)
    runner = _RUNNERS.get(spec_kind(spec_path), _run_spec)
    return runner(spec_path, out, options=opts)


def _run_spec(spec_path: str | Path, out: str | Path, options: RunOptions) -> Path:
    """A run spec (:mod:`neurogeom.specs.run`) end to end; see :func:`run_pipeline`."""
    if options.setting is not None:
        raise ValueError(
            f"setting {options.setting!r} applies to a rank-sweep spec (a training "
            "spec with [sweep] rank = [...]), a lazy-rich ([lazy_rich]) or a pullback "
            f"spec ([pullback]); {spec_path} is a run spec: drop it."
        )
    progress, n_jobs, force = options.tell, options.n_jobs, options.force
    spec = load_run_spec(spec_path)
    if n_jobs is not None:
        spec.n_jobs = int(n_jobs)
    out = Path(out)
    check_out(out)
    with output_lock(out, folder=True):
        return _run_spec_locked(spec, out, force, progress)


def _run_spec_locked(spec: RunSpec, out: Path, force: bool, progress: Progress) -> Path:
    for stale in (out / "report.html", out / "results" / "timings.json"):
        stale.unlink(missing_ok=True)  # rebuilt below from the results this run shows
    clock, notes = _Clock(), []
    res = _Results(out / "results", force)
    raw = _raw(spec, res, clock, progress)
    with clock.phase("prepare"):
        progress("prepare", 0, 1)
        pops = _prepared(spec, raw, res)
        progress("prepare", 1, 1)
    trajs = _geometry(spec, pops, res, clock, progress)
    if spec.studies:
        with clock.phase("bootstrap"):
            trajs.update(_studies(spec, res, notes))
    with clock.phase("compare"):
        progress("compare", 0, 1)
        results = {
            **trajs,
            **_compare(spec, pops, trajs, res, notes),
            **_coding(spec, pops, res, notes),
        }
        if spec.compare is not None and spec.compare["networks"]:
            results.update(_cohorts(spec, raw, res, notes))
        progress("compare", 1, 1)
    from neurogeom.show.learning_report import learning_report

    (out / "figures").mkdir(parents=True, exist_ok=True)
    cmp = spec.compare
    with clock.phase("plots"):
        progress("plots", 0, 1)
        report = learning_report(
            results,
            title=spec.title,
            inputs=_inputs(spec),
            settings=_settings(spec, res),
            figures=out / "figures",
            recordings=list(spec.recordings),
            models=list(spec.models),
            compare=None if cmp is None or not cmp["model"] else (cmp["brain"], cmp["model"]),
            notes=notes,
            condition_names={
                to: names for to, names in ((cmp or {}).get("mapping") or {}).values()
            },
            studies=list(spec.studies),
            cohort=cmp["brain"] if cmp is not None and cmp["networks"] else None,
        )
        progress("plots", 1, 1)
    with clock.phase("report"):
        progress("report", 0, 1)
        path = report.save(out / "report.html")
        progress("report", 1, 1)
    write_timings(out, clock.seconds, res.reused, notes, recomputed=res.recomputed)
    return path


#: The runner of each spec kind but the run spec (:func:`neurogeom.specs.run.spec_kind`).
_RUNNERS: dict[str, Callable[[str | Path, str | Path, RunOptions], Path]] = {
    "lazy_rich": functools.partial(
        run_setting_spec,
        settings=LAZY_RICH_SETTINGS,
        result="lazy_rich",
        load_spec=load_lazy_rich_spec,
        sweep=lazy_rich_sweep,
        report=lazy_rich_report,
    ),
    "pullback": functools.partial(
        run_setting_spec,
        settings=PULLBACK_SETTINGS,
        result="pullback",
        load_spec=load_pullback_spec,
        sweep=pullback_sweep,
        report=pullback_report,
    ),
    "rank_sweep": run_rank_sweep,
}


def _inputs(spec: RunSpec) -> dict[str, Any]:
    rows: dict[str, Any] = {"spec": str(spec.path)}
    for name, src in spec.recordings.items():
        files = ", ".join(f"{k}: {Path(v).name}" for k, v in src.options["stages"].items())
        rows[f"recording {name}"] = f"{src.options['format']} ({files})"
    for name, src in spec.models.items():
        steps = src.options.get("steps")
        rows[f"model {name}"] = f"{src.options['run']} (steps {steps or 'all'})"
    for name, src in spec.studies.items():
        files = src.options["files"]
        rows[f"study {name}"] = (
            f"{len(files)} NWB files in {src.options['folder']} ({src.options['pattern']})"
        )
    return rows


def _settings(spec: RunSpec, res: _Results) -> dict[str, Any]:
    an = spec.analysis
    rows = {
        k: an[k]
        for k in (
            "by",
            "within",
            "measure",
            "n_t",
            "n_boot",
            "n_null",
            "n_perm",
            "confidence",
            "zscore",
            "balance",
        )
    }
    rows["seed"] = spec.seed
    for name, src in spec.sources.items():
        if "period" in src.options:
            rows[f"task period ({name})"] = src.options["period"]
        else:
            rows[f"window_s ({name})"] = _window_for(spec, src)
    if spec.compare is not None:
        rows["matched on"] = spec.compare["on"]
        rows["label mapping (model -> brain)"] = {k: v for k, v in spec.compare["mapping"].items()}
        rows["learning axis"] = spec.compare["kind"]
    for name, src in spec.studies.items():
        window = src.options["window_s_analysis"] or an["window_s"]
        rows[f"study {name}"] = (
            f"axis {src.options['axis']}, window_s {window}; per session, M balanced within each "
            "subject (no z-scoring); paired test: first vs last session"
        )
    rows["reused from an earlier run"] = ", ".join(res.reused) or "nothing"
    if res.recomputed:
        rows["recomputed (spec or inputs changed)"] = ", ".join(res.recomputed)
    return rows
