"""``anomalib-ae score``: one output row per table row, image, clip or timestamp."""

from __future__ import annotations

from pathlib import Path

import click

from anomalib_ae.cli.common import UserError, read_config, user_errors
from anomalib_ae.cli.source_input import INPUT, resolve_cli_input, source_options
from anomalib_ae.streaming.score import DEFAULT_CHUNK_ROWS

#: How the summary line names an item of each adapter kind.
#: Table files at least this large are streamed when --chunk-rows is not given.
STREAM_MIN_BYTES = 256 << 20

ITEM_WORDS = {"image": "image", "audio": "clip", "telemetry": "timestamp", "tabular": "row"}


def _head(input_path: Path, head_rows: int | None):
    """The table (``head_rows`` None) or its first ``head_rows`` parsed rows (streaming: column types)."""
    from anomalib_ae.data.tabular import read_table

    if head_rows is None:
        return read_table(input_path)
    from anomalib_ae.streaming import iter_chunks

    chunk = next(iter(iter_chunks(input_path, head_rows)), None)
    if chunk is None:
        raise UserError(f"{input_path} has no rows")
    return chunk.frame


def streams(pipe, input_path, chunk_rows: int) -> bool:
    """Whether ``score`` reads ``input_path`` in chunks: a table file, a tabular / telemetry model, chunk_rows > 0."""
    from anomalib_ae.streaming.readers import table_kind

    return (chunk_rows > 0 and isinstance(input_path, Path) and input_path.is_file()
            and table_kind(input_path) is not None and pipe.kind in ("tabular", "telemetry"))


def load_as_pipeline(model_path: Path, input_path: Path, id_column: str | None = None, head_rows: int | None = None):
    """The model file as a Pipeline (a bare detector becomes a tabular one) and whether it was bare.

    A bare detector fitted on an array takes the table's numeric columns, read from the whole
    table or, with ``head_rows``, from its first rows (streaming)."""
    import anomalib_ae
    from anomalib_ae.pipeline import Pipeline, from_detector

    obj = anomalib_ae.load(model_path)
    if isinstance(obj, Pipeline):
        return obj, False
    columns = None
    if getattr(obj, "feature_names_in_", None) is None:  # fitted on an array: the table's numeric columns in order
        from anomalib_ae.data.tabular import numeric_columns

        columns = numeric_columns(_head(input_path, head_rows), [id_column] if id_column else [])
        if len(columns) != obj.n_features_in_:
            raise UserError(
                f"{input_path} has {len(columns)} numeric columns but the model expects {obj.n_features_in_} features"
            )
    return from_detector(obj, columns=columns), True


@click.command("score")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=INPUT, help="Data to score: a table (CSV, TSV, Parquet, JSONL), or for a pipeline model a folder of images / DICOM / NIfTI / audio files, a telemetry table or prometheus://HOST:PORT.")
@click.option("--output", "-o", "output_path", default=None, type=click.Path(path_type=Path), help="Scores file (.csv, .tsv, .parquet or .jsonl), written atomically; - or none: standard output.")
@click.option("--id-column", default=None, help="Column copied to the output as row_id (default: 0-based row number).")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default=None, help="Write score records (schemas/score_record.schema.json) as CSV or JSON lines instead of the score table; with --output - (or none) to stdout.")
@click.option("--config", "-c", "config_path", default=None, type=click.Path(path_type=Path), help="Config whose data: section (Prometheus source, queries, range) a prometheus:// input uses.")
@click.option("--chunk-rows", default=None, type=click.IntRange(min=0),
              help="Table inputs are scored this many rows at a time with bounded memory and the output written as it "
                   "goes (telemetry scores equal one-piece scoring); 0 reads the whole table into memory. Default: "
                   f"{DEFAULT_CHUNK_ROWS} rows for files of {STREAM_MIN_BYTES >> 20} MiB or more, in memory below.")
@click.option("--rolling-window", type=int, default=None, help="Telemetry: rolling re-calibration over this many recent timestamps presumed normal, with threshold and drift_warning columns.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True,
              help="local: this process. dask: partitions of a table file (or batches of image / audio files) on a "
                   "Dask cluster; same output, bit-identical scores (pip install 'anomalib_ae[scale]').")
@click.option("--scheduler", default=None, metavar="ADDR",
              help="--engine dask: the scheduler, e.g. tcp://10.0.0.5:8786. Default: a LocalCluster on this machine.")
@click.option("--connect-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="--engine dask --scheduler: seconds to wait for the scheduler before giving up.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(min=1),
              help="--engine dask without --scheduler: worker processes of the LocalCluster (one thread each).")
@click.option("--blocksize", default="64MB", show_default=True,
              help="--engine dask: bytes of a CSV / TSV / JSON-lines file per partition (Parquet: its row groups).")
