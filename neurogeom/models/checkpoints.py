"""The files of a training run: checkpoints, the resume file and the metrics table.

::

    run_dir/checkpoints/step_0000000.safetensors ...   weights + optimiser + RNG state on the schedule
    run_dir/last.safetensors                          the same, for resuming (every ``save_every``)
    run_dir/metrics.csv                               one row per held-out evaluation

Every file is replaced atomically (written under a temporary name, then renamed), and metrics rows are
appended before the state file of their step is written, so a run killed at any moment leaves a state
file and the metrics rows up to (at least) its step, and never a partial checkpoint.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from neurogeom._files import replace_atomic, to_json, write_atomic

__all__ = ["load_checkpoint", "list_checkpoints"]

LAST = "last.safetensors"

#: Columns of metrics.csv.
COLUMNS = (
    "step",
    "train_loss",
    "test_loss",
    "accuracy",
    "ideal_accuracy",
    "n_eval_trials",
    "target",
    "weight_change",
    "param_change",
    "wall_s",
    "step_s",
    "reached",
)


# ---- atomic writes --------------------------------------------------------------------------------


def link_or_copy(src: Path, dst: Path) -> None:
    """Atomically make ``dst`` a second name of the finished file ``src`` (a copy where the file
    system has no hard links)."""

    def write(tmp: Path) -> None:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)

    replace_atomic(dst, write)


# ---- training state -------------------------------------------------------------------------------


def snapshot(
    net: nn.Module, opt: torch.optim.Optimizer | None, step: int, extra: dict[str, Any]
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Copies of the weights, the optimiser state and torch's RNG state at this moment.

    Returns
    -------
    tensors : dict of str to Tensor
        ``model.<name>``, ``optim.<param id>.<name>`` and ``rng.torch``; copies, on the network's
        device (the RNG state on the CPU), unaffected by further training.
    meta : dict
        ``step``, ``extra`` and the optimiser's parameter groups and non-tensor state (JSON-able).
    """
    tensors = {f"model.{k}": v.detach().clone() for k, v in net.state_dict().items()}
    meta: dict[str, Any] = {"step": int(step), **extra}
    if opt is not None:
        sd = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, st in sd["state"].items():
            for key, val in st.items():
                if torch.is_tensor(val):
                    tensors[f"optim.{pid}.{key}"] = val.detach().clone()
                else:
                    scalars.setdefault(str(pid), {})[key] = val
        meta["optim_param_groups"] = sd["param_groups"]
        meta["optim_scalars"] = scalars
    tensors["rng.torch"] = torch.get_rng_state()
    return tensors, meta


