"""Parameter constraints declared once, as data, and checked at every public boundary.

Each constraint (:class:`Interval`) says what values a parameter takes, in words that every
error uses. The same objects check the arguments of the public functions (:func:`check_params`)
and the keys of the TOML specs (:mod:`neurogeom.specs`), so a function and a spec cannot disagree
on what ``n_boot = 1`` means. Also here: the memory estimate of the Monte-Carlo work of GLUE and
MFTMA (:func:`monte_carlo_bytes`), so a size that cannot fit is refused before it is tried.

This is a base module: it imports nothing from the package's rooms.
"""

from __future__ import annotations

import difflib
import math
import numbers
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BALANCE",
    "CONFIDENCE",
    "N_BOOT",
    "N_DICHOTOMIES",
    "N_GRID",
    "N_JOBS",
    "N_PERM",
    "N_T",
    "N_UNITS",
    "SEED",
    "Interval",
    "OneOf",
    "check_choice",
    "check_names",
    "check_params",
    "coarse_p_warning",
    "gib",
    "memory_limit_bytes",
    "monte_carlo_bytes",
    "typed_value_map",
]


@dataclass(frozen=True)
class Interval:
    """The values a numeric parameter takes: a type, bounds, values refused inside them, words.

    Parameters
    ----------
    kind : {int, float}
        ``int`` refuses floats and booleans; ``float`` takes integers too.
    low, high : number or None
        Bounds (``None``: unbounded).
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds are allowed values.
    exclude : tuple, default=()
        Values inside the bounds that are refused (``n_boot = 1``).
    words : str, default=""
        What the values are, for the messages; derived from the bounds when empty.

    Examples
    --------
    >>> N_BOOT.check("n_boot", 1)
    Traceback (most recent call last):
    ...
    ValueError: n_boot must be 0 (no interval) or at least 2; got 1.
    """

    kind: type
    low: float | None = None
    high: float | None = None
    closed: str = "both"
    exclude: tuple[Any, ...] = ()
    words: str = ""

    def describe(self) -> str:
        """The allowed values in words: ``"an integer >= 1"``, ``"a number in (0, 1)"``."""
        if self.words:
            return self.words
        noun = "an integer" if self.kind is int else "a number"
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.low is not None and self.high is not None:
            left, right = "[" if lo_in else "(", "]" if hi_in else ")"
            return f"{noun} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{noun} {'>=' if lo_in else '>'} {self.low}"
        if self.high is not None:
            return f"{noun} {'<=' if hi_in else '<'} {self.high}"
        return noun

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is refused, or ``None`` when it is allowed."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            return "wrong type"
        if self.kind is int and not isinstance(value, numbers.Integral):
            return "wrong type"
        if isinstance(value, float) and math.isnan(value):
            return "nan"
        lo_in = self.closed in ("both", "left")
        hi_in = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not lo_in)):
            return "out of range"
        if self.high is not None and (value > self.high or (value == self.high and not hi_in)):
            return "out of range"
        if value in self.exclude:
            return "excluded"
        return None

    def message(self, name: str, value: Any) -> str:
        """``"<name> must be <words>; got <value>."``"""
        return f"{name} must be {self.describe()}; got {value!r}."

    def check(self, name: str, value: Any) -> Any:
        """``value`` (an ``int`` for an integer constraint), or ``ValueError`` naming it."""
        if self.problem(value) is not None:
            raise ValueError(self.message(name, value))
        return int(value) if self.kind is int else value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """Check a schema field (``Annotated[int, N_T]``) with this constraint, after its type."""
        return _after(self, handler(source))


@dataclass(frozen=True)
class OneOf:
    """The values a text parameter takes: one of ``values``, in words that every error uses.

    Examples
    --------
    >>> OneOf(("adam", "sgd"), "'adam' or 'sgd'").check("optimizer", "adamw")
    Traceback (most recent call last):
    ...
    ValueError: optimizer must be 'adam' or 'sgd'; got 'adamw'.
    """

    values: tuple[str, ...]
    words: str = ""

    def describe(self) -> str:
        """The allowed values in words: ``"one of ['relu', 'tanh']"``."""
        return self.words or f"one of {list(self.values)}"

    def message(self, name: str, value: Any) -> str:
        """``"<name> must be <words>; got <value>."``"""
        return f"{name} must be {self.describe()}; got {value!r}."

    def check(self, name: str, value: Any) -> Any:
        """``value``, or ``ValueError`` naming it."""
        if value not in self.values:
            raise ValueError(self.message(name, value))
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> Any:
        """Check a schema field (``Annotated[str, OneOf(...)]``) with this constraint."""
        return _after(self, handler(source))


