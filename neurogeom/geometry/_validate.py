"""Input checks for the capacity estimators, in one place.

Every message says what was expected, what was given, and how to fix it. Kernels downstream trust
what these functions return.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from numbers import Integral, Real
from typing import Any

import numba
import numpy as np
import pandas as pd

# Largest magnitudes for which unit_scale squares the values as they are: their squares, summed,
# do not overflow, and those that underflow are far below rounding of the sum.
_SAFE_PEAK = (1e-100, 1e100)

__all__ = [
    "backend_name",
    "choice",
    "dichotomy_array",
    "finite_real",
    "float_dtype",
    "label_values",
    "points_and_labels",
    "positive_int",
    "representation",
    "representation_pair",
    "rows_differing",
    "unit_scale",
]


def points_and_labels(
    points: Any, labels: Any, *, caller: str
) -> tuple[np.ndarray, np.ndarray, list[Hashable]]:
    """Check ``points`` (n_points, n_features) and one label per point.

    Returns
    -------
    points : ndarray of shape (n_points, n_features), float64
    codes : ndarray of shape (n_points,), int
        Manifold index 0..P-1 of each point (labels in sorted order when sortable, else in order
        of first appearance).
    names : list
        The original label of each manifold, indexed by code.
    """
    try:
        x = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{caller}() needs numeric points of shape (n_points, n_features); could not convert "
            f"the {type(points).__name__} given ({exc}). Pass a float array."
        ) from None
    if x.ndim != 2:
        raise ValueError(
            f"{caller}() needs points of shape (n_points, n_features); got an array of shape "
            f"{x.shape}. Reshape, e.g. points.reshape(n_points, -1)."
        )
    if x.shape[1] < 1:
        raise ValueError(
            f"{caller}() needs at least 1 feature per point; got points of shape {x.shape}."
        )
    # one pass: a sum is finite unless some value is not (or the sum overflows: then check each)
    bad = np.zeros((0, x.shape[1]), dtype=bool) if _all_finite(x) else ~np.isfinite(x)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValueError(
            f"{caller}() needs finite points; {int(bad.sum())} NaN/inf values in {rows.size} "
            f"points (first rows: {rows[:5].tolist()}). Drop those points or impute them."
        )
    lab = np.asarray(labels, dtype=object) if not isinstance(labels, np.ndarray) else labels
    if lab.ndim != 1:
        raise ValueError(
            f"{caller}() needs one label per point (a 1-D sequence); got labels of shape "
            f"{np.shape(lab)}."
        )
    if lab.shape[0] != x.shape[0]:
        raise ValueError(
            f"{caller}() needs one label per point: got {x.shape[0]} points but {lab.shape[0]} "
            "labels. Pass labels of length n_points."
        )
    try:
        codes, uniques = pd.factorize(pd.Series(lab), sort=True)
    except TypeError:
        codes, uniques = pd.factorize(pd.Series(lab), sort=False)
    if (codes < 0).any():
        raise ValueError(
            f"{caller}() got missing labels (None/NaN) for {int((codes < 0).sum())} points; give "
            "every point a label or drop the unlabelled points."
        )
    names = list(uniques)
    if len(names) < 2:
        raise ValueError(
            f"{caller}() needs at least 2 manifolds (distinct labels); got {len(names)} "
            f"({names[:1]}). Capacity measures how well manifolds can be told apart; pass points "
            "from two or more conditions."
        )
    differs = np.flatnonzero(rows_differing(x))
    if not differs.size and not np.any(x[0]):
        raise ValueError(
            f"{caller}() got points that are all zero; there is no geometry to measure. Check the "
            "input (or turn off centring if every point is the same)."
        )
    if not differs.size:
        raise ValueError(
            f"{caller}() got {x.shape[0]} identical points (every feature is constant); the "
            "manifolds cannot be told apart. Check the input selection."
        )
    if len(differs) == x.shape[0] - 1:  # row 0 is the odd one out
        differs = np.array([0]) if np.all(x[1:] == x[1]) else differs
    if len(differs) == 1:
        raise ValueError(
            f"{caller}() got {x.shape[0]} points of which all but one (row {int(differs[0])}) "
            "are identical; like all-zero points, that is no geometry to measure (its values "
            "are effectively constant). Check the input (a tiny value in otherwise empty data?)."
        )
    same = identical_manifolds(x, codes)
    if same:
        shown = "; ".join(" and ".join(repr(names[c]) for c in group) for group in same[:3])
        warnings.warn(
            f"{caller}(): manifolds {shown} hold identical points (e.g. all zero: silent "
            "conditions or zero-filled missing data); no direction separates them, so the "
            "capacity counts them as distinct and is inflated. Drop or merge those conditions.",
            RuntimeWarning,
            stacklevel=3,
        )
    return x, codes.astype(np.intp), names


def identical_manifolds(x: np.ndarray, codes: np.ndarray) -> list[list[int]]:
    """Groups of manifold codes whose point sets are identical (the same rows, in any order)."""
    n_m = int(codes.max()) + 1
    # identical sets share the sorted values of their first column (exact, no arithmetic):
    # only manifolds whose first columns match are compared in full
    first: dict[bytes, list[int]] = {}
    for c in range(n_m):
        col = np.sort(x[codes == c, 0])
        first.setdefault(col.tobytes(), []).append(c)
    keys: dict[bytes, list[int]] = {}
    for c in (c for group in first.values() if len(group) > 1 for c in group):
        rows = x[codes == c]
        rows = rows[np.lexsort(rows.T[::-1])]
        keys.setdefault(rows.tobytes() + bytes(str(rows.shape), "ascii"), []).append(c)
    return [g for g in keys.values() if len(g) > 1]


def unit_scale(x: np.ndarray, name: str, caller: str) -> tuple[np.ndarray, float]:
    """``x`` divided by a power of two near its RMS row norm, and that power of two.

    Squared quantities (Gram matrices, norms) of data at overall scales beyond about 1e150 or
    below 1e-150 overflow or underflow in float64; measures that are invariant to isotropic
    scaling are computed on the rescaled data instead. The RMS norm is found without squaring
    the raw values (they are first divided by their largest magnitude), and the divisor is a power of
    two, so data at unit scale are rescaled exactly and give the same numbers to the last bit,
    and any scale gives the unit-scale numbers to rounding.

    Parameters
    ----------
    x : ndarray of shape (n_rows, n_features), finite
    name : str
        What ``x`` is called in error messages.
    caller : str

    Returns
    -------
    scaled : ndarray, float64, same shape
    scale : float
        The divisor (``x = scale * scaled``).
    """
    x = np.asarray(x, dtype=np.float64)
    # one compiled pass: the largest magnitude and the sum of squares (a view of a C- or
    # Fortran-ordered array)
    peak, squares, divided = _peak_and_squares(x.ravel(order="K"), *_SAFE_PEAK)
    if not math.isfinite(peak):
        raise ValueError(
            f"{caller}() needs finite {name}; got NaN or inf. Drop or impute those values first."
        )
    if peak == 0.0:
        raise ValueError(
            f"{caller}() got {name} that are all zero; there is no geometry to measure (and no "
            "overall scale to normalise by). Check the input."
        )
    n_rows = max(x.shape[0], 1)
    rms = math.sqrt(squares / n_rows) * (peak if divided else 1.0)
    exponent = math.frexp(rms)[1]
    if -1022 <= -exponent <= 1023:  # a product with a power of two is ldexp's value, faster
        scaled = x * math.ldexp(1.0, -exponent)
    else:
        scaled = np.ldexp(x, -exponent)
    return scaled, float(np.ldexp(1.0, exponent))


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _peak_and_squares(flat, safe_low, safe_high):
    """The largest magnitude of ``flat`` (NaN when a value is not finite), the sum of squares,
    and whether the values were divided by their largest magnitude before squaring (when it
    lies outside ``(safe_low, safe_high)``, where squares would overflow or underflow).

    Only the sum's power of two is used (:func:`unit_scale`), so it is summed in any order
    (vectorised), and the largest magnitude kept in four running maxima: not one chain of
    dependent steps per value. A value that is not finite makes the sum NaN or infinite, and
    only then are the values checked one by one."""
    n = flat.size
    squares = 0.0
    for i in range(n):
        squares += flat[i] * flat[i]
    p0 = p1 = p2 = p3 = 0.0
    for i in range(0, n - 3, 4):
        a0, a1, a2, a3 = abs(flat[i]), abs(flat[i + 1]), abs(flat[i + 2]), abs(flat[i + 3])
        p0 = a0 if a0 > p0 else p0
        p1 = a1 if a1 > p1 else p1
        p2 = a2 if a2 > p2 else p2
        p3 = a3 if a3 > p3 else p3
    for i in range(n - n % 4, n):
        a0 = abs(flat[i])
        p0 = a0 if a0 > p0 else p0
    p0 = p1 if p1 > p0 else p0
    p2 = p3 if p3 > p2 else p2
    peak = p2 if p2 > p0 else p0
    if not squares <= 1.7976931348623157e308:  # a value not finite, or squares overflowing
        for v in flat:
            if not abs(v) <= 1.7976931348623157e308:
                return np.nan, np.nan, False
    if safe_low < peak < safe_high or peak == 0.0:
        return peak, squares, False
    squares = 0.0
    for v in flat:
        t = v / peak
        squares += t * t
    return peak, squares, True


@numba.njit(cache=True, nogil=True, inline="always")
def _differs_from_first(x, i):
    """Whether row ``i`` of ``x`` differs from row 0 in some value, read up to the first."""
    for j in range(x.shape[1]):
        if x[i, j] != x[0, j]:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def rows_differing(x: np.ndarray) -> np.ndarray:
    """Whether each row of ``x`` (n_rows, n_features) differs from the first in some value
    (``np.any(x != x[0], axis=1)``), each row read only up to its first difference (points
    rarely share their first value: on 2,500 x 2,000 points one pass over the first column
    instead of a temporary of every value)."""
    out = np.zeros(x.shape[0], dtype=np.bool_)
    for i in range(1, x.shape[0]):
        out[i] = _differs_from_first(x, i)
    return out


@numba.njit(cache=True, nogil=True)
def _finite_and_spread(x):
    finite = True
    for v in x.ravel():
        finite &= v - v == 0.0
    if not finite:
        return False
    for i in range(1, x.shape[0]):
        if _differs_from_first(x, i):
            return True
    return False


def finite_and_spread(x: np.ndarray) -> bool:
    """Whether every value of ``x`` (n_rows, n_features) is finite and some row differs from
    the first (``np.isfinite(x).all() and rows_differing(x).any()``), in one compiled call
    (reading the rows only up to the first that differs); False for points the checks of
    :func:`points_and_labels` would refuse, which then name the problem."""
    return bool(_finite_and_spread(x))


def _all_finite(x: np.ndarray) -> bool:
    """True when every value of ``x`` is finite, in one pass without a temporary array; False
    also where the sum overflows (the caller then checks each value)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(x)))


