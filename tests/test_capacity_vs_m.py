"""capacity_vs_m on sampled balls recovers the exact ball capacity (glue_spec section 3.2)."""

from __future__ import annotations

import numpy as np
import pytest

from neurogeom.learning.sampling import capacity_vs_m

# alpha_Ball(kappa=0, R=1, D) = 2 / (D + 1), exact (the Lorentz cone is self-dual)
EXACT = {2: 2 / 3, 5: 1 / 3}


def _balls(D: int, M: int, P: int = 12, N: int = 400, R: float = 1.0, seed: int = 0):
    """P balls' surfaces (M points each, radius R) in random D-dimensional subspaces of R^N
    around unit-norm random centres."""
    rng = np.random.default_rng(seed)
    points, labels = [], []
    for p in range(P):
        centre = rng.normal(size=N)
        centre /= np.linalg.norm(centre)
        basis = np.linalg.qr(rng.normal(size=(N, D)))[0]
        u = rng.normal(size=(M, D))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        points.append(centre + R * u @ basis.T)
        labels += [p] * M
    return np.vstack(points), np.array(labels)


@pytest.mark.parametrize("D, m_max", [(2, 40), (5, 150)])
def test_recovers_the_exact_ball_capacity(D, m_max):
    x, y = _balls(D, m_max)
    res = capacity_vs_m(x, y, n_grid=5, m_min=5, n_draws=3, n_t=200, seed=1)
    assert res.attrs["determined"] == 1, res.attrs["reason"]
    assert res.capacity.values[0] > res.capacity.values[-1]  # finite M inflates
    err = float(res.alpha_inf_se)
    assert abs(float(res.alpha_inf) - EXACT[D]) <= 3 * err, (float(res.alpha_inf), err)
    assert err < 0.05 * EXACT[D]


def test_no_limit_where_the_fit_cannot_determine_it():
    x, y = _balls(20, 40, R=0.3)
    res = capacity_vs_m(x, y, n_grid=4, m_min=10, n_draws=2, n_t=100, seed=0)
    assert res.attrs["determined"] == 0 and np.isnan(res.alpha_inf)
    assert float(res.trend) < 0 and res.attrs["reason"]


def test_too_few_points_for_a_grid():
    x, y = _balls(2, 4)
    with pytest.raises(ValueError, match="fewer than m_min=5"):
        capacity_vs_m(x, y)
