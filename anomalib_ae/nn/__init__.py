"""Pure torch building blocks: networks and losses. Never imports Lightning or numpy I/O.

Every trainable model used by a detector implements the small protocol of
:class:`anomalib_ae.nn.base.AnomalyModule`: ``loss(x, y=None)`` returns the scalar training
loss of a batch and ``score(x)`` returns one anomaly score per sample (higher = more anomalous).
"""

from anomalib_ae.nn.autoencoder import ConvAutoEncoder, DenseAutoEncoder, build_autoencoder
from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp

__all__ = [
    "AnomalyModule",
    "ConvAutoEncoder",
    "ConvDecoder",
    "ConvEncoder",
    "DenseAutoEncoder",
    "build_autoencoder",
    "mlp",
]
