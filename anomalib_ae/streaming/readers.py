"""Chunk readers for CSV, TSV, Parquet and JSON-lines files, with exact global row ids.

Each reader yields :class:`Chunk` objects of at most ``chunk_rows`` input rows.  Text formats
(CSV, TSV, JSON lines) are read line by line in blocks of ``chunk_rows`` lines and each block is
parsed by pyarrow (``pyarrow.csv.read_csv`` / ``pyarrow.json.read_json``), so memory stays
bounded by one block and a bad row never stops the stream:

* a ragged row (too few or too many fields, e.g. a file truncated mid-row) is skipped by
  pyarrow's ``invalid_row_handler`` and becomes an error record for exactly that row;
* a value that does not parse as a number keeps its column as text for that block; the
  scorer then gives that row an error naming the column and the value (as in-memory scoring);
* a JSON line that is not valid JSON (or not an object) becomes an error record for that line.

Row ids count data rows from 0 as ``pandas.read_csv`` / ``read_json(lines=True)`` do: the
header is not a row and empty lines are skipped.  Limitation: quoted fields that contain a
line break are not supported in streaming mode (such a row is split and reported as ragged).
Parquet files are read with ``ParquetFile.iter_batches``; a Parquet file has no per-row
corruption (an unreadable file is one clear ``ValueError``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from anomalib_ae.data.tabular import TABLE_SUFFIXES, check_unique_columns, unsupported_table_format

__all__ = ["Chunk", "iter_chunks", "table_kind"]

_EMPTY_LINES = (b"\n", b"\r\n", b"\r", b"")


@dataclass
class Chunk:
    """Rows ``start .. start + n_rows - 1`` of the input.

    Attributes
    ----------
    frame : DataFrame
        The rows that could be parsed, in input order.
    rows : ndarray of int64
        Global 0-based row id of each row of ``frame``.
    start : int
        Global id of the first row of the chunk.
    n_rows : int
        Input rows in the chunk, parsed or not.
    errors : dict of int -> str
        Global row id -> why that row could not be parsed.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    start: int
    n_rows: int
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def stop(self) -> int:
        return self.start + self.n_rows


def table_kind(path: str | Path) -> str | None:
    """"csv", "tsv", "parquet", "jsonl" by suffix, or None."""
    return TABLE_SUFFIXES.get(Path(path).suffix.lower())


def iter_chunks(path: str | Path, chunk_rows: int = 100_000) -> Iterator[Chunk]:
    """Chunks of at most ``chunk_rows`` rows of a CSV / TSV / Parquet / JSON-lines file."""
    path = Path(path)
    if int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows!r}")
    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    kind = table_kind(path)
    if kind is None:
        raise ValueError(unsupported_table_format(path))
    if kind in ("csv", "tsv"):
        return _iter_delimited(path, "," if kind == "csv" else "\t", int(chunk_rows))
    if kind == "jsonl":
        return _iter_jsonl(path, int(chunk_rows))
    return _iter_parquet(path, int(chunk_rows))


def _lines(fh, n: int) -> tuple[list[bytes], int]:
    """Up to ``n`` non-empty lines (and how many physical lines were read)."""
    raw = list(islice(fh, n))
    return [ln for ln in raw if ln not in _EMPTY_LINES], len(raw)


def _header(path: Path, fh, sep: str) -> list[str]:
    import csv

    while True:
        line = fh.readline()
        if not line:
            raise ValueError(f"{path}: the file is empty (no header row)")
        if line not in _EMPTY_LINES:
            break
    try:
        return next(csv.reader([line.decode("utf-8-sig").rstrip("\r\n")], delimiter=sep))
    except (csv.Error, UnicodeDecodeError, StopIteration) as exc:
        raise ValueError(f"{path}: cannot read the header row ({exc})") from None


