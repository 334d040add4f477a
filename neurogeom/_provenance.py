"""Provenance of every result: one helper writes the attrs of every estimator's Dataset.

Every measure records the estimator that made it, the package version, and each parameter that
decides its number (dichotomy ensemble, ``n_t``, ``kappa``, ``seed``, points per manifold,
centring, ...), as netCDF-safe values: str, int, float, or lists of them (booleans as 0/1).
:func:`child_seed` derives the independent seed of one index (stage, split value, resample) from the
one seed a user gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from neurogeom._version import __version__

__all__ = ["child_seed", "provenance", "attr_value"]


def attr_value(value: Any) -> Any:
    """``value`` as a netCDF-safe attribute: str, int, float, or a list of them.

    Booleans become 0/1, numpy scalars Python numbers, arrays and tuples lists, None the string
    ``"none"``; mappings are not allowed (flatten them into separate keys).
    """
    if isinstance(value, bool | np.bool_):
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if value is None:
        return "none"
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, np.ndarray | Sequence):
        return [attr_value(v) for v in np.asarray(value, dtype=object).ravel().tolist()]
    if isinstance(value, Mapping):
        raise TypeError("attrs cannot hold mappings; give each entry its own key.")
    return str(value)


def provenance(estimator: str, **params: Any) -> dict[str, Any]:
    """The attrs of a result: ``estimator``, ``neurogeom_version`` and every parameter given.

    Parameters
    ----------
    estimator : str
        The registry name of the function that made the result (``"glue"``, ``"mftma"``, ...).
    **params
        Parameters and preprocessing facts that decide the number (``n_t=200``, ``kappa=0.0``,
        ``seed=0``, ``dichotomies="nontrivial"``, ...), converted by :func:`attr_value`.

    Returns
    -------
    dict
        netCDF-safe attrs, ``estimator`` and ``neurogeom_version`` first.

    Examples
    --------
    >>> provenance("glue", n_t=200, center=True)["center"]
    1
    """
    out: dict[str, Any] = {"estimator": str(estimator), "neurogeom_version": __version__}
    out.update({k: attr_value(v) for k, v in params.items()})
    return out


def child_seed(seed: int, *index: int) -> int:
    """Independent seed for one index (stage, split value, resample) spawned from ``seed``.

    Uses :class:`numpy.random.SeedSequence` entropy mixing, so the streams of different indices
    are independent, and the same ``(seed, index)`` always gives the same child.

    Examples
    --------
    >>> child_seed(0, 1) == child_seed(0, 1) != child_seed(0, 2)
    True
    """
    words = [int(seed), *(int(i) for i in index)]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint32)[0])
