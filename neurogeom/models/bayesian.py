"""Bayesian wide networks: one hidden layer, posterior weights sampled by Langevin dynamics.

The network maps an input ``x`` (``n_inputs`` features) to ``n_classes`` outputs,

.. math::  f(x) = \\frac{1}{N^{\\gamma}} \\sum_{i=1}^{N} a_i\\, \\phi\\bigl(w_i \\cdot x / \\sqrt{n_{in}}\\bigr),

with ``N = n_units`` hidden units, readout weights ``a_i`` and input weights ``w_i``. **Mean-field
scaling** is ``gamma = 1`` (readout 1/N), **standard scaling** ``gamma = 1/2`` (readout
1/sqrt(N)). The posterior over all weights at temperature ``T`` is

.. math::  p(W, a) \\propto \\exp\\Bigl(-\\frac{1}{2T_N} \\sum_\\mu \\lVert f(x_\\mu) - y_\\mu
           \\rVert^2 - \\frac{\\lVert a \\rVert^2 + \\lVert W \\rVert^2}{2\\sigma^2}\\Bigr),

targets ``y`` one-hot, Gaussian prior of standard deviation ``sigma = prior_scale`` (weight decay
``1 / sigma**2``). In mean-field scaling ``T_N = T / N``, so the fit to the data and the prior are
both of order N and the posterior learns strong features as N grows (the feature-learning, or
rich, regime); in standard scaling ``T_N = T`` and the posterior tends to the Gaussian-process
(lazy, kernel) one. Given the input weights the readout is Gaussian, so :func:`sample_posterior`
integrates it out and samples the input weights with unadjusted Langevin dynamics on their
marginal posterior (the gradient of the marginal likelihood, the prior as weight decay, Gaussian
noise),

.. math::  W \\leftarrow W - \\eta\\, \\nabla_W U(W) + \\sqrt{2\\eta}\\, \\xi,
           \\qquad U = -\\log p(W \\mid X, Y),

drawing the readout exactly given ``W`` at every kept sample; ``n_chains`` independent chains
run in one batched float64 computation. Data:
:func:`gaussian_mixture` classes and :func:`digits` (scikit-learn's bundled 8 x 8 digits, no
download). :func:`kernel_predictor` is the lazy (Gaussian-process) mean predictor of the linear
network, and :func:`neurogeom.workflows.coding_phases.coding_phases` sweeps nonlinearity x scaling x prior scale for the phase picture
of coding schemes (van Meegen & Sompolinsky, Nat. Commun. 16, 3354, 2025).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from neurogeom.models.rnn import torch_threads

__all__ = [
    "ACTIVATIONS",
    "SCALINGS",
    "PosteriorSamples",
    "digits",
    "gaussian_mixture",
    "kernel_predictor",
    "sample_posterior",
]

ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": lambda z: z,
    "erf": torch.erf,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
}
SCALINGS = {"mean_field": 1.0, "standard": 0.5}


# ---- data ------------------------------------------------------------------------------------------


def gaussian_mixture(
    n_classes: int = 3,
    n_per_class: int = 20,
    n_inputs: int = 20,
    *,
    noise: float = 0.5,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Points around ``n_classes`` random centres (Gaussian-mixture classes).

    Parameters
    ----------
    n_classes, n_per_class, n_inputs : int
        Classes, points per class and input features.
    noise : float, default=0.5
        Standard deviation of each feature around its class centre; centres have independent
        N(0, 1) features, so ``noise = 1`` makes the within-class spread equal to the spread of the
        centres.
    seed : int, default=0

    Returns
    -------
    x : ndarray of shape (n_classes * n_per_class, n_inputs), float64
    labels : ndarray of shape (n_classes * n_per_class,), int
        Classes 0..n_classes-1, in blocks.

    See Also
    --------
    digits : a task of real images.
    sample_posterior : a network sampled on them.

    Examples
    --------
    >>> x, labels = gaussian_mixture(3, 5, 4)
    >>> x.shape, labels.tolist()[:6]
    ((15, 4), [0, 0, 0, 0, 0, 1])
    """
    _check_int(n_classes, "n_classes", 2)
    _check_int(n_per_class, "n_per_class", 1)
    _check_int(n_inputs, "n_inputs", 1)
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_inputs))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    x = centres[labels] + float(noise) * rng.standard_normal((labels.size, n_inputs))
    return x, labels


