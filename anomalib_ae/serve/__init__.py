"""The scoring service (``anomalib-ae serve``): HTTP scoring, Prometheus metrics and a live page.

Needs the ``serve`` extra: ``pip install "anomalib_ae[serve]"``.
"""

from anomalib_ae.serve.app import create_app

__all__ = ["create_app"]
