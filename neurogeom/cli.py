"""The ``neurogeom`` command line.

Every command prints a short human-readable summary; errors print one line and exit non-zero.
Heavy modules are imported inside each command so that ``neurogeom --help`` stays fast. Output
paths are checked before anything is computed (``neurogeom._files.check_output``). Help
texts and error messages are printed as plain text, never read as rich markup, so that words in
brackets (``[training]``) stay.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

__all__ = ["app"]


class _Group(TyperGroup):
    """The command group; refuses a single-valued option given twice before the command runs."""

    def invoke(self, ctx: Any) -> Any:
        _refuse_repeated_options(ctx, [*getattr(ctx, "_protected_args", []), *ctx.args])
        return super().invoke(ctx)


app = typer.Typer(
    cls=_Group,
    name="neurogeom",
    help="Geometry of neural population task representations across learning, in brains and models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,  # help texts name spec sections in brackets: no markup
)
console = Console()
err_console = Console(stderr=True)

# Errors that come from the user's input or files: printed as one line, exit code 1.
_USER_ERRORS = (ValueError, TypeError, KeyError, FileNotFoundError, OSError)


def _one_line_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn an input error raised by the library into one clear line on stderr and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except _USER_ERRORS as exc:
            text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)
            message = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            _print_error(message)
            raise typer.Exit(code=1) from None

    return wrapper


def _print_error(message: str) -> None:
    """``error: <message>`` on stderr, the message as plain text (brackets kept)."""
    from rich.text import Text

    line = Text("error: ", style="bold red")
    line.append(message)
    err_console.print(line, highlight=False, soft_wrap=True)


def _print_warning(message: Warning | str, *args: Any, **kwargs: Any) -> None:
    """``warning: <message>`` on stderr as plain text (a ``warnings.showwarning``)."""
    from rich.text import Text

    line = Text("warning: ", style="yellow")
    line.append(str(message))
    err_console.print(line, highlight=False, soft_wrap=True)


def _check_out(
    out: str, *, folder: bool = False, inputs: tuple[str, ...] = (), overwrite: bool | None = None
) -> None:
    """Refuse an output path that cannot be written, before anything is computed.

    ``overwrite`` (the commands that write one file or store: ``--overwrite``): an existing
    output that neurogeom did not write is refused unless it is True.
    """
    from neurogeom._files import check_output

    check_output(out, folder=folder, inputs=inputs, option="-o")
    if overwrite is None or overwrite:
        return
    from neurogeom.io.store import _written_by_neurogeom

    path = Path(out)
    if path.exists() and not _written_by_neurogeom(path):
        raise FileExistsError(
            f"-o {out!r} exists and was not written by neurogeom; give a new path, or pass "
            "--overwrite to replace it"
        )


def _save_locked(obj: Any, out: str) -> Path:
    """Save ``obj`` to ``out`` holding the output's write lock (one writer at a time)."""
    from neurogeom._files import output_lock
    from neurogeom.io.store import save

    with output_lock(out):
        return save(obj, out)


def _suffix_of(out: str) -> None:
    """The output's suffix must name a format neurogeom writes (.nc or .zarr)."""
    if Path(out).suffix.lower() not in (".nc", ".nc4", ".h5", ".netcdf", ".zarr"):
        raise ValueError(
            f"-o {out!r}: name the output *.nc (netCDF) or *.zarr (a zarr store); the suffix "
            "decides the format written"
        )


#: Population dims under other names, and the contract's name for each (DESIGN.md, section 2).
_DIM_NAMES = {
    "neuron": "unit", "neurons": "unit", "cell": "unit", "cells": "unit", "units": "unit",
    "channel": "unit", "channels": "unit", "trials": "trial", "times": "time", "t": "time",
    "bin": "time", "bins": "time", "stages": "stage", "session": "stage", "sessions": "stage",
}  # fmt: skip


