"""The ``anomalib-ae`` command line."""

from anomalib_ae.cli.main import cli, main
from anomalib_ae.cli import report as _report  # noqa: F401,E402  (registers `report`)

__all__ = ["cli", "main"]
