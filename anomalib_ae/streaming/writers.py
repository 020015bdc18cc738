"""Score tables written chunk by chunk: to a temporary file beside the target, renamed at the end.

:class:`ChunkWriter` appends one DataFrame per chunk in the target's format (by suffix: .csv,
.tsv, .parquet/.pq, .jsonl) through :class:`~anomalib_ae.outputs.AtomicOutput`: on
:meth:`ChunkWriter.commit` the temporary file is flushed, ``fsync``ed and renamed onto the
target, so a reader sees the old file or the complete new one; :meth:`ChunkWriter.abort` (or an
exception inside ``with``) removes it and leaves the target untouched.  ``None`` writes CSV to
standard output as it goes.  The bytes equal those of writing the whole table at once
(:func:`anomalib_ae.outputs.write_table_atomic`, CSV / TSV / JSON lines).
:class:`RecordChunkWriter` does the same for ``score --format csv|jsonl`` (score records).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd

from anomalib_ae.data.tabular import TABLE_SUFFIXES
from anomalib_ae.outputs import AtomicOutput

__all__ = ["ChunkWriter", "RecordChunkWriter"]


class ChunkWriter:
    """Append score chunks to ``path`` (``None``: CSV on standard output); atomic rename on :meth:`commit`."""

    def __init__(self, path: str | os.PathLike | None):
        self.path = None if path is None else Path(path)
        if self.path is not None and self.path.is_dir():
            raise ValueError(f"{self.path} is a folder: give a file path for the scores (.csv, .tsv, .parquet or .jsonl)")
        self.kind = "csv" if self.path is None else TABLE_SUFFIXES.get(self.path.suffix.lower())
        if self.kind is None:
            raise ValueError(f"{self.path}: unsupported output format {self.path.suffix!r} "
                             "(use .csv, .tsv, .parquet or .jsonl)")
        self.n_rows = 0
        self._atomic: AtomicOutput | None = None
        self._file = None
        self._parquet = None
        self._schema = None

    @property
    def tmp_path(self) -> Path | None:
        return None if self._atomic is None else self._atomic.tmp_path

    # ------------------------------------------------------------------ file handling
    def _open(self) -> None:
        if self.path is None:
            self._file = sys.stdout
            return
        self._atomic = AtomicOutput(self.path, "wb" if self.kind == "parquet" else "w")
        self._file = self._atomic.__enter__()

    def write(self, table: pd.DataFrame) -> None:
        """Append the rows of ``table`` (the first call writes the header)."""
        first = self._file is None
        if first:
            self._open()
        self._write(table, first)
        self.n_rows += len(table)

    def _write(self, table: pd.DataFrame, first: bool) -> None:
        if self.kind in ("csv", "tsv"):
            table.to_csv(self._file, sep="\t" if self.kind == "tsv" else ",", index=False, header=first)
        elif self.kind == "jsonl":
            if len(table):
                text = table.to_json(orient="records", lines=True)
                self._file.write(text if text.endswith("\n") else text + "\n")
        else:
            self._write_parquet(table)

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
        if self.path is None:
            self._file.flush()
            return None
        try:
            if self._parquet is not None:
                self._parquet.close()
            elif self.kind == "parquet":  # no rows at all: an empty file with no columns
                pd.DataFrame().to_parquet(self._file, index=False)
        except BaseException as exc:
            self._atomic.__exit__(type(exc), exc, None)
            raise
        self._atomic.__exit__(None, None, None)
        return self.path

    def abort(self) -> None:
        """Drop the temporary file; the target is left as it was."""
        if self._atomic is not None and self._atomic.tmp_path is not None and self._atomic.tmp_path.exists():
            self._atomic.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            self.commit()
        elif self._atomic is not None and self._atomic.tmp_path is not None and self._atomic.tmp_path.exists():
            self._atomic.__exit__(exc_type, exc, tb)  # drops the temp file; names the output in an OS error
        return False


class RecordChunkWriter(ChunkWriter):
    """``score --format csv|jsonl``: each chunk's score table as :class:`~anomalib_ae.records.ScoreRecord` rows."""

    def __init__(self, path, fmt: str, model, model_path, source: str):
        from anomalib_ae.outputs import FORMATS
        from anomalib_ae.records import model_info

        if fmt not in FORMATS:
            raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
        super().__init__(None if path is None else Path(path))
        self.kind = fmt
        self.info = model_info(model, model_path)
        self.source = source
        adapter = getattr(model, "adapter_", None)
        reader = getattr(adapter, "reader_", None)  # telemetry: the windower names the timestamp / entity
        self.cols = ({"timestamp_col": reader.timestamp_col, "entity_col": reader.entity_col}
                     if getattr(model, "kind", None) == "telemetry" and reader is not None else {})

    def _write(self, table: pd.DataFrame, first: bool) -> None:
        from types import SimpleNamespace

        from anomalib_ae.outputs import _jsonl_text, records_frame
        from anomalib_ae.records import records_from_result

        records = records_from_result(SimpleNamespace(table=table, details={}), model_info=self.info,
                                      source=self.source, **self.cols)
        if self.n_rows and "path" not in table.columns and "item" not in table.columns:
            from dataclasses import replace

            # an item without an integer row id is named by its position: the position in the whole input
            records = [replace(r, item=str(self.n_rows + k)) if r.row_id is None and r.item == str(k) else r
                       for k, r in enumerate(records)]
        if self.kind == "jsonl":
            self._file.write(_jsonl_text(records))
        else:
            records_frame(records).to_csv(self._file, index=False, header=first)
