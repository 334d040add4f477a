"""Learning strategies: two routes to the same final capacity are told apart."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import xarray as xr

from neurogeom.geometry import capacity_contour
from neurogeom.learning import strategies
from neurogeom.learning.strategies import compare_strategies, strategy_path

R0, D0 = 2.0, 20.0  # start: alpha = 1.25 / 20 = 0.0625; both routes end at alpha = 0.125
R_END = 1.0 / np.sqrt(1.5)  # compress: 1 + R^-2 = 2.5 at D = 20
D_END = 10.0  # fold: D halves at R = 2


def route(radius, dimension, step=None) -> xr.Dataset:
    n = len(radius)
    step = np.arange(n) if step is None else step
    return xr.Dataset(
        {"radius": ("stage", np.asarray(radius)), "dimension": ("stage", np.asarray(dimension))},
        coords={"stage": np.arange(n), "step": ("stage", step)},
    )


def compress(n=10):
    return route(np.geomspace(R0, R_END, n), np.full(n, D0))


def fold(n=10):
    return route(np.full(n, R0), np.geomspace(D0, D_END, n))


def test_doctests_run():
    assert doctest.testmod(strategies).failed == 0


def test_contour_is_the_glue_identity():
    assert capacity_contour(R0, D0) == pytest.approx(0.0625)
    assert capacity_contour(R_END, D0) == pytest.approx(0.125)
    assert capacity_contour(R0, D_END) == pytest.approx(0.125)
    assert capacity_contour(1.0, 2.0, utility=0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="radius > 0"):
        capacity_contour(0.0, 1.0)


def test_two_routes_same_final_capacity_are_told_apart():
    a, b = strategy_path(compress()), strategy_path(fold())
    res = compare_strategies(a, b)
    np.testing.assert_allclose(res["final_capacity"], [0.125, 0.125])
    np.testing.assert_allclose(res["net_heading_deg"], [180.0, -90.0])
    assert float(res["heading_difference_deg"]) == pytest.approx(90.0)
    # the whole log10 capacity gain (log10 2) is carried by radius on one route, by dimension on the other
    np.testing.assert_allclose(res["radius_part"], [np.log10(2), 0.0], atol=1e-12)
    np.testing.assert_allclose(res["dimension_part"], [0.0, np.log10(2)], atol=1e-12)
    legs = np.log10(R0 / R_END) * np.log10(D0 / D_END)
    assert float(res["area_between"]) == pytest.approx(0.5 * legs, rel=1e-6)
    assert float(res["mean_distance"]) > 0.1


def test_same_route_gives_zero_and_sampling_does_not_matter():
    res = compare_strategies(strategy_path(compress(10)), strategy_path(compress(25)))
    assert float(res["area_between"]) == pytest.approx(0.0, abs=1e-9)
    assert float(res["mean_distance"]) == pytest.approx(0.0, abs=1e-3)
    assert float(res["heading_difference_deg"]) == pytest.approx(0.0)


def test_path_parts_sum_to_log_capacity_and_nan_stages_dropped():
    traj = route([2.0, np.nan, 1.5, 1.0, 0.9], [20.0, 18.0, 15.0, 14.0, 9.0], step=[0, 1, 3, 2, 4])
    path = strategy_path(traj)
    assert path.sizes["stage"] == 4
    np.testing.assert_array_equal(path["step"].values, [0, 2, 3, 4])
    total = path["radius_part"] + path["dimension_part"]
    np.testing.assert_allclose(
        total, np.log10(path["contour_capacity"] / path["contour_capacity"][0])
    )


def test_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 stages"):
        strategy_path(route([1.0], [2.0]))
    with pytest.raises(ValueError, match="lacks \\['radius'\\]"):
        strategy_path(route([1.0, 2.0], [2.0, 3.0]).rename(radius="r"))
    with pytest.raises(ValueError, match="give the output of strategy_path"):
        compare_strategies(compress(), fold())
