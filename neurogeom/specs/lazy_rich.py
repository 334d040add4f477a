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
from typing import Any

from neurogeom.specs._common import check_keys, fail, read_toml

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

_DEFAULTS: dict[str, dict[str, Any]] = {
    "run": {"title": "Lazy to rich on digits"},
    "lazy_rich": {"alphas": None, "seeds": [0], "test_fraction": 0.3, "split_seed": 0},
    "training": {
        "lr": 0.1,
        "momentum": 0.9,
        "n_steps": 1000,
        "batch_size": 64,
        "checkpoint_steps": None,
    },
    "analysis": {
        "layer": -1,
        "n_points_per_manifold": 50,
        "n_t": 200,
        "dichotomies": "nontrivial",
        "center": True,
        "jitter": 1e-6,
        "seed": 0,
    },
    "ood": {"corruptions": None, "severities": [1, 2, 3, 4, 5], "seed": 0},
    "transfer": {
        "source_classes": [0, 1, 2, 3, 4],
        "target_classes": [5, 6, 7, 8, 9],
        "c": 1.0,
        "shots": 5,
        "n_draws": 10,
    },
}
_ARCH_KEYS = {
    "mlp": {"type": None, "widths": [128, 128], "activation": "relu", "bias": True},
    "cnn": {"type": None, "channels": [8, 16], "width": 64, "activation": "relu", "bias": True},
}

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
#: ``"fast"`` is :data:`FAST_SETTING`.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {"full": {}, "fast": FAST_SETTING}


def _is_lazy_rich_spec(raw: Mapping[str, Any]) -> bool:
    """Whether a parsed TOML file is a lazy-rich spec (it has a ``[lazy_rich]`` section)."""
    return "lazy_rich" in raw


def _ints(value: Any, where: str, *, low: int | None = None, high: int | None = None) -> list[int]:
    if not isinstance(value, list | tuple) or not value:
        fail(where, f"give a non-empty list of integers; got {value!r}.")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        fail(where, f"every entry must be an integer; got {value!r}.")
    if (low is not None and min(value) < low) or (high is not None and max(value) > high):
        fail(where, f"entries must lie in {low}..{high}; got {value!r}.")
    return [int(v) for v in value]


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
        Keys replaced in the spec's sections, e.g. :data:`FAST_SETTING`.

    Returns
    -------
    dict
        Every section with its defaults; ``architectures`` maps a name to its checked table.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ValueError
        An unknown section or key, a bad value (alpha <= 0, a checkpoint past ``n_steps``,
        overlapping transfer classes, an unknown corruption or severity, ...).

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
    check_keys(raw, {**_DEFAULTS, "architectures": None}, "lazy-rich spec")
    cfg: dict[str, Any] = {}
    for section, defaults in _DEFAULTS.items():
        table = dict(raw.get(section, {}))
        check_keys(table, defaults, f"[{section}]")
        cfg[section] = {**copy.deepcopy(defaults), **table}
    lr = cfg["lazy_rich"]
    alphas = lr["alphas"]
    if not isinstance(alphas, list) or not alphas:
        fail("[lazy_rich]", "give alphas = [1, 2, 5, 10, 30, 100] (output scales, each > 0).")
    if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in alphas):
        fail("[lazy_rich] alphas", f"every alpha must be a number; got {alphas!r}.")
    if min(alphas) <= 0 or len(set(alphas)) != len(alphas):
        fail("[lazy_rich] alphas", f"alphas must be distinct numbers > 0; got {alphas!r}.")
    lr["alphas"] = sorted(float(a) for a in alphas)
    lr["seeds"] = _ints(lr["seeds"], "[lazy_rich] seeds", low=0)
    if not 0 < float(lr["test_fraction"]) < 1:
        fail("[lazy_rich]", f"test_fraction must lie in (0, 1); got {lr['test_fraction']}.")
    archs = raw.get("architectures")
    if not isinstance(archs, Mapping) or not archs:
        fail(
            "lazy-rich spec", "name at least one [architectures.<name>] with type = 'mlp' or 'cnn'."
        )
    cfg["architectures"] = {}
    for name, table in archs.items():
        where = f"[architectures.{name}]"
        kind = dict(table).get("type")
        if kind not in _ARCH_KEYS:
            fail(where, f"type must be 'mlp' or 'cnn'; got {kind!r}.")
        check_keys(table, _ARCH_KEYS[kind], where)
        arch = {**_ARCH_KEYS[kind], **table}
        if arch["activation"] not in ACTIVATION_NAMES:
            fail(
                where,
                f"activation must be one of {sorted(ACTIVATION_NAMES)}; got {arch['activation']!r}.",
            )
        if kind == "mlp":
            arch["widths"] = _ints(arch["widths"], f"{where} widths", low=1)
        else:
            arch["channels"] = _ints(arch["channels"], f"{where} channels", low=1)
            if len(arch["channels"]) != 2:
                fail(where, f"channels must hold two counts; got {arch['channels']!r}.")
            arch["width"] = _ints([arch["width"]], f"{where} width", low=1)[0]
        cfg["architectures"][str(name)] = arch
    tr = cfg["training"]
    for key in ("n_steps", "batch_size"):
        tr[key] = _ints([tr[key]], f"[training] {key}", low=1)[0]
    if not float(tr["lr"]) > 0 or not 0 <= float(tr["momentum"]) < 1:
        fail("[training]", f"need lr > 0 and momentum in [0, 1); got {tr['lr']}, {tr['momentum']}.")
    steps = tr["checkpoint_steps"] or [0, tr["n_steps"]]
    steps = sorted(set(_ints(steps, "[training] checkpoint_steps", low=0, high=tr["n_steps"])))
    if tr["n_steps"] not in steps:
        steps.append(tr["n_steps"])
    tr["checkpoint_steps"] = steps
    an = cfg["analysis"]
    for key in ("n_points_per_manifold", "n_t"):
        an[key] = _ints([an[key]], f"[analysis] {key}", low=2)[0]
    ood = cfg["ood"]
    ood["corruptions"] = list(ood["corruptions"] or CORRUPTION_NAMES)
    bad = sorted(set(ood["corruptions"]) - set(CORRUPTION_NAMES))
    if bad:
        fail("[ood] corruptions", f"unknown {bad}; give some of {sorted(CORRUPTION_NAMES)}.")
    ood["severities"] = _ints(ood["severities"], "[ood] severities", low=1, high=max(SEVERITIES))
    tf = cfg["transfer"]
    src = _ints(tf["source_classes"], "[transfer] source_classes", low=0, high=9)
    tgt = _ints(tf["target_classes"], "[transfer] target_classes", low=0, high=9)
    if set(src) & set(tgt) or len(set(src)) < 2 or len(set(tgt)) < 2:
        fail(
            "[transfer]",
            f"source and target classes must be two or more digits each, "
            f"without overlap; got {src} and {tgt}.",
        )
    tf["source_classes"], tf["target_classes"] = sorted(set(src)), sorted(set(tgt))
    tf["shots"] = _ints([tf["shots"]], "[transfer] shots", low=0)[0]
    tf["n_draws"] = _ints([tf["n_draws"]], "[transfer] n_draws", low=1)[0]
    return cfg


# ---- one run ---------------------------------------------------------------------------------------
