"""Agreement between ensemble members: rank correlation of their scores or attributions."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["agreement_matrix", "plot_member_agreement"]


def agreement_matrix(values) -> np.ndarray:
    """Spearman rank correlation between columns of ``values`` ``(n_items, n_members)``."""
    from scipy.stats import rankdata

    V = np.asarray(values, dtype=np.float64)
    R = np.column_stack([rankdata(V[:, j]) for j in range(V.shape[1])])
    with np.errstate(invalid="ignore", divide="ignore"):
        C = np.corrcoef(R, rowvar=False)
    return np.atleast_2d(np.nan_to_num(C, nan=0.0))


def plot_member_agreement(values, names: Sequence[str], *, ax=None, title: str | None = None):
    """Heatmap of :func:`agreement_matrix` with the coefficients written in. Returns ``ax``.

    ``values`` is ``(n_items, n_members)``: e.g. ``Ensemble.member_scores(X)`` (do the members
    rank the items alike?) or one item's member attributions flattened per member.
    """
    import matplotlib.pyplot as plt

    C = agreement_matrix(values)
    if C.shape[0] != len(names):
        raise ValueError(f"{C.shape[0]} members but {len(names)} names")
    if ax is None:
        _, ax = plt.subplots(figsize=(0.7 * len(names) + 2, 0.7 * len(names) + 1.5))
    im = ax.imshow(C, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            ax.text(j, i, f"{C[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(C[i, j]) > 0.6 else "black")
    ax.figure.colorbar(im, ax=ax, shrink=0.8, label="Spearman")
    ax.set_title(title or "agreement between ensemble members", fontsize=9)
    return ax
