"""The lazy-rich spec: an output-scale sweep of image classifiers on digits.

A TOML file with a ``[lazy_rich]`` section (``tasks/lazy_rich_digits.toml``), run by
``neurogeom run`` (:func:`neurogeom.workflows.pipeline.run_pipeline`); the sections and keys
are listed in :mod:`neurogeom.workflows.lazy_rich`.
:func:`load_lazy_rich_spec` reads and checks one, defaults filled in; nothing is computed.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pydantic

from neurogeom._params import N_T, SEED, Interval, OneOf
from neurogeom.specs._common import check_keys, fail, read_toml, validated

__all__ = [
    "ACTIVATION_NAMES",
    "CORRUPTION_NAMES",
    "FAST_SETTING",
    "SETTINGS",
    "SEVERITIES",
    "load_lazy_rich_spec",
]

#: Unit nonlinearities of the feed-forward networks (:mod:`neurogeom.models.feedforward`).
ACTIVATION_NAMES: tuple[str, ...] = ("linear", "relu", "sigmoid", "erf", "tanh")
#: Initialisations of the feed-forward networks: N(0, 1/fan_in) or PyTorch's uniform default.
INIT_NAMES: tuple[str, ...] = ("normal", "uniform")
#: Image corruptions (:func:`neurogeom.models.images.corrupt`).
CORRUPTION_NAMES: tuple[str, ...] = ("noise", "blur", "occlusion")
#: The corruption severities.
SEVERITIES: tuple[int, ...] = (1, 2, 3, 4, 5)

#: A fast setting of ``tasks/lazy_rich_digits.toml`` (what the tests and
#: ``tutorials/10_lazy_rich_images.py`` run; about 30 s on one core): seeds {0, 1}, 100 SGD
#: steps (checkpoints 0, 25, 100), 20 points per digit, 50 probes per GLUE estimate, 4 draws of
#: the few-shot transfer probe.
FAST_SETTING: dict[str, dict[str, Any]] = {
    "lazy_rich": {"seeds": [0, 1]},
    "training": {"n_steps": 100, "checkpoint_steps": [0, 25, 100]},
    "analysis": {"n_points_per_manifold": 20, "n_t": 50},
    "transfer": {"n_draws": 4},
}

#: ``neurogeom run <lazy-rich spec> --setting NAME``: ``"full"`` is the spec as written,
#: ``"fast"`` is ``FAST_SETTING``.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"full": {}, "fast": FAST_SETTING}


#: A digit of the data set.
_DIGIT = Interval(int, 0, 9, words="a digit 0..9")
#: A training step (checkpoints).
_STEP = Interval(int, 0, words="a step >= 0")
#: A count of at least one.
_COUNT = Interval(int, 1, words="a positive integer")


class _Section(pydantic.BaseModel):
    """A section of a lazy-rich spec: each key typed, its default and constraint stated once."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)


class RunSection(_Section):
    """``[run]``."""

    title: str = "Lazy to rich on digits"


class LazyRichSection(_Section):
    """``[lazy_rich]``: the output scales (sorted), the seeds, the test split."""

    alphas: list[float] | None = None
    seeds: Annotated[list[Annotated[int, SEED]], pydantic.Field(min_length=1)] = [0]
    test_fraction: Annotated[float, Interval(float, 0, 1, closed="neither")] = 0.3
    split_seed: Annotated[int, SEED] = 0

    @pydantic.model_validator(mode="after")
    def _alphas(self) -> LazyRichSection:
        if not self.alphas:
            raise ValueError("give alphas = [1, 2, 5, 10, 30, 100] (output scales, each > 0).")
        if min(self.alphas) <= 0 or len(set(self.alphas)) != len(self.alphas):
            raise ValueError(f"alphas must be distinct numbers > 0; got {self.alphas!r}.")
        self.alphas = sorted(float(a) for a in self.alphas)
        return self


class TrainingSection(_Section):
    """``[training]``: SGD; the checkpoints (default ``[0, n_steps]``, ``n_steps`` always one)."""

    lr: Annotated[float, Interval(float, 0, closed="neither", words="> 0")] = 0.1
    momentum: Annotated[float, Interval(float, 0, 1, closed="left", words="in [0, 1)")] = 0.9
    n_steps: Annotated[int, _COUNT] = 1000
    batch_size: Annotated[int, _COUNT] = 64
    checkpoint_steps: list[Annotated[int, _STEP]] | None = None

    @pydantic.model_validator(mode="after")
    def _checkpoints(self) -> TrainingSection:
        steps = sorted(set(self.checkpoint_steps or [0]) | {self.n_steps})
        if steps[-1] > self.n_steps:
            raise ValueError(
                f"checkpoint_steps {steps} go past n_steps = {self.n_steps}; drop them or "
                "train longer."
            )
        self.checkpoint_steps = steps
        return self


class AnalysisSection(_Section):
    """``[analysis]``: the GLUE geometry of a layer."""

    layer: int = -1
    n_points_per_manifold: Annotated[int, Interval(int, 2, words="an integer >= 2")] = 50
    n_t: Annotated[int, N_T] = 200
    dichotomies: str = "nontrivial"
    center: bool = True
    jitter: Annotated[float, Interval(float, 0, words=">= 0")] = 1e-6
    seed: Annotated[int, SEED] = 0


