"""Figures without pyplot (no global state, any backend) and their PNG bytes, for reports."""

from __future__ import annotations

import base64
import io

__all__ = ["figure", "png_bytes", "png_data_uri"]


def figure(figsize=(6, 3.5), nrows: int = 1, ncols: int = 1, **kwargs):
    """A ``(Figure, axes)`` pair drawn with the Agg canvas (no window, no pyplot state)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, **kwargs)
    return fig, axes


def png_bytes(fig, dpi: int = 90) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_data_uri(fig, dpi: int = 90) -> str:
    """``data:image/png;base64,...`` of the figure, for a self-contained HTML page."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(fig, dpi)).decode("ascii")
