"""Score histogram with threshold, and ROC curve."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ScoreHistogramDisplay:
    """Histogram of anomaly scores (split by label when labels are known) with the threshold line.

    Build it with :meth:`from_detector` or :meth:`from_scores`, then :meth:`plot`.
    """

    scores: np.ndarray
    threshold: float | None = None
    labels: np.ndarray | None = None
    title: str = "Anomaly scores"

    @classmethod
    def from_scores(cls, scores, threshold=None, labels=None, *, ax=None, title="Anomaly scores", bins=50, log_x="auto"):
        disp = cls(np.asarray(scores, dtype=np.float64), threshold, None if labels is None else np.asarray(labels), title)
        return disp.plot(ax=ax, bins=bins, log_x=log_x)

    @classmethod
    def from_detector(cls, detector, X, labels=None, *, ax=None, bins=50):
        return cls.from_scores(detector.score(X), detector.threshold_, labels, ax=ax, bins=bins)

    def plot(self, ax=None, bins: int = 50, log_x: bool | str = "auto"):
        """Draw on ``ax``; ``log_x="auto"`` uses a log score axis for positive, heavy-tailed scores."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 3.5))
        finite = self.scores[np.isfinite(self.scores)]
        if log_x == "auto":
            positive = finite.size > 0 and finite.min() > 0
            log_x = bool(positive and finite.max() / max(np.median(finite), 1e-300) > 20)
        if log_x:
            edges = np.geomspace(finite.min(), finite.max(), bins + 1)
            ax.set_xscale("log")
        else:
            edges = np.histogram_bin_edges(finite, bins=bins)
        if self.labels is None:
            ax.hist(finite, bins=edges, color="tab:blue", alpha=0.8, label="scores")
        else:
            lab = self.labels[np.isfinite(self.scores)]
            ax.hist(finite[lab == 0], bins=edges, color="tab:blue", alpha=0.6, label=f"normal (n={int((lab == 0).sum())})")
            ax.hist(finite[lab != 0], bins=edges, color="tab:red", alpha=0.6, label=f"anomaly (n={int((lab != 0).sum())})")
        if self.threshold is not None:
            flagged = float(np.mean(finite > self.threshold)) if finite.size else 0.0
            ax.axvline(self.threshold, color="black", ls="--", label=f"threshold {self.threshold:.3g} ({flagged:.1%} flagged)")
        ax.set_xlabel("anomaly score (higher = more anomalous)")
        ax.set_ylabel("count")
        ax.set_title(self.title)
        ax.legend(fontsize=8)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


def plot_roc(labels, scores, *, name: str | None = None, ax=None):
    """ROC curve of anomaly scores against labels (1 = anomaly), via scikit-learn's display."""
    from sklearn.metrics import RocCurveDisplay

    return RocCurveDisplay.from_predictions(labels, scores, name=name, ax=ax, pos_label=1)
