"""GLUE with its samples split over workers: joblib processes and a real dask LocalCluster give
the one-process numbers for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.geometry import glue


def _clusters(n_manifolds, m, n, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    centres = 2.0 * rng.standard_normal((n_manifolds, n))
    x = np.repeat(centres, m, axis=0) + spread * rng.standard_normal((n_manifolds * m, n))
    return x, np.repeat(np.arange(n_manifolds), m)


@pytest.mark.slow
def test_samples_split_over_a_local_cluster_equal_one_process():
    distributed = pytest.importorskip("distributed")
    x, labels = _clusters(5, 12, 40)
    one = glue(x, labels, n_t=60, seed=4, return_anchors=True)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        split = glue(x, labels, n_t=60, seed=4, return_anchors=True, n_jobs=3, scheduler=client)
        by_address = glue(x, labels, n_t=60, seed=4, n_jobs=2, scheduler=cluster.scheduler_address)
    np.testing.assert_allclose(split.F.values, one.F.values, rtol=1e-12, atol=0)
    np.testing.assert_allclose(by_address.F.values, one.F.values, rtol=1e-12, atol=0)
    for name in ("capacity", "radius", "dimension", "utility", "center_alignment"):
        assert float(split[name]) == pytest.approx(float(one[name]), rel=1e-12)
        assert float(by_address[name]) == pytest.approx(float(one[name]), rel=1e-12)
    np.testing.assert_array_equal(split.active.values, one.active.values)
    ok = np.isfinite(one.anchors.values)
    np.testing.assert_allclose(split.anchors.values[ok], one.anchors.values[ok], rtol=1e-10)


@pytest.mark.slow
def test_batched_iteration_path_split_over_joblib_workers_equals_one_process():
    # rank 300 > 256: FISTA warm start, then the exact finish (equal to its tolerance)
    x, labels = _clusters(3, 110, 300, seed=1, spread=0.5)
    one = glue(x, labels, n_t=40, seed=2, dtype=np.float32)
    assert one.attrs["solver_fista_iterations"] > 0
    split = glue(x, labels, n_t=40, seed=2, dtype=np.float32, n_jobs=2)
    np.testing.assert_allclose(split.F.values, one.F.values, rtol=1e-8)
    assert float(split.capacity) == pytest.approx(float(one.capacity), rel=1e-8)
    assert float(split.radius) == pytest.approx(float(one.radius), rel=1e-6)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "2"])
def test_bad_n_jobs_is_refused(bad):
    x, labels = _clusters(2, 5, 8)
    with pytest.raises(ValueError, match="n_jobs"):
        glue(x, labels, n_t=4, n_jobs=bad)
