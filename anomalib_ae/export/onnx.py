"""Export a fitted deep detector's scoring graph to ONNX, standardiser included.

The exported graph takes the raw input in the detector's model layout (float32 ``(n, d)``
vectors, ``(n, T, d)`` windows or ``(n, C, H, W)`` images, exactly what ``score`` takes after
channels-last images are transposed) and returns one float per sample: the same score as
:meth:`~anomalib_ae.detectors.base.BaseDetector.score`, within float32 rounding.

Supported: ``ae`` (``score_type="mse"``), ``vae`` (every ``score_type``; the seeded noise of
the sampled scores is a constant of the graph) and ``deepsvdd`` / ``deepsad``. Other
detectors raise :class:`ExportError` naming why.

>>> det.export_onnx("ae.onnx")                                    # doctest: +SKIP
>>> import onnxruntime as ort
>>> sess = ort.InferenceSession("ae.onnx")
>>> sess.run(None, {"x": X.astype("float32")})[0]                 # scores, shape (n,)
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

__all__ = ["ExportError", "EXPORTABLE", "export_onnx"]

#: Registered detector names whose scoring graph can be exported.
EXPORTABLE = ("ae", "vae", "deepsvdd", "deepsad", "goad")


class ExportError(ValueError):
    """The detector (or this configuration of it) has no exportable scoring graph."""


class _ConstantNoise(nn.Module):
    """Replaces a VAE's seeded noise generator by the constant it always produces."""

    def __init__(self, eps: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("eps", eps)


class ScoringGraph(nn.Module):
    """``score(standardize(x))`` as one traceable module."""

    def __init__(self, module: nn.Module, mean: np.ndarray, scale: np.ndarray, noise: torch.Tensor | None = None):
        super().__init__()
        self.module = module
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, dtype=np.float32)))
        self.noise = None if noise is None else _ConstantNoise(noise)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        xs = (x - self.mean) / self.scale
        if self.noise is None:
            return self.module.score(xs)
        if self.module.score_type == "beta-elbo":
            return self.module.beta_loss(xs, self.noise.eps)
        log_w = self.module.log_weights(xs, self.noise.eps)
        if self.module.score_type == "elbo":
            return -log_w.mean(dim=0)
        return -(torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0]))


def _graph_for(det) -> ScoringGraph:
    name = getattr(type(det), "_registered_name", type(det).__name__)
    if name not in EXPORTABLE:
        raise ExportError(
            f"{name!r} cannot be exported to ONNX: only {list(EXPORTABLE)} have a single scoring network "
            "(PyOD detectors, ensembles and the multi-stage cvad / mae / sage score outside one graph)"
        )
    if not hasattr(det, "module_"):
        raise ExportError(f"{name!r} is not fitted; call fit(...) before export_onnx")
    module = det.module_
    if name == "ae" and getattr(det, "score_type", "mse") != "mse":
        raise ExportError("ae with score_type='ssim' cannot be exported (its windowed SSIM is not in the graph); "
                          "use score_type='mse'")
    noise = None
    if name == "vae" and module.score_type in ("elbo", "iwae", "beta-elbo"):
        probe = torch.zeros((1, *det.model_shape_))
        noise = module._noise(probe, int(module.n_samples)).detach().clone()
    return ScoringGraph(module, det.mean_, det.scale_, noise)


def export_onnx(det, path: str | os.PathLike, *, opset: int = 17) -> Path:
    """Write the scoring graph of fitted ``det`` to ``path`` (atomically); returns the path.

    The graph's input is named ``x`` with a dynamic batch axis, its output ``score``.

    Raises
    ------
    ExportError
        The detector is not fitted or has no exportable scoring graph.
    """
    graph = _graph_for(det).to("cpu").eval()
    for p in graph.parameters():
        p.requires_grad_(False)
    example = torch.zeros((2, *det.model_shape_), dtype=torch.float32)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(
                graph,
                (example,),
                str(tmp),
                input_names=["x"],
                output_names=["score"],
                dynamic_axes={"x": {0: "n"}, "score": {0: "n"}},
                opset_version=opset,
                dynamo=False,
            )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path
