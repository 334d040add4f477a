"""Render an HTML file in Debian's headless chromium (driven by playwright) for the report tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)


def render(page_path: Path, shot: Path) -> tuple[list[list], list[str]]:
    """Open ``page_path`` in headless chromium, screenshot it to ``shot``.

    Returns
    -------
    sizes : list of [complete, natural_width, natural_height]
        One per image of the page.
    errors : list of str
        Console errors, page errors and failed requests.
    """
    if CHROMIUM is None:
        pytest.skip("no chromium binary (CI installs Debian's chromium in .ci/run)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
            page.goto(Path(page_path).as_uri(), wait_until="load")
            sizes = page.evaluate(
                "() => Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
            )
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return sizes, errors
