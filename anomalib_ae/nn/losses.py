"""Losses and log-densities shared by the deep detectors (pure torch, per-sample where useful).

Functions returning one value per sample reduce over every dimension after the batch
dimension(s); the batch mean is left to the caller so the same terms serve training (mean)
and scoring (per sample).
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL divergence ``KL(N(mu, exp(logvar)) || N(0, I))`` of each sample.

    Parameters
    ----------
    mu, logvar : torch.Tensor
        ``(n, ...)`` mean and log-variance of a diagonal Gaussian.

    Returns
    -------
    torch.Tensor
        ``(n,)`` closed-form KL, summed over all non-batch dimensions.
    """
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)


def gaussian_log_prob(
    x: torch.Tensor,
    mu: torch.Tensor | float = 0.0,
    logvar: torch.Tensor | float = 0.0,
    start_dim: int = 1,
) -> torch.Tensor:
    """Log-density of ``x`` under a diagonal Gaussian, summed over dimensions ``start_dim:``.

    Parameters
    ----------
    x : torch.Tensor
        Values, e.g. ``(n, L)`` or ``(k, n, L)`` (then use ``start_dim=2``).
    mu, logvar : torch.Tensor or float
        Mean and log-variance, broadcastable to ``x``; the defaults give ``N(0, I)``.
    start_dim : int
        First event dimension; the dimensions before it are batch dimensions.

    Returns
    -------
    torch.Tensor
        ``x.shape[:start_dim]`` log-densities.
    """
    logvar_t = torch.as_tensor(logvar, dtype=x.dtype, device=x.device)
    mu_t = torch.as_tensor(mu, dtype=x.dtype, device=x.device)
    elem = -0.5 * (LOG_2PI + logvar_t + (x - mu_t).pow(2) * torch.exp(-logvar_t))
    elem = elem.expand_as(x) if elem.shape != x.shape else elem
    return elem.flatten(start_dim).sum(dim=-1)


def iwae_bound(log_weights: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Importance-weighted lower bound of ``log p(x)`` (Burda, Grosse & Salakhutdinov, 2016).

    Parameters
    ----------
    log_weights : torch.Tensor
        ``log p(x, z_k) - log q(z_k | x)`` for ``k`` samples along ``dim`` (e.g. ``(k, n)``).
    dim : int
        The sample dimension.

    Returns
    -------
    torch.Tensor
        ``logsumexp_k(log_weights) - log k``; with ``k = 1`` it is the single-sample ELBO.
    """
    k = log_weights.shape[dim]
    return torch.logsumexp(log_weights, dim=dim) - math.log(k)


def masked_mse(
    x: torch.Tensor, recon: torch.Tensor, mask: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Squared error over the masked entries only (``mask`` true or > 0 = counted).

    Parameters
    ----------
    x, recon : torch.Tensor
        ``(n, ...)`` target and reconstruction.
    mask : torch.Tensor
        Boolean or 0/1 weights broadcastable to ``x``.
    reduction : {"mean", "none"}
        ``"mean"``: one scalar, the mean over all masked entries of the batch. ``"none"``: the
        per-sample mean over that sample's masked entries, ``(n,)`` (0 where none is masked).

    Returns
    -------
    torch.Tensor
        Scalar or ``(n,)``.
    """
    w = mask.to(x.dtype).expand_as(x)
    se = (recon - x).pow(2) * w
    if reduction == "mean":
        return se.sum() / w.sum().clamp_min(1.0)
    if reduction == "none":
        return se.flatten(1).sum(dim=1) / w.flatten(1).sum(dim=1).clamp_min(1.0)
    raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")


def svdd_one_class_loss(dist: torch.Tensor) -> torch.Tensor:
    """One-class Deep SVDD objective: mean squared distance to the centre (Ruff et al., 2018)."""
    return dist.mean()


def svdd_soft_boundary_loss(dist: torch.Tensor, radius: torch.Tensor | float, nu: float) -> torch.Tensor:
    """Soft-boundary Deep SVDD objective ``R^2 + 1/nu * mean(max(0, ||z - c||^2 - R^2))``.

    Parameters
    ----------
    dist : torch.Tensor
        ``(n,)`` squared distances to the centre.
    radius : torch.Tensor or float
        Current radius ``R`` (not squared).
    nu : float
        In ``(0, 1]``: upper bound on the fraction of training points outside the sphere.
    """
    r2 = torch.as_tensor(radius, dtype=dist.dtype, device=dist.device).pow(2)
    return r2 + (dist - r2).clamp_min(0.0).mean() / nu


def deep_sad_loss(
    dist: torch.Tensor, y: torch.Tensor | None = None, eta: float = 1.0, eps: float = 1e-6
) -> torch.Tensor:
    """Deep SAD objective (Ruff et al., 2020) with labels ``y`` = 1 for known anomalies.

    Unlabelled (or normal, ``y != 1``) samples contribute ``||z - c||^2``; known anomalies
    contribute ``eta * (||z - c||^2 + eps)^-1`` and are pushed away from the centre.

    Parameters
    ----------
    dist : torch.Tensor
        ``(n,)`` squared distances to the centre.
    y : torch.Tensor, optional
        ``(n,)`` labels; ``None`` means all unlabelled (= one-class Deep SVDD).
    eta : float
        Weight of the labelled anomalies.
    eps : float
        Keeps the inverse distance finite.
    """
    if y is None:
        return dist.mean()
    anomalous = y.reshape(-1).to(dist.device) == 1
    per_sample = torch.where(anomalous, eta / (dist + eps), dist)
    return per_sample.mean()
