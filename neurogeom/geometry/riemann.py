"""Riemannian geometry a feature map pulls back onto its input space.

A differentiable feature map ``f: R^d -> R^N`` (a network's hidden layer, any torch callable
taking ``(n, d)`` inputs to ``(n, N)`` features) induces on input space the pullback metric

.. math::  g(x) = J(x)^\\top J(x) / N, \\qquad J(x) = \\partial f(x) / \\partial x \\in R^{N \\times d},

and the volume element :math:`\\sqrt{\\det g(x)}`, the factor by which ``f`` magnifies a small
input-space volume around ``x`` (Zavatone-Veth, Yang, Rubinfien & Pehlevan, "Neural networks learn
to magnify areas near decision boundaries", NeurIPS 2023). Jacobians are computed for all points at
once with ``torch.func`` (``vmap`` of ``jacfwd`` or ``jacrev``), in float64, in chunks of points to
bound memory. The engine knows no model classes: it takes a callable (and, for the decision
boundary, a second callable giving the logits).

Functions: :func:`jacobian`, :func:`pullback_metric` (metric and volume element at given points),
:func:`metric_on_grid` (a 2-D grid, dims ``y``/``x``), :func:`metric_along_paths` (straight paths
between inputs of different classes), :func:`boundary_magnification` (a scalar index: mean log
volume element near the network's decision boundary minus far from it; a registered measure), and
:func:`one_layer_metric` (the closed form for one hidden layer, used to check the autograd path).
"""

from __future__ import annotations

import copy
import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from neurogeom._provenance import provenance
from neurogeom.geometry.registry import register_measure

__all__ = [
    "boundary_magnification",
    "jacobian",
    "metric_along_paths",
    "metric_on_grid",
    "one_layer_metric",
    "pullback_metric",
]

ZAVATONE_VETH = (
    "Zavatone-Veth, Yang, Rubinfien & Pehlevan, 'Neural networks learn to magnify areas near "
    "decision boundaries', NeurIPS 2023"
)
SINGULAR_TOL = 1e-8  # singular values of J / sqrt(N) below this are dropped (effective expansion)
_MEMORY_BYTES = 2**28  # default bound on the Jacobian work of one chunk (256 MiB)

FeatureMap = Callable[[torch.Tensor], torch.Tensor]


# ---- checking the inputs and the map --------------------------------------------------------------


def _inputs(x: Any, caller: str, dtype: torch.dtype, device: torch.device | None) -> torch.Tensor:
    """``x`` as a (n, d) tensor of ``dtype``; NaN/inf rows refused."""
    if isinstance(x, torch.Tensor):
        t = x.detach()
    else:
        try:
            t = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{caller}() needs numeric inputs of shape (n_points, n_inputs); could not convert "
                f"the {type(x).__name__} given ({exc}). Pass a float array or tensor."
            ) from None
    if t.ndim != 2 or t.shape[0] < 1 or t.shape[1] < 1:
        raise ValueError(
            f"{caller}() needs inputs of shape (n_points, n_inputs) with at least one point and "
            f"one input dimension; got shape {tuple(t.shape)}. Reshape, e.g. x.reshape(n, -1)."
        )
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{caller}() needs real-valued inputs; got dtype {t.dtype}.")
    t = t.to(dtype=dtype, device=device if device is not None else t.device)
    bad = ~torch.isfinite(t)
    if bad.any():
        rows = torch.nonzero(bad.any(dim=1)).flatten()
        raise ValueError(
            f"{caller}() needs finite inputs; {int(bad.sum())} NaN/inf values in {rows.numel()} "
            f"points (first rows: {rows[:5].tolist()}). Drop those points or impute them."
        )
    return t


def _module_of(f: Any) -> torch.nn.Module | None:
    if isinstance(f, torch.nn.Module):
        return f
    owner = getattr(f, "__self__", None)
    return owner if inspect.ismethod(f) and isinstance(owner, torch.nn.Module) else None


def _in_dtype(f: Any, dtype: torch.dtype) -> tuple[Any, torch.device | None]:
    """``f`` computing in ``dtype``: a module (or a module's bound method) is copied and converted;
    other callables are used as given. Also the device of the module's parameters."""
    module = _module_of(f)
    if module is None:
        return f, None
    params = list(module.parameters()) + list(module.buffers())
    device = params[0].device if params else None
    if all(p.dtype == dtype for p in params if p.is_floating_point()):
        return f, device
    converted = copy.deepcopy(module).to(dtype)
    if f is module:
        return converted, device
    return getattr(converted, f.__name__), device