def _population(path: str, stage: str | None) -> Any:
    """The population tensor stored at ``path``, with a message that says what is wrong."""
    import warnings

    import xarray as xr

    from neurogeom.io.store import load

    p = Path(path)
    if p.is_dir() and p.suffix.lower() != ".zarr":
        raise IsADirectoryError(
            f"{path!r} is a folder; give a population tensor file (a .nc file or a .zarr store, "
            "e.g. written by `neurogeom load` or `neurogeom simulate`)"
        )
    _probe(path)
    pop = load(path)
    if isinstance(pop, xr.Dataset):  # written by xarray's DataArray.to_netcdf: one variable
        arrays = [v for v in pop.data_vars.values() if v.ndim >= 2]
        if len(arrays) != 1:
            raise ValueError(
                f"{path!r} does not hold a population tensor: it holds a Dataset of "
                f"{len(pop.data_vars)} variables ({', '.join(map(str, list(pop.data_vars)[:5]))}"
                f"{', ...' if len(pop.data_vars) > 5 else ''}); give a tensor written by "
                "`neurogeom load` or `neurogeom simulate` (or neurogeom.save(pop, 'pop.nc'))"
            )
        pop = arrays[0]
    for dim in pop.dims:
        if dim not in ("stage", "trial", "time", "unit"):
            hint = (
                f"rename it to {_DIM_NAMES[str(dim).lower()]!r}"
                if str(dim).lower() in _DIM_NAMES
                else "the dims of a population tensor are stage, trial, time and unit"
            )
            raise ValueError(
                f"{path!r}: {str(dim)!r} is not a population dim; {hint} "
                f"(pop.rename({{{str(dim)!r}: ...}})) and save it again"
            )
    if "trial" not in pop.dims:
        raise ValueError(
            f"{path!r} holds a tensor with dims {tuple(pop.dims)} and no 'trial' dim; the "
            "manifolds are made of trials: give a (trial, time, unit) or (trial, unit) tensor"
        )
    if "quantity" not in pop.attrs:
        warnings.warn(
            f"{path!r} has no attrs['quantity'] (spike_count, rate_hz, dff, rnn_state, ...); "
            "it is read as 'continuous'",
            UserWarning,
            stacklevel=2,
        )
        pop = pop.assign_attrs(quantity="continuous")
    if "stage" in pop.dims and stage is None:
        values = ", ".join(map(str, pop["stage"].values.tolist()[:6]))
        raise ValueError(
            f"{path!r} has a stage dim ({pop.sizes['stage']} stages: {values}); choose one "
            "with --stage VALUE"
        )
    return pop


def _window_seconds(value: tuple[str, str] | None) -> tuple[float, float] | None:
    """``--window START STOP`` as two floats, with a clear message when one number is given
    (the parser then takes the next option's name as the second)."""
    if value is None:
        return None
    try:
        return float(value[0]), float(value[1])
    except ValueError:
        numbers = [v for v in value if not v.startswith("--")]
        got = (
            f"got {value[0]!r} followed by the option {value[1]!r}"
            if value[1].startswith("-") and len(numbers) < 2
            else f"got {' '.join(value)!r}"
        )
        raise typer.BadParameter(
            f"--window needs two numbers, START STOP in seconds (e.g. --window -0.5 1.0); {got}."
        ) from None


def _probe(path: str) -> None:
    """Read an untrusted local HDF5 file's structure in a child process first, so that a file
    that crashes the HDF5 library is reported as one line instead of killing this process."""
    from neurogeom.io._nwb_open import probe_hdf5

    probe_hdf5(path)


@app.callback()
def _main() -> None:
    """neurogeom: manifold capacity and representational geometry across learning."""


def _refuse_repeated_options(ctx: Any, args: list[str]) -> None:
    """An option that keeps one value, given twice, is an error (the parser would keep the last)."""
    from typer.core import TyperOption

    command = ctx.command.get_command(ctx, args[0]) if args else None
    if command is None:
        return
    args = args[1:]
    for param in command.params:
        if not isinstance(param, TyperOption) or param.multiple or param.is_flag:
            continue
        spelled = set(param.opts) | set(param.secondary_opts)
        given = [a for a in args if a in spelled or a.split("=", 1)[0] in spelled and "=" in a]
        if len(given) > 1:
            long = max(param.opts, key=len)
            extra = (
                "; for joint manifolds use --within"
                if long == "--by" and command.name == "capacity"
                else ""
            )
            _print_error(f"give {long} once{extra} (it was given {len(given)} times)")
            raise typer.Exit(code=1)


