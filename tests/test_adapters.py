"""Adapters: scikit-learn style estimators from user data to detector input (no detector needed here)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from anomalib_ae import datasets
from anomalib_ae.adapters import ADAPTERS, AudioAdapter, Features, ImageAdapter, TabularAdapter, TelemetryAdapter


@pytest.mark.parametrize("kind", sorted(ADAPTERS))
def test_adapters_are_estimators(kind):
    cls = ADAPTERS[kind]
    a = cls()
    assert cls.kind == kind
    params = a.get_params()
    assert params and clone(a).get_params() == params


def test_tabular_features_and_dict_round_trip():
    df = pd.DataFrame({"id": [1, 2, 3], "a": [0.5, np.nan, 2.0], "b": [1.0, 2.0, 3.0]})
    a = TabularAdapter(exclude=["id"])
    f = a.fit_transform(df.dropna())
    assert isinstance(f, Features) and a.columns_ == ["a", "b"] and f.X.dtype == np.float32
    g = a.transform(df)
    assert g.valid.tolist() == [True, False, True] and "'a' has a missing value" in g.errors[1]
    assert g.X.shape == (2, 2) and list(g.items["row"]) == [0, 1, 2]
    s = a.item_scores(np.array([0.1, 0.3]), g)
    assert s[0] == 0.1 and np.isnan(s[1]) and s[2] == 0.3
    back = TabularAdapter.from_dict(a.to_dict())
    assert back.to_dict() == a.to_dict() == {"type": "tabular", "columns": ["a", "b"], "exclude": ["id"]}
    with pytest.raises(ValueError, match="not in the table"):
        TabularAdapter(exclude=["nosuch"]).fit(df)
    with pytest.warns(UserWarning, match="nosuch"):
        TabularAdapter(exclude=["nosuch"], optional_columns=["nosuch"]).fit(df.dropna())


def test_image_adapter_arrays_and_folder():
    d = datasets.load_pneumonia_sample()
    a = ImageAdapter(size=16).fit(d["x_train"][:10])
    f = a.transform(d["x_test"][:4])
    assert f.X.shape == (4, 16, 16) and f.valid.all() and list(f.items.columns) == ["item"]
    folder = datasets.pneumonia_png_dir()
    b = ImageAdapter(size=8)
    assert len(b.fit_transform(folder).X) == 12  # good/ only when fitting
    g = b.transform(folder)
    assert len(g.items) == 20 and g.paths == list(g.items["path"])
    assert ImageAdapter.from_dict(b.to_dict(), size=8).reader_.size_ == (8, 8)


def test_audio_adapter_frames_to_clips():
    m = datasets.load_mimii_sample()
    a = AudioAdapter(n_mels=16, clip_aggregate="max")
    f = a.fit_transform(m["paths"][:2])
    assert f.X.shape[1] == 16 * 5 and f.n_clips == 2 and set(f.clip_index) == {0, 1}
    raw = np.arange(len(f.X), dtype=np.float64)
    s = a.item_scores(raw, f)
    assert s.tolist() == [raw[f.clip_index == 0].max(), raw[f.clip_index == 1].max()]
    assert a.figure_options()["hop_seconds"] == 512 / 16000


def test_telemetry_adapter_windows_to_timestamps():
    d = datasets.load_smd_sample()
    a = TelemetryAdapter(window=8, stride=4, entity_col="machine", exclude=["label", "source_row"])
    f = a.fit_transform(d["train"].iloc[:200])
    assert a.reader_.metric_cols_ == d["metric_cols"] and f.X.shape[1:] == (8, 38)
    s = a.item_scores(np.ones(len(f.X)), f)
    assert s.shape == (200,) and np.allclose(s[np.isfinite(s)], 1.0)
    assert {"row", "timestamp", "machine"} == set(f.items.columns)
    back = TelemetryAdapter.from_dict(a.to_dict())
    np.testing.assert_array_equal(back.transform(d["test"].iloc[:50]).X, a.transform(d["test"].iloc[:50]).X)
