"""The configs an experiment spec builds, and the spec's schema derived from them.

Each section of a TOML spec (``tasks/*.toml``) that configures a model is the field list of one
dataclass here: ``[network]`` builds :class:`NetworkConfig`, ``[training]`` :class:`TrainConfig`,
``[checkpoints]`` :class:`CheckpointConfig`, ``[analysis]`` :class:`AnalysisConfig`. :data:`CONFIG_SECTIONS` maps the section names to
them, so the keys a spec may hold (:data:`neurogeom.specs.train.SPEC_KEYS`) are these fields and are
defined once. Every config validates its values (``validate``) and is built from a spec section
with ``from_dict``, which names unknown keys and lists the allowed ones.

Every value is checked against its field's type first (``lr = "0.003"`` is refused with the key,
the type asked for and the value given), and an unknown key names the nearest allowed one.
``check_task_spec`` then checks what depends on the task (analysis labels, periods, the
manifold label, the measures, the task's keyword arguments) against a two-trial bank.

This module imports neither torch nor neurogym: specs are checked before anything heavy loads
(``neurogeom.workflows.preflight.check_task_spec`` checks what depends on the task).
"""

from __future__ import annotations

import functools
import itertools
import typing
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Annotated, Any, ClassVar

import pydantic

from neurogeom._params import N_UNITS, SEED, Interval, OneOf, gib, memory_limit_bytes
from neurogeom.specs._common import explain, unknown_keys_message, validated
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
    """Building a config from its spec section (``from_dict``) and back (``to_dict``), and its
    check (``validate``): each field's type and constraint, stated once in its annotation
    (``n_units: Annotated[int, N_UNITS]``) and checked by pydantic, then what ties the fields
    together (``_check_together``). The config keeps the values as given."""

    section: ClassVar[str]
    __pydantic_config__: ClassVar[pydantic.ConfigDict] = pydantic.ConfigDict(
        strict=True, revalidate_instances="always"
    )

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Any:
        """The config of a spec section; an unknown key or a bad value raises ``ValueError``, a
        value of the wrong type ``TypeError``."""
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ValueError(unknown_keys_message(unknown, names, noun=f"{cls.section} key(s)"))
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Raise ``TypeError`` or ``ValueError`` naming the first bad value
        (``"training.n_steps must be a positive integer; got 0."``)."""
        cls = type(self)
        try:
            _schema(cls).validate_python(self)
        except pydantic.ValidationError as exc:
            hints = typing.get_type_hints(cls)
            raise explain(exc, hints, asdict(self), f"{cls.section}.") from None
        self._check_together()

    def _check_together(self) -> None:
        """What no single field's constraint says (a rank within ``n_units``, ...)."""


@functools.cache
def _schema(cls: type) -> pydantic.TypeAdapter:
    """The pydantic check of a config class (its fields' annotations)."""
    return pydantic.TypeAdapter(cls)


