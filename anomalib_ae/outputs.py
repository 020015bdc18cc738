"""Output files written atomically: a reader sees the old file or the complete new one, never half.

>>> with AtomicOutput("scores.csv") as f:                     # doctest: +SKIP
...     f.write("row_id,score\\n0,1.5\\n")
>>> write_records(records, "scores.jsonl", format="jsonl")    # doctest: +SKIP
>>> write_records(records, "-", format="jsonl")               # stdout, for `| other-tool`

Every file goes through the same steps: a temporary file in the target's own folder
(``.<name>.<random>.tmp``, so the final rename never crosses file systems), flush, ``fsync``,
``os.replace`` onto the target, then ``fsync`` of the folder so the rename itself survives a
power cut. On any error the temporary file is removed and the target is left untouched.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["AtomicOutput", "FORMATS", "TEMP_PREFIX", "append_jsonl", "atomic_write", "check_not_input",
           "fsync_dir", "records_frame", "write_records", "write_scores", "write_table_atomic"]

#: Record formats of :func:`write_records`.
FORMATS = ("csv", "jsonl")
#: Temporary files start with this prefix (``.`` + this + target name), so they can be recognised and cleaned up.
TEMP_PREFIX = ".tmp-"


def fsync_dir(folder: str | os.PathLike) -> None:
    """``fsync`` a folder so a rename inside it is durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(str(folder), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicOutput:
    """Context manager: write to a temporary file beside ``path``; on success it replaces ``path``.

    Parameters
    ----------
    path : str or PathLike
        The final file. Its folder is created if missing.
    mode : {"w", "wb"}, default="w"
        Text (UTF-8, ``\\n`` line ends) or binary.

    The object yielded is the open temporary file; :attr:`tmp_path` is its name (for writers
    that want a path, e.g. Parquet). An exception inside the ``with`` block removes the
    temporary file and leaves ``path`` as it was.
    """

    def __init__(self, path: str | os.PathLike, mode: str = "w"):
        if mode not in ("w", "wb"):
            raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
        self.path = Path(path)
        self.mode = mode
        self.tmp_path: Path | None = None
        self._file = None

    def __enter__(self):
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{self.path.name}.", suffix=".tmp", dir=str(folder))
        self.tmp_path = Path(tmp)
        if self.mode == "wb":
            self._file = os.fdopen(fd, "wb")
        else:
            self._file = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
        return self._file

    def __exit__(self, exc_type, exc, tb) -> bool:
        f, tmp = self._file, self.tmp_path
        try:
            if exc_type is None:
                if not f.closed:
                    f.flush()
                    os.fsync(f.fileno())
                    f.close()
                else:  # a writer closed it: fsync through a fresh descriptor
                    _fsync_path(tmp)
                _match_umask(tmp)
                os.replace(tmp, self.path)
                fsync_dir(self.path.parent)
                return False
        except OSError as err:  # a full disk fails the flush: name the output, drop the temp file
            _discard(f, tmp, quiet=True)
            raise _naming(err, self.path) from None
        except BaseException:
            _discard(f, tmp)
            raise
        _discard(f, tmp, quiet=isinstance(exc, OSError))
        if isinstance(exc, OSError) and exc.filename is None:  # EFBIG / ENOSPC while writing name no file
            raise _naming(exc, self.path) from None
        return False


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` with the output's path as its file name when it names none (a write that failed)."""
    if err.filename is not None or not err.errno:
        return err
    return type(err)(err.errno, err.strerror or str(err), str(path))


def _fsync_path(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _match_umask(path: Path) -> None:
    """mkstemp creates 0600 files; give the output the permissions a plain ``open`` would."""
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(path, 0o666 & ~umask)
    except OSError:
        pass


def _discard(f, tmp: Path | None, quiet: bool = False) -> None:
    """Close (``quiet``: ignoring the OSError a full disk gives on the last flush) and remove ``tmp``."""
    try:
        if f is not None and not f.closed:
            try:
                f.close()
            except OSError:
                if not quiet:
                    raise
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


def atomic_write(path: str | os.PathLike, writer_fn: Callable[[Any], None], mode: str = "w") -> Path:
    """Call ``writer_fn(file)`` on a temporary file and move it onto ``path`` atomically; returns ``path``."""
    with AtomicOutput(path, mode) as f:
        writer_fn(f)
    return Path(path)


def check_not_input(output: str | os.PathLike, *inputs: str | os.PathLike | None) -> None:
    """``ValueError`` when ``output`` is one of ``inputs`` or the same file under another name (a hard or
    symbolic link): scoring a file must never overwrite it."""
    out = Path(output)
    for inp in inputs:
        if inp is None or str(inp) == "-":
            continue
        src = Path(inp)
        same = out.resolve() == src.resolve()
        if not same and out.exists() and src.exists():
            try:
                same = os.path.samefile(out, src)
            except OSError:
                same = False
        if same:
            raise ValueError(f"output {str(output)!r} is the input {str(inp)!r}: refusing to overwrite the data being scored")


# --------------------------------------------------------------------------- tables
_TABLE_KINDS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl",
                ".ndjson": "jsonl"}


def write_table_atomic(df, path: str | os.PathLike) -> Path:
    """Write a DataFrame by suffix (.csv, .tsv, .parquet/.pq, .jsonl) atomically."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder: give a file path for the scores (.csv, .tsv, .parquet or .jsonl)")
    kind = _TABLE_KINDS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unsupported output format {path.suffix!r} (use .csv, .tsv, .parquet or .jsonl)")
    if kind == "parquet":
        with AtomicOutput(path, "wb") as f:
            df.to_parquet(f, index=False)
    elif kind == "jsonl":
        with AtomicOutput(path) as f:
            text = df.to_json(orient="records", lines=True)
            f.write(text if not text or text.endswith("\n") else text + "\n")  # older pandas omit the last newline
    else:
        with AtomicOutput(path) as f:
            df.to_csv(f, sep="\t" if kind == "tsv" else ",", index=False)
    return path


# --------------------------------------------------------------------------- records
def _record_dict(record: Any) -> dict:
    return record.to_dict() if hasattr(record, "to_dict") else dict(record)


def _jsonl_text(records: Iterable[Any]) -> str:
    return "".join(json.dumps(_record_dict(r), allow_nan=False, separators=(",", ":")) + "\n" for r in records)


def records_frame(records: Iterable[Any]):
    """Records as a flat DataFrame: one column per field, ``top_features`` as JSON text."""
    import pandas as pd

    from anomalib_ae.records import ScoreRecord
    from dataclasses import fields

    columns = [f.name for f in fields(ScoreRecord)]
    rows = []
    for r in records:
        d = _record_dict(r)
        d["top_features"] = json.dumps(d.get("top_features") or [], separators=(",", ":"))
        rows.append(d)
    return pd.DataFrame(rows, columns=columns)


def _csv_text(records: Iterable[Any]) -> str:
    buf = io.StringIO()
    records_frame(records).to_csv(buf, index=False)
    return buf.getvalue()


def write_records(records: Iterable[Any], path_or_stdout: str | os.PathLike | None, format: str = "csv") -> Path | None:
    """Write score records as CSV or JSON lines, atomically; ``None`` or ``"-"`` writes to standard output.

    JSON lines: one :class:`~anomalib_ae.records.ScoreRecord` dict per line, valid against
    ``schemas/score_record.schema.json``. CSV: one column per record field, ``top_features``
    as JSON text. Returns the path written (``None`` for stdout).
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
    records = list(records)
    text = _jsonl_text(records) if format == "jsonl" else _csv_text(records)
    if path_or_stdout is None or str(path_or_stdout) == "-":
        out = sys.stdout
        out.write(text)
        out.flush()
        return None
    return atomic_write(path_or_stdout, lambda f: f.write(text))


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Append JSON lines to ``path`` in one write, then flush and ``fsync`` (for append-only logs and ledgers)."""
    text = "".join(json.dumps(r, allow_nan=False, separators=(",", ":")) + "\n" for r in rows)
    if not text:
        return
    path = Path(path)
    new = not path.exists()
    with open(path, "a", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    if new:
        fsync_dir(path.parent)


# --------------------------------------------------------------------------- `anomalib-ae score --output`
def write_scores(result, output: str | os.PathLike | None, format: str | None = None, *, model=None,
                 model_path: str | os.PathLike | None = None, source: str = "", inputs: tuple = ()) -> Path | None:
    """What ``anomalib-ae score`` writes: the score table, or score records with ``format``.

    Parameters
    ----------
    result : ScoreResult or DataFrame
        The scores (a DataFrame is the score table itself).
    output : path, ``"-"`` or None
        None / ``"-"``: standard output. A path is written atomically and must not be one of ``inputs``.
    format : {None, "csv", "jsonl"}
        None: the score table in the format of ``output``'s suffix (.csv, .tsv, .parquet, .jsonl;
        CSV on stdout). ``"csv"`` / ``"jsonl"``: one :class:`~anomalib_ae.records.ScoreRecord`
        per item (needs ``model`` and ``model_path``).
    """
    to_stdout = output is None or str(output) == "-"
    if not to_stdout:
        check_not_input(output, *inputs)
    table = getattr(result, "table", result)
    if format is None:
        if to_stdout:
            sys.stdout.write(table.to_csv(index=False))
            sys.stdout.flush()
            return None
        return write_table_atomic(table, output)
    from types import SimpleNamespace

    from anomalib_ae.records import model_info, records_from_result

    res = result if hasattr(result, "table") else SimpleNamespace(table=table, details={})
    records = records_from_result(res, model_info=model_info(model, model_path), source=str(source))
    return write_records(records, None if to_stdout else output, format=format)
