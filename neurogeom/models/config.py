"""The configs an experiment spec builds, and the spec's schema derived from them.

Each section of a TOML spec (``tasks/*.toml``) that configures a model is the field list of one
dataclass here: ``[network]`` builds :class:`NetworkConfig`, ``[training]`` :class:`TrainConfig`,
``[checkpoints]`` :class:`CheckpointConfig`, ``[analysis]`` :class:`AnalysisConfig`. :data:`CONFIG_SECTIONS` maps the section names to
them, so the keys a spec may hold (:data:`neurogeom.tasks.SPEC_KEYS`) are these fields and are
defined once. Every config validates its values (``validate``) and is built from a spec section
with ``from_dict``, which names unknown keys and lists the allowed ones.

Every value is checked against its field's type first (``lr = "0.003"`` is refused with the key,
the type asked for and the value given), and an unknown key names the nearest allowed one.
:func:`check_task_spec` then checks what depends on the task (analysis labels, periods, the
manifold label, the measures, the task's keyword arguments) against a two-trial bank.

This module imports neither torch nor neurogym: specs are checked before anything heavy loads
(:func:`check_task_spec` imports neurogym when it is called).
"""

from __future__ import annotations

import difflib
import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

__all__ = [
    "NetworkConfig",
    "TrainConfig",
    "CheckpointConfig",
    "AnalysisConfig",
    "CONFIG_SECTIONS",
    "config_keys",
    "parse_target",
    "unknown_keys_message",
    "check_task_spec",
]


def unknown_keys_message(
    unknown: Iterable[str], allowed: Iterable[str], where: str = "", noun: str = "key(s)"
) -> str:
    """``"unknown key(s) ['n_step'] in [training] (did you mean 'n_steps'?); allowed: ..."``.

    Parameters
    ----------
    unknown : iterable of str
        The keys not allowed.
    allowed : iterable of str
        The keys allowed, in the order they are listed.
    where : str, optional
        Where the keys were found, e.g. ``"in [training]"``.
    noun : str, default="key(s)"
        What the keys are, e.g. ``"network key(s)"``.

    Returns
    -------
    str
        One line naming the unknown keys, the nearest allowed key of each that has a close one,
        and the allowed keys.

    Examples
    --------
    >>> unknown_keys_message(["n_step"], ["n_steps", "lr"], "in [training]")
    "unknown key(s) ['n_step'] in [training] (did you mean 'n_steps'?); allowed: n_steps, lr"
    """
    allowed = list(allowed)
    unknown = sorted(unknown)
    near = {}
    for key in unknown:
        match = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        if match:
            near[key] = match[0]
    hint = ""
    if len(unknown) == 1 and near:
        hint = f" (did you mean {near[unknown[0]]!r}?)"
    elif near:
        hint = " (did you mean " + ", ".join(f"{v!r} for {k!r}" for k, v in near.items()) + "?)"
    head = f"unknown {noun} {unknown}" + (f" {where}" if where else "")
    return f"{head}{hint}; allowed: {', '.join(allowed)}"


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _type_word(hint: Any) -> str:
    """What a field's type asks for, in words (TOML has no null: ``None`` is "omitted")."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        words = [_type_word(a) for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(words) + (" (or omitted)" if type(None) in typing.get_args(hint) else "")
    if origin is list or hint is list:
        args = typing.get_args(hint)
        inner = _type_word(args[0]) if args and args[0] is not Any else ""
        return "a list" + (f" of {inner.split(' ', 1)[-1]}s" if inner else "")
    if origin is dict or hint is dict:
        return "a table"
    return _TYPE_WORDS.get(hint, getattr(hint, "__name__", str(hint)))


def _matches(value: Any, hint: Any) -> bool:
    """Whether a spec value has a field's type (an integer is a number; ``True`` is no integer)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin is list or hint is list:
        args = typing.get_args(hint)
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value if args)
    if origin is dict or hint is dict:
        return isinstance(value, Mapping)
    return True


