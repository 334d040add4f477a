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


def drawn_texts(fig) -> list:
    """Every text artist the figure draws (visible, non-empty), recorded while it draws."""
    from matplotlib.text import Text

    seen, original = [], Text.draw

    def record(self, renderer):
        if self.get_visible() and self.get_text().strip():
            seen.append(self)
        return original(self, renderer)

    Text.draw = record
    try:
        fig.canvas.draw()
    finally:
        Text.draw = original
    return seen


def texts_outside(fig) -> list[str]:
    """The drawn texts whose window extent leaves the figure's canvas."""
    box = fig.bbox
    renderer = fig.canvas.get_renderer()
    out = []
    for text in drawn_texts(fig):
        ext = text.get_window_extent(renderer)
        if ext.x0 < box.x0 - 0.5 or ext.x1 > box.x1 + 0.5 or ext.y0 < box.y0 - 0.5 or ext.y1 > box.y1 + 0.5:  # fmt: skip
            out.append(f"{text.get_text()!r} at {ext.bounds} in {box.bounds}")
    return out


def test_every_text_lies_inside_its_figure(figs):
    for name, fig in figs.items():
        assert drawn_texts(fig), name
        assert texts_outside(fig) == [], name


def test_strategy_plane_labels_its_contours_and_prints_the_capacities():
    a, b = synthetic_trajectory(0), synthetic_trajectory(1, flip=True)
    fig = plot_strategy_plane({"model": a, "brain": b})
    texts = drawn_texts(fig)
    ax = fig.axes[0]
    contour = [t.get_text() for t in ax.texts if t.get_gid() is None and t.get_text()]
    assert contour and all(s.startswith("(1+R⁻²)/D = ") for s in contour), contour
    assert not any("α" in t.get_text() or "alpha" in t.get_text() for t in texts)
    ends = {t.get_gid(): t.get_text() for t in texts if str(t.get_gid()).startswith("end_cap")}
    assert set(ends) == {"end_capacity:model", "end_capacity:brain"}
    for name, traj in (("model", a), ("brain", b)):
        shown = float(ends[f"end_capacity:{name}"].removeprefix("capacity = "))
        assert shown == pytest.approx(float(traj["capacity"].values[-1]), rel=5e-3)
    # plain tick labels: no "10^" or "x10" mathtext on either log axis
    ticks = [t.get_text() for t in texts if t in ax.get_xticklabels(which="both") + ax.get_yticklabels(which="both")]  # fmt: skip
    assert ticks and not any("$" in s or "10^" in s for s in ticks), ticks
    plt.close(fig)
