"""An explanation as PNG files (what ``anomalib-ae explain`` writes): heatmaps, spectrograms, timelines."""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["safe_name", "save_explanation_figures", "save_figure"]


def save_figure(figure, path, *, dpi: int = 100, tight_layout: bool = False) -> Path:
    """Write ``figure`` to ``path`` and close it (frees matplotlib's memory in loops and jobs)."""
    import matplotlib.pyplot as plt

    if tight_layout:
        figure.tight_layout()
    figure.savefig(path, dpi=dpi)
    plt.close(figure)
    return Path(path)


def safe_name(text) -> str:
    """A file-name-safe stem of ``text`` (a path or an id), at most 60 characters."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(text)).stem)[:60]


def save_explanation_figures(explanation, out: Path, *, threshold: float | None = None,
                             timestamp_col: str = "timestamp", entity_col: str | None = None,
                             hop_seconds: float | None = None, error_title: str | None = None) -> list[Path]:
    """Write the figures of an :class:`~anomalib_ae.explain.Explanation` into ``out``; return their paths.

    Images: one ``heatmap_<rank>_<name>.png`` per explained item. Audio: one
    ``spectrogram_<rank>_<name>.png`` per explained clip (``hop_seconds`` labels the time
    axis, ``error_title`` names the error map). Telemetry: ``timeline.png``, or one ``timeline_<entity>.png`` per entity.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from anomalib_ae.plots.maps import SpectrogramErrorDisplay, TelemetryTimelineDisplay, plot_anomaly_map

    ex, out, written = explanation, Path(out), []
    if ex.kind == "image":
        for k, (name, score) in enumerate(zip(ex.item_ids, ex.scores)):
            fig, ax = plt.subplots(figsize=(3.2, 3.4))
            plot_anomaly_map(ex.images[k], ex.attributions[k], ax=ax, title=f"{Path(str(name)).name}\nscore {score:.4g}")
            p = out / f"heatmap_{k + 1:02d}_{safe_name(name)}.png"
            fig.savefig(p, dpi=100, bbox_inches="tight")
            plt.close(fig)
            written.append(p)
    elif ex.kind == "audio":
        for k, name in enumerate(ex.item_ids):
            if ex.log_mels[k] is None:
                continue
            disp = SpectrogramErrorDisplay.from_explanation(ex, k, hop_seconds=hop_seconds, error_title=error_title)
            p = out / f"spectrogram_{k + 1:02d}_{safe_name(name)}.png"
            disp.figure_.savefig(p, dpi=100)
            plt.close(disp.figure_)
            written.append(p)
    elif ex.kind == "telemetry":
        tab, scores = ex.result.table, ex.result.scores
        groups = [(None, tab.index.to_numpy())] if entity_col is None else list(tab.groupby(entity_col, sort=False).groups.items())
        for ent, idx in groups:
            idx = idx[tab[timestamp_col].to_numpy()[idx].argsort(kind="stable")]
            disp = TelemetryTimelineDisplay(
                tab[timestamp_col].to_numpy()[idx], scores[idx], threshold, ex.row_contributions[idx],
                ex.feature_names, None, 3,
            ).plot()
            p = out / ("timeline.png" if ent is None else f"timeline_{safe_name(ent)}.png")
            disp.figure_.savefig(p, dpi=100)
            plt.close(disp.figure_)
            written.append(p)
    return written
