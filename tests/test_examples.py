"""Every public function, class and method is documented in numpydoc sections, and its Examples run.

A name is public when a public module (no ``_`` part in its dotted path) lists it in ``__all__``; a
public class brings its public methods along. Each one's docstring has

- ``Parameters`` when it takes any (``Attributes`` also serves a class),
- ``Returns`` (or ``Yields``) when it returns something,
- ``See Also`` and ``Examples``.

The Examples of every public module run under :mod:`doctest` (``ELLIPSIS | NORMALIZE_WHITESPACE``)
with the module's namespace plus ``np``, ``xr`` and ``neurogeom``; one test case per module, so
``pytest tests/test_examples.py -k neurogeom.geometry.similarity`` checks one module.

A name may go without a running example (no Examples section, or examples marked
``# doctest: +SKIP``) only when it is on an allow-list, ``tests/examples_allowlist_a.txt`` or
``tests/examples_allowlist_b.txt``: one line per name, ``dotted.name  # reason`` (network access,
long training). Entries must be public names with a reason, and must still be needed.
"""

from __future__ import annotations

import ast
import doctest
import importlib
import inspect
import io
import pkgutil
import re
import textwrap
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import xarray as xr

import neurogeom

HERE = Path(__file__).resolve().parent
ALLOWLISTS = (HERE / "examples_allowlist_a.txt", HERE / "examples_allowlist_b.txt")
OPTIONFLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _public_modules() -> list[ModuleType]:
    out = [neurogeom]
    for info in pkgutil.walk_packages(neurogeom.__path__, "neurogeom."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        out.append(importlib.import_module(info.name))
    return out


MODULES = _public_modules()
MODULE_IDS = [m.__name__ for m in MODULES]


def _is_public_module(name: str) -> bool:
    return name.startswith("neurogeom") and not any(p.startswith("_") for p in name.split("."))


def _exports() -> dict[str, tuple[str, object]]:
    """``dotted name -> (module that documents it, object)`` for every public function and class.

    A name re-exported by a package is checked once: under the public module that defines it, or,
    when it is defined in a private module, under the first public module that exports it.
    """
    seen: dict[tuple[str, str], str] = {}
    out: dict[str, tuple[str, object]] = {}
    for module in MODULES:
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("neurogeom"):
                continue
            key = (obj.__module__, obj.__qualname__)
            home = obj.__module__
            defined_here = module.__name__ == home
            owner_public = _is_public_module(home) and obj.__qualname__ in getattr(
                importlib.import_module(home), "__all__", ()
            )
            if owner_public and not defined_here:
                continue  # documented where it is defined
            if key in seen:
                continue
            dotted = f"{module.__name__}.{name}"
            seen[key] = dotted
            out[dotted] = (module.__name__, obj)
    return out


def _documented() -> dict[str, tuple[str, object]]:
    """:func:`_exports` plus each public class's own public methods (``Class.method``)."""
    out = dict(_exports())
    for dotted, (module, obj) in list(out.items()):
        if not inspect.isclass(obj):
            continue
        for name, member in vars(obj).items():
            if name.startswith("_"):
                continue
            if isinstance(member, (classmethod, staticmethod)):
                member = member.__func__
            if inspect.isfunction(member):
                out[f"{dotted}.{name}"] = (module, member)
    return out


DOCUMENTED = _documented()


def _allowlist() -> dict[str, str]:
    """``dotted name -> reason`` from both allow-list files."""
    out: dict[str, str] = {}
    for path in ALLOWLISTS:
        if not path.exists():
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, _, reason = line.partition("#")
            if not name.strip() or not reason.strip():
                raise ValueError(
                    f"{path.name}:{number}: {line!r} is not 'dotted.name  # reason'; "
                    "give the name and why its example cannot run"
                )
            out[name.strip()] = reason.strip()
    return out


ALLOWED = _allowlist()


def _sections(doc: str) -> set[str]:
    """The numpydoc section headers (a title underlined with dashes) in ``doc``."""
    return set(re.findall(r"^[ \t]*([A-Z][A-Za-z ]+?)[ \t]*\n[ \t]*-{3,}[ \t]*$", doc, re.M))


def _takes_parameters(obj: object) -> bool:
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):
        return False
    if inspect.isfunction(obj) and params and params[0].name in ("self", "cls"):
        params = params[1:]
    return bool(params)


