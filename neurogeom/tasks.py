"""neurogym tasks as labelled trial banks, and the TOML experiment specs in ``tasks/``.

neurogym's stock ``ngym.Dataset`` concatenates trials into one stream and drops each trial's condition
labels. Here every trial is built on its own through ``env.unwrapped.new_trial(**conditions)``, so the
labels (context, coherences, ground truth, categories ...) stay attached and condition grids can be
given explicitly. A :class:`TrialBank` holds ``n_trial`` such trials, padded at the end to a common
length, with the period boundaries of every trial; :meth:`TrialBank.aligned` re-indexes per-trial
arrays (inputs, network states) to a named event, NaN-padded, as the population contract asks.

Supported tasks (neurogym 2.3.1 names; ``supported_tasks()`` lists them):

``ContextDecisionMaking-v0``
    Mante et al. (2013). Two noisy modalities; ``use_expl_context=True`` adds two context inputs and
    the context changes per trial, ``use_expl_context=False`` (neurogym's default) fixes the relevant
    modality (``impl_context_modality``). In neurogym 2.x this replaces the 1.x
    ``SingleContextDecisionMaking``. ``context`` 0: modality 1 (inputs 1-2) relevant; 1: modality 2.
``DelayMatchCategory-v0``
    Freedman & Assad (2006). Sample, delay, test; respond match / non-match. NB: with neurogym's default
    ``dim_ring=2`` the two stimulus inputs are ``+-cos(theta)``, which cannot tell a category-0 angle
    ``theta`` from the category-1 angle ``2 pi - theta``: the task is unsolvable. Use ``dim_ring >= 3``
    (the shipped spec uses 4); a warning is raised otherwise.
``PerceptualDecisionMaking-v0``
    Britten et al. (1992) random-dot motion, two choices.
``yang19.ctxdm1-v0`` / ``yang19.ctxdm2-v0``
    Yang et al. (2019) context DM: both modalities shown, only modality 1 (ctxdm1) or 2 (ctxdm2)
    counts; 16-direction ring, the target is the stronger of two directions. The context is implicit
    (one env per context); neurogym ignores condition keyword arguments for these.
``yang19.dmc-v0``
    Yang et al. (2019) delayed match-to-category on a 16-direction ring, sample and test in one of two
    modalities chosen per trial (``modality`` label); respond at the test direction on a match, keep
    fixating on a non-match. Categories follow neurogym's own rule (sample: ring index > 8,
    test: index >= 8).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import importlib
import inspect
import itertools
import json
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from neurogeom.specs._common import _matches, _type_error, unknown_keys_message
from neurogeom.specs.train import AnalysisConfig

__all__ = ["TrialBank", "build_trial_bank", "make_env", "supported_tasks", "ideal_observer"]


# ---- task registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TaskInfo:
    """What neurogeom knows about one neurogym task."""

    condition_keys: tuple[str, ...]  # keyword arguments new_trial() honours
    decision_period: str  # period scored as the response
    default_kwargs: Mapping[str, Any] = field(default_factory=dict)


_TASKS: dict[str, _TaskInfo] = {
    "ContextDecisionMaking-v0": _TaskInfo(
        ("ground_truth", "other_choice", "context", "coh_1", "coh_2"), "decision"
    ),
    "DelayMatchCategory-v0": _TaskInfo(("ground_truth", "sample_category"), "test"),
    "PerceptualDecisionMaking-v0": _TaskInfo(("ground_truth", "coh"), "decision"),
    "yang19.ctxdm1-v0": _TaskInfo((), "decision"),
    "yang19.ctxdm2-v0": _TaskInfo((), "decision"),
    "yang19.dmc-v0": _TaskInfo(("ground_truth",), "decision"),
}


def supported_tasks() -> list[str]:
    """Names of the neurogym tasks that :func:`build_trial_bank` can label.

    Returns
    -------
    list of str
        The task names, sorted.

    See Also
    --------
    build_trial_bank : labelled trials of one task.
    make_env : the neurogym env of one task.

    Examples
    --------
    >>> "PerceptualDecisionMaking-v0" in supported_tasks()
    True
    """
    return sorted(_TASKS)


def _check_task(name: str) -> _TaskInfo:
    if name not in _TASKS:
        raise ValueError(
            f"unknown task {name!r}; available tasks: {', '.join(supported_tasks())}. "
            "(Names follow neurogym 2.3: e.g. 'ContextDecisionMaking-v0', 'yang19.ctxdm1-v0'.)"
        )
    return _TASKS[name]


def _task_condition_keys(name: str) -> tuple[str, ...]:
    """The condition keys that a task's ``new_trial`` honours (fixed by a condition grid).

    Examples
    --------
    >>> _task_condition_keys("PerceptualDecisionMaking-v0")
    ('ground_truth', 'coh')
    """
    return _check_task(name).condition_keys


def make_env(name: str, **kwargs: Any) -> Any:
    """Make a neurogym env by name (gymnasium warnings silenced) and return the wrapped env.

    Parameters
    ----------
    name : str
        A task of :func:`supported_tasks`.
    **kwargs
        Keyword arguments of the neurogym task (``dt=20``).

    Returns
    -------
    gymnasium.Env
        The wrapped neurogym env.

    See Also
    --------
    build_trial_bank : labelled trials of the task.
    supported_tasks : the task names.

    Examples
    --------
    >>> env = make_env("PerceptualDecisionMaking-v0")
    >>> env.observation_space.shape
    (3,)
    """
    _check_task(name)
    import neurogym as ngym

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ngym.make(name, **kwargs)


def _trial_source(env: Any) -> Any:
    """The object whose ``new_trial`` builds one trial: the ScheduleEnvs for yang19.dm*, else the task."""
    obj = env
    while obj is not None:
        if type(obj).__name__ == "ScheduleEnvs":
            return obj
        obj = getattr(obj, "env", None)
    return env.unwrapped


def _current_task(source: Any) -> Any:
    return source.env.unwrapped if type(source).__name__ == "ScheduleEnvs" else source


# ---- per-task labels ----------------------------------------------------------------------------


def _labels_cdm(trial: dict, task: Any) -> dict[str, Any]:
    gt, other, ctx = int(trial["ground_truth"]), int(trial["other_choice"]), int(trial["context"])
    coh_1, coh_2 = float(trial["coh_1"]), float(trial["coh_2"])
    # neurogym: direction of modality 1 is the ground truth in context 0, the other choice in context 1
    choice_1, choice_2 = (gt, other) if ctx == 0 else (other, gt)
    sign = {1: 1.0, 2: -1.0}
    ev_1 = sign.get(choice_1, np.nan) * coh_1 if task.dim_ring == 2 else np.nan
    ev_2 = sign.get(choice_2, np.nan) * coh_2 if task.dim_ring == 2 else np.nan
    return {
        "context": ctx,
        "ground_truth": gt,
        "other_choice": other,
        "coh_1": coh_1,
        "coh_2": coh_2,
        "choice_1": choice_1,
        "choice_2": choice_2,
        "evidence_1": ev_1,
        "evidence_2": ev_2,
        "relevant_coh": coh_1 if ctx == 0 else coh_2,
        "irrelevant_coh": coh_2 if ctx == 0 else coh_1,
        "relevant_evidence": ev_1 if ctx == 0 else ev_2,
        "irrelevant_evidence": ev_2 if ctx == 0 else ev_1,
        "congruent": bool(choice_1 == choice_2),
    }


def _labels_dmc(trial: dict, task: Any) -> dict[str, Any]:
    match = str(trial["ground_truth"]) == "match"
    sample = int(trial["sample_category"])
    return {
        "ground_truth": str(trial["ground_truth"]),
        "match": match,
        "sample_category": sample,
        "test_category": sample if match else 1 - sample,
    }


def _labels_pdm(trial: dict, task: Any) -> dict[str, Any]:
    gt = int(trial["ground_truth"])
    coh = float(trial["coh"])
    return {
        "ground_truth": gt,
        "coh": coh,
        "signed_coh": coh * (1.0 if gt == 0 else -1.0) if task.dim_ring == 2 else np.nan,
    }


def _ring_index(theta: float, n: int) -> int:
    return int(round(theta / (2 * np.pi / n))) % n


def _labels_yang_ctxdm(trial: dict, task: Any, relevant: int) -> dict[str, Any]:
    target = int(task.gt[task.start_ind["decision"]])  # 1 + ring index of the chosen direction
    n = len(task.theta)
    i1, i2 = _ring_index(trial["theta1"], n), _ring_index(trial["theta2"], n)
    out = {
        "context": relevant - 1,
        "relevant_modality": relevant,
        "theta1": float(trial["theta1"]),
        "theta2": float(trial["theta2"]),
        "ground_truth": target,
        "target_stimulus": 1 if target - 1 == i1 else 2,
    }
    for m in (1, 2):
        c1, c2 = float(trial[f"coh1_mod{m}"]), float(trial[f"coh2_mod{m}"])
        out[f"coh1_mod{m}"], out[f"coh2_mod{m}"] = c1, c2
        out[f"evidence_mod{m}"] = c1 - c2  # > 0 favours theta1
    out["relevant_evidence"] = out[f"evidence_mod{relevant}"]
    out["irrelevant_evidence"] = out[f"evidence_mod{3 - relevant}"]
    _ = i2
    return out


def _labels_yang_dmc(trial: dict, task: Any, modality: int) -> dict[str, Any]:
    n = task.dim_ring
    i_s, i_t = _ring_index(trial["sample_theta"], n), _ring_index(trial["test_theta"], n)
    match = str(trial["ground_truth"]) == "match"
    return {
        "ground_truth": str(trial["ground_truth"]),
        "match": match,
        "modality": modality,
        "sample_theta": float(trial["sample_theta"]),
        "test_theta": float(trial["test_theta"]),
        "sample_category": int(i_s > task.half_ring),  # neurogym's rule for the sample
        "test_category": int(i_t >= task.half_ring),  # and for the test
        "target_action": int(task.gt[task.start_ind["decision"]]),
    }


def _labels(name: str, trial: dict, task: Any, source: Any) -> dict[str, Any]:
    if name == "ContextDecisionMaking-v0":
        return _labels_cdm(trial, task)
    if name == "DelayMatchCategory-v0":
        return _labels_dmc(trial, task)
    if name == "PerceptualDecisionMaking-v0":
        return _labels_pdm(trial, task)
    if name.startswith("yang19.ctxdm"):
        return _labels_yang_ctxdm(trial, task, relevant=int(name[len("yang19.ctxdm")]))
    if name == "yang19.dmc-v0":
        return _labels_yang_dmc(trial, task, modality=int(source.i_env) + 1)
    raise AssertionError(name)  # pragma: no cover - _check_task guards


# ---- trial bank ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialBank:
    """A fixed set of labelled trials of one task, padded at the end to a common length.

    Parameters
    ----------
    task : str
        neurogym task name.
    env_kwargs : dict
        Keyword arguments the env was made with.
    seed : int
        Seed of the task's random generator (``env.unwrapped.seed(seed)``).
    inputs : ndarray of shape (n_trial, n_time, n_input), float32
        Observations; zero after each trial's end.
    targets : ndarray of shape (n_trial, n_time), int64
        Ground-truth action per step (0 = fixate); -1 after each trial's end.
    lengths : ndarray of shape (n_trial,), int64
        Trial lengths in steps.
    periods : pandas.DataFrame
        ``<period>_start`` / ``<period>_end`` step indices per trial (end exclusive).
    conditions : pandas.DataFrame
        One row per trial, one column per condition label.
    dt_ms : float
        Step size in milliseconds.
    input_names, output_names : tuple of str
        Channel names (outputs: action 0 is fixation).
    decision_period : str
        The period that counts as the response.

    See Also
    --------
    build_trial_bank : builds one from a task.
    ideal_observer : the bank's best choices.

    Examples
    --------
    >>> from neurogeom.tasks import build_trial_bank
    >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
    >>> bank.inputs.shape[0], bank.targets.shape[0], len(bank.conditions)
    (8, 8, 8)
    """

    task: str
    env_kwargs: dict[str, Any]
    seed: int
    inputs: np.ndarray
    targets: np.ndarray
    lengths: np.ndarray
    periods: pd.DataFrame
    conditions: pd.DataFrame
    dt_ms: float
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    decision_period: str

    @property
    def n_trial(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_time(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def n_input(self) -> int:
        return int(self.inputs.shape[2])

    @property
    def n_output(self) -> int:
        return len(self.output_names)

    @property
    def mask(self) -> np.ndarray:
        """Boolean (n_trial, n_time): True on steps inside each trial."""
        return np.arange(self.n_time)[None, :] < self.lengths[:, None]

    def period_mask(self, period: str) -> np.ndarray:
        """Boolean (n_trial, n_time): True on the steps of ``period``.

        Parameters
        ----------
        period : str
            A period of the task (``"stimulus"``, ``"decision"``...).

        Returns
        -------
        ndarray of shape (n_trial, n_time), bool
            True on the steps of ``period``.

        See Also
        --------
        TrialBank.aligned : arrays aligned on a period's edge.

        Examples
        --------
        >>> from neurogeom.tasks import build_trial_bank
        >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
        >>> mask = bank.period_mask("stimulus")
        >>> mask.shape == bank.targets.shape, bool(mask.any())
        (True, True)
        """
        start, end = self._bounds(period)
        t = np.arange(self.n_time)[None, :]
        return (t >= start[:, None]) & (t < end[:, None])

    def _bounds(self, period: str) -> tuple[np.ndarray, np.ndarray]:
        key = f"{period}_start"
        if key not in self.periods:
            names = sorted({c.rsplit("_", 1)[0] for c in self.periods.columns})
            raise ValueError(f"task {self.task!r} has no period {period!r}; periods: {names}")
        return (
            self.periods[f"{period}_start"].to_numpy(int),
            self.periods[f"{period}_end"].to_numpy(int),
        )

    def aligned(
        self, values: np.ndarray, period: str, *, edge: str = "start", axis: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        """Re-index per-trial arrays so that an event falls on one common time index.

        Parameters
        ----------
        values : ndarray
            Array whose ``axis`` is time (length ``n_time``, start-aligned like ``inputs``) and
            whose axis ``axis - 1`` is trial (length ``n_trial``).
        period : str
            Period whose start (or end) is the event, e.g. ``"stimulus"`` or ``"decision"``.
        edge : {"start", "end"}
            Which edge of the period.
        axis : int
            The time axis of ``values``.

        Returns
        -------
        aligned : ndarray, float
            Same shape except the time axis, which spans the earliest pre-event to the latest
            post-event step over trials; NaN outside each trial.
        time_s : ndarray of shape (n_time_aligned,)
            Seconds of each step's start relative to the event.

        See Also
        --------
        TrialBank.period_mask : the steps of a period.

        Examples
        --------
        >>> from neurogeom.tasks import build_trial_bank
        >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
        >>> values, t = bank.aligned(bank.inputs, "decision")
        >>> values.shape[0], float(t[-1])
        (8, 0.0)
        """
        if edge not in ("start", "end"):
            raise ValueError(f"edge must be 'start' or 'end'; got {edge!r}")
        start, end = self._bounds(period)
        event = start if edge == "start" else end
        before = int(event.max())
        after = int((self.lengths - event).max())
        vals = np.moveaxis(np.asarray(values, dtype=float), (axis - 1, axis), (0, 1))
        if vals.shape[:2] != (self.n_trial, self.n_time):
            raise ValueError(
                f"values need (n_trial, n_time) = {(self.n_trial, self.n_time)} on axes "
                f"({axis - 1}, {axis}); got {vals.shape[:2]}"
            )
        out = np.full((self.n_trial, before + after, *vals.shape[2:]), np.nan)
        for i in range(self.n_trial):
            n = int(self.lengths[i])
            off = before - int(event[i])
            out[i, off : off + n] = vals[i, :n]
        time_s = (np.arange(before + after) - before) * self.dt_ms / 1000.0
        return np.moveaxis(out, (0, 1), (axis - 1, axis)), time_s

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays and tables."""
        tables = self.periods.memory_usage(deep=True).sum()
        tables += self.conditions.memory_usage(deep=True).sum()
        return int(self.inputs.nbytes + self.targets.nbytes + self.lengths.nbytes + tables)

    def copy(self) -> TrialBank:
        """A copy with its own arrays and tables (changing one leaves the other as it was).

        Returns
        -------
        TrialBank
            The copy.

        See Also
        --------
        TrialBank.subset : a copy of some trials.

        Examples
        --------
        >>> from neurogeom.tasks import build_trial_bank
        >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
        >>> other = bank.copy()
        >>> other.inputs[:] = 0
        >>> bool(bank.inputs.any())
        True
        """
        return dataclasses.replace(
            self,
            env_kwargs=copy.deepcopy(self.env_kwargs),
            inputs=self.inputs.copy(),
            targets=self.targets.copy(),
            lengths=self.lengths.copy(),
            periods=self.periods.copy(),
            conditions=self.conditions.copy(),
        )

    def subset(self, index: Sequence[int] | np.ndarray) -> TrialBank:
        """The trials at ``index`` (trimmed to their own longest trial).

        Parameters
        ----------
        index : sequence of int or ndarray
            Trial positions.

        Returns
        -------
        TrialBank
            The trials at ``index``, in that order.

        See Also
        --------
        TrialBank.copy : a copy of every trial.

        Examples
        --------
        >>> from neurogeom.tasks import build_trial_bank
        >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
        >>> bank.subset([0, 3]).inputs.shape[0]
        2
        """
        idx = np.asarray(index)
        t_max = int(self.lengths[idx].max()) if len(idx) else 0
        return TrialBank(
            task=self.task,
            env_kwargs=self.env_kwargs,
            seed=self.seed,
            inputs=self.inputs[idx, :t_max],
            targets=self.targets[idx, :t_max],
            lengths=self.lengths[idx],
            periods=self.periods.iloc[idx].reset_index(drop=True),
            conditions=self.conditions.iloc[idx].reset_index(drop=True),
            dt_ms=self.dt_ms,
            input_names=self.input_names,
            output_names=self.output_names,
            decision_period=self.decision_period,
        )


