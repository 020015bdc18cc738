"""Pipelines (adapter + detector) on the shipped real samples: fit, score, save/load, thresholds."""

import numpy as np
import pandas as pd
import pytest

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.io import ModelFileError
from anomalib_ae.pipeline import Pipeline, load_pipeline, pipeline_from_config

FAST = {"epochs": 2, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def _roundtrip(pipe, data, tmp_path):
    res = pipe.score_items(data)
    path = tmp_path / "m.pt"
    pipe.save(path)
    back = anomalib_ae.load(path)
    assert isinstance(back, Pipeline) and back.kind == pipe.kind
    again = back.score_items(data)
    np.testing.assert_array_equal(again.scores, res.scores)  # NaN positions equal too
    assert back.threshold_ == pipe.threshold_
    assert load_pipeline(path).adapter_dict() == pipe.adapter_dict()
    return res, back


def test_image_folder_pipeline_roundtrip(tmp_path):
    images = datasets.pneumonia_png_dir()
    pipe = Pipeline("ae", kind="image", adapter_params={"size": 32}, detector_params=FAST).fit(images)
    assert pipe.n_train_items_ == 12  # only good/ is used for training
    res, back = _roundtrip(pipe, images, tmp_path)
    assert len(res.table) == 20 and res.table["error"].isna().all()
    assert set(res.table.columns) >= {"path", "score", "probability", "is_anomaly", "error"}
    assert back.adapter_.reader_.size_ == (32, 32)  # preprocessing travels in the model file


def test_image_arrays_pipeline():
    d = datasets.load_pneumonia_sample()
    pipe = Pipeline("ae", kind="image", adapter_params={"size": 16}, detector_params=FAST).fit(d["x_train"][:100])
    s = pipe.score(d["x_test"][:20])
    assert s.shape == (20,) and np.isfinite(s).all()
    assert set(pipe.predict(d["x_test"][:20])) <= {0, 1}


def test_audio_pipeline_clip_scores_and_aggregation(tmp_path):
    m = datasets.load_mimii_sample()
    train, test = m["paths"][:10], m["paths"][25:35]
    pipe = Pipeline("ae", kind="audio", detector_params=FAST).fit(train)
    res, back = _roundtrip(pipe, test, tmp_path)
    assert len(res.table) == 10 and np.isfinite(res.scores).all()
    frames = res.raw_scores
    ci = res.details.clip_index
    np.testing.assert_allclose(res.scores[0], frames[ci == 0].mean())  # mean of frame scores
    mx = Pipeline("ae", kind="audio", detector_params=FAST, clip_aggregate="max").fit(train).score(test)
    assert np.all(mx >= res.scores - 1e-6)  # same seed, same model: max >= mean


def test_telemetry_pipeline_per_timestamp(tmp_path):
    d = datasets.load_smd_sample()
    params = {"window": 8, "stride": 4, "entity_col": "machine", "exclude": ["label", "source_row"]}
    pipe = Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST).fit(d["train"].iloc[:800])
    assert pipe.adapter_.reader_.metric_cols_ == d["metric_cols"]
    test = d["test"].iloc[:500]
    res, _ = _roundtrip(pipe, test, tmp_path)
    assert len(res.table) == 500 and np.isfinite(res.scores).all()  # one score per timestamp


def test_tabular_pipeline_and_from_config(tmp_path):
    X, y = datasets.load_cardio()
    df = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    df["label"] = y
    cfg = {"adapter": {"kind": "tabular", "params": {"exclude": ["label"]}},
           "detector": {"name": "ae", "params": FAST}, "threshold": {"contamination": 0.05}}
    pipe = pipeline_from_config(cfg).fit(df[y == 0])
    assert pipe.detector_.contamination == 0.05 and "label" not in pipe.adapter_.columns_
    _roundtrip(pipe, df, tmp_path)


def test_config_errors():
    with pytest.raises(ValueError, match="adapter.kind"):
        pipeline_from_config({"detector": {"name": "ae"}})
    with pytest.raises(ValueError, match="unknown config key"):
        pipeline_from_config({"adapter": {"kind": "image"}, "detectr": {}})
    with pytest.raises(ValueError, match="kind must be one of"):
        Pipeline("ae", kind="video").fit(np.zeros((3, 3)))


def test_bare_detector_file_is_not_a_pipeline(tmp_path, blobs_with_outliers):
    X_train, _, _ = blobs_with_outliers
    det = anomalib_ae.create("ae", **FAST).fit(X_train)
    det.save(tmp_path / "d.pt")
    with pytest.raises(ModelFileError, match="not a pipeline"):
        load_pipeline(tmp_path / "d.pt")
