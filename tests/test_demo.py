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

NETWORKS = ("cdm", "cdm_seed1", "cdm_seed2")
ANIMALS = ("m1", "m2", "m3", "m4", "m5", "m6")
FIGURES = (
    "cohorts",
    "study_mice",
    *(f"{kind}_{n}" for n in NETWORKS for kind in ("trajectory", "stages", "psychometric")),
)
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
    for heading in (
        "Summary",
        "Contents",
        "Inputs",
        "Settings",
        "Learning stages of 'cdm'",
        "Study 'mice' vs networks: 6 animals vs 3 networks (configuration 'context_dm')",
    ):
        assert f"<h2>{html.escape(heading)}</h2>" in text
    # the answer first: the summary and its figure before every section, inputs and settings last
    order = [text.index(f"<h2>{h}</h2>") for h in ("Summary", "Contents", "Inputs", "Settings")]
    assert order == sorted(order) and text.index("<h2>Summary</h2>") < text.index("<img")
    assert (demo / "report.html").stat().st_size <= 5_000_000
    assert text.count('<p class="reading">') == len(FIGURES)


def test_netcdf_reloads_with_the_numbers_of_the_tables(demo):
    text = (demo / "report.html").read_text(encoding="utf-8")
    for name in NETWORKS:
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
    test = load(demo / "results" / "study_mice_stage_difference.nc")
    head, rows = _table(text, "Paired test of capacity across subjects")
    assert [r[0] for r in rows] == [*ANIMALS, "all subjects"]
    for i in range(len(ANIMALS)):
        for col, var in (("difference", "subject_difference"), ("n_points", "n_points")):
            np.testing.assert_allclose(
                float(rows[i][head.index(col)]), test[var].values[i], rtol=5e-3
            )
    for col in ("difference", "p_value"):
        np.testing.assert_allclose(float(rows[-1][head.index(col)]), float(test[col]), rtol=5e-3)
    # the sample study's animals learn (data/README.md): capacity rises in every one of them
    assert np.all(test["subject_difference"].values > 0)
    assert test.attrs["exact"] == 1 and float(test["p_value"]) == 2 / 2**6


def _summary_text(text: str) -> str:
    return html.unescape(text[text.index("<h2>Summary</h2>") : text.index("<h2>Contents</h2>")])


def test_summary_numbers_are_those_of_the_results(demo):
    from neurogeom.show.report import significant

    text = (demo / "report.html").read_text(encoding="utf-8")
    head, rows = _table(text, "Summary:")
    by = {r[head.index("source")]: r for r in rows}
    assert list(by) == [
        *(f"mice: {a}" for a in ANIMALS),
        "mice: pooled",
        *NETWORKS,
        "networks ('context_dm'): pooled",
    ]
    col = {c: head.index(c) for c in head}
    # each animal: first and last session, the change and its interval
    traj = load(demo / "results" / "study_mice_trajectory.nc")
    test = load(demo / "results" / "study_mice_stage_difference.nc")
    for i, animal in enumerate(ANIMALS):
        row = by[f"mice: {animal}"]
        assert row[col["behind it"]] == "1 animal" and row[col["kind"]] == "animal"
        cap = traj["capacity"].values[i]
        for c, want in (("capacity first", cap[0]), ("capacity last", cap[-1]),
                        ("change", traj["capacity_change"].values[i]),
                        ("change", test["subject_difference"].values[i]),
                        ("change CI low", traj["capacity_change_ci_low"].values[i]),
                        ("change CI high", traj["capacity_change_ci_high"].values[i]),
                        ("M", traj["n_points"].values[i])):  # fmt: skip
            np.testing.assert_allclose(float(row[col[c]]), want, rtol=5e-3, err_msg=(animal, c))
    # pooled over the animals: hierarchical interval and paired p-value
    row = by["mice: pooled"]
    assert row[col["behind it"]] == "6 animals"
    for c, want in (("capacity first", traj["capacity_study"].values[0]),
                    ("capacity last", traj["capacity_study"].values[-1]),
                    ("change", traj["capacity_study_change"]), ("change", test["difference"]),
                    ("change CI low", traj["capacity_study_change_ci_low"]),
                    ("change CI high", traj["capacity_study_change_ci_high"]),
                    ("p", test["p_value"])):  # fmt: skip
        np.testing.assert_allclose(float(row[col[c]]), float(want), rtol=5e-3, err_msg=c)
    assert "paired sign flip across 6 animals" in row[col["test"]]
    # the networks, one by one and pooled
    caps = []
    for name in NETWORKS:
        cap = load(demo / "results" / f"trajectory_{name}.nc")["capacity"].values
        caps.append(cap)
        assert by[name][col["behind it"]] == "1 network"
        for c, want in (("capacity first", cap[0]), ("capacity last", cap[-1]),
                        ("change", cap[-1] - cap[0])):  # fmt: skip
            np.testing.assert_allclose(float(by[name][col[c]]), want, rtol=5e-3)
    row = by["networks ('context_dm'): pooled"]
    assert row[col["behind it"]] == "3 networks"
    np.testing.assert_allclose(
        float(row[col["change"]]), np.mean([c[-1] - c[0] for c in caps]), rtol=5e-3
    )
    # the verdicts: the study's change, and brain vs model from the cohorts' results
    summary = _summary_text(text)
    assert "6 animals" in summary and "3 networks" in summary
    cohorts = load(demo / "results" / "cohorts.nc")
    sim = load(demo / "results" / "cohort_similarity.nc").isel(stage=-1)
    assert cohorts.attrs["n_animals"] == 6 and cohorts.attrs["n_networks"] == 3
    assert sim.attrs["n_animals"] == 6 and sim.attrs["n_networks"] == 3
    assert (
        cohorts.attrs["n_perm"] >= 19 and sim.attrs["n_perm"] >= 19 and test.attrs["n_perm"] >= 19
    )
    values = [float(traj["capacity_study_change"]), float(traj["capacity_study_change_ci_low"]),
              float(traj["capacity_study_change_ci_high"]), float(test["p_value"]),
              *cohorts["percentile"].values.ravel(), *cohorts["p_value"].values.ravel(),
              float(cohorts["distance"][0]), float(cohorts["distance_ci_low"][0]),
              float(cohorts["distance_ci_high"][0]),
              *(float(sim[f"{m}{s}"]) for m in ("cka", "rsa")
                for s in ("", "_null_low", "_null_high", "_p_value"))]  # fmt: skip
    for value in values:
        assert significant(value) in summary, (value, summary)
    assert f"Closest configuration: '{cohorts['closest'].values}'" in summary


