"""Telemetry windows on the shipped SMD sample and on small hand-made tables."""

import json

import numpy as np
import pandas as pd
import pytest

from anomalib_ae.data import (
    RowError,
    TelemetryWindower,
    read_table,
    windows_to_timestamps,
    windows_to_timestamps_per_metric,
)
from anomalib_ae.datasets import load_smd_sample, sample_path


@pytest.fixture(scope="module")
def smd():
    return load_smd_sample()


def test_smd_windows_and_one_score_per_row(smd):
    w = TelemetryWindower(window=30, stride=7, entity_col="machine", metric_cols=smd["metric_cols"])
    w.fit(smd["train"])
    assert w.max_gap_ == pytest.approx(180.0)  # 3 x the 1-minute step
    b = w.transform(smd["test"])
    assert b.X.dtype == np.float32 and b.X.shape[1:] == (30, 38)
    assert b.errors == [] and b.n_rows == 3000
    scores = windows_to_timestamps(np.abs(b.X).mean(axis=(1, 2)), b)
    assert scores.shape == (3000,) and np.isfinite(scores).all()
    scores_max = windows_to_timestamps(np.abs(b.X).mean(axis=(1, 2)), b, how="max")
    assert (scores_max >= scores - 1e-9).all()
    contrib = windows_to_timestamps_per_metric(b.X.astype(np.float64) ** 2, b)
    assert contrib.shape == (3000, 38) and np.isfinite(contrib).all()
    # per-slot errors map back exactly: the squared scaled value of each row
    expect = ((smd["test"][smd["metric_cols"]].to_numpy(np.float64) - w.mean_) / w.std_) ** 2
    np.testing.assert_allclose(contrib, expect, rtol=1e-5, atol=1e-5)
    # train scaling: training windows are standardised
    xt = w.transform(smd["train"]).X
    assert abs(float(xt.mean())) < 0.1


def test_roundtrip_through_json(smd):
    w = TelemetryWindower(window=16, stride=16, metric_cols=smd["metric_cols"][:5]).fit(smd["train"])
    w2 = TelemetryWindower.from_dict(json.loads(json.dumps(w.to_dict())))
    b1, b2 = w.transform(smd["test"]), w2.transform(smd["test"])
    np.testing.assert_array_equal(b1.X, b2.X)
    np.testing.assert_array_equal(b1.window_index, b2.window_index)


def test_read_parquet_and_csv(tmp_path, smd):
    df = read_table(sample_path("smd"))
    assert len(df) == 6000
    smd["test"].head(50).to_csv(tmp_path / "t.csv", index=False)
    w = TelemetryWindower(window=10, metric_cols=smd["metric_cols"]).fit(smd["train"])
    b = w.transform(tmp_path / "t.csv")  # timestamps are strings in the CSV
    assert b.X.shape == (41, 10, 38)


def _table(n, start="2024-01-01", freq="1min", **cols):
    d = {"timestamp": pd.date_range(start, periods=n, freq=freq)}
    d.update(cols)
    return pd.DataFrame(d)


def test_gap_splits_windows():
    a = _table(10, x=np.arange(10.0))
    b = _table(10, start="2024-01-01 03:00", x=np.arange(10.0, 20.0))
    df = pd.concat([a, b], ignore_index=True)
    w = TelemetryWindower(window=4, stride=1).fit(df)
    assert w.max_gap_ == pytest.approx(180.0)
    batch = w.transform(df)
    assert batch.X.shape == (14, 4, 1)
    for row in batch.window_index:  # no window crosses the 3-hour gap
        assert (row < 10).all() or (row >= 10).all()
    s = windows_to_timestamps(np.arange(len(batch), dtype=float), batch)
    assert s.shape == (20,) and np.isfinite(s).all()
    # an explicit max_gap that is larger joins the parts
    assert len(TelemetryWindower(window=4, max_gap="4h").fit(df).transform(df)) == 17


