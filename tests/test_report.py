"""The HTML report: self-contained, and rendered in a real headless chromium with every image decoded."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _browser import CHROMIUM, render
from _trajectories import synthetic_trajectory

from neurogeom.learning.stages import learning_stages
from neurogeom.learning.stats import paired_difference
from neurogeom.show import _readings, report
from neurogeom.show.figures import plot_stages_heatmap, plot_strategy_plane, plot_trajectory
from neurogeom.show.report import Report, reading


def build_report() -> Report:
    a, b = synthetic_trajectory(0), synthetic_trajectory(1, flip=True)
    stages = learning_stages(a)
    test = paired_difference([0.10, 0.12, 0.09, 0.11], [0.28, 0.31, 0.25, 0.30], n_perm=100)
    rep = Report(
        "Geometry across learning <synthetic>",
        inputs={"trajectory": "synthetic, 20 checkpoints", "networks": 2},
        settings={
            "estimator": "glue",
            "n_boot": 20,
            "seed": 0,
            "penalty rule": stages.attrs["penalty_rule"],
        },
    )
    rep.add_section("Trajectories", "Six GLUE measures along training.")
    rep.add_figure(
        plot_trajectory({"model": a, "brain": b}, stages=stages),
        "Capacity, radius and dimension; bands: resampling CI; bars: 2 MC s.e.; grey: null.",
        reading(stages),
    )
    rep.add_section("Learning stages")
    rep.add_figure(plot_stages_heatmap(stages), "Min-max normalised measures per checkpoint.")
    rep.add_table(stages[["start_step", "stop_step", "label"]].to_dataframe(), "Segments.")
    rep.add_section("Strategies")
    rep.add_figure(plot_strategy_plane({"model": a, "brain": b}), "Routes over capacity contours.")
    rep.add_section("Before vs after")
    rep.add_table(
        test[["difference", "difference_ci_low", "difference_ci_high", "p_value"]], "Paired test."
    )
    rep.add_text(reading(test))
    rep.add_text(
        reading(xr.Dataset({"capacity": 0.2}, attrs={"at_floor": 1, "no_separating_fraction": 1.0}))
    )
    return rep


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    return build_report().save(tmp_path_factory.mktemp("report") / "report.html")


def test_doctests_run():
    assert doctest.testmod(report, optionflags=doctest.ELLIPSIS).failed == 0
    assert doctest.testmod(_readings).failed == 0


def test_report_is_self_contained(saved):
    text = saved.read_text(encoding="utf-8")
    assert text.count('src="data:image/png;base64,') == 3
    assert not re.search(r'(src|href)="(?!data:|#)', text), "an external resource"
    assert "<script" not in text and "http://" not in text and "https://" not in text
    assert "&lt;synthetic&gt;" in text  # text is escaped
    for heading in (
        "Inputs",
        "Settings",
        "Trajectories",
        "Learning stages",
        "Strategies",
        "Before vs after",
    ):
        assert f"<h2>{heading}</h2>" in text
    assert text.count("<table") == 4 and "<caption>Paired test.</caption>" in text
    assert "radius and dimension carry no information" in text
    assert list(saved.parent.iterdir()) == [saved]  # written atomically, nothing else left


def test_readings_say_what_results_mean():
    stages = learning_stages(synthetic_trajectory(0))
    text = reading(stages)
    assert "convention, not a finding" in text and "clustering" in text
    assert "chance could give" in reading(
        paired_difference([1.0, 2.0, 3.0], [1.1, 1.9, 3.05], n_perm=100)
    )
    with pytest.raises(ValueError, match="no reading is known"):
        reading(xr.Dataset({"x": 1.0}, attrs={"estimator": "mystery"}))


def test_bad_inputs(tmp_path):
    rep = Report("x")
    with pytest.raises(TypeError, match="matplotlib Figure"):
        rep.add_figure(np.zeros((3, 3)), "not a figure")
    with pytest.raises(TypeError, match="DataFrame or xarray Dataset"):
        rep.add_table([[1, 2]], "not a table")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        rep.save(tmp_path / "no" / "r.html")
    assert not (tmp_path / "no").exists()
    assert "<h2>Results</h2>" in Report("y").add_table(pd.DataFrame({"a": [1]}), "t").to_html()


@pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary (CI installs Debian's chromium in .ci/run)"
)
def test_report_renders_in_headless_chromium(saved, tmp_path):
    shot = tmp_path / "report.png"
    sizes, errors = render(saved, shot)
    assert len(sizes) == 3
    assert all(done and w > 100 and h > 100 for done, w, h in sizes), sizes
    assert errors == []
    image = mpimg.imread(shot)
    assert image.shape[0] > 900 and image.shape[1] >= 1200 and image.std() > 0.01
