"""From rich to lazy learning on images: the output scale alpha against geometry and generalisation.

The output scale alpha (Chizat, Oyallon and Bach 2019; :mod:`neurogeom.models.feedforward`) moves
a network from feature learning (small alpha: the weights move far from initialisation) to lazy,
kernel-like training (large alpha: ``||w - w0|| / ||w0|| ~ 1/alpha``). Representational-geometry
studies of feature learning sweep it on VGG-11 / CIFAR-10 and read the last layer's manifold
capacity, the out-of-distribution accuracy (CIFAR-10-C) and a linear probe on held-out classes.
:func:`lazy_rich_sweep` does the same on scikit-learn's 8x8 digits (no download) with an MLP and a
small CNN: per architecture, alpha and seed

- test **accuracy** and the relative **weight change** ``||w - w0|| / ||w0||`` at every checkpoint;
- the last hidden layer's **GLUE geometry** (capacity, radius, dimension) of the ten digit classes
  of the test set, along the training checkpoints;
- **out-of-distribution accuracy** on the test set corrupted by noise, blur and occlusion at
  severities 1-5 (:func:`neurogeom.models.images.corrupt`; severity 0 is the clean set);
- a **transfer probe**: a network with the same settings trained on digits 0-4 only, its last
  hidden layer read by a logistic regression on digits 5-9 (and the same probe on its features at
  initialisation, the random-feature baseline).

A lazy-rich spec is a TOML file with a ``[lazy_rich]`` section (``tasks/lazy_rich_digits.toml``);
``neurogeom run <spec> -o OUT [--setting fast]`` runs it (:func:`~neurogeom.workflows.pipeline.run_pipeline`) and writes
``OUT/results/lazy_rich.nc``, ``OUT/figures/lazy_rich.png|svg`` and ``OUT/report.html``.

Spec sections (every key optional except ``[lazy_rich] alphas`` and one architecture):

``[run]``
    ``title``.
``[lazy_rich]``
    ``alphas`` (list of float > 0), ``seeds`` (list of int, default ``[0]``), ``test_fraction``
    (default 0.3), ``split_seed`` (default 0).
``[architectures.<name>]``
    ``type = "mlp"`` (``widths``, ``activation``, ``bias``) or ``type = "cnn"`` (``channels``,
    ``width``, ``activation``, ``bias``).
``[training]``
    ``lr`` (0.1), ``momentum`` (0.9), ``n_steps`` (1000), ``batch_size`` (64),
    ``checkpoint_steps`` (default ``[0, n_steps]``).
``[analysis]``
    ``layer`` (-1), ``n_points_per_manifold`` (50), ``n_t`` (200), ``dichotomies``
    (``"nontrivial"``), ``center`` (true), ``jitter`` (1e-6), ``seed`` (0).
``[ood]``
    ``corruptions`` (all of :data:`~neurogeom.models.images.CORRUPTIONS`), ``severities``
    (1-5), ``seed`` (0).
``[transfer]``
    ``source_classes`` (``[0, 1, 2, 3, 4]``), ``target_classes`` (``[5, 6, 7, 8, 9]``), ``c``
    (1.0, the probe's inverse regularisation), ``shots`` (5: training images per target digit
    the probe is fitted on, a few-shot probe; 0: all of them), ``n_draws`` (10: draws of those
    images, averaged).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from neurogeom._deprecation import phase_progress
from neurogeom._files import to_json
from neurogeom._provenance import child_seed, provenance
from neurogeom.geometry import glue_batch
from neurogeom.models.images import IMAGE_SHAPE, corrupt, linear_probe, load_digits_split
from neurogeom.parallel import parallel_map
from neurogeom.specs.lazy_rich import load_lazy_rich_spec

__all__ = ["lazy_rich_sweep"]

_GLUE_OUTPUTS = ("capacity", "radius", "dimension")


def _build(arch: Mapping[str, Any], n_outputs: int, alpha: float, seed: int):
    from neurogeom.models.feedforward import MLP, SmallCNN

    common = {
        "activation": arch["activation"],
        "bias": bool(arch["bias"]),
        "alpha": alpha,
        "seed": seed,
    }
    if arch["type"] == "mlp":
        return MLP(int(np.prod(IMAGE_SHAPE)), arch["widths"], n_outputs, **common)
    return SmallCNN(
        IMAGE_SHAPE, n_outputs, channels=arch["channels"], width=arch["width"], **common
    )


def _train(net, x: np.ndarray, y: np.ndarray, tr: Mapping[str, Any], seed: int, steps: list[int]):
    import torch

    from neurogeom.models.feedforward import train_classifier

    return train_classifier(
        net,
        torch.from_numpy(x),
        torch.from_numpy(y),
        lr=float(tr["lr"]),
        momentum=float(tr["momentum"]),
        n_steps=tr["n_steps"],
        batch_size=min(tr["batch_size"], len(x)),
        checkpoint_steps=steps,
        seed=seed,
    )


def _remap(y: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    return np.array([lookup[int(v)] for v in y], dtype=np.int64)


def _shots(y: np.ndarray, shots: int, n_draws: int, seed: int) -> list[np.ndarray]:
    """Indices of ``shots`` images per class, ``n_draws`` seeded draws (all images if 0)."""
    if shots == 0:
        return [np.arange(len(y))]

    draws = []
    for r in range(n_draws):
        rng = np.random.default_rng(child_seed(seed, r))
        draws.append(
            np.concatenate(
                [rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in np.unique(y)]
            )
        )
    return draws


def _one_run(item: tuple[str, float, int], cfg: Mapping[str, Any]) -> dict[str, Any]:
    """Train one (architecture, alpha, seed); every measure of it."""
    import torch

    from neurogeom.models.feedforward import weight_change
    from neurogeom.models.rnn import torch_threads

    name, alpha, seed = item
    arch, tr, an = cfg["architectures"][name], cfg["training"], cfg["analysis"]
    lr, ood, tf = cfg["lazy_rich"], cfg["ood"], cfg["transfer"]
    split = {"test_fraction": float(lr["test_fraction"]), "seed": int(lr["split_seed"])}
    d = load_digits_split(**split)
    steps = tr["checkpoint_steps"]
    net = _build(arch, 10, alpha, seed)
    ckpts = _train(net, d["x_train"], d["y_train"], tr, seed, steps)
    xt = torch.from_numpy(d["x_test"])
    out: dict[str, Any] = {k: [] for k in ("accuracy", "weight_change", *_GLUE_OUTPUTS)}
    for k in _GLUE_OUTPUTS:
        out[f"{k}_sem"] = []
    with torch.no_grad(), torch_threads(1):
        problems, seeds = [], []
        for step, state in ckpts:
            net.load_state_dict(state)
            out["accuracy"].append(float((net(xt).argmax(1).numpy() == d["y_test"]).mean()))
            out["weight_change"].append(weight_change(net))
            feats = net.features(xt, layer=int(an["layer"])).numpy().astype(np.float64)
            problems.append((feats, d["y_test"]))
            seeds.append(child_seed(int(an["seed"]), seed, step))
        # every checkpoint's GLUE in one pass: the numbers of one glue() call each
        g = glue_batch(
            problems,
            n_t=an["n_t"],
            seed=seeds,
            dichotomies=an["dichotomies"],
            center=bool(an["center"]),
            jitter=float(an["jitter"]),
            n_points_per_manifold=an["n_points_per_manifold"],
        )
        for k in _GLUE_OUTPUTS:
            out[k] = [float(v) for v in g[k].values]
            out[f"{k}_sem"] = [float(v) for v in g[f"{k}_sem"].values]
        out["train_accuracy"] = float(
            (net(torch.from_numpy(d["x_train"])).argmax(1).numpy() == d["y_train"]).mean()
        )
        sev = [0, *ood["severities"]]
        acc = np.empty((len(ood["corruptions"]), len(sev)))
        for i, kind in enumerate(ood["corruptions"]):
            for j, s in enumerate(sev):
                xc = corrupt(d["x_test"], kind, s, seed=child_seed(int(ood["seed"]), i, s))
                acc[i, j] = float(
                    (net(torch.from_numpy(xc)).argmax(1).numpy() == d["y_test"]).mean()
                )
        out["ood_accuracy"] = acc
    # the transfer probe: a network trained on the source digits, read on the target digits
    src = load_digits_split(classes=tf["source_classes"], **split)
    tgt = load_digits_split(classes=tf["target_classes"], **split)
    y_src = _remap(src["y_train"], tf["source_classes"])
    net_src = _build(arch, len(tf["source_classes"]), alpha, seed)
    ck = _train(net_src, src["x_train"], y_src, tr, seed, [0, tr["n_steps"]])
    with torch.no_grad(), torch_threads(1):
        for key, state in (("transfer_accuracy_init", ck[0][1]), ("transfer_accuracy", ck[-1][1])):
            net_src.load_state_dict(state)
            f_tr, f_te = (
                net_src.features(torch.from_numpy(tgt[k]), layer=int(an["layer"])).numpy()
                for k in ("x_train", "x_test")
            )
            accs = [
                linear_probe(
                    f_tr[i], tgt["y_train"][i], f_te, tgt["y_test"], c=float(tf["c"]), seed=seed
                )
                for i in _shots(tgt["y_train"], tf["shots"], tf["n_draws"], seed)
            ]
            out[key] = float(np.mean(accs))
            out[f"{key}_sem"] = (
                float(np.std(accs, ddof=1) / np.sqrt(len(accs))) if len(accs) > 1 else np.nan
            )
    out["n_test"], out["n_transfer_test"] = len(d["y_test"]), len(tgt["y_test"])
    return out


# ---- the sweep -------------------------------------------------------------------------------------


def _binomial_sem(p: xr.DataArray, n: int) -> xr.DataArray:
    return np.sqrt(p * (1 - p) / n)


def lazy_rich_sweep(
    spec: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    n_jobs: int = 1,
    progress: Callable[[str, int, int], None] | None = None,
) -> xr.Dataset:
    """Train every (architecture, alpha, seed) of a lazy-rich spec on digits and measure it.

    Parameters
    ----------
    spec : path or mapping
        A lazy-rich spec (``tasks/lazy_rich_digits.toml``; keys in the module docstring).
    overrides : mapping of section to mapping, optional
        Keys replaced in the spec's sections, e.g. ``FAST_SETTING``.
    n_jobs : int, default 1
        Runs trained at once (:func:`neurogeom.parallel.parallel_map`); the numbers do not
        depend on it.
    progress : callable, optional
        ``progress(phase, done, total)`` (phase ``"train"``), called before each batch of
        ``n_jobs`` runs and at the end.

    Returns
    -------
    xarray.Dataset
        Dims ``architecture``, ``alpha``, ``seed``, ``step`` (the checkpoints), ``corruption``,
        ``severity`` (0 = clean, then the spec's severities). Variables, each with ``<name>_sem``
        (binomial standard error for test accuracies over the test images, GLUE's Monte-Carlo error for
        the geometry, NaN where none is defined):

        - ``accuracy`` (architecture, alpha, seed, step): test accuracy (fraction);
        - ``weight_change`` (architecture, alpha, seed, step): ``||w - w0|| / ||w0||`` (ratio);
        - ``capacity`` (manifolds per unit), ``radius``, ``dimension`` (architecture, alpha,
          seed, step): GLUE of the last hidden layer's activity per test digit;
        - ``train_accuracy`` (architecture, alpha, seed): at the end;
        - ``ood_accuracy`` (architecture, alpha, seed, corruption, severity): at the end;
        - ``transfer_accuracy``, ``transfer_accuracy_init`` (architecture, alpha, seed): linear
          probe on the target digits of the source-trained network at the end and at
          initialisation, fitted on ``shots`` images per digit, mean over ``n_draws`` draws
          (``_sem``: over the draws).

        attrs: provenance (``estimator = "lazy_rich_sweep"``), the checked spec as JSON,
        ``chance_accuracy`` (0.1) and ``chance_transfer_accuracy`` (1 / number of target digits).

    See Also
    --------
    neurogeom.workflows.pipeline.run_pipeline : the same, end to end, with the report.
    neurogeom.models.feedforward.MLP, neurogeom.models.images.corrupt

    Examples
    --------
    >>> spec = {"lazy_rich": {"alphas": [1, 100], "seeds": [0]},
    ...         "architectures": {"mlp": {"type": "mlp", "widths": [32]}},
    ...         "training": {"n_steps": 30}, "ood": {"severities": [5]},
    ...         "analysis": {"n_points_per_manifold": 10, "n_t": 20}}
    >>> ds = lazy_rich_sweep(spec)
    >>> change = ds["weight_change"].isel(step=-1).values.ravel()
    >>> bool(change[0] > 10 * change[1])  # alpha = 100 moves the weights far less
    True
    """

    cfg = load_lazy_rich_spec(spec, overrides)
    archs, alphas = list(cfg["architectures"]), cfg["lazy_rich"]["alphas"]
    seeds = cfg["lazy_rich"]["seeds"]
    items = [(a, al, s) for a in archs for al in alphas for s in seeds]
    one = functools.partial(_one_run, cfg=cfg)
    step = 1 if n_jobs == 1 else (len(items) if n_jobs == -1 else max(int(n_jobs), 1))
    rows: list[dict[str, Any]] = []
    tell = phase_progress(progress, "train")
    for start in range(0, len(items), step):
        tell(start, len(items))
        rows += parallel_map(one, items[start : start + step], n_jobs=n_jobs)
    tell(len(items), len(items))
    shape = (len(archs), len(alphas), len(seeds))
    coords = {
        "architecture": archs,
        "alpha": np.asarray(alphas, float),
        "seed": np.asarray(seeds, int),
        "step": np.asarray(cfg["training"]["checkpoint_steps"], int),
        "corruption": list(cfg["ood"]["corruptions"]),
        "severity": np.asarray([0, *cfg["ood"]["severities"]], int),
    }

    def stack(key: str) -> np.ndarray:
        values = np.asarray([r[key] for r in rows], float)
        return values.reshape(*shape, *values.shape[1:])

    dims3 = ("architecture", "alpha", "seed")
    ds = xr.Dataset(coords=coords)
    for key in ("accuracy", "weight_change", *_GLUE_OUTPUTS):
        ds[key] = ((*dims3, "step"), stack(key))
    for key in _GLUE_OUTPUTS:
        ds[f"{key}_sem"] = ((*dims3, "step"), stack(f"{key}_sem"))
    for key in ("train_accuracy", "transfer_accuracy", "transfer_accuracy_init"):
        ds[key] = (dims3, stack(key))
    ds["ood_accuracy"] = ((*dims3, "corruption", "severity"), stack("ood_accuracy"))
    n_test, n_transfer = int(rows[0]["n_test"]), int(rows[0]["n_transfer_test"])
    ds["accuracy_sem"] = _binomial_sem(ds["accuracy"], n_test)
    ds["ood_accuracy_sem"] = _binomial_sem(ds["ood_accuracy"], n_test)
    for key in ("transfer_accuracy", "transfer_accuracy_init"):
        ds[f"{key}_sem"] = (dims3, stack(f"{key}_sem"))
    ds["train_accuracy_sem"] = xr.full_like(ds["train_accuracy"], np.nan)
    ds["weight_change_sem"] = xr.full_like(ds["weight_change"], np.nan)
    ds.attrs.update(
        provenance(
            "lazy_rich_sweep",
            data="sklearn digits 8x8",
            n_test=n_test,
            n_transfer_test=n_transfer,
            chance_accuracy=0.1,
            chance_transfer_accuracy=1.0 / len(cfg["transfer"]["target_classes"]),
            layer=int(cfg["analysis"]["layer"]),
            spec=to_json(cfg),
        )
    )
    return ds[sorted(ds.data_vars)]


# ---- `neurogeom run <lazy-rich spec>` ----------------------------------------------------------------
