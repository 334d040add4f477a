"""Checks before anything is computed or written: a spec against its task and the files it names.

:mod:`neurogeom.specs` holds each spec kind's schema (keys, types, values); what can only be
checked against something outside the spec lives here: a training spec's task (its name, its
condition keys and values, its periods and labels, the task's keyword arguments, the measures by
their registry), and a run spec's files (each recording's trial labels, each model's run folder or
training spec). :func:`load_spec` and ``load_run_spec`` read a spec and run every check, so a
workflow that starts from them has nothing left to discover after the first byte is written.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from neurogeom._params import check_monte_carlo
from neurogeom.geometry.registry import get_measure
from neurogeom.io.nwb import nwb_info
from neurogeom.specs._common import (
    check_keys,
    fail,
    read_toml,
    validated,
)
from neurogeom.specs.run import (
    MODEL_KEYS,
    RECORDING_KEYS,
    TOP_KEYS,
    RunSection,
    RunSpec,
    Source,
    StudySection,
    check_labels,
    parse_analysis,
    parse_compare,
    spec_kind,
)
from neurogeom.specs.train import AnalysisConfig, validate_spec
from neurogeom.tasks import build_trial_bank, check_task_spec

__all__ = ["load_run_spec", "load_spec"]


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read and validate a TOML experiment spec (sections task, network, training, checkpoints,
    analysis, and optionally sweep).

    The returned dict carries ``"source"``: the path read.

    Parameters
    ----------
    path : str or path
        A TOML training spec (``neurogeom train``'s).

    Returns
    -------
    dict
        Every section, with the defaults filled in, and ``"source"``.

    Raises
    ------
    ValueError
        An unknown section or key, a bad value, a label or measure the task or the registry
        does not know; the message starts with the path.

    See Also
    --------
    load_run_spec : a run spec with its sources.
    neurogeom.specs.spec_kind : which kind a spec is.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "train.toml"
    ...     _ = path.write_text('[task]\\nname = "ContextDecisionMaking-v0"\\n'
    ...                         '[network]\\nn_units = 32\\n')
    ...     spec = load_spec(path)
    >>> spec["network"]["n_units"], sorted(spec)
    (32, ['analysis', 'checkpoints', 'network', 'source', 'sweep', 'task', 'training'])
    """
    raw = read_toml(path, "spec")
    spec = validate_spec(raw, where=str(path))
    try:
        check_task_spec(spec)
        for measure in AnalysisConfig.from_dict(spec.get("analysis") or {}).measures:
            try:
                get_measure(measure)
            except ValueError as exc:
                raise ValueError(f"analysis.measures: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    spec["source"] = str(path)
    return spec


# ---- run specs: the files they name --------------------------------------------------------------


def _file(base: Path, value: Any, where: str) -> Path:
    if not isinstance(value, str):
        fail(where, f"a path must be a string; got {value!r}.")
    path = (base / value).resolve()
    if not path.exists():
        raise FileNotFoundError(f"{where}: file {str(path)!r} does not exist; check the path.")
    return path


def _nwb_values(path: Path) -> tuple[dict[str, list[Any]], tuple[int, int]]:
    """The trial labels' values of an NWB file, and its (units, trials)."""
    info = nwb_info(path, n_examples=64)
    cols = info["trial_columns"]
    values = {c: v for c, v in cols.items() if c not in info["event_columns"]}
    return values, (int(info.get("n_units") or 1), int(info.get("n_trials") or 2))


def _recording(name: str, table: Mapping[str, Any], base: Path) -> Source:
    where = f"[recordings.{name}]"
    check_keys(table, RECORDING_KEYS, where)
    opts = dict(table)
    fmt = opts.setdefault("format", "nwb")
    if fmt not in ("nwb", "mat", "array"):
        fail(where, f"format must be 'nwb', 'mat' or 'array'; got {fmt!r}.")
    stages = opts.get("stages")
    if not isinstance(stages, Mapping) or not stages:
        fail(where, "give stages = { <stage name> = <file>, ... } in learning order.")
    if len(stages) < 2:
        fail(where, f"a trajectory needs at least 2 stages; got {len(stages)} ({list(stages)}).")
    opts["stages"] = {str(k): _file(base, v, f"{where} stage {k!r}") for k, v in stages.items()}
    if fmt == "nwb":
        for key in ("align", "window_s", "bin_size_s"):
            if key not in opts:
                fail(where, f"an NWB recording needs {key!r} (e.g. window_s = [-0.2, 1.0]).")
        read = [_nwb_values(p) for p in opts["stages"].values()]
        per_stage = [v for v, _ in read]
        shared = set.intersection(*(set(v) for v in per_stage))
        values = {c: sorted({x for v in per_stage for x in v[c]}, key=str) for c in shared}
        size = (max(s[0] for _, s in read), max(s[1] for _, s in read))
    else:
        values, size = {}, None  # read with the data
    return Source(name, "recording", opts, values, size)


def _study(name: str, table: Mapping[str, Any], base: Path) -> Source:
    """A ``[studies.<name>]`` section checked against its files: the folder exists, the pattern
    matches NWB files named ``sub-<id>_ses-<id>``, every subject has two sessions (the paired
    test), and the trial labels every session holds are read (nothing else is read)."""
    from neurogeom.studies import DANDI_PATTERN, session_nodes, study

    where = f"[studies.{name}]"
    opts = validated(StudySection, table, where).model_dump()
    if opts["folder"] is None and opts["pattern"] is None:
        fail(
            where, "give folder = <folder of NWB files in the DANDI layout> (or pattern = <glob>)."
        )
    for key in ("align", "window_s", "bin_size_s"):
        if opts[key] is None:
            fail(where, f"an NWB study needs {key!r} (e.g. window_s = [-0.2, 1.0]).")
    if opts["axis"] in ("day", "performance"):
        fail(
            where,
            f"axis = {opts['axis']!r} needs the sessions' {opts['axis']!r}, which NWB files read "
            "by a study do not carry; use axis = 'session' or 'fraction' (or the Python API "
            "with neurogeom.study(..., session_attrs=...)).",
        )
    folder = (base / (opts["folder"] or ".")).resolve()
    opts["folder"], opts["pattern"] = folder, opts["pattern"] or DANDI_PATTERN
    try:
        tree = study(folder, pattern=opts["pattern"])
    except ValueError as exc:
        fail(where, str(exc))
    for subject, node in tree.children.items():
        if len(node.children) < 2:
            fail(
                where,
                f"subject {subject!r} has {len(node.children)} session "
                f"({', '.join(node.children)}); the paired test of the first vs the last "
                "session needs two sessions in every subject: add one, or narrow the pattern "
                "to leave the subject out.",
            )
    if len(tree.children) < 2:
        fail(
            where,
            f"a study needs at least 2 subjects for its paired test; found {len(tree.children)}.",
        )
    files = [Path(n.attrs["path"]) for n in session_nodes(tree)]
    read = {f: _nwb_values(f) for f in files}
    opts["files"] = files
    opts["file_labels"] = {f: sorted(v) for f, (v, _) in read.items()}
    shared = set.intersection(*(set(v) for v, _ in read.values()))
    values = {c: sorted({x for v, _ in read.values() for x in v[c]}, key=str) for c in shared}
    size = (max(s[0] for _, s in read.values()), max(s[1] for _, s in read.values()))
    return Source(name, "study", opts, values, size)


def _check_study_labels(src: Source, labels: list[str]) -> None:
    """Every session of a study holds the analysis labels (named per file)."""
    for path, have in src.options["file_labels"].items():
        missing = [lab for lab in labels if lab not in have]
        if missing:
            fail(
                f"[studies.{src.name}]",
                f"session file {path.name!r} lacks the trial label(s) {missing} of [analysis] "
                f"by/within; its trial labels are {have}.",
            )


def _model(name: str, table: Mapping[str, Any], base: Path) -> Source:
    where = f"[models.{name}]"
    check_keys(table, MODEL_KEYS, where)
    opts = dict(table)
    if "run" not in opts:
        fail(where, "give run = <run folder> (reused if it holds checkpoints, else trained into).")
    run = (base / str(opts["run"])).resolve()
    opts["run"] = run
    if (run / "spec.json").exists() and (run / "checkpoints").is_dir():
        spec = json.loads((run / "spec.json").read_text())
    elif "task" in opts:
        opts["task"] = _file(base, opts["task"], f"{where} task")
        spec = load_spec(opts["task"])
    else:
        raise FileNotFoundError(
            f"{where}: run folder {str(run)!r} holds no checkpoints; give task = <task spec> to "
            "train it, or point run at a trained run folder."
        )
    if "period" in opts and not isinstance(opts["period"], str):
        fail(
            where, f"period must be a task period name such as 'decision'; got {opts['period']!r}."
        )
    if "period" in opts and "window_s_analysis" in opts:
        fail(where, "give period (a task period) or window_s_analysis (seconds), not both.")
    steps = opts.get("steps")
    if steps is not None and len(steps) < 2:
        fail(where, f"a trajectory needs at least 2 checkpoints; steps = {steps}.")
    if steps is not None:
        _check_steps(run, spec, steps, where)
    an = spec.get("analysis", {})
    size = (int(spec.get("network", {}).get("n_units", 128)), int(an.get("n_trials", 256)))
    return Source(name, "model", opts, _model_values(spec), size)


def _check_steps(run: Path, spec: Mapping[str, Any], steps: Any, where: str) -> None:
    """The steps asked for are checkpoints of the run (or of its schedule, when it is to be
    trained), checked before anything is loaded."""
    if not isinstance(steps, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in steps
    ):
        fail(where, f"steps must be a list of integers (checkpoint steps); got {steps!r}.")
    found = sorted(
        int(p.stem.split("_")[1]) for p in (run / "checkpoints").glob("step_*.safetensors")
    )
    if not found:
        from neurogeom.models.train import log_schedule  # no torch at import

        ck, n_steps = spec.get("checkpoints", {}), int(spec["training"].get("n_steps", 2000))
        found = ck.get("steps") if ck.get("schedule") == "list" else log_schedule(n_steps)
        found = sorted(s for s in found if s <= n_steps)
    missing = [s for s in steps if s not in found]
    if missing:
        fail(
            where,
            f"no checkpoints at steps {missing} in {str(run)!r}; its checkpoints are at steps "
            f"{found}.",
        )


def _model_values(spec: Mapping[str, Any]) -> dict[str, list[Any]]:
    """The values of a model's trial labels: its analysis condition grid, else those its
    analysis trial bank draws (the bank the checkpoints will be run on)."""
    an = spec.get("analysis", {})
    grid = an.get("conditions") or {}
    labels = [str(c) for c in an.get("labels") or []]
    if grid and all(c in grid for c in labels):
        return {c: list(grid[c]) for c in labels}
    task = spec["task"]
    bank = build_trial_bank(
        task["name"],
        int(an.get("n_trials", 256)),
        seed=int(an.get("seed", 12345)),
        env_kwargs=task.get("kwargs") or {},
        conditions=grid or None,
    )
    table = bank.conditions
    return {
        c: sorted(pd.unique(table[c]).tolist(), key=str)
        for c in (labels or list(table.columns))
        if c in table.columns
    }


def load_run_spec(path: str | Path) -> RunSpec:
    """Read and check a run spec; nothing is computed or written.

    Parameters
    ----------
    path : path
        A TOML run spec (see the module docstring).

    Returns
    -------
    RunSpec
        Paths resolved against the spec's folder; each source's trial labels read.

    Raises
    ------
    FileNotFoundError
        The spec, or a file or run folder it names, does not exist.
    ValueError
        An unknown section or key, a bad value, an unknown label, a mapping to a label that is
        not matched on, fewer than 2 stages for a trajectory.

    See Also
    --------
    load_spec : a spec of any kind.
    neurogeom.workflows.run_pipeline : runs the spec.

    Examples
    --------
    A spec of the two bundled sessions (nothing is read but their trial labels):

    >>> import tempfile
    >>> from pathlib import Path
    >>> from neurogeom.data import sample_nwb
    >>> early, late = sample_nwb("early"), sample_nwb("late")
    >>> lines = ["[recordings.sample]", 'format = "nwb"', 'align = "stimulus_on_time"',
    ...          "window_s = [0.0, 0.5]", "bin_size_s = 0.25",
    ...          f'stages = {{ early = "{early}", late = "{late}" }}',
    ...          "[analysis]", 'by = "choice"']
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "run.toml"
    ...     _ = path.write_text("\\n".join(lines))
    ...     spec = load_run_spec(path)
    >>> list(spec.recordings), spec.recordings["sample"].values["choice"]
    (['sample'], ['left', 'right'])
    """
    path = Path(path)
    try:
        return _load_run_spec(path)
    except ValueError as exc:
        message = str(exc)
        raise ValueError(
            message if message.startswith(str(path)) else f"{path}: {message}"
        ) from None


#: What a spec of another kind is, and how to run it (:func:`neurogeom.specs.run.spec_kind`).
_NOT_A_RUN_SPEC = {
    "lazy_rich": "a lazy-rich spec ([lazy_rich]), not a run spec: run it with `neurogeom run` "
    "or neurogeom.workflows.run_pipeline.",
    "pullback": "a pullback spec ([pullback]), not a run spec: run it with `neurogeom run` or "
    "neurogeom.workflows.run_pipeline.",
    "rank_sweep": "a rank-sweep spec ([task] and [sweep] rank), not a run spec: run it with "
    "`neurogeom run` or neurogeom.workflows.run_pipeline.",
    "train": "a training spec ([task]), not a run spec: train it with `neurogeom train SPEC -o "
    "RUN`, or name it in a run spec as [models.<name>] task = '<this file>'.",
}


def _load_run_spec(path: Path) -> RunSpec:
    raw = read_toml(path, "run spec")
    kind = spec_kind(raw)
    if kind != "run":
        fail(str(path), _NOT_A_RUN_SPEC[kind])
    check_keys(raw, TOP_KEYS, str(path))
    base = path.resolve().parent
    run = validated(RunSection, raw.get("run", {}), "[run]").model_dump()
    recordings = {n: _recording(n, t, base) for n, t in raw.get("recordings", {}).items()}
    models = {n: _model(n, t, base) for n, t in raw.get("models", {}).items()}
    studies = {n: _study(n, t, base) for n, t in _tables(raw, "studies").items()}
    if not recordings and not models and not studies:
        fail(
            str(path),
            "name at least one [recordings.<name>], [models.<name>] or [studies.<name>] section.",
        )
    spec = RunSpec(
        path,
        run["title"] or path.stem,
        run["seed"],
        run["n_jobs"],
        recordings,
        models,
        parse_analysis(raw.get("analysis", {})),
        None,
        raw,
        studies,
    )
    an = spec.analysis
    try:
        get_measure(an["measure"])
    except ValueError as exc:
        fail("[analysis] measure", str(exc))
    if an["measure"] in ("glue", "mftma"):
        for src in [*spec.sources.values(), *studies.values()]:
            units, trials = src.size or (1, 2)
            check_monte_carlo(f"[analysis] (source {src.name!r}) ", an["n_t"], units, trials)
    spec.compare = parse_compare(raw["compare"], spec) if "compare" in raw else None
    test = spec.analysis["test_stages"]
    for src in spec.recordings.values():
        names = list(src.options["stages"])
        if test is not None and (len(test) != 2 or any(t not in names for t in test)):
            fail(
                "[analysis] test_stages",
                f"give two stage names of every recording; got "
                f"{test!r}, recording {src.name!r} has {names}.",
            )
    labels = [spec.analysis["by"], *spec.analysis["within"]]
    for src in spec.recordings.values():
        check_labels(src, labels, "[analysis] by/within")
    if spec.compare is None:
        for src in spec.models.values():
            check_labels(src, labels, "[analysis] by/within")
    for src in studies.values():
        _check_study_labels(src, labels)
    return spec


def _tables(raw: Mapping[str, Any], section: str) -> dict[str, Any]:
    """The named tables of a section (``[studies.<name>]``), or a one-line error."""
    tables = raw.get(section, {})
    if not isinstance(tables, Mapping) or not all(isinstance(t, Mapping) for t in tables.values()):
        fail(f"[{section}]", f"give one table per entry: [{section}.<name>] with its keys.")
    return dict(tables)
