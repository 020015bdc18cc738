"""Reconstruction by inpainting (``"riad"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.riad.detector import RIAD
from anomalib_ae.models.riad.network import RIADNet

__all__ = ["RIAD", "RIADNet"]
