"""The population-tensor contract: building, validation, selection, averaging, manifolds, pooling."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import neurogeom as ng
from neurogeom.population import make_population, pool


def _pop(n_trial=40, n_time=10, n_unit=5, seed=0, unit=None, **coords):
    rng = np.random.default_rng(seed)
    labels = {
        "context": rng.integers(0, 2, n_trial),
        "choice": np.array(["left", "right"])[rng.integers(0, 2, n_trial)],
    }
    labels.update(coords)
    return make_population(
        rng.poisson(3.0, (n_trial, n_time, n_unit)).astype(float),
        dims=("trial", "time", "unit"),
        quantity="spike_count",
        trial_coords=labels,
        bin_size_s=0.05,
        align="stimulus_on",
        unit=unit,
    )


def test_make_population_follows_the_contract():
    pop = _pop()
    assert isinstance(pop, xr.DataArray) and type(pop) is xr.DataArray
    assert pop.dims == ("trial", "time", "unit")
    assert pop.attrs["quantity"] == "spike_count" and pop.attrs["align"] == "stimulus_on"
    assert pop["time"].attrs["units"] == "s"
    np.testing.assert_allclose(pop["time"].values, np.arange(10) * 0.05)
    assert pop["valid"].dims == ("trial", "time") and bool(pop["valid"].all())
    assert ng.population.trial_labels(pop) == ["context", "choice"]


def test_valid_mask_marks_missing_trials():
    pop = _pop()
    values = pop.values.copy()
    values[3, 7:, :] = np.nan  # trial 3 is shorter than the window
    short = pop.copy(data=values)
    short = ng.population.with_valid_mask(short)
    assert not short["valid"].sel(trial=3, time=slice(0.35, None)).any()
    assert int((~short["valid"]).sum()) == 3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dims": ("trial", "neuron")}, r"unknown \['neuron'\].*rename\(neuron='unit'\)"),
        ({"dims": ("unit", "trial")}, r"order \('trial', 'unit'\)"),
        ({"dims": ("trial",)}, "data has 2 axes"),
        ({"quantity": "volts"}, "unknown quantity 'volts'"),
        (
            {"trial_coords": {"choice": [0, 1, 0]}},
            r"'choice' must be 1-D with one value per trial \(6\)",
        ),
        ({"unit": [1, 1, 2, 3]}, r"unit ids must be unique; repeated: \[1\]"),
    ],
)
def test_make_population_rejects_broken_contracts(kwargs, match):
    args = {"dims": ("trial", "unit"), "quantity": "rate_hz"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_population(np.zeros((6, 4)), **args)


def test_validate_rejects_non_dataarray_and_inf():
    with pytest.raises(TypeError, match="xarray.DataArray; got ndarray"):
        ng.validate(np.zeros((3, 3)))
    pop = _pop()
    bad = pop.copy(data=np.where(pop.values > 5, np.inf, pop.values))
    with pytest.raises(ValueError, match="inf values"):
        bad.ng.validate()


def test_select_matches_labels_and_reports_unknown_values():
    pop = _pop()
    sub = pop.ng.select(context=1, choice=["left"])
    expected = (pop["context"].values == 1) & (pop["choice"].values == "left")
    assert sub.sizes["trial"] == expected.sum()
    assert set(sub["context"].values) == {1}
    with pytest.raises(ValueError, match=r"no trial has context=7; its values are \[0, 1\]"):
        pop.ng.select(context=7)
    with pytest.raises(ValueError, match="unknown label 'colour'"):
        pop.ng.select(colour=1)


def test_condition_average_equals_groupwise_mean():
    pop = _pop()
    avg = pop.ng.average(by=["context", "choice"])
    assert avg.dims == pop.dims and avg.sizes["trial"] == 4
    for i in range(4):
        c, ch = avg["context"].values[i], avg["choice"].values[i]
        mask = (pop["context"].values == c) & (pop["choice"].values == ch)
        np.testing.assert_allclose(avg.values[i], pop.values[mask].mean(axis=0))
        assert avg["n_trials"].values[i] == mask.sum()
    np.testing.assert_allclose(pop.ng.average(dim="time").values, pop.values.mean(axis=1))


def test_manifolds_points_are_window_means_and_labels_are_conjunctions():
    pop = _pop()
    m = pop.ng.manifolds(by="choice", within="context", window_s=(0.1, 0.2))
    assert m.points.shape == (40, 5) and m.points.dtype == np.float64
    np.testing.assert_allclose(m.points, pop.values[:, 2:5, :].mean(axis=1))
    assert m.n_manifolds == 4 and list(m.table.columns) == ["choice", "context", "n_points"]
    for k, row in m.table.iterrows():
        idx = m.labels == k
        assert idx.sum() == row["n_points"]
        assert set(pop["choice"].values[idx]) == {row["choice"]}
        assert set(pop["context"].values[idx]) == {row["context"]}
    every = pop.ng.manifolds(by="choice", points="all")
    assert every.points.shape == (400, 5)


def test_manifolds_errors_name_the_problem():
    pop = _pop()
    with pytest.raises(
        ValueError, match=r"unknown trial label 'coherence'.*\['context', 'choice'\]"
    ):
        pop.ng.manifolds(by="coherence")
    with pytest.raises(
        ValueError, match=r"window_s \(2.0, 3.0\) holds no bins; the tensor spans 0"
    ):
        pop.ng.manifolds(by="choice", window_s=(2.0, 3.0))
    with pytest.raises(ValueError, match="start < stop"):
        pop.ng.manifolds(by="choice", window_s=(0.3, 0.1))
    with pytest.raises(ValueError, match="window_s= was given but the tensor has no 'time'"):
        pop.ng.average(dim="time").ng.manifolds(by="choice", window_s=(0.1, 0.2))
    lonely = _pop(context=np.r_[np.zeros(39, int), 1])
    with pytest.raises(ValueError, match="fewer than 2 points.*min_points=1"):
        lonely.ng.manifolds(by="context")
    staged = xr.concat([pop, pop], dim="stage").transpose("stage", ...)
    with pytest.raises(ValueError, match="'stage' dim with 2 entries"):
        staged.ng.manifolds(by="choice")


def test_manifolds_drop_missing_points_with_a_warning():
    pop = _pop()
    values = pop.values.copy()
    values[:3] = np.nan
    with pytest.warns(UserWarning, match="dropped 3 of 40 points"):
        m = pop.copy(data=values).ng.manifolds(by="choice")
    assert m.points.shape[0] == 37


def test_pool_balances_conditions_and_keeps_sessions_apart():
    a = _pop(n_trial=50, seed=1)
    b = _pop(n_trial=30, seed=2, unit=[10, 11, 12, 13, 14])
    pooled = pool([a, b], by="context", seed=3, sessions=["s1", "s2"])
    counts_a = np.bincount(a["context"].values)
    counts_b = np.bincount(b["context"].values)
    n = min(counts_a.min(), counts_b.min())
    assert pooled.sizes == {"trial": 2 * n, "time": 10, "unit": 10}
    assert np.all(np.bincount(pooled["context"].values) == n)
    assert list(pooled["session"].values) == ["s1"] * 5 + ["s2"] * 5
    # every pseudo-trial draws real trials of the same condition from each session
    for s, src in (("s1", a), ("s2", b)):
        part = pooled.sel(unit=pooled["session"] == s)
        for t in range(pooled.sizes["trial"]):
            row = part.values[t]
            hits = [i for i in range(src.sizes["trial"]) if np.array_equal(src.values[i], row)]
            assert any(src["context"].values[i] == pooled["context"].values[t] for i in hits)
    again = pool([a, b], by="context", seed=3, sessions=["s1", "s2"])
    xr.testing.assert_identical(pooled, again)


def test_pool_errors():
    a = _pop(seed=1)
    with pytest.raises(
        ValueError, match=r"unit ids \[0, 1, 2, 3, 4\] occur in more than one.*unique_unit_ids=True"
    ):
        pool([a, _pop(seed=2)], by="context", unique_unit_ids=False)
    ok = pool([a, _pop(seed=2)], by="context")  # default: "<session>/<id>"
    assert ok["unit"].values[0] == "session0/0" and ok["unit"].values[-1] == "session1/4"
    kept = pool([a, _pop(seed=2, unit=list("abcde"))], by="context", unique_unit_ids=False)
    assert kept["unit"].values.tolist() == [*"01234abcde"]  # ids as given (as strings)
    with pytest.raises(ValueError, match="replace=True"):
        pool([a, _pop(seed=2, unit=list("abcde"))], by="context", n_trials=1000)
    with pytest.raises(ValueError, match="lacks trial label"):
        pool([a, _pop(seed=2, unit=list("abcde"))], by="coherence")


def test_pool_through_the_accessor_is_seeded():
    a = _pop(n_trial=30, seed=1)
    b = _pop(n_trial=45, seed=2, unit=list("vwxyz"))
    c = _pop(n_trial=25, seed=3, unit=list("pqrst"))
    pooled = a.ng.pool([b, c], by=["context", "choice"], seed=5, sessions=["a", "b", "c"])
    xr.testing.assert_identical(
        pooled, pool([a, b, c], by=["context", "choice"], seed=5, sessions=["a", "b", "c"])
    )
    assert pooled.sizes["unit"] == 15 and pooled.attrs["pool_seed"] == 5
    _, counts = np.unique(
        np.stack([pooled["context"].values, pooled["choice"].values], 1), axis=0, return_counts=True
    )
    assert len(counts) == 4 and len(set(counts)) == 1
    other = a.ng.pool([b, c], by=["context", "choice"], seed=6, sessions=["a", "b", "c"])
    assert not np.array_equal(other.values, pooled.values)
    assert set(pooled.coords) >= {"context", "choice", "session", "valid"}
    assert "n_trials" not in pooled.coords  # only the pooling labels stay on `trial`


def test_pool_refuses_sessions_that_do_not_match():
    a = _pop(seed=1)
    b = _pop(seed=2, unit=list("abcde"))
    shifted = b.assign_coords(time=b["time"].values + 0.01)
    with pytest.raises(ValueError, match="other time bins.*same align, window and bin size"):
        pool([a, shifted], by="context")
    rates = b.assign_attrs(quantity="rate_hz")
    with pytest.raises(ValueError, match="'rate_hz'.*pool tensors of the same quantity"):
        pool([a, rates], by="context")
    other = b.assign_coords(context=("trial", b["context"].values + 10))
    with pytest.raises(ValueError, match="no condition.*every session shares"):
        pool([a, other], by="context")
    with pytest.raises(ValueError, match="sessions must name each tensor once"):
        pool([a, b], by="context", sessions=["s", "s"])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bin_size_s": 0.0}, r"bin_size_s must be a positive.*e\.g\. bin_size_s=0\.05"),
        ({"time": [0.0, 0.2, 0.1]}, r"strictly increasing.*pop\.sortby\('time'\)"),
        ({"unit": [1, 1]}, r"repeated: \[1\]\. Give each unit its own id"),
    ],
)
def test_contract_errors_say_how_to_fix_them(kwargs, match):
    args = {"dims": ("trial", "time", "unit"), "quantity": "rate_hz", "bin_size_s": 0.1}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        make_population(np.zeros((4, 3, 2)), **args)


# ---- missing labels -----------------------------------------------------------------------------


def test_nan_label_is_never_a_manifold():
    """A float label that is NaN on catch trials: those trials are left out, with one warning."""
    rng = np.random.default_rng(4)
    coherence = rng.choice([0.1, 0.5], 40)
    coherence[[2, 7, 11]] = np.nan  # catch trials
    pop = _pop(coherence=coherence)
    with pytest.warns(UserWarning, match=r"left out 3 of 40 trials.*\{'coherence': 3\}") as rec:
        m = pop.ng.manifolds(by="coherence", within="context")
    assert len([w for w in rec if "left out" in str(w.message)]) == 1
    assert m.table["coherence"].tolist() == [0.1, 0.1, 0.5, 0.5]
    assert m.n_manifolds == 4 and m.points.shape[0] == 37 and m.labels.min() == 0
    # the points are exactly the labelled trials' window means, grouped by label
    for k, row in m.table.iterrows():
        mask = (coherence == row["coherence"]) & (pop["context"].values == row["context"])
        np.testing.assert_allclose(
            np.sort(m.points[m.labels == k], axis=0), np.sort(pop.values[mask].mean(1), axis=0)
        )


def test_none_label_is_left_out_and_all_missing_is_an_error():
    choice = np.array(["left", "right", None, "left"] * 10, dtype=object)
    pop = _pop(choice=choice)
    with pytest.warns(UserWarning, match="left out 10 of 40 trials"):
        m = pop.ng.manifolds(by="choice")
    assert m.table["choice"].tolist() == ["left", "right"] and m.points.shape[0] == 30
    with pytest.warns(UserWarning, match="left out 10 of 40 trials"):
        avg = pop.ng.average(by="choice")
    assert avg["choice"].values.tolist() == ["left", "right"]
    assert avg["n_trials"].values.tolist() == [20, 10]
    with pytest.raises(ValueError, match=r"every trial has a missing \(NaN or None\) value"):
        _pop(coherence=np.full(40, np.nan)).ng.manifolds(by="coherence")


def test_pool_leaves_out_missing_labels():
    a = _pop(seed=1, context=np.r_[np.nan, np.arange(39) % 2])
    b = _pop(seed=2, unit=list("abcde"))
    with pytest.warns(UserWarning, match="left out 1 of 40 trials"):
        pooled = pool([a, b], by="context")
    assert set(pooled["context"].values.tolist()) == {0.0, 1.0}


# ---- one direction of dependency ----------------------------------------------------------------

PACKAGE = Path(__file__).resolve().parents[1] / "neurogeom"
_UPPER = ("neurogeom.learning", "neurogeom.show", "neurogeom.accessor")
ABOVE_THE_ENGINE = ("neurogeom.population", *_UPPER)
ABOVE_THE_CONTRACT = ("neurogeom.geometry", *_UPPER)


def _imports(path: Path, package: str) -> set[str]:
    """Every module a file imports, anywhere in it (functions too), relative imports resolved."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _violations(imported: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in imported if any(m == f or m.startswith(f + ".") for f in forbidden))


