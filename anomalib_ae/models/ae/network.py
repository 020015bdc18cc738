"""Dense and convolutional autoencoders scored by reconstruction error (MSE, or SSIM for images)."""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch

from anomalib_ae.nn.base import AnomalyModule, squared_reconstruction_error
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp


def per_sample_mse(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Mean squared error of each sample over all its non-batch dimensions."""
    return (recon - x).pow(2).flatten(1).mean(dim=1)


#: Reconstruction scores: "mse" for every input, "ssim" (structural dissimilarity) for images only.
SCORE_TYPES = ("mse", "ssim")


def per_sample_ssim_error(x: torch.Tensor, recon: torch.Tensor, window: int = 7, data_range: float = 1.0) -> torch.Tensor:
    """``1 - SSIM`` of each image of a batch ``(n, C, H, W)`` (0 for a perfect reconstruction, at most 2).

    torchmetrics' SSIM (Wang et al., 2004) with a uniform ``window`` x ``window`` (reflected
    borders), constants ``(0.01 L)^2`` and ``(0.03 L)^2`` with ``L = data_range``; the window
    shrinks to the largest odd size that fits images smaller than it.
    """
    from torchmetrics.functional.image import structural_similarity_index_measure

    side = min(x.shape[-2], x.shape[-1])
    w = max(1, min(int(window), side if side % 2 else side - 1))
    ssim = structural_similarity_index_measure(
        recon, x, gaussian_kernel=False, kernel_size=w, data_range=data_range, reduction="none"
    )
    return 1.0 - ssim


class DenseAutoEncoderNet(AnomalyModule):
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

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error of every value, ``x``'s shape."""
        return squared_reconstruction_error(self, x)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return per_sample_mse(x, self(x)).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return per_sample_mse(x, self(x))


class ConvAutoEncoderNet(AnomalyModule):
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
        """Squared error of every value, ``x``'s shape ``(n, C, H, W)`` (a pixel map averages channels)."""
        return squared_reconstruction_error(self, x)

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
        return ConvAutoEncoderNet(input_shape, hidden_dims, latent_dim, score_type=score_type)
    if score_type != "mse":
        raise ValueError(f"score_type={score_type!r} needs images; {kind} input is scored by 'mse'")
    return DenseAutoEncoderNet(input_shape, hidden_dims, latent_dim)