@source_options
@user_errors
def score_cmd(model_path, input_path, output_path, id_column, fmt, config_path, rolling_window, queries, start, end,
              step, entity_label, chunk_rows, engine, scheduler, connect_timeout, workers, blocksize) -> None:
    """Score every item: one output row per table row, image, clip or timestamp
    (score, p_value, probability, is_anomaly, error; definitions in docs/alarms.md)."""
    output_path = None if str(output_path) == "-" else output_path  # "-" and no --output: stdout
    if engine == "dask":
        from anomalib_ae.cli.score_dask import score_on_dask

        if isinstance(input_path, str) or rolling_window is not None or chunk_rows:
            raise UserError("--engine dask scores files and folders; prometheus:// inputs, --rolling-window and "
                            "--chunk-rows need --engine local")
        from anomalib_ae.streaming.readers import table_kind

        is_table = input_path.is_file() and table_kind(input_path) is not None
        pipe, bare = load_as_pipeline(model_path, input_path, id_column, head_rows=1000 if is_table else None)
        table = score_on_dask(model_path, input_path, pipe, bare, id_column, fmt, scheduler, workers, blocksize,
                              connect_timeout)
        from anomalib_ae.outputs import write_scores

        write_scores(table, output_path, fmt, model=pipe, model_path=model_path, source=str(input_path),
                     inputs=(input_path, model_path))
        flagged = int(table["is_anomaly"].fillna(False).astype(bool).sum())
        return _summary(pipe, bare, len(table), int(table["error"].notna().sum()), flagged, output_path, table)
    elif scheduler is not None:
        raise UserError("--scheduler needs --engine dask")
    if chunk_rows is None:  # stream files that may not fit; small ones get the in-memory reader's checks
        big = isinstance(input_path, Path) and input_path.is_file() and input_path.stat().st_size >= STREAM_MIN_BYTES
        chunk_rows = DEFAULT_CHUNK_ROWS if big else 0

    if isinstance(input_path, str):  # prometheus://: a telemetry model reads the table from the store
        import anomalib_ae

        pipe, bare = anomalib_ae.load(model_path), False
        if getattr(pipe, "kind", None) != "telemetry":
            raise UserError(f"{input_path} gives telemetry; {model_path} is not a telemetry model")
    else:
        from anomalib_ae.streaming.readers import table_kind

        head = 1000 if chunk_rows > 0 and input_path.is_file() and table_kind(input_path) else None
        pipe, bare = load_as_pipeline(model_path, input_path, id_column, head_rows=head)
    cfg = read_config(config_path) if config_path is not None else {}
    data, _ = resolve_cli_input(input_path, cfg, queries, start, end, step, entity_label, model=pipe)
    if rolling_window is not None:
        pipe.rolling_window = rolling_window
    if streams(pipe, input_path, chunk_rows) and not getattr(pipe, "rolling_window", None):  # rolling: whole series
        return _score_streaming(pipe, bare, input_path, output_path, id_column, chunk_rows, fmt, model_path)
    if bare:
        from anomalib_ae.data.tabular import read_table

        data = read_table(input_path)
        if id_column is not None and id_column not in data.columns:
            raise UserError(f"--id-column {id_column!r} is not a column of {input_path}")
    if rolling_window is not None:
        pipe.rolling_window = rolling_window
    res = pipe.score_items(data)
    table = res.table
    if bare:  # a detector's scores name rows by row_id (an id column or the row number)
        table = table.rename(columns={"row": "row_id"})
        if id_column is not None:
            table["row_id"] = data[id_column].to_numpy()
    from dataclasses import replace

    from anomalib_ae.outputs import write_scores

    write_scores(replace(res, table=table), output_path, fmt, model=pipe, model_path=model_path,
                 source=str(input_path), inputs=(input_path, model_path))
    n, n_err = len(table), int(table["error"].notna().sum())
    flagged = int(table["is_anomaly"].fillna(False).astype(bool).sum())
    _summary(pipe, bare, n, n_err, flagged, output_path, table)


def _summary(pipe, bare: bool, n: int, n_err: int, flagged: int, output_path, table=None) -> None:
    summary = (f"scored {n - n_err} of {n} rows ({flagged} flagged); {n_err} row(s) with errors" if bare else
               f"scored {n - n_err} of {n} {ITEM_WORDS[pipe.kind]}(s) ({flagged} flagged); {n_err} with errors")
    if table is not None and "drift_warning" in table and table["drift_warning"].any():
        summary += f"; drift warning on {int(table['drift_warning'].sum())} item(s): run `anomalib-ae calibrate`"
    click.echo(summary + (f"; wrote {output_path}" if output_path else ""), err=output_path is None)


def _score_streaming(pipe, bare, input_path, output_path, id_column, chunk_rows, fmt, model_path) -> None:
    """Chunk by chunk, the output written as it goes (atomically renamed at the end)."""
    from anomalib_ae.outputs import check_not_input
    from anomalib_ae.streaming import ChunkWriter, RecordChunkWriter, score_stream

    if output_path is not None:
        check_not_input(output_path, input_path, model_path)
    writer = ChunkWriter(output_path) if fmt is None else RecordChunkWriter(
        output_path, fmt, pipe, model_path=model_path, source=str(input_path))
    with writer as out:
        s = score_stream(pipe, input_path, out.write, chunk_rows=chunk_rows, bare=bare, id_column=id_column)
    _summary(pipe, bare, s.n_rows, s.n_errors, s.n_flagged, output_path)
