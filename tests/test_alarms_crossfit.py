"""Time-blocked cross-fitting for small telemetry training periods (issue 13)."""

import numpy as np
import pandas as pd
import pytest

from anomalib_ae.alarms import time_blocks
from anomalib_ae.pipeline import Pipeline

FAST = {"epochs": 2, "batch_size": 16, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def _frame(n, machines=("a",), seed=0):
    rng = np.random.default_rng(seed)
    parts = []
    for m in machines:
        t = pd.date_range("2024-01-01", periods=n, freq="min")
        x = rng.normal(size=(n, 3))
        parts.append(pd.DataFrame({"timestamp": t, "machine": m, "cpu": x[:, 0], "mem": x[:, 1], "io": x[:, 2]}))
    return pd.concat(parts, ignore_index=True)


def test_time_blocks_are_contiguous_per_entity_and_partition_the_rows():
    df = _frame(50, machines=("a", "b")).sample(frac=1.0, random_state=0).reset_index(drop=True)  # shuffled rows
    blocks = time_blocks(df, "timestamp", "machine", min_rows=16)
    assert len(blocks) == 3  # 50 // 16
    assert sorted(np.concatenate(blocks).tolist()) == list(range(100))
    for m in ("a", "b"):
        spans = []
        for b in blocks:
            t = df["timestamp"].iloc[b][df["machine"].iloc[b] == m]
            spans.append((t.min(), t.max(), len(t)))
        assert all(spans[j][1] < spans[j + 1][0] for j in range(len(spans) - 1))  # later block, later times
        assert sum(s[2] for s in spans) == 50 and min(s[2] for s in spans) >= 16
    with pytest.raises(ValueError, match="too few rows"):
        time_blocks(_frame(20), "timestamp", None, min_rows=16)


def test_short_training_period_is_cross_fitted_out_of_fold():
    df = _frame(60)
    df.loc[20:39, "cpu"] += 4.0  # block 2 of 3 sits elsewhere: only a model that saw it scores it as normal
    params = {"window": 8, "stride": 1, "entity_col": "machine"}
    # the tail (12 rows) is too short for two windows: time-blocked cross-fitting, 3 blocks of 20 rows
    pipe = Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST, threshold="fpr:0.1").fit(df)
    assert pipe.calibration_method_ == "crossfit"
    assert len(pipe.calibration_scores_) == 60  # every timestamp scored by the model that did not see its block
    in_sample = pipe.score(df)
    cal = pipe.calibration_scores_  # time-ordered
    assert np.median(cal[20:40]) > 2 * np.median(in_sample[20:40])  # out of fold: the shifted block is new
    assert pipe.threshold_ == pytest.approx(np.sort(cal)[int(np.ceil(61 * 0.9)) - 1])
    with pytest.raises(ValueError, match="too few rows"):  # explicit crossfit on a period too short for 2 blocks
        Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST,
                 calibration="crossfit").fit(df.iloc[:20])
    with pytest.warns(UserWarning, match="training timestamps"):  # auto: in-sample with a warning
        assert Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST).fit(
            df.iloc[:20]).calibration_method_ == "train"


@pytest.mark.parametrize("kind", ["telemetry", "audio"])
def test_fold_models_train_as_long_as_the_final_model(monkeypatch, kind):
    """Early stopping on a few validation items would stop fold models earlier than the final model and
    inflate the out-of-fold scores; the fold models get the final model's epochs, without early stopping."""
    import anomalib_ae.alarms as alarms

    fits = []
    real = alarms._fit_detector

    def spy(pipe, adapter, X, schedule=None):
        det = real(pipe, adapter, X, schedule)
        fits.append((schedule, det.get_params()["patience"], det.n_epochs_))
        return det

    monkeypatch.setattr(alarms, "_fit_detector", spy)
    params = {**FAST, "epochs": 40, "patience": 1}  # early stopping on noise: stops at a seed-dependent epoch
    if kind == "telemetry":
        pipe = Pipeline("ae", kind="telemetry", adapter_params={"window": 8, "stride": 1, "entity_col": "machine"},
                        detector_params=params, calibration="crossfit").fit(_frame(60))
    else:
        from anomalib_ae.datasets import load_mimii_sample

        paths = load_mimii_sample()["paths"][:12]
        pipe = Pipeline("ae", kind="audio", adapter_params={"n_mels": 16},
                        detector_params=params, calibration="crossfit").fit(paths)
    assert pipe.calibration_method_ == "crossfit"
    (first, patience0, n_final), *folds = fits
    assert first is None and patience0 == 1 and n_final == pipe.detector_.n_epochs_ < 40  # the final model stopped early
    assert len(folds) >= 2
    for schedule, patience, n in folds:
        assert schedule == {"epochs": n_final, "patience": None} and patience is None and n == n_final


def test_fitted_schedule_names_every_stage():
    import anomalib_ae

    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    assert anomalib_ae.create("ae", **FAST).fitted_schedule() == {}  # not fitted yet
    svdd = anomalib_ae.create("deepsvdd", **FAST, pretrain_epochs=3).fit(X)
    assert svdd.fitted_schedule() == {"epochs": svdd.n_epochs_, "patience": None, "pretrain_epochs": svdd.n_pretrain_epochs_}
    cvad = anomalib_ae.create("cvad", **FAST).fit(X)
    assert cvad.fitted_schedule() == {"epochs": cvad.n_epochs_, "patience": None, "disc_epochs": cvad.n_disc_epochs_}
    assert not hasattr(anomalib_ae.create("pyod.knn"), "fitted_schedule")  # no epochs: fold models fit as they are
