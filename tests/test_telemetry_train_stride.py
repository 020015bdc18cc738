"""The telemetry adapter's ``train_stride``: every k-th window at fit, every window at score, kept in the model file."""

from pathlib import Path

import numpy as np
import pytest
import yaml

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.adapters.telemetry import TelemetryAdapter
from anomalib_ae.data import TelemetryWindower
from anomalib_ae.pipeline import Pipeline, pipeline_from_config

FAST = {"epochs": 1, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}
COLS = {"entity_col": "machine", "exclude": ["label", "source_row"]}


def _n_windows(df, window, stride):
    return len(TelemetryWindower(window=window, stride=stride, entity_col="machine",
                                 metric_cols=datasets.load_smd_sample()["metric_cols"]).fit_transform(df).X)


def test_default_is_every_window():
    assert TelemetryAdapter().train_stride == 1
    d = datasets.load_smd_sample()["train"].iloc[:300]
    f = TelemetryAdapter(window=8, **COLS).fit_transform(d)
    assert len(f.X) == _n_windows(d, 8, 1) == 300 - 8 + 1


def test_fit_windows_every_kth_then_every_window_at_score():
    d = datasets.load_smd_sample()["train"].iloc[:300]
    a = TelemetryAdapter(window=8, train_stride=5, **COLS)
    f = a.fit_transform(d)
    assert len(f.X) == _n_windows(d, 8, 5) == len(range(0, 300 - 8 + 1, 5)) + 1  # + the end-aligned window
    np.testing.assert_array_equal(f.X[1], a.transform(d).X[5])  # the 2nd fit window starts at row 5
    assert a.reader_.stride == 1 and len(a.transform(d).X) == 300 - 8 + 1
    s = a.item_scores(np.ones(len(f.X)), f)
    assert np.isfinite(s).all()  # window 8 > 5 rows: every training row is still covered
    two = TelemetryAdapter(window=8, stride=2, train_stride=3, **COLS).fit_transform(d)
    assert len(two.X) == _n_windows(d, 8, 6)  # k-th of the windows ``stride`` gives


def test_pipeline_fits_detector_on_strided_windows_and_roundtrips(tmp_path):
    d = datasets.load_smd_sample()
    train, test = d["train"].iloc[:600], d["test"].iloc[:200]
    pipe = Pipeline("ae", kind="telemetry", adapter_params={"window": 8, "train_stride": 4, **COLS},
                    detector_params=FAST, calibration="train").fit(train)
    assert len(pipe.detector_.decision_scores_) == _n_windows(train, 8, 4)
    assert pipe.adapter_dict()["train_stride"] == 4 and pipe.adapter_dict()["stride"] == 1
    res = pipe.score_items(test)
    assert len(res.table) == 200 and np.isfinite(res.scores).all()
    pipe.save(tmp_path / "m.pt")
    back = anomalib_ae.load(tmp_path / "m.pt")
    assert back.adapter_.train_stride == 4
    np.testing.assert_array_equal(back.score_items(test).scores, res.scores)


def test_files_without_train_stride_load_with_one():
    d = datasets.load_smd_sample()["train"].iloc[:100]
    a = TelemetryAdapter(window=8, train_stride=3, **COLS)
    a.fit_transform(d)
    old = {k: v for k, v in a.to_dict().items() if k != "train_stride"}  # a file written before the option
    assert TelemetryAdapter.from_dict(old).train_stride == 1
    assert TelemetryAdapter.from_dict(a.to_dict()).train_stride == 3
    with pytest.raises(ValueError, match="train_stride"):  # a damaged file names the setting
        TelemetryAdapter.from_dict({**a.to_dict(), "train_stride": 0})


@pytest.mark.parametrize("bad", [0, -2, 1.5, True, "10"])
def test_bad_train_stride_is_named(bad):
    d = datasets.load_smd_sample()["train"].iloc[:100]
    with pytest.raises(ValueError, match="train_stride"):
        TelemetryAdapter(window=8, train_stride=bad, **COLS).fit_transform(d)


def test_hpc_accuracy_config_ships_the_measured_stride():
    cfg = yaml.safe_load((Path(__file__).parents[1] / "configs" / "hpc_accuracy.yaml").read_text())
    pipe = pipeline_from_config(cfg)
    assert pipe.adapter_params["train_stride"] == 10 and pipe.adapter_params["window"] == 30
    assert pipe.calibration == "crossfit"  # the detector sees every training row, as measured
