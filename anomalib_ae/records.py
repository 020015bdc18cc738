"""One record per scored item, shared by the CLI's JSON lines output, ``watch`` and the HTTP service.

>>> info = model_info(pipe, "model.pt")                                   # doctest: +SKIP
>>> recs = records_from_result(pipe.score_items(df), model_info=info, source="batch.csv")
>>> recs[0].to_dict()
{'timestamp': '2026-12-01T15:40:02.113Z', 'source': 'batch.csv', 'entity': None, 'row_id': 0, ...}

The JSON Schema of :meth:`ScoreRecord.to_dict` ships with the package
(``anomalib_ae/schemas/score_record.schema.json``, :func:`schema`); every field is
documented there.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ModelInfo", "ScoreRecord", "model_info", "records_from_result", "schema", "SCHEMA_PATH"]

#: Columns of ``ScoreResult.table`` that are not item identifiers.
_RESULT_COLUMNS = {"score", "probability", "p_value", "is_anomaly", "error"}
_ID_COLUMNS = {"row", "row_id", "path", "item"}


@dataclass
class ModelInfo:
    """What a record says about the model that scored it.

    Attributes
    ----------
    name : str
        Model name: the model file's name without its extension.
    detector : str
        Registered detector name (``"ae"``, ``"pyod.knn"``, ...).
    kind : str
        Pipeline kind (``tabular``, ``image``, ``audio``, ``telemetry``) or ``"detector"``
        for a bare detector file.
    format_version : int
        Model file format version.
    digest : str
        SHA-256 of the model file's bytes (hex).
    threshold : float
        The model's anomaly threshold on the score (NaN when unknown).
    """

    name: str
    detector: str
    kind: str
    format_version: int
    digest: str
    threshold: float = float("nan")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _format_version(path: Path) -> int:
    from anomalib_ae.io import FORMAT_VERSION

    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            return int((f.metadata() or {}).get("format_version", FORMAT_VERSION))
    except Exception:  # noqa: BLE001 - the file was already loaded by the caller; fall back to ours
        return int(FORMAT_VERSION)


def model_info(model: Any, path: str | os.PathLike) -> ModelInfo:
    """:class:`ModelInfo` of a loaded detector or pipeline and the file it came from."""
    path = Path(path)
    from anomalib_ae.detectors.state import registered_name

    det = getattr(model, "detector_", model)
    try:
        detector = registered_name(det)
    except TypeError:  # not a registered detector class
        detector = type(det).__name__
    kind = getattr(model, "kind", None) if hasattr(model, "detector_") else None
    threshold = getattr(model, "threshold_", float("nan"))
    return ModelInfo(
        name=path.stem,
        detector=str(detector),
        kind=str(kind or "detector"),
        format_version=_format_version(path),
        digest=file_sha256(path),
        threshold=float(threshold) if threshold is not None else float("nan"),
    )


def _clean(value: Any) -> Any:
    """JSON-safe: NaN / inf / pandas NA -> None, numpy scalars -> Python."""
    if value is None:
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return value


@dataclass
class ScoreRecord:
    """The outcome for one scored item (table row, telemetry timestamp, image, clip).

    ``score`` / ``p_value`` / ``probability`` / ``is_anomaly`` are ``None`` exactly when the
    item could not be scored, and then ``error`` says why. See the JSON Schema
    (:func:`schema`) for the meaning of every field.
    """

    timestamp: str
    source: str
    entity: str | None
    row_id: int | None
    item: str
    score: float | None
    p_value: float | None
    probability: float | None
    is_anomaly: bool | None
    threshold: float
    model: str
    model_digest: str
    top_features: list[dict] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict:
        """A JSON-safe dict (NaN -> None) in the schema's field order."""
        d = {f: getattr(self, f) for f in _FIELDS}
        for k, v in d.items():
            if v is None or type(v) in (str, bool, int):
                continue
            if type(v) is float:
                if not math.isfinite(v):
                    d[k] = None
            else:  # numpy scalars, pandas NA, top_features: the general (slower) path
                d[k] = _clean(v)
        return d

    def to_json(self) -> str:
        """One line of JSON (for JSON lines output)."""
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, d: dict) -> "ScoreRecord":
        """Inverse of :meth:`to_dict` (a ``threshold`` of ``None`` becomes NaN)."""
        d = dict(d)
        if d.get("threshold") is None:
            d["threshold"] = float("nan")
        return cls(**d)


_FIELDS = tuple(f.name for f in fields(ScoreRecord))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso(value: Any) -> str | None:
    """An item timestamp as ISO 8601 text (numbers, e.g. step counters, as their decimal text)."""
    value = _clean(value)
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        import pandas as pd

        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            return None
        if ts.tzinfo is not None:
            ts = ts.tz_convert("UTC").tz_localize(None)
            return ts.isoformat() + "Z"
        return ts.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _explanation_parts(explanation: Any) -> tuple[list[int], list[str], Any, Any]:
    """(item positions, feature names, contributions (k, n_features), maps) of a dict or dataclass."""
    def get(name, default=None):
        if isinstance(explanation, dict):
            return explanation.get(name, default)
        return getattr(explanation, name, default)

    top = [int(i) for i in (get("top") if get("top") is not None else get("items", []) or [])]
    names = [str(n) for n in (get("feature_names") or [])]
    return top, names, get("contributions"), get("maps")