def positive_int(value: Any, name: str, caller: str, minimum: int = 1) -> int:
    """An integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{caller}() needs {name} to be an integer >= {minimum}; got {value!r}.")
    return int(value)


def finite_real(value: Any, name: str, caller: str, minimum: float | None = None) -> float:
    """A finite real number (>= ``minimum`` when given)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ValueError(f"{caller}() needs {name} to be a finite number; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{caller}() needs {name} >= {minimum}; got {value!r}.")
    return float(value)


def choice(value: Any, name: str, options: tuple[str, ...], caller: str) -> str:
    """One of ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{caller}() needs {name} to be one of {list(options)}; got {value!r}.")
    return value


def float_dtype(dtype: Any, caller: str) -> type:
    """np.float32 or np.float64."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"{caller}() needs dtype np.float32 or np.float64; got {dtype!r}.")
    return dt.type


def dichotomy_array(value: Any, n_manifolds: int, caller: str) -> np.ndarray:
    """A user-given (n_dichotomies, P) array of +-1."""
    arr = np.asarray(value)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_manifolds or arr.shape[0] < 1:
        raise ValueError(
            f"{caller}() needs dichotomies of shape (n_dichotomies, {n_manifolds}) (one +-1 per "
            f"manifold); got shape {np.shape(value)}."
        )
    if not np.isin(arr, (-1, 1)).all():
        raise ValueError(
            f"{caller}() needs dichotomies with entries +1 or -1 only; got values "
            f"{np.unique(arr)[:6].tolist()}."
        )
    return arr.astype(np.float64)


