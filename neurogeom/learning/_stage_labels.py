"""Naming the segments: each measure's fitted change and z score in a segment, and the label rule
(step 4 of :mod:`neurogeom.learning.stages`)."""

from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["LABEL_RULE", "Z_MOVE", "boundary_changes", "boundary_reasons", "label_segments"]

Z_MOVE = 3.0
ALIGNMENTS = ("center_alignment", "axis_alignment", "center_axis_alignment")
LABEL_RULE = (
    "first match: stabilizing (nothing moves, |z| <= 3); separating (capacity rises, dimension "
    "falls); clustering (radius falls, dimension does not fall); structuring (an alignment moves); "
    "changing (anything else). A segment that would share its predecessor's name is named by the "
    "jump into it (the fitted lines' step across the boundary) when some measure jumps beyond "
    "|z| > 3; every boundary states why it stands (the measure whose "
    "level or rate changes most across it, or the measures' joint gain against the penalty)"
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


def _fit(y: np.ndarray, t: np.ndarray, sd: np.ndarray, at: float):
    """Straight-line fit of each column: value at ``at`` with its s.e., slope with its s.e."""
    tc = t - t.mean()
    sxx = float(tc @ tc)
    slope = tc @ (y - y.mean(0)) / sxx if sxx > 0 else np.zeros(y.shape[1])
    value = y.mean(0) + slope * (at - t.mean())
    lever = (at - t.mean()) ** 2 / sxx if sxx > 0 else 0.0
    value_se = sd * np.sqrt(1.0 / len(t) + lever)
    slope_se = sd / np.sqrt(sxx) if sxx > 0 else np.full(y.shape[1], np.inf)
    return value, value_se, slope, slope_se


def boundary_changes(
    norm: xr.Dataset, measures: list[str], boundaries: list[int]
) -> dict[str, np.ndarray]:
    """Per (boundary, measure): the jump of the two segments' fitted lines halfway between the
    boundary's two checkpoints (normalised units) and the change of their rate (per log10 step),
    each with its z score; measures not used get z = 0."""
    t = norm["log_step"].values
    values = norm["normalised"].values
    sd = norm["noise_sd"].values
    keep = np.isin(norm["measure"].values, measures)
    edges = [0, *boundaries, len(t)]
    shape = (len(boundaries), values.shape[1])
    out = {k: np.zeros(shape) for k in ("jump", "jump_z", "rate_change", "rate_change_z")}
    for i, b in enumerate(boundaries):
        at = 0.5 * (t[b - 1] + t[b])
        a, c = edges[i], edges[i + 2]
        fits = []
        for lo, hi in ((a, b), (b, c)):
            rms = np.sqrt(np.mean(sd[lo:hi] ** 2, axis=0))
            fits.append(_fit(np.nan_to_num(values[lo:hi]), t[lo:hi], rms, at))
        (v0, e0, s0, se0), (v1, e1, s1, se1) = fits
        with np.errstate(divide="ignore", invalid="ignore"):
            jz = np.where(keep, (v1 - v0) / np.hypot(e0, e1), 0.0)
            rz = np.where(keep, (s1 - s0) / np.hypot(se0, se1), 0.0)
        out["jump"][i], out["rate_change"][i] = v1 - v0, s1 - s0
        out["jump_z"][i], out["rate_change_z"][i] = np.nan_to_num(jz), np.nan_to_num(rz)
    return out


def boundary_reasons(
    names: list[str],
    jump_z: np.ndarray,
    rate_z: np.ndarray,
    gains: list[float],
    penalty: float,
    z_threshold: float,
) -> list[str]:
    """Why each boundary stands: the measure whose level or rate changes most across it, in s.e.,
    and, when none does beyond ``z_threshold``, the measures' joint gain against the penalty."""
    out = []
    for jz, rz, gain in zip(jump_z, rate_z, gains):
        j, r = int(np.argmax(np.abs(jz))), int(np.argmax(np.abs(rz)))
        if abs(jz[j]) >= abs(rz[r]):
            word = "rises" if jz[j] > 0 else "falls"
            most = f"the level of {names[j].replace('_', ' ')} {word} across it (z = {jz[j]:+.1f})"
        else:
            word = "rises" if rz[r] > 0 else "falls"
            most = (
                f"the slope of {names[r].replace('_', ' ')} (per log10 step) {word} across it "
                f"(z = {rz[r]:+.1f})"
            )
        if max(abs(jz[j]), abs(rz[r])) > z_threshold:
            out.append(most)
        else:
            out.append(
                f"no single measure changes beyond {z_threshold:g} s.e. across it (the largest: "
                f"{most}); the measures together do: two lines fit better than one by "
                f"{gain:.1f} against a penalty of {penalty:.1f}"
            )
    return out


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
    """Per-segment start/stop, label (and whether its own fit or the jump into it named it) and
    per-measure change (normalised units) with z scores; per boundary, the jump and rate change
    of each measure across it with z scores."""
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
    across = boundary_changes(norm, measures, boundaries)
    source = ["within"] * len(labels)
    for k in range(1, len(labels)):
        jz = across["jump_z"][k - 1]
        jumps = np.where(np.abs(jz) > z_threshold, np.sign(jz), 0).astype(int)
        if labels[k] == labels[k - 1] and jumps.any():
            labels[k], source[k] = _label(dict(zip(all_measures, jumps.tolist()))), "jump"
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
            "label_source": ("segment", np.array(source, dtype=str)),
            "jump": (("boundary", "measure"), across["jump"]),
            "jump_z": (("boundary", "measure"), across["jump_z"]),
            "rate_change": (("boundary", "measure"), across["rate_change"]),
            "rate_change_z": (("boundary", "measure"), across["rate_change_z"]),
        },
        coords={"segment": np.arange(len(labels)), "measure": all_measures},
    )
