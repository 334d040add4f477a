"""Dichotomy ensembles for the capacity estimators: enumerate them exactly when few, else sample.

A dichotomy gives every manifold a sign, +1 or -1 (one row of shape (P,)). The ensembles:

- ``"nontrivial"`` (default): uniform over the ``2**P - 2`` labellings that are not constant. On
  centred data a constant labelling has no separating direction (its F is the rank of the
  points), so it carries no information about geometry.
- ``"uniform"``: uniform over all ``2**P`` labellings, the two constant ones included (the
  definition in Chou et al. 2025, Alg. 2). On centred data the constant labellings (2 / 2**P of
  the draws: 1/2 at P = 2, 1/8 at P = 4) give F = rank and pull capacity down, so that it then
  partly tracks the number of units rather than the geometry.
- ``"balanced"``: ``P // 2`` manifolds of one sign; for odd P both splits (``P // 2`` labelled +1,
  or ``P // 2`` labelled -1).
- ``"one_vs_rest"``: one manifold +1, all others -1 (P dichotomies).
- an array of shape (n, P) of +-1: the given rows.

When the ensemble has at most ``n_t`` distinct dichotomies, each is used equally often: the
number of samples is ``n_t`` rounded up to a multiple of their number, and sample k uses
dichotomy ``k % n`` (deterministic; only the probes are random). Otherwise they are drawn.
"""

from __future__ import annotations

import itertools
from math import comb

import numpy as np

__all__ = ["ENSEMBLES", "draw"]

ENSEMBLES = ("nontrivial", "uniform", "balanced", "one_vs_rest")
# enumerate an ensemble only up to this many rows (beyond, n_t is smaller anyway)
_MAX_ENUMERATE = 1 << 16


def ensemble_size(name: str, n_manifolds: int) -> int:
    """Number of distinct dichotomies of a named ensemble."""
    p = n_manifolds
    if name == "uniform":
        return 2**p
    if name == "nontrivial":
        return 2**p - 2
    if name == "balanced":
        return comb(p, p // 2) * (1 if p % 2 == 0 else 2)
    return p  # one_vs_rest


def enumerate_ensemble(name: str, n_manifolds: int) -> np.ndarray:
    """Every dichotomy of a named ensemble, shape (ensemble_size, P), in a fixed order."""
    p = n_manifolds
    if name == "one_vs_rest":
        return 2.0 * np.eye(p) - 1.0
    rows = np.array(list(itertools.product((-1.0, 1.0), repeat=p)))
    n_pos = (rows > 0).sum(axis=1)
    if name == "nontrivial":
        rows = rows[(n_pos > 0) & (n_pos < p)]
    elif name == "balanced":
        rows = rows[(n_pos == p // 2) | (n_pos == p - p // 2)]
    return rows


def _sample(name: str, n: int, p: int, rng: np.random.Generator) -> np.ndarray:
    if name == "uniform":
        return rng.choice(np.array([-1.0, 1.0]), size=(n, p))
    if name == "nontrivial":
        out = rng.choice(np.array([-1.0, 1.0]), size=(n, p))
        while True:  # redraw the constant rows (a fraction 2 / 2**P)
            bad = np.flatnonzero(np.abs(out.sum(axis=1)) == p)
            if not bad.size:
                return out
            out[bad] = rng.choice(np.array([-1.0, 1.0]), size=(bad.size, p))
    if name == "balanced":
        out = -np.ones((n, p))
        for k in range(n):
            out[k, rng.permutation(p)[: p // 2]] = 1.0
        if p % 2:
            out *= rng.choice(np.array([-1.0, 1.0]), size=(n, 1))
        return out
    # one_vs_rest: each manifold in turn (stratified), in shuffled order
    out = -np.ones((n, p))
    out[np.arange(n), rng.permutation(np.arange(n) % p)] = 1.0
    return out


def draw(
    scheme: str | np.ndarray, n_t: int, n_manifolds: int, rng: np.random.Generator
) -> tuple[np.ndarray, int, bool]:
    """The dichotomy of every sample.

    Parameters
    ----------
    scheme : str or ndarray of shape (n, P)
        A name in :data:`ENSEMBLES` or validated rows of +-1.
    n_t : int
        Samples asked for.
    n_manifolds : int
    rng : numpy.random.Generator
        Used only when the ensemble is sampled.

    Returns
    -------
    y : ndarray of shape (n_samples, P)
        ``n_samples`` is ``n_t``, or ``n_t`` rounded up to a multiple of the number of distinct
        dichotomies when they are enumerated.
    n_distinct : int
        Distinct dichotomies in the ensemble.
    enumerated : bool
        Whether every dichotomy was used equally often.
    """
    if isinstance(scheme, np.ndarray):
        rows = scheme
        n_distinct = int(np.unique(rows, axis=0).shape[0])
        if rows.shape[0] > n_t:
            return rows[:n_t], n_distinct, False
    else:
        n_distinct = ensemble_size(scheme, n_manifolds)
        if n_distinct > min(n_t, _MAX_ENUMERATE):
            return _sample(scheme, n_t, n_manifolds, rng), n_distinct, False
        rows = enumerate_ensemble(scheme, n_manifolds)
    n = rows.shape[0]
    n_samples = -(-n_t // n) * n
    return rows[np.arange(n_samples) % n], n_distinct, True
