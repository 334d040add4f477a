"""One vocabulary: every parameter of every public function is in the glossary, with its default."""

from __future__ import annotations

import collections
import importlib
import inspect
import pkgutil
import warnings
from pathlib import Path

import pytest

import neurogeom
from neurogeom._glossary import (
    DEPRECATED,
    GLOSSARY,
    KNOWN_SYNONYMS,
    REQUIRED,
    VARIES,
    glossary_markdown,
)

ROOT = Path(__file__).resolve().parents[1]


def _public_modules() -> list[str]:
    names = ["neurogeom"]
    for info in pkgutil.walk_packages(neurogeom.__path__, "neurogeom."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _public_callables() -> dict[str, object]:
    """Qualified name -> function (a class: its ``__init__``) of every name in an ``__all__``."""
    out: dict[str, object] = {}
    for name in _public_modules():
        try:
            module = importlib.import_module(name)
        except ImportError:  # an optional dependency (torch, pynwb) is missing here
            continue
        for attr in getattr(module, "__all__", []):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                obj = getattr(module, attr, None)
            if inspect.isclass(obj):
                if obj.__init__ is object.__init__:
                    continue
                out[f"{obj.__module__}.{obj.__qualname__}"] = obj.__init__
            elif inspect.isfunction(obj) or hasattr(obj, "__wrapped__"):
                out[f"{obj.__module__}.{obj.__qualname__}"] = obj
    from neurogeom.accessor import NgAccessor

    for attr, fn in inspect.getmembers(NgAccessor, inspect.isfunction):
        if not attr.startswith("_"):
            out[f"NgAccessor.{attr}"] = fn
    return out


def _parameters():
    for qualname, fn in sorted(_public_callables().items()):
        for p in inspect.signature(fn).parameters.values():
            if p.name in ("self", "cls") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            yield qualname, p


def _has_no_default(p: inspect.Parameter) -> bool:
    return p.default is p.empty or type(p.default).__name__ == "_HAS_DEFAULT_FACTORY_CLASS"


def test_public_callables_are_found():
    found = _public_callables()
    assert len(found) > 50
    assert any(q.endswith(".trajectory") for q in found)


def test_every_public_parameter_is_in_the_glossary_with_its_default():
    problems = []
    for qualname, p in _parameters():
        term = GLOSSARY.get(p.name)
        if term is None:
            problems.append(f"{qualname}({p.name}): not in the glossary")
            continue
        if term.default is VARIES:
            continue
        function = qualname.rsplit(".", 1)[-1]
        want = term.exceptions.get(function, term.default)
        if _has_no_default(p):
            if want is not REQUIRED:
                problems.append(f"{qualname}({p.name}): required; the glossary says {want!r}")
        elif want is REQUIRED or repr(p.default) != repr(want):
            problems.append(f"{qualname}({p.name}={p.default!r}): the glossary says {want!r}")
    assert not problems, "\n".join(problems)


def test_every_glossary_entry_is_used_and_explains_differing_defaults():
    used = {p.name for _, p in _parameters()}
    for name, term in GLOSSARY.items():
        assert term.meaning and term.unit is not None, name
        if term.default is VARIES or term.exceptions:
            assert term.why, f"{name}: a default that differs needs a reason"
    unused = sorted(set(GLOSSARY) - used)
    # entries of modules that need optional dependencies may be unused here
    assert len(unused) < 0.2 * len(GLOSSARY), unused


def test_no_two_names_share_a_meaning():
    by_meaning = collections.defaultdict(list)
    for name, term in GLOSSARY.items():
        by_meaning[term.meaning].append(name)
    shared = sorted(tuple(sorted(v)) for v in by_meaning.values() if len(v) > 1)
    assert shared == sorted(tuple(sorted(g)) for g in KNOWN_SYNONYMS)


def test_deprecated_names_are_aliases_not_parameters():
    params = collections.defaultdict(set)
    for qualname, p in _parameters():
        params[qualname.rsplit(".", 1)[-1] if "NgAccessor" not in qualname else qualname].add(
            p.name
        )
    for function, renames in DEPRECATED.items():
        for old, new in renames.items():
            assert new in GLOSSARY and old not in params[function], (function, old)


def test_renamed_arguments_warn_and_keep_working():
    from neurogeom.learning.compare import match_conditions

    assert match_conditions.__renamed_arguments__ == {"on": "by"}
    from neurogeom.learning.trajectories import trajectory

    assert trajectory.__renamed_arguments__ == {"n_null": "n_perm"}
    with pytest.warns(FutureWarning, match="n_perm"), pytest.raises(TypeError, match="tensor"):
        trajectory(None, "choice", n_null=0, pseudo=None)


def test_progress_is_one_signature():
    from neurogeom._deprecation import phase_progress

    seen = []
    phase_progress(lambda phase, done, total: seen.append((phase, done, total)), "train")(1, 2)
    assert seen == [("train", 1, 2)]
    with pytest.warns(FutureWarning, match="phase"):
        tell = phase_progress(lambda done, total: seen.append((done, total)), "train")
    tell(2, 2)
    assert seen[-1] == (2, 2)


def test_docs_glossary_is_current():
    assert (ROOT / "docs" / "glossary.md").read_text() == glossary_markdown(), (
        "docs/glossary.md is stale: write glossary_markdown() to it"
    )
