"""Image folders and arrays -> float32 arrays in ``[0, 1]``.

Pure numpy + Pillow (no torch).  The same :class:`ImagePreprocessor` is used when a model
is trained and when it scores new images: store ``preprocessor.to_dict()`` in the model
file and rebuild it with :meth:`ImagePreprocessor.from_dict`.

Folder layout understood by :func:`load_image_folder`::

    root/                    root/
      good/ *.png              *.png          <- "flat": labels is None
      defect/ *.png   or       sub/ *.jpg     <- no good/ sub-folder: labels is None
      crack/ *.jpg

When ``root`` has a ``good/`` sub-folder, images under ``good/`` get label 0 and images
under any other sub-folder get label 1 (images directly in ``root`` are then ignored
with a warning, because their label is unknown).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from anomalib_ae.data.errors import FileError, describe_exception

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImageBatch",
    "ImagePreprocessor",
    "list_image_files",
    "load_image_folder",
]

#: File name endings read as images (case-insensitive).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

_MODES = ("L", "RGB", None)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as Pillow's convert("L")


@dataclass
class ImageBatch:
    """Images loaded into one array.

    Attributes
    ----------
    X : ndarray of float32
        ``(n, H, W)`` for mode ``"L"`` or ``(n, C, H, W)`` for ``"RGB"``, values in ``[0, 1]``.
    paths : list of str
        One per row of ``X``.  Files that failed are not here but in ``errors``.
    labels : ndarray of int64 of shape (n,) or None
        0 for ``good/``, 1 for other sub-folders; ``None`` when the folder has no ``good/``.
    masks : ndarray of uint8 of shape (n, H, W) or None
        Pixel masks (1 = defect) when a mask folder was given; ``None`` otherwise.
    errors : list of FileError
        Files that could not be read, with the reason.
    """

    X: np.ndarray
    paths: list[str]
    labels: np.ndarray | None = None
    masks: np.ndarray | None = None
    errors: list[FileError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)


def _norm_size(size: Any) -> tuple[int, int] | None:
    """``None``, ``64`` or ``(H, W)`` -> ``None`` or ``(H, W)``."""
    if size is None:
        return None
    if np.isscalar(size):
        s = int(size)
        out = (s, s)
    else:
        h, w = size
        out = (int(h), int(w))
    if min(out) < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return out


def _to_float(img: Any) -> np.ndarray:
    """A Pillow image -> float32 ``(H, W)`` or ``(H, W, 3)`` in ``[0, 1]``.

    8-bit modes are divided by 255; 16-bit and 32-bit integer grey ("I;16", "I") by 65535;
    float ("F") images are assumed to be in ``[0, 1]`` and clipped.  Alpha is dropped and
    palette images are expanded to RGB.
    """
    mode = img.mode
    if mode in ("1", "L", "LA", "La"):
        return np.asarray(img.convert("L"), dtype=np.float32) / 255.0
    if mode.startswith("I"):
        arr = np.asarray(img).astype(np.float32)
        return np.clip(arr / 65535.0, 0.0, 1.0)
    if mode == "F":
        return np.clip(np.asarray(img, dtype=np.float32), 0.0, 1.0)
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _convert_mode(arr: np.ndarray, mode: str) -> np.ndarray:
    """float ``(H, W)`` / ``(H, W, C)`` -> ``(H, W)`` for "L" or ``(H, W, 3)`` for "RGB"."""
    if mode == "L":
        if arr.ndim == 2:
            return arr
        if arr.shape[2] == 1:
            return arr[:, :, 0]
        return arr[:, :, :3] @ _LUMA
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    return arr[:, :, :3]


def _resize(arr: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    """Resize float ``(H, W)`` or ``(H, W, C)`` to ``size=(H, W)`` channel by channel."""
    from PIL import Image

    if arr.shape[:2] == size:
        return arr
    h, w = size
    if arr.ndim == 2:
        img = Image.fromarray(np.ascontiguousarray(arr, dtype=np.float32))
        return np.asarray(img.resize((w, h), resample), dtype=np.float32)
    chans = [np.asarray(Image.fromarray(np.ascontiguousarray(arr[:, :, c], dtype=np.float32)).resize((w, h), resample))
             for c in range(arr.shape[2])]
    return np.stack(chans, axis=2).astype(np.float32)


def _infer_mode(arr: np.ndarray) -> str:
    return "L" if arr.ndim == 2 or arr.shape[2] == 1 else "RGB"


def _finish(arrs: list[np.ndarray], mode: str | None, size: tuple[int, int] | None) -> np.ndarray:
    """Stack ``(H, W[, 3])`` arrays -> ``(n, H, W)`` or ``(n, 3, H, W)`` float32."""
    if not arrs:
        if mode == "RGB":
            return np.zeros((0, 3) + (size or (0, 0)), dtype=np.float32)
        return np.zeros((0,) + (size or (0, 0)), dtype=np.float32)
    X = np.stack(arrs).astype(np.float32, copy=False)
    if X.ndim == 4:
        X = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    return np.clip(X, 0.0, 1.0, out=X)


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

    Notes
    -----
    Resizing uses Pillow's bilinear filter on float data, so 8- and 16-bit images keep
    their precision.  Colour -> grey uses the ITU-R 601-2 luma weights (as Pillow).
    ``__init__`` only stores the parameters; resolved values live in ``size_`` and
    ``mode_`` after :meth:`fit`.
    """

    def __init__(self, size: int | tuple[int, int] | None = None, mode: str | None = "L"):
        self.size = size
        self.mode = mode

    # ---------------------------------------------------------------- state
    def _resolved(self) -> tuple[tuple[int, int] | None, str | None]:
        size = getattr(self, "size_", None) or _norm_size(self.size)
        mode = getattr(self, "mode_", None) or self.mode
        if mode not in _MODES:
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
        self.mode_ = "RGB" if batch_X.ndim == 4 else "L"
        self.size_ = tuple(int(s) for s in batch_X.shape[-2:])
        return self

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (the resolved ones after :meth:`fit`)."""
        size, mode = self._resolved()
        return {"type": "ImagePreprocessor", "size": list(size) if size else None, "mode": mode}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ImagePreprocessor":
        """Rebuild from :meth:`to_dict` output."""
        size = d.get("size")
        obj = cls(size=tuple(size) if isinstance(size, list) else size, mode=d.get("mode", "L"))
        if obj.size is not None and obj.mode is not None:
            obj.size_, obj.mode_ = _norm_size(obj.size), obj.mode
        return obj

    def __repr__(self) -> str:
        return f"ImagePreprocessor(size={self.size!r}, mode={self.mode!r})"

    # ------------------------------------------------------------ transform
    def _read_one(self, path: str, size, mode) -> np.ndarray:
        from PIL import Image

        with Image.open(path) as img:
            img.load()  # decode now so truncated files fail here
            arr = _to_float(img)
        arr = _convert_mode(arr, mode or _infer_mode(arr))
        if size is not None:
            arr = _resize(arr, size, Image.BILINEAR)
        return arr

    def transform_paths(self, paths: Iterable[str | Path]) -> ImageBatch:
        """Read image files into an :class:`ImageBatch` (``labels`` and ``masks`` None).

        A file that cannot be decoded (corrupt, zero-length, not an image) becomes a
        :class:`FileError` in ``errors``; the others still load.

        Raises
        ------
        ValueError
            When ``size`` is None and readable images differ in size; the message
            names the first file that differs.  (With ``mode=None`` the first readable
            image fixes grey or colour and later images are converted to it.)
        """
        size, mode = self._resolved()
        arrs: list[np.ndarray] = []
        ok: list[str] = []
        errors: list[FileError] = []
        for p in paths:
            p = str(p)
            try:
                arr = self._read_one(p, size, mode)
            except Exception as exc:  # noqa: BLE001 - any decode failure is recorded, not raised
                errors.append(FileError(p, describe_exception(exc)))
                continue
            if arrs and arr.shape != arrs[0].shape:
                raise ValueError(
                    f"image {p!r} has shape {arr.shape} but {ok[0]!r} has {arrs[0].shape}; "
                    "pass size=(H, W) (and mode) to resize every image to one shape"
                )
            if mode is None:
                mode = _infer_mode(arr)
            arrs.append(arr)
            ok.append(p)
        return ImageBatch(X=_finish(arrs, mode, size), paths=ok, errors=errors)

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
        mode = mode or _infer_mode(a[0] if len(a) else a)
        out = []
        for img in a:
            img = _convert_mode(img, mode)
            if size is not None:
                img = _resize(img, size, Image.BILINEAR)
            out.append(img)
        return _finish(out, mode, size)


def list_image_files(root: str | Path) -> list[Path]:
    """All files under ``root`` (recursively) with an image extension, sorted."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def _find_mask(mask_root: Path, rel: Path) -> Path | None:
    """``mask_root/<rel without suffix>{,_mask}.<any image ext>`` or None."""
    base = mask_root / rel.parent
    for stem in (rel.stem, rel.stem + "_mask"):
        for ext in IMAGE_EXTENSIONS:
            for cand in (base / (stem + ext), base / (stem + ext.upper())):
                if cand.is_file():
                    return cand
    return None


