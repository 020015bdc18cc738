"""The shipped samples load with the documented shapes."""

import numpy as np
import pytest

from anomalib_ae import datasets


def test_pneumonia():
    d = datasets.load_pneumonia_sample()
    assert d["x_train"].shape == (300, 28, 28) and d["x_train"].dtype == np.uint8
    assert (d["y_train"] == 0).all()
    assert d["x_test"].shape == (200, 28, 28) and set(np.unique(d["y_test"])) == {0, 1}


def test_pneumonia_png():
    images = datasets.pneumonia_png_dir()
    assert len(list((images / "good").glob("*.png"))) == 12
    assert len(list((images / "pneumonia").glob("*.png"))) == 8


def test_magnetic_tile_not_shipped():
    # the magnetic-tile images carry no licence: they must not be in the package
    assert not hasattr(datasets, "load_magnetic_tile_sample")
    root = datasets.sample_path("smd").parent
    assert not list(root.glob("magnetic_tile*"))


def test_smd():
    d = datasets.load_smd_sample()
    assert d["train"].shape[0] == d["test"].shape[0] == 3000
    assert len(d["metric_cols"]) == 38
    y = d["test"]["label"].to_numpy()
    assert 0 < y.mean() < 0.5
    for s, e, dims in d["interpretation"]:
        assert y[s:e].all() and 0 <= min(dims) and max(dims) < 38


def test_mimii():
    d = datasets.load_mimii_sample()
    assert len(d["paths"]) == 40 and int(d["labels"].sum()) == 10
    assert all(p.endswith(".flac") for p in d["paths"])


def test_sample_path_errors():
    with pytest.raises(KeyError, match="pneumonia"):
        datasets.sample_path("nope")


def test_cardio_if_present():
    try:
        X, y = datasets.load_cardio()
    except FileNotFoundError:
        pytest.skip("cardio.npz not in this checkout")
    assert X.shape == (1831, 21) and int(y.sum()) == 176


def test_total_size_small():
    root = datasets.sample_path("smd").parent
    total = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    assert total < 6 * 1024 * 1024
