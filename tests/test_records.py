"""ScoreRecord: one JSON-safe record per item, valid against the shipped JSON Schema."""

import json
import math
from types import SimpleNamespace

import jsonschema
import numpy as np
import pandas as pd
import pytest

from anomalib_ae.pipeline import Pipeline, ScoreResult
from anomalib_ae.records import ModelInfo, ScoreRecord, file_sha256, model_info, records_from_result, schema


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    r = np.random.default_rng(0)
    df = pd.DataFrame(r.normal(size=(200, 4)), columns=list("abcd"))
    pipe = Pipeline("ae", kind="tabular", detector_params={"epochs": 2, "verbose": False, "random_state": 0}).fit(df)
    path = tmp_path_factory.mktemp("m") / "tab_model.pt"
    pipe.save(path)
    return pipe, path, df


def test_records_valid_and_complete(fitted):
    pipe, path, df = fitted
    info = model_info(pipe, path)
    assert info == ModelInfo("tab_model", "ae", "tabular", 1, file_sha256(path), pipe.threshold_)
    test = df.head(6).copy()
    test.loc[2, "a"] = np.nan
    test.loc[3, "b"] = 80.0
    res = pipe.score_items(test)
    recs = records_from_result(res, model_info=info, source="batch.csv", explanation=pipe.explain(res, top_k=1))
    assert len(recs) == 6
    validator = jsonschema.Draft202012Validator(schema())
    for i, rec in enumerate(recs):
        d = rec.to_dict()
        validator.validate(d)
        json.loads(rec.to_json())
        assert d["row_id"] == i and d["source"] == "batch.csv" and d["model_digest"] == info.digest
        assert ScoreRecord.from_dict(d).to_dict() == d
    assert recs[2].error and recs[2].score is None and recs[2].probability is None and recs[2].is_anomaly is None
    assert recs[3].is_anomaly is True and recs[3].top_features[0]["name"] == "b"
    # issue 13: p_value and probability are the table's columns (probability is no longer 1 - p_value)
    assert math.isclose(recs[3].p_value, res.table["p_value"].iloc[3])
    assert math.isclose(recs[3].probability, res.table["probability"].iloc[3])
    assert all(r.top_features == [] for k, r in enumerate(recs) if k != 3)


def test_telemetry_like_result_takes_timestamp_and_entity():
    table = pd.DataFrame({"row": [0, 1], "ts": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:01"]),
                          "host": ["n1", "n2"], "score": [0.1, np.nan], "probability": [0.2, np.nan],
                          "is_anomaly": pd.array([False, pd.NA], dtype="boolean"),
                          "error": pd.array([None, "no window"], dtype="string")})
    res = ScoreResult(table=table, scores=table["score"].to_numpy(), details=SimpleNamespace(windows=object()))
    info = ModelInfo("m", "ae", "telemetry", 1, "0" * 64, 0.5)
    recs = records_from_result(res, model_info=info, source="t.csv")
    assert [r.entity for r in recs] == ["n1", "n2"]
    assert recs[0].timestamp == "2024-01-01T00:00:00" and recs[1].error == "no window"
    for r in recs:
        jsonschema.validate(r.to_dict(), schema())


def test_schema_rejects_wrong_records():
    rec = ScoreRecord("2024-01-01T00:00:00Z", "s", None, 0, "0", 1.0, 0.5, 0.5, False, 2.0, "m", "a" * 64, [], None)
    good = rec.to_dict()
    jsonschema.validate(good, schema())
    for bad in ({**good, "probability": 1.5}, {**good, "extra": 1}, {k: v for k, v in good.items() if k != "error"},
                {**good, "model_digest": "xyz"}, {**good, "top_features": [{"name": "a"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema())


def test_image_explanations_name_the_hottest_pixels():
    table = pd.DataFrame({"path": ["a.png", "b.png"], "score": [5.0, 0.1], "probability": [0.99, 0.2],
                          "is_anomaly": [True, False], "error": [None, None]})
    res = ScoreResult(table=table, scores=table["score"].to_numpy())
    m = np.zeros((1, 4, 5))
    m[0, 2, 3], m[0, 1, 0] = 3.0, 1.0
    ex = {"top": [0], "feature_names": ["pixel"], "contributions": m.reshape(1, -1), "maps": m}
    recs = records_from_result(res, model_info=ModelInfo("m", "ae", "image", 1, "0" * 64, 1.0), source="dir",
                               explanation=ex, top_k=2)
    assert recs[0].top_features == [{"name": "pixel[2,3]", "value": 0.75}, {"name": "pixel[1,0]", "value": 0.25}]
    assert recs[0].item == "a.png" and recs[0].row_id is None and recs[1].top_features == []
