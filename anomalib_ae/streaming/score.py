"""``score_stream``: score a table file chunk by chunk with bounded memory, writing as it goes.

Tabular pipelines and bare detectors score each chunk independently (one output row per input
row); telemetry pipelines go through :class:`~anomalib_ae.streaming.telemetry.TelemetryStream`,
which gives exactly the scores of one-piece scoring.  Rows the reader cannot parse get an error
record and the stream goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from anomalib_ae.streaming.readers import Chunk, iter_chunks

__all__ = ["DEFAULT_CHUNK_ROWS", "StreamSummary", "score_stream"]

#: Rows per chunk of ``anomalib-ae score``.  Measured (16 metrics + an id column, pyod.hbos): peak RSS
#: is the ~600 MB of the imported stack plus ~170 MB at 20,000 rows (~380 MB at 100,000), and
#: throughput is no lower than with 100,000-row chunks (benchmarks/stream.py).
DEFAULT_CHUNK_ROWS = 20_000


@dataclass
class StreamSummary:
    """What a streaming run scored."""

    n_rows: int = 0
    n_errors: int = 0
    n_flagged: int = 0
    n_chunks: int = 0

    def add(self, table: pd.DataFrame, threshold: float) -> None:
        self.n_rows += len(table)
        self.n_errors += int(table["error"].notna().sum())
        self.n_flagged += int(table["is_anomaly"].fillna(False).astype(bool).sum())


def _tabular_chunk(pipeline, chunk: Chunk, bare: bool, id_column: str | None) -> pd.DataFrame:
    """The score table of one chunk: scored rows plus error records for unparseable ones, in order."""
    n = chunk.n_rows
    frame = chunk.frame if len(chunk.frame) else pd.DataFrame(columns=pipeline.adapter_.columns_)
    if id_column is not None and len(chunk.frame) and id_column not in chunk.frame.columns:
        raise ValueError(f"--id-column {id_column!r} is not a column of the input")
    t = pipeline.score_items(frame).table
    pos = chunk.rows - chunk.start
    table = pd.DataFrame(index=range(n))
    for c in t.columns:
        col = t[c]
        if c == "row":
            table["row_id" if bare else "row"] = np.arange(chunk.start, chunk.stop, dtype=np.int64)
            if id_column is not None:
                ids = chunk.frame[id_column].to_numpy() if len(chunk.frame) else np.zeros(0, object)
                if chunk.errors:  # rows that could not be parsed have no id
                    full = np.full(n, None, object)
                    full[pos] = ids
                    ids = full
                table["row_id"] = ids
            continue
        if not chunk.errors:
            table[c] = col.array
            continue
        full = pd.Series(pd.NA if col.dtype == object or isinstance(col.dtype, pd.api.extensions.ExtensionDtype)
                         else np.nan, index=range(n), dtype=col.dtype if col.dtype != np.int64 else "float64")
        full.iloc[pos] = col.to_numpy()
        table[c] = full.array
    if chunk.errors:
        err = np.array(table["error"].astype(object).to_numpy(), dtype=object)  # a writable copy
        for r, msg in chunk.errors.items():
            err[r - chunk.start] = msg
        table["error"] = pd.array(err, dtype="string")
    return table


def score_stream(pipeline, path, write_chunk: Callable[[pd.DataFrame], None], chunk_rows: int = DEFAULT_CHUNK_ROWS,
                 bare: bool = False, id_column: str | None = None) -> StreamSummary:
    """Score the table file ``path`` chunk by chunk; ``write_chunk`` gets each chunk's score table in order.

    Parameters
    ----------
    pipeline : Pipeline
        A fitted ``tabular`` or ``telemetry`` pipeline (a bare detector: :func:`~anomalib_ae.pipeline.from_detector`).
    path : str or Path
        CSV, TSV, Parquet or JSON-lines file.
    write_chunk : callable
        Called with the score table of each chunk (the columns of :meth:`Pipeline.score_items`; with
        ``bare`` the ``row`` column is ``row_id``, the ``id_column`` values when given).
    chunk_rows : int
        Input rows per chunk.

    Returns
    -------
    StreamSummary
    """
    summary = StreamSummary()
    kind = pipeline.kind
    if kind not in ("tabular", "telemetry"):
        raise ValueError(f"streaming scores table inputs (tabular or telemetry pipelines), not {kind!r}")
    threshold = float(pipeline.threshold_)
    stream = None
    if kind == "telemetry":
        from anomalib_ae.streaming.telemetry import TelemetryStream

        stream = TelemetryStream(pipeline)
    table = None
    written = False
    for chunk in iter_chunks(path, chunk_rows):
        summary.n_chunks += 1
        table = stream.feed(chunk) if stream is not None else _tabular_chunk(pipeline, chunk, bare, id_column)
        if len(table):
            write_chunk(table)
            written = True
        summary.add(table, threshold)
    if stream is not None:
        table = stream.close()
        summary.add(table, threshold)
        if len(table) or not written:  # an empty input still gets its header
            write_chunk(table)
    elif not written:
        write_chunk(table if table is not None else
                    _tabular_chunk(pipeline, Chunk(pd.DataFrame(), np.zeros(0, np.int64), 0, 0), bare, id_column))
    return summary
