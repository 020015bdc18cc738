"""Pull mode: re-score the latest window from Prometheus and expose the result as metrics.

Prometheus -> detector -> ``/metrics`` -> Prometheus -> Grafana.  Each :meth:`PullScorer.pull`
reads the last ``lookback`` of every query (default: enough steps for two windows of the
model) on a grid of multiples of ``step`` (so successive pulls see the same timestamps), scores
it like ``anomalib-ae score`` would, and updates gauges with each entity's
latest scored timestamp.  Counters count each timestamp once, however many pulls see it.

Metric names follow the ``serve`` command's (docs/monitoring.md), in a registry of its own:

========================================================  =====================================
``anomalib_ae_entity_score{entity}``                        latest score of the entity
``anomalib_ae_entity_probability{entity}``                  latest anomaly probability
``anomalib_ae_entity_is_anomaly{entity}``                   1 when that item was flagged
``anomalib_ae_entity_last_seen_timestamp_seconds{entity}``  time of that item (Unix seconds)
``anomalib_ae_items_scored_total``                          timestamps scored (each once)
``anomalib_ae_anomalies_total``                             of which flagged
``anomalib_ae_threshold``                                   the model's threshold
``anomalib_ae_pull_errors_total``                           failed pulls (Prometheus down ...)
``anomalib_ae_pull_last_success_timestamp_seconds``         when the last pull succeeded
========================================================  =====================================
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from anomalib_ae.sources.prometheus import PrometheusSource, parse_duration

__all__ = ["PullResult", "PullScorer"]


@dataclass
class PullResult:
    """What one pull did: ``n_rows`` read, ``n_new`` timestamps not seen before (``n_new_anomalies``
    of them flagged), and the latest ``(score, probability, is_anomaly, unix_time)`` per entity."""

    n_rows: int
    n_new: int
    n_new_anomalies: int
    latest: dict


class PullScorer:
    """A fitted telemetry pipeline bound to a Prometheus source, with its own metrics registry.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted ``telemetry`` pipeline whose metric columns are the source's query names.
    source : PrometheusSource
        Where to read; its ``start`` / ``end`` are replaced by ``now - lookback`` / ``now``.
    lookback : duration or None
        How far back each pull reads; ``None`` = ``max(2 * window, window + 10)`` steps.
    """

    def __init__(self, pipeline, source: PrometheusSource, lookback=None):
        from prometheus_client import CollectorRegistry, Counter, Gauge

        if getattr(pipeline, "kind", None) != "telemetry":
            raise ValueError(f"pull mode needs a telemetry model, got kind {getattr(pipeline, 'kind', None)!r}")
        self._reader = getattr(pipeline.adapter_, "reader_", pipeline.adapter_)  # the fitted TelemetryWindower
        cols = list(self._reader.metric_cols or [])
        missing = [c for c in cols if c not in source.queries]
        if missing:
            raise ValueError(f"the model was fitted on metric(s) {cols} but the queries give {list(source.queries)}; "
                             f"missing: {missing}")
        self.pipeline = pipeline
        self.source = source
        step = parse_duration(source.step)
        win = int(self._reader.window)
        self.lookback = parse_duration(lookback) if lookback is not None else max(2 * win, win + 10) * step
        self._seen: dict[str, float] = {}
        self.registry = r = CollectorRegistry(auto_describe=True)
        p, lab = "anomalib_ae_", ["entity"]
        self.entity_score = Gauge(p + "entity_score", "Latest score per entity", lab, registry=r)
        self.entity_probability = Gauge(p + "entity_probability", "Latest anomaly probability per entity", lab,
                                        registry=r)
        self.entity_anomaly = Gauge(p + "entity_is_anomaly", "1 when the entity's latest item was flagged", lab,
                                    registry=r)
        self.entity_last = Gauge(p + "entity_last_seen_timestamp_seconds", "Unix time of the entity's latest item",
                                 lab, registry=r)
        self.items = Counter(p + "items_scored", "Timestamps scored (each counted once)", registry=r)
        self.anomalies = Counter(p + "anomalies", "Timestamps flagged as anomalous (score > threshold)", registry=r)
        self.threshold = Gauge(p + "threshold", "Anomaly threshold on the score (model units)", registry=r)
        self.threshold.set(float(pipeline.threshold_))
        self.errors = Counter(p + "pull_errors", "Pulls that failed (Prometheus unreachable, query error, no data)",
                              registry=r)
        self.last_ok = Gauge(p + "pull_last_success_timestamp_seconds", "Unix time of the last successful pull",
                             registry=r)

    def pull(self, now: float | None = None) -> PullResult:
        """Read the latest window, score it and update the metrics.

        Raises
        ------
        PrometheusError, ValueError
            When Prometheus cannot be read or the table does not fit the model
            (``pull_errors_total`` is incremented first).
        """
        now = time.time() if now is None else float(now)
        step = parse_duration(self.source.step)
        end = math.floor(now / step) * step  # a grid of multiples of step: the same timestamps on every pull
        src = replace(self.source, start=end - math.ceil(self.lookback / step) * step, end=end)
        try:
            table = src.read()
            res = self.pipeline.score_items(table)
        except Exception:
            self.errors.inc()
            raise
        t = res.table
        a = self._reader
        ent_col = a.entity_col
        times = t[a.timestamp_col].to_numpy(dtype="datetime64[ms]").astype(np.int64) / 1000.0
        ents = t[ent_col].astype(str).to_numpy() if ent_col else np.full(len(t), "_all")
        scores = t["score"].to_numpy(dtype=np.float64)
        proba = t["probability"].to_numpy(dtype=np.float64)
        n_new = n_anom = 0
        latest = {}
        for e in dict.fromkeys(ents):
            rows = np.flatnonzero((ents == e) & np.isfinite(scores))
            if not len(rows):
                continue
            rows = rows[np.argsort(times[rows], kind="stable")]
            new = rows[times[rows] > self._seen.get(e, -math.inf)]
            flagged = int((scores[new] > self.pipeline.threshold_).sum())
            n_new += len(new)
            n_anom += flagged
            i = rows[-1]
            self._seen[e] = float(times[i])
            flag = bool(scores[i] > self.pipeline.threshold_)
            latest[e] = (float(scores[i]), float(proba[i]), flag, float(times[i]))
            self.entity_score.labels(entity=e).set(scores[i])
            self.entity_probability.labels(entity=e).set(proba[i])
            self.entity_anomaly.labels(entity=e).set(1.0 if flag else 0.0)
            self.entity_last.labels(entity=e).set(times[i])
        self.items.inc(n_new)
        self.anomalies.inc(n_anom)
        self.last_ok.set(time.time())
        return PullResult(n_rows=len(t), n_new=n_new, n_new_anomalies=n_anom, latest=latest)