class OodSection(_Section):
    """``[ood]``: the corruptions (default all) and severities."""

    corruptions: list[str] | None = None
    severities: list[Annotated[int, Interval(int, 1, max(SEVERITIES), words="in 1..5")]] = [
        1,
        2,
        3,
        4,
        5,
    ]
    seed: Annotated[int, SEED] = 0

    @pydantic.model_validator(mode="after")
    def _corruptions(self) -> OodSection:
        self.corruptions = list(self.corruptions or CORRUPTION_NAMES)
        bad = sorted(set(self.corruptions) - set(CORRUPTION_NAMES))
        if bad:
            raise ValueError(
                f"corruptions: unknown {bad}; give some of {sorted(CORRUPTION_NAMES)}."
            )
        return self


class TransferSection(_Section):
    """``[transfer]``: the few-shot probe's classes (sorted), regularisation, shots, draws."""

    source_classes: list[Annotated[int, _DIGIT]] = [0, 1, 2, 3, 4]
    target_classes: list[Annotated[int, _DIGIT]] = [5, 6, 7, 8, 9]
    c: Annotated[float, Interval(float, 0, closed="neither", words="> 0")] = 1.0
    shots: Annotated[int, Interval(int, 0, words="0 (all) or a positive integer")] = 5
    n_draws: Annotated[int, _COUNT] = 10

    @pydantic.model_validator(mode="after")
    def _classes(self) -> TransferSection:
        src, tgt = set(self.source_classes), set(self.target_classes)
        if src & tgt or len(src) < 2 or len(tgt) < 2:
            raise ValueError(
                "source and target classes must be two or more digits each, without overlap; "
                f"got {self.source_classes} and {self.target_classes}."
            )
        self.source_classes, self.target_classes = sorted(src), sorted(tgt)
        return self


class _Architecture(_Section):
    type: str
    activation: Annotated[str, OneOf(tuple(sorted(ACTIVATION_NAMES)))] = "relu"
    bias: bool = True


class MlpSection(_Architecture):
    """``[architectures.<name>]`` with ``type = "mlp"``."""

    widths: Annotated[list[Annotated[int, _COUNT]], pydantic.Field(min_length=1)] = [128, 128]


class CnnSection(_Architecture):
    """``[architectures.<name>]`` with ``type = "cnn"``: two convolutions, one dense layer."""

    channels: Annotated[
        list[Annotated[int, _COUNT]], pydantic.Field(min_length=2, max_length=2)
    ] = [8, 16]
    width: Annotated[int, _COUNT] = 64


#: The schema of each section, by name (``[architectures.<name>]`` by its ``type``).
SECTIONS: dict[str, type[_Section]] = {
    "run": RunSection,
    "lazy_rich": LazyRichSection,
    "training": TrainingSection,
    "analysis": AnalysisSection,
    "ood": OodSection,
    "transfer": TransferSection,
}
ARCHITECTURES: dict[str, type[_Architecture]] = {"mlp": MlpSection, "cnn": CnnSection}


def load_lazy_rich_spec(
    spec: str | Path | Mapping[str, Any],
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Read and check a lazy-rich spec, defaults filled in; nothing is computed.

    Parameters
    ----------
    spec : path or mapping
        A TOML file with a ``[lazy_rich]`` section (keys in the module docstring) or its parsed
        content.
    overrides : mapping of section to mapping, optional
        Keys replaced in the spec's sections, e.g. ``FAST_SETTING``.

    Returns
    -------
    dict
        Every section with its defaults (``SECTIONS``); ``architectures`` maps a name to its
        checked table.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unknown section or key, a bad value (alpha <= 0, a checkpoint past ``n_steps``,
        overlapping transfer classes, an unknown corruption or severity, ...).

    See Also
    --------
    neurogeom.workflows.lazy_rich_sweep : runs the spec.
    neurogeom.specs.spec_kind : which kind a spec file is.

    Examples
    --------
    >>> cfg = load_lazy_rich_spec({"lazy_rich": {"alphas": [1, 10]},
    ...                            "architectures": {"mlp": {"type": "mlp"}}})
    >>> cfg["lazy_rich"]["alphas"], cfg["training"]["checkpoint_steps"]
    ([1.0, 10.0], [0, 1000])
    """
    if isinstance(spec, str | Path):
        raw = read_toml(spec, "lazy-rich spec")
    else:
        raw = copy.deepcopy(dict(spec))
    for section, values in (overrides or {}).items():
        raw[section] = {**raw.get(section, {}), **values}
    check_keys(raw, [*SECTIONS, "architectures"], "lazy-rich spec")
    cfg = {s: validated(m, raw.get(s, {}), f"[{s}]").model_dump() for s, m in SECTIONS.items()}
    archs = raw.get("architectures")
    if not isinstance(archs, Mapping) or not archs:
        fail(
            "lazy-rich spec", "name at least one [architectures.<name>] with type = 'mlp' or 'cnn'."
        )
    cfg["architectures"] = {}
    for name, table in archs.items():
        where = f"[architectures.{name}]"
        kind = dict(table).get("type")
        if kind not in ARCHITECTURES:
            fail(where, f"type must be 'mlp' or 'cnn'; got {kind!r}.")
        cfg["architectures"][str(name)] = validated(ARCHITECTURES[kind], table, where).model_dump()
    return cfg


# ---- one run ---------------------------------------------------------------------------------------
