"""Explanation plots: pixel anomaly heatmaps, spectrogram error maps, telemetry timelines.

Pure functions draw on axes they are given (or make one); the ``*Display`` classes hold
the arrays and compose the functions, as :class:`~anomalib_ae.plots.ScoreHistogramDisplay`.
matplotlib is imported inside the functions only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "AnomalyMapDisplay",
    "SpectrogramErrorDisplay",
    "TelemetryTimelineDisplay",
    "culprit_metrics",
    "plot_anomaly_map",
    "plot_spectrogram_error",
    "plot_telemetry_timeline",
]


def _ax(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


# ----------------------------------------------------------------------------- images
def plot_anomaly_map(image, anomaly_map, *, mask=None, ax=None, alpha: float = 0.5, title: str | None = None,
                     vmax: float | None = None):
    """The image in grey with its anomaly map as a heatmap on top (and the mask outline if given).

    Parameters
    ----------
    image : array of shape (H, W) or (C, H, W) / (H, W, C)
    anomaly_map : array of shape (H, W)
    mask : array of shape (H, W), optional
        Ground-truth defect pixels, drawn as a contour.
    """
    ax = _ax(ax, (3, 3))
    img = np.asarray(image, dtype=np.float64)
    if img.ndim == 3 and img.shape[0] in (1, 3):
        img = img.transpose(1, 2, 0)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None)
    amap = np.asarray(anomaly_map, dtype=np.float64)
    im = ax.imshow(amap, cmap="jet", alpha=alpha, vmin=0.0, vmax=vmax if vmax is not None else float(np.nanmax(amap)))
    if mask is not None and np.asarray(mask).any():
        ax.contour(np.asarray(mask) > 0, levels=[0.5], colors="white", linewidths=1.0)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)
    return im


@dataclass
class AnomalyMapDisplay:
    """Grid of images with their anomaly heatmaps.

    Build with :meth:`from_explanation` (the :class:`~anomalib_ae.explain.Explanation` of
    :meth:`Pipeline.explain`) or directly.
    """

    images: np.ndarray
    maps: np.ndarray
    titles: Sequence[str] | None = None
    masks: np.ndarray | None = None

    @classmethod
    def from_explanation(cls, explanation, *, masks=None, ncols: int = 4):
        ex = explanation
        titles = [f"{str(name).split('/')[-1][:28]}\nscore {s:.3g}" for name, s in zip(ex.item_ids, ex.scores)]
        return cls(ex.images, ex.attributions, titles, masks).plot(ncols=ncols)

    def plot(self, ncols: int = 4, same_scale: bool = True):
        import matplotlib.pyplot as plt

        n = len(self.maps)
        ncols = max(1, min(ncols, n))
        nrows = max(1, -(-n // ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols, 2.8 * nrows), squeeze=False)
        vmax = float(np.nanmax(self.maps)) if same_scale and n else None
        for k, ax in enumerate(axes.ravel()):
            if k >= n:
                ax.axis("off")
                continue
            plot_anomaly_map(self.images[k], self.maps[k], ax=ax, vmax=vmax,
                             mask=None if self.masks is None else self.masks[k],
                             title=None if self.titles is None else self.titles[k])
        fig.tight_layout()
        self.figure_, self.axes_ = fig, axes
        return self


# ----------------------------------------------------------------------------- audio
def plot_spectrogram_error(log_mel, error_map, *, axes=None, title: str | None = None, hop_seconds: float | None = None,
                           error_title: str | None = None):
    """Log-mel spectrogram (top) and its reconstruction-error map (bottom), aligned in time.

    Parameters
    ----------
    log_mel : array of shape (n_mels, T)
    error_map : array of shape (n_mels, T') with T' <= T (frames past the last vector are blank)
    axes : two axes, optional
    hop_seconds : float, optional
        Seconds per STFT frame (``hop_length / sr``) to label the time axis in seconds.
    error_title : str, optional
        Title of the error map (default: per mel band and frame).
    """
    import matplotlib.pyplot as plt

    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(6, 4.2), sharex=True)
    lm = np.asarray(log_mel, dtype=np.float64)
    em = np.asarray(error_map, dtype=np.float64)
    ext = None
    if hop_seconds:
        ext = [0, lm.shape[1] * hop_seconds, 0, lm.shape[0]]
    a0 = axes[0].imshow(lm, origin="lower", aspect="auto", cmap="magma", extent=ext)
    axes[0].set_ylabel("mel band")
    axes[0].set_title(title or "log-mel spectrogram (dB)", fontsize=9)
    plt.colorbar(a0, ax=axes[0], fraction=0.04)
    pad = np.full((em.shape[0], max(lm.shape[1], em.shape[1])), np.nan)
    pad[:, : em.shape[1]] = em
    a1 = axes[1].imshow(pad, origin="lower", aspect="auto", cmap="viridis", extent=ext)
    axes[1].set_ylabel("mel band")
    axes[1].set_xlabel("time (s)" if hop_seconds else "STFT frame")
    axes[1].set_title(error_title or "reconstruction error per mel band and frame", fontsize=9)
    plt.colorbar(a1, ax=axes[1], fraction=0.04)
    return axes


@dataclass
class SpectrogramErrorDisplay:
    """Spectrogram + error map of one clip."""

    log_mel: np.ndarray
    error_map: np.ndarray
    title: str | None = None
    hop_seconds: float | None = None
    error_title: str | None = None

    @classmethod
    def from_explanation(cls, explanation, k: int = 0, hop_seconds: float | None = None,
                         error_title: str | None = None):
        """The ``k``-th explained clip of an audio :class:`~anomalib_ae.explain.Explanation`."""
        ex = explanation
        title = f"{str(ex.item_ids[k]).split('/')[-1]}  score {ex.scores[k]:.3g}"
        return cls(ex.log_mels[k], ex.attributions[k], title, hop_seconds, error_title).plot()

    def plot(self, axes=None):
        self.axes_ = plot_spectrogram_error(self.log_mel, self.error_map, axes=axes, title=self.title,
                                            hop_seconds=self.hop_seconds, error_title=self.error_title)
        self.figure_ = self.axes_[0].figure
        self.figure_.tight_layout()
        return self


# ----------------------------------------------------------------------------- telemetry
def culprit_metrics(contributions, metric_names: Sequence[str], flagged, k: int = 3) -> list[str]:
    """The ``k`` metrics with the largest total contribution over the ``flagged`` rows."""
    c = np.nan_to_num(np.asarray(contributions, dtype=np.float64))
    f = np.asarray(flagged, dtype=bool)
    tot = c[f].sum(axis=0) if f.any() else c.sum(axis=0)
    return [str(metric_names[j]) for j in np.argsort(-tot, kind="stable")[:k]]


def plot_telemetry_timeline(timestamps, scores, *, threshold=None, contributions=None, metric_names=None,
                            labels=None, k: int = 3, axes=None, title: str | None = None):
    """Per-timestamp score with threshold and flagged spans; below, the culprit metrics' contributions.

    Parameters
    ----------
    timestamps, scores : arrays of shape (n,)
    threshold : float, optional
    contributions : array of shape (n, n_metrics), optional
        Per-timestamp, per-metric contributions (e.g. ``Pipeline.explain(...).row_contributions``).
    metric_names : list of str, optional
    labels : array of shape (n,), optional
        Known anomalies (1), shaded in red.
    k : int, default=3
        Culprit metrics to draw (largest total contribution over flagged timestamps; when none is
        flagged, over the 5 highest-scoring ones).
    """
    import matplotlib.pyplot as plt

    t = np.asarray(timestamps)
    s = np.asarray(scores, dtype=np.float64)
    two = contributions is not None
    if axes is None:
        _, axes = plt.subplots(2 if two else 1, 1, figsize=(9, 4.5 if two else 2.6), sharex=True, squeeze=False)
        axes = axes[:, 0]
    ax = axes[0]
    ax.plot(t, s, lw=0.8, color="tab:blue", label="anomaly score")
    flagged = np.isfinite(s) & (s > threshold) if threshold is not None else np.zeros(len(s), bool)
    if threshold is not None:
        ax.axhline(threshold, color="black", ls="--", lw=0.8, label=f"threshold ({flagged.mean():.1%} flagged)")
    if labels is not None:
        lab = np.asarray(labels).astype(bool)
        ax.fill_between(t, 0, 1, where=lab, color="tab:red", alpha=0.15, transform=ax.get_xaxis_transform(),
                        label="labelled anomaly")
    ax.set_ylabel("score")
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title or "anomaly score per timestamp", fontsize=9)
    if two:
        names = list(metric_names) if metric_names is not None else [f"m{j}" for j in range(np.shape(contributions)[1])]
        basis, where = flagged, "flagged timestamps"
        if not flagged.any():  # nothing over the threshold: the highest-scoring timestamps, as explain ranks them
            top = np.argsort(-np.nan_to_num(s, nan=-np.inf), kind="stable")[: min(5, len(s))]
            basis = np.zeros(len(s), bool)
            basis[top] = True
            where = f"the {len(top)} highest-scoring timestamps, none flagged"
        culprits = culprit_metrics(contributions, names, basis, k)
        c = np.asarray(contributions, dtype=np.float64)
        for name in culprits:
            axes[1].plot(t, c[:, names.index(name)], lw=0.8, label=name)
        axes[1].set_ylabel("contribution")
        axes[1].set_title(f"culprit metrics (top {len(culprits)} over {where}): {', '.join(culprits)}",
                          fontsize=9)
        axes[1].legend(fontsize=7, loc="upper left")
    return axes


@dataclass
class TelemetryTimelineDisplay:
    """Score timeline naming the culprit metrics."""

    timestamps: np.ndarray
    scores: np.ndarray
    threshold: float | None = None
    contributions: np.ndarray | None = None
    metric_names: Sequence[str] | None = None
    labels: np.ndarray | None = None
    k: int = 3

    @classmethod
    def from_explanation(cls, explanation, threshold: float | None = None, timestamp_col: str = "timestamp",
                         labels=None, k: int = 3):
        """Timeline of every row of a telemetry :class:`~anomalib_ae.explain.Explanation`."""
        res = explanation.result
        tcol = timestamp_col if timestamp_col in res.table else res.table.columns[1]
        return cls(res.table[tcol].to_numpy(), res.scores, threshold, explanation.row_contributions,
                   explanation.feature_names, labels, k).plot()

    def plot(self, axes=None):
        self.axes_ = plot_telemetry_timeline(self.timestamps, self.scores, threshold=self.threshold,
                                             contributions=self.contributions, metric_names=self.metric_names,
                                             labels=self.labels, k=self.k, axes=axes)
        self.figure_ = self.axes_[0].figure
        self.figure_.tight_layout()
        if self.contributions is not None and self.threshold is not None:
            flagged = np.isfinite(self.scores) & (self.scores > self.threshold)
            self.culprits_ = culprit_metrics(self.contributions, list(self.metric_names), flagged, self.k)
        return self
