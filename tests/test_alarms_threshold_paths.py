"""One threshold path (issue 13): each rule gives the same flags from the Python detector, the
Pipeline, the CLI (--detector and --config) and a saved-and-reloaded model."""

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import anomalib_ae
from anomalib_ae.cli import cli
from anomalib_ae.datasets import load_cardio
from anomalib_ae.pipeline import Pipeline, pipeline_from_config
from anomalib_ae.scoring import fpr_threshold
from anomalib_ae.scoring.threshold import parse_threshold

RULES = ["fpr:0.05", "contamination:0.05", None, 3.0, "pythresh:iqr"]


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    X, y = load_cardio()
    cols = [f"f{j}" for j in range(X.shape[1])]
    rng = np.random.default_rng(0)
    normal = rng.permutation(np.flatnonzero(y == 0))
    train = pd.DataFrame(X[normal[:500]], columns=cols)
    test_idx = np.concatenate([normal[500:700], np.flatnonzero(y == 1)[:40]])
    test = pd.DataFrame(X[test_idx], columns=cols)
    d = tmp_path_factory.mktemp("paths")
    train.to_csv(d / "train.csv", index=False)
    test.to_csv(d / "test.csv", index=False)
    return d, train, test


def _cli(*args):
    res = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res


@pytest.mark.parametrize("rule", RULES, ids=str)
def test_every_rule_gives_the_same_flags_on_every_path(rule, tables, tmp_path):
    if rule is not None and str(rule).startswith("pythresh"):
        pytest.importorskip("pythresh")
    d, train, test = tables
    params = {"calibration": "cv", "random_state": 0}
    # 1. Python detector
    det = anomalib_ae.create("pyod.knn", threshold=rule, **params).fit(train)
    flags = det.predict(test) == -1
    assert 0 < flags.sum() < len(test)
    kind, value = parse_threshold(rule)
    if kind == "fpr":
        assert det.threshold_ == fpr_threshold(det.calibration_scores_, value)
    if kind == "contamination":
        q = value if value is not None else det.contamination
        assert det.threshold_ == pytest.approx(np.quantile(det.calibration_scores_, 1 - q))
    # 2. Pipeline (rule given to the pipeline) and 2b. Pipeline from a config with threshold.rule
    pipe = Pipeline("pyod.knn", kind="tabular", detector_params=params, threshold=rule).fit(train)
    assert pipe.threshold_ == det.threshold_
    np.testing.assert_array_equal(pipe.score_items(test).table["is_anomaly"].to_numpy(bool), flags)
    cfg = {"adapter": {"kind": "tabular"}, "detector": {"name": "pyod.knn", "params": params},
           "threshold": {"rule": rule}}
    pipe_cfg = pipeline_from_config(cfg).fit(train)
    np.testing.assert_array_equal(pipe_cfg.predict(test).astype(bool), flags)
    # 3. CLI: fit --detector --threshold, and fit --config with threshold.rule; then score
    m1, m2 = tmp_path / "det.pt", tmp_path / "pipe.pt"
    extra = [] if rule is None else ["--threshold", rule]
    _cli("fit", "-d", "pyod.knn", "-i", d / "train.csv", "-m", m1, "-p", "calibration=cv", "-p", "random_state=0", *extra)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _cli("fit", "--config", tmp_path / "c.yaml", "-i", d / "train.csv", "-m", m2)
    for m in (m1, m2):
        _cli("score", "-m", m, "-i", d / "test.csv", "-o", tmp_path / "s.csv")
        out = pd.read_csv(tmp_path / "s.csv")
        np.testing.assert_array_equal(out["is_anomaly"].to_numpy(bool), flags)
        # 4. reloaded model
        back = anomalib_ae.load(m)
        got = back.predict(test)
        np.testing.assert_array_equal((got == -1) if got.min() < 0 else got.astype(bool), flags)
        assert back.threshold_ == pytest.approx(det.threshold_, rel=1e-6)  # CSV text vs float32 input


def test_config_rule_reaches_audio_and_telemetry_pipelines():
    from anomalib_ae import datasets

    d = datasets.load_smd_sample()
    fast = {"epochs": 1, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}
    cfg = {"adapter": {"kind": "telemetry", "params": {"window": 8, "stride": 4, "entity_col": "machine",
                                                        "exclude": ["label", "source_row"]}},
           "detector": {"name": "ae", "params": fast}, "threshold": {"contamination": 0.02, "rule": "fpr:0.05"}}
    pipe = pipeline_from_config(cfg).fit(d["train"].iloc[:1000])
    assert pipe.calibration_method_ == "holdout"
    assert pipe.threshold_ == fpr_threshold(pipe.calibration_scores_, 0.05)
    # the calibration tail is the last 20 % of the rows in time: 200 timestamps, none seen in fitting
    assert len(pipe.calibration_scores_) == 200
    cfg["threshold"] = {"contamination": 0.02}
    pipe2 = pipeline_from_config(cfg).fit(d["train"].iloc[:1000])
    assert pipe2.threshold_ == pytest.approx(np.quantile(pipe2.calibration_scores_, 0.98))
