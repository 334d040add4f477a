"""Pullback geometry along training: ``neurogeom run tasks/pullback_sine.toml``.

The reference setting of Zavatone-Veth et al. (2023, "Neural networks learn to magnify areas near
decision boundaries"): ``n_points`` inputs uniform on ``[-1, 1]^2`` labelled
``y > amplitude sin(frequency x - phase)``, one hidden layer of ``width`` units, cross-entropy,
SGD with momentum. Per network seed and checkpoint, :func:`pullback_sweep` measures the pullback
metric of the hidden layer (:func:`neurogeom.geometry.riemann.metric_on_grid`) on the scanned
square and the boundary magnification index
(:func:`neurogeom.geometry.riemann.boundary_magnification`) on a grid over the data square.

Spec (TOML), section ``[pullback]`` (defaults in ``DEFAULTS``): ``seeds`` (network seeds),
``data_seed``, ``n_points``, ``amplitude``, ``frequency``, ``phase``, ``width``, ``activation``,
``init`` (``"uniform"``: PyTorch's default, see :class:`neurogeom.models.feedforward.MLP`),
``lr``, ``momentum``, ``n_steps``, ``batch_size`` (0: full batch), ``checkpoint_steps``,
``n_grid`` (points per side of the scanned square ``[-scan, scan]^2``), ``scan``, ``n_index``
(points per side of the index grid over ``[-1, 1]^2``), ``quantile``. ``[run] title``.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._deprecation import phase_progress
from neurogeom.parallel import parallel_map
from neurogeom.specs.pullback import load_pullback_spec

__all__ = ["pullback_sweep", "sine_task"]


def sine_task(cfg: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The inputs ``(n_points, 2)`` uniform on ``[-1, 1]^2`` and labels ``y > A sin(f x - p)``.

    Parameters
    ----------
    cfg : mapping
        The ``[pullback]`` keys ``data_seed``, ``n_points``, ``amplitude`` (A), ``frequency``
        (f, radians per unit of x) and ``phase`` (p, radians).

    Returns
    -------
    x : ndarray of shape (n_points, 2)
        The inputs (x, y).
    labels : ndarray of shape (n_points,)
        1 above the boundary, 0 below.

    See Also
    --------
    pullback_sweep : trains on it.

    Examples
    --------
    >>> cfg = {"data_seed": 0, "n_points": 5, "amplitude": 0.6, "frequency": 7.0, "phase": 1.0}
    >>> x, labels = sine_task(cfg)
    >>> x.shape, labels.tolist()
    ((5, 2), [0, 0, 1, 1, 1])
    """
    rng = np.random.default_rng(int(cfg["data_seed"]))
    x = rng.uniform(-1.0, 1.0, size=(int(cfg["n_points"]), 2))
    boundary = cfg["amplitude"] * np.sin(cfg["frequency"] * x[:, 0] - cfg["phase"])
    return x, (x[:, 1] > boundary).astype(int)


def _index(features: Callable, classifier: Callable, probe: np.ndarray, q: float) -> list[float]:
    from neurogeom.geometry.riemann import boundary_magnification

    try:
        ds = boundary_magnification(features, classifier, probe, quantile=q)
    except ValueError:  # no boundary of its own in the square (a random network)
        return [np.nan, np.nan]
    return [float(ds.boundary_magnification), float(ds.boundary_magnification_sem)]


def _one_seed(cfg: Mapping[str, Any], seed: int) -> dict[str, np.ndarray]:
    import torch

    from neurogeom.geometry.riemann import metric_on_grid
    from neurogeom.models.feedforward import MLP, train_classifier

    x_np, labels = sine_task(cfg)
    x, y = torch.tensor(x_np, dtype=torch.float32), torch.tensor(labels)
    net = MLP(
        2,
        [int(cfg["width"])],
        2,
        activation=cfg["activation"],
        seed=seed,
        center=False,
        init=cfg["init"],
    )
    ckpts = train_classifier(
        net,
        x,
        y,
        lr=float(cfg["lr"]),
        momentum=float(cfg["momentum"]),
        n_steps=int(cfg["n_steps"]),
        batch_size=int(cfg["batch_size"]) or None,
        checkpoint_steps=cfg["checkpoint_steps"],
        seed=seed,
    )
    side = np.linspace(-1.0, 1.0, int(cfg["n_index"]))
    probe = np.stack(np.meshgrid(side, side), axis=-1).reshape(-1, 2)
    final = copy.deepcopy(net)
    final.load_state_dict(ckpts[-1][1])
    out: dict[str, list] = {"own": [], "final": [], "accuracy": [], "grid": [], "predicted": []}
    lim = float(cfg["scan"])
    for _, state in ckpts:
        net.load_state_dict(state)
        with torch.no_grad():
            out["accuracy"].append(float((net(x).argmax(1) == y).float().mean()))
        out["own"].append(_index(net.features, net, probe, float(cfg["quantile"])))
        out["final"].append(_index(net.features, final, probe, float(cfg["quantile"])))
        grid = metric_on_grid(
            net.features,
            classifier=net,
            x_range=(-lim, lim),
            y_range=(-lim, lim),
            n_grid=int(cfg["n_grid"]),
        )
        out["grid"].append(grid.log_volume_element.values)
        out["predicted"].append(grid.predicted.values)
    return {k: np.asarray(v) for k, v in out.items()}


