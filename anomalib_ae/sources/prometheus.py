"""Prometheus (or a compatible store: VictoriaMetrics, Thanos, Mimir) as a telemetry table.

:func:`read_prometheus` runs each named PromQL query through the HTTP API
``/api/v1/query_range`` and returns one DataFrame, exactly what the telemetry adapter reads
from a CSV or Parquet file:

* ``timestamp`` (UTC, tz-naive datetime64), the entity column (named after
  ``entity_label``, e.g. ``instance``) and one numeric column per query, named by its key;
* rows are the union of the series' timestamps per entity (a metric without a sample at a
  timestamp is NaN there, which the telemetry adapter forward-fills or reports);
* long ranges are split into pages of at most ``max_points`` points per series
  (Prometheus refuses more than 11,000) and stitched back together.

Only the standard library is used (``urllib``).  Errors raise :class:`PrometheusError`
(a ``ValueError``) with one clear sentence: Prometheus unreachable, a PromQL error (with
the query's name and Prometheus' message), no data in the range, or a query that returns
several series for one entity (aggregate it, e.g. ``sum by (instance) (...)``).
"""

from __future__ import annotations

import json
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MAX_POINTS", "PrometheusError", "PrometheusSource", "is_prometheus_url", "parse_duration",
           "parse_time", "read_prometheus"]

#: Prometheus' limit on the points of one series in a range query response.
MAX_POINTS = 11_000

_SCHEMES = {"prometheus": "http", "prometheus+http": "http", "prometheus+https": "https"}
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0, "y": 31536000.0}


class PrometheusError(ValueError):
    """Prometheus could not be read: unreachable, a query error, or no data."""


def is_prometheus_url(value: Any) -> bool:
    """True for ``prometheus://HOST:PORT`` (and ``prometheus+https://...``)."""
    return isinstance(value, str) and value.split("://", 1)[0].lower() in _SCHEMES and "://" in value


def base_url(source: str) -> str:
    """``prometheus://host:9090/prefix`` -> ``http://host:9090/prefix`` (``prometheus+https://`` -> https)."""
    scheme, rest = source.split("://", 1)
    if scheme.lower() not in _SCHEMES:
        if scheme.lower() in ("http", "https"):
            return source.rstrip("/")
        raise PrometheusError(f"not a Prometheus source: {source!r} (expected prometheus://HOST:PORT)")
    if not rest.strip("/"):
        raise PrometheusError(f"{source!r} names no host: use prometheus://HOST:PORT")
    return f"{_SCHEMES[scheme.lower()]}://{rest.rstrip('/')}"


