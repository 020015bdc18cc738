"""DICOM and NIfTI through the image adapter, on the files pydicom and nibabel ship
(installed package data, no download) and on small DICOM edge cases written here."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anomalib_ae.data import ImagePreprocessor, list_image_files
from anomalib_ae.data.items import parse_item_id
from anomalib_ae.data.medical import read_dicom, window_linear

pydicom = pytest.importorskip("pydicom")
nib = pytest.importorskip("nibabel")
from nibabel.testing import data_path as NIB_DATA  # noqa: E402
from pydicom.data import get_testdata_file  # noqa: E402
from pydicom.dataset import Dataset, FileMetaDataset  # noqa: E402
from pydicom.uid import ExplicitVRLittleEndian, generate_uid  # noqa: E402


def shipped(name: str) -> str:
    """A test file inside the installed pydicom package (never downloaded)."""
    p = get_testdata_file(name, download=False)
    if p is None:
        pytest.skip(f"pydicom does not ship {name}")
    return str(p)


def write_dicom(path, pixels, *, photometric="MONOCHROME2", bits=12, slope=None, intercept=None,
                window=None, signed=False, pixel_data=True):
    """A minimal CT-like Part 10 file with the given stored pixels ((H, W) or (frames, H, W))."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"  # CT Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    if pixel_data:
        arr = np.asarray(pixels, dtype=np.int16 if signed else np.uint16)
        ds.Rows, ds.Columns = arr.shape[-2:]
        if arr.ndim == 3:
            ds.NumberOfFrames = arr.shape[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
        ds.PixelRepresentation = 1 if signed else 0
        ds.PixelData = arr.tobytes()
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    ds.save_as(str(path), enforce_file_format=True)
    return str(path)


def test_window_formula():
    # DICOM PS3.3 C.11.2.1.2: centre 40, width 400 -> [-160, 240) onto [0, 1]
    v = window_linear(np.array([-1000.0, -160.0, 40.0, 239.5, 3000.0]), 40, 400)
    assert v[0] == 0.0 and v[-1] == 1.0 and abs(v[2] - 0.5) < 0.01


def test_shipped_dicom_series_folder():
    # pydicom's dicomdirtests: patients / studies / series of extension-less files, plus DICOMDIR indexes
    root = Path(shipped("CT_small.dcm")).parent / "dicomdirtests" / "77654033"
    files = list_image_files(root)
    assert len(files) == 7 and not any(f.name.startswith("DICOMDIR") for f in files)
    b = ImagePreprocessor(size=16).transform_paths(files)
    assert b.X.shape == (7, 16, 16) and b.errors == [] and b.items == [str(f) for f in files]
    assert 0.0 <= b.X.min() and b.X.max() <= 1.0


def test_shipped_monochrome1_is_inverted():
    cr = Path(shipped("CT_small.dcm")).parent / "dicomdirtests" / "77654033" / "CR1" / "6154"
    ds = pydicom.dcmread(cr)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    (_, img), = read_dicom(cr)
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    expected = 1.0 - window_linear(hu, float(ds.WindowCenter), float(ds.WindowWidth))
    np.testing.assert_allclose(img, expected, atol=1e-6)


def test_shipped_mr_uses_file_window_and_multiframe_expands():
    (_, mr), = read_dicom(shipped("MR_small.dcm"))
    assert mr.shape == (64, 64) and mr.max() == 1.0  # window 600/1600 saturates the brightest pixels
    path = shipped("rtdose.dcm")  # 15 frames
    b = ImagePreprocessor().transform_paths([path])
    assert b.X.shape == (15, 10, 10) and b.items[3] == f"{path}#frame=3"
    assert parse_item_id(b.items[3]) == (path, {"frame": "3"})
    one = ImagePreprocessor().transform_paths([b.items[3]])  # an item id reads just that frame
    np.testing.assert_array_equal(one.X[0], b.X[3])


def test_shipped_broken_dicoms_are_error_records():
    files = [shipped("MR_truncated.dcm"), shipped("CT_small.dcm")]
    b = ImagePreprocessor(size=32).transform_paths(files)
    assert b.items == files and b.paths == files[1:]
    assert "pixel data" in b.errors[0].message


def test_rescale_window_and_16bit(tmp_path):
    stored = np.array([[0, 1024, 1064, 4095]] * 4, dtype=np.uint16)  # 12-bit, HU = stored - 1024
    p = write_dicom(tmp_path / "ct.dcm", stored, slope=1, intercept=-1024, window=(40, 400))
    (_, img), = read_dicom(p)
    np.testing.assert_allclose(img[0], window_linear(np.array([-1024, 0, 40, 3071]), 40, 400), atol=1e-6)
    # a given window replaces the file's; without any window the full 12-bit range is used
    (_, wide), = read_dicom(p, window=(0, 4000))
    assert wide[0, 1] == pytest.approx(0.5, abs=1e-3)
    q = write_dicom(tmp_path / "nowin.dcm", stored, bits=12)
    (_, full), = read_dicom(q)
    np.testing.assert_allclose(full[0], stored[0] / 4095.0, atol=1e-3)
    assert len(np.unique(full)) == 4  # 12-bit levels not collapsed
    m1 = write_dicom(tmp_path / "m1.dcm", stored, bits=12, photometric="MONOCHROME1")
    np.testing.assert_allclose(read_dicom(m1)[0][1], 1.0 - full, atol=1e-6)


def test_synthetic_edge_cases_each_get_a_row(tmp_path):
    ok = write_dicom(tmp_path / "a.dcm", np.full((8, 8), 100))
    multi = write_dicom(tmp_path / "cine.dcm", np.arange(3 * 64).reshape(3, 8, 8))
    nopix = write_dicom(tmp_path / "nopix.dcm", None, pixel_data=False)
    (tmp_path / "garbage.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"not a dataset" * 5)
    (tmp_path / "text.dcm").write_text("hello, I am not DICOM\n")
    (tmp_path / "empty.dcm").write_bytes(b"")
    full = (tmp_path / "a.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(full[: len(full) - 40])
    (tmp_path / "trunc.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    os.symlink(tmp_path / "gone.dcm", tmp_path / "dangling.dcm")
    files = list_image_files(tmp_path)
    assert str(tmp_path / "dangling.dcm") in map(str, files)
    b = ImagePreprocessor().transform_paths(files)
    rows = dict(zip(b.items, b.item_errors()))
    assert len(rows) == len(files) + 2  # every file has a row; cine.dcm has three
    assert rows[ok] is None and rows[f"{multi}#frame=2"] is None
    assert "no pixel data" in rows[nopix]
    assert "dangling" in rows[str(tmp_path / "dangling.dcm")]
    assert "empty" in rows[str(tmp_path / "empty.dcm")]
    for name in ("garbage.dcm", "text.dcm", "cut.dcm", "trunc.png"):
        assert rows[str(tmp_path / name)], name
    assert b.X.shape == (4, 8, 8)


def test_16bit_png_and_tiff_keep_their_bits(tmp_path):
    ramp = (np.arange(64 * 64).reshape(64, 64) * 16).astype(np.uint16)  # 4096 levels, 16 apart
    Image.fromarray(ramp).save(tmp_path / "g.png")
    Image.fromarray(ramp).save(tmp_path / "g.tif")
    b = ImagePreprocessor().transform_paths([tmp_path / "g.png", tmp_path / "g.tif"])
    for x in b.X:
        np.testing.assert_allclose(x, ramp / 65535.0, atol=1e-6)
        assert len(np.unique(x)) == 4096
    png = pytest.importorskip("png")
    tifffile = pytest.importorskip("tifffile")
    rgb = np.stack([ramp, ramp // 2, ramp // 3], -1)
    png.from_array(rgb.reshape(64, -1), "RGB;16").save(str(tmp_path / "c.png"))
    tifffile.imwrite(tmp_path / "c.tif", rgb)
    c = ImagePreprocessor(mode="RGB").transform_paths([tmp_path / "c.png", tmp_path / "c.tif"])
    assert c.errors == []
    for x in c.X:
        np.testing.assert_allclose(x.transpose(1, 2, 0), rgb / 65535.0, atol=1e-6)


def test_nifti_slices_and_patches():
    anat = os.path.join(NIB_DATA, "anatomical.nii")  # (33, 41, 25)
    b = ImagePreprocessor(mode=None).transform_paths([anat])
    assert b.X.shape == (25, 33, 41) and b.items[7] == f"{anat}#axis=2,slice=7"
    vol = np.asarray(nib.load(anat).get_fdata())
    np.testing.assert_allclose(b.X[7], (vol[:, :, 7] - vol.min()) / (vol.max() - vol.min()), atol=1e-5)
    a0 = ImagePreprocessor(mode=None, axis=0).transform_paths([anat])
    assert a0.X.shape == (33, 41, 25) and a0.items[0].endswith("#axis=0,slice=0")
    p = ImagePreprocessor(patch=[8, 8, 8]).transform_paths([anat])
    assert p.X.shape[1:] == (8, 8, 8) and p.items[0].endswith("#patch=0:8;0:8;0:8")
    assert p.items[-1].endswith("#patch=25:33;33:41;17:25")  # last patch aligned to the volume's end
    four = os.path.join(NIB_DATA, "example4d.nii.gz")  # (128, 96, 24, 2)
    f = ImagePreprocessor(size=32).transform_paths([four])
    assert f.X.shape == (48, 32, 32) and f.items[24].endswith("#t=1,axis=2,slice=0")


def test_preprocessor_dict_keeps_medical_params():
    pre = ImagePreprocessor(size=16, window=[40, 400], axis=1, patch=None)
    back = ImagePreprocessor.from_dict(pre.to_dict())
    assert back.window == [40.0, 400.0] and back.axis == 1 and back.patch is None
