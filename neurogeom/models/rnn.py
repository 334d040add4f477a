"""Recurrent networks for cognitive tasks, with the initialisation knobs the literature varies.

:class:`CTRNN` is a leaky (continuous-time, Euler-discretised) rate network

.. math::  h_t = (1 - a) h_{t-1} + a\\,\\phi(W_{in} x_t + W h_{t-1} + b),\\quad
           y_t = W_{out} h_t + b_{out},\\quad a = dt / \\tau,

with knobs: the initial gain ``g`` (``W0 ~ g N(0, 1/N)``), the **rank** of ``W0`` (SVD-truncated and
rescaled to the full-rank Frobenius norm, as in Liu et al. 2023 and arXiv 2503.18114), Dale's law
(fixed excitatory / inhibitory presynaptic signs, kept through training by rectification), and a fixed
sparse connectivity mask. The output scale ``alpha`` (Chizat et al. 2019; lazy for large alpha) acts on
the training objective and lives in :mod:`neurogeom.models.train`. :class:`GRUNet` is a gated network
for comparison.

When ``a = 1`` the update is exactly torch's Elman RNN, so the forward pass runs in torch's fused
``rnn_relu`` / ``rnn_tanh`` kernel with the *effective* weights (masked, sign-constrained, ...) passed
in; gradients flow back to the raw parameters. Otherwise a Python loop over time steps runs, with the
input projection of all steps done in one matrix product.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from neurogeom.specs.train import NetworkConfig

__all__ = ["CTRNN", "GRUNet", "build_network", "truncate_rank"]


def pick_device(device: str | None = "auto") -> torch.device:
    """``"auto"``: CUDA when available, else CPU; otherwise ``torch.device(device)``.

    A CUDA device this torch cannot use (no CUDA build or no GPU, or an index past the GPUs
    present) raises ``ValueError`` naming it, before anything is built on it.
    """
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"training.device {device!r} is not a torch device ({exc}); use 'auto', 'cpu' or 'cuda'"
        ) from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"training.device = {device!r}, but CUDA is not available to this torch "
                f'({torch.__version__}); use device = "cpu" (or "auto")'
            )
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(
                f"training.device = {device!r}, but this machine has {n} CUDA device(s) "
                f'(cuda:0..cuda:{n - 1}); use one of them, "cpu" or "auto"'
            )
    return dev


@contextmanager
def torch_threads(n: int | None = 1) -> Iterator[None]:
    """Run a block with ``n`` torch CPU threads (restored afterwards; ``None``: unchanged).

    These networks are small (N ~ 100): on a shared machine one thread is often 10x faster than two,
    because the threads wait for each other at every time step.
    """
    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def truncate_rank(w: np.ndarray | torch.Tensor, rank: int) -> torch.Tensor:
    """Best rank-``rank`` approximation of ``w`` (truncated SVD), rescaled to ``w``'s Frobenius norm.

    Parameters
    ----------
    w : array of shape (N, N)
    rank : int, 1 <= rank <= N

    Returns
    -------
    torch.Tensor of shape (N, N), same dtype, rank exactly ``rank`` (for generic ``w``).

    See Also
    --------
    CTRNN.recurrent_weight : the matrix it is applied to.

    Examples
    --------
    >>> import numpy as np, torch
    >>> w = truncate_rank(np.random.default_rng(0).normal(size=(6, 6)), 2)
    >>> int(torch.linalg.matrix_rank(w))
    2
    """
    w = torch.as_tensor(w)
    if not 1 <= rank <= min(w.shape):
        raise ValueError(f"rank must be in 1..{min(w.shape)}; got {rank}")
    w64 = w.double()
    u, s, vh = torch.linalg.svd(w64)
    low = (u[:, :rank] * s[:rank]) @ vh[:rank]
    low = low * (torch.linalg.norm(w64) / torch.linalg.norm(low))
    return low.to(w.dtype)


class CTRNN(nn.Module):
    """Leaky rate RNN with a linear readout (see the module docstring for the equations).

    Parameters
    ----------
    n_input, n_output : int
        Input and output channels.
    config : NetworkConfig
    dt_ms : float, default=100
        Step size; ``a = dt_ms / tau_ms`` (1 when ``tau_ms`` is None).
    seed : int, default=0
        Seeds the initial weights.

    Attributes
    ----------
    w_in : Parameter (N, n_input); w_rec : Parameter (N, N); w_out, b_out: readout.
    mask : buffer (N, N) or None; sign : buffer (N,) or None (Dale: +1 excitatory, -1 inhibitory).

    See Also
    --------
    GRUNet : the gated alternative.
    build_network : either one from a config.

    Examples
    --------
    >>> import torch
    >>> from neurogeom.specs import NetworkConfig
    >>> net = CTRNN(3, 3, NetworkConfig(n_units=16))
    >>> out, h = net(torch.zeros(5, 2, 3))
    >>> tuple(out.shape), tuple(h.shape)
    ((5, 2, 3), (5, 2, 16))
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        config: NetworkConfig,
        *,
        dt_ms: float = 100.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        config.validate()
        self.config = config
        n = config.n_units
        self.n_input, self.n_output, self.n_units = int(n_input), int(n_output), n
        self.a = 1.0 if config.tau_ms is None else float(dt_ms) / float(config.tau_ms)
        if not 0 < self.a <= 1:
            raise ValueError(f"dt/tau must be in (0, 1]; got dt={dt_ms} ms, tau={config.tau_ms} ms")
        gen = torch.Generator().manual_seed(int(seed))

        w_in = torch.randn(n, n_input, generator=gen) / math.sqrt(n_input)
        w = config.g * torch.randn(n, n, generator=gen) / math.sqrt(n)
        mask = None
        if config.sparsity > 0:
            mask = (torch.rand(n, n, generator=gen) >= config.sparsity).float()
            w = w * mask / math.sqrt(1.0 - config.sparsity)
        if config.init == "identity":
            w = w + torch.eye(n)
        if config.rank != "full":
            w = truncate_rank(w, int(config.rank))
        sign = None
        if config.dale:
            n_exc = int(round(config.frac_excitatory * n))
            sign = torch.ones(n)
            sign[n_exc:] = -1.0
            # magnitudes; inhibitory columns scaled so the mean input to a unit is zero at init
            w = w.abs()
            w[:, n_exc:] *= n_exc / max(n - n_exc, 1)
            if mask is not None:
                w = w * mask
        self.w_in = nn.Parameter(w_in)
        self.w_rec = nn.Parameter(w)
        self.b = nn.Parameter(torch.zeros(n)) if config.bias else None
        self.w_out = nn.Parameter(torch.randn(n_output, n, generator=gen) / math.sqrt(n))
        self.b_out = nn.Parameter(torch.zeros(n_output)) if config.readout_bias else None
        self.register_buffer("mask", mask)
        self.register_buffer("sign", sign)

    def recurrent_weight(self) -> torch.Tensor:
        """The effective recurrent matrix W (N, N), rows postsynaptic: mask and Dale signs applied.

        Returns
        -------
        torch.Tensor of shape (n_units, n_units)
            W, rows postsynaptic.

        See Also
        --------
        truncate_rank : a low-rank W.

        Examples
        --------
        >>> import torch
        >>> from neurogeom.specs import NetworkConfig
        >>> net = build_network(NetworkConfig(n_units=16), n_input=3, n_output=3)
        >>> tuple(net.recurrent_weight().shape)
        (16, 16)
        """
        w = self.w_rec
        if self.sign is not None:
            w = torch.relu(w) * self.sign[None, :]
        if self.mask is not None:
            w = w * self.mask
        return w

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        x : Tensor of shape (batch, n_time, n_input)
        h0 : Tensor of shape (batch, N), optional (zeros)

        Returns
        -------
        y : Tensor of shape (batch, n_time, n_output)
            Readout at every step.
        h : Tensor of shape (batch, n_time, N)
            Hidden states (rates) after every step.

        See Also
        --------
        CTRNN.outputs_by_length : readout of trials of different lengths.

        Examples
        --------
        >>> import torch
        >>> from neurogeom.specs import NetworkConfig
        >>> net = build_network(NetworkConfig(n_units=16), n_input=3, n_output=3)
        >>> out, h = net(torch.zeros(5, 2, 3))
        >>> tuple(out.shape), tuple(h.shape)
        ((5, 2, 3), (5, 2, 16))
        """
        batch = x.shape[0]
        if h0 is None:
            h0 = x.new_zeros(batch, self.n_units)
        w = self.recurrent_weight()
        if self.a == 1.0:
            fn = torch._VF.rnn_relu if self.config.activation == "relu" else torch._VF.rnn_tanh
            if self.b is not None:
                params = [self.w_in, w, self.b, torch.zeros_like(self.b)]
            else:
                params = [self.w_in, w]
            h, _ = fn(x, h0[None], params, self.b is not None, 1, 0.0, self.training, False, True)
        else:
            h = self._leaky(x, h0, w)
        y = h @ self.w_out.T
        if self.b_out is not None:
            y = y + self.b_out
        return y, h

    def _leaky(self, x: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        act = torch.relu if self.config.activation == "relu" else torch.tanh
        drive = x @ self.w_in.T
        if self.b is not None:
            drive = drive + self.b
        a, wt = self.a, w.T
        out = []
        for t in range(x.shape[1]):
            h = (1.0 - a) * h + a * act(torch.addmm(drive[:, t], h, wt))
            out.append(h)
        return torch.stack(out, dim=1)

    @torch.no_grad()
    def outputs_by_length(
        self,
        x: torch.Tensor,
        n_active: list[int],
        out: torch.Tensor,
        work: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Readout of trials of different lengths, keeping no hidden-state history (no gradients).

        The trials are sorted longest first, so the ones still running at step ``t`` are the first
        ``n_active[t]``; finished trials drop out of the matrix products. A network is causal, so a
        trial's outputs are those of :meth:`forward` on that trial alone, whatever ``a`` is.

        Parameters
        ----------
        x : Tensor of shape (n_time, batch, n_input)
            Time-major inputs, trials sorted by length, descending.
        n_active : list of int, length n_time
            Trials still running at each step (non-increasing).
        out : Tensor of shape (n_time, batch, n_output)
            Written in place at ``[t, :n_active[t]]``; other entries are left as they are.
        work : Tensor of shape (2, batch, N), optional
            Scratch space for the hidden state (allocated when omitted).

        Returns
        -------
        out : Tensor of shape (n_time, batch, n_output)

        See Also
        --------
        CTRNN.forward : the run with the hidden states.

        Examples
        --------
        Two trials, time-major: the first runs 4 steps, the second 2.

        >>> import torch
        >>> from neurogeom.specs import NetworkConfig
        >>> net = build_network(NetworkConfig(n_units=16), n_input=3, n_output=2)
        >>> x = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0))
        >>> out = net.outputs_by_length(x, [2, 2, 1, 1], torch.zeros(4, 2, 2))
        >>> y, _ = net(x[:2, 1][None])  # the second trial alone, batch-first
        >>> torch.allclose(out[:2, 1], y[0]), bool((out[2:, 1] == 0).all())
        (True, True)
        """
        if work is None:
            work = x.new_empty(2, x.shape[1], self.n_units)
        w_t, w_in_t, w_out_t = self.recurrent_weight().T, self.w_in.T, self.w_out.T
        act_ = torch.Tensor.relu_ if self.config.activation == "relu" else torch.Tensor.tanh_
        a = self.a
        h = None
        for t, k in enumerate(n_active):
            if k == 0:
                break
            nxt = work[(t + 1) % 2, :k]
            if self.b is not None:
                torch.addmm(self.b, x[t, :k], w_in_t, out=nxt)
            else:
                torch.mm(x[t, :k], w_in_t, out=nxt)
            if h is not None:
                nxt.addmm_(h[:k], w_t)
            act_(nxt)
            if a != 1.0:
                nxt.mul_(a)
                if h is not None:
                    nxt.add_(h[:k], alpha=1.0 - a)
            if self.b_out is not None:
                torch.addmm(self.b_out, nxt, w_out_t, out=out[t, :k])
            else:
                torch.mm(nxt, w_out_t, out=out[t, :k])
            h = nxt
        return out


