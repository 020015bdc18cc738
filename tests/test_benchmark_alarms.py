"""benchmarks/alarms.py: rates, summary and report (no shared data needed)."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import alarms  # noqa: E402


def test_rates_count_only_scored_items():
    s = np.array([0.1, 0.9, np.nan, 0.95, 0.2])
    y = np.array([0, 0, 0, 1, 1])
    r = alarms._rates(s, y, 0.5)
    assert r == {"fpr": 0.5, "recall": 0.5, "n_normal": 2, "n_anomalous": 2}


def test_summary_and_markdown_report_every_set_and_mode():
    rows = []
    for ds, fpr in (("a", 0.012), ("b", 0.08)):
        for a in alarms.ALPHAS:
            rows.append({"domain": "tabular", "dataset": ds, "alpha": a, "fpr": fpr + (a - 0.01), "recall": 0.5,
                         "n_normal": 100, "n_calibration": 50, "calibration": "loo"})
    summ = alarms._summary(rows)
    v = summ["tabular/static/0.01"]
    assert v["sets"] == 2 and v["within_0.02"] == 1 and v["within_0.05"] == 1
    assert abs(v["mean_fpr"] - 0.046) < 1e-12
    md = alarms.markdown(rows, {"quick": True, "seconds": 60, "threads": 1, "summary": summ,
                                "telemetry_epochs": 3, "telemetry_stride": 4})
    assert "| tabular | a | static | 0.012 |" in md and "| tabular | b | static | 0.080 |" in md


def test_rolling_selection_and_fit_label_sections():
    rows = []
    for ds, sim in (("m1", 0.012), ("m2", 0.09)):
        for a in alarms.ALPHAS:
            rows.append({"domain": "telemetry-selection", "dataset": ds, "alpha": a, "mode": "cand",
                         "sim_rate": sim, "fpr": a, "recall": 0.4})
    rows.append({"domain": "tabular-labels", "dataset": "cardio", "n_known": 10, "anomaly_share": 0.2,
                 "ece_fit_labels": 0.05, "ece_prior_bound": 0.15})
    sel = alarms._selection(rows)
    assert sel["cand/0.01"]["sim_within_0.02"] == 1 and sel["cand/0.05"]["sim_within_0.02"] == 0
    assert sel["cand/0.01"]["test_within_0.02"] == 2
    assert alarms._summary(rows) == {}  # neither kind of row is a false-alarm set
    md = alarms.markdown(rows, {"quick": False, "seconds": 60, "threads": 1, "summary": {}, "rolling_window": 4320,
                                "rolling_selection": sel, "telemetry_epochs": None, "telemetry_stride": None})
    assert "| cand | 0.01 | 1/2 | 0.041 | 2/2 | 0.010 | 0.400 |" in md
    assert "| cardio | 10 | 0.200 | 0.050 | 0.150 |" in md
