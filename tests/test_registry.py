"""The measure registry: table, lookups, and agreement with the functions' docstrings."""

from __future__ import annotations

import importlib
import inspect

import numpy as np
import pandas as pd
import pytest

from neurogeom.geometry import measures
from neurogeom.geometry import registry as reg

OWN_MODULES = (
    "neurogeom.geometry._mftma",
    "neurogeom.geometry.capacity",
    "neurogeom.geometry.similarity",
    "neurogeom.geometry.riemann",
)


def _docstring_lines(func) -> tuple[str | None, str | None]:
    invariant = direction = None
    for line in inspect.getdoc(func).splitlines():
        line = line.strip()
        if line.startswith("Invariant to:"):
            invariant = line.split(":", 1)[1].strip()
        elif line.startswith("Direction:"):
            direction = line.split(":", 1)[1].strip()
    return invariant, direction


def _parse_invariances(text: str) -> set[str]:
    text = text.rstrip(".").strip()
    if text.lower() == "none":
        return set()
    return {part.strip() for part in text.split(",") if part.strip()}


POINTS_LABELS = (
    "coding_scheme",
    "decoding_accuracy",
    "glue",
    "mftma",
    "participation_ratio",
    "simulated_capacity",
)
PAIR = (
    "angular_shape_distance",
    "cka_similarity",
    "debiased_cka_similarity",
    "procrustes_distance",
    "rsa_similarity",
)
FEATURE_MAP = ("boundary_magnification",)


def test_measures_table_has_a_row_per_output():
    table = measures()
    assert isinstance(table, pd.DataFrame)
    assert table.index.is_unique and table.index.names == ["measure", "output"]
    assert sorted(set(table.index.get_level_values("measure"))) == sorted(
        POINTS_LABELS + PAIR + FEATURE_MAP
    )
    assert reg.measure_names("points_labels") == list(POINTS_LABELS)
    assert reg.measure_names("pair") == list(PAIR)
    assert reg.measure_names("feature_map") == list(FEATURE_MAP)
    glue = table.loc["glue"]
    assert list(glue.index) == [
        "capacity",
        "radius",
        "dimension",
        "utility",
        "center_alignment",
        "axis_alignment",
        "center_axis_alignment",
    ]
    assert glue.loc["capacity", "larger_is_more_separable"] is True
    assert glue.loc["radius", "larger_is_more_separable"] is False
    assert glue.loc["axis_alignment", "larger_is_more_separable"] is True
    assert set(glue["kind"]) == {"capacity", "geometry"}
    assert list(table.loc["mftma"].index) == ["capacity", "radius", "dimension"]
    assert table.loc[("mftma", "dimension"), "larger_is_more_separable"] is False
    assert table.loc[("cka_similarity", "cka_similarity"), "larger_is_more_similar"] is True
    assert table.loc[("procrustes_distance", "procrustes_distance"), "is_metric"]
    assert table.loc[("cka_similarity", "cka_similarity"), "larger_is_more_separable"] is None
    for name in POINTS_LABELS:  # every capacity/geometry output says its direction
        rows = table.loc[name]
        sep = rows[rows["kind"].isin(["capacity", "geometry", "decoding"])]
        assert sep["larger_is_more_separable"].map(lambda v: v in (True, False)).all()
    assert set(table["kind"]) <= set(reg.KINDS)
    assert {"capacity", "geometry", "similarity", "decoding", "dimension"} <= set(table["kind"])


@pytest.mark.parametrize("name", POINTS_LABELS + PAIR + FEATURE_MAP)
def test_registry_name_is_the_function_name(name):
    m = reg.get_measure(name)
    assert m.function.split(":")[1] == name
    assert m.resolve().__name__ == name
    exported = getattr(importlib.import_module("neurogeom.geometry"), name)
    assert exported is m.resolve()


