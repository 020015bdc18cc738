"""Window autoencoder scored metric by metric (``"winae"``), for telemetry windows.

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.winae.detector import WindowAutoEncoder
from anomalib_ae.models.winae.network import MetricRMSEAutoEncoderNet

__all__ = ["MetricRMSEAutoEncoderNet", "WindowAutoEncoder"]
