"""Batch scoring on a Dask cluster, partition by partition.

Dask runs the cluster (a ``LocalCluster`` on one machine, or a scheduler address on a real
cluster); this module only ships the model and says what to score:

* the model file's bytes go to every worker once (``Client.scatter(..., broadcast=True)``) and
  each worker loads them once per file digest;
* a ``dask.dataframe`` is scored partition by partition, a list of table files one file per
  task, and an image / wav folder in batches of files;
* a task whose worker dies is rerun by Dask on another worker (and ``retries`` reruns tasks
  that raised), so every row is scored exactly once in the result;
* scores are bit-identical to single-process scoring: every worker runs the same model file
  through the same fixed-size scoring chunks (see :func:`anomalib_ae.training.batched_apply`).

>>> from dask.distributed import Client, LocalCluster                      # doctest: +SKIP
>>> with Client(LocalCluster(n_workers=2, threads_per_worker=1)) as client:
...     table = score_table("model.pt", "big.parquet", client=client, blocksize="64MB")
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["ShippedModel", "connect", "score_dataframe", "score_files", "score_table"]

#: Loaded models per worker process, keyed by the model file's SHA-256.
_WORKER_MODELS: dict[str, object] = {}


@dataclass(frozen=True)
class ShippedModel:
    """A model file's bytes and digest, as shipped to the workers.

    ``columns``: for a bare detector fitted on an array, the table columns it reads (in order),
    as ``anomalib-ae score`` picks them; None: the detector's own feature names."""

    digest: str
    payload: bytes
    columns: tuple[str, ...] | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike, columns: Sequence[str] | None = None) -> "ShippedModel":
        data = Path(path).read_bytes()
        return cls(hashlib.sha256(data).hexdigest(), data, None if columns is None else tuple(columns))


def _worker_pipeline(model: ShippedModel):
    """The worker's pipeline for ``model``, loaded from its bytes once per worker process."""
    key = model.digest if model.columns is None else f"{model.digest}:{','.join(model.columns)}"
    pipe = _WORKER_MODELS.get(key)
    if pipe is None:
        import anomalib_ae
        from anomalib_ae.pipeline import Pipeline, from_detector

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.pt"
            path.write_bytes(model.payload)
            obj = anomalib_ae.load(path)
        cols = None if model.columns is None else list(model.columns)
        pipe = obj if isinstance(obj, Pipeline) else from_detector(obj, columns=cols)
        _WORKER_MODELS[key] = pipe
    return pipe


def _score_frame(frame: pd.DataFrame, model: ShippedModel, offset: int | None = None, full: bool = False,
                 id_column: str | None = None) -> pd.DataFrame:
    """Score one partition; ``row_id`` is the partition's index (global row numbers).

    ``full``: the pipeline's whole score table, its ``row`` column holding the global row
    numbers (or the values of ``id_column``), as single-process scoring writes it."""
    pipe = _worker_pipeline(model)
    table = pipe.score_items(frame.reset_index(drop=True)).table
    row_id = np.asarray(frame.index) if offset is None else np.arange(offset, offset + len(frame))
    if full:
        table = table.copy()
        if "row" in table:
            table["row"] = frame[id_column].to_numpy() if id_column is not None else row_id.astype(np.int64)
        return table
    out = pd.DataFrame({"row_id": row_id.astype(np.int64)})
    for col in ("score", "probability", "is_anomaly", "error"):
        out[col] = table[col].to_numpy()
    return out


def _score_paths(paths: list[str], model: ShippedModel, full: bool = False) -> pd.DataFrame:
    """Score a batch of files (images, clips, or table files) as one call of the pipeline.

    ``full``: the pipeline's whole score table (no ``path`` column added to table files)."""
    pipe = _worker_pipeline(model)
    kind = getattr(pipe, "kind", "tabular")
    if kind in ("image", "audio"):
        table = pipe.score_items(list(paths)).table
        if full:
            return table.reset_index(drop=True)
        return table[["path", "score", "probability", "is_anomaly", "error"]].reset_index(drop=True)
    frames = []
    for p in paths:
        t = pipe.score_items(p).table.copy()
        if not full:
            t.insert(0, "path", p)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


