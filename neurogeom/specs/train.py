"""The configs an experiment spec builds, and the spec's schema derived from them.

Each section of a TOML spec (``tasks/*.toml``) that configures a model is the field list of one
dataclass here: ``[network]`` builds :class:`NetworkConfig`, ``[training]`` :class:`TrainConfig`,
``[checkpoints]`` :class:`CheckpointConfig`, ``[analysis]`` :class:`AnalysisConfig`. :data:`CONFIG_SECTIONS` maps the section names to
them, so the keys a spec may hold (:data:`neurogeom.specs.train.SPEC_KEYS`) are these fields and are
defined once. Every config validates its values (``validate``) and is built from a spec section
with ``from_dict``, which names unknown keys and lists the allowed ones.

Every value is checked against its field's type first (``lr = "0.003"`` is refused with the key,
the type asked for and the value given), and an unknown key names the nearest allowed one.
:func:`check_task_spec` then checks what depends on the task (analysis labels, periods, the
manifold label, the measures, the task's keyword arguments) against a two-trial bank.

This module imports neither torch nor neurogym: specs are checked before anything heavy loads
(:func:`neurogeom.workflows.preflight.check_task_spec` checks what depends on the task).
"""

from __future__ import annotations

import itertools
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar

from neurogeom._params import N_UNITS, SEED, gib, memory_limit_bytes
from neurogeom.specs._common import (
    _matches,
    _type_error,
    unknown_keys_message,
)
from neurogeom.specs._common import read_toml as read_toml

__all__ = [
    "NetworkConfig",
    "TrainConfig",
    "CheckpointConfig",
    "AnalysisConfig",
    "CONFIG_SECTIONS",
    "SPEC_KEYS",
    "validate_spec",
    "expand_sweep",
]


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
        N_UNITS.check("network.n_units", self.n_units)
        need, limit = network_bytes(self.n_units), memory_limit_bytes()
        if need > limit:
            raise ValueError(
                f"network.n_units = {self.n_units}: its recurrent weights, their gradients and "
                f"the optimiser's state need about {gib(need)}, more than the {gib(limit)} "
                "allowed; use fewer units."
            )
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
    SEED.check(where, seed)


def network_bytes(n_units: int) -> int:
    """Bytes of a network's recurrent matrix in float32 with its gradient, the optimiser's two
    moments and the initial copy (five N x N matrices)."""
    return 5 * 4 * int(n_units) ** 2


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
    during training when ``live`` is true (:mod:`neurogeom.workflows.live`) and afterwards by
    :func:`neurogeom.workflows.runs.run_geometry`.

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


def _config_keys(section: str) -> tuple[str, ...]:
    """The keys a spec section that builds a config may hold: the config's fields, in order."""
    return tuple(f.name for f in fields(CONFIG_SECTIONS[section]))


# ---- the experiment spec (TOML) -----------------------------------------------------------------

#: Allowed keys of each section of an experiment spec: the sections that build a model config
#: take that config's fields (:mod:`neurogeom.specs.train`, the one place they are defined).
SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "task": ("name", "kwargs", "conditions"),
    "network": _config_keys("network"),
    "training": _config_keys("training"),
    "checkpoints": _config_keys("checkpoints"),
    "analysis": _config_keys("analysis"),
    "sweep": ("rank", "seed", "alpha", "g", "lr"),
}
#: The section whose config each sweep key sets.
SWEEP_SECTION = {
    "rank": "network",
    "alpha": "network",
    "g": "network",
    "seed": "training",
    "lr": "training",
}
_REQUIRED = {"task": ("name",)}


def _check_keys(section: str, table: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(table) - set(SPEC_KEYS[section]))
    if unknown:
        raise ValueError(
            f"{where}: {unknown_keys_message(unknown, SPEC_KEYS[section], f'in [{section}]')}"
        )


def validate_spec(spec: Mapping[str, Any], where: str = "spec") -> dict[str, Any]:
    """Check an experiment spec's sections, keys and the values that can be checked without torch.

    Returns the spec with every section present (empty dicts for missing optional sections).
    Raises ``ValueError`` naming the bad section/key and listing what is allowed.
    """
    unknown = sorted(set(spec) - set(SPEC_KEYS))
    if unknown:
        message = unknown_keys_message(unknown, SPEC_KEYS, noun="section(s)")
        raise ValueError(f"{where}: {message}")
    out = {s: dict(spec.get(s, {})) for s in SPEC_KEYS}
    for section, table in out.items():
        if not isinstance(table, Mapping):
            raise ValueError(f"{where}: [{section}] must be a table; got {type(table).__name__}")
        _check_keys(section, table, where)
    if "name" not in out["task"]:
        raise ValueError(
            f"{where}: [task] needs a 'name' (a task such as 'ContextDecisionMaking-v0')"
        )
    _check_values(out, where)
    return out


def _check_values(spec: Mapping[str, Any], where: str) -> None:
    """Build each section's config (which validates its values), also with every swept value."""
    for section, cls in CONFIG_SECTIONS.items():
        _built(cls, spec[section], where)
    for key, values in spec["sweep"].items():
        section = SWEEP_SECTION[key]
        for value in values:
            _built(CONFIG_SECTIONS[section], {**spec[section], key: value}, where)


def _built(cls: type, table: Mapping[str, Any], where: str) -> Any:
    try:
        return cls.from_dict(table)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def expand_sweep(spec: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Expand a spec's ``[sweep]`` section into (run name, spec) pairs, one per combination.

    ``rank``, ``alpha``, ``g`` set the matching ``[network]`` key; ``seed`` and ``lr`` set
    ``[training]``. Without a sweep section the spec itself is returned with name ``""``.
    """
    sweep = {k: list(v) for k, v in spec.get("sweep", {}).items()}
    if not sweep:
        return [("", {k: v for k, v in spec.items() if k != "sweep"})]
    runs = []
    keys = list(sweep)
    for combo in itertools.product(*(sweep[k] for k in keys)):
        one = {k: (dict(v) if isinstance(v, dict) else v) for k, v in spec.items() if k != "sweep"}
        parts = []
        for key, val in zip(keys, combo):
            section = SWEEP_SECTION[key]
            one[section][key] = val
            parts.append(f"{key}_{val}")
        runs.append(("_".join(parts), one))
    return runs
