"""Held-out evaluation during training, and the recorder that runs it with the checkpoint writes.

:class:`EvalBank` lays the held-out trials out once for the many evaluations of a run;
:class:`Recorder` runs the evaluations, the metrics rows and the checkpoint files of a run in the
order the training loop asks for them, from snapshots of the training state, optionally on a worker
thread so that the loop does not wait for them.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neurogeom.models.checkpoints import (
    LAST,
    append_metrics,
    link_or_copy,
    model_state,
    write_state,
)
from neurogeom.tasks import TrialBank

__all__ = ["EvalBank", "Recorder"]

#: Jobs queued for the worker thread at most; the training loop waits when there are more.
_MAX_PENDING = 8


class EvalBank:
    """Held-out trials laid out once for repeated evaluation.

    Trials are sorted longest first and stored time-major, so one pass of
    ``net.outputs_by_length`` runs them all with no padding work; the outputs land in a
    preallocated (n_time, n, n_out) buffer and are read at the decision, fixation, valid and last
    decision steps through precomputed flat indices.
    """

    def __init__(
        self,
        bank: TrialBank,
        trials: np.ndarray,
        device: torch.device,
        n_units: int,
        ideal_choice: np.ndarray | None,
        need_valid: bool,
    ) -> None:
        lengths = bank.lengths[trials]
        order = trials[np.argsort(-lengths, kind="stable")]
        lens = bank.lengths[order]
        n, t_max = len(order), int(lens[0])
        self.n = n
        self.order = order
        self.n_active = [int(k) for k in (lens[None, :] > np.arange(t_max)[:, None]).sum(1)]
        x = np.ascontiguousarray(bank.inputs[order, :t_max].transpose(1, 0, 2))
        self.x = torch.from_numpy(x).to(device)
        self.out = torch.zeros(t_max, n, bank.n_output, device=device)
        self.work = torch.empty(2, n, n_units, device=device)

        dec = bank.period_mask(bank.decision_period)[order, :t_max]
        names = list(bank.input_names)
        y = bank.targets[order, :t_max]
        if "fixation" in names:
            fix_in = bank.inputs[order, :t_max, names.index("fixation")] > 0.5
            fix = fix_in & (y == 0) & ~dec
        else:
            fix = np.zeros_like(dec)
        valid = bank.mask[order, :t_max]
        _, end = bank._bounds(bank.decision_period)
        last = end[order] - 1

        def flat(mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            t, j = np.nonzero(mask.T)  # time-major flat positions
            return (
                torch.from_numpy(t * n + j).to(device),
                torch.from_numpy(y[j, t].astype(np.int64)).to(device),
            )

        self.dec_pos, self.dec_y = flat(dec)
        self.fix_pos, self.fix_y = flat(fix)
        self.valid_pos, self.valid_y = flat(valid) if need_valid else (None, None)
        self.last_pos = torch.from_numpy(last * n + np.arange(n)).to(device)
        self.gt = torch.from_numpy(y[np.arange(n), last].astype(np.int64)).to(device)
        self.ideal = (
            None
            if ideal_choice is None
            else float((ideal_choice[order] == self.gt.cpu().numpy()).mean())
        )
        self.f0: torch.Tensor | None = None  # (n_time * n, n_out) initial network's outputs (alpha)

    def outputs(self, net: nn.Module) -> torch.Tensor:
        """The network's outputs, flattened to (n_time * n, n_out), time-major."""
        net.outputs_by_length(self.x, self.n_active, self.out, self.work)
        return self.out.view(-1, self.out.shape[-1])

    def set_baseline(self, net0: nn.Module) -> None:
        self.f0 = self.outputs(net0).clone()

    def evaluate(self, net: nn.Module, obj: Any) -> tuple[float, float]:
        """(loss, accuracy) of ``net`` on these trials (no gradients)."""
        with torch.no_grad():
            out = self.outputs(net)

            def z(pos: torch.Tensor | None) -> torch.Tensor | None:
                if pos is None:
                    return None
                return obj.logits(out[pos], None if self.f0 is None else self.f0[pos])

            loss = obj.loss_at(
                z(self.dec_pos),
                self.dec_y,
                z(self.fix_pos),
                self.fix_y,
                z(self.valid_pos),
                self.valid_y,
            )
            acc = (obj.choice_of(z(self.last_pos)) == self.gt).float().mean()
        return float(loss), float(acc)


