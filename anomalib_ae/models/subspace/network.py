"""The fitted projection of ``"subspace"`` as a torch module (no training loop; gradients for explanations).

:class:`SubspaceNet` standardises every value by its training mean and standard deviation,
projects the standardised sample onto the span of the standardised training samples (an
orthonormal basis ``components``, from an SVD, fitted by the detector), and divides the
absolute residual by the residual's out-of-fold RMS per value. Images are then smoothed
with a Gaussian (``sigma`` pixels, reflected borders, per channel); the score is the
map's maximum.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from anomalib_ae.nn.base import AnomalyModule


def gaussian_kernel(sigma: float, size_limit: int) -> torch.Tensor:
    """1-D Gaussian of ``sigma`` (truncated at 4 sigma, at most ``size_limit - 1`` each side), sums to 1."""
    radius = max(0, min(int(math.ceil(4.0 * sigma)), size_limit - 1))
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).float()


class SubspaceNet(AnomalyModule):
    """Residual of the projection onto the training span, per value, in out-of-fold RMS units.

    Parameters
    ----------
    shape : tuple of int
        Per-sample shape in model layout: ``(C, H, W)`` for images, else the input's.
    n_components : int
        Rows of ``components`` (the basis); the detector loads the fitted values.
    sigma : float
        Gaussian smoothing of image maps in pixels; 0 = none (always none for non-images).
    image : bool
        Whether the last two axes are image rows and columns.
    """

    def __init__(self, shape: tuple[int, ...], n_components: int, sigma: float = 0.0, image: bool = False):
        super().__init__()
        self.shape = tuple(int(s) for s in shape)
        d = int(math.prod(self.shape))
        self.register_buffer("mean", torch.zeros(d))
        self.register_buffer("scale", torch.ones(d))
        self.register_buffer("components", torch.zeros(int(n_components), d))
        self.register_buffer("resid_rms", torch.ones(d))
        self.sigma = float(sigma)
        self.image = bool(image)
        if self.image and self.sigma > 0:
            self.register_buffer("kernel", gaussian_kernel(self.sigma, min(self.shape[-2:])))
        else:
            self.kernel = None

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        """Standardised residual ``z - P z`` of ``x`` (flattened, ``(n, d)``)."""
        z = (x.reshape(len(x), -1) - self.mean) / self.scale
        return z - (z @ self.components.T) @ self.components

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The projection (reconstruction) of ``x`` in input units."""
        r = self.residual(x)
        return x - (r * self.scale).reshape(x.shape)

    def _smooth(self, m: torch.Tensor) -> torch.Tensor:
        if self.kernel is None:
            return m
        n = len(m)
        H, W = self.shape[-2:]
        k = self.kernel.to(m.dtype)
        p = (len(k) - 1) // 2
        y = m.reshape(-1, 1, H, W)
        y = F.conv2d(F.pad(y, (p, p, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
        y = F.conv2d(F.pad(y, (0, 0, p, p), mode="reflect"), k.view(1, 1, -1, 1))
        return y.reshape(n, *self.shape)

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """``|z - P z| / resid_rms``, smoothed for images: ``x``'s shape, higher = more anomalous."""
        m = self.residual(x).abs() / self.resid_rms
        return self._smooth(m.reshape(len(x), *self.shape)).reshape(x.shape)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The map's maximum per sample."""
        return self.error_map(x).reshape(len(x), -1).amax(dim=1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Not trained by gradient descent (fitted in closed form): the mean squared residual, for reference."""
        return self.residual(x).pow(2).mean()