def connect(scheduler: str | None = None, *, n_workers: int = 2, threads_per_worker: int = 1,
            timeout: float = 10.0):
    """A ``dask.distributed.Client``: to ``scheduler`` (``tcp://host:8786``) or a new LocalCluster.

    Raises
    ------
    ConnectionError
        The scheduler cannot be reached (message names the address).
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout=f"{float(timeout)}s")
        except (OSError, TimeoutError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    import logging

    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, processes=True,
                           dashboard_address=":0", host="127.0.0.1", silence_logs=logging.ERROR)
    return Client(cluster)


def _ship(client, model_path, columns: Sequence[str] | None = None) -> object:
    """Scatter the model bytes to every worker once; returns the future."""
    return client.scatter(ShippedModel.from_path(model_path, columns), broadcast=True, hash=False)


def score_dataframe(model_path, ddf, *, client, retries: int = 3, full: bool = False,
                    id_column: str | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Score a ``dask.dataframe.DataFrame`` partition by partition; one output row per input row.

    Rows keep their position in ``ddf`` as ``row_id`` (partitions are numbered in order, so
    the result is in input order whatever order the workers finish in). ``full``: the
    pipeline's whole score table instead (``row``: global row number or ``id_column``'s value),
    concatenated exactly as single-process scoring returns it. ``columns``: see :class:`ShippedModel`.
    """
    import dask

    shipped = _ship(client, model_path, columns)
    lengths = ddf.map_partitions(len).compute().tolist()
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int).tolist()
    tasks = [dask.delayed(_score_frame)(part, shipped, off, full, id_column)
             for part, off in zip(ddf.to_delayed(), offsets)]
    futures = client.compute(tasks, retries=retries)
    parts = client.gather(futures)
    if full and len(parts) > 1:
        parts = [p for p in parts if len(p)] or parts[:1]
    if not parts:
        return pd.DataFrame(columns=["row_id", "score", "probability", "is_anomaly", "error"])
    return pd.concat(parts, ignore_index=True)


def score_table(model_path, input_path, *, client, blocksize: str | int = "64MB", retries: int = 3,
                full: bool = False, id_column: str | None = None, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Score a CSV / TSV / Parquet / JSON-lines file (or a glob) read by ``dask.dataframe``."""
    import dask.dataframe as dd

    from anomalib_ae.data.tabular import check_table_head

    p = str(input_path)
    low = p.lower()
    if not any(ch in p for ch in "*?[") and not Path(p).exists():
        raise FileNotFoundError(f"input file not found: {p}")
    check_table_head(p)  # duplicate names, a shifted first row, another delimiter: refused before reading
    try:
        if low.endswith((".parquet", ".pq")) or Path(p).is_dir():
            ddf = dd.read_parquet(p)
        elif low.endswith((".jsonl", ".ndjson", ".json")):
            ddf = dd.read_json(p, lines=True, blocksize=blocksize)
        else:
            ddf = dd.read_csv(p, sep="\t" if low.endswith(".tsv") else ",", blocksize=blocksize)
    except Exception as exc:  # noqa: BLE001  (dask / pyarrow / pandas reader errors of every type)
        raise ValueError(f"{p}: could not be read ({type(exc).__name__}: {_reader_reason(exc)})") from None
    try:
        if id_column is not None and id_column not in ddf.columns:
            raise ValueError(f"--id-column {id_column!r} is not a column of {p}")
        return score_dataframe(model_path, ddf, client=client, retries=retries, full=full, id_column=id_column,
                               columns=columns)
    except Exception as exc:  # a reader failing inside a task: name the file, keep pandas' own message
        if "An error occurred while calling the read_" not in str(exc) and not isinstance(exc, OSError):
            raise  # OSError: pyarrow reading a damaged Parquet row group
        raise ValueError(f"{p}: could not be read ({type(exc).__name__}: {_reader_reason(exc)})") from None


def _reader_reason(exc: BaseException) -> str:
    """pandas' own message inside dask's "An error occurred while calling the read_... method" wrapper."""
    return " ".join(str(exc).split("Original Message:", 1)[-1].split())


def score_files(model_path, paths: Sequence[str | os.PathLike], *, client, batch_size: int = 64,
                retries: int = 3, full: bool = False) -> pd.DataFrame:
    """Score files (images or clips in batches of ``batch_size``, table files one per task), in input order.

    ``full``: the pipeline's whole score tables, concatenated (no ``path`` column added)."""
    shipped = _ship(client, model_path)
    paths = [str(p) for p in paths]
    batches = [paths[i:i + batch_size] for i in range(0, len(paths), batch_size)]
    futures = client.map(_score_paths, batches, model=shipped, full=full, retries=retries, pure=False)
    parts = client.gather(futures)
    if not parts:
        return pd.DataFrame(columns=["path", "score", "probability", "is_anomaly", "error"])
    return pd.concat(parts, ignore_index=True)
