"""SAGE: latent k-NN, reconstruction and task-loss signals (``"sage"``).

``network.py``: the torch network (pure torch, no Lightning); ``detector.py``: the estimator.
"""

from anomalib_ae.models.sage.detector import SAGE
from anomalib_ae.models.sage.network import SAGENet

__all__ = ["SAGE", "SAGENet"]
