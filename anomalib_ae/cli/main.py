"""click commands: list, fit, score, explain, demo.

``fit`` has two paths: ``--detector`` on a plain table (the original behaviour), or
``--config configs/<domain>.yaml`` / ``--kind`` for an adapter + detector pipeline (image
folders, wav/flac folders, telemetry tables, tables); flags override the config.

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
@click.option("--threads", type=int, default=None, envvar="ANOMALIB_AE_THREADS", show_envvar=True,
              help="CPU threads for torch and BLAS (default 1; see docs/alarms.md for the measurement).")
def cli(threads: int | None) -> None:
    """anomalib-ae: fit anomaly detectors on normal data and score new batches."""
    from anomalib_ae.cli.threads import set_threads

    set_threads(threads)


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
@click.option("--config", "-c", "config_path", default=None, type=click.Path(path_type=Path), help="YAML config (configs/*.yaml): adapter, detector, threshold, scoring. Flags below override it.")
@click.option("--kind", type=click.Choice(["tabular", "image", "audio", "telemetry"]), default=None, help="Adapter kind (overrides the config's adapter.kind).")
@click.option("--detector", "-d", default=None, help="Registered detector name (see `anomalib-ae list`).")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Normal training data: a table (CSV, TSV, Parquet, JSONL), an image folder or a wav/flac folder.")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Where to write the model file.")
@click.option("--param", "-p", "params", multiple=True, help="Detector parameter key=value (repeatable), e.g. -p epochs=20.")
@click.option("--adapter-param", "-a", "adapter_params", multiple=True, help="Adapter parameter key=value (repeatable), e.g. -a window=64.")
@click.option("--contamination", type=float, default=None, help="Share of held-out normal items above the threshold (the contamination rule).")
@click.option("--threshold", "-t", "threshold", default=None, help="Threshold rule: fpr:0.01, contamination:0.05, a score, or pythresh:<method> (overrides the config's threshold.rule).")
@click.option("--exclude", "-x", multiple=True, help="Column not to use as a feature (repeatable), e.g. an id or label.")
@click.option("--drop-invalid", is_flag=True, help="Skip rows with missing/non-numeric values (reported) instead of failing.")
@_user_errors
def fit_cmd(config_path, kind, detector, input_path, model_path, params, adapter_params, contamination, threshold, exclude, drop_invalid) -> None:
    """Fit a detector (or an adapter + detector pipeline) on normal data and save it."""
    threshold = _parse_rule(threshold)
    if config_path is not None or kind is not None or adapter_params:
        _fit_pipeline(config_path, kind, detector, input_path, model_path, params, adapter_params, contamination,
                      exclude, threshold)
        return
    import anomalib_ae
    from anomalib_ae.data.tabular import extract_features, numeric_columns, read_table

    if detector is None:
        raise _UserError("--detector is required (see `anomalib-ae list`), or pass --config")
    det_params = _parse_params(params)
    if contamination is not None:
        det_params["contamination"] = contamination
    if threshold is not None and "threshold" in anomalib_ae.get_detector_class(detector)().get_params(deep=False):
        det_params["threshold"] = threshold
    det = anomalib_ae.create(detector, **det_params)
    df = read_table(input_path)
    if len(df) == 0:
        raise _UserError(f"{input_path} has no data rows: nothing to train on")
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
    if threshold is not None and getattr(det, "threshold", None) != threshold:
        det.set_threshold(threshold)
    det.save(model_path)
    click.echo(f"fitted {detector} on {rows.X.shape[0]} rows x {len(columns)} features; threshold {det.threshold_:.6g} "
               f"({_rule_text(det.rule(), det.contamination)})")
    click.echo(f"model written to {model_path}")


def _rule_text(rule, contamination) -> str:
    from anomalib_ae.scoring.threshold import rule_text

    return rule_text(rule, contamination)


def _read_config(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise _UserError(f"config file not found: {path}")
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise _UserError(f"{path}: not valid YAML: {exc}") from None
    if cfg is not None and not isinstance(cfg, dict):
        raise _UserError(f"{path}: a config must be a mapping with adapter/detector/threshold/scoring sections")
    return cfg or {}


def _parse_rule(text):
    """--threshold text -> rule (a number becomes a fixed score); checked before any training."""
    if text is None:
        return None
    from anomalib_ae.scoring.threshold import parse_threshold

    try:
        rule = float(text)
    except ValueError:
        rule = text
    parse_threshold(rule)
    return rule


def _fit_pipeline(config_path, kind, detector, input_path, model_path, params, adapter_params, contamination, exclude,
                  threshold=None) -> None:
    from anomalib_ae.pipeline import pipeline_from_config

    cfg = _read_config(config_path) if config_path is not None else {}
    a_over = _parse_params(adapter_params)
    if exclude:
        a_over["exclude"] = list(exclude)
    pipe = pipeline_from_config(cfg, detector=detector, detector_params=_parse_params(params), adapter_params=a_over,
                                kind=kind, contamination=contamination, threshold=threshold)
    if not input_path.exists():
        raise _UserError(f"input not found: {input_path}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        pipe.fit(input_path)
    for w in caught:
        if "pytorch_lightning" not in str(w.filename) and "lightning" not in str(w.message).lower():
            click.echo(f"warning: {w.message}", err=True)
    pipe.save(model_path)
    click.echo(
        f"fitted {pipe.kind} pipeline ({pipe.detector_._registered_name}) on {pipe.n_train_items_} item(s) from "
        f"{input_path}; threshold {pipe.threshold_:.6g} ({_rule_text(pipe.rule(), pipe._contamination())}, "
        f"calibrated on {len(pipe.calibration_scores_)} {pipe.calibration_method_} item(s))"
    )
    click.echo(f"model written to {model_path}")


@cli.command("score")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Data to score: a table (CSV, TSV, Parquet, JSONL), or for a pipeline model a folder of images / wav / flac files or a telemetry table.")
@click.option("--output", "-o", "output_path", default=None, type=click.Path(path_type=Path), help="Scores file (.csv, .tsv, .parquet or .jsonl); default: CSV on standard output.")
@click.option("--id-column", default=None, help="Column copied to the output as row_id (default: 0-based row number).")
@click.option("--rolling-window", type=int, default=None, help="Telemetry: rolling re-calibration over this many recent timestamps presumed normal, with a drift_warning column.")
@_user_errors
def score_cmd(model_path, input_path, output_path, id_column, rolling_window) -> None:
    """Score every item: one output row per table row, image, clip or timestamp
    (score, p_value, probability, is_anomaly, error; definitions in docs/alarms.md)."""
    import numpy as np
    import pandas as pd

    import anomalib_ae
    from anomalib_ae.data.tabular import extract_features, numeric_columns, read_table, write_table
    from anomalib_ae.pipeline import Pipeline

    det = anomalib_ae.load(model_path)
    if isinstance(det, Pipeline):
        if not input_path.exists():
            raise _UserError(f"input not found: {input_path}")
        if rolling_window is not None:
            det.rolling_window = rolling_window
        res = det.score_items(input_path)
        _write_scores(res.table, output_path)
        n_err = int(res.table["error"].notna().sum())
        what = {"image": "image", "audio": "clip", "telemetry": "timestamp", "tabular": "row"}[det.kind]
        n_flag = int(res.table["is_anomaly"].fillna(False).astype(bool).sum())
        drift = ""
        if "drift_warning" in res.table and res.table["drift_warning"].any():
            drift = f"; drift warning on {int(res.table['drift_warning'].sum())} item(s)"
        click.echo(
            f"scored {len(res.table) - n_err} of {len(res.table)} {what}(s) "
            f"({n_flag} flagged){drift}; {n_err} with errors"
            + (f"; wrote {output_path}" if output_path else ""),
            err=output_path is None,
        )
        return
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
    pval = np.full(n, np.nan)
    proba = np.full(n, np.nan)
    flag = pd.array([pd.NA] * n, dtype="boolean")
    if rows.valid.any():
        Xv = pd.DataFrame(rows.X, columns=columns) if names is not None else rows.X
        s = det.score(Xv)
        score[rows.valid] = s
        from anomalib_ae.scoring.calibration import conformal_p_values

        pval[rows.valid] = conformal_p_values(det.calibration_scores_, s)
        proba[rows.valid] = det.probability_map()(pval[rows.valid])
        flag[rows.valid] = s > det.threshold_
    out = pd.DataFrame(
        {
            "row_id": df[id_column].to_numpy() if id_column else np.arange(n),
            "score": score,
            "p_value": pval,
            "probability": proba,
            "is_anomaly": flag,
            "error": pd.array(rows.errors, dtype="string"),
        }
    )
    _write_scores(out, output_path)
    n_err = int((~rows.valid).sum())
    click.echo(
        f"scored {n - n_err} of {n} rows ({int(np.nansum(score > det.threshold_))} flagged); "
        f"{n_err} row(s) with errors" + (f"; wrote {output_path}" if output_path else ""),
        err=output_path is None,
    )


def _write_scores(table, output_path) -> None:
    from anomalib_ae.data.tabular import write_table

    if output_path is None:
        click.echo(table.to_csv(index=False), nl=False)
    else:
        write_table(table, output_path)


@cli.command("explain")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Data to explain (as for `score`).")
@click.option("--output-dir", "-o", required=True, type=click.Path(path_type=Path), help="Folder for the contribution table and the plots.")
@click.option("--top-k", "-k", default=5, show_default=True, type=int, help="Explain the k highest-scoring items.")
@click.option("--n-features", default=5, show_default=True, type=int, help="Features / metrics / mel bands listed per item.")
@_user_errors
def explain_cmd(model_path, input_path, output_dir, top_k, n_features) -> None:
    """Explain the top-k anomalies: contributions.csv plus heatmap / spectrogram / timeline PNGs."""
    import anomalib_ae
    from anomalib_ae.explain import top_features
    from anomalib_ae.pipeline import Pipeline, from_detector

    if top_k < 1:
        raise _UserError("--top-k must be at least 1")
    if not input_path.exists():
        raise _UserError(f"input not found: {input_path}")
    obj = anomalib_ae.load(model_path)
    pipe = obj if isinstance(obj, Pipeline) else from_detector(obj)
    ex = pipe.explain(input_path, top_k=top_k)
    output_dir.mkdir(parents=True, exist_ok=True)
    res, top = ex["result"], ex["top"]
    written = _explain_plots(pipe, ex, output_dir)
    import pandas as pd

    rows = []
    tops = top_features(ex["contributions"], ex["feature_names"], n_features) if pipe.kind != "image" else [[]] * len(top)
    for rank, (i, feats) in enumerate(zip(top, tops), start=1):
        row = {"rank": rank, **{k: v for k, v in res.table.iloc[i].items() if k not in ("error",)}}
        for j, (name, share) in enumerate(feats, start=1):
            row[f"feature_{j}"] = name
            row[f"share_{j}"] = round(share, 4)
        if pipe.kind == "image":
            m = ex["maps"][rank - 1]
            r, c = divmod(int(m.argmax()), m.shape[1])
            row["peak_row"], row["peak_col"] = r, c
        rows.append(row)
    table = pd.DataFrame(rows)
    table["method"] = ex["method"]
    table.to_csv(output_dir / "contributions.csv", index=False)
    click.echo(f"explained the top {len(top)} of {len(res.table)} item(s) ({ex['method']} attributions)")
    click.echo(f"wrote {output_dir / 'contributions.csv'}" + "".join(f"\nwrote {p}" for p in written))


def _safe_name(text: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(text)).stem)[:60]


def _explain_plots(pipe, ex: dict, out: Path) -> list[Path]:
    """PNG files for the explanation (matplotlib only through anomalib_ae.plots)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from anomalib_ae import plots

    res, top, written = ex["result"], ex["top"], []
    if pipe.kind == "image" and top:
        for k, i in enumerate(top):
            fig, ax = plt.subplots(figsize=(3.2, 3.4))
            name = res.table["path"].iloc[i] if "path" in res.table else str(i)
            plots.plot_anomaly_map(ex["images"][k], ex["maps"][k], ax=ax, title=f"{Path(str(name)).name}\nscore {res.scores[i]:.4g}")
            p = out / f"heatmap_{k + 1:02d}_{_safe_name(name)}.png"
            fig.savefig(p, dpi=100, bbox_inches="tight")
            plt.close(fig)
            written.append(p)
    elif pipe.kind == "audio":
        hop = float(pipe.adapter_.hop_length) / float(pipe.adapter_.sr)
        for k, i in enumerate(top):
            if ex["log_mels"][k] is None:
                continue
            disp = plots.SpectrogramErrorDisplay.from_explanation(ex, k, hop_seconds=hop)
            p = out / f"spectrogram_{k + 1:02d}_{_safe_name(res.table['path'].iloc[i])}.png"
            disp.figure_.savefig(p, dpi=100)
            plt.close(disp.figure_)
            written.append(p)
    elif pipe.kind == "telemetry":
        a = pipe.adapter_
        tab = res.table
        groups = [(None, tab.index.to_numpy())] if a.entity_col is None else list(tab.groupby(a.entity_col, sort=False).groups.items())
        for ent, idx in groups:
            idx = idx[tab[a.timestamp_col].to_numpy()[idx].argsort(kind="stable")]
            disp = plots.TelemetryTimelineDisplay(
                tab[a.timestamp_col].to_numpy()[idx], res.scores[idx], pipe.threshold_, ex["row_contributions"][idx],
                ex["feature_names"], None, 3,
            ).plot()
            p = out / ("timeline.png" if ent is None else f"timeline_{_safe_name(ent)}.png")
            disp.figure_.savefig(p, dpi=100)
            plt.close(disp.figure_)
            written.append(p)
    return written


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


from anomalib_ae.cli.calibrate import calibrate_cmd  # noqa: E402

cli.add_command(calibrate_cmd)


def main() -> None:
    """Console-script entry point."""
    warnings.filterwarnings("ignore", category=UserWarning, module="pytorch_lightning")
    cli(prog_name="anomalib-ae")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
