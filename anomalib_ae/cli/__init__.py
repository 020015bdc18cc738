"""The ``anomalib-ae`` command line."""

from anomalib_ae.cli.main import cli, main

__all__ = ["cli", "main"]
