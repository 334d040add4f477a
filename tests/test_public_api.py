"""The public API: what each module's ``__all__`` exports, pinned in ``tests/api_snapshot.txt``.

A name is public when a public module (no part of its dotted path starts with ``_``) lists it in
``__all__``; everything else is private, whatever its spelling. The snapshot holds one line per
public name (``neurogeom.learning.trajectory``), so every change to the surface is deliberate:
after adding or removing a public name, regenerate it with

    python -m tests.test_public_api --update
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

SNAPSHOT = Path(__file__).resolve().with_name("api_snapshot.txt")
UPDATE = "python -m tests.test_public_api --update"
HEAVY = ("torch", "pynwb", "numba", "neurogym")


def _modules(private: bool = False) -> list[ModuleType]:
    """``neurogeom`` and every module under it (those with a ``_`` part only when ``private``)."""
    import neurogeom

    out = [neurogeom]
    for info in pkgutil.walk_packages(neurogeom.__path__, "neurogeom."):
        if not private and any(p.startswith("_") for p in info.name.split(".")):
            continue
        out.append(importlib.import_module(info.name))
    return out


def public_names() -> list[str]:
    """``module.name`` for every name in the ``__all__`` of every public module."""
    return sorted(f"{m.__name__}.{n}" for m in _modules() for n in getattr(m, "__all__", ()))


def _read_snapshot() -> list[str]:
    return [line for line in SNAPSHOT.read_text().splitlines() if line.strip()]


def _resolve(dotted: str) -> object:
    module, name = dotted.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def _lazy_packages() -> list[ModuleType]:
    return [m for m in _modules() if hasattr(m, "_EXPORTS")]


def test_snapshot_matches_the_exports():
    now, pinned = public_names(), _read_snapshot()
    added = sorted(set(now) - set(pinned))
    removed = sorted(set(pinned) - set(now))
    assert not added and not removed, (
        "the public API changed:\n"
        + "".join(f"  + {n}\n" for n in added)
        + "".join(f"  - {n}\n" for n in removed)
        + f"if that is intended, regenerate tests/api_snapshot.txt with `{UPDATE}`"
    )
    assert pinned == sorted(set(pinned)), f"the snapshot is not sorted and unique; run `{UPDATE}`"


def test_every_module_declares_all():
    missing = [m.__name__ for m in _modules(private=True) if not hasattr(m, "__all__")]
    assert not missing, f"modules without __all__: {missing}"


def test_every_name_in_all_exists():
    bad = [
        f"{m.__name__}.{n}"
        for m in _modules(private=True)
        for n in getattr(m, "__all__", ())
        if not hasattr(m, n)
    ]
    assert not bad, f"names in __all__ that do not exist: {bad}"


def test_lazy_exports_resolve_to_their_definitions():
    """Each name a package exports lazily is the one its module exports, and is no module."""
    bad = []
    for package in _lazy_packages():
        submodules = {i.name for i in pkgutil.iter_modules(getattr(package, "__path__", []))}
        for name, where in package._EXPORTS.items():
            target = where if where.startswith("neurogeom") else f"{package.__name__}.{where}"
            module = importlib.import_module(target)
            obj = getattr(package, name)
            if name in submodules or isinstance(obj, ModuleType):
                bad.append(f"{package.__name__}.{name}: shadowed by the submodule of that name")
            elif obj is not getattr(module, name):
                bad.append(f"{package.__name__}.{name}: not {target}.{name}")
            elif name not in getattr(module, "__all__", ()):
                bad.append(f"{package.__name__}.{name}: not in {target}.__all__")
        unlisted = set(package._EXPORTS) - set(package.__all__)
        bad.extend(f"{package.__name__}.{n}: exported but not in __all__" for n in sorted(unlisted))
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize(
    "code",
    [
        "import neurogeom",
        "import neurogeom.io, neurogeom.models, neurogeom.geometry, neurogeom.learning, "
        "neurogeom.workflows, neurogeom.specs, neurogeom.show",
    ],
)
def test_import_is_light(code):
    probe = f"import sys; {code}; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", f"`{code}` imported {out.stdout.strip()}"


def test_public_functions_and_classes_have_docstrings():
    bad = []
    for dotted in _read_snapshot():
        obj = _resolve(dotted)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue
        doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
        # a dataclass without a docstring gets its signature as one
        if not doc or not doc.strip() or doc.startswith(f"{obj.__name__}("):
            bad.append(dotted)
    assert not bad, f"public functions and classes without a docstring: {bad}"


def _update() -> None:
    names = public_names()
    SNAPSHOT.write_text("\n".join(names) + "\n")
    print(f"{SNAPSHOT}: {len(names)} public names")


if __name__ == "__main__":
    if sys.argv[1:] != ["--update"]:
        sys.exit(f"usage: {UPDATE}")
    _update()
