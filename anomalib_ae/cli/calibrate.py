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

from anomalib_ae.cli.main import _parse_rule, _rule_text, _user_errors, _UserError


def _labels_for(pipe_or_det, input_path: Path, labels: str, table=None):
    import numpy as np
    import pandas as pd

    if table is not None and labels in table.columns:
        return table[labels].to_numpy(dtype=np.float64)
    lp = Path(labels)
    if not lp.is_file():
        raise _UserError(f"--labels {labels!r} is neither a column of {input_path} nor a CSV file")
    lab = pd.read_csv(lp)
    if not {"path", "label"} <= set(lab.columns):
        raise _UserError(f"{lp} needs the columns path and label (1 = anomaly, 0 = normal)")
    return lab


@click.command("calibrate")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Fresh normal data (as for `score`), or labelled data with --labels.")
@click.option("--threshold", "-t", default=None, help="Threshold rule to resolve on the new calibration scores (default: the model's rule).")
@click.option("--output", "-o", "output_path", default=None, type=click.Path(path_type=Path), help="Where to write the re-calibrated model (default: overwrite --model).")
@click.option("--labels", default=None, help="Fit the probability map instead: a label column of the input table, or a CSV with path,label.")
@click.option("--method", type=click.Choice(["platt", "isotonic"]), default="platt", show_default=True, help="Probability map with --labels.")
@click.option("--prior", type=float, default=None, help="Share of anomalies the probabilities assume (default: the labelled share).")
@_user_errors
def calibrate_cmd(model_path, input_path, threshold, output_path, labels, method, prior) -> None:
    """Re-calibrate a fitted model on fresh normal data (threshold, p-values), or fit its probability map on labelled data."""
    import numpy as np
    import pandas as pd

    import anomalib_ae
    from anomalib_ae.data.tabular import extract_features, read_table
    from anomalib_ae.pipeline import Pipeline

    if not input_path.exists():
        raise _UserError(f"input not found: {input_path}")
    rule = "keep" if threshold is None else _parse_rule(threshold)
    obj = anomalib_ae.load(model_path)
    out = output_path or model_path
    if isinstance(obj, Pipeline):
        if labels is not None:
            table = read_table(input_path) if obj.kind in ("tabular", "telemetry") else None
            y = _labels_for(obj, input_path, labels, table)
            if isinstance(y, pd.DataFrame):
                res_paths = obj.score_items(input_path).table["path"].map(lambda p: str(Path(p).resolve()))
                m = dict(zip(y["path"].map(lambda p: str((input_path / p).resolve() if not Path(p).is_absolute()
                                                         else Path(p).resolve())), y["label"]))
                missing = [p for p in res_paths if p not in m]
                if missing:
                    raise _UserError(f"{len(missing)} file(s) have no label in {labels} (first: {missing[0]})")
                y = np.array([m[p] for p in res_paths], dtype=np.float64)
            obj.calibrate_probability(input_path, y, method=method, prior=prior)
            what = obj.probability_map().describe()
        else:
            obj.calibrate(input_path, threshold=rule)
            what = (f"threshold {obj.threshold_:.6g} ({_rule_text(obj.rule(), obj._contamination())}) from "
                    f"{len(obj.calibration_scores_)} item(s)")
        obj.save(out)
    else:
        df = read_table(input_path)
        names = getattr(obj, "feature_names_in_", None)
        columns = [str(c) for c in names] if names is not None else [
            c for c in df.columns if c != labels and pd.api.types.is_numeric_dtype(df[c])]
        rows = extract_features(df, columns)
        if not rows.valid.any():
            raise _UserError(f"no usable row in {input_path}")
        X = pd.DataFrame(rows.X, columns=columns) if names is not None else rows.X
        if labels is not None:
            if labels not in df.columns:
                raise _UserError(f"--labels {labels!r} is not a column of {input_path}")
            obj.calibrate_probability(X, df[labels].to_numpy(dtype=np.float64)[rows.valid], method=method, prior=prior)
            what = obj.probability_map().describe()
        else:
            obj.calibrate(X, threshold=rule)
            what = (f"threshold {obj.threshold_:.6g} ({_rule_text(obj.rule(), obj.contamination)}) "
                    f"from {int(rows.valid.sum())} row(s)")
        obj.save(out)
    click.echo(f"calibrated {model_path}: {what}")
    click.echo(f"model written to {out}")
