"""Top-k contributions of one item as a horizontal bar chart."""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["plot_top_contributions"]


def plot_top_contributions(contributions, names: Sequence[str], *, k: int = 10, ax=None, title: str | None = None,
                           method: str | None = None):
    """The ``k`` largest attributions of one item (largest on top), labelled with their share. Returns ``ax``.

    ``contributions`` is one item's vector ``(n_features,)`` (per feature / metric / mel band).
    """
    import matplotlib.pyplot as plt

    c = np.nan_to_num(np.asarray(contributions, dtype=np.float64).ravel())
    if c.size != len(names):
        raise ValueError(f"{c.size} contributions but {len(names)} names")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 0.3 * min(k, c.size) + 1.0))
    order = np.argsort(-c, kind="stable")[:k]
    tot = np.clip(c, 0, None).sum()
    vals = c[order][::-1]
    labels = [str(names[j]) for j in order][::-1]
    bars = ax.barh(range(len(vals)), vals, color=["tab:red" if v > 0 else "tab:blue" for v in vals])
    ax.set_yticks(range(len(vals)), labels, fontsize=7)
    for b, v in zip(bars, vals):
        if tot > 0 and v > 0:
            ax.annotate(f"{v / tot:.0%}", (b.get_width(), b.get_y() + b.get_height() / 2), fontsize=6,
                        xytext=(2, 0), textcoords="offset points", va="center")
    ax.set_xlabel("contribution" + (f" ({method})" if method else ""))
    ax.set_title(title or f"top {len(vals)} contributions", fontsize=9)
    return ax