def _after(constraint: Interval | OneOf, schema: Any) -> Any:
    """A pydantic schema: ``schema``, then ``constraint`` with the field's name in its words."""
    from pydantic_core import core_schema  # only the spec schemas need it

    def check(value: Any, info: Any) -> Any:
        constraint.check(info.field_name or "value", value)
        return value  # the value as given: the numbers a spec feeds do not change

    return core_schema.with_info_after_validator_function(check, schema)


#: Resampling replicates of an interval: none, or enough to have a spread.
N_BOOT = Interval(int, 0, words="0 (no interval) or at least 2", exclude=(1,))
#: Permutations (or shuffles) of a null: 0 skips the p-value.
N_PERM = Interval(int, 0, words="0 (no p-value) or a positive integer")
#: Monte-Carlo samples of GLUE and MFTMA (two or more: a mean and its spread).
N_T = Interval(int, 2, words="an integer >= 2")
#: Random dichotomies of the simulated capacity.
N_DICHOTOMIES = Interval(int, 1, words="a positive integer")
#: Worker processes: a count, or -1 for every core.
N_JOBS = Interval(int, -1, exclude=(0,), words="a positive integer or -1 (every core)")
#: Points of a common axis.
N_GRID = Interval(int, 2, words="an integer >= 2 (two points make a line)")
#: Seeds of numpy's generators.
SEED = Interval(int, 0, words="a non-negative integer")
#: The coverage of an interval.
CONFIDENCE = Interval(float, 0, 1, closed="neither", words="a number in (0, 1), e.g. 0.95")
#: Points per manifold kept by balancing.
BALANCE = Interval(int, 2, words="true, false or an integer >= 2 (points per manifold)")
#: Units of a network.
N_UNITS = Interval(int, 1, words="a positive integer")

#: The constraints of each public function's parameters, by function name.
_PARAMS: dict[str, dict[str, Interval]] = {
    "trajectory": {
        "n_boot": N_BOOT,
        "n_perm": N_PERM,
        "confidence": CONFIDENCE,
        "seed": SEED,
        "n_jobs": N_JOBS,
    },
    "measure_geometry": {"n_jobs": N_JOBS, "seed": SEED},
    "stage_difference": {
        "n_boot": N_BOOT,
        "n_perm": N_PERM,
        "confidence": CONFIDENCE,
        "seed": SEED,
    },
    "difference_test": {
        "n_boot": N_BOOT,
        "n_perm": N_PERM,
        "confidence": CONFIDENCE,
        "seed": SEED,
    },
    "paired_difference": {
        "n_boot": N_BOOT,
        "n_perm": N_PERM,
        "confidence": CONFIDENCE,
        "seed": SEED,
    },
    "compare_trajectories": {"n_grid": N_GRID, "n_perm": N_PERM, "seed": SEED},
    "glue": {"n_t": N_T, "seed": SEED},
    "mftma": {"n_t": N_T, "seed": SEED},
    "simulated_capacity": {"n_dichotomies": N_DICHOTOMIES, "seed": SEED, "confidence": CONFIDENCE},
}


def check_params(func_name: str, **values: Any) -> dict[str, Any]:
    """Check the arguments of a public function against their declared constraints.

    Parameters
    ----------
    func_name : str
        The function (a key of the table of constraints).
    **values
        Its arguments by name; ``None`` (a default left to the function) is not checked.

    Returns
    -------
    dict
        The values, integers as ``int``.

    Raises
    ------
    ValueError
        ``"<func_name>: <name> must be <words>; got <value>."`` for the first bad one.

    Examples
    --------
    >>> check_params("stage_difference", n_boot=1)
    Traceback (most recent call last):
    ...
    ValueError: stage_difference: n_boot must be 0 (no interval) or at least 2; got 1.
    """
    table = _PARAMS.get(func_name, {})
    out = dict(values)
    for name, value in values.items():
        if value is None or name not in table:
            continue
        try:
            out[name] = table[name].check(name, value)
        except ValueError as exc:
            raise ValueError(f"{func_name}: {exc}") from None
    return out


