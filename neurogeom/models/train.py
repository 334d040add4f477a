"""Training task networks with checkpoints on a log-spaced schedule, resumable to identical weights.

A run lives in one folder::

    run_dir/spec.json                     the resolved experiment spec
    run_dir/checkpoints/step_0000000.safetensors ...   weights on the schedule (0, 1, 2, 4, 5, 6, 8, ...)
    run_dir/last.safetensors              weights + optimiser + RNG state for resuming (every save_every)
    run_dir/metrics.csv                   step, loss, held-out accuracy, ||W - W0|| / ||W0||, wall time

Every checkpoint file also holds the optimiser and RNG state. The minibatch of step ``s`` is a function
of ``(seed, s)`` only, so a run killed at any point and restarted with the same spec and folder
resumes from its last saved state and ends with bit-identical weights to an uninterrupted run.

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
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from neurogeom.models.rnn import (
    CTRNN,
    GRUNet,
    NetworkConfig,
    build_network,
    pick_device,
    torch_threads,
)
from neurogeom.tasks import TrialBank, build_trial_bank, ideal_observer, validate_spec

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "log_schedule",
    "predict_choices",
    "load_checkpoint",
    "list_checkpoints",
    "load_run_network",
    "run_spec",
]

_LAST = "last.safetensors"


@dataclass
class TrainConfig:
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
        Maximum global gradient norm.
    loss : {"decision", "all"}, default="decision"
    fixation_weight : float, default=0.1
    n_train_trials, n_test_trials : int, default=8192, 2000
        Sizes of the training bank (seed ``seed``) and the held-out bank (seed ``seed + 1_000_003``).
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
    eval_every: int = 25
    seed: int = 0
    device: str = "auto"
    threads: int | None = 1
    target_accuracy: float | str | None = None
    patience: int = 3
    early_stop: bool = False

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(
                f"unknown training key(s) {unknown}; allowed: {', '.join(sorted(names))}"
            )
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        for name in ("n_steps", "batch_size", "n_train_trials", "n_test_trials", "eval_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"training.{name} must be a positive integer; got {v!r}")
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
        if self.grad_clip is not None and not self.grad_clip > 0:
            raise ValueError(f"training.grad_clip must be > 0 or omitted; got {self.grad_clip}")
        if self.patience < 1:
            raise ValueError(f"training.patience must be >= 1; got {self.patience}")
        _parse_target(self.target_accuracy, 0.9)


def _parse_target(target: float | str | None, ideal: float | None) -> float | None:
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


def _cosine_lr(lr: float, step: int, n_steps: int) -> float:
    return lr * (0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * min(step, n_steps) / n_steps)))


def log_schedule(n_steps: int) -> list[int]:
    """Checkpoint steps 0, 1, 2, 4, then 2^k, floor(4/3 2^k), floor(5/3 2^k) for k >= 2, and n_steps.

    This is the seed paper's ``get_steps`` schedule: dense early, where learning stages happen.
    """
    steps = {0, 1, 2, 4}
    k = 2
    while 2**k <= n_steps:
        for f in (1.0, 4.0 / 3.0, 5.0 / 3.0):
            steps.add(int(math.floor(f * 2**k)))
        k += 1
    return sorted(s for s in steps | {n_steps} if s <= n_steps)


# ---- checkpoint files ---------------------------------------------------------------------------


def _atomic(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _save_state(
    path: Path, net: nn.Module, opt: torch.optim.Optimizer | None, step: int, extra: dict
) -> None:
    from safetensors.torch import save_file

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    meta: dict[str, Any] = {"step": step, **extra}
    if opt is not None:
        sd = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, st in sd["state"].items():
            for key, val in st.items():
                if torch.is_tensor(val):
                    tensors[f"optim.{pid}.{key}"] = val.detach().cpu().contiguous()
                else:
                    scalars.setdefault(str(pid), {})[key] = val
        meta["optim_param_groups"] = sd["param_groups"]
        meta["optim_scalars"] = scalars
    tensors["rng.torch"] = torch.get_rng_state()
    _atomic(path, lambda tmp: save_file(tensors, tmp, metadata={"neurogeom": json.dumps(meta)}))


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: (tensors by name, metadata dict with ``step`` and the rest)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    tensors = {}
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads((f.metadata() or {}).get("neurogeom", "{}"))
        for key in f.keys():
            tensors[key] = f.get_tensor(key)
    return tensors, meta


def _restore(
    tensors: dict[str, torch.Tensor], meta: dict, net: nn.Module, opt: torch.optim.Optimizer | None
) -> None:
    net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    if opt is not None and "optim_param_groups" in meta:
        state: dict[int, dict[str, Any]] = {}
        for key, val in tensors.items():
            if key.startswith("optim."):
                _, pid, name = key.split(".", 2)
                state.setdefault(int(pid), {})[name] = val
        for pid, sc in meta.get("optim_scalars", {}).items():
            state.setdefault(int(pid), {}).update(sc)
        opt.load_state_dict({"state": state, "param_groups": meta["optim_param_groups"]})
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every scheduled checkpoint in a run folder, by step.

    Raises ``FileNotFoundError`` when the folder or its checkpoints are missing.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run folder at {run_dir}; train one with `neurogeom train`")
    found = sorted(
        (int(p.stem.split("_")[1]), p) for p in (run_dir / "checkpoints").glob("step_*.safetensors")
    )
    if not found:
        raise FileNotFoundError(
            f"no checkpoints in {run_dir / 'checkpoints'}; train with `neurogeom train SPEC -o {run_dir}`"
        )
    return found


# ---- spec and network -----------------------------------------------------------------------------


def run_spec(run_dir: str | Path) -> dict[str, Any]:
    """The resolved spec stored in a run folder (``spec.json``)."""
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"no run folder at {run_dir}; train one with `neurogeom train`")
    path = Path(run_dir) / "spec.json"
    if not path.is_file():
        raise FileNotFoundError(f"no spec.json in {run_dir}; is it a folder written by train()?")
    return json.loads(path.read_text())


def _resolve(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a spec and fill the defaults of every section (JSON-able)."""
    spec = validate_spec({k: v for k, v in spec.items() if k != "source"})
    if spec["sweep"]:
        raise ValueError(
            "a spec with a [sweep] section describes many runs; expand it with expand_sweep"
        )
    net = NetworkConfig.from_dict(spec["network"])
    tr = TrainConfig.from_dict(spec["training"])
    ck = {"schedule": "log", "steps": None, "save_every": 50, **spec["checkpoints"]}
    if ck["schedule"] not in ("log", "list"):
        raise ValueError(f"checkpoints.schedule must be 'log' or 'list'; got {ck['schedule']!r}")
    if ck["schedule"] == "list" and not ck["steps"]:
        raise ValueError("checkpoints.schedule = 'list' needs checkpoints.steps = [...]")
    return {
        "task": {"kwargs": {}, "conditions": {}, **spec["task"]},
        "network": net.to_dict(),
        "training": asdict(tr),
        "checkpoints": ck,
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
    """The network of a run at a checkpointed step (default: the last one), on the CPU, in eval mode."""
    spec = run_spec(run_dir)
    ckpts = dict(list_checkpoints(run_dir))
    if step is None:
        step = max(ckpts)
    if step not in ckpts:
        raise ValueError(f"no checkpoint at step {step} in {run_dir}; steps: {sorted(ckpts)}")
    tensors, meta = load_checkpoint(ckpts[step])
    n_in, n_out = meta["n_input"], meta["n_output"]
    net = build_network(NetworkConfig(**spec["network"]), n_in, n_out, dt_ms=meta["dt_ms"])
    net.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
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


class _Objective:
    """Computes the loss and the choices on (slices of) a bank."""

    def __init__(self, cfg: TrainConfig, alpha: float | None, choice_only: bool) -> None:
        self.cfg, self.alpha, self.choice_only = cfg, alpha, choice_only

    def logits(self, out: torch.Tensor, f0: torch.Tensor | None) -> torch.Tensor:
        if self.alpha is None:
            return out
        return self.alpha * (out - f0)

    def loss(self, logits: torch.Tensor, y: torch.Tensor, dec, fix, valid) -> torch.Tensor:
        ce = nn.functional.cross_entropy
        if self.cfg.loss == "all":
            loss = ce(logits[valid], y[valid])
        else:
            z, t = logits[dec], y[dec]
            loss = ce(z[:, 1:], t - 1) if self.choice_only else ce(z, t)
            if self.cfg.fixation_weight > 0 and bool(fix.any()):
                loss = loss + self.cfg.fixation_weight * ce(logits[fix], y[fix])
        return loss / self.alpha**2 if self.alpha is not None else loss

    def choice(self, logits: torch.Tensor, last_dec: torch.Tensor) -> torch.Tensor:
        z = logits[torch.arange(logits.shape[0], device=logits.device), last_dec]
        return z[:, 1:].argmax(-1) + 1 if self.choice_only else z.argmax(-1)


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
    """
    device = next(net.parameters()).device
    bt = _bank_tensors(bank, device)
    choice_only = bool((bank.targets[bank.period_mask(bank.decision_period)] > 0).all())
    obj = _Objective(TrainConfig(), None, choice_only)
    was = net.training
    net.eval()
    with torch_threads(1 if device.type == "cpu" else None):
        out = _forward_bank(net, bt)
    net.train(was)
    return obj.choice(out, bt.last_dec).cpu().numpy()


# ---- training loop ---------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Attributes
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


def _metrics_path(run_dir: Path) -> Path:
    return run_dir / "metrics.csv"


def _write_metrics(run_dir: Path, rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    _atomic(_metrics_path(run_dir), lambda tmp: df.to_csv(tmp, index=False))
    return df


def _latest_state(run_dir: Path) -> Path | None:
    cands = []
    if (run_dir / _LAST).is_file():
        cands.append((load_checkpoint(run_dir / _LAST)[1]["step"], run_dir / _LAST))
    ck = run_dir / "checkpoints"
    if ck.is_dir():
        cands += [(int(p.stem.split("_")[1]), p) for p in ck.glob("step_*.safetensors")]
    return max(cands)[1] if cands else None


def train(
    spec: Mapping[str, Any],
    run_dir: str | Path,
    *,
    max_steps: int | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train the network a spec describes, checkpointing into ``run_dir``; resume if it has a run.

    Parameters
    ----------
    spec : mapping
        An experiment spec (:func:`neurogeom.tasks.load_spec`); sections task, network, training,
        checkpoints (analysis is stored, not used).
    run_dir : path
        Output folder. If it already holds a run of the same spec, training resumes from its last
        saved state; a run of a different spec raises ``ValueError``.
    max_steps : int, optional
        Stop after this step even if ``n_steps`` is larger (the run can be resumed later).
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    TrainResult
    """
    t_start = time.perf_counter()
    spec = _resolve(spec)
    run_dir = Path(run_dir)
    stored = run_dir / "spec.json"
    if stored.is_file():
        old = json.loads(stored.read_text())
        if old != json.loads(json.dumps(spec)):
            raise ValueError(
                f"{run_dir} holds a run of a different spec; choose another output folder "
                "or delete it to start over"
            )
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        _atomic(stored, lambda tmp: Path(tmp).write_text(json.dumps(spec, indent=2)))

    cfg = TrainConfig(**spec["training"])
    device = pick_device(cfg.device)
    with torch_threads(cfg.threads if device.type == "cpu" else None):
        return _train(spec, cfg, run_dir, device, max_steps, progress, t_start)


def _train(spec, cfg, run_dir, device, max_steps, progress, t_start) -> TrainResult:
    train_bank, test_bank = _banks(spec)
    net = _make_net(spec, train_bank).to(device)
    net0 = copy.deepcopy(net).eval()
    w0 = net0.recurrent_weight().detach()
    p0 = torch.cat([p.detach().flatten() for p in net0.parameters()])
    alpha = spec["network"]["alpha"]
    wd = cfg.weight_decay / alpha**2 if alpha else cfg.weight_decay
    if cfg.optimizer == "adam":
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=wd)
    else:
        opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=wd)

    tb, eb = _bank_tensors(train_bank, device), _bank_tensors(test_bank, device)
    if alpha is not None:
        tb.f0, eb.f0 = _forward_bank(net0, tb), _forward_bank(net0, eb)
    dec_targets = train_bank.targets[train_bank.period_mask(train_bank.decision_period)]
    obj = _Objective(cfg, alpha, choice_only=bool((dec_targets > 0).all()))
    gt_test = eb.y[torch.arange(eb.y.shape[0], device=device), eb.last_dec]
    try:
        ideal = float((ideal_observer(test_bank) == gt_test.cpu().numpy()).mean())
    except ValueError:
        ideal = None
    target = _parse_target(cfg.target_accuracy, ideal)

    ck = spec["checkpoints"]
    schedule = log_schedule(cfg.n_steps) if ck["schedule"] == "log" else sorted(ck["steps"])
    schedule_set = set(schedule)
    meta_extra = {
        "n_input": train_bank.n_input,
        "n_output": train_bank.n_output,
        "dt_ms": train_bank.dt_ms,
    }

    step, rows = 0, []
    latest = _latest_state(run_dir)
    if latest is not None:
        tensors, meta = load_checkpoint(latest)
        _restore(tensors, meta, net, opt)
        step = int(meta["step"])
        if _metrics_path(run_dir).is_file():
            df = pd.read_csv(_metrics_path(run_dir))
            rows = df[df["step"] <= step].to_dict("records")
    streak = 0
    for r in rows:
        streak = streak + 1 if target is not None and r["accuracy"] >= target else 0
    done = step >= cfg.n_steps or (cfg.early_stop and target is not None and streak >= cfg.patience)

    def evaluate(s: int, train_loss: float) -> dict:
        net.eval()
        with torch.no_grad():
            out = _forward_bank(net, eb)
            logits = obj.logits(out, eb.f0)
            test_loss = float(obj.loss(logits, eb.y, eb.dec, eb.fix, eb.valid))
            acc = float((obj.choice(logits, eb.last_dec) == gt_test).float().mean())
            w = net.recurrent_weight().detach()
            p = torch.cat([q.detach().flatten() for q in net.parameters()])
        net.train()
        return {
            "step": s,
            "train_loss": train_loss,
            "test_loss": test_loss,
            "accuracy": acc,
            "ideal_accuracy": ideal,
            "weight_change": float(torch.linalg.norm(w - w0) / torch.linalg.norm(w0)),
            "param_change": float(torch.linalg.norm(p - p0) / torch.linalg.norm(p0)),
            "wall_s": time.perf_counter() - t_start,
        }

    def save(s: int) -> None:
        if s in schedule_set:
            path = run_dir / "checkpoints" / f"step_{s:07d}.safetensors"
            _save_state(path, net, opt, s, meta_extra)
        if s % int(ck["save_every"]) == 0 or s == stop_at:
            _save_state(run_dir / _LAST, net, opt, s, meta_extra)

    stop_at = cfg.n_steps if max_steps is None else min(cfg.n_steps, int(max_steps))
    if step == 0 and not rows:
        rows.append(evaluate(0, float("nan")))
        save(0)
        _write_metrics(run_dir, rows)
    n_batches = math.ceil(train_bank.n_trial / cfg.batch_size)
    plan_epoch, plan = -1, []
    bar = None
    if progress and not done and step < stop_at:
        from tqdm.auto import tqdm

        bar = tqdm(total=stop_at, initial=step, desc="train", unit="step")
    net.train()
    losses: list[float] = []
    while not done and step < stop_at:
        epoch, b = divmod(step, n_batches)
        if epoch != plan_epoch:
            plan, plan_epoch = (
                _batch_plan(train_bank.lengths, cfg.batch_size, cfg.seed, epoch),
                epoch,
            )
        idx_np = plan[b]
        t_max = int(train_bank.lengths[idx_np].max())
        idx = torch.from_numpy(idx_np).to(device)
        if cfg.lr_schedule == "cosine":
            for group in opt.param_groups:
                group["lr"] = _cosine_lr(cfg.lr, step, cfg.n_steps)
        x = tb.x[idx, :t_max]
        out, _ = net(x)
        logits = obj.logits(out, None if tb.f0 is None else tb.f0[idx, :t_max])
        loss = obj.loss(logits, tb.y[idx, :t_max], tb.dec[idx, :t_max], tb.fix[idx, :t_max], None)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip is not None:
            nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        losses.append(float(loss.detach()))
        if bar is not None:
            bar.update(1)
        if step % cfg.eval_every == 0 or step in schedule_set or step == stop_at:
            row = evaluate(step, float(np.mean(losses)) if losses else float("nan"))
            losses = []
            streak = streak + 1 if target is not None and row["accuracy"] >= target else 0
            row["reached"] = bool(target is not None and streak >= cfg.patience)
            rows.append(row)
            if cfg.early_stop and row["reached"]:
                done = True
                stop_at = step
                schedule_set.add(step)
            save(step)
            _write_metrics(run_dir, rows)
            if bar is not None:
                bar.set_postfix(acc=f"{row['accuracy']:.3f}")
        else:
            save(step)
    if bar is not None:
        bar.close()
    done = done or step >= cfg.n_steps
    metrics = pd.DataFrame(rows)
    return TrainResult(
        run_dir=run_dir,
        network=net.eval(),
        step=step,
        metrics=metrics,
        ideal_accuracy=ideal,
        done=done,
        checkpoints=[s for s, _ in list_checkpoints(run_dir)],
    )