class Recorder:
    """Held-out evaluations, metrics rows and checkpoint files of a run, in the order the training
    loop asks for them, from snapshots of the training state.

    With ``background=True`` the jobs run on one worker thread, so the loop does not wait for the
    evaluations or the file writes (the worker uses the training thread's torch thread count, taken
    when the recorder is made, so its numbers are those of the loop's thread): torch releases the GIL inside its kernels, so where a second core
    is free the two run side by side. The jobs run one at a time in submission order, each from
    copies of the state taken at its step, so the rows, the target streak and the files are exactly
    those of running the jobs in the loop itself (``background=False``).

    At most ``_MAX_PENDING`` jobs wait for the worker (each holds a copy of the state): when the
    evaluations are slower than the training steps between them, the loop waits for the worker.

    After a job fails no later job runs (a state file is never written without the metrics rows
    before it); the error is raised in the training loop at the next submission, :meth:`wait` or
    :meth:`close`.

    Parameters
    ----------
    net : nn.Module
        The network being trained; the recorder evaluates a copy of it.
    w0, p0 : Tensor
        Initial recurrent matrix (N, N) and all initial parameters, flattened, for the change metrics.
    obj : object
        The training objective (logits, loss and choices).
    full_bank, monitor_bank : EvalBank
        The whole held-out bank and the monitored subset (may be the same object).
    target_full, target_monitor : float or None
        Accuracy targets on each.
    patience : int
        Regular evaluations in a row at the target that count as reaching it.
    run_dir : Path
    rows : list of dict
        Rows already recorded (a resumed run), all of them in metrics.csv; appended to.
    streak : int
        Current streak of regular evaluations at the target.
    t_start : float
        ``time.perf_counter()`` at the start of training; ``wall_s`` is measured from it.
    background : bool
    """

    def __init__(
        self,
        *,
        net: nn.Module,
        w0: torch.Tensor,
        p0: torch.Tensor,
        obj: Any,
        full_bank: EvalBank,
        monitor_bank: EvalBank,
        target_full: float | None,
        target_monitor: float | None,
        patience: int,
        run_dir: Path,
        rows: list[dict],
        streak: int,
        t_start: float,
        background: bool,
        observers: Sequence[Callable[[int, Path], None]] = (),
    ) -> None:
        self.net = copy.deepcopy(net).eval()  # the evaluation copy, loaded from each snapshot
        self.w0, self.p0, self.obj = w0, p0, obj
        self.full_bank, self.monitor_bank = full_bank, monitor_bank
        self.target_full, self.target_monitor = target_full, target_monitor
        self.patience, self.run_dir, self.t_start = patience, run_dir, t_start
        self.rows, self.streak, self.n_written = rows, streak, len(rows)
        self.observers = tuple(observers)
        # torch's CPU thread settings are per thread (OpenMP's thread count, and MKL's, which
        # torch.set_num_threads sets with mkl_set_num_threads_local): a new thread starts with the
        # process defaults. The worker takes the training thread's count before its first job, so
        # that its matrix products run the same kernels, in the same order, as the loop's would.
        self.threads = torch.get_num_threads()
        self._pool = (
            ThreadPoolExecutor(
                1,
                thread_name_prefix="neurogeom-train",
                initializer=torch.set_num_threads,
                initargs=(self.threads,),
            )
            if background
            else None
        )
        self._pending: list[Future] = []
        self._error: BaseException | None = None

    # -- called by the training loop --

    def evaluate(
        self,
        s: int,
        tensors: dict[str, torch.Tensor],
        train_loss: float,
        step_s: float,
        *,
        last: bool,
        counts: bool,
    ) -> None:
        """Evaluate the snapshot of step ``s`` (``counts``: the evaluation is on the regular grid
        that the target streak counts)."""
        self._submit(self._evaluate, s, tensors, train_loss, step_s, last, counts)

    def save(
        self,
        s: int,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        *,
        checkpoint: bool,
        resume: bool,
    ) -> None:
        """Write the rows not yet in metrics.csv, then the checkpoint and/or resume file of step
        ``s`` (in this order: a state file never lacks its metrics rows)."""
        self._submit(self._save, s, tensors, meta, checkpoint, resume)

    def observe(self, s: int, path: Path) -> None:
        """Call the observers on a checkpoint already in the folder (a resumed run's)."""
        if self.observers:
            self._submit(self._observe, s, path)

    @property
    def reached(self) -> bool:
        return bool(self.rows and self.rows[-1].get("reached") is True)

    def wait(self) -> None:
        """Return once every submitted job has run; raise the error of a failed one."""
        pending, self._pending = self._pending, []
        for f in pending:
            f.result()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """:meth:`wait`, then stop the worker thread."""
        try:
            self.wait()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)

    def _submit(self, fn: Any, *args: Any) -> None:
        if self._error is not None:
            raise self._error
        if self._pool is None:
            self._run(fn, *args)
            return
        while self._pending and self._pending[0].done():
            self._pending.pop(0).result()
        if len(self._pending) >= _MAX_PENDING:  # the worker is behind: wait for it rather than
            self._pending.pop(0).result()  # hold ever more snapshots of the state
        self._pending.append(self._pool.submit(self._run, fn, *args))

    def _run(self, fn: Any, *args: Any) -> None:
        if self._error is not None:
            return  # a job before this one failed: write nothing more
        try:
            fn(*args)
        except BaseException as exc:
            self._error = exc
            raise

    # -- the jobs --

    def _row(self, s: int, train_loss: float, step_s: float, full: bool) -> dict:
        bank = self.full_bank if full else self.monitor_bank
        test_loss, acc = bank.evaluate(self.net, self.obj)
        with torch.no_grad():
            w = self.net.recurrent_weight()
            p = torch.cat([q.detach().flatten() for q in self.net.parameters()])
            w_change = float(torch.linalg.norm(w - self.w0) / torch.linalg.norm(self.w0))
            p_change = float(torch.linalg.norm(p - self.p0) / torch.linalg.norm(self.p0))
        return {
            "step": s,
            "train_loss": train_loss,
            "test_loss": test_loss,
            "accuracy": acc,
            "ideal_accuracy": bank.ideal,
            "n_eval_trials": bank.n,
            "target": self.target_full if full else self.target_monitor,
            "weight_change": w_change,
            "param_change": p_change,
            "wall_s": time.perf_counter() - self.t_start,
            "step_s": step_s,
        }

    def _evaluate(
        self,
        s: int,
        tensors: dict[str, torch.Tensor],
        train_loss: float,
        step_s: float,
        last: bool,
        counts: bool,
    ) -> None:
        self.net.load_state_dict(model_state(tensors))
        row = self._row(s, train_loss, step_s, full=last)
        if counts:
            hit = row["target"] is not None and row["accuracy"] >= row["target"]
            if (
                hit
                and self.streak + 1 == self.patience
                and not last
                and self.monitor_bank is not self.full_bank
            ):
                # a streak is declared on the whole held-out bank only
                row = self._row(s, train_loss, step_s, full=True)
                hit = row["accuracy"] >= row["target"]
            self.streak = self.streak + 1 if hit else 0
        if s > 0:
            row["reached"] = bool(self.target_full is not None and self.streak >= self.patience)
        self.rows.append(row)

    def _save(
        self,
        s: int,
        tensors: dict[str, torch.Tensor],
        meta: dict[str, Any],
        checkpoint: bool,
        resume: bool,
    ) -> None:
        append_metrics(self.run_dir, self.rows[self.n_written :])
        self.n_written = len(self.rows)
        path = None
        if checkpoint:
            path = self.run_dir / "checkpoints" / f"step_{s:07d}.safetensors"
            write_state(path, tensors, meta)
        if resume:
            if path is not None:
                link_or_copy(path, self.run_dir / LAST)
            else:
                write_state(self.run_dir / LAST, tensors, meta)
        if path is not None:
            self._observe(s, path)

    def _observe(self, s: int, path: Path) -> None:
        for observer in self.observers:
            observer(s, path)
