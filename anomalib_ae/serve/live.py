"""What the live page shows: recent scores, latest anomalies, per-entity status, drift.

Bounded in memory: the last ``max_points`` items, the last ``max_anomalies`` anomalies and
at most ``max_entities`` entities (least recently seen dropped first).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass, field


@dataclass
class EntityStatus:
    entity: str
    last_seen: float
    timestamp: str
    score: float | None
    probability: float | None
    is_anomaly: bool
    items: int = 0
    anomalies: int = 0
    errors: int = 0


@dataclass
class LiveState:
    max_points: int = 2000
    max_anomalies: int = 50
    max_entities: int = 500
    seq: int = 0
    points: deque = field(default_factory=deque)
    anomalies: deque = field(default_factory=deque)
    entities: OrderedDict = field(default_factory=OrderedDict)
    drift: dict | None = None
    n_items: int = 0
    n_anomalies: int = 0
    n_errors: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, records, default_entity: str, drift=None) -> None:
        now = time.time()
        with self._lock:
            for r in records:
                self.seq += 1
                entity = r.entity or default_entity
                st = self.entities.pop(entity, None) or EntityStatus(entity, now, r.timestamp, None, None, False)
                st.last_seen, st.timestamp = now, r.timestamp
                self.entities[entity] = st
                while len(self.entities) > self.max_entities:
                    self.entities.popitem(last=False)
                if r.score is None:
                    st.errors += 1
                    self.n_errors += 1
                    continue
                self.n_items += 1
                st.score, st.probability, st.is_anomaly = r.score, r.probability, bool(r.is_anomaly)
                st.items += 1
                p = {"seq": self.seq, "timestamp": r.timestamp, "entity": entity, "item": r.item,
                     "score": r.score, "probability": r.probability, "is_anomaly": bool(r.is_anomaly)}
                self.points.append(p)
                if len(self.points) > self.max_points:
                    self.points.popleft()
                if r.is_anomaly:
                    st.anomalies += 1
                    self.n_anomalies += 1
                    self.anomalies.append({**p, "source": r.source, "top_features": r.top_features})
                    if len(self.anomalies) > self.max_anomalies:
                        self.anomalies.popleft()
            if drift is not None:
                self.drift = drift.to_dict() if hasattr(drift, "to_dict") else asdict(drift)

    def snapshot(self, since: int = 0) -> dict:
        with self._lock:
            return {
                "seq": self.seq,
                "points": [p for p in self.points if p["seq"] > since],
                "anomalies": list(self.anomalies)[::-1],
                "entities": [asdict(s) for s in reversed(self.entities.values())],
                "drift": self.drift,
                "counts": {"items": self.n_items, "anomalies": self.n_anomalies, "errors": self.n_errors},
            }
