"""Projection onto the training span (``"subspace"``), per-value residual maps.

``network.py``: the fitted projection as a torch module; ``detector.py``: the estimator (closed-form fit).
"""

from anomalib_ae.models.subspace.detector import Subspace
from anomalib_ae.models.subspace.network import SubspaceNet

__all__ = ["Subspace", "SubspaceNet"]
