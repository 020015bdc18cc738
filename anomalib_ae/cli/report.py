"""``anomalib-ae report``: one self-contained HTML page for a model and an input."""

from __future__ import annotations

from pathlib import Path

import click

from anomalib_ae.cli.common import UserError, user_errors


@click.command("report")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Data to score and explain (as for `score`).")
@click.option("--output", "-o", "output_path", required=True, type=click.Path(path_type=Path), help="HTML file to write (atomically).")
@click.option("--top-k", "-k", default=10, show_default=True, type=int, help="Anomalies explained on the page.")
@click.option("--label-column", default=None, help="Table column with known labels (1 = anomaly): adds ROC and PR curves.")
@user_errors
def report_cmd(model_path, input_path, output_path, top_k, label_column) -> None:
    """Write an HTML report: summary counts, score distribution with threshold, top anomalies explained, per-feature summary."""
    import anomalib_ae
    from anomalib_ae.report import build_report, write_report

    if top_k < 1:
        raise UserError("--top-k must be at least 1")
    if not input_path.exists():
        raise UserError(f"input not found: {input_path}")
    model = anomalib_ae.load(model_path)
    data, labels = input_path, None
    if label_column is not None:
        from anomalib_ae.data.tabular import read_table

        df = read_table(input_path)
        if label_column not in df.columns:
            raise UserError(f"--label-column {label_column!r} is not a column of {input_path}")
        labels = df[label_column].to_numpy()
        data = df.drop(columns=[label_column])
    rep = build_report(model, data, top_k=top_k, labels=labels, input_name=str(input_path), model_name=model_path.name)
    write_report(rep, output_path)
    click.echo(f"{rep.n_scored} of {rep.n_items} item(s) scored, {rep.n_flagged} flagged; wrote {output_path}")
