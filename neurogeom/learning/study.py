"""Learning analyses of a study: geometry per session, trajectories per subject, tests across them.

A study (:func:`neurogeom.study`) is an :class:`xarray.DataTree` ``/<subject>/<session>`` whose
sessions each have their own units and trials. Everything here reads it through xarray's API and
:func:`neurogeom.population.node_tensor` (a session from a file is read on first use).

Rules (stated, and recorded in the results' attrs):

- **Per session.** Geometry is computed on each session's own units and trials; no neuron is
  matched across sessions.
- **Points per manifold.** Capacity grows as manifolds have fewer points, so within a subject every
  session is measured at the same number of points per manifold ``M``: by default the smallest
  count of any condition in any of its sessions, each session subsampled without replacement
  (seeded) to ``M``. Below ``min_points`` the analysis refuses and says which session is short.
  ``M`` (``n_points``, per subject) and the number of units ``N`` (``n_units``, per session) are
  returned beside every number.
- **Learning axis.** ``axis`` is ``"session"`` (the session index), ``"day"``, ``"fraction"``
  (of training: the session index over the subject's last index) or ``"performance"`` (a session
  attr), and ``rule`` puts subjects with different numbers of sessions on a common grid:
  ``"index"`` (grid point ``k`` is each subject's ``k``-th session, NaN past its last) or
  ``"interpolate"`` (linear interpolation of each subject's values onto ``n_grid`` evenly spaced
  values of the axis over the range every subject covers).
- **Intervals across subjects**: the hierarchical bootstrap (subjects with replacement, then each
  drawn subject's trials subsampled without replacement within each session: half of each
  manifold's ``M`` points, the replicate recentred on the session's estimate and rescaled by
  ``sqrt(f / (1 - f))`` as :func:`neurogeom.learning.trajectory` does), with Hesterberg's expanded
  percentile level (:func:`neurogeom.learning.hierarchical.expanded_confidence`).
- **Stage tests** are paired across subjects (:func:`neurogeom.learning.paired_difference`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._provenance import child_seed, provenance
from neurogeom.geometry.registry import get_measure
from neurogeom.learning.hierarchical import expanded_confidence
from neurogeom.learning.prepare import window_mean
from neurogeom.learning.stages import GLUE_MEASURES, learning_stages
from neurogeom.learning.stats import paired_difference, percentile_ci
from neurogeom.population import STUDY_VARIABLE, label_names, node_tensor, trial_labels

__all__ = [
    "AXES",
    "RULES",
    "study_geometry",
    "study_stage_difference",
    "study_stages",
    "study_trajectory",
]

AXES = ("session", "day", "fraction", "performance")
RULES = ("index", "interpolate")
#: GLUE problems solved per call of glue_batch (its memory grows with the batch; time does not
#: gain past a few hundred)
_BATCH = 256
#: A study's floor of points per manifold (see ``min_points`` in :func:`study_geometry`).
MIN_POINTS = 5


# ---- reading the study ---------------------------------------------------------------------------


def _subjects(tree: xr.DataTree) -> list[tuple[str, list[xr.DataTree]]]:
    if not isinstance(tree, xr.DataTree):
        raise TypeError(
            f"a study is an xarray.DataTree (build one with neurogeom.study(...)); got "
            f"{type(tree).__name__}."
        )
    out = []
    for name, node in tree.children.items():
        sessions = sorted(node.children.values(), key=lambda n: n.attrs.get("order", 0))
        if not sessions:
            raise ValueError(f"subject {name!r} has no session nodes.")
        out.append((str(name), sessions))
    if not out:
        raise ValueError("the study has no subjects; build it with neurogeom.study(...).")
    return out


def _session_points(
    node: xr.DataTree, by: tuple[str, ...], variable: str, window_s: Any
) -> tuple[np.ndarray, np.ndarray, int, dict[str, tuple]]:
    """(points (trials, units), label keys (trials,), n_units, key -> label values) of one
    session."""
    pop = node_tensor(node, variable)
    if "stage" in pop.dims:
        raise ValueError(
            f"session {node.path!r} has a 'stage' dim; a study's sessions are (trial, [time], "
            "unit) tensors (split the stages into sessions with neurogeom.study({subject: pop}))."
        )
    missing = [b for b in by if b not in trial_labels(pop)]
    if missing:
        raise ValueError(
            f"session {node.path!r} lacks the label(s) {missing}; its labels are "
            f"{trial_labels(pop)}."
        )
    if "time" in pop.dims:
        if window_s is None:
            raise ValueError(
                f"session {node.path!r} has a 'time' dim; give window_s=(start_s, stop_s) to "
                "average each trial over a window."
            )
        pop = window_mean(pop, window_s)
    x = pop.transpose("trial", "unit").values.astype(float)
    rows = list(zip(*(pop[b].values.tolist() for b in by)))
    keys = np.array(["|".join(str(v) for v in row) for row in rows], dtype=object)
    values = dict(zip(keys.tolist(), rows))
    ok = np.all(np.isfinite(x), axis=1)
    return x[ok], keys[ok], pop.sizes["unit"], values


def _subject_conditions(
    name: str, per_session: list[tuple[str, np.ndarray]], values: dict[str, tuple]
) -> list[str]:
    """The conditions every session shares, in the order of their label values (as the
    single-tensor measures order manifolds), or of their text where values do not compare."""
    shared = set.intersection(*(set(k.tolist()) for _, k in per_session))
    if len(shared) < 2:
        raise ValueError(
            f"the sessions of subject {name!r} share {len(shared)} condition(s) of the labels "
            f"({sorted(shared)[:5]}); geometry compares at least 2 conditions present in every "
            "session: check the label names and values of each session."
        )
    try:
        return sorted(shared, key=lambda k: values[k])
    except TypeError:
        return sorted(shared)


class _Subject:
    """One subject's sessions as arrays, balanced at M points per condition."""

    def __init__(self, name, sessions, by, variable, window_s, n_points, min_points):
        self.name = name
        self.nodes = sessions
        raw = [_session_points(n, by, variable, window_s) for n in sessions]
        values = {key: v for *_, vals in raw for key, v in vals.items()}
        self.conditions = _subject_conditions(
            name, [(n.path, k) for n, (_, k, _, _) in zip(sessions, raw)], values
        )
        self.n_units = [u for _, _, u, _ in raw]
        counts = [min(int(np.sum(k == c)) for c in self.conditions) for _, k, _, _ in raw]
        smallest = int(min(counts))
        m = smallest if n_points is None else int(n_points)
        if m < min_points or m > smallest:
            short = sessions[int(np.argmin(counts))].path
            raise ValueError(
                f"subject {name!r}: {'asked for' if n_points else 'the smallest count is'} "
                f"{m} points per condition ({short!r} has {smallest}); a study analysis needs "
                f"between min_points={min_points} and {smallest} (fewer points inflate capacity "
                "and make sessions incomparable). Drop that session or lower min_points."
            )
        self.m = m
        self.raw = [(x, k) for x, k, _, _ in raw]
        self.n_trials = [int(k.size) for _, k in self.raw]

    def draw(self, i: int, rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray]:
        """m points of every condition of session i, without replacement."""
        x, k = self.raw[i]
        rows = np.concatenate(
            [np.sort(rng.choice(np.flatnonzero(k == c), m, replace=False)) for c in self.conditions]
        )
        return x[rows], np.repeat(np.arange(len(self.conditions)), m)


