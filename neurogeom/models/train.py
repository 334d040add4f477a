"""Training task networks with checkpoints on a log-spaced schedule, resumable to identical weights.

A run lives in one folder::

    run_dir/spec.json                     the resolved experiment spec
    run_dir/checkpoints/step_0000000.safetensors ...   weights on the schedule (0, 1, 2, 4, 5, 6, 8, ...)
    run_dir/last.safetensors              weights + optimiser + RNG state for resuming (every save_every)
    run_dir/metrics.csv                   step, loss, held-out accuracy, ||W - W0|| / ||W0||, wall time,
                                          time in forward/backward/optimiser steps

Held-out evaluations between the first and the last step may use a fixed subset of the held-out bank
(``n_monitor_trials``, its first trials) compared with the ideal observer on the same trials; the
last step, and any evaluation that would complete a ``patience`` streak at the target, are evaluated
on the whole held-out bank, so ``reached`` is never declared on the subset alone.

Every checkpoint file also holds the optimiser and RNG state. The minibatch of step ``s`` is a function
of ``(seed, s)`` only, so a run killed at any point and restarted with the same spec and folder
resumes from its last saved state and ends with bit-identical weights to an uninterrupted run.
One process trains into a folder at a time: :func:`train` holds the folder's write lock
(``neurogeom._files.output_lock``), and a second writer is refused with a message naming the
first.

The evaluations, the metrics rows and the checkpoint files run on a worker thread, from copies of the
state taken at their step, one at a time in step order (``neurogeom.models._recorder.Recorder``):
the loop goes on training meanwhile, and the results and files are the same as when they run in the
loop. Minibatches are gathered from the bank 64 at a time. ``metrics.csv`` ``step_s`` is the time
spent in the forward pass, loss, backward pass, gradient clipping and optimiser step; ``wall_s`` is
the clock since :func:`train` was called, read when each evaluation finishes.

Loss (``loss="decision"``, the default): cross-entropy of the response outputs on the decision period
(over the choice outputs only when the task's decision targets are never "fixate"), plus
``fixation_weight`` times the cross-entropy towards "fixate" on the steps where the fixation input is
on. ``loss="all"``: cross-entropy over all outputs on every step of each trial (the seed paper's
choice; in ContextDecisionMaking the delay and decision steps have identical inputs, so this trains
poorly). With an output scale ``alpha`` (Chizat et al. 2019) the logits are ``alpha (f - f0)`` with
``f0`` the network at initialisation, and the loss is divided by ``alpha**2``.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from neurogeom._deprecation import REMOVED_IN
from neurogeom._files import output_lock, to_json, write_atomic
from neurogeom.models._recorder import EvalBank, Recorder
from neurogeom.models.checkpoints import (
    latest_state,
    list_checkpoints,
    load_checkpoint,
    model_state,
    read_metrics,
    restore,
    snapshot,
    write_metrics,
)
from neurogeom.models.rnn import CTRNN, GRUNet, build_network, pick_device, torch_threads
from neurogeom.specs.train import (
    CheckpointConfig,
    NetworkConfig,
    TrainConfig,
    parse_target,
    validate_spec,
)
from neurogeom.tasks import TrialBank, build_trial_bank, check_task_spec, ideal_observer

__all__ = [
    "TrainResult",
    "train",
    "log_schedule",
    "predict_choices",
    "load_run_network",
    "run_spec",
]


def _cosine_lr(lr: float, step: int, n_steps: int) -> float:
    return lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(step, n_steps) / n_steps)))


def log_schedule(n_steps: int) -> list[int]:
    """Checkpoint steps 0, 1, 2, 4, then 2^k, floor(4/3 2^k), floor(5/3 2^k) for k >= 2, and n_steps.

    This is the seed paper's ``get_steps`` schedule: dense early, where learning stages happen.

    Parameters
    ----------
    n_steps : int
        The last training step.

    Returns
    -------
    list of int
        The checkpoint steps, sorted, without repeats.

    See Also
    --------
    neurogeom.specs.CheckpointConfig : the ``[checkpoints]`` section choosing it.

    Examples
    --------
    >>> log_schedule(10)[:4], log_schedule(10)[-1]
    ([0, 1, 2, 4], 10)
    """
    steps = {0, 1, 2, 4}
    k = 2
    while 2**k <= n_steps:
        for f in (1.0, 4.0 / 3.0, 5.0 / 3.0):
            steps.add(int(math.floor(f * 2**k)))
        k += 1
    return sorted(s for s in steps | {n_steps} if s <= n_steps)


# ---- spec and network -----------------------------------------------------------------------------


def run_spec(run_dir: str | Path) -> dict[str, Any]:
    """The resolved spec stored in a run folder (``spec.json``).

    Parameters
    ----------
    run_dir : str or Path
        A run folder (:func:`train`).

    Returns
    -------
    dict
        The spec, every section present.

    See Also
    --------
    neurogeom.specs.validate_spec : the check the spec passed.
    load_run_network : the run's network.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> run_spec(run_dir)["task"]["name"]
    'ContextDecisionMaking-v0'
    """
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"no run folder at {run_dir}; train one with `neurogeom train`")
    path = Path(run_dir) / "spec.json"
    if not path.is_file():
        raise FileNotFoundError(f"no spec.json in {run_dir}; is it a folder written by train()?")
    return _read_spec_json(path)


def _read_spec_json(path: Path) -> dict[str, Any]:
    """A run folder's ``spec.json``; a damaged one (truncated, edited) is named as such."""
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"{str(path)!r} is damaged (not valid JSON: {exc}); restore it from a copy, or "
            "train the run again into a new folder"
        ) from None
    if not isinstance(spec, dict):
        raise ValueError(
            f"{str(path)!r} is damaged (a JSON {type(spec).__name__}, not a spec table); "
            "restore it from a copy, or train the run again into a new folder"
        )
    return spec


