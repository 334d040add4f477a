"""Network knobs: rank, gain, Dale's law, sparsity; the fused kernel path equals the explicit loop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from neurogeom.models.rnn import CTRNN, GRUNet, NetworkConfig, build_network, truncate_rank


@pytest.mark.parametrize("rank", [1, 5, 10, 25, 50, 100])
def test_rank_is_exact_with_full_rank_norm(rank):
    n = 100
    full = CTRNN(4, 3, NetworkConfig(n_units=n, g=1.25), seed=7).w_rec.detach().double()
    low = CTRNN(4, 3, NetworkConfig(n_units=n, g=1.25, rank=rank), seed=7).w_rec.detach().double()
    s = torch.linalg.svdvals(low)
    assert s[rank - 1] / s[0] > 1e-3  # rank components present
    if rank < n:
        assert s[rank] / s[0] < 1e-5  # float32 round-off only beyond rank r
    np.testing.assert_allclose(torch.linalg.norm(low), torch.linalg.norm(full), rtol=1e-5)
    # it is the best rank-r approximation of the full-rank draw, rescaled
    u, sf, vh = torch.linalg.svd(full)
    best = (u[:, :rank] * sf[:rank]) @ vh[:rank]
    best = best * torch.linalg.norm(full) / torch.linalg.norm(best)
    np.testing.assert_allclose(low, best, atol=1e-5)


def test_gain_sets_spectral_radius():
    w = CTRNN(3, 3, NetworkConfig(n_units=400, g=1.5), seed=0).w_rec.detach().double()
    radius = torch.linalg.eigvals(w).abs().max().item()
    assert abs(radius - 1.5) < 0.15  # circular law: radius ~ g


def test_truncate_rank_rejects_bad_rank():
    with pytest.raises(ValueError, match="rank must be in 1..4"):
        truncate_rank(torch.eye(4), 5)


@pytest.mark.parametrize(
    "kw",
    [{}, {"bias": True}, {"dale": True}, {"sparsity": 0.5}, {"activation": "tanh", "rank": 3}],
)
def test_fused_path_equals_explicit_loop(kw):
    net = CTRNN(5, 3, NetworkConfig(n_units=32, **kw), seed=1)
    x = torch.randn(8, 12, 5)
    _, h = net(x)
    h_loop = net._leaky(x, x.new_zeros(8, 32), net.recurrent_weight())
    torch.testing.assert_close(h, h_loop, atol=1e-5, rtol=1e-5)


def test_leaky_dynamics_match_equation():
    net = CTRNN(2, 2, NetworkConfig(n_units=6, tau_ms=200.0, bias=True), dt_ms=100.0, seed=2)
    assert net.a == 0.5
    x = torch.randn(1, 4, 2)
    _, h = net(x)
    w = net.recurrent_weight().detach()
    prev = torch.zeros(6)
    for t in range(4):
        prev = 0.5 * prev + 0.5 * torch.relu(net.w_in @ x[0, t] + w @ prev + net.b)
        torch.testing.assert_close(h[0, t], prev.detach(), atol=1e-6, rtol=1e-6)


def test_dale_signs_and_mask_hold_after_training():
    torch.manual_seed(0)
    net = CTRNN(3, 2, NetworkConfig(n_units=20, dale=True, sparsity=0.3), seed=3)
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    x, y = torch.randn(16, 10, 3), torch.randint(0, 2, (16,))
    w_before = net.recurrent_weight().detach().clone()
    for _ in range(50):
        out, _ = net(x)
        loss = torch.nn.functional.cross_entropy(out[:, -1], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    w = net.recurrent_weight().detach()
    assert not torch.allclose(w, w_before)  # it trained
    n_exc = 16
    assert (w[:, :n_exc] >= 0).all() and (w[:, n_exc:] <= 0).all()
    assert (w[net.mask == 0] == 0).all()


def test_gru_runs_and_config_errors():
    net = build_network({"type": "gru", "n_units": 8}, 3, 2)
    assert isinstance(net, GRUNet)
    y, h = net(torch.randn(2, 5, 3))
    assert y.shape == (2, 5, 2) and h.shape == (2, 5, 8)
    with pytest.raises(ValueError, match="rank must be an integer in 1..n_units=8"):
        NetworkConfig(n_units=8, rank=-2).validate()
    with pytest.raises(ValueError, match="rank must be an integer in 1..n_units=8"):
        NetworkConfig(n_units=8, rank=9).validate()
    with pytest.raises(ValueError, match="cannot be combined"):
        NetworkConfig(rank=3, dale=True).validate()
    with pytest.raises(ValueError, match=r"unknown network key\(s\) \['gain'\]"):
        NetworkConfig.from_dict({"gain": 1.0})
    with pytest.raises(ValueError, match="activation must be one of"):
        NetworkConfig(activation="softplus").validate()


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"tau_ms": 200.0},
        {"tau_ms": 300.0, "activation": "tanh", "bias": True, "dale": True, "sparsity": 0.3},
        {"type": "gru"},
    ],
)
def test_outputs_by_length_equal_each_trial_run_alone(kw):
    """Sorted, time-major evaluation without hidden-state history = forward() on each trial alone
    (a causal network: what follows a trial's end never changes its earlier outputs)."""
    net = build_network(NetworkConfig(n_units=24, **kw), 3, 3, dt_ms=100.0, seed=2).eval()
    gen = torch.Generator().manual_seed(0)
    lengths = [9, 9, 7, 4, 4, 1]
    x = torch.randn(len(lengths), max(lengths), 3, generator=gen)
    n_active = [sum(n > t for n in lengths) for t in range(max(lengths))]
    out = torch.full((max(lengths), len(lengths), 3), float("nan"))
    net.outputs_by_length(x.transpose(0, 1).contiguous(), n_active, out)
    for j, n in enumerate(lengths):
        with torch.no_grad():
            alone = net(x[j : j + 1, :n])[0][0]
        torch.testing.assert_close(out[:n, j], alone, rtol=1e-5, atol=1e-5)
        if kw.get("type") != "gru":  # CTRNN: steps after a trial's end are never written
            assert torch.isnan(out[n:, j]).all()
