"""parallel_map gives the same ordered results whatever runs it."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from neurogeom.parallel import parallel_map


def _seeded_norm(seed: int, n: int = 50) -> float:
    return float(np.linalg.norm(np.random.default_rng(seed).normal(size=n)))


def test_serial_and_processes_agree_in_order():
    expected = [_seeded_norm(s) for s in range(6)]
    assert parallel_map(_seeded_norm, range(6)) == expected
    assert parallel_map(_seeded_norm, range(6), n_jobs=2) == expected
    f = functools.partial(_seeded_norm, n=10)
    assert parallel_map(f, [3, 1], n_jobs=2, backend="threading") == [f(3), f(1)]


@pytest.mark.parametrize("n_jobs", [0, -2, 1.5])
def test_bad_n_jobs(n_jobs):
    with pytest.raises(ValueError, match="n_jobs must be a positive int or -1"):
        parallel_map(_seeded_norm, [1], n_jobs=n_jobs)


# ---- where the work runs: joblib and a real dask LocalCluster -----------------------------------


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise ValueError("three is not allowed")
    return x * x


def _where(x: int) -> str:
    from distributed import get_worker

    return get_worker().address


@pytest.mark.parametrize("backend", ["serial", "joblib"])
def test_a_failing_item_is_named(backend):
    with pytest.raises(ValueError, match=r"item 3 \(3\): three is not allowed"):
        parallel_map(_fails_on_three, range(6), n_jobs=2, backend=backend)


def test_bad_backend_and_dask_without_cluster():
    with pytest.raises(ValueError, match="unknown backend 'spark'"):
        parallel_map(abs, [1], backend="spark")
    with pytest.raises(ValueError, match="needs a cluster"):
        parallel_map(abs, [1], backend="dask")
    from neurogeom.parallel import cluster

    with pytest.raises(ValueError, match="one of scheduler= .* or n_workers="):
        with cluster():
            pass


def test_batches_cover_the_items_in_order():
    from neurogeom.parallel import batches

    items = list(range(23))
    for n_jobs in (1, 2, 5):
        parts = batches(items, n_jobs)
        assert [x for p in parts for x in p] == items and all(parts)
    assert len(batches(items, 1)) == 1 and len(batches(items, 2)) == 8


@pytest.fixture(scope="module")
def dask_client():
    from neurogeom.parallel import cluster

    with cluster(n_workers=2) as client:
        yield client


def test_dask_backend_reuses_the_run_client_in_order(dask_client):
    from neurogeom.parallel import current_client

    expected = [_seeded_norm(s) for s in range(8)]
    assert current_client() is dask_client
    assert parallel_map(_seeded_norm, range(8)) == expected  # inside cluster(): dask
    workers = set(dask_client.scheduler_info()["workers"])
    assert set(parallel_map(_where, range(8))) <= workers  # ran on that cluster
    with pytest.raises(ValueError, match=r"item 3 \(3\): three is not allowed"):
        parallel_map(_fails_on_three, range(6))
    address = dask_client.scheduler.address
    assert parallel_map(_seeded_norm, range(8), scheduler=address) == expected


@pytest.mark.slow
def test_bootstrap_and_trajectory_same_numbers_wherever_they_run(dask_client):
    """The package's fan-outs (geometry over stages, bootstrap and null replicates, the
    difference test's resamples) give the serial numbers on the cluster (and on joblib; the
    trajectory's joblib path is tests/test_broadcast.py's)."""
    import xarray as xr

    from neurogeom.learning.stats import difference_test
    from neurogeom.learning.trajectories import trajectory
    from neurogeom.parallel import _CLIENT
    from neurogeom.population import make_population

    rng = np.random.default_rng(0)
    choice = np.tile([0, 1], 15)
    axes = rng.standard_normal((2, 10))
    data = np.stack([s * axes[choice] + rng.standard_normal((30, 10)) for s in (3.0, 6.0)])
    pop = make_population(data, dims=("stage", "trial", "unit"), quantity="rnn_state",
                          trial_coords={"choice": choice})  # fmt: skip
    kw = {"n_boot": 4, "n_perm": 4, "seed": 1, "n_t": 20}

    def gap(x, y):
        return float(np.linalg.norm(x[y == 0].mean(0) - x[y == 1].mean(0)))

    a, b = data[0], data[1]
    on_dask = (trajectory(pop, by="choice", **kw), difference_test(gap, a, choice, b, choice,
               n_boot=30, n_perm=30))  # fmt: skip
    token = _CLIENT.set(None)  # outside the cluster: serial, then joblib
    try:
        serial = (trajectory(pop, by="choice", **kw), difference_test(gap, a, choice, b, choice,
                  n_boot=30, n_perm=30))  # fmt: skip
        joblib = (difference_test(gap, a, choice, b, choice, n_boot=30, n_perm=30, n_jobs=2),)
    finally:
        _CLIENT.reset(token)
    for x, y in zip(serial, on_dask):
        xr.testing.assert_identical(x, y)
    xr.testing.assert_identical(serial[1], joblib[0])
    assert np.isfinite(serial[0]["capacity_resample_se"].values).all()
