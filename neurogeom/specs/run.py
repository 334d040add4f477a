"""The run spec of ``neurogeom run``: what to load, train, compute, compare and report.

A run spec is a TOML file; relative paths are read from the spec's folder. Sections:

``[run]``
    ``title`` (str), ``seed`` (int, default 0), ``n_jobs`` (int, default 1).
``[recordings.<name>]`` (any number)
    ``format``: ``"nwb"`` (default), ``"mat"`` (Mante-style per-unit trials, read by
    :func:`neurogeom.io.arrays.read_mat` and :func:`~neurogeom.io.arrays.from_unit_trials`) or
    ``"array"`` (``.npz`` with ``data`` and one array per trial label, via
    :func:`~neurogeom.io.arrays.from_array`). ``stages``: a table ``stage name -> file`` in
    learning order (two or more: each session becomes one ``stage``). NWB: ``align``,
    ``window_s = [start_s, stop_s]``, ``bin_size_s``. MAT: ``variable`` (the struct array),
    ``by`` (labels balanced when pooling), ``bin_size_s``. Array: ``dims``, ``quantity``,
    ``bin_size_s``. Each source may set its own ``window_s_analysis`` (the window averaged into
    each trial's point; default ``[analysis] window_s``).
``[models.<name>]`` (any number)
    ``run``: a run folder (reused when it holds checkpoints, else trained into); ``task``: a task
    spec such as ``tasks/context_dm.toml`` (trained into ``run``, resumable; needed only when
    ``run`` holds no checkpoints). ``steps``: the checkpoints to simulate (default all);
    ``window_s_analysis`` as above, or ``period`` (a task period such as ``"decision"``: each
    trial's point is its mean state over that period, as the seed paper reads a network).
``[analysis]``
    ``by`` (str), ``within`` (str or list), ``window_s``, ``measure`` (default ``"glue"``),
    ``n_t``, ``n_boot``, ``n_null`` (trajectories), ``n_perm`` (stage test), ``confidence``,
    ``zscore`` (bool, default true), ``balance`` (points per manifold, ``true`` for the
    smallest count, ``false`` for none), ``test_stages`` (``[first, second]`` of the recordings;
    default their first and last stage), ``coding`` (bool, default false: the coding scheme of
    every source at every stage, :func:`neurogeom.geometry.coding_scheme`, and its report section).
``[studies.<name>]`` (any number)
    A study (:func:`neurogeom.study`): NWB files of several subjects, each session with its own
    units and trials. ``folder`` (default the spec's folder) and ``pattern`` (a glob relative to
    it, default the DANDI layout ``sub-*/sub-*_ses-*.nwb``; give at least one of them); the NWB
    reading settings shared by every file, ``align``, ``window_s``, ``bin_size_s`` (as
    ``[recordings]``); ``axis`` (the learning axis: ``"session"``, the default, or
    ``"fraction"``; ``"day"`` and ``"performance"`` need session metadata NWB files do not carry),
    ``window_s_analysis`` (default ``[analysis] window_s``). The run computes
    :func:`neurogeom.learning.study_trajectory`, the paired test of the first vs the last session
    (:func:`~neurogeom.learning.study_stage_difference`) and
    :func:`~neurogeom.learning.study_stages` with the ``[analysis]`` labels and counts.
``[compare]`` (optional)
    ``brain``, ``model`` (names of a recording and a model), ``on`` (brain labels),
    ``kind`` (``"fraction"`` or ``"performance"``), ``measures`` (pair measures),
    ``n_perm``, and ``[compare.mapping.<model label>]`` with ``to`` (the brain label) and
    ``values`` (a table model value -> brain value; TOML keys are strings, matched to the
    model's values by their text). With ``brain`` naming a ``[studies]`` section (the animals),
    ``networks`` replaces ``model``: a table ``configuration -> [model names]`` (2 or more each,
    e.g. seeds); the run compares the cohorts (:func:`neurogeom.learning.compare_cohorts`,
    :func:`neurogeom.learning.cohort_similarity`).

Three other kinds of spec run through ``neurogeom run`` too (:func:`spec_kind` tells them apart):
a training spec with ``[sweep] rank = [...]`` (:mod:`neurogeom.workflows.rank_sweep`), a lazy-rich
spec with a ``[lazy_rich]`` section (:mod:`neurogeom.workflows.lazy_rich`) and a pullback spec with
a ``[pullback]`` section (:mod:`neurogeom.workflows.pullback`).

``load_run_spec`` reads and checks everything that can be checked without computing: files,
labels, the mapping, the stage counts. Errors are one line naming the problem and the fix.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import pydantic

from neurogeom._params import (
    BALANCE,
    CONFIDENCE,
    N_BOOT,
    N_JOBS,
    N_PERM,
    N_T,
    SEED,
    OneOf,
    coarse_p_warning,
    typed_value_map,
)
from neurogeom.specs._common import constrained, fail, validated

__all__ = ["RunSpec", "Source", "named_setting", "spec_kind"]

TOP_KEYS = {"run", "recordings", "models", "studies", "analysis", "compare"}
RECORDING_KEYS = {
    "format",
    "stages",
    "align",
    "window_s",
    "bin_size_s",
    "variable",
    "by",
    "dims",
    "quantity",
    "window_s_analysis",
}
MODEL_KEYS = {"run", "task", "steps", "window_s_analysis", "period"}
#: The learning axes of a study (those of :func:`neurogeom.learning.study_trajectory`).
STUDY_AXES = ("session", "day", "fraction", "performance")


class RunSection(pydantic.BaseModel):
    """The ``[run]`` section of a run spec: its title (default the spec's file name), the seed of
    every computation and the workers."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    title: str | None = None
    seed: Annotated[int, SEED] = 0
    n_jobs: Annotated[int, N_JOBS] = 1


class AnalysisSection(pydantic.BaseModel):
    """The ``[analysis]`` section of a run spec: each key typed, its default and constraint
    stated once (the constraints are those of the functions the values feed)."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    by: str | None = None
    within: list[str] | str = []
    window_s: list[float] | None = None
    measure: str = "glue"
    n_t: int = 100
    n_boot: int = 20
    n_null: int = 20
    n_perm: int = 50
    confidence: float = 0.95
    zscore: bool = True
    balance: bool | int = True
    test_stages: list[str] | None = None
    coding: bool = False

    _n_t = constrained("n_t", by=N_T)
    _n_boot = constrained("n_boot", by=N_BOOT)
    _n_perm = constrained("n_null", "n_perm", by=N_PERM)
    _confidence = constrained("confidence", by=CONFIDENCE)
    _balance = constrained("balance", by=BALANCE)


class CompareSection(pydantic.BaseModel):
    """The ``[compare]`` section of a run spec: which recording and model are compared, on which
    labels, along which learning axis (each key typed, its default and constraint stated once)."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    brain: str | None = None
    model: str | None = None
    on: list[str] | str | None = None
    kind: Annotated[str, OneOf(("fraction", "performance"), "'fraction' or 'performance'")] = (
        "fraction"
    )
    n_perm: Annotated[int, N_PERM] = 50
    measures: list[str] = ["cka_similarity", "rsa_similarity", "procrustes_distance"]
    mapping: dict[str, str | dict[str, Any]] = {}
    networks: dict[str, list[str]] | None = None


class StudySection(pydantic.BaseModel):
    """One ``[studies.<name>]`` of a run spec: where its NWB files are, how every file is read,
    the learning axis and the analysis window (each key typed, its default stated once)."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    folder: str | None = None
    pattern: str | None = None
    align: str | None = None
    window_s: list[float] | None = None
    bin_size_s: float | None = None
    axis: Annotated[
        str, OneOf(STUDY_AXES, "one of 'session', 'day', 'fraction', 'performance'")
    ] = "session"
    window_s_analysis: list[float] | None = None


class MappingRule(pydantic.BaseModel):
    """One ``[compare.mapping.<model label>]``: the brain label it becomes (``to``, default the
    same name) and a table of model value -> brain value (TOML keys are strings: matched to the
    model's values by their text, :func:`neurogeom._params.typed_value_map`)."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    to: str | None = None
    values: dict[str, Any] = {}


ANALYSIS_DEFAULTS = AnalysisSection().model_dump()
COMPARE_DEFAULTS = CompareSection().model_dump()


@dataclass
class Source:
    """One recording or model named by a spec.

    Parameters
    ----------
    name : str
        The spec's name for it (``[recordings.<name>]``).
    kind : {"recording", "model"}
    options : dict
        The section's keys, paths resolved.
    values : dict of str to list
        Its trial labels and their distinct values (read from the files or the run's spec;
        empty when known only once the data is read).
    size : (int, int) or None
        Its (units, trials) at most, for the memory estimate (``None``: known once read).

    See Also
    --------
    RunSpec : the spec that names it.
    neurogeom.workflows.load_run_spec : builds it from a file.

    Examples
    --------
    >>> src = Source("mouse1", "recording", {}, values={"choice": [0, 1]})
    >>> src.labels
    ['choice']
    """

    name: str
    kind: str
    options: dict[str, Any]
    values: dict[str, list[Any]] = field(default_factory=dict)
    size: tuple[int, int] | None = None

    @property
    def labels(self) -> list[str]:
        """Its trial labels."""
        return sorted(self.values)


@dataclass
class RunSpec:
    """A checked run spec (see the module docstring for the keys).

    Parameters
    ----------
    path : pathlib.Path
        The spec file.
    title : str
        The run's title (``[run] title``).
    seed : int
        The parent seed.
    n_jobs : int
        Worker processes.
    recordings, models : dict of str to Source
        The sources, by their names in the spec.
    analysis : dict
        The ``[analysis]`` section, defaults filled in.
    compare : dict or None
        The ``[compare]`` section.
    raw : dict
        The parsed TOML table.

    See Also
    --------
    Source : one recording or model.
    neurogeom.workflows.load_run_spec : reads and checks a run spec file.

    Examples
    --------
    >>> from pathlib import Path
    >>> spec = RunSpec(Path("run.toml"), "demo", 0, 1, {}, {}, {}, None, {})
    >>> spec.title, spec.compare
    ('demo', None)
    """

    path: Path
    title: str
    seed: int
    n_jobs: int
    recordings: dict[str, Source]
    models: dict[str, Source]
    analysis: dict[str, Any]
    compare: dict[str, Any] | None
    raw: dict[str, Any]
    studies: dict[str, Source] = field(default_factory=dict)

    @property
    def sources(self) -> dict[str, Source]:
        """Recordings then models, by name."""
        return {**self.recordings, **self.models}


def _labels_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    values = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in values):
        fail(where, f"labels must be strings; got {value!r}.")
    return values


def check_labels(src: Source, wanted: list[str], where: str) -> None:
    if not src.labels:
        return  # labels known only once the data is read
    missing = [w for w in wanted if w not in src.labels]
    if missing:
        fail(
            where,
            f"unknown label(s) {missing} in {src.kind} {src.name!r}; "
            f"its trial labels are {src.labels}.",
        )


def parse_analysis(table: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[analysis]`` section checked (:class:`AnalysisSection`) as a dict, defaults filled."""
    out = validated(AnalysisSection, table, "[analysis]").model_dump()
    if not isinstance(out["by"], str):
        fail("[analysis]", f"give by = <trial label> (a string); got {out['by']!r}.")
    out["within"] = _labels_list(out["within"], "[analysis] within")
    if out["by"] in out["within"]:
        fail(
            "[analysis]",
            f"within repeats by = {out['by']!r}; within names the other labels the manifolds "
            f"are split by, e.g. within = ['context'] (or leave it out).",
        )
    level = 1 - out["confidence"]
    coarse_p_warning(out["n_perm"], level, "[analysis] ")
    return out


def parse_compare(table: Mapping[str, Any], spec: RunSpec) -> dict[str, Any]:
    where = "[compare]"
    out = validated(CompareSection, table, where).model_dump()
    if out["brain"] in spec.studies:
        return _parse_cohorts(out, spec, where)
    if out["networks"] is not None:
        fail(
            where,
            f"networks compares a study with several models; brain = {out['brain']!r} is no "
            f"[studies] section (known: {list(spec.studies)}): name a study, or drop networks.",
        )
    for role, pool in (("brain", spec.recordings), ("model", spec.models)):
        if out[role] not in pool:
            fail(where, f"{role} = {out[role]!r} names no {role} section; known: {list(pool)}.")
    brain, model = spec.recordings[out["brain"]], spec.models[out["model"]]
    return _parse_pair(out, brain, model, where)


def _parse_cohorts(out: dict[str, Any], spec: RunSpec, where: str) -> dict[str, Any]:
    """A study (the animals) against models grouped by configuration (the networks)."""
    if out["model"] is not None:
        fail(
            where, "a study is compared with networks = {<configuration> = [<models>]}; drop model."
        )
    if not out["networks"]:
        fail(
            where,
            f"brain = {out['brain']!r} is a study: give its networks, e.g. networks = "
            f"{{context_dm = {list(spec.models)[:3]}}} (models by configuration, 2 or more each).",
        )
    for config, names in out["networks"].items():
        unknown = [n for n in names if n not in spec.models]
        if unknown:
            fail(
                f"{where} networks.{config}",
                f"{unknown} name no [models] section; known: {list(spec.models)}.",
            )
        if len(set(names)) < 2:
            fail(
                f"{where} networks.{config}",
                f"has {len(set(names))} model; give 2 or more (seeds).",
            )
    first = spec.models[next(iter(out["networks"].values()))[0]]
    parsed = _parse_pair(out, spec.studies[out["brain"]], first, where)
    parsed["model"] = None
    return parsed


def _parse_pair(out: dict[str, Any], brain: Source, model: Source, where: str) -> dict[str, Any]:
    on = _labels_list(out["on"], f"{where} on")
    if not on:
        fail(where, "give on = [<brain labels to match on>], e.g. on = ['choice', 'context'].")
    check_labels(brain, on, where)
    mapping: dict[str, tuple[str, dict[str, Any]]] = {}
    for label, rule in dict(out["mapping"]).items():
        rule = {"to": rule} if isinstance(rule, str) else dict(rule)
        rule = validated(MappingRule, rule, f"{where} mapping.{label}").model_dump()
        check_labels(model, [label], f"{where} mapping.{label}")
        target = rule["to"] or label
        if target not in on:
            fail(
                f"{where} mapping.{label}",
                f"maps to {target!r}, which is not in on = {on}; map to one of them.",
            )
        mapping[label] = (target, dict(rule["values"]))
    targets = {t for t, _ in mapping.values()}
    unmapped = [o for o in on if o not in targets]
    check_labels(model, unmapped, f"{where} on")
    for k, (_, vmap) in mapping.items():
        _check_value_map(k, model.values.get(k, []), vmap)
    mapping = {
        k: (t, typed_value_map(model.values.get(k, []), vmap)) for k, (t, vmap) in mapping.items()
    }
    _check_shared(brain, model, on, mapping, where)
    out.update(on=on, mapping=mapping)
    return out


def _check_value_map(label: str, model_values: list[Any], vmap: Mapping[str, Any]) -> None:
    """A value map names exactly the model's values (TOML keys are strings: matched by text)."""
    if not vmap or not model_values:
        return
    have = {str(v) for v in model_values}
    keys = [str(k) for k in vmap]
    unknown = [k for k in keys if k not in have]
    uncovered = [v for v in model_values if str(v) not in keys]
    if not unknown and not uncovered:
        return
    where = f"[compare.mapping.{label}] values"
    if len(unknown) == len(keys):
        fail(
            where,
            f"maps {keys}, none of which is a value of the model's {label!r}; its values are "
            f"{model_values}: write values = {{{', '.join(f'{v} = ...' for v in model_values)}}}.",
        )
    parts = []
    if unknown:
        parts.append(f"maps {unknown}, which the model's {label!r} never takes")
    if uncovered:
        parts.append(f"leaves the model's values {uncovered} unmapped")
    fail(where, "; ".join(parts) + f"; the model's {label!r} takes {model_values}: map each once.")


def _check_shared(
    brain: Source, model: Source, on: list[str], mapping: dict[str, Any], where: str
) -> None:
    """Each matched label must share at least one value between brain and (mapped) model."""
    for label in on:
        src = next((k for k, (t, _) in mapping.items() if t == label), label)
        b_vals, m_vals = brain.values.get(label), model.values.get(src)
        if not b_vals or not m_vals:
            continue  # values known only once the data is read
        vmap = mapping.get(src, (label, {}))[1]
        mapped = {str(vmap.get(v, v)) for v in m_vals}
        if not mapped & {str(v) for v in b_vals}:
            fail(
                where,
                f"no shared values of {label!r}: the brain has {b_vals}, the model "
                f"{src!r} gives {sorted(mapped)} after the mapping; map the model's values "
                f"with [compare.mapping.{src}] values = {{...}}.",
            )


def named_setting(
    settings: Mapping[str, Mapping[str, Any]], name: str | None
) -> tuple[str, dict[str, Any]]:
    """A named setting of a sweep (``"fast"``, ``"full"``...) and a copy of its values.

    Parameters
    ----------
    settings : mapping of str to mapping
        The sweep's settings by name.
    name : str or None
        The one wanted; ``None`` is ``"full"``.

    Returns
    -------
    (str, dict)
        The name and a deep copy of its values (free to modify).

    Raises
    ------
    ValueError
        A name that is not in ``settings``; the message lists those that are.

    See Also
    --------
    neurogeom.specs.load_lazy_rich_spec : a spec with named settings.
    neurogeom.specs.load_pullback_spec : a spec with named settings.

    Examples
    --------
    >>> named_setting({"fast": {"n": 2}, "full": {"n": 20}}, None)
    ('full', {'n': 20})
    """
    name = "full" if name is None else str(name)
    if name not in settings:
        raise ValueError(f"unknown setting {name!r}; give one of {sorted(settings)}.")
    return name, copy.deepcopy(dict(settings[name]))


def spec_kind(spec: str | Path | Mapping[str, Any]) -> str:
    """Which kind of spec a TOML file (or its parsed table) is: ``"lazy_rich"``, ``"pullback"``,
    ``"rank_sweep"``, ``"train"`` or ``"run"``; the one place the kinds are told apart.

    A file that cannot be read or parsed is ``"run"`` (its check then names the problem).

    Parameters
    ----------
    spec : path or mapping
        A TOML spec, or its parsed table.

    Returns
    -------
    str
        ``"lazy_rich"`` (a ``[lazy_rich]`` section, :mod:`neurogeom.specs.lazy_rich`),
        ``"pullback"`` (``[pullback]``, :mod:`neurogeom.specs.pullback`), ``"rank_sweep"``
        (``[task]`` and ``[sweep] rank``, :mod:`neurogeom.specs.train`), ``"train"`` (``[task]``
        without a rank sweep) or ``"run"`` (this module).

    See Also
    --------
    neurogeom.workflows.load_spec : read and check a spec of any kind.

    Examples
    --------
    >>> spec_kind({"lazy_rich": {"alphas": [1, 10]}})
    'lazy_rich'
    >>> spec_kind({"task": {"name": "ContextDecisionMaking-v0"}, "sweep": {"rank": [1, 5]}})
    'rank_sweep'
    """
    if isinstance(spec, Mapping):
        raw = spec
    else:
        try:
            raw = tomllib.loads(Path(spec).read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return "run"
    if "lazy_rich" in raw:
        return "lazy_rich"
    if "pullback" in raw:
        return "pullback"
    if "task" in raw:
        sweep = raw.get("sweep", {})
        return "rank_sweep" if isinstance(sweep, Mapping) and "rank" in sweep else "train"
    return "run"