def _type_error(where: str, hint: Any, value: Any) -> str:
    given = f"{value!r} ({_TYPE_WORDS.get(type(value), type(value).__name__)})"
    message = f"{where} must be {_type_word(hint)}; got {given}"
    if isinstance(value, str) and _matches(1.0, hint):
        try:
            float(value)
        except ValueError:
            pass
        else:
            message += f"; write the number without quotes: {where.rsplit('.', 1)[-1]} = {value}"
    return message


class _SectionConfig:
    """Building a config from its spec section (``from_dict``) and back (``to_dict``)."""

    section: ClassVar[str]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """The config of a spec section; unknown keys and bad values raise ``ValueError``."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(unknown_keys_message(unknown, names, noun=f"{cls.section} key(s)"))
        hints = typing.get_type_hints(cls)
        for key, value in d.items():
            if not _matches(value, hints[key]):
                raise TypeError(_type_error(f"{cls.section}.{key}", hints[key], value))
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:  # pragma: no cover - every config defines its checks
        raise NotImplementedError


_ACTIVATIONS = ("relu", "tanh")
_TYPES = ("ctrnn", "gru")
_INITS = ("normal", "identity")


@dataclass
class NetworkConfig(_SectionConfig):
    """Architecture and initialisation of a task network.

    Parameters
    ----------
    type : {"ctrnn", "gru"}, default="ctrnn"
    n_units : int, default=128
        Number of recurrent units N.
    activation : {"relu", "tanh"}, default="relu"
    tau_ms : float or None, default=None
        Time constant in ms; ``None`` means ``tau = dt`` (a = 1, a discrete-time network).
    bias : bool, default=False
        Recurrent bias b.
    init : {"normal", "identity"}, default="normal"
        ``normal``: ``W0 = g N(0, 1/N)``; ``identity``: ``W0 = I + g N(0, 1/N)`` (Le et al. 2015).
    g : float, default=1.0
        Gain of the random part of W0.
    rank : int or "full", default="full"
        Rank of W0: its SVD is truncated to the top ``rank`` components and rescaled to the Frobenius
        norm of the untruncated matrix.
    alpha : float or None, default=None
        Output scale (Chizat): training fits ``alpha (f - f0)`` with the loss divided by alpha^2.
        ``None`` trains ``f`` itself.
    dale : bool, default=False
        Dale's law: the first ``frac_excitatory * N`` units excite, the rest inhibit.
    frac_excitatory : float, default=0.8
    sparsity : float, default=0.0
        Fraction of recurrent connections removed by a fixed random mask (0 = dense).
    readout_bias : bool, default=True
    """

    section: ClassVar[str] = "network"

    type: str = "ctrnn"
    n_units: int = 128
    activation: str = "relu"
    tau_ms: float | None = None
    bias: bool = False
    init: str = "normal"
    g: float = 1.0
    rank: int | str = "full"
    alpha: float | None = None
    dale: bool = False
    frac_excitatory: float = 0.8
    sparsity: float = 0.0
    readout_bias: bool = True

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first bad value."""
        if self.type not in _TYPES:
            raise ValueError(f"network type must be one of {_TYPES}; got {self.type!r}")
        if isinstance(self.n_units, bool) or not isinstance(self.n_units, int) or self.n_units < 1:
            raise ValueError(f"n_units must be a positive integer; got {self.n_units!r}")
        if self.activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {_ACTIVATIONS}; got {self.activation!r}")
        if self.init not in _INITS:
            raise ValueError(f"init must be one of {_INITS}; got {self.init!r}")
        if self.rank != "full":
            r = self.rank
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= self.n_units:
                raise ValueError(
                    f"rank must be an integer in 1..n_units={self.n_units} or 'full'; got {r!r}. "
                    "Use rank = 'full' for an untruncated matrix."
                )
        if not self.g >= 0:
            raise ValueError(f"g must be >= 0; got {self.g}")
        if self.alpha is not None and not self.alpha > 0:
            raise ValueError(f"alpha must be > 0 (or None); got {self.alpha}")
        if self.tau_ms is not None and not self.tau_ms > 0:
            raise ValueError(f"tau_ms must be > 0 (or None for tau = dt); got {self.tau_ms}")
        if not 0.0 <= self.sparsity < 1.0:
            raise ValueError(f"sparsity must be in [0, 1); got {self.sparsity}")
        if not 0.0 < self.frac_excitatory < 1.0:
            raise ValueError(f"frac_excitatory must be in (0, 1); got {self.frac_excitatory}")
        if self.dale and self.rank != "full":
            raise ValueError(
                "rank truncation and dale=True cannot be combined: a truncated SVD does not keep "
                "fixed column signs. Use rank='full' with dale, or dale=false with a rank."
            )
        if self.type == "gru" and (self.dale or self.sparsity or self.rank != "full"):
            raise ValueError("dale, sparsity and rank apply to type='ctrnn' only")