def _check_map(f: Any, x: torch.Tensor, caller: str) -> int:
    """Run ``f`` on a few points with autograd; return the width N. Clear errors when ``f`` does
    not return a float tensor of shape (n, N) or its output does not depend differentiably on x."""
    if not callable(f):
        raise TypeError(
            f"{caller}() needs a feature map: a callable taking a (n, d) tensor to (n, N) "
            f"features; got a {type(f).__name__}."
        )
    probe = x[: min(4, x.shape[0])].clone().requires_grad_(True)
    try:
        with torch.enable_grad():
            out = f(probe)
    except RuntimeError as exc:
        hint = (
            " Keep the map in torch and differentiable in x (no .numpy(), .item() or "
            "in-place changes of x)."
        )
        if "dtype" in str(exc) or "Double" in str(exc) or "Float" in str(exc):
            hint = (
                f" The inputs are {x.dtype}: give a map computing in that dtype "
                "(module.double()) or pass dtype=torch.float32."
            )
        raise TypeError(
            f"{caller}(): the feature map failed on a (n, d) input: {exc}.{hint}"
        ) from None
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"{caller}() needs a feature map returning a torch.Tensor of shape (n, N); it returned "
            f"a {type(out).__name__}. Keep the map in torch (no .numpy(), no lists) so it can be "
            "differentiated."
        )
    if not out.is_floating_point():
        raise TypeError(
            f"{caller}() needs a differentiable feature map; it returned dtype {out.dtype} "
            "(integer or boolean outputs have no derivative). Return the real-valued activity, "
            "not a thresholded or rounded one."
        )
    if out.ndim != 2 or out.shape[0] != probe.shape[0]:
        raise ValueError(
            f"{caller}() needs a feature map from (n, d) to (n, N); for {probe.shape[0]} points it "
            f"returned shape {tuple(out.shape)}. Flatten the features per point, e.g. "
            "lambda x: f(x).reshape(len(x), -1)."
        )
    if out.dtype != x.dtype:
        raise TypeError(
            f"{caller}(): the feature map returned {out.dtype} for {x.dtype} inputs; give a map "
            f"computing in {x.dtype} (module.double() for float64) or pass dtype={out.dtype}."
        )
    grad = None
    if out.requires_grad:
        (grad,) = torch.autograd.grad(out.sum(), probe, allow_unused=True)
    if grad is None:
        raise TypeError(
            f"{caller}() needs a differentiable feature map; its output does not depend "
            "differentiably on its input (it detaches the input, runs under torch.no_grad(), or "
            "leaves torch, e.g. through numpy). Build the map from torch operations on x."
        )
    return int(out.shape[1])


def _chunk_size(chunk_size: int | None, width: int, d: int, itemsize: int) -> int:
    if chunk_size is None:
        per_point = 8 * itemsize * max(width, 1) * max(d, 1)  # J plus intermediates, roughly
        return max(1, _MEMORY_BYTES // per_point)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int or None; got {chunk_size!r}.")
    return chunk_size


# ---- Jacobians, metric, volume element ------------------------------------------------------------


def _jacobian_fn(f: FeatureMap, mode: str, width: int, d: int) -> Callable:
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"mode must be 'auto', 'forward' or 'reverse'; got {mode!r}.")
    forward = mode == "forward" or (mode == "auto" and d <= width)
    transform = torch.func.jacfwd if forward else torch.func.jacrev

    def single(xi: torch.Tensor) -> torch.Tensor:
        return f(xi.unsqueeze(0)).squeeze(0)

    return torch.func.vmap(transform(single))


def _jacobian_chunks(f, x, width, chunk, mode, caller):
    jac = _jacobian_fn(f, mode, width, x.shape[1])
    for start in range(0, x.shape[0], chunk):
        xs = x[start : start + chunk]
        try:
            with torch.no_grad():
                J = jac(xs)
        except Exception as exc:  # torch.func raises several types; say what a map must do
            raise TypeError(
                f"{caller}(): torch.func could not differentiate the feature map point by point "
                f"({type(exc).__name__}: {exc}). The map must treat each row of x independently, "
                "with torch operations only: no .item(), .numpy(), data-dependent Python control "
                "flow, in-place changes of its input, or batch statistics (batch norm in training "
                "mode). Try mode='reverse' if forward-mode is not supported by an operation."
            ) from None
        yield start, J