def _load(tree, by, variable, window_s, n_points, min_points) -> list[_Subject]:
    by_t = label_names(by)
    variable = variable or tree.attrs.get("variable", STUDY_VARIABLE)
    return [
        _Subject(name, sessions, by_t, variable, window_s, n_points, min_points)
        for name, sessions in _subjects(tree)
    ]


# ---- computing a measure on many sessions --------------------------------------------------------


def _measure_many(measure: str, problems: list[tuple[np.ndarray, np.ndarray]], seeds, options):
    """Measure outputs (list of dicts name -> (value, sem)) of many (points, labels) problems."""
    m = get_measure(measure)
    names = [o.name for o in m.outputs]
    if measure == "glue" and problems:
        from neurogeom.geometry import glue_batch

        seeds = list(seeds)
        out = []
        # in batches of bounded memory; the numbers do not depend on the batches
        for lo in range(0, len(problems), _BATCH):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                ds = glue_batch(problems[lo : lo + _BATCH], seed=seeds[lo : lo + _BATCH], **options)
            values = {n: ds[n].values for n in names if n in ds}
            sems = {n: ds[f"{n}_sem"].values if f"{n}_sem" in ds else None for n in values}
            out.extend(
                {
                    n: (float(v[i]), float(sems[n][i]) if sems[n] is not None else np.nan)
                    for n, v in values.items()
                }
                for i in range(ds.sizes["problem"])
            )
        return out
    import inspect

    func = m.resolve()
    takes_seed = "seed" in inspect.signature(func).parameters
    out = []
    for (x, y), s in zip(problems, seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = func(x, y, **({"seed": s} if takes_seed else {}), **options)
        if isinstance(ds, xr.DataArray):
            ds = ds.to_dataset(name=m.outputs[0].name)
        out.append(
            {
                n: (float(ds[n]), float(ds[f"{n}_sem"]) if f"{n}_sem" in ds else np.nan)
                for n in names
                if n in ds and ds[n].ndim == 0
            }
        )
    return out


def _geometry_arrays(subjects, measure, n_boot, fraction, seed, options):
    """Point values (S, K, outputs), sems, and subsample replicates (S, K, B, outputs)."""
    n_ses = max(len(s.nodes) for s in subjects)
    problems, seeds, where = [], [], []
    for i, subj in enumerate(subjects):
        for k in range(len(subj.nodes)):
            rng = np.random.default_rng(child_seed(seed, 0, i, k))
            problems.append(subj.draw(k, rng, subj.m))
            seeds.append(child_seed(seed, 1, i, k))
            where.append((i, k, -1))
            m_sub = max(2, int(round(fraction * subj.m)))
            for b in range(n_boot):
                rng = np.random.default_rng(child_seed(seed, 2, i, k, b))
                problems.append(subj.draw(k, rng, m_sub))
                seeds.append(child_seed(seed, 3, i, k, b))
                where.append((i, k, b))
    results = _measure_many(measure, problems, seeds, options)
    names = [n for n in (o.name for o in get_measure(measure).outputs) if n in results[0]]
    shape = (len(subjects), n_ses, len(names))
    value, sem = np.full(shape, np.nan), np.full(shape, np.nan)
    reps = np.full((len(subjects), n_ses, max(n_boot, 1), len(names)), np.nan)
    for (i, k, b), res in zip(where, results):
        row = [res[n][0] for n in names]
        if b < 0:
            value[i, k] = row
            sem[i, k] = [res[n][1] for n in names]
        else:
            reps[i, k, b] = row
    return names, value, sem, reps if n_boot else None


def _axis_values(subjects: list[_Subject], axis: str) -> np.ndarray:
    if axis not in AXES:
        raise ValueError(f"axis must be one of {AXES}; got {axis!r}.")
    n_ses = max(len(s.nodes) for s in subjects)
    out = np.full((len(subjects), n_ses), np.nan)
    for i, subj in enumerate(subjects):
        n = len(subj.nodes)
        if axis == "session":
            out[i, :n] = np.arange(n)
        elif axis == "fraction":
            out[i, :n] = np.arange(n) / max(n - 1, 1)
        else:
            vals = [node.attrs.get(axis) for node in subj.nodes]
            if any(v is None for v in vals):
                raise ValueError(
                    f"axis={axis!r} needs the session attr {axis!r} in every session; subject "
                    f"{subj.name!r} lacks it in {[n.path for n, v in zip(subj.nodes, vals) if v is None][:3]}. "
                    "Give it with neurogeom.study(..., session_attrs={(subject, session): {...}})."
                )
            out[i, :n] = np.asarray(vals, dtype=float)
    return out


def study_geometry(
    tree: xr.DataTree,
    by: str | Sequence[str],
    measure: str = "glue",
    *,
    variable: str | None = None,
    window_s: Any = None,
    n_points: int | None = None,
    min_points: int = MIN_POINTS,
    seed: int = 0,
    **measure_options: Any,
) -> xr.Dataset:
    """A measure in every session of a study, on that session's own units and trials.

    Parameters
    ----------
    tree : xarray.DataTree
        A study (:func:`neurogeom.study`).
    by : str or sequence of str
        Trial label(s) defining the manifolds (the conditions every session of a subject shares).
    measure : str, default="glue"
        Registry name of a measure of (points, labels) returning scalar outputs.
    variable : str, optional
        The tensors' variable name (default: the study's).
    window_s : (start_s, stop_s), optional
        Window averaged into each trial's point, for tensors with a ``time`` dim.
    n_points : int, optional
        Points per manifold in every session (default: the subject's smallest count).
    min_points : int, default=5
        Refuse below this many points per manifold. A study's floor is 5 (``MIN_POINTS``), not
        the 2 a single measurement needs: below 5, capacity is dominated by its finite-sample
        inflation (:func:`neurogeom.learning.capacity_vs_m`), and the interval's half-subsamples
        would hold 2 points.
    seed : int, default=0
        Session ``k`` of subject ``i`` is subsampled with ``child_seed(seed, 0, i, k)`` and
        measured with ``child_seed(seed, 1, i, k)``.
    **measure_options
        Options of the measure (``n_t=100``).

    Returns
    -------
    xarray.Dataset
        Dims (``subject``, ``session``) (``session``: position 0, 1, ... in each subject's
        learning order; NaN past a subject's last session). For each output ``v``: ``v``,
        ``v_sem``. ``n_points`` (subject): M; ``n_units``, ``n_trials`` (subject, session);
        coords ``session_name`` and ``seed_used`` (the measure's seed; -1 past a subject's
        last session) over (subject, session). Manifolds are ordered by their label values,
        as :func:`neurogeom.learning.measure_geometry` orders them, so a session measured with
        its ``seed_used`` on the same points gives the same numbers there. attrs: measure, by,
        min_points, seed.

    See Also
    --------
    study_trajectory : the study's trajectory with intervals.
    neurogeom.learning.measure_geometry : one tensor's measure at every stage.

    Examples
    --------
    >>> import neurogeom as ng
    >>> tree = ng.synthetic_study(n_subjects=2, n_sessions=3, seed=0)
    >>> ds = study_geometry(tree, by="condition", n_t=20)
    >>> ds.capacity.dims, ds.n_points.values.tolist()
    (('subject', 'session'), [15, 15])
    """
    subjects = _load(tree, by, variable, window_s, n_points, min_points)
    names, value, sem, _ = _geometry_arrays(subjects, measure, 0, 0.5, seed, measure_options)
    return _per_session(subjects, names, value, sem, measure, by, min_points, seed)


def _per_session(subjects, names, value, sem, measure, by, min_points, seed) -> xr.Dataset:
    n_ses = value.shape[1]
    ds = xr.Dataset()
    for j, n in enumerate(names):
        ds[n] = (("subject", "session"), value[:, :, j])
        ds[f"{n}_sem"] = (("subject", "session"), sem[:, :, j])
    units = np.full((len(subjects), n_ses), -1, dtype=np.int64)
    trials = np.full((len(subjects), n_ses), -1, dtype=np.int64)
    session_name = np.full((len(subjects), n_ses), "", dtype=object)
    seed_used = np.full((len(subjects), n_ses), -1, dtype=np.int64)
    for i, s in enumerate(subjects):
        units[i, : len(s.nodes)] = s.n_units
        trials[i, : len(s.nodes)] = s.n_trials
        session_name[i, : len(s.nodes)] = [str(n.name) for n in s.nodes]
        seed_used[i, : len(s.nodes)] = [child_seed(seed, 1, i, k) for k in range(len(s.nodes))]
    ds["n_points"] = ("subject", np.array([s.m for s in subjects], dtype=np.int64))
    ds["n_units"] = (("subject", "session"), units)
    ds["n_trials"] = (("subject", "session"), trials)
    ds = ds.assign_coords(
        subject=[s.name for s in subjects],
        session=np.arange(n_ses),
        session_name=(("subject", "session"), session_name.astype(str)),
        seed_used=(("subject", "session"), seed_used),
    )
    ds.attrs = provenance(
        "study_geometry",
        measure=measure,
        by=list(label_names(by)),
        min_points=int(min_points),
        seed=int(seed),
        outputs=names,
        n_points_rule="the subject's smallest condition count, unless n_points is given",
    )
    return ds


# ---- trajectories --------------------------------------------------------------------------------


def _on_grid(axis_vals: np.ndarray, values: np.ndarray, rule: str, n_grid: int | None):
    """Values (S, K, ...) onto a common grid: (grid (G,), values (S, G, ...))."""
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}; got {rule!r}.")
    if rule == "index":
        return np.arange(values.shape[1], dtype=float), values
    lo = np.nanmax(np.nanmin(axis_vals, axis=1))
    hi = np.nanmin(np.nanmax(axis_vals, axis=1))
    if not hi > lo:
        raise ValueError(
            f"rule='interpolate' needs a range of the axis every subject covers; the subjects "
            f"share [{lo}, {hi}]. Use rule='index' or another axis."
        )
    n_grid = n_grid or int(np.max(np.sum(np.isfinite(axis_vals), axis=1)))
    grid = np.linspace(lo, hi, n_grid)
    out = np.full((values.shape[0], n_grid, *values.shape[2:]), np.nan)
    for i in range(values.shape[0]):
        ok = np.isfinite(axis_vals[i])
        order = np.argsort(axis_vals[i][ok])
        xs = axis_vals[i][ok][order]
        flat = values[i][ok][order].reshape(ok.sum(), -1)
        for c in range(flat.shape[1]):
            out[i, :, ...].reshape(n_grid, -1)[:, c] = np.interp(grid, xs, flat[:, c])
    return grid, out


