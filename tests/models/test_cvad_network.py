"""Cascade VAE (CVAD) and its discriminator."""

from __future__ import annotations

import pytest
import torch

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.models.cvad.network import CVADNet, CVADDiscriminatorNet, build_cvad, build_cvad_discriminator
from anomalib_ae.nn.losses import gaussian_kl

MODALITIES = [
    ((5,), "vector", (8,)),
    ((6, 3), "window", (8, 6, 4)),
    ((1, 28, 28), "image", (4, 8)),
    ((3, 64, 64), "image", (4, 4, 8, 8)),
]


def _batch(shape, n=4, seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
def test_cvad_shapes_loss_gradients_and_determinism(shape, kind, hidden):
    torch.manual_seed(0)
    model = build_cvad(shape, kind, hidden, 3)
    assert isinstance(model, AnomalyModule)
    x = _batch(shape)
    loss = model.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        s1, s2 = model.score(x), model.score(x)
        assert model.reconstruct(x).shape == x.shape
    assert s1.shape == (4,) and torch.isfinite(s1).all() and torch.equal(s1, s2)
    assert torch.equal(s1, model.recon_kl(x))


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
def test_discriminator_shapes_and_gradients(shape, kind, hidden):
    torch.manual_seed(0)
    vae = build_cvad(shape, kind, hidden, 3)
    disc = build_cvad_discriminator(shape, kind, hidden, 3)
    x = _batch(shape)
    loss = disc.loss(x, vae.reconstruct(x).detach())
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in disc.parameters())
    assert all(p.grad is None for p in vae.parameters())
    p = disc.eval().prob_fake(x)
    assert p.shape == (4,) and ((p >= 0) & (p <= 1)).all()


def test_reconstruction_is_mean_of_both_decoders_and_score_is_recon_plus_kl():
    torch.manual_seed(0)
    model = CVADNet((6,), "vector", (8, 4), 2, beta=0.5).eval()
    x = _batch((6,))
    with torch.no_grad():
        out = model.run(x)
        recon = 0.5 * (out.x1 + out.x2)
        torch.testing.assert_close(model.reconstruct(x), recon)
        kl = gaussian_kl(out.mu1, out.logvar1) + gaussian_kl(out.mu2, out.logvar2)
        expected = (recon - x).pow(2).mean(1) + 0.5 * kl / 6
        torch.testing.assert_close(model.recon_kl(x), expected)
    assert out.mu2.shape == (4, 8)  # latent2_factor = 4


def test_level2_depends_on_encoder_skip_features():
    torch.manual_seed(0)
    model = CVADNet((1, 16, 16), "image", (4, 8), 2).eval()
    x = _batch((1, 16, 16))
    with torch.no_grad():
        skip, mu1, _ = model._encode(x)
        feats, _ = model._decode1(mu1)
        assert feats.shape[1:] == skip.shape[1:]  # same scale, same channels
        mu2a, _ = model._level2_stats(feats, skip)
        mu2b, _ = model._level2_stats(feats, skip + 1.0)
    assert not torch.allclose(mu2a, mu2b)


def test_discriminator_learns_real_versus_shifted():
    torch.manual_seed(0)
    disc = CVADDiscriminatorNet((4,), "vector", (16,))
    opt = torch.optim.Adam(disc.parameters(), lr=1e-2)
    real, fake = torch.randn(64, 4), torch.randn(64, 4) + 3.0
    for _ in range(100):
        opt.zero_grad()
        disc.loss(real, fake).backward()
        opt.step()
    with torch.no_grad():
        assert disc.prob_fake(fake).mean() > 0.9 > 0.1 > disc.prob_fake(real).mean()


def test_cvad_needs_hidden_layers():
    with pytest.raises(ValueError):
        CVADNet((4,), "vector", (), 2)