def _iter_delimited(path: Path, sep: str, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.csv as pc

    with open(path, "rb") as fh:
        names = _header(path, fh, sep)
        check_unique_columns(names, str(path))  # pyarrow would keep both copies; a model could read either
        start = 0
        while True:
            lines, n_read = _lines(fh, chunk_rows)
            if not n_read:
                return
            if not lines:
                continue
            errors = _undecodable(lines, start)  # pyarrow cannot even report such a row as invalid
            keep = [k for k in range(len(lines)) if start + k not in errors]
            block = [lines[k] for k in keep]
            bad: list = []

            def handler(row, bad=bad):
                bad.append(row)
                return "skip"

            try:
                tbl = pc.read_csv(
                    io.BytesIO(b"".join(block)),
                    read_options=pc.ReadOptions(column_names=names, use_threads=False),
                    parse_options=pc.ParseOptions(delimiter=sep, invalid_row_handler=handler),
                    convert_options=pc.ConvertOptions(strings_can_be_null=True),  # "" / NA in a text column: missing
                ) if block else None
            except Exception as exc:  # e.g. an unterminated quote: the block is not CSV at all
                yield _all_bad(start, len(lines), f"row could not be parsed ({exc})")
                start += len(lines)
                continue
            local: dict[int, str] = {}
            for row in bad:
                local[_locate(row, block, local, 0)] = (
                    f"row has {row.actual_columns} field(s), expected {row.expected_columns}"
                    + (" (truncated row?)" if row.actual_columns < row.expected_columns else ""))
            errors.update({start + keep[j]: msg for j, msg in local.items()})
            ids = np.setdiff1d(np.arange(start, start + len(lines)), np.fromiter(errors, np.int64, len(errors)))
            frame = tbl.to_pandas() if tbl is not None else pd.DataFrame(columns=names)
            yield Chunk(frame=frame, rows=ids.astype(np.int64), start=start, n_rows=len(lines), errors=errors)
            start += len(lines)


def _undecodable(lines: list[bytes], start: int) -> dict[int, str]:
    """Error messages of the lines that are not UTF-8 text, by row number."""
    try:
        b"".join(lines).decode("utf-8")
        return {}
    except UnicodeDecodeError:
        pass
    out = {}
    for k, ln in enumerate(lines):
        try:
            ln.decode("utf-8")
        except UnicodeDecodeError as exc:
            out[start + k] = f"row is not UTF-8 text (byte 0x{ln[exc.start]:02x} at position {exc.start})"
    return out


def _locate(row, lines: list[bytes], taken: dict[int, str], start: int) -> int:
    """Position in the block of an invalid row reported by pyarrow."""
    if row.number is not None and 1 <= row.number <= len(lines):
        return int(row.number) - 1
    text = row.text.encode() if isinstance(row.text, str) else row.text
    for k, ln in enumerate(lines):
        if start + k not in taken and ln.rstrip(b"\r\n") == text:
            return k
    raise ValueError(f"could not locate the invalid row {row.text!r}")  # pragma: no cover


def _all_bad(start: int, n: int, message: str) -> Chunk:
    return Chunk(frame=pd.DataFrame(), rows=np.zeros(0, np.int64), start=start, n_rows=n,
                 errors={start + k: message for k in range(n)})


def _iter_jsonl(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.json as pj

    with open(path, "rb") as fh:
        start = 0
        while True:
            lines, n_read = _lines(fh, chunk_rows)
            if not n_read:
                return
            if not lines:
                continue
            block = b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines)
            try:
                frame = pj.read_json(io.BytesIO(block)).to_pandas()
                if len(frame) != len(lines):
                    raise ValueError("row count mismatch")
                yield Chunk(frame=frame, rows=np.arange(start, start + len(lines), dtype=np.int64), start=start,
                            n_rows=len(lines))
            except Exception:  # noqa: BLE001 - a bad line somewhere: parse line by line
                yield _jsonl_lines(lines, start)
            start += len(lines)


def _jsonl_lines(lines: list[bytes], start: int) -> Chunk:
    records, ids, errors = [], [], {}
    for k, ln in enumerate(lines):
        try:
            rec = json.loads(ln)
        except ValueError as exc:
            errors[start + k] = f"line is not valid JSON ({exc.args[0] if exc.args else exc})"
            continue
        if not isinstance(rec, dict):
            errors[start + k] = f"line is a JSON {type(rec).__name__}, not an object"
            continue
        records.append(rec)
        ids.append(start + k)
    return Chunk(frame=pd.DataFrame.from_records(records), rows=np.asarray(ids, dtype=np.int64), start=start,
                 n_rows=len(lines), errors=errors)


def _iter_parquet(path: Path, chunk_rows: int) -> Iterator[Chunk]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as exc:
        raise ValueError(f"{path}: could not be read as parquet ({type(exc).__name__}: {exc})") from None
    check_unique_columns(list(pf.schema_arrow.names), str(path))
    start = 0
    for batch in pf.iter_batches(batch_size=chunk_rows):
        n = batch.num_rows
        yield Chunk(frame=batch.to_pandas(), rows=np.arange(start, start + n, dtype=np.int64), start=start, n_rows=n)
        start += n
