"""The documentation site: every public name has an API page, every tutorial a gallery page, and
the built pages render in headless chromium.

The sources are checked without building (``docs/_generate.py`` writes them when Sphinx starts).
The built site is checked when ``docs/_build/html`` exists; CI builds it after the test run
(README's ``ci:docs`` block) and runs this file again with ``NEUROGEOM_DOCS_BUILT=1``, which turns
a missing site into a failure instead of a skip.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from _browser import CHROMIUM

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "docs" / "_build" / "html"
WIDTH = 1280


def _generate():
    spec = importlib.util.spec_from_file_location(
        "_ng_docs_generate", ROOT / "docs" / "_generate.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generate()


def _built() -> Path:
    if (HTML / "index.html").is_file():
        return HTML
    if os.environ.get("NEUROGEOM_DOCS_BUILT") == "1":
        pytest.fail(f"NEUROGEOM_DOCS_BUILT=1 but {HTML / 'index.html'} does not exist")
    pytest.skip(f"the site is not built ({HTML} absent): run the README's ci:docs command")


def missing_api_entries(pages: dict[str, str], names: list[str]) -> list[str]:
    """Names of ``names`` that no generated API source documents."""
    missing = []
    for dotted in names:
        module, short = dotted.rsplit(".", 1)
        if f"api/{dotted}.rst" in pages:  # a module: its own page
            continue
        page = pages.get(f"api/{module}.rst", "")
        if not re.search(rf"^   {re.escape(short)}$", page, flags=re.M):
            missing.append(dotted)
    return missing


def test_every_public_name_has_an_api_source():
    names = gen.public_names()
    pages = gen.api_sources()
    assert len(names) > 300
    assert missing_api_entries(pages, names) == []
    # the check can fail: a name the snapshot does not hold, in a module that has a page
    assert missing_api_entries(pages, ["neurogeom.geometry.not_a_name"]) == [
        "neurogeom.geometry.not_a_name"
    ]
    assert "neurogeom.geometry" in pages["api/index.rst"]


def test_every_tutorial_has_a_gallery_source():
    tutorials = gen.tutorials()
    assert len(tutorials) >= 10
    pages = gen.gallery_sources(shared_data_present=True)
    for t in tutorials:
        text = pages[f"examples/{t.name}"]
        assert text.endswith(t.read_text().split("# %%", 1)[1]), t.name
        assert f"__file__ = {str(t)!r}" in text
        assert f"]({t.stem})" in pages["examples/index.md"]


def test_a_tutorial_that_needs_absent_data_gets_a_notice(tmp_path):
    tutorial = tmp_path / "07_x.py"
    tutorial.write_text("# requires: shared-data\n# %% [markdown]\n# # Title\n\n# %%\nx = 1\n")
    absent = gen.gallery_source(tutorial, shared_data_present=False)
    present = gen.gallery_source(tutorial, shared_data_present=True)
    assert "were not found when this site was built" in absent
    assert "were not found" not in present
    assert absent.index("# # Title") < absent.index("not found") < absent.index("x = 1")
    assert "# requires:" not in absent  # the header mark is not shown as a code cell


def test_the_built_site_has_every_api_and_gallery_page():
    html = _built()
    names = gen.public_names()
    missing = [n for n in names if not (html / f"{gen.api_page(n)}.html").is_file()]
    assert missing == []
    for t in gen.tutorials():
        page = html / f"{gen.gallery_page(t)}.html"
        assert page.is_file(), t.name
    assert (html / "changelog.html").read_text().count("0.2.0") >= 1
    # an executed example shows the figures it draws
    assert "<img" in (html / "examples" / "02_manifold_geometry.html").read_text()


@pytest.mark.parametrize(
    "page",
    [
        "index.html",
        "examples/02_manifold_geometry.html",
        "api/generated/neurogeom.geometry.glue.html",
    ],
)
def test_page_renders_in_chromium(page, tmp_path):
    html = _built()
    if CHROMIUM is None:
        pytest.skip("no chromium binary (CI installs Debian's chromium in .ci/run)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            tab = browser.new_page(viewport={"width": WIDTH, "height": 900})
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            tab.goto((html / page).as_uri(), wait_until="load")
            images = tab.evaluate(
                "() => Array.from(document.images).map(i => [i.src, i.complete, i.naturalWidth])"
            )
            width = tab.evaluate("() => document.documentElement.scrollWidth")
            tab.screenshot(path=str(tmp_path / "page.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    undecoded = [src for src, complete, natural in images if not (complete and natural > 0)]
    assert undecoded == []
    if page.startswith("examples/"):
        assert len(images) >= 1, "the gallery page shows its figures"
    assert width <= WIDTH, f"{page} is {width} px wide at a {WIDTH} px window"
