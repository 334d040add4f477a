"""Feedforward classifiers with an output scale alpha, and their training with checkpoints.

:class:`MLP` is a fully connected network ``n_inputs -> widths... -> n_outputs`` and :class:`SmallCNN`
a two-convolution network for small images; both expose ``features(x, layer)`` (the activity of a
hidden layer) and ``forward(x)`` (the logits). :func:`train_classifier` trains either with
cross-entropy and SGD with momentum and returns the weights at chosen steps.

The output scale ``alpha`` follows Chizat, Oyallon and Bach (2019, "On lazy training in
differentiable programming"), the convention of the lazy-to-rich sweeps in representational-geometry
studies of feature learning: the network's logits are

.. math::  F_\\alpha(x; w) = \\alpha\\,\\bigl(f(x; w) - f(x; w_0)\\bigr),

with ``w0`` the weights at initialisation (kept, frozen, in the module as ``initial``; the trained
layers are ``net``: ``net.hidden[i]`` and ``net.readout`` for the MLP), and the
training loss is divided by ``alpha**2``, ``L(w) = CE(F_alpha(x; w), y) / alpha**2``. With a fixed
learning rate the logits then move at a speed that does not depend on alpha while the weights move
by ``O(1/alpha)``: large alpha is the lazy (kernel) regime, small alpha the rich (feature-learning)
one. ``center=False`` drops the ``f(x; w0)`` term (a plain network whose logits are scaled by alpha).

Initialisation (``init``): ``"normal"`` (the default) draws weights ``N(0, gain / fan_in)`` with
``gain = 2`` for ReLU and 1 otherwise, biases 0, the readout ``N(0, 1 / fan_in)``: every hidden unit
of the first layer is then centred on the origin of input space. ``"uniform"`` is PyTorch's own
default for ``nn.Linear`` and ``nn.Conv2d``: weights and biases ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``,
so the units' transitions are spread over the inputs' range (the setting of the pullback-metric
studies of Zavatone-Veth et al. 2023). All draws come from ``seed`` and leave torch's global
generator untouched.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from neurogeom.models.rnn import torch_threads
from neurogeom.specs.lazy_rich import ACTIVATION_NAMES, INIT_NAMES

__all__ = ["ACTIVATIONS", "MLP", "SmallCNN", "train_classifier", "weight_change"]

_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": lambda z: z,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "erf": torch.erf,
    "tanh": torch.tanh,
}
#: The unit nonlinearities, by the names the specs allow (:data:`neurogeom.specs.lazy_rich.ACTIVATION_NAMES`).
ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {n: _FUNCTIONS[n] for n in ACTIVATION_NAMES}


def _activation(name: str) -> Callable[[Tensor], Tensor]:
    if name not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(ACTIVATIONS)}; got {name!r}. "
            "Pick one of these names."
        )
    return ACTIVATIONS[name]


def _check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha (output scale) must be a finite number > 0; got {alpha}")
    return alpha


INITS = INIT_NAMES


def _check_init(init: str) -> str:
    if init not in INITS:
        raise ValueError(f"init must be one of {list(INITS)}; got {init!r}")
    return init


def _init_(layer: nn.Module, gain: float, generator: torch.Generator, init: str = "normal") -> None:
    """Draw ``layer``'s parameters from ``generator``: ``"normal"``, ``N(0, gain / fan_in)``
    weights and zero biases; ``"uniform"``, weights and biases ``U(+-1/sqrt(fan_in))``."""
    w = layer.weight
    fan_in = w[0].numel()
    with torch.no_grad():
        if init == "uniform":
            bound = 1.0 / math.sqrt(fan_in)
            w.copy_((torch.rand(w.shape, generator=generator) * 2 - 1) * bound)
            if layer.bias is not None:
                b = layer.bias
                b.copy_((torch.rand(b.shape, generator=generator) * 2 - 1) * bound)
            return
        w.copy_(torch.randn(w.shape, generator=generator) * math.sqrt(gain / fan_in))
        if layer.bias is not None:
            layer.bias.zero_()


class _ScaledClassifier(nn.Module):
    """Shared part of :class:`MLP` and :class:`SmallCNN`: the alpha-scaled, centred logits."""

    alpha: float
    center: bool

    def _finish_init(self, alpha: float, center: bool) -> None:
        self.alpha = _check_alpha(alpha)
        self.center = bool(center)
        if self.center:
            initial = copy.deepcopy(self.net)
            for p in initial.parameters():
                p.requires_grad_(False)
            self.initial = initial

    def _check_input(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor; got {type(x).__name__}")
        if not x.is_floating_point():
            raise TypeError(
                f"x must be a floating-point tensor; got dtype {x.dtype}. Use x.float()."
            )
        return x

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``alpha (f(x; w) - f(x; w0))`` (``alpha f(x; w)`` when ``center=False``).

        Parameters
        ----------
        x : Tensor of shape (n, ...) as the network takes it

        Returns
        -------
        Tensor of shape (n, n_outputs)
        """
        x = self._check_input(x)
        out = self.net.logits(x)
        if self.center:
            with torch.no_grad():
                out0 = self.initial.logits(x)
            out = out - out0
        return self.alpha * out

    def features(self, x: Tensor, layer: int = -1) -> Tensor:
        """Activity of a hidden layer (after the nonlinearity), flattened per sample.

        Parameters
        ----------
        x : Tensor of shape (n, ...) as the network takes it
        layer : int, default -1
            Index of the hidden layer, from 0 (first) to ``n_hidden - 1``; negative counts from the
            last hidden layer (``-1``: the layer the readout reads).

        Returns
        -------
        Tensor of shape (n, n_units of that layer)
        """
        return self.net.features(self._check_input(x), layer)

    @property
    def n_hidden(self) -> int:
        """Number of hidden layers ``features`` can read."""
        return self.net.n_hidden

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The parameters training moves (the frozen copy ``initial`` excluded)."""
        return list(self.net.parameters())


def _layer_index(layer: int, n_hidden: int) -> int:
    if not isinstance(layer, int) or isinstance(layer, bool):
        raise TypeError(f"layer must be an int; got {type(layer).__name__}")
    idx = layer + n_hidden if layer < 0 else layer
    if not 0 <= idx < n_hidden:
        raise ValueError(
            f"layer {layer} is out of range for a network with {n_hidden} hidden layers; "
            f"use 0..{n_hidden - 1} or -1..-{n_hidden}."
        )
    return idx


class _MLPBody(nn.Module):
    def __init__(self, sizes: list[int], n_outputs: int, activation: str, bias: bool) -> None:
        super().__init__()
        self.phi = _activation(activation)
        self.hidden = nn.ModuleList(
            nn.Linear(a, b, bias=bias) for a, b in zip(sizes[:-1], sizes[1:])
        )
        self.readout = nn.Linear(sizes[-1], n_outputs, bias=bias)
        self.n_hidden = len(self.hidden)
        self.n_inputs = sizes[0]

    def _flat(self, x: Tensor) -> Tensor:
        x = x.reshape(x.shape[0], -1)
        if x.shape[1] != self.n_inputs:
            raise ValueError(
                f"x has {x.shape[1]} input features per sample; the network takes {self.n_inputs}"
            )
        return x

    def features(self, x: Tensor, layer: int) -> Tensor:
        idx = _layer_index(layer, self.n_hidden)
        h = self._flat(x)
        for lin in self.hidden[: idx + 1]:
            h = self.phi(lin(h))
        return h

    def logits(self, x: Tensor) -> Tensor:
        h = self._flat(x)
        for lin in self.hidden:
            h = self.phi(lin(h))
        return self.readout(h)


class MLP(_ScaledClassifier):
    """Fully connected network: n_inputs -> widths... -> n_outputs, output scale alpha.

    Parameters
    ----------
    n_inputs : int
        Input features per sample (inputs of any shape ``(n, ...)`` are flattened).
    widths : sequence of int
        Hidden-layer widths, at least one layer.
    n_outputs : int
        Number of classes (logits).
    activation : {"linear", "relu", "sigmoid", "erf", "tanh"}, default "relu"
    bias : bool, default True
        Biases in every layer (0 at initialisation with ``init="normal"``).
    alpha : float, default 1.0
        Output scale (Chizat et al. 2019): logits ``alpha (f(w) - f(w0))``; with
        :func:`train_classifier` the loss is divided by ``alpha**2``. Large alpha: lazy training.
    seed : int, default 0
        Seed of the initial weights.
    center : bool, default True
        Subtract the initial network's output ``f(w0)`` (so the logits are 0 at initialisation).
        ``False``: a plain network, logits ``alpha f(w)``.
    init : {"normal", "uniform"}, default "normal"
        Initial weights: ``"normal"``, ``N(0, gain / fan_in)`` (gain 2 for ReLU, else 1) and zero
        biases; ``"uniform"``, PyTorch's default, weights and biases ``U(+-1/sqrt(fan_in))``.

    See Also
    --------
    SmallCNN : the convolutional counterpart.
    train_classifier : cross-entropy training with checkpoints.

    Examples
    --------
    >>> import torch
    >>> net = MLP(4, [16, 8], 3, activation="tanh", alpha=10.0, seed=1)
    >>> x = torch.randn(5, 4)
    >>> net(x).shape, net.features(x).shape, net.features(x, layer=0).shape
    (torch.Size([5, 3]), torch.Size([5, 8]), torch.Size([5, 16]))
    >>> float(net(x).detach().abs().max())  # centred: zero at initialisation
    0.0
    """

    def __init__(
        self,
        n_inputs: int,
        widths: Sequence[int],
        n_outputs: int,
        *,
        activation: str = "relu",
        bias: bool = True,
        alpha: float = 1.0,
        seed: int = 0,
        center: bool = True,
        init: str = "normal",
    ) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        if len(widths) < 1 or min(widths) < 1 or int(n_inputs) < 1 or int(n_outputs) < 1:
            raise ValueError(
                "MLP needs n_inputs >= 1, n_outputs >= 1 and at least one hidden width >= 1; got "
                f"n_inputs={n_inputs}, widths={widths}, n_outputs={n_outputs}"
            )
        self.activation = activation
        self.net = _MLPBody([int(n_inputs), *widths], int(n_outputs), activation, bias)
        gen = torch.Generator().manual_seed(int(seed))
        gain = 2.0 if activation == "relu" else 1.0
        self.init = _check_init(init)
        for lin in self.net.hidden:
            _init_(lin, gain, gen, init)
        _init_(self.net.readout, 1.0, gen, init)
        self._finish_init(alpha, center)


class _CNNBody(nn.Module):
    def __init__(
        self,
        image_shape: tuple[int, int, int],
        channels: tuple[int, int],
        width: int,
        n_outputs: int,
        activation: str,
        bias: bool,
    ) -> None:
        super().__init__()
        self.phi = _activation(activation)
        self.image_shape = image_shape
        c, h, w = image_shape
        self.conv1 = nn.Conv2d(c, channels[0], 3, padding=1, bias=bias)
        self.conv2 = nn.Conv2d(channels[0], channels[1], 3, padding=1, bias=bias)
        self.pool = nn.AvgPool2d(2)
        self.fc = nn.Linear(channels[1] * (h // 2) * (w // 2), width, bias=bias)
        self.readout = nn.Linear(width, n_outputs, bias=bias)
        self.n_hidden = 3

    def _image(self, x: Tensor) -> Tensor:
        c, h, w = self.image_shape
        if x[0].numel() != c * h * w:
            raise ValueError(
                f"each sample has {x[0].numel()} values; the network takes images of shape "
                f"{self.image_shape} ({c * h * w} values)"
            )
        return x.reshape(x.shape[0], c, h, w)

    def _layers(self, x: Tensor, upto: int) -> Tensor:
        h = self.pool(self.phi(self.conv1(self._image(x))))
        if upto == 0:
            return h.flatten(1)
        h = self.phi(self.conv2(h))
        if upto == 1:
            return h.flatten(1)
        return self.phi(self.fc(h.flatten(1)))

    def features(self, x: Tensor, layer: int) -> Tensor:
        return self._layers(x, _layer_index(layer, self.n_hidden))

    def logits(self, x: Tensor) -> Tensor:
        return self.readout(self._layers(x, 2))


class SmallCNN(_ScaledClassifier):
    """A 3x3 convolution, a 2x2 average pool, a second 3x3 convolution, one dense layer.

    Layers read by ``features``: 0 the first convolution's maps after pooling, 1 the second's,
    2 (= -1) the dense hidden layer the readout reads.

    Parameters
    ----------
    image_shape : (channels, height, width)
        Shape of one image; inputs ``(n, channels * height * width)`` or ``(n, c, h, w)``.
    n_outputs : int
        Number of classes.
    channels : (int, int), default (8, 16)
        Feature maps of the two convolutions.
    width : int, default 64
        Units of the dense hidden layer.
    activation, bias, alpha, seed, center, init
        As in :class:`MLP`.

    See Also
    --------
    MLP, train_classifier

    Examples
    --------
    >>> import torch
    >>> net = SmallCNN((1, 8, 8), 10, alpha=5.0, seed=0)
    >>> x = torch.rand(3, 64)
    >>> net(x).shape, net.features(x).shape, net.features(x, layer=1).shape
    (torch.Size([3, 10]), torch.Size([3, 64]), torch.Size([3, 256]))
    >>> net.features(x, layer=0).shape  # 8 maps of 4x4 after pooling
    torch.Size([3, 128])
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        n_outputs: int,
        *,
        channels: Sequence[int] = (8, 16),
        width: int = 64,
        activation: str = "relu",
        bias: bool = True,
        alpha: float = 1.0,
        seed: int = 0,
        center: bool = True,
        init: str = "normal",
    ) -> None:
        super().__init__()
        shape = tuple(int(s) for s in image_shape)
        chans = tuple(int(c) for c in channels)
        if len(shape) != 3 or min(shape) < 1 or len(chans) != 2 or min(chans) < 1:
            raise ValueError(
                "SmallCNN needs image_shape = (channels, height, width) and two channel counts "
                f">= 1; got image_shape={tuple(image_shape)}, channels={tuple(channels)}"
            )
        if shape[1] < 2 or shape[2] < 2 or int(width) < 1 or int(n_outputs) < 1:
            raise ValueError(
                f"SmallCNN needs images of at least 2x2, width >= 1 and n_outputs >= 1; got "
                f"image_shape={shape}, width={width}, n_outputs={n_outputs}"
            )
        self.activation = activation
        self.net = _CNNBody(shape, chans, int(width), int(n_outputs), activation, bias)  # type: ignore[arg-type]
        gen = torch.Generator().manual_seed(int(seed))
        gain = 2.0 if activation == "relu" else 1.0
        self.init = _check_init(init)
        for lay in (self.net.conv1, self.net.conv2, self.net.fc):
            _init_(lay, gain, gen, init)
        _init_(self.net.readout, 1.0, gen, init)
        self._finish_init(alpha, center)