def backend_name(value: Any, caller: str) -> str:
    """ "numpy", or "torch" when torch can be imported."""
    name = choice(value, "backend", ("numpy", "torch"), caller)
    if name == "torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            raise ValueError(
                f"{caller}(backend='torch') needs torch; install it with "
                "pip install 'neurogeom[models]', or use backend='numpy'."
            ) from None
    return name


def representation(value: Any, name: str, caller: str, *, min_rows: int = 2) -> np.ndarray:
    """A finite numeric matrix (n_conditions, n_features) with at least ``min_rows`` rows."""
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{caller}() needs {name} to be a numeric array; got dtype {arr.dtype}.")
    if arr.ndim != 2:
        raise ValueError(
            f"{caller}() needs {name} of shape (n_conditions, n_features); got shape "
            f"{arr.shape}. Use one row per stimulus/condition (or trial) and one column per unit."
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"{caller}() got NaN or inf in {name}; drop or impute those rows/units first."
        )
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"{caller}() needs {name} with at least {min_rows} rows (conditions); got "
            f"{arr.shape[0]}."
        )
    if arr.shape[1] < 1:
        raise ValueError(f"{caller}() got {name} with no features (columns).")
    return arr.astype(np.float64, copy=False)


def representation_pair(
    x: Any, y: Any, caller: str, *, min_rows: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Two representations ``X``, ``Y`` of the same conditions (same rows, any feature counts)."""
    x = representation(x, "X", caller, min_rows=min_rows)
    y = representation(y, "Y", caller, min_rows=min_rows)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{caller}() needs X and Y to describe the same stimuli/conditions in the same order: "
            f"X has {x.shape[0]} rows, Y has {y.shape[0]}. Match them first (e.g. average both "
            "by the same condition labels)."
        )
    return x, y


def label_values(names: list[Hashable]) -> np.ndarray:
    """The ``manifold`` coordinate: the original label values (ints stay ints, strings strings);
    labels numpy cannot hold in one typed array (tuples, mixed types) become strings."""
    arr = np.asarray(names)
    if arr.dtype == object or arr.ndim != 1:
        arr = np.asarray([str(n) for n in names])
    return arr