def jacobian(
    feature_map: FeatureMap,
    x: Any,
    *,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
    mode: str = "auto",
) -> torch.Tensor:
    """Jacobians of a feature map at every point, batched with ``torch.func``.

    Parameters
    ----------
    feature_map : callable
        Differentiable torch callable from ``(n, d)`` inputs to ``(n, N)`` features, treating rows
        independently. A :class:`torch.nn.Module` (or a module's bound method, such as
        ``net.features``) whose parameters are not in ``dtype`` is copied and converted.
    x : array or Tensor of shape (n_points, d)
        Inputs, finite.
    dtype : torch.dtype, default torch.float64
    chunk_size : int or None, default None
        Points per batched call; ``None`` keeps one chunk's Jacobian work near 256 MiB.
    mode : {"auto", "forward", "reverse"}, default "auto"
        ``jacfwd`` (cheaper when d <= N; ``auto`` picks it then) or ``jacrev``.

    Returns
    -------
    Tensor of shape (n_points, N, d)
        ``J[p, i, k] = d f_i / d x_k`` at point ``p``, in ``dtype``.

    Raises
    ------
    TypeError
        The map returns no float tensor, does not depend differentiably on its input, or cannot be
        differentiated by ``torch.func``.
    ValueError
        Inputs with NaN/inf, or a map whose output is not (n, N).

    See Also
    --------
    pullback_metric : the metric and volume element from these Jacobians.

    Examples
    --------
    >>> import torch
    >>> W = torch.tensor([[1.0, 2.0], [0.0, 1.0], [3.0, 0.0]], dtype=torch.float64)
    >>> J = jacobian(lambda x: x @ W.T, torch.zeros(4, 2))
    >>> tuple(J.shape), bool(torch.allclose(J[0], W))
    ((4, 3, 2), True)
    """
    f, device = _in_dtype(feature_map, dtype)
    xt = _inputs(x, "jacobian", dtype, device)
    width = _check_map(f, xt, "jacobian")
    chunk = _chunk_size(chunk_size, width, xt.shape[1], xt.element_size())
    parts = [J for _, J in _jacobian_chunks(f, xt, width, chunk, mode, "jacobian")]
    return torch.cat(parts)


def _log_volume(J: torch.Tensor, k: int | None, tol: float) -> tuple[torch.Tensor, ...]:
    """Metric, log volume element and number of singular values kept, per point of a chunk.

    Full rank (all ``d`` singular values of ``J / sqrt(N)`` above ``tol``, and ``k`` not below d):
    ``0.5 * logdet g`` by slogdet. Otherwise the sum of the logs of the top ``k`` singular values
    above ``tol`` (the effective expansion)."""
    width, d = J.shape[-2], J.shape[-1]
    Js = J / math.sqrt(width)
    g = Js.transpose(-1, -2) @ Js
    s = torch.linalg.svdvals(Js)  # descending, min(N, d) values
    keep = s > tol
    if k is not None:
        keep &= torch.arange(s.shape[-1], device=s.device) < k
    n_kept = keep.sum(-1)
    full = n_kept == d
    logs = torch.where(keep, torch.log(torch.where(keep, s, torch.ones_like(s))), 0.0).sum(-1)
    if full.any():
        sign, logdet = torch.linalg.slogdet(g[full])
        logs[full] = torch.where(sign > 0, 0.5 * logdet, logs[full])
    logs = torch.where(n_kept > 0, logs, torch.full_like(logs, -math.inf))
    return g, logs, n_kept


