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