#: An integer count of at least one.
_COUNT = Interval(int, 1, words="a positive integer")
#: The same, or the key left out.
_COUNT_OR_NONE = Interval(int, 1, words="a positive integer or omitted")


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

    See Also
    --------
    neurogeom.models.build_network : the network it describes.
    TrainConfig : the ``[training]`` section.

    Examples
    --------
    >>> cfg = NetworkConfig(type="gru", n_units=16)
    >>> cfg.type, cfg.n_units
    ('gru', 16)
    """

    section: ClassVar[str] = "network"

    type: Annotated[str, OneOf(("ctrnn", "gru"))] = "ctrnn"
    n_units: Annotated[int, N_UNITS] = 128
    activation: Annotated[str, OneOf(("relu", "tanh"))] = "relu"
    tau_ms: Annotated[float, Interval(float, 0, closed="neither", words="> 0 (or omitted for tau = dt)")] | None = None  # fmt: skip
    bias: bool = False
    init: Annotated[str, OneOf(("normal", "identity"))] = "normal"
    g: Annotated[float, Interval(float, 0, words=">= 0")] = 1.0
    rank: int | str = "full"
    alpha: Annotated[float, Interval(float, 0, closed="neither", words="> 0 (or omitted)")] | None = None  # fmt: skip
    dale: bool = False
    frac_excitatory: Annotated[float, Interval(float, 0, 1, closed="neither", words="in (0, 1)")] = 0.8  # fmt: skip
    sparsity: Annotated[float, Interval(float, 0, 1, closed="left", words="in [0, 1)")] = 0.0
    readout_bias: bool = True

    def _check_together(self) -> None:
        need, limit = network_bytes(self.n_units), memory_limit_bytes()
        if need > limit:
            raise ValueError(
                f"network.n_units = {self.n_units}: its recurrent weights, their gradients and "
                f"the optimiser's state need about {gib(need)}, more than the {gib(limit)} "
                "allowed; use fewer units."
            )
        if self.rank != "full":
            r = self.rank
            if isinstance(r, bool) or not isinstance(r, int) or not 1 <= r <= self.n_units:
                raise ValueError(
                    f"rank must be an integer in 1..n_units={self.n_units} or 'full'; got {r!r}. "
                    "Use rank = 'full' for an untruncated matrix."
                )
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

    See Also
    --------
    NetworkConfig : the ``[network]`` section.
    neurogeom.models.train : the training it configures.

    Examples
    --------
    >>> TrainConfig(n_steps=100).n_steps
    100
    """

    section: ClassVar[str] = "training"

    n_steps: Annotated[int, _COUNT] = 2000
    batch_size: Annotated[int, _COUNT] = 128
    optimizer: Annotated[str, OneOf(("adam", "sgd"), "'adam' or 'sgd'")] = "adam"
    lr: Annotated[float, Interval(float, 0, closed="neither", words="> 0")] = 1e-2
    lr_schedule: Annotated[str, OneOf(("constant", "cosine"), "'constant' or 'cosine'")] = "constant"  # fmt: skip
    momentum: float = 0.9
    weight_decay: float = 0.0
    grad_clip: Annotated[float, Interval(float, 0, words="> 0, or 0 for no clipping")] | None = 1.0  # fmt: skip
    loss: Annotated[str, OneOf(("decision", "all"), "'decision' or 'all'")] = "decision"
    fixation_weight: float = 0.1
    n_train_trials: Annotated[int, _COUNT] = 8192
    n_test_trials: Annotated[int, _COUNT] = 2000
    n_monitor_trials: Annotated[int, _COUNT_OR_NONE] | None = None
    eval_every: Annotated[int, _COUNT] = 25
    seed: Annotated[int, SEED] = 0
    device: str = "auto"
    threads: int | None = 1
    target_accuracy: float | str | None = None
    patience: Annotated[int, Interval(int, 1, words=">= 1")] = 3
    early_stop: bool = False

    def _check_together(self) -> None:
        if self.device != "auto" and self.device.split(":")[0] not in _DEVICES:
            raise ValueError(
                f"training.device must be 'auto', 'cpu', 'cuda' or 'cuda:<index>'; "
                f"got {self.device!r}"
            )
        parse_target(self.target_accuracy, 0.9)


