"""neurogeom: how the geometry of a neural population's task representation changes with learning.

Loaders turn NWB recordings, arrays and simulations of task-trained RNNs into labelled
:class:`xarray.DataArray` population tensors (see :mod:`neurogeom.population`); the geometry engine
(:mod:`neurogeom.geometry`) measures manifold capacity and related geometry on them, and
:mod:`neurogeom.learning` composes the two (``neurogeom.learning.measure_geometry``). Importing neurogeom
registers the ``.ng`` accessor (:mod:`neurogeom.accessor`) on every DataArray.

Heavy dependencies (pynwb, torch, neurogym) are imported only when the function that needs them runs.
"""

from __future__ import annotations

import importlib
from typing import Any

from neurogeom._version import __version__ as __version__

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "make_population": "neurogeom.population",
    "validate": "neurogeom.population",
    "pool": "neurogeom.population",
    "Manifolds": "neurogeom.population",
    "read_nwb": "neurogeom.io.nwb",
    "write_nwb": "neurogeom.io.nwb",
    "from_array": "neurogeom.io.arrays",
    "from_unit_trials": "neurogeom.io.arrays",
    "read_mat": "neurogeom.io.arrays",
    "read_golub": "neurogeom.io.arrays",
    "nwb_info": "neurogeom.io.nwb",
    "save": "neurogeom.io.store",
    "load": "neurogeom.io.store",
    "study": "neurogeom.studies",
    "save_study": "neurogeom.studies",
    "load_study": "neurogeom.studies",
    "synthetic_study": "neurogeom.synthetic",
}

_SUBPACKAGES = frozenset(
    {
        "accessor",
        "geometry",
        "io",
        "learning",
        "models",
        "tasks",
        "population",
        "data",
        "parallel",
        "studies",
        "synthetic",
    }
)

__all__ = sorted([*_EXPORTS, "geometry", "learning", "__version__"])


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _SUBPACKAGES:
        return importlib.import_module(f"neurogeom.{name}")
    raise AttributeError(f"module 'neurogeom' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


# Register the ``.ng`` accessor as soon as the package is imported (cheap: xarray and pandas only).
from neurogeom import accessor as _accessor  # noqa: E402,F401
