"""Cascade VAE with a discriminator, CVAD (``"cvad"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.cvad.detector import CVAD
from anomalib_ae.models.cvad.network import CVADNet, CVADDiscriminatorNet

__all__ = ["CVAD", "CVADDiscriminatorNet", "CVADNet"]
