"""Run every checkpoint of a training run on one fixed trial bank: a population tensor across learning.

The result follows the population contract (:mod:`neurogeom.population`), like a recording: dims
``(stage, trial, time, unit)``, stage indexed by training step (coords ``step`` and ``label``), the
trial bank's condition labels as ``trial`` coords, time in seconds relative to the start of the
alignment period (NaN where a trial has no step), ``quantity="rnn_state"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from neurogeom.models.rnn import torch_threads
from neurogeom.models.train import list_checkpoints, load_run_network, predict_choices, run_spec
from neurogeom.population import make_population
from neurogeom.tasks import TrialBank, build_trial_bank

__all__ = ["simulate", "analysis_bank", "bank_choices"]


def analysis_bank(
    spec: dict[str, Any], n_trials: int | None = None, seed: int | None = None
) -> TrialBank:
    """The fixed trial bank a spec's ``[analysis]`` section describes (default 256 trials, seed 12345),
    with its balanced condition grid when one is given.

    Parameters
    ----------
    spec : dict
        A run's spec (:func:`neurogeom.models.run_spec`).
    n_trials : int, optional
        Trials (default: the spec's ``[analysis] n_trials``).
    seed : int, optional
        Seed (default: the spec's ``[analysis] seed``).

    Returns
    -------
    TrialBank
        The labelled trials.

    See Also
    --------
    neurogeom.tasks.build_trial_bank : a bank of any task.
    simulate : the hidden states on it.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> from neurogeom.models import run_spec
    >>> bank = analysis_bank(run_spec(run_dir), n_trials=8)
    >>> bank.task, bank.inputs.shape[0]
    ('ContextDecisionMaking-v0', 8)
    """
    an = spec.get("analysis", {})
    task = spec["task"]
    return build_trial_bank(
        task["name"],
        int(n_trials if n_trials is not None else an.get("n_trials", 256)),
        seed=int(seed if seed is not None else an.get("seed", 12345)),
        env_kwargs=task.get("kwargs", {}),
        conditions=an.get("conditions") or None,
    )


def _stage_label(step: int, first: int, last: int) -> str:
    """``"init"`` for the first checkpoint, ``"final"`` for the last, ``"step_<n>"`` otherwise."""
    if step == first:
        return "init"
    if step == last:
        return "final"
    return f"step_{step}"


def simulate(
    run_dir: str | Path,
    *,
    bank: TrialBank | None = None,
    steps: Sequence[int] | None = None,
    align: str | None = None,
    labels: Sequence[str] | None = None,
    period: str | None = None,
) -> xr.DataArray:
    """Hidden states of every checkpoint of a run on one trial bank.

    Parameters
    ----------
    run_dir : path
        A folder written by :func:`neurogeom.models.train.train`.
    bank : TrialBank, optional
        Trials to run; default the spec's analysis bank (:func:`analysis_bank`).
    steps : sequence of int, optional
        Checkpointed steps to run (default all).
    align : str, optional
        Period whose start is time 0 (default the spec's ``analysis.align``, else the first period
        after fixation).
    labels : sequence of str, optional
        Condition columns kept as trial coords (default ``analysis.labels``, else all).
    period : str, optional
        A task period (e.g. ``"decision"``): each trial's states averaged over its steps in that
        period, with no time dim (``align`` is then unused).

    Returns
    -------
    xarray.DataArray
        dims ``(stage, trial, time, unit)`` (``(stage, trial, unit)`` with ``period``), float32,
        ``quantity="rnn_state"``; attrs name the task, the run and the analysis period.

    See Also
    --------
    analysis_bank : the default trials.
    neurogeom.learning.trajectory : the geometry along the checkpoints.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> from neurogeom.models import run_spec
    >>> bank = analysis_bank(run_spec(run_dir), n_trials=8)
    >>> pop = simulate(run_dir, bank=bank, steps=[0, 1])
    >>> pop.sizes["stage"], pop.sizes["trial"]
    (2, 8)
    """

    run_dir = Path(run_dir)
    spec = run_spec(run_dir)
    ckpts = list_checkpoints(run_dir)
    if steps is not None:
        have = dict(ckpts)
        missing = sorted(set(steps) - set(have))
        if missing:
            raise ValueError(
                f"no checkpoints at steps {missing} in {run_dir}; steps: {sorted(have)}"
            )
        ckpts = [(s, have[s]) for s in sorted(set(steps))]
    if bank is None:
        bank = analysis_bank(spec)
    an = spec.get("analysis", {})
    periods = [c[: -len("_start")] for c in bank.periods.columns if c.endswith("_start")]
    align = align or an.get("align") or (periods[1] if len(periods) > 1 else periods[0])
    labels = list(labels if labels is not None else an.get("labels") or bank.conditions.columns)
    unknown = sorted(set(labels) - set(bank.conditions.columns))
    if unknown:
        raise ValueError(
            f"unknown label(s) {unknown} for task {bank.task!r}; labels: {list(bank.conditions.columns)}"
        )

    in_period = None if period is None else bank.period_mask(period)
    if in_period is not None and not in_period.any(axis=1).all():
        raise ValueError(f"some trials have no step in period {period!r}; choose another period")
    x = torch.from_numpy(bank.inputs)
    states = []
    for step, path in ckpts:
        net, _ = load_run_network(run_dir, step)
        if (net.n_input, net.n_output) != (bank.n_input, bank.n_output):
            raise ValueError(
                f"checkpoint {path.name} expects {net.n_input} inputs / {net.n_output} outputs; "
                f"the bank has {bank.n_input} / {bank.n_output}"
            )
        with torch.no_grad(), torch_threads(1):
            _, h = net(x)
        if in_period is None:
            aligned, time_s = bank.aligned(h.numpy(), align)
        else:
            w = in_period / in_period.sum(axis=1, keepdims=True)
            aligned = np.einsum("nt,ntu->nu", w, h.numpy().astype(np.float64))
        states.append(aligned.astype(np.float32))
    data = np.stack(states)
    step_values = np.array([s for s, _ in ckpts], dtype=np.int64)
    first, last = int(step_values[0]), int(step_values[-1])
    unit_coords = {}
    sign = getattr(net, "sign", None)
    if sign is not None:
        unit_coords["cell_type"] = np.where(sign.numpy() > 0, "excitatory", "inhibitory")
    trial_coords = {}
    for name in labels:
        col = bank.conditions[name]
        trial_coords[name] = col.to_numpy()
    timed = {"time": time_s} if in_period is None else {}
    dims = ("stage", "trial", "time", "unit") if in_period is None else ("stage", "trial", "unit")
    return make_population(
        data,
        dims=dims,
        quantity="rnn_state",
        trial_coords=trial_coords,
        **timed,
        unit=np.arange(data.shape[-1]),
        unit_coords=unit_coords or None,
        stage=step_values,
        stage_coords={
            "step": step_values,
            "label": np.array([_stage_label(int(s), first, last) for s in step_values]),
        },
        align=f"{align}_start" if in_period is None else f"mean over {period}",
        bin_size_s=bank.dt_ms / 1000.0,
        source=str(run_dir),
        attrs={
            "task": bank.task,
            "network": spec["network"]["type"],
            "analysis_period": period or an.get("period") or bank.decision_period,
            "bank_seed": bank.seed,
        },
    )


def bank_choices(
    run_dir: str | Path, step: int | None = None, bank: TrialBank | None = None
) -> pd.DataFrame:
    """A checkpoint's response on every trial of a bank, beside the trials' condition labels.

    Parameters
    ----------
    run_dir : path
    step : int, optional
        Checkpointed step (default the last).
    bank : TrialBank, optional
        Default the spec's analysis bank (:func:`analysis_bank`).

    Returns
    -------
    pandas.DataFrame
        One row per trial: the bank's condition columns, ``choice`` (the action at the last
        decision step, :func:`neurogeom.models.train.predict_choices`), ``correct`` (choice equals
        the target there) and ``step``.

    See Also
    --------
    neurogeom.models.predict_choices : the choices alone.
    neurogeom.workflows.psychometric : choices against evidence.

    Examples
    --------
    >>> import neurogeom
    >>> run_dir = neurogeom.data.bundled_run()
    >>> from neurogeom.models import run_spec
    >>> bank = analysis_bank(run_spec(run_dir), n_trials=8)
    >>> df = bank_choices(run_dir, bank=bank)
    >>> len(df), "choice" in df.columns
    (8, True)
    """
    net, step = load_run_network(run_dir, step)
    if bank is None:
        bank = analysis_bank(run_spec(run_dir))
    choice = predict_choices(net, bank)
    _, end = bank._bounds(bank.decision_period)
    target = bank.targets[np.arange(bank.n_trial), end - 1]
    return bank.conditions.assign(choice=choice, correct=choice == target, step=int(step))
