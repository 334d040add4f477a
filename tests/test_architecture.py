"""The package's rooms and the directions of their imports.

Every import statement of every module is read, those inside functions too (a lazy import is an
import all the same), and each edge between rooms must be an allowed direction; the module graph has
no cycle. The rooms and the directions are those of the design (DESIGN.md, section 1):

    cli -> workflows -> {learning, models, io, studies, show, specs, tasks, parallel, geometry,
                         population}
    accessor -> {population, geometry, learning}
    learning -> {geometry, population, parallel}
    models -> {tasks, population, specs}
    tasks -> {population, specs}
    io -> population
    studies -> {population, io}    (a study is built from tensors and from files)
    synthetic -> {population, studies}    (generated studies, built as studies are)
    show -> geometry's public names (a contour formula) and nothing else above the base
    specs -> nothing above the contract
    geometry -> parallel (numbers in, Datasets out: it knows no tensors)

The base modules (``neurogeom._files``, ``_lazy``, ``_version``, ``_provenance``,
``_deprecation``, ``_glossary``) import no room and every room may import them. ``specs`` sits
under the models: a network's knobs are declared once, in the schema, and the models read them.
``learning`` does not import ``studies``: it takes a study as an :class:`xarray.DataTree` and
reads a session's tensor through :func:`neurogeom.population.node_tensor` (the contract), where
``studies`` registers its file readers.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "neurogeom"

BASE = {"_files", "_lazy", "_version", "_provenance", "_deprecation", "_glossary", "_params"}
ALLOWED: dict[str, set[str]] = {
    "parallel": set(),
    "geometry": {"parallel"},
    "population": set(),
    "data": set(),
    "specs": {"population"},
    "io": {"population"},
    "tasks": {"population", "specs"},
    "models": {"tasks", "population", "specs"},
    "learning": {"geometry", "population", "parallel"},
    "studies": {"population", "io"},
    "synthetic": {"population", "studies"},
    "accessor": {"population", "geometry", "learning"},
    "show": {"geometry"},
    "workflows": {
        "learning", "models", "io", "studies", "show", "specs", "tasks", "parallel", "geometry",
        "population", "data",
    },
    "cli": {
        "workflows", "learning", "models", "io", "studies", "show", "specs", "tasks",
        "parallel", "geometry", "population", "data", "neurogeom",
    },
}  # fmt: skip
# The package's front door re-exports by name (importlib, on first use) and registers the accessor.
ALLOWED["neurogeom"] = {"accessor"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every neurogeom module ``name`` imports, at any depth of its code."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module
                       for a in node.names]  # fmt: skip
        else:
            continue
        out.update(t for t in targets if t == "neurogeom" or t.startswith("neurogeom."))
    return out


def _room(module: str) -> str:
    parts = module.split(".")
    return "neurogeom" if len(parts) == 1 else parts[1]


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, set(mods)) - {m} for m, p in mods.items()}


def test_every_room_is_known():
    rooms = {_room(m) for m in _modules()}
    unknown = rooms - set(ALLOWED) - BASE
    assert not unknown, f"modules outside the known rooms: {sorted(unknown)}; add them to ALLOWED"


def test_base_modules_import_no_room():
    bad = [(m, t) for m, ts in _graph().items() if _room(m) in BASE for t in ts
           if _room(t) not in BASE]  # fmt: skip
    assert not bad, f"base modules importing rooms: {bad}"


def test_imports_follow_the_allowed_directions():
    bad = []
    for module, targets in _graph().items():
        room = _room(module)
        if room in BASE:
            continue
        for target in targets:
            other = _room(target)
            if other == room or other in BASE or other in ALLOWED[room]:
                continue
            bad.append(f"{module} -> {target}")
    assert not bad, "imports against the rooms' directions:\n" + "\n".join(sorted(bad))


def test_show_uses_only_the_engines_public_names():
    private = [f"{m} -> {t}" for m, ts in _graph().items() if _room(m) == "show" for t in ts
               if _room(t) == "geometry" and any(p.startswith("_") for p in t.split(".")[2:])]  # fmt: skip
    assert not private, private


def test_no_import_cycle():
    graph = _graph()
    # Edges into a package's __init__ that only re-exports lazily are not load-time edges of the
    # package's modules, but the graph is kept whole: a cycle through any module is a cycle.
    color: dict[str, int] = defaultdict(int)
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        color[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if color[nxt] == 1:
                cycles.append(stack[stack.index(nxt) :] + [nxt])
            elif color[nxt] == 0:
                visit(nxt)
        stack.pop()
        color[node] = 2

    for node in sorted(graph):
        if color[node] == 0:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles[:10])


@pytest.mark.parametrize("room", ["learning"])
def test_learning_reads_no_files_trains_nothing_draws_nothing(room):
    """The analysis room imports no loader, model, workflow or figure."""
    forbidden = {"io", "models", "workflows", "show", "tasks", "specs", "cli"}
    bad = [f"{m} -> {t}" for m, ts in _graph().items() if _room(m) == room for t in ts
           if _room(t) in forbidden]  # fmt: skip
    assert not bad, bad