def test_engine_and_contract_do_not_import_upward():
    engine = sorted((PACKAGE / "geometry").glob("*.py"))
    assert len(engine) > 5
    bad = {p.name: _violations(_imports(p, "neurogeom.geometry"), ABOVE_THE_ENGINE) for p in engine}
    assert not any(bad.values()), f"geometry/ imports the contract or above: {bad}"
    contract = _imports(PACKAGE / "population.py", "neurogeom")
    assert not _violations(contract, ABOVE_THE_CONTRACT), contract
    # the check can fail: it sees an import inside a function, and relative imports
    inside = _imports_from_text("def f():\n    from neurogeom import learning\n", "neurogeom")
    assert _violations(inside, ABOVE_THE_CONTRACT) == ["neurogeom.learning"]
    relative = _imports_from_text("from ..population import pool\n", "neurogeom.geometry")
    assert _violations(relative, ABOVE_THE_ENGINE) == [
        "neurogeom.population",
        "neurogeom.population.pool",
    ]


def _imports_from_text(text: str, package: str) -> set[str]:
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(text)
    try:
        return _imports(Path(f.name), package)
    finally:
        Path(f.name).unlink()


def test_accessor_registered_by_importing_neurogeom():
    code = (
        "import sys, xarray as xr; import neurogeom; "
        "assert hasattr(xr.DataArray([1]), 'ng'); "
        "assert 'neurogeom.geometry.capacity' not in sys.modules; "
        "assert 'neurogeom.learning.measure' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