@dataclass
class TrainConfig(_SectionConfig):
    """Optimisation settings (the ``[training]`` section of a spec).

    Parameters
    ----------
    n_steps : int, default=2000
        Optimiser steps (minibatches).
    batch_size : int, default=128
    optimizer : {"adam", "sgd"}, default="adam"
    lr : float, default=1e-2
    lr_schedule : {"constant", "cosine"}, default="constant"
        ``cosine``: the learning rate at step s is ``lr (0.05 + 0.95 (1 + cos(pi s / n_steps)) / 2)``;
        a function of the step only, so resuming needs no scheduler state.
    momentum : float, default=0.9
        SGD only.
    weight_decay : float, default=0.0
        Divided by alpha^2 when an output scale alpha is set.
    grad_clip : float or None, default=1.0
        Maximum global gradient norm; ``None`` or ``0`` (TOML has no null): no clipping.
    loss : {"decision", "all"}, default="decision"
    fixation_weight : float, default=0.1
    n_train_trials, n_test_trials : int, default=8192, 2000
        Sizes of the training bank (seed ``seed``) and the held-out bank (seed ``seed + 1_000_003``).
    n_monitor_trials : int or None, default=None
        Held-out trials (the first ones of the bank) used by the evaluations before the last step;
        ``None``: all of them. The last step and every evaluation that would complete a streak of
        ``patience`` at the target use the whole held-out bank.
    eval_every : int, default=25
        Steps between held-out evaluations (also done at every checkpoint).
    seed : int, default=0
        Seeds the network, the banks and the batch order.
    device : str, default="auto"
    threads : int or None, default=1
        CPU threads for torch during training (small matrices: one thread is fastest on a busy
        machine). ``None`` leaves torch's setting alone.
    target_accuracy : float or str or None, default=None
        A held-out accuracy to reach, or ``"ideal-0.03"``: the ideal observer's accuracy on the
        held-out bank minus 0.03. Reported in the metrics (``reached``).
    patience : int, default=3
        Evaluations in a row at or above the target that count as reaching it.
    early_stop : bool, default=False
        Stop once the target is reached (the final checkpoint is saved at that step).
    """

    section: ClassVar[str] = "training"

    n_steps: int = 2000
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float = 1e-2
    lr_schedule: str = "constant"
    momentum: float = 0.9
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    loss: str = "decision"
    fixation_weight: float = 0.1
    n_train_trials: int = 8192
    n_test_trials: int = 2000
    n_monitor_trials: int | None = None
    eval_every: int = 25
    seed: int = 0
    device: str = "auto"
    threads: int | None = 1
    target_accuracy: float | str | None = None
    patience: int = 3
    early_stop: bool = False

    def validate(self) -> None:
        for name in ("n_steps", "batch_size", "n_train_trials", "n_test_trials", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"training.{name} must be a positive integer; got {v!r}")
        m = self.n_monitor_trials
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ValueError(
                f"training.n_monitor_trials must be a positive integer or omitted; got {m!r}"
            )
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"training.optimizer must be 'adam' or 'sgd'; got {self.optimizer!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                f"training.lr_schedule must be 'constant' or 'cosine'; got {self.lr_schedule!r}"
            )
        if self.loss not in ("decision", "all"):
            raise ValueError(f"training.loss must be 'decision' or 'all'; got {self.loss!r}")
        if not self.lr > 0:
            raise ValueError(f"training.lr must be > 0; got {self.lr}")
        if self.grad_clip is not None and not self.grad_clip >= 0:
            raise ValueError(
                f"training.grad_clip must be > 0, or 0 for no clipping; got {self.grad_clip}"
            )
        if self.patience < 1:
            raise ValueError(f"training.patience must be >= 1; got {self.patience}")
        _check_seed("training.seed", self.seed)
        if self.device != "auto" and self.device.split(":")[0] not in _DEVICES:
            raise ValueError(
                f"training.device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; "
                f"got {self.device!r}"
            )
        parse_target(self.target_accuracy, 0.9)