def test_stride_end_coverage_short_entities_and_shuffled_rows():
    rng = np.random.default_rng(0)
    big = _table(11, node="a", x=rng.random(11), y=rng.random(11))
    tiny = _table(2, node="b", x=[5.0, 6.0], y=[1.0, 2.0])
    df = pd.concat([big, tiny], ignore_index=True).sample(frac=1.0, random_state=1).reset_index(drop=True)
    w = TelemetryWindower(window=4, stride=3, entity_col="node").fit(df)
    b = w.transform(df)
    # entity a: starts 0, 3, 6 and an end-aligned 7; entity b: one padded window
    assert len(b) == 5
    padded = b.window_index[b.entities == "b"][0]
    assert (padded[2:] == -1).all() and set(padded[:2]) == set(np.flatnonzero(df["node"] == "b"))
    # padding repeats the last real row
    np.testing.assert_array_equal(b.X[b.entities == "b"][0, 2], b.X[b.entities == "b"][0, 1])
    s = windows_to_timestamps(np.arange(5, dtype=float), b)
    assert s.shape == (len(df),) and np.isfinite(s).all()
    # windows are time-ordered within an entity even though the rows were shuffled
    ts = b.row_timestamps[b.window_index[b.entities == "a"]]
    assert (np.diff(ts.astype(np.int64), axis=1) > 0).all()


def test_missing_values_ffill_and_row_errors():
    x = np.arange(12.0)
    x[[0, 4, 8, 9, 10]] = np.nan  # 0: segment start (unfillable); 4: filled; 8-10: 3 in a row
    df = _table(12, x=x, y=np.ones(12))
    w = TelemetryWindower(window=3, ffill_limit=2).fit(df)
    b = w.transform(df)
    assert [e.row for e in b.errors] == [0, 10]
    assert all(isinstance(e, RowError) and "'x'" in e.message for e in b.errors)
    assert not np.isin(b.window_index, [0, 10]).any()
    s = windows_to_timestamps(np.ones(len(b)), b)
    assert s.shape == (12,)
    assert np.isnan(s[[0, 10]]).all() and np.isfinite(np.delete(s, [0, 10])).all()
    # row 4 was forward-filled with row 3's value
    pos = np.argwhere(b.window_index == 4)[0]
    np.testing.assert_allclose(b.X[pos[0], pos[1], 0] * w.std_[0] + w.mean_[0], 3.0, rtol=1e-6)


def test_missing_column_names_it():
    df = _table(5, cpu=np.ones(5))
    w = TelemetryWindower(window=2, metric_cols=["cpu", "mem"])
    with pytest.raises(ValueError, match="mem"):
        w.fit(df)
    w = TelemetryWindower(window=2, entity_col="node").fit(df.assign(node="a"))
    with pytest.raises(ValueError, match="node"):
        w.transform(df)
    with pytest.raises(ValueError, match="'time'"):
        TelemetryWindower(timestamp_col="time").fit(df)


def test_unparseable_timestamp_names_row():
    df = pd.DataFrame({"timestamp": ["2024-01-01 00:00", "2024-01-01 00:01", "not a time", "2024-01-01 00:03"],
                       "v": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(ValueError, match=r"'timestamp'.*row 2.*not a time"):
        TelemetryWindower(window=2).fit(df)
    # a non-numeric metric cell is an error record for its row (issue 13), not an abort
    bad_metric = pd.DataFrame({"timestamp": [1, 2, 3], "v": ["1.0", "x", "3"]})
    b = TelemetryWindower(window=2, metric_cols=["v"]).fit(bad_metric).transform(bad_metric)
    assert [(e.row, "'v' is not numeric ('x')" in e.message) for e in b.errors] == [(1, True)]


def test_numeric_timestamps_and_mapping_shapes():
    df = pd.DataFrame({"step": np.r_[np.arange(6), np.arange(20, 26)], "v": np.arange(12.0)})
    w = TelemetryWindower(window=3, timestamp_col="step").fit(df)
    assert w.max_gap_ == pytest.approx(3.0)
    b = w.transform(df)
    assert len(b) == 8
    with pytest.raises(ValueError):
        windows_to_timestamps(np.ones(3), b)
    per_slot = np.ones(b.window_index.shape)
    assert windows_to_timestamps(per_slot, b).shape == (12,)
    assert windows_to_timestamps_per_metric(np.ones((len(b), 1)), b).shape == (12, 1)
