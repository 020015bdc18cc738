"""The estimators users see; importing this package registers the built-in detectors."""

from anomalib_ae.detectors.ae import AutoEncoder
from anomalib_ae.detectors.base import BaseDetector

__all__ = ["AutoEncoder", "BaseDetector"]
