"""Reconstruction by inpainting (RIAD; Zavrtanik, Kristan and Skočaj, Pattern Recognition 2021).

A small U-Net is trained from scratch to inpaint square cells removed from normal images.
For a cell size ``k`` the image is cut into a grid of ``k x k`` cells and the cells are dealt
at random into ``n_masks`` disjoint sets; the U-Net sees the image with one set blanked out
(zeros, the standardised mean) and the reconstruction keeps its output only on that set. The
``n_masks`` passes together give every pixel an inpainted value, so no pixel is ever copied
from the input. The training loss compares the assembled reconstruction with the image:
mean squared error + (1 - SSIM) + the multi-scale gradient-magnitude-similarity distance
(MSGMS, 4 scales, Prewitt gradients).

The anomaly map of an image is ``1 - MSGMS`` between the image and each cell size's
reconstruction (fixed, seeded cell sets), averaged over the cell sizes and smoothed by a
``smooth x smooth`` mean filter. The image score is the mean of the top ``top_fraction`` of
the smoothed map's pixels (the map's maximum for a fraction below one pixel).

Constants: SSIM uses a ``ssim_window``-wide uniform window with ``(0.01 L)^2`` and
``(0.03 L)^2``; GMS uses ``0.0026 L^2`` (RIAD's constant for a unit range), where ``L`` is
``data_range``, the value range of the standardised training images.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from anomalib_ae.nn.base import AnomalyModule

#: anomaly-map distances: gradient similarity, structure, their mean, plain squared error
MAP_KINDS = ("msgms", "ssim", "both", "mse")

_PREWITT = torch.tensor([[1.0, 0.0, -1.0], [1.0, 0.0, -1.0], [1.0, 0.0, -1.0]]) / 3.0


def _gradient_magnitude(x: torch.Tensor) -> torch.Tensor:
    """Prewitt gradient magnitude of each channel, ``x``'s shape (replicated borders)."""
    c = x.shape[1]
    kx = _PREWITT.to(x)[None, None].expand(c, 1, 3, 3)
    ky = _PREWITT.t().contiguous().to(x)[None, None].expand(c, 1, 3, 3)
    xp = F.pad(x, (1, 1, 1, 1), mode="replicate")
    gx = F.conv2d(xp, kx, groups=c)
    gy = F.conv2d(xp, ky, groups=c)
    return torch.sqrt(gx * gx + gy * gy + 1e-12)


def msgms_map(x: torch.Tensor, recon: torch.Tensor, c: float, n_scales: int = 4) -> torch.Tensor:
    """``1 - GMS`` averaged over ``n_scales`` dyadic scales, ``(n, 1, H, W)`` (channels averaged).

    Each coarser scale is a 2x2 average pooling of the previous one; its map is brought back
    to full size bilinearly. 0 where gradients agree, up to 1 where one image has an edge and
    the other none.
    """
    h, w = x.shape[-2:]
    total = torch.zeros(x.shape[0], 1, h, w, dtype=x.dtype, device=x.device)
    a, b = x, recon
    used = 0
    for s in range(n_scales):
        if s:
            if min(a.shape[-2:]) < 4:
                break
            a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        ga, gb = _gradient_magnitude(a), _gradient_magnitude(b)
        gms = (2 * ga * gb + c) / (ga * ga + gb * gb + c)
        m = (1.0 - gms).mean(dim=1, keepdim=True)
        if m.shape[-2:] != (h, w):
            m = F.interpolate(m, size=(h, w), mode="bilinear", align_corners=False)
        total = total + m
        used += 1
    return total / used