# ---- commands ----------------------------------------------------------------------------------


def _points_labels_measures() -> list[str]:
    from neurogeom.geometry.registry import measure_names

    return measure_names("points_labels")


def _is_points_labels_measure(name: str) -> bool:
    from neurogeom.geometry.registry import get_measure

    try:
        return get_measure(name).inputs == "points_labels"
    except ValueError:
        return False


def _stage_value(pop: Any, stage: str | None) -> object:
    """``--stage`` as the stage coord's type (the command line gives a string)."""
    if stage is not None and "stage" in pop.dims:
        coord = pop["stage"].values
        if coord.dtype.kind in "iuf":
            try:
                return coord.dtype.type(float(stage))
            except ValueError:
                return stage  # a stage label such as "after"
    return stage


def _result_table(ds: Any, title: str) -> Any:
    """Every 0-d measure of a result Dataset, with its standard error where there is one."""
    import numpy as np
    from rich.table import Table

    table = Table(title=title)
    table.add_column("measure")
    table.add_column("value", justify="right")
    for name, var in ds.data_vars.items():
        if var.ndim or str(name).endswith("_sem") or var.dtype.kind not in "iuf":
            continue
        val = float(var)
        sem = float(ds[f"{name}_sem"]) if f"{name}_sem" in ds else float("nan")
        text = f"{val:.4g}" if np.isfinite(val) else "nan"
        if np.isfinite(sem):
            text += f" ± {sem:.2g}"
        table.add_row(str(name), text)
    return table


@app.command("capacity")
@_one_line_errors
def capacity_cmd(
    path: str = typer.Argument(
        ..., help="a population tensor (.nc / .zarr, from `neurogeom load`)"
    ),
    by: str = typer.Option(..., "--by", help="trial label whose values are the manifolds"),
    within: str | None = typer.Option(
        None, "--within", help="joint manifolds: also by this trial label"
    ),
    split: str | None = typer.Option(
        None, "--split", help="a separate analysis for each value of this trial label"
    ),
    window: tuple[str, str] | None = typer.Option(
        None,
        "--window",
        help="time window in seconds: START STOP",
        metavar="START STOP",
        callback=_window_seconds,
    ),
    stage: str | None = typer.Option(None, "--stage", help="stage to use, if the tensor has one"),
    method: str = typer.Option(
        "glue",
        "--method",
        help="a registered measure of points and labels (glue, simulated_capacity, mftma, "
        "decoding_accuracy, ...: the table of neurogeom.geometry.measures())",
    ),
    n_t: int | None = typer.Option(
        None, "--n-t", help="number of (y, t) samples (measures that take n_t: glue, mftma)"
    ),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    out: str = typer.Option(..., "-o", "--out", help="output .nc file for the result Dataset"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="replace an existing -o file that neurogeom did not write"
    ),
) -> None:
    """Manifold capacity and geometry of the manifolds given by a trial label; save the Dataset."""
    import warnings

    if not _is_points_labels_measure(method):  # finds the measure without importing them all
        choices = _points_labels_measures()
        raise ValueError(f"--method must be one of {', '.join(choices)}; got {method!r}.")
    if within is not None and within == by:
        raise ValueError(
            f"--within names the same label as --by ({by!r}); joint manifolds need another "
            "label: give --within a second trial label, or leave it out"
        )
    if split is not None and split in (by, within):
        raise ValueError(
            f"--split names a label of the manifolds ({split!r}); split by another trial label"
        )
    _check_out(out, inputs=(path,), overwrite=overwrite)
    _suffix_of(out)
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        pop = _population(path, stage)
    options = {} if n_t is None else {"n_t": n_t}
    ds = pop.ng.measure(
        by,
        method,
        within=within,
        split=split,
        window_s=window,
        stage=_stage_value(pop, stage),
        seed=seed,
        **options,
    )
    ds.attrs["source"] = str(path)
    title = f"{method} of {path} by {by}" + (f" within {within}" if within else "")
    for value in ds[split].values.tolist() if split else [None]:
        part = ds if value is None else ds.sel({split: value})
        console.print(_result_table(part, title + ("" if value is None else f", {split}={value}")))
    written = _save_locked(ds, out)
    console.print(f"wrote {written}", highlight=False, soft_wrap=True)


