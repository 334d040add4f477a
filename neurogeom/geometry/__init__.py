"""The geometry engine: manifold capacity, effective geometry and similarity measures.

Every function takes plain arrays (``points`` of shape (n_points, n_features) and one integer
``labels`` entry per point) and returns an :class:`xarray.Dataset`. The engine knows nothing of
population tensors: they reach it through the ``.ng`` accessor (``pop.ng.glue(by="choice")``), and
measures along stages, split values and time windows come from :func:`neurogeom.learning.measure_geometry`
(``pop.ng.geometry(...)``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from neurogeom._lazy import lazy_exports
from neurogeom.geometry import _kernel_cache
from neurogeom.geometry.registry import get_measure

# compiled kernels cached against an older version of a module they call are compiled anew
_kernel_cache.sync(Path(__file__).parent)

# public name -> submodule that defines it (imported on first use, so ``import neurogeom`` stays light)
_EXPORTS: dict[str, str] = {
    "glue": "capacity",
    "glue_batch": "capacity",
    "capacity_contour": "effective",
    "simulated_capacity": "capacity",
    "mftma": "_mftma",
    "measures": "registry",
    "measure_names": "registry",
    "get_measure": "registry",
    "register": "registry",
    "register_measure": "registry",
    "unregister": "registry",
    "registered": "registry",
    "Measure": "registry",
    "Output": "registry",
    "cka_similarity": "similarity",
    "debiased_cka_similarity": "similarity",
    "rsa_similarity": "similarity",
    "rdm": "similarity",
    "compare_rdms": "similarity",
    "ProcrustesDistance": "similarity",
    "procrustes_distance": "similarity",
    "angular_shape_distance": "similarity",
    "decoding_accuracy": "similarity",
    "participation_ratio": "similarity",
    "coding_scheme": "coding",
    "tuning_matrix": "coding",
    "boundary_magnification": "riemann",
    "pullback_metric": "riemann",
    "jacobian": "riemann",
    "one_layer_metric": "riemann",
    "metric_on_grid": "riemann",
    "metric_along_paths": "riemann",
}

__all__ = sorted(_EXPORTS)

_exported, __dir__ = lazy_exports(__name__, _EXPORTS)


def __getattr__(name: str) -> object:
    """A public name, or any registered measure by its name (``neurogeom.geometry.<measure>``)."""

    if name in _EXPORTS or name.startswith("_") or importlib.util.find_spec(f"{__name__}.{name}"):
        return _exported(name)  # a submodule is imported by the import system, not here

    try:
        return get_measure(name).resolve()
    except ValueError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
