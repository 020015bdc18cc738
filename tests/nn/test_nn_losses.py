"""Closed-form checks of anomalib_ae.nn.losses."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from anomalib_ae.nn.losses import (
    deep_sad_loss,
    gaussian_kl,
    gaussian_log_prob,
    iwae_bound,
    masked_mse,
    svdd_one_class_loss,
    svdd_soft_boundary_loss,
)


def test_kl_of_standard_normal_is_zero():
    mu = torch.zeros(3, 5)
    logvar = torch.zeros(3, 5)
    assert torch.equal(gaussian_kl(mu, logvar), torch.zeros(3))


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 6, generator=g)
    logvar = torch.randn(4, 6, generator=g)
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(dim=1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), expected)
    assert (gaussian_kl(mu, logvar) > 0).all()


def test_gaussian_log_prob_matches_torch_distributions():
    g = torch.Generator().manual_seed(1)
    x, mu, logvar = (torch.randn(2, 3, 4, generator=g) for _ in range(3))
    expected = Normal(mu, torch.exp(0.5 * logvar)).log_prob(x).flatten(2).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(x, mu, logvar, start_dim=2), expected)
    std = Normal(0.0, 1.0).log_prob(x).flatten(1).sum(-1)
    torch.testing.assert_close(gaussian_log_prob(x), std)


def test_iwae_bound_single_sample_and_jensen():
    lw = torch.randn(1, 7)
    assert torch.equal(iwae_bound(lw), lw[0])
    lw = torch.randn(10, 7)
    assert (iwae_bound(lw) >= lw.mean(dim=0) - 1e-6).all()
    same = torch.full((4, 2), -3.0)
    torch.testing.assert_close(iwae_bound(same), torch.full((2,), -3.0))
    assert math.isclose(float(iwae_bound(torch.zeros(5, 1))), 0.0, abs_tol=1e-6)


def test_masked_mse_ignores_visible_entries():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 5, generator=g)
    recon = torch.randn(3, 4, 5, generator=g)
    mask = torch.rand(3, 4, 5, generator=g) > 0.5
    base = masked_mse(x, recon, mask)
    changed = torch.where(mask, recon, recon + 100.0)
    assert torch.equal(masked_mse(x, changed, mask), base)
    assert torch.equal(masked_mse(x, changed, mask, reduction="none"), masked_mse(x, recon, mask, reduction="none"))
    expected = ((recon - x).pow(2)[mask]).mean()
    torch.testing.assert_close(base, expected)


def test_masked_mse_per_sample_and_broadcast_mask():
    x = torch.zeros(2, 4)
    recon = torch.tensor([[1.0, 2.0, 3.0, 4.0], [1.0, 1.0, 1.0, 1.0]])
    mask = torch.tensor([True, False, True, False])  # broadcast over the batch
    torch.testing.assert_close(masked_mse(x, recon, mask, reduction="none"), torch.tensor([5.0, 1.0]))
    none_masked = masked_mse(x, recon, torch.zeros(2, 4, dtype=torch.bool), reduction="none")
    assert torch.equal(none_masked, torch.zeros(2))
    with pytest.raises(ValueError):
        masked_mse(x, recon, mask, reduction="sum")


def test_svdd_losses_closed_form():
    dist = torch.tensor([0.5, 1.0, 4.0, 9.0])
    assert float(svdd_one_class_loss(dist)) == pytest.approx(3.625)
    # R = 1: R^2 + mean(max(0, d - 1)) / nu = 1 + (0 + 0 + 3 + 8) / 4 / 0.5
    assert float(svdd_soft_boundary_loss(dist, 1.0, 0.5)) == pytest.approx(1.0 + 11.0 / 4 / 0.5)
    assert float(svdd_soft_boundary_loss(dist, torch.tensor(3.0), 0.1)) == pytest.approx(9.0)


def test_deep_sad_loss_closed_form():
    dist = torch.tensor([1.0, 2.0, 4.0])
    y = torch.tensor([0, 1, 0])
    eta, eps = 2.0, 1e-6
    expected = (1.0 + eta / (2.0 + eps) + 4.0) / 3
    assert float(deep_sad_loss(dist, y, eta=eta, eps=eps)) == pytest.approx(expected)
    assert float(deep_sad_loss(dist)) == pytest.approx(7.0 / 3)
    # the known anomaly's loss falls as it moves away from the centre
    d = torch.tensor([1.0, 2.0], requires_grad=True)
    deep_sad_loss(d, torch.tensor([0, 1])).backward()
    assert d.grad[0] > 0 > d.grad[1]