def _top_features(explanation: Any, top_k: int) -> dict[int, list[dict]]:
    """Item position -> ``[{"name", "value"}, ...]`` (value = share of the item's total contribution)."""
    if explanation is None or top_k <= 0:
        return {}
    from anomalib_ae.explain import top_features

    top, names, contrib, maps = _explanation_parts(explanation)
    if not top or contrib is None:
        return {}
    c = np.asarray(contrib, dtype=np.float64).reshape(len(top), -1)
    if names == ["pixel"] and maps is not None:  # images: the hottest pixels, named by (row, column)
        w = np.asarray(maps).shape[-1]
        names = [f"pixel[{j // w},{j % w}]" for j in range(c.shape[1])]
    if len(names) != c.shape[1]:
        return {}
    tops = top_features(c, names, k=top_k)
    return {i: [{"name": n, "value": float(v)} for n, v in t] for i, t in zip(top, tops)}


def records_from_result(result: Any, *, model_info: ModelInfo, source: str, top_k: int = 3,
                        explanation: Any = None, threshold: float | None = None,
                        timestamp_col: str | None = None, entity_col: str | None = None) -> list[ScoreRecord]:
    """One :class:`ScoreRecord` per row of ``result.table``, in order.

    Parameters
    ----------
    result : ScoreResult
    model_info : ModelInfo
    source : str
        Where the items came from: a file path, a folder, ``"http"``, ``"stdin"``.
    top_k : int, default=3
        Contributing features kept per explained item.
    explanation : dict or Explanation, optional
        Output of ``Pipeline.explain`` for (some of) these items; items it does not cover
        get an empty ``top_features``.
    threshold : float, optional
        Overrides ``model_info.threshold``.
    timestamp_col, entity_col : str, optional
        Item columns holding the timestamp / entity. By default a telemetry result's
        windower columns (the first and second item columns after ``row``), else none.
    """
    table = result.table
    n = len(table)
    cols = list(table.columns)
    extra = [c for c in cols if c not in _RESULT_COLUMNS and c not in _ID_COLUMNS]
    details = getattr(result, "details", None)
    windows = details.get("batch") if isinstance(details, dict) else getattr(details, "windows", None)
    if timestamp_col is None and windows is not None and extra:  # telemetry: row, timestamp[, entity]
        timestamp_col = extra[0]
    if entity_col is None and windows is not None and len(extra) > 1:
        entity_col = extra[1]
    if timestamp_col is None and "timestamp" in cols:
        timestamp_col = "timestamp"
    thr = float(model_info.threshold if threshold is None else threshold)
    feats = _top_features(explanation, top_k)
    now = _now()

    def column(name):
        return table[name].tolist() if name in cols else [None] * n

    score, proba = column("score"), column("probability")
    pval = column("p_value")
    flag, err = column("is_anomaly"), column("error")
    ts = column(timestamp_col) if timestamp_col else [None] * n
    ent = column(entity_col) if entity_col else [None] * n
    if "row_id" in cols:
        row_ids = column("row_id")
    elif "row" in cols:
        row_ids = column("row")
    else:
        row_ids = [None] * n
    items = column("path") if "path" in cols else (column("item") if "item" in cols else [None] * n)

    out = []
    for i in range(n):
        s = _clean(score[i])
        p = _clean(proba[i])
        pv = _clean(pval[i])
        if pv is None and p is not None:
            pv = 1.0 - p
        if p is None and pv is not None:
            p = 1.0 - pv
        f = _clean(flag[i])
        e = _clean(err[i])
        if s is None:
            p = pv = f = None
            e = e or "not scored"
        rid = _clean(row_ids[i])
        try:
            rid = None if rid is None else int(rid)
        except (TypeError, ValueError):
            rid = None
        it = _clean(items[i])
        entity = _clean(ent[i])
        out.append(ScoreRecord(
            timestamp=_iso(ts[i]) or now,
            source=str(source),
            entity=None if entity is None else str(entity),
            row_id=rid,
            item=str(it) if it is not None else (str(rid) if rid is not None else str(i)),
            score=None if s is None else float(s),
            p_value=None if pv is None else float(pv),
            probability=None if p is None else float(p),
            is_anomaly=None if f is None else bool(f),
            threshold=thr,
            model=model_info.name,
            model_digest=model_info.digest,
            top_features=feats.get(i, []),
            error=None if e is None else str(e),
        ))
    return out


SCHEMA_PATH = Path(__file__).parent / "schemas" / "score_record.schema.json"


def schema() -> dict:
    """The JSON Schema (draft 2020-12) of :meth:`ScoreRecord.to_dict`."""
    from importlib.resources import files

    return json.loads(files("anomalib_ae").joinpath("schemas/score_record.schema.json").read_text(encoding="utf-8"))