class GRUNet(nn.Module):
    """A one-layer GRU with a linear readout; same call signature as :class:`CTRNN`.

    Parameters
    ----------
    n_input, n_output : int
        Input channels and readout units.
    config : NetworkConfig
        The ``[network]`` section (``type="gru"``; ``n_units``, ``seed``...).
    dt_ms : float, default=100.0
        Time step, in ms.
    seed : int, default=0
        Seed of the initial weights.

    See Also
    --------
    CTRNN : the leaky rate RNN.
    build_network : either one from a config.

    Examples
    --------
    >>> import torch
    >>> from neurogeom.specs import NetworkConfig
    >>> net = GRUNet(3, 3, NetworkConfig(type="gru", n_units=8))
    >>> out, h = net(torch.zeros(5, 2, 3))
    >>> tuple(out.shape), tuple(h.shape)
    ((5, 2, 3), (5, 2, 8))
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        config: NetworkConfig,
        *,
        dt_ms: float = 100.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.n_input, self.n_output, self.n_units = int(n_input), int(n_output), config.n_units
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            self.gru = nn.GRU(n_input, config.n_units, batch_first=True, bias=True)
            self.readout = nn.Linear(config.n_units, n_output, bias=config.readout_bias)

    def recurrent_weight(self) -> torch.Tensor:
        """The GRU's stacked hidden-to-hidden matrix (3N, N).

        Returns
        -------
        torch.Tensor of shape (3 * n_units, n_units)
            The GRU's hidden-to-hidden weights (reset, update, new gates stacked).

        See Also
        --------
        CTRNN.recurrent_weight : the rate RNN's W.

        Examples
        --------
        >>> from neurogeom.specs import NetworkConfig
        >>> net = GRUNet(3, 3, NetworkConfig(type="gru", n_units=8))
        >>> tuple(net.recurrent_weight().shape)
        (24, 8)
        """
        return self.gru.weight_hh_l0

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        x : Tensor of shape (batch, n_time, n_input)
            Inputs, batch-first.
        h0 : Tensor of shape (batch, N), optional
            Initial hidden state (zeros when omitted).

        Returns
        -------
        y : Tensor of shape (batch, n_time, n_output)
            Readout at every step.
        h : Tensor of shape (batch, n_time, N)
            Hidden states after every step.

        See Also
        --------
        CTRNN.forward : the same call on the rate RNN.
        GRUNet.outputs_by_length : readout of trials of different lengths.

        Examples
        --------
        >>> import torch
        >>> from neurogeom.specs import NetworkConfig
        >>> net = GRUNet(3, 2, NetworkConfig(type="gru", n_units=8))
        >>> y, h = net(torch.zeros(4, 5, 3), h0=torch.zeros(4, 8))
        >>> tuple(y.shape), tuple(h.shape)
        ((4, 5, 2), (4, 5, 8))
        """
        h, _ = self.gru(x, None if h0 is None else h0[None])
        return self.readout(h), h

    @torch.no_grad()
    def outputs_by_length(
        self,
        x: torch.Tensor,
        n_active: list[int],
        out: torch.Tensor,
        work: torch.Tensor | None = None,
        chunk: int = 256,
    ) -> torch.Tensor:
        """As :meth:`CTRNN.outputs_by_length`, running torch's GRU on chunks of ``chunk`` trials,
        each trimmed to its longest trial (so steps after a shorter trial's end may be written).

        Parameters
        ----------
        x, n_active, out, work
            As in :meth:`CTRNN.outputs_by_length` (``work`` is not used).
        chunk : int, default=256
            Trials run together in one call of torch's GRU.

        Returns
        -------
        torch.Tensor of shape (n_time, batch, n_output)
            ``out``, filled with the readout of each trial's active steps.

        See Also
        --------
        CTRNN.outputs_by_length : the same on the rate RNN.
        GRUNet.forward : the run with the hidden states.

        Examples
        --------
        Two trials, time-major: the first runs 4 steps, the second 2.

        >>> import torch
        >>> from neurogeom.specs import NetworkConfig
        >>> net = GRUNet(3, 2, NetworkConfig(type="gru", n_units=8))
        >>> x = torch.randn(4, 2, 3, generator=torch.Generator().manual_seed(0))
        >>> out = net.outputs_by_length(x, [2, 2, 1, 1], torch.zeros(4, 2, 2), chunk=1)
        >>> y, _ = net(x[:2, 1][None])  # the second trial alone, batch-first
        >>> torch.allclose(out[:2, 1], y[0], atol=1e-6)
        True
        """
        n = x.shape[1]
        lengths = (np.asarray(n_active)[:, None] > np.arange(n)[None, :]).sum(0)
        for i in range(0, n, chunk):
            t_max = int(lengths[i])
            y, _ = self.forward(x[:t_max, i : i + chunk].transpose(0, 1))
            out[:t_max, i : i + chunk] = y.transpose(0, 1)
        return out


def build_network(
    config: NetworkConfig | dict[str, Any],
    n_input: int,
    n_output: int,
    *,
    dt_ms: float = 100.0,
    seed: int = 0,
) -> CTRNN | GRUNet:
    """Build the network a config describes (``config`` may be a plain dict from a spec).

    Parameters
    ----------
    config : NetworkConfig or dict
        The ``[network]`` section (``type`` ``"ctrnn"`` or ``"gru"``).
    n_input, n_output : int
        Input channels and readout units.
    dt_ms : float, default=100.0
        Time step, in ms.
    seed : int, default=0
        Seed of the initial weights.

    Returns
    -------
    CTRNN or GRUNet
        The untrained network.

    See Also
    --------
    CTRNN : the leaky rate RNN.
    GRUNet : the GRU.

    Examples
    --------
    >>> type(build_network({"type": "gru", "n_units": 8}, 3, 3)).__name__
    'GRUNet'
    """
    if isinstance(config, dict):
        config = NetworkConfig.from_dict(config)
    cls = CTRNN if config.type == "ctrnn" else GRUNet
    return cls(n_input, n_output, config, dt_ms=dt_ms, seed=seed)
