"""Telemetry timeline: scores, threshold, flagged spans shaded and each span's culprit metrics named."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["plot_flagged_timeline"]


def plot_flagged_timeline(timestamps, scores, threshold: float, contributions=None, names: Sequence[str] | None = None,
                          *, k: int = 2, ax=None, labels=None, title: str | None = None, max_annotations: int = 8):
    """Score per timestamp; flagged spans shaded; the top-``k`` culprits of each span written above it. Returns ``ax``.

    ``contributions`` is ``(n, n_metrics)`` per-timestamp attributions (e.g. an explanation's
    row contributions); without it the spans are shaded but not named. ``labels`` (1 = known
    anomaly) are drawn as a rug under the axis.
    """
    import matplotlib.pyplot as plt

    from anomalib_ae.explain.spans import flagged_spans, span_culprits

    t = np.asarray(timestamps)
    s = np.asarray(scores, dtype=np.float64)
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3))
    ax.plot(t, s, lw=0.7, color="tab:blue", label="score")
    ax.axhline(threshold, color="black", ls="--", lw=0.7, label=f"threshold {threshold:.3g}")
    spans = (span_culprits(s, threshold, contributions, list(names), k) if contributions is not None and names is not None
             else [None] * len(flagged_spans(s, threshold)))
    raw = flagged_spans(s, threshold)
    biggest = set(np.argsort([-np.nanmax(s[a:b]) for a, b in raw])[:max_annotations].tolist()) if raw else set()
    for i, ((a, b), sp) in enumerate(zip(raw, spans)):
        ax.axvspan(t[a], t[min(b, len(t) - 1)], color="tab:orange", alpha=0.25, lw=0, label="flagged" if i == 0 else None)
        if sp is not None and i in biggest:
            text = ", ".join(n for n, _ in sp.culprits)
            ax.annotate(text, (t[a], sp.peak_score), fontsize=6, rotation=0, xytext=(0, 3), textcoords="offset points",
                        color="tab:red")
    if labels is not None:
        lab = np.asarray(labels).astype(bool)
        ax.fill_between(t, 0, 0.03, where=lab, color="tab:red", transform=ax.get_xaxis_transform(), label="labelled")
    ax.set_ylabel("score")
    ax.set_title(title or "anomaly score, flagged spans and their culprit metrics", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    return ax
