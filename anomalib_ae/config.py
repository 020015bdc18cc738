"""Config files (``configs/*.yaml``): sections adapter, detector, threshold, scoring -> Pipeline arguments.

``anomalib_ae.pipeline.pipeline_from_config`` builds the pipeline from them.
"""

from __future__ import annotations

from anomalib_ae.scoring.threshold import parse_threshold

__all__ = ["CONFIG_KEYS", "pipeline_params"]


#: Top-level keys of a config file (see docs/domains.md).
CONFIG_KEYS = ("adapter", "detector", "threshold", "scoring", "name", "description", "data")


def pipeline_params(config: dict, *, detector: str | None = None, detector_params: dict | None = None,
                    adapter_params: dict | None = None, kind: str | None = None,
                    contamination: float | None = None, threshold=None) -> dict:
    """Keyword arguments of :class:`~anomalib_ae.pipeline.Pipeline` from a config dict (a parsed ``configs/*.yaml``).

    Keyword arguments override the config (the CLI's command-line flags; ``threshold`` overrides
    ``threshold.rule``, the rule of :mod:`anomalib_ae.scoring.threshold`): ``detector``
    replaces ``detector.name`` (and drops the config's detector params, which belong to the
    other detector), ``detector_params`` / ``adapter_params`` update those mappings.

    Raises
    ------
    ValueError
        Unknown keys, a missing ``adapter.kind``, a malformed section.
    """
    config = dict(config or {})
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ValueError(f"unknown config key(s) {unknown}; valid: {list(CONFIG_KEYS)}")

    def section(name: str) -> dict:
        v = config.get(name) or {}
        if not isinstance(v, dict):
            raise ValueError(f"config section {name!r} must be a mapping, got {type(v).__name__}")
        return dict(v)

    ad, de, th, sc = section("adapter"), section("detector"), section("threshold"), section("scoring")
    k = kind or ad.pop("kind", None)
    ad.pop("kind", None)
    if k is None:
        raise ValueError("the config needs adapter.kind (tabular, image, audio or telemetry) or pass --kind")
    a_params = dict(ad.get("params") or {})
    a_params.update(adapter_params or {})
    # columns that the config (not the user's flags) names may be missing from a table: skipped with a note
    optional = [] if "exclude" in (adapter_params or {}) else list(a_params.get("exclude") or [])
    if "entity_col" not in (adapter_params or {}) and a_params.get("entity_col") is not None:
        optional.append(a_params["entity_col"])
    if optional and "optional_columns" in _adapter_param_names(k):
        a_params.setdefault("optional_columns", [str(c) for c in optional])
    name = detector or de.get("name", "ae")
    d_params = {} if (detector and detector != de.get("name")) else dict(de.get("params") or {})
    d_params.update(detector_params or {})
    th_keys = {"contamination", "rule", "calibration", "calibration_fraction", "rolling_window"}
    unknown = sorted(set(th) - th_keys)
    if unknown:
        raise ValueError(f"unknown threshold key(s) {unknown}; valid: {sorted(th_keys)}")
    rule = threshold if threshold is not None else th.get("rule")
    parse_threshold(rule)  # a bad rule fails before any training
    cal = {k: th[k] for k in ("calibration", "calibration_fraction", "rolling_window") if th.get(k) is not None}
    cont = contamination if contamination is not None else th.get("contamination")
    unknown = sorted(set(sc) - {"clip_aggregate", "timestamp_how"})
    if unknown:
        raise ValueError(f"unknown scoring key(s) {unknown}; valid: ['clip_aggregate', 'timestamp_how']")
    return dict(detector=name, kind=k, adapter_params=a_params, detector_params=d_params,
                clip_aggregate=sc.get("clip_aggregate", "mean"), timestamp_how=sc.get("timestamp_how", "mean"),
                contamination=cont, threshold=rule, **cal)


def _adapter_param_names(kind: str) -> list[str]:
    from anomalib_ae.adapters import ADAPTERS

    cls = ADAPTERS.get(kind)
    return [] if cls is None else cls.param_names()