def write_state(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a :func:`snapshot` as one safetensors file (serialised in memory, written atomically)."""
    from safetensors.torch import save

    cpu = {k: v.cpu().contiguous() for k, v in tensors.items()}
    write_atomic(path, save(cpu, metadata={"neurogeom": to_json(meta)}))


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint: (tensors by name, metadata dict with ``step`` and the rest).

    Raises ``FileNotFoundError`` when the file is missing and ``ValueError`` naming the file
    when it is truncated or damaged.

    Parameters
    ----------
    path : str or Path
        A checkpoint file (``.safetensors``).

    Returns
    -------
    (tensors, metadata) : (dict of str to torch.Tensor, dict)
        The weights by name, and the metadata (``step``...).

    See Also
    --------
    list_checkpoints : the files of a run.
    neurogeom.models.load_run_network : the network built from one.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> tensors, meta = load_checkpoint(list_checkpoints(run_dir)[0][1])
    >>> meta["step"], "model.w_rec" in tensors
    (0, True)
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    tensors = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("neurogeom", "{}"))
            for key in f.keys():
                tensors[key] = f.get_tensor(key)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise ValueError(
            f"checkpoint {path} is truncated or damaged ({str(exc).strip() or type(exc).__name__}); "
            "delete it and resume training to write it again"
        ) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("step"), int):
        raise ValueError(f"checkpoint {path} is damaged: its metadata holds no step")
    return tensors, meta


def restore(
    tensors: dict[str, torch.Tensor], meta: dict, net: nn.Module, opt: torch.optim.Optimizer | None
) -> None:
    """Load a checkpoint's weights, optimiser state and RNG state into ``net`` and ``opt``."""
    net.load_state_dict(model_state(tensors))
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


def model_state(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The network's ``state_dict`` inside a checkpoint's tensors."""
    return {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every scheduled checkpoint in a run folder, by step.

    Raises ``FileNotFoundError`` when the folder or its checkpoints are missing.

    Parameters
    ----------
    run_dir : str or Path
        A run folder.

    Returns
    -------
    list of (int, pathlib.Path)
        Step and file of each checkpoint, by step.

    See Also
    --------
    load_checkpoint : reads one.
    neurogeom.models.load_run_network : the network at a step.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> [step for step, _ in list_checkpoints(run_dir)][:3]
    [0, 1, 2]
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


def latest_state(
    run_dir: Path,
) -> tuple[Path | None, dict[str, torch.Tensor], dict[str, Any], list[str]] | None:
    """The newest intact saved state of a run folder, read, with notes on damaged files.

    Candidates are the resume file and the scheduled checkpoints. A truncated or damaged file is
    skipped, and so is every state newer than a damaged checkpoint (resuming from the state
    before it writes that checkpoint again).

    Returns
    -------
    tuple or None
        ``(path, tensors, meta, notes)``: the state file, its content, and one note per damaged
        file found (naming it and the state resumed from instead); ``path`` is None (and the
        content empty) when every state file is damaged; None when the folder holds no state.
    """
    cands: list[tuple[int, Path]] = []
    ck = run_dir / "checkpoints"
    if ck.is_dir():
        cands += [(int(p.stem.split("_")[1]), p) for p in ck.glob("step_*.safetensors")]
    damaged: list[tuple[int | None, Path, str]] = []
    last = run_dir / LAST
    loaded: dict[Path, tuple[dict, dict]] = {}
    if last.is_file():
        try:
            loaded[last] = load_checkpoint(last)
            cands.append((loaded[last][1]["step"], last))
        except ValueError as exc:
            damaged.append((None, last, str(exc)))
    for step, path in sorted(cands, key=lambda c: c[0]):
        if path not in loaded and path.parent == ck:
            try:
                loaded[path] = load_checkpoint(path)
            except ValueError as exc:
                damaged.append((step, path, str(exc)))
    bad_steps = [s for s, _, _ in damaged if s is not None]
    limit = min(bad_steps) if bad_steps else None
    good = [(s, p) for s, p in cands if p in loaded and (limit is None or s < limit)]
    best = max(good, key=lambda c: (c[0], c[1] == last)) if good else None
    start = f"step {best[0]} ({best[1].name})" if best else "the start"
    notes = [
        f"{path} is truncated or damaged; resuming from {start}, the newest intact state"
        + ("" if step is None else " before it")
        for step, path, _ in damaged
    ]
    if best is None:
        return (None, {}, {}, notes) if notes else None
    tensors, meta = loaded[best[1]]
    return best[1], tensors, meta, notes


# ---- metrics table --------------------------------------------------------------------------------


def _metrics_path(run_dir: Path) -> Path:
    return run_dir / "metrics.csv"


def _metrics_text(rows: list[dict]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if math.isnan(v) else repr(float(v))
        return "" if v is None else str(v)

    return "".join(",".join(cell(r.get(c)) for c in COLUMNS) + "\n" for r in rows)


def write_metrics(run_dir: Path, rows: list[dict]) -> None:
    """metrics.csv with a header and ``rows``, rewritten atomically."""
    write_atomic(_metrics_path(run_dir), (",".join(COLUMNS) + "\n" + _metrics_text(rows)).encode())


def append_metrics(run_dir: Path, rows: list[dict]) -> None:
    """Append ``rows`` to metrics.csv in one write, each a complete line."""
    if rows:
        with open(_metrics_path(run_dir), "a") as f:
            f.write(_metrics_text(rows))


def read_metrics(run_dir: Path, step: int) -> list[dict]:
    """The rows of metrics.csv up to ``step``.

    Rows past ``step`` (and a last line cut short by a killed run) are dropped from the file too, so
    that appends continue from ``step``; a missing file is started anew with its header.
    """
    path = _metrics_path(run_dir)
    if not path.is_file():
        write_metrics(run_dir, [])
        return []
    text = path.read_text()
    complete = text[: text.rfind("\n") + 1]
    df = pd.read_csv(io.StringIO(complete)) if complete.count("\n") > 1 else pd.DataFrame()
    rows = df[df["step"] <= step].to_dict("records") if len(df) else []
    if len(rows) != len(df) or complete != text:
        write_metrics(run_dir, rows)
    return rows
