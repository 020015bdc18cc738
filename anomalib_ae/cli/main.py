"""click commands: list, fit, score, demo.

User errors (missing file, unknown detector, wrong columns, bad model file) end with one
``Error: ...`` line and exit code 1 or 2, never a traceback.
"""

from __future__ import annotations

import functools
import sys
import warnings
from pathlib import Path

import click


class _UserError(click.ClickException):
    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


def _user_errors(fn):
    """Turn the library's expected errors into one clear line."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from anomalib_ae.io import ModelFileError

        try:
            return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (ValueError, FileNotFoundError, ModelFileError, TypeError, KeyError) as exc:
            raise _UserError(str(exc)) from None

    return wrapper


def _parse_params(items: tuple[str, ...]) -> dict:
    """``key=value`` pairs; values are read as YAML scalars/lists (``5``, ``0.1``, ``[64, 32]``, ``true``)."""
    import yaml

    params = {}
    for item in items:
        if "=" not in item:
            raise _UserError(f"--param expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        try:
            params[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise _UserError(f"--param {key}: cannot parse value {value!r}: {exc}") from None
    return params


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anomalib_ae")
def cli() -> None:
    """anomalib-ae: fit anomaly detectors on normal data and score new batches."""


@cli.command("list")
@click.option("--include", default=None, help="Only names containing this text.")
def list_cmd(include: str | None) -> None:
    """List the registered detectors."""
    import anomalib_ae

    for name in anomalib_ae.list_detectors(include):
        cls = anomalib_ae.get_detector_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        click.echo(f"{name:<20} {doc[0] if doc else ''}")


@cli.command("fit")
@click.option("--detector", "-d", default=None, help="Registered detector name (see `anomalib-ae list`).")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Normal training data: CSV, TSV, Parquet or JSONL.")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Where to write the model file.")
@click.option("--param", "-p", "params", multiple=True, help="Detector parameter key=value (repeatable), e.g. -p epochs=20.")
@click.option("--exclude", "-x", multiple=True, help="Column not to use as a feature (repeatable), e.g. an id or label.")
@click.option("--drop-invalid", is_flag=True, help="Skip rows with missing/non-numeric values (reported) instead of failing.")
@_user_errors
def fit_cmd(detector, input_path, model_path, params, exclude, drop_invalid) -> None:
    """Fit a detector on normal data and save it."""
    import anomalib_ae
    from anomalib_ae.data.tabular import extract_features, numeric_columns, read_table

    if detector is None:
        raise _UserError("--detector is required (see `anomalib-ae list`)")
    det = anomalib_ae.create(detector, **_parse_params(params))
    df = read_table(input_path)
    missing = [c for c in exclude if c not in df.columns]
    if missing:
        raise _UserError(f"--exclude names column(s) not in {input_path}: {', '.join(missing)}")
    columns = numeric_columns(df, exclude)
    if not columns:
        raise _UserError(f"{input_path} has no numeric feature columns")
    rows = extract_features(df, columns)
    n_bad = int((~rows.valid).sum())
    if n_bad:
        first = int((~rows.valid).argmax())
        msg = f"{n_bad} training row(s) have unusable values (first: row {first}: {rows.errors[first]})"
        if not drop_invalid:
            raise _UserError(msg + "; fix them or pass --drop-invalid")
        click.echo(f"warning: skipped {msg}", err=True)
    import pandas as pd

    det.fit(pd.DataFrame(rows.X, columns=columns))
    det.save(model_path)
    click.echo(f"fitted {detector} on {rows.X.shape[0]} rows x {len(columns)} features; threshold {det.threshold_:.6g}")
    click.echo(f"model written to {model_path}")


@cli.command("score")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Data to score: CSV, TSV, Parquet or JSONL.")
@click.option("--output", "-o", "output_path", required=True, type=click.Path(path_type=Path), help="Scores file (.csv, .tsv, .parquet or .jsonl).")
@click.option("--id-column", default=None, help="Column copied to the output as row_id (default: 0-based row number).")
@_user_errors
def score_cmd(model_path, input_path, output_path, id_column) -> None:
    """Score every row of a table: one output row per input row (row_id, score, probability, is_anomaly, error)."""
    import numpy as np
    import pandas as pd

    import anomalib_ae
    from anomalib_ae.data.tabular import extract_features, numeric_columns, read_table, write_table

    det = anomalib_ae.load(model_path)
    df = read_table(input_path)
    if id_column is not None and id_column not in df.columns:
        raise _UserError(f"--id-column {id_column!r} is not a column of {input_path}")
    names = getattr(det, "feature_names_in_", None)
    if names is not None:
        columns = [str(c) for c in names]
    else:
        columns = numeric_columns(df, [id_column] if id_column else [])
        if len(columns) != det.n_features_in_:
            raise _UserError(
                f"{input_path} has {len(columns)} numeric columns but the model expects {det.n_features_in_} features"
            )
    rows = extract_features(df, columns)
    n = len(df)
    score = np.full(n, np.nan)
    proba = np.full(n, np.nan)
    flag = pd.array([pd.NA] * n, dtype="boolean")
    if rows.valid.any():
        Xv = pd.DataFrame(rows.X, columns=columns) if names is not None else rows.X
        s = det.score(Xv)
        score[rows.valid] = s
        from anomalib_ae.scoring.calibration import conformal_p_values

        proba[rows.valid] = 1.0 - conformal_p_values(det.calibration_scores_, s)
        flag[rows.valid] = s > det.threshold_
    out = pd.DataFrame(
        {
            "row_id": df[id_column].to_numpy() if id_column else np.arange(n),
            "score": score,
            "probability": proba,
            "is_anomaly": flag,
            "error": pd.array(rows.errors, dtype="string"),
        }
    )
    write_table(out, output_path)
    n_err = int((~rows.valid).sum())
    click.echo(
        f"scored {n - n_err} of {n} rows ({int(np.nansum(score > det.threshold_))} flagged); "
        f"{n_err} row(s) with errors; wrote {output_path}"
    )


@cli.command("demo")
@click.option("--output-dir", "-o", default="anomalib_ae_demo", type=click.Path(path_type=Path), help="Where to write scores, plot and model.")
@click.option("--detector", "-d", default="ae", help="Detector to run.")
@click.option("--seed", default=0, type=int, help="Random seed of split and training.")
@_user_errors
def demo_cmd(output_dir, detector, seed) -> None:
    """Fit on real normal data shipped with the package (ODDS cardio), score held-out data, print AUROC."""
    from anomalib_ae.demo import run_demo

    click.echo(f"anomalib-ae demo: {detector} on ODDS cardio (Cardiotocography, shipped in the package)")
    res = run_demo(output_dir, detector=detector, seed=seed)
    click.echo(
        f"trained on {res['n_train']} normal rows; scored {res['n_test']} held-out rows "
        f"({res['n_test_anomalies']} anomalies)"
    )
    click.echo(f"AUROC {res['auroc']:.4f}   AUPRC {res['auprc']:.4f}")
    click.echo(
        f"flagged at threshold: {res['flagged_anomaly_rate']:.1%} of anomalies, "
        f"{res['flagged_normal_rate']:.1%} of normal rows"
    )
    click.echo(f"scores written to {res['scores_path']}")
    click.echo(f"score histogram written to {res['plot_path']}")
    click.echo(f"model written to {res['model_path']}")


def main() -> None:
    """Console-script entry point."""
    warnings.filterwarnings("ignore", category=UserWarning, module="pytorch_lightning")
    cli(prog_name="anomalib-ae")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