_DEVICES = ("cpu", "cuda", "mps")


def _check_seed(where: str, seed: int) -> None:
    if seed < 0:
        raise ValueError(f"{where} must be a non-negative integer; got {seed}")


def parse_target(target: float | str | None, ideal: float | None) -> float | None:
    if target is None:
        return None
    if isinstance(target, str):
        s = target.replace(" ", "")
        if not s.startswith("ideal"):
            raise ValueError(
                f"target_accuracy must be a number or 'ideal-<margin>'; got {target!r}"
            )
        margin = float(s[len("ideal") :] or 0.0)
        if ideal is None:
            raise ValueError("target_accuracy 'ideal...' needs a task with an ideal observer")
        return ideal + margin
    return float(target)


@dataclass
class CheckpointConfig(_SectionConfig):
    """When checkpoints are written (the ``[checkpoints]`` section of a spec).

    Parameters
    ----------
    schedule : {"log", "list"}, default="log"
        ``log``: :func:`neurogeom.models.train.log_schedule` (dense early); ``list``: ``steps``.
    steps : list of int or None, default=None
        The checkpointed steps when ``schedule = "list"``.
    save_every : int, default=50
        Steps between resume files (``last.safetensors``).
    """

    section: ClassVar[str] = "checkpoints"

    schedule: str = "log"
    steps: list[int] | None = None
    save_every: int = 50

    def validate(self) -> None:
        if self.schedule not in ("log", "list"):
            raise ValueError(f"checkpoints.schedule must be 'log' or 'list'; got {self.schedule!r}")
        if self.schedule == "list" and not self.steps:
            raise ValueError("checkpoints.schedule = 'list' needs checkpoints.steps = [...]")
        s = self.save_every
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"checkpoints.save_every must be a positive integer; got {s!r}")


