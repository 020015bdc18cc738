"""Prometheus metrics of the scoring service, in their own ``CollectorRegistry`` per app.

Metric names (all prefixed ``anomalib_ae_``) are listed in docs/monitoring.md. Per-entity
series (host, machine, source) are bounded: at most ``max_entities`` entity labels exist at
once. A new entity takes a free slot, or the slot of the least recently seen entity when
that one has been idle for ``entity_idle_s`` (its series are then removed); otherwise its
values go to the overflow label ``_other``. So a flood of new entity names can never grow
the exposition beyond ``max_entities + 1`` series per metric.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Iterable

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

OTHER = "_other"

#: Request errors counted by kind (item errors are counted as ``item``).
ERROR_KINDS = ("item", "too_large", "malformed", "unsupported_media_type", "bad_columns", "bad_request",
               "client_disconnect", "overloaded", "internal")

PROBABILITY_BUCKETS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 1.0)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def score_buckets(calibration_scores: np.ndarray, threshold: float) -> tuple[float, ...]:
    """Histogram buckets in the model's own score units.

    Quantiles 10 %, 25 %, 50 %, 75 %, 90 %, 95 %, 99 % of the held-out normal (calibration)
    scores, the threshold, and 2, 5, 10 and 100 times the threshold: the normal range is
    resolved and anomalies land above the threshold bucket.
    """
    s = np.asarray(calibration_scores, dtype=np.float64)
    s = s[np.isfinite(s)]
    edges = list(np.quantile(s, [0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99])) if len(s) else []
    if np.isfinite(threshold):
        t = float(threshold)
        edges += [t] + ([t * k for k in (2, 5, 10, 100)] if t > 0 else [])
    edges = sorted({float(f"{e:.6g}") for e in edges if np.isfinite(e)})
    return tuple(edges) or (0.1, 1.0, 10.0)


class EntitySlots:
    """Bounded map of entity names to metric label values (LRU with idle eviction, overflow to ``_other``)."""

    def __init__(self, max_entities: int = 100, idle_s: float = 600.0):
        self.max_entities = int(max_entities)
        self.idle_s = float(idle_s)
        self._seen: OrderedDict[str, float] = OrderedDict()

    def label(self, entity: str, now: float) -> tuple[str, str | None]:
        """(label to use, evicted entity or None)."""
        if entity in self._seen:
            self._seen.move_to_end(entity)
            self._seen[entity] = now
            return entity, None
        if len(self._seen) < self.max_entities:
            self._seen[entity] = now
            return entity, None
        oldest, t = next(iter(self._seen.items()))
        if now - t >= self.idle_s:
            del self._seen[oldest]
            self._seen[entity] = now
            return entity, oldest
        return OTHER, None

    def __len__(self) -> int:
        return len(self._seen)


class ServiceMetrics:
    """All metrics of one app; thread-safe updates from the scoring workers."""

    def __init__(self, info, *, calibration_scores, threshold: float, max_entities: int = 100,
                 entity_idle_s: float = 600.0):
        self.registry = r = CollectorRegistry(auto_describe=True)
        p = "anomalib_ae_"
        self.model_info = Info(p + "model", "The loaded model (name, detector, kind, file format version, file SHA-256)",
                               registry=r)
        self.model_info.info({"name": info.name, "detector": info.detector, "kind": info.kind,
                              "format_version": str(info.format_version), "digest": info.digest})
        self.threshold = Gauge(p + "threshold", "Anomaly threshold on the score (model units)", registry=r)
        self.threshold.set(float(threshold))
        self.items = Counter(p + "items_scored", "Items scored (rows, timestamps, images, clips)", registry=r)
        self.anomalies = Counter(p + "anomalies", "Items flagged as anomalous (score > threshold)", registry=r)
        self.errors = Counter(p + "errors", "Errors by kind: item (an error record) or a refused request",
                              ["kind"], registry=r)
        for k in ERROR_KINDS:
            self.errors.labels(kind=k)
        self.requests = Counter(p + "requests", "HTTP requests by endpoint and status code", ["endpoint", "code"],
                                registry=r)
        self.score = Histogram(p + "score", "Scores of scored items (model units; buckets from calibration "
                               "quantiles and the threshold)", buckets=score_buckets(calibration_scores, threshold),
                               registry=r)
        self.probability = Histogram(p + "probability", "Anomaly probabilities of scored items",
                                     buckets=PROBABILITY_BUCKETS, registry=r)
        self.latency = Histogram(p + "request_duration_seconds", "Request latency by endpoint", ["endpoint"],
                                 buckets=LATENCY_BUCKETS, registry=r)
        lab = ["entity"]
        self.entity_score = Gauge(p + "entity_score", "Latest score per entity", lab, registry=r)
        self.entity_probability = Gauge(p + "entity_probability", "Latest anomaly probability per entity", lab,
                                        registry=r)
        self.entity_anomaly = Gauge(p + "entity_is_anomaly", "1 when the entity's latest item was flagged", lab,
                                    registry=r)
        self.entity_anomalies = Counter(p + "entity_anomalies", "Items flagged per entity", lab, registry=r)
        self.entity_items = Counter(p + "entity_items_scored", "Items scored per entity", lab, registry=r)
        self.entity_last = Gauge(p + "entity_last_seen_timestamp_seconds", "Unix time of the entity's latest item",
                                 lab, registry=r)
        self.entities = Gauge(p + "tracked_entities", "Entities with their own label (the rest go to _other)",
                              registry=r)
        self.drift_statistic = Gauge(p + "drift_statistic", "KS statistic of recent scores vs calibration scores",
                                     registry=r)
        self.drift_p_value = Gauge(p + "drift_p_value", "Drift test p-value (small = the input has drifted)",
                                   registry=r)
        self.drift = Gauge(p + "drift_detected", "1 when the drift test rejects at its alpha", registry=r)
        self.drift_items = Gauge(p + "drift_window_items", "Items in the drift test's window", registry=r)
        for g in (self.drift_statistic, self.drift_p_value):
            g.set(float("nan"))
        self.started = Gauge(p + "start_time_seconds", "Unix time the service started", registry=r)
        self.started.set(time.time())
        self._slots = EntitySlots(max_entities, entity_idle_s)
        self._lock = threading.Lock()

    def _remove(self, entity: str) -> None:
        for m in (self.entity_score, self.entity_probability, self.entity_anomaly, self.entity_anomalies,
                  self.entity_items, self.entity_last):
            try:
                m.remove(entity)
            except KeyError:
                pass

    def observe_records(self, records: Iterable, default_entity: str) -> None:
        """Count scored items, anomalies and item errors; update per-entity series."""
        now = time.time()
        with self._lock:
            for rec in records:
                if rec.error is not None or rec.score is None:
                    self.errors.labels(kind="item").inc()
                    continue
                self.items.inc()
                self.score.observe(rec.score)
                if rec.probability is not None:
                    self.probability.observe(rec.probability)
                label, evicted = self._slots.label(rec.entity or default_entity, now)
                if evicted is not None:
                    self._remove(evicted)
                self.entity_items.labels(label).inc()
                self.entity_score.labels(label).set(rec.score)
                self.entity_probability.labels(label).set(rec.probability if rec.probability is not None
                                                          else float("nan"))
                self.entity_anomaly.labels(label).set(1.0 if rec.is_anomaly else 0.0)
                self.entity_last.labels(label).set(now)
                if rec.is_anomaly:
                    self.anomalies.inc()
                    self.entity_anomalies.labels(label).inc()
            self.entities.set(len(self._slots))

    def observe_drift(self, status) -> None:
        if status is None:
            return
        self.drift_statistic.set(status.statistic)
        self.drift_p_value.set(status.p_value)
        self.drift.set(1.0 if status.drifted else 0.0)
        self.drift_items.set(status.n)
