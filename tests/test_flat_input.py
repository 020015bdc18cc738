"""``input_kind="flat"``: images flattened to vectors for dense networks, and the one-class images config."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.cli import cli
from anomalib_ae.detectors._deep import infer_input_kind
from fast_params import make

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "one_class_images.yaml"


def test_flat_resolves_to_vector_for_any_shape():
    assert infer_input_kind((28, 28), "flat") == "vector"
    assert infer_input_kind((3, 8, 8), "flat") == "vector"
    with pytest.raises(ValueError, match="input_kind='flat'"):  # the error for "vector" points to "flat"
        infer_input_kind((28, 28), "vector")


@pytest.mark.parametrize("name", ["ae", "sage", "deepsvdd"])
def test_flat_images_score_as_their_flattened_rows(name, tmp_path):
    x = np.random.default_rng(0).random((60, 12, 12)).astype(np.float32)
    flat = make(name, input_kind="flat").fit(x)
    rows = make(name).fit(x.reshape(60, -1))
    assert flat.input_kind_ == "vector" and flat.model_shape_ == (144,)
    np.testing.assert_array_equal(flat.score(x[:7]), rows.score(x[:7].reshape(7, -1)))
    path = tmp_path / "m.pt"
    flat.save(path)
    np.testing.assert_array_equal(anomalib_ae.load(path).score(x[:7]), flat.score(x[:7]))
    with pytest.raises(ValueError):
        flat.score(x[:3].reshape(3, -1))  # the per-sample shape of fit is kept


def test_one_class_images_config_fits_and_scores_a_folder(tmp_path):
    cfg = yaml.safe_load(CONFIG.read_text())
    assert cfg["detector"]["name"] == "ensemble"
    members = cfg["detector"]["params"]["detectors"]
    # the sage members see flattened images, the rotation classifier the images themselves
    assert [(m[0], m[1].get("input_kind", "auto")) for m in members] == [("sage", "flat")] * 3 + [("goad", "auto")]
    images = datasets.pneumonia_png_dir()
    model, out = tmp_path / "m.pt", tmp_path / "s.csv"
    res = CliRunner().invoke(cli, ["fit", "--config", str(CONFIG), "--input", str(images / "good"), "--model", str(model)],
                             catch_exceptions=False)
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli, ["score", "--model", str(model), "--input", str(images / "pneumonia"),
                                   "--output", str(out)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == len(list((images / "pneumonia").iterdir())) and df["score"].notna().all()
    det = anomalib_ae.load(model).detector_
    assert [m.input_kind_ for m in det.detectors_] == ["vector"] * 3 + ["image"]
