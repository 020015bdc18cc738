"""Image grid with anomaly-map overlays and a threshold contour; spectrogram with its error map on one axis."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["plot_map_overlay", "plot_map_grid", "plot_spectrogram_overlay"]


def _gray(image) -> np.ndarray:
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[0] in (1, 3, 4):
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return img


def plot_map_overlay(image, anomaly_map, *, threshold: float | None = None, mask=None, ax=None, alpha: float = 0.45,
                     vmax: float | None = None, title: str | None = None):
    """Image in grey, the map as a translucent heatmap, the ``threshold`` level as a white contour,
    and the ground-truth ``mask`` outline in green. Returns ``ax``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    img = _gray(image)
    m = np.asarray(anomaly_map, dtype=np.float64)
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    ax.imshow(m, cmap="inferno", alpha=alpha, vmin=float(np.nanmin(m)), vmax=vmax if vmax is not None else float(np.nanmax(m)))
    if threshold is not None and np.nanmax(m) > threshold > np.nanmin(m):
        ax.contour(m, levels=[threshold], colors="white", linewidths=0.9)
    if mask is not None and np.asarray(mask).any():
        ax.contour(np.asarray(mask) > 0, levels=[0.5], colors="lime", linewidths=0.8)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=7)
    return ax


def plot_map_grid(images, maps, *, threshold: float | None = None, masks=None, titles: Sequence[str] | None = None,
                  ncols: int = 4, axes=None, same_scale: bool = True):
    """Grid of :func:`plot_map_overlay`; ``threshold`` may be one value for all maps. Returns the axes array."""
    import matplotlib.pyplot as plt

    maps = np.asarray(maps, dtype=np.float64)
    n = len(maps)
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    if axes is None:
        _, axes = plt.subplots(nrows, ncols, figsize=(2.4 * ncols, 2.5 * nrows), squeeze=False)
    flat = np.asarray(axes).ravel()
    vmax = float(np.nanmax(maps)) if same_scale and n else None
    for k, ax in enumerate(flat):
        if k >= n:
            ax.axis("off")
            continue
        plot_map_overlay(images[k], maps[k], threshold=threshold, mask=None if masks is None else masks[k], ax=ax,
                         vmax=vmax, title=None if titles is None else titles[k])
    return axes


def plot_spectrogram_overlay(log_mel, error_map, *, ax=None, quantile: float = 0.95, hop_seconds: float | None = None,
                             title: str | None = None):
    """Log-mel spectrogram with the error map's top ``1 - quantile`` cells outlined in red. Returns ``ax``."""
    import matplotlib.pyplot as plt

    S = np.asarray(log_mel, dtype=np.float64)
    E = np.asarray(error_map, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    T = S.shape[1]
    ext = [0, T * hop_seconds if hop_seconds else T, 0, S.shape[0]]
    ax.imshow(S, origin="lower", aspect="auto", cmap="magma", extent=ext)
    Ep = np.full_like(S, np.nan)
    Ep[:, : E.shape[1]] = E[:, :T]
    level = np.nanquantile(E, quantile)
    if np.nanmax(E) > level:
        xs = np.linspace(ext[0], ext[1], T)
        ax.contour(xs, np.arange(S.shape[0]) + 0.5, np.nan_to_num(Ep, nan=0.0), levels=[level], colors="cyan", linewidths=0.8)
    ax.set_xlabel("time (s)" if hop_seconds else "frame")
    ax.set_ylabel("mel band")
    ax.set_title(title or f"log-mel spectrogram, error map above its {quantile:.0%} quantile outlined", fontsize=8)
    return ax
