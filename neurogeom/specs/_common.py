"""What every spec kind shares: reading TOML, naming unknown keys, type words, one-line failures.

Messages name the file, the section and the key, and the nearest valid key when there is one.
"""

from __future__ import annotations

import difflib
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import pydantic

from neurogeom._params import Interval

__all__ = [
    "check_keys",
    "constrained",
    "explain",
    "fail",
    "read_toml",
    "unknown_keys_message",
    "validated",
]


def fail(where: str, message: str) -> NoReturn:
    """Raise ``ValueError("<where>: <message>")``.

    Examples
    --------
    >>> fail("[analysis]", "n_t must be positive; got 0.")
    Traceback (most recent call last):
    ...
    ValueError: [analysis]: n_t must be positive; got 0.
    """
    raise ValueError(f"{where}: {message}")


def check_keys(table: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    """Fail naming the keys of ``table`` that are not ``allowed`` (with the nearest valid one).

    Examples
    --------
    >>> check_keys({"n_step": 3}, ["n_steps", "lr"], "[training]")
    Traceback (most recent call last):
    ...
    ValueError: [training]: unknown key(s) ['n_step'] (did you mean 'n_steps'?); allowed: n_steps, lr.
    """
    allowed = sorted(allowed) if isinstance(allowed, set | frozenset) else list(allowed)
    extra = sorted(set(table) - set(allowed))
    if extra:
        fail(where, unknown_keys_message(extra, allowed) + ".")


def read_toml(path: str | Path, what: str = "spec") -> dict[str, Any]:
    """The table of a TOML file, or a one-line error naming the file and the problem.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Not valid TOML (the parser's line and column are kept).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"{what} {str(path)!r} is a folder; give the TOML file, e.g. {str(path / 'spec.toml')!r}."
        )
    if not path.is_file():
        raise FileNotFoundError(f"{what} {str(path)!r} does not exist; check the path.")
    try:
        # utf-8-sig: a byte-order mark (as some Windows editors write) is read, not refused
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid TOML ({exc}).") from None


def unknown_keys_message(
    unknown: Iterable[str], allowed: Iterable[str], where: str = "", noun: str = "key(s)"
) -> str:
    """``"unknown key(s) ['n_step'] in [training] (did you mean 'n_steps'?); allowed: ..."``.

    Parameters
    ----------
    unknown : iterable of str
        The keys not allowed.
    allowed : iterable of str
        The keys allowed, in the order they are listed.
    where : str, optional
        Where the keys were found, e.g. ``"in [training]"``.
    noun : str, default="key(s)"
        What the keys are, e.g. ``"network key(s)"``.

    Returns
    -------
    str
        One line naming the unknown keys, the nearest allowed key of each that has a close one,
        and the allowed keys.

    Examples
    --------
    >>> unknown_keys_message(["n_step"], ["n_steps", "lr"], "in [training]")
    "unknown key(s) ['n_step'] in [training] (did you mean 'n_steps'?); allowed: n_steps, lr"
    """
    allowed = list(allowed)
    unknown = sorted(unknown)
    near = {}
    for key in unknown:
        match = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        if match:
            near[key] = match[0]
    hint = ""
    if len(unknown) == 1 and near:
        hint = f" (did you mean {near[unknown[0]]!r}?)"
    elif near:
        hint = " (did you mean " + ", ".join(f"{v!r} for {k!r}" for k, v in near.items()) + "?)"
    head = f"unknown {noun} {unknown}" + (f" {where}" if where else "")
    return f"{head}{hint}; allowed: {', '.join(allowed)}"


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _type_word(hint: Any) -> str:
    """What a field's type asks for, in words (TOML has no null: ``None`` is "omitted")."""
    hint = _bare(hint)
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        words = [_type_word(a) for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(words) + (" (or omitted)" if type(None) in typing.get_args(hint) else "")
    if origin is list or hint is list:
        args = typing.get_args(hint)
        inner = _type_word(args[0]) if args and args[0] is not Any else ""
        return "a list" + (f" of {inner.split(' ', 1)[-1]}s" if inner else "")
    if origin is dict or hint is dict:
        return "a table"
    return _TYPE_WORDS.get(hint, getattr(hint, "__name__", str(hint)))


def _bare(hint: Any) -> Any:
    """A field's type without its constraint (``Annotated[int, N_T]`` is ``int``)."""
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint


def _matches(value: Any, hint: Any) -> bool:
    """Whether a spec value has a field's type (an integer is a number; ``True`` is no integer)."""
    hint = _bare(hint)
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list or hint is list:
        args = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value if args)
    if origin is dict or hint is dict:
        return isinstance(value, Mapping)
    return True


def _type_error(where: str, hint: Any, value: Any) -> str:
    given = f"{value!r} ({_TYPE_WORDS.get(type(value), type(value).__name__)})"
    message = f"{where} must be {_type_word(hint)}; got {given}"
    if isinstance(value, str) and _matches(1.0, hint):
        try:
            float(value)
        except ValueError:
            pass
        else:
            key = where.replace(" ", ".").rsplit(".", 1)[-1]
            message += f"; write the number without quotes: {key} = {value}"
    return message


def constrained(*names: str, by: Interval) -> Any:
    """A pydantic field validator checking ``names`` against a shared constraint of
    ``neurogeom._params`` (the same words as the functions the values feed)."""

    def check(cls: Any, value: Any, info: pydantic.ValidationInfo) -> Any:
        if isinstance(value, bool):
            return value  # true/false where a field also takes a flag
        return by.check(info.field_name, value)

    return pydantic.field_validator(*names)(check)


def validated(model: type[pydantic.BaseModel], table: Mapping[str, Any], where: str) -> Any:
    """``model`` built from a spec section, or a one-line ``ValueError``: section and key named,
    the nearest valid key for an unknown one, the constraint's words for a bad value.

    Examples
    --------
    >>> class Section(pydantic.BaseModel):
    ...     model_config = pydantic.ConfigDict(extra="forbid", strict=True)
    ...     n_t: int = 100
    >>> validated(Section, {"n_tt": 5}, "[analysis]")
    Traceback (most recent call last):
    ...
    ValueError: [analysis]: unknown key(s) ['n_tt'] (did you mean 'n_t'?); allowed: n_t.
    """
    if not isinstance(table, Mapping):
        fail(where, f"must be a table; got {table!r}.")
    fields = model.model_fields
    check_keys(table, list(fields), where)
    try:
        return model(**table)
    except pydantic.ValidationError as exc:
        hints = {k: f.annotation for k, f in fields.items()}
        error = explain(exc, hints, table, f"{where} ")
        raise ValueError(f"{error}." if isinstance(error, TypeError) else str(error)) from None


def explain(
    exc: pydantic.ValidationError, hints: Mapping[str, Any], values: Mapping[str, Any], prefix: str
) -> TypeError | ValueError:
    """The first error of a schema's check as one line: ``"<prefix><key> must be ...; got ..."``.

    A value outside its constraint gives the constraint's words (a ``ValueError``), a value of
    the wrong type the type asked for and the value given (a ``TypeError``).

    Parameters
    ----------
    exc : pydantic.ValidationError
        What the schema found.
    hints : mapping of str to type
        The schema's fields and their types.
    values : mapping
        The values checked, by field.
    prefix : str
        Put before the key: ``"[analysis] "``, ``"training."``.
    """
    err = exc.errors()[0]
    key = str(err["loc"][0]) if err["loc"] else ""
    if err["type"] == "value_error":
        return ValueError(f"{prefix}{err['ctx']['error']}")
    if err["type"] in ("too_short", "too_long"):
        ctx = err.get("ctx", {})
        bound = (
            ("at least", ctx.get("min_length"))
            if err["type"] == "too_short"
            else ("at most", ctx.get("max_length"))
        )
        return ValueError(
            f"{prefix}{key} must hold {bound[0]} {bound[1]} entries; got {values.get(key)!r}."
        )
    if err["type"] == "missing":
        return ValueError(f"{prefix}{key} is missing; give it.")
    return TypeError(_type_error(f"{prefix}{key}", hints.get(key, Any), values.get(key)))
