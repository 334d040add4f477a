"""A run folder's outputs: the options every run takes, results reused by key, the report's
phases, and the timings file.

Every spec kind runs through :func:`neurogeom.workflows.pipeline.run_pipeline` with the same
``RunOptions``; the writers here are shared by all of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from neurogeom._files import output_lock, to_json, write_atomic
from neurogeom.specs.run import named_setting
from neurogeom.workflows.folders import Results, result_key

__all__ = ["read_timings"]

#: ``progress(phase, done, total)``: the one progress callback of a run.
Progress = Callable[[str, int, int], None]


def _no_progress(phase: str, done: int, total: int) -> None:
    """A progress callback that shows nothing."""


@dataclass(frozen=True)
class RunOptions:
    """How a spec runs; the numbers depend on none of them except ``setting``.

    Attributes
    ----------
    setting : str or None
        A named setting of a spec with settings (``"full"``, the spec as written, or ``"fast"``);
        ``None`` is ``"full"``. An error for a run spec.
    n_jobs : int or None
        Workers; ``None`` is the spec's own (``[run] n_jobs``) or 1.
    force : bool
        Recompute results the output folder already holds.
    progress : callable or None
        ``progress(phase, done, total)``.
    """

    setting: str | None = None
    n_jobs: int | None = None
    force: bool = False
    progress: Progress | None = None

    @property
    def tell(self) -> Progress:
        """The progress callback, one that shows nothing when none was given."""
        return self.progress or _no_progress


def check_out(out: Path) -> None:
    """An output folder must not be a file."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"output {str(out)!r} is a file; give a folder, e.g. -o out/run.")


def run_setting_spec(
    spec_path: str | Path,
    out: str | Path,
    *,
    settings: Mapping[str, Mapping[str, Any]],
    result: str,
    load_spec: Callable[..., dict[str, Any]],
    sweep: Callable[..., xr.Dataset],
    report: Callable[..., Any],
    options: RunOptions,
) -> Path:
    """Run a spec with named settings (lazy-rich, pullback): sweep, figures, report, timings.

    ``OUT/results/<result>.nc`` is reused on a rerun only when its key (the setting, the checked
    spec and the spec file) matches (unless ``force``); the run holds the folder's write lock;
    ``report(ds, figures=..., setting=..., spec=..., title=...)`` returns the unsaved report.
    ``load_spec(spec_path, overrides)`` checks the spec first, so a bad spec or setting fails
    before anything is written. Returns the report's path.
    """
    name, overrides = named_setting(settings, options.setting)
    cfg = load_spec(spec_path, overrides)
    out = Path(out)
    check_out(out)
    with output_lock(out, folder=True):
        return _run_setting_locked(
            spec_path, out, name, overrides, cfg, result, sweep, report, options
        )


def _run_setting_locked(
    spec_path: str | Path,
    out: Path,
    name: str,
    overrides: Any,
    cfg: Mapping[str, Any],
    result: str,
    sweep: Callable[..., xr.Dataset],
    report: Callable[..., Any],
    options: RunOptions,
) -> Path:
    tell = options.tell
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    (out / "report.html").unlink(missing_ok=True)  # rebuilt below from the result it shows
    res = Results(out / "results", options.force)
    spec_part = {"setting": name, "spec": {k: v for k, v in cfg.items() if k != "source"}}
    key = result_key(spec_part, [Path(spec_path)])

    def compute() -> xr.Dataset:
        ds = sweep(spec_path, overrides=overrides, n_jobs=options.n_jobs or 1, progress=tell)
        ds.attrs.update(setting=name, spec_path=str(spec_path))
        return ds

    ds = res.get(result, key, compute)
    tell("train", 1, 1)
    seconds["train"] = time.perf_counter() - t0
    saved = save_report(
        out,
        lambda figures: report(
            ds, figures=figures, setting=name, spec=str(spec_path), title=str(cfg["run"]["title"])
        ),
        tell,
        seconds,
    )
    write_timings(out, seconds, res.reused, [], recomputed=res.recomputed)
    return saved


def save_report(
    out: Path,
    make: Callable[[Path], Any],
    tell: Callable[[str, int, int], None],
    seconds: dict[str, float],
) -> Path:
    """Figures into ``OUT/figures`` and ``OUT/report.html``, timing the phases "plots" and "report".

    ``make(figures)`` builds the (unsaved) report, writing its figures into ``figures``; the
    seconds of each phase go into ``seconds``. Returns the report's path.
    """
    t0 = time.perf_counter()
    tell("plots", 0, 1)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    rep = make(out / "figures")
    tell("plots", 1, 1)
    seconds["plots"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tell("report", 0, 1)
    saved = rep.save(out / "report.html")
    tell("report", 1, 1)
    seconds["report"] = time.perf_counter() - t0
    return saved


def write_timings(
    out: Path,
    seconds: Mapping[str, float],
    reused: list[str],
    notes: list[str],
    *,
    recomputed: Sequence[str] = (),
) -> None:
    """``OUT/results/timings.json``: seconds and share of each phase, results reused, results
    recomputed (one was there, from another spec or other inputs), notes."""
    total = sum(seconds.values())
    body = {
        "seconds": dict(seconds),
        "total_s": total,
        "share": {k: (v / total if total else 0.0) for k, v in seconds.items()},
        "reused": list(reused),
        "recomputed": list(recomputed),
        "notes": notes,
    }
    write_atomic(out / "results" / "timings.json", to_json(body, indent=1) + "\n")


def read_timings(out: str | Path) -> dict[str, Any]:
    """The phase timings a run wrote (``OUT/results/timings.json``).

    Parameters
    ----------
    out : str or path
        The run's output folder (``OUT``).

    Returns
    -------
    dict
        ``seconds`` (per phase), ``total_s``, ``share`` (of the total, per phase), ``reused``
        and ``recomputed`` (result names) and ``notes``.

    Raises
    ------
    FileNotFoundError
        If the folder holds no ``results/timings.json``.

    See Also
    --------
    neurogeom.workflows.run_pipeline : records them.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     (Path(folder) / "results").mkdir()
    ...     write_timings(Path(folder), {"load": 1.0, "geometry": 3.0}, [], [])
    ...     timings = read_timings(folder)
    >>> timings["total_s"], timings["share"]
    (4.0, {'load': 0.25, 'geometry': 0.75})
    """
    return json.loads((Path(out) / "results" / "timings.json").read_text())