def coarse_p_warning(n_perm: int, level: float, where: str = "") -> None:
    """Warn when the smallest p-value ``n_perm`` permutations can give, ``1 / (n_perm + 1)``,
    exceeds the test's level: no result could then be significant."""
    if n_perm and 1.0 / (n_perm + 1) > level:
        need = math.ceil(1.0 / level - 1 - 1e-9)
        warnings.warn(
            f"{where}n_perm = {n_perm}: the smallest p-value it can give is "
            f"1/(n_perm + 1) = {1.0 / (n_perm + 1):.3g}, above the level {level:g}; no result "
            f"can be significant. Use n_perm >= {need}.",
            UserWarning,
            stacklevel=3,
        )


def _nearest(name: str, choices: Iterable[str]) -> str:
    near = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {near[0]!r}?)" if near else ""


def check_choice(what: str, value: Any, choices: Iterable[str], of: str = "") -> str:
    """``value`` if it is one of ``choices``, else ``ValueError`` naming the nearest ones.

    Examples
    --------
    >>> check_choice("output", "capacty", ["capacity", "radius"])
    Traceback (most recent call last):
    ...
    ValueError: no output 'capacty' (did you mean 'capacity'?); the available ones are ['capacity', 'radius'].
    """
    choices = list(choices)
    if value not in choices:
        raise ValueError(
            f"no {what} {value!r}{of}{_nearest(value, choices)}; the available ones are {choices}."
        )
    return value


def check_names(what: str, value: Any) -> list[str]:
    """A name or a sequence of names as a list (a lone string is one name, not its letters)."""
    if isinstance(value, str):
        return [value]
    names = list(value)
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        raise ValueError(f"{what} must be a name or a list of names; got {value!r}.")
    return names


def typed_value_map(values: Iterable[Any], value_map: Mapping[Any, Any]) -> dict[Any, Any]:
    """A value map keyed by a label's own values: a key that is not one of ``values`` but has the
    text of one (a TOML table's string key ``"1"`` for the value ``1``) becomes that value.

    The run spec's ``[compare.mapping.<label>] values`` and
    :func:`neurogeom.learning.match_conditions`'s ``mapping`` read value maps through it.

    Examples
    --------
    >>> typed_value_map([1, 2], {"1": "left", 2: "right", "3": "up"})
    {1: 'left', 2: 'right', '3': 'up'}
    """
    values = list(values)
    own = set(values)
    by_text = {str(v): v for v in values}
    return {k if k in own else by_text.get(str(k), k): v for k, v in value_map.items()}


def gib(n_bytes: float) -> str:
    """Bytes in GiB, in words: ``"7.45 GiB"``, ``"18,626 GiB"``."""
    x = n_bytes / 2**30
    return f"{x:,.0f} GiB" if x >= 100 else f"{x:.3g} GiB"


def memory_limit_bytes() -> int:
    """The memory one computation may take: half the machine's physical memory (8 GiB when it
    cannot be read)."""
    try:
        import os

        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 * 2**30
    return int(total) // 2


def monte_carlo_bytes(n_t: int, n_dim: int, n_points: int) -> int:
    """Bytes of the Monte-Carlo work of GLUE/MFTMA: ``n_t`` Gaussian draws of dimension
    ``n_dim``, each projected on ``n_points`` points (float64, with the working copies the
    solver keeps)."""
    return int(8 * n_t * (n_dim + n_points) * 2)


def check_monte_carlo(where: str, n_t: int, n_dim: int, n_points: int) -> None:
    """``ValueError`` naming ``n_t`` and the estimated memory when it exceeds the limit."""
    need, limit = monte_carlo_bytes(n_t, n_dim, n_points), memory_limit_bytes()
    if need > limit:
        raise ValueError(
            f"{where}n_t = {n_t} would need about {gib(need)} for its Monte-Carlo samples "
            f"({n_dim} dims, {n_points} points), more than the {gib(limit)} allowed; lower n_t "
            "(100 to 1000 is usual)."
        )
