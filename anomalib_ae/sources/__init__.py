"""Data sources that are not files: metrics stores read into the tables the adapters take.

``prometheus://HOST:PORT`` (:mod:`anomalib_ae.sources.prometheus`) gives a telemetry table.
:func:`resolve_input` is what ``fit`` / ``score`` / ``pull`` call on their ``--input``.
"""

from __future__ import annotations

from typing import Any

from anomalib_ae.sources.prometheus import PrometheusError, PrometheusSource, is_prometheus_url

__all__ = ["DATA_KEYS", "PrometheusError", "PrometheusSource", "is_prometheus_url", "resolve_input", "source_from_config"]

#: Keys of a config file's ``data:`` section.
DATA_KEYS = ("source", "queries", "entity_label", "start", "end", "step", "max_points", "timeout", "lookback")


def source_from_config(data: dict | None, *, url: str | None = None, queries: dict | None = None,
                       start: Any = None, end: Any = None, step: Any = None, entity_label: Any = "",
                       default_entity_label: Any = "instance") -> PrometheusSource:
    """A :class:`PrometheusSource` from a config's ``data:`` section; keyword arguments (command-line
    options) override it.  ``queries`` given on the command line replace the config's.
    ``entity_label=""`` means not given; ``default_entity_label`` applies when neither gives one
    (a scoring run passes the model's entity column)."""
    data = dict(data or {})
    unknown = sorted(set(data) - set(DATA_KEYS))
    if unknown:
        raise ValueError(f"unknown data key(s) {unknown}; valid: {list(DATA_KEYS)}")
    src = url or data.get("source")
    if not src:
        raise ValueError("no Prometheus source: pass --input prometheus://HOST:PORT or set data.source")
    q = dict(queries) if queries else dict(data.get("queries") or {})
    if not q:
        raise PrometheusError(f"{src} needs queries: --query name=PROMQL (repeatable) or data.queries in the config")
    kw = {k: data[k] for k in ("max_points", "timeout") if k in data}
    kw["entity_label"] = entity_label if entity_label != "" else data.get("entity_label", default_entity_label)
    for k, v in (("start", start), ("end", end), ("step", step)):
        if v is not None:
            kw[k] = v
        elif data.get(k) is not None:
            kw[k] = data[k]
    return PrometheusSource(str(src), {str(k): str(v) for k, v in q.items()}, **kw)


def resolve_input(value: Any, data: dict | None = None, **overrides):
    """``--input`` -> what a pipeline takes: a DataFrame read from ``prometheus://...``, else ``value``.

    Returns
    -------
    (data, adapter_params)
        ``adapter_params`` are the telemetry adapter settings the table needs
        (``timestamp_col``, ``entity_col``, ``metric_cols``); empty for a file.
    """
    if not is_prometheus_url(str(value)):
        return value, {}
    src = source_from_config(data, url=str(value), **overrides)
    table = src.read()
    return table, {"timestamp_col": "timestamp", "entity_col": src.entity_label, "metric_cols": list(src.queries)}
