"""Sources the site derives at build time: the API pages and the example gallery.

``docs/conf.py`` calls :func:`write_sources` before Sphinx reads anything, so a fresh clone builds
with one command. Two generated folders (both ignored by git):

* ``docs/api/``: one page per public module, with an autosummary over the names of
  ``tests/api_snapshot.txt`` (the curated public API); each name gets a page under
  ``docs/api/generated/`` (a name that is itself a module links to that module's page);
* ``docs/examples/``: one jupytext ``# %%`` file per tutorial of ``tutorials/``, executed by myst-nb.
  Each copy starts with a hidden cell that sets ``__file__`` to the tutorial's own path (the
  tutorials find ``tasks/`` and ``../shared/data`` from it, as when run as scripts) and shows every
  matplotlib figure a cell leaves open (the tutorials draw with the Agg backend and save to
  ``$NEUROGEOM_TUTORIAL_OUT``). A tutorial whose header says ``# requires: shared-data`` is left
  unexecuted, with a notice, when ``../shared/data`` is absent.

The test suite (``tests/test_docs.py``) reads the same functions: every public name has an API page
and every tutorial a gallery page.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
SNAPSHOT = ROOT / "tests" / "api_snapshot.txt"
TUTORIALS = ROOT / "tutorials"
HEADER_LINES = 30  # where a tutorial declares what it requires (as in tests/test_tutorials.py)


# --------------------------------------------------------------------------------------------
# API reference


def public_names() -> list[str]:
    """The curated public API: one dotted name per line of ``tests/api_snapshot.txt``."""
    return [ln.strip() for ln in SNAPSHOT.read_text().splitlines() if ln.strip()]


def _is_module(dotted: str) -> bool:
    module, name = dotted.rsplit(".", 1)
    return inspect.ismodule(getattr(importlib.import_module(module), name))


def api_page(dotted: str) -> str:
    """The page (relative to the HTML root, no suffix) that documents one public name."""
    if _is_module(dotted):
        return f"api/{dotted}"
    return f"api/generated/{dotted}"


def api_sources() -> dict[str, str]:
    """``{relative path under docs/: text}`` of the API index and one page per public module."""
    names = public_names()
    by_module: dict[str, list[str]] = {}
    for dotted in names:
        module = dotted.rsplit(".", 1)[0]
        by_module.setdefault(module, []).append(dotted)
        if _is_module(dotted):
            by_module.setdefault(dotted, [])
    pages: dict[str, str] = {}
    for module, members in sorted(by_module.items()):
        modules = [m for m in members if _is_module(m)]
        objects = [m for m in members if m not in modules]
        lines = [module, "=" * len(module), "", f".. automodule:: {module}", ""]
        lines += [f".. currentmodule:: {module}", ""]
        if modules:
            lines += ["Subpackages and modules:", ""]
            lines += [f"* :doc:`{m.removeprefix('neurogeom.')} <{m}>`" for m in modules]
            lines += [""]
        if objects:
            lines += [
                ".. autosummary::",
                "   :toctree: generated",
                "   :nosignatures:",
                "",
            ]
            lines += [f"   {m.rsplit('.', 1)[1]}" for m in objects]
            lines += [""]
        pages[f"api/{module}.rst"] = "\n".join(lines)
    index = [
        "API reference",
        "=============",
        "",
        "The public API: every name that a public module lists in ``__all__`` (pinned in",
        "``tests/api_snapshot.txt``). A name re-exported by a package (``neurogeom.geometry.glue``)",
        "has a page of its own beside the one of its defining module",
        "(``neurogeom.geometry.capacity.glue``); both show the same object. Everything else is",
        "private, whatever its spelling.",
        "",
        ".. toctree::",
        "   :maxdepth: 1",
        "",
    ]
    index += [f"   {module}" for module in sorted(by_module)]
    pages["api/index.rst"] = "\n".join(index) + "\n"
    return pages


# --------------------------------------------------------------------------------------------
# Example gallery


def tutorials() -> list[Path]:
    return sorted(TUTORIALS.glob("*.py"))


def requires(tutorial: Path) -> set[str]:
    """The words of the tutorial's ``# requires:`` header lines (``shared-data``)."""
    lines = tutorial.read_text().splitlines()[:HEADER_LINES]
    marks = [ln.split("requires:", 1)[1] for ln in lines if ln.startswith("# requires:")]
    return {word.strip() for mark in marks for word in mark.split(",") if word.strip()}