def test_registration_is_lazy():
    """Importing neurogeom and the registry imports no measure module; a lookup imports only the
    modules up to the one defining the measure (no torch for glue); the table imports none of
    the measures' own heavy dependencies (scikit-learn)."""
    code = (
        "import sys; import neurogeom; from neurogeom.geometry import registry, measures; "
        "heavy = ('neurogeom.geometry.capacity', 'numba', 'torch', 'sklearn'); "
        "assert not [m for m in heavy if m in sys.modules], heavy; "
        "registry.get_measure('glue'); "
        "assert 'torch' not in sys.modules and 'sklearn' not in sys.modules; "
        "measures(); assert 'sklearn' not in sys.modules"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", reg.measure_names())
def test_registry_agrees_with_docstrings(name):
    m = reg.get_measure(name)
    module = m.function.split(":")[0]
    if module not in OWN_MODULES:
        try:
            importlib.import_module(module)
        except ImportError:
            pytest.skip(f"{module} is not available")
    func = m.resolve()
    assert callable(func)
    invariant, direction = _docstring_lines(func)
    if module not in OWN_MODULES and (invariant is None or direction is None):
        pytest.skip(f"{m.function} has no 'Invariant to:'/'Direction:' lines")
    assert invariant is not None and direction is not None, f"{m.function} lacks the lines"
    assert direction.startswith(m.direction), (direction, m.direction)
    assert _parse_invariances(invariant) == set(m.invariances), (invariant, m.invariances)


def test_get_measure_and_register_errors():
    with pytest.raises(ValueError, match="unknown measure 'nope'; registered measures"):
        reg.get_measure("nope")
    with pytest.raises(ValueError, match="already registered"):
        reg.register(reg.get_measure("cka_similarity"))
    with pytest.raises(ValueError, match="direction must be one of"):
        reg.Measure("x", "similarity", "bigger_is_better", (), False, "", "m:f")
    with pytest.raises(ValueError, match="kind must be one of"):
        reg.Measure("x", "magic", "larger_is_more_similar", (), False, "", "m:f")
    with pytest.raises(ValueError, match="unknown invariances"):
        reg.Measure("x", "similarity", "larger_is_more_similar", ("shear",), False, "", "m:f")
    with pytest.raises(ValueError, match="output 'r': direction must be one of"):
        reg.Output("r", "smaller_is_better", "geometry")
    with pytest.raises(ValueError, match="inputs must be one of"):
        reg.Measure("x", "dimension", "larger_is_more_dimensional", (), False, "", "m:f",
                    inputs="three")  # fmt: skip


def test_register_custom_measure():
    m = reg.Measure(
        "test_pr_centroids",
        "dimension",
        "larger_is_more_dimensional",
        ("rotation",),
        False,
        "test",
        "neurogeom.geometry.similarity:participation_ratio",
        options={"of": "centroids"},
    )
    reg.register(m)
    try:
        assert ("test_pr_centroids", "test_pr_centroids") in measures().index
        assert reg.get_measure("test_pr_centroids").resolve().__name__ == "participation_ratio"
    finally:
        reg.unregister("test_pr_centroids")


def _feature_map_inputs():
    """A small sigmoid network (hidden layer, logits) and probe inputs on [-1, 1]^2."""
    import torch

    gen = torch.Generator().manual_seed(0)
    hidden = torch.nn.Sequential(torch.nn.Linear(2, 40), torch.nn.Sigmoid()).double()
    readout = torch.nn.Linear(40, 2).double()
    with torch.no_grad():
        hidden[0].weight.copy_(2 * torch.randn(40, 2, generator=gen))
        hidden[0].bias.copy_(torch.randn(40, generator=gen))
        readout.weight.copy_(torch.randn(2, 40, generator=gen))
    x = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 2 - 1
    with torch.no_grad():  # boundary through the middle of the probed square
        readout.bias.copy_(-(hidden(x) @ readout.weight.T).median(0).values)
    net = torch.nn.Sequential(hidden, readout)
    return hidden, net, x


INPUT_FACTORIES = {"feature_map": _feature_map_inputs}


@pytest.mark.parametrize("name", FEATURE_MAP)
def test_feature_map_measures_run(name):
    """Every measure on a feature map returns the value, its _sem and provenance attrs."""
    m = reg.get_measure(name)
    ds = m.resolve()(*INPUT_FACTORIES[m.inputs](), **m.options)
    assert set(ds[name].dims) == set() and name + "_sem" in ds
    assert bool(np.isfinite(ds[name])) and float(ds[name + "_sem"]) > 0
    assert ds.attrs["estimator"] == name and "neurogeom_version" in ds.attrs
