"""Sphinx configuration of the neurogeom site.

Build (no network needed): ``python -m sphinx -W -b html docs docs/_build/html``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))  # the checkout's neurogeom, also when it is not installed
sys.path.insert(0, str(DOCS))

import _generate  # noqa: E402

import neurogeom  # noqa: E402

SHARED_DATA = Path(os.environ.get("NEUROGEOM_SHARED_DATA") or ROOT.parent / "shared" / "data")
SHARED_DATA_PRESENT = SHARED_DATA.is_dir()

# The gallery runs every tutorial at its fast setting (the test suite's), headless, writing the
# figures it saves to a folder inside the build tree; the kernels inherit this environment.
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
)  # the kernels import this checkout's neurogeom, as Sphinx does
os.environ["NEUROGEOM_FAST"] = "1"
os.environ["MPLBACKEND"] = "Agg"
os.environ["NEUROGEOM_SHARED_DATA"] = str(SHARED_DATA)
os.environ.setdefault("NEUROGEOM_TUTORIAL_OUT", str(DOCS / "_build" / ".tutorial_out"))
Path(os.environ["NEUROGEOM_TUTORIAL_OUT"]).mkdir(parents=True, exist_ok=True)

_generate.write_sources(SHARED_DATA_PRESENT)

project = "neurogeom"
author = "the neurogeom authors"
copyright = "the neurogeom authors, BSD-3-Clause"
release = neurogeom.__version__
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
exclude_patterns = ["_build", "_templates", "conf.py", "_generate.py", "**.ipynb_checkpoints"]
templates_path = ["_templates"]
root_doc = "index"

# ---------------------------------------------------------------------------------------------
# Cross-references: checked (nitpicky), resolved without the network (no intersphinx).

nitpicky = True

# Third-party targets: no inventories are fetched, so names from these packages cannot resolve.
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|xr|xarray|pd|pandas|scipy|torch|sklearn|dask|distributed|zarr)(\..*)?"),
    (
        r"py:.*",
        r"(h5py|pynwb|hdmf|matplotlib|plt|mpl|seaborn|sns|numba|joblib|typer|pydantic)(\..*)?",
    ),
    (r"py:.*", r"(neurogym|gymnasium|ruptures|pathlib|collections|typing|os|json|datetime)(\..*)?"),
    (r"py:.*", r"(DataArray|Dataset|DataTree|ndarray|Generator|Figure|Axes|Path|Callable|Module)"),
]

# neurogeom's own references that do not resolve yet (a docstring names an object that is not
# public, or spells it so that it cannot be found). THIS LIST MUST SHRINK: fix the docstring, then
# remove its entry. Each entry is (role, target).
NEUROGEOM_BROKEN_REFERENCES: list[tuple[str, str]] = [
    ("py:data", "INPUTS"),  # an autosummary line of the geometry page
]
nitpick_ignore = list(NEUROGEOM_BROKEN_REFERENCES)

# neurogeom docstrings that reStructuredText cannot parse (a table or a list out of line): shown
# verbatim until they are fixed. THIS LIST MUST SHRINK as well.
NEUROGEOM_DOCSTRINGS_SHOWN_VERBATIM = ["neurogeom.learning.stats", "neurogeom.specs"]

# Docstrings write absolute values as |cos|, which reStructuredText reads as a substitution: these
# definitions print them as written. THIS LIST MUST SHRINK too (write ``|cos|`` in the docstring).
NEUROGEOM_BARS_AS_WRITTEN = ["cos", "cosine", "inner product", "inner products"]
rst_prolog = "\n".join(rf".. |{w}| replace:: \|{w}\|" for w in NEUROGEOM_BARS_AS_WRITTEN) + "\n"


def _docstring_fixes(app, what, name, obj, options, lines):
    """Verbatim docstrings (above); a data object's class docstring is not its own."""
    if name in NEUROGEOM_DOCSTRINGS_SHOWN_VERBATIM and lines:
        lines[:] = ["::", ""] + ["    " + ln for ln in lines]
    elif what in ("data", "attribute") and lines:
        if getattr(obj, "__doc__", None) == getattr(type(obj), "__doc__", None):
            kind = f"{type(obj).__module__}.{type(obj).__qualname__}"
            lines[:] = [f"An instance of ``{kind}``."]


def setup(app):
    app.connect("autodoc-process-docstring", _docstring_fixes, priority=600)


# ---------------------------------------------------------------------------------------------
# API reference: autosummary over the curated public API (docs/_generate.py), numpydoc.

autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # the types are in each numpydoc Parameters section
autodoc_member_order = "bysource"
autodoc_default_options = {}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# ---------------------------------------------------------------------------------------------
# Example gallery: the jupytext tutorials, executed by myst-nb with a cache.

nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "cache"
nb_execution_cache_path = str(DOCS / "_build" / ".jupyter_cache")
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_excludepatterns = [
    f"examples/{t.name}"
    for t in _generate.tutorials()
    if "shared-data" in _generate.requires(t) and not SHARED_DATA_PRESENT
]
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3

# ---------------------------------------------------------------------------------------------
# HTML

html_theme = "pydata_sphinx_theme"
html_title = f"neurogeom {release}"
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_align": "left",
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "auto"}  # light or dark as the reader's system says
html_show_sourcelink = False
html_copy_source = False
