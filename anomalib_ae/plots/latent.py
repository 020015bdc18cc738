"""2-D projection of latent codes (or inputs): training against new items."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_latent_projection", "project_2d"]


def project_2d(train, new=None) -> tuple[np.ndarray, np.ndarray | None]:
    """PCA to two components fitted on ``train`` only; ``new`` projected with the same axes."""
    A = np.asarray(train, dtype=np.float64).reshape(len(train), -1)
    mu = A.mean(axis=0)
    _, _, vt = np.linalg.svd(A - mu, full_matrices=False)
    comp = vt[:2]
    if comp.shape[0] < 2:
        comp = np.vstack([comp, np.zeros((2 - comp.shape[0], A.shape[1]))])
    P = (A - mu) @ comp.T
    Q = None if new is None else (np.asarray(new, dtype=np.float64).reshape(len(new), -1) - mu) @ comp.T
    return P, Q


def plot_latent_projection(train_codes, new_codes=None, *, new_scores=None, threshold: float | None = None, ax=None,
                           title: str | None = None):
    """Training codes in grey, new codes on top (coloured by score, flagged ones outlined). Returns ``ax``.

    Codes come from :func:`anomalib_ae.explain.latent_codes` (a deep detector's encoder) or any
    feature matrix; the projection is a PCA fitted on the training codes.
    """
    import matplotlib.pyplot as plt

    P, Q = project_2d(train_codes, new_codes)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4))
    ax.scatter(P[:, 0], P[:, 1], s=4, c="lightgrey", label=f"training (n={len(P)})")
    if Q is not None:
        if new_scores is not None:
            sc = ax.scatter(Q[:, 0], Q[:, 1], s=9, c=np.asarray(new_scores, dtype=np.float64), cmap="viridis",
                            label=f"new (n={len(Q)})")
            ax.figure.colorbar(sc, ax=ax, label="score", shrink=0.8)
            if threshold is not None:
                f = np.asarray(new_scores) > threshold
                ax.scatter(Q[f, 0], Q[f, 1], s=30, facecolors="none", edgecolors="red", lw=0.8,
                           label=f"flagged ({int(f.sum())})")
        else:
            ax.scatter(Q[:, 0], Q[:, 1], s=9, c="tab:blue", label=f"new (n={len(Q)})")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title or "latent codes, PCA fitted on training", fontsize=9)
    ax.legend(fontsize=7, loc="best")
    return ax