def pullback_sweep(
    spec: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    n_jobs: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> xr.Dataset:
    """Train one network per seed on the sine task; pullback geometry at every checkpoint.

    Parameters
    ----------
    spec : path or mapping
        A pullback spec (see ``load_pullback_spec``).
    overrides : mapping, optional
        Keys replaced in ``[pullback]``.
    n_jobs : int, default 1
        Seeds trained at once (processes); the numbers do not depend on it.
    progress : callable, optional
        ``progress(phase, done, total)`` (phase ``"train"``) after each seed.

    Returns
    -------
    xarray.Dataset
        Dims ``seed``, ``step`` (training steps), ``y``, ``x`` (input coordinates of the scanned
        grid). ``boundary_magnification`` and ``boundary_magnification_sem`` (seed, step): the
        index of the network at that step on its own boundary (NaN where it has none in the
        data square); ``boundary_magnification_final`` (and ``_sem``): the metric at that step
        against the final network's boundary (step 0: the initial metric's baseline);
        ``accuracy`` (training accuracy, fraction); ``log_volume_element`` and ``predicted``
        (seed, step, y, x); ``train_x``, ``train_y``, ``train_label`` (sample): the training
        inputs and their classes. attrs: ``spec`` (the checked ``[pullback]`` table, JSON), ``data``.

    See Also
    --------
    neurogeom.geometry.riemann.boundary_magnification : the index at each checkpoint.
    neurogeom.show.pullback_report.pullback_report : the report of the result.
    sine_task : the training data.

    Examples
    --------
    One small network trained 20 steps (too short to fit the boundary):

    >>> spec = {"pullback": {"seeds": [0], "n_points": 50, "width": 20, "n_steps": 20,
    ...                      "checkpoint_steps": [0, 20], "n_grid": 11, "n_index": 7}}
    >>> ds = pullback_sweep(spec)
    >>> dict(ds.sizes)
    {'seed': 1, 'step': 2, 'y': 11, 'x': 11, 'sample': 50}
    """

    cfg = load_pullback_spec(spec, overrides)["pullback"]
    seeds = cfg["seeds"]
    tell = phase_progress(progress, "train")
    results = parallel_map(
        functools.partial(_one_seed, cfg),
        seeds,
        n_jobs=n_jobs,
        on_result=lambda i, _: tell(i + 1, len(seeds)),
    )
    lim, n = float(cfg["scan"]), int(cfg["n_grid"])
    coords = {
        "seed": seeds,
        "step": cfg["checkpoint_steps"],
        "y": np.linspace(-lim, lim, n),
        "x": np.linspace(-lim, lim, n),
    }
    stack = {k: np.stack([r[k] for r in results]) for k in results[0]}
    x_train, labels_train = sine_task(cfg)
    ds = xr.Dataset(
        {
            "boundary_magnification": (("seed", "step"), stack["own"][..., 0]),
            "boundary_magnification_sem": (("seed", "step"), stack["own"][..., 1]),
            "boundary_magnification_final": (("seed", "step"), stack["final"][..., 0]),
            "boundary_magnification_final_sem": (("seed", "step"), stack["final"][..., 1]),
            "accuracy": (("seed", "step"), stack["accuracy"]),
            "log_volume_element": (("seed", "step", "y", "x"), stack["grid"]),
            "predicted": (("seed", "step", "y", "x"), stack["predicted"]),
            "train_x": ("sample", x_train[:, 0]),
            "train_y": ("sample", x_train[:, 1]),
            "train_label": ("sample", labels_train),
        },
        coords=coords,
    )
    ds.attrs.update(
        spec=json.dumps(cfg),
        data=(
            f"{cfg['n_points']} points uniform on [-1, 1]^2, label y > {cfg['amplitude']} "
            f"sin({cfg['frequency']} x - {cfg['phase']}), data seed {cfg['data_seed']}"
        ),
    )
    return ds
