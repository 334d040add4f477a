"""The pullback spec: networks trained on the reference sine-boundary task, read along training.

A TOML file with a ``[pullback]`` section (``tasks/pullback_sine.toml``), run by
``neurogeom run`` (:func:`neurogeom.workflows.pipeline.run_pipeline`). ``DEFAULTS`` lists every key with its
default (the reference setting); ``load_pullback_spec`` reads and checks one.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pydantic

from neurogeom._params import N_GRID, SEED, Interval, OneOf
from neurogeom.specs._common import read_toml, unknown_keys_message, validated
from neurogeom.specs.lazy_rich import ACTIVATION_NAMES, INIT_NAMES

__all__ = ["DEFAULTS", "SETTINGS", "load_pullback_spec"]

_SIZE = Interval(int, 1, words=">= 1")
_STEP = Interval(int, 0, words="a step >= 0")


class PullbackSection(pydantic.BaseModel):
    """``[pullback]``: every key typed, its default (the reference setting) and constraint stated
    once. ``checkpoint_steps`` come out sorted, with step 0."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    seeds: list[Annotated[int, SEED]] = [0, 1, 2]
    data_seed: Annotated[int, SEED] = 0
    n_points: Annotated[int, _SIZE] = 400
    amplitude: float = 0.6
    frequency: float = 7.0
    phase: float = 1.0
    width: Annotated[int, _SIZE] = 250
    activation: Annotated[str, OneOf(tuple(sorted(ACTIVATION_NAMES)))] = "sigmoid"
    init: Annotated[str, OneOf(INIT_NAMES)] = "uniform"
    lr: Annotated[float, Interval(float, 0, closed="neither", words="> 0")] = 0.1
    momentum: Annotated[float, Interval(float, 0, 1, closed="left", words="in [0, 1)")] = 0.9
    n_steps: Annotated[int, _SIZE] = 30000
    batch_size: Annotated[int, _SIZE] = 10
    checkpoint_steps: list[Annotated[int, _STEP]] = [0, 3000, 10000, 20000, 25000, 30000]
    n_grid: Annotated[int, N_GRID] = 101
    scan: Annotated[float, Interval(float, 0, closed="neither", words="> 0")] = 1.5
    n_index: Annotated[int, _SIZE] = 41
    quantile: Annotated[float, Interval(float, 0, 0.5, closed="right", words="in (0, 0.5]")] = 0.2

    @pydantic.model_validator(mode="after")
    def _together(self) -> PullbackSection:
        if not self.seeds:
            raise ValueError("seeds is empty; give at least one network seed.")
        self.checkpoint_steps = sorted(set(self.checkpoint_steps) | {0})
        if self.checkpoint_steps[-1] > self.n_steps:
            raise ValueError(
                f"checkpoint_steps {self.checkpoint_steps} go past n_steps = {self.n_steps}; "
                "drop them or train longer."
            )
        return self


class RunSection(pydantic.BaseModel):
    """``[run]``."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    title: str = "Pullback geometry along training"


DEFAULTS: dict[str, Any] = PullbackSection().model_dump()
"""Keys of ``[pullback]`` and their defaults: the reference setting (``PullbackSection``)."""

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

    See Also
    --------
    neurogeom.workflows.pullback_sweep : runs the spec.
    neurogeom.specs.spec_kind : which kind a spec file is.

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
        raise ValueError(unknown_keys_message(unknown, DEFAULTS, "in [pullback]", noun="keys"))
    cfg = validated(PullbackSection, table, "[pullback]").model_dump()
    run = validated(RunSection, raw.get("run", {}), "[run]").model_dump()
    return {"run": run, "pullback": cfg}
