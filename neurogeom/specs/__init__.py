"""Every TOML spec kind, its schema declared once and checked before anything is computed.

One sniffer, :func:`~neurogeom.specs.run.spec_kind`, decides a spec's kind from its sections,
and nothing else does:

========== ============================== ===============================================
kind       sections that decide it        schema
========== ============================== ===============================================
lazy_rich  ``[lazy_rich]``                :mod:`~neurogeom.specs.lazy_rich` (one model per
                                          section, ``SECTIONS``)
pullback   ``[pullback]``                 :mod:`~neurogeom.specs.pullback`
                                          (``PullbackSection``)
rank_sweep ``[task]`` and ``[sweep] rank`` :mod:`~neurogeom.specs.train` (as train)
train      ``[task]``                     :mod:`~neurogeom.specs.train`: ``TaskSection``,
                                          the configs ``NetworkConfig``, ``TrainConfig``,
                                          ``CheckpointConfig``, ``AnalysisConfig`` and
                                          ``SweepSection``
run        none of the above              :mod:`~neurogeom.specs.run`: ``RunSection``,
                                          ``AnalysisSection``, ``CompareSection``
========== ============================== ===============================================

Every key is typed, with its default and its constraint stated once, in a pydantic model (or a
dataclass checked by a pydantic ``TypeAdapter``); the constraints are those of
``neurogeom._params``, shared with the functions the values feed. Errors are one line naming
the file, the section and the key (and the nearest valid key for an unknown one). This room
imports nothing above the data contract: the checks against a spec's task and files are in
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