def test_cohort_section_draws_the_animals_over_the_networks_band(demo):
    text = (demo / "report.html").read_text(encoding="utf-8")
    cohorts = load(demo / "results" / "cohorts.nc")
    # the trajectories drawn are those compared, each cohort at one M
    m = cohorts.attrs["points_per_manifold"]
    assert np.all(cohorts["n_points_animal"].values == m)
    assert np.all(cohorts["n_points_network"].values == m)
    assert list(cohorts["subject"].values) == list(ANIMALS)
    assert list(cohorts["network"].values) == list(NETWORKS)
    assert cohorts["capacity_animal"].dims == ("subject", "stage")
    caption = html.unescape(
        re.search(
            r'<img alt="(Capacity, radius, dimension of each of the 6 '
            r'animals[^"]*)"',
            text,
        ).group(1)
    )
    assert "3 networks (band: their range; dashed: their mean)" in caption
    assert f"networks {m}." in caption and "N (units): animals" in caption
    n = cohorts["n_units_animal"].values
    assert (
        f"animals {int(np.nanmin(n))} to {int(np.nanmax(n))} per session; networks 128" in caption
    )
    head, rows = _table(text, "Where the animals fall among the networks")
    for r in rows:
        cell = cohorts.sel(
            configuration=r[head.index("configuration")], output=r[head.index("output")]
        )
        for c in ("percentile", "p_value"):
            np.testing.assert_allclose(float(r[head.index(c)]), float(cell[c]), rtol=5e-3)
    assert len(rows) == 3


def test_every_figure_states_m_and_n(demo):
    text = html.unescape((demo / "report.html").read_text(encoding="utf-8"))
    captions = re.findall(r'<img alt="([^"]*)"', text)
    assert len(captions) == len(FIGURES)
    for caption in captions:
        assert re.search(r"\bM\b", caption) and re.search(r"\bN\b", caption), caption
    for name in NETWORKS:
        traj = load(demo / "results" / f"trajectory_{name}.nc")
        assert traj.attrs["points_per_manifold"] == 20 and traj.attrs["n_units"] == 128


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
                    models=list(NETWORKS), studies=["mice"], cohort="mice",
                    condition_names={"context": {"0": "motion", "1": "color"}})  # fmt: skip
    assert len(kept) == len(FIGURES)
    for fig in kept:
        assert texts_outside(fig) == [], fig.axes[0].get_xlabel()
    legends = [leg for fig in kept for leg in (*fig.legends, *(ax.get_legend() for ax in fig.axes))]
    texts = [t.get_text() for leg in legends if leg is not None for t in leg.texts]
    assert "motion" in texts and "context 0" not in texts
    # the cohort figure's legend names what is drawn: each animal, the networks' band and mean
    assert {f"animal {a}" for a in ANIMALS} <= set(texts)
    assert {"context_dm: range of 3 networks", "context_dm: mean of 3 networks"} <= set(texts)


def test_timings_name_every_phase(demo):
    timings = json.loads((demo / "results" / "timings.json").read_text())
    for phase in ("simulate", "prepare", "geometry", "bootstrap", "compare", "plots"):
        assert timings["seconds"][phase] > 0, phase
    assert abs(sum(timings["share"].values()) - 1) < 1e-9
    assert timings["reused"] == [] and timings["notes"] == []


def test_rerun_reuses_every_result(demo):
    before = load(demo / "results" / "trajectory_cdm.nc")
    result = CliRunner().invoke(app, ["demo", "-o", str(demo), "--no-progress"])
    assert result.exit_code == 0, result.output
    timings = json.loads((demo / "results" / "timings.json").read_text())
    assert {
        "trajectory_cdm",
        "stages_cdm",
        "study_mice_trajectory",
        "study_mice_stage_difference",
        "cohorts",
        "cohort_similarity",
    } <= set(timings["reused"])
    # nothing recomputed: every result file of the first run was read back
    assert set(timings["reused"]) == {p.stem for p in (demo / "results").glob("*.nc")}
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