def _hierarchical_columns(
    out: xr.Dataset,
    names: list[str],
    value: np.ndarray,
    reps: np.ndarray | None,
    axis_vals: np.ndarray,
    rule: str,
    n_grid: int | None,
    shape: tuple[int, int],
    n_boot: int,
    fraction: float,
    confidence: float,
    seed: int,
) -> float:
    """The across-subject interval (hierarchical bootstrap) and the per-subject resampling
    columns of a study trajectory, written into ``out``; returns the expanded percentile level
    (NaN without replicates)."""
    tail = (1 - confidence) / 2
    level = float("nan")
    if reps is not None:
        scale = np.sqrt(fraction / (1 - fraction))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            centred = value[:, :, None, :] + scale * (
                reps - np.nanmean(reps, axis=2, keepdims=True)
            )
        _, g_reps = _on_grid(axis_vals, centred, rule, n_grid)  # (S, G, B, outputs)
        level = expanded_confidence(value.shape[0], confidence)
        rng = np.random.default_rng(child_seed(seed, 4))
        n_sub = value.shape[0]
        drawn = rng.integers(0, n_sub, size=(n_boot, n_sub))
        which = rng.integers(0, n_boot, size=(n_boot, n_sub))
        # replicate b: subjects drawn[b], each with its within-session subsample which[b]
        curves = g_reps[drawn, :, which, :]  # (B, n_sub, G, outputs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            study_reps = np.nanmean(curves, axis=1)  # (B, G, outputs)
            sd = np.nanstd(g_reps, axis=2, ddof=1)
            low_s, high_s = np.nanquantile(g_reps, [tail, 1 - tail], axis=2)
        # the change from each subject's first to its last grid stage, per replicate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ends = _last_finite(np.nanmean(g_reps, axis=2))  # (S, outputs)
        last = np.take_along_axis(g_reps, ends[:, None, None, :], axis=1)[:, 0]  # (S, B, outputs)
        change = last - g_reps[:, 0]
        study_change = np.nanmean(change[drawn, which], axis=1)  # (B, outputs)
        for j, n in enumerate(names):
            lo, hi = percentile_ci(study_reps[:, :, j], confidence=level)
            out[f"{n}_study_ci_low"] = ("stage", lo)
            out[f"{n}_study_ci_high"] = ("stage", hi)
            out[f"{n}_study_se"] = ("stage", np.nanstd(study_reps[:, :, j], axis=0, ddof=1))
            out[f"{n}_resample_se"] = (("subject", "stage"), sd[:, :, j])
            out[f"{n}_ci_low"] = (("subject", "stage"), low_s[:, :, j])
            out[f"{n}_ci_high"] = (("subject", "stage"), high_s[:, :, j])
            lo, hi = percentile_ci(study_change[:, j : j + 1], confidence=level)
            out[f"{n}_study_change_ci_low"] = ((), float(lo[0]))
            out[f"{n}_study_change_ci_high"] = ((), float(hi[0]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                lo, hi = np.nanquantile(change[:, :, j], [tail, 1 - tail], axis=1)
            out[f"{n}_change_ci_low"] = ("subject", lo)
            out[f"{n}_change_ci_high"] = ("subject", hi)
    else:
        nan_s, nan_g = np.full(shape[1], np.nan), np.full(shape, np.nan)
        for n in names:
            for suffix in ("_study_ci_low", "_study_ci_high", "_study_se"):
                out[n + suffix] = ("stage", nan_s)
            for suffix in ("_resample_se", "_ci_low", "_ci_high"):
                out[n + suffix] = (("subject", "stage"), nan_g)
            for suffix in ("_study_change_ci_low", "_study_change_ci_high"):
                out[n + suffix] = ((), np.nan)
            for suffix in ("_change_ci_low", "_change_ci_high"):
                out[n + suffix] = ("subject", np.full(shape[0], np.nan))
    return level


def _last_finite(values: np.ndarray) -> np.ndarray:
    """Index of the last finite stage per (subject, output) of (subject, stage, outputs) values
    (0 where none is finite)."""
    finite = np.isfinite(values)
    last = values.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1)
    return np.where(finite.any(axis=1), last, 0)


def study_trajectory(
    tree: xr.DataTree,
    by: str | Sequence[str],
    measure: str = "glue",
    *,
    axis: str = "session",
    rule: str = "index",
    n_grid: int | None = None,
    variable: str | None = None,
    window_s: Any = None,
    n_points: int | None = None,
    min_points: int = MIN_POINTS,
    n_boot: int = 100,
    fraction: float = 0.5,
    confidence: float = 0.95,
    seed: int = 0,
    **measure_options: Any,
) -> xr.Dataset:
    """A measure along each subject's sessions, on a common learning axis, with intervals.

    Parameters
    ----------
    tree : xarray.DataTree
        A study (:func:`neurogeom.study`).
    by : str or sequence of str
        Trial label(s) defining the manifolds.
    measure : str, default="glue"
    axis : {"session", "day", "fraction", "performance"}, default="session"
        The learning axis (see the module docstring).
    rule : {"index", "interpolate"}, default="index"
        How subjects with different numbers of sessions share a grid of the axis.
    n_grid : int, optional
        Grid points with ``rule="interpolate"`` (default: the most sessions of a subject).
    variable, window_s, n_points, min_points
        As in :func:`study_geometry`.
    n_boot : int, default=100
        Hierarchical bootstrap replicates (0: none; the interval columns are NaN).
    fraction : float, default=0.5
        Share of each manifold's M points in a within-session subsample.
    confidence : float, default=0.95
    seed : int, default=0
    **measure_options
        Options of the measure (``n_t=100``).

    Returns
    -------
    xarray.Dataset
        Dims ``subject`` and ``stage`` (the grid; coords ``step`` = 0, 1, ... and
        ``axis_value``). Per subject, for each output ``v``: ``v``, ``v_sem`` (Monte Carlo),
        ``v_resample_se``, ``v_ci_low``, ``v_ci_high`` (within-session subsamples), so
        ``traj.sel(subject=s)`` is a trajectory :func:`neurogeom.learning.learning_stages`
        reads. Across subjects: ``v_study`` (mean over subjects), ``v_study_se``,
        ``v_study_ci_low``, ``v_study_ci_high`` (hierarchical bootstrap). The change from
        each subject's first to its last stage: ``v_change``, ``v_change_ci_low``,
        ``v_change_ci_high`` (subject; within-session subsamples) and, across subjects,
        ``v_study_change`` (their mean), ``v_study_change_ci_low``, ``v_study_change_ci_high``
        (hierarchical bootstrap, the level of the stage intervals). ``n_points``
        (subject), ``n_units`` (subject, stage: the nearest session's N). attrs: axis, rule,
        n_boot, fraction, confidence, seed, the percentile level used, measure, by.

    See Also
    --------
    study_geometry : the per-session numbers.
    study_stage_difference : a paired test between two sessions.
    study_stages : learning stages per subject and their consensus.

    Examples
    --------
    >>> import neurogeom as ng
    >>> tree = ng.synthetic_study(n_subjects=3, n_sessions=(3, 4), seed=0)
    >>> traj = study_trajectory(tree, by="condition", n_boot=4, n_t=20)
    >>> traj.capacity.dims, traj.capacity_study.dims
    (('subject', 'stage'), ('stage',))
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1); got {fraction}.")
    if n_boot < 0 or n_boot == 1:
        raise ValueError(f"n_boot must be 0 or at least 2; got {n_boot}.")
    subjects = _load(tree, by, variable, window_s, n_points, min_points)
    axis_vals = _axis_values(subjects, axis)
    names, value, sem, reps = _geometry_arrays(
        subjects, measure, n_boot, fraction, seed, measure_options
    )
    grid, g_value = _on_grid(axis_vals, value, rule, n_grid)
    _, g_sem = _on_grid(axis_vals, sem, rule, n_grid)
    n_units = np.array(
        [[*s.n_units, *[np.nan] * (value.shape[1] - len(s.n_units))] for s in subjects], dtype=float
    )
    if rule == "interpolate":
        nearest = np.full((len(subjects), grid.size), np.nan)
        for i in range(len(subjects)):
            ok = np.flatnonzero(np.isfinite(axis_vals[i]))
            idx = ok[np.argmin(np.abs(axis_vals[i][ok][None, :] - grid[:, None]), axis=1)]
            nearest[i] = n_units[i, idx]
        n_units = nearest
    out = xr.Dataset()
    for j, n in enumerate(names):
        out[n] = (("subject", "stage"), g_value[:, :, j])
        out[f"{n}_sem"] = (("subject", "stage"), g_sem[:, :, j])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[f"{n}_study"] = ("stage", np.nanmean(g_value[:, :, j], axis=0))
    ends = _last_finite(g_value)  # (S, outputs)
    change = np.take_along_axis(g_value, ends[:, None, :], axis=1)[:, 0] - g_value[:, 0]
    for j, n in enumerate(names):
        out[f"{n}_change"] = ("subject", change[:, j])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out[f"{n}_study_change"] = ((), float(np.nanmean(change[:, j])))
    level = _hierarchical_columns(
        out,
        names,
        value,
        reps,
        axis_vals,
        rule,
        n_grid,
        g_value.shape[:2],
        n_boot,
        fraction,
        confidence,
        seed,
    )
    out["n_points"] = ("subject", np.array([s.m for s in subjects], dtype=np.int64))
    out["n_units"] = (("subject", "stage"), n_units)
    out = out.assign_coords(
        subject=[s.name for s in subjects],
        stage=np.arange(grid.size),
        step=("stage", np.arange(grid.size)),
        axis_value=("stage", grid),
    )
    out.attrs = provenance(
        "study_trajectory",
        measure=measure,
        by=list(label_names(by)),
        axis=axis,
        rule=rule,
        n_boot=int(n_boot),
        fraction=float(fraction),
        confidence=float(confidence),
        percentile_level=level,
        seed=int(seed),
        outputs=names,
        min_points=int(min_points),
        resample="hierarchical: subjects with replacement, then half-subsamples of trials "
        "within each session (recentred, scaled by sqrt(f/(1-f)))",
    )
    return out


# ---- stage tests ---------------------------------------------------------------------------------


def _position(subj: _Subject, stage: Any) -> int:
    names = [str(n.name) for n in subj.nodes]
    if isinstance(stage, (int, np.integer)):
        if not -len(names) <= stage < len(names):
            raise ValueError(
                f"subject {subj.name!r} has {len(names)} sessions; stage {stage} is out of range."
            )
        return int(stage) % len(names)
    if str(stage) in names:
        return names.index(str(stage))
    phases = [i for i, n in enumerate(subj.nodes) if n.attrs.get("phase") == stage]
    if phases:
        return phases[0] if stage != "late" else phases[-1]
    raise ValueError(
        f"subject {subj.name!r} has no session {stage!r}; give positions (0, -1) or session "
        f"names ({names})."
    )


def study_stage_difference(
    tree: xr.DataTree,
    by: str | Sequence[str],
    measure_output: str | None = None,
    stages: Sequence[Any] = (0, -1),
    *,
    measure: str = "glue",
    variable: str | None = None,
    window_s: Any = None,
    n_points: int | None = None,
    min_points: int = MIN_POINTS,
    n_boot: int = 100,
    n_perm: int = 100,
    confidence: float = 0.95,
    seed: int = 0,
    **measure_options: Any,
) -> xr.Dataset:
    """The change of a measure between two sessions, paired across subjects.

    Parameters
    ----------
    tree : xarray.DataTree
        A study; every subject needs both sessions.
    by : str or sequence of str
    measure_output : str, optional
        The output compared (default: the measure's first, ``capacity`` for glue).
    stages : (first, second), default=(0, -1)
        Session positions in each subject's learning order (negative from the end), session
        names, or ``phase`` attrs. The difference is second minus first.
    measure, variable, window_s, n_points, min_points
        As in :func:`study_geometry` (M is balanced over all of a subject's sessions).
    n_boot, n_perm : int, default=100
        Bootstrap replicates over subjects; sign flips (exact when ``2**n <= n_perm``).
    confidence : float, default=0.95
    seed : int, default=0
    **measure_options

    Returns
    -------
    xarray.Dataset
        :func:`neurogeom.learning.paired_difference`'s result (``difference``, its interval,
        ``p_value``, ``subject_difference``) plus ``value_first``, ``value_second``,
        ``n_points`` (subject), ``n_units_first``, ``n_units_second`` (subject). attrs add
        measure, output, stages, test.

    Raises
    ------
    ValueError
        A subject with fewer than two sessions, fewer than two subjects, sessions sharing no
        conditions, too few points.

    See Also
    --------
    neurogeom.learning.stage_difference : the same for one tensor or several.
    study_geometry : the per-session values.

    Examples
    --------
    >>> import neurogeom as ng
    >>> tree = ng.synthetic_study(n_subjects=4, n_sessions=3, change=2.0, seed=0)
    >>> res = study_stage_difference(tree, by="condition", n_t=20, n_perm=100)
    >>> bool(res.difference > 0)
    True
    """
    if len(stages) != 2:
        raise ValueError(f"stages must name two sessions (first, second); got {stages!r}.")
    for name, sessions in _subjects(tree):
        if len(sessions) < 2:
            raise ValueError(
                f"subject {name!r} has {len(sessions)} session; a paired stage test needs two "
                f"sessions in every subject. Drop it (tree.drop_nodes({name!r})) or add one."
            )
    subjects = _load(tree, by, variable, window_s, n_points, min_points)
    if len(subjects) < 2:
        raise ValueError("a paired test across subjects needs at least 2 subjects.")
    output = measure_output or get_measure(measure).outputs[0].name
    problems, seeds, pos = [], [], []
    for i, subj in enumerate(subjects):
        pair = [_position(subj, s) for s in stages]
        pos.append(pair)
        for k in pair:
            rng = np.random.default_rng(child_seed(seed, 0, i, k))
            problems.append(subj.draw(k, rng, subj.m))
            seeds.append(child_seed(seed, 1, i, k))
    res = _measure_many(measure, problems, seeds, measure_options)
    if output not in res[0]:
        raise ValueError(
            f"measure {measure!r} has no output {output!r}; it gives {sorted(res[0])}."
        )
    vals = np.array([r[output][0] for r in res]).reshape(len(subjects), 2)
    out = paired_difference(
        vals[:, 0],
        vals[:, 1],
        subjects=[s.name for s in subjects],
        n_boot=n_boot,
        n_perm=n_perm,
        seed=seed,
        confidence=confidence,
    )
    out["value_first"] = ("subject", vals[:, 0])
    out["value_second"] = ("subject", vals[:, 1])
    out["n_points"] = ("subject", np.array([s.m for s in subjects], dtype=np.int64))
    out["n_units_first"] = ("subject", np.array([s.n_units[p[0]] for s, p in zip(subjects, pos)]))
    out["n_units_second"] = ("subject", np.array([s.n_units[p[1]] for s, p in zip(subjects, pos)]))
    out.attrs.update(
        measure=measure,
        output=output,
        stages=[str(s) for s in stages],
        test="paired sign flip across subjects, per-session geometry at a common M per subject",
    )
    return out


# ---- learning stages per subject and their consensus ---------------------------------------------


def _consensus(boundaries: list[list[int]], n_subjects: int, tolerance: int = 1) -> list[dict]:
    """Boundaries found in at least half the subjects within ``tolerance`` sessions of each
    other: greedily, the position supported by most subjects (each subject counted once)."""
    left = [list(b) for b in boundaries]
    found = []
    while True:
        candidates = sorted({p for b in left for p in b})
        best, support = None, 0
        for c in candidates:
            n = sum(any(abs(p - c) <= tolerance for p in b) for b in left)
            if n > support:
                best, support = c, n
        if best is None or support < n_subjects / 2:
            break
        hits = [
            min(b, key=lambda p: abs(p - best))
            for b in left
            if any(abs(p - best) <= tolerance for p in b)
        ]
        found.append({"position": float(np.median(hits)), "support": support / n_subjects})
        left = [[p for p in b if abs(p - best) > tolerance] for b in left]
    return sorted(found, key=lambda d: d["position"])


def study_stages(
    trajectory: xr.Dataset,
    measures: Sequence[str] = GLUE_MEASURES,
    *,
    tolerance: int = 1,
    **stage_options: Any,
) -> xr.Dataset:
    """Learning stages of each subject, and the boundaries a majority of subjects share.

    Parameters
    ----------
    trajectory : xarray.Dataset
        A study trajectory (:func:`study_trajectory`), dims ``subject`` and ``stage``.
    measures : sequence of str, default=GLUE_MEASURES
        Measures segmented (those absent from the trajectory are left out).
    tolerance : int, default=1
        Boundaries of different subjects within this many sessions count as one.
    **stage_options
        Passed to :func:`neurogeom.learning.learning_stages` (``penalty_c``, ``z_threshold``).

    Returns
    -------
    xarray.Dataset
        ``subject_boundaries`` (subject, slot): each subject's boundary positions (first stage
        of a new segment; NaN-padded); ``n_boundaries`` (subject); on ``consensus``:
        ``consensus_stage`` (median position of the subjects' boundaries there) and
        ``consensus_support`` (fraction of subjects). attrs: rule, tolerance.

    See Also
    --------
    neurogeom.learning.learning_stages : the stages of one trajectory.
    study_trajectory : the trajectory it segments.

    Examples
    --------
    >>> import neurogeom as ng
    >>> tree = ng.synthetic_study(n_subjects=2, n_sessions=8, change=3.0, seed=0)
    >>> traj = study_trajectory(tree, by="condition", n_boot=0, n_t=20)
    >>> res = study_stages(traj, measures=["capacity"])
    >>> res.subject_boundaries.dims
    ('subject', 'slot')
    """
    used = [m for m in measures if m in trajectory]
    if not used:
        raise ValueError(f"the trajectory holds none of the measures {list(measures)}.")
    per_subject = []
    for s in trajectory["subject"].values:
        one = trajectory.sel(subject=s).dropna("stage", how="all", subset=[used[0]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = learning_stages(one, measures=used, **stage_options)
        per_subject.append([int(b) for b in res["boundary_stage"].values])
    n_sub = len(per_subject)
    slots = max([1, *(len(b) for b in per_subject)])
    padded = np.full((n_sub, slots), np.nan)
    for i, b in enumerate(per_subject):
        padded[i, : len(b)] = b
    consensus = _consensus(per_subject, n_sub, tolerance)
    return xr.Dataset(
        {
            "subject_boundaries": (("subject", "slot"), padded),
            "n_boundaries": ("subject", np.array([len(b) for b in per_subject], dtype=np.int64)),
            "consensus_stage": ("consensus", [c["position"] for c in consensus]),
            "consensus_support": ("consensus", [c["support"] for c in consensus]),
        },
        coords={"subject": trajectory["subject"].values, "consensus": np.arange(len(consensus))},
        attrs=provenance(
            "study_stages",
            measures_used=used,
            tolerance=int(tolerance),
            rule="a boundary found in at least half the subjects within `tolerance` sessions of "
            "each other (greedy, most-supported first; each subject counted once)",
        ),
    )
