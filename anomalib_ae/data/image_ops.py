"""Array helpers of the image adapter: pixel scaling, grey/colour conversion, resizing, stacking.

Pure numpy + Pillow.  Images travel between these helpers as float32 ``(H, W)`` (grey),
``(H, W, C)`` (colour, channels last) or, for 3-D patches of a volume, ``(D, H, W)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MASK_EXTENSIONS", "convert_mode", "find_mask", "infer_mode", "norm_size", "pil_to_float", "read_mask",
           "resize", "stack_images"]

#: File name endings searched for pixel masks.
MASK_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MODES = ("L", "RGB", None)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601-2, as Pillow's convert("L")


def norm_size(size: Any) -> tuple[int, int] | None:
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


def pil_to_float(img: Any) -> np.ndarray:
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


def convert_mode(arr: np.ndarray, mode: str) -> np.ndarray:
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


def resize(arr: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
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


def infer_mode(arr: np.ndarray) -> str:
    return "L" if arr.ndim == 2 or arr.shape[2] == 1 else "RGB"


def stack_images(arrs: list[np.ndarray], mode: str | None, size: tuple[int, int] | None,
                 volume: bool = False) -> np.ndarray:
    """Stack ``(H, W[, 3])`` arrays -> ``(n, H, W)`` or ``(n, 3, H, W)`` float32 in ``[0, 1]``.

    With ``volume=True`` the arrays are ``(D, H, W)`` patches and stack to ``(n, D, H, W)``
    (depth in the channel position, as the convolutional detectors read ``(n, C, H, W)``).
    """
    if not arrs:
        if mode == "RGB":
            return np.zeros((0, 3) + (size or (0, 0)), dtype=np.float32)
        return np.zeros((0,) + (size or (0, 0)), dtype=np.float32)
    X = np.stack(arrs).astype(np.float32, copy=False)
    if X.ndim == 4 and not volume:
        X = np.ascontiguousarray(X.transpose(0, 3, 1, 2))
    return np.clip(X, 0.0, 1.0, out=X)


def find_mask(mask_root: Path, rel: Path) -> Path | None:
    """``mask_root/<rel without suffix>{,_mask}.<any image ext>`` or None."""
    base = mask_root / rel.parent
    for stem in (rel.stem, rel.stem + "_mask"):
        for ext in MASK_EXTENSIONS:
            for cand in (base / (stem + ext), base / (stem + ext.upper())):
                if cand.is_file():
                    return cand
    return None


def read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """Binary mask (pixel > half of full scale -> 1), resized so any defect pixel survives."""
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        m = pil_to_float(img)
    if m.ndim == 3:
        m = m.max(axis=2)
    m = (m > 0.5).astype(np.float32)
    m = resize(m, size, Image.BOX)
    return (m > 0).astype(np.uint8)