@app.command("study")
@_one_line_errors
def study_cmd(
    folder: str = typer.Argument(..., help="a folder of NWB files, one per session"),
    by: str = typer.Option(..., "--by", help="trial label whose values are the manifolds"),
    within: str | None = typer.Option(
        None, "--within", help="joint manifolds: also by this trial label"
    ),
    align: str = typer.Option(..., "--align", help="trial event at time 0 (every file)"),
    window: tuple[str, str] = typer.Option(
        ...,
        "--window",
        help="seconds around the event read from every file, and averaged into each trial's "
        "point unless --analysis-window is given: START STOP",
        metavar="START STOP",
        callback=_window_seconds,
    ),
    bin_size: float = typer.Option(..., "--bin", help="bin width in seconds"),
    pattern: str | None = typer.Option(
        None,
        "--pattern",
        help="glob of the session files, relative to FOLDER (default the DANDI layout "
        "sub-*/sub-*_ses-*.nwb); names must hold sub-<id>_ses-<id>",
    ),
    analysis_window: tuple[str, str] | None = typer.Option(
        None,
        "--analysis-window",
        help="seconds averaged into each trial's point (default: --window): START STOP",
        metavar="START STOP",
        callback=_window_seconds,
    ),
    axis: str = typer.Option("session", "--axis", help="learning axis: session or fraction"),
    n_t: int = typer.Option(100, "--n-t", help="GLUE samples per session"),
    n_boot: int = typer.Option(20, "--n-boot", help="hierarchical bootstrap replicates"),
    n_perm: int = typer.Option(50, "--n-perm", help="sign flips of the paired test"),
    seed: int = typer.Option(0, "--seed", help="random seed"),
    out: str = typer.Option(..., "-o", "--out", help="output .nc file (one group per result)"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="replace an existing -o file that neurogeom did not write"
    ),
) -> None:
    """A study's trajectory across subjects and the paired first-vs-last session test; save both.

    Every session keeps its own units and trials; GLUE capacity is measured per session at one
    number of points per manifold per subject. Read the output with xarray.open_datatree(OUT):
    groups trajectory and stage_difference.
    """
    import warnings

    from neurogeom._files import output_lock
    from neurogeom.studies import study
    from neurogeom.workflows.study_run import save_study_results, study_results

    if within is not None and within == by:
        raise ValueError(
            f"--within names the same label as --by ({by!r}); joint manifolds need another "
            "label: give --within a second trial label, or leave it out"
        )
    if axis not in ("session", "fraction"):
        raise ValueError(
            f"--axis must be session or fraction (NWB files carry no day or performance); "
            f"got {axis!r}"
        )
    _check_out(out, inputs=(folder,), overwrite=overwrite)
    if Path(out).suffix.lower() != ".nc":
        raise ValueError(f"-o {out!r}: name the output *.nc (one netCDF group per result)")
    tree = study(folder, pattern=pattern, align=align, window_s=window, bin_size_s=bin_size)
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        res = study_results(
            tree,
            by,
            within=within,
            window_s=analysis_window or window,
            axis=axis,
            n_boot=n_boot,
            n_perm=n_perm,
            seed=seed,
            n_t=n_t,
        )
    traj, test = res["trajectory"], res["stage_difference"]
    mean = ", ".join(f"{v:.3g}" for v in traj["capacity_study"].values)
    console.print(
        f"{traj.sizes['subject']} subjects; capacity (mean over subjects) per {axis}: {mean}; "
        f"M per subject: {traj['n_points'].values.tolist()}",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"last minus first session: {float(test['difference']):.3g} "
        f"[{float(test['difference_ci_low']):.3g}, {float(test['difference_ci_high']):.3g}], "
        f"paired sign-flip p = {float(test['p_value']):.3g}",
        highlight=False,
        soft_wrap=True,
    )
    with output_lock(out):
        written = save_study_results(res, out, source=str(folder))
    console.print(f"wrote {written}", highlight=False, soft_wrap=True)


