"""Gaussian variational autoencoder (``"vae"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.vae.detector import VariationalAutoEncoder
from anomalib_ae.models.vae.network import VariationalAutoEncoderNet

__all__ = ["VariationalAutoEncoder", "VariationalAutoEncoderNet"]
