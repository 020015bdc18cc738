"""Bad cells in telemetry (issue 13): a non-numeric or infinite cell is an error record for its
timestamp, never forward-filled, while every other timestamp is scored."""

import numpy as np
import pandas as pd

from anomalib_ae.data import TelemetryWindower, windows_to_timestamps
from anomalib_ae.pipeline import Pipeline

FAST = {"epochs": 1, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def _table(n=60):
    rng = np.random.default_rng(0)
    t = pd.date_range("2024-01-01", periods=n, freq="min")
    return pd.DataFrame({"timestamp": t, "cpu": rng.normal(size=n), "mem": rng.normal(size=n)})


def test_windower_bad_cells_are_row_errors_never_filled():
    df = _table()
    w = TelemetryWindower(window=4).fit(df)
    bad = df.astype({"cpu": object})
    bad.loc[10, "cpu"] = "n/a"
    bad.loc[20, "mem"] = np.inf
    bad.loc[30, "cpu"] = -np.inf
    b = w.transform(bad)
    errs = {e.row: e.message for e in b.errors}
    assert sorted(errs) == [10, 20, 30]
    assert "'cpu' is not numeric ('n/a')" in errs[10]
    assert "'mem' is infinite (inf)" in errs[20] and "'cpu' is infinite (-inf)" in errs[30]
    assert not np.isin(b.window_index, [10, 20, 30]).any()  # no window holds a bad row
    s = windows_to_timestamps(np.arange(len(b), dtype=float), b)
    assert np.isnan(s[[10, 20, 30]]).all() and np.isfinite(np.delete(s, [10, 20, 30])).all()
    # fit ignores bad cells in the scaling statistics and counts them
    w2 = TelemetryWindower(window=4).fit(bad)
    assert w2.bad_cells_ == 3 and np.isfinite(w2.mean_).all()


def test_pipeline_scores_the_rest_and_reports_bad_cells_in_the_error_column():
    df = _table(200)
    pipe = Pipeline("ae", kind="telemetry", adapter_params={"window": 4}, detector_params=FAST).fit(df)
    test = df.iloc[:40].astype({"cpu": object}).reset_index(drop=True)
    test.loc[5, "cpu"] = "error"
    test.loc[7, "mem"] = float("inf")
    t = pipe.score_items(test).table
    assert len(t) == 40
    assert t["error"].notna().sum() == 2
    assert "not numeric" in t.loc[5, "error"] and "infinite" in t.loc[7, "error"]
    ok = t.drop(index=[5, 7])
    assert ok["score"].notna().all() and ok["error"].isna().all()
    assert t.loc[[5, 7], "score"].isna().all() and t.loc[[5, 7], "is_anomaly"].isna().all()
