"""Deprecated names: a renamed function or argument keeps its old name for one minor release.

Calls through the old name work and emit a :class:`FutureWarning` naming the new one; every rename
is listed in ``CHANGELOG.md``.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["renamed_arguments", "renamed_function"]

#: The release after which the old names go.
REMOVED_IN = "0.3.0"


def renamed_function(new: F, old_name: str) -> F:
    """``new`` under its old name: the same function, with a ``FutureWarning`` at each call.

    Examples
    --------
    >>> def add(a, b):
    ...     return a + b
    >>> plus = renamed_function(add, "plus")
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     plus(1, 2), w[0].category.__name__
    (3, 'FutureWarning')
    """

    @functools.wraps(new)
    def old(*args: Any, **kwargs: Any) -> Any:
        warnings.warn(
            f"{old_name}() is renamed {new.__name__}(); the old name goes in {REMOVED_IN}.",
            FutureWarning,
            stacklevel=2,
        )
        return new(*args, **kwargs)

    old.__name__ = old_name
    old.__qualname__ = old_name
    old.__doc__ = f"Deprecated alias of :func:`{new.__module__}.{new.__name__}`."
    return old  # type: ignore[return-value]


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Accept each old keyword argument name, with a ``FutureWarning``, as its new name.

    Giving both the old and the new name is a ``TypeError``.

    Examples
    --------
    >>> @renamed_arguments(n_null="n_perm")
    ... def test(x, *, n_perm=10):
    ...     return n_perm
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     test(1, n_null=5)
    5
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old in kwargs:
                    if new in kwargs:
                        raise TypeError(
                            f"{func.__name__}() got both {old!r} (its old name) and {new!r}; "
                            f"give {new!r} only."
                        )
                    warnings.warn(
                        f"{func.__name__}(): the argument {old!r} is renamed {new!r}; the old "
                        f"name goes in {REMOVED_IN}.",
                        FutureWarning,
                        stacklevel=2,
                    )
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        wrapper.__renamed_arguments__ = dict(old_to_new)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def _accepts(func: Callable[..., Any], n: int) -> bool:

    try:
        inspect.signature(func).bind(*range(n))
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): assume the current one
        return n == 3
    return True


def phase_progress(progress: Callable[..., Any] | None, phase: str) -> Callable[[int, int], None]:
    """``(done, total)`` for one phase of a public ``progress(phase, done, total)`` callback.

    None gives a callback that does nothing; a two-argument ``progress(done, total)`` (the
    signature of the sweeps until 0.2.0) is accepted with a ``FutureWarning`` and called as such.

    Examples
    --------
    >>> seen = []
    >>> tell = phase_progress(lambda phase, done, total: seen.append((phase, done, total)), "train")
    >>> tell(1, 4); seen
    [('train', 1, 4)]
    """
    if progress is None:
        return lambda done, total: None
    if _accepts(progress, 3):
        return lambda done, total: progress(phase, done, total)
    if _accepts(progress, 2):
        warnings.warn(
            "progress(done, total) is now progress(phase, done, total); the two-argument "
            f"callback goes in {REMOVED_IN}.",
            FutureWarning,
            stacklevel=3,
        )
        return lambda done, total: progress(done, total)
    raise TypeError("progress must be a callable progress(phase, done, total).")
