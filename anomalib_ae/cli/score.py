"""``anomalib-ae score``: one output row per table row, image, clip or timestamp."""

from __future__ import annotations

from pathlib import Path

import click

from anomalib_ae.cli.common import UserError, read_config, user_errors, write_scores
from anomalib_ae.cli.source_input import INPUT, resolve_cli_input, source_options

#: How the summary line names an item of each adapter kind.
ITEM_WORDS = {"image": "image", "audio": "clip", "telemetry": "timestamp", "tabular": "row"}


def load_as_pipeline(model_path: Path, input_path: Path, id_column: str | None = None):
    """The model file as a Pipeline (a bare detector becomes a tabular one) and whether it was bare."""
    import anomalib_ae
    from anomalib_ae.pipeline import Pipeline, from_detector

    obj = anomalib_ae.load(model_path)
    if isinstance(obj, Pipeline):
        return obj, False
    columns = None
    if getattr(obj, "feature_names_in_", None) is None:  # fitted on an array: the table's numeric columns in order
        from anomalib_ae.data.tabular import numeric_columns, read_table

        columns = numeric_columns(read_table(input_path), [id_column] if id_column else [])
        if len(columns) != obj.n_features_in_:
            raise UserError(
                f"{input_path} has {len(columns)} numeric columns but the model expects {obj.n_features_in_} features"
            )
    return from_detector(obj, columns=columns), True


@click.command("score")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=INPUT, help="Data to score: a table (CSV, TSV, Parquet, JSONL), or for a pipeline model a folder of images / DICOM / NIfTI / audio files, a telemetry table or prometheus://HOST:PORT.")
@click.option("--output", "-o", "output_path", default=None, type=click.Path(path_type=Path), help="Scores file (.csv, .tsv, .parquet or .jsonl); default: CSV on standard output.")
@click.option("--id-column", default=None, help="Column copied to the output as row_id (default: 0-based row number).")
@click.option("--config", "-c", "config_path", default=None, type=click.Path(path_type=Path), help="Config whose data: section (Prometheus source, queries, range) a prometheus:// input uses.")
@source_options
@user_errors
def score_cmd(model_path, input_path, output_path, id_column, config_path, queries, start, end, step,
              entity_label) -> None:
    """Score every item: one output row per table row, image, clip or timestamp (score, probability, is_anomaly, error)."""
    import numpy as np

    if isinstance(input_path, str):  # prometheus://: a telemetry model reads the table from the store
        import anomalib_ae

        pipe, bare = anomalib_ae.load(model_path), False
        if getattr(pipe, "kind", None) != "telemetry":
            raise UserError(f"{input_path} gives telemetry; {model_path} is not a telemetry model")
    else:
        pipe, bare = load_as_pipeline(model_path, input_path, id_column)
    cfg = read_config(config_path) if config_path is not None else {}
    data, _ = resolve_cli_input(input_path, cfg, queries, start, end, step, entity_label, model=pipe)
    if bare:
        from anomalib_ae.data.tabular import read_table

        data = read_table(input_path)
        if id_column is not None and id_column not in data.columns:
            raise UserError(f"--id-column {id_column!r} is not a column of {input_path}")
    res = pipe.score_items(data)
    table = res.table
    if bare:  # a detector's scores name rows by row_id (an id column or the row number)
        table = table.rename(columns={"row": "row_id"})
        if id_column is not None:
            table["row_id"] = data[id_column].to_numpy()
    write_scores(table, output_path)
    n, n_err = len(table), int(table["error"].notna().sum())
    flagged = int(np.nansum(res.scores > pipe.threshold_))
    summary = (f"scored {n - n_err} of {n} rows ({flagged} flagged); {n_err} row(s) with errors" if bare else
               f"scored {n - n_err} of {n} {ITEM_WORDS[pipe.kind]}(s) ({flagged} flagged); {n_err} with errors")
    click.echo(summary + (f"; wrote {output_path}" if output_path else ""), err=output_path is None)