def title(tutorial: Path) -> str:
    """The first Markdown heading of a tutorial."""
    for line in tutorial.read_text().splitlines():
        if line.startswith("# # "):
            return line[4:].strip()
    raise ValueError(f"{tutorial.name} has no '# # Title' line: start it with a markdown cell")


def gallery_page(tutorial: Path) -> str:
    """The page (relative to the HTML root, no suffix) that shows one tutorial."""
    return f"examples/{tutorial.stem}"


_KERNEL_HEADER = """\
# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---
"""

_SETUP_CELL = '''\
# %% tags=["remove-cell"]
__file__ = {path!r}


def _ng_docs_show_figures():
    """Show, then close, every figure a cell leaves open (the tutorials draw with Agg)."""
    import io
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        return
    from IPython.display import Image, display

    plt = sys.modules["matplotlib.pyplot"]
    for num in plt.get_fignums():
        buf = io.BytesIO()
        plt.figure(num).savefig(buf, format="png", dpi=90, bbox_inches="tight")
        display(Image(data=buf.getvalue()))
    plt.close("all")


get_ipython().events.register("post_execute", _ng_docs_show_figures)

'''

_NOTICE = """\
# %% [markdown]
# ```{{note}}
# This example reads the real recordings kept beside the repository in `../shared/data`, which
# were not found when this site was built, so it is shown here without its outputs. Run it where
# they are present: `python tutorials/{name}`.
# ```

"""


def gallery_source(tutorial: Path, shared_data_present: bool) -> str:
    """The gallery copy of one tutorial: kernel header, hidden setup cell, notice, the text."""
    lines = tutorial.read_text().splitlines(keepends=True)
    first = next(i for i, ln in enumerate(lines) if ln.startswith("# %%"))
    body = lines[first:]  # header marks before the first cell are not content
    if "shared-data" in requires(tutorial) and not shared_data_present:
        second = next(i for i, ln in enumerate(body) if i > 0 and ln.startswith("# %%"))
        body = body[:second] + [_NOTICE.format(name=tutorial.name)] + body[second:]
    return _KERNEL_HEADER + "\n" + _SETUP_CELL.format(path=str(tutorial)) + "".join(body)


def gallery_sources(shared_data_present: bool) -> dict[str, str]:
    """``{relative path under docs/: text}`` of the gallery index and one copy per tutorial."""
    pages = {f"examples/{t.name}": gallery_source(t, shared_data_present) for t in tutorials()}
    index = [
        "# Examples",
        "",
        "The tutorials of `tutorials/` (jupytext `# %%` notebooks), executed when this site was",
        "built at their fast setting (`NEUROGEOM_FAST=1`, the one the test suite uses), with their",
        "figures. The full setting of each is described at its top; run one as a script",
        "(`python tutorials/02_manifold_geometry.py`) or open it as a notebook",
        "(`jupytext --to ipynb tutorials/*.py`).",
        "",
        "| | example |",
        "|---|---|",
    ]
    index += [f"| {t.stem[:2]} | [{title(t)}]({t.stem}) |" for t in tutorials()]
    index += ["", "```{toctree}", ":hidden:", ""]
    index += [t.stem for t in tutorials()]
    index += ["```", ""]
    pages["examples/index.md"] = "\n".join(index)
    return pages


def write_sources(shared_data_present: bool) -> None:
    """Write the generated pages, touching only files whose text changed (keeps builds cached)."""
    pages = {**api_sources(), **gallery_sources(shared_data_present)}
    for rel, text in pages.items():
        path = DOCS / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
    for folder in ("api", "examples"):
        wanted = {DOCS / rel for rel in pages if rel.startswith(folder + "/")}
        for path in (DOCS / folder).glob("*.*"):
            if path.is_file() and path not in wanted:
                path.unlink()  # a page whose name or tutorial is gone
