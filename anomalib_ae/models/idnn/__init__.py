"""Interpolation autoencoder, IDNN (``"idnn"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.idnn.detector import InterpolationDNN
from anomalib_ae.models.idnn.network import InterpolationNet

__all__ = ["InterpolationDNN", "InterpolationNet"]