def _metric_tensors(feature_map, x, *, dtype, chunk_size, mode, k, tol, caller):
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive int or None; got {k!r}.")
    if not (isinstance(tol, int | float) and tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a finite number >= 0; got {tol!r}.")
    f, device = _in_dtype(feature_map, dtype)
    xt = _inputs(x, caller, dtype, device)
    width = _check_map(f, xt, caller)
    d = xt.shape[1]
    chunk = _chunk_size(chunk_size, width, d, xt.element_size())
    n = xt.shape[0]
    g = torch.empty(n, d, d, dtype=dtype, device=xt.device)
    logv = torch.empty(n, dtype=dtype, device=xt.device)
    rank = torch.empty(n, dtype=torch.long, device=xt.device)
    any_nonzero = False
    for start, J in _jacobian_chunks(f, xt, width, chunk, mode, caller):
        if not torch.isfinite(J).all():
            raise ValueError(
                f"{caller}(): the feature map's Jacobian has NaN/inf values near points "
                f"{start}..{start + J.shape[0] - 1}; the map overflows or is not differentiable "
                "there. Check its inputs' scale."
            )
        any_nonzero = any_nonzero or bool((J != 0).any())
        sl = slice(start, start + J.shape[0])
        g[sl], logv[sl], rank[sl] = _log_volume(J, k, tol)
    if not any_nonzero:
        raise ValueError(
            f"{caller}(): the feature map's Jacobian is zero at every point, so it is not "
            "differentiable in any useful sense (piecewise constant: round, sign, argmax, a "
            "threshold) or it ignores its input. Give the real-valued activity of the layer."
        )
    return xt, g, logv, rank, width


def pullback_metric(
    feature_map: FeatureMap,
    x: Any,
    *,
    k: int | None = None,
    tol: float = SINGULAR_TOL,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
    mode: str = "auto",
) -> xr.Dataset:
    """Pullback metric ``g(x) = J^T J / N`` and volume element ``sqrt(det g)`` at given points.

    Parameters
    ----------
    feature_map : callable
        Differentiable torch callable from ``(n, d)`` inputs to ``(n, N)`` features (see
        :func:`jacobian`).
    x : array or Tensor of shape (n_points, d)
        Inputs, finite.
    k : int or None, default None
        Keep at most the top ``k`` singular values of ``J / sqrt(N)`` (the effective expansion of a
        ``k``-dimensional tangent space); ``None``: all those above ``tol``.
    tol : float, default 1e-8
        Singular values of ``J / sqrt(N)`` below ``tol`` are dropped.
    dtype, chunk_size, mode
        As in :func:`jacobian`.

    Returns
    -------
    xarray.Dataset
        Over dim ``point`` (and ``row``/``col`` of the metric): ``metric`` (point, row, col),
        ``log_volume_element`` (natural log of the volume element, unitless per unit input
        volume), ``volume_element`` and ``n_directions`` (singular values kept). Coord ``inputs`` (point,
        input) holds the points. attrs: estimator, neurogeom_version, width, n_inputs, k, tol,
        dtype.

    Notes
    -----
    Where all ``d`` singular values of ``J / sqrt(N)`` exceed ``tol`` (a full-rank map, ``d <= N``),
    the log volume element is ``0.5 * log det g`` computed by ``slogdet``, stable where the volume
    element under- or overflows. When the input dimension exceeds the map's rank (``d > N``, or a
    degenerate map) ``det g = 0``; the log volume element is then the **effective expansion**, the
    sum of the logs of the top ``k`` singular values of ``J / sqrt(N)`` (``k`` = the number above
    ``tol`` unless given), the volume element of the map restricted to the directions it does not
    collapse (Zavatone-Veth et al. 2023). ``n_directions`` says how many were kept; ``-inf`` where none.

    See Also
    --------
    jacobian, metric_on_grid, metric_along_paths, boundary_magnification, one_layer_metric

    Examples
    --------
    >>> import torch
    >>> W = torch.tensor([[2.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    >>> ds = pullback_metric(lambda x: x @ W.T, torch.randn(5, 2))
    >>> round(float(ds.volume_element[0]), 6)  # sqrt(det(W^T W / 2)) = 2 / 2
    1.0
    """
    xt, g, logv, rank, width = _metric_tensors(
        feature_map,
        x,
        dtype=dtype,
        chunk_size=chunk_size,
        mode=mode,
        k=k,
        tol=tol,
        caller="pullback_metric",
    )
    d = xt.shape[1]
    lv = logv.cpu().numpy()
    return xr.Dataset(
        {
            "metric": (("point", "row", "col"), g.cpu().numpy()),
            "log_volume_element": ("point", lv),
            "volume_element": ("point", np.exp(lv)),
            "n_directions": ("point", rank.cpu().numpy()),
        },
        coords={
            "point": np.arange(xt.shape[0]),
            "row": np.arange(d),
            "col": np.arange(d),
            "inputs": (("point", "input"), xt.cpu().numpy()),
        },
        attrs=provenance(
            "pullback_metric", width=width, n_inputs=d, k=k, tol=tol, dtype=str(dtype)
        ),
    )


# ---- the decision boundary ------------------------------------------------------------------------


def _logits(classifier: Callable, x: torch.Tensor, caller: str, chunk: int) -> np.ndarray:
    """Logits (n, C) of ``classifier`` at ``x``; a (n,) output is a binary decision value."""
    if not callable(classifier):
        raise TypeError(
            f"{caller}() needs a classifier: a callable taking (n, d) inputs to logits (n, C); "
            f"got a {type(classifier).__name__}."
        )
    f, _ = _in_dtype(classifier, x.dtype)
    parts = []
    with torch.no_grad():
        for start in range(0, x.shape[0], chunk):
            out = f(x[start : start + chunk])
            if not isinstance(out, torch.Tensor) or not out.is_floating_point():
                raise TypeError(
                    f"{caller}() needs a classifier returning float logits (n, C) as a torch "
                    f"tensor; it returned {type(out).__name__}"
                    f"{' of dtype ' + str(out.dtype) if isinstance(out, torch.Tensor) else ''}."
                )
            parts.append(out)
    z = torch.cat(parts).to(torch.float64).cpu().numpy()
    if z.ndim == 1:
        z = np.stack([np.zeros_like(z), z], axis=1)
    if z.ndim != 2 or z.shape[0] != x.shape[0] or z.shape[1] < 2:
        raise ValueError(
            f"{caller}() needs logits of shape (n, C) with C >= 2 (or a (n,) decision value); the "
            f"classifier returned shape {z.shape} for {x.shape[0]} points."
        )
    if not np.isfinite(z).all():
        raise ValueError(f"{caller}(): the classifier returned NaN/inf logits.")
    return z


def _margin(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted class and margin (top logit minus the runner-up, >= 0) per point."""
    top2 = np.sort(z, axis=1)[:, -2:]
    return z.argmax(axis=1), top2[:, 1] - top2[:, 0]


# ---- grids and paths ------------------------------------------------------------------------------


def _extent(value: Any, name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (low, high) of numbers; got {value!r}.") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with low < high; got {(lo, hi)}.")
    return lo, hi


def metric_on_grid(
    feature_map: FeatureMap,
    *,
    classifier: Callable | None = None,
    x_range: Sequence[float] = (-1.5, 1.5),
    y_range: Sequence[float] = (-1.5, 1.5),
    n_grid: int = 101,
    k: int | None = None,
    tol: float = SINGULAR_TOL,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
    mode: str = "auto",
) -> xr.Dataset:
    """Pullback metric and volume element of a map of 2-D inputs on a regular grid.

    Parameters
    ----------
    feature_map : callable
        Differentiable torch callable from ``(n, 2)`` inputs to ``(n, N)`` features.
    classifier : callable or None, default None
        Logits ``(n, C)`` (or a binary decision value ``(n,)``) of the network at the same inputs;
        adds its predicted class and margin, to draw the decision boundary.
    x_range, y_range : (float, float), default (-1.5, 1.5)
        Extent of the grid along the first and second input.
    n_grid : int, default 101
        Grid points per axis (``n_grid**2`` points).
    k, tol, dtype, chunk_size, mode
        As in :func:`pullback_metric`.

    Returns
    -------
    xarray.Dataset
        Dims ``y``, ``x`` (coords: the grid values of the second and first input) and ``row``,
        ``col``: ``metric`` (y, x, row, col), ``log_volume_element``, ``volume_element``, ``n_directions``;
        with a classifier also ``predicted`` (class index) and ``margin`` (top logit minus the
        runner-up). attrs: estimator, neurogeom_version, width, n_grid, x_range, y_range, k, tol.

    See Also
    --------
    pullback_metric, metric_along_paths, neurogeom.show.figures.plot_volume_element

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 20), torch.nn.Sigmoid())
    >>> ds = metric_on_grid(net, n_grid=11)
    >>> ds.log_volume_element.dims, ds.sizes["x"]
    (('y', 'x'), 11)
    """
    if isinstance(n_grid, bool) or not isinstance(n_grid, int) or n_grid < 2:
        raise ValueError(f"n_grid must be an int >= 2; got {n_grid!r}.")
    xs = np.linspace(*_extent(x_range, "x_range"), n_grid)
    ys = np.linspace(*_extent(y_range, "y_range"), n_grid)
    gx, gy = np.meshgrid(xs, ys)  # (y, x)
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    xt, g, logv, rank, width = _metric_tensors(
        feature_map,
        pts,
        dtype=dtype,
        chunk_size=chunk_size,
        mode=mode,
        k=k,
        tol=tol,
        caller="metric_on_grid",
    )
    if xt.shape[1] != 2:  # pragma: no cover - pts is (n, 2) by construction
        raise AssertionError
    shape = (n_grid, n_grid)
    lv = logv.cpu().numpy().reshape(shape)
    ds = xr.Dataset(
        {
            "metric": (("y", "x", "row", "col"), g.cpu().numpy().reshape(*shape, 2, 2)),
            "log_volume_element": (("y", "x"), lv),
            "volume_element": (("y", "x"), np.exp(lv)),
            "n_directions": (("y", "x"), rank.cpu().numpy().reshape(shape)),
        },
        coords={"y": ys, "x": xs, "row": [0, 1], "col": [0, 1]},
        attrs=provenance(
            "metric_on_grid",
            width=width,
            n_grid=n_grid,
            x_range=list(xs[[0, -1]]),
            y_range=list(ys[[0, -1]]),
            k=k,
            tol=tol,
            dtype=str(dtype),
        ),
    )
    if classifier is not None:
        z = _logits(classifier, xt, "metric_on_grid", max(1, chunk_size or 4096))
        pred, margin = _margin(z)
        ds["predicted"] = (("y", "x"), pred.reshape(shape))
        ds["margin"] = (("y", "x"), margin.reshape(shape))
    return ds


def _labels(labels: Any, n: int, caller: str) -> np.ndarray:
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != n:
        raise ValueError(
            f"{caller}() needs one label per input (shape ({n},)); got labels of shape {lab.shape}."
        )
    if np.unique(lab).size < 2:
        first = lab[0].item() if isinstance(lab[0], np.generic) else lab[0]
        raise ValueError(
            f"{caller}() needs inputs of at least two classes; all {n} labels are "
            f"{first!r}. Paths run between inputs of different classes: pass labelled inputs "
            "from two or more classes."
        )
    return lab


def metric_along_paths(
    feature_map: FeatureMap,
    x: Any,
    labels: Any,
    *,
    classifier: Callable | None = None,
    n_paths: int = 16,
    n_steps: int = 65,
    seed: int = 0,
    k: int | None = None,
    tol: float = SINGULAR_TOL,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
    mode: str = "auto",
) -> xr.Dataset:
    """Volume element along straight paths between inputs of different classes.

    Parameters
    ----------
    feature_map : callable
        Differentiable torch callable from ``(n, d)`` inputs to ``(n, N)`` features.
    x : array or Tensor of shape (n_points, d)
        Labelled inputs the paths start and end at.
    labels : array of shape (n_points,)
        Class of each input; at least two classes.
    classifier : callable or None, default None
        Logits of the network, to add its predicted class and margin along the paths.
    n_paths : int, default 16
        Paths, each between a random pair of inputs of different classes (drawn with ``seed``).
    n_steps : int, default 65
        Points per path, ``t = 0 .. 1`` from start to end.
    seed : int, default 0
    k, tol, dtype, chunk_size, mode
        As in :func:`pullback_metric`.

    Returns
    -------
    xarray.Dataset
        Dims ``path``, ``t``: ``log_volume_element``, ``volume_element``, ``n_directions``; coords
        ``start``, ``end`` (input indices), ``start_label``, ``end_label``, ``length`` (Euclidean
        input distance); with a classifier ``predicted`` and ``margin``. attrs: estimator,
        neurogeom_version, width, n_paths, n_steps, seed, k, tol.

    See Also
    --------
    pullback_metric, metric_on_grid

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(2, 20), torch.nn.Sigmoid())
    >>> x = torch.tensor([[-1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> ds = metric_along_paths(net, x, [0, 1, 1], n_paths=2, n_steps=5)
    >>> ds.log_volume_element.shape
    (2, 5)
    """
    for name, value, low in (("n_paths", n_paths, 1), ("n_steps", n_steps, 2)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}; got {value!r}.")
    _, device = _in_dtype(feature_map, dtype)
    xt = _inputs(x, "metric_along_paths", dtype, device)
    lab = _labels(labels, xt.shape[0], "metric_along_paths")
    rng = np.random.default_rng(seed)
    starts, ends = [], []
    while len(starts) < n_paths:
        i, j = rng.integers(0, xt.shape[0], size=2)
        if lab[i] != lab[j]:
            starts.append(int(i))
            ends.append(int(j))
    t = torch.linspace(0.0, 1.0, n_steps, dtype=dtype, device=xt.device)
    a, b = xt[starts], xt[ends]
    pts = (a[:, None, :] + t[None, :, None] * (b - a)[:, None, :]).reshape(-1, xt.shape[1])
    _, _, logv, rank, width = _metric_tensors(
        feature_map,
        pts,
        dtype=dtype,
        chunk_size=chunk_size,
        mode=mode,
        k=k,
        tol=tol,
        caller="metric_along_paths",
    )
    shape = (n_paths, n_steps)
    lv = logv.cpu().numpy().reshape(shape)
    ds = xr.Dataset(
        {
            "log_volume_element": (("path", "t"), lv),
            "volume_element": (("path", "t"), np.exp(lv)),
            "n_directions": (("path", "t"), rank.cpu().numpy().reshape(shape)),
        },
        coords={
            "path": np.arange(n_paths),
            "t": t.cpu().numpy(),
            "start": ("path", starts),
            "end": ("path", ends),
            "start_label": ("path", lab[starts]),
            "end_label": ("path", lab[ends]),
            "length": ("path", torch.linalg.norm(b - a, dim=1).cpu().numpy()),
        },
        attrs=provenance(
            "metric_along_paths",
            width=width,
            n_paths=n_paths,
            n_steps=n_steps,
            seed=seed,
            k=k,
            tol=tol,
            dtype=str(dtype),
        ),
    )
    if classifier is not None:
        z = _logits(classifier, pts, "metric_along_paths", max(1, chunk_size or 4096))
        pred, margin = _margin(z)
        ds["predicted"] = (("path", "t"), pred.reshape(shape))
        ds["margin"] = (("path", "t"), margin.reshape(shape))
    return ds


# ---- the boundary magnification index -------------------------------------------------------------


@register_measure(
    kind="geometry",
    direction="larger_is_more_magnified",
    invariances=(
        "rotation",
        "reflection",
        "translation",
        "isotropic scaling",
        "permutation of units",
    ),
    citation="Zavatone-Veth, Yang, Rubinfien & Pehlevan, NeurIPS 2023 (pullback metric)",
    inputs="feature_map",
    label="boundary magnification",
    units="log ratio of volume elements",
)
def boundary_magnification(
    feature_map: FeatureMap,
    classifier: Callable,
    x: Any,
    *,
    quantile: float = 0.2,
    k: int | None = None,
    tol: float = SINGULAR_TOL,
    dtype: torch.dtype = torch.float64,
    chunk_size: int | None = None,
    mode: str = "auto",
) -> xr.Dataset:
    """Boundary magnification index: mean log volume element near the decision boundary minus far.

    Parameters
    ----------
    feature_map : callable
        Differentiable torch callable from ``(n, d)`` inputs to ``(n, N)`` features (a network's
        hidden layer, e.g. ``net.features``).
    classifier : callable
        The same network's logits ``(n, C)`` (or a binary decision value ``(n,)``), e.g. ``net``;
        its margin (top logit minus the runner-up) defines the distance to its own boundary.
    x : array or Tensor of shape (n_points, d)
        Probe inputs covering the region of interest (a grid over the inputs' range, or inputs).
    quantile : float in (0, 0.5], default 0.2
        "Near": points whose margin is at or below the ``quantile`` of the margins over ``x``;
        "far": points at or above the ``1 - quantile`` quantile.
    k, tol, dtype, chunk_size, mode
        As in :func:`pullback_metric`.

    Returns
    -------
    xarray.Dataset
        0-d ``boundary_magnification`` (natural-log units: ``log`` of the ratio of geometric-mean
        volume elements near and far) and ``boundary_magnification_sem`` (standard error of the
        difference of two means, treating the points as independent: neighbouring grid points
        are correlated, so read it as a lower bound). Also ``log_volume_near``,
        ``log_volume_far``, ``n_near``, ``n_far``, ``margin_near`` and ``margin_far`` (the two
        margin thresholds). attrs: estimator, neurogeom_version, quantile, n_points, width, k,
        tol, dtype.

    Raises
    ------
    ValueError
        NaN inputs; a classifier that predicts one class on every input (no boundary in the
        region) or whose margin is the same everywhere (a centred network at initialisation has
        zero logits); ``quantile`` outside (0, 0.5].
    TypeError
        A feature map that is not differentiable (see :func:`jacobian`).

    Notes
    -----
    Invariant to: rotation, reflection, translation, isotropic scaling, permutation of units.
    Direction: larger_is_more_magnified (positive: the map expands areas near its decision
    boundary more than far from it).

    The invariances are those of the feature space: an orthogonal map, a shift or a permutation of
    the features leaves ``g`` unchanged, and scaling them by ``c`` adds ``d log c`` to every log
    volume element, which the difference cancels. Training a network on classification raises the
    index (Zavatone-Veth et al. 2023); at random initialisation the metric depends on ``|x|``
    only at large width, so the index reflects only where the random boundary happens to run.

    References
    ----------
    Zavatone-Veth, Yang, Rubinfien & Pehlevan, "Neural networks learn to magnify areas near
    decision boundaries", NeurIPS 2023.

    See Also
    --------
    pullback_metric, metric_on_grid

    Examples
    --------
    >>> import torch
    >>> hidden = torch.nn.Sequential(torch.nn.Linear(2, 50), torch.nn.Sigmoid())
    >>> x = torch.rand(200, 2) * 2 - 1
    >>> ds = boundary_magnification(hidden, lambda v: v, x)  # logits (x1, x2): boundary x1 = x2
    >>> sorted(ds.data_vars)[:2]
    ['boundary_magnification', 'boundary_magnification_sem']
    """
    if isinstance(quantile, bool) or not isinstance(quantile, int | float):
        raise TypeError(f"quantile must be a number in (0, 0.5]; got {quantile!r}.")
    if not 0 < quantile <= 0.5:
        raise ValueError(f"quantile must lie in (0, 0.5]; got {quantile}.")
    xt, _, logv, _, width = _metric_tensors(
        feature_map,
        x,
        dtype=dtype,
        chunk_size=chunk_size,
        mode=mode,
        k=k,
        tol=tol,
        caller="boundary_magnification",
    )
    z = _logits(classifier, xt, "boundary_magnification", max(1, chunk_size or 4096))
    pred, margin = _margin(z)
    if np.unique(pred).size < 2:
        raise ValueError(
            "boundary_magnification() needs a decision boundary inside the probed region, but the "
            f"classifier predicts a single class ({int(pred[0])}) at all {len(pred)} inputs. "
            "Probe a wider region or use a classifier that separates the classes."
        )
    lo, hi = np.quantile(margin, [quantile, 1.0 - quantile])
    if not hi > lo:
        raise ValueError(
            "boundary_magnification() cannot tell near from far: the classifier's margin is the "
            f"same ({lo:.3g}) at the near and far quantiles. A centred network at initialisation "
            "has zero logits everywhere; give the plain network's logits (e.g. center=False)."
        )
    lv = logv.cpu().numpy()
    near, far = lv[margin <= lo], lv[margin >= hi]
    if not (np.isfinite(near).all() and np.isfinite(far).all()):
        raise ValueError(
            "boundary_magnification(): the volume element is zero (log -inf) at some probed "
            "inputs (no singular value above tol); lower tol or probe another region."
        )
    value = near.mean() - far.mean()

    def var_of_mean(v: np.ndarray) -> float:
        return float(v.var(ddof=1) / v.size) if v.size > 1 else float("nan")

    sem = math.sqrt(var_of_mean(near) + var_of_mean(far))
    return xr.Dataset(
        {
            "boundary_magnification": ((), float(value)),
            "boundary_magnification_sem": ((), sem),
            "log_volume_near": ((), float(near.mean())),
            "log_volume_far": ((), float(far.mean())),
            "n_near": ((), int(near.size)),
            "n_far": ((), int(far.size)),
            "margin_near": ((), float(lo)),
            "margin_far": ((), float(hi)),
        },
        attrs=provenance(
            "boundary_magnification",
            quantile=quantile,
            n_points=int(xt.shape[0]),
            width=width,
            k=k,
            tol=tol,
            dtype=str(dtype),
        ),
    )


# ---- closed form for one hidden layer -------------------------------------------------------------


def _derivative(activation: str) -> Callable[[np.ndarray], np.ndarray]:
    if activation == "sigmoid":

        def dsigmoid(z: np.ndarray) -> np.ndarray:
            s = 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic
            return s * (1.0 - s)

        return dsigmoid
    if activation == "erf":
        return lambda z: 2.0 / math.sqrt(math.pi) * np.exp(-(z**2))
    raise ValueError(f"activation must be 'sigmoid' or 'erf'; got {activation!r}.")


def one_layer_metric(
    x: Any, weight: Any, bias: Any | None = None, *, activation: str = "sigmoid"
) -> xr.Dataset:
    """Closed-form pullback metric of one hidden layer ``phi(W x + b)`` with sigmoid or erf units.

    The Jacobian is ``J(x) = diag(phi'(W x + b)) W``, so ``g(x) = W^T diag(phi'(W x + b)^2) W / N``
    with ``phi'(z) = sigma(z) (1 - sigma(z))`` for the logistic sigmoid and
    ``phi'(z) = 2 exp(-z^2) / sqrt(pi)`` for erf. No autograd: use it to check
    :func:`pullback_metric`.

    Parameters
    ----------
    x : array of shape (n_points, d)
    weight : array of shape (N, d)
        Input weights ``W`` (``torch.nn.Linear.weight``).
    bias : array of shape (N,) or None, default None
    activation : {"sigmoid", "erf"}, default "sigmoid"

    Returns
    -------
    xarray.Dataset
        As :func:`pullback_metric` for ``d <= N`` (full rank): ``metric`` (point, row, col),
        ``log_volume_element`` (``0.5 * slogdet g``), ``volume_element``, ``n_directions`` (d).

    See Also
    --------
    pullback_metric

    Examples
    --------
    >>> import numpy as np
    >>> W = np.random.default_rng(0).standard_normal((100, 2))
    >>> ds = one_layer_metric(np.zeros((1, 2)), W, activation="erf")
    >>> g = ds.metric[0].values
    >>> bool(np.allclose(g, (4 / np.pi) * W.T @ W / 100))
    True
    """
    phi_prime = _derivative(activation)
    X = np.asarray(x, dtype=np.float64)
    W = np.asarray(weight, dtype=np.float64)
    b = np.zeros(W.shape[0]) if bias is None else np.asarray(bias, dtype=np.float64)
    if X.ndim != 2 or W.ndim != 2 or X.shape[1] != W.shape[1] or b.shape != (W.shape[0],):
        raise ValueError(
            "one_layer_metric() needs x (n, d), weight (N, d) and bias (N,); got shapes "
            f"{X.shape}, {W.shape}, {b.shape}."
        )
    if not (np.isfinite(X).all() and np.isfinite(W).all() and np.isfinite(b).all()):
        raise ValueError("one_layer_metric() needs finite x, weight and bias (NaN/inf found).")
    width = W.shape[0]
    dphi = phi_prime(X @ W.T + b)  # (n, N)
    g = np.einsum("pi,ik,il->pkl", dphi**2, W, W) / width
    sign, logdet = np.linalg.slogdet(g)
    lv = np.where(sign > 0, 0.5 * logdet, -np.inf)
    d = X.shape[1]
    return xr.Dataset(
        {
            "metric": (("point", "row", "col"), g),
            "log_volume_element": ("point", lv),
            "volume_element": ("point", np.exp(lv)),
            "n_directions": ("point", np.linalg.matrix_rank(g)),
        },
        coords={"point": np.arange(X.shape[0]), "row": np.arange(d), "col": np.arange(d)},
        attrs=provenance("one_layer_metric", width=width, n_inputs=d, activation=activation),
    )
