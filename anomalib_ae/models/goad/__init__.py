"""Transformation-classification detector (``"goad"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.goad.detector import GOAD
from anomalib_ae.models.goad.network import TransformClassifierNet

__all__ = ["GOAD", "TransformClassifierNet"]
