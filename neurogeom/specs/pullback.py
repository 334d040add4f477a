"""The pullback spec: networks trained on the reference sine-boundary task, read along training.

A TOML file with a ``[pullback]`` section (``tasks/pullback_sine.toml``), run by
``neurogeom run`` (:func:`neurogeom.workflows.pipeline.run_pipeline`). :data:`DEFAULTS` lists every key with its
default (the reference setting); :func:`load_pullback_spec` reads and checks one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from neurogeom.specs._common import read_toml
from neurogeom.specs.lazy_rich import ACTIVATION_NAMES, INIT_NAMES

__all__ = ["DEFAULTS", "SETTINGS", "load_pullback_spec"]

DEFAULTS: dict[str, Any] = {
    "seeds": [0, 1, 2],
    "data_seed": 0,
    "n_points": 400,
    "amplitude": 0.6,
    "frequency": 7.0,
    "phase": 1.0,
    "width": 250,
    "activation": "sigmoid",
    "init": "uniform",
    "lr": 0.1,
    "momentum": 0.9,
    "n_steps": 30000,
    "batch_size": 10,
    "checkpoint_steps": [0, 3000, 10000, 20000, 25000, 30000],
    "n_grid": 101,
    "scan": 1.5,
    "n_index": 41,
    "quantile": 0.2,
}
"""Keys of ``[pullback]`` and their defaults: the reference setting."""

SETTINGS: dict[str, dict[str, Any]] = {
    "full": {},
    "fast": {
        "seeds": [0],
        "n_steps": 400,
        "checkpoint_steps": [0, 200, 400],
        "n_grid": 21,
        "n_index": 15,
    },
}
"""Overrides of ``[pullback]`` by setting: ``"full"`` is the spec as written, ``"fast"`` a smoke
run (one seed, 400 steps: too short to fit the boundary)."""


def load_pullback_spec(
    spec: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Read and check a pullback spec, defaults filled in; nothing is computed.

    Parameters
    ----------
    spec : path or mapping
        A TOML file with a ``[pullback]`` section (keys in the module docstring), or its content.
    overrides : mapping, optional
        Keys replaced in ``[pullback]``, e.g. ``SETTINGS["fast"]``.

    Returns
    -------
    dict
        ``{"run": {"title": ...}, "pullback": {...every key...}}``.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unknown section or key; a checkpoint past ``n_steps``; no seeds; a non-positive size;
        an unknown activation or initialisation.

    Examples
    --------
    >>> cfg = load_pullback_spec({"pullback": {"seeds": [3], "n_steps": 10,
    ...                                        "checkpoint_steps": [0, 10]}})
    >>> cfg["pullback"]["width"], cfg["pullback"]["seeds"]
    (250, [3])
    """
    if isinstance(spec, str | Path):
        raw = read_toml(spec, "pullback spec")
    else:
        raw = copy.deepcopy(dict(spec))
    extra = set(raw) - {"run", "pullback"}
    if extra:
        raise ValueError(
            f"unknown sections {sorted(extra)} in the pullback spec; it has [run] and [pullback]."
        )
    table = {**dict(raw.get("pullback", {})), **dict(overrides or {})}
    unknown = set(table) - set(DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown keys {sorted(unknown)} in [pullback]; known: {sorted(DEFAULTS)}."
        )
    cfg = {**copy.deepcopy(DEFAULTS), **table}
    cfg["seeds"] = [int(s) for s in cfg["seeds"]]
    cfg["checkpoint_steps"] = sorted({int(s) for s in cfg["checkpoint_steps"]} | {0})
    if not cfg["seeds"]:
        raise ValueError("[pullback] seeds is empty; give at least one network seed.")
    for key in ("n_points", "width", "n_steps", "n_grid", "n_index"):
        if int(cfg[key]) < 1:
            raise ValueError(f"[pullback] {key} must be >= 1; got {cfg[key]}")
    for key, known in (("activation", sorted(ACTIVATION_NAMES)), ("init", list(INIT_NAMES))):
        if cfg[key] not in known:
            raise ValueError(f"[pullback] {key} must be one of {known}; got {cfg[key]!r}")
    if max(cfg["checkpoint_steps"]) > int(cfg["n_steps"]):
        raise ValueError(
            f"[pullback] checkpoint_steps {cfg['checkpoint_steps']} go past "
            f"n_steps = {cfg['n_steps']}; drop them or train longer."
        )
    run = {"title": "Pullback geometry along training", **dict(raw.get("run", {}))}
    return {"run": run, "pullback": cfg}
