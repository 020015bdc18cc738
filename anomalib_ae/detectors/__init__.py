"""The estimators users see; importing this package registers the built-in detectors."""

from anomalib_ae.detectors.ae import AutoEncoder
from anomalib_ae.detectors.base import BaseDetector

__all__ = ["AutoEncoder", "BaseDetector"]
from anomalib_ae.detectors.cvad import CVAD
from anomalib_ae.detectors.deepsvdd import DeepSAD, DeepSVDD
from anomalib_ae.detectors.mae import MaskedAutoEncoder
from anomalib_ae.detectors.vae import VariationalAutoEncoder

__all__ += ["CVAD", "DeepSAD", "DeepSVDD", "MaskedAutoEncoder", "VariationalAutoEncoder"]
from anomalib_ae.detectors import pyod as _pyod  # noqa: E402,F401  (registers "pyod.*")
from anomalib_ae.detectors.ensemble import Ensemble  # noqa: E402
from anomalib_ae.detectors import sage as _sage  # noqa: E402,F401  (registers "sage")
