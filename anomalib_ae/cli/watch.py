"""``anomalib-ae watch DIR --model M --output OUT``: score each new file in a folder exactly once."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path

import click


@click.command("watch")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--model", "-m", "model_path", required=True, type=click.Path(path_type=Path), help="Model file written by `fit`.")
@click.option("--output", "-o", "output", required=True, type=click.Path(path_type=Path), help="Output folder: one records file per input file, plus ledger.jsonl.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True, help="Records file format (JSON lines follow schemas/score_record.schema.json).")
@click.option("--poll-interval", default=1.0, show_default=True, type=float, help="Seconds between folder scans (filesystem events wake it earlier).")
@click.option("--settle", default=1.0, show_default=True, type=float, help="Seconds a file's size and mtime must stay unchanged before it is scored.")
@click.option("--once", is_flag=True, help="Score the files present now (waiting for them to settle), then exit.")
@click.option("--no-events", is_flag=True, help="Poll only; do not use watchdog filesystem events.")
@click.option("--top-k", default=3, show_default=True, type=int, help="Contributing features recorded per flagged item (0: none).")
@click.option("--quiet", "-q", is_flag=True, help="Log warnings only.")
def watch_cmd(folder, model_path, output, fmt, poll_interval, settle, once, no_events, top_k, quiet) -> None:
    """Score every new file (table, image, wav) that lands in FOLDER exactly once, into OUTPUT.

    A file is scored when its size and mtime have been stable for --settle seconds; names of
    temporary files (.*, *.part, *.tmp, *~) are skipped. Each input file gets one output file
    of records (or one error record), written atomically, then a line in OUTPUT/ledger.jsonl,
    so a restart (even after a kill) neither scores a file twice nor skips one. Stop with Ctrl-C.
    """
    from anomalib_ae.io import ModelFileError
    from anomalib_ae.watch import Watcher

    if poll_interval <= 0 or settle < 0:
        raise click.ClickException("--poll-interval must be > 0 and --settle >= 0")
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("anomalib_ae.watch")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    try:
        w = Watcher(folder, model_path, output, format=fmt, poll_interval=poll_interval, settle=settle,
                    use_events=not no_events, top_k=top_k)
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: w.stop())
        if once and not folder.is_dir():
            raise click.ClickException(f"watched folder not found: {folder}")
        w.run(once=once)
    except (ValueError, FileNotFoundError, ModelFileError, TypeError) as exc:
        raise click.ClickException(" ".join(str(exc).split())) from None
    finally:
        logger.removeHandler(handler)
