"""Every TOML spec kind, its schema declared once and checked before anything is computed.

:mod:`~neurogeom.specs.train` (a network, its task, training, checkpoints and analysis, with an
optional grid in ``[sweep]``), :mod:`~neurogeom.specs.run` (what ``neurogeom run`` loads, trains,
compares and reports), :mod:`~neurogeom.specs.lazy_rich` and :mod:`~neurogeom.specs.pullback`.
:func:`~neurogeom.specs.run.spec_kind` tells the kinds apart. This room imports nothing above the
data contract: the checks against a spec's task and files are in
:mod:`neurogeom.workflows.preflight`.
"""

from __future__ import annotations

from neurogeom._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "NetworkConfig": "train",
    "TrainConfig": "train",
    "CheckpointConfig": "train",
    "AnalysisConfig": "train",
    "validate_spec": "train",
    "expand_sweep": "train",
    "RunSpec": "run",
    "Source": "run",
    "spec_kind": "run",
    "named_setting": "run",
    "load_lazy_rich_spec": "lazy_rich",
    "load_pullback_spec": "pullback",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
