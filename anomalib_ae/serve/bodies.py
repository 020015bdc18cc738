"""Request bodies -> what a pipeline scores: a table, or uploaded image / audio files.

The body is read with a hard size limit that is enforced while it streams in (a declared
``Content-Length`` above the limit is refused before reading anything), so a 1 GB upload
costs at most ``max_body_bytes`` of memory. Every refusal is a :class:`BadInput` with an
HTTP status, an error kind (for the ``anomalib_ae_errors_total`` metric) and a reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

JSON_TYPES = ("application/json",)
CSV_TYPES = ("text/csv", "application/csv")
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet",
                 "application/octet-stream")
MULTIPART_TYPES = ("multipart/form-data",)
#: Single-file bodies: content type -> file suffix given to the adapter.
FILE_TYPES = {"image/png": ".png", "image/jpeg": ".jpg", "image/bmp": ".bmp", "image/tiff": ".tif",
              "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/vnd.wave": ".wav",
              "audio/flac": ".flac", "audio/x-flac": ".flac"}
ACCEPTED = JSON_TYPES + CSV_TYPES + PARQUET_TYPES[:1] + MULTIPART_TYPES + tuple(FILE_TYPES)


class BadInput(Exception):
    """A request refused as a whole: ``status`` (4xx), ``kind`` (metric label) and the reason."""

    def __init__(self, status: int, kind: str, reason: str):
        super().__init__(reason)
        self.status, self.kind, self.reason = status, kind, reason


@dataclass
class Upload:
    name: str
    data: bytes


@dataclass
class Body:
    """A parsed request: a table or files, plus per-request fields from JSON (``entity``, ``source``)."""

    table: pd.DataFrame | None = None
    files: list[Upload] = field(default_factory=list)
    fields: dict = field(default_factory=dict)


async def read_limited(request, max_bytes: int) -> bytes:
    """The request body, refusing (413) as soon as it is known to exceed ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise BadInput(400, "bad_request", f"invalid Content-Length {declared!r}") from None
        if n > max_bytes:
            raise BadInput(413, "too_large", f"request body of {n} bytes exceeds the limit of {max_bytes} bytes")
    buf = bytearray()
    async for chunk in request.stream():  # ClientDisconnect propagates to the caller
        buf += chunk
        if len(buf) > max_bytes:
            raise BadInput(413, "too_large", f"request body exceeds the limit of {max_bytes} bytes")
    return bytes(buf)


