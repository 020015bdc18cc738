"""Gaussian VAE: shapes on every modality, deterministic scores, IWAE(k=1) == ELBO."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.models.vae.network import VariationalAutoEncoderNet, build_vae

MODALITIES = [
    ((5,), "vector", (8,)),
    ((6, 3), "window", (8,)),
    ((1, 28, 28), "image", (4, 8)),
    ((3, 64, 64), "image", (4, 8)),
]


def _batch(shape, n=4, seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
def test_vae_shapes_loss_and_gradients(shape, kind, hidden):
    torch.manual_seed(0)
    model = build_vae(shape, kind, hidden, 3, n_samples=3)
    assert isinstance(model, AnomalyModule)
    x = _batch(shape)
    assert model(x).shape == x.shape
    loss = model.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
@pytest.mark.parametrize("score_type", ["recon", "elbo", "iwae"])
def test_vae_scores_deterministic(shape, kind, hidden, score_type):
    torch.manual_seed(0)
    model = build_vae(shape, kind, hidden, 3, score_type=score_type, n_samples=3).eval()
    x = _batch(shape)
    with torch.no_grad():
        s1, s2 = model.score(x), model.score(x)
    assert s1.shape == (4,) and torch.isfinite(s1).all()
    assert torch.equal(s1, s2)


def test_iwae_with_one_sample_equals_negative_elbo():
    torch.manual_seed(0)
    model = VariationalAutoEncoderNet((6,), "vector", (8,), 3, seed=7).eval()
    x = _batch((6,))
    with torch.no_grad():
        assert torch.equal(model.neg_iwae(x, 1), model.neg_elbo(x, 1))
        # the same value, computed independently from the same noise
        eps = torch.randn(1, 1, 3, generator=torch.Generator().manual_seed(7))[0]
        mu, logvar = model.encode(x)
        std = torch.exp(0.5 * logvar)
        z = mu + eps * std
        log_px = Normal(model.decode(z), 1.0).log_prob(x).sum(1)
        elbo = log_px + Normal(0.0, 1.0).log_prob(z).sum(1) - Normal(mu, std).log_prob(z).sum(1)
        torch.testing.assert_close(model.neg_elbo(x, 1), -elbo)
        # more samples: the IWAE bound is tighter (its negative is lower)
        assert (model.neg_iwae(x, 8) <= model.neg_elbo(x, 8) + 1e-5).all()


@pytest.mark.parametrize("score_type", ["recon", "elbo", "iwae"])
def test_vae_score_does_not_depend_on_the_batch(score_type):
    torch.manual_seed(0)
    model = VariationalAutoEncoderNet((5,), "vector", (8,), 2, score_type=score_type, n_samples=4).eval()
    x = _batch((5,), n=6)
    with torch.no_grad():
        torch.testing.assert_close(model.score(x)[3:], model.score(x[3:]))


def test_recon_score_is_mse_of_mean_reconstruction():
    model = VariationalAutoEncoderNet((5,), "vector", (8,), 2, score_type="recon").eval()
    x = _batch((5,))
    with torch.no_grad():
        expected = (model.decode(model.encode(x)[0]) - x).pow(2).mean(1)
        torch.testing.assert_close(model.score(x), expected)


def test_loss_is_half_sse_plus_beta_kl():
    model = VariationalAutoEncoderNet((4,), "vector", (6,), 2, beta=0.5)
    x = _batch((4,))
    torch.manual_seed(3)
    loss = model.loss(x)
    torch.manual_seed(3)
    mu, logvar = model.encode(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    sse = (model.decode(z) - x).pow(2).sum(1)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar).sum(1)
    torch.testing.assert_close(loss, (0.5 * sse + 0.5 * kl).mean())


def test_unknown_score_type_raises():
    with pytest.raises(ValueError, match="score_type"):
        VariationalAutoEncoderNet((3,), "vector", (4,), 2, score_type="nope")