def _resolve(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a spec and fill the defaults of every section (JSON-able)."""
    spec = validate_spec({k: v for k, v in spec.items() if k != "source"})
    if spec["sweep"]:
        raise ValueError(
            "a spec with a [sweep] section describes many runs; expand it with expand_sweep"
        )
    check_task_spec(spec)
    return {
        "task": {"kwargs": {}, "conditions": {}, **spec["task"]},
        "network": NetworkConfig.from_dict(spec["network"]).to_dict(),
        "training": asdict(TrainConfig.from_dict(spec["training"])),
        "checkpoints": CheckpointConfig.from_dict(spec["checkpoints"]).to_dict(),
        "analysis": dict(spec["analysis"]),
    }


def _make_net(spec: Mapping[str, Any], bank: TrialBank) -> CTRNN | GRUNet:
    return build_network(
        NetworkConfig(**spec["network"]),
        bank.n_input,
        bank.n_output,
        dt_ms=bank.dt_ms,
        seed=int(spec["training"]["seed"]),
    )


def _banks(spec: Mapping[str, Any]) -> tuple[TrialBank, TrialBank]:
    task, tr = spec["task"], spec["training"]
    train_bank = build_trial_bank(
        task["name"], tr["n_train_trials"], seed=tr["seed"], env_kwargs=task["kwargs"]
    )
    test_bank = build_trial_bank(
        task["name"], tr["n_test_trials"], seed=tr["seed"] + 1_000_003, env_kwargs=task["kwargs"]
    )
    return train_bank, test_bank


def load_run_network(run_dir: str | Path, step: int | None = None) -> tuple[nn.Module, int]:
    """The network of a run at a checkpointed step (default: the last one), on the CPU, in eval mode.

    Parameters
    ----------
    run_dir : str or Path
        A run folder (:func:`train`).
    step : int, optional
        A checkpointed step (default: the last one).

    Returns
    -------
    (network, step) : (torch.nn.Module, int)
        The network with the checkpoint's weights, and its step.

    See Also
    --------
    neurogeom.models.checkpoints.list_checkpoints : the steps there are.
    predict_choices : its choices on a bank.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> net, step = load_run_network(run_dir, step=0)
    >>> type(net).__name__, step
    ('CTRNN', 0)
    """
    spec = run_spec(run_dir)
    ckpts = dict(list_checkpoints(run_dir))
    if step is None:
        step = max(ckpts)
    if step not in ckpts:
        raise ValueError(f"no checkpoint at step {step} in {run_dir}; steps: {sorted(ckpts)}")
    tensors, meta = load_checkpoint(ckpts[step])
    n_in, n_out = meta["n_input"], meta["n_output"]
    net = build_network(NetworkConfig(**spec["network"]), n_in, n_out, dt_ms=meta["dt_ms"])
    net.load_state_dict(model_state(tensors))
    return net.eval(), step


# ---- the loss -------------------------------------------------------------------------------------


@dataclass
class _BankTensors:
    x: torch.Tensor  # (n, T, n_in)
    y: torch.Tensor  # (n, T) target action, -1 padding
    dec: torch.Tensor  # (n, T) bool decision steps
    fix: torch.Tensor  # (n, T) bool fixation-cue steps
    valid: torch.Tensor  # (n, T) bool
    last_dec: torch.Tensor  # (n,) index of the last decision step
    lengths: np.ndarray
    f0: torch.Tensor | None = None  # (n, T, n_out) initial network's output (alpha)


def _bank_tensors(bank: TrialBank, device: torch.device) -> _BankTensors:
    dec = bank.period_mask(bank.decision_period)
    names = list(bank.input_names)
    fix_in = bank.inputs[..., names.index("fixation")] > 0.5 if "fixation" in names else dec * False
    fix = fix_in & (bank.targets == 0) & ~dec
    _, end = bank._bounds(bank.decision_period)
    return _BankTensors(
        x=torch.from_numpy(bank.inputs).to(device),
        y=torch.from_numpy(bank.targets).to(device),
        dec=torch.from_numpy(dec).to(device),
        fix=torch.from_numpy(fix).to(device),
        valid=torch.from_numpy(bank.mask).to(device),
        last_dec=torch.from_numpy(end - 1).to(device),
        lengths=bank.lengths,
    )


#: ``valid`` of a minibatch whose trials all last to its end (:meth:`_Objective.loss`).
ALL_STEPS = slice(None)


class _Objective:
    """Computes the loss and the choices on (slices of) a bank."""

    def __init__(self, cfg: TrainConfig, alpha: float | None, choice_only: bool) -> None:
        self.cfg, self.alpha, self.choice_only = cfg, alpha, choice_only

    def logits(self, out: torch.Tensor, f0: torch.Tensor | None) -> torch.Tensor:
        if self.alpha is None:
            return out
        return self.alpha * (out - f0)

    def loss(self, logits: torch.Tensor, y: torch.Tensor, dec, fix, valid) -> torch.Tensor:
        """``valid``: the steps the loss ``"all"`` counts (None: where ``y >= 0``; targets are
        -1 after a trial's end), or ``ALL_STEPS`` when every step of every trial counts (the
        logits are then read as they lie, without gathering them: the same numbers)."""
        if self.cfg.loss == "all":
            if valid is ALL_STEPS:
                return self.loss_at(None, None, None, None, logits.flatten(0, 1), y.flatten())
            valid = y >= 0 if valid is None else valid
            return self.loss_at(None, None, None, None, logits[valid], y[valid])
        return self.loss_at(logits[dec], y[dec], logits[fix], y[fix], None, None)

    def loss_at(self, z_dec, y_dec, z_fix, y_fix, z_valid, y_valid) -> torch.Tensor:
        """The loss from logits already gathered at the decision, fixation or valid steps."""
        ce = nn.functional.cross_entropy
        if self.cfg.loss == "all":
            loss = ce(z_valid, y_valid)
        else:
            loss = ce(z_dec[:, 1:], y_dec - 1) if self.choice_only else ce(z_dec, y_dec)
            if self.cfg.fixation_weight > 0 and z_fix.shape[0] > 0:
                loss = loss + self.cfg.fixation_weight * ce(z_fix, y_fix)
        return loss / self.alpha**2 if self.alpha is not None else loss

    def choice_of(self, z_last: torch.Tensor) -> torch.Tensor:
        """Choices from the logits (n, n_out) at each trial's last decision step."""
        return z_last[:, 1:].argmax(-1) + 1 if self.choice_only else z_last.argmax(-1)

    def choice(self, logits: torch.Tensor, last_dec: torch.Tensor) -> torch.Tensor:
        z = logits[torch.arange(logits.shape[0], device=logits.device), last_dec]
        return self.choice_of(z)


@torch.no_grad()
def _forward_bank(net: nn.Module, bt: _BankTensors, chunk: int = 256) -> torch.Tensor:
    """Outputs (n, T, n_out) on a whole bank: trials sorted by length and run in chunks trimmed to
    their longest trial (about half the work of running every trial to the bank's longest)."""
    order = np.argsort(bt.lengths, kind="stable")
    out = None
    for i in range(0, len(order), chunk):
        idx = torch.from_numpy(order[i : i + chunk]).to(bt.x.device)
        t_max = int(bt.lengths[order[i : i + chunk]].max())
        y = net(bt.x[idx, :t_max])[0]
        if out is None:
            out = y.new_zeros(bt.x.shape[0], bt.x.shape[1], y.shape[-1])
        out[idx, :t_max] = y
    return out


def predict_choices(net: nn.Module, bank: TrialBank) -> np.ndarray:
    """The network's response (action index) at the last decision step of each trial of ``bank``.

    For tasks whose decision targets are never "fixate" the response is the largest choice output;
    otherwise the largest of all outputs.

    Parameters
    ----------
    net : torch.nn.Module
        A task network (:func:`load_run_network`).
    bank : TrialBank
        The trials.

    Returns
    -------
    ndarray of shape (n_trial,), int
        The chosen action of each trial.

    See Also
    --------
    neurogeom.models.bank_choices : the same beside the trials' labels.
    neurogeom.tasks.ideal_observer : the best choices.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> from neurogeom.models import analysis_bank
    >>> net, _ = load_run_network(run_dir)
    >>> predict_choices(net, analysis_bank(run_spec(run_dir), n_trials=8)).shape
    (8,)
    """
    device = next(net.parameters()).device
    eb = EvalBank(bank, np.arange(bank.n_trial), device, net.n_units, None, need_valid=False)
    choice_only = bool((bank.targets[bank.period_mask(bank.decision_period)] > 0).all())
    obj = _Objective(TrainConfig(), None, choice_only)
    was = net.training
    net.eval()
    with torch_threads(1 if device.type == "cpu" else None):
        z = eb.outputs(net)[eb.last_pos]
    net.train(was)
    choice = np.empty(bank.n_trial, dtype=np.int64)
    choice[eb.order] = obj.choice_of(z).cpu().numpy()
    return choice


# ---- training loop ---------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Parameters
    ----------
    run_dir : Path
    network : nn.Module
        The network at ``step``.
    step : int
        The last step trained.
    metrics : pandas.DataFrame
        One row per evaluation (also in ``run_dir / "metrics.csv"``).
    ideal_accuracy : float or None
        The ideal observer on the held-out bank, when the task has one.
    done : bool
        Whether the run reached ``n_steps`` (or stopped early on its target).

    See Also
    --------
    train : returns it.
    load_run_network : the network at another checkpoint.

    Examples
    --------
    >>> import pandas as pd, torch
    >>> from pathlib import Path
    >>> res = TrainResult(Path("runs/cdm"), torch.nn.Linear(2, 2), 10, pd.DataFrame(), None, True, [0, 10])
    >>> res.done, res.checkpoints
    (True, [0, 10])
    """

    run_dir: Path
    network: nn.Module
    step: int
    metrics: pd.DataFrame
    ideal_accuracy: float | None
    done: bool
    checkpoints: list[int] = field(default_factory=list)


def _batch_plan(lengths: np.ndarray, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """Batches of one epoch: trials sorted by length (ties shuffled), cut into batches, order shuffled."""
    rng = np.random.default_rng([seed, 104729, epoch])
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


_PREFETCH = 64  # minibatches assembled at a time


def _assemble(bt: _BankTensors, batches: list[np.ndarray], device: torch.device) -> list[tuple]:
    """The minibatches of ``batches`` (trial indices), each trimmed to its longest trial:
    ``(x, y, dec, fix, f0, valid)`` per batch (``valid``: :data:`ALL_STEPS` when every step of
    the batch has a target, else None).

    Assembled back to back rather than one per training step: the gathers then run on warm caches,
    which makes them several times cheaper than between two backward passes.
    """
    out = []
    for idx_np in batches:
        t_max = int(bt.lengths[idx_np].max())
        idx = torch.from_numpy(idx_np).to(device)
        f0 = None if bt.f0 is None else bt.f0[idx, :t_max]
        y = bt.y[idx, :t_max]
        valid = ALL_STEPS if bool((y >= 0).all()) else None
        out.append((bt.x[idx, :t_max], y, bt.dec[idx, :t_max], bt.fix[idx, :t_max], f0, valid))
    return out


def train(
    spec: Mapping[str, Any],
    run_dir: str | Path,
    *,
    max_steps: int | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    observers: Sequence[Callable[[int, Path], None]] = (),
) -> TrainResult:
    """Train the network a spec describes, checkpointing into ``run_dir``; resume if it has a run.

    Parameters
    ----------
    spec : mapping
        An experiment spec (:func:`neurogeom.workflows.preflight.load_spec`); sections task, network, training,
        checkpoints (analysis is stored, not used).
    run_dir : path
        Output folder. If it already holds a run of the same spec, training resumes from its last
        saved state; a run of a different spec raises ``ValueError``.
    max_steps : int, optional
        Stop after this step even if ``n_steps`` is larger (the run can be resumed later).
    progress : callable, optional
        ``progress(phase, done, total)`` (phase ``"train"``, ``done`` the step reached), called
        at each step. A bool (until 0.2.0: ``True`` drew a tqdm bar) is accepted with a
        ``FutureWarning`` until 0.3.0; the command line's ``--progress`` draws the bar.
    observers : sequence of callables, optional
        Each is called as ``observer(step, path)`` once for every checkpoint of the run, in step
        order, after the checkpoint file ``path`` is written, on the recording worker thread (so
        training goes on meanwhile). The checkpoints already in a resumed run's folder are
        passed first, so an observer that skips the steps it has done catches up on the ones an
        interruption left out (:func:`neurogeom.workflows.live.live_observer` does). An observer
        that raises stops the run, like a failed write.

    Returns
    -------
    TrainResult

    See Also
    --------
    load_run_network : the network at a checkpoint.
    neurogeom.models.simulate.simulate : hidden states of every checkpoint.

    Examples
    --------
    >>> import tempfile
    >>> spec = {"task": {"name": "PerceptualDecisionMaking-v0"}, "network": {"n_units": 8},
    ...         "training": {"n_steps": 4, "batch_size": 4},
    ...         "checkpoints": {"schedule": "list", "steps": [0, 4]}}
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     res = train(spec, run_dir)
    >>> res.step, res.done, res.checkpoints
    (4, True, [0, 4])
    """
    t_start = time.perf_counter()
    if isinstance(progress, bool):
        warnings.warn(
            "train(progress=True/False) is now a callable progress(phase, done, total) or None; "
            f"the bool goes in {REMOVED_IN}.",
            FutureWarning,
            stacklevel=2,
        )
        progress = progress or None  # True: the tqdm bar of 0.1
    spec = _resolve(spec)
    if max_steps is not None and (isinstance(max_steps, bool) or int(max_steps) < 0):
        raise ValueError(f"max_steps must be a non-negative integer; got {max_steps!r}")
    cfg = TrainConfig(**spec["training"])
    device = pick_device(cfg.device)  # an unusable device fails before the run folder is made
    run_dir = Path(run_dir)
    with output_lock(
        run_dir, folder=True
    ):  # one writer at a time: a second is refused, naming the first
        stored = run_dir / "spec.json"
        if stored.is_file():
            old = _read_spec_json(stored)
            if old != json.loads(to_json(spec)):
                raise ValueError(
                    f"{run_dir} holds a run of a different spec; choose another output folder "
                    "or delete it to start over"
                )
        else:
            run_dir.mkdir(parents=True, exist_ok=True)
            write_atomic(stored, to_json(spec, indent=2))

        with torch_threads(cfg.threads if device.type == "cpu" else None):
            return _train(spec, cfg, run_dir, device, max_steps, progress, t_start, observers)


class _StepBar:
    """What the training loop advances: ``progress("train", step, stop_at)`` at each step, or a
    tqdm bar (``progress=True``, deprecated)."""

    def __init__(
        self, progress: Callable[[str, int, int], None] | bool, step: int, total: int
    ) -> None:
        self.progress, self.n, self.total, self.tqdm = progress, step, total, None
        if progress is True:
            from tqdm.auto import tqdm

            self.tqdm = tqdm(total=total, initial=step, desc="train", unit="step")
        else:
            progress("train", step, total)  # type: ignore[operator]

    def update(self, n: int) -> None:
        self.n += n
        if self.tqdm is not None:
            self.tqdm.update(n)
        else:
            self.progress("train", self.n, self.total)  # type: ignore[operator]

    def set_postfix(self, **kwargs: Any) -> None:
        if self.tqdm is not None:
            self.tqdm.set_postfix(**kwargs)

    def close(self) -> None:
        if self.tqdm is not None:
            self.tqdm.close()


#: Evaluations and checkpoint writes on a worker thread (False: in the training loop itself).
_BACKGROUND = True


def _train(spec, cfg, run_dir, device, max_steps, progress, t_start, observers) -> TrainResult:
    """Set the run up, resume it if it has a saved state, train to ``stop_at``, report."""
    run = _setup(spec, cfg, device)
    step, rows, streak = _resume_state(run_dir, run, cfg)
    done = step >= cfg.n_steps or (
        cfg.early_stop and run.target_full is not None and streak >= cfg.patience
    )
    stop_at = cfg.n_steps if max_steps is None else min(cfg.n_steps, int(max_steps))
    (run_dir / "checkpoints").mkdir(exist_ok=True)
    fresh = step == 0 and not rows
    if fresh:
        write_metrics(run_dir, [])
    rec = Recorder(
        net=run.net,
        w0=run.w0,
        p0=run.p0,
        obj=run.obj,
        full_bank=run.full_bank,
        monitor_bank=run.monitor_bank,
        target_full=run.target_full,
        target_monitor=run.target_monitor,
        patience=cfg.patience,
        run_dir=run_dir,
        rows=rows,
        streak=streak,
        t_start=t_start,
        background=_BACKGROUND,
        observers=observers,
    )
    bar = None
    try:
        for s, path in _existing_checkpoints(run_dir):
            if s <= step:  # later ones are trained again (and may be damaged)
                rec.observe(s, path)
        if fresh:
            tensors, meta = snapshot(run.net, run.opt, 0, run.meta_extra)
            rec.evaluate(0, tensors, float("nan"), 0.0, last=False, counts=False)
            rec.save(0, tensors, meta, checkpoint=0 in run.schedule, resume=True)
        if progress is not None and not done and step < stop_at:
            bar = _StepBar(progress, step, stop_at)
        if not done:
            step, done = _loop(run, cfg, rec, step, stop_at, bar)
    finally:
        rec.close()
        if bar is not None:
            bar.close()
    return TrainResult(
        run_dir=run_dir,
        network=run.net.eval(),
        step=step,
        metrics=pd.DataFrame(rec.rows),
        ideal_accuracy=run.full_bank.ideal,
        done=done or step >= cfg.n_steps,
        checkpoints=[s for s, _ in list_checkpoints(run_dir)],
    )


def _existing_checkpoints(run_dir: Path) -> list[tuple[int, Path]]:
    try:
        return list_checkpoints(run_dir)
    except FileNotFoundError:
        return []


@dataclass
class _Run:
    """What a training run is made of: banks, networks, optimiser, objective, schedule."""

    train_bank: TrialBank
    tb: _BankTensors
    net: nn.Module
    w0: torch.Tensor  # initial recurrent matrix
    p0: torch.Tensor  # initial parameters, flattened
    opt: torch.optim.Optimizer
    obj: _Objective
    full_bank: EvalBank
    monitor_bank: EvalBank
    target_full: float | None
    target_monitor: float | None
    schedule: set[int]  # checkpointed steps
    save_every: int
    meta_extra: dict[str, Any]

    def regular(self, s: int, cfg: TrainConfig) -> bool:
        """Evaluation steps of an uninterrupted run (the ones the streak counts)."""
        return s % cfg.eval_every == 0 or s in self.schedule or s == cfg.n_steps


def _setup(spec: Mapping[str, Any], cfg: TrainConfig, device: torch.device) -> _Run:
    train_bank, test_bank = _banks(spec)
    net = _make_net(spec, train_bank).to(device)
    net0 = copy.deepcopy(net).eval()
    alpha = spec["network"]["alpha"]
    wd = cfg.weight_decay / alpha**2 if alpha else cfg.weight_decay
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=wd)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)
    tb = _bank_tensors(train_bank, device)
    if alpha is not None:
        tb.f0 = _forward_bank(net0, tb)
    dec_targets = train_bank.targets[train_bank.period_mask(train_bank.decision_period)]
    full_bank, monitor_bank = _eval_banks(test_bank, cfg, device, net0, alpha)
    ck = spec["checkpoints"]
    schedule = log_schedule(cfg.n_steps) if ck["schedule"] == "log" else sorted(ck["steps"])
    return _Run(
        train_bank=train_bank,
        tb=tb,
        net=net,
        w0=net0.recurrent_weight().detach(),
        p0=torch.cat([p.detach().flatten() for p in net0.parameters()]),
        opt=opt,
        obj=_Objective(cfg, alpha, choice_only=bool((dec_targets > 0).all())),
        full_bank=full_bank,
        monitor_bank=monitor_bank,
        target_full=parse_target(cfg.target_accuracy, full_bank.ideal),
        target_monitor=parse_target(cfg.target_accuracy, monitor_bank.ideal),
        schedule=set(schedule),
        save_every=int(ck["save_every"]),
        meta_extra={
            "n_input": train_bank.n_input,
            "n_output": train_bank.n_output,
            "dt_ms": train_bank.dt_ms,
        },
    )


def _eval_banks(
    test_bank: TrialBank,
    cfg: TrainConfig,
    device: torch.device,
    net0: nn.Module,
    alpha: float | None,
) -> tuple[EvalBank, EvalBank]:
    """The whole held-out bank and the monitored subset (the same object without a subset)."""
    try:
        ideal_choice = ideal_observer(test_bank)
    except ValueError:
        ideal_choice = None
    need_valid = cfg.loss == "all"

    def bank(trials: np.ndarray) -> EvalBank:
        return EvalBank(test_bank, trials, device, net0.n_units, ideal_choice, need_valid)

    full_bank = bank(np.arange(test_bank.n_trial))
    n_mon = cfg.n_monitor_trials
    monitor_bank = (
        full_bank if n_mon is None or n_mon >= test_bank.n_trial else bank(np.arange(n_mon))
    )
    if alpha is not None:
        for b in {full_bank, monitor_bank}:
            b.set_baseline(net0)
    return full_bank, monitor_bank


def _resume_state(run_dir: Path, run: _Run, cfg: TrainConfig) -> tuple[int, list[dict], int]:
    """Load the latest saved state of the run folder: (step, metrics rows, target streak)."""
    step, rows = 0, []
    latest = latest_state(run_dir)
    if latest is not None:
        path, tensors, meta, notes = latest
        for note in notes:
            warnings.warn(note, UserWarning, stacklevel=3)
        if path is not None:
            restore(tensors, meta, run.net, run.opt)
            step = int(meta["step"])
            rows = read_metrics(run_dir, step)
    streak = 0
    for r in rows:
        if int(r["step"]) > 0 and run.regular(int(r["step"]), cfg):
            t = r.get("target")
            t = run.target_full if t is None or (isinstance(t, float) and math.isnan(t)) else t
            streak = streak + 1 if t is not None and r["accuracy"] >= t else 0
    return step, rows, streak


def _loop(
    run: _Run, cfg: TrainConfig, rec: Recorder, step: int, stop_at: int, bar: Any
) -> tuple[int, bool]:
    """Train from ``step`` to ``stop_at`` (or the target, with early stopping), handing the
    evaluations and saves to the recorder; returns (last step, whether the run is done)."""
    device = run.tb.x.device
    step_s = 0.0  # seconds in forward/backward/optimiser steps since this process started
    n_batches = math.ceil(run.train_bank.n_trial / cfg.batch_size)
    plan_epoch, plan, chunk, chunk_start = -1, [], [], 0
    run.net.train()
    losses: list[torch.Tensor] = []  # kept on the device: no host sync per step
    done = False
    while not done and step < stop_at:
        epoch, b = divmod(step, n_batches)
        if epoch != plan_epoch:
            plan = _batch_plan(run.train_bank.lengths, cfg.batch_size, cfg.seed, epoch)
            plan_epoch, chunk = epoch, []
        if not chunk_start <= b < chunk_start + len(chunk):
            chunk = []  # free the previous batches first
            chunk, chunk_start = _assemble(run.tb, plan[b : b + _PREFETCH], device), b
        if cfg.lr_schedule == "cosine":
            for group in run.opt.param_groups:
                group["lr"] = _cosine_lr(cfg.lr, step, cfg.n_steps)
        t0 = time.perf_counter()
        losses.append(_step(run, cfg, chunk[b - chunk_start]))
        step_s += time.perf_counter() - t0
        step += 1
        if bar is not None:
            bar.update(1)
        evaluate = run.regular(step, cfg) or step == stop_at
        save = step in run.schedule or step % run.save_every == 0 or step == stop_at
        if not (evaluate or save):
            continue
        tensors, meta = snapshot(run.net, run.opt, step, run.meta_extra)
        if evaluate:
            train_loss = float(torch.stack(losses).double().mean()) if losses else float("nan")
            losses = []
            last = step == cfg.n_steps
            rec.evaluate(
                step, tensors, train_loss, step_s, last=last, counts=run.regular(step, cfg)
            )
            if cfg.early_stop:
                rec.wait()
                if rec.reached:
                    done, stop_at, save = True, step, True
                    run.schedule.add(step)
            if bar is not None and rec.rows:
                bar.set_postfix(acc=f"{rec.rows[-1]['accuracy']:.3f}")
        if save:
            # rows after the last saved state are recomputed on resume: written only with a state
            resume = step % run.save_every == 0 or step == stop_at
            rec.save(step, tensors, meta, checkpoint=step in run.schedule, resume=resume)
    return step, done


def _step(run: _Run, cfg: TrainConfig, batch: tuple) -> torch.Tensor:
    """One optimiser step on ``batch``: forward, loss, backward, clipping, update; the loss."""
    x, y, dec, fix, f0, valid = batch
    out, _ = run.net(x)
    loss = run.obj.loss(run.obj.logits(out, f0), y, dec, fix, valid)
    run.opt.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clip:  # None or 0: no clipping
        nn.utils.clip_grad_norm_(run.net.parameters(), cfg.grad_clip)
    run.opt.step()
    return loss.detach()
