"""Figures: files written, non-empty and decodable, every axis labelled, one colour per condition."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _trajectories import synthetic_trajectory

from neurogeom.learning.stages import learning_stages
from neurogeom.show.figures import (
    palette,
    plot_brain_vs_model,
    plot_psychometric,
    plot_stages_heatmap,
    plot_strategy_plane,
    plot_trajectory,
    save_figure,
)


def psychometric_table() -> pd.DataFrame:
    coh = np.array([-0.5, -0.2, -0.05, 0.05, 0.2, 0.5])
    rows = []
    for ctx, gain in (("motion", 6.0), ("colour", 3.0)):
        acc = 1 / (1 + np.exp(-gain * np.abs(coh)))
        rows += [
            {"coherence": c, "accuracy": a, "se": 0.02, "context": ctx} for c, a in zip(coh, acc)
        ]
    return pd.DataFrame(rows)


def all_figures():
    a, b = synthetic_trajectory(0), synthetic_trajectory(1, flip=True)
    stages = learning_stages(a)
    sim = xr.Dataset(
        {
            "cka_similarity": ("stage", np.linspace(0.3, 0.9, 20)),
            "cka_similarity_null_low": ("stage", np.full(20, 0.05)),
            "cka_similarity_null_high": ("stage", np.full(20, 0.2)),
        }
    )
    return {
        "trajectory": plot_trajectory({"model": a, "brain": b}, stages=stages),
        "stages": plot_stages_heatmap(stages),
        "strategy": plot_strategy_plane({"model": a, "brain": b}),
        "brain_vs_model": plot_brain_vs_model({"brain": b, "model": a}, similarity=sim),
        "psychometric": plot_psychometric(psychometric_table(), error="se"),
    }


@pytest.fixture(scope="module")
def figs():
    out = all_figures()
    yield out
    for fig in out.values():
        plt.close(fig)


def test_every_figure_saves_png_and_svg(figs, tmp_path):
    for name, fig in figs.items():
        png, svg = save_figure(fig, tmp_path / name)
        assert png.stat().st_size > 5_000 and svg.stat().st_size > 5_000, name
        image = mpimg.imread(png)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 200, name
        assert image.std() > 0.01, name  # not a blank canvas
        assert ET.parse(svg).getroot().tag.endswith("svg"), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{n}.{s}" for n in figs for s in ("png", "svg")
    )  # no temporary file left behind


def test_every_axis_is_labelled_with_units(figs):
    for name, fig in figs.items():
        for ax in fig.axes:
            if ax.get_label() == "<colorbar>":
                assert ax.get_ylabel(), name
                continue
            assert ax.get_xlabel() and ax.get_ylabel(), (name, ax.get_xlabel(), ax.get_ylabel())
            assert "(" in ax.get_xlabel() and "(" in ax.get_ylabel(), name  # units or scale


def test_trajectory_shows_both_error_terms_and_null(figs):
    ax = figs["trajectory"].axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert any("resampling 95% CI" in s for s in labels)
    assert any("2 MC s.e." in s for s in labels)
    assert any("shuffle null" in s for s in labels)
    texts = {t.get_text() for t in ax.texts}
    assert {"clustering", "separating"} <= texts


def test_one_colour_per_condition_everywhere(figs):
    colors = palette(["brain", "model"])
    assert colors["brain"] != colors["model"]
    assert palette(["model"])["model"] == colors["model"] == palette(["model", "x", "y"])["model"]
    line = figs["strategy"].axes[0].get_lines()
    by_label = {ln.get_label(): ln.get_color() for ln in line if not ln.get_label().startswith("_")}
    assert tuple(plt.matplotlib.colors.to_rgb(by_label["model"])) == pytest.approx(colors["model"])
    many = palette([f"c{i}" for i in range(15)])
    assert len(set(many.values())) == 15


def test_bad_inputs(tmp_path):
    a = synthetic_trajectory(0)
    with pytest.raises(ValueError, match="lacks 'utility'"):
        plot_trajectory(a, measures=["utility"])
    with pytest.raises(TypeError, match="trajectory Dataset or a mapping"):
        plot_trajectory([a])
    with pytest.raises(ValueError, match="output of learning_stages"):
        plot_stages_heatmap(a)
    with pytest.raises(ValueError, match="lacks the columns \\['context'\\]"):
        plot_psychometric(psychometric_table().drop(columns="context"))
    fig = plt.figure()
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_figure(fig, tmp_path / "missing" / "x")
    plt.close(fig)