@app.command("info")
@_one_line_errors
def info_cmd(
    path: str = typer.Argument(..., help="an NWB file, or an http(s):// or DANDI asset URL"),
) -> None:
    """Summarise an NWB file: units, trials, trial columns (with examples), events, series."""
    from neurogeom.io.nwb import nwb_info

    _probe(path)
    info = nwb_info(path)
    console.print(f"{info['path']} (NWB {info['nwb_version']})", highlight=False, soft_wrap=True)
    console.print(
        f"units: {info['n_units']}  trials: {info['n_trials']}", highlight=False, soft_wrap=True
    )
    if info["trial_columns"]:
        console.print("trial columns:", highlight=False, soft_wrap=True)
        for name, examples in info["trial_columns"].items():
            shown = ", ".join(f"{v:.6g}" if isinstance(v, float) else repr(v) for v in examples)
            shown = shown or "(all missing)"
            console.print(f"  {name}: {shown}", highlight=False, soft_wrap=True)
    events = ", ".join(f"{k} ({v})" for k, v in info["event_columns"].items()) or "none"
    console.print(f"event columns: {events}", highlight=False, soft_wrap=True)
    series = ", ".join(f"{k} {v}" for k, v in info["series"].items()) or "none"
    console.print(f"continuous series: {series}", highlight=False, soft_wrap=True)


@app.command("load")
@_one_line_errors
def load_cmd(
    path: str = typer.Argument(..., help="an NWB file, or an http(s):// or DANDI asset URL"),
    align: str = typer.Option("start_time", "--align", help="trial event at time 0"),
    window: tuple[str, str] = typer.Option(
        ...,
        "--window",
        help="seconds around the event: START STOP",
        metavar="START STOP",
        callback=_window_seconds,
    ),
    bin_size: float = typer.Option(..., "--bin", help="bin width in seconds"),
    out: str = typer.Option(..., "-o", "--out", help="output file (.nc or .zarr)"),
    series: str = typer.Option(None, "--series", help="continuous series instead of spikes"),
    rate: bool = typer.Option(False, "--rate", help="spike rates (Hz) instead of counts"),
    max_bytes: float = typer.Option(
        None, "--max-bytes", help="largest tensor to build, in bytes (default 8 GiB)"
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="replace an existing -o file that neurogeom did not write"
    ),
) -> None:
    """Bin an NWB file into a (trial, time, unit) tensor aligned to an event; save it."""
    from neurogeom.io.nwb import read_nwb

    _check_out(out, inputs=(path,), overwrite=overwrite)
    _suffix_of(out)
    _probe(path)
    pop = read_nwb(
        path,
        align=align,
        window_s=window,
        bin_size_s=bin_size,
        series=series,
        quantity="rate_hz" if rate else None,
        max_bytes=None if max_bytes is None else int(max_bytes),
    )
    written = _save_locked(pop, out)
    sizes = ", ".join(f"{d}={n}" for d, n in pop.sizes.items())
    console.print(f"{written}: {pop.attrs['quantity']} ({sizes})", highlight=False, soft_wrap=True)


@app.command("train")
@_one_line_errors
def train_cmd(
    spec: str = typer.Argument(..., help="TOML experiment spec, e.g. tasks/context_dm.toml"),
    out: str = typer.Option(
        ..., "-o", "--out", help="run folder (resumed if it holds checkpoints)"
    ),
    max_steps: int = typer.Option(
        None, "--max-steps", min=0, help="stop after this step (resumable); 0 or more"
    ),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="show a progress bar"),
) -> None:
    """Train a task network from a spec, with checkpoints; a grid ([sweep]) spec runs with `neurogeom sweep`."""
    import warnings

    with warnings.catch_warnings():
        warnings.showwarning = _print_warning  # e.g. a damaged state file skipped on resume
        _train(spec, out, max_steps, progress)


