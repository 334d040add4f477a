"""Geometry while a network trains: an observer of the training run's checkpoints.

With ``[analysis] live = true`` in a spec, ``neurogeom train`` passes :func:`live_observer` to
:func:`neurogeom.models.train.train`, which calls it on its recording worker thread after each
checkpoint is written. The observer computes that checkpoint's geometry on the spec's analysis
bank (``neurogeom.workflows.runs.checkpoint_geometry``, the same function
:func:`~neurogeom.workflows.runs.run_geometry` uses afterwards, with the same seeds) and writes it,
atomically, beside the checkpoints::

    run_dir/geometry/step_0000000.nc, step_0000001.nc, ...

so a trajectory exists when training ends. A resumed run passes the checkpoints already in the
folder to the observer first, and the observer computes only the steps without a file: an
interruption leaves no partial file and the resumed run fills in the rest.
:func:`read_live_geometry` puts the files together over ``stage``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from neurogeom.geometry.registry import get_measure
from neurogeom.io.store import load, save
from neurogeom.workflows.runs import checkpoint_geometry, concat_steps, geometry_settings

__all__ = ["LiveGeometry", "live_observer", "read_live_geometry", "GEOMETRY_DIR"]

#: The folder of a run that holds the live geometry, one file per checkpoint.
GEOMETRY_DIR = "geometry"


def _path(run_dir: Path, step: int) -> Path:
    return run_dir / GEOMETRY_DIR / f"step_{int(step):07d}.nc"


class LiveGeometry:
    """Training observer: the geometry of each checkpoint, written to ``run_dir/geometry/``.

    Parameters
    ----------
    spec : mapping
        The run's spec; its ``[analysis]`` section sets the bank and the geometry options
        (:class:`neurogeom.specs.train.AnalysisConfig`).
    run_dir : path
        The run folder (the one given to ``train``).

    Attributes
    ----------
    computed : list of int
        The steps this observer computed (not those it skipped).

    See Also
    --------
    live_observer : writes it during training.
    read_live_geometry : reads it back.

    Notes
    -----
    Called as ``observer(step, checkpoint_path)``; a step whose file exists is skipped. The
    analysis bank is built on the first call.

    Examples
    --------
    The observer on two checkpoints of a copy of the bundled run, as training would call it:

    >>> import json, shutil, tempfile
    >>> from pathlib import Path
    >>> from neurogeom.data import bundled_run
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     run = shutil.copytree(bundled_run(), Path(folder) / "run")
    ...     observer = LiveGeometry(json.loads((run / "spec.json").read_text()), run)
    ...     observer(0); observer(32); observer(32)  # the second 32 is skipped
    ...     steps = sorted(p.name for p in (run / "geometry").iterdir())
    >>> observer.computed, steps
    ([0, 32], ['step_0000000.nc', 'step_0000032.nc'])
    """

    def __init__(self, spec: Mapping[str, Any], run_dir: str | Path) -> None:
        self.spec, self.run_dir = dict(spec), Path(run_dir)
        self.settings = geometry_settings(self.spec)
        self._check_measures()
        self._bank = None
        self.computed: list[int] = []  # steps computed by this observer (not skipped)

    def _check_measures(self) -> None:

        for name in self.settings["measures"]:
            get_measure(name)  # an unknown name fails before training starts

    def __call__(self, step: int, path: Path | None = None) -> None:
        out = _path(self.run_dir, step)
        if out.is_file():
            return
        from neurogeom.models.simulate import analysis_bank

        if self._bank is None:
            self._bank = analysis_bank(self.spec)
        ds = checkpoint_geometry(self.run_dir, int(step), bank=self._bank, **self.settings)
        save(ds, out, source=str(self.run_dir))
        self.computed.append(int(step))


def live_observer(spec: Mapping[str, Any], run_dir: str | Path) -> LiveGeometry | None:
    """The live-geometry observer of a spec, or None when its ``[analysis]`` has no ``live = true``.

    Parameters
    ----------
    spec : mapping
        The run's spec (its ``[analysis]`` section).
    run_dir : str or path
        The run folder given to ``train``.

    Returns
    -------
    LiveGeometry or None
        The observer to pass to ``train(..., observers=[...])``, or None.

    See Also
    --------
    read_live_geometry : reads what it writes.
    neurogeom.models.train : takes it as an observer.

    Examples
    --------
    >>> obs = live_observer(spec, "runs/cdm")  # doctest: +SKIP
    >>> train(spec, "runs/cdm", observers=[obs] if obs else [])  # doctest: +SKIP
    """
    if not spec.get("analysis", {}).get("live", False):
        return None
    return LiveGeometry(spec, run_dir)


def read_live_geometry(run_dir: str | Path) -> xr.Dataset:
    """The geometry written during training, every checkpoint's, over ``stage``.

    Parameters
    ----------
    run_dir : str or path
        A run folder trained with ``[analysis] live = true`` (its ``geometry/`` folder).

    Returns
    -------
    xarray.Dataset
        As :func:`neurogeom.workflows.runs.run_geometry` returns for the same steps (coords ``step``,
        ``accuracy``, ``seed_used``).

    Raises
    ------
    FileNotFoundError
        When the run has no live geometry (train it with ``[analysis] live = true``).

    See Also
    --------
    live_observer : writes it.
    LiveGeometry : the result.

    Examples
    --------
    >>> import json, shutil, tempfile
    >>> from pathlib import Path
    >>> from neurogeom.data import bundled_run
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     run = shutil.copytree(bundled_run(), Path(folder) / "run")
    ...     observer = LiveGeometry(json.loads((run / "spec.json").read_text()), run)
    ...     observer(0); observer(32)
    ...     ds = read_live_geometry(run)
    >>> ds.step.values.tolist()
    [0, 32]
    """

    folder = Path(run_dir) / GEOMETRY_DIR
    files = sorted(folder.glob("step_*.nc")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(
            f"no live geometry in {folder}; train with [analysis] live = true in the spec, or "
            "compute it afterwards with neurogeom.learning.run_geometry"
        )
    parts = [load(f) for f in files]
    for p in parts:
        for key in ("neurogeom_version", "created_utc", "provenance_source"):
            p.attrs.pop(key, None)
    return concat_steps(parts, int(parts[0].attrs.get("seed", 0)))
