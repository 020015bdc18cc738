"""``python -m anomalib_ae.cli``: the same as the ``anomalib-ae`` command."""

from anomalib_ae.cli.main import main

main()
