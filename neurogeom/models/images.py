"""Small images for classifiers: scikit-learn's digits, corruptions, and a linear transfer probe.

:func:`load_digits_split` reads the 1,797 handwritten digits (8x8 pixels, 10 classes) that ship
with scikit-learn (no download), scaled to [0, 1], and splits them into stratified train and test
sets. :func:`corrupt` makes out-of-distribution versions at severities 1-5, in the spirit of
CIFAR-10-C (Hendrycks and Dietterich 2019) scaled down to 8x8 pixels: additive Gaussian
``"noise"``, Gaussian ``"blur"``, and ``"occlusion"`` by a black square. :func:`linear_probe`
measures how well a fixed feature map serves new classes (a logistic regression on the features).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter

from neurogeom.specs.lazy_rich import CORRUPTION_NAMES, SEVERITIES

__all__ = [
    "CORRUPTIONS",
    "SEVERITIES",
    "IMAGE_SHAPE",
    "load_digits_split",
    "corrupt",
    "linear_probe",
]

#: One digit image: (channels, height, width).
IMAGE_SHAPE: tuple[int, int, int] = (1, 8, 8)

#: Parameter of each corruption at severities 1-5: the noise standard deviation (pixel values in
#: [0, 1]), the blur's Gaussian sigma (pixels), the occluding square's side (pixels).
_PARAMETERS: dict[str, tuple[float, ...]] = {
    "noise": (0.1, 0.2, 0.3, 0.45, 0.6),
    "blur": (0.5, 0.75, 1.0, 1.25, 1.5),
    "occlusion": (2, 3, 4, 5, 6),
}
CORRUPTIONS: dict[str, tuple[float, ...]] = {n: _PARAMETERS[n] for n in CORRUPTION_NAMES}


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """All 1,797 digits once per process (scikit-learn parses a CSV on every call), read-only."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x = (data.data / 16.0).astype(np.float32)
    y = data.target.astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def load_digits_split(
    *,
    test_fraction: float = 0.3,
    classes: Sequence[int] | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """scikit-learn's 8x8 digits, pixels in [0, 1], split into stratified train and test sets.

    Parameters
    ----------
    test_fraction : float, default 0.3
        Share of each class held out for testing, in (0, 1).
    classes : sequence of int, optional
        Keep only these digits (labels keep their digit values). Default: all ten.
    seed : int, default 0
        Seed of the split.

    Returns
    -------
    dict
        ``x_train`` (n_train, 64) and ``x_test`` (n_test, 64) float32 pixel values in [0, 1]
        (row-major 8x8 images), ``y_train`` (n_train,) and ``y_test`` (n_test,) int64 digits.

    See Also
    --------
    corrupt : out-of-distribution versions of the images.

    Examples
    --------
    >>> d = load_digits_split(seed=0)
    >>> d["x_train"].shape, d["x_test"].shape
    ((1257, 64), (540, 64))
    >>> float(d["x_train"].max()), sorted(set(d["y_test"].tolist())) == list(range(10))
    (1.0, True)
    """
    from sklearn.model_selection import train_test_split

    if not 0 < float(test_fraction) < 1:
        raise ValueError(f"test_fraction must lie in (0, 1); got {test_fraction}")
    x, y = _digits()
    if classes is not None:
        wanted = [int(c) for c in classes]
        bad = sorted(set(wanted) - set(range(10)))
        if bad or len(set(wanted)) < 2:
            raise ValueError(
                f"classes must be two or more distinct digits in 0..9; got {list(classes)}"
            )
        keep = np.isin(y, wanted)
        x, y = x[keep], y[keep]
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=float(test_fraction), stratify=y, random_state=int(seed)
    )
    parts = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    return {k: np.array(v) for k, v in parts.items()}  # writable copies