def _train(spec: str, out: str, max_steps: int | None, progress: bool) -> None:
    from pathlib import Path

    from neurogeom.models.train import train
    from neurogeom.workflows.preflight import load_spec

    _check_out(out, folder=True, inputs=(spec,))
    loaded = load_spec(spec)
    if loaded.get("sweep"):
        raise ValueError(
            f"{spec} is a grid spec ([sweep]); a grid runs with one command: "
            f"`neurogeom sweep {spec} -o grid.zarr` (train takes a spec without [sweep])"
        )
    one = loaded
    run_dir = Path(out)
    observers = []
    if one.get("analysis", {}).get("live"):
        from neurogeom.workflows.live import live_observer

        observers.append(live_observer(one, run_dir))
    if not progress:
        res = train(one, run_dir, max_steps=max_steps, observers=observers)
    else:
        with _progress_bar() as bar:
            task = bar.add_task("train", total=1)

            def update(phase: str, done: int, total: int, task: Any = task) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            res = train(one, run_dir, max_steps=max_steps, progress=update, observers=observers)
    last = res.metrics.iloc[-1]
    ideal = "" if res.ideal_accuracy is None else f" (ideal observer {res.ideal_accuracy:.3f})"
    state = "done" if res.done else "stopped (resumable)"
    live = f", live geometry in {run_dir / 'geometry'}" if observers else ""
    console.print(
        f"{run_dir}: step {res.step}, held-out accuracy {last['accuracy']:.3f}{ideal}, "
        f"{len(res.checkpoints)} checkpoints{live}, {state}",
        highlight=False,
        soft_wrap=True,
    )


@app.command("simulate")
@_one_line_errors
def simulate_cmd(
    run: str = typer.Argument(..., help="run folder written by `neurogeom train`"),
    out: str = typer.Option(..., "-o", "--out", help="output file (.nc or .zarr)"),
    period: str = typer.Option(
        None, "--period", help="mean state over this task period per trial (no time dim)"
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="replace an existing -o file that neurogeom did not write"
    ),
) -> None:
    """Run every checkpoint of a run on its analysis trial bank; save the (stage, trial, time, unit) tensor."""
    from neurogeom.models.simulate import simulate

    _check_out(out, inputs=(run,), overwrite=overwrite)
    _suffix_of(out)
    pop = simulate(run, period=period)
    path = _save_locked(pop, out)
    sizes = ", ".join(f"{d}={n}" for d, n in pop.sizes.items())
    console.print(f"{path}: rnn_state ({sizes})")