def parse_duration(value: Any) -> float:
    """``15``, ``"15s"``, ``"5m"``, ``"1h30m"``, ``"1.5h"`` -> seconds (float)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise PrometheusError(f"cannot read the duration {value!r}; use e.g. 15s, 5m, 1h, 2d")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def parse_time(value: Any, now: float | None = None) -> float:
    """A time -> Unix seconds.

    Accepts Unix seconds, ``"now"``, ``"now-1h"`` / ``"-1h"`` (relative to ``now``), an ISO
    8601 / RFC 3339 string (``2026-12-01T10:00:00Z``; no zone = UTC) or a datetime.
    """
    now = time.time() if now is None else float(now)
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip()
    if text == "now":
        return now
    rel = re.fullmatch(r"(?:now)?\s*([+-])\s*(.+)", text)
    if rel and not re.match(r"^\d{4}-", text):
        d = parse_duration(rel.group(2))
        return now - d if rel.group(1) == "-" else now + d
    try:
        return float(text)
    except ValueError:
        pass
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        raise PrometheusError(f"cannot read the time {value!r}; use Unix seconds, RFC 3339 "
                              "(2026-12-01T10:00:00Z), now or now-1h") from None
    return (ts if ts.tzinfo else ts.tz_localize("UTC")).timestamp()


@dataclass
class PrometheusSource:
    """Where and what to read; :meth:`read` returns the table.

    Parameters
    ----------
    url : str
        ``prometheus://HOST:PORT`` (or ``prometheus+https://``, or a plain http(s) URL).
    queries : dict of str -> str
        Metric column name -> PromQL expression.
    entity_label : str or None, default="instance"
        Label whose value names the entity (node, host ...); ``None`` when each query
        returns a single series.
    start, end : time, default "now-1h" and "now"
        See :func:`parse_time`.
    step : duration, default "15s"
        Resolution of the range queries (``15s``, ``1m`` or seconds).
    max_points : int, default=11000
        Most points per series per request; longer ranges are paged.
    timeout : float, default=30
        Seconds per HTTP request.
    """

    url: str
    queries: dict[str, str]
    entity_label: str | None = "instance"
    start: Any = "now-1h"
    end: Any = "now"
    step: Any = "15s"
    max_points: int = MAX_POINTS
    timeout: float = 30.0
    requests_made: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not self.queries or not isinstance(self.queries, dict):
            raise PrometheusError("no queries: give at least one name=PROMQL (config data.queries or --query)")
        bad = [k for k, v in self.queries.items() if not str(k).strip() or not str(v).strip()]
        if bad:
            raise PrometheusError(f"empty query name or expression: {bad[0]!r}")
        clash = [k for k in self.queries if k in ("timestamp", self.entity_label)]
        if clash:
            raise PrometheusError(f"query name {clash[0]!r} is taken by the timestamp / entity column; rename it")
        if int(self.max_points) < 2:
            raise PrometheusError(f"max_points must be at least 2, got {self.max_points}")

    # ------------------------------------------------------------------ http
    def _get(self, path: str, params: dict) -> dict:
        url = base_url(self.url) + path
        data = urllib.parse.urlencode(params).encode()
        req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/x-www-form-urlencoded",
                                                              "Accept": "application/json"})
        self.requests_made += 1
        try:
            with urllib.request.urlopen(req, timeout=float(self.timeout)) as resp:
                body = resp.read()
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                payload = json.loads(body)
            except ValueError:
                raise PrometheusError(f"Prometheus at {base_url(self.url)} answered HTTP {exc.code} {exc.reason} "
                                      f"for {path}") from None
            raise PrometheusError(f"Prometheus rejected the query: {payload.get('errorType', 'error')}: "
                                  f"{payload.get('error', body[:200])}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise PrometheusError(f"cannot reach Prometheus at {base_url(self.url)}: {reason}") from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise PrometheusError(f"{base_url(self.url)}{path} did not answer JSON: is it Prometheus?") from None
        if not isinstance(payload, dict):
            raise PrometheusError(f"{base_url(self.url)}{path} answered a JSON {type(payload).__name__}, not a "
                                  "Prometheus API object: is it Prometheus?")
        if payload.get("status") != "success":
            raise PrometheusError(f"Prometheus error: {payload.get('errorType')}: {payload.get('error')}")
        if not isinstance(payload.get("data"), dict):
            raise PrometheusError(f"{base_url(self.url)}{path} answered 'success' without a data object: "
                                  "is it Prometheus?")
        return payload["data"]

    def range_bounds(self, now: float | None = None) -> tuple[float, float, float]:
        """``(start, end, step)`` in seconds."""
        now = time.time() if now is None else now
        start, end, step = parse_time(self.start, now), parse_time(self.end, now), parse_duration(self.step)
        if not step > 0:
            raise PrometheusError(f"step must be positive, got {self.step!r}")
        if not end > start:
            raise PrometheusError(f"empty time range: start {_iso(start)} is not before end {_iso(end)}")
        return start, end, step

    def query_range(self, name: str, promql: str, start: float, end: float, step: float) -> list[tuple[dict, np.ndarray, np.ndarray]]:
        """Series of one query as ``(labels, unix_times, values)``, paged over the range."""
        span = step * (int(self.max_points) - 1)
        series: dict[tuple, list] = {}
        t0 = start
        while t0 <= end:
            t1 = min(end, t0 + span)
            try:
                data = self._get("/api/v1/query_range", {"query": promql, "start": _fmt(t0), "end": _fmt(t1),
                                                         "step": _fmt(step)})
            except PrometheusError as exc:
                if "rejected" in str(exc):
                    raise PrometheusError(f"query {name!r} ({promql}): {str(exc).split(': ', 1)[1]}") from None
                raise
            if data.get("resultType") != "matrix":
                raise PrometheusError(f"query {name!r} gave a {data.get('resultType')}, not a range of samples")
            try:
                for s in data["result"]:
                    key = tuple(sorted(s["metric"].items()))
                    series.setdefault(key, []).extend(s["values"])
            except (KeyError, TypeError, AttributeError) as exc:
                raise PrometheusError(f"query {name!r} ({promql}): malformed answer from Prometheus (a series "
                                      f"without {exc} or of the wrong type)") from None
            t0 = t1 + step
        out = []
        for key, vals in series.items():
            ts, ys = _samples(name, promql, vals)
            ts, idx = np.unique(ts, return_index=True)  # a page boundary never repeats a point, but be safe
            out.append((dict(key), ts, ys[idx]))
        return out

    # ------------------------------------------------------------------ table
    def read(self, now: float | None = None) -> pd.DataFrame:
        """Run every query over the range and return the telemetry table (see the module notes)."""
        start, end, step = self.range_bounds(now)
        frames = []
        for name, promql in self.queries.items():
            got = self.query_range(name, promql, start, end, step)
            if not got:
                raise PrometheusError(f"no data: query {name!r} ({promql}) returned no series between "
                                      f"{_iso(start)} and {_iso(end)}")
            rows = []
            seen: dict[str, dict] = {}
            for labels, ts, ys in got:
                ent = labels.get(self.entity_label, "") if self.entity_label else ""
                if self.entity_label and self.entity_label not in labels:
                    raise PrometheusError(f"query {name!r} returns a series without the entity label "
                                          f"{self.entity_label!r} (labels: {labels or '{}'}); keep it, e.g. "
                                          f"avg by ({self.entity_label}) (...), or set entity_label")
                if ent in seen:
                    diff = sorted(k for k in set(labels) | set(seen[ent]) if labels.get(k) != seen[ent].get(k))
                    who = f"{self.entity_label}={ent!r}" if self.entity_label else "the source"
                    by = f" by ({self.entity_label})" if self.entity_label else ""
                    raise PrometheusError(f"query {name!r} returns several series for {who} (they differ in "
                                          f"{', '.join(diff)}); aggregate it, e.g. sum{by} ({promql})")
                seen[ent] = labels
                rows.append(pd.DataFrame({"entity": ent, "t": ts, name: ys}))
            frames.append(pd.concat(rows, ignore_index=True))
        table = frames[0]
        for f in frames[1:]:
            table = table.merge(f, on=["entity", "t"], how="outer")
        table = table.sort_values(["entity", "t"], kind="stable").reset_index(drop=True)
        ms = np.round(table["t"].to_numpy(dtype=np.float64) * 1000.0).astype(np.int64)
        out = pd.DataFrame({"timestamp": pd.to_datetime(ms, unit="ms")})
        if self.entity_label:
            out[self.entity_label] = table["entity"].astype(str).to_numpy()
        for name in self.queries:
            out[name] = table[name].to_numpy(dtype=np.float64)
        return out


def _samples(name: str, promql: str, vals: list) -> tuple[np.ndarray, np.ndarray]:
    """``[[unix_time, "value"], ...]`` -> (times, values); Prometheus writes NaN / +Inf / -Inf as text."""
    try:
        ts = np.array([float(v[0]) for v in vals], dtype=np.float64)
        texts = [v[1] for v in vals]
    except (TypeError, ValueError, IndexError, KeyError) as exc:
        raise PrometheusError(f"query {name!r} ({promql}): malformed answer from Prometheus (samples must be "
                              f"[time, \"value\"] pairs: {type(exc).__name__}: {exc})") from None
    ys = np.empty(len(texts), dtype=np.float64)
    for i, v in enumerate(texts):
        try:
            ys[i] = float(v)
        except (TypeError, ValueError):
            raise PrometheusError(f"query {name!r} ({promql}): sample value {v!r} at {ts[i]:.3f} is not a number "
                                  "(malformed answer from Prometheus)") from None
    return ts, ys


def read_prometheus(url: str, queries: dict[str, str], **kw) -> pd.DataFrame:
    """``PrometheusSource(url, queries, **kw).read()``."""
    return PrometheusSource(url, dict(queries), **kw).read()


def _fmt(x: float) -> str:
    return f"{x:.3f}".rstrip("0").rstrip(".") if math.isfinite(x) else str(x)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
