"""Masked autoencoder (``"mae"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.mae.detector import MaskedAutoEncoder
from anomalib_ae.models.mae.network import MaskedAutoEncoderNet

__all__ = ["MaskedAutoEncoder", "MaskedAutoEncoderNet"]
