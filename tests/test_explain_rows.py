"""The per-timestamp stage of telemetry explanations: ``occlusion_z`` blended per row and smoothed over time."""

import numpy as np
import pandas as pd

from anomalib_ae import datasets
from anomalib_ae.adapters.telemetry import TelemetryAdapter
from anomalib_ae.explain.blend import blend_shares, occlusion_z_parts
from anomalib_ae.explain.rows import ROW_SMOOTH, occlusion_z_rows, smooth_over_time, time_chains
from anomalib_ae.pipeline import Pipeline

FAST = {"epochs": 2, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def test_time_chains_follow_each_entity_in_time_order_and_break_at_gaps():
    t = np.r_[np.arange(10), np.arange(20, 26)]  # a gap after t=9 (max_gap 2)
    df = pd.DataFrame({"t": np.r_[t, t], "node": ["a"] * 16 + ["b"] * 16, "x": np.arange(32.0)})
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)  # rows out of order
    a = TelemetryAdapter(window=3, timestamp_col="t", entity_col="node", max_gap=2, scale=False)
    batch = a.fit_transform(df).windows
    chains = time_chains(batch)
    assert sorted(len(c) for c in chains) == [6, 6, 10, 10]
    for c in chains:
        assert (df["node"].to_numpy()[c] == df["node"].iloc[c[0]]).all()
        assert (np.diff(df["t"].to_numpy()[c]) == 1).all()  # consecutive timestamps, in time order


def test_smooth_over_time_is_a_truncated_box_per_chain():
    A = np.arange(10.0)[:, None] * np.ones((1, 2))
    out = smooth_over_time(A, [np.arange(5), np.arange(5, 10)[::-1]], 3)
    np.testing.assert_allclose(out[:5, 0], [0.5, 1, 2, 3, 3.5])
    np.testing.assert_allclose(out[5:, 0], [5.5, 6, 7, 8, 8.5])  # a chain's own order; no mixing across chains
    np.testing.assert_array_equal(smooth_over_time(A, [np.arange(10)], 1), A)


def test_pipeline_explains_telemetry_with_the_row_level_ranking():
    d = datasets.load_smd_sample()
    pipe = Pipeline("ae", kind="telemetry", detector_params=FAST,
                    adapter_params={"window": 8, "metric_cols": d["metric_cols"]}).fit(d["train"].iloc[:600])
    test = d["train"].iloc[600:800].copy()
    test.iloc[100:104, test.columns.get_loc("m05")] += 20 * d["train"]["m05"].std() + 1.0
    ex = pipe.explain(test, top_k=3)
    assert ex.method == "occlusion_z"
    batch = ex.result.details.windows
    # the measured ranking, step by step: parts combined per row (mean of covering windows), blended, 31-row box
    O, Z = occlusion_z_parts(pipe.detector_, batch.X)
    from anomalib_ae.data.telemetry_windows import windows_to_timestamps_per_metric

    A = blend_shares(windows_to_timestamps_per_metric(O, batch), windows_to_timestamps_per_metric(Z, batch), 0.5)
    h = ROW_SMOOTH // 2
    expect = np.stack([A[max(0, i - h):i + h + 1].mean(axis=0) for i in range(len(A))])  # one entity, no gaps
    np.testing.assert_allclose(ex.row_contributions, expect, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(ex.row_contributions, occlusion_z_rows(pipe.detector_, batch))
    assert all(np.argmax(ex.row_contributions[r]) == d["metric_cols"].index("m05") for r in range(98, 108))
    other = pipe.explain(ex.result, method="residual_z")  # a window-level method: no row stage
    assert other.method == "residual_z" and not np.allclose(other.row_contributions, ex.row_contributions)