def _check_training_data(x: Tensor, y: Tensor, n_outputs: int | None) -> tuple[Tensor, Tensor]:
    if not isinstance(x, Tensor) or not isinstance(y, Tensor):
        raise TypeError(
            "x and y must be torch tensors (x float of shape (n, ...), y int of shape (n,))"
        )
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}. Use x.float().")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y must have shape (n,) with n = x.shape[0] = {x.shape[0]}; got {tuple(y.shape)}"
        )
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class labels; got dtype {y.dtype}. Use y.long().")
    if x.shape[0] < 2:
        raise ValueError(f"need at least 2 training samples; got {x.shape[0]}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or infinite values; drop or impute them before training")
    y = y.long()
    if int(y.min()) < 0 or (n_outputs is not None and int(y.max()) >= n_outputs):
        raise ValueError(
            f"labels must lie in 0..{(n_outputs or 0) - 1} (the network's outputs); got "
            f"{int(y.min())}..{int(y.max())}"
        )
    if torch.unique(y).numel() < 2:
        raise ValueError("y holds a single class; a classifier needs at least two")
    return x, y


def train_classifier(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    *,
    lr: float = 0.1,
    momentum: float = 0.9,
    n_steps: int = 1000,
    batch_size: int | None = None,
    checkpoint_steps: Sequence[int] | None = None,
    seed: int = 0,
) -> list[tuple[int, dict[str, Tensor]]]:
    """Train a classifier with cross-entropy and SGD with momentum; weights at chosen steps.

    The loss is ``CE(model(x), y) / alpha**2`` with ``alpha = model.alpha`` (1 when the model has
    none), the lazy-training scaling of Chizat et al. (2019). The model is trained in place, with
    one torch CPU thread (these networks are small: on a shared machine two threads waiting for each
    other at every step are often 10x slower than one).

    Parameters
    ----------
    model : torch.nn.Module
        Maps ``x`` to logits of shape (n, n_classes); :class:`MLP` or :class:`SmallCNN`, or any module.
    x : Tensor of shape (n, ...), float
        Training inputs.
    y : Tensor of shape (n,), int
        Class labels in ``0..n_classes - 1``.
    lr : float, default 0.1
        Learning rate.
    momentum : float, default 0.9
        SGD momentum.
    n_steps : int, default 1000
        Parameter updates.
    batch_size : int or None, default None
        Samples per minibatch, drawn without replacement, reshuffled every pass (seeded); ``None``:
        the whole set each step.
    checkpoint_steps : sequence of int or None, default None
        Steps (0 = before training, ``n_steps`` = the end) at which the weights are kept;
        ``None``: ``[0, n_steps]``.
    seed : int, default 0
        Seed of the minibatch order.

    Returns
    -------
    list of (int, dict)
        ``(step, state_dict)`` in increasing step order; tensors are detached CPU copies.

    See Also
    --------
    MLP, SmallCNN, weight_change

    Examples
    --------
    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> x = torch.randn(40, 2, generator=gen)
    >>> y = (x[:, 0] > 0).long()
    >>> net = MLP(2, [16], 2, seed=0)
    >>> ckpts = train_classifier(net, x, y, n_steps=50, checkpoint_steps=[0, 25, 50])
    >>> [step for step, _ in ckpts]
    [0, 25, 50]
    >>> bool((net(x).argmax(1) == y).float().mean() > 0.9)
    True
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module; got {type(model).__name__}")
    n_steps = int(n_steps)
    if n_steps < 0:
        raise ValueError(f"n_steps must be >= 0; got {n_steps}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0; got {lr}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must lie in [0, 1); got {momentum}")
    readout = getattr(getattr(model, "net", None), "readout", None)
    n_outputs = readout.out_features if isinstance(readout, nn.Linear) else None
    x, y = _check_training_data(x, y, n_outputs)
    n = x.shape[0]
    if batch_size is None:
        batch_size = n
    batch_size = int(batch_size)
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must lie in 1..{n} (the number of samples); got {batch_size}")
    steps = sorted(
        {int(s) for s in (checkpoint_steps if checkpoint_steps is not None else [0, n_steps])}
    )
    if steps and (steps[0] < 0 or steps[-1] > n_steps):
        raise ValueError(f"checkpoint_steps must lie in 0..n_steps = 0..{n_steps}; got {steps}")

    alpha = float(getattr(model, "alpha", 1.0))
    params = (
        model.trainable_parameters()
        if hasattr(model, "trainable_parameters")
        else [p for p in model.parameters() if p.requires_grad]
    )
    opt = torch.optim.SGD(params, lr=lr, momentum=momentum)
    gen = torch.Generator().manual_seed(int(seed))
    device = params[0].device if params else torch.device("cpu")
    x, y = x.to(device), y.to(device)

    def snapshot() -> dict[str, Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    out: list[tuple[int, dict[str, Tensor]]] = []
    wanted = set(steps)
    if 0 in wanted:
        out.append((0, snapshot()))
    model.train()
    with torch_threads(1):
        _sgd_steps(model, x, y, opt, alpha, n_steps, batch_size, gen, wanted, out, snapshot)
    model.eval()
    return out


def _logits_fn(model: nn.Module, x: Tensor) -> Callable[[Tensor, Tensor | None], Tensor]:
    """``logits(xb, idx)``: the model's output on a batch of the training set.

    For the centred networks here the initial network's output on the whole training set is
    computed once (it does not change) and indexed, instead of a second forward pass per step.
    """
    if not (isinstance(model, _ScaledClassifier) and model.center):
        return lambda xb, idx: model(xb)
    with torch.no_grad():
        f0 = model.initial.logits(x)

    def logits(xb: Tensor, idx: Tensor | None) -> Tensor:
        base = f0 if idx is None else f0[idx]
        return model.alpha * (model.net.logits(xb) - base)

    return logits


def _sgd_steps(model, x, y, opt, alpha, n_steps, batch_size, gen, wanted, out, snapshot) -> None:
    n = x.shape[0]
    device = x.device
    logits = _logits_fn(model, x)
    order = torch.randperm(n, generator=gen)
    pos = 0
    for step in range(1, n_steps + 1):
        idx = None
        if batch_size == n:
            xb, yb = x, y
        else:
            if pos + batch_size > n:
                order, pos = torch.randperm(n, generator=gen), 0
            idx = order[pos : pos + batch_size].to(device)
            pos += batch_size
            xb, yb = x[idx], y[idx]
        loss = nn.functional.cross_entropy(logits(xb, idx), yb) / alpha**2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step in wanted:
            out.append((step, snapshot()))


def weight_change(model: nn.Module, state: dict[str, Tensor] | None = None) -> float:
    """Relative weight change ``||w - w0|| / ||w0||`` over all trained parameters.

    Parameters
    ----------
    model : MLP or SmallCNN
        Built with ``center=True`` (it keeps ``w0`` as ``model.initial``).
    state : dict or None, default None
        A state dict from :func:`train_classifier`; ``None``: the model's current weights.

    Returns
    -------
    float
        Frobenius norm of the change of all trained weights and biases, divided by that of ``w0``.

    See Also
    --------
    train_classifier

    Examples
    --------
    >>> import torch
    >>> net = MLP(3, [8], 2, seed=0)
    >>> weight_change(net)
    0.0
    """
    initial = getattr(model, "initial", None)
    if initial is None:
        raise ValueError(
            "the model keeps no initial weights (built with center=False); weight_change needs "
            "w0: build it with center=True"
        )
    if state is None:
        state = model.state_dict()
    num = 0.0
    den = 0.0
    for name, w0 in initial.state_dict().items():
        w = state[f"net.{name}"].to(w0.device, w0.dtype)
        num += float(((w - w0) ** 2).sum())
        den += float((w0**2).sum())
    return math.sqrt(num / den) if den > 0 else float("nan")
