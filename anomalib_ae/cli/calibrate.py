"""``anomalib-ae calibrate``: re-calibrate a fitted model on fresh data without refitting.

* ``--input normal_data``: the calibration scores become the scores of these normal items
  and the threshold rule (``--threshold`` or the model's own) is resolved on them; what a
  plant does after a maintenance shift. Scores never change, thresholds and p-values do.
* ``--labels``: the input is labelled (1 = anomaly, 0 = normal) and fits the map from
  p-values to ``probability`` (Platt or isotonic; see :mod:`anomalib_ae.scoring.probability`);
  the threshold is left as it is. ``--labels`` names a column of a table input, or a CSV
  file with ``path`` and ``label`` columns for image / audio folders.
"""

from __future__ import annotations

from pathlib import Path

import click

from anomalib_ae.cli.common import UserError, parse_rule, rule_text, user_errors

#: Fewest usable items a threshold and p-values are re-calibrated on (a quantile needs two values).
MIN_CALIBRATION_ITEMS = 2


def _check_enough(n_used: int, input_path: Path) -> None:
    if n_used < MIN_CALIBRATION_ITEMS:
        raise UserError(f"too few usable items in {input_path} to calibrate on: {n_used}; at least "
                        f"{MIN_CALIBRATION_ITEMS} are needed (the model was not changed)")


def _skipped(n_in: int, n_used: int, errors=None) -> str:
    """``; k row(s) skipped (first: row i: reason)`` when rows could not be used, else ``""``."""
    if n_in <= n_used:
        return ""
    first = ""
    if errors:
        i, why = next(iter(errors.items())) if isinstance(errors, dict) else errors[0]
        first = f" (first: row {i}: {why})"
    return f"; {n_in - n_used} row(s) skipped{first}"


def _file_labels(table, input_path: Path, labels: str):
    """Labels of image / audio items from a CSV with path,label (paths relative to the input folder or absolute)."""
    import numpy as np
    import pandas as pd

    lp = Path(labels)
    if not lp.is_file():
        raise UserError(f"--labels {labels!r} is neither a column of {input_path} nor a CSV file")
    lab = pd.read_csv(lp)
    if not {"path", "label"} <= set(lab.columns):
        raise UserError(f"{lp} needs the columns path and label (1 = anomaly, 0 = normal)")
    base = input_path if input_path.is_dir() else input_path.parent
    known = {str((Path(p) if Path(p).is_absolute() else base / p).resolve()): v for p, v in zip(lab["path"], lab["label"])}
    got = [str(Path(p).resolve()) for p in table["path"]]
    missing = [p for p in got if p not in known]
    if missing:
        raise UserError(f"{len(missing)} file(s) have no label in {labels} (first: {missing[0]})")
    return np.array([known[p] for p in got], dtype=np.float64)


@click.command("calibrate")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Fresh normal data (as for `score`), or labelled data with --labels.")
@click.option("--threshold", "-t", default=None, help="Threshold rule to resolve on the new calibration scores (default: the model's rule).")
@click.option("--output", "-o", "output_path", default=None, type=click.Path(path_type=Path), help="Where to write the re-calibrated model (default: overwrite --model).")
@click.option("--labels", default=None, help="Fit the probability map instead: a label column of the input table, or a CSV with path,label.")
@click.option("--method", type=click.Choice(["platt", "isotonic"]), default="platt", show_default=True, help="Probability map with --labels.")
@click.option("--prior", type=float, default=None, help="Share of anomalies the probabilities assume (default: the labelled share).")
@user_errors
def calibrate_cmd(model_path, input_path, threshold, output_path, labels, method, prior) -> None:
    """Re-calibrate a fitted model on fresh normal data (threshold, p-values), or fit its probability map on labelled data."""
    import numpy as np

    from anomalib_ae.cli.score import load_as_pipeline
    from anomalib_ae.data.tabular import read_table

    if not input_path.exists():
        raise UserError(f"input not found: {input_path}")
    rule = "keep" if threshold is None else parse_rule(threshold)
    pipe, bare = load_as_pipeline(model_path, input_path)
    out = output_path or model_path
    from anomalib_ae.outputs import check_not_input

    check_not_input(out, input_path)  # never write the model over the calibration data
    table = read_table(input_path) if (bare or pipe.kind in ("tabular", "telemetry")) else None
    if labels is not None and table is not None and labels not in table.columns:
        raise UserError(f"--labels {labels!r} is not a column of {input_path}")
    if bare:  # a bare detector stays a bare detector
        det = pipe.detector_
        f = pipe.adapter_.transform(table)
        if not f.valid.any():
            raise UserError(f"no usable row in {input_path}")
        _check_enough(int(f.valid.sum()), input_path)
        X = pipe.adapter_.detector_input(f.X)
        if labels is not None:
            det.calibrate_probability(X, table[labels].to_numpy(dtype=np.float64)[f.valid], method=method, prior=prior)
            what = det.probability_map().describe()
        else:
            det.calibrate(X, threshold=rule)
            errs = {i: e for i, e in enumerate(f.errors) if e} if isinstance(f.errors, list) else f.errors
            what = (f"threshold {det.threshold_:.6g} ({rule_text(det.rule(), det.contamination)}) from "
                    f"{int(f.valid.sum())} row(s){_skipped(len(table), int(f.valid.sum()), errs)}")
        det.save(out)
    else:
        if labels is not None:
            if table is not None:
                y = table[labels].to_numpy(dtype=np.float64)
            else:
                y = _file_labels(pipe.score_items(input_path).table, input_path, labels)
            pipe.calibrate_probability(input_path, y, method=method, prior=prior)
            what = pipe.probability_map().describe()
        else:
            pipe.calibrate(input_path, threshold=rule)
            n_used = len(pipe.calibration_scores_)
            _check_enough(n_used, input_path)
            what = (f"threshold {pipe.threshold_:.6g} ({rule_text(pipe.rule(), pipe.contamination_())}) from "
                    f"{n_used} item(s){_skipped(len(table), n_used) if table is not None else ''}")
        pipe.save(out)
    click.echo(f"calibrated {model_path}: {what}")
    click.echo(f"model written to {out}")
