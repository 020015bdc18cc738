"""Images (a folder, a list of files or an array): one item per image."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from anomalib_ae.adapters.base import Adapter, Features
from anomalib_ae.explain.attributions import feature_contributions
from anomalib_ae.explain.types import Explanation

__all__ = ["ImageAdapter"]


def image_paths(data) -> list[str]:
    """The image files of a folder (recursively), a file or a list of files."""
    from anomalib_ae.data import list_image_files

    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if p.is_dir():
            files = [str(f) for f in list_image_files(p)]
            if not files:
                raise ValueError(f"no image file (png, jpg, jpeg, bmp, tif, tiff) found in {str(p)!r}")
            return files
        if not p.exists():
            raise FileNotFoundError(f"input not found: {str(p)!r}")
        return [str(p)]
    return [str(x) for x in data]


class ImageAdapter(Adapter):
    """Images -> ``(n, H, W)`` / ``(n, C, H, W)`` float32 arrays (:class:`~anomalib_ae.data.ImagePreprocessor`).

    Parameters
    ----------
    size, mode
        As :class:`~anomalib_ae.data.ImagePreprocessor` (fixed at fit in ``reader_``).

    Training on a folder with a ``good/`` sub-folder uses ``good/`` only. Files that cannot
    be read are skipped with a warning at fit and get an ``error`` at score time.
    """

    kind = "image"

    def __init__(self, size=None, mode="L"):
        self.size = size
        self.mode = mode

    def _new_reader(self):
        from anomalib_ae.data import ImagePreprocessor

        return ImagePreprocessor(size=self.size, mode=self.mode)

    def fit_transform(self, data, y=None) -> Features:
        if isinstance(data, (str, os.PathLike)) and (Path(data) / "good").is_dir():
            data = Path(data) / "good"
        self.reader_ = self._new_reader()
        self.reader_.fit(data if isinstance(data, np.ndarray) else image_paths(data))
        return self.transform(data)

    def transform(self, data) -> Features:
        if isinstance(data, np.ndarray):
            X = self.reader_.transform_arrays(data)
            return Features(X=X, items=pd.DataFrame({"item": np.arange(len(X))}), valid=np.ones(len(X), bool),
                            errors=[None] * len(X))
        paths = image_paths(data)
        batch = self.reader_.transform_paths(paths)
        err = {e.path: e.message for e in batch.errors}
        return Features(X=batch.X, items=pd.DataFrame({"path": paths}),
                        valid=np.array([p not in err for p in paths], dtype=bool),
                        errors=[err.get(p) for p in paths], paths=paths)

    def explain(self, detector, result, top, reference) -> Explanation:
        f = result.details
        X = f.X[f.x_rows[top]] if top else f.X[:0]
        if top:
            c, method = feature_contributions(detector, X, reference)
            maps = c.mean(axis=1) if c.ndim == 4 else c
        else:
            maps, method = np.zeros((0,) + X.shape[-2:]), ""
        return Explanation(method=method, feature_names=["pixel"], top=list(top),
                           item_ids=self._item_ids(result, top), scores=result.scores[top],
                           contributions=maps.reshape(len(top), -1), attributions=maps, kind=self.kind,
                           images=X, result=result)

    def to_dict(self) -> dict[str, Any]:
        return self.reader_.to_dict()

    @classmethod
    def from_dict(cls, d: dict[str, Any], **params) -> "ImageAdapter":
        from anomalib_ae.data import ImagePreprocessor

        a = cls(**params)
        a.reader_ = ImagePreprocessor.from_dict(d)
        return a
