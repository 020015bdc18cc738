"""Score tables written chunk by chunk: to a temporary file beside the target, renamed at the end.

:class:`ChunkWriter` appends one DataFrame per chunk in the target's format (by suffix: .csv,
.tsv, .parquet/.pq, .jsonl) and, on :meth:`ChunkWriter.commit`, flushes, ``fsync``s and
``os.replace``s the temporary file onto the target, so a reader sees the old file or the
complete new one.  :meth:`ChunkWriter.abort` (or an exception inside ``with``) removes the
temporary file and leaves the target untouched.  ``None`` writes CSV to standard output as it
goes (not atomic).  The bytes written equal those of writing the whole table at once with
:func:`anomalib_ae.data.tabular.write_table` (CSV / TSV / JSON lines).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pandas as pd

from anomalib_ae.data.tabular import TABLE_SUFFIXES

__all__ = ["ChunkWriter"]

#: Temporary files are ``.tmp-<name>.<random>.tmp`` in the target's folder (as the atomic writers of the CLI).
TEMP_PREFIX = ".tmp-"


class ChunkWriter:
    """Append score chunks to ``path`` (``None``: CSV on standard output); atomic rename on :meth:`commit`."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)
        self.kind = "csv" if self.path is None else TABLE_SUFFIXES.get(self.path.suffix.lower())
        if self.kind is None:
            raise ValueError(f"{self.path}: unsupported output format {self.path.suffix!r} "
                             "(use .csv, .tsv, .parquet or .jsonl)")
        self.tmp_path: Path | None = None
        self.n_rows = 0
        self._file = None
        self._parquet = None
        self._schema = None

    # ------------------------------------------------------------------ file handling
    def _open(self) -> None:
        if self.path is None:
            self._file = sys.stdout
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{self.path.name}.", suffix=".tmp", dir=str(self.path.parent))
        self.tmp_path = Path(tmp)
        self._file = os.fdopen(fd, "wb" if self.kind == "parquet" else "w", **(
            {} if self.kind == "parquet" else {"encoding": "utf-8", "newline": "\n"}))

    def write(self, table: pd.DataFrame) -> None:
        """Append the rows of ``table`` (the first call writes the header)."""
        first = self._file is None
        if first:
            self._open()
        if self.kind in ("csv", "tsv"):
            table.to_csv(self._file, sep="\t" if self.kind == "tsv" else ",", index=False, header=first)
        elif self.kind == "jsonl":
            if len(table):
                text = table.to_json(orient="records", lines=True)
                self._file.write(text if text.endswith("\n") else text + "\n")
        else:
            self._write_parquet(table)
        self.n_rows += len(table)

    def _write_parquet(self, table: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet is None:
            tbl = pa.Table.from_pandas(table, preserve_index=False)
            self._schema = tbl.schema
            self._parquet = pq.ParquetWriter(self._file, self._schema)
        else:  # the first chunk's column types (a later chunk may hold only missing values in a column)
            tbl = pa.Table.from_pandas(table, schema=self._schema, preserve_index=False)
        self._parquet.write_table(tbl)

    def commit(self) -> Path | None:
        """Finish the file and move it onto the target (``None`` for standard output)."""
        if self._file is None:
            self._open()
        if self._parquet is not None:
            self._parquet.close()
        if self.path is None:
            self._file.flush()
            return None
        try:
            if self.kind == "parquet" and self._parquet is None:  # no rows at all: an empty file with no columns
                pd.DataFrame().to_parquet(self._file, index=False)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(self.tmp_path, 0o666 & ~umask)
            os.replace(self.tmp_path, self.path)
        except BaseException:
            self.abort()
            raise
        self.tmp_path = None
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the target is left as it was."""
        if self.path is None or self._file is None:
            return
        try:
            if not self._file.closed:
                self._file.close()
        finally:
            if self.tmp_path is not None and self.tmp_path.exists():
                self.tmp_path.unlink()
            self.tmp_path = None

    def __enter__(self) -> "ChunkWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        else:
            self.abort()
        return False
