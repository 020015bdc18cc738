"""ROC and precision-recall curves of anomaly scores against known labels (1 = anomaly)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CurvesDisplay", "plot_pr_curve", "plot_roc_curve"]


def _ax(ax, figsize=(4, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _clean(labels, scores):
    y = np.asarray(labels).astype(int).ravel()
    s = np.asarray(scores, dtype=np.float64).ravel()
    if y.shape != s.shape:
        raise ValueError(f"labels ({y.size}) and scores ({s.size}) differ in length")
    ok = np.isfinite(s)
    y, s = y[ok], s[ok]
    if len(np.unique(y)) < 2:
        raise ValueError("ROC / PR curves need both normal (0) and anomalous (1) labels")
    return y, s


def plot_roc_curve(labels, scores, *, ax=None, name: str | None = None, threshold: float | None = None):
    """ROC curve with its AUC in the legend and, if given, the operating point of ``threshold``. Returns ``ax``."""
    from sklearn.metrics import roc_auc_score, roc_curve

    y, s = _clean(labels, scores)
    ax = _ax(ax)
    fpr, tpr, _ = roc_curve(y, s)
    auc = roc_auc_score(y, s)
    ax.plot(fpr, tpr, lw=1.2, label=f"{name + ' ' if name else ''}AUROC {auc:.3f}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.6, ls=":")
    if threshold is not None:
        ax.plot([np.mean(s[y == 0] > threshold)], [np.mean(s[y == 1] > threshold)], "ko", ms=4,
                label=f"threshold {threshold:.3g}")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("ROC", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    return ax


def plot_pr_curve(labels, scores, *, ax=None, name: str | None = None, threshold: float | None = None):
    """Precision-recall curve with average precision and the prevalence line. Returns ``ax``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, s = _clean(labels, scores)
    ax = _ax(ax)
    prec, rec, _ = precision_recall_curve(y, s)
    ap = average_precision_score(y, s)
    ax.step(rec, prec, where="post", lw=1.2, label=f"{name + ' ' if name else ''}AP {ap:.3f}")
    ax.axhline(y.mean(), color="grey", lw=0.6, ls=":", label=f"prevalence {y.mean():.3f}")
    if threshold is not None:
        flag = s > threshold
        if flag.any():
            ax.plot([np.mean(flag[y == 1])], [y[flag].mean()], "ko", ms=4, label=f"threshold {threshold:.3g}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title("precision-recall", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return ax


@dataclass
class CurvesDisplay:
    """ROC and PR side by side (``from_predictions``), like scikit-learn's displays."""

    labels: np.ndarray
    scores: np.ndarray
    threshold: float | None = None
    name: str | None = None

    @classmethod
    def from_predictions(cls, labels, scores, *, threshold=None, name=None, axes=None):
        return cls(np.asarray(labels), np.asarray(scores, dtype=np.float64), threshold, name).plot(axes=axes)

    def plot(self, axes=None):
        import matplotlib.pyplot as plt

        if axes is None:
            _, axes = plt.subplots(1, 2, figsize=(8, 3.8))
        plot_roc_curve(self.labels, self.scores, ax=axes[0], name=self.name, threshold=self.threshold)
        plot_pr_curve(self.labels, self.scores, ax=axes[1], name=self.name, threshold=self.threshold)
        self.axes_ = axes
        self.figure_ = axes[0].figure
        self.figure_.tight_layout()
        return self
