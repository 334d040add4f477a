"""Naming the segments: each measure's fitted change and z score in a segment, and the label rule
(step 4 of :mod:`neurogeom.learning.stages`)."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["LABEL_RULE", "Z_MOVE", "label_segments"]

Z_MOVE = 3.0
ALIGNMENTS = ("center_alignment", "axis_alignment", "center_axis_alignment")
LABEL_RULE = (
    "first match: stabilizing (nothing moves, |z| <= 3); separating (capacity rises, dimension "
    "falls); clustering (radius falls, dimension does not fall); structuring (an alignment moves); "
    "changing (anything else)"
)


def _line_change(y: np.ndarray, t: np.ndarray, sd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fitted change first -> last checkpoint of each column of ``y`` and its z score."""
    tc = t - t.mean()
    sxx = float(tc @ tc)
    if sxx <= 0:
        return np.zeros(y.shape[1]), np.zeros(y.shape[1])
    slope = tc @ (y - y.mean(0)) / sxx
    width = t[-1] - t[0]
    change = slope * width
    se = sd * width / np.sqrt(sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, change / se, 0.0)
    return change, z


def _label(moves: dict[str, int]) -> str:
    """The stage name of one segment from which measures move (+1 rise, -1 fall, 0 not)."""
    if not any(moves.values()):
        return "stabilizing"
    if moves.get("capacity", 0) > 0 and moves.get("dimension", 0) < 0:
        return "separating"
    if moves.get("radius", 0) < 0 and moves.get("dimension", 0) >= 0:
        return "clustering"
    if any(moves.get(a, 0) for a in ALIGNMENTS):
        return "structuring"
    return "changing"


def label_segments(
    norm: xr.Dataset, measures: list[str], boundaries: list[int], z_threshold: float
) -> xr.Dataset:
    """Per-segment start/stop, label and per-measure change (normalised units) with z scores."""
    t = norm["log_step"].values
    values = norm["normalised"].values
    sd = norm["noise_sd"].values
    all_measures = norm["measure"].values.tolist()
    edges = [0, *boundaries, len(t)]
    change = np.zeros((len(edges) - 1, len(all_measures)))
    z = np.zeros_like(change)
    labels = []
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        rms = np.sqrt(np.mean(sd[a:b] ** 2, axis=0))
        change[k], z[k] = _line_change(values[a:b], t[a:b], rms)
        keep = np.isin(all_measures, measures)
        z[k] = np.where(keep, z[k], 0.0)
        moves = np.where(np.abs(z[k]) > z_threshold, np.sign(z[k]), 0).astype(int)
        labels.append(_label(dict(zip(all_measures, moves.tolist()))))
    step = norm["step"].values
    moves_all = np.where(np.abs(z) > z_threshold, np.sign(z), 0).astype(np.int64)
    return xr.Dataset(
        {
            "start_stage": ("segment", np.array(edges[:-1], dtype=np.int64)),
            "stop_stage": ("segment", np.array(edges[1:], dtype=np.int64)),
            "start_step": ("segment", step[edges[:-1]]),
            "stop_step": ("segment", step[np.array(edges[1:]) - 1]),
            "label": ("segment", np.array(labels, dtype=object).astype(str)),
            "change": (("segment", "measure"), change),
            "change_z": (("segment", "measure"), z),
            "moves": (("segment", "measure"), moves_all),
        },
        coords={"segment": np.arange(len(labels)), "measure": all_measures},
    )
