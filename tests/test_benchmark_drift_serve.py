"""benchmarks/drift.py and benchmarks/serve.py: their pieces on small inputs (no shared data, no timing checks)."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import drift as drift_bench  # noqa: E402
import serve as serve_bench  # noqa: E402


def test_drift_windows_rates_and_table():
    rng = np.random.default_rng(0)
    x = rng.normal(size=1050)
    x[5] = np.nan
    wins = drift_bench.windows(x, 200)
    assert len(wins) == 4 and all(len(w) == 200 for w in wins)  # the window with the NaN is left out
    assert len(drift_bench.windows(x, 200, keep=lambda i: i[0] >= 600)) == 2
    ref = rng.normal(size=2000)
    same = drift_bench.rates(ref, wins, 0.01)
    shifted = drift_bench.rates(ref, [w + 2.0 for w in wins], 0.01)
    assert same["windows"] == 4 and shifted["alarms"] == 4 and shifted["rate"] == 1.0
    rows = [drift_bench._row("D", "same", False, ref, wins, 0.01, unit=1),
            drift_bench._row("D", "same", False, ref, wins[:2], 0.01, unit=2),
            drift_bench._row("D", "shifted", True, ref, [w + 2.0 for w in wins], 0.01)]
    summary = drift_bench.summarise(rows)
    assert [s["windows"] for s in summary] == [6, 4]
    md = drift_bench.table(summary)
    assert "false alarm" in md and "detection, 4/4" in md


def test_serve_bodies_are_valid_json_in_time_order():
    import json

    rows = pd.DataFrame(np.arange(12.0).reshape(4, 3), columns=["a", "b", "c"])
    b = serve_bench.Bodies({"kind": "tabular", "rows": rows, "columns": ["a", "b", "c"]}, 2)
    doc = json.loads(b.body(0, 1))
    assert len(doc["rows"]) == 2 and set(doc["rows"][0]) == {"a", "b", "c"}
    t = serve_bench.Bodies({"kind": "telemetry", "rows": rows, "columns": ["a", "b", "c"]}, 3)
    r0, r1 = json.loads(t.body(4, 0))["rows"], json.loads(t.body(4, 1))["rows"]
    ts = [r["timestamp"] for r in r0 + r1]
    assert ts == sorted(ts) and len(set(ts)) == 6 and {r["machine"] for r in r0} == {"bench-04"}


def test_serve_load_cell_against_a_real_service(tmp_path):
    pytest.importorskip("fastapi")
    import serve_server

    from anomalib_ae.serve import create_app

    path = serve_server.tabular_model(tmp_path / "m.pt")
    rows = serve_server.normal_rows(50)
    bodies = serve_bench.Bodies({"kind": "tabular", "rows": rows, "columns": list(rows.columns)}, 5)
    with serve_server.running(create_app(path)) as srv:
        cell = serve_bench.load_cell(srv.url, bodies, clients=2, seconds=0.5, warmup=1, start_k=0)
    assert cell["errors"] == 0 and cell["requests"] >= 1 and cell["rows_per_s"] > 0
    assert cell["p50_ms"] <= cell["p99_ms"]
