"""Dense and convolutional autoencoders (``"ae"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.ae.detector import AutoEncoder
from anomalib_ae.models.ae.network import ConvAutoEncoderNet, DenseAutoEncoderNet

__all__ = ["AutoEncoder", "ConvAutoEncoderNet", "DenseAutoEncoderNet"]