def digits(
    classes: Sequence[int] = (0, 1, 2), n_per_class: int = 30, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8 x 8 handwritten digits (bundled, no download), z-scored per pixel.

    Parameters
    ----------
    classes : sequence of int, default=(0, 1, 2)
        Digits to keep (labels 0..len(classes)-1 in this order).
    n_per_class : int, default=30
        Images drawn per digit (at most 174, the smallest class).
    seed : int, default=0

    Returns
    -------
    x : ndarray of shape (len(classes) * n_per_class, 64), float64
        Pixels z-scored over the chosen images (constant pixels set to 0).
    labels : ndarray of shape (len(classes) * n_per_class,), int

    See Also
    --------
    gaussian_mixture : a synthetic task.
    sample_posterior : a network sampled on them.

    Examples
    --------
    >>> x, labels = digits((3, 8), 10)
    >>> x.shape, sorted(set(labels.tolist()))
    ((20, 64), [0, 1])
    """
    from sklearn.datasets import load_digits

    classes = [int(c) for c in classes]
    if len(set(classes)) < 2 or not all(0 <= c <= 9 for c in classes):
        raise ValueError(f"digits() needs 2 or more distinct digits in 0..9; got {classes}.")
    _check_int(n_per_class, "n_per_class", 1)
    data = load_digits()
    rng = np.random.default_rng(seed)
    rows, labels = [], []
    for k, c in enumerate(classes):
        idx = np.flatnonzero(data.target == c)
        if n_per_class > idx.size:
            raise ValueError(f"digits() has {idx.size} images of {c}; asked for {n_per_class}.")
        rows.append(rng.choice(idx, size=n_per_class, replace=False))
        labels.append(np.full(n_per_class, k))
    x = data.data[np.concatenate(rows)].astype(np.float64)
    sd = x.std(axis=0)
    x = np.where(sd > 0, (x - x.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    return x, np.concatenate(labels)


# ---- the sampler -------------------------------------------------------------------------------


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {value!r}.")
    return int(value)


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    if not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite number > 0; got {value!r}.")
    return float(value)


def _inputs(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must have shape (n_points, n_inputs); got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} has {int((~np.isfinite(arr)).sum())} NaN/inf values; drop them.")
    return arr


def _classes(labels: object, n_rows: int) -> tuple[np.ndarray, int]:
    """Integer class labels 0..n_classes-1, one per row of x, every class used, at least 2."""
    lab = np.asarray(labels)
    if lab.shape != (n_rows,) or lab.dtype.kind not in "iu":
        raise ValueError(
            f"labels must be {n_rows} integer classes 0..n_classes-1 (one per row of x); got "
            f"shape {lab.shape}, dtype {lab.dtype}."
        )
    n_classes = int(lab.max()) + 1 if lab.size else 0
    if lab.min() < 0 or n_classes < 2 or len(np.unique(lab)) != n_classes:
        raise ValueError(
            f"labels must use every class 0..n_classes-1 with at least 2 classes; got "
            f"{sorted(set(lab.tolist()))}."
        )
    return lab, n_classes


@dataclass(frozen=True)
class PosteriorSamples:
    """Posterior samples of a one-hidden-layer network (from :func:`sample_posterior`).

    Parameters
    ----------
    hidden : ndarray of shape (n_chains, n_samples, n_points, n_units)
        Hidden activity phi(w_i . x / sqrt(n_inputs)) on the training inputs at every kept sample.
    readout : ndarray of shape (n_chains, n_samples, n_units, n_classes)
    outputs : ndarray of shape (n_chains, n_samples, n_points, n_classes)
        Network outputs on the training inputs.
    test_outputs : ndarray of shape (n_chains, n_samples, n_test, n_classes)
        Outputs on ``x_test`` (empty when none was given).
    labels : ndarray of shape (n_points,)
    activation, scaling : str
    temperature, prior_scale, step_size : float

    See Also
    --------
    sample_posterior : draws them.
    neurogeom.geometry.coding_scheme : the coding scheme of their points.

    Examples
    --------
    >>> x, y = gaussian_mixture(2, 10, 5)
    >>> s = sample_posterior(x, y, activation="linear", n_units=20, n_steps=200, n_chains=2)
    >>> s.points().shape
    (20, 20)
    """

    hidden: np.ndarray
    readout: np.ndarray
    outputs: np.ndarray
    test_outputs: np.ndarray
    labels: np.ndarray
    activation: str
    scaling: str
    temperature: float
    prior_scale: float
    step_size: float

    def points(self, chain: int = 0, sample: int = -1) -> np.ndarray:
        """Hidden activity of one posterior sample, (n_points, n_units): ``coding_scheme``'s input.

        Parameters
        ----------
        chain : int, default=0
            The chain.
        sample : int, default=-1
            The sample of that chain (default: its last).

        Returns
        -------
        ndarray of shape (n_points, n_units)
            Hidden activity.

        See Also
        --------
        PosteriorSamples.mean_predictor : the posterior mean output.

        Examples
        --------
        >>> x, y = gaussian_mixture(2, 10, 5)
        >>> s = sample_posterior(x, y, activation="linear", n_units=20, n_steps=200, n_chains=2)
        >>> s.points(chain=1, sample=0).shape
        (20, 20)
        """
        return self.hidden[chain, sample]

    def mean_predictor(self, test: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean output and its sampling error (chains as independent replicates).

        Parameters
        ----------
        test : bool, default=True
            The test inputs' outputs (else the training inputs').

        Returns
        -------
        mean : ndarray of shape (n_test or n_points, n_classes)
        sem : ndarray of the same shape
            Standard deviation of the chain means over sqrt(n_chains) (NaN for one chain).

        See Also
        --------
        kernel_predictor : the infinite-width prediction.
        PosteriorSamples.accuracy : its training accuracy.

        Examples
        --------
        >>> x, y = gaussian_mixture(2, 10, 5)
        >>> s = sample_posterior(x, y, activation="linear", n_units=20, n_steps=200, n_chains=2)
        >>> mean, sem = s.mean_predictor(test=False)
        >>> mean.shape == sem.shape
        True
        """
        out = self.test_outputs if test else self.outputs
        chain_means = out.mean(axis=1)
        n = chain_means.shape[0]
        sem = (
            chain_means.std(axis=0, ddof=1) / math.sqrt(n)
            if n > 1
            else np.full_like(out[0, 0], np.nan)
        )
        return chain_means.mean(axis=0), sem

    def accuracy(self) -> float:
        """Training accuracy of the mean predictor (argmax of the outputs).

        Returns
        -------
        float
            The fraction of training points classified correctly, in [0, 1].

        See Also
        --------
        PosteriorSamples.mean_predictor : the predictor it scores.

        Examples
        --------
        >>> x, y = gaussian_mixture(2, 10, 5)
        >>> s = sample_posterior(x, y, activation="linear", n_units=20, n_steps=200, n_chains=2)
        >>> 0.0 <= s.accuracy() <= 1.0
        True
        """
        mean, _ = self.mean_predictor(test=False)
        return float(np.mean(mean.argmax(axis=1) == self.labels))


def sample_posterior(
    x: np.ndarray,
    labels: np.ndarray,
    *,
    activation: str = "erf",
    scaling: str = "mean_field",
    n_units: int = 100,
    temperature: float = 0.01,
    prior_scale: float = 1.0,
    n_steps: int = 3000,
    step_size: float | None = None,
    n_chains: int = 4,
    n_samples: int = 10,
    x_test: np.ndarray | None = None,
    seed: int = 0,
    n_threads: int | None = 1,
) -> PosteriorSamples:
    """Sample the weight posterior of a one-hidden-layer network by Langevin dynamics.

    Parameters
    ----------
    x : ndarray of shape (n_points, n_inputs)
        Training inputs.
    labels : ndarray of shape (n_points,)
        Integer classes 0..n_classes-1; the targets are their one-hot vectors.
    activation : {"linear", "erf", "sigmoid", "relu"}, default="erf"
    scaling : {"mean_field", "standard"}, default="mean_field"
        Readout 1/N (mean-field, with temperature T/N) or 1/sqrt(N) (standard, temperature T).
    n_units : int, default=100
        Hidden units N.
    temperature : float, default=0.01
        T: the variance of the Gaussian likelihood of the outputs (per output, before the 1/N of
        mean-field scaling).
    prior_scale : float, default=1.0
        Prior standard deviation sigma of every weight (weight decay 1 / sigma**2).
    n_steps : int, default=3000
        Langevin steps per chain; samples are kept evenly over the second half.
    step_size : float, optional
        eta; default ``0.3 min(sigma**2, T N / (n_points sigma**2))``, the inverse curvature of
        start (the data term at the least-squares readout scale plus the prior).
    n_chains : int, default=4
        Independent chains, run as one batch; their spread gives the sampling error.
    n_samples : int, default=10
        Samples kept per chain.
    x_test : ndarray of shape (n_test, n_inputs), optional
        Inputs on which the outputs of every sample are recorded.
    seed : int, default=0
    n_threads : int or None, default=1
        torch CPU threads for the run (None: leave torch's setting).

    Returns
    -------
    PosteriorSamples

    Notes
    -----
    Each step computes the marginal likelihood of the one-hot targets given the hidden layer,
    ``N(Y; 0, sigma**2 N^(-2 gamma) h h^T + T_N I)`` per class (a Cholesky factor of an
    n_points x n_points matrix per chain), and its gradient by autograd. The chains are
    unadjusted (no Metropolis step): ``step_size`` trades bias for mixing time; a step too large
    stops with a ``FloatingPointError``.

    See Also
    --------
    kernel_predictor : the lazy mean predictor of the linear network.
    neurogeom.geometry.coding.coding_scheme : the scheme of ``samples.points()``.

    Examples
    --------
    >>> x, y = gaussian_mixture(2, 10, 5)
    >>> s = sample_posterior(x, y, activation="linear", n_units=20, n_steps=200, n_chains=2)
    >>> s.points().shape
    (20, 20)
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}; got {activation!r}.")
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {sorted(SCALINGS)}; got {scaling!r}.")
    xs = _inputs(x, "x")
    lab, n_classes = _classes(labels, xs.shape[0])
    n = _check_int(n_units, "n_units", 1)
    temp = _check_positive(temperature, "temperature")
    sigma = _check_positive(prior_scale, "prior_scale")
    n_steps = _check_int(n_steps, "n_steps", 2)
    n_chains = _check_int(n_chains, "n_chains", 1)
    n_samples = _check_int(n_samples, "n_samples", 1)
    if n_samples > n_steps // 2:
        raise ValueError(f"n_samples ({n_samples}) must be at most n_steps // 2 ({n_steps // 2}).")
    xt = _inputs(x_test, "x_test") if x_test is not None else np.zeros((0, xs.shape[1]))
    if xt.shape[1] != xs.shape[1]:
        raise ValueError(f"x_test has {xt.shape[1]} features; x has {xs.shape[1]}.")
    gamma = SCALINGS[scaling]
    t_eff = temp / n if scaling == "mean_field" else temp
    phi = ACTIVATIONS[activation]
    if step_size is None:
        eta = 0.3 * min(sigma**2, temp * n / (xs.shape[0] * sigma**2))
    else:
        eta = _check_positive(step_size, "step_size")
    with torch_threads(n_threads):
        gen = torch.Generator().manual_seed(int(seed))
        dt = torch.float64
        X = torch.as_tensor(xs, dtype=dt) / math.sqrt(xs.shape[1])
        Xt = torch.as_tensor(xt, dtype=dt) / math.sqrt(xs.shape[1])
        Y = torch.nn.functional.one_hot(torch.as_tensor(lab, dtype=torch.long), n_classes).to(dt)
        eye = torch.eye(xs.shape[0], dtype=dt)
        W = sigma * torch.randn(n_chains, n, xs.shape[1], generator=gen, dtype=dt)
        scale = n**-gamma
        keep = set(np.linspace(n_steps // 2, n_steps - 1, n_samples).round().astype(int).tolist())
        rec: dict[str, list[Tensor]] = {"hidden": [], "readout": [], "out": [], "test": []}
        noise = math.sqrt(2.0 * eta)
        for step in range(n_steps):
            W.requires_grad_(True)
            hidden = phi(X @ W.transpose(1, 2))  # (chains, points, units)
            cov = (scale * sigma) ** 2 * hidden @ hidden.transpose(1, 2) + t_eff * eye
            chol, info = torch.linalg.cholesky_ex(cov)
            if bool((info != 0).any()) or not torch.isfinite(W).all():
                raise FloatingPointError(
                    f"Langevin dynamics diverged at step {step} (step_size {eta:.3g}); pass a "
                    "smaller step_size."
                )
            alpha = torch.cholesky_solve(Y.expand(n_chains, -1, -1), chol)
            logdet = 2.0 * torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum()
            energy = 0.5 * (Y * alpha).sum() + 0.5 * n_classes * logdet
            prior = 0.5 * (W**2).sum() / sigma**2
            (gW,) = torch.autograd.grad(energy + prior, (W,))
            with torch.no_grad():
                if step in keep:
                    h = hidden.detach()
                    A = _readout(h, Y, scale, sigma, t_eff, gen)
                    rec["hidden"].append(h.clone())
                    rec["readout"].append(A)
                    rec["out"].append(scale * h @ A)
                    rec["test"].append(scale * phi(Xt @ W.detach().transpose(1, 2)) @ A)
                W = W - eta * gW + noise * torch.randn(W.shape, generator=gen, dtype=dt)
    stack = {k: torch.stack(v, dim=1).numpy() for k, v in rec.items()}
    return PosteriorSamples(
        hidden=stack["hidden"],
        readout=stack["readout"],
        outputs=stack["out"],
        test_outputs=stack["test"],
        labels=lab,
        activation=activation,
        scaling=scaling,
        temperature=temp,
        prior_scale=sigma,
        step_size=float(eta),
    )


def _readout(
    hidden: Tensor, Y: Tensor, scale: float, sigma: float, t_eff: float, gen: torch.Generator
) -> Tensor:
    """Exact draw of the readout given the hidden layer: its posterior is Gaussian.

    Precision ``scale**2 h^T h / t_eff + I / sigma**2``, mean ``Sigma scale h^T Y / t_eff``;
    returns (chains, units, classes).
    """
    n_units = hidden.shape[-1]
    prec = (scale**2 / t_eff) * hidden.transpose(1, 2) @ hidden
    prec = prec + torch.eye(n_units, dtype=hidden.dtype) / sigma**2
    chol = torch.linalg.cholesky(prec)
    mean = torch.cholesky_solve((scale / t_eff) * hidden.transpose(1, 2) @ Y, chol)
    z = torch.randn(mean.shape, generator=gen, dtype=hidden.dtype)
    # A = mean + L^-T z has covariance (L L^T)^-1 = Sigma
    return mean + torch.linalg.solve_triangular(chol.transpose(1, 2), z, upper=True)


def kernel_predictor(
    x: np.ndarray, labels: np.ndarray, x_test: np.ndarray, *, temperature: float, prior_scale: float
) -> np.ndarray:
    """Lazy (Gaussian-process) mean predictor of the linear one-hidden-layer network.

    The kernel of the linear network is ``K(x, x') = sigma**4 x . x' / n_inputs``; with the
    likelihood variance ``T`` the posterior mean is ``K(x_test, X) (K(X, X) + T I)^-1 Y`` (Y the
    one-hot targets). Mean-field scaling divides both ``K`` and ``T`` by N, which cancels.

    Parameters
    ----------
    x : ndarray of shape (n_points, n_inputs)
    labels : ndarray of shape (n_points,)
    x_test : ndarray of shape (n_test, n_inputs)
    temperature, prior_scale : float
        T and sigma as in :func:`sample_posterior`.

    Returns
    -------
    ndarray of shape (n_test, n_classes)

    See Also
    --------
    sample_posterior : the finite-width posterior.
    PosteriorSamples.mean_predictor : its mean prediction.

    Examples
    --------
    >>> x, y = gaussian_mixture(2, 10, 5)
    >>> kernel_predictor(x, y, x[:3], temperature=1e-3, prior_scale=1.0).shape
    (3, 2)
    """
    xs, xt = _inputs(x, "x"), _inputs(x_test, "x_test")
    lab = np.asarray(labels)
    temp = _check_positive(temperature, "temperature")
    sigma = _check_positive(prior_scale, "prior_scale")
    Y = np.eye(int(lab.max()) + 1)[lab]
    k = sigma**4 / xs.shape[1]
    K = k * xs @ xs.T
    return (k * xt @ xs.T) @ np.linalg.solve(K + temp * np.eye(len(xs)), Y)
