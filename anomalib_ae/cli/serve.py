"""``anomalib-ae serve``: the HTTP scoring service with Prometheus metrics and a live page."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("serve")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Model file written by `fit` (a detector or a pipeline: table, telemetry, image, audio).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind. The default answers only this machine; use 0.0.0.0 deliberately.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="TCP port.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Scoring threads (each runs torch with one thread).")
@click.option("--max-body-mb", default=32.0, show_default=True, type=click.FloatRange(min=0.001),
              help="Largest request body; larger ones get 413.")
@click.option("--max-entities", default=100, show_default=True, type=click.IntRange(1),
              help="Entity labels on the per-entity metrics (more go to `_other`).")
@click.option("--log-level", default="info", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
def serve_cmd(model_path, host, port, workers, max_body_mb, max_entities, log_level) -> None:
    """Serve a model over HTTP: POST /score, GET /metrics (Prometheus), GET /health, GET / (live page)."""
    try:
        import uvicorn

        from anomalib_ae.serve import create_app
    except ImportError as exc:
        raise click.ClickException(f"serve needs the serve extra: pip install 'anomalib_ae[serve]' ({exc})") from None
    from anomalib_ae.io import ModelFileError

    try:
        app = create_app(model_path, max_body_bytes=int(max_body_mb * 1024 * 1024), workers=workers,
                         max_entities=max_entities)
    except (ModelFileError, ValueError, FileNotFoundError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"serving {model_path} on http://{host}:{port}/ (metrics at /metrics)", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False, timeout_graceful_shutdown=5)
