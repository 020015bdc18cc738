"""Image folders and arrays -> float32 arrays in ``[0, 1]``.

Pure numpy + Pillow (no torch); DICOM and NIfTI through pydicom / nibabel (``medical``
extra, see :mod:`anomalib_ae.data.medical`).  A file may hold several items (the frames of
a multi-frame DICOM, the slices or 3-D patches of a NIfTI volume); each item has an id
(``scan.dcm#frame=3``, ``vol.nii.gz#axis=2,slice=40``, :mod:`anomalib_ae.data.items`) and
gets its own row.  The same :class:`ImagePreprocessor` is used when a model
is trained and when it scores new images: store ``preprocessor.to_dict()`` in the model
file and rebuild it with :meth:`ImagePreprocessor.from_dict`.

Folder loading with labels and masks: :mod:`anomalib_ae.data.image_folder`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from anomalib_ae.data.errors import FileError, describe_exception
from anomalib_ae.data.image_files import IMAGE_EXTENSIONS, list_image_files, read_image_items
from anomalib_ae.data.image_ops import MODES, convert_mode, infer_mode, norm_size, resize, stack_images

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageBatch",
    "ImagePreprocessor",
    "list_image_files",
]

@dataclass
class ImageBatch:
    """Images loaded into one array.

    Attributes
    ----------
    X : ndarray of float32
        ``(n, H, W)`` for mode ``"L"`` or ``(n, C, H, W)`` for ``"RGB"``, values in ``[0, 1]``.
    paths : list of str
        Item id of each row of ``X`` (the file path, or ``path#frame=k`` ... for a file
        holding several items).  Items that failed are not here but in ``errors``.
    labels : ndarray of int64 of shape (n,) or None
        0 for ``good/``, 1 for other sub-folders; ``None`` when the folder has no ``good/``.
    masks : ndarray of uint8 of shape (n, H, W) or None
        Pixel masks (1 = defect) when a mask folder was given; ``None`` otherwise.
    errors : list of FileError
        Files that could not be read, with the reason (``path`` is the file or item id).
    items : list of str
        Every item in input order, read or not: the ids in ``paths`` and in ``errors``.
        A file that fails as a whole is one item (its path).
    """

    X: np.ndarray
    paths: list[str]
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None
    errors: list[FileError] = field(default_factory=list)
    items: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def item_errors(self) -> list[str | None]:
        """The error message of each of ``items`` (None where it was read)."""
        err = {e.path: e.message for e in self.errors}
        return [err.get(i) for i in self.items]


class ImagePreprocessor:
    """Read, convert and resize images the same way at fit and at score time.

    Parameters
    ----------
    size : int or (int, int) or None, default=None
        Output ``(H, W)`` (an int means square).  ``None`` keeps the input size, which
        then has to be the same for every image of a batch; :meth:`fit` fixes it to the
        size of the first training image so scoring later uses the same size.
    mode : {"L", "RGB", None}, default="L"
        ``"L"``: grey, output ``(n, H, W)``.  ``"RGB"``: output ``(n, 3, H, W)``.
        ``None``: taken from the first image (grey or colour); :meth:`fit` fixes it.
    window : [centre, width] or None, default=None
        DICOM / NIfTI grey-level window in the file's units after the modality rescale
        (e.g. ``[40, 400]`` for CT soft tissue in Hounsfield units).  ``None``: the DICOM
        file's own window (or its full stored range), NIfTI volume min..max.
    axis : {0, 1, 2}, default=2
        NIfTI axis the volumes are sliced along.
    patch : [depth, height, width] or None, default=None
        Score NIfTI volumes as 3-D patches instead of slices; ``X`` is then
        ``(n, depth, height, width)`` (depth in the channel position) and ``size`` / ``mode``
        do not apply.

    Notes
    -----
    Resizing uses Pillow's bilinear filter on float data, so 8- and 16-bit images keep
    their precision.  Colour -> grey uses the ITU-R 601-2 luma weights (as Pillow).
    ``__init__`` only stores the parameters; resolved values live in ``size_`` and
    ``mode_`` after :meth:`fit`.
    """

    def __init__(self, size: int | tuple[int, int] | None = None, mode: str | None = "L",
                 window: Sequence[float] | None = None, axis: int = 2, patch: Sequence[int] | None = None):
        self.size = size
        self.mode = mode
        self.window = window
        self.axis = axis
        self.patch = patch

    _MEDICAL = ("window", "axis", "patch")

    # ---------------------------------------------------------------- state
    def _resolved(self) -> tuple[tuple[int, int] | None, str | None]:
        size = getattr(self, "size_", None) or norm_size(self.size)
        mode = getattr(self, "mode_", None) or self.mode
        if mode not in MODES:
            raise ValueError(f"mode must be one of 'L', 'RGB' or None, got {mode!r}")
        return size, mode

    def fit(self, X: Sequence[str | Path] | np.ndarray) -> "ImagePreprocessor":
        """Fix ``size_`` and ``mode_`` from training images (paths or an array).

        Parameters
        ----------
        X : list of paths or ndarray
            Training images, as accepted by :meth:`transform_paths` or
            :meth:`transform_arrays`.

        Returns
        -------
        self
        """
        batch_X = self.transform_arrays(X) if isinstance(X, np.ndarray) else self.transform_paths(X).X
        if len(batch_X) == 0:
            raise ValueError("ImagePreprocessor.fit: no image could be read")
        self.mode_ = "RGB" if batch_X.ndim == 4 and self.patch is None else "L"
        self.size_ = tuple(int(s) for s in batch_X.shape[-2:])
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (the resolved ones after :meth:`fit`)."""
        size, mode = self._resolved()
        out = {"type": "ImagePreprocessor", "size": list(size) if size else None, "mode": mode}
        for k in self._MEDICAL:
            v = getattr(self, k)
            out[k] = [float(x) if k == "window" else int(x) for x in v] if isinstance(v, (list, tuple)) else v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImagePreprocessor":
        """Rebuild from :meth:`to_dict` output."""
        size = d.get("size")
        obj = cls(size=tuple(size) if isinstance(size, list) else size, mode=d.get("mode", "L"),
                  window=d.get("window"), axis=int(d.get("axis", 2)), patch=d.get("patch"))
        if obj.size is not None and obj.mode is not None:
            obj.size_, obj.mode_ = norm_size(obj.size), obj.mode
        return obj

    def __repr__(self) -> str:
        extra = "".join(f", {k}={getattr(self, k)!r}" for k in self._MEDICAL if getattr(self, k) != (2 if k == "axis" else None))
        return f"ImagePreprocessor(size={self.size!r}, mode={self.mode!r}{extra})"

    # ------------------------------------------------------------ transform
    def _read_items(self, path: str, size, mode) -> list[tuple[str, np.ndarray]]:
        from PIL import Image

        items = read_image_items(path, window=self.window, axis=int(self.axis), patch=self.patch)
        if self.patch is not None:
            bad = [i for i, a in items if a.ndim != 3]
            if bad:
                raise ValueError(f"patch={list(self.patch)} applies to NIfTI volumes; {bad[0]!r} is a 2-D image")
            return items
        out = []
        for item, arr in items:
            arr = convert_mode(arr, mode or infer_mode(arr))
            if size is not None:
                arr = resize(arr, size, Image.BILINEAR)
            out.append((item, arr))
        return out

    def transform_paths(self, paths: Iterable[str | Path]) -> ImageBatch:
        """Read image files (or item ids) into an :class:`ImageBatch` (``labels`` and ``masks`` None).

        A file that cannot be decoded (corrupt, truncated, zero-length, a dangling link, not
        an image, a DICOM without pixel data) becomes a :class:`FileError` in ``errors``;
        the others still load.  A file holding several items (multi-frame DICOM, NIfTI
        slices or patches) gives one row per item.

        Raises
        ------
        ValueError
            When ``size`` is None and readable images differ in size; the message
            names the first item that differs.  (With ``mode=None`` the first readable
            image fixes grey or colour and later images are converted to it.)
        """
        size, mode = self._resolved()
        arrs: list[np.ndarray] = []
        ok: list[str] = []
        every: list[str] = []
        errors: list[FileError] = []
        for p in paths:
            p = str(p)
            try:
                items = self._read_items(p, size, mode)
            except Exception as exc:  # noqa: BLE001 - any decode failure is recorded, not raised
                errors.append(FileError(p, describe_exception(exc)))
                every.append(p)
                continue
            for item, arr in items:
                if arrs and arr.shape != arrs[0].shape:
                    raise ValueError(
                        f"image {item!r} has shape {arr.shape} but {ok[0]!r} has {arrs[0].shape}; "
                        "pass size=(H, W) (and mode) to resize every image to one shape"
                    )
                if mode is None:
                    mode = infer_mode(arr)
                arrs.append(arr)
                ok.append(item)
                every.append(item)
        X = stack_images(arrs, mode, size, volume=self.patch is not None)
        return ImageBatch(X=X, paths=ok, errors=errors, items=every)

    def transform_arrays(self, arr: np.ndarray) -> np.ndarray:
        """Apply the preprocessing to images already in memory.

        Parameters
        ----------
        arr : ndarray
            ``(H, W)``, ``(n, H, W)``, ``(n, H, W, C)`` (channels last, C in 1, 3, 4) or
            ``(n, C, H, W)`` (channels first).  uint8 is divided by 255, uint16 by 65535;
            float input is taken to be in ``[0, 1]`` already.  Alpha channels are dropped.

        Returns
        -------
        ndarray of float32
            ``(n, H, W)`` or ``(n, 3, H, W)``.
        """
        from PIL import Image

        a = np.asarray(arr)
        if a.dtype == np.uint8:
            a = a.astype(np.float32) / 255.0
        elif a.dtype == np.uint16:
            a = a.astype(np.float32) / 65535.0
        elif a.dtype == bool:
            a = a.astype(np.float32)
        else:
            a = a.astype(np.float32, copy=False)
        if a.ndim == 2:
            a = a[None]
        if a.ndim == 4:
            if a.shape[-1] in (1, 3, 4):
                pass
            elif a.shape[1] in (1, 3, 4):
                a = a.transpose(0, 2, 3, 1)
            else:
                raise ValueError(f"cannot tell the channel axis of an array of shape {np.shape(arr)}")
        elif a.ndim != 3:
            raise ValueError(f"expected a 2-, 3- or 4-d image array, got shape {np.shape(arr)}")
        size, mode = self._resolved()
        mode = mode or infer_mode(a[0] if len(a) else a)
        out = []
        for img in a:
            img = convert_mode(img, mode)
            if size is not None:
                img = resize(img, size, Image.BILINEAR)
            out.append(img)
        return stack_images(out, mode, size)
