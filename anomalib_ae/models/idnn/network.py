"""Interpolation network (IDNN; Suefusa et al., "Anomalous Sound Detection Based on Interpolation
Deep Neural Network", ICASSP 2020).

The input is a sequence of ``T`` frames (log-mel frames of a context window, time steps of a
window, ...). One *target* frame is removed and predicted from the others; the error is the
squared error on the removed frame only. A plain autoencoder must also reproduce the edge frames,
which it cannot predict on a non-stationary machine sound; interpolating a middle frame from both
sides is easier for normal sound and keeps the error informative.

Frames by input kind (model layout of :mod:`anomalib_ae.detectors._deep`):

* ``"window"`` ``(T, d)``: the ``T`` time steps;
* ``"vector"`` ``(D,)``: ``n_frames`` consecutive blocks of ``D / n_frames`` values (the audio
  adapter's frame vectors stack ``n_context`` log-mel frames this way, frame after frame), or,
  without ``n_frames``, each feature is a frame;
* ``"image"`` ``(C, H, W)``: the ``H`` rows (each ``C * W`` values).

Targets: ``"centre"`` (the paper: frame ``T // 2`` from the others) or ``"all"`` (every frame in
turn; training draws one target per sample, the score averages all ``T``). The network sees the
sequence with the target frame zeroed plus a one-hot code of the target position, so one
network serves every target (for ``"centre"`` the code is constant, a bias).
"""

from __future__ import annotations

from collections.abc import Sequence
from math import prod

import torch
from torch.nn import functional as F

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import mlp

#: Which frames are interpolated.
TARGETS = ("centre", "all")


def frame_layout(input_shape: Sequence[int], kind: str, n_frames: int | None) -> tuple[int, int]:
    """``(T, d)``: number of frames and values per frame of one sample in model layout."""
    shape = tuple(int(v) for v in input_shape)
    if kind == "window":
        if n_frames is not None and int(n_frames) != shape[0]:
            raise ValueError(f"n_frames={n_frames} does not match windows of {shape[0]} time steps; leave it None")
        T, d = shape
    elif kind == "image":
        T, d = shape[1], shape[0] * shape[2]
    else:
        D = prod(shape)
        T = D if n_frames is None else int(n_frames)
        if T < 1 or D % T:
            raise ValueError(f"n_frames={n_frames} does not divide the {D} feature(s) of a vector")
        d = D // T
    if T < 2:
        raise ValueError(f"the interpolation network needs at least 2 frames; got {T} (input of {prod(shape)} feature(s))")
    return T, d


class InterpolationNet(AnomalyModule):
    """Dense interpolation network: context frames (target zeroed) + target code -> target frame."""

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        n_frames: int | None = None,
        target: str = "centre",
    ) -> None:
        super().__init__()
        if target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.kind = kind
        self.target = target
        self.n_frames, self.frame_dim = frame_layout(self.input_shape, kind, n_frames)
        T, d = self.n_frames, self.frame_dim
        self.net = mlp([T * d + T, *hidden_dims, latent_dim, *reversed(tuple(hidden_dims)), d])

    # ------------------------------------------------------------------ layout
    def frames(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` in model layout -> ``(n, T, d)``."""
        if self.kind == "image":
            n, c, h, w = x.shape
            return x.permute(0, 2, 1, 3).reshape(n, h, c * w)
        return x.reshape(x.shape[0], self.n_frames, self.frame_dim)

    def unframe(self, f: torch.Tensor) -> torch.Tensor:
        """``(n, T, d)`` -> model layout (inverse of :meth:`frames`)."""
        if self.kind == "image":
            c, h, w = self.input_shape
            return f.reshape(f.shape[0], h, c, w).permute(0, 2, 1, 3)
        return f.reshape(f.shape[0], *self.input_shape)

    @property
    def centre(self) -> int:
        return self.n_frames // 2

    # ------------------------------------------------------------------ model
    def interpolate(self, f: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """Prediction ``(n, d)`` of frame ``t[i]`` of each sequence ``f[i]`` from its other frames."""
        code = F.one_hot(t, self.n_frames).to(f.dtype)
        context = f * (1.0 - code).unsqueeze(-1)
        return self.net(torch.cat([context.flatten(1), code], dim=1))

    def _frame_errors(self, f: torch.Tensor, t: int) -> torch.Tensor:
        """Squared error ``(n, d)`` of frame ``t`` predicted from the others."""
        idx = torch.full((f.shape[0],), t, dtype=torch.long, device=f.device)
        return (self.interpolate(f, idx) - f[:, t]).pow(2)

    def _targets(self) -> range:
        return range(self.n_frames) if self.target == "all" else range(self.centre, self.centre + 1)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        f = self.frames(x)
        if self.target == "all":
            t = torch.randint(self.n_frames, (f.shape[0],), device=f.device)
        else:
            t = torch.full((f.shape[0],), self.centre, dtype=torch.long, device=f.device)
        pred = self.interpolate(f, t)
        return (pred - f[torch.arange(f.shape[0], device=f.device), t]).pow(2).mean()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared interpolation error over the target frame(s) of each sample."""
        f = self.frames(x)
        targets = self._targets()
        return sum(self._frame_errors(f, t).mean(dim=1) for t in targets) / len(targets)

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Squared interpolation error of every target value, 0 on frames never predicted; ``x``'s shape."""
        f = self.frames(x)
        out = torch.zeros_like(f)
        for t in self._targets():
            out[:, t] = self._frame_errors(f, t)
        return self.unframe(out)


def build_idnn(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int,
    n_frames: int | None = None, target: str = "centre",
) -> InterpolationNet:
    """Build an :class:`InterpolationNet` (see the module docstring for the frames of each kind)."""
    return InterpolationNet(input_shape, kind, hidden_dims, latent_dim, n_frames=n_frames, target=target)
