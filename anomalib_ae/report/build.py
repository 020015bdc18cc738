"""Collect what the report shows: counts, images (base64 PNG from :mod:`anomalib_ae.plots`), top items."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class ReportItem:
    """One explained item: its name, score, probability, flag, picture and top feature shares."""

    name: str
    score: float
    probability: float | None
    flagged: bool
    image: str | None = None
    features: list[tuple[str, float]] = field(default_factory=list)


@dataclass
class FeatureSummary:
    """Mean share of one feature / metric over the explained items, and how often it ranked first."""

    name: str
    share: float
    first: int


@dataclass
class ReportData:
    model_name: str
    detector: str
    kind: str
    method: str
    input_name: str
    generated: str
    version: str
    n_items: int
    n_scored: int
    n_flagged: int
    n_errors: int
    threshold: float
    histogram: str
    top: list[ReportItem]
    errors: list[tuple[str, str]] = field(default_factory=list)
    curves: str | None = None
    timeline: str | None = None
    spans: list = field(default_factory=list)
    feature_summary: list[FeatureSummary] = field(default_factory=list)
    feature_plot: str | None = None
    feature_word: str = "feature"


def _detector_name(det) -> str:
    from anomalib_ae.detectors.state import registered_name

    try:
        return registered_name(det)
    except TypeError:
        return type(det).__name__


def _item_name(table, i: int) -> str:
    for col in ("path", "item", "row", "row_id"):
        if col in table.columns:
            v = table[col].iloc[i]
            return Path(str(v)).name if col == "path" else f"{col} {v}"
    return f"item {i}"


def _shares(c: np.ndarray) -> np.ndarray:
    p = np.clip(np.nan_to_num(np.asarray(c, dtype=np.float64)), 0, None)
    t = p.sum(axis=1, keepdims=True)
    return np.divide(p, t, out=np.zeros_like(p), where=t > 0)


def build_report(model, data, *, top_k: int = 10, method: str = "auto", n_features: int = 5, labels=None, input_name: str | None = None,
                 model_name: str | None = None) -> ReportData:
    """Score ``data`` with ``model`` (a Pipeline or a fitted tabular detector) and explain the ``top_k`` items.

    ``labels`` (1 = anomaly, one per item), when given, add ROC and precision-recall curves.
    """
    import anomalib_ae
    from anomalib_ae import plots
    from anomalib_ae.pipeline import Pipeline, from_detector
    from anomalib_ae.plots.export import figure, png_data_uri

    pipe = model if isinstance(model, Pipeline) else from_detector(model)
    res = pipe.score_items(data)
    table, scores = res.table, res.scores
    ok = np.isfinite(scores)
    flagged = ok & (np.nan_to_num(scores, nan=-np.inf) > pipe.threshold_)
    ex = pipe.explain(res, top_k=top_k, method=method)
    top = ex.top
    names = list(ex.feature_names)

    fig, ax = figure((6.5, 3.2))
    plots.ScoreHistogramDisplay.from_scores(scores[ok], pipe.threshold_, ax=ax,
                                            title=f"anomaly scores of {int(ok.sum())} item(s)")
    histogram = png_data_uri(fig)
    curves = None
    if labels is not None:
        lab = np.asarray(labels)
        if len(np.unique(lab[ok])) == 2:
            fig, axes = figure((8, 3.4), 1, 2)
            plots.plot_roc_curve(lab[ok], scores[ok], ax=axes[0], threshold=pipe.threshold_)
            plots.plot_pr_curve(lab[ok], scores[ok], ax=axes[1], threshold=pipe.threshold_)
            curves = png_data_uri(fig)

    contrib = np.asarray(ex.contributions)
    items = []
    for k, i in enumerate(top):
        prob = table["probability"].iloc[i] if "probability" in table else None
        item = ReportItem(_item_name(table, i), float(scores[i]), None if prob is None or prob != prob else float(prob),
                          bool(flagged[i]))
        if pipe.kind == "image":
            fig, ax = figure((3.2, 3.2))
            m = ex.maps[k]
            plots.plot_map_overlay(ex.images[k], m, threshold=float(np.quantile(ex.maps, 0.99)), ax=ax)
            item.image = png_data_uri(fig)
        elif pipe.kind == "audio" and ex.log_mels and ex.log_mels[k] is not None:
            fig, ax = figure((5, 2.6))
            plots.plot_spectrogram_overlay(ex.log_mels[k], ex.maps[k], ax=ax)
            item.image = png_data_uri(fig)
        if contrib.shape[1] == len(names) and names and pipe.kind != "image":
            sh = _shares(contrib[k:k + 1])[0]
            order = np.argsort(-sh, kind="stable")[:n_features]
            item.features = [(str(names[j]), float(sh[j])) for j in order]
            if pipe.kind != "audio":
                fig, ax = figure((4.5, 0.28 * n_features + 1.0))
                plots.plot_top_contributions(contrib[k], names, k=n_features, ax=ax, method=ex.method)
                item.image = png_data_uri(fig)
        items.append(item)

    out = ReportData(
        model_name=model_name or "model", detector=_detector_name(pipe.detector_),
        kind=pipe.kind, method=str(ex.method), input_name=input_name or str(data),
        generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), version=anomalib_ae.__version__, n_items=int(len(table)), n_scored=int(ok.sum()),
        n_flagged=int(flagged.sum()), n_errors=int(table["error"].notna().sum()) if "error" in table else 0,
        threshold=float(pipe.threshold_), histogram=histogram, top=items, curves=curves,
        feature_word={"telemetry": "metric", "audio": "mel band"}.get(pipe.kind, "feature"),
    )
    if "error" in table:
        bad = np.flatnonzero(table["error"].notna().to_numpy())[:20]
        out.errors = [(_item_name(table, int(i)), str(table["error"].iloc[i])) for i in bad]
    if pipe.kind == "telemetry" and ex.row_contributions is not None:
        from anomalib_ae.explain.spans import span_culprits

        rc = ex.row_contributions
        fig, ax = figure((10, 3))
        plots.plot_flagged_timeline(np.arange(len(scores)), scores, pipe.threshold_, rc, names, ax=ax)
        ax.set_xlabel("row")
        out.timeline = png_data_uri(fig)
        out.spans = span_culprits(scores, pipe.threshold_, rc, names, k=3)[:50]
    if contrib.size and names and pipe.kind != "image" and contrib.shape[1] == len(names):
        sh = _shares(contrib)
        mean = sh.mean(axis=0)
        first = np.bincount(sh.argmax(axis=1), minlength=len(names))
        order = np.argsort(-mean, kind="stable")[:15]
        out.feature_summary = [FeatureSummary(str(names[j]), float(mean[j]), int(first[j])) for j in order]
        fig, ax = figure((5, 0.25 * len(order) + 1.2))
        plots.plot_top_contributions(mean, names, k=len(order), ax=ax,
                                     title=f"mean share over the top {len(top)} item(s)")
        out.feature_plot = png_data_uri(fig)
    return out
