"""``anomalib-ae pull``: re-score the latest window from Prometheus every N seconds and serve /metrics."""

from __future__ import annotations

import time
from pathlib import Path

import click

from anomalib_ae.cli.source_input import parse_queries

__all__ = ["pull_cmd"]


@click.command("pull")
@click.option("--config", "-c", "config_path", required=True, type=click.Path(path_type=Path),
              help="Config with the data: section (source, queries, entity_label, step, lookback).")
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path),
              help="Telemetry model written by `fit` on the same queries.")
@click.option("--input", "-i", "source", default=None, help="prometheus://HOST:PORT (default: the config's data.source).")
@click.option("--query", "-q", "queries", multiple=True, help="name=PROMQL (repeatable); replaces data.queries.")
@click.option("--step", default=None, help="Resolution of the range queries (default: data.step).")
@click.option("--lookback", default=None, help="How far back each pull reads (default: data.lookback, else two windows).")
@click.option("--every", default=30.0, show_default=True, type=float, help="Seconds between pulls.")
@click.option("--port", default=9109, show_default=True, type=int, help="Port of the /metrics endpoint (0 = any free port).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the /metrics endpoint.")
@click.option("--iterations", default=0, type=int, help="Stop after this many pulls (0 = run until interrupted).")
def pull_cmd(config_path, model_path, source, queries, step, lookback, every, port, host, iterations) -> None:
    """Pull mode: Prometheus -> detector -> /metrics (scrape it back into Prometheus for Grafana)."""
    import anomalib_ae
    from anomalib_ae.cli.common import UserError as _UserError
    from anomalib_ae.cli.common import read_config as _read_config
    from anomalib_ae.io import ModelFileError
    from anomalib_ae.sources import source_from_config
    from anomalib_ae.sources.pull import PullScorer

    if every <= 0:
        raise _UserError("--every must be positive")
    try:
        from prometheus_client import start_http_server
    except ImportError:
        raise _UserError("pull needs prometheus-client: pip install 'anomalib_ae[serve]'") from None
    try:
        cfg = _read_config(config_path)
        data = cfg.get("data") or {}
        src = source_from_config(data, url=source, queries=parse_queries(queries) or None, step=step)
        pipe = anomalib_ae.load(model_path)
        scorer = PullScorer(pipe, src, lookback=lookback if lookback is not None else data.get("lookback"))
        first = scorer.pull()  # configuration errors end here, before anything is served
    except (ValueError, FileNotFoundError, ModelFileError, TypeError, KeyError) as exc:
        raise _UserError(str(exc)) from None
    server, _ = start_http_server(port, addr=host, registry=scorer.registry)
    click.echo(f"pulling {', '.join(src.queries)} from {src.url} every {every:g} s (lookback {scorer.lookback:g} s); "
               f"metrics on http://{host}:{server.server_port}/metrics", err=True)
    _report(first)
    n = 1
    try:
        while not iterations or n < iterations:
            time.sleep(every)
            n += 1
            try:
                _report(scorer.pull())
            except Exception as exc:  # noqa: BLE001 - keep serving; the error is counted and shown
                click.echo(f"warning: pull {n} failed: {' '.join(str(exc).split())}", err=True)
        if iterations:
            time.sleep(every)  # one more interval for a scraper to see the last result
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


def _report(res) -> None:
    worst = max(res.latest.items(), key=lambda kv: kv[1][1], default=None)
    tail = f"; highest probability {worst[0]} {worst[1][1]:.3f}" if worst else ""
    click.echo(f"scored {res.n_new} new timestamp(s) ({res.n_new_anomalies} flagged) of {len(res.latest)} "
               f"entit{'y' if len(res.latest) == 1 else 'ies'}{tail}", err=True)