def _read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Binary mask (pixel > half of full scale -> 1), resized so any defect pixel survives."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        m = _to_float(img)
    if m.ndim == 3:
        m = m.max(axis=2)
    m = (m > 0.5).astype(np.float32)
    m = _resize(m, size, Image.BOX)
    return (m > 0).astype(np.uint8)


def load_image_folder(
    path: str | Path,
    size: int | tuple[int, int] | None = None,
    mode: str | None = "L",
    mask_dir: str | Path | None = None,
) -> ImageBatch:
    """Load every image under a folder.

    Parameters
    ----------
    path : str or Path
        Folder of PNG / JPG / JPEG / BMP / TIFF files, searched recursively.  With a
        ``good/`` sub-folder, labels are 0 for ``good/`` and 1 for every other sub-folder.
    size : int or (int, int) or None, default=None
        Resize to ``(H, W)``; ``None`` keeps the size (all images must then match).
    mode : {"L", "RGB", None}, default="L"
        Grey ``(n, H, W)`` or colour ``(n, 3, H, W)``; ``None`` follows the first image.
    mask_dir : str or Path, optional
        Folder of pixel masks mirroring ``path``: the mask of ``path/defect/a.png`` is
        ``mask_dir/defect/a.<ext>`` or ``mask_dir/defect/a_mask.<ext>`` (MVTec style),
        any image extension.  Pixels above half of full scale are defects.  An image
        without a mask file gets an all-zero mask; if such an image is labelled
        anomalous, a warning names how many.  Masks are resized with a box filter and
        kept as 1 wherever any defect pixel falls (small defects survive downsizing).
        A mask file that cannot be read is reported in ``errors`` under the mask's path
        (its image still loads, with an all-zero mask).

    Returns
    -------
    ImageBatch
        Unreadable files are in ``errors``; they are not in ``X``.

    Raises
    ------
    FileNotFoundError
        When ``path`` (or ``mask_dir``) is not a folder.
    ValueError
        When ``size`` is None and the images differ in shape.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {str(root)!r}")
    mask_root = Path(mask_dir) if mask_dir is not None else None
    if mask_root is not None and not mask_root.is_dir():
        raise FileNotFoundError(f"mask folder not found: {str(mask_root)!r}")

    files = list_image_files(root)
    if mask_root is not None:  # a mask folder inside the image folder is not images
        mr = mask_root.resolve()
        files = [f for f in files if mr not in f.resolve().parents]
    labelled = (root / "good").is_dir()
    labels_all: list[int] = []
    if labelled:
        loose = [f for f in files if f.parent == root]
        if loose:
            warnings.warn(
                f"{len(loose)} image(s) directly in {str(root)!r} are ignored: with a good/ "
                "sub-folder only images in sub-folders have a label",
                UserWarning,
                stacklevel=2,
            )
        files = [f for f in files if f.parent != root]
        labels_all = [0 if f.relative_to(root).parts[0] == "good" else 1 for f in files]

    pre = ImagePreprocessor(size=size, mode=mode)
    batch = pre.transform_paths(files)
    keep = {p: i for i, p in enumerate(map(str, files))}
    idx = [keep[p] for p in batch.paths]
    if labelled:
        batch.labels = np.asarray([labels_all[i] for i in idx], dtype=np.int64)
    if mask_root is not None:
        hw = tuple(batch.X.shape[-2:])
        masks = np.zeros((len(idx), *hw), dtype=np.uint8)
        missing_anomalous = 0
        for j, p in enumerate(batch.paths):
            mpath = _find_mask(mask_root, Path(p).relative_to(root))
            if mpath is None:
                if labelled and batch.labels[j] == 1:
                    missing_anomalous += 1
                continue
            try:
                masks[j] = _read_mask(mpath, hw)
            except Exception as exc:  # noqa: BLE001
                batch.errors.append(FileError(str(mpath), "mask unreadable, all-zero mask used: "
                                              + describe_exception(exc)))
        if missing_anomalous:
            warnings.warn(
                f"{missing_anomalous} anomalous image(s) have no mask in {str(mask_root)!r}; "
                "they get an all-zero mask",
                UserWarning,
                stacklevel=2,
            )
        batch.masks = masks
    return batch
