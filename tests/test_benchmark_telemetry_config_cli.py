"""benchmarks/telemetry_config_cli.py: the tables a new user would export, and (benchmark marker) a real
``anomalib-ae fit --config`` + ``score`` run on a small synthetic machine."""

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import telemetry_config_cli as tc  # noqa: E402


def _machine(path: Path, n: int = 400) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(2 * n)
    x = (np.sin(t / 15.0)[:, None] + 0.1 * rng.normal(size=(2 * n, 3))).astype(np.float32)
    y = np.zeros(n, dtype=np.uint8)
    x[n + 200:n + 220, 1] += 3.0
    y[200:220] = 1
    np.savez(path, train=x[:n], test=x[n:], test_label=y)
    return path


def test_tables_look_like_a_monitoring_export(tmp_path):
    train, test, y = tc.write_tables(_machine(tmp_path / "machine-9-1.npz"), tmp_path)
    a, b = pd.read_parquet(train), pd.read_parquet(test)
    assert list(a.columns) == ["timestamp", "machine", "m01", "m02", "m03"] and len(a) == len(b) == len(y) == 400
    assert (a["machine"] == "machine-9-1").all()
    assert b["timestamp"].iloc[0] - a["timestamp"].iloc[-1] == pd.Timedelta(minutes=1)  # the test half follows


@pytest.mark.benchmark
def test_cli_run_scores_every_test_row(tmp_path, monkeypatch):
    data = tmp_path / "smd"
    data.mkdir()
    _machine(data / "machine-9-1.npz")
    monkeypatch.setattr(sys, "argv", ["telemetry_config_cli.py", "--data", str(data), "--cache", str(tmp_path / "c"),
                                      "--tag", "pytest", "-a", "window=8"])
    import telemetry_select

    out = {}
    monkeypatch.setattr(telemetry_select, "write_results", lambda stem, o, text: out.update(o, stem=stem))
    tc.main()
    assert out["stem"] == "telemetry_config_cli_pytest" and out["machines"] == 1
    r = out["rows"][0]
    assert r["nan_scores"] == 0 and r["auroc"] > 0.9  # the planted shift is found
    json.dumps(out)
