"""Quadratic forms of the anchor geometry: the Cholesky route against the eigendecomposition."""

from __future__ import annotations

import numpy as np

from neurogeom.geometry import effective


def _stack(rng, n=40, p=7, dim=12):
    """PSD Gram matrices of anchors with some manifolds inactive (zero rows and columns)."""
    s = rng.standard_normal((n, p, dim))
    active = rng.random((n, p)) > 0.25
    s *= active[..., None]
    return s @ s.transpose(0, 2, 1), rng.standard_normal((n, p)) * active, active


def test_cholesky_route_equals_pseudo_inverse_and_falls_back_where_singular():
    rng = np.random.default_rng(0)
    gram, vec, active = _stack(rng)
    # sample 0: two active rows equal (singular block: the pseudo-inverse cuts one eigenvalue)
    active[0] = True
    gram[0] = 0.0
    base = rng.standard_normal((6, 12))
    rows = np.vstack([base, base[:1]])
    gram[0] = rows @ rows.T
    # sample 1: nothing active
    active[1] = False
    gram[1] = 0.0
    vec[1] = 0.0
    scale = np.max(np.einsum("kpp->kp", gram), axis=1)
    expected = effective._quad_pinv(gram, vec, scale)
    got = effective._quad_pinv(gram, vec, scale, active)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)
    _, ok = effective._quad_cholesky(gram, vec, active, 1e-7 * scale)
    assert not ok[0] and ok[1] and ok[2:].all()
    # the form of the singular block is the pseudo-inverse's, finite
    assert np.isfinite(got[0]) and got[1] == 0.0