def _returns_something(func) -> bool:
    """From the return annotation, or, without one, from a ``return value`` or ``yield`` in the body."""
    annotation = inspect.signature(func).return_annotation
    if annotation is not inspect.Signature.empty:
        return annotation not in (None, "None", "NoReturn", "Never")
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    except (OSError, TypeError, SyntaxError):
        return False
    body = tree.body[0]
    stack = list(ast.iter_child_nodes(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _missing_sections(dotted: str, obj: object) -> list[str]:
    doc = inspect.getdoc(obj) or ""
    if inspect.isclass(obj):
        doc = inspect.cleandoc(vars(obj).get("__doc__") or "")
    have = _sections(doc)
    missing = []
    if _takes_parameters(obj) and not (
        "Parameters" in have or (inspect.isclass(obj) and "Attributes" in have)
    ):
        missing.append("Parameters")
    if inspect.isfunction(obj) and _returns_something(obj) and not have & {"Returns", "Yields"}:
        missing.append("Returns")
    if "See Also" not in have:
        missing.append("See Also")
    if "Examples" not in have and dotted not in ALLOWED:
        missing.append("Examples")
    return missing


@pytest.mark.parametrize("module", MODULE_IDS)
def test_public_names_have_numpydoc_sections(module):
    bad = [
        f"{dotted}: no {', '.join(missing)}"
        for dotted, (home, obj) in sorted(DOCUMENTED.items())
        if home == module and (missing := _missing_sections(dotted, obj))
    ]
    assert not bad, "docstrings missing numpydoc sections:\n  " + "\n  ".join(bad)


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    """The module's doctests plus those of the public names it documents but does not define."""
    globs = {**vars(module), "np": np, "xr": xr, "neurogeom": neurogeom}
    finder = doctest.DocTestFinder()
    tests = finder.find(module, module.__name__, globs=globs)
    for dotted, (home, obj) in DOCUMENTED.items():
        if (
            home != module.__name__
            or obj.__module__ == module.__name__
            or "." in dotted[len(home) + 1 :]
        ):
            continue
        owner = importlib.import_module(obj.__module__)
        tests += finder.find(obj, dotted, module=owner, globs={**globs, **vars(owner)})
    return sorted((t for t in tests if t.examples), key=lambda t: t.name)


def _skipped(test: doctest.DocTest) -> bool:
    return any(example.options.get(doctest.SKIP) for example in test.examples)


@pytest.mark.parametrize("module", MODULE_IDS)
def test_examples_run(module):
    tests = _doctests(importlib.import_module(module))
    unlisted = sorted(t.name for t in tests if _skipped(t) and t.name not in ALLOWED)
    assert not unlisted, (
        f"examples marked '# doctest: +SKIP' without an allow-list entry: {unlisted}; "
        "make them run, or add 'dotted.name  # reason' to tests/examples_allowlist_*.txt"
    )
    runner = doctest.DocTestRunner(optionflags=OPTIONFLAGS)
    report = io.StringIO()
    failed = attempted = 0
    for test in tests:
        result = runner.run(test, out=report.write)
        failed, attempted = failed + result.failed, attempted + result.attempted
    assert failed == 0, f"{failed} of {attempted} examples failed:\n" + report.getvalue()


def test_allowlist_entries_are_public_names_still_needed():
    all_tests = {t.name: t for m in MODULES for t in _doctests(m)}
    bad = []
    for name, reason in sorted(ALLOWED.items()):
        if name not in DOCUMENTED:
            bad.append(f"{name}: not a public function, class or method ({reason})")
            continue
        test = all_tests.get(name)
        if test is not None and not _skipped(test):
            bad.append(f"{name}: its examples all run; remove it from the allow-list")
    assert not bad, "allow-list entries to fix:\n  " + "\n  ".join(bad)
