"""Synthetic studies: several subjects, sessions with their own neurons and trials, a known change.

:func:`synthetic_study` generates what a lab records across learning, with a ground truth: each
subject learns a task over its sessions, and the separation of the condition manifolds grows
with learning along a stated curve, so capacity rises and the change is known.

The model (every number is a parameter):

- ``n_conditions`` condition centres ``mu_k``: orthogonal unit vectors of a ``latent_dim``-dimensional
  latent space (the same for every subject: one task);
- learning progress of session ``s`` of ``n`` (fraction of training ``f = s / (n - 1)``):
  ``p(f) = sigmoid((f - onset) / transition_width)``, rescaled to run from 0 at the first session to 1 at the
  last;
- separation ``sep = separation * (1 + subject effect) + change * p + session effect``, the subject
  effect ``~ N(0, subject_sd)`` and the session effect ``~ N(0, session_sd)``;
- trial ``j`` of condition ``k``: latent ``sep * mu_k + spread * z`` (``z`` standard normal),
  embedded in the session's units by a random ``n_units x latent_dim`` matrix with orthonormal
  columns (its own units in each session, unless ``shared_units``), plus independent unit noise of
  standard deviation ``noise``;
- each session has its own number of units and of trials per condition, drawn uniformly from the
  given ranges; its attrs record ``day`` (sessions 1 to 3 days apart), ``fraction``, ``progress``
  (the true ``p``), ``performance`` (``0.5 + 0.45 p`` plus noise) and ``phase`` (``early`` while
  ``p < 0.5``, else ``late``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from neurogeom.population import make_population
from neurogeom.studies import study

__all__ = ["learning_progress", "synthetic_study"]


def learning_progress(
    training_fraction: np.ndarray, onset: float = 0.5, transition_width: float = 0.15
) -> np.ndarray:
    """The true learning progress ``p`` in [0, 1] at fractions of training in [0, 1].

    Parameters
    ----------
    training_fraction : ndarray
        Fractions of training (session index over the last index), in [0, 1].
    onset : float, default=0.5
        Fraction of training at which half the change has happened (before the rescaling).
    transition_width : float, default=0.15
        Width of the sigmoid, in fractions of training (small: a step).

    Returns
    -------
    ndarray
        ``sigmoid((f - onset) / width)`` rescaled so that ``p(0) = 0`` and ``p(1) = 1``.

    See Also
    --------
    synthetic_study : Studies whose geometry follows this progress.

    Examples
    --------
    >>> learning_progress(np.array([0.0, 0.5, 1.0])).round(3).tolist()
    [0.0, 0.5, 1.0]
    """
    f = np.asarray(training_fraction, dtype=float)

    def sig(x):
        return 1.0 / (1.0 + np.exp(-(x - onset) / transition_width))

    return (sig(f) - sig(0.0)) / (sig(1.0) - sig(0.0))


def _range(value: int | Sequence[int]) -> tuple[int, int]:
    lo, hi = (value, value) if np.ndim(value) == 0 else tuple(value)  # type: ignore[misc]
    if not 1 <= int(lo) <= int(hi):
        raise ValueError(f"a range must be (low, high) with 1 <= low <= high; got {value!r}.")
    return int(lo), int(hi)


def synthetic_study(
    n_subjects: int = 4,
    n_sessions: int | Sequence[int] = 6,
    *,
    n_conditions: int = 3,
    n_units: int | Sequence[int] = (40, 60),
    n_trials: int | Sequence[int] = (15, 25),
    latent_dim: int = 6,
    separation: float = 1.0,
    change: float = 1.0,
    onset: float = 0.5,
    transition_width: float = 0.15,
    spread: float = 1.0,
    noise: float = 0.3,
    subject_sd: float = 0.1,
    session_sd: float = 0.05,
    shared_units: bool = False,
    condition_label: str = "condition",
    subject_prefix: str = "sub",
    seed: int = 0,
) -> xr.DataTree:
    """A generated study: subjects learning a task over sessions, with a known change of geometry.

    The model is in the module docstring (:mod:`neurogeom.synthetic`).

    Parameters
    ----------
    n_subjects : int, default=4
    n_sessions : int or (low, high), default=6
        Sessions per subject (a range: each subject draws its own number).
    n_conditions : int, default=3
        Condition manifolds (the ``condition_label`` values 0, 1, ...).
    n_units, n_trials : int or (low, high)
        Units per session and trials per condition per session (drawn per session).
    latent_dim : int, default=6
        Dimension of the latent task space (>= n_conditions).
    separation, change : float
        Separation of the condition centres before learning, and its growth at the end of
        learning (0: no change).
    onset, transition_width : float
        The learning curve (``learning_progress``).
    spread, noise : float
        Latent within-condition spread, and independent unit noise (standard deviations).
    subject_sd, session_sd : float
        Subject and session random effects on the separation (relative and absolute).
    shared_units : bool, default=False
        One set of units per subject, seen at every session (checkpoints of a network).
    condition_label : str, default="condition"
        The name of the trial label holding the conditions.
    subject_prefix : str, default="sub"
        Subjects are named ``<prefix>-<i>``; sessions ``ses-<s>``.
    seed : int, default=0

    Returns
    -------
    xarray.DataTree
        A study (:func:`neurogeom.study`): ``/<subject>/<session>`` nodes with (``trial``,
        ``unit``) tensors, quantity ``rate_hz``; session attrs ``order``, ``day``, ``fraction``,
        ``progress``, ``performance``, ``phase``, ``separation``; subject attrs ``species``
        (``"synthetic"``), ``subject_effect``.

    See Also
    --------
    neurogeom.synthetic.learning_progress : The true progress of each session.
    neurogeom.studies.session_nodes : The sessions in learning order.
    neurogeom.learning.study_trajectory : A measure along each subject's sessions.

    Examples
    --------
    >>> tree = synthetic_study(n_subjects=2, n_sessions=3, seed=1)
    >>> sorted(tree.children), sorted(tree["sub-0"].children)
    (['sub-0', 'sub-1'], ['ses-0', 'ses-1', 'ses-2'])
    >>> tree["sub-0/ses-2"].attrs["progress"]
    1.0
    """
    if latent_dim < n_conditions:
        raise ValueError(f"latent_dim ({latent_dim}) must be >= n_conditions ({n_conditions}).")
    rng = np.random.default_rng(seed)
    sessions_lo, sessions_hi = _range(n_sessions)
    units_lo, units_hi = _range(n_units)
    trials_lo, trials_hi = _range(n_trials)
    centres = np.eye(latent_dim)[:n_conditions]
    source: dict[str, dict[str, xr.DataArray]] = {}
    session_attrs: dict[tuple[str, str], dict[str, object]] = {}
    subject_attrs: dict[str, dict[str, object]] = {}
    for i in range(int(n_subjects)):
        subject = f"{subject_prefix}-{i}"
        effect = float(rng.normal(0.0, subject_sd))
        subject_attrs[subject] = {"subject_effect": effect}
        n_ses = int(rng.integers(sessions_lo, sessions_hi + 1))
        fraction = np.arange(n_ses) / max(n_ses - 1, 1)
        progress = learning_progress(fraction, onset, transition_width)
        day = np.concatenate([[0], np.cumsum(rng.integers(1, 4, n_ses - 1))])
        n_shared = int(rng.integers(units_lo, units_hi + 1))
        shared = np.linalg.qr(rng.normal(size=(n_shared, latent_dim)))[0]
        source[subject] = {}
        for s in range(n_ses):
            n_u = n_shared if shared_units else int(rng.integers(units_lo, units_hi + 1))
            embed = shared if shared_units else np.linalg.qr(rng.normal(size=(n_u, latent_dim)))[0]
            counts = rng.integers(trials_lo, trials_hi + 1, n_conditions)
            labels = np.repeat(np.arange(n_conditions), counts)
            sep = separation * (1 + effect) + change * progress[s] + rng.normal(0, session_sd)
            latent = sep * centres[labels] + spread * rng.normal(size=(labels.size, latent_dim))
            data = latent @ embed.T + noise * rng.normal(size=(labels.size, n_u))
            session = f"ses-{s}"
            units = (
                np.arange(n_u)
                if shared_units
                else [f"{subject}-{session}-u{u}" for u in range(n_u)]
            )
            source[subject][session] = make_population(
                data,
                dims=("trial", "unit"),
                quantity="rate_hz",
                trial_coords={condition_label: labels},
                unit=units,
                source="neurogeom.synthetic_study",
                species="synthetic",
            )
            perf = float(np.clip(0.5 + 0.45 * progress[s] + rng.normal(0, 0.02), 0, 1))
            session_attrs[(subject, session)] = {
                "day": int(day[s]),
                "fraction": float(fraction[s]),
                "progress": float(progress[s]),
                "performance": perf,
                "phase": "early" if progress[s] < 0.5 else "late",
                "separation": float(sep),
            }
    return study(source, subject_attrs=subject_attrs, session_attrs=session_attrs)
