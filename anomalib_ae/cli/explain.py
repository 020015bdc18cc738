"""``anomalib-ae explain``: contributions of the top-k items as a table, plus heatmap / spectrogram / timeline PNGs."""

from __future__ import annotations

from pathlib import Path

import click

from anomalib_ae.cli.common import UserError, user_errors


@click.command("explain")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--input", "-i", "input_path", required=True, type=click.Path(path_type=Path), help="Data to explain (as for `score`).")
@click.option("--output-dir", "-o", required=True, type=click.Path(path_type=Path), help="Folder for the contribution table and the plots.")
@click.option("--top-k", "-k", default=5, show_default=True, type=int, help="Explain the k highest-scoring items.")
@click.option("--n-features", default=5, show_default=True, type=int, help="Features / metrics / mel bands listed per item.")
@click.option("--method", default="auto", show_default=True, help="Attribution method: auto, residual, residual_norm, residual_z, occlusion_z, combined, ig, gxi, occlusion, ensemble, zscore (docs/explanations.md).")
@user_errors
def explain_cmd(model_path, input_path, output_dir, top_k, n_features, method) -> None:
    """Explain the top-k anomalies: contributions.csv plus heatmap / spectrogram / timeline PNGs."""
    import pandas as pd

    from anomalib_ae.cli.score import load_as_pipeline
    from anomalib_ae.explain import top_features
    from anomalib_ae.plots.files import save_explanation_figures

    if top_k < 1:
        raise UserError("--top-k must be at least 1")
    if not input_path.exists():
        raise UserError(f"input not found: {input_path}")
    pipe, _ = load_as_pipeline(model_path, input_path)
    ex = pipe.explain(input_path, top_k=top_k, method=method)
    output_dir.mkdir(parents=True, exist_ok=True)
    res = ex.result
    written = save_explanation_figures(ex, output_dir, threshold=pipe.threshold_, **pipe.adapter_.figure_options())
    rows = []
    pixels = ex.kind == "image"
    tops = [[]] * len(ex.top) if pixels else top_features(ex.contributions, ex.feature_names, n_features)
    for rank, (i, feats) in enumerate(zip(ex.top, tops), start=1):
        row = {"rank": rank, **{k: v for k, v in res.table.iloc[i].items() if k not in ("error",)}}
        for j, (name, share) in enumerate(feats, start=1):
            row[f"feature_{j}"] = name
            row[f"share_{j}"] = round(share, 4)
        if pixels:
            m = ex.attributions[rank - 1]
            r, c = divmod(int(m.argmax()), m.shape[1])
            row["peak_row"], row["peak_col"] = r, c
        rows.append(row)
    table = pd.DataFrame(rows)
    table["method"] = ex.method
    table.to_csv(output_dir / "contributions.csv", index=False)
    click.echo(f"explained the top {len(ex.top)} of {len(res.table)} item(s) ({ex.method} attributions)")
    click.echo(f"wrote {output_dir / 'contributions.csv'}" + "".join(f"\nwrote {p}" for p in written))
