"""Feedforward classifiers: shapes, the centred alpha-scaled output, training, lazy weight change."""

from __future__ import annotations

import math

import pytest
import torch

from neurogeom.models.feedforward import MLP, SmallCNN, train_classifier, weight_change


def _blobs(n: int = 120, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three Gaussian classes in 4-D, means 3 apart: linearly separable up to a few points."""
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    means = torch.tensor([[3.0, 0, 0, 0], [0, 3.0, 0, 0], [0, 0, 3.0, 0]])
    return means[y] + 0.5 * torch.randn(n, 4, generator=gen), y


@pytest.mark.parametrize("activation", ["linear", "relu", "sigmoid", "erf", "tanh"])
def test_mlp_shapes_and_centred_output(activation: str) -> None:
    net = MLP(4, [16, 8], 3, activation=activation, alpha=7.0, seed=3)
    x = torch.randn(5, 4)
    assert net(x).shape == (5, 3)
    assert net.features(x).shape == (5, 8)
    assert net.features(x, layer=0).shape == (5, 16)
    assert torch.equal(net.features(x, layer=-2), net.features(x, layer=0))
    assert float(net(x).detach().abs().max()) == 0.0  # alpha (f(w0) - f(w0)) = 0
    plain = MLP(4, [16, 8], 3, activation=activation, alpha=7.0, seed=3, center=False)
    assert torch.allclose(plain(x), 7.0 * plain.net.logits(x))


def test_seed_fixes_the_initial_weights() -> None:
    a, b, c = MLP(4, [8], 2, seed=1), MLP(4, [8], 2, seed=1), MLP(4, [8], 2, seed=2)
    wa, wb, wc = (m.net.hidden[0].weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    # N(0, 2 / fan_in) for ReLU: the empirical variance of 1,000 x 400 weights is within 2 %
    w = MLP(400, [1000], 2, seed=0).net.hidden[0].weight
    assert float(w.detach().var()) == pytest.approx(2 / 400, rel=0.02)
    # PyTorch's default: weights and biases U(+-1/sqrt(fan_in)), variance 1 / (3 fan_in)
    lin = MLP(400, [1000], 2, seed=0, init="uniform").net.hidden[0]
    bound = 1 / math.sqrt(400)
    for p in (lin.weight, lin.bias):
        assert float(p.detach().abs().max()) <= bound
        assert float(p.detach().var()) == pytest.approx(bound**2 / 3, rel=0.1)
    conv = SmallCNN((1, 8, 8), 2, seed=0, init="uniform").net.conv1
    assert float(conv.bias.detach().abs().min()) > 0 and float(conv.weight.abs().max()) <= 1 / 3


def test_training_fits_separable_classes_and_keeps_checkpoints() -> None:
    x, y = _blobs()
    net = MLP(4, [32], 3, seed=0)
    ckpts = train_classifier(
        net, x, y, lr=0.1, n_steps=100, batch_size=30, checkpoint_steps=[0, 50, 100]
    )
    assert [s for s, _ in ckpts] == [0, 50, 100]
    assert float((net(x).argmax(1) == y).float().mean()) >= 0.97
    assert weight_change(net, ckpts[0][1]) == 0.0
    assert weight_change(net, ckpts[-1][1]) == pytest.approx(weight_change(net))
    # the same seed gives the same run
    net2 = MLP(4, [32], 3, seed=0)
    ckpts2 = train_classifier(
        net2, x, y, lr=0.1, n_steps=100, batch_size=30, checkpoint_steps=[100]
    )
    assert torch.equal(ckpts2[0][1]["net.readout.weight"], ckpts[-1][1]["net.readout.weight"])


def test_weight_change_scales_as_one_over_alpha_in_the_lazy_regime() -> None:
    x, y = _blobs()
    changes = {}
    for alpha in (1.0, 10.0, 100.0):
        net = MLP(4, [64], 3, alpha=alpha, seed=0)
        train_classifier(net, x, y, lr=0.1, n_steps=200)
        changes[alpha] = weight_change(net)
        assert float((net(x).argmax(1) == y).float().mean()) >= 0.95
    assert changes[1.0] > changes[10.0] > changes[100.0]
    # lazy: ||w - w0|| ~ 1 / alpha, so the ratio between alpha = 10 and 100 is 10 within 15 %
    assert changes[10.0] / changes[100.0] == pytest.approx(10.0, rel=0.15)


def test_small_cnn_trains_on_images() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 80
    y = torch.arange(n) % 2
    x = 0.3 * torch.randn(n, 1, 8, 8, generator=gen)
    x[y == 0, :, :4, :] += 1.0  # class 0 bright on top, class 1 bright at the bottom
    x[y == 1, :, 4:, :] += 1.0
    net = SmallCNN((1, 8, 8), 2, seed=0)
    assert net.features(x, layer=0).shape == (n, 8 * 16)
    assert net.features(x, layer=1).shape == (n, 16 * 16)
    assert net.features(x.reshape(n, 64)).shape == (n, 64)
    train_classifier(net, x, y, lr=0.05, n_steps=60, batch_size=40)
    assert float((net(x).argmax(1) == y).float().mean()) == 1.0
    assert 0 < weight_change(net) < math.inf


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: MLP(4, [8], 2, activation="gelu"), ValueError, "activation must be one of"),
        (lambda: MLP(4, [], 2), ValueError, "at least one hidden width"),
        (lambda: MLP(4, [8], 2, init="xavier"), ValueError, "init must be one of"),
        (lambda: MLP(4, [8], 2, alpha=0.0), ValueError, "alpha"),
        (lambda: MLP(4, [8], 2).features(torch.zeros(2, 4), layer=1), ValueError, "out of range"),
        (lambda: MLP(4, [8], 2)(torch.zeros(2, 5)), ValueError, "input features"),
        (lambda: MLP(4, [8], 2)(torch.zeros(2, 4, dtype=torch.long)), TypeError, "floating"),
        (lambda: SmallCNN((1, 8, 8), 2)(torch.zeros(2, 60)), ValueError, "images of shape"),
    ],
)
def test_bad_arguments_are_named(call, exc, match) -> None:
    with pytest.raises(exc, match=match):
        call()


def test_bad_training_data_is_named() -> None:
    x, y = _blobs(12)
    net = MLP(4, [8], 3)
    bad_x = x.clone()
    bad_x[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        train_classifier(net, bad_x, y, n_steps=1)
    with pytest.raises(ValueError, match="single class"):
        train_classifier(net, x, torch.zeros(12, dtype=torch.long), n_steps=1)
    with pytest.raises(ValueError, match="labels must lie"):
        train_classifier(net, x, y + 1, n_steps=1)
    with pytest.raises(ValueError, match="checkpoint_steps"):
        train_classifier(net, x, y, n_steps=5, checkpoint_steps=[10])
    with pytest.raises(ValueError, match="batch_size"):
        train_classifier(net, x, y, n_steps=5, batch_size=100)
    with pytest.raises(ValueError, match="center=True"):
        weight_change(MLP(4, [8], 3, center=False))
