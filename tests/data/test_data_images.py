"""Image adapter on the shipped PneumoniaMNIST PNG folder and on small folders written here."""

import json

import numpy as np
import pytest
from PIL import Image

from anomalib_ae.data import FileError, ImagePreprocessor, load_image_folder
from anomalib_ae.datasets import pneumonia_png_dir


def test_shipped_png_folder_labels():
    images = pneumonia_png_dir()
    b = load_image_folder(images)
    assert b.X.shape == (20, 28, 28) and b.X.dtype == np.float32
    assert 0.0 <= b.X.min() and b.X.max() <= 1.0
    assert len(b.paths) == 20 and b.errors == []
    assert b.labels.tolist().count(0) == 12 and b.labels.tolist().count(1) == 8
    assert b.masks is None


def test_mask_folder(tmp_path):
    # MVTec-style masks: mask_dir/<defect>/<name>.png or <name>_mask.png; good/ images get empty masks
    rng = np.random.default_rng(0)
    for sub in ("images/good", "images/defect", "masks/defect"):
        (tmp_path / sub).mkdir(parents=True)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(tmp_path / "images" / "good" / f"g{i}.png")
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(tmp_path / "images" / "defect" / f"d{i}.png")
        m = np.zeros((16, 16), np.uint8)
        m[2 + i:6 + i, 3:9] = 255
        name = "d0.png" if i == 0 else "d1_mask.png"
        Image.fromarray(m).save(tmp_path / "masks" / "defect" / name)
    b = load_image_folder(tmp_path / "images", mask_dir=tmp_path / "masks")
    assert b.X.shape == (5, 16, 16) and b.errors == []
    assert b.masks.shape == (5, 16, 16) and b.masks.dtype == np.uint8
    assert b.labels.tolist().count(1) == 2
    assert (b.masks[b.labels == 1].sum(axis=(1, 2)) == 24).all()
    assert b.masks[b.labels == 0].sum() == 0


def test_resize_and_rgb():
    images = pneumonia_png_dir()
    b = load_image_folder(images, size=(16, 24), mode="RGB")
    assert b.X.shape == (20, 3, 16, 24)
    # grey input -> identical channels
    np.testing.assert_allclose(b.X[:, 0], b.X[:, 2])


def test_corrupt_and_empty_files_are_recorded(tmp_path):
    flat = tmp_path / "imgs"
    flat.mkdir()
    for i in range(3):
        Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(flat / f"ok{i}.png")
    (flat / "garbage.png").write_bytes(b"\x89PNG this is not an image" * 10)
    (flat / "empty.jpg").write_bytes(b"")
    b = load_image_folder(flat)
    assert b.X.shape == (3, 8, 8)
    assert b.labels is None and b.masks is None
    bad = sorted(e.path.rsplit("/", 1)[-1] for e in b.errors)
    assert bad == ["empty.jpg", "garbage.png"]
    assert all(isinstance(e, FileError) and e.message for e in b.errors)


def test_mixed_sizes_need_size(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.zeros((9, 8), np.uint8)).save(tmp_path / "b.png")
    with pytest.raises(ValueError, match="size="):
        load_image_folder(tmp_path)
    assert load_image_folder(tmp_path, size=4).X.shape == (2, 4, 4)


def test_16bit_png_is_scaled(tmp_path):
    arr = np.full((4, 4), 65535, np.uint16)
    Image.fromarray(arr).save(tmp_path / "w.png")
    b = load_image_folder(tmp_path)
    np.testing.assert_allclose(b.X, 1.0)


def test_preprocessor_roundtrip_same_output():
    images = pneumonia_png_dir()
    paths = sorted(images.rglob("*.png"))
    pre = ImagePreprocessor(size=None, mode=None).fit(paths[:4])
    d = json.loads(json.dumps(pre.to_dict()))
    assert d["size"] == [28, 28] and d["mode"] == "L"
    pre2 = ImagePreprocessor.from_dict(d)
    np.testing.assert_array_equal(pre.transform_paths(paths).X, pre2.transform_paths(paths).X)
    raw = np.stack([np.asarray(Image.open(p)) for p in paths])
    np.testing.assert_allclose(pre2.transform_arrays(raw), pre2.transform_paths(paths).X, atol=1e-6)
    # channels-first and channels-last colour input, converted to grey and resized
    small = ImagePreprocessor(size=8, mode="L")
    rgb = np.random.default_rng(0).random((2, 3, 16, 16)).astype(np.float32)
    out1 = small.transform_arrays(rgb)
    out2 = small.transform_arrays(rgb.transpose(0, 2, 3, 1))
    assert out1.shape == (2, 8, 8)
    np.testing.assert_allclose(out1, out2)