def ssim_map(x: torch.Tensor, recon: torch.Tensor, data_range: float, window: int = 7) -> torch.Tensor:
    """Local SSIM with a uniform ``window`` (reflected borders), ``(n, 1, H, W)`` (channels averaged)."""
    w = max(1, min(int(window), min(x.shape[-2:]) - (1 - min(x.shape[-2:]) % 2)))
    if w % 2 == 0:
        w -= 1
    p = w // 2
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2

    def mean(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(F.pad(t, (p, p, p, p), mode="reflect") if p else t, w, stride=1)

    mx, my = mean(x), mean(recon)
    vx = mean(x * x) - mx * mx
    vy = mean(recon * recon) - my * my
    cxy = mean(x * recon) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(dim=1, keepdim=True)


def cell_masks(h: int, w: int, cell: int, n_masks: int, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> torch.Tensor:
    """``(n_masks, n, 1, h, w)`` float masks (1 = removed): disjoint, covering every pixel once.

    The ``cell x cell`` grid cells of each of the ``n`` images are dealt at random into
    ``n_masks`` sets of (nearly) equal size.
    """
    gh, gw = -(-h // cell), -(-w // cell)
    n_cells = gh * gw
    keys = torch.rand(n, n_cells, generator=generator)
    ranks = keys.argsort(dim=1).argsort(dim=1)
    owner = (ranks * n_masks) // n_cells  # (n, cells) in [0, n_masks)
    owner = owner.view(n, 1, gh, gw).repeat_interleave(cell, 2).repeat_interleave(cell, 3)[..., :h, :w]
    sets = torch.arange(n_masks).view(n_masks, 1, 1, 1, 1)
    return (owner.unsqueeze(0) == sets).to(torch.float32).to(device)


def _block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net: ``len(channels)`` stages (2x max-pool down, 2x transposed-conv up, skip concatenations)."""

    def __init__(self, in_channels: int, channels: Sequence[int]) -> None:
        super().__init__()
        ch = [int(c) for c in channels]
        if not ch:
            raise ValueError("the U-Net needs at least one stage (channels)")
        self.depth = len(ch) - 1
        self.down = nn.ModuleList([_block(in_channels if i == 0 else ch[i - 1], ch[i]) for i in range(len(ch))])
        self.up = nn.ModuleList([nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(self.depth)])
        self.dec = nn.ModuleList([_block(2 * ch[i], ch[i]) for i in range(self.depth)])
        self.out = nn.Conv2d(ch[0], in_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = 2**self.depth
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(self.depth)):
            x = self.dec[i](torch.cat([self.up[i](x), skips[i]], dim=1))
        return self.out(x)[..., :h, :w]


class RIADNet(AnomalyModule):
    """Inpainting U-Net with RIAD's loss, anomaly map and score (see the module docstring).

    Parameters
    ----------
    input_shape : (C, H, W)
    channels : U-Net widths per stage (``len - 1`` downsamplings).
    cell_sizes : removed-cell sides in pixels; training draws one per mini-batch.
    n_masks : disjoint cell sets per image (passes per reconstruction).
    data_range : value range ``L`` of the standardised images (SSIM and GMS constants).
    ssim_weight, gms_weight : loss weights of ``1 - SSIM`` and MSGMS beside the MSE.
    map_kind : "msgms", "ssim", "both" (mean of ``1 - MSGMS`` and ``(1 - SSIM) / 2``) or "mse"
        (squared error of the inpainted values).
    smooth : side of the mean filter applied to an image's map (1 = none; never for windows / vectors).
    top_fraction : share of the smoothed map's pixels averaged into the image score.
    seed : seed of the fixed scoring cell sets.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        channels: Sequence[int] = (16, 32, 64, 128),
        cell_sizes: Sequence[int] = (2, 4, 8, 16),
        n_masks: int = 3,
        data_range: float = 1.0,
        ssim_weight: float = 1.0,
        gms_weight: float = 1.0,
        map_kind: str = "msgms",
        smooth: int = 7,
        top_fraction: float = 0.0,
        ssim_window: int = 7,
        train_crop: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if len(input_shape) not in (1, 2, 3):
            raise ValueError(f"RIAD needs (C, H, W), (T, d) or (d,) samples, got shape {tuple(input_shape)}")
        if map_kind not in MAP_KINDS:
            raise ValueError(f"map_kind must be one of {MAP_KINDS}, got {map_kind!r}")
        self.input_shape = tuple(int(v) for v in input_shape)
        # windows (T, d) are one-channel T x d images, vectors (d,) one-pixel-high images
        self.image_shape = (1,) * (3 - len(self.input_shape)) + self.input_shape
        self.cell_sizes = tuple(int(k) for k in cell_sizes)
        if not self.cell_sizes or min(self.cell_sizes) < 1:
            raise ValueError(f"cell_sizes must be positive integers, got {cell_sizes!r}")
        self.n_masks = int(n_masks)
        if self.n_masks < 2:
            raise ValueError(f"n_masks must be at least 2, got {n_masks}")
        # a persistent buffer: the model file carries the SSIM / GMS constants with the weights
        self.register_buffer("value_range", torch.tensor(float(data_range)))
        self.ssim_weight = float(ssim_weight)
        self.gms_weight = float(gms_weight)
        self.map_kind = map_kind
        self.smooth = int(smooth)
        self.top_fraction = float(top_fraction)
        self.ssim_window = int(ssim_window)
        self.train_crop = None if train_crop is None else int(train_crop)
        # per-pixel mean / scale of normal maps (set by the detector after training; None = raw map)
        self.map_mean: torch.Tensor | None = None
        self.map_scale: torch.Tensor | None = None
        self.unet = UNet(self.image_shape[0], channels)
        _, h, w = self.image_shape
        gen = torch.Generator().manual_seed(int(seed))
        fixed = torch.stack([cell_masks(h, w, k, self.n_masks, 1, gen) for k in self.cell_sizes])
        self.register_buffer("score_masks", fixed, persistent=False)  # (K, n_masks, 1, 1, H, W)

    @property
    def data_range(self) -> float:
        return float(self.value_range)

    @property
    def gms_c(self) -> float:
        return 0.0026 * self.data_range**2

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], *self.image_shape)

    def inpaint(self, x: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        """Reconstruction assembled from ``n_masks`` passes; ``masks`` ``(n_masks, n or 1, 1, H, W)``."""
        m = masks.to(x.dtype)
        n_sets = m.shape[0]
        inputs = torch.cat([x * (1.0 - m[i]) for i in range(n_sets)])  # one batched pass
        outs = self.unet(inputs).view(n_sets, *x.shape)
        return (outs * m).sum(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction with the smallest cell size's fixed cell sets, ``x``'s shape."""
        return self.inpaint(self._image(x), self.score_masks[0]).view_as(x)

    def _crop(self, x: torch.Tensor) -> torch.Tensor:
        """A random ``train_crop`` square of each image (training only; the net is fully convolutional)."""
        c = self.train_crop
        h, w = x.shape[-2:]
        if c is None or (c >= h and c >= w):
            return x
        ch, cw = min(c, h), min(c, w)
        top = torch.randint(h - ch + 1, (x.shape[0],)).tolist()
        left = torch.randint(w - cw + 1, (x.shape[0],)).tolist()
        return torch.stack([x[i, :, t : t + ch, s : s + cw] for i, (t, s) in enumerate(zip(top, left))])

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        x = self._crop(self._image(x))
        k = self.cell_sizes[int(torch.randint(len(self.cell_sizes), ()))]
        h, w = x.shape[-2:]
        masks = cell_masks(h, w, k, self.n_masks, x.shape[0], device=x.device)
        recon = self.inpaint(x, masks)
        loss = (recon - x).pow(2).mean()
        if self.ssim_weight:
            loss = loss + self.ssim_weight * (1.0 - ssim_map(x, recon, self.data_range, self.ssim_window)).mean()
        if self.gms_weight:
            loss = loss + self.gms_weight * msgms_map(x, recon, self.gms_c).mean()
        return loss

    def _distance(self, x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
        if self.map_kind == "mse":
            return (recon - x).pow(2).mean(dim=1, keepdim=True)
        if self.map_kind == "msgms":
            return msgms_map(x, recon, self.gms_c)
        ssim_d = (1.0 - ssim_map(x, recon, self.data_range, self.ssim_window)) / 2.0
        if self.map_kind == "ssim":
            return ssim_d
        return (msgms_map(x, recon, self.gms_c) + ssim_d) / 2.0

    def pixel_map(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly map ``(n, 1, H, W)``: the distance averaged over cell sizes, mean-filtered, and
        standardised per pixel by ``map_mean`` / ``map_scale`` when those are set."""
        x = self._image(x)
        total = torch.zeros(x.shape[0], 1, *x.shape[-2:], dtype=x.dtype, device=x.device)
        for masks in self.score_masks:
            total = total + self._distance(x, self.inpaint(x, masks))
        amap = total / len(self.score_masks)
        if self.smooth > 1 and len(self.input_shape) == 3:  # images only: features have no neighbourhood
            p = self.smooth // 2
            amap = F.avg_pool2d(F.pad(amap, (p, p, p, p), mode="replicate"), self.smooth, stride=1)
            amap = amap[..., : x.shape[-2], : x.shape[-1]]
        if self.map_mean is not None and self.map_scale is not None:
            amap = (amap - self.map_mean.to(amap)) / self.map_scale.to(amap)
        return amap

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """The anomaly map broadcast over channels, ``x``'s shape; a standardised map is clipped
        at 0 (only pixels that differ more than normal ones count as errors)."""
        m = self.pixel_map(x)
        if self.map_mean is not None:
            m = m.clamp_min(0.0)  # standardised: the part above normal (errors are non-negative)
        return m.expand(x.shape[0], *self.image_shape).reshape(x.shape).contiguous()

    def score(self, x: torch.Tensor) -> torch.Tensor:
        flat = self.pixel_map(x).flatten(1)
        k = max(1, int(round(self.top_fraction * flat.shape[1])))
        return flat.topk(k, dim=1).values.mean(dim=1)