def _channel_names(space: Any) -> tuple[str, ...]:
    n = int(space.shape[0]) if hasattr(space, "shape") and space.shape else int(space.n)
    names = [str(i) for i in range(n)]
    for key, idx in (getattr(space, "name", None) or {}).items():
        idx_list = list(idx) if isinstance(idx, range | list | tuple | np.ndarray) else [idx]
        for j, i in enumerate(idx_list):
            names[int(i)] = key if len(idx_list) == 1 else f"{key}{j + 1}"
    return tuple(names)


def _condition_grid(
    conditions: Mapping[str, Sequence[Any]], n_trials: int, rng: np.random.Generator
) -> list[dict[str, Any]]:
    keys = list(conditions)
    grid = [dict(zip(keys, combo)) for combo in itertools.product(*(conditions[k] for k in keys))]
    reps = -(-n_trials // len(grid))
    rows = (grid * reps)[:n_trials] if n_trials % len(grid) == 0 else None
    if rows is None:  # not a multiple: shuffle the last partial repeat so no cell is favoured
        full = grid * (n_trials // len(grid))
        extra = [grid[i] for i in rng.permutation(len(grid))[: n_trials - len(full)]]
        rows = full + extra
    return [rows[i] for i in rng.permutation(n_trials)]


def build_trial_bank(
    task: str,
    n_trials: int,
    *,
    seed: int = 0,
    env_kwargs: Mapping[str, Any] | None = None,
    conditions: Mapping[str, Sequence[Any]] | None = None,
) -> TrialBank:
    """Build ``n_trials`` labelled trials of a neurogym task, trial by trial.

    Parameters
    ----------
    task : str
        neurogym task name; see :func:`supported_tasks`.
    n_trials : int
        Number of trials.
    seed : int, default=0
        Seeds the task (``env.unwrapped.seed(seed)``, which also seeds its delay samplers) and the
        shuffling of the condition grid; the same seed gives the same bank.
    env_kwargs : mapping, optional
        Passed to ``neurogym.make`` (e.g. ``use_expl_context``, ``dt``, ``sigma``, ``timing``).
    conditions : mapping of str to sequence, optional
        A balanced grid: every combination of the listed values appears equally often (up to one
        trial when ``n_trials`` is not a multiple of the grid size), in shuffled order. Keys must be
        condition keywords the task honours; unlisted conditions are drawn by the task.

    Returns
    -------
    TrialBank

    Notes
    -----
    A bank is a function of these arguments, so banks built in a process are kept (the most recently
    used, up to 256 MiB) and asked-for again they are copied rather than rebuilt: the runs of a sweep
    over network settings share their banks. Each call returns its own copy.

    See Also
    --------
    supported_tasks : the task names.
    TrialBank : the result.

    Examples
    --------
    >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
    >>> bank.task, bank.inputs.shape[0]
    ('PerceptualDecisionMaking-v0', 8)
    """
    info = _check_task(task)
    if int(n_trials) < 1:
        raise ValueError(f"n_trials must be >= 1; got {n_trials}")
    kwargs = dict(env_kwargs or {})
    conditions = dict(conditions or {})
    bad = sorted(set(conditions) - set(info.condition_keys))
    if bad:
        allowed = ", ".join(info.condition_keys) or "none (neurogym ignores them for this task)"
        raise ValueError(f"task {task!r} cannot fix condition(s) {bad}; allowed: {allowed}")
    for key, vals in conditions.items():
        if isinstance(vals, str | bytes) or not isinstance(vals, Sequence) or len(vals) == 0:
            raise ValueError(f"condition {key!r} needs a non-empty list of values; got {vals!r}")
    if task == "DelayMatchCategory-v0" and int(kwargs.get("dim_ring", 2)) < 3:
        warnings.warn(
            "DelayMatchCategory-v0 with dim_ring < 3 cannot be solved: its inputs +-cos(theta) do not "
            "distinguish the two categories. Pass dim_ring=4 in env_kwargs.",
            UserWarning,
            stacklevel=2,
        )
    key = _cache_key(task, int(n_trials), int(seed), kwargs, conditions)
    with _BANKS_LOCK:
        cached = _BANKS.get(key) if key is not None else None
        if cached is not None:
            _BANKS.move_to_end(key)
    if cached is not None:
        return cached.copy()
    try:
        env = make_env(task, **kwargs)
    except TypeError as exc:
        raise ValueError(f"bad keyword argument for task {task!r}: {exc}") from None
    bank = _build(task, info, env, int(n_trials), int(seed), kwargs, conditions)
    if key is not None:
        kept = bank.copy()
        with _BANKS_LOCK:
            _BANKS[key] = kept
            while sum(b.nbytes for b in _BANKS.values()) > _BANK_CACHE_BYTES and len(_BANKS) > 1:
                _BANKS.popitem(last=False)
    return bank


#: Banks built in this process, by their arguments (a bank is a function of them): a sweep over
#: network settings reuses its banks. Least recently used first; at most this many bytes in all.
_BANKS: OrderedDict[str, TrialBank] = OrderedDict()
_BANK_CACHE_BYTES = 256 * 2**20
_BANKS_LOCK = threading.Lock()  # banks may be built from several threads (parallel_map)


def _cache_key(task: str, n: int, seed: int, kwargs: dict, conditions: dict) -> str | None:
    try:
        return json.dumps([task, n, seed, kwargs, conditions], sort_keys=True)
    except TypeError:  # arguments without a plain-data form (e.g. a callable): not cached
        return None


def _build(
    task: str,
    info: _TaskInfo,
    env: Any,
    n_trials: int,
    seed: int,
    kwargs: dict[str, Any],
    conditions: dict[str, Sequence[Any]],
) -> TrialBank:
    source = _trial_source(env)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source.seed(seed)
    rng = np.random.default_rng([seed, 7919])
    plan = _condition_grid(conditions, n_trials, rng) if conditions else [{}] * n_trials

    obs, gts, labels, starts, ends = [], [], [], [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for cond in plan:
            trial = source.new_trial(**cond)
            t = _current_task(source)
            obs.append(t.ob)
            gts.append(t.gt)
            labels.append(_labels(task, trial, t, source))
            starts.append(dict(t.start_ind))  # neurogym reuses these dicts
            ends.append(dict(t.end_ind))
    t0 = _current_task(source)
    inputs, targets, lengths = _pad(obs, gts)
    names = list(starts[0])
    if all(list(d) == names for d in starts):
        periods: Any = {}
        for p in names:
            periods[f"{p}_start"] = np.fromiter((d[p] for d in starts), np.int64, len(starts))
            periods[f"{p}_end"] = np.fromiter((d[p] for d in ends), np.int64, len(ends))
    else:  # trials with different periods (a schedule of envs): NaN where a trial has none
        periods = [
            {k: int(v) for p in st for k, v in ((f"{p}_start", st[p]), (f"{p}_end", en[p]))}
            for st, en in zip(starts, ends)
        ]
    return TrialBank(
        task=task,
        env_kwargs=kwargs,
        seed=seed,
        inputs=inputs,
        targets=targets,
        lengths=lengths,
        periods=pd.DataFrame(periods),
        conditions=pd.DataFrame(labels),
        dt_ms=float(t0.dt),
        input_names=_channel_names(t0.observation_space),
        output_names=_channel_names(t0.action_space),
        decision_period=info.decision_period,
    )


def _pad(obs: list[np.ndarray], gts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trials of different lengths in one array each, padded at the end (inputs with 0, targets
    with -1), by one scatter of all their steps."""
    lengths = np.fromiter((len(o) for o in obs), np.int64, len(obs))
    n, t_max = len(obs), int(lengths.max())
    trial = np.repeat(np.arange(n), lengths)
    time = np.arange(len(trial)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    inputs = np.zeros((n, t_max, obs[0].shape[1]), dtype=np.float32)
    targets = np.full((n, t_max), -1, dtype=np.int64)
    inputs[trial, time] = np.concatenate(obs)
    targets[trial, time] = np.concatenate(gts)
    return inputs, targets, lengths


def ideal_observer(bank: TrialBank) -> np.ndarray:
    """Choices of an observer that sums the relevant modality's evidence over the stimulus period.

    For ``ContextDecisionMaking-v0`` (two choices) the observer knows the context and picks choice 1
    when the summed ``stim1 - stim2`` inputs of the relevant modality are positive; with Gaussian input
    noise of equal variance this is the optimal decision. ``PerceptualDecisionMaking-v0`` likewise
    with its single modality.

    Parameters
    ----------
    bank : TrialBank
        Trials of ``PerceptualDecisionMaking-v0`` or ``ContextDecisionMaking-v0``.

    Returns
    -------
    ndarray of shape (n_trial,), int
        The chosen action (1 or 2).

    See Also
    --------
    build_trial_bank : the trials.
    neurogeom.models.predict_choices : a network's choices on a bank.

    Examples
    --------
    >>> from neurogeom.tasks import build_trial_bank
    >>> bank = build_trial_bank("PerceptualDecisionMaking-v0", 8, seed=0)
    >>> choices = ideal_observer(bank)
    >>> choices.shape, set(choices.tolist()) <= {1, 2}
    ((8,), True)
    """
    stim = bank.period_mask("stimulus")[..., None]
    names = list(bank.input_names)
    if bank.task == "ContextDecisionMaking-v0":
        if "stim3_mod1" in names:
            raise ValueError(
                "ideal_observer supports ContextDecisionMaking-v0 with dim_ring=2 only"
            )
        d1 = (
            bank.inputs[..., names.index("stim1_mod1")]
            - bank.inputs[..., names.index("stim2_mod1")]
        )
        d2 = (
            bank.inputs[..., names.index("stim1_mod2")]
            - bank.inputs[..., names.index("stim2_mod2")]
        )
        ctx = bank.conditions["context"].to_numpy()
        d = np.where(ctx[:, None] == 0, d1, d2)
    elif bank.task == "PerceptualDecisionMaking-v0" and bank.n_input == 3:
        d = bank.inputs[..., 1] - bank.inputs[..., 2]
    else:
        raise ValueError(
            f"ideal_observer supports ContextDecisionMaking-v0 and two-choice "
            f"PerceptualDecisionMaking-v0; got {bank.task!r}"
        )
    total = (d * stim[..., 0]).sum(axis=1)
    return np.where(total > 0, 1, 2)


# ---- a training spec against its task -----------------------------------------------------------


def _check_task_conditions(spec: Mapping[str, Any]) -> None:
    """The task exists and each fixed condition is one its trials take."""
    name = spec["task"]["name"]
    keys = _task_condition_keys(name)  # an unknown task: the error lists the supported ones
    bad = sorted(set(spec["task"].get("conditions") or {}) - set(keys))
    bad += sorted(set((spec.get("analysis") or {}).get("conditions") or {}) - set(keys))
    if bad:
        raise ValueError(
            f"task {name!r} cannot fix condition(s) {bad}; allowed: {', '.join(keys) or 'none'}"
        )


def _task_kwargs_problem(name: str, kwargs: Mapping[str, Any]) -> str | None:
    """What is wrong with a task's keyword arguments, judged by its constructor's defaults."""
    import gymnasium
    import neurogym  # noqa: F401  (registers its tasks with gymnasium)

    entry = gymnasium.envs.registry[name].entry_point
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        entry = getattr(importlib.import_module(module), attr)
    try:  # a class's own __init__ (neurogym's task classes hide it behind *args, **kwargs)
        params = inspect.signature(entry.__init__ if isinstance(entry, type) else entry).parameters
    except (TypeError, ValueError):  # pragma: no cover - a builtin entry point
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return None  # a constructor that passes its keywords on: neurogym checks them
    names = [n for n in params if n != "self"]
    unknown = sorted(set(kwargs) - set(names))
    if unknown:
        return unknown_keys_message(unknown, names, f"in [task.kwargs] of {name!r}")
    for key, value in kwargs.items():
        default = params[key].default
        if default is inspect.Parameter.empty or default is None:
            continue
        hint = bool if isinstance(default, bool) else None
        if hint is None and isinstance(default, int | float):
            hint = float
        if hint is not None and not _matches(value, hint):
            return _type_error(f"task.kwargs.{key}", hint, value)
    return None


#: Condition keys whose values are categories: only the values the task draws itself are allowed.
_CATEGORICAL = ("context", "ground_truth", "other_choice", "sample_category")


def _check_conditions(
    name: str, kwargs: Mapping[str, Any], grid: Mapping[str, Any], where: str
) -> None:
    """A condition grid's categorical values are ones the task draws, and its trials build."""
    drawn = build_trial_bank(name, 64, seed=0, env_kwargs=kwargs).conditions
    for key, values in grid.items():
        if key in _CATEGORICAL and key in drawn and isinstance(values, list):
            allowed = sorted(set(drawn[key].tolist()), key=str)
            bad = [v for v in values if v not in allowed]
            if bad:
                raise ValueError(
                    f"{where}.{key}: value(s) {bad} are not {key} values of task {name!r}; "
                    f"its values: {allowed}"
                )
    n_cells = 1
    for values in grid.values():
        n_cells *= max(len(values), 1) if isinstance(values, list) else 1
    try:
        build_trial_bank(name, min(n_cells, 256), seed=0, env_kwargs=kwargs, conditions=grid)
    except (TypeError, IndexError, KeyError, ArithmeticError) as exc:
        raise ValueError(
            f"{where}: task {name!r} cannot build trials with {dict(grid)} "
            f"({type(exc).__name__}: {exc}); check the values' types and ranges"
        ) from None


def check_task_spec(spec: Mapping[str, Any]) -> None:
    """Check what in a validated spec depends on its task, before anything is trained.

    The analysis labels, the analysis period and the alignment period, the manifold label(s)
    ``analysis.by`` (of a spec with live geometry) and the measures are checked against a two-trial
    bank of the task; the task's keyword arguments against its constructor (a number where the
    default is a number, a known name); condition grids by building their trials, and their
    categorical values (context, ground truth, ...) against the values the task draws itself.

    Parameters
    ----------
    spec : mapping
        A spec as :func:`neurogeom.specs.train.validate_spec` returns it (every section present).

    Raises
    ------
    ValueError
        Naming the key, the bad value and the allowed ones.

    See Also
    --------
    neurogeom.specs.train.validate_spec : the checks that need no task.

    Examples
    --------
    >>> from neurogeom.specs.train import validate_spec
    >>> task = {"name": "ContextDecisionMaking-v0"}
    >>> check_task_spec(validate_spec({"task": task, "analysis": {"by": "ground_truth"}}))
    >>> check_task_spec(validate_spec({"task": task, "analysis": {"labels": ["colour"]}}))
    Traceback (most recent call last):
    ...
    ValueError: analysis.labels: unknown label(s) ['colour'] for task 'ContextDecisionMaking-v0'; ...
    """
    task = spec["task"]
    name = task["name"]
    _check_task_conditions(spec)
    problem = _task_kwargs_problem(name, task.get("kwargs") or {})
    if problem:
        raise ValueError(problem)
    an = AnalysisConfig.from_dict(spec.get("analysis") or {})
    kwargs = task.get("kwargs") or {}
    bank = build_trial_bank(name, 2, seed=an.seed, env_kwargs=kwargs)
    for where, grid in (
        ("task.conditions", task.get("conditions")),
        ("analysis.conditions", an.conditions),
    ):
        if grid:
            _check_conditions(name, kwargs, grid, where)
    columns = list(bank.conditions.columns)
    periods = [c[: -len("_start")] for c in bank.periods.columns if c.endswith("_start")]
    unknown = sorted(set(an.labels or []) - set(columns))
    if unknown:
        raise ValueError(
            f"analysis.labels: unknown label(s) {unknown} for task {name!r}; "
            f"its labels: {', '.join(columns)}"
        )
    for key in ("period", "align"):
        value = getattr(an, key)
        if value is not None and value not in periods:
            near = difflib.get_close_matches(value, periods, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise ValueError(
                f"analysis.{key}: task {name!r} has no period {value!r}{hint}; "
                f"its periods: {', '.join(periods)}"
            )
    kept = an.labels or columns
    by = [an.by] if isinstance(an.by, str) else list(an.by)
    missing = [b for b in by if b not in kept]
    if missing and (an.live or "by" in (spec.get("analysis") or {})):
        raise ValueError(
            f"analysis.by: label(s) {missing} are not among the analysis labels of task "
            f"{name!r}: {', '.join(kept)}"
        )
