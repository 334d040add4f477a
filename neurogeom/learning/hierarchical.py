"""The hierarchical bootstrap: resample subjects, then trials within each subject's sessions.

With several animals, trials of one animal are not independent draws of the population the
question is about: they share the animal (and the session). A bootstrap that resamples trials
pooled over animals treats them as independent and gives intervals far too narrow when animals
differ. The hierarchical bootstrap (Saravanan, Berman & Sober 2020, *Neurons, Behavior, Data
analysis and Theory* 3(5)) resamples the levels in turn: subjects with replacement, then, within
each drawn subject, the trials of each of its sessions.

:func:`hierarchical_bootstrap` does this for a statistic of trial values (the mean by default, in
one vectorised pass); the study analyses (:mod:`neurogeom.learning.study`) use the same scheme on
geometry, with trials subsampled without replacement within each session (duplicated points
inflate capacity).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike

from neurogeom._provenance import child_seed, provenance
from neurogeom.learning.stats import percentile_ci

__all__ = ["LEVELS", "expanded_confidence", "hierarchical_bootstrap"]

LEVELS = ("subject", "trial")


def expanded_confidence(n_subjects: int, confidence: float = 0.95) -> float:
    """The level of Hesterberg's expanded percentile interval for ``n_subjects`` units resampled.

    The bootstrap distribution of a mean of ``n`` units is too narrow by ``sqrt((n - 1) / n)``
    and normal rather than Student-t; the expanded interval takes the percentiles at the level
    ``2 Phi(sqrt(n / (n - 1)) t_{n-1}) - 1`` where ``t_{n-1}`` is the Student-t quantile at
    ``confidence`` (Hesterberg 2015, *The American Statistician* 69:371).

    Parameters
    ----------
    n_subjects : int
        Units resampled at the top level (subjects; trials when only trials are resampled);
        >= 2.
    confidence : float, default=0.95
        The coverage wanted, in (0, 1).

    Returns
    -------
    float
        The percentile level, in [confidence, 1).

    See Also
    --------
    hierarchical_bootstrap : the interval it widens.

    Examples
    --------
    >>> round(expanded_confidence(20), 4)
    0.9682
    """
    from scipy import stats

    if n_subjects < 2:
        raise ValueError(f"an interval over units needs at least 2 of them; got {n_subjects}.")
    t = stats.t.ppf(0.5 + confidence / 2, df=n_subjects - 1)
    return float(min(2 * stats.norm.cdf(np.sqrt(n_subjects / (n_subjects - 1)) * t) - 1, 1 - 1e-9))


def _groups(subject: np.ndarray, session: np.ndarray) -> list[list[np.ndarray]]:
    """Trial indices of each session of each subject (subjects and sessions in sorted order)."""
    out = []
    for s in np.unique(subject):
        rows = np.flatnonzero(subject == s)
        out.append([rows[session[rows] == k] for k in np.unique(session[rows])])
    return out


#: replicates x trials drawn at once by the vectorised mean (bounds its memory)
_BLOCK = 1 << 22


def _mean_replicates(
    x: np.ndarray,
    subj: np.ndarray,
    sess: np.ndarray,
    levels: Sequence[str],
    n_boot: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Replicates of the mean over trials, vectorised over replicates and cells.

    Trials are sorted by (subject, session) into cells; a replicate draws subjects (or keeps
    one pseudo-subject whose one cell holds every trial when only trials are resampled), and
    each cell of each drawn subject is resampled with replacement. Cells of one size are drawn
    together (one block of random integers), replicates in blocks of bounded memory.
    """
    if "subject" in levels:
        _, subj_code = np.unique(subj, return_inverse=True)
        _, sess_code = np.unique(sess, return_inverse=True)
        order = np.lexsort((sess_code, subj_code))
        key = subj_code[order].astype(np.int64) * (int(sess_code.max()) + 1) + sess_code[order]
        _, cell_code = np.unique(key, return_inverse=True)
        subj_code = subj_code[order]
    else:  # one pseudo-subject, one cell: trials pooled over subjects and sessions
        order = np.arange(x.size)
        subj_code = cell_code = np.zeros(x.size, dtype=np.int64)
    xs = x[order]
    n_sub = int(subj_code.max()) + 1
    drawn = (
        rng.integers(0, n_sub, size=(n_boot, n_sub))
        if "subject" in levels
        else np.zeros((n_boot, 1), dtype=np.int64)
    )
    subj_len = np.bincount(subj_code, minlength=n_sub)
    counts = subj_len[drawn].sum(axis=1)
    if "trial" not in levels:
        return np.bincount(subj_code, weights=xs, minlength=n_sub)[drawn].sum(axis=1) / counts
    cell_len = np.bincount(cell_code)
    cell_start = np.concatenate([[0], np.cumsum(cell_len)[:-1]])
    cell_subj = subj_code[cell_start]
    sums = np.zeros(n_boot)
    step = max(1, _BLOCK // max(x.size, 1))
    for lo in range(0, n_boot, step):
        block = drawn[lo : lo + step]
        flat = block.ravel()
        slot_order = np.argsort(flat, kind="stable")  # slots grouped by the subject drawn
        slot_count = np.bincount(flat, minlength=n_sub)
        slot_start = np.cumsum(slot_count) - slot_count
        for n in np.unique(cell_len):
            cells = np.flatnonzero(cell_len == n)
            cnt = slot_count[cell_subj[cells]]
            total = int(cnt.sum())
            if not total:
                continue
            offsets = np.cumsum(cnt) - cnt
            slot = slot_order[
                np.repeat(slot_start[cell_subj[cells]] - offsets, cnt) + np.arange(total)
            ]
            pick = rng.integers(0, n, size=(total, n)) + np.repeat(cell_start[cells], cnt)[:, None]
            sums[lo : lo + step] += np.bincount(
                slot // block.shape[1], weights=xs[pick].sum(axis=1), minlength=block.shape[0]
            )
    return sums / counts


def _callable_replicates(x, subj, sess, statistic, levels, n_boot, rng) -> np.ndarray:
    groups = _groups(subj, sess)
    if "subject" in levels:
        drawn = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    else:  # one pseudo-subject holding every trial
        groups = [[np.arange(x.size)]]
        drawn = np.zeros((n_boot, 1), dtype=np.int64)
    boot = np.empty(n_boot)
    for b in range(n_boot):
        parts = []
        for g in drawn[b]:
            for rows in groups[g]:
                parts.append(
                    x[rows[rng.integers(0, rows.size, rows.size)]] if "trial" in levels else x[rows]
                )
        boot[b] = float(statistic(np.concatenate(parts)))
    return boot


def _hierarchical_interval(
    x: np.ndarray,
    subj: np.ndarray,
    sess: np.ndarray,
    statistic: str | Callable[[np.ndarray], float] = "mean",
    levels: Sequence[str] = LEVELS,
    n_boot: int = 100,
    confidence: float = 0.95,
    expand: bool = True,
    seed: int = 0,
) -> dict[str, Any]:
    """The array path of :func:`hierarchical_bootstrap` (checked input; no Dataset built)."""
    rng = np.random.default_rng(child_seed(seed, 0))
    if statistic == "mean":
        boot = _mean_replicates(x, subj, sess, levels, n_boot, rng)
        estimate = float(np.mean(x))
    else:
        boot = _callable_replicates(x, subj, sess, statistic, levels, n_boot, rng)
        estimate = float(statistic(x))
    n_sub = int(np.unique(subj).size)
    n_units = n_sub if "subject" in levels else x.size
    level = expanded_confidence(n_units, confidence) if expand else float(confidence)
    low, high = percentile_ci(boot, confidence=level)
    return {
        "estimate": estimate,
        "ci_low": float(low),
        "ci_high": float(high),
        "se": float(np.std(boot, ddof=1)),
        "replicates": boot,
        "level": float(level),
        "n_subjects": n_sub,
    }


def hierarchical_bootstrap(
    values: ArrayLike,
    subjects: ArrayLike,
    sessions: ArrayLike | None = None,
    *,
    statistic: str | Callable[[np.ndarray], float] = "mean",
    levels: Sequence[str] = LEVELS,
    n_boot: int = 100,
    confidence: float = 0.95,
    expand: bool = True,
    seed: int = 0,
) -> xr.Dataset:
    """Percentile interval of a statistic of trial values from a hierarchical bootstrap.

    Parameters
    ----------
    values : array_like, shape (n_trials,)
        One value per trial.
    subjects : array_like, shape (n_trials,)
        The subject (animal, network) of each trial.
    sessions : array_like, shape (n_trials,), optional
        The session of each trial within its subject (default: one session per subject).
    statistic : "mean" or callable, default="mean"
        ``"mean"``: the mean over all trials of the replicate (every replicate drawn in one
        vectorised pass); a callable takes the replicate's values (1-D) and returns a float.
    levels : sequence of {"subject", "trial"}, default=("subject", "trial")
        The levels resampled: subjects with replacement, then trials with replacement within
        each session of each drawn subject. ``("trial",)``: trials pooled over subjects (the
        bootstrap that ignores subjects; too narrow when subjects differ). ``("subject",)``:
        subjects only, each keeping all its trials.
    n_boot : int, default=100
        Replicates (at least 2; a few thousand for intervals reported to two digits).
    confidence : float, default=0.95
    expand : bool, default=True
        Hesterberg's expanded percentile interval (``expanded_confidence``): the
        percentiles are taken at a level widened for the number of units resampled at the top
        level (subjects), which corrects the percentile interval's under-coverage with few
        subjects (about 0.92 instead of 0.95 at 20).
    seed : int, default=0

    Returns
    -------
    xarray.Dataset
        0-d ``estimate`` (the statistic on all trials), ``ci_low``, ``ci_high``, ``se`` (standard
        deviation of the replicates); ``replicates`` over ``replicate``. attrs: levels,
        n_boot, confidence, seed, n_subjects, statistic.

    Notes
    -----
    Resampling trials again inside resampled subjects adds the trial-level variance a second
    time (it is already in each subject's mean), so the interval is slightly conservative when
    subjects are few trials each (Saravanan et al. 2020); with ``levels=("subject",)`` it is not.

    See Also
    --------
    neurogeom.learning.study_trajectory : the same resampling on geometry along sessions.
    neurogeom.learning.paired_difference : paired tests across subjects.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> subjects = np.repeat(np.arange(10), 30)
    >>> x = rng.normal(size=10)[subjects] + rng.normal(size=300)
    >>> res = hierarchical_bootstrap(x, subjects)
    >>> bool(res.ci_low < res.estimate < res.ci_high)
    True
    """
    x = np.asarray(values, dtype=float).ravel()
    subj = np.asarray(subjects).ravel()
    sess = np.zeros(x.size, dtype=np.int64) if sessions is None else np.asarray(sessions).ravel()
    if subj.size != x.size or sess.size != x.size:
        raise ValueError(
            f"values, subjects and sessions need one entry per trial; got {x.size}, {subj.size} "
            f"and {sess.size}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("values hold NaN or inf; drop those trials first.")
    unknown = set(levels) - set(LEVELS)
    if unknown or not levels:
        raise ValueError(f"levels must be a non-empty subset of {LEVELS}; got {list(levels)}.")
    if int(n_boot) < 2:
        raise ValueError(f"n_boot must be at least 2; got {n_boot}.")
    if statistic != "mean" and not callable(statistic):
        raise ValueError(f"statistic must be 'mean' or a callable; got {statistic!r}.")
    res = _hierarchical_interval(
        x, subj, sess, statistic, tuple(levels), int(n_boot), confidence, expand, seed
    )
    return xr.Dataset(
        {
            "estimate": res["estimate"],
            "ci_low": res["ci_low"],
            "ci_high": res["ci_high"],
            "se": res["se"],
            "replicates": ("replicate", res["replicates"]),
        },
        attrs=provenance(
            "hierarchical_bootstrap",
            levels=list(levels),
            n_boot=int(n_boot),
            confidence=float(confidence),
            seed=int(seed),
            n_subjects=res["n_subjects"],
            statistic="mean" if statistic == "mean" else getattr(statistic, "__name__", "callable"),
            expand=int(bool(expand)),
            percentile_level=res["level"],
        ),
    )