def _progress_bar() -> Any:
    """A rich progress display on stderr with one bar per pipeline phase."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    )


def _run_spec(spec: str, out: str, force: bool, progress: bool, **options: Any) -> None:
    from neurogeom.workflows.outputs import read_timings
    from neurogeom.workflows.pipeline import PHASES, run_pipeline

    _check_out(out, folder=True, inputs=(spec,))
    if not progress:
        path = run_pipeline(spec, out, force=force, **options)
    else:
        with _progress_bar() as bar:
            tasks = {p: bar.add_task(p, total=1, visible=False) for p in PHASES}

            def update(phase: str, done: int, total: int) -> None:
                bar.update(tasks[phase], completed=done, total=max(total, 1), visible=True)

            path = run_pipeline(spec, out, force=force, progress=update, **options)
    timings = read_timings(out)
    console.print(
        f"wrote {path} ({timings['total_s']:.0f} s; results in {Path(out) / 'results'}, "
        f"figures in {Path(out) / 'figures'})",
        highlight=False,
        soft_wrap=True,
    )
    if timings.get("reused"):
        console.print(
            f"reused (spec and inputs unchanged): {', '.join(timings['reused'])}",
            highlight=False,
            soft_wrap=True,
        )
    if timings.get("recomputed"):
        console.print(
            f"recomputed (spec or inputs changed): {', '.join(timings['recomputed'])}",
            highlight=False,
            soft_wrap=True,
        )
    for note in timings["notes"]:
        console.print(f"note: {note}", highlight=False, soft_wrap=True)


@app.command("run")
@_one_line_errors
def run_cmd(
    spec: str = typer.Argument(..., help="TOML run spec, e.g. tasks/demo.toml"),
    out: str = typer.Option(
        ..., "-o", "--out", help="output folder (report.html, results/, figures/)"
    ),
    force: bool = typer.Option(False, "--force", help="recompute results already in OUT/results"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bars on stderr"),
    setting: str = typer.Option(
        None,
        "--setting",
        help="a rank-sweep, lazy-rich or pullback spec's setting: full (as written) or fast",
    ),
    jobs: int = typer.Option(
        None, "--jobs", "-j", help="workers (a sweep's runs at once); the numbers do not change"
    ),
) -> None:
    """Load, train or reuse, simulate, compute, compare and report what a run spec names.

    A training spec with [sweep] rank = [...] (tasks/rank_sweep_paper.toml) runs as a rank sweep:
    runs in OUT/runs/<setting>/, OUT/results/rank_sweep.nc and OUT/report.html. A [lazy_rich]
    spec (tasks/lazy_rich_digits.toml) sweeps the output scale on digits; a [pullback] spec
    (tasks/pullback_sine.toml) trains the pullback-metric reference networks.
    """
    _run_spec(spec, out, force, progress, setting=setting, n_jobs=jobs)


@app.command("demo")
@_one_line_errors
def demo_cmd(
    out: str = typer.Option(
        ..., "-o", "--out", help="output folder (report.html, results/, figures/)"
    ),
    force: bool = typer.Option(False, "--force", help="recompute results already in OUT/results"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bars on stderr"),
) -> None:
    """The main job on the bundled data (tasks/demo.toml): 6 animals vs 3 context-DM networks."""
    import neurogeom

    spec = Path(neurogeom.__file__).resolve().parents[1] / "tasks" / "demo.toml"
    if not spec.is_file():
        raise FileNotFoundError(
            f"the demo spec {str(spec)!r} is missing; run from a repository checkout "
            "(pip install -e .)."
        )
    _run_spec(str(spec), out, force, progress)


@app.command("sweep")
@_one_line_errors
def sweep_cmd(
    target: str = typer.Argument(
        ...,
        help="a sweep spec (a training spec with a sweep section: tasks/sweep_fast.toml); with --status, the store",
    ),
    out: str = typer.Option(None, "-o", "--out", help="the zarr store, e.g. sweep.zarr (resumed)"),
    status: bool = typer.Option(False, "--status", help="print done/total of the store TARGET"),
    local_cluster: int = typer.Option(
        None, "--local-cluster", help="run on a dask LocalCluster of N worker processes"
    ),
    scheduler: str = typer.Option(
        None, "--scheduler", help="run on an existing dask cluster: tcp://HOST:PORT"
    ),
    jobs: int = typer.Option(1, "--jobs", "-j", help="joblib worker processes (no cluster)"),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="discard a store holding another spec's sweep"
    ),
    report: str = typer.Option(None, "--report", help="also write the report into this folder"),
    progress: bool = typer.Option(
        True, "--progress/--no-progress", help="a progress bar on stderr"
    ),
) -> None:
    """Train and analyse every grid point of a sweep spec into one zarr store; resumable.

    A rerun skips the points already complete; `neurogeom sweep --status STORE` tells how far it is.
    """
    from neurogeom.workflows.sweep import open_sweep, run_sweep, sweep_report, sweep_status

    if status:
        st = sweep_status(target)
        console.print(
            f"{target}: {st['done']}/{st['total']} grid points done",
            highlight=False,
            soft_wrap=True,
        )
        return
    if out is None:
        raise ValueError("give the store: -o sweep.zarr (or --status STORE to see how far it is).")
    if local_cluster is not None and scheduler is not None:
        raise ValueError("give --local-cluster N or --scheduler ADDRESS, not both.")
    if local_cluster is not None and local_cluster < 1:
        raise ValueError(
            f"--local-cluster takes a positive number of workers; got {local_cluster}."
        )
    options: dict[str, Any] = {
        "n_jobs": jobs,
        "overwrite": overwrite,
        "n_workers": local_cluster,
        "scheduler": scheduler,
    }
    if not progress:
        counts = run_sweep(target, out, **options)
    else:
        with _progress_bar() as bar:
            task = bar.add_task("sweep", total=1)

            def update(phase: str, done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, 1))

            counts = run_sweep(target, out, progress=update, **options)
    console.print(
        f"{out}: {counts['done']}/{counts['total']} grid points done ({counts['computed']} "
        f"computed, {counts['skipped']} already there)",
        highlight=False,
        soft_wrap=True,
    )
    if report is not None:
        path = sweep_report(open_sweep(out), report, spec=target)
        console.print(f"wrote {path}", highlight=False, soft_wrap=True)


def main() -> None:  # pragma: no cover - console entry point
    app()
