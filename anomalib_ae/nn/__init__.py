"""Shared torch pieces: the network protocol, building blocks and losses. Never imports Lightning.

Every trainable model used by a detector implements the small protocol of
:class:`anomalib_ae.nn.base.AnomalyModule`: ``loss(x, y=None)`` returns the scalar training
loss of a batch and ``score(x)`` returns one anomaly score per sample (higher = more anomalous).

The networks themselves live with their model family, ``anomalib_ae/models/<family>/network.py``;
they are re-exported here under their names (``anomalib_ae.nn.DeepSVDDNet``), loaded on first use
so that a family's network can import ``nn.base`` without a circle.
"""

from importlib import import_module

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import ConvDecoder, ConvEncoder, mlp

#: network name -> the module of ``anomalib_ae.models`` that defines it
NETWORKS = {
    "DenseAutoEncoderNet": "ae.network",
    "ConvAutoEncoderNet": "ae.network",
    "build_autoencoder": "ae.network",
    "VariationalAutoEncoderNet": "vae.network",
    "CVADNet": "cvad.network",
    "CVADDiscriminatorNet": "cvad.network",
    "MaskedAutoEncoderNet": "mae.network",
    "DeepSVDDNet": "deepsvdd.network",
    "SVDDConvNet": "deepsvdd.network",
    "DeepSVDDAutoEncoderNet": "deepsvdd.pretrain",
    "SVDDConvDecoderNet": "deepsvdd.pretrain",
    "SAGENet": "sage.network",
    "InterpolationNet": "idnn.network",
    "UNet": "riad.network",
    "RIADNet": "riad.network",
    "MetricRMSEAutoEncoderNet": "winae.network",
    "SubspaceNet": "subspace.network",
    "TransformClassifierNet": "goad.network",
}


def __getattr__(name: str):
    if name in NETWORKS:
        return getattr(import_module(f"anomalib_ae.models.{NETWORKS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = ["AnomalyModule", "ConvDecoder", "ConvEncoder", "NETWORKS", "mlp", *NETWORKS]
