"""``anomalib-ae score --engine dask``: the same score table, computed on a Dask cluster.

Dask runs the cluster (:mod:`anomalib_ae.distributed`); this module only picks what to score:
a table file for a tabular model (or a bare detector) in partitions, a telemetry table as one
task (windows must not cross partitions), an image / audio folder in batches of files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from anomalib_ae.cli.common import UserError


def score_on_dask(model_path: Path, input_path: Path, pipe, bare: bool, id_column: str | None, fmt: str | None,
                  scheduler: str | None, workers: int, blocksize: str, timeout: float = 10.0) -> pd.DataFrame:
    """The table ``anomalib-ae score`` writes, scored on Dask (``pipe``: the model as a pipeline,
    ``bare``: a bare detector, as ``cli.score.load_as_pipeline`` gives them).

    Raises :class:`UserError` (one ``Error:`` line) when dask is missing or the scheduler
    cannot be reached."""
    from anomalib_ae.streaming.readers import table_kind

    try:
        from anomalib_ae.distributed import connect, score_files, score_table
        import distributed  # noqa: F401
    except ImportError as exc:
        raise UserError(f"--engine dask needs dask and distributed (pip install 'anomalib_ae[scale]'): {exc}") from None
    is_table = input_path.is_file() and table_kind(input_path) is not None
    columns = list(pipe.adapter_.columns_) if bare else None
    if pipe.kind == "telemetry" and fmt is not None:
        raise UserError("--format with a telemetry model needs --engine local (records carry the windows)")
    if pipe.kind in ("tabular", "telemetry") and not is_table:
        raise UserError(f"{input_path}: a {pipe.kind} model scores a table file (.csv, .tsv, .parquet, .jsonl)")
    try:
        client = connect(scheduler, n_workers=workers, threads_per_worker=1, timeout=timeout)
    except ConnectionError as exc:
        raise UserError(str(exc)) from None
    try:
        if pipe.kind == "tabular":
            table = score_table(model_path, input_path, client=client, blocksize=_blocksize(blocksize), full=True,
                                id_column=id_column if bare else None, columns=columns)
        else:
            table = score_files(model_path, _files(pipe.kind, input_path), client=client, full=True)
    finally:
        _close(client, own_cluster=scheduler is None)
    if bare:  # a detector's scores name rows by row_id (an id column or the row number)
        table = table.rename(columns={"row": "row_id"})
    return table


def _blocksize(value: str) -> str | int:
    return int(value) if str(value).isdigit() else value


def _files(kind: str, input_path: Path) -> list[str]:
    if kind == "image":
        from anomalib_ae.adapters.image import image_paths

        return image_paths(input_path)
    if kind == "audio":
        from anomalib_ae.data.audio_files import expand_audio_paths

        return expand_audio_paths(input_path)
    return [str(input_path)]  # telemetry: the whole table in one task


def _close(client, own_cluster: bool) -> None:
    cluster = client.cluster if own_cluster else None
    client.close()
    if cluster is not None:
        cluster.close()
