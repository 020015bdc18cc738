"""Deep SVDD / Deep SAD and the bias-free pre-training autoencoder."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from anomalib_ae.models.deepsvdd.network import DeepSVDDNet, SVDDConvNet, apply_center_eps, build_deep_svdd
from anomalib_ae.models.deepsvdd.pretrain import DeepSVDDAutoEncoderNet, build_svdd_autoencoder
from anomalib_ae.nn.base import AnomalyModule

MODALITIES = [
    ((5,), "vector", (8,)),
    ((6, 3), "window", (8, 4)),
    ((1, 28, 28), "image", (4, 8)),
    ((3, 64, 64), "image", (4, 8)),
]
OBJECTIVES = ["one-class", "soft-boundary", "deep-sad"]


def _batch(shape, n=4, seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


def _assert_bias_free(module: nn.Module) -> None:
    for name, p in module.named_parameters():
        assert "bias" not in name, name
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
            assert m.bias is None
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            assert not m.affine and m.weight is None and m.bias is None


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
def test_networks_have_no_bias_and_no_affine_batchnorm(shape, kind, hidden):
    _assert_bias_free(build_deep_svdd(shape, kind, hidden, 6))
    _assert_bias_free(build_svdd_autoencoder(shape, kind, hidden, 6))


def test_lenet_for_28px_matches_the_paper():
    net = DeepSVDDNet((1, 28, 28), "image", (64, 64), 32).encoder
    assert isinstance(net, SVDDConvNet)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(8, (5, 5)), (4, (5, 5))]
    assert net.head.in_features == 4 * 7 * 7 and net.head.out_features == 32
    bigger = DeepSVDDNet((3, 128, 128), "image", (32, 64, 128), 16).encoder
    assert bigger.feature_shape[1] <= 8


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
@pytest.mark.parametrize("objective", OBJECTIVES)
def test_svdd_shapes_loss_gradients_and_determinism(shape, kind, hidden, objective):
    torch.manual_seed(0)
    model = build_deep_svdd(shape, kind, hidden, 6, objective=objective)
    assert isinstance(model, AnomalyModule)
    x = _batch(shape)
    model.init_center(x)
    loss = model.loss(x, torch.tensor([0, 0, 1, 0]))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        s1, s2 = model.score(x), model.score(x)
    assert s1.shape == (4,) and torch.isfinite(s1).all() and torch.equal(s1, s2)


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
def test_autoencoder_shapes_and_gradients(shape, kind, hidden):
    torch.manual_seed(0)
    ae = build_svdd_autoencoder(shape, kind, hidden, 6)
    x = _batch(shape)
    assert ae(x).shape == x.shape
    loss = ae.loss(x)
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in ae.parameters())
    assert ae.eval().score(x).shape == (4,)


def test_center_eps_rule():
    c = torch.tensor([0.05, -0.05, 0.0, 0.5, -0.3, 0.1, -0.0999])
    out = apply_center_eps(c, eps=0.1)
    torch.testing.assert_close(out, torch.tensor([0.1, -0.1, 0.1, 0.5, -0.3, 0.1, -0.1]))
    assert torch.equal(c[0], torch.tensor(0.05))  # input untouched


def test_init_center_is_eval_mean_with_eps_rule():
    torch.manual_seed(0)
    model = DeepSVDDNet((5,), "vector", (8,), 6, center_eps=0.1)
    x = _batch((5,), n=10)
    batches = [(x[:6], torch.zeros(6)), (x[6:], torch.zeros(4))]
    c = model.init_center(batches)
    assert model.training  # mode restored
    with torch.no_grad():
        mean = model.eval()(x).mean(0)
    torch.testing.assert_close(c, apply_center_eps(mean, 0.1))
    assert (c.abs() >= 0.1).all()
    assert bool(model.center_initialized)
    assert "c" in model.state_dict() and "R" in model.state_dict()


def test_center_set_from_first_batch_when_not_initialised():
    torch.manual_seed(0)
    model = DeepSVDDNet((5,), "vector", (8,), 6)
    x = _batch((5,), n=8)
    y = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1])
    z = model(x).detach()
    model.loss(x, y)
    assert bool(model.center_initialized)
    torch.testing.assert_close(model.c, apply_center_eps(z[:6].mean(0), 0.1))


def test_update_radius_is_quantile_of_distance_and_score_subtracts_r2():
    torch.manual_seed(0)
    model = DeepSVDDNet((5,), "vector", (8,), 6, objective="soft-boundary", nu=0.25)
    dist = torch.tensor([1.0, 4.0, 9.0, 16.0, 25.0])
    r = model.update_radius(dist)
    torch.testing.assert_close(r, torch.quantile(dist.sqrt(), 0.75))
    x = _batch((5,))
    model.init_center(x)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model.score(x), model.dist(x) - r**2)


def test_soft_boundary_updates_radius_after_warmup_only_in_training():
    torch.manual_seed(0)
    model = DeepSVDDNet((5,), "vector", (8,), 6, objective="soft-boundary", nu=0.5, warmup_steps=1)
    x = _batch((5,), n=8)
    model.init_center(x)
    model.loss(x)
    assert float(model.R) == 0.0  # first step is warm-up
    loss = model.loss(x)
    with torch.no_grad():
        dist = (model(x) - model.c).pow(2).sum(1)
    torch.testing.assert_close(model.R, torch.quantile(dist.sqrt(), 0.5))
    # the loss of that step used the old radius 0: 1/nu * mean(dist)
    torch.testing.assert_close(loss.detach(), dist.mean() / 0.5)
    model.eval()
    before = model.R.clone()
    model.loss(x)
    assert torch.equal(model.R, before)


def test_deep_sad_pushes_known_anomalies_away():
    torch.manual_seed(0)
    model = DeepSVDDNet((4,), "vector", (16,), 4, objective="deep-sad", eta=1.0)
    normal = torch.randn(64, 4)
    anomalies = torch.randn(16, 4) + 4.0
    x = torch.cat([normal, anomalies])
    y = torch.cat([torch.zeros(64), torch.ones(16)])
    model.init_center(normal)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(100):
        opt.zero_grad()
        model.loss(x, y).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        assert model.score(anomalies).min() > model.score(normal).median()


def test_load_encoder_from_pretrained_autoencoder():
    torch.manual_seed(0)
    for shape, kind, hidden in MODALITIES:
        ae = DeepSVDDAutoEncoderNet(shape, kind, hidden, 6)
        model = DeepSVDDNet(shape, kind, hidden, 6)
        x = _batch(shape)
        ae.train()
        ae(x)  # move the BatchNorm running statistics away from their defaults
        model.load_encoder_from(ae)
        ae.eval()
        model.eval()
        with torch.no_grad():
            torch.testing.assert_close(model(x), ae.encoder(x))


def test_invalid_parameters_raise():
    with pytest.raises(ValueError, match="objective"):
        DeepSVDDNet((4,), "vector", (8,), 2, objective="two-class")
    with pytest.raises(ValueError, match="nu"):
        DeepSVDDNet((4,), "vector", (8,), 2, nu=0.0)
    with pytest.raises(ValueError, match="arch"):
        DeepSVDDNet((1, 28, 28), "image", (8,), 2, arch="resnet")