def media_type(request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _rows_frame(rows) -> pd.DataFrame:
    if not isinstance(rows, list):
        raise BadInput(422, "bad_request", f"'rows' must be a list of objects, got {type(rows).__name__}")
    if not rows:
        raise BadInput(422, "bad_request", "no rows to score ('rows' is empty)")
    if not all(isinstance(r, dict) for r in rows):
        bad = next(i for i, r in enumerate(rows) if not isinstance(r, dict))
        raise BadInput(422, "bad_request", f"row {bad} is a {type(rows[bad]).__name__}, not an object "
                                           "of column: value pairs")
    # a list, an object or true / false is not a number: keep it as JSON text, so that row gets an
    # error record (as the same cell in a CSV file does) rather than a score of 1.0 for true
    rows = [{k: (json.dumps(v) if isinstance(v, (list, dict, bool)) else v) for k, v in r.items()} for r in rows]
    return pd.DataFrame.from_records(rows)


def _unique_keys(pairs: list) -> dict:
    """``json.loads`` hook: an object naming a key twice is refused (json would keep the last copy silently)."""
    seen: dict = {}
    for k, v in pairs:
        if k in seen:
            n = sum(1 for key, _ in pairs if key == k)
            raise BadInput(422, "bad_columns", f"column name {k!r} appears {n} times in one object of the JSON body; "
                                               "send each column once")
        seen[k] = v
    return seen


def parse_json(data: bytes) -> Body:
    try:
        doc = json.loads(data, object_pairs_hook=_unique_keys)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(400, "malformed", f"malformed JSON: {exc}") from None
    except RecursionError:
        raise BadInput(400, "malformed", "malformed JSON: nested too deeply") from None
    if isinstance(doc, list):
        return Body(table=_rows_frame(doc))
    if isinstance(doc, dict) and "rows" in doc:
        extra = {k: v for k, v in doc.items() if k != "rows"}
        unknown = sorted(set(extra) - {"entity", "source"})
        if unknown:
            raise BadInput(422, "bad_request", f"unknown JSON field(s) {unknown}; valid: rows, entity, source")
        for k, v in extra.items():
            if v is not None and not isinstance(v, str):
                raise BadInput(422, "bad_request", f"'{k}' must be a string")
        return Body(table=_rows_frame(doc["rows"]), fields={k: v for k, v in extra.items() if v is not None})
    raise BadInput(422, "bad_request", 'JSON body must be {"rows": [{column: value, ...}, ...]} or a list of rows')


def _read_body(data: bytes, kind: str, what: str) -> Body:
    """The reader of ``anomalib-ae score`` (data.tabular), so a body gets the checks a file gets:
    duplicate column names and a first row with an extra field are refused, not scored shifted."""
    from anomalib_ae.data.tabular import read_table_bytes

    try:
        return Body(table=read_table_bytes(data, kind, f"malformed {what}"))
    except ValueError as exc:
        status, kind_ = (422, "bad_columns") if "appears" in str(exc) else (400, "malformed")
        raise BadInput(status, kind_, str(exc)) from None


def parse_csv(data: bytes) -> Body:
    if not data.strip():
        raise BadInput(422, "bad_request", "empty CSV body")
    return _read_body(data, "csv", "CSV")


def parse_parquet(data: bytes) -> Body:
    return _read_body(data, "parquet", "Parquet")


async def parse_multipart(request, data: bytes, max_files: int) -> Body:
    """Uploaded files (every file field); a table upload (.csv / .parquet) becomes the table."""
    from starlette.requests import Request

    sent = False

    async def replay():
        nonlocal sent
        if sent:
            return {"type": "http.request", "body": b"", "more_body": False}
        sent = True
        return {"type": "http.request", "body": data, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=max_files, max_fields=100)
    except Exception as exc:  # noqa: BLE001 - starlette / python-multipart parse errors
        raise BadInput(400, "malformed", f"malformed multipart body: {exc}") from None
    files, fields = [], {}
    for key, value in form.multi_items():
        if hasattr(value, "read"):
            files.append(Upload(name=value.filename or key, data=await value.read()))
        elif key in ("entity", "source"):
            fields[key] = str(value)
    await form.close()
    if not files:
        raise BadInput(422, "bad_request", "multipart body without a file; upload image / wav files "
                                           "(any field name) or a .csv / .parquet table")
    tables = [f for f in files if f.name.lower().endswith((".csv", ".parquet", ".pq"))]
    if tables:
        if len(files) > 1:
            raise BadInput(422, "bad_request", "upload one table per request (got a table and other files)")
        t = tables[0]
        body = parse_csv(t.data) if t.name.lower().endswith(".csv") else parse_parquet(t.data)
        body.fields = fields
        return body
    return Body(files=files, fields=fields)


async def parse_body(request, data: bytes, *, max_files: int) -> Body:
    mt = media_type(request)
    if mt in JSON_TYPES or mt.endswith("+json"):
        return parse_json(data)
    if mt in CSV_TYPES:
        return parse_csv(data)
    if mt in PARQUET_TYPES:
        return parse_parquet(data)
    if mt in MULTIPART_TYPES:
        return await parse_multipart(request, data, max_files)
    if mt in FILE_TYPES:
        name = request.query_params.get("name") or ("upload" + FILE_TYPES[mt])
        if not data:
            raise BadInput(422, "bad_request", "empty file body")
        return Body(files=[Upload(name=name, data=data)])
    raise BadInput(415, "unsupported_media_type",
                   f"unsupported content type {mt or '(none)'!r}; send one of: {', '.join(ACCEPTED)}")