def corrupt(
    x: Any,
    kind: str,
    severity: int,
    *,
    seed: int = 0,
    image_shape: Sequence[int] = IMAGE_SHAPE[1:],
) -> np.ndarray:
    """A corrupted copy of flattened images: Gaussian noise, Gaussian blur or a black square.

    Parameters
    ----------
    x : array-like of shape (n, height * width)
        Images with pixel values in [0, 1], row-major.
    kind : {"noise", "blur", "occlusion"}
        ``"noise"``: add ``N(0, s^2)`` per pixel, clipped to [0, 1]; ``"blur"``: Gaussian filter
        of ``sigma`` pixels; ``"occlusion"``: a square of ``side`` pixels set to 0 at a uniformly
        random position per image. Parameters per severity in ``CORRUPTIONS``.
    severity : int
        0 (the images unchanged) or 1-5 (``SEVERITIES``).
    seed : int, default 0
        Seed of the noise and the squares' positions.
    image_shape : (int, int), default (8, 8)
        Height and width of one image.

    Returns
    -------
    numpy.ndarray of shape (n, height * width), float32, values in [0, 1]

    See Also
    --------
    load_digits_split

    Examples
    --------
    >>> x = np.full((2, 64), 0.5, dtype=np.float32)
    >>> occluded = corrupt(x, "occlusion", 5, seed=0)  # a 6x6 black square
    >>> (occluded == 0).sum(axis=1).tolist()
    [36, 36]
    >>> dot = np.zeros((1, 64), dtype=np.float32); dot[0, 27] = 1.0
    >>> float(corrupt(dot, "blur", 3).max()) < 0.2  # a lone bright pixel spreads out
    True
    """

    if kind not in CORRUPTIONS:
        raise ValueError(f"kind must be one of {sorted(CORRUPTIONS)}; got {kind!r}")
    if severity not in (0, *SEVERITIES):
        raise ValueError(
            f"severity must be 0 (clean) or one of {list(SEVERITIES)}; got {severity!r}"
        )
    h, w = (int(s) for s in image_shape)
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != h * w:
        raise ValueError(
            f"x must have shape (n, {h * w}) (flattened {h}x{w} images); got {x.shape}"
        )
    if not np.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values")
    if severity == 0:
        return x.copy()
    p = CORRUPTIONS[kind][severity - 1]
    rng = np.random.default_rng(seed)
    img = x.reshape(-1, h, w)
    if kind == "noise":
        out = np.clip(img + rng.normal(0.0, p, size=img.shape), 0.0, 1.0)
    elif kind == "blur":
        out = gaussian_filter(img, sigma=(0.0, p, p), mode="constant", cval=0.0)
        out = np.clip(out, 0.0, 1.0)
    else:
        side = int(p)
        out = img.copy()
        rows = rng.integers(0, h - side + 1, size=len(img))
        cols = rng.integers(0, w - side + 1, size=len(img))
        for i, (r, c) in enumerate(zip(rows, cols)):
            out[i, r : r + side, c : c + side] = 0.0
    return out.reshape(len(x), h * w).astype(np.float32)


def linear_probe(
    features_train: Any,
    y_train: Any,
    features_test: Any,
    y_test: Any,
    *,
    c: float = 1.0,
    seed: int = 0,
) -> float:
    """Held-out accuracy of a logistic-regression probe on fixed features.

    Features are standardised with the training set's mean and standard deviation, then an
    L2-regularised multinomial logistic regression (scikit-learn, ``C = c``) is fitted.

    Parameters
    ----------
    features_train : array-like of shape (n_train, n_features)
    y_train : array-like of shape (n_train,)
    features_test : array-like of shape (n_test, n_features)
    y_test : array-like of shape (n_test,)
    c : float, default 1.0
        Inverse regularisation strength.
    seed : int, default 0
        Seed of the solver.

    Returns
    -------
    float
        Fraction of test points classified correctly, in [0, 1].

    See Also
    --------
    sklearn.linear_model.LogisticRegression

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1, 2], 30)
    >>> f = rng.normal(size=(90, 5)) + 3 * np.eye(5)[y]
    >>> linear_probe(f[::2], y[::2], f[1::2], y[1::2]) > 0.9
    True
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    f_tr = np.asarray(features_train, dtype=np.float64)
    f_te = np.asarray(features_test, dtype=np.float64)
    y_tr, y_te = np.asarray(y_train), np.asarray(y_test)
    if f_tr.ndim != 2 or f_te.ndim != 2 or f_tr.shape[1] != f_te.shape[1]:
        raise ValueError(
            "features must be 2-D (n, n_features) with the same n_features in train and test; "
            f"got {f_tr.shape} and {f_te.shape}"
        )
    if len(y_tr) != len(f_tr) or len(y_te) != len(f_te):
        raise ValueError("each feature row needs one label (len(y) == number of rows)")
    if not (np.isfinite(f_tr).all() and np.isfinite(f_te).all()):
        raise ValueError("features contain NaN or infinite values")
    if len(np.unique(y_tr)) < 2:
        raise ValueError("y_train holds a single class; a probe needs at least two")
    scaler = StandardScaler().fit(f_tr)
    clf = LogisticRegression(C=float(c), max_iter=2000, random_state=int(seed))
    clf.fit(scaler.transform(f_tr), y_tr)
    return float((clf.predict(scaler.transform(f_te)) == y_te).mean())
