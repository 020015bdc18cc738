"""The ``anomalib-ae`` command group: list, fit, score, explain, demo, calibrate.

``fit`` has two paths: ``--detector`` on a plain table (a bare detector), or
``--config configs/<domain>.yaml`` / ``--kind`` for an adapter + detector pipeline (image
folders, wav/flac folders, telemetry tables, tables); flags override the config. Scoring and
explaining go through :class:`~anomalib_ae.pipeline.Pipeline` for both.

User errors (missing file, unknown detector, wrong columns, bad model file) end with one
``Error: ...`` line and exit code 1 or 2, never a traceback.

Adding a command: write it in its own module of this package as a ``click.command`` and
register it in the block "Commands" below with ``cli.add_command(...)``.
"""

from __future__ import annotations

import sys
import warnings

import click

from anomalib_ae.cli.calibrate import calibrate_cmd
from anomalib_ae.cli.demo import demo_cmd
from anomalib_ae.cli.explain import explain_cmd
from anomalib_ae.cli.fit import fit_cmd
from anomalib_ae.cli.pull import pull_cmd
from anomalib_ae.cli.report import report_cmd
from anomalib_ae.cli.score import score_cmd
from anomalib_ae.cli.serve import serve_cmd
from anomalib_ae.cli.watch import watch_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="anomalib_ae")
@click.option("--threads", type=int, default=None, envvar="ANOMALIB_AE_THREADS", show_envvar=True,
              help="CPU threads for torch and BLAS (default 1; see docs/alarms.md).")
def cli(threads: int | None) -> None:
    """anomalib-ae: fit anomaly detectors on normal data and score new batches."""
    from anomalib_ae.cli.threads import set_threads

    set_threads(threads)


@click.command("list")
@click.option("--include", default=None, help="Only names containing this text.")
def list_cmd(include: str | None) -> None:
    """List the registered detectors."""
    from anomalib_ae.registry import get_detector_class, list_detectors

    for name in list_detectors(include):
        cls = get_detector_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        click.echo(f"{name:<20} {doc[0] if doc else ''}")


# ---------------------------------------------------------------------- Commands (add new ones here)
cli.add_command(list_cmd)
cli.add_command(fit_cmd)
cli.add_command(score_cmd)
cli.add_command(explain_cmd)
cli.add_command(demo_cmd)
cli.add_command(report_cmd)
cli.add_command(pull_cmd)
cli.add_command(serve_cmd)
cli.add_command(watch_cmd)
cli.add_command(calibrate_cmd)


def main() -> None:
    """Console-script entry point."""
    warnings.filterwarnings("ignore", category=UserWarning, module="pytorch_lightning")
    cli(prog_name="anomalib-ae")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