_DEVICES = ("cpu", "cuda", "mps")


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

    See Also
    --------
    neurogeom.models.log_schedule : the steps of the ``'log'`` schedule.
    TrainConfig : the ``[training]`` section.

    Examples
    --------
    >>> CheckpointConfig(schedule="list", steps=[0, 10, 100]).steps
    [0, 10, 100]
    """

    section: ClassVar[str] = "checkpoints"

    schedule: Annotated[str, OneOf(("log", "list"), "'log' or 'list'")] = "log"
    steps: list[int] | None = None
    save_every: Annotated[int, _COUNT] = 50

    def _check_together(self) -> None:
        if self.schedule == "list" and not self.steps:
            raise ValueError("checkpoints.schedule = 'list' needs checkpoints.steps = [...]")


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

    See Also
    --------
    TrainConfig : the ``[training]`` section.
    validate_spec : the whole spec checked.

    Examples
    --------
    >>> cfg = AnalysisConfig(n_trials=64)
    >>> cfg.n_trials, cfg.seed
    (64, 12345)
    """

    section: ClassVar[str] = "analysis"

    period: str | None = None
    align: str | None = None
    labels: list[str] | None = None
    n_trials: Annotated[int, _COUNT] = 256
    seed: Annotated[int, SEED] = 12345
    conditions: dict[str, list[Any]] | None = None
    live: bool = False
    by: str | list[str] = "ground_truth"
    measures: list[str] = field(default_factory=lambda: ["glue"])
    n_points_per_manifold: Annotated[int, _COUNT_OR_NONE] | None = None
    center: bool = True
    geometry_seed: Annotated[int, SEED] = 0
    options: dict[str, Any] = field(default_factory=dict)

    def _check_together(self) -> None:
        if not self.by:
            raise ValueError(f"analysis.by must be a label name or a list of them; got {self.by!r}")
        if not self.measures:
            raise ValueError(
                f"analysis.measures must be a list of measure names, e.g. ['glue']; "
                f"got {self.measures!r}"
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


class TaskSection(pydantic.BaseModel):
    """The ``[task]`` section: the task's name, its keyword arguments (checked against the task
    by :func:`neurogeom.tasks.check_task_spec`) and a condition grid."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    name: str
    kwargs: dict[str, Any] | None = None
    conditions: dict[str, Any] | None = None


class SweepSection(pydantic.BaseModel):
    """The ``[sweep]`` section: values swept, one run per combination (each value is checked by
    the config it sets, :data:`SWEEP_SECTION`). A training spec with ``rank`` is a rank sweep
    (:mod:`neurogeom.workflows.rank_sweep`)."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    # each value's type and constraint are those of the config field it sets
    rank: list[Any] | None = None
    seed: list[Any] | None = None
    alpha: list[Any] | None = None
    g: list[Any] | None = None
    lr: list[Any] | None = None


#: Allowed keys of each section of an experiment spec: the sections that build a model config
#: take that config's fields (:mod:`neurogeom.specs.train`, the one place they are defined).
SPEC_KEYS: dict[str, tuple[str, ...]] = {
    "task": tuple(TaskSection.model_fields),
    "network": _config_keys("network"),
    "training": _config_keys("training"),
    "checkpoints": _config_keys("checkpoints"),
    "analysis": _config_keys("analysis"),
    "sweep": tuple(SweepSection.model_fields),
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

    Parameters
    ----------
    spec : mapping
        The parsed TOML table of an experiment spec (sections ``task``, ``network``,
        ``training``, ``checkpoints``, ``analysis``, ``sweep``).
    where : str, default="spec"
        The name used in error messages (the spec file's path).

    Returns
    -------
    dict
        The spec with every section present (``{}`` for missing optional sections).

    See Also
    --------
    expand_sweep : one spec per combination of a sweep.
    neurogeom.workflows.load_spec : read a spec file and check it.

    Examples
    --------
    >>> spec = validate_spec({"task": {"name": "PerceptualDecisionMaking-v0"}})
    >>> sorted(spec)
    ['analysis', 'checkpoints', 'network', 'sweep', 'task', 'training']
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
    try:
        validated(TaskSection, out["task"], "[task]")
        validated(SweepSection, out["sweep"], "[sweep]")
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
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

    Parameters
    ----------
    spec : mapping
        A checked spec (:func:`validate_spec`); its ``[sweep]`` section maps ``rank``, ``alpha``,
        ``g``, ``seed`` or ``lr`` to a list of values.

    Returns
    -------
    list of (str, dict)
        One (run name such as ``"seed_0_rank_1"``, spec without ``[sweep]``) per combination.

    See Also
    --------
    validate_spec : the check the spec needs first.
    neurogeom.workflows.run_sweep : runs a sweep grid.

    Examples
    --------
    >>> spec = validate_spec({"task": {"name": "PerceptualDecisionMaking-v0"},
    ...                       "sweep": {"seed": [0, 1]}})
    >>> [name for name, _ in expand_sweep(spec)]
    ['seed_0', 'seed_1']
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