@dataclass
class AnalysisConfig(_SectionConfig):
    """What is analysed of a trained run (the ``[analysis]`` section of a spec).

    The first six keys describe the fixed analysis trial bank the checkpoints run on
    (:func:`neurogeom.models.simulate.analysis_bank`); the rest, the geometry computed on it, live
    during training when ``live`` is true (:mod:`neurogeom.learning.live`) and afterwards by
    :func:`neurogeom.learning.runs.run_geometry`.

    Parameters
    ----------
    period : str or None, default=None
        Task period analysed (None: the task's decision period). Geometry uses each trial's mean
        state over this period.
    align : str or None, default=None
        Period whose start is time 0 in simulated tensors.
    labels : list of str or None, default=None
        Condition columns kept as trial coords (None: all).
    n_trials : int, default=256
        Trials of the analysis bank.
    seed : int, default=12345
        Seed of the analysis bank.
    conditions : dict or None, default=None
        A balanced condition grid for the analysis bank.
    live : bool, default=False
        Compute the geometry of every checkpoint while training, on the training's worker thread,
        into ``run_dir/geometry/step_<step>.nc``.
    by : str or list of str, default="ground_truth"
        Trial label(s) whose values are the manifolds.
    measures : list of str, default=["glue"]
        Registered measures computed.
    n_points_per_manifold : int or None, default=None
        Points subsampled per manifold (seeded); None keeps all.
    center : bool, default=True
        Subtract the grand mean of the points first.
    geometry_seed : int, default=0
        The seed of the geometry; the checkpoint of step ``s`` uses ``child_seed(geometry_seed, s)``.
    options : dict, default={}
        Further options of the measures, e.g. ``{n_t = 200, dichotomies = "one_vs_rest",
        jitter = 1e-6}``.
    """

    section: ClassVar[str] = "analysis"

    period: str | None = None
    align: str | None = None
    labels: list[str] | None = None
    n_trials: int = 256
    seed: int = 12345
    conditions: dict[str, list[Any]] | None = None
    live: bool = False
    by: str | list[str] = "ground_truth"
    measures: list[str] = field(default_factory=lambda: ["glue"])
    n_points_per_manifold: int | None = None
    center: bool = True
    geometry_seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        n = self.n_trials
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"analysis.n_trials must be a positive integer; got {n!r}")
        _check_seed("analysis.seed", self.seed)
        _check_seed("analysis.geometry_seed", self.geometry_seed)
        if not isinstance(self.live, bool):
            raise ValueError(f"analysis.live must be true or false; got {self.live!r}")
        by = [self.by] if isinstance(self.by, str) else self.by
        if not isinstance(by, list) or not by or not all(isinstance(b, str) for b in by):
            raise ValueError(f"analysis.by must be a label name or a list of them; got {self.by!r}")
        ms = self.measures
        if not isinstance(ms, list) or not ms or not all(isinstance(m, str) for m in ms):
            raise ValueError(
                f"analysis.measures must be a list of measure names, e.g. ['glue']; got {ms!r}"
            )
        m = self.n_points_per_manifold
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ValueError(
                f"analysis.n_points_per_manifold must be a positive integer or omitted; got {m!r}"
            )
        if not isinstance(self.options, dict):
            raise ValueError(
                f"analysis.options must be a table of measure options; got {self.options!r}"
            )
        if "seed" in self.options:
            raise ValueError("give the geometry's seed as analysis.geometry_seed, not in options")


#: Spec sections that build a config, by name.
CONFIG_SECTIONS: dict[str, type] = {
    "network": NetworkConfig,
    "training": TrainConfig,
    "checkpoints": CheckpointConfig,
    "analysis": AnalysisConfig,
}


def config_keys(section: str) -> tuple[str, ...]:
    """The keys a spec section that builds a config may hold: the config's fields, in order."""
    return tuple(f.name for f in fields(CONFIG_SECTIONS[section]))


def _task_kwargs_problem(name: str, kwargs: Mapping[str, Any]) -> str | None:
    """What is wrong with a task's keyword arguments, judged by its constructor's defaults."""
    import gymnasium
    import neurogym  # noqa: F401  (registers its tasks with gymnasium)

    entry = gymnasium.envs.registry[name].entry_point
    if isinstance(entry, str):
        import importlib

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
    from neurogeom.tasks import build_trial_bank

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
        A spec as :func:`neurogeom.tasks.validate_spec` returns it (every section present).

    Raises
    ------
    ValueError
        Naming the key, the bad value and the allowed ones.

    See Also
    --------
    neurogeom.tasks.validate_spec : the checks that need no task.

    Examples
    --------
    >>> spec = validate_spec({"task": {"name": "PerceptualDecisionMaking-v0"}})  # doctest: +SKIP
    >>> check_task_spec(spec)  # doctest: +SKIP
    """
    from neurogeom.tasks import build_trial_bank

    task = spec["task"]
    name = task["name"]
    problem = _task_kwargs_problem(name, task.get("kwargs") or {})
    if problem:
        raise ValueError(problem)
    an = AnalysisConfig.from_dict(spec.get("analysis") or {})
    kwargs = task.get("kwargs") or {}
    bank = build_trial_bank(name, 2, seed=an.seed, env_kwargs=kwargs)
    for where, grid in (("task.conditions", task.get("conditions")), ("analysis.conditions",
                        an.conditions)):  # fmt: skip
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
    from neurogeom.geometry.registry import get_measure

    for measure in an.measures:
        try:
            get_measure(measure)
        except ValueError as exc:
            raise ValueError(f"analysis.measures: {exc}") from None
