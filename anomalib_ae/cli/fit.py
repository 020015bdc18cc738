"""``anomalib-ae fit``: a detector on a plain table, or an adapter + detector pipeline from a config."""

from __future__ import annotations

import warnings
from pathlib import Path

import click

from anomalib_ae.cli.common import UserError, parse_params, parse_rule, read_config, rule_text, user_errors
from anomalib_ae.cli.source_input import INPUT, resolve_cli_input, source_options


@click.command("fit")
@click.option("--config", "-c", "config_path", default=None, type=click.Path(path_type=Path), help="YAML config (configs/*.yaml): adapter, detector, threshold, scoring. Flags below override it.")
@click.option("--kind", type=click.Choice(["tabular", "image", "audio", "telemetry"]), default=None, help="Adapter kind (overrides the config's adapter.kind).")
@click.option("--detector", "-d", default=None, help="Registered detector name (see `anomalib-ae list`).")
@click.option("--input", "-i", "input_path", required=True, type=INPUT, help="Normal training data: a table (CSV, TSV, Parquet file or folder, JSONL), a .npy array, an image / DICOM / NIfTI folder, an audio folder, or prometheus://HOST:PORT. Deep detectors train from .npy and Parquet out of core.")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Where to write the model file.")
@click.option("--param", "-p", "params", multiple=True, help="Detector parameter key=value (repeatable), e.g. -p epochs=20.")
@click.option("--adapter-param", "-a", "adapter_params", multiple=True, help="Adapter parameter key=value (repeatable), e.g. -a window=64.")
@click.option("--contamination", type=float, default=None, help="Share of held-out normal items above the threshold (the contamination rule).")
@click.option("--threshold", "-t", default=None, help="Threshold rule: fpr:0.01, contamination:0.05, a score, or pythresh:<method> (overrides the config's threshold.rule).")
@click.option("--exclude", "-x", multiple=True, help="Column not to use as a feature (repeatable), e.g. an id or label.")
@click.option("--drop-invalid", is_flag=True, help="Skip rows with missing/non-numeric values (reported) instead of failing.")
@source_options
@user_errors
def fit_cmd(config_path, kind, detector, input_path, model_path, params, adapter_params, contamination, threshold,
            exclude, drop_invalid, queries, start, end, step, entity_label) -> None:
    """Fit a detector (or an adapter + detector pipeline) on normal data and save it."""
    source = (queries, start, end, step, entity_label)
    threshold = parse_rule(threshold)
    if config_path is not None or kind is not None or adapter_params or isinstance(input_path, str):
        _fit_pipeline(config_path, kind, detector, input_path, model_path, params, adapter_params, contamination, exclude,
                      source, threshold)
        return
    _fit_table_detector(detector, input_path, model_path, params, contamination, exclude, drop_invalid, threshold)


def _fit_table_detector(detector, input_path, model_path, params, contamination, exclude, drop_invalid,
                        threshold=None) -> None:
    """A bare detector on a plain table's numeric columns (the tabular adapter reads the table), or
    on a ``.npy`` / Parquet input, out of core where the detector can (:mod:`anomalib_ae.cli.fit_disk`)."""
    from anomalib_ae.cli.fit_disk import fit_from_disk
    from anomalib_ae.registry import create, get_detector_class

    if detector is None:
        raise UserError("--detector is required (see `anomalib-ae list`), or pass --config")
    det_params = parse_params(params)
    if contamination is not None:
        det_params["contamination"] = contamination
    if threshold is not None and "threshold" in get_detector_class(detector)().get_params(deep=False):
        det_params["threshold"] = threshold
    det = create(detector, **det_params)
    disk = fit_from_disk(det, detector, Path(input_path), exclude, drop_invalid)
    if disk is not None:
        rows, features = disk.rows, disk.features
        source = "memory-mapped from" if input_path.suffix.lower() == ".npy" else "streamed from"
        how = f" out of core ({source} {input_path})" if disk.out_of_core else ""
    else:
        rows, features = _fit_on_table(det, input_path, exclude, drop_invalid)
        how = ""
    if threshold is not None and getattr(det, "threshold", None) != threshold:
        det.set_threshold(threshold)
    det.save(model_path)
    click.echo(f"fitted {detector} on {rows} rows x {features} features{how}; threshold {det.threshold_:.6g}"
               f" ({rule_text(det.rule(), det.contamination)})")
    click.echo(f"model written to {model_path}")


def _fit_on_table(det, input_path, exclude, drop_invalid) -> tuple[int, int]:
    """Read the table whole, keep its numeric columns, fit; returns (rows, features)."""
    from anomalib_ae.adapters import TabularAdapter
    from anomalib_ae.cli.fit_disk import read_training_table

    df = read_training_table(Path(input_path))
    if len(df) == 0:
        raise UserError(f"{input_path} has no data rows: nothing to train on")
    missing = [c for c in exclude if c not in df.columns]
    if missing:
        raise UserError(f"--exclude names column(s) not in {input_path}: {', '.join(missing)}")
    adapter = TabularAdapter(exclude=list(exclude), dtype="float64")
    try:
        f = adapter.fit_transform(df)
    except ValueError as exc:
        raise UserError(f"{input_path}: {exc}") from None
    bad = [(i, e) for i, e in enumerate(f.errors) if e is not None]
    if bad:
        msg = f"{len(bad)} training row(s) have unusable values (first: row {bad[0][0]}: {bad[0][1]})"
        if not drop_invalid:
            raise UserError(msg + "; fix them or pass --drop-invalid")
        click.echo(f"warning: skipped {msg}", err=True)
    det.fit(adapter.detector_input(f.X))
    return f.X.shape[0], len(adapter.columns_)


def _fit_pipeline(config_path, kind, detector, input_path, model_path, params, adapter_params, contamination, exclude,
                  source=((), None, None, None, None), threshold=None) -> None:
    from anomalib_ae.detectors.state import registered_name
    from anomalib_ae.pipeline import pipeline_from_config

    cfg = read_config(config_path) if config_path is not None else {}
    data, a_over = resolve_cli_input(input_path, cfg, *source)  # a prometheus:// input is read into a table here
    if a_over and kind is None and not cfg:
        kind = "telemetry"
    a_over.update(parse_params(adapter_params))
    if exclude:
        a_over["exclude"] = list(exclude)
    pipe = pipeline_from_config(cfg, detector=detector, detector_params=parse_params(params), adapter_params=a_over,
                                kind=kind, contamination=contamination, threshold=threshold)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        pipe.fit(data)
    for w in caught:
        if "pytorch_lightning" not in str(w.filename) and "lightning" not in str(w.message).lower():
            click.echo(f"warning: {w.message}", err=True)
    pipe.save(model_path)
    click.echo(
        f"fitted {pipe.kind} pipeline ({registered_name(pipe.detector_)}) on {pipe.n_train_items_} item(s) from "
        f"{input_path}; threshold {pipe.threshold_:.6g} ({rule_text(pipe.rule(), pipe.contamination_())}, calibrated "
        f"on {len(pipe.calibration_scores_)} {pipe.calibration_method_} item(s))"
    )
    click.echo(f"model written to {model_path}")
