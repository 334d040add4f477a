"""The bad-input catalogue: one table of mistakes a user can make, each met by a clear error.

Every row prepares its inputs in a fresh folder, makes one mistake (a library call or a command
line), and asserts three things:

- the error names the problem: its type, and a regular expression on its message (for a command,
  on the one ``error:`` line it prints, with exit code != 0 and no traceback);
- no partial output: the output path of the row does not exist afterwards, and no other file
  (temporary or not) appeared in the folder;
- the inputs are unchanged: every file of the folder has the same sha256 before and after.

Rows are ``Row(id, prepare, act, error, match, out)``; ``prepare`` names the inputs (see
:data:`INPUTS`) or holds callables that write them. Append rows to :data:`CATALOGUE`.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.data import sample_nwb
from tests._specs import TINY_SPEC, spec_toml

pytest.importorskip("neurogym")

# ---- inputs ------------------------------------------------------------------------------------


def _pop(n_per: int = 12, n_unit: int = 10, seed: int = 0) -> Any:
    from neurogeom.population import make_population

    rng = np.random.default_rng(seed)
    choice = np.repeat([0, 1, 2, 3], n_per)
    context = np.tile([0, 1], 2 * n_per)
    centres = 3.0 * rng.standard_normal((4, n_unit))
    data = centres[choice][:, None, :] + rng.standard_normal((4 * n_per, 4, n_unit))
    return make_population(
        data,
        dims=("trial", "time", "unit"),
        trial_coords={"choice": choice, "context": context},
        time=np.arange(4) * 0.1,
        unit=np.arange(n_unit),
        quantity="rate_hz",
        bin_size_s=0.1,
    )


def _write_pop(folder: Path) -> None:
    from neurogeom.io.store import save

    save(_pop(), folder / "pop.nc")


def _write_result(folder: Path) -> None:
    from neurogeom.io.store import save

    ds = _pop().ng.glue("choice", n_t=20, seed=0)
    save(ds, folder / "result.nc")


def _write_zarr(folder: Path) -> None:
    from neurogeom.io.store import save

    save(_pop(), folder / "pop.zarr")


def _write_nwb(folder: Path) -> None:
    shutil.copyfile(sample_nwb("late"), folder / "rec.nwb")


def _write_recordings(folder: Path) -> None:
    shutil.copyfile(sample_nwb("early"), folder / "early.nwb")
    shutil.copyfile(sample_nwb("late"), folder / "late.nwb")


_RUN_SPEC = """[recordings.monkey]
align = "stimulus_on_time"
window_s = [0.0, 0.4]
bin_size_s = 0.1
stages = {{ {stages} }}
[analysis]
by = "choice"
"""
_TWO_STAGES = 'early = "early.nwb", late = "late.nwb"'


def _run_spec(extra: str = "", stages: str = _TWO_STAGES) -> Callable[[Path], None]:
    """run.toml: a run spec over the two bundled sessions, ``extra`` lines in [analysis]."""
    return _text("run.toml", _RUN_SPEC.format(stages=stages) + extra)


def _write_spec(folder: Path) -> None:
    (folder / "spec.toml").write_text(spec_toml(TINY_SPEC))


_RUN: dict[str, Path] = {}  # "base": a folder of this module's; "run": the trained run in it


@pytest.fixture(scope="module", autouse=True)
def _run_folder(tmp_path_factory):
    _RUN["base"] = tmp_path_factory.mktemp("trained")
    yield
    _RUN.clear()


def _write_run(folder: Path) -> None:
    """run/: trained once per module (8 steps), copied into each row that asks for it."""
    if "run" not in _RUN:
        from neurogeom.models.train import train

        spec = copy.deepcopy(TINY_SPEC)
        spec["training"]["n_steps"] = 8
        spec["analysis"] = {"n_trials": 16}
        train(spec, _RUN["base"] / "run")
        _RUN["run"] = _RUN["base"] / "run"
    shutil.copytree(_RUN["run"], folder / "run")


#: Inputs a row can ask for by name: each writes its file(s) into the row's folder.
INPUTS: dict[str, Callable[[Path], None]] = {
    "pop": _write_pop,  # pop.nc: a (trial, time, unit) tensor, labels choice (4) and context (2)
    "result": _write_result,  # result.nc: a glue result Dataset
    "zarr": _write_zarr,  # pop.zarr: the tensor as a zarr store
    "nwb": _write_nwb,  # rec.nwb: the bundled late session
    "recordings": _write_recordings,  # early.nwb, late.nwb: the bundled sessions
    "spec": _write_spec,  # spec.toml: the tiny training spec
    "run": _write_run,  # run/: a trained tiny run (8 steps)
}


def _text(name: str, content: str | bytes) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (folder / name).write_bytes(data)

    return write


def _spec_with(**changes: Any) -> Callable[[Path], None]:
    """spec.toml: the tiny spec with ``section__key=value`` changes (value None removes)."""

    def write(folder: Path) -> None:
        spec = copy.deepcopy(TINY_SPEC)
        for name, value in changes.items():
            section, _, key = name.partition("__")
            table = spec.setdefault(section, {})
            if "__" in key:
                key, _, sub = key.partition("__")
                table = table.setdefault(key, {})
                key = sub
            table[key] = value
        (folder / "spec.toml").write_text(spec_toml(spec))

    return write


def _damage(path: str, keep: int | None = None, fill: bytes | None = None) -> Callable:
    """Truncate the file at ``path`` (relative to the row's folder) to ``keep`` bytes, or
    overwrite it with ``fill`` repeated."""

    def write(folder: Path) -> None:
        f = folder / path
        data = f.read_bytes()
        f.write_bytes(data[:keep] if fill is None else (fill * len(data))[: len(data)])

    return write


def _mkdir(name: str, *files: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / name).mkdir(parents=True)
        for f in files:
            (folder / name / f).write_text("not a result")

    return write


# ---- actions -----------------------------------------------------------------------------------


def _read_only(folder: Path) -> None:
    """ro/: a folder without write permission (root writes there anyway: see :func:`cli`)."""
    (folder / "ro").mkdir()
    (folder / "ro").chmod(0o500)


# A folder this user cannot write in: ro/ of the row, or for root (who writes in ro/) /sys.
_RO = "/sys" if os.geteuid() == 0 else "{d}/ro"


def cli(*args: str) -> Callable[[Path], Result]:
    """A command line; ``{d}`` in an argument is the row's folder, ``{ro}`` a read-only one."""

    def act(folder: Path) -> Result:
        argv = [a.replace("{ro}", _RO).replace("{d}", str(folder)) for a in args]
        return CliRunner().invoke(app, argv)

    return act


def _read_nwb(name: str = "rec.nwb", **kwargs: Any) -> Callable[[Path], Any]:
    def act(folder: Path) -> Any:
        from neurogeom.io.nwb import read_nwb

        options = {"align": "stimulus_on_time", "window_s": (0.0, 0.4), "bin_size_s": 0.1}
        return read_nwb(folder / name, **{**options, **kwargs})

    return act


def _load(name: str) -> Callable[[Path], Any]:
    def act(folder: Path) -> Any:
        from neurogeom.io.store import load

        return load(folder / name)

    return act


def _save_pop(name: str) -> Callable[[Path], Any]:
    def act(folder: Path) -> Any:
        from neurogeom.io.store import save

        return save(_pop(), folder / name)

    return act


def _glue(x: Callable[[], np.ndarray], labels: Callable[[], np.ndarray]) -> Callable:
    def act(folder: Path) -> Any:
        from neurogeom.geometry.capacity import glue

        return glue(x(), labels(), n_t=20, seed=0)

    return act


def _points(n_per: int = 10, n_unit: int = 6, n_manifold: int = 3) -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.standard_normal((n_per * n_manifold, n_unit))


def _labels(n_per: int = 10, n_manifold: int = 3) -> np.ndarray:
    return np.repeat(np.arange(n_manifold), n_per)


def _with_nan() -> np.ndarray:
    x = _points()
    x[4, 2] = np.nan
    return x


def _accessor(method: str, *args: Any, pop: Callable[[], Any] = _pop, **kwargs: Any) -> Callable:
    def act(folder: Path) -> Any:
        return getattr(pop().ng, method)(*args, **kwargs)

    return act


def _one_trial_label() -> Any:
    pop = _pop()
    choice = pop["choice"].values.copy()
    choice[0] = 9  # label 9 has one trial
    return pop.assign_coords(choice=("trial", choice))


def _from_array(data: Callable[[], np.ndarray], **kwargs: Any) -> Callable:
    def act(folder: Path) -> Any:
        from neurogeom.io.arrays import from_array

        return from_array(data(), **kwargs)

    return act


def _from_unit_trials(units: Callable[[], list], **kwargs: Any) -> Callable:
    def act(folder: Path) -> Any:
        from neurogeom.io.arrays import from_unit_trials

        return from_unit_trials(units(), **kwargs)

    return act


def _load_spec() -> Callable[[Path], Any]:
    def act(folder: Path) -> Any:
        from neurogeom.workflows.preflight import load_spec

        return load_spec(folder / "spec.toml")

    return act


def _simulate(run: str = "run") -> Callable[[Path], Any]:
    def act(folder: Path) -> Any:
        from neurogeom.models.simulate import simulate

        return simulate(folder / run)

    return act


# ---- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One mistake: inputs, the call, the error it must meet, and the output that must not exist.

    ``error`` is an exception type for library calls and ``"exit"`` for command lines.
    """

    id: str
    prepare: tuple[str | Callable[[Path], None], ...]
    act: Callable[[Path], Any]
    error: type[BaseException] | tuple[type[BaseException], ...] | str
    match: str
    out: str | None = None


_RUN_ARGS = ("--no-progress",)
_CUDA = r"CUDA is not available.*\"cpu\"|has \d+ CUDA device\(s\)"

CATALOGUE: list[Row] = [
    # -- NWB files ----------------------------------------------------------------------------
    Row("nwb-text-file", (_text("notes.nwb", "just text\n"),), _read_nwb("notes.nwb"),
        ValueError, r"not an HDF5 file"),
    Row("nwb-missing", (), _read_nwb("absent.nwb"), FileNotFoundError, r"not found"),
    Row("nwb-truncated", ("nwb", _damage("rec.nwb", keep=20_000)), _read_nwb(),
        ValueError, r"truncated or corrupted"),
    Row("nwb-unknown-event", ("nwb",), _read_nwb(align="go_cue"),
        ValueError, r"unknown event 'go_cue'.*stimulus_on_time"),
    Row("nwb-window-reversed", ("nwb",), _read_nwb(window_s=(0.4, 0.0)),
        ValueError, r"window start must be before its stop"),
    Row("nwb-bin-zero", ("nwb",), _read_nwb(bin_size_s=0.0),
        ValueError, r"bin_size_s must be a positive"),
    Row("nwb-trial-filter-misspelled", ("nwb",), _read_nwb(trial_filter={"choise": 1}),
        ValueError, r"trial_filter names column 'choise'.*'choice'"),
    Row("nwb-unknown-series", ("nwb",), _read_nwb(series="lfp"),
        ValueError, r"no series 'lfp'"),
    Row("cli-info-not-hdf5", (_text("notes.nwb", "just text\n"),), cli("info", "{d}/notes.nwb"),
        "exit", r"notes\.nwb' is not an HDF5 file"),
    Row("cli-load-unknown-event", ("nwb",),
        cli("load", "{d}/rec.nwb", "--align", "go_cue", "--window", "0", "0.4", "--bin", "0.1",
            "-o", "{d}/out.nc"),
        "exit", r"unknown event 'go_cue'", "out.nc"),
    Row("cli-load-output-is-input", ("nwb",),
        cli("load", "{d}/rec.nwb", "--align", "stimulus_on_time", "--window", "0", "0.4",
            "--bin", "0.1", "-o", "{d}/rec.nwb"),
        "exit", r"-o '.*rec\.nwb' is the input .*would replace the input"),
    Row("cli-load-output-is-folder", ("nwb", _mkdir("out")),
        cli("load", "{d}/rec.nwb", "--align", "stimulus_on_time", "--window", "0", "0.4",
            "--bin", "0.1", "-o", "{d}/out"),
        "exit", r"-o '.*out' is a folder; give a file path"),
    # -- arrays and the engine ---------------------------------------------------------------
    Row("array-axes-mismatch", (), _from_array(lambda: np.zeros((2, 3, 4)), dims=("unit", "trial")),
        ValueError, r"data has 3 axes"),
    Row("array-label-length", (),
        _from_array(lambda: np.zeros((2, 3, 4)), dims=("unit", "time", "trial"),
                    trial_coords={"context": ["a", "b", "c"]}),
        ValueError, r"trial coord 'context' has shape \(3,\).*4 along 'trial'"),
    Row("array-neuron-dim", (),
        _from_array(lambda: np.zeros((2, 3, 4)), dims=("neuron", "time", "trial")),
        ValueError, r"Use 'unit' for neurons"),
    Row("array-unit-trials-no-response", (),
        _from_unit_trials(lambda: [{"task_variables": {}}], by="context"),
        ValueError, r"has no 'response'"),
    Row("array-unit-trials-not-a-struct", (), _from_unit_trials(lambda: [[1, 2]], by="context"),
        ValueError, r"is a list, not a struct"),
    Row("engine-one-manifold", (), _glue(_points, lambda: np.zeros(30)),
        ValueError, r"at least 2 manifolds"),
    Row("engine-empty-manifold-set", (), _glue(lambda: np.zeros((0, 6)), lambda: np.zeros(0)),
        ValueError, r"at least 2 manifolds \(distinct labels\); got 0"),
    Row("engine-nan-points", (), _glue(_with_nan, _labels), ValueError, r"NaN/inf"),
    Row("engine-shape-mismatch", (), _glue(_points, lambda: _labels()[:-1]),
        ValueError, r"30 points but 29 labels"),
    Row("engine-all-zero", (), _glue(lambda: np.zeros((30, 6)), _labels),
        ValueError, r"all zero"),
    Row("engine-label-with-one-trial", (), _accessor("glue", "choice", pop=_one_trial_label),
        ValueError, r"fewer than 2 points.*\{'choice': 9\} with 1"),
    Row("engine-unknown-label", (), _accessor("glue", "choise"),
        ValueError, r"unknown trial label 'choise'.*choice"),
    Row("engine-by-equals-within", (), _accessor("glue", "choice", within="choice"),
        ValueError, r"\['choice'\] given twice \(in by and within\)"),
    # -- specs (TOML) ------------------------------------------------------------------------
    Row("spec-lr-string", (_spec_with(training__lr="0.003"),), _load_spec(),
        ValueError, r"training\.lr must be a number; got '0\.003' \(a string\).*lr = 0\.003"),
    Row("spec-dt-string", (_spec_with(task__kwargs__dt="fast"),), _load_spec(),
        ValueError, r"task\.kwargs\.dt must be a number; got 'fast'"),
    Row("spec-seed-negative", (_spec_with(training__seed=-1),), _load_spec(),
        ValueError, r"training\.seed must be a non-negative integer; got -1"),
    Row("spec-unknown-key", (_spec_with(training__n_step=3),), _load_spec(),
        ValueError, r"unknown key\(s\) \['n_step'\] in \[training\] \(did you mean 'n_steps'\?\)"),
    Row("spec-unknown-section", (_spec_with(trainig__lr=0.1),), _load_spec(),
        ValueError, r"unknown section\(s\) \['trainig'\] \(did you mean 'training'\?\)"),
    Row("spec-analysis-labels", (_spec_with(analysis__labels=["context", "colour"]),),
        _load_spec(), ValueError, r"analysis\.labels: unknown label\(s\) \['colour'\]"),
    Row("spec-analysis-n-trials-zero", (_spec_with(analysis__n_trials=0),), _load_spec(),
        ValueError, r"analysis\.n_trials must be a positive integer; got 0"),
    Row("spec-period-misspelled", (_spec_with(analysis__period="decison"),), _load_spec(),
        ValueError, r"analysis\.period: .*no period 'decison' \(did you mean 'decision'\?\)"),
    Row("spec-align-misspelled", (_spec_with(analysis__align="stimulus_on"),), _load_spec(),
        ValueError, r"analysis\.align: .*no period 'stimulus_on' \(did you mean 'stimulus'\?\)"),
    Row("spec-live-by-not-a-label", (_spec_with(analysis__live=True, analysis__by="side"),),
        _load_spec(), ValueError, r"analysis\.by: label\(s\) \['side'\] are not among"),
    Row("spec-unknown-measure", (_spec_with(analysis__measures=["capacity"]),), _load_spec(),
        ValueError, r"analysis\.measures: unknown measure 'capacity'"),
    Row("spec-batch-size-float", (_spec_with(training__batch_size=3.5),), _load_spec(),
        ValueError, r"training\.batch_size must be an integer; got 3\.5"),
    Row("spec-rank-too-large", (_spec_with(network__rank=64),), _load_spec(),
        ValueError, r"rank must be an integer in 1\.\.n_units=32"),
    Row("spec-task-kwarg-misspelled", (_spec_with(task__kwargs__dtt=20),), _load_spec(),
        ValueError, r"unknown key\(s\) \['dtt'\] in \[task\.kwargs\].*did you mean 'dt'"),
    Row("spec-unknown-task", (_spec_with(task__name="ContextDM-v0"),), _load_spec(),
        ValueError, r"unknown task 'ContextDM-v0'; available tasks"),
    Row("spec-not-toml", (_text("spec.toml", "[training\nlr = 1\n"),), _load_spec(),
        ValueError, r"not valid TOML"),
    Row("spec-missing", (), _load_spec(), FileNotFoundError, r"spec .* does not exist; check the path"),
    Row("spec-condition-value-outside-task", (_spec_with(analysis__conditions__context=[0, 5]),),
        _load_spec(), ValueError,
        r"analysis\.conditions\.context: value\(s\) \[5\] are not context values.*\[0, 1\]"),
    Row("spec-condition-value-string", (_spec_with(analysis__conditions__coh_1=["high"]),),
        _load_spec(), ValueError, r"analysis\.conditions: task .* cannot build trials with"),
    Row("spec-sweep-value-string", (_spec_with(sweep__lr=[0.01, "0.1"]),), _load_spec(),
        ValueError, r"training\.lr must be a number; got '0\.1' \(a string\)"),
    Row("spec-geometry-seed-negative", (_spec_with(analysis__geometry_seed=-3),), _load_spec(),
        ValueError, r"analysis\.geometry_seed must be a non-negative integer; got -3"),
    Row("spec-run-unknown-key", ("recordings", _run_spec("n_bootstrap = 3\n")),
        cli("run", "{d}/run.toml", "-o", "{d}/report", *_RUN_ARGS), "exit",
        r"\[analysis\]: unknown key\(s\) \['n_bootstrap'\] \(did you mean 'n_boot'\?\)",
        "report"),
    Row("spec-run-one-stage", ("recordings", _run_spec(stages='late = "late.nwb"')),
        cli("run", "{d}/run.toml", "-o", "{d}/report", *_RUN_ARGS), "exit",
        r"\[recordings\.monkey\]: a trajectory needs at least 2 stages; got 1", "report"),
    Row("spec-run-missing-recording",
        ("recordings", _run_spec(stages='early = "absent.nwb", late = "late.nwb"')),
        cli("run", "{d}/run.toml", "-o", "{d}/report", *_RUN_ARGS), "exit",
        r"\[recordings\.monkey\] stage 'early': file '.*absent\.nwb' does not exist", "report"),
    Row("spec-run-unknown-label", ("recordings", _text("run.toml", _RUN_SPEC.format(
            stages=_TWO_STAGES).replace('by = "choice"', 'by = "choise"'))),
        cli("run", "{d}/run.toml", "-o", "{d}/report", *_RUN_ARGS), "exit",
        r"\[analysis\] by/within: unknown label\(s\) \['choise'\] in recording 'monkey'",
        "report"),
    Row("spec-run-confidence", ("recordings", _run_spec("confidence = 1.5\n")),
        cli("run", "{d}/run.toml", "-o", "{d}/report", *_RUN_ARGS), "exit",
        r"\[analysis\] confidence must be a number in \(0, 1\), e\.g\. 0\.95; got 1\.5", "report"),
    # -- stores (netCDF / zarr results) ------------------------------------------------------
    Row("store-not-netcdf", (_text("pop.nc", "not a store\n"),), _load("pop.nc"),
        ValueError, r"not a readable netcdf"),
    Row("store-zarr-not-a-store", (_mkdir("pop.zarr", "a.txt"),), _load("pop.zarr"),
        ValueError, r"not a readable zarr store"),
    Row("store-missing", (), _load("absent.nc"), FileNotFoundError, r"no stored result"),
    Row("store-truncated-netcdf", ("pop", _damage("pop.nc", keep=600)), _load("pop.nc"),
        ValueError, r"not a readable netcdf|truncated|corrupt"),
    Row("store-unknown-suffix", (), _save_pop("pop.pkl"), ValueError, r"name it \*\.nc",
        "pop.pkl"),
    Row("store-parent-is-a-file", (_text("notes", "x"),), _save_pop("notes/pop.nc"),
        NotADirectoryError, r"is a file, not a folder"),
    # -- command lines -----------------------------------------------------------------------
    Row("cli-capacity-output-is-input", ("pop",),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "-o", "{d}/pop.nc"),
        "exit", r"-o '.*pop\.nc' is the input .*would replace the input"),
    Row("cli-capacity-output-is-input-zarr", ("zarr",),
        cli("capacity", "{d}/pop.zarr", "--by", "choice", "-o", "{d}/./pop.zarr"),
        "exit", r"is the input .*would replace the input"),
    Row("cli-capacity-output-is-folder", ("pop", _mkdir("out")),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "-o", "{d}/out"),
        "exit", r"-o '.*out' is a folder; give a file path such as '.*result\.nc'"),
    Row("cli-capacity-output-is-a-foreign-folder", ("pop", _mkdir("out.zarr", "mine.txt")),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "-o", "{d}/out.zarr"),
        "exit", r"is a folder that is not a zarr store"),
    Row("cli-capacity-output-under-a-file", ("pop", _text("notes", "x")),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "-o", "{d}/notes/cap.nc"),
        "exit", r"'.*notes' is a file, not a folder", "notes/cap.nc"),
    Row("cli-capacity-output-in-read-only-folder", ("pop", _read_only),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "-o", "{ro}/cap.nc"),
        "exit", r"-o '.*/cap\.nc': cannot write in", "ro/cap.nc"),
    Row("cli-train-output-in-read-only-folder", ("spec", _read_only),
        cli("train", "{d}/spec.toml", "-o", "{ro}/run", *_RUN_ARGS),
        "exit", r"-o '.*/run': cannot write in", "ro/run"),
    Row("cli-capacity-by-equals-within", ("pop",),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "--within", "choice", "-o", "{d}/c.nc"),
        "exit", r"--within names the same label as --by \('choice'\)", "c.nc"),
    Row("cli-capacity-split-is-by", ("pop",),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "--split", "choice", "-o", "{d}/c.nc"),
        "exit", r"--split names a label of the manifolds \('choice'\)", "c.nc"),
    Row("cli-capacity-unknown-method", ("pop",),
        cli("capacity", "{d}/pop.nc", "--by", "choice", "--method", "capcity", "-o", "{d}/c.nc"),
        "exit", r"--method must be one of .*glue.*got 'capcity'", "c.nc"),
    Row("cli-capacity-unknown-label", ("pop",),
        cli("capacity", "{d}/pop.nc", "--by", "choise", "-o", "{d}/c.nc"),
        "exit", r"unknown trial label 'choise'", "c.nc"),
    Row("cli-capacity-on-a-result", ("result",),
        cli("capacity", "{d}/result.nc", "--by", "choice", "-o", "{d}/c.nc"),
        "exit", r"does not hold a population tensor", "c.nc"),
    Row("cli-capacity-on-an-nwb", ("nwb",),
        cli("capacity", "{d}/rec.nwb", "--by", "choice", "-o", "{d}/c.nc"),
        "exit", r"rec\.nwb' is an NWB recording, not a stored population tensor", "c.nc"),
    Row("cli-train-max-steps-negative", ("spec",),
        cli("train", "{d}/spec.toml", "-o", "{d}/run", "--max-steps", "-5", *_RUN_ARGS),
        "exit", r"Invalid value for '--max-steps'", "run"),
    Row("cli-train-error-keeps-brackets", (_spec_with(training__n_step=3),),
        cli("train", "{d}/spec.toml", "-o", "{d}/run", *_RUN_ARGS),
        "exit", r"unknown key\(s\) \['n_step'\] in \[training\]", "run"),
    Row("cli-train-type-error", (_spec_with(training__lr="0.003"),),
        cli("train", "{d}/spec.toml", "-o", "{d}/run", *_RUN_ARGS),
        "exit", r"training\.lr must be a number; got '0\.003'", "run"),
    Row("cli-train-period-misspelled", (_spec_with(analysis__period="decison"),),
        cli("train", "{d}/spec.toml", "-o", "{d}/run", *_RUN_ARGS),
        "exit", r"no period 'decison' \(did you mean 'decision'\?\)", "run"),
    Row("cli-train-cuda-on-cpu", (_spec_with(training__device="cuda:7"),),
        cli("train", "{d}/spec.toml", "-o", "{d}/run", *_RUN_ARGS),
        "exit", _CUDA, "run"),
    Row("cli-train-output-is-a-file", ("spec", _text("run", "x")),
        cli("train", "{d}/spec.toml", "-o", "{d}/run", *_RUN_ARGS),
        "exit", r"-o '.*run' is a file, but a folder is written there"),
    Row("cli-train-output-is-the-spec", ("spec",),
        cli("train", "{d}/spec.toml", "-o", "{d}/spec.toml", *_RUN_ARGS),
        "exit", r"is the input"),
    Row("cli-simulate-damaged-checkpoint",
        ("run", _damage("run/checkpoints/step_0000004.safetensors", keep=64)),
        cli("simulate", "{d}/run", "-o", "{d}/sim.nc"),
        "exit", r"checkpoint .*step_0000004\.safetensors is truncated or damaged", "sim.nc"),
    Row("cli-simulate-zeroed-checkpoint",
        ("run", _damage("run/checkpoints/step_0000000.safetensors", fill=b"\0")),
        cli("simulate", "{d}/run", "-o", "{d}/sim.nc"),
        "exit", r"checkpoint .*step_0000000\.safetensors is truncated or damaged", "sim.nc"),
    Row("cli-simulate-period-misspelled", ("run",),
        cli("simulate", "{d}/run", "--period", "decison", "-o", "{d}/sim.nc"),
        "exit", r"has no period 'decison'; periods: .*'decision'", "sim.nc"),
    Row("cli-simulate-not-a-run", (_mkdir("empty"),),
        cli("simulate", "{d}/empty", "-o", "{d}/sim.nc"),
        "exit", r"no spec\.json in .*empty", "sim.nc"),
    Row("cli-simulate-output-is-folder", ("run", _mkdir("out")),
        cli("simulate", "{d}/run", "-o", "{d}/out"),
        "exit", r"-o '.*out' is a folder; give a file path"),
    Row("cli-run-missing-spec", (), cli("run", "{d}/absent.toml", "-o", "{d}/report", *_RUN_ARGS),
        "exit", r"run spec '.*absent\.toml' does not exist", "report"),
]  # fmt: skip


# ---- NWB inputs damaged or mis-typed in place (reading: windows, spike times, file kinds) ------


def _h5_set(dataset: str, values: str) -> Callable[[Path], None]:
    """rec.nwb with ``dataset`` overwritten: ``"nan"`` (all NaN) or ``"denormal"`` (integers
    stored as float64 bits)."""

    def write(folder: Path) -> None:
        import h5py

        with h5py.File(folder / "rec.nwb", "a") as f:
            n = f[dataset].shape[0]
            f[dataset][...] = (
                np.full(n, np.nan) if values == "nan" else np.arange(1, n + 1).view(np.float64)
            )

    return write


def _trials_header_damaged(folder: Path) -> None:
    """rec.nwb whose trials group's object header has a bad version byte."""
    import h5py

    with h5py.File(folder / "rec.nwb", "r") as f:
        at = h5py.h5o.get_info(f["intervals/trials"].id).addr
    data = bytearray((folder / "rec.nwb").read_bytes())
    data[at] = 0x07
    (folder / "rec.nwb").write_bytes(bytes(data))


def _attr_type_crashing(folder: Path) -> None:
    """rec.nwb with one attribute's string type made undefined: h5py segfaults reading it."""
    data = bytearray((folder / "rec.nwb").read_bytes())
    mark = b"description\x00\x00\x00\x00\x00\x19\x01"
    data[data.find(mark) + len(mark) - 1] = 0x05
    (folder / "rec.nwb").write_bytes(bytes(data))


def _plain_hdf5(folder: Path) -> None:
    import h5py

    with h5py.File(folder / "arrays.h5", "w") as f:
        f["rates"] = np.zeros((4, 3))


def _nwb_named_nc(folder: Path) -> None:
    shutil.copyfile(sample_nwb("late"), folder / "rec.nc")


_LOAD = ("load", "{d}/rec.nwb", "--align", "stimulus_on_time")
CATALOGUE += [
    Row("nwb-window-in-milliseconds", ("nwb",),
        _read_nwb(window_s=(-500.0, 1000.0), bin_size_s=50.0),
        ValueError, r"1500 s long, longer than the whole session.*window_s=\(-0\.5, 1\)"),
    Row("nwb-spike-times-all-nan", ("nwb", _h5_set("units/spike_times", "nan")), _read_nwb(),
        ValueError, r"spike times of units .* are all NaN"),
    Row("nwb-spike-times-denormal", ("nwb", _h5_set("units/spike_times", "denormal")),
        _read_nwb(), ValueError, r"are denormal numbers .*wrong type"),
    Row("nwb-tensor-too-large", ("nwb",), _read_nwb(bin_size_s=1e-9),
        ValueError, r"more than the limit of 8 GiB \(max_bytes\)"),
    Row("nwb-trials-table-damaged", ("nwb", _trials_header_damaged), _read_nwb(),
        ValueError, r"has a trials table \(intervals/trials\) but it is damaged"),
    Row("cli-load-bin-tiny", ("nwb",),
        cli(*_LOAD, "--window", "0", "1", "--bin", "1e-9", "-o", "{d}/out.nc"),
        "exit", r"x 999,999,999 bins .*more than the limit .*NEUROGEOM_MAX_TENSOR_BYTES", "out.nc"),
    Row("cli-load-window-one-number", ("nwb",),
        cli(*_LOAD, "--window", "1.0", "--bin", "0.1", "-o", "{d}/out.nc"),
        "exit", r"--window needs two numbers, START STOP", "out.nc"),
    Row("cli-info-crashes-hdf5", ("nwb", _attr_type_crashing), cli("info", "{d}/rec.nwb"),
        "exit", r"is damaged: reading its HDF5 structure crashed the HDF5 library"),
    Row("cli-info-plain-hdf5", (_plain_hdf5,), cli("info", "{d}/arrays.h5"),
        "exit", r"is an HDF5 file but not an NWB file .*\['rates'\]"),
    Row("cli-info-netcdf", ("pop",), cli("info", "{d}/pop.nc"),
        "exit", r"is a netCDF file .*neurogeom\.load"),
    Row("cli-capacity-nwb-named-nc", (_nwb_named_nc,),
        cli("capacity", "{d}/rec.nc", "--by", "choice", "-o", "{d}/c.nc"),
        "exit", r"rec\.nc' is an NWB recording, not a stored population tensor.*neurogeom load",
        "c.nc"),
]  # fmt: skip


# ---- the checks --------------------------------------------------------------------------------


def _checksums(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _folders(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_dir())


def test_the_catalogue_is_large_and_its_ids_unique():
    ids = [r.id for r in CATALOGUE]
    assert len(ids) >= 40 and len(set(ids)) == len(ids)
    areas = {i.split("-")[0] for i in ids}
    assert {"nwb", "array", "engine", "spec", "store", "cli"} <= areas


@pytest.mark.parametrize("row", CATALOGUE, ids=[r.id for r in CATALOGUE])
def test_bad_input(row: Row, tmp_path: Path) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    for item in row.prepare:
        (INPUTS[item] if isinstance(item, str) else item)(folder)
    before, dirs_before = _checksums(folder), _folders(folder)

    if row.error == "exit":
        result = row.act(folder)
        output = " ".join(result.output.split())  # rich wraps long lines
        assert result.exit_code not in (0, None), output
        assert "Traceback" not in result.output, output
        assert result.exception is None or isinstance(result.exception, SystemExit), output
        assert re.search(row.match, output), output
    else:
        with pytest.raises(row.error) as info:
            row.act(folder)
        message = str(info.value.args[0]) if info.value.args else str(info.value)
        assert re.search(row.match, message), message
        assert "\n" not in message.strip(), message  # one line

    if row.out is not None:
        assert not (folder / row.out).exists(), f"{row.out} was written"
    assert _checksums(folder) == before, "an input changed or an output appeared"
    assert _folders(folder) == dirs_before, "a folder appeared or vanished"
