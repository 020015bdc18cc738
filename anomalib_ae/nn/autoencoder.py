"""Dense and convolutional autoencoders scored by reconstruction error (MSE, or SSIM for images)."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch import nn
from torch.nn import functional as F

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp


def per_sample_mse(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each sample over all its non-batch dimensions."""
    return (recon - x).pow(2).flatten(1).mean(dim=1)


#: Reconstruction scores: "mse" for every input, "ssim" (structural dissimilarity) for images only.
SCORE_TYPES = ("mse", "ssim")


def ssim_map(x: torch.Tensor, y: torch.Tensor, window: int = 7, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM (Wang et al., 2004) of image batches ``(n, C, H, W)``: ``(n, C, H', W')``.

    Uniform ``window`` x ``window`` means, variances and covariance (the window shrinks to the
    image side when the image is smaller), no padding, constants ``(0.01 L)^2`` and
    ``(0.03 L)^2`` with ``L = data_range``. 1 where ``y`` equals ``x``.
    """
    w = max(1, min(int(window), x.shape[-2], x.shape[-1]))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    n, c = x.shape[:2]
    stats = F.avg_pool2d(torch.cat([x, y, x * x, y * y, x * y]).flatten(0, 1)[:, None], w, stride=1)
    mx, my, mxx, myy, mxy = stats.view(5, n, c, *stats.shape[-2:])
    vx, vy, cxy = mxx - mx * mx, myy - my * my, mxy - mx * my
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


def per_sample_ssim_error(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """``1 - mean local SSIM`` of each image (0 for a perfect reconstruction, at most 2)."""
    return 1.0 - ssim_map(x, recon).flatten(1).mean(dim=1)


class DenseAutoEncoder(AnomalyModule):
    """Fully connected autoencoder for vectors ``(n, d)`` and windows ``(n, T, d)`` (flattened)."""

    def __init__(self, input_shape: Sequence[int], hidden_dims: Sequence[int], latent_dim: int) -> None:
        super().__init__()
        self.input_shape = tuple(int(v) for v in input_shape)
        d = prod(self.input_shape)
        dims = [d, *hidden_dims, latent_dim]
        self.encoder = mlp(dims)
        self.decoder = mlp(dims[::-1])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)).view_as(x)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return per_sample_mse(x, self(x)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return per_sample_mse(x, self(x))


class ConvAutoEncoder(AnomalyModule):
    """Convolutional autoencoder for images ``(n, C, H, W)``; ``channels`` per strided stage.

    Trained on the mean squared error; ``score_type`` "mse" scores by it too, "ssim" by
    :func:`per_sample_ssim_error` of the reconstruction (on the standardised input, ``L = 1``).
    """

    def __init__(
        self, input_shape: Sequence[int], channels: Sequence[int], latent_dim: int, score_type: str = "mse"
    ) -> None:
        super().__init__()
        if score_type not in SCORE_TYPES:
            raise ValueError(f"score_type must be one of {SCORE_TYPES}, got {score_type!r}")
        self.score_type = score_type
        self.input_shape = tuple(int(v) for v in input_shape)
        self.encoder = ConvEncoder(self.input_shape, channels, latent_dim)
        self.decoder = ConvDecoder(self.input_shape, channels, latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel squared error averaged over channels: ``(n, H, W)``."""
        return (self(x) - x).pow(2).mean(dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return per_sample_mse(x, self(x)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        if self.score_type == "ssim":
            return per_sample_ssim_error(x, self(x))
        return per_sample_mse(x, self(x))


def build_autoencoder(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, score_type: str = "mse"
) -> AnomalyModule:
    """Dense AE for ``kind`` "vector"/"window", convolutional AE for "image" (``score_type`` "ssim": images only)."""
    if kind == "image":
        return ConvAutoEncoder(input_shape, hidden_dims, latent_dim, score_type=score_type)
    if score_type != "mse":
        raise ValueError(f"score_type={score_type!r} needs images; {kind} input is scored by 'mse'")
    return DenseAutoEncoder(input_shape, hidden_dims, latent_dim)
