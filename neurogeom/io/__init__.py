"""Readers and writers: NWB, arrays (numpy / MATLAB), and the results store.

Names are imported on first use, so ``import neurogeom`` stays light (pynwb loads only when an NWB
file is read or written).
"""

from __future__ import annotations

from neurogeom._lazy import lazy_exports

# public name -> submodule that defines it (imported on first use)
_EXPORTS: dict[str, str] = {
    "read_nwb": "nwb",
    "write_nwb": "nwb",
    "nwb_info": "nwb",
    "from_array": "arrays",
    "from_unit_trials": "arrays",
    "read_mat": "arrays",
    "read_golub": "arrays",
    "save": "store",
    "load": "store",
    "read_provenance": "store",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
