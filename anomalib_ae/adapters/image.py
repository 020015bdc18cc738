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
    """The image files of a folder (recursively), a file (or item id such as ``scan.dcm#frame=3``) or a list."""
    from anomalib_ae.data import list_image_files
    from anomalib_ae.data.items import parse_item_id

    if isinstance(data, (str, os.PathLike)):
        p = Path(data)
        if p.is_dir():
            files = [str(f) for f in list_image_files(p)]
            if not files:
                raise ValueError(f"no image file (png, jpg, jpeg, bmp, tif, tiff, dcm, nii, nii.gz) found in {str(p)!r}")
            return files
        if not Path(parse_item_id(str(p))[0]).exists():
            raise FileNotFoundError(f"input not found: {str(p)!r}")
        return [str(p)]
    return [str(x) for x in data]


class ImageAdapter(Adapter):
    """Images -> ``(n, H, W)`` / ``(n, C, H, W)`` float32 arrays (:class:`~anomalib_ae.data.ImagePreprocessor`).

    Parameters
    ----------
    size, mode, window, axis, patch
        As :class:`~anomalib_ae.data.ImagePreprocessor` (fixed at fit in ``reader_``);
        ``window`` / ``axis`` / ``patch`` concern DICOM and NIfTI (docs/data_sources.md).

    Training on a folder with a ``good/`` sub-folder uses ``good/`` only. Files that cannot
    be read are skipped with a warning at fit and get an ``error`` at score time. A file
    holding several items (multi-frame DICOM, NIfTI slices or patches) gives one item each,
    with ids such as ``scan.dcm#frame=3`` in the ``path`` column.
    """

    kind = "image"

    def __init__(self, size=None, mode="L", window=None, axis=2, patch=None):
        self.size = size
        self.mode = mode
        self.window = window
        self.axis = axis
        self.patch = patch

    def _new_reader(self):
        from anomalib_ae.data import ImagePreprocessor

        return ImagePreprocessor(size=self.size, mode=self.mode, window=self.window, axis=self.axis, patch=self.patch)

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
        batch = self.reader_.transform_paths(image_paths(data))  # a file may expand to several items
        errors = batch.item_errors()
        return Features(X=batch.X, items=pd.DataFrame({"path": batch.items}),
                        valid=np.array([e is None for e in errors], dtype=bool), errors=errors, paths=batch.items)

    def explain(self, detector, result, top, reference, attribute=None, method=None) -> Explanation:
        f = result.details
        X = f.X[f.x_rows[top]] if top else f.X[:0]
        if top:
            c, method = feature_contributions(detector, X, reference, attribute)
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
