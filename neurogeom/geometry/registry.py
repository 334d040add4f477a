"""Metadata of every geometry measure: what it is, which way is "more", what it ignores.

Each measure says its ``kind``, its ``direction`` (larger is more separable, less separable, more
similar, less similar, or more dimensional), the transformations of the data it is invariant to,
whether it is a metric, where it comes from, and the function that computes it (a dotted path,
imported only when the measure is used). ``neurogeom.geometry.measures()`` lists them as a table,
one row per output variable (``glue`` gives capacity, radius, dimension, ... each with its own
direction). The registry name is the function's name and the CLI's ``--method``.
The direction and invariances written here are the ones stated in each function's docstring
("Direction:" and "Invariant to:" lines in its Notes); a test checks that they agree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Measure", "Output", "get_measure", "measure_names", "measures", "register"]

KINDS = ("capacity", "geometry", "similarity", "decoding", "dimension")
KINDS += ("coding",)
DIRECTIONS = (
    "larger_is_more_separable",
    "larger_is_less_separable",
    "larger_is_more_similar",
    "larger_is_less_similar",
    "larger_is_more_dimensional",
    "larger_is_more_magnified",
)
DIRECTIONS += ("larger_is_more_redundant",)
INVARIANCES = (
    "rotation",
    "reflection",
    "translation",
    "isotropic scaling",
    "invertible linear maps",
    "permutation of units",
)
INPUTS = ("points_labels", "pair", "feature_map")


def _check_kind_and_direction(what: str, kind: str, direction: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"{what}: kind must be one of {KINDS}; got {kind!r}.")
    if direction not in DIRECTIONS:
        raise ValueError(f"{what}: direction must be one of {DIRECTIONS}; got {direction!r}.")


@dataclass(frozen=True)
class Output:
    """One output variable of a measure (``radius`` of ``glue``), with its own direction.

    Attributes
    ----------
    name : str
        The variable's name in the measure's Dataset (its standard error is ``<name>_sem``).
    direction : str
        One of :data:`DIRECTIONS`.
    kind : str
        One of :data:`KINDS` (``capacity`` for a capacity, ``geometry`` for radius, dimension,
        alignments and utility).
    """

    name: str
    direction: str
    kind: str

    def __post_init__(self) -> None:
        _check_kind_and_direction(f"output {self.name!r}", self.kind, self.direction)


@dataclass(frozen=True)
class Measure:
    """One registered measure.

    Attributes
    ----------
    name : str
        Registry name, used by ``geometry(measures=...)`` and the CLI's ``--method``; the same as
        the name of the function computing it.
    kind : str
        capacity, geometry, similarity, decoding or dimension.
    direction : str
        One of :data:`DIRECTIONS`: the direction of the main output (the one the function's
        docstring speaks of).
    invariances : tuple of str
        Transformations of the data (from :data:`INVARIANCES`) that leave the value unchanged.
    is_metric : bool
        True for distances that satisfy the metric axioms (so K x K tables can feed MDS/clustering).
    citation : str
    function : str
        ``"module:attribute"`` of the function computing it.
    outputs : tuple of Output
        The variables of its Dataset that are measures, each with its direction (default: one
        output named like the measure, with the measure's kind and direction).
    options : dict
        Keyword arguments fixed for this measure (e.g. ``of="centroids"``).
    inputs : str
        ``"points_labels"`` (one population's points and manifold labels), ``"pair"`` (two
        representations of the same conditions) or ``"feature_map"`` (a differentiable torch
        feature map, the network's logits and probe inputs).
    """

    name: str
    kind: str
    direction: str
    invariances: tuple[str, ...]
    is_metric: bool
    citation: str
    function: str
    outputs: tuple[Output, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    inputs: str = "points_labels"

    def __post_init__(self) -> None:
        _check_kind_and_direction(f"measure {self.name!r}", self.kind, self.direction)
        unknown = set(self.invariances) - set(INVARIANCES)
        if unknown:
            raise ValueError(
                f"measure {self.name!r}: unknown invariances {sorted(unknown)}; use {INVARIANCES}."
            )
        if ":" not in self.function:
            raise ValueError(f"measure {self.name!r}: function must be 'module:attribute'.")
        if self.inputs not in INPUTS:
            raise ValueError(
                f"measure {self.name!r}: inputs must be one of {INPUTS}; got {self.inputs!r}."
            )
        if not self.outputs:
            object.__setattr__(self, "outputs", (Output(self.name, self.direction, self.kind),))

    def resolve(self) -> Callable[..., Any]:
        """Import and return the function that computes this measure."""
        module, attr = self.function.split(":")
        return getattr(importlib.import_module(module), attr)


_REGISTRY: dict[str, Measure] = {}

GLUE = "Chou, Le, Wang & Chung, bioRxiv 2024.02.26.582157 (GLUE); Chou et al., ICML 2025"
CLS18 = "Chung, Lee & Sompolinsky, Phys. Rev. X 8, 031003 (2018)"
CCLS20 = "Cohen, Chung, Lee & Sompolinsky, Nat. Commun. 11, 746 (2020)"
ZAVATONE_VETH = "Zavatone-Veth, Yang, Rubinfien & Pehlevan, NeurIPS 2023 (pullback metric)"
_ROT = ("rotation", "reflection", "isotropic scaling")
_ROT_T = ("rotation", "reflection", "translation", "isotropic scaling")


def register(measure: Measure, *, replace: bool = False) -> Measure:
    """Add a measure to the registry (``replace=True`` to overwrite one of the same name)."""
    if measure.name in _REGISTRY and not replace:
        raise ValueError(f"a measure named {measure.name!r} is already registered.")
    _REGISTRY[measure.name] = measure
    return measure


def get_measure(name: str) -> Measure:
    """The registered measure called ``name``; the error lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown measure {name!r}; registered measures: {sorted(_REGISTRY)}. "
            "See neurogeom.geometry.measures()."
        ) from None


def measure_names(inputs: str | None = None) -> list[str]:
    """Registered measure names, sorted; ``inputs`` (one of :data:`INPUTS`) filters them."""
    return sorted(n for n, m in _REGISTRY.items() if inputs is None or m.inputs == inputs)


def measures() -> pd.DataFrame:
    """All registered measures as a table, one row per (measure, output variable).

    A measure with several outputs (``glue``: capacity, radius, dimension, utility and the
    alignments) has one row per output, each with its own direction; a measure with one output
    has one row whose output is named like the measure.

    Returns
    -------
    pandas.DataFrame
        Indexed by (``measure``, ``output``). Columns: kind, direction,
        larger_is_more_separable and larger_is_more_similar (True, False, or None where the
        notion does not apply), invariances (comma-separated), is_metric, citation, function,
        inputs.

    Examples
    --------
    >>> from neurogeom.geometry import measures
    >>> bool(measures().loc[("glue", "radius"), "larger_is_more_separable"])
    False
    >>> bool(measures().loc[("cka_similarity", "cka_similarity"), "larger_is_more_similar"])
    True
    """
    sep = {"larger_is_more_separable": True, "larger_is_less_separable": False}
    sim = {"larger_is_more_similar": True, "larger_is_less_similar": False}
    rows = [
        {
            "measure": m.name,
            "output": out.name,
            "kind": out.kind,
            "direction": out.direction,
            "larger_is_more_separable": sep.get(out.direction),
            "larger_is_more_similar": sim.get(out.direction),
            "invariances": ", ".join(m.invariances),
            "is_metric": m.is_metric,
            "citation": m.citation,
            "function": m.function,
            "inputs": m.inputs,
        }
        for m in _REGISTRY.values()
        for out in m.outputs
    ]
    return pd.DataFrame(rows).set_index(["measure", "output"])


_MORE, _LESS = "larger_is_more_separable", "larger_is_less_separable"
_GLUE_OUTPUTS = (
    Output("capacity", _MORE, "capacity"),
    Output("radius", _LESS, "geometry"),
    Output("dimension", _LESS, "geometry"),
    Output("utility", _MORE, "geometry"),
    Output("center_alignment", _LESS, "geometry"),
    Output("axis_alignment", _MORE, "geometry"),
    Output("center_axis_alignment", _LESS, "geometry"),
)


def _defaults() -> None:
    cap = "neurogeom.geometry.capacity"
    register(
        Measure("glue", "capacity", _MORE, _ROT, False, GLUE, f"{cap}:glue", outputs=_GLUE_OUTPUTS)
    )
    register(
        Measure("simulated_capacity", "capacity", _MORE, _ROT, False,
                "Cohen et al. 2020; Chou et al., ICML 2025 (Algorithm 1)",
                f"{cap}:simulated_capacity", outputs=(Output("capacity", _MORE, "capacity"),))
    )  # fmt: skip
    register(
        Measure("mftma", "capacity", _MORE, _ROT_T, False, f"{CLS18}; {CCLS20}",
                "neurogeom.geometry._mftma:mftma", outputs=_GLUE_OUTPUTS[:3])
    )  # fmt: skip
    sim = "neurogeom.geometry.similarity"
    kornblith = "Kornblith, Norouzi, Lee & Hinton, ICML 2019"
    register(
        Measure("cka_similarity", "similarity", "larger_is_more_similar", _ROT_T, False,
                kornblith, f"{sim}:cka_similarity", inputs="pair")
    )  # fmt: skip
    register(
        Measure("debiased_cka_similarity", "similarity", "larger_is_more_similar", _ROT_T, False,
                f"{kornblith}; Song et al., JMLR 2012 (unbiased HSIC)",
                f"{sim}:debiased_cka_similarity", inputs="pair")
    )  # fmt: skip
    register(
        Measure("rsa_similarity", "similarity", "larger_is_more_similar",
                ("isotropic scaling", "permutation of units"), False,
                "Kriegeskorte, Mur & Bandettini 2008; Nili et al. 2014",
                f"{sim}:rsa_similarity", inputs="pair")
    )  # fmt: skip
    williams = "Williams, Kunz, Kornblith & Linderman, NeurIPS 2021"
    register(
        Measure("procrustes_distance", "similarity", "larger_is_less_similar",
                ("rotation", "reflection", "translation"), True, williams,
                f"{sim}:procrustes_distance", inputs="pair")
    )  # fmt: skip
    register(
        Measure("angular_shape_distance", "similarity", "larger_is_less_similar", _ROT_T, True,
                williams, f"{sim}:angular_shape_distance", inputs="pair")
    )  # fmt: skip
    register(
        Measure("decoding_accuracy", "decoding", _MORE,
                ("translation", "permutation of units"), False,
                "cross-validated logistic regression (scikit-learn)",
                f"{sim}:decoding_accuracy")
    )  # fmt: skip
    register(
        Measure("participation_ratio", "dimension", "larger_is_more_dimensional", _ROT_T, False,
                "Gao et al., bioRxiv 214262 (2017)", f"{sim}:participation_ratio")
    )  # fmt: skip
    register(
        Measure("boundary_magnification", "geometry", "larger_is_more_magnified", _ROT_T
                + ("permutation of units",), False, ZAVATONE_VETH,
                "neurogeom.geometry.riemann:boundary_magnification", inputs="feature_map")
    )  # fmt: skip


def _coding_defaults() -> None:
    register(
        Measure("coding_scheme", "coding", "larger_is_more_redundant",
                ("permutation of units", "isotropic scaling"), False,
                "van Meegen & Sompolinsky, Nat. Commun. 16, 3354 (2025)",
                "neurogeom.geometry.coding:coding_scheme",
                outputs=(Output("redundancy", "larger_is_more_redundant", "coding"),
                         Output("tuning_dimension", "larger_is_more_dimensional", "dimension")))
    )  # fmt: skip


_defaults()
_coding_defaults()
