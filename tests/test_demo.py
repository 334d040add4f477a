"""The main job: `neurogeom demo` at its real setting, once; its report, figures and netCDF."""

from __future__ import annotations

import base64
import html
import io
import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest
from typer.testing import CliRunner

from neurogeom.cli import app
from neurogeom.io.store import load

pytest.importorskip("torch")

FIGURES = ("trajectory_sample", "trajectory_cdm", "stages_cdm", "strategy_plane",
           "brain_vs_model", "psychometric_cdm")  # fmt: skip
IMG = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(app, ["demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'report.html'}" in " ".join(result.output.split())
    return out


def _table(text: str, caption_start: str) -> tuple[list[str], list[list[str]]]:
    """Header and body cells of the report table whose caption starts with ``caption_start``."""
    start = text.index(f"<caption>{html.escape(caption_start)}")
    body = text[start : text.index("</table>", start)]
    head = [html.unescape(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", body.split("</thead>")[0])]
    rows = re.findall(r"<tr>(.*?)</tr>", body.split("</thead>")[1], flags=re.S)
    cells = [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, flags=re.S)]
             for r in rows]  # fmt: skip
    return head, cells


def test_report_holds_every_figure_embedded_and_decodable(demo):
    text = (demo / "report.html").read_text(encoding="utf-8")
    images = IMG.findall(text)
    assert len(images) == len(FIGURES) == text.count('src="data:image/png;base64,')
    for data in images:
        img = mpimg.imread(io.BytesIO(base64.b64decode(data)), format="png")
        assert img.shape[0] > 100 and img.shape[1] > 100 and img.std() > 0.01
    for stem in FIGURES:
        assert (demo / "figures" / f"{stem}.png").stat().st_size > 1000
        assert (demo / "figures" / f"{stem}.svg").read_text().lstrip().startswith("<?xml")
    assert not re.search(r'(src|href)="(?!data:|#)', text) and "<script" not in text
    for heading in ("Summary", "Contents", "Inputs", "Settings", "Brain vs model",
                    "Learning stages of 'cdm'"):  # fmt: skip
        assert f"<h2>{html.escape(heading)}</h2>" in text
    # the answer first: the summary and its figure before every section, inputs and settings last
    order = [text.index(f"<h2>{h}</h2>") for h in ("Summary", "Contents", "Inputs", "Settings")]
    assert order == sorted(order) and text.index("<h2>Summary</h2>") < text.index("<img")
    assert (demo / "report.html").stat().st_size <= 5_000_000
    assert text.count('<p class="reading">') == len(FIGURES)


def test_netcdf_reloads_with_the_numbers_of_the_tables(demo):
    text = (demo / "report.html").read_text(encoding="utf-8")
    for name in ("sample", "cdm"):
        traj = load(demo / "results" / f"trajectory_{name}.nc")
        head, rows = _table(text, f"Trajectory of '{name}'")
        assert len(rows) == 3 * traj.sizes["stage"]  # capacity, radius, dimension
        m = head.index("measure")
        for measure in ("capacity", "radius", "dimension"):
            mine = [r for r in rows if r[m] == measure]
            for col, suffix in (("value", ""), ("ci_low", "_ci_low"), ("null_mean", "_null_mean"),
                                ("mc_sem", "_sem")):  # fmt: skip
                shown = np.array([float(r[head.index(col)]) for r in mine])
                np.testing.assert_allclose(shown, traj[f"{measure}{suffix}"].values, rtol=5e-3,
                                           err_msg=f"{measure}{suffix}")  # fmt: skip
    test = load(demo / "results" / "stage_test_sample.nc")
    head, rows = _table(text, "Stage-to-stage test")
    for col in ("difference", "p_value"):
        np.testing.assert_allclose(float(rows[0][head.index(col)]), float(test[col]), rtol=5e-3)
    # the synthetic late session has the sharper choice code (data/README.md): GLUE sees it
    assert float(test["difference"]) > 0 and float(test["difference_ci_low"]) > 0


def test_summary_numbers_are_those_of_the_results(demo):
    text = (demo / "report.html").read_text(encoding="utf-8")
    head, rows = _table(text, "Summary:")
    by = {r[head.index("source")]: r for r in rows}
    assert set(by) == {"sample", "cdm"}
    for name in ("sample", "cdm"):
        traj = load(demo / "results" / f"trajectory_{name}.nc")
        cap = traj["capacity"].values
        row = by[name]
        for col, want in (("capacity first", cap[0]), ("capacity last", cap[-1])):
            np.testing.assert_allclose(float(row[head.index(col)]), want, rtol=5e-3)
    test = load(demo / "results" / "stage_test_sample.nc")
    for col, var in (("change", "difference"), ("change CI low", "difference_ci_low"),
                     ("change CI high", "difference_ci_high"), ("p", "p_value")):  # fmt: skip
        np.testing.assert_allclose(
            float(by["sample"][head.index(col)]), float(test[var]), rtol=5e-3
        )
    cdm = load(demo / "results" / "trajectory_cdm.nc")["capacity"].values
    np.testing.assert_allclose(float(by["cdm"][head.index("change")]), cdm[-1] - cdm[0], rtol=5e-3)
    assert by["sample"][head.index("behind it")] == "1 animal"
    assert by["cdm"][head.index("behind it")] == "1 network"
    # the verdict: trajectory correlation and the last matched stage's CKA against its null
    cmp = load(demo / "results" / "compare_trajectories.nc").sel(output="capacity")
    reps = load(demo / "results" / "compare_representations.nc").isel(stage_a=-1)
    summary = html.unescape(text[text.index("<h2>Summary</h2>") : text.index("<h2>Contents</h2>")])
    from neurogeom.show.report import significant

    for value in (float(cmp["correlation"]), float(cmp["correlation_p_value"]),
                  float(reps["cka_similarity"]), float(reps["cka_similarity_null_low"]),
                  float(reps["cka_similarity_null_high"])):  # fmt: skip
        assert significant(value) in summary, (value, summary)


def test_every_report_figure_keeps_its_text_inside(demo, monkeypatch):
    """Rebuild the report from results/*.nc, keeping each figure object, and check every drawn
    text artist lies inside its figure."""
    from test_figures import texts_outside

    from neurogeom.show import report as report_module
    from neurogeom.show.learning_report import learning_report

    kept, original = [], report_module.Report.add_figure

    def keep(self, fig, caption, reading=None, *, close=True):
        kept.append(fig)
        return original(self, fig, caption, reading, close=False)

    monkeypatch.setattr(report_module.Report, "add_figure", keep)
    results = {p.stem: load(p) for p in (demo / "results").glob("*.nc")}
    learning_report(results, title="t", inputs={}, settings={}, figures=demo / "figures",
                    recordings=["sample"], models=["cdm"], compare=("sample", "cdm"),
                    condition_names={"context": {"0": "motion", "1": "color"}})  # fmt: skip
    assert len(kept) == len(FIGURES)
    for fig in kept:
        assert texts_outside(fig) == [], fig.axes[0].get_xlabel()
    texts = [t.get_text() for fig in kept for ax in fig.axes if ax.get_legend() is not None
             for t in ax.get_legend().texts]  # fmt: skip
    assert "motion" in texts and "context 0" not in texts


def test_timings_name_every_phase(demo):
    timings = json.loads((demo / "results" / "timings.json").read_text())
    for phase in ("load", "simulate", "prepare", "geometry", "bootstrap", "compare", "plots"):
        assert timings["seconds"][phase] > 0, phase
    assert abs(sum(timings["share"].values()) - 1) < 1e-9
    assert timings["reused"] == [] and timings["notes"] == []


def test_rerun_reuses_every_result(demo):
    before = load(demo / "results" / "trajectory_cdm.nc")
    result = CliRunner().invoke(app, ["demo", "-o", str(demo), "--no-progress"])
    assert result.exit_code == 0, result.output
    timings = json.loads((demo / "results" / "timings.json").read_text())
    assert {"trajectory_cdm", "trajectory_sample", "stages_cdm", "strategy"} <= set(
        timings["reused"]
    )
    assert timings["seconds"]["bootstrap"] < 5
    after = load(demo / "results" / "trajectory_cdm.nc")
    np.testing.assert_array_equal(after["capacity"].values, before["capacity"].values)


def test_report_renders_in_headless_chromium(demo, tmp_path):
    from _browser import render

    shot = tmp_path / "demo.png"
    sizes, errors = render(demo / "report.html", shot)
    assert len(sizes) == len(FIGURES)
    assert all(done and w > 100 and h > 100 for done, w, h in sizes), sizes
    assert errors == []
    image = mpimg.imread(shot)
    assert image.shape[0] > 900 and image.shape[1] >= 1200 and image.std() > 0.01


def test_report_has_no_horizontal_overflow_at_1280_px(demo):
    from _browser import CHROMIUM

    if CHROMIUM is None:
        pytest.skip("no chromium binary")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto((demo / "report.html").as_uri(), wait_until="load")
            width = page.evaluate("() => document.scrollingElement.scrollWidth")
        finally:
            browser.close()
    assert width <= 1280
