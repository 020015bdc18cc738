"""Flagged spans of a score series and the culprit metrics of each span (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["Span", "flagged_spans", "span_culprits"]


@dataclass
class Span:
    """Rows ``start:end`` (end exclusive) above the threshold, with its culprit metrics.

    ``culprits`` is ``[(metric name, share of the span's total contribution), ...]``, largest first.
    """

    start: int
    end: int
    peak_score: float
    culprits: list[tuple[str, float]] = field(default_factory=list)


def flagged_spans(scores, threshold: float, min_gap: int = 0) -> list[tuple[int, int]]:
    """Runs of consecutive rows with ``score > threshold`` (NaN = not flagged); runs closer than ``min_gap`` merge."""
    s = np.asarray(scores, dtype=np.float64)
    f = np.isfinite(s) & (s > threshold)
    edges = np.diff(np.r_[0, f.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    spans: list[tuple[int, int]] = []
    for a, b in zip(starts, ends):
        if spans and a - spans[-1][1] <= min_gap:
            spans[-1] = (spans[-1][0], int(b))
        else:
            spans.append((int(a), int(b)))
    return spans


def span_culprits(scores, threshold: float, contributions, names: Sequence[str], k: int = 3,
                  min_gap: int = 0) -> list[Span]:
    """Each flagged span with its ``k`` culprit metrics.

    Each row's positive contributions are turned into shares and weighted by how far the row's
    score is above the threshold, so the most anomalous rows of a long span name its culprits
    whatever the attribution's units (residuals, occlusion drops, shares).
    """
    c = np.clip(np.nan_to_num(np.asarray(contributions, dtype=np.float64)), 0, None)
    s = np.asarray(scores, dtype=np.float64)
    if c.shape != (len(s), len(names)):
        raise ValueError(f"contributions must be (n_rows={len(s)}, n_metrics={len(names)}), got {c.shape}")
    row_tot = c.sum(axis=1, keepdims=True)
    shares = np.divide(c, row_tot, out=np.zeros_like(c), where=row_tot > 0)
    excess = np.clip(np.nan_to_num(s - threshold, nan=0.0), 0, None)[:, None]
    out = []
    for a, b in flagged_spans(s, threshold, min_gap):
        tot = (shares[a:b] * excess[a:b]).sum(axis=0)
        t = tot.sum()
        order = np.argsort(-tot, kind="stable")[:k]
        out.append(Span(a, b, float(np.nanmax(s[a:b])),
                        [(str(names[j]), float(tot[j] / t) if t > 0 else 0.0) for j in order]))
    return out
