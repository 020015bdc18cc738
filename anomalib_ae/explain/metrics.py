"""How right an attribution is: culprit-ranking and pixel-localisation metrics (numpy only).

* :func:`hit_rate` and :func:`ndcg`: OmniAnomaly's interpretation metrics (Su et al., KDD 2019).
  For one anomalous item with ground-truth culprit set ``G``, the attribution ranks the
  features; the top ``floor(P% * |G|)`` are compared with ``G``. ``HitRate@P% = |top ∩ G| / |G|``
  (so it is at most 1 at P = 100 % and can reach 1 at P = 150 % with up to |G| / 2 misses);
  ``NDCG@P%`` weighs a hit at rank ``i`` by ``1 / log2(i + 1)`` against the ideal ranking.
* :func:`pixel_auroc`: ROC AUC of every map value against the pixel masks (pooled over images).
* :func:`pro_score`: per-region overlap as MVTec AD defines it (Bergmann et al., 2019/2021): at
  each threshold, the mean over ground-truth connected components of the share of the
  component above the threshold; the curve PRO(FPR) is integrated up to ``max_fpr`` (0.3) and
  divided by it.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["culprit_scores", "hit_rate", "ndcg", "pixel_auroc", "pro_score", "rank_features"]


def rank_features(attribution: np.ndarray) -> np.ndarray:
    """Feature indices from most to least attributed (ties keep feature order)."""
    a = np.nan_to_num(np.asarray(attribution, dtype=np.float64), nan=-np.inf)
    return np.argsort(-a, kind="stable")


def _k(n_true: int, percent: float) -> int:
    return max(1, int(np.floor(n_true * percent / 100.0 + 1e-9)))


def hit_rate(attribution: np.ndarray, culprits: Sequence[int], percent: float = 100.0) -> float:
    """HitRate@percent of one item: share of the culprits found in the top ``floor(percent% * |G|)``."""
    g = set(int(c) for c in culprits)
    if not g:
        raise ValueError("culprits must name at least one feature")
    top = rank_features(attribution)[: _k(len(g), percent)]
    return len(g.intersection(int(t) for t in top)) / len(g)


def ndcg(attribution: np.ndarray, culprits: Sequence[int], percent: float = 100.0) -> float:
    """NDCG@percent of one item: binary relevance, cut at ``floor(percent% * |G|)`` ranks."""
    g = set(int(c) for c in culprits)
    if not g:
        raise ValueError("culprits must name at least one feature")
    k = _k(len(g), percent)
    top = rank_features(attribution)[:k]
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float(sum(disc[i] for i, t in enumerate(top) if int(t) in g))
    idcg = float(disc[: min(k, len(g))].sum())
    return dcg / idcg


def culprit_scores(attributions: np.ndarray, culprits: Sequence[Sequence[int]]) -> dict[str, float]:
    """Mean HitRate@100%, HitRate@150% and NDCG@150% over items (rows of ``attributions``).

    Vectorised over items; equal to the means of :func:`hit_rate` and :func:`ndcg` (same ranking,
    ties in feature order).
    """
    A = np.asarray(attributions, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != len(culprits):
        raise ValueError(f"attributions must be (n_items, n_features) with one culprit list per item, got {A.shape}")
    if not len(culprits):
        return {"hitrate@100": float("nan"), "hitrate@150": float("nan"), "ndcg@150": float("nan")}
    n, d = A.shape
    G = np.zeros((n, d), dtype=bool)
    for i, g in enumerate(culprits):
        if not len(g):
            raise ValueError("culprits must name at least one feature")
        G[i, list(g)] = True
    size = G.sum(axis=1)
    order = np.argsort(-np.nan_to_num(A, nan=-np.inf), axis=1, kind="stable")
    hits = np.take_along_axis(G, order, axis=1)  # hits[i, r]: the rank-r feature is a culprit
    cum = np.cumsum(hits, axis=1)
    disc = 1.0 / np.log2(np.arange(2, d + 2))
    cum_dcg = np.cumsum(hits * disc, axis=1)
    out = {}
    for pct in (100, 150):
        k = np.minimum(np.maximum(1, np.floor(size * pct / 100.0 + 1e-9).astype(int)), d)
        out[f"hitrate@{pct}"] = float(np.mean(cum[np.arange(n), k - 1] / size))
        if pct == 150:
            idcg = np.cumsum(disc)[np.minimum(k, size) - 1]
            out["ndcg@150"] = float(np.mean(cum_dcg[np.arange(n), k - 1] / idcg))
    return {key: out[key] for key in ("hitrate@100", "hitrate@150", "ndcg@150")}


def pixel_auroc(maps: np.ndarray, masks: np.ndarray) -> float:
    """ROC AUC of all map values against binary masks of the same shape (ties count one half)."""
    s = np.asarray(maps, dtype=np.float64).ravel()
    y = np.asarray(masks).ravel() > 0
    if s.shape != y.shape:
        raise ValueError(f"maps {np.shape(maps)} and masks {np.shape(masks)} differ in shape")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("pixel AUROC needs both defect and normal pixels")
    from scipy.stats import rankdata

    r = rankdata(s)
    return float((r[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def pro_score(maps: np.ndarray, masks: np.ndarray, max_fpr: float = 0.3, n_thresholds: int = 200) -> float:
    """Normalised area under the per-region-overlap curve up to ``max_fpr`` (MVTec AD's AU-PRO).

    ``maps`` and ``masks`` are ``(n, H, W)``; regions are the 8-connected components of each
    mask; the false-positive rate is over all mask-free pixels.
    """
    from scipy import ndimage

    M = np.asarray(maps, dtype=np.float64)
    G = np.asarray(masks) > 0
    if M.shape != G.shape or M.ndim != 3:
        raise ValueError(f"maps and masks must both be (n, H, W), got {M.shape} and {G.shape}")
    neg = M[~G]
    if neg.size == 0 or not G.any():
        raise ValueError("PRO needs both defect and normal pixels")
    regions = []
    for m, g in zip(M, G):
        lab, n = ndimage.label(g, structure=np.ones((3, 3)))
        for r in range(1, n + 1):
            regions.append(np.sort(m[lab == r]))
    # thresholds: quantiles of normal pixels so that FPR spans [0, max_fpr] evenly
    qs = np.linspace(0.0, max_fpr, n_thresholds)
    neg_sorted = np.sort(neg)
    th = np.quantile(neg_sorted, 1.0 - qs)
    fpr = 1.0 - np.searchsorted(neg_sorted, th, side="right") / neg_sorted.size
    pro = np.zeros_like(th)
    for reg in regions:
        pro += 1.0 - np.searchsorted(reg, th, side="right") / reg.size
    pro /= len(regions)
    order = np.argsort(fpr)
    fpr, pro = np.concatenate([[0.0], fpr[order]]), np.concatenate([[0.0], pro[order]])
    keep = fpr <= max_fpr
    x, y = fpr[keep], pro[keep]
    if x[-1] < max_fpr:  # close the curve at max_fpr by interpolation
        y_end = np.interp(max_fpr, fpr, pro)
        x, y = np.append(x, max_fpr), np.append(y, y_end)
    return float(np.trapezoid(y, x) / max_fpr) if hasattr(np, "trapezoid") else float(np.trapz(y, x) / max_fpr)
