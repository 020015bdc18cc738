"""Model files of format version 1, written before the issue-12 house refactor, still load and
score bit-identically (files and scores made by ``make_model_files_v1.py``)."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import anomalib_ae
from anomalib_ae.pipeline import Pipeline

HERE = Path(__file__).resolve().parent
FILES = HERE / "model_files_v1"
MANIFEST = json.loads((FILES / "manifest.json").read_text())
sys.path.insert(0, str(HERE))
from make_model_files_v1 import data  # noqa: E402


#: detectors registered after the version-1 files were written (no v1 file can exist for them); their
#: save / load round trips are tested in their own test files (idnn: tests/test_idnn.py)
ADDED_AFTER_V1 = {"goad", "idnn", "riad", "subspace", "winae"}


def test_every_registered_detector_and_adapter_is_covered():
    assert not MANIFEST["skipped"]
    assert set(MANIFEST["detectors"]) | ADDED_AFTER_V1 == set(anomalib_ae.list_detectors())
    kinds = {anomalib_ae.load(FILES / c["file"]).kind for c in MANIFEST["pipelines"].values()}
    assert kinds == {"tabular", "image", "audio", "telemetry"}


@pytest.mark.parametrize("name", sorted(MANIFEST["detectors"]))
def test_detector_file_scores_bit_identical(name):
    case = MANIFEST["detectors"][name]
    det = anomalib_ae.load(FILES / case["file"])
    X = np.load(FILES / case["data"])
    np.testing.assert_array_equal(det.score(X), np.load(FILES / f"{name}.scores.npy"))


@pytest.mark.parametrize("name", sorted(MANIFEST["pipelines"]))
def test_pipeline_file_scores_bit_identical(name):
    case = MANIFEST["pipelines"][name]
    pipe = anomalib_ae.load(FILES / case["file"])
    assert isinstance(pipe, Pipeline)
    assert pipe.threshold_ == case["threshold"]
    res = pipe.score_items(data(case["data"]))
    np.testing.assert_array_equal(res.scores, np.load(FILES / f"{name}.scores.npy"))
    stored = pd.read_csv(FILES / f"{name}.table.csv")
    # issue 13 added the conformal p_value column (and redefined probability); v1 files get both
    assert [c for c in res.table.columns if c != "p_value"] == list(stored.columns)
    assert "p_value" in res.table
    if "path" in stored:  # absolute paths differ between checkouts: compare file names
        assert [Path(p).name for p in res.table["path"]] == [Path(p).name for p in stored["path"]]
