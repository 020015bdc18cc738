"""Deep SVDD and Deep SAD (``"deepsvdd"``, ``"deepsad"``).

``network.py``: the bias-free network (pure torch, no Lightning); ``pretrain.py``: the autoencoder
that pre-trains it; ``detector.py``: the estimators.
"""

from anomalib_ae.models.deepsvdd.detector import DeepSAD, DeepSVDD
from anomalib_ae.models.deepsvdd.network import DeepSVDDNet, SVDDConvNet
from anomalib_ae.models.deepsvdd.pretrain import DeepSVDDAutoEncoderNet, SVDDConvDecoderNet

__all__ = ["DeepSAD", "DeepSVDD", "DeepSVDDAutoEncoderNet", "DeepSVDDNet", "SVDDConvDecoderNet", "SVDDConvNet"]
